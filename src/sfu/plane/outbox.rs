//! Datagrams waiting to leave the shared socket, sent many per system call (`sendmmsg`).
//!
//! A key frame of 40 packets forwarded to 150 subscribers is 6,000 datagrams: one `sendto` each
//! was a third of the server's CPU in the stop-25 profile (syscall entry, per-call socket lookup
//! and locking). Queued here while a batch of incoming datagrams is handled, they leave in
//! calls of up to [`BATCH`].

use std::io::IoSlice;
use std::net::SocketAddr;
use std::os::fd::AsFd;

use bytes::BytesMut;
use rustix::net::addr::SocketAddrArg;
use rustix::net::{MMsgHdr, SendAncillaryBuffer, SendFlags};

/// Datagrams per `sendmmsg` (the kernel's own limit is 1024).
pub const BATCH: usize = 64;

/// Datagrams kept while the socket cannot take more (its buffer is full); beyond this they are
/// dropped and counted, like any UDP loss, instead of growing without bound.
pub const MAX_QUEUED: usize = 65_536;

/// What a flush did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Flushed {
    /// Datagrams the kernel took.
    pub sent: usize,
    /// Datagrams refused for good (an unreachable or invalid destination): dropped and counted,
    /// like any UDP loss.
    pub dropped: usize,
    /// System calls made.
    pub calls: usize,
}

/// Datagrams waiting to be sent, in order.
#[derive(Debug, Default)]
pub struct Outbox {
    queue: Vec<(SocketAddr, BytesMut)>,
    /// How many of `queue` are already sent (the rest waits for the socket to be writable).
    done: usize,
}

impl Outbox {
    /// Queues one datagram; false (and dropped) when [`MAX_QUEUED`] already wait.
    pub fn push(&mut self, to: SocketAddr, d: BytesMut) -> bool {
        if self.len() >= MAX_QUEUED {
            return false;
        }
        self.queue.push((to, d));
        true
    }

    /// Datagrams queued and not yet sent.
    pub fn len(&self) -> usize {
        self.queue.len() - self.done
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sends what is queued. Stops early, keeping the rest, when the socket's buffer is full
    /// (`Err(WouldBlock)` after the datagrams that did go); the caller waits until the socket is
    /// writable and flushes again.
    pub fn flush(&mut self, socket: impl AsFd) -> std::io::Result<Flushed> {
        let mut f = Flushed::default();
        while self.done < self.queue.len() {
            let end = (self.done + BATCH).min(self.queue.len());
            let chunk = &self.queue[self.done..end];
            let addrs: Vec<_> = chunk.iter().map(|(a, _)| a.as_any()).collect();
            let iovs: Vec<[IoSlice<'_>; 1]> =
                chunk.iter().map(|(_, d)| [IoSlice::new(d)]).collect();
            let mut controls: Vec<SendAncillaryBuffer<'_, '_, '_>> =
                (0..chunk.len()).map(|_| Default::default()).collect();
            let mut msgs: Vec<MMsgHdr<'_>> = addrs
                .iter()
                .zip(&iovs)
                .zip(controls.iter_mut())
                .map(|((a, iov), c)| MMsgHdr::new_with_addr(a, iov, c))
                .collect();
            f.calls += 1;
            match rustix::net::sendmmsg(&socket, &mut msgs, SendFlags::DONTWAIT) {
                Ok(n) => {
                    f.sent += n;
                    self.done += n;
                }
                Err(rustix::io::Errno::INTR) => {}
                Err(rustix::io::Errno::AGAIN) => {
                    self.compact();
                    return Err(std::io::ErrorKind::WouldBlock.into());
                }
                // The first datagram of the batch cannot be sent at all: drop it, go on.
                Err(_) => {
                    f.dropped += 1;
                    self.done += 1;
                }
            }
        }
        self.queue.clear();
        self.done = 0;
        Ok(f)
    }

    fn compact(&mut self) {
        self.queue.drain(..self.done);
        self.done = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blocked_socket_cannot_make_the_queue_grow_without_bound() {
        let mut out = Outbox::default();
        let to: SocketAddr = "127.0.0.1:9".parse().expect("addr");
        for _ in 0..MAX_QUEUED {
            assert!(out.push(to, BytesMut::new()));
        }
        assert!(!out.push(to, BytesMut::new()), "one more is dropped");
        assert_eq!(out.len(), MAX_QUEUED);
    }

    #[test]
    fn everything_queued_arrives_in_order_in_few_calls() {
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let rx = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let to = rx.local_addr().expect("addr");
        let mut out = Outbox::default();
        for i in 0..150u8 {
            assert!(out.push(to, BytesMut::from(&[i; 100][..])));
        }
        let f = out.flush(&tx).expect("flush");
        assert_eq!(f.sent, 150);
        assert_eq!(f.calls, 3, "64 + 64 + 22");
        assert!(out.is_empty());
        rx.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .expect("timeout");
        let mut buf = [0u8; 200];
        for i in 0..150u8 {
            let (n, from) = rx.recv_from(&mut buf).expect("a datagram");
            assert_eq!((n, buf[0], from), (100, i, tx.local_addr().expect("addr")));
        }
    }

    #[test]
    fn a_destination_that_cannot_be_reached_costs_only_its_own_datagram() {
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let rx = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let mut out = Outbox::default();
        // An IPv6 destination from an IPv4 socket is refused by the kernel.
        assert!(out.push("[::1]:9".parse().expect("addr"), BytesMut::from(&b"x"[..])));
        assert!(out.push(rx.local_addr().expect("addr"), BytesMut::from(&b"y"[..])));
        let f = out.flush(&tx).expect("flush");
        assert_eq!((f.sent, f.dropped), (1, 1));
        let mut buf = [0u8; 8];
        rx.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .expect("timeout");
        let (n, _) = rx.recv_from(&mut buf).expect("the good one");
        assert_eq!(&buf[..n], b"y");
    }
}
