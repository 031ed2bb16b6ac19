//! Times the decode stages on the sample stream (best of 60 rounds, robust to a busy machine),
//! and gives profilers a steady workload:
//! `cargo run --release --example profile_decode [framing|apdu|full]`.
use kamscope::protocol::{Content, Decoder, Framer, Protocols, dlms, hdlc};
use std::hint::black_box;
use std::time::Instant;

fn main() {
    let stage = std::env::args().nth(1).unwrap_or_else(|| "full".into());
    let stream = kamscope::protocol::han::sample_stream(10_000);
    let rounds = 60;
    let mut best = f64::MAX;
    let mut n = 0u64;
    for _ in 0..rounds {
        let start = Instant::now();
        let mut frames = 0u64;
        let mut framer = Framer::new(Protocols::HDLC);
        let mut decoder = Decoder::default();
        framer.push(&stream);
        framer.finish();
        while let Some(span) = framer.next_span() {
            frames += 1;
            match stage.as_str() {
                "framing" => {
                    black_box(&span);
                }
                "fcs" => {
                    black_box(hdlc::crc16(&span.bytes[1..span.bytes.len() - 3]));
                }
                "map" => {
                    if let Content::Hdlc(f) = &span.content {
                        let apdu = &span.bytes[f.info.start + 3..f.info.end];
                        if let Ok(dlms::Apdu::DataNotification(n)) = dlms::parse_apdu(apdu, 0) {
                            black_box(
                                kamscope::protocol::han::map(&n, apdu, 0, &Default::default()).ok(),
                            );
                        }
                    }
                }
                "apdu" => {
                    if let Content::Hdlc(f) = &span.content {
                        let apdu = &span.bytes[f.info.start + 3..f.info.end];
                        black_box(dlms::parse_apdu(apdu, 0).ok());
                    }
                }
                _ => {
                    black_box(decoder.decode(&span));
                }
            }
        }
        n += frames;
        best = best.min(start.elapsed().as_nanos() as f64 / frames as f64);
    }
    let per = best;
    println!(
        "{stage}: {n} frames, best round {per:.0} ns/frame, {:.2} M frames/s",
        1000.0 / per
    );
}
