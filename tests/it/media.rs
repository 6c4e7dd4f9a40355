//! Media through the real SFU: real WebRTC peers on loopback, known payloads, and the court's
//! rules (lobby, sequestration, observers, mute) checked by packet counts.

use gavel_signaling::{ClientMessage, ErrorCode, MediaKind, MoveReason, Place, ServerMessage};

use crate::media_peer::{MediaPeer, peer};
use crate::support::{Backend, TestApp};

/// Asserts that `rx` receives nothing more on the `cut` tracks while a control flow
/// (`control` receiving `from`'s `kind`) keeps going: the control first moves `settle` packets
/// (in-flight packets land), then `window` more, during which the cut tracks must stay silent.
/// Returns the cut tracks' counts.
pub(crate) async fn assert_cut_off(
    rx: &MediaPeer,
    cut: &[(&str, MediaKind)],
    control: (&MediaPeer, &str, MediaKind),
    settle: u64,
    window: u64,
    why: &str,
) -> Vec<u64> {
    let (ctl, from, kind) = control;
    let start = ctl.received(from, kind).packets;
    ctl.wait_received(from, kind, start + settle).await;
    let snapshot: Vec<u64> = cut
        .iter()
        .map(|(p, k)| rx.received(p, *k).packets)
        .collect();
    ctl.wait_received(from, kind, start + window).await;
    for ((p, k), before) in cut.iter().zip(&snapshot) {
        assert_eq!(rx.received(p, *k).packets, *before, "{why}");
    }
    snapshot
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_from_each_publisher_reaches_the_other_byte_for_byte() {
    each_publisher_reaches_the_other(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_media_plane_publishers_and_subscribers_get_connections_of_their_own_and_the_same_media()
 {
    each_publisher_reaches_the_other(false).await;
}

/// Two publishers receive each other, byte for byte; publishers and subscribers on the media
/// plane (its descriptions are ICE-lite), or on connections of their own.
async fn each_publisher_reaches_the_other(plane: bool) {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.signaling.lobby_kinds.clear();
        c.media.plane = plane;
    })
    .await;
    let (_, hearing) = app.docket_and_hearing().await;
    let mut judge = peer(&app, &hearing, "judge").await;
    let mut party = peer(&app, &hearing, "party").await;
    judge.publish().await;
    party.publish().await;
    for (rx, from) in [(&judge, &party.id), (&party, &judge.id)] {
        let a = rx.wait_received(from, MediaKind::Audio, 50).await;
        let v = rx.wait_received(from, MediaKind::Video, 30).await;
        assert_eq!(
            (a.corrupt, v.corrupt),
            (0, 0),
            "payloads arrive byte for byte"
        );
    }
    for rx in [&mut judge, &mut party] {
        let answer = rx.publish_answer.as_deref().unwrap();
        assert_eq!(
            answer.contains("a=ice-lite"),
            plane,
            "the publish connection is the media plane's (ICE-lite) when it runs: {answer}"
        );
        let offer = rx
            .expect(|m| matches!(m, ServerMessage::SubscribeOffer { .. }))
            .await;
        let ServerMessage::SubscribeOffer { sdp, .. } = offer else {
            unreachable!()
        };
        assert_eq!(
            sdp.contains("a=ice-lite"),
            plane,
            "the subscribe connection is the media plane's (ICE-lite) when it runs: {sdp}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscribe_connection_that_closed_is_offered_afresh_and_the_media_comes_again() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.signaling.lobby_kinds.clear()).await;
    let (_, hearing) = app.docket_and_hearing().await;
    let mut judge = peer(&app, &hearing, "judge").await;
    let party = peer(&app, &hearing, "party").await;
    judge.publish().await;
    party.wait_received(&judge.id, MediaKind::Audio, 20).await;
    let offers = party.offers();
    party.close_subscribe();
    crate::support::wait_for(
        std::time::Duration::from_secs(30),
        "a new subscribe offer",
        || async { (party.offers() > offers).then_some(()) },
    )
    .await;
    let audio = party.received(&judge.id, MediaKind::Audio).packets;
    let video = party.received(&judge.id, MediaKind::Video).packets;
    party
        .wait_received(&judge.id, MediaKind::Audio, audio + 20)
        .await;
    party
        .wait_received(&judge.id, MediaKind::Video, video + 10)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lobby_receives_no_media_and_sends_none_until_admitted() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (_, hearing) = app.docket_and_hearing().await;
    let mut judge = peer(&app, &hearing, "judge").await;
    let clerk = peer(&app, &hearing, "clerk").await;
    let mut party = peer(&app, &hearing, "party").await;
    judge.publish().await;
    party.publish().await;

    // The clerk (in the hearing) receives the judge: the media is flowing...
    clerk.wait_received(&judge.id, MediaKind::Audio, 100).await;
    // ...while the party in the lobby receives nothing, and nobody receives the party.
    assert_eq!(party.received(&judge.id, MediaKind::Audio).packets, 0);
    assert_eq!(party.received(&judge.id, MediaKind::Video).packets, 0);
    assert_eq!(judge.received(&party.id, MediaKind::Audio).packets, 0);
    assert_eq!(clerk.received(&party.id, MediaKind::Video).packets, 0);

    judge
        .send(ClientMessage::Admit {
            req: Some(1),
            participant: party.id.clone(),
        })
        .await;
    party.wait_received(&judge.id, MediaKind::Audio, 20).await;
    party.wait_received(&judge.id, MediaKind::Video, 10).await;
    judge.wait_received(&party.id, MediaKind::Audio, 20).await;
    judge
        .expect(|m| matches!(m, ServerMessage::Ok { req: 1 }))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_witness_gets_no_media_until_called_and_none_after_being_sent_out() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (_, hearing) = app.docket_and_hearing().await;
    let mut judge = peer(&app, &hearing, "judge").await;
    let clerk = peer(&app, &hearing, "clerk").await;
    let mut witness = peer(&app, &hearing, "witness").await;
    judge.publish().await;
    clerk.wait_received(&judge.id, MediaKind::Audio, 100).await;
    assert_eq!(witness.received(&judge.id, MediaKind::Audio).packets, 0);

    judge
        .send(ClientMessage::CallWitness {
            req: Some(1),
            participant: witness.id.clone(),
        })
        .await;
    witness.wait_received(&judge.id, MediaKind::Audio, 20).await;

    judge
        .send(ClientMessage::DismissWitness {
            req: Some(2),
            participant: witness.id.clone(),
        })
        .await;
    witness
        .expect(|m| {
            *m == ServerMessage::Moved {
                place: Place::Waiting,
                reason: MoveReason::Dismissed,
            }
        })
        .await;
    // The server re-offers the witness's connection without the hearing's tracks; once that
    // offer is out, forwarding has stopped.
    witness
        .expect(|m| matches!(m, ServerMessage::SubscribeOffer { .. }))
        .await;
    assert_cut_off(
        &witness,
        &[(&judge.id, MediaKind::Audio)],
        (&clerk, &judge.id, MediaKind::Audio),
        10,
        60,
        "no media reaches a witness who was sent out",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_observer_may_not_publish() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.signaling.lobby_kinds.clear()).await;
    let (_, hearing) = app.docket_and_hearing().await;
    let mut observer = peer(&app, &hearing, "observer").await;
    observer.publish_refused().await;
    let e = observer
        .expect(|m| matches!(m, ServerMessage::Error { .. }))
        .await;
    assert!(
        matches!(
            e,
            ServerMessage::Error {
                code: ErrorCode::Forbidden,
                ..
            }
        ),
        "{e:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_participant_muted_by_the_judge_is_heard_by_no_one() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.signaling.lobby_kinds.clear()).await;
    let (_, hearing) = app.docket_and_hearing().await;
    let mut judge = peer(&app, &hearing, "judge").await;
    let clerk = peer(&app, &hearing, "clerk").await;
    let mut party = peer(&app, &hearing, "party").await;
    party.publish().await;
    clerk.wait_received(&party.id, MediaKind::Audio, 50).await;

    judge
        .send(ClientMessage::Mute {
            req: Some(1),
            participant: party.id.clone(),
            kind: MediaKind::Audio,
            muted: None,
        })
        .await;
    party
        .expect(|m| {
            matches!(
                m,
                ServerMessage::Muted {
                    kind: MediaKind::Audio
                }
            )
        })
        .await;
    judge
        .expect(|m| matches!(m, ServerMessage::SubscribeOffer { .. }))
        .await;
    assert_cut_off(
        &clerk,
        &[(&party.id, MediaKind::Audio)],
        (&clerk, &party.id, MediaKind::Video),
        5,
        40,
        "muted audio is not forwarded",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mute_lifted_at_once_lets_the_voice_through_again() {
    // The room cuts and restores the route faster than the media actors renegotiate: the
    // route's gate closes and opens again, and the media flows on.
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.signaling.lobby_kinds.clear()).await;
    let (_, hearing) = app.docket_and_hearing().await;
    let mut judge = peer(&app, &hearing, "judge").await;
    let clerk = peer(&app, &hearing, "clerk").await;
    let mut party = peer(&app, &hearing, "party").await;
    party.publish().await;
    clerk.wait_received(&party.id, MediaKind::Audio, 50).await;
    for (req, muted) in [(1, true), (2, false)] {
        judge
            .send(ClientMessage::Mute {
                req: Some(req),
                participant: party.id.clone(),
                kind: MediaKind::Audio,
                muted: Some(muted),
            })
            .await;
    }
    judge
        .expect(|m| matches!(m, ServerMessage::Ok { req: 2 }))
        .await;
    let before = clerk.received(&party.id, MediaKind::Audio).packets;
    clerk
        .wait_received(&party.id, MediaKind::Audio, before + 50)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscribers_keyframe_request_reaches_the_publisher() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.signaling.lobby_kinds.clear()).await;
    let (_, hearing) = app.docket_and_hearing().await;
    let mut judge = peer(&app, &hearing, "judge").await;
    let party = peer(&app, &hearing, "party").await;
    judge.publish().await;
    // The SFU asks for a key frame when the party subscribes; wait past the rate limit (60 video
    // packets at 30/s is 2 s) so the next request can only come from the party.
    party.wait_received(&judge.id, MediaKind::Video, 60).await;
    let before = judge
        .keyframe_requests
        .load(std::sync::atomic::Ordering::Relaxed);
    party.request_keyframe(&judge.id).await;
    crate::support::wait_for(
        std::time::Duration::from_secs(5),
        "the PLI at the publisher",
        || async {
            (judge
                .keyframe_requests
                .load(std::sync::atomic::Ordering::Relaxed)
                > before)
                .then_some(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caucus_is_private_to_the_mediator_and_one_side() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.signaling.lobby_kinds.clear()).await;
    let (_, hearing) = app.docket_and_hearing().await;
    let mut mediator = peer(&app, &hearing, "mediator").await;
    let mut a = peer(&app, &hearing, "party").await;
    let mut b = peer(&app, &hearing, "party").await;
    mediator.publish().await;
    a.publish().await;
    b.wait_received(&mediator.id, MediaKind::Audio, 30).await;
    b.wait_received(&a.id, MediaKind::Audio, 30).await;

    mediator
        .send(ClientMessage::CaucusStart {
            req: Some(1),
            participants: vec![a.id.clone()],
        })
        .await;
    a.expect(|m| {
        *m == ServerMessage::Moved {
            place: Place::Private,
            reason: MoveReason::CaucusStarted,
        }
    })
    .await;
    // Once b's connection is re-offered without them, nothing of the caucus reaches b.
    b.expect(|m| matches!(m, ServerMessage::SubscribeOffer { .. }))
        .await;
    let heard = assert_cut_off(
        &b,
        &[(&mediator.id, MediaKind::Audio), (&a.id, MediaKind::Audio)],
        (&a, &mediator.id, MediaKind::Audio),
        10,
        60,
        "b hears nothing of the caucus",
    )
    .await;
    let (bm, ba) = (heard[0], heard[1]);

    mediator
        .send(ClientMessage::CaucusEnd { req: Some(2) })
        .await;
    b.wait_received(&mediator.id, MediaKind::Audio, bm + 20)
        .await;
    b.wait_received(&a.id, MediaKind::Audio, ba + 20).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_active_speaker_is_announced_to_those_who_hear_them_and_the_lobby_never_speaks() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (_, hearing) = app.docket_and_hearing().await;
    let mut judge = peer(&app, &hearing, "judge").await;
    let mut clerk = peer(&app, &hearing, "clerk").await;
    let mut lobby = peer(&app, &hearing, "party").await;
    // The party in the lobby shouts; the judge talks at an ordinary level.
    lobby.publish_at_level(5).await;
    judge.publish_at_level(30).await;
    let m = clerk
        .expect(|m| matches!(m, ServerMessage::ActiveSpeaker { .. }))
        .await;
    assert_eq!(
        m,
        ServerMessage::ActiveSpeaker {
            participant: judge.id.clone()
        }
    );
    let m = judge
        .expect(|m| matches!(m, ServerMessage::ActiveSpeaker { .. }))
        .await;
    assert_eq!(
        m,
        ServerMessage::ActiveSpeaker {
            participant: judge.id.clone()
        },
        "the lobby never becomes the speaker"
    );
    // The waiting party is not told who speaks in the hearing.
    lobby.send(ClientMessage::Ping { id: 77 }).await;
    let mut seen = Vec::new();
    loop {
        let m = lobby.expect(|_| true).await;
        if m == (ServerMessage::Pong { id: 77 }) {
            break;
        }
        seen.push(m);
    }
    assert!(
        !seen
            .iter()
            .any(|m| matches!(m, ServerMessage::ActiveSpeaker { .. })),
        "{seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_answering_offers_still_loses_media_when_sent_out() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (_, hearing) = app.docket_and_hearing().await;
    let mut judge = peer(&app, &hearing, "judge").await;
    let mut clerk = peer(&app, &hearing, "clerk").await;
    let mut witness = peer(&app, &hearing, "witness").await;
    judge.publish().await;
    judge
        .send(ClientMessage::CallWitness {
            req: Some(1),
            participant: witness.id.clone(),
        })
        .await;
    witness.wait_received(&judge.id, MediaKind::Audio, 20).await;
    // The witness's client now ignores every offer, and one is left pending (the clerk starts
    // publishing): revocation must not wait for an answer that never comes.
    witness
        .answering
        .store(false, std::sync::atomic::Ordering::Relaxed);
    let offers_before = witness.offers();
    clerk.publish().await;
    crate::support::wait_for(
        std::time::Duration::from_secs(5),
        "a pending offer",
        || async { (witness.offers() > offers_before).then_some(()) },
    )
    .await;
    judge
        .send(ClientMessage::DismissWitness {
            req: Some(2),
            participant: witness.id.clone(),
        })
        .await;
    witness
        .expect(|m| {
            *m == ServerMessage::Moved {
                place: Place::Waiting,
                reason: MoveReason::Dismissed,
            }
        })
        .await;
    // No new offer can go out (one is pending): forwarding must have stopped anyway.
    assert_cut_off(
        &witness,
        &[(&judge.id, MediaKind::Audio)],
        (&clerk, &judge.id, MediaKind::Audio),
        10,
        60,
        "no media reaches a witness who stopped answering and was sent out",
    )
    .await;
}
