//! What clients do with their media, through the real SFU: trickle their candidates, share a
//! screen and stop, send H.264, go audio only, lose their socket and resume; and the transport
//! settings (port range, public address) as clients see them.

use std::time::Duration;

use gavel_signaling::{ClientMessage, Connection, ErrorCode, MediaKind, ServerMessage, Source};

use crate::media::assert_cut_off;
use crate::media_peer::{MediaPeer, peer};
use crate::support::{Backend, TestApp, wait_for};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_flows_when_clients_trickle_their_candidates() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.signaling.lobby_kinds.clear()).await;
    let (_, hearing) = app.docket_and_hearing().await;
    let mut judge = peer(&app, &hearing, "judge").await;
    let mut party = peer(&app, &hearing, "party").await;
    for p in [&judge, &party] {
        p.trickle.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    judge.publish().await;
    let v = party.wait_received(&judge.id, MediaKind::Video, 30).await;
    assert_eq!(v.corrupt, 0);
    for p in [&mut judge, &mut party] {
        while let Ok(m) = p.events.try_recv() {
            assert!(
                !matches!(m, ServerMessage::Error { .. }),
                "every trickled candidate was taken: {m:?}"
            );
        }
    }
    // A candidate the ICE agent cannot parse is refused, and one for a connection that has no
    // description yet is out of order.
    judge
        .send(ClientMessage::IceCandidate {
            pc: Connection::Publish,
            candidate: "candidate:nonsense".into(),
            sdp_mid: Some("0".into()),
            sdp_mline_index: Some(0),
        })
        .await;
    let m = judge
        .expect(|m| matches!(m, ServerMessage::Error { .. }))
        .await;
    assert!(
        matches!(
            m,
            ServerMessage::Error {
                code: ErrorCode::BadMessage,
                ..
            }
        ),
        "{m:?}"
    );
    let mut late = peer(&app, &hearing, "party").await;
    late.send(ClientMessage::IceCandidate {
        pc: Connection::Publish,
        candidate: String::new(),
        sdp_mid: None,
        sdp_mline_index: None,
    })
    .await;
    let m = late
        .expect(|m| matches!(m, ServerMessage::Error { .. }))
        .await;
    assert!(
        matches!(
            m,
            ServerMessage::Error {
                code: ErrorCode::Conflict,
                ..
            }
        ),
        "{m:?}"
    );
}

