//! The installer's acceptance checks: the app's own verdicts ([`super::verdict::diagnostics`])
//! turned into checks with stable ids and a pass/warn/fail/skip status, so `kamscope check` and
//! the app judge a site the same way.

use super::App;
use super::compare::{self, Agreement};
use super::live::{Diagnostic, Evidence, Level, Topic, limits, power_figures};
use super::readout::Outcome;
use super::verdict;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Skip,
    Warn,
    Fail,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Skip => "skip",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }

    fn of(level: Level) -> Status {
        match level {
            Level::Ok | Level::Info => Status::Pass,
            Level::Warn => Status::Warn,
            Level::Bad => Status::Fail,
        }
    }
}

/// One check: what it is about (a stable id), its status, and the numbers judged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub id: &'static str,
    pub status: Status,
    pub message: String,
    pub evidence: Vec<CheckEvidence>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckEvidence {
    pub name: &'static str,
    pub value: f64,
    pub unit: &'static str,
}

impl From<&Evidence> for CheckEvidence {
    fn from(e: &Evidence) -> Self {
        CheckEvidence {
            name: e.name,
            value: e.value,
            unit: e.unit,
        }
    }
}

impl Check {
    fn new(id: &'static str, status: Status, message: impl Into<String>) -> Self {
        Check {
            id,
            status,
            message: message.into(),
            evidence: Vec::new(),
        }
    }

    fn of(id: &'static str, d: &Diagnostic) -> Self {
        Check {
            id,
            status: Status::of(d.level),
            message: d.text.clone(),
            evidence: d.evidence.iter().map(CheckEvidence::from).collect(),
        }
    }
}

/// What the installer asked to be checked beyond the defaults.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CheckOptions {
    /// List 2 (hourly energy registers) must have come.
    pub wait_list2: bool,
    /// The site exports (solar): export must have been seen.
    pub expect_export: bool,
    /// An optical readout was asked for: without a good one the readout check fails.
    pub optical: bool,
    /// Said in the app's Check tab: hints name the app's keys, not `check`'s flags.
    pub in_app: bool,
}

/// The overall verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Pass,
    Fail,
    /// Nothing to judge: no bytes, no good frame, or no meter values.
    NoData,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::NoData => "no-data",
        }
    }
}

/// Whether the app has values to judge; `Err` with the no-data ladder's sentence when not.
pub fn usable(app: &App) -> Result<(), String> {
    if app.live.latest.is_some() {
        Ok(())
    } else {
        Err(verdict::rung(app).text)
    }
}

/// How many checks came out which way: `8 passed, 1 warning, 0 failed, 3 skipped`.
pub fn tally(checks: &[Check]) -> String {
    let count = |s| checks.iter().filter(|c| c.status == s).count();
    let warnings = count(Status::Warn);
    format!(
        "{} passed, {warnings} warning{}, {} failed, {} skipped",
        count(Status::Pass),
        if warnings == 1 { "" } else { "s" },
        count(Status::Fail),
        count(Status::Skip),
    )
}

/// The verdict of a set of checks (warnings pass).
pub fn verdict(app: &App, checks: &[Check]) -> Verdict {
    if usable(app).is_err() {
        Verdict::NoData
    } else if checks.iter().any(|c| c.status == Status::Fail) {
        Verdict::Fail
    } else {
        Verdict::Pass
    }
}

