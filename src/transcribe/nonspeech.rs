//! What Whisper writes for sounds that are not speech, kept out of the record. Trained on
//! subtitles, Whisper describes what it hears when nobody speaks: "(beep)", "[Music]",
//! "(electronic music)", "♪ ♪ ♪", "*applause*". Such a description is never testimony, so it
//! is cut from a line, and a line left with no words is dropped (and counted). Words the model
//! itself doubts (it calls the window silence and is unsure of them) are dropped too.
//!
//! Pure: text and the model's own probabilities, no audio.

use std::sync::atomic::{AtomicU64, Ordering};

/// Lines dropped as non-speech since start-up (for the operators' figures).
static DROPPED: AtomicU64 = AtomicU64::new(0);

/// How many lines were dropped as non-speech since start-up.
pub fn dropped() -> u64 {
    DROPPED.load(Ordering::Relaxed)
}

/// Counts one dropped line.
pub(crate) fn count_dropped() {
    DROPPED.fetch_add(1, Ordering::Relaxed);
}

/// Whisper's probability that a window holds no speech, above which its words are doubted.
/// Court speech measures 0.01 to 0.28 here; beeps and music 0.8 and more.
const NO_SPEECH: f32 = 0.6;
/// Mean token probability above which doubted words are kept anyway (clear speech with a
/// pause in its window). Speech measures 0.54 to 0.88.
const SURE: f32 = 0.75;

/// Whether a segment is probably words made up over silence or noise (Whisper's well-known
/// "thank you"s and "I'm going to go ahead..."): the model itself says the window likely holds
/// no speech, and it is not sure of the words. whisper.cpp's own rule (no speech above 0.6
/// with a mean log-probability under -1) lets through confident-sounding inventions.
pub fn likely_invented(no_speech: f32, confidence: f32) -> bool {
    no_speech > NO_SPEECH && confidence < SURE
}

/// Music notes and the like that Whisper uses for music.
fn is_music_symbol(c: char) -> bool {
    matches!(c, '♪' | '♫' | '♬' | '♩' | '🎵' | '🎶')
}

/// `text` without its sound descriptions (bracketed, parenthesised, between asterisks or
/// after a music symbol, in ASCII or full-width brackets); `None` when no words are left.
pub fn speech_only(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut closing: Option<char> = None;
    for c in text.chars() {
        if let Some(end) = closing {
            // Any music symbol ends a stretch of music (lyrics sung are not testimony).
            if c == end || (end == '♪' && is_music_symbol(c)) {
                closing = None;
            }
            continue;
        }
        closing = match c {
            '[' => Some(']'),
            '(' => Some(')'),
            '（' => Some('）'),
            '【' => Some('】'),
            '*' => Some('*'),
            c if is_music_symbol(c) => Some('♪'),
            _ => {
                out.push(c);
                None
            }
        };
    }
    // An unclosed bracket (a description cut at the window's end) is dropped with its text.
    let words = out.split_whitespace().collect::<Vec<_>>().join(" ");
    let words = words
        .trim_matches(|c: char| c.is_whitespace() || matches!(c, '-' | '–' | '—' | ':'))
        .to_owned();
    words.chars().any(char::is_alphanumeric).then_some(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sound_descriptions_alone_are_not_a_line() {
        for text in [
            "(beep)",
            "[BLANK_AUDIO]",
            "[Music]",
            "(electronic music)",
            "(gentle music)",
            "♪ ♪ ♪",
            "♪ La la la ♪",
            "*beeping*",
            "- (upbeat music)",
            "[ Silence ]",
            "（音乐）",
            "【音乐】",
            "...",
            "(dramatic music",
            "",
        ] {
            assert_eq!(speech_only(text), None, "{text:?}");
        }
    }

    #[test]
    fn words_over_what_the_model_calls_silence_are_doubted_unless_it_is_sure() {
        assert!(likely_invented(0.8, 0.5), "beeps heard as words");
        assert!(
            !likely_invented(0.28, 0.54),
            "the least sure court sentence measured"
        );
        assert!(
            !likely_invented(0.7, 0.9),
            "clear words in a window with a long pause"
        );
    }

    #[test]
    fn words_are_kept_and_descriptions_around_them_cut() {
        assert_eq!(
            speech_only("The court is now in session."),
            Some("The court is now in session.".into())
        );
        assert_eq!(
            speech_only("Thank you. (applause) Please be seated."),
            Some("Thank you. Please be seated.".into())
        );
        assert_eq!(speech_only("现在开庭。"), Some("现在开庭。".into()));
        assert_eq!(
            speech_only("I object - 4 times!"),
            Some("I object - 4 times!".into())
        );
    }
}
