//! The M-Bus readout task: opens the level converter's port (through the same
//! [`OpticalConnector`] the optical readout uses), runs an [`MbusSession`] over it, sends every
//! byte both ways through a pipeline (recording, framing for the inspector; the converter's echo
//! is marked there as the optical head's is), and reports progress and the result. Used by
//! `kamscope read --protocol mbus`.

use crate::link::{OpticalConnector, io_reason};
use crate::protocol::mbus::session::{Action, MbusOptions, MbusSession, Phase, Verdict};
use crate::protocol::{Content, Decoder, Protocols};
use crate::wire::{
    Chunk, Direction, Link, MbusEvent, MbusResult, MbusStatus, Pipeline, SharedRecorder, SpanRecord,
};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// The bus line's pipeline for one readout: M-Bus both ways. The bus is recorded as the readout
/// line ([`Link::Optical`]: "we ask, the meter answers").
pub fn mbus_pipeline(recorder: Option<SharedRecorder>) -> Pipeline {
    Pipeline::new(
        Link::Optical,
        Protocols {
            mbus: true,
            ..Protocols::NONE
        },
        Decoder::default(),
        recorder,
    )
}

struct Task {
    port: String,
    started_at: Instant,
    started: DateTime<Utc>,
    session: MbusSession,
    pipeline: Pipeline,
    /// Received M-Bus frames, to hand the session's telegrams over as the inspector framed them.
    received: Vec<SpanRecord>,
    events: mpsc::Sender<MbusEvent>,
}

impl Task {
    fn now(&self) -> u64 {
        self.started_at.elapsed().as_millis() as u64
    }

    async fn emit(&self, e: MbusEvent) {
        let _ = self.events.send(e).await;
    }

    async fn spans(&mut self, spans: Vec<SpanRecord>) {
        for s in spans {
            if s.dir == Direction::Rx && matches!(s.content, Content::Mbus(_)) {
                self.received.push(s.clone());
            }
            self.emit(MbusEvent::Span(Box::new(s))).await;
        }
    }

    /// Bytes sent or received: recorded, framed for the inspector.
    async fn bytes(&mut self, dir: Direction, bytes: &[u8]) {
        let chunk = Chunk {
            t: Utc::now(),
            link: Link::Optical,
            dir,
            bytes: bytes.to_vec(),
        };
        let (spans, recorded) = self.pipeline.records_of(&chunk);
        if let Err(e) = recorded {
            tracing::error!("{e}");
            self.emit(MbusEvent::RecordError(e)).await;
        }
        self.spans(spans).await;
    }

    fn status(&self) -> MbusStatus {
        let (step, attempt) = match self.session.phase() {
            Phase::Waiting { step, attempt } => (Some(*step), *attempt),
            _ => (None, 0),
        };
        MbusStatus {
            port: self.port.clone(),
            step,
            attempt,
            telegrams: self.session.telegrams().len(),
            meters: self.session.meters().len(),
            echo_seen: self.session.echo_seen(),
            elapsed_ms: self.now(),
        }
    }
}

/// Runs one readout or scan. `cancel` ends it early (the port is closed cleanly).
pub async fn run(
    connector: Arc<dyn OpticalConnector>,
    options: MbusOptions,
    recorder: Option<SharedRecorder>,
    events: mpsc::Sender<MbusEvent>,
    mut cancel: mpsc::Receiver<()>,
) {
    let port = connector.describe();
    tracing::info!(%port, target = %options.target, "M-Bus readout started");
    let started_at = Instant::now();
    let mut task = Task {
        port,
        started_at,
        started: Utc::now(),
        session: MbusSession::new(options, 0),
        pipeline: mbus_pipeline(recorder),
        received: Vec::new(),
        events,
    };
    let mut link = match connector.open().await {
        Ok(l) => l,
        Err(e) => {
            task.session.on_port_error(io_reason(&e));
            finish(task).await;
            return;
        }
    };
    let mut actions = task.session.start(0);
    let mut buf = [0u8; 512];
    loop {
        for Action::Send(bytes) in actions.drain(..) {
            if let Err(e) = link.write_all(&bytes).await {
                task.session.on_port_error(io_reason(&e));
            }
            task.bytes(Direction::Tx, &bytes).await;
        }
        task.emit(MbusEvent::Status(task.status())).await;
        let Some(deadline) = task.session.deadline() else {
            break;
        };
        let wake = started_at + std::time::Duration::from_millis(deadline);
        tokio::select! {
            r = link.read(&mut buf) => match r {
                Ok(0) => task.session.on_link_lost("end of stream"),
                Err(e) => task.session.on_link_lost(&io_reason(&e)),
                Ok(n) => {
                    let bytes = buf[..n].to_vec();
                    let now = task.now();
                    task.bytes(Direction::Rx, &bytes).await;
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
    // Whatever arrived is framed and shown (an acknowledgement, a cut-off frame).
    let rest = task.pipeline.flush_records(Utc::now());
    task.spans(rest).await;
    task.emit(MbusEvent::Status(task.status())).await;
    let telegrams = telegram_spans(&task.received, task.session.telegrams());
    let result = MbusResult {
        port: task.port.clone(),
        started: task.started,
        duration_ms: task.now(),
        target: task.session.options().target.clone(),
        verdict: task.session.done().cloned().unwrap_or(Verdict::Cancelled),
        telegrams,
        meters: task.session.meters().to_vec(),
        echo_seen: task.session.echo_seen(),
    };
    tracing::info!(port = %result.port, verdict = %result.verdict.describe(), "M-Bus readout finished");
    task.emit(MbusEvent::Done(Box::new(result))).await;
}

/// The spans of the session's telegrams, in order: each the first received span with its bytes
/// not taken yet (a repeated telegram was received twice). The session only keeps an answer
/// that is one whole frame, so the framer has it as a span; should it not, the telegram is
/// framed on its own rather than lost.
fn telegram_spans(received: &[SpanRecord], telegrams: &[Vec<u8>]) -> Vec<SpanRecord> {
    let mut taken = vec![false; received.len()];
    let mut out = Vec::with_capacity(telegrams.len());
    for t in telegrams {
        let found = (0..received.len()).find(|&i| !taken[i] && received[i].bytes == *t);
        if let Some(i) = found {
            taken[i] = true;
            out.push(received[i].clone());
            continue;
        }
        let mut p = mbus_pipeline(None);
        let mut spans = Vec::new();
        p.push(Direction::Rx, Utc::now(), t, |v| {
            spans.push(v.into_record())
        });
        spans.extend(p.flush_records(Utc::now()));
        out.extend(spans);
    }
    out
}

/// Starts a readout on the current runtime; drop or send on the returned sender to cancel.
pub fn spawn(
    connector: Arc<dyn OpticalConnector>,
    options: MbusOptions,
    recorder: Option<SharedRecorder>,
) -> (mpsc::Receiver<MbusEvent>, mpsc::Sender<()>) {
    let (etx, erx) = mpsc::channel(256);
    let (ctx, crx) = mpsc::channel(1);
    tokio::spawn(run(connector, options, recorder, etx, crx));
    (erx, ctx)
}
