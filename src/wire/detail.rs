//! The description of a span: what `decode --format json` prints for it, what the text form and
//! the Inspector show. Typed all the way: the JSON, the text and the screens read the same values.
//!
//! The JSON keys and their order are a contract with scripts (`tests/reference.rs` holds it):
//! the protocol details keep their keys in alphabetical order.

pub mod json;

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
use crate::protocol::dlms::GloCiphering;
use crate::protocol::framer::{Content, Span};
use crate::protocol::han::{Field, HanMessage};
use crate::protocol::iec_session::Verdict;
use crate::protocol::obis::Obis;
use crate::protocol::{hdlc, iec61107, kmp, kmp_register, mbus, p1};
use serde::Serialize;
use serde::ser::{SerializeStruct, Serializer};
use std::borrow::Cow;
use std::fmt;

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
        self.as_ref().serialize(s)
    }
}

impl RawValue {
    fn of(d: &Data) -> RawValue {
        RawRef::of(d).to_owned()
    }

    /// The same value, borrowed.
    pub fn as_ref(&self) -> RawRef<'_> {
        match self {
            RawValue::Null => RawRef::Null,
            RawValue::Bool(b) => RawRef::Bool(*b),
            RawValue::UInt(u) => RawRef::UInt(*u),
            RawValue::Int(i) => RawRef::Int(*i),
            RawValue::Float(f) => RawRef::Float(*f),
            RawValue::Text(t) => RawRef::Text(t),
            RawValue::List(items) => RawRef::List(items),
        }
    }

    /// As text: strings as they are, anything else as in the JSON.
    pub fn text(&self) -> String {
        let mut out = String::new();
        self.as_ref().write_text(&mut out);
        out
    }
}

/// A value as received, borrowed from what was decoded: the form of [`RawValue`] without its
/// allocations (decode's output writes it straight from the A-XDR data).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RawRef<'a> {
    Null,
    Bool(bool),
    UInt(u64),
    Int(i64),
    Float(f64),
    Text(&'a str),
    /// Shown as upper-case hex text.
    Hex(&'a [u8]),
    List(&'a [RawValue]),
    /// A DLMS array or structure, each element mapped as [`RawRef::of`] does.
    DataList(&'a [Data]),
}

impl<'a> RawRef<'a> {
    /// The JSON form of a DLMS value: numbers as numbers, printable strings as text, binary
    /// strings and date-times as hex, structures as lists.
    pub fn of(d: &'a Data) -> Self {
        match d {
            Data::Null | Data::DontCare => RawRef::Null,
            Data::Boolean(b) => RawRef::Bool(*b),
            Data::Float32(f) => RawRef::Float(f64::from(*f)),
            Data::Float64(f) => RawRef::Float(*f),
            Data::DateTime(dt) => RawRef::Hex(&dt.raw),
            Data::Date(b) => RawRef::Hex(b),
            Data::Time(b) => RawRef::Hex(b),
            Data::BitString { bytes, .. } => RawRef::Hex(bytes),
            // Printable strings as text, anything else (binary octet strings) as hex.
            Data::VisibleString(b) | Data::Utf8String(b) | Data::OctetString(b) => {
                match printable(b) {
                    Some(text) => RawRef::Text(text),
                    None => RawRef::Hex(b),
                }
            }
            Data::Array(items) | Data::Structure(items) => RawRef::DataList(items),
            other => match other.as_i128() {
                Some(i) if i >= 0 => RawRef::UInt(i as u64),
                Some(i) => RawRef::Int(i as i64),
                None => RawRef::Null,
            },
        }
    }

    pub fn to_owned(self) -> RawValue {
        match self {
            RawRef::Null => RawValue::Null,
            RawRef::Bool(b) => RawValue::Bool(b),
            RawRef::UInt(u) => RawValue::UInt(u),
            RawRef::Int(i) => RawValue::Int(i),
            RawRef::Float(f) => RawValue::Float(f),
            RawRef::Text(t) => RawValue::Text(t.to_string()),
            RawRef::Hex(b) => RawValue::Text(hex::encode(b)),
            RawRef::List(items) => RawValue::List(items.to_vec()),
            RawRef::DataList(items) => RawValue::List(items.iter().map(RawValue::of).collect()),
        }
    }

    /// Appends the value as text: strings as they are, anything else as in the JSON.
    pub fn write_text(self, out: &mut String) {
        match self {
            RawRef::Text(t) => out.push_str(t),
            RawRef::Hex(b) => hex::encode_into(b, out),
            // Integers print alike in Rust and in JSON; floats and lists take the JSON form.
            RawRef::UInt(u) => push_decimal(out, u),
            RawRef::Int(i) => {
                if i < 0 {
                    out.push('-');
                }
                push_decimal(out, i.unsigned_abs());
            }
            other => {
                let json = serde_json::to_string(&other).unwrap_or_default();
                out.push_str(&json);
            }
        }
    }
}

impl RawRef<'_> {
    /// Appends the JSON of the value, as its `Serialize` writes it.
    pub fn write_json(self, out: &mut Vec<u8>) {
        match self {
            RawRef::Null => json::null(out),
            RawRef::Bool(b) => json::bool(out, b),
            RawRef::UInt(u) => json::u64(out, u),
            RawRef::Int(i) => json::i64(out, i),
            RawRef::Float(f) => json::f64(out, f),
            RawRef::Text(t) => json::string(out, t),
            RawRef::Hex(b) => json::hex_string(out, b),
            RawRef::List(items) => list_json(out, items.iter().map(RawValue::as_ref)),
            RawRef::DataList(items) => list_json(out, items.iter().map(RawRef::of)),
        }
    }
}

fn list_json<'a>(out: &mut Vec<u8>, items: impl Iterator<Item = RawRef<'a>>) {
    out.push(b'[');
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        item.write_json(out);
    }
    out.push(b']');
}

impl Serialize for RawRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            RawRef::Null => s.serialize_unit(),
            RawRef::Bool(b) => s.serialize_bool(b),
            RawRef::UInt(u) => s.serialize_u64(u),
            RawRef::Int(i) => s.serialize_i64(i),
            RawRef::Float(f) => s.serialize_f64(f),
            RawRef::Text(t) => s.serialize_str(t),
            RawRef::Hex(b) => serialize_hex(b, s),
            RawRef::List(items) => s.collect_seq(items.iter().map(RawValue::as_ref)),
            RawRef::DataList(items) => s.collect_seq(items.iter().map(RawRef::of)),
        }
    }
}

/// Appends `n` in decimal (as `Display` writes it, without `fmt`).
pub fn push_decimal(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend(digits[at..].iter().map(|&d| char::from(d)));
}

/// The bytes as one hex string, built on the stack when short (date-times, ids).
fn serialize_hex<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    const SHORT: usize = 32;
    if bytes.len() > SHORT {
        return s.serialize_str(&hex::encode(bytes));
    }
    let mut buf = [0u8; 2 * SHORT];
    for (pair, &b) in buf.chunks_exact_mut(2).zip(bytes) {
        pair.copy_from_slice(&hex::pair(b));
    }
    s.serialize_str(std::str::from_utf8(&buf[..2 * bytes.len()]).unwrap_or_default())
}

