//! What a test participant publishes: known payloads (byte-checked by receivers), a screen
//! share, H.264, the real pre-encoded clip, and offers the server is expected to refuse.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use gavel_signaling::{ClientMessage, Connection, MediaKind};
use webrtc::media_stream::Track;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::peer_connection::RTCSessionDescription;

use super::{MediaPeer, Pc, T, new_pc, payload, trickled};

impl MediaPeer {
    /// A connection for publishing (nothing is received on it).
    pub(crate) async fn publish_connection() -> Pc {
        new_pc(
            &super::loopback(),
            Arc::default(),
            Arc::default(),
            super::Logs::default(),
        )
        .await
    }

    /// Offers `pc`'s tracks to the server, applies the answer and keeps `pc` open while this
    /// peer lives; returns the offer. Anything sending on `pc` should stop when `stopped()`.
    pub(crate) async fn offer_publish(&mut self, mut pc: Pc, screen: Vec<String>) -> String {
        let offer = pc.pc.create_offer(None).await.unwrap();
        let sdp = pc.local_with_candidates(offer).await.unwrap();
        if self.trickle.load(Ordering::Relaxed) {
            let (bare, candidates) = trickled(&sdp, Connection::Publish);
            self.send(ClientMessage::PublishOffer { sdp: bare, screen })
                .await;
            for c in candidates {
                self.send(c).await;
            }
        } else {
            self.send(ClientMessage::PublishOffer {
                sdp: sdp.clone(),
                screen,
            })
            .await;
        }
        let answer = tokio::time::timeout(T, self.answers.recv())
            .await
            .unwrap()
            .unwrap();
        pc.pc
            .set_remote_description(RTCSessionDescription::answer(answer.clone()).unwrap())
            .await
            .unwrap();
        self.publish_answer = Some(answer);
        self.publish = Some(pc);
        sdp
    }

    /// Like [`MediaPeer::publish`], with every audio packet carrying RFC 6464 `level`
    /// (0 loudest, 127 silence).
    pub(crate) async fn publish_at_level(&mut self, level: u8) {
        self.level = level;
        self.publish().await;
    }

    /// Offers to publish audio and video and, once answered, sends RTP with known payloads
    /// (50 audio and 30 video packets a second) until dropped.
    pub(crate) async fn publish(&mut self) {
        self.publish_sources(false).await;
    }

    /// Like [`MediaPeer::publish`], plus a screen share: a second video track, id `screen`.
    pub(crate) async fn publish_with_screen(&mut self) {
        self.publish_sources(true).await;
    }

    /// Publishes the pre-encoded clip (made by `make setup`): real Opus packets and real VP8
    /// frames, in real time, looping, until dropped — media a recorder can decode.
    pub(crate) async fn publish_clip(&mut self) {
        self.publish_clip_saying(None).await;
    }

    /// Publishes the clip's video with `speech` (Opus packets) as its audio, looping.
    pub(crate) async fn publish_clip_saying(&mut self, speech: Option<Vec<bytes::Bytes>>) {
        let pc = Self::publish_connection().await;
        let audio = local_track(&self.id, MediaKind::Audio, "audio");
        let video = local_track(&self.id, MediaKind::Video, "video");
        for t in [&audio, &video] {
            pc.pc
                .add_track(t.clone() as Arc<dyn TrackLocal>)
                .await
                .unwrap();
        }
        self.offer_publish(pc, Vec::new()).await;
        let clip = gavel::clip::load(&gavel::clip::default_dir()).expect("the clip (make setup)");
        // Each unit as RTP payloads: Opus packets whole, VP8 frames as packetized.
        let opus: Vec<Vec<_>> = speech
            .unwrap_or(clip.audio)
            .into_iter()
            .map(|p| vec![p])
            .collect();
        let vp8 = clip.video;
        for (track, units, every, pt, step) in [
            (audio, opus, 20u64, 111u8, 960u32),
            (video, vp8, 33, 96, 3000),
        ] {
            let stop = self.stop.clone();
            tokio::spawn(async move {
                let ssrc = track.codings().await[0].rtp_coding_parameters.ssrc.unwrap();
                let mut tick = tokio::time::interval(Duration::from_millis(every));
                // After a stall, carry on at pace (a burst of missed ticks would make packet
                // counts a false clock).
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                let (mut seq, mut ts) = (0u16, 0u32);
                for unit in units.iter().cycle() {
                    tick.tick().await;
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    for (i, payload) in unit.iter().enumerate() {
                        let packet = rtc::rtp::Packet {
                            header: rtc::rtp::header::Header {
                                version: 2,
                                payload_type: pt,
                                sequence_number: seq,
                                timestamp: ts,
                                ssrc,
                                marker: i + 1 == unit.len(),
                                ..Default::default()
                            },
                            payload: payload.clone(),
                        };
                        if track.write_rtp(packet).await.is_err() {
                            return;
                        }
                        seq = seq.wrapping_add(1);
                    }
                    ts = ts.wrapping_add(step);
                }
            });
        }
    }

