//! `kamscope [--port PATH | --demo | --replay FILE]`: the app. Chooses the source (command line,
//! else the port picker), opens the recording, starts the HAN reader and the TUI.

use super::keys::KeyArgs;
use super::{SerialArgs, UserError, parse_speed};
use kamscope::app::App;
use kamscope::app::live::ClockReference;
use kamscope::app::picker::Choice;
use kamscope::config;
use kamscope::link::port::connector as port_connector;
use kamscope::link::record::Recorder;
use kamscope::link::replay::{ReplayConnector, ReplaySource};
use kamscope::link::serial::check_baud;
use kamscope::link::sim::{MeterProfile, SharedEnergy, SimConnector, demo_energy};
use kamscope::link::sim_kmp::{KmpSimConnector, SimKmp};
use kamscope::link::sim_mbus::{self, MbusSimConnector, SimMbus};
use kamscope::link::sim_optical::{IecMeter, OpticalFault, OpticalSimConnector, SimOptical};
use kamscope::link::{Connector, OpticalConnector, io_reason};
use kamscope::protocol::han::Scaling;
use kamscope::protocol::iec_session::ReadoutOptions;
use kamscope::task::han::{self, HanConfig};
use kamscope::task::optical::OpticalReplay;
use kamscope::tui::{self, HanTask, Optical, ReadoutConnectors, RealEnvironment};
use kamscope::wire::line::SerialSettings;
use kamscope::wire::{Chunk, SharedRecorder};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

#[derive(clap::Args)]
pub struct RunArgs {
    /// Serial port of the HAN adapter (HAN preset 2400 8N1); tcp://HOST:PORT for a network
    /// bridge, rfc2217://HOST:PORT to set its line too.
    #[arg(long, value_name = "PORT", conflicts_with_all = ["demo", "replay"])]
    port: Option<String>,
    /// Run on the built-in simulated meter.
    #[arg(long, conflicts_with = "replay")]
    demo: bool,
    /// Simulated meter: 3-phase direct, 1-phase direct, 3-phase CT meter, or a P1 (DSMR-style)
    /// meter at 115200 baud.
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
    /// Serial port of the optical head or M-Bus level converter, for the Readout tab (IEC 61107
    /// at 300 7E1, KMP at 1200 8E2, M-Bus at 2400 8E1: `p` in the tab chooses); tcp:// or
    /// rfc2217://HOST:PORT for a network bridge.
    #[arg(long, value_name = "PORT")]
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
    #[command(flatten)]
    detect: super::detect::DetectArgs,
    /// 10-exponent for energy registers: 1 = raw x 10 Wh (Norway, default), 0 = Wh (Sweden).
    #[arg(long, allow_hyphen_values = true, value_parser = clap::value_parser!(i8).range(-9..=9))]
    energy_scaler: Option<i8>,
    /// 10-exponent for currents; default by meter type: -2, or -3 on CT meters (685-...).
    #[arg(long, allow_hyphen_values = true, value_parser = clap::value_parser!(i8).range(-9..=9))]
    current_scaler: Option<i8>,
    #[command(flatten)]
    keys: KeyArgs,
}

/// Where the HAN bytes come from.
pub(super) enum Source {
    Port(String),
    Demo,
    Replay(PathBuf),
}

/// The source from the command line, else from the port picker (which remembers the choice in
/// the config). `None` when the user quit the picker.
fn choose_source(
    args: &RunArgs,
    config: &mut config::Config,
    notice: &mut Option<String>,
    detect: &mut bool,
) -> Result<Option<Source>, UserError> {
    if let Some(path) = &args.replay {
        return Ok(Some(Source::Replay(path.clone())));
    }
    if let Some(port) = &args.port {
        return Ok(Some(Source::Port(port.clone())));
    }
    if args.demo {
        return Ok(Some(Source::Demo));
    }
    if !std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        return Err(UserError(
            "no source given: use --demo (simulated meter), --port PATH or --replay FILE".into(),
        ));
    }
    let last = config
        .last_source
        .clone()
        .or_else(|| config.han.port.clone());
    let Some(choice) = tui::pick_source(last)? else {
        return Ok(None);
    };
    config.last_source = Some(choice.config_value());
    if let Some(p) = config::path()
        && let Err(e) = config::save_last_source(&p, &choice.config_value())
    {
        *notice = Some(e.to_string());
    }
    Ok(Some(match choice {
        Choice::Demo => Source::Demo,
        Choice::Port(p) => Source::Port(p),
        Choice::Detect(p) => {
            *detect = true;
            Source::Port(p)
        }
    }))
}

/// The link the HAN reader reads, for a replay the recording's optical line, and what the meter
/// clock is compared with.
pub(super) type HanSide = (
    Box<dyn Connector>,
    Option<mpsc::Receiver<Chunk>>,
    ClockReference,
    // Lines of a recording that could not be read (skipped), one sentence each.
    Vec<String>,
);

