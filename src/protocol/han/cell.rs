//! A push's field as the decode keeps it: code, scaling and value in 40 bytes that own no
//! memory. Numbers are kept inline; any other value's bytes go to a byte store the message owns.
//! A push is decoded into these (writing one is a few stores, dropping them is nothing), and the
//! named fields with their A-XDR values ([`super::Field`]) are made from them when first asked for.

use super::super::axdr::{Data, Reader, encode};
use super::super::datetime::DateTime;
use super::super::obis::Obis;
use super::{Field, ScalerTable};

/// What a cell's value is: the A-XDR type, and so where the value is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    // Inline: the value's bits in `Cell::value`.
    Null,
    Boolean,
    DoubleLong,
    DoubleLongUnsigned,
    Bcd,
    Integer,
    Long,
    Unsigned,
    LongUnsigned,
    Long64,
    Long64Unsigned,
    Enum,
    Float32,
    Float64,
    DontCare,
    // Stored: the value's bytes in the store (`Cell::value` says where).
    OctetString,
    VisibleString,
    Utf8String,
    /// The 12 bytes of a COSEM date-time.
    DateTime,
    Date,
    Time,
    /// The bit count (4 bytes, little-endian), then the bits' bytes.
    BitString,
    /// A structure or array, A-XDR encoded (a push's walk never keeps one: it walks into them;
    /// only a message built from fields can hold one).
    Encoded,
}

impl Kind {
    /// The kinds [`Data::is_numeric`] calls numeric.
    pub(super) fn is_numeric(self) -> bool {
        matches!(
            self,
            Kind::DoubleLong
                | Kind::DoubleLongUnsigned
                | Kind::Integer
                | Kind::Long
                | Kind::Unsigned
                | Kind::LongUnsigned
                | Kind::Long64
                | Kind::Long64Unsigned
                | Kind::Enum
                | Kind::Bcd
                | Kind::Float32
                | Kind::Float64
        )
    }

    /// Kept in `Cell::value` itself (not in the store).
    fn is_inline(self) -> bool {
        !matches!(
            self,
            Kind::OctetString
                | Kind::VisibleString
                | Kind::Utf8String
                | Kind::DateTime
                | Kind::Date
                | Kind::Time
                | Kind::BitString
                | Kind::Encoded
        )
    }

    /// Byte strings: what a list version, meter id or type is sent as.
    pub(super) fn is_string(self) -> bool {
        matches!(
            self,
            Kind::OctetString | Kind::VisibleString | Kind::Utf8String
        )
    }
}

/// One field of a push, kept compact.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Cell {
    /// An inline value's bits (signed numbers sign-extended, floats by their bits), or where a
    /// stored value's bytes are: start in the low half, length in the high half.
    pub(super) value: u64,
    /// The unit given, when [`Cell::GIVEN`] is set.
    pub(super) unit: Option<&'static str>,
    /// The code naming the field, when [`Cell::SENT`] or [`Cell::INFERRED`] is set.
    pub(super) code: Obis,
    pub(super) kind: Kind,
    pub(super) flags: u8,
    /// The 10-exponent given, when [`Cell::HAS_SCALER`] is set.
    pub(super) scaler: i8,
}

impl Cell {
    /// The code came in the frame (or the interface description names a value sent without one).
    pub(super) const SENT: u8 = 1;
    /// The code follows from the documented list layout.
    pub(super) const INFERRED: u8 = 2;
    /// Scaler and unit are given (by the frame, or the field the cell was made of): `unit`, and
    /// `scaler` if [`Cell::HAS_SCALER`], else none. Without, a number's unit is its code's and
    /// its scaler its brand's table's.
    pub(super) const GIVEN: u8 = 4;
    pub(super) const HAS_SCALER: u8 = 8;
    /// Scaler and unit came in the frame (Aidon).
    pub(super) const SCALER_IN_FRAME: u8 = 16;

    /// A cell holding `value`, of kind `kind`, without code, scaler or unit.
    pub(super) fn new(kind: Kind, value: u64) -> Cell {
        Cell {
            value,
            unit: None,
            code: Obis([0; 6]),
            kind,
            flags: 0,
            scaler: 0,
        }
    }

