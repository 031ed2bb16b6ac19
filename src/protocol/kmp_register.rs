//! What KMP frames carry: the registers of binary KMP (GetType, GetSerialNo, GetRegister) and
//! the fixed layouts of the 685-382's ASCII-hex answers, decoded into [`Register`]s; and the
//! encoders the simulated meter and the readout session build their frames with.
//!
//! Names and units come only from public sources that agree: the KMP unit table and register ids
//! of public KMP libraries (PyKMP's tables and the phk-derived 382 drivers list the same ids), and
//! for the 685-382 the layout read by the open-source 685-382 driver whose README is seed 004.
//! What no public source names is shown by its position or id with its raw value.

use super::kmp::{self, Direction};

/// Binary KMP commands (PyKMP and the public KMP drivers agree on these ids).
pub const GET_TYPE: u8 = 0x01;
pub const GET_SERIAL_NO: u8 = 0x02;
pub const GET_REGISTER: u8 = 0x10;
pub const PUT_REGISTER: u8 = 0x11;
/// The destination address of the meter in binary KMP.
pub const METER_ADDRESS: u8 = 0x3F;
/// A bare acknowledgement byte (the answer to a write).
pub const ACK: u8 = 0x06;
/// At most this many registers in one GetRegister request.
pub const MAX_REGISTERS_PER_REQUEST: usize = 8;

/// A register value as received.
#[derive(Debug, Clone, PartialEq)]
pub enum Raw {
    UInt(u64),
    Int(i64),
    Text(String),
    /// Bytes with no numeric reading (too long a mantissa).
    Bytes(Vec<u8>),
}

/// One decoded register: the same shape as a HAN field (name, raw, scaler, value, unit).
#[derive(Debug, Clone, PartialEq)]
pub struct Register {
    /// The binary register id (None for the 685-382's fixed layouts).
    pub id: Option<u16>,
    /// What it is: a public name, or its id / position when no public source names it.
    pub name: String,
    /// Whether a public source names it.
    pub named: bool,
    pub raw: Raw,
    /// Power of ten the raw value is scaled by.
    pub scaler: Option<i8>,
    pub unit: Option<&'static str>,
    /// The unit code as sent (binary KMP), also when the code has no public name.
    pub unit_code: Option<u8>,
}

impl Register {
    /// raw x 10^scaler for quantities; `None` for ids and numbers without a known scale.
    pub fn value(&self) -> Option<f64> {
        let scaler = self.scaler?;
        let base = match self.raw {
            Raw::UInt(u) => u as f64,
            Raw::Int(i) => i as f64,
            _ => return None,
        };
        Some(base * 10f64.powi(i32::from(scaler)))
    }
}

/// Unit codes of binary KMP that public sources give the same name. Codes 21 and 25 are left
/// out: the public tables disagree on them (W or kW, var or kvar).
pub fn unit_name(code: u8) -> Option<&'static str> {
    Some(match code {
        1 => "Wh",
        2 => "kWh",
        3 => "MWh",
        4 => "GWh",
        5 => "J",
        6 => "kJ",
        7 => "MJ",
        8 => "GJ",
        9 => "cal",
        10 => "kcal",
        11 => "Mcal",
        12 => "Gcal",
        13 => "varh",
        14 => "kvarh",
        15 => "Mvarh",
        16 => "Gvarh",
        17 => "VAh",
        18 => "kVAh",
        19 => "MVAh",
        20 => "GVAh",
        22 => "kW",
        23 => "MW",
        24 => "GW",
        26 => "kvar",
        27 => "Mvar",
        28 => "Gvar",
        29 => "VA",
        30 => "kVA",
        31 => "MVA",
        32 => "GVA",
        33 => "V",
        34 => "A",
        35 => "kV",
        36 => "kA",
        37 => "°C",
        38 => "K",
        39 => "l",
        40 => "m³",
        41 => "l/h",
        42 => "m³/h",
        44 => "t",
        45 => "t/h",
        46 => "h",
        47 => "hh:mm:ss",
        48 => "yy:mm:dd",
        49 => "yyyy:mm:dd",
        50 => "mm:dd",
        52 => "bar",
        _ => return None,
    })
}

