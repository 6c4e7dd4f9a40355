//! A courtroom device's stream, looked at through a real RTSP server on loopback (GStreamer's,
//! `scripts/rtsp-test-server.py`): what it sends is read from the stream itself, and bad
//! credentials are a clear refusal.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use gavel_media_pipelines::rtsp::{RtspError, RtspSource, RtspTransport, probe};
use gavel_media_pipelines::rtsp_test_server::TestServer;

/// Starts the test server (asking for `court`/`pw` when `auth`).
fn server(auth: bool) -> TestServer {
    TestServer::start(auth.then_some(("court", "pw")))
        .expect("the RTSP test server starts (make setup installs it)")
}

fn source(
    s: &TestServer,
    path: &str,
    password: Option<&str>,
    transport: RtspTransport,
) -> RtspSource {
    RtspSource {
        url: format!("rtsp://127.0.0.1:{}{path}", s.port),
        user: password.map(|_| "court".to_owned()),
        password: password.map(str::to_owned),
        transport,
        tls_pin: None,
        tls_ca: None,
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
        tls_pin: None,
        tls_ca: None,
    };
    assert!(matches!(
        probe(&src, WITHIN),
        Err(RtspError::Unreachable(_))
    ));
}

mod ingest {
    use std::time::{Duration, Instant};

    use gavel_media_pipelines::ingest::{Ingest, Part, Path, Plan};
    use gavel_media_pipelines::rtsp::RtspTransport;
    use gstreamer as gst;
    use gstreamer::prelude::*;
    use gstreamer_app as gst_app;

    use super::{server, source};

    const PLAN: Plan = Plan {
        video: Some(Path::PassThrough),
        audio: Some(Path::Transcode),
        video_pt: 102,
        audio_pt: 111,
        fallback_pt: None,
    };

