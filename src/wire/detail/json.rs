//! JSON for `decode --format json`, the bytes `serde_json::to_writer` writes (numbers, floats
//! and escapes go through serde_json's own formatter), into a `Vec<u8>`:
//! - [`write`]: any `Serialize` value, without serde_json's byte-at-a-time string scan or its
//!   per-write `io::Write` calls;
//! - the value writers below ([`string`], [`opt_f64`]...), for the span writer of `detail.rs`
//!   that writes the keys of a span, its checks and its fields as fixed byte strings.

use serde::Serialize;
use serde::ser;
use serde_json::ser::{CharEscape, CompactFormatter, Formatter};
use std::fmt;

/// Appends the JSON of `value` to `out` (no new line).
pub fn write<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<(), Error> {
    value.serialize(&mut JsonWriter { out })
}

/// Appends `s` as a JSON string.
pub fn string(out: &mut Vec<u8>, s: &str) {
    write_str(out, s);
}

/// Appends text known to need no escaping (hex digits, a dotted code) between quotes.
pub fn plain_string(out: &mut Vec<u8>, ascii: &[u8]) {
    debug_assert!(!any_escape(ascii), "{ascii:?} needs escaping");
    out.reserve(ascii.len() + 2);
    out.push(b'"');
    out.extend_from_slice(ascii);
    out.push(b'"');
}

/// Appends a text known to need no escaping (a fixed name, a unit) between quotes.
pub fn plain_str(out: &mut Vec<u8>, ascii: &str) {
    plain_string(out, ascii.as_bytes());
}

/// Appends the upper-case hex text of `bytes` between quotes.
pub fn hex_string(out: &mut Vec<u8>, bytes: &[u8]) {
    out.reserve(2 * bytes.len() + 2);
    out.push(b'"');
    super::hex::encode_to_bytes(bytes, out);
    out.push(b'"');
}

pub fn opt_string(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => write_str(out, s),
        None => null(out),
    }
}

pub fn null(out: &mut Vec<u8>) {
    out.extend_from_slice(b"null");
}

pub fn bool(out: &mut Vec<u8>, v: bool) {
    out.extend_from_slice(if v { b"true" } else { b"false" });
}

pub fn u64(out: &mut Vec<u8>, v: u64) {
    match u16::try_from(v) {
        Ok(small) if small < 1000 => three_digits(out, small),
        _ => {
            let _ = CompactFormatter.write_u64(out, v);
        }
    }
}

pub fn i64(out: &mut Vec<u8>, v: i64) {
    match i16::try_from(v) {
        Ok(small) if (0..1000).contains(&small) => three_digits(out, small.unsigned_abs()),
        Ok(small) if (-999..0).contains(&small) => {
            out.push(b'-');
            three_digits(out, small.unsigned_abs());
        }
        _ => {
            let _ = CompactFormatter.write_i64(out, v);
        }
    }
}

/// A number below 1000 (most raw values, scalers and counts), as serde_json writes it, with
/// copies of a known size rather than through a digit buffer (a test holds the two equal).
#[inline]
fn three_digits(out: &mut Vec<u8>, v: u16) {
    let digit = |d: u16| b'0' + (d % 10) as u8;
    if v >= 100 {
        out.extend_from_slice(&[digit(v / 100), digit(v / 10), digit(v)]);
    } else if v >= 10 {
        out.extend_from_slice(&[digit(v / 10), digit(v)]);
    } else {
        out.push(digit(v));
    }
}

/// A float as serde_json writes it: `800.0`, and `null` for NaN and the infinities.
pub fn f64(out: &mut Vec<u8>, v: f64) {
    // Whole numbers (most scaled values) as an integer and `.0`, as serde_json's shortest form
    // writes them below this bound (a test holds the two equal).
    const WHOLE_BELOW: f64 = 1e15;
    if v.fract() == 0.0 && v.abs() < WHOLE_BELOW && !(v == 0.0 && v.is_sign_negative()) {
        i64(out, v as i64);
        out.extend_from_slice(b".0");
    } else if v.is_finite() {
        let _ = CompactFormatter.write_f64(out, v);
    } else {
        null(out);
    }
}

pub fn opt_i64(out: &mut Vec<u8>, v: Option<i64>) {
    match v {
        Some(v) => i64(out, v),
        None => null(out),
    }
}

pub fn opt_f64(out: &mut Vec<u8>, v: Option<f64>) {
    match v {
        Some(v) => f64(out, v),
        None => null(out),
    }
}

