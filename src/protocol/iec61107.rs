//! IEC 61107 / IEC 62056-21 optical readout: sign-on request, identification, data block.
//!
//! Mode A readout at 300 baud 7E1: the reader sends `/?!` CR LF, the meter answers
//! `/XXXZ<ident>` CR LF, then `STX <lines> ! CR LF ETX BCC`. The BCC is the XOR of the bytes after
//! STX (or SOH) through ETX; the Kamstrup 685-382 sends an additive 7-bit sum instead, so both rules
//! are tried and the verdict names the one that matched.

use super::check::{Check, CheckValue};
use super::framer::Probe;

pub const SOH: u8 = 0x01;
pub const STX: u8 = 0x02;
pub const ETX: u8 = 0x03;
pub const EOT: u8 = 0x04;
pub const ACK: u8 = 0x06;
pub const CR: u8 = 0x0D;
pub const LF: u8 = 0x0A;

/// Longest request or identification line (`/` + 3 + 1 + 16 ident + `\W` + CR LF, with margin).
const MAX_LINE: usize = 64;
/// Longest data block waited for; big meters send a few kilobytes.
const MAX_BLOCK: usize = 64 * 1024;

/// Bytes that can start an IEC 61107 message.
pub fn is_start(b: u8) -> bool {
    matches!(b, b'/' | STX | SOH | ACK)
}

/// What kind of message a span holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `/?!` CR LF (usually the optical head echoing what the reader sent).
    Request,
    /// `/XXXZident` CR LF.
    Identification,
    /// `ACK V Z Y` CR LF: the reader's option select (mode C).
    OptionSelect,
    /// `STX ... ETX BCC` (or cut short).
    DataBlock,
    /// `SOH C D ... ETX BCC`: a programming-mode command.
    Command,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Request => "request",
            Kind::Identification => "identification",
            Kind::OptionSelect => "option-select",
            Kind::DataBlock => "data-block",
            Kind::Command => "command",
        }
    }
}

/// One IEC 61107 message as framed, with its checks.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub kind: Kind,
    pub checks: Vec<Check>,
}

fn printable(b: u8) -> bool {
    (0x20..=0x7E).contains(&b)
}

/// A `/...` line ending at `end`: a sign-on request or an identification, else not a frame.
fn sign_on_line(line: &[u8], end: usize, line_end: Check) -> Probe {
    let kind = if line.starts_with(b"/?") && line.ends_with(b"!") {
        Kind::Request
    } else if parse_identification(line).is_some() {
        Kind::Identification
    } else {
        return Probe::No;
    };
    Probe::Frame {
        end,
        frame: Frame {
            kind,
            checks: vec![line_end],
        }
        .into(),
    }
}

fn line_end_check(complete: bool) -> Check {
    Check::compare(
        "line end",
        CheckValue::Text("CR LF"),
        if complete {
            CheckValue::Text("CR LF")
        } else {
            CheckValue::Missing
        },
    )
}

/// A line ended by LF alone: not the standard's CR LF, but tolerated (the check passes and says
/// so in its rule).
fn lf_only_line_end() -> Check {
    Check {
        name: "line end",
        ok: true,
        expected: CheckValue::Text("CR LF"),
        actual: CheckValue::Text("LF"),
        rule: Some("LF alone tolerated"),
    }
}

/// How far the data block or command pending at one buffer position has been read, so that the
/// framer's next probe there (after more bytes came) reads only the new bytes: without it, a
/// 64 KiB block arriving a byte at a time costs 2 GiB of byte reads. Everything kept follows
/// from the bytes already read, never from the end of input, so a resumed probe decides exactly
/// as a fresh one. The framer keeps one and shifts it when it drops consumed bytes.
#[derive(Debug, Default)]
pub struct BlockScan {
    /// Buffer index of the block's first byte (STX or SOH) while something is kept.
    pos: Option<usize>,
    /// `buf[pos + 1..read_to]` is block text: no ETX or EOT, no byte a block may not hold.
    read_to: usize,
    /// A `)` was among the text: a stray byte after it breaks the block instead of ending it.
    saw_value: bool,
    /// XOR and sum of the covered text read so far (both BCC rules, before their 7-bit mask).
    xor: u8,
    sum: u8,
    /// Bytes read by block probes (each once while its block is pending, plus the byte after
    /// ETX while the BCC is awaited).
    pub examined: u64,
}

