//! Kamstrup Meter Protocol framing, both variants.
//!
//! ASCII-hex (685-382, 1200 baud 8E2): a raw start byte `@` (request) or `H` (response), then
//! every logical byte as two ASCII hex characters, the last logical byte an LRC
//! (-(sum of the logical bytes) mod 256), and CR.
//!
//! Binary (heat meters, 382J): start byte 0x80 (request) or 0x40 (response), bytes in
//! {06, 0D, 1B, 40, 80} stuffed as `1B, b ^ 0xFF`, CRC-16/XMODEM most significant byte first, CR.

use super::check::{Check, CheckValue};
use super::framer::Probe;

pub const CR: u8 = 0x0D;
const STUFF: u8 = 0x1B;
const MAX_FRAME: usize = 512;
/// Binary frames are short (a few registers); a longer run is not one.
const MAX_BINARY_FRAME: usize = 128;
/// Bytes that are always stuffed in binary frames, so never appear bare inside one.
const SPECIAL: [u8; 5] = [0x06, 0x0D, 0x1B, 0x40, 0x80];
const XMODEM: crc::Crc<u16> = crc::Crc::<u16>::new(&crc::CRC_16_XMODEM);

pub fn is_start(b: u8) -> bool {
    matches!(b, b'@' | b'H' | 0x80)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    AsciiHex,
    Binary,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Request,
    Response,
}

impl Direction {
    pub fn name(self) -> &'static str {
        match self {
            Direction::Request => "request",
            Direction::Response => "response",
        }
    }
}

/// One KMP frame with its logical bytes (after the start byte, without LRC/CRC and CR).
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub variant: Variant,
    pub direction: Direction,
    pub logical: Vec<u8>,
    pub checks: Vec<Check>,
}

impl Frame {
    /// Destination / source address byte.
    pub fn address(&self) -> Option<u8> {
        self.logical.first().copied()
    }

    /// Command id.
    pub fn command(&self) -> Option<u8> {
        self.logical.get(1).copied()
    }

    /// Data after address and command.
    pub fn data(&self) -> &[u8] {
        self.logical.get(2..).unwrap_or(&[])
    }

    /// The byte map of the frame as it lies on the wire (`bytes`: the whole span).
    pub fn regions(&self, bytes: &[u8], r: &mut super::region::Regions) {
        use super::region::RegionKind;
        r.add(
            0..1,
            RegionKind::Flag,
            format!("start ({})", self.direction.name()),
        );
        let body_end = bytes.len().saturating_sub(1);
        match self.variant {
            Variant::AsciiHex => {
                let lrc_at = body_end.saturating_sub(2).max(1);
                r.add(1..3.min(lrc_at), RegionKind::Header, "address");
                r.add(3.min(lrc_at)..5.min(lrc_at), RegionKind::Header, "command");
                r.add(5.min(lrc_at)..lrc_at, RegionKind::Value, "data (hex pairs)");
                r.add(lrc_at..body_end, RegionKind::Check, "LRC");
            }
            Variant::Binary => r.add(
                1..body_end,
                RegionKind::Value,
                "address, command, data, CRC (stuffed)",
            ),
        }
        r.add(body_end..bytes.len(), RegionKind::Flag, "CR");
    }
}

