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
/// video. H.264 comes in the three profiles cameras send: each is a codec of its own, because
/// a receiver that decodes one may not decode another (RFC 6184: the profile must match).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaCodec {
    /// Opus audio.
    Opus,
    /// VP8 video.
    Vp8,
    /// H.264 video, constrained baseline: every WebRTC receiver decodes it.
    H264,
    /// H.264 video, main profile (cameras; passed through to those who take it).
    H264Main,
    /// H.264 video, high profile (cameras; passed through to those who take it).
    H264High,
}

impl MediaCodec {
    /// Every codec, in the order offered.
    pub const ALL: [Self; 5] = [
        Self::Opus,
        Self::Vp8,
        Self::H264,
        Self::H264Main,
        Self::H264High,
    ];

    /// The codec of a WebRTC mime type (`audio/opus`, `video/VP8`, `video/H264`), if Gavel
    /// forwards it; H.264 is taken as constrained baseline (see [`Self::from_codec`]).
    pub fn from_mime(mime: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|c| c.mime().eq_ignore_ascii_case(mime))
    }

    /// The codec of a negotiated mime type and `fmtp` line: H.264 by the profile of its
    /// `profile-level-id` (the level aside).
    pub fn from_codec(mime: &str, fmtp: &str) -> Option<Self> {
        let c = Self::from_mime(mime)?;
        if c != Self::H264 {
            return Some(c);
        }
        let profile = fmtp
            .split(';')
            .filter_map(|p| p.trim().split_once('='))
            .find(|(k, _)| k.eq_ignore_ascii_case("profile-level-id"))
            .and_then(|(_, v)| v.get(..2))
            .map(str::to_ascii_lowercase);
        // By profile_idc: main (77), high (100, constrained high included).
        Some(match profile.as_deref() {
            Some("4d") => Self::H264Main,
            Some("64") => Self::H264High,
            _ => Self::H264,
        })
    }

    /// The codec of an H.264 profile as GStreamer's `h264parse` names it, if WebRTC receivers
    /// may be offered it as it is.
    pub fn h264_profile(profile: &str) -> Option<Self> {
        match profile {
            "constrained-baseline" | "baseline" => Some(Self::H264),
            "main" => Some(Self::H264Main),
            "high" => Some(Self::H264High),
            _ => None,
        }
    }

    /// What a subscriber that cannot take this codec gets instead (transcoded once, by whoever
    /// publishes it): constrained baseline for the other H.264 profiles.
    pub fn fallback(self) -> Option<Self> {
        match self {
            Self::H264Main | Self::H264High => Some(Self::H264),
            _ => None,
        }
    }

    /// Its WebRTC mime type.
    pub fn mime(self) -> &'static str {
        match self {
            Self::Opus => MIME_TYPE_OPUS,
            Self::Vp8 => MIME_TYPE_VP8,
            Self::H264 | Self::H264Main | Self::H264High => MIME_TYPE_H264,
        }
    }

    /// Audio or video.
    pub fn kind(self) -> MediaKind {
        match self {
            Self::Opus => MediaKind::Audio,
            _ => MediaKind::Video,
        }
    }

    /// The RTP clock rate, Hz.
    pub fn clock_rate(self) -> u32 {
        match self {
            Self::Opus => 48_000,
            _ => 90_000,
        }
    }

    /// The payload type Gavel uses for it on connections it offers.
    pub fn payload_type(self) -> u8 {
        match self {
            Self::Opus => 111,
            Self::Vp8 => 96,
            Self::H264 => 102,
            Self::H264Main => 104,
            Self::H264High => 106,
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
            // Level 5.0: what a receiver may be sent is bounded by its own level, not this.
            Self::H264Main => (
                0,
                "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=4d0032",
            ),
            Self::H264High => (
                0,
                "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=640032",
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
            Self::H264 | Self::H264Main | Self::H264High => (keyframe_detect::h264(payload), None),
            Self::Opus => (false, None),
        }
    }

    /// The codec the recorder (and the transcriber's tap) is set up for.
    pub fn recorder(self) -> RecorderCodec {
        match self {
            Self::Opus => RecorderCodec::Opus,
            Self::Vp8 => RecorderCodec::Vp8,
            Self::H264 | Self::H264Main | Self::H264High => RecorderCodec::H264,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_codec_is_found_by_its_mime_type_and_parameters() {
        for c in MediaCodec::ALL {
            let rtc = c.rtc();
            assert_eq!(
                MediaCodec::from_codec(c.mime(), &rtc.sdp_fmtp_line),
                Some(c)
            );
            assert_eq!(
                MediaCodec::from_codec(&c.mime().to_uppercase(), &rtc.sdp_fmtp_line),
                Some(c)
            );
            assert_eq!(rtc.clock_rate, c.clock_rate());
        }
        assert_eq!(MediaCodec::from_mime("video/AV1"), None);
        // Chrome's own H.264 lines: the level does not matter, the profile does.
        let h = |fmtp| MediaCodec::from_codec("video/H264", fmtp);
        assert_eq!(
            h("packetization-mode=1;profile-level-id=64001f"),
            Some(MediaCodec::H264High)
        );
        assert_eq!(
            h("profile-level-id=4D0028;packetization-mode=1"),
            Some(MediaCodec::H264Main)
        );
        assert_eq!(h("profile-level-id=42e01f"), Some(MediaCodec::H264));
        assert_eq!(
            h("profile-level-id=640c1f"),
            Some(MediaCodec::H264High),
            "constrained high"
        );
        assert_eq!(h(""), Some(MediaCodec::H264));
    }

    #[test]
    fn camera_profiles_map_to_codecs_and_fall_back_to_constrained_baseline() {
        assert_eq!(MediaCodec::h264_profile("high"), Some(MediaCodec::H264High));
        assert_eq!(MediaCodec::h264_profile("main"), Some(MediaCodec::H264Main));
        assert_eq!(MediaCodec::h264_profile("baseline"), Some(MediaCodec::H264));
        assert_eq!(MediaCodec::h264_profile("high-10"), None);
        for c in [MediaCodec::H264Main, MediaCodec::H264High] {
            assert_eq!(c.fallback(), Some(MediaCodec::H264));
        }
        for c in [MediaCodec::H264, MediaCodec::Vp8, MediaCodec::Opus] {
            assert_eq!(c.fallback(), None);
        }
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
