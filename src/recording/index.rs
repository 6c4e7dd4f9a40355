//! The database's index of recordings: a row per segment as it enters the manifest, a row per
//! hearing with the chain head, its seal and the composite job. The manifest on disk stays
//! the evidence; the index serves the API. A failed index write is a fault, never a lost
//! segment (the file and its manifest line are already safe).

use std::sync::Arc;

use gavel_recordings::manifest::Entry;
use sqlx::Row;
use tokio::sync::Notify;

use crate::audit;
use crate::audit::AuditAction;
use crate::auth::Actor;
use crate::db::{Db, DbError};
use crate::webhook::{self, EventType};

/// Where a hearing's recording is indexed.
#[derive(Debug, Clone)]
pub struct Index {
    /// The server's database.
    pub db: Db,
    /// Wakes webhook delivery.
    pub outbox: Arc<Notify>,
}

/// One indexed segment, as the API lists it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct SegmentRow {
    /// File name in the hearing's recording directory.
    pub file: String,
    /// Whose track (a participant id, or `hearing` for the composite).
    pub participant_id: String,
    /// `microphone`, `camera`, `screen` or `composite`.
    pub track: String,
    /// Start on the hearing clock, Unix milliseconds.
    pub start_ms: i64,
    /// End on the hearing clock.
    pub end_ms: i64,
    /// SHA-256 of the file, hex.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: i64,
    /// Entered by recovery after a crash or a pipeline failure.
    pub cut_short: bool,
}

/// One manifest entry into the index (and the recording's head moved to it), inside `tx`.
async fn insert_segment(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    hearing: &str,
    (entry, seq): (&Entry, usize),
    bytes: u64,
    now: i64,
) -> Result<(), DbError> {
    let s = &entry.segment;
    sqlx::query(
        "INSERT INTO recording_segments (hearing_id, seq, file, participant_id, track, \
         start_ms, end_ms, sha256, bytes, cut_short, entry_hash, created_at) \
         VALUES ($1, $12, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING",
    )
    .bind(hearing)
    .bind(&s.file)
    .bind(&s.participant)
    .bind(&s.track)
    .bind(s.start_ms)
    .bind(s.end_ms)
    .bind(&s.sha256)
    .bind(i64::try_from(bytes).unwrap_or(i64::MAX))
    .bind(i64::from(s.cut_short))
    .bind(&entry.hash)
    .bind(now)
    .bind(i64::try_from(seq).unwrap_or(i64::MAX))
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO recordings (hearing_id, head, entries, composite_state, \
         composite_progress, updated_at) VALUES ($1, $2, $4, 'none', 0, $3) \
         ON CONFLICT (hearing_id) DO UPDATE SET head = $2, entries = $4, updated_at = $3 \
         WHERE recordings.entries < $4",
    )
    .bind(hearing)
    .bind(&entry.hash)
    .bind(now)
    .bind(i64::try_from(seq).unwrap_or(i64::MAX))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// What [`Index::reconcile`] had to put right.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Reconciled {
    /// Manifest entries that were missing from the index.
    pub entered: usize,
    /// The seal was on disk but not in the index.
    pub seal: bool,
}

impl Reconciled {
    /// Whether anything was missing.
    pub fn any(self) -> bool {
        self.entered > 0 || self.seal
    }
}

impl Index {
    /// Indexes a segment just appended to the manifest as its `seq`th entry (from 1). A
    /// failure (the database down) is made good from the manifest by [`Index::reconcile`], at
    /// the seal or the next start, and written as a fault then.
    pub async fn segment_added(
        &self,
        hearing: &str,
        (entry, seq): (&Entry, usize),
        bytes: u64,
        now: i64,
    ) {
        let result = async {
            let mut w = self.db.begin_write().await?;
            insert_segment(&mut w.tx, hearing, (entry, seq), bytes, now).await?;
            w.commit().await
        }
        .await;
        if let Err(e) = result {
            tracing::error!(
                error = %e,
                file = entry.segment.file,
                "a recorded segment was not indexed yet (it is in the manifest; indexed at the seal or the next start)"
            );
        }
    }

