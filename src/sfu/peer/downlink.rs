//! The subscribe connection itself: the participant's own peer connection (the per-connection
//! transport), or one of the media plane's (issue 14), which the plane offers and keeps
//! renegotiating while the published tracks are fed into it. The media actor decides what goes
//! on it (`subscribe`); this says how, the same way for both.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, watch};
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::peer_connection::RTCSessionDescription;
use webrtc::rtp_transceiver::RtpSender;

use crate::sfu::codec::MediaCodec;
use crate::sfu::conn::Conn;
use crate::sfu::plane::{Offering, Plane, PlaneEvent, PlaneSender, PlayTrack};
use crate::sfu::track::{Outlet, PublishedTrack, local_track};
use crate::sfu::{PeerFactory, SfuError};

/// The subscribe connection.
pub(super) enum Downlink {
    /// The participant's own peer connection.
    Own(Conn),
    /// A connection of the media plane.
    Plane(PlaneLink),
}

/// A subscribe connection on the media plane.
pub(super) struct PlaneLink {
    plane: Plane,
    at: Offering,
    connected: watch::Receiver<bool>,
    /// The tracks on it by SSRC, for the key-frame requests its client sends.
    fed: Fed,
    /// Each track's `mid` (by SSRC), from the latest offer.
    mids: HashMap<u32, String>,
    /// Closed by [`Downlink::close`].
    closed: bool,
}

type Fed = Arc<Mutex<HashMap<u32, (Arc<PublishedTrack>, Arc<Outlet>)>>>;

/// A track's place on the subscribe connection.
pub(super) enum Sender {
    Own(Arc<dyn RtpSender>),
    Plane(PlaneSender),
}

impl Downlink {
    /// A new subscribe connection: on the plane when the server runs one. The client's
    /// downlink estimate goes to `estimate`.
    pub(super) async fn open(
        factory: &PeerFactory,
        estimate: &Arc<watch::Sender<u64>>,
    ) -> Result<Self, SfuError> {
        let own = || async { Ok(Self::Own(Conn::new(&factory.sending(), None).await?)) };
        let Some(plane) = factory.plane() else {
            return own().await;
        };
        // overflow: drop (the plane never waits for a session; a lost key-frame request is
        // asked again by the client's decoder, a lost estimate comes again within a second)
        let (events_tx, events) = mpsc::channel(64);
        let at = match plane.open_offering(events_tx).await {
            Ok(at) => at,
            // A plane that has stopped degrades to connections of their own, not to none.
            Err(e) => {
                tracing::error!(error = %e, "the media plane is not there; a connection of its own instead");
                return own().await;
            }
        };
        let (state, connected) = watch::channel(false);
        let fed = Fed::default();
        tokio::spawn(tracing::Instrument::instrument(
            plane_events(events, state, fed.clone(), estimate.clone()),
            tracing::Span::current(),
        ));
        Ok(Self::Plane(PlaneLink {
            plane: plane.clone(),
            at,
            connected,
            fed,
            mids: HashMap::new(),
            closed: false,
        }))
    }

    /// For a connection on the plane: a receiver whose sender is dropped when the plane has
    /// closed the connection (ICE or DTLS failed, or the client closed it).
    pub(super) fn gone(&self) -> Option<watch::Receiver<bool>> {
        match self {
            Self::Own(_) => None,
            Self::Plane(p) => Some(p.connected.clone()),
        }
    }

