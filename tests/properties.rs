//! Property tests: encode -> decode round trips, chunking independence, recovery from junk and
//! damage with exact byte accounting, and no panics on arbitrary bytes.

mod common;

use kamscope::protocol::datetime::DateTime;
use kamscope::protocol::framer::Protocols;
use kamscope::protocol::han::{KamstrupList, MissingPhases};
use kamscope::protocol::iec61107::{self, BccRule, Line};
use kamscope::protocol::p1::{self, OutLine};
use kamscope::protocol::region;
use kamscope::protocol::{Decoder, Framer, Protocol, hdlc};
use kamscope::wire::SpanDetail;
use kamscope::wire::detail::{RawValue, decode_all};
use proptest::prelude::*;

fn arb_list() -> impl Strategy<Value = KamstrupList> {
    (
        (
            2000u16..2100,
            1u8..=12,
            1u8..=28,
            0u8..24,
            0u8..60,
            0u8..6,
            prop::sample::select(vec![0u8, 0x80, 0x01]),
        ),
        prop::array::uniform4(any::<u32>()),
        prop::array::uniform3(prop::option::weighted(0.9, 0u32..100_000)),
        prop::array::uniform3(prop::option::weighted(0.9, 0u16..300)),
        any::<bool>(),
        prop::option::of(prop::array::uniform4(any::<u32>())),
        "[0-9]{16}",
        prop::sample::select(vec![
            "6841138BN245101090",
            "6861111BN242101040",
            "6851131BN243101040",
        ]),
    )
        .prop_map(
            |(
                (y, mo, d, h, mi, s10, status),
                power,
                currents,
                voltages,
                nulls,
                energies,
                id,
                ty,
            )| {
                KamstrupList {
                    meter_id: id,
                    meter_type: ty.to_string(),
                    time: DateTime::new(y, mo, d, h, mi, s10 * 10, status),
                    power,
                    currents,
                    voltages,
                    missing_phases: if nulls {
                        MissingPhases::NullPlaceholders
                    } else {
                        MissingPhases::Omitted
                    },
                    energies,
                }
            },
        )
}

fn encode(list: &KamstrupList) -> Vec<u8> {
    let mut out = Vec::new();
    list.encode_frame(&mut out).unwrap();
    out
}

/// (offset, len, protocol, ok) of every span, feeding the input in the given chunk sizes.
fn spans_chunked(input: &[u8], chunks: &[usize]) -> Vec<(u64, usize, Protocol, bool)> {
    common::spans_in_chunks(kamscope::protocol::framer::Protocols::ALL, input, chunks)
}

