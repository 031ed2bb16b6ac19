//! The capture format: JSON Lines, one object per chunk as it was received or sent,
//! `{"t": "<RFC 3339 with ms>", "link": "han", "dir": "rx", "hex": "7EA0..."}`, and the app's
//! event log between them, `{"t": "...", "event": "link down: ..."}`. The file side (appending,
//! flushing) is in `link::record`; this is only the format.

use super::Link;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

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
    pub link: Link,
    pub dir: Direction,
    pub bytes: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
struct Line {
    t: String,
    /// Recordings made before the optical readout existed have no link: they are HAN.
    #[serde(default)]
    link: Link,
    dir: Direction,
    hex: String,
}

/// Why a line is not a capture line.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    #[error("bad time {time:?}: {source}")]
    Time {
        time: String,
        source: chrono::ParseError,
    },
    #[error("{0}")]
    Hex(#[from] super::hex::HexError),
}

impl Chunk {
    pub fn to_json_line(&self) -> String {
        let line = Line {
            t: self.t.to_rfc3339_opts(SecondsFormat::Millis, true),
            link: self.link,
            dir: self.dir,
            hex: super::hex::encode(&self.bytes),
        };
        serde_json::to_string(&line).expect("plain strings serialize")
    }

    /// Parses one capture line.
    pub fn from_json_line(line: &str) -> Result<Self, CaptureError> {
        let l: Line = serde_json::from_str(line)?;
        let t = DateTime::parse_from_rfc3339(&l.t)
            .map_err(|source| CaptureError::Time {
                time: l.t.clone(),
                source,
            })?
            .with_timezone(&Utc);
        let bytes = super::hex::parse(&l.hex)?;
        Ok(Chunk {
            t,
            link: l.link,
            dir: l.dir,
            bytes,
        })
    }
}

/// One entry of the event log, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventLine {
    pub t: String,
    pub event: String,
}

impl EventLine {
    pub fn new(t: DateTime<Utc>, event: &str) -> Self {
        EventLine {
            t: t.to_rfc3339_opts(SecondsFormat::Millis, true),
            event: event.to_string(),
        }
    }

    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self).expect("plain strings serialize")
    }
}

/// A line of a capture: a chunk, or an event of the log (which replays and decodes skip).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaptureLine {
    Chunk(Chunk),
    Event(EventLine),
}

impl CaptureLine {
    pub fn parse(line: &str) -> Result<Self, CaptureError> {
        if !line.contains("\"hex\"")
            && let Ok(e) = serde_json::from_str::<EventLine>(line)
        {
            return Ok(CaptureLine::Event(e));
        }
        Chunk::from_json_line(line).map(CaptureLine::Chunk)
    }
}

/// Whether text looks like a capture (first non-empty line is a JSON object with "hex", or an
/// event line: a recording starts with "recording to ...").
pub fn looks_like_capture(sample: &[u8]) -> bool {
    let text = String::from_utf8_lossy(sample);
    text.lines()
        .find(|l| !l.trim().is_empty())
        .is_some_and(|l| {
            l.trim_start().starts_with('{') && (l.contains("\"hex\"") || l.contains("\"event\""))
        })
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
            link: Link::Optical,
            dir: Direction::Rx,
            bytes: vec![0x7E, 0xA0],
        };
        let line = c.to_json_line();
        assert_eq!(
            line,
            r#"{"t":"2024-05-01T10:00:00.123Z","link":"optical","dir":"rx","hex":"7EA0"}"#
        );
        assert_eq!(Chunk::from_json_line(&line).unwrap(), c);
        assert!(looks_like_capture(line.as_bytes()));
    }

    #[test]
    fn event_lines_are_told_from_chunks() {
        let t = DateTime::parse_from_rfc3339("2024-05-01T10:00:00.123Z")
            .unwrap()
            .with_timezone(&Utc);
        let line = EventLine::new(t, "link down: gone").to_json_line();
        assert_eq!(
            line,
            r#"{"t":"2024-05-01T10:00:00.123Z","event":"link down: gone"}"#
        );
        assert!(
            matches!(CaptureLine::parse(&line), Ok(CaptureLine::Event(e)) if e.event == "link down: gone")
        );
        let chunk = r#"{"t":"2024-05-01T10:00:00.123Z","dir":"rx","hex":"7E"}"#;
        assert!(matches!(
            CaptureLine::parse(chunk),
            Ok(CaptureLine::Chunk(_))
        ));
        assert!(CaptureLine::parse("{\"t\":1}").is_err());
        assert!(
            looks_like_capture(line.as_bytes()),
            "a recording may start with an event"
        );
    }

    #[test]
    fn lines_without_a_link_are_han() {
        let c = Chunk::from_json_line(r#"{"t":"2024-05-01T10:00:00.123Z","dir":"rx","hex":"7E"}"#)
            .unwrap();
        assert_eq!(c.link, Link::Han);
    }
}
