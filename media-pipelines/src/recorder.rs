//! One published track recorded as received: RTP into `appsrc`, jitter buffer, depayloader,
//! parser, Matroska, in segments of bounded length (`splitmuxsink`), so a crash loses at most
//! the open segment's unflushed tail and every closed segment is complete on disk.
//!
//! Nothing is transcoded. [`TrackRecorder::push`] never blocks the caller (the SFU's forwarding
//! task): `appsrc` holds a bounded queue and drops the oldest data when the pipeline falls
//! behind, which the bus reports. Bus messages become [`PipelineEvent`]s on a channel.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

use crate::PipelineEvent;
use crate::timeline::RtpTimeline;

/// What a recorder records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// Opus audio (clock 48 kHz).
    Opus,
    /// VP8 video (clock 90 kHz).
    Vp8,
    /// H.264 video (clock 90 kHz).
    H264,
}

impl Codec {
    /// The codec of a WebRTC mime type (`audio/opus`, `video/VP8`, `video/H264`).
    pub fn from_mime(mime: &str) -> Option<Self> {
        match mime.to_ascii_lowercase().as_str() {
            "audio/opus" => Some(Self::Opus),
            "video/vp8" => Some(Self::Vp8),
            "video/h264" => Some(Self::H264),
            _ => None,
        }
    }

    pub(crate) fn caps(self, payload_type: u8) -> String {
        let (media, clock, name) = match self {
            Self::Opus => ("audio", 48_000, "OPUS"),
            Self::Vp8 => ("video", 90_000, "VP8"),
            Self::H264 => ("video", 90_000, "H264"),
        };
        format!(
            "application/x-rtp,media={media},clock-rate={clock},encoding-name={name},payload={payload_type}"
        )
    }

    /// RTP clock rate and the usual span of one packet (20 ms of Opus, a 30-fps frame).
    pub(crate) fn clock(self) -> (u32, u32) {
        match self {
            Self::Opus => (48_000, 960),
            Self::Vp8 | Self::H264 => (90_000, 3000),
        }
    }

    fn mux_pad(self) -> &'static str {
        match self {
            Self::Opus => "audio_%u",
            Self::Vp8 | Self::H264 => "video",
        }
    }

    fn depay(self) -> &'static str {
        match self {
            Self::Opus => "rtpopusdepay ! opusparse",
            Self::Vp8 => "rtpvp8depay",
            Self::H264 => "rtph264depay ! h264parse",
        }
    }
}

/// Why a recorder could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecorderError {
    /// GStreamer is missing or a plugin is not installed.
    #[error("gstreamer: {0}")]
    Gst(String),
    /// The directory cannot be written.
    #[error("recording directory {0}: {1}")]
    Dir(PathBuf, std::io::Error),
}

/// Most bytes of RTP queued in `appsrc` before the oldest are dropped (about 10 s of 720p).
const MAX_QUEUED_BYTES: u64 = 2 * 1024 * 1024;

/// Feeds RTP into a [`TrackRecorder`] (or a listener); cheap to clone (clones share one
/// timeline), never blocks.
#[derive(Debug, Clone)]
pub struct Tap {
    src: gst_app::AppSrc,
    timeline: Arc<Mutex<RtpTimeline>>,
}

impl Tap {
    /// A tap into `src`, an `appsrc` taking RTP with `clock_rate` whose packets usually span
    /// `frame` clock units.
    pub(crate) fn new(src: gst_app::AppSrc, clock_rate: u32, frame: u32) -> Self {
        Self {
            src,
            timeline: Arc::new(Mutex::new(RtpTimeline::new(clock_rate, frame))),
        }
    }