/// An object being written key by key: `{"a":1,"b":2}`.
pub struct Object<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Object<'a> {
    pub fn begin(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Object { out, first: true }
    }

    /// Writes the key (and the comma before it); the value goes into the buffer returned. The
    /// key is a fixed name, written as it is (a debug build checks that it needs no escaping).
    /// Inlined, so each key is copied with its length known.
    #[inline(always)]
    pub fn key(&mut self, key: &'static [u8]) -> &mut Vec<u8> {
        debug_assert!(!any_escape(key), "{key:?} needs escaping");
        if !std::mem::take(&mut self.first) {
            self.out.push(b',');
        }
        self.out.push(b'"');
        self.out.extend_from_slice(key);
        self.out.extend_from_slice(b"\":");
        self.out
    }

    pub fn end(self) {
        self.out.push(b'}');
    }
}

/// What cannot be written as JSON (a map key that is not a string or number).
#[derive(Debug)]
pub struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error(msg.to_string())
    }
}

struct JsonWriter<'a> {
    out: &'a mut Vec<u8>,
}

/// A byte that JSON strings must escape.
fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// Whether any byte of `bytes` must be escaped. No early exit: the loop compiles to vector
/// instructions, and the strings written are short or escape-free (hex, names).
fn any_escape(bytes: &[u8]) -> bool {
    bytes.iter().fold(false, |any, &b| any | needs_escape(b))
}

/// Appends `s` as a JSON string, escaped as serde_json escapes it.
#[inline]
fn write_str(out: &mut Vec<u8>, s: &str) {
    if any_escape(s.as_bytes()) {
        return write_escaped(out, s);
    }
    out.reserve(s.len() + 2);
    out.push(b'"');
    out.extend_from_slice(s.as_bytes());
    out.push(b'"');
}

/// Appends `,"key":` (without the comma for the first), the key escaped only if it must be.
#[inline]
fn write_key(out: &mut Vec<u8>, first: bool, key: &str) {
    if any_escape(key.as_bytes()) {
        if !first {
            out.push(b',');
        }
        write_escaped(out, key);
        out.push(b':');
        return;
    }
    out.reserve(key.len() + 4);
    out.extend_from_slice(if first { b"\"" } else { b",\"" });
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
}

#[cold]
fn write_escaped(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    for &b in s.as_bytes() {
        let escape = match b {
            b'"' => CharEscape::Quote,
            b'\\' => CharEscape::ReverseSolidus,
            0x08 => CharEscape::Backspace,
            0x0C => CharEscape::FormFeed,
            b'\n' => CharEscape::LineFeed,
            b'\r' => CharEscape::CarriageReturn,
            b'\t' => CharEscape::Tab,
            b if b < 0x20 => CharEscape::AsciiControl(b),
            b => {
                out.push(b);
                continue;
            }
        };
        let _ = CompactFormatter.write_char_escape(out, escape);
    }
    out.push(b'"');
}

