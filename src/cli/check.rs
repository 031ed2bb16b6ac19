//! `kamscope check`: listen to the HAN port (or play a recording, or the demo), judge the site
//! with the app's own verdicts ([`kamscope::app::check`]) and exit: 0 every check passed
//! (warnings allowed), 1 a check failed, 2 no usable data.

use super::keys::KeyArgs;
use super::run::{DemoReadout, HanOptions, Source, han_connector, readout_connectors};
use super::{Format, SerialArgs, UserError, out, parse_speed, runtime};
use chrono::{DateTime, Utc};
use kamscope::app::check::{self, Check, CheckOptions, Verdict};
use kamscope::app::live::{ClockReference, standard_offset_seconds};
use kamscope::app::report::ReportInfo;
use kamscope::app::{App, Effect};
use kamscope::config;
use kamscope::link::replay::ReplaySource;
use kamscope::link::sim::{MeterProfile, demo_energy};
use kamscope::link::sim_optical::{IecMeter, OpticalFault};
use kamscope::protocol::dlms::Keys;
use kamscope::protocol::han::Scaling;
use kamscope::protocol::iec_session::ReadoutOptions;
use kamscope::protocol::{Decoder, Protocols};
use kamscope::task::han::{self, HanConfig};
use kamscope::task::readout::{Readout, ReadoutConnectors};
use kamscope::wire::{
    Chunk, Direction, HanCommand, HanEvent, Link, LinkState, Pipeline, ReadoutProtocol,
};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// List 1 pushes to listen for before judging.
const PUSHES_TO_JUDGE: u64 = 3;
/// The longest wait for them, seconds.
const DEFAULT_DURATION_S: f64 = 40.0;
/// The longest wait with --wait-list2 (list 2 comes once an hour, on the hour).
const LIST2_DURATION_S: f64 = 3660.0;

#[derive(clap::Args)]
pub struct CheckArgs {
    /// Serial port of the HAN adapter (HAN preset 2400 8N1); tcp://HOST:PORT or
    /// rfc2217://HOST:PORT for a network bridge.
    #[arg(long, value_name = "PORT", conflicts_with_all = ["demo", "replay"])]
    port: Option<String>,
    /// Judge a recording (or a raw or hex capture) at once, by its own times.
    #[arg(long, value_name = "FILE", conflicts_with = "demo")]
    replay: Option<PathBuf>,
    /// Judge the built-in simulated meter.
    #[arg(long)]
    demo: bool,
    /// Simulated meter for --demo.
    #[arg(long, value_enum, default_value_t = MeterProfile::ThreePhase)]
    meter: MeterProfile,
    /// Let the simulated meter inject faults.
    #[arg(long)]
    faults: bool,
    /// Time factor for --demo (10 = ten times faster).
    #[arg(long, default_value_t = 1.0, value_parser = parse_speed)]
    speed: f64,
    /// Listen at most this long, seconds (default 40, or an hour and a minute with
    /// --wait-list2); judging starts earlier once three list 1 pushes came.
    #[arg(long, value_name = "SECS", value_parser = parse_duration)]
    duration: Option<f64>,
    /// The main fuse in amperes (default: config [site] fuse_a, else 25).
    #[arg(long, value_name = "A", value_parser = parse_fuse)]
    fuse: Option<f64>,
    /// Wait for list 2 (the hourly energy registers) and fail without it.
    #[arg(long)]
    wait_list2: bool,
    /// Also write the commissioning report: one self-contained HTML page, printable on two A4
    /// pages (replaced if it exists).
    #[arg(long, value_name = "FILE.html")]
    report: Option<PathBuf>,
    /// The site exports (solar): fail when no export is seen.
    #[arg(long)]
    expect_export: bool,
    /// Also read the meter's registers through the optical head on PORT while listening, and
    /// compare its A+ with list 2's. Without PORT: the config's [optical] port, or with --demo
    /// the simulated meter's optical side.
    #[arg(long, value_name = "PORT", num_args = 0..=1, conflicts_with = "replay")]
    optical: Option<Option<String>>,
    /// What the --optical readout speaks (default: as remembered for the port, else iec;
    /// mbus reads the one meter on an M-Bus level converter).
    #[arg(long, value_enum, requires = "optical")]
    protocol: Option<ReadoutProtocol>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    #[command(flatten)]
    site: SiteArgs,
    #[command(flatten)]
    serial: SerialArgs,
    #[command(flatten)]
    keys: KeyArgs,
}

