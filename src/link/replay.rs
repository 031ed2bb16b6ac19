//! Plays a recorded capture (or a raw or hex file) through the same pipeline as a live port,
//! with the capture's own pacing (or faster).

use super::sim::HAN_BYTES_PER_SECOND;
use super::{BoxLink, ConnectFuture, Connector, io_reason};
use crate::wire::capture::{self, CaptureError, CaptureLine};
use crate::wire::hex::{self, HexError};
use crate::wire::{Chunk, Direction, Link};
use chrono::{DateTime, Utc};
use std::io::{self, BufRead, Read};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

/// What is replayed.
#[derive(Debug, Clone)]
pub enum ReplaySource {
    /// A kamscope recording, read line by line as it plays: a week of pushes is never held in
    /// memory.
    Capture(CaptureFile),
    /// Chunks already in memory (a recording made in this process, like the support bundle's).
    Chunks(Vec<Chunk>),
    /// Plain bytes, paced like a 2400-baud line.
    Bytes(Vec<u8>),
}

/// A recording on disk, checked once when opened: where its chunks start and which lines could
/// not be read (a line torn by a full disk or a power cut is skipped, not the whole file).
#[derive(Debug, Clone)]
pub struct CaptureFile {
    pub path: PathBuf,
    /// The time of its first chunk.
    pub first_chunk: DateTime<Utc>,
    /// Lines that are not capture lines, the first [`BAD_LINES_KEPT`] of them.
    pub bad_lines: Vec<BadLine>,
    /// How many there are in all.
    pub bad_count: usize,
}

/// The bad lines named one by one; more are counted.
pub const BAD_LINES_KEPT: usize = 20;

/// A line of a recording that could not be read.
#[derive(Debug, Clone, PartialEq)]
pub struct BadLine {
    /// 1-based.
    pub line: usize,
    pub reason: String,
}

/// Why a file cannot be replayed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("cannot read {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("{path} line {line}: not a capture line: {reason}")]
    Line {
        path: String,
        line: usize,
        reason: String,
    },
    #[error("{0}")]
    Hex(#[from] HexError),
    #[error("no bytes in {path}")]
    Empty { path: String },
}

/// How much of a file is looked at to tell a recording from hex text and raw bytes.
const SAMPLE: usize = 64 * 1024;

impl ReplaySource {
    /// Opens a file, telling capture, hex text and raw bytes apart. A recording is read through
    /// once to check it (its bad lines noted); hex and raw files are loaded.
    pub fn load(path: &Path) -> Result<Self, ReplayError> {
        let read_error = |e: io::Error| ReplayError::Read {
            path: path.display().to_string(),
            reason: io_reason(&e),
        };
        let empty = || ReplayError::Empty {
            path: path.display().to_string(),
        };
        let mut file = std::fs::File::open(path).map_err(read_error)?;
        let mut sample = Vec::with_capacity(SAMPLE);
        io::Read::by_ref(&mut file)
            .take(SAMPLE as u64)
            .read_to_end(&mut sample)
            .map_err(read_error)?;
        if capture::looks_like_capture(&sample) {
            let mut first_chunk = None;
            let mut any_bytes = false;
            let mut bad_lines = Vec::new();
            let mut bad_count = 0;
            for item in CaptureLines::open(path)? {
                match item? {
                    (_, Ok(CaptureLine::Chunk(c))) => {
                        first_chunk.get_or_insert(c.t);
                        any_bytes |= !c.bytes.is_empty();
                    }
                    (_, Ok(CaptureLine::Event(_))) => {}
                    (line, Err(e)) => {
                        bad_count += 1;
                        if bad_lines.len() < BAD_LINES_KEPT {
                            bad_lines.push(BadLine {
                                line,
                                reason: e.to_string(),
                            });
                        }
                    }
                }
            }
            if let (false, Some(first)) = (any_bytes, bad_lines.first()) {
                // Nothing but bad lines: not a recording after all, in one sentence.
                return Err(ReplayError::Line {
                    path: path.display().to_string(),
                    line: first.line,
                    reason: first.reason.clone(),
                });
            }
            let first_chunk = first_chunk.filter(|_| any_bytes).ok_or_else(empty)?;
            return Ok(ReplaySource::Capture(CaptureFile {
                path: path.to_path_buf(),
                first_chunk,
                bad_lines,
                bad_count,
            }));
        }
        let mut data = sample;
        file.read_to_end(&mut data).map_err(read_error)?;
        let source = if hex::looks_like_hex(&data) {
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
            return Err(empty());
        }
        Ok(source)
    }

    /// Whether there is not one byte to play.
    pub fn is_empty(&self) -> bool {
        match self {
            // Checked when it was opened.
            ReplaySource::Capture(_) => false,
            ReplaySource::Chunks(chunks) => chunks.iter().all(|c| c.bytes.is_empty()),
            ReplaySource::Bytes(bytes) => bytes.is_empty(),
        }
    }

