//! The byte map of a span for the inspector's hex dump: every byte belongs to a region (flag,
//! header, check, OBIS code, value, ...) with a label. The regions come from the parsers
//! themselves: each protocol module reports the ranges it parsed (`hdlc::Frame::regions`,
//! `dlms::apdu_regions`, the A-XDR decoder's [`ElementSink`], `iec61107::regions`, ...); this
//! module only collects them, names A-XDR values, and marks what nothing claimed.

use super::axdr::{Data, ElementSink};
use super::decoder::{Decoded, SegmentState};
use super::framer::Content;
use super::obis::Obis;
use std::ops::Range;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegionKind {
    Flag,
    Header,
    Check,
    Llc,
    ApduHeader,
    DateTime,
    Structure,
    Obis,
    Value,
    Text,
    Cipher,
    Junk,
    /// The byte where decoding failed.
    Error,
    Unparsed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    pub range: Range<usize>,
    pub kind: RegionKind,
    pub label: String,
}

/// Regions being collected for a span of `len` bytes. Ranges past the span are cut at its end, so
/// a short or damaged frame never claims bytes it does not have.
#[derive(Debug)]
pub struct Regions {
    len: usize,
    out: Vec<Region>,
}

impl Regions {
    pub fn new(len: usize) -> Self {
        Regions {
            len,
            out: Vec::new(),
        }
    }

    /// The span's length.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn add(&mut self, range: Range<usize>, kind: RegionKind, label: impl Into<String>) {
        let range = range.start.min(self.len)..range.end.min(self.len);
        if range.start < range.end {
            self.out.push(Region {
                range,
                kind,
                label: label.into(),
            });
        }
    }

    /// Marks the byte where decoding failed, unless it is marked already.
    pub fn error_at(&mut self, at: usize, what: &str) {
        if !self
            .out
            .iter()
            .any(|r| r.kind == RegionKind::Error && r.range.start == at)
        {
            self.add(
                at..at + 1,
                RegionKind::Error,
                format!("failed here: {what}"),
            );
        }
    }

    /// The regions in byte order, every byte covered once: bytes nothing claimed are marked as
    /// not decoded.
    pub fn finish(mut self) -> Vec<Region> {
        self.out.sort_by_key(|r| r.range.start);
        let mut out = Vec::with_capacity(self.out.len() + 2);
        let mut at = 0;
        for mut reg in self.out {
            if reg.range.end <= at {
                continue;
            }
            if reg.range.start > at {
                out.push(Region {
                    range: at..reg.range.start,
                    kind: RegionKind::Unparsed,
                    label: "not decoded".into(),
                });
            }
            reg.range.start = reg.range.start.max(at);
            at = reg.range.end;
            out.push(reg);
        }
        if at < self.len {
            out.push(Region {
                range: at..self.len,
                kind: RegionKind::Unparsed,
                label: "not decoded".into(),
            });
        }
        out
    }
}

/// The A-XDR decoder reports each element here: containers by their size, values by type and
/// value, six-byte octet strings as OBIS codes.
impl ElementSink for Regions {
    fn container(&mut self, range: Range<usize>, array: bool, count: usize) {
        let name = if array { "array" } else { "structure" };
        self.add(range, RegionKind::Structure, format!("{name} of {count}"));
    }

    fn value(&mut self, range: Range<usize>, data: &Data) {
        match data {
            Data::OctetString(b) if b.len() == 6 => {
                let o = Obis::from_slice(b).expect("6 bytes");
                self.add(range, RegionKind::Obis, format!("OBIS {o} {}", o.name()));
            }
            other => self.add(range, RegionKind::Value, value_label(other)),
        }
    }
}

fn value_label(d: &Data) -> String {
    match d {
        Data::Null => "null-data (placeholder)".into(),
        Data::DateTime(dt) => format!(
            "date-time {}",
            dt.iso8601().unwrap_or_else(|| "unspecified".into())
        ),
        other => match (other.as_text(), other.as_i128(), other.as_f64()) {
            (Some(t), _, _) => format!("{} \"{t}\"", other.type_name()),
            (_, Some(i), _) => format!("{} {i}", other.type_name()),
            (_, _, Some(f)) => format!("{} {f}", other.type_name()),
            _ => other.type_name().to_string(),
        },
    }
}

/// The byte map of a span, as its parsers see it. `decoded` says where a frame stands in a
/// segmented message (continuation segments are not an APDU of their own) and where its decoding
/// failed.
pub fn of_span(bytes: &[u8], content: &Content, decoded: &Decoded) -> Vec<Region> {
    let mut r = Regions::new(bytes.len());
    match content {
        Content::Junk => r.add(0..bytes.len(), RegionKind::Junk, "junk"),
        Content::Hdlc(f) => {
            f.regions(&mut r);
            let segment = match decoded {
                Decoded::Hdlc(h) => h.segment,
                _ => SegmentState::Whole,
            };
            if f.header.is_some() && !f.info.is_empty() {
                let cut_off = f.cut_off(bytes.len());
                info_regions(bytes, f.info.clone(), segment, cut_off, &mut r);
            }
        }
        Content::Iec61107(f) => super::iec61107::regions(bytes, f, &mut r),
        Content::Kmp(f) => f.regions(bytes, &mut r),
        Content::Mbus(f) => f.regions(bytes, &mut r),
        Content::P1(_) => super::p1::regions(bytes, &mut r),
    }
    if let Some(e) = decoded.error()
        && let Some(at) = e.at
    {
        r.error_at(at, &e.message);
    }
    r.finish()
}

