//! Issue 12, item 4: the Inspector keeps old spans as their bytes and what the list shows, and
//! rebuilds the rest when one is selected. What it shows of a span when it arrives (kept whole) must
//! be what it shows of it once compacted, for every fixture, damaged frames, segments, encrypted
//! pushes and optical echoes; and the demo's pushes, good or damaged, must keep only their bytes.

mod common;

use chrono::{DateTime, TimeDelta, Utc};
use kamscope::app::inspector::InspectorState;
use kamscope::link::sim::{MeterProfile, SimMeter};
use kamscope::protocol::dlms::Keys;
use kamscope::protocol::han::Scaling;
use kamscope::protocol::{Content, Decoder, Framer, Protocol, Protocols, hdlc};
use kamscope::wire::hex::parse as parse_hex;
use kamscope::wire::{Chunk, Direction, Link, Pipeline, SpanRecord};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> Vec<u8> {
    let raw = std::fs::read(path).unwrap();
    if path.extension().is_some_and(|e| e == "hex") {
        parse_hex(&String::from_utf8(raw).unwrap()).unwrap()
    } else {
        raw
    }
}

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_730_305_920, 0).unwrap()
}

/// The spans of `chunks` (direction, bytes; a second apart) on `link`, as the reader tasks
/// deliver them, the line going quiet after each chunk.
fn spans(link: Link, decoder: Decoder, chunks: &[(Direction, Vec<u8>)]) -> Vec<SpanRecord> {
    let protocols = match link {
        Link::Han => Protocols::HAN,
        Link::Optical => Protocols::OPTICAL,
    };
    let mut pipeline = Pipeline::new(link, protocols, decoder, None);
    let mut out = Vec::new();
    for (i, (dir, bytes)) in chunks.iter().enumerate() {
        let at = t0() + TimeDelta::seconds(i as i64);
        let chunk = Chunk {
            t: at,
            link,
            dir: *dir,
            bytes: bytes.clone(),
        };
        out.extend(pipeline.records_of(&chunk).0);
        out.extend(pipeline.flush_records(at + TimeDelta::milliseconds(600)));
    }
    out
}

/// What the detail pane shows of the selected span: its description and byte map.
fn shown(ins: &InspectorState) -> String {
    let d = ins.detail.as_ref().expect("a span is selected");
    format!(
        "{}\n{:?}",
        serde_json::to_string(&d.detail).unwrap(),
        d.regions
    )
}

/// Pushes `records` into an Inspector, noting what it shows of each as it arrives, then selects
/// each again once the later ones have compacted it: both must agree. Returns the Inspector.
fn shows_the_same_later(
    name: &str,
    records: Vec<SpanRecord>,
    keys: Option<&Keys>,
) -> InspectorState {
    let scaling = Scaling::default();
    let mut ins = InspectorState::default();
    let mut on_arrival = Vec::new();
    for r in records {
        ins.push(r);
        ins.refresh(scaling, keys, false);
        on_arrival.push(shown(&ins));
    }
    ins.follow = false;
    for (i, first) in on_arrival.iter().enumerate() {
        ins.selected = i;
        ins.refresh(scaling, keys, false);
        assert_eq!(
            &shown(&ins),
            first,
            "{name}: span {i} shows otherwise later"
        );
    }
    ins
}

#[test]
fn every_fixture_shows_the_same_once_compacted() {
    let mut checked = 0;
    for (dir, link) in [
        ("tests/fixtures/han", Link::Han),
        ("tests/fixtures/p1", Link::Han),
        ("tests/fixtures/iec61107", Link::Optical),
        ("tests/fixtures/kmp", Link::Optical),
        ("tests/fixtures/mbus", Link::Optical),
    ] {
        let files = common::fixture_files(dir);
        // Each fixture twice in a row: the first is compacted once the second arrives.
        let chunks: Vec<(Direction, Vec<u8>)> = files
            .iter()
            .flat_map(|p| [read(p), read(p)])
            .map(|b| (Direction::Rx, b))
            .collect();
        checked += chunks.len();
        shows_the_same_later(dir, spans(link, Decoder::default(), &chunks), None);
    }
    assert!(checked > 40, "{checked} fixtures read");
}

#[test]
fn damaged_frames_show_the_same_once_compacted() {
    let mixed = read(&root().join("tests/fixtures/reference/mixed-damaged.bin"));
    // In pieces, as a line delivers them.
    let chunks: Vec<(Direction, Vec<u8>)> = mixed
        .chunks(97)
        .map(|c| (Direction::Rx, c.to_vec()))
        .collect();
    let records = spans(Link::Han, Decoder::default(), &chunks);
    assert!(records.iter().filter(|r| !r.ok()).count() > 20);
    shows_the_same_later("mixed-damaged", records, None);
}

