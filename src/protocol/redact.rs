//! Redaction for the support bundle: meter ids replaced by stable pseudonyms in the bytes as they
//! came, with each changed frame's checks computed again, so the redacted capture still decodes
//! to the same values (except the ids).
//!
//! Two passes over a line's bytes: [`learn`] decodes them as `decode` does and collects the ids
//! the messages carry; [`redact_stream`] frames them again and rewrites each frame that holds
//! one: HAN push lists (HDLC, HCS and FCS), P1 telegrams (CRC), IEC 61107 readouts (BCC) and
//! M-Bus frames (checksum). KMP frames are left as they are. A pseudonym has the length and
//! character classes of the id it replaces, so no length field (A-XDR string length, HDLC frame
//! length) changes. A frame whose check failed before still fails after (its error is carried
//! over), so redaction never makes a damaged frame look good.

use super::axdr::{self, Data};
use super::decoder::{Decoded, Decoder};
use super::dlms::{self, Apdu};
use super::framer::{Content, Framer, Protocols};
use super::han::HanMessage;
use super::iec61107::{self, DataBlock, ETX, Kind};
use super::{hdlc, mbus, p1};
use std::collections::BTreeMap;
use std::ops::Range;

/// Ids shorter than this are left alone: too short to find in text without hitting other values.
pub const MIN_ID_LEN: usize = 4;

/// A-XDR tags of the strings an id is sent as.
const STRING_TAGS: [u8; 3] = [
    axdr::tag::OCTET_STRING,
    axdr::tag::VISIBLE_STRING,
    axdr::tag::UTF8_STRING,
];

/// The pseudonym of an id: the same for the same id, in every bundle (derived from a hash of the
/// id, no key), with the id's length and character classes: a digit for a digit, an upper-case
/// letter for one, a lower-case letter for one; other characters are kept. An id of 8 or more
/// digits (a GS1 number, a serial number) becomes `999` and hash digits, so it reads as made up.
pub fn pseudonym(real: &str) -> String {
    let digits_only = real.len() >= 8 && real.bytes().all(|b| b.is_ascii_digit());
    let mut salt = 0u64;
    loop {
        let mut state = fnv1a(real.as_bytes()) ^ salt;
        let made: String = real
            .chars()
            .enumerate()
            .map(|(i, c)| {
                if digits_only && i < 3 {
                    return '9';
                }
                state = splitmix(state);
                let pick = |base: u8, n: u64| char::from(base + (state % n) as u8);
                match c {
                    '0'..='9' => pick(b'0', 10),
                    'A'..='Z' => pick(b'A', 26),
                    'a'..='z' => pick(b'a', 26),
                    other => other,
                }
            })
            .collect();
        // An id without a character the hash can change (or, by rare chance, hashed onto
        // itself) must still not stay as it was.
        if made != real || salt > 3 {
            return if made == real {
                real.chars().map(|_| 'X').collect()
            } else {
                made
            };
        }
        salt += 1;
    }
}

/// FNV-1a, 64 bits.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xCBF2_9CE4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3)
    })
}

/// One step of SplitMix64: spreads the hash over the characters.
fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Upper-case hex of bytes (how DSMR sends its equipment id).
fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// The ids found so far, each with its pseudonym.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pseudonyms {
    /// Ids sent as text.
    map: BTreeMap<String, String>,
    /// Ids sent as numbers (a meter number), in decimal as they are shown.
    decimal: BTreeMap<String, String>,
    /// The same numbers A-XDR encoded (tag and value) as they are in a frame: the pseudonym
    /// encoded alike, and the id in decimal.
    numbers: BTreeMap<Vec<u8>, (Vec<u8>, String)>,
}

/// Numeric ids with fewer digits are left alone: too short to find in text without hitting a
/// reading.
pub const MIN_NUMBER_DIGITS: usize = 6;

/// The pseudonym of a numeric id of at most `max`: a number with as many digits (so its text
/// has the same length), derived from the id alone, never the id itself.
pub fn number_pseudonym(real: u64, max: u64) -> u64 {
    let digits = real.checked_ilog10().unwrap_or(0);
    let low = if digits == 0 { 0 } else { 10u64.pow(digits) };
    let high = 10u64
        .checked_pow(digits + 1)
        .map_or(u64::MAX, |h| h - 1)
        .min(max);
    let span = high - low;
    if span == 0 {
        return real;
    }
    let made = low + splitmix(fnv1a(real.to_string().as_bytes())) % (span + 1);
    if made == real {
        low + (made - low + 1) % (span + 1)
    } else {
        made
    }
}

impl Pseudonyms {
    /// Adds an id (a blank or too short one is left out, and so is a placeholder of one
    /// character repeated, `00000000`: it names no meter, and it would be found in readings).
    pub fn add(&mut self, real: &str) {
        let real = real.trim();
        let placeholder = real.chars().all(|c| real.starts_with(c));
        if real.len() >= MIN_ID_LEN && !placeholder && !self.map.contains_key(real) {
            self.map.insert(real.to_string(), pseudonym(real));
        }
    }

    /// Adds a COSEM logical device name (0.0.42.0.0.255: a FLAG manufacturer id and the
    /// serial number): its first three characters, which name the brand, are kept.
    pub fn add_device_name(&mut self, name: &str) {
        let name = name.trim();
        if let (Some(flag), Some(serial)) = (name.get(..3), name.get(3..))
            && serial.len() >= MIN_ID_LEN
            && !self.map.contains_key(name)
        {
            self.map
                .insert(name.to_string(), format!("{flag}{}", pseudonym(serial)));
        }
    }

