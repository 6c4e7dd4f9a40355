//! A courtroom device's stream, looked at through a real RTSP server on loopback (GStreamer's,
//! `scripts/rtsp-test-server.py`): what it sends is read from the stream itself, and bad
//! credentials are a clear refusal.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use gavel_media_pipelines::rtsp::{RtspError, RtspSource, RtspTransport, probe};

/// The test server; killed when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the server (asking for `court`/`pw` when `auth`) and waits for it to listen.
fn server(auth: bool) -> Server {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scripts/rtsp-test-server.py"
    );
    let mut cmd = Command::new("/usr/bin/python3");
    cmd.arg(script).stdout(Stdio::piped());
    if auth {
        cmd.args(["--user", "court", "--password", "pw"]);
    }
    let mut child = cmd
        .spawn()
        .expect("the RTSP test server starts (make setup installs it)");
    let stdout = child.stdout.take().unwrap();
    // The server prints `ready <port>` once it listens; a line never comes if it failed.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the RTSP test server said it was ready");
    let port = line
        .strip_prefix("ready ")
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    Server { child, port }
}

fn source(s: &Server, path: &str, password: Option<&str>, transport: RtspTransport) -> RtspSource {
    RtspSource {
        url: format!("rtsp://127.0.0.1:{}{path}", s.port),
        user: password.map(|_| "court".to_owned()),
        password: password.map(str::to_owned),
        transport,
    }
}

const WITHIN: Duration = Duration::from_secs(20);

#[test]
fn a_baseline_camera_over_tcp_is_h264_without_b_frames() {
    let s = server(true);
    let got = probe(
        &source(&s, "/h264-baseline", Some("pw"), RtspTransport::Tcp),
        WITHIN,
    )
    .unwrap();
    let v = got.video.expect("video");
    assert_eq!(v.encoding, "H264");
    assert_eq!(v.profile.as_deref(), Some("constrained-baseline"));
    assert!(v.frames >= 30, "{v:?}");
    assert!(!v.b_frames, "{v:?}");
}

#[test]
fn a_high_profile_camera_with_b_frames_is_told_apart() {
    let s = server(false);
    let got = probe(&source(&s, "/h264-high", None, RtspTransport::Tcp), WITHIN).unwrap();
    let v = got.video.expect("video");
    assert_eq!(v.profile.as_deref(), Some("high"));
    assert!(v.b_frames, "presentation times went backwards: {v:?}");
}

#[test]
fn aac_audio_over_udp_is_named() {
    let s = server(false);
    let got = probe(&source(&s, "/aac", None, RtspTransport::Udp), WITHIN).unwrap();
    assert_eq!(got.video, None);
    assert_eq!(got.audio.as_deref(), Some("MPEG4-GENERIC"));
}

#[test]
fn a_wrong_password_is_refused_as_unauthorized_and_never_printed() {
    let s = server(true);
    let src = source(
        &s,
        "/h264-baseline",
        Some("not-the-password"),
        RtspTransport::Tcp,
    );
    assert!(!format!("{src:?}").contains("not-the-password"));
    assert_eq!(probe(&src, WITHIN), Err(RtspError::Unauthorized));
    let no_user = source(&s, "/h264-baseline", None, RtspTransport::Tcp);
    assert_eq!(probe(&no_user, WITHIN), Err(RtspError::Unauthorized));
}

#[test]
fn a_device_that_is_not_there_is_unreachable() {
    // A port nothing listens on (the server is started and stopped to free one).
    let port = server(false).port;
    let src = RtspSource {
        url: format!("rtsp://127.0.0.1:{port}/h264-baseline"),
        user: None,
        password: None,
        transport: RtspTransport::Tcp,
    };
    assert!(matches!(
        probe(&src, WITHIN),
        Err(RtspError::Unreachable(_))
    ));
}
