//! HDLC frame format type 3 (IEC 62056-46) as used by HAN push meters.
//!
//! `7E | format(2) | dest | src | control | HCS(2) | info | FCS(2) | 7E`. There is no byte stuffing:
//! 0x7E occurs inside payloads, so frames are delimited by the 11-bit length field, never by
//! searching for flags. HCS and FCS are CRC-16/X-25, sent least significant byte first.

use super::check::{Check, CheckValue};
use super::framer::Probe;
use serde::Serialize;
use std::ops::Range;

pub const FLAG: u8 = 0x7E;
/// Largest value of the 11-bit length field.
pub const MAX_LENGTH: usize = 0x7FF;
/// Smallest frame: format(2) + dest(1) + src(1) + control(1) + FCS(2).
pub const MIN_LENGTH: usize = 7;
/// Bytes the header parser may need: format(2) + two 4-byte addresses + control + HCS(2).
pub const MAX_HEADER: usize = 2 + 4 + 4 + 1 + 2;

// Slice-by-16: the FCS is the costliest step of a decode; 16 tables (8 KiB) make it ~4x faster.
const X25: crc::Crc<u16, crc::Table<16>> =
    crc::Crc::<u16, crc::Table<16>>::new(&crc::CRC_16_IBM_SDLC);

/// CRC-16/X-25 as used for HCS and FCS.
pub fn crc16(bytes: &[u8]) -> u16 {
    X25.checksum(bytes)
}

/// The CRC register's byte step without the initial value (X-25 is reflected: polynomial 0x8408
/// shifted right). It is linear in register and byte together, which is what lets
/// [`FcsCache`] compute the CRC of any range from two stored registers.
const fn linear_step(reg: u16, byte: u8) -> u16 {
    let mut r = (reg ^ byte as u16) & 0xFF;
    let mut bit = 0;
    while bit < 8 {
        r = if r & 1 == 1 {
            (r >> 1) ^ 0x8408
        } else {
            r >> 1
        };
        bit += 1;
    }
    (reg >> 8) ^ r
}

/// The table form of [`linear_step`]'s low-byte part.
const STEP_TABLE: [u16; 256] = {
    let mut t = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = linear_step(i as u16, 0);
        i += 1;
    }
    t
};

/// `ZERO_RUNS[k]`: the register map of 2^k zero bytes, as the images of the 16 register bits.
const ZERO_RUNS: [[u16; 16]; 16] = {
    let mut runs = [[0u16; 16]; 16];
    let mut j = 0;
    while j < 16 {
        runs[0][j] = linear_step(1 << j, 0);
        j += 1;
    }
    let mut k = 1;
    while k < 16 {
        let mut j = 0;
        while j < 16 {
            runs[k][j] = apply(&runs[k - 1], runs[k - 1][j]);
            j += 1;
        }
        k += 1;
    }
    runs
};

const fn apply(map: &[u16; 16], x: u16) -> u16 {
    let mut out = 0;
    let mut j = 0;
    while j < 16 {
        if x >> j & 1 == 1 {
            out ^= map[j];
        }
        j += 1;
    }
    out
}

/// [`ZERO_RUNS`] by bytes: `[k][0][low byte] ^ [k][1][high byte]` maps a register through 2^k
/// zero bytes in two look-ups.
const ZERO_RUN_TABLES: [[[u16; 256]; 2]; 16] = {
    let mut tables = [[[0u16; 256]; 2]; 16];
    let mut k = 0;
    while k < 16 {
        let mut x = 0;
        while x < 256 {
            tables[k][0][x] = apply(&ZERO_RUNS[k], x as u16);
            tables[k][1][x] = apply(&ZERO_RUNS[k], (x as u16) << 8);
            x += 1;
        }
        k += 1;
    }
    tables
};