    /// Adds a numeric id as the frame sends it (an unsigned or non-negative integer of 32 or
    /// 64 bits; shorter ones and other values are left out).
    pub fn add_number(&mut self, value: &Data) {
        let (real, max) = match *value {
            Data::DoubleLongUnsigned(v) => (u64::from(v), u64::from(u32::MAX)),
            Data::DoubleLong(v) if v >= 0 => (v as u64, i32::MAX as u64),
            Data::Long64Unsigned(v) => (v, u64::MAX),
            Data::Long64(v) if v >= 0 => (v as u64, i64::MAX as u64),
            _ => return,
        };
        let text = real.to_string();
        if text.len() < MIN_NUMBER_DIGITS || self.decimal.contains_key(&text) {
            return;
        }
        let pseudo = number_pseudonym(real, max);
        let same_type = |n: u64| match value {
            Data::DoubleLongUnsigned(_) => Data::DoubleLongUnsigned(n as u32),
            Data::DoubleLong(_) => Data::DoubleLong(n as i32),
            Data::Long64Unsigned(_) => Data::Long64Unsigned(n),
            _ => Data::Long64(n as i64),
        };
        let encoded = |n| {
            let mut out = Vec::new();
            axdr::encode(&same_type(n), &mut out);
            out
        };
        self.numbers
            .insert(encoded(real), (encoded(pseudo), text.clone()));
        self.decimal.insert(text, pseudo.to_string());
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn len(&self) -> usize {
        self.map.len() + self.decimal.len()
    }

    /// (id, pseudonym), in the ids' order: those sent as text, then those sent as numbers.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.map
            .iter()
            .chain(&self.decimal)
            .map(|(r, p)| (r.as_str(), p.as_str()))
    }

    /// The ids sent as text.
    fn texts(&self) -> impl Iterator<Item = (&str, &str)> {
        self.map.iter().map(|(r, p)| (r.as_str(), p.as_str()))
    }

    pub fn get(&self, real: &str) -> Option<&str> {
        self.map
            .get(real)
            .or_else(|| self.decimal.get(real))
            .map(String::as_str)
    }

    /// Each id, longest first (so an id inside a longer one is not replaced first), as sent
    /// and hex-encoded, with what replaces it.
    fn forms(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut forms: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        for (real, pseudo) in self.iter() {
            forms.push((real.as_bytes().to_vec(), pseudo.as_bytes().to_vec()));
            // Hex-encoded in the case it came in; upper case (DSMR's) when its digits do not
            // tell.
            let (hex_real, hex_pseudo) = (hex_upper(real.as_bytes()), hex_upper(pseudo.as_bytes()));
            let lower = hex_real.to_ascii_lowercase();
            if lower != hex_real {
                forms.push((
                    lower.into_bytes(),
                    hex_pseudo.to_ascii_lowercase().into_bytes(),
                ));
            }
            forms.push((hex_real.into_bytes(), hex_pseudo.into_bytes()));
        }
        forms.sort_by_key(|(real, _)| std::cmp::Reverse(real.len()));
        forms
    }

    /// Text (a log, a config, a report) with every id replaced, as written and hex-encoded.
    pub fn redact_text(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (real, pseudo) in self.forms() {
            let (real, pseudo) = (
                String::from_utf8(real).expect("ids are text"),
                String::from_utf8(pseudo).expect("pseudonyms are text"),
            );
            out = out.replace(&real, &pseudo);
        }
        out
    }

