//! Courtroom devices in the room: in the hearing from the start, heard and seen only where
//! the court's rules allow, and their drops and returns told to those who run the hearing.

use gavel_signaling::{ClientMessage, MediaKind, ServerMessage};

use super::tests::{Sim, from, routes, sent_to};
use super::{Input, Output};
use crate::domain::Role;
use crate::domain::audit::AuditAction;

fn notices(out: &[Output], s: u64) -> Vec<String> {
    sent_to(out, s)
        .into_iter()
        .filter_map(|m| match m {
            ServerMessage::Notice { code, .. } => Some(code.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_courtroom_device_enters_the_hearing_even_with_a_lobby_and_only_the_hearing_receives_it() {
    let mut sim = Sim::new(true);
    sim.join(1, "judge", Role::Judge);
    sim.join(2, "party", Role::Party);
    sim.join(3, "witness", Role::Witness);
    let out = sim.join(9, "cam", Role::Courtroom);
    let r = routes(&out);
    assert!(from(&r, "judge").contains(&("cam", true, true)), "{r:?}");
    assert!(
        !from(&r, "party").iter().any(|(p, ..)| *p == "cam"),
        "a party still in the lobby sees nothing of the courtroom"
    );
    assert!(
        !from(&r, "witness").iter().any(|(p, ..)| *p == "cam"),
        "a sequestered witness neither hears nor sees the courtroom"
    );
    // Admitted, the party receives it; the device's own route is never used (it has no
    // subscribe side) but holds nothing of the waiting area either.
    let out = sim.msg(
        1,
        ClientMessage::Admit {
            req: None,
            participant: "party".into(),
        },
    );
    let r = routes(&out);
    assert!(from(&r, "party").contains(&("cam", true, true)));
    assert!(!from(&r, "cam").iter().any(|(p, ..)| *p == "witness"));
}

#[test]
fn the_judge_mutes_a_device_like_anyone() {
    let mut sim = Sim::new(false);
    sim.join(1, "judge", Role::Judge);
    sim.join(2, "party", Role::Party);
    sim.join(9, "cam", Role::Courtroom);
    let out = sim.msg(
        1,
        ClientMessage::Mute {
            req: None,
            participant: "cam".into(),
            kind: MediaKind::Video,
            muted: Some(true),
        },
    );
    assert!(from(&routes(&out), "party").contains(&("cam", true, false)));
}

#[test]
fn a_device_that_drops_and_returns_is_told_to_the_judge_and_clerk_only_and_audited() {
    let mut sim = Sim::new(false);
    sim.join(1, "judge", Role::Judge);
    sim.join(2, "clerk", Role::Clerk);
    sim.join(3, "party", Role::Party);
    sim.join(9, "cam", Role::Courtroom);
    let down = sim.input(Input::DeviceLink {
        participant: "cam".into(),
        up: false,
    });
    assert_eq!(notices(&down, 1), ["device.lost"]);
    assert!(sent_to(&down, 1).iter().any(|m| matches!(
        m,
        ServerMessage::Notice { participant: Some(p), .. } if p == "cam"
    )));
    assert_eq!(notices(&down, 2), ["device.lost"]);
    assert!(notices(&down, 3).is_empty(), "parties are not alarmed");
    assert!(down.iter().any(|o| matches!(
        o,
        Output::Audit { action: AuditAction::DeviceLost, subject, .. } if subject.as_str() == "cam"
    )));
    let up = sim.input(Input::DeviceLink {
        participant: "cam".into(),
        up: true,
    });
    assert_eq!(notices(&up, 1), ["device.back"]);
    assert!(up.iter().any(|o| matches!(
        o,
        Output::Audit {
            action: AuditAction::DeviceReconnected,
            ..
        }
    )));
    // Keeping its place throughout.
    let r = routes(&sim.join(4, "counsel", Role::Counsel));
    assert!(from(&r, "counsel").iter().any(|(p, ..)| *p == "cam"));
}