    /// Brings the index in line with the manifest in `dir` (the record): every entry it lacks
    /// is added, and a seal on disk that it does not know is indexed (with its audit entry and
    /// `recording.ready`). Safe to repeat.
    pub async fn reconcile(
        &self,
        hearing: &str,
        dir: &std::path::Path,
    ) -> Result<Reconciled, DbError> {
        let read = dir.to_owned();
        let entries = tokio::task::spawn_blocking(move || super::manifest_log::read_entries(&read))
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        let mut done = Reconciled::default();
        if entries.is_empty() {
            return Ok(done);
        }
        let indexed: Vec<i64> =
            sqlx::query_scalar("SELECT seq FROM recording_segments WHERE hearing_id = $1")
                .bind(hearing)
                .fetch_all(self.db.pool())
                .await?;
        let missing: Vec<(usize, &Entry)> = entries
            .iter()
            .enumerate()
            .map(|(i, e)| (i + 1, e))
            .filter(|(seq, _)| !indexed.contains(&i64::try_from(*seq).unwrap_or(i64::MAX)))
            .collect();
        if !missing.is_empty() {
            let now = crate::clock::now_ms();
            let mut w = self.db.begin_write().await?;
            for (seq, e) in &missing {
                let bytes = std::fs::metadata(dir.join(&e.segment.file)).map_or(0, |m| m.len());
                insert_segment(&mut w.tx, hearing, (e, *seq), bytes, now).await?;
            }
            w.commit().await?;
            done.entered = missing.len();
        }
        if dir.join(super::SEAL).exists() {
            let sealed: Option<Option<i64>> =
                sqlx::query_scalar("SELECT sealed_at FROM recordings WHERE hearing_id = $1")
                    .bind(hearing)
                    .fetch_optional(self.db.pool())
                    .await?;
            if !matches!(sealed, Some(Some(_))) {
                let last = entries.last().expect("not empty");
                self.sealed(hearing, &last.hash, entries.len(), crate::clock::now_ms())
                    .await?;
                done.seal = true;
            }
        }
        Ok(done)
    }

    /// [`Index::reconcile`], writing what it put right (or why it could not) as a fault.
    pub async fn reconcile_reporting(&self, hearing: &str, dir: &std::path::Path) {
        let detail = match self.reconcile(hearing, dir).await {
            Ok(r) if r.any() => format!(
                "the database index lacked {} segment(s){} of the recording (the database was \
                 unavailable when they were written); indexed again from the manifest",
                r.entered,
                if r.seal { " and its seal" } else { "" }
            ),
            Ok(_) => return,
            Err(e) => {
                format!("the recording's index could not be checked against its manifest: {e}")
            }
        };
        crate::fault::report(
            &self.db,
            Some(hearing),
            crate::fault::Component::Recording,
            &detail,
        )
        .await;
    }

    /// Records the seal: the recording is complete and verifiable. Audited, and announced by
    /// the `recording.ready` webhook.
    pub async fn sealed(
        &self,
        hearing: &str,
        head: &str,
        entries: usize,
        now: i64,
    ) -> Result<(), DbError> {
        let mut w = self.db.begin_write().await?;
        let entries = i64::try_from(entries).unwrap_or(i64::MAX);
        sqlx::query(
            "INSERT INTO recordings (hearing_id, head, entries, sealed_at, composite_state, \
             composite_progress, updated_at) VALUES ($1, $2, $4, $3, 'none', 0, $3) \
             ON CONFLICT (hearing_id) DO UPDATE SET head = $2, entries = $4, sealed_at = $3, \
             updated_at = $3",
        )
        .bind(hearing)
        .bind(head)
        .bind(now)
        .bind(entries)
        .execute(&mut *w.tx)
        .await?;
        let details = serde_json::json!({"hearing_id": hearing, "head": head, "segments": entries});
        audit::append(
            &mut w.tx,
            now,
            &Actor::System,
            AuditAction::RecordingSealed,
            &format!("hearing:{hearing}"),
            details.clone(),
        )
        .await?;
        let queued = webhook::enqueue(&mut w.tx, now, EventType::RecordingReady, details).await?;
        w.commit().await?;
        if queued > 0 {
            self.outbox.notify_one();
        }
        Ok(())
    }

    /// Whether the hearing is over in the record (its recording should be sealed).
    pub async fn hearing_closed(&self, hearing: &str) -> bool {
        let state: Option<String> = sqlx::query_scalar("SELECT state FROM hearings WHERE id = $1")
            .bind(hearing)
            .fetch_optional(self.db.pool())
            .await
            .ok()
            .flatten();
        state.as_deref() == Some(crate::domain::HearingState::Closed.as_str())
    }

    /// The segments of `hearing`'s recording, in manifest order.
    pub async fn segments(&self, hearing: &str) -> Result<Vec<SegmentRow>, DbError> {
        let rows = sqlx::query(
            "SELECT file, participant_id, track, start_ms, end_ms, sha256, bytes, cut_short \
             FROM recording_segments WHERE hearing_id = $1 ORDER BY seq",
        )
        .bind(hearing)
        .fetch_all(self.db.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(SegmentRow {
                    file: r.try_get("file")?,
                    participant_id: r.try_get("participant_id")?,
                    track: r.try_get("track")?,
                    start_ms: r.try_get("start_ms")?,
                    end_ms: r.try_get("end_ms")?,
                    sha256: r.try_get("sha256")?,
                    bytes: r.try_get("bytes")?,
                    cut_short: r.try_get::<i64, _>("cut_short")? != 0,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(DbError::from)
    }
}
