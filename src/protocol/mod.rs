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
