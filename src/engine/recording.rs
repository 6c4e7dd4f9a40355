//! The recording policy in the room. Recording is on from the start for the hearing kinds the
//! court records by default (`[recording] kinds`, trials), and roles with `control_recording`
//! start and stop it, each time with a reason for the audit log. Everyone in the room is told
//! when it is on. Only people in the hearing itself are recorded: never the waiting area, never
//! a mediation caucus.

use gavel_signaling::{Place, ServerMessage, Source};

use super::{Output, Room, SessionId};
use crate::domain::audit::AuditAction;
use crate::domain::role::capabilities;
use crate::domain::{Capability, ParticipantId};

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
            Some(actor.into()),
            if on {
                AuditAction::RecordingStart
            } else {
                AuditAction::RecordingStop
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

    /// Tells everyone who controls the recording (judge, clerk, mediator) that a track's
    /// recording failed, whether it was restarted, and that the fault is recorded.
    pub(super) fn recording_fault(&mut self, participant: &str, track: Source, restarted: bool) {
        let name = self
            .members
            .get(participant)
            .map_or("a participant", |m| m.view.name.as_str());
        let text = format!(
            "Recording of {name}'s {track} failed{}. The fault has been recorded.",
            if restarted {
                " and was restarted; a moment may be missing"
            } else {
                " repeatedly and has stopped"
            }
        );
        let notice = ServerMessage::Notice {
            level: "warning".into(),
            code: "recording.fault".into(),
            text,
            participant: Some(participant.to_owned()),
        };
        let told: Vec<SessionId> = self
            .members
            .values()
            .filter(|m| capabilities(m.role).allows(Capability::ControlRecording))
            .filter_map(|m| m.session)
            .collect();
        for s in told {
            self.send(s, notice.clone());
        }
    }

    /// Tells a newly joined session that the hearing is being recorded.
    pub(super) fn tell_recording(&mut self, session: SessionId) {
        if self.recording {
            self.send(session, recording_notice(true));
        }
    }

    /// Whose media is recorded now: everyone in the hearing itself while recording is on.
    pub(super) fn emit_recorded(&mut self) {
        let mut ids: Vec<ParticipantId> = if self.recording {
            self.members
                .values()
                .filter(|m| m.view.place == Place::Main)
                .map(|m| m.view.id.as_str().into())
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
        participant: None,
    }
}

#[cfg(test)]
mod tests {
    use gavel_signaling::{ClientMessage, ErrorCode, ServerMessage, Source};

    use crate::domain::audit::AuditAction;
    use crate::domain::{ParticipantId, Role};
    use crate::engine::Output;
    use crate::engine::tests::{Sim, error_code, sent_to};

    fn recorded(out: &[Output]) -> Vec<ParticipantId> {
        out.iter()
            .rev()
            .find_map(|o| match o {
                Output::Recorded(ids) => Some(ids.clone()),
                _ => None,
            })
            .expect("a recorded list was emitted")
    }

    fn told_recording(out: &[Output], s: u64, on: bool) -> bool {
        let code = if on { "recording.on" } else { "recording.off" };
        sent_to(out, s)
            .iter()
            .any(|m| matches!(m, ServerMessage::Notice { code: c, .. } if c == code))
    }

    #[test]
    fn a_trial_is_recorded_from_the_start_but_never_the_lobby_or_a_caucus() {
        let mut sim = Sim::with(true, true);
        let out = sim.join(1, "judge", Role::Judge);
        assert!(told_recording(&out, 1, true), "told on joining");
        assert_eq!(recorded(&out), ["judge"]);
        let out = sim.join(2, "party", Role::Party);
        assert!(told_recording(&out, 2, true), "the lobby is told too");
        assert_eq!(recorded(&out), ["judge"], "but not recorded while waiting");
        let out = sim.msg(
            1,
            ClientMessage::Admit {
                req: None,
                participant: "party".into(),
            },
        );
        assert_eq!(recorded(&out), ["judge", "party"]);

        let mut sim = Sim::with(false, true);
        sim.join(1, "mediator", Role::Mediator);
        sim.join(2, "a", Role::Party);
        sim.join(3, "b", Role::Party);
        let out = sim.msg(
            1,
            ClientMessage::CaucusStart {
                req: None,
                participants: vec!["a".into()],
            },
        );
        assert_eq!(recorded(&out), ["b"], "a caucus is never recorded");
    }

    #[test]
    fn a_failed_recording_is_told_to_those_who_control_it_only() {
        let mut sim = Sim::with(false, true);
        sim.join(1, "judge", Role::Judge);
        sim.join(2, "clerk", Role::Clerk);
        sim.join(3, "party", Role::Party);
        let out = sim.input(crate::engine::Input::RecordingFault {
            participant: "party".into(),
            track: Source::Camera,
            restarted: true,
        });
        let fault = |s| {
            sent_to(&out, s).iter().any(|m| {
                matches!(m, ServerMessage::Notice { code, level, text, .. }
                    if code == "recording.fault" && level == "warning" && text.contains("restarted"))
            })
        };
        assert!(fault(1) && fault(2), "the judge and the clerk are told");
        assert!(!fault(3), "the party is not");
    }

    #[test]
    fn recording_is_stopped_and_started_with_a_reason_by_those_allowed() {
        let mut sim = Sim::with(false, true);
        sim.join(1, "judge", Role::Judge);
        sim.join(2, "party", Role::Party);
        let stop = |req| ClientMessage::SetRecording {
            req: Some(req),
            on: false,
            reason: "settlement talk".into(),
        };
        assert_eq!(
            error_code(&sim.msg(2, stop(1)), 2),
            Some(ErrorCode::Forbidden)
        );
        let out = sim.msg(1, stop(2));
        assert!(told_recording(&out, 2, false), "everyone is told");
        assert!(recorded(&out).is_empty());
        assert!(out.iter().any(|o| matches!(
            o,
            Output::Audit { action: AuditAction::RecordingStop, details, .. } if details["reason"] == "settlement talk"
        )));
        assert_eq!(
            error_code(&sim.msg(1, stop(3)), 1),
            Some(ErrorCode::Conflict)
        );
        let out = sim.msg(
            1,
            ClientMessage::SetRecording {
                req: Some(4),
                on: true,
                reason: "back on the record".into(),
            },
        );
        assert_eq!(recorded(&out), ["judge", "party"]);
        let out = sim.join(3, "clerk", Role::Clerk);
        assert!(told_recording(&out, 3, true));
    }
}