    /// The ids still in a line's `bytes`: text ids as written or hex-encoded, numeric ids
    /// A-XDR encoded (what a redaction missed).
    pub fn found_in(&self, bytes: &[u8]) -> Vec<&str> {
        let numbers = self
            .numbers
            .iter()
            .filter(|(encoded, _)| contains(bytes, encoded))
            .map(|(_, (_, text))| text.as_str());
        self.texts()
            .map(|(real, _)| real)
            .filter(|real| {
                let hex = hex_upper(real.as_bytes());
                [
                    real.as_bytes(),
                    hex.as_bytes(),
                    hex.to_ascii_lowercase().as_bytes(),
                ]
                .iter()
                .any(|form| contains(bytes, form))
            })
            .chain(numbers)
            .collect()
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Replaces each `prefix + real + suffix` in `bytes` by `prefix + pseudonym + suffix` (same
/// length). Returns whether anything changed.
fn replace_framed(
    bytes: &mut [u8],
    prefix: &[u8],
    real: &[u8],
    suffix: &[u8],
    pseudo: &[u8],
) -> bool {
    debug_assert_eq!(real.len(), pseudo.len());
    let whole = prefix.len() + real.len() + suffix.len();
    let mut changed = false;
    let mut at = 0;
    while at + whole <= bytes.len() {
        let w = &bytes[at..at + whole];
        if w.starts_with(prefix) && w[prefix.len()..].starts_with(real) && w.ends_with(suffix) {
            let start = at + prefix.len();
            bytes[start..start + pseudo.len()].copy_from_slice(pseudo);
            changed = true;
            at += whole;
        } else {
            at += 1;
        }
    }
    changed
}

/// Adds the ids a decoded push carries: the meter id / GS1 number (0.0.96.1.0, 0.0.96.1.1,
/// x.x.0.0.5, also when a list without codes is mapped by its documented layout), the meter
/// number some lists send as a number (x.x.0.0.1), as [`HanMessage::meter_id`] finds them, and
/// the logical device name (0.0.42.0.0.255, also when sent without its code).
pub fn add_ids_of(message: &HanMessage, ids: &mut Pseudonyms) {
    for f in message.fields() {
        let Some(code) = f.code() else { continue };
        match f.text() {
            Some(text) if code.is_meter_id() => ids.add(text),
            Some(text) if code.cde() == (0, 42, 0, 0) => ids.add_device_name(text),
            _ if code.c() == 0 && code.d() == 0 && code.e() == 1 => ids.add_number(&f.value),
            _ => {}
        }
    }
}

/// The equipment ids a P1 telegram carries: the meter's (0-0:96.1.1, 0-0:96.1.0) and those of
/// the meters it relays on other channels (a gas meter's 0-1:96.1.0), decoded when hex-encoded.
pub fn p1_ids(telegram: &p1::Telegram) -> Vec<String> {
    telegram
        .lines
        .iter()
        .filter(|l| {
            l.obis
                .is_some_and(|o| o.a() == 0 && o.c() == 96 && o.d() == 1 && o.e() <= 1)
        })
        .filter_map(|l| l.values.first())
        .map(|v| p1::hex_ascii(&v.raw).unwrap_or_else(|| v.raw.clone()))
        .collect()
}

/// IEC 61107 data-set addresses whose value is an id: the customer number (Kamstrup 351 `0.0.0`,
/// 685-382 `0.0`) and the serial number (`0.0.1`, `C.1.0`, `96.1.0`, `96.1.1`).
pub const IEC_ID_ADDRESSES: [&str; 6] = ["0.0.0", "0.0", "0.0.1", "C.1.0", "96.1.0", "96.1.1"];

/// The ids an IEC 61107 data block carries.
pub fn iec_ids(block: &DataBlock) -> Vec<&str> {
    block
        .datasets
        .iter()
        .filter(|d| IEC_ID_ADDRESSES.contains(&d.address.as_str()))
        .filter_map(|d| d.values.first())
        .map(|v| v.raw.as_str())
        .collect()
}

/// The device address of a sign-on request `/?ADDRESS!` (a serial or customer number), if any.
fn sign_on_address(span: &[u8]) -> Option<&[u8]> {
    let rest = span.strip_prefix(b"/?")?;
    let bang = rest.iter().position(|&b| b == b'!')?;
    Some(&rest[..bang]).filter(|a| !a.is_empty())
}

/// What the first pass saw on one line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Learned {
    /// Frames of any protocol (not junk).
    pub frames: usize,
    /// HDLC frames with ciphered content: their ids (if any) are inside the cipher.
    pub ciphered_frames: usize,
    /// KMP frames: their ids are not replaced.
    pub kmp_frames: usize,
}

impl Learned {
    /// Adds what another line saw.
    pub fn add(&mut self, other: Learned) {
        self.frames += other.frames;
        self.ciphered_frames += other.ciphered_frames;
        self.kmp_frames += other.kmp_frames;
    }
}

/// The first pass: decodes a line's bytes as `decode` does (with `decoder`, which holds the keys)
/// and adds every id the messages carry to `ids`.
pub fn learn(
    bytes: &[u8],
    protocols: Protocols,
    decoder: &mut Decoder,
    ids: &mut Pseudonyms,
) -> Learned {
    let mut learned = Learned::default();
    let mut framer = Framer::new(protocols);
    framer.push(bytes);
    framer.finish();
    while let Some(span) = framer.next_span() {
        match span.content {
            Content::Junk => {}
            Content::Kmp(_) => {
                learned.frames += 1;
                learned.kmp_frames += 1;
            }
            _ => learned.frames += 1,
        }
        match decoder.decode(&span) {
            Decoded::Hdlc(h) => {
                if h.cipher.is_some() {
                    learned.ciphered_frames += 1;
                }
                for m in h.message.iter().chain(h.damaged_message.as_deref()) {
                    add_ids_of(m, ids);
                }
            }
            Decoded::P1(p) => p1_ids(&p.telegram).iter().for_each(|id| ids.add(id)),
            Decoded::Mbus(Some(t)) => {
                if let Some(h) = &t.header {
                    ids.add(&h.id);
                }
                if let Some(id) = mbus_id_at(span.bytes).filter(|_| t.ci == Some(MBUS_SELECT)) {
                    ids.add(&id);
                }
            }
            Decoded::Iec61107(i) => {
                if let Some(block) = &i.block {
                    iec_ids(block).iter().for_each(|id| ids.add(id));
                }
                if let Content::Iec61107(f) = &span.content
                    && f.kind == Kind::Request
                    && let Some(address) = sign_on_address(span.bytes)
                {
                    ids.add(&String::from_utf8_lossy(address));
                }
            }
            _ => {}
        }
    }
    learned
}

/// A line's bytes with the ids replaced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Redacted {
    /// As long as the input, byte for byte but the ids and the checks.
    pub bytes: Vec<u8>,
    /// HDLC frames whose HCS and FCS were computed again.
    pub hdlc_frames: usize,
    /// P1 telegrams whose CRC was computed again.
    pub p1_telegrams: usize,
    /// IEC 61107 data blocks whose BCC was computed again.
    pub iec_blocks: usize,
    /// IEC 61107 sign-on requests whose device address was replaced.
    pub iec_requests: usize,
    /// M-Bus frames whose checksum was computed again.
    pub mbus_frames: usize,
}

impl Redacted {
    /// Adds another line's counts (not its bytes).
    pub fn add(&mut self, other: &Redacted) {
        self.hdlc_frames += other.hdlc_frames;
        self.p1_telegrams += other.p1_telegrams;
        self.iec_blocks += other.iec_blocks;
        self.iec_requests += other.iec_requests;
        self.mbus_frames += other.mbus_frames;
    }
}

/// The second pass: frames `bytes` again and replaces the ids in every HDLC frame, P1 telegram
/// and IEC 61107 message, fixing their checks. HDLC frames are searched as the messages they
/// carry, joined, so an id split over two frames (a segmented message, a general-block-transfer)
/// is found and replaced in both.
pub fn redact_stream(bytes: &[u8], protocols: Protocols, ids: &Pseudonyms) -> Redacted {
    let mut framer = Framer::new(protocols);
    framer.push(bytes);
    framer.finish();
    let mut spans: Vec<(Vec<u8>, Content)> = Vec::new();
    while let Some(span) = framer.next_span() {
        spans.push((span.bytes.to_vec(), span.content));
    }
    let parts: Vec<(usize, Range<usize>)> = spans
        .iter()
        .enumerate()
        .filter_map(|(i, (bytes, content))| match content {
            Content::Hdlc(frame) => Some((i, hdlc_payload(bytes, frame))),
            _ => None,
        })
        .collect();
    let mut redacted: Vec<Vec<u8>> = spans.iter().map(|(b, _)| b.clone()).collect();
    let changed = replace_joined(&mut redacted, &parts, ids);
    let mut out = Redacted {
        bytes: Vec::with_capacity(bytes.len()),
        ..Redacted::default()
    };
    for (((original, content), mut new), changed) in spans.iter().zip(redacted).zip(changed) {
        match content {
            Content::Hdlc(frame) if changed => {
                fix_hdlc_checks(original, frame, &mut new);
                out.hdlc_frames += 1;
            }
            Content::P1(frame) => {
                if let Some(n) = redact_p1(original, frame, ids) {
                    new = n;
                    out.p1_telegrams += 1;
                }
            }
            Content::Mbus(_) => {
                if let Some(n) = redact_mbus(original, ids) {
                    new = n;
                    out.mbus_frames += 1;
                }
            }
            Content::Iec61107(frame) => {
                if let Some(n) = redact_iec(original, frame, ids) {
                    new = n;
                    match frame.kind {
                        Kind::Request => out.iec_requests += 1,
                        _ => out.iec_blocks += 1,
                    }
                }
            }
            _ => {}
        }
        out.bytes.extend_from_slice(&new);
    }
    out
}

/// The part of an HDLC frame span that carries message bytes: its information field less the LLC
/// header, and less a general-block-transfer block's header. Joined over frames, these parts are
/// the messages as sent.
fn hdlc_payload(span: &[u8], frame: &hdlc::Frame) -> Range<usize> {
    if frame.header.is_none() {
        return 0..0;
    }
    let info = frame.info.start.min(span.len())..frame.info.end.min(span.len());
    let mut start = info.start;
    if span[info.clone()].starts_with(&LLC) {
        start += LLC.len();
    }
    match dlms::parse_apdu(&span[start..info.end], 0) {
        Ok(Apdu::BlockTransfer(block)) => start + block.data.start..start + block.data.end,
        _ => start..info.end,
    }
}

/// The LLC header of a HAN push's information field.
const LLC: [u8; 3] = [0xE6, 0xE7, 0x00];

/// Replaces the ids in the message bytes at `parts` of `spans` (span index, range), searched as
/// if the parts were one buffer: text ids where sent as A-XDR strings, numeric ids as A-XDR
/// integers. Returns, per span, whether it changed.
fn replace_joined(
    spans: &mut [Vec<u8>],
    parts: &[(usize, Range<usize>)],
    ids: &Pseudonyms,
) -> Vec<bool> {
    let mut joined: Vec<u8> = parts
        .iter()
        .flat_map(|(i, r)| spans[*i][r.clone()].iter().copied())
        .collect();
    for (real, (pseudo, _)) in &ids.numbers {
        replace_framed(&mut joined, &[], real, &[], pseudo);
    }
    for (real, pseudo) in ids.texts() {
        let Ok(len) = u8::try_from(real.len()) else {
            continue;
        };
        for tag in STRING_TAGS {
            let (real, pseudo) = (real.as_bytes(), pseudo.as_bytes());
            replace_framed(&mut joined, &[tag, len], real, &[], pseudo);
        }
    }
    let mut changed = vec![false; spans.len()];
    let mut at = 0;
    for (i, r) in parts {
        let new = &joined[at..at + r.len()];
        if spans[*i][r.clone()] != *new {
            spans[*i][r.clone()].copy_from_slice(new);
            changed[*i] = true;
        }
        at += r.len();
    }
    changed
}

/// A check value computed again over changed bytes: the new right value when the old one was
/// right, else the new right value off by the same bits as before (a failed check stays failed,
/// with its error as it was).
fn recheck<T: std::ops::BitXor<Output = T> + Copy>(old_right: T, sent: T, new_right: T) -> T {
    new_right ^ (old_right ^ sent)
}

/// One HDLC frame span with the ids in its message bytes replaced (where sent as A-XDR strings
/// or integers), its HCS and FCS computed again. `None` when it holds no id. (A whole stream:
/// [`redact_stream`], which also finds ids split over frames.)
pub fn redact_hdlc(span: &[u8], frame: &hdlc::Frame, ids: &Pseudonyms) -> Option<Vec<u8>> {
    let mut out = vec![span.to_vec()];
    let changed = replace_joined(&mut out, &[(0, hdlc_payload(span, frame))], ids);
    let mut out = out.pop().expect("one span");
    changed[0].then(|| {
        fix_hdlc_checks(span, frame, &mut out);
        out
    })
}

/// Computes the HCS and FCS of `out` (the redacted `original`) again, where the frame has them.
fn fix_hdlc_checks(original: &[u8], frame: &hdlc::Frame, out: &mut [u8]) {
    let Some(header) = frame.header else { return };
    let body = usize::from(!frame.shared_start_flag);
    let le16 = |b: &[u8], at: usize| Some(u16::from_le_bytes([*b.get(at)?, *b.get(at + 1)?]));
    // HCS over the header, FCS over everything between the flags but itself.
    let mut checks = vec![header.length - 2];
    if header.has_info() {
        checks.insert(0, header.len);
    }
    for at in checks {
        let (Some(sent), Some(covered)) =
            (le16(original, body + at), original.get(body..body + at))
        else {
            continue;
        };
        let fixed = recheck(
            hdlc::crc16(covered),
            sent,
            hdlc::crc16(&out[body..body + at]),
        );
        out[body + at..body + at + 2].copy_from_slice(&fixed.to_le_bytes());
    }
}

/// One P1 telegram span with its equipment id lines' ids replaced (sent as text or hex-encoded
/// ASCII, as `(id)`), its CRC computed again. `None` when it holds no id.
pub fn redact_p1(span: &[u8], frame: &p1::Frame, ids: &Pseudonyms) -> Option<Vec<u8>> {
    let mut out = span.to_vec();
    let mut changed = false;
    for (real, pseudo) in ids.forms() {
        changed |= replace_framed(&mut out, b"(", &real, b")", &pseudo);
    }
    if !changed {
        return None;
    }
    // The `!` that ends the telegram starts a line; the CRC's four hex digits follow it.
    let bang = (1..span.len())
        .rev()
        .find(|&i| span[i] == b'!' && span[i - 1] == b'\n');
    if let (Some(bang), p1::CrcField::Sent(sent)) = (bang, frame.crc) {
        let fixed = recheck(p1::crc16(&span[..=bang]), sent, p1::crc16(&out[..=bang]));
        out[bang + 1..bang + 5].copy_from_slice(format!("{fixed:04X}").as_bytes());
    }
    Some(out)
}

/// The CI of a secondary-address selection (`SND_UD` to address 253): the id it selects.
const MBUS_SELECT: u8 = 0x52;
/// The CI of a variable data response with its fixed header (the meter's id first).
const MBUS_RESPONSE: u8 = 0x72;

/// The identification number of an M-Bus long frame (bytes 7..11, BCD, least significant byte
/// first) as its 8 digits, when it is all digits (a selection may hold F wildcards).
fn mbus_id_at(span: &[u8]) -> Option<String> {
    let id: String = span
        .get(7..11)?
        .iter()
        .rev()
        .map(|b| format!("{b:02X}"))
        .collect();
    id.bytes().all(|b| b.is_ascii_digit()).then_some(id)
}

/// One M-Bus long frame with its identification number replaced (a variable data response's
/// fixed header, or a secondary-address selection), its checksum computed again. `None` when it
/// holds no id.
pub fn redact_mbus(span: &[u8], ids: &Pseudonyms) -> Option<Vec<u8>> {
    if span.first() != Some(&mbus::LONG_START)
        || !matches!(span.get(6), Some(&(MBUS_RESPONSE | MBUS_SELECT)))
    {
        return None;
    }
    let pseudo = ids.get(&mbus_id_at(span)?)?;
    let mut out = span.to_vec();
    // BCD, least significant byte first: the pseudonym's digits in pairs, from the end.
    let digits = pseudo.as_bytes();
    for (i, pair) in digits.rchunks(2).enumerate() {
        out[7 + i] = ((pair[0] - b'0') << 4) | (pair[1] - b'0');
    }
    let l = usize::from(span[1]);
    if let Some(&sent) = span.get(4 + l) {
        let sum = |b: &[u8]| b.iter().fold(0u8, |acc, x| acc.wrapping_add(*x));
        out[4 + l] = recheck(sum(&span[4..4 + l]), sent, sum(&out[4..4 + l]));
    }
    Some(out)
}

/// One IEC 61107 span with its ids replaced: in a data block the values `(id)` (its BCC
/// computed again, by the rule it matched), in a sign-on request `/?id!`. `None` when it holds
/// no id.
pub fn redact_iec(span: &[u8], frame: &iec61107::Frame, ids: &Pseudonyms) -> Option<Vec<u8>> {
    let mut out = span.to_vec();
    let mut changed = false;
    for (real, pseudo) in ids.iter() {
        let (real, pseudo) = (real.as_bytes(), pseudo.as_bytes());
        changed |= match frame.kind {
            Kind::Request => replace_framed(&mut out, b"/?", real, b"!", pseudo),
            Kind::DataBlock => replace_framed(&mut out, b"(", real, b")", pseudo),
            _ => false,
        };
    }
    if !changed {
        return None;
    }
    // The BCC covers the bytes after STX through ETX (or EOT) and follows them.
    let end = (1..span.len()).find(|&i| span[i] == ETX || span[i] == iec61107::EOT);
    if let Some(end) = end
        && let Some(&sent) = span.get(end + 1)
    {
        let (old, new) = (&span[1..=end], &out[1..=end]);
        let (xor, additive) = (iec61107::bcc_xor(new), iec61107::bcc_additive(new));
        out[end + 1] = if sent == iec61107::bcc_xor(old) {
            xor
        } else if sent == iec61107::bcc_additive(old) {
            additive
        } else {
            // Failed by both rules before: fails by both after.
            let mut wrong = recheck(iec61107::bcc_xor(old), sent, xor);
            while wrong == xor || wrong == additive {
                wrong = wrong.wrapping_add(1) & 0x7F;
            }
            wrong
        };
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::framer::Protocols;
    use crate::protocol::han::{KamstrupList, MissingPhases};

    const GS1: &str = "5706567326590407";

    fn list_frame(id: &str) -> Vec<u8> {
        let list = KamstrupList {
            meter_id: id.into(),
            meter_type: "6841131BN243101040".into(),
            time: crate::protocol::datetime::DateTime::new(2026, 1, 15, 12, 0, 0, 0),
            power: [2000, 0, 0, 0],
            currents: [Some(290), Some(290), Some(290)],
            voltages: [Some(230), Some(231), Some(232)],
            missing_phases: MissingPhases::NullPlaceholders,
            energies: None,
        };
        let mut bytes = Vec::new();
        list.encode_frame(&mut bytes).unwrap();
        bytes
    }

    fn ids(list: &[&str]) -> Pseudonyms {
        let mut p = Pseudonyms::default();
        list.iter().for_each(|id| p.add(id));
        p
    }

    /// The frame inspected as the framer finds it (one span, nothing else).
    fn only_frame(bytes: &[u8]) -> hdlc::Frame {
        let mut framer = Framer::new(Protocols::HDLC);
        framer.push(bytes);
        framer.finish();
        let content = framer.next_span().expect("a span").content;
        assert!(framer.next_span().is_none(), "more than one span");
        match content {
            Content::Hdlc(f) => f,
            other => panic!("not an HDLC frame: {other:?}"),
        }
    }

    #[test]
    fn pseudonyms_are_stable_and_keep_length_and_classes() {
        let p = pseudonym(GS1);
        assert_eq!(p, pseudonym(GS1), "the same id, the same pseudonym");
        assert_eq!(p.len(), GS1.len());
        assert!(p.starts_with("999") && p.bytes().all(|b| b.is_ascii_digit()));
        assert_ne!(p, pseudonym("5706567326590408"));
        let mixed = pseudonym("E0012-ab");
        assert_eq!(mixed.len(), 8);
        let classes = |s: &str| -> Vec<u8> {
            s.bytes()
                .map(|b| match b {
                    b'0'..=b'9' => 0,
                    b'A'..=b'Z' => 1,
                    b'a'..=b'z' => 2,
                    other => other,
                })
                .collect()
        };
        assert_eq!(classes(&mixed), classes("E0012-ab"));
        assert_ne!(pseudonym("----"), "----", "an id is never left as it was");
        let mut p = Pseudonyms::default();
        p.add("00000000");
        p.add("000000000000000000");
        assert!(p.is_empty(), "placeholders are not ids");
    }

    #[test]
    fn a_redacted_frame_keeps_its_length_and_passes_its_checks() {
        let bytes = list_frame(GS1);
        let frame = only_frame(&bytes);
        assert!(frame.intact());
        let out = redact_hdlc(&bytes, &frame, &ids(&[GS1])).expect("the id is in the frame");
        assert_eq!(out.len(), bytes.len());
        assert!(!contains(&out, GS1.as_bytes()));
        assert!(contains(&out, pseudonym(GS1).as_bytes()));
        let again = only_frame(&out);
        assert!(
            again.hcs_ok() && again.fcs_ok() && again.intact(),
            "{again:?}"
        );
        // The FCS did change: the checks were computed again, not left.
        assert_ne!(out[out.len() - 3..], bytes[bytes.len() - 3..]);
        // Only the id's bytes and the FCS differ.
        let differ = out.iter().zip(&bytes).filter(|(a, b)| a != b).count();
        assert!(differ <= GS1.len() + 2, "{differ} bytes changed");
    }

    #[test]
    fn a_frame_that_failed_its_fcs_still_fails_it() {
        let mut bytes = list_frame(GS1);
        let fcs_at = bytes.len() - 3;
        bytes[fcs_at] ^= 0x01;
        let frame = only_frame(&bytes);
        assert!(frame.hcs_ok() && !frame.fcs_ok());
        let out = redact_hdlc(&bytes, &frame, &ids(&[GS1])).unwrap();
        let again = only_frame(&out);
        assert!(again.hcs_ok() && !again.fcs_ok());
    }

    #[test]
    fn frames_without_the_id_are_left_alone() {
        let bytes = list_frame(GS1);
        let frame = only_frame(&bytes);
        assert_eq!(
            redact_hdlc(&bytes, &frame, &ids(&["5706567000000001"])),
            None
        );
    }

    #[test]
    fn learning_and_redacting_a_stream_of_two_meters() {
        let other = "5706567271533207";
        let mut stream = list_frame(GS1);
        stream.extend_from_slice(&[0x29, 0x12]);
        stream.extend(list_frame(other));
        let mut found = Pseudonyms::default();
        let mut decoder = Decoder::default();
        let learned = learn(&stream, Protocols::ALL, &mut decoder, &mut found);
        assert_eq!(learned.frames, 2);
        assert_eq!((learned.ciphered_frames, learned.kmp_frames), (0, 0));
        assert_eq!(
            found.iter().map(|(r, _)| r).collect::<Vec<_>>(),
            [other, GS1]
        );
        let out = redact_stream(&stream, Protocols::ALL, &found);
        assert_eq!(out.bytes.len(), stream.len());
        assert_eq!(out.hdlc_frames, 2);
        assert!(found.found_in(&out.bytes).is_empty());
        assert_eq!(out.bytes[list_frame(GS1).len()..][..2], [0x29, 0x12]);
    }

    #[test]
    fn an_id_split_over_block_transfer_frames_is_replaced_in_both() {
        use crate::protocol::axdr::Bytes;
        use crate::protocol::dlms::{DataNotification, HeaderTime};
        let id = "LGZ1030655933512";
        const DEVICE: &str = "LGZ1030655933599";
        let mut apdu = Vec::new();
        dlms::encode_data_notification(
            &DataNotification {
                invoke_id: 1,
                time: HeaderTime::Absent,
                body: Data::Structure(vec![
                    Data::OctetString(Bytes::from_slice(&[0, 0, 96, 1, 0, 255])),
                    Data::VisibleString(Bytes::from_slice(id.as_bytes())),
                    Data::OctetString(Bytes::from_slice(&[1, 0, 1, 7, 0, 255])),
                    Data::DoubleLongUnsigned(1834),
                    Data::OctetString(Bytes::from_slice(&[0, 0, 42, 0, 0, 255])),
                    Data::VisibleString(Bytes::from_slice(DEVICE.as_bytes())),
                ]),
            },
            &mut apdu,
        );
        // Blocks of 24 bytes: the id (APDU bytes 18..34) is cut by the first block's end.
        let blocks: Vec<&[u8]> = apdu.chunks(24).collect();
        let mut stream = Vec::new();
        for (i, block) in blocks.iter().enumerate() {
            let last = i + 1 == blocks.len();
            let mut info = if i == 0 { LLC.to_vec() } else { Vec::new() };
            let control = if last { 0xC0 } else { 0x40 };
            dlms::encode_block_transfer(control, i as u16 + 1, 0, block, &mut info);
            hdlc::encode(&[0x41], &[0x08, 0x83], 0x13, &info, false, &mut stream).unwrap();
        }
        let mut found = Pseudonyms::default();
        learn(&stream, Protocols::ALL, &mut Decoder::default(), &mut found);
        assert_eq!(found.get(id), Some(pseudonym(id).as_str()));
        // The logical device name keeps its FLAG id (the brand), not its serial number.
        let device = found.get(DEVICE).unwrap();
        assert!(device.starts_with("LGZ") && device.len() == DEVICE.len() && device != DEVICE);
        let out = redact_stream(&stream, Protocols::ALL, &found);
        // The id lies in blocks 1 and 2, the device name (APDU bytes 57..73) in 3 and 4.
        assert_eq!(out.hdlc_frames, 4);
        assert!(found.found_in(&out.bytes).is_empty());
        // Every frame still passes, and the joined message names the pseudonym.
        let mut framer = Framer::new(Protocols::ALL);
        framer.push(&out.bytes);
        framer.finish();
        let mut decoder = Decoder::default();
        let mut ids_seen = Vec::new();
        while let Some(span) = framer.next_span() {
            assert!(span.content.all_ok());
            if let Some(m) = decoder.decode(&span).han_message() {
                ids_seen.push(m.meter_id().unwrap());
            }
        }
        assert_eq!(ids_seen, [pseudonym(id)]);
    }

    #[test]
    fn p1_ids_hex_encoded_or_plain_are_replaced_and_the_crc_fixed() {
        let id = "E0025000123456789";
        let lines = [
            p1::OutLine::new("0-0:96.1.1", hex_upper(id.as_bytes()), None),
            p1::OutLine::new("1-0:1.8.0", "000123.456".into(), Some("kWh")),
        ];
        let bytes = p1::encode("KFM5KAIFA-METER", &lines, true);
        let frame = p1::inspect(&bytes);
        assert!(crate::protocol::check::all_ok(&frame.checks));
        let found = ids(&[id]);
        let out = redact_p1(&bytes, &frame, &found).expect("the id is in the telegram");
        assert_eq!(out.len(), bytes.len());
        assert!(found.found_in(&out).is_empty());
        let again = p1::inspect(&out);
        assert!(crate::protocol::check::all_ok(&again.checks), "{again:?}");
        assert_eq!(
            p1::parse(&out).meter_id().as_deref(),
            Some(pseudonym(id).as_str())
        );
    }

    #[test]
    fn numeric_ids_keep_their_type_and_digit_count() {
        let mut p = Pseudonyms::default();
        p.add_number(&Data::DoubleLongUnsigned(12_343_400));
        p.add_number(&Data::DoubleLongUnsigned(4_294_967_295));
        p.add_number(&Data::DoubleLongUnsigned(12_345)); // too short to be told from a reading
        p.add_number(&Data::Long(-5));
        assert_eq!(p.len(), 2);
        let small = p.get("12343400").unwrap();
        assert_eq!(small.len(), 8);
        assert_ne!(small, "12343400");
        let big: u64 = p.get("4294967295").unwrap().parse().unwrap();
        assert!((1_000_000_000..=u64::from(u32::MAX)).contains(&big) && big != 4_294_967_295);
        assert_eq!(
            number_pseudonym(12_343_400, u64::from(u32::MAX)).to_string(),
            small
        );
        // In a frame: the encoded value is found and replaced.
        let mut frame = vec![0x09, 0x06, 1, 1, 0, 0, 1, 255, 0x06];
        frame.extend_from_slice(&12_343_400u32.to_be_bytes());
        assert_eq!(p.found_in(&frame), ["12343400"]);
    }

    /// Learns and redacts an optical readout; returns the ids found and the redacted spans'
    /// checks (all of them).
    fn redact_readout(bytes: &[u8]) -> (Pseudonyms, Vec<u8>, Vec<crate::protocol::Check>) {
        let mut found = Pseudonyms::default();
        learn(
            bytes,
            Protocols::OPTICAL,
            &mut Decoder::default(),
            &mut found,
        );
        let out = redact_stream(bytes, Protocols::OPTICAL, &found);
        assert_eq!(out.bytes.len(), bytes.len());
        let mut framer = Framer::new(Protocols::OPTICAL);
        framer.push(&out.bytes);
        framer.finish();
        let mut checks = Vec::new();
        while let Some(span) = framer.next_span() {
            checks.extend(span.content.checks().iter().cloned());
        }
        (found, out.bytes, checks)
    }

    #[test]
    fn iec_customer_numbers_are_replaced_and_the_bcc_fixed_by_its_rule() {
        let seed_351 =
            include_bytes!("../../tests/fixtures/iec61107/kamstrup-351-seed-example.bin");
        // The 351 example's customer number is a placeholder (00000000): make it a number.
        let mut readout_351 =
            String::from_utf8_lossy(seed_351).replace("0.0.0(00000000)", "0.0.0(40851234)");
        let bcc_at = readout_351.len() - 1;
        let covered = &readout_351.as_bytes()[readout_351.find('\u{2}').unwrap() + 1..bcc_at];
        let bcc = char::from(iec61107::bcc_xor(covered));
        readout_351.replace_range(bcc_at.., &bcc.to_string());
        for (readout, id) in [
            (readout_351.as_bytes(), "40851234"),
            (
                &include_bytes!("../../tests/fixtures/iec61107/kamstrup-685-382-additive-bcc.bin")
                    [..],
                "12345678",
            ),
        ] {
            let (found, out, checks) = redact_readout(readout);
            assert_eq!(found.iter().map(|(r, _)| r).collect::<Vec<_>>(), [id]);
            assert!(found.found_in(&out).is_empty());
            assert!(contains(&out, format!("({})", pseudonym(id)).as_bytes()));
            assert!(checks.iter().any(|c| c.name == "BCC"));
            assert!(checks.iter().all(|c| c.ok), "{checks:?}");
        }
    }

    #[test]
    fn a_failed_bcc_still_fails_after_redaction() {
        let mut readout =
            include_bytes!("../../tests/fixtures/iec61107/kamstrup-685-382-additive-bcc.bin")
                .to_vec();
        *readout.last_mut().unwrap() ^= 0x05;
        let (_, _, checks) = redact_readout(&readout);
        let bcc = checks.iter().find(|c| c.name == "BCC").unwrap();
        assert!(!bcc.ok);
    }

    #[test]
    fn an_mbus_id_is_replaced_in_the_response_and_the_selection() {
        let id = "14839120";
        let mut stream = mbus::encode_long(
            0x53,
            0xFD,
            MBUS_SELECT,
            &[0x20, 0x91, 0x83, 0x14, 0x2D, 0x2C, 0x01, 0x02],
        );
        stream.push(0xE5);
        stream.extend(mbus::encode_long(
            0x08,
            0x00,
            MBUS_RESPONSE,
            &[
                0x20, 0x91, 0x83, 0x14, 0x2D, 0x2C, 0x01, 0x02, 0x04, 0x00, 0x00, 0x00, 0x04, 0x06,
                0x00, 0x00, 0x00, 0x00,
            ],
        ));
        let (found, out, checks) = redact_readout(&stream);
        assert_eq!(found.iter().map(|(r, _)| r).collect::<Vec<_>>(), [id]);
        assert!(checks.iter().all(|c| c.ok), "{checks:?}");
        // The selection is 17 bytes, then the acknowledgement E5, then the response.
        let seen: Vec<String> = [0, 18]
            .iter()
            .map(|&at| mbus_id_at(&out[at..]).unwrap())
            .collect();
        assert_eq!(seen, [pseudonym(id), pseudonym(id)]);
        assert_eq!(
            redact_stream(&stream, Protocols::OPTICAL, &found).mbus_frames,
            2
        );
    }

    #[test]
    fn a_sign_on_address_is_replaced() {
        let (found, out, _) = redact_readout(b"/?12345678!\r\n");
        assert_eq!(found.get("12345678").map(str::len), Some(8));
        assert_eq!(
            out,
            format!("/?{}!\r\n", pseudonym("12345678")).into_bytes()
        );
    }

    #[test]
    fn text_is_redacted_as_written_and_hex_encoded() {
        let p = ids(&[GS1]);
        let text = format!("meter {GS1} frame 09 10 {}", hex_upper(GS1.as_bytes()));
        let out = p.redact_text(&text);
        assert!(p.found_in(out.as_bytes()).is_empty(), "{out}");
        assert!(out.contains(&pseudonym(GS1)));
    }
}
