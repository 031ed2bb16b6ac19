//! A-XDR encoded DLMS `Data` (IEC 62056-6-2): tag byte, then a fixed or length-prefixed value.
//! Structures and arrays nest; lengths use the BER form (0x81 / 0x82 prefixes). Decoding never
//! panics, and errors name the byte offset where they happened.

use super::datetime::DateTime;
use std::ops::Range;

/// A byte string as received. Short ones stay inline (OBIS codes, list versions, meter ids and
/// type numbers, date-times: a push needs no allocation for them) and the value is 24 bytes,
/// so a HAN field fits 72: a list 1's fields fit the allocator's fast size class.
#[derive(Clone)]
pub enum Bytes {
    Inline { len: u8, bytes: [u8; Bytes::INLINE] },
    Heap(Box<[u8]>),
}

impl Bytes {
    /// The longest string kept inline (Kamstrup's type numbers have 18 characters).
    pub const INLINE: usize = 22;

    pub fn from_slice(src: &[u8]) -> Self {
        if src.len() <= Self::INLINE {
            let mut bytes = [0; Self::INLINE];
            bytes[..src.len()].copy_from_slice(src);
            Bytes::Inline {
                len: src.len() as u8,
                bytes,
            }
        } else {
            Bytes::Heap(src.into())
        }
    }
}

impl std::ops::Deref for Bytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Bytes::Heap(b) => b,
        }
    }
}

/// Equal when the bytes are, however they are kept.
impl PartialEq for Bytes {
    fn eq(&self, other: &Bytes) -> bool {
        **self == **other
    }
}

impl Eq for Bytes {}

impl AsRef<[u8]> for Bytes {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

/// Shown as the bytes, however they are kept.
impl std::fmt::Debug for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&**self, f)
    }
}

pub mod tag {
    pub const NULL: u8 = 0x00;
    pub const ARRAY: u8 = 0x01;
    pub const STRUCTURE: u8 = 0x02;
    pub const BOOLEAN: u8 = 0x03;
    pub const BIT_STRING: u8 = 0x04;
    pub const DOUBLE_LONG: u8 = 0x05;
    pub const DOUBLE_LONG_UNSIGNED: u8 = 0x06;
    pub const OCTET_STRING: u8 = 0x09;
    pub const VISIBLE_STRING: u8 = 0x0A;
    pub const UTF8_STRING: u8 = 0x0C;
    pub const BCD: u8 = 0x0D;
    pub const INTEGER: u8 = 0x0F;
    pub const LONG: u8 = 0x10;
    pub const UNSIGNED: u8 = 0x11;
    pub const LONG_UNSIGNED: u8 = 0x12;
    pub const COMPACT_ARRAY: u8 = 0x13;
    pub const LONG64: u8 = 0x14;
    pub const LONG64_UNSIGNED: u8 = 0x15;
    pub const ENUM: u8 = 0x16;
    pub const FLOAT32: u8 = 0x17;
    pub const FLOAT64: u8 = 0x18;
    pub const DATE_TIME: u8 = 0x19;
    pub const DATE: u8 = 0x1A;
    pub const TIME: u8 = 0x1B;
    pub const DONT_CARE: u8 = 0xFF;
}

/// Deepest nesting accepted; real lists use two or three levels.
pub const MAX_DEPTH: usize = 16;

#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    Null,
    Array(Vec<Data>),
    Structure(Vec<Data>),
    Boolean(bool),
    BitString {
        bits: u32,
        bytes: Bytes,
    },
    DoubleLong(i32),
    DoubleLongUnsigned(u32),
    OctetString(Bytes),
    VisibleString(Bytes),
    Utf8String(Bytes),
    Bcd(u8),
    Integer(i8),
    Long(i16),
    Unsigned(u8),
    LongUnsigned(u16),
    Long64(i64),
    Long64Unsigned(u64),
    Enum(u8),
    Float32(f32),
    Float64(f64),
    /// A date-time: tag 0x19, or the 12 raw bytes some meters send after tag 0x0C.
    DateTime(DateTime),
    Date([u8; 5]),
    Time([u8; 4]),
    DontCare,
}