impl BlockScan {
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

    /// Starts reading the block at `pos` afresh unless it is the one kept.
    fn resume_at(&mut self, pos: usize) {
        if self.pos != Some(pos) {
            *self = BlockScan {
                pos: Some(pos),
                read_to: pos + 1,
                examined: self.examined,
                ..BlockScan::default()
            };
        }
    }
}

/// Does an IEC 61107 message start at `pos`? `scan` carries a pending block's progress from
/// one call to the next (see [`BlockScan`]).
pub(crate) fn probe(buf: &[u8], pos: usize, eof: bool, scan: &mut BlockScan) -> Probe {
    match buf[pos] {
        b'/' => probe_line(buf, pos, eof),
        ACK => probe_option_select(buf, pos, eof),
        STX => probe_block(buf, pos, Kind::DataBlock, eof, scan),
        SOH => {
            // SOH, command letter, command type digit, then STX data or ETX directly.
            let Some(head) = buf.get(pos + 1..pos + 4) else {
                return if eof
                    || buf[pos + 1..]
                        .iter()
                        .any(|&b| !printable(b) && b != STX && b != ETX)
                {
                    Probe::No
                } else {
                    Probe::NeedMore
                };
            };
            if !head[0].is_ascii_uppercase() || !head[1].is_ascii_digit() {
                return Probe::No;
            }
            match head[2] {
                STX | ETX => probe_block(buf, pos, Kind::Command, eof, scan),
                _ => Probe::No,
            }
        }
        _ => Probe::No,
    }
}

fn probe_line(buf: &[u8], pos: usize, eof: bool) -> Probe {
    let limit = buf.len().min(pos + MAX_LINE);
    for i in pos + 1..limit {
        let b = buf[i];
        if b == CR {
            match buf.get(i + 1) {
                Some(&LF) => {}
                Some(_) => return Probe::No,
                None => return if eof { Probe::No } else { Probe::NeedMore },
            }
            return sign_on_line(&buf[pos..i], i + 2, line_end_check(true));
        }
        // LF alone (a Landis+Gyr E350 through a logger): the line still parses; the check says
        // which line end came.
        if b == LF {
            return sign_on_line(&buf[pos..i], i + 1, lf_only_line_end());
        }
        if !printable(b) {
            return Probe::No;
        }
    }
    if eof || limit == pos + MAX_LINE {
        Probe::No
    } else {
        Probe::NeedMore
    }
}

fn probe_option_select(buf: &[u8], pos: usize, eof: bool) -> Probe {
    let Some(m) = buf.get(pos..pos + 6) else {
        let partial = &buf[pos + 1..];
        let plausible = partial.iter().take(3).all(|b| b.is_ascii_alphanumeric());
        return if eof || !plausible {
            Probe::No
        } else {
            Probe::NeedMore
        };
    };
    if m[1].is_ascii_digit()
        && m[2].is_ascii_alphanumeric()
        && m[3].is_ascii_digit()
        && m[4] == CR
        && m[5] == LF
    {
        Probe::Frame {
            end: pos + 6,
            frame: Frame {
                kind: Kind::OptionSelect,
                checks: vec![line_end_check(true)],
            }
            .into(),
        }
    } else {
        Probe::No
    }
}