/// The register after `n` zero bytes starting from `reg` (`n` below 2^16: a frame is at most
/// 2047 bytes).
fn after_zeros(mut reg: u16, n: usize) -> u16 {
    let mut k = 0;
    while n >> k != 0 {
        if n >> k & 1 == 1 {
            let t = &ZERO_RUN_TABLES[k];
            reg = t[0][usize::from(reg as u8)] ^ t[1][usize::from(reg >> 8)];
        }
        k += 1;
    }
    reg
}

/// CRC registers after each byte of the framer's buffer, kept while damaged frames are being
/// judged: the FCS of any range they cover costs a few table steps instead of a pass over the
/// range. Without it, a stream of headers with valid HCS, each claiming 2047 bytes, costs a
/// 2 KiB CRC for every 8 bytes of input. A frame found intact ends it (real data never needs it).
#[derive(Debug, Default)]
pub struct FcsCache {
    /// Buffer index of `registers[0]`.
    origin: usize,
    /// `registers[i]`: the register (from 0, no initial value) over `buf[origin..origin + i]`.
    registers: Vec<u16>,
    /// Bytes stepped through so far (each at most once while the cache lasts).
    pub stepped: u64,
}

impl FcsCache {
    /// Whether ranges starting at `at` can be computed.
    fn covers(&self, at: usize) -> bool {
        !self.registers.is_empty() && at >= self.origin && at < self.origin + self.registers.len()
    }

    fn start_at(&mut self, at: usize) {
        self.origin = at;
        self.registers.clear();
        self.registers.push(0);
    }

    /// Registers up to buffer index `end` (each byte stepped once however often asked).
    fn extend_to(&mut self, buf: &[u8], end: usize) {
        let covered = self.origin + self.registers.len() - 1;
        if end <= covered {
            return;
        }
        let mut reg = *self.registers.last().expect("started");
        self.stepped += (end - covered) as u64;
        for &b in &buf[covered..end] {
            reg = (reg >> 8) ^ STEP_TABLE[usize::from((reg ^ u16::from(b)) as u8)];
            self.registers.push(reg);
        }
    }

    /// CRC-16/X-25 of `buf[a..b]`, both covered.
    fn crc(&self, a: usize, b: usize) -> u16 {
        let at = |i: usize| self.registers[i - self.origin];
        !(after_zeros(0xFFFF ^ at(a), b - a) ^ at(b))
    }

    pub fn clear(&mut self) {
        self.registers.clear();
    }

    /// The framer dropped the first `n` bytes of its buffer.
    pub fn drained(&mut self, n: usize) {
        if self.origin >= n {
            self.origin -= n;
        } else {
            // Registers are only ever used in pairs, so the later ones stay valid.
            let gone = (n - self.origin).min(self.registers.len());
            self.registers.drain(..gone);
            self.origin = 0;
        }
    }
}

/// An HDLC address field of 1, 2 or 4 bytes; the last byte has its least significant bit set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Address {
    pub bytes: [u8; 4],
    pub len: u8,
}

impl Address {
    /// The address of (up to) 4 bytes.
    pub fn from_bytes(src: &[u8]) -> Self {
        let (bytes, len) = super::first_four(src);
        Address { bytes, len }
    }

    /// The logical address: 7 bits per byte. For 4-byte addresses this is upper << 14 | lower.
    pub fn value(&self) -> u32 {
        self.bytes[..self.len as usize]
            .iter()
            .fold(0u32, |acc, b| (acc << 7) | u32::from(b >> 1))
    }

    pub fn raw(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }
}

impl Serialize for Address {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(self.value())
    }
}

/// The fixed part of a frame, from the format field through the control byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The two format bytes.
    pub format: u16,
    /// The 11-bit length: bytes between the flags.
    pub length: usize,
    /// The S bit: more segments follow.
    pub segmented: bool,
    pub dest: Address,
    pub src: Address,
    pub control: u8,
    /// Bytes from the format field through the control byte.
    pub len: usize,
}

