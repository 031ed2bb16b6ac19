//! Every fixture decodes to the values its README lists; bad ones are flagged.

use kamscope::protocol::Decoder;
use kamscope::protocol::dlms::Keys;
use kamscope::protocol::han::Scaling;
use kamscope::wire::SpanDetail;
use kamscope::wire::hex::parse as parse_hex;
use serde::Deserialize;
use serde_json::Value;
use std::path::Path;

/// A field as scripts read it from the JSON output.
#[derive(Debug, Clone, Deserialize)]
struct FieldReport {
    obis: Option<String>,
    name: String,
    raw: Value,
    scaler: Option<i8>,
    value: Option<f64>,
    unit: Option<String>,
    text: Option<String>,
}

/// A span's typed description, with its fields and details as the JSON output has them.
#[derive(Debug)]
struct SpanReport {
    typed: SpanDetail,
    fields: Vec<FieldReport>,
    details: Value,
}

impl std::ops::Deref for SpanReport {
    type Target = SpanDetail;
    fn deref(&self) -> &SpanDetail {
        &self.typed
    }
}

impl SpanReport {
    fn error(&self) -> Option<&str> {
        self.typed.error.as_ref().map(|e| e.message.as_str())
    }
}

fn decode_all(bytes: &[u8], decoder: &mut Decoder) -> Vec<SpanReport> {
    kamscope::wire::detail::decode_all(bytes, decoder)
        .into_iter()
        .map(|typed| {
            let json = serde_json::to_value(&typed).unwrap();
            SpanReport {
                fields: serde_json::from_value(json["fields"].clone()).unwrap(),
                details: json.get("details").cloned().unwrap_or(Value::Null),
                typed,
            }
        })
        .collect()
}

fn load(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if name.ends_with(".hex") {
        parse_hex(std::str::from_utf8(&bytes).unwrap()).unwrap()
    } else {
        bytes
    }
}

fn decode(name: &str) -> Vec<SpanReport> {
    decode_all(&load(name), &mut Decoder::default())
}

/// The single good frame of a fixture.
fn frame(name: &str) -> SpanReport {
    let spans = decode(name);
    assert_eq!(spans.len(), 1, "{name}: {spans:#?}");
    let s = spans.into_iter().next().unwrap();
    assert!(s.ok, "{name}: {:?}", s.checks);
    assert_eq!(s.error(), None, "{name}");
    s
}

fn field<'a>(s: &'a SpanReport, obis: &str) -> &'a FieldReport {
    s.fields
        .iter()
        .find(|f| f.obis.as_deref() == Some(obis))
        .unwrap_or_else(|| panic!("no {obis} in {:#?}", s.fields))
}

fn raw(s: &SpanReport, obis: &str) -> i64 {
    field(s, obis).raw.as_i64().unwrap()
}

fn value(s: &SpanReport, obis: &str) -> f64 {
    field(s, obis).value.unwrap()
}

/// Kamstrup list 1 registers: P14, P23, Q12, Q34, IL1-3 (raw), UL1-3.
#[allow(clippy::too_many_arguments)]
fn assert_list1(s: &SpanReport, p: [i64; 4], il: [i64; 3], ul: [i64; 3]) {
    let codes = [
        "1.1.1.7.0.255",
        "1.1.2.7.0.255",
        "1.1.3.7.0.255",
        "1.1.4.7.0.255",
    ];
    for (c, v) in codes.iter().zip(p) {
        if v >= 0 {
            assert_eq!(raw(s, c), v, "{c}");
        }
    }
    for (c, v) in ["1.1.31.7.0.255", "1.1.51.7.0.255", "1.1.71.7.0.255"]
        .iter()
        .zip(il)
    {
        assert_eq!(raw(s, c), v, "{c}");
        assert_eq!(field(s, c).scaler, Some(-2));
        assert_eq!(field(s, c).unit.as_deref(), Some("A"));
    }
    for (c, v) in ["1.1.32.7.0.255", "1.1.52.7.0.255", "1.1.72.7.0.255"]
        .iter()
        .zip(ul)
    {
        assert_eq!(raw(s, c), v, "{c}");
        assert_eq!(value(s, c), v as f64);
    }
}

