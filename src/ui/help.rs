//! The `?` overlay: every key.

use crate::app::App;
use crate::ui::Theme;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

const KEYS: &[(&str, &str)] = &[
    ("", "Everywhere"),
    ("1 2 3, Tab", "Live, Readout, Inspector (or click a tab)"),
    ("?", "this help (Esc closes)"),
    ("Esc", "dismiss a message"),
    ("q, Ctrl-C", "quit"),
    ("", "Live"),
    ("c", "chart: power / voltage / current"),
    ("w", "chart window: 5 min / 1 h / 6 h / 24 h"),
    ("e", "energy scaler: x10 Wh (Norway) / Wh (Sweden)"),
    ("i", "current scaler: by type / 0.01 A / 0.001 A"),
    ("", "Inspector"),
    ("↑ ↓ j k", "select a span (pauses following)"),
    ("PgUp PgDn g G", "page, first, last (G follows again)"),
    ("space", "pause / follow new frames"),
    ("b", "bad frames and junk only"),
    ("[ ]", "scroll the frame detail"),
    ("x", "export the selected frame to a JSON file"),
];

pub fn draw(frame: &mut Frame, area: Rect, _app: &App, theme: &Theme) {
    let width = 66.min(area.width);
    let height = (KEYS.len() as u16 + 2).min(area.height);
    let x = area.x + (area.width - width) / 2;
    let y = area.y + (area.height - height) / 2;
    let popup = Rect::new(x, y, width, height);
    let lines: Vec<Line> = KEYS
        .iter()
        .map(|(k, what)| {
            if k.is_empty() {
                Line::from(Span::styled(*what, theme.title()))
            } else {
                Line::from(vec![
                    Span::styled(format!("  {k:<14}"), theme.value()),
                    Span::raw(*what),
                ])
            }
        })
        .collect();
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" Keys ")),
        popup,
    );
}