    /// Queues one RTP packet, placed on the track's timeline (one SSRC, continuous sequence
    /// and timestamps, a time that never runs backwards); false when the pipeline is gone. A
    /// packet too short to be RTP is dropped.
    pub fn push(&self, mut rtp: Vec<u8>) -> bool {
        if rtp.len() < 12 || rtp[0] >> 6 != 2 {
            return true;
        }
        let word = |i: usize| u32::from_be_bytes([rtp[i], rtp[i + 1], rtp[i + 2], rtp[i + 3]]);
        let (seq, ts, ssrc) = (u16::from_be_bytes([rtp[2], rtp[3]]), word(4), word(8));
        let now = self
            .src
            .current_running_time()
            .map_or(Duration::ZERO, |t| Duration::from_nanos(t.nseconds()));
        let stamp = self
            .timeline
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .stamp(now, ssrc, seq, ts);
        rtp[2..4].copy_from_slice(&stamp.seq.to_be_bytes());
        rtp[4..8].copy_from_slice(&stamp.ts.to_be_bytes());
        rtp[8..12].copy_from_slice(&stamp.ssrc.to_be_bytes());
        let mut buffer = gst::Buffer::from_mut_slice(rtp);
        {
            let b = buffer.get_mut().expect("a new buffer has one owner");
            let pts = gst::ClockTime::from_nseconds(
                u64::try_from(stamp.pts.as_nanos()).unwrap_or(u64::MAX),
            );
            b.set_pts(pts);
            b.set_dts(pts);
        }
        self.src.push_buffer(buffer).is_ok()
    }
}

/// A running recording of one track.
#[derive(Debug)]
pub struct TrackRecorder {
    pipeline: gst::Pipeline,
    src: gst_app::AppSrc,
    tap: Tap,
    events: mpsc::Receiver<PipelineEvent>,
    /// Tells the bus thread to end.
    stop: Arc<AtomicBool>,
    /// The running time (ns) at which the muxer wants its next key frame; `u64::MAX`: none
    /// (cleared when a segment opens).
    keyframe_at: Arc<AtomicU64>,
    /// When a key frame was last asked for (running time, ns).
    keyframe_asked: AtomicU64,
}

impl TrackRecorder {
    /// Starts recording RTP of `codec` (payload type `payload_type`) into `dir`, in segments
    /// named `<prefix>-00000.mkv`, each at most `segment` long.
    pub fn start(
        dir: &Path,
        prefix: &str,
        codec: Codec,
        payload_type: u8,
        segment: Duration,
    ) -> Result<Self, RecorderError> {
        gst::init().map_err(|e| RecorderError::Gst(e.to_string()))?;
        std::fs::create_dir_all(dir).map_err(|e| RecorderError::Dir(dir.to_owned(), e))?;
        // Only fixed element names go into the description; paths and sizes are set as
        // properties, so nothing in them can change the pipeline.
        let desc = format!(
            "splitmuxsink name=mux muxer-factory=matroskamux send-keyframe-requests=true \
             appsrc name=src ! rtpjitterbuffer latency=200 mode=synced ! {depay} \
             ! queue name=guard ! mux.{pad}",
            depay = codec.depay(),
            pad = codec.mux_pad(),
        );
        let pipeline = gst::parse::launch(&desc)
            .map_err(|e| RecorderError::Gst(e.to_string()))?
            .downcast::<gst::Pipeline>()
            .map_err(|_| RecorderError::Gst("not a pipeline".into()))?;
        let mux = pipeline
            .by_name("mux")
            .ok_or_else(|| RecorderError::Gst("no splitmuxsink".into()))?;
        let location = dir.join(format!("{prefix}-%05d.mkv"));
        mux.set_property("location", location.to_string_lossy().as_ref());
        mux.set_property(
            "max-size-time",
            u64::try_from(segment.as_nanos()).unwrap_or(u64::MAX),
        );
        let src = pipeline
            .by_name("src")
            .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
            .ok_or_else(|| RecorderError::Gst("no appsrc".into()))?;
        live_rtp_input(&src, &codec.caps(payload_type), MAX_QUEUED_BYTES)?;
        if let Some(pad) = pipeline.by_name("guard").and_then(|q| q.static_pad("sink")) {
            guard_time(&pad, codec);
        }
        let keyframe_at = Arc::new(AtomicU64::new(u64::MAX));
        if let Some(pad) = pipeline.by_name("guard").and_then(|q| q.static_pad("src")) {
            note_keyframe_requests(&pad, keyframe_at.clone());
        }
        let (clock, frame) = codec.clock();
        let tap = Tap::new(src.clone(), clock, frame);
        let (tx, rx) = mpsc::channel();
        let bus = pipeline
            .bus()
            .ok_or_else(|| RecorderError::Gst("no bus".into()))?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let opened = keyframe_at.clone();
        std::thread::Builder::new()
            .name("gavel-recorder-bus".into())
            .spawn(move || watch(&bus, &tx, &stopped, &opened))
            .map_err(|e| RecorderError::Gst(e.to_string()))?;
        pipeline
            .set_state(gst::State::Playing)
            .map_err(|e| RecorderError::Gst(e.to_string()))?;
        Ok(Self {
            pipeline,
            src,
            tap,
            events: rx,
            stop,
            keyframe_at,
            keyframe_asked: AtomicU64::new(0),
        })
    }