#[test]
fn doc_example_1_list1() {
    let s = frame("han/kamstrup-doc-ex1-list1-3p.hex");
    assert_eq!(s.fields.len(), 13);
    assert_eq!(s.list, Some("list1"));
    assert_eq!(field(&s, "1.1.0.2.129.255").raw, "Kamstrup_V0001");
    assert_eq!(s.meter_id.as_deref(), Some("5706567000000000"));
    assert_eq!(s.meter_type.as_deref(), Some("000000000000000000"));
    assert_eq!(s.time.as_deref(), Some("2000-01-01T22:33:00"));
    let h = &s.details["header_time"];
    assert_eq!(h["deviation"], serde_json::Value::Null);
    assert_eq!(h["status"], "0x01");
    assert_eq!(h["status_flags"][0], "invalid value");
    assert_list1(&s, [0; 4], [0; 3], [0; 3]);
}

#[test]
fn doc_example_2_list2() {
    let s = frame("han/kamstrup-doc-ex2-list2-3p.hex");
    assert_eq!(s.list, Some("list2"));
    assert_eq!(s.fields.len(), 18);
    let rtc = field(&s, "0.1.1.0.0.255");
    assert!(
        rtc.text
            .as_deref()
            .unwrap()
            .starts_with("2017-08-16T16:00:05")
    );
    for c in [
        "1.1.1.8.0.255",
        "1.1.2.8.0.255",
        "1.1.3.8.0.255",
        "1.1.4.8.0.255",
    ] {
        assert_eq!(raw(&s, c), 0);
        assert_eq!(field(&s, c).scaler, Some(1));
    }
}

#[test]
fn doc_example_3_one_phase_omitted() {
    let s = frame("han/kamstrup-doc-ex3-list2-1p-omitted.hex");
    assert_eq!(s.list, Some("list2"));
    let codes: Vec<_> = s.fields.iter().map(|f| f.obis.clone().unwrap()).collect();
    assert_eq!(
        codes,
        [
            "1.1.0.2.129.255",
            "1.1.0.0.5.255",
            "1.1.96.1.1.255",
            "1.1.1.7.0.255",
            "1.1.31.7.0.255",
            "1.1.32.7.0.255",
            "0.1.1.0.0.255",
            "1.1.1.8.0.255"
        ]
    );
}

#[test]
fn norway_2022() {
    let s = frame("han/kamstrup-no-list1-3p-2022.hex");
    assert_eq!(s.time.as_deref(), Some("2022-01-24T18:58:50"));
    assert_eq!(s.meter_id.as_deref(), Some("5706567326590407"));
    assert_eq!(s.meter_type.as_deref(), Some("6841138BN245101090"));
    assert_list1(&s, [826, 0, 104, 176], [237, 89, 75], [232, 233, 236]);
    assert_eq!(value(&s, "1.1.31.7.0.255"), 2.37);
    assert_eq!(s.details["meter_kind"], "3-phase direct");
}