/// A block from `pos` (STX or SOH): text up to ETX (or EOT for a partial block), then the BCC,
/// which covers every byte after the STX or SOH through the ETX (a command's letter and digit
/// too). Reading resumes where `scan` left off.
fn probe_block(buf: &[u8], pos: usize, kind: Kind, eof: bool, scan: &mut BlockScan) -> Probe {
    scan.resume_at(pos);
    let limit = buf.len().min(pos + MAX_BLOCK);
    for i in scan.read_to..limit {
        scan.examined += 1;
        let b = buf[i];
        if b == ETX || b == EOT {
            let Some(&received) = buf.get(i + 1) else {
                if eof {
                    return broken_block(buf.len(), kind, "BCC missing");
                }
                return Probe::NeedMore;
            };
            let mut checks = vec![Check::compare(
                "block end",
                CheckValue::Text("ETX"),
                CheckValue::Text(if b == ETX {
                    "ETX"
                } else {
                    "EOT (partial block)"
                }),
            )];
            // The covered bytes run through the ETX (or EOT).
            checks.push(judge_bcc(
                Bcc {
                    xor: scan.xor ^ b,
                    sum: scan.sum.wrapping_add(b),
                },
                received,
                BccRule::Xor,
            ));
            return Probe::Frame {
                end: i + 2,
                frame: Frame { kind, checks }.into(),
            };
        }
        if b == b')' {
            scan.saw_value = true;
        }
        if !(printable(b) || b == CR || b == LF || (kind == Kind::Command && b == STX)) {
            return if scan.saw_value {
                broken_block(i, kind, "unexpected byte")
            } else {
                Probe::No
            };
        }
        scan.xor ^= b;
        scan.sum = scan.sum.wrapping_add(b);
        scan.read_to = i + 1;
    }
    if limit == pos + MAX_BLOCK {
        return broken_block(limit, kind, "block too long");
    }
    if eof {
        return if scan.saw_value {
            broken_block(buf.len(), kind, "cut off")
        } else {
            Probe::No
        };
    }
    Probe::NeedMore
}

/// The frame of a block cut short by the start of a frame of another protocol.
pub(crate) fn cut_short(kind: Kind) -> Frame {
    Frame {
        kind,
        checks: vec![
            Check::failed(
                "block end",
                CheckValue::Text("ETX"),
                CheckValue::Text("cut by an HDLC frame"),
            ),
            Check::failed("BCC", CheckValue::Missing, CheckValue::Missing),
        ],
    }
}

fn broken_block(end: usize, kind: Kind, why: &'static str) -> Probe {
    Probe::Frame {
        end,
        frame: Frame {
            kind,
            checks: vec![
                Check::failed("block end", CheckValue::Text("ETX"), CheckValue::Text(why)),
                Check::failed("BCC", CheckValue::Missing, CheckValue::Missing)
                    .with_rule(Some(BccRule::Xor.name())),
            ],
        }
        .into(),
    }
}

/// The BCC by the standard's XOR rule, 7 bits.
pub fn bcc_xor(covered: &[u8]) -> u8 {
    covered.iter().fold(0u8, |acc, b| acc ^ b) & 0x7F
}

/// The BCC by the additive rule seen on the Kamstrup 685-382: sum of the bytes, 7 bits.
pub fn bcc_additive(covered: &[u8]) -> u8 {
    covered.iter().fold(0u8, |acc, b| acc.wrapping_add(*b)) & 0x7F
}

/// A BCC rule: the standard's XOR, or the additive sum the Kamstrup 685-382 sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BccRule {
    Xor,
    Additive,
}

impl BccRule {
    pub fn name(self) -> &'static str {
        match self {
            BccRule::Xor => "xor",
            BccRule::Additive => "additive",
        }
    }

    /// The BCC of `covered` by this rule.
    pub fn compute(self, covered: &[u8]) -> u8 {
        match self {
            BccRule::Xor => bcc_xor(covered),
            BccRule::Additive => bcc_additive(covered),
        }
    }
}

impl Identification {
    /// The BCC rule this meter uses: the 685-382 sends the additive sum, everything else the
    /// standard's XOR.
    pub fn bcc_rule(&self) -> BccRule {
        if self.manufacturer.eq_ignore_ascii_case("KAM") && self.ident.starts_with("685-382") {
            BccRule::Additive
        } else {
            BccRule::Xor
        }
    }
}

/// Checks a received BCC against both rules; the verdict names the rule that matched. A failure
/// is judged by the XOR rule (the standard's) unless the meter is known: see
/// [`bcc_check_for`].
pub fn bcc_check(covered: &[u8], received: u8) -> Check {
    bcc_check_for(covered, received, BccRule::Xor)
}

/// Checks a received BCC against both rules. A match by either passes and names its rule; a
/// failure names `meter_rule` (the rule the meter uses) and its expected value.
pub fn bcc_check_for(covered: &[u8], received: u8, meter_rule: BccRule) -> Check {
    let bcc = Bcc {
        xor: bcc_xor(covered),
        sum: bcc_additive(covered),
    };
    judge_bcc(bcc, received, meter_rule)
}

