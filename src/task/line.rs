//! What the optical readout tasks (IEC 61107 and KMP) share: the line's bytes through the
//! pipeline, and one wait for bytes, the session's deadline or a cancel.

use crate::link::{BoxOptical, io_reason};
use crate::wire::{Chunk, Direction, Link, Pipeline, RecordError, SpanRecord};
use chrono::{DateTime, Utc};
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// What one wait on the optical line brought.
pub(crate) enum Wake {
    Bytes(Vec<u8>),
    /// The port closed or failed: why.
    Lost(String),
    /// The session's deadline passed.
    Deadline,
    Cancelled,
}

/// The events a readout task sends that carry the line's spans.
pub(crate) trait LineEvent: Send {
    fn span(s: SpanRecord) -> Self;
    fn record_error(e: RecordError) -> Self;
}

impl LineEvent for crate::wire::OpticalEvent {
    fn span(s: SpanRecord) -> Self {
        Self::Span(Box::new(s))
    }
    fn record_error(e: RecordError) -> Self {
        Self::RecordError(e)
    }
}

impl LineEvent for crate::wire::kmp::KmpEvent {
    fn span(s: SpanRecord) -> Self {
        Self::Span(Box::new(s))
    }
    fn record_error(e: RecordError) -> Self {
        Self::RecordError(e)
    }
}

/// A readout task's state: its session, the line's pipeline, and where its events go.
pub(crate) struct LineTask<S, E> {
    pub port: String,
    pub started_at: Instant,
    pub started: DateTime<Utc>,
    pub session: S,
    pub pipeline: Pipeline,
    pub events: mpsc::Sender<E>,
}

impl<S, E: LineEvent> LineTask<S, E> {
    pub fn new(port: String, session: S, pipeline: Pipeline, events: mpsc::Sender<E>) -> Self {
        LineTask {
            port,
            started_at: Instant::now(),
            started: Utc::now(),
            session,
            pipeline,
            events,
        }
    }

    /// Milliseconds since the task started: the session's clock.
    pub fn now(&self) -> u64 {
        self.started_at.elapsed().as_millis() as u64
    }

    pub async fn emit(&self, e: E) {
        let _ = self.events.send(e).await;
    }

    /// Bytes sent or received: recorded, framed for the inspector.
    pub async fn bytes(&mut self, dir: Direction, bytes: &[u8]) {
        let (spans, error) = spans(&mut self.pipeline, dir, bytes);
        if let Some(e) = error {
            self.emit(E::record_error(e)).await;
        }
        for s in spans {
            self.emit(E::span(s)).await;
        }
    }

    /// The deadline of the session as an instant.
    pub fn instant(&self, deadline: u64) -> Instant {
        self.started_at + std::time::Duration::from_millis(deadline)
    }

    /// Whatever is pending on the line, framed and sent as spans (the readout ended).
    pub async fn flush(&mut self) {
        for s in self.pipeline.flush_records(Utc::now()) {
            self.emit(E::span(s)).await;
        }
    }
}

/// A readout session's inputs, the same for IEC 61107 and KMP.
pub(crate) trait LineSession {
    type Action;
    fn on_bytes(&mut self, bytes: &[u8], now: u64) -> Vec<Self::Action>;
    fn on_tick(&mut self, now: u64) -> Vec<Self::Action>;
    fn on_link_lost(&mut self, reason: &str);
    fn cancel(&mut self);
}

macro_rules! line_session {
    ($session:ty, $action:ty) => {
        impl LineSession for $session {
            type Action = $action;
            fn on_bytes(&mut self, bytes: &[u8], now: u64) -> Vec<$action> {
                <$session>::on_bytes(self, bytes, now)
            }
            fn on_tick(&mut self, now: u64) -> Vec<$action> {
                <$session>::on_tick(self, now)
            }
            fn on_link_lost(&mut self, reason: &str) {
                <$session>::on_link_lost(self, reason)
            }
            fn cancel(&mut self) {
                <$session>::cancel(self)
            }
        }
    };
}

line_session!(
    crate::protocol::iec_session::ReadoutSession,
    crate::protocol::iec_session::Action
);
line_session!(
    crate::protocol::kmp_session::KmpSession,
    crate::protocol::kmp_session::Action
);

/// Gives what a wait brought to the session: the actions it answers with.
pub(crate) fn apply<S: LineSession>(session: &mut S, wake: &Wake, now: u64) -> Vec<S::Action> {
    match wake {
        Wake::Bytes(bytes) => session.on_bytes(bytes, now),
        Wake::Lost(reason) => {
            session.on_link_lost(reason);
            Vec::new()
        }
        Wake::Deadline => session.on_tick(now),
        Wake::Cancelled => {
            session.cancel();
            Vec::new()
        }
    }
}

/// Waits for bytes from the meter, the deadline, or a cancel, whichever comes first.
pub(crate) async fn wait(
    link: &mut BoxOptical,
    deadline: Instant,
    cancel: &mut mpsc::Receiver<()>,
) -> Wake {
    let mut buf = [0u8; 512];
    tokio::select! {
        r = link.read(&mut buf) => match r {
            Ok(0) => Wake::Lost("end of stream".into()),
            Err(e) => Wake::Lost(io_reason(&e)),
            Ok(n) => Wake::Bytes(buf[..n].to_vec()),
        },
        () = tokio::time::sleep_until(deadline) => Wake::Deadline,
        _ = cancel.recv() => Wake::Cancelled,
    }
}

/// Bytes sent or received on the optical line, recorded and framed: the spans for the
/// inspector, and the recording's failure (logged here, to be reported by the caller).
fn spans(
    pipeline: &mut Pipeline,
    dir: Direction,
    bytes: &[u8],
) -> (Vec<SpanRecord>, Option<RecordError>) {
    let chunk = Chunk {
        t: Utc::now(),
        link: Link::Optical,
        dir,
        bytes: bytes.to_vec(),
    };
    let (spans, recorded) = pipeline.records_of(&chunk);
    let error = recorded.err();
    if let Some(e) = &error {
        tracing::error!("{e}");
    }
    (spans, error)
}
