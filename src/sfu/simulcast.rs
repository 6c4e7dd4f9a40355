//! The simulcast side of a published track: which SSRC carries which layer, how fast and how
//! tall each layer is, and each subscriber's switch between layers.
//!
//! The publisher's forwarding task is the only writer of the layer map and the measurements;
//! subscribers' media actors read them (atomics, no lock) to choose a layer, and set each
//! output's target layer (an atomic). Each output's [`OutputLayer`] is locked by the forwarding
//! task for every packet, and otherwise only when the output is paused, resumed or let through
//! again (rare, by its media actor or the room), so its lock is almost never contended on the
//! hot path.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::layers::{Layer, MAX_LAYERS, Rewriter, Switch, rid_layer};

/// No layer chosen yet: forward the highest layer that is arriving.
const NO_LAYER: u8 = u8::MAX;
/// How often layer bitrates are measured.
const WINDOW: Duration = Duration::from_millis(500);
/// Timestamp advance assumed across a switch: one frame at 30 fps on the 90 kHz video clock.
const TS_STEP: u32 = 3000;

#[derive(Debug, Default)]
struct Slot {
    /// The layer's SSRC plus one (0: layer not open).
    ssrc: AtomicU64,
    bitrate: AtomicU64,
    height: AtomicU32,
}

/// The layers of one published simulcast track.
#[derive(Debug, Default)]
pub struct Layers {
    slots: [Slot; MAX_LAYERS],
}

impl Layers {
    /// The layers that are arriving (a layer the publisher stopped sending, as browsers do when
    /// their uplink shrinks, is left out so nobody waits for it).
    pub fn available(&self) -> Vec<Layer> {
        (0u8..)
            .zip(&self.slots)
            .filter(|(_, s)| {
                s.ssrc.load(Ordering::Relaxed) != 0 && s.bitrate.load(Ordering::Relaxed) > 0
            })
            .map(|(index, s)| Layer {
                index,
                bitrate: s.bitrate.load(Ordering::Relaxed),
                height: s.height.load(Ordering::Relaxed),
            })
            .collect()
    }

    /// The SSRC carrying `layer`, if it is open.
    pub fn ssrc(&self, layer: u8) -> Option<u32> {
        let v = self
            .slots
            .get(usize::from(layer))?
            .ssrc
            .load(Ordering::Relaxed);
        v.checked_sub(1).and_then(|s| u32::try_from(s).ok())
    }
}

/// The forwarding task's private view of the layers: SSRC lookup and byte counts.
#[derive(Debug)]
pub struct LayerMap {
    ssrcs: [Option<u32>; MAX_LAYERS],
    bytes: [u64; MAX_LAYERS],
    since: Instant,
    /// Frames (packets with the marker bit) per layer in this window, and in the two before.
    frames: [u32; MAX_LAYERS],
    recent: [[u32; MAX_LAYERS]; 2],
    /// The layer the record should take, as of the last window (see [`Self::record_target`]).
    record_target: Option<u8>,
}

impl Default for LayerMap {
    fn default() -> Self {
        let now = Instant::now();
        Self {
            ssrcs: [None; MAX_LAYERS],
            bytes: [0; MAX_LAYERS],
            since: now,
            frames: [0; MAX_LAYERS],
            recent: [[0; MAX_LAYERS]; 2],
            record_target: None,
        }
    }
}

impl LayerMap {
    /// Whether any layer has opened (the track is simulcast).
    pub fn is_simulcast(&self) -> bool {
        self.ssrcs.iter().any(Option::is_some)
    }

    /// A layer opened with `rid` on `ssrc`: named layers take their place, others the next free
    /// one; more than [`MAX_LAYERS`] are ignored.
    pub fn open(&mut self, shared: &Layers, rid: &str, ssrc: u32) {
        if self.layer_of(ssrc).is_some() {
            return;
        }
        let index = rid_layer(rid)
            .map(usize::from)
            .filter(|&i| self.ssrcs[i].is_none())
            .or_else(|| self.ssrcs.iter().position(Option::is_none));
        if let Some(i) = index {
            self.ssrcs[i] = Some(ssrc);
            shared.slots[i]
                .ssrc
                .store(u64::from(ssrc) + 1, Ordering::Relaxed);
        }
    }

