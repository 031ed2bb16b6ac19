//! The `?` overlay: every key, from the keymap, grouped by scope.

use crate::app::App;
use crate::app::keymap::{self, Scope};
use crate::ui::Theme;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let all: Vec<(Scope, Vec<keymap::HelpLine>)> = Scope::ALL
        .iter()
        .map(|&s| (s, keymap::help_lines(s)))
        .collect();
    let rows_of = |groups: &[(Scope, Vec<keymap::HelpLine>)]| {
        groups.iter().map(|(_, l)| l.len() + 1).sum::<usize>()
    };
    // Every tab's keys when they fit; else this tab's and those that work everywhere, and a
    // line saying where the others are.
    let fits = rows_of(&all) + 2 <= area.height as usize;
    let groups: Vec<_> = all
        .into_iter()
        .filter(|(s, _)| fits || *s == Scope::Everywhere || *s == Scope::of(app.tab))
        .collect();
    let more = (!fits).then_some("other tabs' keys: press ? in that tab");
    let rows = rows_of(&groups) + usize::from(more.is_some());
    let key_width = groups
        .iter()
        .flat_map(|(_, l)| l.iter().map(|l| l.keys.chars().count()))
        .max()
        .unwrap_or(0);
    let text_width = groups
        .iter()
        .flat_map(|(_, l)| l.iter().map(|l| l.text.chars().count()))
        .chain(more.map(|m| m.chars().count().saturating_sub(key_width + 3)))
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
    if let Some(m) = more {
        lines.push(Line::from(Span::styled(m, theme.dim())));
    }
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" Keys ")),
        popup,
    );
}
