//! kamscope command line.
#![forbid(unsafe_code)]

use clap::{Parser, Subcommand, ValueEnum};
use kamscope::app::picker::Choice;
use kamscope::config;
use kamscope::input::{self, InputKind};
use kamscope::link::Connector;
use kamscope::link::capture;
use kamscope::link::capture::Recorder;
use kamscope::link::replay::{ReplayConnector, ReplaySource};
use kamscope::link::serial::{Parity, SerialConnector, SerialSettings, list_ports};
use kamscope::link::sim::{MeterProfile, SimConnector};
use kamscope::link::sim_optical::{IecMeter, OpticalFault};
use kamscope::protocol::dlms::Keys;
use kamscope::protocol::han::Scaling;
use kamscope::protocol::{Decoder, Framer, Protocols};
use kamscope::reader::ReaderConfig;
use kamscope::report::{Summary, render_text, span_report};
use std::io::{self, BufRead, BufWriter, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "kamscope",
    version,
    about = "Terminal monitor for Kamstrup electricity meters: HAN push, IEC 61107 readout, frame inspector",
    after_help = "Examples:\n  kamscope --demo                      the app on the built-in simulated meter\n  kamscope --port /dev/ttyUSB0         the app on a HAN adapter (2400 8N1)\n  kamscope --replay capture.jsonl      play a recording\n  kamscope decode capture.hex          decode a capture without the app\n  kamscope ports                       list serial ports"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Decode a capture (hex text, raw bytes or a kamscope recording): every frame, every check,
    /// every field.
    Decode(DecodeArgs),
    /// List serial ports with their USB ids, manufacturer, product and serial number.
    Ports {
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Read the meter's registers through an optical head (IEC 61107, 300 baud 7E1). Exit code 0
    /// for a complete readout with a good BCC, 1 when it came but failed a check, 2 for no readout.
    Read {
        /// Serial port of the optical head.
        #[arg(long, value_name = "PATH")]
        port: String,
        /// Device address for the sign-on request (`/?ADDRESS!`).
        #[arg(long, default_value = "")]
        address: String,
        /// Stay at 300 baud even if the meter offers more.
        #[arg(long)]
        no_baud_switch: bool,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        #[command(flatten)]
        serial: SerialArgs,
    },
    /// Run the simulated meter on a pseudo-terminal and print its path, to test the serial path
    /// end to end (`kamscope --port <path>` in another terminal).
    Sim {
        /// Use a pseudo-terminal (the only place the simulator can run on its own).
        #[arg(long, required = true)]
        pty: bool,
        #[arg(long, value_enum, default_value_t = MeterProfile::ThreePhase)]
        meter: MeterProfile,
        #[arg(long)]
        faults: bool,
        #[arg(long, default_value_t = 1.0, value_parser = parse_speed)]
        speed: f64,
        /// Play the optical port of this meter instead of the HAN port (`kamscope read` or the
        /// Readout tab on the other side).
        #[arg(long, value_enum)]
        iec_meter: Option<IecMeter>,
        /// With --iec-meter: echo the request like a real optical head.
        #[arg(long, requires = "iec_meter")]
        echo: bool,
        /// With --iec-meter: misbehave on purpose.
        #[arg(long, value_enum, requires = "iec_meter", default_value_t = OpticalFault::None)]
        iec_fault: OpticalFault,
    },
}

/// Serial line settings over a preset (HAN 2400 8N1, optical head 300 7E1).
#[derive(clap::Args)]
struct SerialArgs {
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
    fn over(&self, preset: SerialSettings) -> SerialSettings {
        SerialSettings {
            baud: self.baud.unwrap_or(preset.baud),
            data_bits: self.data_bits.unwrap_or(preset.data_bits),
            parity: self.parity.unwrap_or(preset.parity),
            stop_bits: self.stop_bits.unwrap_or(preset.stop_bits),
        }
    }
}

#[derive(clap::Args)]
struct RunArgs {
    /// Serial port of the HAN adapter (HAN preset 2400 8N1).
    #[arg(long, value_name = "PATH", conflicts_with_all = ["demo", "replay"])]
    port: Option<String>,
    /// Run on the built-in simulated meter.
    #[arg(long, conflicts_with = "replay")]
    demo: bool,
    /// Simulated meter: 3-phase direct, 1-phase direct, or 3-phase CT meter.
    #[arg(long, value_enum, default_value_t = MeterProfile::ThreePhase)]
    meter: MeterProfile,
    /// Let the simulated meter inject junk, bit errors, cut-off frames and a lost phase.
    #[arg(long)]
    faults: bool,
    /// Play a recording (or a raw or hex capture).
    #[arg(long, value_name = "FILE")]
    replay: Option<PathBuf>,
    /// Time factor for --demo and --replay (10 = ten times faster).
    #[arg(long, default_value_t = 1.0, value_parser = parse_speed)]
    speed: f64,
    /// Serial port of the optical head, for the Readout tab (IEC 61107, 300 7E1).
    #[arg(long, value_name = "PATH")]
    optical: Option<String>,
    /// Device address for the optical sign-on request (`/?ADDRESS!`).
    #[arg(long, default_value = "")]
    address: String,
    /// Keep optical readouts at 300 baud even if the meter offers more.
    #[arg(long)]
    no_baud_switch: bool,
    /// With --demo: which meter answers on the simulated optical port.
    #[arg(long, value_enum, default_value_t = IecMeter::Combi351)]
    iec_meter: IecMeter,
    /// With --demo: the simulated optical head echoes the request.
    #[arg(long)]
    iec_echo: bool,
    /// With --demo: the simulated optical port misbehaves on purpose.
    #[arg(long, value_enum, default_value_t = OpticalFault::None)]
    iec_fault: OpticalFault,
    /// Record every received and sent chunk to FILE (JSON Lines, appended, flushed per chunk).
    #[arg(long, value_name = "FILE")]
    record: Option<PathBuf>,
    #[command(flatten)]
    serial: SerialArgs,
    /// 10-exponent for energy registers: 1 = raw x 10 Wh (Norway, default), 0 = Wh (Sweden).
    #[arg(long, allow_hyphen_values = true, value_parser = clap::value_parser!(i8).range(-9..=9))]
    energy_scaler: Option<i8>,
    /// 10-exponent for currents; default by meter type: -2, or -3 on CT meters (685-...).
    #[arg(long, allow_hyphen_values = true, value_parser = clap::value_parser!(i8).range(-9..=9))]
    current_scaler: Option<i8>,
}

fn parse_speed(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("{s:?} is not a number"))?;
    if v.is_finite() && v > 0.0 && v <= 100_000.0 {
        Ok(v)
    } else {
        Err("must be above 0 and at most 100000".into())
    }
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
    /// A kamscope recording if it starts with one, hex text if only hex digits and white
    /// space, raw bytes otherwise.
    Auto,
    Hex,
    Raw,
    /// A kamscope recording (JSON Lines); received chunks are decoded.
    Capture,
}

