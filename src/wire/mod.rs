//! What came down the wire, as the rest of kamscope sees it: the owned span record, the link state,
//! the events and commands the tasks exchange with the app, the optical readout's status and
//! result, the capture format and the typed description of a span (JSON and text).
//!
//! No I/O here: the tasks (which do the I/O), the app and the screens all use these types, and
//! this module uses nothing above the protocol code.

pub mod capture;
pub mod detail;
pub mod detect;
pub mod hex;
pub mod kmp;
pub mod line;
pub mod mbus;
pub mod optical;
pub mod pipeline;
pub mod summary;
pub mod text;

use crate::protocol::han::Scaling;
use crate::protocol::{Content, Decoded, Protocol};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use capture::{Chunk, Direction};
pub use detail::{FieldDetail, SpanDetail};
pub use mbus::{MbusEvent, MbusResult, MbusStatus};
pub use optical::{
    OpticalEvent, ReadoutEvent, ReadoutPhase, ReadoutProtocol, ReadoutResult, ReadoutStatus,
};
pub use pipeline::{ChunkSink, Pipeline, RecordError, SharedRecorder};

/// Which line of the meter a span came from or went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Link {
    /// The HAN port (push from the meter).
    #[default]
    Han,
    /// The optical head or bus readout (we ask, the meter answers).
    Optical,
}

impl Link {
    pub fn name(self) -> &'static str {
        match self {
            Link::Han => "han",
            Link::Optical => "optical",
        }
    }
}

/// A span with everything the app needs, owned.
#[derive(Debug, Clone)]
pub struct SpanRecord {
    pub link: Link,
    /// Received from the meter, or sent by us (optical readout requests).
    pub dir: Direction,
    /// When the span's last byte arrived.
    pub received: DateTime<Utc>,
    /// Offset of the first byte in this link and direction's stream.
    pub offset: u64,
    pub bytes: Vec<u8>,
    /// The frame and its checks, as the framer found it.
    pub content: Content,
    pub decoded: Decoded,
}

impl SpanRecord {
    /// Whether the frame passed every check (the framer's and the decoder's). Junk never does.
    pub fn ok(&self) -> bool {
        crate::protocol::decoder::span_ok(&self.content, &self.decoded)
    }

    pub fn protocol(&self) -> Protocol {
        self.content.protocol()
    }

    /// The framer's view of this span, for the protocol code.
    pub fn span(&self) -> crate::protocol::Span<'_> {
        crate::protocol::Span {
            offset: self.offset,
            bytes: &self.bytes,
            content: self.content.clone(),
        }
    }
}

/// Where a link stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkState {
    Connecting,
    Connected,
    /// The link failed or is not there: retrying.
    Waiting {
        reason: String,
    },
    /// A replay has played to its end.
    Ended,
}

/// What the HAN reader task tells the app.
#[derive(Debug, Clone)]
pub enum HanEvent {
    Link(LinkState),
    /// Bytes arrived (for counters and "no data yet").
    Bytes {
        at: DateTime<Utc>,
        count: usize,
    },
    Span(Box<SpanRecord>),
    /// Recording failed: the app must say so (nothing recorded may be lost silently).
    RecordError(pipeline::RecordError),
}

/// What the app asks of the HAN reader task.
#[derive(Debug)]
pub enum HanCommand {
    SetScaling(Scaling),
    Stop,
}
