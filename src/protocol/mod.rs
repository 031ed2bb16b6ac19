//! Sans-IO protocol code: plain functions and state machines over bytes. No I/O, no clock, no
//! terminal: the TUI, the `decode` command, the simulated meter, tests and benches share it.

pub mod axdr;
pub mod check;
pub mod datetime;
pub mod decoder;
pub mod dlms;
pub mod framer;
pub mod han;
pub mod hdlc;
pub mod iec61107;
pub mod iec_session;
pub mod kmp;
pub mod kmp_register;
pub mod kmp_session;
pub mod mbus;
pub mod obis;
pub mod p1;
pub mod redact;
pub mod region;
pub mod rfc2217;
pub mod uart;

pub use check::{Check, CheckValue};
pub use decoder::{Decoded, Decoder};
pub use framer::{Content, Framer, Protocol, Protocols, Span};

/// The first (up to) four bytes of `src`, zero-padded, and how many there were: a short field
/// (an HDLC address, the bytes a check compares) kept inline. Byte by byte: a copy of a length
/// known only at run time is a call, whose narrow writes the wide read of the four bytes right
/// after has to wait for.
#[inline]
pub(crate) fn first_four(src: &[u8]) -> ([u8; 4], u8) {
    match *src {
        [] => ([0; 4], 0),
        [a] => ([a, 0, 0, 0], 1),
        [a, b] => ([a, b, 0, 0], 2),
        [a, b, c] => ([a, b, c, 0], 3),
        [a, b, c, d, ..] => ([a, b, c, d], 4),
    }
}

/// Bytes from hex text with white space, for the protocol tests (which use nothing outside
/// `protocol/`).
#[cfg(test)]
pub(crate) fn hex_bytes(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect()
}
