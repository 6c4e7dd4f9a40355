//! A publisher's incoming WebRTC track made into a [`PublishedTrack`], and its forwarding run:
//! the same for a browser's publish connection and a WHIP encoder's.

use std::sync::Arc;

use gavel_signaling::MediaKind;
use webrtc::media_stream::track_remote::TrackRemote;

use super::codec::MediaCodec;
use super::link::{MediaEvent, RoomLink};
use super::track::PublishedTrack;
use crate::domain::{ParticipantId, TrackKey};

/// Numbers tracks across every publisher of this server.
fn next_key() -> TrackKey {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    TrackKey::new(format!(
        "t{}",
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ))
}

/// `remote`, from `publisher`, as a published track; `None` for a codec Gavel does not forward.
/// Returns the client's own track id with it (screen shares are named by it). `level_ext` is the
/// audio-level extension id the offer negotiated; `screen`, the offer's screen-share track ids.
pub async fn accept(
    publisher: ParticipantId,
    remote: Arc<dyn TrackRemote>,
    level_ext: Option<u8>,
    screen: &[String],
) -> Option<(String, Arc<PublishedTrack>)> {
    let ssrc = remote.ssrcs().await.first().copied()?;
    let codec = remote.codec(ssrc).await?;
    // Only codecs Gavel registered are negotiated; anything else is not forwarded.
    let Some(media) = MediaCodec::from_codec(&codec.mime_type, &codec.sdp_fmtp_line) else {
        tracing::warn!(mime = %codec.mime_type, "a track of a codec Gavel does not forward");
        return None;
    };
    let level_ext = (media.kind() == MediaKind::Audio)
        .then_some(level_ext)
        .flatten();
    let client_id = remote.track_id().await;
    let is_screen = screen.contains(&client_id);
    // Server-assigned keys: a client's own track ids repeat across reconnections and end up in
    // every subscriber's SDP.
    let track = PublishedTrack::new(publisher, next_key(), media, codec, remote, ssrc)
        .with_level_extension(level_ext)
        .screen_share(is_screen);
    tracing::info!(source = ?track.source, "track published");
    Some((client_id, Arc::new(track)))
}

/// A track a publisher on the media plane began to send, as a published track; as
/// [`accept`]. Called in the plane's thread: `runtime` is for what the track must wait for.
pub fn accept_plane(
    publisher: ParticipantId,
    incoming: crate::sfu::plane::IncomingTrack,
    plane: crate::sfu::plane::Plane,
    runtime: tokio::runtime::Handle,
    level_ext: Option<u8>,
    screen: &[String],
) -> Option<(String, Arc<PublishedTrack>)> {
    let level_ext = (incoming.kind == MediaKind::Audio)
        .then_some(level_ext)
        .flatten();
    let client_id = incoming.track_id.clone();
    let is_screen = screen.contains(&client_id);
    let mime = incoming.codec.mime_type.clone();
    let Some(track) = PublishedTrack::from_plane(publisher, next_key(), incoming, plane, runtime)
    else {
        tracing::warn!(%mime, "a track of a codec Gavel does not forward");
        return None;
    };
    let track = track
        .with_level_extension(level_ext)
        .screen_share(is_screen);
    tracing::info!(source = ?track.source, "track published");
    Some((client_id, Arc::new(track)))
}

/// Reports `track` to the room and forwards it until its publisher stops sending it; then
/// reports it gone.
pub async fn run(room: RoomLink, track: Arc<PublishedTrack>) {
    // Published before the forwarding task can end and report Unpublished.
    room.send_media(MediaEvent::Published(track.clone())).await;
    let span = tracing::info_span!("forward", track = %track.key);
    tokio::spawn(tracing::Instrument::instrument(
        async move {
            track.clone().forward().await;
            room.send_media(MediaEvent::Unpublished(track)).await;
        },
        span,
    ));
}
