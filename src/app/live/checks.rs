//! Verdicts about the installation from the latest values: phases and voltages, currents against
//! the main fuse, metered power against U x I (scaling, missing phase, reversed CT), export, and
//! the meter clock. Each keeps the numbers it judged.

use super::clock::{ClockCheck, clock_check};
use super::limits::*;
use super::{LiveState, Reading, Wiring};
use crate::protocol::han::MeterKind;
use chrono::{DateTime, FixedOffset};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Ok,
    Info,
    Warn,
    Bad,
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Bad => "bad",
        }
    }
}

/// What a verdict is about (the headline picks its parts by topic).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic {
    /// The no-data ladder: port, bytes, frames, encryption.
    Link,
    /// Whether pushes keep coming.
    Push,
    Phases,
    Current,
    Power,
    Clock,
    Export,
}

/// A number a verdict was judged on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evidence {
    pub name: &'static str,
    pub value: f64,
    pub unit: &'static str,
}

/// One plain-language verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub level: Level,
    pub topic: Topic,
    pub text: String,
    /// The numbers judged.
    pub evidence: Vec<Evidence>,
    /// The verdict in a few words, for the headline when the whole text does not fit.
    pub short: Option<String>,
    /// Judged on values that are no longer current: shown dimmed, never with a ✔.
    pub stale: bool,
}

impl Diagnostic {
    pub fn new(level: Level, topic: Topic, text: impl Into<String>) -> Self {
        Diagnostic {
            level,
            topic,
            text: text.into(),
            evidence: Vec::new(),
            short: None,
            stale: false,
        }
    }

    pub fn with(mut self, name: &'static str, value: f64, unit: &'static str) -> Self {
        self.evidence.push(Evidence { name, value, unit });
        self
    }

    pub fn short(mut self, short: impl Into<String>) -> Self {
        self.short = Some(short.into());
        self
    }

    /// The value of a piece of evidence by name.
    pub fn evidence(&self, name: &str) -> Option<f64> {
        self.evidence
            .iter()
            .find(|e| e.name == name)
            .map(|e| e.value)
    }
}

/// Metered power against the apparent power from U and I.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PowerFigures {
    /// Active power (import or export, whichever flows), W.
    pub p: f64,
    /// Reactive power, when the list carries it, var.
    pub q: Option<f64>,
    /// Apparent power from the phases' U and I, VA: the sum of U x I on 4-wire and 1-phase
    /// meters; on 3-wire meters (line-to-line voltages) the square root of 3 times the mean U x I
    /// of the phases whose current is measured.
    pub s_ui: f64,
    /// The meter's own apparent power: the root of P squared plus Q squared (P without Q).
    pub s_pq: f64,
    /// Power factor P / S (S from U and I).
    pub pf: f64,
    /// s_pq / s_ui: 1 when the scaling is right, whatever the load.
    pub ratio: f64,
    pub three_wire: bool,
}

impl PowerFigures {
    /// How S from U and I is named on screen.
    pub fn s_label(&self) -> &'static str {
        if self.three_wire {
            "√3·U·I"
        } else {
            "ΣU·I"
        }
    }
}

pub fn power_figures(r: &Reading, wiring: Option<Wiring>) -> Option<PowerFigures> {
    let three_wire = wiring == Some(Wiring::ThreeWire);
    let products: Vec<f64> = r
        .voltage
        .iter()
        .zip(r.current)
        .filter_map(|(u, i)| Some((*u)? * i?))
        .collect();
    if products.is_empty() {
        return None;
    }
    let sum: f64 = products.iter().sum();
    let s_ui = if three_wire {
        3f64.sqrt() * sum / products.len() as f64
    } else {
        sum
    };
    let p = r.power[0]?.max(r.power[1].unwrap_or(0.0));
    let q = match (r.power[2], r.power[3]) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0.0).max(b.unwrap_or(0.0))),
    };
    let s_pq = q.map_or(p, |q| p.hypot(q));
    let (pf, ratio) = if s_ui > 0.0 {
        (p / s_ui, s_pq / s_ui)
    } else {
        (f64::INFINITY, f64::INFINITY)
    };
    Some(PowerFigures {
        p,
        q,
        s_ui,
        s_pq,
        pf,
        ratio,
        three_wire,
    })
}

/// `+2 min 5 s` style; days from a day up.
pub fn human_seconds(s: i64) -> String {
    let sign = if s < 0 { "-" } else { "+" };
    let a = s.unsigned_abs();
    match a {
        0..60 => format!("{sign}{a} s"),
        60..3600 => format!("{sign}{} min {} s", a / 60, a % 60),
        3600..86400 => format!("{sign}{} h {} min", a / 3600, a % 3600 / 60),
        _ => format!("{sign}{} d {} h", a / 86400, a % 86400 / 3600),
    }
}

