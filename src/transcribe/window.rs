//! Fitting Whisper's window to an utterance. Whisper's encoder always sees 30 s, so a 4 s
//! utterance pays for 30 s of audio; whisper.cpp can encode a shorter window (`audio_ctx`),
//! which the model was not trained on: now and then it then hears nothing, or repeats what it
//! heard. Those failures are recognisable from the words alone, and such an utterance is
//! decoded again in the full window ([`super::whisper::Decoder::transcribe`]).

/// Encoder positions per second of audio: whisper.cpp's mel frames are 10 ms apart, and the
/// encoder's strided convolution halves them.
const POSITIONS_PER_SECOND: usize = 50;
/// Whisper's full window: 30 s.
const FULL_WINDOW: usize = 1500;
/// Faster than anyone speaks on the record (270 words a minute; a brisk court speaker says
/// 160 to 200).
const MAX_WORDS_PER_SECOND: f64 = 4.5;

/// The encoder window (positions) for `samples` of 16 kHz audio followed by `margin_ms` of
/// silence, rounded up to a multiple of 64; `None` (the full window) when that would not be
/// shorter.
pub fn fitted(samples: usize, margin_ms: u32) -> Option<usize> {
    let needed = samples.div_ceil(16_000 / POSITIONS_PER_SECOND)
        + (margin_ms as usize).div_ceil(1000 / POSITIONS_PER_SECOND);
    let rounded = needed.div_ceil(64) * 64;
    (rounded < FULL_WINDOW).then_some(rounded)
}

/// Faster than anyone speaks Mandarin on the record, in characters (syllables) a second; a
/// brisk speaker says five or six.
const MAX_CHARACTERS_PER_SECOND: f64 = 9.0;

/// Whether `text` heard in `samples` of speech (16 kHz) in `language` looks like a failed
/// decoding: nothing at all (the voice detector passed it as speech), a run said twice in a
/// row (three or more words; four or more characters where words are not spaced, as in
/// Chinese), or more than anyone says in the time.
pub fn implausible(language: &str, text: &str, samples: usize) -> bool {
    let units = super::wer::units(language, text);
    let (per_second, run) = if super::wer::counted_by_character(language) {
        (MAX_CHARACTERS_PER_SECOND, 4)
    } else {
        (MAX_WORDS_PER_SECOND, 3)
    };
    let seconds = samples as f64 / 16_000.0;
    units.is_empty() || units.len() as f64 > per_second * seconds + 2.0 || repeats(&units, run)
}

/// A run of at least `shortest` units followed at once by itself.
fn repeats(words: &[String], shortest: usize) -> bool {
    (shortest..=words.len() / 2).any(|n| {
        words
            .windows(2 * n)
            .any(|w| w[..n] == w[n..] && w[..n].iter().any(|x| !x.is_empty()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_covers_the_utterance_and_its_margin() {
        // 4 s: 200 positions, + 1 s margin: 250, rounded to 256.
        assert_eq!(fitted(64_000, 1000), Some(256));
        assert_eq!(fitted(1, 0), Some(64));
        // 28 s + 2 s is the full window: nothing to fit.
        assert_eq!(fitted(28 * 16_000, 2000), None);
        assert_eq!(fitted(45 * 16_000, 0), None);
    }

    #[test]
    fn failed_decodings_are_recognised_and_speech_is_not() {
        let four = 4 * 16_000;
        let en = |t: &str| implausible("en", t, four);
        assert!(en(""), "nothing heard");
        assert!(en(
            "I was standing near the bank. I was standing near the bank."
        ));
        assert!(en(
            "Please state your full name, please state your full name for the record"
        ));
        assert!(en(
            "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty twenty-one twenty-two"
        ));
        for fine in [
            "The court is now in session.",
            "Do you swear to tell the truth, the whole truth, and nothing but the truth?",
            "No, no, no. I never said that.",
            "Yes.",
        ] {
            assert!(!en(fine), "{fine}");
        }
    }

    #[test]
    fn failed_chinese_decodings_are_recognised_by_character() {
        let three = 3 * 16_000;
        let zh = |t: &str| implausible("zh", t, three);
        // Unspaced: as one "word" the repetition would pass unseen.
        assert!(zh("下面进行法庭调查。下面进行法庭调查。"));
        assert!(zh("现在开庭。现在开庭。"));
        assert!(zh("。"), "punctuation alone is nothing heard");
        assert!(
            zh(&"请当事人核对身份信息".repeat(3)),
            "30 characters in 3 s"
        );
        for fine in [
            "现在开庭。",
            "双方当事人是否申请回避？",
            "谢谢，谢谢。",
            "是不是？",
        ] {
            assert!(!zh(fine), "{fine}");
        }
    }
}
