//! A recording of HAN pushes plus an optical readout, made live (the demo meter's two sides
//! through the real reader and readout tasks), then decoded by `kamscope decode` and replayed
//! through the app's event loop: the decode is clean, and the replay shows the same spans on
//! both lines and the same counters as the live session.

use chrono::{FixedOffset, TimeZone};
use kamscope::app::App;
use kamscope::app::inspector::LoggedSpan;
use kamscope::link::record::Recorder;
use kamscope::link::replay::{ReplayConnector, ReplaySource};
use kamscope::link::sim::{MeterProfile, SimConnector, demo_energy};
use kamscope::link::sim_optical::{IecMeter, OpticalFault, OpticalSimConnector, SimOptical};
use kamscope::protocol::han::Scaling;
use kamscope::protocol::iec_session::ReadoutOptions;
use kamscope::task::han::{self, HanConfig};
use kamscope::task::optical::{self, OpticalReplay};
use kamscope::tui::{Environment, HanTask, Optical, run_loop};
use kamscope::wire::{Direction, HanCommand, Link, OpticalEvent, SharedRecorder};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What a span looks like wherever it is shown.
type Key = (Link, Direction, u64, Vec<u8>, bool);

fn key(s: &LoggedSpan) -> Key {
    (s.link, s.dir, s.offset, s.bytes.to_vec(), s.ok)
}

fn app() -> App {
    let now = FixedOffset::east_opt(0)
        .unwrap()
        .with_ymd_and_hms(2024, 1, 1, 0, 0, 0)
        .unwrap();
    App::new("test".into(), Scaling::default(), None, now, 0)
}

struct NoFiles;

impl Environment for NoFiles {
    fn now(&self) -> chrono::DateTime<FixedOffset> {
        chrono::Local::now().fixed_offset()
    }

    fn write_new_file(&mut self, _: &Path, _: &str) -> std::io::Result<()> {
        Err(std::io::Error::other("no files in this test"))
    }
}

/// A live session: HAN pushes, an optical readout in the middle, more pushes, all recorded.
/// Returns the app that saw it (its counters and Inspector).
async fn record_live(path: &Path) -> App {
    let recorder: SharedRecorder = Arc::new(Mutex::new(Recorder::create(path).unwrap()));
    let energy = demo_energy();
    let mut sim = SimConnector::new(MeterProfile::ThreePhase, false, 50.0);
    sim.energy = Some(energy.clone());
    let cfg = HanConfig {
        recorder: Some(recorder.clone()),
        ..HanConfig::default()
    };
    let (mut han_events, commands) = han::spawn(Box::new(sim), cfg);
    let mut app = app();
    let good = |app: &App| app.stats.good;
    // Two pushes, then the readout while pushes keep coming, then two more.
    while good(&app) < 2 {
        app.on_han(han_events.recv().await.unwrap());
    }
    let head = OpticalSimConnector {
        sim: SimOptical::new(IecMeter::Combi351, true, OpticalFault::None, energy),
        speed: 50.0,
    };
    let (mut readout, _cancel) = optical::spawn(
        Arc::new(head),
        ReadoutOptions::default(),
        Some(recorder.clone()),
    );
    let mut done = false;
    while !done {
        tokio::select! {
            e = han_events.recv() => app.on_han(e.unwrap()),
            e = readout.recv() => match e {
                Some(e @ OpticalEvent::Done(_)) => {
                    app.on_optical(e);
                    done = true;
                }
                Some(e) => app.on_optical(e),
                None => panic!("the readout ended without a result"),
            },
        }
    }
    let target = good(&app) + 2;
    while good(&app) < target {
        app.on_han(han_events.recv().await.unwrap());
    }
    // Stop right after a whole push: the next is 200 ms away.
    commands.send(HanCommand::Stop).await.unwrap();
    while let Some(e) = han_events.recv().await {
        app.on_han(e);
    }
    app
}

/// The recording replayed through the app's own loop (the HAN reader on the replay, the optical
/// line through [`OpticalReplay`]), until it has played.
async fn replay(path: &Path) -> App {
    let mut connector =
        ReplayConnector::new(PathBuf::from(path), ReplaySource::load(path).unwrap(), 5.0);
    let chunks = connector.optical_chunks();
    let (events, commands) = han::spawn(Box::new(connector), HanConfig::default());
    let optical = Optical {
        replay: Some(OpticalReplay {
            chunks,
            speed: 5.0,
            recorder: None,
        }),
        ..Optical::default()
    };
    let mut app = app();
    let mut terminal = Terminal::new(TestBackend::new(120, 40)).unwrap();
    // The live session lasted about two seconds: the replay at x5 well under one.
    run_loop(
        &mut terminal,
        &mut app,
        futures_util::stream::pending(),
        HanTask { events, commands },
        optical,
        &mut NoFiles,
        tokio::time::sleep(Duration::from_secs(3)),
    )
    .await
    .unwrap();
    app
}

fn spans_of(app: &App, link: Link) -> Vec<Key> {
    app.inspector
        .spans
        .iter()
        .filter(|s| s.link == link)
        .map(key)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_with_a_readout_decodes_clean_and_replays_as_live() {
    let dir = std::env::temp_dir().join(format!("kamscope-replay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("session.jsonl");
    let live = record_live(&path).await;
    let live_optical = spans_of(&live, Link::Optical);
    assert!(
        live_optical.iter().any(|k| k.1 == Direction::Tx)
            && live_optical.iter().filter(|k| k.1 == Direction::Rx).count() >= 3,
        "request, echo, identification and data block: {live_optical:?}"
    );
    assert_eq!(live.stats.bad(), 0);

    // decode: each line through its own framer, nothing bad, no junk.
    let out = Command::new(env!("CARGO_BIN_EXE_kamscope"))
        .args(["decode", "--summary"])
        .arg(&path)
        .env("KAMSCOPE_CONFIG", dir.join("none.toml"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["bad"], 0, "{summary}");
    assert_eq!(summary["junk_bytes"], 0, "{summary}");
    assert_eq!(summary["hdlc"], live.stats.good, "{summary}");
    // The meter's side of the readout: echo, identification, data block.
    assert_eq!(summary["iec61107"], 3, "{summary}");

    // The replay: the same spans on both lines, the same counters.
    let replayed = replay(&path).await;
    assert_eq!(spans_of(&replayed, Link::Han), spans_of(&live, Link::Han));
    assert_eq!(spans_of(&replayed, Link::Optical), live_optical);
    let counters = |a: &App| {
        let s = &a.stats;
        (
            s.bytes,
            s.good,
            s.hcs_bad,
            s.fcs_bad,
            s.length_bad,
            s.other_bad,
            s.junk_bytes,
        )
    };
    assert_eq!(counters(&replayed), counters(&live));
    std::fs::remove_dir_all(&dir).ok();
}
