//! Simulcast through the real SFU: a publisher sends three layers (rids q, h, f) of a known
//! VP8-framed clip; a subscriber gets exactly one layer at a time, switches only at a key frame
//! of the new layer, and sees one stream whose sequence numbers never jump or repeat.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gavel_signaling::{ClientMessage, MediaKind};
use rtc::media_stream::MediaStreamTrack;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};

use crate::media_peer::{MediaPeer, Received, peer};
use crate::support::{Backend, TestApp, wait_for};

const T: Duration = Duration::from_secs(15);
const RIDS: [&str; 3] = ["q", "h", "f"];
/// Per layer: packets per frame, bytes per packet, frame height. About 36, 240 and 720 kbit/s.
const SHAPE: [(usize, usize, u16); 3] = [(1, 150, 180), (2, 500, 360), (3, 1000, 720)];
/// A key frame every this many frames, each layer at its own phase.
const KEY_EVERY: u32 = 10;
const LAYER_TAG: u8 = 0xC0;

/// Packet `index` of `frame` of `layer`: VP8 payload descriptor and frame header (a real key
/// frame header with the layer's size on key frames), then the layer's tag and the frame number.
fn clip_packet(layer: usize, frame: u32, index: usize) -> Vec<u8> {
    let (_, len, height) = SHAPE[layer];
    let mut p = vec![0u8; len];
    if index == 0 {
        p[0] = 0x10; // start of partition 0
        let key = frame % KEY_EVERY == (layer as u32 * 3) % KEY_EVERY;
        p[1] = u8::from(!key); // P bit: 0 = key frame
        if key {
            p[4..7].copy_from_slice(&[0x9d, 0x01, 0x2a]);
            p[7..9].copy_from_slice(&(height / 9 * 16).to_le_bytes());
            p[9..11].copy_from_slice(&height.to_le_bytes());
        }
    }
    p[11] = LAYER_TAG | layer as u8;
    p[12..14].copy_from_slice(&(frame as u16).to_be_bytes());
    p[14] = index as u8;
    p
}

fn layer_of(r: &Received) -> u8 {
    assert_eq!(r.payload[11] & 0xf0, LAYER_TAG, "payload intact");
    r.payload[11] & 0x0f
}

fn ssrc_of(layer: usize) -> u32 {
    0x5100_0000 + layer as u32
}

/// Publishes the three-layer clip from `peer` at 30 frames a second until it is dropped;
/// returns the SSRCs that key frames were asked for, in order.
async fn publish_simulcast(peer: &mut MediaPeer) -> Arc<Mutex<Vec<u32>>> {
    let pc = MediaPeer::publish_connection().await;
    let ssrcs: [u32; 3] = std::array::from_fn(ssrc_of);
    let codings = RIDS
        .iter()
        .zip(ssrcs)
        .map(|(rid, ssrc)| RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                rid: (*rid).to_owned(),
                ssrc: Some(ssrc),
                ..Default::default()
            },
            codec: gavel::sfu::track::default_codec(MediaKind::Video),
            ..Default::default()
        })
        .collect();
    let track = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
        peer.id.clone(),
        "camera".into(),
        "camera".into(),
        RtpCodecKind::Video,
        codings,
    )));
    pc.pc
        .add_track(track.clone() as Arc<dyn TrackLocal>)
        .await
        .unwrap();
    let sdp = peer.offer_publish(pc, Vec::new()).await;
    assert!(sdp.contains("a=simulcast:send"), "{sdp}");
    let ext = |uri: &str| gavel::sfu::sdp_policy::extmap_id(&sdp, uri).expect(uri);
    let mid_ext = ext("urn:ietf:params:rtp-hdrext:sdes:mid");
    let rid_ext = ext("urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id");
    let mid = sdp
        .lines()
        .find_map(|l| l.strip_prefix("a=mid:"))
        .unwrap()
        .trim()
        .to_owned();
    let plis: Arc<Mutex<Vec<u32>>> = Arc::default();
    let (requests, asked) = (track.clone(), plis.clone());
    tokio::spawn(async move {
        use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
        while let Some(TrackLocalEvent::OnRtcpPacket(packets)) = requests.poll().await {
            for p in packets {
                if let Some(pli) = p.as_any().downcast_ref::<PictureLossIndication>() {
                    asked.lock().unwrap().push(pli.media_ssrc);
                }
            }
        }
    });
    let stop = peer.stopped();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(33));
        // Each layer numbers and times its packets on its own, as encoders do.
        let mut seq: [u16; 3] = [100, 20_000, 65_500];
        let ts_base: [u32; 3] = [0, 1_000_000, 4_294_000_000];
        for frame in 0u32.. {
            tick.tick().await;
            if stop.load(Ordering::Relaxed) {
                return;
            }
            for layer in 0..3 {
                let packets = SHAPE[layer].0;
                for i in 0..packets {
                    let mut header = rtc::rtp::header::Header {
                        version: 2,
                        payload_type: 96,
                        sequence_number: seq[layer],
                        timestamp: ts_base[layer].wrapping_add(frame * 3000),
                        ssrc: ssrcs[layer],
                        marker: i == packets - 1,
                        ..Default::default()
                    };
                    header
                        .set_extension(mid_ext, mid.as_bytes().to_vec().into())
                        .unwrap();
                    header
                        .set_extension(rid_ext, RIDS[layer].as_bytes().to_vec().into())
                        .unwrap();
                    let packet = rtc::rtp::Packet {
                        header,
                        payload: clip_packet(layer, frame, i).into(),
                    };
                    if track.write_rtp(packet).await.is_err() {
                        return;
                    }
                    seq[layer] = seq[layer].wrapping_add(1);
                }
            }
        }
    });
    plis
}

