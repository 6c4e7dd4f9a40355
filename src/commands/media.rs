//! Commands on media: transcribing, importing the speech model, composing a hearing's
//! recording, and the speech benchmark.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use gavel::app::open;
use gavel::config::Config;

use super::{clock, out};
use crate::bench;

/// `gavel bench asr`: word error rate and speed of the model on the test speech.
pub(crate) async fn bench_asr(
    config: Config,
    o: gavel::cli::AsrBenchArgs,
) -> anyhow::Result<ExitCode> {
    // The model and decoding for the language; the options below override them.
    let language = o
        .language
        .unwrap_or_else(|| config.transcription.language.clone());
    let mut t = config.transcription.in_language(&language);
    if let Some(p) = o.prompt {
        t.prompt = Some(p);
    }
    if let Some(model) = o.model {
        t.model = model;
    }
    t.threads = o.threads.unwrap_or(t.threads);
    t.workers = o.workers.unwrap_or(t.workers);
    if let Some(beam) = o.tuning.beam {
        t.tuning.beam_size = beam;
    }
    if o.tuning.full_window {
        t.tuning.window_margin_ms = None;
    } else if let Some(m) = o.tuning.window_margin_ms {
        t.tuning.window_margin_ms = Some(m);
    }
    if let Some(f) = o.tuning.flash_attn {
        t.tuning.flash_attn = f;
    }
    // Each speaker is a thread and a decoding pipeline of this process.
    anyhow::ensure!(
        (1..=100).contains(&o.concurrent),
        "--concurrent takes 1 to 100 speakers"
    );
    let concurrent = if o.tuning.offline { 0 } else { o.concurrent };
    t.live = true;
    let speech = o.speech;
    let report =
        tokio::task::spawn_blocking(move || bench::asr::run(&t, speech, concurrent)).await??;
    out(&report);
    Ok(ExitCode::SUCCESS)
}

/// `gavel transcribe`: a recording's speech, as timed lines.
pub(crate) async fn transcribe(
    config: Config,
    file: PathBuf,
    model: Option<PathBuf>,
    language: Option<String>,
    threads: Option<usize>,
) -> anyhow::Result<ExitCode> {
    let t = &config.transcription;
    let language = language.unwrap_or_else(|| t.language.clone());
    let model = model.unwrap_or_else(|| t.model_for(&language).to_owned());
    let threads = threads.unwrap_or(t.threads);
    let segments = tokio::task::spawn_blocking(move || {
        let pcm = gavel_media_pipelines::audio::decode_16k_mono(
            &file,
            std::time::Duration::from_secs(4 * 3600),
        )
        .with_context(|| format!("reading {}", file.display()))?;
        let whisper = gavel::transcribe::whisper::Transcriber::load(&model, &language, threads)?;
        anyhow::Ok(whisper.transcribe(&pcm)?)
    })
    .await??;
    for s in segments {
        out(&format!(
            "[{} --> {}] {} (confidence {:.2})",
            clock(s.start_ms),
            clock(s.end_ms),
            s.text,
            s.confidence
        ));
    }
    Ok(ExitCode::SUCCESS)
}

/// `gavel model import`: a CTranslate2 Whisper model converted to the ggml file whisper.cpp
/// loads, never leaving a partial file.
pub(crate) async fn model_import(
    ct2_dir: PathBuf,
    out_file: PathBuf,
    q8: bool,
) -> anyhow::Result<ExitCode> {
    let bar = indicatif::ProgressBar::new(1000);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "importing {bar:40} {percent:>3}% (elapsed {elapsed})",
        )
        .context("progress bar template")?,
    );
    let wtype = if q8 {
        gavel::transcribe::model::WeightType::Q8_0
    } else {
        gavel::transcribe::model::WeightType::F16
    };
    let shown = bar.clone();
    let imported = tokio::task::spawn_blocking(move || {
        gavel::transcribe::model::import(&ct2_dir, &out_file, wtype, |p| {
            shown.set_position((p * 1000.0) as u64);
        })
        .map(|i| (i, out_file))
    })
    .await?;
    bar.finish_and_clear();
    let (i, out_file) = imported.context("importing the model")?;
    let h = i.hparams;
    out(&format!(
        "wrote {} ({} bytes, {} tensors): {} audio / {} text layers, width {}, {} mels, vocabulary {}",
        out_file.display(),
        i.bytes,
        i.tensors,
        h.n_audio_layer,
        h.n_text_layer,
        h.n_state,
        h.n_mels,
        h.n_vocab
    ));
    Ok(ExitCode::SUCCESS)
}

/// `gavel recording compose`: the composite of an ended hearing, added to its manifest and
/// sealed again.
pub(crate) async fn recording_compose(
    config: Config,
    hearing_id: String,
) -> anyhow::Result<ExitCode> {
    let (db, keys) = open(&config).await?;
    let keys = std::sync::Arc::new(gavel::auth::keyring::KeyStore::new(config.keys_dir(), keys));
    let index = gavel::recording::index::Index {
        db,
        outbox: std::sync::Arc::new(tokio::sync::Notify::new()),
    };
    let root = config.recordings_dir();
    let composer = gavel::recording::compose::Composer::new(index, root, keys);
    let bar = indicatif::ProgressBar::new(1000);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "composing {bar:40} {percent:>3}% (elapsed {elapsed}, left {eta})",
        )
        .context("progress bar template")?,
    );
    let shown = bar.clone();
    let entry = composer
        .compose(&hearing_id, move |p| {
            shown.set_position((p * 1000.0) as u64)
        })
        .await;
    bar.finish_and_clear();
    let entry = entry.with_context(|| format!("composing hearing {hearing_id}"))?;
    out(&format!(
        "composite {} ({} s of hearing), sha256 {}; added to the manifest and sealed",
        entry.segment.file,
        (entry.segment.end_ms - entry.segment.start_ms) / 1000,
        entry.segment.sha256
    ));
    Ok(ExitCode::SUCCESS)
}
