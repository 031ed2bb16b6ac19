//! M-Bus (EN 13757-2/-3) link-layer framing and the RSP_UD fixed data header.
//!
//! Short frame `10 C A CS 16`; long frame `68 L L 68 C A CI data CS 16` with CS the sum of the
//! bytes from C through the last data byte, mod 256.

pub mod records;
pub mod session;
pub mod slave;

pub use records::{Function, Record, RecordKind, Records, Value, parse_records};

use super::check::{Check, CheckValue};
use super::framer::Probe;

pub const SHORT_START: u8 = 0x10;
pub const LONG_START: u8 = 0x68;
pub const STOP: u8 = 0x16;
/// The single-character acknowledgement a meter answers SND_NKE or a select with.
pub const ACK: u8 = 0xE5;

pub fn is_start(b: u8) -> bool {
    b == SHORT_START || b == LONG_START
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The single character E5.
    Ack,
    Short,
    Long,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub kind: Kind,
    pub checks: Vec<Check>,
}

impl Frame {
    /// The byte map of the frame (`bytes`: the whole span).
    pub fn regions(&self, bytes: &[u8], r: &mut super::region::Regions) {
        use super::region::RegionKind;
        match self.kind {
            Kind::Ack => r.add(0..1, RegionKind::Flag, "ACK E5"),
            Kind::Short => {
                r.add(0..1, RegionKind::Flag, "start 10");
                r.add(1..3, RegionKind::Header, "C, A");
                r.add(3..4, RegionKind::Check, "CS");
                r.add(4..5, RegionKind::Flag, "stop 16");
            }
            Kind::Long => {
                let n = bytes.len();
                r.add(0..4, RegionKind::Flag, "start 68 L L 68");
                r.add(4..7, RegionKind::Header, "C, A, CI");
                let user_end = (4 + usize::from(bytes.get(1).copied().unwrap_or(0))).min(n);
                let mut at = 7.min(user_end);
                if bytes.get(6) == Some(&0x72) && user_end >= 19 {
                    r.add(
                        7..19,
                        RegionKind::Header,
                        "fixed header: id, manufacturer, version, medium, access, status, signature",
                    );
                    at = 19;
                }
                let ci = bytes.get(6).copied();
                if (ci == Some(0x72) && at == 19) || ci == Some(0x78) {
                    let recs = parse_records(bytes.get(at..user_end).unwrap_or(&[]), at);
                    let mut prev = at;
                    for rec in &recs.records {
                        r.add(prev..rec.range.start, RegionKind::Flag, "idle filler 2F");
                        r.add(rec.range.clone(), RegionKind::Value, rec.name());
                        prev = rec.range.end;
                    }
                    match &recs.error {
                        Some((e, why)) => {
                            r.add(prev..*e, RegionKind::Flag, "idle filler 2F");
                            r.error_at(*e, why);
                        }
                        None => r.add(prev..user_end, RegionKind::Flag, "idle filler 2F"),
                    }
                } else {
                    r.add(at..user_end, RegionKind::Value, "data records");
                }
                r.add(user_end..user_end + 1, RegionKind::Check, "CS");
                r.add(user_end + 1..n, RegionKind::Flag, "stop 16");
            }
        }
    }
}

fn checksum(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0u8, |acc, b| acc.wrapping_add(*b))
}

pub(crate) fn probe(buf: &[u8], pos: usize, eof: bool) -> Probe {
    let need_more = if eof { Probe::No } else { Probe::NeedMore };
    match buf[pos] {
        SHORT_START => {
            // Five bytes with no redundancy but the checksum: recognised only when it matches.
            let Some(f) = buf.get(pos..pos + 5) else {
                return need_more;
            };
            if f[4] != STOP || checksum(&f[1..3]) != f[3] {
                return Probe::No;
            }
            Probe::Frame {
                end: pos + 5,
                frame: Frame {
                    kind: Kind::Short,
                    checks: vec![
                        Check::compare("CS", CheckValue::Hex8(f[3]), CheckValue::Hex8(f[3])),
                        Check::compare("stop", CheckValue::Hex8(STOP), CheckValue::Hex8(STOP)),
                    ],
                }
                .into(),
            }
        }
        LONG_START => {
            let Some(head) = buf.get(pos..pos + 4) else {
                return need_more;
            };
            let l = usize::from(head[1]);
            if head[2] != head[1] || head[3] != LONG_START || l < 3 {
                return Probe::No;
            }
            let end = pos + l + 6;
            if end > buf.len() && !eof {
                return Probe::NeedMore;
            }
            let span = &buf[pos..end.min(buf.len())];
            Probe::Frame {
                end: end.min(buf.len()),
                frame: inspect_long(span).into(),
            }
        }
        _ => Probe::No,
    }
}