/// The XOR and the sum of the covered bytes (before the 7-bit mask), kept as a block is read.
#[derive(Debug, Clone, Copy)]
struct Bcc {
    xor: u8,
    sum: u8,
}

impl Bcc {
    fn by(self, rule: BccRule) -> u8 {
        match rule {
            BccRule::Xor => self.xor & 0x7F,
            BccRule::Additive => self.sum & 0x7F,
        }
    }
}

/// [`bcc_check_for`] from the covered bytes' XOR and sum.
fn judge_bcc(bcc: Bcc, received: u8, meter_rule: BccRule) -> Check {
    let xor = bcc.by(BccRule::Xor);
    let additive = bcc.by(BccRule::Additive);
    if received == xor {
        Check::compare("BCC", CheckValue::Hex8(xor), CheckValue::Hex8(received))
            .with_rule(Some("xor"))
    } else if received == additive {
        Check::compare(
            "BCC",
            CheckValue::Hex8(additive),
            CheckValue::Hex8(received),
        )
        .with_rule(Some("additive"))
    } else {
        Check::failed(
            "BCC",
            CheckValue::Hex8(bcc.by(meter_rule)),
            CheckValue::Hex8(received),
        )
        .with_rule(Some(meter_rule.name()))
    }
}

/// The BCC check of a data block span (from STX) judged by `rule`, the rule the meter uses.
pub fn data_block_bcc(span: &[u8], rule: BccRule) -> Check {
    let end = span
        .iter()
        .skip(1)
        .position(|&b| b == ETX || b == EOT)
        .map(|i| i + 1);
    match end.and_then(|e| Some((e, *span.get(e + 1)?))) {
        Some((e, received)) => bcc_check_for(&span[1..=e], received, rule),
        None => Check::failed("BCC", CheckValue::Missing, CheckValue::Missing)
            .with_rule(Some(rule.name())),
    }
}

/// How the meter will talk after its identification, from the baud character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// No baud change: the whole readout at 300 baud.
    A,
    /// The meter switches to `baud` by itself after the identification.
    B { baud: u32 },
    /// The reader acknowledges with an option select, then both switch to `baud`.
    C { baud: u32 },
    /// Mode C with the enhanced (`\2`) identification: HDLC may follow.
    E { baud: u32 },
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::A => "A",
            Mode::B { .. } => "B",
            Mode::C { .. } => "C",
            Mode::E { .. } => "E",
        }
    }

    /// The speed of the data block.
    pub fn baud(self) -> u32 {
        match self {
            Mode::A => 300,
            Mode::B { baud } | Mode::C { baud } | Mode::E { baud } => baud,
        }
    }
}

/// The meter's identification line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identification {
    /// Three-letter manufacturer code (`KAM`).
    pub manufacturer: String,
    /// A lower-case third letter means the meter answers within 20 ms.
    pub fast_reaction: bool,
    pub baud_char: char,
    pub mode: Mode,
    /// The identification proper (`685351A300100`).
    pub ident: String,
}

/// Parses `/XXXZident` (with or without the trailing CR LF, or LF alone as some loggers pass it).
pub fn parse_identification(line: &[u8]) -> Option<Identification> {
    let line = line
        .strip_suffix(b"\r\n")
        .or_else(|| line.strip_suffix(b"\n"))
        .unwrap_or(line);
    let rest = line.strip_prefix(b"/")?;
    if rest.len() < 4
        || !rest[..3].iter().all(|b| b.is_ascii_alphabetic())
        || !rest.iter().all(|&b| printable(b))
    {
        return None;
    }
    if rest.starts_with(b"?") {
        return None;
    }
    let manufacturer = String::from_utf8_lossy(&rest[..3]).to_uppercase();
    let baud_char = rest[3] as char;
    let mut ident = &rest[4..];
    let mut enhanced = false;
    if ident.len() >= 2 && ident[0] == b'\\' && ident[1].is_ascii_digit() {
        enhanced = ident[1] == b'2';
        ident = &ident[2..];
    }
    let mode_c_baud = |c: char| 300u32 << (c as u32 - '0' as u32);
    let mode = match baud_char {
        '0'..='6' if enhanced => Mode::E {
            baud: mode_c_baud(baud_char),
        },
        '0'..='6' => Mode::C {
            baud: mode_c_baud(baud_char),
        },
        'A'..='F' => Mode::B {
            baud: 600u32 << (baud_char as u32 - 'A' as u32),
        },
        _ => Mode::A,
    };
    Some(Identification {
        manufacturer,
        fast_reaction: rest[2].is_ascii_lowercase(),
        baud_char,
        mode,
        ident: String::from_utf8_lossy(ident).trim().to_string(),
    })
}

