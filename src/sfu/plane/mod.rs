//! The media plane: every peer connection of one core driven by one thread on the sans-IO
//! `rtc` core, over one shared UDP socket (ICE-lite), forwarding each publisher's packets to its
//! subscribers without a task, channel or timer per packet per subscriber (issue 14, point 3).
//!
//! The `webrtc` crate gives each peer connection its own driver task and sockets; with 150
//! subscribers a forwarded packet crosses 150 channels and wakes 150 tasks, each ending in its
//! own `sendto`. The stop-25 profile put 85 % of the server's CPU there and 7.7 % in Gavel's own
//! fan-out. Here a datagram is read, decrypted, forwarded into every subscriber's connection
//! (SRTP, RTCP bookkeeping) and the copies leave in `sendmmsg` batches, all in one pass of one
//! thread, which is pinned to a core if asked.
//!
//! The plane forwards between its own publishers and subscribers (measured by `gavel bench sfu
//! --plane`), and carries connections whose media comes from or goes to outside it: WHEP
//! viewers ([`Plane::play`], answering the viewer's offer) and the rooms' subscribers
//! ([`Plane::open_offering`], offered and renegotiated as the room changes), fed through a
//! [`PlaneSender`] per track; and the rooms' publishers ([`Plane::open_uplink`]), each of whose
//! tracks gets a [`TrackSink`] the room's side makes for it: the room's forwarding (layer
//! choice, the court's gates, the recorder's and transcriber's taps, levels live there, not
//! here) runs in the plane's thread as packets arrive, and its copies come back through the
//! feed in the same wake-up. WHIP encoders still have connections of their own.

pub mod demux;
mod engine;
mod feed;
pub mod inbox;
pub mod latency;
mod offering;
pub mod outbox;
mod uplink;

use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

pub use demux::ConnId;
pub use feed::{MAX_FED, PlaneBatch, PlaneSender};
pub use offering::{Offered, Offering};
pub use uplink::{IncomingTrack, SinkMaker, TrackSink, Uplink, UplinkPacket};

use crate::sfu::codec::MediaCodec;
use feed::Feed;