impl Header {
    /// True when the frame carries an information field (and so has an HCS before it).
    pub fn has_info(&self) -> bool {
        self.length > self.len + 2
    }

    /// Readable name of the control field.
    pub fn control_name(&self) -> &'static str {
        let c = self.control & !0x10;
        if c & 0x01 == 0 {
            "I"
        } else if c == 0x03 {
            "UI"
        } else if c & 0x0F == 0x01 {
            "RR"
        } else if c == 0x83 {
            "SNRM"
        } else if c == 0x43 {
            "DISC"
        } else if c == 0x63 {
            "UA"
        } else {
            "other"
        }
    }
}

/// Result of looking at the bytes after an opening flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderParse {
    /// Not enough bytes yet to tell.
    Incomplete,
    /// These bytes cannot start a type 3 frame.
    Invalid,
    Header(Header),
}

/// Parses the header starting at the format byte.
pub fn parse_header(body: &[u8]) -> HeaderParse {
    if body.len() < 2 {
        return if body.first().is_some_and(|b| b & 0xF0 != 0xA0) {
            HeaderParse::Invalid
        } else {
            HeaderParse::Incomplete
        };
    }
    if body[0] & 0xF0 != 0xA0 {
        return HeaderParse::Invalid;
    }
    let format = u16::from_be_bytes([body[0], body[1]]);
    let length = usize::from(format & 0x07FF);
    if length < MIN_LENGTH {
        return HeaderParse::Invalid;
    }
    let mut pos = 2;
    let mut addresses = [Address::from_bytes(&[]); 2];
    for address in &mut addresses {
        let start = pos;
        loop {
            let Some(&b) = body.get(pos) else {
                return HeaderParse::Incomplete;
            };
            pos += 1;
            if b & 1 == 1 {
                break;
            }
            if pos - start == 4 {
                return HeaderParse::Invalid;
            }
        }
        if pos - start == 3 {
            return HeaderParse::Invalid;
        }
        *address = Address::from_bytes(&body[start..pos]);
    }
    let Some(&control) = body.get(pos) else {
        return HeaderParse::Incomplete;
    };
    pos += 1;
    // Room for the FCS, and for an info field there must also be room for the HCS and one byte.
    if length < pos + 2 || (length > pos + 2 && length < pos + 4) {
        return HeaderParse::Invalid;
    }
    HeaderParse::Header(Header {
        format,
        length,
        segmented: body[0] & 0x08 != 0,
        dest: addresses[0],
        src: addresses[1],
        control,
        len: pos,
    })
}

/// Whether the header check sequence (or, for frames without info, the FCS) over the header
/// matches. `None` while the bytes are not there yet.
pub fn header_check_ok(body: &[u8], header: &Header) -> Option<bool> {
    header_check(body, header).map(|(computed, received)| computed == received)
}

/// The header check computed and as received, once its bytes are there.
fn header_check(body: &[u8], header: &Header) -> Option<(u16, u16)> {
    let received = body.get(header.len..header.len + 2)?;
    let computed = crc16(&body[..header.len]);
    Some((computed, u16::from_le_bytes([received[0], received[1]])))
}

/// One frame (or what arrived of it) with its header, information field and check verdicts.
#[derive(Clone, PartialEq)]
pub struct Frame {
    /// The opening flag was the previous frame's closing flag, so the span starts at the format.
    pub shared_start_flag: bool,
    pub header: Option<Header>,
    /// The information field, as indices into the span's bytes.
    pub info: Range<usize>,
    /// What the checks compare, kept compact (a frame is judged without an allocation, and
    /// stays small to move); the checks are made from it when asked for.
    seen: Seen,
}

