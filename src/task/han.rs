//! The HAN reader task: owns the HAN link, runs what arrives through the pipeline (recording,
//! framing, decoding, timestamps) and sends spans to the app over a bounded channel. The link is
//! reopened when it fails, so an unplugged adapter comes back by itself.

use crate::link::serial::PortError;
use crate::link::{BoxLink, Connector, io_reason};
use crate::protocol::dlms::Keys;
use crate::protocol::han::Scaling;
use crate::protocol::{Decoder, Protocols};
use crate::wire::{
    Chunk, Direction, HanCommand, HanEvent, Link, LinkState, Pipeline, SharedRecorder, SpanRecord,
};
use chrono::{DateTime, Utc};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;

pub struct HanConfig {
    pub protocols: Protocols,
    pub scaling: Scaling,
    pub keys: Option<Keys>,
    pub recorder: Option<SharedRecorder>,
    /// A partial frame is flushed (as truncated) after this much silence.
    pub idle_flush: Duration,
    /// Pause before reopening a failed link.
    pub retry: Duration,
    /// Stop (instead of retrying) when the link cannot be opened for a reason waiting cannot
    /// mend: no permission, not a serial port (`decode --port` exits with the sentence; the app
    /// keeps retrying, so a port fixed meanwhile comes back).
    pub stop_on_permanent: bool,
}

impl Default for HanConfig {
    fn default() -> Self {
        HanConfig {
            protocols: Protocols::HAN,
            scaling: Scaling::default(),
            keys: None,
            recorder: None,
            idle_flush: crate::wire::pipeline::IDLE_FLUSH
                .to_std()
                .expect("a positive time"),
            retry: Duration::from_secs(1),
            stop_on_permanent: false,
        }
    }
}

/// Why the task stops reading a link.
enum Stop {
    /// The link failed: wait and reopen it.
    LinkLost(String),
    /// The app went away or asked to stop.
    Quit,
}

struct Reader {
    pipeline: Pipeline,
    events: mpsc::Sender<HanEvent>,
}

impl Reader {
    /// Sends an event; false when the app has gone away.
    async fn send(&self, e: HanEvent) -> bool {
        self.events.send(e).await.is_ok()
    }

    async fn send_spans(&self, spans: Vec<SpanRecord>) -> bool {
        for s in spans {
            if !self.send(HanEvent::Span(Box::new(s))).await {
                return false;
            }
        }
        true
    }

    async fn received(&mut self, bytes: &[u8]) -> bool {
        let chunk = Chunk {
            t: Utc::now(),
            link: Link::Han,
            dir: Direction::Rx,
            bytes: bytes.to_vec(),
        };
        let (spans, recorded) = self.pipeline.records_of(&chunk);
        if let Err(e) = recorded {
            tracing::error!("{e}");
            if !self.send(HanEvent::RecordError(e)).await {
                return false;
            }
        }
        self.send(HanEvent::Bytes {
            at: chunk.t,
            count: bytes.len(),
        })
        .await
            && self.send_spans(spans).await
    }

    async fn flush(&mut self, at: DateTime<Utc>) -> bool {
        let spans = self.pipeline.flush_records(at);
        self.send_spans(spans).await
    }

    fn command(&mut self, cmd: Option<HanCommand>) -> Result<(), Stop> {
        match cmd {
            None | Some(HanCommand::Stop) => Err(Stop::Quit),
            Some(HanCommand::SetScaling(s)) => {
                tracing::info!(
                    energy_scaler = s.energy_scaler,
                    current_scaler = ?s.current_scaler,
                    "scaling changed"
                );
                self.pipeline.decoder_mut().scaling = s;
                Ok(())
            }
        }
    }

