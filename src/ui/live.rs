//! The Live tab: meter identity and clock, per-phase values with gauges, power, energy
//! registers, a chart over time, and the installation diagnostics.

use crate::app::App;
use crate::app::live::{ChartKind, Level, Reading, WINDOWS, diagnostics, human_seconds};
use crate::ui::Theme;
use chrono::Utc;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Chart, Dataset, GraphType, Paragraph, Wrap};

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let [meter, mid, energy, bottom] = Layout::vertical([
        Constraint::Length(4),
        Constraint::Length(5),
        Constraint::Length(3),
        Constraint::Min(5),
    ])
    .areas(area);
    draw_meter(frame, meter, app, theme);
    let [phases, power] =
        Layout::horizontal([Constraint::Percentage(56), Constraint::Percentage(44)]).areas(mid);
    draw_phases(frame, phases, app, theme);
    draw_power(frame, power, app, theme);
    draw_energy(frame, energy, app, theme);
    let [chart, diag] =
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(bottom);
    draw_chart(frame, chart, app, theme);
    draw_diagnostics(frame, diag, app, theme);
}

fn num(v: Option<f64>, decimals: usize, unit: &str) -> String {
    match v {
        Some(v) => format!("{v:.decimals$} {unit}"),
        None => "—".into(),
    }
}

fn draw_meter(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let l = &app.live;
    let mut first = vec![
        Span::styled("id ", theme.label()),
        Span::styled(
            l.meter_id.clone().unwrap_or_else(|| "—".into()),
            theme.value(),
        ),
        Span::styled("  type ", theme.label()),
        Span::raw(l.meter_type.clone().unwrap_or_else(|| "—".into())),
    ];
    if l.meter_type.is_some() {
        first.push(Span::styled(
            format!(" ({})", l.meter_kind.description()),
            theme.info(),
        ));
    }
    let second = match &l.latest {
        None => Line::from(Span::styled(
            "waiting for the first push (list 1 every 10 s)",
            theme.warn(),
        )),
        Some(r) => {
            let age = (app.now.with_timezone(&Utc) - r.received)
                .num_seconds()
                .max(0);
            let age_style = if age > 25 {
                theme.bad()
            } else if age > 12 {
                theme.warn()
            } else {
                theme.ok()
            };
            let meter_clock = r
                .meter_time
                .map_or("—".into(), |t| t.format("%Y-%m-%d %H:%M:%S").to_string());
            let clock_style = if l.latest_clock.is_some_and(|c| c.flagged_invalid()) {
                theme.bad()
            } else {
                theme.value()
            };
            Line::from(vec![
                Span::styled("meter clock ", theme.label()),
                Span::styled(meter_clock, clock_style),
                Span::styled("  laptop ", theme.label()),
                Span::raw(app.now.format("%H:%M:%S").to_string()),
                Span::styled("  last push ", theme.label()),
                Span::styled(format!("{age} s ago"), age_style),
            ])
        }
    };
    let mut title = match &l.list_version {
        Some(v) => format!(" Meter · {v} "),
        None => " Meter ".into(),
    };
    if l.pushes > 0 {
        title.push_str(&format!(
            "· {} pushes, {} hourly ",
            l.pushes, l.list2_pushes
        ));
    }
    frame.render_widget(
        Paragraph::new(vec![Line::from(first), second]).block(Block::bordered().title(title)),
        area,
    );
}

