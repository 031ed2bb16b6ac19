//! HAN-P1 (DSMR-style) telegrams end to end: encode -> frame -> decode round trips, any bytes
//! without a panic, CRC damage flagged, chunking that does not change the spans, the Live tab
//! filled from a telegram, the simulated P1 meter, and the serial path over a pseudo-terminal.

mod common;

use common::{COLOR, app_at, feed_at, fixture_in, oslo, render, text, utc};
use kamscope::link::sim::{MeterProfile, SimMeter};
use kamscope::protocol::p1::{self, OutLine, P1Time, SwedishList};
use kamscope::protocol::region::{self, RegionKind};
use kamscope::protocol::{Content, Decoded, Decoder, Framer, Protocol, Protocols};
use kamscope::wire::detail::{SpanDetail, decode_all};
use proptest::prelude::*;

/// Every span of `input` fed in chunks of `chunk` bytes: (offset, length, protocol, checks good).
fn spans(input: &[u8], chunk: usize, protocols: Protocols) -> Vec<(u64, usize, Protocol, bool)> {
    common::spans_in_chunks(protocols, input, &[chunk])
}

fn swedish() -> SwedishList {
    SwedishList {
        ident: "KAM5 Kamstrup OMNIPOWER".into(),
        time: P1Time {
            year: 2025,
            month: 1,
            day: 15,
            hour: 8,
            minute: 30,
            second: 10,
            summer: false,
        },
        energies: [12345.678, 234.567, 1234.567, 345.678],
        power: [2.214, 0.0, 0.398, 0.0],
        phase_power: [
            Some([0.931, 0.0, 0.167, 0.0]),
            Some([0.730, 0.0, 0.131, 0.0]),
            Some([0.553, 0.0, 0.100, 0.0]),
        ],
        voltages: [Some(231.4), Some(232.0), Some(230.8)],
        currents: [Some(4.1), Some(3.2), Some(2.4)],
    }
}

#[test]
fn the_h1_fixture_decodes_with_every_code_and_unit() {
    let bytes = fixture_in("p1", "p1-kamstrup-se-h1-3p.hex");
    let spans = decode_all(&bytes, &mut Decoder::default());
    assert_eq!(spans.len(), 1);
    let s = &spans[0];
    assert!(s.ok);
    assert_eq!(s.protocol, "p1");
    assert_eq!(s.ident.as_deref(), Some("KAM5 Kamstrup OMNIPOWER"));
    assert_eq!(s.time.as_deref(), Some("2025-06-12T14:15:30+02:00"));
    let field = |code: &str| s.fields.iter().find(|f| f.obis.as_deref() == Some(code));
    let a_plus = field("1.0.1.8.0.255").unwrap();
    assert_eq!(
        (a_plus.value, a_plus.scaler, a_plus.unit.as_deref()),
        (Some(12345.678), Some(-3), Some("kWh"))
    );
    assert_eq!(field("1.0.1.7.0.255").unwrap().value, Some(2.214));
    assert_eq!(field("1.0.72.7.0.255").unwrap().unit.as_deref(), Some("V"));
    assert_eq!(field("1.0.71.7.0.255").unwrap().value, Some(2.4));
    assert_eq!(
        field("1.0.64.7.0.255").unwrap().unit.as_deref(),
        Some("kvar")
    );
    assert_eq!(s.fields.len(), 27);
}

#[test]
fn the_encoder_writes_what_the_fixture_holds_and_the_crc_matches_an_independent_one() {
    // The fixture's CRC was computed outside kamscope; the encoder must agree byte for byte.
    let fixture = fixture_in("p1", "p1-kamstrup-se-h1-3p.hex");
    let mut list = swedish();
    list.time = P1Time {
        year: 2025,
        month: 6,
        day: 12,
        hour: 14,
        minute: 15,
        second: 30,
        summer: true,
    };
    let ours = list.encode();
    assert_eq!(
        String::from_utf8_lossy(&ours),
        String::from_utf8_lossy(&fixture)
    );
}

