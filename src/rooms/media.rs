//! The room's media routing state: which media actor belongs to whom, which tracks exist, and
//! the engine's routing table. Whenever any of the three changes, every participant's desired
//! track set is recomputed and handed to their actor (a `watch`, so this never blocks), and the
//! recorders and caption listeners are brought to what should run.

use std::collections::HashMap;
use std::sync::Arc;

use gavel_signaling::MediaKind;

use tokio::sync::mpsc;

use super::captions::Captions;
use super::recorders::Recorders;
use super::running;
use super::viewers::{Viewer, Viewers};
use super::{MediaEvent, Outbound};
use crate::domain::ParticipantId;
use crate::engine::{Allowed, Route, SessionId};
use crate::recording::manifest_log::ManifestLog;
use crate::recording::writer::Target;
use crate::sfu::peer::{PeerCmd, PeerHandle};
use crate::sfu::track::PublishedTrack;
use crate::transcribe::live::{CaptionEvent, Captioner};

#[derive(Debug, Default)]
pub(super) struct MediaRouting {
    /// Media actor per participant, with the session it belongs to. An actor outlives its
    /// session's dropped socket (kept for a resume) until the grace period ends.
    peers: HashMap<ParticipantId, (SessionId, PeerHandle)>,
    /// Published tracks per publisher.
    tracks: HashMap<ParticipantId, Vec<Arc<PublishedTrack>>>,
    /// The engine's latest table, by subscriber.
    routes: HashMap<ParticipantId, Vec<Allowed>>,
    /// Whose tracks are recorded now (the room's policy).
    recorded: std::collections::HashSet<ParticipantId>,
    /// The recorders of everyone on the record.
    recorders: Recorders,
    /// The caption listeners of everyone on the record.
    captions: Captions,
    /// Viewers outside the room (WHEP).
    viewers: Viewers,
}

impl MediaRouting {
    /// Routing that records into `target` whoever the room says.
    pub(super) fn recording_into(target: Target) -> Self {
        Self {
            recorders: Recorders::into(target),
            ..Self::default()
        }
    }

    /// Also captions whoever is on the record, through `captioner` into `out`.
    pub(super) fn captioned(
        mut self,
        captioner: Arc<Captioner>,
        out: mpsc::Sender<CaptionEvent>,
    ) -> Self {
        self.captions = Captions::through(captioner, out);
        self
    }

    /// Stops every transcription (each hands over its last utterance) and lets go of the
    /// room's own caption sender, so the caption channel closes once all are in.
    pub(super) fn stop_captions(&mut self) {
        self.captions.stop();
    }

    /// Stops every recording and waits until each has closed its last segment into the
    /// manifest; returns the manifest log, to seal (see [`Recorders::close`]).
    pub(super) async fn close_recordings(&mut self) -> Option<Arc<ManifestLog>> {
        self.recorders.close().await
    }

    /// Takes the room's list of whose media is recorded.
    pub(super) fn set_recorded(&mut self, ids: Vec<ParticipantId>) {
        self.recorded = ids.into_iter().collect();
        self.sync_on_record();
    }

    /// Brings the recorders and caption listeners to what should run now.
    fn sync_on_record(&mut self) {
        self.recorders
            .sync(&running::wanted(&self.tracks, &self.recorded, |_| true));
        self.captions.sync(&running::wanted(
            &self.tracks,
            &self.recorded,
            |t: &PublishedTrack| t.kind == MediaKind::Audio,
        ));
    }

    pub(super) fn attach(&mut self, participant: &str, session: SessionId, peer: PeerHandle) {
        if let Some((_, old)) = self.peers.insert(participant.into(), (session, peer)) {
            stop(&old, &self.tracks);
        }
    }

    /// Hands the kept media actor of `participant` to its new `session` (messages now go to
    /// `out`); `None` when there is none to keep. The old session need not have been noticed
    /// as dropped yet (a half-open socket): a client asking to resume holds these connections,
    /// and the old session is replaced anyway.
    pub(super) fn resume(
        &mut self,
        participant: &str,
        session: SessionId,
        out: mpsc::Sender<Outbound>,
    ) -> Option<PeerHandle> {
        let (s, peer) = self.peers.get_mut(participant)?;
        if !peer.try_send(PeerCmd::Rebind(out)) {
            return None;
        }
        *s = session;
        Some(peer.clone())
    }

