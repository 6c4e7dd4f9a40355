//! Real pipelines: the pre-encoded clip (made by `make setup`) sent as RTP in real time into a
//! VP8 and an Opus recorder; the segments must exist, close as they go, and play with the
//! expected codec and duration according to `gst-discoverer-1.0`.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use gavel_media_pipelines::PipelineEvent;
use gavel_media_pipelines::recorder::{Codec, TrackRecorder};

fn clip_dir() -> PathBuf {
    std::env::var_os("GAVEL_MEDIA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(&std::env::var_os("HOME").unwrap()).join(".cache/gavel/media"))
        .join("bench-720p")
}

fn units(prefix: &str) -> Vec<Vec<u8>> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(clip_dir())
        .expect("the benchmark clip (make setup)")
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with(prefix))
        .collect();
    names.sort();
    names.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

fn rtp(pt: u8, seq: u16, ts: u32, marker: bool, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, (u8::from(marker) << 7) | pt];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&0x1234_5678u32.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// Seconds of media in `file`, and its description, according to gst-discoverer.
fn discover(file: &Path) -> (f64, String) {
    let out = std::process::Command::new("gst-discoverer-1.0")
        .arg(file)
        .output()
        .expect("gst-discoverer-1.0 (gstreamer1.0-tools)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let duration = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Duration: "))
        .map(|d| {
            let parts: Vec<f64> = d.split(':').map(|x| x.parse().unwrap()).collect();
            parts[0] * 3600.0 + parts[1] * 60.0 + parts[2]
        })
        .unwrap_or_else(|| panic!("no duration for {}: {text}", file.display()));
    (duration, text)
}

#[test]
fn a_track_is_recorded_as_received_in_closed_playable_segments() {
    let dir = tempfile::tempdir().unwrap();
    let segment = Duration::from_secs(2);
    let video = TrackRecorder::start(dir.path(), "video", Codec::Vp8, 96, segment).unwrap();
    let audio = TrackRecorder::start(dir.path(), "audio", Codec::Opus, 111, segment).unwrap();
    let frames = units("v");
    let packets = units("a");
    // 5 s in real time: 30 video frames and 50 audio packets a second.
    let start = Instant::now();
    let (mut vseq, mut aseq) = (0u16, 0u16);
    let mut sent_audio = 0usize;
    for (i, frame) in frames.iter().take(150).enumerate() {
        let chunks: Vec<&[u8]> = frame.chunks(1100).collect();
        for (j, chunk) in chunks.iter().enumerate() {
            let mut payload = vec![if j == 0 { 0x10 } else { 0x00 }];
            payload.extend_from_slice(chunk);
            assert!(video.push(rtp(
                96,
                vseq,
                i as u32 * 3000,
                j + 1 == chunks.len(),
                &payload
            )));
            vseq = vseq.wrapping_add(1);
        }
        let due = start + Duration::from_millis(i as u64 * 1000 / 30);
        while sent_audio * 20 <= due.duration_since(start).as_millis() as usize {
            let p = &packets[sent_audio % packets.len()];
            assert!(audio.push(rtp(111, aseq, sent_audio as u32 * 960, false, p)));
            aseq = aseq.wrapping_add(1);
            sent_audio += 1;
        }
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
    }
    std::thread::sleep(Duration::from_millis(300));
    let vev = video.finish(Duration::from_secs(10));
    let aev = audio.finish(Duration::from_secs(10));
    for (what, events, codec) in [("video", &vev, "VP8"), ("audio", &aev, "Opus")] {
        assert!(
            events
                .iter()
                .all(|e| !matches!(e, PipelineEvent::Failed { .. })),
            "{what}: {events:?}"
        );
        assert!(
            matches!(events.last(), Some(PipelineEvent::Finished)),
            "{what}: {events:?}"
        );
        let closed: Vec<&String> = events
            .iter()
            .filter_map(|e| match e {
                PipelineEvent::SegmentClosed { path, .. } => Some(path),
                _ => None,
            })
            .collect();
        assert!(
            closed.len() >= 2,
            "{what}: segments close as they go: {events:?}"
        );
        let mut total = 0.0;
        for path in &closed {
            let (secs, text) = discover(Path::new(path));
            assert!(text.contains(codec), "{what} {path}: {text}");
            assert!(
                secs <= segment.as_secs_f64() + 0.5,
                "{what} {path}: {secs} s"
            );
            total += secs;
        }
        assert!(
            (total - 5.0).abs() <= 0.5,
            "{what}: {total} s recorded of 5 s"
        );
    }
}
