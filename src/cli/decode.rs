//! `kamscope decode`: every span of a capture (a file, standard input, or a live port), for people
//! (`--format text`) or scripts (`--format json`, `--summary`). Bytes go through the same pipeline
//! as in the app.

use super::{Format, SerialArgs, UserError, out, runtime};
use kamscope::link::io_reason;
use kamscope::link::serial::SerialConnector;
use kamscope::protocol::dlms::Keys;
use kamscope::protocol::han::Scaling;
use kamscope::protocol::{Decoder, Protocol, Protocols};
use kamscope::task::han::{self, HanConfig};
use kamscope::wire::capture::{self, Chunk};
use kamscope::wire::hex::{self, HexDecoder};
use kamscope::wire::line::SerialSettings;
use kamscope::wire::pipeline::SpanView;
use kamscope::wire::summary::Summary;
use kamscope::wire::{Direction, HanEvent, Link, LinkState, Pipeline, SpanDetail};
use std::io::{self, BufRead, BufWriter, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Clone, Copy, clap::ValueEnum)]
enum InputArg {
    /// A kamscope recording if it starts with one, hex text if only hex digits and white
    /// space, raw bytes otherwise.
    Auto,
    Hex,
    Raw,
    /// A kamscope recording (JSON Lines); received chunks are decoded.
    Capture,
}

#[derive(clap::Args)]
pub struct DecodeArgs {
    /// File to decode; `-` or nothing reads standard input.
    #[arg(conflicts_with = "port")]
    input: Option<PathBuf>,
    /// Read a live serial port instead of a file, printing spans as they arrive.
    #[arg(long, value_name = "PATH")]
    pub port: Option<String>,
    #[command(flatten)]
    serial: SerialArgs,
    /// With --port: stop after this many frames (junk runs not counted).
    #[arg(long, requires = "port")]
    count: Option<u64>,
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

impl DecodeArgs {
    fn scaling(&self) -> Scaling {
        Scaling {
            energy_scaler: self.energy_scaler,
            current_scaler: self.current_scaler,
        }
    }

    fn keys(&self) -> Result<Option<Keys>, UserError> {
        Ok(match (&self.key, &self.auth_key) {
            (None, None) => None,
            (None, Some(_)) => return Err(UserError("--auth-key needs --key".into())),
            (Some(k), ak) => Some(Keys {
                encryption: parse_key("--key", k)?,
                authentication: ak
                    .as_deref()
                    .map(|a| parse_key("--auth-key", a))
                    .transpose()?,
            }),
        })
    }
}

fn parse_key(what: &str, text: &str) -> Result<[u8; 16], UserError> {
    hex::parse(text)
        .ok()
        .and_then(|b| <[u8; 16]>::try_from(b).ok())
        .ok_or_else(|| UserError(format!("{what} must be 32 hex digits (16 bytes)")))
}

/// Writes spans as they come: a text block or a JSON line each, or only counts.
struct Output<W: Write> {
    out: W,
    format: Format,
    summary: Option<Summary>,
    text: String,
    write_error: Option<io::Error>,
}

impl<W: Write> Output<W> {
    fn span(&mut self, view: &SpanView<'_>) {
        if let Some(summary) = &mut self.summary {
            summary.add(&view.span, &view.decoded);
            return;
        }
        if self.write_error.is_some() {
            return;
        }
        let detail = SpanDetail::of(&view.span, &view.decoded);
        let result = match self.format {
            Format::Json => serde_json::to_writer(&mut self.out, &detail)
                .map_err(io::Error::from)
                .and_then(|()| self.out.write_all(b"\n")),
            Format::Text => {
                self.text.clear();
                kamscope::wire::text::render(&detail, &mut self.text);
                self.out.write_all(self.text.as_bytes())
            }
        };
        if let Err(e) = result {
            self.write_error = Some(e);
        }
    }

