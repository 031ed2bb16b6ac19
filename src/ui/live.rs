//! The Live tab: meter identity and clock, per-phase values with gauges against the main fuse,
//! power, energy registers, a chart over time, and the diagnostics. Every verdict comes from
//! `app::verdict` and `app::live`; this file only draws. Stale values are dimmed and their
//! panels say "stale" with the age.

use crate::app::App;
use crate::app::live::limits::{NOMINAL_V, PHASE_MISSING_V, STALE_AFTER_S, VOLTAGE_BAND};
use crate::app::live::{
    self, ChartKind, Level, Reading, WINDOWS, Wiring, human_seconds, power_figures,
};
use crate::app::verdict::{self, Freshness};
use crate::protocol::han::{Brand, ListKind, MeterKind};
use crate::ui::Theme;
use chrono::Utc;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Chart, Dataset, GraphType, Paragraph, Wrap};

/// What every panel needs: the app, the theme, and whether the values are stale.
struct View<'a> {
    app: &'a App,
    theme: &'a Theme,
    fresh: Freshness,
}

impl View<'_> {
    /// Bold when current, dimmed when stale.
    fn value(&self) -> Style {
        if self.fresh.is_stale() {
            self.theme.dim()
        } else {
            self.theme.value()
        }
    }

    /// A style for a judged value: dimmed when stale, whatever the verdict.
    fn judged(&self, style: Style) -> Style {
        if self.fresh.is_stale() {
            self.theme.dim()
        } else {
            style
        }
    }

    /// `stale 43 s`, when the values are stale.
    fn stale_part(&self) -> Option<String> {
        self.fresh
            .stale_age()
            .map(|a| format!("stale {}", human_seconds(a).trim_start_matches('+')))
    }

    /// A panel title from its parts, in order of importance: the name, then "stale" and its
    /// age, then the rest, as many as fit in `width` (nothing is cut mid-word).
    fn title(&self, name: &str, rest: &[String], width: u16) -> String {
        let mut parts = vec![name.to_string()];
        parts.extend(self.stale_part());
        parts.extend(rest.iter().cloned());
        // The borders take two columns and the title's own padding two more.
        let room = usize::from(width.saturating_sub(4));
        let mut title = String::new();
        for p in parts {
            let candidate = if title.is_empty() {
                p.clone()
            } else {
                format!("{title} · {p}")
            };
            if Span::raw(candidate.as_str()).width() > room && !title.is_empty() {
                continue;
            }
            title = candidate;
        }
        format!(" {title} ")
    }
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let v = View {
        app,
        theme,
        fresh: verdict::freshness(app),
    };
    let [meter, mid, energy, bottom] = Layout::vertical([
        Constraint::Length(4),
        Constraint::Length(5),
        Constraint::Length(3),
        Constraint::Min(5),
    ])
    .areas(area);
    draw_meter(frame, meter, &v);
    let [phases, power] =
        Layout::horizontal([Constraint::Percentage(56), Constraint::Percentage(44)]).areas(mid);
    draw_phases(frame, phases, &v);
    draw_power(frame, power, &v);
    draw_energy(frame, energy, &v);
    let split = if area.width >= 110 { 55 } else { 50 };
    let [chart, diag] = Layout::horizontal([
        Constraint::Percentage(split),
        Constraint::Percentage(100 - split),
    ])
    .areas(bottom);
    draw_chart(frame, chart, &v);
    draw_diagnostics(frame, diag, &v);
}

fn num(v: Option<f64>, decimals: usize, unit: &str) -> String {
    match v {
        Some(v) => format!("{v:.decimals$} {unit}"),
        None => "—".into(),
    }
}

fn level_style(theme: &Theme, level: Level) -> Style {
    match level {
        Level::Ok => theme.ok(),
        Level::Info => theme.info(),
        Level::Warn => theme.warn(),
        Level::Bad => theme.bad(),
    }
}

