//! The commissioning report: one self-contained printable HTML page an installer leaves with the
//! customer or files with the grid company. Everything is inline (CSS, SVG charts), nothing is
//! fetched and no script runs, so the file reads the same offline, in a mail, or on paper years
//! later. Pure: the app's state in, the page out.
//!
//! It says nothing the app does not know: a value it has not seen is `—`, and every string that
//! came from the meter or the user is escaped (a meter id is input like any other).

use super::App;
use super::check::{self, Check, Status, Verdict};
use super::compare::{self, Agreement};
use super::live::{self, Level, Reading, Wiring, limits};
use super::readout::Finished;
use chrono::{DateTime, FixedOffset, Utc};
use std::fmt::Write;

/// Who and where, as the config names them (`[site] name`, `installer`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Site {
    pub name: Option<String>,
    pub installer: Option<String>,
}

/// What the report says about itself: who made it, where, when, from what.
#[derive(Debug, Clone)]
pub struct ReportInfo {
    pub site: Option<String>,
    pub installer: Option<String>,
    pub note: Option<String>,
    /// When the report was made (the laptop clock); its offset is the offset of every time shown.
    pub generated: DateTime<FixedOffset>,
    /// What was read: the port with its settings, the recording, the demo.
    pub source: String,
}

/// What the report shows for a value the app does not have.
const NONE: &str = "—";
/// The newest event log lines shown: the whole log (up to 2000 lines) would not fit two pages.
pub const EVENTS_SHOWN: usize = 25;
/// The readout registers shown, for the same reason (the readout's own export has them all).
pub const REGISTERS_SHOWN: usize = 40;
/// Points per chart line at most: longer series keep each bucket's minimum and maximum.
pub const MAX_CHART_POINTS: usize = 600;

/// Text safe in HTML content and in quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The commissioning report: one self-contained printable HTML page.
pub fn html(app: &App, checks: &[Check], verdict: Verdict, info: &ReportInfo) -> String {
    let page = Page { app, info };
    let mut body = String::new();
    body.push_str(&page.head_boxes());
    body.push_str(&verdict_box(app, checks, verdict));
    body.push_str(&checks_table(checks));
    body.push_str(&page.values());
    body.push_str(&page.energies());
    body.push_str(&page.readout());
    body.push_str(&frames(app));
    body.push_str(&page.events());
    let title = match &app.live.meter_id {
        Some(id) => format!("kamscope commissioning report: meter {}", escape(id)),
        None => "kamscope commissioning report".into(),
    };
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>{title}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n{body}\
         <footer>kamscope {version} · a value kamscope did not have is shown as {NONE}</footer>\n\
         </body>\n</html>\n",
        version = env!("CARGO_PKG_VERSION"),
    )
}

