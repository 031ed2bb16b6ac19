//! The Inspector tab: every span in arrival order on the left; the selected one on the right with
//! its check verdicts (expected against received), annotated hex dump and decoded fields.

use crate::app::App;
use crate::app::inspector::LoggedSpan;
use crate::protocol::Protocol;
use crate::protocol::check::CheckValue;
use crate::ui::{Theme, hexdump};
use crate::wire::{Direction, SpanDetail};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span as TextSpan};
use ratatui::widgets::{Block, Paragraph, Wrap};

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let list_w = (area.width * 2 / 5).clamp(28, 44);
    let [list, detail] =
        Layout::horizontal([Constraint::Length(list_w), Constraint::Min(20)]).areas(area);
    draw_list(frame, list, app, theme);
    draw_detail(frame, detail, app, theme);
}

fn verdict(s: &LoggedSpan) -> &'static str {
    match s.protocol {
        Protocol::Junk => "junk",
        _ if s.ok => "ok",
        _ => "BAD",
    }
}

fn draw_list(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let ins = &app.inspector;
    let visible = ins.visible();
    let rows = area.height.saturating_sub(2) as usize;
    let start = if visible.len() <= rows {
        0
    } else {
        ins.selected
            .saturating_sub(rows.saturating_sub(1))
            .min(visible.len() - rows)
    };
    let lines: Vec<Line> = visible
        .iter()
        .enumerate()
        .skip(start)
        .take(rows)
        .map(|(n, &i)| {
            let s = &ins.spans[i];
            let v = verdict(s);
            let style = match v {
                "ok" => theme.ok(),
                "junk" => theme.warn(),
                _ => theme.bad(),
            };
            // Sent spans (optical requests) are marked, and the optical head's echo of them;
            // everything else came from the meter.
            let sent = if s.dir == Direction::Tx {
                " tx"
            } else if s.echo {
                " echo"
            } else {
                ""
            };
            let text = format!(
                "{} {:<8} {:>4} {}{sent}",
                s.received
                    .with_timezone(app.now.offset())
                    .format("%H:%M:%S"),
                s.protocol.name(),
                s.bytes.len(),
                v
            );
            let line = Line::from(TextSpan::styled(text, style));
            if n == ins.selected {
                line.patch_style(theme.selected())
            } else {
                line
            }
        })
        .collect();
    let mut title = format!(" Spans {}", visible.len());
    if ins.bad_only {
        title.push_str(" bad only");
    }
    title.push_str(if ins.follow {
        " · following "
    } else {
        " · paused "
    });
    if ins.evicted > 0 {
        title.push_str(&format!("({} older dropped) ", ins.evicted));
    }
    let body = if lines.is_empty() {
        vec![Line::from(TextSpan::styled(
            if ins.bad_only {
                "no bad frames or junk so far"
            } else {
                "nothing received yet"
            },
            theme.dim(),
        ))]
    } else {
        lines
    };
    frame.render_widget(
        Paragraph::new(body).block(Block::bordered().title(title)),
        area,
    );
}

fn draw_detail(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let (Some(s), Some(shown)) = (app.inspector.selected_span(), &app.inspector.detail) else {
        frame.render_widget(
            Paragraph::new("select a span on the left").block(Block::bordered().title(" Frame ")),
            area,
        );
        return;
    };
    let report = &shown.detail;
    let inner_w = area.width.saturating_sub(2) as usize;
    let mut lines = head_lines(s, report, inner_w, theme);
    lines.push(Line::from(""));
    lines.extend(hexdump::dump(
        &s.bytes,
        &shown.regions,
        hexdump::per_row(inner_w),
        theme,
    ));
    lines.push(Line::from(""));
    lines.extend(hexdump::legend(&shown.regions, inner_w, theme));
    lines.extend(field_lines(report, theme));
    // Never scroll past the end (wrapped lines make the text a little longer than counted).
    let visible_rows = area.height.saturating_sub(2) as usize;
    let scroll = app
        .inspector
        .detail_scroll
        .min(lines.len().saturating_sub(visible_rows / 2) as u16);
    let title = format!(
        " Frame · {} ",
        s.received
            .with_timezone(app.now.offset())
            .format("%H:%M:%S%.3f")
    );
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0))
            .block(Block::bordered().title(title)),
        area,
    );
}

/// `text` in lines of at most `width` columns, broken after a colon when what follows it fits
/// on one line, else between words; the lines after the first are indented to stay under its
/// text (past "  ✖ ").
fn wrapped(text: &str, width: usize, style: Style) -> Vec<Line<'static>> {
    const INDENT: usize = 4;
    let cols = |t: &str| t.chars().count();
    if cols(text) <= width {
        return vec![Line::from(TextSpan::styled(text.to_string(), style))];
    }
    let at_colon = text
        .rmatch_indices(": ")
        .find(|&(i, _)| cols(&text[..=i]) <= width && INDENT + cols(&text[i + 2..]) <= width);
    if let Some((i, _)) = at_colon {
        return vec![
            Line::from(TextSpan::styled(text[..=i].to_string(), style)),
            Line::from(TextSpan::styled(
                format!("{}{}", " ".repeat(INDENT), &text[i + 2..]),
                style,
            )),
        ];
    }
    let mut out = Vec::new();
    let mut line = String::new();
    let lead = text.len() - text.trim_start().len();
    line.push_str(&text[..lead]);
    let mut first = true;
    for word in text[lead..].split(' ') {
        let len = line.chars().count();
        if !first && len + 1 + word.chars().count() > width && len > INDENT {
            out.push(Line::from(TextSpan::styled(
                std::mem::take(&mut line),
                style,
            )));
            line = " ".repeat(INDENT);
        } else if !first {
            line.push(' ');
        }
        line.push_str(word);
        first = false;
    }
    out.push(Line::from(TextSpan::styled(line, style)));
    out
}

