//! What the optical readout task tells the app: where a readout stands, the spans it sent and
//! received, and the finished readout.

use super::SpanRecord;
use crate::protocol::iec_session::Verdict;
use crate::protocol::iec61107::{DataBlock, Identification};
use chrono::{DateTime, Utc};
use std::fmt;

/// The step a readout is at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadoutPhase {
    /// Asked for, the port not open yet.
    Starting,
    WaitingForIdentification,
    SwitchingSpeed,
    WaitingForData,
    ReadingData,
    Done,
}

impl fmt::Display for ReadoutPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ReadoutPhase::Starting => "starting",
            ReadoutPhase::WaitingForIdentification => "waiting for the identification",
            ReadoutPhase::SwitchingSpeed => "switching speed",
            ReadoutPhase::WaitingForData => "waiting for the data block",
            ReadoutPhase::ReadingData => "reading the data block",
            ReadoutPhase::Done => "done",
        })
    }
}

/// Where a readout stands, for the progress display.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadoutStatus {
    pub port: String,
    pub phase: ReadoutPhase,
    pub attempt: u8,
    pub ident: Option<Identification>,
    pub echo_seen: bool,
    pub baud: u32,
    pub bytes: usize,
    pub lines: usize,
    pub elapsed_ms: u64,
    /// Estimated time left, when the number of lines can be expected.
    pub eta_ms: Option<u64>,
}

impl ReadoutStatus {
    /// A readout just asked for, on `port`.
    pub fn starting(port: String) -> Self {
        ReadoutStatus {
            port,
            phase: ReadoutPhase::Starting,
            attempt: 0,
            ident: None,
            echo_seen: false,
            baud: 300,
            bytes: 0,
            lines: 0,
            elapsed_ms: 0,
            eta_ms: None,
        }
    }
}

/// A finished readout.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadoutResult {
    pub port: String,
    pub started: DateTime<Utc>,
    pub duration_ms: u64,
    pub ident: Option<Identification>,
    /// The data block as received (from STX), and parsed.
    pub raw_block: Vec<u8>,
    pub block: DataBlock,
    pub verdict: Verdict,
    pub baud: u32,
    pub echo_seen: bool,
}

#[derive(Debug, Clone)]
pub enum OpticalEvent {
    Status(ReadoutStatus),
    /// A framed span, received or sent, for the inspector.
    Span(Box<SpanRecord>),
    RecordError(super::RecordError),
    Done(Box<ReadoutResult>),
}