impl<'w, 'a> ser::Serializer for &'w mut JsonWriter<'a> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Compound<'w, 'a>;
    type SerializeTuple = Compound<'w, 'a>;
    type SerializeTupleStruct = Compound<'w, 'a>;
    type SerializeTupleVariant = Compound<'w, 'a>;
    type SerializeMap = Compound<'w, 'a>;
    type SerializeStruct = Compound<'w, 'a>;
    type SerializeStructVariant = Compound<'w, 'a>;

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<(), Error> {
        self.serialize_i64(v.into())
    }
    fn serialize_i16(self, v: i16) -> Result<(), Error> {
        self.serialize_i64(v.into())
    }
    fn serialize_i32(self, v: i32) -> Result<(), Error> {
        self.serialize_i64(v.into())
    }
    fn serialize_i64(self, v: i64) -> Result<(), Error> {
        let _ = CompactFormatter.write_i64(self.out, v);
        Ok(())
    }
    fn serialize_i128(self, v: i128) -> Result<(), Error> {
        let _ = CompactFormatter.write_i128(self.out, v);
        Ok(())
    }
    fn serialize_u8(self, v: u8) -> Result<(), Error> {
        self.serialize_u64(v.into())
    }
    fn serialize_u16(self, v: u16) -> Result<(), Error> {
        self.serialize_u64(v.into())
    }
    fn serialize_u32(self, v: u32) -> Result<(), Error> {
        self.serialize_u64(v.into())
    }
    fn serialize_u64(self, v: u64) -> Result<(), Error> {
        let _ = CompactFormatter.write_u64(self.out, v);
        Ok(())
    }
    fn serialize_u128(self, v: u128) -> Result<(), Error> {
        let _ = CompactFormatter.write_u128(self.out, v);
        Ok(())
    }
    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        // As serde_json: NaN and infinities have no JSON form.
        if v.is_finite() {
            let _ = CompactFormatter.write_f32(self.out, v);
        } else {
            self.out.extend_from_slice(b"null");
        }
        Ok(())
    }
    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        f64(self.out, v);
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<(), Error> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, v: &str) -> Result<(), Error> {
        write_str(self.out, v);
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        ser::Serializer::collect_seq(self, v)
    }
    fn serialize_none(self) -> Result<(), Error> {
        self.serialize_unit()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Error> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.out.push(b'{');
        write_str(self.out, variant);
        self.out.push(b':');
        value.serialize(&mut *self)?;
        self.out.push(b'}');
        Ok(())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Compound<'w, 'a>, Error> {
        self.out.push(b'[');
        Ok(Compound {
            w: self,
            first: true,
            close: b"]",
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<Compound<'w, 'a>, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<Compound<'w, 'a>, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'w, 'a>, Error> {
        self.out.push(b'{');
        write_str(self.out, variant);
        self.out.extend_from_slice(b":[");
        Ok(Compound {
            w: self,
            first: true,
            close: b"]}",
        })
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Compound<'w, 'a>, Error> {
        self.out.push(b'{');
        Ok(Compound {
            w: self,
            first: true,
            close: b"}",
        })
    }
    fn serialize_struct(self, _name: &'static str, len: usize) -> Result<Compound<'w, 'a>, Error> {
        self.serialize_map(Some(len))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'w, 'a>, Error> {
        self.out.push(b'{');
        write_str(self.out, variant);
        self.out.extend_from_slice(b":{");
        Ok(Compound {
            w: self,
            first: true,
            close: b"}}",
        })
    }
}

/// An array or object being written: a comma before every element but the first.
struct Compound<'w, 'a> {
    w: &'w mut JsonWriter<'a>,
    first: bool,
    close: &'static [u8],
}

impl Compound<'_, '_> {
    fn comma(&mut self) {
        if !std::mem::take(&mut self.first) {
            self.w.out.push(b',');
        }
    }

    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.comma();
        value.serialize(&mut *self.w)
    }

    fn field<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result<(), Error> {
        write_key(self.w.out, std::mem::take(&mut self.first), key);
        value.serialize(&mut *self.w)
    }

    fn close(self) -> Result<(), Error> {
        self.w.out.extend_from_slice(self.close);
        Ok(())
    }
}

/// The sequences: each element after a comma.
macro_rules! elements {
    ($($trait:ident :: $method:ident),*) => {$(
        impl ser::$trait for Compound<'_, '_> {
            type Ok = ();
            type Error = Error;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
                self.element(value)
            }
            fn end(self) -> Result<(), Error> {
                self.close()
            }
        }
    )*};
}

elements!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

impl ser::SerializeMap for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.comma();
        map_key(key, self.w.out)?;
        self.w.out.push(b':');
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        value.serialize(&mut *self.w)
    }
    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

impl ser::SerializeStruct for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.field(key, value)
    }
    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

impl ser::SerializeStructVariant for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.field(key, value)
    }
    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