    /// Whether the connection is up (ICE and DTLS), as it changes.
    pub(super) fn connected(&self) -> watch::Receiver<bool> {
        match self {
            Self::Own(c) => c.connected.clone(),
            Self::Plane(p) => p.connected.clone(),
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

    /// Adds `track` for subscriber `owner`, offered in `codecs` (in order, not empty), sent
    /// as `ssrc`. Returns its place and the outlet that feeds it (not yet on the track).
    pub(super) async fn add(
        &mut self,
        owner: u64,
        track: &Arc<PublishedTrack>,
        id: String,
        codecs: &[MediaCodec],
        ssrc: u32,
        estimate: &Arc<watch::Sender<u64>>,
    ) -> Result<(Sender, Arc<Outlet>), SfuError> {
        let first = codecs[0];
        let (sender, outlet) = match self {
            Self::Own(conn) => {
                // In its own codec (with the publisher's parameters), or its rendition's.
                let codec = if first == track.media {
                    track.codec.clone()
                } else {
                    first.rtc()
                };
                let local = local_track(track.publisher.to_string(), id, track.kind, codec, ssrc);
                let sender = conn
                    .pc
                    .add_track(local.clone() as Arc<dyn TrackLocal>)
                    .await?;
                offer_codecs(&conn.pc, &sender, codecs).await;
                let outlet = Arc::new(Outlet::new(
                    owner,
                    local.clone(),
                    ssrc,
                    track.media.payload_type(),
                ));
                let span = tracing::info_span!("feedback", publisher = %track.publisher, track = %track.key);
                tokio::spawn(tracing::Instrument::instrument(
                    feedback(local, track.clone(), outlet.clone(), estimate.clone()),
                    span,
                ));
                (Sender::Own(sender), outlet)
            }
            Self::Plane(p) => {
                let t = PlayTrack {
                    codec: first,
                    stream_id: track.publisher.to_string(),
                    track_id: id,
                };
                let sender = p.plane.add_track(p.at, t, codecs.to_vec(), ssrc).await?;
                let outlet = Arc::new(Outlet::on_plane(
                    owner,
                    sender.clone(),
                    track.media.payload_type(),
                ));
                lock(&p.fed).insert(ssrc, (track.clone(), outlet.clone()));
                (Sender::Plane(sender), outlet)
            }
        };
        if first != track.media {
            outlet.set_fallback(Some(first.payload_type()));
        }
        Ok((sender, outlet))
    }

    /// Takes a track off (nothing more reaches the client on it).
    pub(super) async fn remove(&mut self, sender: &Sender) {
        match (self, sender) {
            (Self::Own(conn), Sender::Own(s)) => {
                let _ = conn.pc.remove_track(s).await;
            }
            (Self::Plane(p), Sender::Plane(s)) => {
                lock(&p.fed).remove(&s.ssrc);
                p.mids.remove(&s.ssrc);
                p.plane.remove_track(p.at, s).await;
            }
            _ => {}
        }
    }

    /// The offer of the connection as it is now (with its candidates).
    pub(super) async fn offer(&mut self) -> Result<String, SfuError> {
        match self {
            Self::Own(conn) => {
                let offer = conn.pc.create_offer(None).await?;
                conn.local_with_candidates(offer).await
            }
            Self::Plane(p) => {
                let offered = p.plane.offer(p.at).await?;
                p.mids = offered.mids.into_iter().collect();
                Ok(offered.sdp)
            }
        }
    }

    /// Applies the client's answer to the latest offer.
    pub(super) async fn answer(&mut self, sdp: String) -> Result<(), SfuError> {
        match self {
            Self::Own(conn) => {
                let answer =
                    RTCSessionDescription::answer(sdp).map_err(|e| SfuError::Sdp(e.to_string()))?;
                Ok(conn.pc.set_remote_description(answer).await?)
            }
            Self::Plane(p) => p
                .plane
                .answer_offering(p.at, sdp)
                .await
                .map_err(|e| match e {
                    crate::sfu::plane::PlaneError::Rtc(e) => SfuError::Sdp(e.to_string()),
                    e => SfuError::Plane(e),
                }),
        }
    }

    /// The `mid` of the section a track is in.
    pub(super) async fn mid(&self, sender: &Sender) -> Option<String> {
        match (self, sender) {
            (Self::Own(conn), Sender::Own(s)) => {
                transceiver_of(&conn.pc, s).await?.mid().await.ok()?
            }
            (Self::Plane(p), Sender::Plane(s)) => p.mids.get(&s.ssrc).cloned(),
            _ => None,
        }
    }

    /// Closes the connection.
    pub(super) async fn close(self) {
        match self {
            Self::Own(conn) => {
                let _ = conn.pc.close().await;
            }
            Self::Plane(mut p) => {
                p.closed = true;
                p.plane.close_playing(p.at.conn, p.at.token).await;
            }
        }
    }
}

impl Drop for PlaneLink {
    /// A link dropped without [`Downlink::close`] (its actor panicked) still closes its
    /// connection: one never connected would otherwise stay on the plane.
    fn drop(&mut self) {
        if !self.closed {
            self.plane.try_close_playing(self.at.conn, self.at.token);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What the plane says of a subscribe connection: its state (for the actor, which starts
/// answered tracks once it is up), key-frame requests (to the track asked about, for the layer
/// this subscriber gets) and the client's downlink estimate.
async fn plane_events(
    mut events: mpsc::Receiver<PlaneEvent>,
    state: watch::Sender<bool>,
    fed: Fed,
    estimate: Arc<watch::Sender<u64>>,
) {
    while let Some(event) = events.recv().await {
        match event {
            PlaneEvent::Connected => {
                state.send_replace(true);
            }
            PlaneEvent::Disconnected => {
                state.send_replace(false);
            }
            PlaneEvent::Closed => {
                state.send_replace(false);
                tracing::info!("the subscribe connection on the media plane closed");
                break;
            }
            PlaneEvent::KeyframeWanted { ssrc } => {
                let asked = lock(&fed).get(&ssrc).cloned();
                if let Some((track, outlet)) = asked {
                    let layers = outlet.layer.current().map_or(u8::MAX, |l| 1 << l);
                    // Not awaited here: the connection's state events behind it must not
                    // wait (the channel drops what does not fit).
                    tokio::spawn(async move { track.request_keyframe(layers).await });
                }
            }
            PlaneEvent::Estimate(bps) => {
                estimate.send_if_modified(|e| std::mem::replace(e, bps) != bps);
            }
        }
    }
}

/// A subscriber's RTCP about one track on its own connection: key-frame requests go to the
/// publisher (for the layer this subscriber gets; rate-limited there), bandwidth estimates to
/// the actor.
async fn feedback(
    local: Arc<webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP>,
    track: Arc<PublishedTrack>,
    outlet: Arc<Outlet>,
    estimate: Arc<watch::Sender<u64>>,
) {
    while let Some(TrackLocalEvent::OnRtcpPacket(packets)) = local.poll().await {
        let mut keyframe = false;
        for p in &packets {
            if let Some(bps) = crate::sfu::keyframe::remb_bps(p.as_ref()) {
                estimate.send_if_modified(|e| std::mem::replace(e, bps) != bps);
            } else if crate::sfu::keyframe::asks_for_keyframe(p.as_ref()) {
                keyframe = true;
            }
        }
        if keyframe {
            let layers = outlet.layer.current().map_or(u8::MAX, |l| 1 << l);
            track.request_keyframe(layers).await;
        }
    }
}

/// The transceiver `sender` sends on.
async fn transceiver_of(
    pc: &Arc<dyn webrtc::peer_connection::PeerConnection>,
    sender: &Arc<dyn RtpSender>,
) -> Option<Arc<dyn webrtc::rtp_transceiver::RtpTransceiver>> {
    let id: rtc::rtp_transceiver::RTCRtpTransceiverId = sender.id().into();
    pc.get_transceivers()
        .await
        .into_iter()
        .find(|t| t.id() == id)
}

/// Offers `codecs` (in that order) on the track's section: the WebRTC stack would offer the
/// track's own codec only, and keep a reused transceiver's earlier ones.
async fn offer_codecs(
    pc: &Arc<dyn webrtc::peer_connection::PeerConnection>,
    sender: &Arc<dyn RtpSender>,
    codecs: &[MediaCodec],
) {
    use rtc::rtp_transceiver::rtp_sender::RTCRtpCodecParameters;
    let Some(t) = transceiver_of(pc, sender).await else {
        return;
    };
    let codecs = codecs
        .iter()
        .map(|c| RTCRtpCodecParameters {
            rtp_codec: c.rtc(),
            payload_type: c.payload_type(),
        })
        .collect();
    if let Err(e) = t.set_codec_preferences(codecs).await {
        tracing::warn!(error = %e, "a track's codecs could not all be offered");
    }
}
