//! Byte-by-byte annotation of a span for the inspector's hex dump: every byte belongs to a region
//! (flag, header, check, OBIS code, value, ...) with a label.

use super::axdr::{Data, Reader, tag};
use super::framer::Content;
use super::obis::Obis;
use super::{hdlc, iec61107, kmp, mbus};
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
    Unparsed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    pub range: Range<usize>,
    pub kind: RegionKind,
    pub label: String,
}

struct Regions {
    out: Vec<Region>,
}

impl Regions {
    fn add(&mut self, range: Range<usize>, kind: RegionKind, label: impl Into<String>) {
        if range.start < range.end {
            self.out.push(Region {
                range,
                kind,
                label: label.into(),
            });
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

/// Regions of a span's bytes, in order, covering every byte.
pub fn regions(bytes: &[u8], content: &Content) -> Vec<Region> {
    let mut r = Regions { out: Vec::new() };
    match content {
        Content::Junk => r.add(0..bytes.len(), RegionKind::Junk, "junk"),
        Content::Hdlc(f) => hdlc_regions(bytes, f, &mut r),
        Content::Iec61107(f) => iec_regions(bytes, f, &mut r),
        Content::Kmp(f) => {
            r.add(
                0..1,
                RegionKind::Flag,
                format!("start ({})", f.direction.name()),
            );
            let body_end = bytes.len().saturating_sub(1);
            match f.variant {
                kmp::Variant::AsciiHex => {
                    let lrc_at = body_end.saturating_sub(2).max(1);
                    r.add(1..3.min(lrc_at), RegionKind::Header, "address");
                    r.add(3.min(lrc_at)..5.min(lrc_at), RegionKind::Header, "command");
                    r.add(5.min(lrc_at)..lrc_at, RegionKind::Value, "data (hex pairs)");
                    r.add(lrc_at..body_end, RegionKind::Check, "LRC");
                }
                kmp::Variant::Binary => {
                    r.add(
                        1..body_end,
                        RegionKind::Value,
                        "address, command, data, CRC (stuffed)",
                    );
                }
            }
            r.add(body_end..bytes.len(), RegionKind::Flag, "CR");
        }
        Content::Mbus(f) => match f.kind {
            mbus::Kind::Short => {
                r.add(0..1, RegionKind::Flag, "start 10");
                r.add(1..3, RegionKind::Header, "C, A");
                r.add(3..4, RegionKind::Check, "CS");
                r.add(4..5, RegionKind::Flag, "stop 16");
            }
            mbus::Kind::Long => {
                let n = bytes.len();
                r.add(0..4.min(n), RegionKind::Flag, "start 68 L L 68");
                r.add(4.min(n)..7.min(n), RegionKind::Header, "C, A, CI");
                let user_end = (4 + usize::from(bytes.get(1).copied().unwrap_or(0))).min(n);
                let mut at = 7.min(user_end);
                if bytes.get(6) == Some(&0x72) && user_end >= 19 {
                    r.add(7..19, RegionKind::Header, "fixed header: id, manufacturer, version, medium, access, status, signature");
                    at = 19;
                }
                r.add(at..user_end, RegionKind::Value, "data records");
                r.add(user_end..(user_end + 1).min(n), RegionKind::Check, "CS");
                r.add((user_end + 1).min(n)..n, RegionKind::Flag, "stop 16");
            }
        },
    }
    fill_gaps(bytes.len(), r.out)
}

/// Marks bytes no region claimed as unparsed, so the dump shows everything.
fn fill_gaps(len: usize, mut regions: Vec<Region>) -> Vec<Region> {
    regions.sort_by_key(|r| r.range.start);
    let mut out = Vec::with_capacity(regions.len() + 2);
    let mut at = 0;
    for reg in regions {
        if reg.range.start > at {
            out.push(Region {
                range: at..reg.range.start,
                kind: RegionKind::Unparsed,
                label: "not decoded".into(),
            });
        }
        if reg.range.end > at {
            at = reg.range.end;
            out.push(reg);
        }
    }
    if at < len {
        out.push(Region {
            range: at..len,
            kind: RegionKind::Unparsed,
            label: "not decoded".into(),
        });
    }
    out
}

fn hdlc_regions(bytes: &[u8], f: &hdlc::Frame, r: &mut Regions) {
    let body = usize::from(!f.shared_start_flag);
    if !f.shared_start_flag {
        r.add(0..1, RegionKind::Flag, "flag");
    }
    let Some(h) = f.header else {
        return;
    };
    let n = bytes.len();
    let clamp = |x: usize| x.min(n);
    r.add(
        clamp(body)..clamp(body + 2),
        RegionKind::Header,
        format!(
            "format A, length {}{}",
            h.length,
            if h.segmented { ", segmented" } else { "" }
        ),
    );
    let mut at = body + 2;
    r.add(
        clamp(at)..clamp(at + h.dest.len as usize),
        RegionKind::Header,
        format!("destination address {}", h.dest.value()),
    );
    at += h.dest.len as usize;
    r.add(
        clamp(at)..clamp(at + h.src.len as usize),
        RegionKind::Header,
        format!("source address {}", h.src.value()),
    );
    at += h.src.len as usize;
    r.add(
        clamp(at)..clamp(at + 1),
        RegionKind::Header,
        format!("control 0x{:02X} ({})", h.control, h.control_name()),
    );
    at += 1;
    if h.has_info() {
        r.add(clamp(at)..clamp(at + 2), RegionKind::Check, "HCS");
    }
    let fcs_at = body + h.length - 2;
    info_regions(bytes, f.info.clone(), r);
    r.add(clamp(fcs_at)..clamp(fcs_at + 2), RegionKind::Check, "FCS");
    r.add(
        clamp(fcs_at + 2)..clamp(fcs_at + 3),
        RegionKind::Flag,
        "flag",
    );
}

fn info_regions(bytes: &[u8], info: Range<usize>, r: &mut Regions) {
    let data = &bytes[info.clone()];
    let base = info.start;
    let mut at = 0;
    if data.first() == Some(&0xE6) && data.len() >= 3 {
        r.add(base..base + 3, RegionKind::Llc, "LLC");
        at = 3;
    }
    let apdu = &data[at..];
    let abase = base + at;
    match apdu.first() {
        Some(&0x0F) => {
            r.add(abase..abase + 1, RegionKind::ApduHeader, "DataNotification");
            r.add(
                abase + 1..(abase + 5).min(base + data.len()),
                RegionKind::ApduHeader,
                "invoke id and priority",
            );
            // The parser knows the three header date-time forms; the body starts after it.
            if let Ok(super::dlms::Apdu::DataNotification(n)) = super::dlms::parse_apdu(apdu, 0) {
                r.add(
                    abase + 5..abase + n.body.start,
                    RegionKind::DateTime,
                    match n.time {
                        super::dlms::HeaderTime::Absent => "no date-time".to_string(),
                        t => format!("date-time ({})", t.form()),
                    },
                );
                let mut reader = Reader::new(&apdu[n.body.clone()], 0);
                body_regions(&mut reader, abase + n.body.start, r, 0);
            }
        }
        Some(&0xDB) if apdu.len() >= 11 => {
            r.add(
                abase..abase + 1,
                RegionKind::Cipher,
                "general-glo-ciphering",
            );
            r.add(abase + 1..abase + 10, RegionKind::Cipher, "system title");
            let mut reader = Reader::new(&apdu[10..], 0);
            if reader.length().is_ok() {
                let p = 10 + reader.position();
                r.add(abase + 10..abase + p, RegionKind::Cipher, "length");
                r.add(
                    abase + p..abase + p + 1,
                    RegionKind::Cipher,
                    "security control",
                );
                r.add(
                    abase + p + 1..abase + p + 5,
                    RegionKind::Cipher,
                    "invocation counter",
                );
                let end = apdu.len();
                let tag_start = end.saturating_sub(12).max(p + 5);
                r.add(
                    abase + p + 5..abase + tag_start,
                    RegionKind::Cipher,
                    "ciphertext",
                );
                r.add(
                    abase + tag_start..abase + end,
                    RegionKind::Check,
                    "authentication tag",
                );
            }
        }
        _ => {}
    }
}

/// Regions of A-XDR elements, with OBIS codes labelled.
fn body_regions(reader: &mut Reader<'_>, base: usize, r: &mut Regions, depth: usize) {
    let start = reader.position();
    match reader.peek() {
        Some(t @ (tag::STRUCTURE | tag::ARRAY)) if depth < 8 => {
            let _ = reader.u8();
            let Ok(count) = reader.length() else { return };
            let name = if t == tag::STRUCTURE {
                "structure"
            } else {
                "array"
            };
            r.add(
                base + start..base + reader.position(),
                RegionKind::Structure,
                format!("{name} of {count}"),
            );
            for _ in 0..count {
                if reader.remaining() == 0 {
                    return;
                }
                body_regions(reader, base, r, depth + 1);
            }
        }
        Some(_) => {
            let Ok(d) = reader.data() else { return };
            let end = reader.position();
            let (kind, label) = match &d {
                Data::OctetString(b) if b.len() == 6 => {
                    let o = Obis::from_slice(b).expect("6 bytes");
                    (RegionKind::Obis, format!("OBIS {o} {}", o.name()))
                }
                other => (RegionKind::Value, value_label(other)),
            };
            r.add(base + start..base + end, kind, label);
        }
        None => {}
    }
}

fn iec_regions(bytes: &[u8], f: &iec61107::Frame, r: &mut Regions) {
    match f.kind {
        iec61107::Kind::DataBlock | iec61107::Kind::Command => {
            let end = bytes
                .iter()
                .position(|&b| b == iec61107::ETX || b == iec61107::EOT);
            r.add(
                0..1,
                RegionKind::Flag,
                if bytes[0] == iec61107::SOH {
                    "SOH"
                } else {
                    "STX"
                },
            );
            let text_end = end.unwrap_or(bytes.len());
            let mut line_start = 1;
            for (i, &b) in bytes.iter().enumerate().take(text_end).skip(1) {
                if b == iec61107::LF {
                    let line = String::from_utf8_lossy(
                        &bytes[line_start..i.saturating_sub(1).max(line_start)],
                    )
                    .to_string();
                    r.add(line_start..i + 1, RegionKind::Text, line);
                    line_start = i + 1;
                }
            }
            r.add(line_start..text_end, RegionKind::Text, "cut off");
            if let Some(e) = end {
                r.add(e..e + 1, RegionKind::Flag, "ETX");
                r.add(e + 1..(e + 2).min(bytes.len()), RegionKind::Check, "BCC");
            }
        }
        kind => r.add(0..bytes.len(), RegionKind::Text, kind.name()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Framer;

    #[test]
    fn kamstrup_frame_regions_cover_every_byte() {
        let bytes = crate::protocol::han::sample_stream(1);
        let mut fr = Framer::default();
        fr.push(&bytes);
        fr.finish();
        let span = fr.next_span().unwrap();
        let regs = regions(span.bytes, &span.content);
        assert_eq!(regs.first().unwrap().range.start, 0);
        assert_eq!(regs.last().unwrap().range.end, bytes.len());
        assert!(regs.windows(2).all(|w| w[0].range.end == w[1].range.start));
        assert!(
            !regs.iter().any(|r| r.kind == RegionKind::Unparsed),
            "{regs:#?}"
        );
        assert!(
            regs.iter()
                .any(|r| r.label.starts_with("OBIS 1.1.1.7.0.255"))
        );
        assert!(regs.iter().any(|r| r.label == "FCS"));
    }
}
