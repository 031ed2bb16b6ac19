//! Real serial ports through tokio-serial: the HAN preset is 2400 8N1 (Kamstrup); the optical
//! head runs 300 7E1.

use super::{BoxLink, ConnectFuture, Connector, io_reason};
use crate::wire::line::{Parity, PortInfo, SerialSettings};
use std::io;

/// Why a serial port cannot be opened, in one sentence an installer can act on, and whether
/// waiting can help (only a missing or busy device comes by itself).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    /// Not there (yet): the adapter is not plugged in.
    #[error("no device {0}: is the adapter plugged in?")]
    Missing(String),
    #[error(
        "no permission for {0}: add your user to the dialout group (sudo usermod -aG dialout $USER) and log in again"
    )]
    NoPermission(String),
    #[error("{0} is a directory, not a serial port")]
    Directory(String),
    #[error("{0} is not a serial port")]
    NotSerial(String),
    /// Another program holds the port (a serial terminal, ModemManager).
    #[error("{0} is in use by another program")]
    Busy(String),
    #[error("cannot open {path}: {reason}")]
    Other { path: String, reason: String },
    /// A network bridge (`tcp://`, `rfc2217://`) that cannot be reached. `permanent` when
    /// waiting cannot help: refused or unknown before it ever answered (a wrong address); once
    /// it had answered, a refusal is a bridge restarting.
    #[error("cannot connect to {address}: {reason}")]
    Unreachable {
        address: String,
        reason: String,
        permanent: bool,
    },
    /// An `rfc2217://` bridge that does not set the serial line as asked.
    #[error("{address} does not set the serial line: {reason}")]
    NoLineControl { address: String, reason: String },
}

impl PortError {
    /// Whether retrying cannot help: the user must act (or the path is wrong).
    pub fn permanent(&self) -> bool {
        match self {
            PortError::NoPermission(_)
            | PortError::Directory(_)
            | PortError::NotSerial(_)
            | PortError::NoLineControl { .. } => true,
            PortError::Unreachable { permanent, .. } => *permanent,
            PortError::Missing(_) | PortError::Busy(_) | PortError::Other { .. } => false,
        }
    }

    /// Why opening `path` failed with `e` (as tokio-serial reports it; the path is looked at
    /// again to tell the causes apart).
    pub fn of(path: &str, e: &io::Error) -> PortError {
        use std::os::unix::fs::FileTypeExt;
        let p = path.to_string();
        if let Some(known) = e.get_ref().and_then(|i| i.downcast_ref::<PortError>()) {
            return known.clone();
        }
        if e.kind() == io::ErrorKind::PermissionDenied {
            return PortError::NoPermission(p);
        }
        match std::fs::metadata(path) {
            Err(m) if m.kind() == io::ErrorKind::NotFound => PortError::Missing(p),
            Err(m) if m.kind() == io::ErrorKind::PermissionDenied => PortError::NoPermission(p),
            Ok(m) if m.is_dir() => PortError::Directory(p),
            Ok(m) if !m.file_type().is_char_device() => PortError::NotSerial(p),
            // serialport reports EBUSY (another program holds the port) as "not found".
            Ok(_) if e.kind() == io::ErrorKind::NotFound => PortError::Busy(p),
            Ok(_) if e.to_string() == nix::errno::Errno::ENOTTY.desc() => PortError::NotSerial(p),
            _ => PortError::Other {
                path: p,
                reason: io_reason(e),
            },
        }
    }

    /// As an I/O error that keeps this error (and its sentence) inside.
    pub fn into_io(self) -> io::Error {
        let kind = match &self {
            PortError::Missing(_) => io::ErrorKind::NotFound,
            PortError::NoPermission(_) => io::ErrorKind::PermissionDenied,
            PortError::Busy(_) => io::ErrorKind::ResourceBusy,
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, self)
    }
}

/// The baud rates a serial port can be set to (the POSIX and Linux standard rates).
pub const STANDARD_BAUDS: [u32; 21] = [
    50, 75, 110, 134, 150, 200, 300, 600, 1200, 1800, 2400, 4800, 9600, 19200, 38400, 57600,
    115200, 230400, 460800, 500000, 921600,
];

/// `baud` if a port can be set to it, else one sentence; `what` names where it came from
/// (`--baud`, `[han] baud`).
pub fn check_baud(what: &str, baud: u32) -> Result<u32, String> {
    if STANDARD_BAUDS.contains(&baud) {
        Ok(baud)
    } else {
        Err(format!(
            "{what} {baud} is not a standard serial speed (300, 1200, 2400, 4800, 9600, 19200, 38400, 57600 or 115200)"
        ))
    }
}

/// Opens a port through tokio-serial; a failure is a [`PortError`] inside the I/O error.
fn open_port(
    path: &str,
    builder: &tokio_serial::SerialPortBuilder,
) -> io::Result<tokio_serial::SerialStream> {
    tokio_serial::SerialStream::open(builder)
        .map_err(|e| PortError::of(path, &io::Error::from(e)).into_io())
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
            let port = open_port(&self.path, &builder)?;
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
            let port = open_port(&self.path, &builder)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn why_a_port_cannot_be_opened() {
        let denied = io::Error::from(io::ErrorKind::PermissionDenied);
        assert_eq!(
            PortError::of("/dev/ttyUSB0", &denied).to_string(),
            "no permission for /dev/ttyUSB0: add your user to the dialout group (sudo usermod -aG dialout $USER) and log in again"
        );
        assert!(PortError::of("/dev/ttyUSB0", &denied).permanent());
        let gone = io::Error::from(io::ErrorKind::NotFound);
        let missing = PortError::of("/dev/kamscope-no-such-tty", &gone);
        assert_eq!(
            missing,
            PortError::Missing("/dev/kamscope-no-such-tty".into())
        );
        assert!(!missing.permanent(), "a missing adapter is waited for");
        let dir = std::env::temp_dir();
        let other = io::Error::other("Is a directory");
        assert!(matches!(
            PortError::of(dir.to_str().unwrap(), &other),
            PortError::Directory(_)
        ));
        let not_tty = io::Error::other(nix::errno::Errno::ENOTTY.desc());
        assert_eq!(
            PortError::of("/dev/null", &not_tty),
            PortError::NotSerial("/dev/null".into())
        );
        // serialport says "not found" for a port another program holds.
        assert_eq!(
            PortError::of("/dev/null", &gone),
            PortError::Busy("/dev/null".into())
        );
        // Kept through an I/O error, as the reader task sees it.
        let inner = PortError::NotSerial("/dev/null".into()).into_io();
        assert_eq!(
            PortError::of("/dev/null", &inner),
            PortError::NotSerial("/dev/null".into())
        );
        assert_eq!(io_reason(&inner), "/dev/null is not a serial port");
    }

    #[test]
    fn standard_speeds_only() {
        assert_eq!(check_baud("--baud", 2400), Ok(2400));
        assert_eq!(check_baud("--baud", 300), Ok(300));
        assert_eq!(
            check_baud("[han] baud", 0).unwrap_err(),
            "[han] baud 0 is not a standard serial speed (300, 1200, 2400, 4800, 9600, 19200, 38400, 57600 or 115200)"
        );
        assert!(check_baud("--baud", 2401).is_err());
    }
}
