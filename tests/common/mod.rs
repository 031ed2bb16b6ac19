//! What the screen tests share: fixtures, a fixed clock, and the screen as text.
#![allow(dead_code)] // each test crate uses its own part of it

use chrono::{DateTime, FixedOffset, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use kamscope::app::App;
use kamscope::protocol::dlms::Keys;
use kamscope::protocol::{Decoder, Protocols};
use kamscope::ui::{self, Theme};
use kamscope::wire::{Chunk, Direction, HanEvent, Link, LinkState, Pipeline};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

pub const COLOR: Theme = Theme { color: true };

/// A HAN fixture's bytes (`tests/fixtures/han/NAME`, hex text).
pub fn fixture(name: &str) -> Vec<u8> {
    fixture_in("han", name)
}

/// A fixture's bytes (`tests/fixtures/DIR/NAME`, hex text).
pub fn fixture_in(dir: &str, name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(dir)
        .join(name);
    kamscope::wire::hex::parse(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The input files (`.hex`, `.bin`) in `dir` (from the crate root), sorted.
pub fn fixture_files(dir: &str) -> Vec<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("hex" | "bin")))
        .collect();
    files.sort();
    files
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

/// An app on a connected HAN adapter at `now` (standard time one hour east of UTC, as in Norway).
pub fn app_at(now: DateTime<FixedOffset>) -> App {
    let mut app = App::new(
        "/dev/ttyUSB0 2400 8N1".into(),
        kamscope::protocol::han::Scaling::default(),
        None,
        now,
        3600,
    );
    app.on_han(HanEvent::Link(LinkState::Connected));
    app
}

/// Bytes through a fresh HAN pipeline (what the app's HAN reader hunts: HDLC and P1; the app's
/// scaling, `keys`) into the app, as if they
/// arrived at `at`; span offsets count from `offset`.
pub fn feed_at(app: &mut App, bytes: &[u8], at: DateTime<Utc>, keys: Option<Keys>, offset: u64) {
    let mut pipeline = Pipeline::new(
        Link::Han,
        Protocols::HAN,
        Decoder::new(app.scaling, keys),
        None,
    );
    let chunk = Chunk {
        t: at,
        link: Link::Han,
        dir: Direction::Rx,
        bytes: bytes.to_vec(),
    };
    let (mut spans, _) = pipeline.records_of(&chunk);
    spans.extend(pipeline.flush_records(at));
    app.on_han(HanEvent::Bytes {
        at,
        count: bytes.len(),
    });
    for mut span in spans {
        span.offset += offset;
        app.on_han(HanEvent::Span(Box::new(span)));
    }
}

/// `kamscope` as a user starts it, but with no config and no keys in the environment (the
/// machine's own must not change what the tests see).
pub fn command() -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_kamscope"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("KAMSCOPE_CONFIG", "/nonexistent/kamscope-test-config.toml")
        .env_remove("KAMSCOPE_KEY")
        .env_remove("KAMSCOPE_AUTH_KEY");
    c
}

/// Waits (at most 20 s) for a link state that `want` accepts.
pub async fn wait_for(
    events: &mut tokio::sync::mpsc::Receiver<HanEvent>,
    want: impl Fn(&LinkState) -> bool,
) -> LinkState {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(HanEvent::Link(l))) if want(&l) => return l,
            Ok(Some(_)) => {}
            other => panic!("link state never came: {other:?}"),
        }
    }
}

/// Waits for `n` good decoded pushes; returns their meter ids.
pub async fn good_pushes(
    events: &mut tokio::sync::mpsc::Receiver<HanEvent>,
    n: usize,
) -> Vec<String> {
    let mut ids = Vec::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while ids.len() < n {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(HanEvent::Span(s))) => {
                if let kamscope::protocol::Decoded::Hdlc(h) = &s.decoded
                    && let Some(m) = &h.message
                    && s.ok()
                {
                    ids.push(m.meter_id().unwrap_or_default());
                }
            }
            Ok(Some(_)) => {}
            other => panic!("no pushes: {other:?} after {} good", ids.len()),
        }
    }
    ids
}

/// Starts `kamscope sim --pty` with `args` and returns it and its terminal's path.
pub fn sim_pty(args: &[&str]) -> (std::process::Child, String) {
    use std::io::BufRead;
    use std::process::Stdio;
    let mut sim = command()
        .args(["sim", "--pty"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut path = String::new();
    std::io::BufReader::new(sim.stdout.take().unwrap())
        .read_line(&mut path)
        .unwrap();
    (sim, path.trim().to_string())
}

/// (offset, len, protocol, ok) of every span of `input` framed with `protocols`, fed in chunks
/// of the given sizes (cycled; the last may be shorter), then the end of input. Framed both ways
/// a chunk can be given (pushed and then taken span by span, and framed where it lies with
/// `push_and_frame`), which must give the same spans, bytes and verdicts.
pub fn spans_in_chunks(
    protocols: kamscope::protocol::framer::Protocols,
    input: &[u8],
    chunks: &[usize],
) -> Vec<(u64, usize, kamscope::protocol::Protocol, bool)> {
    use kamscope::protocol::framer::{Content, Framer};
    type Owned = (u64, Vec<u8>, Content);
    let pieces = || {
        let mut rest = input;
        let mut sizes = chunks.iter().cycle();
        std::iter::from_fn(move || {
            if rest.is_empty() {
                return None;
            }
            let n = (*sizes.next().unwrap_or(&rest.len())).clamp(1, rest.len());
            let (piece, after) = rest.split_at(n);
            rest = after;
            Some(piece)
        })
    };
    let own = |s: kamscope::protocol::Span<'_>| (s.offset, s.bytes.to_vec(), s.content);

    let mut framer = Framer::new(protocols);
    let mut pushed: Vec<Owned> = Vec::new();
    for piece in pieces() {
        framer.push(piece);
        while let Some(s) = framer.next_span() {
            pushed.push(own(s));
        }
    }
    framer.finish();
    while let Some(s) = framer.next_span() {
        pushed.push(own(s));
    }

    let mut framer = Framer::new(protocols);
    let mut in_place: Vec<Owned> = Vec::new();
    for piece in pieces() {
        framer.push_and_frame(piece, |s| in_place.push(own(s)));
    }
    framer.finish();
    while let Some(s) = framer.next_span() {
        in_place.push(own(s));
    }
    assert_eq!(
        pushed, in_place,
        "framing in place must give the spans pushing gives"
    );

    pushed
        .into_iter()
        .map(|(offset, bytes, content)| (offset, bytes.len(), content.protocol(), content.all_ok()))
        .collect()
}
