//! Full decode (framing, HCS/FCS, A-XDR, HAN mapping) against computing the FCS alone over the
//! same frames, and the readout protocols' streams (IEC 61107, KMP, M-Bus) framed and decoded.
//! Run with `cargo bench --bench decode`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kamscope::protocol::han::{HanMessage, sample_stream};
use kamscope::protocol::{Decoded, Decoder, Framer, Protocols, Span, hdlc};
use std::hint::black_box;

const FRAMES: usize = 10_000;

/// Frame boundaries of the sample stream, so the FCS-only run covers exactly the same bytes.
fn frame_ranges(stream: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut framer = Framer::new(Protocols::HDLC);
    framer.push(stream);
    framer.finish();
    let mut out = Vec::new();
    while let Some(span) = framer.next_span() {
        let start = span.offset as usize;
        out.push(start..start + span.bytes.len());
    }
    out
}

/// Frames and decodes `stream` as the pipeline does (in place, each span into one place reused),
/// handing each push to `each_push`.
fn decode_stream(stream: &[u8], protocols: Protocols, mut each_push: impl FnMut(&HanMessage)) {
    let mut framer = Framer::new(protocols);
    let mut decoder = Decoder::default();
    let mut decoded = Decoded::Junk;
    let mut each = |span: Span<'_>| {
        decoder.decode_into(&span, &mut decoded);
        if let Decoded::Hdlc(h) = &decoded
            && let Some(m) = &h.message
        {
            each_push(m);
        }
    };
    framer.push_and_frame(stream, &mut each);
    framer.finish();
    while let Some(span) = framer.next_span() {
        each(span);
    }
}

fn bench(c: &mut Criterion) {
    let stream = sample_stream(FRAMES);
    let ranges = frame_ranges(&stream);
    assert_eq!(ranges.len(), FRAMES);
    let mut group = c.benchmark_group("han");
    group.throughput(Throughput::Elements(FRAMES as u64));

    group.bench_function("fcs_only", |b| {
        b.iter(|| {
            let mut acc = 0u16;
            for r in &ranges {
                // FCS covers format byte .. end of info: all but the flags and the FCS itself.
                acc ^= hdlc::crc16(&stream[r.start + 1..r.end - 3]);
            }
            black_box(acc)
        })
    });

    for (name, protocols) in [
        ("full_decode", Protocols::HDLC),
        ("full_decode_all_protocols", Protocols::ALL),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut watts = 0.0;
                decode_stream(&stream, protocols, |m| {
                    watts += m.value(1, 7).unwrap_or(0.0)
                });
                black_box(watts)
            })
        });
    }

    // As above, and each push's named fields made too (what the Inspector, the Live tab and the
    // outputs ask for; the decode alone keeps the compact fields only).
    group.bench_function("full_decode_named_fields", |b| {
        b.iter(|| {
            let mut fields = 0;
            decode_stream(&stream, Protocols::HDLC, |m| fields += m.fields().len());
            black_box(fields)
        })
    });

    group.bench_function("full_decode_64k_chunks", |b| {
        b.iter(|| {
            let mut framer = Framer::new(Protocols::ALL);
            let mut decoder = Decoder::default();
            let mut decoded = Decoded::Junk;
            let mut n = 0usize;
            for chunk in stream.chunks(64 * 1024) {
                framer.push_and_frame(chunk, |span| {
                    decoder.decode_into(&span, &mut decoded);
                    black_box(&decoded);
                    n += 1;
                });
            }
            framer.finish();
            while let Some(span) = framer.next_span() {
                decoder.decode_into(&span, &mut decoded);
                black_box(&decoded);
                n += 1;
            }
            black_box(n)
        })
    });
    group.finish();
}

/// A readout stream: `copies` of one readout's bytes back to back, as a long recording of an
/// optical head or M-Bus line holds them.
fn readout_stream(readout: &[u8], copies: usize) -> Vec<u8> {
    readout.repeat(copies)
}

/// The test fixtures' readouts (see tests/fixtures/README.md for where each came from).
fn readouts() -> Vec<(&'static str, Vec<u8>)> {
    let mbus_hex = include_str!("../tests/fixtures/mbus/kamstrup-382-rsp-ud.hex");
    vec![
        (
            "iec61107_351",
            include_bytes!("../tests/fixtures/iec61107/kamstrup-351-seed-example.bin").to_vec(),
        ),
        (
            "iec61107_685_382",
            include_bytes!("../tests/fixtures/iec61107/kamstrup-685-382-additive-bcc.bin").to_vec(),
        ),
        (
            "kmp_ascii_hex",
            include_bytes!("../tests/fixtures/kmp/kmp-685-382-ascii-hex.bin").to_vec(),
        ),
        (
            "mbus_rsp_ud",
            kamscope::wire::hex::parse(mbus_hex).expect("fixture is hex"),
        ),
    ]
}

/// Each readout protocol's stream framed and decoded, as `decode` does with a recording of the
/// optical line (throughput in bytes: readouts differ in size).
fn bench_readouts(c: &mut Criterion) {
    let mut group = c.benchmark_group("readout");
    for (name, readout) in readouts() {
        let stream = readout_stream(&readout, 2_000);
        let spans = {
            let mut framer = Framer::new(Protocols::OPTICAL);
            framer.push(&stream);
            framer.finish();
            let mut n = 0;
            while let Some(span) = framer.next_span() {
                assert_ne!(
                    span.protocol(),
                    kamscope::protocol::Protocol::Junk,
                    "{name}"
                );
                n += 1;
            }
            n
        };
        assert!(spans >= 2_000, "{name}: {spans} spans");
        group.throughput(Throughput::Bytes(stream.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut framer = Framer::new(Protocols::OPTICAL);
                let mut decoder = Decoder::default();
                framer.push(&stream);
                framer.finish();
                let mut n = 0usize;
                while let Some(span) = framer.next_span() {
                    black_box(decoder.decode(&span));
                    n += 1;
                }
                black_box(n)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench, bench_readouts);
criterion_main!(benches);
