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

/// RFC 3339 rendering of a Unix-millisecond time, for API responses. Times outside
/// 1970..=9999 (never stored: [`parse_rfc3339`] refuses them) render as the epoch.
pub fn rfc3339(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned())
}

/// Parses an RFC 3339 time into Unix milliseconds; `None` unless it falls in UTC years
/// 1970..=9999 (so it can always be rendered back).
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    let utc = t.checked_to_offset(time::UtcOffset::UTC)?;
    if !(1970..=9999).contains(&utc.year()) {
        return None;
    }
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
        assert_eq!(parse_rfc3339("0000-01-01T00:00:00+01:00"), None);
        assert_eq!(parse_rfc3339("9999-12-31T23:00:00-05:00"), None);
        assert_eq!(rfc3339(i64::MAX), "1970-01-01T00:00:00Z");
    }
}
