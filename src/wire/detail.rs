//! The description of a span: what `decode --format json` prints for it, what the text form and
//! the Inspector show. Typed all the way: the JSON, the text and the screens read the same values.
//!
//! The JSON keys and their order are a contract with scripts (`tests/reference.rs` holds it):
//! the protocol details keep their keys in alphabetical order.

use super::hex;
use super::optical::ReadoutResult;
use crate::protocol::axdr::Data;
use crate::protocol::check::CheckValue;
use crate::protocol::check::{Check, all_ok};
use crate::protocol::datetime::DateTime;
use crate::protocol::decoder::KmpDecoded;
use crate::protocol::decoder::{
    Decoded, HdlcDecoded, IecDecoded, P1Decoded, SegmentState, SpanError, Unverified,
};
use crate::protocol::framer::{Content, Span};
use crate::protocol::han::Field;
use crate::protocol::iec_session::Verdict;
use crate::protocol::{hdlc, iec61107, kmp, kmp_register, mbus, p1};
use serde::Serialize;
use serde::ser::{SerializeSeq, Serializer};

/// A value as received, in the JSON form scripts read: numbers as numbers, printable strings as
/// text, binary strings and date-times as hex, structures as lists.
#[derive(Debug, Clone, PartialEq)]
pub enum RawValue {
    Null,
    Bool(bool),
    UInt(u64),
    Int(i64),
    Float(f64),
    Text(String),
    List(Vec<RawValue>),
}

impl Serialize for RawValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            RawValue::Null => s.serialize_unit(),
            RawValue::Bool(b) => s.serialize_bool(*b),
            RawValue::UInt(u) => s.serialize_u64(*u),
            RawValue::Int(i) => s.serialize_i64(*i),
            RawValue::Float(f) => s.serialize_f64(*f),
            RawValue::Text(t) => s.serialize_str(t),
            RawValue::List(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
        }
    }
}

impl RawValue {
    fn of(d: &Data) -> RawValue {
        match d {
            Data::Null | Data::DontCare => RawValue::Null,
            Data::Boolean(b) => RawValue::Bool(*b),
            Data::Float32(f) => RawValue::Float(f64::from(*f)),
            Data::Float64(f) => RawValue::Float(*f),
            Data::DateTime(dt) => RawValue::Text(hex::encode(&dt.raw)),
            Data::Date(b) => RawValue::Text(hex::encode(b)),
            Data::Time(b) => RawValue::Text(hex::encode(b)),
            Data::BitString { bytes, .. } => RawValue::Text(hex::encode(bytes)),
            // Printable strings as text, anything else (binary octet strings) as hex.
            Data::VisibleString(b) | Data::Utf8String(b) | Data::OctetString(b) => {
                RawValue::Text(d.as_text().unwrap_or_else(|| hex::encode(b)))
            }
            Data::Array(items) | Data::Structure(items) => {
                RawValue::List(items.iter().map(RawValue::of).collect())
            }
            other => match other.as_i128() {
                Some(i) if i >= 0 => RawValue::UInt(i as u64),
                Some(i) => RawValue::Int(i as i64),
                None => RawValue::Null,
            },
        }
    }

    /// As text: strings as they are, anything else as in the JSON.
    pub fn text(&self) -> String {
        match self {
            RawValue::Text(s) => s.clone(),
            other => serde_json::to_string(other).unwrap_or_default(),
        }
    }
}