    /// A cell for `data`: numbers inline, other values' bytes appended to `store`.
    pub(super) fn of(data: &Data, store: &mut Vec<u8>) -> Cell {
        let signed = |v: i64| v as u64;
        let (kind, value) = match *data {
            Data::Null => (Kind::Null, 0),
            Data::Boolean(b) => (Kind::Boolean, u64::from(b)),
            Data::DoubleLong(v) => (Kind::DoubleLong, signed(v.into())),
            Data::DoubleLongUnsigned(v) => (Kind::DoubleLongUnsigned, v.into()),
            Data::Bcd(v) => (Kind::Bcd, v.into()),
            Data::Integer(v) => (Kind::Integer, signed(v.into())),
            Data::Long(v) => (Kind::Long, signed(v.into())),
            Data::Unsigned(v) => (Kind::Unsigned, v.into()),
            Data::LongUnsigned(v) => (Kind::LongUnsigned, v.into()),
            Data::Long64(v) => (Kind::Long64, signed(v)),
            Data::Long64Unsigned(v) => (Kind::Long64Unsigned, v),
            Data::Enum(v) => (Kind::Enum, v.into()),
            Data::Float32(v) => (Kind::Float32, v.to_bits().into()),
            Data::Float64(v) => (Kind::Float64, v.to_bits()),
            Data::DontCare => (Kind::DontCare, 0),
            Data::OctetString(ref b) => return Cell::stored(Kind::OctetString, b, store),
            Data::VisibleString(ref b) => return Cell::stored(Kind::VisibleString, b, store),
            Data::Utf8String(ref b) => return Cell::stored(Kind::Utf8String, b, store),
            Data::DateTime(dt) => return Cell::stored(Kind::DateTime, &dt.raw, store),
            Data::Date(d) => return Cell::stored(Kind::Date, &d, store),
            Data::Time(t) => return Cell::stored(Kind::Time, &t, store),
            Data::BitString { bits, ref bytes } => {
                let start = store.len();
                store.extend_from_slice(&bits.to_le_bytes());
                store.extend_from_slice(bytes);
                return Cell::new(Kind::BitString, range(start, store.len() - start));
            }
            Data::Array(_) | Data::Structure(_) => {
                let start = store.len();
                encode(data, store);
                return Cell::new(Kind::Encoded, range(start, store.len() - start));
            }
        };
        Cell::new(kind, value)
    }

    /// A cell for a value whose bytes are `bytes`, appended to `store`.
    #[inline]
    pub(super) fn stored(kind: Kind, bytes: &[u8], store: &mut Vec<u8>) -> Cell {
        let start = store.len();
        store.extend_from_slice(bytes);
        Cell::new(kind, range(start, bytes.len()))
    }

