//! HAN-P1 telegrams (DSMR style), as Swedish Kamstrup meters push them on the RJ12 HAN port at
//! 115200 8N1 (Energiföretagen's "Branschrekommendation för lokalt kundgränssnitt för elmätare",
//! after the DSMR 5 P1 companion standard):
//!
//! ```text
//! /KAM5<ident> CR LF CR LF
//! 0-0:1.0.0(250304100005W) CR LF
//! 1-0:1.8.0(00012345.678*kWh) CR LF
//! ...
//! !XXXX CR LF
//! ```
//!
//! `XXXX` is the CRC-16/ARC (poly 0x8005 reflected, init 0) of every byte from `/` through `!`, in
//! hex. DSMR 2/3 telegrams end with `!` CR LF and no CRC: accepted, and said so in the check.
//! Lines are `code(value*unit)`, with several values in log objects (`1-0:99.97.0`) and M-Bus
//! channels (`0-1:24.2.1(time)(value*m3)`); in DSMR 2/3 such a value may continue on the next
//! line. Timestamps are `YYMMDDhhmmss` and `S` (summer, UTC+2) or `W` (winter, UTC+1).

use super::axdr::{Bytes, Data};
use super::check::{Check, CheckValue};
use super::datetime::DateTime;
use super::framer::Probe;
use super::han::{Brand, Field, HanMessage, ListKind};
use super::obis::Obis;
use super::region::{RegionKind, Regions};
use std::ops::Range;

const ARC: crc::Crc<u16, crc::Table<16>> = crc::Crc::<u16, crc::Table<16>>::new(&crc::CRC_16_ARC);

const CR: u8 = b'\r';
const LF: u8 = b'\n';

/// Longest telegram waited for. DSMR telegrams run to a few kilobytes at most (a 1024-character
/// text message sent hex-encoded is the longest line); longer is a line without an end.
pub const MAX_TELEGRAM: usize = 16 * 1024;
/// Longest identification line (`/XXX5` and up to 96 characters of ident).
const MAX_IDENT_LINE: usize = 128;

/// The CRC-16/ARC of a telegram's bytes from `/` through `!`.
pub fn crc16(bytes: &[u8]) -> u16 {
    ARC.checksum(bytes)
}

/// Bytes that can start a telegram.
pub fn is_start(b: u8) -> bool {
    b == b'/'
}

/// How the telegram's CRC field came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrcField {
    /// Four hex digits after `!`.
    Sent(u16),
    /// `!` then the line end: a DSMR 2/3 telegram, sent without CRC.
    NotSent,
    /// Something else after `!`, or no `!` at all.
    Malformed,
}

/// One telegram as framed, with its checks.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub checks: Vec<Check>,
    pub crc: CrcField,
}

fn printable(b: u8) -> bool {
    (0x20..=0x7E).contains(&b)
}

/// Where the telegram's `!` is: the first `!` at the start of a line after the header.
fn end_marker(bytes: &[u8], body: usize) -> Option<usize> {
    let mut line_start = true;
    for (i, &b) in bytes.iter().enumerate().skip(body) {
        if line_start && b == b'!' {
            return Some(i);
        }
        line_start = b == LF;
    }
    None
}

/// The end of the header (`/ident` CR LF CR LF), if the span has one.
fn header_end(bytes: &[u8]) -> Option<usize> {
    let cr = bytes.iter().position(|&b| b == CR)?;
    bytes[cr..].starts_with(b"\r\n\r\n").then_some(cr + 4)
}

/// The frame of a whole telegram span (from `/`): the end marker, the CRC, the line end. Decided
/// from the bytes alone, so the framer and a cut at another frame judge alike.
pub fn inspect(bytes: &[u8]) -> Frame {
    let body = header_end(bytes).unwrap_or(bytes.len());
    let Some(bang) = end_marker(bytes, body) else {
        let why = if bytes.len() >= MAX_TELEGRAM {
            "too long"
        } else {
            "cut off"
        };
        return Frame {
            checks: vec![
                Check::failed("end", CheckValue::Text("!"), CheckValue::Text(why)),
                Check::failed("CRC", CheckValue::Missing, CheckValue::Missing)
                    .with_rule(Some("CRC-16/ARC")),
            ],
            crc: CrcField::Malformed,
        };
    };
    let computed = crc16(&bytes[..=bang]);
    let trailer = &bytes[bang + 1..];
    let digits = trailer
        .iter()
        .take(4)
        .take_while(|b| b.is_ascii_hexdigit())
        .count();
    let mut checks = vec![Check::compare(
        "end",
        CheckValue::Text("!"),
        CheckValue::Text("!"),
    )];
    let (crc, after) = match digits {
        4 => {
            let text = std::str::from_utf8(&trailer[..4]).expect("hex digits");
            let received = u16::from_str_radix(text, 16).expect("hex digits");
            checks.push(
                Check::compare(
                    "CRC",
                    CheckValue::Hex16(computed),
                    CheckValue::Hex16(received),
                )
                .with_rule(Some("CRC-16/ARC")),
            );
            (CrcField::Sent(received), 4)
        }
        0 if trailer.starts_with(b"\r\n") => {
            checks.push(Check {
                name: "CRC",
                ok: true,
                expected: CheckValue::Text("none"),
                actual: CheckValue::Text("none"),
                rule: Some("no CRC: DSMR 2/3 telegram"),
            });
            (CrcField::NotSent, 0)
        }
        n => {
            checks.push(
                Check::failed(
                    "CRC",
                    CheckValue::Hex16(computed),
                    if n == 0 {
                        CheckValue::Missing
                    } else {
                        CheckValue::Text("malformed")
                    },
                )
                .with_rule(Some("CRC-16/ARC")),
            );
            (CrcField::Malformed, n)
        }
    };
    if !trailer[after..].starts_with(b"\r\n") {
        checks.push(Check::failed(
            "line end",
            CheckValue::Text("CR LF"),
            CheckValue::Missing,
        ));
    }
    Frame { checks, crc }
}

