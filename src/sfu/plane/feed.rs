//! Packets handed to the plane from outside its thread: a track published elsewhere (on the
//! per-connection transport, or a courtroom device's ingest) fanned out to viewers whose
//! connections live on the plane.
//!
//! Why a queue and a doorbell rather than a command per packet: a system call per packet (the
//! eventfd write that wakes the plane) would cost more than the plane saves. The queue is
//! lock-free and bounded; the doorbell rings only when the plane is about to sleep (or asleep),
//! so a busy plane takes a burst with no wake-up at all. A packet goes in once with the list of
//! senders it is for ([`PlaneBatch`]), not once per viewer: a key frame to 60 viewers is a few
//! dozen entries, not thousands (per-copy entries overflowed a queue of 8,192 at 1×60).

use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crossbeam_queue::ArrayQueue;
use rtc::rtp_transceiver::RTCRtpSenderId;

use super::ConnId;

/// Packets queued for the plane before more are dropped: seconds of a hearing's media (a plane
/// that far behind is overloaded; dropping is better than growing).
pub const MAX_FED: usize = 8192;

/// One copy of a packet: the sender it goes to, and its header fields there.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Dest {
    pub(crate) conn: ConnId,
    /// The connection's token: a packet for a connection that has gone is never written into
    /// a newer one that took its place in the table.
    pub(crate) token: u64,
    pub(crate) sender: RTCRtpSenderId,
    pub(crate) ssrc: u32,
    pub(crate) payload_type: u8,
    pub(crate) seq: u16,
    pub(crate) ts: u32,
}

/// One packet for one or more senders.
pub(crate) struct Fed {
    pub(crate) packet: rtc::rtp::Packet,
    pub(crate) dests: Vec<Dest>,
}

/// The queues into the plane and its doorbell, shared by every [`PlaneSender`].
pub(crate) struct Feed {
    /// Speech, taken first: a key frame fanned out to many takes the plane tens of
    /// milliseconds, and a hearing notices late speech before late video.
    pub(crate) speech: ArrayQueue<Fed>,
    /// Video.
    pub(crate) queue: ArrayQueue<Fed>,
    /// Set by the plane's thread just before it waits; whoever finds it set rings.
    pub(crate) asleep: AtomicBool,
    wake: Arc<OwnedFd>,
}

impl Feed {
    pub(crate) fn new(wake: Arc<OwnedFd>) -> Self {
        Self {
            speech: ArrayQueue::new(MAX_FED / 4),
            queue: ArrayQueue::new(MAX_FED),
            asleep: AtomicBool::new(false),
            wake,
        }
    }

    /// Queues `fed` (with the speech if it is); false when the queue is full (the packet is
    /// dropped).
    fn push(&self, fed: Fed, speech: bool) -> bool {
        let queue = if speech { &self.speech } else { &self.queue };
        let queued = queue.push(fed).is_ok();
        // Sequentially consistent with the plane's own store-then-check before it waits: either
        // the plane sees this packet before sleeping, or this sees it asleep and rings.
        if self.asleep.swap(false, Ordering::SeqCst) {
            ring(&self.wake);
        }
        queued
    }

    /// The plane's thread is about to wait: true if it may (nothing is queued).
    pub(crate) fn may_sleep(&self) -> bool {
        self.asleep.store(true, Ordering::SeqCst);
        if self.queue.is_empty() && self.speech.is_empty() {
            return true;
        }
        self.asleep.store(false, Ordering::SeqCst);
        false
    }

    /// The next packet to write: speech first.
    pub(crate) fn pop(&self) -> Option<Fed> {
        self.speech.pop().or_else(|| self.queue.pop())
    }

    /// The plane's thread is awake again.
    pub(crate) fn woke(&self) {
        self.asleep.store(false, Ordering::SeqCst);
    }
}

impl std::fmt::Debug for Feed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Feed")
            .field("queued", &self.queue.len())
            .finish_non_exhaustive()
    }
}

/// Wakes the plane's thread (an eventfd write).
pub(crate) fn ring(wake: &OwnedFd) {
    // A full counter (never, at 2^64 - 2) or a stopped plane: nothing to wake.
    let _ = rustix::io::write(wake, &1u64.to_ne_bytes());
}

