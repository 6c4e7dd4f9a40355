//! GStreamer media pipelines for Gavel: per-track recording, the hearing composite, RTSP ingest
//! and the 16 kHz audio tap for transcription.
//!
//! Pipelines report through [`PipelineEvent`] values rather than callbacks into the server, so a
//! failing pipeline degrades one feature and never takes a hearing down.

pub mod audio;
pub mod composite;
pub mod frame_match;
pub mod ingest;
pub mod listener;
pub mod live_mix;
pub mod receiver;
pub mod recorder;
pub mod repair;
pub mod rtsp;
pub mod rtsp_test_server;
pub mod timeline;
pub mod tls_pin;

/// What a pipeline tells its owner; built from GStreamer bus messages.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PipelineEvent {
    /// The pipeline is running and writing.
    Started,
    /// A file segment was closed and is complete on disk.
    SegmentClosed {
        /// Path of the closed segment.
        path: String,
        /// Where its media starts and ends on the pipeline's running time (from when the
        /// pipeline started playing).
        span: (std::time::Duration, std::time::Duration),
    },
    /// The pipeline failed; the owner restarts it and records a fault.
    Failed {
        /// GStreamer's error text (no participant data).
        reason: String,
    },
    /// The pipeline reached end of stream and flushed everything.
    Finished,
}

/// Plays a file-to-file `pipeline` to its end (EOS) within `timeout`, then stops it; `what`
/// names the job in the timeout error.
pub(crate) fn run_to_end(
    pipeline: &gstreamer::Pipeline,
    timeout: std::time::Duration,
    what: &str,
) -> Result<(), recorder::RecorderError> {
    use gstreamer::prelude::*;
    use recorder::RecorderError;
    let bus = pipeline
        .bus()
        .ok_or_else(|| RecorderError::Gst("no bus".into()))?;
    let outcome = (|| {
        pipeline
            .set_state(gstreamer::State::Playing)
            .map_err(|e| RecorderError::Gst(e.to_string()))?;
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline
                .checked_duration_since(std::time::Instant::now())
                .ok_or_else(|| RecorderError::Gst(format!("{what} took too long")))?;
            let wait = gstreamer::ClockTime::from_nseconds(
                u64::try_from(left.as_nanos()).unwrap_or(u64::MAX),
            );
            let Some(msg) = bus.timed_pop(wait) else {
                continue;
            };
            match msg.view() {
                gstreamer::MessageView::Eos(_) => return Ok(()),
                gstreamer::MessageView::Error(e) => {
                    return Err(RecorderError::Gst(format!(
                        "{} ({})",
                        e.error(),
                        e.src().map(|s| s.name().to_string()).unwrap_or_default()
                    )));
                }
                _ => {}
            }
        }
    })();
    let _ = pipeline.set_state(gstreamer::State::Null);
    outcome
}