/// One decoded field, in the shape shared by DLMS and IEC 61107.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FieldDetail {
    /// Six-group dotted OBIS code for DLMS, the id as sent for IEC 61107.
    pub obis: Option<String>,
    pub name: String,
    /// The value as received.
    pub raw: RawValue,
    pub scaler: Option<i8>,
    /// raw x 10^scaler, when numeric.
    pub value: Option<f64>,
    pub unit: Option<String>,
    /// A reading of non-numeric values (a date-time, flags).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// For values sent without an OBIS code: the code the documented list layout gives them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inferred_obis: Option<String>,
    /// Decoded from content that is not verified (a frame whose FCS failed, a push decrypted
    /// without its authentication key): the span's note says why.
    #[serde(skip_serializing_if = "is_false")]
    pub unverified: bool,
    /// M-Bus only: the storage number, tariff and subunit of the DIFEs, and the DIF's function.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tariff: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subunit: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function: Option<&'static str>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl FieldDetail {
    /// The raw value as text: strings as they are, numbers as numbers.
    pub fn raw_text(&self) -> String {
        self.raw.text()
    }

    /// A field with what every protocol has: id, name, raw value, scaler, value and unit (the
    /// rest unset: no text, not inferred, verified, no M-Bus storage/tariff/subunit/function).
    pub fn plain(
        obis: Option<String>,
        name: String,
        raw: RawValue,
        scaler: Option<i8>,
        value: Option<f64>,
        unit: Option<String>,
    ) -> Self {
        FieldDetail {
            obis,
            name,
            raw,
            scaler,
            value,
            unit,
            text: None,
            inferred_obis: None,
            unverified: false,
            storage: None,
            tariff: None,
            subunit: None,
            function: None,
        }
    }

    /// The OBIS code (or id) as sent, an inferred code in brackets, or `-`.
    pub fn code_text(&self) -> String {
        self.obis
            .clone()
            .or_else(|| self.inferred_obis.as_ref().map(|o| format!("({o})")))
            .unwrap_or_else(|| "-".into())
    }

    fn of_han(f: &Field) -> Self {
        FieldDetail {
            obis: f.obis.map(|o| o.to_string()),
            name: f.name(),
            raw: RawValue::of(&f.value),
            scaler: f.scaler,
            value: f.scaled(),
            unit: f.unit.map(str::to_string),
            text: match &f.value {
                Data::DateTime(dt) => Some(datetime_text(dt)),
                _ => None,
            },
            inferred_obis: if f.obis.is_none() {
                f.inferred.map(|o| o.to_string())
            } else {
                None
            },
            unverified: false,
            storage: None,
            tariff: None,
            subunit: None,
            function: None,
        }
    }

    /// A KMP register: `obis` holds the binary register id (`0x0001`), none for the 685-382's
    /// fixed layouts.
    pub fn of_kmp(r: &kmp_register::Register) -> Self {
        use kmp_register::Raw;
        let raw = match &r.raw {
            Raw::UInt(u) => RawValue::UInt(*u),
            Raw::Int(i) => RawValue::Int(*i),
            Raw::Text(t) => RawValue::Text(t.clone()),
            Raw::Bytes(b) => RawValue::Text(hex::encode(b)),
        };
        FieldDetail {
            text: match (r.unit, r.unit_code) {
                (None, Some(code)) if code != 0 => {
                    Some(format!("unit code {code}, not named publicly"))
                }
                _ => None,
            },
            ..FieldDetail::plain(
                r.id.map(|id| format!("0x{id:04X}")),
                r.name.clone(),
                raw,
                r.scaler,
                r.value(),
                r.unit.map(str::to_string),
            )
        }
    }

    /// An M-Bus data record: `obis` holds its DIF/VIF bytes in hex.
    pub fn of_mbus(r: &mbus::Record) -> Self {
        use mbus::Value;
        let raw = match &r.value {
            Value::None => RawValue::Null,
            Value::Int(i) if *i >= 0 => RawValue::UInt(*i as u64),
            Value::Int(i) => RawValue::Int(*i),
            Value::Real(f) => RawValue::Float(f64::from(*f)),
            Value::Text(t) => RawValue::Text(t.clone()),
            Value::Bytes(b) | Value::Date { raw: b, .. } => RawValue::Text(hex::encode(b)),
        };
        let numeric = matches!(r.value, Value::Int(_) | Value::Real(_));
        let text = match (&r.value, &r.kind) {
            (_, mbus::RecordKind::Manufacturer { more: true }) => {
                Some("manufacturer data; more records follow in the next telegram".into())
            }
            (_, mbus::RecordKind::Manufacturer { more: false }) => {
                Some("manufacturer data, kept raw".into())
            }
            (Value::Date { text, .. }, _) => Some(text.clone()),
            _ if r.quantity.manufacturer_specific => {
                Some("manufacturer-specific VIF, kept raw".into())
            }
            _ => None,
        };
        let data = r.kind == mbus::RecordKind::Data;
        FieldDetail {
            obis: Some(r.code()),
            name: r.name(),
            raw,
            scaler: numeric.then_some(r.quantity.exponent),
            value: r.scaled(),
            unit: r.quantity.unit.clone(),
            text,
            inferred_obis: None,
            unverified: false,
            storage: data.then_some(r.storage),
            tariff: data.then_some(r.tariff),
            subunit: data.then_some(r.subunit),
            function: data.then_some(r.function.name()),
        }
    }
}

