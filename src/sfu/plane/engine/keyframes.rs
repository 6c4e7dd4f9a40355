//! Key-frame requests on the plane: a subscriber's (or a new subscriber's) go to its publisher
//! on the plane, paced, or to whoever feeds it from outside; a subscriber's downlink estimate
//! goes to whoever feeds it.

use std::time::Instant;

use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;

use super::{Engine, KEYFRAME_INTERVAL};
use crate::sfu::keyframe;
use crate::sfu::plane::{ConnId, PlaneEvent};

impl Engine {
    /// A subscriber's RTCP: key-frame requests go to its publisher (on the plane) or to whoever
    /// feeds it, its downlink estimate to whoever feeds it.
    pub(super) fn feedback(
        &mut self,
        id: ConnId,
        packets: &[Box<dyn rtc::rtcp::Packet>],
        now: Instant,
    ) {
        let mut asks = false;
        if let Some(c) = self.conns.get(id).and_then(Option::as_ref) {
            for p in packets {
                if let Some(ssrc) = keyframe::keyframe_ssrc(p.as_ref()) {
                    c.tell(PlaneEvent::KeyframeWanted { ssrc });
                    asks = true;
                } else if let Some(bps) = keyframe::remb_bps(p.as_ref()) {
                    c.tell(PlaneEvent::Estimate(bps));
                }
            }
        }
        if asks {
            self.keyframe_for(id, now);
        }
    }

    /// A subscriber asked for a key frame: ask its publisher's video, at most every
    /// [`KEYFRAME_INTERVAL`]. A request inside the interval is sent at its end (one for all
    /// asked meanwhile), never dropped: a subscriber that joined just after the last key frame
    /// would otherwise wait for the publisher's next one of its own accord.
    pub(super) fn keyframe_for(&mut self, subscriber: ConnId, now: Instant) {
        let Some(publisher) = self.conns[subscriber].as_ref().and_then(|c| c.publisher) else {
            return;
        };
        let Some(p) = self.conns.get_mut(publisher).and_then(Option::as_mut) else {
            return;
        };
        match p.last_keyframe_request {
            Some(t) if now < t + KEYFRAME_INTERVAL => {
                p.keyframe_due.get_or_insert(t + KEYFRAME_INTERVAL);
            }
            _ => self.ask_keyframe(publisher, now),
        }
    }

    /// Sends a picture-loss indication for `publisher`'s video.
    pub(super) fn ask_keyframe(&mut self, publisher: ConnId, now: Instant) {
        let Some(p) = self.conns.get_mut(publisher).and_then(Option::as_mut) else {
            return;
        };
        p.keyframe_due = None;
        let Some((receiver, ssrc)) = p.video_receiver else {
            p.keyframe_on_open = true;
            return;
        };
        p.last_keyframe_request = Some(now);
        let pli = PictureLossIndication {
            sender_ssrc: 0,
            media_ssrc: ssrc,
        };
        if let Some(mut rx) = p.pc.rtp_receiver(receiver)
            && rx.write_rtcp(now, vec![Box::new(pli)]).is_ok()
        {
            self.stats.keyframe_requests += 1;
        }
        self.mark(publisher);
    }
}
