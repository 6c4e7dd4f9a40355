//! Viewers outside the room (WHEP): each watches one participant through one audio and one
//! video outlet, and gets what an observer in the hearing itself would: the participant's
//! camera and microphone while they are in the hearing (never in the lobby, a caucus or
//! sequestered) and not muted by the court. The room attaches and detaches the outlets itself,
//! as tracks come and go and the room's rules change.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use gavel_signaling::{MediaKind, Source};

use super::main_view::{MainView, MainViewer};
use crate::domain::ParticipantId;
use crate::engine::{Allowed, AudioVideo};
use crate::sfu::codec::MediaCodec;
use crate::sfu::track::{Outlet, PublishedTrack};

/// One viewer: its outlets, and the tracks they are on now (for its key-frame requests).
#[derive(Debug)]
pub struct Viewer {
    /// Its outlets' owner id (unique among subscribers).
    pub owner: u64,
    /// Whom it watches.
    pub target: ParticipantId,
    /// Where the microphone goes.
    pub audio: Arc<Outlet>,
    /// Where the camera goes.
    pub video: Arc<Outlet>,
    /// The codec the viewer receives the camera in (a camera in another is not shown, unless
    /// its publisher makes a rendition in this one: a camera's high profile, in baseline).
    pub video_codec: MediaCodec,
    /// The camera track it is on now (set by the room).
    pub watching: Arc<Mutex<Option<Arc<PublishedTrack>>>>,
}

impl Viewer {
    fn outlet(&self, kind: MediaKind) -> &Arc<Outlet> {
        match kind {
            MediaKind::Audio => &self.audio,
            MediaKind::Video => &self.video,
        }
    }
}

/// The viewers of one room and what they may see.
#[derive(Debug, Default)]
pub(super) struct Viewers {
    viewers: Vec<Viewer>,
    /// The engine's latest list: who is viewable, and which of their media.
    viewable: HashMap<ParticipantId, AudioVideo>,
    /// Those who watch the hearing as a whole.
    main: MainView,
}

impl Viewers {
    pub(super) fn add(&mut self, v: Viewer) {
        self.viewers.push(v);
    }

    pub(super) fn add_main(&mut self, v: MainViewer) {
        self.main.add(v);
    }

    /// Takes viewer `owner` off every track.
    pub(super) fn remove(
        &mut self,
        owner: u64,
        tracks: &HashMap<ParticipantId, Vec<Arc<PublishedTrack>>>,
    ) {
        self.viewers.retain(|v| v.owner != owner);
        for t in tracks.values().flatten() {
            t.remove_outlet(owner);
        }
        self.main.remove(owner);
        self.main.apply(tracks, &self.viewable);
    }

    pub(super) fn set_viewable(&mut self, list: Vec<Allowed>) {
        self.viewable = list.into_iter().map(|a| (a.publisher, a.media)).collect();
    }

