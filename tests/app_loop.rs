//! The whole app through its real event loop, without a terminal: keys typed, frames fed through
//! the HAN task's channel, exports written through the environment, the screen read back.

use chrono::{DateTime, FixedOffset, TimeZone};
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use kamscope::app::App;
use kamscope::protocol::han::Scaling;
use kamscope::protocol::{Decoder, Protocols};
use kamscope::tui::{Environment, HanTask, Optical, run_loop};
use kamscope::wire::hex::parse as parse_hex;
use kamscope::wire::{Chunk, Direction, HanCommand, HanEvent, Link, LinkState, Pipeline};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::mpsc;

/// A structure claiming 2^32 elements in an otherwise valid frame: it once froze the Inspector.
const CRAFTED: &str = "7EA0192B21131D2DE6E7000F00000001000284FFFFFFFF1CF47F7E";

/// A fixed clock and exports kept in memory.
struct TestEnv {
    now: DateTime<FixedOffset>,
    written: Vec<(PathBuf, String)>,
}

impl Environment for TestEnv {
    fn now(&self) -> DateTime<FixedOffset> {
        self.now
    }

    fn write_new_file(&mut self, path: &Path, contents: &str) -> std::io::Result<()> {
        self.written
            .push((path.to_path_buf(), contents.to_string()));
        Ok(())
    }
}

