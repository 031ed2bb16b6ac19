//! Time of framing pending frames that arrive one byte at a time: each push must cost work in
//! proportion to its new bytes, not to everything pending since the frame began. Ignored by
//! default (the timing means something in release mode only); the regression checks that do
//! not depend on time count the bytes examined (framer unit tests).
//!
//! `cargo test --release --test probe_cost -- --ignored --nocapture`

use kamscope::protocol::framer::{Framer, Protocols};
use std::time::Instant;

/// Feeds `input` one byte at a time, taking spans as they come, then ends the input; prints the
/// time and returns the span count.
fn byte_at_a_time(name: &str, protocols: Protocols, input: &[u8]) -> usize {
    let started = Instant::now();
    let mut framer = Framer::new(protocols);
    let mut spans = 0;
    for b in input {
        framer.push(std::slice::from_ref(b));
        while framer.next_span().is_some() {
            spans += 1;
        }
    }
    framer.finish();
    while framer.next_span().is_some() {
        spans += 1;
    }
    println!(
        "{name}: {} bytes one at a time, {spans} spans, {:.3} s",
        input.len(),
        started.elapsed().as_secs_f64()
    );
    spans
}

/// Printable data-block text, as long as asked.
fn block_text(len: usize) -> impl Iterator<Item = u8> {
    b"1.8.0(0012658*kWh)\r\n".iter().copied().cycle().take(len)
}

#[test]
#[ignore = "timing: run in release mode with --ignored --nocapture"]
fn iec_block_of_64_kib_one_byte_at_a_time() {
    let mut input = vec![0x02];
    input.extend(block_text(64 * 1024 - 1));
    // Unterminated: cut at its limit.
    assert_eq!(byte_at_a_time("IEC 61107 block", Protocols::ALL, &input), 1);
    let mut input = vec![0x01, b'W', b'2', 0x02];
    input.extend(block_text(60 * 1024));
    input.extend([0x03, 0x00]);
    assert_eq!(
        byte_at_a_time("IEC 61107 command", Protocols::OPTICAL, &input),
        1
    );
}

#[test]
#[ignore = "timing: run in release mode with --ignored --nocapture"]
fn p1_telegram_of_16_kib_one_byte_at_a_time() {
    let mut input = b"/KAM5 ident\r\n\r\n".to_vec();
    input.extend(
        b"1-0:1.8.0(00012345.678*kWh)\r\n"
            .iter()
            .copied()
            .cycle()
            .take(16 * 1024 - input.len() - 8),
    );
    input.extend(b"!1234\r\n");
    assert_eq!(byte_at_a_time("P1 telegram", Protocols::HAN, &input), 1);
}

#[test]
#[ignore = "timing: run in release mode with --ignored --nocapture"]
fn kmp_lines_of_512_hex_digits_one_byte_at_a_time() {
    // Each '@' waits for its CR through 511 hex digits, then is cut at the limit.
    let mut line = vec![b'@'];
    line.extend(b"0123456789ABCDEF".iter().copied().cycle().take(511));
    let input = line.repeat(128);
    byte_at_a_time("KMP hex lines", Protocols::OPTICAL, &input);
}
