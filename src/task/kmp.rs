//! The KMP readout task: opens the optical head's port through the same [`OpticalConnector`] as
//! the IEC 61107 readout, runs a [`KmpSession`] over it, sends every byte both ways through a KMP
//! pipeline (recording, framing for the inspector, echoes marked), and reports progress and the
//! result. Used by `kamscope read --protocol kmp` (and the Readout tab later).

use super::line::LineTask;
use super::optical::readout_pipeline;
use crate::link::OpticalConnector;
use crate::protocol::kmp_session::{KmpOptions, KmpSession, Phase, Verdict};
use crate::wire::SharedRecorder;
use crate::wire::kmp::{KmpEvent, KmpResult, KmpStatus};
use std::sync::Arc;
use tokio::sync::mpsc;

type Task = LineTask<KmpSession, KmpEvent>;

impl Task {
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
    let mut task = Task::new(
        port,
        KmpSession::new(options),
        readout_pipeline(recorder),
        events,
    );
    task.drive(&*connector, &mut cancel, |task| {
        KmpEvent::Status(task.status())
    })
    .await;
    finish(task).await;
}

async fn finish(mut task: Task) {
    // Whatever arrived is framed and shown, complete or not.
    task.flush().await;
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