fn draw_meter(frame: &mut Frame, area: Rect, v: &View) {
    let (app, theme) = (v.app, v.theme);
    let l = &app.live;
    let mut first = vec![
        Span::styled("id ", theme.label()),
        Span::styled(l.meter_id.clone().unwrap_or_else(|| "—".into()), v.value()),
    ];
    match (&l.meter_type, &l.identification) {
        // A P1 meter names itself in the telegram's identification line, not in a type field.
        (None, Some(ident)) => first.extend([
            Span::styled("  ident ", theme.label()),
            Span::raw(format!("/{ident}")),
        ]),
        (t, _) => first.extend([
            Span::styled("  type ", theme.label()),
            Span::raw(t.clone().unwrap_or_else(|| "—".into())),
        ]),
    }
    if l.meter_type.is_some() {
        // Kamstrup types tell the kind; other brands' types are named by the brand.
        let mut parts = Vec::new();
        match (l.meter_kind, l.brand) {
            (MeterKind::Unknown, Some(b)) if b != Brand::Unknown => parts.push(b.name()),
            (kind, _) => parts.push(kind.description()),
        }
        if let Some(w) = l
            .wiring()
            .filter(|w| !matches!(w, Wiring::ThreePhase | Wiring::OnePhase))
        {
            parts.push(w.describe());
        }
        first.push(Span::styled(
            format!(" ({})", parts.join(", ")),
            theme.info(),
        ));
    }
    let second = match &l.latest {
        None => no_values_line(v),
        Some(r) => clock_line(v, r, area.width),
    };
    let mut rest = Vec::new();
    if let Some(ver) = &l.list_version {
        rest.push(ver.clone());
    }
    if l.pushes > 0 && l.list2_pushes == 0 && l.energies.is_some() {
        // P1 telegrams: the registers come with every push, there is no hourly list.
        rest.push(pushes(l.pushes));
    } else if l.pushes > 0 {
        rest.push(format!("{}, {} hourly", pushes(l.pushes), l.list2_pushes));
    }
    let title = v.title("Meter", &rest, area.width);
    frame.render_widget(
        Paragraph::new(vec![Line::from(first), second]).block(Block::bordered().title(title)),
        area,
    );
}

/// Before the first values: what stands in the way, in short (the Diagnostics panel says more).
fn no_values_line<'a>(v: &View) -> Line<'a> {
    use crate::app::CipherStatus;
    let theme = v.theme;
    let (text, style) = match v.app.cipher.as_ref().map(|c| &c.status) {
        Some(CipherStatus::NeedKeys) => ("encrypted push: keys needed", theme.bad()),
        Some(CipherStatus::WrongKey) => ("encrypted push: wrong key", theme.bad()),
        Some(CipherStatus::Unsupported(_)) => ("encrypted push: cannot decrypt", theme.bad()),
        _ => ("no values yet (list 1 comes every 10 s)", theme.dim()),
    };
    Line::from(Span::styled(text, style))
}

/// `meter clock 2024-10-30 17:32:00 (DST)  laptop 17:32:03  last push 3 s ago`.
fn clock_line<'a>(v: &View, r: &Reading, width: u16) -> Line<'a> {
    let (app, theme) = (v.app, v.theme);
    let l = &app.live;
    let age = (app.now.with_timezone(&Utc) - r.received)
        .num_seconds()
        .max(0);
    let age_style = if v.fresh.is_stale() {
        theme.bad()
    } else if age > STALE_AFTER_S / 2 {
        theme.warn()
    } else {
        theme.ok()
    };
    let meter_clock = r
        .meter_time
        .map_or("—".into(), |t| t.format("%Y-%m-%d %H:%M:%S").to_string());
    let clock_style = if l.latest_clock.is_some_and(|c| c.flagged_invalid()) {
        v.judged(theme.bad())
    } else {
        v.value()
    };
    let mut clock = vec![
        Span::styled("meter clock ", theme.label()),
        Span::styled(meter_clock, clock_style),
    ];
    let words = l
        .latest_clock
        .map(|c| live::status_words(&c))
        .unwrap_or_default();
    if !words.is_empty() {
        clock.push(Span::styled(
            format!(" ({})", words.join(", ")),
            theme.info(),
        ));
    }
    // What the clock is compared with: the laptop's time, or the recording's time of the push.
    let reference = l.clock_reference;
    let shown = match reference {
        live::ClockReference::Laptop => Some(("  laptop ", app.now.format("%H:%M:%S").to_string())),
        live::ClockReference::None => None,
        _ => reference.time_of(r.received).map(|t| {
            let off = reference.local_offset_at(t, app.now, app.std_offset);
            let local = t + chrono::Duration::seconds(off.into());
            let label = match reference {
                live::ClockReference::Recording { .. } => "  recorded ",
                _ => "  simulated ",
            };
            (label, local.format("%Y-%m-%d %H:%M:%S").to_string())
        }),
    };
    let reference: Vec<Span> = shown
        .map(|(label, t)| vec![Span::styled(label, theme.label()), Span::raw(t)])
        .unwrap_or_default();
    let mut ago = format!("{} ago", human_seconds(age).trim_start_matches('+'));
    if v.fresh.is_stale() {
        ago.push_str(", stale");
    }
    let push = vec![
        Span::styled("  last push ", theme.label()),
        Span::styled(ago, age_style),
    ];
    // The reference time goes first when the line is too narrow.
    let room = usize::from(width.saturating_sub(2));
    let w = |spans: &[Span]| spans.iter().map(Span::width).sum::<usize>();
    let mut spans = clock;
    if w(&spans) + w(&reference) + w(&push) <= room {
        spans.extend(reference);
    }
    spans.extend(push);
    Line::from(spans)
}

