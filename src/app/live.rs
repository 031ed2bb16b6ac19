//! Live HAN values: the latest push, history for the charts (with the raw integers, so a scaler
//! change rescales it exactly), energy registers, what the meter type says about the wiring, and
//! the plain-language diagnostics an installer needs ([`checks`], [`clock`]).

mod checks;
mod clock;

pub use checks::{
    Diagnostic, Evidence, Level, PowerFigures, Topic, current_unit, decade, diagnostics,
    human_seconds, nominal_voltage, power_figures,
};
pub use clock::{ClockCheck, ClockReference, clock_check, eu_summer_time, status_words};

use crate::protocol::datetime::DateTime as CosemDateTime;
use crate::protocol::han::{Brand, HanMessage, ListKind, MeterKind};
use chrono::{DateTime, Local, NaiveDateTime, Offset, TimeZone, Utc};
use std::collections::VecDeque;

/// The thresholds every verdict is judged by, decided once here (not in the drawing code).
pub mod limits {
    /// Kamstrup list 1 comes every 10 s.
    pub const PUSH_PERIOD_S: i64 = 10;
    /// No push for more than two periods (and a little): the values are stale.
    pub const STALE_AFTER_S: i64 = 25;
    /// Nominal voltage of a 230 V network (phase to neutral on 4-wire meters, line to line on
    /// 3-wire meters in a 230 V IT network).
    pub const NOMINAL_V: f64 = 230.0;
    /// Nominal line-to-line voltage of a 400 V network seen by a 3-wire meter.
    pub const NOMINAL_V_400: f64 = 400.0;
    /// The tolerated band around the nominal voltage (EN 50160: +/-10 %).
    pub const VOLTAGE_BAND: f64 = 0.10;
    /// Below this a phase counts as missing: the level at which Kamstrup meters light their own
    /// "phase missing" indicator.
    pub const PHASE_MISSING_V: f64 = 160.0;
    /// A phase current above this share of the main fuse is worth a warning.
    pub const FUSE_WARN_SHARE: f64 = 0.8;
    /// The main fuse when the site does not name one (the lead sets [`super::LiveState::fuse_a`]
    /// from `[site] fuse_a`; `tests/verdicts.rs` checks this equals `config::DEFAULT_FUSE_A`).
    pub const DEFAULT_FUSE_A: f64 = 25.0;
    /// Metered power against U x I: a ratio this close (relative) to 10, 100 or 1000 (or their
    /// inverses) is a scaling error, not the wiring.
    pub const SCALING_TOLERANCE: f64 = 0.05;
    /// Power factor P/S above this is impossible: scaling, or a phase missing from U x I.
    pub const PF_MAX: f64 = 1.05;
    /// Metered power below this share of U x I on a CT meter: a CT reversed or on the wrong phase.
    pub const REVERSED_RATIO: f64 = 0.3;
    /// Power is judged against U x I only above this apparent power (either side), so a meter
    /// at rest with rounding noise is not judged.
    pub const MIN_JUDGED_VA: f64 = 200.0;
    /// A meter clock this close (seconds) to the reference is right.
    pub const CLOCK_TOLERANCE_S: i64 = 60;
    /// More than this share of the frames bad is a warning, not a remark.
    pub const BAD_FRAMES_WARN_SHARE: f64 = 0.1;
    /// Connected this long (seconds) without a byte: "no bytes at all".
    pub const NO_BYTES_AFTER_S: i64 = 12;
    /// This many bytes without a good frame (more than two list 2 frames) is "bytes but no
    /// frames"; fewer may be a push joined in the middle.
    pub const NO_FRAME_AFTER_BYTES: u64 = 600;
}

/// One list 1 (or list 2) push, scaled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    pub received: DateTime<Utc>,
    pub meter_time: Option<NaiveDateTime>,
    /// P import, P export (W), Q import, Q export (var).
    pub power: [Option<f64>; 4],
    pub voltage: [Option<f64>; 3],
    pub current: [Option<f64>; 3],
    /// The currents exactly as sent (integers), for rescaling.
    pub current_raw: [Option<i128>; 3],
    /// The 10-exponent `current` holds `current_raw` scaled with.
    pub current_scaler: i8,
    /// Whether the current scaler comes from the scaling settings (Kamstrup; Aidon sends its
    /// own scaler in the frame and Kaifa's is fixed).
    pub scalable: bool,
    /// A voltage the meter sends as 0 because it does not measure it: Kaifa's 3-wire MA304H3
    /// measures L1-L2 and L3-L2 and sends UL2 = 0 (kept as no value, not as a missing phase).
    pub voltage_not_measured: [bool; 3],
}

