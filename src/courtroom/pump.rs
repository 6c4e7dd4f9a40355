//! Moves a running ingest's packets into the device's published tracks, on a thread of its own
//! (the ingest hands packets over a standard channel, from GStreamer's threads), and says why it
//! stopped: the device's stream failed or fell silent, or the device is no longer wanted.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use gavel_media_pipelines::ingest::{Ingest, Packet, Part};
use rtc::shared::marshal::Unmarshal;
use tokio_util::sync::CancellationToken;

use crate::sfu::track::PublishedTrack;

/// A device that sends nothing for this long is lost (a camera that hung, a cable pulled: the
/// RTSP connection may stay up and say nothing).
const SILENCE: Duration = Duration::from_secs(4);

/// How often the pipeline's bus is looked at between packets.
const BUS_EVERY: Duration = Duration::from_millis(100);

/// Why the pump stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Stopped {
    /// The device is no longer wanted (removed, or its hearing is over).
    Cancelled,
    /// The stream could not be had, or failed: GStreamer's error, end of stream, or silence.
    Lost(String),
    /// The stream ran, then failed (a drop: worth trying again at once).
    Dropped(String),
}

/// The device's tracks, by part.
pub(super) struct Tracks {
    pub(super) video: Option<Arc<PublishedTrack>>,
    pub(super) audio: Option<Arc<PublishedTrack>>,
}

/// Pumps until the stream stops or `cancel` fires. Runs on a blocking thread; `rt` drives the
/// (asynchronous) writes to subscribers.
pub(super) fn pump(
    ingest: &Ingest,
    rx: &Receiver<Packet>,
    tracks: &Tracks,
    cancel: &CancellationToken,
    rt: &tokio::runtime::Handle,
) -> Stopped {
    let mut heard = Instant::now();
    let mut bus_at = Instant::now();
    loop {
        if cancel.is_cancelled() {
            return Stopped::Cancelled;
        }
        match rx.recv_timeout(BUS_EVERY) {
            Ok(p) => {
                heard = Instant::now();
                let track = match p.part {
                    Part::Video => tracks.video.as_ref(),
                    Part::Audio => tracks.audio.as_ref(),
                };
                if let Some(track) = track
                    && let Ok(packet) = rtc::rtp::Packet::unmarshal(&mut p.rtp.as_slice())
                {
                    rt.block_on(track.push(packet));
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                return Stopped::Lost("the ingest pipeline stopped".into());
            }
        }
        if bus_at.elapsed() >= BUS_EVERY {
            bus_at = Instant::now();
            if let Some(why) = ingest.failure() {
                return Stopped::Lost(why);
            }
        }
        if heard.elapsed() >= SILENCE {
            return Stopped::Lost(format!("no media for {} s", SILENCE.as_secs()));
        }
    }
}