    /// Brings every viewer's outlets to the rules: on its target's latest camera and
    /// microphone, open where the room allows, and off every other track.
    pub(super) fn apply(&mut self, tracks: &HashMap<ParticipantId, Vec<Arc<PublishedTrack>>>) {
        self.main.apply(tracks, &self.viewable);
        for v in &self.viewers {
            let theirs = tracks.get(&v.target).map(Vec::as_slice).unwrap_or(&[]);
            let may = self.viewable.get(&v.target).copied().unwrap_or_default();
            let mut watching = None;
            for kind in [MediaKind::Audio, MediaKind::Video] {
                let source = match kind {
                    MediaKind::Audio => Source::Microphone,
                    MediaKind::Video => Source::Camera,
                };
                let chosen = theirs.iter().rev().find(|t| {
                    t.source == source
                        && (kind == MediaKind::Audio
                            || t.media == v.video_codec
                            || t.rendition() == Some(v.video_codec))
                });
                for t in tracks.values().flatten().filter(|t| t.kind == kind) {
                    let is_chosen = chosen.is_some_and(|c| Arc::ptr_eq(c, t));
                    if !is_chosen {
                        if t.has_outlet(v.owner) {
                            t.remove_outlet(v.owner);
                        }
                        continue;
                    }
                    let allowed = may.get(kind);
                    if !allowed {
                        // Court rule: stops now; the outlet stays for when it is allowed again.
                        t.allow(v.owner, false);
                        continue;
                    }
                    let fresh = !t.has_outlet(v.owner);
                    if fresh {
                        let outlet = v.outlet(kind);
                        if kind == MediaKind::Video {
                            outlet.set_fallback(
                                (t.media != v.video_codec).then_some(outlet.payload_type),
                            );
                        }
                        t.add_outlet(outlet.clone());
                    }
                    if (t.allow(v.owner, true) || fresh) && kind == MediaKind::Video {
                        let t = t.clone();
                        let ask = async move { t.request_keyframe(u8::MAX).await };
                        tokio::spawn(tracing::Instrument::in_current_span(ask));
                    }
                    if kind == MediaKind::Video {
                        watching = Some(t.clone());
                    }
                }
            }
            *v.watching.lock().unwrap_or_else(|p| p.into_inner()) = watching;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::TrackKey;
    use crate::sfu::track::{default_codec, local_track};

    fn track(who: &str, media: MediaCodec) -> Arc<PublishedTrack> {
        Arc::new(
            PublishedTrack::from_device(
                who.into(),
                TrackKey::new(format!("{who}-{media:?}")),
                media,
            )
            .with_rendition(media.fallback()),
        )
    }

    fn outlet(kind: MediaKind) -> Arc<Outlet> {
        let local = local_track("w".into(), "w".into(), kind, default_codec(kind), 1);
        Arc::new(Outlet::new(7, local, 1, 96))
    }

    #[tokio::test]
    async fn a_viewer_gets_its_target_only_while_viewable_and_only_what_is_not_muted() {
        let (mic, cam) = (
            track("judge", MediaCodec::Opus),
            track("judge", MediaCodec::Vp8),
        );
        let other = track("party", MediaCodec::Vp8);
        let tracks = HashMap::from([
            (ParticipantId::from("judge"), vec![mic.clone(), cam.clone()]),
            (ParticipantId::from("party"), vec![other.clone()]),
        ]);
        let mut viewers = Viewers::default();
        viewers.add(Viewer {
            owner: 7,
            target: "judge".into(),
            audio: outlet(MediaKind::Audio),
            video: outlet(MediaKind::Video),
            video_codec: MediaCodec::Vp8,
            watching: Arc::default(),
        });
        // Not in the hearing itself (the lobby, say): nothing.
        viewers.apply(&tracks);
        assert!(!mic.has_outlet(7) && !cam.has_outlet(7));
        // In the hearing, microphone muted by the court: the camera only.
        let allowed = |audio, video| Allowed {
            publisher: "judge".into(),
            media: AudioVideo { audio, video },
        };
        viewers.set_viewable(vec![allowed(false, true)]);
        viewers.apply(&tracks);
        assert!(cam.has_outlet(7) && !mic.has_outlet(7) && !other.has_outlet(7));
        viewers.set_viewable(vec![allowed(true, true)]);
        viewers.apply(&tracks);
        assert!(mic.has_outlet(7));
        // Gone: every outlet off.
        viewers.remove(7, &tracks);
        assert!(!mic.has_outlet(7) && !cam.has_outlet(7));
    }

    #[tokio::test]
    async fn a_baseline_viewer_of_a_high_profile_camera_gets_its_rendition() {
        let cam = track("court", MediaCodec::H264High);
        let tracks = HashMap::from([(ParticipantId::from("court"), vec![cam.clone()])]);
        let mut viewers = Viewers::default();
        let video = outlet(MediaKind::Video);
        viewers.add(Viewer {
            owner: 7,
            target: "court".into(),
            audio: outlet(MediaKind::Audio),
            video: video.clone(),
            video_codec: MediaCodec::H264,
            watching: Arc::default(),
        });
        viewers.set_viewable(vec![Allowed {
            publisher: "court".into(),
            media: AudioVideo {
                audio: true,
                video: true,
            },
        }]);
        viewers.apply(&tracks);
        assert!(cam.has_outlet(7) && video.fallback());
        assert!(
            cam.wants_fallback(),
            "the camera's ingest makes the rendition"
        );
        viewers.remove(7, &tracks);
        assert!(!cam.wants_fallback());
    }
}
