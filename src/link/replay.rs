//! Plays a recorded capture (or a raw or hex file) through the same pipeline as a live port,
//! with the capture's own pacing (or faster).

use super::sim::HAN_BYTES_PER_SECOND;
use super::{BoxLink, ConnectFuture, Connector, io_reason};
use crate::wire::capture::{self, CaptureError, CaptureLine};
use crate::wire::hex::{self, HexError};
use crate::wire::{Chunk, Direction, Link};
use std::io::{self, BufRead};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

/// What is replayed.
#[derive(Debug, Clone)]
pub enum ReplaySource {
    /// A capture: received chunks with their times.
    Capture(Vec<Chunk>),
    /// Plain bytes, paced like a 2400-baud line.
    Bytes(Vec<u8>),
}

/// Why a file cannot be replayed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("cannot read {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("{path} line {line}: not a capture line: {source}")]
    Line {
        path: String,
        line: usize,
        source: CaptureError,
    },
    #[error("{0}")]
    Hex(#[from] HexError),
    #[error("no bytes in {path}")]
    Empty { path: String },
}

impl ReplaySource {
    /// Loads a file, telling capture, hex text and raw bytes apart.
    pub fn load(path: &Path) -> Result<Self, ReplayError> {
        let read_error = |e: io::Error| ReplayError::Read {
            path: path.display().to_string(),
            reason: io_reason(&e),
        };
        let data = std::fs::read(path).map_err(read_error)?;
        let source = if capture::looks_like_capture(&data) {
            ReplaySource::Capture(read_capture(path, &data)?)
        } else if hex::looks_like_hex(&data) {
            let mut bytes = Vec::new();
            let mut dec = hex::HexDecoder::default();
            let name = path.display().to_string();
            dec.feed(&name, &data, &mut bytes)?;
            dec.finish(&name)?;
            ReplaySource::Bytes(bytes)
        } else {
            ReplaySource::Bytes(data)
        };
        if source.is_empty() {
            return Err(ReplayError::Empty {
                path: path.display().to_string(),
            });
        }
        Ok(source)
    }

    /// Whether there is not one byte to play.
    pub fn is_empty(&self) -> bool {
        match self {
            ReplaySource::Capture(chunks) => chunks.iter().all(|c| c.bytes.is_empty()),
            ReplaySource::Bytes(bytes) => bytes.is_empty(),
        }
    }
}

/// Every chunk of a capture (the event log's lines between them are skipped). Errors name the
/// line.
fn read_capture(path: &Path, data: &[u8]) -> Result<Vec<Chunk>, ReplayError> {
    Ok(capture_lines(path, data)?
        .into_iter()
        .filter_map(|line| match line {
            CaptureLine::Chunk(chunk) => Some(chunk),
            CaptureLine::Event(_) => None,
        })
        .collect())
}

/// Every line of a capture, chunks and the event log's lines, in order (blank lines skipped).
/// Errors name the line.
pub fn capture_lines(path: &Path, data: &[u8]) -> Result<Vec<CaptureLine>, ReplayError> {
    let mut out = Vec::new();
    for (i, line) in data.lines().enumerate() {
        let line = line.map_err(|e| ReplayError::Read {
            path: path.display().to_string(),
            reason: io_reason(&e),
        })?;
        if line.trim().is_empty() {
            continue;
        }
        let parsed = CaptureLine::parse(&line).map_err(|source| ReplayError::Line {
            path: path.display().to_string(),
            line: i + 1,
            source,
        })?;
        out.push(parsed);
    }
    Ok(out)
}

/// Plays the HAN line's received bytes as a link. The optical line's chunks (both directions),
/// if asked for with [`optical_chunks`](ReplayConnector::optical_chunks), go out on a channel at
/// their recorded times, so the readout task's side can be shown as it was live.
pub struct ReplayConnector {
    pub path: PathBuf,
    pub source: ReplaySource,
    pub speed: f64,
    played: bool,
    optical: Option<mpsc::Sender<Chunk>>,
}

impl ReplayConnector {
    pub fn new(path: PathBuf, source: ReplaySource, speed: f64) -> Self {
        ReplayConnector {
            path,
            source,
            speed: speed.max(0.001),
            played: false,
            optical: None,
        }
    }

    /// The optical line's chunks, each sent when the replay reaches it; the channel closes when
    /// the replay ends. Without this call they are left out.
    pub fn optical_chunks(&mut self) -> mpsc::Receiver<Chunk> {
        let (tx, rx) = mpsc::channel(256);
        self.optical = Some(tx);
        rx
    }
}

