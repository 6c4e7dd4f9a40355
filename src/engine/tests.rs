//! Room rules on virtual time: no sockets, no clock.

use std::time::{Duration, Instant};

use gavel_signaling::{
    ClientMessage, EndReason, ErrorCode, MediaKind, MoveReason, Place, ServerMessage,
};

use super::*;

pub(super) struct Sim {
    room: Room,
    pub(super) now: Instant,
}

fn who(id: &str, role: Role) -> Arrival {
    Arrival {
        id: id.into(),
        name: format!("Name {id}"),
        role,
    }
}

impl Sim {
    pub(super) fn new(lobby: bool) -> Self {
        Self::with(lobby, false)
    }

    pub(super) fn with(lobby: bool, record: bool) -> Self {
        Sim {
            room: Room::new(
                "h1".into(),
                RoomPolicy {
                    lobby,
                    grace: Duration::from_secs(30),
                    heartbeat_ms: 10_000,
                    record,
                },
            ),
            now: Instant::now(),
        }
    }

    pub(super) fn input(&mut self, i: Input) -> Vec<Output> {
        self.room.handle_input(self.now, i);
        std::iter::from_fn(|| self.room.poll_output()).collect()
    }

    pub(super) fn join(&mut self, s: u64, id: &str, role: Role) -> Vec<Output> {
        self.input(Input::Join {
            session: SessionId(s),
            who: who(id, role),
            media_resumed: false,
        })
    }

    pub(super) fn msg(&mut self, s: u64, msg: ClientMessage) -> Vec<Output> {
        self.input(Input::Message {
            session: SessionId(s),
            msg,
        })
    }

    fn advance(&mut self, d: Duration) -> Vec<Output> {
        self.now += d;
        if self.room.poll_timeout().is_some_and(|t| t <= self.now) {
            self.room.handle_timeout(self.now);
        }
        std::iter::from_fn(|| self.room.poll_output()).collect()
    }
}

pub(super) fn sent_to(out: &[Output], s: u64) -> Vec<&ServerMessage> {
    out.iter()
        .filter_map(|o| match o {
            Output::Send { session, msg } if *session == SessionId(s) => Some(msg),
            _ => None,
        })
        .collect()
}

fn last_roster(out: &[Output], s: u64) -> Option<Vec<(String, Place)>> {
    sent_to(out, s).into_iter().rev().find_map(|m| match m {
        ServerMessage::Roster { participants } => Some(
            participants
                .iter()
                .map(|p| (p.id.clone(), p.place))
                .collect(),
        ),
        _ => None,
    })
}

pub(super) fn error_code(out: &[Output], s: u64) -> Option<ErrorCode> {
    sent_to(out, s).into_iter().find_map(|m| match m {
        ServerMessage::Error { code, .. } => Some(*code),
        _ => None,
    })
}

#[test]
fn a_party_waits_in_the_lobby_unseen_until_the_judge_admits_them() {
    let mut sim = Sim::new(true);
    sim.join(1, "judge", Role::Judge);
    let out = sim.join(2, "party", Role::Party);
    let welcome = sent_to(&out, 2)[0];
    assert!(matches!(welcome, ServerMessage::Welcome { you, .. } if you.place == Place::Waiting));
    assert_eq!(
        last_roster(&out, 2),
        Some(vec![("party".into(), Place::Waiting)])
    );
    assert_eq!(
        last_roster(&out, 1),
        Some(vec![
            ("judge".into(), Place::Main),
            ("party".into(), Place::Waiting)
        ])
    );

    let out = sim.msg(
        1,
        ClientMessage::Admit {
            req: Some(7),
            participant: "party".into(),
        },
    );
    assert!(sent_to(&out, 1).contains(&&ServerMessage::Ok { req: 7 }));
    assert!(sent_to(&out, 2).contains(&&ServerMessage::Moved {
        place: Place::Main,
        reason: MoveReason::Admitted
    }));
    assert_eq!(
        last_roster(&out, 2),
        Some(vec![
            ("judge".into(), Place::Main),
            ("party".into(), Place::Main)
        ])
    );
    assert!(out.iter().any(|o| matches!(
        o,
        Output::Audit {
            action: AuditAction::RoomAdmit,
            ..
        }
    )));
}

