//! The one way bytes become spans: chunk -> recorder -> framer -> decoder -> span records. The HAN
//! reader task, the optical readout task, `decode` (file and port) and the tests all use it, so a
//! live session, a replay and the decode of its recording give the same spans.
//!
//! Sans-IO: the recorder is whatever implements [`ChunkSink`] (a file, in `link::record`), and the
//! time of each chunk is passed in.

use super::{Chunk, Direction, Link, SpanRecord};
use crate::protocol::{Decoded, Decoder, Framer, Protocols, Span};
use chrono::{DateTime, Utc};
use std::sync::{Arc, Mutex};

/// Where chunks are recorded.
pub trait ChunkSink: Send {
    fn record(&mut self, chunk: &Chunk) -> Result<(), RecordError>;
    /// A line of the app's event log, between the chunks.
    fn record_event(&mut self, event: &super::capture::EventLine) -> Result<(), RecordError>;
}

/// A recording that failed: the user must be told (nothing recorded may be lost silently).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// A write failed: what comes is kept in memory and written when a retry succeeds.
    #[error("recording to {path} failed: {reason}; kept in memory, retried every minute")]
    Write { path: String, reason: String },
    /// A retry succeeded: every line kept meanwhile is in the file.
    #[error("recording to {path} resumed: {lines} lines kept meanwhile written")]
    Resumed { path: String, lines: usize },
    /// More waited than memory may hold: from here on lines are lost until a retry succeeds.
    #[error(
        "recording to {path} still failing: lines are being lost (over {limit_mib} MiB waited)"
    )]
    Losing { path: String, limit_mib: usize },
    #[error("recording stopped after an earlier failure")]
    Stopped,
}

impl RecordError {
    /// Whether the recording is writing again.
    pub fn resumed(&self) -> bool {
        matches!(self, RecordError::Resumed { .. })
    }
}

/// One recording written by several tasks (the HAN reader and the optical readout).
pub type SharedRecorder = Arc<Mutex<dyn ChunkSink>>;

/// A span fresh from the framer and decoder, borrowing its bytes from the framer and its decoding
/// from the pipeline (decoded where it is kept, not moved: see [`Decoder::decode_into`]). Turn it
/// into a [`SpanRecord`] to keep it.
#[derive(Debug)]
pub struct SpanView<'a> {
    pub link: Link,
    pub dir: Direction,
    pub received: DateTime<Utc>,
    pub span: Span<'a>,
    pub decoded: &'a mut Decoded,
}

impl SpanView<'_> {
    pub fn ok(&self) -> bool {
        crate::protocol::decoder::span_ok(&self.span.content, self.decoded)
    }

    pub fn into_record(self) -> SpanRecord {
        SpanRecord {
            link: self.link,
            dir: self.dir,
            received: self.received,
            offset: self.span.offset,
            bytes: self.span.bytes.to_vec(),
            content: self.span.content,
            decoded: std::mem::replace(self.decoded, Decoded::Junk),
        }
    }
}

/// A HAN line quiet this long has finished its frame: what is pending is decided as it stands
/// (a cut-off frame, junk). The live reader's idle timer and the times of a recording's chunks
/// both apply it, so a live session and the decode of its recording give the same spans.
pub const IDLE_FLUSH: chrono::TimeDelta = chrono::TimeDelta::milliseconds(500);

/// The pipeline of one link: a framer per direction (what we send is framed apart from what the
/// meter answers) and one decoder, which keeps the context across both (an identification belongs
/// to the request before it).
pub struct Pipeline {
    link: Link,
    framers: [Framer; 2],
    /// What each framed span goes through (apart from the framers, which lend it the spans).
    spans: SpanTaker,
    recorder: Option<SharedRecorder>,
    /// When the last received bytes came, for the idle flush of a HAN line. Readouts are
    /// framed by their session's own timeouts, so they have none.
    last_rx: Option<DateTime<Utc>>,
}

/// Decodes the spans of one link, in both directions, and tells echoes.
struct SpanTaker {
    link: Link,
    decoder: Decoder,
    /// Where each span is decoded (the view lends it out).
    decoded: Decoded,
    /// The last span we sent, until something else is received: an optical head echoes what
    /// it is sent, so a received span with the same bytes is that echo, not the meter.
    echo_of: Option<Vec<u8>>,
}