#[test]
fn a_telegram_without_crc_is_accepted_and_says_so() {
    let bytes = fixture_in("p1", "p1-dsmr3-no-crc.hex");
    let s = &decode_all(&bytes, &mut Decoder::default())[0];
    assert!(s.ok);
    let crc = s.checks.iter().find(|c| c.name == "CRC").unwrap();
    assert_eq!(crc.rule, Some("no CRC: DSMR 2/3 telegram"));
    // The gas value continued on its own line belongs to the line before.
    let gas: Vec<_> = s
        .fields
        .iter()
        .filter(|f| f.obis.as_deref() == Some("0.1.24.3.0.255"))
        .collect();
    assert_eq!(gas.len(), 7);
    assert_eq!(gas[6].value, Some(42.123));
}

#[test]
fn damage_is_flagged_and_never_reaches_the_live_values() {
    let bad = fixture_in("p1", "p1-bad-crc.hex");
    let mut framer = Framer::new(Protocols::HAN);
    framer.push(&bad);
    framer.finish();
    let span = framer.next_span().unwrap();
    let checks = span.content.checks();
    let crc = checks.iter().find(|c| c.name == "CRC").unwrap();
    assert!(!crc.ok);
    let decoded = Decoder::default().decode(&span);
    assert!(decoded.han_message().is_none());

    let cut = fixture_in("p1", "p1-cut-by-next-telegram.hex");
    let got = spans(&cut, 7, Protocols::HAN);
    assert_eq!(
        got,
        vec![
            (0, 649, Protocol::P1, false),
            (649, 719, Protocol::P1, true)
        ]
    );
}

/// A good telegram, the first 200 bytes of one (cut in the middle of a line), a good one.
fn good_cut_good() -> Vec<u8> {
    let good = swedish().encode();
    let mut stream = good.clone();
    stream.extend(&good[..200]);
    stream.extend(&good);
    stream
}

#[test]
fn a_telegram_cut_mid_line_ends_where_the_next_one_begins() {
    let good = swedish().encode().len();
    let stream = good_cut_good();
    let expected = vec![
        (0, good, Protocol::P1, true),
        (good as u64, 200, Protocol::P1, false),
        (good as u64 + 200, good, Protocol::P1, true),
    ];
    for chunk in [1, 7, 200, stream.len()] {
        assert_eq!(
            spans(&stream, chunk, Protocols::HAN),
            expected,
            "chunk {chunk}"
        );
    }
    let s = decode_all(&stream, &mut Decoder::default());
    let end = s[1].checks.iter().find(|c| c.name == "end").unwrap();
    assert_eq!(end.actual.to_string(), "a new telegram began");
    assert!(
        s[1].note
            .as_deref()
            .unwrap()
            .starts_with("telegram cut off after 200 bytes: a new telegram began"),
        "{:?}",
        s[1].note
    );
    // Cut inside the identification line: the piece still ends where the next header begins.
    let mut stream = b"/KAM5 Kams".to_vec();
    stream.extend(swedish().encode());
    assert_eq!(
        spans(&stream, 1, Protocols::ALL),
        vec![(0, 10, Protocol::P1, false), (10, good, Protocol::P1, true)]
    );
}

#[test]
fn split_at_every_byte_the_spans_are_the_same() {
    let mut stream = b"\x00junk".to_vec();
    stream.extend(good_cut_good());
    stream.extend(fixture_in("p1", "p1-dsmr3-no-crc.hex"));
    stream.extend(b"/?!\r\n");
    stream.extend(fixture_in("p1", "p1-dsmr5-1p-log-and-gas.hex"));
    let whole = spans(&stream, stream.len(), Protocols::ALL);
    assert_eq!(
        whole.iter().filter(|s| s.2 == Protocol::P1 && s.3).count(),
        4,
        "{whole:?}"
    );
    for chunk in [1, 2, 3, 5, 64] {
        assert_eq!(
            spans(&stream, chunk, Protocols::ALL),
            whole,
            "chunk {chunk}"
        );
    }
    for cut in 1..stream.len() {
        let got = common::spans_in_chunks(Protocols::ALL, &stream, &[cut, stream.len()]);
        assert_eq!(got, whole, "split at {cut}");
    }
}

#[test]
fn an_iec_identification_stays_iec() {
    // `/` line without the empty line after it: IEC 61107, not P1.
    let got = spans(b"/KAM5351\r\n\x02", 1, Protocols::ALL);
    assert_eq!(got[0].2, Protocol::Iec61107);
}

