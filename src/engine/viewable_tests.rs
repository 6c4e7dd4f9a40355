//! What viewers outside the room (WHEP) may see: the people in the hearing itself, and of
//! their media what the court did not mute.

use gavel_signaling::{ClientMessage, MediaKind};

use super::Output;
use super::tests::Sim;
use crate::domain::Role;

fn viewable(out: &[Output]) -> Vec<(String, bool, bool)> {
    out.iter()
        .rev()
        .find_map(|o| match o {
            Output::Viewable(list) => Some(
                list.iter()
                    .map(|a| (a.publisher.to_string(), a.media.audio, a.media.video))
                    .collect(),
            ),
            _ => None,
        })
        .expect("a viewable list with every routing change")
}

#[test]
fn only_the_hearing_itself_is_viewable_never_the_lobby_or_a_sequestered_witness() {
    let mut sim = Sim::new(true);
    sim.join(1, "judge", Role::Judge);
    sim.join(2, "party", Role::Party);
    let out = sim.join(3, "witness", Role::Witness);
    assert_eq!(viewable(&out), [("judge".to_owned(), true, true)]);
    let out = sim.msg(
        1,
        ClientMessage::Mute {
            req: None,
            participant: "judge".into(),
            kind: MediaKind::Audio,
            muted: Some(true),
        },
    );
    assert_eq!(viewable(&out), [("judge".to_owned(), false, true)]);
    let out = sim.msg(
        1,
        ClientMessage::CallWitness {
            req: None,
            participant: "witness".into(),
        },
    );
    assert!(viewable(&out).contains(&("witness".to_owned(), true, true)));
}