    /// A stored value's bytes (empty for an inline one).
    pub(super) fn stored_bytes<'s>(&self, store: &'s [u8]) -> &'s [u8] {
        if self.kind.is_inline() {
            return &[];
        }
        let start = (self.value & 0xFFFF_FFFF) as usize;
        let len = (self.value >> 32) as usize;
        store.get(start..start + len).unwrap_or(&[])
    }

    /// A string value's bytes.
    pub(super) fn string<'s>(&self, store: &'s [u8]) -> Option<&'s [u8]> {
        self.kind.is_string().then(|| self.stored_bytes(store))
    }

    /// The value as A-XDR data.
    #[inline(always)]
    pub(super) fn data(&self, store: &[u8]) -> Data {
        let v = self.value;
        let bytes = || super::super::axdr::Bytes::from_slice(self.stored_bytes(store));
        match self.kind {
            Kind::Null => Data::Null,
            Kind::Boolean => Data::Boolean(v != 0),
            Kind::DoubleLong => Data::DoubleLong(v as i32),
            Kind::DoubleLongUnsigned => Data::DoubleLongUnsigned(v as u32),
            Kind::Bcd => Data::Bcd(v as u8),
            Kind::Integer => Data::Integer(v as i8),
            Kind::Long => Data::Long(v as i16),
            Kind::Unsigned => Data::Unsigned(v as u8),
            Kind::LongUnsigned => Data::LongUnsigned(v as u16),
            Kind::Long64 => Data::Long64(v as i64),
            Kind::Long64Unsigned => Data::Long64Unsigned(v),
            Kind::Enum => Data::Enum(v as u8),
            Kind::Float32 => Data::Float32(f32::from_bits(v as u32)),
            Kind::Float64 => Data::Float64(f64::from_bits(v)),
            Kind::DontCare => Data::DontCare,
            Kind::OctetString => Data::OctetString(bytes()),
            Kind::VisibleString => Data::VisibleString(bytes()),
            Kind::Utf8String => Data::Utf8String(bytes()),
            // Stored from a date-time, date or time: always of their length.
            Kind::DateTime => {
                DateTime::from_slice(self.stored_bytes(store)).map_or(Data::Null, Data::DateTime)
            }
            Kind::Date => array(self.stored_bytes(store)).map_or(Data::Null, Data::Date),
            Kind::Time => array(self.stored_bytes(store)).map_or(Data::Null, Data::Time),
            Kind::BitString => {
                let stored = self.stored_bytes(store);
                let (count, bits) = stored.split_at(4.min(stored.len()));
                Data::BitString {
                    bits: array(count).map_or(0, u32::from_le_bytes),
                    bytes: super::super::axdr::Bytes::from_slice(bits),
                }
            }
            // Encoded by `encode` from a structure or array: it reads back.
            Kind::Encoded => Reader::new(self.stored_bytes(store), 0)
                .data()
                .unwrap_or(Data::Null),
        }
    }

    /// The code that names the field: sent, else inferred.
    #[inline]
    pub(super) fn code(&self) -> Option<Obis> {
        (self.flags & (Cell::SENT | Cell::INFERRED) != 0).then_some(self.code)
    }

    pub(super) fn sent(&self) -> bool {
        self.flags & Cell::SENT != 0
    }

    pub(super) fn scaler_in_frame(&self) -> bool {
        self.flags & Cell::SCALER_IN_FRAME != 0
    }

    /// Gives the cell its scaler (none: `None`) and unit, instead of its brand's table's and its
    /// code's.
    pub(super) fn give(&mut self, scaler: Option<i8>, unit: Option<&'static str>) {
        self.scaler = scaler.unwrap_or(0);
        self.unit = unit;
        self.flags |= Cell::GIVEN;
        if scaler.is_some() {
            self.flags |= Cell::HAS_SCALER;
        }
    }

    /// The unit: the one given, else the one its code says (numbers).
    #[inline]
    pub(super) fn unit(&self) -> Option<&'static str> {
        if self.flags & Cell::GIVEN != 0 {
            self.unit
        } else if self.kind.is_numeric() {
            self.code()?.default_unit()
        } else {
            None
        }
    }

    /// The 10-exponent of a number: the one given, else the table's for its code (0 for a
    /// number without code); none for other values.
    #[inline]
    pub(super) fn scaler(&self, table: ScalerTable) -> Option<i8> {
        if self.flags & Cell::GIVEN != 0 {
            (self.flags & Cell::HAS_SCALER != 0).then_some(self.scaler)
        } else {
            self.kind.is_numeric().then(|| table.scaler(self.code()))
        }
    }

    /// Names a field sent without code by the documented layout: its unit (numeric values),
    /// scaler and date-time follow from the code, as for a coded one.
    pub(super) fn infer(&mut self, code: Obis) {
        self.code = code;
        self.flags |= Cell::INFERRED;
        self.kind = Cell::clock_kind(self.kind, self.value, code);
    }

    /// The kind of a value of `kind` kept as `value`, named by `code`: a clock sent as a 12-byte
    /// octet string is a date-time.
    #[inline]
    pub(super) fn clock_kind(kind: Kind, value: u64, code: Obis) -> Kind {
        if kind == Kind::OctetString && value >> 32 == 12 && code.is_clock() {
            Kind::DateTime
        } else {
            kind
        }
    }

    /// Appends the named field to `fields`, its value as A-XDR data (its scaler, if not given,
    /// from `table`). Written part by part where it lies in the vector ([`Cell::data`] inlined
    /// into it): a field made apart and then moved in stalls on the move (its wide reads wait
    /// for the narrow writes that made it).
    #[inline]
    pub(super) fn push_field(&self, store: &[u8], table: ScalerTable, fields: &mut Vec<Field>) {
        const EMPTY: Field = Field {
            obis: None,
            inferred: None,
            value: Data::Null,
            scaler: None,
            unit: None,
            scaler_in_frame: false,
        };
        fields.push(EMPTY);
        let Some(field) = fields.last_mut() else {
            return;
        };
        field.obis = self.sent().then_some(self.code);
        field.inferred =
            (self.flags & (Cell::SENT | Cell::INFERRED) == Cell::INFERRED).then_some(self.code);
        field.scaler = self.scaler(table);
        field.unit = self.unit();
        field.scaler_in_frame = self.scaler_in_frame();
        field.value = self.data(store);
    }

    /// The cell of a named field (a field with both a code sent and one inferred keeps the
    /// sent one: the one that names it).
    pub(super) fn of_field(f: &Field, store: &mut Vec<u8>) -> Cell {
        let mut cell = Cell::of(&f.value, store);
        if let Some(code) = f.obis {
            cell.code = code;
            cell.flags |= Cell::SENT;
        } else if let Some(code) = f.inferred {
            cell.code = code;
            cell.flags |= Cell::INFERRED;
        }
        cell.give(f.scaler, f.unit);
        if f.scaler_in_frame {
            cell.flags |= Cell::SCALER_IN_FRAME;
        }
        cell
    }
}