/// A4 on at most two pages: small type, tables kept whole, colours printed as they are (every
/// colour also has a word or a line style, for black-and-white printers).
const STYLE: &str = "@page { size: A4; margin: 12mm }
* { box-sizing: border-box }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact }
body { font: 8pt/1.25 sans-serif; color: #000; margin: 0 auto; max-width: 186mm }
h1 { font-size: 15pt; margin: 0 0 1mm }
h2 { font-size: 10.5pt; margin: 3mm 0 1mm; border-bottom: 0.3mm solid #000; break-after: avoid }
table { border-collapse: collapse; width: 100%; break-inside: avoid }
table.long { break-inside: auto }
tr { break-inside: avoid }
th, td { text-align: left; padding: 0.2mm 1.5mm; border-bottom: 0.2mm solid #bbb; vertical-align: top }
thead th { border-bottom: 0.3mm solid #000 }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap }
td.t { white-space: nowrap }
.kv th { width: 30%; font-weight: normal; color: #333 }
.top { display: grid; grid-template-columns: 1fr 1fr; gap: 4mm; break-inside: avoid }
.top h2 { margin-top: 1mm }
.pair { display: grid; grid-template-columns: 1fr 1fr; gap: 4mm }
.verdict { display: flex; align-items: center; gap: 5mm; margin: 3mm 0 1mm; padding: 2mm 4mm; border: 0.8mm solid #000; break-inside: avoid }
.verdict .word { font-size: 22pt; font-weight: bold; letter-spacing: 0.05em; white-space: nowrap }
.verdict p { margin: 0; font-size: 10pt }
.v-pass { border-color: #1a7f37; background: #e7f5ea } .v-pass .word { color: #1a7f37 }
.v-fail { border: 1.6mm double #b42318; background: #fdeceb } .v-fail .word { color: #b42318 }
.v-no-data { border-style: dashed; border-color: #555; background: #f1f1f1 } .v-no-data .word { color: #444 }
.s-pass { color: #1a7f37 } .s-skip { color: #555; font-style: italic }
.s-warn { color: #8a5a00; font-weight: bold } .s-fail { color: #b42318; font-weight: bold; text-decoration: underline }
.charts { display: grid; grid-template-columns: 1fr 1fr 1fr; gap: 3mm; margin-top: 1.5mm; break-inside: avoid }
figure { margin: 0; break-inside: avoid }
figcaption { font-weight: bold }
svg { display: block; width: 100%; height: auto }
svg text { font: 7.5px sans-serif; fill: #000 }
.note { margin: 0.5mm 0; color: #333 }
footer { margin-top: 3mm; color: #555; font-size: 7.5pt }
";

struct Page<'a> {
    app: &'a App,
    info: &'a ReportInfo,
}

impl Page<'_> {
    /// A time in the report's offset.
    fn time(&self, t: DateTime<Utc>) -> String {
        t.with_timezone(self.info.generated.offset())
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    }

    /// The report's facts (left) and the meter's (right).
    fn head_boxes(&self) -> String {
        let info = self.info;
        let report = kv_table(&[
            ("Site", opt(&info.site)),
            ("Installer", opt(&info.installer)),
            ("Note", opt(&info.note)),
            (
                "Date",
                info.generated
                    .format("%Y-%m-%d %H:%M:%S UTC%:z")
                    .to_string(),
            ),
            ("kamscope", env!("CARGO_PKG_VERSION").to_string()),
            ("Source", info.source.clone()),
        ]);
        let live = &self.app.live;
        let meter = kv_table(&[
            ("Meter id", opt(&live.meter_id)),
            (
                "Type",
                opt(&live.meter_type.clone().or(live.identification.clone())),
            ),
            ("Brand", live.brand.map_or(NONE.into(), |b| b.name().into())),
            ("List version", opt(&live.list_version)),
            ("Network", network(self.app)),
            ("Meter clock", self.clock()),
        ]);
        format!(
            "<header>\n<h1>kamscope commissioning report</h1>\n<div class=\"top\">\n\
             <section><h2>Report</h2>\n{report}</section>\n\
             <section><h2>Meter</h2>\n{meter}</section>\n</div>\n</header>\n"
        )
    }

    /// The latest push's meter time (as the meter keeps it), its status words, and how it
    /// compares with the reference.
    fn clock(&self) -> String {
        let app = self.app;
        let Some(r) = app.live.latest else {
            return NONE.into();
        };
        let judged = live::clock_check(&app.live, &r, app.now, app.std_offset).describe();
        let Some(t) = r.meter_time else {
            return judged;
        };
        let words = app
            .live
            .latest_clock
            .map(|c| live::status_words(&c))
            .unwrap_or_default();
        let status = if words.is_empty() {
            String::new()
        } else {
            format!(" ({})", words.join(", "))
        };
        format!("{}{status}: {judged}", t.format("%Y-%m-%d %H:%M:%S"))
    }

    /// Per-phase U and I and the power over the session, as a table and as charts.
    fn values(&self) -> String {
        let live = &self.app.live;
        let history = &live.history;
        let mut s = String::from("<section>\n<h2>Values over the session</h2>\n");
        let (Some(first), Some(last)) = (history.front(), history.back()) else {
            s.push_str("<p class=\"note\">no values came: no values to chart</p>\n</section>\n");
            return s;
        };
        let kept = if live.pushes > history.len() as u64 {
            format!(
                " (of {} pushes; the chart history keeps the newest)",
                live.pushes
            )
        } else {
            String::new()
        };
        let _ = writeln!(
            s,
            "<p class=\"note\">{n} with values{kept}, from {a} to {b} ({span}); times UTC{off}.</p>",
            n = if history.len() == 1 {
                "1 push".to_string()
            } else {
                format!("{} pushes", history.len())
            },
            a = self.time(first.received),
            b = self.time(last.received),
            span = live::human_seconds((last.received - first.received).num_seconds())
                .trim_start_matches('+'),
            off = self.info.generated.format("%:z"),
        );
        let current_decimals = live
            .latest
            .map_or(2, |r| (-i32::from(r.current_scaler)).clamp(0, 3) as usize);
        let one_phase = live.wiring() == Some(Wiring::OnePhase);
        let latest = live.latest;
        type Pick = fn(&Reading) -> Option<f64>;
        let rows: [(&str, usize, Pick); 8] = [
            ("U L1 (V)", 1, |r| r.voltage[0]),
            ("U L2 (V)", 1, |r| r.voltage[1]),
            ("U L3 (V)", 1, |r| r.voltage[2]),
            ("I L1 (A)", current_decimals, |r| r.current[0]),
            ("I L2 (A)", current_decimals, |r| r.current[1]),
            ("I L3 (A)", current_decimals, |r| r.current[2]),
            ("P import (W)", 0, |r| r.power[0]),
            ("P export (W)", 0, |r| r.power[1]),
        ];
        s.push_str(
            "<table class=\"values\">\n<thead><tr><th></th><th class=\"n\">min</th>\
             <th class=\"n\">avg</th><th class=\"n\">max</th><th class=\"n\">latest</th></tr></thead>\n<tbody>\n",
        );
        for (name, decimals, pick) in rows {
            let summary = Summary::of(history.iter().filter_map(pick));
            // A 1-phase meter has no L2 and L3: no rows of dashes for them.
            if one_phase && summary.is_none() && (name.contains("L2") || name.contains("L3")) {
                continue;
            }
            let cell = |v: Option<f64>| v.map_or(NONE.into(), |v| num(v, decimals));
            let _ = writeln!(
                s,
                "<tr><th>{name}</th><td class=\"n\">{}</td><td class=\"n\">{}</td>\
                 <td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                cell(summary.map(|m| m.min)),
                cell(summary.map(|m| m.mean)),
                cell(summary.map(|m| m.max)),
                cell(latest.as_ref().and_then(pick)),
            );
        }
        s.push_str("</tbody>\n</table>\n");
        s.push_str(&self.charts());
        s.push_str("</section>\n");
        s
    }

    /// U, I and P over the session.
    fn charts(&self) -> String {
        let history = &self.app.live.history;
        let Some(t0) = history.front().map(|r| r.received) else {
            return String::new();
        };
        let series = |name: &'static str, style: LineStyle, pick: fn(&Reading) -> Option<f64>| {
            let points = history
                .iter()
                .filter_map(|r| {
                    let t = (r.received - t0).num_milliseconds() as f64 / 1000.0;
                    pick(r).filter(|v| v.is_finite()).map(|v| (t, v))
                })
                .collect();
            Series {
                name,
                style,
                points,
            }
        };
        let phases = |pick: [fn(&Reading) -> Option<f64>; 3]| {
            vec![
                series("L1", PHASE_STYLES[0], pick[0]),
                series("L2", PHASE_STYLES[1], pick[1]),
                series("L3", PHASE_STYLES[2], pick[2]),
            ]
        };
        let charts = [
            (
                "Voltage per phase",
                "V",
                phases([|r| r.voltage[0], |r| r.voltage[1], |r| r.voltage[2]]),
            ),
            (
                "Current per phase",
                "A",
                phases([|r| r.current[0], |r| r.current[1], |r| r.current[2]]),
            ),
            (
                "Active power",
                "W",
                vec![
                    series("import", POWER_STYLES[0], |r| r.power[0]),
                    series("export", POWER_STYLES[1], |r| r.power[1]),
                ],
            ),
        ];
        let offset = *self.info.generated.offset();
        let mut s = String::from("<div class=\"charts\">\n");
        for (title, unit, lines) in &charts {
            s.push_str(&chart(title, unit, lines, t0, offset));
        }
        s.push_str("</div>\n");
        s
    }

    /// The registers of the last list 2 (or P1 telegram).
    fn energies(&self) -> String {
        let live = &self.app.live;
        let mut s = String::from("<section>\n<h2>Energy registers</h2>\n");
        let Some(e) = &live.energies else {
            s.push_str(
                "<p class=\"note\">no energy registers came (Kamstrup sends them in list 2, \
                 hourly at xx:00:05; P1 meters in every telegram)</p>\n</section>\n",
            );
            return s;
        };
        let at = e.meter_time.map_or_else(
            || format!("received {}", self.time(e.received)),
            |t| format!("meter time {}", t.format("%Y-%m-%d %H:%M:%S")),
        );
        let source = if live.list2_pushes > 0 {
            "list 2"
        } else {
            "the telegram"
        };
        let _ = writeln!(s, "<p class=\"note\">From {source}, {at}.</p>");
        s.push_str(
            "<table>\n<thead><tr><th>Register</th><th class=\"n\">value</th><th>unit</th>\
             <th class=\"n\">raw</th></tr></thead>\n<tbody>\n",
        );
        let names = [
            "A+ active import",
            "A- active export",
            "R+ reactive import",
            "R- reactive export",
        ];
        for (name, reg) in names.iter().zip(&e.registers) {
            let (value, unit, raw) = match reg {
                Some((v, raw, unit)) => {
                    // In k-units (Wh -> kWh), with the decimals the register resolves.
                    let (v, unit) = if unit.ends_with('h') {
                        (v / 1000.0, format!("k{unit}"))
                    } else {
                        (*v, (*unit).to_string())
                    };
                    let decimals = (3 - i32::from(e.scaler)).clamp(0, 6) as usize;
                    (num(v, decimals), unit, raw.to_string())
                }
                None => (NONE.into(), String::new(), NONE.into()),
            };
            let _ = writeln!(
                s,
                "<tr><th>{name}</th><td class=\"n\">{value}</td><td>{}</td><td class=\"n\">{raw}</td></tr>",
                escape(&unit)
            );
        }
        s.push_str("</tbody>\n</table>\n</section>\n");
        s
    }

    /// The latest readout that read a meter (not an M-Bus scan), and A+ from every source.
    fn readout(&self) -> String {
        let app = self.app;
        let mut s = String::from("<section>\n<h2>Optical readout</h2>\n");
        let Some(r) = app
            .readout
            .results
            .iter()
            .rev()
            .find(|r| r.scan().is_none())
        else {
            s.push_str("<p class=\"note\">no readout in this session</p>\n</section>\n");
            return s;
        };
        let _ = writeln!(
            s,
            "<p class=\"note\">{} readout at {}: {}. {}.</p>",
            escape(r.protocol().title()),
            self.time(r.read_at()),
            escape(&r.meter_line()),
            escape(&r.verdict_text()),
        );
        s.push_str(&registers(r));
        s.push_str(&self.comparison());
        s.push_str("</section>\n");
        s
    }

    /// Active energy import as HAN and the readouts saw it, each against the first.
    fn comparison(&self) -> String {
        let table = compare::energy_table(&self.app.live, &self.app.readout);
        if table.len() < 2 {
            return String::new();
        }
        let mut s = String::from(
            "<table>\n<thead><tr><th>A+ from</th><th>register</th><th class=\"n\">kWh</th>\
             <th>at</th><th>compared with the first</th></tr></thead>\n<tbody>\n",
        );
        let reference = table[0].0.at;
        for (reading, agreement) in &table {
            let judged = match agreement {
                Agreement::Reference => "reference".to_string(),
                Agreement::Agree {
                    diff_kwh,
                    allowed_kwh,
                } => format!(
                    "{} kWh, {} apart: agrees (within {} kWh)",
                    signed(*diff_kwh, 3),
                    compare::between(reference, reading.at),
                    num(*allowed_kwh, 3)
                ),
                Agreement::Differ {
                    diff_kwh,
                    allowed_kwh,
                } => format!(
                    "{} kWh, {} apart: DIFFERS, more than {} kWh can explain \
                     (scaling, CT ratio, another meter?)",
                    signed(*diff_kwh, 3),
                    compare::between(reference, reading.at),
                    num(*allowed_kwh, 3)
                ),
            };
            let _ = writeln!(
                s,
                "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"t\">{}</td><td>{judged}</td></tr>",
                escape(reading.source),
                escape(&reading.register),
                num(reading.kwh, 3),
                self.time(reading.at),
            );
        }
        s.push_str("</tbody>\n</table>\n");
        s
    }

    /// The newest lines of the event log, times in the report's offset.
    fn events(&self) -> String {
        let log = &self.app.events;
        let mut s = String::from("<section>\n<h2>Event log</h2>\n");
        let n = log.len();
        let shown = n.min(EVENTS_SHOWN);
        let mut notes = Vec::new();
        if n > shown {
            notes.push(format!(
                "the newest {shown} of {n} lines (older ones left out to keep the report short)"
            ));
        }
        if log.dropped > 0 {
            notes.push(format!(
                "{} earlier lines had already left the full log",
                log.dropped
            ));
        }
        if !notes.is_empty() {
            let _ = writeln!(s, "<p class=\"note\">Showing {}.</p>", notes.join("; "));
        }
        if n == 0 {
            s.push_str("<p class=\"note\">nothing logged</p>\n</section>\n");
            return s;
        }
        s.push_str(
            "<table class=\"long\">\n<thead><tr><th>time</th><th>level</th><th>what happened</th></tr></thead>\n<tbody>\n",
        );
        for e in log.entries().skip(n - shown) {
            let level = level_name(e.level);
            let _ = writeln!(
                s,
                "<tr><td class=\"t\">{}</td><td class=\"s-{}\">{level}</td><td>{}</td></tr>",
                self.time(e.at),
                level_class(e.level),
                escape(&e.text),
            );
        }
        s.push_str("</tbody>\n</table>\n</section>\n");
        s
    }
}

/// The verdict in large type, coloured, and in words with the count of each status.
fn verdict_box(app: &App, checks: &[Check], verdict: Verdict) -> String {
    let count = |s| checks.iter().filter(|c| c.status == s).count();
    let counts = format!(
        "{} passed, {} warnings, {} failed, {} skipped",
        count(Status::Pass),
        count(Status::Warn),
        count(Status::Fail),
        count(Status::Skip)
    );
    let (word, sentence) = match verdict {
        Verdict::Pass => (
            "✔ PASS",
            "Every check passed (warnings allowed)".to_string(),
        ),
        Verdict::Fail => ("✘ FAIL", "At least one check failed".to_string()),
        Verdict::NoData => (
            "NO DATA",
            format!(
                "Nothing to judge: {}",
                check::usable(app).err().unwrap_or_default()
            ),
        ),
    };
    format!(
        "<section class=\"verdict v-{}\" id=\"verdict\"><div class=\"word\">{word}</div>\
         <p>Verdict: <b>{}</b>. {}: {counts}.</p></section>\n",
        verdict.name(),
        verdict.name(),
        escape(&sentence),
    )
}

/// Every check: status, id, message, evidence.
fn checks_table(checks: &[Check]) -> String {
    let mut s = String::from(
        "<section>\n<h2>Checks</h2>\n<table class=\"checks\">\n<thead><tr><th>status</th>\
         <th>check</th><th>result</th><th>judged on</th></tr></thead>\n<tbody>\n",
    );
    for c in checks {
        let mut evidence: Vec<String> = c
            .evidence
            .iter()
            .map(|e| {
                let unit = if e.unit.is_empty() {
                    String::new()
                } else {
                    format!(" {}", escape(e.unit))
                };
                format!("{} {}{unit}", escape(e.name), evidence_value(e.value))
            })
            .collect();
        // The same number judged twice is said once.
        evidence.dedup();
        let _ = writeln!(
            s,
            "<tr><td class=\"s-{status}\">{status}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(c.id),
            escape(&c.message),
            if evidence.is_empty() {
                NONE.to_string()
            } else {
                evidence.join("; ")
            },
            status = c.status.name(),
        );
    }
    s.push_str("</tbody>\n</table>\n</section>\n");
    s
}

/// Frame counters and the share of bad frames.
fn frames(app: &App) -> String {
    let st = &app.stats;
    let frames = st.good + st.bad();
    let share = if frames == 0 {
        NONE.to_string()
    } else {
        format!("{} %", num(st.bad() as f64 * 100.0 / frames as f64, 1))
    };
    let mut rows = vec![
        ("bytes", st.bytes.to_string()),
        ("good frames", st.good.to_string()),
        ("HCS bad", st.hcs_bad.to_string()),
        ("FCS bad", st.fcs_bad.to_string()),
        ("length bad", st.length_bad.to_string()),
        ("other bad", st.other_bad.to_string()),
        ("junk bytes", st.junk_bytes.to_string()),
        ("bad share", share),
    ];
    if st.p1_good + st.p1_crc_bad > 0 {
        rows.push(("P1 telegrams good", st.p1_good.to_string()));
        rows.push(("P1 CRC bad", st.p1_crc_bad.to_string()));
    }
    let mut s = String::from("<section>\n<h2>Frames</h2>\n<table>\n<thead><tr>");
    for (name, _) in &rows {
        let _ = write!(s, "<th class=\"n\">{name}</th>");
    }
    s.push_str("</tr></thead>\n<tbody><tr>");
    for (_, value) in &rows {
        let _ = write!(s, "<td class=\"n\">{value}</td>");
    }
    s.push_str("</tr></tbody>\n</table>\n</section>\n");
    s
}

/// A readout's registers in two tables side by side (at most [`REGISTERS_SHOWN`]).
fn registers(r: &Finished) -> String {
    let fields = r.fields();
    if fields.is_empty() {
        return "<p class=\"note\">no registers read</p>\n".into();
    }
    let shown = &fields[..fields.len().min(REGISTERS_SHOWN)];
    let mut s = String::new();
    if fields.len() > shown.len() {
        let _ = writeln!(
            s,
            "<p class=\"note\">The first {} of {} registers (the readout's export, e or c on the \
             Readout tab, has them all).</p>",
            shown.len(),
            fields.len()
        );
    }
    s.push_str("<div class=\"pair\">\n");
    for half in shown.chunks(shown.len().div_ceil(2)) {
        s.push_str(
            "<table>\n<thead><tr><th>code</th><th>register</th><th class=\"n\">value</th>\
             <th>unit</th></tr></thead>\n<tbody>\n",
        );
        for f in half {
            // The number read from a measured value; text, ids and counters as the meter sent them.
            let value = match (f.value, &f.text) {
                (_, Some(text)) => text.clone(),
                (Some(v), _) if f.unit.is_some() => v.to_string(),
                _ => f.raw_text(),
            };
            let _ = writeln!(
                s,
                "<tr><td class=\"t\">{}</td><td>{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
                escape(&f.code_text()),
                escape(&f.name),
                escape(&value),
                escape(f.unit.as_deref().unwrap_or("")),
            );
        }
        s.push_str("</tbody>\n</table>\n");
    }
    s.push_str("</div>\n");
    s
}

/// Rows of name and value.
fn kv_table(rows: &[(&str, String)]) -> String {
    let mut s = String::from("<table class=\"kv\">\n");
    for (name, value) in rows {
        let _ = writeln!(s, "<tr><th>{name}</th><td>{}</td></tr>", escape(value));
    }
    s.push_str("</table>\n");
    s
}

fn opt(v: &Option<String>) -> String {
    v.clone()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| NONE.into())
}

/// The wiring and what told it.
fn network(app: &App) -> String {
    let live = &app.live;
    let from_type = live.meter_type.as_deref().and_then(Wiring::from_type);
    match (from_type, live.wiring()) {
        (Some(w), _) => format!("{} (from the type number)", w.describe()),
        (None, Some(w)) => format!("{} (from the values)", w.describe()),
        (None, None) => NONE.into(),
    }
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::Ok => "ok",
        Level::Info => "info",
        Level::Warn => "warn",
        Level::Bad => "bad",
    }
}

/// The check status class whose look a log level shares.
fn level_class(level: Level) -> &'static str {
    match level {
        Level::Ok => "pass",
        Level::Info => "skip",
        Level::Warn => "warn",
        Level::Bad => "fail",
    }
}

/// A number with `decimals` decimals (no `-0`).
fn num(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') {
        s[1..].to_string()
    } else {
        s
    }
}

fn signed(v: f64, decimals: usize) -> String {
    let s = num(v, decimals);
    if s.starts_with('-') {
        s
    } else {
        format!("+{s}")
    }
}

/// A judged number, short: whole numbers whole, others to three significant digits (at least
/// three decimals under 1, so a share of 0.00028 is not shown as 0): `231`, `2.901`, `0.000278`.
fn evidence_value(v: f64) -> String {
    if !v.is_finite() {
        return NONE.into();
    }
    let magnitude = if v == 0.0 {
        0
    } else {
        v.abs().log10().floor() as i32
    };
    let decimals = (2 - magnitude).clamp(3, 9) as usize;
    let s = num(v, decimals);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-" {
        "0".into()
    } else {
        s.to_string()
    }
}

/// Minimum, mean and maximum of some values.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Summary {
    min: f64,
    mean: f64,
    max: f64,
}

impl Summary {
    fn of(values: impl Iterator<Item = f64>) -> Option<Summary> {
        let (mut n, mut sum, mut min, mut max) = (0u64, 0.0, f64::INFINITY, f64::NEG_INFINITY);
        for v in values.filter(|v| v.is_finite()) {
            n += 1;
            sum += v;
            min = min.min(v);
            max = max.max(v);
        }
        (n > 0).then(|| Summary {
            min,
            mean: sum / n as f64,
            max,
        })
    }
}

/// How a chart line looks: a colour and a dash pattern, so it reads in black and white too.
#[derive(Debug, Clone, Copy)]
struct LineStyle {
    colour: &'static str,
    /// SVG `stroke-dasharray`; empty for a solid line.
    dash: &'static str,
}

/// L1 brown, L2 black, L3 grey (the phase colours of IEC 60445), solid, dashed, dotted.
const PHASE_STYLES: [LineStyle; 3] = [
    LineStyle {
        colour: "#8b4513",
        dash: "",
    },
    LineStyle {
        colour: "#000000",
        dash: "6 3",
    },
    LineStyle {
        colour: "#808080",
        dash: "1.5 2",
    },
];

/// Import solid blue, export dashed green.
const POWER_STYLES: [LineStyle; 2] = [
    LineStyle {
        colour: "#1f5fbf",
        dash: "",
    },
    LineStyle {
        colour: "#2e7d32",
        dash: "6 3",
    },
];

struct Series {
    name: &'static str,
    style: LineStyle,
    /// (seconds since the first push, value), in time order.
    points: Vec<(f64, f64)>,
}

/// A series cut into lines where no push came for longer than the stale limit (an outage is a
/// gap, not a line across it), with at most `max` points in all: a longer series keeps the
/// minimum and the maximum of each of `max / 2` time buckets, so a spike survives.
fn downsample(points: &[(f64, f64)], max: usize, gap_s: f64) -> Vec<Vec<(f64, f64)>> {
    /// The bucket being filled: its index (`None`: a point of its own), its lowest and highest
    /// point, and whether a gap came before or inside it (the line breaks before it).
    struct Bucket {
        index: Option<usize>,
        lo: (f64, f64),
        hi: (f64, f64),
        gap: bool,
    }
    fn flush(lines: &mut Vec<Vec<(f64, f64)>>, b: Bucket) {
        if b.gap || lines.is_empty() {
            lines.push(Vec::new());
        }
        let line = lines.last_mut().expect("a line was pushed");
        let (first, second) = if b.lo.0 <= b.hi.0 {
            (b.lo, b.hi)
        } else {
            (b.hi, b.lo)
        };
        line.push(first);
        if second != first {
            line.push(second);
        }
    }
    let mut lines: Vec<Vec<(f64, f64)>> = Vec::new();
    let (Some(&(t0, _)), Some(&(t1, _))) = (points.first(), points.last()) else {
        return lines;
    };
    let buckets = (max / 2).max(1);
    let width = (t1 - t0) / buckets as f64;
    let bucket_of = |t: f64| {
        if points.len() <= max || width <= 0.0 {
            // Few enough: every point its own.
            None
        } else {
            Some((((t - t0) / width) as usize).min(buckets - 1))
        }
    };
    let mut current: Option<Bucket> = None;
    let mut previous: Option<f64> = None;
    for &p in points {
        let gap = previous.is_some_and(|t| p.0 - t > gap_s);
        previous = Some(p.0);
        let index = bucket_of(p.0);
        match &mut current {
            Some(b) if index.is_some() && b.index == index => {
                if p.1 < b.lo.1 {
                    b.lo = p;
                }
                if p.1 > b.hi.1 {
                    b.hi = p;
                }
                b.gap |= gap;
            }
            _ => {
                if let Some(done) = current.take() {
                    flush(&mut lines, done);
                }
                current = Some(Bucket {
                    index,
                    lo: p,
                    hi: p,
                    gap,
                });
            }
        }
    }
    if let Some(done) = current {
        flush(&mut lines, done);
    }
    lines
}

/// Chart size in SVG units: three charts side by side are about 60 mm wide each on A4, so a
/// 7.5-unit label prints near 6 pt.
const CHART_W: f64 = 220.0;
const CHART_H: f64 = 125.0;
const PLOT_LEFT: f64 = 40.0;
const PLOT_RIGHT: f64 = CHART_W - 8.0;
const PLOT_TOP: f64 = 16.0;
const PLOT_BOTTOM: f64 = CHART_H - 18.0;

/// One chart: the lines with a legend, the y axis labelled at the values' minimum and maximum,
/// the time axis at its start, middle and end. Without a value, a sentence instead.
fn chart(
    title: &str,
    unit: &str,
    series: &[Series],
    t0: DateTime<Utc>,
    offset: FixedOffset,
) -> String {
    let drawn: Vec<&Series> = series.iter().filter(|s| !s.points.is_empty()).collect();
    let all = || drawn.iter().flat_map(|s| s.points.iter());
    let Some(values) = Summary::of(all().map(|p| p.1)) else {
        return format!(
            "<figure><figcaption>{title} ({unit})</figcaption>\
             <p class=\"note\">no values to chart</p></figure>\n"
        );
    };
    let (mut t_lo, mut t_hi) = all().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
        (a.min(p.0), b.max(p.0))
    });
    if t_hi - t_lo < 1.0 {
        // One moment: a little time either side, so it is drawn in the middle.
        t_lo -= 5.0;
        t_hi += 5.0;
    }
    let spread = values.max - values.min;
    let pad = if spread > 0.0 {
        spread * 0.06
    } else {
        values.max.abs().max(1.0) * 0.05
    };
    let (v_lo, v_hi) = (values.min - pad, values.max + pad);
    let x = |t: f64| PLOT_LEFT + (t - t_lo) / (t_hi - t_lo) * (PLOT_RIGHT - PLOT_LEFT);
    let y = |v: f64| PLOT_BOTTOM - (v - v_lo) / (v_hi - v_lo) * (PLOT_BOTTOM - PLOT_TOP);
    // Whole numbers (Kamstrup volts) are labelled whole; others to what the spread resolves.
    let whole = values.min.fract() == 0.0 && values.max.fract() == 0.0;
    let decimals = if whole || spread >= 100.0 || values.max.abs() >= 1000.0 {
        0
    } else if spread >= 10.0 {
        1
    } else {
        2
    };

    let mut s = format!(
        "<figure><figcaption>{title} ({unit})</figcaption>\n\
         <svg viewBox=\"0 0 {CHART_W} {CHART_H}\" role=\"img\" aria-label=\"{title} over the session\">\n\
         <rect x=\"{PLOT_LEFT}\" y=\"{PLOT_TOP}\" width=\"{w}\" height=\"{h}\" fill=\"none\" stroke=\"#bbb\" stroke-width=\"0.5\"/>\n\
         <path d=\"M{PLOT_LEFT},{PLOT_TOP}V{PLOT_BOTTOM}H{PLOT_RIGHT}\" fill=\"none\" stroke=\"#000\" stroke-width=\"0.8\"/>\n",
        w = PLOT_RIGHT - PLOT_LEFT,
        h = PLOT_BOTTOM - PLOT_TOP,
    );
    // The y axis: ticks at the lowest and the highest value.
    for v in [values.min, values.max] {
        let _ = writeln!(
            s,
            "<path d=\"M{l:.1},{yv:.1}H{PLOT_LEFT}\" stroke=\"#000\" stroke-width=\"0.8\"/>\
             <path d=\"M{PLOT_LEFT},{yv:.1}H{PLOT_RIGHT}\" stroke=\"#ddd\" stroke-width=\"0.5\"/>\
             <text x=\"{tx:.1}\" y=\"{ty:.1}\" text-anchor=\"end\">{} {unit}</text>",
            num(v, decimals),
            l = PLOT_LEFT - 3.0,
            yv = y(v),
            tx = PLOT_LEFT - 4.5,
            ty = y(v) + 3.0,
        );
    }
    // The time axis: start, middle, end.
    let long = t_hi - t_lo >= 86_400.0;
    for (t, anchor) in [
        (t_lo, "start"),
        ((t_lo + t_hi) / 2.0, "middle"),
        (t_hi, "end"),
    ] {
        let at = t0 + chrono::Duration::milliseconds((t * 1000.0).round() as i64);
        let at = at.with_timezone(&offset);
        let label = if long {
            at.format("%m-%d %H:%M")
        } else {
            at.format("%H:%M:%S")
        };
        let _ = writeln!(
            s,
            "<path d=\"M{xt:.1},{PLOT_BOTTOM}v3\" stroke=\"#000\" stroke-width=\"0.8\"/>\
             <text x=\"{xt:.1}\" y=\"{ty}\" text-anchor=\"{anchor}\">{label}</text>",
            xt = x(t),
            ty = PLOT_BOTTOM + 11.0,
        );
    }
    // The legend, above the plot.
    for (i, line) in drawn.iter().enumerate() {
        let lx = PLOT_LEFT + 2.0 + i as f64 * 48.0;
        let _ = writeln!(
            s,
            "<path d=\"M{lx},8h18\" {stroke}/><text x=\"{tx}\" y=\"11\">{}</text>",
            line.name,
            stroke = stroke(line.style),
            tx = lx + 22.0,
        );
    }
    for line in &drawn {
        for piece in downsample(&line.points, MAX_CHART_POINTS, limits::STALE_AFTER_S as f64) {
            if let [(t, v)] = piece[..] {
                let _ = writeln!(
                    s,
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"1.3\" fill=\"{}\"/>",
                    x(t),
                    y(v),
                    line.style.colour
                );
                continue;
            }
            let mut d = String::new();
            for (i, (t, v)) in piece.iter().enumerate() {
                let _ = write!(
                    d,
                    "{}{:.1},{:.1}",
                    if i == 0 { "M" } else { "L" },
                    x(*t),
                    y(*v)
                );
            }
            let _ = writeln!(s, "<path d=\"{d}\" {}/>", stroke(line.style));
        }
    }
    s.push_str("</svg></figure>\n");
    s
}

fn stroke(style: LineStyle) -> String {
    let dash = if style.dash.is_empty() {
        String::new()
    } else {
        format!(" stroke-dasharray=\"{}\"", style.dash)
    };
    format!(
        "fill=\"none\" stroke=\"{}\" stroke-width=\"1.1\" stroke-linejoin=\"round\"{dash}",
        style.colour
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_html_gives_meaning() {
        assert_eq!(
            escape(r#"<script>"a" & 'b'</script>"#),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
        );
    }

    #[test]
    fn few_points_are_kept_and_gaps_break_the_line() {
        let points = [
            (0.0, 1.0),
            (10.0, 2.0),
            (20.0, 3.0),
            (100.0, 4.0),
            (110.0, 5.0),
        ];
        let lines = downsample(&points, 600, 25.0);
        assert_eq!(
            lines,
            vec![
                vec![(0.0, 1.0), (10.0, 2.0), (20.0, 3.0)],
                vec![(100.0, 4.0), (110.0, 5.0)]
            ]
        );
    }

    #[test]
    fn long_series_keep_their_spikes_within_the_point_limit() {
        // A day at one push per 10 s with one spike and one dip.
        let mut points: Vec<(f64, f64)> = (0..8640).map(|i| (i as f64 * 10.0, 230.0)).collect();
        points[4321].1 = 260.0;
        points[7000].1 = 180.0;
        let lines = downsample(&points, 600, 25.0);
        let kept: Vec<(f64, f64)> = lines.concat();
        assert_eq!(lines.len(), 1);
        assert!(kept.len() <= 600, "{}", kept.len());
        assert!(kept.contains(&(43210.0, 260.0)));
        assert!(kept.contains(&(70000.0, 180.0)));
        assert!(kept.windows(2).all(|w| w[0].0 < w[1].0), "in time order");
    }

    #[test]
    fn numbers_without_negative_zero() {
        assert_eq!(num(-0.0001, 2), "0.00");
        assert_eq!(num(-1.5, 1), "-1.5");
        assert_eq!(evidence_value(2.9), "2.9");
        assert_eq!(evidence_value(231.0), "231");
        assert_eq!(evidence_value(0.0), "0");
        assert_eq!(evidence_value(0.000_277_7), "0.000278");
        assert_eq!(evidence_value(0.016_39), "0.0164");
        assert_eq!(evidence_value(1234.5678), "1234.568");
        assert_eq!(signed(0.25, 2), "+0.25");
    }

    #[test]
    fn summaries_skip_nothing_and_invent_nothing() {
        assert_eq!(Summary::of([].into_iter()), None);
        assert_eq!(
            Summary::of([1.0, 2.0, 6.0].into_iter()),
            Some(Summary {
                min: 1.0,
                mean: 3.0,
                max: 6.0
            })
        );
    }
}
