//! The elements of each part's path through an ingest, and how they are linked: the chain of a
//! pass-through or a transcode, the side branches a tee feeds (a camera's baseline rendition
//! behind its gate, the level of passed-through Opus), and the appsinks that hand RTP out.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

use super::{Gate, MTU, Packet, Part, Path};

/// The elements of one part's path, from the RTSP source's RTP pad to RTP for the SFU.
fn chain(part: Part, path: Path, pt: u8) -> Result<Vec<gst::Element>, String> {
    let make = |name: &str| {
        gst::ElementFactory::make(name)
            .build()
            .map_err(|e| e.to_string())
    };
    let caps = |s: &str| -> Result<gst::Element, String> {
        let caps: gst::Caps = s.parse().map_err(|_| format!("bad caps {s}"))?;
        gst::ElementFactory::make("capsfilter")
            .property("caps", caps)
            .build()
            .map_err(|e| e.to_string())
    };
    let pay = |name: &str| -> Result<gst::Element, String> {
        let pay = make(name)?;
        pay.set_property("pt", u32::from(pt));
        pay.set_property("mtu", MTU);
        Ok(pay)
    };
    Ok(match (part, path) {
        (Part::Video, Path::PassThrough) => {
            let h264pay = pay("rtph264pay")?;
            h264pay.set_property("config-interval", -1i32);
            vec![make("rtph264depay")?, make("h264parse")?, h264pay]
        }
        (Part::Video | Part::Fallback, Path::Transcode) => {
            let h264pay = pay("rtph264pay")?;
            h264pay.set_property("config-interval", -1i32);
            let enc = baseline_encoder(if part == Part::Fallback {
                Some(FALLBACK_ENC)
            } else {
                None
            })?;
            vec![
                make(if part == Part::Fallback {
                    // From a known H.264 stream (the camera's, parsed).
                    "avdec_h264"
                } else {
                    "decodebin"
                })?,
                make("videoconvert")?,
                enc,
                caps("video/x-h264,profile=constrained-baseline")?,
                h264pay,
            ]
        }
        (Part::Fallback, Path::PassThrough) => return Err("a fallback is transcoded".into()),
        // Opus as it comes; how loud it is is measured on a decoded copy (see `branch`).
        (Part::Audio, Path::PassThrough) => vec![make("rtpopusdepay")?, pay("rtpopuspay")?],
        (Part::Audio, Path::Transcode) => vec![
            make("decodebin")?,
            make("audioconvert")?,
            make("audioresample")?,
            caps("audio/x-raw,rate=48000")?,
            level_meter()?,
            make("opusenc")?,
            pay("rtpopuspay")?,
        ],
    })
}

/// How loud, ten times a second (read by the owner from the bus): what makes a courtroom an
/// active speaker.
fn level_meter() -> Result<gst::Element, String> {
    let level = gst::ElementFactory::make("level")
        .build()
        .map_err(|e| e.to_string())?;
    level.set_property("interval", 100_000_000u64);
    level.set_property("post-messages", true);
    Ok(level)
}

/// The name of the fallback rendition's encoder.
pub(super) const FALLBACK_ENC: &str = "fallback-enc";

/// x264 as WebRTC receivers need it: no B-frames, no added latency, a key frame every second.
fn baseline_encoder(name: Option<&str>) -> Result<gst::Element, String> {
    let mut b = gst::ElementFactory::make("x264enc");
    if let Some(name) = name {
        b = b.name(name);
    }
    let enc = b.build().map_err(|e| e.to_string())?;
    enc.set_property_from_str("tune", "zerolatency");
    enc.set_property_from_str("speed-preset", "veryfast");
    enc.set_property("bframes", 0u32);
    enc.set_property("key-int-max", 30u32);
    Ok(enc)
}

/// Where a part's packets go: the owner's channel, and the count of those it had no room for.
#[derive(Clone)]
pub(crate) struct Out {
    pub(crate) tx: SyncSender<Packet>,
    pub(crate) dropped: Arc<AtomicU64>,
}

/// An appsink handing each RTP packet of `part` to `out`.
pub(crate) fn packet_sink(part: Part, out: &Out) -> gst_app::AppSink {
    let Out { tx, dropped } = out.clone();
    let sink = gst_app::AppSink::builder().sync(false).build();
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let Some(map) = sample.buffer().and_then(|b| b.map_readable().ok()) else {
                    return Ok(gst::FlowSuccess::Ok);
                };
                let packet = Packet {
                    part,
                    rtp: map.as_slice().to_vec(),
                };
                // overflow: drop (counted; the SFU never waits on a camera)
                match tx.try_send(packet) {
                    Ok(()) => Ok(gst::FlowSuccess::Ok),
                    Err(TrySendError::Full(_)) => {
                        dropped.fetch_add(1, Ordering::Relaxed);
                        Ok(gst::FlowSuccess::Ok)
                    }
                    Err(TrySendError::Disconnected(_)) => Err(gst::FlowError::Eos),
                }
            })
            .build(),
    );
    sink
}

