//! What a receiver makes of the media Gavel sends, for the tests and benchmarks that check it
//! as a browser would: H.264 RTP payloads back into NAL units (RFC 6184), those decoded into
//! pictures, Opus payloads decoded into samples; and a plain RTSP client's packets, to compare
//! with what reached a subscriber. The server itself never runs these.

use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

/// Reassembles H.264 NAL units from RTP payloads in order (single units, STAP-A aggregates
/// and FU-A fragments); a fragment whose start was lost is skipped.
pub fn h264_nal_units<'a>(payloads: impl IntoIterator<Item = &'a [u8]>) -> Vec<Vec<u8>> {
    h264_nal_units_at(payloads.into_iter().map(|p| ((), p)))
        .into_iter()
        .map(|(_, u)| u)
        .collect()
}

/// As [`h264_nal_units`], each unit with the mark (e.g. the arrival time) of the packet that
/// completed it.
pub fn h264_nal_units_at<'a, T: Copy>(
    payloads: impl IntoIterator<Item = (T, &'a [u8])>,
) -> Vec<(T, Vec<u8>)> {
    let mut out = Vec::new();
    let mut partial: Option<Vec<u8>> = None;
    for (at, p) in payloads {
        let Some(&first) = p.first() else { continue };
        match first & 0x1f {
            1..=23 => out.push((at, p.to_vec())),
            24 => {
                let mut rest = &p[1..];
                while rest.len() >= 2 {
                    let n = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
                    let Some(unit) = rest.get(2..2 + n) else {
                        break;
                    };
                    out.push((at, unit.to_vec()));
                    rest = &rest[2 + n..];
                }
            }
            28 if p.len() > 2 => {
                let (fu, body) = (p[1], &p[2..]);
                if fu & 0x80 != 0 {
                    let mut unit = vec![(first & 0xe0) | (fu & 0x1f)];
                    unit.extend_from_slice(body);
                    partial = Some(unit);
                } else if let Some(unit) = partial.as_mut() {
                    unit.extend_from_slice(body);
                }
                if fu & 0x40 != 0
                    && let Some(unit) = partial.take()
                {
                    out.push((at, unit));
                }
            }
            _ => {}
        }
    }
    out
}

/// Decodes H.264 NAL units (in order, parameter sets included) as a receiver would; returns
/// the profile the stream declares and how many pictures came out.
pub fn decode_h264(units: &[Vec<u8>]) -> Result<(Option<String>, usize), String> {
    let mut stream = Vec::new();
    for u in units {
        stream.extend_from_slice(&[0, 0, 0, 1]);
        stream.extend_from_slice(u);
    }
    let samples = run(
        "appsrc name=src caps=video/x-h264,stream-format=byte-stream,alignment=nal \
         ! h264parse ! tee name=t t. ! queue ! avdec_h264 ! appsink name=sink sync=false \
         t. ! queue ! appsink name=parsed sync=false",
        vec![stream],
    )?;
    Ok((samples.profile, samples.count))
}

/// What a decoded picture looks like, in two numbers that tell test patterns apart.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Picture {
    /// The mean over its pixels of the spread between their strongest and weakest colour: 0
    /// for grey, black or white, 1 for pure colours (colour bars score high, a white ball on
    /// black nothing).
    pub colour: f64,
    /// Its mean brightness, 0 (black) to 1 (white).
    pub light: f64,
}

/// Decodes VP8 RTP packets (whole packets, in order) as a receiver would; returns what each
/// picture looks like.
pub fn decode_vp8_rtp(packets: &[Vec<u8>]) -> Result<Vec<Picture>, String> {
    let (pipeline, src, sink) = pipeline(
        "appsrc name=src format=time caps=application/x-rtp,media=video,clock-rate=90000,encoding-name=VP8,payload=96 \
         ! rtpjitterbuffer latency=0 ! rtpvp8depay ! vp8dec ! videoconvert ! videoscale \
         ! video/x-raw,format=RGB,width=160,height=90 ! appsink name=sink sync=false",
    )?;
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|e| e.to_string())?;
    for (i, p) in packets.iter().enumerate() {
        let mut buf = gst::Buffer::from_slice(p.clone());
        if let Some(b) = buf.get_mut() {
            b.set_pts(gst::ClockTime::from_mseconds(u64::try_from(i).unwrap_or(0)));
        }
        src.push_buffer(buf).map_err(|e| e.to_string())?;
    }
    let _ = src.end_of_stream();
    let mut out = Vec::new();
    while let Some(s) = sink.try_pull_sample(gst::ClockTime::from_seconds(5)) {
        let Some(map) = s.buffer().and_then(|b| b.map_readable().ok()) else {
            continue;
        };
        let (mut spread, mut light, mut n) = (0u64, 0u64, 0u64);
        for c in map.as_slice().chunks_exact(3) {
            let (hi, lo) = (c.iter().max().unwrap_or(&0), c.iter().min().unwrap_or(&0));
            spread += u64::from(hi - lo);
            light += c.iter().map(|v| u64::from(*v)).sum::<u64>();
            n += 1;
        }
        let n = n.max(1) as f64;
        out.push(Picture {
            colour: spread as f64 / (255.0 * n),
            light: light as f64 / (3.0 * 255.0 * n),
        });
    }
    let _ = pipeline.set_state(gst::State::Null);
    Ok(out)
}

