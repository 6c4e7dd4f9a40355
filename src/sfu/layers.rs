//! Simulcast layer choice and the RTP rewriting that hides layer switches from the subscriber.
//!
//! A browser sends three encodings of its camera (rid `q`, `h`, `f`: quarter, half and full
//! resolution). Each subscriber gets the highest layer that fits both its bandwidth estimate and
//! the size it renders, and a switch happens only at a key frame of the new layer. The
//! [`Rewriter`] makes the forwarded stream continuous: sequence numbers without gaps or
//! repeats and timestamps that keep advancing, whatever layer the packets came from.
//!
//! Pure: told the packets and the estimates, returns decisions.

/// One available layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layer {
    /// 0 = lowest.
    pub index: u8,
    /// Its measured bitrate, bits per second.
    pub bitrate: u64,
    /// Its frame height, pixels.
    pub height: u32,
}

/// The best layer for a subscriber with `estimate_bps` of bandwidth rendering at `render_height`
/// pixels: the highest layer within the estimate and not taller than needed (one step up is
/// allowed so a tile never looks worse than its size), falling back to the lowest.
pub fn choose(layers: &[Layer], estimate_bps: u64, render_height: u32) -> Option<u8> {
    let lowest = layers.iter().min_by_key(|l| l.index)?;
    // The smallest layer at least as tall as the tile; taller ones would be wasted.
    let cap = layers
        .iter()
        .filter(|l| l.height >= render_height)
        .map(|l| l.height)
        .min()
        .unwrap_or(u32::MAX);
    Some(
        layers
            .iter()
            .filter(|l| l.height <= cap && l.bitrate <= estimate_bps)
            .max_by_key(|l| l.index)
            .unwrap_or(lowest)
            .index,
    )
}

/// Which layer a subscriber receives, switching only on key frames.
#[derive(Debug, Clone, Default)]
pub struct Switch {
    current: Option<u8>,
    target: Option<u8>,
}

impl Switch {
    /// Sets the layer wanted from now on (takes effect at its next key frame).
    pub fn want(&mut self, layer: u8) {
        self.target = Some(layer);
    }

    /// The layer being forwarded.
    pub fn current(&self) -> Option<u8> {
        self.current
    }

    /// Whether a packet of `layer` is forwarded; `keyframe` says whether it starts one.
    /// Returns `(forward, switched)`.
    pub fn on_packet(&mut self, layer: u8, keyframe: bool) -> (bool, bool) {
        if self.target.is_some()
            && self.target != self.current
            && Some(layer) == self.target
            && keyframe
        {
            self.current = self.target;
            return (true, true);
        }
        (self.current == Some(layer), false)
    }

    /// Whether a key frame of the target layer is still awaited (ask the publisher for one).
    pub fn needs_keyframe(&self) -> bool {
        self.target.is_some() && self.target != self.current
    }
}

/// Rewrites sequence numbers and timestamps so the subscriber sees one continuous stream.
#[derive(Debug, Clone, Default)]
pub struct Rewriter {
    seq_offset: u16,
    ts_offset: u32,
    last_out: Option<(u16, u32)>,
}

impl Rewriter {
    /// The first packet after a switch (or the very first): re-anchor so its sequence number
    /// follows the last one sent and its timestamp advances by `ts_step` (one frame).
    pub fn rebase(&mut self, seq: u16, ts: u32, ts_step: u32) {
        match self.last_out {
            Some((last_seq, last_ts)) => {
                self.seq_offset = last_seq.wrapping_add(1).wrapping_sub(seq);
                self.ts_offset = last_ts.wrapping_add(ts_step).wrapping_sub(ts);
            }
            None => {
                self.seq_offset = 0;
                self.ts_offset = 0;
            }
        }
    }

    /// The rewritten `(seq, ts)` of a forwarded packet.
    pub fn rewrite(&mut self, seq: u16, ts: u32) -> (u16, u32) {
        let out = (
            seq.wrapping_add(self.seq_offset),
            ts.wrapping_add(self.ts_offset),
        );
        let newer = match self.last_out {
            Some((last, _)) => out.0.wrapping_sub(last) < 0x8000,
            None => true,
        };
        if newer {
            self.last_out = Some(out);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layers() -> Vec<Layer> {
        vec![
            Layer {
                index: 0,
                bitrate: 150_000,
                height: 180,
            },
            Layer {
                index: 1,
                bitrate: 500_000,
                height: 360,
            },
            Layer {
                index: 2,
                bitrate: 1_500_000,
                height: 720,
            },
        ]
    }

    #[test]
    fn the_layer_fits_the_bandwidth_and_the_rendered_size() {
        assert_eq!(choose(&layers(), 5_000_000, 720), Some(2));
        assert_eq!(choose(&layers(), 800_000, 720), Some(1), "bandwidth limits");
        assert_eq!(
            choose(&layers(), 5_000_000, 360),
            Some(1),
            "a small tile needs no more"
        );
        assert_eq!(choose(&layers(), 50_000, 720), Some(0), "never nothing");
        assert_eq!(choose(&[], 1, 1), None);
    }

    #[test]
    fn a_switch_waits_for_a_key_frame_of_the_new_layer() {
        let mut s = Switch::default();
        s.want(2);
        assert_eq!(s.on_packet(2, false), (false, false), "no key frame yet");
        assert!(s.needs_keyframe());
        assert_eq!(s.on_packet(2, true), (true, true));
        assert_eq!(
            s.on_packet(0, true),
            (false, false),
            "other layers are dropped"
        );
        s.want(0);
        assert_eq!(
            s.on_packet(2, false),
            (true, false),
            "keep the old layer until the switch"
        );
        assert_eq!(s.on_packet(0, true), (true, true));
        assert_eq!(s.current(), Some(0));
    }

    #[test]
    fn sequence_numbers_stay_continuous_across_a_switch() {
        let mut r = Rewriter::default();
        r.rebase(100, 9000, 3000);
        assert_eq!(r.rewrite(100, 9000), (100, 9000));
        assert_eq!(r.rewrite(101, 12000), (101, 12000));
        // Switch to a layer whose numbers are elsewhere (and wrap).
        r.rebase(65530, 500, 3000);
        assert_eq!(r.rewrite(65530, 500), (102, 15000));
        assert_eq!(r.rewrite(65531, 3500), (103, 18000));
        assert_eq!(
            r.rewrite(0, 6500),
            (108, 21000),
            "wraps with the source; the gap stays a gap"
        );
    }
}