/// How far the body of the telegram pending at one buffer position has been read, so that the
/// framer's next probe there (after more bytes came) reads only the new bytes. Kept only while
/// more input may come: what it holds follows from the bytes read, never from the end of input,
/// so a resumed probe decides exactly as a fresh one. The framer keeps one and shifts it when it
/// drops consumed bytes.
#[derive(Debug, Default)]
pub struct BodyScan {
    /// Buffer index of the telegram's `/` while something is kept.
    pos: Option<usize>,
    /// The body is read up to here: no end and no next telegram before it.
    read_to: usize,
    /// `read_to` opens a line.
    line_start: bool,
    /// Bytes of bodies read by probes (each about once while its telegram is pending).
    pub examined: u64,
}

impl BodyScan {
    /// The framer dropped the first `n` bytes of its buffer.
    pub fn drained(&mut self, n: usize) {
        match self.pos {
            Some(p) if p >= n => {
                self.pos = Some(p - n);
                self.read_to -= n;
            }
            _ => self.pos = None,
        }
    }
}

/// Does a telegram start at `pos` (a `/`)? Its header is the identification line and an empty
/// line; a `/` line without the empty line is left to IEC 61107 (an identification).
pub(crate) fn probe(buf: &[u8], pos: usize, eof: bool, scan: &mut BodyScan) -> Probe {
    match header(buf, pos, eof) {
        Header::At { body } => scan_body(buf, pos, body, eof, scan),
        Header::CutByNext { at } => Probe::Frame {
            end: at,
            frame: cut_by_next(&buf[pos..at]).into(),
        },
        Header::No => Probe::No,
        Header::NeedMore => Probe::NeedMore,
    }
}

/// What the bytes at a `/` are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Header {
    /// A telegram header (identification line, empty line); its body starts at `body`.
    At {
        body: usize,
    },
    /// The identification line was cut: a new telegram header begins at `at`.
    CutByNext {
        at: usize,
    },
    No,
    NeedMore,
}

/// The header of a telegram at `pos` (a `/`): `/XXX5ident` CR LF CR LF. A `/` inside the line
/// that opens a header of its own (or may, once more bytes come) cuts this one there.
///
/// Each `/` in the line is judged by the same rule, which looks at the `/`s after it: so the
/// line is read once and the `/`s are judged from the last to the first. (Judging each by
/// reading its line again costs twice as much for every `/` more: a line of 40 `/`s and a
/// control byte took hours.)
fn header(buf: &[u8], pos: usize, eof: bool) -> Header {
    // The `/`s this line's reading meets, and those their own readings meet in turn.
    let mut slashes = Vec::new();
    let mut reach = pos + MAX_IDENT_LINE;
    let mut i = pos + 1;
    // The byte that ends the printable run, if it came within reach.
    let terminator = loop {
        if i >= buf.len().min(reach) {
            break None;
        }
        match buf[i] {
            b'/' => {
                slashes.push(i);
                reach = i + MAX_IDENT_LINE;
            }
            b if printable(b) => {}
            _ => break Some(i),
        }
        i += 1;
    };
    // A `/` at `at` by its own line: the line's end, or its limit.
    let own = |at: usize| {
        let limit = buf.len().min(at + MAX_IDENT_LINE);
        match terminator {
            Some(end) if end < limit && buf[end] == CR => header_line_end(buf, at, end, eof),
            Some(end) if end < limit => Header::No,
            _ if eof || limit == at + MAX_IDENT_LINE => Header::No,
            _ => Header::NeedMore,
        }
    };
    // The first `/` after the one judged whose own judgement decides it (a header, or not yet
    // known): (where, is a header).
    let mut decisive: Option<(usize, bool)> = None;
    let judge = |at: usize, decisive: Option<(usize, bool)>| match decisive {
        Some((next, true)) if next < at + MAX_IDENT_LINE => Header::CutByNext { at: next },
        Some((next, false)) if next < at + MAX_IDENT_LINE => Header::NeedMore,
        _ => own(at),
    };
    for &at in slashes.iter().rev() {
        match judge(at, decisive) {
            Header::At { .. } => decisive = Some((at, true)),
            Header::NeedMore => decisive = Some((at, false)),
            Header::No | Header::CutByNext { .. } => {}
        }
    }
    judge(pos, decisive)
}

