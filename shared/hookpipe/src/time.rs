//! Wall-clock times in the two shapes the project uses: RFC 3339 UTC with milliseconds on
//! the wire (`2026-11-24T22:29:14.123Z`) and DevStack's log stamp (`2026-11-24 22:29:14.123`).
//! Hand-written civil-date arithmetic keeps a date crate out of the dependency tree: this is
//! all the calendar the tools need.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_millis() as u64
}

/// Year, month, day from days since 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Formats epoch milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn rfc3339(epoch_ms: u64) -> String {
    let mut out = String::with_capacity(24);
    write_stamp(&mut out, epoch_ms, 'T');
    out.push('Z');
    out
}

/// The current time as [`rfc3339`].
pub fn now_rfc3339() -> String {
    rfc3339(now_ms())
}

/// Appends `YYYY-MM-DD<sep>HH:MM:SS.mmm` to `out`.
pub fn write_stamp(out: &mut String, epoch_ms: u64, sep: char) {
    use std::fmt::Write as _;
    let secs = (epoch_ms / 1000) as i64;
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    let _ = write!(
        out,
        "{year:04}-{month:02}-{day:02}{sep}{:02}:{:02}:{:02}.{:03}",
        sod / 3600,
        sod / 60 % 60,
        sod % 60,
        epoch_ms % 1000
    );
}

/// Appends DevStack's log stamp (`tools/outfilter.py`) for a record's RFC 3339 `time`:
/// `2026-11-24T22:29:14.123Z` becomes `2026-11-24 22:29:14.123`. Returns `false`, writing
/// nothing, when the value is not in the shape our writers produce.
pub fn push_log_stamp(out: &mut String, rfc3339: &str) -> bool {
    match (rfc3339.get(..10), rfc3339.get(11..23)) {
        (Some(date), Some(clock)) if rfc3339.as_bytes()[10] == b'T' => {
            out.push_str(date);
            out.push(' ');
            out.push_str(clock);
            true
        }
        _ => false,
    }
}

/// Parses our own RFC 3339 shape back into epoch milliseconds.
pub fn parse_rfc3339(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    if b.len() < 24 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> { text.get(range)?.parse().ok() };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, min, sec, ms) = (num(11..13)?, num(14..16)?, num(17..19)?, num(20..23)?);
    // days_from_civil, the inverse of civil_from_days.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let total = ((days * 86_400 + hour * 3600 + min * 60 + sec) * 1000) + ms;
    u64::try_from(total).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_795_991_354_123), "2026-11-29T22:29:14.123Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn parse_inverts_format() {
        for ms in [0, 951_782_400_000, 1_795_991_354_123, 4_102_444_799_999] {
            assert_eq!(parse_rfc3339(&rfc3339(ms)), Some(ms));
        }
        assert_eq!(parse_rfc3339("yesterday"), None);
    }

    #[test]
    fn log_stamp_is_devstack_shape() {
        let mut out = String::new();
        assert!(push_log_stamp(&mut out, "2026-11-24T22:29:14.123Z"));
        assert_eq!(out, "2026-11-24 22:29:14.123");
        assert!(!push_log_stamp(&mut out, "soon"));
    }
}