#[test]
fn one_phase_null_placeholders() {
    let s = frame("han/kamstrup-list1-1p-nulls.hex");
    assert_eq!(s.time.as_deref(), Some("2022-02-05T13:00:10"));
    assert_eq!(s.meter_id.as_deref(), Some("5706567271533207"));
    assert_eq!(s.meter_type.as_deref(), Some("6861111BN242101040"));
    assert_eq!(raw(&s, "1.1.1.7.0.255"), 616);
    assert_eq!(raw(&s, "1.1.3.7.0.255"), 83);
    assert_eq!(value(&s, "1.1.31.7.0.255"), 2.90);
    assert_eq!(raw(&s, "1.1.32.7.0.255"), 226);
    assert_eq!(
        s.details["null_placeholders"], 8,
        "IL2, IL3, UL2, UL3 pairs as 00 00"
    );
    assert_eq!(s.details["meter_kind"], "1-phase direct");
    assert!(
        s.fields
            .iter()
            .all(|f| !f.obis.as_deref().unwrap().contains(".51."))
    );

    let s = frame("han/kamstrup-list2-1p-nulls.hex");
    assert_eq!(s.list, Some("list2"));
    assert_eq!(s.time.as_deref(), Some("2022-02-05T13:00:25"));
    assert_eq!(raw(&s, "1.1.1.7.0.255"), 619);
    assert_eq!(raw(&s, "1.1.3.7.0.255"), 84);
    assert_eq!(value(&s, "1.1.31.7.0.255"), 2.93);
    assert_eq!(raw(&s, "1.1.32.7.0.255"), 225);
    assert_eq!(raw(&s, "1.1.1.8.0.255"), 1232787);
    assert_eq!(value(&s, "1.1.1.8.0.255"), 12327870.0);
    assert_eq!(raw(&s, "1.1.2.8.0.255"), 0);
    assert_eq!(raw(&s, "1.1.3.8.0.255"), 36046);
    assert_eq!(raw(&s, "1.1.4.8.0.255"), 386308);
}

#[test]
fn other_norwegian_swedish_danish_frames() {
    let s = frame("han/kamstrup-no-list1-3p-2021.hex");
    assert_eq!(s.time.as_deref(), Some("2021-11-25T23:01:00"));
    assert_list1(&s, [1225, -1, -1, -1], [180, 327, 129], [236, 236, 236]);

    let s = frame("han/kamstrup-se-list1-3p.hex");
    assert_eq!(s.time.as_deref(), Some("2022-02-17T22:33:50"));
    assert_eq!(s.meter_id.as_deref(), Some("5706567331323526"));
    assert_list1(&s, [3503, -1, 1562, -1], [581, 560, 446], [243, 242, 243]);

    let s = frame("han/kamstrup-no-list1-3p-2024.hex");
    assert_eq!(s.time.as_deref(), Some("2024-10-30T17:32:00"));
    assert_list1(&s, [3825, -1, -1, -1], [106, 995, 601], [242, 240, 242]);

    let s = frame("han/kamstrup-no-list1-3p-dst-status.hex");
    assert_eq!(s.time.as_deref(), Some("2021-06-14T17:37:30"));
    assert_eq!(s.details["header_time"]["status"], "0x80");
    assert_eq!(
        s.details["header_time"]["status_flags"][0],
        "daylight saving active"
    );
    assert_list1(&s, [1202, -1, 32, 223], [142, 415, 73], [236, 237, 240]);

    let s = frame("han/kamstrup-no-list1-3p-2018.hex");
    assert_eq!(s.time.as_deref(), Some("2018-03-04T20:52:00"));
    assert_list1(&s, [3815, -1, -1, 191], [1369, 492, 1300], [225, 221, 222]);

    let s = frame("han/kamstrup-no-list1-3p-2020.hex");
    assert_eq!(s.time.as_deref(), Some("2020-04-26T08:20:00"));
    assert_list1(&s, [4596, -1, 320, -1], [1832, 1491, 528], [228, 230, 233]);

    let s = frame("han/kamstrup-dk-list1-3p.hex");
    assert_eq!(s.time.as_deref(), Some("2024-03-01T12:37:20"));
    assert_list1(&s, [21, -1, -1, -1], [79, 48, 123], [226, 221, 226]);
}

#[test]
fn norway_list2_exact_hour() {
    let s = frame("han/kamstrup-no-list2-3p.hex");
    assert_eq!(s.list, Some("list2"));
    assert_eq!(s.time.as_deref(), Some("2022-11-26T15:00:05"));
    assert_list1(&s, [2690, -1, -1, -1], [284, 896, 1021], [238, 239, 240]);
    assert_eq!(raw(&s, "1.1.1.8.0.255"), 15523251);
    assert_eq!(value(&s, "1.1.1.8.0.255"), 155232510.0);
}

