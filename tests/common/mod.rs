//! What the screen tests share: fixtures, a fixed clock, and the screen as text.
#![allow(dead_code)] // each test crate uses its own part of it

use chrono::{DateTime, FixedOffset, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use kamscope::app::App;
use kamscope::ui::{self, Theme};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

pub const COLOR: Theme = Theme { color: true };

/// A HAN fixture's bytes (`tests/fixtures/han/NAME`, hex text).
pub fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/han")
        .join(name);
    kamscope::wire::hex::parse(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Norway in winter: UTC+1, standard time.
pub fn oslo() -> FixedOffset {
    FixedOffset::east_opt(3600).unwrap()
}

pub fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

pub fn key(c: KeyCode) -> KeyEvent {
    KeyEvent::new(c, KeyModifiers::NONE)
}

/// The app drawn on a test terminal of `w` x `h`.
pub fn render(app: &App, w: u16, h: u16, theme: Theme) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| ui::draw(f, app, &theme)).unwrap();
    t
}

/// The screen as text, one line a row, trailing blanks cut.
pub fn text(t: &Terminal<TestBackend>) -> String {
    let buf = t.backend().buffer();
    let mut out = String::new();
    for y in 0..buf.area.height {
        let mut line = String::new();
        for x in 0..buf.area.width {
            line.push_str(buf[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