/// Current gauge scale: 16 A or a quarter above the highest current seen.
fn current_scale(app: &App) -> f64 {
    let max = app
        .live
        .history
        .iter()
        .flat_map(|r| r.current.iter().flatten())
        .cloned()
        .fold(0.0, f64::max);
    (max * 1.25).max(16.0)
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

fn draw_phases(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let l = &app.live;
    let phases = if l.three_phase() { 3 } else { 1 };
    let scale = current_scale(app);
    let inner_w = area.width.saturating_sub(2) as usize;
    let gauge_w = inner_w.saturating_sub(2 + 7 + 10 + 10).clamp(3, 30);
    let mut lines = Vec::new();
    for p in 0..3 {
        let name = Span::styled(format!("L{} ", p + 1), theme.series(p));
        if p >= phases {
            lines.push(Line::from(vec![
                name,
                Span::styled("not on this meter (1-phase)", theme.dim()),
            ]));
            continue;
        }
        let Some(r) = l.latest else {
            lines.push(Line::from(vec![name, Span::styled("—", theme.dim())]));
            continue;
        };
        let (u, i) = (r.voltage[p], r.current[p]);
        let u_style = match u {
            None => theme.bad(),
            Some(u) if u < 115.0 => theme.bad(),
            Some(u) if !(207.0..=253.0).contains(&u) => theme.warn(),
            Some(_) => theme.value(),
        };
        let s = u.zip(i).map(|(u, i)| u * i);
        lines.push(Line::from(vec![
            name,
            Span::styled(format!("{:>6}", num(u, 0, "V")), u_style),
            Span::raw(" "),
            Span::styled(format!("{:>9}", num(i, 2, "A")), theme.value()),
            Span::raw(" "),
            Span::styled(bar(i.unwrap_or(0.0) / scale, gauge_w), theme.series(p)),
            Span::styled(format!("{:>9}", num(s, 0, "VA")), theme.dim()),
        ]));
    }
    let unit = match app.live.current_scaler {
        -3 => "0.001 A",
        -2 => "0.01 A",
        -1 => "0.1 A",
        _ => "A",
    };
    let how = if app.scaling.current_scaler.is_some() {
        "set"
    } else {
        "auto"
    };
    let title = format!(" Phases · I x{unit} {how} · bar {scale:.0} A ");
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(title)),
        area,
    );
}

fn draw_power(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let r = app.live.latest;
    let get = |i: usize| r.and_then(|r| r.power[i]);
    let export_style = if get(1).is_some_and(|e| e > 0.0) {
        theme.info()
    } else {
        theme.value()
    };
    let s = r.and_then(|r| r.apparent_from_phases());
    let pf = match (r.and_then(|r| r.net_power()), s) {
        (Some(p), Some(s)) if s > 1.0 => format!("{:.2}", (p.abs() / s).min(9.99)),
        _ => "—".into(),
    };
    let lines = vec![
        Line::from(vec![
            Span::styled("P ", theme.label()),
            Span::styled(format!("{:>9}", num(get(0), 0, "W")), theme.value()),
            Span::styled(" in ", theme.label()),
            Span::styled(format!("{:>8}", num(get(1), 0, "W")), export_style),
            Span::styled(" out", theme.label()),
        ]),
        Line::from(vec![
            Span::styled("Q ", theme.label()),
            Span::styled(format!("{:>9}", num(get(2), 0, "var")), theme.value()),
            Span::styled(" in ", theme.label()),
            Span::styled(format!("{:>8}", num(get(3), 0, "var")), theme.value()),
            Span::styled(" out", theme.label()),
        ]),
        Line::from(vec![
            Span::styled("ΣU·I ", theme.label()),
            Span::raw(num(s, 0, "VA")),
            Span::styled("  P/S ", theme.label()),
            Span::raw(pf),
        ]),
    ];
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" Power ")),
        area,
    );
}

/// The energy scaling in words.
fn energy_unit(app: &App) -> String {
    match app.scaling.energy_scaler {
        0 => "raw x 1 Wh (SE)".into(),
        1 => "raw x 10 Wh (NO)".into(),
        n => format!("raw x 10^{n} Wh"),
    }
}

