//! Line settings and port identities: how a serial line is set up, and what identifies the
//! adapter behind a port. Plain data, shared by the links, the config, the picker and the screens.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Parity {
    None,
    Even,
    Odd,
}

/// Line settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SerialSettings {
    pub baud: u32,
    pub data_bits: u8,
    pub parity: Parity,
    pub stop_bits: u8,
}

impl SerialSettings {
    /// Kamstrup HAN-NVE: 2400 baud 8N1.
    pub const HAN: SerialSettings = SerialSettings {
        baud: 2400,
        data_bits: 8,
        parity: Parity::None,
        stop_bits: 1,
    };
    /// HAN-P1 (DSMR-style telegrams, Swedish HAN port): 115200 baud 8N1.
    pub const P1: SerialSettings = SerialSettings {
        baud: 115_200,
        data_bits: 8,
        parity: Parity::None,
        stop_bits: 1,
    };
    /// IEC 61107 optical head, mode A: 300 baud 7E1.
    pub const OPTICAL: SerialSettings = SerialSettings {
        baud: 300,
        data_bits: 7,
        parity: Parity::Even,
        stop_bits: 1,
    };
    /// Kamstrup 685-382 ASCII-hex KMP through the optical head: 1200 baud 8E2.
    pub const KMP_ASCII: SerialSettings = SerialSettings {
        baud: 1200,
        data_bits: 8,
        parity: Parity::Even,
        stop_bits: 2,
    };
    /// Binary KMP through the optical head: 1200 baud 8N2.
    pub const KMP_BINARY: SerialSettings = SerialSettings {
        baud: 1200,
        data_bits: 8,
        parity: Parity::None,
        stop_bits: 2,
    };
    /// M-Bus (EN 13757-2) through a level converter: 2400 baud 8E1 (meters also take 300 and
    /// 9600).
    pub const MBUS: SerialSettings = SerialSettings {
        baud: 2400,
        data_bits: 8,
        parity: Parity::Even,
        stop_bits: 1,
    };
}

impl fmt::Display for SerialSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = match self.parity {
            Parity::None => 'N',
            Parity::Even => 'E',
            Parity::Odd => 'O',
        };
        write!(f, "{} {}{}{}", self.baud, self.data_bits, p, self.stop_bits)
    }
}

/// A serial port as the port picker shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortInfo {
    pub path: String,
    /// `0403:6001` for USB adapters.
    pub usb_id: Option<String>,
    pub manufacturer: Option<String>,
    pub product: Option<String>,
    pub serial_number: Option<String>,
    pub kind: &'static str,
}

impl PortInfo {
    /// What identifies the adapter: `0403:6001  FTDI  FT232R USB UART  serial A50285BI`.
    pub fn identity(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        parts.extend(self.usb_id.clone());
        parts.extend(self.manufacturer.clone());
        parts.extend(self.product.clone());
        parts.extend(self.serial_number.as_ref().map(|s| format!("serial {s}")));
        parts.join("  ")
    }
}