fn bar(fraction: f64, width: usize) -> String {
    let eighths = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"];
    let cells = (fraction.clamp(0.0, 1.0) * width as f64 * 8.0).round() as usize;
    let mut s = "█".repeat(cells / 8);
    s.push_str(eighths[cells % 8]);
    let used = s.chars().count();
    s.push_str(&"·".repeat(width.saturating_sub(used)));
    s
}

/// `0.01 A`: what one step of the raw current is.
fn multiplier(scaler: i8) -> String {
    match scaler {
        s @ -9..=-1 => format!(
            "{:.*} A",
            usize::from(s.unsigned_abs()),
            10f64.powi(s.into())
        ),
        s => format!("{} A", 10i64.pow(u32::from(s.unsigned_abs()))),
    }
}

/// The current a full bar stands for: the main fuse, or on a CT meter without a known fuse a
/// quarter above the highest current seen (at least 16 A).
fn bar_scale(app: &App) -> (f64, String) {
    let l = &app.live;
    if l.fuse_known() {
        return (l.fuse_a, format!("bar {:.0} A fuse", l.fuse_a));
    }
    let max = l
        .history
        .iter()
        .flat_map(|r| r.current.iter().flatten())
        .copied()
        .fold(0.0, f64::max);
    let scale = (max * 1.25).max(16.0).ceil();
    (scale, format!("bar {scale:.0} A"))
}

/// Decimals of a current: as many as the meter sent when it sends its own scaler or units (no
/// more digits than it measured), else two (Kamstrup, whose scaler is the setting's).
fn current_decimals(r: &Reading) -> usize {
    if r.scalable {
        2
    } else {
        usize::from((-r.current_scaler).max(0).unsigned_abs())
    }
}

/// One phase row: voltage, current, a bar against the main fuse, U x I.
fn phase_row<'a>(v: &View, p: usize, r: &Reading, gauge_w: usize) -> Line<'a> {
    let theme = v.theme;
    let live = &v.app.live;
    let (scale, _) = bar_scale(v.app);
    let (u, i) = (r.voltage[p], r.current[p]);
    let wiring = live.wiring().unwrap_or(Wiring::ThreePhase);
    let nominal = live::nominal_voltage(wiring, r);
    let (lo, hi) = (
        nominal * (1.0 - VOLTAGE_BAND),
        nominal * (1.0 + VOLTAGE_BAND),
    );
    let three_wire = wiring == Wiring::ThreeWire;
    let u_style = v.judged(match u {
        None => theme.bad(),
        Some(u) if u < PHASE_MISSING_V => theme.bad(),
        Some(u) if !(lo..=hi).contains(&u) => theme.warn(),
        Some(_) => theme.value(),
    });
    let mut spans = vec![
        Span::styled(format!("L{} ", p + 1), theme.series(p)),
        Span::styled(format!("{:>6}", num(u, 0, "V")), u_style),
        Span::raw(" "),
    ];
    if u.is_none() && r.voltage_not_measured[p] {
        spans.push(Span::styled("U not measured (3-wire meter)  ", theme.dim()));
        spans.push(Span::styled(num(i, current_decimals(r), "A"), v.value()));
        return Line::from(spans);
    }
    if u.is_none_or(|u| u < PHASE_MISSING_V) {
        let why = format!("missing (below {PHASE_MISSING_V:.0} V)");
        spans.push(Span::styled(why, v.judged(theme.bad())));
        return Line::from(spans);
    }
    if i.is_none() && three_wire {
        spans.push(Span::styled("I not measured (3-wire meter)", theme.dim()));
        return Line::from(spans);
    }
    let over_fuse = live.fuse_known() && i.is_some_and(|i| i > live.fuse_a);
    let i_style = v.judged(if over_fuse {
        theme.bad()
    } else {
        theme.value()
    });
    let bar_style = if v.fresh.is_stale() {
        theme.dim()
    } else {
        theme.series(p)
    };
    spans.extend([
        Span::styled(format!("{:>9}", num(i, current_decimals(r), "A")), i_style),
        Span::raw(" "),
        Span::styled(bar(i.unwrap_or(0.0) / scale, gauge_w), bar_style),
        Span::styled(
            format!("{:>9}", num(u.zip(i).map(|(u, i)| u * i), 0, "VA")),
            theme.dim(),
        ),
    ]);
    Line::from(spans)
}

