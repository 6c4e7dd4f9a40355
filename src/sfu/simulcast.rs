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
/// How long a layer may go without a packet and still count as arriving (for the record): a
/// few frames even at the low frame rates of a starved encoder.
const STALE: Duration = Duration::from_secs(1);

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
    /// When each layer's latest packet came.
    seen: [Option<Instant>; MAX_LAYERS],
    /// When the latest packet of any layer came.
    now: Instant,
}

impl Default for LayerMap {
    fn default() -> Self {
        let now = Instant::now();
        Self {
            ssrcs: [None; MAX_LAYERS],
            bytes: [0; MAX_LAYERS],
            since: now,
            seen: [None; MAX_LAYERS],
            now,
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

    /// Counts a packet of `layer`; every [`WINDOW`] publishes the bitrates, and `height` (from
    /// a key frame) when known.
    pub fn count(&mut self, shared: &Layers, layer: u8, bytes: usize, height: Option<u16>) {
        self.count_at(Instant::now(), shared, layer, bytes, height);
    }

    fn count_at(
        &mut self,
        now: Instant,
        shared: &Layers,
        layer: u8,
        bytes: usize,
        height: Option<u16>,
    ) {
        let i = usize::from(layer);
        self.bytes[i] += bytes as u64;
        self.seen[i] = Some(now);
        self.now = now;
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
        }
    }

    /// The highest layer that came within [`STALE`] of the latest packet.
    pub fn arriving_top(&self) -> Option<u8> {
        (0u8..)
            .zip(&self.seen)
            .filter(|(_, seen)| {
                seen.is_some_and(|t| self.now.saturating_duration_since(t) <= STALE)
            })
            .map(|(i, _)| i)
            .last()
    }
}

/// The layer the record (and the main view) takes from a simulcast track: the highest one
/// arriving, switched to at its key frame. Why not simply the top layer: a browser stops
/// sending its top layers while its uplink or its CPU falls short, and the record must keep
/// the person meanwhile (it once lost cameras for tens of seconds that everyone else saw).
#[derive(Debug, Default)]
pub struct RecordLayer(OutputLayer);

impl RecordLayer {
    /// Whether the record takes a packet of `layer` (`keyframe`: it starts one), counted in
    /// `map` already; the second value is the layer whose key frame the record awaits.
    pub fn on_packet(
        &self,
        map: &LayerMap,
        layer: u8,
        keyframe: bool,
        seq: u16,
        ts: u32,
    ) -> (bool, Option<u8>) {
        let top = map.top().unwrap_or(layer);
        self.0.set_target(map.arriving_top().unwrap_or(top));
        let (step, awaiting) = self.0.on_packet(layer, keyframe, top, seq, ts);
        (step != LayerStep::Drop, awaiting)
    }

    /// A new recording starts: from the next key frame of the layer it takes.
    pub fn restart(&self) {
        self.0.restart();
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

    #[test]
    fn the_record_follows_the_highest_layer_arriving_switching_at_key_frames() {
        let shared = Layers::default();
        let mut map = LayerMap::default();
        for (rid, ssrc) in [("q", 10), ("h", 11), ("f", 12)] {
            map.open(&shared, rid, ssrc);
        }
        let record = RecordLayer::default();
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let packet = |map: &mut LayerMap, ms: u64, layer: u8, key: bool| {
            map.count_at(at(ms), &shared, layer, 1000, None);
            record.on_packet(map, layer, key, 0, 0)
        };
        // The layers arrive: the record starts at the key frame of the highest one.
        assert_eq!(packet(&mut map, 0, 0, false), (false, Some(0)));
        assert_eq!(packet(&mut map, 1, 1, false), (false, Some(1)));
        assert_eq!(packet(&mut map, 2, 2, false), (false, Some(2)));
        assert_eq!(packet(&mut map, 3, 2, true), (true, None));
        assert_eq!(packet(&mut map, 4, 1, false), (false, None));
        // The top layer stops (the publisher's uplink shrank); the middle one goes on. Within
        // the staleness allowance the record waits for the top layer to come back...
        assert_eq!(packet(&mut map, 900, 1, false), (false, None));
        // ...then asks for the middle layer's key frame and switches at it.
        assert_eq!(packet(&mut map, 1100, 1, false), (false, Some(1)));
        assert_eq!(packet(&mut map, 1200, 0, true), (false, Some(1)));
        assert_eq!(packet(&mut map, 1300, 1, true), (true, None));
        assert_eq!(packet(&mut map, 1400, 1, false), (true, None));
        // The top layer is back: the middle one is kept until the top layer's key frame.
        assert_eq!(packet(&mut map, 5000, 2, false), (false, Some(2)));
        assert_eq!(packet(&mut map, 5001, 1, false), (true, Some(2)));
        assert_eq!(packet(&mut map, 5100, 2, true), (true, None));
        assert_eq!(packet(&mut map, 5101, 1, false), (false, None));
        // A new recording starts at a key frame.
        record.restart();
        assert_eq!(packet(&mut map, 5200, 2, false), (false, Some(2)));
        assert_eq!(packet(&mut map, 5300, 2, true), (true, None));
    }
}
