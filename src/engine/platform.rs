//! What the court platform does to a live room through the case API. Closing the hearing ends
//! every session; revoking a participant removes them from the room at once (their join links
//! already stopped working). The API has recorded the change itself; the room records who was
//! in the room when it happened.

use gavel_signaling::EndReason;

use super::{Output, Presence, Room, SessionId};
use crate::domain::ParticipantId;
use crate::domain::audit::AuditAction;

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
}
