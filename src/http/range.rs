//! What the file endpoints do with a `Range` header (RFC 9110 §14.2): one byte range is
//! served as asked; a malformed header, or one asking for several ranges, is ignored and the
//! whole file served (players never ask for more than one, and multipart answers are not
//! worth their cost); a range that starts past the end is refused (416, with the length).
//!
//! Pure: told the header and the file's length, never touches the request or the disk.

/// The longest `Range` header read; a longer one is ignored as malformed.
const MAX_HEADER: usize = 256;

/// What to do with a request's `Range` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeAsk {
    /// Serve the whole file (no header, a malformed one, or several ranges).
    Whole,
    /// One satisfiable range, as first and last byte (inclusive, clamped to the file): served
    /// as `bytes=first-last`, the form every server reads alike.
    Part(u64, u64),
    /// One range, outside the file: 416.
    Unsatisfiable,
}

/// Judges `header` (the `Range` value, if any) against a file of `size` bytes.
pub fn judge(header: Option<&[u8]>, size: u64) -> RangeAsk {
    let Some(text) = header
        .filter(|h| h.len() <= MAX_HEADER)
        .and_then(|h| std::str::from_utf8(h).ok())
    else {
        return RangeAsk::Whole;
    };
    let Some((unit, set)) = text.trim().split_once('=') else {
        return RangeAsk::Whole;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") || set.contains(',') {
        return RangeAsk::Whole;
    }
    match parse_spec(set.trim()) {
        None => RangeAsk::Whole,
        Some(Spec::From(first, last)) if first < size => {
            RangeAsk::Part(first, last.unwrap_or(u64::MAX).min(size - 1))
        }
        // The last `len` bytes, or the whole file when it is shorter (a player asking for the
        // last 64 KiB to find the cues of a short segment).
        Some(Spec::Suffix(len)) if len > 0 && size > 0 => {
            RangeAsk::Part(size - len.min(size), size - 1)
        }
        Some(_) => RangeAsk::Unsatisfiable,
    }
}

/// One range-spec.
enum Spec {
    /// `first-` or `first-last`.
    From(u64, Option<u64>),
    /// `-len`: the last `len` bytes.
    Suffix(u64),
}

fn parse_spec(spec: &str) -> Option<Spec> {
    let (first, last) = spec.split_once('-')?;
    let number = |s: &str| {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u64>().ok())
            .flatten()
    };
    if first.is_empty() {
        return number(last).map(Spec::Suffix);
    }
    let first = number(first)?;
    let last = match last {
        "" => None,
        l => Some(number(l).filter(|l| *l >= first)?),
    };
    Some(Spec::From(first, last))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judged(h: &str, size: u64) -> RangeAsk {
        judge(Some(h.as_bytes()), size)
    }

    #[test]
    fn one_range_inside_the_file_is_served_as_asked_in_canonical_form() {
        for (h, want) in [
            ("bytes=0-", (0, 99)),
            ("bytes=0-99", (0, 99)),
            ("bytes=99-99", (99, 99)),
            ("bytes=5-1000", (5, 99)),
            ("bytes=-10", (90, 99)),
            ("bytes=-65536", (0, 99)),
            ("BYTES = 3-", (3, 99)),
            ("bytes=00-", (0, 99)),
        ] {
            assert_eq!(judged(h, 100), RangeAsk::Part(want.0, want.1), "{h}");
        }
    }

    #[test]
    fn a_range_past_the_end_is_refused() {
        for h in [
            "bytes=100-",
            "bytes=999999999-",
            "bytes=100-200",
            "bytes=-0",
        ] {
            assert_eq!(judged(h, 100), RangeAsk::Unsatisfiable, "{h}");
        }
        assert_eq!(judged("bytes=-5", 0), RangeAsk::Unsatisfiable);
    }

    #[test]
    fn malformed_or_several_ranges_are_ignored() {
        let many = format!("bytes={}", vec!["0-1"; 1000].join(","));
        for h in [
            "bytes=abc",
            "bytes=",
            "bytes=-",
            "bytes=5-3",
            "bytes=1-2-3",
            "items=0-5",
            "bytes 0-5",
            "bytes=0-1,5-6",
            "bytes=+1-",
            "bytes=99999999999999999999999-",
            many.as_str(),
        ] {
            assert_eq!(judged(h, 100), RangeAsk::Whole, "{h}");
        }
        assert_eq!(judge(None, 100), RangeAsk::Whole);
        assert_eq!(judge(Some(&[0xff, 0xfe]), 100), RangeAsk::Whole);
    }
}