fn assert_exact_accounting(spans: &[(u64, usize, Protocol, bool)], len: usize) {
    let mut at = 0u64;
    for s in spans {
        assert_eq!(s.0, at, "spans must be contiguous: {spans:?}");
        assert!(s.1 > 0);
        at += s.1 as u64;
    }
    assert_eq!(at, len as u64, "every byte in exactly one span");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn han_round_trip(list in arb_list()) {
        let bytes = encode(&list);
        let spans = decode_all(&bytes, &mut Decoder::default());
        prop_assert_eq!(spans.len(), 1);
        let s = &spans[0];
        prop_assert!(s.ok, "{:?}", s.checks);
        prop_assert_eq!(s.meter_id.as_deref(), Some(list.meter_id.as_str()));
        prop_assert_eq!(s.meter_type.as_deref(), Some(list.meter_type.as_str()));
        prop_assert_eq!(s.time.clone(), list.time.iso8601());
        prop_assert_eq!(s.list, Some(if list.energies.is_some() { "list2" } else { "list1" }));
        let raw = |c: &str| s.fields.iter().find(|f| f.obis.as_deref() == Some(c)).map(|f| match f.raw { RawValue::UInt(u) => u, ref other => panic!("{other:?}") });
        for (c, v) in [1, 2, 3, 4].iter().zip(list.power) {
            prop_assert_eq!(raw(&format!("1.1.{c}.7.0.255")), Some(u64::from(v)));
        }
        for (c, v) in [31, 51, 71].iter().zip(list.currents) {
            prop_assert_eq!(raw(&format!("1.1.{c}.7.0.255")), v.map(u64::from));
        }
        for (c, v) in [32, 52, 72].iter().zip(list.voltages) {
            prop_assert_eq!(raw(&format!("1.1.{c}.7.0.255")), v.map(u64::from));
        }
        if let Some(e) = list.energies {
            for (c, v) in [1, 2, 3, 4].iter().zip(e) {
                prop_assert_eq!(raw(&format!("1.1.{c}.8.0.255")), Some(u64::from(v)));
            }
        }
        let ct = list.meter_type.starts_with("685");
        if let Some(f) = s.fields.iter().find(|f| f.obis.as_deref() == Some("1.1.31.7.0.255")) {
            prop_assert_eq!(f.scaler, Some(if ct { -3 } else { -2 }));
        }
    }

    #[test]
    fn iec_round_trip(
        lines in prop::collection::vec(("[0-9]{1,2}\\.[0-9]{1,2}(\\.[0-9]{1,2})?", "[0-9]{1,7}([.,][0-9]{1,3})?", prop::option::of("[a-zA-Z]{1,5}")), 1..30),
        additive in any::<bool>(),
        ident in "[0-9A-Z-]{1,16}",
        echo in any::<bool>(),
    ) {
        let lines: Vec<Line> = lines.into_iter().map(|(address, value, unit)| Line { address, value, unit }).collect();
        let rule = if additive { BccRule::Additive } else { BccRule::Xor };
        let mut bytes = if echo { iec61107::sign_on_request("") } else { Vec::new() };
        bytes.extend(iec61107::encode_identification("KAM", ' ', &ident));
        bytes.extend(iec61107::encode_data_block(&lines, rule));
        let spans = decode_all(&bytes, &mut Decoder::default());
        prop_assert_eq!(spans.len(), 2 + usize::from(echo));
        let block = spans.last().unwrap();
        prop_assert!(block.ok, "{:?}", block.checks);
        prop_assert_eq!(block.ident.as_deref(), Some(ident.as_str()));
        let bcc = block.checks.iter().find(|c| c.name == "BCC").unwrap();
        // When both rules give the same byte the standard one is named.
        if bcc.rule == Some("additive") { prop_assert!(additive); }
        prop_assert_eq!(block.fields.len(), lines.len());
        for (f, l) in block.fields.iter().zip(&lines) {
            prop_assert_eq!(f.obis.as_deref(), Some(l.address.as_str()));
            prop_assert_eq!(&f.raw, &RawValue::Text(l.value.clone()));
            prop_assert_eq!(f.unit.clone(), l.unit.clone());
            prop_assert_eq!(f.value, Some(l.value.replace(',', ".").parse::<f64>().unwrap()));
        }
    }

    #[test]
    fn chunking_does_not_change_spans(
        lists in prop::collection::vec(arb_list(), 1..5),
        junk in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..20), 5),
        chunks in prop::collection::vec(1usize..300, 1..10),
    ) {
        let mut stream = Vec::new();
        for (i, l) in lists.iter().enumerate() {
            stream.extend(&junk[i % junk.len()]);
            stream.extend(encode(l));
        }
        stream.extend(&junk[4]);
        let whole = spans_chunked(&stream, &[stream.len()]);
        let bytewise = spans_chunked(&stream, &[1]);
        let random = spans_chunked(&stream, &chunks);
        assert_exact_accounting(&whole, stream.len());
        prop_assert_eq!(&whole, &bytewise);
        prop_assert_eq!(&whole, &random);
    }

    #[test]
    fn chunking_does_not_change_spans_with_false_headers_inside(
        parts in prop::collection::vec(
            (
                prop::collection::vec(any::<u8>(), 0..40),
                prop::collection::vec(any::<u8>(), 0..12),
                prop::collection::vec(any::<u8>(), 0..40),
                0usize..4,
                any::<prop::sample::Index>(),
            ),
            1..5,
        ),
        chunks in prop::collection::vec(1usize..64, 1..10),
    ) {
        // Frames whose payload holds a whole frame with a valid header check (a false header),
        // some of them cut short or with a byte dropped, as a line delivers them.
        let mut stream = Vec::new();
        for (before, inner_info, after, damage, at) in &parts {
            let mut inner = Vec::new();
            hdlc::encode(&[0x03], &[0x03], 0x13, inner_info, false, &mut inner)
                .unwrap();
            let info: Vec<u8> = before.iter().chain(&inner).chain(after).copied().collect();
            let mut outer = Vec::new();
            hdlc::encode(&[0x2B], &[0x21], 0x13, &info, false, &mut outer)
                .unwrap();
            let i = at.index(outer.len());
            match damage {
                1 => outer.truncate(i.max(1)),
                2 => {
                    outer.remove(i);
                }
                _ => {}
            }
            stream.extend(outer);
        }
        let whole = spans_chunked(&stream, &[stream.len()]);
        assert_exact_accounting(&whole, stream.len());
        prop_assert_eq!(&whole, &spans_chunked(&stream, &[1]));
        prop_assert_eq!(&whole, &spans_chunked(&stream, &chunks));
    }

    #[test]
    fn intact_frames_survive_junk_and_damage(
        lists in prop::collection::vec(arb_list(), 2..7),
        damage in prop::collection::vec((0u8..5, any::<prop::sample::Index>(), any::<u8>()), 7),
        junk in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 7),
        chunks in prop::collection::vec(1usize..500, 1..5),
    ) {
        // Build the stream, remembering where each intact frame lands.
        let mut stream = Vec::new();
        let mut intact = Vec::new();
        let mut damaged = Vec::new();
        for (i, l) in lists.iter().enumerate() {
            stream.extend(&junk[i]);
            let mut f = encode(l);
            let (kind, at, bit) = &damage[i];
            let at = at.index(f.len());
            match kind {
                0 | 1 => {
                    intact.push((stream.len() as u64, f.len()));
                }
                2 => f[at] ^= 1 << (bit % 8),                  // bit flip
                3 => f.truncate(at.clamp(1, f.len() - 2)),     // cut short (not just the flag: junk may supply one)
                _ => { let at = at.clamp(1, f.len() - 2); f.drain(at..(at + 1 + usize::from(*bit % 8)).min(f.len())); } // dropped bytes (not only a flag)
            }
            if *kind >= 2 {
                damaged.push((stream.len() as u64, f.len()));
            }
            stream.extend(f);
        }
        let spans = spans_chunked(&stream, &chunks);
        assert_exact_accounting(&spans, stream.len());
        for (offset, len) in &intact {
            prop_assert!(
                spans.iter().any(|s| s.0 == *offset && s.1 == *len && s.3 && s.2 == Protocol::Hdlc),
                "intact frame at {} ({} bytes) lost: {:?}", offset, len, spans
            );
        }
        // Random junk may hold a real-looking frame of another protocol; no damaged HDLC frame
        // may pass as good.
        let good = spans.iter().filter(|s| s.3 && s.2 == Protocol::Hdlc).count();
        prop_assert_eq!(good, intact.len(), "a damaged frame passed as good: {:?} damaged {:?}", spans, damaged);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let mut decoder = Decoder::default();
        let mut framer = Framer::default();
        framer.push(&bytes);
        framer.finish();
        let mut total = 0;
        while let Some(span) = framer.next_span() {
            total += span.bytes.len();
            let d = decoder.decode(&span);
            let _ = SpanDetail::of(&span, &d);
            let regions = region::of_span(span.bytes, &span.content, &d);
            // Every byte belongs to exactly one region, and none lies outside the span.
            prop_assert_eq!(regions.iter().map(|r| r.range.len()).sum::<usize>(), span.bytes.len());
            prop_assert!(regions.windows(2).all(|w| w[0].range.end == w[1].range.start));
        }
        prop_assert_eq!(total, bytes.len());
        let _ = iec61107::parse_data_block(&bytes);
        let _ = iec61107::parse_identification(&bytes);
        let _ = kamscope::protocol::axdr::decode(&bytes, 0);
        let _ = kamscope::protocol::dlms::parse_apdu(&bytes, 0);
        let _ = kamscope::protocol::mbus::parse(&bytes);
        let _ = hdlc::inspect(&bytes, false);
        let _ = hdlc::inspect(&bytes, true);
    }

    /// Random APDUs inside frames with valid checks reach the A-XDR and HAN decoders.
    #[test]
    fn random_apdus_in_valid_frames_never_panic(
        apdu in prop::collection::vec(any::<u8>(), 0..400),
        prefix in prop::sample::select(vec![vec![], vec![0x0F, 0, 0, 0, 0, 0x0C], vec![0x0F, 0x40, 0, 0, 0, 0x00], vec![0xDB, 0x08]]),
    ) {
        let mut info = vec![0xE6, 0xE7, 0x00];
        info.extend(prefix);
        info.extend(apdu);
        let mut frame = Vec::new();
        hdlc::encode(&[0x2B], &[0x21], 0x13, &info, false, &mut frame).unwrap();
        let spans = decode_all(&frame, &mut Decoder::default());
        prop_assert_eq!(spans.len(), 1);
        prop_assert!(spans[0].checks.iter().all(|c| c.ok));
        // Counting (`decode --summary`) says a push does not decode exactly when decoding it
        // fails, with the same sentence.
        let counted = decode_all(&frame, &mut Decoder::default().counting());
        prop_assert_eq!(&counted[0].error, &spans[0].error);
    }

    /// A push that decodes is counted as decoding, and no message is kept for it.
    #[test]
    fn counting_agrees_with_decoding(list in arb_list()) {
        let frame = encode(&list);
        let mut framer = Framer::new(Protocols::HDLC);
        framer.push(&frame);
        framer.finish();
        let span = framer.next_span().expect("one frame");
        let decoded = Decoder::default().decode(&span);
        let counted = Decoder::default().counting().decode(&span);
        prop_assert!(decoded.han_message().is_some());
        prop_assert!(counted.han_message().is_none());
        prop_assert_eq!(decoded.error(), counted.error());
    }

    /// Segmented frames are joined into one message.
    #[test]
    fn segments_reassemble(list in arb_list(), cut in 1usize..100) {
        let mut info = vec![0xE6, 0xE7, 0x00];
        kamscope::protocol::dlms::encode_data_notification(
            &kamscope::protocol::dlms::DataNotification {
                invoke_id: 0,
                time: kamscope::protocol::dlms::HeaderTime::Octet(list.time),
                body: list.body(),
            },
            &mut info,
        );
        let cut = cut.min(info.len() - 1);
        let mut stream = Vec::new();
        hdlc::encode(&[0x2B], &[0x21], 0x13, &info[..cut], true, &mut stream).unwrap();
        hdlc::encode(&[0x2B], &[0x21], 0x13, &info[cut..], false, &mut stream).unwrap();
        let spans = decode_all(&stream, &mut Decoder::default());
        prop_assert_eq!(spans.len(), 2);
        prop_assert!(spans[0].fields.is_empty());
        let segment = spans[1].hdlc().and_then(|h| h.segment.as_ref()).map(|s| s.last);
        prop_assert_eq!(segment, Some(true));
        prop_assert_eq!(spans[1].meter_id.as_deref(), Some(list.meter_id.as_str()));
        prop_assert!(spans[0].ok && spans[1].ok);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    /// A frame hit by a bit flip or cut short is never good and never gives live values; what it
    /// decodes best-effort is marked unverified, field by field; its byte map names no FCS it does
    /// not have where it should be, and counts the bytes the length check counts.
    #[test]
    fn damaged_frames_are_never_live_and_their_map_counts_true(
        list in arb_list(),
        at in any::<prop::sample::Index>(),
        bit in 0u8..8,
        cut in any::<bool>(),
    ) {
        use kamscope::protocol::Decoded;
        let mut f = encode(&list);
        let len = f.len();
        if cut {
            f.truncate(at.index(len - 2).max(1));
        } else {
            // Past the header check: the HCS still passes, the FCS fails.
            let i = 9 + at.index(len - 12);
            f[i] ^= 1 << bit;
        }
        let mut framer = Framer::default();
        framer.push(&f);
        framer.finish();
        while let Some(span) = framer.next_span() {
            let decoded = Decoder::default().decode(&span);
            let detail = SpanDetail::of(&span, &decoded);
            let regions = region::of_span(span.bytes, &span.content, &decoded);
            prop_assert!(!detail.ok || span.protocol() != Protocol::Hdlc);
            if let Decoded::Hdlc(h) = &decoded {
                prop_assert!(h.message.is_none());
                prop_assert_eq!(h.damaged_message.is_some(), detail.unverified);
            }
            prop_assert!(detail.fields.iter().all(|f| f.unverified == detail.unverified));
            prop_assert_eq!(regions.iter().map(|r| r.range.len()).sum::<usize>(), span.bytes.len());
            if let Some((got, _)) = detail.cut_off() {
                prop_assert_eq!(got as usize, span.bytes.len());
                prop_assert!(!regions.iter().any(|r| r.label == "FCS"), "{:?}", regions);
                for c in detail.checks.iter().filter(|c| !c.ok && c.name != "length") {
                    if let Some(t) = detail.cut_off_text(c) {
                        prop_assert!(!t.contains("missing"));
                    }
                }
            }
        }
    }
}