/// Appends a map key as serde_json writes it (a string; a number or bool quoted), by letting
/// serde_json write a map of that one key: no data kamscope writes has maps, so this is rare.
fn map_key<T: Serialize + ?Sized>(key: &T, out: &mut Vec<u8>) -> Result<(), Error> {
    struct OneKey<'a, T: ?Sized>(&'a T);
    impl<T: Serialize + ?Sized> Serialize for OneKey<'_, T> {
        fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            use ser::SerializeMap;
            let mut m = s.serialize_map(Some(1))?;
            m.serialize_entry(self.0, &())?;
            m.end()
        }
    }
    let map = serde_json::to_vec(&OneKey(key)).map_err(|e| Error(e.to_string()))?;
    // `{KEY:null}`
    out.extend_from_slice(&map[1..map.len() - b":null}".len()]);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn both<T: Serialize>(value: &T) -> (String, String) {
        let mut ours = Vec::new();
        write(value, &mut ours).unwrap();
        (
            String::from_utf8(ours).unwrap(),
            serde_json::to_string(value).unwrap(),
        )
    }

    #[derive(Serialize)]
    enum Shape {
        Unit,
        New(u8),
        Tuple(i8, f32),
        Struct { a: Option<bool> },
    }

    #[derive(Serialize)]
    struct Everything {
        text: String,
        floats: Vec<f64>,
        single: Vec<f32>,
        ints: (i8, i16, i32, i64, i128, u8, u16, u32, u64, u128),
        none: Option<u8>,
        unit: (),
        ch: char,
        bytes: serde_bytes_like::Bytes,
        shapes: Vec<Shape>,
        map: BTreeMap<u32, &'static str>,
        empty: Vec<u8>,
        #[serde(rename = "odd \"key\"\n")]
        odd: u8,
    }

    /// `&[u8]` serialized as bytes (serde's `serialize_bytes`), as serde_bytes would.
    mod serde_bytes_like {
        pub struct Bytes(pub Vec<u8>);
        impl serde::Serialize for Bytes {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(&self.0)
            }
        }
    }

    #[test]
    fn writes_what_serde_json_writes() {
        let long: String = (0u8..=127).map(char::from).collect::<String>().repeat(3);
        let value = Everything {
            text: format!("quote \" back \\ tab \t nl \n ctrl \u{1} del \u{7f} å € {long}"),
            floats: vec![
                0.0,
                -0.0,
                800.0,
                2.37,
                1e300,
                1e-7,
                123456790.0,
                f64::NAN,
                f64::INFINITY,
            ],
            single: vec![0.1, 230.0, f32::NEG_INFINITY],
            ints: (
                i8::MIN,
                i16::MIN,
                i32::MIN,
                i64::MIN,
                i128::MIN,
                u8::MAX,
                u16::MAX,
                u32::MAX,
                u64::MAX,
                u128::MAX,
            ),
            none: None,
            unit: (),
            ch: '"',
            bytes: serde_bytes_like::Bytes(vec![0, 126, 255]),
            shapes: vec![
                Shape::Unit,
                Shape::New(7),
                Shape::Tuple(-1, 0.5),
                Shape::Struct { a: Some(true) },
            ],
            map: BTreeMap::from([(1, "a\"b"), (20, "")]),
            empty: Vec::new(),
            odd: 1,
        };
        let (ours, theirs) = both(&value);
        assert_eq!(ours, theirs);
        assert!(ours.contains(r#"\"#), "{ours}");
    }

    #[test]
    fn whole_floats_write_as_serde_json_writes_them() {
        let mut values = vec![
            0.0,
            -0.0,
            1.0,
            -1.0,
            800.0,
            123456790.0,
            0.5,
            -2.37,
            1e15,
            1e16,
        ];
        for e in 0..=15 {
            let p = 10f64.powi(e);
            values.extend([p, p - 1.0, -p, -(p - 1.0), p + 1.0]);
        }
        values.extend((0..2000).map(|i| f64::from(i) * 7919.0 - 3e6));
        for v in values {
            let mut ours = Vec::new();
            f64(&mut ours, v);
            assert_eq!(
                String::from_utf8(ours).unwrap(),
                serde_json::to_string(&v).unwrap(),
                "{v}"
            );
        }
    }

    #[test]
    fn integers_write_as_serde_json_writes_them() {
        let mut values: Vec<i64> = (-2000..2000).collect();
        values.extend([i64::MIN, i64::MAX, -32768, 32767, 65535, 65536, 1 << 40]);
        for v in values {
            let mut ours = Vec::new();
            i64(&mut ours, v);
            assert_eq!(ours, serde_json::to_vec(&v).unwrap(), "{v}");
            if let Ok(u) = std::primitive::u64::try_from(v) {
                ours.clear();
                u64(&mut ours, u);
                assert_eq!(ours, serde_json::to_vec(&u).unwrap(), "{u}");
            }
        }
        let mut ours = Vec::new();
        u64(&mut ours, std::primitive::u64::MAX);
        assert_eq!(ours, serde_json::to_vec(&std::primitive::u64::MAX).unwrap());
    }

    #[test]
    fn a_key_that_is_not_a_string_is_an_error() {
        let map = BTreeMap::from([((1, 2), 3)]);
        let mut out = Vec::new();
        assert!(write(&map, &mut out).is_err());
        assert!(serde_json::to_string(&map).is_err());
    }
}
