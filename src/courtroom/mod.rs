//! E-courtroom devices in live hearings (Art. 33, mixed hearings): while a hearing is open, in
//! session or in recess, each camera or codec the platform registered for it is pulled over
//! RTSP and sits in the hearing's room as a participant of its own (role `courtroom`), publishing
//! the courtroom's picture and sound; it never receives anything.
//!
//! [`Courtroom`] keeps one task per such device (`device`), and brings them to what should run
//! whenever the record changes: a device registered or removed, a hearing opened or closed, the
//! server started. A device whose stream fails is pulled again with backoff; the judge and clerk
//! are told when it drops and when it is back, and the hearing goes on (Art. 40).

mod device;
mod pump;

use std::collections::HashMap;
use std::sync::Arc;

use sqlx::Row;
use tokio_util::sync::CancellationToken;

use crate::db::Db;
use crate::domain::HearingState;
use crate::rooms::Rooms;
use device::{Device, DeviceTask};
pub use device::{rtsp_source, status_of};

/// A device's running task.
struct Running {
    hearing: String,
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

/// The courtroom devices pulled into live hearings.
pub struct Courtroom {
    db: Db,
    rooms: Arc<Rooms>,
    /// By device id. Changed only under this lock, by `sync`, so two syncs never race.
    running: tokio::sync::Mutex<HashMap<String, Running>>,
    /// Fires when the server shuts down: every device stops, and keeps its place on record
    /// (it was not removed).
    shutdown: CancellationToken,
}

impl std::fmt::Debug for Courtroom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Courtroom").finish_non_exhaustive()
    }
}

/// A hearing in these states has its devices in the room.
fn live(state: HearingState) -> bool {
    matches!(
        state,
        HearingState::Open | HearingState::InSession | HearingState::Recess
    )
}

impl Courtroom {
    /// No device pulled yet.
    pub fn new(db: Db, rooms: Arc<Rooms>) -> Self {
        Self {
            db,
            rooms,
            running: tokio::sync::Mutex::new(HashMap::new()),
            shutdown: CancellationToken::new(),
        }
    }

    /// Brings the devices of every live hearing in (at start: the server may have stopped in
    /// the middle of a hearing).
    pub async fn sync_all(&self) {
        let hearings = sqlx::query(
            "SELECT DISTINCT d.hearing_id FROM devices d JOIN hearings h ON h.id = d.hearing_id \
             WHERE d.removed_at IS NULL AND d.kind = 'rtsp' \
             AND h.state IN ('open', 'in_session', 'recess')",
        )
        .fetch_all(self.db.pool())
        .await;
        match hearings {
            Ok(rows) => {
                for r in rows {
                    if let Ok(h) = r.try_get::<String, _>("hearing_id") {
                        self.sync(&h).await;
                    }
                }
            }
            Err(e) => tracing::error!(error = %e, "FAULT: courtroom devices not loaded"),
        }
    }

    /// Brings the devices of `hearing` to what the record says: every registered device while
    /// the hearing is live, none otherwise. A device running already is left alone.
    pub async fn sync(&self, hearing: &str) {
        let mut running = self.running.lock().await;
        let wanted = match self.wanted(hearing).await {
            Ok(w) => w,
            Err(e) => {
                // Left as they are; the next change of the record tries again.
                tracing::error!(error = %e, hearing, "FAULT: courtroom devices not loaded");
                return;
            }
        };
        // Stopped: those no longer wanted, and those whose task ended (their room retired).
        let stop: Vec<String> = running
            .iter()
            .filter(|(id, r)| {
                r.hearing == hearing
                    && (!wanted.iter().any(|d| &d.id == *id) || r.task.is_finished())
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in stop {
            if let Some(r) = running.remove(&id) {
                r.cancel.cancel();
            }
        }
        for d in wanted {
            if running.contains_key(&d.id) {
                continue;
            }
            let cancel = self.shutdown.child_token();
            let task = DeviceTask {
                shutdown: self.shutdown.clone(),
                db: self.db.clone(),
                rooms: self.rooms.clone(),
                cancel: cancel.clone(),
                device: d.clone(),
            };
            let span = tracing::info_span!("device", hearing = %hearing, device = %d.id);
            let task = tokio::spawn(tracing::Instrument::instrument(task.run(), span));
            running.insert(
                d.id,
                Running {
                    hearing: hearing.to_owned(),
                    cancel,
                    task,
                },
            );
        }
    }

    /// The devices that should be in `hearing`'s room now.
    async fn wanted(&self, hearing: &str) -> Result<Vec<Device>, sqlx::Error> {
        let Some(h) = crate::hearing::load(self.db.pool(), hearing)
            .await
            .map_err(|e| sqlx::Error::Protocol(e.to_string()))?
        else {
            return Ok(Vec::new());
        };
        if !live(h.state) {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(
            "SELECT id, name, url, username, password, transport, tls_pin, tls_ca FROM devices \
             WHERE hearing_id = $1 AND removed_at IS NULL AND kind = 'rtsp' \
             ORDER BY created_at, id",
        )
        .bind(hearing)
        .fetch_all(self.db.pool())
        .await?;
        rows.iter()
            .map(|r| Device::from_row(r, hearing, h.kind))
            .collect()
    }

    /// Stops pulling every device (the server is shutting down) and waits for their tasks.
    pub async fn stop_all(&self) {
        self.shutdown.cancel();
        let all: Vec<Running> = self.running.lock().await.drain().map(|(_, r)| r).collect();
        for r in all {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), r.task).await;
        }
    }

    /// How many devices are being pulled (for tests and operators).
    pub async fn pulled(&self) -> usize {
        let running = self.running.lock().await;
        running.values().filter(|r| !r.task.is_finished()).count()
    }
}