/// Who checked what, for the JSON and the report.
#[derive(clap::Args, Default)]
pub struct SiteArgs {
    /// The site's name or address (default: config [site] name).
    #[arg(long, value_name = "NAME")]
    site: Option<String>,
    /// Who did the check (default: config [site] installer).
    #[arg(long, value_name = "NAME")]
    installer: Option<String>,
    /// A remark for the record (fuse changed, CTs replaced, ...).
    #[arg(long, value_name = "TEXT")]
    note: Option<String>,
}

fn parse_duration(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 86_400.0 => Ok(v),
        _ => Err("must be a number of seconds above 0, at most 86400".into()),
    }
}

fn parse_fuse(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 10_000.0 => Ok(v),
        _ => Err("must be a current in amperes above 0".into()),
    }
}

/// Whether enough came to judge: three list 1 pushes (and list 2 when asked for).
fn enough(app: &App, options: CheckOptions) -> bool {
    let list1 = app.live.pushes - app.live.list2_pushes;
    list1 >= PUSHES_TO_JUDGE && (!options.wait_list2 || app.live.list2_pushes > 0)
}

pub fn run(args: CheckArgs) -> Result<ExitCode, UserError> {
    let config = match config::path() {
        Some(p) => config::load(&p)?,
        None => config::Config::default(),
    };
    let source = match (&args.port, &args.replay, args.demo) {
        (Some(p), _, _) => Source::Port(p.clone()),
        (_, Some(f), _) => Source::Replay(f.clone()),
        (_, _, true) => Source::Demo,
        _ => {
            return Err(UserError(
                "no source given: use --port PATH, --replay FILE or --demo".into(),
            ));
        }
    };
    let keys = args.keys.keys(|| Ok(config.keys.clone()))?;
    let mut args = args;
    args.site.site = args.site.site.or_else(|| config.site.name.clone());
    args.site.installer = args
        .site
        .installer
        .or_else(|| config.site.installer.clone());
    let options = CheckOptions {
        wait_list2: args.wait_list2,
        expect_export: args.expect_export,
        optical: args.optical.is_some(),
        in_app: false,
    };
    let duration = args.duration.unwrap_or(if args.wait_list2 {
        LIST2_DURATION_S
    } else {
        DEFAULT_DURATION_S
    });
    let mut app = new_app(&config, keys.clone(), args.fuse);
    if let Source::Replay(path) = &source {
        let recording = ReplaySource::load(path)?;
        for w in recording.warnings() {
            eprintln!("kamscope: {w}");
        }
        judge_recording(&mut app, recording, duration, options);
    } else {
        let han_options = HanOptions {
            meter: args.meter,
            faults: args.faults,
            speed: args.speed,
            serial: &args.serial,
        };
        let energy = demo_energy();
        let (connector, _, clock, _) = han_connector(&han_options, &config, &source, &energy)?;
        app.source = connector.describe();
        app.live.clock_reference = clock;
        let readout = match &args.optical {
            Some(port) => {
                let demo = DemoReadout {
                    meter: IecMeter::Combi351,
                    echo: false,
                    fault: OpticalFault::None,
                    speed: args.speed,
                };
                let Some((name, connectors)) =
                    readout_connectors(port.as_ref(), &demo, &config, &source, energy)?
                else {
                    return Err(UserError(
                        "--optical needs the optical head's port (--optical PORT, or [optical] \
                         port in the config)"
                            .into(),
                    ));
                };
                app.readout.port = Some(name.clone());
                app.readout.protocol = args
                    .protocol
                    .or_else(|| config.readout.protocol.get(&name).copied())
                    .unwrap_or_default();
                Some(connectors)
            }
            None => None,
        };
        let han_config = HanConfig {
            scaling: app.scaling,
            keys,
            stop_on_permanent: true,
            ..HanConfig::default()
        };
        runtime()?.block_on(listen(
            &mut app,
            connector,
            han_config,
            readout.as_ref(),
            duration,
            options,
        ));
    }
    if let Some(path) = &args.report {
        write_report(&app, options, &args.site, path)?;
    }
    report(&app, options, args.format, &args.site)
}