/// raw x 10^scaler, dividing by an exact power of ten so 237 x 10^-2 is 2.37.
pub fn scaled(raw: i128, scaler: i8) -> f64 {
    let s = i32::from(scaler);
    if s < 0 {
        raw as f64 / 10f64.powi(-s)
    } else {
        raw as f64 * 10f64.powi(s)
    }
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

    /// Rescales the currents to `scaler`: from the raw integers where the meter sent integers.
    fn set_current_scaler(&mut self, scaler: i8) {
        if !self.scalable || scaler == self.current_scaler {
            return;
        }
        let f = 10f64.powi(i32::from(scaler) - i32::from(self.current_scaler));
        for (i, raw) in self.current.iter_mut().zip(self.current_raw) {
            *i = match raw {
                Some(raw) => Some(scaled(raw, scaler)),
                None => i.map(|i| i * f),
            };
        }
        self.current_scaler = scaler;
    }
}

/// Energy registers from the last list 2.
#[derive(Debug, Clone, PartialEq)]
pub struct Energies {
    pub received: DateTime<Utc>,
    pub meter_time: Option<NaiveDateTime>,
    /// A14 / A+, A23 / A-, R12 / R+, R34 / R-: (scaled value, raw, unit).
    pub registers: [Option<(f64, i128, &'static str)>; 4],
    /// The 10-exponent the values hold the raw integers scaled with.
    pub scaler: i8,
    /// Whether the energy scaling setting applies: Kamstrup HAN-NVE registers; not values whose
    /// scaler or unit came with them (Aidon, P1).
    pub scalable: bool,
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
            ChartKind::Power => "active power",
            ChartKind::Voltage => "voltage per phase",
            ChartKind::Current => "current per phase",
        }
    }
    /// The unit of the y axis.
    pub fn unit(self) -> &'static str {
        match self {
            ChartKind::Power => "W",
            ChartKind::Voltage => "V",
            ChartKind::Current => "A",
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

/// How the meter is connected to the network, from its type number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wiring {
    /// 1-phase, 2-wire (Kamstrup 686-...).
    OnePhase,
    /// 3-phase, 3-wire (IT networks, common in Norway): line-to-line voltages; one phase's current
    /// may not be measured.
    ThreeWire,
    /// 3-phase, 4-wire (TN/TT): phase-to-neutral voltages.
    FourWire,
    /// Three phases, the wiring not told by the type (other brands).
    ThreePhase,
}

impl Wiring {
    /// The wiring a Kamstrup type number tells, if it tells one.
    ///
    /// The nameplate prints the type as `684-11-2...`; the push sends it without dashes
    /// (`6841121BN243101040`): three digits of family (684 3-phase direct, 685 3-phase CT,
    /// 686 1-phase), two digits, then the wire digit, so the wire digit is the 6th character.
    /// Decided from the fixtures: the Norwegian `6841121...` meters report 221-233 V on every phase
    /// (line to line in a 230 V IT network: 3-wire), the `6841131...`/`6841138...` meters from
    /// Sweden, Denmark and Norway 226-243 V phase to neutral (4-wire), and the 1-phase
    /// `6861111...` has a 1 there.
    ///
    /// Kaifa's types name the wiring too (public HAN reader reports and grid companies' pages):
    /// MA105/MA110 1-phase, MA304H3 3-phase 3-wire (IT, L2 voltage not measured), MA304H4
    /// 3-phase 4-wire.
    pub fn from_type(meter_type: &str) -> Option<Wiring> {
        if let Some(kaifa) = meter_type.strip_prefix("MA") {
            return match kaifa.get(..5) {
                _ if kaifa.starts_with("105") || kaifa.starts_with("110") => Some(Wiring::OnePhase),
                Some("304H3") => Some(Wiring::ThreeWire),
                Some("304H4") => Some(Wiring::FourWire),
                _ if kaifa.starts_with("304") => Some(Wiring::ThreePhase),
                _ => None,
            };
        }
        let family = meter_type.get(..3)?;
        let wires = meter_type.as_bytes().get(5).copied();
        match (family, wires) {
            ("686", _) => Some(Wiring::OnePhase),
            ("684" | "685", Some(b'2')) => Some(Wiring::ThreeWire),
            ("684" | "685", Some(b'3')) => Some(Wiring::FourWire),
            ("684" | "685", _) => Some(Wiring::ThreePhase),
            _ => None,
        }
    }