/// The (address, port) of every host candidate in `sdp`.
fn host_candidates(sdp: &str) -> Vec<(String, u16)> {
    sdp.lines()
        .filter_map(|l| l.strip_prefix("a=candidate:"))
        .map(|c| c.split(' ').collect::<Vec<_>>())
        .filter(|f| f.len() >= 8 && f[7] == "host")
        .map(|f| (f[4].to_owned(), f[5].parse().unwrap()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_uses_the_configured_port_range_and_announces_the_public_address() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.signaling.lobby_kinds.clear();
        c.media.port_range = Some([47_100, 47_199]);
    })
    .await;
    let (_, hearing) = app.docket_and_hearing().await;
    let mut judge = peer(&app, &hearing, "judge").await;
    let party = peer(&app, &hearing, "party").await;
    judge.publish().await;
    party.wait_received(&judge.id, MediaKind::Video, 30).await;
    let candidates = host_candidates(judge.publish_answer.as_deref().unwrap());
    assert!(!candidates.is_empty());
    for (_, port) in &candidates {
        assert!((47_100..=47_199).contains(port), "{candidates:?}");
    }

    // Behind 1:1 NAT the server names its public address, never the private one it binds.
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.signaling.lobby_kinds.clear();
        c.media.announce_ip = Some("192.0.2.44".parse().unwrap());
    })
    .await;
    let (_, hearing) = app.docket_and_hearing().await;
    let mut judge = peer(&app, &hearing, "judge").await;
    judge.publish().await;
    let answer = judge.publish_answer.clone().unwrap();
    let candidates = host_candidates(&answer);
    assert!(!candidates.is_empty());
    assert!(
        candidates.iter().all(|(ip, _)| ip == "192.0.2.44"),
        "{answer}"
    );
    assert!(!answer.contains("127.0.0.1"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_only_stops_the_video_but_not_the_sound_and_can_be_undone() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.signaling.lobby_kinds.clear()).await;
    let (_, hearing) = app.docket_and_hearing().await;
    let mut judge = peer(&app, &hearing, "judge").await;
    let party = peer(&app, &hearing, "party").await;
    judge.publish().await;
    party.wait_received(&judge.id, MediaKind::Video, 30).await;
    let track = party.video_track_id(&judge.id).await;
    // A weak network: the party shows no video (height 0) and receives none.
    party
        .send(ClientMessage::VideoSize {
            track: track.clone(),
            height: 0,
        })
        .await;
    // The request travels by WebSocket, the media by RTP: wait until the video has stopped.
    wait_for(Duration::from_secs(10), "the video paused", || async {
        let a = party.received(&judge.id, MediaKind::Video).packets;
        tokio::time::sleep(Duration::from_millis(300)).await;
        (party.received(&judge.id, MediaKind::Video).packets == a).then_some(())
    })
    .await;
    assert_cut_off(
        &party,
        &[(&judge.id, MediaKind::Video)],
        (&party, &judge.id, MediaKind::Audio),
        25,
        100,
        "no video reaches a participant in audio-only mode",
    )
    .await;
    // Back to video.
    party
        .send(ClientMessage::VideoSize { track, height: 360 })
        .await;
    let seen = party.received(&judge.id, MediaKind::Video).packets;
    party
        .wait_received(&judge.id, MediaKind::Video, seen + 30)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_screen_share_is_a_track_of_its_own_and_witnesses_may_not_share() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.signaling.lobby_kinds.clear()).await;
    let (_, hearing) = app.docket_and_hearing().await;
    let mut judge = peer(&app, &hearing, "judge").await;
    let mut party = peer(&app, &hearing, "party").await;
    party.publish_with_screen().await;

    // The judge is told which of the party's tracks is the exhibit on screen...
    let m = judge
        .expect(|m| match m {
            ServerMessage::SubscribeOffer { tracks, .. } => {
                tracks.iter().filter(|t| t.participant == party.id).count() == 3
            }
            _ => false,
        })
        .await;
    let ServerMessage::SubscribeOffer { tracks, .. } = m else {
        unreachable!()
    };
    let of = |source: Source| {
        tracks
            .iter()
            .filter(|t| t.source == source)
            .map(|t| t.id.clone())
            .collect::<Vec<_>>()
    };
    let (screen, camera) = (of(Source::Screen), of(Source::Camera));
    assert_eq!(
        (screen.len(), camera.len(), of(Source::Microphone).len()),
        (1, 1, 1)
    );
    assert_ne!(screen, camera);
    // ...and receives it, as a stream apart from the camera.
    crate::support::wait_for(
        std::time::Duration::from_secs(10),
        "the screen share",
        || async {
            let log = judge.video_log.lock().unwrap();
            let on = |id: &str| log.iter().filter(|r| r.track == id).count();
            (on(&screen[0]) > 30 && on(&camera[0]) > 30).then_some(())
        },
    )
    .await;

    // A witness presents no evidence of their own.
    let mut witness = peer(&app, &hearing, "witness").await;
    witness.share_screen_refused().await;
    let e = witness
        .expect(|m| matches!(m, ServerMessage::Error { .. }))
        .await;
    assert!(
        matches!(e, ServerMessage::Error { code: ErrorCode::Forbidden, ref message, .. } if message.contains("screen")),
        "{e:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h264_from_a_phone_arrives_as_h264_byte_for_byte() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.signaling.lobby_kinds.clear()).await;
    let (_, hearing) = app.docket_and_hearing().await;
    let judge = peer(&app, &hearing, "judge").await;
    let mut party = peer(&app, &hearing, "party").await;
    party.h264 = true;
    party.publish().await;
    let v = judge.wait_received(&party.id, MediaKind::Video, 30).await;
    assert_eq!(v.corrupt, 0);
    assert!(
        judge
            .video_codec(&party.id)
            .await
            .eq_ignore_ascii_case("video/H264")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_screen_share_leaves_the_subscribers_connections() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.signaling.lobby_kinds.clear()).await;
    let (_, hearing) = app.docket_and_hearing().await;
    let mut judge = peer(&app, &hearing, "judge").await;
    let mut party = peer(&app, &hearing, "party").await;
    party.publish_with_screen().await;
    let has = |m: &ServerMessage, source: Source| match m {
        ServerMessage::SubscribeOffer { tracks, .. } => tracks.iter().any(|t| t.source == source),
        _ => false,
    };
    let has_screen = |m: &ServerMessage| has(m, Source::Screen);
    // Both the camera and the screen are subscribed (they may arrive in either order, in
    // separate offers) before the screen stops.
    judge
        .expect(|m| has(m, Source::Screen) && has(m, Source::Camera))
        .await;
    party.unpublish("screen").await;
    // The judge's connection is renegotiated without the screen, the camera stays.
    let m = judge
        .expect(|m| matches!(m, ServerMessage::SubscribeOffer { .. }) && !has_screen(m))
        .await;
    let ServerMessage::SubscribeOffer { tracks, .. } = m else {
        unreachable!()
    };
    assert!(
        tracks.iter().any(|t| t.source == Source::Camera),
        "{tracks:?}"
    );
    let seen = judge.received(&party.id, MediaKind::Video).packets;
    judge
        .wait_received(&party.id, MediaKind::Video, seen + 30)
        .await;
}

