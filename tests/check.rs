//! `kamscope check`: recordings built here from Kamstrup lists with known faults, judged by the
//! binary; the exit code, the failing check and its message, and the JSON document.

mod common;

use chrono::{DateTime, Duration, Timelike, Utc};
use common::command;
use kamscope::protocol::datetime::DateTime as CosemDateTime;
use kamscope::protocol::han::{KamstrupList, MissingPhases};
use kamscope::wire::{Chunk, Direction, Link};
use std::path::{Path, PathBuf};
use std::process::Output;

/// A 4-wire 3-phase Kamstrup meter drawing 2 kW evenly: U 230/231/232 V, I 2.90 A each.
fn healthy() -> KamstrupList {
    KamstrupList {
        meter_id: "5706567000000099".into(),
        meter_type: "6841131BN243101040".into(),
        time: CosemDateTime::new(2026, 1, 15, 12, 0, 0, 0),
        power: [2000, 0, 0, 0],
        currents: [Some(290), Some(290), Some(290)],
        voltages: [Some(230), Some(231), Some(232)],
        missing_phases: MissingPhases::NullPlaceholders,
        energies: None,
    }
}

/// A recording of four list 1 pushes, 10 s apart, the meter clock right (the tests run the
/// binary in UTC, so the meter's standard time is UTC).
fn recording(name: &str, list: &KamstrupList) -> PathBuf {
    let start: DateTime<Utc> = "2026-01-15T12:00:00Z".parse().unwrap();
    let mut text = String::new();
    for n in 0..4 {
        let t = start + Duration::seconds(10 * n);
        let mut push = list.clone();
        push.time = CosemDateTime::new(2026, 1, 15, 12, 0, t.second() as u8, 0);
        let mut bytes = Vec::new();
        push.encode_frame(&mut bytes).unwrap();
        let chunk = Chunk {
            t: t + Duration::milliseconds(300),
            link: Link::Han,
            dir: Direction::Rx,
            bytes,
        };
        text.push_str(&chunk.to_json_line());
        text.push('\n');
    }
    write(name, &text)
}

