//! The optical readout task: opens the optical head's port, runs a [`ReadoutSession`] over it,
//! sends every byte both ways through the optical line's pipeline (recording, framing for the
//! inspector), and reports progress and the verdict. Used by the Readout tab and `kamscope read`.
//!
//! A replayed recording's optical line goes through [`OpticalReplay`]: the same pipeline, a fresh
//! one for each recorded readout ([`ReadoutSplit`]), so the Inspector shows it as it was live.

use super::line::LineTask;
use crate::link::OpticalConnector;
use crate::protocol::iec_session::{Phase, ReadoutOptions, ReadoutSession, Verdict};
use crate::protocol::iec61107::{Identification, Kind, parse_data_block};
use crate::protocol::{Content, Decoder, Protocols};
use crate::wire::{
    Chunk, Direction, Link, OpticalEvent, Pipeline, ReadoutPhase, ReadoutResult, ReadoutStatus,
    SharedRecorder,
};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// The optical line's pipeline for one readout, whatever its protocol (IEC 61107, KMP, M-Bus;
/// the M-Bus level converter's bus is recorded as this line too: "we ask, the meter answers").
/// Live, replayed and decoded readouts are all framed through it.
pub fn readout_pipeline(recorder: Option<SharedRecorder>) -> Pipeline {
    Pipeline::new(
        Link::Optical,
        Protocols::OPTICAL,
        Decoder::default(),
        recorder,
    )
}

/// Lines the known meters send, for the time estimate.
pub fn expected_lines(ident: &Identification) -> Option<usize> {
    match ident.ident.as_str() {
        i if i.starts_with("685351") => Some(17),
        i if i.starts_with("685-382") => Some(8),
        _ => None,
    }
}

type Task = LineTask<ReadoutSession, OpticalEvent>;

impl Task {
    fn status(&self) -> ReadoutStatus {
        let (bytes, lines) = self.session.progress();
        let now = self.now();
        let ident = self.session.ident().cloned();
        ReadoutStatus {
            port: self.port.clone(),
            phase: match self.session.phase() {
                Phase::SignOn { .. } => ReadoutPhase::WaitingForIdentification,
                Phase::Switching { .. } => ReadoutPhase::SwitchingSpeed,
                Phase::Data if bytes == 0 => ReadoutPhase::WaitingForData,
                Phase::Data => ReadoutPhase::ReadingData,
                Phase::Done(_) => ReadoutPhase::Done,
            },
            attempt: match self.session.phase() {
                Phase::SignOn { attempt, .. } => *attempt,
                _ => 0,
            },
            eta_ms: ident
                .as_ref()
                .and_then(expected_lines)
                .and_then(|n| self.session.eta(now, Some(n))),
            ident,
            echo_seen: self.session.echo_seen(),
            baud: self.session.baud(),
            bytes,
            lines,
            elapsed_ms: now,
        }
    }
}

/// Runs one readout. `cancel` ends it early (the port is closed cleanly).
pub async fn run(
    connector: Arc<dyn OpticalConnector>,
    options: ReadoutOptions,
    recorder: Option<SharedRecorder>,
    events: mpsc::Sender<OpticalEvent>,
    mut cancel: mpsc::Receiver<()>,
) {
    let port = connector.describe();
    tracing::info!(%port, "optical readout started");
    let mut task = Task::new(
        port,
        ReadoutSession::new(options, 0),
        readout_pipeline(recorder),
        events,
    );
    task.drive(&*connector, &mut cancel, |task| {
        let status = task.status();
        tracing::debug!(phase = %status.phase, bytes = status.bytes, "optical readout");
        OpticalEvent::Status(status)
    })
    .await;
    finish(task).await;
}

async fn finish(mut task: Task) {
    // Whatever arrived is framed and shown, complete or not.
    task.flush().await;
    task.emit(OpticalEvent::Status(task.status())).await;
    let raw_block = task.session.block().to_vec();
    let result = ReadoutResult {
        port: task.port.clone(),
        started: task.started,
        duration_ms: task.now(),
        ident: task.session.ident().cloned(),
        block: parse_data_block(&raw_block),
        raw_block,
        verdict: task.session.done().cloned().unwrap_or(Verdict::Cancelled),
        baud: task.session.baud(),
        echo_seen: task.session.echo_seen(),
    };
    tracing::info!(port = %result.port, verdict = %result.verdict.describe(), "optical readout finished");
    task.emit(OpticalEvent::Done(Box::new(result))).await;
}

