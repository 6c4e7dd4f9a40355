//! The court's mute: it holds across leaving and coming back, the participant's own unmute
//! never lifts it, and everyone's view says who holds it.

use gavel_signaling::{ClientMessage, MediaKind, ServerMessage};

use super::tests::{Sim, from, routes, routes_if_any, sent_to};
use crate::domain::Role;

fn mute(sim: &mut Sim, muted: bool) -> Vec<super::Output> {
    sim.msg(
        1,
        ClientMessage::Mute {
            req: None,
            participant: "party".into(),
            kind: MediaKind::Audio,
            muted: Some(muted),
        },
    )
}

#[test]
fn a_party_the_court_muted_is_still_muted_after_leaving_and_coming_back() {
    let mut sim = Sim::new(false);
    sim.join(1, "judge", Role::Judge);
    sim.join(2, "party", Role::Party);
    mute(&mut sim, true);
    sim.msg(2, ClientMessage::Leave);
    let out = sim.join(3, "party", Role::Party);
    let welcome = sent_to(&out, 3)
        .into_iter()
        .find_map(|m| match m {
            ServerMessage::Welcome { you, .. } => Some(you.clone()),
            _ => None,
        })
        .expect("welcomed");
    assert!(
        welcome.audio_muted && welcome.audio_held && !welcome.video_held,
        "{welcome:?}"
    );
    assert_eq!(
        from(&routes(&out), "judge"),
        [("party", false, true)],
        "nothing of the held microphone is forwarded"
    );
    let out = sim.msg(
        3,
        ClientMessage::SetMuted {
            kind: MediaKind::Audio,
            muted: false,
        },
    );
    assert!(
        routes_if_any(&out).is_none_or(|r| from(&r, "judge") == [("party", false, true)]),
        "the party's own unmute does not lift it"
    );

    // Lifted by the judge: forwarded again, and nobody's view holds it.
    let out = mute(&mut sim, false);
    assert_eq!(from(&routes(&out), "judge"), [("party", true, true)]);
    let roster = out
        .iter()
        .rev()
        .find_map(|o| match o {
            super::Output::Send {
                msg: ServerMessage::Roster { participants },
                ..
            } => Some(participants.clone()),
            _ => None,
        })
        .expect("a roster");
    assert!(roster.iter().all(|p| !p.audio_held), "{roster:?}");
}
