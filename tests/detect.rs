//! Line-setting detection on a modelled serial line: a meter's pushes sent at its own settings,
//! received at each setting kamscope tries (a pseudo-terminal ignores line settings, so the
//! bit-level UART model stands in for the adapter), judged and chosen.

mod common;

use chrono::Utc;
use kamscope::protocol::han::sample_stream;
use kamscope::protocol::uart::{self, Delivery, Line, LineFormat};
use kamscope::wire::detect::{CANDIDATES, Reading, Verdict, choose, judge};
use kamscope::wire::line::{Parity, SerialSettings};
use proptest::prelude::*;

fn format(s: SerialSettings) -> LineFormat {
    LineFormat {
        baud: s.baud,
        data_bits: s.data_bits,
        parity: match s.parity {
            Parity::None => uart::Parity::None,
            Parity::Even => uart::Parity::Even,
            Parity::Odd => uart::Parity::Odd,
        },
        stop_bits: s.stop_bits,
    }
}

/// A meter pushing `frames` at `sent`: each frame's bytes back to back, then a quiet second.
fn pushes(sent: SerialSettings, frames: &[Vec<u8>]) -> Line {
    let mut line = Line::new(sent.baud);
    line.idle(sent.baud as usize);
    for frame in frames {
        line.send(format(sent), frame);
        line.idle(sent.baud as usize);
    }
    line
}

/// What a port at `setting` reads: bytes with a parity or framing error come as tokio-serial
/// sets the port up (`INPCK` with parity: a 0x00 in their place; without parity the line is raw
/// and `delivery_without_parity` says what the adapter does).
fn read_at(line: &Line, setting: SerialSettings, delivery_without_parity: Delivery) -> Vec<u8> {
    let delivery = match setting.parity {
        Parity::None => delivery_without_parity,
        _ => Delivery::Zeroed,
    };
    uart::read(line, format(setting), delivery)
}

fn judged(line: &Line, delivery_without_parity: Delivery) -> Vec<Verdict> {
    CANDIDATES
        .iter()
        .map(|&s| judge(s, Utc::now(), &read_at(line, s, delivery_without_parity)))
        .collect()
}

/// Kamstrup's frames, one per push.
fn kamstrup_frames(n: usize) -> Vec<Vec<u8>> {
    let stream = sample_stream(n);
    let mut frames = Vec::new();
    let mut at = 0;
    while at < stream.len() {
        let len = usize::from(u16::from_be_bytes([stream[at + 1], stream[at + 2]]) & 0x7ff) + 2;
        frames.push(stream[at..at + len].to_vec());
        at += len;
    }
    frames
}

#[test]
fn kamstrup_8n1_is_found_and_8e1_is_not_taken_for_it() {
    let frames = kamstrup_frames(3);
    for delivery in [Delivery::AsSampled, Delivery::Dropped] {
        let line = pushes(SerialSettings::HAN, &frames);
        let verdicts = judged(&line, delivery);
        for v in &verdicts {
            println!("{v}");
        }
        assert_eq!(verdicts[0].good_frames, 3, "{}", verdicts[0]);
        assert_eq!(verdicts[0].junk_bytes, 0);
        // 2400 8E1 hears the stop bit as parity and the next start bit as stop, and loses
        // step: no frame survives.
        assert_eq!(verdicts[1].settings.to_string(), "2400 8E1");
        assert_ne!(
            verdicts[1].reading(),
            Reading::GoodFrames,
            "{}",
            verdicts[1]
        );
        assert!(verdicts[1].bytes > 0);
        // Faster receivers cut every bit in the wrong place.
        for v in &verdicts[2..] {
            assert_eq!(v.reading(), Reading::NoFrames, "{v}");
            assert!(
                v.to_string().ends_with("no frames: wrong speed or parity"),
                "{v}"
            );
        }
        assert_eq!(choose(&verdicts).unwrap().settings, SerialSettings::HAN);
    }
}

#[test]
fn aidon_8e1_is_found() {
    let frames: Vec<Vec<u8>> = [
        "aidon-list-1p.hex",
        "aidon-se-3p.hex",
        "aidon-no-hourly.hex",
    ]
    .iter()
    .map(|name| common::fixture(name))
    .collect();
    let line = pushes(CANDIDATES[1], &frames);
    // An adapter that drops bytes with a framing error (a 16550 with IGNPAR) loses every byte
    // whose even parity bit is 0 at 8N1.
    let verdicts = judged(&line, Delivery::Dropped);
    for v in &verdicts {
        println!("{v}");
    }
    assert_eq!(verdicts[0].good_frames, 0, "{}", verdicts[0]);
    assert_eq!(verdicts[1].good_frames, 3, "{}", verdicts[1]);
    assert_eq!(choose(&verdicts).unwrap().settings, CANDIDATES[1]);

    // A raw USB adapter passes those bytes as sampled: 8N1 reads the frames intact too (the
    // parity bit is taken for the stop bit), and it is tried first, so it is chosen; the
    // frames are whole at it, so that is no lie.
    let verdicts = judged(&line, Delivery::AsSampled);
    assert_eq!(verdicts[0].good_frames, 3, "{}", verdicts[0]);
    assert_eq!(choose(&verdicts).unwrap().settings, SerialSettings::HAN);
}

#[test]
fn a_p1_meter_at_115200_is_not_heard_at_2400() {
    let line = pushes(SerialSettings::P1, &kamstrup_frames(2));
    let verdicts = judged(&line, Delivery::AsSampled);
    for v in &verdicts {
        println!("{v}");
    }
    assert_eq!(verdicts[3].good_frames, 2);
    for v in &verdicts[..3] {
        assert_ne!(v.reading(), Reading::GoodFrames, "{v}");
    }
    assert_eq!(choose(&verdicts).unwrap().settings, SerialSettings::P1);
}