impl Data {
    /// The A-XDR type name.
    pub fn type_name(&self) -> &'static str {
        match self {
            Data::Null => "null-data",
            Data::Array(_) => "array",
            Data::Structure(_) => "structure",
            Data::Boolean(_) => "boolean",
            Data::BitString { .. } => "bit-string",
            Data::DoubleLong(_) => "double-long",
            Data::DoubleLongUnsigned(_) => "double-long-unsigned",
            Data::OctetString(_) => "octet-string",
            Data::VisibleString(_) => "visible-string",
            Data::Utf8String(_) => "utf8-string",
            Data::Bcd(_) => "bcd",
            Data::Integer(_) => "integer",
            Data::Long(_) => "long",
            Data::Unsigned(_) => "unsigned",
            Data::LongUnsigned(_) => "long-unsigned",
            Data::Long64(_) => "long64",
            Data::Long64Unsigned(_) => "long64-unsigned",
            Data::Enum(_) => "enum",
            Data::Float32(_) => "float32",
            Data::Float64(_) => "float64",
            Data::DateTime(_) => "date-time",
            Data::Date(_) => "date",
            Data::Time(_) => "time",
            Data::DontCare => "dont-care",
        }
    }

    /// Integer value, for the integer types.
    pub fn as_i128(&self) -> Option<i128> {
        Some(match *self {
            Data::DoubleLong(v) => v.into(),
            Data::DoubleLongUnsigned(v) => v.into(),
            Data::Integer(v) => v.into(),
            Data::Long(v) => v.into(),
            Data::Unsigned(v) => v.into(),
            Data::LongUnsigned(v) => v.into(),
            Data::Long64(v) => v.into(),
            Data::Long64Unsigned(v) => v.into(),
            Data::Enum(v) => v.into(),
            Data::Bcd(v) => v.into(),
            _ => return None,
        })
    }

    /// The bytes of a string value.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Data::VisibleString(b) | Data::OctetString(b) | Data::Utf8String(b) => Some(b),
            _ => None,
        }
    }

    /// Whether the value is a number ([`Data::as_f64`] gives it).
    pub fn is_numeric(&self) -> bool {
        matches!(
            self,
            Data::DoubleLong(_)
                | Data::DoubleLongUnsigned(_)
                | Data::Integer(_)
                | Data::Long(_)
                | Data::Unsigned(_)
                | Data::LongUnsigned(_)
                | Data::Long64(_)
                | Data::Long64Unsigned(_)
                | Data::Enum(_)
                | Data::Bcd(_)
                | Data::Float32(_)
                | Data::Float64(_)
        )
    }

    /// Numeric value (integers and floats).
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Data::Float32(v) => Some(v.into()),
            Data::Float64(v) => Some(v),
            _ => self.as_i128().map(|v| v as f64),
        }
    }

    /// The text of a string value, if it is printable.
    pub fn as_text(&self) -> Option<String> {
        match self {
            Data::VisibleString(b) | Data::Utf8String(b) | Data::OctetString(b) => {
                let s = std::str::from_utf8(b).ok()?;
                s.chars().all(|c| !c.is_control()).then(|| s.to_string())
            }
            _ => None,
        }
    }
}

/// Why data does not decode, and where. Boxed: errors are rare, and a thin error keeps every
/// `Result` of the decode path in a register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(Box<ErrorDetail>);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorDetail {
    /// Offset in the frame (or whatever buffer the caller's base refers to).
    pub offset: usize,
    pub what: String,
}

impl DecodeError {
    pub fn new(offset: usize, what: impl Into<String>) -> Self {
        DecodeError(Box::new(ErrorDetail {
            offset,
            what: what.into(),
        }))
    }
}

impl std::ops::Deref for DecodeError {
    type Target = ErrorDetail;

    fn deref(&self) -> &ErrorDetail {
        &self.0
    }
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at byte {}", self.what, self.offset)
    }
}

impl std::error::Error for DecodeError {}

/// Told about every element as the decoder walks it, with its byte range in the frame (the
/// inspector's byte map). `()` ignores them: the decode path pays nothing.
pub trait ElementSink {
    /// A structure or array header (tag and length), before its elements.
    fn container(&mut self, _range: Range<usize>, _array: bool, _count: usize) {}
    /// A complete value.
    fn value(&mut self, _range: Range<usize>, _data: &Data) {}
}

