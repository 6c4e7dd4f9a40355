//! `gavel bench asr`: the model's word error rate and real-time factor on the test sentences
//! (WAV files with their reference text beside them), transcribed one by one and then as one
//! long recording (where a decoder that loops shows); then captions through the live path: the
//! sentences as Opus RTP, played in real time by N speakers at once (each in their own
//! hearing) into the same listener, voice detection and worker pool a hearing uses, timed from
//! each utterance's end to its caption. A command-line tool: `anyhow` at its edge.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use gavel::config::TranscriptionConfig;
use gavel::transcribe::wer::{counted_by_character, edits, error_rate};
use gavel::transcribe::whisper::Transcriber;

/// Where `make setup` speaks the sentences in `language` (English, or Mandarin for `zh`).
fn default_dir(language: &str) -> PathBuf {
    std::env::var_os("GAVEL_MEDIA_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/gavel/media")))
        .unwrap_or_else(|| PathBuf::from("media"))
        .join(if language == "en" {
            "speech".to_owned()
        } else {
            format!("speech-{language}")
        })
}

/// Silence between the sentences of the long recording, as in the live clip (samples).
const PAUSE: usize = 24_000;

/// Runs the benchmark (with `concurrent` live speakers; 0: offline only); returns the
/// report, ending with the `key=value` line.
pub(crate) fn run(
    config: &TranscriptionConfig,
    speech: Option<PathBuf>,
    concurrent: usize,
) -> anyhow::Result<String> {
    let language = config.language.as_str();
    let dir = speech.unwrap_or_else(|| default_dir(language));
    let mut wavs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("the test speech in {} (make setup)", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wav"))
        .collect();
    wavs.sort();
    anyhow::ensure!(!wavs.is_empty(), "no test speech in {}", dir.display());
    let whisper = Transcriber::from_config(config)?;
    // Words, or characters for Chinese; and what a reader of simplified Chinese would trip on.
    let units = |text: &str| gavel::transcribe::wer::units(language, text);
    let mut traditional = Vec::new();
    let (mut errors, mut total) = (0usize, 0usize);
    let (mut audio, mut busy) = (Duration::ZERO, Duration::ZERO);
    let (mut lines, mut references) = (Vec::new(), Vec::new());
    let mut long = vec![0.0; PAUSE];
    for wav in &wavs {
        let reference = std::fs::read_to_string(wav.with_extension("txt"))
            .with_context(|| format!("the reference text of {}", wav.display()))?;
        let pcm = gavel_media_pipelines::audio::decode_16k_mono(wav, Duration::from_secs(60))?;
        audio += Duration::from_secs_f64(pcm.len() as f64 / 16_000.0);
        let t0 = Instant::now();
        let heard = heard(&whisper, &pcm)?;
        busy += t0.elapsed();
        let (r, h) = (units(&reference), units(&heard));
        traditional.extend(gavel::transcribe::chinese::traditional(&heard));
        let e = edits(&r, &h);
        errors += e;
        total += r.len();
        lines.push(format!("{e}/{} {} -> {heard}", r.len(), reference.trim()));
        long.extend_from_slice(&pcm);
        long.extend(std::iter::repeat_n(0.0, PAUSE));
        references.push(reference);
    }
    let wer = errors as f64 / total.max(1) as f64;
    let rtf = busy.as_secs_f64() / audio.as_secs_f64().max(1e-9);
    let all_said = references.join(" ");
    // The whole recording at once (a file's transcription, window by window).
    let long_heard = heard(&whisper, &long)?;
    traditional.extend(gavel::transcribe::chinese::traditional(&long_heard));
    let long_wer = error_rate(language, &all_said, &long_heard);
    let unit = if counted_by_character(language) {
        "cer"
    } else {
        "wer"
    };
    if unit == "cer" {
        lines.push(format!("long recording -> {long_heard}"));
    }
    lines.push(format!(
        "language={language} utterances={} {}={total} audio_s={:.1} threads={} tuning={:?} \
         prompt={:?} traditional_chars={} {:?}",
        wavs.len(),
        if unit == "cer" { "characters" } else { "words" },
        audio.as_secs_f64(),
        config.threads,
        config.tuning,
        whisper.prompt().unwrap_or(""),
        traditional.len(),
        traditional.iter().collect::<String>()
    ));
    drop(whisper);
    gavel::transcribe::give_back_memory();
    if concurrent == 0 {
        lines.push(format!(
            "{unit}={wer:.3} rtf={rtf:.3} long_{unit}={long_wer:.3} (offline only)"
        ));
        return Ok(lines.join("\n"));
    }
    let (live, memory) = live(config, &dir.join("opus"), concurrent)?;
    let mut latencies: Vec<i64> = live.iter().flat_map(|s| s.latencies.clone()).collect();
    latencies.sort_unstable();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * p).round() as usize)
            .map_or_else(|| "nan".to_owned(), ToString::to_string)
    };
    let live_wer = live
        .iter()
        .map(|s| error_rate(language, &all_said, &s.text.join(" ")))
        .fold(0.0, f64::max);
    let fewest = live.iter().map(|s| s.latencies.len()).min().unwrap_or(0);
    let gaps: usize = live.iter().map(|s| s.gaps).sum();
    if let Some(first) = live.first() {
        lines.push(format!(
            "live, the first speaker: {}",
            first.text.join(" | ")
        ));
    }
    lines.push(format!(
        "live: {concurrent} speaker(s), {} worker(s); captions per speaker {:?}",
        config.workers,
        live.iter().map(|s| s.latencies.len()).collect::<Vec<_>>()
    ));
    lines.push(format!(
        "memory (MB): before the live part {:.1}, at most during it {:.1}, once the model was let go {:.1}",
        memory.before, memory.peak, memory.released
    ));
    lines.push(format!(
        "{unit}={wer:.3} rtf={rtf:.3} long_{unit}={long_wer:.3} concurrent={concurrent} \
         captions_min={fewest} gaps={gaps} live_{unit}={live_wer:.3} \
         caption_latency_ms_p50={} caption_latency_ms_p95={}",
        pct(0.5),
        pct(0.95)
    ));
    Ok(lines.join("\n"))
}