/// What a current scaler means, in words (`mA`, `0.01 A`).
pub fn current_unit(scaler: i8) -> String {
    match scaler {
        -3 => "mA".into(),
        -2 => "0.01 A".into(),
        -1 => "0.1 A".into(),
        0 => "A".into(),
        1 => "10 A".into(),
        n => format!("10^{n} A"),
    }
}

/// Verdicts about the installation from the latest values, worst first. Nothing before the
/// first push with values (the no-data ladder in `app::verdict` speaks then).
pub fn diagnostics(
    live: &LiveState,
    now: DateTime<FixedOffset>,
    std_offset: i32,
) -> Vec<Diagnostic> {
    let Some(r) = live.latest else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let missing = phase_checks(live, &r, &mut out);
    let scaling_error = power_checks(live, &r, &missing, &mut out);
    if !scaling_error {
        current_checks(live, &r, &mut out);
    }
    if let Some(e) = r.power[1].filter(|&e| e > 0.0) {
        out.push(
            Diagnostic::new(
                Level::Info,
                Topic::Export,
                format!("exporting {e:.0} W to the grid"),
            )
            .with("P-", e, "W"),
        );
    }
    if let Some(d) = clock_check(live, &r, now, std_offset).diagnostic() {
        out.push(d);
    }
    out.sort_by_key(|d| std::cmp::Reverse(d.level));
    out
}

/// The nominal voltage the phases are judged against: 230 V, or 400 V line to line on a 3-wire
/// meter whose voltages say it sits in a 400 V network.
pub fn nominal_voltage(wiring: Wiring, r: &Reading) -> f64 {
    let mean = {
        let us: Vec<f64> = r.voltage.iter().flatten().copied().collect();
        us.iter().sum::<f64>() / us.len().max(1) as f64
    };
    if wiring == Wiring::ThreeWire && mean > (NOMINAL_V + NOMINAL_V_400) / 2.0 {
        NOMINAL_V_400
    } else {
        NOMINAL_V
    }
}

/// Phases and voltages. Returns the phases that are missing.
fn phase_checks(live: &LiveState, r: &Reading, out: &mut Vec<Diagnostic>) -> Vec<usize> {
    let Some(wiring) = live.wiring() else {
        return Vec::new();
    };
    let nominal = nominal_voltage(wiring, r);
    let (lo, hi) = (
        nominal * (1.0 - VOLTAGE_BAND),
        nominal * (1.0 + VOLTAGE_BAND),
    );
    let band = format!("{nominal:.0} V ±{:.0} %", VOLTAGE_BAND * 100.0);
    let mut missing = Vec::new();
    let mut off_band = false;
    for p in 0..wiring.phases() {
        let name = format!("L{}", p + 1);
        let d = match r.voltage[p] {
            None if r.voltage_not_measured[p] => {
                out.push(Diagnostic::new(
                    Level::Info,
                    Topic::Phases,
                    format!(
                        "{name} voltage not measured: normal on this 3-wire meter, which \
                         measures L1-L2 and L3-L2 (it sends 0 V for {name})"
                    ),
                ));
                continue;
            }
            None => Diagnostic::new(
                Level::Bad,
                Topic::Phases,
                format!("{name} missing: the push carries no voltage for it"),
            ),
            Some(u) if u < PHASE_MISSING_V => Diagnostic::new(
                Level::Bad,
                Topic::Phases,
                format!("{name} missing: {u:.0} V (below {PHASE_MISSING_V:.0} V)"),
            )
            .with("U", u, "V"),
            Some(u) if u > hi => Diagnostic::new(
                Level::Warn,
                Topic::Phases,
                format!("{name} over voltage: {u:.0} V, above {hi:.0} V ({band})"),
            )
            .with("U", u, "V"),
            Some(u) if u < lo => Diagnostic::new(
                Level::Warn,
                Topic::Phases,
                format!("{name} under voltage: {u:.0} V, below {lo:.0} V ({band})"),
            )
            .with("U", u, "V"),
            Some(_) => continue,
        };
        if d.level == Level::Bad {
            missing.push(p);
        } else {
            off_band = true;
        }
        out.push(d);
    }
    if wiring == Wiring::ThreeWire {
        for p in (0..3).filter(|&p| r.current[p].is_none() && !missing.contains(&p)) {
            out.push(Diagnostic::new(
                Level::Info,
                Topic::Current,
                format!("L{} current not measured: normal on a 3-wire meter", p + 1),
            ));
        }
    }
    if missing.is_empty() && !off_band {
        out.push(phases_ok(wiring, r, &band));
    }
    missing
}