/// A DLMS string shown as text: valid UTF-8 without control characters (the rule of
/// `Data::as_text`, without its copy).
fn printable(b: &[u8]) -> Option<&str> {
    let s = std::str::from_utf8(b).ok()?;
    // ASCII (most ids and versions): the control characters are below 0x20 and 0x7F.
    let ok = if s.is_ascii() {
        b.iter().all(|&c| c >= 0x20 && c != 0x7F)
    } else {
        s.chars().all(|c| !c.is_control())
    };
    ok.then_some(s)
}

/// An OBIS code in its dotted six-group form, on the stack: `1.1.1.7.0.255`.
struct DottedObis {
    buf: [u8; 23],
    len: usize,
}

/// The decimal digits of every byte value (`b"255"`, `b"7"`), built at compile time.
const DECIMAL: [([u8; 3], u8); 256] = {
    let mut table = [([0u8; 3], 0u8); 256];
    let mut n = 0;
    while n < 256 {
        let (h, t, o) = ((n / 100) as u8, (n / 10 % 10) as u8, (n % 10) as u8);
        table[n] = if n >= 100 {
            ([b'0' + h, b'0' + t, b'0' + o], 3)
        } else if n >= 10 {
            ([b'0' + t, b'0' + o, 0], 2)
        } else {
            ([b'0' + o, 0, 0], 1)
        };
        n += 1;
    }
    table
};

impl DottedObis {
    fn of(o: Obis) -> Self {
        let mut d = DottedObis {
            buf: [0; 23],
            len: 0,
        };
        for (i, &g) in o.0.iter().enumerate() {
            if i > 0 {
                d.buf[d.len] = b'.';
                d.len += 1;
            }
            let (digits, n) = DECIMAL[usize::from(g)];
            d.buf[d.len..d.len + 3].copy_from_slice(&digits);
            d.len += usize::from(n);
        }
        d
    }

    fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }
}

/// A HAN field's name: its code's (sent, else inferred), or its value type's without a code.
fn han_name(f: &Field) -> FieldName<'static> {
    match f.code() {
        Some(o) => o.static_name().map_or(FieldName::Obis(o), FieldName::Text),
        None => FieldName::ValueOf(f.value.type_name()),
    }
}

/// A field's code: an OBIS code, or the id as sent (IEC 61107, KMP, M-Bus DIF/VIF).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldCode<'a> {
    Obis(Obis),
    Text(&'a str),
}

impl FieldCode<'_> {
    fn write(self, out: &mut String) {
        match self {
            FieldCode::Obis(o) => {
                out.extend(DottedObis::of(o).as_bytes().iter().map(|&b| char::from(b)))
            }
            FieldCode::Text(t) => out.push_str(t),
        }
    }

    fn width(self) -> usize {
        match self {
            FieldCode::Obis(o) => DottedObis::of(o).len,
            FieldCode::Text(t) => t.len(),
        }
    }
}

impl Serialize for FieldCode<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            FieldCode::Obis(o) => s.serialize_str(DottedObis::of(o).as_str()),
            FieldCode::Text(t) => s.serialize_str(t),
        }
    }
}

/// A field's name: a fixed text, or one composed from its code or value type (rare).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldName<'a> {
    Text(&'a str),
    Obis(Obis),
    /// A value without a code: `Value (double-long-unsigned)`.
    ValueOf(&'static str),
}

impl fmt::Display for FieldName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            FieldName::Text(t) => f.write_str(t),
            FieldName::Obis(o) => o.write_name(f),
            FieldName::ValueOf(type_name) => write!(f, "Value ({type_name})"),
        }
    }
}

impl Serialize for FieldName<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            FieldName::Text(t) => s.serialize_str(t),
            other => s.collect_str(&other),
        }
    }
}

/// A reading of a non-numeric value: a text, or a COSEM date-time told in words.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldText<'a> {
    Text(&'a str),
    DateTime(&'a DateTime),
}

impl fmt::Display for FieldText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            FieldText::Text(t) => f.write_str(t),
            FieldText::DateTime(dt) => f.write_str(&datetime_text(dt)),
        }
    }
}

impl Serialize for FieldText<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            FieldText::Text(t) => s.serialize_str(t),
            FieldText::DateTime(dt) => s.serialize_str(&datetime_text(dt)),
        }
    }
}

/// One field as the JSON and the text form show it, borrowed: from a [`FieldDetail`], or straight
/// from a decoded HAN field (decode's output, no allocation per field). Its `Serialize` is the
/// JSON form of a field; [`FieldDetail`] serializes through it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FieldView<'a> {
    pub obis: Option<FieldCode<'a>>,
    pub name: FieldName<'a>,
    pub raw: RawRef<'a>,
    pub scaler: Option<i8>,
    pub value: Option<f64>,
    pub unit: Option<&'a str>,
    pub text: Option<FieldText<'a>>,
    pub inferred_obis: Option<FieldCode<'a>>,
    pub unverified: bool,
    pub storage: Option<u64>,
    pub tariff: Option<u32>,
    pub subunit: Option<u32>,
    pub function: Option<&'static str>,
}

impl<'a> FieldView<'a> {
    /// A HAN field: the code as sent (an inferred one only when none was sent), its name, the
    /// value as received and scaled.
    pub fn of_han(f: &'a Field, unverified: bool) -> Self {
        FieldView {
            name: han_name(f),
            ..FieldView::of_han_unnamed(f, unverified)
        }
    }

    /// A HAN field without its name (left empty): for decode's JSON, which copies the start
    /// with the name from [`FieldHeads`] and names the field only when that start is new.
    fn of_han_unnamed(f: &'a Field, unverified: bool) -> Self {
        FieldView {
            obis: f.obis.map(FieldCode::Obis),
            name: FieldName::Text(""),
            raw: RawRef::of(&f.value),
            scaler: f.scaler,
            value: f.scaled(),
            unit: f.unit,
            text: match &f.value {
                Data::DateTime(dt) => Some(FieldText::DateTime(dt)),
                _ => None,
            },
            inferred_obis: if f.obis.is_none() {
                f.inferred.map(FieldCode::Obis)
            } else {
                None
            },
            unverified,
            storage: None,
            tariff: None,
            subunit: None,
            function: None,
        }
    }

    pub fn to_detail(self) -> FieldDetail {
        let code = |c: FieldCode<'_>| {
            let mut s = String::new();
            c.write(&mut s);
            s
        };
        FieldDetail {
            obis: self.obis.map(code),
            name: self.name.to_string(),
            raw: self.raw.to_owned(),
            scaler: self.scaler,
            value: self.value,
            unit: self.unit.map(str::to_string),
            text: self.text.map(|t| t.to_string()),
            inferred_obis: self.inferred_obis.map(code),
            unverified: self.unverified,
            storage: self.storage,
            tariff: self.tariff,
            subunit: self.subunit,
            function: self.function,
        }
    }

    /// Appends the code as sent, an inferred code in brackets, or `-`.
    pub fn write_code(&self, out: &mut String) {
        match (self.obis, self.inferred_obis) {
            (Some(c), _) => c.write(out),
            (None, Some(c)) => {
                out.push('(');
                c.write(out);
                out.push(')');
            }
            (None, None) => out.push('-'),
        }
    }

    /// The width of [`FieldView::write_code`]'s text.
    pub fn code_width(&self) -> usize {
        match (self.obis, self.inferred_obis) {
            (Some(c), _) => c.width(),
            (None, Some(c)) => c.width() + 2,
            (None, None) => 1,
        }
    }
}

