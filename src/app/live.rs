//! Live HAN values: the latest push, history for the charts, energy registers, and the
//! plain-language diagnostics an installer needs.

use crate::protocol::datetime::DateTime as CosemDateTime;
use crate::protocol::han::{Brand, HanMessage, ListKind, MeterKind};
use chrono::{DateTime, FixedOffset, Local, NaiveDateTime, Offset, TimeZone, Utc};
use std::collections::VecDeque;

/// One list 1 (or list 2) push, scaled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    pub received: DateTime<Utc>,
    pub meter_time: Option<NaiveDateTime>,
    /// P import, P export (W), Q import, Q export (var).
    pub power: [Option<f64>; 4],
    pub voltage: [Option<f64>; 3],
    pub current: [Option<f64>; 3],
}

impl Reading {
    /// Net active power: import minus export.
    pub fn net_power(&self) -> Option<f64> {
        Some(self.power[0]? - self.power[1].unwrap_or(0.0))
    }

    /// Sum of U x I over the phases present (VA).
    pub fn apparent_from_phases(&self) -> Option<f64> {
        let mut sum = None;
        for (u, i) in self.voltage.iter().zip(self.current) {
            if let (Some(u), Some(i)) = (u, i) {
                *sum.get_or_insert(0.0) += u * i;
            }
        }
        sum
    }
}

/// Energy registers from the last list 2.
#[derive(Debug, Clone, PartialEq)]
pub struct Energies {
    pub received: DateTime<Utc>,
    pub meter_time: Option<NaiveDateTime>,
    /// A14 / A+, A23 / A-, R12 / R+, R34 / R-: (scaled value, raw, unit).
    pub registers: [Option<(f64, i128, &'static str)>; 4],
}

/// History kept for the charts: a little over a day at one push per 10 s.
pub const HISTORY_LEN: usize = 9000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartKind {
    Power,
    Voltage,
    Current,
}

impl ChartKind {
    pub fn next(self) -> Self {
        match self {
            ChartKind::Power => ChartKind::Voltage,
            ChartKind::Voltage => ChartKind::Current,
            ChartKind::Current => ChartKind::Power,
        }
    }
    pub fn title(self) -> &'static str {
        match self {
            ChartKind::Power => "active power (W)",
            ChartKind::Voltage => "voltage per phase (V)",
            ChartKind::Current => "current per phase (A)",
        }
    }
}

/// Chart time windows, in seconds.
pub const WINDOWS: [(i64, &str); 4] = [
    (300, "5 min"),
    (3600, "1 h"),
    (6 * 3600, "6 h"),
    (24 * 3600, "24 h"),
];

#[derive(Debug, Clone)]
pub struct LiveState {
    pub brand: Option<Brand>,
    pub meter_id: Option<String>,
    pub meter_type: Option<String>,
    pub meter_kind: MeterKind,
    pub list_version: Option<String>,
    pub latest: Option<Reading>,
    pub latest_clock: Option<CosemDateTime>,
    pub history: VecDeque<Reading>,
    pub energies: Option<Energies>,
    pub pushes: u64,
    pub list2_pushes: u64,
    pub null_placeholders: usize,
    pub current_scaler: i8,
    pub chart: ChartKind,
    pub window: usize,
}

impl Default for LiveState {
    fn default() -> Self {
        LiveState {
            brand: None,
            meter_id: None,
            meter_type: None,
            meter_kind: MeterKind::Unknown,
            list_version: None,
            latest: None,
            latest_clock: None,
            history: VecDeque::new(),
            energies: None,
            pushes: 0,
            list2_pushes: 0,
            null_placeholders: 0,
            current_scaler: -2,
            chart: ChartKind::Power,
            window: 0,
        }
    }
}

fn naive(dt: &CosemDateTime) -> Option<NaiveDateTime> {
    let date =
        chrono::NaiveDate::from_ymd_opt(dt.year()?.into(), dt.month()?.into(), dt.day()?.into())?;
    date.and_hms_opt(dt.hour()?.into(), dt.minute()?.into(), dt.second()?.into())
}

impl LiveState {
    /// Takes in one decoded push.
    pub fn push(&mut self, m: &HanMessage, received: DateTime<Utc>) {
        self.pushes += 1;
        self.brand = Some(m.brand);
        if let Some(id) = m.meter_id() {
            self.meter_id = Some(id);
        }
        if let Some(t) = m.meter_type() {
            self.meter_type = Some(t.to_string());
            self.meter_kind = m.meter_kind;
        }
        if let Some(v) = m.list_version() {
            self.list_version = Some(v.to_string());
        }
        self.null_placeholders = m.null_placeholders;
        self.current_scaler = m.current_scaler;
        self.latest_clock = m.time().copied();
        let meter_time = m.time().and_then(naive);
        let phase = |c: u8| m.value(c, 7);
        let reading = Reading {
            received,
            meter_time,
            power: [phase(1), phase(2), phase(3), phase(4)],
            voltage: [phase(32), phase(52), phase(72)],
            current: [phase(31), phase(51), phase(71)],
        };
        if reading
            .power
            .iter()
            .chain(&reading.voltage)
            .chain(&reading.current)
            .any(Option::is_some)
        {
            self.latest = Some(reading);
            if self.history.len() == HISTORY_LEN {
                self.history.pop_front();
            }
            self.history.push_back(reading);
        }
        if m.list == ListKind::List2 {
            self.list2_pushes += 1;
            let reg = |c: u8| {
                m.fields
                    .iter()
                    .find(|f| {
                        f.code()
                            .is_some_and(|o| o.a() == 1 && o.c() == c && o.d() == 8 && o.e() == 0)
                    })
                    .and_then(|f| Some((f.scaled()?, f.value.as_i128()?, f.unit.unwrap_or(""))))
            };
            let registers = [reg(1), reg(2), reg(3), reg(4)];
            if registers.iter().any(Option::is_some) {
                self.energies = Some(Energies {
                    received,
                    meter_time: m.clock().and_then(naive).or(meter_time),
                    registers,
                });
            }
        }
    }