impl SpanTaker {
    /// A span just framed: decoded and, received after a span we sent with the same bytes,
    /// marked as its echo.
    fn take<'a>(&'a mut self, dir: Direction, at: DateTime<Utc>, span: Span<'a>) -> SpanView<'a> {
        self.decoder.decode_into(&span, &mut self.decoded);
        let junk = matches!(span.content, crate::protocol::Content::Junk);
        // An M-Bus E5 is framed once the next byte shows it stands alone, so one that answered
        // the previous request may come out after the next request was sent.
        let ack = matches!(&span.content, crate::protocol::Content::Mbus(f) if f.kind == crate::protocol::mbus::Kind::Ack);
        match dir {
            Direction::Tx if !junk => self.echo_of = Some(span.bytes.to_vec()),
            Direction::Tx => {}
            // Noise or a late E5 before the echo leaves it expected; anything else ends the wait.
            Direction::Rx if junk || ack => {}
            Direction::Rx => {
                if self.echo_of.take().is_some_and(|sent| sent == span.bytes) {
                    self.decoded.mark_echo();
                }
            }
        }
        SpanView {
            link: self.link,
            dir,
            received: at,
            span,
            decoded: &mut self.decoded,
        }
    }
}

fn index(dir: Direction) -> usize {
    match dir {
        Direction::Rx => 0,
        Direction::Tx => 1,
    }
}

impl Pipeline {
    pub fn new(
        link: Link,
        protocols: Protocols,
        decoder: Decoder,
        recorder: Option<SharedRecorder>,
    ) -> Self {
        Pipeline {
            link,
            framers: [Framer::new(protocols), Framer::new(protocols)],
            spans: SpanTaker {
                link,
                decoder,
                decoded: Decoded::Junk,
                echo_of: None,
            },
            recorder,
            last_rx: None,
        }
    }

    pub fn decoder_mut(&mut self) -> &mut Decoder {
        &mut self.spans.decoder
    }

    /// Whether a recording is still being written.
    pub fn recording(&self) -> bool {
        self.recorder.is_some()
    }

    /// Received bytes not yet part of a span (a frame still arriving).
    pub fn pending(&self) -> usize {
        self.framers[index(Direction::Rx)].pending()
    }