/// Decodes Opus RTP payloads (one packet each, in order) as a receiver would; returns the
/// mono samples at 48 kHz that came out.
pub fn decode_opus(payloads: &[Vec<u8>]) -> Result<usize, String> {
    Ok(opus_pcm(payloads)?.len())
}

/// How loud decoded Opus RTP payloads are: the root mean square of their (mono) samples, 0
/// (silence) to 1 (full scale).
pub fn opus_loudness(payloads: &[Vec<u8>]) -> Result<f64, String> {
    let pcm = opus_pcm(payloads)?;
    let n = pcm.len().max(1) as f64;
    let sum: f64 = pcm.iter().map(|s| (f64::from(*s) / 32768.0).powi(2)).sum();
    Ok((sum / n).sqrt())
}

/// Opus payloads decoded into mono samples at 48 kHz.
fn opus_pcm(payloads: &[Vec<u8>]) -> Result<Vec<i16>, String> {
    // Each payload is one Opus packet: an Ogg-less stream of them, 20 ms apart.
    let mut pcm = Vec::new();
    run_buffers(
        "appsrc name=src format=time caps=audio/x-opus,channel-mapping-family=0,channels=2,rate=48000 \
         ! opusdec ! audioconvert ! audio/x-raw,format=S16LE,channels=1 ! appsink name=sink sync=false",
        payloads,
        Duration::from_millis(20),
        |bytes| {
            pcm.extend(
                bytes
                    .chunks_exact(2)
                    .map(|b| i16::from_le_bytes([b[0], b[1]])),
            );
        },
    )?;
    Ok(pcm)
}

struct Out {
    profile: Option<String>,
    count: usize,
}

/// A pipeline from `launch`, with its `appsrc` named `src` and `appsink` named `sink`.
pub(crate) fn pipeline(
    launch: &str,
) -> Result<(gst::Pipeline, gst_app::AppSrc, gst_app::AppSink), String> {
    gst::init().map_err(|e| e.to_string())?;
    let pipeline = gst::parse::launch(launch)
        .map_err(|e| e.to_string())?
        .downcast::<gst::Pipeline>()
        .map_err(|_| "not a pipeline")?;
    let src = pipeline
        .by_name("src")
        .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
        .ok_or("no appsrc")?;
    let sink = pipeline
        .by_name("sink")
        .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
        .ok_or("no appsink")?;
    Ok((pipeline, src, sink))
}

fn run(launch: &str, buffers: Vec<Vec<u8>>) -> Result<Out, String> {
    let (pipeline, src, sink) = pipeline(launch)?;
    let parsed = pipeline
        .by_name("parsed")
        .and_then(|e| e.downcast::<gst_app::AppSink>().ok());
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|e| e.to_string())?;
    for b in buffers {
        src.push_buffer(gst::Buffer::from_slice(b))
            .map_err(|e| e.to_string())?;
    }
    let _ = src.end_of_stream();
    let profile = parsed
        .and_then(|p| p.try_pull_sample(gst::ClockTime::from_seconds(5)))
        .and_then(|s| {
            s.caps()
                .and_then(|c| c.structure(0))
                .and_then(|s| s.get::<&str>("profile").ok())
                .map(str::to_owned)
        });
    let mut count = 0;
    while sink
        .try_pull_sample(gst::ClockTime::from_seconds(5))
        .is_some()
    {
        count += 1;
    }
    let _ = pipeline.set_state(gst::State::Null);
    Ok(Out { profile, count })
}

/// Pushes each of `buffers` with its own timestamp (`every` apart); hands each buffer out to
/// `each`.
fn run_buffers(
    launch: &str,
    buffers: &[Vec<u8>],
    every: Duration,
    mut each: impl FnMut(&[u8]),
) -> Result<(), String> {
    let (pipeline, src, sink) = pipeline(launch)?;
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|e| e.to_string())?;
    let step = gst::ClockTime::from_nseconds(u64::try_from(every.as_nanos()).unwrap_or(0));
    for (i, b) in buffers.iter().enumerate() {
        let mut buf = gst::Buffer::from_slice(b.clone());
        if let Some(buf) = buf.get_mut() {
            buf.set_pts(step * u64::try_from(i).unwrap_or(0));
            buf.set_duration(step);
        }
        src.push_buffer(buf).map_err(|e| e.to_string())?;
    }
    let _ = src.end_of_stream();
    while let Some(s) = sink.try_pull_sample(gst::ClockTime::from_seconds(5)) {
        if let Some(map) = s.buffer().and_then(|b| b.map_readable().ok()) {
            each(map.as_slice());
        }
    }
    let _ = pipeline.set_state(gst::State::Null);
    Ok(())
}