/// Register ids that the public KMP tables name alike (electricity and the common heat ones).
pub fn register_name(id: u16) -> Option<&'static str> {
    Some(match id {
        0x0001 => "Energy in",
        0x0002 => "Energy out",
        0x000D => "Energy in, high resolution",
        0x000E => "Energy out, high resolution",
        0x003C => "Heat energy E1",
        0x0044 => "Volume V1",
        0x004A => "Flow V1",
        0x0050 => "Power",
        0x0056 => "Temperature t1",
        0x0057 => "Temperature t2",
        0x0059 => "Temperature difference t1-t2",
        0x0063 => "Info code",
        0x03E9 => "Serial number",
        0x03EC => "Hour counter",
        0x03FF => "Power in",
        0x0400 => "Power out",
        0x041E => "Voltage L1",
        0x041F => "Voltage L2",
        0x0420 => "Voltage L3",
        0x0434 => "Current L1",
        0x0435 => "Current L2",
        0x0436 => "Current L3",
        0x0438 => "Power in L1",
        0x0439 => "Power in L2",
        0x043A => "Power in L3",
        0x0540 => "Power out L1",
        0x0541 => "Power out L2",
        0x0542 => "Power out L3",
        _ => return None,
    })
}

/// The registers a binary readout of an electricity meter asks for.
pub const ELECTRICITY_REGISTERS: [u16; 16] = [
    0x0001, 0x0002, 0x000D, 0x000E, 0x03FF, 0x0400, 0x041E, 0x041F, 0x0420, 0x0434, 0x0435, 0x0436,
    0x0438, 0x0439, 0x043A, 0x03E9,
];

/// Why a payload could not be decoded: one sentence and the data byte where it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadError {
    pub message: String,
    pub at: usize,
}

impl std::fmt::Display for PayloadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (data byte {})", self.message, self.at)
    }
}

fn err<T>(message: impl Into<String>, at: usize) -> Result<T, PayloadError> {
    Err(PayloadError {
        message: message.into(),
        at,
    })
}

/// One register of a GetRegister response, as the meter encodes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterValue {
    pub id: u16,
    pub unit: u8,
    /// Sign of the mantissa (bit 7 of the sign/exponent byte).
    pub negative: bool,
    /// Signed power of ten (bit 6 the sign, bits 0-5 the magnitude).
    pub exponent: i8,
    /// The mantissa bytes, big-endian.
    pub mantissa: Vec<u8>,
}

impl RegisterValue {
    /// The sign/exponent byte.
    pub fn sign_exponent(&self) -> u8 {
        let mut b = self.exponent.unsigned_abs() & 0x3F;
        if self.exponent < 0 {
            b |= 0x40;
        }
        if self.negative {
            b |= 0x80;
        }
        b
    }

    /// The register as shown: name, raw mantissa with its sign, scaler, unit.
    pub fn register(&self) -> Register {
        let raw = if self.mantissa.len() <= 8 {
            let m = self
                .mantissa
                .iter()
                .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
            match i64::try_from(m) {
                Ok(i) if self.negative => Raw::Int(-i),
                _ if self.negative => Raw::Bytes(self.mantissa.clone()),
                _ => Raw::UInt(m),
            }
        } else {
            Raw::Bytes(self.mantissa.clone())
        };
        let name = register_name(self.id);
        Register {
            id: Some(self.id),
            name: name.map_or_else(|| format!("register 0x{:04X}", self.id), str::to_string),
            named: name.is_some(),
            raw,
            scaler: Some(self.exponent),
            unit: unit_name(self.unit),
            unit_code: Some(self.unit),
        }
    }

    /// A value from a number and a scaler (for the simulator and tests).
    pub fn from_number(id: u16, unit: u8, number: i64, exponent: i8) -> Self {
        let magnitude = number.unsigned_abs();
        RegisterValue {
            id,
            unit,
            negative: number < 0,
            exponent: exponent.clamp(-63, 63),
            mantissa: magnitude.to_be_bytes()[4..].to_vec(),
        }
    }
}

