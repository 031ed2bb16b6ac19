//! Drawing: a pure function of the app state. One file per tab or panel.

pub mod check;
pub mod events;
pub mod help;
pub mod hexdump;
pub mod inspector;
pub mod live;
pub mod picker;
pub mod readout;
pub mod status;
pub mod theme;

use crate::app::live::Level;
use crate::app::verdict;
use crate::app::{App, Tab};
use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
pub use theme::Theme;

/// The smallest terminal kamscope draws in: below it only says so (rather than dropping a phase
/// or a panel without a word).
pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;

/// The row of the tab bar and where each tab's title sits (for mouse clicks).
pub fn tab_hits(area: Rect) -> Vec<(Tab, u16, u16)> {
    let mut x = area.x + 1;
    Tab::ALL
        .iter()
        .map(|&t| {
            let w = t.title().len() as u16 + 2;
            let hit = (t, x, x + w);
            x += w + 1;
            hit
        })
        .collect()
}

pub fn draw(frame: &mut Frame, app: &App, theme: &Theme) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        draw_too_small(frame, area, theme);
        return;
    }
    let [tabs, head, body, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(status::height(area.width)),
    ])
    .areas(area);
    draw_tabs(frame, tabs, app, theme);
    draw_headline(frame, head, app, theme);
    match app.tab {
        Tab::Live => live::draw(frame, body, app, theme),
        Tab::Readout => readout::draw(frame, body, app, theme),
        Tab::Inspector => inspector::draw(frame, body, app, theme),
        Tab::Events => events::draw(frame, body, app, theme),
        Tab::Check => check::draw(frame, body, app, theme),
    }
    status::draw(frame, status, app, theme);
    if app.help {
        // Over everything: the key list needs every row at 80x24.
        help::draw(frame, frame.area(), app, theme);
    }
}

fn draw_tabs(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let mut spans = vec![Span::raw(" ")];
    for t in Tab::ALL {
        let style = if t == app.tab {
            theme.selected()
        } else {
            theme.dim()
        };
        spans.push(Span::styled(format!(" {} ", t.title()), style));
        spans.push(Span::raw(" "));
    }
    let right = " ? help  q quit ";
    let used: usize = spans.iter().map(|s| s.content.chars().count()).sum();
    let pad = (area.width as usize).saturating_sub(used + right.len() + 9);
    spans.push(Span::raw(" ".repeat(pad)));
    spans.push(Span::styled("kamscope", theme.title()));
    spans.push(Span::styled(right, theme.dim()));
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn draw_too_small(frame: &mut Frame, area: Rect, theme: &Theme) {
    let text = format!(
        "terminal too small ({}x{}): kamscope needs {MIN_WIDTH}x{MIN_HEIGHT}",
        area.width, area.height
    );
    let y = area.height / 2;
    let rows = area.height.saturating_sub(y);
    frame.render_widget(
        Paragraph::new(Line::from(Span::styled(text, theme.warn())))
            .alignment(Alignment::Center)
            .wrap(Wrap { trim: true }),
        Rect::new(
            area.x,
            area.y + y.saturating_sub(1),
            area.width,
            rows.max(1),
        ),
    );
}

/// The verdict line under the tab bar: "HAN ok · 3 phases ok · clock ok · 12/12 frames good", or
/// the worst problem first, in its colour. Parts that do not fit are left out whole; a problem
/// too long for the line is cut with an ellipsis.
fn draw_headline(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let h = verdict::headline(app);
    let style = |level: Level| match level {
        Level::Ok => theme.ok(),
        Level::Info => theme.info(),
        Level::Warn => theme.warn(),
        Level::Bad => theme.bad(),
    };
    let room = usize::from(area.width.saturating_sub(1));
    let mut spans = vec![Span::raw(" ")];
    let mut used = 0;
    for (i, (level, text)) in h.parts.iter().enumerate() {
        let mark = if i == 0 && *level >= Level::Warn {
            if *level == Level::Bad { "✖ " } else { "⚠ " }
        } else {
            ""
        };
        let mut text = format!("{mark}{text}");
        let fits = |t: &str| Span::raw(t).width() <= room;
        if i == 0
            && !fits(&text)
            && let Some(short) = &h.short
        {
            text = format!("{mark}{short}");
        }
        let sep = if i == 0 { 0 } else { 3 };
        let width = Span::raw(text.as_str()).width();
        if used + sep + width > room {
            if i == 0 {
                // Cut at a word, never inside one.
                let cut: String = text.chars().take(room.saturating_sub(1)).collect();
                let cut = cut.rsplit_once(' ').map_or(cut.as_str(), |(a, _)| a);
                spans.push(Span::styled(format!("{cut} …"), style(*level)));
            }
            break;
        }
        if sep > 0 {
            spans.push(Span::styled(" · ", theme.dim()));
        }
        spans.push(Span::styled(text, style(*level)));
        used += sep + width;
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
