//! What an offer asks to publish, and whether the role may: pure SDP inspection.
//!
//! Only the m-lines, their direction attributes and their msid track ids matter: an `audio`
//! section the client sends on (`sendonly`/`sendrecv`, the default) needs `publish_audio`, a
//! `video` section `publish_video`, or `publish_screen` when the client names its track a
//! screen share. Observers may offer receive-only sections but never send. Parsing is
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
    /// Sections sending camera video.
    pub video: usize,
    /// Sections sending a screen share.
    pub screen: usize,
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
    /// The role may not share its screen.
    #[error("your role may not share a screen")]
    Screen,
    /// A track named as a screen share is not a video track the offer sends.
    #[error("a screen share names no video track of the offer")]
    UnknownScreenTrack,
}

/// One media section as far as the policy cares.
#[derive(Debug, Default)]
struct Section<'a> {
    kind: &'a str,
    sending: bool,
    stated: bool,
    track: Option<&'a str>,
}

/// The track ids (`a=msid`) of the sections `sdp` sends on: what a publisher still publishes
/// after a renegotiation (a stopped track's section turns receive-only or inactive).
pub fn sending_tracks(sdp: &str) -> Result<Vec<String>, OfferRefusal> {
    Ok(sections(sdp)?
        .iter()
        .filter(|s| s.sending)
        .filter_map(|s| s.track.map(str::to_owned))
        .collect())
}

/// Counts the sending sections of `sdp`; video sections whose track is in `screen` count as
/// screen shares.
pub fn sends(sdp: &str, screen: &[String]) -> Result<Sends, OfferRefusal> {
    let sections = sections(sdp)?;
    let mut out = Sends::default();
    for s in sections.iter().filter(|s| s.sending) {
        match s.kind {
            "audio" => out.audio += 1,
            "video" if s.track.is_some_and(|t| screen.iter().any(|x| x == t)) => out.screen += 1,
            "video" => out.video += 1,
            _ => {}
        }
    }
    let named = |t: &String| {
        sections
            .iter()
            .any(|s| s.sending && s.kind == "video" && s.track == Some(t.as_str()))
    };
    if !screen.iter().all(named) {
        return Err(OfferRefusal::UnknownScreenTrack);
    }
    Ok(out)
}

/// The media sections of `sdp`, bounded in number.
fn sections(sdp: &str) -> Result<Vec<Section<'_>>, OfferRefusal> {
    if !sdp.starts_with("v=0") {
        return Err(OfferRefusal::Unreadable);
    }
    let mut sections: Vec<Section<'_>> = Vec::new();
    for line in sdp.lines() {
        let line = line.trim_end();
        if let Some(rest) = line.strip_prefix("m=") {
            if sections.len() == MAX_MEDIA_SECTIONS {
                return Err(OfferRefusal::TooManySections);
            }
            sections.push(Section {
                kind: rest.split(' ').next().unwrap_or(""),
                sending: true,
                ..Section::default()
            });
        } else if let Some(section) = sections.last_mut() {
            if let Some(msid) = line.strip_prefix("a=msid:") {
                section.track = msid.split(' ').nth(1);
            }
            let sending = match line {
                "a=recvonly" | "a=inactive" => Some(false),
                "a=sendonly" | "a=sendrecv" => Some(true),
                _ => None,
            };
            if let Some(sending) = sending {
                // WebRTC stacks read the first one; a second is an attempt to confuse a check.
                if section.stated {
                    return Err(OfferRefusal::AmbiguousDirection);
                }
                section.stated = true;
                section.sending = sending;
            }
        }
    }
    Ok(sections)
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

/// Rewrites the server's own description for 1:1 NAT: every host candidate, and every
/// connection line, names `ip` instead of the bound address, so clients send to the public
/// address the NAT forwards to us. Other candidate types and lines are left as they are.
pub fn announce(sdp: &str, ip: std::net::IpAddr) -> String {
    let family = if ip.is_ipv4() { "IP4" } else { "IP6" };
    sdp.split_inclusive('\n')
        .map(|line| {
            let body = line.trim_end_matches(['\r', '\n']);
            let end = &line[body.len()..];
            if let Some(rest) = body.strip_prefix("a=candidate:") {
                let mut f: Vec<&str> = rest.split(' ').collect();
                // foundation component transport priority address port "typ" type ...
                if f.len() >= 8 && f[6] == "typ" && f[7] == "host" {
                    let ip = ip.to_string();
                    f[4] = &ip;
                    return format!("a=candidate:{}{end}", f.join(" "));
                }
            } else if body.starts_with("c=IN ") {
                return format!("c=IN {family} {ip}{end}");
            }
            line.to_owned()
        })
        .collect()
}

/// Whether a client's trickled candidate may be used: one the server could sensibly send
/// connectivity checks to. Link-local addresses (which include cloud metadata services) are
/// never used, and loopback only when the server itself serves on loopback. Host names (mDNS
/// `.local` names) pass: the server does not resolve them.
pub fn candidate_allowed(candidate: &str, allow_loopback: bool) -> bool {
    let Some(addr) = candidate.split(' ').nth(4) else {
        return false;
    };
    match addr.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(ip)) => {
            !ip.is_link_local() && (allow_loopback || !ip.is_loopback())
        }
        Ok(std::net::IpAddr::V6(ip)) => {
            (ip.segments()[0] & 0xffc0) != 0xfe80 && (allow_loopback || !ip.is_loopback())
        }
        Err(_) => true,
    }
}

