//! What a room writes to the record beside its messages: audit entries (and presence
//! webhooks), the hearing's closing, recording faults, and the recording's seal.

use std::sync::Arc;
use std::time::Instant;

use super::Presence;
use super::task::RoomTask;
use crate::audit::AuditAction;
use crate::auth::Actor;
use crate::auth::keyring::KeyStore;
use crate::clock::now_ms;
use crate::db::Db;
use crate::domain::ParticipantId;
use crate::engine::Input;
use crate::fault::Component;
use crate::recording::compose::Composer;
use crate::recording::manifest_log::ManifestLog;
use crate::recording::writer::Fault;
use crate::transcribe::live::CaptionEvent;
use crate::webhook::{self, EventType};

/// Seals a hearing's recording (the hearing is over) and starts its composite when the court
/// wants it at once; a seal that fails is a fault.
pub(super) async fn seal(
    log: &ManifestLog,
    keys: &KeyStore,
    composer: Option<&Arc<Composer>>,
    db: &Db,
) {
    crate::crashpoint::hit(crate::crashpoint::BEFORE_SEAL);
    match log.seal(&keys.ring()).await {
        Ok(()) => {
            if let Some(c) = composer {
                c.start(log.hearing().to_owned());
            }
        }
        Err(e) => {
            let detail = format!("the recording could not be sealed: {e}");
            crate::fault::report(db, Some(log.hearing()), Component::Recording, &detail).await;
        }
    }
}

impl RoomTask {
    /// A caption (or a gap) from the transcriber: stored, then shown to those who heard it.
    pub(super) async fn captioned(&mut self, event: CaptionEvent) {
        self.store_caption(&event).await;
        let input = match event {
            CaptionEvent::Caption {
                participant,
                start_ms,
                end_ms,
                text,
                spoken_at,
                ..
            } => Input::Caption {
                participant,
                text,
                start_ms,
                end_ms,
                spoken_at,
            },
            CaptionEvent::Gap {
                participant,
                start_ms,
                end_ms,
                ..
            } => Input::CaptionGap {
                participant,
                ms: end_ms - start_ms,
            },
        };
        self.room.handle_input(Instant::now(), input);
    }

    /// Stores a caption or gap; a failure is a fault (the line is lost from the transcript).
    pub(super) async fn store_caption(&self, event: &CaptionEvent) {
        let stored =
            crate::transcribe::store::store(&self.db, self.hearing.as_str(), event, now_ms()).await;
        if let Err(e) = stored {
            let detail = format!("a transcript line could not be stored: {e}");
            self.fault(Component::Transcription, &detail).await;
        }
    }

    /// Records a fault of this hearing (Art. 40).
    pub(super) async fn fault(&self, component: Component, detail: &str) {
        crate::fault::report(&self.db, Some(self.hearing.as_str()), component, detail).await;
    }

    /// Closes the hearing in the record as the judge ended it. A hearing the platform never
    /// opened (people joined it while scheduled) is opened first, so the record shows both.
    pub(super) async fn close_in_record(&self, actor: ParticipantId) {
        use crate::domain::HearingState;
        let state: Option<String> = sqlx::query_scalar("SELECT state FROM hearings WHERE id = $1")
            .bind(self.hearing.as_str())
            .fetch_optional(self.db.pool())
            .await
            .ok()
            .flatten();
        let mut steps = vec![(HearingState::Closed, "ended in the hearing")];
        if state.as_deref() == Some(HearingState::Scheduled.as_str()) {
            steps.insert(0, (HearingState::Open, "held before it was opened"));
        }
        for (to, reason) in steps {
            let result = crate::hearing::transition::apply(
                &self.db,
                &self.outbox,
                self.hearing.as_str(),
                to,
                &Actor::Participant { id: actor.clone() },
                Some(reason.to_owned()),
            )
            .await;
            if let Err(e) = result {
                let detail = format!("the ended hearing could not be closed in the record: {e}");
                self.fault(Component::Recording, &detail).await;
                return;
            }
        }
    }

    /// A track's recording failed: the fault is recorded and those responsible for the
    /// record are told; the hearing carries on.
    pub(super) async fn recording_failed(&mut self, fault: Fault) {
        let detail = format!(
            "the recording of {}'s {} failed ({}); {}",
            fault.participant,
            fault.track,
            fault.detail,
            if fault.restarted {
                "restarted"
            } else {
                "given up after repeated failures"
            }
        );
        self.fault(Component::Recording, &detail).await;
        self.room.handle_input(
            Instant::now(),
            Input::RecordingFault {
                participant: fault.participant,
                track: fault.track,
                restarted: fault.restarted,
            },
        );
    }

