//! Whisper as imported here: the tiny.en model fetched from PyPI by the set-up
//! (`scripts/setup-model.sh`) is converted by `gavel model import` and transcribes court-style
//! sentences spoken by espeak-ng with a word error rate of at most 20 %; a corrupt model is a
//! clear error.

use std::path::{Path, PathBuf};

use gavel::transcribe::model::{WeightType, import};
use gavel::transcribe::wer::{edits, words};
use gavel::transcribe::whisper::{TranscribeError, Transcriber};

fn model_dir() -> PathBuf {
    std::env::var_os("GAVEL_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(&std::env::var_os("HOME").unwrap()).join(".cache/gavel/models")
        })
}

/// The tiny.en model with 8-bit weights (as `make run` imports it), imported into `dir` by
/// this build's converter (half a second), so every run tests the converter as it is, never a
/// file an older one left behind.
pub(crate) fn tiny_en(dir: &Path) -> PathBuf {
    imported(dir, "tiny.en-ct2", "ggml-tiny.en.bin")
}

/// The set-up's CTranslate2 model `ct2` imported with 8-bit weights as `dir/file`.
fn imported(dir: &Path, ct2: &str, file: &str) -> PathBuf {
    let out = dir.join(file);
    import(&model_dir().join(ct2), &out, WeightType::Q8_0, |_| {})
        .expect("the CTranslate2 model (make setup runs scripts/setup-model*.sh)");
    out
}

/// The multilingual base model with 8-bit weights (as `make run` imports it), imported into
/// `dir` by this build's converter.
pub(crate) fn base(dir: &Path) -> PathBuf {
    imported(dir, "base-ct2", "ggml-base.bin")
}

