//! Recording a hearing while it runs: one task per recorded track drives its GStreamer
//! recorder (`gavel_media_pipelines::recorder`), and every segment it closes is hashed and
//! appended to the hearing's manifest (`manifest.jsonl`, fsynced line by line), so the record
//! on disk is verifiable at any moment (`gavel verify recording`).
//!
//! The SFU's forwarding only pushes into the recorder's bounded, non-blocking queue (the
//! track's tap); starting, finishing and hashing happen on blocking threads, never in the room
//! or the forwarding path.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use gavel_media_pipelines::PipelineEvent;
use gavel_media_pipelines::recorder::{Codec, TrackRecorder};
use gavel_recordings::manifest::{self, Entry, Segment};
use tokio::sync::{Mutex, oneshot};

use crate::clock::now_ms;
use crate::sfu::track::PublishedTrack;

/// Segment length: a crash loses at most the open segment's unflushed tail.
const SEGMENT: Duration = Duration::from_secs(10);

/// The manifest of one hearing's recording directory.
#[derive(Debug)]
pub struct ManifestLog {
    dir: PathBuf,
    /// The last entry and how many there are.
    last: Mutex<(Option<Entry>, usize)>,
}

impl ManifestLog {
    /// The log for `dir` (created when the first segment closes).
    pub fn new(dir: PathBuf) -> Arc<Self> {
        Arc::new(Self {
            dir,
            last: Mutex::new((None, 0)),
        })
    }

    /// Seals the manifest as it stands (the hearing closed): its head and entry count, signed
    /// by `key`, written next to it. Nothing to seal when nothing was recorded.
    pub async fn seal(&self, hearing: &str, key: &crate::auth::keyring::SigningKey) {
        let last = self.last.lock().await;
        let (Some(entry), entries) = (&last.0, last.1) else {
            return;
        };
        let seal = gavel_recordings::seal::Seal {
            hearing: hearing.to_owned(),
            head: entry.hash.clone(),
            entries,
            kid: key.kid.clone(),
            signature: hex::encode(key.sign(&gavel_recordings::seal::message(
                hearing,
                &entry.hash,
                entries,
            ))),
        };
        let Ok(text) = serde_json::to_string_pretty(&seal) else {
            return;
        };
        let (tmp, path) = (self.dir.join(".seal.tmp"), self.dir.join(super::SEAL));
        let written = tokio::task::spawn_blocking(move || {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)
        })
        .await;
        if !matches!(written, Ok(Ok(()))) {
            tracing::error!("FAULT: the recording could not be sealed");
        }
    }

    /// Hashes the closed segment at `path` and appends its entry, spanning `start_ms` to
    /// `end_ms` on the hearing clock.
    async fn append(
        &self,
        path: String,
        participant: &str,
        track: &str,
        (start_ms, end_ms): (i64, i64),
    ) {
        let file = std::path::Path::new(&path)
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let full = self.dir.join(&file);
        let sha = tokio::task::spawn_blocking(move || super::sha256_file(&full).map(hex::encode))
            .await
            .ok()
            .flatten();
        let Some(sha256) = sha else {
            tracing::error!(file, "FAULT: a closed recording segment could not be read");
            return;
        };
        let segment = Segment {
            file,
            participant: participant.to_owned(),
            track: track.to_owned(),
            start_ms,
            end_ms,
            sha256,
            cut_short: false,
        };
        let mut last = self.last.lock().await;
        let entry = manifest::append(last.0.as_ref(), segment);
        let line = match serde_json::to_string(&entry) {
            Ok(l) => l,
            Err(_) => return,
        };
        let path = self.dir.join(super::MANIFEST);
        let written = tokio::task::spawn_blocking(move || {
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?;
            f.write_all(format!("{line}\n").as_bytes())?;
            f.sync_data()
        })
        .await;
        match written {
            Ok(Ok(())) => *last = (Some(entry), last.1 + 1),
            _ => tracing::error!("FAULT: the recording manifest could not be written"),
        }
    }
}

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

/// Starts recording `track` into the log's directory.
pub fn record(track: Arc<PublishedTrack>, log: Arc<ManifestLog>) -> Recording {
    let (stop_tx, stop_rx) = oneshot::channel();
    let task = tokio::spawn(run(track, log, stop_rx));
    Recording {
        stop: Some(stop_tx),
        task: Some(task),
    }
}

async fn run(track: Arc<PublishedTrack>, log: Arc<ManifestLog>, mut stop: oneshot::Receiver<()>) {
    let Some(codec) = Codec::from_mime(&track.codec.mime_type) else {
        return;
    };
    let Some(pt) = crate::sfu::payload_type(&track.codec.mime_type) else {
        return;
    };
    let kind = format!("{:?}", track.source).to_lowercase();
    // Unique per run: a track recorded again (after a caucus, or a stop and start) must never
    // write over the segments of its earlier run.
    let prefix = format!("{}-{}-{}-{}", track.publisher, kind, track.key, now_ms());
    let dir = log.dir.clone();
    let started = tokio::task::spawn_blocking(move || {
        TrackRecorder::start(&dir, &prefix, codec, pt, SEGMENT)
    })
    .await;
    let recorder = match started {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "FAULT: a track's recording could not start");
            return;
        }
        Err(_) => return,
    };
    // The pipeline's running time 0 is (about) now on the hearing clock.
    let base = now_ms();
    track.set_tap(Some(recorder.tap()), pt);
    // A recording starts at a key frame: ask for one rather than wait for the next.
    track.request_keyframe(u8::MAX).await;
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = tick.tick() => {
                for ev in recorder.events() {
                    handle(&log, &track, &kind, ev, base).await;
                }
            }
        }
    }
    track.set_tap(None, pt);
    let events = tokio::task::spawn_blocking(move || recorder.finish(Duration::from_secs(10)))
        .await
        .unwrap_or_default();
    for ev in events {
        handle(&log, &track, &kind, ev, base).await;
    }
}

async fn handle(
    log: &ManifestLog,
    track: &PublishedTrack,
    kind: &str,
    ev: PipelineEvent,
    base: i64,
) {
    let ms = |d: Duration| base + i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2);
    match ev {
        PipelineEvent::SegmentClosed { path, span } => {
            log.append(path, &track.publisher, kind, (ms(span.0), ms(span.1)))
                .await;
        }
        PipelineEvent::Failed { reason } => {
            tracing::error!(reason, "FAULT: a track's recording failed");
        }
        _ => {}
    }
}
