//! The recording policy in the room. Recording is on from the start for the hearing kinds the
//! court records by default (`[recording] kinds`, trials), and roles with `control_recording`
//! start and stop it, each time with a reason for the audit log. Everyone in the room is told
//! when it is on. Only people in the hearing itself are recorded: never the waiting area, never
//! a mediation caucus.

use gavel_signaling::{Place, ServerMessage};

use super::{Output, Room, SessionId};
use crate::domain::Capability;

type Refusal = (gavel_signaling::ErrorCode, &'static str);

impl Room {
    /// Starts or stops the recording on `actor`'s say, with `reason`.
    pub(super) fn set_recording(
        &mut self,
        actor: &str,
        on: bool,
        reason: &str,
    ) -> Result<(), Refusal> {
        self.require(actor, Capability::ControlRecording)?;
        if self.recording == on {
            return Err((
                gavel_signaling::ErrorCode::Conflict,
                if on {
                    "the recording is already on"
                } else {
                    "the recording is already off"
                },
            ));
        }
        self.recording = on;
        self.audit(
            Some(actor.to_owned()),
            if on {
                "recording.start"
            } else {
                "recording.stop"
            },
            actor,
            serde_json::json!({"hearing_id": self.hearing, "reason": reason}),
            None,
        );
        let sessions: Vec<SessionId> = self.sessions.keys().copied().collect();
        for s in sessions {
            self.send(s, recording_notice(on));
        }
        self.emit_recorded();
        Ok(())
    }

    /// Tells a newly joined session that the hearing is being recorded.
    pub(super) fn tell_recording(&mut self, session: SessionId) {
        if self.recording {
            self.send(session, recording_notice(true));
        }
    }

    /// Whose media is recorded now: everyone in the hearing itself while recording is on.
    pub(super) fn emit_recorded(&mut self) {
        let mut ids: Vec<String> = if self.recording {
            self.members
                .values()
                .filter(|m| m.view.place == Place::Main)
                .map(|m| m.view.id.clone())
                .collect()
        } else {
            Vec::new()
        };
        ids.sort();
        self.out.push_back(Output::Recorded(ids));
    }
}

/// What participants are told when recording starts or stops.
fn recording_notice(on: bool) -> ServerMessage {
    ServerMessage::Notice {
        level: "info".into(),
        code: if on { "recording.on" } else { "recording.off" }.into(),
        text: if on {
            "This hearing is being recorded."
        } else {
            "The recording has stopped."
        }
        .into(),
    }
}
