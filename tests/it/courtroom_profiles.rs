//! Courtroom cameras in the H.264 profiles they send (Art. 33): main and high pass through to
//! those who decode them, and a baseline rendition reaches those who do not, whatever else a
//! subscriber receives (people's VP8) and in whichever order.

use std::time::Duration;

use gavel_media_pipelines::receiver::{decode_h264, h264_nal_units};
use gavel_media_pipelines::rtsp_test_server::TestServer;
use gavel_signaling::{MediaKind, ServerMessage};

use crate::courtroom::{assert_camera_own_slices, open, payloads, register};
use crate::media_peer::{MediaPeer, peer};
use crate::support::{Backend, TestApp};

/// Waits (20 s at most) until what `p` received of `device` decodes into `n` pictures (the
/// first packets may precede the first key frame); the H.264 profile it declares.
async fn pictures_of(p: &MediaPeer, device: &str, n: usize) -> Option<String> {
    crate::support::wait_for(Duration::from_secs(20), "decodable pictures", || async {
        let video = payloads(p, device, MediaKind::Video, 0);
        let (profile, pictures) = tokio::task::spawn_blocking(move || {
            decode_h264(&h264_nal_units(video.iter().map(Vec::as_slice))).unwrap()
        })
        .await
        .unwrap();
        if pictures >= n {
            return Some(profile);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        None
    })
    .await
}

/// A clerk whose device decodes constrained baseline H.264 only (as some phones and hardware
/// decoders do), in `hearing`, welcomed.
async fn baseline_only_clerk(app: &TestApp, hearing: &str) -> MediaPeer {
    use gavel::sfu::codec::MediaCodec;
    let id = app.participant(hearing, "clerk").await;
    let token = app.join_token(hearing, &id).await;
    let codecs = [MediaCodec::Opus, MediaCodec::Vp8, MediaCodec::H264];
    let factory = gavel::sfu::PeerFactory::new(vec!["127.0.0.1:0".into()]).with_codecs(&codecs);
    let mut clerk = MediaPeer::join_with(app.connect_ws().await, id, &token, factory).await;
    clerk
        .expect(|m| matches!(m, ServerMessage::Welcome { .. }))
        .await;
    clerk
}

/// Most courtroom cameras send high profile (without B-frames): passed through in it to those
/// who take it (the judge, as browsers do), and, for a subscriber that decodes constrained
/// baseline only, transcoded once into a rendition of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_high_profile_camera_passes_through_and_a_baseline_only_subscriber_gets_a_rendition() {
    let rtsp = TestServer::start(None).unwrap();
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (_, hearing) = app.docket_and_hearing().await;
    open(&app, &hearing).await;
    let judge = peer(&app, &hearing, "judge").await;
    let clerk = baseline_only_clerk(&app, &hearing).await;
    let device = register(&app, &hearing, rtsp.port, "/courtroom-high-ip", None).await;

    judge.wait_received(&device, MediaKind::Video, 100).await;
    assert_camera_own_slices(&judge, &device, rtsp.port, "/courtroom-high-ip").await;
    let video = payloads(&judge, &device, MediaKind::Video, 0);
    let (profile, pictures) =
        decode_h264(&h264_nal_units(video.iter().map(Vec::as_slice))).unwrap();
    assert_eq!(profile.as_deref(), Some("high"), "the camera's own profile");
    assert!(pictures >= 60, "{pictures} pictures decoded");

    clerk.wait_received(&device, MediaKind::Audio, 50).await;
    let profile = pictures_of(&clerk, &device, 20).await;
    assert_eq!(profile.as_deref(), Some("constrained-baseline"));
}

/// A hearing as it is: people (VP8) and a courtroom camera (H.264) together. A subscriber who
/// saw a person first still gets the camera, in its own high profile or, decoding baseline
/// only, in the rendition; and a person who starts after the camera still reaches everyone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_and_a_courtroom_camera_reach_every_subscriber_in_either_order() {
    let rtsp = TestServer::start(None).unwrap();
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.signaling.lobby_kinds.clear()).await;
    let (_, hearing) = app.docket_and_hearing().await;
    open(&app, &hearing).await;
    let mut party = peer(&app, &hearing, "party").await;
    party.publish().await;
    let judge = peer(&app, &hearing, "judge").await;
    let clerk = baseline_only_clerk(&app, &hearing).await;
    // The person first.
    for p in [&judge, &clerk] {
        p.wait_received(&party.id, MediaKind::Video, 30).await;
    }
    // Then the camera: its own profile to the judge, the rendition to the clerk.
    let device = register(&app, &hearing, rtsp.port, "/courtroom-high-ip", None).await;
    for (p, profile) in [(&judge, "high"), (&clerk, "constrained-baseline")] {
        let got = pictures_of(p, &device, 20).await;
        assert_eq!(got.as_deref(), Some(profile));
    }
    // A person after the camera.
    let mut counsel = peer(&app, &hearing, "counsel").await;
    counsel.publish().await;
    for p in [&judge, &clerk] {
        let got = p.wait_received(&counsel.id, MediaKind::Video, 30).await;
        assert_eq!(got.corrupt, 0, "byte for byte");
    }
    party.wait_received(&device, MediaKind::Video, 30).await;
}
