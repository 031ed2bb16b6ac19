//! Decodes framed spans into meaning, keeping the context a stream needs: segments waiting for
//! their last part, the identification that precedes an IEC data block, decryption keys.

use super::check::{Check, CheckValue};
use super::dlms::{self, Apdu, GloCiphering, Keys};
use super::framer::{Content, Span};
use super::han::{self, HanMessage, Scaling};
use super::hdlc::{Reassembler, Segment};
use super::iec61107::{self, DataBlock, Identification};
use super::mbus;

/// What a span means, beyond the checks the framer already made.
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded {
    Junk,
    Hdlc(HdlcDecoded),
    Iec61107(IecDecoded),
    Kmp,
    Mbus(Option<mbus::Telegram>),
}

impl Decoded {
    /// Checks made while decoding (the HDLC LLC header).
    pub fn extra_checks(&self) -> &[Check] {
        match self {
            Decoded::Hdlc(h) => h.llc.as_slice(),
            _ => &[],
        }
    }

    /// Why the frame's content could not be decoded, if it could not.
    pub fn error(&self) -> Option<&SpanError> {
        match self {
            Decoded::Hdlc(h) => h.error.as_ref(),
            _ => None,
        }
    }
}

/// Whether a span passed every check: the framer's (flags, length, HCS, FCS, BCC, LRC, CS) and the
/// decoder's (the LLC header). Junk never does. The one definition of a good frame.
pub fn span_ok(content: &Content, decoded: &Decoded) -> bool {
    super::check::all_ok(content.checks()) && decoded.extra_checks().iter().all(|c| c.ok)
}

/// Why a frame's content could not be decoded: one sentence, and the byte of the span where it
/// failed when that byte is in the span (not in a joined or decrypted message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpanError {
    pub message: String,
    pub at: Option<usize>,
}

impl SpanError {
    fn new(message: impl Into<String>) -> Self {
        SpanError {
            message: message.into(),
            at: None,
        }
    }

    /// An error of the A-XDR or DLMS parser; `in_span` says whether its offset is a span offset.
    fn parse(e: &super::axdr::DecodeError, in_span: bool) -> Self {
        SpanError {
            message: e.to_string(),
            at: in_span.then_some(e.offset),
        }
    }
}

impl SpanError {
    /// An error at a known byte of the span.
    pub fn at(message: impl Into<String>, at: usize) -> Self {
        SpanError {
            message: message.into(),
            at: Some(at),
        }
    }
}

/// In JSON an error is its sentence.
impl serde::Serialize for SpanError {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.message)
    }
}

impl std::fmt::Display for SpanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Where a frame stands in a segmented message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentState {
    Whole,
    /// Segment `n` of a message whose other parts are still to come.
    Partial(u32),
    /// The last of `n` segments: the message was decoded from all of them.
    Last(u32),
}

#[derive(Debug, Clone, PartialEq)]
pub struct HdlcDecoded {
    pub llc: Option<Check>,
    pub segment: SegmentState,
    pub invoke_id: Option<u32>,
    /// The clear header of an encrypted APDU.
    pub cipher: Option<GloCiphering>,
    /// The ciphered content was decrypted and authenticated with the given keys.
    pub decrypted: bool,
    /// Why the ciphered content could not be decrypted with the given keys.
    pub decrypt_error: Option<dlms::DecryptError>,
    pub message: Option<HanMessage>,
    pub error: Option<SpanError>,
    /// Something worth knowing that is not an error (encrypted without key, segment pending).
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct IecDecoded {
    /// The identification of this span, or for a data block the last one seen before it.
    pub ident: Option<Identification>,
    pub block: Option<DataBlock>,
    /// A failed BCC judged again by the rule the identified meter uses (the framer, which does
    /// not know the meter, judges by the standard's XOR rule).
    pub bcc: Option<Check>,
}

/// LLC header of a DLMS frame from a meter: destination LSAP E6, source LSAP E7 (response) or
/// E6, quality 00.
const LLC_RESPONSE: [u8; 3] = [0xE6, 0xE7, 0x00];
const LLC_COMMAND: [u8; 3] = [0xE6, 0xE6, 0x00];

#[derive(Debug, Default)]
pub struct Decoder {
    pub scaling: Scaling,
    pub keys: Option<Keys>,
    reassembler: Reassembler,
    last_ident: Option<Identification>,
}

impl Decoder {
    pub fn new(scaling: Scaling, keys: Option<Keys>) -> Self {
        Decoder {
            scaling,
            keys,
            ..Default::default()
        }
    }