fn write(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kamscope-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn check(args: &[&str]) -> Output {
    command()
        .arg("check")
        .args(args)
        .env("TZ", "UTC")
        .output()
        .unwrap()
}

fn replay(path: &Path, args: &[&str]) -> Output {
    let mut all = vec!["--replay", path.to_str().unwrap()];
    all.extend(args);
    check(&all)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The lines of the table whose status is `fail`.
fn failing(o: &Output) -> Vec<String> {
    stdout(o)
        .lines()
        .filter(|l| l.starts_with("fail"))
        .map(str::to_string)
        .collect()
}

#[test]
fn a_healthy_site_passes() {
    let o = replay(&recording("healthy.jsonl", &healthy()), &[]);
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{text}");
    assert!(failing(&o).is_empty(), "{text}");
    for id in [
        "data", "identity", "network", "phases", "voltage", "current", "power", "clock",
    ] {
        assert!(
            text.lines()
                .any(|l| l.starts_with("pass") && l[6..].starts_with(id)),
            "{id} should pass:\n{text}"
        );
    }
    assert!(text.contains("4-wire"), "{text}");
    assert!(text.contains("meter clock matches the recording"), "{text}");
    assert!(text.lines().all(|l| l.chars().count() <= 80), "{text}");
    assert!(
        text.trim_end()
            .ends_with("verdict: pass (8 passed, 0 warnings, 0 failed, 4 skipped)"),
        "{text}"
    );
}

#[test]
fn a_healthy_one_phase_site_passes() {
    // A 1-phase meter (type 686-1...) drawing 1.5 kW: L2 and L3 sent as null placeholders, as
    // real 1-phase Kamstrup lists do; no phase is missing.
    let one_phase = KamstrupList {
        meter_type: "6861111BN242101040".into(),
        power: [1500, 0, 0, 0],
        currents: [Some(652), None, None],
        voltages: [Some(230), None, None],
        ..healthy()
    };
    let o = replay(&recording("healthy-1p.jsonl", &one_phase), &[]);
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{text}");
    assert!(failing(&o).is_empty(), "{text}");
    assert!(text.contains("1-phase"), "{text}");
    for id in ["phases", "voltage", "power"] {
        assert!(
            text.lines()
                .any(|l| l.starts_with("pass") && l[6..].starts_with(id)),
            "{id} should pass:\n{text}"
        );
    }
}

#[test]
fn a_missing_phase_fails_naming_it() {
    let mut list = healthy();
    list.voltages[1] = Some(0);
    let o = replay(&recording("l2-missing.jsonl", &list), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let fails = failing(&o);
    assert!(
        fails
            .iter()
            .any(|l| l.contains("phases") && l.contains("L2 missing")),
        "{fails:?}"
    );
    assert!(stdout(&o).contains("verdict: fail"));
}

#[test]
fn an_over_voltage_fails_naming_the_phase() {
    let mut list = healthy();
    list.voltages[2] = Some(262);
    let o = replay(&recording("l3-high.jsonl", &list), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let fails = failing(&o);
    assert_eq!(fails.len(), 1, "{fails:?}");
    assert!(
        fails[0].contains("voltage") && fails[0].contains("L3 over voltage: 262 V"),
        "{fails:?}"
    );
}

#[test]
fn currents_ten_times_too_large_fail_the_scaling() {
    let mut list = healthy();
    list.currents = [Some(2900); 3];
    let o = replay(&recording("scaling.jsonl", &list), &[]);
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    let fails = failing(&o);
    assert!(
        fails
            .iter()
            .any(|l| l.contains("power") && l.contains("scaling error")),
        "{text}"
    );
    // The currents are not judged against the fuse: they are not what they seem.
    assert!(
        text.lines()
            .any(|l| l.starts_with("skip") && l.contains("current")),
        "{text}"
    );
}

#[test]
fn the_fuse_comes_from_the_command_line() {
    let o = replay(&recording("fuse.jsonl", &healthy()), &["--fuse", "3"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let text = stdout(&o);
    assert!(
        text.lines()
            .any(|l| l.starts_with("warn") && l.contains("97 % of the 3 A main fuse")),
        "{text}"
    );
}

#[test]
fn list2_and_export_fail_only_when_asked_for() {
    let path = recording("no-list2.jsonl", &healthy());
    let o = replay(&path, &["--wait-list2", "--expect-export"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let fails = failing(&o);
    assert!(fails.iter().any(|l| l.contains("list2")), "{fails:?}");
    assert!(fails.iter().any(|l| l.contains("export")), "{fails:?}");
}

#[test]
fn the_report_of_a_healthy_site_holds_the_meter_and_a_chart_and_fetches_nothing() {
    let dir = std::env::temp_dir().join(format!("kamscope-check-report-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("site.html");
    // An existing file (or a link) at the path is replaced whole, never written through.
    let target = dir.join("elsewhere.txt");
    std::fs::write(&target, "keep me").unwrap();
    let _ = std::fs::remove_file(&page);
    std::os::unix::fs::symlink(&target, &page).unwrap();
    let o = replay(
        &recording("report.jsonl", &healthy()),
        &[
            "--report",
            page.to_str().unwrap(),
            "--site",
            "Storgata 1",
            "--installer",
            "Kari",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("5706567000000099"));
    assert!(html.contains("Storgata 1") && html.contains("Kari"));
    assert!(html.contains("<svg"));
    for external in ["http://", "https://", "src=", "<link", "@import", "<script"] {
        assert!(!html.contains(external), "{external}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn an_empty_recording_is_no_data_in_one_sentence() {
    let o = replay(&write("empty.jsonl", ""), &[]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("kamscope: ") && err.contains("empty.jsonl"),
        "{err}"
    );
    assert!(o.stdout.is_empty());
}

#[test]
fn a_recording_without_frames_is_no_data() {
    let chunk = Chunk {
        t: "2026-01-15T12:00:00Z".parse().unwrap(),
        link: Link::Han,
        dir: Direction::Rx,
        bytes: vec![0x55; 40],
    };
    let path = write("junk.jsonl", &format!("{}\n", chunk.to_json_line()));
    let o = replay(&path, &["--format", "json"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("no usable data"), "{err}");
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["verdict"], "no-data");
    assert_eq!(doc["frames"]["good"], 0);
}

#[test]
fn json_has_the_verdict_checks_meter_readings_frames_and_version() {
    let mut list = healthy();
    list.voltages[1] = Some(0);
    let o = replay(
        &recording("json.jsonl", &list),
        &[
            "--format",
            "json",
            "--site",
            "Storgata 1 <cellar>",
            "--installer",
            "Kari",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["verdict"], "fail");
    assert_eq!(doc["meter"]["id"], "5706567000000099");
    assert_eq!(doc["meter"]["type"], "6841131BN243101040");
    assert_eq!(doc["meter"]["wiring"], "4-wire");
    assert_eq!(doc["readings"]["voltage_v"][1], 0.0);
    assert_eq!(doc["readings"]["current_a"][0], 2.9);
    assert_eq!(doc["readings"]["power_import_w"], 2000.0);
    assert_eq!(doc["frames"]["good"], 3);
    assert_eq!(doc["frames"]["bad"], 0);
    assert_eq!(doc["frames"]["junk_bytes"], 0);
    assert_eq!(doc["frames"]["hcs_bad"], 0);
    assert_eq!(doc["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(doc["site"]["name"], "Storgata 1 <cellar>");
    assert_eq!(doc["site"]["installer"], "Kari");
    assert_eq!(doc["site"]["note"], serde_json::Value::Null);
    assert_eq!(doc["readings"]["readout"], serde_json::Value::Null);
    let events = doc["events"].as_array().unwrap();
    assert!(
        events
            .iter()
            .any(|e| e["text"] == "first good frame" && e["level"] == "ok"),
        "{events:?}"
    );
    let checks = doc["checks"].as_array().unwrap();
    let phases = checks.iter().find(|c| c["id"] == "phases").unwrap();
    assert_eq!(phases["status"], "fail");
    assert!(phases["message"].as_str().unwrap().contains("L2"));
    assert_eq!(phases["evidence"][0]["name"], "U");
    assert_eq!(phases["evidence"][0]["value"], 0.0);
}

#[test]
fn the_demo_passes_in_a_few_seconds() {
    let started = std::time::Instant::now();
    let o = check(&["--demo", "--speed", "10", "--duration", "5"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(started.elapsed() < std::time::Duration::from_secs(8));
    assert!(stdout(&o).contains("verdict: pass"));
}

#[test]
fn no_source_is_one_sentence() {
    let o = check(&[]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
#[cfg(unix)]
fn a_port_is_judged_after_three_pushes() {
    let (mut sim, path) = common::sim_pty(&["--speed", "20", "--meter", "ct"]);
    let started = std::time::Instant::now();
    let o = check(&["--port", &path, "--duration", "20"]);
    sim.kill().unwrap();
    sim.wait().unwrap();
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{text}");
    // Three pushes 0.5 s apart, not the 20 s at most.
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert!(text.contains("pushes decoded: 3/3"), "{text}");
    // A CT meter behind the default fuse: its currents are not judged.
    assert!(
        text.lines()
            .any(|l| l.starts_with("skip") && l.contains("current") && l.contains("CT meter")),
        "{text}"
    );
}

#[test]
fn a_port_that_cannot_be_opened_is_no_data() {
    let o = check(&["--port", "/dev/kamscope-no-such-port", "--duration", "10"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("/dev/kamscope-no-such-port"), "{err}");
}

#[test]
fn the_demo_with_its_optical_side_compares_the_energy() {
    let o = check(&[
        "--demo",
        "--optical",
        "--wait-list2",
        "--speed",
        "600",
        "--duration",
        "30",
    ]);
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("pass  readout") && l.contains("BCC good")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("pass  energy") && l.contains("agrees with HAN")),
        "{text}"
    );
}

#[test]
fn energy_registers_that_disagree_fail() {
    // The HAN side scaled 10x (energy scaler 2 where the meter sends 10 Wh steps): list 2's A+
    // is ten times the optical register.
    let dir = std::env::temp_dir().join(format!("kamscope-check-energy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("config.toml");
    std::fs::write(&config, "[scaling]\nenergy_scaler = 2\n").unwrap();
    let o = command()
        .args(["check", "--demo", "--optical", "--protocol", "mbus"])
        .args(["--wait-list2", "--speed", "600", "--duration", "30"])
        .env("KAMSCOPE_CONFIG", &config)
        .output()
        .unwrap();
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("fail  energy") && l.contains("DIFFERS from HAN")),
        "{text}"
    );
    assert!(text.contains("pass  readout"), "{text}");
}

#[test]
fn optical_needs_a_port_unless_demo() {
    let o = check(&["--port", "/dev/null", "--optical", "--duration", "1"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("--optical needs"), "{err}");
}

#[test]
#[cfg(unix)]
fn a_readout_with_a_bad_bcc_fails_the_check() {
    let (mut han, han_path) = common::sim_pty(&["--speed", "20"]);
    let (mut optical, optical_path) = common::sim_pty(&[
        "--iec-meter",
        "351",
        "--iec-fault",
        "bad-bcc",
        "--speed",
        "20",
    ]);
    let o = check(&[
        "--port",
        &han_path,
        "--optical",
        &optical_path,
        "--duration",
        "30",
    ]);
    for sim in [&mut han, &mut optical] {
        sim.kill().unwrap();
        sim.wait().unwrap();
    }
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("fail  readout") && l.contains("IEC 61107")),
        "{text}"
    );
    assert!(text.contains("pass  data"), "{text}");
}