#[test]
fn swedish_energy_scaler_override() {
    let mut decoder = Decoder::new(
        Scaling {
            energy_scaler: 0,
            current_scaler: None,
        },
        None,
    );
    let spans = decode_all(&load("han/kamstrup-no-list2-3p.hex"), &mut decoder);
    assert_eq!(value(&spans[0], "1.1.1.8.0.255"), 15523251.0);
    assert_eq!(field(&spans[0], "1.1.1.8.0.255").scaler, Some(0));
}

#[test]
fn ct_meter_current_scaler() {
    // A 685 (CT) meter type switches currents to 0.001 A: rebuild the 2022 frame with that type.
    use kamscope::protocol::{Framer, hdlc};
    let mut bytes = load("han/kamstrup-no-list1-3p-2022.hex");
    let type_at = bytes.windows(4).position(|w| w == b"6841").unwrap();
    bytes[type_at + 2] = b'5';
    let mut framer = Framer::default();
    framer.push(&bytes);
    framer.finish();
    let span = framer.next_span().unwrap();
    let kamscope::protocol::Content::Hdlc(f) = &span.content else {
        panic!()
    };
    let info = span.bytes[f.info.clone()].to_vec();
    let mut rebuilt = Vec::new();
    hdlc::encode(&[0x2B], &[0x21], 0x13, &info, false, &mut rebuilt).unwrap();
    let s = decode_all(&rebuilt, &mut Decoder::default()).remove(0);
    assert!(s.ok);
    assert_eq!(s.details["meter_kind"], "3-phase CT meter");
    assert_eq!(field(&s, "1.1.31.7.0.255").scaler, Some(-3));
    assert_eq!(value(&s, "1.1.31.7.0.255"), 0.237);
}

#[test]
fn danish_encrypted_header_and_decryption() {
    let s = frame("han/kamstrup-dk-encrypted-glo.hex");
    let c = &s.details["cipher"];
    assert_eq!(c["security_control"], "0x30");
    assert_eq!(c["invocation_counter"], 0x010F60A4);
    assert_eq!(c["manufacturer"], "KAM");
    assert_eq!(c["tag"].as_str().unwrap().len(), 24);
    assert!(s.fields.is_empty());

    let keys = Keys {
        encryption: *b"\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xAA\xBB\xCC\xDD\xEE\xFF",
        authentication: Some(*b"\xFF\xEE\xDD\xCC\xBB\xAA\x99\x88\x77\x66\x55\x44\x33\x22\x11\x00"),
    };
    let mut decoder = Decoder::new(Scaling::default(), Some(keys.clone()));
    let s = decode_all(&load("han/kamstrup-dk-encrypted-glo.hex"), &mut decoder).remove(0);
    assert_eq!(s.error(), None);
    assert_eq!(s.details["cipher"]["decrypted"], true);
    assert_eq!(s.time.as_deref(), Some("2026-03-12T15:24:30"));
    assert_eq!(s.fields.len(), 33, "65 elements: version + 32 pairs");
    assert_eq!(raw(&s, "1.1.1.8.0.255"), 6307498);
    assert_eq!(raw(&s, "1.1.3.8.0.255"), 326360);
    assert_eq!(raw(&s, "1.1.4.8.0.255"), 2124057);
    assert_eq!(raw(&s, "1.1.0.0.1.255"), 12343400);
    assert_eq!(raw(&s, "1.1.1.7.0.255"), 1083);
    assert_eq!(
        [
            raw(&s, "1.1.32.7.0.255"),
            raw(&s, "1.1.52.7.0.255"),
            raw(&s, "1.1.72.7.0.255")
        ],
        [222, 221, 227]
    );

    // A wrong key is an error that says so, not garbage values.
    let mut wrong = keys;
    wrong.encryption[0] ^= 1;
    let mut decoder = Decoder::new(Scaling::default(), Some(wrong));
    let s = decode_all(&load("han/kamstrup-dk-encrypted-glo.hex"), &mut decoder).remove(0);
    assert!(s.error().unwrap().contains("wrong key"));
    assert!(s.fields.is_empty());
}