    /// Stops and drops the media actor of `session` (its connection is gone or replaced):
    /// forwarding to it stops here and now, not when its task gets round to it.
    pub(super) fn detach(&mut self, session: SessionId) {
        let gone: Vec<ParticipantId> = self
            .peers
            .iter()
            .filter(|(_, (s, _))| *s == session)
            .map(|(id, _)| id.clone())
            .collect();
        for id in gone {
            if let Some((_, peer)) = self.peers.remove(&id) {
                stop(&peer, &self.tracks);
            }
        }
    }

    pub(super) fn handle(&mut self, ev: MediaEvent) {
        match ev {
            MediaEvent::Published(t) => {
                self.tracks.entry(t.publisher.clone()).or_default().push(t);
            }
            MediaEvent::Unpublished(t) => {
                if let Some(list) = self.tracks.get_mut(&t.publisher) {
                    list.retain(|x| !Arc::ptr_eq(x, &t));
                }
            }
        }
        self.sync_on_record();
        self.apply();
        self.viewers.apply(&self.tracks);
    }

    /// A viewer outside the room starts watching.
    pub(super) fn view(&mut self, v: Viewer) {
        self.viewers.add(v);
        self.viewers.apply(&self.tracks);
    }

    pub(super) fn view_main(&mut self, v: super::MainViewer) {
        self.viewers.add_main(v);
        self.viewers.apply(&self.tracks);
    }

    /// Viewer `owner` stops watching.
    pub(super) fn unview(&mut self, owner: u64) {
        self.viewers.remove(owner, &self.tracks);
    }

    /// Takes the engine's list of what viewers outside the room may see.
    pub(super) fn set_viewable(&mut self, list: Vec<Allowed>) {
        self.viewers.set_viewable(list);
        self.viewers.apply(&self.tracks);
    }

    /// Whether any audio is published (worth sampling levels).
    pub(super) fn has_audio(&self) -> bool {
        self.tracks
            .values()
            .flatten()
            .any(|t| t.kind == MediaKind::Audio)
    }

    /// The loudest level per publisher since the last sample.
    pub(super) fn take_levels(&self) -> Vec<(ParticipantId, u8)> {
        self.tracks
            .iter()
            .filter_map(|(publisher, list)| {
                let level = list
                    .iter()
                    .filter(|t| t.kind == MediaKind::Audio)
                    .map(|t| t.take_level())
                    .min()?;
                Some((publisher.clone(), level))
            })
            .collect()
    }

    /// Takes the engine's table; a participant no longer in it (gone after the grace period,
    /// or removed) has their media stopped.
    pub(super) fn set_routes(&mut self, routes: Vec<Route>) {
        self.routes = routes.into_iter().map(|r| (r.subscriber, r.from)).collect();
        let gone: Vec<ParticipantId> = self
            .peers
            .keys()
            .filter(|p| !self.routes.contains_key(*p))
            .cloned()
            .collect();
        for id in gone {
            if let Some((_, peer)) = self.peers.remove(&id) {
                stop(&peer, &self.tracks);
            }
        }
        self.apply();
    }

    fn apply(&self) {
        for (subscriber, (_, peer)) in &self.peers {
            let allowed = self
                .routes
                .get(subscriber)
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            let mut want = Vec::new();
            for a in allowed {
                for t in self.tracks.get(&a.publisher).into_iter().flatten() {
                    if a.media.get(t.kind) {
                        want.push(t.clone());
                    }
                }
            }
            // Court rule: what is no longer allowed stops now, not when the media actor gets
            // round to it (it may be in the middle of a negotiation). The room opens and closes
            // the gate; the actor adds and takes off the outlets. A route cut and restored
            // before the actor saw the cut resumes at a key frame.
            for t in self.tracks.values().flatten() {
                let allowed = want.iter().any(|w| Arc::ptr_eq(w, t));
                if t.allow(peer.owner(), allowed) {
                    let t = t.clone();
                    let ask = async move { t.request_keyframe(u8::MAX).await };
                    tokio::spawn(tracing::Instrument::in_current_span(ask));
                }
            }
            peer.set_desired(want);
        }
    }
}

fn stop(peer: &PeerHandle, tracks: &HashMap<ParticipantId, Vec<Arc<PublishedTrack>>>) {
    peer.set_desired(Vec::new());
    for t in tracks.values().flatten() {
        t.allow(peer.owner(), false);
    }
    peer.close();
}
