//! Connections the plane offers and renegotiates (`crate::sfu::plane::offering`): a room's
//! subscribers, fed from outside.

use std::time::Instant;

use rtc::rtp_transceiver::RTCRtpSenderId;
use rtc::rtp_transceiver::rtp_sender::RTCRtpCodecParameters;

use super::Engine;
use super::conn::{Conn, sending_track};
use crate::sfu::codec::MediaCodec;
use crate::sfu::plane::offering::{Offered, Offering, OfferingCmd};
use crate::sfu::plane::{PlaneError, PlayTrack};

impl Engine {
    pub(super) fn offering(&mut self, now: Instant, cmd: OfferingCmd) {
        match cmd {
            OfferingCmd::Open { events, reply } => {
                // Every codec Gavel forwards: a courtroom camera's H.264 is offered as well.
                let opened =
                    Conn::with_codecs(now, self.announced, true, &MediaCodec::ALL).map(|mut c| {
                        c.events = Some(events);
                        let conn = self.insert(c);
                        let token = self.conns[conn].as_ref().map_or(0, |c| c.token);
                        Offering { conn, token }
                    });
                if let Err(Ok(o)) = reply.send(opened) {
                    // Nobody waits for it any more: not kept.
                    self.remove(o.conn);
                }
            }
            OfferingCmd::AddTrack {
                to,
                track,
                codecs,
                ssrc,
                reply,
            } => {
                let _ = reply.send(self.add_fed_track(to, track, &codecs, ssrc));
            }
            OfferingCmd::RemoveTrack { to, sender } => {
                if let Some(c) = self.offered(to) {
                    c.note_sender(sender, 0);
                    if let Err(e) = c.pc.remove_track(sender) {
                        tracing::debug!(error = %e, "a track could not be taken off");
                    }
                }
            }
            OfferingCmd::Offer { to, reply } => {
                let offered = self.make_offer(now, to);
                if offered.is_ok() {
                    self.mark(to.conn);
                }
                let _ = reply.send(offered);
            }
        }
    }

    /// The connection `to` names, if it is still the one meant.
    fn offered(&mut self, to: Offering) -> Option<&mut Conn> {
        self.conns
            .get_mut(to.conn)
            .and_then(Option::as_mut)
            .filter(|c| c.token == to.token)
    }

    fn add_fed_track(
        &mut self,
        to: Offering,
        t: PlayTrack,
        codecs: &[MediaCodec],
        ssrc: u32,
    ) -> Result<RTCRtpSenderId, PlaneError> {
        let c = self.offered(to).ok_or(PlaneError::NoSuchConnection)?;
        let first = *codecs.first().ok_or(PlaneError::Codec("no codec"))?;
        let track = sending_track(t.stream_id, t.track_id, first, ssrc);
        let sender = c.pc.add_track(track)?;
        // Offered in all of `codecs`, in order: a reused transceiver would keep its earlier
        // ones, and the stack would offer only the track's own.
        let prefs = codecs
            .iter()
            .map(|c| RTCRtpCodecParameters {
                rtp_codec: c.rtc(),
                payload_type: c.payload_type(),
            })
            .collect();
        if let Some(mut tr) = c.pc.rtp_transceiver(sender.into())
            && let Err(e) = tr.set_codec_preferences(prefs)
        {
            // Not left on the connection, where no one would ever take it off.
            let _ = c.pc.remove_track(sender);
            return Err(e.into());
        }
        c.note_sender(sender, ssrc);
        Ok(sender)
    }

    fn make_offer(&mut self, now: Instant, to: Offering) -> Result<Offered, PlaneError> {
        let c = self.offered(to).ok_or(PlaneError::NoSuchConnection)?;
        let offer = c.pc.create_offer(None)?;
        c.pc.set_local_description(now, offer)?;
        let sdp = c.local_sdp()?;
        let fed: Vec<(usize, u32)> = c.fed_ssrcs().collect();
        let mids = fed
            .into_iter()
            .filter_map(|(i, ssrc)| {
                let mid = c.pc.rtp_transceiver(i)?.mid().clone()?;
                Some((ssrc, mid))
            })
            .collect();
        Ok(Offered { sdp, mids })
    }
}
