//! Sans-IO protocol code: plain functions and state machines over bytes. No I/O, no clock, no
//! terminal: the TUI, the `decode` command, the simulated meter, tests and benches share it.

pub mod annotate;
pub mod axdr;
pub mod check;
pub mod datetime;
pub mod decoder;
pub mod dlms;
pub mod framer;
pub mod han;
pub mod hdlc;
pub mod iec61107;
pub mod kmp;
pub mod mbus;
pub mod obis;
pub mod readout;

pub use check::{Check, CheckValue};
pub use decoder::{Decoded, Decoder};
pub use framer::{Content, Framer, Protocol, Protocols, Span};