    /// Whether the muxer's time for a new segment has come and it still waits for the key
    /// frame to start one: true about once a second until the segment opens (an ask can be
    /// lost, or held back by the publisher's rate limit). Why: a browser sends key frames only
    /// when asked, and `splitmuxsink` cuts only at one, so without asking a video segment
    /// would run on far past its length (and a crash would lose more).
    pub fn keyframe_due(&self) -> bool {
        let at = self.keyframe_at.load(Ordering::Relaxed);
        if at == u64::MAX {
            return false;
        }
        let now = self.src.current_running_time().map_or(0, |t| t.nseconds());
        let asked = self.keyframe_asked.load(Ordering::Relaxed);
        if now < at || (asked != 0 && now < asked.saturating_add(1_000_000_000)) {
            return false;
        }
        self.keyframe_asked.store(now.max(1), Ordering::Relaxed);
        true
    }

    /// Queues one RTP packet (its bytes as received). Never blocks; false when the pipeline
    /// is gone.
    pub fn push(&self, rtp: Vec<u8>) -> bool {
        self.tap.push(rtp)
    }

    /// A handle that feeds this recorder from another thread (the SFU's forwarding task),
    /// while the recorder itself stays with its owner.
    pub fn tap(&self) -> Tap {
        self.tap.clone()
    }

    /// What the pipeline reported since the last call.
    pub fn events(&self) -> Vec<PipelineEvent> {
        self.events.try_iter().collect()
    }

