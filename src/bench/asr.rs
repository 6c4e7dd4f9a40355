//! `gavel bench asr`: the model's word error rate and real-time factor on the test sentences
//! (WAV files with their reference text beside them), transcribed one by one as the live
//! path does utterances. Caption latency needs the live path, which is not built yet: it is
//! reported as `nan` until then rather than estimated. A command-line tool: `anyhow` at its
//! edge.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use gavel::transcribe::wer::{edits, words};
use gavel::transcribe::whisper::Transcriber;

/// Where `make setup` speaks the sentences.
fn default_dir() -> PathBuf {
    std::env::var_os("GAVEL_MEDIA_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/gavel/media")))
        .unwrap_or_else(|| PathBuf::from("media"))
        .join("speech")
}

/// Runs the benchmark; returns the report, ending with the `key=value` line.
pub(crate) fn run(model: &Path, threads: usize, speech: Option<PathBuf>) -> anyhow::Result<String> {
    let dir = speech.unwrap_or_else(default_dir);
    let mut wavs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("the test speech in {} (make setup)", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wav"))
        .collect();
    wavs.sort();
    anyhow::ensure!(!wavs.is_empty(), "no test speech in {}", dir.display());
    let whisper = Transcriber::load(model, "en", threads)?;
    let (mut errors, mut total) = (0usize, 0usize);
    let (mut audio, mut busy) = (Duration::ZERO, Duration::ZERO);
    let mut lines = Vec::new();
    for wav in &wavs {
        let reference = std::fs::read_to_string(wav.with_extension("txt"))
            .with_context(|| format!("the reference text of {}", wav.display()))?;
        let pcm = gavel_media_pipelines::audio::decode_16k_mono(wav, Duration::from_secs(60))?;
        audio += Duration::from_secs_f64(pcm.len() as f64 / 16_000.0);
        let t0 = Instant::now();
        let heard: Vec<String> = whisper
            .transcribe(&pcm)?
            .into_iter()
            .map(|s| s.text)
            .collect();
        busy += t0.elapsed();
        let heard = heard.join(" ");
        let (r, h) = (words(&reference), words(&heard));
        let e = edits(&r, &h);
        errors += e;
        total += r.len();
        lines.push(format!("{e}/{} {} -> {heard}", r.len(), reference.trim()));
    }
    let wer = errors as f64 / total.max(1) as f64;
    let rtf = busy.as_secs_f64() / audio.as_secs_f64().max(1e-9);
    lines.push(format!(
        "utterances={} words={total} audio_s={:.1} threads={threads}",
        wavs.len(),
        audio.as_secs_f64()
    ));
    lines.push(format!(
        "wer={wer:.3} rtf={rtf:.3} caption_latency_ms_p50=nan caption_latency_ms_p95=nan"
    ));
    Ok(lines.join("\n"))
}