#[test]
fn a_quiet_line_is_nothing_at_every_setting() {
    let mut line = Line::new(2400);
    line.idle(24_000);
    let verdicts = judged(&line, Delivery::AsSampled);
    assert!(verdicts.iter().all(|v| v.reading() == Reading::Nothing));
    assert_eq!(choose(&verdicts), None);
}

fn arb_format() -> impl Strategy<Value = LineFormat> {
    (
        prop::sample::select(vec![300u32, 1200, 2400, 9600, 115_200]),
        5u8..=8,
        prop::sample::select(vec![
            uart::Parity::None,
            uart::Parity::Even,
            uart::Parity::Odd,
        ]),
        1u8..=2,
    )
        .prop_map(|(baud, data_bits, parity, stop_bits)| LineFormat {
            baud,
            data_bits,
            parity,
            stop_bits,
        })
}

proptest! {
    /// Same settings at both ends: every byte comes through, without an error, whatever the
    /// gaps between bursts.
    #[test]
    fn same_settings_round_trip(
        format in arb_format(),
        bursts in prop::collection::vec((prop::collection::vec(any::<u8>(), 0..40), 0usize..20), 0..6),
    ) {
        let mut line = Line::new(format.baud);
        let mut sent = Vec::new();
        for (bytes, gap) in &bursts {
            line.send(format, bytes);
            line.idle(*gap);
            let mask = ((1u16 << format.data_bits) - 1) as u8;
            sent.extend(bytes.iter().map(|b| b & mask));
        }
        let received = uart::receive(&line, format);
        prop_assert!(received.iter().all(|b| !b.error()));
        let values: Vec<u8> = received.iter().map(|b| b.value).collect();
        prop_assert_eq!(values, sent);
    }
}

/// The real path over a pseudo-terminal: the simulated meter ignores line settings, so the first
/// setting tried gives good frames, and is chosen and said.
#[test]
fn decode_detects_on_the_simulated_meter() {
    let (mut sim, path) = common::sim_pty(&["--speed", "10"]);
    let out = common::command()
        .args([
            "decode",
            "--port",
            &path,
            "--detect",
            "--detect-seconds",
            "8",
        ])
        .args(["--count", "1", "--summary"])
        .output()
        .unwrap();
    sim.kill().ok();
    sim.wait().ok();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(
        lines[0].starts_with("kamscope: trying 2400 8N1 ... ")
            && lines[0].ends_with(" good frames: this one"),
        "{stderr}"
    );
    assert_eq!(
        lines[1],
        "kamscope: 2400 8N1 gives good frames; use --baud 2400 --parity none next time"
    );
    assert_eq!(lines[2], format!("kamscope: reading {path} 2400 8N1"));
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(summary.contains("\"good\":1"), "{summary}");
}

/// A port where nothing comes: every setting is tried and said, then one sentence and exit 2.
#[test]
fn a_silent_port_tries_every_setting_and_gives_up() {
    // The optical side of the simulated meter only answers requests: the line stays quiet.
    let (mut sim, path) = common::sim_pty(&["--iec-meter", "351"]);
    let out = common::command()
        .args([
            "decode",
            "--port",
            &path,
            "--detect",
            "--detect-seconds",
            "1",
        ])
        .output()
        .unwrap();
    sim.kill().ok();
    sim.wait().ok();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let expected: Vec<String> = CANDIDATES
        .iter()
        .map(|s| format!("kamscope: trying {s} ... 0 bytes: nothing came"))
        .chain([format!(
            "kamscope: no line setting gave good frames on {path}: nothing came at all (is the adapter on the meter's HAN port, and has the grid company opened the port?)"
        )])
        .collect();
    assert_eq!(stderr.lines().collect::<Vec<_>>(), expected);
    assert!(out.stdout.is_empty());
}

/// The app detects before it starts (here it then stops: the test has no terminal).
#[test]
fn the_app_detects_before_it_starts() {
    let (mut sim, path) = common::sim_pty(&["--speed", "10"]);
    let out = common::command()
        .args(["--port", &path, "--detect", "--detect-seconds", "8"])
        .output()
        .unwrap();
    sim.kill().ok();
    sim.wait().ok();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "kamscope: 2400 8N1 gives good frames; use --baud 2400 --parity none next time\n"
        ),
        "{stderr}"
    );
    assert!(stderr.ends_with("the app needs a terminal; for scripts use `kamscope decode`\n"));
}

#[test]
fn detect_needs_a_port_it_can_set() {
    let run = |args: &[&str]| {
        let out = common::command().args(args).output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    assert_eq!(
        run(&["decode", "--detect"]),
        (
            Some(2),
            "kamscope: --detect needs --port: it finds the line settings of a live port\n".into()
        )
    );
    assert_eq!(
        run(&["--demo", "--detect"]),
        (
            Some(2),
            "kamscope: --detect needs a HAN port: --port PATH, or one chosen in the port picker\n"
                .into()
        )
    );
    let (code, tcp) = run(&["decode", "--port", "tcp://127.0.0.1:9", "--detect"]);
    assert_eq!(code, Some(2));
    assert!(
        tcp.contains("a raw tcp:// bridge keeps its own settings"),
        "{tcp}"
    );
    let (code, both) = run(&[
        "decode",
        "--port",
        "/dev/null",
        "--detect",
        "--parity",
        "even",
    ]);
    assert_eq!(code, Some(2));
    assert!(both.contains("cannot be used with"), "{both}");
}
