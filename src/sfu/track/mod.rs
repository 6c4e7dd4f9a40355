//! A published track and its fan-out: the forwarding hot path.
//!
//! One task per published track (for a publisher on the media plane, the plane's thread, as
//! packets arrive: `on_plane`) reads the publisher's RTP and writes it to every current
//! output, rewriting only SSRC and payload type (and dropping header extensions, which are
//! negotiated per connection). The output list is an `ArcSwap` snapshot: the hot path takes no
//! lock and allocates nothing for the list; subscription changes swap in a new list.
//!
//! A simulcast track (layers by rid) forwards to each subscriber only the layer chosen for it,
//! switching at key frames and rewriting sequence numbers and timestamps (`super::simulcast`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::ArcSwap;
use gavel_signaling::{MediaKind, Source};
use rtc::rtp_transceiver::rtp_sender::RTCRtpCodec;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};

use super::codec::MediaCodec;
pub use super::local::{default_codec, local_track};
pub use super::outlet::{Outlet, Sink};
use super::plane::{Plane, PlaneBatch, Uplink, UplinkPacket};
use super::simulcast::{LayerMap, LayerStep, Layers, RecordLayer};
use crate::domain::{ParticipantId, TrackKey};

mod keyframes;
mod on_plane;
mod taps;

pub use on_plane::PlaneTrackSink;
use taps::TapInto;

/// Where a published track's packets come from.
enum Origin {
    /// A WebRTC publisher's remote track: read by [`PublishedTrack::forward`]; key frames are
    /// asked for with a picture-loss indication.
    Peer {
        remote: Arc<dyn TrackRemote>,
        media_ssrc: u32,
    },
    /// A publisher on the media plane: the plane's thread hands each packet to the track's
    /// [`PlaneTrackSink`], which forwards it there and then (no channel, no task wake-up per
    /// packet); key frames are asked of the plane. `gone` is cancelled when the plane lets
    /// the track go.
    Plane {
        plane: Plane,
        at: Uplink,
        media_ssrc: u32,
        /// For what must wait (key-frame requests paced to the end of an interval): the
        /// plane's thread has no runtime of its own.
        runtime: tokio::runtime::Handle,
        gone: tokio_util::sync::CancellationToken,
    },
    /// A courtroom device the server pulls: its ingest hands each packet to
    /// [`PublishedTrack::push`]. Key frames come as the device (or the transcoder, every
    /// second) sends them; nothing can ask a camera for one.
    Device,
}

/// A track a participant publishes.
pub struct PublishedTrack {
    /// The publisher's participant id.
    pub publisher: ParticipantId,
    /// Unique per publisher (server-assigned).
    pub key: TrackKey,
    /// Audio or video.
    pub kind: MediaKind,
    /// Microphone, camera or screen share.
    pub source: Source,
    /// The codec, resolved when the track arrived.
    pub media: MediaCodec,
    /// The codec as received (its parameters go to subscribers).
    pub codec: RTCRtpCodec,
    /// The codec of a rendition its publisher makes for subscribers who cannot take `media`
    /// (a courtroom camera's constrained baseline), pushed with [`Self::push_fallback`].
    rendition: Option<MediaCodec>,
    origin: Origin,
    outlets: ArcSwap<Vec<Arc<Outlet>>>,
    /// Packets received from the publisher.
    pub received: AtomicU64,
    /// Packet copies written to subscribers.
    pub forwarded: AtomicU64,
    /// Packet copies a subscriber's connection could not take at once (its driver behind):
    /// dropped, so one slow subscriber never holds up the others or the recorder.
    pub dropped: AtomicU64,
    /// Loudest RFC 6464 level (0 loudest .. 127 silence) since last read; audio only.
    level: std::sync::atomic::AtomicU8,
    /// The negotiated id of the audio-level header extension, if any.
    level_ext: Option<u8>,
    /// Key-frame requests to the publisher, paced.
    keyframes: Arc<super::keyframe::Pacer>,
    /// Simulcast layers (none open for a single-stream track).
    pub layers: Layers,
    /// The simulcast layer the recorder and the main view take.
    record: RecordLayer,
    /// The publisher stopped sending it (renegotiated it away): forward nothing more.
    ended: std::sync::atomic::AtomicBool,
    /// The recorder's input while this track is recorded, with the payload type it expects.
    tap: arc_swap::ArcSwapOption<TapInto>,
    /// The transcriber's input while this (audio) track is transcribed.
    listen: arc_swap::ArcSwapOption<TapInto>,
    /// The hearing's main view's input while this track is in it.
    mix: arc_swap::ArcSwapOption<TapInto>,
}

