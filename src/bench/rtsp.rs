//! `gavel bench rtsp`: what a courtroom camera costs the server, and how much later its picture
//! reaches a subscriber than a plain RTSP client gets it.
//!
//! A real RTSP server (the tests' `scripts/rtsp-test-server.py`) serves a 1080p30 H.264 camera
//! at 4 Mbit/s from a clip encoded once (so serving costs the machine almost nothing): constrained
//! baseline, which passes through, or high profile with B-frames (`--transcode`), which the
//! server transcodes. The bench starts `gavel serve` as a child, opens a hearing, registers N
//! such devices and joins one subscriber (a real `webrtc` peer). Over the window it reads the
//! server's CPU from `/proc` (per device), and for pass-through matches each H.264 slice the
//! subscriber receives, byte for byte, with the same slice as a plain RTSP client on the same
//! (shared) stream received it: the difference of arrival times on this process's one clock is
//! the latency the server adds (ingest, SFU, WebRTC). A transcoded camera's bytes differ, but
//! its pictures do not: both receivers' frames are decoded afterwards (never during the window,
//! which would load the machine), and each picture the subscriber got is matched with the
//! reference picture it correlates with (`gavel_media_pipelines::frame_match`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use gavel_media_pipelines::frame_match::{self, frames, h264_thumbnails};
use gavel_media_pipelines::receiver::{h264_nal_units_at, rtsp_video_packets};
use gavel_media_pipelines::rtsp_test_server::{Options, TestServer};
use gavel_signaling::MediaKind;
use serde_json::json;

use super::{Target, cpu_us, load, percentile, rss_mb};

/// What to run.
#[derive(Debug, Clone)]
pub(crate) struct RtspBench {
    /// Devices pulled at once.
    pub(crate) devices: usize,
    /// High profile with B-frames (transcoded) instead of constrained baseline (passed through).
    pub(crate) transcode: bool,
    /// Measured seconds.
    pub(crate) duration: u64,
    /// Pin the server to this CPU (and its threads with it).
    pub(crate) pin: Option<usize>,
    /// Print JSON.
    pub(crate) json: bool,
}

/// Received video packets: when, the RTP timestamp, and the payload.
type Arrivals = Arc<Mutex<Vec<(Instant, u32, Vec<u8>)>>>;

