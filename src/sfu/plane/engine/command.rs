//! What signaling asks of the plane: take a publisher's offer, offer a subscriber the
//! publisher's media, take its answer, close, report.

use std::time::Instant;

use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::rtp_transceiver::RTCRtpSenderId;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;

use tokio::sync::mpsc;

use super::conn::{CODECS, Conn, Route, sending_track};
use super::socket::thread_cpu_us;
use super::{Engine, kind_index};
use crate::sfu::codec::MediaCodec;
use crate::sfu::plane::demux::ConnId;
use crate::sfu::plane::{Cmd, Opened, PlaneError, PlaneEvent, PlaneStats, PlayTrack};

impl Engine {
    pub(super) fn command(&mut self, cmd: Cmd) {
        let now = Instant::now();
        match cmd {
            Cmd::Play {
                offer,
                tracks,
                events,
                reply,
            } => {
                // Nobody waits for it any more (the request was dropped): not kept.
                if let Err(Ok(opened)) = reply.send(self.play(now, offer, tracks, events)) {
                    self.remove(opened.conn);
                }
            }
            Cmd::Publish { offer, reply } => {
                let _ = reply.send(self.publish(now, offer));
            }
            Cmd::Subscribe {
                publisher,
                stream_id,
                reply,
            } => {
                let _ = reply.send(self.subscribe(now, publisher, stream_id));
            }
            Cmd::Answer {
                conn,
                token,
                sdp,
                reply,
            } => {
                let r = match self.conns.get_mut(conn).and_then(Option::as_mut) {
                    Some(c) if token.is_none_or(|t| t == c.token) => {
                        RTCSessionDescription::answer(sdp)
                            .and_then(|a| c.pc.set_remote_description(now, a))
                            .map_err(PlaneError::from)
                    }
                    _ => Err(PlaneError::NoSuchConnection),
                };
                if !matches!(r, Err(PlaneError::NoSuchConnection)) {
                    self.drain(conn, now);
                }
                let _ = reply.send(r);
            }
            Cmd::Close { conn, token } => {
                let current = self
                    .conns
                    .get(conn)
                    .and_then(Option::as_ref)
                    .map(|c| c.token);
                // A connection gone already leaves its slot to whoever took it.
                if current.is_some() && token.is_none_or(|t| current == Some(t)) {
                    self.close_now(conn);
                }
            }
            Cmd::Offering(cmd) => self.offering(now, cmd),
            Cmd::Uplink(cmd) => self.uplink(now, cmd),
            Cmd::Stats { reply } => {
                let _ = reply.send(PlaneStats {
                    cpu_us: thread_cpu_us(),
                    connections: self.conns.iter().flatten().count(),
                    ..self.stats.clone()
                });
            }
        }
        self.flush_dirty();
    }

    fn publish(&mut self, now: Instant, offer: String) -> Result<(ConnId, String), PlaneError> {
        let mut c = Conn::new(now, self.announced, false)?;
        c.kinds = offered_kinds(&offer);
        c.pc.set_remote_description(now, RTCSessionDescription::offer(offer)?)?;
        let answer = c.pc.create_answer(None)?;
        c.pc.set_local_description(now, answer)?;
        let sdp = c.local_sdp()?;
        Ok((self.insert(c), sdp))
    }

    /// Answers a viewer's receive-only offer with `tracks`, fed from outside.
    fn play(
        &mut self,
        now: Instant,
        offer: String,
        tracks: Vec<PlayTrack>,
        events: mpsc::Sender<PlaneEvent>,
    ) -> Result<Opened, PlaneError> {
        if let Some(t) = tracks.iter().find(|t| !CODECS.contains(&t.codec)) {
            return Err(PlaneError::Codec(t.codec.mime()));
        }
        let mut c = Conn::new(now, self.announced, true)?;
        c.pc.set_remote_description(now, RTCSessionDescription::offer(offer)?)?;
        let mut senders = Vec::new();
        for t in tracks {
            let ssrc = u32::from_be_bytes(crate::auth::random_bytes::<4>());
            let track = sending_track(t.stream_id, t.track_id, t.codec, ssrc);
            let sender = c.pc.add_track(track)?;
            c.note_sender(sender, ssrc);
            senders.push((sender, ssrc));
        }
        let answer = c.pc.create_answer(None)?;
        c.pc.set_local_description(now, answer)?;
        let sdp = c.local_sdp()?;
        c.events = Some(events);
        let id = self.insert(c);
        let token = self.conns[id].as_ref().map_or(0, |c| c.token);
        Ok(Opened {
            conn: id,
            token,
            answer: sdp,
            senders,
        })
    }

    fn subscribe(
        &mut self,
        now: Instant,
        publisher: ConnId,
        stream_id: String,
    ) -> Result<(ConnId, String), PlaneError> {
        let kinds = match self.conns.get(publisher).and_then(Option::as_ref) {
            Some(p) if p.publishes => p.kinds.clone(),
            _ => return Err(PlaneError::NoSuchConnection),
        };
        let mut c = Conn::new(now, self.announced, true)?;
        c.publisher = Some(publisher);
        let mut routes = Vec::new();
        for kind in kinds {
            let codec = match kind {
                RtpCodecKind::Video => MediaCodec::Vp8,
                _ => MediaCodec::Opus,
            };
            let ssrc = u32::from_be_bytes(crate::auth::random_bytes::<4>());
            let id = format!("{stream_id}-{kind}");
            let track = sending_track(stream_id.clone(), id, codec, ssrc);
            let sender: RTCRtpSenderId = c.pc.add_track(track)?;
            routes.push((kind, sender, ssrc, codec.payload_type()));
        }
        let offer = c.pc.create_offer(None)?;
        c.pc.set_local_description(now, offer)?;
        let sdp = c.local_sdp()?;
        let id = self.insert(c);
        if let Some(p) = self.conns[publisher].as_mut() {
            for (kind, sender, ssrc, payload_type) in routes {
                p.routes[kind_index(kind)].push(Route {
                    conn: id,
                    sender,
                    ssrc,
                    payload_type,
                });
            }
        }
        Ok((id, sdp))
    }
}

/// The kinds of media an offer's sections carry, in order (`m=audio`, `m=video`).
fn offered_kinds(sdp: &str) -> Vec<RtpCodecKind> {
    sdp.lines()
        .filter_map(|l| match l.split(' ').next() {
            Some("m=audio") => Some(RtpCodecKind::Audio),
            Some("m=video") => Some(RtpCodecKind::Video),
            _ => None,
        })
        .collect()
}