#[test]
fn an_encrypted_push_shows_the_same_once_compacted_with_and_without_keys() {
    let frame = read(&root().join("tests/fixtures/han/kamstrup-dk-encrypted-glo.hex"));
    let key = |s: &str| <[u8; 16]>::try_from(parse_hex(s).unwrap()).unwrap();
    let chunks = vec![(Direction::Rx, frame.clone()), (Direction::Rx, frame)];
    for keys in [
        None,
        Some(Keys {
            encryption: key("00112233445566778899AABBCCDDEEFF"),
            authentication: Some(key("FFEEDDCCBBAA99887766554433221100")),
        }),
        Some(Keys {
            encryption: key("00112233445566778899AABBCCDDEEFF"),
            authentication: None,
        }),
    ] {
        let decoder = Decoder::new(Scaling::default(), keys.clone());
        shows_the_same_later(
            "encrypted",
            spans(Link::Han, decoder, &chunks),
            keys.as_ref(),
        );
    }
}

#[test]
fn a_segmented_message_shows_the_same_once_compacted() {
    let whole = read(&root().join("tests/fixtures/han/kamstrup-no-list2-3p.hex"));
    let mut framer = Framer::new(Protocols::HDLC);
    framer.push(&whole);
    framer.finish();
    let span = framer.next_span().unwrap();
    let Content::Hdlc(frame) = &span.content else {
        panic!("an HDLC frame")
    };
    let info = whole[frame.info.clone()].to_vec();
    let mut first = Vec::new();
    let mut second = Vec::new();
    hdlc::encode(&[0x2B], &[0x21], 0x13, &info[..60], true, &mut first).unwrap();
    hdlc::encode(&[0x2B], &[0x21], 0x13, &info[60..], false, &mut second).unwrap();
    let chunks = vec![
        (Direction::Rx, first.clone()),
        (Direction::Rx, second.clone()),
        (Direction::Rx, first),
        (Direction::Rx, second),
        (Direction::Rx, whole),
    ];
    let records = spans(Link::Han, Decoder::default(), &chunks);
    assert_eq!(records.len(), 5);
    let ins = shows_the_same_later("segments", records, None);
    // The last segment's message was joined from the one before: it keeps its decoded message.
    assert!(!ins.spans[1].compacted());
    assert!(ins.spans[3].protocol == Protocol::Hdlc && !ins.spans[3].compacted());
}

#[test]
fn an_optical_readout_with_its_echo_shows_the_same_once_compacted() {
    let readout = read(&root().join("tests/fixtures/iec61107/kamstrup-351-seed-example.bin"));
    let request = b"/?!\r\n".to_vec();
    let chunks = vec![
        (Direction::Tx, request.clone()),
        (Direction::Rx, request.clone()),
        (Direction::Rx, readout.clone()),
        (Direction::Tx, request.clone()),
        (Direction::Rx, request),
        (Direction::Rx, readout),
    ];
    let records = spans(Link::Optical, Decoder::default(), &chunks);
    let ins = shows_the_same_later("optical", records, None);
    let echoes: Vec<bool> = ins.spans.iter().map(|s| s.echo).collect();
    assert!(echoes.iter().filter(|e| **e).count() >= 2, "{echoes:?}");
}

#[test]
fn the_demo_pushes_good_or_damaged_keep_only_their_bytes() {
    let mut meter = SimMeter::new(MeterProfile::ThreePhase, true, 7);
    let start = t0().timestamp();
    let chunks: Vec<(Direction, Vec<u8>)> = (start..start + 6 * 3600)
        .filter_map(|t| {
            let local = DateTime::from_timestamp(t, 0).unwrap().naive_utc();
            meter.push_at(t, local).map(|b| (Direction::Rx, b))
        })
        .collect();
    let records = spans(Link::Han, Decoder::default(), &chunks);
    let bad = records.iter().filter(|r| !r.ok()).count();
    assert!(bad > 20, "{bad} damaged spans among {}", records.len());
    let ins = shows_the_same_later("demo", records, None);
    let (newest, older) = ins
        .spans
        .iter()
        .partition::<Vec<_>, _>(|s| std::ptr::eq(*s, ins.spans.back().unwrap()));
    assert!(!newest[0].compacted(), "the newest span is kept whole");
    let whole = older.iter().filter(|s| !s.compacted()).count();
    assert_eq!(
        whole,
        0,
        "{whole} of {} older spans kept whole",
        older.len()
    );
}