/// The HDLC header fields.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct HdlcHeaderDetail {
    pub control: String,
    pub control_name: &'static str,
    pub dest: u32,
    pub dest_raw: String,
    pub length_field: usize,
    pub segmented: bool,
    pub shared_start_flag: bool,
    pub src: u32,
    pub src_raw: String,
}

/// Where a frame stands in a segmented message.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SegmentDetail {
    pub last: bool,
    pub n: u32,
}

/// The clear header of a general-glo-ciphering APDU.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CipherDetail {
    pub authenticated: bool,
    pub decrypted: bool,
    pub encrypted: bool,
    pub invocation_counter: u32,
    pub manufacturer: Option<String>,
    pub security_control: String,
    pub system_title: String,
    pub tag: Option<String>,
}

/// A COSEM date-time's parts (the header date-time or the clock in the list).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ClockDetail {
    pub deviation: Option<i16>,
    pub hundredths: Option<u8>,
    pub raw: String,
    pub status: Option<String>,
    pub status_flags: Vec<&'static str>,
}

impl ClockDetail {
    fn of(dt: &DateTime) -> Self {
        ClockDetail {
            deviation: dt.deviation(),
            hundredths: dt.hundredths(),
            raw: hex::encode(&dt.raw),
            status: dt.status().map(|s| format!("0x{s:02X}")),
            status_flags: dt.status_flags(),
        }
    }
}

/// HDLC frame details (keys in alphabetical order).
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct HdlcDetail {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub brand: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cipher: Option<CipherDetail>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clock: Option<ClockDetail>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_scaler: Option<i8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hdlc: Option<HdlcHeaderDetail>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header_time: Option<ClockDetail>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header_time_form: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoke_id: Option<String>,
    /// Present (maybe null) for a decoded message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub list_version: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meter_kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub null_placeholders: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segment: Option<SegmentDetail>,
}

/// An IEC 61107 identification.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct IdentificationDetail {
    pub baud: u32,
    pub baud_char: String,
    pub fast_reaction: bool,
    pub manufacturer: String,
    pub mode: &'static str,
}

impl IdentificationDetail {
    fn of(id: &iec61107::Identification) -> Self {
        IdentificationDetail {
            baud: id.mode.baud(),
            baud_char: id.baud_char.to_string(),
            fast_reaction: id.fast_reaction,
            manufacturer: id.manufacturer.clone(),
            mode: id.mode.name(),
        }
    }
}

/// IEC 61107 span details.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct IecDetail {
    /// The device address of a sign-on request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_marker: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identification: Option<IdentificationDetail>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct KmpFrameDetail {
    pub address: Option<String>,
    pub command: Option<String>,
    /// What the command does, where public (`GetRegister`, `counters`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command_name: Option<&'static str>,
    pub data: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct KmpDetail {
    pub kmp: KmpFrameDetail,
}

/// M-Bus telegram fields (keys in alphabetical order; the fixed header's only when sent).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MbusTelegramDetail {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_no: Option<u8>,
    pub address: u8,
    pub ci: Option<String>,
    pub control: String,
    pub control_name: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manufacturer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub medium: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub medium_name: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub records_hex: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u8>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MbusDetail {
    pub mbus: MbusTelegramDetail,
}

/// A P1 telegram's header and trailer (keys in alphabetical order).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct P1TelegramDetail {
    /// `CRC-16/ARC` when the telegram carries one, `none` for a DSMR 2/3 telegram without.
    pub crc: &'static str,
    pub lines: usize,
    pub manufacturer: String,
    /// The version line 1-3:0.2.8 (DSMR) when sent.
    pub version: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct P1Detail {
    pub p1: P1TelegramDetail,
}

/// A finished optical readout.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ReadoutDetail {
    pub baud: u32,
    pub duration_ms: u64,
    pub echo: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identification: Option<IdentificationDetail>,
    pub port: String,
    pub started: String,
    pub verdict: &'static str,
    pub verdict_text: String,
}

