//! The SDP fragments of trickle ICE (RFC 8840, `application/trickle-ice-sdpfrag`) as WHIP
//! encoders send them: the ICE credentials, then per media section its `a=mid` and candidates.
//! Pure: parsed and bounded here, applied by the session.

/// Longest line taken (a candidate line is well under this).
const MAX_LINE: usize = 1024;

/// Candidates one fragment may carry.
const MAX_IN_FRAGMENT: usize = 32;

/// One trickled candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Candidate {
    /// `candidate:...` (the attribute without `a=`).
    pub(super) candidate: String,
    /// The media section it belongs to.
    pub(super) mid: Option<String>,
}

/// What a fragment says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Fragment {
    /// `a=ice-ufrag` (a new one asks for an ICE restart).
    pub(super) ufrag: Option<String>,
    /// Its candidates, in order.
    pub(super) candidates: Vec<Candidate>,
}

/// The ICE username fragment of a description (session or first media level).
pub(super) fn ufrag(sdp: &str) -> Option<String> {
    sdp.lines()
        .find_map(|l| l.trim_end().strip_prefix("a=ice-ufrag:"))
        .map(str::to_owned)
}

/// Parses a fragment; an error says what is wrong with it.
pub(super) fn parse(text: &str) -> Result<Fragment, String> {
    let mut out = Fragment::default();
    let mut mid = None;
    for line in text.lines().map(str::trim_end).filter(|l| !l.is_empty()) {
        if line.len() > MAX_LINE {
            return Err("a line of the fragment is too long".into());
        }
        if let Some(u) = line.strip_prefix("a=ice-ufrag:") {
            out.ufrag = Some(u.to_owned());
        } else if let Some(m) = line.strip_prefix("a=mid:") {
            mid = Some(m.to_owned());
        } else if let Some(c) = line.strip_prefix("a=candidate:") {
            if c.split(' ').count() < 8 {
                return Err("not an ICE candidate".into());
            }
            if out.candidates.len() == MAX_IN_FRAGMENT {
                return Err("too many candidates in one fragment".into());
            }
            out.candidates.push(Candidate {
                candidate: format!("candidate:{c}"),
                mid: mid.clone(),
            });
        } else if !(line.starts_with("a=") || line.starts_with("m=")) {
            return Err(format!("not an SDP fragment line: {:.40}", line));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAG: &str = "a=ice-ufrag:EsAw\r\na=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1\r\n\
        m=audio 9 RTP/AVP 0\r\na=mid:0\r\n\
        a=candidate:1387637174 1 udp 2122260223 192.0.2.1 61764 typ host generation 0\r\n\
        m=video 9 RTP/AVP 96\r\na=mid:1\r\n\
        a=candidate:3471623853 1 udp 2122194687 198.51.100.2 61765 typ host generation 0\r\n\
        a=end-of-candidates\r\n";

    #[test]
    fn candidates_are_read_with_their_media_section_and_the_credentials() {
        let f = parse(FRAG).unwrap();
        assert_eq!(f.ufrag.as_deref(), Some("EsAw"));
        assert_eq!(f.candidates.len(), 2);
        assert_eq!(f.candidates[0].mid.as_deref(), Some("0"));
        assert_eq!(f.candidates[1].mid.as_deref(), Some("1"));
        assert!(
            f.candidates[1]
                .candidate
                .starts_with("candidate:3471623853 1 udp")
        );
    }

    #[test]
    fn anything_else_is_refused() {
        assert!(parse("hello").is_err());
        assert!(parse("a=candidate:1 1 udp").is_err());
        assert!(parse(&format!("a=mid:{}", "x".repeat(2000))).is_err());
        let many = "a=candidate:1 1 udp 1 192.0.2.1 1 typ host\n".repeat(33);
        assert!(parse(&many).is_err());
        assert_eq!(parse("").unwrap(), Fragment::default());
    }

    #[test]
    fn the_ufrag_of_an_offer_is_found() {
        assert_eq!(
            ufrag("v=0\r\na=ice-ufrag:abcd\r\n").as_deref(),
            Some("abcd")
        );
        assert_eq!(ufrag("v=0\r\n"), None);
    }
}
