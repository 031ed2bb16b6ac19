//! The `?` overlay: every key, from the keymap, grouped by scope.

use crate::app::App;
use crate::app::keymap::{self, Scope};
use crate::ui::Theme;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

pub fn draw(frame: &mut Frame, area: Rect, _app: &App, theme: &Theme) {
    let groups: Vec<(Scope, Vec<keymap::HelpLine>)> = Scope::ALL
        .iter()
        .map(|&s| (s, keymap::help_lines(s)))
        .collect();
    let rows = groups.iter().map(|(_, l)| l.len() + 1).sum::<usize>();
    let key_width = groups
        .iter()
        .flat_map(|(_, l)| l.iter().map(|l| l.keys.chars().count()))
        .max()
        .unwrap_or(0);
    let text_width = groups
        .iter()
        .flat_map(|(_, l)| l.iter().map(|l| l.text.chars().count()))
        .max()
        .unwrap_or(0);
    // Borders, indent, keys, a space, text.
    let width = ((key_width + text_width + 5) as u16).min(area.width);
    let height = (rows as u16 + 2).min(area.height);
    let x = area.x + (area.width - width) / 2;
    let y = area.y + (area.height - height) / 2;
    let popup = Rect::new(x, y, width, height);
    let mut lines: Vec<Line> = Vec::with_capacity(rows);
    for (scope, help) in &groups {
        lines.push(Line::from(Span::styled(scope.title(), theme.title())));
        for l in help {
            lines.push(Line::from(vec![
                Span::styled(format!("  {:<key_width$} ", l.keys), theme.value()),
                Span::raw(l.text),
            ]));
        }
    }
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" Keys ")),
        popup,
    );
}
