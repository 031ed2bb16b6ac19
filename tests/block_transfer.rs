//! DLMS general-block-transfer (tag E0): a push split into blocks across HDLC frames, as the
//! Landis+Gyr E450 sends it, is joined and decoded; continuation frames (no LLC header) are not
//! flagged; a damaged block abandons its message and the next one decodes; the joined size is
//! capped. Frames are built with the project's own encoders.

use kamscope::protocol::axdr::{Bytes, Data};
use kamscope::protocol::decoder::{Decoded, MAX_BLOCK_TRANSFER, span_ok};
use kamscope::protocol::dlms::{self, DataNotification, HeaderTime};
use kamscope::protocol::han::HanMessage;
use kamscope::protocol::{Decoder, Framer, hdlc};

const DEST: [u8; 1] = [0x41];
const SRC: [u8; 2] = [0x08, 0x83];
const LLC: [u8; 3] = [0xE6, 0xE7, 0x00];

fn obis(a: u8, b: u8, c: u8, d: u8, e: u8) -> Data {
    Data::OctetString(Bytes::from_slice(&[a, b, c, d, e, 255]))
}

/// A long list of OBIS/value pairs, its active power import `power` W.
fn list(power: u32) -> Data {
    let mut items = vec![
        obis(0, 0, 96, 1, 0),
        Data::VisibleString(Bytes::from_slice(b"LGZ1030655933512")),
        obis(0, 0, 96, 1, 7),
        Data::VisibleString(Bytes::from_slice(b"E450-LANDIS-GYR-TEST")),
        obis(1, 0, 1, 7, 0),
        Data::DoubleLongUnsigned(power),
        obis(1, 0, 2, 7, 0),
        Data::DoubleLongUnsigned(0),
    ];
    for c in [32, 52, 72] {
        items.push(obis(1, 0, c, 7, 0));
        items.push(Data::LongUnsigned(230));
    }
    for c in [1, 2, 3, 4] {
        items.push(obis(1, 0, c, 8, 0));
        items.push(Data::DoubleLongUnsigned(123_456 * u32::from(c)));
    }
    Data::Structure(items)
}

/// The DataNotification APDU of `list(power)`.
fn apdu(power: u32) -> Vec<u8> {
    let mut out = Vec::new();
    dlms::encode_data_notification(
        &DataNotification {
            invoke_id: 0x4000_0001,
            time: HeaderTime::Absent,
            body: list(power),
        },
        &mut out,
    );
    out
}

/// `message` split into blocks of `size` bytes, each block in its own HDLC frame; only the first
/// frame carries the LLC header. `last` marks the final block as the last one.
fn frames_of(message: &[u8], size: usize, last: bool, out: &mut Vec<u8>) -> usize {
    let chunks: Vec<&[u8]> = message.chunks(size).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        let is_last = last && i + 1 == chunks.len();
        let control = if is_last { 0x80 | 0x40 } else { 0x40 };
        let mut info = if i == 0 { LLC.to_vec() } else { Vec::new() };
        dlms::encode_block_transfer(control, i as u16 + 1, 0, chunk, &mut info);
        hdlc::encode(&DEST, &SRC, 0x13, &info, false, out).unwrap();
    }
    chunks.len()
}

#[derive(Debug, Clone, PartialEq)]
struct Seen {
    ok: bool,
    note: Option<String>,
    error: Option<String>,
    llc: Option<bool>,
    message: Option<HanMessage>,
}

/// Decodes `bytes` fed in chunks of `chunk` bytes.
fn decode(bytes: &[u8], chunk: usize) -> Vec<Seen> {
    let mut framer = Framer::default();
    let mut decoder = Decoder::default();
    let mut seen = Vec::new();
    let mut drain = |framer: &mut Framer| {
        while let Some(span) = framer.next_span() {
            let decoded = decoder.decode(&span);
            let ok = span_ok(&span.content, &decoded);
            if let Decoded::Hdlc(h) = decoded {
                seen.push(Seen {
                    ok,
                    note: h.note,
                    error: h.error.map(|e| e.message),
                    llc: h.llc.map(|c| c.ok),
                    message: h.message,
                });
            }
        }
    };
    for part in bytes.chunks(chunk) {
        framer.push(part);
        drain(&mut framer);
    }
    framer.finish();
    drain(&mut framer);
    seen
}

#[test]
fn blocks_are_joined_and_decoded() {
    let message = apdu(1234);
    assert!(message.len() > 150, "the list spans several blocks");
    let mut stream = Vec::new();
    let n = frames_of(&message, 60, true, &mut stream);
    assert!(n >= 3);
    let seen = decode(&stream, 4096);
    assert_eq!(seen.len(), n);
    for (i, s) in seen.iter().enumerate() {
        assert!(s.ok, "frame {i} is intact and not flagged: {s:?}");
        assert_eq!(s.error, None, "frame {i}");
        // The LLC check applies to the first frame only: continuations carry none.
        assert_eq!(s.llc, (i == 0).then_some(true), "frame {i}");
    }
    for s in &seen[..n - 1] {
        assert!(s.message.is_none());
        assert!(s.note.as_deref().unwrap().contains("waiting for the rest"));
    }
    let last = &seen[n - 1];
    let m = last.message.as_ref().expect("the joined APDU decodes");
    assert_eq!(m.value(1, 7), Some(1234.0));
    assert_eq!(m.value(32, 7), Some(230.0));
    assert_eq!(m.value(4, 8), Some(4.0 * 123_456.0));
    assert_eq!(m.meter_id().as_deref(), Some("LGZ1030655933512"));
    assert!(
        last.note
            .as_deref()
            .unwrap()
            .contains(&format!("{n} block(s)"))
    );
}