    pub fn phases(self) -> usize {
        match self {
            Wiring::OnePhase => 1,
            _ => 3,
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Wiring::OnePhase => "1-phase",
            Wiring::ThreeWire => "3-wire IT",
            Wiring::FourWire => "4-wire",
            Wiring::ThreePhase => "3-phase",
        }
    }
}

#[derive(Debug, Clone)]
pub struct LiveState {
    pub brand: Option<Brand>,
    pub meter_id: Option<String>,
    pub meter_type: Option<String>,
    pub meter_kind: MeterKind,
    pub list_version: Option<String>,
    /// A P1 meter's identification line (`KAM5 Kamstrup OMNIPOWER`).
    pub identification: Option<String>,
    pub latest: Option<Reading>,
    pub latest_clock: Option<CosemDateTime>,
    pub history: VecDeque<Reading>,
    pub energies: Option<Energies>,
    pub pushes: u64,
    pub list2_pushes: u64,
    /// The kind of the latest push (a P1 telegram brings its registers every time, or never).
    pub last_list: Option<ListKind>,
    pub null_placeholders: usize,
    pub current_scaler: i8,
    pub chart: ChartKind,
    pub window: usize,
    /// The main fuse in amperes: phase currents are judged against it (`[site] fuse_a`).
    pub fuse_a: f64,
    /// What the meter clock is compared with (the laptop clock, a recording's times, nothing).
    pub clock_reference: ClockReference,
}

impl Default for LiveState {
    fn default() -> Self {
        LiveState {
            brand: None,
            meter_id: None,
            meter_type: None,
            meter_kind: MeterKind::Unknown,
            list_version: None,
            identification: None,
            latest: None,
            latest_clock: None,
            history: VecDeque::new(),
            energies: None,
            pushes: 0,
            list2_pushes: 0,
            last_list: None,
            null_placeholders: 0,
            current_scaler: -2,
            chart: ChartKind::Power,
            window: 0,
            fuse_a: limits::DEFAULT_FUSE_A,
            clock_reference: ClockReference::Laptop,
        }
    }
}

fn naive(dt: &CosemDateTime) -> Option<NaiveDateTime> {
    let date =
        chrono::NaiveDate::from_ymd_opt(dt.year()?.into(), dt.month()?.into(), dt.day()?.into())?;
    date.and_hms_opt(dt.hour()?.into(), dt.minute()?.into(), dt.second()?.into())
}

/// The per-phase and power values of a push.
fn reading_of(m: &HanMessage, received: DateTime<Utc>) -> Reading {
    let field = |c: u8| {
        m.fields().iter().find(|f| {
            f.code()
                .is_some_and(|o| o.a() == 1 && o.c() == c && o.d() == 7 && o.e() == 0)
        })
    };
    let value = |c: u8| field(c).and_then(|f| f.scaled());
    let currents = [31, 51, 71];
    let mut voltage = [value(32), value(52), value(72)];
    let mut voltage_not_measured = [false; 3];
    let kaifa_three_wire = m.brand == Brand::Kaifa
        && m.meter_type().and_then(Wiring::from_type) == Some(Wiring::ThreeWire);
    if kaifa_three_wire && voltage[1] == Some(0.0) {
        voltage[1] = None;
        voltage_not_measured[1] = true;
    }
    let scaler = currents
        .iter()
        .find_map(|&c| field(c).and_then(|f| f.scaler))
        .unwrap_or(m.current_scaler);
    Reading {
        received,
        meter_time: m.time().as_ref().and_then(naive),
        power: [value(1), value(2), value(3), value(4)],
        voltage,
        current: currents.map(value),
        current_raw: currents.map(|c| field(c).and_then(|f| f.value.as_i128())),
        current_scaler: scaler,
        scalable: m.kamstrup_scaling(),
        voltage_not_measured,
    }
}

impl LiveState {
    /// Takes in one decoded push.
    pub fn push(&mut self, m: &HanMessage, received: DateTime<Utc>) {
        self.pushes += 1;
        self.last_list = Some(m.list);
        self.brand = Some(m.brand);
        if let Some(id) = m.meter_id() {
            self.meter_id = Some(id);
        }
        if let Some(t) = m.meter_type() {
            self.meter_type = Some(t.to_string());
            self.meter_kind = m.meter_kind;
        }
        if let Some(ident) = &m.identification {
            self.identification = Some(ident.clone());
        }
        if let Some(v) = m.list_version() {
            self.list_version = Some(v.to_string());
        }
        self.null_placeholders = m.null_placeholders;
        if m.kamstrup_scaling() && m.current_scaler != self.current_scaler {
            // The reader applies another scaler now (a setting changed): the history follows.
            self.current_scaler = m.current_scaler;
            self.rescale_history();
        }
        self.current_scaler = m.current_scaler;
        self.latest_clock = m.time();
        let reading = reading_of(m, received);
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
            } else if self.history.capacity() == 0 {
                // A day of pushes fills it: take its full size at once, rather than doubling
                // to almost twice that.
                self.history.reserve_exact(HISTORY_LEN);
            }
            self.history.push_back(reading);
        }
        match m.list {
            ListKind::List2 => {
                self.list2_pushes += 1;
                self.take_energies(m, received, reading.meter_time);
            }
            // P1 telegrams carry the registers every time.
            ListKind::Telegram => self.take_energies(m, received, reading.meter_time),
            ListKind::List1 | ListKind::Other => {}
        }
    }

    fn take_energies(
        &mut self,
        m: &HanMessage,
        received: DateTime<Utc>,
        meter_time: Option<NaiveDateTime>,
    ) {
        let field = |c: u8| {
            m.fields().iter().find(|f| {
                f.code()
                    .is_some_and(|o| o.a() == 1 && o.c() == c && o.d() == 8 && o.e() == 0)
            })
        };
        let reg = |c: u8| {
            field(c).and_then(|f| Some((f.scaled()?, f.value.as_i128()?, f.unit.unwrap_or(""))))
        };
        let registers = [reg(1), reg(2), reg(3), reg(4)];
        if registers.iter().any(Option::is_some) {
            let scaler = (1..=4)
                .find_map(|c| field(c).and_then(|f| f.scaler))
                .unwrap_or(0);
            self.energies = Some(Energies {
                received,
                meter_time: m.clock().as_ref().and_then(naive).or(meter_time),
                registers,
                scaler,
                scalable: m.kamstrup_scaling(),
            });
        }
    }

    /// Brings every reading to the current scaler, from the raw integers.
    fn rescale_history(&mut self) {
        let s = self.current_scaler;
        for r in self.history.iter_mut().chain(self.latest.iter_mut()) {
            r.set_current_scaler(s);
        }
    }

    /// A scaler change by `current_delta` (currents) and `energy_delta` (energies): the values
    /// and the whole chart history are computed again from the raw integers.
    pub fn rescale(&mut self, current_delta: i32, energy_delta: i32) {
        let clamp = |v: i32| v.clamp(-9, 9) as i8;
        self.current_scaler = clamp(i32::from(self.current_scaler) + current_delta);
        self.rescale_history();
        if let Some(e) = self.energies.as_mut().filter(|e| e.scalable) {
            e.scaler = clamp(i32::from(e.scaler) + energy_delta);
            for r in e.registers.iter_mut().flatten() {
                r.0 = scaled(r.1, e.scaler);
            }
        }
    }

    /// Why the scaling settings do not change what is shown: the latest push carries its own
    /// units or scalers, or its brand documents fixed ones (P1 telegrams, Aidon and Kaifa
    /// lists). `None` when they apply or nothing came yet.
    pub fn scalers_do_not_apply(&self) -> Option<&'static str> {
        if self.latest.as_ref().is_none_or(|r| r.scalable) {
            return None;
        }
        Some(if self.last_list == Some(ListKind::Telegram) {
            "P1 telegrams carry their units: the scalers apply to Kamstrup HAN-NVE lists"
        } else {
            "the scalers apply to Kamstrup HAN-NVE lists, not to this meter's values"
        })
    }

    /// Sets the scalers outright (`current` `None`: by meter type, -3 on CT meters, else -2) and
    /// rescales everything from the raw integers.
    pub fn set_scalers(&mut self, current: Option<i8>, energy: i8) {
        let current = current.unwrap_or(match self.meter_kind {
            MeterKind::ThreePhaseCt => -3,
            _ => -2,
        });
        let energy_delta = self
            .energies
            .as_ref()
            .filter(|e| e.scalable)
            .map_or(0, |e| i32::from(energy) - i32::from(e.scaler));
        self.rescale(
            i32::from(current) - i32::from(self.current_scaler),
            energy_delta,
        );
    }

    /// The wiring, once a push has told it: by the meter type, else by the phases the latest push
    /// carries. `None` until then.
    pub fn wiring(&self) -> Option<Wiring> {
        if let Some(w) = self.meter_type.as_deref().and_then(Wiring::from_type) {
            return Some(w);
        }
        match self.meter_kind {
            MeterKind::OnePhaseDirect => return Some(Wiring::OnePhase),
            MeterKind::ThreePhaseDirect | MeterKind::ThreePhaseCt => {
                return Some(Wiring::ThreePhase);
            }
            MeterKind::Unknown => {}
        }
        let r = self.latest?;
        if r.voltage[1].is_some() || r.voltage[2].is_some() {
            Some(Wiring::ThreePhase)
        } else if r.voltage[0].is_some() {
            Some(Wiring::OnePhase)
        } else {
            None
        }
    }

    /// Whether [`LiveState::fuse_a`] can be the main fuse of this site: a CT meter sits behind
    /// fuses far above the 25 A default, so on a CT meter the default says nothing.
    pub fn fuse_known(&self) -> bool {
        self.meter_kind != MeterKind::ThreePhaseCt || self.fuse_a != limits::DEFAULT_FUSE_A
    }

    /// How many phases the meter has, once a push has told it.
    pub fn phases(&self) -> Option<usize> {
        self.wiring().map(Wiring::phases)
    }

    /// Whether the meter is known to have three phases (1-phase meters are not "missing" L2/L3;
    /// unknown is not three).
    pub fn three_phase(&self) -> bool {
        self.phases() == Some(3)
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wiring_from_the_type_number() {
        assert_eq!(
            Wiring::from_type("6841121BN243101040"),
            Some(Wiring::ThreeWire)
        );
        assert_eq!(
            Wiring::from_type("6851121BN243101040"),
            Some(Wiring::ThreeWire)
        );
        assert_eq!(
            Wiring::from_type("6841131BN243101040"),
            Some(Wiring::FourWire)
        );
        assert_eq!(
            Wiring::from_type("6841138BN143101010"),
            Some(Wiring::FourWire)
        );
        assert_eq!(
            Wiring::from_type("6861111BN242101040"),
            Some(Wiring::OnePhase)
        );
        assert_eq!(Wiring::from_type("684"), Some(Wiring::ThreePhase));
        assert_eq!(Wiring::from_type("000000000000000000"), None);
        assert_eq!(Wiring::from_type("MA304H3E"), Some(Wiring::ThreeWire));
        assert_eq!(Wiring::from_type("MA304H4D"), Some(Wiring::FourWire));
        assert_eq!(Wiring::from_type("MA105H2E"), Some(Wiring::OnePhase));
        assert_eq!(Wiring::from_type("MA999"), None);
    }

    #[test]
    fn nothing_is_known_about_phases_before_a_push() {
        let live = LiveState::default();
        assert_eq!(live.wiring(), None);
        assert_eq!(live.phases(), None);
        assert!(!live.three_phase());
    }

    #[test]
    fn scaled_divides_exactly() {
        assert_eq!(scaled(237, -2).to_string(), "2.37");
        assert_eq!(scaled(15523251, 1), 155232510.0);
        assert_eq!(scaled(1369, -3), 1.369);
    }
}