impl FieldView<'_> {
    /// Appends the JSON of the field, as its `Serialize` writes it (a test holds them equal).
    pub fn write_json(&self, out: &mut Vec<u8>) {
        self.write_json_head(out);
        self.write_json_rest(out);
    }

    /// The start of the field's JSON, which its codes alone decide (see [`FieldHeads`]):
    /// `{"obis":"1.1.1.7.0.255","name":"Active power import (P+)","raw":`.
    fn write_json_head(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"obis\":");
        code_json(out, self.obis);
        out.extend_from_slice(b",\"name\":");
        match self.name {
            FieldName::Text(t) => json::string(out, t),
            other => json::string(out, &other.to_string()),
        }
        out.extend_from_slice(b",\"raw\":");
    }

    /// The rest of the field's JSON, from its raw value on.
    fn write_json_rest(&self, out: &mut Vec<u8>) {
        self.raw.write_json(out);
        out.extend_from_slice(b",\"scaler\":");
        json::opt_i64(out, self.scaler.map(i64::from));
        out.extend_from_slice(b",\"value\":");
        json::opt_f64(out, self.value);
        out.extend_from_slice(b",\"unit\":");
        json::opt_string(out, self.unit);
        match self.text {
            Some(FieldText::Text(t)) => {
                out.extend_from_slice(b",\"text\":");
                json::string(out, t);
            }
            Some(FieldText::DateTime(dt)) => {
                out.extend_from_slice(b",\"text\":");
                json::string(out, &datetime_text(dt));
            }
            None => {}
        }
        if self.inferred_obis.is_some() {
            out.extend_from_slice(b",\"inferred_obis\":");
            code_json(out, self.inferred_obis);
        }
        if self.unverified {
            out.extend_from_slice(b",\"unverified\":true");
        }
        if let Some(v) = self.storage {
            out.extend_from_slice(b",\"storage\":");
            json::u64(out, v);
        }
        if let Some(v) = self.tariff {
            out.extend_from_slice(b",\"tariff\":");
            json::u64(out, v.into());
        }
        if let Some(v) = self.subunit {
            out.extend_from_slice(b",\"subunit\":");
            json::u64(out, v.into());
        }
        if let Some(v) = self.function {
            out.extend_from_slice(b",\"function\":");
            json::string(out, v);
        }
        out.push(b'}');
    }
}

/// The starts of HAN fields' JSON ([`FieldView::write_json_head`]) by the codes that decide
/// them, kept from span to span by decode's writer: a meter pushes the same list every few
/// seconds, so each field's code and name are then written with one copy rather than composed.
/// Holds at most [`FieldHeads::MAX`] starts (a capture of many codes writes the rest uncached).
#[derive(Debug, Default)]
pub struct FieldHeads {
    /// Open addressing by key: the key (0 for an empty slot) and the start's range in `bytes`.
    slots: Vec<(u64, u32, u32)>,
    bytes: Vec<u8>,
    kept: usize,
}

impl FieldHeads {
    const SLOTS: usize = 256;
    /// Fewer than the slots, so a probe always meets an empty one.
    const MAX: usize = 192;

    /// What decides a HAN field's JSON start: the code sent, else the inferred one (its name
    /// comes from that code and its `obis` is null). `None` for a field without a code (its name
    /// is composed from the value's type): not kept.
    fn key(f: &Field) -> Option<u64> {
        let (tag, code) = match (f.obis, f.inferred) {
            (Some(o), _) => (0x80, o),
            (None, Some(o)) => (0x40, o),
            (None, None) => return None,
        };
        let [a, b, c, d, e, g] = code.0;
        Some(u64::from_be_bytes([tag, 0, a, b, c, d, e, g]))
    }

    /// Appends the start of the JSON of the field whose key is `key`: the kept copy, else
    /// written by `write_head` (and kept).
    fn write(
        &mut self,
        key: Option<u64>,
        out: &mut Vec<u8>,
        write_head: impl FnOnce(&mut Vec<u8>),
    ) {
        let Some(key) = key else {
            return write_head(out);
        };
        if self.slots.is_empty() {
            self.slots = vec![(0, 0, 0); Self::SLOTS];
        }
        // Fibonacci hashing: the top byte of the product spreads the six code bytes.
        let mut i = (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as usize;
        loop {
            let (k, start, end) = self.slots[i];
            if k == key {
                out.extend_from_slice(&self.bytes[start as usize..end as usize]);
                return;
            }
            if k == 0 {
                break;
            }
            i = (i + 1) % Self::SLOTS;
        }
        let at = out.len();
        write_head(out);
        if self.kept < Self::MAX {
            let start = self.bytes.len() as u32;
            self.bytes.extend_from_slice(&out[at..]);
            self.slots[i] = (key, start, self.bytes.len() as u32);
            self.kept += 1;
        }
    }
}

fn code_json(out: &mut Vec<u8>, code: Option<FieldCode<'_>>) {
    match code {
        None => json::null(out),
        Some(FieldCode::Obis(o)) => json::plain_string(out, DottedObis::of(o).as_bytes()),
        Some(FieldCode::Text(t)) => json::string(out, t),
    }
}

impl Serialize for FieldView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_struct("FieldDetail", 13)?;
        m.serialize_field("obis", &self.obis)?;
        m.serialize_field("name", &self.name)?;
        m.serialize_field("raw", &self.raw)?;
        m.serialize_field("scaler", &self.scaler)?;
        m.serialize_field("value", &self.value)?;
        m.serialize_field("unit", &self.unit)?;
        if let Some(t) = &self.text {
            m.serialize_field("text", t)?;
        }
        if let Some(o) = &self.inferred_obis {
            m.serialize_field("inferred_obis", o)?;
        }
        if self.unverified {
            m.serialize_field("unverified", &true)?;
        }
        if let Some(v) = &self.storage {
            m.serialize_field("storage", v)?;
        }
        if let Some(v) = &self.tariff {
            m.serialize_field("tariff", v)?;
        }
        if let Some(v) = &self.subunit {
            m.serialize_field("subunit", v)?;
        }
        if let Some(v) = &self.function {
            m.serialize_field("function", v)?;
        }
        m.end()
    }
}

/// One decoded field, in the shape shared by DLMS and IEC 61107 (its JSON form: [`FieldView`]).
#[derive(Debug, Clone, PartialEq)]
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
    pub text: Option<String>,
    /// For values sent without an OBIS code: the code the documented list layout gives them.
    pub inferred_obis: Option<String>,
    /// Decoded from content that is not verified (a frame whose FCS failed, a push decrypted
    /// without its authentication key): the span's note says why.
    pub unverified: bool,
    /// M-Bus only: the storage number, tariff and subunit of the DIFEs, and the DIF's function.
    pub storage: Option<u64>,
    pub tariff: Option<u32>,
    pub subunit: Option<u32>,
    pub function: Option<&'static str>,
}

