//! The subscribe side of a participant's media: keeping the server-offered connection equal to
//! what the room allows (adding, revoking, rolling back unanswered offers, activating answered
//! tracks once the connection is up), choosing simulcast layers from the client's downlink
//! estimate, and passing its RTCP (key-frame requests, REMB) where it belongs.

use std::sync::Arc;

use gavel_signaling::{ErrorCode, MediaKind, ServerMessage, TrackInfo};

use super::downlink::Downlink;
use super::{MediaActor, Subscribed, client_track_id};
use crate::domain::{ParticipantId, TrackKey};
use crate::sfu::SfuError;
use crate::sfu::layers::{Demand, Layer, allocate};
use crate::sfu::offer_codecs::{Answered, accepted_video, answered, to_offer};
use crate::sfu::track::PublishedTrack;

/// Kept back from the estimate for each subscribed audio track (Opus at its highest).
const AUDIO_RESERVE_BPS: u64 = 64_000;

impl MediaActor {
    /// Chooses the simulcast layer of every subscribed simulcast track from the client's
    /// estimate and tile sizes (`allocate`).
    pub(super) fn allocate_layers(&mut self) {
        let audio = self
            .current
            .values()
            .filter(|s| s.track.kind == MediaKind::Audio)
            .count() as u64;
        let budget = self
            .estimate
            .borrow()
            .saturating_sub(audio * AUDIO_RESERVE_BPS);
        let mut tracks: Vec<(&Subscribed, Vec<Layer>)> = self
            .current
            .values()
            .map(|s| (s, s.track.layers.available()))
            .filter(|(_, l)| !l.is_empty())
            .collect();
        // Raised first: shared screens (evidence), then in a stable order.
        tracks.sort_by_key(|(s, _)| {
            (
                s.track.source != gavel_signaling::Source::Screen,
                s.track.key.clone(),
            )
        });
        if tracks.is_empty() {
            return;
        }
        let demands: Vec<Demand<'_>> = tracks
            .iter()
            .map(|(s, layers)| Demand {
                layers,
                render_height: self
                    .video_sizes
                    .get(&client_track_id(&s.track))
                    .copied()
                    .unwrap_or(u32::MAX),
            })
            .collect();
        for ((s, _), layer) in tracks.iter().zip(allocate(budget, &demands)) {
            if let Some(layer) = layer {
                s.outlet.layer.set_target(layer);
            }
        }
    }

    /// Stops forwarding, and drops from the connection, every current track not in `want`.
    pub(super) async fn revoke(&mut self, want: &[Arc<PublishedTrack>]) {
        let revoked: Vec<(ParticipantId, TrackKey)> = self
            .current
            .iter()
            .filter(|(_, s)| !want.iter().any(|t| Arc::ptr_eq(t, &s.track)))
            .map(|(k, _)| k.clone())
            .collect();
        for k in revoked {
            self.negotiation.handle_removed();
            self.unsubscribe(&k).await;
        }
    }

    /// Forgets tracks that were offered but never activated (no answer, or a bad one).
    pub(super) async fn roll_back(&mut self, added: &[(ParticipantId, TrackKey)]) {
        for k in added {
            self.unsubscribe(k).await;
        }
    }

    /// Stops forwarding track `k` to this participant and takes it off the connection.
    async fn unsubscribe(&mut self, k: &(ParticipantId, TrackKey)) {
        if let Some(s) = self.current.remove(k) {
            s.track.remove_outlet(self.owner);
            self.video_sizes.remove(&client_track_id(&s.track));
            if let Some(downlink) = &mut self.subscribe {
                downlink.remove(&s.sender).await;
            }
        }
    }

    /// Brings the subscribe connection to `want`; returns the tracks awaiting the answer.
    pub(super) async fn renegotiate(
        &mut self,
        want: &[Arc<PublishedTrack>],
    ) -> Option<Vec<(ParticipantId, TrackKey)>> {
        self.revoke(want).await;
        let mut added = Vec::new();
        match self.try_renegotiate(want, &mut added).await {
            Ok(pending) => pending,
            Err(e) => {
                tracing::warn!(error = %e, "subscribe negotiation failed");
                self.roll_back(&added).await;
                None
            }
        }
    }

