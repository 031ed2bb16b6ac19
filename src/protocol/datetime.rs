//! COSEM date-time (12 bytes): year(2) month day day-of-week hour minute second hundredths
//! deviation(2) clock-status. Every field is kept raw; the accessors interpret it.

use std::fmt::Write;

/// A COSEM date-time exactly as sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime {
    pub raw: [u8; 12],
}

/// Deviation value meaning "not specified" (Kamstrup always sends it).
pub const DEVIATION_UNSPECIFIED: i16 = i16::MIN;

/// Clock status bits.
pub const STATUS_BITS: [(u8, &str); 6] = [
    (0x01, "invalid value"),
    (0x02, "doubtful value"),
    (0x04, "different clock base"),
    (0x08, "invalid clock status"),
    (0x10, "reserved bit 4"),
    (0x80, "daylight saving active"),
];

fn spec(v: u8, max: u8) -> Option<u8> {
    (v <= max).then_some(v)
}

impl DateTime {
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        Some(DateTime {
            raw: bytes.try_into().ok()?,
        })
    }

    pub fn year(&self) -> Option<u16> {
        let y = u16::from_be_bytes([self.raw[0], self.raw[1]]);
        (y != 0xFFFF).then_some(y)
    }
    pub fn month(&self) -> Option<u8> {
        spec(self.raw[2], 12).filter(|&m| m >= 1)
    }
    pub fn day(&self) -> Option<u8> {
        spec(self.raw[3], 31).filter(|&d| d >= 1)
    }
    pub fn day_of_week(&self) -> Option<u8> {
        spec(self.raw[4], 7).filter(|&d| d >= 1)
    }
    pub fn hour(&self) -> Option<u8> {
        spec(self.raw[5], 23)
    }
    pub fn minute(&self) -> Option<u8> {
        spec(self.raw[6], 59)
    }
    pub fn second(&self) -> Option<u8> {
        spec(self.raw[7], 59)
    }
    pub fn hundredths(&self) -> Option<u8> {
        spec(self.raw[8], 99)
    }
    /// Minutes from local time to UTC, `None` when not specified (0x8000).
    pub fn deviation(&self) -> Option<i16> {
        let d = i16::from_be_bytes([self.raw[9], self.raw[10]]);
        (d != DEVIATION_UNSPECIFIED).then_some(d)
    }
    /// The clock status byte, `None` when 0xFF (not specified).
    pub fn status(&self) -> Option<u8> {
        (self.raw[11] != 0xFF).then_some(self.raw[11])
    }

    /// Names of the clock status bits that are set.
    pub fn status_flags(&self) -> Vec<&'static str> {
        let Some(s) = self.status() else {
            return Vec::new();
        };
        STATUS_BITS
            .iter()
            .filter(|(bit, _)| s & bit != 0)
            .map(|(_, name)| *name)
            .collect()
    }

    /// The clock reports itself invalid or doubtful.
    pub fn flagged_invalid(&self) -> bool {
        self.status().is_some_and(|s| s & 0x03 != 0)
    }

    /// `YYYY-MM-DDTHH:MM:SS[.hh]` without offset, when every part up to the seconds is specified.
    pub fn iso8601(&self) -> Option<String> {
        let (y, mo, d) = (self.year()?, self.month()?, self.day()?);
        let (h, mi, s) = (self.hour()?, self.minute()?, self.second()?);
        let mut out = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}");
        if let Some(hh) = self.hundredths().filter(|&hh| hh > 0) {
            let _ = write!(out, ".{hh:02}");
        }
        Some(out)
    }

    /// Whether 12 bytes look like a date-time (used to tell a raw date-time from a string).
    pub fn plausible(bytes: &[u8]) -> bool {
        let Some(dt) = DateTime::from_slice(bytes) else {
            return false;
        };
        let field_ok = |v: u8, min: u8, max: u8, extra: &[u8]| {
            (min..=max).contains(&v) || v == 0xFF || extra.contains(&v)
        };
        let year_ok = dt.year().is_none_or(|y| (1970..=2199).contains(&y));
        year_ok
            && field_ok(dt.raw[2], 1, 12, &[0xFD, 0xFE])
            && field_ok(dt.raw[3], 1, 31, &[0xFD, 0xFE])
            && field_ok(dt.raw[4], 1, 7, &[])
            && field_ok(dt.raw[5], 0, 23, &[])
            && field_ok(dt.raw[6], 0, 59, &[])
            && field_ok(dt.raw[7], 0, 59, &[])
            && field_ok(dt.raw[8], 0, 99, &[])
    }

    /// Builds a date-time with deviation unspecified, as Kamstrup meters send it.
    pub fn new(
        year: u16,
        month: u8,
        day: u8,
        hour: u8,
        minute: u8,
        second: u8,
        status: u8,
    ) -> Self {
        let [y0, y1] = year.to_be_bytes();
        let dow = day_of_week(year, month, day);
        DateTime {
            raw: [
                y0, y1, month, day, dow, hour, minute, second, 0xFF, 0x80, 0x00, status,
            ],
        }
    }
}

/// ISO day of week (Monday = 1), by Sakamoto's method.
pub fn day_of_week(year: u16, month: u8, day: u8) -> u8 {
    const T: [i32; 12] = [0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4];
    let m = i32::from(month.clamp(1, 12));
    let y = i32::from(year) - i32::from(m < 3);
    let d = (y + y / 4 - y / 100 + y / 400 + T[(m - 1) as usize] + i32::from(day)) % 7;
    if d == 0 { 7 } else { d as u8 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kamstrup_header_time() {
        let dt = DateTime::from_slice(&[
            0x07, 0xE5, 0x06, 0x0E, 0x01, 0x11, 0x25, 0x1E, 0xFF, 0x80, 0x00, 0x80,
        ])
        .unwrap();
        assert_eq!(dt.iso8601().unwrap(), "2021-06-14T17:37:30");
        assert_eq!(dt.deviation(), None);
        assert_eq!(dt.status_flags(), vec!["daylight saving active"]);
        assert_eq!(dt.hundredths(), None);
    }

    #[test]
    fn weekday() {
        assert_eq!(day_of_week(2021, 6, 14), 1);
        assert_eq!(day_of_week(2000, 1, 1), 6);
    }
}
