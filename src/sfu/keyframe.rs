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

/// What to do with a key-frame request to one publisher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// Send it now.
    Now,
    /// Too soon after the last one: send one at the end of the interval, in this long. A
    /// request is never just dropped: the subscriber who asked may have started listening
    /// just after the last key frame went by, and would otherwise wait for the publisher's
    /// next one of its own accord (a browser may send none for minutes).
    After(std::time::Duration),
    /// A request is already waiting for the end of the interval; it serves this one too.
    Waiting,
}

/// Paces one publisher's key-frame requests: at most one per [`MIN_INTERVAL_MS`], and those
/// inside the interval coalesced into one at its end.
#[derive(Debug)]
pub struct Pacer {
    born: Instant,
    /// Milliseconds after `born` of the last request sent, plus one (0: never).
    last: std::sync::atomic::AtomicU64,
    /// A request waits for the end of the interval.
    waiting: std::sync::atomic::AtomicBool,
}

impl Default for Pacer {
    fn default() -> Self {
        Self {
            born: Instant::now(),
            last: std::sync::atomic::AtomicU64::new(0),
            waiting: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

impl Pacer {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.born.elapsed().as_millis()).unwrap_or(u64::MAX - 1)
    }

    /// A subscriber (or the server) asks for a key frame now.
    pub fn ask(&self) -> Pace {
        self.ask_at(self.now_ms())
    }

    fn ask_at(&self, now: u64) -> Pace {
        use std::sync::atomic::Ordering::{AcqRel, Acquire};
        loop {
            let stored = self.last.load(Acquire);
            let last = stored.checked_sub(1);
            if may_forward(last, now) {
                if self
                    .last
                    .compare_exchange(stored, now + 1, AcqRel, Acquire)
                    .is_ok()
                {
                    return Pace::Now;
                }
                continue;
            }
            if self.waiting.swap(true, AcqRel) {
                return Pace::Waiting;
            }
            let since = now.saturating_sub(last.unwrap_or(now));
            let wait = MIN_INTERVAL_MS.saturating_sub(since).max(1);
            return Pace::After(std::time::Duration::from_millis(wait));
        }
    }

    /// The waiting request is sent now.
    pub fn sent_waiting(&self) {
        self.sent_waiting_at(self.now_ms());
    }

    fn sent_waiting_at(&self, now: u64) {
        use std::sync::atomic::Ordering::Release;
        self.last.store(now + 1, Release);
        self.waiting.store(false, Release);
    }
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

/// Whether `p` asks for a key frame (PLI or FIR).
pub fn asks_for_keyframe(p: &dyn rtc::rtcp::Packet) -> bool {
    let any = p.as_any();
    any.is::<PictureLossIndication>() || any.is::<FullIntraRequest>()
}

/// The SSRC of the stream `p` asks a key frame of, if it is a PLI or FIR (a subscriber's
/// connection carries many tracks: the SSRC says whose).
pub fn keyframe_ssrc(p: &dyn rtc::rtcp::Packet) -> Option<u32> {
    let any = p.as_any();
    if let Some(pli) = any.downcast_ref::<PictureLossIndication>() {
        return Some(pli.media_ssrc);
    }
    let fir = any.downcast_ref::<FullIntraRequest>()?;
    Some(fir.fir.first().map_or(fir.media_ssrc, |e| e.ssrc))
}

/// The bitrate a REMB reports, bits per second, if `p` is one with a usable figure.
pub fn remb_bps(p: &dyn rtc::rtcp::Packet) -> Option<u64> {
    let remb = p
        .as_any()
        .downcast_ref::<ReceiverEstimatedMaximumBitrate>()?;
    // Saturating float-to-int conversion.
    (remb.bitrate.is_finite() && remb.bitrate >= 0.0).then_some(remb.bitrate as u64)
}

fn for_application(p: &dyn rtc::rtcp::Packet) -> bool {
    asks_for_keyframe(p) || p.as_any().is::<ReceiverEstimatedMaximumBitrate>()
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

    #[test]
    fn a_request_inside_the_interval_waits_for_its_end_and_is_never_lost() {
        use std::time::Duration;
        let p = Pacer::default();
        assert_eq!(p.ask_at(1000), Pace::Now);
        // 200 ms later a new subscriber asks: one request is sent at 1500 ...
        assert_eq!(p.ask_at(1200), Pace::After(Duration::from_millis(300)));
        // ... which serves whoever else asks meanwhile.
        assert_eq!(p.ask_at(1300), Pace::Waiting);
        assert_eq!(p.ask_at(1499), Pace::Waiting);
        p.sent_waiting_at(1500);
        // The interval starts again from the request sent at the end of the last.
        assert_eq!(p.ask_at(1600), Pace::After(Duration::from_millis(400)));
        p.sent_waiting_at(2000);
        assert_eq!(p.ask_at(2600), Pace::Now);
    }
}