#[test]
fn aidon_frames() {
    let s = frame("han/aidon-list-1p.hex");
    assert_eq!(s.time, None, "no header date-time");
    assert_eq!(raw(&s, "1.0.1.7.0.255"), 1362);
    assert_eq!(raw(&s, "1.0.3.7.0.255"), 996);
    assert_eq!(value(&s, "1.0.31.7.0.255"), 9.3);
    assert_eq!(value(&s, "1.0.32.7.0.255"), 250.0);
    assert_eq!(field(&s, "1.0.32.7.0.255").unit.as_deref(), Some("V"));

    let s = frame("han/aidon-no-hourly.hex");
    assert_eq!(raw(&s, "1.0.1.7.0.255"), 4027);
    let u: Vec<f64> = ["1.0.32.7.0.255", "1.0.52.7.0.255", "1.0.72.7.0.255"]
        .iter()
        .map(|c| value(&s, c))
        .collect();
    assert_eq!(u, [233.0, 233.4, 231.1]);
    let i: Vec<f64> = ["1.0.31.7.0.255", "1.0.51.7.0.255", "1.0.71.7.0.255"]
        .iter()
        .map(|c| value(&s, c))
        .collect();
    assert_eq!(i, [0.5, 0.3, 16.8]);
    assert_eq!(raw(&s, "1.0.1.8.0.255"), 10955225);
    assert_eq!(value(&s, "1.0.1.8.0.255"), 109552250.0);

    let s = frame("han/aidon-se-3p.hex");
    assert_eq!(s.time.as_deref(), Some("2019-12-16T07:59:40"));
    assert_eq!(raw(&s, "1.0.1.7.0.255"), 1122);
    assert_eq!(raw(&s, "1.0.3.7.0.255"), 1507);
}

#[test]
fn kaifa_frames() {
    let s = frame("han/kaifa-list1.hex");
    assert_eq!(s.time.as_deref(), Some("2022-01-02T14:37:18"));
    assert_eq!(s.details["header_time_form"], "09 0C + 12 bytes");
    assert_eq!(s.fields.len(), 1);
    assert_eq!(s.fields[0].raw, 4117);

    let s = frame("han/kaifa-list2-no-obis.hex");
    assert!(
        s.fields.iter().all(|f| f.obis.is_none()),
        "no OBIS codes are sent"
    );
    let raws: Vec<_> = s.fields.iter().take(4).map(|f| f.raw.clone()).collect();
    assert_eq!(
        raws,
        [
            serde_json::json!("KFM_001"),
            serde_json::json!("6970631403275928"),
            serde_json::json!("MA304H3E"),
            serde_json::json!(4097)
        ]
    );
    assert_eq!(s.meter_id.as_deref(), Some("6970631403275928"));
    assert_eq!(s.meter_type.as_deref(), Some("MA304H3E"));
}

#[test]
fn bad_fcs_is_flagged_and_decoded_unverified() {
    let spans = decode("han/bad-fcs.hex");
    assert_eq!(spans.len(), 1);
    let s = &spans[0];
    assert!(!s.ok);
    let fcs = s.checks.iter().find(|c| c.name == "FCS").unwrap();
    assert!(!fcs.ok);
    assert!(s.checks.iter().find(|c| c.name == "HCS").unwrap().ok);
    assert!(s.error().unwrap().contains("FCS failed"));
    // Decoded best-effort: every field there, every one marked unverified, and so is the span.
    assert_eq!(s.kind.as_deref(), Some("hdlc-frame"));
    assert!(s.unverified);
    assert_eq!(raw(s, "1.1.1.7.0.255"), 1202);
    assert!(s.typed.fields.iter().all(|f| f.unverified));
    let json = serde_json::to_value(&s.typed).unwrap();
    assert_eq!(json["unverified"], true);
    assert!(
        json["fields"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["unverified"] == true)
    );
}

#[test]
fn truncated_frame_is_incomplete() {
    let spans = decode("han/truncated.hex");
    assert_eq!(spans.len(), 1);
    let s = &spans[0];
    assert_eq!((s.protocol, s.len, s.ok), ("hdlc", 125, false));
    let len = s.checks.iter().find(|c| c.name == "length").unwrap();
    assert_eq!(
        (len.expected.to_string(), len.actual.to_string()),
        ("228".into(), "125".into())
    );
}

