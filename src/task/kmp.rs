//! The KMP readout task: opens the optical head's port through the same [`OpticalConnector`] as
//! the IEC 61107 readout, runs a [`KmpSession`] over it, sends every byte both ways through a KMP
//! pipeline (recording, framing for the inspector, echoes marked), and reports progress and the
//! result. Used by `kamscope read --protocol kmp` (and the Readout tab later).

use crate::link::{OpticalConnector, io_reason};
use crate::protocol::kmp_session::{Action, KmpOptions, KmpSession, Phase, Verdict};
use crate::protocol::{Decoder, Protocols};
use crate::wire::kmp::{KmpEvent, KmpResult, KmpStatus};
use crate::wire::{Chunk, Direction, Link, Pipeline, SharedRecorder};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// The optical line's pipeline for a KMP readout: KMP both ways.
pub fn kmp_pipeline(recorder: Option<SharedRecorder>) -> Pipeline {
    Pipeline::new(
        Link::Optical,
        Protocols {
            kmp: true,
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
    session: KmpSession,
    pipeline: Pipeline,
    events: mpsc::Sender<KmpEvent>,
}

impl Task {
    fn now(&self) -> u64 {
        self.started_at.elapsed().as_millis() as u64
    }

    async fn emit(&self, e: KmpEvent) {
        let _ = self.events.send(e).await;
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
            self.emit(KmpEvent::RecordError(e)).await;
        }
        for s in spans {
            self.emit(KmpEvent::Span(Box::new(s))).await;
        }
    }

    fn status(&self) -> KmpStatus {
        let (step, steps) = self.session.progress();
        KmpStatus {
            port: self.port.clone(),
            variant: self.session.options().variant,
            step,
            steps,
            attempt: match self.session.phase() {
                Phase::Waiting { attempt, .. } => *attempt,
                _ => 0,
            },
            echo_seen: self.session.echo_seen(),
            done: self.session.done().is_some(),
            elapsed_ms: self.now(),
        }
    }
}

/// Runs one readout. `cancel` ends it early (the port is closed cleanly).
pub async fn run(
    connector: Arc<dyn OpticalConnector>,
    options: KmpOptions,
    recorder: Option<SharedRecorder>,
    events: mpsc::Sender<KmpEvent>,
    mut cancel: mpsc::Receiver<()>,
) {
    let port = connector.describe();
    tracing::info!(%port, "KMP readout started");
    let started_at = Instant::now();
    let mut task = Task {
        port,
        started_at,
        started: Utc::now(),
        session: KmpSession::new(options),
        pipeline: kmp_pipeline(recorder),
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
        task.emit(KmpEvent::Status(task.status())).await;
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
    // Whatever arrived is framed and shown, complete or not.
    for s in task.pipeline.flush_records(Utc::now()) {
        task.emit(KmpEvent::Span(Box::new(s))).await;
    }
    task.emit(KmpEvent::Status(task.status())).await;
    let result = KmpResult {
        port: task.port.clone(),
        started: task.started,
        duration_ms: task.now(),
        variant: task.session.options().variant,
        verdict: task.session.done().cloned().unwrap_or(Verdict::Cancelled),
        registers: task.session.registers().to_vec(),
        echo_seen: task.session.echo_seen(),
    };
    tracing::info!(port = %result.port, verdict = %result.verdict.describe(), "KMP readout finished");
    task.emit(KmpEvent::Done(Box::new(result))).await;
}

/// Starts a readout on the current runtime; drop or send on the returned sender to cancel.
pub fn spawn(
    connector: Arc<dyn OpticalConnector>,
    options: KmpOptions,
    recorder: Option<SharedRecorder>,
) -> (mpsc::Receiver<KmpEvent>, mpsc::Sender<()>) {
    let (etx, erx) = mpsc::channel(256);
    let (ctx, crx) = mpsc::channel(1);
    tokio::spawn(run(connector, options, recorder, etx, crx));
    (erx, ctx)
}