/// The words Whisper hears in `pcm`.
fn heard(whisper: &Transcriber, pcm: &[f32]) -> anyhow::Result<String> {
    let segments = whisper.transcribe(pcm)?;
    Ok(gavel::transcribe::whisper::joined(
        whisper.language(),
        &segments,
    ))
}

/// What one live speaker's captions came to.
#[derive(Debug, Default)]
struct Spoken {
    /// Per caption, milliseconds from the utterance's end to the caption.
    latencies: Vec<i64>,
    /// The captions' words, in order.
    text: Vec<String>,
    /// Utterances not transcribed.
    gaps: usize,
}

/// This process's resident memory around the live part (MB): what holding the model costs,
/// and whether letting it go gives the memory back.
#[derive(Debug, Default)]
struct Memory {
    before: f64,
    peak: f64,
    released: f64,
}

fn rss() -> f64 {
    super::rss_mb(std::process::id()).unwrap_or(f64::NAN)
}

/// Plays the speech clip (20 ms Opus packets) as RTP in real time through the live path, by
/// `speakers` speakers at once, each starting a quarter second after the one before (people
/// talking over each other, not in lockstep); returns what each one's captions came to.
fn live(
    config: &TranscriptionConfig,
    clip: &Path,
    speakers: usize,
) -> anyhow::Result<(Vec<Spoken>, Memory)> {
    use gavel::transcribe::live::{CaptionEvent, Captioner};
    use std::sync::atomic::{AtomicBool, Ordering};
    let packets = std::sync::Arc::new(gavel::clip::load_audio(clip)?);
    // The model is let go as soon as the speakers are done, to see the memory come back.
    let config = TranscriptionConfig {
        unload_after_secs: 0,
        ..config.clone()
    };
    let before = rss();
    let done = std::sync::Arc::new(AtomicBool::new(false));
    let sampling = done.clone();
    let sampler = std::thread::spawn(move || {
        let mut peak = 0.0f64;
        while !sampling.load(Ordering::Relaxed) {
            peak = peak.max(rss());
            std::thread::sleep(Duration::from_millis(100));
        }
        peak
    });
    let captioner = Captioner::start(&config);
    if let Some(why) = captioner.why_unavailable() {
        anyhow::bail!("live captions unavailable: {why}");
    }
    let mut speaking = Vec::new();
    for n in 0..speakers {
        let listener = gavel_media_pipelines::listener::Listener::start(111)?;
        let tap = listener.tap();
        let (tx, mut rx) = tokio::sync::mpsc::channel(64);
        let listening = captioner
            .listen_to(listener, format!("speaker-{n}").into(), tx)
            .context("starting the live path")?;
        let collector = std::thread::spawn(move || {
            let mut out = Spoken::default();
            while let Some(event) = rx.blocking_recv() {
                match event {
                    CaptionEvent::Caption { end_ms, text, .. } => {
                        out.latencies.push(gavel::clock::now_ms() - end_ms);
                        out.text.push(text);
                    }
                    CaptionEvent::Gap { .. } => out.gaps += 1,
                }
            }
            out
        });
        let packets = packets.clone();
        let player = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(250 * n as u64));
            play(&packets, &tap);
            // The last utterance ends with the clip; stopping hands it over, and the channel
            // closes once every caption is in.
            drop(listening);
        });
        speaking.push((player, collector));
    }
    let mut out = Vec::new();
    for (player, collector) in speaking {
        player
            .join()
            .map_err(|_| anyhow::anyhow!("a speaker failed"))?;
        out.push(
            collector
                .join()
                .map_err(|_| anyhow::anyhow!("a caption collector failed"))?,
        );
    }
    done.store(true, Ordering::Relaxed);
    let peak = sampler
        .join()
        .map_err(|_| anyhow::anyhow!("the memory sampler failed"))?;
    let released_by = Instant::now() + Duration::from_secs(30);
    while captioner.model_loaded() && Instant::now() < released_by {
        std::thread::sleep(Duration::from_millis(50));
    }
    // The last worker may still be freeing it: the lowest reading of the next second.
    let released = (0..10)
        .map(|_| {
            std::thread::sleep(Duration::from_millis(100));
            rss()
        })
        .fold(f64::INFINITY, f64::min);
    drop(captioner);
    Ok((
        out,
        Memory {
            before,
            peak,
            released,
        },
    ))
}

/// Sends `packets` into `tap` as RTP, one every 20 ms on the clock.
fn play(packets: &[bytes::Bytes], tap: &gavel_media_pipelines::recorder::Tap) {
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
}
