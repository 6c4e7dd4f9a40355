//! A courtroom device's media, made ready for the SFU: its RTSP stream pulled and turned into
//! the RTP WebRTC receivers take, H.264 (constrained baseline, no B-frames) and Opus, with
//! Gavel's payload types.
//!
//! Each part takes the path [`crate::rtsp::probe`] found for it, read from the stream itself:
//! - **pass-through**: H.264 without B-frames is re-payloaded, never decoded
//!   (`rtph264depay ! h264parse ! rtph264pay config-interval=-1`), in the camera's profile: no
//!   added delay, nothing lost;
//! - **transcode**: anything else is decoded and encoded once (`x264enc tune=zerolatency
//!   bframes=0`, a key frame every second; AAC, G.711 and the rest to Opus).
//!
//! Opus passes through too; its level (what makes the courtroom an active speaker) is measured
//! on a decoded copy, never re-encoded.
//!
//! A camera's main or high profile is not one every receiver decodes: with a `fallback` payload
//! type in the plan, the pass-through also feeds a constrained-baseline rendition, transcoded
//! once for all who need it, and only while someone does ([`Ingest::set_fallback`]; it starts
//! at the camera's next key frame).
//!
//! Packets go to the owner through a bounded channel; a full channel drops the packet and
//! counts it (the SFU never waits on a camera, and a camera never waits on the SFU).

mod paths;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, sync_channel};

use gstreamer as gst;
use gstreamer::prelude::*;

use crate::rtsp::{RtspError, RtspSource};
use paths::{FALLBACK_ENC, branch, discard};
pub(crate) use paths::{Out, packet_sink};

/// How one part of a device's stream reaches the hearing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// Re-payloaded as it comes.
    PassThrough,
    /// Decoded and encoded once.
    Transcode,
}

/// Which part of the stream a packet belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The video (H.264).
    Video,
    /// The audio (Opus).
    Audio,
    /// The video's constrained-baseline rendition, for receivers that cannot take the
    /// camera's profile (only while [`Ingest::set_fallback`] asks for it).
    Fallback,
}

/// One RTP packet for the SFU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// Video or audio.
    pub part: Part,
    /// The whole RTP packet (header and payload).
    pub rtp: Vec<u8>,
}

/// What the ingest is asked to do.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// The video's path (`None`: the device's video is not taken).
    pub video: Option<Path>,
    /// The audio's path (`None`: not taken).
    pub audio: Option<Path>,
    /// Payload type of the H.264 packets out.
    pub video_pt: u8,
    /// Payload type of the Opus packets out.
    pub audio_pt: u8,
    /// Passed-through video in a profile not every receiver takes: the payload type of its
    /// constrained-baseline rendition (`None`: no rendition).
    pub fallback_pt: Option<u8>,
}

/// Packets queued for the owner before new ones are dropped (about a second of 1080p30).
const QUEUE: usize = 1024;

/// RTP packets out are at most this many bytes (they are forwarded inside SRTP over UDP).
const MTU: u32 = 1200;

/// A running ingest of one device; stops when dropped.
#[derive(Debug)]
pub struct Ingest {
    pipeline: gst::Pipeline,
    dropped: Arc<AtomicU64>,
    refusal: crate::tls_pin::PinRefusal,
    /// What lets the camera's frames into the fallback rendition's transcoder.
    gate: Arc<Gate>,
}

/// The fallback rendition's gate: shut, nothing is decoded; opened, it lets frames through
/// from the next key frame (a decoder started mid-picture would show garbage until then).
#[derive(Debug, Default)]
struct Gate {
    open: std::sync::atomic::AtomicBool,
    awaiting_key: std::sync::atomic::AtomicBool,
}

impl Gate {
    /// Whether a buffer passes (`delta`: not a key frame).
    fn passes(&self, delta: bool) -> bool {
        // Acquire: a gate seen open is seen awaiting its key frame, as it was set before.
        if !self.open.load(Ordering::Acquire) {
            return false;
        }
        if self.awaiting_key.load(Ordering::Acquire) {
            if delta {
                return false;
            }
            self.awaiting_key.store(false, Ordering::Release);
        }
        true
    }

    /// Opens (from the next key frame) or shuts the gate.
    fn set(&self, open: bool) {
        if open && !self.open.load(Ordering::Acquire) {
            self.awaiting_key.store(true, Ordering::Release);
        }
        self.open.store(open, Ordering::Release);
    }
}

