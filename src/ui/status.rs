//! The status bar: source and settings, link state, counters, recording, and a hint when the
//! pattern of bytes says what is wrong.

use crate::app::keymap::{self, Action};
use crate::app::{App, Tab};
use crate::ui::Theme;
use crate::wire::LinkState;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

/// The link state in words, with its style.
pub fn link_text(app: &App, theme: &Theme) -> (String, ratatui::style::Style) {
    match &app.link {
        LinkState::Connecting if app.stats.connected_since.is_some() => {
            ("reconnecting".into(), theme.warn())
        }
        LinkState::Connecting => ("connecting".into(), theme.warn()),
        LinkState::Connected if app.stats.bytes == 0 => {
            ("connected, no data yet".into(), theme.warn())
        }
        LinkState::Connected => ("connected".into(), theme.ok()),
        LinkState::Waiting { .. } => ("link down, retrying".into(), theme.bad()),
        LinkState::Ended => ("replay finished".into(), theme.info()),
    }
}

/// Below this width the counters get a row of their own.
const WIDE: u16 = 110;

/// Rows the status bar needs at this terminal width.
pub fn height(width: u16) -> u16 {
    if width >= WIDE { 2 } else { 3 }
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let s = &app.stats;
    let (link, link_style) = link_text(app, theme);
    let sep = || Span::styled(" │ ", theme.dim());
    let mut source = vec![
        Span::styled(format!(" {}", app.source), theme.value()),
        sep(),
        Span::styled(link, link_style),
        sep(),
        Span::raw(format!("{} B", s.bytes)),
    ];
    // P1 telegrams have no HCS or FCS: their counters are telegrams and CRC failures.
    let p1 = s.p1_good + s.p1_crc_bad > 0;
    let (good, good_what) = if p1 {
        (
            s.p1_good,
            if s.p1_good == 1 {
                "telegram ok"
            } else {
                "telegrams ok"
            },
        )
    } else {
        (s.good, "ok")
    };
    let mut first = vec![
        Span::raw(" "),
        Span::styled(
            format!("{good} {good_what}"),
            if good > 0 { theme.ok() } else { theme.dim() },
        ),
    ];
    let counters = if p1 {
        vec![(s.p1_crc_bad, "CRC"), (s.bad() - s.p1_crc_bad, "other")]
    } else {
        vec![
            (s.hcs_bad, "HCS"),
            (s.fcs_bad, "FCS"),
            (s.length_bad, "len"),
            (s.other_bad, "other"),
        ]
    };
    for (n, what) in counters {
        if n > 0 || what != "other" {
            first.push(Span::raw(" "));
            first.push(Span::styled(
                format!("{n} {what}✗"),
                if n > 0 { theme.bad() } else { theme.dim() },
            ));
        }
    }
    first.push(sep());
    first.push(Span::styled(
        format!("{} junk", s.junk_bytes),
        if s.junk_bytes > 0 {
            theme.warn()
        } else {
            theme.dim()
        },
    ));
    if let Some(rec) = &app.recording {
        first.push(sep());
        first.push(Span::styled(
            format!("● REC {}", rec.display()),
            theme.bad(),
        ));
    }
    let rows = if area.height >= 3 {
        vec![Line::from(source)]
    } else {
        source.push(sep());
        source.extend(first.drain(1..));
        first.clear();
        vec![Line::from(source)]
    };
    let second = if let Some(n) = &app.notice {
        Line::from(Span::styled(format!(" {n}"), theme.warn()))
    } else if let Some(h) = app.hint() {
        Line::from(Span::styled(format!(" ⚠ {h}"), theme.bad()))
    } else {
        // The scaler keys still answer (with why), but are not offered where they do nothing.
        let hidden: &[Action] = if app.live.scalers_do_not_apply().is_some() {
            &[Action::EnergyScaler, Action::CurrentScaler]
        } else {
            &[]
        };
        Line::from(Span::styled(
            hint_line_without(app.tab, area.width, hidden),
            theme.dim(),
        ))
    };
    let mut lines = rows;
    if !first.is_empty() {
        lines.push(Line::from(first));
    }
    lines.push(second);
    frame.render_widget(Paragraph::new(lines), area);
}

/// The keys of a tab from the keymap's hints (` c chart  w window`), in a line of `width`
/// columns: when they do not all fit, the lowest priority goes first (of two alike, the later one),
/// so no hint is ever cut.
pub fn hint_line(tab: Tab, width: u16) -> String {
    hint_line_without(tab, width, &[])
}

/// [`hint_line`] without the hints of the `hidden` actions.
pub fn hint_line_without(tab: Tab, width: u16, hidden: &[Action]) -> String {
    let mut items = keymap::hints(tab);
    items.retain(|h| !hidden.contains(&h.action));
    loop {
        let line = items
            .iter()
            .map(|h| format!(" {}", h.text()))
            .collect::<Vec<_>>()
            .join(" ");
        if Span::raw(line.as_str()).width() <= usize::from(width) || items.is_empty() {
            return line;
        }
        let lowest = items.iter().map(|h| h.priority).min().unwrap_or(0);
        if let Some(i) = items.iter().rposition(|h| h.priority == lowest) {
            items.remove(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_as_before_when_they_fit() {
        assert_eq!(
            hint_line(Tab::Live, 80),
            " c chart  w window  e energy scaler  i current scaler"
        );
        assert_eq!(
            hint_line(Tab::Inspector, 80),
            " ↑ ↓ select  space pause  b bad only  x export  [ ] scroll"
        );
        assert_eq!(
            hint_line(Tab::Readout, 80),
            " r read  p protocol  ← → readouts  c compare  v raw  s CSV  x JSON  Esc cancel"
        );
    }

    #[test]
    fn narrow_lines_drop_the_lowest_priority() {
        assert_eq!(
            hint_line(Tab::Live, 40),
            " c chart  w window  e energy scaler"
        );
        assert_eq!(hint_line(Tab::Live, 20), " c chart  w window");
        assert_eq!(hint_line(Tab::Live, 5), "");
        assert_eq!(
            hint_line(Tab::Readout, 50),
            " r read  p protocol  s CSV  x JSON  Esc cancel"
        );
        for tab in Tab::ALL {
            for width in 0..100 {
                let line = hint_line(tab, width);
                assert!(Span::raw(line.as_str()).width() <= usize::from(width));
            }
        }
    }
}