/// What the HAN side of a source is opened with (the app's and `check`'s options).
pub(super) struct HanOptions<'a> {
    pub meter: MeterProfile,
    pub faults: bool,
    pub speed: f64,
    pub serial: &'a SerialArgs,
}

impl RunArgs {
    fn han_options(&self) -> HanOptions<'_> {
        HanOptions {
            meter: self.meter,
            faults: self.faults,
            speed: self.speed,
            serial: &self.serial,
        }
    }
}

/// The HAN side of the source.
pub(super) fn han_connector(
    args: &HanOptions<'_>,
    config: &config::Config,
    source: &Source,
    energy: &SharedEnergy,
) -> Result<HanSide, UserError> {
    Ok(match source {
        Source::Replay(path) => {
            let source = ReplaySource::load(path)?;
            // A recording has the times of its pushes; a hex or raw file has none.
            let clock =
                source
                    .first_chunk()
                    .map_or(ClockReference::None, |t| ClockReference::Recording {
                        first_chunk: t,
                        started: chrono::Utc::now(),
                        speed: args.speed,
                    });
            let warnings = source.warnings();
            let mut replay = ReplayConnector::new(path.clone(), source, args.speed);
            let optical = replay.optical_chunks();
            (Box::new(replay), Some(optical), clock, warnings)
        }
        Source::Port(port) => (
            Box::new(port_connector(
                port,
                args.serial
                    .over(config.han.settings(SerialSettings::HAN), "han")?,
            )?),
            None,
            ClockReference::Laptop,
            Vec::new(),
        ),
        Source::Demo => {
            let mut sim = SimConnector::new(args.meter, args.faults, args.speed);
            sim.energy = Some(energy.clone());
            // The simulated meter's clock runs `speed` times faster than the laptop's.
            let clock = if args.speed == 1.0 {
                ClockReference::Laptop
            } else {
                ClockReference::Simulated {
                    started: chrono::Utc::now(),
                    speed: args.speed,
                }
            };
            (Box::new(sim), None, clock, Vec::new())
        }
    })
}

/// The demo's simulated optical side.
pub struct DemoReadout {
    pub meter: IecMeter,
    pub echo: bool,
    pub fault: OpticalFault,
    pub speed: f64,
}

/// The readout port (an optical head or an M-Bus level converter), opened per protocol at the
/// protocol's line settings: a real port, or in the demo the simulated meter's optical side
/// (IEC 61107 and KMP) and its M-Bus module. With its name: the path, or `demo`.
pub(super) fn readout_connectors(
    optical: Option<&String>,
    demo: &DemoReadout,
    config: &config::Config,
    source: &Source,
    energy: SharedEnergy,
) -> Result<Option<(String, ReadoutConnectors)>, UserError> {
    let iec = config.optical.settings(SerialSettings::OPTICAL);
    let port = |path: String| -> Result<(String, ReadoutConnectors), UserError> {
        check_baud("[optical] baud", iec.baud)?;
        let open = |settings| -> Result<Arc<dyn OpticalConnector>, UserError> {
            Ok(Arc::new(port_connector(&path, settings)?))
        };
        Ok((
            path.clone(),
            ReadoutConnectors {
                iec: open(iec)?,
                kmp: open(SerialSettings::KMP_ASCII)?,
                mbus: open(SerialSettings::MBUS)?,
                mbus_baud: SerialSettings::MBUS.baud,
            },
        ))
    };
    Ok(match (optical, source) {
        (Some(path), _) => Some(port(path.clone())?),
        (None, Source::Demo) => Some((
            "demo".into(),
            ReadoutConnectors {
                iec: Arc::new(OpticalSimConnector {
                    sim: SimOptical::new(demo.meter, demo.echo, demo.fault, energy.clone()),
                    speed: demo.speed,
                }),
                kmp: Arc::new(KmpSimConnector {
                    sim: SimKmp::new(demo.echo, energy.clone()),
                    speed: demo.speed,
                }),
                mbus: Arc::new(MbusSimConnector {
                    sim: SimMbus::new(
                        sim_mbus::DEFAULT_PRIMARY,
                        sim_mbus::DEFAULT_SECONDARY,
                        false,
                        energy,
                    ),
                    speed: demo.speed,
                }),
                mbus_baud: SerialSettings::MBUS.baud,
            },
        )),
        (None, _) => config.optical.port.clone().map(port).transpose()?,
    })
}

