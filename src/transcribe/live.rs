//! Live captions: each participant's audio (tapped from the SFU, never slowing it) is decoded
//! to 16 kHz, cut into utterances (`vad`), and transcribed by a bounded pool of worker
//! threads that share one model, loaded while some hearing needs it (`pool`). Every utterance
//! becomes a caption or, when the pool is too far behind to take it, a recorded gap: speech
//! is never dropped silently.
//!
//! Without a usable model the captioner starts anyway, unavailable: rooms say so to the clerk
//! and run on without captions.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, mpsc as std_mpsc};
use std::time::Duration;

use gavel_media_pipelines::listener::Listener;
use tokio::sync::mpsc;

pub use super::pool::Demand;
use super::pool::{Job, Pool};
use super::vad::{Segmenter, Utterance, VadConfig};
use super::whisper::Transcriber;
use crate::clock::now_ms;
use crate::config::TranscriptionConfig;
use crate::domain::ParticipantId;
use crate::sfu::track::PublishedTrack;

/// What the captioner tells a room.
#[derive(Debug, Clone, PartialEq)]
pub enum CaptionEvent {
    /// An utterance, transcribed.
    Caption {
        /// Who spoke.
        participant: ParticipantId,
        /// Start on the hearing clock (ms).
        start_ms: i64,
        /// End on the hearing clock (ms).
        end_ms: i64,
        /// The words.
        text: String,
        /// Mean token probability, 0 to 1.
        confidence: f32,
        /// When it began, on this process's monotonic clock (who may read it depends on
        /// who was present then; the wall clock may be stepped).
        spoken_at: std::time::Instant,
    },
    /// Speech that was not transcribed (the workers were behind, or decoding failed).
    Gap {
        /// Who spoke.
        participant: ParticipantId,
        /// Start on the hearing clock (ms).
        start_ms: i64,
        /// End on the hearing clock (ms).
        end_ms: i64,
        /// Why.
        why: GapReason,
    },
}

/// Why speech was not transcribed; its text is what the transcript stores beside the gap.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GapReason {
    /// The workers were behind: the utterance was not queued.
    #[error("transcription fell behind")]
    Behind,
    /// The participant's audio could not be decoded (from here on, nothing of theirs is).
    #[error("the audio could not be decoded for transcription: {0}")]
    Undecodable(String),
    /// The model failed on this utterance.
    #[error("{0}")]
    Failed(String),
}

/// The server's transcription service.
pub struct Captioner {
    pool: Option<Arc<Pool>>,
    unavailable: Option<String>,
    /// Utterances given up because the workers were behind (a metric).
    pub gaps: AtomicU64,
}

impl std::fmt::Debug for Captioner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Captioner")
            .field("unavailable", &self.unavailable)
            .finish_non_exhaustive()
    }
}

impl Captioner {
    /// A captioner for `config`'s model, which is checked now (unavailable, with the reason,
    /// when it cannot be used) and loaded when a hearing first needs it ([`Self::demand`]).
    pub fn start(config: &TranscriptionConfig) -> Arc<Self> {
        if let Err(e) = Transcriber::check(&config.model, &config.language) {
            return Self::unavailable(e.to_string());
        }
        Arc::new(Self {
            pool: Some(Pool::new(config.clone())),
            unavailable: None,
            gaps: AtomicU64::new(0),
        })
    }

    /// A captioner that transcribes nothing, saying why.
    pub fn unavailable(why: String) -> Arc<Self> {
        Arc::new(Self {
            pool: None,
            unavailable: Some(why),
            gaps: AtomicU64::new(0),
        })
    }

    /// Why captions are unavailable, if they are.
    pub fn why_unavailable(&self) -> Option<&str> {
        self.unavailable.as_deref()
    }

    /// Keeps the model loaded, loading it now if it is not (a captioned hearing opens: its
    /// first words need not wait), until the returned handle drops; `None` when unavailable.
    pub fn demand(&self) -> Option<Demand> {
        self.pool.as_ref().map(Pool::demand)
    }

    /// Whether the model is in memory now.
    pub fn model_loaded(&self) -> bool {
        self.pool.as_ref().is_some_and(|p| p.loaded())
    }

    /// Times the model has been loaded since the server started.
    pub fn model_loads(&self) -> u64 {
        self.pool
            .as_ref()
            .map_or(0, |p| p.loads.load(Ordering::Relaxed))
    }