/// The ids of a GetRegister request's data: a count, then 2-byte ids.
pub fn decode_register_request(data: &[u8]) -> Result<Vec<u16>, PayloadError> {
    let Some((&count, ids)) = data.split_first() else {
        return err("GetRegister request without a register count", 0);
    };
    if ids.len() != usize::from(count) * 2 {
        return err(
            format!(
                "GetRegister request announces {count} register(s) but carries {} byte(s) of ids",
                ids.len()
            ),
            0,
        );
    }
    Ok(ids
        .chunks_exact(2)
        .map(|p| u16::from_be_bytes([p[0], p[1]]))
        .collect())
}

/// The registers of a GetRegister response's data.
pub fn decode_register_response(data: &[u8]) -> Result<Vec<RegisterValue>, PayloadError> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < data.len() {
        let Some(head) = data.get(at..at + 5) else {
            return err(
                format!(
                    "register header cut off: {} byte(s) where 5 are needed",
                    data.len() - at
                ),
                at,
            );
        };
        let len = usize::from(head[3]);
        let Some(mantissa) = data.get(at + 5..at + 5 + len) else {
            return err(
                format!(
                    "register 0x{:02X}{:02X} announces {len} value byte(s), {} came",
                    head[0],
                    head[1],
                    data.len() - at - 5
                ),
                at + 3,
            );
        };
        let se = head[4];
        let magnitude = (se & 0x3F) as i8;
        out.push(RegisterValue {
            id: u16::from_be_bytes([head[0], head[1]]),
            unit: head[2],
            negative: se & 0x80 != 0,
            exponent: if se & 0x40 != 0 {
                -magnitude
            } else {
                magnitude
            },
            mantissa: mantissa.to_vec(),
        });
        at += 5 + len;
    }
    Ok(out)
}

/// A GetRegister request's data.
pub fn encode_register_request(ids: &[u16]) -> Vec<u8> {
    let mut out = vec![ids.len() as u8];
    for id in ids {
        out.extend_from_slice(&id.to_be_bytes());
    }
    out
}

/// A GetRegister response's data.
pub fn encode_register_response(values: &[RegisterValue]) -> Vec<u8> {
    let mut out = Vec::new();
    for v in values {
        out.extend_from_slice(&v.id.to_be_bytes());
        out.push(v.unit);
        out.push(v.mantissa.len() as u8);
        out.push(v.sign_exponent());
        out.extend_from_slice(&v.mantissa);
    }
    out
}

/// A whole binary frame to or from the meter: start byte, address, command, data, CRC, CR.
pub fn binary_frame(direction: Direction, command: u8, data: &[u8]) -> Vec<u8> {
    let mut logical = vec![METER_ADDRESS, command];
    logical.extend_from_slice(data);
    kmp::encode_binary(direction, &logical)
}

/// The GetType answer: a 2-byte meter type and a software revision (letter 1 = A, then a number;
/// 00 00 when the meter does not give one).
pub fn decode_get_type(data: &[u8]) -> Result<Vec<Register>, PayloadError> {
    if data.len() != 4 {
        return err(
            format!("GetType answer of {} byte(s), 4 expected", data.len()),
            0,
        );
    }
    let mut out = vec![fixed("Meter type", Raw::Text(crate_hex(&data[..2])), None)];
    let revision = match (data[2], data[3]) {
        (0, 0) => None,
        (letter @ 1..=26, n) => Some(format!("{}{n}", char::from(b'@' + letter))),
        _ => return err("software revision letter out of range 1-26", 2),
    };
    if let Some(r) = revision {
        out.push(fixed("Software revision", Raw::Text(r), None));
    }
    Ok(out)
}

/// The GetSerialNo answer: a 4-byte big-endian serial number.
pub fn decode_get_serial(data: &[u8]) -> Result<Vec<Register>, PayloadError> {
    let Ok(bytes) = <[u8; 4]>::try_from(data) else {
        return err(
            format!("GetSerialNo answer of {} byte(s), 4 expected", data.len()),
            0,
        );
    };
    Ok(vec![fixed(
        "Serial number",
        Raw::UInt(u64::from(u32::from_be_bytes(bytes))),
        None,
    )])
}