/// Starts a readout on the current runtime; drop or send on the returned sender to cancel.
pub fn spawn(
    connector: Arc<dyn OpticalConnector>,
    options: ReadoutOptions,
    recorder: Option<SharedRecorder>,
) -> (mpsc::Receiver<OpticalEvent>, mpsc::Sender<()>) {
    let (etx, erx) = mpsc::channel(256);
    let (ctx, crx) = mpsc::channel(1);
    tokio::spawn(run(connector, options, recorder, etx, crx));
    (erx, ctx)
}

/// Silence on the optical line after which a recorded readout is over: the session gives up
/// after its answer timeout (1.5 s) or character timeout (3 s), so no readout is this quiet.
pub const READOUT_GAP: Duration = Duration::from_secs(4);

/// Where one recorded readout ends and the next begins, so a replay or a decode frames each
/// through a fresh pipeline (offsets from 0, nothing pending carried over) as the live readout
/// task did. A readout (IEC 61107, KMP or M-Bus) is over after [`READOUT_GAP`] of silence; an
/// IEC 61107 readout also when a sign-on request follows an answered one (an unanswered sign-on
/// sent again is a retry of the same readout).
#[derive(Debug, Default)]
pub struct ReadoutSplit {
    last: Option<DateTime<Utc>>,
    answered: bool,
}

impl ReadoutSplit {
    /// Whether `chunk`, the next of the optical line in recorded order, starts a new readout.
    pub fn starts_readout(&mut self, chunk: &Chunk) -> bool {
        let quiet = self
            .last
            .is_some_and(|t| (chunk.t - t).to_std().unwrap_or_default() > READOUT_GAP);
        let sign_on = chunk.dir == Direction::Tx && chunk.bytes.starts_with(b"/?");
        let new = self.last.is_none() || quiet || (sign_on && self.answered);
        if new {
            self.answered = false;
        }
        self.last = Some(chunk.t);
        new
    }

    /// A span of the current readout: a meter's answer (not an echo of the request) means a
    /// sign-on after it starts a new readout.
    pub fn note(&mut self, dir: Direction, content: &Content) {
        if dir == Direction::Rx
            && matches!(content, Content::Iec61107(f) if f.kind != Kind::Request)
        {
            self.answered = true;
        }
    }
}

/// The optical line of a replayed recording, as its chunks come from
/// [`ReplayConnector::optical_chunks`](crate::link::replay::ReplayConnector::optical_chunks):
/// framed both ways as the readout task did, the spans sent to the app like a live readout's.
pub struct OpticalReplay {
    pub chunks: mpsc::Receiver<Chunk>,
    /// The replay's time factor (a readout is over after [`READOUT_GAP`] / speed of silence).
    pub speed: f64,
    /// A recording of the replay records the optical line too.
    pub recorder: Option<SharedRecorder>,
}

impl OpticalReplay {
    /// Starts on the current runtime; the events end when the replay does.
    pub fn spawn(self) -> mpsc::Receiver<OpticalEvent> {
        let (tx, rx) = mpsc::channel(256);
        tokio::spawn(self.run(tx));
        rx
    }

    async fn run(mut self, events: mpsc::Sender<OpticalEvent>) {
        let quiet = READOUT_GAP.div_f64(self.speed.max(0.001));
        let mut split = ReadoutSplit::default();
        // The readout in progress, if any.
        let mut pipeline: Option<Pipeline> = None;
        loop {
            let next = match pipeline {
                Some(_) => tokio::time::timeout(quiet, self.chunks.recv()).await,
                None => Ok(self.chunks.recv().await),
            };
            let chunk = match next {
                Ok(Some(chunk)) => chunk,
                // The line went quiet: the readout is over.
                Err(_) if flush(pipeline.take(), &events).await => continue,
                // The replay ended, or the app went away.
                Ok(None) | Err(_) => {
                    flush(pipeline.take(), &events).await;
                    return;
                }
            };
            if split.starts_readout(&chunk) && !flush(pipeline.take(), &events).await {
                return;
            }
            let p = pipeline.get_or_insert_with(|| readout_pipeline(self.recorder.clone()));
            // Shown at the time it is replayed, as the HAN reader stamps what it reads.
            let chunk = Chunk {
                t: Utc::now(),
                ..chunk
            };
            let (spans, recorded) = p.records_of(&chunk);
            if let Err(e) = recorded {
                tracing::error!("{e}");
                if !send(&events, OpticalEvent::RecordError(e)).await {
                    return;
                }
            }
            for s in spans {
                split.note(s.dir, &s.content);
                if !send(&events, OpticalEvent::Span(Box::new(s))).await {
                    return;
                }
            }
        }
    }
}