/// A header line from `pos` (a `/`) whose CR is at `cr`: long enough, then the empty line.
fn header_line_end(buf: &[u8], pos: usize, cr: usize, eof: bool) -> Header {
    // At least the three letters of the manufacturer and the baud digit.
    if cr - pos < 5 {
        return Header::No;
    }
    let head = &buf[cr..buf.len().min(cr + 4)];
    if head != &b"\r\n\r\n"[..head.len()] {
        return Header::No;
    }
    if head.len() < 4 {
        return if eof { Header::No } else { Header::NeedMore };
    }
    Header::At { body: cr + 4 }
}

/// What a telegram cut off by the next one says: no end, and why.
fn cut_by_next(bytes: &[u8]) -> Frame {
    let mut frame = inspect(bytes);
    for c in &mut frame.checks {
        if c.name == "end" {
            c.actual = CheckValue::Text(NEW_TELEGRAM_BEGAN);
        }
    }
    frame
}

/// The "end" check's finding for a telegram that lost its end because the next one began.
pub const NEW_TELEGRAM_BEGAN: &str = "a new telegram began";

/// The body from `body` up to and through the trailer, read on from where `scan` left off.
fn scan_body(buf: &[u8], pos: usize, body: usize, eof: bool, scan: &mut BodyScan) -> Probe {
    let limit = buf.len().min(pos + MAX_TELEGRAM);
    let frame_to = |end: usize| Probe::Frame {
        end,
        frame: inspect(&buf[pos..end]).into(),
    };
    let (from, mut line_start) = match scan.pos {
        Some(p) if p == pos => (scan.read_to, scan.line_start),
        _ => (body, true),
    };
    // Where more bytes are awaited, the reading so far is kept (never at the end of input,
    // where a `/` is judged without waiting).
    let mut need_more = |read_to: usize, line_start: bool| {
        scan.pos = Some(pos);
        scan.read_to = read_to;
        scan.line_start = line_start;
        scan.examined += (read_to - from) as u64 + 1;
        Probe::NeedMore
    };
    let mut j = from;
    while j < limit {
        let b = buf[j];
        if b == b'/' {
            // A telegram header, even in the middle of a line (the meter restarted, the cable
            // was pulled), is the next telegram: this one lost its end.
            match header(buf, j, eof) {
                Header::At { .. } => {
                    return Probe::Frame {
                        end: j,
                        frame: cut_by_next(&buf[pos..j]).into(),
                    };
                }
                Header::NeedMore => return need_more(j, line_start),
                // A `/` opening a line is no telegram text either.
                Header::No | Header::CutByNext { .. } if line_start => return frame_to(j),
                Header::No | Header::CutByNext { .. } => {}
            }
        }
        if line_start && b == b'!' {
            return match trailer_len(&buf[j + 1..], eof) {
                Some(n) => frame_to(j + 1 + n),
                None => need_more(j, line_start),
            };
        }
        line_start = b == LF;
        j += 1;
    }
    if limit == pos + MAX_TELEGRAM {
        return frame_to(limit);
    }
    if eof {
        frame_to(buf.len())
    } else {
        need_more(j, line_start)
    }
}

/// How many bytes after `!` belong to the telegram: up to four hex digits and CR LF. `None`:
/// more bytes are needed to tell.
fn trailer_len(rest: &[u8], eof: bool) -> Option<usize> {
    let digits = rest
        .iter()
        .take(4)
        .take_while(|b| b.is_ascii_hexdigit())
        .count();
    if digits < 4 && digits == rest.len() {
        return eof.then_some(digits);
    }
    let after = &rest[digits..];
    match after {
        [CR, LF, ..] => Some(digits + 2),
        [CR] if !eof => None,
        [CR] => Some(digits + 1),
        [] if !eof => None,
        _ => Some(digits),
    }
}

/// A P1 timestamp: `YYMMDDhhmmss` and `S` (summer time) or `W` (winter time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct P1Time {
    pub year: u16,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    /// `S`: summer time (UTC+2), `W`: winter time (UTC+1).
    pub summer: bool,
}

