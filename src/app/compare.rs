//! Active energy import (A+) as every source of this run saw it: the HAN push's list 2 and the
//! latest readout of each protocol, side by side with the time between them. Two readings agree
//! when their difference is what the meters' resolution and the energy that can have flowed in
//! the time between explain; anything more is scaling, a CT ratio, or two different meters.

use super::live::LiveState;
use super::readout::ReadoutTab;
use crate::wire::FieldDetail;
use chrono::{DateTime, Utc};

/// One source's A+ register.
#[derive(Debug, Clone, PartialEq)]
pub struct EnergyReading {
    /// Where it came from: `HAN list 2`, `IEC 61107`, `KMP`, `M-Bus`.
    pub source: &'static str,
    /// The register as the source names it (`1.8.0`, `1.20`, `Energy total`).
    pub register: String,
    pub kwh: f64,
    /// When it was received.
    pub at: DateTime<Utc>,
    /// The smallest step the register shows, in kWh.
    pub resolution_kwh: f64,
}

/// How a reading compares with the reference (the first reading of the table).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Agreement {
    /// The reference itself.
    Reference,
    /// The difference is within what resolution and the time between explain.
    Agree { diff_kwh: f64, allowed_kwh: f64 },
    /// More than that.
    Differ { diff_kwh: f64, allowed_kwh: f64 },
}

/// The kWh of an energy field, from its unit (Wh, kWh, MWh); `None` for anything else.
pub fn kwh(f: &FieldDetail) -> Option<f64> {
    let factor = unit_factor(f.unit.as_deref()?)?;
    Some(f.value? * factor)
}

fn unit_factor(unit: &str) -> Option<f64> {
    match unit {
        "Wh" => Some(0.001),
        "kWh" => Some(1.0),
        "MWh" => Some(1000.0),
        _ => None,
    }
}

/// The smallest step a field can show, in kWh: from the decimals as sent when the value came as
/// text (IEC 61107 `0009032` is 1 kWh, `12345.678` 1 Wh), otherwise from its scaler.
pub fn resolution_kwh(f: &FieldDetail) -> Option<f64> {
    let factor = unit_factor(f.unit.as_deref()?)?;
    let step = match &f.raw {
        crate::wire::detail::RawValue::Text(t) => {
            let decimals = t
                .rsplit_once(['.', ','])
                .map_or(0, |(_, d)| d.chars().filter(char::is_ascii_digit).count());
            10f64.powi(-(decimals as i32))
        }
        _ => 10f64.powi(i32::from(f.scaler.unwrap_or(0))),
    };
    Some(step * factor)
}

/// Each reading against the first (the reference), allowing both resolutions plus what
/// `max_power_w` (the most import power the run has seen, or what the fuse allows when nothing
/// was measured) can have added in the time between them.
pub fn judge(readings: &[EnergyReading], max_power_w: f64) -> Vec<Agreement> {
    let Some(reference) = readings.first() else {
        return Vec::new();
    };
    readings
        .iter()
        .enumerate()
        .map(|(i, r)| {
            if i == 0 {
                return Agreement::Reference;
            }
            let hours = (r.at - reference.at).num_milliseconds().unsigned_abs() as f64 / 3.6e6;
            let allowed_kwh =
                reference.resolution_kwh + r.resolution_kwh + max_power_w.max(0.0) / 1000.0 * hours;
            let diff_kwh = r.kwh - reference.kwh;
            // A register only grows: a later reading may be higher, an earlier one lower, by at
            // most the allowance; the other way only by the resolutions.
            let later = r.at >= reference.at;
            let forward = if later { diff_kwh } else { -diff_kwh };
            let backward_allowed = reference.resolution_kwh + r.resolution_kwh;
            let fits = forward <= allowed_kwh + 1e-9 && forward >= -backward_allowed - 1e-9;
            if fits {
                Agreement::Agree {
                    diff_kwh,
                    allowed_kwh,
                }
            } else {
                Agreement::Differ {
                    diff_kwh,
                    allowed_kwh,
                }
            }
        })
        .collect()
}

/// A+ from the HAN side's last list 2 (or P1 telegram), the first row of the comparison.
pub fn han_energy(live: &LiveState) -> Option<EnergyReading> {
    let e = live.energies.as_ref()?;
    let (value, _, unit) = e.registers[0]?;
    let factor = unit_factor(unit)?;
    Some(EnergyReading {
        source: "HAN",
        register: "A+ (1.8.0)".into(),
        kwh: value * factor,
        at: e.received,
        resolution_kwh: 10f64.powi(i32::from(e.scaler)) * factor,
    })
}

