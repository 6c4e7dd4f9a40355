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
    /// The stream ran steadily, then failed (a drop: worth trying again at once).
    Dropped(String),
}

/// How a pump ended.
#[derive(Debug)]
pub(super) struct Pumped {
    /// Why.
    pub(super) stopped: Stopped,
    /// Whether it ran steadily first (media for [`STEADY`]).
    pub(super) steady: bool,
}

/// Media this long without a failure makes a device steady: announced back, and a failure
/// after it a drop (tried again at once) rather than a failed attempt (backed off).
const STEADY: Duration = Duration::from_secs(2);

/// The device's tracks, by part.
pub(super) struct Tracks {
    pub(super) video: Option<Arc<PublishedTrack>>,
    pub(super) audio: Option<Arc<PublishedTrack>>,
}

/// Pumps `first`, then the rest, until the stream stops or `cancel` fires; calls `steady` once
/// the device has sent for [`STEADY`]. Runs on a blocking thread; `rt` drives the
/// (asynchronous) writes to subscribers.
pub(super) fn pump(
    ingest: &Ingest,
    rx: &Receiver<Packet>,
    first: Packet,
    tracks: &Tracks,
    cancel: &CancellationToken,
    rt: &tokio::runtime::Handle,
    steady: impl FnOnce(),
) -> Pumped {
    let started = Instant::now();
    let mut steady = Some(steady);
    let mut heard = Instant::now();
    let mut bus_at = Instant::now();
    let mut next = Some(first);
    let stopped = loop {
        if cancel.is_cancelled() {
            break Stopped::Cancelled;
        }
        let packet = match next.take() {
            Some(p) => Ok(p),
            None => rx.recv_timeout(BUS_EVERY),
        };
        match packet {
            Ok(p) => {
                heard = Instant::now();
                let track = match p.part {
                    Part::Video | Part::Fallback => tracks.video.as_ref(),
                    Part::Audio => tracks.audio.as_ref(),
                };
                if let Some(track) = track
                    && let Ok(packet) = rtc::rtp::Packet::unmarshal(&mut p.rtp.as_slice())
                {
                    if p.part == Part::Fallback {
                        rt.block_on(track.push_fallback(packet));
                    } else {
                        rt.block_on(track.push(packet));
                    }
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                break Stopped::Lost("the ingest pipeline stopped".into());
            }
        }
        if bus_at.elapsed() >= BUS_EVERY {
            bus_at = Instant::now();
            // The baseline rendition is made while someone who cannot take the camera's
            // profile watches.
            if let Some(video) = tracks.video.as_ref() {
                ingest.set_fallback(video.wants_fallback());
            }
            let (failure, level) = ingest.watch();
            if let (Some(level), Some(audio)) = (level, tracks.audio.as_ref()) {
                audio.note_level(level);
            }
            if let Some(why) = failure {
                break Stopped::Lost(why);
            }
        }
        if heard.elapsed() >= SILENCE {
            break Stopped::Lost(format!("no media for {} s", SILENCE.as_secs()));
        }
        if started.elapsed() >= STEADY
            && let Some(say) = steady.take()
        {
            say();
        }
    };
    Pumped {
        stopped,
        steady: steady.is_none(),
    }
}
