//! EN 13757-3 variable data records: DIF [DIFE...] VIF [VIFE...] data, until the end of the user
//! data. Every record is read into a [`Record`]; a record that cannot be read ends the walk with
//! its byte offset. Nothing here panics on any input.

use std::ops::Range;

/// What a record's DIF bits 4-5 say about the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    Instantaneous,
    Maximum,
    Minimum,
    Error,
}

impl Function {
    pub fn name(self) -> &'static str {
        match self {
            Function::Instantaneous => "instantaneous",
            Function::Maximum => "maximum",
            Function::Minimum => "minimum",
            Function::Error => "value during error",
        }
    }
}

/// A record's value as sent.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// No data (data field 0 or 8, a global readout request).
    None,
    /// A binary integer (type B) or a BCD number (type A).
    Int(i64),
    /// 32-bit real (type H).
    Real(f32),
    /// Text (variable length, or a plain-text VIF's unit sent with it).
    Text(String),
    /// Bytes kept as they are: BCD with invalid digits, manufacturer data, long binary numbers.
    Bytes(Vec<u8>),
    /// A date or date-time (types F, G, I, J): the bytes as sent and a reading.
    Date { raw: Vec<u8>, text: String },
}

/// What a record's VIF/VIFE chain says: a name, a unit and a power of ten.
#[derive(Debug, Clone, PartialEq)]
pub struct Quantity {
    pub name: String,
    pub unit: Option<String>,
    pub exponent: i8,
    /// The value is a date (VIF 6C) or a date-time (6D and FD 30/70).
    pub date: DateKind,
    /// VIF 7F/FF: the meaning is the manufacturer's; the value is kept raw.
    pub manufacturer_specific: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateKind {
    None,
    Date,
    DateTime,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RecordKind {
    /// A data record.
    Data,
    /// DIF 0F/1F: manufacturer data to the end of the user data (`more`: 1F, more records follow
    /// in the next telegram).
    Manufacturer { more: bool },
}

/// One data record.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Bytes of the record in the buffer the walk was given (plus its base).
    pub range: Range<usize>,
    /// DIF, DIFEs, VIF and VIFEs as sent (the data information and value information blocks).
    pub header: Vec<u8>,
    pub kind: RecordKind,
    pub function: Function,
    pub storage: u64,
    pub tariff: u32,
    pub subunit: u32,
    pub quantity: Quantity,
    pub value: Value,
}

impl Record {
    /// The value times 10^exponent, for numbers.
    pub fn scaled(&self) -> Option<f64> {
        let e = i32::from(self.quantity.exponent);
        let v = match self.value {
            Value::Int(i) => i as f64,
            Value::Real(r) => f64::from(r),
            _ => return None,
        };
        // Dividing by 10^n keeps 2278 x 10^-1 at 227.8 (multiplying by 0.1 would not).
        Some(if e < 0 {
            v / 10f64.powi(-e)
        } else {
            v * 10f64.powi(e)
        })
    }

    /// The DIF/VIF bytes as hex pairs, e.g. `84 50 06`.
    pub fn code(&self) -> String {
        let v: Vec<String> = self.header.iter().map(|b| format!("{b:02X}")).collect();
        v.join(" ")
    }

    /// A readable name: the quantity and what the DIF adds (function, tariff, storage, subunit).
    pub fn name(&self) -> String {
        let mut name = self.quantity.name.clone();
        let mut extra = Vec::new();
        if self.function != Function::Instantaneous {
            extra.push(self.function.name().to_string());
        }
        if self.tariff != 0 {
            extra.push(format!("tariff {}", self.tariff));
        }
        if self.storage != 0 {
            extra.push(format!("storage {}", self.storage));
        }
        if self.subunit != 0 {
            extra.push(format!("subunit {}", self.subunit));
        }
        if !extra.is_empty() {
            name.push_str(&format!(" ({})", extra.join(", ")));
        }
        name
    }
}

/// The records of a user data block, and where the walk stopped if it broke.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Records {
    pub records: Vec<Record>,
    /// Idle filler bytes (DIF 2F) skipped.
    pub fillers: usize,
    /// The byte (with base) where a record could not be read, and why.
    pub error: Option<(usize, String)>,
}

