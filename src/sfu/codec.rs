//! The codecs Gavel forwards, each fact about one in one place: its WebRTC name, clock rate
//! and parameters, the payload type Gavel offers, how its key frames are told, and the
//! recorder's codec. A published track's codec is resolved to a [`MediaCodec`] once, when it
//! arrives; the forwarding path, the recorder and the transcriber read it from the track.

use gavel_media_pipelines::recorder::Codec as RecorderCodec;
use gavel_signaling::MediaKind;
use rtc::peer_connection::configuration::media_engine::{
    MIME_TYPE_H264, MIME_TYPE_OPUS, MIME_TYPE_VP8,
};
use rtc::rtp_transceiver::rtp_sender::RTCRtpCodec;

use super::keyframe_detect;

/// A codec Gavel forwards: Opus for audio, VP8 and H.264 (phones and e-courtroom cameras) for
/// video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaCodec {
    /// Opus audio.
    Opus,
    /// VP8 video.
    Vp8,
    /// H.264 video (constrained baseline).
    H264,
}

impl MediaCodec {
    /// Every codec, in the order offered.
    pub const ALL: [Self; 3] = [Self::Opus, Self::Vp8, Self::H264];

    /// The codec of a WebRTC mime type (`audio/opus`, `video/VP8`, `video/H264`), if Gavel
    /// forwards it.
    pub fn from_mime(mime: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|c| c.mime().eq_ignore_ascii_case(mime))
    }

    /// Its WebRTC mime type.
    pub fn mime(self) -> &'static str {
        match self {
            Self::Opus => MIME_TYPE_OPUS,
            Self::Vp8 => MIME_TYPE_VP8,
            Self::H264 => MIME_TYPE_H264,
        }
    }

    /// Audio or video.
    pub fn kind(self) -> MediaKind {
        match self {
            Self::Opus => MediaKind::Audio,
            Self::Vp8 | Self::H264 => MediaKind::Video,
        }
    }

    /// The RTP clock rate, Hz.
    pub fn clock_rate(self) -> u32 {
        match self {
            Self::Opus => 48_000,
            Self::Vp8 | Self::H264 => 90_000,
        }
    }

    /// The payload type Gavel uses for it on connections it offers.
    pub fn payload_type(self) -> u8 {
        match self {
            Self::Opus => 111,
            Self::Vp8 => 96,
            Self::H264 => 102,
        }
    }

    /// The codec as registered with the WebRTC stack (channels and `fmtp` parameters).
    pub fn rtc(self) -> RTCRtpCodec {
        let (channels, fmtp) = match self {
            Self::Opus => (2, "minptime=10;useinbandfec=1"),
            Self::Vp8 => (0, ""),
            Self::H264 => (
                0,
                "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
            ),
        };
        RTCRtpCodec {
            mime_type: self.mime().to_owned(),
            clock_rate: self.clock_rate(),
            channels,
            sdp_fmtp_line: fmtp.to_owned(),
            rtcp_feedback: vec![],
        }
    }

    /// Whether an RTP `payload` starts a key frame, and the picture height it declares (VP8
    /// only); audio has no key frames.
    pub fn keyframe(self, payload: &[u8]) -> (bool, Option<u16>) {
        match self {
            Self::Vp8 => (
                keyframe_detect::vp8(payload),
                keyframe_detect::vp8_height(payload),
            ),
            Self::H264 => (keyframe_detect::h264(payload), None),
            Self::Opus => (false, None),
        }
    }

    /// The codec the recorder (and the transcriber's tap) is set up for.
    pub fn recorder(self) -> RecorderCodec {
        match self {
            Self::Opus => RecorderCodec::Opus,
            Self::Vp8 => RecorderCodec::Vp8,
            Self::H264 => RecorderCodec::H264,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_codec_is_found_by_its_mime_type_in_any_case() {
        for c in MediaCodec::ALL {
            assert_eq!(MediaCodec::from_mime(c.mime()), Some(c));
            assert_eq!(MediaCodec::from_mime(&c.mime().to_uppercase()), Some(c));
            assert_eq!(c.rtc().clock_rate, c.clock_rate());
        }
        assert_eq!(MediaCodec::from_mime("video/AV1"), None);
    }

    #[test]
    fn payload_types_are_distinct_and_dynamic() {
        let mut pts: Vec<u8> = MediaCodec::ALL.iter().map(|c| c.payload_type()).collect();
        assert!(pts.iter().all(|pt| (96..=127).contains(pt)));
        pts.sort_unstable();
        pts.dedup();
        assert_eq!(pts.len(), MediaCodec::ALL.len());
    }
}