/// Protocol specifics of a span.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(untagged)]
pub enum Details {
    Hdlc(Box<HdlcDetail>),
    Iec61107(IecDetail),
    Kmp(KmpDetail),
    Mbus(MbusDetail),
    P1(P1Detail),
    Readout(ReadoutDetail),
}

/// Everything kamscope says about one span.
#[derive(Debug, Clone, Serialize)]
pub struct SpanDetail {
    pub offset: u64,
    pub len: usize,
    pub protocol: &'static str,
    pub ok: bool,
    pub kind: Option<String>,
    pub checks: Vec<Check>,
    pub hex: String,
    pub time: Option<String>,
    pub list: Option<&'static str>,
    pub meter_id: Option<String>,
    pub meter_type: Option<String>,
    pub ident: Option<String>,
    pub fields: Vec<FieldDetail>,
    /// Why the content could not be decoded, with the failing byte of the span where known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<SpanError>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// What was decoded is not verified (the note says why): every field is marked too.
    #[serde(skip_serializing_if = "is_false")]
    pub unverified: bool,
    /// Why it is not verified, in two or three words ("FCS failed"), for "(unverified: ...)".
    #[serde(skip)]
    pub unverified_reason: Option<&'static str>,
    /// Received right after we sent the same bytes: the optical head's echo of our request.
    #[serde(skip_serializing_if = "is_false")]
    pub echo: bool,
    /// Protocol details: HDLC addresses, clock fields, cipher header, IEC mode, M-Bus header...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Details>,
}

fn datetime_text(dt: &DateTime) -> String {
    let mut s = dt
        .iso8601()
        .unwrap_or_else(|| format!("unspecified ({})", hex::encode(&dt.raw)));
    match dt.deviation() {
        Some(d) => s.push_str(&format!(" deviation {d} min")),
        None => s.push_str(" (deviation not specified)"),
    }
    let flags = dt.status_flags();
    if !flags.is_empty() {
        s.push_str(&format!(" [{}]", flags.join(", ")));
    }
    s
}

/// The fields of an IEC 61107 data block, named.
pub fn iec_fields(block: &iec61107::DataBlock) -> Vec<FieldDetail> {
    let mut out = Vec::new();
    for set in &block.datasets {
        let base_name = iec61107::register_name(&set.address)
            .map(str::to_string)
            .unwrap_or_else(|| format!("Register {}", set.address));
        for (i, v) in set.values.iter().enumerate() {
            let name = if i == 0 {
                base_name.clone()
            } else {
                format!("{base_name} (value {})", i + 1)
            };
            let text = iec61107::is_information_code(&set.address)
                .then(|| iec61107::information_code_flags(&v.raw))
                .flatten()
                .map(|flags| {
                    if flags.is_empty() {
                        "no conditions".to_string()
                    } else {
                        flags.join(", ")
                    }
                });
            let value = v.number();
            out.push(FieldDetail {
                text,
                ..FieldDetail::plain(
                    Some(set.address.clone()),
                    name,
                    RawValue::Text(v.raw.clone()),
                    value.map(|_| 0),
                    value,
                    v.unit.clone(),
                )
            });
        }
    }
    out
}

/// The values of a P1 telegram, one field per value, in the units sent: numbers as their digits
/// (raw) with the decimal point as scaler, timestamps with their UTC offset, hex-encoded ids
/// decoded alongside.
pub fn p1_fields(t: &p1::Telegram) -> Vec<FieldDetail> {
    let mut out = Vec::new();
    for line in &t.lines {
        let base_name = line
            .obis
            .map_or_else(|| format!("Code {}", line.code), |o| o.name());
        for (i, v) in line.values.iter().enumerate() {
            let name = if i == 0 {
                base_name.clone()
            } else {
                format!("{base_name} (value {})", i + 1)
            };
            let (raw, scaler, value, text) = match line.reading(i) {
                p1::Reading::Number { mantissa, decimals } => (
                    match i64::try_from(mantissa) {
                        Ok(m) if m >= 0 => RawValue::UInt(m as u64),
                        Ok(m) => RawValue::Int(m),
                        Err(_) => RawValue::Text(v.raw.clone()),
                    },
                    Some(-(decimals as i8)),
                    v.number(),
                    None,
                ),
                p1::Reading::Time(time) => (
                    RawValue::Text(v.raw.clone()),
                    None,
                    None,
                    Some(format!(
                        "{} ({} time)",
                        time.iso8601(),
                        if time.summer { "summer" } else { "winter" }
                    )),
                ),
                p1::Reading::Text => (
                    RawValue::Text(v.raw.clone()),
                    None,
                    None,
                    p1::hex_ascii(&v.raw).map(|a| format!("\"{a}\" (hex-encoded text)")),
                ),
            };
            let obis = line
                .obis
                .map_or_else(|| line.code.clone(), |o| o.to_string());
            out.push(FieldDetail {
                text,
                ..FieldDetail::plain(Some(obis), name, raw, scaler, value, v.unit.clone())
            });
        }
    }
    out
}