#[test]
fn a_witness_is_sequestered_until_called_and_can_be_sent_out_again() {
    let mut sim = Sim::new(false);
    sim.join(1, "judge", Role::Judge);
    sim.join(2, "party", Role::Party);
    let out = sim.join(3, "witness", Role::Witness);
    assert_eq!(
        last_roster(&out, 3),
        Some(vec![("witness".into(), Place::Waiting)])
    );
    assert_eq!(
        last_roster(&out, 2),
        Some(vec![
            ("judge".into(), Place::Main),
            ("party".into(), Place::Main)
        ]),
        "the hearing does not see the waiting witness"
    );

    let out = sim.msg(
        1,
        ClientMessage::Admit {
            req: Some(1),
            participant: "witness".into(),
        },
    );
    assert_eq!(error_code(&out, 1), Some(ErrorCode::Conflict));
    let out = sim.msg(
        1,
        ClientMessage::CallWitness {
            req: Some(2),
            participant: "witness".into(),
        },
    );
    assert!(sent_to(&out, 3).contains(&&ServerMessage::Moved {
        place: Place::Main,
        reason: MoveReason::Called
    }));
    assert_eq!(last_roster(&out, 3).map(|r| r.len()), Some(3));

    let out = sim.msg(
        1,
        ClientMessage::DismissWitness {
            req: Some(3),
            participant: "witness".into(),
        },
    );
    assert!(sent_to(&out, 3).contains(&&ServerMessage::Moved {
        place: Place::Waiting,
        reason: MoveReason::Dismissed
    }));
    assert_eq!(
        last_roster(&out, 3),
        Some(vec![("witness".into(), Place::Waiting)])
    );
}

#[test]
fn a_party_cannot_use_moderator_commands() {
    let mut sim = Sim::new(false);
    sim.join(1, "judge", Role::Judge);
    sim.join(2, "party", Role::Party);
    sim.join(3, "witness", Role::Witness);
    for cmd in [
        ClientMessage::Admit {
            req: Some(1),
            participant: "witness".into(),
        },
        ClientMessage::CallWitness {
            req: Some(2),
            participant: "witness".into(),
        },
        ClientMessage::Mute {
            req: Some(3),
            participant: "judge".into(),
            kind: MediaKind::Audio,
            muted: None,
        },
        ClientMessage::Remove {
            req: Some(4),
            participant: "judge".into(),
        },
    ] {
        let out = sim.msg(2, cmd);
        assert_eq!(error_code(&out, 2), Some(ErrorCode::Forbidden));
        assert!(
            !out.iter()
                .any(|o| matches!(o, Output::Audit { .. } | Output::End { .. }))
        );
        assert!(sent_to(&out, 1).is_empty() && sent_to(&out, 3).is_empty());
    }
}

#[test]
fn a_dropped_connection_keeps_its_place_silently_until_the_grace_period_ends() {
    let mut sim = Sim::new(false);
    sim.join(1, "judge", Role::Judge);
    sim.join(2, "party", Role::Party);
    let out = sim.input(Input::Disconnected {
        session: SessionId(2),
        why: Disconnect::Dropped,
    });
    assert!(
        out.iter().all(|o| matches!(
            o,
            Output::Audit {
                action: AuditAction::ParticipantDisconnected,
                ..
            }
        )),
        "no flap: nobody is told, the record notes it: {out:?}"
    );
    let out = sim.advance(Duration::from_secs(10));
    assert!(out.is_empty());
    let out = sim.join(3, "party", Role::Party);
    assert!(
        sent_to(&out, 1).is_empty(),
        "resuming is invisible to the others"
    );
    assert!(
        matches!(sent_to(&out, 3)[0], ServerMessage::Welcome { you, .. } if you.place == Place::Main)
    );

    sim.input(Input::Disconnected {
        session: SessionId(3),
        why: Disconnect::Dropped,
    });
    let out = sim.advance(Duration::from_secs(31));
    assert_eq!(
        last_roster(&out, 1),
        Some(vec![("judge".into(), Place::Main)])
    );
    assert!(out.iter().any(|o| matches!(
        o,
        Output::Audit {
            presence: Some(Presence::Left),
            ..
        }
    )));
    assert!(sim.room.poll_timeout().is_none());
}

