//! Moderator commands: admit, call and dismiss witnesses, mute, remove. Each is checked against
//! the role table; a refusal is an `error` answer to the sender and changes nothing.

use gavel_signaling::{
    ClientMessage, EndReason, ErrorCode, MediaKind, MoveReason, Place, ServerMessage,
};

use super::roster::may_be_sequestered;
use super::{Room, SessionId};
use crate::domain::audit::AuditAction;
use crate::domain::role::capabilities;
use crate::domain::{Capability, ParticipantId};

/// A refused command: the code and the text the sender sees.
type Refusal = (ErrorCode, &'static str);

impl Room {
    pub(super) fn command(&mut self, session: SessionId, actor: &str, msg: ClientMessage) {
        let (req, result) = match msg {
            ClientMessage::Admit { req, participant } => (req, self.admit(actor, &participant)),
            ClientMessage::CallWitness { req, participant } => {
                (req, self.move_witness(actor, &participant, Place::Main))
            }
            ClientMessage::DismissWitness { req, participant } => {
                (req, self.move_witness(actor, &participant, Place::Waiting))
            }
            ClientMessage::Mute {
                req,
                participant,
                kind,
                muted,
            } => (
                req,
                self.mute(actor, &participant, kind, muted.unwrap_or(true)),
            ),
            ClientMessage::Remove { req, participant } => (req, self.remove(actor, &participant)),
            ClientMessage::CaucusStart { req, participants } => {
                (req, self.caucus_start(actor, &participants))
            }
            ClientMessage::CaucusEnd { req } => (req, self.caucus_end(actor)),
            ClientMessage::SetRecording { req, on, reason } => {
                (req, self.set_recording(actor, on, &reason))
            }
            ClientMessage::SetHearingState { req, state } => {
                match self.require(actor, Capability::ControlHearing) {
                    // Answered once the record has it (or refused it).
                    Ok(()) => self.out.push_back(super::Output::HearingTransition {
                        session,
                        req,
                        actor: actor.into(),
                        to: state,
                    }),
                    Err((code, text)) => self.send(session, ServerMessage::error(req, code, text)),
                }
                return;
            }
            ClientMessage::EndHearing { req } => {
                let result = self.end_hearing(actor);
                if result.is_ok() {
                    // Every session, the sender's included, has been ended; nobody to answer.
                    return;
                }
                (req, result)
            }
            // Non-commands are handled by the caller.
            _ => return,
        };
        match result {
            Ok(()) => {
                if let Some(req) = req {
                    self.send(session, ServerMessage::Ok { req });
                }
            }
            Err((code, text)) => self.send(session, ServerMessage::error(req, code, text)),
        }
    }

    pub(super) fn require(&self, actor: &str, cap: Capability) -> Result<(), Refusal> {
        let role = self.members.get(actor).map(|m| m.role);
        match role {
            Some(r) if capabilities(r).allows(cap) => Ok(()),
            _ => Err((ErrorCode::Forbidden, "your role may not do this")),
        }
    }

    fn target(&self, id: &str) -> Result<(), Refusal> {
        if self.members.contains_key(id) {
            Ok(())
        } else {
            Err((
                ErrorCode::NotFound,
                "that participant is not in the hearing",
            ))
        }
    }

    fn admit(&mut self, actor: &str, target: &str) -> Result<(), Refusal> {
        self.require(actor, Capability::AdmitFromLobby)?;
        self.target(target)?;
        let m = &self.members[target];
        if m.sequestered {
            return Err((
                ErrorCode::Conflict,
                "witnesses and sequestered experts enter when called (call_witness)",
            ));
        }
        if m.view.place != Place::Waiting {
            return Err((ErrorCode::Conflict, "already in the hearing"));
        }
        self.move_to(
            actor,
            target,
            Place::Main,
            MoveReason::Admitted,
            AuditAction::RoomAdmit,
        );
        Ok(())
    }

    /// Calls a witness in or sends them out; sending an expert out sequesters them (the
    /// judge's say) until the end of the hearing.
    fn move_witness(&mut self, actor: &str, target: &str, to: Place) -> Result<(), Refusal> {
        self.require(actor, Capability::CallWitness)?;
        self.target(target)?;
        let m = &self.members[target];
        let allowed = match to {
            Place::Waiting => may_be_sequestered(m.role),
            _ => m.sequestered,
        };
        if !allowed {
            return Err((
                ErrorCode::Conflict,
                "only witnesses and experts are sent out, and only they are called in",
            ));
        }
        let newly = !m.sequestered;
        if m.view.place == to && !(to == Place::Waiting && newly) {
            return Err((ErrorCode::Conflict, "the witness is already there"));
        }
        if let Some(m) = self.members.get_mut(target) {
            m.sequestered = true;
        }
        // Kept by the room, so leaving and coming back does not lift it.
        self.sequestered.insert(target.into());
        if newly {
            // An expert still waiting in the lobby: from now on called, not admitted.
            self.audit(
                Some(actor.into()),
                AuditAction::RoomSequester,
                target,
                serde_json::json!({"hearing_id": self.hearing}),
                None,
            );
            if self.members[target].view.place == to {
                return Ok(());
            }
        }
        let (reason, action) = match to {
            Place::Waiting => (MoveReason::Dismissed, AuditAction::RoomDismissWitness),
            _ => (MoveReason::Called, AuditAction::RoomCallWitness),
        };
        self.move_to(actor, target, to, reason, action);
        Ok(())
    }

    fn move_to(
        &mut self,
        actor: &str,
        target: &str,
        place: Place,
        reason: MoveReason,
        action: AuditAction,
    ) {
        let now = self.now;
        let session = match self.members.get_mut(target) {
            Some(m) => {
                m.view.place = place;
                m.entered = now;
                m.session
            }
            None => return,
        };
        if let Some(s) = session {
            self.send(s, ServerMessage::Moved { place, reason });
        }
        self.audit(
            Some(actor.into()),
            action,
            target,
            serde_json::json!({"hearing_id": self.hearing, "place": place}),
            None,
        );
        self.broadcast_roster();
    }

    fn mute(
        &mut self,
        actor: &str,
        target: &str,
        kind: MediaKind,
        on: bool,
    ) -> Result<(), Refusal> {
        self.require(actor, Capability::MuteOthers)?;
        self.target(target)?;
        let held = self.court_held.entry(target.into()).or_default();
        held.set(kind, on);
        let held = *held;
        if held.none() {
            self.court_held.remove(target);
        }
        let session = match self.members.get_mut(target) {
            Some(m) => {
                m.held = held;
                m.refresh_mute();
                m.session
            }
            None => None,
        };
        if let Some(s) = session
            && on
        {
            self.send(s, ServerMessage::Muted { kind });
        }
        self.audit(
            Some(actor.into()),
            if on {
                AuditAction::RoomMute
            } else {
                AuditAction::RoomUnmute
            },
            target,
            serde_json::json!({"hearing_id": self.hearing, "kind": kind}),
            None,
        );
        self.broadcast_roster();
        Ok(())
    }

    fn remove(&mut self, actor: &str, target: &str) -> Result<(), Refusal> {
        self.require(actor, Capability::RemoveOthers)?;
        self.target(target)?;
        if actor == target {
            return Err((ErrorCode::Conflict, "use leave to leave the hearing"));
        }
        self.removed.insert(target.into());
        if let Some(m) = self.members.remove(target)
            && let Some(s) = m.session
        {
            self.sessions.remove(&s);
            self.out.push_back(super::Output::End {
                session: s,
                reason: EndReason::Removed,
            });
        }
        self.audit(
            Some(actor.into()),
            AuditAction::RoomRemove,
            target,
            serde_json::json!({"hearing_id": self.hearing}),
            Some(super::Presence::Left),
        );
        self.broadcast_roster();
        Ok(())
    }

    fn caucus_start(&mut self, actor: &str, with: &[String]) -> Result<(), Refusal> {
        self.require(actor, Capability::HoldCaucus)?;
        if self
            .members
            .values()
            .any(|m| m.view.place == Place::Private)
        {
            return Err((ErrorCode::Conflict, "a caucus is already in progress"));
        }
        for id in with {
            self.target(id)?;
            if id == actor || self.members[id.as_str()].view.place != Place::Main {
                return Err((
                    ErrorCode::Conflict,
                    "caucus participants must be in the joint session",
                ));
            }
        }
        let mut everyone: Vec<&str> = with.iter().map(String::as_str).collect();
        everyone.push(actor);
        self.move_all(&everyone, Place::Private, MoveReason::CaucusStarted);
        self.audit(
            Some(actor.into()),
            AuditAction::RoomCaucusStart,
            actor,
            serde_json::json!({"hearing_id": self.hearing, "participants": with}),
            None,
        );
        self.broadcast_roster();
        Ok(())
    }

    fn caucus_end(&mut self, actor: &str) -> Result<(), Refusal> {
        self.require(actor, Capability::HoldCaucus)?;
        let inside: Vec<ParticipantId> = self
            .members
            .iter()
            .filter(|(_, m)| m.view.place == Place::Private)
            .map(|(id, _)| id.clone())
            .collect();
        if inside.is_empty() {
            return Err((ErrorCode::Conflict, "no caucus is in progress"));
        }
        let refs: Vec<&str> = inside.iter().map(ParticipantId::as_str).collect();
        self.move_all(&refs, Place::Main, MoveReason::CaucusEnded);
        self.audit(
            Some(actor.into()),
            AuditAction::RoomCaucusEnd,
            actor,
            serde_json::json!({"hearing_id": self.hearing, "participants": inside}),
            None,
        );
        self.broadcast_roster();
        Ok(())
    }

    /// Moves each of `ids` to `place` and tells them (no roster yet; the caller sends one).
    fn move_all(&mut self, ids: &[&str], place: Place, reason: MoveReason) {
        let now = self.now;
        for id in ids {
            let session = match self.members.get_mut(*id) {
                Some(m) => {
                    m.view.place = place;
                    m.entered = now;
                    m.session
                }
                None => None,
            };
            if let Some(s) = session {
                self.send(s, ServerMessage::Moved { place, reason });
            }
        }
    }

    fn end_hearing(&mut self, actor: &str) -> Result<(), Refusal> {
        self.require(actor, Capability::ControlHearing)?;
        self.end_all(Some(actor), "hearing ended");
        self.out.push_back(super::Output::HearingEnded {
            actor: actor.into(),
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use gavel_signaling::{ClientMessage, ErrorCode, MoveReason, Place, ServerMessage};

    use crate::domain::Role;
    use crate::domain::audit::AuditAction;
    use crate::engine::Output;
    use crate::engine::tests::{Sim, error_code, from, routes, sent_to};

    #[test]
    fn an_expert_is_sequestered_when_the_judge_sends_them_out_and_then_only_called_in() {
        let mut sim = Sim::new(false);
        sim.join(1, "judge", Role::Judge);
        sim.join(2, "party", Role::Party);
        let out = sim.join(3, "expert", Role::Expert);
        assert_eq!(
            from(&routes(&out), "expert"),
            [("judge", true, true), ("party", true, true)],
            "an expert hears the hearing unless the judge says otherwise"
        );
        let dismiss = |who: &str| ClientMessage::DismissWitness {
            req: Some(1),
            participant: who.into(),
        };
        assert_eq!(
            error_code(&sim.msg(1, dismiss("party")), 1),
            Some(ErrorCode::Conflict),
            "parties are never sent out"
        );
        let out = sim.msg(1, dismiss("expert"));
        assert!(sent_to(&out, 3).contains(&&ServerMessage::Moved {
            place: Place::Waiting,
            reason: MoveReason::Dismissed
        }));
        assert!(
            from(&routes(&out), "expert").is_empty(),
            "hears nothing now"
        );
        let admit = ClientMessage::Admit {
            req: Some(2),
            participant: "expert".into(),
        };
        assert_eq!(
            error_code(&sim.msg(1, admit), 1),
            Some(ErrorCode::Conflict),
            "a sequestered expert is called, not admitted"
        );
        let out = sim.msg(
            1,
            ClientMessage::CallWitness {
                req: Some(3),
                participant: "expert".into(),
            },
        );
        assert_eq!(from(&routes(&out), "expert").len(), 2, "called back in");

        // Sent out again, the expert leaves and comes back: still waiting, still to be called.
        sim.msg(1, dismiss("expert"));
        sim.msg(3, ClientMessage::Leave);
        let out = sim.join(4, "expert", Role::Expert);
        assert!(
            matches!(sent_to(&out, 4)[0], ServerMessage::Welcome { you, .. } if you.place == Place::Waiting),
            "leaving does not lift sequestration"
        );
        assert!(from(&routes(&out), "expert").is_empty());
    }

    #[test]
    fn an_expert_waiting_in_the_lobby_can_be_sequestered_before_entering() {
        let mut sim = Sim::new(true);
        sim.join(1, "judge", Role::Judge);
        sim.join(3, "expert", Role::Expert);
        let out = sim.msg(
            1,
            ClientMessage::DismissWitness {
                req: Some(1),
                participant: "expert".into(),
            },
        );
        assert!(sent_to(&out, 1).contains(&&ServerMessage::Ok { req: 1 }));
        assert!(out.iter().any(|o| matches!(
            o,
            Output::Audit {
                action: AuditAction::RoomSequester,
                ..
            }
        )));
        let out = sim.msg(
            1,
            ClientMessage::Admit {
                req: Some(2),
                participant: "expert".into(),
            },
        );
        assert_eq!(error_code(&out, 1), Some(ErrorCode::Conflict));
    }
}
