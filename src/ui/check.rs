//! The Check tab: the installer's acceptance checks as `kamscope check` prints them (one place
//! decides them: [`crate::app::check`]), with the overall verdict in the title.

use crate::app::App;
use crate::app::check::{self, Status, Verdict};
use crate::ui::Theme;
use crate::ui::events::wrap;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

/// Status and id columns, with their gaps.
const STATUS_W: usize = 6;
const ID_W: usize = 10;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let checks = check::checks(app, app.check_options);
    let verdict = check::verdict(app, &checks);
    let style_of = |s: Status| -> Style {
        match s {
            Status::Pass => theme.ok(),
            Status::Skip => theme.dim(),
            Status::Warn => theme.warn(),
            Status::Fail => theme.bad(),
        }
    };
    let text_w = (area.width as usize)
        .saturating_sub(2 + STATUS_W + ID_W)
        .max(10);
    let mut lines: Vec<Line> = Vec::new();
    for c in &checks {
        // The message carries the numbers judged; `kamscope check --format json` and the
        // report list the evidence apart.
        let text = &c.message;
        for (i, part) in wrap(text, text_w).into_iter().enumerate() {
            let (status, id) = if i == 0 {
                (c.status.name(), c.id)
            } else {
                ("", "")
            };
            lines.push(Line::from(vec![
                Span::styled(format!("{status:<STATUS_W$}"), style_of(c.status)),
                Span::styled(format!("{id:<ID_W$}"), theme.label()),
                Span::styled(part, theme.value()),
            ]));
        }
    }
    let rows = area.height.saturating_sub(2) as usize;
    let scroll = (app.check_scroll as usize).min(lines.len().saturating_sub(rows));
    let (word, style) = match verdict {
        Verdict::Pass => ("PASS", theme.ok()),
        Verdict::Fail => ("FAIL", theme.bad()),
        Verdict::NoData => ("NO DATA", theme.warn()),
    };
    let mut title = vec![
        Span::raw(" Check · verdict "),
        Span::styled(word, style),
        Span::raw(format!(" · {} ", check::tally(&checks))),
    ];
    if scroll > 0 {
        title.push(Span::raw(format!("· {scroll} rows above ")));
    }
    frame.render_widget(
        Paragraph::new(lines)
            .scroll((scroll as u16, 0))
            .block(Block::bordered().title(Line::from(title))),
        area,
    );
}
