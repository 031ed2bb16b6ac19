//! The stream framer: arbitrary chunks of bytes in, spans out. A span is a frame of one of the
//! known protocols (good or bad, with its checks) or a run of junk; every input byte belongs to
//! exactly one span, so nothing that came down the wire is dropped silently.
//!
//! The result does not depend on how the input was chunked: a frame or junk run is only emitted
//! once the bytes that decide its extent are there (or at [`Framer::finish`]).

use super::check::Check;
use super::{hdlc, iec61107, kmp, mbus, p1};
use std::borrow::Cow;

/// Which protocols the framer hunts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Protocols {
    pub hdlc: bool,
    pub iec61107: bool,
    pub kmp: bool,
    pub mbus: bool,
    /// HAN-P1 (DSMR-style) telegrams.
    pub p1: bool,
}

impl Protocols {
    pub const ALL: Protocols = Protocols {
        hdlc: true,
        iec61107: true,
        kmp: true,
        mbus: true,
        p1: true,
    };
    pub const NONE: Protocols = Protocols {
        hdlc: false,
        iec61107: false,
        kmp: false,
        mbus: false,
        p1: false,
    };
    pub const HDLC: Protocols = Protocols {
        hdlc: true,
        ..Protocols::NONE
    };
    /// What the readout line (optical head or M-Bus level converter) carries: every readout
    /// protocol kamscope speaks, so a recording of any readout is framed whole.
    pub const OPTICAL: Protocols = Protocols {
        iec61107: true,
        kmp: true,
        mbus: true,
        ..Protocols::NONE
    };
    /// What a HAN port sends: HDLC frames (HAN-NVE) or P1 telegrams.
    pub const HAN: Protocols = Protocols {
        hdlc: true,
        p1: true,
        ..Protocols::NONE
    };
}

impl Default for Protocols {
    fn default() -> Self {
        Protocols::ALL
    }
}

/// The protocol of a span.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    Hdlc,
    Iec61107,
    Kmp,
    Mbus,
    P1,
    Junk,
}

impl Protocol {
    pub const ALL: [Protocol; 6] = [
        Protocol::Hdlc,
        Protocol::Iec61107,
        Protocol::Kmp,
        Protocol::Mbus,
        Protocol::P1,
        Protocol::Junk,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Protocol::Hdlc => "hdlc",
            Protocol::Iec61107 => "iec61107",
            Protocol::Kmp => "kmp",
            Protocol::Mbus => "mbus",
            Protocol::P1 => "p1",
            Protocol::Junk => "junk",
        }
    }
}

/// What the framer found in a span, with the checks it computed to find it.
#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    Junk,
    Hdlc(hdlc::Frame),
    Iec61107(iec61107::Frame),
    Kmp(kmp::Frame),
    Mbus(mbus::Frame),
    P1(p1::Frame),
}

impl Content {
    pub fn protocol(&self) -> Protocol {
        match self {
            Content::Junk => Protocol::Junk,
            Content::Hdlc(_) => Protocol::Hdlc,
            Content::Iec61107(_) => Protocol::Iec61107,
            Content::Kmp(_) => Protocol::Kmp,
            Content::Mbus(_) => Protocol::Mbus,
            Content::P1(_) => Protocol::P1,
        }
    }

    /// Whether every check passed (and there is at least one: junk has none). An HDLC frame is
    /// judged without making its list of checks.
    pub fn all_ok(&self) -> bool {
        match self {
            Content::Hdlc(f) => f.intact(),
            other => super::check::all_ok(&other.checks()),
        }
    }

    /// Every check of the span, in order (an HDLC frame's are made from what it keeps).
    pub fn checks(&self) -> Cow<'_, [Check]> {
        match self {
            Content::Junk => Cow::Borrowed(&[]),
            Content::Hdlc(f) => Cow::Owned(f.checks()),
            Content::Iec61107(f) => Cow::Borrowed(&f.checks),
            Content::Kmp(f) => Cow::Borrowed(&f.checks),
            Content::Mbus(f) => Cow::Borrowed(&f.checks),
            Content::P1(f) => Cow::Borrowed(&f.checks),
        }
    }
}

