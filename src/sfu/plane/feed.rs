//! Packets handed to the plane from outside its thread: a track published elsewhere (on the
//! per-connection transport, or a courtroom device's ingest) fanned out to viewers whose
//! connections live on the plane.
//!
//! Why a queue and a doorbell rather than a command per packet: the forwarding task of a track
//! writes one copy per viewer, and a system call per copy (the eventfd write that wakes the
//! plane) would cost more than the plane saves. The queue is lock-free and bounded; the doorbell
//! rings only when the plane is about to sleep (or asleep), so a busy plane takes a burst of
//! copies with no wake-up at all.

use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crossbeam_queue::ArrayQueue;
use rtc::rtp_transceiver::RTCRtpSenderId;

use super::ConnId;

/// Copies queued for the plane before more are dropped: about a second of 150 viewers' video
/// at 30 packets a second each (a plane that far behind is overloaded; dropping is better than
/// growing).
pub const MAX_FED: usize = 8192;

/// One packet for one sender of one connection.
pub(crate) struct Fed {
    pub(crate) conn: ConnId,
    /// The connection's token: a packet for a connection that has gone is never written into
    /// a newer one that took its place in the table.
    pub(crate) token: u64,
    pub(crate) sender: RTCRtpSenderId,
    pub(crate) packet: rtc::rtp::Packet,
}

/// The queue into the plane and its doorbell, shared by every [`PlaneSender`].
pub(crate) struct Feed {
    pub(crate) queue: ArrayQueue<Fed>,
    /// Set by the plane's thread just before it waits; whoever finds it set rings.
    pub(crate) asleep: AtomicBool,
    wake: Arc<OwnedFd>,
}

impl Feed {
    pub(crate) fn new(wake: Arc<OwnedFd>) -> Self {
        Self {
            queue: ArrayQueue::new(MAX_FED),
            asleep: AtomicBool::new(false),
            wake,
        }
    }

    /// Queues `fed`; false when the queue is full (the packet is dropped).
    fn push(&self, fed: Fed) -> bool {
        let queued = self.queue.push(fed).is_ok();
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
        if self.queue.is_empty() {
            return true;
        }
        self.asleep.store(false, Ordering::SeqCst);
        false
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
}

impl PlaneSender {
    /// Hands `packet` (its SSRC and payload type already the track's) to the plane; never
    /// blocks. False when the plane is too far behind to take it: the packet is dropped.
    pub fn send(&self, packet: rtc::rtp::Packet) -> bool {
        self.feed.push(Fed {
            conn: self.conn,
            token: self.token,
            sender: self.sender,
            packet,
        })
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