    pub fn decode(&mut self, span: &Span<'_>) -> Decoded {
        match &span.content {
            Content::Junk => Decoded::Junk,
            Content::Hdlc(frame) => {
                let mut out = HdlcDecoded {
                    llc: None,
                    segment: SegmentState::Whole,
                    invoke_id: None,
                    cipher: None,
                    decrypted: false,
                    decrypt_error: None,
                    message: None,
                    error: None,
                    note: None,
                };
                let Some(header) = frame.header.filter(|_| frame.intact()) else {
                    if self.reassembler.pending_segments() > 0 {
                        self.reassembler.reset();
                        out.note =
                            Some("segmented message abandoned: a segment was damaged".into());
                    }
                    out.error = Some(SpanError::new(not_decoded_reason(frame)));
                    return Decoded::Hdlc(out);
                };
                let info = &span.bytes[frame.info.clone()];
                if info.is_empty() {
                    out.note = Some("frame without information field".into());
                    return Decoded::Hdlc(out);
                }
                let joined;
                let message: &[u8] = match self.reassembler.push(&header, info) {
                    Segment::Whole => info,
                    Segment::Partial { n } => {
                        out.segment = SegmentState::Partial(n);
                        out.note =
                            Some(format!("segment {n}: waiting for the rest of the message"));
                        return Decoded::Hdlc(out);
                    }
                    Segment::Last { n, info } => {
                        out.segment = SegmentState::Last(n);
                        joined = info;
                        &joined
                    }
                };
                // Offsets in errors point into this frame, or into the joined message.
                let base = if out.segment == SegmentState::Whole {
                    frame.info.start
                } else {
                    0
                };
                out.llc = Some(llc_check(message));
                // Without the LLC header, try the APDU anyway: the check already says it is missing.
                let apdu_at = if message.first() == Some(&0xE6) { 3 } else { 0 };
                let apdu = message.get(apdu_at..).unwrap_or(&[]);
                let in_span = out.segment == SegmentState::Whole;
                self.decode_apdu(apdu, base + apdu_at, in_span, &mut out);
                Decoded::Hdlc(out)
            }
            Content::Iec61107(frame) => {
                let mut out = IecDecoded {
                    ident: None,
                    block: None,
                    bcc: None,
                };
                match frame.kind {
                    iec61107::Kind::Identification => {
                        self.last_ident = iec61107::parse_identification(span.bytes);
                        out.ident = self.last_ident.clone();
                    }
                    iec61107::Kind::DataBlock => {
                        out.ident = self.last_ident.clone();
                        out.block = Some(iec61107::parse_data_block(span.bytes));
                        let rule = out.ident.as_ref().map(Identification::bcc_rule);
                        if let Some(rule) = rule.filter(|r| *r != iec61107::BccRule::Xor)
                            && frame.checks.iter().any(|c| c.name == "BCC" && !c.ok)
                        {
                            out.bcc = Some(iec61107::data_block_bcc(span.bytes, rule));
                        }
                    }
                    iec61107::Kind::Request => self.last_ident = None,
                    _ => {}
                }
                Decoded::Iec61107(out)
            }
            Content::Kmp(_) => Decoded::Kmp,
            Content::Mbus(_) => Decoded::Mbus(mbus::parse(span.bytes)),
        }
    }

    fn decode_apdu(&self, apdu: &[u8], base: usize, in_span: bool, out: &mut HdlcDecoded) {
        match dlms::parse_apdu(apdu, base) {
            Err(e) => out.error = Some(SpanError::parse(&e, in_span)),
            Ok(Apdu::DataNotification(n)) => {
                out.invoke_id = Some(n.invoke_id);
                match han::map(&n, apdu, base, &self.scaling) {
                    Ok(m) => out.message = Some(m),
                    Err(e) => out.error = Some(SpanError::parse(&e, in_span)),
                }
            }
            Ok(Apdu::GloCiphering(glo)) => {
                match &self.keys {
                    None => {
                        out.note = Some(
                            "encrypted (general-glo-ciphering): give the keys to decrypt".into(),
                        );
                    }
                    Some(keys) => match dlms::decrypt(apdu, &glo, keys) {
                        Err(e) => {
                            out.error = Some(SpanError::new(e.to_string()));
                            out.decrypt_error = Some(e);
                        }
                        Ok(plain) => match dlms::parse_apdu(&plain, 0) {
                            Ok(Apdu::DataNotification(n)) => {
                                out.decrypted = true;
                                out.invoke_id = Some(n.invoke_id);
                                match han::map(&n, &plain, 0, &self.scaling) {
                                    Ok(m) => out.message = Some(m),
                                    Err(e) => {
                                        out.error =
                                            Some(SpanError::new(format!("decrypted content: {e}")));
                                    }
                                }
                            }
                            Ok(Apdu::GloCiphering(_)) => {
                                out.error =
                                    Some(SpanError::new("decrypted content is ciphered again"));
                            }
                            Err(e) => {
                                out.decrypted = true;
                                out.error = Some(SpanError::new(format!("decrypted content: {e}")));
                            }
                        },
                    },
                }
                out.cipher = Some(glo);
            }
        }
    }
}

fn llc_check(info: &[u8]) -> Check {
    let actual = &info[..info.len().min(3)];
    let expected = if actual == LLC_COMMAND {
        LLC_COMMAND
    } else {
        LLC_RESPONSE
    };
    Check::compare(
        "LLC",
        CheckValue::bytes(&expected),
        CheckValue::bytes(actual),
    )
}

fn not_decoded_reason(frame: &super::hdlc::Frame) -> String {
    let failed: Vec<&str> = frame
        .checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| c.name)
        .collect();
    if !frame.length_ok() && frame.fcs_ok() {
        return "not decoded: frame length does not match its length field".into();
    }
    format!("not decoded: {} failed", failed.join(", "))
}