    /// Multiplies history by 10^delta for a scaler change (currents or energies).
    pub fn rescale(&mut self, current_delta: i32, energy_delta: i32) {
        let f = 10f64.powi(current_delta);
        for r in self.history.iter_mut().chain(self.latest.iter_mut()) {
            for i in r.current.iter_mut().flatten() {
                *i *= f;
            }
        }
        if let Some(e) = &mut self.energies {
            let g = 10f64.powi(energy_delta);
            for r in e.registers.iter_mut().flatten() {
                r.0 *= g;
            }
        }
    }

    /// Whether the meter has three phases (1-phase meters are not "missing" L2/L3).
    pub fn three_phase(&self) -> bool {
        match self.meter_kind {
            MeterKind::OnePhaseDirect => false,
            MeterKind::ThreePhaseDirect | MeterKind::ThreePhaseCt => true,
            MeterKind::Unknown => self
                .latest
                .is_some_and(|r| r.voltage[1].is_some() || r.voltage[2].is_some()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Ok,
    Info,
    Warn,
    Bad,
}

/// One plain-language verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub level: Level,
    pub text: String,
}

fn diag(level: Level, text: impl Into<String>) -> Diagnostic {
    Diagnostic {
        level,
        text: text.into(),
    }
}

/// Nominal voltage and the +/-10 % band.
pub const NOMINAL_V: f64 = 230.0;

/// The local UTC offset without daylight saving (the meter's clock ignores DST).
pub fn standard_offset_seconds(now: DateTime<Local>) -> i32 {
    let year = chrono::Datelike::year(&now);
    let jan = Local.with_ymd_and_hms(year, 1, 1, 12, 0, 0).single();
    let jul = Local.with_ymd_and_hms(year, 7, 1, 12, 0, 0).single();
    let off = |d: Option<DateTime<Local>>| d.map(|d| d.offset().fix().local_minus_utc());
    match (off(jan), off(jul)) {
        (Some(a), Some(b)) => a.min(b),
        _ => now.offset().fix().local_minus_utc(),
    }
}

/// Verdicts about the installation from the latest values, worst first.
/// `std_offset` is the local UTC offset without daylight saving, in seconds (the meter's clock
/// runs on standard time).
pub fn diagnostics(
    live: &LiveState,
    now: DateTime<FixedOffset>,
    std_offset: i32,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let Some(r) = live.latest else {
        return vec![diag(
            Level::Info,
            "waiting for the first push (list 1 comes every 10 s)",
        )];
    };
    let age = (now.with_timezone(&Utc) - r.received).num_seconds();
    if age > 25 {
        out.push(diag(
            Level::Bad,
            format!("no push for {age} s: list 1 should come every 10 s"),
        ));
    }
    // Phases.
    let phases = if live.three_phase() { 3 } else { 1 };
    let mut present = Vec::new();
    for p in 0..phases {
        match r.voltage[p] {
            None => out.push(diag(
                Level::Bad,
                format!("phase L{} missing: no voltage value sent", p + 1),
            )),
            Some(u) if u < 0.5 * NOMINAL_V => {
                out.push(diag(
                    Level::Bad,
                    format!("phase L{} missing: {u:.0} V", p + 1),
                ));
            }
            Some(u) if !(0.9 * NOMINAL_V..=1.1 * NOMINAL_V).contains(&u) => {
                out.push(diag(
                    Level::Warn,
                    format!(
                        "L{} voltage {u:.0} V outside 230 V +/-10 % (207-253 V)",
                        p + 1
                    ),
                ));
                present.push(p);
            }
            Some(_) => present.push(p),
        }
    }
    if phases == 3 && present.len() == 3 && !out.iter().any(|d| d.text.contains("voltage")) {
        out.push(diag(
            Level::Ok,
            "all three phases present, voltages within 230 V +/-10 %",
        ));
    } else if phases == 1 && present.len() == 1 && !out.iter().any(|d| d.text.contains("voltage")) {
        out.push(diag(
            Level::Ok,
            "1-phase meter: voltage within 230 V +/-10 %",
        ));
    }
    // Current imbalance.
    let currents: Vec<f64> = (0..phases).filter_map(|p| r.current[p]).collect();
    if currents.len() == 3 {
        let max = currents.iter().cloned().fold(f64::MIN, f64::max);
        let min = currents.iter().cloned().fold(f64::MAX, f64::min);
        if max > 5.0 && (max - min) / max > 0.7 {
            out.push(diag(
                Level::Warn,
                format!("strong current imbalance: {min:.2} A to {max:.2} A between phases"),
            ));
        }
    }
    // Export.
    if let Some(e) = r.power[1].filter(|&e| e > 0.0) {
        out.push(diag(
            Level::Info,
            format!("exporting {:.0} W to the grid", e),
        ));
    }
    // Power against U x I.
    if let (Some(s), Some(p)) = (r.apparent_from_phases(), r.power[0]) {
        let p_abs = p.max(r.power[1].unwrap_or(0.0));
        let q_abs = r.power[2].unwrap_or(0.0).max(r.power[3].unwrap_or(0.0));
        let pq = (p_abs * p_abs + q_abs * q_abs).sqrt();
        if s > 100.0 && pq > 1.2 * s + 50.0 {
            out.push(diag(
                Level::Bad,
                format!(
                    "power {pq:.0} VA exceeds sum U x I = {s:.0} VA: check the current scaling{}",
                    if live.meter_kind == MeterKind::ThreePhaseCt {
                        " and CT ratio"
                    } else {
                        ""
                    }
                ),
            ));
        } else if s > 500.0 && pq < 0.3 * s {
            out.push(diag(
                Level::Bad,
                format!(
                    "sum U x I = {s:.0} VA but only {pq:.0} VA measured: a CT may be reversed or on the wrong phase"
                ),
            ));
        }
    }
    // Clock.
    if let Some(clock) = &live.latest_clock {
        if clock.flagged_invalid() {
            out.push(diag(
                Level::Warn,
                "meter clock reports itself invalid (clock status bit)",
            ));
        }
        if let Some(meter) = r.meter_time {
            let received_local = r.received.with_timezone(now.offset());
            let utc_from_meter = meter - chrono::Duration::seconds(std_offset.into());
            let skew = (utc_from_meter - r.received.naive_utc()).num_seconds();
            let local_skew = (meter - received_local.naive_local()).num_seconds();
            if skew.abs() > 60 && local_skew.abs() > 60 {
                out.push(diag(
                    Level::Warn,
                    format!("meter clock {} off the laptop clock", human_seconds(skew)),
                ));
            }
        }
    }
    out.sort_by_key(|d| std::cmp::Reverse(d.level));
    out
}

/// `+2 min 5 s` style.
pub fn human_seconds(s: i64) -> String {
    let sign = if s < 0 { "-" } else { "+" };
    let a = s.unsigned_abs();
    match a {
        0..60 => format!("{sign}{a} s"),
        60..3600 => format!("{sign}{} min {} s", a / 60, a % 60),
        _ => format!("{sign}{} h {} min", a / 3600, a % 3600 / 60),
    }
}
