//! Other brands on the Live tab: the Aidon and Kaifa fixtures, and Landis+Gyr and Iskra pushes
//! built in code from their published list shapes, go through the app's HAN pipeline and fill the
//! panels (per-phase U and I, power both ways, energies, id and type) with the right units, and
//! nothing untrue is said about them.

mod common;

use chrono::{DateTime, FixedOffset};
use common::{COLOR, app_at, feed_at, fixture, oslo, render, text, utc};
use kamscope::app::App;
use kamscope::app::live::{self, Level, Wiring};
use kamscope::protocol::axdr::{Bytes, Data};
use kamscope::protocol::datetime::DateTime as CosemDateTime;
use kamscope::protocol::dlms::{DataNotification, HeaderTime, encode_data_notification};
use kamscope::protocol::han::Brand;
use kamscope::protocol::hdlc;

fn now() -> DateTime<FixedOffset> {
    utc("2022-01-02T13:37:20Z").with_timezone(&oslo())
}

fn app_with(bytes: &[u8]) -> App {
    let mut app = app_at(now());
    feed_at(&mut app, bytes, now().to_utc(), None, 0);
    app
}

/// No diagnostic of the app is a failure ("missing", "scaling error"...).
fn nothing_bad(app: &App) {
    let d = live::diagnostics(&app.live, now(), 3600);
    assert!(
        d.iter().all(|d| d.level != Level::Bad),
        "{:#?}",
        d.iter().map(|d| &d.text).collect::<Vec<_>>()
    );
}

#[test]
fn aidon_one_phase_fills_the_panels() {
    let app = app_with(&fixture("aidon-list-1p.hex"));
    let l = &app.live;
    assert_eq!(l.brand, Some(Brand::Aidon));
    assert_eq!(l.meter_id.as_deref(), Some("7359992890941742"));
    assert_eq!(l.meter_type.as_deref(), Some("6515"));
    let r = l.latest.unwrap();
    assert_eq!(r.power, [Some(1362.0), Some(0.0), Some(996.0), Some(0.0)]);
    assert_eq!(r.voltage, [Some(250.0), None, None]);
    assert_eq!(r.current, [Some(9.3), None, None]);
    assert_eq!(l.phases(), Some(1));
    let screen = text(&render(&app, 120, 40, COLOR));
    // Aidon sends its scalers: the current scaler setting does not apply and is not claimed.
    assert!(screen.contains("I x0.1 A fixed"), "{screen}");
    assert!(screen.contains("type 6515 (Aidon)"), "{screen}");
    assert!(screen.contains("units as sent"), "{screen}");
    assert!(!screen.contains("xx:00:05"), "{screen}");
}

#[test]
fn aidon_hourly_list_energies_keep_their_scaler() {
    let mut app = app_with(&fixture("aidon-no-hourly.hex"));
    let e = app.live.energies.clone().unwrap();
    assert_eq!(e.registers[0].unwrap(), (109_552_250.0, 10_955_225, "Wh"));
    assert!(!e.scalable);
    let r = app.live.latest.unwrap();
    assert_eq!(r.voltage, [Some(233.0), Some(233.4), Some(231.1)]);
    assert_eq!(r.current, [Some(0.5), Some(0.3), Some(16.8)]);
    // The Kamstrup energy scaling setting leaves Aidon's registers alone.
    app.live.set_scalers(None, 0);
    assert_eq!(
        app.live.energies.unwrap().registers[0].unwrap().0,
        109_552_250.0
    );
}

#[test]
fn aidon_swedish_list_fills_phases_and_energies() {
    let app = app_with(&fixture("aidon-se-3p.hex"));
    let r = app.live.latest.unwrap();
    assert_eq!(r.voltage, [Some(230.7), Some(249.9), Some(230.8)]);
    assert_eq!(r.current, [Some(0.0), Some(7.5), Some(0.0)]);
    assert_eq!(r.power[2], Some(1507.0));
    let e = app.live.energies.as_ref().unwrap();
    assert_eq!(e.registers[0].unwrap(), (10_049_926.0, 10_049_926, "Wh"));
    assert_eq!(r.meter_time.unwrap().to_string(), "2019-12-16 07:59:40");
}