fn phases_ok(wiring: Wiring, r: &Reading, band: &str) -> Diagnostic {
    let us: Vec<f64> = r.voltage[..wiring.phases()]
        .iter()
        .flatten()
        .copied()
        .collect();
    let lo = us.iter().copied().fold(f64::MAX, f64::min);
    let hi = us.iter().copied().fold(f64::MIN, f64::max);
    let range = if (hi - lo).abs() < 0.5 {
        format!("{hi:.0} V")
    } else {
        format!("{lo:.0}-{hi:.0} V")
    };
    let text = match wiring {
        Wiring::OnePhase => format!("1-phase meter: {range}, within {band}"),
        Wiring::ThreeWire => {
            format!("3-wire (IT) meter, 3 phases: {range} line to line, within {band}")
        }
        Wiring::FourWire | Wiring::ThreePhase => {
            format!("all three phases present: {range}, within {band}")
        }
    };
    Diagnostic::new(Level::Ok, Topic::Phases, text)
        .with("U min", lo, "V")
        .with("U max", hi, "V")
}

/// Phase currents against the main fuse (not against each other: an uneven load is normal).
fn current_checks(live: &LiveState, r: &Reading, out: &mut Vec<Diagnostic>) {
    let fuse = live.fuse_a;
    let phases = live.phases().unwrap_or(3);
    if !live.fuse_known() {
        out.push(Diagnostic::new(
            Level::Info,
            Topic::Current,
            format!(
                "CT meter: currents not judged against the {fuse:.0} A default fuse; \
                 set [site] fuse_a"
            ),
        ));
        return;
    }
    for (p, i) in r.current[..phases].iter().enumerate() {
        let Some(i) = *i else { continue };
        let share = i / fuse;
        let text = if share > 1.0 {
            format!("L{} {i:.1} A: above the {fuse:.0} A main fuse", p + 1)
        } else if share > FUSE_WARN_SHARE {
            format!(
                "L{} {i:.1} A: {:.0} % of the {fuse:.0} A main fuse",
                p + 1,
                share * 100.0
            )
        } else {
            continue;
        };
        let level = if share > 1.0 { Level::Bad } else { Level::Warn };
        out.push(
            Diagnostic::new(level, Topic::Current, text)
                .with("I", i, "A")
                .with("fuse", fuse, "A"),
        );
    }
}

/// Whether `ratio` is 10, 100 or 1000 (or a tenth, hundredth, thousandth) within the tolerance:
/// the exponent of the factor, positive when the currents are too small.
pub fn decade(ratio: f64) -> Option<i32> {
    (1..=3).find_map(|n| {
        let k = 10f64.powi(n);
        if (ratio / k - 1.0).abs() <= SCALING_TOLERANCE {
            Some(n)
        } else if (ratio * k - 1.0).abs() <= SCALING_TOLERANCE {
            Some(-n)
        } else {
            None
        }
    })
}

/// Metered power against U x I. Returns whether a scaling error was found (the fuse is then not
/// judged: the currents are not what they seem).
fn power_checks(
    live: &LiveState,
    r: &Reading,
    missing: &[usize],
    out: &mut Vec<Diagnostic>,
) -> bool {
    let Some(f) = power_figures(r, live.wiring()) else {
        return false;
    };
    // With a phase gone, U x I leaves it out: no verdict on the scaling.
    let incomplete = !missing.is_empty()
        || (!f.three_wire
            && (0..live.phases().unwrap_or(3)).any(|p| {
                r.voltage[p].is_some_and(|u| u >= PHASE_MISSING_V) && r.current[p].is_none()
            }));
    if incomplete {
        if f.pf > PF_MAX {
            let text = format!(
                "PF {:.2} above 1: {} leaves out a missing phase (scaling not judged)",
                f.pf.min(99.99),
                f.s_label()
            );
            out.push(with_figures(
                Diagnostic::new(Level::Warn, Topic::Power, text),
                &f,
            ));
        }
        return false;
    }
    if f.s_pq.max(f.s_ui) < MIN_JUDGED_VA {
        return false;
    }
    if let Some(d) = scaling_error(&f, r.current_scaler) {
        out.push(with_figures(d, &f));
        return true;
    }
    if let Some(d) = implausible_power(live, &f) {
        out.push(with_figures(d, &f));
    }
    false
}