/// One value of a data set: `value*unit`.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    pub raw: String,
    pub unit: Option<String>,
}

impl Value {
    /// The value as a number: digits with a decimal point or comma, optionally signed.
    pub fn number(&self) -> Option<f64> {
        parse_number(&self.raw)
    }
}

/// Parses `000023.4`, `000001,5`, `-12`: digits with at most one decimal point or comma.
pub fn parse_number(raw: &str) -> Option<f64> {
    let t = raw.trim();
    let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
    if digits.is_empty()
        || !digits
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b',')
        || digits.bytes().filter(|&b| b == b'.' || b == b',').count() > 1
        || !digits.bytes().any(|b| b.is_ascii_digit())
    {
        return None;
    }
    t.replace(',', ".").parse().ok()
}

/// One data set: `address(value*unit)`, possibly with several values.
#[derive(Debug, Clone, PartialEq)]
pub struct DataSet {
    /// The id as sent (`1.8.0`, `1.20`, `1.6*1`); empty for a value without an address.
    pub address: String,
    pub values: Vec<Value>,
    /// Where the data set lies in the span: from its address to its last value's `)`.
    pub offset: usize,
    pub end: usize,
}

/// A parsed data block.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DataBlock {
    pub datasets: Vec<DataSet>,
    /// The `!` end-of-data marker was seen.
    pub end_marker: bool,
    /// Where parsing stopped on a malformed or cut-off block: span offset and reason.
    pub broke_at: Option<(usize, String)>,
}

/// Parses the data lines of a block span (starting with STX or SOH). Never fails: what could not
/// be parsed is reported in `broke_at`.
pub fn parse_data_block(span: &[u8]) -> DataBlock {
    let mut block = DataBlock::default();
    let start = match span.iter().position(|&b| b == STX) {
        Some(i) => i + 1,
        None => return block,
    };
    let end = span[start..]
        .iter()
        .position(|&b| b == ETX || b == EOT)
        .map_or(span.len(), |i| start + i);
    let text = &span[start..end];
    let mut i = 0;
    let mut current: Option<DataSet> = None;
    while i < text.len() {
        let b = text[i];
        match b {
            CR | LF | b' ' => i += 1,
            b'!' => {
                block.end_marker = true;
                i += 1;
            }
            b'(' => {
                // A value ends at ')' on its own line; a damaged one is reported where its line
                // ends, and the lines after it are read on (one hit byte hides one line only).
                let line_end = text[i..]
                    .iter()
                    .position(|&c| c == CR || c == LF)
                    .map_or(text.len(), |e| i + e);
                let close = text[i + 1..line_end]
                    .iter()
                    .position(|&c| c == b')' || c == b'(')
                    .map(|c| i + 1 + c)
                    .filter(|&c| text[c] == b')');
                let Some(close) = close else {
                    // The data set keeps the values read before the damaged one.
                    if let Some(done) = current.take() {
                        block.datasets.push(done);
                    }
                    note_break(
                        &mut block,
                        start + i,
                        format!(
                            "value not closed by ')' before its line ends at byte {}",
                            start + line_end
                        ),
                    );
                    i = line_end;
                    continue;
                };
                let close = close - i;
                let inner = String::from_utf8_lossy(&text[i + 1..i + close]);
                let (raw, unit) = match inner.split_once('*') {
                    Some((v, u)) => (v.to_string(), Some(u.to_string())),
                    None => (inner.to_string(), None),
                };
                let set = current.get_or_insert_with(|| DataSet {
                    address: String::new(),
                    values: Vec::new(),
                    offset: start + i,
                    end: start + i,
                });
                set.values.push(Value { raw, unit });
                i += close + 1;
                set.end = start + i;
            }
            _ => {
                if let Some(done) = current.take() {
                    block.datasets.push(done);
                }
                let from = i;
                while i < text.len() && !matches!(text[i], b'(' | CR | LF | b'!') {
                    i += 1;
                }
                if text.get(i) != Some(&b'(') {
                    note_break(&mut block, start + from, "address without a value".into());
                    // Read on from the next line.
                    while i < text.len() && !matches!(text[i], CR | LF) {
                        i += 1;
                    }
                    continue;
                }
                current = Some(DataSet {
                    address: String::from_utf8_lossy(&text[from..i]).trim().to_string(),
                    values: Vec::new(),
                    offset: start + from,
                    end: start + i,
                });
            }
        }
        if (b == CR || b == LF)
            && let Some(done) = current.take()
        {
            block.datasets.push(done);
        }
    }
    if let Some(done) = current.take() {
        block.datasets.push(done);
    }
    if block.broke_at.is_none() && end == span.len() {
        block.broke_at = Some((span.len(), "cut off before ETX".into()));
    }
    block
}