impl Drop for Ingest {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

impl Ingest {
    /// Starts pulling `src` as `plan` says; the packets arrive on the returned receiver.
    pub fn start(src: &RtspSource, plan: Plan) -> Result<(Self, Receiver<Packet>), RtspError> {
        let gst_err = |e: &dyn std::fmt::Display| RtspError::Gst(e.to_string());
        gst::init().map_err(|e| gst_err(&e))?;
        let pipeline = gst::Pipeline::new();
        let (rtspsrc, refusal) = crate::rtsp::source_element(src)?;
        pipeline.add(&rtspsrc).map_err(|e| gst_err(&e))?;
        let (tx, rx) = sync_channel(QUEUE);
        let dropped = Arc::new(AtomicU64::new(0));
        let gate = Arc::new(Gate::default());
        let bin = pipeline.downgrade();
        let counter = dropped.clone();
        let fallback_gate = gate.clone();
        rtspsrc.connect_pad_added(move |_, pad| {
            let Some(pipeline) = bin.upgrade() else {
                return;
            };
            let Some((media, _)) = crate::rtsp::pad_media(pad) else {
                return;
            };
            let (part, path, pt) = match media.as_str() {
                "video" => (Part::Video, plan.video, plan.video_pt),
                "audio" => (Part::Audio, plan.audio, plan.audio_pt),
                _ => (Part::Video, None, 0),
            };
            let out = Out {
                tx: tx.clone(),
                dropped: counter.clone(),
            };
            let fallback = (part == Part::Video && path == Some(Path::PassThrough))
                .then_some(plan.fallback_pt)
                .flatten()
                .map(|pt| (pt, fallback_gate.clone()));
            let result = match path {
                Some(path) => branch(&pipeline, pad, part, path, pt, &out, fallback),
                None => discard(&pipeline, pad),
            };
            if let Err(e) = result {
                gst::warning!(gst::CAT_DEFAULT, "ingest: {e}");
            }
        });
        pipeline
            .set_state(gst::State::Playing)
            .map_err(|e| gst_err(&e))?;
        Ok((
            Self {
                pipeline,
                dropped,
                refusal,
                gate,
            },
            rx,
        ))
    }

    /// Makes the fallback rendition (from the camera's next key frame), or stops making it;
    /// nothing without a `fallback_pt` in the plan.
    pub fn set_fallback(&self, on: bool) {
        self.gate.set(on);
    }

    /// Packets dropped because the owner did not keep up.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Whether the audio is transcoded (an Opus encoder runs): all but Opus is.
    pub fn transcodes_audio(&self) -> bool {
        self.pipeline
            .iterate_recurse()
            .into_iter()
            .flatten()
            .any(|e| e.factory().is_some_and(|f| f.name() == "opusenc"))
    }

    /// Whether the video is being transcoded now: its path is, or its fallback rendition is
    /// being made.
    pub fn transcodes_video(&self) -> bool {
        self.gate.open.load(Ordering::Relaxed)
            || self
                .pipeline
                .iterate_recurse()
                .into_iter()
                .flatten()
                .any(|e| {
                    e.factory().is_some_and(|f| f.name() == "x264enc") && e.name() != FALLBACK_ENC
                })
    }

    /// Whether the stream has failed or ended since last asked, and GStreamer's words for it
    /// (which never hold the credentials: they are element properties, not in the URL). Never
    /// waits: the owner asks between packets, and rebuilds on `Some`.
    pub fn failure(&self) -> Option<String> {
        self.watch().0
    }

    /// What the bus says since last asked: a failure (as [`Ingest::failure`]), and the
    /// loudest sound level heard, as RFC 6464 has it (0 loudest .. 127 silence), which makes
    /// a courtroom an active speaker like anyone. Never waits.
    pub fn watch(&self) -> (Option<String>, Option<u8>) {
        let Some(bus) = self.pipeline.bus() else {
            return (None, None);
        };
        let mut level: Option<u8> = None;
        let types = [
            gst::MessageType::Error,
            gst::MessageType::Eos,
            gst::MessageType::Element,
        ];
        while let Some(msg) = bus.pop_filtered(&types) {
            match msg.view() {
                gst::MessageView::Element(e) => {
                    if let Some(l) = e.structure().and_then(rfc6464_level) {
                        level = Some(level.map_or(l, |m| m.min(l)));
                    }
                }
                _ if self.refusal.refused() => {
                    return (Some(RtspError::CertificateRefused.to_string()), level);
                }
                gst::MessageView::Error(e) => return (Some(e.error().to_string()), level),
                _ => return (Some("the device ended its stream".to_owned()), level),
            }
        }
        (None, level)
    }
}

/// A `level` message's loudest channel as an RFC 6464 level (dBov, negated, 0..127).
fn rfc6464_level(s: &gst::StructureRef) -> Option<u8> {
    if s.name() != "level" {
        return None;
    }
    let rms = s.get::<gst::glib::ValueArray>("rms").ok()?;
    let loudest = rms
        .iter()
        .filter_map(|v| v.get::<f64>().ok())
        .fold(f64::NEG_INFINITY, f64::max);
    // Saturating float-to-int conversion: silence (-inf dB) is 127.
    Some((-loudest).clamp(0.0, 127.0) as u8)
}