#[test]
fn a_second_join_replaces_the_first_session() {
    let mut sim = Sim::new(false);
    sim.join(1, "party", Role::Party);
    let out = sim.join(2, "party", Role::Party);
    assert!(out.contains(&Output::End {
        session: SessionId(1),
        reason: EndReason::Replaced
    }));
    let out = sim.msg(1, ClientMessage::Ping { id: 1 });
    assert!(out.is_empty(), "the replaced session is no longer heard");
    let out = sim.msg(2, ClientMessage::Ping { id: 2 });
    assert_eq!(sent_to(&out, 2), [&ServerMessage::Pong { id: 2 }]);
}

#[test]
fn the_judge_mutes_and_removes_and_the_party_is_told() {
    let mut sim = Sim::new(false);
    sim.join(1, "judge", Role::Judge);
    sim.join(2, "party", Role::Party);
    let out = sim.msg(
        1,
        ClientMessage::Mute {
            req: None,
            participant: "party".into(),
            kind: MediaKind::Audio,
            muted: None,
        },
    );
    assert!(sent_to(&out, 2).contains(&&ServerMessage::Muted {
        kind: MediaKind::Audio
    }));
    let out = sim.msg(
        1,
        ClientMessage::Remove {
            req: Some(9),
            participant: "party".into(),
        },
    );
    assert!(out.contains(&Output::End {
        session: SessionId(2),
        reason: EndReason::Removed
    }));
    assert_eq!(
        last_roster(&out, 1),
        Some(vec![("judge".into(), Place::Main)])
    );
    let out = sim.msg(
        1,
        ClientMessage::Remove {
            req: Some(10),
            participant: "party".into(),
        },
    );
    assert_eq!(error_code(&out, 1), Some(ErrorCode::NotFound));
}

pub(super) fn routes(out: &[Output]) -> Vec<Route> {
    routes_if_any(out).expect("a routing table was emitted")
}

/// The last routing table among `out`, if the input changed the routes at all.
pub(super) fn routes_if_any(out: &[Output]) -> Option<Vec<Route>> {
    out.iter().rev().find_map(|o| match o {
        Output::Routes(r) => Some(r.clone()),
        _ => None,
    })
}

