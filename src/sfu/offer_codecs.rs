//! Which codecs a subscriber is offered for a track, and what its answer took. Pure.
//!
//! The WebRTC stack offers a track only in its own codec, and after a connection's first answer
//! it knows only the codecs of that answer's first section of each kind: a subscriber whose
//! first video was a person's VP8 could then never be offered a courtroom camera's H.264. So
//! every track is offered in its own codec first, then its rendition (a camera's baseline, for
//! a subscriber that cannot take its profile), then every other codec of its kind the
//! subscriber may take: the first answer then says all that the subscriber decodes, and later
//! tracks are offered only what it does.

use gavel_signaling::MediaKind;

use super::codec::MediaCodec;

/// The codecs to offer for a track of codec `own` with `rendition` (if its publisher makes
/// one), to a subscriber that takes `accepted` (`None`: not known yet, before its first
/// answer), in order of preference. Empty: the subscriber can take it in no form.
pub fn to_offer(
    own: MediaCodec,
    rendition: Option<MediaCodec>,
    accepted: Option<&[MediaCodec]>,
) -> Vec<MediaCodec> {
    let takes = |c: &MediaCodec| accepted.is_none_or(|a| a.contains(c));
    let mut out: Vec<MediaCodec> = [Some(own), rendition]
        .into_iter()
        .flatten()
        .filter(takes)
        .collect();
    if out.is_empty() {
        return out;
    }
    for c in MediaCodec::ALL {
        if c.kind() == own.kind() && !out.contains(&c) && takes(&c) {
            out.push(c);
        }
    }
    out
}

/// One section of an answer to Gavel's offer: its `mid`, its kind, and the codecs it took
/// (none when it was refused: port 0). The payload types are Gavel's own (an answer keeps the
/// offer's), so each names one codec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answered {
    /// The section's `a=mid`.
    pub mid: Option<String>,
    /// Audio or video (other sections are skipped).
    pub kind: MediaKind,
    /// The codecs it lists, in its order.
    pub codecs: Vec<MediaCodec>,
}

/// The audio and video sections of `answer`, in order.
pub fn answered(answer: &str) -> Vec<Answered> {
    let mut out: Vec<Answered> = Vec::new();
    // The section being read, if it is audio or video.
    let mut current: Option<usize> = None;
    for line in answer.lines().map(str::trim_end) {
        if let Some(m) = line.strip_prefix("m=") {
            let mut f = m.split_whitespace();
            let kind = match f.next() {
                Some("audio") => Some(MediaKind::Audio),
                Some("video") => Some(MediaKind::Video),
                _ => None,
            };
            let port = f.next().unwrap_or("0");
            let _proto = f.next();
            let codecs = if port == "0" {
                Vec::new()
            } else {
                f.filter_map(|pt| pt.parse::<u8>().ok())
                    .filter_map(|pt| MediaCodec::ALL.into_iter().find(|c| c.payload_type() == pt))
                    .collect()
            };
            // Another kind (data): its lines are not ours to read.
            current = kind.map(|kind| {
                out.push(Answered {
                    mid: None,
                    kind,
                    codecs,
                });
                out.len() - 1
            });
        } else if let (Some(mid), Some(i)) = (line.strip_prefix("a=mid:"), current)
            && out[i].mid.is_none()
        {
            out[i].mid = Some(mid.to_owned());
        }
    }
    out
}

/// The video codecs a subscriber takes, from its first answer: its first video section's.
pub fn accepted_video(sections: &[Answered]) -> Option<Vec<MediaCodec>> {
    sections
        .iter()
        .find(|s| s.kind == MediaKind::Video && !s.codecs.is_empty())
        .map(|s| s.codecs.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use MediaCodec::{H264, H264High, H264Main, Opus, Vp8};

    #[test]
    fn own_codec_first_then_the_rendition_then_the_rest_of_its_kind() {
        assert_eq!(
            to_offer(Vp8, None, None),
            vec![Vp8, H264, H264Main, H264High]
        );
        assert_eq!(
            to_offer(H264High, Some(H264), None),
            vec![H264High, H264, Vp8, H264Main]
        );
        assert_eq!(to_offer(Opus, None, None), vec![Opus]);
    }

    #[test]
    fn once_known_only_what_the_subscriber_takes_and_nothing_it_cannot() {
        let baseline = [Vp8, H264];
        assert_eq!(
            to_offer(H264High, Some(H264), Some(&baseline)),
            vec![H264, Vp8],
            "the rendition, for a subscriber without high profile"
        );
        assert!(to_offer(H264High, None, Some(&baseline)).is_empty());
        assert_eq!(to_offer(Vp8, None, Some(&[Vp8])), vec![Vp8]);
    }

    #[test]
    fn an_answers_sections_say_their_mid_and_codecs() {
        let answer = "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n\
            m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=rtpmap:111 opus/48000/2\r\n\
            m=video 9 UDP/TLS/RTP/SAVPF 96 102 104\r\na=mid:1\r\n\
            m=video 0 UDP/TLS/RTP/SAVPF 106\r\na=mid:2\r\n\
            m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:3\r\n";
        let s = answered(answer);
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].mid.as_deref(), Some("0"));
        assert_eq!(s[1].codecs, vec![Vp8, H264, H264Main]);
        assert!(s[2].codecs.is_empty(), "refused");
        assert_eq!(accepted_video(&s), Some(vec![Vp8, H264, H264Main]));
        assert_eq!(answered("m=video 9 RTP/AVP 5 x\r\n")[0].codecs, vec![]);
    }
}