/// Checks that `role` may publish what `sdp` offers to send (`screen`: the tracks it names as
/// screen shares).
pub fn check(role: Role, sdp: &str, screen: &[String]) -> Result<Sends, OfferRefusal> {
    let s = sends(sdp, screen)?;
    let caps = capabilities(role);
    if s.audio > 0 && !caps.allows(Capability::PublishAudio) {
        return Err(OfferRefusal::Audio);
    }
    if s.video > 0 && !caps.allows(Capability::PublishVideo) {
        return Err(OfferRefusal::Video);
    }
    // A second "camera" is how a screen share would come in unlabelled: one camera only for
    // roles that may not present.
    if (s.screen > 0 || s.video > 1) && !caps.allows(Capability::PublishScreen) {
        return Err(OfferRefusal::Screen);
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
        assert_eq!(
            sends(OFFER, &[]),
            Ok(Sends {
                audio: 1,
                video: 1,
                screen: 0
            })
        );
        let recv = OFFER
            .replace("a=sendrecv", "a=recvonly")
            .replace("a=sendonly", "a=inactive");
        assert_eq!(sends(&recv, &[]), Ok(Sends::default()));
    }

    #[test]
    fn a_named_video_track_is_a_screen_share_and_needs_its_capability() {
        let with_screen =
            format!("{OFFER}m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:2\r\na=msid:s exhibit\r\n");
        let screen = ["exhibit".to_owned()];
        assert_eq!(
            sends(&with_screen, &screen),
            Ok(Sends {
                audio: 1,
                video: 1,
                screen: 1
            })
        );
        assert!(check(Role::Party, &with_screen, &screen).is_ok());
        assert_eq!(
            check(Role::Witness, &with_screen, &screen),
            Err(OfferRefusal::Screen),
            "witnesses present no evidence themselves"
        );
        assert_eq!(
            check(Role::Witness, &with_screen, &[]),
            Err(OfferRefusal::Screen),
            "an unlabelled second video is no way round it"
        );
        let one_camera = OFFER.to_owned();
        assert!(check(Role::Witness, &one_camera, &[]).is_ok());
        assert_eq!(
            sends(OFFER, &["ghost".to_owned()]),
            Err(OfferRefusal::UnknownScreenTrack)
        );
    }

    #[test]
    fn an_observer_may_not_send_but_a_party_may() {
        assert_eq!(check(Role::Observer, OFFER, &[]), Err(OfferRefusal::Audio));
        assert!(check(Role::Party, OFFER, &[]).is_ok());
        let video_only = OFFER.replace("m=audio", "m=application");
        assert_eq!(
            check(Role::Observer, &video_only, &[]),
            Err(OfferRefusal::Video)
        );
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
    fn the_announced_address_replaces_the_bound_one_in_host_candidates() {
        let sdp = "v=0\r\nc=IN IP4 10.0.0.5\r\n\
                   a=candidate:1 1 udp 2130706431 10.0.0.5 40001 typ host\r\n\
                   a=candidate:2 1 udp 1694498815 198.51.100.9 40001 typ srflx raddr 10.0.0.5 rport 40001\r\n\
                   a=mid:0\r\n";
        let out = announce(sdp, "203.0.113.7".parse().unwrap());
        assert_eq!(
            out,
            "v=0\r\nc=IN IP4 203.0.113.7\r\n\
             a=candidate:1 1 udp 2130706431 203.0.113.7 40001 typ host\r\n\
             a=candidate:2 1 udp 1694498815 198.51.100.9 40001 typ srflx raddr 10.0.0.5 rport 40001\r\n\
             a=mid:0\r\n"
        );
        assert_eq!(
            announce("a=candidate:x\r\n", "203.0.113.7".parse().unwrap()),
            "a=candidate:x\r\n"
        );
    }

    #[test]
    fn link_local_and_foreign_loopback_candidates_are_not_used() {
        let c = |addr: &str| format!("candidate:1 1 udp 2130706431 {addr} 5000 typ host");
        assert!(candidate_allowed(&c("192.0.2.10"), false));
        assert!(candidate_allowed(&c("abc.local"), false), "mDNS names pass");
        assert!(
            !candidate_allowed(&c("169.254.169.254"), true),
            "metadata service"
        );
        assert!(!candidate_allowed(&c("fe80::1"), true));
        assert!(!candidate_allowed(&c("127.0.0.1"), false));
        assert!(
            candidate_allowed(&c("127.0.0.1"), true),
            "a server on loopback"
        );
        assert!(!candidate_allowed("candidate:1 1 udp", true), "truncated");
    }

    #[test]
    fn a_section_with_two_directions_is_refused() {
        let sneaky = OFFER.replace("a=sendrecv", "a=sendrecv\r\na=recvonly");
        assert_eq!(sends(&sneaky, &[]), Err(OfferRefusal::AmbiguousDirection));
    }

    #[test]
    fn garbage_and_huge_offers_are_refused() {
        assert_eq!(sends("hello", &[]), Err(OfferRefusal::Unreadable));
        let many = format!("v=0\r\n{}", "m=audio 9 RTP 111\r\n".repeat(9));
        assert_eq!(sends(&many, &[]), Err(OfferRefusal::TooManySections));
    }
}
