//! A recorded KMP or M-Bus readout, decoded: the readout line frames every readout protocol, so
//! `kamscope decode` of the recording shows each answer as a good frame, with no junk.

use kamscope::link::record::Recorder;
use kamscope::link::sim_kmp::{KmpSimConnector, SimKmp};
use kamscope::link::sim_mbus::{MbusSimConnector, SimMbus};
use kamscope::protocol::kmp::Variant;
use kamscope::protocol::kmp_session::KmpOptions;
use kamscope::protocol::mbus::session::{MbusOptions, Target};
use kamscope::task::optical::{ReadoutSplit, readout_pipeline};
use kamscope::wire::capture::CaptureLine;
use kamscope::wire::{Direction, SharedRecorder};
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn energy() -> Arc<Mutex<[f64; 4]>> {
    Arc::new(Mutex::new([12_345_678.0, 0.0, 0.0, 0.0]))
}

/// Runs until the event channel closes (the task sent its result and ended).
async fn drain<E>(mut events: tokio::sync::mpsc::Receiver<E>) {
    while tokio::time::timeout(Duration::from_secs(20), events.recv())
        .await
        .expect("the readout finishes")
        .is_some()
    {}
}

async fn record_kmp(recorder: SharedRecorder) {
    let connector = KmpSimConnector {
        sim: SimKmp::new(true, energy()),
        speed: 50.0,
    };
    let options = KmpOptions {
        answer_timeout: 400,
        ..KmpOptions::new(Variant::AsciiHex)
    };
    let (events, _cancel) =
        kamscope::task::kmp::spawn(Arc::new(connector), options, Some(recorder));
    drain(events).await;
}

async fn record_mbus(recorder: SharedRecorder) {
    let connector = MbusSimConnector {
        sim: SimMbus::new(3, 12345678, true, energy()),
        speed: 20.0,
    };
    let options = MbusOptions::for_baud(Target::Primary(3), 2400);
    let (events, _cancel) =
        kamscope::task::mbus::spawn(Arc::new(connector), options, Some(recorder));
    drain(events).await;
}

fn recorder(path: &Path) -> SharedRecorder {
    Arc::new(Mutex::new(Recorder::create(path).unwrap()))
}

/// The recording's optical chunks through the readout line's pipeline, split as decode does:
/// (direction, bytes, protocol, good) of every span.
fn spans_of(path: &Path) -> Vec<(Direction, usize, &'static str, bool)> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut split = ReadoutSplit::default();
    let mut pipeline = readout_pipeline(None);
    let mut out = Vec::new();
    let mut keep = |spans: Vec<kamscope::wire::SpanRecord>, split: &mut ReadoutSplit| {
        for s in spans {
            split.note(s.dir, &s.content);
            out.push((s.dir, s.bytes.len(), s.content.protocol().name(), s.ok()));
        }
    };
    for line in text.lines() {
        let Ok(CaptureLine::Chunk(chunk)) = CaptureLine::parse(line) else {
            continue;
        };
        if split.starts_readout(&chunk) {
            let mut done = std::mem::replace(&mut pipeline, readout_pipeline(None));
            keep(done.flush_records(chunk.t), &mut split);
        }
        let (spans, _) = pipeline.records_of(&chunk);
        keep(spans, &mut split);
    }
    keep(pipeline.flush_records(chrono::Utc::now()), &mut split);
    out
}

fn decode_json(path: &Path) -> Vec<Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_kamscope"))
        .args(["decode", "--format", "json"])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn recorded_bytes(path: &Path, dir: &str) -> usize {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["dir"] == dir)
        .map(|v| v["hex"].as_str().unwrap().len() / 2)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_kmp_and_mbus_readouts_decode_without_junk() {
    let dir = std::env::temp_dir().join(format!("kamscope-readout-rec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, protocol) in [("kmp.jsonl", "kmp"), ("mbus.jsonl", "mbus")] {
        let path = dir.join(name);
        let _ = std::fs::remove_file(&path);
        match protocol {
            "kmp" => record_kmp(recorder(&path)).await,
            _ => record_mbus(recorder(&path)).await,
        }
        // Every byte both ways in a good frame of the readout's protocol.
        let spans = spans_of(&path);
        assert!(!spans.is_empty(), "{name}: nothing recorded");
        for s in &spans {
            assert_eq!((s.2, s.3), (protocol, true), "{name}: {spans:?}");
        }
        for (d, tag) in [(Direction::Tx, "tx"), (Direction::Rx, "rx")] {
            let framed: usize = spans.iter().filter(|s| s.0 == d).map(|s| s.1).sum();
            assert_eq!(framed, recorded_bytes(&path, tag), "{name} {tag}");
        }
        // `decode` shows the meter's side: the same good frames, no junk.
        let decoded = decode_json(&path);
        let rx_frames = spans.iter().filter(|s| s.0 == Direction::Rx).count();
        assert_eq!(decoded.len(), rx_frames, "{name}: {decoded:?}");
        for d in &decoded {
            assert_eq!(d["protocol"], protocol, "{name}: {d}");
            assert_eq!(d["ok"], true, "{name}: {d}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