impl From<hdlc::Frame> for Content {
    fn from(f: hdlc::Frame) -> Self {
        Content::Hdlc(f)
    }
}
impl From<iec61107::Frame> for Content {
    fn from(f: iec61107::Frame) -> Self {
        Content::Iec61107(f)
    }
}
impl From<kmp::Frame> for Content {
    fn from(f: kmp::Frame) -> Self {
        Content::Kmp(f)
    }
}
impl From<mbus::Frame> for Content {
    fn from(f: mbus::Frame) -> Self {
        Content::Mbus(f)
    }
}
impl From<p1::Frame> for Content {
    fn from(f: p1::Frame) -> Self {
        Content::P1(f)
    }
}

/// A protocol's answer to "does a frame start here?".
#[derive(Debug)]
pub(crate) enum Probe {
    /// Not a frame start.
    No,
    /// Cannot tell before more bytes arrive (never returned at end of input).
    NeedMore,
    /// Looks like a damaged frame start that claims to end at `end`; kept unless a proper frame
    /// starts before that.
    Weak { end: usize },
    /// A frame (good or bad) that ends at `end`.
    Frame { end: usize, frame: Content },
}

/// One span of the input: a frame or a junk run, with its offset in the whole stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Span<'a> {
    pub offset: u64,
    pub bytes: &'a [u8],
    pub content: Content,
}

impl Span<'_> {
    pub fn protocol(&self) -> Protocol {
        self.content.protocol()
    }
}

/// Junk runs are cut at this length so a noisy line cannot grow the buffer without bound.
pub const MAX_JUNK_RUN: usize = 4096;

/// Sans-IO stream framer. Feed bytes with [`push`](Framer::push), take spans with
/// [`next_span`](Framer::next_span) until it returns `None`, and call [`finish`](Framer::finish)
/// at the end of input (or when the line has been quiet long enough that a partial frame will
/// not be completed).
#[derive(Debug)]
pub struct Framer {
    protocols: Protocols,
    buf: Vec<u8>,
    /// Stream offset of `buf[0]`.
    base: u64,
    /// Start of the next span, as an index into `buf`.
    start: usize,
    /// Probing resumes here; positions in `start..scan` are known not to start a frame.
    scan: usize,
    /// The first weak candidate in `start..scan`: (position, claimed end).
    weak: Option<(usize, usize)>,
    /// A frame found (position, end) while junk or a weak candidate before it is still to be
    /// emitted.
    found: Option<(usize, usize, Content)>,
    /// Index just past the last HDLC frame, if it ended with a flag that may open the next one.
    after_flag: Option<usize>,
    eof: bool,
    /// CRC registers over the buffer while damaged HDLC frames are judged.
    fcs_cache: hdlc::FcsCache,
    /// How far the IEC 61107 block pending at `scan` has been read.
    iec_scan: iec61107::BlockScan,
    /// How far the body of the P1 telegram pending at `scan` has been read.
    p1_scan: p1::BodyScan,
}

impl Default for Framer {
    fn default() -> Self {
        Framer::new(Protocols::ALL)
    }
}

impl Framer {
    pub fn new(protocols: Protocols) -> Self {
        Framer {
            protocols,
            buf: Vec::with_capacity(4096),
            base: 0,
            start: 0,
            scan: 0,
            weak: None,
            found: None,
            after_flag: None,
            eof: false,
            fcs_cache: hdlc::FcsCache::default(),
            iec_scan: iec61107::BlockScan::default(),
            p1_scan: p1::BodyScan::default(),
        }
    }

    /// Stream offset of the next byte that will be pushed.
    pub fn offset(&self) -> u64 {
        self.base + self.buf.len() as u64
    }