pub(super) fn from<'a>(r: &'a [Route], sub: &str) -> Vec<(&'a str, bool, bool)> {
    r.iter()
        .find(|x| x.subscriber == sub)
        .map(|x| {
            x.from
                .iter()
                .map(|a| (a.publisher.as_str(), a.media.audio, a.media.video))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn media_flows_only_between_people_in_the_hearing_and_not_from_the_muted() {
    let mut sim = Sim::new(true);
    sim.join(1, "judge", Role::Judge);
    let out = sim.join(2, "party", Role::Party);
    let r = routes(&out);
    assert!(from(&r, "party").is_empty(), "the lobby receives nothing");
    assert!(from(&r, "judge").is_empty(), "and sends nothing");

    let out = sim.msg(
        1,
        ClientMessage::Admit {
            req: None,
            participant: "party".into(),
        },
    );
    let r = routes(&out);
    assert_eq!(from(&r, "party"), [("judge", true, true)]);
    assert_eq!(from(&r, "judge"), [("party", true, true)]);

    let out = sim.msg(
        1,
        ClientMessage::Mute {
            req: None,
            participant: "party".into(),
            kind: MediaKind::Audio,
            muted: None,
        },
    );
    assert_eq!(from(&routes(&out), "judge"), [("party", false, true)]);
    let out = sim.msg(
        2,
        ClientMessage::SetMuted {
            kind: MediaKind::Audio,
            muted: false,
        },
    );
    assert_eq!(
        from(&routes(&out), "judge"),
        [("party", false, true)],
        "a participant cannot lift the judge's mute"
    );
    let out = sim.msg(
        1,
        ClientMessage::Mute {
            req: None,
            participant: "party".into(),
            kind: MediaKind::Audio,
            muted: Some(false),
        },
    );
    assert_eq!(from(&routes(&out), "judge"), [("party", true, true)]);
}

#[test]
fn a_removed_participant_who_comes_back_waits_to_be_admitted() {
    let mut sim = Sim::new(false);
    sim.join(1, "judge", Role::Judge);
    sim.join(2, "party", Role::Party);
    sim.msg(
        1,
        ClientMessage::Remove {
            req: None,
            participant: "party".into(),
        },
    );
    let out = sim.join(3, "party", Role::Party);
    assert!(
        matches!(sent_to(&out, 3)[0], ServerMessage::Welcome { you, .. } if you.place == Place::Waiting)
    );
}

#[test]
fn a_caucus_hides_the_private_session_from_the_other_side_until_it_ends() {
    let mut sim = Sim::new(false);
    sim.join(1, "mediator", Role::Mediator);
    sim.join(2, "a", Role::Party);
    sim.join(3, "b", Role::Party);
    let out = sim.msg(
        3,
        ClientMessage::CaucusStart {
            req: Some(1),
            participants: vec!["a".into()],
        },
    );
    assert_eq!(error_code(&out, 3), Some(ErrorCode::Forbidden));

    let out = sim.msg(
        1,
        ClientMessage::CaucusStart {
            req: Some(2),
            participants: vec!["a".into()],
        },
    );
    assert!(sent_to(&out, 2).contains(&&ServerMessage::Moved {
        place: Place::Private,
        reason: MoveReason::CaucusStarted
    }));
    let r = routes(&out);
    assert_eq!(from(&r, "a"), [("mediator", true, true)]);
    assert!(
        from(&r, "b").is_empty(),
        "the other side hears nothing of the caucus"
    );
    assert!(!from(&r, "mediator").iter().any(|(p, ..)| *p == "b"));

    let out = sim.msg(
        1,
        ClientMessage::CaucusStart {
            req: Some(3),
            participants: vec!["b".into()],
        },
    );
    assert_eq!(
        error_code(&out, 1),
        Some(ErrorCode::Conflict),
        "one caucus at a time"
    );

    let out = sim.msg(1, ClientMessage::CaucusEnd { req: Some(4) });
    assert!(sent_to(&out, 1).contains(&&ServerMessage::Ok { req: 4 }));
    assert_eq!(
        from(&routes(&out), "b").len(),
        2,
        "everyone is together again"
    );
}

#[test]
fn ending_the_hearing_ends_every_session_and_closes_the_record() {
    let mut sim = Sim::new(false);
    sim.join(1, "judge", Role::Judge);
    sim.join(2, "party", Role::Party);
    let out = sim.msg(2, ClientMessage::EndHearing { req: Some(1) });
    assert_eq!(error_code(&out, 2), Some(ErrorCode::Forbidden));
    let out = sim.msg(1, ClientMessage::EndHearing { req: Some(2) });
    assert!(out.contains(&Output::End {
        session: SessionId(1),
        reason: EndReason::HearingEnded
    }));
    assert!(out.contains(&Output::End {
        session: SessionId(2),
        reason: EndReason::HearingEnded
    }));
    assert!(out.contains(&Output::HearingEnded {
        actor: "judge".into()
    }));
    assert!(sim.room.is_empty());
}