fn screen(t: &Terminal<TestBackend>) -> String {
    let buf = t.backend().buffer();
    let mut out = String::new();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

fn key(c: char) -> std::io::Result<Event> {
    Ok(Event::Key(KeyEvent::new(
        KeyCode::Char(c),
        KeyModifiers::NONE,
    )))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crafted_frame_shows_in_the_inspector_at_once_and_q_quits() {
    let now = FixedOffset::east_opt(3600)
        .unwrap()
        .with_ymd_and_hms(2024, 10, 30, 17, 32, 3)
        .unwrap();
    let mut app = App::new("test pipe".into(), Scaling::default(), None, now, 3600);
    let mut terminal = Terminal::new(TestBackend::new(120, 40)).unwrap();
    let (han_tx, han_rx) = mpsc::channel(16);
    let (cmd_tx, mut cmd_rx) = mpsc::channel(16);
    let (key_tx, key_rx) = mpsc::channel::<std::io::Result<Event>>(16);
    let input =
        futures_util::stream::unfold(
            key_rx,
            |mut rx| async move { rx.recv().await.map(|e| (e, rx)) },
        );
    let mut env = TestEnv {
        now,
        written: Vec::new(),
    };

    // The meter's side and the user's, one step at a time.
    let driver = tokio::spawn(async move {
        let pause = || tokio::time::sleep(Duration::from_millis(50));
        han_tx
            .send(HanEvent::Link(LinkState::Connected))
            .await
            .unwrap();
        let mut pipeline = Pipeline::new(Link::Han, Protocols::HDLC, Decoder::default(), None);
        let chunk = Chunk {
            t: now.to_utc(),
            link: Link::Han,
            dir: Direction::Rx,
            bytes: parse_hex(CRAFTED).unwrap(),
        };
        let (spans, _) = pipeline.records_of(&chunk);
        assert_eq!(spans.len(), 1, "{spans:?}");
        for s in spans {
            han_tx.send(HanEvent::Span(Box::new(s))).await.unwrap();
        }
        pause().await;
        key_tx.send(key('3')).await.unwrap();
        pause().await;
        key_tx.send(key('x')).await.unwrap();
        pause().await;
        key_tx.send(key('q')).await.unwrap();
        han_tx
    });

    let started = std::time::Instant::now();
    tokio::time::timeout(
        Duration::from_secs(10),
        run_loop(
            &mut terminal,
            &mut app,
            input,
            HanTask {
                events: han_rx,
                commands: cmd_tx,
            },
            Optical::default(),
            &mut env,
            std::future::pending(),
        ),
    )
    .await
    .expect("the loop ends on q")
    .unwrap();
    assert!(started.elapsed() < Duration::from_secs(3));
    let _han_tx = driver.await.unwrap();

    assert!(app.quit);
    assert!(
        matches!(cmd_rx.try_recv(), Ok(HanCommand::Stop)),
        "the HAN task is told to stop"
    );
    let shown = screen(&terminal);
    assert!(shown.contains("3 Inspector"), "{shown}");
    assert!(
        shown.contains("cannot fit"),
        "the failing element is named:\n{shown}"
    );
    assert!(
        shown.contains("failed here"),
        "the failing byte is marked:\n{shown}"
    );
    // The export went through the environment, and the message names the noun and the path.
    assert_eq!(env.written.len(), 1);
    let (path, contents) = &env.written[0];
    assert!(path.to_string_lossy().starts_with("kamscope-frame-"));
    assert!(contents.contains("\"protocol\": \"hdlc\""), "{contents}");
    assert!(
        app.notice.as_deref().is_some_and(
            |n| n.starts_with("frame exported: kamscope-frame-") && n.contains(" in /")
        ),
        "{:?}",
        app.notice
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_loop_ends_when_shutdown_completes() {
    let now = FixedOffset::east_opt(0)
        .unwrap()
        .with_ymd_and_hms(2024, 1, 1, 0, 0, 0)
        .unwrap();
    let mut app = App::new("test".into(), Scaling::default(), None, now, 0);
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    let (_han_tx, han_rx) = mpsc::channel(1);
    let (cmd_tx, _cmd_rx) = mpsc::channel(1);
    let input = futures_util::stream::pending();
    let mut env = TestEnv {
        now,
        written: Vec::new(),
    };
    tokio::time::timeout(
        Duration::from_secs(5),
        run_loop(
            &mut terminal,
            &mut app,
            input,
            HanTask {
                events: han_rx,
                commands: cmd_tx,
            },
            Optical::default(),
            &mut env,
            tokio::time::sleep(Duration::from_millis(100)),
        ),
    )
    .await
    .expect("a signal ends the loop")
    .unwrap();
    assert!(screen(&terminal).contains("1 Live"));
}

/// The encrypted Danish push says what it needs: keys, or other keys.
#[test]
fn an_encrypted_push_tells_the_app_about_the_keys() {
    use kamscope::app::CipherStatus;
    use kamscope::protocol::dlms::Keys;
    let bytes = parse_hex(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/han/kamstrup-dk-encrypted-glo.hex"
        ))
        .unwrap(),
    )
    .unwrap();
    let now = FixedOffset::east_opt(3600)
        .unwrap()
        .with_ymd_and_hms(2026, 3, 12, 15, 24, 33)
        .unwrap();
    let status_with = |keys: Option<Keys>| {
        let mut app = App::new("replay".into(), Scaling::default(), None, now, 3600);
        let mut pipeline = Pipeline::new(
            Link::Han,
            Protocols::HDLC,
            Decoder::new(Scaling::default(), keys),
            None,
        );
        let chunk = Chunk {
            t: now.to_utc(),
            link: Link::Han,
            dir: Direction::Rx,
            bytes: bytes.clone(),
        };
        for s in pipeline.records_of(&chunk).0 {
            app.on_han(HanEvent::Span(Box::new(s)));
        }
        app.cipher.expect("an encrypted push")
    };
    let none = status_with(None);
    assert_eq!(none.status, CipherStatus::NeedKeys);
    assert_eq!(none.manufacturer.as_deref(), Some("KAM"));
    assert_eq!(none.invocation_counter, 0x010F60A4);
    let key = |s: &str| <[u8; 16]>::try_from(parse_hex(s).unwrap()).unwrap();
    let wrong = Keys {
        encryption: key("FFEEDDCCBBAA99887766554433221100"),
        authentication: Some(key("00112233445566778899AABBCCDDEEFF")),
    };
    assert_eq!(status_with(Some(wrong)).status, CipherStatus::WrongKey);
    let right = Keys {
        encryption: key("00112233445566778899AABBCCDDEEFF"),
        authentication: Some(key("FFEEDDCCBBAA99887766554433221100")),
    };
    assert_eq!(
        status_with(Some(right.clone())).status,
        CipherStatus::Decrypted
    );
    let no_auth = Keys {
        authentication: None,
        ..right
    };
    assert_eq!(status_with(Some(no_auth)).status, CipherStatus::NeedAuthKey);
}

/// The Events tab tells what happened: link up, the first frame, a burst of bad frames and its
/// end, a scaler change, the link lost.
#[test]
fn the_event_log_tells_the_story_of_the_line() {
    let now = FixedOffset::east_opt(3600)
        .unwrap()
        .with_ymd_and_hms(2024, 10, 30, 17, 32, 3)
        .unwrap();
    let mut app = App::new(
        "/dev/ttyUSB0 2400 8N1".into(),
        Scaling::default(),
        None,
        now,
        3600,
    );
    app.on_han(HanEvent::Link(LinkState::Connected));
    let fixture = |name: &str| {
        parse_hex(
            &std::fs::read_to_string(format!(
                "{}/tests/fixtures/han/{name}",
                env!("CARGO_MANIFEST_DIR")
            ))
            .unwrap(),
        )
        .unwrap()
    };
    let good = fixture("kamstrup-no-list1-3p-2024.hex");
    let bad = fixture("bad-fcs.hex");
    let mut pipeline = Pipeline::new(Link::Han, Protocols::HDLC, Decoder::default(), None);
    let mut feed = |app: &mut App, bytes: &[u8], secs: i64| {
        let chunk = Chunk {
            t: now.to_utc() + chrono::Duration::seconds(secs),
            link: Link::Han,
            dir: Direction::Rx,
            bytes: bytes.to_vec(),
        };
        for s in pipeline.records_of(&chunk).0 {
            app.on_han(HanEvent::Span(Box::new(s)));
        }
    };
    feed(&mut app, &good, 0);
    feed(&mut app, &good, 10);
    feed(&mut app, &bad, 20);
    feed(&mut app, &bad, 30);
    feed(&mut app, &good, 40);
    app.tick(now + chrono::Duration::seconds(120));
    app.on_key(KeyEvent::new(KeyCode::Char('1'), KeyModifiers::NONE));
    app.on_key(KeyEvent::new(KeyCode::Char('e'), KeyModifiers::NONE));
    app.on_han(HanEvent::Link(LinkState::Waiting {
        reason: "No such file or directory".into(),
    }));
    app.on_han(HanEvent::Link(LinkState::Waiting {
        reason: "No such file or directory".into(),
    }));
    let texts: Vec<&str> = app.events.entries().map(|e| e.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "link up: /dev/ttyUSB0 2400 8N1",
            "first good frame",
            "bad frame: FCS failed",
            "2 bad frames over 10 s, then 60 s without one",
            "scaling: energy x10^0 Wh, current by meter type",
            "link down: No such file or directory",
        ]
    );
    app.on_key(KeyEvent::new(KeyCode::Char('4'), KeyModifiers::NONE));
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    terminal
        .draw(|f| kamscope::ui::draw(f, &app, &kamscope::ui::Theme { color: true }))
        .unwrap();
    let shown = screen(&terminal);
    assert!(shown.contains("Events 6"), "{shown}");
    assert!(
        // The second bad frame ended when the line went quiet after it (half a second after
        // it came, as the live reader decides), not when the next push came.
        shown.contains("2024-10-30 17:32:33 2 bad frames over 10 s"),
        "{shown}"
    );
    assert!(
        shown.contains("link down: No such file or directory"),
        "{shown}"
    );
}

/// The Readout tab shows numbers (decimal comma read), the raw text on `v`, and says so when the
/// readout failed.
#[test]
fn readout_values_are_numbers_and_a_failed_readout_says_so() {
    use kamscope::protocol::iec_session::Verdict;
    use kamscope::protocol::iec61107::{parse_data_block, parse_identification};
    use kamscope::wire::{OpticalEvent, ReadoutResult};
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/iec61107/kamstrup-685-382-additive-bcc.bin"
    ))
    .unwrap();
    let split = bytes.iter().position(|&b| b == 0x02).unwrap();
    let now = FixedOffset::east_opt(3600)
        .unwrap()
        .with_ymd_and_hms(2024, 10, 30, 17, 32, 3)
        .unwrap();
    let mut app = App::new("x".into(), Scaling::default(), None, now, 3600);
    app.readout.port = Some("/dev/ttyUSB1 300 7E1".into());
    app.on_key(KeyEvent::new(KeyCode::Char('2'), KeyModifiers::NONE));
    let block = bytes[split..].to_vec();
    app.on_optical(OpticalEvent::Done(Box::new(ReadoutResult {
        port: "/dev/ttyUSB1 300 7E1".into(),
        started: now.to_utc(),
        duration_ms: 5000,
        ident: parse_identification(&bytes[..split]),
        block: parse_data_block(&block),
        raw_block: block,
        verdict: Verdict::Incomplete {
            received: 100,
            reason: "cut".into(),
        },
        baud: 300,
        echo_seen: false,
    })));
    let draw = |app: &App| {
        let mut t = Terminal::new(TestBackend::new(100, 30)).unwrap();
        t.draw(|f| kamscope::ui::draw(f, app, &kamscope::ui::Theme { color: false }))
            .unwrap();
        screen(&t)
    };
    let shown = draw(&app);
    assert!(shown.contains("failed: do not trust"), "{shown}");
    assert!(shown.contains(" 9032 kWh"), "the number: {shown}");
    assert!(shown.contains(" 1.5 "), "decimal comma read: {shown}");
    app.on_key(KeyEvent::new(KeyCode::Char('v'), KeyModifiers::NONE));
    let shown = draw(&app);
    assert!(
        shown.contains("0009032 kWh") && shown.contains("000001,5"),
        "{shown}"
    );
}