    /// Records a chunk, then frames and decodes it: `visit` gets every span it completes. A chunk
    /// we sent is a whole request, so it is framed at once. A failed recording is reported once
    /// (as the error) and recording stops; the spans are framed all the same.
    pub fn on_chunk(
        &mut self,
        chunk: &Chunk,
        visit: impl FnMut(SpanView<'_>),
    ) -> Result<(), RecordError> {
        let recorded = self.record(chunk);
        self.push(chunk.dir, chunk.t, &chunk.bytes, visit);
        recorded
    }

    fn record(&mut self, chunk: &Chunk) -> Result<(), RecordError> {
        let Some(rec) = &self.recorder else {
            return Ok(());
        };
        let result = match rec.lock() {
            Ok(mut r) => r.record(chunk),
            Err(_) => Err(RecordError::Stopped),
        };
        // A failing recorder keeps what comes and retries; only a broken one is let go.
        if result == Err(RecordError::Stopped) {
            self.recorder = None;
        }
        result
    }

    /// Frames and decodes bytes without recording them (decoding a file).
    pub fn push(
        &mut self,
        dir: Direction,
        at: DateTime<Utc>,
        bytes: &[u8],
        mut visit: impl FnMut(SpanView<'_>),
    ) {
        if dir == Direction::Rx && self.link == Link::Han {
            if let Some(last) = self.last_rx
                && at - last > IDLE_FLUSH
                && self.pending() > 0
            {
                self.flush(last + IDLE_FLUSH, &mut visit);
            }
            self.last_rx = Some(at);
        }
        let i = index(dir);
        if dir == Direction::Tx {
            self.framers[i].push(bytes);
            self.framers[i].finish();
            self.drain(dir, at, visit);
            return;
        }
        // Received bytes are framed where they lie (not copied when nothing is pending).
        let spans = &mut self.spans;
        self.framers[i].push_and_frame(bytes, |span| visit(spans.take(dir, at, span)));
    }

    /// The line went quiet, or the input ended: what is pending in either direction is emitted
    /// as it stands (a cut-off frame, junk).
    pub fn flush(&mut self, at: DateTime<Utc>, mut visit: impl FnMut(SpanView<'_>)) {
        for dir in [Direction::Rx, Direction::Tx] {
            self.framers[index(dir)].finish();
            self.drain(dir, at, &mut visit);
        }
    }

    fn drain(&mut self, dir: Direction, at: DateTime<Utc>, mut visit: impl FnMut(SpanView<'_>)) {
        let framer = &mut self.framers[index(dir)];
        while let Some(span) = framer.next_span() {
            visit(self.spans.take(dir, at, span));
        }
    }

    /// Convenience for owners that keep every span: the spans of one chunk, owned.
    pub fn records_of(&mut self, chunk: &Chunk) -> (Vec<SpanRecord>, Result<(), RecordError>) {
        let mut out = Vec::new();
        let recorded = self.on_chunk(chunk, |v| out.push(v.into_record()));
        (out, recorded)
    }

    /// [`flush`](Self::flush), owned.
    pub fn flush_records(&mut self, at: DateTime<Utc>) -> Vec<SpanRecord> {
        let mut out = Vec::new();
        self.flush(at, |v| out.push(v.into_record()));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Failing;
    impl ChunkSink for Failing {
        fn record(&mut self, _: &Chunk) -> Result<(), RecordError> {
            Err(RecordError::Write {
                path: "rec.jsonl".into(),
                reason: "disk full".into(),
            })
        }

        fn record_event(
            &mut self,
            _: &super::super::capture::EventLine,
        ) -> Result<(), RecordError> {
            Ok(())
        }
    }

    #[test]
    fn a_failing_recording_is_reported_kept_for_its_retries_and_spans_still_come() {
        let rec: SharedRecorder = Arc::new(Mutex::new(Failing));
        let mut p = Pipeline::new(Link::Han, Protocols::HDLC, Decoder::default(), Some(rec));
        let frame = crate::protocol::han::sample_stream(1);
        let chunk = Chunk {
            t: Utc::now(),
            link: Link::Han,
            dir: Direction::Rx,
            bytes: frame.clone(),
        };
        let (spans, recorded) = p.records_of(&chunk);
        assert!(
            recorded
                .unwrap_err()
                .to_string()
                .starts_with("recording to rec.jsonl failed: disk full")
        );
        // The recorder keeps what comes and retries (link::record): it stays.
        assert!(p.recording());
        assert_eq!(spans.len(), 1);
        assert!(spans[0].ok());
        let (spans, _) = p.records_of(&chunk);
        assert_eq!(spans.len(), 1);
    }
}

#[cfg(test)]
mod idle_flush_tests {
    use super::*;
    use chrono::TimeDelta;

    /// (offset, length, ok) of the spans of `chunks` (time in ms, bytes) on a HAN line.
    fn spans(chunks: &[(i64, &[u8])]) -> Vec<(u64, usize, bool)> {
        let mut p = Pipeline::new(Link::Han, Protocols::HAN, Decoder::default(), None);
        let t0 = DateTime::<Utc>::UNIX_EPOCH + TimeDelta::days(20_000);
        let mut out = Vec::new();
        let mut last = t0;
        for (ms, bytes) in chunks {
            last = t0 + TimeDelta::milliseconds(*ms);
            p.push(Direction::Rx, last, bytes, |v| {
                out.push((v.span.offset, v.span.bytes.len(), v.ok()))
            });
        }
        p.flush(last, |v| {
            out.push((v.span.offset, v.span.bytes.len(), v.ok()))
        });
        out
    }

    #[test]
    fn a_quiet_line_ends_the_frame_by_the_chunks_times() {
        let frame = crate::protocol::han::sample_stream(1);
        let cut = &frame[..40];
        let junk = [0x55u8; 20];
        // Cut off, then quiet for two seconds, then noise and the next push: the cut frame ends
        // where the line went quiet, as the live reader's idle timer decides it.
        let quiet = spans(&[(0, cut), (2000, &junk), (2100, &frame)]);
        assert_eq!(
            quiet,
            [(0, 40, false), (40, 20, false), (60, frame.len(), true)]
        );
        // The same bytes without the pause: the frame's claimed length runs into the noise.
        let busy = spans(&[(0, cut), (100, &junk), (200, &frame)]);
        assert_eq!(busy[0], (0, 60, false));
        assert_eq!(busy[1], (60, frame.len(), true));
    }
}
