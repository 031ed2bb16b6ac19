//! Colours, or none: with NO_COLOR set, verdicts are shown by weight and reverse video instead.

use crate::protocol::region::RegionKind;
use ratatui::style::{Color, Modifier, Style};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub color: bool,
}

impl Theme {
    /// Colour unless NO_COLOR is set to something (https://no-color.org).
    pub fn from_env() -> Self {
        Theme {
            color: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        }
    }

    fn fg(&self, c: Color) -> Style {
        if self.color {
            Style::new().fg(c)
        } else {
            Style::new()
        }
    }

    pub fn ok(&self) -> Style {
        self.fg(Color::Green)
    }
    pub fn bad(&self) -> Style {
        if self.color {
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED)
        }
    }
    pub fn warn(&self) -> Style {
        if self.color {
            Style::new().fg(Color::Yellow)
        } else {
            Style::new().add_modifier(Modifier::BOLD)
        }
    }
    pub fn info(&self) -> Style {
        self.fg(Color::Cyan)
    }
    pub fn dim(&self) -> Style {
        if self.color {
            Style::new().fg(Color::DarkGray)
        } else {
            Style::new().add_modifier(Modifier::DIM)
        }
    }
    pub fn label(&self) -> Style {
        self.dim()
    }
    pub fn value(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }
    pub fn selected(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }
    pub fn title(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }
    /// Series colours for L1, L2, L3 (and import/export).
    pub fn series(&self, i: usize) -> Style {
        self.fg([Color::Yellow, Color::Cyan, Color::Magenta, Color::Green][i % 4])
    }

    /// Colour of a hex-dump region.
    pub fn region(&self, kind: RegionKind) -> Style {
        if !self.color {
            return match kind {
                RegionKind::Check | RegionKind::Flag => Style::new().add_modifier(Modifier::BOLD),
                RegionKind::Obis => Style::new().add_modifier(Modifier::UNDERLINED),
                RegionKind::Unparsed | RegionKind::Junk => Style::new().add_modifier(Modifier::DIM),
                RegionKind::Error => Style::new().add_modifier(Modifier::REVERSED),
                _ => Style::new(),
            };
        }
        if kind == RegionKind::Error {
            return Style::new().fg(Color::White).bg(Color::Red);
        }
        Style::new().fg(match kind {
            RegionKind::Error => Color::Red,
            RegionKind::Flag => Color::Magenta,
            RegionKind::Header => Color::Blue,
            RegionKind::Check => Color::Yellow,
            RegionKind::Llc | RegionKind::ApduHeader => Color::Cyan,
            RegionKind::DateTime => Color::LightGreen,
            RegionKind::Structure => Color::DarkGray,
            RegionKind::Obis => Color::LightBlue,
            RegionKind::Value => Color::White,
            RegionKind::Text => Color::White,
            RegionKind::Cipher => Color::LightMagenta,
            RegionKind::Junk => Color::Red,
            RegionKind::Unparsed => Color::Gray,
        })
    }
}
