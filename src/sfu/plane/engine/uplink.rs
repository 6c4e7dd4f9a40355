//! Publishers' connections whose media leaves the plane (`crate::sfu::plane::uplink`): their
//! offers, their tracks handed out as they open, their packets passed on, key frames asked.

use std::collections::HashMap;
use std::time::Instant;

use gavel_signaling::MediaKind;
use rtc::peer_connection::event::RTCTrackEventInit;
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp_transceiver::RTCRtpReceiverId;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use tokio::sync::mpsc;

use super::Engine;
use super::conn::Conn;
use crate::sfu::plane::uplink::{
    IncomingTrack, SinkMaker, TrackSink, Uplink, UplinkCmd, UplinkPacket,
};
use crate::sfu::plane::{ConnId, PlaneError};

/// A publisher's connection's tracks, while its media leaves the plane.
pub(crate) struct UplinkState {
    /// Makes each new track's sink.
    make: SinkMaker,
    /// Each open track's sink, by the core's track id.
    open: HashMap<String, Box<dyn TrackSink>>,
    /// The receiver of each stream, by SSRC (key-frame requests name streams).
    receivers: HashMap<u32, RTCRtpReceiverId>,
}

impl UplinkState {
    pub(crate) fn new(make: SinkMaker) -> Self {
        Self {
            make,
            open: HashMap::new(),
            receivers: HashMap::new(),
        }
    }

    /// Passes a packet of track `track` on; false if the track has no sink.
    pub(crate) fn deliver(&mut self, track: &str, packet: rtc::rtp::Packet) -> bool {
        match self.open.get_mut(track) {
            Some(sink) => {
                sink.take(UplinkPacket::Rtp(packet));
                true
            }
            None => false,
        }
    }

    /// The track `track` ended (the client stopped sending it): its sink goes.
    pub(crate) fn closed(&mut self, track: &str) {
        self.open.remove(track);
    }
}

impl Conn {
    /// A stream of a publisher's track opened: a new track gets its sink, a further simulcast
    /// layer of one open already goes to its sink.
    pub(crate) fn uplink_opened(&mut self, conn: ConnId, init: &RTCTrackEventInit) {
        let Some(up) = self.uplink.as_mut() else {
            return;
        };
        up.receivers.insert(init.ssrc, init.receiver_id);
        let opening = UplinkPacket::Open {
            rid: init.rid.clone().filter(|r| !r.is_empty()),
            ssrc: init.ssrc,
        };
        if let Some(sink) = up.open.get_mut(&init.track_id) {
            sink.take(opening);
            return;
        }
        let Some(receiver) = self.pc.rtp_receiver(init.receiver_id) else {
            return;
        };
        let track = receiver.track();
        let kind = match track.kind() {
            RtpCodecKind::Audio => MediaKind::Audio,
            RtpCodecKind::Video => MediaKind::Video,
            _ => return,
        };
        let Some(codec) = track.codec(init.ssrc).cloned() else {
            return;
        };
        let incoming = IncomingTrack {
            track_id: track.track_id().clone(),
            kind,
            codec,
            ssrc: init.ssrc,
            at: Uplink {
                conn,
                token: self.token,
            },
        };
        if let Some(mut sink) = (up.make)(incoming) {
            sink.take(opening);
            up.open.insert(init.track_id.clone(), sink);
        }
    }
}

impl Engine {
    pub(super) fn uplink(&mut self, now: Instant, cmd: UplinkCmd) {
        match cmd {
            UplinkCmd::Open {
                offer,
                codecs,
                events,
                sinks,
                reply,
            } => {
                let opened = self.open_uplink(now, offer, &codecs, events, sinks);
                if let Err(Ok((up, _))) = reply.send(opened) {
                    // Nobody waits for it any more: not kept.
                    self.remove(up.conn);
                }
            }
            UplinkCmd::Renegotiate { to, offer, reply } => {
                let answered = self.renegotiate_uplink(now, to, offer);
                if answered.is_ok() {
                    self.drain(to.conn, now);
                }
                let _ = reply.send(answered);
            }
            UplinkCmd::Keyframes { to, ssrcs } => self.ask_keyframes(now, to, &ssrcs),
            UplinkCmd::IsOpen { to, reply } => {
                let _ = reply.send(self.uplink_conn(to).is_some());
            }
        }
    }

    fn open_uplink(
        &mut self,
        now: Instant,
        offer: String,
        codecs: &[crate::sfu::codec::MediaCodec],
        events: mpsc::Sender<super::PlaneEvent>,
        sinks: SinkMaker,
    ) -> Result<(Uplink, String), PlaneError> {
        let mut c = Conn::with_codecs(now, self.announced, false, codecs)?;
        c.uplink = Some(UplinkState::new(sinks));
        c.events = Some(events);
        let answer = answer(&mut c, now, offer)?;
        let conn = self.insert(c);
        let token = self.conns[conn].as_ref().map_or(0, |c| c.token);
        Ok((Uplink { conn, token }, answer))
    }

    fn renegotiate_uplink(
        &mut self,
        now: Instant,
        to: Uplink,
        offer: String,
    ) -> Result<String, PlaneError> {
        let c = self.uplink_conn(to).ok_or(PlaneError::NoSuchConnection)?;
        answer(c, now, offer)
    }

    fn uplink_conn(&mut self, to: Uplink) -> Option<&mut Conn> {
        self.conns
            .get_mut(to.conn)
            .and_then(Option::as_mut)
            .filter(|c| c.token == to.token && c.uplink.is_some())
    }

    fn ask_keyframes(&mut self, now: Instant, to: Uplink, ssrcs: &[u32]) {
        let Some(c) = self.uplink_conn(to) else {
            return;
        };
        let mut asked = 0;
        for &ssrc in ssrcs {
            let receiver = c.uplink.as_ref().and_then(|u| u.receivers.get(&ssrc));
            let Some(mut rx) = receiver.and_then(|r| c.pc.rtp_receiver(*r)) else {
                continue;
            };
            let pli = PictureLossIndication {
                sender_ssrc: 0,
                media_ssrc: ssrc,
            };
            if rx.write_rtcp(now, vec![Box::new(pli)]).is_ok() {
                asked += 1;
            }
        }
        self.stats.keyframe_requests += asked;
        let id: ConnId = to.conn;
        self.mark(id);
    }
}

/// Answers `offer` on `c`.
fn answer(c: &mut Conn, now: Instant, offer: String) -> Result<String, PlaneError> {
    c.pc.set_remote_description(now, RTCSessionDescription::offer(offer)?)?;
    let answer = c.pc.create_answer(None)?;
    c.pc.set_local_description(now, answer)?;
    c.local_sdp()
}