fn crate_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

fn fixed(name: &str, raw: Raw, unit: Option<&'static str>) -> Register {
    Register {
        id: None,
        name: name.to_string(),
        named: true,
        raw,
        scaler: unit.map(|_| 0),
        unit,
        unit_code: None,
    }
}

/// What a binary frame's data means, when its command has a public layout. `None`: no layout
/// (the data stays raw).
pub fn decode_binary(
    direction: Direction,
    command: u8,
    data: &[u8],
) -> Option<Result<Vec<Register>, PayloadError>> {
    match (direction, command) {
        (Direction::Response, GET_TYPE) => Some(decode_get_type(data)),
        (Direction::Response, GET_SERIAL_NO) => Some(decode_get_serial(data)),
        (Direction::Response, GET_REGISTER) => Some(
            decode_register_response(data)
                .map(|values| values.iter().map(RegisterValue::register).collect()),
        ),
        _ => None,
    }
}

/// A short name of the command, for the frame line.
pub fn binary_command_name(command: u8) -> Option<&'static str> {
    Some(match command {
        GET_TYPE => "GetType",
        GET_SERIAL_NO => "GetSerialNo",
        GET_REGISTER => "GetRegister",
        PUT_REGISTER => "PutRegister",
        _ => return None,
    })
}

// ---- 685-382 ASCII-hex ----------------------------------------------------------------------

/// The 685-382's ASCII-hex commands as the seed's driver sends them.
pub const ASCII_HELLO: u8 = 0x00;
pub const ASCII_READ_MEMORY: u8 = 0x01;
pub const ASCII_READ_COUNTERS: u8 = 0x90;
pub const ASCII_READ_TARIFFS: u8 = 0x95;
/// The ASCII-hex address byte the driver uses.
pub const ASCII_ADDRESS: u8 = 0xFE;
/// The memory read whose answer holds meter type, meter id and customer number: the driver reads
/// it as `00 01 00 2C`, where 0x2C is the number of bytes returned.
pub const MEMORY_READ_IDENTITY: [u8; 4] = [0x00, 0x01, 0x00, 0x2C];
/// The driver's second memory read (its answer is not decoded by any public source).
pub const MEMORY_READ_SECOND: [u8; 4] = [0x03, 0x84, 0x03, 0x9B];

/// A short name of an ASCII-hex command, for the frame line.
pub fn ascii_command_name(command: u8) -> Option<&'static str> {
    Some(match command {
        ASCII_HELLO => "hello",
        ASCII_READ_MEMORY => "memory read",
        ASCII_READ_COUNTERS => "counters",
        ASCII_READ_TARIFFS => "tariff energies",
        _ => return None,
    })
}

/// The 32-bit words of the 0x90 answer, in order, as the driver names them (its own identifiers
/// in brackets): `None` where no public source names the word.
///
/// Units: total energy is kWh (9032 = the same meter's IEC `1.20(0009032*kWh)`), the hour
/// counter h (IEC `1.31`), and peak power W (1559 against IEC `1.6(000001,5*kW)`). The load
/// energy, reset counter and production number have no public unit.
const COUNTER_WORDS: [Option<(&str, Option<&str>)>; 9] = [
    Some(("Total energy", Some("kWh"))),    // TOTAL_ENERGY
    Some(("Energy load", None)),            // ENERGY_LOAD_WH
    Some(("Operating hours", Some("h"))),   // OPERATING_HOURS
    Some(("Reset counter", None)),          // RESET_COUNTER
    Some(("Peak power", Some("W"))),        // PEAK_POWER
    Some(("Customer number (copy)", None)), // CUSTOMER_NO_2
    None,
    None,
    Some(("Production number", None)), // PRODUCTION_NO
];

/// The words after the leading byte of the `95 00` answer (its leading byte is not named).
const TARIFF_WORDS: [(&str, &str); 3] = [
    ("Energy total (tariff register)", "kWh"), // ENERGY_TOTAL2
    ("Energy tariff 1", "kWh"),                // ENERGY_TARIF1
    ("Energy tariff 2", "kWh"),                // ENERGY_TARIF2
];