/// Stored bytes of the length they were stored with.
fn array<const N: usize>(bytes: &[u8]) -> Option<[u8; N]> {
    bytes.try_into().ok()
}

/// Where stored bytes are, as a cell's value keeps it.
#[inline]
fn range(start: usize, len: usize) -> u64 {
    start as u64 | (len as u64) << 32
}

#[cfg(test)]
mod tests {
    use super::super::super::axdr::Bytes;
    use super::*;
    use proptest::prelude::*;

    fn arb_data() -> impl Strategy<Value = Data> {
        let leaf = prop_oneof![
            Just(Data::Null),
            Just(Data::DontCare),
            any::<bool>().prop_map(Data::Boolean),
            any::<i32>().prop_map(Data::DoubleLong),
            any::<u32>().prop_map(Data::DoubleLongUnsigned),
            any::<u8>().prop_map(Data::Bcd),
            any::<i8>().prop_map(Data::Integer),
            any::<i16>().prop_map(Data::Long),
            any::<u8>().prop_map(Data::Unsigned),
            any::<u16>().prop_map(Data::LongUnsigned),
            any::<i64>().prop_map(Data::Long64),
            any::<u64>().prop_map(Data::Long64Unsigned),
            any::<u8>().prop_map(Data::Enum),
            any::<f32>()
                .prop_filter("comparable", |v| !v.is_nan())
                .prop_map(Data::Float32),
            any::<f64>()
                .prop_filter("comparable", |v| !v.is_nan())
                .prop_map(Data::Float64),
            proptest::collection::vec(any::<u8>(), 0..40)
                .prop_map(|b| Data::OctetString(Bytes::from_slice(&b))),
            "[ -~]{0,40}".prop_map(|s| Data::VisibleString(Bytes::from_slice(s.as_bytes()))),
            "[a-z]{0,30}".prop_map(|s| Data::Utf8String(Bytes::from_slice(s.as_bytes()))),
            any::<[u8; 12]>().prop_map(|raw| Data::DateTime(DateTime { raw })),
            any::<[u8; 5]>().prop_map(Data::Date),
            any::<[u8; 4]>().prop_map(Data::Time),
            (0u32..64, proptest::collection::vec(any::<u8>(), 8)).prop_map(|(bits, b)| {
                Data::BitString {
                    bits,
                    bytes: Bytes::from_slice(&b[..bits.div_ceil(8) as usize]),
                }
            }),
        ];
        leaf.prop_recursive(2, 8, 3, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..3).prop_map(Data::Structure),
                proptest::collection::vec(inner, 0..3).prop_map(Data::Array),
            ]
        })
    }

    proptest! {
        /// Every value a field can hold comes back from its cell as it went in, wherever the
        /// store already had bytes.
        #[test]
        fn a_cell_gives_back_its_value(values in proptest::collection::vec(arb_data(), 1..6)) {
            let mut store = vec![0xAA; 3];
            let cells: Vec<Cell> = values.iter().map(|v| Cell::of(v, &mut store)).collect();
            for (cell, value) in cells.iter().zip(&values) {
                prop_assert_eq!(&cell.data(&store), value);
                prop_assert_eq!(cell.kind.is_numeric(), value.is_numeric());
                prop_assert_eq!(cell.string(&store), value.as_bytes());
            }
        }
    }

    #[test]
    fn a_cell_is_small_and_owns_nothing() {
        assert_eq!(std::mem::size_of::<Cell>(), 40);
        fn copy<T: Copy>() {}
        copy::<Cell>();
    }
}