impl P1Time {
    pub fn parse(raw: &str) -> Option<Self> {
        let b = raw.as_bytes();
        if b.len() != 13 || !b[..12].iter().all(u8::is_ascii_digit) {
            return None;
        }
        let n = |i: usize| (b[i] - b'0') * 10 + (b[i + 1] - b'0');
        let summer = match b[12] {
            b'S' => true,
            b'W' => false,
            _ => return None,
        };
        let t = P1Time {
            year: 2000 + u16::from(n(0)),
            month: n(2),
            day: n(4),
            hour: n(6),
            minute: n(8),
            second: n(10),
            summer,
        };
        let valid = (1..=12).contains(&t.month)
            && (1..=31).contains(&t.day)
            && t.hour < 24
            && t.minute < 60
            && t.second < 60;
        valid.then_some(t)
    }

    /// Hours ahead of UTC: 2 in summer, 1 in winter (Central European time).
    pub fn utc_offset_hours(&self) -> i8 {
        if self.summer { 2 } else { 1 }
    }

    /// `2025-03-04T10:00:05+01:00`.
    pub fn iso8601(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}+{:02}:00",
            self.year,
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second,
            self.utc_offset_hours()
        )
    }

    /// The text the meter sends.
    pub fn encode(&self) -> String {
        format!(
            "{:02}{:02}{:02}{:02}{:02}{:02}{}",
            self.year % 100,
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second,
            if self.summer { 'S' } else { 'W' }
        )
    }

    /// As a COSEM date-time for the Live tab's clock: local time, the DST bit set in summer.
    pub fn cosem(&self) -> DateTime {
        DateTime::new(
            self.year,
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second,
            if self.summer { 0x80 } else { 0x00 },
        )
    }
}

/// What a value says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// Digits with an optional decimal point: `mantissa` x 10^-`decimals`.
    Number {
        mantissa: i128,
        decimals: u8,
    },
    Time(P1Time),
    /// Anything else (hex-encoded ids and text, codes in log objects).
    Text,
}

/// One parenthesised value: `(raw*unit)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    pub raw: String,
    pub unit: Option<String>,
    /// From `(` through `)` in the span.
    pub range: Range<usize>,
    /// Where `*unit` starts, when there is a unit.
    pub unit_at: Option<usize>,
}

impl Value {
    pub fn reading(&self) -> Reading {
        if let Some(t) = P1Time::parse(&self.raw) {
            return Reading::Time(t);
        }
        parse_decimal(&self.raw).map_or(Reading::Text, |(mantissa, decimals)| Reading::Number {
            mantissa,
            decimals,
        })
    }

    /// The value as a number.
    pub fn number(&self) -> Option<f64> {
        match self.reading() {
            Reading::Number { mantissa, decimals } => {
                Some(mantissa as f64 / 10f64.powi(i32::from(decimals)))
            }
            _ => None,
        }
    }
}

/// `00012345.678` as (12345678, 3); at most 30 digits, an optional sign and one decimal point.
pub fn parse_decimal(raw: &str) -> Option<(i128, u8)> {
    let (negative, digits) = match raw.as_bytes().first() {
        Some(b'-') => (true, &raw[1..]),
        _ => (false, raw),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || !all_digits(int) || !all_digits(frac) || int.len() + frac.len() > 30 {
        return None;
    }
    let mut mantissa: i128 = format!("{int}{frac}").parse().ok()?;
    if negative {
        mantissa = -mantissa;
    }
    Some((mantissa, frac.len() as u8))
}

/// One data line: its code and values (a DSMR 2/3 value continued on the next line included).
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// The code as sent: `1-0:1.8.0`.
    pub code: String,
    pub code_range: Range<usize>,
    pub obis: Option<Obis>,
    pub values: Vec<Value>,
}

impl Line {
    /// What value `i` says. Identifiers (C.D = 96.1) are text even when all digits.
    pub fn reading(&self, i: usize) -> Reading {
        let Some(v) = self.values.get(i) else {
            return Reading::Text;
        };
        if self.obis.is_some_and(|o| o.c() == 96 && o.d() == 1) {
            return Reading::Text;
        }
        v.reading()
    }
}

/// A parsed telegram.
#[derive(Debug, Clone, PartialEq)]
pub struct Telegram {
    /// The identification line without `/`: `KAM5...`.
    pub ident: String,
    /// The identification line from `/` to its end (CR LF not included).
    pub ident_range: Range<usize>,
    pub lines: Vec<Line>,
    /// Where the `!` is.
    pub end: Option<usize>,
    /// Where parsing stopped on a malformed line: span offset and reason.
    pub broke_at: Option<(usize, String)>,
}

/// `A-B:C.D.E`, optionally followed by `*F` or `.F`; F is 255 when left out.
pub fn parse_code(code: &str) -> Option<Obis> {
    let (a, rest) = code.split_once('-')?;
    let (b, rest) = rest.split_once(':')?;
    let mut parts = rest.split(['.', '*']);
    let mut group = || parts.next().and_then(|p| p.parse::<u8>().ok());
    let (c, d, e) = (group()?, group()?, group()?);
    let f = match parts.next() {
        None => 255,
        Some(p) => p.parse().ok()?,
    };
    if parts.next().is_some() {
        return None;
    }
    Some(Obis::new(a.parse().ok()?, b.parse().ok()?, c, d, e, f))
}