#[derive(clap::Args)]
struct DecodeArgs {
    /// File to decode; `-` or nothing reads standard input.
    #[arg(conflicts_with = "port")]
    input: Option<PathBuf>,
    /// Read a live serial port instead of a file, printing spans as they arrive.
    #[arg(long, value_name = "PATH")]
    port: Option<String>,
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

/// Writes to standard output. When the reader has gone away (`| head`) the output simply ends:
/// that is not an error, and never a panic.
fn out(text: &str) {
    let mut stdout = io::stdout().lock();
    if stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .is_err()
    {
        std::process::exit(0);
    }
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
        Some(Command::Decode(args)) => decode(args),
        Some(Command::Ports { format }) => ports(format),
        Some(Command::Read {
            port,
            address,
            no_baud_switch,
            format,
            serial,
        }) => read(
            port,
            serial.over(SerialSettings::OPTICAL),
            address,
            no_baud_switch,
            format,
        ),
        Some(Command::Sim {
            pty: _,
            meter,
            faults,
            speed,
            iec_meter,
            echo,
            iec_fault,
        }) => sim_pty(
            meter,
            faults,
            speed,
            iec_meter.map(|m| (m, echo, iec_fault)),
        ),
        None => run_app(cli.run),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(UserError(msg)) => {
            eprintln!("kamscope: {msg}");
            ExitCode::from(2)
        }
    }
}