/// A lone E5 (`pos` is where the last span ended): the acknowledgement, when it stands alone,
/// the input ending after it or an M-Bus frame following. One byte carries no check, so an E5
/// inside noise or before anything else is left to the junk it is part of.
pub(crate) fn probe_ack(buf: &[u8], pos: usize, eof: bool) -> Probe {
    let alone = match buf.get(pos + 1) {
        None if eof => true,
        None => return Probe::NeedMore,
        Some(&next) => is_start(next),
    };
    if !alone {
        return Probe::No;
    }
    Probe::Frame {
        end: pos + 1,
        frame: Frame {
            kind: Kind::Ack,
            checks: vec![Check::compare(
                "ACK",
                CheckValue::Hex8(ACK),
                CheckValue::Hex8(buf[pos]),
            )],
        }
        .into(),
    }
}

/// Checks of a long frame span (possibly cut short).
pub fn inspect_long(span: &[u8]) -> Frame {
    let l = usize::from(span.get(1).copied().unwrap_or(0));
    let expected = l + 6;
    let mut checks = vec![Check::compare(
        "length",
        CheckValue::Count(expected as u32),
        CheckValue::Count(span.len() as u32),
    )];
    let cs = span
        .get(4..4 + l)
        .map_or(CheckValue::Missing, |b| CheckValue::Hex8(checksum(b)));
    let received = span
        .get(4 + l)
        .map_or(CheckValue::Missing, |&b| CheckValue::Hex8(b));
    checks.push(Check::compare("CS", cs, received));
    checks.push(Check::compare(
        "stop",
        CheckValue::Hex8(STOP),
        span.get(5 + l)
            .map_or(CheckValue::Missing, |&b| CheckValue::Hex8(b)),
    ));
    Frame {
        kind: Kind::Long,
        checks,
    }
}

/// The 12-byte fixed data header of a variable data response (CI 0x72).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixedHeader {
    /// Identification number (8 BCD digits).
    pub id: String,
    pub manufacturer: String,
    pub version: u8,
    pub medium: u8,
    pub access_no: u8,
    pub status: u8,
    pub signature: u16,
}

/// The fields of a frame above the checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Telegram {
    pub control: u8,
    pub address: u8,
    pub ci: Option<u8>,
    pub header: Option<FixedHeader>,
    /// The data records after the header, as span indices (read them with [`Telegram::records`]).
    pub records: std::ops::Range<usize>,
    /// Received right after we sent the same bytes: a level converter's echo of our frame.
    pub echo: bool,
}

impl Telegram {
    /// The data records of a variable data response (CI 72 with the fixed header, CI 78
    /// without); `None` for other CIs. `span` is the frame span the telegram was parsed from.
    pub fn data_records(&self, span: &[u8]) -> Option<Records> {
        // CI 72 without its whole fixed header: no records to read.
        let readable = match self.ci {
            Some(0x72) => self.header.is_some(),
            Some(0x78) => true,
            _ => false,
        };
        readable.then(|| {
            parse_records(
                span.get(self.records.clone()).unwrap_or(&[]),
                self.records.start,
            )
        })
    }
}

