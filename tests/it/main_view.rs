//! The hearing's main view over WHEP: a viewer outside the room (here a real `webrtc` peer, as
//! a monitoring wall would be) sees everyone an observer in the hearing sees, in one picture,
//! and hears them mixed. A courtroom camera (black and white, over RTSP) is in it from the
//! start; a witness publishing colour bars (over WHIP) is not while sequestered, and is once
//! the judge calls them.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use gavel::sfu::PeerFactory;
use gavel::sfu::conn::Conn;
use gavel_media_pipelines::receiver::{Picture, decode_vp8_rtp, opus_loudness};
use gavel_media_pipelines::rtsp_test_server::TestServer;
use gavel_signaling::{ClientMessage, MediaKind};
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use rtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use rtc::shared::marshal::Marshal;
use serde_json::json;
use tokio::sync::mpsc;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::RTCSessionDescription;

use crate::media_peer::peer;
use crate::support::{Backend, TestApp, wait_for};
use crate::whip::{Encoder, roster_has};

/// What a viewer received: whole RTP packets, by kind.
#[derive(Clone, Default)]
struct Received {
    video: Arc<Mutex<Vec<Vec<u8>>>>,
    audio: Arc<Mutex<Vec<Vec<u8>>>>,
}

/// A WHEP viewer of `hearing`'s main view (with the platform's key); its session's URL.
async fn watch_main(app: &TestApp, hearing: &str) -> (Conn, Received, String) {
    let (tx, mut tracks) = mpsc::channel::<Arc<dyn TrackRemote>>(8);
    let mut conn = Conn::new(&PeerFactory::new(vec!["127.0.0.1:0".into()]), Some(tx))
        .await
        .unwrap();
    for kind in [RtpCodecKind::Audio, RtpCodecKind::Video] {
        let init = RTCRtpTransceiverInit {
            direction: RTCRtpTransceiverDirection::Recvonly,
            streams: vec![],
            send_encodings: vec![],
        };
        conn.pc
            .add_transceiver_from_kind(kind, Some(init))
            .await
            .unwrap();
    }
    let offer = conn.pc.create_offer(None).await.unwrap();
    let offer = conn.local_with_candidates(offer).await.unwrap();
    let res = app
        .client
        .post(app.url(&format!("/api/v1/hearings/{hearing}/whep")))
        .bearer_auth(&app.api_key)
        .header("content-type", "application/sdp")
        .body(offer)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let answer = res.text().await.unwrap();
    assert!(
        answer.contains("a=ice-lite"),
        "a viewer of VP8 is carried by the media plane (ICE-lite, its one socket)"
    );
    conn.pc
        .set_remote_description(RTCSessionDescription::answer(answer).unwrap())
        .await
        .unwrap();
    let got = Received::default();
    let log = got.clone();
    tokio::spawn(async move {
        while let Some(track) = tracks.recv().await {
            let log = log.clone();
            tokio::spawn(async move {
                let into = match track.kind().await {
                    RtpCodecKind::Audio => log.audio,
                    _ => log.video,
                };
                while let Some(ev) = track.poll().await {
                    if let TrackRemoteEvent::OnRtpPacket(p) = ev
                        && let Ok(bytes) = p.marshal()
                    {
                        into.lock().unwrap().push(bytes.to_vec());
                    }
                }
            });
        }
    });
    (conn, got, location)
}

/// What the main view's pictures look like over the next `secs` seconds, or longer until ten
/// pictures have come (a busy machine mixes fewer a second): the mean of the last half of
/// them, since a picture changes only at the mix's next frames.
async fn looks(got: &Received, secs: u64) -> Picture {
    let from = got.video.lock().unwrap().len();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let pictures = loop {
        let packets: Vec<Vec<u8>> = got.video.lock().unwrap()[from..].to_vec();
        let pictures = tokio::task::spawn_blocking(move || decode_vp8_rtp(&packets))
            .await
            .unwrap()
            .unwrap();
        if pictures.len() >= 10 || tokio::time::Instant::now() >= deadline {
            break pictures;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(
        pictures.len() >= 10,
        "{} pictures in {secs} s and 30 s more",
        pictures.len()
    );
    let tail = &pictures[pictures.len() / 2..];
    let n = tail.len() as f64;
    Picture {
        colour: tail.iter().map(|p| p.colour).sum::<f64>() / n,
        light: tail.iter().map(|p| p.light).sum::<f64>() / n,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_main_view_shows_and_mixes_whom_an_observer_would_and_a_called_witness_joins_it() {
    let rtsp = TestServer::start(None).unwrap();
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (_, hearing) = app.docket_and_hearing().await;
    app.post_ok(
        &format!("/api/v1/hearings/{hearing}/transitions"),
        json!({"to": "open"}),
        200,
    )
    .await;
    let mut judge = peer(&app, &hearing, "judge").await;
    // The courtroom's camera: a white ball on black, and a tone.
    let device = app
        .post_ok(
            &format!("/api/v1/hearings/{hearing}/devices"),
            json!({"name": "Courtroom 3 — bench camera",
                   "url": format!("rtsp://127.0.0.1:{}/courtroom", rtsp.port)}),
            201,
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    judge.wait_received(&device, MediaKind::Video, 30).await;
    // A witness publishing colour bars: sequestered until called.
    let witness = app.participant(&hearing, "witness").await;
    let token = app.join_token(&hearing, &witness).await;
    let _encoder = Encoder::start_showing(&app, &hearing, &token, true, "smpte");
    roster_has(&mut judge, &witness, true).await;

    let (conn, got, location) = watch_main(&app, &hearing).await;
    // The courtroom is seen and heard: its white ball on black, no colour; its tone.
    wait_for(
        Duration::from_secs(20),
        "the main view's pictures",
        || async { (got.video.lock().unwrap().len() > 100).then_some(()) },
    )
    .await;
    let before = looks(&got, 3).await;
    assert!(
        before.light > 0.005,
        "the courtroom's ball is seen: {before:?}"
    );
    assert!(
        before.colour < 0.05,
        "no colour bars while the witness is sequestered: {before:?}"
    );
    let audio: Vec<Vec<u8>> = got
        .audio
        .lock()
        .unwrap()
        .iter()
        .map(|p| p[12..].to_vec())
        .collect();
    assert!(
        audio.len() > 100,
        "{} packets of the mixed sound",
        audio.len()
    );
    let loud = tokio::task::spawn_blocking(move || opus_loudness(&audio))
        .await
        .unwrap()
        .unwrap();
    assert!(loud > 0.02, "the courtroom's tone is heard: {loud}");

    // Called in: the witness's colour bars are in the picture.
    judge
        .send(ClientMessage::CallWitness {
            req: None,
            participant: witness.clone(),
        })
        .await;
    let mut after = before;
    for _ in 0..5 {
        after = looks(&got, 2).await;
        if after.colour > 0.15 {
            break;
        }
    }
    assert!(
        after.colour > 0.15,
        "the called witness's colour bars are seen: {after:?}"
    );
    eprintln!("main view: sequestered {before:?}, called {after:?}, sound {loud:.3}");

    // The viewer ends the session.
    let r = app
        .client
        .delete(app.url(&location))
        .bearer_auth(&app.api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let _ = conn.pc.close().await;
}
