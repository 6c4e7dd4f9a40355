//! Datagrams read and not yet handled, speech and control ahead of video (pure).
//!
//! A key frame fanned out to many subscribers keeps one core busy for tens of milliseconds; a
//! speech packet arriving meanwhile would wait behind the whole frame, and a hearing notices
//! late speech before late video. So between video packets the plane reads what has arrived and
//! handles speech and control first: an audio packet waits at most for one video packet's
//! fan-out. The SRTP header is not encrypted, so the SSRC tells speech from video before
//! decryption.

use std::collections::VecDeque;

use bytes::BytesMut;
use core::net::SocketAddr;

use super::demux::ConnId;

/// One datagram waiting.
#[derive(Debug)]
pub struct Waiting {
    /// The connection it is for.
    pub conn: ConnId,
    /// Its sender.
    pub from: SocketAddr,
    /// When the kernel received it (real-time clock, ns).
    pub arrived: i128,
    /// The bytes.
    pub datagram: BytesMut,
}

/// The datagrams waiting, in two queues.
#[derive(Debug, Default)]
pub struct Inbox {
    urgent: VecDeque<Waiting>,
    video: VecDeque<Waiting>,
}

impl Inbox {
    /// Queues `w`: ahead of video when `urgent`.
    pub fn push(&mut self, w: Waiting, urgent: bool) {
        if urgent {
            self.urgent.push_back(w);
        } else {
            self.video.push_back(w);
        }
    }

    /// The next to handle (urgent first), and whether it was video.
    pub fn pop(&mut self) -> Option<(Waiting, bool)> {
        if let Some(w) = self.urgent.pop_front() {
            return Some((w, false));
        }
        self.video.pop_front().map(|w| (w, true))
    }

    /// Datagrams waiting.
    pub fn len(&self) -> usize {
        self.urgent.len() + self.video.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Whether datagram `d` goes ahead of video: anything that is not RTP (STUN, DTLS, RTCP: small
/// and about the connection itself) and RTP of one of the `audio` SSRCs. RFC 7983 tells RTP and
/// RTCP (first byte 128–191) from the rest, RFC 5761 RTCP (packet type 192–223) from RTP.
pub fn urgent(d: &[u8], audio: &[u32]) -> bool {
    let (Some(&first), Some(&second)) = (d.first(), d.get(1)) else {
        return true;
    };
    if !(128..=191).contains(&first) || (192..=223).contains(&second) {
        return true;
    }
    match d.get(8..12) {
        Some(s) => audio.contains(&u32::from_be_bytes([s[0], s[1], s[2], s[3]])),
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rtp(pt: u8, ssrc: u32) -> Vec<u8> {
        let mut d = vec![0x80, pt, 0, 1, 0, 0, 0, 0];
        d.extend_from_slice(&ssrc.to_be_bytes());
        d.extend_from_slice(&[0; 100]);
        d
    }

    fn waiting(n: u8) -> Waiting {
        Waiting {
            conn: 0,
            from: SocketAddr::from(([127, 0, 0, 1], 9)),
            arrived: 0,
            datagram: BytesMut::from(&[n][..]),
        }
    }

    #[test]
    fn speech_and_control_go_ahead_of_video() {
        let audio = [7];
        assert!(urgent(&rtp(111, 7), &audio), "speech");
        assert!(!urgent(&rtp(96, 8), &audio), "video");
        assert!(
            !urgent(&rtp(111, 9), &audio),
            "an SSRC not known as speech waits"
        );
        assert!(urgent(&rtp(200, 8), &audio), "RTCP (a sender report)");
        assert!(urgent(&[0x00, 0x01, 0, 0], &audio), "STUN");
        assert!(urgent(&[22, 254, 253], &audio), "DTLS");
        assert!(urgent(&[], &audio), "nothing: let the connection refuse it");
        assert!(urgent(&[0x80, 96, 0], &audio), "too short to be media");
    }

    #[test]
    fn urgent_datagrams_are_handled_first_and_each_queue_keeps_its_order() {
        let mut inbox = Inbox::default();
        inbox.push(waiting(1), false);
        inbox.push(waiting(2), false);
        inbox.push(waiting(3), true);
        inbox.push(waiting(4), true);
        let order: Vec<(u8, bool)> = std::iter::from_fn(|| inbox.pop())
            .map(|(w, video)| (w.datagram[0], video))
            .collect();
        assert_eq!(order, [(3, false), (4, false), (1, true), (2, true)]);
        assert!(inbox.is_empty());
    }
}