#[test]
fn the_inspector_map_names_ident_codes_values_units_and_crc() {
    let bytes = swedish().encode();
    let mut framer = Framer::new(Protocols::HAN);
    framer.push(&bytes);
    framer.finish();
    let span = framer.next_span().unwrap();
    let decoded = Decoder::default().decode(&span);
    let regs = region::of_span(span.bytes, &span.content, &decoded);
    assert_eq!(regs.first().unwrap().range.start, 0);
    assert_eq!(regs.last().unwrap().range.end, bytes.len());
    assert!(regs.windows(2).all(|w| w[0].range.end == w[1].range.start));
    assert!(
        !regs.iter().any(|r| r.kind == RegionKind::Unparsed),
        "{regs:#?}"
    );
    let labels: Vec<&str> = regs.iter().map(|r| r.label.as_str()).collect();
    assert!(labels.contains(&"identification /KAM5 Kamstrup OMNIPOWER"));
    assert!(labels.contains(&"1-0:1.8.0 Active energy import (A+)"));
    assert!(labels.contains(&"value 00012345.678"));
    assert!(labels.contains(&"unit kWh"));
    assert!(labels.contains(&"CRC-16/ARC"));
}

#[test]
fn the_live_tab_fills_from_a_telegram_in_w_and_wh() {
    let now = utc("2025-01-15T07:30:12Z").with_timezone(&oslo());
    let mut app = app_at(now);
    feed_at(&mut app, &swedish().encode(), now.to_utc(), None, 0);
    let l = &app.live;
    assert_eq!(l.pushes, 1);
    let r = l.latest.expect("a reading");
    assert_eq!(r.power, [Some(2214.0), Some(0.0), Some(398.0), Some(0.0)]);
    assert_eq!(r.voltage, [Some(231.4), Some(232.0), Some(230.8)]);
    assert_eq!(r.current, [Some(4.1), Some(3.2), Some(2.4)]);
    let e = l.energies.as_ref().expect("energies");
    let (a_plus, raw, unit) = e.registers[0].unwrap();
    assert_eq!((a_plus, raw, unit), (12_345_678.0, 12_345_678, "Wh"));
    assert_eq!(e.registers[2].unwrap().2, "varh");
    assert!(!e.scalable);
    assert_eq!(r.meter_time.unwrap().to_string(), "2025-01-15 08:30:10");
    assert_eq!(l.phases(), Some(3));
    let screen = text(&render(&app, 120, 40, COLOR));
    assert!(screen.contains("2214 W"), "{screen}");
    assert!(screen.contains("12345.68 kWh"), "{screen}");
    assert!(screen.contains("units as sent"), "{screen}");
    insta::assert_snapshot!("live_p1_120x40", screen);

    // The energy scaling setting is for Kamstrup HAN-NVE registers: P1 keeps its units.
    app.live.set_scalers(None, 1);
    let e = app.live.energies.as_ref().unwrap();
    assert_eq!(e.registers[0].unwrap().0, 12_345_678.0);
}

#[test]
fn the_meter_id_is_decoded_from_hex() {
    let now = utc("2025-03-04T09:00:10Z").with_timezone(&oslo());
    let mut app = app_at(now);
    feed_at(
        &mut app,
        &fixture_in("p1", "p1-dsmr5-1p-log-and-gas.hex"),
        now.to_utc(),
        None,
        0,
    );
    assert_eq!(app.live.meter_id.as_deref(), Some("KAM00000042"));
    let r = app.live.latest.unwrap();
    assert_eq!(r.power[0], Some(512.0));
    assert_eq!(r.current[0], Some(2.0));
    assert_eq!(app.live.phases(), Some(1));
    // Tariff registers (1.8.1, 1.8.2) are not the total 1.8.0 the energy panel shows.
    assert!(app.live.energies.is_none());
    let screen = text(&render(&app, 120, 40, COLOR));
    assert!(
        screen.contains("the telegrams carry no total registers"),
        "{screen}"
    );
}