impl Telegram {
    /// The manufacturer: the first three letters of the identification.
    pub fn manufacturer(&self) -> &str {
        self.ident.get(..3).unwrap_or(&self.ident)
    }

    /// The first line with this code (B group included; F ignored).
    pub fn line(&self, a: u8, b: u8, c: u8, d: u8, e: u8) -> Option<&Line> {
        self.lines.iter().find(|l| {
            l.obis
                .is_some_and(|o| o.0[..5] == [a, b, c, d, e] && o.0[5] == 255)
        })
    }

    /// The telegram's time (0-0:1.0.0).
    pub fn time(&self) -> Option<P1Time> {
        match self.line(0, 0, 1, 0, 0)?.values.first()?.reading() {
            Reading::Time(t) => Some(t),
            _ => None,
        }
    }

    /// The equipment identifier (0-0:96.1.1, else 0-0:96.1.0): DSMR sends it hex-encoded ASCII,
    /// decoded when it is; else as sent.
    pub fn meter_id(&self) -> Option<String> {
        let line = self
            .line(0, 0, 96, 1, 1)
            .or_else(|| self.line(0, 0, 96, 1, 0))?;
        let raw = &line.values.first()?.raw;
        Some(hex_ascii(raw).unwrap_or_else(|| raw.clone()))
    }
}

/// Hex-encoded printable ASCII (`4B414D` -> `KAM`), if the text is that.
pub fn hex_ascii(raw: &str) -> Option<String> {
    if raw.is_empty() || !raw.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..raw.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(raw.get(i..i + 2)?, 16).ok())
        .collect();
    let bytes = bytes?;
    bytes
        .iter()
        .all(|&b| printable(b))
        .then(|| String::from_utf8_lossy(&bytes).into_owned())
}

/// Parses a telegram span (from `/`). Never fails: what could not be parsed is in `broke_at`.
pub fn parse(bytes: &[u8]) -> Telegram {
    let ident_end = bytes
        .iter()
        .position(|&b| b == CR || b == LF)
        .unwrap_or(bytes.len());
    let mut t = Telegram {
        ident: String::from_utf8_lossy(bytes.get(1..ident_end).unwrap_or(&[])).into_owned(),
        ident_range: 0..ident_end,
        lines: Vec::new(),
        end: None,
        broke_at: None,
    };
    let body = header_end(bytes).unwrap_or(ident_end);
    t.end = end_marker(bytes, body);
    let text_end = t.end.unwrap_or(bytes.len());
    let mut i = body;
    while i < text_end {
        let line_end = bytes[i..text_end]
            .iter()
            .position(|&b| b == CR || b == LF)
            .map_or(text_end, |n| i + n);
        if line_end > i
            && let Err(broke) = parse_line(bytes, i, line_end, &mut t.lines)
        {
            t.broke_at = Some(broke);
            break;
        }
        i = line_end + 1;
    }
    t
}

/// One line `code(value)(value)...`, or `(value)` continuing the line before it.
fn parse_line(
    bytes: &[u8],
    from: usize,
    to: usize,
    lines: &mut Vec<Line>,
) -> Result<(), (usize, String)> {
    let line = &bytes[from..to];
    let open = line.iter().position(|&b| b == b'(');
    let continued = open == Some(0);
    if !continued {
        let Some(open) = open else {
            return Err((from, "line without a value".into()));
        };
        let code = String::from_utf8_lossy(&line[..open]).into_owned();
        lines.push(Line {
            obis: parse_code(&code),
            code,
            code_range: from..from + open,
            values: Vec::new(),
        });
    }
    let Some(current) = lines.last_mut() else {
        return Err((from, "value without a code".into()));
    };
    let mut at = from + open.unwrap_or(0);
    while at < to {
        if bytes[at] != b'(' {
            return Err((at, "unexpected text after a value".into()));
        }
        let Some(close) = bytes[at..to].iter().position(|&b| b == b')') else {
            return Err((at, "value not closed by ')'".into()));
        };
        let inner = &bytes[at + 1..at + close];
        let star = inner.iter().position(|&b| b == b'*');
        let (raw, unit) = match star {
            Some(s) => (&inner[..s], Some(&inner[s + 1..])),
            None => (inner, None),
        };
        current.values.push(Value {
            raw: String::from_utf8_lossy(raw).into_owned(),
            unit: unit.map(|u| String::from_utf8_lossy(u).into_owned()),
            range: at..at + close + 1,
            unit_at: star.map(|s| at + 1 + s),
        });
        at += close + 1;
    }
    Ok(())
}

