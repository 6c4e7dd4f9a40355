//! The hearing's main view, live: everyone the room lets an observer see, in a grid, and
//! everyone it lets an observer hear, mixed; encoded once (VP8 and Opus) for every viewer who
//! watches the hearing as a whole (WHEP), rather than once per viewer.
//!
//! Inputs come and go while it runs ([`LiveMix::add`], [`LiveMix::remove`]): each is RTP as
//! forwarded (fed through a [`Tap`], which keeps its time), depayloaded, decoded and handed to
//! `compositor` or `audiomixer`; the grid is laid out again whenever the pictures change. A
//! black picture and silence underneath keep the output flowing when nobody is there. Decoders
//! never give up on a bad frame (a broken input must not end the view for everyone).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::sync::mpsc::{Receiver, sync_channel};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

use crate::ingest::{Out, Packet, Part, packet_sink};
use crate::recorder::{Codec, Tap, live_rtp_input};

/// Why the mix could not start or take an input.
#[derive(Debug, thiserror::Error)]
#[error("live mix: {0}")]
pub struct MixError(String);

fn err(e: impl std::fmt::Display) -> MixError {
    MixError(e.to_string())
}

/// Packets of output queued before new ones are dropped.
const QUEUE: usize = 512;

/// RTP input queued per source before the oldest is dropped.
const MAX_INPUT_BYTES: u64 = 1024 * 1024;

/// Frames a second of the picture (a monitoring wall needs no more; the encoder less work).
const FPS: u32 = 15;

/// One input: its elements (to take out again), the mixer pad it feeds, and when it came.
struct Input {
    elements: Vec<gst::Element>,
    pad: gst::Pad,
    video: bool,
    order: u64,
}

/// A running live mix; stops when dropped.
pub struct LiveMix {
    pipeline: gst::Pipeline,
    video_mix: gst::Element,
    audio_mix: gst::Element,
    encoder: gst::Element,
    inputs: HashMap<String, Input>,
    size: (u32, u32),
    /// Inputs taken so far (each input's place in the grid follows its number).
    taken: u64,
}