/// The most import power the HAN side saw in this run; without any, what the main fuse lets
/// through on three phases (a generous bound, so no false alarm).
pub fn max_power_w(live: &LiveState) -> f64 {
    live.history
        .iter()
        .filter_map(|r| r.power[0])
        .fold(None, |m: Option<f64>, p| Some(m.map_or(p, |m| m.max(p))))
        .unwrap_or(3.0 * super::live::limits::NOMINAL_V * live.fuse_a)
}

/// Every source's A+ with its agreement with the first (the HAN side when it has list 2).
pub fn energy_table(live: &LiveState, readouts: &ReadoutTab) -> Vec<(EnergyReading, Agreement)> {
    let mut readings: Vec<EnergyReading> = han_energy(live).into_iter().collect();
    readings.extend(readouts.energy_readings());
    // On the meter's time line: a simulated meter at ten times the speed counts an hour's
    // energy in six minutes; a replay's readings are as far apart as when they were recorded.
    for r in &mut readings {
        r.at = live.clock_reference.time_of(r.at).unwrap_or(r.at);
    }
    let verdicts = judge(&readings, max_power_w(live));
    readings.into_iter().zip(verdicts).collect()
}

/// The time between two readings, short: `12 s`, `4 min`, `2 h 5 min`.
pub fn between(a: DateTime<Utc>, b: DateTime<Utc>) -> String {
    let s = (b - a).num_seconds().unsigned_abs();
    match s {
        0..=119 => format!("{s} s"),
        120..=7199 => format!("{} min", s / 60),
        _ => format!("{} h {} min", s / 3600, s % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::detail::RawValue;
    use chrono::TimeZone;

    fn at(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap()
    }

    fn reading(source: &'static str, kwh: f64, s: i64, resolution_kwh: f64) -> EnergyReading {
        EnergyReading {
            source,
            register: String::new(),
            kwh,
            at: at(s),
            resolution_kwh,
        }
    }

    fn field(raw: RawValue, scaler: i8, value: f64, unit: &str) -> FieldDetail {
        FieldDetail::plain(
            None,
            "A+".into(),
            raw,
            Some(scaler),
            Some(value),
            Some(unit.into()),
        )
    }

    #[test]
    fn units_and_resolutions() {
        let iec = field(RawValue::Text("0009032".into()), 0, 9032.0, "kWh");
        assert_eq!(kwh(&iec), Some(9032.0));
        assert_eq!(resolution_kwh(&iec), Some(1.0));
        let iec_decimals = field(RawValue::Text("012345.678".into()), 0, 12345.678, "kWh");
        assert!((resolution_kwh(&iec_decimals).unwrap() - 0.001).abs() < 1e-12);
        let mbus = field(RawValue::Int(9_032_123), 1, 90_321_230.0, "Wh");
        assert!((kwh(&mbus).unwrap() - 90_321.23).abs() < 1e-6);
        assert!((resolution_kwh(&mbus).unwrap() - 0.01).abs() < 1e-12);
        let volts = field(RawValue::Int(230), 0, 230.0, "V");
        assert_eq!(kwh(&volts), None);
    }

    #[test]
    fn energy_that_can_have_flowed_is_allowed() {
        // HAN 9032.40 kWh; IEC 9033 kWh one hour later at most 2 kW: agree.
        let han = reading("HAN list 2", 9032.40, 0, 0.01);
        let iec = reading("IEC 61107", 9033.0, 3600, 1.0);
        let v = judge(&[han.clone(), iec], 2000.0);
        assert!(matches!(v[1], Agreement::Agree { .. }), "{v:?}");
        // 10 kWh more in one minute at 2 kW cannot be: a different meter or scaling.
        let kmp = reading("KMP", 9042.0, 60, 1.0);
        let v = judge(&[han.clone(), kmp], 2000.0);
        assert!(matches!(v[1], Agreement::Differ { .. }), "{v:?}");
        // A later register cannot be lower than an earlier one beyond the resolutions.
        let lower = reading("M-Bus", 9030.0, 600, 0.01);
        let v = judge(&[han, lower], 2000.0);
        assert!(matches!(v[1], Agreement::Differ { .. }), "{v:?}");
    }

    #[test]
    fn readings_before_the_reference_count_backwards() {
        let han = reading("HAN list 2", 9033.0, 3600, 0.01);
        let iec = reading("IEC 61107", 9032.0, 0, 1.0);
        assert!(matches!(
            judge(&[han.clone(), iec], 1000.0)[1],
            Agreement::Agree { .. }
        ));
        let later_looking = reading("IEC 61107", 9040.0, 0, 1.0);
        assert!(matches!(
            judge(&[han, later_looking], 1000.0)[1],
            Agreement::Differ { .. }
        ));
    }

    #[test]
    fn time_between_reads_short() {
        assert_eq!(between(at(0), at(12)), "12 s");
        assert_eq!(between(at(300), at(0)), "5 min");
        assert_eq!(between(at(0), at(7500)), "2 h 5 min");
    }
}
