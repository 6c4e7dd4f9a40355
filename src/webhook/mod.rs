//! Events for the court platform, delivered to its webhooks through an outbox.
//!
//! An event is queued in the same transaction as the change it reports (one outbox row per
//! subscribed webhook), so a committed change always has its events and a restart loses none.
//! The [`delivery`] worker POSTs each row, signed with the webhook's secret ([`signature`]),
//! retrying with exponential backoff. Delivery is at least once: receivers deduplicate on the
//! `Gavel-Delivery` header.

pub mod delivery;
pub mod signature;
pub mod target;

use serde::{Deserialize, Serialize};
use sqlx::{Any, Row, Transaction};

use crate::clock::rfc3339;
use crate::db::DbError;

/// The kinds of event a webhook can subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum EventType {
    /// A hearing moved to a new state.
    #[serde(rename = "hearing.state_changed")]
    HearingStateChanged,
    /// A participant connected to a hearing.
    #[serde(rename = "participant.joined")]
    ParticipantJoined,
    /// A participant left a hearing.
    #[serde(rename = "participant.left")]
    ParticipantLeft,
    /// A hearing's recording is complete and verifiable.
    #[serde(rename = "recording.ready")]
    RecordingReady,
    /// Every required signer has signed a transcript.
    #[serde(rename = "transcript.signed")]
    TranscriptSigned,
    /// Every side has decided on a mediation agreement (`all_signed` says whether it was
    /// signed by all of them or refused by one).
    #[serde(rename = "mediation.agreement_signed")]
    AgreementSigned,
    /// The server signed a checkpoint of the audit log's head: the platform keeps it, so a
    /// log cut short or rewritten in the database is found (`gavel audit verify`).
    #[serde(rename = "audit.checkpoint")]
    AuditCheckpoint,
}

impl EventType {
    /// Every event type.
    pub const ALL: [EventType; 7] = [
        Self::HearingStateChanged,
        Self::ParticipantJoined,
        Self::ParticipantLeft,
        Self::RecordingReady,
        Self::TranscriptSigned,
        Self::AgreementSigned,
        Self::AuditCheckpoint,
    ];

    /// The wire name, e.g. `hearing.state_changed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HearingStateChanged => "hearing.state_changed",
            Self::ParticipantJoined => "participant.joined",
            Self::ParticipantLeft => "participant.left",
            Self::RecordingReady => "recording.ready",
            Self::TranscriptSigned => "transcript.signed",
            Self::AgreementSigned => "mediation.agreement_signed",
            Self::AuditCheckpoint => "audit.checkpoint",
        }
    }
}

/// Queues `event` with `data` for every active webhook subscribed to it, inside `tx`.
pub async fn enqueue(
    tx: &mut Transaction<'static, Any>,
    now_ms: i64,
    event: EventType,
    data: serde_json::Value,
) -> Result<usize, DbError> {
    let hooks = sqlx::query("SELECT id, events FROM webhooks WHERE disabled_at IS NULL")
        .fetch_all(&mut **tx)
        .await?;
    let event_id = uuid::Uuid::new_v4().to_string();
    let body = serde_json::json!({
        "id": event_id,
        "type": event.as_str(),
        "created_at": rfc3339(now_ms),
        "data": data,
    })
    .to_string();
    let mut queued = 0;
    for h in hooks {
        let events: String = h.try_get("events")?;
        if !events.split(',').any(|e| e == event.as_str()) {
            continue;
        }
        let webhook_id: String = h.try_get("id")?;
        sqlx::query(
            "INSERT INTO webhook_outbox (id, webhook_id, event_id, event_type, payload, \
             created_at, attempts, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, 0, $7)",
        )
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(webhook_id)
        .bind(&event_id)
        .bind(event.as_str())
        .bind(&body)
        .bind(now_ms)
        .bind(now_ms)
        .execute(&mut **tx)
        .await?;
        queued += 1;
    }
    Ok(queued)
}
