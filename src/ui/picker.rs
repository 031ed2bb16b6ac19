//! The port picker screen.

use crate::app::picker::Picker;
use crate::ui::Theme;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

pub fn draw(frame: &mut Frame, picker: &Picker, theme: &Theme) {
    let [title, list, help] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(3),
        Constraint::Length(3),
    ])
    .areas(frame.area());
    frame.render_widget(
        Paragraph::new(vec![
            Line::from(Span::styled(
                " kamscope · choose the HAN adapter",
                theme.title(),
            )),
            Line::from(Span::styled(
                " USB serial adapter on the meter's HAN port (RJ45), read at 2400 8N1",
                theme.dim(),
            )),
        ]),
        title,
    );
    let mut lines = Vec::new();
    if picker.ports.is_empty() {
        lines.push(Line::from(Span::styled(
            "no serial ports found: plug in the adapter (the list refreshes by itself)",
            theme.warn(),
        )));
        lines.push(Line::from(""));
    }
    for (i, p) in picker.ports.iter().enumerate() {
        let mut text = format!("{:<16} {:<6} {}", p.path, p.kind, p.identity());
        if picker.last.as_deref() == Some(p.path.as_str()) {
            text.push_str("  (last used)");
        }
        let style = if i == picker.selected {
            theme.selected()
        } else {
            theme.value()
        };
        lines.push(Line::from(Span::styled(text, style)));
    }
    let demo = format!(
        "demo meter: simulated Kamstrup, no hardware needed{}",
        if picker.last.as_deref() == Some("demo") {
            "  (last used)"
        } else {
            ""
        }
    );
    let style = if picker.selected == picker.ports.len() {
        theme.selected()
    } else {
        theme.info()
    };
    lines.push(Line::from(Span::styled(demo, style)));
    if let Some(e) = &picker.error {
        lines.push(Line::from(""));
        lines.push(Line::from(Span::styled(e.clone(), theme.bad())));
    }
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(" Sources ")),
        list,
    );
    frame.render_widget(
        Paragraph::new(vec![
            Line::from(Span::styled(
                " ↑↓ choose   Enter open   d demo meter   q quit",
                theme.dim(),
            )),
            Line::from(Span::styled(
                " other settings: kamscope --help (--baud, --parity, --replay, --record)",
                theme.dim(),
            )),
        ]),
        help,
    );
}