    /// Bytes received but not yet part of an emitted span.
    pub fn pending(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Adds received bytes. After [`finish`](Framer::finish), pushing starts a new stream segment
    /// (offsets keep counting).
    pub fn push(&mut self, chunk: &[u8]) {
        self.resume();
        // Drop consumed bytes once they dominate the buffer, so buffering stays linear.
        if self.start > 0 && self.start >= self.buf.len() / 2 {
            let n = self.start;
            self.buf.drain(..n);
            self.forget(n);
        }
        self.buf.extend_from_slice(chunk);
    }

    /// [`push`](Framer::push) and then [`next_span`](Framer::next_span) until it returns `None`,
    /// `each` getting every span, without copying the chunk when nothing is pending: the spans
    /// that lie whole in it borrow their bytes from it, and only what is left pending at its end
    /// is kept. The spans are the same as pushing it.
    pub fn push_and_frame(&mut self, chunk: &[u8], mut each: impl FnMut(Span<'_>)) {
        if self.start < self.buf.len() {
            self.push(chunk);
            while let Some(span) = self.next_span() {
                each(span);
            }
            return;
        }
        self.resume();
        // Everything buffered was emitted: framing goes on in the chunk, at the same stream
        // offsets (`base` now the chunk's).
        let n = self.buf.len();
        self.buf.clear();
        self.forget(n);
        while let Some((start, end, content)) = self.next_in(chunk) {
            each(Span {
                offset: self.base + start as u64,
                bytes: &chunk[start..end],
                content,
            });
        }
        let n = self.start;
        self.buf.extend_from_slice(&chunk[n..]);
        self.forget(n);
    }

    /// Input after [`finish`](Framer::finish) starts a new stream segment.
    fn resume(&mut self) {
        if self.eof {
            self.eof = false;
            self.after_flag = None;
        }
    }

    /// The first `n` bytes of the data being framed are gone (emitted): positions move down.
    fn forget(&mut self, n: usize) {
        self.base += n as u64;
        self.start -= n;
        self.scan -= n;
        self.weak = self.weak.map(|(p, e)| (p - n, e - n));
        self.found = self.found.take().map(|(p, e, c)| (p - n, e - n, c));
        self.after_flag = self.after_flag.and_then(|a| a.checked_sub(n));
        self.fcs_cache.drained(n);
        self.iec_scan.drained(n);
        self.p1_scan.drained(n);
    }

    /// Declares the end of input: partial frames and junk still pending are emitted by the next
    /// calls to [`next_span`](Framer::next_span).
    pub fn finish(&mut self) {
        self.eof = true;
    }

    /// The next complete span, or `None` when more input is needed.
    pub fn next_span(&mut self) -> Option<Span<'_>> {
        // The buffer is lent to the framing (which borrows the framer's state mutably) and put
        // back before the span borrows it.
        let buf = std::mem::take(&mut self.buf);
        let next = self.next_in(&buf);
        self.buf = buf;
        let (start, end, content) = next?;
        Some(Span {
            offset: self.base + start as u64,
            bytes: &self.buf[start..end],
            content,
        })
    }

    /// The next complete span of `data` (the bytes being framed: the buffer, or a chunk framed
    /// where it lies) as (start, end, content), marked emitted.
    fn next_in(&mut self, data: &[u8]) -> Option<(usize, usize, Content)> {
        let (end, content) = self.next_boundary(data)?;
        let start = self.start;
        self.start = end;
        self.scan = self.scan.max(end);
        if let Content::Hdlc(_) = content {
            self.after_flag = (data[end - 1] == hdlc::FLAG).then_some(end);
        }
        Some((start, end, content))
    }

    /// Emits the weak candidate (or the junk before it), cut at `limit`.
    fn emit_weak(&mut self, data: &[u8], limit: usize) -> Option<(usize, Content)> {
        let (pos, claimed_end) = self.weak.expect("weak candidate");
        if self.start < pos {
            return Some((pos, Content::Junk));
        }
        self.weak = None;
        let end = claimed_end.min(limit);
        // Positions after the cut were only scanned for the first weak candidate: look again.
        self.scan = end;
        if self
            .found
            .as_ref()
            .is_some_and(|(found_at, ..)| end < *found_at)
        {
            self.found = None;
        }
        let frame = hdlc::inspect(&data[pos..end], false);
        Some((end, Content::Hdlc(frame)))
    }

    fn next_boundary(&mut self, data: &[u8]) -> Option<(usize, Content)> {
        if self.start >= data.len() {
            return None;
        }
        if let Some((found_at, ..)) = self.found {
            if self.weak.is_some() {
                return self.emit_weak(data, found_at);
            }
            if self.start < found_at {
                return Some((found_at, Content::Junk));
            }
            let (_, end, content) = self.found.take().expect("found frame");
            return Some((end, content));
        }
        let mut pos = self.scan;
        while pos < data.len() {
            if let Some((_, weak_end)) = self.weak
                && pos >= weak_end
            {
                self.scan = pos;
                return self.emit_weak(data, weak_end);
            }
            if self.weak.is_none() && pos - self.start >= MAX_JUNK_RUN {
                self.scan = pos;
                return Some((pos, Content::Junk));
            }
            match self.probe(data, pos) {
                Probe::No => pos += 1,
                Probe::Weak { end } => {
                    if self.weak.is_none() {
                        self.weak = Some((pos, end));
                    }
                    pos += 1;
                }
                Probe::NeedMore => {
                    self.scan = pos;
                    return None;
                }
                Probe::Frame { end, frame } => {
                    if self.weak.is_none() && self.start == pos {
                        return Some((end, frame));
                    }
                    self.scan = pos;
                    self.found = Some((pos, end, frame));
                    return self.next_boundary(data);
                }
            }
        }
        self.scan = pos;
        if !self.eof {
            return None;
        }
        let len = data.len();
        if self.weak.is_some() {
            return self.emit_weak(data, len);
        }
        Some((len, Content::Junk))
    }

    fn probe(&mut self, buf: &[u8], pos: usize) -> Probe {
        let eof = self.eof;
        let p = self.protocols;
        let b = buf[pos];
        if p.hdlc {
            // The previous frame's closing flag may also open this one.
            if self.after_flag == Some(pos)
                && b != hdlc::FLAG
                && let probe @ (Probe::Frame { .. } | Probe::NeedMore) =
                    hdlc::probe(buf, pos, true, eof, &mut self.fcs_cache)
            {
                return probe;
            }
            if b == hdlc::FLAG {
                return hdlc::probe(buf, pos, false, eof, &mut self.fcs_cache);
            }
        }
        let mut other = Probe::No;
        // A P1 telegram opens with a `/` line like an IEC 61107 identification; the empty line
        // after it tells them apart, so P1 is asked first.
        if p.p1 && p1::is_start(b) {
            other = p1::probe(buf, pos, eof, &mut self.p1_scan);
        }
        if matches!(other, Probe::No) && p.iec61107 && iec61107::is_start(b) {
            other = iec61107::probe(buf, pos, eof, &mut self.iec_scan);
        }
        if matches!(other, Probe::No) && p.kmp && kmp::is_start(b) {
            other = kmp::probe(buf, pos, eof);
        }
        if matches!(other, Probe::No) && p.mbus && mbus::is_start(b) {
            other = mbus::probe(buf, pos, eof);
        }
        // The E5 acknowledgement only where it can stand alone: right after a span (never inside
        // junk) on a line that does not carry HAN frames, whose noise may hold any byte.
        if matches!(other, Probe::No) && p.mbus && !p.hdlc && b == mbus::ACK && pos == self.start {
            other = mbus::probe_ack(pos);
        }
        self.cut_at_hdlc(buf, pos, other)
    }

    /// A bad frame of another protocol ends where a proper HDLC frame starts inside it, so that
    /// junk which merely resembles a frame start cannot swallow the next HAN frame.
    fn cut_at_hdlc(&self, data: &[u8], pos: usize, probe: Probe) -> Probe {
        let Probe::Frame { end, frame } = probe else {
            return probe;
        };
        if !self.protocols.hdlc || frame.all_ok() {
            return Probe::Frame { end, frame };
        }
        match hdlc::first_inner_anchor(data, pos + 1, end, self.eof) {
            hdlc::InnerAnchor::None => Probe::Frame { end, frame },
            hdlc::InnerAnchor::NeedMore => Probe::NeedMore,
            hdlc::InnerAnchor::At { pos: cut, .. } => {
                let bytes = &data[pos..cut];
                let frame = match frame {
                    Content::Mbus(_) => Content::Mbus(mbus::inspect_long(bytes)),
                    Content::Iec61107(f) => Content::Iec61107(iec61107::cut_short(f.kind)),
                    Content::P1(_) => Content::P1(p1::inspect(bytes)),
                    other => other,
                };
                Probe::Frame { end: cut, frame }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(info: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        hdlc::encode(&[0x2B], &[0x21], 0x13, info, false, &mut out).unwrap();
        out
    }

    /// (length, ok) of the spans of `input` pushed a byte at a time (then ended, if `finish`).
    fn bytewise(framer: &mut Framer, input: &[u8], finish: bool) -> Vec<(usize, bool)> {
        let mut spans = Vec::new();
        let mut take = |framer: &mut Framer| {
            while let Some(s) = framer.next_span() {
                spans.push((s.bytes.len(), s.content.all_ok()));
            }
        };
        for b in input {
            framer.push(std::slice::from_ref(b));
            take(framer);
        }
        if finish {
            framer.finish();
            take(framer);
        }
        spans
    }

    fn spans(input: &[u8], chunk: usize) -> Vec<(u64, usize, Protocol, bool)> {
        let mut framer = Framer::default();
        let mut out = Vec::new();
        for c in input.chunks(chunk.max(1)) {
            framer.push(c);
            while let Some(s) = framer.next_span() {
                out.push((s.offset, s.bytes.len(), s.protocol(), s.content.all_ok()));
            }
        }
        framer.finish();
        while let Some(s) = framer.next_span() {
            out.push((s.offset, s.bytes.len(), s.protocol(), s.content.all_ok()));
        }
        out
    }

    #[test]
    fn headers_claiming_2047_bytes_cost_each_byte_once() {
        // An adversarial stream: 8-byte headers with a valid HCS, each claiming a 2047-byte
        // frame whose FCS fails. Judging each would cost a 2 KiB CRC per 8 bytes of input;
        // the registers kept over the buffer step through each byte once.
        let mut header = vec![0x7E, 0xA7, 0xFF, 0x03, 0x03, 0x13];
        let hcs = hdlc::crc16(&header[1..]);
        header.extend(hcs.to_le_bytes());
        let input: Vec<u8> = header.iter().copied().cycle().take(100_000).collect();
        let mut framer = Framer::default();
        let mut spans = 0;
        for chunk in input.chunks(4096) {
            framer.push(chunk);
            while let Some(s) = framer.next_span() {
                assert_eq!(s.bytes.len(), 8);
                spans += 1;
            }
        }
        framer.finish();
        while framer.next_span().is_some() {
            spans += 1;
        }
        assert_eq!(spans, 100_000 / 8);
        assert!(
            framer.fcs_cache.stepped <= input.len() as u64,
            "{} bytes stepped for {} of input",
            framer.fcs_cache.stepped,
            input.len()
        );
    }

    #[test]
    fn an_iec_block_arriving_a_byte_at_a_time_is_read_once() {
        // 64 KiB of block text without ETX: each push used to read the whole pending block
        // again (2 GiB of reads). Read on from where the last probe stopped, each byte is read
        // about once.
        let mut input = vec![iec61107::STX];
        input.extend(
            b"1.8.0(0012658*kWh)\r\n"
                .iter()
                .copied()
                .cycle()
                .take(64 * 1024 - 1),
        );
        let mut framer = Framer::new(Protocols::OPTICAL);
        let spans = bytewise(&mut framer, &input, true);
        // Cut at its limit, as before.
        assert_eq!(spans, [(input.len(), false)]);
        let examined = framer.iec_scan.examined;
        assert!(
            examined <= 4 * input.len() as u64,
            "{examined} bytes read for {} of input",
            input.len()
        );
    }

    #[test]
    fn a_p1_telegram_arriving_a_byte_at_a_time_is_read_once() {
        // A telegram body of 16 KiB without its `!`: read on from where the last probe stopped,
        // each byte is read about once (it used to be read again at every push).
        let mut input = b"/KAM5 ident\r\n\r\n".to_vec();
        input.extend(
            b"1-0:1.8.0(00012345.678*kWh)\r\n"
                .iter()
                .copied()
                .cycle()
                .take(p1::MAX_TELEGRAM - input.len()),
        );
        let mut framer = Framer::new(Protocols::HAN);
        let spans = bytewise(&mut framer, &input, false);
        // Cut at its limit, as before.
        assert_eq!(spans, [(input.len(), false)]);
        let examined = framer.p1_scan.examined;
        assert!(
            examined <= 4 * input.len() as u64,
            "{examined} bytes read for {} of input",
            input.len()
        );
    }

    #[test]
    fn a_false_header_inside_a_payload_does_not_depend_on_chunking() {
        // Found by an adversarial run: the payload holds a whole HDLC frame with a valid HCS.
        // Fed a byte at a time it used to become two bad frames and junk.
        let hex = "7ea0342b2113c129e6e7000f00000001000a207ea00a0303130b1e00ccc67e78787878787878787878\
                   78787878787878787878cd117e";
        let input: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        let whole = spans(&input, input.len());
        assert_eq!(whole, [(0, 54, Protocol::Hdlc, true)]);
        for chunk in 1..input.len() {
            assert_eq!(spans(&input, chunk), whole, "chunks of {chunk}");
        }
        // Cut short, it is decided at the end of input, the same way however it arrived.
        let cut = &input[..40];
        let whole = spans(cut, cut.len());
        for chunk in 1..cut.len() {
            assert_eq!(spans(cut, chunk), whole, "chunks of {chunk}");
        }
    }

    #[test]
    fn frame_with_flags_inside_payload() {
        let f = frame(&[0xE6, 0xE7, 0x00, 0x7E, 0xA0, 0x7E, 0x7E, 0x01]);
        let got = spans(&f, 1);
        assert_eq!(got, vec![(0, f.len(), Protocol::Hdlc, true)]);
    }

    #[test]
    fn junk_between_frames_and_shared_flag() {
        let a = frame(&[1, 2, 3]);
        let b = frame(&[4, 5, 6]);
        let mut input = a.clone();
        input.extend_from_slice(&[0x29, 0x12, 0x13]);
        input.extend_from_slice(&b);
        input.extend_from_slice(&b[1..]); // shares b's closing flag
        for chunk in [1, 2, 7, 4096] {
            let got = spans(&input, chunk);
            assert_eq!(
                got,
                vec![
                    (0, a.len(), Protocol::Hdlc, true),
                    (a.len() as u64, 3, Protocol::Junk, false),
                    ((a.len() + 3) as u64, b.len(), Protocol::Hdlc, true),
                    (
                        (a.len() + 3 + b.len()) as u64,
                        b.len() - 1,
                        Protocol::Hdlc,
                        true
                    ),
                ],
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn dropped_bytes_do_not_lose_next_frame() {
        let a = frame(&[9; 40]);
        let b = frame(&[7; 40]);
        let mut input = a[..30].to_vec();
        input.extend_from_slice(&a[35..]);
        input.extend_from_slice(&b);
        let got = spans(&input, 3);
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(!got[0].3);
        assert_eq!(
            got[1],
            (
                (input.len() - b.len()) as u64,
                b.len(),
                Protocol::Hdlc,
                true
            )
        );
    }

    #[test]
    fn truncated_at_end_is_a_bad_frame() {
        let a = frame(&[1; 50]);
        let got = spans(&a[..30], 5);
        assert_eq!(got, vec![(0, 30, Protocol::Hdlc, false)]);
    }

    #[test]
    fn damaged_header_is_flagged_and_next_frame_kept() {
        let mut a = frame(&[1; 20]);
        a[4] ^= 0x04; // control byte: HCS now fails
        let b = frame(&[2; 20]);
        let mut input = a.clone();
        input.extend_from_slice(&b);
        let got = spans(&input, 1);
        assert_eq!(
            got,
            vec![
                (0, a.len(), Protocol::Hdlc, false),
                (a.len() as u64, b.len(), Protocol::Hdlc, true)
            ]
        );
    }

    #[test]
    fn long_noise_is_cut_into_bounded_junk_runs() {
        let noise = vec![0x55u8; MAX_JUNK_RUN * 2 + 10];
        let got = spans(&noise, 1000);
        assert_eq!(got.iter().map(|s| s.1).sum::<usize>(), noise.len());
        assert!(got.iter().all(|s| s.1 <= MAX_JUNK_RUN));
    }

    /// Each span's kind, framing `bytes` with `protocols` (all at once, then the end of input).
    fn span_kinds(protocols: Protocols, bytes: &[u8]) -> Vec<(usize, &'static str)> {
        let mut f = Framer::new(protocols);
        f.push(bytes);
        f.finish();
        let mut out = Vec::new();
        while let Some(s) = f.next_span() {
            let kind = match &s.content {
                Content::Mbus(m) if m.kind == mbus::Kind::Ack => "ack",
                Content::Mbus(_) => "mbus",
                Content::Junk => "junk",
                _ => "other",
            };
            out.push((s.bytes.len(), kind));
        }
        out
    }

    #[test]
    fn a_lone_e5_after_a_frame_is_the_m_bus_acknowledgement() {
        let req_ud2 = [0x10, 0x7B, 0x05, 0x80, 0x16];
        let mut line = vec![mbus::ACK];
        line.extend(req_ud2);
        line.push(mbus::ACK);
        assert_eq!(
            span_kinds(Protocols::OPTICAL, &line),
            [(1, "ack"), (5, "mbus"), (1, "ack")]
        );
        // E5 inside junk is junk.
        assert_eq!(span_kinds(Protocols::OPTICAL, &[0x12, 0xE5]), [(2, "junk")]);
        assert_eq!(
            span_kinds(Protocols::OPTICAL, &[0xE5, 0x12, 0x34]),
            [(1, "ack"), (2, "junk")]
        );
        // A HAN line's noise may hold any byte: no acknowledgement where HDLC is hunted.
        assert_eq!(span_kinds(Protocols::ALL, &[0xE5]), [(1, "junk")]);
        assert_eq!(span_kinds(Protocols::HAN, &[0xE5]), [(1, "junk")]);
    }
}
