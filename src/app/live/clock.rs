//! The meter clock against a reference: the laptop clock live, the recording's own times in a
//! replay, nothing for a hex or raw file. Kamstrup meters keep local standard time all year, so
//! in summer they are one hour behind local time by design: that is said, not flagged.

use super::limits::CLOCK_TOLERANCE_S;
use super::{LiveState, Reading};
use crate::app::live::checks::Level;
use crate::protocol::datetime::DateTime as CosemDateTime;
use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, TimeZone, Utc, Weekday};

/// What the meter clock is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum ClockReference {
    /// Live: the laptop clock when the push came.
    #[default]
    Laptop,
    /// A replay of a kamscope recording: the time the push was recorded, reconstructed from the
    /// recording's first chunk, when the replay started, and its speed.
    Recording {
        first_chunk: DateTime<Utc>,
        started: DateTime<Utc>,
        speed: f64,
    },
    /// The demo at a speed other than 1: the simulated meter's clock started with the laptop's
    /// at `started` and runs `speed` times faster.
    Simulated { started: DateTime<Utc>, speed: f64 },
    /// A hex or raw file: no time to compare with.
    None,
}

impl ClockReference {
    /// The reference time of a push received (on the laptop clock) at `received`.
    pub fn time_of(&self, received: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match *self {
            ClockReference::Laptop => Some(received),
            ClockReference::Recording {
                first_chunk,
                started,
                speed,
            } => {
                let played_ms = (received - started).num_milliseconds() as f64;
                Some(first_chunk + Duration::milliseconds((played_ms * speed).round() as i64))
            }
            ClockReference::Simulated { started, speed } => {
                let played_ms = (received - started).num_milliseconds() as f64;
                Some(started + Duration::milliseconds((played_ms * speed).round() as i64))
            }
            ClockReference::None => None,
        }
    }

    /// The local UTC offset (seconds) at the reference time `t`: the laptop's own offset live,
    /// standard time plus the EU summer-time rule for a recording (its season may not be now).
    pub fn local_offset_at(
        &self,
        t: DateTime<Utc>,
        now: DateTime<FixedOffset>,
        std_offset: i32,
    ) -> i32 {
        match self {
            ClockReference::Recording { .. } if eu_summer_time(t) => std_offset + 3600,
            ClockReference::Recording { .. } => std_offset,
            _ => now.offset().local_minus_utc(),
        }
    }

    /// What the meter clock is compared with, in words.
    pub fn name(&self) -> &'static str {
        match self {
            ClockReference::Laptop => "the laptop clock",
            ClockReference::Recording { .. } => "the recording's time",
            ClockReference::Simulated { .. } => "the simulated clock",
            ClockReference::None => "nothing",
        }
    }
}

/// Whether EU summer time is in force at `t`: from 01:00 UTC on the last Sunday of March to
/// 01:00 UTC on the last Sunday of October. Used for recordings, whose local offset at the time
/// is not known otherwise.
pub fn eu_summer_time(t: DateTime<Utc>) -> bool {
    let last_sunday = |month: u32| {
        let first_next = if month == 12 {
            NaiveDate::from_ymd_opt(t.year() + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(t.year(), month + 1, 1)
        };
        let mut d = first_next.and_then(|d| d.pred_opt()).unwrap_or_default();
        while d.weekday() != Weekday::Sun {
            d = d.pred_opt().unwrap_or_default();
        }
        Utc.from_utc_datetime(&d.and_hms_opt(1, 0, 0).unwrap_or_default())
    };
    t >= last_sunday(3) && t < last_sunday(10)
}

/// The clock status bits that are set, in short words (`DST`, `invalid`).
pub fn status_words(dt: &CosemDateTime) -> Vec<&'static str> {
    let Some(s) = dt.status() else {
        return Vec::new();
    };
    [
        (0x01, "invalid"),
        (0x02, "doubtful"),
        (0x04, "other clock base"),
        (0x08, "status invalid"),
        (0x80, "DST"),
    ]
    .iter()
    .filter(|(bit, _)| s & bit != 0)
    .map(|(_, w)| *w)
    .collect()
}

