//! What the app says about a site, tested through the whole app: frames built by the protocol
//! encoder (or fixtures) go through the pipeline into `App`, and the verdicts and the drawn
//! screen are checked. One group per item of issue 8.

use chrono::{DateTime, Duration, FixedOffset, TimeZone, Utc};
use crossterm::event::KeyCode;
use kamscope::app::live::{ClockReference, Level, Topic, Wiring};
use kamscope::app::verdict::{self, Freshness};
use kamscope::app::{App, Tab};
use kamscope::protocol::datetime::DateTime as CosemDateTime;
use kamscope::protocol::dlms::Keys;
use kamscope::protocol::han::{KamstrupList, MissingPhases};
use kamscope::wire::hex::parse as parse_hex;
use kamscope::wire::{HanEvent, LinkState};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;

mod common;
use common::{COLOR, app_at, fixture, key, oslo, text, utc};

fn render(app: &App, w: u16, h: u16) -> Terminal<TestBackend> {
    common::render(app, w, h, COLOR)
}

fn winter_now() -> DateTime<FixedOffset> {
    oslo().with_ymd_and_hms(2024, 10, 30, 17, 32, 3).unwrap()
}

/// Bytes into the app with `keys`, as if they arrived at `at`.
fn feed_with(app: &mut App, bytes: &[u8], at: DateTime<Utc>, keys: Option<Keys>) {
    common::feed_at(app, bytes, at, keys, 0);
}

fn feed(app: &mut App, bytes: &[u8], at: DateTime<Utc>) {
    feed_with(app, bytes, at, None);
}

/// A Kamstrup list 1 as a 684-11-3 (4-wire) meter sends it, at local standard time `local`.
fn list(meter_type: &str, local: &str) -> KamstrupList {
    let t = chrono::NaiveDateTime::parse_from_str(local, "%Y-%m-%d %H:%M:%S").unwrap();
    use chrono::{Datelike, Timelike};
    KamstrupList {
        meter_id: "5706567000000042".into(),
        meter_type: meter_type.into(),
        time: CosemDateTime::new(
            t.year() as u16,
            t.month() as u8,
            t.day() as u8,
            t.hour() as u8,
            t.minute() as u8,
            t.second() as u8,
            0,
        ),
        power: [2300, 0, 200, 0],
        currents: [Some(400), Some(330), Some(270)],
        voltages: [Some(231), Some(230), Some(232)],
        missing_phases: MissingPhases::NullPlaceholders,
        energies: None,
    }
}

fn frame(l: &KamstrupList) -> Vec<u8> {
    let mut out = Vec::new();
    l.encode_frame(&mut out).unwrap();
    out
}

fn screen(app: &App, w: u16, h: u16) -> String {
    text(&render(app, w, h))
}

