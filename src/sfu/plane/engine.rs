//! The plane's thread: one loop over the shared socket, the commands and the connections'
//! timers. Each wake-up reads every datagram waiting (up to a bound), hands each to its
//! connection, forwards what publishers sent into their subscribers' connections, then sends
//! everything those connections wrote in `sendmmsg` batches.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rtc::peer_connection::event::{RTCPeerConnectionEvent, RTCTrackEvent};
use rtc::peer_connection::message::{RTCMessage, TaggedRTCMessage};
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use rtc::sansio::Protocol;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use std::os::fd::OwnedFd;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::demux::{ConnId, Demux};
use super::feed::Feed;
use super::inbox::{self, Inbox, Waiting};
use super::outbox::Outbox;
use super::{Cmd, PlaneEvent, PlaneStats};

mod command;
mod conn;
mod fed;
mod keyframes;
mod offering;
mod socket;
mod table;
mod uplink;

use conn::Conn;
pub(super) use socket::bind;
use socket::{realtime_ns, recv};

/// Datagrams read per wake-up before the loop looks at its commands and timers again.
const READS_PER_WAKE: usize = 256;

/// A publisher is asked for a key frame at most this often (requests meanwhile are served by
/// the one sent), as `sfu::keyframe` does for the per-connection transport.
const KEYFRAME_INTERVAL: Duration = Duration::from_millis(500);

/// The thread's body: pins it if asked, then serves until every handle is dropped.
pub(super) fn run(
    socket: std::net::UdpSocket,
    announced: SocketAddr,
    cmds: mpsc::Receiver<Cmd>,
    wake: Arc<OwnedFd>,
    feed: Arc<Feed>,
    cpu: Option<usize>,
) {
    if let Some(cpu) = cpu {
        let mut set = rustix::thread::CpuSet::new();
        set.set(cpu);
        if let Err(e) = rustix::thread::sched_setaffinity(None, &set) {
            tracing::warn!(cpu, error = %e, "the media plane could not be pinned");
        }
    }
    Engine::new(socket, announced, feed).serve(cmds, &wake);
}

/// The longest the loop waits with nothing due.
const IDLE_WAIT: Duration = Duration::from_secs(1);

/// Bytes of receive buffer taken at once; each datagram is split off it without a copy.
const RX_BLOCK: usize = 64 * 1024;
/// The largest datagram read (anything longer is truncated and then refused by its connection).
const MAX_DATAGRAM: usize = 2048;

/// The state of one plane.
struct Engine {
    socket: std::net::UdpSocket,
    /// The address clients are told (the bound one, or the announced one): every
    /// connection's one candidate, and so the local address of every datagram it handles.
    announced: SocketAddr,
    conns: Vec<Option<Conn>>,
    demux: Demux,
    outbox: Outbox,
    /// Connections that may have something to write or a new deadline.
    dirty: Vec<ConnId>,
    /// Packets written into connections since their datagrams were last collected.
    unflushed: usize,
    /// When each forwarded packet not yet wholly sent arrived (real-time ns), and whether it
    /// was speech.
    holding: Vec<(i128, bool)>,
    /// When the datagram being handled arrived (real-time ns).
    arrived: i128,
    /// What a connection handed over in one drain (kept to reuse its allocation).
    media: Vec<RTCMessage>,
    /// Where datagrams are read.
    rx: BytesMut,
    /// Datagrams read and not yet handled.
    inbox: Inbox,
    /// Packets handed in from outside.
    feed: Arc<Feed>,
    /// The token the next connection gets.
    next_token: u64,
    stats: PlaneStats,
}

impl Engine {
    fn new(socket: std::net::UdpSocket, announced: SocketAddr, feed: Arc<Feed>) -> Self {
        Self {
            socket,
            announced,
            conns: Vec::new(),
            demux: Demux::default(),
            outbox: Outbox::default(),
            dirty: Vec::new(),
            unflushed: 0,
            holding: Vec::new(),
            arrived: 0,
            media: Vec::new(),
            rx: BytesMut::new(),
            inbox: Inbox::default(),
            feed,
            next_token: 1,
            stats: PlaneStats::default(),
        }
    }

