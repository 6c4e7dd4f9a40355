//! Real pipelines: the pre-encoded clip (made by `make setup`) sent as RTP in real time into a
//! VP8 and an Opus recorder; the segments must exist, close as they go, and play with the
//! expected codec and duration according to `gst-discoverer-1.0`.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use gavel_media_pipelines::PipelineEvent;
use gavel_media_pipelines::recorder::{Codec, TrackRecorder};
use gavel_media_pipelines::repair;

mod common;
use common::{rtp, units, vp8_packets};

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
    play(&video, &audio, 150);
    std::thread::sleep(Duration::from_millis(300));
    let vev = video.finish(Duration::from_secs(10));
    let aev = audio.finish(Duration::from_secs(10));
    let mut runs = Vec::new();
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
        runs.push(closed.iter().map(PathBuf::from).collect::<Vec<_>>());
    }
    composite_of(dir.path(), &runs[0], &runs[1]);
}

/// The composite of two "participants" (the same recording twice, the second joining 2 s
/// late) and one microphone: as long as the hearing, VP8 and Opus, at the frame size asked.
fn composite_of(dir: &Path, video: &[PathBuf], audio: &[PathBuf]) {
    use gavel_media_pipelines::composite::{Composite, Media, Source};
    let source = |label: &str, media, files: &[PathBuf], at: u64| Source {
        label: label.to_owned(),
        media,
        runs: vec![(files.to_vec(), Duration::from_secs(at))],
    };
    let composite = Composite {
        sources: vec![
            source("Judge Li (judge)", Media::Video, video, 0),
            source("Wang (party)", Media::Video, video, 2),
            source("", Media::Audio, audio, 0),
        ],
        length: Duration::from_secs(7),
        width: 640,
        height: 360,
        fps: 15,
        clock: Box::new(|d| format!("09:30:{:02}", d.as_secs())),
    };
    let out = dir.join("composite.webm");
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    composite
        .render(
            &out,
            move |p| log.lock().unwrap().push(p),
            Duration::from_secs(60),
        )
        .unwrap();
    let (secs, text) = discover(&out);
    assert!((secs - 7.0).abs() <= 0.2, "{secs} s: {text}");
    assert!(text.contains("VP8") && text.contains("Opus"), "{text}");
    assert!(
        text.contains("Width: 640") && text.contains("Height: 360"),
        "{text}"
    );
    let progress = seen.lock().unwrap().clone();
    assert!(
        progress.windows(2).all(|w| w[0] <= w[1]) && progress.last().is_some_and(|p| *p > 0.8),
        "progress rises to the end: {progress:?}"
    );
}