#[test]
fn kaifa_list_1_has_power_only_and_says_so() {
    let app = app_with(&fixture("kaifa-list1.hex"));
    assert_eq!(app.live.brand, Some(Brand::Kaifa));
    let r = app.live.latest.unwrap();
    assert_eq!(r.power[0], Some(4117.0));
    let screen = text(&render(&app, 120, 40, COLOR));
    assert!(
        screen.contains("this list has no per-phase values"),
        "{screen}"
    );
    nothing_bad(&app);
}

#[test]
fn kaifa_three_wire_meter_is_not_missing_l2() {
    let app = app_with(&fixture("kaifa-list2-no-obis.hex"));
    let l = &app.live;
    assert_eq!(l.meter_id.as_deref(), Some("6970631403275928"));
    assert_eq!(l.meter_type.as_deref(), Some("MA304H3E"));
    assert_eq!(l.wiring(), Some(Wiring::ThreeWire));
    let r = l.latest.unwrap();
    assert_eq!(r.voltage, [Some(239.2), None, Some(239.7)]);
    assert_eq!(r.voltage_not_measured, [false, true, false]);
    assert_eq!(r.current, [Some(12.056), Some(5.754), Some(13.412)]);
    nothing_bad(&app);
    let d = live::diagnostics(&app.live, now(), 3600);
    assert!(
        d.iter()
            .any(|d| d.text.starts_with("L2 voltage not measured")),
        "{d:#?}"
    );
    let screen = text(&render(&app, 120, 40, COLOR));
    assert!(screen.contains("U not measured (3-wire meter)"), "{screen}");
    assert!(screen.contains("(Kaifa, 3-wire IT)"), "{screen}");
    assert!(screen.contains("I x0.001 A fixed"), "{screen}");
    insta::assert_snapshot!("kaifa_3_wire_120x40", screen);
}

fn obis(a: u8, b: u8, c: u8, d: u8, e: u8) -> Data {
    Data::OctetString(Bytes::from_slice(&[a, b, c, d, e, 255]))
}

fn text_data(s: &str) -> Data {
    Data::OctetString(Bytes::from_slice(s.as_bytes()))
}

/// A DataNotification in an HDLC UI frame with 2-byte server address, as non-Kamstrup meters send.
fn frame(body: Data, time: Option<CosemDateTime>) -> Vec<u8> {
    let mut info = vec![0xE6, 0xE7, 0x00];
    encode_data_notification(
        &DataNotification {
            invoke_id: 0x4000_0000,
            time: time.map_or(HeaderTime::Absent, HeaderTime::Octet),
            body,
        },
        &mut info,
    );
    let mut out = Vec::new();
    hdlc::encode(&[0x41], &[0x00, 0x23], 0x13, &info, false, &mut out).unwrap();
    out
}

/// A Landis+Gyr E450-style push: the logical device name (0.0.42.0.0.255, `LGZ` + serial), then
/// OBIS/value pairs without scaler-unit: W, Wh, V as integers, currents in 0.01 A.
fn landis_gyr_push() -> Vec<u8> {
    let mut items = vec![
        obis(0, 0, 42, 0, 0),
        text_data("LGZ1030655933512"),
        obis(0, 0, 96, 1, 0),
        text_data("72913941"),
    ];
    for (c, v) in [(1, 1834u32), (2, 0), (3, 120), (4, 0)] {
        items.push(obis(1, 0, c, 7, 0));
        items.push(Data::DoubleLongUnsigned(v));
    }
    for (c, v) in [(32, 231u16), (52, 229), (72, 233)] {
        items.push(obis(1, 0, c, 7, 0));
        items.push(Data::LongUnsigned(v));
    }
    for (c, v) in [(31, 106u16), (51, 412), (71, 281)] {
        items.push(obis(1, 0, c, 7, 0));
        items.push(Data::LongUnsigned(v));
    }
    for (c, v) in [(1, 8_123_456u32), (2, 12_345), (3, 456_789), (4, 98_765)] {
        items.push(obis(1, 0, c, 8, 0));
        items.push(Data::DoubleLongUnsigned(v));
    }
    frame(
        Data::Structure(items),
        Some(CosemDateTime::new(2022, 1, 2, 14, 37, 15, 0)),
    )
}