    /// One loop: timers, commands, then wait in `poll` for the socket (readable, or writable
    /// while datagrams wait) or a command's wake-up, until the next deadline.
    fn serve(mut self, mut cmds: mpsc::Receiver<Cmd>, wake: &OwnedFd) {
        use rustix::event::{PollFd, PollFlags};
        loop {
            let now = Instant::now();
            self.fire_timers(now);
            loop {
                match cmds.try_recv() {
                    Ok(cmd) => self.command(cmd),
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    Err(mpsc::error::TryRecvError::Disconnected) => return,
                }
            }
            self.flush_dirty();
            // At most a second: a plane whose handles are all gone notices within it.
            let left = if self.feed.may_sleep() {
                self.next_deadline()
                    .map_or(IDLE_WAIT, |d| d.saturating_duration_since(Instant::now()))
                    .min(IDLE_WAIT)
            } else {
                Duration::ZERO
            };
            let timeout = rustix::time::Timespec {
                tv_sec: i64::try_from(left.as_secs()).unwrap_or(i64::MAX),
                tv_nsec: i64::from(left.subsec_nanos()),
            };
            let mut interest = PollFlags::IN;
            if !self.outbox.is_empty() {
                interest |= PollFlags::OUT;
            }
            let mut fds = [
                PollFd::new(&self.socket, interest),
                PollFd::new(wake, PollFlags::IN),
            ];
            let waited = rustix::event::poll(&mut fds, Some(&timeout));
            self.feed.woke();
            match waited {
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(e) => {
                    tracing::error!(error = %e, "the media plane cannot wait; it stops");
                    return;
                }
            }
            let (socket, woken) = (fds[0].revents(), fds[1].revents());
            if woken.contains(PollFlags::IN) {
                let mut count = [0u8; 8];
                let _ = rustix::io::read(wake, &mut count);
            }
            if socket.contains(PollFlags::OUT) {
                self.send_queued();
            }
            if socket.intersects(PollFlags::IN | PollFlags::ERR) {
                self.read_all();
            }
            self.take_fed();
        }
    }

    /// Reads what has arrived and handles it, speech and control first. After a video packet
    /// whose fan-out took a while it looks at the socket again, so speech arriving during a
    /// key frame waits for one packet's fan-out, not the frame's (see `inbox`).
    fn read_all(&mut self) {
        let mut budget = READS_PER_WAKE;
        self.take_arrivals(&mut budget);
        while let Some((w, video)) = self.inbox.pop() {
            self.arrived = w.arrived;
            self.datagram(Instant::now(), w);
            // A burst (a key frame to many) leaves as it is made, not after the whole read
            // batch: the first copies do not wait for the last.
            if self.unflushed >= super::outbox::BATCH {
                self.flush_dirty();
                if video {
                    self.take_arrivals(&mut budget);
                }
            }
        }
        self.flush_dirty();
    }

    /// Moves what waits in the socket (at most `budget` datagrams) to the inbox.
    fn take_arrivals(&mut self, budget: &mut usize) {
        while *budget > 0 {
            if self.rx.len() < MAX_DATAGRAM {
                self.rx = BytesMut::zeroed(RX_BLOCK);
            }
            let (n, from, arrived) = match recv(&self.socket, &mut self.rx[..MAX_DATAGRAM]) {
                Ok(None) => return,
                Ok(Some(got)) => got,
                Err(e) => {
                    // ICMP errors surface here on some kernels; the socket itself is fine.
                    tracing::debug!(error = %e, "media plane read");
                    *budget -= 1;
                    continue;
                }
            };
            *budget -= 1;
            self.stats.received += 1;
            let arrived = arrived.unwrap_or_else(realtime_ns);
            let datagram = self.rx.split_to(n);
            let Some(conn) = self.demux.route(from, &datagram) else {
                self.stats.unrouted += 1;
                continue;
            };
            let audio = self.conns[conn]
                .as_ref()
                .map_or(&[][..], |c| c.audio_ssrcs.as_slice());
            let urgent = inbox::urgent(&datagram, audio);
            self.inbox.push(
                Waiting {
                    conn,
                    from,
                    arrived,
                    datagram,
                },
                urgent,
            );
        }
    }

