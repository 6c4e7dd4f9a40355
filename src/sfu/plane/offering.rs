//! A connection the plane offers and keeps renegotiating: a room's subscriber, whose tracks
//! come and go as the room allows (people join and leave, the court cuts a route) and whose
//! media is fed from outside the plane (the publishers are on the per-connection transport, or
//! courtroom devices).
//!
//! The plane offers, the client answers; one offer is out at a time (the media actor's
//! `Negotiation` sees to that). The plane is ICE-lite: its offer names its one candidate and
//! the client's trickled candidates are not needed.

use tokio::sync::{mpsc, oneshot};

use rtc::rtp_transceiver::RTCRtpSenderId;

use super::{Cmd, ConnId, Plane, PlaneError, PlaneEvent, PlaneSender, PlayTrack, check_size};
use crate::sfu::codec::MediaCodec;

/// A connection the plane offers: which one, and its token (so nothing done with it ever
/// touches a later connection in the same table slot).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offering {
    /// The connection.
    pub conn: ConnId,
    /// Its token.
    pub token: u64,
}

/// An offer of the plane's, and the `mid` each track is in (by SSRC), so an answer's sections
/// can be matched to tracks.
#[derive(Debug, Clone)]
pub struct Offered {
    /// The offer.
    pub sdp: String,
    /// `(ssrc, mid)` of every track on the connection.
    pub mids: Vec<(u32, String)>,
}

/// What is asked of an offering connection.
pub(super) enum OfferingCmd {
    Open {
        events: mpsc::Sender<PlaneEvent>,
        reply: oneshot::Sender<Result<Offering, PlaneError>>,
    },
    AddTrack {
        to: Offering,
        track: PlayTrack,
        /// The codecs offered for it, in order (the first is the track's).
        codecs: Vec<MediaCodec>,
        ssrc: u32,
        reply: oneshot::Sender<Result<RTCRtpSenderId, PlaneError>>,
    },
    RemoveTrack {
        to: Offering,
        sender: RTCRtpSenderId,
    },
    Offer {
        to: Offering,
        reply: oneshot::Sender<Result<Offered, PlaneError>>,
    },
}

impl Plane {
    /// A new connection for the plane to offer, with no tracks yet; what happens on it goes to
    /// `events` (a full channel loses events, never blocks the plane). Closed with
    /// [`Plane::close_playing`].
    pub async fn open_offering(
        &self,
        events: mpsc::Sender<PlaneEvent>,
    ) -> Result<Offering, PlaneError> {
        self.ask(|reply| Cmd::Offering(OfferingCmd::Open { events, reply }))
            .await?
    }

    /// Adds `track` to the connection, offered in `codecs` (in order; the first is what its
    /// packets will be) and sent with `ssrc`; it goes out in the next offer. Its packets are
    /// handed in through the returned sender, and reach the client once it has answered.
    pub async fn add_track(
        &self,
        to: Offering,
        track: PlayTrack,
        codecs: Vec<MediaCodec>,
        ssrc: u32,
    ) -> Result<PlaneSender, PlaneError> {
        let speech = codecs
            .first()
            .is_some_and(|c| c.kind() == gavel_signaling::MediaKind::Audio);
        let sender = self
            .ask(|reply| {
                Cmd::Offering(OfferingCmd::AddTrack {
                    to,
                    track,
                    codecs,
                    ssrc,
                    reply,
                })
            })
            .await??;
        Ok(PlaneSender {
            feed: self.feed.clone(),
            conn: to.conn,
            token: to.token,
            sender,
            ssrc,
            speech,
        })
    }

    /// Takes a track off the connection: nothing more is written to it, at once (packets
    /// still queued for it are dropped); the next offer says so.
    pub async fn remove_track(&self, to: Offering, sender: &PlaneSender) {
        let cmd = Cmd::Offering(OfferingCmd::RemoveTrack {
            to,
            sender: sender.sender,
        });
        // overflow: await (signaling waits; media never goes through this channel)
        let _ = self.cmds.send(cmd).await;
        self.wake_up();
    }

    /// The plane's offer of the connection as it is now.
    pub async fn offer(&self, to: Offering) -> Result<Offered, PlaneError> {
        self.ask(|reply| Cmd::Offering(OfferingCmd::Offer { to, reply }))
            .await?
    }

    /// The client's answer to the latest offer.
    pub async fn answer_offering(&self, to: Offering, sdp: String) -> Result<(), PlaneError> {
        check_size(&sdp)?;
        self.ask(|reply| Cmd::Answer {
            conn: to.conn,
            token: Some(to.token),
            sdp,
            reply,
        })
        .await?
    }
}
