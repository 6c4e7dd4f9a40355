//! Rooms: lobby, sequestration, moderator powers, resume.

use gavel_signaling::client::ClientError;
use gavel_signaling::{
    ClientMessage, EndReason, ErrorCode, MediaKind, MoveReason, Place, ServerMessage, close,
};

use super::*;
use crate::both_backends;
use crate::support::{Backend, TestApp};

async fn the_judge_admits_a_party_from_the_lobby(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, hearing) = app.docket_and_hearing().await;
    let mut judge = join(&app, &hearing, "judge").await;
    assert_eq!(judge.place, Place::Main);
    let mut party = join(&app, &hearing, "party").await;
    assert_eq!(party.place, Place::Waiting);
    assert_eq!(
        roster(&mut party).await,
        vec![(party.id.clone(), Place::Waiting)],
        "the lobby sees only itself"
    );
    let (jid, pid) = (judge.id.clone(), party.id.clone());
    roster_until(&mut judge, |r| r.contains(&(pid.clone(), Place::Waiting))).await;

    cmd(
        &mut judge,
        ClientMessage::Admit {
            req: Some(1),
            participant: party.id.clone(),
        },
    )
    .await;
    let ok = judge
        .ws
        .recv_until(T, |m| matches!(m, ServerMessage::Ok { .. }))
        .await
        .unwrap();
    assert_eq!(ok, ServerMessage::Ok { req: 1 });
    let moved = moved(&mut party).await;
    assert_eq!(
        moved,
        ServerMessage::Moved {
            place: Place::Main,
            reason: MoveReason::Admitted
        }
    );
    let r = roster_until(&mut party, |r| r.len() == 2).await;
    assert!(r.contains(&(jid, Place::Main)) && r.contains(&(pid.clone(), Place::Main)));

    // The record shows who joined and who admitted whom.
    // (Written right after the room acts, so wait for it.)
    crate::support::wait_for(T, "the audit entries", || async {
        let mut c = app.db().await;
        let actions: Vec<String> = sqlx::query_scalar(
            "SELECT action FROM audit_log \
             WHERE action LIKE 'participant.joined' OR action LIKE 'room.%' ORDER BY seq",
        )
        .fetch_all(&mut c)
        .await
        .unwrap();
        (actions == ["participant.joined", "participant.joined", "room.admit"]).then_some(())
    })
    .await;
}
both_backends!(the_judge_admits_a_party_from_the_lobby);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_witness_is_sequestered_and_a_party_cannot_act_as_moderator() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (_, hearing) = app.docket_and_hearing().await;
    let mut judge = join(&app, &hearing, "judge").await;
    let mut party = join(&app, &hearing, "party").await;
    let mut witness = join(&app, &hearing, "witness").await;
    assert_eq!(witness.place, Place::Waiting);
    let (pid, wid) = (party.id.clone(), witness.id.clone());
    roster_until(&mut judge, |r| r.len() == 3).await;
    cmd(
        &mut judge,
        ClientMessage::Admit {
            req: Some(1),
            participant: pid.clone(),
        },
    )
    .await;
    roster_until(&mut party, |r| r.len() == 2).await;

    // The party forges moderator messages: every one is refused by the server.
    for forged in [
        ClientMessage::CallWitness {
            req: Some(2),
            participant: wid.clone(),
        },
        ClientMessage::Admit {
            req: Some(3),
            participant: wid.clone(),
        },
        ClientMessage::Mute {
            req: Some(4),
            participant: judge.id.clone(),
            kind: MediaKind::Audio,
            muted: None,
        },
        ClientMessage::Remove {
            req: Some(5),
            participant: judge.id.clone(),
        },
    ] {
        assert_eq!(
            command_error(&mut party, forged).await,
            ErrorCode::Forbidden
        );
    }
    let seen_by_witness = drain(&mut witness, 1).await;
    assert!(
        !seen_by_witness
            .iter()
            .any(|m| matches!(m, ServerMessage::Moved { .. } | ServerMessage::Muted { .. })),
        "forged commands changed nothing: {seen_by_witness:?}"
    );
    for m in &seen_by_witness {
        if let ServerMessage::Roster { participants } = m {
            assert_eq!(participants.len(), 1, "a waiting witness sees no one");
        }
    }

    // The judge calls the witness in, then sends them out again.
    cmd(
        &mut judge,
        ClientMessage::CallWitness {
            req: Some(6),
            participant: wid.clone(),
        },
    )
    .await;
    let m = moved(&mut witness).await;
    assert_eq!(
        m,
        ServerMessage::Moved {
            place: Place::Main,
            reason: MoveReason::Called
        }
    );
    roster_until(&mut party, |r| r.contains(&(wid.clone(), Place::Main))).await;
    cmd(
        &mut judge,
        ClientMessage::DismissWitness {
            req: Some(7),
            participant: wid.clone(),
        },
    )
    .await;
    let m = moved(&mut witness).await;
    assert_eq!(
        m,
        ServerMessage::Moved {
            place: Place::Waiting,
            reason: MoveReason::Dismissed
        }
    );
    roster_until(&mut party, |r| !r.iter().any(|(id, _)| *id == wid)).await;
    roster_until(&mut witness, |r| r.len() == 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_judge_mutes_and_removes_a_participant() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.signaling.lobby_kinds.clear()).await;
    let (_, hearing) = app.docket_and_hearing().await;
    let mut judge = join(&app, &hearing, "judge").await;
    let mut party = join(&app, &hearing, "party").await;
    assert_eq!(
        party.place,
        Place::Main,
        "no lobby configured for trials here"
    );
    cmd(
        &mut judge,
        ClientMessage::Mute {
            req: Some(1),
            participant: party.id.clone(),
            kind: MediaKind::Audio,
            muted: None,
        },
    )
    .await;
    let m = party
        .ws
        .recv_until(T, |m| matches!(m, ServerMessage::Muted { .. }))
        .await
        .unwrap();
    assert_eq!(
        m,
        ServerMessage::Muted {
            kind: MediaKind::Audio
        }
    );
    cmd(
        &mut judge,
        ClientMessage::Remove {
            req: Some(2),
            participant: party.id.clone(),
        },
    )
    .await;
    let m = party
        .ws
        .recv_until(T, |m| matches!(m, ServerMessage::Ended { .. }))
        .await
        .unwrap();
    assert_eq!(
        m,
        ServerMessage::Ended {
            reason: EndReason::Removed
        }
    );
    match party.ws.recv(T).await {
        Err(ClientError::Closed { code, .. }) => assert_eq!(code, close::REMOVED),
        other => panic!("expected close, got {other:?}"),
    }
    let jid = judge.id.clone();
    roster_until(&mut judge, |r| r == [(jid.clone(), Place::Main)]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_resumes_its_place_without_a_flap_and_a_second_join_replaces_the_first()
 {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (_, hearing) = app.docket_and_hearing().await;
    let mut judge = join(&app, &hearing, "judge").await;
    let pid = app.participant(&hearing, "party").await;
    let token = app.join_token(&hearing, &pid).await;
    let mut party = rejoin(&app, pid.clone(), &token).await;
    roster_until(&mut judge, |r| r.len() == 2).await;
    cmd(
        &mut judge,
        ClientMessage::Admit {
            req: Some(1),
            participant: pid.clone(),
        },
    )
    .await;
    moved(&mut party).await;
    drain(&mut judge, 1).await;

    // The network drops: no close handshake.
    party.ws.drop_connection();
    let resumed = rejoin(&app, pid.clone(), &token).await;
    assert_eq!(
        resumed.place,
        Place::Main,
        "the admitted party keeps their place"
    );
    let seen = drain(&mut judge, 2).await;
    assert!(
        !seen
            .iter()
            .any(|m| matches!(m, ServerMessage::Roster { .. })),
        "the judge saw a leave/join flap: {seen:?}"
    );

    // A second device with the same link takes over; the first is told and closed.
    let mut first = resumed;
    let second = rejoin(&app, pid.clone(), &token).await;
    let m = first
        .ws
        .recv_until(T, |m| matches!(m, ServerMessage::Ended { .. }))
        .await
        .unwrap();
    assert_eq!(
        m,
        ServerMessage::Ended {
            reason: EndReason::Replaced
        }
    );
    assert_eq!(second.place, Place::Main);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_participant_who_does_not_return_in_time_leaves_the_roster() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.signaling.grace_ms = 200;
        c.signaling.lobby_kinds.clear();
    })
    .await;
    let (_, hearing) = app.docket_and_hearing().await;
    let mut judge = join(&app, &hearing, "judge").await;
    let party = join(&app, &hearing, "party").await;
    roster_until(&mut judge, |r| r.len() == 2).await;
    party.ws.drop_connection();
    roster_until(&mut judge, |r| r.len() == 1).await;
}