    /// Writes an audit entry (and a presence webhook) for the room, after any the database
    /// could not take before. While the database is unavailable entries are held, in order,
    /// with their own times (up to [`MAX_HELD`]; beyond, the count of those lost is audited
    /// once the database is back); the hearing itself carries on.
    pub(super) async fn audit(
        &mut self,
        actor: Option<ParticipantId>,
        action: AuditAction,
        subject: &str,
        details: serde_json::Value,
        presence: Option<Presence>,
    ) {
        let actor = match actor {
            Some(id) => Actor::Participant { id },
            None => Actor::System,
        };
        self.held.push(HeldEntry {
            at: now_ms(),
            actor,
            action,
            subject: format!("participant:{subject}"),
            details,
            presence,
        });
        self.flush_held().await;
    }

    /// Writes the held audit entries in order, stopping at the first the database refuses.
    pub(super) async fn flush_held(&mut self) {
        if self.held.lost > 0 {
            let lost = self.held.lost;
            let gap = HeldEntry {
                at: now_ms(),
                actor: Actor::System,
                action: AuditAction::AuditGap,
                subject: format!("hearing:{}", self.hearing),
                details: serde_json::json!({"hearing_id": self.hearing, "entries_lost": lost}),
                presence: None,
            };
            match self.write_entry(&gap).await {
                Err(e) if e.is_unavailable() => return,
                Err(e) => tracing::error!(error = %e, lost, "FAULT: the audit gap was refused"),
                Ok(()) => {}
            }
            self.held.lost = 0;
        }
        while let Some(entry) = self.held.entries.front() {
            match self.write_entry(entry).await {
                Ok(()) => {
                    self.held.entries.pop_front();
                }
                Err(e) if e.is_unavailable() => {
                    tracing::error!(error = %e, held = self.held.entries.len(), "room audit entries held until the database is back");
                    return;
                }
                Err(e) => {
                    // Refused for itself, not for an outage: it would block every later entry.
                    tracing::error!(error = %e, action = %entry.action, "FAULT: a room audit entry was refused");
                    self.held.entries.pop_front();
                }
            }
        }
    }

    async fn write_entry(&self, entry: &HeldEntry) -> Result<(), crate::db::DbError> {
        let (now, actor, action, subject) = (entry.at, &entry.actor, entry.action, &entry.subject);
        let details = entry.details.clone();
        let presence = entry.presence;
        let result = async {
            let mut w = self.db.begin_write().await?;
            crate::audit::append(&mut w.tx, now, actor, action, subject, details).await?;
            let queued = match presence {
                Some(p) => {
                    let event = match p {
                        Presence::Joined => EventType::ParticipantJoined,
                        Presence::Left => EventType::ParticipantLeft,
                    };
                    let participant = subject.strip_prefix("participant:").unwrap_or(subject);
                    let data = serde_json::json!({"hearing_id": self.hearing, "participant_id": participant});
                    webhook::enqueue(&mut w.tx, now, event, data).await?
                }
                None => 0,
            };
            w.commit().await?;
            Ok::<usize, crate::db::DbError>(queued)
        }
        .await;
        match result {
            Ok(q) => {
                if q > 0 {
                    self.outbox.notify_one();
                }
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}

/// Most audit entries a room holds while the database is unavailable (hours of a busy
/// hearing's joins, mutes and moves); beyond, the oldest are dropped and counted.
pub(super) const MAX_HELD: usize = 10_000;

/// One audit entry not yet written.
#[derive(Debug)]
pub(super) struct HeldEntry {
    at: i64,
    actor: Actor,
    action: AuditAction,
    subject: String,
    details: serde_json::Value,
    presence: Option<Presence>,
}

/// The room's audit entries waiting for the database, and how many were dropped.
#[derive(Debug, Default)]
pub(super) struct HeldAudit {
    entries: std::collections::VecDeque<HeldEntry>,
    lost: u64,
}

impl HeldAudit {
    fn push(&mut self, entry: HeldEntry) {
        if self.entries.len() >= MAX_HELD {
            self.entries.pop_front();
            self.lost += 1;
        }
        self.entries.push_back(entry);
    }

    /// How many are waiting (and were lost).
    pub(super) fn len(&self) -> u64 {
        self.entries.len() as u64 + self.lost
    }

    /// Whether nothing is waiting.
    pub(super) fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