/// Runs the benchmark and returns the summary line.
pub(crate) async fn run(b: RtspBench) -> anyhow::Result<String> {
    anyhow::ensure!(
        b.devices > 0 && (1..=40).contains(&b.duration),
        "need devices and a duration of 1 to 40 s (the clip lasts a minute)"
    );
    gavel::app::install_crypto_provider();
    let clips = std::env::var_os("GAVEL_MEDIA_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/gavel/media")))
        .context("no HOME")?
        .join("rtsp-bench");
    eprintln!("bench: starting the RTSP server (encodes its 1080p clips the first time)");
    let rtsp = tokio::task::spawn_blocking(move || {
        TestServer::start_with(&Options {
            bench: Some(&clips),
            ..Options::default()
        })
    })
    .await?
    .context("the RTSP test server (make setup installs its Python bindings)")?;
    let mount = if b.transcode { "/bench-high" } else { "/bench" };
    let url = format!("rtsp://127.0.0.1:{}{mount}", rtsp.port);

    let target = Target::own(b.pin).await?;
    let pid = target.child.as_ref().and_then(|c| c.pid());
    let api = &target.api;
    let docket = api
        .post("/api/v1/dockets", json!({"case_number": format!("BENCH-RTSP-{}", gavel::clock::now_ms()), "title": "Load", "court": "Bench", "case_type": "civil"}))
        .await?;
    let d = docket["id"].as_str().context("docket id")?;
    // A pre-trial conference: not recorded, so the figure is the device's own cost.
    let hearing = api
        .post(
            &format!("/api/v1/dockets/{d}/hearings"),
            json!({"kind": "pre_trial", "scheduled_start": "2030-01-01T09:00:00Z"}),
        )
        .await?;
    let h = hearing["id"].as_str().context("hearing id")?.to_owned();
    api.post(
        &format!("/api/v1/hearings/{h}/transitions"),
        json!({"to": "open"}),
    )
    .await?;
    let arrivals: Arrivals = Arc::default();
    let seen: Arc<Mutex<HashMap<String, u64>>> = Arc::default();
    let (log, count) = (arrivals.clone(), seen.clone());
    let first_device: Arc<Mutex<Option<String>>> = Arc::default();
    let first = first_device.clone();
    let tap: load::Tap = Arc::new(move |publisher, kind, p| {
        if kind != MediaKind::Video {
            return;
        }
        *count
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(publisher.to_owned())
            .or_default() += 1;
        let is_first = first
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_deref()
            .is_some_and(|f| f == publisher);
        if is_first {
            let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
            log.push((Instant::now(), p.header.timestamp, p.payload.to_vec()));
        }
    });
    let meter = load::Meter::new(gavel::clip::Clip::default());
    let (_, token) = api.token(&h, "clerk", 0).await?;
    let _subscriber = load::join(
        target.addr,
        &target.host,
        target.tls.clone(),
        token,
        false,
        meter.clone(),
        Some(tap),
    )
    .await?;
    let mut devices = Vec::new();
    for n in 0..b.devices {
        let dev = api
            .post(
                &format!("/api/v1/hearings/{h}/devices"),
                json!({"name": format!("Bench camera {n}"), "url": url}),
            )
            .await?;
        devices.push(dev["id"].as_str().context("device id")?.to_owned());
    }
    *first_device.lock().unwrap_or_else(|e| e.into_inner()) = devices.first().cloned();
    // Warm up: every device's video reaches the subscriber (or 60 s), then a second more.
    let warm = Instant::now();
    loop {
        let all = {
            let seen = seen.lock().unwrap_or_else(|e| e.into_inner());
            devices
                .iter()
                .all(|d| seen.get(d).copied().unwrap_or(0) > 100)
        };
        if all {
            break;
        }
        anyhow::ensure!(
            warm.elapsed() < Duration::from_secs(60),
            "the devices' video did not reach the subscriber within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;

    // The window: server CPU, and (pass-through) a plain RTSP client on the same stream.
    let window = Duration::from_secs(b.duration);
    let reference = {
        let url = url.clone();
        tokio::task::spawn_blocking(move || {
            rtsp_video_packets(&url, window + Duration::from_secs(1))
        })
    };
    let started = Instant::now();
    let cpu0 = pid.and_then(cpu_us);
    let packets0 = seen
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .values()
        .sum::<u64>();
    tokio::time::sleep(window).await;
    let cpu1 = pid.and_then(cpu_us);
    let packets1 = seen
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .values()
        .sum::<u64>();
    let rss = pid.and_then(rss_mb);
    let secs = window.as_secs_f64();
    let cpu_pct = match (cpu0, cpu1) {
        (Some(a), Some(b)) => (b - a) as f64 / (secs * 1e6) * 100.0,
        _ => f64::NAN,
    };
    let reference = reference.await?.map_err(anyhow::Error::msg)?;
    let received: Vec<(Instant, u32, Vec<u8>)> = arrivals
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter(|(at, _, _)| *at >= started)
        .cloned()
        .collect();
    let latencies = if b.transcode {
        // After the window: decoding is this process's work, not the server's.
        tokio::task::spawn_blocking(move || {
            let thumbs = |p: Vec<(Instant, u32, Vec<u8>)>| h264_thumbnails(&frames(p));
            let (reference, received) = (thumbs(reference)?, thumbs(received)?);
            Ok::<_, String>(frame_match::latency_ms(&reference, &received))
        })
        .await?
        .map_err(anyhow::Error::msg)?
    } else {
        let payloads = |p: Vec<(Instant, u32, Vec<u8>)>| {
            p.into_iter().map(|(at, _, p)| (at, p)).collect::<Vec<_>>()
        };
        added_latency_ms(&payloads(reference), &payloads(received))
    };
    let matched = latencies.len();
    let summary = json!({
        "devices": b.devices,
        "path": if b.transcode { "transcode" } else { "pass-through" },
        "duration_s": b.duration,
        "video_pps": ((packets1 - packets0) as f64 / secs).round(),
        "server_cpu_pct": (cpu_pct * 10.0).round() / 10.0,
        "server_cpu_pct_per_device": (cpu_pct / b.devices as f64 * 100.0).round() / 100.0,
        "server_rss_mb": rss.map(|r| (r * 10.0).round() / 10.0),
        "added_latency_ms_p50": (!latencies.is_empty()).then(|| (percentile(&latencies, 0.5) * 10.0).round() / 10.0),
        "added_latency_ms_p95": (!latencies.is_empty()).then(|| (percentile(&latencies, 0.95) * 10.0).round() / 10.0),
        // Slices matched byte for byte (pass-through), or pictures (transcoded).
        "matched": matched,
    });
    drop(rtsp);
    if b.json {
        return Ok(summary.to_string());
    }
    let keys = [
        "path",
        "devices",
        "video_pps",
        "server_cpu_pct",
        "server_cpu_pct_per_device",
        "server_rss_mb",
        "added_latency_ms_p50",
        "added_latency_ms_p95",
        "matched",
    ];
    Ok(keys
        .iter()
        .map(|k| format!("{k}={}", summary[k]))
        .collect::<Vec<_>>()
        .join(" "))
}

/// For each H.264 slice the subscriber received that the plain client also received (the same
/// bytes), how much later it arrived, in ms, sorted.
fn added_latency_ms(reference: &[(Instant, Vec<u8>)], received: &[(Instant, Vec<u8>)]) -> Vec<f64> {
    let units = |packets: &[(Instant, Vec<u8>)]| {
        h264_nal_units_at(packets.iter().map(|(at, p)| (*at, p.as_slice())))
            .into_iter()
            .filter(|(_, u)| matches!(u.first().map(|b| b & 0x1f), Some(1 | 5)))
            .collect::<Vec<_>>()
    };
    let at_reference: HashMap<Vec<u8>, Instant> = units(reference)
        .into_iter()
        .map(|(at, u)| (u, at))
        .collect();
    let mut out: Vec<f64> = units(received)
        .into_iter()
        .filter_map(|(at, u)| {
            let r = at_reference.get(&u)?;
            Some(at.saturating_duration_since(*r).as_secs_f64() * 1000.0)
        })
        .collect();
    out.sort_by(f64::total_cmp);
    out
}
