//! Packets handed in from outside the plane (`crate::sfu::plane::feed`), written into their
//! connections.

use std::time::Instant;

use super::Engine;
use crate::sfu::plane::feed::MAX_FED;

impl Engine {
    /// Writes what was handed in from outside into its connections, a copy per destination
    /// (about [`MAX_FED`] copies per wake-up, so the socket is read again in between).
    pub(super) fn take_fed(&mut self) {
        let now = Instant::now();
        let mut taken = 0;
        while taken < MAX_FED {
            let Some(f) = self.feed.pop() else {
                break;
            };
            taken += f.dests.len().max(1);
            let fan_out = f.dests.len() >= crate::sfu::plane::outbox::BATCH;
            for d in &f.dests {
                let Some(c) = self.conns.get_mut(d.conn).and_then(Option::as_mut) else {
                    self.stats.refused += 1;
                    continue;
                };
                if c.token != d.token || !c.connected || !c.sends_as(d.sender, d.ssrc) {
                    self.stats.refused += 1;
                    continue;
                }
                let mut p = f.packet.clone();
                p.header.ssrc = d.ssrc;
                p.header.payload_type = d.payload_type;
                p.header.sequence_number = d.seq;
                p.header.timestamp = d.ts;
                match c.pc.rtp_sender(d.sender).map(|mut tx| tx.write_rtp(now, p)) {
                    Some(Ok(())) => {
                        self.stats.fed += 1;
                        self.unflushed += 1;
                    }
                    _ => self.stats.refused += 1,
                }
                self.mark(d.conn);
                if self.unflushed >= crate::sfu::plane::outbox::BATCH {
                    self.flush_dirty();
                }
            }
            // A packet fanned out to many took the core for a while: what arrived meanwhile is
            // read (the plane's publishers' speech goes ahead of the rest of a key frame), and
            // the threads that feed it (devices, WHIP encoders) get the core, before the next
            // such packet.
            if fan_out {
                self.flush_dirty();
                self.read_all();
                std::thread::yield_now();
            }
        }
        if taken > 0 {
            self.flush_dirty();
        }
    }
}