/// The commissioning report of what was judged, written whole or not at all.
fn write_report(
    app: &App,
    options: CheckOptions,
    site: &SiteArgs,
    path: &std::path::Path,
) -> Result<(), UserError> {
    let checks = check::checks(app, options);
    let verdict = check::verdict(app, &checks);
    let info = ReportInfo {
        site: site.site.clone(),
        installer: site.installer.clone(),
        note: site.note.clone(),
        generated: chrono::Local::now().fixed_offset(),
        source: app.source.clone(),
    };
    let page = kamscope::app::report::html(app, &checks, verdict, &info);
    kamscope::link::write_atomically(path, page.as_bytes()).map_err(|e| {
        UserError(format!(
            "cannot write the report {}: {}",
            path.display(),
            kamscope::link::io_reason(&e)
        ))
    })?;
    eprintln!("kamscope: report written to {}", path.display());
    Ok(())
}

/// An app that has seen nothing yet, with the config's scaling and fuse (or `fuse`).
fn new_app(config: &config::Config, keys: Option<Keys>, fuse: Option<f64>) -> App {
    let scaling = Scaling {
        energy_scaler: config.scaling.energy_scaler.unwrap_or(1),
        current_scaler: config.scaling.current_scaler,
    };
    let now = chrono::Local::now();
    let mut app = App::new(
        String::new(),
        scaling,
        None,
        now.fixed_offset(),
        standard_offset_seconds(now),
    );
    app.keys = keys;
    app.live.fuse_a = fuse.unwrap_or_else(|| config.site.fuse_a());
    app
}

/// A recording judged as `check --replay FILE` judges it with the default options: the verdict
/// and the result as `--format json` prints it (for the support bundle).
pub fn check_recording(
    recording: ReplaySource,
    config: &config::Config,
    keys: Option<Keys>,
) -> (Verdict, serde_json::Value) {
    let options = CheckOptions::default();
    let mut app = new_app(config, keys, None);
    judge_recording(&mut app, recording, DEFAULT_DURATION_S, options);
    let checks = check::checks(&app, options);
    let verdict = check::verdict(&app, &checks);
    (verdict, json(&app, &checks, verdict, &SiteArgs::default()))
}