impl ElementSink for () {}

/// A cursor over an APDU with error offsets relative to the enclosing frame.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Reader<'a> {
    /// `base` is the offset of `buf[0]` in the frame, so errors point into the frame.
    pub fn new(buf: &'a [u8], base: usize) -> Self {
        Reader { buf, pos: 0, base }
    }

    pub fn position(&self) -> usize {
        self.pos
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    #[cold]
    fn short_of(&self, n: usize) -> DecodeError {
        self.error(format!("{n} bytes needed, {} left", self.remaining()))
    }

    #[cold]
    pub fn error(&self, what: impl Into<String>) -> DecodeError {
        DecodeError::new(self.base + self.pos, what)
    }

    #[inline]
    pub fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    /// The byte `n` places ahead, without consuming anything.
    #[inline]
    pub fn peek_at(&self, n: usize) -> Option<u8> {
        self.buf.get(self.pos + n).copied()
    }

    /// The next `N` bytes, without consuming them.
    #[inline]
    pub fn peek_n<const N: usize>(&self) -> Option<[u8; N]> {
        self.buf.get(self.pos..self.pos + N)?.try_into().ok()
    }

    /// The bytes not read yet.
    #[inline]
    pub fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    /// Steps over `n` bytes known to be there (seen through [`Reader::rest`]).
    #[inline]
    pub fn skip(&mut self, n: usize) {
        debug_assert!(n <= self.remaining());
        self.pos += n;
    }

    /// Moves back to an earlier position (to point an error at the start of an element).
    pub fn rewind_to(&mut self, pos: usize) {
        self.pos = pos.min(self.pos);
    }

    #[inline]
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        let b = self.peek().ok_or_else(|| self.error("data ends early"))?;
        self.pos += 1;
        Ok(b)
    }

    #[inline]
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.remaining() < n {
            return Err(self.short_of(n));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    #[inline]
    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        Ok(self.take(N)?.try_into().expect("length checked"))
    }

    /// A BER length: one byte below 0x80, or 0x81..0x84 followed by that many bytes.
    #[inline]
    pub fn length(&mut self) -> Result<usize, DecodeError> {
        let first = self.u8()?;
        if first < 0x80 {
            return Ok(first.into());
        }
        let n = usize::from(first & 0x7F);
        if n == 0 || n > 4 {
            self.pos -= 1;
            return Err(self.error(format!("invalid length prefix 0x{first:02X}")));
        }
        let mut len = 0usize;
        for _ in 0..n {
            len = (len << 8) | usize::from(self.u8()?);
        }
        Ok(len)
    }

    /// Decodes one `Data` element.
    pub fn data(&mut self) -> Result<Data, DecodeError> {
        let mut value = Data::Null;
        self.data_into(&mut value)?;
        Ok(value)
    }

    /// Decodes one `Data` element into `slot`, where the caller keeps it (a list being built):
    /// the value is written once, not copied out of a return value.
    pub fn data_into(&mut self, slot: &mut Data) -> Result<(), DecodeError> {
        self.data_at_depth(0, slot, &mut ())
    }

    /// Decodes one `Data` element, telling `sink` where each element lies. The walk ends at the
    /// first element that does not decode (the error names its byte).
    pub fn data_walk(&mut self, sink: &mut impl ElementSink) -> Result<Data, DecodeError> {
        let mut value = Data::Null;
        self.data_at_depth(0, &mut value, sink)?;
        Ok(value)
    }

    #[inline(never)]
    fn data_at_depth<S: ElementSink>(
        &mut self,
        depth: usize,
        slot: &mut Data,
        sink: &mut S,
    ) -> Result<(), DecodeError> {
        let at = self.pos;
        let t = self.u8()?;
        if !matches!(t, tag::ARRAY | tag::STRUCTURE) {
            self.scalar_after_tag(t, at, slot)?;
            sink.value(self.base + at..self.base + self.pos, slot);
            return Ok(());
        }
        if depth >= MAX_DEPTH {
            self.pos = at;
            return Err(self.error("structures nested too deep"));
        }
        let count = self.length()?;
        // Every element takes at least one byte: a count beyond that is a broken frame.
        if count > self.remaining() {
            self.pos = at;
            return Err(self.error(format!(
                "{} of {count} elements cannot fit in {} bytes",
                if t == tag::ARRAY {
                    "array"
                } else {
                    "structure"
                },
                self.remaining()
            )));
        }
        sink.container(self.base + at..self.base + self.pos, t == tag::ARRAY, count);
        let mut items = Vec::with_capacity(count);
        for _ in 0..count {
            items.push(Data::Null);
            let last = items.last_mut().expect("just pushed");
            self.data_at_depth(depth + 1, last, sink)?;
        }
        *slot = if t == tag::ARRAY {
            Data::Array(items)
        } else {
            Data::Structure(items)
        };
        Ok(())
    }

    /// Decodes one element that is not a structure or array (a value in a list walked by its
    /// tags, as the HAN mapping does) into `slot`, where the caller keeps it: written once, in
    /// place (moving a value just written costs more than writing it).
    #[inline(always)]
    pub fn scalar_into(&mut self, slot: &mut Data) -> Result<(), DecodeError> {
        // The numbers and strings push lists are made of, with one bounds check; the rest below.
        let (value, len) = match self.buf[self.pos..] {
            [tag::DOUBLE_LONG_UNSIGNED, a, b, c, d, ..] => (
                Data::DoubleLongUnsigned(u32::from_be_bytes([a, b, c, d])),
                5,
            ),
            [tag::LONG_UNSIGNED, a, b, ..] => (Data::LongUnsigned(u16::from_be_bytes([a, b])), 3),
            [tag::DOUBLE_LONG, a, b, c, d, ..] => {
                (Data::DoubleLong(i32::from_be_bytes([a, b, c, d])), 5)
            }
            [tag::LONG, a, b, ..] => (Data::Long(i16::from_be_bytes([a, b])), 3),
            [
                t @ (tag::VISIBLE_STRING | tag::OCTET_STRING),
                n,
                ref after @ ..,
            ] if usize::from(n) <= after.len() && n < 0x80 => {
                let bytes = Bytes::from_slice(&after[..usize::from(n)]);
                let value = if t == tag::VISIBLE_STRING {
                    Data::VisibleString(bytes)
                } else {
                    Data::OctetString(bytes)
                };
                (value, 2 + usize::from(n))
            }
            _ => return self.scalar_into_slow(slot),
        };
        // A slot holding null (a field just made) owns nothing: overwritten without a drop call.
        if matches!(slot, Data::Null) {
            std::mem::forget(std::mem::replace(slot, value));
        } else {
            *slot = value;
        }
        self.pos += len;
        Ok(())
    }

    #[inline(never)]
    fn scalar_into_slow(&mut self, slot: &mut Data) -> Result<(), DecodeError> {
        let at = self.pos;
        let t = self.u8()?;
        if matches!(t, tag::ARRAY | tag::STRUCTURE) {
            self.pos = at;
            return Err(self.error("a structure where a plain value was expected"));
        }
        self.scalar_after_tag(t, at, slot)
    }

    /// The value after tag `t` (read at `at`), for every tag but structure and array.
    #[inline]
    fn scalar_after_tag(&mut self, t: u8, at: usize, slot: &mut Data) -> Result<(), DecodeError> {
        *slot = match t {
            tag::NULL => Data::Null,
            tag::BOOLEAN => Data::Boolean(self.u8()? != 0),
            tag::BIT_STRING => {
                let bits = self.length()?;
                Data::BitString {
                    bits: u32::try_from(bits).map_err(|_| self.error("bit-string too long"))?,
                    bytes: Bytes::from_slice(self.take(bits.div_ceil(8))?),
                }
            }
            tag::DOUBLE_LONG => Data::DoubleLong(i32::from_be_bytes(self.array()?)),
            tag::DOUBLE_LONG_UNSIGNED => {
                Data::DoubleLongUnsigned(u32::from_be_bytes(self.array()?))
            }
            tag::OCTET_STRING => {
                let n = self.length()?;
                Data::OctetString(Bytes::from_slice(self.take(n)?))
            }
            tag::VISIBLE_STRING => {
                let n = self.length()?;
                Data::VisibleString(Bytes::from_slice(self.take(n)?))
            }
            tag::UTF8_STRING => {
                // Some meters send tag 0x0C followed by a bare 12-byte date-time. A real
                // utf8-string starting with such bytes would not be valid UTF-8.
                let ahead = &self.buf[self.pos..];
                if ahead.len() >= 12 && DateTime::plausible(&ahead[..12]) {
                    let raw = self.take(12)?;
                    Data::DateTime(DateTime::from_slice(raw).expect("12 bytes"))
                } else {
                    let n = self.length()?;
                    Data::Utf8String(Bytes::from_slice(self.take(n)?))
                }
            }
            tag::BCD => Data::Bcd(self.u8()?),
            tag::INTEGER => Data::Integer(self.u8()? as i8),
            tag::LONG => Data::Long(i16::from_be_bytes(self.array()?)),
            tag::UNSIGNED => Data::Unsigned(self.u8()?),
            tag::LONG_UNSIGNED => Data::LongUnsigned(u16::from_be_bytes(self.array()?)),
            tag::LONG64 => Data::Long64(i64::from_be_bytes(self.array()?)),
            tag::LONG64_UNSIGNED => Data::Long64Unsigned(u64::from_be_bytes(self.array()?)),
            tag::ENUM => Data::Enum(self.u8()?),
            tag::FLOAT32 => Data::Float32(f32::from_be_bytes(self.array()?)),
            tag::FLOAT64 => Data::Float64(f64::from_be_bytes(self.array()?)),
            tag::DATE_TIME => Data::DateTime(DateTime { raw: self.array()? }),
            tag::DATE => Data::Date(self.array()?),
            tag::TIME => Data::Time(self.array()?),
            tag::DONT_CARE => Data::DontCare,
            tag::COMPACT_ARRAY => {
                self.pos = at;
                return Err(self.error("compact-array (tag 0x13) is not supported"));
            }
            other => {
                self.pos = at;
                return Err(self.error(format!("unknown data tag 0x{other:02X}")));
            }
        };
        Ok(())
    }
}

