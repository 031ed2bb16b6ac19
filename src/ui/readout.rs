//! The Readout tab: the optical readout's progress and verdict, the registers read, a comparison
//! with the previous readout, and the matching energy register from the HAN side.

use crate::app::App;
use crate::app::readout::fields;
use crate::protocol::iec_session::Verdict;
use crate::ui::Theme;
use crate::wire::FieldDetail;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let [head, table] = Layout::vertical([Constraint::Length(6), Constraint::Min(3)]).areas(area);
    draw_head(frame, head, app, theme);
    draw_registers(frame, table, app, theme);
}

fn seconds(ms: u64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

fn bar(fraction: f64, width: usize) -> String {
    let filled = (fraction.clamp(0.0, 1.0) * width as f64).round() as usize;
    format!("{}{}", "█".repeat(filled), "·".repeat(width - filled))
}

fn verdict_style(v: &Verdict, theme: &Theme) -> ratatui::style::Style {
    match v {
        Verdict::Complete { .. } => theme.ok(),
        Verdict::Cancelled => theme.warn(),
        _ => theme.bad(),
    }
}

fn draw_head(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let tab = &app.readout;
    let mut lines = Vec::new();
    let Some(port) = &tab.port else {
        lines.push(Line::from(Span::styled(
            "No optical head configured.",
            theme.warn(),
        )));
        lines.push(Line::from(
            "Start kamscope with --optical PATH (the head's serial port, read at 300 7E1),",
        ));
        lines.push(Line::from(
            "or set [optical] port in the config. The demo has a simulated one.",
        ));
        frame.render_widget(
            Paragraph::new(lines).block(Block::bordered().title(" Optical readout ")),
            area,
        );
        return;
    };
    match &tab.running {
        Some(s) => {
            let mut first = vec![
                Span::styled(format!("{} ", s.phase), theme.warn()),
                Span::styled(
                    format!(
                        "· {} B · {} lines · {}",
                        s.bytes,
                        s.lines,
                        seconds(s.elapsed_ms)
                    ),
                    theme.value(),
                ),
            ];
            if s.attempt > 1 {
                first.push(Span::styled(
                    format!(" · attempt {}", s.attempt),
                    theme.warn(),
                ));
            }
            if s.echo_seen {
                first.push(Span::styled(" · echo dropped", theme.dim()));
            }
            lines.push(Line::from(first));
            let width = (area.width as usize).saturating_sub(24).clamp(10, 50);
            let (fraction, left) = match (s.eta_ms, s.lines) {
                (Some(eta), _) => {
                    let total = s.elapsed_ms + eta;
                    (
                        s.elapsed_ms as f64 / total.max(1) as f64,
                        format!("~{} left", seconds(eta)),
                    )
                }
                (None, 0) => (0.0, "waiting".into()),
                (None, _) => (0.5, "length unknown".into()),
            };
            lines.push(Line::from(vec![
                Span::styled(bar(fraction, width), theme.info()),
                Span::styled(format!(" {left}"), theme.dim()),
            ]));
            if let Some(id) = &s.ident {
                lines.push(Line::from(Span::raw(format!(
                    "{} {} · mode {} · {} baud",
                    id.manufacturer,
                    id.ident,
                    id.mode.name(),
                    s.baud
                ))));
            }
            lines.push(Line::from(Span::styled("Esc cancels", theme.dim())));
        }
        None => match tab.shown() {
            None => {
                lines.push(Line::from(Span::styled(
                    "Ready: hold the head on the meter's optical port and press r.",
                    theme.value(),
                )));
                lines.push(Line::from(Span::styled(
                    "A readout at 300 baud takes 10 to 90 seconds; the head may echo what it sends.",
                    theme.dim(),
                )));
            }
            Some(r) => {
                lines.push(Line::from(vec![Span::styled(
                    r.verdict.describe(),
                    verdict_style(&r.verdict, theme),
                )]));
                let mut second = vec![Span::raw(match &r.ident {
                    Some(id) => format!(
                        "{} {} · mode {} {} baud",
                        id.manufacturer,
                        id.ident,
                        id.mode.name(),
                        r.baud
                    ),
                    None => "no identification".into(),
                })];
                second.push(Span::styled(
                    format!(
                        " · {} B in {}{}",
                        r.raw_block.len(),
                        seconds(r.duration_ms),
                        if r.echo_seen { " · echo dropped" } else { "" }
                    ),
                    theme.dim(),
                ));
                lines.push(Line::from(second));
                if let Some((at, why)) = &r.block.broke_at
                    && !matches!(r.verdict, Verdict::Incomplete { .. })
                {
                    lines.push(Line::from(Span::styled(
                        format!("broke at byte {at}: {why}"),
                        theme.bad(),
                    )));
                }
                lines.push(Line::from(Span::styled(
                    format!(
                        "readout {} of {} (← →) · r again · c compare{} · s CSV · x JSON",
                        tab.selected + 1,
                        tab.results.len(),
                        if tab.compare { " (on)" } else { "" }
                    ),
                    theme.dim(),
                )));
            }
        },
    }
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .block(Block::bordered().title(match (&tab.running, tab.shown()) {
                (None, Some(r)) => format!(
                    " Optical readout · {port} · {} ",
                    r.started.with_timezone(app.now.offset()).format("%H:%M:%S")
                ),
                _ => format!(" Optical readout · {port} "),
            })),
        area,
    );
}