#[test]
fn the_simulated_p1_meter_pushes_good_telegrams_every_ten_seconds() {
    let mut meter = SimMeter::new(MeterProfile::P1, false, 7);
    let at = |s: u32| {
        chrono::NaiveDate::from_ymd_opt(2025, 1, 15)
            .unwrap()
            .and_hms_opt(19, 0, s)
            .unwrap()
    };
    assert!(meter.push_at(1, at(1)).is_none());
    assert!(meter.push_at(5, at(5)).is_none());
    let first = meter.push_at(10, at(10)).unwrap();
    let second = meter.push_at(20, at(20)).unwrap();
    for bytes in [&first, &second] {
        let s = decode_all(bytes, &mut Decoder::default());
        assert_eq!(s.len(), 1);
        assert!(s[0].ok, "{:?}", s[0].checks);
        assert_eq!(s[0].protocol, "p1");
    }
    let mut framer = Framer::new(Protocols::HAN);
    framer.push(&second);
    framer.finish();
    let span = framer.next_span().unwrap();
    let decoded = Decoder::default().decode(&span);
    let m = decoded.han_message().unwrap();
    // The per-phase powers add up to the total, and U x I is close to it.
    let p = m.value(1, 7).unwrap();
    let phases: f64 = [21, 41, 61].iter().map(|&c| m.value(c, 7).unwrap()).sum();
    assert!((p - phases).abs() <= 3.0, "{p} vs {phases}");
    let ui: f64 = [(32, 31), (52, 51), (72, 71)]
        .iter()
        .map(|&(u, i)| m.value(u, 7).unwrap() * m.value(i, 7).unwrap())
        .sum();
    assert!(ui >= p * 0.9 && ui <= p * 1.3, "P {p} W, U x I {ui} VA");
    assert!(m.value(1, 8).unwrap() > 1_000_000.0);
}

#[test]
fn decode_text_shows_the_telegram() {
    let s = &decode_all(&swedish().encode(), &mut Decoder::default())[0];
    let mut out = String::new();
    kamscope::wire::text::render(s, &mut out);
    assert!(out.starts_with("@0 · "), "{out}");
    assert!(out.contains("P1 telegram · ok"), "{out}");
    assert!(out.contains("time 2025-01-15T08:30:10+01:00"), "{out}");
    assert!(out.contains("12345678  12345.678  kWh"), "{out}");
}