/// The diagnostics' texts, joined.
fn said(app: &App) -> String {
    verdict::diagnostics(app)
        .iter()
        .map(|d| d.text.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// An app with one 4-wire list 1 received 3 s before `winter_now()`.
fn app_with(l: &KamstrupList) -> App {
    let mut app = app_at(winter_now());
    feed(&mut app, &frame(l), utc("2024-10-30T16:32:00Z"));
    app
}

fn four_wire() -> KamstrupList {
    list("6841131BN243101040", "2024-10-30 17:32:00")
}

// Item 2: phases are unknown until a push says which exist.

#[test]
fn phases_are_unknown_until_the_first_push() {
    let app = app_at(winter_now());
    assert_eq!(app.live.phases(), None);
    for (w, h) in [(80, 24), (120, 40)] {
        let s = screen(&app, w, h);
        assert!(s.contains("L2 — unknown until the first push"), "{s}");
        assert!(!s.contains("1-phase"), "{s}");
    }
    // An encrypted push without keys says nothing about the phases either.
    let mut app = app_at(oslo().with_ymd_and_hms(2026, 3, 12, 15, 24, 33).unwrap());
    feed(
        &mut app,
        &fixture("kamstrup-dk-encrypted-glo.hex"),
        utc("2026-03-12T14:24:31Z"),
    );
    let s = screen(&app, 120, 40);
    assert!(s.contains("unknown until a push is decrypted"), "{s}");
    assert!(!s.contains("1-phase"), "{s}");
    // A 1-phase meter says so in its push: then L2 and L3 are "not on this meter".
    let mut one = list("6861111BN242101040", "2024-10-30 17:32:00");
    one.currents = [Some(290), None, None];
    one.voltages = [Some(226), None, None];
    let app = app_with(&one);
    assert_eq!(app.live.wiring(), Some(Wiring::OnePhase));
    let s = screen(&app, 80, 24);
    assert!(s.contains("L2 not on this meter (1-phase)"), "{s}");
    assert!(said(&app).contains("1-phase meter: 226 V, within 230 V ±10 %"));
}

#[test]
fn the_demo_meter_is_never_called_1_phase() {
    use kamscope::link::sim::{MeterProfile, SimMeter};
    let start = utc("2024-10-30T16:31:55Z");
    let mut app = app_at(start.with_timezone(&oslo()));
    let mut meter = SimMeter::new(MeterProfile::ThreePhase, false, 7);
    for s in 0..40 {
        let t = start + Duration::seconds(s);
        app.tick(t.with_timezone(&oslo()));
        let local = (t + Duration::hours(1)).naive_utc();
        if let Some(bytes) = meter.push_at(t.timestamp(), local) {
            feed(&mut app, &bytes, t);
        }
        for (w, h) in [(80, 24), (120, 40)] {
            let s = screen(&app, w, h);
            assert!(!s.contains("1-phase"), "{s}");
        }
    }
    assert_eq!(app.live.wiring(), Some(Wiring::FourWire));
    assert!(app.live.pushes >= 3);
}

// Item 3: stale values.

#[test]
fn values_go_stale_after_25_s_without_a_push() {
    let mut app = app_with(&four_wire());
    assert!(matches!(
        verdict::freshness(&app),
        Freshness::Fresh { age: 3 }
    ));
    assert!(screen(&app, 120, 40).contains("✔ all three phases present"));

    app.tick(winter_now() + Duration::seconds(22));
    assert!(matches!(
        verdict::freshness(&app),
        Freshness::Fresh { age: 25 }
    ));
    app.tick(winter_now() + Duration::seconds(37));
    assert!(verdict::freshness(&app).is_stale());
    for (w, h) in [(80, 24), (120, 40)] {
        let s = screen(&app, w, h);
        assert!(!s.contains('✔'), "no ✔ on stale data:\n{s}");
        assert!(s.contains("Phases · stale 40 s"), "{s}");
        assert!(s.contains("Power · stale 40 s"), "{s}");
        assert!(s.contains("Diagnostics · stale 40 s"), "{s}");
        assert!(s.contains("no push for 40 s"), "{s}");
    }
    let diags = verdict::diagnostics(&app);
    let phases = diags.iter().find(|d| d.topic == Topic::Phases).unwrap();
    assert!(phases.stale, "verdicts on old values are marked stale");
    // Dimmed: the voltage is drawn grey, not bold white.
    let t = render(&app, 120, 40);
    let s = text(&t);
    let (y, line) = s
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains("231 V"))
        .unwrap();
    let x = line[..line.find("231 V").unwrap()].chars().count() as u16;
    assert_eq!(t.backend().buffer()[(x, y as u16)].fg, Color::DarkGray);
}

#[test]
fn a_link_that_drops_makes_values_stale_at_once() {
    let mut app = app_with(&four_wire());
    app.on_han(HanEvent::Link(LinkState::Waiting {
        reason: "/dev/ttyUSB0 is gone".into(),
    }));
    assert!(verdict::freshness(&app).is_stale());
    let s = screen(&app, 80, 24);
    assert!(!s.contains('✔'), "{s}");
    assert!(said(&app).contains("link down (/dev/ttyUSB0 is gone): values stale"));
    let head = s.lines().nth(1).unwrap();
    assert!(head.contains("✖ link down"), "{head}");
}

#[test]
fn a_finished_replay_is_not_a_fault_but_its_values_age() {
    let mut app = app_with(&four_wire());
    app.on_han(HanEvent::Link(LinkState::Ended));
    assert!(!verdict::freshness(&app).is_stale());
    assert!(said(&app).contains("replay finished"));
    assert!(screen(&app, 120, 40).contains("✔ all three phases present"));
    app.tick(winter_now() + Duration::seconds(60));
    assert!(verdict::freshness(&app).is_stale());
    let s = screen(&app, 120, 40);
    assert!(said(&app).contains("replay finished: values stale, last push 1 min 3 s ago"));
    assert!(!s.contains("link down") && !s.contains('✔'), "{s}");
    assert!(s.contains("stale 1 min 3 s"), "{s}");
    // At 80 columns the laptop's time gives way; nothing is cut.
    let s = screen(&app, 80, 24);
    assert!(
        s.contains("│meter clock 2024-10-30 17:32:00  last push 1 min 3 s ago, stale"),
        "{s}"
    );
}

// Item 5: the right cause.

#[test]
fn a_current_scaler_one_step_off_on_a_ct_meter_is_a_scaling_error() {
    // A CT meter sends mA; the scaler is forced to -2, so the currents read ten times too high.
    let mut l = list("6851131BN243101040", "2024-10-30 17:32:00");
    l.power = [6900, 0, 700, 0];
    l.currents = [Some(10_000), Some(10_050), Some(9_950)];
    l.voltages = [Some(230), Some(230), Some(230)];
    let mut app = app_at(winter_now());
    app.scaling.current_scaler = Some(-2);
    feed(&mut app, &frame(&l), utc("2024-10-30T16:32:00Z"));
    let diags = verdict::diagnostics(&app);
    let d = diags
        .iter()
        .find(|d| d.topic == Topic::Power)
        .expect("a power verdict");
    assert_eq!(d.level, Level::Bad);
    assert!(
        d.text.contains("scaling error")
            && d.text
                .contains("current scaler -3 fits: the meter sends mA"),
        "{}",
        d.text
    );
    assert_eq!(d.evidence("scaler fits"), Some(-3.0));
    assert!((d.evidence("ratio").unwrap() - 0.1).abs() < 0.005);
    assert_eq!(d.evidence("P"), Some(6900.0));
    let all = said(&app);
    assert!(!all.contains("reversed"), "{all}");
    assert!(
        !all.contains("main fuse"),
        "no fuse verdict on mis-scaled currents: {all}"
    );
    assert!(screen(&app, 120, 40).contains("PF 0.10"));
}

#[test]
fn currents_ten_times_too_small_name_the_scaler_that_fits() {
    let mut app = app_at(winter_now());
    app.scaling.current_scaler = Some(-3);
    let mut l = four_wire();
    l.power = [2283, 0, 0, 0];
    l.currents = [Some(400), Some(330), Some(270)];
    feed(&mut app, &frame(&l), utc("2024-10-30T16:32:00Z"));
    let all = said(&app);
    assert!(
        all.contains("P is 10x ΣU·I")
            && all.contains("current scaler -2 fits: the meter sends 0.01 A"),
        "{all}"
    );
}

#[test]
fn pf_above_1_is_a_verdict_and_no_scaling_verdict_while_a_phase_is_missing() {
    let mut l = four_wire();
    l.power = [3400, 0, 0, 0];
    let app = app_with(&l);
    let d = verdict::diagnostics(&app)
        .into_iter()
        .find(|d| d.topic == Topic::Power)
        .expect("PF above 1");
    assert!(d.text.starts_with("PF 1.47 above 1"), "{}", d.text);
    assert_eq!(d.level, Level::Bad);

    let mut l = four_wire();
    l.voltages = [Some(231), Some(0), Some(232)];
    l.currents = [Some(400), Some(0), Some(270)];
    l.power = [3400, 0, 0, 0];
    let app = app_with(&l);
    let all = said(&app);
    assert!(all.contains("L2 missing: 0 V (below 160 V)"), "{all}");
    assert!(!all.contains("scaling error"), "{all}");
    assert!(all.contains("scaling not judged"), "{all}");
    let s = screen(&app, 120, 40);
    assert!(s.contains("missing (below 160 V)"), "{s}");
}

// Item 6: wiring, voltage band, fuse.

#[test]
fn a_3_wire_meter_is_judged_as_one() {
    // 684-11-2: line-to-line voltages of a 230 V IT network, L2 current not measured.
    let mut l = list("6841121BN243101040", "2024-10-30 17:32:00");
    l.currents = [Some(1000), None, Some(1000)];
    l.voltages = [Some(230), Some(229), Some(231)];
    l.missing_phases = MissingPhases::Omitted;
    l.power = [3800, 0, 400, 0];
    let app = app_with(&l);
    assert_eq!(app.live.wiring(), Some(Wiring::ThreeWire));
    let all = said(&app);
    assert!(!all.contains("missing"), "{all}");
    assert!(all.contains("L2 current not measured: normal on a 3-wire meter"));
    assert!(all.contains("3-wire (IT) meter, 3 phases: 229-231 V line to line"));
    assert!(!all.contains("PF") && !all.contains("scaling"), "{all}");
    let s = screen(&app, 120, 40);
    assert!(s.contains("(3-phase direct, 3-wire IT)"), "{s}");
    assert!(s.contains("I not measured (3-wire meter)"), "{s}");
    assert!(s.contains("√3·U·I"), "{s}");
    assert!(
        verdict::headline(&app)
            .text()
            .contains("3 phases ok (3-wire)"),
        "{:?}",
        verdict::headline(&app)
    );
    // A 3-wire meter in a 400 V network: 400 V line to line is right, not over voltage.
    l.voltages = [Some(400), Some(401), Some(399)];
    l.power = [6600, 0, 700, 0];
    let all = said(&app_with(&l));
    assert!(
        all.contains("3 phases: 399-401 V line to line, within 400 V ±10 %"),
        "{all}"
    );
}

#[test]
fn voltages_are_judged_by_the_band_and_the_phase_missing_level() {
    let mut l = four_wire();
    l.voltages = [Some(262), Some(200), Some(150)];
    let all = said(&app_with(&l));
    assert!(
        all.contains("L1 over voltage: 262 V, above 253 V (230 V ±10 %)"),
        "{all}"
    );
    assert!(
        all.contains("L2 under voltage: 200 V, below 207 V"),
        "{all}"
    );
    assert!(all.contains("L3 missing: 150 V (below 160 V)"), "{all}");
}

#[test]
fn currents_are_judged_against_the_main_fuse() {
    assert_eq!(
        kamscope::app::live::LiveState::default().fuse_a,
        kamscope::config::DEFAULT_FUSE_A
    );
    let mut l = four_wire();
    l.currents = [Some(2200), Some(2700), Some(100)];
    l.power = [11500, 0, 0, 0];
    let app = app_with(&l);
    let all = said(&app);
    assert!(
        all.contains("L1 22.0 A: 88 % of the 25 A main fuse"),
        "{all}"
    );
    assert!(all.contains("L2 27.0 A: above the 25 A main fuse"), "{all}");
    assert!(!all.contains("imbalance"), "{all}");
    let mut app = app_at(winter_now());
    app.live.fuse_a = 35.0;
    feed(&mut app, &frame(&l), utc("2024-10-30T16:32:00Z"));
    let all = said(&app);
    assert!(!all.contains("main fuse"), "{all}");
    assert!(screen(&app, 120, 40).contains("bar 35 A fuse"));

    // A CT meter is not judged against the 25 A default: its fuse is far larger.
    let mut ct = list("6851131BN243101040", "2024-10-30 17:32:00");
    ct.currents = [Some(50_000), Some(32_000), Some(30_000)];
    ct.power = [25_000, 0, 4_500, 0];
    let app = app_with(&ct);
    let all = said(&app);
    assert!(
        all.contains(
            "CT meter: currents not judged against the 25 A default fuse; set [site] fuse_a"
        ),
        "{all}"
    );
    assert!(!all.contains("above the"), "{all}");
    assert!(screen(&app, 120, 40).contains("bar 63 A"));
    let mut app = app_at(winter_now());
    app.live.fuse_a = 63.0;
    feed(&mut app, &frame(&ct), utc("2024-10-30T16:32:00Z"));
    // 50 A is 79 % of 63 A: below the 80 % warning share.
    assert!(!said(&app).contains("main fuse"), "{}", said(&app));
    app.live.fuse_a = 40.0;
    feed(&mut app, &frame(&ct), utc("2024-10-30T16:32:01Z"));
    assert!(
        said(&app).contains("L1 50.0 A: above the 40 A main fuse"),
        "{}",
        said(&app)
    );
}

// Item 7: clocks.

#[test]
fn a_replayed_recording_is_compared_with_its_own_times() {
    // A 2024 capture replayed in 2026.
    let now = oslo().with_ymd_and_hms(2026, 1, 10, 12, 0, 3).unwrap();
    let received = utc("2026-01-10T11:00:00Z");
    let mut app = app_at(now);
    feed(
        &mut app,
        &fixture("kamstrup-no-list1-3p-2024.hex"),
        received,
    );
    let all = said(&app);
    assert!(
        all.contains("meter clock -436 d 18 h off the laptop clock"),
        "{all}"
    );

    let mut app = app_at(now);
    app.live.clock_reference = ClockReference::Recording {
        first_chunk: utc("2024-10-30T16:31:58Z"),
        started: utc("2026-01-10T10:59:58Z"),
        speed: 1.0,
    };
    feed(
        &mut app,
        &fixture("kamstrup-no-list1-3p-2024.hex"),
        received,
    );
    let all = said(&app);
    assert!(
        all.contains("meter clock matches the recording's time"),
        "{all}"
    );
    assert!(screen(&app, 120, 40).contains("recorded 2024-10-30 17:32:00"));

    // A hex file has no times: said once, no offset.
    let mut app = app_at(now);
    app.live.clock_reference = ClockReference::None;
    feed(
        &mut app,
        &fixture("kamstrup-no-list1-3p-2024.hex"),
        received,
    );
    let all = said(&app);
    assert_eq!(all.matches("not compared").count(), 1, "{all}");
    assert!(!all.contains(" off "), "{all}");
}

#[test]
fn standard_time_in_summer_is_how_kamstrup_meters_are() {
    // July in Oslo: local time UTC+2, the meter on UTC+1.
    let now = FixedOffset::east_opt(7200)
        .unwrap()
        .with_ymd_and_hms(2024, 7, 1, 12, 0, 3)
        .unwrap();
    let mut app = app_at(now);
    let l = list("6841131BN243101040", "2024-07-01 11:00:00");
    feed(&mut app, &frame(&l), utc("2024-07-01T10:00:00Z"));
    let d = verdict::diagnostics(&app)
        .into_iter()
        .find(|d| d.topic == Topic::Clock)
        .unwrap();
    assert_eq!(d.level, Level::Ok);
    assert_eq!(
        d.text,
        "meter on standard time (no DST), as Kamstrup meters are: 1 h behind summer time"
    );
    assert_eq!(d.evidence("offset"), Some(-3600.0));
    // The same hour off in winter is an error, with a hint about the laptop's time zone.
    let mut app = app_at(winter_now());
    let l = list("6841131BN243101040", "2024-10-30 16:32:00");
    feed(&mut app, &frame(&l), utc("2024-10-30T16:32:00Z"));
    let all = said(&app);
    assert!(
        all.contains("meter clock -1 h 0 min off the laptop clock: whole hours, check the laptop's time zone (UTC+01:00)"),
        "{all}"
    );
}

#[test]
fn clock_status_bits_are_shown_in_words() {
    // June 2021, the meter says daylight saving is active: its time is local summer time.
    let now = FixedOffset::east_opt(7200)
        .unwrap()
        .with_ymd_and_hms(2021, 6, 14, 17, 37, 33)
        .unwrap();
    let mut app = app_at(now);
    feed(
        &mut app,
        &fixture("kamstrup-no-list1-3p-dst-status.hex"),
        utc("2021-06-14T15:37:30Z"),
    );
    let s = screen(&app, 120, 40);
    assert!(s.contains("meter clock 2021-06-14 17:37:30 (DST)"), "{s}");
    assert!(said(&app).contains("meter clock matches the laptop clock"));
}

// Item 10: the no-data ladder, in the Diagnostics panel.

fn diagnostics_panel(app: &App) -> String {
    // The right-hand half of the bottom rows at 120x40: the Diagnostics panel.
    let s = screen(app, 120, 40);
    s.lines()
        .skip_while(|l| !l.contains("Diagnostics"))
        .skip(1)
        .take_while(|l| !l.contains('└'))
        .map(|l| {
            let inner: String = l.chars().skip(64).collect();
            inner.trim_matches(|c| c == '│' || c == ' ').to_string()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn the_ladder_names_each_rung() {
    // No bytes at all.
    let mut app = app_at(winter_now());
    app.tick(winter_now() + Duration::seconds(15));
    let d = verdict::rung(&app);
    assert_eq!(d.level, Level::Bad);
    assert!(diagnostics_panel(&app).contains("no bytes at all in 15 s"));
    assert!(d.text.contains("HAN port enabled by the grid company"));

    // Bytes but no frames: what was seen.
    let mut app = app_at(winter_now());
    feed(&mut app, &[0x55; 600], utc("2024-10-30T16:32:00Z"));
    assert!(
        diagnostics_panel(&app).contains("bytes but no frames: 600 B without a single 0x7E"),
        "{}",
        diagnostics_panel(&app)
    );

    // Frames failing HCS: parity.
    let mut app = app_at(winter_now());
    let mut garbled = fixture("kamstrup-no-list1-3p-2022.hex");
    garbled[4] ^= 0x80;
    let twice = [garbled.clone(), garbled].concat();
    feed(&mut app, &twice, utc("2024-10-30T16:32:00Z"));
    assert!(verdict::rung(&app).text.contains("fail HCS"));
    assert!(diagnostics_panel(&app).contains("wrong parity or speed"));

    // Frames failing FCS: noise, module seating.
    let mut app = app_at(winter_now());
    feed(
        &mut app,
        &fixture("bad-fcs.hex"),
        utc("2024-10-30T16:32:00Z"),
    );
    // One bad frame in the first bytes may be a push joined in the middle: no verdict yet.
    assert_eq!(verdict::rung(&app).level, Level::Info);
    assert!(verdict::rung(&app).text.contains("no good frame yet"));
    feed(
        &mut app,
        &fixture("bad-fcs.hex"),
        utc("2024-10-30T16:32:10Z"),
    );
    assert!(verdict::rung(&app).text.contains("2 frames fail FCS"));
    assert!(diagnostics_panel(&app).contains("badly seated HAN module"));

    // Encrypted without keys, with a wrong key.
    let bytes = fixture("kamstrup-dk-encrypted-glo.hex");
    let mut app = app_at(winter_now());
    feed(&mut app, &bytes, utc("2024-10-30T16:32:00Z"));
    let panel = diagnostics_panel(&app);
    assert!(panel.contains("encrypted push received"), "{panel}");
    let head = screen(&app, 80, 24).lines().nth(1).unwrap().to_string();
    assert_eq!(
        head,
        " ✖ encrypted push (KAM, counter 17784996): keys needed"
    );
    assert!(
        verdict::rung(&app)
            .text
            .contains("system title KAM 4B414D4501349083, counter 17784996): keys needed")
    );
    let k = |s: &str| <[u8; 16]>::try_from(parse_hex(s).unwrap()).unwrap();
    let wrong = Keys {
        encryption: k("FFEEDDCCBBAA99887766554433221100"),
        authentication: Some(k("00112233445566778899AABBCCDDEEFF")),
    };
    let mut app = app_at(winter_now());
    feed_with(&mut app, &bytes, utc("2024-10-30T16:32:00Z"), Some(wrong));
    assert!(verdict::rung(&app).text.contains("wrong key"));
    assert!(diagnostics_panel(&app).contains("wrong key"));
    let right = Keys {
        encryption: k("00112233445566778899AABBCCDDEEFF"),
        authentication: Some(k("FFEEDDCCBBAA99887766554433221100")),
    };
    let mut app = app_at(winter_now());
    feed_with(&mut app, &bytes, utc("2024-10-30T16:32:00Z"), Some(right));
    assert_eq!(verdict::rung(&app).level, Level::Ok);
    assert!(screen(&app, 120, 40).contains("222 V"));

    // Decoded.
    let app = app_with(&four_wire());
    assert_eq!(verdict::rung(&app).level, Level::Ok);
    assert!(diagnostics_panel(&app).contains("pushes decoded: 1/1 frames good"));
}

// Item 12: layout.

#[test]
fn below_80x24_it_says_too_small() {
    let app = app_with(&four_wire());
    for (w, h) in [(60, 20), (79, 24), (80, 23)] {
        let s = screen(&app, w, h);
        let said: Vec<&str> = s.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
        assert_eq!(
            said,
            [format!(
                "terminal too small ({w}x{h}): kamscope needs 80x24"
            )],
            "{s}"
        );
    }
    assert!(screen(&app, 80, 24).contains("L3"));
}

#[test]
fn chart_axes_carry_units_and_the_legend_sits_on_the_border() {
    let mut app = app_at(winter_now());
    for s in 0..10 {
        let at = utc("2024-10-30T16:30:30Z") + Duration::seconds(10 * s);
        let mut l = four_wire();
        l.power[0] = 2000 + 100 * s as u32;
        feed(&mut app, &frame(&l), at);
    }
    let s = screen(&app, 120, 40);
    assert!(s.contains("active power (W)"), "{s}");
    assert!(s.contains("2.9 kW") && s.contains("0 W"), "{s}");
    let legend = s.lines().find(|l| l.contains("━ import")).unwrap();
    assert!(
        legend.starts_with('└'),
        "legend on the bottom border: {legend}"
    );
    app.on_key(key(KeyCode::Char('c')));
    let s = screen(&app, 120, 40);
    assert!(
        s.contains("voltage per phase (V)") && s.contains("253 V"),
        "{s}"
    );
    app.on_key(key(KeyCode::Char('c')));
    let s = screen(&app, 120, 40);
    assert!(
        s.contains("current per phase (A)") && s.contains(" A│"),
        "{s}"
    );
}

#[test]
fn cycling_the_current_scaler_rescales_history_from_the_raw_integers() {
    let mut app = app_at(winter_now());
    for s in 0..3 {
        feed(
            &mut app,
            &frame(&four_wire()),
            utc("2024-10-30T16:31:40Z") + Duration::seconds(10 * s),
        );
    }
    let currents = |app: &App| -> Vec<f64> {
        app.live
            .history
            .iter()
            .flat_map(|r| r.current.iter().flatten().copied())
            .collect()
    };
    assert_eq!(currents(&app)[..3], [4.0, 3.3, 2.7]);
    app.on_key(key(KeyCode::Char('i'))); // -2, set
    app.on_key(key(KeyCode::Char('i'))); // -3
    assert_eq!(app.live.current_scaler, -3);
    assert_eq!(
        currents(&app)[..3],
        [0.4, 0.33, 0.27],
        "exact, from the raw integers"
    );
    assert!(app.live.history.iter().all(|r| r.current_scaler == -3));
    assert_eq!(app.live.latest.unwrap().current[1], Some(0.33));
    assert!(screen(&app, 120, 40).contains("0.33 A"));
    // Back to the meter type's default: the next push brings the history along.
    app.on_key(key(KeyCode::Char('i')));
    feed(&mut app, &frame(&four_wire()), utc("2024-10-30T16:32:10Z"));
    assert!(currents(&app).iter().all(|i| [4.0, 3.3, 2.7].contains(i)));
    // And directly, as the scaling setter can do it.
    app.live.set_scalers(Some(-3), 1);
    assert_eq!(currents(&app)[..3], [0.4, 0.33, 0.27]);
    app.live.set_scalers(None, 1);
    assert_eq!(currents(&app)[..3], [4.0, 3.3, 2.7]);
}

// Item 15: the verdict line on every tab.

#[test]
fn one_verdict_line_on_every_tab() {
    let mut app = app_with(&four_wire());
    let h = verdict::headline(&app);
    assert_eq!(
        h.text(),
        "HAN ok · 3 phases ok · clock ok · 1/1 frames good"
    );
    assert_eq!(h.level, Level::Ok);
    for (tab, k) in [(Tab::Live, '1'), (Tab::Readout, '2'), (Tab::Inspector, '3')] {
        app.on_key(key(KeyCode::Char(k)));
        assert_eq!(app.tab, tab);
        for (w, hh) in [(80, 24), (120, 40)] {
            let s = screen(&app, w, hh);
            assert_eq!(
                s.lines().nth(1).unwrap(),
                " HAN ok · 3 phases ok · clock ok · 1/1 frames good",
                "{tab:?}"
            );
        }
    }
    // The worst problem, in red.
    let mut l = four_wire();
    l.voltages = [Some(231), Some(0), Some(232)];
    l.currents = [Some(400), Some(0), Some(270)];
    let app = app_with(&l);
    let t = render(&app, 80, 24);
    let s = text(&t);
    let head = s.lines().nth(1).unwrap();
    assert!(
        head.starts_with(" ✖ L2 missing: 0 V (below 160 V)"),
        "{head}"
    );
    assert_eq!(t.backend().buffer()[(3, 1)].fg, Color::Red);
}