#[test]
fn landis_gyr_push_by_its_logical_device_name() {
    let app = app_with(&landis_gyr_push());
    let l = &app.live;
    assert_eq!(l.brand, Some(Brand::LandisGyr));
    assert_eq!(l.meter_id.as_deref(), Some("72913941"));
    let r = l.latest.unwrap();
    assert_eq!(r.power, [Some(1834.0), Some(0.0), Some(120.0), Some(0.0)]);
    assert_eq!(r.voltage, [Some(231.0), Some(229.0), Some(233.0)]);
    assert_eq!(r.current, [Some(1.06), Some(4.12), Some(2.81)]);
    let e = l.energies.as_ref().unwrap();
    assert_eq!(e.registers[0].unwrap(), (8_123_456.0, 8_123_456, "Wh"));
    nothing_bad(&app);
}

/// An Iskra AM550-style push: the logical device name with its code, then registers as
/// `{OBIS, value, {scaler, unit}}` structures (the scaler-unit in the frame, as Aidon does).
fn iskra_push() -> Vec<u8> {
    let register = |c: u8, d: u8, value: Data, scaler: i8, unit: u8| {
        Data::Structure(vec![
            obis(1, 0, c, d, 0),
            value,
            Data::Structure(vec![Data::Integer(scaler), Data::Enum(unit)]),
        ])
    };
    let items = vec![
        Data::Structure(vec![obis(0, 0, 42, 0, 0), text_data("ISK1030775213859")]),
        Data::Structure(vec![obis(0, 0, 96, 1, 0), text_data("78447008")]),
        register(1, 7, Data::DoubleLongUnsigned(2140), 0, 27),
        register(2, 7, Data::DoubleLongUnsigned(0), 0, 27),
        register(32, 7, Data::LongUnsigned(2312), -1, 35),
        register(52, 7, Data::LongUnsigned(2298), -1, 35),
        register(72, 7, Data::LongUnsigned(2305), -1, 35),
        register(31, 7, Data::LongUnsigned(462), -2, 33),
        register(51, 7, Data::LongUnsigned(351), -2, 33),
        register(71, 7, Data::LongUnsigned(115), -2, 33),
        register(1, 8, Data::DoubleLongUnsigned(1_456_718), 0, 30),
        register(2, 8, Data::DoubleLongUnsigned(1_350_055), 0, 30),
    ];
    frame(
        Data::Structure(items),
        Some(CosemDateTime::new(2022, 1, 2, 14, 37, 10, 0)),
    )
}

#[test]
fn iskra_push_with_scaler_units_in_the_frame() {
    let app = app_with(&iskra_push());
    let l = &app.live;
    assert_eq!(l.brand, Some(Brand::Iskra));
    assert_eq!(l.meter_id.as_deref(), Some("78447008"));
    let r = l.latest.unwrap();
    assert_eq!(r.power[0], Some(2140.0));
    assert_eq!(r.voltage, [Some(231.2), Some(229.8), Some(230.5)]);
    assert_eq!(r.current, [Some(4.62), Some(3.51), Some(1.15)]);
    let e = l.energies.as_ref().unwrap();
    assert_eq!(e.registers[1].unwrap(), (1_350_055.0, 1_350_055, "Wh"));
    nothing_bad(&app);
}

#[test]
fn a_list_of_bare_values_is_named_by_brand_but_not_guessed() {
    // Iskra's bare-value pushes open with the logical device name without its code; the values
    // after it have no codes, and their layout is the grid company's: nothing is put on screen.
    let body = Data::Structure(vec![
        text_data("ISK1030792283067"),
        text_data("16820005"),
        Data::DoubleLongUnsigned(246),
        Data::DoubleLongUnsigned(0),
        Data::LongUnsigned(2325),
    ]);
    let app = app_with(&frame(body, None));
    assert_eq!(app.live.brand, Some(Brand::Iskra));
    assert_eq!(app.live.latest, None);
}