    fn datagram(&mut self, now: Instant, w: Waiting) {
        let id = w.conn;
        let Some(c) = self.conns.get_mut(id).and_then(Option::as_mut) else {
            self.stats.unrouted += 1;
            return;
        };
        let msg = TaggedBytesMut {
            now,
            transport: TransportContext {
                // The address the connection's one candidate names (its ICE agent matches a
                // datagram's local address against it): the announced one behind NAT.
                local_addr: self.announced,
                peer_addr: w.from,
                ecn: None,
                transport_protocol: TransportProtocol::UDP,
            },
            message: w.datagram,
        };
        // Once connected, a DTLS alert (RFC 7983: first byte 21) is the client closing its
        // connection (close_notify) or a fatal error: either way it is over, now rather than
        // when ICE gives up on it half a minute later, sending into the void meanwhile.
        let ended = c.connected && msg.message.first() == Some(&21);
        if let Err(e) = c.pc.handle_read(msg) {
            tracing::debug!(conn = id, error = %e, "datagram refused");
        }
        self.drain(id, now);
        if ended {
            tracing::debug!(conn = id, "the client ended its connection");
            self.close_now(id);
        }
    }

    /// Handles what connection `id` has for the application: state changes, new tracks, media
    /// to forward, feedback to pass on.
    fn drain(&mut self, id: ConnId, now: Instant) {
        self.mark(id);
        let mut failed = false;
        let mut became_connected = false;
        let mut opened_asked = false;
        let mut media = std::mem::take(&mut self.media);
        {
            let Some(c) = self.conns.get_mut(id).and_then(Option::as_mut) else {
                return;
            };
            while let Some(ev) = c.pc.poll_event() {
                match ev {
                    RTCPeerConnectionEvent::OnConnectionStateChangeEvent(s) => {
                        let was = c.connected;
                        c.connected = s == RTCPeerConnectionState::Connected;
                        if c.connected && !was {
                            c.tell(PlaneEvent::Connected);
                        } else if was && !c.connected {
                            c.tell(PlaneEvent::Disconnected);
                        }
                        // A new subscriber starts with a key frame.
                        became_connected |= c.connected && c.publisher.is_some();
                        failed |= matches!(
                            s,
                            RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed
                        );
                    }
                    RTCPeerConnectionEvent::OnTrack(RTCTrackEvent::OnOpen(init)) => {
                        c.uplink_opened(id, &init);
                        c.track_opened(init.track_id, init.receiver_id, init.ssrc);
                        if c.video_receiver.is_some() && c.keyframe_on_open {
                            c.keyframe_on_open = false;
                            opened_asked = true;
                        }
                    }
                    RTCPeerConnectionEvent::OnTrack(RTCTrackEvent::OnClose(track)) => {
                        if let Some(up) = c.uplink.as_mut() {
                            up.closed(&track);
                        }
                    }
                    _ => {}
                }
            }
            while let Some(TaggedRTCMessage { message, .. }) = c.pc.poll_read() {
                match (message, c.uplink.as_mut()) {
                    // A publisher whose media leaves the plane: to its track's sink, which
                    // forwards it (into the feed, taken after this read batch).
                    (RTCMessage::RtpPacket(track, packet), Some(up)) => {
                        if up.deliver(&track, packet) {
                            self.stats.uplinked += 1;
                        } else {
                            self.stats.uplink_dropped += 1;
                        }
                    }
                    (message, _) => media.push(message),
                }
            }
        }
        for m in media.drain(..) {
            match m {
                RTCMessage::RtpPacket(track, packet) => self.forward(id, &track, packet, now),
                RTCMessage::RtcpPacket(_, packets) => self.feedback(id, &packets, now),
                _ => {}
            }
        }
        self.media = media;
        if became_connected {
            self.keyframe_for(id, now);
        }
        if opened_asked {
            self.ask_keyframe(id, now);
        }
        if failed {
            self.remove(id);
        }
    }

