//! `kamscope decode`: every span of a capture (a file, standard input, or a live port), for people
//! (`--format text`) or scripts (`--format json`, `--summary`). Bytes go through the same pipeline
//! as in the app.

use super::keys::KeyArgs;
use super::{Format, SerialArgs, UserError, runtime};
use kamscope::link::io_reason;
use kamscope::link::port::connector as port_connector;
use kamscope::link::replay::{BAD_LINES_KEPT, BadLine, CaptureLines, bad_line_warnings};
use kamscope::protocol::dlms::Keys;
use kamscope::protocol::han::Scaling;
use kamscope::protocol::{Decoder, Protocol, Protocols};
use kamscope::task::han::{self, HanConfig};
use kamscope::task::optical::ReadoutSplit;
use kamscope::wire::capture::{self, CaptureLine, Chunk};
use kamscope::wire::detail::{FieldHeads, SpanOutput};
use kamscope::wire::hex::{self, HexDecoder};
use kamscope::wire::line::SerialSettings;
use kamscope::wire::pipeline::SpanView;
use kamscope::wire::summary::Summary;
use kamscope::wire::{Direction, HanEvent, Link, LinkState, Pipeline};
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
    /// Read a live serial port instead of a file, printing spans as they arrive
    /// (tcp://HOST:PORT for a network bridge, rfc2217://HOST:PORT to set its line too).
    #[arg(long, value_name = "PORT")]
    pub port: Option<String>,
    #[command(flatten)]
    serial: SerialArgs,
    #[command(flatten)]
    detect: super::detect::DetectArgs,
    /// With --port: stop after this many frames (junk runs not counted).
    #[arg(long)]
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
    #[command(flatten)]
    keys: KeyArgs,
}

impl DecodeArgs {
    fn scaling(&self) -> Scaling {
        Scaling {
            energy_scaler: self.energy_scaler,
            current_scaler: self.current_scaler,
        }
    }

    /// The keys (command line, key file, environment, then the config's `[keys]`).
    fn keys(&self) -> Result<Option<Keys>, UserError> {
        self.keys.keys(|| match kamscope::config::path() {
            Some(p) => Ok(kamscope::config::load(&p)?.keys),
            None => Ok(Default::default()),
        })
    }
}

/// Writes spans as they come: a text block or a JSON line each, or only counts.
struct Output<W: Write> {
    out: W,
    format: Format,
    summary: Option<Summary>,
    /// The text or JSON of the spans not yet written, gathered so the writes stay few and large.
    text: String,
    json: Vec<u8>,
    /// The start of each HAN field's JSON, kept from span to span.
    field_heads: FieldHeads,
    write_error: Option<io::Error>,
}

/// How much output is gathered before it is written (a span is 1-3 KB).
const BATCH: usize = 256 * 1024;

impl<W: Write> Output<W> {
    fn span(&mut self, view: &SpanView<'_>) {
        if let Some(summary) = &mut self.summary {
            summary.add(&view.span, view.decoded);
            return;
        }
        if self.write_error.is_some() {
            return;
        }
        let detail = SpanOutput::of(&view.span, view.decoded);
        match self.format {
            Format::Json => {
                let start = self.json.len();
                match detail.write_json(&mut self.json, &mut self.field_heads) {
                    Ok(()) => self.json.push(b'\n'),
                    Err(e) => {
                        // The spans before are written; this one and the rest are not.
                        self.json.truncate(start);
                        self.write_pending();
                        self.write_error.get_or_insert(io::Error::other(e));
                        return;
                    }
                }
            }
            Format::Text => kamscope::wire::text::render_output(&detail, &mut self.text),
        }
        if self.json.len() + self.text.len() >= BATCH {
            self.write_pending();
        }
    }

    /// Writes the output gathered so far.
    fn write_pending(&mut self) {
        let result = self
            .out
            .write_all(&self.json)
            .and_then(|()| self.out.write_all(self.text.as_bytes()));
        self.json.clear();
        self.text.clear();
        if let Err(e) = result {
            self.write_error.get_or_insert(e);
        }
    }