impl Serialize for FieldDetail {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.view().serialize(s)
    }
}

impl FieldDetail {
    /// The same field, borrowed: what the JSON and the text form are written from.
    pub fn view(&self) -> FieldView<'_> {
        FieldView {
            obis: self.obis.as_deref().map(FieldCode::Text),
            name: FieldName::Text(&self.name),
            raw: self.raw.as_ref(),
            scaler: self.scaler,
            value: self.value,
            unit: self.unit.as_deref(),
            text: self.text.as_deref().map(FieldText::Text),
            inferred_obis: self.inferred_obis.as_deref().map(FieldCode::Text),
            unverified: self.unverified,
            storage: self.storage,
            tariff: self.tariff,
            subunit: self.subunit,
            function: self.function,
        }
    }

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
            status: dt.status().map(hex::byte_text),
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

/// Everything kamscope says about one span (its JSON form: [`span_json`]).
#[derive(Debug, Clone)]
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
    pub error: Option<SpanError>,
    pub note: Option<String>,
    /// What was decoded is not verified (the note says why): every field is marked too.
    pub unverified: bool,
    /// Why it is not verified, in two or three words ("FCS failed"), for "(unverified: ...)".
    pub unverified_reason: Option<&'static str>,
    /// Received right after we sent the same bytes: the optical head's echo of our request.
    pub echo: bool,
    /// Protocol details: HDLC addresses, clock fields, cipher header, IEC mode, M-Bus header...
    pub details: Option<Details>,
}

impl Serialize for SpanDetail {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        span_json(self, Fields::Listed(&self.fields), s)
    }
}

/// The fields of a span: its own list, or the HAN fields of the message it decoded to.
#[derive(Debug, Clone, Copy)]
pub enum Fields<'a> {
    Listed(&'a [FieldDetail]),
    Han {
        fields: &'a [Field],
        unverified: bool,
    },
}

impl<'a> Fields<'a> {
    pub fn len(self) -> usize {
        match self {
            Fields::Listed(f) => f.len(),
            Fields::Han { fields, .. } => fields.len(),
        }
    }

    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    pub fn get(self, i: usize) -> FieldView<'a> {
        match self {
            Fields::Listed(f) => f[i].view(),
            Fields::Han { fields, unverified } => FieldView::of_han(&fields[i], unverified),
        }
    }

    pub fn iter(self) -> impl Iterator<Item = FieldView<'a>> {
        (0..self.len()).map(move |i| self.get(i))
    }
}

impl Serialize for Fields<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

/// A span's description as `decode` writes it. A HDLC span (the hot case) is described straight
/// from its decoding: its JSON is written from the frame and the message without the owned
/// strings of a [`SpanDetail`], and its HAN fields stay borrowed. Other spans keep a
/// [`SpanDetail`].
#[derive(Debug)]
pub struct SpanOutput<'a> {
    form: OutputForm<'a>,
}

#[derive(Debug)]
enum OutputForm<'a> {
    Hdlc(HdlcSpan<'a>),
    /// Boxed: the other protocols are the rare case, the HDLC form small to move.
    Described(Box<SpanDetail>),
}

impl<'a> SpanOutput<'a> {
    pub fn of(span: &'a Span<'a>, decoded: &'a Decoded) -> Self {
        let form = match HdlcSpan::of(span, decoded) {
            Some(hdlc) => OutputForm::Hdlc(hdlc),
            None => OutputForm::Described(Box::new(SpanDetail::of(span, decoded))),
        };
        SpanOutput { form }
    }

    /// The owned description, without the HAN fields (those are in [`SpanOutput::fields`]).
    pub fn detail(&self) -> Cow<'_, SpanDetail> {
        match &self.form {
            OutputForm::Hdlc(h) => Cow::Owned(h.detail(false)),
            OutputForm::Described(d) => Cow::Borrowed(d),
        }
    }

    pub fn fields(&self) -> Fields<'_> {
        match &self.form {
            OutputForm::Hdlc(h) => h.fields(),
            OutputForm::Described(d) => Fields::Listed(&d.fields),
        }
    }

    /// Appends the JSON of the span (one line, no new line), as its `Serialize` writes it (a
    /// test holds them equal). `heads`: the field starts kept from the spans before.
    pub fn write_json(&self, out: &mut Vec<u8>, heads: &mut FieldHeads) -> Result<(), json::Error> {
        match &self.form {
            OutputForm::Hdlc(h) => {
                h.write_json(out, heads);
                Ok(())
            }
            OutputForm::Described(d) => SpanParts::of(d).write_json(out, heads),
        }
    }
}

impl Serialize for SpanOutput<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        span_json(&self.detail(), self.fields(), s)
    }
}

/// A HDLC span and its decoding, borrowed: the one home of what kamscope says about a HDLC frame
/// ([`SpanDetail`] is made from it, decode's JSON is written from it).
#[derive(Debug)]
struct HdlcSpan<'a> {
    span: &'a Span<'a>,
    decoded: &'a Decoded,
    frame: &'a hdlc::Frame,
    /// The frame's checks (an HDLC frame keeps what they compare and makes them when asked).
    own_checks: Vec<Check>,
    h: &'a HdlcDecoded,
    kind: &'static str,
    /// The message shown: the decoded one, else the best-effort one of a damaged frame.
    message: Option<&'a HanMessage>,
    note: Option<Cow<'a, str>>,
}

impl<'a> HdlcSpan<'a> {
    fn of(span: &'a Span<'a>, decoded: &'a Decoded) -> Option<Self> {
        let (Content::Hdlc(frame), Decoded::Hdlc(h)) = (&span.content, decoded) else {
            return None;
        };
        let message = shown_message(h);
        // A damaged frame's best-effort message fills the same keys (its kind stays hdlc-frame).
        let kind = if h.cipher.is_some() {
            "general-glo-ciphering"
        } else if h.message.is_some() {
            "data-notification"
        } else {
            "hdlc-frame"
        };
        // A damaged frame's error says it already ("FCS failed: decoded best-effort, ...").
        let note = match (h.unverified, h.note.as_deref()) {
            (Some(u @ Unverified::TagNotChecked), Some(n)) => {
                Some(Cow::Owned(format!("{n}; {}", u.describe())))
            }
            (Some(u @ Unverified::TagNotChecked), None) => Some(Cow::Borrowed(u.describe())),
            (_, n) => n.map(Cow::Borrowed),
        };
        Some(HdlcSpan {
            span,
            decoded,
            frame,
            own_checks: frame.checks(),
            h,
            kind,
            message,
            note,
        })
    }

    /// The span's own checks, then those of its decoding.
    fn checks(&self) -> [&[Check]; 2] {
        [&self.own_checks, self.decoded.extra_checks()]
    }

    fn ok(&self) -> bool {
        match self.checks() {
            [own, []] => all_ok(own),
            [[], extra] => all_ok(extra),
            [own, extra] => all_ok(own) && all_ok(extra),
        }
    }

    fn unverified(&self) -> bool {
        self.h.unverified.is_some()
    }