    /// The layer `ssrc` carries.
    pub fn layer_of(&self, ssrc: u32) -> Option<u8> {
        (0u8..)
            .zip(&self.ssrcs)
            .find(|(_, s)| **s == Some(ssrc))
            .map(|(i, _)| i)
    }

    /// The highest open layer.
    pub fn top(&self) -> Option<u8> {
        (0u8..)
            .zip(&self.ssrcs)
            .filter(|(_, s)| s.is_some())
            .map(|(i, _)| i)
            .last()
    }

    /// Counts a packet of `layer` (`frame_end`: its marker bit, the last of a frame); every
    /// [`WINDOW`] publishes the bitrates, and `height` (from a key frame) when known.
    pub fn count(
        &mut self,
        shared: &Layers,
        layer: u8,
        bytes: usize,
        height: Option<u16>,
        frame_end: bool,
    ) {
        self.count_at(Instant::now(), shared, (layer, bytes, height, frame_end));
    }

    fn count_at(
        &mut self,
        now: Instant,
        shared: &Layers,
        (layer, bytes, height, frame_end): (u8, usize, Option<u16>, bool),
    ) {
        let i = usize::from(layer);
        self.bytes[i] += bytes as u64;
        self.frames[i] += u32::from(frame_end);
        if let Some(h) = height {
            shared.slots[i]
                .height
                .store(u32::from(h), Ordering::Relaxed);
        }
        let elapsed = now.saturating_duration_since(self.since);
        if elapsed >= WINDOW {
            let ms = u64::try_from(elapsed.as_millis())
                .unwrap_or(u64::MAX)
                .max(1);
            for (slot, bytes) in shared.slots.iter().zip(&mut self.bytes) {
                slot.bitrate
                    .store(bytes.saturating_mul(8000) / ms, Ordering::Relaxed);
                *bytes = 0;
            }
            self.since = now;
            self.recent = [self.recent[1], std::mem::take(&mut self.frames)];
            self.record_target = record_layer(&self.recent, self.record_target);
        }
    }

    /// The layer the record should take, as of the last window: none before the first.
    pub fn record_target(&self) -> Option<u8> {
        self.record_target
    }
}

/// The highest layer whose frame rate over the last two windows is close to the best layer's:
/// at least half to begin with; then a third to stay on (or fall back to) a layer and two
/// thirds to climb above the one taken, so a layer near the line does not flip the record (and
/// ask its publisher, short of uplink already, for a key frame) every window. A browser short
/// of uplink or CPU stops its top layer, or sends it at a frame or two a second while the lower
/// ones go on at full rate; a record of such a layer is a still picture with gaps of seconds.
fn record_layer(recent: &[[u32; MAX_LAYERS]; 2], taken: Option<u8>) -> Option<u8> {
    let frames: [u32; MAX_LAYERS] = std::array::from_fn(|i| recent[0][i] + recent[1][i]);
    let best = frames.iter().copied().max().unwrap_or(0);
    (0u8..)
        .zip(&frames)
        .filter(|&(i, &f)| {
            let (num, den) = match taken {
                Some(t) if i > t => (2, 3),
                Some(_) => (1, 3),
                None => (1, 2),
            };
            f > 0 && f * den >= best * num
        })
        .map(|(i, _)| i)
        .last()
}

/// The layer the record (and the main view) takes from a simulcast track: the highest one
/// arriving at a good frame rate ([`LayerMap::record_target`]). Why not simply the top layer:
/// a browser stops sending its top layers, or sends them at a frame or two a second, while its
/// uplink or its CPU falls short, and the record must keep the person meanwhile (it once lost
/// cameras for tens of seconds that everyone else saw). It starts at the first key frame of
/// any layer, moves to the target at the target's key frame, and when its own layer falls
/// behind, takes the first key frame of any layer up to the target: a lower picture for a
/// while is better than none.
#[derive(Debug)]
pub struct RecordLayer {
    current: AtomicU8,
}

impl Default for RecordLayer {
    fn default() -> Self {
        Self {
            current: AtomicU8::new(NO_LAYER),
        }
    }
}

impl RecordLayer {
    /// Whether the record takes a packet of `layer` (`keyframe`: it starts one), counted in
    /// `map` already; the second value is the layer whose key frame the record awaits.
    pub fn on_packet(&self, map: &LayerMap, layer: u8, keyframe: bool) -> (bool, Option<u8>) {
        let target = map.record_target();
        let mut current = self.current.load(Ordering::Relaxed);
        if keyframe && layer != current {
            let starting = current == NO_LAYER;
            let behind = target.is_some_and(|t| current != NO_LAYER && current > t && layer <= t);
            if starting || behind || Some(layer) == target {
                current = layer;
                self.current.store(layer, Ordering::Relaxed);
            }
        }
        (layer == current, target.filter(|&t| t != current))
    }