/// What a frame's checks compare, as found in its bytes (`None`: the frame ended first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seen {
    /// The first byte, when the frame has its own opening flag.
    start_flag: Option<Option<u8>>,
    /// The frame format (high nibble of the first body byte).
    format: Option<u8>,
    /// The address and control fields parsed; nothing after them is checked otherwise.
    header: bool,
    /// Span length the length field gives, and the span's length (a frame is at most
    /// 2 + 0x7FF bytes; a longer span is counted as the most a u16 holds, which still fails).
    length: (u16, u16),
    /// Computed and received HCS, for frames with an information field.
    hcs: Option<(u16, Option<u16>)>,
    /// Computed and received FCS.
    fcs: (Option<u16>, Option<u16>),
    /// The byte where the closing flag belongs.
    end_flag: Option<u8>,
}

impl Seen {
    /// Each check, in order.
    #[inline]
    fn each(&self, mut check: impl FnMut(Check)) {
        let byte = |b: Option<u8>| b.map_or(CheckValue::Missing, CheckValue::Hex8);
        let word = |w: Option<u16>| w.map_or(CheckValue::Missing, CheckValue::Hex16);
        if let Some(first) = self.start_flag {
            check(Check::compare(
                "start flag",
                CheckValue::Hex8(FLAG),
                byte(first),
            ));
        }
        check(Check::compare(
            "format",
            CheckValue::Hex8(0xA),
            byte(self.format),
        ));
        if !self.header {
            check(Check::failed(
                "header",
                CheckValue::Text("complete address and control fields"),
                CheckValue::Text("unparseable or cut short"),
            ));
            return;
        }
        check(Check::compare(
            "length",
            CheckValue::Count(u32::from(self.length.0)),
            CheckValue::Count(u32::from(self.length.1)),
        ));
        if let Some((computed, received)) = self.hcs {
            check(Check::compare(
                "HCS",
                CheckValue::Hex16(computed),
                word(received),
            ));
        }
        check(Check::compare("FCS", word(self.fcs.0), word(self.fcs.1)));
        check(Check::compare(
            "end flag",
            CheckValue::Hex8(FLAG),
            byte(self.end_flag),
        ));
    }
}

impl std::fmt::Debug for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Frame")
            .field("shared_start_flag", &self.shared_start_flag)
            .field("header", &self.header)
            .field("info", &self.info)
            .field("checks", &self.checks())
            .finish()
    }
}

impl Frame {
    /// Every check, in order: flags, format, header, length, HCS, FCS.
    pub fn checks(&self) -> Vec<Check> {
        let mut checks = Vec::with_capacity(7);
        self.seen.each(|c| checks.push(c));
        checks
    }

    /// Whether every check passed.
    pub fn intact(&self) -> bool {
        let mut ok = true;
        self.seen.each(|c| ok &= c.ok);
        ok
    }

    fn check_named(&self, name: &str) -> Option<Check> {
        let mut found = None;
        self.seen.each(|c| {
            if c.name == name {
                found = Some(c);
            }
        });
        found
    }

    /// The byte map of the frame's own parts: flags, header fields, HCS, FCS. The information
    /// field is mapped by whoever parses it (`region::of_span`).
    pub fn regions(&self, r: &mut super::region::Regions) {
        use super::region::RegionKind;
        let body = usize::from(!self.shared_start_flag);
        if !self.shared_start_flag {
            r.add(0..1, RegionKind::Flag, "flag");
        }
        let Some(h) = self.header else {
            return;
        };
        // The length field counts the bytes between the flags; the length check counts the span.
        let with_flags = if self.shared_start_flag {
            format!("+ closing flag = {} bytes", h.length + 1)
        } else {
            format!("+ 2 flags = {} bytes", h.length + 2)
        };
        r.add(
            body..body + 2,
            RegionKind::Header,
            format!(
                "format A, length {} ({with_flags}){}",
                h.length,
                if h.segmented { ", segmented" } else { "" }
            ),
        );
        let mut at = body + 2;
        let dest = at..at + usize::from(h.dest.len);
        r.add(
            dest.clone(),
            RegionKind::Header,
            format!("destination address {}", h.dest.value()),
        );
        at = dest.end;
        let src = at..at + usize::from(h.src.len);
        r.add(
            src.clone(),
            RegionKind::Header,
            format!("source address {}", h.src.value()),
        );
        at = src.end;
        r.add(
            at..at + 1,
            RegionKind::Header,
            format!("control 0x{:02X} ({})", h.control, h.control_name()),
        );
        at += 1;
        if h.has_info() {
            r.add(at..at + 2, RegionKind::Check, "HCS");
        }
        // A frame shorter than its length field lost bytes (at its end, or dropped inside): the
        // last bytes it has are not known to be its FCS and closing flag, so they are not named so.
        if !self.cut_off(r.len()) {
            let fcs_at = body + h.length - 2;
            r.add(fcs_at..fcs_at + 2, RegionKind::Check, "FCS");
            r.add(fcs_at + 2..fcs_at + 3, RegionKind::Flag, "flag");
        }
    }