/// The meter clock judged.
#[derive(Debug, Clone, PartialEq)]
pub enum ClockCheck {
    /// The push carries no time.
    NoTime,
    /// A hex or raw file: nothing to compare with.
    NotCompared,
    /// The meter says its clock is invalid or doubtful (clock status bits, in words).
    Invalid { words: Vec<&'static str> },
    /// Within a minute of local time. `offset`: meter minus local time, seconds.
    Ok {
        offset: i64,
        reference: ClockReference,
    },
    /// On local standard time while local time is summer time: as Kamstrup meters are.
    StandardTime {
        offset: i64,
        reference: ClockReference,
    },
    /// Off by more than a minute.
    Off {
        offset: i64,
        reference: ClockReference,
        /// The laptop's UTC offset (seconds), to name when the offset is whole hours.
        utc_offset: i32,
    },
}

/// The meter clock of the latest push against the reference.
pub fn clock_check(
    live: &LiveState,
    r: &Reading,
    now: DateTime<FixedOffset>,
    std_offset: i32,
) -> ClockCheck {
    let Some(meter) = r.meter_time else {
        return ClockCheck::NoTime;
    };
    if let Some(c) = live.latest_clock.filter(|c| c.flagged_invalid()) {
        return ClockCheck::Invalid {
            words: status_words(&c),
        };
    }
    let reference = live.clock_reference;
    let Some(t) = reference.time_of(r.received) else {
        return ClockCheck::NotCompared;
    };
    let utc_offset = reference.local_offset_at(t, now, std_offset);
    let dst = utc_offset - std_offset;
    let local = t.naive_utc() + Duration::seconds(utc_offset.into());
    let offset = (meter - local).num_seconds();
    let meter_says_dst = live
        .latest_clock
        .and_then(|c| c.status())
        .is_some_and(|s| s & 0x80 != 0);
    if offset.abs() <= CLOCK_TOLERANCE_S {
        ClockCheck::Ok { offset, reference }
    } else if dst != 0 && !meter_says_dst && (offset + i64::from(dst)).abs() <= CLOCK_TOLERANCE_S {
        ClockCheck::StandardTime { offset, reference }
    } else {
        ClockCheck::Off {
            offset,
            reference,
            utc_offset,
        }
    }
}

/// `UTC+01:00` style.
fn utc_name(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let a = seconds.unsigned_abs();
    format!("UTC{sign}{:02}:{:02}", a / 3600, a % 3600 / 60)
}

impl ClockCheck {
    pub fn level(&self) -> Option<Level> {
        match self {
            ClockCheck::NoTime => None,
            ClockCheck::NotCompared => Some(Level::Info),
            ClockCheck::Invalid { .. } | ClockCheck::Off { .. } => Some(Level::Warn),
            ClockCheck::Ok { .. } | ClockCheck::StandardTime { .. } => Some(Level::Ok),
        }
    }

    pub fn offset_seconds(&self) -> Option<i64> {
        match self {
            ClockCheck::Ok { offset, .. }
            | ClockCheck::StandardTime { offset, .. }
            | ClockCheck::Off { offset, .. } => Some(*offset),
            _ => None,
        }
    }

    /// The verdict in a sentence.
    pub fn describe(&self) -> String {
        match self {
            ClockCheck::NoTime => "the push carries no time".into(),
            ClockCheck::NotCompared => {
                "a hex or raw file has no times: meter clock not compared".into()
            }
            ClockCheck::Invalid { words } => format!(
                "meter clock marks itself {} (clock status)",
                words.join(", ")
            ),
            ClockCheck::Ok { reference, .. } => {
                format!("meter clock matches {} (within 1 min)", reference.name())
            }
            ClockCheck::StandardTime { .. } => {
                "meter on standard time (no DST), as Kamstrup meters are: 1 h behind summer time"
                    .into()
            }
            ClockCheck::Off {
                offset,
                reference,
                utc_offset,
            } => {
                let mut s = format!(
                    "meter clock {} off {}",
                    super::checks::human_seconds(*offset),
                    reference.name()
                );
                let rest = offset.rem_euclid(3600);
                let whole_hours = offset.abs() >= 3600 - CLOCK_TOLERANCE_S
                    && offset.abs() < 48 * 3600
                    && !(CLOCK_TOLERANCE_S..3600 - CLOCK_TOLERANCE_S).contains(&rest);
                if whole_hours && *reference == ClockReference::Laptop {
                    s.push_str(&format!(
                        ": whole hours, check the laptop's time zone ({})",
                        utc_name(*utc_offset)
                    ));
                }
                s
            }
        }
    }

    /// A few words for the headline.
    pub fn short(&self) -> String {
        match self {
            ClockCheck::NoTime => "no meter time".into(),
            ClockCheck::NotCompared => "clock not compared".into(),
            ClockCheck::Invalid { .. } => "clock invalid".into(),
            ClockCheck::Ok { .. } => "clock ok".into(),
            ClockCheck::StandardTime { .. } => "clock ok (standard time)".into(),
            ClockCheck::Off { offset, .. } => {
                format!("clock {} off", super::checks::human_seconds(*offset))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn eu_summer_time_boundaries() {
        assert!(!eu_summer_time(utc("2024-03-31T00:59:59Z")));
        assert!(eu_summer_time(utc("2024-03-31T01:00:00Z")));
        assert!(eu_summer_time(utc("2024-10-27T00:59:59Z")));
        assert!(!eu_summer_time(utc("2024-10-27T01:00:00Z")));
        assert!(!eu_summer_time(utc("2024-01-15T12:00:00Z")));
        assert!(eu_summer_time(utc("2021-06-14T12:00:00Z")));
    }

    #[test]
    fn a_recording_time_is_reconstructed_from_start_and_speed() {
        let r = ClockReference::Recording {
            first_chunk: utc("2024-10-30T16:00:00Z"),
            started: utc("2026-01-01T10:00:00Z"),
            speed: 10.0,
        };
        assert_eq!(
            r.time_of(utc("2026-01-01T10:00:30Z")),
            Some(utc("2024-10-30T16:05:00Z"))
        );
        assert_eq!(
            ClockReference::None.time_of(utc("2026-01-01T10:00:30Z")),
            None
        );
    }

    #[test]
    fn status_bits_in_words() {
        let dt = CosemDateTime::new(2021, 6, 14, 17, 37, 30, 0x81);
        assert_eq!(status_words(&dt), ["invalid", "DST"]);
        let dt = CosemDateTime::new(2021, 6, 14, 17, 37, 30, 0);
        assert!(status_words(&dt).is_empty());
    }

    #[test]
    fn utc_names() {
        assert_eq!(utc_name(3600), "UTC+01:00");
        assert_eq!(utc_name(-12600), "UTC-03:30");
    }
}