    /// A new recording starts: from the next key frame.
    pub fn restart(&self) {
        self.current.store(NO_LAYER, Ordering::Relaxed);
    }
}

/// One subscriber's layer of a simulcast track.
#[derive(Debug)]
pub struct OutputLayer {
    target: AtomicU8,
    state: Mutex<(Switch, Rewriter)>,
}

impl Default for OutputLayer {
    fn default() -> Self {
        Self {
            target: AtomicU8::new(NO_LAYER),
            state: Mutex::default(),
        }
    }
}

/// What to do with one packet for one subscriber.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerStep {
    /// Not this subscriber's layer (or its switch still waits for a key frame).
    Drop,
    /// Forward with these sequence number and timestamp.
    Forward(u16, u32),
}

impl OutputLayer {
    /// The subscriber should get `layer` from its next key frame on.
    pub fn set_target(&self, layer: u8) {
        self.target.store(layer, Ordering::Relaxed);
    }

    /// Forgets the layer being forwarded (after a pause): the next packet forwarded starts a
    /// key frame, and numbering continues from the last one sent.
    pub fn restart(&self) {
        self.lock().0 = Switch::default();
    }

    /// The layer being forwarded.
    pub fn current(&self) -> Option<u8> {
        self.lock().0.current()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (Switch, Rewriter)> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Decides for a packet of `layer` (`keyframe`: it starts one) given the highest open
    /// layer; the second value is the layer whose key frame this subscriber still awaits.
    pub fn on_packet(
        &self,
        layer: u8,
        keyframe: bool,
        top: u8,
        seq: u16,
        ts: u32,
    ) -> (LayerStep, Option<u8>) {
        let target = match self.target.load(Ordering::Relaxed) {
            NO_LAYER => top,
            t => t.min(top),
        };
        let mut guard = self.lock();
        let (switch, rewriter) = &mut *guard;
        switch.want(target);
        let (forward, switched) = switch.on_packet(layer, keyframe);
        let awaiting = switch.needs_keyframe().then_some(target);
        if !forward {
            return (LayerStep::Drop, awaiting);
        }
        if switched {
            rewriter.rebase(seq, ts, TS_STEP);
        }
        let (seq, ts) = rewriter.rewrite(seq, ts);
        (LayerStep::Forward(seq, ts), awaiting)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_open_by_rid_and_unknown_rids_fill_free_places() {
        let shared = Layers::default();
        let mut map = LayerMap::default();
        assert!(!map.is_simulcast());
        map.open(&shared, "f", 30);
        map.open(&shared, "weird", 10);
        map.open(&shared, "q", 11);
        assert_eq!(map.layer_of(30), Some(2));
        assert_eq!(map.layer_of(10), Some(0), "first free place");
        assert_eq!(
            map.layer_of(11),
            Some(1),
            "q was taken, so the next free one"
        );
        map.open(&shared, "h", 99);
        assert_eq!(map.layer_of(99), None, "no fourth layer");
        assert_eq!(shared.ssrc(2), Some(30));
        assert_eq!(map.top(), Some(2));
    }

    #[test]
    fn a_subscriber_gets_its_target_from_a_key_frame_with_continuous_numbers() {
        let out = OutputLayer::default();
        // No target yet: the top layer, from its first key frame.
        assert_eq!(
            out.on_packet(2, false, 2, 500, 0),
            (LayerStep::Drop, Some(2))
        );
        assert_eq!(
            out.on_packet(2, true, 2, 501, 3000),
            (LayerStep::Forward(501, 3000), None)
        );
        out.set_target(0);
        assert_eq!(
            out.on_packet(0, false, 2, 70, 100),
            (LayerStep::Drop, Some(0))
        );
        assert_eq!(
            out.on_packet(2, false, 2, 502, 6000),
            (LayerStep::Forward(502, 6000), Some(0)),
            "the old layer flows until the switch"
        );
        assert_eq!(
            out.on_packet(0, true, 2, 71, 400),
            (LayerStep::Forward(503, 9000), None)
        );
        assert_eq!(out.current(), Some(0));
    }

    /// Every layer sends `fps` frames a second (one packet each) from `from` to `to` ms.
    fn frames(
        map: &mut LayerMap,
        shared: &Layers,
        t0: Instant,
        (from, to): (u64, u64),
        fps: [u64; 3],
    ) {
        for ms in (from..to).step_by(10) {
            for (layer, &f) in (0u8..).zip(&fps) {
                if f > 0 && ms % (1000 / f) == 0 {
                    let at = t0 + Duration::from_millis(ms);
                    map.count_at(at, shared, (layer, 1000, None, true));
                }
            }
        }
    }

    /// A track with layers q, h and f open, and the time its measurements start from.
    fn three_layers() -> (Layers, LayerMap, Instant) {
        let shared = Layers::default();
        let mut map = LayerMap::default();
        for (rid, ssrc) in [("q", 10), ("h", 11), ("f", 12)] {
            map.open(&shared, rid, ssrc);
        }
        (shared, map, Instant::now())
    }

    #[test]
    fn the_record_takes_the_highest_layer_arriving_at_a_good_frame_rate() {
        let (shared, mut map, t0) = three_layers();
        assert_eq!(map.record_target(), None, "nothing measured yet");
        frames(&mut map, &shared, t0, (0, 1200), [20, 20, 20]);
        assert_eq!(map.record_target(), Some(2));
        // The top layer slows to 2 frames a second (a starved encoder): the middle one.
        frames(&mut map, &shared, t0, (1200, 2400), [20, 20, 2]);
        assert_eq!(map.record_target(), Some(1));
        // The middle layer stops too.
        frames(&mut map, &shared, t0, (2400, 3600), [20, 0, 2]);
        assert_eq!(map.record_target(), Some(0));
        // Back at full rate.
        frames(&mut map, &shared, t0, (3600, 4800), [20, 20, 20]);
        assert_eq!(map.record_target(), Some(2));
        // Near the line it does not flip: half the rate keeps the top layer, a fifth does not,
        // and half is not enough to climb back.
        frames(&mut map, &shared, t0, (4800, 6000), [20, 20, 10]);
        assert_eq!(map.record_target(), Some(2));
        frames(&mut map, &shared, t0, (6000, 7200), [20, 20, 4]);
        assert_eq!(map.record_target(), Some(1));
        frames(&mut map, &shared, t0, (7200, 8400), [20, 20, 10]);
        assert_eq!(map.record_target(), Some(1));
        frames(&mut map, &shared, t0, (8400, 9600), [20, 20, 20]);
        assert_eq!(map.record_target(), Some(2));
    }

    #[test]
    fn the_record_switches_at_key_frames_and_never_waits_with_nothing() {
        let (shared, mut map, t0) = three_layers();
        let record = RecordLayer::default();
        // Before any measurement it starts at the first key frame of any layer.
        assert_eq!(record.on_packet(&map, 1, false), (false, None));
        assert_eq!(record.on_packet(&map, 1, true), (true, None));
        assert_eq!(record.on_packet(&map, 0, true), (false, None));
        // Every layer arrives: it asks for the top layer's key frame, keeping the middle one
        // until then.
        frames(&mut map, &shared, t0, (0, 1200), [20, 20, 20]);
        assert_eq!(record.on_packet(&map, 1, false), (true, Some(2)));
        assert_eq!(record.on_packet(&map, 2, false), (false, Some(2)));
        assert_eq!(record.on_packet(&map, 2, true), (true, None));
        assert_eq!(record.on_packet(&map, 1, false), (false, None));
        // The top layer falls behind: the first key frame of a lower layer is taken, and the
        // middle layer's when it comes.
        frames(&mut map, &shared, t0, (1200, 2400), [20, 20, 1]);
        assert_eq!(record.on_packet(&map, 2, false), (true, Some(1)));
        assert_eq!(record.on_packet(&map, 0, true), (true, Some(1)));
        assert_eq!(record.on_packet(&map, 2, false), (false, Some(1)));
        assert_eq!(record.on_packet(&map, 1, true), (true, None));
        // A new recording starts at a key frame.
        record.restart();
        assert_eq!(record.on_packet(&map, 1, false), (false, Some(1)));
        assert_eq!(record.on_packet(&map, 0, true), (true, Some(1)));
    }
}
