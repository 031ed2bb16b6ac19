//! The Readout tab's state: the protocol chosen for the readout port, the readout in progress,
//! the readouts taken in this run (so two can be compared, and A+ set beside the HAN side's),
//! an M-Bus scan's meters to pick from, and the exports.

use crate::app::compare::{self, EnergyReading};
use crate::protocol::mbus::session::{FoundMeter, SecondaryAddress, Target};
use crate::wire::detail::{FieldDetail, iec_fields};
use crate::wire::kmp::{KmpResult, KmpStatus, variant_name};
use crate::wire::mbus::{FoundMeterDetail, MbusReadoutDetail, MbusResult, MbusStatus};
use crate::wire::{ReadoutProtocol, ReadoutResult, ReadoutStatus, SpanDetail};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// A readout in progress, as its task reports it.
#[derive(Debug, Clone, PartialEq)]
pub enum Running {
    /// Asked for; the task has not reported yet.
    Starting(ReadoutProtocol),
    Iec(ReadoutStatus),
    Kmp(KmpStatus),
    Mbus(MbusStatus),
}

/// A readout in progress as the progress display shows it, whatever the protocol.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// What it is doing: `waiting for the identification`, `request 3 of 5`.
    pub phase: String,
    /// What came so far: `120 B · 4 lines`, `2 telegrams`.
    pub so_far: String,
    pub attempt: u8,
    pub echo_seen: bool,
    pub elapsed_ms: u64,
    /// How far along, and the time left, when that can be known.
    pub fraction: Option<f64>,
    pub eta_ms: Option<u64>,
    /// Who answered so far (the identification and speed).
    pub meter: Option<String>,
}

impl Running {
    pub fn protocol(&self) -> ReadoutProtocol {
        match self {
            Running::Starting(p) => *p,
            Running::Iec(_) => ReadoutProtocol::Iec,
            Running::Kmp(_) => ReadoutProtocol::Kmp,
            Running::Mbus(_) => ReadoutProtocol::Mbus,
        }
    }

    pub fn progress(&self) -> Progress {
        match self {
            Running::Starting(_) => Progress {
                phase: "starting".into(),
                so_far: String::new(),
                attempt: 0,
                echo_seen: false,
                elapsed_ms: 0,
                fraction: Some(0.0),
                eta_ms: None,
                meter: None,
            },
            Running::Iec(s) => Progress {
                phase: s.phase.to_string(),
                so_far: format!("{} B · {} lines", s.bytes, s.lines),
                attempt: s.attempt,
                echo_seen: s.echo_seen,
                elapsed_ms: s.elapsed_ms,
                fraction: match (s.eta_ms, s.lines) {
                    (Some(eta), _) => {
                        Some(s.elapsed_ms as f64 / (s.elapsed_ms + eta).max(1) as f64)
                    }
                    (None, 0) => Some(0.0),
                    (None, _) => None,
                },
                eta_ms: s.eta_ms,
                meter: s.ident.as_ref().map(|id| {
                    format!(
                        "{} {} · mode {} · {} baud",
                        id.manufacturer,
                        id.ident,
                        id.mode.name(),
                        s.baud
                    )
                }),
            },
            Running::Kmp(s) => Progress {
                phase: if s.done {
                    "done".into()
                } else {
                    format!("request {} of {}", (s.step + 1).min(s.steps), s.steps)
                },
                so_far: format!("{} of {} answered", s.step, s.steps),
                attempt: s.attempt,
                echo_seen: s.echo_seen,
                elapsed_ms: s.elapsed_ms,
                fraction: Some(s.step as f64 / s.steps.max(1) as f64),
                eta_ms: None,
                meter: Some(format!("KMP {}", variant_name(s.variant))),
            },
            Running::Mbus(s) => Progress {
                phase: match s.step {
                    Some(step) => format!("waiting for the answer to {}", step.name()),
                    None => "done".into(),
                },
                so_far: format!("{} telegrams · {} meters", s.telegrams, s.meters),
                attempt: s.attempt,
                echo_seen: s.echo_seen,
                elapsed_ms: s.elapsed_ms,
                fraction: None,
                eta_ms: None,
                meter: None,
            },
        }
    }
}

/// A finished readout of any protocol.
#[derive(Debug, Clone)]
pub enum Finished {
    Iec(ReadoutResult),
    Kmp(KmpResult),
    Mbus(MbusResult),
}