/// One piece of an IEC 61107 readout stream, built from the standard's message formats, or a
/// P1 telegram (whose `/` line looks like an identification).
fn arb_iec_piece() -> impl Strategy<Value = Vec<u8>> {
    let block = (
        prop::collection::vec(
            (
                "[0-9]\\.[0-9]{1,2}\\.[0-9]",
                "[0-9]{1,7}",
                prop::option::of("kWh|h|kW"),
            ),
            0..12,
        ),
        any::<bool>(),
    )
        .prop_map(|(lines, additive)| {
            let lines: Vec<Line> = lines
                .into_iter()
                .map(|(address, value, unit)| Line {
                    address,
                    value,
                    unit,
                })
                .collect();
            iec61107::encode_data_block(
                &lines,
                if additive {
                    BccRule::Additive
                } else {
                    BccRule::Xor
                },
            )
        });
    // Programming-mode commands: `SOH C D STX data ETX BCC` and `SOH B 0 ETX BCC`.
    let command = (
        "[A-Z]",
        "[0-9]",
        prop::option::of("[0-9A-Z.()]{0,20}"),
        any::<u8>(),
    )
        .prop_map(|(c, d, data, bcc)| {
            let mut out = vec![iec61107::SOH];
            out.extend(c.bytes().chain(d.bytes()));
            if let Some(data) = data {
                out.push(iec61107::STX);
                out.extend(data.bytes());
            }
            out.extend([iec61107::ETX, bcc & 0x7F]);
            out
        });
    prop_oneof![
        "[0-9A-Z]{0,8}".prop_map(|a| iec61107::sign_on_request(&a)),
        ("[A-Z]{3}", "[0-6A-F ]", "[0-9A-Z-]{1,16}").prop_map(|(m, b, i)| {
            iec61107::encode_identification(&m, b.chars().next().unwrap(), &i)
        }),
        ("[0-6]", "[0-2]").prop_map(|(b, m)| iec61107::option_select(
            b.as_bytes()[0],
            m.as_bytes()[0]
        )
        .to_vec()),
        block,
        command,
        // A P1 telegram opens with a `/` line too, and may hold `/` anywhere.
        (
            "KAM5[ 0-9A-Z/]{0,12}",
            prop::collection::vec(
                ("[01]-[01]:[0-9]{1,2}\\.[0-9]\\.[0-9]", "[0-9./]{1,10}"),
                0..6
            ),
            any::<bool>(),
        )
            .prop_map(|(ident, lines, with_crc)| {
                let lines: Vec<OutLine> = lines
                    .into_iter()
                    .map(|(code, value)| OutLine::new(&code, value, None))
                    .collect();
                p1::encode(&ident, &lines, with_crc)
            }),
        prop::collection::vec(any::<u8>(), 0..8),
    ]
}