fn draw_phases(frame: &mut Frame, area: Rect, v: &View) {
    let (app, theme) = (v.app, v.theme);
    let l = &app.live;
    let inner_w = area.width.saturating_sub(2) as usize;
    let gauge_w = inner_w.saturating_sub(2 + 7 + 10 + 10).clamp(3, 30);
    let mut lines = Vec::new();
    for p in 0..3 {
        let name = Span::styled(format!("L{} ", p + 1), theme.series(p));
        let why = match (l.latest, l.phases()) {
            (Some(r), Some(n)) if p < n => {
                lines.push(phase_row(v, p, &r, gauge_w));
                continue;
            }
            (_, Some(_)) => "not on this meter (1-phase)",
            (None, None) if p > 0 && app.cipher.is_some() => "— unknown until a push is decrypted",
            (None, None) if p > 0 => "— unknown until the first push",
            (Some(_), None) if p > 0 => "— this list has no per-phase values",
            _ => "—",
        };
        lines.push(Line::from(vec![name, Span::styled(why, theme.dim())]));
    }
    let how = if app.scaling.current_scaler.is_some() {
        "set"
    } else {
        "auto"
    };
    // Values with their own scaler (Aidon, P1) or a fixed documented one (Kaifa) do not follow
    // the current scaler setting.
    let current = match l.latest {
        // P1 telegrams send a decimal number with its unit: no scaler to speak of.
        Some(r) if !r.scalable && l.last_list == Some(ListKind::Telegram) => "I as sent (A)".into(),
        Some(r) if !r.scalable => format!("I x{} fixed", multiplier(r.current_scaler)),
        _ => format!("I x{} {how}", multiplier(l.current_scaler)),
    };
    let mut rest = vec![current, bar_scale(app).1];
    if l.wiring() == Some(Wiring::ThreeWire) {
        rest.insert(0, "U line to line".into());
    }
    let title = v.title("Phases", &rest, area.width);
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(title)),
        area,
    );
}

fn draw_power(frame: &mut Frame, area: Rect, v: &View) {
    let (app, theme) = (v.app, v.theme);
    let r = app.live.latest;
    let get = |i: usize| r.and_then(|r| r.power[i]);
    let export_style = if get(1).is_some_and(|e| e > 0.0) {
        v.judged(theme.info())
    } else {
        v.value()
    };
    let figures = r.and_then(|r| power_figures(&r, app.live.wiring()));
    let (s_label, s, pf) = match figures {
        Some(f) => (
            f.s_label(),
            num(Some(f.s_ui), 0, "VA"),
            if f.pf.is_finite() {
                format!("{:.2}", f.pf.min(99.99))
            } else {
                "—".into()
            },
        ),
        None => ("ΣU·I", "—".into(), "—".into()),
    };
    let lines = vec![
        Line::from(vec![
            Span::styled("P ", theme.label()),
            Span::styled(format!("{:>9}", num(get(0), 0, "W")), v.value()),
            Span::styled(" in ", theme.label()),
            Span::styled(format!("{:>8}", num(get(1), 0, "W")), export_style),
            Span::styled(" out", theme.label()),
        ]),
        Line::from(vec![
            Span::styled("Q ", theme.label()),
            Span::styled(format!("{:>9}", num(get(2), 0, "var")), v.value()),
            Span::styled(" in ", theme.label()),
            Span::styled(format!("{:>8}", num(get(3), 0, "var")), v.value()),
            Span::styled(" out", theme.label()),
        ]),
        Line::from(vec![
            Span::styled(format!("{s_label} "), theme.label()),
            Span::styled(s, v.value()),
            Span::styled("  PF ", theme.label()),
            Span::styled(pf, v.value()),
        ]),
    ];
    let title = v.title("Power", &[], area.width);
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(title)),
        area,
    );
}