/// LRC of the ASCII-hex variant: the byte that makes the sum of all logical bytes zero.
pub fn lrc(logical: &[u8]) -> u8 {
    logical
        .iter()
        .fold(0u8, |acc, b| acc.wrapping_add(*b))
        .wrapping_neg()
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'A'..=b'F' => Some(c - b'A' + 10),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

/// The frame that `wire` holds from its first to its last byte (start byte to CR), if it is one.
/// An ASCII-hex frame is returned with its checks whether they pass or not; a binary frame only
/// when its CRC matches (nothing else tells a binary frame from noise).
pub fn parse(wire: &[u8]) -> Option<Frame> {
    if wire.is_empty() {
        return None;
    }
    match probe(wire, 0, true) {
        Probe::Frame {
            end,
            frame: super::framer::Content::Kmp(f),
        } if end == wire.len() => Some(f),
        _ => None,
    }
}

pub(crate) fn probe(buf: &[u8], pos: usize, eof: bool) -> Probe {
    match probe_ascii(buf, pos, eof) {
        Probe::No if buf[pos] == 0x80 || buf[pos] == 0x40 => probe_binary(buf, pos, eof),
        other => other,
    }
}

fn probe_ascii(buf: &[u8], pos: usize, eof: bool) -> Probe {
    let direction = match buf[pos] {
        b'@' => Direction::Request,
        b'H' => Direction::Response,
        _ => return Probe::No,
    };
    let limit = buf.len().min(pos + MAX_FRAME);
    for i in pos + 1..limit {
        let c = buf[i];
        if c == CR {
            let chars = &buf[pos + 1..i];
            // Address, command and LRC at least.
            if chars.len() < 6 {
                return Probe::No;
            }
            return Probe::Frame {
                end: i + 1,
                frame: ascii_frame(direction, chars).into(),
            };
        }
        if hex_value(c).is_none() {
            return Probe::No;
        }
    }
    if eof || limit == pos + MAX_FRAME {
        Probe::No
    } else {
        Probe::NeedMore
    }
}

fn ascii_frame(direction: Direction, chars: &[u8]) -> Frame {
    let mut checks = Vec::with_capacity(2);
    checks.push(Check::compare(
        "hex pairs",
        CheckValue::Text("even"),
        CheckValue::Text(if chars.len().is_multiple_of(2) {
            "even"
        } else {
            "odd"
        }),
    ));
    let mut bytes: Vec<u8> = chars
        .chunks_exact(2)
        .map(|p| (hex_value(p[0]).unwrap_or(0) << 4) | hex_value(p[1]).unwrap_or(0))
        .collect();
    let received = bytes.pop().unwrap_or(0);
    checks.push(Check::compare(
        "LRC",
        CheckValue::Hex8(lrc(&bytes)),
        CheckValue::Hex8(received),
    ));
    Frame {
        variant: Variant::AsciiHex,
        direction,
        logical: bytes,
        checks,
    }
}

/// Binary frames carry no distinctive text, so only a frame whose CRC matches is recognised.
fn probe_binary(buf: &[u8], pos: usize, eof: bool) -> Probe {
    let direction = if buf[pos] == 0x80 {
        Direction::Request
    } else {
        Direction::Response
    };
    let limit = buf.len().min(pos + MAX_BINARY_FRAME);
    let Some(cr) = buf[pos + 1..limit].iter().position(|&b| b == CR) else {
        let bare_special = buf[pos + 1..limit]
            .iter()
            .any(|b| matches!(b, 0x06 | 0x40 | 0x80));
        return if eof || bare_special || limit == pos + MAX_BINARY_FRAME {
            Probe::No
        } else {
            Probe::NeedMore
        };
    };
    let stuffed = &buf[pos + 1..pos + 1 + cr];
    let Some(mut bytes) = unstuff(stuffed) else {
        return Probe::No;
    };
    if bytes.len() < 4 {
        return Probe::No;
    }
    let crc = u16::from_be_bytes([bytes[bytes.len() - 2], bytes[bytes.len() - 1]]);
    bytes.truncate(bytes.len() - 2);
    let computed = XMODEM.checksum(&bytes);
    if computed != crc {
        return Probe::No;
    }
    Probe::Frame {
        end: pos + 2 + cr,
        frame: Frame {
            variant: Variant::Binary,
            direction,
            logical: bytes,
            checks: vec![Check::compare(
                "CRC",
                CheckValue::Hex16(computed),
                CheckValue::Hex16(crc),
            )],
        }
        .into(),
    }
}

fn unstuff(stuffed: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(stuffed.len());
    let mut it = stuffed.iter();
    while let Some(&b) = it.next() {
        if b == STUFF {
            let escaped = it.next()? ^ 0xFF;
            if !SPECIAL.contains(&escaped) {
                return None;
            }
            out.push(escaped);
        } else if SPECIAL.contains(&b) {
            return None;
        } else {
            out.push(b);
        }
    }
    Some(out)
}

/// Encodes an ASCII-hex frame: start byte, hex pairs, LRC, CR.
pub fn encode_ascii(direction: Direction, logical: &[u8]) -> Vec<u8> {
    let mut out = vec![match direction {
        Direction::Request => b'@',
        Direction::Response => b'H',
    }];
    for b in logical.iter().copied().chain([lrc(logical)]) {
        out.extend_from_slice(format!("{b:02X}").as_bytes());
    }
    out.push(CR);
    out
}

/// Encodes a binary frame: start byte, stuffed bytes and CRC, CR.
pub fn encode_binary(direction: Direction, logical: &[u8]) -> Vec<u8> {
    let mut out = vec![match direction {
        Direction::Request => 0x80,
        Direction::Response => 0x40,
    }];
    let crc = XMODEM.checksum(logical).to_be_bytes();
    for &b in logical.iter().chain(crc.iter()) {
        if SPECIAL.contains(&b) {
            out.extend_from_slice(&[STUFF, b ^ 0xFF]);
        } else {
            out.push(b);
        }
    }
    out.push(CR);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixture_lrc() {
        assert_eq!(lrc(&[0xFE, 0x00]), 0x02);
        assert_eq!(lrc(&[0xFE, 0x00, 0x02, 0x01, 0x07, 0x01]), 0xF7);
        assert_eq!(
            encode_ascii(Direction::Request, &[0xFE, 0x90]),
            b"@FE9072\r"
        );
    }

    #[test]
    fn binary_round_trip_with_stuffing() {
        let logical = [0x3F, 0x10, 0x01, 0x00, 0x0D, 0x40];
        let wire = encode_binary(Direction::Request, &logical);
        let Probe::Frame { end, frame } = probe(&wire, 0, true) else {
            panic!("not recognised");
        };
        assert_eq!(end, wire.len());
        let super::super::framer::Content::Kmp(f) = frame else {
            panic!()
        };
        assert_eq!(f.logical, logical);
        assert!(f.checks[0].ok);
    }
}