/// The byte map of a telegram span: identification, each line's code, values and units, the end
/// marker, the CRC and the line ends.
pub fn regions(bytes: &[u8], r: &mut Regions) {
    let t = parse(bytes);
    r.add(
        t.ident_range.clone(),
        RegionKind::Header,
        format!("identification /{}", t.ident),
    );
    for line in &t.lines {
        let name = line
            .obis
            .map_or_else(|| "unknown code".to_string(), |o| o.name());
        r.add(
            line.code_range.clone(),
            RegionKind::Obis,
            format!("{} {name}", line.code),
        );
        for v in &line.values {
            match v.unit_at {
                Some(u) => {
                    r.add(
                        v.range.start..u,
                        RegionKind::Value,
                        format!("value {}", v.raw),
                    );
                    r.add(
                        u..v.range.end,
                        RegionKind::Text,
                        format!("unit {}", v.unit.as_deref().unwrap_or("")),
                    );
                }
                None => r.add(
                    v.range.clone(),
                    RegionKind::Value,
                    format!("value {}", v.raw),
                ),
            }
        }
    }
    let text_end = t.end.unwrap_or(bytes.len());
    for (i, w) in bytes[..text_end].windows(2).enumerate() {
        if w == b"\r\n" {
            r.add(i..i + 2, RegionKind::Flag, "CR LF");
        }
    }
    if let Some((at, why)) = &t.broke_at {
        r.error_at(*at, why);
    }
    if let Some(bang) = t.end {
        r.add(bang..bang + 1, RegionKind::Flag, "end of telegram (!)");
        let digits = bytes[bang + 1..]
            .iter()
            .take(4)
            .take_while(|b| b.is_ascii_hexdigit())
            .count();
        r.add(bang + 1..bang + 1 + digits, RegionKind::Check, "CRC-16/ARC");
        let after = bang + 1 + digits;
        if bytes[after..].starts_with(b"\r\n") {
            r.add(after..after + 2, RegionKind::Flag, "CR LF");
        }
    }
}

/// One line to send: a code and its values, each with an optional unit.
#[derive(Debug, Clone, PartialEq)]
pub struct OutLine {
    pub code: String,
    pub values: Vec<(String, Option<String>)>,
}

impl OutLine {
    pub fn new(code: &str, value: String, unit: Option<&str>) -> Self {
        OutLine {
            code: code.to_string(),
            values: vec![(value, unit.map(str::to_string))],
        }
    }
}

