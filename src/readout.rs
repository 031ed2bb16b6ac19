//! The optical readout task: opens the optical head's port, runs a [`ReadoutSession`] over it,
//! records every byte both ways, frames them for the inspector, and reports progress and the
//! verdict. Used by the Readout tab and by `kamscope read`.

use crate::link::OpticalConnector;
use crate::link::capture::{Chunk, Direction, SharedRecorder};
use crate::protocol::iec61107::{DataBlock, Identification, parse_data_block};
use crate::protocol::readout::{Action, Phase, ReadoutOptions, ReadoutSession, Verdict};
use crate::protocol::{Decoder, Framer, Protocols};
use crate::reader::{SpanRecord, record_chunk};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Where a readout stands, for the progress display.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadoutStatus {
    pub port: String,
    pub phase: &'static str,
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
pub enum ReadoutEvent {
    Status(ReadoutStatus),
    /// A framed span, received or sent, for the inspector.
    Span(Box<SpanRecord>),
    RecordError(String),
    Done(Box<ReadoutResult>),
}

/// Lines the known meters send, for the time estimate.
pub fn expected_lines(ident: &Identification) -> Option<usize> {
    match ident.ident.as_str() {
        i if i.starts_with("685351") => Some(17),
        i if i.starts_with("685-382") => Some(8),
        _ => None,
    }
}

struct Task {
    port: String,
    started_at: Instant,
    started: DateTime<Utc>,
    session: ReadoutSession,
    framers: [Framer; 2],
    decoder: Decoder,
    recorder: Option<SharedRecorder>,
    events: mpsc::Sender<ReadoutEvent>,
}

impl Task {
    fn now(&self) -> u64 {
        self.started_at.elapsed().as_millis() as u64
    }

    async fn emit(&self, e: ReadoutEvent) {
        let _ = self.events.send(e).await;
    }

    async fn bytes(&mut self, dir: Direction, bytes: &[u8], flush: bool) {
        let at = Utc::now();
        if let Some(rec) = &self.recorder
            && let Err(e) = record_chunk(
                rec,
                &Chunk {
                    t: at,
                    dir,
                    bytes: bytes.to_vec(),
                },
            )
        {
            self.recorder = None;
            self.emit(ReadoutEvent::RecordError(e)).await;
        }
        let i = usize::from(dir == Direction::Tx);
        self.framers[i].push(bytes);
        if flush {
            self.framers[i].finish();
        }
        self.drain(dir, at).await;
    }

    /// Sends the spans framed so far in one direction to the inspector.
    async fn drain(&mut self, dir: Direction, at: DateTime<Utc>) {
        let i = usize::from(dir == Direction::Tx);
        let mut spans = Vec::new();
        while let Some(span) = self.framers[i].next_span() {
            let decoded = self.decoder.decode(&span);
            spans.push(SpanRecord {
                received: at,
                offset: span.offset,
                bytes: span.bytes.to_vec(),
                content: span.content,
                decoded,
                dir,
                compact: false,
            });
        }
        for s in spans {
            self.emit(ReadoutEvent::Span(Box::new(s))).await;
        }
    }

    fn status(&self) -> ReadoutStatus {
        let (bytes, lines) = self.session.progress();
        let now = self.now();
        ReadoutStatus {
            port: self.port.clone(),
            phase: match &self.session.phase {
                Phase::SignOn { .. } => "waiting for the identification",
                Phase::Switching { .. } => "switching speed",
                Phase::Data if bytes == 0 => "waiting for the data block",
                Phase::Data => "reading the data block",
                Phase::Done(_) => "done",
            },
            attempt: match self.session.phase {
                Phase::SignOn { attempt, .. } => attempt,
                _ => 0,
            },
            ident: self.session.ident.clone(),
            echo_seen: self.session.echo_seen,
            baud: self.session.baud,
            bytes,
            lines,
            elapsed_ms: now,
            eta_ms: self
                .session
                .ident
                .as_ref()
                .and_then(expected_lines)
                .and_then(|n| self.session.eta(now, Some(n))),
        }
    }
}

/// Runs one readout. `cancel` ends it early (the port is closed cleanly).
pub async fn run(
    connector: Arc<dyn OpticalConnector>,
    options: ReadoutOptions,
    recorder: Option<SharedRecorder>,
    events: mpsc::Sender<ReadoutEvent>,
    mut cancel: mpsc::Receiver<()>,
) {
    let port = connector.describe();
    let started_at = Instant::now();
    let mut task = Task {
        port: port.clone(),
        started_at,
        started: Utc::now(),
        session: ReadoutSession::new(options, 0),
        framers: [
            Framer::new(Protocols {
                iec61107: true,
                ..Protocols::NONE
            }),
            Framer::new(Protocols {
                iec61107: true,
                ..Protocols::NONE
            }),
        ],
        decoder: Decoder::default(),
        recorder,
        events,
    };
    let mut link = match connector.open().await {
        Ok(l) => l,
        Err(e) => {
            let reason = crate::input::io_reason(&e);
            task.session.phase = Phase::Done(Verdict::PortError { reason });
            finish(task).await;
            return;
        }
    };
    let mut actions = task.session.start(0);
    let mut buf = [0u8; 512];
    loop {
        for action in actions.drain(..) {
            match action {
                Action::Send(bytes) => {
                    if let Err(e) = link.write_all(&bytes).await {
                        task.session.phase = Phase::Done(Verdict::PortError {
                            reason: crate::input::io_reason(&e),
                        });
                    }
                    task.bytes(Direction::Tx, &bytes, true).await;
                }
                Action::SetBaud(baud) => {
                    if let Err(e) = link.set_baud(baud) {
                        task.session.phase = Phase::Done(Verdict::PortError {
                            reason: format!(
                                "cannot switch to {baud} baud: {}",
                                crate::input::io_reason(&e)
                            ),
                        });
                    }
                }
            }
        }
        task.emit(ReadoutEvent::Status(task.status())).await;
        let Some(deadline) = task.session.deadline() else {
            break;
        };
        let wake = started_at + std::time::Duration::from_millis(deadline);
        tokio::select! {
            r = link.read(&mut buf) => match r {
                Ok(0) => task.session.on_link_lost("end of stream"),
                Err(e) => task.session.on_link_lost(&crate::input::io_reason(&e)),
                Ok(n) => {
                    let bytes = buf[..n].to_vec();
                    let now = task.now();
                    task.bytes(Direction::Rx, &bytes, false).await;
                    actions = task.session.on_bytes(&bytes, now);
                }
            },
            () = tokio::time::sleep_until(wake) => {
                let now = task.now();
                actions = task.session.on_tick(now);
            }
            _ = cancel.recv() => {
                task.session.cancel();
                actions = Vec::new();
            }
        }
    }
    let _ = link.shutdown().await;
    drop(link);
    finish(task).await;
}

async fn finish(mut task: Task) {
    // Whatever arrived is framed and shown, complete or not.
    let at = Utc::now();
    for (i, dir) in [Direction::Rx, Direction::Tx].into_iter().enumerate() {
        task.framers[i].finish();
        task.drain(dir, at).await;
    }
    task.emit(ReadoutEvent::Status(task.status())).await;
    let raw_block = task.session.block().to_vec();
    let result = ReadoutResult {
        port: task.port.clone(),
        started: task.started,
        duration_ms: task.now(),
        ident: task.session.ident.clone(),
        block: parse_data_block(&raw_block),
        raw_block,
        verdict: task.session.done().cloned().unwrap_or(Verdict::Cancelled),
        baud: task.session.baud,
        echo_seen: task.session.echo_seen,
    };
    task.emit(ReadoutEvent::Done(Box::new(result))).await;
}

/// Starts a readout on the current runtime; drop or send on the returned sender to cancel.
pub fn spawn(
    connector: Arc<dyn OpticalConnector>,
    options: ReadoutOptions,
    recorder: Option<SharedRecorder>,
) -> (mpsc::Receiver<ReadoutEvent>, mpsc::Sender<()>) {
    let (etx, erx) = mpsc::channel(256);
    let (ctx, crx) = mpsc::channel(1);
    tokio::spawn(run(connector, options, recorder, etx, crx));
    (erx, ctx)
}