#[test]
fn junk_after_frame() {
    let spans = decode("han/junk-after-frame.hex");
    assert_eq!(spans.len(), 2);
    assert!(spans[0].ok);
    assert_eq!(
        (spans[1].protocol, spans[1].offset, spans[1].len),
        ("junk", 228, 4)
    );
    assert_eq!(spans[1].hex, "29121314");
}

#[test]
fn iec_351_seed_readout_xor_bcc() {
    let spans = decode("iec61107/kamstrup-351-seed-example.bin");
    assert_eq!(spans.len(), 2);
    assert_eq!(spans[0].kind.as_deref(), Some("identification"));
    let s = &spans[1];
    assert!(s.ok);
    assert_eq!(s.ident.as_deref(), Some("685351A300100"));
    let bcc = s.checks.iter().find(|c| c.name == "BCC").unwrap();
    assert_eq!(
        (bcc.ok, bcc.rule, bcc.actual.to_string()),
        (true, Some("xor"), "0x37".into())
    );
    assert_eq!(s.fields.len(), 17);
    let e = field(s, "1.8.0");
    assert_eq!(
        (e.raw.as_str(), e.value, e.unit.as_deref()),
        (Some("0012658"), Some(12658.0), Some("kWh"))
    );
    assert_eq!(e.name, "Active energy");
    assert_eq!(field(s, "1.6.0").value, Some(23.4));
    assert_eq!(field(s, "0.2.0").value, None);
    assert_eq!(field(s, "0.2.0").raw, "5000D1");
    assert_eq!(field(s, "0.1").name, "Reset counter");
}

#[test]
fn iec_685_382_additive_bcc() {
    let spans = decode("iec61107/kamstrup-685-382-additive-bcc.bin");
    let s = &spans[1];
    assert!(s.ok);
    assert_eq!(s.ident.as_deref(), Some("685-382-OK-10"));
    let bcc = s.checks.iter().find(|c| c.name == "BCC").unwrap();
    assert_eq!(
        (bcc.ok, bcc.rule, bcc.actual.to_string()),
        (true, Some("additive"), "0x6A".into())
    );
    assert_eq!(field(s, "1.20").value, Some(9032.0));
    assert_eq!(field(s, "1.20").name, "Energy register");
    assert_eq!(field(s, "1.6").value, Some(1.5));
    assert_eq!(field(s, "1.6*1").value, Some(2.8));
    assert_eq!(field(s, "1.6*1").name, "Last month's peak power");
}

#[test]
fn iec_bad_bcc_and_cut_off_block() {
    let mut bytes = load("iec61107/kamstrup-351-seed-example.bin");
    *bytes.last_mut().unwrap() = b'8';
    let spans = decode_all(&bytes, &mut Decoder::default());
    assert!(!spans[1].ok);
    assert_eq!(spans[1].fields.len(), 17, "data kept when the BCC is bad");

    // The 685-382 sends the additive sum: its failure is judged by that rule, and named.
    let mut bytes = load("iec61107/kamstrup-685-382-additive-bcc.bin");
    *bytes.last_mut().unwrap() = 0x01;
    let spans = decode_all(&bytes, &mut Decoder::default());
    let bcc = spans[1].checks.iter().find(|c| c.name == "BCC").unwrap();
    assert_eq!(
        (bcc.ok, bcc.rule, bcc.expected.to_string()),
        (false, Some("additive"), "0x6A".into())
    );
    // A block that breaks off keeps the rule of its (missing) BCC too.
    let spans = decode_all(&bytes[..60], &mut Decoder::default());
    let bcc = spans[1].checks.iter().find(|c| c.name == "BCC").unwrap();
    assert_eq!((bcc.ok, bcc.rule), (false, Some("additive")));

    let bytes = load("iec61107/kamstrup-351-seed-example.bin");
    let cut = &bytes[..200];
    let spans = decode_all(cut, &mut Decoder::default());
    let s = spans.last().unwrap();
    assert_eq!(s.protocol, "iec61107");
    assert!(!s.ok);
    assert!(
        s.error().unwrap().contains("broke at byte"),
        "{:?}",
        s.error
    );
    assert!(s.fields.len() >= 8);
}

