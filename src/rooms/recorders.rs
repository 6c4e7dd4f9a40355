//! The room's recorders: one per published track of everyone on the record, brought to what
//! should run ([`super::running`]) whenever tracks or the record change; at the hearing's end,
//! every one closes its last segment into the manifest before the seal.

use std::sync::Arc;

use tokio::task::JoinHandle;

use super::running::Running;
use crate::recording::manifest_log::ManifestLog;
use crate::recording::writer::{self, Recording, Target};
use crate::sfu::track::PublishedTrack;

/// The recordings of one room.
#[derive(Debug, Default)]
pub(super) struct Recorders {
    /// Where the hearing is recorded (none: this room records nothing).
    target: Option<Arc<Target>>,
    /// The running recordings, by track (dropping one stops it).
    running: Running<PublishedTrack, Recording>,
    /// Recordings told to stop, still closing their last segment.
    finishing: Vec<JoinHandle<()>>,
}

impl Recorders {
    /// Recorders that write into `target`.
    pub(super) fn into(target: Target) -> Self {
        Self {
            target: Some(Arc::new(target)),
            ..Self::default()
        }
    }

    /// Records exactly the `wanted` tracks: new ones start, the others stop (their open
    /// segment is closed into the manifest).
    pub(super) fn sync(&mut self, wanted: &[Arc<PublishedTrack>]) {
        let Some(target) = &self.target else {
            return;
        };
        let stopped = self
            .running
            .sync(wanted, |t| Some(writer::start(t.clone(), target.clone())));
        self.finishing.retain(|h| !h.is_finished());
        self.finishing
            .extend(stopped.into_iter().filter_map(|r| r.stop()));
    }

    /// Stops every recording and waits (at most 20 s) until each has closed its last segment
    /// into the manifest; returns the manifest log, to seal. A recorder still busy then is
    /// stopped hard and its open segment entered as cut short, so nothing appends after the
    /// seal.
    pub(super) async fn close(&mut self) -> Option<Arc<ManifestLog>> {
        let mut stopping: Vec<_> = self
            .running
            .take()
            .into_iter()
            .filter_map(Recording::stop)
            .chain(std::mem::take(&mut self.finishing))
            .collect();
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
        let mut late = false;
        for h in &mut stopping {
            if tokio::time::timeout_at(deadline, &mut *h).await.is_err() {
                h.abort();
                late = true;
            }
        }
        let target = self.target.as_ref()?;
        if late {
            for h in stopping {
                let _ = h.await;
            }
            tracing::error!("FAULT: a recording did not close its last segment in time");
            if let Err(e) = crate::recording::recover::close_orphans(&target.log, None).await {
                tracing::error!(error = %e, "FAULT: a late recording's segment was not entered");
            }
        }
        Some(target.log.clone())
    }
}