/// Telegrams from generated lines: codes, numbers with decimals, text, units.
fn arb_line() -> impl Strategy<Value = OutLine> {
    let code = (0u8..2, 0u8..2, 0u8..100, 0u8..100, 0u8..10)
        .prop_map(|(a, b, c, d, e)| format!("{a}-{b}:{c}.{d}.{e}"));
    let value = prop_oneof![
        (0u64..100_000_000, 0usize..4).prop_map(|(n, d)| {
            let s = format!("{n:09}");
            if d == 0 {
                s
            } else {
                format!("{}.{}", &s[..s.len() - d], &s[s.len() - d..])
            }
        }),
        "[0-9A-F]{2,20}",
        Just("250304100005W".to_string()),
    ];
    let unit = prop_oneof![
        Just(None),
        Just(Some("kWh".to_string())),
        Just(Some("kW".to_string())),
        Just(Some("V".to_string())),
        Just(Some("m3".to_string())),
    ];
    (code, prop::collection::vec((value, unit), 1..4))
        .prop_map(|(code, values)| OutLine { code, values })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn encode_then_decode_round_trips(
        ident in "[A-Z]{3}5[ -~&&[^!/]]{0,20}",
        lines in prop::collection::vec(arb_line(), 0..12),
        with_crc in any::<bool>(),
    ) {
        let bytes = p1::encode(&ident, &lines, with_crc);
        let mut framer = Framer::new(Protocols::ALL);
        framer.push(&bytes);
        framer.finish();
        let span = framer.next_span().unwrap();
        prop_assert_eq!(span.bytes.len(), bytes.len());
        prop_assert!(matches!(span.content, Content::P1(_)));
        prop_assert!(span.content.all_ok(), "{:?}", span.content.checks());
        let Decoded::P1(d) = Decoder::default().decode(&span) else {
            panic!("a P1 span decodes as P1");
        };
        prop_assert_eq!(&d.telegram.ident, &ident);
        prop_assert!(d.telegram.broke_at.is_none());
        prop_assert_eq!(d.telegram.lines.len(), lines.len());
        for (got, sent) in d.telegram.lines.iter().zip(&lines) {
            prop_assert_eq!(&got.code, &sent.code);
            let values: Vec<(String, Option<String>)> =
                got.values.iter().map(|v| (v.raw.clone(), v.unit.clone())).collect();
            prop_assert_eq!(&values, &sent.values);
        }
        prop_assert!(d.message.is_some());
    }

    #[test]
    fn a_changed_byte_fails_the_crc(
        lines in prop::collection::vec(arb_line(), 1..8),
        pick in any::<prop::sample::Index>(),
        flip in 1u8..=0x7F,
    ) {
        let mut bytes = p1::encode("KAM5", &lines, true);
        // Any byte of a value (between the header and `!`) changed to another printable one.
        let body = 9..bytes.len() - 7;
        let at = body.start + pick.index(body.len());
        let was = bytes[at];
        let new = 0x20 + flip % 0x5F;
        prop_assume!(new != was && !matches!(new, b'!' | b'/') && !matches!(was, b'\r' | b'\n'));
        bytes[at] = new;
        let spans = decode_all(&bytes, &mut Decoder::default());
        let p1: Vec<&SpanDetail> = spans.iter().filter(|s| s.protocol == "p1").collect();
        prop_assert_eq!(p1.len(), 1);
        prop_assert!(!p1[0].ok);
        prop_assert!(p1[0].checks.iter().any(|c| c.name == "CRC" && !c.ok));
    }

    #[test]
    fn any_bytes_never_panic(
        prefix in prop::bool::ANY,
        bytes in prop::collection::vec(any::<u8>(), 0..600),
    ) {
        let mut input = if prefix { b"/KAM5x\r\n\r\n".to_vec() } else { Vec::new() };
        input.extend(bytes);
        let spans = decode_all(&input, &mut Decoder::default());
        prop_assert_eq!(spans.iter().map(|s| s.len).sum::<usize>(), input.len());
        for s in &spans {
            let mut out = String::new();
            kamscope::wire::text::render(s, &mut out);
        }
        let mut framer = Framer::new(Protocols::ALL);
        framer.push(&input);
        framer.finish();
        while let Some(span) = framer.next_span() {
            let decoded = Decoder::default().decode(&span);
            let regs = region::of_span(span.bytes, &span.content, &decoded);
            prop_assert_eq!(regs.last().map_or(0, |r| r.range.end), span.bytes.len());
        }
    }
}