/// Reads C, A, CI and the fixed header from a frame span.
pub fn parse(span: &[u8]) -> Option<Telegram> {
    match *span.first()? {
        SHORT_START => Some(Telegram {
            control: *span.get(1)?,
            address: *span.get(2)?,
            ci: None,
            header: None,
            records: 0..0,
            echo: false,
        }),
        LONG_START => {
            let l = usize::from(*span.get(1)?);
            let user_end = (4 + l).min(span.len());
            let ci = *span.get(6)?;
            let mut records_start = 7;
            let header = if ci == 0x72 && user_end >= 19 {
                let h = &span[7..19];
                records_start = 19;
                Some(FixedHeader {
                    id: h[..4].iter().rev().map(|b| format!("{b:02X}")).collect(),
                    manufacturer: manufacturer(u16::from_le_bytes([h[4], h[5]])),
                    version: h[6],
                    medium: h[7],
                    access_no: h[8],
                    status: h[9],
                    signature: u16::from_le_bytes([h[10], h[11]]),
                })
            } else {
                None
            };
            Some(Telegram {
                control: *span.get(4)?,
                address: *span.get(5)?,
                ci: Some(ci),
                header,
                records: records_start.min(user_end)..user_end,
                echo: false,
            })
        }
        _ => None,
    }
}

/// Three-letter manufacturer code packed 5 bits per letter.
pub fn manufacturer(m: u16) -> String {
    [(m >> 10) & 0x1F, (m >> 5) & 0x1F, m & 0x1F]
        .iter()
        .map(|&c| char::from(b'@' + c as u8))
        .collect()
}

pub fn control_name(c: u8) -> &'static str {
    match c {
        0x40 => "SND_NKE",
        0x5B | 0x7B => "REQ_UD2",
        0x5A | 0x7A => "REQ_UD1",
        0x53 | 0x73 => "SND_UD",
        0x08 | 0x18 | 0x28 | 0x38 => "RSP_UD",
        _ => "other",
    }
}

pub fn medium_name(m: u8) -> &'static str {
    match m {
        0x00 => "other",
        0x01 => "oil",
        0x02 => "electricity",
        0x03 => "gas",
        0x04 => "heat (outlet)",
        0x05 => "steam",
        0x06 => "warm water",
        0x07 => "water",
        0x08 => "heat cost allocator",
        0x0A | 0x0B => "cooling",
        0x0C => "heat (inlet)",
        0x0D => "heat / cooling",
        0x0E => "bus / system",
        0x15 => "hot water",
        0x16 => "cold water",
        _ => "unknown",
    }
}

/// Builds a long frame around C, A, CI and data.
pub fn encode_long(control: u8, address: u8, ci: u8, data: &[u8]) -> Vec<u8> {
    let l = (3 + data.len()) as u8;
    let mut out = vec![LONG_START, l, l, LONG_START, control, address, ci];
    out.extend_from_slice(data);
    let cs = checksum(&out[4..]);
    out.extend_from_slice(&[cs, STOP]);
    out
}

/// Builds a short frame.
pub fn encode_short(control: u8, address: u8) -> [u8; 5] {
    [
        SHORT_START,
        control,
        address,
        control.wrapping_add(address),
        STOP,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manufacturer_kam() {
        assert_eq!(manufacturer(0x2C2D), "KAM");
    }

    #[test]
    fn long_frame_round_trip() {
        let real = super::super::hex_bytes(include_str!(
            "../../../tests/fixtures/mbus/kamstrup-382-rsp-ud.hex"
        ));
        let rebuilt = encode_long(real[4], real[5], real[6], &real[7..real.len() - 2]);
        assert_eq!(rebuilt, real);
        assert!(inspect_long(&rebuilt).checks.iter().all(|c| c.ok));
    }

    #[test]
    fn byte_map_names_each_record() {
        let real = super::super::hex_bytes(include_str!(
            "../../../tests/fixtures/mbus/kamstrup-382-rsp-ud.hex"
        ));
        let mut r = super::super::region::Regions::new(real.len());
        inspect_long(&real).regions(&real, &mut r);
        let labels: Vec<(std::ops::Range<usize>, String)> =
            r.finish().into_iter().map(|x| (x.range, x.label)).collect();
        assert!(labels.contains(&(19..25, "Energy".to_string())));
        assert!(labels.contains(&(43..50, "Energy (tariff 1, subunit 1)".to_string())));
        assert!(labels.contains(&(57..74, "Manufacturer data".to_string())));
        assert!(!labels.iter().any(|(_, l)| l == "not decoded"));
    }

    #[test]
    fn short_frame() {
        let f = encode_short(0x5B, 0x01);
        assert!(matches!(probe(&f, 0, true), Probe::Frame { end: 5, .. }));
    }
}
