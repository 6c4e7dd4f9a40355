//! A published track whose publisher is on the media plane: made and forwarded in the plane's
//! thread (`crate::sfu::plane::uplink`).

use std::sync::Arc;

use super::{Origin, PublishedTrack};
use crate::domain::{ParticipantId, TrackKey};
use crate::sfu::codec::MediaCodec;
use crate::sfu::plane::{IncomingTrack, Plane, UplinkPacket};
use crate::sfu::simulcast::LayerMap;

/// Where the media plane's thread hands a publisher's track's packets: the track's own
/// forwarding, run in that thread (see [`Origin::Plane`]).
#[derive(Debug)]
pub struct PlaneTrackSink {
    track: Arc<PublishedTrack>,
    map: LayerMap,
}

impl crate::sfu::plane::TrackSink for PlaneTrackSink {
    fn take(&mut self, event: UplinkPacket) {
        self.track.handle(&mut self.map, event);
    }
}

impl Drop for PlaneTrackSink {
    fn drop(&mut self) {
        if let Origin::Plane { gone, .. } = &self.track.origin {
            gone.cancel();
        }
    }
}

impl PublishedTrack {
    /// A track a publisher on the media plane sends, whose packets go to its
    /// [`Self::plane_sink`]; `None` for a codec Gavel does not forward.
    pub fn from_plane(
        publisher: ParticipantId,
        key: TrackKey,
        incoming: IncomingTrack,
        plane: Plane,
        runtime: tokio::runtime::Handle,
    ) -> Option<Self> {
        let media =
            MediaCodec::from_codec(&incoming.codec.mime_type, &incoming.codec.sdp_fmtp_line)?;
        let origin = Origin::Plane {
            plane,
            at: incoming.at,
            media_ssrc: incoming.ssrc,
            runtime,
            gone: tokio_util::sync::CancellationToken::new(),
        };
        Some(Self::build(publisher, key, media, incoming.codec, origin))
    }

    /// Where the plane hands this track's packets (a track from [`Self::from_plane`]).
    pub fn plane_sink(self: &Arc<Self>) -> PlaneTrackSink {
        PlaneTrackSink {
            track: self.clone(),
            map: LayerMap::default(),
        }
    }
}
