//! Which connection a datagram on the shared socket belongs to (pure: no socket, no clock).
//!
//! Every connection of the media plane shares one UDP port, so the plane tells them apart
//! itself, as Janus and mediasoup do in ICE-lite mode: a STUN binding request names the
//! connection in its USERNAME (`<our ufrag>:<their ufrag>`, RFC 8445 §7.2.2), and the address it
//! came from is remembered for that connection; every other datagram (DTLS, SRTP, SRTCP, STUN
//! responses) is routed by its source address alone. A binding request only *suggests* an
//! address: the connection's ICE agent checks its MESSAGE-INTEGRITY and ignores a forged one, so
//! a stranger who knows a ufrag can route its own packets to a connection (which drops them) but
//! never steal another sender's address.

use core::net::SocketAddr;
use std::collections::HashMap;

/// A connection of the plane: an index into its table, reused after the connection is gone.
pub type ConnId = usize;

/// At most this many source addresses are remembered per connection (a client on Wi-Fi and
/// mobile data has two or three; more is someone probing).
const ADDRS_PER_CONN: usize = 4;

/// The ufrag a STUN binding request is addressed to, if `d` is one (RFC 5389 header, RFC 7983
/// first-byte rule).
pub fn binding_request_ufrag(d: &[u8]) -> Option<&str> {
    const MAGIC: [u8; 4] = [0x21, 0x12, 0xa4, 0x42];
    const USERNAME: u16 = 0x0006;
    if d.len() < 20 || d[0..2] != [0x00, 0x01] || d[4..8] != MAGIC {
        return None;
    }
    let len = usize::from(u16::from_be_bytes([d[2], d[3]]));
    let body = d.get(20..20 + len)?;
    let mut at = 0;
    while at + 4 <= body.len() {
        let typ = u16::from_be_bytes([body[at], body[at + 1]]);
        let alen = usize::from(u16::from_be_bytes([body[at + 2], body[at + 3]]));
        let value = body.get(at + 4..at + 4 + alen)?;
        if typ == USERNAME {
            let name = std::str::from_utf8(value).ok()?;
            return name.split_once(':').map(|(ours, _)| ours);
        }
        at += 4 + alen.div_ceil(4) * 4;
    }
    None
}

/// The routing table of one shared socket.
#[derive(Debug, Default)]
pub struct Demux {
    by_ufrag: HashMap<String, ConnId>,
    by_addr: HashMap<SocketAddr, ConnId>,
    /// The addresses learnt for each connection, oldest first.
    addrs: HashMap<ConnId, Vec<SocketAddr>>,
}

impl Demux {
    /// Datagrams whose binding requests name `ufrag` go to `conn`.
    pub fn add(&mut self, ufrag: &str, conn: ConnId) {
        self.by_ufrag.insert(ufrag.to_owned(), conn);
    }

    /// Forgets `conn` and every address learnt for it.
    pub fn remove(&mut self, conn: ConnId) {
        self.by_ufrag.retain(|_, c| *c != conn);
        for a in self.addrs.remove(&conn).unwrap_or_default() {
            self.by_addr.remove(&a);
        }
    }

    /// The connection datagram `d` from `from` belongs to, if any.
    pub fn route(&mut self, from: SocketAddr, d: &[u8]) -> Option<ConnId> {
        if let Some(conn) = binding_request_ufrag(d).and_then(|u| self.by_ufrag.get(u).copied()) {
            self.learn(from, conn);
            return Some(conn);
        }
        self.by_addr.get(&from).copied()
    }