    pub(super) async fn try_renegotiate(
        &mut self,
        want: &[Arc<PublishedTrack>],
        added: &mut Vec<(ParticipantId, TrackKey)>,
    ) -> Result<Option<Vec<(ParticipantId, TrackKey)>>, SfuError> {
        self.untakeable
            .retain(|(p, k)| want.iter().any(|t| &t.publisher == p && &t.key == k));
        let to_add: Vec<&Arc<PublishedTrack>> = want
            .iter()
            .filter(|t| {
                let k = (t.publisher.clone(), t.key.clone());
                !self.current.contains_key(&k) && !self.untakeable.contains(&k)
            })
            .collect();
        if !self.negotiation.take_offer_needed(!to_add.is_empty()) {
            return Ok(None);
        }
        if self.subscribe.is_none() {
            self.subscribe = Some(Downlink::open(&self.ctx.factory, &self.estimate).await?);
        }
        let downlink = self.subscribe.as_mut().expect("set above");
        for track in to_add {
            let k = (track.publisher.clone(), track.key.clone());
            let accepted = match track.kind {
                MediaKind::Video => self.accepted_video.as_deref(),
                MediaKind::Audio => None,
            };
            let codecs = to_offer(track.media, track.rendition(), accepted);
            if codecs.is_empty() {
                tracing::warn!(publisher = %track.publisher, codec = ?track.media,
                    "the subscriber takes this track in no codec Gavel has for it");
                self.untakeable.insert(k);
                continue;
            }
            let (sender, outlet) = downlink
                .add(
                    self.owner,
                    track,
                    client_track_id(track),
                    &codecs,
                    rand_ssrc(),
                    &self.estimate,
                )
                .await?;
            self.current.insert(
                k.clone(),
                Subscribed {
                    track: track.clone(),
                    sender,
                    outlet,
                    ready: false,
                },
            );
            added.push(k);
        }
        let sdp = downlink.offer().await?;
        let tracks = self
            .current
            .values()
            .map(|s| TrackInfo {
                id: client_track_id(&s.track),
                participant: s.track.publisher.to_string(),
                source: s.track.source,
            })
            .collect();
        let offer = ServerMessage::SubscribeOffer { sdp, tracks };
        self.last_offer = Some(offer.clone());
        self.tell(offer);
        Ok(Some(added.clone()))
    }

    pub(super) async fn subscribe_answer(
        &mut self,
        sdp: String,
        added: Vec<(ParticipantId, TrackKey)>,
        want: &[Arc<PublishedTrack>],
    ) {
        let Some(downlink) = self.subscribe.as_mut() else {
            return;
        };
        let sections = answered(&sdp);
        if let Err(e) = downlink.answer(sdp).await {
            match e {
                // The server's own failure (the plane's connection is gone): not the client's
                // fault, and nothing of the plane's workings goes out.
                SfuError::Plane(e) => {
                    tracing::warn!(error = %e, "a subscribe answer could not be applied");
                    self.tell_error(ErrorCode::Conflict, "the answer could not be applied");
                }
                e => self.tell_error(ErrorCode::BadMessage, &e.to_string()),
            }
            self.roll_back(&added).await;
            return;
        }
        if self.accepted_video.is_none() {
            self.accepted_video = accepted_video(&sections);
        }
        let Some(downlink) = self.subscribe.as_ref() else {
            return;
        };
        for k in &added {
            if let Some(s) = self.current.get(k) {
                choose_rendition(downlink, s, &sections).await;
            }
        }
        let up = *downlink.connected().borrow();
        let start = self.negotiation.handle_applied(added, up);
        if up {
            self.activate(start, want).await;
        }
    }

    /// Starts forwarding the ready tracks that are wanted but have no outlet: answered while the
    /// room had cut them for a moment, and wanted again before this actor took them off (the
    /// room can only reopen an outlet that is there).
    pub(super) async fn restore(&mut self, want: &[Arc<PublishedTrack>]) {
        for s in self.current.values() {
            if s.ready
                && want.iter().any(|t| Arc::ptr_eq(t, &s.track))
                && !s.track.has_outlet(self.owner)
            {
                s.track.add_outlet(s.outlet.clone());
                s.track.request_keyframe(u8::MAX).await;
            }
        }
    }

    /// Starts forwarding the answered tracks `keys` that are still wanted.
    pub(super) async fn activate(
        &mut self,
        keys: Vec<(ParticipantId, TrackKey)>,
        want: &[Arc<PublishedTrack>],
    ) {
        for k in keys {
            let Some(s) = self.current.get_mut(&k) else {
                continue;
            };
            s.ready = true;
            // Only tracks still wanted now: a route revoked while the offer was out stays off.
            if want.iter().any(|t| Arc::ptr_eq(t, &s.track)) {
                s.track.add_outlet(s.outlet.clone());
                s.track.request_keyframe(u8::MAX).await;
            }
        }
        self.allocate_layers();
    }
}

fn rand_ssrc() -> u32 {
    u32::from_be_bytes(crate::auth::random_bytes::<4>())
}

/// Which rendition of `s`'s track the subscriber gets, from what its answer took in the
/// track's section: the track's own codec, or, for a camera's profile it cannot decode, the
/// rendition the camera's ingest makes for such subscribers.
async fn choose_rendition(downlink: &Downlink, s: &Subscribed, sections: &[Answered]) {
    let Some(rendition) = s.track.rendition() else {
        return;
    };
    let Some(mid) = downlink.mid(&s.sender).await else {
        return;
    };
    let Some(section) = sections
        .iter()
        .find(|a| a.mid.as_deref() == Some(mid.as_str()))
    else {
        return;
    };
    let pt = if section.codecs.contains(&s.track.media) {
        None
    } else if section.codecs.contains(&rendition) {
        tracing::info!(publisher = %s.track.publisher, "the subscriber takes the camera's baseline rendition");
        Some(rendition.payload_type())
    } else {
        tracing::warn!(publisher = %s.track.publisher, "the subscriber took no codec of this track");
        return;
    };
    s.outlet.set_fallback(pt);
}