    /// Writes one packet of publisher `from`'s track into each of its subscribers' connections.
    fn forward(&mut self, from: ConnId, track: &str, mut packet: rtc::rtp::Packet, now: Instant) {
        let Some(kind) = self
            .conns
            .get_mut(from)
            .and_then(Option::as_mut)
            .and_then(|c| c.kind_of(track))
        else {
            return;
        };
        // Header extensions are negotiated per connection: none are passed on.
        packet.header.extension = false;
        packet.header.extensions.clear();
        let routes = match self.conns[from].as_mut() {
            Some(c) => std::mem::take(&mut c.routes[kind]),
            None => return,
        };
        let mut written = 0;
        for r in &routes {
            let Some(s) = self.conns.get_mut(r.conn).and_then(Option::as_mut) else {
                continue;
            };
            if !s.connected {
                continue;
            }
            let mut p = packet.clone();
            p.header.ssrc = r.ssrc;
            p.header.payload_type = r.payload_type;
            match s.pc.rtp_sender(r.sender).map(|mut tx| tx.write_rtp(now, p)) {
                Some(Ok(())) => written += 1,
                _ => self.stats.refused += 1,
            }
            self.mark(r.conn);
        }
        if written > 0 {
            self.stats.forwarded += written as u64;
            self.unflushed += written;
            // Samples beyond the bound (a socket blocked for long) are not kept.
            if self.holding.len() < super::outbox::MAX_QUEUED {
                self.holding.push((self.arrived, kind == 0));
            }
        }
        if let Some(c) = self.conns[from].as_mut() {
            c.routes[kind] = routes;
        }
    }

    /// Collects what the touched connections wrote, refreshes their deadlines, and sends.
    fn flush_dirty(&mut self) {
        self.unflushed = 0;
        for id in std::mem::take(&mut self.dirty) {
            let Some(c) = self.conns.get_mut(id).and_then(Option::as_mut) else {
                continue;
            };
            c.dirty = false;
            while let Some(w) = c.pc.poll_write() {
                if !self.outbox.push(w.transport.peer_addr, w.message) {
                    self.stats.send_dropped += 1;
                }
            }
            c.deadline = c.pc.poll_timeout();
        }
        self.send_queued();
    }

    fn send_queued(&mut self) {
        if self.outbox.is_empty() {
            return;
        }
        let result = self.outbox.flush(&self.socket);
        if let Ok(f) = &result {
            self.stats.sent += f.sent as u64;
            self.stats.send_calls += f.calls as u64;
            self.stats.send_dropped += f.dropped as u64;
        }
        // On WouldBlock the rest waits in the outbox for the socket to be writable.
        if self.outbox.is_empty() && !self.holding.is_empty() {
            let done = realtime_ns();
            for (arrived, speech) in self.holding.drain(..) {
                let us = u64::try_from((done - arrived).max(0) / 1000).unwrap_or(u64::MAX);
                self.stats.held.record(us);
                if speech {
                    self.stats.held_speech.record(us);
                }
            }
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.conns
            .iter()
            .flatten()
            .flat_map(|c| [c.deadline, c.keyframe_due])
            .flatten()
            .min()
    }

    fn fire_timers(&mut self, now: Instant) {
        for id in 0..self.conns.len() {
            let asks = self.conns[id]
                .as_ref()
                .and_then(|c| c.keyframe_due)
                .is_some_and(|d| d <= now);
            if asks {
                self.ask_keyframe(id, now);
            }
            let due = self.conns[id]
                .as_ref()
                .and_then(|c| c.deadline)
                .is_some_and(|d| d <= now);
            if !due {
                continue;
            }
            if let Some(c) = self.conns[id].as_mut() {
                c.deadline = None;
                if let Err(e) = c.pc.handle_timeout(now) {
                    tracing::debug!(conn = id, error = %e, "timeout handling");
                }
            }
            self.drain(id, now);
        }
    }
}

/// Routes are kept per kind: audio, video.
pub(super) fn kind_index(kind: RtpCodecKind) -> usize {
    usize::from(kind == RtpCodecKind::Video)
}
