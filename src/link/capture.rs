//! Lossless captures: JSON Lines, one object per chunk as it was received or sent,
//! `{"t": "<RFC 3339 with ms>", "dir": "rx", "hex": "7EA0..."}`. Appended and flushed per chunk,
//! so a capture survives a crash or a pulled cable.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Rx,
    Tx,
}

/// One captured chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    pub t: DateTime<Utc>,
    pub dir: Direction,
    pub bytes: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
struct Line {
    t: String,
    dir: Direction,
    hex: String,
}

impl Chunk {
    pub fn to_json_line(&self) -> String {
        let line = Line {
            t: self.t.to_rfc3339_opts(SecondsFormat::Millis, true),
            dir: self.dir,
            hex: crate::report::hex(&self.bytes),
        };
        serde_json::to_string(&line).expect("plain strings serialize")
    }

    /// Parses one capture line; `None` for a line that is not a capture object.
    pub fn from_json_line(line: &str) -> Result<Self, String> {
        let l: Line = serde_json::from_str(line).map_err(|e| e.to_string())?;
        let t = DateTime::parse_from_rfc3339(&l.t)
            .map_err(|e| format!("bad time {:?}: {e}", l.t))?
            .with_timezone(&Utc);
        let bytes = crate::input::parse_hex(&l.hex).map_err(|e| e.to_string())?;
        Ok(Chunk {
            t,
            dir: l.dir,
            bytes,
        })
    }
}

/// One recording written by several tasks (the HAN reader and the optical readout).
pub type SharedRecorder = std::sync::Arc<std::sync::Mutex<Recorder>>;

/// Appends chunks to a capture file, flushing each.
#[derive(Debug)]
pub struct Recorder {
    path: PathBuf,
    file: File,
}

impl Recorder {
    pub fn create(path: &Path) -> io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Recorder {
            path: path.to_path_buf(),
            file,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn write(&mut self, chunk: &Chunk) -> io::Result<()> {
        let mut line = chunk.to_json_line();
        line.push('\n');
        self.file.write_all(line.as_bytes())?;
        self.file.flush()
    }
}

/// Whether text looks like a capture (first non-empty line is a JSON object with "hex").
pub fn looks_like_capture(sample: &[u8]) -> bool {
    let text = String::from_utf8_lossy(sample);
    text.lines()
        .find(|l| !l.trim().is_empty())
        .is_some_and(|l| l.trim_start().starts_with('{') && l.contains("\"hex\""))
}

/// Reads every chunk of a capture file. Errors name the line.
pub fn read_capture(path: &Path) -> Result<Vec<Chunk>, String> {
    let file = File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        out.push(
            Chunk::from_json_line(&line).map_err(|e| {
                format!("{} line {}: not a capture line: {e}", path.display(), i + 1)
            })?,
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_round_trip() {
        let c = Chunk {
            t: DateTime::parse_from_rfc3339("2024-05-01T10:00:00.123Z")
                .unwrap()
                .with_timezone(&Utc),
            dir: Direction::Rx,
            bytes: vec![0x7E, 0xA0],
        };
        let line = c.to_json_line();
        assert_eq!(
            line,
            r#"{"t":"2024-05-01T10:00:00.123Z","dir":"rx","hex":"7EA0"}"#
        );
        assert_eq!(Chunk::from_json_line(&line).unwrap(), c);
        assert!(looks_like_capture(line.as_bytes()));
    }
}