/// `kamscope read`: exit 0 complete and BCC good, 1 came but failed a check, 2 no readout.
fn read(
    port: String,
    settings: SerialSettings,
    address: String,
    no_baud_switch: bool,
    format: Format,
) -> Result<(), UserError> {
    use kamscope::protocol::readout::{ReadoutOptions, Verdict};
    use kamscope::readout::ReadoutEvent;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| UserError(format!("cannot start the async runtime: {e}")))?;
    let connector = std::sync::Arc::new(SerialConnector {
        path: port,
        settings,
    });
    let options = ReadoutOptions {
        address,
        no_baud_switch,
        ..ReadoutOptions::default()
    };
    let result = runtime.block_on(async move {
        let (mut events, cancel) = kamscope::readout::spawn(connector, options, None);
        let mut phase = "";
        loop {
            let event = tokio::select! {
                e = events.recv() => e,
                _ = tokio::signal::ctrl_c() => {
                    let _ = cancel.send(()).await;
                    continue;
                }
            };
            match event {
                Some(ReadoutEvent::Status(s)) if s.phase != phase && s.phase != "done" => {
                    phase = s.phase;
                    eprintln!("kamscope: {} on {}", s.phase, s.port);
                }
                Some(ReadoutEvent::Done(r)) => return Some(*r),
                Some(_) => {}
                None => return None,
            }
        }
    });
    let Some(result) = result else {
        return Err(UserError("the readout task ended without a result".into()));
    };
    let report = kamscope::report::readout_report(&result);
    match format {
        Format::Json => out(&format!(
            "{}\n",
            serde_json::to_string(&report).expect("plain data")
        )),
        // Without a readout there is nothing for standard output: the verdict goes to stderr.
        Format::Text if result.ident.is_some() => {
            let mut text = format!("verdict  {}\n", result.verdict.describe());
            render_text(&report, &mut text);
            out(&text);
        }
        Format::Text => {}
    }
    match result.verdict {
        Verdict::Complete { .. } => Ok(()),
        Verdict::BadBcc { .. } | Verdict::Incomplete { .. } | Verdict::Garbled { .. } => {
            std::process::exit(1)
        }
        other => Err(UserError(other.describe())),
    }
}

fn sim_pty(
    meter: MeterProfile,
    faults: bool,
    speed: f64,
    optical: Option<(IecMeter, bool, OpticalFault)>,
) -> Result<(), UserError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| UserError(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        let pty_error =
            |e: std::io::Error| UserError(format!("cannot open a pseudo-terminal: {e}"));
        let sim = match optical {
            None => {
                kamscope::link::pty::SimPty::open(meter, faults, speed, seed).map_err(pty_error)?
            }
            Some((iec, echo, fault)) => {
                let energy = std::sync::Arc::new(std::sync::Mutex::new([
                    12_345_678.0,
                    234_567.0,
                    1_234_567.0,
                    345_678.0,
                ]));
                let optical =
                    kamscope::link::sim_optical::SimOptical::new(iec, echo, fault, energy);
                kamscope::link::pty::SimPty::open_optical(optical, speed).map_err(pty_error)?
            }
        };
        out(&format!("{}\n", sim.path.display()));
        match optical {
            None => eprintln!(
                "simulated {} meter (HAN port) on {}: run `kamscope --port {}`; Ctrl-C stops it",
                meter.name(),
                sim.path.display(),
                sim.path.display()
            ),
            Some(_) => eprintln!(
                "simulated optical port on {}: run `kamscope read --port {}`; Ctrl-C stops it",
                sim.path.display(),
                sim.path.display()
            ),
        }
        let _ = tokio::signal::ctrl_c().await;
        drop(sim);
        Ok(())
    })
}

fn ports(format: Format) -> Result<(), UserError> {
    let ports = list_ports().map_err(UserError)?;
    match format {
        Format::Json => {
            for p in &ports {
                out(&format!(
                    "{}\n",
                    serde_json::to_string(p).expect("plain data")
                ));
            }
        }
        Format::Text => {
            if ports.is_empty() {
                out(&format!(
                    "{}\n",
                    "no serial ports found: plug in the USB adapter (the demo needs none: kamscope --demo)"
                ));
            }
            for p in &ports {
                out(&format!("{:<16} {:<9} {}\n", p.path, p.kind, p.identity()));
            }
        }
    }
    Ok(())
}