/// What a finished readout's pipeline still holds (a cut-off block), as spans; false when the
/// app has gone away.
async fn flush(pipeline: Option<Pipeline>, events: &mpsc::Sender<OpticalEvent>) -> bool {
    let Some(mut p) = pipeline else {
        return true;
    };
    for s in p.flush_records(Utc::now()) {
        if !send(events, OpticalEvent::Span(Box::new(s))).await {
            return false;
        }
    }
    true
}

/// Sends an event; false when the app has gone away.
async fn send(events: &mpsc::Sender<OpticalEvent>, e: OpticalEvent) -> bool {
    events.send(e).await.is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(ms: i64, dir: Direction, bytes: &[u8]) -> Chunk {
        Chunk {
            t: DateTime::<Utc>::UNIX_EPOCH + chrono::TimeDelta::milliseconds(ms),
            link: Link::Optical,
            dir,
            bytes: bytes.to_vec(),
        }
    }

    #[test]
    fn recorded_readouts_are_told_apart() {
        let mut split = ReadoutSplit::default();
        let mut pipeline = readout_pipeline(None);
        let mut feed = |c: Chunk| -> bool {
            let new = split.starts_readout(&c);
            let (spans, _) = pipeline.records_of(&c);
            for s in spans {
                split.note(s.dir, &s.content);
            }
            new
        };
        assert!(feed(chunk(0, Direction::Tx, b"/?!\r\n")));
        // The head's echo is not an answer: the request again is a retry of the same readout.
        assert!(!feed(chunk(50, Direction::Rx, b"/?!\r\n")));
        assert!(!feed(chunk(1550, Direction::Tx, b"/?!\r\n")));
        assert!(!feed(chunk(1900, Direction::Rx, b"/KAM5685351A300100\r\n")));
        // Answered: a request now starts the next readout, however soon.
        assert!(feed(chunk(2500, Direction::Tx, b"/?!\r\n")));
        assert!(!feed(chunk(4000, Direction::Tx, b"/?!\r\n")));
        // A long silence ends a readout too.
        assert!(feed(chunk(9000, Direction::Tx, b"/?!\r\n")));
    }

    #[test]
    fn replayed_kmp_and_m_bus_readouts_are_framed_whole() {
        let mut pipeline = readout_pipeline(None);
        let mut spans = Vec::new();
        let kmp_answer = b"HFE950100002348000023470000000196\r";
        let snd_nke = crate::protocol::mbus::encode_short(0x40, 5);
        let rsp_ud = crate::protocol::mbus::encode_long(0x08, 5, 0x72, &[0; 12]);
        for (ms, dir, bytes) in [
            (0, Direction::Tx, &b"@FE95006D\r"[..]),
            (300, Direction::Rx, &kmp_answer[..]),
            (9000, Direction::Tx, &snd_nke[..]),
            (9100, Direction::Rx, &[0xE5][..]),
            (9200, Direction::Rx, &rsp_ud[..]),
        ] {
            spans.extend(pipeline.records_of(&chunk(ms, dir, bytes)).0);
        }
        spans.extend(pipeline.flush_records(DateTime::<Utc>::UNIX_EPOCH));
        let kinds: Vec<_> = spans
            .iter()
            .map(|s| (s.dir, s.protocol(), s.ok()))
            .collect();
        use crate::protocol::Protocol::{Kmp, Mbus};
        assert_eq!(
            kinds,
            [
                (Direction::Tx, Kmp, true),
                (Direction::Rx, Kmp, true),
                (Direction::Tx, Mbus, true),
                (Direction::Rx, Mbus, true),
                (Direction::Rx, Mbus, true),
            ]
        );
    }
}
