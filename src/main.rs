//! kamscope command line.
#![forbid(unsafe_code)]

use clap::{Parser, Subcommand, ValueEnum};
use kamscope::input::{self, InputKind};
use kamscope::protocol::dlms::Keys;
use kamscope::protocol::han::Scaling;
use kamscope::protocol::{Decoder, Framer, Protocols};
use kamscope::report::{Summary, render_text, span_report};
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "kamscope",
    version,
    about = "Terminal monitor for Kamstrup electricity meters: HAN push, IEC 61107 readout, frame inspector",
    arg_required_else_help = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Decode a capture (hex text or raw bytes): every frame, every check, every field.
    Decode(DecodeArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// One block per span, for people.
    Text,
    /// One JSON object per span (JSON Lines), for scripts.
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum InputArg {
    /// Hex text if the input is only hex digits and white space, raw bytes otherwise.
    Auto,
    Hex,
    Raw,
}

#[derive(clap::Args)]
struct DecodeArgs {
    /// File to decode; `-` or nothing reads standard input.
    input: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Print only counts, as one JSON object.
    #[arg(long)]
    summary: bool,
    /// 10-exponent for energy registers: 1 = raw x 10 Wh (Norway), 0 = plain Wh (Sweden).
    #[arg(long, default_value_t = 1, allow_hyphen_values = true, value_parser = clap::value_parser!(i8).range(-9..=9))]
    energy_scaler: i8,
    /// 10-exponent for currents; default by meter type: -2, or -3 on CT meters (685-...).
    #[arg(long, allow_hyphen_values = true, value_parser = clap::value_parser!(i8).range(-9..=9))]
    current_scaler: Option<i8>,
    /// How to read the input.
    #[arg(long = "input", value_enum, default_value_t = InputArg::Auto)]
    input_kind: InputArg,
    /// AES-128 encryption key (32 hex digits) for general-glo-ciphering frames.
    #[arg(long, value_name = "HEX")]
    key: Option<String>,
    /// Authentication key (32 hex digits) for authenticated ciphering.
    #[arg(long, value_name = "HEX")]
    auth_key: Option<String>,
}

/// A user error: one sentence, exit code 2.
struct UserError(String);

impl<E: std::fmt::Display> From<E> for UserError {
    fn from(e: E) -> Self {
        UserError(e.to_string())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Decode(args) => decode(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(UserError(msg)) => {
            eprintln!("kamscope: {msg}");
            ExitCode::from(2)
        }
    }
}

fn parse_key(what: &str, hex: &str) -> Result<[u8; 16], UserError> {
    let bytes = input::parse_hex(hex)
        .ok()
        .filter(|b| b.len() == 16)
        .ok_or_else(|| UserError(format!("{what} must be 32 hex digits (16 bytes)")))?;
    Ok(bytes.try_into().expect("16 bytes"))
}

/// Runs spans through the decoder and writes them out.
struct DecodeSink<W: Write> {
    framer: Framer,
    decoder: Decoder,
    out: W,
    format: Format,
    summary: Option<Summary>,
    text: String,
    write_error: Option<io::Error>,
}

impl<W: Write> DecodeSink<W> {
    fn push(&mut self, bytes: &[u8]) {
        self.framer.push(bytes);
        self.drain();
    }

    fn drain(&mut self) {
        while let Some(span) = self.framer.next_span() {
            let decoded = self.decoder.decode(&span);
            if let Some(summary) = &mut self.summary {
                summary.add(&span, &decoded);
                continue;
            }
            if self.write_error.is_some() {
                continue;
            }
            let report = span_report(&span, &decoded);
            let result = match self.format {
                Format::Json => serde_json::to_writer(&mut self.out, &report)
                    .map_err(io::Error::from)
                    .and_then(|()| self.out.write_all(b"\n")),
                Format::Text => {
                    self.text.clear();
                    render_text(&report, &mut self.text);
                    self.out.write_all(self.text.as_bytes())
                }
            };
            if let Err(e) = result {
                self.write_error = Some(e);
            }
        }
    }
}

fn decode(args: DecodeArgs) -> Result<(), UserError> {
    let keys = match (&args.key, &args.auth_key) {
        (None, None) => None,
        (None, Some(_)) => return Err(UserError("--auth-key needs --key".into())),
        (Some(k), ak) => Some(Keys {
            encryption: parse_key("--key", k)?,
            authentication: ak
                .as_deref()
                .map(|a| parse_key("--auth-key", a))
                .transpose()?,
        }),
    };
    let scaling = Scaling {
        energy_scaler: args.energy_scaler,
        current_scaler: args.current_scaler,
    };
    let forced = match args.input_kind {
        InputArg::Auto => None,
        InputArg::Hex => Some(InputKind::Hex),
        InputArg::Raw => Some(InputKind::Raw),
    };
    let stdout = io::stdout();
    let mut sink = DecodeSink {
        framer: Framer::new(Protocols::ALL),
        decoder: Decoder::new(scaling, keys),
        out: BufWriter::with_capacity(64 * 1024, stdout.lock()),
        format: args.format,
        summary: args.summary.then(Summary::default),
        text: String::new(),
        write_error: None,
    };
    match args.input.as_deref() {
        None => input::read_chunks("standard input", io::stdin().lock(), forced, |b| {
            sink.push(b)
        })?,
        Some(p) if p.as_os_str() == "-" => {
            input::read_chunks("standard input", io::stdin().lock(), forced, |b| {
                sink.push(b)
            })?
        }
        Some(path) => {
            let name = path.display().to_string();
            let file = std::fs::File::open(path)
                .map_err(|e| UserError(format!("cannot read {name}: {}", input::io_reason(&e))))?;
            if file.metadata().is_ok_and(|m| m.is_dir()) {
                return Err(UserError(format!("cannot read {name}: it is a directory")));
            }
            input::read_chunks(&name, file, forced, |b| sink.push(b))?
        }
    };
    sink.framer.finish();
    sink.drain();
    if let Some(summary) = &sink.summary {
        let line = summary.to_json().to_string();
        if let Err(e) = writeln!(sink.out, "{line}") {
            sink.write_error = Some(e);
        }
    }
    if sink.write_error.is_none()
        && let Err(e) = sink.out.flush()
    {
        sink.write_error = Some(e);
    }
    match sink.write_error {
        // The reader went away (`| head`): not an error of ours.
        Some(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Some(e) => Err(UserError(format!("cannot write output: {e}"))),
        None => Ok(()),
    }
}