impl std::fmt::Debug for LiveMix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveMix")
            .field("inputs", &self.inputs.len())
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl Drop for LiveMix {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

impl LiveMix {
    /// Starts an empty mix of `width`×`height`; its RTP comes out on the receiver: VP8 with
    /// payload type `video_pt` (part `Video`), Opus with `audio_pt` (part `Audio`).
    pub fn start(
        width: u32,
        height: u32,
        video_pt: u8,
        audio_pt: u8,
    ) -> Result<(Self, Receiver<Packet>), MixError> {
        gst::init().map_err(err)?;
        // Only fixed element names and numbers go into the description.
        let desc = format!(
            "videotestsrc is-live=true pattern=black \
               ! video/x-raw,width={width},height={height},framerate={FPS}/1 \
               ! compositor name=vmix background=black latency=200000000 \
               ! video/x-raw,width={width},height={height},framerate={FPS}/1 \
               ! videoconvert ! queue max-size-buffers=2 leaky=downstream \
               ! vp8enc name=enc deadline=1 cpu-used=16 end-usage=cbr target-bitrate=1200000 \
                 keyframe-max-dist={key} lag-in-frames=0 threads=1 \
               ! rtpvp8pay name=vpay mtu=1200 picture-id-mode=15-bit \
             audiotestsrc is-live=true wave=silence samplesperbuffer=960 \
               ! audio/x-raw,rate=48000,channels=2 \
               ! audiomixer name=amix latency=200000000 \
               ! audioconvert ! opusenc bitrate=64000 ! rtpopuspay name=apay mtu=1200",
            key = FPS * 2,
        );
        let pipeline = gst::parse::launch(&desc)
            .map_err(err)?
            .downcast::<gst::Pipeline>()
            .map_err(|_| err("not a pipeline"))?;
        let by = |name: &str| {
            pipeline
                .by_name(name)
                .ok_or_else(|| err(format!("no {name}")))
        };
        let (tx, rx) = sync_channel(QUEUE);
        let out = Out {
            tx,
            dropped: Arc::new(AtomicU64::new(0)),
        };
        for (pay, pt, part) in [
            ("vpay", video_pt, Part::Video),
            ("apay", audio_pt, Part::Audio),
        ] {
            let pay = by(pay)?;
            pay.set_property("pt", u32::from(pt));
            let sink = packet_sink(part, &out);
            pipeline.add(&sink).map_err(err)?;
            pay.link(&sink).map_err(err)?;
        }
        let mix = Self {
            video_mix: by("vmix")?,
            audio_mix: by("amix")?,
            encoder: by("enc")?,
            pipeline,
            inputs: HashMap::new(),
            size: (width, height),
            taken: 0,
        };
        mix.pipeline.set_state(gst::State::Playing).map_err(err)?;
        Ok((mix, rx))
    }

    /// Takes in RTP of `codec` (payload type `pt`) as input `key`; returns where to push it.
    /// An input of the same key is replaced.
    pub fn add(&mut self, key: &str, codec: Codec, pt: u8) -> Result<Tap, MixError> {
        self.remove(key);
        let make = |name: &str| gst::ElementFactory::make(name).build().map_err(err);
        let src = gst_app::AppSrc::builder().build();
        live_rtp_input(&src, &codec.caps(pt), MAX_INPUT_BYTES).map_err(err)?;
        let jitter = make("rtpjitterbuffer")?;
        jitter.set_property("latency", 100u32);
        let mut elements: Vec<gst::Element> = vec![src.clone().upcast(), jitter];
        let video = codec != Codec::Opus;
        let decoder = match codec {
            Codec::Opus => {
                elements.push(make("rtpopusdepay")?);
                make("opusdec")?
            }
            Codec::Vp8 => {
                elements.push(make("rtpvp8depay")?);
                make("vp8dec")?
            }
            Codec::H264 => {
                elements.push(make("rtph264depay")?);
                elements.push(make("h264parse")?);
                make("avdec_h264")?
            }
        };
        // A bad frame is skipped, never the end of the view.
        if decoder.find_property("max-errors").is_some() {
            decoder.set_property("max-errors", -1i32);
        }
        elements.push(decoder);
        if video {
            elements.push(make("videoconvert")?);
        } else {
            elements.push(make("audioconvert")?);
            elements.push(make("audioresample")?);
        }
        let queue = make("queue")?;
        queue.set_property_from_str("leaky", "downstream");
        elements.push(queue);
        for e in &elements {
            self.pipeline.add(e).map_err(err)?;
        }
        gst::Element::link_many(&elements).map_err(err)?;
        let mixer = if video {
            &self.video_mix
        } else {
            &self.audio_mix
        };
        let pad = mixer
            .request_pad_simple("sink_%u")
            .ok_or_else(|| err("the mixer gave no pad"))?;
        let last = elements.last().ok_or_else(|| err("no elements"))?;
        last.static_pad("src")
            .ok_or_else(|| err("no src pad"))?
            .link(&pad)
            .map_err(err)?;
        for e in &elements {
            e.sync_state_with_parent().map_err(err)?;
        }
        self.taken += 1;
        self.inputs.insert(
            key.to_owned(),
            Input {
                elements,
                pad,
                video,
                order: self.taken,
            },
        );
        self.lay_out();
        let _ = self.pipeline.recalculate_latency();
        let (clock, frame) = codec.clock();
        Ok(Tap::new(src, clock, frame))
    }

    /// Takes input `key` out (nothing if there is none).
    pub fn remove(&mut self, key: &str) {
        let Some(input) = self.inputs.remove(key) else {
            return;
        };
        for e in &input.elements {
            let _ = e.set_state(gst::State::Null);
        }
        let mixer = if input.video {
            &self.video_mix
        } else {
            &self.audio_mix
        };
        if let Some(last) = input.elements.last()
            && let Some(src) = last.static_pad("src")
        {
            let _ = src.unlink(&input.pad);
        }
        mixer.release_request_pad(&input.pad);
        for e in &input.elements {
            let _ = self.pipeline.remove(e);
        }
        if input.video {
            self.lay_out();
        }
    }

    /// The inputs it takes now.
    pub fn inputs(&self) -> Vec<String> {
        self.inputs.keys().cloned().collect()
    }

    /// Asks the encoder for a key frame (a viewer who just came in needs one).
    pub fn request_keyframe(&self) {
        let s = gst::Structure::builder("GstForceKeyUnit")
            .field("all-headers", true)
            .build();
        // Upstream, as a downstream element would ask (not serialised: safe from any thread).
        if let Some(pad) = self.encoder.static_pad("src") {
            let _ = pad.send_event(gst::event::CustomUpstream::new(s));
        }
    }

    /// Whether the mix has reported an error since last asked, and GStreamer's words for it
    /// (the first). Never waits; every other message is read and let go, so none pile up.
    pub fn failure(&self) -> Option<String> {
        let bus = self.pipeline.bus()?;
        let mut first = None;
        while let Some(msg) = bus.pop() {
            if let gst::MessageView::Error(e) = msg.view() {
                first.get_or_insert_with(|| e.error().to_string());
            }
        }
        first
    }

    /// Places the pictures in a grid, in the order they came, each fitted into its cell.
    fn lay_out(&self) {
        let mut pads: Vec<(&String, &Input)> =
            self.inputs.iter().filter(|(_, i)| i.video).collect();
        pads.sort_by_key(|(_, i)| i.order);
        let cells = crate::composite::grid(pads.len(), self.size.0, self.size.1);
        let int = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
        for ((_, input), t) in pads.iter().zip(cells) {
            input.pad.set_property("xpos", int(t.x));
            input.pad.set_property("ypos", int(t.y));
            input.pad.set_property("width", int(t.w));
            input.pad.set_property("height", int(t.h));
        }
    }
}
