//! The publish side of a participant's media: the client's offers (checked against the role
//! table), its trickled candidates, and each incoming track turned into a [`PublishedTrack`]
//! for the room.

use std::sync::Arc;

use gavel_signaling::{Connection, ErrorCode, ServerMessage};
use webrtc::media_stream::track_remote::TrackRemote;

use super::MediaActor;
use super::downlink::Downlink;
use super::uplink::{Offered, PublishLink};
use crate::sfu::link::MediaEvent;
use crate::sfu::track::PublishedTrack;
use crate::sfu::{SfuError, incoming, sdp_policy};

/// Most candidates a client may trickle per connection (a browser sends a handful).
const MAX_CANDIDATES: usize = 32;

impl MediaActor {
    /// Adds a trickled candidate to the connection it names (which must exist: candidates come
    /// after their description).
    pub(super) async fn candidate(
        &mut self,
        pc: Connection,
        candidate: String,
        sdp_mid: Option<String>,
        sdp_mline_index: Option<u16>,
    ) {
        // `Some(None)`: a connection on the media plane (ICE-lite), which learns the client's
        // address from the client's own checks: a candidate is checked, then not needed.
        let conn = match pc {
            Connection::Publish => self.publish.as_ref().map(PublishLink::own),
            Connection::Subscribe => self.subscribe.as_ref().map(Downlink::own),
        };
        let Some(conn) = conn else {
            self.tell_error(
                ErrorCode::Conflict,
                "an ICE candidate before its connection's description",
            );
            return;
        };
        if candidate.is_empty() {
            return; // end of candidates: nothing to do, checks go on with what arrived
        }
        let count = match pc {
            Connection::Publish => &mut self.candidates.0,
            Connection::Subscribe => &mut self.candidates.1,
        };
        *count += 1;
        if *count > MAX_CANDIDATES {
            self.tell_error(ErrorCode::BadMessage, "too many ICE candidates");
            return;
        }
        if candidate.split(' ').count() < 8 {
            self.tell_error(ErrorCode::BadMessage, "not an ICE candidate");
            return;
        }
        if !sdp_policy::candidate_allowed(&candidate, self.ctx.factory.binds_loopback()) {
            return; // silently unused, as a browser ignores a candidate it cannot reach
        }
        let Some(conn) = conn else {
            return;
        };
        let init = webrtc::peer_connection::RTCIceCandidateInit {
            candidate,
            sdp_mid,
            sdp_mline_index,
            ..Default::default()
        };
        if let Err(e) = conn.pc.add_ice_candidate(init).await {
            self.tell_error(ErrorCode::BadMessage, &format!("ICE candidate: {e}"));
        }
    }

    pub(super) async fn publish_offer(
        &mut self,
        sdp: String,
        screen: Vec<String>,
    ) -> Result<(), SfuError> {
        if let Err(refusal) = sdp_policy::check(self.ctx.role, &sdp, &screen) {
            self.tell_error(ErrorCode::Forbidden, &refusal.to_string());
            return Ok(());
        }
        {
            let mut o = self.offered.lock().unwrap_or_else(|p| p.into_inner());
            o.screen = screen;
            o.level_ext = sdp_policy::extmap_id(&sdp, crate::sfu::AUDIO_LEVEL_URI);
        }
        let sending = sdp_policy::sending_tracks(&sdp).unwrap_or_default();
        // A publish connection the plane has let go (ICE or DTLS failed, or the client closed
        // it) is answered afresh, as a client starting over would expect.
        if let Some(PublishLink::Plane(p)) = &self.publish
            && !p.plane.is_open(p.at).await
        {
            self.publish = None;
        }
        let sdp = match self.publish.as_mut() {
            Some(link) => link.answer(sdp).await?,
            None => {
                let Some(sinks) = self.track_sinks.as_ref() else {
                    return Ok(()); // shutting down
                };
                let (link, answer) = PublishLink::open(&self.ctx.factory, sinks, sdp).await?;
                self.publish = Some(link);
                answer
            }
        };
        self.tell(ServerMessage::PublishAnswer { sdp });
        // Tracks the renegotiated offer no longer sends are over (the user stopped sharing).
        let stopped: Vec<String> = self
            .published
            .keys()
            .filter(|id| !sending.contains(id))
            .cloned()
            .collect();
        for id in stopped {
            if let Some(track) = self.published.remove(&id) {
                tracing::info!(source = ?track.source, "track unpublished");
                track.end();
                self.ctx
                    .room
                    .send_media(MediaEvent::Unpublished(track))
                    .await;
            }
        }
        Ok(())
    }

    /// A new incoming track of the publish connection on the media plane (made and forwarded
    /// in the plane's thread): report it to the room.
    pub(super) async fn published_on_plane(
        &mut self,
        client_id: String,
        track: Arc<PublishedTrack>,
    ) {
        self.published.insert(client_id, track.clone());
        incoming::run(self.ctx.room.clone(), track).await;
    }

    /// A new incoming track: report it to the room and forward it until the connection ends.
    pub(super) async fn published(&mut self, remote: Arc<dyn TrackRemote>) {
        let participant = self.ctx.participant.clone();
        let (screen, level_ext) = Offered::latest(&self.offered);
        let Some((client_id, track)) =
            incoming::accept(participant, remote, level_ext, &screen).await
        else {
            return;
        };
        self.published.insert(client_id, track.clone());
        incoming::run(self.ctx.room.clone(), track).await;
    }
}
