//! Glass-to-glass latency where bytes cannot be compared: a transcoded camera reaches a
//! subscriber as other bytes than a plain RTSP client gets, but as the same pictures. Each
//! receiver's frames (grouped by RTP timestamp, stamped with the arrival of their last packet)
//! are decoded into small grey thumbnails; each picture the subscriber got is matched with the
//! reference picture it correlates with best, clearly so, and the difference of arrival times
//! is the latency the server added. For the benchmarks; the server never runs this.

use std::time::Instant;

use gstreamer as gst;
use gstreamer::prelude::*;

use crate::receiver::{h264_nal_units, pipeline};

/// One video frame as received.
#[derive(Debug, Clone)]
pub struct Frame {
    /// When its last packet arrived.
    pub at: Instant,
    /// Its RTP timestamp (its presentation time).
    pub ts: u32,
    /// Its RTP payloads, in order.
    pub payloads: Vec<Vec<u8>>,
}

/// Groups packets (arrival, RTP timestamp, payload), in arrival order, into frames.
pub fn frames(packets: impl IntoIterator<Item = (Instant, u32, Vec<u8>)>) -> Vec<Frame> {
    let mut out: Vec<Frame> = Vec::new();
    for (at, ts, payload) in packets {
        match out.last_mut() {
            Some(f) if f.ts == ts => {
                f.at = at;
                f.payloads.push(payload);
            }
            _ => out.push(Frame {
                at,
                ts,
                payloads: vec![payload],
            }),
        }
    }
    out
}

/// Thumbnail width and height (each pixel the mean of a 16×16 block of a 1080p picture).
const THUMB: (u32, u32) = (120, 68);

/// Decodes H.264 `frames` and returns each picture's thumbnail with its frame's arrival, in
/// presentation order (pictures are matched to frames by their timestamps, so B-frames, which
/// come out of order, find theirs).
pub fn h264_thumbnails(frames: &[Frame]) -> Result<Vec<(Instant, Vec<u8>)>, String> {
    let launch = format!(
        "appsrc name=src format=time caps=video/x-h264,stream-format=byte-stream,alignment=au \
         ! h264parse ! avdec_h264 ! videoconvert ! videoscale \
         ! video/x-raw,format=GRAY8,width={},height={} ! appsink name=sink sync=false",
        THUMB.0, THUMB.1
    );
    let (pipeline, src, sink) = pipeline(&launch)?;
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|e| e.to_string())?;
    // Presentation time from the RTP timestamp, unwrapped, from the first frame's; the
    // decoder gets frames in decode order and gives pictures back with these times.
    let first = frames.first().map_or(0, |f| f.ts);
    let mut arrival = std::collections::HashMap::new();
    for f in frames {
        let ticks = u64::from(f.ts.wrapping_sub(first));
        let pts = gst::ClockTime::from_nseconds(ticks * 1_000_000_000 / 90_000 + 1_000_000_000);
        arrival.insert(pts.nseconds(), f.at);
        let mut au = Vec::new();
        for unit in h264_nal_units(f.payloads.iter().map(Vec::as_slice)) {
            au.extend_from_slice(&[0, 0, 0, 1]);
            au.extend_from_slice(&unit);
        }
        let mut buf = gst::Buffer::from_slice(au);
        if let Some(b) = buf.get_mut() {
            b.set_pts(pts);
        }
        src.push_buffer(buf).map_err(|e| e.to_string())?;
    }
    let _ = src.end_of_stream();
    let mut out = Vec::new();
    while let Some(s) = sink.try_pull_sample(gst::ClockTime::from_seconds(5)) {
        let Some(b) = s.buffer() else { continue };
        let at = b.pts().and_then(|p| arrival.get(&p.nseconds()).copied());
        if let (Some(at), Ok(map)) = (at, b.map_readable()) {
            out.push((at, map.as_slice().to_vec()));
        }
    }
    let _ = pipeline.set_state(gst::State::Null);
    Ok(out)
}

