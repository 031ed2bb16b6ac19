//! Decodes framed spans into meaning, keeping the context a stream needs: segments waiting for
//! their last part, the identification that precedes an IEC data block, decryption keys.

use super::check::{Check, CheckValue};
use super::dlms::{self, Apdu, DecryptError, GloCiphering, Keys};
use super::framer::{Content, Span};
use super::han::{self, HanMessage, Scaling};
use super::hdlc::{self, Reassembler, Segment};
use super::iec61107::{self, DataBlock, Identification};
use super::{kmp, kmp_register, mbus, p1};

/// What a span means, beyond the checks the framer already made.
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded {
    Junk,
    Hdlc(HdlcDecoded),
    Iec61107(IecDecoded),
    Kmp(KmpDecoded),
    Mbus(Option<mbus::Telegram>),
    P1(P1Decoded),
}

/// A P1 telegram, parsed, and its values as a HAN push for the Live tab (only from a telegram
/// whose checks passed: a damaged one's values never reach the screen).
#[derive(Debug, Clone, PartialEq)]
pub struct P1Decoded {
    pub telegram: p1::Telegram,
    pub message: Option<HanMessage>,
    /// Where a line could not be parsed.
    pub error: Option<SpanError>,
}

/// A KMP frame's payload: the registers of a command with a public layout.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct KmpDecoded {
    /// `None`: no public layout for this command (the data stays raw).
    pub registers: Option<Result<Vec<kmp_register::Register>, kmp_register::PayloadError>>,
    /// The echo of what we sent (an optical head repeats it).
    pub echo: bool,
}

impl Decoded {
    /// Checks made while decoding (the HDLC LLC header).
    pub fn extra_checks(&self) -> &[Check] {
        match self {
            Decoded::Hdlc(h) => h.llc.as_slice(),
            _ => &[],
        }
    }

    /// Whether this received span is the echo of what we just sent (optical readouts).
    pub fn echo(&self) -> bool {
        match self {
            Decoded::Iec61107(i) => i.echo,
            Decoded::Kmp(k) => k.echo,
            Decoded::Mbus(Some(t)) => t.echo,
            _ => false,
        }
    }

    /// Marks a received span as the echo of what we sent: IEC 61107 and KMP spans (the optical
    /// head) and M-Bus frames (the level converter) carry the mark.
    pub fn mark_echo(&mut self) {
        match self {
            Decoded::Iec61107(i) => i.echo = true,
            Decoded::Kmp(k) => k.echo = true,
            Decoded::Mbus(Some(t)) => t.echo = true,
            _ => {}
        }
    }

    /// Why the frame's content could not be decoded, if it could not.
    pub fn error(&self) -> Option<&SpanError> {
        match self {
            Decoded::Hdlc(h) => h.error.as_ref(),
            Decoded::P1(p) => p.error.as_ref(),
            _ => None,
        }
    }

    /// The push for the Live tab: a decoded HAN-NVE message or a good P1 telegram's values.
    pub fn han_message(&self) -> Option<&HanMessage> {
        match self {
            Decoded::Hdlc(h) => h.message.as_ref(),
            Decoded::P1(p) => p.message.as_ref(),
            _ => None,
        }
    }
}

/// Whether a span passed every check: the framer's (flags, length, HCS, FCS, BCC, LRC, CS) and the
/// decoder's (the LLC header). Junk never does. The one definition of a good frame.
pub fn span_ok(content: &Content, decoded: &Decoded) -> bool {
    content.all_ok() && decoded.extra_checks().iter().all(|c| c.ok)
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
    /// The clear header of an encrypted APDU (boxed, like the other rare parts, so a decoded
    /// frame stays small to move).
    pub cipher: Option<Box<GloCiphering>>,
    /// The ciphered content was decrypted and verified with the given keys (its authentication
    /// tag matched, or it was sent without one).
    pub decrypted: bool,
    /// Why the ciphered content could not be decrypted with the given keys, or, with
    /// [`NoAuthenticationKey`](dlms::DecryptError::NoAuthenticationKey), why its decryption could
    /// not be verified (it was decrypted all the same: see `unverified`).
    pub decrypt_error: Option<dlms::DecryptError>,
    /// The decoded push. For content decrypted without checking its tag, `unverified` says so.
    /// Never filled from a damaged frame (see `damaged_message`).
    pub message: Option<HanMessage>,
    /// Decoded best-effort from a frame whose HCS was good and whose FCS failed, so the installer
    /// sees which value the damage hit. Never live values: any of them may be wrong.
    pub damaged_message: Option<Box<HanMessage>>,
    /// Why what was decoded is not known to be what the meter sent, when it is not.
    pub unverified: Option<Unverified>,
    pub error: Option<SpanError>,
    /// Something worth knowing that is not an error (encrypted without key, segment pending).
    pub note: Option<String>,
}