/// The reference sentences (also `gavel bench asr`'s).
pub(crate) fn sentences() -> Vec<String> {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/asr/sentences.txt"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

/// `text` spoken by espeak-ng into a WAV file in `dir`.
pub(crate) fn speak(dir: &Path, n: usize, text: &str) -> PathBuf {
    let wav = dir.join(format!("s{n}.wav"));
    let ok = std::process::Command::new("espeak-ng")
        .args(["-v", "en-us", "-s", "135", "-w"])
        .arg(&wav)
        .arg(text)
        .status()
        .expect("espeak-ng (make setup installs it)")
        .success();
    assert!(ok, "espeak-ng failed");
    wav
}

fn transcript(whisper: &Transcriber, wav: &Path) -> String {
    let pcm =
        gavel_media_pipelines::audio::decode_16k_mono(wav, std::time::Duration::from_secs(60))
            .unwrap();
    whisper
        .transcribe(&pcm)
        .unwrap()
        .iter()
        .map(|s| s.text.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn the_imported_model_transcribes_court_speech_with_at_most_20_percent_wer() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_en(dir.path());
    let whisper = Transcriber::load(&model, "en", 2).unwrap();
    let (mut errors, mut total) = (0, 0);
    let mut report = String::new();
    for (n, s) in sentences().iter().enumerate() {
        let heard = transcript(&whisper, &speak(dir.path(), n, s));
        let (r, h) = (words(s), words(&heard));
        errors += edits(&r, &h);
        total += r.len();
        report.push_str(&format!("{s} -> {heard}\n"));
    }
    let wer = errors as f64 / total as f64;
    assert!(wer <= 0.20, "WER {:.1} %:\n{report}", wer * 100.0);

    // The 16-bit import (the source's own precision) loads and hears them about as well;
    // the 8-bit one is much smaller.
    let f16 = dir.path().join("ggml-tiny.en-f16.bin");
    import(
        &model_dir().join("tiny.en-ct2"),
        &f16,
        WeightType::F16,
        |_| {},
    )
    .unwrap();
    assert!(
        std::fs::metadata(&model).unwrap().len() < std::fs::metadata(&f16).unwrap().len() * 6 / 10
    );
    let full = Transcriber::load(&f16, "en", 2).unwrap();
    let s = &sentences()[2];
    let heard = transcript(&full, &speak(dir.path(), 99, s));
    assert!(
        gavel::transcribe::wer::wer(s, &heard) <= 0.25,
        "{s} -> {heard}"
    );
}

#[test]
fn a_corrupt_or_unsuitable_model_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let model_file = tiny_en(dir.path());
    let model = std::fs::read(&model_file).unwrap();
    let cut = dir.path().join("cut.bin");
    std::fs::write(&cut, &model[..model.len() / 2]).unwrap();
    let junk = dir.path().join("junk.bin");
    std::fs::write(&junk, vec![7u8; 4096]).unwrap();
    // Header fields whisper.cpp would trust: an unknown weight type, a foreign vocabulary.
    let mut wtype = model.clone();
    wtype[44..48].copy_from_slice(&5i32.to_le_bytes());
    let bad_type = dir.path().join("wtype.bin");
    std::fs::write(&bad_type, &wtype).unwrap();
    let mut vocab = model.clone();
    vocab[4..8].copy_from_slice(&52_000i32.to_le_bytes());
    let bad_vocab = dir.path().join("vocab.bin");
    std::fs::write(&bad_vocab, &vocab).unwrap();
    for (file, why) in [
        (&cut, "truncated"),
        (&junk, "not a ggml model"),
        (&bad_type, "weight type"),
        (&bad_vocab, "not describe a Whisper model"),
    ] {
        match Transcriber::load(file, "en", 1) {
            Err(e @ TranscribeError::Model { .. }) => {
                assert!(e.to_string().contains(why), "{e}");
            }
            other => panic!("{file:?} loaded: {other:?}"),
        }
    }
    assert!(matches!(
        Transcriber::load(&model_file, "zh", 1),
        Err(TranscribeError::Language(_))
    ));
    // An import from a directory that is not a model says so and writes nothing.
    let out = dir.path().join("none.bin");
    assert!(import(dir.path(), &out, WeightType::F16, |_| {}).is_err());
    assert!(!out.exists());
}

#[test]
fn long_audio_is_transcribed_without_repetition_loops() {
    // All the sentences one after another, half a second apart: about 45 s, so whisper.cpp
    // decodes it window by window, where greedy decoding with tiny.en tends to repeat itself.
    let dir = tempfile::tempdir().unwrap();
    let whisper = Transcriber::load(&tiny_en(dir.path()), "en", 2).unwrap();
    let mut pcm = Vec::new();
    for (n, s) in sentences().iter().enumerate() {
        let wav = speak(dir.path(), 100 + n, s);
        pcm.extend(
            gavel_media_pipelines::audio::decode_16k_mono(&wav, std::time::Duration::from_secs(60))
                .unwrap(),
        );
        pcm.extend(std::iter::repeat_n(0.0f32, 8_000));
    }
    assert!(pcm.len() > 16_000 * 35, "longer than one 30 s window");
    let heard: Vec<String> = whisper
        .transcribe(&pcm)
        .unwrap()
        .into_iter()
        .map(|s| s.text)
        .collect();
    let said = sentences().join(" ");
    let (r, h) = (words(&said), words(&heard.join(" ")));
    assert!(
        h.len() <= r.len() * 13 / 10,
        "{} words heard for {} said: {heard:?}",
        h.len(),
        r.len()
    );
    // No run of five words comes back three times (a loop), where the speech has none.
    let fives: Vec<&[String]> = h.windows(5).collect();
    for f in &fives {
        let n = fives.iter().filter(|g| *g == f).count();
        assert!(n < 3, "{f:?} repeated {n} times: {heard:?}");
    }
    let wer = edits(&r, &h) as f64 / r.len() as f64;
    assert!(wer <= 0.25, "WER {wer:.2}: {heard:?}");
}

/// A non-speech test sound made by the set-up (`scripts/make-noise.sh`).
pub(crate) fn noise(name: &str) -> PathBuf {
    let path = gavel::clip::default_dir()
        .parent()
        .unwrap()
        .join("noise")
        .join(name);
    assert!(
        path.exists(),
        "{} (make setup runs scripts/make-noise.sh)",
        path.display()
    );
    path
}

#[test]
fn beeps_pink_noise_and_music_give_no_transcript_line() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_en(dir.path());
    let whisper = Transcriber::load(&model, "en", 2).unwrap();
    let dropped = gavel::transcribe::nonspeech::dropped();
    for name in ["beeps.wav", "pink.wav", "music.wav"] {
        let heard = transcript(&whisper, &noise(name));
        assert_eq!(heard, "", "{name} is not speech");
    }
    // What Whisper wrote for them was counted, not silently lost.
    eprintln!(
        "non-speech lines dropped: {}",
        gavel::transcribe::nonspeech::dropped() - dropped
    );
}
