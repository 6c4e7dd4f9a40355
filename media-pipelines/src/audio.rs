//! Audio as the transcriber hears it: any file GStreamer can decode, as 16 kHz mono f32
//! samples (Whisper's input). Used for materials recorded outside a hearing (`gavel
//! transcribe`); the live path taps the SFU instead.

use std::path::Path;
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

use crate::recorder::RecorderError;

/// Whisper's sample rate.
pub const RATE: u32 = 16_000;

/// Decodes `path` into 16 kHz mono samples, at most `max` of audio (longer files are an
/// error, not a truncated transcript). Fails when the file holds no audio.
pub fn decode_16k_mono(path: &Path, max: Duration) -> Result<Vec<f32>, RecorderError> {
    let gst_err = |e: &dyn std::fmt::Display| RecorderError::Gst(e.to_string());
    gst::init().map_err(|e| gst_err(&e))?;
    let pipeline = gst::parse::launch(
        "filesrc name=src ! decodebin ! audioconvert ! audioresample \
         ! audio/x-raw,format=F32LE,rate=16000,channels=1,layout=interleaved \
         ! appsink name=sink sync=false",
    )
    .map_err(|e| gst_err(&e))?
    .downcast::<gst::Pipeline>()
    .map_err(|_| RecorderError::Gst("not a pipeline".into()))?;
    pipeline
        .by_name("src")
        .ok_or_else(|| RecorderError::Gst("no filesrc".into()))?
        .set_property("location", path.to_string_lossy().as_ref());
    let sink = pipeline
        .by_name("sink")
        .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
        .ok_or_else(|| RecorderError::Gst("no appsink".into()))?;
    let limit = max.as_secs_f64() as usize * RATE as usize;
    let outcome = (|| {
        pipeline
            .set_state(gst::State::Playing)
            .map_err(|e| gst_err(&e))?;
        let mut samples = Vec::new();
        // Decoding runs far faster than real time; this only bounds a stuck decoder.
        let deadline = Instant::now() + Duration::from_secs(30) + max / 4;
        loop {
            if Instant::now() > deadline {
                return Err(RecorderError::Gst("decoding took too long".into()));
            }
            match sink.try_pull_sample(gst::ClockTime::from_mseconds(200)) {
                Some(sample) => {
                    let buffer = sample
                        .buffer()
                        .ok_or_else(|| RecorderError::Gst("an empty sample".into()))?;
                    let map = buffer.map_readable().map_err(|e| gst_err(&e))?;
                    samples.extend(
                        map.chunks_exact(4)
                            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
                    );
                    if samples.len() > limit {
                        return Err(RecorderError::Gst(format!(
                            "the audio is longer than {} s",
                            max.as_secs()
                        )));
                    }
                }
                None if sink.is_eos() => return Ok(samples),
                None => {
                    if let Some(msg) = pipeline
                        .bus()
                        .and_then(|b| b.pop_filtered(&[gst::MessageType::Error]))
                        && let gst::MessageView::Error(e) = msg.view()
                    {
                        return Err(gst_err(&e.error()));
                    }
                }
            }
        }
    })();
    let _ = pipeline.set_state(gst::State::Null);
    let samples = outcome?;
    if samples.is_empty() {
        return Err(RecorderError::Gst("the file holds no audio".into()));
    }
    Ok(samples)
}
