//! A connection the media plane offers and renegotiates (a room's subscriber), with a real
//! `webrtc` client on loopback: tracks added are offered in the codecs asked for and reach the
//! client once it has answered; a track taken off gets nothing more, even when a new track
//! reuses its place; the client's key-frame requests come back naming the track.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use gavel::sfu::codec::MediaCodec;
use gavel::sfu::conn::Conn;
use gavel::sfu::plane::{Offering, Plane, PlaneEvent, PlayTrack};
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use tokio::sync::mpsc;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::RTCSessionDescription;

use crate::plane::{Subscriber, T, event, factory, feed, feed_as, play, receive};

/// The client answers the plane's latest offer.
async fn answer(plane: &Plane, at: Offering, client: &mut Conn) -> gavel::sfu::plane::Offered {
    let offered = plane.offer(at).await.unwrap();
    client
        .pc
        .set_remote_description(RTCSessionDescription::offer(offered.sdp.clone()).unwrap())
        .await
        .unwrap();
    let answer = client.pc.create_answer(None).await.unwrap();
    let sdp = client.local_with_candidates(answer).await.unwrap();
    plane.answer_offering(at, sdp).await.unwrap();
    offered
}

/// Waits for `n` packets on `track`.
async fn packets(track: &Arc<dyn TrackRemote>, n: usize) {
    let mut seen = 0;
    while seen < n {
        let ev = tokio::time::timeout(T, track.poll())
            .await
            .expect("media in time")
            .expect("the track stays open");
        if matches!(ev, TrackRemoteEvent::OnRtpPacket(_)) {
            seen += 1;
        }
    }
}

#[tokio::test]
async fn a_subscriber_the_plane_offers_gets_tracks_as_they_are_added_and_nothing_of_one_taken_off()
{
    gavel::app::install_crypto_provider();
    let plane = Plane::start("127.0.0.1:0".parse().unwrap(), None).unwrap();
    let (tx, mut events) = mpsc::channel(64);
    let at = plane.open_offering(tx).await.unwrap();
    let audio = plane
        .add_track(at, play(MediaCodec::Opus), vec![MediaCodec::Opus], 1111)
        .await
        .unwrap();
    let video = plane
        .add_track(
            at,
            play(MediaCodec::Vp8),
            vec![MediaCodec::Vp8, MediaCodec::H264],
            2222,
        )
        .await
        .unwrap();
    let (tracks_tx, tracks) = mpsc::channel(8);
    let mut client = Conn::new(&factory().sending(), Some(tracks_tx))
        .await
        .unwrap();
    let first = answer(&plane, at, &mut client).await;
    assert!(first.sdp.contains("a=ice-lite"), "{}", first.sdp);
    let video_section = first.sdp.split("m=video").nth(1).expect("a video section");
    assert!(
        video_section.contains("VP8/90000") && video_section.contains("H264/90000"),
        "the video is offered in the codecs asked for: {}",
        first.sdp
    );
    let mids: std::collections::HashMap<u32, String> = first.mids.iter().cloned().collect();
    assert_eq!(
        mids.len(),
        2,
        "each track's section is named: {:?}",
        first.mids
    );
    event(&mut events, PlaneEvent::Connected).await;

    let stop = Arc::new(AtomicBool::new(false));
    feed(vec![audio.clone(), video.clone()], stop.clone());
    let mut s = Subscriber {
        id: at.conn,
        _conn: client,
        tracks,
    };
    let held = receive(&mut s, 10).await;
    let pli = PictureLossIndication {
        sender_ssrc: 0,
        media_ssrc: held[1].ssrcs().await[0],
    };
    held[1].write_rtcp(vec![Box::new(pli)]).await.unwrap();
    event(&mut events, PlaneEvent::KeyframeWanted { ssrc: 2222 }).await;

    // The camera is taken off and a screen share added: the share takes the camera's place
    // in the description, and what is still handed in for the camera goes nowhere.
    plane.remove_track(at, &video).await;
    let screen = plane
        .add_track(
            at,
            PlayTrack {
                codec: MediaCodec::Vp8,
                stream_id: "judge".into(),
                track_id: "judge-screen".into(),
            },
            vec![MediaCodec::Vp8],
            3333,
        )
        .await
        .unwrap();
    let before = plane.stats().await.unwrap();
    let second = answer(&plane, at, &mut s._conn).await;
    let mids2: std::collections::HashMap<u32, String> = second.mids.iter().cloned().collect();
    assert_eq!(mids2.get(&3333), mids.get(&2222), "the section is reused");
    assert!(!mids2.contains_key(&2222), "the camera is gone");
    feed_as(vec![(screen, MediaCodec::Vp8)], stop.clone());
    let shared = tokio::time::timeout(T, s.tracks.recv())
        .await
        .expect("the share arrives in time")
        .expect("a track");
    assert_eq!(shared.ssrcs().await, vec![3333]);
    packets(&shared, 10).await;
    stop.store(true, Ordering::Relaxed);
    let after = plane.stats().await.unwrap();
    assert!(
        after.refused > before.refused,
        "the camera's packets were refused once it was taken off: {before:?} {after:?}"
    );

    plane.close_playing(at.conn, at.token).await;
    event(&mut events, PlaneEvent::Closed).await;
    assert!(
        plane.offer(at).await.is_err(),
        "a closed connection offers nothing"
    );
}
