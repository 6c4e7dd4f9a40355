//! Key-frame requests: an interceptor that lets subscribers' PLI/FIR (and their REMB bandwidth
//! estimates) reach the SFU, and the rate limit before requests are passed on to the publisher.
//!
//! Inbound RTCP stops at the end of the `webrtc` crate's interceptor chain unless an interceptor
//! marks it for the application; this one marks picture-loss and full-intra requests and
//! receiver-estimated maximum bitrates, and drops the rest (the standard interceptors have already acted on it). Adapted from the crate's
//! `rtcp-processing` example. A publisher is asked at most once per [`MIN_INTERVAL_MS`], however
//! many subscribers ask: every key frame costs the publisher's uplink.

use std::collections::VecDeque;
use std::time::Instant;

use rtc::interceptor::{Attribute, Interceptor, Packet, StreamInfo, TaggedPacket};
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtcp::payload_feedbacks::receiver_estimated_maximum_bitrate::ReceiverEstimatedMaximumBitrate;
use rtc::sansio::Protocol;

/// Shortest time between two key-frame requests passed to one publisher, milliseconds.
pub const MIN_INTERVAL_MS: u64 = 500;

/// Whether a request at `now_ms` may go to the publisher, given the last one passed on.
pub fn may_forward(last_ms: Option<u64>, now_ms: u64) -> bool {
    last_ms.is_none_or(|last| now_ms.saturating_sub(last) >= MIN_INTERVAL_MS)
}

/// Passes inbound PLI and FIR to the application; drops all other inbound RTCP at the end of
/// the chain (where it would stop anyway).
#[derive(Default)]
pub struct KeyframeRequests {
    read: VecDeque<TaggedPacket>,
    write: VecDeque<TaggedPacket>,
}

impl std::fmt::Debug for KeyframeRequests {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyframeRequests").finish_non_exhaustive()
    }
}

fn for_application(p: &dyn rtc::rtcp::Packet) -> bool {
    let any = p.as_any();
    any.is::<PictureLossIndication>()
        || any.is::<FullIntraRequest>()
        || any.is::<ReceiverEstimatedMaximumBitrate>()
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for KeyframeRequests {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, mut msg: TaggedPacket) -> Result<(), Self::Error> {
        if let Packet::Rtcp(packets) = &msg.message.packet {
            let requests: Vec<Box<dyn rtc::rtcp::Packet>> = packets
                .iter()
                .filter(|p| for_application(p.as_ref()))
                .cloned()
                .collect();
            if requests.is_empty() {
                return Ok(());
            }
            msg.message.packet = Packet::Rtcp(requests);
            msg.message.add(Attribute::DeliverToApplication);
        }
        self.read.push_back(msg);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<TaggedPacket> {
        self.read.pop_front()
    }

    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        self.write.push_back(msg);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<TaggedPacket> {
        self.write.pop_front()
    }
}

impl Interceptor for KeyframeRequests {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_passed_on_at_most_every_half_second() {
        assert!(may_forward(None, 0));
        assert!(!may_forward(Some(1000), 1200));
        assert!(!may_forward(Some(1000), 1499));
        assert!(may_forward(Some(1000), 1500));
        assert!(
            !may_forward(Some(5000), 10),
            "a clock step back does not flood the publisher"
        );
    }
}
