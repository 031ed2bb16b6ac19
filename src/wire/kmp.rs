//! What the KMP readout task tells the app or `kamscope read`: where a readout stands, the spans
//! it sent and received, and the finished readout with its registers (the Readout tab lists them
//! with units and the verdict).

use super::{FieldDetail, SpanRecord};
use crate::protocol::kmp::Variant;
use crate::protocol::kmp_register::Register;
use crate::protocol::kmp_session::Verdict;
use chrono::{DateTime, Utc};

/// The variant's name as the command line and the JSON output spell it.
pub fn variant_name(v: Variant) -> &'static str {
    match v {
        Variant::AsciiHex => "ascii-hex",
        Variant::Binary => "binary",
    }
}

/// Where a KMP readout stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmpStatus {
    pub port: String,
    pub variant: Variant,
    /// Requests answered so far, of `steps`.
    pub step: usize,
    pub steps: usize,
    /// Try of the current request (0 when none is waiting).
    pub attempt: u8,
    pub echo_seen: bool,
    pub done: bool,
    pub elapsed_ms: u64,
}

/// A finished KMP readout.
#[derive(Debug, Clone, PartialEq)]
pub struct KmpResult {
    pub port: String,
    pub started: DateTime<Utc>,
    pub duration_ms: u64,
    pub variant: Variant,
    pub verdict: Verdict,
    /// The named registers (and binary registers by id) in request order, as far as they came.
    pub registers: Vec<Register>,
    pub echo_seen: bool,
}

impl KmpResult {
    /// The registers in the field shape shared with HAN, IEC and M-Bus.
    pub fn fields(&self) -> Vec<FieldDetail> {
        self.registers.iter().map(FieldDetail::of_kmp).collect()
    }
}

#[derive(Debug, Clone)]
pub enum KmpEvent {
    Status(KmpStatus),
    /// A framed span, received or sent, for the inspector.
    Span(Box<SpanRecord>),
    RecordError(super::RecordError),
    Done(Box<KmpResult>),
}