    /// Whether a span of `len` bytes is shorter than the frame's length field says (the length
    /// check fails for it).
    pub fn cut_off(&self, len: usize) -> bool {
        self.header
            .is_some_and(|h| len < usize::from(!self.shared_start_flag) + h.length + 1)
    }

    pub fn hcs_ok(&self) -> bool {
        self.check_named("HCS").is_none_or(|c| c.ok)
    }

    pub fn fcs_ok(&self) -> bool {
        self.check_named("FCS").is_some_and(|c| c.ok)
    }

    pub fn length_ok(&self) -> bool {
        self.check_named("length").is_some_and(|c| c.ok)
    }
}

/// Inspects the bytes of one frame span and computes every check. Never panics, whatever the
/// bytes: a truncated or damaged frame gets failing checks, not an error.
pub fn inspect(span: &[u8], shared_start_flag: bool) -> Frame {
    let body_start = usize::from(!shared_start_flag);
    let body = span.get(body_start..).unwrap_or(&[]);
    let header = match parse_header(body) {
        HeaderParse::Header(h) => Some(h),
        _ => None,
    };
    inspect_with_header(span, shared_start_flag, header.as_ref(), None)
}

/// [`inspect`] with the header already parsed (the framer's probe has it: parsed once), and its
/// check computed when known (`header_crc`: the CRC of the header's bytes). The header is taken
/// by reference and copied into the frame last: a copy of a header just parsed stalls (its wide
/// reads wait for the parse's narrow writes), one after the checks do not.
fn inspect_with_header(
    span: &[u8],
    shared_start_flag: bool,
    header: Option<&Header>,
    header_crc: Option<u16>,
) -> Frame {
    let body_start = usize::from(!shared_start_flag);
    let body = span.get(body_start..).unwrap_or(&[]);
    let mut seen = Seen {
        start_flag: (!shared_start_flag).then(|| span.first().copied()),
        format: body.first().map(|b| b >> 4),
        header: header.is_some(),
        length: (0, 0),
        hcs: None,
        fcs: (None, None),
        end_flag: None,
    };
    let Some(h) = header else {
        return Frame {
            shared_start_flag,
            header: None,
            info: span.len()..span.len(),
            seen,
        };
    };
    let expected_len = body_start + h.length + 1;
    let count = |n: usize| u16::try_from(n).unwrap_or(u16::MAX);
    seen.length = (count(expected_len), count(span.len()));
    let le16 = |at: usize| {
        body.get(at..at + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    if h.has_info() {
        let computed = header_crc.unwrap_or_else(|| crc16(&body[..h.len]));
        seen.hcs = Some((computed, le16(h.len)));
    }
    let fcs_at = h.length - 2;
    seen.fcs = (body.get(..fcs_at).map(crc16), le16(fcs_at));
    seen.end_flag = body.get(h.length).copied();
    let info = if h.has_info() {
        let start = (body_start + h.len + 2).min(span.len());
        let end = (body_start + fcs_at).clamp(start, span.len());
        start..end
    } else {
        span.len()..span.len()
    };
    Frame {
        shared_start_flag,
        header: Some(*h),
        info,
        seen,
    }
}

/// Errors building a frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("frame of {0} bytes does not fit the 11-bit length field (max 2047)")]
    TooLong(usize),
    #[error("HDLC address must be 1, 2 or 4 bytes with only the last ending in 1")]
    BadAddress,
}

/// Builds a complete frame with flags, HCS and FCS and appends it to `out`.
pub fn encode(
    dest: &[u8],
    src: &[u8],
    control: u8,
    info: &[u8],
    segmented: bool,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    for address in [dest, src] {
        let valid_len = matches!(address.len(), 1 | 2 | 4);
        let ends_right = address
            .iter()
            .enumerate()
            .all(|(i, b)| (b & 1 == 1) == (i + 1 == address.len()));
        if !valid_len || !ends_right {
            return Err(EncodeError::BadAddress);
        }
    }
    let header_len = 2 + dest.len() + src.len() + 1;
    let length = if info.is_empty() {
        header_len + 2
    } else {
        header_len + 2 + info.len() + 2
    };
    if length > MAX_LENGTH {
        return Err(EncodeError::TooLong(length));
    }
    let start = out.len();
    out.push(FLAG);
    let format = 0xA000 | (u16::from(segmented) << 11) | length as u16;
    out.extend_from_slice(&format.to_be_bytes());
    out.extend_from_slice(dest);
    out.extend_from_slice(src);
    out.push(control);
    let hcs = crc16(&out[start + 1..]);
    out.extend_from_slice(&hcs.to_le_bytes());
    if !info.is_empty() {
        out.extend_from_slice(info);
        let fcs = crc16(&out[start + 1..]);
        out.extend_from_slice(&fcs.to_le_bytes());
    }
    out.push(FLAG);
    Ok(())
}

/// Looks for an HDLC frame whose opening flag is at `start` (or, with `shared`, whose opening flag
/// was the previous frame's closing flag and whose format byte is at `start`).
///
/// A candidate whose header check passes is an anchor: its length is trusted. If it fails its
/// other checks, or has not finished arriving, and another anchor starts inside it, the frame is
/// cut there: bytes were dropped and that anchor is the next frame. A candidate with a bad header
/// check is reported as a weak candidate, which the framer cuts at the next good frame.
pub(crate) fn probe(
    buf: &[u8],
    start: usize,
    shared: bool,
    eof: bool,
    cache: &mut FcsCache,
) -> Probe {
    let body_start = if shared { start } else { start + 1 };
    if !shared && buf[start] != FLAG {
        return Probe::No;
    }
    let body = &buf[body_start.min(buf.len())..];
    // By reference, as `inspect_with_header` takes it.
    let parsed = parse_header(body);
    let header = match &parsed {
        HeaderParse::Invalid => return Probe::No,
        HeaderParse::Incomplete => return if eof { Probe::No } else { Probe::NeedMore },
        HeaderParse::Header(h) => h,
    };
    let end = body_start + header.length + 1;
    // Without an info field the header check is the FCS: decided the same way complete or not.
    let (header_crc, hcs_ok) = match header_check(body, header) {
        Some((computed, received)) => (computed, computed == received),
        None => return if eof { Probe::No } else { Probe::NeedMore },
    };
    if !hcs_ok {
        // A shared flag needs a proper frame behind it; otherwise these are junk bytes.
        if shared {
            return Probe::No;
        }
        return Probe::Weak { end };
    }
    if end > buf.len() {
        // Not complete yet: decided once the claimed length has arrived, or at the end of
        // input (the end of a file, or a line quiet for long enough that it cannot come).
        // Never earlier: a whole frame inside the payload may be data that merely looks like
        // one, and deciding on it would make the spans depend on how the bytes arrived.
        if !eof {
            return Probe::NeedMore;
        }
        return match first_inner_anchor(buf, start + 1, buf.len(), eof) {
            InnerAnchor::At { pos } => cut(buf, start, pos, shared),
            _ => cut(buf, start, buf.len(), shared),
        };
    }
    let intact = if cache.covers(start) {
        // Judging damaged frames already: the FCS from the stored registers.
        cache.extend_to(buf, end);
        let fcs_at = body_start + header.length - 2;
        let fcs = u16::from_le_bytes([buf[fcs_at], buf[fcs_at + 1]]);
        cache.crc(body_start, fcs_at) == fcs && buf[end - 1] == FLAG
    } else {
        // One pass computes every check (the common case: an intact frame).
        let frame = inspect_with_header(&buf[start..end], shared, Some(header), Some(header_crc));
        if frame.intact() {
            return Probe::Frame {
                end,
                frame: frame.into(),
            };
        }
        cache.start_at(start);
        cache.extend_to(buf, end);
        false
    };
    if intact {
        cache.clear();
        return Probe::Frame {
            end,
            frame: inspect_with_header(&buf[start..end], shared, Some(header), Some(header_crc))
                .into(),
        };
    }
    // Damaged: look for a next frame that starts inside (dropped bytes), up to and including
    // the closing-flag position: a damaged frame's "closing flag" may be the next one's opening
    // flag.
    match first_inner_anchor(buf, start + 1, end, eof) {
        InnerAnchor::NeedMore => Probe::NeedMore,
        InnerAnchor::At { pos } => cut(buf, start, pos, shared),
        InnerAnchor::None => cut(buf, start, end, shared),
    }
}

fn cut(buf: &[u8], start: usize, end: usize, shared: bool) -> Probe {
    Probe::Frame {
        end,
        frame: inspect(&buf[start..end], shared).into(),
    }
}

pub(crate) enum InnerAnchor {
    None,
    NeedMore,
    At { pos: usize },
}

/// The first opening flag in `from..to` whose header check passes.
pub(crate) fn first_inner_anchor(buf: &[u8], from: usize, to: usize, eof: bool) -> InnerAnchor {
    let mut pos = from;
    while pos < to {
        let Some(offset) = buf[pos..to].iter().position(|&b| b == FLAG) else {
            return InnerAnchor::None;
        };
        pos += offset;
        let body = &buf[pos + 1..];
        match parse_header(body) {
            HeaderParse::Invalid => {}
            HeaderParse::Incomplete => {
                if !eof {
                    return InnerAnchor::NeedMore;
                }
            }
            HeaderParse::Header(h) => match header_check_ok(body, &h) {
                Some(true) => {
                    return InnerAnchor::At { pos };
                }
                Some(false) => {}
                None if !eof => return InnerAnchor::NeedMore,
                None => {}
            },
        }
        pos += 1;
    }
    InnerAnchor::None
}

/// The longest message segments are joined into: a stream of segments that never ends is
/// abandoned here instead of growing memory without bound (real pushes are a few hundred bytes).
pub const MAX_MESSAGE: usize = 64 * 1024;

/// Joins the information fields of segmented frames (S bit set on all but the last).
#[derive(Debug, Default)]
pub struct Reassembler {
    buf: Vec<u8>,
    segments: u32,
    from: Option<(Address, Address)>,
}

/// What a frame meant for reassembly.
#[derive(Debug, PartialEq, Eq)]
pub enum Segment {
    /// An unsegmented frame: its info field is the whole message.
    Whole,
    /// Segment `n` (1-based) of a message still incomplete.
    Partial { n: u32 },
    /// The last of `n` segments; the joined info field is returned.
    Last { n: u32, info: Vec<u8> },
    /// Segment `n` would make the message longer than [`MAX_MESSAGE`]: what was joined is
    /// dropped and the next frame starts over.
    TooLong { n: u32 },
}

impl Reassembler {
    /// Feeds a frame that passed its checks. A segment from another address pair, or a frame with
    /// a bad check in the middle of a sequence, starts over (the caller resets on bad frames).
    pub fn push(&mut self, header: &Header, info: &[u8]) -> Segment {
        let from = (header.dest, header.src);
        if self.segments > 0 && self.from != Some(from) {
            self.reset();
        }
        if !header.segmented && self.segments == 0 {
            return Segment::Whole;
        }
        self.from = Some(from);
        self.segments += 1;
        if self.buf.len() + info.len() > MAX_MESSAGE {
            let n = self.segments;
            self.reset();
            self.buf.shrink_to(4096);
            return Segment::TooLong { n };
        }
        self.buf.extend_from_slice(info);
        if header.segmented {
            Segment::Partial { n: self.segments }
        } else {
            let n = self.segments;
            let info = std::mem::take(&mut self.buf);
            self.reset();
            Segment::Last { n, info }
        }
    }

    pub fn reset(&mut self) {
        self.buf.clear();
        self.segments = 0;
        self.from = None;
    }

    pub fn pending_segments(&self) -> u32 {
        self.segments
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reassembly_stops_at_the_cap_and_starts_over() {
        let mut frame = Vec::new();
        encode(&[0x2B], &[0x21], 0x13, &[0xAB; 1000], true, &mut frame).unwrap();
        let header = inspect(&frame, false).header.unwrap();
        let mut r = Reassembler::default();
        let mut n = 0;
        let too_long = loop {
            n += 1;
            match r.push(&header, &[0xAB; 1000]) {
                Segment::Partial { n: got } => assert_eq!(got, n),
                other => break other,
            }
        };
        assert_eq!(too_long, Segment::TooLong { n: 66 });
        assert!(r.buf.capacity() <= MAX_MESSAGE);
        assert_eq!(r.pending_segments(), 0);
        assert_eq!(r.push(&header, &[1]), Segment::Partial { n: 1 });
    }

    #[test]
    fn the_fcs_cache_gives_the_crc_of_any_range() {
        let buf: Vec<u8> = (0..3000u32).map(|i| (i * 7919 % 251) as u8).collect();
        let mut cache = FcsCache::default();
        cache.start_at(5);
        cache.extend_to(&buf, 2900);
        for (a, b) in [(5, 6), (5, 2900), (17, 2064), (100, 100), (2000, 2899)] {
            assert_eq!(cache.crc(a, b), crc16(&buf[a..b]), "{a}..{b}");
        }
        // After the framer drops bytes, the same ranges are at new indices.
        cache.drained(3);
        assert_eq!(cache.crc(14, 2061), crc16(&buf[17..2064]));
        cache.drained(10);
        assert_eq!(cache.crc(4, 2051), crc16(&buf[17..2064]));
        assert!(!cache.covers(3000));
    }

    #[test]
    fn crc_is_x25() {
        assert_eq!(crc16(b"123456789"), 0x906E);
    }

    #[test]
    fn encode_then_inspect() {
        let mut out = Vec::new();
        encode(
            &[0x2B],
            &[0x21],
            0x13,
            &[0xE6, 0xE7, 0x00, 0x0F],
            false,
            &mut out,
        )
        .unwrap();
        let frame = inspect(&out, false);
        assert!(frame.intact(), "{:?}", frame.checks());
        let h = frame.header.unwrap();
        assert_eq!(h.dest.value(), 21);
        assert_eq!(h.src.value(), 16);
        assert_eq!(&out[frame.info.clone()], &[0xE6, 0xE7, 0x00, 0x0F]);
    }

    #[test]
    fn two_byte_address_value() {
        let a = Address::from_bytes(&[0x08, 0x83]);
        assert_eq!(a.value(), (4 << 7) | 65);
    }

    #[test]
    fn garbage_never_panics() {
        for len in 0..20 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 0x7E) as u8).collect();
            let _ = inspect(&bytes, false);
            let _ = inspect(&bytes, true);
        }
    }
}