/// A telegram as a meter sends it: header, lines, `!` and the CRC (or none, DSMR 2/3 style).
pub fn encode(ident: &str, lines: &[OutLine], with_crc: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + lines.len() * 32);
    out.push(b'/');
    out.extend_from_slice(ident.as_bytes());
    out.extend_from_slice(b"\r\n\r\n");
    for line in lines {
        out.extend_from_slice(line.code.as_bytes());
        for (value, unit) in &line.values {
            out.push(b'(');
            out.extend_from_slice(value.as_bytes());
            if let Some(u) = unit {
                out.push(b'*');
                out.extend_from_slice(u.as_bytes());
            }
            out.push(b')');
        }
        out.extend_from_slice(b"\r\n");
    }
    out.push(b'!');
    if with_crc {
        let crc = crc16(&out);
        out.extend_from_slice(format!("{crc:04X}").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// The values of a Swedish HAN-port (H1) telegram, in the units it sends them, for the simulated
/// meter and tests.
#[derive(Debug, Clone, PartialEq)]
pub struct SwedishList {
    pub ident: String,
    pub time: P1Time,
    /// A+, A-, R+, R- in kWh and kvarh.
    pub energies: [f64; 4],
    /// P+, P-, Q+, Q- in kW and kvar.
    pub power: [f64; 4],
    /// Per phase P+, P-, Q+, Q- in kW and kvar (`None` for a phase the meter does not have).
    pub phase_power: [Option<[f64; 4]>; 3],
    pub voltages: [Option<f64>; 3],
    pub currents: [Option<f64>; 3],
}

impl SwedishList {
    /// The lines in the order of the recommendation's list.
    pub fn lines(&self) -> Vec<OutLine> {
        let mut lines = vec![OutLine::new("0-0:1.0.0", self.time.encode(), None)];
        let units = ["kWh", "kWh", "kvarh", "kvarh"];
        for (c, (e, unit)) in (1..=4).zip(self.energies.iter().zip(units)) {
            lines.push(OutLine::new(
                &format!("1-0:{c}.8.0"),
                format!("{e:012.3}"),
                Some(unit),
            ));
        }
        let units = ["kW", "kW", "kvar", "kvar"];
        for (c, (p, unit)) in (1..=4).zip(self.power.iter().zip(units)) {
            lines.push(OutLine::new(
                &format!("1-0:{c}.7.0"),
                format!("{p:08.3}"),
                Some(unit),
            ));
        }
        // Per phase: C = 20 (L1), 40 (L2), 60 (L3) plus 1..4 for P+, P-, Q+, Q-.
        for (q, unit) in (1..=4).zip(units) {
            for (phase, values) in [20, 40, 60].into_iter().zip(self.phase_power) {
                if let Some(values) = values {
                    lines.push(OutLine::new(
                        &format!("1-0:{}.7.0", phase + q),
                        format!("{:08.3}", values[q as usize - 1]),
                        Some(unit),
                    ));
                }
            }
        }
        for (c, u) in [32, 52, 72].into_iter().zip(self.voltages) {
            if let Some(u) = u {
                lines.push(OutLine::new(
                    &format!("1-0:{c}.7.0"),
                    format!("{u:05.1}"),
                    Some("V"),
                ));
            }
        }
        for (c, i) in [31, 51, 71].into_iter().zip(self.currents) {
            if let Some(i) = i {
                lines.push(OutLine::new(
                    &format!("1-0:{c}.7.0"),
                    format!("{i:05.1}"),
                    Some("A"),
                ));
            }
        }
        lines
    }

    pub fn encode(&self) -> Vec<u8> {
        encode(&self.ident, &self.lines(), true)
    }
}

/// The unit as the Live tab keeps it, and the 10-exponent from the sent unit to it: kW -> W
/// (+3), kWh -> Wh (+3); base units as they are.
fn live_unit(unit: &str) -> Option<(&'static str, i8)> {
    Some(match unit {
        "kW" => ("W", 3),
        "W" => ("W", 0),
        "kvar" => ("var", 3),
        "var" => ("var", 0),
        "kVA" => ("VA", 3),
        "VA" => ("VA", 0),
        "kWh" => ("Wh", 3),
        "Wh" => ("Wh", 0),
        "kvarh" => ("varh", 3),
        "varh" => ("varh", 0),
        "kVAh" => ("VAh", 3),
        "VAh" => ("VAh", 0),
        "V" => ("V", 0),
        "A" => ("A", 0),
        "Hz" => ("Hz", 0),
        "m3" => ("m3", 0),
        "GJ" => ("GJ", 0),
        "s" => ("s", 0),
        _ => return None,
    })
}

/// The telegram's values as a HAN push, for the Live tab: numbers with their units brought to
/// the units HAN-NVE uses (W, var, Wh, varh), exactly (the scaler moves, the digits stay); the
/// clock from 0-0:1.0.0; the meter id decoded from hex. Only the first value of each line is
/// taken (log objects and M-Bus channels are shown by `decode`, not on the Live tab).
pub fn to_han_message(t: &Telegram) -> HanMessage {
    let mut fields = Vec::with_capacity(t.lines.len());
    for line in &t.lines {
        let (Some(obis), Some(v)) = (line.obis, line.values.first()) else {
            continue;
        };
        // M-Bus channels (0-1:..., 0-2:...) describe other meters: not the Live tab's values.
        if obis.a() == 0 && obis.0[1] != 0 {
            continue;
        }
        let mut field = Field {
            obis: Some(obis),
            inferred: None,
            value: Data::Null,
            scaler: None,
            unit: None,
            scaler_in_frame: true,
        };
        match line.reading(0) {
            Reading::Time(time) => field.value = Data::DateTime(time.cosem()),
            Reading::Number { mantissa, decimals } if line.values.len() == 1 => {
                let Ok(mantissa) = i64::try_from(mantissa) else {
                    continue;
                };
                let (unit, shift) = match v.unit.as_deref() {
                    Some(u) => match live_unit(u) {
                        Some(known) => (Some(known.0), known.1),
                        None => continue,
                    },
                    None => (None, 0),
                };
                field.value = Data::Long64(mantissa);
                field.scaler = Some(shift - decimals as i8);
                field.unit = unit;
            }
            Reading::Number { .. } => continue,
            Reading::Text => {
                let text = if obis.is_meter_id() {
                    hex_ascii(&v.raw).unwrap_or_else(|| v.raw.clone())
                } else {
                    v.raw.clone()
                };
                field.value = Data::VisibleString(Bytes::from_slice(text.as_bytes()));
            }
        }
        fields.push(field);
    }
    let current_scaler = fields
        .iter()
        .find(|f| {
            f.code()
                .is_some_and(|o| matches!(o.c(), 31 | 51 | 71) && o.d() == 7)
        })
        .and_then(|f| f.scaler)
        .unwrap_or(0);
    let list = if fields.is_empty() {
        ListKind::Other
    } else {
        ListKind::Telegram
    };
    let mut message = HanMessage::from_fields(Brand::from_flag_id(t.manufacturer()), list, &fields);
    message.current_scaler = current_scaler;
    message.identification = Some(t.ident.clone());
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The header rule as first written: each `/` inside the line judged by reading its own
    /// line again (twice the work for every `/` more). The reference the one-pass reading must
    /// agree with.
    fn header_by_rereading(buf: &[u8], pos: usize, eof: bool) -> Header {
        let limit = buf.len().min(pos + MAX_IDENT_LINE);
        let mut i = pos + 1;
        loop {
            if i >= limit {
                return if eof || limit == pos + MAX_IDENT_LINE {
                    Header::No
                } else {
                    Header::NeedMore
                };
            }
            match buf[i] {
                CR => break,
                b'/' => match header_by_rereading(buf, i, eof) {
                    Header::At { .. } => return Header::CutByNext { at: i },
                    Header::NeedMore => return Header::NeedMore,
                    Header::No | Header::CutByNext { .. } => i += 1,
                },
                b if printable(b) => i += 1,
                _ => return Header::No,
            }
        }
        header_line_end(buf, pos, i, eof)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2048, .. ProptestConfig::default() })]

        #[test]
        fn one_reading_judges_headers_as_rereading_did(
            pieces in prop::collection::vec(
                prop_oneof![
                    prop::sample::select(vec![
                        &b"/"[..], b"KAM5", b" ", b"\r\n\r\n", b"\r\n", b"\r", b"\n", b"\0",
                    ])
                    .prop_map(<[u8]>::to_vec),
                    // Printable runs stretch lines to and past the identification limit.
                    (0usize..140).prop_map(|n| vec![b'A'; n]),
                ],
                1..24,
            ),
            eof in any::<bool>(),
        ) {
            let buf = pieces.concat();
            for pos in (0..buf.len()).filter(|&p| buf[p] == b'/') {
                prop_assert_eq!(header(&buf, pos, eof), header_by_rereading(&buf, pos, eof), "at {}", pos);
            }
        }
    }

    #[test]
    fn one_reading_agrees_at_the_identification_limit() {
        // `/`, `/`s further on at distances around the limit, a line end or none, cut anywhere:
        // where random lines seldom land.
        let near_limit = || [1, 3, 4, 5, 60].into_iter().chain(120..=130);
        let tails: [&[u8]; 7] = [b"", b"\r", b"\r\n", b"\r\n\r", b"\r\n\r\n", b"\0", b"\r\nX"];
        for first in near_limit() {
            for second in near_limit().chain([0]) {
                for last in near_limit() {
                    for tail in tails {
                        let mut buf = vec![b'/'];
                        buf.extend(std::iter::repeat_n(b'A', first));
                        buf.push(b'/');
                        if second > 0 {
                            buf.extend(std::iter::repeat_n(b'B', second));
                            buf.push(b'/');
                        }
                        buf.extend(std::iter::repeat_n(b'C', last));
                        buf.extend(tail);
                        for eof in [false, true] {
                            for pos in (0..buf.len()).filter(|&p| buf[p] == b'/') {
                                assert_eq!(
                                    header(&buf, pos, eof),
                                    header_by_rereading(&buf, pos, eof),
                                    "{first} {second} {last} {tail:?} {eof} at {pos}"
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn a_line_of_slashes_is_judged_at_once() {
        // 64 `/`s and a control byte: judged by rereading, 2^64 readings.
        let mut buf = vec![b'/'; 64];
        buf.push(0x00);
        assert_eq!(header(&buf, 0, false), Header::No);
        let mut telegram = b"/////KAM5 ident\r\n\r\n".to_vec();
        telegram.extend(b"!\r\n");
        assert_eq!(header(&telegram, 0, false), Header::CutByNext { at: 4 });
    }

    #[test]
    fn crc_16_arc_check_value() {
        assert_eq!(crc16(b"123456789"), 0xBB3D);
    }

    #[test]
    fn codes_and_decimals() {
        assert_eq!(parse_code("1-0:1.8.0"), Some(Obis::new(1, 0, 1, 8, 0, 255)));
        assert_eq!(
            parse_code("0-1:24.2.1"),
            Some(Obis::new(0, 1, 24, 2, 1, 255))
        );
        assert_eq!(
            parse_code("1-0:1.8.0*255"),
            Some(Obis::new(1, 0, 1, 8, 0, 255))
        );
        assert_eq!(parse_code("1.8.0"), None);
        assert_eq!(parse_decimal("00012345.678"), Some((12345678, 3)));
        assert_eq!(parse_decimal("001"), Some((1, 0)));
        assert_eq!(parse_decimal("-01.5"), Some((-15, 1)));
        assert_eq!(parse_decimal("4B38"), None);
        assert_eq!(parse_decimal("."), None);
    }

    #[test]
    fn timestamps_carry_their_offset() {
        let w = P1Time::parse("250304100005W").unwrap();
        assert_eq!(w.iso8601(), "2025-03-04T10:00:05+01:00");
        assert_eq!(w.encode(), "250304100005W");
        let s = P1Time::parse("250704100005S").unwrap();
        assert_eq!(s.iso8601(), "2025-07-04T10:00:05+02:00");
        assert_eq!(s.cosem().status(), Some(0x80));
        assert_eq!(P1Time::parse("251304100005W"), None);
        assert_eq!(P1Time::parse("250304100005X"), None);
    }

    #[test]
    fn hex_encoded_ids() {
        assert_eq!(hex_ascii("4B414D").as_deref(), Some("KAM"));
        assert_eq!(hex_ascii("4B4"), None);
        assert_eq!(hex_ascii("0001"), None);
    }
}