/// Why decoded content is not verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unverified {
    /// The frame's FCS failed (its header check passed): decoded best-effort.
    FcsFailed,
    /// Decrypted without checking the authentication tag: no authentication key was given.
    TagNotChecked,
}

impl Unverified {
    /// Short, for "(unverified: ...)".
    pub fn reason(self) -> &'static str {
        match self {
            Unverified::FcsFailed => "FCS failed",
            Unverified::TagNotChecked => "authentication tag not checked",
        }
    }

    /// A sentence for the span's note.
    pub fn describe(self) -> &'static str {
        match self {
            Unverified::FcsFailed => {
                "unverified: decoded from a frame whose FCS failed; any value may be the one the damage hit"
            }
            Unverified::TagNotChecked => {
                "unverified: decrypted without an authentication key, so the authentication tag was not checked"
            }
        }
    }
}

impl HdlcDecoded {
    fn new() -> Self {
        HdlcDecoded {
            llc: None,
            segment: SegmentState::Whole,
            invoke_id: None,
            cipher: None,
            decrypted: false,
            decrypt_error: None,
            message: None,
            damaged_message: None,
            unverified: None,
            error: None,
            note: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct IecDecoded {
    /// The identification of this span, or for a data block the last one seen before it.
    pub ident: Option<Identification>,
    pub block: Option<DataBlock>,
    /// A failed BCC judged again by the rule the identified meter uses (the framer, which does
    /// not know the meter, judges by the standard's XOR rule).
    pub bcc: Option<Check>,
    /// Received right after we sent the same bytes: the optical head's echo of what we sent
    /// (set by the pipeline, which sees both directions).
    pub echo: bool,
}

/// LLC header of a DLMS frame from a meter: destination LSAP E6, source LSAP E7 (response) or
/// E6, quality 00.
const LLC_RESPONSE: [u8; 3] = [0xE6, 0xE7, 0x00];
const LLC_COMMAND: [u8; 3] = [0xE6, 0xE6, 0x00];

/// The most a general-block-transfer may join to: a longer message is abandoned, so a stream of
/// blocks that never ends cannot grow memory without bound.
pub const MAX_BLOCK_TRANSFER: usize = 64 * 1024;

/// General-block-transfer blocks (tag E0) joined so far.
#[derive(Debug, Default)]
struct BlockJoiner {
    buf: Vec<u8>,
    /// The block number due next; `None` when no transfer is under way.
    next: Option<u16>,
    blocks: u32,
}

impl BlockJoiner {
    fn reset(&mut self) {
        self.buf = Vec::new();
        self.next = None;
        self.blocks = 0;
    }

    fn pending(&self) -> bool {
        self.next.is_some()
    }
}

#[derive(Debug, Default)]
pub struct Decoder {
    pub scaling: Scaling,
    pub keys: Option<Keys>,
    reassembler: Reassembler,
    blocks: BlockJoiner,
    last_ident: Option<Identification>,
    /// The data of the last ASCII-hex KMP request of each command: a memory read's answer is
    /// read by the layout of what was asked.
    kmp_requests: Vec<(u8, Vec<u8>)>,
    /// The buffers pushes are decoded into, from push to push.
    han: han::Scratch,
    /// Decode content only as far as telling whether it decodes (see [`Decoder::counting`]).
    counting: bool,
}

impl Decoder {
    pub fn new(scaling: Scaling, keys: Option<Keys>) -> Self {
        Decoder {
            scaling,
            keys,
            ..Default::default()
        }
    }

    /// A decoder for counting (`decode --summary`): every frame's content is decoded as far as
    /// telling whether it decodes (the same errors), but no push message is kept.
    pub fn counting(mut self) -> Self {
        self.counting = true;
        self
    }

    /// A push's fields into `out`, or with [`Decoder::counting`] only whether its body decodes.
    fn map_into(
        &mut self,
        n: &dlms::Notification,
        apdu: &[u8],
        base: usize,
        out: &mut Option<HanMessage>,
    ) -> Result<(), super::axdr::DecodeError> {
        if self.counting {
            han::check_with(n, apdu, base, &mut self.han)
        } else {
            han::map_into(n, apdu, base, &self.scaling, &mut self.han, out)
        }
    }

    pub fn decode(&mut self, span: &Span<'_>) -> Decoded {
        if let Content::Hdlc(_) = span.content {
            let mut decoded = Decoded::Junk;
            self.decode_into(span, &mut decoded);
            return decoded;
        }
        // Returned straight from where it is made (a decoded span is 270 bytes: each move
        // costs, most for the short frames of a readout).
        self.decode_other(span)
    }

    /// [`Decoder::decode`] into `out` (what it held is dropped), for loops over many spans: the
    /// decoding is written where the caller keeps it rather than returned and moved (a decoded
    /// frame is some 270 bytes, and a move just after it was written stalls).
    pub fn decode_into(&mut self, span: &Span<'_>, out: &mut Decoded) {
        if let Content::Hdlc(frame) = &span.content {
            // The push decoded here before gives its buffers to this one.
            if let Decoded::Hdlc(h) = out
                && let Some(m) = h.message.take()
            {
                m.recycle(&mut self.han);
            }
            *out = Decoded::Hdlc(HdlcDecoded::new());
            if let Decoded::Hdlc(h) = out {
                self.decode_hdlc(span.bytes, frame, h);
            }
            return;
        }
        *out = self.decode_other(span);
    }

    fn decode_other(&mut self, span: &Span<'_>) -> Decoded {
        match &span.content {
            Content::Junk | Content::Hdlc(_) => Decoded::Junk,
            Content::Iec61107(frame) => {
                let mut out = IecDecoded {
                    ident: None,
                    block: None,
                    bcc: None,
                    echo: false,
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
            Content::Kmp(f) => Decoded::Kmp(self.decode_kmp(f)),
            Content::Mbus(_) => Decoded::Mbus(mbus::parse(span.bytes)),
            Content::P1(frame) => {
                let telegram = p1::parse(span.bytes);
                let good = super::check::all_ok(&frame.checks) && telegram.broke_at.is_none();
                let error = telegram
                    .broke_at
                    .as_ref()
                    .map(|(at, why)| SpanError::at(format!("line broke at byte {at}: {why}"), *at));
                Decoded::P1(P1Decoded {
                    message: good.then(|| p1::to_han_message(&telegram)),
                    telegram,
                    error,
                })
            }
        }
    }

    fn decode_kmp(&mut self, f: &kmp::Frame) -> KmpDecoded {
        let (Some(command), data) = (f.command(), f.data()) else {
            return KmpDecoded::default();
        };
        let registers = match (f.variant, f.direction) {
            (kmp::Variant::AsciiHex, kmp::Direction::Request) => {
                self.kmp_requests.retain(|(c, _)| *c != command);
                self.kmp_requests.push((command, data.to_vec()));
                None
            }
            (kmp::Variant::AsciiHex, kmp::Direction::Response) => {
                let request = self
                    .kmp_requests
                    .iter()
                    .find(|(c, _)| *c == command)
                    .map(|(_, d)| d.as_slice());
                kmp_register::decode_ascii_response(command, request, data)
            }
            (kmp::Variant::Binary, direction) => {
                kmp_register::decode_binary(direction, command, data)
            }
        };
        KmpDecoded {
            registers,
            echo: false,
        }
    }

    /// An HDLC frame's meaning, into `out`.
    fn decode_hdlc(&mut self, bytes: &[u8], frame: &hdlc::Frame, out: &mut HdlcDecoded) {
        let Some(header) = frame.header.filter(|_| frame.intact()) else {
            if self.reassembler.pending_segments() > 0 {
                self.reassembler.reset();
                out.note = Some("segmented message abandoned: a segment was damaged".into());
            }
            if self.blocks.pending() {
                let n = self.blocks.blocks;
                self.blocks.reset();
                out.note = Some(format!(
                    "general-block-transfer abandoned after {n} block(s): a frame was damaged"
                ));
            }
            out.error = Some(SpanError::new(not_decoded_reason(frame)));
            if best_effort_possible(frame) {
                self.decode_damaged(bytes, frame, out);
            }
            return;
        };
        let info = &bytes[frame.info.clone()];
        if info.is_empty() {
            out.note = Some("frame without information field".into());
            return;
        }
        let joined;
        let message: &[u8] = match self.reassembler.push(&header, info) {
            Segment::Whole => info,
            Segment::Partial { n } => {
                out.segment = SegmentState::Partial(n);
                out.note = Some(format!("segment {n}: waiting for the rest of the message"));
                return;
            }
            Segment::Last { n, info } => {
                out.segment = SegmentState::Last(n);
                joined = info;
                &joined
            }
            Segment::TooLong { n } => {
                out.error = Some(SpanError::new(format!(
                    "segment {n} would make the message longer than {} KiB: abandoned",
                    hdlc::MAX_MESSAGE / 1024
                )));
                return;
            }
        };
        // Offsets in errors point into this frame, or into the joined message.
        let base = if out.segment == SegmentState::Whole {
            frame.info.start
        } else {
            0
        };
        // Without the LLC header, try the APDU anyway: the check already says it is missing.
        let apdu_at = if message.first() == Some(&0xE6) { 3 } else { 0 };
        let apdu = message.get(apdu_at..).unwrap_or(&[]);
        let in_span = out.segment == SegmentState::Whole;
        if apdu.first() == Some(&dlms::GENERAL_BLOCK_TRANSFER) {
            self.decode_block(message, apdu_at, base, in_span, out);
            return;
        }
        out.llc = Some(llc_check(message));
        self.decode_apdu(apdu, base + apdu_at, in_span, out);
    }

    /// A general-block-transfer block (tag E0): joined with the blocks before it, and the joined
    /// APDU decoded when the last block arrives. Only the first block's frame carries the LLC
    /// header: the check applies to it (and to any block that has one), not to continuations.
    fn decode_block(
        &mut self,
        message: &[u8],
        apdu_at: usize,
        base: usize,
        in_span: bool,
        out: &mut HdlcDecoded,
    ) {
        let apdu = &message[apdu_at..];
        let block = match dlms::parse_apdu(apdu, base + apdu_at) {
            Ok(Apdu::BlockTransfer(b)) => b,
            Ok(_) => unreachable!("an APDU starting with E0 parses as a block transfer"),
            Err(e) => {
                if apdu_at > 0 {
                    out.llc = Some(llc_check(message));
                }
                out.error = Some(SpanError::parse(&e, in_span));
                if self.blocks.pending() {
                    self.blocks.reset();
                    out.note =
                        Some("general-block-transfer abandoned: a block does not parse".into());
                }
                return;
            }
        };
        let n = block.block_number;
        if apdu_at > 0 || n <= 1 {
            out.llc = Some(llc_check(message));
        }
        if n <= 1 {
            if self.blocks.pending() {
                out.note = Some(format!(
                    "general-block-transfer abandoned after {} block(s): a new one began",
                    self.blocks.blocks
                ));
            }
            self.blocks.reset();
        } else if self.blocks.next != Some(n) {
            let note = match self.blocks.next {
                Some(due) => format!(
                    "general-block-transfer abandoned: block {n} arrived where block {due} was due"
                ),
                None => format!(
                    "general-block-transfer block {n}: the blocks before it were lost, skipped"
                ),
            };
            self.blocks.reset();
            out.note = Some(note);
            return;
        }
        let data = &apdu[block.data.clone()];
        if self.blocks.buf.len() + data.len() > MAX_BLOCK_TRANSFER {
            self.blocks.reset();
            out.note = Some(format!(
                "general-block-transfer abandoned at block {n}: the joined message would exceed {} KiB",
                MAX_BLOCK_TRANSFER / 1024
            ));
            return;
        }
        self.blocks.buf.extend_from_slice(data);
        self.blocks.blocks += 1;
        self.blocks.next = Some(n.wrapping_add(1));
        if !block.last() {
            out.note = Some(format!(
                "general-block-transfer block {n}: waiting for the rest of the message"
            ));
            return;
        }
        let blocks = self.blocks.blocks;
        let joined = std::mem::take(&mut self.blocks.buf);
        self.blocks.reset();
        if joined.first() == Some(&dlms::GENERAL_BLOCK_TRANSFER) {
            out.error = Some(SpanError::new(
                "the joined general-block-transfer holds another block transfer",
            ));
            return;
        }
        self.decode_apdu(&joined, 0, false, out);
        if out.note.is_none() {
            out.note = Some(format!(
                "general-block-transfer: message joined from {blocks} block(s), {} bytes",
                joined.len()
            ));
        }
    }

    /// A frame whose header check passed and whose FCS failed, decoded as far as it goes. Its
    /// values land in `damaged_message` (never `message`), marked unverified; an encrypted one is
    /// not decrypted (a damaged tag would read as a wrong key).
    fn decode_damaged(&mut self, bytes: &[u8], frame: &hdlc::Frame, out: &mut HdlcDecoded) {
        let info = &bytes[frame.info.clone()];
        let apdu_at = if info.starts_with(&LLC_RESPONSE) || info.starts_with(&LLC_COMMAND) {
            3
        } else {
            0
        };
        let base = frame.info.start + apdu_at;
        let apdu = &info[apdu_at..];
        let failed = format!("{} failed", failed_checks(frame));
        let failed = failed.as_str();
        match dlms::parse_apdu(apdu, base) {
            Ok(Apdu::DataNotification(n)) => {
                out.invoke_id = Some(n.invoke_id);
                match han::map_with(&n, apdu, base, &self.scaling, &mut self.han) {
                    Ok(m) => {
                        out.damaged_message = Some(Box::new(m));
                        out.unverified = Some(Unverified::FcsFailed);
                        out.error = Some(SpanError::new(format!(
                            "{failed}: decoded best-effort, unverified"
                        )));
                    }
                    Err(e) => out.error = Some(best_effort_stopped(failed, &e)),
                }
            }
            Ok(Apdu::GloCiphering(_)) => {
                out.error = Some(SpanError::new(format!(
                    "{failed}: encrypted content not decrypted"
                )));
            }
            Ok(Apdu::BlockTransfer(b)) => {
                out.error = Some(SpanError::new(format!(
                    "{failed}: general-block-transfer block {} not joined",
                    b.block_number
                )));
            }
            Err(e) => out.error = Some(best_effort_stopped(failed, &e)),
        }
    }

    fn decode_apdu(&mut self, apdu: &[u8], base: usize, in_span: bool, out: &mut HdlcDecoded) {
        match dlms::parse_apdu(apdu, base) {
            Err(e) => out.error = Some(SpanError::parse(&e, in_span)),
            // By reference: the notification is read where it was parsed, not copied out of
            // the result first (a copy of what was just written stalls).
            Ok(Apdu::DataNotification(ref n)) => {
                out.invoke_id = Some(n.invoke_id);
                if let Err(e) = self.map_into(n, apdu, base, &mut out.message) {
                    out.error = Some(SpanError::parse(&e, in_span));
                }
            }
            Ok(Apdu::GloCiphering(glo)) => {
                self.decode_glo(apdu, &glo, out);
                out.cipher = Some(Box::new(glo));
            }
            Ok(Apdu::BlockTransfer(_)) => {
                out.error = Some(SpanError::new(
                    "general-block-transfer block where a whole APDU was expected",
                ));
            }
        }
    }

    /// A general-glo-ciphering APDU: decrypted and verified with both keys; with the encryption
    /// key alone, decrypted without checking its tag and marked unverified.
    fn decode_glo(&mut self, apdu: &[u8], glo: &GloCiphering, out: &mut HdlcDecoded) {
        let Some(keys) = &self.keys else {
            out.note = Some("encrypted (general-glo-ciphering): give the keys to decrypt".into());
            return;
        };
        let plain = match dlms::decrypt(apdu, glo, keys) {
            Ok(plain) => {
                out.decrypted = true;
                plain
            }
            Err(DecryptError::NoAuthenticationKey) => {
                match dlms::decrypt_unchecked(apdu, glo, &keys.encryption) {
                    Ok(plain) => {
                        out.decrypt_error = Some(DecryptError::NoAuthenticationKey);
                        self.decode_plain(&plain, false, out);
                        if out.message.is_some() {
                            out.unverified = Some(Unverified::TagNotChecked);
                        }
                        return;
                    }
                    Err(e) => {
                        out.error = Some(SpanError::new(e.to_string()));
                        out.decrypt_error = Some(e);
                        return;
                    }
                }
            }
            Err(e) => {
                out.error = Some(SpanError::new(e.to_string()));
                out.decrypt_error = Some(e);
                return;
            }
        };
        self.decode_plain(&plain, true, out);
    }

    /// Decrypted content: a DataNotification. Without the tag check (`verified` false), content
    /// that does not decode is most likely a wrong encryption key.
    fn decode_plain(&mut self, plain: &[u8], verified: bool, out: &mut HdlcDecoded) {
        let what = if !verified {
            "content decrypted without the authentication key does not decode (wrong encryption key?)"
        } else {
            "decrypted content"
        };
        match dlms::parse_apdu(plain, 0) {
            Ok(Apdu::DataNotification(n)) => {
                out.invoke_id = Some(n.invoke_id);
                if let Err(e) = self.map_into(&n, plain, 0, &mut out.message) {
                    out.error = Some(SpanError::new(format!("{what}: {e}")));
                }
            }
            Ok(Apdu::GloCiphering(_)) => {
                out.error = Some(SpanError::new("decrypted content is ciphered again"));
            }
            Ok(Apdu::BlockTransfer(_)) => {
                out.error = Some(SpanError::new(
                    "decrypted content is a general-block-transfer block (not supported)",
                ));
            }
            Err(e) => out.error = Some(SpanError::new(format!("{what}: {e}"))),
        }
    }
}

/// A frame worth decoding best-effort: whole by its length, its header check good, only its FCS
/// (and maybe the byte after it) failed, and not one segment of a longer message.
fn best_effort_possible(frame: &hdlc::Frame) -> bool {
    let Some(h) = frame.header else {
        return false;
    };
    h.has_info()
        && !h.segmented
        && frame.length_ok()
        && frame.hcs_ok()
        && !frame.fcs_ok()
        && !frame.info.is_empty()
}

/// Where the best-effort decoding of a damaged frame stopped: maybe where the damage is.
fn best_effort_stopped(failed: &str, e: &super::axdr::DecodeError) -> SpanError {
    SpanError::at(
        format!(
            "{failed}: best-effort decoding stopped at byte {}: {}",
            e.offset, e.what
        ),
        e.offset,
    )
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

fn not_decoded_reason(frame: &hdlc::Frame) -> String {
    if !frame.length_ok() && frame.fcs_ok() {
        return "not decoded: frame length does not match its length field".into();
    }
    format!("not decoded: {} failed", failed_checks(frame))
}

/// The names of the frame's failed checks: "FCS, end flag".
fn failed_checks(frame: &hdlc::Frame) -> String {
    let failed: Vec<&str> = frame
        .checks()
        .iter()
        .filter(|c| !c.ok)
        .map(|c| c.name)
        .collect();
    failed.join(", ")
}
