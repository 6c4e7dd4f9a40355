//! What the court platform does to a live room through the case API. Closing the hearing ends
//! every session; revoking a participant removes them from the room at once (their join links
//! already stopped working). The API has recorded the change itself; the room records who was
//! in the room when it happened. A courtroom device's stream that drops or returns is told to
//! those who run the hearing (Art. 40: the hearing goes on, and the court knows).

use gavel_signaling::{EndReason, ServerMessage};

use super::{Output, Presence, Room, SessionId};
use crate::domain::audit::AuditAction;
use crate::domain::role::capabilities;
use crate::domain::{Capability, ParticipantId};

impl Room {
    /// Ends every session and empties the room; `actor` is the moderator who ended the
    /// hearing, or `None` when the platform closed it.
    pub(super) fn end_all(&mut self, actor: Option<&str>, reason: &'static str) {
        let sessions: Vec<SessionId> = self.members.values().filter_map(|m| m.session).collect();
        let everyone: Vec<ParticipantId> = self.members.keys().cloned().collect();
        for id in &everyone {
            self.audit(
                actor.map(ParticipantId::from),
                AuditAction::ParticipantLeft,
                id.as_str(),
                serde_json::json!({"reason": reason}),
                Some(Presence::Left),
            );
        }
        for session in sessions {
            self.out.push_back(Output::End {
                session,
                reason: EndReason::HearingEnded,
            });
        }
        self.members.clear();
        self.sessions.clear();
        self.emit_routes();
    }

    /// The platform revoked `id`: out of the room now, and not back.
    pub(super) fn revoked(&mut self, id: &str) {
        self.removed.insert(id.into());
        let Some(m) = self.members.remove(id) else {
            return;
        };
        if let Some(session) = m.session {
            self.sessions.remove(&session);
            self.out.push_back(Output::End {
                session,
                reason: EndReason::Removed,
            });
        }
        self.audit(
            None,
            AuditAction::ParticipantLeft,
            id,
            serde_json::json!({"hearing_id": self.hearing, "reason": "revoked by the platform"}),
            Some(Presence::Left),
        );
        self.broadcast_roster();
    }

    /// A courtroom device's stream dropped or came back: those who can act on it (mute, move,
    /// remove: the judge, the clerk, the mediator) are told. The device keeps its place.
    pub(super) fn device_link(&mut self, id: &str, up: bool) {
        let Some(m) = self.members.get(id) else {
            return;
        };
        let name = m.view.name.clone();
        let notice = if up {
            ServerMessage::Notice {
                level: "info".into(),
                code: "device.back".into(),
                text: format!("{name} is back in the hearing."),
                participant: Some(id.to_owned()),
            }
        } else {
            ServerMessage::Notice {
                level: "warning".into(),
                code: "device.lost".into(),
                text: format!(
                    "{name} stopped sending. The server is reconnecting it; the hearing goes on."
                ),
                participant: Some(id.to_owned()),
            }
        };
        let told: Vec<SessionId> = self
            .members
            .values()
            .filter(|m| capabilities(m.role).allows(Capability::MuteOthers))
            .filter_map(|m| m.session)
            .collect();
        for s in told {
            self.send(s, notice.clone());
        }
        let action = if up {
            AuditAction::DeviceReconnected
        } else {
            AuditAction::DeviceLost
        };
        self.audit(
            None,
            action,
            id,
            serde_json::json!({"hearing_id": self.hearing}),
            None,
        );
    }
}