/// The number read from a measured value (decimal comma and leading zeros read), or the value as
/// the meter sent it: on `v`, for text, and for ids and counters without a unit (a customer
/// number keeps its leading zeros).
fn value_text(f: &FieldDetail, raw: bool) -> String {
    match f.value {
        Some(v) if !raw && f.unit.is_some() => v.to_string(),
        _ => f.raw_text(),
    }
}

fn draw_registers(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let tab = &app.readout;
    let Some(r) = tab.shown() else {
        frame.render_widget(Block::bordered().title(" Registers "), area);
        return;
    };
    let current = fields(r);
    let raw = tab.show_raw;
    // Values of a readout that failed its check are shown, but not as trustworthy.
    let trusted = r.verdict.ok();
    let value_style = if trusted { theme.value() } else { theme.warn() };
    let value_text = |f: &FieldDetail| value_text(f, raw);
    let previous = if tab.compare {
        tab.previous().map(fields)
    } else {
        None
    };
    let name_w = current
        .iter()
        .map(|f| f.name.chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, 32);
    let mut lines = Vec::new();
    let mut header = format!(
        "{:<9} {:<name_w$} {:>12} {:<6}",
        "id",
        "name",
        if raw { "as sent" } else { "value" },
        "unit"
    );
    if previous.is_some() {
        header.push_str(&format!(" {:>12} {:>9}", "before", "change"));
    }
    lines.push(Line::from(Span::styled(header, theme.dim())));
    for f in &current {
        let name: String = f.name.chars().take(name_w).collect();
        let mut spans = vec![
            Span::styled(
                format!("{:<9} ", f.obis.as_deref().unwrap_or("")),
                theme.dim(),
            ),
            Span::raw(format!("{name:<name_w$} ")),
            Span::styled(format!("{:>12} ", value_text(f)), value_style),
            Span::raw(format!("{:<6}", f.unit.as_deref().unwrap_or(""))),
        ];
        if let Some(prev) = &previous {
            let before = prev.iter().find(|p| p.obis == f.obis && p.name == f.name);
            let (b, change, style) = match before {
                None => ("—".to_string(), "new".to_string(), theme.info()),
                Some(p) => match (f.value, p.value) {
                    (Some(now), Some(then)) if now != then => (
                        value_text(p),
                        format!("{:+}", ((now - then) * 1000.0).round() / 1000.0),
                        theme.warn(),
                    ),
                    _ if value_text(p) != value_text(f) => {
                        (value_text(p), "changed".into(), theme.warn())
                    }
                    _ => (value_text(p), "".into(), theme.dim()),
                },
            };
            spans.push(Span::styled(format!(" {b:>12} {change:>9}"), style));
        }
        if let Some(t) = &f.text {
            spans.push(Span::styled(format!("  {t}"), theme.info()));
        }
        lines.push(Line::from(spans));
    }
    // The same energy from both sources, when the HAN side is live.
    if let Some(e) = &app.live.energies
        && let Some((han, _, _)) = e.registers[0]
        && let Some(iec) = current
            .iter()
            .find(|f| matches!(f.obis.as_deref(), Some("1.8.0") | Some("1.20")))
        && let Some(iec_kwh) = iec.value
    {
        let han_kwh = han / 1000.0;
        let diff = han_kwh - iec_kwh;
        let style = if diff.abs() <= 1.0 {
            theme.ok()
        } else {
            theme.warn()
        };
        lines.push(Line::from(""));
        lines.push(Line::from(vec![
            Span::styled("active energy import: ", theme.label()),
            Span::raw(format!(
                "optical {} {iec_kwh} kWh · HAN A+ {han_kwh:.2} kWh ",
                iec.obis.as_deref().unwrap_or("")
            )),
            Span::styled(
                if diff.abs() <= 1.0 {
                    "(agree)".to_string()
                } else {
                    format!("(differ by {diff:+.2} kWh: scaling, CT ratio, or different meters?)")
                },
                style,
            ),
        ]));
    }
    let rows = area.height.saturating_sub(2) as usize;
    let scroll = (tab.scroll as usize).min(lines.len().saturating_sub(rows)) as u16;
    let more = if lines.len() > rows {
        " · ↑↓ scroll"
    } else {
        ""
    };
    let mut title = vec![Span::raw(format!(" Registers ({}){more} ", current.len()))];
    if !trusted {
        title.push(Span::styled(
            "· from a readout that failed: do not trust ",
            theme.bad(),
        ));
    }
    frame.render_widget(
        Paragraph::new(lines)
            .scroll((scroll, 0))
            .block(Block::bordered().title(Line::from(title))),
        area,
    );
}
