//! Fault records (Art. 40): when a feature fails — a recording pipeline, the recording's
//! storage, a crash found at start-up — the hearing keeps running, the people responsible are
//! told, and the fault is recorded and kept: a row in `faults` and an entry in the audit log,
//! written together.

use crate::audit;
use crate::audit::AuditAction;
use crate::auth::Actor;
use crate::db::{Db, DbError};

/// Which feature failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Component {
    /// Per-track recording (a pipeline or its storage).
    Recording,
    /// Recovery of recordings left open by a crash.
    Recovery,
    /// The composite of a hearing.
    Composite,
    /// Live transcription (the model, a worker, storing the transcript).
    Transcription,
    /// The audit log's signed checkpoints.
    Audit,
    /// An e-courtroom device (its stream, its credentials).
    Device,
}

impl Component {
    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Recording => "recording",
            Self::Recovery => "recovery",
            Self::Composite => "composite",
            Self::Transcription => "transcription",
            Self::Audit => "audit",
            Self::Device => "device",
        }
    }
}

/// Records a fault of `component`, about `hearing` if it concerns one. `detail` is for
/// operators and the record: what failed and what was done, never participants' data.
pub async fn write(
    db: &Db,
    at_ms: i64,
    hearing: Option<&str>,
    component: Component,
    detail: &str,
) -> Result<(), DbError> {
    let mut w = db.begin_write().await?;
    let id = uuid::Uuid::new_v4().to_string();
    sqlx::query(
        "INSERT INTO faults (id, at, hearing_id, component, detail) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&id)
    .bind(at_ms)
    .bind(hearing)
    .bind(component.as_str())
    .bind(detail)
    .execute(&mut *w.tx)
    .await?;
    let subject = hearing.map_or_else(|| "server".to_owned(), |h| format!("hearing:{h}"));
    audit::append(
        &mut w.tx,
        at_ms,
        &Actor::System,
        AuditAction::FaultRecorded,
        &subject,
        serde_json::json!({"fault_id": id, "component": component.as_str(), "detail": detail}),
    )
    .await?;
    w.commit().await
}

/// Records a fault, logging loudly if even that fails (the database is the thing that broke).
pub async fn report(db: &Db, hearing: Option<&str>, component: Component, detail: &str) {
    tracing::error!(component = component.as_str(), detail, "FAULT");
    if let Err(e) = write(db, crate::clock::now_ms(), hearing, component, detail).await {
        tracing::error!(error = %e, "FAULT: a fault record could not be written");
    }
}
