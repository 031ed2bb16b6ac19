//! The Inspector tab: every span in arrival order on the left; the selected one on the right with
//! its check verdicts (expected against received), annotated hex dump and decoded fields.

use crate::app::App;
use crate::protocol::Protocol;
use crate::ui::{Theme, hexdump};
use crate::wire::{Direction, SpanRecord};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span as TextSpan};
use ratatui::widgets::{Block, Paragraph, Wrap};

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let list_w = (area.width * 2 / 5).clamp(28, 44);
    let [list, detail] =
        Layout::horizontal([Constraint::Length(list_w), Constraint::Min(20)]).areas(area);
    draw_list(frame, list, app, theme);
    draw_detail(frame, detail, app, theme);
}

fn verdict(s: &SpanRecord) -> &'static str {
    match s.content.protocol() {
        Protocol::Junk => "junk",
        _ if s.ok() => "ok",
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
            // Sent spans (optical requests) are marked; everything else was received.
            let sent = if s.dir == Direction::Tx { " tx" } else { "" };
            let text = format!(
                "{} {:<8} {:>4} {}{sent}",
                s.received
                    .with_timezone(app.now.offset())
                    .format("%H:%M:%S"),
                s.content.protocol().name(),
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
    lines.push(Line::from(head));
    for c in &report.checks {
        let style = if c.ok { theme.ok() } else { theme.bad() };
        let mut text = if c.ok {
            format!("  ✔ {} {}", c.name, c.actual)
        } else {
            format!("  ✖ {}: expected {}, got {}", c.name, c.expected, c.actual)
        };
        if let Some(rule) = c.rule {
            text.push_str(&format!(" ({rule} rule)"));
        }
        lines.push(Line::from(TextSpan::styled(text, style)));
    }
    if let Some(e) = &report.error {
        lines.push(Line::from(TextSpan::styled(format!("  {e}"), theme.bad())));
    }
    if let Some(n) = &report.note {
        lines.push(Line::from(TextSpan::styled(format!("  {n}"), theme.info())));
    }
    if let Some(t) = &report.time {
        let mut l = format!("  meter time {t}");
        if let Some(list) = report.list {
            l.push_str(&format!(" · {list}"));
        }
        lines.push(Line::from(TextSpan::raw(l)));
    }
    lines.push(Line::from(""));
    let inner_w = area.width.saturating_sub(2) as usize;
    let per_row = if inner_w >= 5 + 16 * 3 { 16 } else { 8 };
    lines.extend(hexdump::dump(&s.bytes, &shown.regions, per_row, theme));
    lines.push(Line::from(""));
    lines.extend(hexdump::legend(&shown.regions, theme));
    if !report.fields.is_empty() {
        lines.push(Line::from(""));
        lines.push(Line::from(TextSpan::styled(
            "  fields: OBIS, name, raw → value",
            theme.title(),
        )));
        for f in &report.fields {
            let mut spans = vec![
                TextSpan::styled(format!("  {:<16} ", f.code_text()), theme.dim()),
                TextSpan::raw(format!("{} ", f.name)),
                TextSpan::styled(f.raw_text(), theme.dim()),
            ];
            if let Some(v) = f.value {
                spans.push(TextSpan::styled(
                    format!(" → {v} {}", f.unit.as_deref().unwrap_or("")),
                    theme.value(),
                ));
            }
            if let Some(t) = &f.text {
                spans.push(TextSpan::styled(format!(" {t}"), theme.info()));
            }
            lines.push(Line::from(spans));
        }
    }
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
