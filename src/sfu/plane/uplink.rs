//! A publisher's connection on the plane whose media leaves the plane: a room's participant
//! (or anyone the rooms forward), whose tracks go to the room's forwarding (layer choice, the
//! court's gates, the recorder's and the transcriber's taps, levels) rather than straight into
//! subscribers as the plane's own publishers' do.
//!
//! The client offers, the plane answers (ICE-lite, its one candidate; the client's trickled
//! candidates are not needed), as often as the client renegotiates. The first time a packet of
//! a track arrives, the plane asks the connection's [`SinkMaker`] for the track's
//! [`TrackSink`], and hands it that packet and every later one (and, for simulcast, each
//! further layer's opening) in its own thread: the room's forwarding runs there, with no
//! channel or task wake-up per packet. The sink is dropped when the client stops sending the
//! track or the connection goes.

use tokio::sync::{mpsc, oneshot};

use gavel_signaling::MediaKind;
use rtc::rtp_transceiver::rtp_sender::RTCRtpCodec;

use super::{Cmd, ConnId, Plane, PlaneError, PlaneEvent, check_size};
use crate::sfu::codec::MediaCodec;

/// A publisher's connection on the plane, and its token (nothing done with it ever touches a
/// later connection in the same table slot).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uplink {
    /// The connection.
    pub conn: ConnId,
    /// Its token.
    pub token: u64,
}

/// What a track's sink is handed.
#[derive(Debug)]
pub enum UplinkPacket {
    /// A stream of the track opened (its first packet is next): a simulcast layer `rid`.
    Open {
        /// The layer's rid (none: the track is a single stream).
        rid: Option<String>,
        /// Its SSRC.
        ssrc: u32,
    },
    /// A packet of it.
    Rtp(rtc::rtp::Packet),
}

/// A track a publisher on the plane began to send.
#[derive(Debug, Clone)]
pub struct IncomingTrack {
    /// The client's own id of the track (its `msid`), which its offer names.
    pub track_id: String,
    /// Audio or video.
    pub kind: MediaKind,
    /// Its codec as negotiated.
    pub codec: RTCRtpCodec,
    /// The SSRC of its first stream.
    pub ssrc: u32,
    /// Its connection.
    pub at: Uplink,
}

/// Takes an incoming track's streams' openings and packets, in order, in the plane's thread:
/// it must never block (what it hands on, it hands on with `try_send` or the like).
pub trait TrackSink: Send {
    /// One opening or packet.
    fn take(&mut self, event: UplinkPacket);
}

/// Makes the sink of each track a connection begins to send (`None`: the track is not taken,
/// its packets are dropped), in the plane's thread: it must never block.
pub type SinkMaker = Box<dyn FnMut(IncomingTrack) -> Option<Box<dyn TrackSink>> + Send>;

/// What is asked of a publisher's connection.
pub(super) enum UplinkCmd {
    Open {
        offer: String,
        codecs: Vec<MediaCodec>,
        events: mpsc::Sender<PlaneEvent>,
        sinks: SinkMaker,
        reply: oneshot::Sender<Result<(Uplink, String), PlaneError>>,
    },
    Renegotiate {
        to: Uplink,
        offer: String,
        reply: oneshot::Sender<Result<String, PlaneError>>,
    },
    Keyframes {
        to: Uplink,
        ssrcs: Vec<u32>,
    },
    IsOpen {
        to: Uplink,
        reply: oneshot::Sender<bool>,
    },
}

impl Plane {
    /// Takes a publisher's first offer, registering `codecs`; returns the connection and the
    /// answer. Each track it sends goes to the sink `sinks` makes for it, what happens on the
    /// connection to `events` (a full channel loses events, never blocks the plane). Closed
    /// with [`Plane::close_playing`].
    pub async fn open_uplink(
        &self,
        offer: String,
        codecs: Vec<MediaCodec>,
        events: mpsc::Sender<PlaneEvent>,
        sinks: SinkMaker,
    ) -> Result<(Uplink, String), PlaneError> {
        check_size(&offer)?;
        self.ask(|reply| {
            Cmd::Uplink(UplinkCmd::Open {
                offer,
                codecs,
                events,
                sinks,
                reply,
            })
        })
        .await?
    }

    /// Takes a publisher's later offer (a track added or stopped); returns the answer.
    pub async fn renegotiate_uplink(
        &self,
        to: Uplink,
        offer: String,
    ) -> Result<String, PlaneError> {
        check_size(&offer)?;
        self.ask(|reply| Cmd::Uplink(UplinkCmd::Renegotiate { to, offer, reply }))
            .await?
    }

    /// Whether the connection is still on the plane (not failed or closed since).
    pub async fn is_open(&self, to: Uplink) -> bool {
        self.ask(|reply| Cmd::Uplink(UplinkCmd::IsOpen { to, reply }))
            .await
            .unwrap_or(false)
    }

    /// Asks the publisher for a key frame of each of `ssrcs` (its streams), now: the caller
    /// paces its requests. Never waits: a full command queue loses the request, which its
    /// subscriber's decoder asks again.
    pub fn ask_keyframes(&self, to: Uplink, ssrcs: Vec<u32>) {
        // overflow: drop (see above)
        let _ = self
            .cmds
            .try_send(Cmd::Uplink(UplinkCmd::Keyframes { to, ssrcs }));
        self.wake_up();
    }
}
