//! `kamscope check`: listen to the HAN port (or play a recording, or the demo), judge the site
//! with the app's own verdicts ([`kamscope::app::check`]) and exit: 0 every check passed
//! (warnings allowed), 1 a check failed, 2 no usable data.

use super::keys::KeyArgs;
use super::run::{HanOptions, Source, han_connector};
use super::{Format, SerialArgs, UserError, out, parse_speed, runtime};
use chrono::{DateTime, Utc};
use kamscope::app::App;
use kamscope::app::check::{self, Check, CheckOptions, Verdict};
use kamscope::app::live::{ClockReference, standard_offset_seconds};
use kamscope::config;
use kamscope::link::replay::ReplaySource;
use kamscope::link::sim::{MeterProfile, demo_energy};
use kamscope::protocol::dlms::Keys;
use kamscope::protocol::han::Scaling;
use kamscope::protocol::{Decoder, Protocols};
use kamscope::task::han::{self, HanConfig};
use kamscope::wire::{Chunk, Direction, HanCommand, HanEvent, Link, LinkState, Pipeline};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// List 1 pushes to listen for before judging.
const PUSHES_TO_JUDGE: u64 = 3;
/// The longest wait for them, seconds.
const DEFAULT_DURATION_S: f64 = 40.0;
/// The longest wait with --wait-list2 (list 2 comes once an hour, on the hour).
const LIST2_DURATION_S: f64 = 3660.0;
/// Silence after which a partial frame in a recording is cut off, as the live reader does.
const IDLE_FLUSH: chrono::TimeDelta = chrono::TimeDelta::milliseconds(500);

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
    /// The site exports (solar): fail when no export is seen.
    #[arg(long)]
    expect_export: bool,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    #[command(flatten)]
    serial: SerialArgs,
    #[command(flatten)]
    keys: KeyArgs,
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
    let options = CheckOptions {
        wait_list2: args.wait_list2,
        expect_export: args.expect_export,
    };
    let duration = args.duration.unwrap_or(if args.wait_list2 {
        LIST2_DURATION_S
    } else {
        DEFAULT_DURATION_S
    });
    let mut app = new_app(&config, keys.clone(), args.fuse);
    if let Source::Replay(path) = &source {
        let recording = ReplaySource::load(path)?;
        judge_recording(&mut app, recording, duration, options);
    } else {
        let han_options = HanOptions {
            meter: args.meter,
            faults: args.faults,
            speed: args.speed,
            serial: &args.serial,
        };
        let (connector, _, clock) = han_connector(&han_options, &config, &source, &demo_energy())?;
        app.source = connector.describe();
        app.live.clock_reference = clock;
        let han_config = HanConfig {
            scaling: app.scaling,
            keys,
            stop_on_permanent: true,
            ..HanConfig::default()
        };
        runtime()?.block_on(listen(&mut app, connector, han_config, duration, options));
    }
    report(&app, options, args.format)
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
    (verdict, json(&app, &checks, verdict))
}