    /// Writes the output gathered so far and flushes it (live output: each span as it comes).
    fn flush(&mut self) {
        if self.write_error.is_none() {
            self.write_pending();
        }
        if self.write_error.is_none()
            && let Err(e) = self.out.flush()
        {
            self.write_error = Some(e);
        }
    }

    /// The summary (if counting), flushed; a reader that went away (`| head`) is not an error.
    fn finish(mut self) -> Result<(), UserError> {
        if self.write_error.is_none() {
            self.write_pending();
        }
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

/// Standard output, unless it is closed (`>&-`). Rust opens `/dev/null` (read-write) in the
/// place of a closed descriptor, so every write would vanish without a word; a shell's
/// `> /dev/null` opens it write-only and stays allowed.
fn check_stdout() -> Result<(), UserError> {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    use std::os::fd::AsFd;
    use std::os::unix::fs::MetadataExt;
    let stdout = io::stdout();
    let fd = stdout.as_fd();
    let closed = match fcntl(fd, FcntlArg::F_GETFL) {
        Err(_) => true,
        Ok(flags) => {
            let read_write = OFlag::from_bits_truncate(flags) & OFlag::O_ACCMODE == OFlag::O_RDWR;
            let null = std::fs::metadata("/dev/null").map(|m| m.rdev()).ok();
            let is_null = nix::sys::stat::fstat(fd).is_ok_and(|st| Some(st.st_rdev) == null);
            read_write && is_null
        }
    };
    if closed {
        return Err(UserError(
            "cannot write output: standard output is closed".into(),
        ));
    }
    Ok(())
}

/// The input named on the command line (a file, or `-`/nothing for standard input).
fn open_input(input: Option<&std::path::Path>) -> Result<(String, Box<dyn Read>), UserError> {
    let stdin =
        || -> (String, Box<dyn Read>) { ("standard input".into(), Box::new(io::stdin().lock())) };
    let Some(path) = input.filter(|p| p.as_os_str() != "-") else {
        return Ok(stdin());
    };
    let name = path.display().to_string();
    let file = std::fs::File::open(path)
        .map_err(|e| UserError(format!("cannot read {name}: {}", io_reason(&e))))?;
    if file.metadata().is_ok_and(|m| m.is_dir()) {
        return Err(UserError(format!("cannot read {name}: it is a directory")));
    }
    Ok((name, Box::new(file)))
}

/// A file's spans: the HAN line through one pipeline, each readout of the optical line through
/// a fresh one (as live), counting the input's bytes.
struct FileDecode<W: Write> {
    output: Output<W>,
    han: Pipeline,
    optical: Pipeline,
    split: ReadoutSplit,
    new_pipeline: Box<dyn Fn(Link) -> Pipeline>,
    bytes: u64,
}

/// Files carry no times of their own; a recording's chunks do.
const NO_TIME: chrono::DateTime<chrono::Utc> = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;

impl<W: Write> FileDecode<W> {
    /// Raw bytes of the HAN line; false once the output is gone (stop reading).
    fn han_bytes(&mut self, bytes: &[u8]) -> bool {
        self.bytes += bytes.len() as u64;
        let output = &mut self.output;
        self.han
            .push(Direction::Rx, NO_TIME, bytes, |v| output.span(&v));
        output.write_error.is_none()
    }

    /// A chunk of a recording; false once the output is gone.
    fn chunk(&mut self, chunk: &Chunk) -> bool {
        self.bytes += chunk.bytes.len() as u64;
        let output = &mut self.output;
        match (chunk.link, chunk.dir) {
            (Link::Han, Direction::Rx) => {
                self.han
                    .push(chunk.dir, chunk.t, &chunk.bytes, |v| output.span(&v));
            }
            // Nothing is sent on the HAN line; a stray request is not the meter's.
            (Link::Han, Direction::Tx) => {}
            (Link::Optical, dir) => {
                if self.split.starts_readout(chunk) {
                    let done =
                        std::mem::replace(&mut self.optical, (self.new_pipeline)(Link::Optical));
                    flush_into(done, output);
                }
                let split = &mut self.split;
                // What was sent frames the context (an echo, a new request) as live, but the
                // spans shown are the meter's.
                self.optical.push(dir, chunk.t, &chunk.bytes, |v| {
                    split.note(v.dir, &v.span.content);
                    if dir == Direction::Rx {
                        output.span(&v);
                    }
                });
            }
        }
        output.write_error.is_none()
    }

    /// The end of the input: what is pending, then the summary.
    fn finish(mut self, name: &str) -> Result<(), UserError> {
        let output = &mut self.output;
        self.han.flush(NO_TIME, |v| output.span(&v));
        self.optical.flush(NO_TIME, |v| {
            if v.dir == Direction::Rx {
                output.span(&v)
            }
        });
        if self.bytes == 0 && self.output.write_error.is_none() {
            return Err(UserError(format!("no bytes in {name}")));
        }
        self.output.finish()
    }
}

/// A finished readout's pipeline: what it still holds (a cut-off block), as spans.
fn flush_into<W: Write>(mut pipeline: Pipeline, output: &mut Output<W>) {
    pipeline.flush(NO_TIME, |v| {
        if v.dir == Direction::Rx {
            output.span(&v);
        }
    });
}

pub fn run(args: DecodeArgs) -> Result<ExitCode, UserError> {
    if args.count.is_some() && args.port.is_none() {
        return Err(UserError(
            "--count needs --port: it counts the frames of a live port".into(),
        ));
    }
    check_stdout()?;
    if args.detect.detect && args.port.is_none() {
        return Err(UserError(
            "--detect needs --port: it finds the line settings of a live port".into(),
        ));
    }
    if let Some(port) = args.port.clone() {
        return decode_port(args, port);
    }
    let keys = args.keys()?;
    let scaling = args.scaling();
    // Counting needs to know whether each push decodes, not its values.
    let counting = args.summary;
    let new_pipeline = move |link| {
        let decoder = Decoder::new(scaling, keys.clone());
        Pipeline::new(
            link,
            // The readout line carries only the readout protocols, as live: no HAN frame
            // hunted inside a readout's bytes.
            match link {
                Link::Han => Protocols::ALL,
                Link::Optical => Protocols::OPTICAL,
            },
            if counting {
                decoder.counting()
            } else {
                decoder
            },
            None,
        )
    };
    let mut decode = FileDecode {
        output: Output {
            // Output is gathered in batches of BATCH bytes, written through this buffer.
            out: BufWriter::with_capacity(BATCH, io::stdout().lock()),
            format: args.format,
            summary: args.summary.then(Summary::default),
            text: String::new(),
            json: Vec::new(),
            field_heads: FieldHeads::default(),
            write_error: None,
        },
        han: new_pipeline(Link::Han),
        optical: new_pipeline(Link::Optical),
        split: ReadoutSplit::default(),
        new_pipeline: Box::new(new_pipeline),
        bytes: 0,
    };
    let (name, source) = open_input(args.input.as_deref())?;
    let read_error = |e: io::Error| UserError(format!("cannot read {name}: {}", io_reason(&e)));
    let mut reader = io::BufReader::with_capacity(64 * 1024, source);
    let is_capture = match args.input_kind {
        InputArg::Capture => true,
        InputArg::Auto => capture::looks_like_capture(reader.fill_buf().map_err(read_error)?),
        InputArg::Hex | InputArg::Raw => false,
    };
    if is_capture {
        let mut bad = Vec::new();
        let mut bad_count = 0;
        for item in CaptureLines::new(reader, name.clone()) {
            let (line, parsed) = item?;
            match parsed {
                // The event log's lines are for people; the spans come from the chunks.
                Ok(CaptureLine::Chunk(chunk)) => {
                    if !decode.chunk(&chunk) {
                        break;
                    }
                }
                Ok(CaptureLine::Event(_)) => {}
                // A torn line (a full disk, a power cut) is skipped and said, not the rest.
                Err(e) => {
                    bad_count += 1;
                    if bad.len() < BAD_LINES_KEPT {
                        bad.push(BadLine {
                            line,
                            reason: e.to_string(),
                        });
                    }
                }
            }
        }
        if let (0, Some(first)) = (decode.bytes, bad.first()) {
            // Nothing but bad lines: not a recording after all, in one sentence.
            return Err(UserError(format!(
                "{name} line {}: not a capture line: {}",
                first.line, first.reason
            )));
        }
        for w in bad_line_warnings(std::path::Path::new(&name), &bad, bad_count) {
            eprintln!("kamscope: {w}");
        }
    } else {
        let forced = match args.input_kind {
            InputArg::Hex => Some(true),
            InputArg::Raw => Some(false),
            _ => None,
        };
        read_chunks(&name, reader, forced, |bytes| decode.han_bytes(bytes))?;
    }
    decode.finish(&name)?;
    Ok(ExitCode::SUCCESS)
}

/// Reads `reader` in chunks, as hex text (`hex`: forced, or detected from the first chunk) or raw
/// bytes, and calls `sink` with the bytes of each chunk (until it returns false: the output is
/// gone): constant memory for any size.
fn read_chunks(
    name: &str,
    mut reader: impl Read,
    hex: Option<bool>,
    mut sink: impl FnMut(&[u8]) -> bool,
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
            if !sink(&decoded) {
                return Ok(());
            }
        } else if !sink(chunk) {
            return Ok(());
        }
    }
    if is_hex != Some(false) {
        decoder.finish(name)?;
    }
    Ok(())
}

