//! Where one subscriber receives a published track: the subscriber's local track and what
//! may stop it (the subscriber's own pause, and the room's gate, which is a court rule).

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;

use super::plane::PlaneSender;
use super::simulcast::OutputLayer;

/// Where an outlet's packets go: a track of the subscriber's own connection (the
/// per-connection transport), or a track of a connection on the media plane.
pub enum Sink {
    /// The subscriber's local track.
    Local(Arc<TrackLocalStaticRTP>),
    /// A track on the media plane.
    Plane(PlaneSender),
}

/// Where one subscriber receives a published track.
pub struct Outlet {
    /// The subscriber's media actor (one per session), so a resumed session's outlets are never
    /// confused with its predecessor's.
    pub owner: u64,
    /// The track on the subscriber's connection.
    pub sink: Sink,
    /// Its SSRC.
    pub ssrc: u32,
    /// Its payload type.
    pub payload_type: u8,
    /// Which simulcast layer it gets (unused for other tracks).
    pub layer: OutputLayer,
    /// The subscriber does not show this video (audio-only mode, hidden tile): send nothing.
    /// Written only by the subscriber's media actor.
    paused: std::sync::atomic::AtomicBool,
    /// The room allows this subscriber to receive the track (a court rule: a cut route stops
    /// at once, before the media actor takes the track off the connection). Written only by
    /// the room.
    allowed: std::sync::atomic::AtomicBool,
    /// The subscriber cannot take the track's codec (a camera's high profile): it gets the
    /// track's fallback rendition instead, with this payload type (0: it takes the track's
    /// own). Set by whoever negotiated the subscriber's codecs.
    fallback_pt: AtomicU8,
}

impl Outlet {
    /// An output of `owner` on `track`.
    pub fn new(owner: u64, track: Arc<TrackLocalStaticRTP>, ssrc: u32, payload_type: u8) -> Self {
        Self::with_sink(owner, Sink::Local(track), ssrc, payload_type)
    }

    /// An output of `owner` on a track of the media plane.
    pub fn on_plane(owner: u64, sender: PlaneSender, payload_type: u8) -> Self {
        let ssrc = sender.ssrc;
        Self::with_sink(owner, Sink::Plane(sender), ssrc, payload_type)
    }

    fn with_sink(owner: u64, sink: Sink, ssrc: u32, payload_type: u8) -> Self {
        Self {
            owner,
            sink,
            ssrc,
            payload_type,
            layer: OutputLayer::default(),
            paused: std::sync::atomic::AtomicBool::new(false),
            allowed: std::sync::atomic::AtomicBool::new(true),
            fallback_pt: AtomicU8::new(0),
        }
    }

    /// The subscriber gets the track's fallback rendition in payload type `pt` (`None`: the
    /// track's own codec, which it negotiated).
    pub fn set_fallback(&self, pt: Option<u8>) {
        self.fallback_pt.store(pt.unwrap_or(0), Ordering::Relaxed);
    }

    /// Whether the subscriber gets the fallback rendition.
    pub fn fallback(&self) -> bool {
        self.fallback_pt.load(Ordering::Relaxed) != 0
    }

    /// The payload type of what goes out now.
    pub(super) fn current_payload_type(&self) -> u8 {
        match self.fallback_pt.load(Ordering::Relaxed) {
            0 => self.payload_type,
            pt => pt,
        }
    }

    /// Pauses or resumes forwarding; true if that changed anything. A resumed simulcast output
    /// waits for a key frame again.
    pub fn set_paused(&self, paused: bool) -> bool {
        let changed = self.paused.swap(paused, Ordering::Relaxed) != paused;
        if changed && !paused {
            self.layer.restart();
        }
        changed
    }

    /// Opens or closes the room's gate; true if that changed anything. A reopened simulcast
    /// output waits for a key frame again.
    pub(super) fn set_allowed(&self, allowed: bool) -> bool {
        let changed = self.allowed.swap(allowed, Ordering::Relaxed) != allowed;
        if changed && allowed {
            self.layer.restart();
        }
        changed
    }

    /// Whether packets go out: allowed by the room and not paused by the subscriber.
    pub(super) fn sends(&self) -> bool {
        !self.paused.load(Ordering::Relaxed) && self.allowed.load(Ordering::Relaxed)
    }
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Local(_) => f.write_str("Local"),
            Self::Plane(sender) => sender.fmt(f),
        }
    }
}

impl std::fmt::Debug for Outlet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outlet")
            .field("owner", &self.owner)
            .field("ssrc", &self.ssrc)
            .finish_non_exhaustive()
    }
}
