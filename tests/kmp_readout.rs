//! The KMP readout end to end: the task against the in-process simulated 685-382, and
//! `kamscope read --protocol kmp` through a pseudo-terminal against `kamscope sim --pty --kmp`,
//! checked against the IEC 61107 readout of the same simulated meter.

use kamscope::link::sim_kmp::{KmpSimConnector, SimKmp};
use kamscope::protocol::kmp::Variant;
use kamscope::protocol::kmp_session::{KmpOptions, Verdict};
use kamscope::task::kmp;
use kamscope::wire::kmp::{KmpEvent, KmpResult};
use kamscope::wire::{Direction, SpanRecord};
use serde_json::Value;
use std::process::Output;

mod common;
use common::{command, sim_pty};
use std::sync::{Arc, Mutex};
use std::time::Duration;

async fn read_sim(echo: bool) -> (KmpResult, Vec<SpanRecord>) {
    let energy = Arc::new(Mutex::new([12_345_678.0, 0.0, 0.0, 0.0]));
    let connector = KmpSimConnector {
        sim: SimKmp::new(echo, energy),
        speed: 50.0,
    };
    let options = KmpOptions {
        answer_timeout: 400,
        ..KmpOptions::new(Variant::AsciiHex)
    };
    let (mut events, _cancel) = kmp::spawn(Arc::new(connector), options, None);
    let mut spans = Vec::new();
    loop {
        match tokio::time::timeout(Duration::from_secs(20), events.recv())
            .await
            .unwrap()
        {
            Some(KmpEvent::Done(r)) => return (*r, spans),
            Some(KmpEvent::Span(s)) => spans.push(*s),
            Some(_) => {}
            None => panic!("readout task ended without a result"),
        }
    }
}

fn value_of(r: &KmpResult, name: &str) -> Option<f64> {
    r.registers.iter().find(|x| x.name == name)?.value()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_task_reads_the_simulated_685_382_and_marks_the_heads_echo() {
    for echo in [false, true] {
        let (r, spans) = read_sim(echo).await;
        assert_eq!(
            r.verdict,
            Verdict::Complete { answers: 5 },
            "{}",
            r.verdict.describe()
        );
        assert_eq!(r.echo_seen, echo);
        assert_eq!(value_of(&r, "Total energy"), Some(12_345.0));
        assert_eq!(value_of(&r, "Energy tariff 1"), Some(12_333.0));
        assert_eq!(value_of(&r, "Energy tariff 2"), Some(12.0));
        let tx = spans.iter().filter(|s| s.dir == Direction::Tx).count();
        let echoes = spans
            .iter()
            .filter(|s| s.dir == Direction::Rx && s.decoded.echo())
            .count();
        assert_eq!(tx, 5);
        assert_eq!(echoes, if echo { 5 } else { 0 });
        assert!(spans.iter().all(SpanRecord::ok));
    }
}

fn read(sim_args: &[&str], read_args: &[&str]) -> Output {
    let (mut sim, path) = sim_pty(&[&["--speed", "20"], sim_args].concat());
    let out = command()
        .args(["read", "--port", &path])
        .args(read_args)
        .output()
        .unwrap();
    sim.kill().ok();
    sim.wait().ok();
    out
}

fn field(fields: &Value, key: &str, wanted: &str) -> f64 {
    fields
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f[key] == wanted)
        .and_then(|f| {
            f["value"]
                .as_f64()
                .or_else(|| f["raw"].as_str()?.parse().ok())
        })
        .unwrap_or_else(|| panic!("no {wanted} in {fields:#}"))
}

#[test]
fn kmp_and_iec_readouts_of_the_simulated_meter_agree() {
    let kmp = read(&["--kmp"], &["--protocol", "kmp", "--format", "json"]);
    assert_eq!(
        kmp.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&kmp.stderr)
    );
    let kmp: Value = serde_json::from_slice(&kmp.stdout).unwrap();
    assert_eq!(kmp["protocol"], "kmp");
    assert_eq!(kmp["verdict"], "complete");
    assert!(
        kmp["spans"].as_array().unwrap().len() >= 10,
        "requests and answers"
    );
    let iec = read(&["--iec-meter", "685-382"], &["--format", "json"]);
    assert_eq!(
        iec.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&iec.stderr)
    );
    let iec: Value = serde_json::from_slice(&iec.stdout).unwrap();
    // Each `sim --pty` starts from the demo meter's registers, and neither side's energy runs
    // while only the optical port is played: the two readouts must agree exactly.
    let k = &kmp["registers"];
    let i = &iec["fields"];
    assert_eq!(field(k, "name", "Total energy"), field(i, "obis", "1.20"));
    assert_eq!(
        field(k, "name", "Energy tariff 1"),
        field(i, "obis", "1.20.1")
    );
    assert_eq!(
        field(k, "name", "Energy tariff 2"),
        field(i, "obis", "1.20.2")
    );
    assert_eq!(
        field(k, "name", "Operating hours"),
        field(i, "obis", "1.31")
    );
    assert!(field(k, "name", "Total energy") > 1000.0);

    let text = read(&["--kmp"], &["--protocol", "kmp"]);
    assert_eq!(text.status.code(), Some(0));
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.starts_with("verdict  complete"), "{text}");
    let total = text.lines().find(|l| l.contains("Total energy")).unwrap();
    assert!(total.ends_with("kWh"), "{total}");
}

#[test]
fn a_meter_that_does_not_speak_kmp_gives_exit_code_2_and_one_sentence() {
    // The IEC side of the simulator ignores KMP requests.
    let out = read(&["--iec-meter", "685-382"], &["--protocol", "kmp"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8(out.stderr).unwrap();
    let last = err.trim_end().lines().last().unwrap();
    assert!(last.contains("no answer after 3 attempts"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}