/// A failure of the media plane.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlaneError {
    /// The `rtc` core refused an operation (a malformed or incompatible description).
    #[error("webrtc: {0}")]
    Rtc(#[from] rtc::shared::error::Error),
    /// The socket could not be bound or read.
    #[error("socket: {0}")]
    Io(#[from] std::io::Error),
    /// The connection named is not (or no longer) on the plane, or is not a publisher.
    #[error("no such connection")]
    NoSuchConnection,
    /// The plane's thread has stopped.
    #[error("the media plane has stopped")]
    Stopped,
    /// A session description longer than any client sends.
    #[error("session description over {MAX_SDP} bytes")]
    TooLarge,
    /// A codec the plane does not carry yet.
    #[error("the media plane does not carry {0}")]
    Codec(&'static str),
}

/// The longest session description taken (signaling's own limit, `gavel_signaling`'s frame
/// size, is the same order; a browser's offer with simulcast is about 10 KB).
pub const MAX_SDP: usize = 64 * 1024;

fn check_size(sdp: &str) -> Result<(), PlaneError> {
    if sdp.len() > MAX_SDP {
        return Err(PlaneError::TooLarge);
    }
    Ok(())
}

/// Counters of the plane's work, read together.
#[derive(Debug, Clone, Default)]
pub struct PlaneStats {
    /// Packets written into subscribers' connections.
    pub forwarded: u64,
    /// Packets a subscriber's connection refused (not yet connected, closed).
    pub refused: u64,
    /// Packets handed in from outside the plane ([`PlaneSender::send`]) and written.
    pub fed: u64,
    /// Datagrams received.
    pub received: u64,
    /// Datagrams no connection claimed (strangers, late packets of a closed connection).
    pub unrouted: u64,
    /// Datagrams sent.
    pub sent: u64,
    /// `sendmmsg` calls.
    pub send_calls: u64,
    /// Datagrams dropped because their destination refused them.
    pub send_dropped: u64,
    /// Packets of the rooms' publishers, handed to their tracks' sinks.
    pub uplinked: u64,
    /// Such packets of a track nobody took (a codec Gavel does not forward), dropped.
    pub uplink_dropped: u64,
    /// Key-frame requests passed to publishers (after pacing).
    pub keyframe_requests: u64,
    /// CPU time the plane's thread has used, microseconds.
    pub cpu_us: u64,
    /// Connections on the plane now.
    pub connections: usize,
    /// How long forwarded packets were held: from the kernel receiving the publisher's
    /// datagram (queued in the socket included) to handing its last copy to the kernel: the
    /// latency the server adds.
    pub held: latency::Histogram,
    /// The same, of audio packets alone (a hearing notices late speech first).
    pub held_speech: latency::Histogram,
}

/// What happens on a connection fed from outside, told to whoever opened it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaneEvent {
    /// ICE and DTLS are up: what is fed now reaches the viewer (it wants a key frame).
    Connected,
    /// The viewer's connection is down for now (ICE lost it); `Connected` again if it comes
    /// back, `Closed` when the plane gives up on it.
    Disconnected,
    /// The viewer asked for a key frame of the track it receives as `ssrc` (its decoder lost
    /// one).
    KeyframeWanted {
        /// The SSRC of the track (its [`PlaneSender::ssrc`]).
        ssrc: u32,
    },
    /// The viewer's estimate of its downlink (REMB), bits per second.
    Estimate(u64),
    /// The connection failed or closed, and is gone from the plane.
    Closed,
}

/// A track offered to a viewer whose media comes from outside the plane.
#[derive(Debug, Clone)]
pub struct PlayTrack {
    /// Its codec (its kind follows).
    pub codec: MediaCodec,
    /// The stream it belongs to (the publisher, as the viewer sees it).
    pub stream_id: String,
    /// Its own id.
    pub track_id: String,
}

/// A viewer's connection on the plane: the answer to its offer, and one sender per track
/// offered, in order.
#[derive(Debug)]
pub struct Playing {
    /// The connection (to close it).
    pub conn: ConnId,
    /// Its token: closing with it never closes a later connection in the same table slot.
    pub token: u64,
    /// The answer to the viewer's offer.
    pub answer: String,
    /// Where each track's packets go.
    pub senders: Vec<PlaneSender>,
}

enum Cmd {
    Play {
        offer: String,
        tracks: Vec<PlayTrack>,
        events: mpsc::Sender<PlaneEvent>,
        reply: oneshot::Sender<Result<Opened, PlaneError>>,
    },
    Publish {
        offer: String,
        reply: oneshot::Sender<Result<(ConnId, String), PlaneError>>,
    },
    Subscribe {
        publisher: ConnId,
        stream_id: String,
        reply: oneshot::Sender<Result<(ConnId, String), PlaneError>>,
    },
    Answer {
        conn: ConnId,
        /// Only the connection with this token (none: whichever is in the slot).
        token: Option<u64>,
        sdp: String,
        reply: oneshot::Sender<Result<(), PlaneError>>,
    },
    Close {
        conn: ConnId,
        /// Only the connection with this token (none: whichever is in the slot).
        token: Option<u64>,
    },
    Offering(offering::OfferingCmd),
    Uplink(uplink::UplinkCmd),
    Stats {
        reply: oneshot::Sender<PlaneStats>,
    },
}

/// A handle on a running media plane; the plane stops when every handle is dropped.
#[derive(Debug, Clone)]
pub struct Plane {
    cmds: mpsc::Sender<Cmd>,
    /// Wakes the plane's thread after a command is queued (an eventfd).
    wake: Arc<OwnedFd>,
    /// Packets from outside the plane.
    feed: Arc<Feed>,
    addr: SocketAddr,
}

/// What the plane's thread made of a viewer's offer.
struct Opened {
    conn: ConnId,
    token: u64,
    answer: String,
    /// Each track's sender and SSRC.
    senders: Vec<(rtc::rtp_transceiver::RTCRtpSenderId, u32)>,
}

impl std::fmt::Debug for Cmd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cmd")
    }
}

impl Plane {
    /// Binds `addr` and starts the plane on its own thread, pinned to `cpu` if given.
    pub fn start(addr: SocketAddr, cpu: Option<usize>) -> Result<Self, PlaneError> {
        Self::start_announcing(addr, None, cpu)
    }

    /// The same, naming `announce` to clients instead of the bound address (a server behind
    /// 1:1 NAT, or bound to a wildcard address).
    pub fn start_announcing(
        addr: SocketAddr,
        announce: Option<std::net::IpAddr>,
        cpu: Option<usize>,
    ) -> Result<Self, PlaneError> {
        let socket = engine::bind(addr)?;
        let mut addr = socket.local_addr()?;
        if let Some(ip) = announce {
            addr.set_ip(ip);
        }
        // overflow: await (signaling waits; media never goes through this channel)
        let (cmds, rx) = mpsc::channel(64);
        let wake = Arc::new(
            rustix::event::eventfd(
                0,
                rustix::event::EventfdFlags::CLOEXEC | rustix::event::EventfdFlags::NONBLOCK,
            )
            .map_err(std::io::Error::from)?,
        );
        let feed = Arc::new(Feed::new(wake.clone()));
        let (woken, fed) = (wake.clone(), feed.clone());
        std::thread::Builder::new()
            .name("gavel-plane".into())
            .spawn(move || engine::run(socket, addr, rx, woken, fed, cpu))?;
        Ok(Self {
            cmds,
            wake,
            feed,
            addr,
        })
    }

