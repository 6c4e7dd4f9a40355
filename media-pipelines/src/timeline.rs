//! The timeline a recorder (or listener) is given for one track's RTP: one SSRC, continuous
//! sequence numbers and timestamps, and a presentation time that never runs backwards and
//! stays within about a second of the wall clock, whatever the network and the forwarding task
//! did to the packets.
//!
//! Why: stamping each packet with its arrival time (and letting the jitter buffer estimate the
//! sender's clock from those) turns a forwarding stall followed by a burst into time going
//! backwards, which `splitmuxsink` refuses ("Timestamping error on input streams") and the
//! recorder had to be restarted, cutting a segment short. Here time comes from the sender's
//! RTP timestamps, checked against arrival:
//! - a timestamp step no larger than the arrival gap plus a second is the sender's own time
//!   (a burst after a stall arrives at once but keeps its spacing; a pause the sender counted
//!   stays a pause);
//! - a step backwards or far ahead, or a new SSRC (a simulcast layer, a restarted sender), is
//!   a discontinuity: the timeline moves on by the arrival gap (at least one frame);
//! - a pause the sender did not count shows as output lagging arrival for over a second
//!   through a whole 2-s window (a burst drains within it); the timeline then catches up.
//!
//! Reordered and duplicate packets keep their place relative to their neighbours (the jitter
//! buffer puts them in order). Pure: told the time, never reads a clock.

use std::time::Duration;

/// How far the sender's time may run ahead of arrival and still be taken as its own.
const AHEAD: Duration = Duration::from_secs(1);
/// How long output must lag arrival, throughout a window, before the timeline catches up:
/// under the jitter buffer's latency (200 ms), whose timers run on this time.
const LAG: Duration = Duration::from_millis(150);
/// The window over which the smallest lag is taken.
const WINDOW: Duration = Duration::from_secs(2);
/// A sequence step larger than this is a jump, not loss.
const MAX_LOSS: i16 = 3000;

/// One packet's place on the timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// Sequence number to give the packet.
    pub seq: u16,
    /// RTP timestamp to give it.
    pub ts: u32,
    /// SSRC to give it (the first packet's, always).
    pub ssrc: u32,
    /// Presentation time: the pipeline's running time at the first packet plus the timeline's
    /// position.
    pub pts: Duration,
}

/// The state after the first packet.
#[derive(Debug, Clone)]
struct State {
    ssrc: u32,
    first_ts: u32,
    base: Duration,
    last: (u32, u16, u32),
    last_now: Duration,
    seq: u16,
    /// Position in clock units since the first packet.
    pos: u64,
    window_start: Duration,
    window_lag: Option<Duration>,
}

/// One track's timeline.
#[derive(Debug, Clone)]
pub struct RtpTimeline {
    clock_rate: u32,
    frame: u64,
    state: Option<State>,
    /// Packets that came after a discontinuity (a jump, a new SSRC) or a catch-up.
    discontinuities: u64,
}

impl RtpTimeline {
    /// A timeline for a codec with `clock_rate` (Hz) whose packets usually span `frame` clock
    /// units (960 for 20 ms of Opus, 3000 for a frame of 30-fps video).
    pub fn new(clock_rate: u32, frame: u32) -> Self {
        Self {
            clock_rate: clock_rate.max(1),
            frame: u64::from(frame.max(1)),
            state: None,
            discontinuities: 0,
        }
    }

    /// How many discontinuities were bridged.
    pub fn discontinuities(&self) -> u64 {
        self.discontinuities
    }

    fn units(&self, d: Duration) -> u64 {
        u64::try_from(d.as_nanos() * u128::from(self.clock_rate) / 1_000_000_000)
            .unwrap_or(u64::MAX)
    }

    fn time(&self, units: u64) -> Duration {
        Duration::from_nanos(
            u64::try_from(u128::from(units) * 1_000_000_000 / u128::from(self.clock_rate))
                .unwrap_or(u64::MAX),
        )
    }

