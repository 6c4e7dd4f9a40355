//! How long the plane holds a packet: from reading a publisher's datagram to handing its last
//! copy to the kernel. Kept as a histogram of exponential buckets (each 2^(1/8) wider than the
//! last, so a percentile is within 9 %), cheap to record on the forwarding path and to subtract
//! between two snapshots, so a benchmark reads its own window alone.

/// Buckets per doubling.
const STEPS: f64 = 8.0;
/// Buckets: 1 µs to 2^20 µs (about a second); slower lands in the last.
const BUCKETS: usize = 161;

/// A latency histogram, microseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Histogram(Box<[u64]>);

impl Default for Histogram {
    fn default() -> Self {
        Self(vec![0; BUCKETS].into_boxed_slice())
    }
}

fn bucket(us: u64) -> usize {
    if us <= 1 {
        return 0;
    }
    let b = ((us as f64).log2() * STEPS).ceil() as usize;
    b.min(BUCKETS - 1)
}

fn upper_bound_us(b: usize) -> f64 {
    2f64.powf(b as f64 / STEPS)
}

impl Histogram {
    /// Counts one packet held `us` microseconds.
    pub fn record(&mut self, us: u64) {
        self.0[bucket(us)] += 1;
    }

    /// Packets counted.
    pub fn count(&self) -> u64 {
        self.0.iter().sum()
    }

    /// What was counted since `earlier` (a snapshot of this one).
    pub fn since(&self, earlier: &Self) -> Self {
        Self(
            self.0
                .iter()
                .zip(earlier.0.iter())
                .map(|(a, b)| a.saturating_sub(*b))
                .collect(),
        )
    }

    /// The `p`-quantile (0..=1) in microseconds (a bucket's upper bound), if anything was
    /// counted.
    pub fn quantile_us(&self, p: f64) -> Option<f64> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let rank = ((total as f64) * p.clamp(0.0, 1.0)).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (b, n) in self.0.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Some(upper_bound_us(b));
            }
        }
        Some(upper_bound_us(BUCKETS - 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_within_a_bucket_of_the_truth() {
        let mut h = Histogram::default();
        for us in 1..=1000 {
            h.record(us);
        }
        let p50 = h.quantile_us(0.5).expect("counted");
        let p99 = h.quantile_us(0.99).expect("counted");
        assert!((500.0..=500.0 * 1.1).contains(&p50), "{p50}");
        assert!((990.0..=990.0 * 1.1).contains(&p99), "{p99}");
        assert_eq!(Histogram::default().quantile_us(0.5), None);
    }

    #[test]
    fn a_window_is_what_was_counted_between_two_snapshots() {
        let mut h = Histogram::default();
        for _ in 0..100 {
            h.record(10);
        }
        let before = h.clone();
        for _ in 0..100 {
            h.record(50_000);
        }
        let window = h.since(&before);
        assert_eq!(window.count(), 100);
        assert!(window.quantile_us(0.01).expect("counted") >= 50_000.0);
    }

    #[test]
    fn extremes_land_in_the_end_buckets() {
        let mut h = Histogram::default();
        h.record(0);
        h.record(u64::MAX);
        assert_eq!(h.count(), 2);
        assert!(h.quantile_us(1.0).expect("counted") >= 1e6);
    }
}