/// `kamscope sim --pty --meter p1` on one side, the app's HAN reader (its default protocols, at
/// 115200 8N1) on the other: the telegrams arrive, pass their CRC and fill the Live values.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_reader_sees_the_simulated_p1_meter_over_a_pty() {
    use kamscope::link::serial::SerialConnector;
    use kamscope::task::han::{self, HanConfig};
    use kamscope::wire::line::SerialSettings;
    use kamscope::wire::{HanEvent, LinkState};
    use std::io::BufRead;
    use std::time::Duration;

    let mut sim = std::process::Command::new(env!("CARGO_BIN_EXE_kamscope"))
        .args(["sim", "--pty", "--meter", "p1", "--speed", "100"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut path = String::new();
    std::io::BufReader::new(sim.stdout.take().unwrap())
        .read_line(&mut path)
        .unwrap();
    let connector = SerialConnector {
        path: path.trim().to_string(),
        settings: SerialSettings::P1,
    };
    let (mut events, _commands) = han::spawn(Box::new(connector), HanConfig::default());
    let now = chrono::Utc::now().with_timezone(&oslo());
    let mut app = app_at(now);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut good = 0;
    while good < 3 {
        let event = tokio::time::timeout_at(deadline, events.recv()).await;
        let Ok(Some(event)) = event else {
            sim.kill().ok();
            panic!("no telegrams: {event:?} after {good} good");
        };
        if let HanEvent::Span(s) = &event
            && s.ok()
            && s.protocol() == Protocol::P1
            && s.decoded.han_message().is_some()
        {
            good += 1;
        }
        if !matches!(event, HanEvent::Link(LinkState::Connecting)) {
            app.on_han(event);
        }
    }
    sim.kill().ok();
    sim.wait().ok();
    let r = app.live.latest.expect("live values");
    // Import, or export around midday when the simulated solar panels give more than the load.
    assert!(
        r.power[0].is_some_and(|p| p > 0.0) || r.power[1].is_some_and(|p| p > 0.0),
        "{r:?}"
    );
    assert!(
        r.voltage
            .iter()
            .all(|u| u.is_some_and(|u| (200.0..260.0).contains(&u))),
        "{r:?}"
    );
    assert!(r.current.iter().all(Option::is_some), "{r:?}");
    let e = app.live.energies.as_ref().expect("registers");
    assert_eq!(e.registers[0].unwrap().2, "Wh");
    assert!(app.live.pushes >= 3);
}

#[test]
fn the_inspector_shows_a_telegram_and_its_byte_map() {
    use crossterm::event::KeyCode;
    let now = utc("2025-01-15T07:30:12Z").with_timezone(&oslo());
    let mut app = app_at(now);
    feed_at(
        &mut app,
        &fixture_in("p1", "p1-bad-crc.hex"),
        now.to_utc(),
        None,
        0,
    );
    app.on_key(common::key(KeyCode::Char('3')));
    let screen = text(&render(&app, 120, 40, COLOR));
    assert!(screen.contains("CRC"), "{screen}");
    insta::assert_snapshot!("inspector_p1_bad_crc_120x40", screen);
}

#[test]
fn a_telegram_without_end_is_cut_at_the_length_guard() {
    let mut stream = b"/KAM5 endless\r\n\r\n".to_vec();
    while stream.len() < p1::MAX_TELEGRAM + 500 {
        stream.extend(b"1-0:1.7.0(0001.234*kW)\r\n");
    }
    let got = spans(&stream, 1000, Protocols::ALL);
    assert_eq!(
        got[0],
        (0, p1::MAX_TELEGRAM, Protocol::P1, false),
        "{got:?}"
    );
    assert_eq!(got.iter().map(|s| s.1).sum::<usize>(), stream.len());
    let s = &decode_all(&stream, &mut Decoder::default())[0];
    let end = s.checks.iter().find(|c| c.name == "end").unwrap();
    assert_eq!(end.actual.to_string(), "too long");
    assert!(s.unverified && s.fields.iter().all(|f| f.unverified));
}

#[test]
fn the_live_tab_tells_the_truth_about_a_p1_meter_at_80_and_120_columns() {
    use crossterm::event::KeyCode;
    let now = utc("2025-01-15T07:30:12Z").with_timezone(&oslo());
    let mut app = app_at(now);
    feed_at(&mut app, &swedish().encode(), now.to_utc(), None, 0);
    for (w, h) in [(120, 40), (80, 24)] {
        let screen = text(&render(&app, w, h, COLOR));
        // The identification line names the meter; there is no type field in a telegram.
        assert!(
            screen.contains("ident /KAM5 Kamstrup OMNIPOWER"),
            "{screen}"
        );
        assert!(!screen.contains("type —"), "{screen}");
        // Currents as sent (one decimal), no scaler claimed.
        assert!(screen.contains("I as sent (A)"), "{screen}");
        assert!(screen.contains(" 4.1 A "), "{screen}");
        assert!(!screen.contains("fixed"), "{screen}");
        // Every register fits the line, its unit not cut.
        assert!(screen.contains("R- 345.68 kvarh"), "{screen}");
        // P1 counters, not HDLC's.
        assert!(screen.contains("1 telegram ok 0 CRC✗"), "{screen}");
        assert!(!screen.contains("HCS"), "{screen}");
        // The scaler keys are not offered where they do nothing.
        assert!(!screen.contains("energy scaler"), "{screen}");
        assert!(!screen.contains("current scaler"), "{screen}");
        insta::assert_snapshot!(format!("live_p1_truth_{w}x{h}"), screen);
    }
    for key in ['e', 'i'] {
        app.on_key(common::key(KeyCode::Char(key)));
        assert_eq!(
            app.notice.as_deref(),
            Some("P1 telegrams carry their units: the scalers apply to Kamstrup HAN-NVE lists"),
            "key {key}"
        );
        let r = app.live.latest.unwrap();
        assert_eq!(r.current[0], Some(4.1));
    }
    let screen = text(&render(&app, 80, 24, COLOR));
    assert!(
        screen.contains("P1 telegrams carry their units"),
        "{screen}"
    );
}
