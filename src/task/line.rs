//! What the optical line's readout tasks (IEC 61107, KMP, M-Bus) share: one loop that opens
//! the port, sends what the session asks, gives it what comes back (or its deadline, or a
//! cancel), and sends every byte both ways through the line's pipeline.

use crate::link::{BoxOptical, OpticalConnector, io_reason};
use crate::wire::{Chunk, Direction, Link, Pipeline, RecordError, SpanRecord};
use chrono::{DateTime, Utc};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// What one wait on the optical line brought.
enum Wake {
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

macro_rules! line_event {
    ($event:ty) => {
        impl LineEvent for $event {
            fn span(s: SpanRecord) -> Self {
                Self::Span(Box::new(s))
            }
            fn record_error(e: RecordError) -> Self {
                Self::RecordError(e)
            }
        }
    };
}

line_event!(crate::wire::OpticalEvent);
line_event!(crate::wire::kmp::KmpEvent);
line_event!(crate::wire::MbusEvent);

/// A readout task's state: its session, the line's pipeline, and where its events go.
pub(crate) struct LineTask<S, E> {
    pub port: String,
    pub started_at: Instant,
    pub started: DateTime<Utc>,
    pub session: S,
    pub pipeline: Pipeline,
    pub events: mpsc::Sender<E>,
    /// Which framed spans the task keeps for its result (M-Bus hands its telegrams over as
    /// the inspector framed them); none unless set with [`keeping`](Self::keeping).
    keep: fn(&SpanRecord) -> bool,
    /// The spans kept, in the order they were framed.
    pub kept: Vec<SpanRecord>,
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
            keep: |_| false,
            kept: Vec::new(),
        }
    }

    /// Keeps the framed spans `keep` picks in [`kept`](Self::kept).
    pub fn keeping(self, keep: fn(&SpanRecord) -> bool) -> Self {
        LineTask { keep, ..self }
    }

    /// Milliseconds since the task started: the session's clock.
    pub fn now(&self) -> u64 {
        self.started_at.elapsed().as_millis() as u64
    }

    pub async fn emit(&self, e: E) {
        let _ = self.events.send(e).await;
    }

    /// Bytes sent or received: recorded, framed for the inspector.
    async fn bytes(&mut self, dir: Direction, bytes: &[u8]) {
        let (spans, error) = spans(&mut self.pipeline, dir, bytes);
        if let Some(e) = error {
            self.emit(E::record_error(e)).await;
        }
        self.send_spans(spans).await;
    }

    async fn send_spans(&mut self, spans: Vec<SpanRecord>) {
        for s in spans {
            if (self.keep)(&s) {
                self.kept.push(s.clone());
            }
            self.emit(E::span(s)).await;
        }
    }

    /// The deadline of the session as an instant.
    fn instant(&self, deadline: u64) -> Instant {
        self.started_at + std::time::Duration::from_millis(deadline)
    }

    /// Whatever is pending on the line, framed and sent as spans (the readout ended).
    pub async fn flush(&mut self) {
        let rest = self.pipeline.flush_records(Utc::now());
        self.send_spans(rest).await;
    }
}