/// The energy scaling in words.
fn energy_unit(app: &App) -> String {
    let l = &app.live;
    let not_scalable = match &l.energies {
        Some(e) => !e.scalable,
        None => l.latest.is_some_and(|r| !r.scalable),
    };
    if not_scalable {
        return "units as sent".into();
    }
    match app.scaling.energy_scaler {
        0 => "raw x 1 Wh (SE)".into(),
        1 => "raw x 10 Wh (NO)".into(),
        n => format!("raw x 10^{n} Wh"),
    }
}

/// The four registers in k-units (`A+ 12345.68 kWh`), each with its raw integer when `with_raw`.
fn energy_spans<'a>(v: &View, e: &live::Energies, with_raw: bool) -> Vec<Span<'a>> {
    let theme = v.theme;
    let mut spans = Vec::new();
    for (name, reg) in ["A+", "A-", "R+", "R-"].iter().zip(&e.registers) {
        spans.push(Span::styled(format!("{name} "), theme.label()));
        match reg {
            Some((val, raw, unit)) => {
                // Shown in k-units: Wh -> kWh.
                let k = if unit.ends_with('h') {
                    format!("k{unit}")
                } else {
                    unit.to_string()
                };
                spans.push(Span::styled(format!("{:.2} {k}", val / 1000.0), v.value()));
                if with_raw {
                    spans.push(Span::styled(format!(" (raw {raw})"), theme.dim()));
                }
            }
            None => spans.push(Span::styled("—", theme.dim())),
        }
        spans.push(Span::raw("  "));
    }
    spans
}

fn draw_energy(frame: &mut Frame, area: Rect, v: &View) {
    let (app, theme) = (v.app, v.theme);
    let inner_w = usize::from(area.width.saturating_sub(2));
    let (rest, line) = match &app.live.energies {
        None => (
            vec![energy_unit(app)],
            Line::from(Span::styled(
                if app.live.last_list == Some(ListKind::Telegram) {
                    "the telegrams carry no total registers (1.8.0 ... 4.8.0)"
                } else if app.live.brand.is_none() {
                    // Nothing came yet: the meter may push HAN-NVE lists or P1 telegrams.
                    "Energy registers: Kamstrup list 2 hourly (xx:00:05), P1 in every telegram"
                } else if app.live.brand == Some(Brand::Kamstrup) {
                    "Energy registers come with the hourly list 2 (at xx:00:05)"
                } else {
                    "Energy registers come with the hourly list"
                },
                theme.dim(),
            )),
        ),
        Some(e) => {
            let age = (app.now.with_timezone(&Utc) - e.received).num_seconds();
            let at = e.meter_time.map_or_else(
                || {
                    e.received
                        .with_timezone(app.now.offset())
                        .format("%H:%M:%S")
                        .to_string()
                },
                |t| t.format("%H:%M:%S").to_string(),
            );
            // With the raw integers when the line has room for them, else without.
            let mut spans = energy_spans(v, e, true);
            if Line::from(spans.clone()).width() > inner_w {
                spans = energy_spans(v, e, false);
            }
            (
                vec![
                    energy_unit(app),
                    format!(
                        "{} at {at}, {} ago",
                        // P1 telegrams bring the registers with every push, not in a list 2.
                        if app.live.list2_pushes > 0 {
                            "list 2"
                        } else {
                            "registers"
                        },
                        human_seconds(age).trim_start_matches('+')
                    ),
                ],
                Line::from(spans),
            )
        }
    };
    let title = v.title("Energy", &rest, area.width);
    frame.render_widget(
        Paragraph::new(line).block(Block::bordered().title(title)),
        area,
    );
}

/// A chart line: name, style, and its pieces (seconds before now, value), broken where no push
/// came for longer than the stale limit, so an outage shows as a gap.
type Series = (String, Style, Vec<Vec<(f64, f64)>>);