/// A publisher whose connection ended (the browser closed it, or it failed) and who offers
/// again on a new one is answered afresh and heard again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publisher_that_starts_its_connection_over_is_heard_again() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.signaling.lobby_kinds.clear()).await;
    let (_, hearing) = app.docket_and_hearing().await;
    let mut judge = peer(&app, &hearing, "judge").await;
    let mut party = peer(&app, &hearing, "party").await;
    judge.publish().await;
    party.wait_received(&judge.id, MediaKind::Audio, 20).await;
    let judge_id = judge.id.clone();
    let judges = |m: &ServerMessage| match m {
        ServerMessage::SubscribeOffer { tracks, .. } => {
            tracks.iter().filter(|t| t.participant == judge_id).count()
        }
        _ => 0,
    };
    party.expect(|m| judges(m) == 2).await;
    judge.close_publish().await;
    // The server lets the old connection go: the judge's tracks leave the party's connection.
    party
        .expect(|m| matches!(m, ServerMessage::SubscribeOffer { .. }) && judges(m) == 0)
        .await;
    let heard = party.received(&judge.id, MediaKind::Audio).packets;
    judge.publish().await;
    party
        .wait_received(&judge.id, MediaKind::Audio, heard + 50)
        .await;
    let seen = party.received(&judge.id, MediaKind::Video).packets;
    party
        .wait_received(&judge.id, MediaKind::Video, seen + 30)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_flows_through_a_dropped_socket_and_the_resume_keeps_the_connections() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.signaling.lobby_kinds.clear()).await;
    let (_, hearing) = app.docket_and_hearing().await;
    let mut judge = peer(&app, &hearing, "judge").await;
    let id = app.participant(&hearing, "party").await;
    let token = app.join_token(&hearing, &id).await;
    let mut party = MediaPeer::join(app.connect_ws().await, id, &token).await;
    party
        .expect(|m| matches!(m, ServerMessage::Welcome { .. }))
        .await;
    judge.publish().await;
    party.publish().await;
    party.wait_received(&judge.id, MediaKind::Video, 30).await;
    judge.wait_received(&party.id, MediaKind::Video, 30).await;
    // Audio and video arrive as separate tracks, each with its own offer: both first.
    judge.wait_received(&party.id, MediaKind::Audio, 50).await;
    let offers_to_judge = judge.offers();

    // The party's socket drops (a phone changing networks): media goes on both ways.
    party.drop_socket();
    let seen = party.received(&judge.id, MediaKind::Video).packets;
    party
        .wait_received(&judge.id, MediaKind::Video, seen + 30)
        .await;
    let seen = judge.received(&party.id, MediaKind::Video).packets;
    judge
        .wait_received(&party.id, MediaKind::Video, seen + 30)
        .await;

    // The party comes back on a new socket and keeps its connections.
    party.rejoin(app.connect_ws().await, &token, true).await;
    let w = party
        .expect(|m| matches!(m, ServerMessage::Welcome { .. }))
        .await;
    assert!(
        matches!(
            w,
            ServerMessage::Welcome {
                media_resumed: true,
                ..
            }
        ),
        "{w:?}"
    );
    let seen = party.received(&judge.id, MediaKind::Audio).packets;
    party
        .wait_received(&judge.id, MediaKind::Audio, seen + 50)
        .await;
    let seen = judge.received(&party.id, MediaKind::Audio).packets;
    judge
        .wait_received(&party.id, MediaKind::Audio, seen + 50)
        .await;
    assert_eq!(
        judge.offers(),
        offers_to_judge,
        "the judge never saw the party's tracks go and come back"
    );

    // Dropped again and back without asking to keep the media: new connections are needed.
    party.drop_socket();
    party.rejoin(app.connect_ws().await, &token, false).await;
    let w = party
        .expect(|m| matches!(m, ServerMessage::Welcome { .. }))
        .await;
    assert!(
        matches!(
            w,
            ServerMessage::Welcome {
                media_resumed: false,
                ..
            }
        ),
        "{w:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_participant_who_does_not_come_back_in_time_has_their_media_stopped() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.signaling.lobby_kinds.clear();
        c.signaling.grace_ms = 500;
    })
    .await;
    let (_, hearing) = app.docket_and_hearing().await;
    let mut judge = peer(&app, &hearing, "judge").await;
    let mut party = peer(&app, &hearing, "party").await;
    let clerk = peer(&app, &hearing, "clerk").await;
    judge.publish().await;
    party.publish().await;
    judge.wait_received(&party.id, MediaKind::Audio, 20).await;
    let party_id = party.id.clone();
    party.drop_socket();
    // After the grace period the party has left: the judge is offered a connection without
    // them, and nothing of theirs arrives any more, while the clerk's feed of the judge goes on.
    judge
        .expect(|m| {
            matches!(m, ServerMessage::Roster { participants }
                if participants.iter().all(|p| p.id != party_id))
        })
        .await;
    assert_cut_off(
        &judge,
        &[(&party.id, MediaKind::Audio), (&party.id, MediaKind::Video)],
        (&clerk, &judge.id, MediaKind::Audio),
        75,
        125,
        "a participant gone for good sends nothing",
    )
    .await;
}