/// Keeps the first place the block broke (later ones follow from it or are read past).
fn note_break(block: &mut DataBlock, at: usize, why: String) {
    if block.broke_at.is_none() {
        block.broke_at = Some((at, why));
    }
}

/// The byte map of an IEC 61107 span: the control characters, each data set as the block parser
/// found it, where parsing broke, ETX and BCC.
pub fn regions(bytes: &[u8], frame: &Frame, r: &mut super::region::Regions) {
    use super::region::RegionKind;
    match frame.kind {
        Kind::DataBlock | Kind::Command => {
            let Some(&first) = bytes.first() else {
                return;
            };
            r.add(
                0..1,
                RegionKind::Flag,
                if first == SOH { "SOH" } else { "STX" },
            );
            let block = parse_data_block(bytes);
            for set in &block.datasets {
                let text = String::from_utf8_lossy(&bytes[set.offset..set.end]);
                r.add(set.offset..set.end, RegionKind::Text, text);
            }
            let end = bytes.iter().position(|&b| b == ETX || b == EOT);
            let text_end = end.unwrap_or(bytes.len());
            let mut i = 1;
            while i < text_end {
                match (bytes[i], bytes.get(i + 1)) {
                    (CR, Some(&LF)) if i + 1 < text_end => {
                        r.add(i..i + 2, RegionKind::Flag, "CR LF");
                        i += 1;
                    }
                    (CR, _) => r.add(i..i + 1, RegionKind::Flag, "CR"),
                    (LF, _) => r.add(i..i + 1, RegionKind::Flag, "LF"),
                    (b'!', _) => r.add(i..i + 1, RegionKind::Flag, "end of data (!)"),
                    _ => {}
                }
                i += 1;
            }
            // A block cut off before ETX breaks after its last byte: nothing to mark there.
            if let Some((at, why)) = &block.broke_at
                && *at < text_end
            {
                r.error_at(*at, why);
            }
            if let Some(e) = end {
                r.add(e..e + 1, RegionKind::Flag, "ETX");
                r.add(e + 1..e + 2, RegionKind::Check, "BCC");
            }
        }
        kind => r.add(0..bytes.len(), RegionKind::Text, kind.name()),
    }
}

/// The register name for an id: Kamstrup 351 Combi (seed 000) and 685-382 short ids (seed 004),
/// then common IEC 62056-21 ids.
pub fn register_name(address: &str) -> Option<&'static str> {
    Some(match address {
        // Kamstrup 351 Combi
        "0.0.0" => "Customer number",
        "0.2.0" => "Software type and revision",
        "1.8.0" => "Active energy",
        "1.8.1" => "Active energy, tariff 1",
        "1.8.2" => "Active energy, tariff 2",
        "1.8.3" => "Active energy, tariff 3",
        "1.8.4" => "Active energy, tariff 4",
        "3.8.0" => "Reactive energy",
        "96.8.0" => "Hour counter",
        "96.50.1" => "Pulse input",
        "1.6.0" => "Active peak power",
        "3.6.0" => "Reactive peak power",
        "1.6.0.1" => "Last month active peak power",
        "3.6.0.1" => "Last month reactive peak power",
        "1.2.0" => "Active peak power accumulated",
        "3.2.0" => "Reactive peak power accumulated",
        "0.1" => "Reset counter",
        // Kamstrup 685-382
        "0.0" => "Customer number",
        "1.20" => "Energy register",
        "1.20.1" => "Energy register, tariff 1",
        "1.20.2" => "Energy register, tariff 2",
        "1.31" => "Hour counter",
        "1.26" => "Pulse counter",
        "1.6" => "Actual peak power",
        "1.6*1" => "Last month's peak power",
        // Common IEC 62056-21 ids
        "0.0.1" | "C.1.0" => "Meter serial number",
        "0.9.1" => "Time",
        "0.9.2" => "Date",
        "2.8.0" => "Active energy export",
        "4.8.0" => "Reactive energy export",
        "F.F" | "F.F.0" | "97.97.0" => "Information code (error register)",
        "C.1.1" => "Meter type",
        _ => return None,
    })
}