#[test]
fn iec_echoed_request_before_answer() {
    let mut bytes = b"/?!\r\n".to_vec();
    bytes.extend(load("iec61107/kamstrup-351-seed-example.bin"));
    let spans = decode_all(&bytes, &mut Decoder::default());
    assert_eq!(spans.len(), 3);
    assert_eq!(spans[0].kind.as_deref(), Some("request"));
    assert!(spans[2].ok);
    assert_eq!(spans[2].ident.as_deref(), Some("685351A300100"));
}

#[test]
fn kmp_ascii_hex_frames() {
    let spans = decode("kmp/kmp-685-382-ascii-hex.bin");
    assert_eq!(spans.len(), 8);
    assert!(
        spans.iter().all(|s| s.ok && s.protocol == "kmp"),
        "{spans:#?}"
    );
    let fetch3 = &spans[6];
    assert_eq!(fetch3.kind.as_deref(), Some("ascii-hex response"));
    assert_eq!(fetch3.details["kmp"]["command"], "0x90");
    assert_eq!(fetch3.details["kmp"]["command_name"], "counters");
    assert_eq!(fetch3.fields[0].name, "Total energy");
    assert_eq!(fetch3.fields[0].value, Some(9032.0));
    assert_eq!(fetch3.fields[0].unit.as_deref(), Some("kWh"));
    let fetch4 = &spans[7];
    let tariff: Vec<_> = fetch4.fields[1..]
        .iter()
        .map(|f| (f.value.unwrap(), f.unit.as_deref().unwrap()))
        .collect();
    assert_eq!(tariff, [(9032.0, "kWh"), (9031.0, "kWh"), (1.0, "kWh")]);

    let mut bad = load("kmp/kmp-685-382-ascii-hex.bin");
    bad[3] = b'1'; // hello request: FE 00 -> FE 10, LRC no longer matches
    let spans = decode_all(&bad, &mut Decoder::default());
    assert!(!spans[0].ok);
    assert!(!spans[0].checks.iter().find(|c| c.name == "LRC").unwrap().ok);
}

#[test]
fn mbus_rsp_ud() {
    let s = frame("mbus/kamstrup-382-rsp-ud.hex");
    let m = &s.details["mbus"];
    assert_eq!(m["control"], "0x08");
    assert_eq!(m["address"], 0x78);
    assert_eq!(m["ci"], "0x72");
    assert_eq!(m["id"], "14839120");
    assert_eq!(m["manufacturer"], "KAM");
    assert_eq!(m["version"], 1);
    assert_eq!(m["medium"], "0x02");
    assert_eq!(m["access_no"], 4);
    let cs = s.checks.iter().find(|c| c.name == "CS").unwrap();
    assert_eq!(cs.actual.to_string(), "0x24");

    let mut bad = load("mbus/kamstrup-382-rsp-ud.hex");
    let n = bad.len();
    bad[n - 2] ^= 0x01;
    let spans = decode_all(&bad, &mut Decoder::default());
    assert!(!spans[0].ok);
}

#[test]
fn all_han_fixtures_concatenated_in_one_stream() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/han");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    let mut stream = Vec::new();
    let mut expected_good = 0;
    for name in &names {
        if !["bad-fcs.hex", "truncated.hex"].contains(&name.as_str()) {
            expected_good += 1;
        }
        if name == "truncated.hex" {
            continue; // a truncated frame mid-stream is covered by the property tests
        }
        stream.extend(load(&format!("han/{name}")));
    }
    let spans = decode_all(&stream, &mut Decoder::default());
    let good = spans.iter().filter(|s| s.ok).count();
    assert_eq!(
        good,
        expected_good,
        "{:#?}",
        spans
            .iter()
            .map(|s| (s.offset, s.len, s.ok))
            .collect::<Vec<_>>()
    );
    assert_eq!(spans.iter().map(|s| s.len).sum::<usize>(), stream.len());
}
