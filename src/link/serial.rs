//! Real serial ports through tokio-serial: the HAN preset is 2400 8N1 (Kamstrup); the optical
//! head runs 300 7E1.

use super::{BoxLink, ConnectFuture, Connector};
use crate::wire::line::{Parity, PortInfo, SerialSettings};

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

/// The system could not list its serial ports.
#[derive(Debug, Clone, thiserror::Error)]
#[error("cannot list serial ports: {0}")]
pub struct ListPortsError(String);

/// Every serial port the system knows, USB adapters with their ids.
pub fn list_ports() -> Result<Vec<PortInfo>, ListPortsError> {
    let ports = tokio_serial::available_ports().map_err(|e| ListPortsError(e.to_string()))?;
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