/// The span's first line, its checks, error, note and meter time, fitted to `width` columns.
fn head_lines(
    s: &LoggedSpan,
    report: &SpanDetail,
    width: usize,
    theme: &Theme,
) -> Vec<Line<'static>> {
    let mut lines: Vec<Line> = Vec::new();
    let verdict_style = if report.ok {
        theme.ok()
    } else if report.protocol == "junk" {
        theme.warn()
    } else {
        theme.bad()
    };
    let mut head = vec![
        TextSpan::styled(format!("@{} ", report.offset), theme.dim()),
        TextSpan::styled(format!("{} bytes ", report.len), theme.value()),
        TextSpan::raw(format!("{} ", report.protocol.to_uppercase())),
    ];
    if let Some(k) = &report.kind {
        head.push(TextSpan::styled(format!("{k} "), theme.dim()));
    }
    head.push(TextSpan::styled(verdict(s).to_string(), verdict_style));
    if report.echo {
        head.push(TextSpan::styled(" · echo", theme.info()));
    }
    if s.dir == Direction::Tx {
        head.push(TextSpan::styled(" · sent by kamscope", theme.info()));
    }
    lines.push(Line::from(head));
    for c in &report.checks {
        let style = if c.ok { theme.ok() } else { theme.bad() };
        let mut text = if c.ok {
            format!("  ✔ {} {}", c.name, c.actual)
        } else if let Some(cut) = report.cut_off_text(c) {
            format!("  ✖ {cut}")
        } else if c.actual == CheckValue::Missing {
            // Nothing to compare: the span ended before the check's bytes.
            format!("  ✖ {}: not received (the span ended before it)", c.name)
        } else {
            format!("  ✖ {}: expected {}, got {}", c.name, c.expected, c.actual)
        };
        if let Some(rule) = c.rule {
            text.push_str(&format!(" ({rule} rule)"));
        }
        lines.extend(wrapped(&text, width, style));
    }
    if let Some(e) = &report.error {
        lines.extend(wrapped(&format!("  {e}"), width, theme.bad()));
    }
    if let Some(n) = &report.note {
        let style = if report.unverified {
            theme.warn()
        } else {
            theme.info()
        };
        lines.extend(wrapped(&format!("  {n}"), width, style));
    }
    if let Some(i) = report.identification() {
        let ident = report.ident.as_deref().unwrap_or("");
        let text = format!(
            "  ident {ident} · manufacturer {} · mode {} ({} baud)",
            i.manufacturer, i.mode, i.baud
        );
        lines.extend(wrapped(&text, width, Style::new()));
    }
    if let Some(t) = &report.time {
        let mut l = format!("  meter time {t}");
        if let Some(list) = report.list {
            l.push_str(&format!(" · {list}"));
        }
        if let Some(why) = report.unverified_reason.filter(|_| report.unverified) {
            lines.extend(wrapped(
                &format!("{l} (unverified: {why})"),
                width,
                theme.warn(),
            ));
        } else {
            lines.extend(wrapped(&l, width, Style::new()));
        }
    }
    lines
}

/// The decoded fields; unverified ones in the warning colour, under a title that says why.
fn field_lines(report: &SpanDetail, theme: &Theme) -> Vec<Line<'static>> {
    if report.fields.is_empty() {
        return Vec::new();
    }
    let (title, title_style) = match report.unverified_reason.filter(|_| report.unverified) {
        Some(why) => (
            format!("  fields (unverified: {why}): OBIS, name, raw → value"),
            theme.warn(),
        ),
        None => (
            "  fields: OBIS, name, raw → value".to_string(),
            theme.title(),
        ),
    };
    let mut lines = vec![
        Line::from(""),
        Line::from(TextSpan::styled(title, title_style)),
    ];
    for f in &report.fields {
        let style = |normal: Style| if f.unverified { theme.warn() } else { normal };
        let mut spans = vec![
            TextSpan::styled(format!("  {:<16} ", f.code_text()), style(theme.dim())),
            TextSpan::styled(format!("{} ", f.name), style(Style::new())),
            TextSpan::styled(f.raw_text(), style(theme.dim())),
        ];
        if let Some(v) = f.value {
            spans.push(TextSpan::styled(
                format!(" → {v} {}", f.unit.as_deref().unwrap_or("")),
                style(theme.value()),
            ));
        }
        if let Some(t) = &f.text {
            spans.push(TextSpan::styled(format!(" {t}"), style(theme.info())));
        }
        lines.push(Line::from(spans));
    }
    lines
}
