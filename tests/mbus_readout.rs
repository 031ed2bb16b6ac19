//! `kamscope read --protocol mbus` against `kamscope sim --pty --mbus` over a real
//! pseudo-terminal: primary and secondary addressing, a scan, the level converter's echo, and a
//! meter that is not there. Plus: no bytes, in any chunks and at any times, panic the session.

use kamscope::link::sim::demo_energy;
use kamscope::link::sim_mbus::SimMbus;
use kamscope::protocol::mbus::session::{MbusOptions, MbusSession, SecondaryAddress, Target};
use kamscope::protocol::mbus::slave::Slave;
use proptest::prelude::*;
use std::process::{Child, Output};

mod common;
use common::{command, sim_pty};

/// A simulated M-Bus module on a pseudo-terminal; killed when dropped.
struct Sim {
    child: Child,
    path: String,
}

impl Sim {
    fn start(args: &[&str]) -> Sim {
        let (child, path) = sim_pty(&[&["--mbus", "--speed", "4"], args].concat());
        Sim { child, path }
    }

    fn read(&self, args: &[&str]) -> Output {
        command()
            .args(["read", "--protocol", "mbus", "--port", &self.path])
            .args(args)
            .output()
            .unwrap()
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The energy registers of the datasheet's standard telegram, with their units; the values
/// are the simulated meter's starting registers (the same the HAN and optical ports show).
fn assert_energy_registers(stdout: &str) {
    assert!(
        stdout.starts_with("verdict  complete: 2 telegrams"),
        "{stdout}"
    );
    for (name, value, unit) in [
        ("Energy ", "12345678", "Wh"),
        ("Energy, negative contributions only", "234567", "Wh"),
        ("Reactive energy ", "1234567", "varh"),
        (
            "Reactive energy, negative contributions only",
            "345678",
            "varh",
        ),
        ("Energy (tariff 1)", "7407406", "Wh"),
        ("Date and time", "", ""),
        ("On time", "23417", "h"),
    ] {
        let line = stdout
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("no {name:?} in {stdout}"));
        assert!(
            line.contains(value) && line.trim_end().ends_with(unit),
            "{line}"
        );
    }
}

#[test]
fn primary_address_reads_both_telegrams_and_a_wrong_one_gets_no_answer() {
    let sim = Sim::start(&["--mbus-address", "5"]);
    let out = sim.read(&["--address", "5"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_energy_registers(&text(&out.stdout));

    let out = sim.read(&["--address", "6"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    let last = stderr.lines().last().unwrap();
    assert!(
        last.starts_with("kamscope: no answer to the reset (SND_NKE) after 3 attempts:"),
        "{stderr}"
    );
    assert_eq!(last.matches(". ").count(), 0, "one sentence: {last}");

    // 254: whichever one meter is on the bus.
    let out = sim.read(&["--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["protocol"], "mbus");
    assert_eq!(v["verdict"], "complete");
    assert_eq!(v["target"], "primary address 254 (any one meter)");
    let telegrams = v["telegrams"].as_array().unwrap();
    assert_eq!(telegrams.len(), 2);
    assert_eq!(telegrams[0]["protocol"], "mbus");
    assert_eq!(telegrams[0]["ok"], true);
    assert_eq!(telegrams[0]["details"]["mbus"]["address"], 5);
    assert_eq!(telegrams[0]["fields"][0]["value"], 12345678.0);
    assert_eq!(telegrams[0]["fields"][0]["unit"], "Wh");
    assert!(v.get("meters").is_none());
}

#[test]
fn secondary_address_and_scan() {
    let sim = Sim::start(&["--mbus-secondary", "12345678"]);
    let out = sim.read(&["--secondary", "12345678"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_energy_registers(&text(&out.stdout));

    let out = sim.read(&["--secondary", "1234567F"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "a wildcard digit selects it too"
    );

    let out = sim.read(&["--secondary", "87654321"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no answer to the select by secondary address after 3 attempts")
    );

    let out = sim.read(&["--scan"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_eq!(
        stdout,
        "verdict  scan complete: 1 meter found\nprimary   0  secondary 12345678  KAM  version 1  electricity (0x02)\n"
    );
    let out = sim.read(&["--scan", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["meters"][0]["id"], "12345678");
    assert_eq!(v["meters"][0]["primary"], 0);
    assert_eq!(v["meters"][0]["medium_name"], "electricity");
}

#[test]
fn the_level_converters_echo_is_dropped_and_marked() {
    let sim = Sim::start(&["--mbus-address", "7", "--echo"]);
    let out = sim.read(&["--address", "7", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["echo"], true);
    assert_eq!(v["telegrams"].as_array().unwrap().len(), 2);
    assert_ne!(
        v["telegrams"][0]["echo"], true,
        "the telegrams are the meter's"
    );
}

#[test]
fn bad_options_are_one_sentence() {
    for (args, want) in [
        (&["--address", "251"][..], "is not an M-Bus primary address"),
        (
            &["--address", "1", "--scan"][..],
            "give one of --address, --secondary and --scan",
        ),
        (&["--secondary", "12AB5678"][..], "not a secondary address"),
    ] {
        let out = command()
            .args(["read", "--protocol", "mbus", "--port", "/dev/null"])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            text(&out.stderr).contains(want),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    let out = command()
        .args(["read", "--port", "/dev/null", "--scan"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("add --protocol mbus"));
}

fn kam(primary: u8, id: u32) -> Slave {
    Slave::new(SimMbus::new(primary, id, false, demo_energy()).identity())
}

proptest! {
    /// Arbitrary answers, chunked and timed arbitrarily, never panic the session, and it always
    /// ends once time runs past its deadlines.
    #[test]
    fn arbitrary_bytes_never_panic_the_session(
        target in prop_oneof![
            (0u8..=255).prop_map(Target::Primary),
            Just(Target::Secondary(SecondaryAddress::parse("1234FFFF").unwrap())),
            Just(Target::Scan),
        ],
        chunks in prop::collection::vec(
            (prop::collection::vec(any::<u8>(), 0..40), 0u64..3000),
            0..30,
        ),
    ) {
        let mut s = MbusSession::new(MbusOptions::for_baud(target, 2400), 0);
        s.start(0);
        let mut now = 0;
        for (bytes, dt) in chunks {
            now += dt;
            s.on_bytes(&bytes, now);
            s.on_tick(now);
            let _ = s.deadline();
        }
        // With silence, every path ends (a scan has at most 10 probes a digit, 8 digits).
        for _ in 0..10_000 {
            match s.deadline() {
                Some(d) => {
                    now = d.max(now);
                    s.on_tick(now);
                }
                None => break,
            }
        }
        prop_assert!(s.done().is_some());
    }

    /// A slave given any bytes as a frame never panics and answers nothing a master did not ask.
    #[test]
    fn arbitrary_frames_never_panic_a_slave(frame in prop::collection::vec(any::<u8>(), 0..30)) {
        let mut slave = kam(5, 12345678);
        let reply = slave.on_frame(&frame, 2);
        let bytes = slave.reply_bytes(reply, |_| vec![0x04, 0x03, 0, 0, 0, 0]);
        prop_assert!(bytes.is_empty() || bytes == [0xE5] || bytes[0] == 0x68);
    }
}

/// The task over an in-process bus with an echoing converter: every byte both ways reaches the
/// inspector as spans, the echoes marked, and the result holds the meter's two telegrams.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_task_frames_both_ways_and_marks_the_echo() {
    use kamscope::link::sim_mbus::MbusSimConnector;
    use kamscope::wire::{Direction, MbusEvent};
    let connector = MbusSimConnector {
        sim: SimMbus::new(3, 12345678, true, demo_energy()),
        speed: 20.0,
    };
    let options = MbusOptions::for_baud(Target::Primary(3), 2400);
    let (mut events, _cancel) =
        kamscope::task::mbus::spawn(std::sync::Arc::new(connector), options, None);
    let mut spans = Vec::new();
    let result = loop {
        match tokio::time::timeout(std::time::Duration::from_secs(20), events.recv())
            .await
            .unwrap()
        {
            Some(MbusEvent::Done(r)) => break r,
            Some(MbusEvent::Span(s)) => spans.push(s),
            Some(_) => {}
            None => panic!("the task ended without a result"),
        }
    };
    assert!(result.verdict.ok(), "{:?}", result.verdict);
    assert!(result.echo_seen);
    assert_eq!(result.telegrams.len(), 2);
    assert!(result.telegrams.iter().all(|t| t.ok() && !t.decoded.echo()));
    let sent = spans.iter().filter(|s| s.dir == Direction::Tx).count();
    let echoes = spans
        .iter()
        .filter(|s| s.dir == Direction::Rx && s.decoded.echo())
        .count();
    assert_eq!(
        (sent, echoes),
        (3, 3),
        "SND_NKE and two REQ_UD2, each echoed"
    );
    // Every byte received is in a span: the three echoes, the E5 and the two telegrams.
    let received: usize = spans
        .iter()
        .filter(|s| s.dir == Direction::Rx)
        .map(|s| s.bytes.len())
        .sum();
    let telegram_bytes: usize = result.telegrams.iter().map(|t| t.bytes.len()).sum();
    assert_eq!(received, 3 * 5 + 1 + telegram_bytes);
}
