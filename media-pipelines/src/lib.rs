//! GStreamer media pipelines for Gavel: per-track recording, the hearing composite, RTSP ingest
//! and the 16 kHz audio tap for transcription.
//!
//! Pipelines report through [`PipelineEvent`] values rather than callbacks into the server, so a
//! failing pipeline degrades one feature and never takes a hearing down.

pub mod audio;
pub mod composite;
pub mod listener;
pub mod recorder;
pub mod repair;

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
