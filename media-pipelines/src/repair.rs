//! Repairing a segment left open by a crash: the muxer never wrote its duration or index, so
//! players guess its length. Remuxing it (`matroskademux ! matroskamux`, nothing transcoded)
//! writes a complete file holding every frame that reached the disk, and tells how long it is.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gstreamer as gst;
use gstreamer::prelude::*;

use crate::recorder::{Codec, RecorderError};

/// Remuxes the cut-short Matroska file `src` (one track of `codec`) into a complete file at `dst` (which it creates
/// or replaces) and returns the media's duration. Fails when `src` holds no readable media or
/// the remux takes longer than `timeout`; `src` is never changed.
pub fn remux(
    src: &Path,
    dst: &Path,
    codec: Codec,
    timeout: Duration,
) -> Result<Duration, RecorderError> {
    let gst_err = |e: &dyn std::fmt::Display| RecorderError::Gst(e.to_string());
    gst::init().map_err(|e| gst_err(&e))?;
    let pipeline = gst::parse::launch(&format!(
        "filesrc name=src ! matroskademux ! queue name=q ! mux.{pad} \
             matroskamux name=mux ! filesink name=sink",
        pad = if codec == Codec::Opus {
            "audio_%u"
        } else {
            "video_%u"
        }
    ))
    .map_err(|e| gst_err(&e))?
    .downcast::<gst::Pipeline>()
    .map_err(|_| RecorderError::Gst("not a pipeline".into()))?;
    let by_name = |name: &str| {
        pipeline
            .by_name(name)
            .ok_or_else(|| RecorderError::Gst(format!("no {name}")))
    };
    by_name("src")?.set_property("location", src.to_string_lossy().as_ref());
    by_name("sink")?.set_property("location", dst.to_string_lossy().as_ref());
    // The first frame's start and the last frame's end: the file's duration.
    let span = Arc::new(Mutex::new(None::<(gst::ClockTime, gst::ClockTime)>));
    let seen = span.clone();
    by_name("q")?
        .static_pad("src")
        .ok_or_else(|| RecorderError::Gst("no queue pad".into()))?
        .add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            if let Some(buf) = info.buffer()
                && let Some(pts) = buf.pts()
            {
                let stop = pts + buf.duration().unwrap_or(gst::ClockTime::ZERO);
                if let Ok(mut s) = seen.lock() {
                    *s = Some(s.map_or((pts, stop), |(a, b)| (a.min(pts), b.max(stop))));
                }
            }
            gst::PadProbeReturn::Ok
        });
    crate::run_to_end(&pipeline, timeout, "the repair")?;
    let span = span.lock().ok().and_then(|s| *s);
    span.map(|(a, b)| Duration::from_nanos(b.nseconds().saturating_sub(a.nseconds())))
        .ok_or_else(|| RecorderError::Gst("the file holds no media".into()))
}
