//! Screens from scripted state with a fixed clock: insta snapshots at 80x24 and 120x40, colours
//! of verdicts, and a whole-app run with keys.

use chrono::{DateTime, TimeZone, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use kamscope::app::{App, Effect, Tab};
use kamscope::protocol::han::Scaling;
use kamscope::ui::{self, Theme};
use kamscope::wire::{HanEvent, LinkState};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;

mod common;
use common::{COLOR, fixture, key, oslo, render, text, utc};

/// Runs the bytes into the app as if they arrived at `at`, offsets going on from `offset`.
fn feed(app: &mut App, bytes: &[u8], at: DateTime<Utc>, offset: &mut u64) {
    common::feed_at(app, bytes, at, None, *offset);
    *offset += bytes.len() as u64;
}

/// A session: list 2 an hour ago, a frame with a bad FCS, junk, then a good list 1 3 s ago.
fn scripted_app() -> App {
    let now = oslo().with_ymd_and_hms(2024, 10, 30, 17, 32, 3).unwrap();
    let mut app = App::new(
        "/dev/ttyUSB0 2400 8N1".into(),
        Scaling::default(),
        None,
        now,
        3600,
    );
    app.on_han(HanEvent::Link(LinkState::Connected));
    let mut offset = 0;
    feed(
        &mut app,
        &fixture("kamstrup-no-list2-3p.hex"),
        utc("2024-10-30T15:32:00Z"),
        &mut offset,
    );
    feed(
        &mut app,
        &fixture("bad-fcs.hex"),
        utc("2024-10-30T16:31:40Z"),
        &mut offset,
    );
    feed(
        &mut app,
        &[0x29, 0x12, 0x13, 0x14],
        utc("2024-10-30T16:31:41Z"),
        &mut offset,
    );
    feed(
        &mut app,
        &fixture("kamstrup-no-list1-3p-2022.hex"),
        utc("2024-10-30T16:31:50Z"),
        &mut offset,
    );
    feed(
        &mut app,
        &fixture("kamstrup-no-list1-3p-2024.hex"),
        utc("2024-10-30T16:32:00Z"),
        &mut offset,
    );
    app
}

#[test]
fn live_tab_snapshots() {
    let app = scripted_app();
    insta::assert_snapshot!("live_80x24", text(&render(&app, 80, 24, COLOR)));
    insta::assert_snapshot!("live_120x40", text(&render(&app, 120, 40, COLOR)));
}

#[test]
fn live_tab_stale_waiting_3_wire_and_too_small() {
    // 40 s after the last push: every value stale, no ✔.
    let mut app = scripted_app();
    app.tick(app.now + chrono::Duration::seconds(40));
    let screen = text(&render(&app, 80, 24, COLOR));
    assert!(!screen.contains('✔'), "{screen}");
    insta::assert_snapshot!("live_stale_80x24", screen);

    // Connected, nothing yet: phases unknown, not 1-phase.
    let now = oslo().with_ymd_and_hms(2024, 10, 30, 17, 0, 0).unwrap();
    let mut quiet = App::new(
        "/dev/ttyUSB0 2400 8N1".into(),
        Scaling::default(),
        None,
        now,
        3600,
    );
    quiet.on_han(HanEvent::Link(LinkState::Connected));
    quiet.tick(now + chrono::Duration::seconds(5));
    insta::assert_snapshot!("live_waiting_80x24", text(&render(&quiet, 80, 24, COLOR)));

    // A Norwegian 3-wire (IT) meter, 684-11-2: line-to-line voltages.
    let now = oslo().with_ymd_and_hms(2018, 3, 4, 20, 52, 4).unwrap();
    let mut it = App::new(
        "/dev/ttyUSB0 2400 8N1".into(),
        Scaling::default(),
        None,
        now,
        3600,
    );
    it.on_han(HanEvent::Link(LinkState::Connected));
    let mut offset = 0;
    feed(
        &mut it,
        &fixture("kamstrup-no-list1-3p-2018.hex"),
        utc("2018-03-04T19:52:01Z"),
        &mut offset,
    );
    insta::assert_snapshot!("live_3_wire_120x40", text(&render(&it, 120, 40, COLOR)));

    insta::assert_snapshot!("too_small_60x20", text(&render(&app, 60, 20, COLOR)));
}

#[test]
fn inspector_tab_snapshots() {
    let mut app = scripted_app();
    app.on_key(key(KeyCode::Char('3')));
    insta::assert_snapshot!("inspector_80x24", text(&render(&app, 80, 24, COLOR)));
    // The bad frame selected.
    app.on_key(key(KeyCode::Char('b')));
    app.on_key(key(KeyCode::Char('g')));
    insta::assert_snapshot!("inspector_bad_120x40", text(&render(&app, 120, 40, COLOR)));
}

#[test]
fn check_tab_snapshots() {
    let mut app = scripted_app();
    app.on_key(key(KeyCode::Char('5')));
    let screen = text(&render(&app, 80, 24, COLOR));
    // The same checks as `kamscope check`, hints in the app's terms.
    assert!(screen.contains("Check · verdict"), "{screen}");
    assert!(
        screen.contains("no readout yet (Readout tab: r)"),
        "{screen}"
    );
    assert!(
        !screen.contains("--"),
        "no command-line flags in the app:\n{screen}"
    );
    insta::assert_snapshot!("check_80x24", screen);
    insta::assert_snapshot!("check_120x40", text(&render(&app, 120, 40, COLOR)));
    // w writes the commissioning report of the session so far.
    let effects = app.on_key(key(KeyCode::Char('w')));
    let [
        kamscope::app::Effect::Export {
            path,
            what,
            contents,
        },
    ] = effects.as_slice()
    else {
        panic!("{effects:?}");
    };
    assert_eq!(*what, "report");
    assert!(path.to_string_lossy().starts_with("kamscope-report-"));
    assert!(path.to_string_lossy().ends_with(".html"));
    assert!(contents.contains("5706567277656672"));
    assert!(contents.contains("<svg"));
}

#[test]
fn readout_and_help_snapshots() {
    let mut app = scripted_app();
    app.on_key(key(KeyCode::Char('2')));
    insta::assert_snapshot!("readout_80x24", text(&render(&app, 80, 24, COLOR)));
    app.on_key(key(KeyCode::Char('?')));
    insta::assert_snapshot!("help_80x24", text(&render(&app, 80, 24, COLOR)));
}

#[test]
fn verdict_colours() {
    let mut app = scripted_app();
    app.on_key(key(KeyCode::Char('3')));
    let t = render(&app, 120, 40, COLOR);
    let buf = t.backend().buffer();
    let screen = text(&t);
    let find = |needle: &str| {
        screen.lines().enumerate().find_map(|(y, l)| {
            l.find(needle)
                .map(|x| (l[..x].chars().count() as u16, y as u16))
        })
    };
    let (x, y) = find("BAD").expect("a bad frame in the list");
    assert_eq!(buf[(x, y)].fg, Color::Red, "bad frames are red");
    let (x, y) = find("hdlc      228 ok").expect("a good frame in the list");
    assert_eq!(buf[(x + 13, y)].fg, Color::Green, "good frames are green");
    let (x, y) = find("junk").expect("junk in the list");
    assert_eq!(buf[(x, y)].fg, Color::Yellow);

    app.on_key(key(KeyCode::Char('1')));
    let t = render(&app, 120, 40, COLOR);
    let screen = text(&t);
    let y = screen
        .lines()
        .position(|l| l.contains("✔ all three phases"))
        .expect("diagnostic") as u16;
    let x = screen
        .lines()
        .nth(y as usize)
        .unwrap()
        .chars()
        .position(|c| c == '✔')
        .unwrap() as u16;
    assert_eq!(t.backend().buffer()[(x, y)].fg, Color::Green);
}

#[test]
fn no_color_uses_no_colours() {
    let app = scripted_app();
    let t = render(&app, 120, 40, Theme { color: false });
    let buf = t.backend().buffer();
    for cell in buf.content() {
        assert!(
            matches!(cell.fg, Color::Reset),
            "colour {:?} with NO_COLOR",
            cell.fg
        );
    }
}

#[test]
fn whole_app_keys_and_state() {
    let mut app = scripted_app();
    assert_eq!(app.tab, Tab::Live);
    assert_eq!(app.stats.good, 3);
    assert_eq!(app.stats.fcs_bad, 1);
    assert_eq!(app.stats.junk_bytes, 4);
    assert_eq!(app.live.pushes, 3);
    assert!(app.live.energies.is_some());
    let screen = text(&render(&app, 120, 40, COLOR));
    assert!(
        screen.contains("5706567277656672"),
        "meter id of the latest push"
    );
    assert!(screen.contains("3-phase direct"));
    assert!(screen.contains("1 ok") || screen.contains("3 ok"));

    app.on_key(key(KeyCode::Tab));
    assert_eq!(app.tab, Tab::Readout);
    app.on_key(key(KeyCode::Tab));
    assert_eq!(app.tab, Tab::Inspector);
    assert_eq!(app.inspector.visible_len(), 5);
    app.on_key(key(KeyCode::Char('b')));
    assert_eq!(app.inspector.visible_len(), 2, "bad frame and junk");
    app.on_key(key(KeyCode::Up));
    assert!(!app.inspector.follow, "moving up pauses");
    let effects = app.on_key(key(KeyCode::Char('x')));
    match effects.as_slice() {
        [Effect::Export { path, contents, .. }] => {
            assert!(path.to_string_lossy().starts_with("kamscope-frame-"));
            let v: serde_json::Value = serde_json::from_str(contents).unwrap();
            assert_eq!(v["protocol"], "hdlc");
            assert_eq!(v["ok"], false);
        }
        other => panic!("{other:?}"),
    }
    // Scaling: Swedish energy registers rescale what is on screen.
    app.on_key(key(KeyCode::Char('1')));
    let before = app.live.energies.as_ref().unwrap().registers[0].unwrap().0;
    let effects = app.on_key(key(KeyCode::Char('e')));
    assert_eq!(effects.len(), 1);
    let after = app.live.energies.as_ref().unwrap().registers[0].unwrap().0;
    assert_eq!(after * 10.0, before);

    // Clicking the tab bar.
    let hits = ui::tab_hits(ratatui::layout::Rect::new(0, 0, 80, 1));
    assert_eq!(hits.len(), 5);
    app.on_tab_click(hits[2].0);
    assert_eq!(app.tab, Tab::Inspector);

    app.on_key(key(KeyCode::Char('?')));
    assert!(text(&render(&app, 80, 24, COLOR)).contains("Keys"));
    app.on_key(key(KeyCode::Esc));
    assert!(!app.help);
    app.on_key(key(KeyCode::Char('q')));
    assert!(app.quit);
}

#[test]
fn hint_lines_end_with_a_whole_word_at_80x24() {
    use kamscope::app::keymap;
    let mut app = scripted_app();
    for (tab, k) in [(Tab::Live, '1'), (Tab::Readout, '2'), (Tab::Inspector, '3')] {
        app.on_key(key(KeyCode::Char(k)));
        assert_eq!(app.tab, tab);
        let screen = text(&render(&app, 80, 24, COLOR));
        let last = screen.lines().last().unwrap();
        // The line is made of whole hints of this tab, the first one (highest in the table)
        // included, and ends with one of them: nothing cut mid-word.
        let hints: Vec<String> = keymap::hints(tab)
            .iter()
            .map(|h| format!(" {}", h.text()))
            .collect();
        let shown: Vec<&str> = hints
            .iter()
            .map(String::as_str)
            .filter(|h| last.contains(h))
            .collect();
        assert_eq!(last, shown.join(" "), "{tab:?}");
        assert!(last.starts_with(&hints[0]), "{tab:?}: {last:?}");
        assert!(
            hints.iter().any(|h| last.ends_with(h.as_str())),
            "{tab:?}: {last:?} does not end with a whole hint"
        );
    }
}

#[test]
fn readout_keys_scroll_and_export() {
    let mut app = scripted_app();
    app.on_key(key(KeyCode::Char('2')));
    app.on_key(key(KeyCode::Char('j')));
    app.on_key(key(KeyCode::Char('j')));
    assert_eq!(app.readout.scroll, 2, "j scrolls down like ↓");
    app.on_key(key(KeyCode::Char('k')));
    assert_eq!(app.readout.scroll, 1, "k scrolls up like ↑");
    assert!(app.on_key(key(KeyCode::Char('x'))).is_empty());
    assert_eq!(
        app.notice.as_deref(),
        Some("no readout to export yet: press r")
    );
    // Ctrl-C quits even with the help open; other keys leave it open.
    app.on_key(key(KeyCode::Char('?')));
    app.on_key(key(KeyCode::Char('1')));
    assert!(app.help && app.tab == Tab::Readout);
    app.on_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert!(app.quit);
}

#[test]
fn overdue_push_and_link_hints() {
    let mut app = scripted_app();
    app.tick(app.now + chrono::Duration::seconds(40));
    let screen = text(&render(&app, 120, 40, COLOR));
    assert!(screen.contains("no push for 43 s"), "{screen}");

    let now = oslo().with_ymd_and_hms(2024, 10, 30, 17, 0, 0).unwrap();
    let mut quiet = App::new(
        "/dev/ttyUSB0 2400 8N1".into(),
        Scaling::default(),
        None,
        now,
        3600,
    );
    quiet.on_han(HanEvent::Link(LinkState::Connected));
    quiet.tick(now + chrono::Duration::seconds(15));
    assert!(quiet.hint().unwrap().contains("no bytes at all"));
    let screen = text(&render(&quiet, 80, 24, COLOR));
    assert!(screen.contains("no data yet"));

    let mut wrong_parity = App::new(
        "/dev/ttyUSB0 2400 8N1".into(),
        Scaling::default(),
        None,
        now,
        3600,
    );
    wrong_parity.on_han(HanEvent::Link(LinkState::Connected));
    let mut garbled = fixture("kamstrup-no-list1-3p-2022.hex");
    garbled[4] ^= 0x80;
    let mut twice = garbled.clone();
    twice.extend(&garbled);
    let mut offset = 0;
    feed(
        &mut wrong_parity,
        &twice,
        utc("2024-10-30T16:00:01Z"),
        &mut offset,
    );
    assert!(
        wrong_parity.hint().unwrap().contains("wrong parity"),
        "{:?}",
        wrong_parity.stats
    );
}

#[test]
fn port_picker_snapshot() {
    use kamscope::app::picker::Picker;
    use kamscope::wire::line::PortInfo;
    let ports = vec![PortInfo {
        path: "/dev/ttyUSB0".into(),
        usb_id: Some("0403:6001".into()),
        manufacturer: Some("FTDI".into()),
        product: Some("FT232R USB UART".into()),
        serial_number: Some("A50285BI".into()),
        kind: "usb",
    }];
    let picker = Picker::new(Ok(ports), Some("demo".into()));
    let mut t = Terminal::new(TestBackend::new(80, 24)).unwrap();
    t.draw(|f| ui::picker::draw(f, &picker, &COLOR)).unwrap();
    insta::assert_snapshot!("picker_80x24", text(&t));
}

mod readout_tab {
    use super::*;
    use kamscope::protocol::iec_session::Verdict;
    use kamscope::protocol::iec61107::{parse_data_block, parse_identification};
    use kamscope::wire::{OpticalEvent, ReadoutPhase, ReadoutResult, ReadoutStatus};

    fn readout_351(verdict_of: impl Fn(&[u8]) -> Verdict, cut: Option<usize>) -> ReadoutResult {
        let bytes = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/iec61107/kamstrup-351-seed-example.bin"
        ))
        .unwrap();
        let mut block = bytes[20..].to_vec();
        if let Some(n) = cut {
            block.truncate(n);
        }
        ReadoutResult {
            port: "/dev/ttyUSB1 300 7E1".into(),
            started: utc("2024-10-30T16:30:00Z"),
            duration_ms: 11_900,
            ident: parse_identification(&bytes[..20]),
            verdict: verdict_of(&block),
            block: parse_data_block(&block),
            raw_block: block,
            baud: 300,
            echo_seen: true,
        }
    }

    fn complete(block: &[u8]) -> Verdict {
        let n = block.len();
        Verdict::Complete {
            bcc: kamscope::protocol::iec61107::bcc_check(&block[1..n - 1], block[n - 1]),
        }
    }

    fn app_on_readout() -> App {
        let mut app = scripted_app();
        app.readout.port = Some("/dev/ttyUSB1 300 7E1".into());
        app.on_key(key(KeyCode::Char('2')));
        app
    }

    #[test]
    fn idle_in_progress_done_failed() {
        let mut app = scripted_app();
        app.on_key(key(KeyCode::Char('2')));
        insta::assert_snapshot!("readout_no_head_80x24", text(&render(&app, 80, 24, COLOR)));

        let mut app = app_on_readout();
        insta::assert_snapshot!("readout_idle_80x24", text(&render(&app, 80, 24, COLOR)));

        let effects = app.on_key(key(KeyCode::Char('r')));
        assert!(matches!(
            effects.as_slice(),
            [Effect::StartReadout {
                protocol: kamscope::wire::ReadoutProtocol::Iec,
                ..
            }]
        ));
        app.on_optical(OpticalEvent::Status(ReadoutStatus {
            port: "/dev/ttyUSB1 300 7E1".into(),
            phase: ReadoutPhase::ReadingData,
            attempt: 1,
            ident: parse_identification(b"/KAM 685351A300100\r\n"),
            echo_seen: true,
            baud: 300,
            bytes: 120,
            lines: 6,
            elapsed_ms: 4200,
            eta_ms: Some(7700),
        }));
        insta::assert_snapshot!("readout_progress_80x24", text(&render(&app, 80, 24, COLOR)));
        let effects = app.on_key(key(KeyCode::Esc));
        assert!(matches!(effects.as_slice(), [Effect::CancelReadout]));

        app.on_optical(OpticalEvent::Done(Box::new(readout_351(complete, None))));
        assert!(app.readout.running.is_none());
        let screen = text(&render(&app, 120, 40, COLOR));
        insta::assert_snapshot!("readout_done_120x40", screen);
        assert!(screen.contains("complete, BCC good (xor rule)"));
        assert!(screen.contains("Last month reactive peak power"));

        app.on_optical(OpticalEvent::Done(Box::new(readout_351(
            |_| Verdict::Incomplete {
                received: 130,
                reason: "the meter stopped inside line 7: \"1.8.4(0008\"".into(),
            },
            Some(130),
        ))));
        insta::assert_snapshot!("readout_failed_80x24", text(&render(&app, 80, 24, COLOR)));
        app.on_key(key(KeyCode::Left));
        app.on_key(key(KeyCode::Right));
        app.on_key(key(KeyCode::Char('c')));
        let screen = text(&render(&app, 120, 40, COLOR));
        assert!(screen.contains("before"), "{screen}");

        let effects = app.on_key(key(KeyCode::Char('s')));
        match effects.as_slice() {
            [Effect::Export { path, contents, .. }] => {
                assert!(path.to_string_lossy().ends_with(".csv"));
                assert!(contents.contains("id,name,raw,value,unit"));
                assert!(contents.contains("1.8.0,Active energy,0012658,12658,kWh"));
            }
            other => panic!("{other:?}"),
        }
        let effects = app.on_key(key(KeyCode::Char('x')));
        assert!(
            matches!(effects.as_slice(), [Effect::Export { path, .. }] if path.to_string_lossy().ends_with(".json"))
        );
    }

    #[test]
    fn verdict_colour_and_han_comparison() {
        let mut app = app_on_readout();
        app.on_optical(OpticalEvent::Done(Box::new(readout_351(complete, None))));
        let t = render(&app, 120, 40, COLOR);
        let screen = text(&t);
        let (y, line) = screen
            .lines()
            .enumerate()
            .find(|(_, l)| l.contains("complete, BCC good"))
            .unwrap();
        let x = line.find("complete").unwrap() as u16;
        assert_eq!(t.backend().buffer()[(x, y as u16)].fg, Color::Green);
        // The HAN list 2 of the scripted session says A+ = 155232.51 kWh; the 351 says 12658 kWh.
        assert!(
            screen.contains("Active energy import (A+) from every source"),
            "{screen}"
        );
        let han = screen.lines().find(|l| l.contains("HAN ")).unwrap();
        assert!(
            han.contains("155232.51 kWh") && han.contains("reference"),
            "{han}"
        );
        let rows: Vec<&str> = screen.lines().collect();
        let at = rows
            .iter()
            .position(|l| l.contains("IEC 61107 1.8.0"))
            .unwrap();
        assert!(rows[at].contains(" 12658 kWh"), "{}", rows[at]);
        // The verdict on the line below: far more than 58 minutes can explain.
        assert!(
            rows[at + 1].contains("58 min later: more than"),
            "{}",
            rows[at + 1]
        );
        assert!(
            rows[at + 1].contains("scaling, CT ratio"),
            "{}",
            rows[at + 1]
        );
    }
}
