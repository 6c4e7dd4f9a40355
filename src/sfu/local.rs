//! The local tracks the SFU sends on: one per subscriber and published track (and per test or
//! load peer), each with one SSRC, and the codec a client sends by default.

use std::sync::Arc;

use gavel_signaling::MediaKind;
use rtc::rtp_transceiver::rtp_sender::RTCRtpCodec;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;

use super::codec::MediaCodec;

/// A local RTP track with one SSRC, for the subscribe side of the SFU and for test and load
/// peers. `stream_id` becomes the msid stream id (Gavel uses the publisher's participant id).
pub fn local_track(
    stream_id: String,
    track_id: String,
    kind: MediaKind,
    codec: RTCRtpCodec,
    ssrc: u32,
) -> Arc<TrackLocalStaticRTP> {
    use rtc::media_stream::MediaStreamTrack;
    use rtc::rtp_transceiver::rtp_sender::{
        RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
    };
    let rtc_kind = match kind {
        MediaKind::Audio => RtpCodecKind::Audio,
        MediaKind::Video => RtpCodecKind::Video,
    };
    Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
        stream_id,
        track_id.clone(),
        track_id,
        rtc_kind,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                ssrc: Some(ssrc),
                ..Default::default()
            },
            codec,
            ..Default::default()
        }],
    )))
}

/// The codec Gavel's clients send by default for `kind`: Opus or VP8 (without parameters:
/// the client's own choice).
pub fn default_codec(kind: MediaKind) -> RTCRtpCodec {
    let codec = match kind {
        MediaKind::Audio => MediaCodec::Opus,
        MediaKind::Video => MediaCodec::Vp8,
    };
    RTCRtpCodec {
        sdp_fmtp_line: String::new(),
        ..codec.rtc()
    }
}