/// Builds one part's path and links the source pad to it; its packets go to `out`. A
/// passed-through video with a `fallback` (payload type, gate) also feeds the fallback
/// rendition: `depay ! parse ! tee ! queue ! pay`, and `tee ! queue ! (transcoder)` behind the
/// gate. Passed-through Opus is measured on the side: `depay ! tee ! queue ! pay`, and
/// `tee ! queue ! opusdec ! level ! fakesink`.
pub(super) fn branch(
    pipeline: &gst::Pipeline,
    pad: &gst::Pad,
    part: Part,
    path: Path,
    pt: u8,
    out: &Out,
    fallback: Option<(u8, Arc<Gate>)>,
) -> Result<(), String> {
    let make = |name: &str| {
        gst::ElementFactory::make(name)
            .build()
            .map_err(|e| e.to_string())
    };
    let mut elements = chain(part, path, pt)?;
    if part == Part::Audio && path == Path::PassThrough {
        let tee = make("tee")?;
        elements.insert(1, make("queue")?);
        elements.insert(1, tee.clone());
        link_path(pipeline, pad, elements, packet_sink(part, out))?;
        let queue = make("queue")?;
        queue.set_property_from_str("leaky", "downstream");
        let meter = [
            queue,
            make("opusdec")?,
            make("audioconvert")?,
            level_meter()?,
        ];
        let sink = gst::ElementFactory::make("fakesink")
            .property("sync", false)
            .property("async", false)
            .build()
            .map_err(|e| e.to_string())?;
        return side_branch(pipeline, &tee, &meter, &sink);
    }
    let Some((fallback_pt, gate)) = fallback else {
        return link_path(pipeline, pad, elements, packet_sink(part, out));
    };
    let tee = make("tee")?;
    elements.insert(2, make("queue")?);
    elements.insert(2, tee.clone());
    link_path(pipeline, pad, elements, packet_sink(part, out))?;
    let queue = make("queue")?;
    // At most a second waits for the transcoder; older frames go first.
    queue.set_property("max-size-time", 1_000_000_000u64);
    queue.set_property("max-size-buffers", 0u32);
    queue.set_property("max-size-bytes", 0u32);
    queue.set_property_from_str("leaky", "downstream");
    queue.static_pad("sink").ok_or("no sink pad")?.add_probe(
        gst::PadProbeType::BUFFER,
        move |_, info| {
            let Some(gst::PadProbeData::Buffer(b)) = &info.data else {
                return gst::PadProbeReturn::Ok;
            };
            if gate.passes(b.flags().contains(gst::BufferFlags::DELTA_UNIT)) {
                gst::PadProbeReturn::Ok
            } else {
                gst::PadProbeReturn::Drop
            }
        },
    );
    let mut rest = vec![queue];
    rest.extend(chain(Part::Fallback, Path::Transcode, fallback_pt)?);
    let sink = packet_sink(Part::Fallback, out);
    side_branch(pipeline, &tee, &rest, sink.upcast_ref())
}

/// Adds `elements` and `sink`, links them in order, starts them, and feeds them from `tee`.
fn side_branch(
    pipeline: &gst::Pipeline,
    tee: &gst::Element,
    elements: &[gst::Element],
    sink: &gst::Element,
) -> Result<(), String> {
    let all: Vec<&gst::Element> = elements.iter().chain(std::iter::once(sink)).collect();
    for e in &all {
        pipeline.add(*e).map_err(|e| e.to_string())?;
    }
    gst::Element::link_many(all.iter().copied()).map_err(|e| e.to_string())?;
    for e in &all {
        e.sync_state_with_parent().map_err(|e| e.to_string())?;
    }
    tee.link(&elements[0]).map_err(|e| e.to_string())
}

/// Adds `elements` and `sink` to the pipeline, links them in order (after `decodebin`, once
/// it knows the codec), starts them, and links the source pad to the first.
fn link_path(
    pipeline: &gst::Pipeline,
    pad: &gst::Pad,
    elements: Vec<gst::Element>,
    sink: gst_app::AppSink,
) -> Result<(), String> {
    for e in &elements {
        pipeline.add(e).map_err(|e| e.to_string())?;
    }
    pipeline.add(&sink).map_err(|e| e.to_string())?;
    // decodebin's output pad appears once it knows the codec: link the rest then.
    let (head, rest) = elements.split_first().ok_or("an empty path")?;
    let mut tail: Vec<&gst::Element> = rest.iter().collect();
    tail.push(sink.upcast_ref());
    gst::Element::link_many(tail.iter().copied()).map_err(|e| e.to_string())?;
    if head.factory().is_some_and(|f| f.name() == "decodebin") {
        let next = tail[0].clone();
        head.connect_pad_added(move |_, decoded| {
            if let Some(sink_pad) = next.static_pad("sink")
                && !sink_pad.is_linked()
            {
                let _ = decoded.link(&sink_pad);
            }
        });
    } else {
        head.link(tail[0]).map_err(|e| e.to_string())?;
    }
    for e in elements.iter().chain(std::iter::once(sink.upcast_ref())) {
        e.sync_state_with_parent().map_err(|e| e.to_string())?;
    }
    pad.link(&head.static_pad("sink").ok_or("no sink pad")?)
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// A part that is not taken: its packets are received and dropped.
pub(super) fn discard(pipeline: &gst::Pipeline, pad: &gst::Pad) -> Result<(), String> {
    let sink = gst::ElementFactory::make("fakesink")
        .build()
        .map_err(|e| e.to_string())?;
    pipeline.add(&sink).map_err(|e| e.to_string())?;
    sink.sync_state_with_parent().map_err(|e| e.to_string())?;
    pad.link(&sink.static_pad("sink").ok_or("no sink pad")?)
        .map_err(|e| e.to_string())?;
    Ok(())
}
