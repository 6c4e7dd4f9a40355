//! `gavel bench asr`: the model's word error rate and real-time factor on the test sentences
//! (WAV files with their reference text beside them), transcribed one by one; then caption
//! latency through the live path: the sentences as Opus RTP, played in real time into the
//! same listener, voice detection and worker pool a hearing uses, timed from each
//! utterance's end to its caption. A command-line tool: `anyhow` at its edge.

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
    drop(whisper);
    let mut latencies = live(model, threads, &dir.join("opus"))?;
    latencies.sort_unstable();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * p).round() as usize)
            .map_or_else(|| "nan".to_owned(), ToString::to_string)
    };
    lines.push(format!("captions={} live", latencies.len()));
    lines.push(format!(
        "wer={wer:.3} rtf={rtf:.3} caption_latency_ms_p50={} caption_latency_ms_p95={}",
        pct(0.5),
        pct(0.95)
    ));
    Ok(lines.join("\n"))
}

/// Plays the speech clip (20 ms Opus packets) as RTP in real time through the live path;
/// returns, per caption, milliseconds from the utterance's end to the caption.
fn live(model: &Path, threads: usize, clip: &Path) -> anyhow::Result<Vec<i64>> {
    use gavel::transcribe::live::{CaptionEvent, Captioner};
    let packets = gavel::clip::load_audio(clip)?;
    let config = gavel::config::TranscriptionConfig {
        model: model.to_owned(),
        language: "en".into(),
        threads,
        workers: 1,
        live: true,
    };
    let captioner = Captioner::start(&config);
    if let Some(why) = captioner.why_unavailable() {
        anyhow::bail!("live captions unavailable: {why}");
    }
    let listener = gavel_media_pipelines::listener::Listener::start(111)?;
    let tap = listener.tap();
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let listening = captioner
        .listen_to(listener, "bench".into(), tx)
        .context("starting the live path")?;
    let latencies = std::thread::spawn(move || {
        let mut out = Vec::new();
        while let Some(event) = rx.blocking_recv() {
            if let CaptionEvent::Caption { end_ms, .. } = event {
                out.push(gavel::clock::now_ms() - end_ms);
            }
        }
        out
    });
    let start = Instant::now();
    for (i, p) in packets.iter().enumerate() {
        let seq = u16::try_from(i % 65_536).unwrap_or(0);
        let ts = u32::try_from(i).unwrap_or(0).wrapping_mul(960);
        let mut rtp = vec![0x80, 111];
        rtp.extend_from_slice(&seq.to_be_bytes());
        rtp.extend_from_slice(&ts.to_be_bytes());
        rtp.extend_from_slice(&0x6761_7665_u32.to_be_bytes());
        rtp.extend_from_slice(p);
        tap.push(rtp);
        let due = start + Duration::from_millis(20 * (i as u64 + 1));
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
    }
    // The last utterance ends with the clip; stopping hands it over, and the channel closes
    // once every caption is in.
    drop(listening);
    drop(captioner);
    latencies
        .join()
        .map_err(|_| anyhow::anyhow!("the caption collector failed"))
}
