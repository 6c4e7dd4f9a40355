//! The hearing's main view as a live mix: real VP8 and Opus (the pre-encoded clip made by
//! `make setup`) go in as RTP in real time, inputs come and go while it runs, and what comes
//! out decodes as a receiver decodes it.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use gavel_media_pipelines::ingest::Part;
use gavel_media_pipelines::live_mix::LiveMix;
use gavel_media_pipelines::receiver::{decode_opus, decode_vp8_rtp, opus_loudness};
use gavel_media_pipelines::recorder::Codec;

mod common;
use common::{rtp, units, vp8_packets};

#[test]
fn inputs_come_and_go_and_the_mix_goes_on_decodable() {
    let (mut mix, out) = LiveMix::start(320, 180, 96, 111).unwrap();
    let camera_a = mix.add("a/camera", Codec::Vp8, 96).unwrap();
    let camera_b = mix.add("b/camera", Codec::Vp8, 96).unwrap();
    let microphone = mix.add("a/microphone", Codec::Opus, 111).unwrap();
    let (frames, sound) = (units("v"), units("a"));
    let start = Instant::now();
    let (mut seq, mut aseq, mut sent_audio) = (0u16, 0u16, 0usize);
    // 4 s of two cameras and a microphone; the second camera leaves after 2 s.
    for (i, frame) in frames.iter().take(120).enumerate() {
        for p in vp8_packets(frame, i, &mut seq) {
            camera_a.push(p.clone());
            if i < 60 {
                camera_b.push(p);
            }
        }
        if i == 60 {
            mix.remove("b/camera");
        }
        let due = start + Duration::from_millis(i as u64 * 1000 / 30);
        while sent_audio * 20 <= due.duration_since(start).as_millis() as usize {
            let p = &sound[sent_audio % sound.len()];
            microphone.push(rtp(111, aseq, sent_audio as u32 * 960, false, p));
            aseq = aseq.wrapping_add(1);
            sent_audio += 1;
        }
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
    }
    assert_eq!(mix.inputs().len(), 2);
    assert_eq!(mix.failure(), None);
    drop(mix);
    let (mut video, mut audio) = (Vec::new(), Vec::new());
    while let Ok(p) = out.recv_timeout(Duration::from_secs(2)) {
        match p.part {
            Part::Video => video.push(p.rtp),
            _ => audio.push(p.rtp[12..].to_vec()),
        }
    }
    let pictures = decode_vp8_rtp(&video).unwrap();
    assert!(
        pictures.len() >= 40,
        "{} pictures at 15 a second over 4 s",
        pictures.len()
    );
    let samples = decode_opus(&audio).unwrap();
    assert!(samples > 48_000 * 2, "{samples} samples of the mixed sound");
    assert!(
        opus_loudness(&audio).unwrap() > 0.01,
        "the microphone is heard"
    );
    // The first pictures may be the black underneath, until the cameras' first frames decode.
    let lit = pictures.iter().filter(|p| p.light > 0.01).count();
    assert!(
        lit * 2 >= pictures.len(),
        "the cameras are seen: {lit} of {} pictures",
        pictures.len()
    );
}