    fn fields(&self) -> Fields<'a> {
        match self.message {
            Some(m) => Fields::Han {
                fields: m.fields(),
                unverified: self.unverified(),
            },
            None => Fields::Listed(&[]),
        }
    }

    fn segment(&self) -> Option<SegmentDetail> {
        match self.h.segment {
            SegmentState::Whole => None,
            SegmentState::Partial(n) => Some(SegmentDetail { last: false, n }),
            SegmentState::Last(n) => Some(SegmentDetail { last: true, n }),
        }
    }

    fn cipher(&self, glo: &GloCiphering) -> CipherDetail {
        CipherDetail {
            authenticated: glo.authenticated(),
            // Decrypted without its tag checked, into a push that decodes, counts as decrypted;
            // `unverified` says the rest.
            decrypted: self.h.decrypted || self.h.unverified == Some(Unverified::TagNotChecked),
            encrypted: glo.encrypted(),
            invocation_counter: glo.invocation_counter,
            manufacturer: glo.manufacturer(),
            security_control: hex::byte_text(glo.security_control),
            system_title: hex::encode(&glo.system_title),
            tag: glo.tag.map(|t| hex::encode(&t)),
        }
    }

    /// Whether there is anything for `details` (else the key is left out).
    fn has_details(&self) -> bool {
        self.message.is_some()
            || self.h.cipher.is_some()
            || self.frame.header.is_some()
            || self.h.invoke_id.is_some()
            || self.h.segment != SegmentState::Whole
    }

    /// The owned description; `han_fields`: with the fields of the message.
    fn detail(&self, han_fields: bool) -> SpanDetail {
        let [own, extra] = self.checks();
        let mut checks = Vec::with_capacity(own.len() + extra.len());
        checks.extend_from_slice(own);
        checks.extend_from_slice(extra);
        let mut d = SpanDetail::empty(self.span, checks);
        d.error = self.decoded.error().cloned();
        d.kind = Some(self.kind.into());
        d.note = self.note.as_deref().map(str::to_string);
        if let Some(u) = self.h.unverified {
            d.unverified = true;
            d.unverified_reason = Some(u.reason());
        }
        if let Some(m) = self.message {
            d.time = m.time().as_ref().and_then(iso8601);
            d.list = Some(m.list.name());
            d.meter_id = m.meter_id();
            d.meter_type = m.meter_type().map(str::to_string);
            if han_fields {
                d.fields = self.fields().iter().map(FieldView::to_detail).collect();
            }
        }
        if self.has_details() {
            d.details = Some(Details::Hdlc(Box::new(self.hdlc_detail())));
        }
        d
    }

    fn hdlc_detail(&self) -> HdlcDetail {
        let m = self.message;
        HdlcDetail {
            brand: m.map(|m| m.brand.name()),
            cipher: self.h.cipher.as_deref().map(|glo| self.cipher(glo)),
            clock: m.and_then(HanMessage::clock).as_ref().map(ClockDetail::of),
            current_scaler: m.map(|m| m.current_scaler),
            hdlc: self.frame.header.map(|hd| HdlcHeaderDetail {
                control: hex::byte_text(hd.control),
                control_name: hd.control_name(),
                dest: hd.dest.value(),
                dest_raw: hex::encode(hd.dest.raw()),
                length_field: hd.length,
                segmented: hd.segmented,
                shared_start_flag: self.frame.shared_start_flag,
                src: hd.src.value(),
                src_raw: hex::encode(hd.src.raw()),
            }),
            header_time: m
                .and_then(|m| m.header_time.datetime())
                .map(ClockDetail::of),
            header_time_form: m.map(|m| m.header_time.form()),
            invoke_id: self.h.invoke_id.map(hex::word_text),
            list_version: m.map(|m| m.list_version().map(str::to_string)),
            meter_kind: m.map(|m| m.meter_kind.description()),
            null_placeholders: m.map(|m| m.null_placeholders),
            segment: self.segment(),
        }
    }

    /// Appends the JSON of the span: [`HdlcSpan::detail`]'s `Serialize`, written straight.
    fn write_json(&self, out: &mut Vec<u8>, heads: &mut FieldHeads) {
        let m = self.message;
        let time = m.and_then(HanMessage::time).as_ref().and_then(Iso8601::of);
        let meter_id = m.and_then(HanMessage::meter_id);
        let parts = SpanParts {
            offset: self.span.offset,
            len: self.span.bytes.len(),
            protocol: self.span.protocol().name(),
            ok: self.ok(),
            kind: Some(self.kind),
            checks: self.checks(),
            hex: SpanHex::Bytes(self.span.bytes),
            time: time.as_ref().map(Iso8601::as_str),
            list: m.map(|m| m.list.name()),
            meter_id: meter_id.as_deref(),
            meter_type: m.and_then(HanMessage::meter_type),
            ident: None,
            fields: self.fields(),
            error: self.decoded.error().map(|e| e.message.as_str()),
            note: self.note.as_deref(),
            unverified: self.unverified(),
            echo: false,
            details: if self.has_details() {
                DetailsJson::Hdlc(self)
            } else {
                DetailsJson::None
            },
        };
        // The details of a HDLC span are written straight: no error can come.
        let _ = parts.write_json(out, heads);
    }

    /// Appends the JSON of [`HdlcSpan::hdlc_detail`], as its `Serialize` writes it.
    fn write_details_json(&self, out: &mut Vec<u8>) {
        let m = self.message;
        let mut o = json::Object::begin(out);
        if let Some(m) = m {
            json::plain_str(o.key(b"brand"), m.brand.name());
        }
        if let Some(glo) = self.h.cipher.as_deref() {
            let c = self.cipher(glo);
            let mut m = json::Object::begin(o.key(b"cipher"));
            json::bool(m.key(b"authenticated"), c.authenticated);
            json::bool(m.key(b"decrypted"), c.decrypted);
            json::bool(m.key(b"encrypted"), c.encrypted);
            json::u64(m.key(b"invocation_counter"), c.invocation_counter.into());
            json::opt_string(m.key(b"manufacturer"), c.manufacturer.as_deref());
            json::string(m.key(b"security_control"), &c.security_control);
            json::string(m.key(b"system_title"), &c.system_title);
            json::opt_string(m.key(b"tag"), c.tag.as_deref());
            m.end();
        }
        if let Some(dt) = m.and_then(HanMessage::clock) {
            clock_json(o.key(b"clock"), &dt);
        }
        if let Some(m) = m {
            json::i64(o.key(b"current_scaler"), m.current_scaler.into());
        }
        if let Some(hd) = &self.frame.header {
            let mut h = json::Object::begin(o.key(b"hdlc"));
            json::plain_string(h.key(b"control"), &hex::byte_0x(hd.control));
            json::plain_str(h.key(b"control_name"), hd.control_name());
            json::u64(h.key(b"dest"), hd.dest.value().into());
            json::hex_string(h.key(b"dest_raw"), hd.dest.raw());
            json::u64(h.key(b"length_field"), hd.length as u64);
            json::bool(h.key(b"segmented"), hd.segmented);
            json::bool(h.key(b"shared_start_flag"), self.frame.shared_start_flag);
            json::u64(h.key(b"src"), hd.src.value().into());
            json::hex_string(h.key(b"src_raw"), hd.src.raw());
            h.end();
        }
        if let Some(dt) = m.and_then(|m| m.header_time.datetime()) {
            clock_json(o.key(b"header_time"), dt);
        }
        if let Some(m) = m {
            json::plain_str(o.key(b"header_time_form"), m.header_time.form());
        }
        if let Some(id) = self.h.invoke_id {
            json::plain_string(o.key(b"invoke_id"), &hex::word_0x(id));
        }
        if let Some(m) = m {
            json::opt_string(o.key(b"list_version"), m.list_version());
            json::plain_str(o.key(b"meter_kind"), m.meter_kind.description());
            json::u64(o.key(b"null_placeholders"), m.null_placeholders as u64);
        }
        if let Some(s) = self.segment() {
            let mut m = json::Object::begin(o.key(b"segment"));
            json::bool(m.key(b"last"), s.last);
            json::u64(m.key(b"n"), s.n.into());
            m.end();
        }
        o.end();
    }
}