impl Records {
    /// DIF 1F: more records follow in the next telegram.
    pub fn more_follows(&self) -> bool {
        self.records
            .iter()
            .any(|r| r.kind == RecordKind::Manufacturer { more: true })
    }
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn byte(&mut self, what: &str) -> Result<u8, String> {
        let b = self
            .bytes
            .get(self.pos)
            .copied()
            .ok_or_else(|| format!("{what} missing: user data ends"))?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&[u8], String> {
        let end = self.pos.saturating_add(n);
        let s = self.bytes.get(self.pos..end).ok_or_else(|| {
            format!(
                "{what}: {n} bytes needed, {} left",
                self.bytes.len() - self.pos
            )
        })?;
        self.pos = end;
        Ok(s)
    }
}

/// Walks the records of `bytes` (the user data after the fixed header); offsets are `base` plus
/// the position in `bytes`.
pub fn parse_records(bytes: &[u8], base: usize) -> Records {
    let mut out = Records::default();
    let mut c = Cursor { bytes, pos: 0 };
    while c.pos < bytes.len() {
        let start = c.pos;
        match record(&mut c) {
            Ok(Some(mut r)) => {
                r.range = base + start..base + c.pos;
                let end = matches!(r.kind, RecordKind::Manufacturer { .. });
                out.records.push(r);
                if end {
                    break;
                }
            }
            Ok(None) => out.fillers += 1,
            Err(e) => {
                out.error = Some((
                    base + start,
                    format!("record at byte {}: {e}", base + start),
                ));
                break;
            }
        }
    }
    out
}

const MAX_EXTENSIONS: usize = 10;

fn record(c: &mut Cursor<'_>) -> Result<Option<Record>, String> {
    let start = c.pos;
    let dif = c.byte("DIF")?;
    match dif {
        0x2F => return Ok(None),
        0x0F | 0x1F => {
            let rest = c.bytes[c.pos..].to_vec();
            c.pos = c.bytes.len();
            return Ok(Some(Record {
                range: 0..0,
                header: vec![dif],
                kind: RecordKind::Manufacturer { more: dif == 0x1F },
                function: Function::Instantaneous,
                storage: 0,
                tariff: 0,
                subunit: 0,
                quantity: Quantity {
                    name: "Manufacturer data".into(),
                    unit: None,
                    exponent: 0,
                    date: DateKind::None,
                    manufacturer_specific: true,
                },
                value: Value::Bytes(rest),
            }));
        }
        0x7F => {
            return Ok(Some(Record {
                range: 0..0,
                header: vec![dif],
                kind: RecordKind::Data,
                function: Function::Instantaneous,
                storage: 0,
                tariff: 0,
                subunit: 0,
                quantity: Quantity {
                    name: "Global readout request".into(),
                    unit: None,
                    exponent: 0,
                    date: DateKind::None,
                    manufacturer_specific: false,
                },
                value: Value::None,
            }));
        }
        _ if dif & 0x0F == 0x0F => return Err(format!("reserved DIF 0x{dif:02X}")),
        _ => {}
    }
    let function = match (dif >> 4) & 0x03 {
        0 => Function::Instantaneous,
        1 => Function::Maximum,
        2 => Function::Minimum,
        _ => Function::Error,
    };
    let mut storage = u64::from((dif >> 6) & 1);
    let mut tariff = 0u32;
    let mut subunit = 0u32;
    let mut ext = dif & 0x80 != 0;
    let mut n = 0usize;
    while ext {
        if n == MAX_EXTENSIONS {
            return Err("more than 10 DIFEs".into());
        }
        let dife = c.byte("DIFE")?;
        storage |= u64::from(dife & 0x0F) << (1 + 4 * n);
        tariff |= u32::from((dife >> 4) & 0x03) << (2 * n);
        subunit |= u32::from((dife >> 6) & 1) << n;
        ext = dife & 0x80 != 0;
        n += 1;
    }
    let vif = c.byte("VIF")?;
    let mut quantity = primary(vif);
    let mut ext = vif & 0x80 != 0;
    let mut n = 0usize;
    let plain_text = vif & 0x7F == 0x7C;
    // FB/FD: the first VIFE is from the extension table.
    if vif == 0xFB || vif == 0xFD {
        let e = c.byte("VIFE of the extension table")?;
        quantity = if vif == 0xFB {
            table_fb(e)
        } else {
            table_fd(e)
        };
        ext = e & 0x80 != 0;
        n += 1;
    }
    let mut manufacturer_vifes = quantity.manufacturer_specific;
    while ext {
        if n == MAX_EXTENSIONS {
            return Err("more than 10 VIFEs".into());
        }
        let e = c.byte("VIFE")?;
        ext = e & 0x80 != 0;
        n += 1;
        if manufacturer_vifes {
            continue;
        }
        combinable(e & 0x7F, &mut quantity, &mut manufacturer_vifes);
    }
    if plain_text {
        let len = usize::from(c.byte("plain-text VIF length")?);
        let text: Vec<u8> = c.take(len, "plain-text VIF")?.to_vec();
        let unit: String = text.iter().rev().map(|&b| char::from(b)).collect();
        quantity.name = format!("Plain-text unit \"{unit}\"");
        quantity.unit = Some(unit);
    }
    let header = c.bytes[start..c.pos].to_vec();
    let data_start = c.pos;
    let mut value = data(c, dif & 0x0F, quantity.date)?;
    // A manufacturer-specific VIF's number means what the manufacturer says: kept as sent.
    if quantity.manufacturer_specific && matches!(value, Value::Int(_) | Value::Real(_)) {
        value = Value::Bytes(c.bytes[data_start..c.pos].to_vec());
    }
    Ok(Some(Record {
        range: 0..0,
        header,
        kind: RecordKind::Data,
        function,
        storage,
        tariff,
        subunit,
        quantity,
        value,
    }))
}

fn data(c: &mut Cursor<'_>, field: u8, date: DateKind) -> Result<Value, String> {
    let int = |b: &[u8]| -> i64 {
        let mut v: i64 = 0;
        for (i, &x) in b.iter().enumerate() {
            v |= i64::from(x) << (8 * i);
        }
        let bits = 8 * b.len() as u32;
        if bits < 64 && v & (1 << (bits - 1)) != 0 {
            v -= 1 << bits;
        }
        v
    };
    Ok(match field {
        0x0 | 0x8 => Value::None,
        0x1 | 0x2 | 0x3 | 0x4 | 0x6 | 0x7 => {
            let len = match field {
                0x1 => 1,
                0x2 => 2,
                0x3 => 3,
                0x4 => 4,
                0x6 => 6,
                _ => 8,
            };
            let b = c.take(len, "data")?;
            match date_value(b, date) {
                Some(v) => v,
                None => Value::Int(int(b)),
            }
        }
        0x5 => {
            let b = c.take(4, "data")?;
            Value::Real(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        }
        0x9 | 0xA | 0xB | 0xC | 0xE => {
            let len = match field {
                0x9 => 1,
                0xA => 2,
                0xB => 3,
                0xC => 4,
                _ => 6,
            };
            bcd(c.take(len, "data")?)
        }
        0xD => {
            let lvar = c.byte("LVAR")?;
            match lvar {
                0x00..=0xBF => {
                    let b = c.take(usize::from(lvar), "text")?;
                    Value::Text(b.iter().rev().map(|&x| char::from(x)).collect())
                }
                0xC0..=0xDF => {
                    let b = c.take(usize::from(lvar & 0x0F), "BCD")?;
                    match bcd(b) {
                        Value::Int(i) if lvar >= 0xD0 => Value::Int(-i),
                        v => v,
                    }
                }
                0xE0..=0xEF => {
                    let b = c.take(usize::from(lvar - 0xE0), "binary number")?;
                    if (1..=8).contains(&b.len()) {
                        Value::Int(int(b))
                    } else {
                        Value::Bytes(b.to_vec())
                    }
                }
                0xF0..=0xFA => {
                    let b = c.take(4 * usize::from(lvar - 0xEC), "binary number")?;
                    Value::Bytes(b.to_vec())
                }
                _ => return Err(format!("reserved LVAR 0x{lvar:02X}")),
            }
        }
        _ => return Err(format!("data field 0x{field:X} not readable")),
    })
}

/// Type A: BCD, least significant byte first; an F in the top nibble makes it negative. A
/// number too long for 64 bits (variable-length BCD has up to 30 digits) stays raw, like a
/// non-decimal digit, rather than wrapping to a wrong value.
fn bcd(b: &[u8]) -> Value {
    let raw = || Value::Bytes(b.to_vec());
    let push = |v: i64, digit: u8| v.checked_mul(10)?.checked_add(i64::from(digit));
    let mut v: i64 = 0;
    let mut negative = false;
    for (i, &x) in b.iter().enumerate().rev() {
        let (hi, lo) = (x >> 4, x & 0x0F);
        if i == b.len() - 1 && hi == 0xF {
            negative = true;
        } else if hi > 9 {
            return raw();
        } else {
            let Some(next) = push(v, hi) else {
                return raw();
            };
            v = next;
        }
        if lo > 9 {
            return raw();
        }
        let Some(next) = push(v, lo) else {
            return raw();
        };
        v = next;
    }
    Value::Int(if negative { -v } else { v })
}

/// Types G (16-bit date), J (24-bit time), F (32-bit date-time), I (48-bit date-time).
fn date_value(b: &[u8], kind: DateKind) -> Option<Value> {
    let text = match (kind, b.len()) {
        (DateKind::Date, 2) => type_g(b[0], b[1]),
        (DateKind::DateTime, 2) => type_g(b[0], b[1]),
        (DateKind::DateTime, 3) => {
            format!("{:02}:{:02}:{:02}", b[2] & 0x1F, b[1] & 0x3F, b[0] & 0x3F)
        }
        (DateKind::DateTime, 4) => {
            let mut t = format!(
                "{}T{:02}:{:02}",
                type_g(b[2], b[3]),
                b[1] & 0x1F,
                b[0] & 0x3F
            );
            if b[0] & 0x80 != 0 {
                t.push_str(" (invalid)");
            }
            if b[1] & 0x80 != 0 {
                t.push_str(" (summer time)");
            }
            t
        }
        (DateKind::DateTime, 6) => {
            let mut t = format!(
                "{}T{:02}:{:02}:{:02}",
                type_g(b[3], b[4]),
                b[2] & 0x1F,
                b[1] & 0x3F,
                b[0] & 0x3F
            );
            if b[1] & 0x80 != 0 {
                t.push_str(" (invalid)");
            }
            if b[2] & 0x80 != 0 {
                t.push_str(" (summer time)");
            }
            t
        }
        _ => return None,
    };
    Some(Value::Date {
        raw: b.to_vec(),
        text,
    })
}

/// Type G: day bits 0-4 of the low byte, month bits 0-3 of the high byte, year in bits 5-7 of
/// the low byte (low part) and 4-7 of the high byte (high part), from 2000 when below 81.
fn type_g(lo: u8, hi: u8) -> String {
    let day = lo & 0x1F;
    let month = hi & 0x0F;
    let year = u16::from(((hi & 0xF0) >> 1) | ((lo & 0xE0) >> 5));
    let year = if year < 81 { 2000 + year } else { 1900 + year };
    format!("{year:04}-{month:02}-{day:02}")
}

fn q(name: &str, unit: Option<&str>, exponent: i8) -> Quantity {
    Quantity {
        name: name.into(),
        unit: unit.map(str::to_string),
        exponent,
        date: DateKind::None,
        manufacturer_specific: false,
    }
}

const TIME_UNITS: [&str; 4] = ["s", "min", "h", "d"];

/// The primary VIF table (EN 13757-3 table 10), extension bit masked off.
pub fn primary(vif: u8) -> Quantity {
    let v = vif & 0x7F;
    let n = (v & 0x07) as i8;
    let nn = (v & 0x03) as i8;
    let t = TIME_UNITS[usize::from(v & 0x03)];
    match v {
        0x00..=0x07 => q("Energy", Some("Wh"), n - 3),
        0x08..=0x0F => q("Energy", Some("J"), n),
        0x10..=0x17 => q("Volume", Some("m3"), n - 6),
        0x18..=0x1F => q("Mass", Some("kg"), n - 3),
        0x20..=0x23 => q("On time", Some(t), 0),
        0x24..=0x27 => q("Operating time", Some(t), 0),
        0x28..=0x2F => q("Power", Some("W"), n - 3),
        0x30..=0x37 => q("Power", Some("J/h"), n),
        0x38..=0x3F => q("Volume flow", Some("m3/h"), n - 6),
        0x40..=0x47 => q("Volume flow", Some("m3/min"), n - 7),
        0x48..=0x4F => q("Volume flow", Some("m3/s"), n - 9),
        0x50..=0x57 => q("Mass flow", Some("kg/h"), n - 3),
        0x58..=0x5B => q("Flow temperature", Some("°C"), nn - 3),
        0x5C..=0x5F => q("Return temperature", Some("°C"), nn - 3),
        0x60..=0x63 => q("Temperature difference", Some("K"), nn - 3),
        0x64..=0x67 => q("External temperature", Some("°C"), nn - 3),
        0x68..=0x6B => q("Pressure", Some("bar"), nn - 3),
        0x6C => Quantity {
            date: DateKind::Date,
            ..q("Date", None, 0)
        },
        0x6D => Quantity {
            date: DateKind::DateTime,
            ..q("Date and time", None, 0)
        },
        0x6E => q("Units for H.C.A.", None, 0),
        0x70..=0x73 => q("Averaging duration", Some(t), 0),
        0x74..=0x77 => q("Actuality duration", Some(t), 0),
        0x78 => q("Fabrication number", None, 0),
        0x79 => q("Enhanced identification", None, 0),
        0x7A => q("Bus address", None, 0),
        0x7C => q("Plain-text unit", None, 0),
        0x7E => q("Any VIF", None, 0),
        0x7F => Quantity {
            manufacturer_specific: true,
            ..q("Manufacturer-specific", None, 0)
        },
        _ => q(&format!("Reserved VIF 0x{v:02X}"), None, 0),
    }
}

/// The first extension table, VIF FB (EN 13757-3 table 14), the parts electricity meters use.
pub fn table_fb(e: u8) -> Quantity {
    let v = e & 0x7F;
    let n = (v & 0x01) as i8;
    let nn = (v & 0x03) as i8;
    match v {
        0x00..=0x01 => q("Energy", Some("Wh"), n + 5),
        0x02..=0x03 => q("Reactive energy", Some("varh"), n + 3),
        0x04..=0x05 => q("Apparent energy", Some("VAh"), n + 3),
        0x08..=0x09 => q("Energy", Some("J"), n + 8),
        0x10..=0x11 => q("Volume", Some("m3"), n + 2),
        0x18..=0x19 => q("Mass", Some("kg"), n + 5),
        0x28..=0x29 => q("Power", Some("W"), n + 5),
        0x30..=0x31 => q("Power", Some("J/h"), n + 8),
        0x58..=0x5B => q("Flow temperature", Some("°F"), nn - 3),
        0x5C..=0x5F => q("Return temperature", Some("°F"), nn - 3),
        0x60..=0x63 => q("Temperature difference", Some("°F"), nn - 3),
        0x64..=0x67 => q("External temperature", Some("°F"), nn - 3),
        0x78..=0x7F => q(
            "Cumulative count max power",
            Some("W"),
            (v & 0x07) as i8 - 3,
        ),
        _ => q(&format!("Extension FB 0x{v:02X}"), None, 0),
    }
}

/// The second extension table, VIF FD (EN 13757-3 table 15).
pub fn table_fd(e: u8) -> Quantity {
    let v = e & 0x7F;
    let nn = (v & 0x03) as i8;
    let t = TIME_UNITS[usize::from(v & 0x03)];
    match v {
        0x00..=0x03 => q("Credit", Some("currency units"), nn - 3),
        0x04..=0x07 => q("Debit", Some("currency units"), nn - 3),
        0x08 => q("Access number", None, 0),
        0x09 => q("Medium", None, 0),
        0x0A => q("Manufacturer", None, 0),
        0x0B => q("Parameter set identification", None, 0),
        0x0C => q("Model / version", None, 0),
        0x0D => q("Hardware version", None, 0),
        0x0E => q("Firmware version", None, 0),
        0x0F => q("Software version", None, 0),
        0x10 => q("Customer location", None, 0),
        0x11 => q("Customer", None, 0),
        0x12 => q("Access code user", None, 0),
        0x13 => q("Access code operator", None, 0),
        0x14 => q("Access code system operator", None, 0),
        0x15 => q("Access code developer", None, 0),
        0x16 => q("Password", None, 0),
        0x17 => q("Error flags", None, 0),
        0x18 => q("Error mask", None, 0),
        0x1A => q("Digital output", None, 0),
        0x1B => q("Digital input", None, 0),
        0x1C => q("Baud rate", Some("Bd"), 0),
        0x1D => q("Response delay time", Some("bit times"), 0),
        0x1E => q("Retry", None, 0),
        0x20 => q("First storage number (cyclic)", None, 0),
        0x21 => q("Last storage number (cyclic)", None, 0),
        0x22 => q("Size of storage block", None, 0),
        0x24..=0x27 => q("Storage interval", Some(t), 0),
        0x28 => q("Storage interval", Some("months"), 0),
        0x29 => q("Storage interval", Some("years"), 0),
        0x2C..=0x2F => q("Duration since last readout", Some(t), 0),
        0x30 => Quantity {
            date: DateKind::DateTime,
            ..q("Start of tariff", None, 0)
        },
        0x31..=0x33 => q("Duration of tariff", Some(t), 0),
        0x34..=0x37 => q("Period of tariff", Some(t), 0),
        0x38 => q("Period of tariff", Some("months"), 0),
        0x39 => q("Period of tariff", Some("years"), 0),
        0x3A => q("Dimensionless", None, 0),
        0x40..=0x4F => q("Voltage", Some("V"), (v & 0x0F) as i8 - 9),
        0x50..=0x5F => q("Current", Some("A"), (v & 0x0F) as i8 - 12),
        0x60 => q("Reset counter", None, 0),
        0x61 => q("Cumulation counter", None, 0),
        0x62 => q("Control signal", None, 0),
        0x63 => q("Day of week", None, 0),
        0x64 => q("Week number", None, 0),
        0x65 => q("Time point of day change", None, 0),
        0x66 => q("State of parameter activation", None, 0),
        0x67 => q("Special supplier information", None, 0),
        0x68 => q("Duration since last cumulation", Some("h"), 0),
        0x69 => q("Duration since last cumulation", Some("d"), 0),
        0x6A => q("Duration since last cumulation", Some("months"), 0),
        0x6B => q("Duration since last cumulation", Some("years"), 0),
        0x6C => q("Operating time battery", Some("h"), 0),
        0x6D => q("Operating time battery", Some("d"), 0),
        0x6E => q("Operating time battery", Some("months"), 0),
        0x6F => q("Operating time battery", Some("years"), 0),
        0x70 => Quantity {
            date: DateKind::DateTime,
            ..q("Date and time of battery change", None, 0)
        },
        _ => q(&format!("Extension FD 0x{v:02X}"), None, 0),
    }
}

/// A combinable (orthogonal) VIFE (EN 13757-3 table 16) applied to a quantity.
fn combinable(e: u8, quantity: &mut Quantity, manufacturer: &mut bool) {
    let suffix = match e {
        0x00..=0x1F => format!("error code 0x{e:02X}"),
        0x20 => "per second".into(),
        0x21 => "per minute".into(),
        0x22 => "per hour".into(),
        0x23 => "per day".into(),
        0x24 => "per week".into(),
        0x25 => "per month".into(),
        0x26 => "per year".into(),
        0x27 => "per revolution / measurement".into(),
        0x28..=0x29 => format!("increment per input pulse, channel {}", e - 0x28),
        0x2A..=0x2B => format!("increment per output pulse, channel {}", e - 0x2A),
        0x39 => "start date of".into(),
        0x3A => "uncorrected unit".into(),
        0x3B => "positive contributions only".into(),
        0x3C => "negative contributions only".into(),
        0x40 => "lower limit".into(),
        0x48 => "upper limit".into(),
        0x41 => "exceeds of lower limit".into(),
        0x49 => "exceeds of upper limit".into(),
        0x70..=0x77 => {
            quantity.exponent = quantity.exponent.saturating_add((e & 0x07) as i8 - 6);
            return;
        }
        0x7D => {
            quantity.exponent = quantity.exponent.saturating_add(3);
            return;
        }
        0x7F => {
            *manufacturer = true;
            "manufacturer-specific VIFEs follow".into()
        }
        _ => format!("VIFE 0x{e:02X}"),
    };
    quantity.name = format!("{}, {suffix}", quantity.name);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kamstrup_382_records() {
        let f = super::super::super::hex_bytes(include_str!(
            "../../../tests/fixtures/mbus/kamstrup-382-rsp-ud.hex"
        ));
        let r = parse_records(&f[19..f.len() - 2], 19);
        assert_eq!(r.error, None);
        let names: Vec<String> = r.records.iter().map(Record::name).collect();
        assert_eq!(
            names,
            [
                "Energy",
                "On time",
                "Power",
                "Power (maximum)",
                "Energy (tariff 1, subunit 1)",
                "Energy (tariff 2, subunit 1)",
                "Manufacturer data"
            ]
        );
        assert_eq!(r.records[1].value, Value::Int(9));
        assert_eq!(r.records[1].quantity.unit.as_deref(), Some("h"));
        assert_eq!(r.records[0].quantity.exponent, 3);
        assert_eq!(r.records[0].range, 19..25);
        assert!(!r.more_follows());
    }

    #[test]
    fn bcd_and_dates() {
        assert_eq!(bcd(&[0x34, 0x12]), Value::Int(1234));
        assert_eq!(bcd(&[0x34, 0xF2]), Value::Int(-234));
        assert!(matches!(bcd(&[0x3A]), Value::Bytes(_)));
        // Found by the fuzz harness: 20 digits overflowed i64 (a wrong number in release).
        assert_eq!(bcd(&[0x99; 9]), Value::Int(999_999_999_999_999_999));
        assert_eq!(bcd(&[0x99; 10]), Value::Bytes(vec![0x99; 10]));
        assert_eq!(bcd(&[0x99; 15]), Value::Bytes(vec![0x99; 15]));
        // 2026-11-22 07:58: min 58, hour 7, type G 22 Nov 2026 (year 26 = 0b0011010).
        let g = type_g(0x16 | (0b010 << 5), 0x0B | (0b0011 << 4));
        assert_eq!(g, "2026-11-22");
    }

    #[test]
    fn extensions_and_errors() {
        // DIF 84 DIFE 50 -> tariff 1, storage 0; DIF C4 DIFE 01 -> storage 3.
        let r = parse_records(&[0xC4, 0x01, 0x03, 1, 0, 0, 0], 0);
        assert_eq!(r.records[0].storage, 3);
        // Voltage FD 48 = V x 10^-1, 16-bit.
        let r = parse_records(&[0x02, 0xFD, 0x48, 0xE6, 0x08], 0);
        assert_eq!(r.records[0].scaled(), Some(227.8));
        // Cut record: error at its first byte.
        let r = parse_records(&[0x2F, 0x04, 0x06, 0x00], 10);
        assert_eq!(r.fillers, 1);
        assert_eq!(r.error.as_ref().map(|e| e.0), Some(11));
    }
}