fn word(data: &[u8], at: usize) -> Option<u32> {
    data.get(at..at + 4)
        .map(|w| u32::from_be_bytes([w[0], w[1], w[2], w[3]]))
}

fn counted(name: String, named: bool, value: u32, unit: Option<&'static str>) -> Register {
    Register {
        id: None,
        name,
        named,
        raw: Raw::UInt(u64::from(value)),
        scaler: unit.map(|_| 0),
        unit,
        unit_code: None,
    }
}

/// What a 685-382 answer's data means. `request` is the data of the request it answers, when
/// known (a memory read's answer depends on it). `None`: no public layout (the data stays raw).
pub fn decode_ascii_response(
    command: u8,
    request: Option<&[u8]>,
    data: &[u8],
) -> Option<Result<Vec<Register>, PayloadError>> {
    match command {
        ASCII_READ_COUNTERS => Some(decode_counters(data)),
        ASCII_READ_TARIFFS if request.is_none_or(|r| r == [0x00]) => Some(decode_tariffs(data)),
        ASCII_READ_MEMORY if request == Some(&MEMORY_READ_IDENTITY[..]) => {
            Some(decode_identity(data))
        }
        _ => None,
    }
}

fn decode_counters(data: &[u8]) -> Result<Vec<Register>, PayloadError> {
    if data.len() != COUNTER_WORDS.len() * 4 {
        return err(
            format!(
                "counters answer of {} byte(s), {} expected",
                data.len(),
                COUNTER_WORDS.len() * 4
            ),
            0,
        );
    }
    Ok(COUNTER_WORDS
        .iter()
        .enumerate()
        .filter_map(|(i, meaning)| {
            let value = word(data, i * 4)?;
            Some(match meaning {
                Some((name, unit)) => counted((*name).to_string(), true, value, *unit),
                None => counted(
                    format!("word {} (not named publicly)", i + 1),
                    false,
                    value,
                    None,
                ),
            })
        })
        .collect())
}

fn decode_tariffs(data: &[u8]) -> Result<Vec<Register>, PayloadError> {
    if data.len() != 1 + TARIFF_WORDS.len() * 4 {
        return err(
            format!(
                "tariff answer of {} byte(s), {} expected",
                data.len(),
                1 + TARIFF_WORDS.len() * 4
            ),
            0,
        );
    }
    let mut out = vec![counted(
        "leading byte (not named publicly)".into(),
        false,
        u32::from(data[0]),
        None,
    )];
    for (i, (name, unit)) in TARIFF_WORDS.iter().enumerate() {
        if let Some(v) = word(data, 1 + i * 4) {
            out.push(counted((*name).to_string(), true, v, Some(unit)));
        }
    }
    Ok(out)
}

/// The identity memory read: meter type as 10 ASCII characters from byte 0, meter id and
/// customer number as little-endian 32-bit numbers at bytes 29 and 33 (the customer number
/// equals the same meter's IEC `0.0` and the 0x90 answer's copy).
fn decode_identity(data: &[u8]) -> Result<Vec<Register>, PayloadError> {
    let needed = usize::from(MEMORY_READ_IDENTITY[3]);
    if data.len() != needed {
        return err(
            format!(
                "identity memory read answered {} byte(s), {needed} asked",
                data.len()
            ),
            0,
        );
    }
    let le = |at: usize| u32::from_le_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]);
    let meter_type: String = data[..10]
        .iter()
        .map(|&b| {
            if b.is_ascii_graphic() {
                char::from(b)
            } else {
                '.'
            }
        })
        .collect();
    Ok(vec![
        fixed("Meter type", Raw::Text(meter_type), None),
        counted("Meter id".into(), true, le(29), None),
        counted("Customer number".into(), true, le(33), None),
    ])
}

/// An ASCII-hex frame to or from the meter: start byte, address FE, command, data, LRC, CR.
pub fn ascii_frame(direction: Direction, command: u8, data: &[u8]) -> Vec<u8> {
    let mut logical = vec![ASCII_ADDRESS, command];
    logical.extend_from_slice(data);
    kmp::encode_ascii(direction, &logical)
}

