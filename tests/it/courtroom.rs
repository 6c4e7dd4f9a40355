//! E-courtroom cameras in live hearings (Art. 33): a real RTSP server on loopback stands in for
//! the courtroom's hardware; the platform registers it; the server pulls it into the hearing's
//! room as a participant of its own; real `webrtc` subscribers receive it as browsers would.

use std::time::Duration;

use gavel_media_pipelines::receiver::{
    decode_h264, decode_opus, h264_nal_units, rtsp_video_payloads,
};
use gavel_media_pipelines::rtsp_test_server::{Options, TestServer};
use gavel_signaling::{ClientMessage, MediaKind, ServerMessage};
use serde_json::json;
use sqlx::Row;

use crate::media_peer::{MediaPeer, peer};
use crate::support::{Backend, TestApp, wait_for};

pub(crate) const T: Duration = Duration::from_secs(30);

/// Opens `hearing` (its devices come into the room).
pub(crate) async fn open(app: &TestApp, hearing: &str) {
    app.post_ok(
        &format!("/api/v1/hearings/{hearing}/transitions"),
        json!({"to": "open"}),
        200,
    )
    .await;
}

/// Registers a device pulling `mount` of `rtsp`; returns its id.
pub(crate) async fn register(
    app: &TestApp,
    hearing: &str,
    port: u16,
    mount: &str,
    credentials: Option<(&str, &str)>,
) -> String {
    register_with(app, hearing, port, mount, credentials, "tcp").await
}

async fn register_with(
    app: &TestApp,
    hearing: &str,
    port: u16,
    mount: &str,
    credentials: Option<(&str, &str)>,
    transport: &str,
) -> String {
    let mut body = json!({
        "name": "Courtroom 3 — bench camera",
        "url": format!("rtsp://127.0.0.1:{port}{mount}"),
        "transport": transport,
    });
    if let Some((user, password)) = credentials {
        body["username"] = user.into();
        body["password"] = password.into();
    }
    let d = app
        .post_ok(&format!("/api/v1/hearings/{hearing}/devices"), body, 201)
        .await;
    d["id"].as_str().unwrap().to_owned()
}

/// The payloads `p` received from `from` of `kind`, from the `skip`-th on.
pub(crate) fn payloads(p: &MediaPeer, from: &str, kind: MediaKind, skip: usize) -> Vec<Vec<u8>> {
    let log = match kind {
        MediaKind::Video => &p.video_log,
        MediaKind::Audio => &p.audio_log,
    };
    log.lock()
        .unwrap()
        .iter()
        .filter(|r| r.publisher == from)
        .skip(skip)
        .map(|r| r.payload.clone())
        .collect()
}

/// What `p` gets of `device` over 4 s are the camera's own NAL units, byte for byte: compared
/// with what a plain RTSP client receives of the same (shared) stream `mount` over those
/// seconds (a re-encoded stream has none of them).
pub(crate) async fn assert_camera_own_slices(p: &MediaPeer, device: &str, port: u16, mount: &str) {
    let skip = payloads(p, device, MediaKind::Video, 0).len();
    let url = format!("rtsp://127.0.0.1:{port}{mount}");
    let reference =
        tokio::task::spawn_blocking(move || rtsp_video_payloads(&url, Duration::from_secs(4)))
            .await
            .unwrap()
            .unwrap();
    let received = payloads(p, device, MediaKind::Video, skip);
    let camera: std::collections::HashSet<Vec<u8>> =
        h264_nal_units(reference.iter().map(Vec::as_slice))
            .into_iter()
            .collect();
    let slices: Vec<Vec<u8>> = h264_nal_units(received.iter().map(Vec::as_slice))
        .into_iter()
        .filter(|u| matches!(u[0] & 0x1f, 1 | 5))
        .collect();
    let same = slices.iter().filter(|u| camera.contains(*u)).count();
    assert!(slices.len() >= 60, "{} slices in 4 s", slices.len());
    assert!(
        same * 10 >= slices.len() * 8,
        "{same} of {} slices are the camera's own (not re-encoded)",
        slices.len()
    );
}

