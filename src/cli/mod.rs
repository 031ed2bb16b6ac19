//! The binary's commands, one file each, and what they share: the command-line schema, serial
//! options, output formats, the user error (one sentence, exit code 2) and the async runtime.

pub mod bundle;
pub mod check;
pub mod decode;
pub mod detect;
pub mod keys;
pub mod ports;
pub mod read;
pub mod read_kmp;
pub mod read_mbus;
pub mod run;
pub mod sim;

use clap::{Parser, Subcommand, ValueEnum};
use kamscope::link::serial::check_baud;
use kamscope::wire::line::{Parity, SerialSettings};
use std::io::{self, Write};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "kamscope",
    version,
    about = "Terminal monitor for Kamstrup electricity meters: HAN push, IEC 61107 readout, frame inspector",
    after_help = "Examples:\n  kamscope --demo                      the app on the built-in simulated meter\n  kamscope --port /dev/ttyUSB0         the app on a HAN adapter (2400 8N1)\n  kamscope --replay capture.jsonl      play a recording\n  kamscope decode capture.hex          decode a capture without the app\n  kamscope ports                       list serial ports"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub run: run::RunArgs,
    #[command(flatten)]
    pub log: LogArgs,
}

#[derive(Subcommand)]
pub enum Command {
    /// Make a support bundle (zip) of a recording: the recording with meter ids replaced by
    /// pseudonyms (frames still decode), its check, the config without keys, the log.
    Bundle(bundle::BundleArgs),
    /// Listen to the HAN port (or a recording, or the demo), judge the installation and exit: 0
    /// every check passed (warnings allowed), 1 a check failed, 2 no usable data.
    Check(check::CheckArgs),
    /// Decode a capture (hex text, raw bytes or a kamscope recording): every frame, every check,
    /// every field.
    Decode(decode::DecodeArgs),
    /// List serial ports with their USB ids, manufacturer, product and serial number.
    Ports(ports::PortsArgs),
    /// Read the meter's registers through an optical head (IEC 61107, 300 baud 7E1; KMP with
    /// --protocol kmp) or, with --protocol mbus, an M-Bus level converter (2400 baud 8E1). Exit
    /// code 0 for a complete readout with good checks, 1 when it came but failed a check, 2 for
    /// no readout.
    Read(read::ReadArgs),
    /// Run the simulated meter on a pseudo-terminal and print its path, to test the serial path
    /// end to end (`kamscope --port <path>` in another terminal).
    Sim(sim::SimArgs),
}

/// Where the log goes.
#[derive(clap::Args)]
pub struct LogArgs {
    /// Log file (default for commands that talk to a meter: the platform's state directory,
    /// e.g. ~/.local/state/kamscope/kamscope.log).
    #[arg(long, global = true, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// What the log records.
    #[arg(long, global = true, value_enum, default_value_t = LogLevel::Info)]
    pub log_level: LogLevel,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl From<LogLevel> for kamscope::log::Level {
    fn from(l: LogLevel) -> Self {
        match l {
            LogLevel::Error => Self::ERROR,
            LogLevel::Warn => Self::WARN,
            LogLevel::Info => Self::INFO,
            LogLevel::Debug => Self::DEBUG,
            LogLevel::Trace => Self::TRACE,
        }
    }
}

/// Serial line settings over a preset (HAN 2400 8N1, optical head 300 7E1).
#[derive(clap::Args)]
pub struct SerialArgs {
    /// Serial speed (presets: 2400 for HAN, 300 for the optical head).
    #[arg(long)]
    baud: Option<u32>,
    /// Parity (presets: none for Kamstrup HAN, even for the optical head; Aidon/Kaifa use even).
    #[arg(long, value_enum)]
    parity: Option<Parity>,
    /// Data bits (presets: 8 for HAN, 7 for the optical head).
    #[arg(long, value_parser = clap::value_parser!(u8).range(5..=8))]
    data_bits: Option<u8>,
    /// Stop bits (preset 1).
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=2))]
    stop_bits: Option<u8>,
}

impl SerialArgs {
    /// Fixes every setting to `settings` (found by `--detect`).
    pub fn set(&mut self, settings: SerialSettings) {
        self.baud = Some(settings.baud);
        self.parity = Some(settings.parity);
        self.data_bits = Some(settings.data_bits);
        self.stop_bits = Some(settings.stop_bits);
    }

    /// These settings over `preset` (from the built-in preset or the config section `section`,
    /// which names a bad speed that did not come from the command line).
    pub fn over(&self, preset: SerialSettings, section: &str) -> Result<SerialSettings, UserError> {
        let baud = match self.baud {
            Some(b) => check_baud("--baud", b)?,
            None => check_baud(&format!("[{section}] baud"), preset.baud)?,
        };
        Ok(SerialSettings {
            baud,
            data_bits: self.data_bits.unwrap_or(preset.data_bits),
            parity: self.parity.unwrap_or(preset.parity),
            stop_bits: self.stop_bits.unwrap_or(preset.stop_bits),
        })
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    /// For people: one block per span (decode) or the verdict and registers (read).
    Text,
    /// For scripts: one JSON object per span, JSON Lines (decode); one document (read).
    Json,
}

/// A time factor: above 0, at most 100000.
pub fn parse_speed(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("{s:?} is not a number"))?;
    if v.is_finite() && v > 0.0 && v <= 100_000.0 {
        Ok(v)
    } else {
        Err("must be above 0 and at most 100000".into())
    }
}

/// A user error: one sentence on stderr, exit code 2.
#[derive(Debug)]
pub struct UserError(pub String);

impl<E: std::fmt::Display> From<E> for UserError {
    fn from(e: E) -> Self {
        UserError(e.to_string())
    }
}

/// Writes to standard output. When the reader has gone away (`| head`) the output simply ends:
/// that is not an error, and never a panic.
pub fn out(text: &str) {
    let mut stdout = io::stdout().lock();
    if stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .is_err()
    {
        std::process::exit(0);
    }
}

/// The next event of a readout task. Ctrl-C asks the task to stop; it still reports how the
/// readout ended, so the caller keeps waiting for that.
pub async fn next_event<E>(
    events: &mut tokio::sync::mpsc::Receiver<E>,
    cancel: &tokio::sync::mpsc::Sender<()>,
) -> Option<E> {
    loop {
        tokio::select! {
            e = events.recv() => return e,
            _ = tokio::signal::ctrl_c() => {
                let _ = cancel.send(()).await;
            }
        }
    }
}

/// The async runtime of a command.
pub fn runtime() -> Result<tokio::runtime::Runtime, UserError> {
    kamscope::task::runtime().map_err(|e| UserError(format!("cannot start the async runtime: {e}")))
}