/// Plays a recording through the HAN pipeline with its own times, until enough came or
/// `duration` seconds of it played.
fn judge_recording(app: &mut App, recording: ReplaySource, duration: f64, options: CheckOptions) {
    // The recording's times are the reference for the meter clock: played at speed 1 from its
    // first chunk, a push's reference time is the time it was recorded. A hex or raw file has
    // no times.
    app.live.clock_reference =
        recording
            .first_chunk()
            .map_or(ClockReference::None, |t| ClockReference::Recording {
                first_chunk: t,
                started: t,
                speed: 1.0,
            });
    let chunks: Box<dyn Iterator<Item = Chunk> + '_> = match &recording {
        ReplaySource::Bytes(bytes) => Box::new(std::iter::once(Chunk {
            t: Utc::now(),
            link: Link::Han,
            dir: Direction::Rx,
            bytes: bytes.clone(),
        })),
        _ => Box::new(
            recording
                .chunks()
                .filter(|c| c.link == Link::Han && c.dir == Direction::Rx),
        ),
    };
    let mut pipeline = Pipeline::new(
        Link::Han,
        Protocols::HAN,
        Decoder::new(app.scaling, app.keys.clone()),
        None,
    );
    let mut chunks = chunks.peekable();
    let first = chunks.peek().map(|c| c.t);
    set_now(app, first.unwrap_or_else(Utc::now));
    app.on_han(HanEvent::Link(LinkState::Connected));
    let mut last = first;
    for chunk in chunks {
        if let Some(first) = first
            && ((chunk.t - first).as_seconds_f64() > duration || enough(app, options))
        {
            break;
        }
        set_now(app, chunk.t);
        let (spans, _) = pipeline.records_of(&chunk);
        app.on_han(HanEvent::Bytes {
            at: chunk.t,
            count: chunk.bytes.len(),
        });
        feed(app, spans);
        last = Some(chunk.t);
    }
    if let Some(last) = last {
        feed(app, pipeline.flush_records(last));
        set_now(app, last);
    }
    app.on_han(HanEvent::Link(LinkState::Ended));
}

fn feed(app: &mut App, spans: Vec<kamscope::wire::SpanRecord>) {
    for span in spans {
        app.on_han(HanEvent::Span(Box::new(span)));
    }
}

fn set_now(app: &mut App, t: DateTime<Utc>) {
    let offset = *app.now.offset();
    app.tick(t.with_timezone(&offset));
}

