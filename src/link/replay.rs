//! Plays a recorded capture (or a raw or hex file) through the same pipeline as a live port,
//! with the capture's own pacing (or faster).

use super::capture::{self, Chunk, Direction};
use super::sim::HAN_BYTES_PER_SECOND;
use super::{BoxLink, ConnectFuture, Connector};
use crate::input;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// What is replayed.
#[derive(Debug, Clone)]
pub enum ReplaySource {
    /// A capture: received chunks with their times.
    Capture(Vec<Chunk>),
    /// Plain bytes, paced like a 2400-baud line.
    Bytes(Vec<u8>),
}

impl ReplaySource {
    /// Loads a file, telling capture, hex text and raw bytes apart.
    pub fn load(path: &Path) -> Result<Self, String> {
        let data = std::fs::read(path).map_err(|e| {
            format!(
                "cannot read {}: {}",
                path.display(),
                crate::input::io_reason(&e)
            )
        })?;
        if capture::looks_like_capture(&data) {
            return capture::read_capture(path).map(ReplaySource::Capture);
        }
        if input::looks_like_hex(&data) {
            let text = String::from_utf8_lossy(&data);
            let mut bytes = Vec::new();
            let mut dec = input::HexDecoder::default();
            let name = path.display().to_string();
            dec.feed(&name, text.as_bytes(), &mut bytes)
                .map_err(|e| e.to_string())?;
            dec.finish(&name).map_err(|e| e.to_string())?;
            return Ok(ReplaySource::Bytes(bytes));
        }
        Ok(ReplaySource::Bytes(data))
    }
}

pub struct ReplayConnector {
    pub path: PathBuf,
    pub source: ReplaySource,
    pub speed: f64,
    played: bool,
}

impl ReplayConnector {
    pub fn new(path: PathBuf, source: ReplaySource, speed: f64) -> Self {
        ReplayConnector {
            path,
            source,
            speed: speed.max(0.001),
            played: false,
        }
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
        tokio::spawn(play(self.source.clone(), self.speed, theirs));
        Box::pin(async move { Ok(Box::new(ours) as BoxLink) })
    }
}

async fn play(source: ReplaySource, speed: f64, mut io: tokio::io::DuplexStream) {
    match source {
        ReplaySource::Capture(chunks) => {
            let start = tokio::time::Instant::now();
            let Some(first) = chunks.first().map(|c| c.t) else {
                return;
            };
            for c in chunks.iter().filter(|c| c.dir == Direction::Rx) {
                let offset = (c.t - first).num_milliseconds().max(0) as f64 / speed;
                tokio::time::sleep_until(start + Duration::from_micros((offset * 1000.0) as u64))
                    .await;
                if io.write_all(&c.bytes).await.is_err() {
                    return;
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