/// The Kamstrup 351 Combi information code (seed 001): each decimal digit set is one condition.
pub fn information_code_flags(raw: &str) -> Option<Vec<&'static str>> {
    let code: u64 = raw.trim().parse().ok()?;
    const FLAGS: [&str; 7] = [
        "information code 1 (no 'E' shown; not described further)",
        "EEPROM checksum error",
        "EEPROM test error",
        "RAM test error",
        "ROM checksum error",
        "alarm input activated",
        "voltage missing on one or two phases",
    ];
    let mut rest = code;
    let mut flags = Vec::new();
    for name in FLAGS {
        if !rest.is_multiple_of(10) {
            flags.push(name);
        }
        rest /= 10;
    }
    Some(flags)
}

/// Whether an id is the information code register.
pub fn is_information_code(address: &str) -> bool {
    matches!(address, "F.F" | "F.F.0" | "97.97.0")
}

/// The sign-on request `/?!` CR LF, or `/?ADDRESS!` CR LF.
pub fn sign_on_request(address: &str) -> Vec<u8> {
    format!("/?{address}!\r\n").into_bytes()
}

/// The mode C acknowledgement with option select: `ACK 0 Z Y` CR LF (`Y` = `0` for a readout).
pub fn option_select(baud_char: u8, mode_char: u8) -> [u8; 6] {
    [ACK, b'0', baud_char, mode_char, CR, LF]
}

/// An identification line `/XXXZident` CR LF.
pub fn encode_identification(manufacturer: &str, baud_char: char, ident: &str) -> Vec<u8> {
    format!("/{manufacturer}{baud_char}{ident}\r\n").into_bytes()
}

/// One data line to encode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub address: String,
    pub value: String,
    pub unit: Option<String>,
}

