//! Drawing: a pure function of the app state. One file per tab or panel.

pub mod events;
pub mod help;
pub mod hexdump;
pub mod inspector;
pub mod live;
pub mod picker;
pub mod readout;
pub mod status;
pub mod theme;

use crate::app::{App, Tab};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
pub use theme::Theme;

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
    let [tabs, body, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(status::height(frame.area().width)),
    ])
    .areas(frame.area());
    draw_tabs(frame, tabs, app, theme);
    match app.tab {
        Tab::Live => live::draw(frame, body, app, theme),
        Tab::Readout => readout::draw(frame, body, app, theme),
        Tab::Inspector => inspector::draw(frame, body, app, theme),
        Tab::Events => events::draw(frame, body, app, theme),
    }
    status::draw(frame, status, app, theme);
    if app.help {
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
