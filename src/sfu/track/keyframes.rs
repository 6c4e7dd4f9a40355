//! A published track's key-frame requests: to a peer publisher as an RTCP PLI, to a publisher
//! on the media plane through the plane, paced (`keyframe::Pacer`).

use std::sync::Arc;

use gavel_signaling::MediaKind;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use webrtc::media_stream::track_remote::TrackRemote;

use super::{Origin, PublishedTrack};
use crate::sfu::keyframe::Pace;
use crate::sfu::plane::{Plane, Uplink};

/// Whom a track's key-frame requests go to.
#[derive(Clone)]
pub(super) enum Asker {
    Peer(Arc<dyn TrackRemote>),
    Plane(Plane, Uplink),
}

impl Asker {
    /// Asks for a key frame of each of `ssrcs`.
    async fn ask(&self, ssrcs: &[u32]) {
        match self {
            Self::Peer(remote) => ask_for_keyframes(remote.as_ref(), ssrcs).await,
            Self::Plane(plane, at) => plane.ask_keyframes(*at, ssrcs.to_vec()),
        }
    }

    /// The same without waiting: a peer's request is written by a task on `runtime`.
    fn ask_now(self, runtime: &tokio::runtime::Handle, ssrcs: Vec<u32>) {
        match self {
            Self::Plane(plane, at) => plane.ask_keyframes(at, ssrcs),
            Self::Peer(remote) => {
                runtime.spawn(async move { ask_for_keyframes(remote.as_ref(), &ssrcs).await });
            }
        }
    }
}

impl PublishedTrack {
    /// Asks the publisher for a key frame (a new subscriber needs one to start decoding, or a
    /// subscriber lost one), at most once per `keyframe::MIN_INTERVAL_MS`: one asked for
    /// sooner is sent at the end of the interval (`keyframe::Pacer`). `layers` is a bit mask
    /// of the simulcast layers that need one (ignored for a single-stream track).
    pub async fn request_keyframe(&self, layers: u8) {
        self.request_keyframe_now(layers);
    }

    /// [`Self::request_keyframe`] without waiting (from the media plane's thread, too).
    pub(super) fn request_keyframe_now(&self, layers: u8) {
        let (asker, media_ssrc, runtime) = match &self.origin {
            Origin::Peer { remote, media_ssrc } => {
                let Ok(runtime) = tokio::runtime::Handle::try_current() else {
                    return;
                };
                (Asker::Peer(remote.clone()), *media_ssrc, runtime)
            }
            Origin::Plane {
                plane,
                at,
                media_ssrc,
                runtime,
                ..
            } => (
                Asker::Plane(plane.clone(), *at),
                *media_ssrc,
                runtime.clone(),
            ),
            Origin::Device => return,
        };
        if self.kind != MediaKind::Video {
            return;
        }
        let mut ssrcs: Vec<u32> = (0u8..8)
            .filter(|l| layers & (1 << l) != 0)
            .filter_map(|l| self.layers.ssrc(l))
            .collect();
        if ssrcs.is_empty() {
            ssrcs.push(media_ssrc);
        }
        match self.keyframes.ask() {
            Pace::Now => asker.ask_now(&runtime, ssrcs),
            Pace::Waiting => {}
            Pace::After(wait) => {
                // Every layer: the requests it coalesces may have named others.
                let every: Vec<u32> = (0u8..8).filter_map(|l| self.layers.ssrc(l)).collect();
                if !every.is_empty() {
                    ssrcs = every;
                }
                let pacer = self.keyframes.clone();
                runtime.spawn(async move {
                    // The end of the interval, not a wait for an event.
                    tokio::time::sleep(wait).await;
                    pacer.sent_waiting();
                    asker.ask(&ssrcs).await;
                });
            }
        }
    }
}

/// Sends a picture-loss indication for each of `ssrcs` to their publisher.
async fn ask_for_keyframes(remote: &dyn TrackRemote, ssrcs: &[u32]) {
    for &media_ssrc in ssrcs {
        let pli = PictureLossIndication {
            sender_ssrc: 0,
            media_ssrc,
        };
        let _ = remote.write_rtcp(vec![Box::new(pli)]).await;
    }
}
