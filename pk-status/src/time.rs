//! Timestamps as unix milliseconds, with a hand-written RFC 3339 parser and formatter.
//!
//! Transcripts carry ISO-8601 UTC times (`2026-03-02T09:14:05.102Z`) and `pk status --json`
//! prints RFC 3339. A date library would be the only reason to pull in a dependency, and the
//! civil-date arithmetic is twenty lines (Howard Hinnant's `days_from_civil`), so it lives here.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

const MS_PER_DAY: i64 = 86_400_000;

/// A point in time: milliseconds since the unix epoch, UTC.
///
/// Serialized as an RFC 3339 string with millisecond precision (`2026-03-02T09:14:05.102Z`);
/// deserialized from such a string or from a number of milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// The timestamp `ms` milliseconds after the unix epoch.
    pub fn from_millis(ms: i64) -> Self {
        Timestamp(ms)
    }

    /// Milliseconds since the unix epoch.
    pub fn millis(self) -> i64 {
        self.0
    }

    /// Parses an RFC 3339 / ISO-8601 date-time: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`.
    /// `t` and a space are accepted for `T`, `z` for `Z`; digits after the milliseconds are
    /// ignored. Returns `None` for anything else, never panics.
    pub fn parse_rfc3339(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
            return None;
        }
        if !matches!(b[10], b'T' | b't' | b' ') {
            return None;
        }
        let year = digits(&b[0..4])? as i64;
        let month = digits(&b[5..7])?;
        let day = digits(&b[8..10])?;
        let hour = digits(&b[11..13])?;
        let minute = digits(&b[14..16])?;
        // A leap second is shown as the last millisecond-less second of the minute.
        let second = digits(&b[17..19])?.min(59);
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        if hour > 23 || minute > 59 {
            return None;
        }
        let mut i = 19;
        let mut millis = 0u32;
        if b[i] == b'.' {
            i += 1;
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                if i - start < 3 {
                    millis = millis * 10 + u32::from(b[i] - b'0');
                }
                i += 1;
            }
            let n = i - start;
            if n == 0 {
                return None;
            }
            for _ in n..3 {
                millis *= 10;
            }
        }
        let offset_min: i64 = match b.get(i..)? {
            [b'Z' | b'z'] => 0,
            [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
                let h = digits(&[*h1, *h2])? as i64;
                let m = digits(&[*m1, *m2])? as i64;
                if h > 23 || m > 59 {
                    return None;
                }
                if *sign == b'-' {
                    -(h * 60 + m)
                } else {
                    h * 60 + m
                }
            }
            _ => return None,
        };
        let days = days_from_civil(year, month, day);
        let secs = i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second);
        Some(Timestamp(
            days * MS_PER_DAY + secs * 1000 + i64::from(millis) - offset_min * 60_000,
        ))
    }

    /// Formats as RFC 3339 in UTC with milliseconds, e.g. `2026-03-02T09:14:05.102Z`.
    pub fn to_rfc3339(self) -> String {
        let days = self.0.div_euclid(MS_PER_DAY);
        let ms_of_day = self.0.rem_euclid(MS_PER_DAY);
        let (y, m, d) = civil_from_days(days);
        let secs = ms_of_day / 1000;
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
            secs / 3600,
            secs / 60 % 60,
            secs % 60,
            ms_of_day % 1000
        )
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl Serialize for Timestamp {
    /// RFC 3339 for the years 0000 to 9999; a number of milliseconds beyond, where RFC 3339 has
    /// no four-digit year (a transcript can claim any time), so that every time reads back.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // 0000-01-01 and 10000-01-01, in days since 1970-01-01.
        const DAYS: std::ops::Range<i64> = -719_528..2_932_897;
        if DAYS.contains(&self.0.div_euclid(MS_PER_DAY)) {
            s.serialize_str(&self.to_rfc3339())
        } else {
            s.serialize_i64(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Millis(i64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Millis(ms) => Ok(Timestamp(ms)),
            Raw::Text(s) => Timestamp::parse_rfc3339(&s)
                .ok_or_else(|| serde::de::Error::custom(format!("not an RFC 3339 time: {s:?}"))),
        }
    }
}

fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
    })
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_transcript_times() {
        let t = Timestamp::parse_rfc3339("2026-03-02T09:14:05.102Z").unwrap();
        assert_eq!(t.millis(), 1_772_442_845_102);
        assert_eq!(
            Timestamp::parse_rfc3339("1970-01-01T00:00:00Z"),
            Some(Timestamp(0))
        );
        assert_eq!(
            Timestamp::parse_rfc3339("1970-01-01T01:00:00+01:00"),
            Some(Timestamp(0))
        );
        assert_eq!(
            Timestamp::parse_rfc3339("1969-12-31T23:59:59.9999999-00:00"),
            Some(Timestamp(-1))
        );
        assert_eq!(
            Timestamp::parse_rfc3339("2024-02-29 12:00:00.5z"),
            Some(Timestamp(1_709_208_000_500))
        );
    }

    #[test]
    fn rejects_malformed_times() {
        for bad in [
            "",
            "2026-03-02",
            "2026-13-02T00:00:00Z",
            "2026-02-30T00:00:00Z",
            "2026-03-02T24:00:00Z",
            "2026-03-02T09:14:05.Z",
            "2026-03-02T09:14:05",
            "2026-03-02T09:14:05+0100",
            "2026-03-02T09:14:05Zjunk",
            "2026-03-02T09:14:05.١٢Z",
            "２026-03-02T09:14:05Z",
        ] {
            assert_eq!(Timestamp::parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_round_trip() {
        for ms in [
            0,
            -1,
            1_772_442_845_102,
            951_782_400_000,
            -62_135_596_800_000,
        ] {
            let s = Timestamp(ms).to_rfc3339();
            assert_eq!(Timestamp::parse_rfc3339(&s), Some(Timestamp(ms)), "{s}");
        }
        assert_eq!(
            Timestamp(1_772_442_845_102).to_string(),
            "2026-03-02T09:14:05.102Z"
        );
        assert_eq!(Timestamp(-1).to_string(), "1969-12-31T23:59:59.999Z");
        // Extremes do not panic.
        let _ = Timestamp(i64::MAX).to_rfc3339();
        let _ = Timestamp(i64::MIN).to_rfc3339();
    }

    #[test]
    fn serde_uses_rfc3339() {
        let t = Timestamp(1_772_442_845_102);
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, "\"2026-03-02T09:14:05.102Z\"");
        assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), t);
        assert_eq!(
            serde_json::from_str::<Timestamp>("42").unwrap(),
            Timestamp(42)
        );
        assert!(serde_json::from_str::<Timestamp>("\"yesterday\"").is_err());
        // Every time reads back, as text where it has a four-digit year.
        for (ms, text) in [
            (-62_167_219_200_000, Some("0000-01-01T00:00:00.000Z")),
            (253_402_300_799_999, Some("9999-12-31T23:59:59.999Z")),
            (-62_167_219_200_001, None),
            (253_402_300_800_000, None),
            (i64::MAX, None),
            (i64::MIN, None),
        ] {
            let json = serde_json::to_string(&Timestamp(ms)).unwrap();
            match text {
                Some(t) => assert_eq!(json, format!("\"{t}\"")),
                None => assert_eq!(json, ms.to_string()),
            }
            assert_eq!(
                serde_json::from_str::<Timestamp>(&json).unwrap(),
                Timestamp(ms)
            );
        }
    }
}