/// A verdict with the power figures it judged.
fn with_figures(d: Diagnostic, f: &PowerFigures) -> Diagnostic {
    let d = d
        .with("P", f.p, "W")
        .with(f.s_label(), f.s_ui, "VA")
        .with("PF", f.pf, "")
        .with("ratio", f.ratio, "");
    match f.q {
        Some(q) => d.with("Q", q, "var"),
        None => d,
    }
}

/// An exact factor of 10, 100 or 1000 between the metered power and U x I: the current scaler,
/// and the one that fits.
fn scaling_error(f: &PowerFigures, scaler: i8) -> Option<Diagnostic> {
    let n = decade(f.ratio)?;
    let fits = (i32::from(scaler) + n).clamp(-9, 9) as i8;
    let factor = 10i32.pow(n.unsigned_abs());
    let s = f.s_label();
    let how = if n > 0 {
        format!("P is {factor}x {s}")
    } else {
        format!("P is 1/{factor} of {s}")
    };
    let unit = current_unit(fits);
    let text = format!(
        "scaling error, not wiring: {how} ({:.0} W, {:.0} VA): current scaler {fits} fits: \
         the meter sends {unit}",
        f.p, f.s_ui
    );
    Some(
        Diagnostic::new(Level::Bad, Topic::Power, text)
            .with("scaler fits", f64::from(fits), "")
            .short(format!(
                "scaling error: current scaler {fits} fits ({unit})"
            )),
    )
}

/// A power factor above 1, or metered power far below U x I.
fn implausible_power(live: &LiveState, f: &PowerFigures) -> Option<Diagnostic> {
    let s = f.s_label();
    let ct = live.meter_kind == MeterKind::ThreePhaseCt;
    if f.pf > PF_MAX {
        let what = if ct {
            "current scaler, CT ratio"
        } else {
            "current scaler"
        };
        let pf = f.pf.min(99.99);
        let text = format!(
            "PF {pf:.2} above 1: P {:.0} W exceeds {s} {:.0} VA: a scaling error ({what}) or a \
             phase the list leaves out",
            f.p, f.s_ui
        );
        return Some(
            Diagnostic::new(Level::Bad, Topic::Power, text)
                .short(format!("PF {pf:.2} above 1: scaling, or a phase left out")),
        );
    }
    if f.ratio < REVERSED_RATIO && f.s_ui > MIN_JUDGED_VA {
        let share = f.ratio * 100.0;
        let why = if ct {
            "a CT may be reversed or on the wrong phase"
        } else {
            "check the wiring"
        };
        let text = format!(
            "metered power only {share:.0} % of {s} {:.0} VA: {why}",
            f.s_ui
        );
        return Some(
            Diagnostic::new(Level::Bad, Topic::Power, text)
                .short(format!("metered power only {share:.0} % of {s}: {why}")),
        );
    }
    None
}

impl ClockCheck {
    /// The verdict, if the clock gives one.
    pub fn diagnostic(&self) -> Option<Diagnostic> {
        let level = self.level()?;
        let mut d = Diagnostic::new(level, Topic::Clock, self.describe());
        if let ClockCheck::Off {
            offset, reference, ..
        } = self
        {
            d = d.short(format!(
                "meter clock {} off {}",
                human_seconds(*offset),
                reference.name()
            ));
        }
        if let Some(s) = self.offset_seconds() {
            d = d.with("offset", s as f64, "s");
        }
        Some(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decades_within_the_tolerance() {
        assert_eq!(decade(10.0), Some(1));
        assert_eq!(decade(9.83), Some(1));
        assert_eq!(decade(0.1), Some(-1));
        assert_eq!(decade(101.0), Some(2));
        assert_eq!(decade(0.00098), Some(-3));
        assert_eq!(decade(1.47), None);
        assert_eq!(decade(8.0), None);
        assert_eq!(decade(1.0), None);
    }

    #[test]
    fn offsets_in_days_from_a_day_up() {
        assert_eq!(human_seconds(-5), "-5 s");
        assert_eq!(human_seconds(125), "+2 min 5 s");
        assert_eq!(human_seconds(-3600), "-1 h 0 min");
        assert_eq!(human_seconds(-65_012_400), "-752 d 11 h");
    }

    #[test]
    fn current_units_in_words() {
        assert_eq!(current_unit(-3), "mA");
        assert_eq!(current_unit(-2), "0.01 A");
        assert_eq!(current_unit(-5), "10^-5 A");
    }
}