#[test]
fn chunking_does_not_matter() {
    let mut stream = Vec::new();
    frames_of(&apdu(1234), 50, true, &mut stream);
    frames_of(&apdu(777), 33, true, &mut stream);
    let whole = decode(&stream, stream.len());
    assert_eq!(whole.iter().filter(|s| s.message.is_some()).count(), 2);
    for chunk in [1, 2, 7, 64] {
        assert_eq!(decode(&stream, chunk), whole, "chunks of {chunk}");
    }
}

#[test]
fn a_damaged_block_abandons_its_message_and_the_next_decodes() {
    let mut first = Vec::new();
    let n = frames_of(&apdu(1234), 40, true, &mut first);
    assert!(n >= 4);
    // Damage a byte in the information field of the second frame (its FCS fails).
    let mut frame_starts = Vec::new();
    let mut at = 0;
    while at < first.len() {
        frame_starts.push(at);
        let len = (usize::from(first[at + 1] & 0x07) << 8) | usize::from(first[at + 2]);
        at += len + 2;
    }
    first[frame_starts[1] + 20] ^= 0x55;
    let mut stream = first;
    frames_of(&apdu(999), 40, true, &mut stream);
    let seen = decode(&stream, 4096);
    let messages: Vec<f64> = seen
        .iter()
        .filter_map(|s| s.message.as_ref()?.value(1, 7))
        .collect();
    assert_eq!(messages, [999.0], "only the intact message decodes");
    assert!(
        seen.iter()
            .any(|s| s.note.as_deref().is_some_and(|n| n.contains("abandoned"))),
        "the loss is said: {seen:#?}"
    );
    // The intact blocks after the damaged one are not errors: they say they were skipped.
    assert!(
        seen.iter()
            .any(|s| s.note.as_deref().is_some_and(|n| n.contains("were lost"))),
        "{seen:#?}"
    );
}

#[test]
fn a_block_out_of_order_abandons_the_message() {
    let message = apdu(1234);
    let mut stream = Vec::new();
    let chunks: Vec<&[u8]> = message.chunks(60).collect();
    for (i, number) in [1u16, 3, 2].into_iter().enumerate() {
        let control = if i == 2 { 0xC0 } else { 0x40 };
        let mut info = if i == 0 { LLC.to_vec() } else { Vec::new() };
        dlms::encode_block_transfer(control, number, 0, chunks[i], &mut info);
        hdlc::encode(&DEST, &SRC, 0x13, &info, false, &mut stream).unwrap();
    }
    let seen = decode(&stream, 4096);
    assert!(seen.iter().all(|s| s.message.is_none()));
    assert!(
        seen[1]
            .note
            .as_deref()
            .unwrap()
            .contains("block 3 arrived where block 2 was due")
    );
}

#[test]
fn the_joined_size_is_capped() {
    let filler = vec![0xAA; 1000];
    let blocks = MAX_BLOCK_TRANSFER / filler.len() + 2;
    let mut stream = Vec::new();
    for i in 0..blocks {
        let mut info = if i == 0 { LLC.to_vec() } else { Vec::new() };
        dlms::encode_block_transfer(0x40, i as u16 + 1, 0, &filler, &mut info);
        hdlc::encode(&DEST, &SRC, 0x13, &info, false, &mut stream).unwrap();
    }
    // Then a normal message, which still decodes.
    frames_of(&apdu(42), 100, true, &mut stream);
    let seen = decode(&stream, 4096);
    assert!(
        seen.iter().any(|s| s
            .note
            .as_deref()
            .is_some_and(|n| n.contains("would exceed 64 KiB"))),
        "the cap is said"
    );
    let last = seen.last().unwrap().message.as_ref().unwrap();
    assert_eq!(last.value(1, 7), Some(42.0));
}

#[test]
fn the_byte_map_names_the_block_header_without_errors() {
    use kamscope::protocol::region::{self, RegionKind};
    let mut stream = Vec::new();
    let n = frames_of(&apdu(1234), 60, true, &mut stream);
    let mut framer = Framer::default();
    framer.push(&stream);
    framer.finish();
    let mut decoder = Decoder::default();
    let mut frames = 0;
    while let Some(span) = framer.next_span() {
        let decoded = decoder.decode(&span);
        let regions = region::of_span(span.bytes, &span.content, &decoded);
        assert!(
            regions.iter().all(|r| r.kind != RegionKind::Error),
            "{regions:#?}"
        );
        assert!(
            regions
                .iter()
                .any(|r| r.label == format!("block number {}", frames + 1)),
            "{regions:#?}"
        );
        assert_eq!(
            regions.iter().any(|r| r.kind == RegionKind::Llc),
            frames == 0
        );
        frames += 1;
    }
    assert_eq!(frames, n);
}

proptest::proptest! {
    /// Any sequence of blocks (numbers, controls, data, with or without LLC) in intact frames
    /// decodes without panicking, and an in-order sequence ending in a last block always joins.
    #[test]
    fn arbitrary_blocks_never_panic(
        blocks in proptest::collection::vec(
            (proptest::bool::ANY, 0u8..=255, 0u16..6, proptest::collection::vec(0u8..=255, 0..300)),
            0..12,
        ),
    ) {
        let mut stream = Vec::new();
        for (llc, control, number, data) in &blocks {
            let mut info = if *llc { LLC.to_vec() } else { Vec::new() };
            dlms::encode_block_transfer(*control, *number, 0, data, &mut info);
            hdlc::encode(&DEST, &SRC, 0x13, &info, false, &mut stream).unwrap();
        }
        frames_of(&apdu(5), 37, true, &mut stream);
        let seen = decode(&stream, 17);
        let last = seen.last().unwrap();
        proptest::prop_assert_eq!(last.message.as_ref().and_then(|m| m.value(1, 7)), Some(5.0));
    }
}
