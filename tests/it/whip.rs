//! WHIP ingest (RFC 9725) with a real encoder: GStreamer's webrtcbin
//! (`scripts/whip-test-client.py`; Debian's `simple-whip-client` aborts on bookworm) publishes
//! test sources into a hearing as a participant, with and without trickle ICE; a real `webrtc` subscriber receives them; bad tokens are refused; `DELETE` (the client's
//! teardown) takes the participant out of the roster.

use std::process::Stdio;
use std::time::Duration;

use gavel_signaling::{MediaKind, ServerMessage};

use crate::media_peer::{MediaPeer, peer};
use crate::support::{Backend, TestApp};

/// A running WHIP encoder; interrupted (so it tears the session down) or killed when dropped.
pub(crate) struct Encoder(tokio::process::Child);

impl Encoder {
    pub(crate) fn start(app: &TestApp, hearing: &str, token: &str, trickle: bool) -> Self {
        Self::start_showing(app, hearing, token, trickle, "ball")
    }

    /// The same, its picture `pattern` (`ball`: black and white; `smpte`: colour bars).
    pub(crate) fn start_showing(
        app: &TestApp,
        hearing: &str,
        token: &str,
        trickle: bool,
        pattern: &str,
    ) -> Self {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/whip-test-client.py");
        let ca = app.config.server.data_dir.join("tls/cert.pem");
        // Debian's Python: it has the GStreamer bindings (a pyenv `python3` may not).
        let mut cmd = tokio::process::Command::new("/usr/bin/python3");
        cmd.arg(script)
            .args([
                "--url",
                &app.url(&format!("/api/v1/hearings/{hearing}/whip")),
            ])
            .args(["--token", token, "--pattern", pattern, "--ca"])
            .arg(ca)
            .stdout(Stdio::piped())
            .kill_on_drop(true);
        if !trickle {
            cmd.arg("--no-trickle");
        }
        Self(
            cmd.spawn()
                .expect("the WHIP test client (make setup installs its bindings)"),
        )
    }

    /// The session's URL, once the server answered (the client prints `published <URL>`).
    async fn location(&mut self) -> String {
        use tokio::io::AsyncBufReadExt;
        let out = self.0.stdout.take().expect("stdout piped");
        let mut lines = tokio::io::BufReader::new(out).lines();
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("the encoder published in time")
            .unwrap()
            .unwrap_or_default();
        line.strip_prefix("published ")
            .unwrap_or_else(|| panic!("not published: {line}"))
            .to_owned()
    }

    /// Interrupts it, as an operator stopping the encoder: it sends `DELETE` and exits.
    async fn stop(mut self) {
        if let Some(pid) = self.0.id() {
            let _ = std::process::Command::new("kill")
                .args(["-INT", &pid.to_string()])
                .status();
        }
        let _ = tokio::time::timeout(Duration::from_secs(10), self.0.wait()).await;
    }
}

/// Waits for a roster in which `id` is present (or absent).
pub(crate) async fn roster_has(p: &mut MediaPeer, id: &str, present: bool) {
    p.expect(|m| match m {
        ServerMessage::Roster { participants } => {
            participants.iter().any(|x| x.id == id) == present
        }
        _ => false,
    })
    .await;
}