/// Where an IEC 61107 block stopped parsing, as an error of the span.
fn block_error(block: &iec61107::DataBlock) -> Option<SpanError> {
    block
        .broke_at
        .as_ref()
        .map(|(at, why)| SpanError::at(format!("block broke at byte {at}: {why}"), *at))
}

impl SpanDetail {
    fn empty(span: &Span<'_>, checks: Vec<Check>) -> Self {
        SpanDetail {
            offset: span.offset,
            len: span.bytes.len(),
            protocol: span.protocol().name(),
            ok: all_ok(&checks),
            kind: None,
            checks,
            hex: hex::encode(span.bytes),
            time: None,
            list: None,
            meter_id: None,
            meter_type: None,
            ident: None,
            fields: Vec::new(),
            error: None,
            note: None,
            unverified: false,
            unverified_reason: None,
            echo: false,
            details: None,
        }
    }

    /// Describes a span and its decoding.
    pub fn of(span: &Span<'_>, decoded: &Decoded) -> Self {
        let mut checks: Vec<Check> = span.content.checks().to_vec();
        checks.extend_from_slice(decoded.extra_checks());
        // A failed BCC named by the rule the identified meter uses.
        if let Decoded::Iec61107(IecDecoded { bcc: Some(bcc), .. }) = decoded
            && let Some(c) = checks.iter_mut().find(|c| c.name == "BCC")
        {
            *c = *bcc;
        }
        let mut d = SpanDetail::empty(span, checks);
        d.error = decoded.error().cloned();
        match (&span.content, decoded) {
            (Content::Hdlc(frame), Decoded::Hdlc(h)) => d.add_hdlc(frame, h),
            (Content::Iec61107(frame), Decoded::Iec61107(iec)) => {
                d.kind = Some(frame.kind.name().into());
                let mut detail = IecDetail::default();
                if let Some(id) = &iec.ident {
                    d.ident = Some(id.ident.clone());
                    detail.identification = Some(IdentificationDetail::of(id));
                }
                if frame.kind == iec61107::Kind::Request {
                    let text = String::from_utf8_lossy(span.bytes);
                    let address = text
                        .trim_end()
                        .trim_start_matches("/?")
                        .trim_end_matches('!');
                    detail.address = Some(address.to_string());
                    d.note = Some(
                        "sign-on request (an optical head echoes what the reader sends)".into(),
                    );
                }
                if iec.echo {
                    d.echo = true;
                    d.note = Some(format!(
                        "echo of our {}: the optical head repeats what we send",
                        if frame.kind == iec61107::Kind::Request {
                            "request"
                        } else {
                            "message"
                        }
                    ));
                }
                if let Some(block) = &iec.block {
                    d.fields = iec_fields(block);
                    detail.end_marker = Some(block.end_marker);
                    if let Some(e) = block_error(block) {
                        d.error = Some(e);
                    }
                }
                if detail != IecDetail::default() {
                    d.details = Some(Details::Iec61107(detail));
                }
            }
            (Content::Kmp(f), Decoded::Kmp(k)) => d.add_kmp(f, k),
            (Content::Mbus(f), Decoded::Mbus(t)) => {
                d.kind = Some(match f.kind {
                    mbus::Kind::Ack => {
                        d.note = Some("acknowledgement (E5): the meter took the request".into());
                        "ack".into()
                    }
                    mbus::Kind::Short => "short-frame".into(),
                    mbus::Kind::Long => "long-frame".into(),
                });
                if let Some(t) = t {
                    d.add_mbus(span.bytes, t);
                    if t.echo {
                        d.echo = true;
                        d.note = Some(
                            "echo of our frame: the level converter repeats what we send".into(),
                        );
                    }
                }
            }
            (Content::P1(f), Decoded::P1(p)) => d.add_p1(f, p),
            _ => {}
        }
        d
    }