    async fn publish_sources(&mut self, screen: bool) {
        let pc = Self::publish_connection().await;
        let (camera, camera_pt) = if self.h264 {
            (h264_track(&self.id), 102)
        } else {
            (local_track(&self.id, MediaKind::Video, "video"), 96)
        };
        let mut tracks = vec![
            (
                local_track(&self.id, MediaKind::Audio, "audio"),
                MediaKind::Audio,
                20u64,
                111u8,
                960u32,
            ),
            (camera, MediaKind::Video, 33, camera_pt, 3000),
        ];
        if screen {
            tracks.push((
                local_track(&self.id, MediaKind::Video, "screen"),
                MediaKind::Video,
                33,
                96,
                3000,
            ));
        }
        for (track, ..) in &tracks {
            let sender = pc
                .pc
                .add_track(track.clone() as Arc<dyn TrackLocal>)
                .await
                .unwrap();
            self.senders.push((track.track_id().await, sender));
        }
        let named = if screen {
            vec!["screen".to_owned()]
        } else {
            Vec::new()
        };
        let sdp = self.offer_publish(pc, named).await;
        let level_ext = gavel::sfu::sdp_policy::extmap_id(&sdp, gavel::sfu::AUDIO_LEVEL_URI)
            .expect("the offer negotiates audio levels");
        for (track, kind, every, pt, step) in tracks {
            let stop = self.stop.clone();
            let level = self.level;
            if kind == MediaKind::Video {
                let (requests, counter) = (track.clone(), self.keyframe_requests.clone());
                tokio::spawn(async move {
                    while let Some(ev) = requests.poll().await {
                        if let TrackLocalEvent::OnRtcpPacket(_) = ev {
                            counter.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                });
            }
            tokio::spawn(async move {
                let ssrc = track.codings().await[0].rtp_coding_parameters.ssrc.unwrap();
                let mut tick = tokio::time::interval(Duration::from_millis(every));
                // After a stall, carry on at pace (a burst of missed ticks would make packet
                // counts a false clock).
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                let mut seq: u16 = 1000;
                let mut ts: u32 = 0;
                while !stop.load(Ordering::Relaxed) {
                    tick.tick().await;
                    let mut packet = rtc::rtp::Packet {
                        header: rtc::rtp::header::Header {
                            version: 2,
                            payload_type: pt,
                            sequence_number: seq,
                            timestamp: ts,
                            ssrc,
                            marker: kind == MediaKind::Video,
                            ..Default::default()
                        },
                        payload: payload(kind, seq).into(),
                    };
                    if kind == MediaKind::Audio {
                        packet
                            .header
                            .set_extension(level_ext, vec![level].into())
                            .unwrap();
                    }
                    if track.write_rtp(packet).await.is_err() {
                        break;
                    }
                    seq = seq.wrapping_add(1);
                    ts = ts.wrapping_add(step);
                }
            });
        }
    }

    /// Offers to publish without waiting for an answer (for refusals).
    pub(crate) async fn publish_refused(&mut self) {
        self.offer_unanswered(MediaKind::Audio, "audio", Vec::new())
            .await;
    }

    /// Stops publishing track `id` (e.g. `screen`): takes it off the publish connection and
    /// renegotiates, as a browser does when the user stops sharing.
    pub(crate) async fn unpublish(&mut self, id: &str) {
        let at = self.senders.iter().position(|(t, _)| t == id).unwrap();
        let (_, sender) = self.senders.remove(at);
        let pc = self.publish.take().unwrap();
        pc.pc.remove_track(&sender).await.unwrap();
        self.offer_publish(pc, Vec::new()).await;
    }

    /// Closes the publish connection, as a browser does when its connection failed or it
    /// starts over: its senders stop with it.
    pub(crate) async fn close_publish(&mut self) {
        self.senders.clear();
        if let Some(pc) = self.publish.take() {
            pc.pc.close().await.unwrap();
        }
    }

    /// Offers a screen share without waiting for an answer (for refusals).
    pub(crate) async fn share_screen_refused(&mut self) {
        self.offer_unanswered(MediaKind::Video, "screen", vec!["screen".into()])
            .await;
    }

    async fn offer_unanswered(&mut self, kind: MediaKind, track: &str, screen: Vec<String>) {
        let mut pc = Self::publish_connection().await;
        let local = local_track(&self.id, kind, track);
        pc.pc.add_track(local as Arc<dyn TrackLocal>).await.unwrap();
        let offer = pc.pc.create_offer(None).await.unwrap();
        let sdp = pc.local_with_candidates(offer).await.unwrap();
        self.send(ClientMessage::PublishOffer { sdp, screen }).await;
        self.publish = Some(pc);
    }
}

fn h264_track(id: &str) -> Arc<TrackLocalStaticRTP> {
    use rtc::peer_connection::configuration::media_engine::MIME_TYPE_H264;
    gavel::sfu::track::local_track(
        id.to_owned(),
        "video".to_owned(),
        MediaKind::Video,
        rtc::rtp_transceiver::rtp_sender::RTCRtpCodec {
            mime_type: MIME_TYPE_H264.to_owned(),
            clock_rate: 90_000,
            channels: 0,
            sdp_fmtp_line: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"
                .to_owned(),
            rtcp_feedback: vec![],
        },
        u32::from_be_bytes(gavel::auth::random_bytes::<4>()),
    )
}

fn local_track(id: &str, kind: MediaKind, track: &str) -> Arc<TrackLocalStaticRTP> {
    gavel::sfu::track::local_track(
        id.to_owned(),
        track.to_owned(),
        kind,
        gavel::sfu::track::default_codec(kind),
        u32::from_be_bytes(gavel::auth::random_bytes::<4>()),
    )
}
