//! Where bytes come from: a serial port, the built-in simulated meter, or a replayed capture.
//! Each is opened by a [`Connector`] and read as an async byte stream, so the reader task and the
//! app do not care which one it is.

pub mod net;
pub mod port;
pub mod pty;
pub mod record;
pub mod replay;
pub mod serial;
pub mod sim;
pub mod sim_kmp;
pub mod sim_mbus;
pub mod sim_optical;

use std::future::Future;
use std::io;
use std::pin::Pin;
use tokio::io::{AsyncRead, AsyncWrite};

/// An open link: bytes from the meter, and a way to send (the optical readout needs it).
pub trait LinkIo: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> LinkIo for T {}

pub type BoxLink = Box<dyn LinkIo>;
pub type ConnectFuture<'a> = Pin<Box<dyn Future<Output = io::Result<BoxLink>> + Send + 'a>>;

/// A link whose speed can change (the optical head: mode B and C meters switch speed).
pub trait OpticalLink: LinkIo {
    fn set_baud(&mut self, baud: u32) -> io::Result<()>;
}

impl OpticalLink for tokio::io::DuplexStream {
    /// An in-process link has no speed.
    fn set_baud(&mut self, _baud: u32) -> io::Result<()> {
        Ok(())
    }
}

impl OpticalLink for tokio_serial::SerialStream {
    fn set_baud(&mut self, baud: u32) -> io::Result<()> {
        tokio_serial::SerialPort::set_baud_rate(self, baud).map_err(io::Error::from)
    }
}

pub type BoxOptical = Box<dyn OpticalLink>;
pub type OpenOpticalFuture<'a> = Pin<Box<dyn Future<Output = io::Result<BoxOptical>> + Send + 'a>>;

/// Opens the optical head's port for one readout.
pub trait OpticalConnector: Send + Sync + 'static {
    fn describe(&self) -> String;
    fn open(&self) -> OpenOpticalFuture<'_>;
}

/// Opens (and, after a failure, reopens) a link.
pub trait Connector: Send + 'static {
    /// What the status bar shows: `/dev/ttyUSB0 2400 8N1`, `demo meter (3-phase)`.
    fn describe(&self) -> String;
    /// Opens the link. Called again after the link fails, so a replugged adapter comes back.
    fn connect(&mut self) -> ConnectFuture<'_>;
    /// Whether the end of the stream is final (a replay ends; a port is reopened).
    fn ends(&self) -> bool {
        false
    }
}

/// The OS error without Rust's "(os error 2)" suffix, for one-sentence messages.
pub fn io_reason(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Writes `bytes` to a new temporary file beside `path` and renames it over `path`: a reader
/// never sees half a file, and a symbolic link at `path` is replaced, never followed.
pub fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