/// How a finished readout went, for its colour and the event log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Good,
    Cancelled,
    Failed,
}

impl Finished {
    pub fn protocol(&self) -> ReadoutProtocol {
        match self {
            Finished::Iec(_) => ReadoutProtocol::Iec,
            Finished::Kmp(_) => ReadoutProtocol::Kmp,
            Finished::Mbus(_) => ReadoutProtocol::Mbus,
        }
    }

    pub fn started(&self) -> DateTime<Utc> {
        match self {
            Finished::Iec(r) => r.started,
            Finished::Kmp(r) => r.started,
            Finished::Mbus(r) => r.started,
        }
    }

    pub fn duration_ms(&self) -> u64 {
        match self {
            Finished::Iec(r) => r.duration_ms,
            Finished::Kmp(r) => r.duration_ms,
            Finished::Mbus(r) => r.duration_ms,
        }
    }

    /// When the registers were read: the end of the readout.
    pub fn read_at(&self) -> DateTime<Utc> {
        self.started() + chrono::Duration::milliseconds(self.duration_ms() as i64)
    }

    pub fn echo_seen(&self) -> bool {
        match self {
            Finished::Iec(r) => r.echo_seen,
            Finished::Kmp(r) => r.echo_seen,
            Finished::Mbus(r) => r.echo_seen,
        }
    }

    pub fn outcome(&self) -> Outcome {
        use crate::protocol::{iec_session, kmp_session, mbus::session as mbus_session};
        match self {
            Finished::Iec(r) if r.verdict.ok() => Outcome::Good,
            Finished::Iec(r) if r.verdict == iec_session::Verdict::Cancelled => Outcome::Cancelled,
            Finished::Kmp(r) if r.verdict.ok() => Outcome::Good,
            Finished::Kmp(r) if r.verdict == kmp_session::Verdict::Cancelled => Outcome::Cancelled,
            Finished::Mbus(r) if r.verdict.ok() => Outcome::Good,
            Finished::Mbus(r) if matches!(r.verdict, mbus_session::Verdict::Cancelled) => {
                Outcome::Cancelled
            }
            _ => Outcome::Failed,
        }
    }

    /// The verdict as one sentence.
    pub fn verdict_text(&self) -> String {
        match self {
            Finished::Iec(r) => r.verdict.describe(),
            Finished::Kmp(r) => r.verdict.describe(),
            Finished::Mbus(r) => r.verdict.describe(),
        }
    }

    /// Who answered, as one line: the identification, the KMP variant, the M-Bus target.
    pub fn meter_line(&self) -> String {
        match self {
            Finished::Iec(r) => match &r.ident {
                Some(id) => format!(
                    "{} {} · mode {} {} baud",
                    id.manufacturer,
                    id.ident,
                    id.mode.name(),
                    r.baud
                ),
                None => "no identification".into(),
            },
            Finished::Kmp(r) => {
                let kind = self
                    .fields()
                    .into_iter()
                    .find(|f| f.name == "Meter type")
                    .map(|f| format!(" · {}", f.raw_text()))
                    .unwrap_or_default();
                format!("KMP {}{kind}", variant_name(r.variant))
            }
            Finished::Mbus(r) => {
                let meter = r.telegrams.iter().find_map(|s| {
                    let d = SpanDetail::of(&s.span(), &s.decoded);
                    d.meter_id.map(|id| format!(" · meter {id}"))
                });
                format!("{}{}", r.target, meter.unwrap_or_default())
            }
        }
    }

    /// A size for the head line: bytes of the IEC data block, answers, telegrams, meters.
    pub fn size_text(&self) -> String {
        match self {
            Finished::Iec(r) => format!("{} B", r.raw_block.len()),
            Finished::Kmp(r) => count(r.registers.len(), "register"),
            Finished::Mbus(r) if r.target == Target::Scan => count(r.meters.len(), "meter"),
            Finished::Mbus(r) => count(r.telegrams.len(), "telegram"),
        }
    }

    /// Where an IEC data block broke, when its verdict does not already say: not for a readout
    /// cut short (the verdict says where) or cancelled (the user stopped it).
    pub fn broke_at(&self) -> Option<&(usize, String)> {
        use crate::protocol::iec_session::Verdict;
        match self {
            Finished::Iec(r)
                if !matches!(r.verdict, Verdict::Incomplete { .. } | Verdict::Cancelled) =>
            {
                r.block.broke_at.as_ref()
            }
            _ => None,
        }
    }