/// The answers of a 685-382, built from its values (the simulated meter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meter685382 {
    pub meter_type: [u8; 10],
    pub meter_id: u32,
    pub customer_no: u32,
    pub total_kwh: u32,
    pub tariff1_kwh: u32,
    pub tariff2_kwh: u32,
    pub operating_hours: u32,
    pub reset_counter: u32,
    pub peak_power_w: u32,
    pub production_no: u32,
}

impl Meter685382 {
    /// The answer data to a request (command, data); `None` for one it does not answer.
    pub fn answer(&self, command: u8, request: &[u8]) -> Option<Vec<u8>> {
        match (command, request) {
            // The hello answer as the seed's meter gives it (its meaning is not public).
            (ASCII_HELLO, []) => Some(vec![0x02, 0x01, 0x07, 0x01]),
            (ASCII_READ_MEMORY, r) if r == MEMORY_READ_IDENTITY => {
                let mut m = vec![0u8; usize::from(MEMORY_READ_IDENTITY[3])];
                m[..10].copy_from_slice(&self.meter_type);
                m[29..33].copy_from_slice(&self.meter_id.to_le_bytes());
                m[33..37].copy_from_slice(&self.customer_no.to_le_bytes());
                Some(m)
            }
            // The driver documents 24 bytes of FF as the answer to its second read.
            (ASCII_READ_MEMORY, r) if r == MEMORY_READ_SECOND => Some(vec![0xFF; 24]),
            (ASCII_READ_COUNTERS, []) => {
                let words = [
                    self.total_kwh,
                    0,
                    self.operating_hours,
                    self.reset_counter,
                    self.peak_power_w,
                    self.customer_no,
                    0,
                    0,
                    self.production_no,
                ];
                Some(words.iter().flat_map(|w| w.to_be_bytes()).collect())
            }
            (ASCII_READ_TARIFFS, [0x00]) => {
                let mut d = vec![0x01];
                for w in [self.total_kwh, self.tariff1_kwh, self.tariff2_kwh] {
                    d.extend_from_slice(&w.to_be_bytes());
                }
                Some(d)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::hex_bytes;

    fn values(regs: &[Register]) -> Vec<(String, Option<f64>, Option<&'static str>)> {
        regs.iter()
            .map(|r| (r.name.clone(), r.value(), r.unit))
            .collect()
    }

    #[test]
    fn the_fixture_counters_answer() {
        let data =
            hex_bytes("00002348000000000000DECD000DC8410000061700A5CA780000000000000000 10001093");
        let regs = decode_ascii_response(0x90, None, &data).unwrap().unwrap();
        assert_eq!(regs.len(), 9);
        assert_eq!(regs[0].name, "Total energy");
        assert_eq!(regs[0].value(), Some(9032.0));
        assert_eq!(regs[0].unit, Some("kWh"));
        assert_eq!(regs[2].value(), Some(57037.0));
        assert_eq!(regs[3].raw, Raw::UInt(903_233));
        assert_eq!((regs[4].value(), regs[4].unit), (Some(1559.0), Some("W")));
        assert_eq!(regs[5].raw, Raw::UInt(10_865_272));
        assert!(!regs[6].named && !regs[7].named);
        assert_eq!(regs[8].raw, Raw::UInt(0x1000_1093));
    }

    #[test]
    fn the_fixture_tariff_answer() {
        let data = hex_bytes("01000023480000234700000001");
        let regs = decode_ascii_response(0x95, Some(&[0x00]), &data)
            .unwrap()
            .unwrap();
        let v = values(&regs);
        assert_eq!(
            v[1],
            (
                "Energy total (tariff register)".into(),
                Some(9032.0),
                Some("kWh")
            )
        );
        assert_eq!(v[2], ("Energy tariff 1".into(), Some(9031.0), Some("kWh")));
        assert_eq!(v[3], ("Energy tariff 2".into(), Some(1.0), Some("kWh")));
        assert!(!regs[0].named);
        // Another tariff request's answer has no public layout.
        assert!(decode_ascii_response(0x95, Some(&[0x01]), &data).is_none());
    }

    #[test]
    fn the_drivers_identity_read() {
        // The answer to `00 01 00 2C` as the driver's source documents it.
        let data = hex_bytes(
            "3638353338324F4B3130 0000004000931000E8030000000000000000FE40E2010078CAA5000000FFFFFFFF00",
        );
        let regs = decode_ascii_response(0x01, Some(&MEMORY_READ_IDENTITY), &data)
            .unwrap()
            .unwrap();
        assert_eq!(regs[0].raw, Raw::Text("685382OK10".into()));
        assert_eq!(regs[1].raw, Raw::UInt(123_456));
        assert_eq!(regs[2].raw, Raw::UInt(10_865_272));
        assert!(decode_ascii_response(0x01, Some(&MEMORY_READ_SECOND), &data).is_none());
        assert!(decode_ascii_response(0x01, None, &data).is_none());
    }

    #[test]
    fn wrong_lengths_are_errors_not_guesses() {
        let e = decode_ascii_response(0x90, None, &[0; 35])
            .unwrap()
            .unwrap_err();
        assert!(e.message.contains("35"), "{e}");
        assert!(decode_ascii_response(0x00, None, &[2, 1, 7, 1]).is_none());
    }

    #[test]
    fn register_response_values() {
        // Energy in: kWh, 4 bytes, exponent -1 (0x41), 123456 -> 12345.6 kWh.
        let data = hex_bytes("0001 02 04 41 0001E240  041E 21 02 00 00E6  0002 02 01 C2 05");
        let v = decode_register_response(&data).unwrap();
        assert_eq!(v.len(), 3);
        let r = v[0].register();
        assert_eq!(r.name, "Energy in");
        assert!((r.value().unwrap() - 12_345.6).abs() < 1e-6);
        assert_eq!(r.unit, Some("kWh"));
        let r = v[1].register();
        assert_eq!((r.value(), r.unit), (Some(230.0), Some("V")));
        // Sign bit set: -5 x 10^-2.
        let r = v[2].register();
        assert_eq!(r.raw, Raw::Int(-5));
        assert!((r.value().unwrap() + 0.05).abs() < 1e-9);
        assert_eq!(encode_register_response(&v), data);
    }

    #[test]
    fn register_request_ids() {
        let data = encode_register_request(&[0x0001, 0x041E]);
        assert_eq!(data, [2, 0x00, 0x01, 0x04, 0x1E]);
        assert_eq!(decode_register_request(&data).unwrap(), [0x0001, 0x041E]);
        assert!(decode_register_request(&[3, 0, 1]).is_err());
    }

    #[test]
    fn type_and_serial() {
        let t = decode_get_type(&[0x00, 0x2A, 0x01, 0x03]).unwrap();
        assert_eq!(t[0].raw, Raw::Text("002A".into()));
        assert_eq!(t[1].raw, Raw::Text("A3".into()));
        let s = decode_get_serial(&[0x00, 0x01, 0xE2, 0x40]).unwrap();
        assert_eq!(s[0].raw, Raw::UInt(123_456));
        assert!(decode_get_serial(&[1, 2, 3]).is_err());
    }

    #[test]
    fn the_simulated_meter_answers_like_the_fixture() {
        let m = Meter685382 {
            meter_type: *b"685382OK10",
            meter_id: 123_456,
            customer_no: 10_865_272,
            total_kwh: 9032,
            tariff1_kwh: 9031,
            tariff2_kwh: 1,
            operating_hours: 57_037,
            reset_counter: 903_233,
            peak_power_w: 1559,
            production_no: 0x1000_1093,
        };
        let frame = ascii_frame(Direction::Response, 0x95, &m.answer(0x95, &[0]).unwrap());
        assert_eq!(frame, b"HFE950100002348000023470000000196\r");
        let frame = ascii_frame(Direction::Response, 0x00, &m.answer(0x00, &[]).unwrap());
        assert_eq!(frame, b"HFE0002010701F7\r");
    }
}