fn series(
    history: &[&Reading],
    now: f64,
    pick: impl Fn(&Reading) -> Option<f64>,
) -> Vec<Vec<(f64, f64)>> {
    let mut pieces: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut last_t: Option<f64> = None;
    for r in history {
        let t = r.received.timestamp() as f64;
        let Some(y) = pick(r) else {
            last_t = None;
            continue;
        };
        let gap = last_t.is_none_or(|l| t - l > STALE_AFTER_S as f64);
        if gap || pieces.is_empty() {
            pieces.push(Vec::new());
        }
        pieces.last_mut().expect("a piece").push((t - now, y));
        last_t = Some(t);
    }
    pieces
}

/// `2.5 min`, `30 min`, `3 h`: half a chart window.
fn short_duration(s: i64) -> String {
    if s % 3600 == 0 {
        format!("{} h", s / 3600)
    } else if s % 60 == 0 {
        format!("{} min", s / 60)
    } else {
        format!("{:.1} min", s as f64 / 60.0)
    }
}

/// `3.8 kW`, `240 V`, `12.5 A`: a value for an axis label.
fn axis_label(v: f64, unit: &str) -> String {
    if unit == "W" && v.abs() >= 10_000.0 {
        format!("{:.0} kW", v / 1000.0)
    } else if unit == "W" && v.abs() >= 1000.0 {
        format!("{:.1} kW", v / 1000.0)
    } else if unit == "A" && v.abs() < 10.0 {
        format!("{v:.1} A")
    } else {
        format!("{v:.0} {unit}")
    }
}

fn chart_data(v: &View, recent: &[&Reading], now: f64) -> Vec<Series> {
    let theme = v.theme;
    let phase = |p: usize, pick: fn(&Reading, usize) -> Option<f64>| {
        (
            format!("L{}", p + 1),
            theme.series(p),
            series(recent, now, |r| pick(r, p)),
        )
    };
    match v.app.live.chart {
        ChartKind::Power => vec![
            (
                "import".into(),
                theme.series(0),
                series(recent, now, |r| r.power[0]),
            ),
            (
                "export".into(),
                theme.series(3),
                series(recent, now, |r| r.power[1]),
            ),
        ],
        ChartKind::Voltage => (0..3).map(|p| phase(p, |r, p| r.voltage[p])).collect(),
        ChartKind::Current => (0..3).map(|p| phase(p, |r, p| r.current[p])).collect(),
    }
}

fn draw_chart(frame: &mut Frame, area: Rect, v: &View) {
    let (app, theme) = (v.app, v.theme);
    let l = &app.live;
    let (window, window_name) = WINDOWS[l.window];
    let now = app.now.timestamp() as f64;
    let recent: Vec<&Reading> = l
        .history
        .iter()
        .filter(|r| now - (r.received.timestamp() as f64) <= window as f64)
        .collect();
    let data = chart_data(v, &recent, now);
    let values = data.iter().flat_map(|d| d.2.iter().flatten().map(|p| p.1));
    let (mut lo, mut hi) = values.fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(v), b.max(v)));
    if lo > hi {
        (lo, hi) = (0.0, 1.0);
    }
    if l.chart == ChartKind::Voltage {
        lo = lo.min(NOMINAL_V * (1.0 - VOLTAGE_BAND));
        hi = hi.max(NOMINAL_V * (1.0 + VOLTAGE_BAND));
    } else {
        lo = lo.min(0.0);
    }
    let pad = ((hi - lo) * 0.05).max(1.0);
    let mut datasets = Vec::new();
    let empty = data.iter().all(|d| d.2.is_empty());
    let mut legend = vec![Span::raw(" ")];
    if empty {
        legend.push(Span::styled(
            format!("no data in the last {window_name} "),
            theme.dim(),
        ));
    }
    for (name, style, pieces) in &data {
        if !empty {
            legend.push(Span::styled(format!("━ {name} "), *style));
        }
        for piece in pieces {
            datasets.push(
                Dataset::default()
                    .marker(Marker::Braille)
                    .graph_type(GraphType::Line)
                    .style(*style)
                    .data(piece),
            );
        }
    }
    let unit = l.chart.unit();
    let title = v.title(
        &format!("{} ({unit})", l.chart.title()),
        &[window_name.to_string()],
        area.width,
    );
    let y_labels: Vec<Span> = if empty {
        Vec::new()
    } else {
        [lo, (lo + hi) / 2.0, hi]
            .map(|y| Span::styled(axis_label(y, unit), theme.dim()))
            .to_vec()
    };
    let half = format!("-{}", short_duration(window / 2));
    let chart = Chart::new(datasets)
        .block(
            Block::bordered()
                .title(title)
                .title_bottom(Line::from(legend)),
        )
        .legend_position(None)
        .x_axis(
            Axis::default()
                .bounds([-(window as f64), 0.0])
                .labels([
                    Span::styled(format!("-{window_name}"), theme.dim()),
                    Span::styled(half, theme.dim()),
                    Span::styled("now", theme.dim()),
                ])
                .style(theme.dim()),
        )
        .y_axis(
            Axis::default()
                .bounds([lo - pad, hi + pad])
                .labels(y_labels)
                .style(theme.dim()),
        );
    frame.render_widget(chart, area);
}

