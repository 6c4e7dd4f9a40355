//! What an offer asks to publish, and whether the role may: pure SDP inspection.
//!
//! Only the m-lines and their direction attributes matter: an `audio` section the client sends
//! on (`sendonly`/`sendrecv`, the default) needs `publish_audio`, a `video` section
//! `publish_video`. Observers may offer receive-only sections but never send. Parsing is
//! line-based and bounded; anything unreadable is refused rather than guessed.

use crate::domain::role::capabilities;
use crate::domain::{Capability, Role};

/// Most m-lines accepted in one offer (audio, camera, screen share, with room to spare).
pub const MAX_MEDIA_SECTIONS: usize = 8;

/// What the offer would send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sends {
    /// Sections sending audio.
    pub audio: usize,
    /// Sections sending video.
    pub video: usize,
}

/// Why an offer was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OfferRefusal {
    /// Not an SDP offer we can read.
    #[error("the offer is not a readable SDP description")]
    Unreadable,
    /// More media sections than allowed.
    #[error("the offer has too many media sections")]
    TooManySections,
    /// The role may not send audio.
    #[error("your role may not send audio")]
    Audio,
    /// The role may not send video.
    #[error("your role may not send video")]
    Video,
    /// A media section states its direction more than once.
    #[error("a media section has more than one direction attribute")]
    AmbiguousDirection,
}

/// Counts the sending sections of `sdp`.
pub fn sends(sdp: &str) -> Result<Sends, OfferRefusal> {
    if !sdp.starts_with("v=0") {
        return Err(OfferRefusal::Unreadable);
    }
    let mut out = Sends::default();
    let mut sections = 0;
    // (kind, sending) of the section being read, and whether it stated a direction yet
    let mut current: Option<(&str, bool)> = None;
    let mut stated = false;
    let close = |cur: Option<(&str, bool)>, out: &mut Sends| {
        if let Some((kind, true)) = cur {
            match kind {
                "audio" => out.audio += 1,
                "video" => out.video += 1,
                _ => {}
            }
        }
    };
    for line in sdp.lines() {
        let line = line.trim_end();
        if let Some(rest) = line.strip_prefix("m=") {
            close(current, &mut out);
            sections += 1;
            if sections > MAX_MEDIA_SECTIONS {
                return Err(OfferRefusal::TooManySections);
            }
            let kind = rest.split(' ').next().unwrap_or("");
            current = Some((kind, true));
            stated = false;
        } else if let Some((kind, _)) = current {
            let sending = match line {
                "a=recvonly" | "a=inactive" => Some(false),
                "a=sendonly" | "a=sendrecv" => Some(true),
                _ => None,
            };
            if let Some(sending) = sending {
                // WebRTC stacks read the first one; a second is an attempt to confuse a check.
                if stated {
                    return Err(OfferRefusal::AmbiguousDirection);
                }
                stated = true;
                current = Some((kind, sending));
            }
        }
    }
    close(current, &mut out);
    Ok(out)
}

/// The id the description assigns to header extension `uri` (`a=extmap:<id> <uri>`).
pub fn extmap_id(sdp: &str, uri: &str) -> Option<u8> {
    sdp.lines().find_map(|line| {
        let rest = line.trim_end().strip_prefix("a=extmap:")?;
        let (id, rest) = rest.split_once(' ')?;
        let id = id.split('/').next()?.parse::<u8>().ok()?;
        (rest.split(' ').next()? == uri && (1..=14).contains(&id)).then_some(id)
    })
}

/// Checks that `role` may publish what `sdp` offers to send.
pub fn check(role: Role, sdp: &str) -> Result<Sends, OfferRefusal> {
    let s = sends(sdp)?;
    let caps = capabilities(role);
    if s.audio > 0 && !caps.allows(Capability::PublishAudio) {
        return Err(OfferRefusal::Audio);
    }
    if s.video > 0 && !caps.allows(Capability::PublishVideo) {
        return Err(OfferRefusal::Video);
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFER: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=sendrecv\r\n\
        m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\na=sendonly\r\n";

    #[test]
    fn sending_sections_are_counted_and_receive_only_ones_are_not() {
        assert_eq!(sends(OFFER), Ok(Sends { audio: 1, video: 1 }));
        let recv = OFFER
            .replace("a=sendrecv", "a=recvonly")
            .replace("a=sendonly", "a=inactive");
        assert_eq!(sends(&recv), Ok(Sends::default()));
    }

    #[test]
    fn an_observer_may_not_send_but_a_party_may() {
        assert_eq!(check(Role::Observer, OFFER), Err(OfferRefusal::Audio));
        assert!(check(Role::Party, OFFER).is_ok());
        let video_only = OFFER.replace("m=audio", "m=application");
        assert_eq!(check(Role::Observer, &video_only), Err(OfferRefusal::Video));
    }

    #[test]
    fn extension_ids_are_found_by_uri() {
        let sdp = "v=0\r\na=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n\
                   a=extmap:3/sendonly http://example/x\r\na=extmap:99 urn:bad\r\n";
        assert_eq!(
            extmap_id(sdp, "urn:ietf:params:rtp-hdrext:ssrc-audio-level"),
            Some(1)
        );
        assert_eq!(extmap_id(sdp, "http://example/x"), Some(3));
        assert_eq!(
            extmap_id(sdp, "urn:bad"),
            None,
            "ids beyond 14 are not one-byte ids"
        );
        assert_eq!(extmap_id(sdp, "urn:none"), None);
    }

    #[test]
    fn a_section_with_two_directions_is_refused() {
        let sneaky = OFFER.replace("a=sendrecv", "a=sendrecv\r\na=recvonly");
        assert_eq!(sends(&sneaky), Err(OfferRefusal::AmbiguousDirection));
    }

    #[test]
    fn garbage_and_huge_offers_are_refused() {
        assert_eq!(sends("hello"), Err(OfferRefusal::Unreadable));
        let many = format!("v=0\r\n{}", "m=audio 9 RTP 111\r\n".repeat(9));
        assert_eq!(sends(&many), Err(OfferRefusal::TooManySections));
    }
}
