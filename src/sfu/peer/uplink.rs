//! The publish connection itself: the participant's own peer connection (the per-connection
//! transport), or one of the media plane's (issue 14), whose tracks the plane hands out as
//! they open. The media actor decides what may be published (`publish`); this says how.

use std::sync::Arc;

use tokio::sync::mpsc;
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::RTCSessionDescription;

use crate::sfu::conn::Conn;
use crate::sfu::plane::{IncomingTrack, Plane, PlaneError, Uplink};
use crate::sfu::{PeerFactory, SfuError};

/// The publish connection.
pub(super) enum PublishLink {
    /// The participant's own peer connection.
    Own(Conn),
    /// A connection of the media plane.
    Plane(PlaneUplink),
}

/// A publish connection on the media plane; closed when dropped.
pub(super) struct PlaneUplink {
    pub(super) plane: Plane,
    pub(super) at: Uplink,
}

impl Drop for PlaneUplink {
    fn drop(&mut self) {
        self.plane.try_close_playing(self.at.conn, self.at.token);
    }
}

/// Where a publish connection's new tracks go: the participant's own connection's, or the
/// plane's.
pub(super) struct TrackSinks {
    pub(super) own: mpsc::Sender<Arc<dyn TrackRemote>>,
    pub(super) plane: mpsc::Sender<IncomingTrack>,
}

impl PublishLink {
    /// A new publish connection answering the client's first `offer`: on the plane when the
    /// server runs one. Returns it with the answer.
    pub(super) async fn open(
        factory: &PeerFactory,
        sinks: &TrackSinks,
        offer: String,
    ) -> Result<(Self, String), SfuError> {
        if let Some(plane) = factory.plane() {
            // overflow: drop (nothing on a publish connection needs its events yet)
            let (events, _) = mpsc::channel(1);
            let codecs = factory.codecs().to_vec();
            match plane
                .open_uplink(offer.clone(), codecs, events, sinks.plane.clone())
                .await
            {
                Ok((at, answer)) => {
                    let link = PlaneUplink {
                        plane: plane.clone(),
                        at,
                    };
                    return Ok((Self::Plane(link), answer));
                }
                Err(PlaneError::Stopped) => {
                    // A plane that has stopped degrades to connections of their own.
                    tracing::error!(
                        "the media plane is not there; a connection of its own instead"
                    );
                }
                Err(e) => return Err(offer_refused(e)),
            }
        }
        let mut link = Self::Own(Conn::new(factory, Some(sinks.own.clone())).await?);
        let answer = link.answer(offer).await?;
        Ok((link, answer))
    }

    /// Answers the client's (later) offer.
    pub(super) async fn answer(&mut self, offer: String) -> Result<String, SfuError> {
        match self {
            Self::Own(conn) => {
                let offer = RTCSessionDescription::offer(offer)
                    .map_err(|e| SfuError::Sdp(e.to_string()))?;
                conn.pc.set_remote_description(offer).await?;
                let answer = conn.pc.create_answer(None).await?;
                conn.local_with_candidates(answer).await
            }
            Self::Plane(p) => p
                .plane
                .renegotiate_uplink(p.at, offer)
                .await
                .map_err(offer_refused),
        }
    }

    /// The participant's own connection, if that is what this is (it takes trickled
    /// candidates; the plane, ICE-lite, does not need them).
    pub(super) fn own(&self) -> Option<&Conn> {
        match self {
            Self::Own(c) => Some(c),
            Self::Plane(_) => None,
        }
    }

    /// Closes it.
    pub(super) async fn close(self) {
        match self {
            Self::Own(conn) => {
                let _ = conn.pc.close().await;
            }
            Self::Plane(p) => p.plane.close_playing(p.at.conn, p.at.token).await,
        }
    }
}

/// A plane's refusal of the client's offer: the offer's fault (counted against the client) when
/// the core would not take it, the server's otherwise.
fn offer_refused(e: PlaneError) -> SfuError {
    match e {
        PlaneError::Rtc(e) => SfuError::Sdp(e.to_string()),
        PlaneError::TooLarge => SfuError::Sdp(e.to_string()),
        e => SfuError::Plane(e),
    }
}