/// Plays a recording through the HAN pipeline with its own times, until enough came or
/// `duration` seconds of it played.
fn judge_recording(app: &mut App, recording: ReplaySource, duration: f64, options: CheckOptions) {
    let chunks = match recording {
        ReplaySource::Capture(chunks) => {
            // The recording's times are the reference for the meter clock: played at speed 1
            // from its first chunk, a push's reference time is the time it was recorded.
            if let Some(first) = chunks.first() {
                app.live.clock_reference = ClockReference::Recording {
                    first_chunk: first.t,
                    started: first.t,
                    speed: 1.0,
                };
            }
            chunks
                .into_iter()
                .filter(|c| c.link == Link::Han && c.dir == Direction::Rx)
                .collect()
        }
        ReplaySource::Bytes(bytes) => {
            app.live.clock_reference = ClockReference::None;
            vec![Chunk {
                t: Utc::now(),
                link: Link::Han,
                dir: Direction::Rx,
                bytes,
            }]
        }
    };
    let mut pipeline = Pipeline::new(
        Link::Han,
        Protocols::HAN,
        Decoder::new(app.scaling, app.keys.clone()),
        None,
    );
    let first = chunks.first().map(|c| c.t);
    set_now(app, first.unwrap_or_else(Utc::now));
    app.on_han(HanEvent::Link(LinkState::Connected));
    let mut last = first;
    for chunk in &chunks {
        if let (Some(first), Some(last)) = (first, last) {
            if (chunk.t - first).as_seconds_f64() > duration || enough(app, options) {
                break;
            }
            if chunk.t - last > IDLE_FLUSH {
                feed(app, pipeline.flush_records(last + IDLE_FLUSH));
            }
        }
        set_now(app, chunk.t);
        let (spans, _) = pipeline.records_of(chunk);
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

/// Listens to a live source until enough came, `duration` seconds passed, the port could not be
/// opened, or Ctrl-C.
async fn listen(
    app: &mut App,
    connector: Box<dyn kamscope::link::Connector>,
    han_config: HanConfig,
    duration: f64,
    options: CheckOptions,
) {
    let (mut events, commands) = han::spawn(connector, han_config);
    let deadline = tokio::time::Instant::now() + Duration::from_secs_f64(duration);
    loop {
        let event = tokio::select! {
            e = events.recv() => e,
            () = tokio::time::sleep_until(deadline) => break,
            _ = tokio::signal::ctrl_c() => break,
        };
        app.tick(chrono::Local::now().fixed_offset());
        let Some(event) = event else { break };
        let port_failed = matches!(event, HanEvent::Link(LinkState::Waiting { .. }));
        app.on_han(event);
        // A port that cannot be opened before a byte came: nothing will come.
        if (port_failed && app.stats.bytes == 0) || enough(app, options) {
            break;
        }
    }
    let _ = commands.send(HanCommand::Stop).await;
    app.tick(chrono::Local::now().fixed_offset());
}

/// The verdict on standard output (and the no-data sentence on standard error), and the exit
/// code.
fn report(app: &App, options: CheckOptions, format: Format) -> Result<ExitCode, UserError> {
    let checks = check::checks(app, options);
    let verdict = check::verdict(app, &checks);
    match format {
        Format::Json => out(&format!(
            "{}\n",
            serde_json::to_string_pretty(&json(app, &checks, verdict)).expect("plain data")
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

fn json(app: &App, checks: &[Check], verdict: Verdict) -> serde_json::Value {
    let live = &app.live;
    let r = live.latest;
    serde_json::json!({
        "verdict": verdict,
        "checks": checks,
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
        },
        "frames": {
            "good": app.stats.good,
            "bad": app.stats.bad(),
            "junk_bytes": app.stats.junk_bytes,
        },
        "version": env!("CARGO_PKG_VERSION"),
    })
}

/// Width of the message column: the table fits 80 columns.
const MESSAGE_WIDTH: usize = 80 - 4 - 2 - 8 - 2;

/// One line a check (status, id, message wrapped to fit 80 columns), then the verdict.
fn table(checks: &[Check], verdict: Verdict) -> String {
    let mut text = String::new();
    for c in checks {
        for (i, line) in wrap(&c.message, MESSAGE_WIDTH).iter().enumerate() {
            let (status, id) = if i == 0 {
                (c.status.name(), c.id)
            } else {
                ("", "")
            };
            text.push_str(format!("{status:<4}  {id:<8}  {line}").trim_end());
            text.push('\n');
        }
    }
    let count = |s| checks.iter().filter(|c| c.status == s).count();
    text.push_str(&format!(
        "verdict: {} ({} passed, {} warnings, {} failed, {} skipped)\n",
        verdict.name(),
        count(check::Status::Pass),
        count(check::Status::Warn),
        count(check::Status::Fail),
        count(check::Status::Skip),
    ));
    text
}

/// Words to lines of at most `width` characters (a longer word gets a line of its own).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split_whitespace() {
        let line = lines.last_mut().expect("one line at least");
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(word.to_string());
        } else {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    lines
}

impl CheckArgs {
    /// Whether the command talks to a meter (for the default log): a port, not a recording.
    pub fn talks_to_a_meter(&self) -> bool {
        self.port.is_some()
    }
}