    fn learn(&mut self, from: SocketAddr, conn: ConnId) {
        if self.by_addr.get(&from) == Some(&conn) {
            return;
        }
        if let Some(old) = self.by_addr.insert(from, conn)
            && let Some(list) = self.addrs.get_mut(&old)
        {
            list.retain(|a| *a != from);
        }
        let list = self.addrs.entry(conn).or_default();
        list.push(from);
        if list.len() > ADDRS_PER_CONN {
            let gone = list.remove(0);
            self.by_addr.remove(&gone);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A binding request with USERNAME `name` (and one attribute before it, padded).
    fn request(name: &str) -> Vec<u8> {
        let mut attrs = Vec::new();
        // SOFTWARE "ab" (2 bytes, padded to 4) first, so the parser must skip padding.
        attrs.extend_from_slice(&[0x80, 0x22, 0x00, 0x02, b'a', b'b', 0, 0]);
        attrs.extend_from_slice(&0x0006u16.to_be_bytes());
        attrs.extend_from_slice(&(name.len() as u16).to_be_bytes());
        attrs.extend_from_slice(name.as_bytes());
        while attrs.len() % 4 != 0 {
            attrs.push(0);
        }
        let mut d = vec![0x00, 0x01];
        d.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
        d.extend_from_slice(&[0x21, 0x12, 0xa4, 0x42]);
        d.extend_from_slice(&[7; 12]);
        d.extend_from_slice(&attrs);
        d
    }

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn a_binding_request_names_the_connection_it_is_for() {
        assert_eq!(binding_request_ufrag(&request("srv1:cli")), Some("srv1"));
        assert_eq!(binding_request_ufrag(&request("nocolon")), None);
        let mut response = request("srv1:cli");
        response[0] = 0x01; // 0x0101: a success response, not a request
        assert_eq!(binding_request_ufrag(&response), None);
    }

    #[test]
    fn anything_not_a_well_formed_request_is_not_read_as_one() {
        let r = request("srv1:cli");
        for cut in 0..r.len() - 1 {
            // Truncated anywhere: never a panic, never a name read past the end.
            let _ = binding_request_ufrag(&r[..cut]);
        }
        let mut lying = r.clone();
        lying[3] = 0xff; // the header claims more body than there is
        assert_eq!(binding_request_ufrag(&lying), None);
        // An RTP packet (first byte 0x80) and a DTLS record (22) are not STUN.
        assert_eq!(binding_request_ufrag(&[0x80; 40]), None);
        assert_eq!(binding_request_ufrag(&[22; 40]), None);
    }

    #[test]
    fn media_follows_the_address_a_binding_request_came_from() {
        let mut d = Demux::default();
        d.add("a", 0);
        d.add("b", 1);
        let rtp = [0x80u8; 40];
        assert_eq!(d.route(addr(5000), &rtp), None, "unknown sender: dropped");
        assert_eq!(d.route(addr(5000), &request("a:x")), Some(0));
        assert_eq!(d.route(addr(6000), &request("b:y")), Some(1));
        assert_eq!(d.route(addr(5000), &rtp), Some(0));
        assert_eq!(d.route(addr(6000), &rtp), Some(1));
        assert_eq!(d.route(addr(7000), &request("nobody:z")), None);
    }

    #[test]
    fn a_removed_connection_gets_nothing_more_and_its_slot_can_be_reused() {
        let mut d = Demux::default();
        d.add("a", 0);
        d.route(addr(5000), &request("a:x"));
        d.remove(0);
        assert_eq!(d.route(addr(5000), &[0x80; 40]), None);
        assert_eq!(d.route(addr(5000), &request("a:x")), None);
        d.add("c", 0);
        assert_eq!(d.route(addr(5000), &request("c:x")), Some(0));
    }

    #[test]
    fn a_prober_cannot_make_the_table_grow_without_bound() {
        let mut d = Demux::default();
        d.add("a", 0);
        for port in 1000..2000 {
            d.route(addr(port), &request("a:x"));
        }
        assert_eq!(d.by_addr.len(), ADDRS_PER_CONN);
        assert_eq!(
            d.route(addr(1999), &[0x80; 40]),
            Some(0),
            "the newest stays"
        );
        assert_eq!(d.route(addr(1000), &[0x80; 40]), None, "the oldest went");
    }

    #[test]
    fn an_address_moving_to_another_connection_leaves_the_first() {
        let mut d = Demux::default();
        d.add("a", 0);
        d.add("b", 1);
        d.route(addr(5000), &request("a:x"));
        d.route(addr(5000), &request("b:x"));
        assert_eq!(d.route(addr(5000), &[0x80; 40]), Some(1));
        d.remove(0);
        assert_eq!(d.route(addr(5000), &[0x80; 40]), Some(1));
    }
}
