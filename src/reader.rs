//! The async reader task: owns the link, feeds the framer, decodes, timestamps and records, and
//! sends spans to the app over a bounded channel. The link is reopened when it fails, so an
//! unplugged adapter comes back by itself.

use crate::link::capture::{Chunk, Direction, SharedRecorder};
use crate::link::{BoxLink, Connector};
use crate::protocol::dlms::Keys;
use crate::protocol::han::Scaling;
use crate::protocol::{Content, Decoded, Decoder, Framer, Protocols};
use chrono::{DateTime, Utc};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

/// A span with everything the app needs, owned.
#[derive(Debug, Clone)]
pub struct SpanRecord {
    /// When the span's last byte arrived.
    pub received: DateTime<Utc>,
    pub offset: u64,
    pub bytes: Vec<u8>,
    pub content: Content,
    pub decoded: Decoded,
    /// Received from the meter, or sent by us (optical readout requests).
    pub dir: Direction,
    /// The decoded message was dropped to save memory (the app keeps its values); decode the
    /// bytes again to show it.
    pub compact: bool,
}

impl SpanRecord {
    pub fn ok(&self) -> bool {
        crate::protocol::check::all_ok(self.content.checks())
            && self.decoded.extra_checks().iter().all(|c| c.ok)
    }
}

/// Where the link stands.
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

#[derive(Debug, Clone)]
pub enum ReaderEvent {
    Link(LinkState),
    /// Bytes arrived (for counters and "no data yet").
    Bytes {
        at: DateTime<Utc>,
        count: usize,
    },
    Span(Box<SpanRecord>),
    /// Recording failed: the app must say so (nothing recorded may be lost silently).
    RecordError(String),
}

#[derive(Debug)]
pub enum ReaderCommand {
    SetScaling(Scaling),
    /// Bytes to send on the link (recorded as tx).
    Send(Vec<u8>),
    Stop,
}

pub struct ReaderConfig {
    pub protocols: Protocols,
    pub scaling: Scaling,
    pub keys: Option<Keys>,
    pub recorder: Option<SharedRecorder>,
    /// A partial frame is flushed (as truncated) after this much silence.
    pub idle_flush: Duration,
    /// Pause before reopening a failed link.
    pub retry: Duration,
}

impl Default for ReaderConfig {
    fn default() -> Self {
        ReaderConfig {
            protocols: Protocols::HDLC,
            scaling: Scaling::default(),
            keys: None,
            recorder: None,
            idle_flush: Duration::from_millis(500),
            retry: Duration::from_secs(1),
        }
    }
}

struct Reader {
    framer: Framer,
    decoder: Decoder,
    recorder: Option<SharedRecorder>,
    events: mpsc::Sender<ReaderEvent>,
}

impl Reader {
    /// Sends an event; false when the app has gone away.
    async fn send(&self, e: ReaderEvent) -> bool {
        self.events.send(e).await.is_ok()
    }

    async fn record(&mut self, chunk: Chunk) -> bool {
        if let Some(rec) = &self.recorder
            && let Err(msg) = record_chunk(rec, &chunk)
        {
            self.recorder = None;
            return self.send(ReaderEvent::RecordError(msg)).await;
        }
        true
    }

    async fn drain(&mut self, at: DateTime<Utc>) -> bool {
        let mut out = Vec::new();
        while let Some(span) = self.framer.next_span() {
            let decoded = self.decoder.decode(&span);
            out.push(SpanRecord {
                received: at,
                offset: span.offset,
                bytes: span.bytes.to_vec(),
                content: span.content,
                decoded,
                dir: Direction::Rx,
                compact: false,
            });
        }
        for s in out {
            if !self.send(ReaderEvent::Span(Box::new(s))).await {
                return false;
            }
        }
        true
    }