/// Sends `count` frames of the clip's video (30 a second) and its audio alongside (50 packets
/// a second), in real time.
fn play(video: &TrackRecorder, audio: &TrackRecorder, count: usize) {
    let frames = units("v");
    let packets = units("a");
    let start = Instant::now();
    let (mut vseq, mut aseq) = (0u16, 0u16);
    let mut sent_audio = 0usize;
    for (i, frame) in frames.iter().take(count).enumerate() {
        for p in vp8_packets(frame, i, &mut vseq) {
            assert!(video.push(p));
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
}

/// Waits until `file` holds at least `bytes`.
fn wait_for_size(file: &Path, bytes: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::metadata(file).map_or(0, |m| m.len()) < bytes {
        assert!(
            Instant::now() < deadline,
            "{} never reached {bytes} bytes",
            file.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_segment_left_open_by_a_crash_remuxes_into_a_complete_playable_file() {
    let dir = tempfile::tempdir().unwrap();
    let long = Duration::from_secs(60);
    let video = TrackRecorder::start(dir.path(), "video", Codec::Vp8, 96, long).unwrap();
    let audio = TrackRecorder::start(dir.path(), "audio", Codec::Opus, 111, long).unwrap();
    play(&video, &audio, 90);
    // Most of the 3 s on disk, then the recorders vanish without closing anything: the
    // muxer never writes its duration, cluster sizes or index, as when the server is killed.
    let (vfile, afile) = (
        dir.path().join("video-00000.mkv"),
        dir.path().join("audio-00000.mkv"),
    );
    wait_for_size(&vfile, 100_000);
    wait_for_size(&afile, 8_000);
    drop(video);
    drop(audio);
    for (file, codec, name) in [(vfile, Codec::Vp8, "VP8"), (afile, Codec::Opus, "Opus")] {
        let before = std::fs::read(&file).unwrap();
        let fixed = dir.path().join(format!("fixed-{name}.mkv"));
        let secs = repair::remux(&file, &fixed, codec, Duration::from_secs(10))
            .unwrap()
            .as_secs_f64();
        let (found, text) = discover(&fixed);
        assert!(text.contains(name), "{text}");
        assert!(
            (1.0..=3.2).contains(&secs) && (found - secs).abs() <= 0.1,
            "{name}: the remux says {secs:.2} s, the file plays {found:.2} s, of 3 s sent"
        );
        assert_eq!(
            std::fs::read(&file).unwrap(),
            before,
            "the original is untouched"
        );
    }

    // A file with no media in it is an error, not an empty "repaired" file.
    let junk = dir.path().join("junk.mkv");
    std::fs::write(&junk, b"not a recording").unwrap();
    let out = dir.path().join("junk-fixed.mkv");
    assert!(repair::remux(&junk, &out, Codec::Vp8, Duration::from_secs(10)).is_err());
}

#[test]
fn a_listener_decodes_opus_rtp_to_16_khz_mono_in_time_order() {
    let listener = gavel_media_pipelines::listener::Listener::start(111).unwrap();
    let tap = listener.tap();
    let packets = units("a");
    let start = Instant::now();
    // 2 s of the clip's Opus (a 440 Hz tone), 50 packets a second, in real time.
    for (i, p) in packets.iter().take(100).enumerate() {
        assert!(tap.push(rtp(111, i as u16, i as u32 * 960, false, p)));
        std::thread::sleep(
            (start + Duration::from_millis(i as u64 * 20))
                .saturating_duration_since(Instant::now()),
        );
    }
    let (mut samples, mut last) = (0usize, Duration::ZERO);
    let mut energy = 0f64;
    let deadline = Instant::now() + Duration::from_secs(5);
    while samples < 16_000 * 19 / 10 && Instant::now() < deadline {
        if let Some(pcm) = listener.pull(Duration::from_millis(200)).unwrap() {
            assert!(pcm.at >= last, "blocks come in time order");
            last = pcm.at;
            samples += pcm.samples.len();
            energy += pcm
                .samples
                .iter()
                .map(|s| f64::from(*s) * f64::from(*s))
                .sum::<f64>();
        }
    }
    assert!(
        samples >= 16_000 * 19 / 10,
        "{samples} samples of about 32 000"
    );
    let rms = (energy / samples as f64).sqrt();
    assert!(rms > 0.01, "the tone is heard: rms {rms}");
}

/// Audio sent as a forwarding task under load delivers it: 3 s at pace, nothing for 1.5 s,
/// the held 75 packets at once, a timestamp 2 s backwards, a new SSRC, and 2 s more at pace.
/// Arrival-time stamps made the muxer fail here ("Timestamping error on input streams") and
/// the recorder restart; now it records on, as long as the sender spoke.
#[test]
fn a_stall_a_burst_a_jump_and_a_new_ssrc_never_fail_the_recording() {
    let dir = tempfile::tempdir().unwrap();
    let audio = TrackRecorder::start(
        dir.path(),
        "audio",
        Codec::Opus,
        111,
        Duration::from_secs(60),
    )
    .unwrap();
    let packets = units("a");
    let mut seq = 0u16;
    let mut ts = 0u32;
    let mut ssrc = 0x1234_5678u32;
    let mut n = 0usize;
    let mut send = |count: usize, paced: bool, seq: &mut u16, ts: &mut u32, ssrc: u32| {
        let start = Instant::now();
        for i in 0..count {
            let mut p = rtp(111, *seq, *ts, false, &packets[n % packets.len()]);
            p[8..12].copy_from_slice(&ssrc.to_be_bytes());
            assert!(audio.push(p));
            *seq = seq.wrapping_add(1);
            *ts = ts.wrapping_add(960);
            n += 1;
            if paced {
                let due = start + Duration::from_millis((i as u64 + 1) * 20);
                std::thread::sleep(due.saturating_duration_since(Instant::now()));
            }
        }
    };
    let began = Instant::now();
    send(150, true, &mut seq, &mut ts, ssrc);
    std::thread::sleep(Duration::from_millis(1500));
    send(75, false, &mut seq, &mut ts, ssrc);
    send(25, true, &mut seq, &mut ts, ssrc);
    ts = ts.wrapping_sub(2 * 48_000);
    send(25, true, &mut seq, &mut ts, ssrc);
    ssrc = 0x0bad_cafe;
    let (mut seq2, mut ts2) = (40_000u16, 7u32);
    send(100, true, &mut seq2, &mut ts2, ssrc);
    let wall = began.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_millis(300));
    let events = audio.finish(Duration::from_secs(10));
    assert!(
        events
            .iter()
            .all(|e| !matches!(e, PipelineEvent::Failed { .. })),
        "{events:?}"
    );
    let path = events
        .iter()
        .find_map(|e| match e {
            PipelineEvent::SegmentClosed { path, .. } => Some(path.clone()),
            _ => None,
        })
        .expect("the segment closed");
    let (secs, text) = discover(Path::new(&path));
    assert!(text.contains("Opus"), "{text}");
    // 375 packets of 20 ms were sent over `wall` seconds (7.5 s of audio, 1.5 s of it late).
    assert!(
        (secs - wall).abs() <= 1.0 && secs >= 7.0,
        "{secs:.2} s recorded over {wall:.2} s of wall clock"
    );
}

/// A browser sends a key frame only when asked, and a segment can only start at one: the
/// recorder asks when a segment's time is up (`keyframe_due`), so video segments keep their
/// length. A key frame just before the end opens a last segment of one frame: it lasts a
/// frame, not (as Matroska readers took a segment of no length) the whole recording.
#[test]
fn video_segments_keep_their_length_when_key_frames_come_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let segment = Duration::from_secs(1);
    let video = TrackRecorder::start(dir.path(), "video", Codec::Vp8, 96, segment).unwrap();
    let frames = units("v");
    let key = |f: &Vec<u8>| f[0] & 1 == 0;
    let keyframe = frames.iter().find(|f| key(f)).unwrap().clone();
    let deltas: Vec<&Vec<u8>> = frames.iter().filter(|f| !key(f)).collect();
    let (mut seq, mut asked) = (0u16, 0);
    let start = Instant::now();
    let mut send = |i: usize, frame: &[u8]| {
        for p in vp8_packets(frame, i, &mut seq) {
            assert!(video.push(p));
        }
        std::thread::sleep(
            (start + Duration::from_millis(i as u64 * 1000 / 30))
                .saturating_duration_since(Instant::now()),
        );
    };
    // 4 s: a key frame first, then one only when the recorder asks for it (but none in the
    // last 1.2 s, so that the key frame at the end opens a segment of its own).
    let total = 120;
    for i in 0..total {
        let frame = if i == 0 || (video.keyframe_due() && i < total - 36) {
            asked += usize::from(i > 0);
            &keyframe
        } else {
            deltas[i % deltas.len()]
        };
        send(i, frame);
    }
    // A key frame, and the end.
    send(total, &keyframe);
    std::thread::sleep(Duration::from_millis(400));
    let events = video.finish(Duration::from_secs(10));
    let closed: Vec<&String> = events
        .iter()
        .filter_map(|e| match e {
            PipelineEvent::SegmentClosed { path, .. } => Some(path),
            _ => None,
        })
        .collect();
    assert!(asked >= 2, "the recorder asked for key frames: {asked}");
    assert!(closed.len() >= 3, "segments cut as they go: {events:?}");
    let mut sum = 0.0;
    for path in &closed {
        let (secs, _) = discover(Path::new(path));
        assert!(
            secs <= segment.as_secs_f64() + 1.4,
            "{path}: {secs} s in a segment of {segment:?} ({events:?})"
        );
        sum += secs;
    }
    assert!((sum - 4.0).abs() <= 0.5, "{sum} s recorded of 4 s");
}
