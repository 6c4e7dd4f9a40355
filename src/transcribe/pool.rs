//! The transcription workers and the model they share, in memory only while something needs
//! captions: the first [`Demand`] loads the model (its workers take the jobs queued meanwhile),
//! and the model is let go once no demand has been held for a while. A server, or a stretch of
//! time, without captioned hearings pays nothing for them (the tiny model and one worker's
//! working memory are over 100 MB).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak, mpsc};
use std::time::Duration;

use tokio::sync::mpsc as tokio_mpsc;

use super::live::{CaptionEvent, GapReason};
use super::vad::Utterance;
use super::whisper::Transcriber;
use crate::config::TranscriptionConfig;
use crate::domain::ParticipantId;

/// Utterances waiting for a worker before new ones are recorded as gaps (about ten minutes
/// of speech at the usual utterance length).
const QUEUE: usize = 64;

/// One utterance to transcribe, and where its caption goes.
pub(super) struct Job {
    pub(super) participant: ParticipantId,
    pub(super) utterance: Utterance,
    pub(super) spoken_at: std::time::Instant,
    pub(super) out: tokio_mpsc::Sender<CaptionEvent>,
}

/// The model's workers, loaded on demand.
pub(super) struct Pool {
    config: TranscriptionConfig,
    state: Mutex<State>,
    /// The model while any worker holds it.
    model: Arc<Mutex<Weak<Transcriber>>>,
    /// Times the model was loaded (a metric, and what tests watch).
    pub(super) loads: Arc<AtomicU64>,
}

#[derive(Default)]
struct State {
    /// The queue into the workers while they run.
    jobs: Option<mpsc::SyncSender<Job>>,
    /// Demands held.
    holders: usize,
    /// Changes whenever the last demand goes, so a release timer knows it is stale.
    generation: u64,
}

impl Pool {
    pub(super) fn new(config: TranscriptionConfig) -> Arc<Self> {
        Arc::new(Self {
            config,
            state: Mutex::default(),
            model: Arc::default(),
            loads: Arc::default(),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps the model loaded (loading it now if it is not) until the demand drops.
    pub(super) fn demand(self: &Arc<Self>) -> Demand {
        let mut state = self.state();
        state.holders += 1;
        if state.jobs.is_none() {
            state.jobs = Some(self.start());
        }
        Demand(self.clone())
    }

    /// Where jobs go while a demand is held.
    pub(super) fn jobs(&self) -> Option<mpsc::SyncSender<Job>> {
        self.state().jobs.clone()
    }

    /// Whether the model is in memory.
    pub(super) fn loaded(&self) -> bool {
        self.model
            .lock()
            .map(|m| m.strong_count() > 0)
            .unwrap_or(false)
    }

    /// Starts the first worker, which loads the model and then starts the others; jobs queue
    /// meanwhile. Workers end once the queue's last sender is gone and it is drained.
    fn start(&self) -> mpsc::SyncSender<Job> {
        let (tx, rx) = mpsc::sync_channel::<Job>(QUEUE);
        let rx = Arc::new(Mutex::new(rx));
        let (config, model, loads) = (self.config.clone(), self.model.clone(), self.loads.clone());
        let spawned = std::thread::Builder::new()
            .name("gavel-asr-0".into())
            .spawn(move || {
                let loaded = Transcriber::from_config(&config);
                let transcriber = match loaded {
                    Ok(t) => Arc::new(t),
                    Err(e) => {
                        tracing::error!(error = %e, "the speech model failed to load");
                        return refuse(&rx, &e.to_string());
                    }
                };
                loads.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut m) = model.lock() {
                    *m = Arc::downgrade(&transcriber);
                }
                tracing::info!("speech model loaded");
                for n in 1..config.workers.max(1) {
                    let (t, rx) = (transcriber.clone(), rx.clone());
                    let more = std::thread::Builder::new()
                        .name(format!("gavel-asr-{n}"))
                        .spawn(move || {
                            work(&t, &rx);
                            drop(t);
                            super::give_back_memory();
                        });
                    if let Err(e) = more {
                        tracing::warn!(error = %e, "a transcription worker did not start");
                    }
                }
                work(&transcriber, &rx);
                drop(transcriber);
                super::give_back_memory();
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "no transcription worker");
        }
        tx
    }

    /// A demand went: the last one starts the wait before the model is let go.
    fn release(self: &Arc<Self>) {
        let generation = {
            let mut state = self.state();
            state.holders = state.holders.saturating_sub(1);
            if state.holders > 0 {
                return;
            }
            state.generation += 1;
            state.generation
        };
        let (pool, wait) = (
            self.clone(),
            Duration::from_secs(self.config.unload_after_secs),
        );
        let timer = std::thread::Builder::new()
            .name("gavel-asr-idle".into())
            .spawn(move || {
                // A timer: the model stays for hearings that follow each other.
                std::thread::sleep(wait);
                let mut state = pool.state();
                if state.holders == 0 && state.generation == generation {
                    state.jobs = None;
                    tracing::info!("speech model released (no captioned hearing)");
                }
            });
        if timer.is_err() {
            // No timer thread: keep the model (memory, not captions, is what is lost).
            tracing::warn!("the speech model stays loaded: no timer thread");
        }
    }
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("loaded", &self.loaded())
            .finish_non_exhaustive()
    }
}

/// Keeps the speech model loaded while held (a captioned hearing, a listener).
#[derive(Debug)]
pub struct Demand(Arc<Pool>);

impl Drop for Demand {
    fn drop(&mut self) {
        self.0.release();
    }
}

/// The model did not load: every utterance becomes a gap saying why.
fn refuse(jobs: &Mutex<mpsc::Receiver<Job>>, why: &str) {
    while let Some(job) = next(jobs) {
        let u = &job.utterance;
        // overflow: await (the room takes captions in order; this is a worker thread)
        let _ = job.out.blocking_send(CaptionEvent::Gap {
            participant: job.participant.clone(),
            start_ms: u.start_ms,
            end_ms: u.end_ms,
            why: GapReason::Failed(why.to_owned()),
        });
    }
}

fn next(jobs: &Mutex<mpsc::Receiver<Job>>) -> Option<Job> {
    jobs.lock().ok()?.recv().ok()
}

/// A worker: transcribes jobs until the queue closes.
fn work(model: &Transcriber, jobs: &Mutex<mpsc::Receiver<Job>>) {
    let mut decoder = match model.decoder() {
        Ok(d) => d,
        Err(e) => return refuse(jobs, &e.to_string()),
    };
    while let Some(job) = next(jobs) {
        let u = &job.utterance;
        let event = match decoder.transcribe(&u.samples) {
            Ok(segments) => {
                let text = super::whisper::joined(model.language(), &segments);
                if text.trim().is_empty() {
                    continue;
                }
                let confidence = segments.iter().map(|s| s.confidence).sum::<f32>()
                    / segments.len().max(1) as f32;
                CaptionEvent::Caption {
                    participant: job.participant.clone(),
                    start_ms: u.start_ms,
                    end_ms: u.end_ms,
                    text,
                    confidence,
                    spoken_at: job.spoken_at,
                }
            }
            Err(e) => CaptionEvent::Gap {
                participant: job.participant.clone(),
                start_ms: u.start_ms,
                end_ms: u.end_ms,
                why: GapReason::Failed(e.to_string()),
            },
        };
        // overflow: await (the room takes captions in order; this is a worker thread)
        let _ = job.out.blocking_send(event);
    }
}
