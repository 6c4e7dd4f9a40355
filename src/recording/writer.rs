//! Recording a hearing while it runs: one task per recorded track drives its GStreamer
//! recorder (`gavel_media_pipelines::recorder`), and every segment it closes is hashed and
//! appended to the hearing's manifest (`manifest.jsonl`, fsynced line by line), so the record
//! on disk is verifiable at any moment (`gavel verify recording`).
//!
//! The SFU's forwarding only pushes into the recorder's bounded, non-blocking queue (the
//! track's tap); starting, finishing and hashing happen on blocking threads, never in the room
//! or the forwarding path.

use std::sync::Arc;
use std::time::Duration;

use gavel_media_pipelines::PipelineEvent;
use gavel_media_pipelines::recorder::{Codec, TrackRecorder};
use tokio::sync::{mpsc, oneshot};

use super::manifest_log::ManifestLog;
use super::recover::{RunInfo, write_run};
use gavel_signaling::Source;

use crate::clock::now_ms;
use crate::domain::ParticipantId;
use crate::sfu::track::PublishedTrack;

/// Stops a track's recording when dropped or told.
#[derive(Debug)]
pub struct Recording {
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Recording {
    /// Stops the recording; the returned task ends once the open segment is closed and in
    /// the manifest.
    pub fn stop(mut self) -> Option<tokio::task::JoinHandle<()>> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        self.task.take()
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// Where a hearing's tracks are recorded, and whom a failure is told.
#[derive(Debug)]
pub struct Target {
    /// The hearing's manifest (and directory).
    pub log: Arc<ManifestLog>,
    /// Segment length: a crash loses at most the open segment's unflushed tail.
    pub segment: Duration,
    /// The room, told of every failure (it records the fault and tells the judge and clerk).
    pub faults: mpsc::Sender<Fault>,
}

/// A track's recording failed.
#[derive(Debug, Clone)]
pub struct Fault {
    /// Whose track.
    pub participant: ParticipantId,
    /// Which track.
    pub track: Source,
    /// What failed (GStreamer's text or an I/O error; no participant data).
    pub detail: String,
    /// The recording goes on (the recorder was started again, or only one segment's entry
    /// failed); false when it gave up after repeated failures.
    pub restarted: bool,
}

/// Failures of one track's recording before it stops trying (each one is a fault record and
/// a notice; a pipeline failing over and over would otherwise flood both).
const MAX_RESTARTS: u32 = 5;

/// A run this long was healthy: its failure does not count towards giving up.
const HEALTHY_RUN: Duration = Duration::from_secs(60);

/// How a recorder run ended.
enum Outcome {
    /// Told to stop; every segment closed.
    Stopped,
    /// The pipeline failed while recording.
    Failed(String),
    /// The pipeline failed while closing its last segment after being told to stop.
    FailedStopping(String),
}

/// Pause before a restart, so a failing disk is not hammered.
const RESTART_DELAY: Duration = Duration::from_secs(1);

/// Starts recording `track` into the target's directory.
pub fn start(track: Arc<PublishedTrack>, target: Arc<Target>) -> Recording {
    let (stop_tx, stop_rx) = oneshot::channel();
    // Inside the room's span (the hearing): whose track this recorder writes.
    let span = tracing::info_span!("recorder", participant = %track.publisher, track = %track.key);
    let task = tokio::spawn(tracing::Instrument::instrument(
        run(track, target, stop_rx),
        span,
    ));
    Recording {
        stop: Some(stop_tx),
        task: Some(task),
    }
}

/// Records until stopped, restarting the recorder when it fails.
async fn run(track: Arc<PublishedTrack>, target: Arc<Target>, mut stop: oneshot::Receiver<()>) {
    let (codec, pt) = (track.media.recorder(), track.media.payload_type());
    let kind = track.source.as_str();
    let mut failures = 0;
    let mut stopped = false;
    while !stopped {
        // Unique per run: a track recorded again (after a caucus, a stop and start, or a
        // failure) must never write over the segments of its earlier run.
        let prefix = format!("{}-{}-{}-{}", track.publisher, kind, track.key, now_ms());
        let run = Run {
            track: &track,
            target: &target,
            kind,
            prefix: &prefix,
        };
        let began = std::time::Instant::now();
        let detail = match run.until_stopped(codec, pt, &mut stop).await {
            Outcome::Stopped => return,
            // Failed while closing: recorded, but there is nothing left to restart.
            Outcome::FailedStopping(detail) => {
                stopped = true;
                detail
            }
            Outcome::Failed(detail) => detail,
        };
        // A run that went well for a while starts the count afresh: only failures in quick
        // succession give up.
        if began.elapsed() > HEALTHY_RUN {
            failures = 0;
        }
        failures += 1;
        // Whatever the failed run left open is entered now, cut short.
        if let Err(e) = super::recover::close_orphans(&target.log, Some(&prefix)).await {
            tracing::error!(error = %e, "FAULT: a failed recording's open segment was not entered");
        }
        let restarted = !stopped && failures <= MAX_RESTARTS;
        let fault = Fault {
            participant: track.publisher.clone(),
            track: track.source,
            detail,
            restarted,
        };
        // overflow: drop (the room is flooded with faults already; each is logged here)
        if target.faults.try_send(fault.clone()).is_err() {
            tracing::error!(detail = fault.detail, "FAULT: a track's recording failed");
        }
        if !restarted {
            return;
        }
        tokio::select! {
            _ = &mut stop => return,
            () = tokio::time::sleep(RESTART_DELAY) => {}
        }
    }
}

/// One run of a track's recorder.
struct Run<'a> {
    track: &'a Arc<PublishedTrack>,
    target: &'a Target,
    kind: &'a str,
    prefix: &'a str,
}

impl Run<'_> {
    /// Records until stopped or until the pipeline fails.
    async fn until_stopped(
        &self,
        codec: Codec,
        pt: u8,
        stop: &mut oneshot::Receiver<()>,
    ) -> Outcome {
        let dir = self.target.log.dir().to_owned();
        let (prefix, segment) = (self.prefix.to_owned(), self.target.segment);
        let (participant, track) = (self.track.publisher.clone(), self.kind.to_owned());
        let mime = self.track.media.mime().to_owned();
        let started = tokio::task::spawn_blocking(move || {
            let recorder = TrackRecorder::start(&dir, &prefix, codec, pt, segment)
                .map_err(|e| e.to_string())?;
            // The pipeline's running time 0 is (about) now on the hearing clock. The run's
            // description is on disk before any media is, for recovery.
            let base_ms = now_ms();
            let info = RunInfo {
                participant: participant.to_string(),
                track,
                mime,
                base_ms,
            };
            write_run(&dir, &prefix, &info).map_err(|e| e.to_string())?;
            Ok::<_, String>((recorder, base_ms))
        })
        .await;
        let (recorder, base) = match started {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => return Outcome::Failed(e),
            Err(_) => return Outcome::Stopped,
        };
        self.track.set_tap(Some(recorder.tap()), pt);
        // A recording starts at a key frame: ask for one rather than wait for the next.
        self.track.request_keyframe(u8::MAX).await;
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        let mut failed = None;
        while failed.is_none() {
            tokio::select! {
                _ = &mut *stop => break,
                _ = tick.tick() => {
                    if recorder.keyframe_due() {
                        self.track.request_keyframe(u8::MAX).await;
                    }
                    for ev in recorder.events() {
                        failed = failed.or(self.handle(ev, base).await);
                    }
                }
            }
        }
        self.track.set_tap(None, pt);
        if let Some(reason) = failed {
            // A failed pipeline cannot finish; it is torn down and its open file recovered.
            let _ = tokio::task::spawn_blocking(move || drop(recorder)).await;
            return Outcome::Failed(reason);
        }
        let events = tokio::task::spawn_blocking(move || recorder.finish(Duration::from_secs(10)))
            .await
            .unwrap_or_default();
        for ev in events {
            if let Some(reason) = self.handle(ev, base).await {
                return Outcome::FailedStopping(reason);
            }
        }
        Outcome::Stopped
    }

    /// Enters a closed segment; returns what failed when the pipeline did.
    async fn handle(&self, ev: PipelineEvent, base: i64) -> Option<String> {
        let ms = |d: Duration| base + i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2);
        match ev {
            PipelineEvent::SegmentClosed { path, span } => {
                let file = std::path::Path::new(&path)
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let span = (ms(span.0), ms(span.1));
                let log = &self.target.log;
                if let Err(e) = log
                    .append_file(file, self.track.publisher.as_str(), self.kind, span, false)
                    .await
                {
                    // The file stays on disk; the record says it is missing from the manifest.
                    let fault = Fault {
                        participant: self.track.publisher.clone(),
                        track: self.track.source,
                        detail: format!("a closed segment could not be entered: {e}"),
                        restarted: true,
                    };
                    // overflow: drop (logged here instead)
                    if self.target.faults.try_send(fault).is_err() {
                        tracing::error!(error = %e, "FAULT: a closed segment was not entered");
                    }
                }
                None
            }
            PipelineEvent::Failed { reason } => Some(reason),
            _ => None,
        }
    }
}