    /// The registers, named as in `decode` (an M-Bus readout: every telegram's records).
    pub fn fields(&self) -> Vec<FieldDetail> {
        match self {
            Finished::Iec(r) => iec_fields(&r.block),
            Finished::Kmp(r) => r.fields(),
            Finished::Mbus(r) => r
                .telegrams
                .iter()
                .flat_map(|s| SpanDetail::of(&s.span(), &s.decoded).fields)
                .collect(),
        }
    }

    /// The meters an M-Bus scan found.
    pub fn scan(&self) -> Option<&[FoundMeter]> {
        match self {
            Finished::Mbus(r) if r.target == Target::Scan => Some(&r.meters),
            _ => None,
        }
    }

    /// Active energy import as this readout read it, for the comparison with the other sources.
    pub fn energy_import(&self) -> Option<EnergyReading> {
        if self.outcome() != Outcome::Good {
            return None;
        }
        let fields = self.fields();
        let field = fields.iter().find(|f| match self {
            Finished::Iec(_) => matches!(f.obis.as_deref(), Some("1.8.0" | "1.20")),
            Finished::Kmp(_) => f.name == "Total energy",
            // The first energy register of the current values: no tariff, storage or subunit,
            // an instantaneous value (the seed's A+ comes first, A- after it).
            Finished::Mbus(_) => {
                f.name == "Energy"
                    && f.storage == Some(0)
                    && f.tariff == Some(0)
                    && f.subunit == Some(0)
                    && f.function == Some("instantaneous")
            }
        })?;
        Some(EnergyReading {
            source: self.protocol().title(),
            register: field.obis.clone().unwrap_or_else(|| field.name.clone()),
            kwh: compare::kwh(field)?,
            at: self.read_at(),
            resolution_kwh: compare::resolution_kwh(field)?,
        })
    }
}

/// `1 meter`, `2 meters`.
fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

#[derive(Debug, Clone, Default)]
pub struct ReadoutTab {
    /// The readout port, when one is configured (`--optical`, or the demo meter's).
    pub port: Option<String>,
    /// What the next readout speaks (chosen with `p`, remembered per port).
    pub protocol: ReadoutProtocol,
    /// Which M-Bus meter the next M-Bus readout asks (primary 254: the one meter on the bus).
    pub mbus_target: Option<Target>,
    pub running: Option<Running>,
    pub results: Vec<Finished>,
    /// Index into `results` of the readout shown.
    pub selected: usize,
    /// Show the previous readout's values beside the selected one.
    pub compare: bool,
    /// First register row shown.
    pub scroll: u16,
    /// The meter picked in a shown M-Bus scan.
    pub scan_cursor: usize,
    /// Show the values as sent (`0012345`, `000023,4`) instead of the numbers read from them.
    pub show_raw: bool,
}

impl ReadoutTab {
    pub fn shown(&self) -> Option<&Finished> {
        self.results.get(self.selected)
    }

    /// The last readout of the same protocol before the shown one, for comparison.
    pub fn previous(&self) -> Option<&Finished> {
        let shown = self.shown()?;
        self.results[..self.selected]
            .iter()
            .rev()
            .find(|r| r.protocol() == shown.protocol() && r.scan().is_none())
    }

    pub fn finish(&mut self, result: Finished) {
        self.running = None;
        self.results.push(result);
        self.selected = self.results.len() - 1;
        self.scroll = 0;
        self.scan_cursor = 0;
    }

    pub fn select_by(&mut self, delta: isize) {
        if self.results.is_empty() {
            return;
        }
        self.selected =
            (self.selected as isize + delta).clamp(0, self.results.len() as isize - 1) as usize;
        self.scroll = 0;
        self.scan_cursor = 0;
    }

    /// The M-Bus meter the next readout asks.
    pub fn mbus_target(&self) -> Target {
        self.mbus_target.clone().unwrap_or(Target::Primary(254))
    }

