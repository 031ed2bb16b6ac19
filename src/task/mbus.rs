//! The M-Bus readout task: opens the level converter's port (through the same
//! [`OpticalConnector`] the optical readout uses), runs an [`MbusSession`] over it, sends every
//! byte both ways through a pipeline (recording, framing for the inspector; the converter's echo
//! is marked there as the optical head's is), and reports progress and the result. Used by
//! `kamscope read --protocol mbus`.

use super::line::LineTask;
use super::optical::readout_pipeline;
use crate::link::OpticalConnector;
use crate::protocol::Content;
use crate::protocol::mbus::session::{MbusOptions, MbusSession, Phase, Verdict};
use crate::wire::{Direction, MbusEvent, MbusResult, MbusStatus, SharedRecorder, SpanRecord};
use chrono::Utc;
use std::sync::Arc;
use tokio::sync::mpsc;

type Task = LineTask<MbusSession, MbusEvent>;

impl Task {
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

/// Received M-Bus frames: the session's telegrams are handed over as the inspector framed them.
fn received_frame(s: &SpanRecord) -> bool {
    s.dir == Direction::Rx && matches!(s.content, Content::Mbus(_))
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
    let mut task = Task::new(
        port,
        MbusSession::new(options, 0),
        readout_pipeline(recorder),
        events,
    )
    .keeping(received_frame);
    task.drive(&*connector, &mut cancel, |task| {
        MbusEvent::Status(task.status())
    })
    .await;
    finish(task).await;
}

async fn finish(mut task: Task) {
    // Whatever arrived is framed and shown (an acknowledgement, a cut-off frame).
    task.flush().await;
    task.emit(MbusEvent::Status(task.status())).await;
    let telegrams = telegram_spans(&task.kept, task.session.telegrams());
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
        let mut p = readout_pipeline(None);
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