fn run_app(args: RunArgs) -> Result<(), UserError> {
    let config_path = config::path();
    let mut config = match &config_path {
        Some(p) => config::load(p).map_err(UserError)?,
        None => config::Config::default(),
    };
    let is_terminal = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let mut notice = None;
    // The source: command line, else the port picker (which remembers the choice).
    let mut port = args.port.clone();
    let mut demo = args.demo;
    if args.replay.is_none() && port.is_none() && !demo {
        if !is_terminal {
            return Err(UserError(
                "no source given: use --demo (simulated meter), --port PATH or --replay FILE"
                    .into(),
            ));
        }
        color_eyre::install().map_err(|e| UserError(e.to_string()))?;
        let last = config
            .last_source
            .clone()
            .or_else(|| config.han.port.clone());
        match kamscope::tui::pick_source(last).map_err(|e| UserError(format!("{e:#}")))? {
            None => return Ok(()),
            Some(choice) => {
                config.last_source = Some(choice.config_value());
                if let Some(p) = &config_path
                    && let Err(e) = config::save(p, &config)
                {
                    notice = Some(e);
                }
                match choice {
                    Choice::Demo => demo = true,
                    Choice::Port(p) => port = Some(p),
                }
            }
        }
    } else if is_terminal {
        color_eyre::install().map_err(|e| UserError(e.to_string()))?;
    }
    let demo_energy: kamscope::link::sim_optical::SharedEnergy =
        std::sync::Arc::new(std::sync::Mutex::new([
            12_345_678.0,
            234_567.0,
            1_234_567.0,
            345_678.0,
        ]));
    let connector: Box<dyn Connector> = if let Some(path) = &args.replay {
        let source = ReplaySource::load(path).map_err(UserError)?;
        Box::new(ReplayConnector::new(path.clone(), source, args.speed))
    } else if let Some(port) = port {
        let d = config.han.settings(SerialSettings::HAN);
        Box::new(SerialConnector {
            path: port,
            settings: args.serial.over(d),
        })
    } else {
        debug_assert!(demo);
        let mut sim = SimConnector::new(args.meter, args.faults, args.speed);
        sim.energy = Some(demo_energy.clone());
        Box::new(sim)
    };
    // The optical head: a real port, or in the demo the simulated meter's optical side.
    let optical_port = |path: String| -> std::sync::Arc<dyn kamscope::link::OpticalConnector> {
        std::sync::Arc::new(SerialConnector {
            path,
            settings: config.optical.settings(SerialSettings::OPTICAL),
        })
    };
    let optical = match &args.optical {
        Some(path) => Some(optical_port(path.clone())),
        None if demo && args.replay.is_none() => {
            let sim = kamscope::link::sim_optical::SimOptical::new(
                args.iec_meter,
                args.iec_echo,
                args.iec_fault,
                demo_energy,
            );
            Some(
                std::sync::Arc::new(kamscope::link::sim_optical::OpticalSimConnector {
                    sim,
                    speed: args.speed,
                }) as std::sync::Arc<dyn kamscope::link::OpticalConnector>,
            )
        }
        None => config.optical.port.clone().map(optical_port),
    };
    if !is_terminal {
        return Err(UserError(
            "the app needs a terminal; for scripts use `kamscope decode`".into(),
        ));
    }
    let recorder = match &args.record {
        Some(path) => {
            let recorder = Recorder::create(path).map_err(|e| {
                UserError(format!(
                    "cannot record to {}: {}",
                    path.display(),
                    input::io_reason(&e)
                ))
            })?;
            Some(std::sync::Arc::new(std::sync::Mutex::new(recorder)))
        }
        None => None,
    };
    let cfg = ReaderConfig {
        scaling: Scaling {
            energy_scaler: args
                .energy_scaler
                .or(config.scaling.energy_scaler)
                .unwrap_or(1),
            current_scaler: args.current_scaler.or(config.scaling.current_scaler),
        },
        recorder: recorder.clone(),
        ..ReaderConfig::default()
    };
    let options = kamscope::tui::Options {
        optical,
        readout_options: kamscope::protocol::readout::ReadoutOptions {
            address: args.address.clone(),
            no_baud_switch: args.no_baud_switch,
            ..Default::default()
        },
        recorder,
        recording: args.record.clone(),
        chart_window: config.chart_window(),
        notice,
    };
    kamscope::tui::run(connector, cfg, options).map_err(|e| UserError(format!("{e:#}")))
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

fn keys_of(args: &DecodeArgs) -> Result<Option<Keys>, UserError> {
    Ok(match (&args.key, &args.auth_key) {
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

/// `decode --port`: spans from a live port as they arrive, until --count frames or Ctrl-C.
fn decode_port(args: DecodeArgs, path: String) -> Result<(), UserError> {
    use kamscope::reader::{LinkState, ReaderEvent};
    let settings = args.serial.over(SerialSettings::HAN);
    let cfg = ReaderConfig {
        protocols: Protocols::ALL,
        scaling: Scaling {
            energy_scaler: args.energy_scaler,
            current_scaler: args.current_scaler,
        },
        keys: keys_of(&args)?,
        ..ReaderConfig::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| UserError(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async move {
        let connector = SerialConnector { path, settings };
        eprintln!("kamscope: reading {}", connector.describe());
        let (mut events, _commands) = kamscope::reader::spawn(Box::new(connector), cfg);
        let mut summary = args.summary.then(Summary::default);
        let mut frames = 0u64;
        let stdout = io::stdout();
        let mut text = String::new();
        loop {
            let event = tokio::select! {
                e = events.recv() => e,
                _ = tokio::signal::ctrl_c() => None,
            };
            let Some(event) = event else { break };
            match event {
                ReaderEvent::Link(LinkState::Waiting { reason }) => {
                    eprintln!("kamscope: waiting for the port ({reason})");
                }
                ReaderEvent::Link(LinkState::Connected) => eprintln!("kamscope: connected"),
                ReaderEvent::Span(s) => {
                    let span = kamscope::protocol::Span {
                        offset: s.offset,
                        bytes: &s.bytes,
                        content: s.content.clone(),
                    };
                    if let Some(sum) = &mut summary {
                        sum.add(&span, &s.decoded);
                    } else {
                        let report = span_report(&span, &s.decoded);
                        let mut out = stdout.lock();
                        let written = match args.format {
                            Format::Json => serde_json::to_writer(&mut out, &report)
                                .map_err(io::Error::from)
                                .and_then(|()| out.write_all(b"\n")),
                            Format::Text => {
                                text.clear();
                                render_text(&report, &mut text);
                                out.write_all(text.as_bytes())
                            }
                        };
                        if written.and_then(|()| out.flush()).is_err() {
                            return Ok(()); // the reader of our output went away
                        }
                    }
                    if span.protocol() != kamscope::protocol::Protocol::Junk {
                        frames += 1;
                        if args.count.is_some_and(|n| frames >= n) {
                            break;
                        }
                    }
                }
                _ => {}
            }
        }
        if let Some(sum) = summary {
            out(&format!("{}\n", sum.to_json()));
        }
        Ok(())
    })
}

fn decode(args: DecodeArgs) -> Result<(), UserError> {
    if let Some(port) = args.port.clone() {
        return decode_port(args, port);
    }
    let keys = keys_of(&args)?;
    let scaling = Scaling {
        energy_scaler: args.energy_scaler,
        current_scaler: args.current_scaler,
    };
    let forced = match args.input_kind {
        InputArg::Auto | InputArg::Capture => None,
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
    let (name, source): (String, Box<dyn Read>) = match args.input.as_deref() {
        None => ("standard input".into(), Box::new(io::stdin().lock())),
        Some(p) if p.as_os_str() == "-" => ("standard input".into(), Box::new(io::stdin().lock())),
        Some(path) => {
            let name = path.display().to_string();
            let file = std::fs::File::open(path)
                .map_err(|e| UserError(format!("cannot read {name}: {}", input::io_reason(&e))))?;
            if file.metadata().is_ok_and(|m| m.is_dir()) {
                return Err(UserError(format!("cannot read {name}: it is a directory")));
            }
            (name, Box::new(file))
        }
    };
    let mut reader = io::BufReader::with_capacity(64 * 1024, source);
    let capture = match args.input_kind {
        InputArg::Capture => true,
        InputArg::Auto => {
            let head = reader
                .fill_buf()
                .map_err(|e| UserError(format!("cannot read {name}: {}", input::io_reason(&e))))?;
            capture::looks_like_capture(head)
        }
        _ => false,
    };
    if capture {
        for (i, line) in reader.lines().enumerate() {
            let line = line
                .map_err(|e| UserError(format!("cannot read {name}: {}", input::io_reason(&e))))?;
            if line.trim().is_empty() {
                continue;
            }
            let chunk = capture::Chunk::from_json_line(&line).map_err(|e| {
                UserError(format!("{name} line {}: not a capture line: {e}", i + 1))
            })?;
            if chunk.dir == capture::Direction::Rx {
                sink.push(&chunk.bytes);
            }
        }
    } else {
        input::read_chunks(&name, reader, forced, |b| sink.push(b))?;
    }
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