/// The role and name the roster `p` is sent shows for `id`, once it shows them.
pub(crate) async fn roster_entry(p: &mut MediaPeer, id: &str) -> (String, String) {
    let roster = p
        .expect(|m| match m {
            ServerMessage::Roster { participants } => participants.iter().any(|x| x.id == id),
            _ => false,
        })
        .await;
    let ServerMessage::Roster { participants } = roster else {
        unreachable!()
    };
    let me = participants.iter().find(|x| x.id == id).unwrap();
    (me.role.clone(), me.name.clone())
}

/// Waits for a notice with `code` (other messages are skipped).
async fn notice(p: &mut MediaPeer, code: &str) {
    p.expect(|m| matches!(m, ServerMessage::Notice { code: c, .. } if c == code))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_baseline_courtroom_camera_is_passed_through_byte_for_byte_and_recorded() {
    let rtsp = TestServer::start(None).unwrap();
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (_, hearing) = app.docket_and_hearing().await;
    open(&app, &hearing).await;
    let mut judge = peer(&app, &hearing, "judge").await;
    let device = register(&app, &hearing, rtsp.port, "/courtroom", None).await;

    // It is in the room, under its own name and role.
    assert_eq!(
        roster_entry(&mut judge, &device).await,
        (
            "courtroom".to_owned(),
            "Courtroom 3 — bench camera".to_owned()
        )
    );

    // Its picture and sound arrive.
    judge.wait_received(&device, MediaKind::Video, 100).await;
    judge.wait_received(&device, MediaKind::Audio, 50).await;

    assert_camera_own_slices(&judge, &device, rtsp.port, "/courtroom").await;

    // Decodable as a browser decodes it: constrained baseline, key frames and all.
    let all = payloads(&judge, &device, MediaKind::Video, 0);
    let (profile, pictures) = decode_h264(&h264_nal_units(all.iter().map(Vec::as_slice))).unwrap();
    assert_eq!(profile.as_deref(), Some("constrained-baseline"));
    assert!(pictures >= 60, "{pictures} pictures decoded");
    let audio = payloads(&judge, &device, MediaKind::Audio, 0);
    let samples = decode_opus(&audio).unwrap();
    assert!(samples > 48_000 / 2, "{samples} samples of Opus decoded");

    // Recorded like any participant, into a recording that verifies.
    judge.send(ClientMessage::EndHearing { req: None }).await;
    let dir = app.config.server.data_dir.join("recordings").join(&hearing);
    if let gavel::recording::Verdict::Broken(f) = crate::recording::verify(&app, &dir).await {
        panic!("{f:?}");
    }
    let lines = crate::recording::entries(&dir.join("manifest.jsonl"));
    for track in ["camera", "microphone"] {
        assert!(
            lines
                .iter()
                .any(|l| l["participant"] == device.as_str() && l["track"] == track),
            "the device's {track} is in the record: {lines:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_camera_with_b_frames_is_transcoded_once_and_arrives_without_them() {
    let rtsp = TestServer::start(None).unwrap();
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (_, hearing) = app.docket_and_hearing().await;
    open(&app, &hearing).await;
    let judge = peer(&app, &hearing, "judge").await;
    let device = register(&app, &hearing, rtsp.port, "/courtroom-high", None).await;
    judge.wait_received(&device, MediaKind::Video, 150).await;
    judge.wait_received(&device, MediaKind::Audio, 50).await;
    let video = payloads(&judge, &device, MediaKind::Video, 0);
    let (profile, pictures) =
        decode_h264(&h264_nal_units(video.iter().map(Vec::as_slice))).unwrap();
    assert_eq!(
        profile.as_deref(),
        Some("constrained-baseline"),
        "a profile without B-frames"
    );
    assert!(pictures >= 20, "{pictures} pictures decoded");
    let samples = decode_opus(&payloads(&judge, &device, MediaKind::Audio, 0)).unwrap();
    assert!(
        samples > 48_000 / 2,
        "AAC arrives as Opus: {samples} samples"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_the_devices_status_and_a_fault_and_the_hearing_goes_on() {
    let rtsp = TestServer::start(Some(("court", "right"))).unwrap();
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (_, hearing) = app.docket_and_hearing().await;
    open(&app, &hearing).await;
    let judge = peer(&app, &hearing, "judge").await;
    let wrong = register(
        &app,
        &hearing,
        rtsp.port,
        "/courtroom",
        Some(("court", "wrong")),
    )
    .await;
    let right = register(
        &app,
        &hearing,
        rtsp.port,
        "/courtroom",
        Some(("court", "right")),
    )
    .await;
    judge.wait_received(&right, MediaKind::Video, 50).await;
    let path = format!("/api/v1/hearings/{hearing}/devices");
    wait_for(T, "the wrong password's status", || async {
        let list = app.get_ok(&path).await;
        let d = list
            .as_array()?
            .iter()
            .find(|d| d["id"] == wrong.as_str())?
            .clone();
        (d["status"] == "unauthorized").then_some(())
    })
    .await;
    let mut db = app.db().await;
    let faults: Vec<String> =
        sqlx::query("SELECT detail FROM faults WHERE component = 'device' AND hearing_id = $1")
            .bind(&hearing)
            .fetch_all(&mut db)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get("detail"))
            .collect();
    assert!(
        faults.iter().any(|f| f.contains("refused the credentials")),
        "{faults:?}"
    );
    assert!(
        faults
            .iter()
            .all(|f| !f.contains("wrong") && !f.contains("right")),
        "{faults:?}"
    );
    // The hearing goes on: a party joins, is admitted, and hears the courtroom.
    let party = peer(&app, &hearing, "party").await;
    judge
        .send(ClientMessage::Admit {
            req: None,
            participant: party.id.clone(),
        })
        .await;
    party.wait_received(&right, MediaKind::Audio, 50).await;
    assert_eq!(judge.received(&wrong, MediaKind::Video).packets, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_camera_that_goes_away_and_comes_back_is_reconnected_and_the_judge_is_told() {
    let rtsp = TestServer::start(None).unwrap();
    let port = rtsp.port;
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (_, hearing) = app.docket_and_hearing().await;
    open(&app, &hearing).await;
    let mut judge = peer(&app, &hearing, "judge").await;
    let device = register(&app, &hearing, port, "/courtroom", None).await;
    judge.wait_received(&device, MediaKind::Video, 50).await;

    drop(rtsp); // the camera's server stops
    notice(&mut judge, "device.lost").await;
    let _back = TestServer::start_at(None, port).unwrap();
    let since = tokio::time::Instant::now();
    notice(&mut judge, "device.back").await;
    assert!(
        since.elapsed() < Duration::from_secs(10),
        "back within 10 s: {:?}",
        since.elapsed()
    );
    let before = judge.received(&device, MediaKind::Video).packets;
    judge
        .wait_received(&device, MediaKind::Video, before + 50)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sequestered_witness_neither_sees_nor_hears_the_courtroom_until_called() {
    let rtsp = TestServer::start(None).unwrap();
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (_, hearing) = app.docket_and_hearing().await;
    open(&app, &hearing).await;
    let judge = peer(&app, &hearing, "judge").await;
    let witness = peer(&app, &hearing, "witness").await;
    let device = register(&app, &hearing, rtsp.port, "/courtroom", None).await;
    judge.wait_received(&device, MediaKind::Audio, 100).await;
    judge.wait_received(&device, MediaKind::Video, 100).await;
    for kind in [MediaKind::Audio, MediaKind::Video] {
        assert_eq!(witness.received(&device, kind).packets, 0, "{kind:?}");
    }
    judge
        .send(ClientMessage::CallWitness {
            req: None,
            participant: witness.id.clone(),
        })
        .await;
    witness.wait_received(&device, MediaKind::Audio, 50).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_camera_over_udp_is_in_the_hearing_and_leaves_when_removed() {
    let rtsp = TestServer::start(None).unwrap();
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (_, hearing) = app.docket_and_hearing().await;
    open(&app, &hearing).await;
    let mut judge = peer(&app, &hearing, "judge").await;
    let device = register_with(&app, &hearing, rtsp.port, "/courtroom", None, "udp").await;
    judge.wait_received(&device, MediaKind::Video, 100).await;
    judge.wait_received(&device, MediaKind::Audio, 50).await;

    // Removed by the platform: out of the roster, and its media stops.
    app.call(
        reqwest::Method::DELETE,
        &format!("/api/v1/hearings/{hearing}/devices/{device}"),
        None,
    )
    .await;
    judge
        .expect(|m| match m {
            ServerMessage::Roster { participants } => !participants.iter().any(|p| p.id == device),
            _ => false,
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_platform_cannot_give_a_person_the_courtroom_role() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (_, hearing) = app.docket_and_hearing().await;
    let r = app
        .call(
            reqwest::Method::POST,
            &format!("/api/v1/hearings/{hearing}/participants"),
            Some(json!({"display_name": "Bench camera", "role": "courtroom", "identity_ref": "idp:x"})),
        )
        .await;
    assert_eq!(r.status(), 422);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(body.to_string().contains("role"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_courtrooms_aac_sound_is_captioned_under_the_devices_name() {
    let dir = gavel::clip::default_dir().parent().unwrap().join("speech");
    let wavs: Vec<_> = (0..3).map(|n| dir.join(format!("s{n:02}.wav"))).collect();
    let rtsp = TestServer::start_with(&Options {
        speech: &wavs,
        ..Options::default()
    })
    .expect("the test speech (make setup)");
    let (app, _models) = crate::captions::captioned(false).await;
    let (_, hearing) = app.docket_and_hearing().await;
    open(&app, &hearing).await;
    let mut judge = peer(&app, &hearing, "judge").await;
    let device = register(&app, &hearing, rtsp.port, "/courtroom-speech", None).await;

    let said = crate::asr::sentences()[..3].join(" ");
    let said_words = said.split_whitespace().count();
    let mut heard: Vec<String> = Vec::new();
    let mut speaking = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(150);
    while heard
        .iter()
        .map(|t| t.split_whitespace().count())
        .sum::<usize>()
        + 2
        < said_words
    {
        let m = tokio::time::timeout_at(deadline, judge.events.recv())
            .await
            .unwrap_or_else(|_| panic!("the courtroom's three sentences captioned: {heard:?}"))
            .expect("connection open");
        match m {
            ServerMessage::Caption {
                participant, text, ..
            } => {
                assert_eq!(participant, device, "attributed to the courtroom device");
                heard.push(text);
            }
            ServerMessage::ActiveSpeaker { participant } if participant == device => {
                speaking = true;
            }
            _ => {}
        }
    }
    assert!(speaking, "the courtroom became the active speaker");
    let wer = gavel::transcribe::wer::wer(&said, &heard.join(" "));
    assert!(
        wer <= 0.35,
        "WER {wer:.2}: said {said:?}, captioned {heard:?}"
    );
    // Stored, with the device's role (the store follows the caption).
    let roles = wait_for(T, "the courtroom's transcript", || async {
        let mut db = app.db().await;
        let roles: Vec<String> = sqlx::query(
            "SELECT role FROM transcript_segments WHERE hearing_id = $1 AND participant_id = $2",
        )
        .bind(&hearing)
        .bind(&device)
        .fetch_all(&mut db)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get("role"))
        .collect();
        (!roles.is_empty()).then_some(roles)
    })
    .await;
    assert!(roles.iter().all(|r| r == "courtroom"), "{roles:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_judge_sees_the_courtroom_camera_in_chromium_in_both_languages() {
    let rtsp = TestServer::start(None).unwrap();
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (_, hearing) = app.docket_and_hearing().await;
    open(&app, &hearing).await;
    // A main-profile camera and a high-profile one: Chromium decodes each in its own profile
    // if it takes it (Debian's takes main, not high), else in the baseline rendition.
    let device = register(&app, &hearing, rtsp.port, "/courtroom-main-ip", None).await;
    let high = app
        .post_ok(
            &format!("/api/v1/hearings/{hearing}/devices"),
            json!({
                "name": "Courtroom 3 — witness camera",
                "url": format!("rtsp://127.0.0.1:{}/courtroom-high-ip", rtsp.port),
            }),
            201,
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let judge = app.participant(&hearing, "judge").await;
    let token = app.join_token(&hearing, &judge).await;
    let link = format!("{}/join/{hearing}#token={token}", app.base);
    let result = crate::browser::run_script(
        "courtroom.mjs",
        json!({
            "links": {"judge": link},
            "device": {"id": device, "name": "Courtroom 3 — bench camera"},
            "profiles": {device.as_str(): "4d00", high.as_str(): "6400"},
        }),
    )
    .await;
    eprintln!("courtroom codecs in Chromium: {}", result["codecs"]);
}