    fn add_p1(&mut self, frame: &p1::Frame, p: &P1Decoded) {
        let t = &p.telegram;
        self.kind = Some("telegram".into());
        self.ident = Some(t.ident.clone());
        self.time = t.time().map(|time| time.iso8601());
        self.meter_id = t.meter_id();
        self.fields = p1_fields(t);
        if !all_ok(&frame.checks) {
            // What a damaged telegram says may be what the damage made of it.
            let end = frame.checks.iter().find(|c| c.name == "end" && !c.ok);
            let reason = if end.is_some() {
                "telegram cut off"
            } else {
                "CRC failed"
            };
            self.unverified = true;
            self.unverified_reason = Some(reason);
            self.note = Some(
                if end.is_some_and(|c| c.actual == CheckValue::Text(p1::NEW_TELEGRAM_BEGAN)) {
                    format!(
                        "telegram cut off after {} bytes: a new telegram began; any value may \
                         be the one the cut hit",
                        self.len
                    )
                } else {
                    format!("unverified: {reason}; any value may be the one the damage hit")
                },
            );
            for f in &mut self.fields {
                f.unverified = true;
            }
        }
        let version = t
            .line(1, 3, 0, 2, 8)
            .and_then(|l| l.values.first())
            .map(|v| v.raw.clone());
        self.details = Some(Details::P1(P1Detail {
            p1: P1TelegramDetail {
                crc: match frame.crc {
                    p1::CrcField::NotSent => "none",
                    _ => "CRC-16/ARC",
                },
                lines: t.lines.len(),
                manufacturer: t.manufacturer().to_string(),
                version,
            },
        }));
    }

    fn add_hdlc(&mut self, frame: &hdlc::Frame, h: &HdlcDecoded) {
        self.kind = Some("hdlc-frame".into());
        let mut detail = HdlcDetail {
            hdlc: frame.header.map(|hd| HdlcHeaderDetail {
                control: format!("0x{:02X}", hd.control),
                control_name: hd.control_name(),
                dest: hd.dest.value(),
                dest_raw: hex::encode(hd.dest.raw()),
                length_field: hd.length,
                segmented: hd.segmented,
                shared_start_flag: frame.shared_start_flag,
                src: hd.src.value(),
                src_raw: hex::encode(hd.src.raw()),
            }),
            segment: match h.segment {
                SegmentState::Whole => None,
                SegmentState::Partial(n) => Some(SegmentDetail { last: false, n }),
                SegmentState::Last(n) => Some(SegmentDetail { last: true, n }),
            },
            ..HdlcDetail::default()
        };
        self.note.clone_from(&h.note);
        if let Some(glo) = &h.cipher {
            self.kind = Some("general-glo-ciphering".into());
            detail.cipher = Some(CipherDetail {
                authenticated: glo.authenticated(),
                // Decrypted without its tag checked, into a push that decodes, counts as
                // decrypted; `unverified` says the rest.
                decrypted: h.decrypted || h.unverified == Some(Unverified::TagNotChecked),
                encrypted: glo.encrypted(),
                invocation_counter: glo.invocation_counter,
                manufacturer: glo.manufacturer(),
                security_control: format!("0x{:02X}", glo.security_control),
                system_title: hex::encode(&glo.system_title),
                tag: glo.tag.map(|t| hex::encode(&t)),
            });
        }
        detail.invoke_id = h.invoke_id.map(|id| format!("0x{id:08X}"));
        if let Some(u) = h.unverified {
            self.unverified = true;
            self.unverified_reason = Some(u.reason());
            // A damaged frame's error says it already ("FCS failed: decoded best-effort, ...").
            if u == Unverified::TagNotChecked {
                self.note = Some(match self.note.take() {
                    Some(n) => format!("{n}; {}", u.describe()),
                    None => u.describe().to_string(),
                });
            }
        }
        // A damaged frame's best-effort message fills the same keys (its kind stays hdlc-frame).
        if let Some(m) = h.message.as_ref().or(h.damaged_message.as_deref()) {
            if h.cipher.is_none() && h.message.is_some() {
                self.kind = Some("data-notification".into());
            }
            self.time = m.time().and_then(DateTime::iso8601);
            self.list = Some(m.list.name());
            self.meter_id = m.meter_id();
            self.meter_type = m.meter_type().map(str::to_string);
            self.fields = m
                .fields
                .iter()
                .map(|f| FieldDetail {
                    unverified: self.unverified,
                    ..FieldDetail::of_han(f)
                })
                .collect();
            detail.brand = Some(m.brand.name());
            detail.list_version = Some(m.list_version().map(str::to_string));
            detail.meter_kind = Some(m.meter_kind.description());
            detail.header_time_form = Some(m.header_time.form());
            detail.header_time = m.header_time.datetime().map(ClockDetail::of);
            detail.clock = m.clock().map(ClockDetail::of);
            detail.null_placeholders = Some(m.null_placeholders);
            detail.current_scaler = Some(m.current_scaler);
        }
        if detail != HdlcDetail::default() {
            self.details = Some(Details::Hdlc(Box::new(detail)));
        }
    }

