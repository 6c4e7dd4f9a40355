//! A publisher's connection on the plane whose media leaves the plane: a room's participant
//! (or anyone the rooms forward), whose tracks go to the room's forwarding (layer choice, the
//! court's gates, the recorder's and the transcriber's taps, levels) rather than straight into
//! subscribers as the plane's own publishers' do.
//!
//! The client offers, the plane answers (ICE-lite, its one candidate; the client's trickled
//! candidates are not needed), as often as the client renegotiates. Each track the client
//! sends arrives as an [`IncomingTrack`] the first time a packet of it does; its packets (and,
//! for simulcast, each further layer's opening) follow on the track's own channel, which ends
//! when the client stops sending the track or the connection goes.

use tokio::sync::{mpsc, oneshot};

use gavel_signaling::MediaKind;
use rtc::rtp_transceiver::rtp_sender::RTCRtpCodec;

use super::{Cmd, ConnId, Plane, PlaneError, PlaneEvent, check_size};
use crate::sfu::codec::MediaCodec;

/// Packets of one incoming track waiting for its forwarding task: about a second of a
/// camera's top layer. Beyond it they are dropped (and counted): the task is that far behind.
pub const TRACK_QUEUE: usize = 512;

/// A publisher's connection on the plane, and its token (nothing done with it ever touches a
/// later connection in the same table slot).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uplink {
    /// The connection.
    pub conn: ConnId,
    /// Its token.
    pub token: u64,
}

/// What arrives on an incoming track's channel.
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
#[derive(Debug)]
pub struct IncomingTrack {
    /// The client's own id of the track (its `msid`), which its offer names.
    pub track_id: String,
    /// Audio or video.
    pub kind: MediaKind,
    /// Its codec as negotiated.
    pub codec: RTCRtpCodec,
    /// The SSRC of its first stream.
    pub ssrc: u32,
    /// Its streams' openings and packets, in order; ends when the track does.
    pub packets: mpsc::Receiver<UplinkPacket>,
}

/// What is asked of a publisher's connection.
pub(super) enum UplinkCmd {
    Open {
        offer: String,
        codecs: Vec<MediaCodec>,
        events: mpsc::Sender<PlaneEvent>,
        tracks: mpsc::Sender<IncomingTrack>,
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
    /// answer. Each track it sends goes to `tracks`, what happens on the connection to
    /// `events` (full channels lose what does not fit, never block the plane). Closed with
    /// [`Plane::close_playing`].
    pub async fn open_uplink(
        &self,
        offer: String,
        codecs: Vec<MediaCodec>,
        events: mpsc::Sender<PlaneEvent>,
        tracks: mpsc::Sender<IncomingTrack>,
    ) -> Result<(Uplink, String), PlaneError> {
        check_size(&offer)?;
        self.ask(|reply| {
            Cmd::Uplink(UplinkCmd::Open {
                offer,
                codecs,
                events,
                tracks,
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