/// Every check, from the app's verdicts: data, identity, network, phases, voltage, current,
/// power, clock, export, list2.
pub fn checks(app: &App, options: CheckOptions) -> Vec<Check> {
    let live = &app.live;
    let diags = verdict::diagnostics(app);
    let mut out = vec![data_check(app, &diags)];
    if usable(app).is_err() {
        return out;
    }
    let by_topic = |t: Topic| diags.iter().filter(move |d| d.topic == t);
    // Pushes that stopped coming (values stale, link down) fail the data check.
    out.extend(
        by_topic(Topic::Push)
            .filter(|d| d.level >= Level::Warn)
            .map(|d| Check::of("data", d)),
    );

    // A P1 meter names its type in the identification line.
    let meter_type = live.meter_type.as_ref().or(live.identification.as_ref());
    out.push(match (&live.meter_id, meter_type) {
        (Some(id), Some(t)) => {
            Check::new("identity", Status::Pass, format!("meter {id}, type {t}"))
        }
        (id, t) => Check::new(
            "identity",
            Status::Fail,
            format!(
                "the pushes name no meter {}",
                match (id, t) {
                    (None, None) => "id or type",
                    (None, _) => "id",
                    _ => "type",
                }
            ),
        ),
    });
    let from_type = live
        .meter_type
        .as_deref()
        .and_then(super::live::Wiring::from_type);
    out.push(match (from_type, live.wiring()) {
        (Some(w), _) => Check::new(
            "network",
            Status::Pass,
            format!("{} meter (from the type number)", w.describe()),
        ),
        (None, Some(w)) => Check::new(
            "network",
            Status::Warn,
            format!(
                "the type number does not tell the wiring; the values look {}",
                w.describe()
            ),
        ),
        (None, None) => Check::new("network", Status::Warn, "wiring unknown"),
    });

    for d in by_topic(Topic::Phases) {
        // A voltage outside the band fails acceptance: the app warns (the network may recover),
        // but an installer must not leave a site with it unexplained.
        let (id, status) = match d.level {
            Level::Warn => ("voltage", Status::Fail),
            l => ("phases", Status::of(l)),
        };
        out.push(Check {
            status,
            ..Check::of(id, d)
        });
    }
    let voltage_judged = by_topic(Topic::Phases).any(|d| d.level == Level::Ok);
    if voltage_judged {
        out.push(Check::new(
            "voltage",
            Status::Pass,
            format!(
                "every phase within ±{:.0} % of nominal",
                limits::VOLTAGE_BAND * 100.0
            ),
        ));
    }

    let power: Vec<_> = by_topic(Topic::Power).collect();
    let scaling_error = power.iter().any(|d| d.evidence("scaler fits").is_some());
    let currents: Vec<_> = by_topic(Topic::Current).collect();
    out.extend(currents.iter().map(|d| {
        let mut c = Check::of("current", d);
        // Remarks without numbers ("not judged", "not measured") judged nothing.
        if d.level == Level::Info && d.evidence.is_empty() {
            c.status = Status::Skip;
        }
        c
    }));
    let fuse_judged = live.fuse_known() && !scaling_error;
    if scaling_error {
        out.push(Check::new(
            "current",
            Status::Skip,
            "currents not judged against the fuse: their scaling is wrong",
        ));
    } else if live
        .latest
        .is_none_or(|r| r.current.iter().all(Option::is_none))
    {
        out.push(Check::new(
            "current",
            Status::Skip,
            "no phase currents in the pushes",
        ));
    } else if fuse_judged && currents.iter().all(|d| d.level < Level::Warn) {
        out.push(Check::new(
            "current",
            Status::Pass,
            format!("every phase below the {:.0} A main fuse", live.fuse_a),
        ));
    }

    out.extend(power.iter().map(|d| Check::of("power", d)));
    if power.is_empty() {
        out.push(
            match live.latest.and_then(|r| power_figures(&r, live.wiring())) {
                Some(f) if f.s_pq.max(f.s_ui) >= limits::MIN_JUDGED_VA => Check::new(
                    "power",
                    Status::Pass,
                    format!(
                        "P {:.0} W fits {} {:.0} VA (PF {:.2}): scaling right",
                        f.p,
                        f.s_label(),
                        f.s_ui,
                        f.pf
                    ),
                ),
                Some(_) => Check::new(
                    "power",
                    Status::Skip,
                    format!(
                        "too little load to judge the scaling (below {:.0} VA)",
                        limits::MIN_JUDGED_VA
                    ),
                ),
                None => Check::new("power", Status::Skip, "no U and I to judge the power by"),
            },
        );
    }

    let clock: Vec<_> = by_topic(Topic::Clock).collect();
    out.extend(clock.iter().map(|d| {
        let mut c = Check::of("clock", d);
        // Remarks without an offset ("no times to compare with") judged nothing.
        if d.level == Level::Info && d.evidence("offset").is_none() {
            c.status = Status::Skip;
        }
        c
    }));
    if clock.is_empty() {
        out.push(Check::new(
            "clock",
            Status::Skip,
            "no meter clock to compare",
        ));
    }

    let exported = live
        .history
        .iter()
        .filter_map(|r| r.power[1])
        .fold(None::<f64>, |m, e| Some(m.map_or(e, |m| m.max(e))));
    out.push(match exported {
        Some(e) if e > 0.0 => Check::new(
            "export",
            Status::Pass,
            format!("export seen: up to {e:.0} W"),
        ),
        _ if options.expect_export => Check::new(
            "export",
            Status::Fail,
            "no export seen: check the inverter, or the direction of the CTs",
        ),
        _ => Check::new("export", Status::Skip, "no export seen (not expected)"),
    });

    out.push(if live.list2_pushes > 0 {
        let mut c = Check::new(
            "list2",
            Status::Pass,
            format!(
                "list 2 seen ({})",
                if live.list2_pushes == 1 {
                    "1 push".to_string()
                } else {
                    format!("{} pushes", live.list2_pushes)
                }
            ),
        );
        // Its energy registers, as the meter counts them.
        if let Some(e) = &live.energies {
            let names = ["A+", "A-", "R+", "R-"];
            let parts: Vec<String> = names
                .iter()
                .zip(e.registers)
                .filter_map(|(name, r)| r.map(|(value, _, unit)| (name, value, unit)))
                .map(|(name, value, unit)| {
                    c.evidence.push(CheckEvidence { name, value, unit });
                    match unit {
                        "Wh" | "varh" => format!("{name} {:.3} k{unit}", value / 1000.0),
                        _ => format!("{name} {value} {unit}"),
                    }
                })
                .collect();
            if !parts.is_empty() {
                c.message = format!("{}: {}", c.message, parts.join(", "));
            }
        }
        c
    } else if options.wait_list2 {
        Check::new(
            "list2",
            Status::Fail,
            "no list 2 (energy registers, hourly) while listening",
        )
    } else {
        Check::new(
            "list2",
            Status::Skip,
            if options.in_app {
                "list 2 comes hourly: not seen yet"
            } else {
                "list 2 comes hourly: not waited for (--wait-list2)"
            },
        )
    });
    out.push(readout_check(app, options));
    out.push(energy_check(app, options));
    out
}