    /// Reads one open link until it fails or the app stops the task. Asked to stop while a
    /// frame is arriving, it reads on until the frame is whole (at most [`FINISH_FRAME`]), so a
    /// recording does not end in a frame cut off by the user quitting.
    async fn pump(
        &mut self,
        mut io: BoxLink,
        idle_flush: Duration,
        commands: &mut mpsc::Receiver<HanCommand>,
    ) -> Stop {
        let mut buf = vec![0u8; 4096];
        // Stopping, once the frame in progress is whole.
        let mut finishing: Option<tokio::time::Instant> = None;
        loop {
            let idle = tokio::time::sleep(idle_flush);
            let give_up =
                tokio::time::sleep_until(finishing.unwrap_or_else(tokio::time::Instant::now));
            tokio::select! {
                r = io.read(&mut buf) => match r {
                    Ok(0) => return Stop::LinkLost("end of stream".into()),
                    Ok(n) => {
                        if !self.received(&buf[..n]).await {
                            return Stop::Quit;
                        }
                    }
                    Err(e) => return Stop::LinkLost(io_reason(&e)),
                },
                () = idle, if self.pipeline.pending() > 0 => {
                    if finishing.is_some() || !self.flush(Utc::now()).await {
                        return Stop::Quit;
                    }
                }
                () = give_up, if finishing.is_some() => return Stop::Quit,
                cmd = commands.recv(), if finishing.is_none() => match self.command(cmd) {
                    Ok(()) => {}
                    Err(Stop::Quit) if self.pipeline.pending() > 0 => {
                        finishing = Some(tokio::time::Instant::now() + FINISH_FRAME);
                    }
                    Err(stop) => return stop,
                },
            }
            if finishing.is_some() && self.pipeline.pending() == 0 {
                return Stop::Quit;
            }
        }
    }
}

/// How long a stopping reader waits for the frame in progress (a long list at 2400 baud).
pub const FINISH_FRAME: Duration = Duration::from_millis(1500);

/// Runs until the app goes away, a replay ends, or `Stop` is received.
pub async fn run(
    mut connector: Box<dyn Connector>,
    cfg: HanConfig,
    events: mpsc::Sender<HanEvent>,
    mut commands: mpsc::Receiver<HanCommand>,
) {
    let mut reader = Reader {
        pipeline: Pipeline::new(
            Link::Han,
            cfg.protocols,
            Decoder::new(cfg.scaling, cfg.keys),
            cfg.recorder,
        ),
        events,
    };
    let source = connector.describe();
    // The reason the link is down, logged once (not every second while an adapter is missing).
    let mut logged: Option<String> = None;
    // Connecting is said once: while retrying, the link stays "waiting" with its reason (the
    // app logs a state change, not every attempt).
    if !reader.send(HanEvent::Link(LinkState::Connecting)).await {
        return;
    }
    loop {
        let mut permanent = false;
        let reason = match connector.connect().await {
            Ok(io) => {
                logged = None;
                tracing::info!(%source, "HAN link connected");
                if !reader.send(HanEvent::Link(LinkState::Connected)).await {
                    return;
                }
                let stop = reader.pump(io, cfg.idle_flush, &mut commands).await;
                if !reader.flush(Utc::now()).await {
                    return;
                }
                match stop {
                    Stop::LinkLost(reason) => reason,
                    Stop::Quit => return,
                }
            }
            Err(e) => {
                permanent = e
                    .get_ref()
                    .and_then(|i| i.downcast_ref::<PortError>())
                    .is_some_and(PortError::permanent);
                io_reason(&e)
            }
        };
        if connector.ends() {
            tracing::info!(%source, "replay finished");
            let _ = reader.send(HanEvent::Link(LinkState::Ended)).await;
            return;
        }
        if logged.as_ref() != Some(&reason) {
            tracing::warn!(%source, %reason, "HAN link down, retrying");
            logged = Some(reason.clone());
        }
        if !reader
            .send(HanEvent::Link(LinkState::Waiting { reason }))
            .await
            || (permanent && cfg.stop_on_permanent)
        {
            return;
        }
        // Wait before retrying, but obey commands meanwhile.
        let pause = tokio::time::sleep(cfg.retry);
        tokio::pin!(pause);
        loop {
            tokio::select! {
                () = &mut pause => break,
                cmd = commands.recv() => if reader.command(cmd).is_err() {
                    return;
                },
            }
        }
    }
}

/// Starts the reader on the current tokio runtime.
pub fn spawn(
    connector: Box<dyn Connector>,
    cfg: HanConfig,
) -> (mpsc::Receiver<HanEvent>, mpsc::Sender<HanCommand>) {
    let (etx, erx) = mpsc::channel(1024);
    let (ctx, crx) = mpsc::channel(64);
    tokio::spawn(run(connector, cfg, etx, crx));
    (erx, ctx)
}
