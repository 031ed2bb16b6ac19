//! The Readout tab: the readout port's protocol, the readout's progress and verdict, the
//! registers read (or the meters an M-Bus scan found), a comparison with the previous readout,
//! and active energy import from every source side by side.

use crate::app::App;
use crate::app::compare::{self, Agreement};
use crate::app::readout::{Finished, Outcome};
use crate::ui::Theme;
use crate::wire::FieldDetail;
use crate::wire::ReadoutProtocol;
use crate::wire::mbus::FoundMeterDetail;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let [head, table] = Layout::vertical([Constraint::Length(6), Constraint::Min(3)]).areas(area);
    draw_head(frame, head, app, theme);
    match app.readout.shown().and_then(Finished::scan) {
        Some(_) => draw_scan(frame, table, app, theme),
        None => draw_registers(frame, table, app, theme),
    }
}

fn seconds(ms: u64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

fn bar(fraction: f64, width: usize) -> String {
    let filled = (fraction.clamp(0.0, 1.0) * width as f64).round() as usize;
    format!("{}{}", "█".repeat(filled), "·".repeat(width - filled))
}

fn outcome_style(o: Outcome, theme: &Theme) -> ratatui::style::Style {
    match o {
        Outcome::Good => theme.ok(),
        Outcome::Cancelled => theme.warn(),
        Outcome::Failed => theme.bad(),
    }
}

/// What the chosen protocol needs on the line, for the ready screen.
fn protocol_line(app: &App) -> String {
    match app.readout.protocol {
        ReadoutProtocol::Iec => {
            "IEC 61107: hold the head on the meter's optical port and press r (300 baud 7E1, 10 to 90 s)."
                .into()
        }
        ReadoutProtocol::Kmp => {
            "KMP: hold the head on the 685-382's optical port and press r (1200 baud 8E2).".into()
        }
        ReadoutProtocol::Mbus => format!(
            "M-Bus through a level converter (2400 8E1): r reads {}, n scans the bus.",
            app.readout.mbus_target()
        ),
    }
}

fn draw_head(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let tab = &app.readout;
    let mut lines = Vec::new();
    let Some(port) = &tab.port else {
        lines.push(Line::from(Span::styled(
            "No readout port configured.",
            theme.warn(),
        )));
        lines.push(Line::from(
            "Start kamscope with --optical PATH (an optical head, or an M-Bus level converter),",
        ));
        lines.push(Line::from(
            "or set [optical] port in the config. The demo has a simulated one.",
        ));
        frame.render_widget(
            Paragraph::new(lines).block(Block::bordered().title(" Readout ")),
            area,
        );
        return;
    };
    match &tab.running {
        Some(running) => {
            let p = running.progress();
            let mut first = vec![
                Span::styled(format!("{} ", p.phase), theme.warn()),
                Span::styled(
                    format!(
                        "· {}{}{}",
                        p.so_far,
                        if p.so_far.is_empty() { "" } else { " · " },
                        seconds(p.elapsed_ms)
                    ),
                    theme.value(),
                ),
            ];
            if p.attempt > 1 {
                first.push(Span::styled(
                    format!(" · attempt {}", p.attempt),
                    theme.warn(),
                ));
            }
            if p.echo_seen {
                first.push(Span::styled(" · echo dropped", theme.dim()));
            }
            lines.push(Line::from(first));
            let width = (area.width as usize).saturating_sub(24).clamp(10, 50);
            let (fraction, left) = match (p.eta_ms, p.fraction) {
                (Some(eta), Some(f)) => (f, format!("~{} left", seconds(eta))),
                (None, Some(0.0)) => (0.0, "waiting".into()),
                (None, Some(f)) => (f, String::new()),
                (_, None) => (0.5, "length unknown".into()),
            };
            lines.push(Line::from(vec![
                Span::styled(bar(fraction, width), theme.info()),
                Span::styled(format!(" {left}"), theme.dim()),
            ]));
            if let Some(meter) = p.meter {
                lines.push(Line::from(Span::raw(meter)));
            }
            lines.push(Line::from(Span::styled("Esc cancels", theme.dim())));
        }
        None => match tab.shown() {
            None => {
                lines.push(Line::from(Span::styled(
                    format!("Ready: {}", protocol_line(app)),
                    theme.value(),
                )));
                lines.push(Line::from(Span::styled(
                    "p chooses the protocol: IEC 61107, KMP (the 685-382) or M-Bus.",
                    theme.dim(),
                )));
            }
            Some(r) => {
                lines.push(Line::from(vec![Span::styled(
                    r.verdict_text(),
                    outcome_style(r.outcome(), theme),
                )]));
                // The shown readout's protocol, when it is not the one the title names.
                let prefix = if r.protocol() == tab.protocol {
                    String::new()
                } else {
                    format!("{} · ", r.protocol().title())
                };
                lines.push(Line::from(vec![
                    Span::styled(prefix, theme.label()),
                    Span::raw(r.meter_line()),
                    Span::styled(
                        format!(
                            " · {} in {}{}",
                            r.size_text(),
                            seconds(r.duration_ms()),
                            if r.echo_seen() {
                                " · echo dropped"
                            } else {
                                ""
                            }
                        ),
                        theme.dim(),
                    ),
                ]));
                if let Some((at, why)) = r.broke_at() {
                    lines.push(Line::from(Span::styled(
                        format!("broke at byte {at}: {why}"),
                        theme.bad(),
                    )));
                }
                lines.push(Line::from(Span::styled(
                    format!(
                        "readout {} of {} (← →) · r again · p protocol · c compare{} · s CSV · x JSON",
                        tab.selected + 1,
                        tab.results.len(),
                        if tab.compare { " (on)" } else { "" }
                    ),
                    theme.dim(),
                )));
            }
        },
    }
    let protocol = tab.running.as_ref().map_or(tab.protocol, |r| r.protocol());
    let title = match (&tab.running, tab.shown()) {
        (None, Some(r)) => format!(
            " Readout · {} · {port} · last {} ",
            protocol.title(),
            r.started()
                .with_timezone(app.now.offset())
                .format("%H:%M:%S")
        ),
        _ => format!(" Readout · {} · {port} ", protocol.title()),
    };
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .block(Block::bordered().title(title)),
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

/// The meters an M-Bus scan found, one to pick for the next readout.
fn draw_scan(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let tab = &app.readout;
    let meters: Vec<FoundMeterDetail> = tab
        .shown()
        .and_then(Finished::scan)
        .unwrap_or_default()
        .iter()
        .map(FoundMeterDetail::of)
        .collect();
    let mut lines = vec![Line::from(Span::styled(
        format!(
            "  {:>7}  {:<9} {:<5} {:>7}  medium",
            "primary", "secondary", "maker", "version"
        ),
        theme.dim(),
    ))];
    for (i, m) in meters.iter().enumerate() {
        let picked = i == tab.scan_cursor;
        let text = format!(
            "{} {:>7}  {:<9} {:<5} {:>7}  {} ({})",
            if picked { "›" } else { " " },
            m.primary,
            m.id,
            m.manufacturer,
            m.version,
            m.medium_name,
            m.medium
        );
        lines.push(Line::from(Span::styled(
            text,
            if picked {
                theme
                    .value()
                    .add_modifier(ratatui::style::Modifier::REVERSED)
            } else {
                theme.value()
            },
        )));
    }
    if meters.is_empty() {
        lines.push(Line::from(Span::styled(
            "no meter answered the scan",
            theme.warn(),
        )));
    }
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(format!(
            " Meters on the bus ({}) · ↑ ↓ pick · r reads it ",
            meters.len()
        ))),
        area,
    );
}