/// Decodes one `Data` element from the start of `buf`.
pub fn decode(buf: &[u8], base: usize) -> Result<Data, DecodeError> {
    Reader::new(buf, base).data()
}

/// Appends a BER length.
pub fn encode_length(len: usize, out: &mut Vec<u8>) {
    if len < 0x80 {
        out.push(len as u8);
    } else if len <= 0xFF {
        out.extend_from_slice(&[0x81, len as u8]);
    } else if len <= 0xFFFF {
        out.push(0x82);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0x84);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
}

/// Appends the A-XDR encoding of `data`.
pub fn encode(data: &Data, out: &mut Vec<u8>) {
    match data {
        Data::Null => out.push(tag::NULL),
        Data::Array(items) | Data::Structure(items) => {
            out.push(if matches!(data, Data::Array(_)) {
                tag::ARRAY
            } else {
                tag::STRUCTURE
            });
            encode_length(items.len(), out);
            for item in items {
                encode(item, out);
            }
        }
        Data::Boolean(b) => out.extend_from_slice(&[tag::BOOLEAN, u8::from(*b)]),
        Data::BitString { bits, bytes } => {
            out.push(tag::BIT_STRING);
            encode_length(*bits as usize, out);
            out.extend_from_slice(bytes);
        }
        Data::DoubleLong(v) => {
            out.push(tag::DOUBLE_LONG);
            out.extend_from_slice(&v.to_be_bytes());
        }
        Data::DoubleLongUnsigned(v) => {
            out.push(tag::DOUBLE_LONG_UNSIGNED);
            out.extend_from_slice(&v.to_be_bytes());
        }
        Data::OctetString(b) | Data::VisibleString(b) | Data::Utf8String(b) => {
            out.push(match data {
                Data::OctetString(_) => tag::OCTET_STRING,
                Data::VisibleString(_) => tag::VISIBLE_STRING,
                _ => tag::UTF8_STRING,
            });
            encode_length(b.len(), out);
            out.extend_from_slice(b);
        }
        Data::Bcd(v) => out.extend_from_slice(&[tag::BCD, *v]),
        Data::Integer(v) => out.extend_from_slice(&[tag::INTEGER, *v as u8]),
        Data::Long(v) => {
            out.push(tag::LONG);
            out.extend_from_slice(&v.to_be_bytes());
        }
        Data::Unsigned(v) => out.extend_from_slice(&[tag::UNSIGNED, *v]),
        Data::LongUnsigned(v) => {
            out.push(tag::LONG_UNSIGNED);
            out.extend_from_slice(&v.to_be_bytes());
        }
        Data::Long64(v) => {
            out.push(tag::LONG64);
            out.extend_from_slice(&v.to_be_bytes());
        }
        Data::Long64Unsigned(v) => {
            out.push(tag::LONG64_UNSIGNED);
            out.extend_from_slice(&v.to_be_bytes());
        }
        Data::Enum(v) => out.extend_from_slice(&[tag::ENUM, *v]),
        Data::Float32(v) => {
            out.push(tag::FLOAT32);
            out.extend_from_slice(&v.to_be_bytes());
        }
        Data::Float64(v) => {
            out.push(tag::FLOAT64);
            out.extend_from_slice(&v.to_be_bytes());
        }
        Data::DateTime(dt) => {
            out.push(tag::DATE_TIME);
            out.extend_from_slice(&dt.raw);
        }
        Data::Date(d) => {
            out.push(tag::DATE);
            out.extend_from_slice(d);
        }
        Data::Time(t) => {
            out.push(tag::TIME);
            out.extend_from_slice(t);
        }
        Data::DontCare => out.push(tag::DONT_CARE),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_strings_inline_or_on_the_heap() {
        for len in [0, 1, 18, Bytes::INLINE, Bytes::INLINE + 1, 300] {
            let src: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let b = Bytes::from_slice(&src);
            assert_eq!(&*b, src.as_slice());
            assert_eq!(matches!(b, Bytes::Inline { .. }), len <= Bytes::INLINE);
            assert_eq!(format!("{b:?}"), format!("{src:?}"));
        }
        let padded = Bytes::Inline {
            len: 2,
            bytes: [7; Bytes::INLINE],
        };
        assert_eq!(padded, Bytes::from_slice(&[7, 7]));
        assert_eq!(Bytes::Heap(vec![1, 2].into()), Bytes::from_slice(&[1, 2]));
        assert_eq!(std::mem::size_of::<Bytes>(), 24);
        assert_eq!(std::mem::size_of::<Data>(), 32);
    }

    #[test]
    fn ber_lengths() {
        for len in [0usize, 0x7F, 0x80, 0xFF, 0x100, 0x1234] {
            let mut out = Vec::new();
            encode_length(len, &mut out);
            assert_eq!(Reader::new(&out, 0).length().unwrap(), len);
        }
    }

    #[test]
    fn errors_name_the_offset() {
        // A u32 whose bytes run out: the error points where they ran out.
        let err = decode(&[0x02, 0x01, 0x06, 0x00, 0x00], 10).unwrap_err();
        assert_eq!(err.offset, 13);
        assert_eq!(err.what, "4 bytes needed, 2 left");
        // A structure count that cannot fit points at the structure.
        let err = decode(&[0x02, 0x09, 0x06, 0x00], 10).unwrap_err();
        assert_eq!(err.offset, 10);
        let err = decode(&[0x02, 0x01, 0x42], 0).unwrap_err();
        assert_eq!(err.to_string(), "unknown data tag 0x42 at byte 2");
    }

    #[test]
    fn tag_0c_date_time_or_string() {
        let mut dt = vec![0x0C];
        dt.extend_from_slice(&[
            0x07, 0xE6, 0x02, 0x05, 0x06, 0x0D, 0x00, 0x19, 0xFF, 0x80, 0x00, 0x00,
        ]);
        assert!(matches!(decode(&dt, 0).unwrap(), Data::DateTime(_)));
        let s = [0x0C, 0x03, b'a', b'b', b'c'];
        assert_eq!(
            decode(&s, 0).unwrap(),
            Data::Utf8String(Bytes::from_slice(b"abc"))
        );
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let bytes = [0x02, 0x01].repeat(1000);
        assert!(decode(&bytes, 0).is_err());
    }
}