/// The hex text of a span: kept, or written from its bytes.
enum SpanHex<'a> {
    Text(&'a str),
    Bytes(&'a [u8]),
}

/// The protocol details of a span, for its JSON.
enum DetailsJson<'a> {
    None,
    Hdlc(&'a HdlcSpan<'a>),
    Described(&'a Details),
}

/// The top-level values of a span in their JSON order, borrowed: the one writer of a span's
/// JSON line, for a [`SpanDetail`] and for a [`HdlcSpan`] alike.
struct SpanParts<'a> {
    offset: u64,
    len: usize,
    protocol: &'static str,
    ok: bool,
    kind: Option<&'a str>,
    checks: [&'a [Check]; 2],
    hex: SpanHex<'a>,
    time: Option<&'a str>,
    list: Option<&'static str>,
    meter_id: Option<&'a str>,
    meter_type: Option<&'a str>,
    ident: Option<&'a str>,
    fields: Fields<'a>,
    error: Option<&'a str>,
    note: Option<&'a str>,
    unverified: bool,
    echo: bool,
    details: DetailsJson<'a>,
}

impl<'a> SpanParts<'a> {
    fn of(d: &'a SpanDetail) -> Self {
        SpanParts {
            offset: d.offset,
            len: d.len,
            protocol: d.protocol,
            ok: d.ok,
            kind: d.kind.as_deref(),
            checks: [&d.checks, &[]],
            hex: SpanHex::Text(&d.hex),
            time: d.time.as_deref(),
            list: d.list,
            meter_id: d.meter_id.as_deref(),
            meter_type: d.meter_type.as_deref(),
            ident: d.ident.as_deref(),
            fields: Fields::Listed(&d.fields),
            error: d.error.as_ref().map(|e| e.message.as_str()),
            note: d.note.as_deref(),
            unverified: d.unverified,
            echo: d.echo,
            details: match &d.details {
                Some(details) => DetailsJson::Described(details),
                None => DetailsJson::None,
            },
        }
    }

    /// Appends the JSON of the span (one line, no new line), as [`span_json`] writes it: the
    /// keys, checks and fields as fixed byte strings, described details through [`json::write`].
    fn write_json(&self, out: &mut Vec<u8>, heads: &mut FieldHeads) -> Result<(), json::Error> {
        out.reserve(4096);
        out.extend_from_slice(b"{\"offset\":");
        json::u64(out, self.offset);
        out.extend_from_slice(b",\"len\":");
        json::u64(out, self.len as u64);
        out.extend_from_slice(b",\"protocol\":");
        json::plain_str(out, self.protocol);
        out.extend_from_slice(b",\"ok\":");
        json::bool(out, self.ok);
        out.extend_from_slice(b",\"kind\":");
        json::opt_string(out, self.kind);
        out.extend_from_slice(b",\"checks\":[");
        for (i, c) in self.checks.iter().flat_map(|c| c.iter()).enumerate() {
            if i > 0 {
                out.push(b',');
            }
            check_json(out, c);
        }
        out.extend_from_slice(b"],\"hex\":");
        match self.hex {
            SpanHex::Text(t) => json::plain_str(out, t),
            SpanHex::Bytes(b) => json::hex_string(out, b),
        }
        out.extend_from_slice(b",\"time\":");
        json::opt_string(out, self.time);
        out.extend_from_slice(b",\"list\":");
        json::opt_string(out, self.list);
        out.extend_from_slice(b",\"meter_id\":");
        json::opt_string(out, self.meter_id);
        out.extend_from_slice(b",\"meter_type\":");
        json::opt_string(out, self.meter_type);
        out.extend_from_slice(b",\"ident\":");
        json::opt_string(out, self.ident);
        out.extend_from_slice(b",\"fields\":[");
        match self.fields {
            Fields::Han { fields, unverified } => {
                for (i, f) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    let view = FieldView::of_han_unnamed(f, unverified);
                    heads.write(FieldHeads::key(f), out, |out| {
                        let named = FieldView {
                            name: han_name(f),
                            ..view
                        };
                        named.write_json_head(out);
                    });
                    view.write_json_rest(out);
                }
            }
            Fields::Listed(fields) => {
                for (i, f) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    f.view().write_json(out);
                }
            }
        }
        out.push(b']');
        if let Some(e) = self.error {
            out.extend_from_slice(b",\"error\":");
            json::string(out, e);
        }
        if let Some(n) = self.note {
            out.extend_from_slice(b",\"note\":");
            json::string(out, n);
        }
        if self.unverified {
            out.extend_from_slice(b",\"unverified\":true");
        }
        if self.echo {
            out.extend_from_slice(b",\"echo\":true");
        }
        match self.details {
            DetailsJson::None => {}
            DetailsJson::Hdlc(h) => {
                out.extend_from_slice(b",\"details\":");
                h.write_details_json(out);
            }
            DetailsJson::Described(details) => {
                out.extend_from_slice(b",\"details\":");
                json::write(details, out)?;
            }
        }
        out.push(b'}');
        Ok(())
    }
}

/// Appends the JSON of [`ClockDetail::of`]`(dt)`, as its `Serialize` writes it.
fn clock_json(out: &mut Vec<u8>, dt: &DateTime) {
    let mut m = json::Object::begin(out);
    json::opt_i64(m.key(b"deviation"), dt.deviation().map(i64::from));
    json::opt_i64(m.key(b"hundredths"), dt.hundredths().map(i64::from));
    json::hex_string(m.key(b"raw"), &dt.raw);
    match dt.status() {
        Some(s) => json::plain_string(m.key(b"status"), &hex::byte_0x(s)),
        None => json::null(m.key(b"status")),
    }
    let flags = m.key(b"status_flags");
    flags.push(b'[');
    for (i, f) in dt.status_flags().iter().enumerate() {
        if i > 0 {
            flags.push(b',');
        }
        json::string(flags, f);
    }
    flags.push(b']');
    m.end();
}

/// A check as [`CheckJson`] writes it.
fn check_json(out: &mut Vec<u8>, c: &Check) {
    out.extend_from_slice(b"{\"name\":");
    json::string(out, c.name);
    out.extend_from_slice(if c.ok {
        b",\"ok\":true,\"expected\":"
    } else {
        b",\"ok\":false,\"expected\":"
    });
    check_value_json(out, c.expected);
    out.extend_from_slice(b",\"actual\":");
    check_value_json(out, c.actual);
    if let Some(rule) = c.rule {
        out.extend_from_slice(b",\"rule\":");
        json::string(out, rule);
    }
    out.push(b'}');
}