    /// Reads one open link until it fails; false when the reader should stop.
    async fn pump(
        &mut self,
        mut io: BoxLink,
        cfg_idle: Duration,
        commands: &mut mpsc::Receiver<ReaderCommand>,
    ) -> Result<String, ()> {
        let mut buf = vec![0u8; 4096];
        loop {
            let idle = tokio::time::sleep(cfg_idle);
            tokio::select! {
                r = io.read(&mut buf) => match r {
                    Ok(0) => return Ok("end of stream".into()),
                    Ok(n) => {
                        let at = Utc::now();
                        let bytes = &buf[..n];
                        if !self.record(Chunk { t: at, dir: Direction::Rx, bytes: bytes.to_vec() }).await {
                            return Err(());
                        }
                        self.framer.push(bytes);
                        if !self.send(ReaderEvent::Bytes { at, count: n }).await || !self.drain(at).await {
                            return Err(());
                        }
                    }
                    Err(e) => return Ok(crate::input::io_reason(&e)),
                },
                () = idle, if self.framer.pending() > 0 => {
                    self.framer.finish();
                    if !self.drain(Utc::now()).await {
                        return Err(());
                    }
                }
                cmd = commands.recv() => match cmd {
                    None | Some(ReaderCommand::Stop) => return Err(()),
                    Some(ReaderCommand::SetScaling(s)) => self.decoder.scaling = s,
                    Some(ReaderCommand::Send(bytes)) => {
                        let at = Utc::now();
                        if !self.record(Chunk { t: at, dir: Direction::Tx, bytes: bytes.clone() }).await {
                            return Err(());
                        }
                        if let Err(e) = io.write_all(&bytes).await {
                            return Ok(crate::input::io_reason(&e));
                        }
                    }
                },
            }
        }
    }
}

/// Writes a chunk to a shared recording; the error names the file.
pub fn record_chunk(rec: &SharedRecorder, chunk: &Chunk) -> Result<(), String> {
    let mut r = rec
        .lock()
        .map_err(|_| "recording stopped after an earlier failure".to_string())?;
    r.write(chunk)
        .map_err(|e| format!("recording to {} failed: {e}", r.path().display()))
}

/// Runs until the app goes away, a replay ends, or `Stop` is received.
pub async fn run(
    mut connector: Box<dyn Connector>,
    cfg: ReaderConfig,
    events: mpsc::Sender<ReaderEvent>,
    mut commands: mpsc::Receiver<ReaderCommand>,
) {
    let mut reader = Reader {
        framer: Framer::new(cfg.protocols),
        decoder: Decoder::new(cfg.scaling, cfg.keys),
        recorder: cfg.recorder,
        events,
    };
    loop {
        if !reader.send(ReaderEvent::Link(LinkState::Connecting)).await {
            return;
        }
        let reason = match connector.connect().await {
            Ok(io) => {
                if !reader.send(ReaderEvent::Link(LinkState::Connected)).await {
                    return;
                }
                let outcome = reader.pump(io, cfg.idle_flush, &mut commands).await;
                reader.framer.finish();
                if !reader.drain(Utc::now()).await {
                    return;
                }
                match outcome {
                    Ok(reason) => reason,
                    Err(()) => return,
                }
            }
            Err(e) => crate::input::io_reason(&e),
        };
        if connector.ends() {
            let _ = reader.send(ReaderEvent::Link(LinkState::Ended)).await;
            return;
        }
        if !reader
            .send(ReaderEvent::Link(LinkState::Waiting { reason }))
            .await
        {
            return;
        }
        // Wait before retrying, but obey commands meanwhile.
        let pause = tokio::time::sleep(cfg.retry);
        tokio::pin!(pause);
        loop {
            tokio::select! {
                () = &mut pause => break,
                cmd = commands.recv() => match cmd {
                    None | Some(ReaderCommand::Stop) => return,
                    Some(ReaderCommand::SetScaling(s)) => reader.decoder.scaling = s,
                    Some(ReaderCommand::Send(_)) => {}
                },
            }
        }
    }
}

/// Starts the reader on the current tokio runtime.
pub fn spawn(
    connector: Box<dyn Connector>,
    cfg: ReaderConfig,
) -> (mpsc::Receiver<ReaderEvent>, mpsc::Sender<ReaderCommand>) {
    let (etx, erx) = mpsc::channel(1024);
    let (ctx, crx) = mpsc::channel(64);
    tokio::spawn(run(connector, cfg, etx, crx));
    (erx, ctx)
}