    /// The address every connection of the plane names to clients (its only host candidate).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    async fn ask<T>(&self, cmd: impl FnOnce(oneshot::Sender<T>) -> Cmd) -> Result<T, PlaneError> {
        let (tx, rx) = oneshot::channel();
        self.cmds
            .send(cmd(tx))
            .await
            .map_err(|_| PlaneError::Stopped)?;
        self.wake_up();
        rx.await.map_err(|_| PlaneError::Stopped)
    }

    /// Takes a publisher's offer (non-trickle); returns its connection and the answer.
    pub async fn publish(&self, offer: String) -> Result<(ConnId, String), PlaneError> {
        check_size(&offer)?;
        self.ask(|reply| Cmd::Publish { offer, reply }).await?
    }

    /// A new connection that receives everything `publisher` sends, as stream `stream_id`;
    /// returns it and the plane's offer, to be answered with [`Self::answer`].
    pub async fn subscribe(
        &self,
        publisher: ConnId,
        stream_id: String,
    ) -> Result<(ConnId, String), PlaneError> {
        self.ask(|reply| Cmd::Subscribe {
            publisher,
            stream_id,
            reply,
        })
        .await?
    }

    /// The subscriber's answer to the plane's offer.
    pub async fn answer(&self, conn: ConnId, sdp: String) -> Result<(), PlaneError> {
        check_size(&sdp)?;
        self.ask(|reply| Cmd::Answer {
            conn,
            token: None,
            sdp,
            reply,
        })
        .await?
    }

    /// Closes a connection (a publisher's subscribers stay, and receive nothing more).
    pub async fn close(&self, conn: ConnId) {
        // overflow: await
        let _ = self.cmds.send(Cmd::Close { conn, token: None }).await;
        self.wake_up();
    }

    /// Closes a viewer's connection opened by [`Self::play`] (`token` from its [`Playing`]),
    /// unless it is gone already: a later connection in its table slot is left alone.
    pub async fn close_playing(&self, conn: ConnId, token: u64) {
        // overflow: await
        let _ = self
            .cmds
            .send(Cmd::Close {
                conn,
                token: Some(token),
            })
            .await;
        self.wake_up();
    }

    /// [`Self::close_playing`] from where nothing can wait (a drop); a full command queue
    /// loses it (the connection then ends when ICE gives up on it).
    pub fn try_close_playing(&self, conn: ConnId, token: u64) {
        // overflow: drop (see above)
        let _ = self.cmds.try_send(Cmd::Close {
            conn,
            token: Some(token),
        });
        self.wake_up();
    }

    fn wake_up(&self) {
        feed::ring(&self.wake);
    }

    /// Takes a viewer's receive-only offer (non-trickle: the plane is ICE-lite, its answer
    /// names its one candidate) and answers with `tracks`, whose packets the caller hands in
    /// through the returned senders; what happens on the connection goes to `events` (a full
    /// channel loses events, never blocks the plane).
    pub async fn play(
        &self,
        offer: String,
        tracks: Vec<PlayTrack>,
        events: mpsc::Sender<PlaneEvent>,
    ) -> Result<Playing, PlaneError> {
        check_size(&offer)?;
        let speech: Vec<bool> = tracks
            .iter()
            .map(|t| t.codec.kind() == gavel_signaling::MediaKind::Audio)
            .collect();
        let Opened {
            conn,
            token,
            answer,
            senders,
        } = self
            .ask(|reply| Cmd::Play {
                offer,
                tracks,
                events,
                reply,
            })
            .await??;
        let senders = senders
            .into_iter()
            .zip(speech)
            .map(|((sender, ssrc), speech)| PlaneSender {
                feed: self.feed.clone(),
                conn,
                token,
                sender,
                ssrc,
                speech,
            })
            .collect();
        Ok(Playing {
            conn,
            token,
            answer,
            senders,
        })
    }

    /// The counters now.
    pub async fn stats(&self) -> Result<PlaneStats, PlaneError> {
        self.ask(|reply| Cmd::Stats { reply }).await
    }
}