fn check_value_json(out: &mut Vec<u8>, v: CheckValue) {
    // The hex values (most checks) as copies of a known size.
    match v {
        CheckValue::Hex8(b) => {
            let [zero, x, hi, lo] = hex::byte_0x(b);
            out.extend_from_slice(&[b'"', zero, x, hi, lo, b'"']);
        }
        CheckValue::Hex16(w) => {
            let [zero, x, a, b, c, d] = hex::half_word_0x(w);
            out.extend_from_slice(&[b'"', zero, x, a, b, c, d, b'"']);
        }
        CheckValue::Count(n) => {
            out.push(b'"');
            json::u64(out, n.into());
            out.push(b'"');
        }
        CheckValue::Text(t) => json::string(out, t),
        _ => match CheckValueText::of(v) {
            Some(text) => json::plain_string(out, &text.buf[..text.len]),
            None => json::null(out),
        },
    }
}

/// The message a HDLC span shows: the decoded one, else the best-effort one of a damaged frame.
fn shown_message(h: &HdlcDecoded) -> Option<&HanMessage> {
    h.message.as_ref().or(h.damaged_message.as_deref())
}

/// The JSON form of a span (a contract with scripts: `tests/reference.rs` holds it).
fn span_json<S: Serializer>(d: &SpanDetail, fields: Fields<'_>, s: S) -> Result<S::Ok, S::Error> {
    let mut m = s.serialize_struct("SpanDetail", 18)?;
    m.serialize_field("offset", &d.offset)?;
    m.serialize_field("len", &d.len)?;
    m.serialize_field("protocol", d.protocol)?;
    m.serialize_field("ok", &d.ok)?;
    m.serialize_field("kind", &d.kind)?;
    m.serialize_field("checks", &ChecksJson(&d.checks))?;
    m.serialize_field("hex", &d.hex)?;
    m.serialize_field("time", &d.time)?;
    m.serialize_field("list", &d.list)?;
    m.serialize_field("meter_id", &d.meter_id)?;
    m.serialize_field("meter_type", &d.meter_type)?;
    m.serialize_field("ident", &d.ident)?;
    m.serialize_field("fields", &fields)?;
    if let Some(e) = &d.error {
        m.serialize_field("error", e)?;
    }
    if let Some(n) = &d.note {
        m.serialize_field("note", n)?;
    }
    if d.unverified {
        m.serialize_field("unverified", &true)?;
    }
    if d.echo {
        m.serialize_field("echo", &true)?;
    }
    if let Some(details) = &d.details {
        m.serialize_field("details", details)?;
    }
    m.end()
}

/// Checks in the JSON form of [`Check`]'s own `Serialize` (a test holds them equal), with the
/// values written on the stack rather than through `Display`: the hot part of decode's output.
struct ChecksJson<'a>(&'a [Check]);

impl Serialize for ChecksJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(CheckJson))
    }
}

struct CheckJson<'a>(&'a Check);

impl Serialize for CheckJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let c = self.0;
        let mut m = s.serialize_struct("Check", 5)?;
        m.serialize_field("name", c.name)?;
        m.serialize_field("ok", &c.ok)?;
        m.serialize_field("expected", &CheckValueJson(c.expected))?;
        m.serialize_field("actual", &CheckValueJson(c.actual))?;
        if let Some(rule) = c.rule {
            m.serialize_field("rule", rule)?;
        }
        m.end()
    }
}

struct CheckValueJson(CheckValue);

impl Serialize for CheckValueJson {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match CheckValueText::of(self.0) {
            Some(text) => s.serialize_str(text.as_str()),
            None => self.0.serialize(s),
        }
    }
}

/// A hex check value as its `Display` shows it, on the stack: "0x7E", "0x9A23", "E6 E7 00".
/// `None` for the other kinds (a count, a text, missing).
pub struct CheckValueText {
    buf: [u8; 11],
    len: usize,
}

impl CheckValueText {
    pub fn of(v: CheckValue) -> Option<Self> {
        let mut t = CheckValueText {
            buf: [0; 11],
            len: 0,
        };
        match v {
            CheckValue::Hex8(v) => t.push(&hex::byte_0x(v)),
            CheckValue::Hex16(v) => t.push(&hex::half_word_0x(v)),
            CheckValue::Bytes { len, bytes } => {
                for (i, &b) in bytes.iter().take(usize::from(len)).enumerate() {
                    if i > 0 {
                        t.push(b" ");
                    }
                    t.push(&hex::pair(b));
                }
            }
            _ => return None,
        }
        Some(t)
    }