/// The information field of an HDLC frame: the LLC header, then the APDU (its header and body,
/// walked by the DLMS and A-XDR parsers).
fn info_regions(
    bytes: &[u8],
    info: Range<usize>,
    segment: SegmentState,
    cut_off: bool,
    r: &mut Regions,
) {
    let data = &bytes[info.clone()];
    let base = info.start;
    match segment {
        SegmentState::Whole | SegmentState::Partial(1) => {}
        SegmentState::Partial(n) | SegmentState::Last(n) => {
            r.add(
                info,
                RegionKind::Value,
                format!("segment {n}: continues the message (decoded when joined)"),
            );
            return;
        }
    }
    let mut at = 0;
    if data.first() == Some(&0xE6) && data.len() >= 3 {
        r.add(base..base + 3, RegionKind::Llc, "LLC");
        at = 3;
    }
    let walk = super::dlms::apdu_regions(&data[at..], base + at, r);
    match walk {
        Err(e) if segment == SegmentState::Whole && cut_off => {
            r.error_at(e.offset, &format!("{} (frame cut off)", e.what));
        }
        Err(e) if segment == SegmentState::Whole => r.error_at(e.offset, &e.what),
        // The first segment's body goes on in the next frame: running out is expected.
        Err(_) => {}
        Ok(()) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Decoder, Framer};

    fn regions_of(bytes: &[u8]) -> Vec<Region> {
        let mut fr = Framer::default();
        fr.push(bytes);
        fr.finish();
        let span = fr.next_span().unwrap();
        let decoded = Decoder::default().decode(&span);
        of_span(span.bytes, &span.content, &decoded)
    }

    fn covers_every_byte_once(regs: &[Region], len: usize) {
        assert_eq!(regs.first().unwrap().range.start, 0);
        assert_eq!(regs.last().unwrap().range.end, len);
        assert!(regs.windows(2).all(|w| w[0].range.end == w[1].range.start));
    }

    #[test]
    fn kamstrup_frame_regions_cover_every_byte() {
        let bytes = crate::protocol::han::sample_stream(1);
        let regs = regions_of(&bytes);
        covers_every_byte_once(&regs, bytes.len());
        assert!(
            !regs
                .iter()
                .any(|r| matches!(r.kind, RegionKind::Unparsed | RegionKind::Error)),
            "{regs:#?}"
        );
        assert!(
            regs.iter()
                .any(|r| r.label.starts_with("OBIS 1.1.1.7.0.255"))
        );
        assert!(regs.iter().any(|r| r.label == "FCS"));
    }

    #[test]
    fn iec_data_sets_and_line_ends_come_from_the_block_parser() {
        let bytes = b"\x021.8.0(0012658*kWh)\r\n0.9.1(120000)(x\r\n!\r\n\x03\x00";
        let regs = regions_of(bytes);
        covers_every_byte_once(&regs, bytes.len());
        let labels: Vec<&str> = regs.iter().map(|r| r.label.as_str()).collect();
        assert!(labels.contains(&"1.8.0(0012658*kWh)"), "{labels:?}");
        assert!(labels.contains(&"CR LF"));
        assert!(labels.contains(&"ETX") && labels.contains(&"BCC"));
        // The value that never closes is where the parser broke.
        assert!(
            regs.iter()
                .any(|r| r.kind == RegionKind::Error && r.label.contains("not closed")),
            "{regs:#?}"
        );
    }

    #[test]
    fn a_structure_claiming_four_billion_elements_ends_the_walk_at_once() {
        let bytes =
            crate::protocol::hex_bytes("7EA0192B21131D2DE6E7000F00000001000284FFFFFFFF1CF47F7E");
        let regs = regions_of(&bytes);
        covers_every_byte_once(&regs, bytes.len());
        let error = regs
            .iter()
            .find(|r| r.kind == RegionKind::Error)
            .expect("the failing byte is marked");
        assert_eq!(error.range, 17..18, "{regs:#?}");
        assert!(error.label.contains("cannot fit"), "{}", error.label);
    }

    /// Short ciphered frames (any content length, security control, cut at any point): no
    /// region claims a byte past the span, and a whole frame keeps its FCS and closing flag
    /// however wrong the ciphering header inside is.
    #[test]
    fn short_ciphered_frames_never_claim_bytes_past_the_frame() {
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..20_000 {
            let mut info = vec![
                0xE6, 0xE7, 0x00, 0xDB, 0x08, 0x4B, 0x41, 0x4D, 1, 2, 3, 4, 5,
            ];
            let extra = (next() % 40) as usize;
            info.extend((0..extra).map(|_| next() as u8));
            if info.len() > 13 {
                info[13] = (next() % 50) as u8;
            }
            if info.len() > 14 {
                info[14] = [0x30, 0x10, 0x20, 0x00][(next() % 4) as usize];
            }
            let mut frame = Vec::new();
            super::super::hdlc::encode(&[0x2B], &[0x21], 0x13, &info, false, &mut frame).unwrap();
            let cut = (next() % 4) as usize;
            frame.truncate(frame.len() - cut);
            let mut fr = Framer::default();
            fr.push(&frame);
            fr.finish();
            let mut decoder = Decoder::default();
            while let Some(span) = fr.next_span() {
                let decoded = decoder.decode(&span);
                let regs = of_span(span.bytes, &span.content, &decoded);
                covers_every_byte_once(&regs, span.bytes.len());
                if cut == 0 {
                    assert!(
                        regs.iter().any(|r| r.label.contains("FCS")),
                        "{:02X?}\n{regs:#?}",
                        span.bytes
                    );
                }
            }
        }
    }
}