/// The optical (or M-Bus) readout: complete with good checksums, its registers counted.
fn readout_check(app: &App, options: CheckOptions) -> Check {
    let tab = &app.readout;
    // A scan lists meters; it reads no registers.
    let latest = tab.results.iter().rev().find(|r| r.scan().is_none());
    match latest {
        Some(r) => {
            let title = r.protocol().title();
            let verdict = r.verdict_text();
            let mut c = match r.outcome() {
                Outcome::Good => Check::new(
                    "readout",
                    Status::Pass,
                    format!("{title} readout: {verdict}; {}", r.meter_line()),
                ),
                Outcome::Cancelled => Check::new(
                    "readout",
                    Status::Fail,
                    format!("{title} readout cancelled before it ended"),
                ),
                Outcome::Failed => Check::new(
                    "readout",
                    Status::Fail,
                    format!("{title} readout failed: {verdict}"),
                ),
            };
            c.evidence.push(CheckEvidence {
                name: "registers",
                value: r.fields().len() as f64,
                unit: "",
            });
            c.evidence.push(CheckEvidence {
                name: "duration",
                value: r.duration_ms() as f64 / 1000.0,
                unit: "s",
            });
            c
        }
        None if options.in_app => Check::new(
            "readout",
            Status::Skip,
            if tab.running.is_some() {
                "a readout is running"
            } else {
                "no readout yet (Readout tab: r)"
            },
        ),
        None if tab.running.is_some() => Check::new(
            "readout",
            Status::Fail,
            "the readout had not ended when listening stopped (--duration)",
        ),
        None if options.optical => Check::new("readout", Status::Fail, "no readout came"),
        None => Check::new(
            "readout",
            Status::Skip,
            "no optical readout asked for (--optical)",
        ),
    }
}