    /// Starts transcribing `track` (Opus audio) into `out` until the returned handle drops.
    pub fn listen(
        self: &Arc<Self>,
        track: Arc<PublishedTrack>,
        out: mpsc::Sender<CaptionEvent>,
    ) -> Option<Listening> {
        // No workers, no tap: an unavailable captioner never touches the track.
        self.pool.as_ref()?;
        let pt = track.media.payload_type();
        let listener = Listener::start(pt).ok()?;
        track.set_listener(Some(listener.tap()), pt);
        let mut listening = self.listen_to(listener, track.publisher.clone(), out)?;
        listening.track = Some(track);
        Some(listening)
    }

    /// Starts transcribing what `listener` decodes, as `participant`'s speech, into `out`
    /// (the live path without the SFU: `gavel bench asr` feeds it directly).
    pub fn listen_to(
        self: &Arc<Self>,
        listener: Listener,
        participant: ParticipantId,
        out: mpsc::Sender<CaptionEvent>,
    ) -> Option<Listening> {
        let demand = self.demand()?;
        let jobs = self.pool.as_ref()?.jobs()?;
        let stop = Arc::new(AtomicBool::new(false));
        let (this, flag) = (self.clone(), stop.clone());
        let base = now_ms();
        // Inside the room's span (the hearing): whose speech this thread listens to.
        let span = tracing::info_span!("captions", participant = %participant);
        let thread = std::thread::Builder::new()
            .name("gavel-asr-listen".into())
            .spawn(move || {
                let _in = span.enter();
                this.hear(&listener, base, &participant, &jobs, &out, &flag)
            })
            .ok()?;
        Some(Listening {
            stop,
            thread: Some(thread),
            track: None,
            _demand: demand,
        })
    }

    /// The listening loop of one participant.
    fn hear(
        &self,
        listener: &Listener,
        base_ms: i64,
        participant: &ParticipantId,
        jobs: &std_mpsc::SyncSender<Job>,
        out: &mpsc::Sender<CaptionEvent>,
        stop: &AtomicBool,
    ) {
        let mut vad = Segmenter::new(VadConfig::default());
        // The monotonic instant matching `base_ms`.
        let base = std::time::Instant::now();
        let give = |u: Utterance| {
            let (start_ms, end_ms) = (u.start_ms, u.end_ms);
            let after = u64::try_from(start_ms - base_ms).unwrap_or(0);
            let job = Job {
                participant: participant.clone(),
                utterance: u,
                spoken_at: base + Duration::from_millis(after),
                out: out.clone(),
            };
            if jobs.try_send(job).is_err() {
                self.gaps.fetch_add(1, Ordering::Relaxed);
                // overflow: await (a gap must be recorded; this thread is the listener's own)
                let _ = out.blocking_send(CaptionEvent::Gap {
                    participant: participant.clone(),
                    start_ms,
                    end_ms,
                    why: GapReason::Behind,
                });
            }
        };
        // Pulls in a row that brought no audio (200 ms each). Eight (1.6 s, the VAD's pause
        // plus its jitter allowance) before an utterance is ended for want of audio: a loaded
        // server or network can hold audio back for a moment without the speaker pausing.
        let mut silent = 0;
        while !stop.load(Ordering::Relaxed) {
            match listener.pull(Duration::from_millis(200)) {
                Ok(Some(pcm)) => {
                    silent = 0;
                    let at = base_ms + i64::try_from(pcm.at.as_millis()).unwrap_or(0);
                    for u in vad.push(at, &pcm.samples) {
                        give(u);
                    }
                }
                Ok(None) => {
                    silent += 1;
                    // No audio at all (muted, or the connection stalled) ends an utterance
                    // as a pause would.
                    if silent == 8
                        && let Some(u) = vad.flush()
                    {
                        give(u);
                    }
                }
                Err(e) => {
                    // The decoder failed: from here this participant is not transcribed,
                    // which the record says.
                    let now = now_ms();
                    // overflow: await (this thread is the listener's own)
                    let _ = out.blocking_send(CaptionEvent::Gap {
                        participant: participant.clone(),
                        start_ms: now,
                        end_ms: now,
                        why: GapReason::Undecodable(e.to_string()),
                    });
                    break;
                }
            }
        }
        if let Some(u) = vad.flush() {
            give(u);
        }
    }
}

/// Stops listening to a track when dropped.
#[derive(Debug)]
pub struct Listening {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    track: Option<Arc<PublishedTrack>>,
    /// The model stays while anyone is listened to.
    _demand: Demand,
}

impl Drop for Listening {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = &self.track {
            t.set_listener(None, 0);
        }
        // The thread ends within one pull (200 ms) and hands over its last utterance.
        drop(self.thread.take());
    }
}