fn draw_diagnostics(frame: &mut Frame, area: Rect, v: &View) {
    let theme = v.theme;
    let lines: Vec<Line> = verdict::diagnostics(v.app)
        .into_iter()
        .map(|d| {
            if d.stale {
                // No ✔ (or any verdict colour) on values that are no longer current.
                return Line::from(vec![
                    Span::styled("· ", theme.dim()),
                    Span::styled(d.text, theme.dim()),
                ]);
            }
            let mark = match d.level {
                Level::Ok => "✔ ",
                Level::Info => "ℹ ",
                Level::Warn => "⚠ ",
                Level::Bad => "✖ ",
            };
            let style = level_style(theme, d.level);
            Line::from(vec![Span::styled(mark, style), Span::styled(d.text, style)])
        })
        .collect();
    let title = v.title("Diagnostics", &[], area.width);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .block(Block::bordered().title(title)),
        area,
    );
}

/// `1 push`, `29 pushes`.
fn pushes(n: u64) -> String {
    if n == 1 {
        "1 push".into()
    } else {
        format!("{n} pushes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Duration};

    fn reading(at: DateTime<Utc>, p: f64) -> Reading {
        Reading {
            received: at,
            meter_time: None,
            power: [Some(p), None, None, None],
            voltage: [None; 3],
            current: [None; 3],
            current_raw: [None; 3],
            current_scaler: -2,
            scalable: true,
            voltage_not_measured: [false; 3],
        }
    }

    #[test]
    fn an_outage_is_a_gap_in_the_chart_not_a_line_across_it() {
        let t0 = DateTime::parse_from_rfc3339("2024-10-30T16:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        // Pushes every 10 s for a minute, nothing for two minutes, then again.
        let mut history: Vec<Reading> = (0..6)
            .map(|i| reading(t0 + Duration::seconds(10 * i), 1000.0))
            .collect();
        history.extend((18..24).map(|i| reading(t0 + Duration::seconds(10 * i), 2000.0)));
        let refs: Vec<&Reading> = history.iter().collect();
        let now = (t0 + Duration::seconds(240)).timestamp() as f64;
        let pieces = series(&refs, now, |r| r.power[0]);
        assert_eq!(pieces.len(), 2, "{pieces:?}");
        assert_eq!(pieces[0].len(), 6);
        assert_eq!(pieces[1].len(), 6);
        assert_eq!(pieces[0].last(), Some(&(-190.0, 1000.0)));
        assert_eq!(pieces[1].first(), Some(&(-60.0, 2000.0)));
        // A push without the value breaks the line too.
        let pieces = series(&refs, now, |r| {
            r.power[0].filter(|_| r.received != t0 + Duration::seconds(30))
        });
        assert_eq!(pieces.len(), 3);
    }

    #[test]
    fn axis_labels_carry_units() {
        assert_eq!(axis_label(3825.0, "W"), "3.8 kW");
        assert_eq!(axis_label(12500.0, "W"), "12 kW");
        assert_eq!(axis_label(0.0, "W"), "0 W");
        assert_eq!(axis_label(253.0, "V"), "253 V");
        assert_eq!(axis_label(2.5, "A"), "2.5 A");
        assert_eq!(short_duration(150), "2.5 min");
        assert_eq!(short_duration(1800), "30 min");
        assert_eq!(short_duration(3 * 3600), "3 h");
        assert_eq!(multiplier(-3), "0.001 A");
        assert_eq!(multiplier(-2), "0.01 A");
        assert_eq!(multiplier(0), "1 A");
        assert_eq!(multiplier(1), "10 A");
    }
}
