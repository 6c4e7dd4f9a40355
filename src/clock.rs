//! Wall-clock time at the edges. Pure code never calls this; drivers read it once per event
//! and pass the value in.

use std::time::{SystemTime, UNIX_EPOCH};

/// Unix time in milliseconds (UTC).
pub fn now_ms() -> i64 {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the system clock is after 1970");
    i64::try_from(d.as_millis()).expect("milliseconds since 1970 fit in i64 until year 292 million")
}

/// RFC 3339 rendering of a Unix-millisecond time, for API responses.
pub fn rfc3339(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    t.format(&time::format_description::well_known::Rfc3339)
        .expect("an in-range UTC time always formats as RFC 3339")
}

/// Parses an RFC 3339 time into Unix milliseconds.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips_at_millisecond_precision() {
        let ms = 1_767_225_600_123;
        assert_eq!(parse_rfc3339(&rfc3339(ms)), Some(ms));
        assert_eq!(
            parse_rfc3339("2026-12-01T09:30:00+08:00"),
            Some(1_796_088_600_000)
        );
        assert_eq!(parse_rfc3339("tomorrow"), None);
    }
}