/// Pearson's correlation of two thumbnails.
fn correlation(a: &[u8], b: &[u8]) -> f64 {
    let n = a.len().min(b.len()) as f64;
    if n == 0.0 {
        return 0.0;
    }
    let mean = |x: &[u8]| x.iter().map(|v| f64::from(*v)).sum::<f64>() / n;
    let (ma, mb) = (mean(a), mean(b));
    let (mut ab, mut aa, mut bb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        let (x, y) = (f64::from(*x) - ma, f64::from(*y) - mb);
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    if aa == 0.0 || bb == 0.0 {
        0.0
    } else {
        ab / (aa * bb).sqrt()
    }
}

/// For each picture in `received` that clearly matches one in `reference`, how much later it
/// arrived, in ms, sorted. Among reference pictures up to 3 s earlier, those that arrived
/// together (within 5 ms: a burst) count as one arrival, scored by the best of them; the best
/// arrival must correlate at least 0.3 and 10 % better than any other. (A camera's pictures
/// change little from one to the next, so the next best is often the picture after; it
/// arrived a frame later, and the margin keeps it from being taken.)
pub fn latency_ms(reference: &[(Instant, Vec<u8>)], received: &[(Instant, Vec<u8>)]) -> Vec<f64> {
    let mut out = Vec::new();
    for (at, thumb) in received {
        let mut arrivals: Vec<(Instant, f64)> = Vec::new();
        for (r, t) in reference {
            if *r > *at || at.duration_since(*r).as_secs_f64() > 3.0 {
                continue;
            }
            let score = correlation(thumb, t);
            let same = arrivals.iter_mut().find(|(a, _)| {
                let apart = if *a > *r { *a - *r } else { *r - *a };
                apart.as_millis() <= 5
            });
            match same {
                Some((_, best)) => *best = best.max(score),
                None => arrivals.push((*r, score)),
            }
        }
        arrivals.sort_by(|a, b| b.1.total_cmp(&a.1));
        if let Some(&(r, best)) = arrivals.first() {
            let next = arrivals.get(1).map_or(0.0, |a| a.1.max(0.0));
            if best >= 0.3 && best >= 1.1 * next {
                out.push(at.duration_since(r).as_secs_f64() * 1000.0);
            }
        }
    }
    out.sort_by(f64::total_cmp);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn packets_group_into_frames_by_timestamp_with_the_last_arrival() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let f = frames([
            (ms(0), 100, vec![1]),
            (ms(2), 100, vec![2]),
            (ms(33), 3100, vec![3]),
        ]);
        assert_eq!(f.len(), 2);
        assert_eq!((f[0].at, f[0].payloads.len()), (ms(2), 2));
        assert_eq!(f[1].ts, 3100);
    }

    #[test]
    fn pictures_match_the_one_they_are_a_noisy_copy_of_and_only_clearly() {
        // Pseudo-random thumbnails, and the same a little noisier, 40 ms later.
        let mut seed = 7u32;
        let mut next = || {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (seed >> 16) as u8
        };
        let t0 = Instant::now();
        let reference: Vec<(Instant, Vec<u8>)> = (0..30)
            .map(|i| {
                (
                    t0 + Duration::from_millis(i * 33),
                    (0..500).map(|_| next()).collect(),
                )
            })
            .collect();
        let received: Vec<(Instant, Vec<u8>)> = reference
            .iter()
            .map(|(at, t)| {
                let noisy = t.iter().map(|v| v.saturating_add(next() % 40)).collect();
                (*at + Duration::from_millis(40), noisy)
            })
            .collect();
        let l = latency_ms(&reference, &received);
        assert_eq!(l.len(), 30);
        assert!(l.iter().all(|ms| (ms - 40.0).abs() < 1.0), "{l:?}");
        // A flat picture matches nothing.
        assert!(latency_ms(&reference, &[(t0 + Duration::from_secs(1), vec![9; 500])]).is_empty());
    }
}