/// The video `rx` received from `from` so far.
fn log(rx: &MediaPeer, from: &str) -> Vec<Received> {
    rx.video_log
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.publisher == from)
        .cloned()
        .collect()
}

/// Waits until the last `n` packets from `from` were all of `layer`.
async fn wait_for_layer(rx: &MediaPeer, from: &str, layer: u8, n: usize, what: &str) {
    wait_for(T, what, || async {
        let log = log(rx, from);
        (log.len() >= n && log[log.len() - n..].iter().all(|r| layer_of(r) == layer)).then_some(())
    })
    .await;
}

/// What a decoder needs: it starts at a key frame, every layer change lands on a key frame of
/// the new layer, sequence numbers go up by exactly one and timestamps never go back.
fn assert_one_clean_stream(log: &[Received]) {
    assert!(
        gavel::sfu::keyframe_detect::vp8(&log[0].payload),
        "starts at a key frame"
    );
    for w in log.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        assert_eq!(
            b.seq,
            a.seq.wrapping_add(1),
            "sequence numbers continue across layers ({} -> {})",
            a.seq,
            b.seq
        );
        assert!(
            b.ts.wrapping_sub(a.ts) < 1 << 31,
            "timestamps never go back"
        );
        if layer_of(a) != layer_of(b) {
            assert!(
                gavel::sfu::keyframe_detect::vp8(&b.payload),
                "switched from layer {} to {} on a key frame",
                layer_of(a),
                layer_of(b)
            );
            assert_ne!(b.ts, a.ts, "a new layer starts a new frame");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bandwidth_drop_switches_layer_at_a_key_frame_with_continuous_numbers() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (_, hearing) = app.docket_and_hearing().await;
    let mut judge = peer(&app, &hearing, "judge").await;
    let clerk = peer(&app, &hearing, "clerk").await;
    let plis = publish_simulcast(&mut judge).await;

    // Before the clerk reports any estimate, the assumed downlink carries the full layer.
    wait_for_layer(&clerk, &judge.id, 2, 30, "the full layer").await;

    // The clerk's downlink drops to 150 kbit/s: only the quarter layer fits.
    clerk.report_bandwidth(&judge.id, 150_000).await;
    wait_for_layer(&clerk, &judge.id, 0, 30, "the quarter layer after the drop").await;

    // Bandwidth is back, but the clerk shows the judge in a 360-pixel tile: the half layer.
    let track = clerk.video_track_id(&judge.id).await;
    clerk
        .send(ClientMessage::VideoSize { track, height: 360 })
        .await;
    clerk.report_bandwidth(&judge.id, 5_000_000).await;
    wait_for_layer(&clerk, &judge.id, 1, 30, "the half layer for a small tile").await;

    let log = log(&clerk, &judge.id);
    assert_one_clean_stream(&log);
    let switches = log
        .windows(2)
        .filter(|w| layer_of(&w[0]) != layer_of(&w[1]))
        .count();
    assert!(switches >= 2, "full -> quarter -> half");
    let asked = plis.lock().unwrap().clone();
    for layer in 0..3 {
        assert!(
            asked.contains(&ssrc_of(layer)),
            "the switch to layer {layer} asked that layer for a key frame: {asked:?}"
        );
    }
}