fn draw_registers(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let tab = &app.readout;
    let Some(r) = tab.shown() else {
        let mut lines = Vec::new();
        energy_lines(
            app,
            theme,
            usize::from(area.width.saturating_sub(2)),
            &mut lines,
        );
        frame.render_widget(
            Paragraph::new(lines).block(Block::bordered().title(" Registers ")),
            area,
        );
        return;
    };
    let current = r.fields();
    let raw = tab.show_raw;
    // Values of a readout that failed its check are shown, but not as trustworthy.
    let trusted = r.outcome() == Outcome::Good;
    let value_style = if trusted { theme.value() } else { theme.warn() };
    let value_text = |f: &FieldDetail| value_text(f, raw);
    let previous = if tab.compare {
        tab.previous().map(Finished::fields)
    } else {
        None
    };
    // M-Bus record codes (DIF, DIFEs, VIF, VIFEs) can be longer than an OBIS id.
    let id_w = current
        .iter()
        .filter_map(|f| f.obis.as_ref().map(|o| o.chars().count()))
        .max()
        .unwrap_or(0)
        .clamp(9, 17);
    // Names as long as the width leaves beside the id, value, unit (and comparison) columns.
    // A date or a note beside a value keeps 18 columns of its own.
    let text_w = if current.iter().any(|f| f.text.is_some()) {
        18
    } else {
        0
    };
    let room = usize::from(area.width.saturating_sub(2))
        .saturating_sub(id_w + 1 + 1 + 13 + 6 + text_w + if previous.is_some() { 23 } else { 0 });
    let name_w = current
        .iter()
        .map(|f| f.name.chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, room.max(4));
    let mut lines = Vec::new();
    let mut header = format!(
        "{:<id_w$} {:<name_w$} {:>12} {:<6}",
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
                format!("{:<id_w$} ", f.obis.as_deref().unwrap_or("")),
                theme.dim(),
            ),
            Span::raw(format!("{name:<name_w$} ")),
            Span::styled(format!("{:>12} ", value_text(f)), value_style),
            Span::raw(format!("{:<6}", f.unit.as_deref().unwrap_or(""))),
        ];
        if let Some(prev) = &previous {
            let before = prev.iter().find(|p| {
                p.obis == f.obis
                    && p.name == f.name
                    && p.storage == f.storage
                    && p.tariff == f.tariff
                    && p.function == f.function
            });
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
    energy_lines(
        app,
        theme,
        usize::from(area.width.saturating_sub(2)),
        &mut lines,
    );
    let rows = area.height.saturating_sub(2) as usize;
    let scroll = (tab.scroll as usize).min(lines.len().saturating_sub(rows)) as u16;
    let more = if lines.len() > rows {
        " · ↑↓ scroll"
    } else {
        ""
    };
    let mut title = vec![Span::raw(format!(" Registers ({}){more} ", current.len()))];
    if !trusted && !current.is_empty() {
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

/// The decimals that show a register's resolution: 1 kWh none, 10 Wh two, 1 Wh three.
fn decimals(resolution_kwh: f64) -> usize {
    if resolution_kwh >= 1.0 || resolution_kwh <= 0.0 {
        0
    } else {
        ((-resolution_kwh.log10()) - 1e-9).ceil().clamp(0.0, 3.0) as usize
    }
}

/// Active energy import from the HAN side and the latest good readout of each protocol, side by
/// side: the first is the reference, each other says whether it agrees with the time between.
fn energy_lines(app: &App, theme: &Theme, width: usize, lines: &mut Vec<Line<'static>>) {
    let table = compare::energy_table(&app.live, &app.readout);
    if table.len() < 2 {
        return;
    }
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        "Active energy import (A+) from every source",
        theme.label(),
    )));
    let reference = table[0].0.at;
    let register_w = table
        .iter()
        .map(|(r, _)| r.register.chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, 14);
    for (reading, agreement) in &table {
        let time = reading
            .at
            .with_timezone(app.now.offset())
            .format("%H:%M:%S");
        let register: String = reading.register.chars().take(register_w).collect();
        let digits = decimals(reading.resolution_kwh);
        let mut spans = vec![
            Span::styled(format!("{:<10}", reading.source), theme.dim()),
            Span::raw(format!("{register:<register_w$} ")),
            Span::styled(format!("{:>12.digits$} kWh ", reading.kwh), theme.value()),
            Span::styled(format!("{time} "), theme.dim()),
        ];
        // Differences with the digits of the finer of the two registers.
        let digits = digits.max(decimals(table[0].0.resolution_kwh));
        let later = if reading.at >= reference {
            "later"
        } else {
            "earlier"
        };
        let between = compare::between(reference, reading.at);
        let judged = match agreement {
            Agreement::Reference => {
                spans.push(Span::styled("reference", theme.dim()));
                None
            }
            Agreement::Agree {
                diff_kwh,
                allowed_kwh,
            } => Some(Span::styled(
                format!(
                    "{diff_kwh:+.digits$} kWh, {between} {later}: agrees (±{allowed_kwh:.digits$} kWh)"
                ),
                theme.ok(),
            )),
            Agreement::Differ {
                diff_kwh,
                allowed_kwh,
            } => {
                let text = format!(
                    "{diff_kwh:+.digits$} kWh, {between} {later}: more than {allowed_kwh:.digits$} kWh can explain"
                );
                let why = " (scaling, CT ratio, another meter?)";
                Some(Span::styled(
                    if 10 + text.chars().count() + why.len() <= width {
                        format!("{text}{why}")
                    } else {
                        text
                    },
                    theme.bad(),
                ))
            }
        };
        lines.push(Line::from(spans));
        if let Some(judged) = judged {
            lines.push(Line::from(vec![Span::raw(" ".repeat(10)), judged]));
        }
    }
}
