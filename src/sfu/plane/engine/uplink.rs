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
use crate::sfu::plane::uplink::{IncomingTrack, TRACK_QUEUE, Uplink, UplinkCmd, UplinkPacket};
use crate::sfu::plane::{ConnId, PlaneError};

/// A publisher's connection's tracks, while its media leaves the plane.
pub(crate) struct UplinkState {
    /// Where each new track goes.
    tracks: mpsc::Sender<IncomingTrack>,
    /// Each open track's channel, by the core's track id.
    open: HashMap<String, mpsc::Sender<UplinkPacket>>,
    /// The receiver of each stream, by SSRC (key-frame requests name streams).
    receivers: HashMap<u32, RTCRtpReceiverId>,
}

impl UplinkState {
    pub(crate) fn new(tracks: mpsc::Sender<IncomingTrack>) -> Self {
        Self {
            tracks,
            open: HashMap::new(),
            receivers: HashMap::new(),
        }
    }

    /// Passes a packet of track `track` on; false if its forwarding is too far behind (or
    /// gone) to take it.
    pub(crate) fn deliver(&self, track: &str, packet: rtc::rtp::Packet) -> bool {
        self.open
            .get(track)
            .is_some_and(|tx| tx.try_send(UplinkPacket::Rtp(packet)).is_ok())
    }

    /// The track `track` ended (the client stopped sending it): its channel closes.
    pub(crate) fn closed(&mut self, track: &str) {
        self.open.remove(track);
    }
}

impl Conn {
    /// A stream of a publisher's track opened: a new track goes out with its channel, a
    /// further simulcast layer of one open already goes down its channel.
    pub(crate) fn uplink_opened(&mut self, init: &RTCTrackEventInit) {
        let Some(up) = self.uplink.as_mut() else {
            return;
        };
        up.receivers.insert(init.ssrc, init.receiver_id);
        let opening = UplinkPacket::Open {
            rid: init.rid.clone().filter(|r| !r.is_empty()),
            ssrc: init.ssrc,
        };
        if let Some(tx) = up.open.get(&init.track_id) {
            // overflow: drop (a layer whose opening is lost is not forwarded; its forwarding
            // task is a second behind)
            let _ = tx.try_send(opening);
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
        let track_id = track.track_id().clone();
        // overflow: drop (media: see TRACK_QUEUE)
        let (tx, packets) = mpsc::channel(TRACK_QUEUE);
        let _ = tx.try_send(opening);
        let incoming = IncomingTrack {
            track_id,
            kind,
            codec,
            ssrc: init.ssrc,
            packets,
        };
        // overflow: drop (a client opening tracks faster than its session takes them is
        // misbehaving; a track lost here is not forwarded)
        if up.tracks.try_send(incoming).is_ok() {
            up.open.insert(init.track_id.clone(), tx);
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
                tracks,
                reply,
            } => {
                let opened = self.open_uplink(now, offer, &codecs, events, tracks);
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
        tracks: mpsc::Sender<IncomingTrack>,
    ) -> Result<(Uplink, String), PlaneError> {
        let mut c = Conn::with_codecs(now, self.announced, false, codecs)?;
        c.uplink = Some(UplinkState::new(tracks));
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