async fn an_encoder_publishes_into_the_hearing_and_leaves_with_delete(trickle: bool) {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (_, hearing) = app.docket_and_hearing().await;
    let mut judge = peer(&app, &hearing, "judge").await;
    // The encoder is the clerk's camera: the clerk enters directly.
    let clerk = app.participant(&hearing, "clerk").await;
    let token = app.join_token(&hearing, &clerk).await;
    let encoder = Encoder::start(&app, &hearing, &token, trickle);
    roster_has(&mut judge, &clerk, true).await;
    let audio = judge.wait_received(&clerk, MediaKind::Audio, 50).await;
    let video = judge.wait_received(&clerk, MediaKind::Video, 50).await;
    assert!(audio.packets > 50 && video.packets > 50);
    assert_eq!(judge.video_codec(&clerk).await, "video/VP8");
    encoder.stop().await;
    roster_has(&mut judge, &clerk, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_encoder_publishes_with_trickle_ice_and_leaves_with_delete() {
    an_encoder_publishes_into_the_hearing_and_leaves_with_delete(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_encoder_publishes_without_trickle_and_leaves_with_delete() {
    an_encoder_publishes_into_the_hearing_and_leaves_with_delete(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whip_refuses_bad_tokens_roles_that_may_not_send_and_other_bodies() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (_, hearing) = app.docket_and_hearing().await;
    let path = format!("/api/v1/hearings/{hearing}/whip");
    let offer = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=sendonly\r\na=mid:0\r\n\
        a=rtpmap:111 opus/48000/2\r\na=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n\
        a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\n\
        a=setup:actpass\r\n";
    let post = |token: String, ctype: &'static str| {
        app.client
            .post(app.url(&path))
            .bearer_auth(token)
            .header("content-type", ctype)
            .body(offer)
            .send()
    };
    // Not a participant's token: the platform's key, or nothing a server signed.
    for token in [app.api_key.clone(), "not-a-token".to_owned()] {
        let r = post(token, "application/sdp").await.unwrap();
        assert_eq!(r.status(), 401);
        assert_eq!(r.headers()["access-control-allow-origin"], "*");
    }
    // An observer may not send.
    let observer = app.participant(&hearing, "observer").await;
    let r = post(app.join_token(&hearing, &observer).await, "application/sdp")
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let problem: serde_json::Value = r.json().await.unwrap();
    assert_eq!(problem["type"], "/problems/whip-offer-refused");
    // A party's token, but JSON instead of SDP.
    let party = app.participant(&hearing, "party").await;
    let token = app.join_token(&hearing, &party).await;
    let r = post(token.clone(), "application/json").await.unwrap();
    assert_eq!(r.status(), 415);
    // A session that is not there.
    let r = app
        .client
        .delete(app.url(&format!("{path}/0123456789abcdef")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // Preflight: no token needed; says what a browser client may send and read.
    let r = app
        .client
        .request(reqwest::Method::OPTIONS, app.url(&path))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(r.headers()["accept-post"], "application/sdp");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_plays_a_participant_over_whep_and_ends_with_delete() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (_, hearing) = app.docket_and_hearing().await;
    let mut judge = peer(&app, &hearing, "judge").await;
    judge.publish_clip().await;
    let url = app.url(&format!(
        "/api/v1/hearings/{hearing}/participants/{}/whep",
        judge.id
    ));
    let result = crate::browser::run_script(
        "whep.mjs",
        serde_json::json!({"page": app.url("/"), "url": url, "token": app.api_key}),
    )
    .await;
    assert!(result["frames"].as_u64().unwrap() >= 30, "{result}");
    // Watching is on the record.
    let mut db = app.db().await;
    let seen: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'playback.start' AND subject = $1",
    )
    .bind(format!("participant:{}", judge.id))
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!(seen, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whep_is_for_the_platform_and_those_who_run_the_hearing() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (_, hearing) = app.docket_and_hearing().await;
    let judge = app.participant(&hearing, "judge").await;
    let witness = app.participant(&hearing, "witness").await;
    let offer = "v=0\r\n";
    let post = |token: String, whom: &str| {
        app.client
            .post(app.url(&format!(
                "/api/v1/hearings/{hearing}/participants/{whom}/whep"
            )))
            .bearer_auth(token)
            .header("content-type", "application/sdp")
            .body(offer)
            .send()
    };
    // A sequestered witness may not watch the hearing from outside the room.
    let r = post(app.join_token(&hearing, &witness).await, &judge)
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // Nobody there to watch.
    let r = post(app.api_key.clone(), "no-such-person").await.unwrap();
    assert_eq!(r.status(), 404);
    // Garbage instead of an offer.
    let r = post(app.api_key.clone(), &judge).await.unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_encoders_session_ends_when_its_participant_joins_from_a_browser() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (_, hearing) = app.docket_and_hearing().await;
    let judge = peer(&app, &hearing, "judge").await;
    let clerk = app.participant(&hearing, "clerk").await;
    let token = app.join_token(&hearing, &clerk).await;
    let mut encoder = Encoder::start(&app, &hearing, &token, false);
    let session = encoder.location().await;
    judge.wait_received(&clerk, MediaKind::Video, 30).await;
    // An empty fragment probes the session: 204 while it runs, 404 once it is gone.
    let probe = || async {
        app.client
            .patch(&session)
            .bearer_auth(&token)
            .header("content-type", "application/trickle-ice-sdpfrag")
            .body("")
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_eq!(probe().await, 204);
    // The clerk opens the hearing in a browser: one participant, one place; the encoder's
    // session is over.
    let _browser =
        crate::media_peer::MediaPeer::join(app.connect_ws().await, clerk.clone(), &token).await;
    crate::support::wait_for(
        Duration::from_secs(10),
        "the encoder's session ended",
        || async { (probe().await == 404).then_some(()) },
    )
    .await;
    drop(encoder);
}

/// A courtroom's own encoder, registered by the platform as a WHIP device: it publishes with
/// its device key (shown once) as the `courtroom` participant it is, while the hearing is open;
/// a wrong key, another hearing's, or a removed device's is refused; removing it takes it out
/// of the room.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whip_device_publishes_with_its_key_as_the_courtroom_until_removed() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (docket, hearing) = app.docket_and_hearing().await;
    let devices = format!("/api/v1/hearings/{hearing}/devices");
    // Only what a WHIP device has: a URL or credentials are an error, not ignored.
    for bad in [
        serde_json::json!({"name": "Encoder", "kind": "whip", "url": "rtsp://10.0.0.1/x"}),
        serde_json::json!({"name": "Encoder", "kind": "whip", "transport": "udp"}),
        serde_json::json!({"name": "Camera"}),
    ] {
        app.post_ok(&devices, bad, 422).await;
    }
    let d = app
        .post_ok(
            &devices,
            serde_json::json!({"name": "Courtroom 3 — encoder", "kind": "whip"}),
            201,
        )
        .await;
    let (device, key) = (
        d["id"].as_str().unwrap().to_owned(),
        d["key"].as_str().unwrap().to_owned(),
    );
    assert!(key.starts_with("gvd_"), "{d}");
    assert_eq!(d["kind"], "whip");
    assert_eq!(d["url"], format!("/api/v1/hearings/{hearing}/whip"));
    // The key is shown once: never listed, never in the audit log.
    let listed = app.get_ok(&devices).await;
    assert!(listed[0].get("key").is_none(), "{listed}");
    let mut db = app.db().await;
    let details: Vec<String> = sqlx::query_scalar("SELECT details FROM audit_log")
        .fetch_all(&mut db)
        .await
        .unwrap();
    assert!(details.iter().all(|d| !d.contains(&key)));
    // Nothing to pull, so nothing to check.
    let r = app
        .call(
            reqwest::Method::POST,
            &format!("{devices}/{device}/check"),
            None,
        )
        .await;
    assert_eq!(r.status(), 409);

    let path = format!("/api/v1/hearings/{hearing}/whip");
    let post = |path: String, token: String| {
        app.client
            .post(app.url(&path))
            .bearer_auth(token)
            .header("content-type", "application/sdp")
            .body("v=0\r\n")
            .send()
    };
    // Before the hearing opens, a device takes no part.
    let r = post(path.clone(), key.clone()).await.unwrap();
    assert_eq!(r.status(), 409);
    app.post_ok(
        &format!("/api/v1/hearings/{hearing}/transitions"),
        serde_json::json!({"to": "open"}),
        200,
    )
    .await;
    // A key of the right shape that no device holds; the key at another hearing's endpoint.
    let (forged, _) = gavel::auth::devicekey::generate();
    assert_eq!(post(path.clone(), forged).await.unwrap().status(), 401);
    let other = app
        .post_ok(
            &format!("/api/v1/dockets/{docket}/hearings"),
            serde_json::json!({"kind": "trial", "scheduled_start": "2026-12-01T09:30:00+08:00"}),
            201,
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = post(format!("/api/v1/hearings/{other}/whip"), key.clone())
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // It publishes: in the room under its own name and role, its media arrives.
    let mut judge = peer(&app, &hearing, "judge").await;
    let encoder = Encoder::start(&app, &hearing, &key, true);
    assert_eq!(
        crate::courtroom::roster_entry(&mut judge, &device).await,
        ("courtroom".to_owned(), "Courtroom 3 — encoder".to_owned())
    );
    judge.wait_received(&device, MediaKind::Audio, 50).await;
    judge.wait_received(&device, MediaKind::Video, 50).await;

    // Removed by the platform: out of the room, and its key no longer works.
    app.call(
        reqwest::Method::DELETE,
        &format!("{devices}/{device}"),
        None,
    )
    .await;
    roster_has(&mut judge, &device, false).await;
    assert_eq!(post(path, key).await.unwrap().status(), 401);
    drop(encoder);
}