impl<S: LineSession, E: LineEvent> LineTask<S, E> {
    /// Opens the port and runs the session over it to its end: what it asks is sent (and
    /// recorded, framed), what comes back or a deadline is given to it, and `status` is sent
    /// after each round. The port is closed cleanly at the end; a port that cannot be opened
    /// ends the session with the reason. `cancel` ends it early.
    pub async fn drive(
        &mut self,
        connector: &dyn OpticalConnector,
        cancel: &mut mpsc::Receiver<()>,
        status: fn(&Self) -> E,
    ) {
        let mut link = match connector.open().await {
            Ok(l) => l,
            Err(e) => {
                self.session.on_port_error(io_reason(&e));
                return;
            }
        };
        let mut actions = self.session.start(0);
        loop {
            for action in actions.drain(..) {
                match action.into() {
                    LineAction::Send(bytes) => {
                        if let Err(e) = link.write_all(&bytes).await {
                            self.session.on_port_error(io_reason(&e));
                        }
                        self.bytes(Direction::Tx, &bytes).await;
                    }
                    LineAction::SetBaud(baud) => {
                        tracing::info!(baud, "readout switches speed");
                        if let Err(e) = link.set_baud(baud) {
                            self.session.on_port_error(format!(
                                "cannot switch to {baud} baud: {}",
                                io_reason(&e)
                            ));
                        }
                    }
                }
            }
            self.emit(status(self)).await;
            let Some(deadline) = self.session.deadline() else {
                break;
            };
            let woke = wait(&mut link, self.instant(deadline), cancel).await;
            let now = self.now();
            if let Wake::Bytes(bytes) = &woke {
                self.bytes(Direction::Rx, bytes).await;
            }
            actions = apply(&mut self.session, &woke, now);
        }
        let _ = link.shutdown().await;
    }
}

/// What a session asks of the line.
pub(crate) enum LineAction {
    Send(Vec<u8>),
    /// Change the port speed (data bits and parity stay).
    SetBaud(u32),
}

impl From<crate::protocol::iec_session::Action> for LineAction {
    fn from(a: crate::protocol::iec_session::Action) -> Self {
        use crate::protocol::iec_session::Action;
        match a {
            Action::Send(bytes) => LineAction::Send(bytes),
            Action::SetBaud(baud) => LineAction::SetBaud(baud),
        }
    }
}

impl From<crate::protocol::kmp_session::Action> for LineAction {
    fn from(
        crate::protocol::kmp_session::Action::Send(bytes): crate::protocol::kmp_session::Action,
    ) -> Self {
        LineAction::Send(bytes)
    }
}

impl From<crate::protocol::mbus::session::Action> for LineAction {
    fn from(
        crate::protocol::mbus::session::Action::Send(bytes): crate::protocol::mbus::session::Action,
    ) -> Self {
        LineAction::Send(bytes)
    }
}

/// A readout session's inputs, the same for IEC 61107, KMP and M-Bus.
pub(crate) trait LineSession {
    type Action: Into<LineAction>;
    fn start(&mut self, now: u64) -> Vec<Self::Action>;
    /// When `on_tick` is due; `None` once the session is over.
    fn deadline(&self) -> Option<u64>;
    fn on_bytes(&mut self, bytes: &[u8], now: u64) -> Vec<Self::Action>;
    fn on_tick(&mut self, now: u64) -> Vec<Self::Action>;
    fn on_port_error(&mut self, reason: String);
    fn on_link_lost(&mut self, reason: &str);
    fn cancel(&mut self);
}

macro_rules! line_session {
    ($session:ty, $action:ty) => {
        impl LineSession for $session {
            type Action = $action;
            fn start(&mut self, now: u64) -> Vec<$action> {
                <$session>::start(self, now)
            }
            fn deadline(&self) -> Option<u64> {
                <$session>::deadline(self)
            }
            fn on_bytes(&mut self, bytes: &[u8], now: u64) -> Vec<$action> {
                <$session>::on_bytes(self, bytes, now)
            }
            fn on_tick(&mut self, now: u64) -> Vec<$action> {
                <$session>::on_tick(self, now)
            }
            fn on_port_error(&mut self, reason: String) {
                <$session>::on_port_error(self, reason)
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
line_session!(
    crate::protocol::mbus::session::MbusSession,
    crate::protocol::mbus::session::Action
);

/// Gives what a wait brought to the session: the actions it answers with.
fn apply<S: LineSession>(session: &mut S, wake: &Wake, now: u64) -> Vec<S::Action> {
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
async fn wait(link: &mut BoxOptical, deadline: Instant, cancel: &mut mpsc::Receiver<()>) -> Wake {
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