/// One track of a connection on the plane, fed from outside: what a subscriber's outlet writes
/// into. Cheap to clone.
#[derive(Clone)]
pub struct PlaneSender {
    pub(crate) feed: Arc<Feed>,
    pub(crate) conn: ConnId,
    pub(crate) token: u64,
    pub(crate) sender: RTCRtpSenderId,
    /// The SSRC the track was offered with (packets must carry it).
    pub ssrc: u32,
    /// An audio track (its packets go ahead of video).
    pub(crate) speech: bool,
}

impl PlaneSender {
    /// Hands `packet` (its SSRC and payload type already the track's) to the plane; never
    /// blocks. False when the plane is too far behind to take it: the packet is dropped.
    pub fn send(&self, packet: rtc::rtp::Packet) -> bool {
        let dests = vec![self.dest(&packet.header)];
        self.feed.push(Fed { packet, dests }, self.speech)
    }

    fn dest(&self, header: &rtc::rtp::header::Header) -> Dest {
        Dest {
            conn: self.conn,
            token: self.token,
            sender: self.sender,
            ssrc: header.ssrc,
            payload_type: header.payload_type,
            seq: header.sequence_number,
            ts: header.timestamp,
        }
    }
}

/// Copies of one packet for several senders of the plane, handed in as one entry.
#[derive(Default)]
pub struct PlaneBatch {
    feed: Option<Arc<Feed>>,
    dests: Vec<Dest>,
    /// Copies of speech (the first sender added says).
    speech: bool,
}

impl PlaneBatch {
    /// Adds a copy for `sender` with `header`'s SSRC, payload type, sequence number and
    /// timestamp (the rest of the packet is the batch's); false if `sender` is on another
    /// plane than the batch's copies (a server runs one), whose copy the caller sends itself.
    pub fn add(&mut self, sender: &PlaneSender, header: &rtc::rtp::header::Header) -> bool {
        if self.feed.is_none() {
            self.speech = sender.speech;
        }
        let feed = self.feed.get_or_insert_with(|| sender.feed.clone());
        if !Arc::ptr_eq(feed, &sender.feed) {
            return false;
        }
        self.dests.push(sender.dest(header));
        true
    }

    /// Whether no copy was added.
    pub fn is_empty(&self) -> bool {
        self.dests.is_empty()
    }

    /// Copies added.
    pub fn len(&self) -> usize {
        self.dests.len()
    }

    /// Hands `packet` to the plane for every copy added; returns how many copies were queued
    /// (all or none: the plane too far behind drops them).
    pub fn send(self, packet: rtc::rtp::Packet) -> usize {
        let Some(feed) = self.feed else {
            return 0;
        };
        let n = self.dests.len();
        let fed = Fed {
            packet,
            dests: self.dests,
        };
        if feed.push(fed, self.speech) { n } else { 0 }
    }
}

impl std::fmt::Debug for PlaneBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlaneBatch")
            .field("copies", &self.dests.len())
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for PlaneSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlaneSender")
            .field("conn", &self.conn)
            .field("ssrc", &self.ssrc)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fed(tag: &'static [u8]) -> Fed {
        Fed {
            packet: rtc::rtp::Packet {
                payload: bytes::Bytes::from_static(tag),
                ..Default::default()
            },
            dests: Vec::new(),
        }
    }

    #[test]
    fn speech_goes_ahead_of_video_queued_before_it_and_each_keeps_its_order() {
        let wake = rustix::event::eventfd(0, rustix::event::EventfdFlags::CLOEXEC).unwrap();
        let feed = Feed::new(Arc::new(wake));
        for (tag, speech) in [
            (&b"v1"[..], false),
            (b"v2", false),
            (b"a1", true),
            (b"v3", false),
            (b"a2", true),
        ] {
            assert!(feed.push(fed(tag), speech));
        }
        assert!(!feed.may_sleep(), "packets wait");
        let order: Vec<_> = std::iter::from_fn(|| feed.pop())
            .map(|f| f.packet.payload)
            .collect();
        assert_eq!(order, ["a1", "a2", "v1", "v2", "v3"]);
        assert!(feed.may_sleep(), "nothing waits");
    }
}
