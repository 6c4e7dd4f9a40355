//! Simulcast layer choice and the RTP rewriting that hides layer switches from the subscriber.
//!
//! A browser sends three encodings of its camera (rid `q`, `h`, `f`: quarter, half and full
//! resolution). Each subscriber gets the highest layer that fits both its bandwidth estimate and
//! the size it renders, and a switch happens only at a key frame of the new layer. The
//! [`Rewriter`] makes the forwarded stream continuous: sequence numbers without gaps or
//! repeats and timestamps that keep advancing, whatever layer the packets came from.
//!
//! Pure: told the packets and the estimates, returns decisions.

/// Most layers a simulcast track may have (browsers send up to three).
pub const MAX_LAYERS: usize = 3;

/// One available layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layer {
    /// 0 = lowest.
    pub index: u8,
    /// Its measured bitrate, bits per second.
    pub bitrate: u64,
    /// Its frame height, pixels (0: not known yet, e.g. before its first key frame).
    pub height: u32,
}

/// The layer a simulcast `rid` names. Gavel's client, like LiveKit's, sends `q`, `h` and `f`
/// (quarter, half and full resolution); `l`/`m` and `low`/`mid`/`high` are accepted too. Other
/// names get `None`, and the track numbers them in the order they open.
pub fn rid_layer(rid: &str) -> Option<u8> {
    match rid.to_ascii_lowercase().as_str() {
        "q" | "l" | "low" | "0" => Some(0),
        "h" | "m" | "mid" | "1" => Some(1),
        "f" | "high" | "2" => Some(2),
        _ => None,
    }
}

/// The highest layer index worth sending to a tile `render_height` pixels tall: the smallest
/// layer at least that tall (so a tile never looks worse than its size); taller ones would be
/// wasted. Layers of unknown height never cap.
fn size_cap(layers: &[Layer], render_height: u32) -> u8 {
    layers
        .iter()
        .filter(|l| l.height > 0 && l.height >= render_height)
        .min_by_key(|l| l.height)
        .map_or(u8::MAX, |l| l.index)
}

/// The best layer for a subscriber with `estimate_bps` of bandwidth rendering at `render_height`
/// pixels: the highest layer within the estimate and not taller than needed, falling back to
/// the lowest.
pub fn choose(layers: &[Layer], estimate_bps: u64, render_height: u32) -> Option<u8> {
    allocate(
        estimate_bps,
        &[Demand {
            layers,
            render_height,
        }],
    )
    .pop()
    .flatten()
}

/// What one subscribed simulcast track offers and how big the subscriber shows it.
#[derive(Debug, Clone, Copy)]
pub struct Demand<'a> {
    /// The track's layers.
    pub layers: &'a [Layer],
    /// The subscriber's tile height, pixels (`u32::MAX`: not said).
    pub render_height: u32,
}

/// Shares one subscriber's bandwidth estimate among its simulcast tracks: every track gets its
/// lowest layer (video never stops for want of bandwidth), then tracks are raised one layer at a
/// time, in turn, while the total fits the estimate and no track exceeds what its tile needs.
/// Earlier demands are raised first, so the caller orders them by importance.
pub fn allocate(estimate_bps: u64, demands: &[Demand<'_>]) -> Vec<Option<u8>> {
    let sorted: Vec<Vec<Layer>> = demands
        .iter()
        .map(|d| {
            let mut l = d.layers.to_vec();
            l.sort_by_key(|l| l.index);
            l
        })
        .collect();
    // Position in `sorted[i]` of each track's current choice.
    let mut at: Vec<Option<usize>> = sorted
        .iter()
        .map(|l| (!l.is_empty()).then_some(0))
        .collect();
    let mut spent: u64 = sorted
        .iter()
        .filter_map(|l| l.first())
        .map(|l| l.bitrate)
        .sum();
    let caps: Vec<u8> = demands
        .iter()
        .map(|d| size_cap(d.layers, d.render_height))
        .collect();
    loop {
        let mut raised = false;
        for (i, layers) in sorted.iter().enumerate() {
            let Some(cur) = at[i] else { continue };
            let Some(next) = layers.get(cur + 1) else {
                continue;
            };
            if next.index > caps[i] {
                continue;
            }
            let extra = next.bitrate.saturating_sub(layers[cur].bitrate);
            if spent.saturating_add(extra) <= estimate_bps {
                spent += extra;
                at[i] = Some(cur + 1);
                raised = true;
            }
        }
        if !raised {
            break;
        }
    }
    at.iter()
        .zip(&sorted)
        .map(|(a, l)| a.map(|a| l[a].index))
        .collect()
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
        let unknown: Vec<Layer> = layers()
            .into_iter()
            .map(|l| Layer { height: 0, ..l })
            .collect();
        assert_eq!(
            choose(&unknown, 5_000_000, 180),
            Some(2),
            "sizes not known yet never cap"
        );
    }

    #[test]
    fn the_estimate_is_shared_in_turn_and_nobody_gets_nothing() {
        let l = layers();
        let big = Demand {
            layers: &l,
            render_height: u32::MAX,
        };
        let small = Demand {
            layers: &l,
            render_height: 180,
        };
        // 150k + 150k base; 700k buys both a step to 500k (+350k each) but not 1.5M.
        assert_eq!(
            allocate(1_000_000, &[big, big]),
            vec![Some(1), Some(1)],
            "raised in turn, not one greedily"
        );
        assert_eq!(
            allocate(1_700_000, &[big, small]),
            vec![Some(2), Some(0)],
            "a small tile leaves room for the big one"
        );
        assert_eq!(allocate(10_000, &[big, big]), vec![Some(0), Some(0)]);
        assert_eq!(
            allocate(
                1_000_000,
                &[
                    Demand {
                        layers: &[],
                        render_height: 1
                    },
                    big
                ]
            ),
            vec![None, Some(1)],
            "a track with no layers yet gets none"
        );
    }

    #[test]
    fn rids_name_layers() {
        assert_eq!(rid_layer("q"), Some(0));
        assert_eq!(rid_layer("h"), Some(1));
        assert_eq!(rid_layer("F"), Some(2));
        assert_eq!(rid_layer("low"), Some(0));
        assert_eq!(rid_layer("x"), None);
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
