//! M-Bus data records (EN 13757-3): the Kamstrup 382 fixture decodes to its documented records,
//! records built here round-trip, and arbitrary record bytes never panic.

use kamscope::protocol::mbus::{self, Value, parse_records};
use kamscope::protocol::{Decoder, Framer, region};
use kamscope::wire::detail::{RawValue, decode_all};
use proptest::prelude::*;

fn hex_file(text: &str) -> Vec<u8> {
    let t: String = text.split_whitespace().collect();
    (0..t.len() / 2)
        .map(|i| u8::from_str_radix(&t[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

fn kamstrup_382() -> Vec<u8> {
    hex_file(include_str!("fixtures/mbus/kamstrup-382-rsp-ud.hex"))
}

#[test]
fn kamstrup_382_fields_as_documented() {
    let spans = decode_all(&kamstrup_382(), &mut Decoder::default());
    assert_eq!(spans.len(), 1);
    let s = &spans[0];
    assert!(s.ok && s.error.is_none());
    let rows: Vec<(String, String, Option<f64>, Option<String>)> = s
        .fields
        .iter()
        .map(|f| {
            (
                f.obis.clone().unwrap(),
                f.name.clone(),
                f.value,
                f.unit.clone(),
            )
        })
        .collect();
    let w = |o: &str, n: &str, v: f64, u: &str| (o.into(), n.into(), Some(v), Some(u.into()));
    assert_eq!(
        rows[..6],
        [
            w("04 06", "Energy", 0.0, "Wh"),
            w("04 22", "On time", 9.0, "h"),
            w("04 2B", "Power", 0.0, "W"),
            w("14 2B", "Power (maximum)", 0.0, "W"),
            w("84 50 06", "Energy (tariff 1, subunit 1)", 0.0, "Wh"),
            w("84 60 06", "Energy (tariff 2, subunit 1)", 0.0, "Wh"),
        ]
    );
    assert_eq!(s.fields[0].scaler, Some(3));
    assert_eq!(s.fields[3].function, Some("maximum"));
    assert_eq!(s.fields[4].tariff, Some(1));
    assert_eq!(s.fields[5].tariff, Some(2));
    assert_eq!(s.fields[5].storage, Some(0));
    let m = &s.fields[6];
    assert_eq!(m.obis.as_deref(), Some("0F"));
    assert_eq!(
        m.raw,
        RawValue::Text("00000000000000000000000000000010".into())
    );
    assert_eq!(m.storage, None);
}

#[test]
fn json_keys_only_on_mbus_fields() {
    let spans = decode_all(&kamstrup_382(), &mut Decoder::default());
    let json = serde_json::to_value(&spans[0].fields[4]).unwrap();
    assert_eq!(json["tariff"], 1);
    assert_eq!(json["subunit"], 1);
    assert_eq!(json["storage"], 0);
    assert_eq!(json["function"], "instantaneous");
    assert_eq!(json["obis"], "84 50 06");
}

#[test]
fn standard_types_and_tables() {
    // BCD8 energy kWh (VIF 06) 12345678; real32 power; 16-bit voltage FD 48 (x0.1 V);
    // current FD 59 (x 0.001 A); date-time type F; date type G; plain-text VIF; text LVAR;
    // manufacturer-specific VIF FF with one VIFE; idle fillers; 1F: more follows.
    let mut data = vec![0x0C, 0x06, 0x78, 0x56, 0x34, 0x12];
    data.extend([0x05, 0x2B]);
    data.extend(1500.5f32.to_le_bytes());
    data.extend([0x2F, 0x2F]);
    data.extend([0x02, 0xFD, 0x48, 0xE6, 0x08]);
    data.extend([0x02, 0xFD, 0x59, 0xD2, 0x04]);
    // 2026-11-22 07:58: minute 58, hour 7, G = day 22 | year low 010, month 11 | year high 0011.
    data.extend([0x04, 0x6D, 58, 7, 22 | (0b010 << 5), 11 | (0b0011 << 4)]);
    data.extend([0x42, 0x6C, 1 | (0b010 << 5), 1 | (0b0011 << 4)]);
    data.extend([0x01, 0x7C, 0x03, b'h', b'w', b'k', 0x05]);
    data.extend([0x0D, 0x78, 0x03, b'C', b'B', b'A']);
    data.extend([0x04, 0xFF, 0x07, 0x01, 0x02, 0x03, 0x04]);
    data.extend([0x1F, 0xAA]);
    let r = parse_records(&data, 0);
    assert_eq!(r.error, None);
    assert_eq!(r.fillers, 2);
    assert!(r.more_follows());
    let v: Vec<&Value> = r.records.iter().map(|x| &x.value).collect();
    assert_eq!(v[0], &Value::Int(12_345_678));
    assert_eq!(r.records[0].scaled(), Some(12_345_678_000.0));
    assert_eq!(v[1], &Value::Real(1500.5));
    assert_eq!(r.records[2].scaled(), Some(227.8));
    assert_eq!(r.records[3].quantity.unit.as_deref(), Some("A"));
    assert_eq!(r.records[3].scaled(), Some(1.234));
    match v[4] {
        Value::Date { text, .. } => assert_eq!(text, "2026-11-22T07:58"),
        other => panic!("{other:?}"),
    }
    match v[5] {
        Value::Date { text, .. } => assert_eq!(text, "2026-01-01"),
        other => panic!("{other:?}"),
    }
    assert_eq!(r.records[5].storage, 1);
    assert_eq!(r.records[6].quantity.unit.as_deref(), Some("kwh"));
    assert_eq!(v[7], &Value::Text("ABC".into()));
    assert!(r.records[8].quantity.manufacturer_specific);
    assert_eq!(v[8], &Value::Bytes(vec![1, 2, 3, 4]));
    assert_eq!(r.records[8].code(), "04 FF 07");
    assert_eq!(v[9], &Value::Bytes(vec![0xAA]));
}

#[test]
fn a_bad_record_ends_the_walk_with_its_offset() {
    // A good record, then DIF 3F (reserved).
    let frame = mbus::encode_long(0x08, 1, 0x78, &[0x01, 0x2B, 0x05, 0x3F, 0x00]);
    let spans = decode_all(&frame, &mut Decoder::default());
    assert_eq!(spans[0].fields.len(), 1);
    let e = spans[0].error.as_ref().unwrap();
    assert_eq!(e.at, Some(10));
    assert!(e.message.contains("reserved DIF 0x3F"), "{}", e.message);
    // Cut inside the data of a record: the record's first byte.
    let r = parse_records(&[0x04, 0x06, 0x01, 0x02], 19);
    assert_eq!(r.error.map(|e| e.0), Some(19));
}

fn arb_record() -> impl Strategy<Value = (u8, Vec<u8>, u8, i32)> {
    (
        prop::sample::select(vec![0x01u8, 0x02, 0x03, 0x04, 0x06, 0x07, 0x11, 0x24, 0x34]),
        prop::collection::vec(0u8..0x80, 0..3),
        prop::sample::select(vec![0x03u8, 0x06, 0x13, 0x22, 0x2B, 0x2E, 0x5B]),
        any::<i32>(),
    )
}

proptest! {
    #[test]
    fn arbitrary_record_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200),
                                          base in 0usize..1000) {
        let r = parse_records(&bytes, base);
        let mut end = base;
        for rec in &r.records {
            prop_assert!(rec.range.start >= end && rec.range.end <= base + bytes.len());
            end = rec.range.end;
            let _ = (rec.name(), rec.code(), rec.scaled());
        }
        if let Some((at, _)) = r.error {
            prop_assert!(at >= end && at < base + bytes.len());
        }
    }

    #[test]
    fn arbitrary_rsp_ud_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..240),
                                     ci in prop::sample::select(vec![0x72u8, 0x78])) {
        let frame = mbus::encode_long(0x08, 5, ci, &bytes);
        let spans = decode_all(&frame, &mut Decoder::default());
        prop_assert!(!spans.is_empty());
        let _ = serde_json::to_string(&spans).unwrap();
        let mut framer = Framer::default();
        framer.push(&frame);
        framer.finish();
        let mut decoder = Decoder::default();
        while let Some(span) = framer.next_span() {
            let d = decoder.decode(&span);
            let regions = region::of_span(span.bytes, &span.content, &d);
            prop_assert_eq!(regions.iter().map(|r| r.range.len()).sum::<usize>(), span.bytes.len());
        }
    }

    #[test]
    fn integer_records_round_trip(recs in prop::collection::vec(arb_record(), 1..8)) {
        let mut data = Vec::new();
        let mut want = Vec::new();
        for (dif, difes, vif, v) in &recs {
            let mut dif = *dif;
            if !difes.is_empty() {
                dif |= 0x80;
            }
            data.push(dif);
            for (i, e) in difes.iter().enumerate() {
                data.push(if i + 1 < difes.len() { e | 0x80 } else { *e });
            }
            data.push(*vif);
            let len = match dif & 0x0F { 1 => 1, 2 => 2, 3 => 3, 4 => 4, 6 => 6, _ => 8 };
            let wide = i64::from(*v).to_le_bytes();
            data.extend_from_slice(&wide[..len]);
            let bits = 8 * len as u32;
            let expect = if bits == 64 { i64::from(*v) } else {
                let m = i64::from(*v) & ((1i64 << bits) - 1);
                if m & (1 << (bits - 1)) != 0 { m - (1 << bits) } else { m }
            };
            want.push(expect);
        }
        let r = parse_records(&data, 0);
        prop_assert_eq!(r.error, None);
        let got: Vec<Value> = r.records.iter().map(|x| x.value.clone()).collect();
        let want: Vec<Value> = want.into_iter().map(Value::Int).collect();
        prop_assert_eq!(got, want);
    }
}
