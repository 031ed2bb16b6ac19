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
    ("?", "this help; Esc closes it or dismisses a message"),
    ("q, Ctrl-C", "quit"),
    ("", "Live"),
    (
        "c  w",
        "chart: power / voltage / current; window 5 min to 24 h",
    ),
    ("e", "energy scaler: x10 Wh (Norway) / Wh (Sweden)"),
    ("i", "current scaler: by type / 0.01 A / 0.001 A"),
    ("", "Readout"),
    (
        "r, Enter",
        "read the meter through the optical head (Esc cancels)",
    ),
    (
        "← →  c",
        "earlier / later readout; compare with the one before",
    ),
    ("↑ ↓  s  j", "scroll registers; export CSV / JSON"),
    ("", "Inspector"),
    (
        "↑ ↓ j k",
        "select a span (pauses following); tx = sent by us",
    ),
    ("PgUp PgDn g G", "page, first, last (G follows again)"),
    ("space  b", "pause / follow; bad frames and junk only"),
    (
        "[ ]  x",
        "scroll the frame detail; export the frame as JSON",
    ),
];

pub fn draw(frame: &mut Frame, area: Rect, _app: &App, theme: &Theme) {
    let width = 72.min(area.width);
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
