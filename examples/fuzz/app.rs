//! The app fed an input's spans (as the HAN reader delivers them) and drawn, every tab, at sizes
//! from 1x1 to 200x60.

use crate::rng::Rng;
use chrono::{Duration, FixedOffset, TimeZone};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use kamscope::app::{App, Tab};
use kamscope::protocol::dlms::Keys;
use kamscope::protocol::{Decoder, Protocols};
use kamscope::ui::{self, Theme};
use kamscope::wire::{Chunk, Direction, HanEvent, Link, LinkState, Pipeline};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const NAVIGATION: [KeyCode; 9] = [
    KeyCode::Up,
    KeyCode::Down,
    KeyCode::PageUp,
    KeyCode::PageDown,
    KeyCode::Home,
    KeyCode::End,
    KeyCode::Left,
    KeyCode::Right,
    KeyCode::Tab,
];

pub fn draw(bytes: &[u8], keys: Option<Keys>, rng: &mut Rng) -> Result<(), String> {
    let offset = FixedOffset::east_opt(3600).expect("one hour");
    let start = offset
        .with_ymd_and_hms(2024, 10, 30, 17, 32, 3)
        .single()
        .expect("a valid time");
    let mut app = App::new(
        "/dev/ttyUSB0 2400 8N1".into(),
        kamscope::protocol::han::Scaling::default(),
        None,
        start,
        3600,
    );
    app.keys = keys.clone();
    app.on_han(HanEvent::Link(LinkState::Connected));
    let protocols = if rng.one_in(2) {
        Protocols::HAN
    } else {
        Protocols::ALL
    };
    let mut pipeline = Pipeline::new(Link::Han, protocols, Decoder::new(app.scaling, keys), None);
    let mut at = start.to_utc();
    let mut pos = 0;
    for n in rng.chunking(bytes.len()) {
        // Mostly a push every few seconds; sometimes the laptop clock jumps years.
        at += match rng.below(20) {
            0 => Duration::days(rng.range(1, 3650) as i64),
            1 => -Duration::days(rng.range(1, 3650) as i64),
            _ => Duration::milliseconds(rng.below(15_000) as i64),
        };
        let chunk = Chunk {
            t: at,
            link: Link::Han,
            dir: Direction::Rx,
            bytes: bytes[pos..pos + n].to_vec(),
        };
        pos += n;
        let (spans, _) = pipeline.records_of(&chunk);
        app.on_han(HanEvent::Bytes { at, count: n });
        for span in spans {
            app.on_han(HanEvent::Span(Box::new(span)));
        }
        if rng.one_in(4) {
            app.tick(at.with_timezone(&offset));
        }
    }
    for span in pipeline.flush_records(at) {
        app.on_han(HanEvent::Span(Box::new(span)));
    }
    let later = at + Duration::seconds(rng.pick(&[0, 1, 10, 40, 3600, 86_400 * 400]));
    app.tick(later.with_timezone(&offset));
    if rng.one_in(8) {
        app.on_han(HanEvent::Link(LinkState::Waiting {
            reason: "x".repeat(rng.below(300)),
        }));
    }
    let theme = Theme {
        color: rng.one_in(2),
    };
    for tab in Tab::ALL {
        app.tab = tab;
        for _ in 0..rng.below(4) {
            let code = rng.pick(&NAVIGATION);
            let _ = app.on_key(KeyEvent::new(code, KeyModifiers::NONE));
        }
        app.tab = tab;
        app.help = rng.one_in(10);
        let (w, h) = match rng.below(6) {
            0 => (1, 1),
            1 => (200, 60),
            2 => (rng.range(1, 20) as u16, rng.range(1, 8) as u16),
            _ => (rng.range(1, 200) as u16, rng.range(1, 60) as u16),
        };
        let mut terminal =
            Terminal::new(TestBackend::new(w, h)).map_err(|e| format!("terminal: {e}"))?;
        terminal
            .draw(|f| ui::draw(f, &app, &theme))
            .map_err(|e| format!("drawing the {} tab at {w}x{h}: {e}", tab.title()))?;
    }
    Ok(())
}
