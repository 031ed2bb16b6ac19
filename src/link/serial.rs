//! Real serial ports through tokio-serial: the HAN preset is 2400 8N1 (Kamstrup); the optical
//! head runs 300 7E1.

use super::{BoxLink, ConnectFuture, Connector};
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
    /// IEC 61107 optical head, mode A: 300 baud 7E1.
    pub const OPTICAL: SerialSettings = SerialSettings {
        baud: 300,
        data_bits: 7,
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

pub struct SerialConnector {
    pub path: String,
    pub settings: SerialSettings,
}

impl SerialConnector {
    fn builder(&self) -> tokio_serial::SerialPortBuilder {
        let s = self.settings;
        tokio_serial::new(&self.path, s.baud)
            .data_bits(match s.data_bits {
                5 => tokio_serial::DataBits::Five,
                6 => tokio_serial::DataBits::Six,
                7 => tokio_serial::DataBits::Seven,
                _ => tokio_serial::DataBits::Eight,
            })
            .parity(match s.parity {
                Parity::None => tokio_serial::Parity::None,
                Parity::Even => tokio_serial::Parity::Even,
                Parity::Odd => tokio_serial::Parity::Odd,
            })
            .stop_bits(if s.stop_bits == 2 {
                tokio_serial::StopBits::Two
            } else {
                tokio_serial::StopBits::One
            })
            .flow_control(tokio_serial::FlowControl::None)
    }
}

impl super::OpticalConnector for SerialConnector {
    fn describe(&self) -> String {
        format!("{} {}", self.path, self.settings)
    }

    fn open(&self) -> super::OpenOpticalFuture<'_> {
        let builder = self.builder();
        Box::pin(async move {
            let port = tokio_serial::SerialStream::open(&builder).map_err(std::io::Error::from)?;
            Ok(Box::new(port) as super::BoxOptical)
        })
    }
}

impl Connector for SerialConnector {
    fn describe(&self) -> String {
        format!("{} {}", self.path, self.settings)
    }

    fn connect(&mut self) -> ConnectFuture<'_> {
        let builder = self.builder();
        Box::pin(async move {
            let port = tokio_serial::SerialStream::open(&builder).map_err(std::io::Error::from)?;
            Ok(Box::new(port) as BoxLink)
        })
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

/// Every serial port the system knows, USB adapters with their ids.
pub fn list_ports() -> Result<Vec<PortInfo>, String> {
    let ports =
        tokio_serial::available_ports().map_err(|e| format!("cannot list serial ports: {e}"))?;
    let mut out: Vec<PortInfo> = ports
        .into_iter()
        .map(|p| match p.port_type {
            tokio_serial::SerialPortType::UsbPort(u) => PortInfo {
                path: p.port_name,
                usb_id: Some(format!("{:04x}:{:04x}", u.vid, u.pid)),
                manufacturer: u.manufacturer,
                product: u.product,
                serial_number: u.serial_number,
                kind: "usb",
            },
            tokio_serial::SerialPortType::PciPort => PortInfo {
                path: p.port_name,
                usb_id: None,
                manufacturer: None,
                product: None,
                serial_number: None,
                kind: "pci",
            },
            tokio_serial::SerialPortType::BluetoothPort => PortInfo {
                path: p.port_name,
                usb_id: None,
                manufacturer: None,
                product: None,
                serial_number: None,
                kind: "bluetooth",
            },
            tokio_serial::SerialPortType::Unknown => PortInfo {
                path: p.port_name,
                usb_id: None,
                manufacturer: None,
                product: None,
                serial_number: None,
                kind: "other",
            },
        })
        .collect();
    out.sort_by(|a, b| (a.kind != "usb", &a.path).cmp(&(b.kind != "usb", &b.path)));
    Ok(out)
}
