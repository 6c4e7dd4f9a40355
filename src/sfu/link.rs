//! What a participant's media actor and their room say to each other, and to the session's
//! socket: the few types both sides need, kept here so that the SFU depends on no room code
//! (the room depends on the SFU, never the other way round).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use gavel_signaling::{EndReason, ServerMessage};

use super::track::PublishedTrack;

/// What a room (or a media actor) sends to one session's socket loop.
#[derive(Debug)]
pub enum Outbound {
    /// A protocol message.
    Msg(ServerMessage),
    /// An error answer to a malformed message (counted towards the client's limit).
    Refused(ServerMessage),
    /// End the session with this reason, then close.
    End(EndReason),
}

/// Media news from a participant's media actor.
#[derive(Debug)]
pub enum MediaEvent {
    /// A new published track.
    Published(Arc<PublishedTrack>),
    /// A track ended (its publisher's connection closed).
    Unpublished(Arc<PublishedTrack>),
}

type Deliver = dyn Fn(MediaEvent) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync;

/// A media actor's way into its room's queue. The room says how a [`MediaEvent`] reaches it
/// (so its queue type stays its own); used only when a track starts or ends, never per packet.
#[derive(Clone)]
pub struct RoomLink(Arc<Deliver>);

impl RoomLink {
    /// A link that delivers each event with `deliver` (which waits while the room's queue is
    /// full: track lifecycle must not be lost).
    pub fn new<F, Fut>(deliver: F) -> Self
    where
        F: Fn(MediaEvent) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        Self(Arc::new(move |ev| Box::pin(deliver(ev))))
    }

    /// Reports a media event to the room.
    pub async fn send_media(&self, ev: MediaEvent) {
        (self.0)(ev).await;
    }
}

impl fmt::Debug for RoomLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RoomLink")
    }
}
