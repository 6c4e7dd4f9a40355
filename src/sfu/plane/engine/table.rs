//! The plane's table of connections: in, out, and which have work to flush.

use rtc::sansio::Protocol;

use super::Engine;
use super::conn::Conn;
use crate::sfu::plane::{ConnId, PlaneEvent};

impl Engine {
    /// Closes connection `id` and forgets it; its goodbye (DTLS close_notify, or the reply to
    /// the client's) leaves first.
    pub(super) fn close_now(&mut self, id: ConnId) {
        if let Some(c) = self.conns.get_mut(id).and_then(Option::as_mut) {
            let _ = c.pc.close();
            while let Some(w) = c.pc.poll_write() {
                let _ = self.outbox.push(w.transport.peer_addr, w.message);
            }
        }
        self.remove(id);
    }

    /// Notes that connection `id` may have written something or have a new deadline.
    pub(super) fn mark(&mut self, id: ConnId) {
        if let Some(c) = self.conns.get_mut(id).and_then(Option::as_mut)
            && !c.dirty
        {
            c.dirty = true;
            self.dirty.push(id);
        }
    }

    pub(super) fn insert(&mut self, c: Conn) -> ConnId {
        let id = match self.conns.iter().position(Option::is_none) {
            Some(free) => free,
            None => {
                self.conns.push(None);
                self.conns.len() - 1
            }
        };
        self.demux.add(&c.ufrag, id);
        let mut c = c;
        c.token = self.next_token;
        self.next_token += 1;
        self.conns[id] = Some(c);
        self.mark(id);
        id
    }

    pub(super) fn remove(&mut self, id: ConnId) {
        let Some(gone) = self.conns.get_mut(id).and_then(Option::take) else {
            return;
        };
        gone.tell(PlaneEvent::Closed);
        self.demux.remove(id);
        self.dirty.retain(|d| *d != id);
        for c in self.conns.iter_mut().flatten() {
            for routes in &mut c.routes {
                routes.retain(|r| r.conn != id);
            }
            if c.publisher == Some(id) {
                c.publisher = None;
            }
        }
    }
}