/// Listens to a live source (and reads the readout port, when given, at the same time) until
/// enough came and the readout ended, `duration` seconds passed, the HAN port could not be
/// opened, or Ctrl-C.
async fn listen(
    app: &mut App,
    connector: Box<dyn kamscope::link::Connector>,
    han_config: HanConfig,
    readout_port: Option<&ReadoutConnectors>,
    duration: f64,
    options: CheckOptions,
) {
    let (mut events, commands) = han::spawn(connector, han_config);
    let mut readout = None;
    if let Some(connectors) = readout_port {
        for effect in app.start_readout(false) {
            if let Effect::StartReadout {
                protocol,
                mbus_target,
            } = effect
            {
                readout = Some(Readout::start(
                    connectors,
                    protocol,
                    mbus_target,
                    ReadoutOptions::default(),
                    None,
                ));
            }
        }
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs_f64(duration);
    let mut han_done = false;
    loop {
        tokio::select! {
            e = events.recv(), if !han_done => {
                app.tick(chrono::Local::now().fixed_offset());
                let Some(event) = e else { break };
                let port_failed = matches!(event, HanEvent::Link(LinkState::Waiting { .. }));
                app.on_han(event);
                // A port that cannot be opened before a byte came: nothing will come.
                if port_failed && app.stats.bytes == 0 {
                    break;
                }
                han_done = enough(app, options);
            }
            e = Readout::next_of(&mut readout), if readout.is_some() => {
                app.tick(chrono::Local::now().fixed_offset());
                match e {
                    Some(e) => app.on_readout(e),
                    None => readout = None,
                }
            }
            () = tokio::time::sleep_until(deadline) => break,
            _ = tokio::signal::ctrl_c() => break,
        }
        if han_done && readout.is_none() {
            break;
        }
    }
    if let Some(r) = &readout {
        r.cancel();
    }
    let _ = commands.send(HanCommand::Stop).await;
    app.tick(chrono::Local::now().fixed_offset());
}

/// The verdict on standard output (and the no-data sentence on standard error), and the exit
/// code.
fn report(
    app: &App,
    options: CheckOptions,
    format: Format,
    site: &SiteArgs,
) -> Result<ExitCode, UserError> {
    let checks = check::checks(app, options);
    let verdict = check::verdict(app, &checks);
    match format {
        Format::Json => out(&format!(
            "{}\n",
            serde_json::to_string_pretty(&json(app, &checks, verdict, site)).expect("plain data")
        )),
        Format::Text if verdict != Verdict::NoData => out(&table(&checks, verdict)),
        Format::Text => {}
    }
    match verdict {
        Verdict::Pass => Ok(ExitCode::SUCCESS),
        Verdict::Fail => Ok(ExitCode::from(1)),
        Verdict::NoData => Err(UserError(format!(
            "no usable data: {}",
            check::usable(app).err().unwrap_or_default()
        ))),
    }
}

fn json(app: &App, checks: &[Check], verdict: Verdict, site: &SiteArgs) -> serde_json::Value {
    let live = &app.live;
    let r = live.latest;
    let energy = live.energies.as_ref().map(|e| {
        let register = |i: usize| {
            e.registers[i].map(|(value, _, unit)| serde_json::json!({"value": value, "unit": unit}))
        };
        serde_json::json!({
            "received": e.received.to_rfc3339(),
            "meter_time": e.meter_time.map(|t| t.to_string()),
            "a_plus": register(0),
            "a_minus": register(1),
            "r_plus": register(2),
            "r_minus": register(3),
        })
    });
    let readout = app
        .readout
        .results
        .iter()
        .rev()
        .find(|r| r.scan().is_none())
        .map(|r| {
            serde_json::json!({
                "protocol": r.protocol().key(),
                "verdict": r.verdict_text(),
                "meter": r.meter_line(),
                "read_at": r.read_at().to_rfc3339(),
                "registers": r.fields(),
            })
        });
    let s = &app.stats;
    serde_json::json!({
        "verdict": verdict,
        "checks": checks,
        "site": {
            "name": site.site,
            "installer": site.installer,
            "note": site.note,
        },
        "meter": {
            "id": live.meter_id,
            "type": live.meter_type.as_ref().or(live.identification.as_ref()),
            "wiring": live.wiring().map(|w| w.describe()),
        },
        "readings": {
            "voltage_v": r.map(|r| r.voltage),
            "current_a": r.map(|r| r.current),
            "power_import_w": r.and_then(|r| r.power[0]),
            "power_export_w": r.and_then(|r| r.power[1]),
            "energy": energy,
            "readout": readout,
        },
        "frames": {
            "bytes": s.bytes,
            "good": s.good,
            "bad": s.bad(),
            "hcs_bad": s.hcs_bad,
            "fcs_bad": s.fcs_bad,
            "length_bad": s.length_bad,
            "other_bad": s.other_bad,
            "junk_bytes": s.junk_bytes,
        },
        "events": app.events.entries().map(|e| serde_json::json!({
            "at": e.at.to_rfc3339(),
            "level": e.level.name(),
            "text": e.text,
        })).collect::<Vec<_>>(),
        "version": env!("CARGO_PKG_VERSION"),
    })
}

/// Width of the message column: the table fits 80 columns.
const MESSAGE_WIDTH: usize = 80 - 4 - 2 - 8 - 2;

/// One line a check (status, id, message wrapped to fit 80 columns), then the verdict.
fn table(checks: &[Check], verdict: Verdict) -> String {
    let mut text = String::new();
    for c in checks {
        for (i, line) in kamscope::ui::events::wrap(&c.message, MESSAGE_WIDTH)
            .iter()
            .enumerate()
        {
            let (status, id) = if i == 0 {
                (c.status.name(), c.id)
            } else {
                ("", "")
            };
            text.push_str(format!("{status:<4}  {id:<8}  {line}").trim_end());
            text.push('\n');
        }
    }
    text.push_str(&format!(
        "verdict: {} ({})\n",
        verdict.name(),
        check::tally(checks)
    ));
    text
}

impl CheckArgs {
    /// Whether the command talks to a meter (for the default log): a port, not a recording.
    pub fn talks_to_a_meter(&self) -> bool {
        self.port.is_some()
    }
}