/// A+ from HAN list 2 against each readout's register, the time between them accounted for.
fn energy_check(app: &App, options: CheckOptions) -> Check {
    let table = compare::energy_table(&app.live, &app.readout);
    let han = table.first().filter(|(r, _)| r.source == "HAN");
    let others = table.len().saturating_sub(1);
    let (Some((han, _)), true) = (han, others > 0) else {
        let han = compare::han_energy(&app.live);
        let why = match (han, app.readout.energy_readings().len(), options.in_app) {
            (None, 0, _) => "no energy registers to compare yet (list 2 and a readout)",
            (None, _, true) => "no list 2 yet to compare the readout's A+ with",
            (None, _, false) => "no list 2 to compare the readout's A+ with (--wait-list2)",
            (_, _, true) => "no readout's A+ to compare list 2 with (Readout tab: r)",
            (_, _, false) => "no readout's A+ to compare list 2 with (--optical)",
        };
        return Check::new("energy", Status::Skip, why);
    };
    let mut worst = Status::Pass;
    let mut parts = Vec::new();
    let mut evidence = Vec::new();
    for (r, agreement) in &table[1..] {
        let (Agreement::Agree {
            diff_kwh,
            allowed_kwh,
        }
        | Agreement::Differ {
            diff_kwh,
            allowed_kwh,
        }) = *agreement
        else {
            continue;
        };
        let agrees = matches!(agreement, Agreement::Agree { .. });
        if !agrees {
            worst = Status::Fail;
        }
        parts.push(format!(
            "{} {} {:.3} kWh {} HAN {:.3} kWh ({} apart; {:+.3} kWh, up to {:.3} kWh explained)",
            r.source,
            r.register,
            r.kwh,
            if agrees {
                "agrees with"
            } else {
                "DIFFERS from"
            },
            han.kwh,
            compare::between(han.at, r.at),
            diff_kwh,
            allowed_kwh,
        ));
        evidence.push(CheckEvidence {
            name: "difference",
            value: diff_kwh,
            unit: "kWh",
        });
        evidence.push(CheckEvidence {
            name: "allowed",
            value: allowed_kwh,
            unit: "kWh",
        });
    }
    Check {
        id: "energy",
        status: worst,
        message: parts.join("; "),
        evidence,
    }
}

/// Data arriving: the no-data ladder's rung and the share of bad frames.
fn data_check(app: &App, diags: &[Diagnostic]) -> Check {
    let s = &app.stats;
    let rung = diags
        .iter()
        .find(|d| d.topic == Topic::Link)
        .cloned()
        .unwrap_or_else(|| verdict::rung(app));
    let frames = s.good + s.bad();
    let mut c = Check::of("data", &rung);
    // Waiting for the first values passes nothing yet: the verdict is "no data".
    if usable(app).is_err() && c.status == Status::Pass {
        c.status = Status::Skip;
    }
    if frames > 0 {
        let share = s.bad() as f64 / frames as f64;
        if s.junk_bytes > 0 {
            c.message = format!("{}; {} junk bytes", rung.text, s.junk_bytes);
        }
        // The rung names the share when frames failed; otherwise it is said here (0).
        if !c.evidence.iter().any(|e| e.name == "bad share") {
            c.evidence.push(CheckEvidence {
                name: "bad share",
                value: share,
                unit: "",
            });
        }
    }
    c
}
