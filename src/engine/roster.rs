//! Who starts where and who sees whom: the court's visibility rules, as pure functions.
//!
//! - Roles that can admit people (judge, clerk, mediator) enter the hearing directly, as do
//!   courtroom devices (they are the courtroom).
//! - Witnesses always start in the waiting area (sequestration) and enter only when called.
//! - Everyone else waits in the lobby when the hearing kind has one, else enters directly.
//! - People in the waiting area see only themselves; people in the hearing see the hearing;
//!   moderators also see the waiting area (to admit and call people).

use gavel_signaling::{ParticipantView, Place};

use crate::domain::role::capabilities;
use crate::domain::{Capability, Role};

/// Where someone arriving for the first time is placed.
pub fn initial_place(role: Role, lobby: bool) -> Place {
    let caps = capabilities(role);
    // A courtroom device is the courtroom itself: it is in the hearing from the start.
    if caps.allows(Capability::AdmitFromLobby) || role == Role::Courtroom {
        Place::Main
    } else if role == Role::Witness || lobby {
        Place::Waiting
    } else {
        Place::Main
    }
}

/// Whether a role is sequestered from the start: enters only by `call_witness`, never by
/// `admit`.
pub fn is_sequestered(role: Role) -> bool {
    role == Role::Witness
}

/// Whether a role can be sequestered on the judge's say (sent out with `dismiss_witness`, and
/// from then on called in like a witness): experts, who may have to hear no other evidence.
pub fn may_be_sequestered(role: Role) -> bool {
    is_sequestered(role) || role == Role::Expert
}

/// Whether `viewer` (with `role`, at `place`) may see `other` (at `other_place`).
pub fn can_see(role: Role, place: Place, other_place: Place) -> bool {
    let caps = capabilities(role);
    let moderator = caps.allows(Capability::AdmitFromLobby) || caps.allows(Capability::CallWitness);
    match (place, other_place) {
        _ if moderator => true,
        // People in the hearing or a caucus see that the others are there (not what they say).
        (Place::Main | Place::Private, Place::Main | Place::Private) => true,
        _ => false,
    }
}

/// Whether someone at `subscriber` receives the media of someone at `publisher`: only within
/// the same session (the hearing, or the caucus). The waiting area neither sends nor receives.
pub fn receives(subscriber: Place, publisher: Place) -> bool {
    subscriber == publisher && subscriber != Place::Waiting
}

/// The roster `viewer_id` receives, from all present members.
pub fn roster_for<'a>(
    viewer_id: &str,
    role: Role,
    place: Place,
    members: impl Iterator<Item = &'a ParticipantView>,
) -> Vec<ParticipantView> {
    members
        .filter(|m| m.id == viewer_id || can_see(role, place, m.place))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moderators_enter_directly_witnesses_always_wait_others_wait_when_there_is_a_lobby() {
        assert_eq!(initial_place(Role::Judge, true), Place::Main);
        assert_eq!(initial_place(Role::Mediator, true), Place::Main);
        assert_eq!(initial_place(Role::Witness, false), Place::Waiting);
        assert_eq!(initial_place(Role::Party, true), Place::Waiting);
        assert_eq!(initial_place(Role::Party, false), Place::Main);
        assert_eq!(initial_place(Role::Observer, true), Place::Waiting);
        assert_eq!(initial_place(Role::Courtroom, true), Place::Main);
    }

    #[test]
    fn the_waiting_area_is_invisible_to_participants_and_blind_to_the_hearing() {
        assert!(!can_see(Role::Party, Place::Main, Place::Waiting));
        assert!(!can_see(Role::Witness, Place::Waiting, Place::Main));
        assert!(!can_see(Role::Witness, Place::Waiting, Place::Waiting));
        assert!(can_see(Role::Party, Place::Main, Place::Main));
        assert!(can_see(Role::Judge, Place::Main, Place::Waiting));
        assert!(can_see(Role::Clerk, Place::Main, Place::Waiting));
    }
}