/// How long an RTSP reference client may take to receive its first packet.
const FIRST_PACKET_WITHIN: Duration = Duration::from_secs(20);

/// The RTP payloads of `url`'s video over TCP for `during` from the first one, as a plain RTSP
/// client gets them (the reference a subscriber's packets are compared with).
pub fn rtsp_video_payloads(url: &str, during: Duration) -> Result<Vec<Vec<u8>>, String> {
    Ok(rtsp_video_arrivals(url, during)?
        .into_iter()
        .map(|(_, p)| p)
        .collect())
}

/// As [`rtsp_video_payloads`], each with when it arrived.
pub fn rtsp_video_arrivals(url: &str, during: Duration) -> Result<Vec<(Instant, Vec<u8>)>, String> {
    Ok(rtsp_video_packets(url, during)?
        .into_iter()
        .map(|(at, _, p)| (at, p))
        .collect())
}

/// As [`rtsp_video_arrivals`], each with its RTP timestamp.
pub fn rtsp_video_packets(
    url: &str,
    during: Duration,
) -> Result<Vec<(Instant, u32, Vec<u8>)>, String> {
    gst::init().map_err(|e| e.to_string())?;
    let launch = format!(
        "rtspsrc location={url} protocols=tcp latency=0 ! application/x-rtp,media=video \
         ! appsink name=sink sync=false"
    );
    let pipeline = gst::parse::launch(&launch)
        .map_err(|e| e.to_string())?
        .downcast::<gst::Pipeline>()
        .map_err(|_| "not a pipeline")?;
    let sink = pipeline
        .by_name("sink")
        .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
        .ok_or("no appsink")?;
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|e| e.to_string())?;
    // The window opens at the first packet: connecting takes a while on a busy machine, and a
    // window counted from the request could pass before anything arrived.
    let first_by = Instant::now() + FIRST_PACKET_WITHIN;
    let mut until = None;
    let mut out = Vec::new();
    while until.is_none_or(|u| Instant::now() < u) {
        if until.is_none() && Instant::now() > first_by {
            let _ = pipeline.set_state(gst::State::Null);
            return Err(format!("no video from {url} in {FIRST_PACKET_WITHIN:?}"));
        }
        let Some(s) = sink.try_pull_sample(gst::ClockTime::from_mseconds(100)) else {
            continue;
        };
        until.get_or_insert_with(|| Instant::now() + during);
        if let Some(map) = s.buffer().and_then(|b| b.map_readable().ok())
            && let Some(payload) = rtp_payload(map.as_slice())
        {
            let p = map.as_slice();
            let ts = u32::from_be_bytes([p[4], p[5], p[6], p[7]]);
            out.push((Instant::now(), ts, payload.to_vec()));
        }
    }
    let _ = pipeline.set_state(gst::State::Null);
    Ok(out)
}

/// The payload of an RTP packet (after CSRCs, extension and before padding).
fn rtp_payload(p: &[u8]) -> Option<&[u8]> {
    let first = *p.first()?;
    let mut at = 12 + 4 * usize::from(first & 0x0f);
    if first & 0x10 != 0 {
        let words = u16::from_be_bytes([*p.get(at + 2)?, *p.get(at + 3)?]);
        at += 4 + 4 * usize::from(words);
    }
    let pad = if first & 0x20 != 0 {
        usize::from(*p.last()?)
    } else {
        0
    };
    p.get(at..p.len().checked_sub(pad)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_aggregated_and_fragmented_units_are_reassembled() {
        let sps = vec![0x67, 1, 2, 3];
        let pps = vec![0x68, 4];
        let mut stap = vec![0x78];
        for u in [&sps, &pps] {
            stap.extend_from_slice(&u16::try_from(u.len()).unwrap().to_be_bytes());
            stap.extend_from_slice(u);
        }
        let idr = [0x65u8, 9, 8, 7, 6, 5];
        let fu = |start: bool, end: bool, body: &[u8]| {
            let mut p = vec![0x7c, (u8::from(start) << 7) | (u8::from(end) << 6) | 5];
            p.extend_from_slice(body);
            p
        };
        let (a, b) = (fu(true, false, &idr[1..3]), fu(false, true, &idr[3..]));
        let lost_start = fu(false, true, &[1, 2]);
        let slice = [0x41u8, 7];
        let units = h264_nal_units([
            stap.as_slice(),
            a.as_slice(),
            b.as_slice(),
            lost_start.as_slice(),
            &slice[..],
        ]);
        assert_eq!(units, vec![sps, pps, idr.to_vec(), slice.to_vec()]);
    }

    #[test]
    fn the_payload_follows_csrcs_and_extensions() {
        let mut p = vec![0x91, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3];
        p.extend_from_slice(&[0xbe, 0xde, 0, 1, 1, 2, 3, 4]);
        p.extend_from_slice(&[0xaa, 0xbb]);
        assert_eq!(rtp_payload(&p), Some(&[0xaa, 0xbb][..]));
        assert_eq!(rtp_payload(&[0x80]), None);
    }
}
