//! What a room writes to the record beside its messages: audit entries (and presence
//! webhooks), the hearing's closing, recording faults, and the recording's seal.

use std::sync::Arc;
use std::time::Instant;

use super::{Presence, RoomTask};
use crate::auth::Actor;
use crate::auth::keyring::KeyStore;
use crate::clock::now_ms;
use crate::db::Db;
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
            crate::transcribe::store::store(&self.db, &self.hearing, event, now_ms()).await;
        if let Err(e) = stored {
            let detail = format!("a transcript line could not be stored: {e}");
            self.fault(Component::Transcription, &detail).await;
        }
    }

    /// Records a fault of this hearing (Art. 40).
    pub(super) async fn fault(&self, component: Component, detail: &str) {
        crate::fault::report(&self.db, Some(&self.hearing), component, detail).await;
    }

    /// Closes the hearing in the record as the judge ended it. A hearing the platform never
    /// opened (people joined it while scheduled) is opened first, so the record shows both.
    pub(super) async fn close_in_record(&self, actor: String) {
        use crate::domain::HearingState;
        let state: Option<String> = sqlx::query_scalar("SELECT state FROM hearings WHERE id = $1")
            .bind(&self.hearing)
            .fetch_optional(self.db.pool())
            .await
            .ok()
            .flatten();
        let mut steps = vec![(HearingState::Closed, "ended in the hearing")];
        if state.as_deref() == Some(HearingState::Scheduled.as_str()) {
            steps.insert(0, (HearingState::Open, "held before it was opened"));
        }
        for (to, reason) in steps {
            let result = crate::docket::apply_transition(
                &self.db,
                &self.outbox,
                &self.hearing,
                to,
                &Actor::Participant { id: actor.clone() },
                Some(reason.to_owned()),
            )
            .await;
            if let Err(e) = result {
                let detail = format!("the ended hearing could not be closed in the record: {e}");
                crate::fault::report(&self.db, Some(&self.hearing), Component::Recording, &detail)
                    .await;
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
        crate::fault::report(&self.db, Some(&self.hearing), Component::Recording, &detail).await;
        self.room.handle_input(
            Instant::now(),
            Input::RecordingFault {
                participant: fault.participant,
                track: fault.track,
                restarted: fault.restarted,
            },
        );
    }

    /// Writes an audit entry (and a presence webhook) for the room. A database failure is a
    /// fault for the record, logged loudly; the hearing itself carries on.
    pub(super) async fn record(
        &self,
        actor: Option<String>,
        action: &'static str,
        subject: &str,
        details: serde_json::Value,
        presence: Option<Presence>,
    ) {
        let now = now_ms();
        let actor = match actor {
            Some(id) => Actor::Participant { id },
            None => Actor::System,
        };
        let result = async {
            let mut w = self.db.begin_write().await?;
            crate::audit::append(
                &mut w.tx,
                now,
                &actor,
                action,
                &format!("participant:{subject}"),
                details,
            )
            .await?;
            let queued = match presence {
                Some(p) => {
                    let event = match p {
                        Presence::Joined => EventType::ParticipantJoined,
                        Presence::Left => EventType::ParticipantLeft,
                    };
                    let data =
                        serde_json::json!({"hearing_id": self.hearing, "participant_id": subject});
                    webhook::enqueue(&mut w.tx, now, event, data).await?
                }
                None => 0,
            };
            w.commit().await?;
            Ok::<usize, crate::db::DbError>(queued)
        }
        .await;
        match result {
            Ok(q) if q > 0 => self.outbox.notify_one(),
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, action, "FAULT: room audit entry not written"),
        }
    }
}