    /// The meter under the cursor of a shown scan, as the next M-Bus target (by its secondary
    /// address: unique on the bus, unlike primary addresses that are often all 0).
    pub fn picked_meter(&self) -> Option<Target> {
        let meter = self.shown()?.scan()?.get(self.scan_cursor)?;
        SecondaryAddress::parse(&meter.id)
            .ok()
            .map(Target::Secondary)
    }

    /// The latest good readout of each protocol, with its A+ register.
    pub fn energy_readings(&self) -> Vec<EnergyReading> {
        ReadoutProtocol::ALL
            .iter()
            .filter_map(|p| {
                self.results
                    .iter()
                    .rev()
                    .filter(|r| r.protocol() == *p)
                    .find_map(Finished::energy_import)
            })
            .collect()
    }
}

fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// A readout as CSV: one row per value, with the protocol and verdict in a comment line first.
pub fn to_csv(r: &Finished) -> String {
    let mut out = format!(
        "# kamscope readout {} {} {} · {}\nid,name,raw,value,unit\n",
        r.protocol().key(),
        export_ident(r),
        r.started()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        r.verdict_text()
    );
    if let Some(meters) = r.scan() {
        out = format!(
            "# kamscope M-Bus scan {} · {}\nprimary,secondary,manufacturer,version,medium\n",
            r.started()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            r.verdict_text()
        );
        for m in meters.iter().map(FoundMeterDetail::of) {
            out.push_str(&format!(
                "{},{},{},{},{}\n",
                m.primary,
                m.id,
                csv_cell(&m.manufacturer),
                m.version,
                csv_cell(m.medium_name)
            ));
        }
        return out;
    }
    for f in r.fields() {
        out.push_str(&format!(
            "{},{},{},{},{}\n",
            csv_cell(f.obis.as_deref().unwrap_or("")),
            csv_cell(&f.name),
            csv_cell(&f.raw_text()),
            f.value.map(|v| v.to_string()).unwrap_or_default(),
            csv_cell(f.unit.as_deref().unwrap_or(""))
        ));
    }
    out
}

/// The JSON of a KMP readout in the Readout tab (`kamscope read --protocol kmp` adds the spans).
#[derive(Serialize)]
struct KmpExport<'a> {
    protocol: &'static str,
    variant: &'static str,
    port: &'a str,
    started: String,
    duration_ms: u64,
    ok: bool,
    verdict_text: String,
    echo: bool,
    registers: Vec<FieldDetail>,
}

/// A readout as JSON, in the shape of `kamscope read --format json` for its protocol.
pub fn to_json(r: &Finished) -> String {
    let mut s = match r {
        Finished::Iec(r) => serde_json::to_string_pretty(&SpanDetail::of_readout(r)),
        Finished::Kmp(k) => serde_json::to_string_pretty(&KmpExport {
            protocol: "kmp",
            variant: variant_name(k.variant),
            port: &k.port,
            started: k
                .started
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            duration_ms: k.duration_ms,
            ok: k.verdict.ok(),
            verdict_text: k.verdict.describe(),
            echo: k.echo_seen,
            registers: r.fields(),
        }),
        Finished::Mbus(m) => serde_json::to_string_pretty(&MbusReadoutDetail::of(m)),
    }
    .unwrap_or_default();
    s.push('\n');
    s
}

/// What names the meter in an export's file name.
fn export_ident(r: &Finished) -> String {
    let raw = match r {
        Finished::Iec(r) => r.ident.as_ref().map(|i| i.ident.clone()),
        Finished::Kmp(_) => r
            .fields()
            .into_iter()
            .find(|f| f.name == "Meter id")
            .map(|f| f.raw_text()),
        Finished::Mbus(m) if m.target == Target::Scan => Some("scan".into()),
        Finished::Mbus(m) => m.telegrams.iter().find_map(|s| {
            SpanDetail::of(&s.span(), &s.decoded)
                .meter_id
                .map(|id| id.to_string())
        }),
    };
    let ident: String = raw
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    if ident.is_empty() {
        "unknown".into()
    } else {
        ident
    }
}

/// A file name for an export: `kamscope-readout-iec-685351A300100-20240501-100000.csv`.
pub fn export_name(r: &Finished, ext: &str, offset: &chrono::FixedOffset) -> String {
    format!(
        "kamscope-readout-{}-{}-{}.{ext}",
        r.protocol().key(),
        export_ident(r),
        r.started().with_timezone(offset).format("%Y%m%d-%H%M%S")
    )
}