fn draw_energy(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let wide = area.width >= 110;
    let (title, line) = match &app.live.energies {
        None => (
            format!(" Energy registers · {} ", energy_unit(app)),
            Line::from(Span::styled(
                "come with the hourly list 2 (at xx:00:05)",
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
            let mut spans = Vec::new();
            for (name, reg) in ["A+", "A-", "R+", "R-"].iter().zip(&e.registers) {
                spans.push(Span::styled(format!("{name} "), theme.label()));
                match reg {
                    Some((v, raw, unit)) => {
                        // Shown in k-units: Wh -> kWh.
                        let k = if unit.ends_with('h') {
                            format!("k{unit}")
                        } else {
                            unit.to_string()
                        };
                        spans.push(Span::styled(
                            format!("{:.2} {k}", v / 1000.0),
                            theme.value(),
                        ));
                        if wide {
                            spans.push(Span::styled(format!(" (raw {raw})"), theme.dim()));
                        }
                    }
                    None => spans.push(Span::styled("—", theme.dim())),
                }
                spans.push(Span::raw("  "));
            }
            (
                format!(
                    " Energy · {} · list 2 at {at}, {} ago ",
                    energy_unit(app),
                    human_seconds(age).trim_start_matches('+')
                ),
                Line::from(spans),
            )
        }
    };
    frame.render_widget(
        Paragraph::new(line).block(Block::bordered().title(title)),
        area,
    );
}

/// A chart line: name, style, points (seconds before now, value).
type Series = (String, Style, Vec<(f64, f64)>);

fn series(
    history: &[&Reading],
    now: f64,
    pick: impl Fn(&Reading) -> Option<f64>,
) -> Vec<(f64, f64)> {
    history
        .iter()
        .filter_map(|r| Some((r.received.timestamp() as f64 - now, pick(r)?)))
        .collect()
}

fn draw_chart(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let l = &app.live;
    let (window, window_name) = WINDOWS[l.window];
    let now = app.now.timestamp() as f64;
    let recent: Vec<&Reading> = l
        .history
        .iter()
        .filter(|r| now - (r.received.timestamp() as f64) <= window as f64)
        .collect();
    let data: Vec<Series> = match l.chart {
        ChartKind::Power => vec![
            (
                "import".into(),
                theme.series(0),
                series(&recent, now, |r| r.power[0]),
            ),
            (
                "export".into(),
                theme.series(3),
                series(&recent, now, |r| r.power[1]),
            ),
        ],
        ChartKind::Voltage => (0..3)
            .map(|p| {
                (
                    format!("L{}", p + 1),
                    theme.series(p),
                    series(&recent, now, |r| r.voltage[p]),
                )
            })
            .collect(),
        ChartKind::Current => (0..3)
            .map(|p| {
                (
                    format!("L{}", p + 1),
                    theme.series(p),
                    series(&recent, now, |r| r.current[p]),
                )
            })
            .collect(),
    };
    let values = data.iter().flat_map(|d| d.2.iter().map(|p| p.1));
    let (mut lo, mut hi) = values.fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(v), b.max(v)));
    if lo > hi {
        (lo, hi) = (0.0, 1.0);
    }
    if l.chart == ChartKind::Voltage {
        lo = lo.min(207.0);
        hi = hi.max(253.0);
    } else {
        lo = lo.min(0.0);
    }
    let pad = ((hi - lo) * 0.05).max(1.0);
    let datasets: Vec<Dataset> = data
        .iter()
        .filter(|d| !d.2.is_empty())
        .map(|(name, style, points)| {
            Dataset::default()
                .name(name.clone())
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(*style)
                .data(points)
        })
        .collect();
    let title = format!(" {} · {window_name} ", l.chart.title());
    let chart = Chart::new(datasets)
        .block(Block::bordered().title(title))
        .x_axis(
            Axis::default()
                .bounds([-(window as f64), 0.0])
                .labels([
                    Span::styled(format!("-{window_name}"), theme.dim()),
                    Span::styled("now", theme.dim()),
                ])
                .style(theme.dim()),
        )
        .y_axis(
            Axis::default()
                .bounds([lo - pad, hi + pad])
                .labels([
                    Span::styled(format!("{:.0}", lo), theme.dim()),
                    Span::styled(format!("{:.0}", hi), theme.dim()),
                ])
                .style(theme.dim()),
        );
    frame.render_widget(chart, area);
}

fn draw_diagnostics(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let lines: Vec<Line> = diagnostics(&app.live, app.now, app.std_offset)
        .into_iter()
        .map(|d| {
            let (mark, style) = match d.level {
                Level::Ok => ("✔ ", theme.ok()),
                Level::Info => ("ℹ ", theme.info()),
                Level::Warn => ("⚠ ", theme.warn()),
                Level::Bad => ("✖ ", theme.bad()),
            };
            Line::from(vec![Span::styled(mark, style), Span::styled(d.text, style)])
        })
        .collect();
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .block(Block::bordered().title(" Diagnostics ")),
        area,
    );
}