impl std::fmt::Debug for PublishedTrack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublishedTrack")
            .field("publisher", &self.publisher)
            .field("key", &self.key)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl PublishedTrack {
    /// Wraps a remote track.
    pub fn new(
        publisher: ParticipantId,
        key: TrackKey,
        media: MediaCodec,
        codec: RTCRtpCodec,
        remote: Arc<dyn TrackRemote>,
        media_ssrc: u32,
    ) -> Self {
        let origin = Origin::Peer { remote, media_ssrc };
        Self::build(publisher, key, media, codec, origin)
    }

    fn build(
        publisher: ParticipantId,
        key: TrackKey,
        media: MediaCodec,
        codec: RTCRtpCodec,
        origin: Origin,
    ) -> Self {
        let kind = media.kind();
        Self {
            publisher,
            key,
            kind,
            source: match kind {
                MediaKind::Audio => Source::Microphone,
                MediaKind::Video => Source::Camera,
            },
            media,
            codec,
            rendition: None,
            origin,
            outlets: ArcSwap::from_pointee(Vec::new()),
            received: AtomicU64::new(0),
            forwarded: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            keyframes: Arc::default(),
            level: std::sync::atomic::AtomicU8::new(127),
            level_ext: None,
            layers: Layers::default(),
            record: RecordLayer::default(),
            ended: std::sync::atomic::AtomicBool::new(false),
            tap: arc_swap::ArcSwapOption::empty(),
            listen: arc_swap::ArcSwapOption::empty(),
            mix: arc_swap::ArcSwapOption::empty(),
        }
    }

    /// A track of courtroom device `publisher`, in the codec its ingest sends (Gavel's own
    /// parameters: H.264 constrained baseline, Opus); its packets are [`Self::push`]ed.
    pub fn from_device(publisher: ParticipantId, key: TrackKey, media: MediaCodec) -> Self {
        Self::build(publisher, key, media, media.rtc(), Origin::Device)
    }

    /// The same track, whose publisher makes a rendition of it in `rendition` for subscribers
    /// who cannot take its own codec.
    pub fn with_rendition(mut self, rendition: Option<MediaCodec>) -> Self {
        self.rendition = rendition;
        self
    }

    /// The codec of the rendition its publisher makes, if it makes one.
    pub fn rendition(&self) -> Option<MediaCodec> {
        self.rendition
    }

    /// The publisher stopped sending this track: nothing more is forwarded, and the outlets
    /// are dropped.
    pub fn end(&self) {
        self.ended.store(true, Ordering::Relaxed);
        self.outlets.store(Arc::new(Vec::new()));
    }

    /// Marks a video track as a screen share.
    pub fn screen_share(mut self, screen: bool) -> Self {
        if screen && self.kind == MediaKind::Video {
            self.source = Source::Screen;
        }
        self
    }

    /// Reads audio levels from header extension `id` (from the publisher's offer).
    pub fn with_level_extension(mut self, id: Option<u8>) -> Self {
        self.level_ext = id;
        self
    }

    /// Notes a level measured by whoever decodes the track (a courtroom device's ingest:
    /// its packets carry no level extension).
    pub fn note_level(&self, level: u8) {
        self.level.fetch_min(level & 0x7f, Ordering::Relaxed);
    }

    /// The loudest level since the last call (127 = silence), resetting it.
    pub fn take_level(&self) -> u8 {
        self.level.swap(127, Ordering::Relaxed)
    }

    /// Starts forwarding to `output` (replacing any earlier output of the same owner).
    pub fn add_outlet(&self, output: Arc<Outlet>) {
        self.outlets.rcu(|cur| {
            let mut v: Vec<Arc<Outlet>> = cur
                .iter()
                .filter(|o| o.owner != output.owner)
                .cloned()
                .collect();
            v.push(output.clone());
            v
        });
    }

    /// The room's rule for subscriber `owner`: forwarding to them stops at once (`false`) or
    /// goes on (`true`). Returns whether a stopped output was let through again (it needs a key
    /// frame).
    pub fn allow(&self, owner: u64, allowed: bool) -> bool {
        let mut reopened = false;
        for o in self.outlets.load().iter().filter(|o| o.owner == owner) {
            reopened |= o.set_allowed(allowed) && allowed;
        }
        reopened
    }

    /// Whether subscriber `owner` has an outlet on this track.
    pub fn has_outlet(&self, owner: u64) -> bool {
        self.outlets.load().iter().any(|o| o.owner == owner)
    }

    /// Takes `owner`'s outlet off this track (the subscriber's media actor, which added it).
    pub fn remove_outlet(&self, owner: u64) {
        self.outlets.rcu(|cur| {
            cur.iter()
                .filter(|o| o.owner != owner)
                .cloned()
                .collect::<Vec<_>>()
        });
    }

    /// Forwards one packet of simulcast `layer` to every subscriber that gets that layer, and
    /// asks for the key frames that pending switches wait for.
    fn forward_layer(&self, map: &mut LayerMap, layer: u8, mut packet: rtc::rtp::Packet) {
        strip_extensions(&mut packet);
        let (keyframe, height) = self.media.keyframe(&packet.payload);
        let frame_end = packet.header.marker;
        map.count(&self.layers, layer, packet.payload.len(), height, frame_end);
        let top = map.top().unwrap_or(layer);
        let mut awaited = 0u8;
        let taps = self.taps();
        if !taps.is_empty() {
            // The record keeps the best layer arriving, as one stream (the recorder's timeline
            // bridges the switches).
            let (take, awaiting) = self.record.on_packet(map, layer, keyframe);
            if take {
                taps.push(&packet);
            }
            if let Some(l) = awaiting {
                awaited |= 1 << l;
            }
        }
        let outlets = self.outlets.load();
        let mut plane = PlaneBatch::default();
        for o in outlets.iter() {
            if !o.sends() {
                continue;
            }
            let (verdict, awaiting) = o.layer.on_packet(
                layer,
                keyframe,
                top,
                packet.header.sequence_number,
                packet.header.timestamp,
            );
            if let Some(l) = awaiting {
                awaited |= 1 << l;
            }
            if let LayerStep::Forward(seq, ts) = verdict {
                let mut p = packet.clone();
                p.header.sequence_number = seq;
                p.header.timestamp = ts;
                self.write(o, p, &mut plane);
            }
        }
        self.send_to_plane(plane, packet);
        if awaited != 0 {
            self.request_keyframe_now(awaited);
        }
    }

    /// Hands the copies of `packet` gathered in `plane` to the media plane at once.
    fn send_to_plane(&self, plane: PlaneBatch, packet: rtc::rtp::Packet) {
        let copies = plane.len();
        if copies == 0 {
            return;
        }
        // overflow: drop (media, counted): the plane is that far behind.
        let queued = plane.send(packet);
        self.forwarded.fetch_add(queued as u64, Ordering::Relaxed);
        self.dropped
            .fetch_add((copies - queued) as u64, Ordering::Relaxed);
    }

    /// Writes `p` (its header extensions already stripped, so the clone per subscriber copies
    /// no extension list) to one subscriber; a subscriber on the media plane gets its copy
    /// through `plane`, sent after the fan-out.
    fn write(&self, o: &Outlet, mut p: rtc::rtp::Packet, plane: &mut PlaneBatch) {
        p.header.ssrc = o.ssrc;
        p.header.payload_type = o.current_payload_type();
        let local = match &o.sink {
            Sink::Local(local) => local,
            Sink::Plane(sender) => {
                if !plane.add(sender, &p.header) {
                    let sent = sender.send(p);
                    let counter = if sent { &self.forwarded } else { &self.dropped };
                    counter.fetch_add(1, Ordering::Relaxed);
                }
                return;
            }
        };
        // overflow: drop (media, counted). The write is a send on the subscriber's connection
        // driver's bounded queue; waiting for a driver that is behind would stall this track
        // for every other subscriber and for its recorder. Polled once, outside tokio's
        // cooperative budget (which would otherwise refuse a long fan-out part-way).
        let write = std::pin::pin!(tokio::task::unconstrained(local.write_rtp(p)));
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match write.poll(&mut cx) {
            std::task::Poll::Ready(Ok(())) => {
                self.forwarded.fetch_add(1, Ordering::Relaxed);
            }
            std::task::Poll::Ready(Err(_)) => {}
            std::task::Poll::Pending => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Forwards until the publisher's connection closes (or, on the media plane, until the
    /// publisher stops sending the track).
    pub async fn forward(self: Arc<Self>) {
        let mut map = LayerMap::default();
        match &self.origin {
            Origin::Peer { remote, .. } => {
                while let Some(event) = remote.poll().await {
                    let event = match event {
                        TrackRemoteEvent::OnRtpPacket(packet) => UplinkPacket::Rtp(packet),
                        TrackRemoteEvent::OnOpen(init) => UplinkPacket::Open {
                            rid: init.rid,
                            ssrc: init.ssrc,
                        },
                        _ => continue,
                    };
                    if !self.handle(&mut map, event) {
                        return;
                    }
                }
            }
            // Forwarded in the plane's thread as its packets arrive (`PlaneTrackSink`).
            Origin::Plane { gone, .. } => gone.cancelled().await,
            Origin::Device => {} // a device's packets are pushed
        }
    }

    /// Takes what arrived from the publisher: a stream of the track opening (a simulcast layer,
    /// if it has a rid), or a packet to forward. False once the track has ended.
    fn handle(&self, map: &mut LayerMap, event: UplinkPacket) -> bool {
        match event {
            UplinkPacket::Rtp(packet) => self.take(map, packet),
            UplinkPacket::Open { rid, ssrc } => {
                if let Some(rid) = rid.filter(|r| !r.is_empty()) {
                    tracing::debug!(rid, "simulcast layer open");
                    map.open(&self.layers, &rid, ssrc);
                }
                true
            }
        }
    }

    /// Forwards one packet from the publisher; false once the track has ended.
    fn take(&self, map: &mut LayerMap, packet: rtc::rtp::Packet) -> bool {
        if self.ended.load(Ordering::Relaxed) {
            return false;
        }
        self.received.fetch_add(1, Ordering::Relaxed);
        if map.is_simulcast() {
            // Packets of an SSRC no layer claimed are not forwarded.
            if let Some(layer) = map.layer_of(packet.header.ssrc) {
                self.forward_layer(map, layer, packet);
            }
        } else {
            self.push_now(packet);
        }
        true
    }

    /// Forwards one packet of a single-stream track (a peer's, or a device's from its ingest)
    /// to the recorder, the transcriber and every subscriber the room lets through.
    pub async fn push(&self, packet: rtc::rtp::Packet) {
        self.push_now(packet);
    }

    fn push_now(&self, mut packet: rtc::rtp::Packet) {
        if self.ended.load(Ordering::Relaxed) {
            return;
        }
        if matches!(self.origin, Origin::Device) {
            self.received.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(level) = self
            .level_ext
            .and_then(|id| packet.header.get_extension(id))
            .and_then(|b| b.first().copied())
        {
            self.level.fetch_min(level & 0x7f, Ordering::Relaxed);
        }
        // Header extensions are negotiated per connection: none are passed on.
        strip_extensions(&mut packet);
        self.taps().push(&packet);
        let outlets = self.outlets.load();
        let mut plane = PlaneBatch::default();
        for o in outlets.iter() {
            if o.sends() && !o.fallback() {
                self.write(o, packet.clone(), &mut plane);
            }
        }
        self.send_to_plane(plane, packet);
    }

    /// Forwards one packet of the track's fallback rendition (a device's ingest transcodes
    /// it while [`Self::wants_fallback`]) to the subscribers that take it. The record and the
    /// transcript keep the track's own.
    pub async fn push_fallback(&self, packet: rtc::rtp::Packet) {
        if self.ended.load(Ordering::Relaxed) {
            return;
        }
        let outlets = self.outlets.load();
        let mut plane = PlaneBatch::default();
        for o in outlets.iter() {
            if o.sends() && o.fallback() {
                self.write(o, packet.clone(), &mut plane);
            }
        }
        self.send_to_plane(plane, packet);
    }

    /// Whether a subscriber the room lets through takes the fallback rendition: only then is
    /// it made (a transcoder runs only for someone who watches).
    pub fn wants_fallback(&self) -> bool {
        self.outlets
            .load()
            .iter()
            .any(|o| o.fallback() && o.sends())
    }
}

fn strip_extensions(p: &mut rtc::rtp::Packet) {
    p.header.extension = false;
    p.header.extensions.clear();
}