impl Connector for ReplayConnector {
    fn describe(&self) -> String {
        let mut s = format!("replay {}", self.path.display());
        if self.speed != 1.0 {
            s.push_str(&format!(" x{}", self.speed));
        }
        s
    }

    fn ends(&self) -> bool {
        true
    }

    fn connect(&mut self) -> ConnectFuture<'_> {
        if self.played {
            return Box::pin(async {
                Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "replay finished",
                ))
            });
        }
        self.played = true;
        let (ours, theirs) = tokio::io::duplex(64 * 1024);
        tokio::spawn(play(
            self.source.clone(),
            self.speed,
            theirs,
            self.optical.take(),
        ));
        Box::pin(async move { Ok(Box::new(ours) as BoxLink) })
    }
}

async fn play(
    source: ReplaySource,
    speed: f64,
    mut io: tokio::io::DuplexStream,
    mut optical: Option<mpsc::Sender<Chunk>>,
) {
    match source {
        ReplaySource::Capture(chunks) => {
            let start = tokio::time::Instant::now();
            let Some(first) = chunks.first().map(|c| c.t) else {
                return;
            };
            for c in chunks {
                let offset = (c.t - first).num_milliseconds().max(0) as f64 / speed;
                tokio::time::sleep_until(start + Duration::from_micros((offset * 1000.0) as u64))
                    .await;
                // Each line on its own way: the HAN line's received bytes to the reader, the
                // optical line (what was sent and received) to whoever shows the readout.
                match (c.link, c.dir) {
                    (Link::Han, Direction::Rx) => {
                        if io.write_all(&c.bytes).await.is_err() {
                            return;
                        }
                    }
                    (Link::Han, Direction::Tx) => {}
                    (Link::Optical, _) => {
                        if let Some(tx) = &optical
                            && tx.send(c).await.is_err()
                        {
                            optical = None;
                        }
                    }
                }
            }
        }
        ReplaySource::Bytes(bytes) => {
            let piece = 24;
            let pause = Duration::from_secs_f64(piece as f64 / HAN_BYTES_PER_SECOND / speed);
            for chunk in bytes.chunks(piece) {
                if io.write_all(chunk).await.is_err() {
                    return;
                }
                if pause > Duration::from_micros(50) {
                    tokio::time::sleep(pause).await;
                }
            }
        }
    }
    let _ = io.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    /// Each line its own way: the HAN line's received bytes to the reader, the optical line
    /// (both directions) to the channel; the event log's lines to neither.
    #[tokio::test]
    async fn the_lines_of_a_recording_go_their_own_ways() {
        let path =
            std::env::temp_dir().join(format!("kamscope-replay-{}.jsonl", std::process::id()));
        std::fs::write(
            &path,
            concat!(
                r#"{"t":"2024-05-01T10:00:00.000Z","link":"han","dir":"rx","hex":"7EA0"}"#, "\n",
                r#"{"t":"2024-05-01T10:00:00.010Z","event":"readout started on demo"}"#, "\n",
                r#"{"t":"2024-05-01T10:00:00.020Z","link":"optical","dir":"tx","hex":"2F3F210D0A"}"#, "\n",
                r#"{"t":"2024-05-01T10:00:00.030Z","link":"optical","dir":"rx","hex":"2F4B414D"}"#, "\n",
                r#"{"t":"2024-05-01T10:00:00.040Z","dir":"rx","hex":"E27E"}"#, "\n",
            ),
        )
        .unwrap();
        let source = ReplaySource::load(&path).unwrap();
        assert!(matches!(&source, ReplaySource::Capture(c) if c.len() == 4));
        let mut replay = ReplayConnector::new(path.clone(), source, 100.0);
        let mut optical = replay.optical_chunks();
        let mut link = replay.connect().await.unwrap();
        let mut han = Vec::new();
        link.read_to_end(&mut han).await.unwrap();
        assert_eq!(han, [0x7E, 0xA0, 0xE2, 0x7E]);
        let mut seen = Vec::new();
        while let Some(c) = optical.recv().await {
            seen.push((c.dir, c.bytes));
        }
        assert_eq!(
            seen,
            [
                (Direction::Tx, b"/?!\r\n".to_vec()),
                (Direction::Rx, b"/KAM".to_vec())
            ]
        );
        std::fs::remove_file(&path).ok();
    }
}
