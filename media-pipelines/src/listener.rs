//! The transcriber's ear on one participant: their Opus RTP (as the SFU receives it) decoded
//! to 16 kHz mono f32, with each block's time since the listener started. Like the recorder,
//! feeding it never blocks the SFU: `appsrc` holds a bounded queue and drops the oldest data
//! if the listener falls behind.

use std::time::Duration;

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

use crate::recorder::{RecorderError, Tap};

/// Most RTP bytes queued before the oldest are dropped (about a minute of Opus).
const MAX_QUEUED_BYTES: u64 = 512 * 1024;

/// Decoded audio: where it starts (since the listener started) and its samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Pcm {
    /// Time since the listener started.
    pub at: Duration,
    /// 16 kHz mono samples.
    pub samples: Vec<f32>,
}

/// A running decoder of one Opus track.
#[derive(Debug)]
pub struct Listener {
    pipeline: gst::Pipeline,
    sink: gst_app::AppSink,
    /// Feeds the `appsrc` (the only handle kept to it).
    tap: Tap,
}

impl Listener {
    /// Starts decoding Opus RTP of `payload_type`.
    pub fn start(payload_type: u8) -> Result<Self, RecorderError> {
        let gst_err = |e: &dyn std::fmt::Display| RecorderError::Gst(e.to_string());
        gst::init().map_err(|e| gst_err(&e))?;
        let pipeline = gst::parse::launch(
            "appsrc name=src ! rtpjitterbuffer latency=200 mode=synced ! rtpopusdepay ! opusdec plc=true \
             ! audioconvert ! audioresample \
             ! audio/x-raw,format=F32LE,rate=16000,channels=1,layout=interleaved \
             ! appsink name=sink sync=false max-buffers=1000",
        )
        .map_err(|e| gst_err(&e))?
        .downcast::<gst::Pipeline>()
        .map_err(|_| RecorderError::Gst("not a pipeline".into()))?;
        let src = pipeline
            .by_name("src")
            .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
            .ok_or_else(|| RecorderError::Gst("no appsrc".into()))?;
        let sink = pipeline
            .by_name("sink")
            .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
            .ok_or_else(|| RecorderError::Gst("no appsink".into()))?;
        crate::recorder::live_rtp_input(
            &src,
            &format!(
                "application/x-rtp,media=audio,clock-rate=48000,encoding-name=OPUS,payload={payload_type}"
            ),
            MAX_QUEUED_BYTES,
        )?;
        pipeline
            .set_state(gst::State::Playing)
            .map_err(|e| gst_err(&e))?;
        Ok(Self {
            tap: Tap::new(src, 48_000, 960),
            pipeline,
            sink,
        })
    }

    /// A handle that feeds this listener from the SFU's forwarding task.
    pub fn tap(&self) -> Tap {
        self.tap.clone()
    }

    /// The next decoded block, waiting at most `timeout`: `Ok(None)` when none came in time,
    /// an error when the pipeline failed or ended.
    pub fn pull(&self, timeout: Duration) -> Result<Option<Pcm>, RecorderError> {
        let wait = gst::ClockTime::from_nseconds(u64::try_from(timeout.as_nanos()).unwrap_or(0));
        if let Some(sample) = self.sink.try_pull_sample(wait) {
            let Some(buffer) = sample.buffer() else {
                return Ok(None);
            };
            let at = Duration::from_nanos(buffer.pts().map_or(0, gst::ClockTime::nseconds));
            let map = buffer
                .map_readable()
                .map_err(|e| RecorderError::Gst(e.to_string()))?;
            let samples = map
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            return Ok(Some(Pcm { at, samples }));
        }
        if self.sink.is_eos() {
            return Err(RecorderError::Gst("the audio ended".into()));
        }
        if let Some(msg) = self
            .pipeline
            .bus()
            .and_then(|b| b.pop_filtered(&[gst::MessageType::Error]))
            && let gst::MessageView::Error(e) = msg.view()
        {
            return Err(RecorderError::Gst(e.error().to_string()));
        }
        Ok(None)
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}