    /// Collects `n` packets of `part` (within 20 s).
    fn collect(
        rx: &std::sync::mpsc::Receiver<gavel_media_pipelines::ingest::Packet>,
        part: Part,
        n: usize,
    ) -> Vec<Vec<u8>> {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut got = Vec::new();
        while got.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            let p = rx
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("{n} {part:?} packets in time, got {}", got.len()));
            if p.part == part {
                got.push(p.rtp);
            }
        }
        got
    }

    /// Plays `packets` into a receiver pipeline (`launch`, from an `appsrc` named `src` to an
    /// `appsink` named `sink`) and returns what comes out.
    fn receive(launch: &str, packets: &[Vec<u8>]) -> Vec<gst::Sample> {
        gst::init().unwrap();
        let pipeline = gst::parse::launch(launch)
            .unwrap()
            .downcast::<gst::Pipeline>()
            .unwrap();
        let src = pipeline
            .by_name("src")
            .unwrap()
            .downcast::<gst_app::AppSrc>()
            .unwrap();
        let sink = pipeline
            .by_name("sink")
            .unwrap()
            .downcast::<gst_app::AppSink>()
            .unwrap();
        pipeline.set_state(gst::State::Playing).unwrap();
        for p in packets {
            src.push_buffer(gst::Buffer::from_slice(p.clone())).unwrap();
        }
        src.end_of_stream().unwrap();
        let mut out = Vec::new();
        while let Some(sample) = sink.try_pull_sample(gst::ClockTime::from_seconds(5)) {
            out.push(sample);
        }
        pipeline.set_state(gst::State::Null).unwrap();
        out
    }

    /// Depayloads H.264 RTP as a receiver would: the profile it declares and the frames it makes.
    fn receive_h264(packets: &[Vec<u8>]) -> (Option<String>, usize) {
        let frames = receive(
            "appsrc name=src format=time caps=application/x-rtp,media=video,clock-rate=90000,encoding-name=H264,payload=102 \
             ! rtph264depay ! h264parse ! appsink name=sink sync=false",
            packets,
        );
        let profile = frames.first().and_then(|f| {
            f.caps()
                .and_then(|c| c.structure(0))
                .and_then(|s| s.get::<&str>("profile").ok())
                .map(str::to_owned)
        });
        (profile, frames.len())
    }

    fn payload_type(rtp: &[u8]) -> u8 {
        rtp[1] & 0x7f
    }

    #[test]
    fn a_baseline_camera_passes_through_without_an_encoder() {
        let s = server(true);
        let src = source(&s, "/h264-baseline", Some("pw"), RtspTransport::Tcp);
        let (ingest, rx) = Ingest::start(&src, PLAN).unwrap();
        let video = collect(&rx, Part::Video, 200);
        assert!(
            video
                .iter()
                .all(|p| payload_type(p) == 102 && p.len() <= 1200)
        );
        assert!(!ingest.transcodes_video(), "re-payloaded, never decoded");
        let (profile, frames) = receive_h264(&video);
        assert_eq!(profile.as_deref(), Some("constrained-baseline"));
        assert!(frames >= 20, "{frames} frames");
    }

    #[test]
    fn b_frames_are_transcoded_once_to_baseline_and_aac_to_opus() {
        let s = server(false);
        let video_src = source(&s, "/h264-high", None, RtspTransport::Tcp);
        let plan = Plan {
            video: Some(Path::Transcode),
            ..PLAN
        };
        let (ingest, rx) = Ingest::start(&video_src, plan).unwrap();
        let video = collect(&rx, Part::Video, 150);
        assert!(ingest.transcodes_video());
        let (profile, frames) = receive_h264(&video);
        assert_eq!(
            profile.as_deref(),
            Some("constrained-baseline"),
            "no B-frames in baseline"
        );
        assert!(frames >= 10, "{frames} frames");

        let audio_src = source(&s, "/aac", None, RtspTransport::Tcp);
        let (_audio, rx) = Ingest::start(&audio_src, PLAN).unwrap();
        let audio = collect(&rx, Part::Audio, 50);
        assert!(
            audio.iter().all(|p| payload_type(p) == 111),
            "Opus, as the SFU forwards it"
        );
        assert!(
            decoded_opus_samples(&audio) > 48_000 / 2,
            "half a second of sound decodes"
        );
    }

    /// Decodes Opus RTP as a receiver would; returns the (mono) samples it makes.
    fn decoded_opus_samples(packets: &[Vec<u8>]) -> usize {
        receive(
            "appsrc name=src format=time caps=application/x-rtp,media=audio,clock-rate=48000,encoding-name=OPUS,payload=111 \
             ! rtpopusdepay ! opusdec ! audioconvert ! audio/x-raw,format=S16LE,channels=1 \
             ! appsink name=sink sync=false",
            packets,
        )
        .iter()
        .map(|s| s.buffer().map_or(0, |b| b.size()) / 2)
        .sum()
    }

    /// Every packet that arrives for `d`.
    fn during(
        rx: &std::sync::mpsc::Receiver<gavel_media_pipelines::ingest::Packet>,
        d: Duration,
    ) -> Vec<gavel_media_pipelines::ingest::Packet> {
        let until = Instant::now() + d;
        let mut got = Vec::new();
        while let Ok(p) = rx.recv_timeout(until.saturating_duration_since(Instant::now())) {
            got.push(p);
        }
        got
    }

    /// The packets with payload type `pt` (a receiver's own numbering).
    fn as_pt(packets: &[Vec<u8>], pt: u8) -> Vec<Vec<u8>> {
        packets
            .iter()
            .map(|p| {
                let mut p = p.clone();
                p[1] = (p[1] & 0x80) | pt;
                p
            })
            .collect()
    }

    /// A high-profile camera without B-frames is passed through in its profile; its
    /// constrained-baseline rendition (for receivers that decode nothing else) is made only
    /// while asked for, and stops when no longer.
    #[test]
    fn a_high_profile_camera_passes_through_and_its_baseline_rendition_is_made_only_on_demand() {
        let s = server(false);
        let src = source(&s, "/h264-high-ip", None, RtspTransport::Tcp);
        let plan = Plan {
            audio: None,
            video_pt: 106,
            fallback_pt: Some(102),
            ..PLAN
        };
        let (ingest, rx) = Ingest::start(&src, plan).unwrap();
        let video = collect(&rx, Part::Video, 150);
        assert!(video.iter().all(|p| payload_type(p) == 106));
        assert!(!ingest.transcodes_video(), "nobody asked for the rendition");
        let (profile, frames) = receive_h264(&as_pt(&video, 102));
        assert_eq!(profile.as_deref(), Some("high"));
        assert!(frames >= 10, "{frames} frames");
        let before = during(&rx, Duration::from_secs(1));
        assert!(
            before.iter().all(|p| p.part == Part::Video),
            "no rendition unasked"
        );

        ingest.set_fallback(true);
        assert!(ingest.transcodes_video());
        let fallback = collect(&rx, Part::Fallback, 100);
        assert!(
            fallback
                .iter()
                .all(|p| payload_type(p) == 102 && p.len() <= 1200)
        );
        let (profile, frames) = receive_h264(&fallback);
        assert_eq!(profile.as_deref(), Some("constrained-baseline"));
        assert!(frames >= 10, "{frames} frames");

        ingest.set_fallback(false);
        // What was in the transcoder drains; then nothing more comes.
        let _ = during(&rx, Duration::from_secs(1));
        let after = during(&rx, Duration::from_millis(1500));
        assert!(
            after.iter().any(|p| p.part == Part::Video),
            "the camera goes on"
        );
        assert!(
            after.iter().all(|p| p.part != Part::Fallback),
            "the rendition stopped"
        );
        assert!(!ingest.transcodes_video());
    }

    /// An Opus microphone passes through (no encoder), and how loud the courtroom is is still
    /// measured, on a decoded copy.
    #[test]
    fn an_opus_microphone_passes_through_and_its_level_is_still_measured() {
        let s = server(false);
        let src = source(&s, "/opus", None, RtspTransport::Tcp);
        let plan = Plan {
            video: None,
            audio: Some(Path::PassThrough),
            ..PLAN
        };
        let (ingest, rx) = Ingest::start(&src, plan).unwrap();
        let audio = collect(&rx, Part::Audio, 50);
        assert!(audio.iter().all(|p| payload_type(p) == 111));
        assert!(!ingest.transcodes_audio(), "re-payloaded, never encoded");
        assert!(decoded_opus_samples(&audio) > 48_000 / 2);
        let deadline = Instant::now() + Duration::from_secs(5);
        let heard = loop {
            let _ = during(&rx, Duration::from_millis(100));
            if let (_, Some(level)) = ingest.watch() {
                break level;
            }
            assert!(Instant::now() < deadline, "no level measured");
        };
        assert!(heard < 60, "a sine at full scale is loud: {heard}");
    }
}