    fn add_kmp(&mut self, f: &kmp::Frame, k: &KmpDecoded) {
        self.kind = Some(format!(
            "{} {}",
            match f.variant {
                kmp::Variant::AsciiHex => "ascii-hex",
                kmp::Variant::Binary => "binary",
            },
            f.direction.name()
        ));
        let data = f.data();
        if k.echo {
            self.echo = true;
            self.note = Some("echo of our request: the optical head repeats what we send".into());
        }
        match &k.registers {
            Some(Ok(regs)) => self.fields = regs.iter().map(FieldDetail::of_kmp).collect(),
            Some(Err(e)) => {
                self.error = Some(SpanError {
                    message: e.message.clone(),
                    // ASCII-hex: start byte, address and command pairs, then two characters a
                    // byte. Binary stuffing moves bytes, so no offset is claimed there.
                    at: (f.variant == kmp::Variant::AsciiHex).then_some(5 + 2 * e.at),
                })
            }
            None => {}
        }
        self.details = Some(Details::Kmp(KmpDetail {
            kmp: KmpFrameDetail {
                address: f.address().map(|a| format!("0x{a:02X}")),
                command: f.command().map(|c| format!("0x{c:02X}")),
                command_name: f.command().and_then(|c| match f.variant {
                    kmp::Variant::AsciiHex => kmp_register::ascii_command_name(c),
                    kmp::Variant::Binary => kmp_register::binary_command_name(c),
                }),
                data: hex::encode(data),
            },
        }));
    }

    fn add_mbus(&mut self, bytes: &[u8], t: &mbus::Telegram) {
        let h = t.header.as_ref();
        if let Some(h) = h {
            self.meter_id = Some(h.id.clone());
        }
        if let Some(recs) = t.data_records(bytes) {
            self.fields = recs.records.iter().map(FieldDetail::of_mbus).collect();
            if let Some((at, why)) = recs.error {
                self.error = Some(SpanError::at(why, at));
            }
        }
        self.details = Some(Details::Mbus(MbusDetail {
            mbus: MbusTelegramDetail {
                access_no: h.map(|h| h.access_no),
                address: t.address,
                ci: t.ci.map(|c| format!("0x{c:02X}")),
                control: format!("0x{:02X}", t.control),
                control_name: mbus::control_name(t.control),
                id: h.map(|h| h.id.clone()),
                manufacturer: h.map(|h| h.manufacturer.clone()),
                medium: h.map(|h| format!("0x{:02X}", h.medium)),
                medium_name: h.map(|h| mbus::medium_name(h.medium)),
                records_hex: (!t.records.is_empty())
                    .then(|| hex::encode(&bytes[t.records.clone()])),
                signature: h.map(|h| format!("0x{:04X}", h.signature)),
                status: h.map(|h| format!("0x{:02X}", h.status)),
                version: h.map(|h| h.version),
            },
        }));
    }

