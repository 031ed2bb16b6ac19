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
    lines.push(network_line(picker, theme));
    if let Some(e) = &picker.address_error {
        lines.push(Line::from(Span::styled(format!("  {e}"), theme.bad())));
    }
    let demo = format!(
        "demo meter: simulated Kamstrup, no hardware needed{}",
        if picker.last.as_deref() == Some("demo") {
            "  (last used)"
        } else {
            ""
        }
    );
    let style = if picker.selected == picker.demo_index() {
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
                if picker.editing {
                    " type the bridge's address   Enter connect   Esc stop typing"
                } else if picker.selected < picker.ports.len() {
                    " ↑↓ choose  Enter open  s find line settings, then open  d demo  q quit"
                } else {
                    " ↑↓ choose   Enter open   d demo meter   q quit"
                },
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

/// The network bridge's line: the address being typed, or what to type.
fn network_line<'a>(picker: &Picker, theme: &Theme) -> Line<'a> {
    let selected = picker.selected == picker.network_index();
    let style = if selected {
        theme.selected()
    } else {
        theme.value()
    };
    let label = "network bridge: ";
    if picker.editing {
        return Line::from(vec![
            Span::styled(label, style),
            Span::styled(format!("{}▏", picker.address), style),
        ]);
    }
    if picker.address.is_empty() {
        return Line::from(Span::styled(
            format!("{label}tcp://HOST:PORT or rfc2217://HOST:PORT (ser2net, ESP-link)"),
            style,
        ));
    }
    let last = if picker.last.as_deref() == Some(picker.address.as_str()) {
        "  (last used)"
    } else {
        ""
    };
    let edit = if selected { "  e edit" } else { "" };
    Line::from(Span::styled(
        format!("{label}{}{last}{edit}", picker.address),
        style,
    ))
}