/// The recording, opened (appended to) before the app starts, so a bad path is said at once.
fn open_recorder(path: Option<&PathBuf>) -> Result<Option<SharedRecorder>, UserError> {
    let Some(path) = path else {
        return Ok(None);
    };
    let recorder = Recorder::create(path).map_err(|e| {
        UserError(format!(
            "cannot record to {}: {}",
            path.display(),
            io_reason(&e)
        ))
    })?;
    tracing::info!(path = %path.display(), "recording");
    Ok(Some(Arc::new(Mutex::new(recorder))))
}

/// Where exports go: the config's `[export] dir` (`~/` is the home folder), else the platform's
/// documents folder.
fn export_dir(config: &config::Config) -> Option<PathBuf> {
    let Some(dir) = &config.export.dir else {
        return tui::default_export_dir();
    };
    let home = || directories::UserDirs::new().map(|u| u.home_dir().to_path_buf());
    match dir.strip_prefix("~") {
        Ok(rest) => Some(home().map_or_else(|| dir.clone(), |h| h.join(rest))),
        Err(_) => Some(dir.clone()),
    }
}

pub fn run(mut args: RunArgs) -> Result<ExitCode, UserError> {
    let mut config = match config::path() {
        Some(p) => config::load(&p)?,
        None => config::Config::default(),
    };
    let mut notice = None;
    let mut detect = args.detect.detect;
    let Some(source) = choose_source(&args, &mut config, &mut notice, &mut detect)? else {
        return Ok(ExitCode::SUCCESS);
    };
    if detect {
        let Source::Port(port) = &source else {
            return Err(UserError(
                "--detect needs a HAN port: --port PATH, or one chosen in the port picker".into(),
            ));
        };
        let found = super::runtime()?.block_on(args.detect.run(port))?;
        args.serial.set(found);
    }
    let keys = args.keys.keys(|| Ok(config.keys.clone()))?;
    // The demo meter's HAN and optical sides count the same energy registers.
    let energy = demo_energy();
    let (connector, replayed_optical, clock_reference, warnings) =
        han_connector(&args.han_options(), &config, &source, &energy)?;
    let demo_readout = DemoReadout {
        meter: args.iec_meter,
        echo: args.iec_echo,
        fault: args.iec_fault,
        speed: args.speed,
    };
    let readout_port = readout_connectors(
        args.optical.as_ref(),
        &demo_readout,
        &config,
        &source,
        energy,
    )?;
    if !std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        return Err(UserError(
            "the app needs a terminal; for scripts use `kamscope decode`".into(),
        ));
    }
    let recorder = open_recorder(args.record.as_ref())?;
    let scaling = Scaling {
        energy_scaler: args
            .energy_scaler
            .or(config.scaling.energy_scaler)
            .unwrap_or(1),
        current_scaler: args.current_scaler.or(config.scaling.current_scaler),
    };
    let now = chrono::Local::now();
    let mut app = App::new(
        connector.describe(),
        scaling,
        args.record.clone(),
        now.fixed_offset(),
        kamscope::app::live::standard_offset_seconds(now),
    );
    if let Some((name, _)) = &readout_port {
        app.readout.port = Some(name.clone());
        app.readout.protocol = config
            .readout
            .protocol
            .get(name)
            .copied()
            .unwrap_or_default();
    }
    app.live.fuse_a = config.site.fuse_a();
    app.site = kamscope::app::report::Site {
        name: config.site.name.clone(),
        installer: config.site.installer.clone(),
    };
    app.live.clock_reference = clock_reference;
    // Lines of the recording that could not be read: in the event log, and said at once.
    for w in &warnings {
        tracing::warn!("{w}");
        app.events.push(
            chrono::Utc::now(),
            kamscope::app::live::Level::Warn,
            w.clone(),
        );
    }
    app.notice = notice.or_else(|| warnings.first().cloned());
    app.keys = keys.clone();
    if let Some(w) = config.chart_window() {
        app.live.window = w;
    }
    tracing::info!(source = %connector.describe(), keys = keys.is_some(), "kamscope started");
    let han_config = HanConfig {
        scaling,
        keys,
        recorder: recorder.clone(),
        ..HanConfig::default()
    };
    let spawn_han = move || {
        let (events, commands) = han::spawn(connector, han_config);
        HanTask { events, commands }
    };
    let optical = Optical {
        connectors: readout_port.map(|(_, c)| c),
        options: ReadoutOptions {
            address: args.address.clone(),
            no_baud_switch: args.no_baud_switch,
            ..ReadoutOptions::default()
        },
        replay: replayed_optical.map(|chunks| OpticalReplay {
            chunks,
            speed: args.speed,
            recorder: recorder.clone(),
        }),
        recorder,
    };
    let env = RealEnvironment {
        export_dir: export_dir(&config),
        config: config::path(),
    };
    color_eyre::install()?;
    tui::run(app, spawn_han, optical, env)?;
    tracing::info!("kamscope stopped");
    Ok(ExitCode::SUCCESS)
}