    /// A finished readout in the shape of `decode`'s spans: `ident`, `fields`, `checks` (the BCC
    /// and its rule), plus the verdict in `details`.
    pub fn of_readout(r: &ReadoutResult) -> Self {
        let checks = match &r.verdict {
            Verdict::Complete { bcc } | Verdict::BadBcc { bcc, .. } => vec![*bcc],
            _ => Vec::new(),
        };
        SpanDetail {
            offset: 0,
            len: r.raw_block.len(),
            protocol: "iec61107",
            ok: r.verdict.ok(),
            kind: Some("readout".into()),
            checks,
            hex: hex::encode(&r.raw_block),
            time: None,
            list: None,
            meter_id: None,
            meter_type: None,
            ident: r.ident.as_ref().map(|i| i.ident.clone()),
            fields: iec_fields(&r.block),
            error: block_error(&r.block),
            note: None,
            unverified: false,
            unverified_reason: None,
            echo: false,
            details: Some(Details::Readout(ReadoutDetail {
                baud: r.baud,
                duration_ms: r.duration_ms,
                echo: r.echo_seen,
                identification: r.ident.as_ref().map(IdentificationDetail::of),
                port: r.port.clone(),
                started: r
                    .started
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                verdict: verdict_kind(&r.verdict),
                verdict_text: r.verdict.describe(),
            })),
        }
    }

    /// For a frame shorter than its length field says: (bytes received, bytes it should have).
    pub fn cut_off(&self) -> Option<(u32, u32)> {
        let c = self.checks.iter().find(|c| c.name == "length")?;
        match (c.expected, c.actual) {
            (CheckValue::Count(want), CheckValue::Count(got)) if got < want => Some((got, want)),
            _ => None,
        }
    }

    /// A failed check of a cut-off frame, told by what is missing rather than by its values: the
    /// first check the frame ended before gets "frame cut off after 172 of 228 bytes: no FCS",
    /// the next ones "no end flag: frame cut off". An FCS that is there although the frame is
    /// short sits where bytes are missing: it "cannot be checked". `None` for any other check.
    pub fn cut_off_text(&self, c: &Check) -> Option<String> {
        let (got, want) = self.cut_off()?;
        if c.ok || c.name == "length" {
            return None;
        }
        let cut = format!("frame cut off after {got} of {want} bytes");
        if c.actual != CheckValue::Missing {
            return (c.name == "FCS").then(|| format!("{cut}: FCS cannot be checked"));
        }
        let first = self
            .checks
            .iter()
            .find(|k| !k.ok && k.actual == CheckValue::Missing);
        Some(if first.is_some_and(|k| k.name == c.name) {
            format!("{cut}: no {}", c.name)
        } else {
            format!("no {}: frame cut off", c.name)
        })
    }

    pub fn hdlc(&self) -> Option<&HdlcDetail> {
        match &self.details {
            Some(Details::Hdlc(h)) => Some(h),
            _ => None,
        }
    }

    pub fn identification(&self) -> Option<&IdentificationDetail> {
        match &self.details {
            Some(Details::Iec61107(i)) => i.identification.as_ref(),
            Some(Details::Readout(r)) => r.identification.as_ref(),
            _ => None,
        }
    }
}

/// A short name for a readout verdict, for scripts.
pub fn verdict_kind(v: &Verdict) -> &'static str {
    match v {
        Verdict::Complete { .. } => "complete",
        Verdict::BadBcc { .. } => "bcc-bad",
        Verdict::Incomplete { .. } => "incomplete",
        Verdict::EchoOnly => "echo-only",
        Verdict::NoAnswer { .. } => "no-answer",
        Verdict::Garbled { .. } => "garbled",
        Verdict::PortError { .. } => "port-error",
        Verdict::Cancelled => "cancelled",
    }
}

/// Frames and decodes a whole buffer at once (tests, small inputs).
pub fn decode_all(bytes: &[u8], decoder: &mut crate::protocol::Decoder) -> Vec<SpanDetail> {
    let mut framer = crate::protocol::Framer::default();
    framer.push(bytes);
    framer.finish();
    let mut out = Vec::new();
    while let Some(span) = framer.next_span() {
        let decoded = decoder.decode(&span);
        out.push(SpanDetail::of(&span, &decoded));
    }
    out
}
