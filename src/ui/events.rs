//! The Events tab: what happened on the line, one timestamped line each, newest at the bottom.

use crate::app::App;
use crate::app::live::Level;
use crate::ui::Theme;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let log = &app.events;
    let rows = area.height.saturating_sub(2) as usize;
    let back = (log.scroll as usize).min(log.len().saturating_sub(rows));
    let end = log.len() - back;
    let start = end.saturating_sub(rows);
    // Newest at the bottom: lines are wrapped here so the last one is never cut off.
    let stamp_w = 20;
    let text_w = (area.width as usize).saturating_sub(2 + stamp_w).max(10);
    let mut lines: Vec<Line> = Vec::new();
    for e in log.entries().skip(start).take(end - start) {
        let style = match e.level {
            Level::Ok => theme.ok(),
            Level::Info => theme.info(),
            Level::Warn => theme.warn(),
            Level::Bad => theme.bad(),
        };
        let stamp =
            e.at.with_timezone(app.now.offset())
                .format("%Y-%m-%d %H:%M:%S ")
                .to_string();
        for (i, part) in wrap(&e.text, text_w).into_iter().enumerate() {
            let lead = if i == 0 {
                Span::styled(stamp.clone(), theme.dim())
            } else {
                Span::raw(" ".repeat(stamp_w))
            };
            lines.push(Line::from(vec![lead, Span::styled(part, style)]));
        }
    }
    let lines = lines.split_off(lines.len().saturating_sub(rows));
    let mut title = format!(" Events {} ", log.len());
    if back > 0 {
        title.push_str(&format!("· {back} newer below "));
    }
    if log.dropped > 0 {
        title.push_str(&format!("· {} older dropped ", log.dropped));
    }
    let body = if lines.is_empty() {
        vec![Line::from(Span::styled(
            "nothing has happened yet: link changes, the first frame, bad frames, readouts and \
             the recording are logged here",
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

/// Splits `text` into lines of at most `width` characters, at spaces where it can.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let needed = line.chars().count() + usize::from(!line.is_empty()) + word.chars().count();
        if needed > width && !line.is_empty() {
            out.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
        while line.chars().count() > width {
            let head: String = line.chars().take(width).collect();
            line = line.chars().skip(width).collect();
            out.push(head);
        }
    }
    out.push(line);
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn wraps_at_spaces_and_cuts_long_words() {
        assert_eq!(
            super::wrap("link down: no such file", 10),
            ["link down:", "no such", "file"]
        );
        assert_eq!(super::wrap("abcdefghijkl", 5), ["abcde", "fghij", "kl"]);
    }
}