/// (offset, bytes, content) of every span of `input` framed with `protocols`, fed in chunks of
/// the given sizes (cycled), then the end of input: the whole verdict, checks and all.
fn framed_in_chunks(
    protocols: Protocols,
    input: &[u8],
    chunks: &[usize],
) -> Vec<(u64, Vec<u8>, kamscope::protocol::framer::Content)> {
    let mut framer = Framer::new(protocols);
    let mut out = Vec::new();
    let mut rest = input;
    let mut sizes = chunks.iter().cycle();
    loop {
        while let Some(s) = framer.next_span() {
            out.push((s.offset, s.bytes.to_vec(), s.content));
        }
        if rest.is_empty() {
            break;
        }
        let n = (*sizes.next().unwrap_or(&rest.len())).clamp(1, rest.len());
        framer.push(&rest[..n]);
        rest = &rest[n..];
    }
    framer.finish();
    while let Some(s) = framer.next_span() {
        out.push((s.offset, s.bytes.to_vec(), s.content));
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    /// IEC 61107 streams (sign-on lines, option selects, data blocks, commands, some damaged or
    /// cut short, with junk and P1 telegrams between) are framed alike whole, a byte at a time
    /// and in random chunks: the same spans with the same checks.
    #[test]
    fn iec_and_p1_chunking_does_not_change_spans(
        pieces in prop::collection::vec(
            (arb_iec_piece(), 0u8..6, any::<prop::sample::Index>(), any::<u8>()),
            1..8,
        ),
        chunks in prop::collection::vec(1usize..40, 1..10),
        protocols in prop::sample::select(vec![
            Protocols::OPTICAL,
            Protocols::ALL,
            Protocols { iec61107: true, p1: true, ..Protocols::NONE },
        ]),
    ) {
        let mut stream = Vec::new();
        for (piece, damage, at, byte) in pieces {
            let mut piece = piece;
            if !piece.is_empty() {
                let i = at.index(piece.len());
                match damage {
                    1 => piece[i] ^= 1 << (byte % 8),
                    2 => piece.truncate(i),
                    3 => {
                        piece.remove(i);
                    }
                    4 => piece[i] = byte,
                    _ => {}
                }
            }
            stream.extend(piece);
        }
        let whole = framed_in_chunks(protocols, &stream, &[stream.len()]);
        prop_assert_eq!(whole.iter().map(|s| s.1.len()).sum::<usize>(), stream.len());
        prop_assert_eq!(&whole, &framed_in_chunks(protocols, &stream, &[1]));
        prop_assert_eq!(&whole, &framed_in_chunks(protocols, &stream, &chunks));
    }
}