    /// Ends the recording: flushes and closes the open segment, then stops. Returns every
    /// event up to the end (at most `timeout` is waited for).
    pub fn finish(self, timeout: Duration) -> Vec<PipelineEvent> {
        let _ = self.src.end_of_stream();
        let mut out = Vec::new();
        let deadline = std::time::Instant::now() + timeout;
        while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
            match self.events.recv_timeout(left) {
                Ok(ev) => {
                    let done = matches!(ev, PipelineEvent::Finished | PipelineEvent::Failed { .. });
                    out.push(ev);
                    if done {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
        let _ = self.pipeline.set_state(gst::State::Null);
        out
    }
}

impl Drop for TrackRecorder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

/// Sets up `src` as a live RTP input with `caps` (its [`Tap`] stamps each packet's time) that,
/// holding at most `max_bytes`, drops the oldest data rather than ever blocking whoever pushes
/// (the SFU's forwarding task).
pub(crate) fn live_rtp_input(
    src: &gst_app::AppSrc,
    caps: &str,
    max_bytes: u64,
) -> Result<(), RecorderError> {
    let caps = caps
        .parse::<gst::Caps>()
        .map_err(|e| RecorderError::Gst(e.to_string()))?;
    src.set_caps(Some(&caps));
    src.set_is_live(true);
    src.set_format(gst::Format::Time);
    src.set_do_timestamp(false);
    src.set_max_bytes(max_bytes);
    src.set_leaky_type(gst_app::AppLeakyType::Downstream);
    Ok(())
}

/// Notes the running time at which `splitmuxsink` asks upstream for a key frame (its
/// `GstForceKeyUnit` event), for [`TrackRecorder::keyframe_due`].
fn note_keyframe_requests(pad: &gst::Pad, at: Arc<AtomicU64>) {
    pad.add_probe(gst::PadProbeType::EVENT_UPSTREAM, move |_, info| {
        if let Some(gst::PadProbeData::Event(ev)) = &info.data
            && let Some(s) = ev.structure()
            && s.name() == "GstForceKeyUnit"
        {
            // No time given (GStreamer's "none"): now.
            let when = s.get::<u64>("running-time").unwrap_or(0);
            let when = if when == u64::MAX { 0 } else { when };
            at.store(when, Ordering::Relaxed);
        }
        gst::PadProbeReturn::Ok
    });
}

/// How long a video frame is taken to show when the depayloader does not say (one frame at
/// 30 fps). Why: a segment whose frames all share one time (a key frame just before the end)
/// would otherwise have no length, and Matroska readers then take the frame's time since the
/// start of the recording as the file's duration.
const VIDEO_FRAME: gst::ClockTime = gst::ClockTime::from_mseconds(33);

/// The last line of defence before the muxer, which fails the whole recording on time going
/// backwards: an audio buffer earlier than the one before is dropped, a video buffer is given
/// the time before (the timeline makes both all but impossible; each is logged). A video frame
/// without a duration is given [`VIDEO_FRAME`].
fn guard_time(pad: &gst::Pad, codec: Codec) {
    // The last time let through, in nanoseconds (one streaming thread: relaxed is enough).
    let last = std::sync::atomic::AtomicU64::new(0);
    pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
        let Some(gst::PadProbeData::Buffer(buffer)) = info.data.as_mut() else {
            return gst::PadProbeReturn::Ok;
        };
        let Some(pts) = buffer.pts() else {
            return gst::PadProbeReturn::Ok;
        };
        let before = gst::ClockTime::from_nseconds(last.load(Ordering::Relaxed));
        if codec != Codec::Opus && buffer.duration().is_none() {
            buffer.make_mut().set_duration(VIDEO_FRAME);
        }
        if pts < before {
            gst::warning!(
                gst::CAT_DEFAULT,
                obj = pad,
                "time went back {} at the recorder",
                before - pts
            );
            if codec == Codec::Opus {
                return gst::PadProbeReturn::Drop;
            }
            let b = buffer.make_mut();
            b.set_pts(before);
            b.set_dts(before);
        } else {
            last.store(pts.nseconds(), Ordering::Relaxed);
        }
        gst::PadProbeReturn::Ok
    });
}

/// Turns bus messages into events until the pipeline ends, fails, or its recorder is dropped.
fn watch(
    bus: &gst::Bus,
    tx: &mpsc::Sender<PipelineEvent>,
    stop: &AtomicBool,
    keyframe_at: &AtomicU64,
) {
    use gst::MessageView;
    // Running time at which the open segment started.
    let mut opened = Duration::ZERO;
    while !stop.load(Ordering::Relaxed) {
        let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(250)) else {
            continue;
        };
        let ev = match msg.view() {
            MessageView::Eos(_) => Some(PipelineEvent::Finished),
            MessageView::Error(e) => Some(PipelineEvent::Failed {
                reason: e.error().to_string(),
            }),
            MessageView::Element(e) => e.structure().and_then(|s| {
                let at = Duration::from_nanos(s.get::<u64>("running-time").unwrap_or(0));
                match s.name().as_str() {
                    "splitmuxsink-fragment-opened" => {
                        opened = at;
                        // The key frame asked for up to now came (a request for a later cut,
                        // made as this segment began, stays).
                        let asked = keyframe_at.load(Ordering::Relaxed);
                        let nanos = u64::try_from(at.as_nanos()).unwrap_or(u64::MAX);
                        if asked != u64::MAX && asked <= nanos {
                            let _ = keyframe_at.compare_exchange(
                                asked,
                                u64::MAX,
                                Ordering::Relaxed,
                                Ordering::Relaxed,
                            );
                        }
                        None
                    }
                    "splitmuxsink-fragment-closed" => {
                        s.get::<String>("location")
                            .ok()
                            .map(|path| PipelineEvent::SegmentClosed {
                                path,
                                span: (opened, at.max(opened)),
                            })
                    }
                    _ => None,
                }
            }),
            MessageView::StateChanged(s)
                if s.current() == gst::State::Playing
                    && msg
                        .src()
                        .is_some_and(|src| src.type_().is_a(gst::Pipeline::static_type())) =>
            {
                Some(PipelineEvent::Started)
            }
            _ => None,
        };
        if let Some(ev) = ev {
            let end = matches!(ev, PipelineEvent::Finished | PipelineEvent::Failed { .. });
            if tx.send(ev).is_err() || end {
                return;
            }
        }
    }
}