    fn push(&mut self, bytes: &[u8]) {
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
}

fn datetime_text(dt: &DateTime) -> String {
    let mut s = String::with_capacity(64);
    if !push_iso8601(dt, &mut s) {
        s.push_str("unspecified (");
        hex::encode_into(&dt.raw, &mut s);
        s.push(')');
    }
    match dt.deviation() {
        Some(d) => {
            s.push_str(" deviation ");
            if d < 0 {
                s.push('-');
            }
            push_decimal(&mut s, u64::from(d.unsigned_abs()));
            s.push_str(" min");
        }
        None => s.push_str(" (deviation not specified)"),
    }
    let flags = dt.status_flags();
    if !flags.is_empty() {
        s.push_str(" [");
        s.push_str(&flags.join(", "));
        s.push(']');
    }
    s
}

/// [`DateTime::iso8601`] without `fmt` (a test holds the two equal).
fn iso8601(dt: &DateTime) -> Option<String> {
    Iso8601::of(dt).map(|t| t.as_str().to_string())
}

/// Appends `YYYY-MM-DDTHH:MM:SS[.hh]` when every part up to the seconds is specified; false (and
/// nothing appended) otherwise.
fn push_iso8601(dt: &DateTime, out: &mut String) -> bool {
    Iso8601::of(dt).map(|t| out.push_str(t.as_str())).is_some()
}

/// `YYYY-MM-DDTHH:MM:SS[.hh]` on the stack, when every part up to the seconds is specified.
struct Iso8601 {
    buf: [u8; 24],
    len: usize,
}

impl Iso8601 {
    fn of(dt: &DateTime) -> Option<Self> {
        let (y, mo, d) = (dt.year()?, dt.month()?, dt.day()?);
        let (h, mi, sec) = (dt.hour()?, dt.minute()?, dt.second()?);
        let mut t = Iso8601 {
            buf: [0; 24],
            len: 0,
        };
        // Zero-padded: four digits for the year (five if it has them), two for the rest.
        let y_digits = if y >= 10_000 { 5 } else { 4 };
        let mut rest = y;
        for at in (0..y_digits).rev() {
            t.buf[at] = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        t.len = y_digits;
        for (sep, v) in [(b'-', mo), (b'-', d), (b'T', h), (b':', mi), (b':', sec)] {
            t.push(sep, v);
        }
        if let Some(hh) = dt.hundredths().filter(|&hh| hh > 0) {
            t.push(b'.', hh);
        }
        Some(t)
    }

    /// A separator and two digits.
    fn push(&mut self, sep: u8, v: u8) {
        self.buf[self.len..self.len + 3].copy_from_slice(&[sep, b'0' + v / 10 % 10, b'0' + v % 10]);
        self.len += 3;
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
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
        if let Some(hdlc) = HdlcSpan::of(span, decoded) {
            return hdlc.detail(true);
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::han::{Scaling, sample_stream};
    use crate::protocol::{Decoder, Framer};

    /// The bytes of every fixture, and a stretch of the sample stream decoded three ways.
    fn inputs() -> Vec<(String, Vec<u8>)> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let mut out = vec![("sample stream".to_string(), sample_stream(40))];
        for dir in ["han", "iec61107", "kmp", "mbus", "p1", "reference"] {
            for entry in std::fs::read_dir(root.join(dir)).unwrap() {
                let path = entry.unwrap().path();
                let bytes = std::fs::read(&path).unwrap();
                let bytes = match path.extension().and_then(|e| e.to_str()) {
                    Some("hex") => hex::parse(std::str::from_utf8(&bytes).unwrap()).unwrap(),
                    Some("bin") => bytes,
                    _ => continue,
                };
                out.push((path.display().to_string(), bytes));
            }
        }
        assert!(out.len() > 30, "only {} inputs", out.len());
        out
    }

    /// decode's output (HAN fields borrowed, JSON written directly) is byte for byte the
    /// `Serialize` and text form of the owned description, for every span of every fixture.
    #[test]
    fn the_direct_output_is_the_serialized_description() {
        let mut spans = 0;
        let mut han_fields = 0;
        let mut heads = FieldHeads::default();
        for (name, bytes) in inputs() {
            for scaling in [
                Scaling::default(),
                Scaling {
                    energy_scaler: -3,
                    current_scaler: Some(-3),
                },
            ] {
                let mut framer = Framer::default();
                let mut decoder = Decoder::new(scaling, None);
                framer.push(&bytes);
                framer.finish();
                while let Some(span) = framer.next_span() {
                    let decoded = decoder.decode(&span);
                    let owned = SpanDetail::of(&span, &decoded);
                    let output = SpanOutput::of(&span, &decoded);
                    let want = serde_json::to_string(&owned).unwrap();
                    // With the field starts kept from every span before, and with none.
                    for heads in [&mut heads, &mut FieldHeads::default()] {
                        let mut direct = Vec::new();
                        output.write_json(&mut direct, heads).unwrap();
                        assert_eq!(String::from_utf8(direct).unwrap(), want, "{name}");
                    }
                    let mut through_serde = Vec::new();
                    json::write(&output, &mut through_serde).unwrap();
                    assert_eq!(String::from_utf8(through_serde).unwrap(), want, "{name}");
                    let (mut text, mut owned_text) = (String::new(), String::new());
                    super::super::text::render_output(&output, &mut text);
                    super::super::text::render(&owned, &mut owned_text);
                    assert_eq!(text, owned_text, "{name}");
                    for c in &owned.checks {
                        assert_eq!(
                            serde_json::to_string(&CheckJson(c)).unwrap(),
                            serde_json::to_string(c).unwrap()
                        );
                    }
                    spans += 1;
                    if let Fields::Han { fields, .. } = output.fields() {
                        han_fields += fields.len();
                    }
                }
            }
        }
        assert!(
            spans > 100 && han_fields > 500,
            "{spans} spans, {han_fields} fields"
        );
        assert!(heads.kept > 20, "{} field starts kept", heads.kept);
    }

    /// Fields no fixture has: escapes, composed names, floats without a JSON form, lists.
    #[test]
    fn odd_fields_write_as_they_serialize() {
        let mut odd = FieldDetail::plain(
            Some("a\"b\\c".into()),
            "tab\there\nline".into(),
            RawValue::List(vec![
                RawValue::Float(f64::NAN),
                RawValue::Int(-5),
                RawValue::List(vec![RawValue::Bool(true), RawValue::Null]),
            ]),
            Some(-2),
            Some(f64::INFINITY),
            Some("°C".into()),
        );
        odd.text = Some("\u{1}".into());
        odd.inferred_obis = Some("x".into());
        odd.unverified = true;
        odd.storage = Some(3);
        odd.tariff = Some(1);
        odd.subunit = Some(0);
        odd.function = Some("maximum");
        let blank = FieldDetail::plain(None, String::new(), RawValue::Null, None, None, None);
        let composed = FieldView {
            name: FieldName::Obis(Obis::new(1, 0, 1, 8, 2, 255)),
            obis: Some(FieldCode::Obis(Obis::new(1, 0, 1, 8, 2, 255))),
            raw: RawRef::Hex(&[0x7E, 0x00, 0xFF]),
            ..blank.view()
        };
        for view in [odd.view(), composed] {
            let mut direct = Vec::new();
            view.write_json(&mut direct);
            let direct = String::from_utf8(direct).unwrap();
            assert_eq!(direct, serde_json::to_string(&view).unwrap());
            assert_eq!(direct, serde_json::to_string(&view.to_detail()).unwrap());
        }
        let mut text = String::new();
        composed.raw.write_text(&mut text);
        assert_eq!(text, "7E00FF");
        assert_eq!(
            composed.to_detail().name,
            "Active energy import (A+), tariff 2"
        );
    }

    /// The date-time text without `fmt` is `DateTime::iso8601`'s, specified or not.
    #[test]
    fn iso8601_is_the_datetime_s() {
        let mut checked = 0;
        for year in [0u16, 7, 42, 999, 2024, 9999, 0xFFFF] {
            for (month, day, hour, minute, second, hundredths) in [
                (5, 1, 0, 0, 0, 0xFF),
                (12, 31, 23, 59, 59, 0),
                (1, 9, 9, 5, 7, 99),
                (0xFF, 1, 0, 0, 0, 0),
                (2, 0xFF, 0, 0, 0, 5),
                (2, 28, 0xFF, 0, 0, 0),
                (2, 28, 1, 0xFF, 0, 0),
                (2, 28, 1, 2, 0xFF, 0),
                (0xFD, 0xFE, 1, 2, 3, 4),
            ] {
                let [yh, yl] = year.to_be_bytes();
                let raw = [
                    yh, yl, month, day, 0xFF, hour, minute, second, hundredths, 0x80, 0, 0xFF,
                ];
                let dt = DateTime::from_slice(&raw).unwrap();
                assert_eq!(iso8601(&dt), dt.iso8601(), "{raw:02X?}");
                checked += usize::from(dt.iso8601().is_some());
            }
        }
        assert_eq!(checked, 6 * 3, "specified years x fully specified rows");
    }

    /// Strings shown as text follow `Data::as_text`'s rule.
    #[test]
    fn printable_is_the_rule_of_as_text() {
        for b in [
            &b"Kamstrup_V0001"[..],
            b"\x01ab",
            b"\xFF\xFE",
            b"",
            b"tab\there",
            b"del\x7F",
            b"~ !",
            "å€".as_bytes(),
        ] {
            let d = Data::OctetString(crate::protocol::axdr::Bytes::from_slice(b));
            assert_eq!(printable(b).map(str::to_string), d.as_text(), "{b:?}");
        }
    }
}
