//! Packets handed in from outside the plane (`crate::sfu::plane::feed`), written into their
//! connections.

use std::time::Instant;

use super::Engine;
use crate::sfu::plane::feed::MAX_FED;

impl Engine {
    /// Writes what was handed in from outside into its connections (at most a queue's worth
    /// per wake-up, so the socket is read again in between).
    pub(super) fn take_fed(&mut self) {
        let now = Instant::now();
        let mut taken = 0;
        while taken < MAX_FED {
            let Some(f) = self.feed.queue.pop() else {
                break;
            };
            taken += 1;
            let Some(c) = self.conns.get_mut(f.conn).and_then(Option::as_mut) else {
                self.stats.refused += 1;
                continue;
            };
            if c.token != f.token || !c.connected {
                self.stats.refused += 1;
                continue;
            }
            match c
                .pc
                .rtp_sender(f.sender)
                .map(|mut tx| tx.write_rtp(now, f.packet))
            {
                Some(Ok(())) => {
                    self.stats.fed += 1;
                    self.unflushed += 1;
                }
                _ => self.stats.refused += 1,
            }
            self.mark(f.conn);
            if self.unflushed >= crate::sfu::plane::outbox::BATCH {
                self.flush_dirty();
            }
        }
        if taken > 0 {
            self.flush_dirty();
        }
    }
}