/// `decode --port`: spans from a live port as they arrive, until --count frames or Ctrl-C. A
/// missing device is waited for; a port that cannot be opened otherwise (no permission, not a
/// serial port) ends the command at once with the reason.
fn decode_port(mut args: DecodeArgs, path: String) -> Result<ExitCode, UserError> {
    if args.detect.detect {
        let found = runtime()?.block_on(args.detect.run(&path))?;
        args.serial.set(found);
    }
    let settings = args.serial.over(SerialSettings::HAN, "han")?;
    let cfg = HanConfig {
        protocols: Protocols::ALL,
        scaling: args.scaling(),
        keys: args.keys()?,
        stop_on_permanent: true,
        ..HanConfig::default()
    };
    runtime()?.block_on(async move {
        let connector = port_connector(&path, settings)?;
        let describe = kamscope::link::Connector::describe(&connector);
        let (mut events, _commands) = han::spawn(Box::new(connector), cfg);
        let mut output = Output {
            out: io::stdout(),
            format: args.format,
            summary: args.summary.then(Summary::default),
            text: String::new(),
            json: Vec::new(),
            field_heads: FieldHeads::default(),
            write_error: None,
        };
        let mut waiting = Waiting::default();
        let mut frames = 0u64;
        loop {
            let event = tokio::select! {
                e = events.recv() => e,
                _ = tokio::signal::ctrl_c() => break,
            };
            let Some(event) = event else {
                // The reader gave up: waiting for this port cannot help.
                return Err(UserError(
                    waiting
                        .reason
                        .take()
                        .unwrap_or_else(|| format!("reading {describe} stopped")),
                ));
            };
            waiting.on(&event);
            match event {
                HanEvent::Link(LinkState::Connected) => eprintln!("kamscope: reading {describe}"),
                HanEvent::Span(s) => {
                    if s.protocol() != Protocol::Junk {
                        frames += 1;
                    }
                    output.span(&SpanView {
                        link: s.link,
                        dir: s.dir,
                        received: s.received,
                        span: s.span(),
                        decoded: &mut s.decoded.clone(),
                    });
                    if output.summary.is_none() {
                        output.flush();
                    }
                    if output.write_error.is_some() || args.count.is_some_and(|n| frames >= n) {
                        break;
                    }
                }
                _ => {}
            }
        }
        output.finish()?;
        Ok(ExitCode::SUCCESS)
    })
}

/// Why the port is not open yet, said once per reason, and only when the reader tries again (a
/// reason it gives up on is the command's error instead).
#[derive(Default)]
struct Waiting {
    reason: Option<String>,
    said: Option<String>,
}

impl Waiting {
    fn on(&mut self, event: &HanEvent) {
        if let HanEvent::Link(LinkState::Waiting { reason }) = event {
            self.reason = Some(reason.clone());
            return;
        }
        if let Some(reason) = self.reason.take()
            && self.said.as_ref() != Some(&reason)
        {
            eprintln!("kamscope: waiting for the port ({reason})");
            self.said = Some(reason);
        }
    }
}