    /// Places a packet (`ssrc`, `seq`, `ts` as received) that arrived at running time `now`.
    pub fn stamp(&mut self, now: Duration, ssrc: u32, seq: u16, ts: u32) -> Stamp {
        let Some(mut s) = self.state.clone() else {
            self.state = Some(State {
                ssrc,
                first_ts: ts,
                base: now,
                last: (ssrc, seq, ts),
                last_now: now,
                seq,
                pos: 0,
                window_start: now,
                window_lag: None,
            });
            return Stamp {
                seq,
                ts,
                ssrc,
                pts: now,
            };
        };
        let (last_ssrc, last_seq, last_ts) = s.last;
        let dt = i64::from(ts.wrapping_sub(last_ts) as i32);
        let dseq = seq.wrapping_sub(last_seq) as i16;
        let same = ssrc == last_ssrc;
        // Late or repeated: placed behind its successor, nothing moves.
        if same && dseq <= 0 && dseq > -MAX_LOSS && dt <= 0 && dt > -i64::from(self.clock_rate) {
            let pos = s.pos.saturating_sub(dt.unsigned_abs());
            return Stamp {
                seq: s.seq.wrapping_add(dseq as u16),
                ts: s.first_ts.wrapping_add(pos as u32),
                ssrc: s.ssrc,
                pts: s.base + self.time(pos),
            };
        }
        let gap = self.units(now.saturating_sub(s.last_now));
        // The furthest the timeline may run ahead of arrival: a sender whose clock runs fast,
        // or one sending time-stamps that leap, never takes the recording ahead of the wall
        // clock (which would cut a segment every few packets).
        let limit = self.units((now + AHEAD).saturating_sub(s.base));
        let own_time = same
            && dt >= 0
            && dt.unsigned_abs() <= gap + self.units(AHEAD)
            && s.pos + dt.unsigned_abs() <= limit;
        if own_time {
            s.pos += dt.unsigned_abs();
            s.seq = s.seq.wrapping_add(if dseq > 0 && dseq < MAX_LOSS {
                dseq as u16
            } else {
                1
            });
        } else {
            // On at arrival pace, never past the limit, always forward.
            s.pos = (s.pos + gap.max(self.frame)).min(limit).max(s.pos + 1);
            s.seq = s.seq.wrapping_add(1);
            self.discontinuities += 1;
        }
        // A pause the sender did not count: output lags arrival throughout a window.
        let lag = now.saturating_sub(s.base + self.time(s.pos));
        let least = s.window_lag.map_or(lag, |l| l.min(lag));
        // Caught up only at a new frame: a video frame's packets keep one timestamp.
        let new_frame = !(own_time && dt == 0);
        if new_frame && now.saturating_sub(s.window_start) >= WINDOW {
            if least > LAG {
                s.pos += self.units(least);
                self.discontinuities += 1;
            }
            s.window_start = now;
            s.window_lag = None;
        } else {
            s.window_lag = Some(least);
        }
        s.last = (ssrc, seq, ts);
        s.last_now = now;
        let stamp = Stamp {
            seq: s.seq,
            ts: s.first_ts.wrapping_add(s.pos as u32),
            ssrc: s.ssrc,
            pts: s.base + self.time(s.pos),
        };
        self.state = Some(s);
        stamp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// An Opus sender: 20 ms packets at 48 kHz.
    struct Sender {
        ssrc: u32,
        seq: u16,
        ts: u32,
    }

    impl Sender {
        fn next(&mut self) -> (u32, u16, u32) {
            let p = (self.ssrc, self.seq, self.ts);
            self.seq = self.seq.wrapping_add(1);
            self.ts = self.ts.wrapping_add(960);
            p
        }
    }

    fn opus() -> (RtpTimeline, Sender) {
        (
            RtpTimeline::new(48_000, 960),
            Sender {
                ssrc: 7,
                seq: 65_500,
                ts: u32::MAX - 48_000,
            },
        )
    }

    /// Feeds `n` packets arriving `every` apart from `*now`; returns the stamps.
    fn feed(
        t: &mut RtpTimeline,
        s: &mut Sender,
        now: &mut Duration,
        n: usize,
        every: Duration,
    ) -> Vec<Stamp> {
        (0..n)
            .map(|_| {
                let (ssrc, seq, ts) = s.next();
                let st = t.stamp(*now, ssrc, seq, ts);
                *now += every;
                st
            })
            .collect()
    }

    fn assert_monotonic(stamps: &[Stamp]) {
        for w in stamps.windows(2) {
            assert!(w[1].pts > w[0].pts, "{:?} then {:?}", w[0], w[1]);
            assert_eq!(w[1].seq, w[0].seq.wrapping_add(1), "{w:?}");
            assert!(w[1].ts.wrapping_sub(w[0].ts) > 0, "{w:?}");
        }
    }

    #[test]
    fn a_stall_then_a_burst_keeps_the_senders_spacing_and_never_runs_backwards() {
        let (mut t, mut s) = opus();
        let mut now = Duration::from_secs(3);
        let mut all = feed(&mut t, &mut s, &mut now, 150, 20 * MS);
        // 1.5 s with nothing, then the 75 held packets at once, then normal pace.
        now += 1500 * MS;
        all.extend(feed(&mut t, &mut s, &mut now, 75, Duration::ZERO));
        all.extend(feed(&mut t, &mut s, &mut now, 100, 20 * MS));
        assert_monotonic(&all);
        // 325 packets of 20 ms: 6.5 s of audio, as long as the wall clock took.
        let span = all.last().unwrap().pts - all[0].pts;
        assert_eq!(span, 324 * 20 * MS);
        assert_eq!(t.discontinuities(), 0);
    }

    #[test]
    fn a_pause_the_sender_counted_stays_a_pause_and_one_it_did_not_is_caught_up() {
        let (mut t, mut s) = opus();
        let mut now = Duration::ZERO;
        let mut all = feed(&mut t, &mut s, &mut now, 50, 20 * MS);
        // Counted: the sender's clock ran on through 5 s of silence.
        now += 5 * 1000 * MS;
        s.ts = s.ts.wrapping_add(250 * 960);
        all.extend(feed(&mut t, &mut s, &mut now, 50, 20 * MS));
        let lag = now.saturating_sub(all.last().unwrap().pts + 20 * MS);
        assert!(lag < 50 * MS, "counted pause: output lags by {lag:?}");
        // Not counted: 5 s of nothing, then timestamps carry on as if no time had passed.
        now += 5 * 1000 * MS;
        all.extend(feed(&mut t, &mut s, &mut now, 200, 20 * MS));
        assert_monotonic(&all);
        let last = all.last().unwrap().pts + 20 * MS;
        assert!(
            now.saturating_sub(last) < LAG && last <= now,
            "uncounted pause caught up: output at {last:?}, arrival at {now:?}"
        );
    }

    #[test]
    fn jumps_backwards_or_ahead_and_a_new_ssrc_are_bridged_at_arrival_pace() {
        let (mut t, mut s) = opus();
        let mut now = Duration::ZERO;
        let mut all = feed(&mut t, &mut s, &mut now, 50, 20 * MS);
        s.ts = s.ts.wrapping_sub(2 * 48_000);
        all.extend(feed(&mut t, &mut s, &mut now, 50, 20 * MS));
        s.ts = s.ts.wrapping_add(600 * 48_000);
        all.extend(feed(&mut t, &mut s, &mut now, 50, 20 * MS));
        s = Sender {
            ssrc: 99,
            seq: 3,
            ts: 12_345,
        };
        all.extend(feed(&mut t, &mut s, &mut now, 50, 20 * MS));
        assert_monotonic(&all);
        assert!(all.iter().all(|st| st.ssrc == 7));
        let span = all.last().unwrap().pts - all[0].pts;
        assert!((span.as_millis() as i64 - 199 * 20).abs() <= 20, "{span:?}");
        assert_eq!(t.discontinuities(), 3);
    }

    #[test]
    fn a_late_packet_keeps_its_place_and_loss_stays_a_gap() {
        let (mut t, _) = opus();
        let now = Duration::ZERO;
        let a = t.stamp(now, 7, 10, 9600);
        let c = t.stamp(now + 40 * MS, 7, 12, 9600 + 2 * 960);
        let b = t.stamp(now + 45 * MS, 7, 11, 9600 + 960);
        assert_eq!((b.seq, b.pts), (a.seq + 1, a.pts + 20 * MS));
        assert_eq!(c.seq, a.seq + 2);
        // Three packets lost: the sequence and the time keep the hole.
        let d = t.stamp(now + 120 * MS, 7, 16, 9600 + 6 * 960);
        assert_eq!((d.seq, d.pts), (c.seq + 4, c.pts + 80 * MS));
    }

    #[test]
    fn video_frames_share_a_timestamp_across_their_packets() {
        let mut t = RtpTimeline::new(90_000, 3000);
        let now = Duration::from_secs(1);
        let a = t.stamp(now, 1, 0, 0);
        let b = t.stamp(now, 1, 1, 0);
        let c = t.stamp(now + 33 * MS, 1, 2, 3000);
        assert_eq!((a.ts, b.ts, b.pts), (0, 0, a.pts));
        assert_eq!(c.ts, 3000);
    }

    #[test]
    fn a_sender_whose_time_leaps_ahead_never_takes_the_recording_past_the_wall_clock() {
        let (mut t, mut s) = opus();
        let mut now = Duration::ZERO;
        let mut all = Vec::new();
        for _ in 0..500 {
            let (ssrc, seq, ts) = s.next();
            all.push(t.stamp(now, ssrc, seq, ts));
            // Each packet claims 0.99 s more, and a flood follows every real one.
            s.ts = s.ts.wrapping_add(47_000);
            for _ in 0..3 {
                let (ssrc, seq, ts) = s.next();
                all.push(t.stamp(now, ssrc, seq, ts));
            }
            now += 20 * MS;
        }
        for w in all.windows(2) {
            assert!(w[1].pts > w[0].pts, "{w:?}");
        }
        let ahead = all.last().unwrap().pts.saturating_sub(now);
        assert!(ahead <= AHEAD, "{ahead:?} ahead of the wall clock");
    }
}