    /// The summary (if counting), flushed; a reader that went away (`| head`) is not an error.
    fn finish(mut self) -> Result<(), UserError> {
        if let Some(summary) = &self.summary
            && self.write_error.is_none()
            && let Err(e) = writeln!(self.out, "{}", summary.to_json())
        {
            self.write_error = Some(e);
        }
        if self.write_error.is_none()
            && let Err(e) = self.out.flush()
        {
            self.write_error = Some(e);
        }
        match self.write_error {
            Some(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
            Some(e) => Err(UserError(format!("cannot write output: {e}"))),
            None => Ok(()),
        }
    }
}

pub fn run(args: DecodeArgs) -> Result<ExitCode, UserError> {
    if let Some(port) = args.port.clone() {
        return decode_port(args, port);
    }
    let keys = args.keys()?;
    let stdout = io::stdout();
    let mut output = Output {
        out: BufWriter::with_capacity(64 * 1024, stdout.lock()),
        format: args.format,
        summary: args.summary.then(Summary::default),
        text: String::new(),
        write_error: None,
    };
    // A recording may hold the HAN line and the optical line: each through its own pipeline.
    let pipeline = |link| {
        Pipeline::new(
            link,
            Protocols::ALL,
            Decoder::new(args.scaling(), keys.clone()),
            None,
        )
    };
    let mut pipelines = [pipeline(Link::Han), pipeline(Link::Optical)];
    let (name, source): (String, Box<dyn Read>) = match args.input.as_deref() {
        None => ("standard input".into(), Box::new(io::stdin().lock())),
        Some(p) if p.as_os_str() == "-" => ("standard input".into(), Box::new(io::stdin().lock())),
        Some(path) => {
            let name = path.display().to_string();
            let file = std::fs::File::open(path)
                .map_err(|e| UserError(format!("cannot read {name}: {}", io_reason(&e))))?;
            if file.metadata().is_ok_and(|m| m.is_dir()) {
                return Err(UserError(format!("cannot read {name}: it is a directory")));
            }
            (name, Box::new(file))
        }
    };
    let read_error = |e: io::Error| UserError(format!("cannot read {name}: {}", io_reason(&e)));
    let mut reader = io::BufReader::with_capacity(64 * 1024, source);
    let is_capture = match args.input_kind {
        InputArg::Capture => true,
        InputArg::Auto => capture::looks_like_capture(reader.fill_buf().map_err(read_error)?),
        InputArg::Hex | InputArg::Raw => false,
    };
    // Files carry no times of their own; a recording's chunks do.
    let no_time = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
    if is_capture {
        for (i, line) in reader.lines().enumerate() {
            let line = line.map_err(read_error)?;
            if line.trim().is_empty() {
                continue;
            }
            let chunk = Chunk::from_json_line(&line).map_err(|e| {
                UserError(format!("{name} line {}: not a capture line: {e}", i + 1))
            })?;
            // What we sent is in the recording for the record; the spans are the meter's.
            if chunk.dir == Direction::Rx {
                let p = &mut pipelines[usize::from(chunk.link == Link::Optical)];
                p.push(chunk.dir, chunk.t, &chunk.bytes, |v| output.span(&v));
            }
        }
    } else {
        let forced = match args.input_kind {
            InputArg::Hex => Some(true),
            InputArg::Raw => Some(false),
            _ => None,
        };
        let han = &mut pipelines[0];
        read_chunks(&name, reader, forced, |bytes| {
            han.push(Direction::Rx, no_time, bytes, |v| output.span(&v));
        })?;
    }
    for p in &mut pipelines {
        p.flush(no_time, |v| output.span(&v));
    }
    output.finish()?;
    Ok(ExitCode::SUCCESS)
}

/// Reads `reader` in chunks, as hex text (`hex`: forced, or detected from the first chunk) or raw
/// bytes, and calls `sink` with the bytes of each chunk: constant memory for any size.
fn read_chunks(
    name: &str,
    mut reader: impl Read,
    hex: Option<bool>,
    mut sink: impl FnMut(&[u8]),
) -> Result<(), UserError> {
    const CHUNK: usize = 64 * 1024;
    let mut buf = vec![0u8; CHUNK];
    let mut decoded = Vec::with_capacity(CHUNK / 2);
    let mut is_hex = hex;
    let mut decoder = HexDecoder::default();
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(UserError(format!("cannot read {name}: {}", io_reason(&e)))),
        };
        let chunk = &buf[..n];
        if *is_hex.get_or_insert_with(|| hex::looks_like_hex(chunk)) {
            decoded.clear();
            decoder.feed(name, chunk, &mut decoded)?;
            sink(&decoded);
        } else {
            sink(chunk);
        }
    }
    if is_hex != Some(false) {
        decoder.finish(name)?;
    }
    Ok(())
}

/// `decode --port`: spans from a live port as they arrive, until --count frames or Ctrl-C.
fn decode_port(args: DecodeArgs, path: String) -> Result<ExitCode, UserError> {
    let settings = args.serial.over(SerialSettings::HAN);
    let cfg = HanConfig {
        protocols: Protocols::ALL,
        scaling: args.scaling(),
        keys: args.keys()?,
        ..HanConfig::default()
    };
    runtime()?.block_on(async move {
        let connector = SerialConnector { path, settings };
        eprintln!(
            "kamscope: reading {}",
            kamscope::link::Connector::describe(&connector)
        );
        let (mut events, _commands) = han::spawn(Box::new(connector), cfg);
        let mut output = Output {
            out: io::stdout(),
            format: args.format,
            summary: args.summary.then(Summary::default),
            text: String::new(),
            write_error: None,
        };
        let mut frames = 0u64;
        loop {
            let event = tokio::select! {
                e = events.recv() => e,
                _ = tokio::signal::ctrl_c() => None,
            };
            let Some(event) = event else { break };
            match event {
                HanEvent::Link(LinkState::Waiting { reason }) => {
                    eprintln!("kamscope: waiting for the port ({reason})");
                }
                HanEvent::Link(LinkState::Connected) => eprintln!("kamscope: connected"),
                HanEvent::Span(s) => {
                    let protocol = s.protocol();
                    let view = SpanView {
                        link: s.link,
                        dir: s.dir,
                        received: s.received,
                        span: s.span(),
                        decoded: s.decoded.clone(),
                    };
                    output.span(&view);
                    if output.summary.is_none()
                        && (output.write_error.is_some() || output.out.flush().is_err())
                    {
                        return Ok(ExitCode::SUCCESS); // the reader of our output went away
                    }
                    if protocol != Protocol::Junk {
                        frames += 1;
                        if args.count.is_some_and(|n| frames >= n) {
                            break;
                        }
                    }
                }
                _ => {}
            }
        }
        if let Some(sum) = &output.summary {
            out(&format!("{}\n", sum.to_json()));
        }
        Ok(ExitCode::SUCCESS)
    })
}
