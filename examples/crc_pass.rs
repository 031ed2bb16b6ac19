//! The bound `decode --summary` is held to: read a raw capture of HDLC frames, walk it frame by
//! frame by the length field and check each frame's FCS (slice-by-16 CRC), nothing else. Timed as
//! a whole process next to `kamscope decode --summary` over the same file:
//!
//! ```sh
//! cargo run --release --example make_stream -- 200000 /tmp/han.bin   # 45 MB
//! /usr/bin/time -f "%e s %M KB" target/release/examples/crc_pass /tmp/han.bin
//! /usr/bin/time -f "%e s %M KB" target/release/kamscope decode --summary /tmp/han.bin
//! ```
use kamscope::protocol::hdlc;
use std::io::Read;

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: crc_pass FILE");
        std::process::exit(2);
    };
    let mut data = Vec::new();
    if let Err(e) = std::fs::File::open(&path).and_then(|mut f| f.read_to_end(&mut data)) {
        eprintln!("crc_pass: cannot read {path}: {e}");
        std::process::exit(2);
    }
    let (mut good, mut bad, mut skipped) = (0u64, 0u64, 0u64);
    let mut at = 0;
    while at + 3 < data.len() {
        // 7E, then the frame format A (type 3) with the 11-bit length between the flags.
        if data[at] != 0x7E || data[at + 1] >> 4 != 0xA {
            at += 1;
            skipped += 1;
            continue;
        }
        let length = usize::from(u16::from_be_bytes([data[at + 1], data[at + 2]]) & 0x7FF);
        let Some(body) = data.get(at + 1..at + 1 + length) else {
            break;
        };
        let fcs = u16::from_le_bytes([body[length - 2], body[length - 1]]);
        if hdlc::crc16(&body[..length - 2]) == fcs {
            good += 1;
        } else {
            bad += 1;
        }
        at += length + 2;
    }
    println!("{good} frames with a good FCS, {bad} bad, {skipped} bytes skipped");
}