    /// The time of the first chunk of a recording (hex and raw files have none).
    pub fn first_chunk(&self) -> Option<DateTime<Utc>> {
        match self {
            ReplaySource::Capture(f) => Some(f.first_chunk),
            ReplaySource::Chunks(chunks) => chunks.first().map(|c| c.t),
            ReplaySource::Bytes(_) => None,
        }
    }

    /// The recording's chunks in order, read as they are asked for (the event log's lines and
    /// bad lines left out; a file that became unreadable since it was opened ends them).
    pub fn chunks(&self) -> Box<dyn Iterator<Item = Chunk> + Send + '_> {
        match self {
            ReplaySource::Capture(f) => match CaptureLines::open(&f.path) {
                Ok(lines) => Box::new(lines.map_while(Result::ok).filter_map(
                    |(_, line)| match line {
                        Ok(CaptureLine::Chunk(c)) => Some(c),
                        _ => None,
                    },
                )),
                Err(_) => Box::new(std::iter::empty()),
            },
            ReplaySource::Chunks(chunks) => Box::new(chunks.iter().cloned()),
            ReplaySource::Bytes(_) => Box::new(std::iter::empty()),
        }
    }

    /// One sentence per bad line (at most five, then how many more), for the user.
    pub fn warnings(&self) -> Vec<String> {
        let ReplaySource::Capture(f) = self else {
            return Vec::new();
        };
        bad_line_warnings(&f.path, &f.bad_lines, f.bad_count)
    }
}

/// Sentences for skipped lines: the first five by number, then a count.
pub fn bad_line_warnings(path: &Path, bad: &[BadLine], count: usize) -> Vec<String> {
    let mut out: Vec<String> = bad
        .iter()
        .take(5)
        .map(|b| {
            format!(
                "{} line {}: not a capture line, skipped (cut off by a full disk or a power cut?): {}",
                path.display(),
                b.line,
                b.reason
            )
        })
        .collect();
    if count > out.len() {
        out.push(format!(
            "{}: {} more bad lines skipped",
            path.display(),
            count - out.len()
        ));
    }
    out
}

/// The lines of a recording with their numbers (1-based), each parsed or not; blank lines
/// skipped. Reading stops at a read error.
pub struct CaptureLines<R> {
    reader: R,
    /// The name in error sentences.
    name: String,
    line: usize,
}

impl CaptureLines<io::BufReader<std::fs::File>> {
    pub fn open(path: &Path) -> Result<Self, ReplayError> {
        let file = std::fs::File::open(path).map_err(|e| ReplayError::Read {
            path: path.display().to_string(),
            reason: io_reason(&e),
        })?;
        Ok(CaptureLines::new(
            io::BufReader::with_capacity(64 * 1024, file),
            path.display().to_string(),
        ))
    }
}

impl<R: BufRead> CaptureLines<R> {
    pub fn new(reader: R, name: String) -> Self {
        CaptureLines {
            reader,
            name,
            line: 0,
        }
    }
}

impl<R: BufRead> Iterator for CaptureLines<R> {
    type Item = Result<(usize, Result<CaptureLine, CaptureError>), ReplayError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let mut raw = Vec::new();
            match self.reader.read_until(b'\n', &mut raw) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) => {
                    return Some(Err(ReplayError::Read {
                        path: self.name.clone(),
                        reason: io_reason(&e),
                    }));
                }
            }
            self.line += 1;
            // A torn line may end inside a character: it is a bad line, not a read error.
            let text = String::from_utf8_lossy(&raw);
            if text.trim().is_empty() {
                continue;
            }
            return Some(Ok((self.line, CaptureLine::parse(text.trim_end()))));
        }
    }
}

/// Every line of a capture in memory, chunks and the event log's lines, in order (blank lines
/// skipped), and the lines that are not capture lines.
pub fn capture_lines(data: &[u8]) -> (Vec<CaptureLine>, Vec<BadLine>) {
    let mut out = Vec::new();
    let mut bad = Vec::new();
    for (i, line) in data.split(|&b| b == b'\n').enumerate() {
        let text = String::from_utf8_lossy(line);
        if text.trim().is_empty() {
            continue;
        }
        match CaptureLine::parse(text.trim_end()) {
            Ok(parsed) => out.push(parsed),
            Err(e) => bad.push(BadLine {
                line: i + 1,
                reason: e.to_string(),
            }),
        }
    }
    (out, bad)
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
        ReplaySource::Capture(_) | ReplaySource::Chunks(_) => {
            let start = tokio::time::Instant::now();
            let Some(first) = source.first_chunk() else {
                return;
            };
            // Read on a thread of its own, a few hundred chunks ahead of the player.
            let (tx, mut chunks) = mpsc::channel::<Chunk>(256);
            let reader = source.clone();
            std::thread::spawn(move || {
                for c in reader.chunks() {
                    if tx.blocking_send(c).is_err() {
                        return;
                    }
                }
            });
            while let Some(c) = chunks.recv().await {
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
        ReplaySource::Bytes(ref bytes) => {
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
        assert_eq!(source.chunks().count(), 4);
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
