//! Timestamps: milliseconds since the Unix epoch, their strict text forms,
//! and the two-sided acceptance window.

use crate::error::{Error, Result, TimestampForm};

fn malformed(text: &str, form: TimestampForm) -> Error {
    Error::TimestampFormat {
        text: text.to_owned(),
        form,
    }
}

/// Parses a millisecond timestamp written as decimal digits only, without
/// leading zeros (so that parsing is injective: one text per value).
///
/// # Errors
/// [`Error::TimestampFormat`] for anything else.
pub fn parse_ms(text: &str) -> Result<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed(text, TimestampForm::Digits));
    }
    if text.len() > 1 && text.starts_with('0') {
        return Err(malformed(text, TimestampForm::LeadingZero));
    }
    text.parse::<u64>()
        .map_err(|_| malformed(text, TimestampForm::TooLarge))
}

/// Parses the 24-character ISO 8601 form JavaScript's `Date.toISOString()`
/// writes: `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC, exactly three fraction digits).
/// Returns milliseconds since the Unix epoch.
///
/// # Errors
/// [`Error::TimestampFormat`] for any other shape or an impossible date.
pub fn parse_iso_ms(text: &str) -> Result<u64> {
    let bad = || malformed(text, TimestampForm::Iso);
    let b = text.as_bytes();
    if b.len() != 24 {
        return Err(bad());
    }
    for (i, sep) in [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'.'),
        (23, b'Z'),
    ] {
        if b[i] != sep {
            return Err(bad());
        }
    }
    let num = |range: std::ops::Range<usize>| -> Result<u64> {
        let part = &text[range];
        if part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse().map_err(|_| bad())
        } else {
            Err(bad())
        }
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second, milli) = (num(11..13)?, num(14..16)?, num(17..19)?, num(20..23)?);
    if year < 1970 || !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return Err(bad());
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Err(bad());
    }
    let days = days_from_civil(year, month, day);
    Ok(((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + milli)
}

/// Formats milliseconds since the epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
#[must_use]
pub fn format_iso_ms(ms: u64) -> String {
    let days = ms / 86_400_000;
    let rem = ms % 86_400_000;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000
    )
}

fn is_leap(year: u64) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

fn days_in_month(year: u64, month: u64) -> u64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's days-from-civil, for years ≥ 1970.
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// How far from the verifier's clock a signed timestamp may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Oldest accepted age, in milliseconds.
    pub max_age_ms: u64,
    /// Furthest accepted distance into the future, in milliseconds.
    pub max_future_ms: u64,
}

impl Window {
    /// ±300 s: signed requests, `X-Auth-Token`, signed payloads.
    pub const SYMMETRIC_300S: Self = Self {
        max_age_ms: 300_000,
        max_future_ms: 300_000,
    };
    /// 300 s old, 60 s ahead: token requests (docs/protocol.md §3).
    pub const TOKEN_REQUEST: Self = Self {
        max_age_ms: 300_000,
        max_future_ms: 60_000,
    };

    /// The longest time a statement can stay inside this window; a replay
    /// record must live at least this long.
    #[must_use]
    pub fn span_ms(&self) -> u64 {
        self.max_age_ms + self.max_future_ms
    }

    /// Checks `timestamp_ms` against the clock `now_ms`.
    ///
    /// # Errors
    /// [`Error::TimestampTooOld`] (saying milliseconds are expected when the
    /// value looks like seconds) or [`Error::TimestampInFuture`].
    pub fn check(&self, timestamp_ms: u64, now_ms: u64) -> Result<()> {
        if timestamp_ms.saturating_add(self.max_age_ms) < now_ms {
            return Err(Error::TimestampTooOld {
                timestamp_ms,
                now_ms,
                max_age_ms: self.max_age_ms,
            });
        }
        if timestamp_ms > now_ms.saturating_add(self.max_future_ms) {
            return Err(Error::TimestampInFuture {
                timestamp_ms,
                now_ms,
                max_future_ms: self.max_future_ms,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_round_trip() {
        for (text, ms) in [
            ("1970-01-01T00:00:00.000Z", 0),
            ("2023-10-27T11:00:00.000Z", 1_698_404_400_000),
            ("2000-02-29T23:59:59.999Z", 951_868_799_999),
        ] {
            assert_eq!(parse_iso_ms(text).unwrap(), ms, "{text}");
            assert_eq!(format_iso_ms(ms), text);
        }
    }

    #[test]
    fn iso_refusals() {
        for text in [
            "not-a-date",
            "2023-10-27T11:00:00Z",
            "2023-10-27T11:00:00.000+00:00",
            "2023-02-29T11:00:00.000Z",
            "2023-13-01T11:00:00.000Z",
            "2023-10-27T24:00:00.000Z",
            "2023-10-27 11:00:00.000Z",
            "+023-10-27T11:00:00.000Z",
        ] {
            assert!(parse_iso_ms(text).is_err(), "{text}");
        }
    }

    #[test]
    fn ms_text_is_strict() {
        assert_eq!(parse_ms("1700000000000").unwrap(), 1_700_000_000_000);
        for text in [
            "",
            "-1",
            "1e12",
            "01700000000000",
            " 1",
            "1.0",
            "99999999999999999999999",
        ] {
            assert!(parse_ms(text).is_err(), "{text}");
        }
        for (text, form) in [
            ("12a", TimestampForm::Digits),
            ("", TimestampForm::Digits),
            ("0123", TimestampForm::LeadingZero),
            ("99999999999999999999999", TimestampForm::TooLarge),
        ] {
            assert_eq!(
                parse_ms(text),
                Err(Error::TimestampFormat {
                    text: text.to_owned(),
                    form
                }),
                "{text}"
            );
        }
        assert_eq!(
            parse_iso_ms("2023-02-30T00:00:00.000Z")
                .unwrap_err()
                .to_string(),
            "timestamp: unparseable timestamp \"2023-02-30T00:00:00.000Z\": expected YYYY-MM-DDTHH:MM:SS.mmmZ"
        );
    }

    #[test]
    fn window_edges() {
        let w = Window::TOKEN_REQUEST;
        let now = 1_700_000_000_000;
        assert!(w.check(now - 300_000, now).is_ok());
        assert!(w.check(now + 60_000, now).is_ok());
        assert_eq!(
            w.check(now - 300_001, now),
            Err(Error::TimestampTooOld {
                timestamp_ms: now - 300_001,
                now_ms: now,
                max_age_ms: 300_000
            })
        );
        assert_eq!(
            w.check(now + 60_001, now),
            Err(Error::TimestampInFuture {
                timestamp_ms: now + 60_001,
                now_ms: now,
                max_future_ms: 60_000
            })
        );
        // The descriptions say what was seen beside the bound.
        assert_eq!(
            w.check(now - 400_000, now).unwrap_err().to_string(),
            "timestamp too old: signed 400 s ago, at most 300 s are accepted"
        );
        assert_eq!(
            w.check(now + 90_000, now).unwrap_err().to_string(),
            "timestamp in the future: 90 s ahead of the server clock, at most 60 s are accepted"
        );
        let err = w.check(now / 1000, now).unwrap_err().to_string();
        assert!(
            err.contains("timestamp too old") && err.contains("milliseconds"),
            "{err}"
        );
    }
}