/// A data block `STX lines ! CR LF ETX BCC`, with the `!` after the last data set as the
/// Kamstrup meters send it.
pub fn encode_data_block(lines: &[Line], rule: BccRule) -> Vec<u8> {
    let mut out = vec![STX];
    for (i, line) in lines.iter().enumerate() {
        out.extend_from_slice(line.address.as_bytes());
        out.push(b'(');
        out.extend_from_slice(line.value.as_bytes());
        if let Some(unit) = &line.unit {
            out.push(b'*');
            out.extend_from_slice(unit.as_bytes());
        }
        out.push(b')');
        if i + 1 == lines.len() {
            out.push(b'!');
        }
        out.extend_from_slice(b"\r\n");
    }
    if lines.is_empty() {
        out.extend_from_slice(b"!\r\n");
    }
    out.push(ETX);
    let bcc = rule.compute(&out[1..]);
    out.push(bcc);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bcc_vectors_from_the_standard() {
        let w2 = b"W2\x02C003(910324092239)\x03";
        assert_eq!(bcc_xor(w2), 0x1B);
        assert_eq!(bcc_xor(b"P0\x02(1234567)\x03"), 0x50);
        assert_eq!(bcc_xor(b"B0\x03"), 0x71);
    }

    #[test]
    fn commands_are_checked_from_after_soh() {
        // The standard's examples: the BCC covers the command letter and digit as well.
        for (command, name) in [
            (&b"\x01W2\x02C003(910324092239)\x03\x1B"[..], "write"),
            (b"\x01P0\x02(1234567)\x03P", "password"),
            (b"\x01B0\x03q", "break"),
        ] {
            let mut scan = BlockScan::default();
            let Probe::Frame { end, frame } = probe(command, 0, false, &mut scan) else {
                panic!("{name}: not framed");
            };
            assert_eq!(end, command.len(), "{name}");
            let super::super::framer::Content::Iec61107(frame) = frame else {
                panic!("{name}: not IEC 61107");
            };
            assert_eq!(frame.kind, Kind::Command, "{name}");
            assert!(
                frame.checks.iter().all(|c| c.ok),
                "{name}: {:?}",
                frame.checks
            );
        }
    }

    #[test]
    fn identification_modes() {
        let id = parse_identification(b"/KAM 685351A300100\r\n").unwrap();
        assert_eq!(id.manufacturer, "KAM");
        assert_eq!(id.mode, Mode::A);
        assert_eq!(id.ident, "685351A300100");
        let c = parse_identification(b"/LGZ5\\2ZMD3104107.B32").unwrap();
        assert_eq!(c.mode, Mode::E { baud: 9600 });
        assert_eq!(
            parse_identification(b"/ISk5MT174-0001").unwrap().mode,
            Mode::C { baud: 9600 }
        );
        assert!(
            parse_identification(b"/ISk5MT174-0001")
                .unwrap()
                .fast_reaction
        );
        assert_eq!(
            parse_identification(b"/ABCC").unwrap().mode,
            Mode::B { baud: 2400 }
        );
        assert!(parse_identification(b"/?!").is_none());
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_number("000001,5"), Some(1.5));
        assert_eq!(parse_number("000023.4"), Some(23.4));
        assert_eq!(parse_number("5000D1"), None);
        assert_eq!(parse_number("1.2.3"), None);
        assert_eq!(parse_number("."), None);
    }

    #[test]
    fn information_code() {
        assert_eq!(
            information_code_flags("1000010").unwrap(),
            vec![
                "EEPROM checksum error",
                "voltage missing on one or two phases"
            ]
        );
        assert!(information_code_flags("0").unwrap().is_empty());
    }

    #[test]
    fn encode_parse_round_trip() {
        let lines = vec![
            Line {
                address: "1.8.0".into(),
                value: "0012658".into(),
                unit: Some("kWh".into()),
            },
            Line {
                address: "0.1".into(),
                value: "0000000".into(),
                unit: None,
            },
        ];
        for rule in [BccRule::Xor, BccRule::Additive] {
            let block = encode_data_block(&lines, rule);
            let parsed = parse_data_block(&block);
            assert!(parsed.end_marker);
            assert_eq!(parsed.broke_at, None);
            assert_eq!(parsed.datasets.len(), 2);
            assert_eq!(parsed.datasets[0].values[0].unit.as_deref(), Some("kWh"));
            let check = bcc_check(&block[1..block.len() - 1], *block.last().unwrap());
            assert!(check.ok);
        }
    }

    #[test]
    fn several_values_per_line() {
        let block =
            b"\x021.6.0(000023.4*kW)(23-01-15 14:00)\r\nC.1.0(123)2.8.0(5*kWh)!\r\n\x03\x00";
        let parsed = parse_data_block(block);
        assert_eq!(parsed.datasets.len(), 3);
        assert_eq!(parsed.datasets[0].values.len(), 2);
        assert_eq!(parsed.datasets[2].address, "2.8.0");
    }

    #[test]
    fn one_damaged_line_hides_only_itself() {
        // Line 2's closing ')' was hit (it arrives as '-'), and line 4 lost its value: the lines
        // after each are read on, and the first break is reported where its value opened.
        let block = b"\x021.20(0009032*kWh)\r\n1.31(0057342*h-\r\n1.26(0000000)\r\n1.6\r\n1.6*1(000002,8)\r\n!\r\n\x03";
        let parsed = parse_data_block(block);
        let ids: Vec<&str> = parsed.datasets.iter().map(|d| d.address.as_str()).collect();
        assert_eq!(ids, ["1.20", "1.31", "1.26", "1.6*1"], "{parsed:?}");
        assert!(parsed.datasets[1].values.is_empty());
        let (at, why) = parsed.broke_at.clone().unwrap();
        assert_eq!(block[at], b'(');
        assert!(
            why.contains("not closed by ')'") && why.contains("line ends at byte 35"),
            "{why}"
        );
        assert!(parsed.end_marker);
    }
}
