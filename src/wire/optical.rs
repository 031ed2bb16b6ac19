//! What the optical readout task tells the app: where a readout stands, the spans it sent and
//! received, and the finished readout.

use super::SpanRecord;
use crate::protocol::iec_session::Verdict;
use crate::protocol::iec61107::{DataBlock, Identification};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The protocol a readout speaks on the optical head or the bus. The 685-382 answers IEC 61107
/// and KMP on the same head; M-Bus needs a bus level converter.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum ReadoutProtocol {
    /// IEC 61107 (IEC 62056-21) mode A/B/C readout: 300 baud 7E1, then the meter's speed.
    #[default]
    Iec,
    /// Kamstrup Meter Protocol: the 685-382's ASCII-hex variant or binary KMP.
    Kmp,
    /// M-Bus (EN 13757): 2400 baud 8E1 through a level converter.
    Mbus,
}

impl ReadoutProtocol {
    pub const ALL: [ReadoutProtocol; 3] = [
        ReadoutProtocol::Iec,
        ReadoutProtocol::Kmp,
        ReadoutProtocol::Mbus,
    ];

    /// The name in the config and on the command line.
    pub fn key(self) -> &'static str {
        match self {
            ReadoutProtocol::Iec => "iec",
            ReadoutProtocol::Kmp => "kmp",
            ReadoutProtocol::Mbus => "mbus",
        }
    }

    /// The name on screen.
    pub fn title(self) -> &'static str {
        match self {
            ReadoutProtocol::Iec => "IEC 61107",
            ReadoutProtocol::Kmp => "KMP",
            ReadoutProtocol::Mbus => "M-Bus",
        }
    }

    /// The next protocol in [`Self::ALL`], for the key that cycles them.
    pub fn next(self) -> Self {
        let i = Self::ALL.iter().position(|p| *p == self).unwrap_or(0);
        Self::ALL[(i + 1) % Self::ALL.len()]
    }
}

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

/// Any readout task's event, as the app takes it: each protocol's task reports in its own terms.
#[derive(Debug, Clone)]
pub enum ReadoutEvent {
    Iec(OpticalEvent),
    Kmp(super::kmp::KmpEvent),
    Mbus(super::mbus::MbusEvent),
}
