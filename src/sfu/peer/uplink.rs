//! The publish connection itself: the participant's own peer connection (the per-connection
//! transport), or one of the media plane's (issue 14), whose tracks are made into published
//! tracks in the plane's thread as they open, forwarded there, and reported to the media
//! actor. The media actor decides what may be published (`publish`); this says how.

use std::sync::Arc;

use tokio::sync::mpsc;
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::RTCSessionDescription;

use crate::domain::ParticipantId;
use crate::sfu::conn::Conn;
use crate::sfu::incoming;
use crate::sfu::plane::{IncomingTrack, Plane, PlaneError, SinkMaker, TrackSink, Uplink};
use crate::sfu::track::PublishedTrack;
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

/// Where a publish connection's new tracks go: the participant's own connection's as they
/// are, the plane's as published tracks (made in the plane's thread, which forwards them).
pub(super) struct TrackSinks {
    pub(super) own: mpsc::Sender<Arc<dyn TrackRemote>>,
    pub(super) plane: mpsc::Sender<(String, Arc<PublishedTrack>)>,
    /// Who publishes.
    pub(super) participant: ParticipantId,
    /// What the latest offer said of its tracks.
    pub(super) offered: Arc<std::sync::Mutex<Offered>>,
}

/// What a publish offer says of its tracks: which are screen shares (by the client's track
/// id), and the audio-level extension's id. Shared by the media actor, which sets it from each
/// offer, and the plane's thread, which reads it as tracks open.
#[derive(Debug, Default)]
pub(super) struct Offered {
    pub(super) screen: Vec<String>,
    pub(super) level_ext: Option<u8>,
}

impl Offered {
    /// What the latest offer said (what an earlier one said, should a holder have panicked).
    pub(super) fn latest(shared: &std::sync::Mutex<Self>) -> (Vec<String>, Option<u8>) {
        let o = shared.lock().unwrap_or_else(|p| p.into_inner());
        (o.screen.clone(), o.level_ext)
    }
}

impl TrackSinks {
    /// Makes, in the plane's thread, each incoming track into a published track and its sink;
    /// the track goes to the media actor (none is taken that the actor would not know of).
    fn maker(&self, plane: &Plane) -> SinkMaker {
        let (plane, tracks, offered) = (plane.clone(), self.plane.clone(), self.offered.clone());
        let participant = self.participant.clone();
        let runtime = tokio::runtime::Handle::current();
        Box::new(move |t: IncomingTrack| {
            let (screen, level_ext) = Offered::latest(&offered);
            let (client_id, track) = incoming::accept_plane(
                participant.clone(),
                t,
                plane.clone(),
                runtime.clone(),
                level_ext,
                &screen,
            )?;
            let sink = track.plane_sink();
            // overflow: drop (a client opening tracks faster than its actor takes them is
            // misbehaving; the track is not taken)
            tracks.try_send((client_id, track)).ok()?;
            Some(Box::new(sink) as Box<dyn TrackSink>)
        })
    }
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
                .open_uplink(offer.clone(), codecs, events, sinks.maker(plane))
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
