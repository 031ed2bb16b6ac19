//! What the M-Bus readout task tells the app and the `read` command: where a readout stands, the
//! spans it sent and received, and the finished readout (telegrams, or the meters a scan found).

use super::{RecordError, SpanDetail, SpanRecord};
use crate::protocol::mbus::session::{FoundMeter, Step, Target, Verdict};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// Where a readout stands, for a progress display.
#[derive(Debug, Clone, PartialEq)]
pub struct MbusStatus {
    pub port: String,
    /// The request waiting for its answer; `None` once done.
    pub step: Option<Step>,
    pub attempt: u8,
    pub telegrams: usize,
    pub meters: usize,
    pub echo_seen: bool,
    pub elapsed_ms: u64,
}

/// A finished M-Bus readout or scan.
#[derive(Debug, Clone)]
pub struct MbusResult {
    pub port: String,
    pub started: DateTime<Utc>,
    pub duration_ms: u64,
    pub target: Target,
    pub verdict: Verdict,
    /// The RSP_UD telegrams read (good checksums), in order, as the inspector shows them.
    pub telegrams: Vec<SpanRecord>,
    /// What a scan found.
    pub meters: Vec<FoundMeter>,
    /// The level converter echoed our frames.
    pub echo_seen: bool,
}

#[derive(Debug, Clone)]
pub enum MbusEvent {
    Status(MbusStatus),
    /// A framed span, received or sent, for the inspector.
    Span(Box<SpanRecord>),
    RecordError(RecordError),
    Done(Box<MbusResult>),
}

/// A meter a scan found, for JSON and lists.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FoundMeterDetail {
    pub primary: u8,
    pub id: String,
    pub manufacturer: String,
    pub version: u8,
    pub medium: String,
    pub medium_name: &'static str,
}

impl FoundMeterDetail {
    pub fn of(m: &FoundMeter) -> Self {
        FoundMeterDetail {
            primary: m.primary,
            id: m.id.clone(),
            manufacturer: m.manufacturer.clone(),
            version: m.version,
            medium: format!("0x{:02X}", m.medium),
            medium_name: m.medium_name(),
        }
    }

    /// One line: primary address, secondary id, manufacturer, version, medium.
    pub fn line(&self) -> String {
        format!(
            "primary {:>3}  secondary {}  {}  version {}  {} ({})",
            self.primary, self.id, self.manufacturer, self.version, self.medium_name, self.medium
        )
    }
}

/// A finished readout as one JSON document: the telegrams in the shape `decode` prints spans.
#[derive(Debug, Clone, Serialize)]
pub struct MbusReadoutDetail {
    pub protocol: &'static str,
    pub port: String,
    pub target: String,
    pub started: String,
    pub duration_ms: u64,
    pub echo: bool,
    pub verdict: &'static str,
    pub verdict_text: String,
    pub telegrams: Vec<SpanDetail>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meters: Option<Vec<FoundMeterDetail>>,
}

impl MbusReadoutDetail {
    pub fn of(r: &MbusResult) -> Self {
        MbusReadoutDetail {
            protocol: "mbus",
            port: r.port.clone(),
            target: r.target.to_string(),
            started: r
                .started
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            duration_ms: r.duration_ms,
            echo: r.echo_seen,
            verdict: r.verdict.name(),
            verdict_text: r.verdict.describe(),
            telegrams: r
                .telegrams
                .iter()
                .map(|s| SpanDetail::of(&s.span(), &s.decoded))
                .collect(),
            meters: (r.target == Target::Scan)
                .then(|| r.meters.iter().map(FoundMeterDetail::of).collect()),
        }
    }
}
