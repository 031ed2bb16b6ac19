//! Times each decode stage on its own over the sample stream (10,000 Kamstrup pushes: list 1
//! every 10 s, list 2 hourly), by the thread's CPU time (best of the rounds, so a busy machine
//! costs less), and gives profilers a steady workload:
//! `cargo run --release --example profile_decode [STAGE...]`, stages:
//! - `fcs`: the FCS alone over every frame (slice-by-16 CRC), the bound the others are held to;
//! - `framing`: the framer (flags, length, HCS, FCS: every check);
//! - `apdu`: the DLMS APDU header of every frame's information field;
//! - `map`: the HAN mapping of every DataNotification (A-XDR walk into named, scaled fields);
//! - `decode`: the decoder over framed spans (LLC check, segments, APDU, mapping);
//! - `count`: framer and a counting decoder, as `decode --summary` runs them (every body
//!   walked, no push kept);
//! - `full`: framer and decoder together, as `decode` runs them (the stream framed where it lies
//!   and each span decoded into one place, reused, as the pipeline does);
//! - `named`: `full`, and each push's named fields made (as the Live tab, the Inspector and the
//!   outputs ask for them).
//!
//! Without a stage, all of them.
use kamscope::protocol::{Content, Decoded, Decoder, Framer, Protocols, Span, dlms, han, hdlc};
use nix::time::{ClockId, clock_gettime};
use std::hint::black_box;

const FRAMES: usize = 10_000;
/// Rounds per stage (best one counts); `PROFILE_ROUNDS` sets fewer for instruction counters.
fn rounds() -> usize {
    std::env::var("PROFILE_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(40)
}

/// The thread's CPU time in nanoseconds: time spent waiting for a shared core is not counted.
fn thread_cpu_ns() -> u128 {
    let t = clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID).expect("thread CPU clock");
    t.tv_sec() as u128 * 1_000_000_000 + t.tv_nsec() as u128
}

/// The best round of `work` (which handles `FRAMES` frames), in ns per frame.
fn best_of(mut work: impl FnMut()) -> f64 {
    (0..rounds())
        .map(|_| {
            let start = thread_cpu_ns();
            work();
            (thread_cpu_ns() - start) as f64 / FRAMES as f64
        })
        .fold(f64::MAX, f64::min)
}

/// Frames `stream` where it lies and decodes each span into one place reused, as the pipeline
/// does, handing each decoded span to `then`.
fn frame_and_decode(stream: &[u8], mut decoder: Decoder, mut then: impl FnMut(&Decoded)) {
    let mut framer = Framer::new(Protocols::HDLC);
    let mut decoded = Decoded::Junk;
    let mut each = |span: Span<'_>| {
        decoder.decode_into(&span, &mut decoded);
        then(&decoded);
    };
    framer.push_and_frame(stream, &mut each);
    framer.finish();
    while let Some(span) = framer.next_span() {
        each(span);
    }
}

/// One framed frame, owned.
struct Framed {
    offset: u64,
    bytes: Vec<u8>,
    content: Content,
}

fn main() {
    let stream = han::sample_stream(FRAMES);
    let mut framer = Framer::new(Protocols::HDLC);
    framer.push(&stream);
    framer.finish();
    let mut framed = Vec::new();
    while let Some(span) = framer.next_span() {
        framed.push(Framed {
            offset: span.offset,
            bytes: span.bytes.to_vec(),
            content: span.content.clone(),
        });
    }
    assert_eq!(framed.len(), FRAMES);
    let apdus: Vec<&[u8]> = framed
        .iter()
        .filter_map(|f| match &f.content {
            Content::Hdlc(h) => f.bytes.get(h.info.start + 3..h.info.end),
            _ => None,
        })
        .collect();
    let notifications: Vec<(dlms::Notification, &[u8])> = apdus
        .iter()
        .filter_map(|apdu| match dlms::parse_apdu(apdu, 0) {
            Ok(dlms::Apdu::DataNotification(n)) => Some((n, *apdu)),
            _ => None,
        })
        .collect();
    assert_eq!(notifications.len(), FRAMES);
    let spans: Vec<Span> = framed
        .iter()
        .map(|f| Span {
            offset: f.offset,
            bytes: &f.bytes,
            content: f.content.clone(),
        })
        .collect();

    let stages: Vec<String> = std::env::args().skip(1).collect();
    let all = [
        "fcs", "framing", "apdu", "map", "decode", "count", "full", "named",
    ];
    let stages: Vec<&str> = if stages.is_empty() {
        all.to_vec()
    } else {
        stages.iter().map(String::as_str).collect()
    };
    let mut fcs_ns = None;
    for stage in stages {
        let ns = match stage {
            "fcs" => best_of(|| {
                for f in &framed {
                    // The FCS covers the format byte to the end of the information field.
                    black_box(hdlc::crc16(&f.bytes[1..f.bytes.len() - 3]));
                }
            }),
            "framing" => best_of(|| {
                let mut framer = Framer::new(Protocols::HDLC);
                framer.push_and_frame(&stream, |span| {
                    black_box(&span);
                });
                framer.finish();
                while let Some(span) = framer.next_span() {
                    black_box(&span);
                }
            }),
            "apdu" => best_of(|| {
                for apdu in &apdus {
                    black_box(dlms::parse_apdu(apdu, 0).ok());
                }
            }),
            "map" => {
                let scaling = han::Scaling::default();
                let mut scratch = han::Scratch::default();
                let mut message = None;
                best_of(|| {
                    for (n, apdu) in &notifications {
                        // Into one place, the push before giving its buffers, as the decoder
                        // does.
                        if let Some(m) = message.take() {
                            han::HanMessage::recycle(m, &mut scratch);
                        }
                        black_box(
                            han::map_into(n, apdu, 0, &scaling, &mut scratch, &mut message).ok(),
                        );
                        black_box(&message);
                    }
                })
            }
            "decode" => best_of(|| {
                let mut decoder = Decoder::default();
                let mut decoded = Decoded::Junk;
                for span in &spans {
                    decoder.decode_into(span, &mut decoded);
                    black_box(&decoded);
                }
            }),
            "count" => best_of(|| {
                frame_and_decode(&stream, Decoder::default().counting(), |d| {
                    black_box(d);
                });
            }),
            "full" => best_of(|| {
                frame_and_decode(&stream, Decoder::default(), |d| {
                    black_box(d);
                });
            }),
            "named" => best_of(|| {
                frame_and_decode(&stream, Decoder::default(), |d| {
                    if let Decoded::Hdlc(h) = d
                        && let Some(m) = &h.message
                    {
                        black_box(m.fields());
                    }
                });
            }),
            other => {
                eprintln!(
                    "profile_decode: no stage {other:?}; stages: {}",
                    all.join(", ")
                );
                std::process::exit(2);
            }
        };
        if stage == "fcs" {
            fcs_ns = Some(ns);
        }
        // Held against the FCS alone: the stages that frame the stream (and so compute it).
        let share = match fcs_ns {
            Some(fcs) if matches!(stage, "framing" | "count" | "full" | "named") => {
                format!(", {:.0} % of the FCS-alone rate", fcs / ns * 100.0)
            }
            _ => String::new(),
        };
        println!(
            "{stage:>8}: {ns:6.0} ns/frame, {:5.2} M frames/s{share}",
            1000.0 / ns
        );
    }
}
