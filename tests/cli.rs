//! The `kamscope decode` command as a user and a script see it.

mod common;

use common::{command, sim_pty};
use std::io::Write;
use std::process::{Command, Output, Stdio};

fn kamscope(args: &[&str], stdin: Option<&[u8]>) -> Output {
    kamscope_with(args, stdin, &[])
}

fn kamscope_with(args: &[&str], stdin: Option<&[u8]>, env: &[(&str, &str)]) -> Output {
    let mut child = command()
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    // A command that fails before reading its input closes the pipe: that is its answer.
    if let Err(e) = input.write_all(stdin.unwrap_or_default()) {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    drop(input);
    child.wait_with_output().unwrap()
}

fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn json_lines_have_the_documented_keys() {
    let out = kamscope(
        &[
            "decode",
            "tests/fixtures/han/junk-after-frame.hex",
            "--format",
            "json",
        ],
        None,
    );
    assert!(out.status.success());
    let spans = json_lines(&out);
    assert_eq!(spans.len(), 2);
    let f = &spans[0];
    for key in [
        "offset",
        "len",
        "protocol",
        "ok",
        "checks",
        "hex",
        "time",
        "list",
        "meter_id",
        "meter_type",
        "ident",
        "fields",
    ] {
        assert!(f.get(key).is_some(), "missing {key}");
    }
    assert_eq!(f["protocol"], "hdlc");
    assert_eq!(f["ok"], true);
    assert_eq!(f["time"], "2024-10-30T17:32:00");
    assert_eq!(f["list"], "list1");
    let il1 = f["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["obis"] == "1.1.31.7.0.255")
        .unwrap();
    assert_eq!(
        (
            il1["raw"].as_i64(),
            il1["scaler"].as_i64(),
            il1["value"].as_f64(),
            il1["unit"].as_str()
        ),
        (Some(106), Some(-2), Some(1.06), Some("A"))
    );
    let names: Vec<_> = f["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect();
    for n in ["HCS", "FCS", "LLC", "length"] {
        assert!(names.contains(&n.to_string()), "{names:?}");
    }
    assert_eq!(spans[1]["protocol"], "junk");
    assert_eq!(spans[1]["offset"], 228);
    assert_eq!(spans[1]["hex"], "29121314");
}

#[test]
fn bcc_rule_in_json() {
    let out = kamscope(
        &[
            "decode",
            "tests/fixtures/iec61107/kamstrup-685-382-additive-bcc.bin",
            "--format",
            "json",
        ],
        None,
    );
    let spans = json_lines(&out);
    let bcc = spans[1]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "BCC")
        .unwrap()
        .clone();
    assert_eq!(bcc["rule"], "additive");
    assert_eq!(spans[1]["ident"], "685-382-OK-10");
    assert_eq!(spans[1]["fields"][1]["obis"], "1.20");
}

#[test]
fn summary_counts() {
    let mut stream = std::fs::read("tests/fixtures/han/kamstrup-no-list1-3p-2022.hex").unwrap();
    stream.extend(std::fs::read("tests/fixtures/han/bad-fcs.hex").unwrap());
    stream.extend(b"\n29 12 13\n");
    let out = kamscope(&["decode", "--summary"], Some(&stream));
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["bytes"], 228 * 2 + 3);
    assert_eq!(v["good"], 1);
    assert_eq!(v["bad"], 1);
    assert_eq!(v["junk_bytes"], 3);
    assert_eq!(v["hdlc"], 2);
    assert_eq!(v["protocols"]["hdlc"]["bad"], 1);
}

#[test]
fn energy_scaler_option() {
    let out = kamscope(
        &[
            "decode",
            "tests/fixtures/han/kamstrup-no-list2-3p.hex",
            "--format",
            "json",
            "--energy-scaler",
            "0",
        ],
        None,
    );
    let f = &json_lines(&out)[0];
    let a = f["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["obis"] == "1.1.1.8.0.255")
        .unwrap()
        .clone();
    assert_eq!(a["value"].as_f64(), Some(15523251.0));
}

#[test]
fn raw_bytes_on_stdin_and_text_output() {
    let bytes = std::fs::read("tests/fixtures/iec61107/kamstrup-351-seed-example.bin").unwrap();
    let out = kamscope(&["decode", "-"], Some(&bytes));
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("BCC ok (0x37) [xor]"), "{text}");
    assert!(text.contains("Active energy, tariff 1"));
}

#[test]
fn encrypted_frame_with_keys() {
    let out = kamscope(
        &[
            "decode",
            "tests/fixtures/han/kamstrup-dk-encrypted-glo.hex",
            "--format",
            "json",
            "--key",
            "00112233445566778899AABBCCDDEEFF",
            "--auth-key",
            "FFEEDDCCBBAA99887766554433221100",
        ],
        None,
    );
    let f = &json_lines(&out)[0];
    assert_eq!(f["details"]["cipher"]["decrypted"], true);
    assert_eq!(f["time"], "2026-03-12T15:24:30");
}

fn assert_user_error(out: &Output, needle: &str) {
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.contains(needle), "{err}");
    assert!(!err.contains("panicked") && !err.contains("backtrace"));
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    assert_user_error(
        &kamscope(&["decode", "no/such/file.hex"], None),
        "cannot read no/such/file.hex: No such file or directory",
    );
    assert_user_error(
        &kamscope(&["decode"], Some(b"7E A0 E")),
        "odd number of hex digits",
    );
    assert_user_error(&kamscope(&["decode", "tests"], None), "is a directory");
    assert_user_error(
        &kamscope(&["decode", "--input", "hex"], Some(b"7E XX")),
        "not a hex digit",
    );
    assert_user_error(
        &kamscope(&["decode", "--key", "1234"], Some(b"")),
        "--key must be 32 hex digits",
    );
    assert_eq!(
        kamscope(&["decode", "--format", "yaml"], None)
            .status
            .code(),
        Some(2)
    );
}

/// An empty capture is not a bad frame: it is said, and the exit code tells a script.
#[test]
fn empty_input_says_so() {
    assert_user_error(
        &kamscope(&["decode", "--summary"], Some(b"")),
        "no bytes in standard input",
    );
    let dir = temp_dir("empty");
    let empty = dir.join("empty.hex");
    std::fs::write(&empty, " \n\n").unwrap();
    assert_user_error(
        &kamscope(&["decode", empty.to_str().unwrap()], None),
        &format!("no bytes in {}", empty.display()),
    );
    assert_user_error(
        &kamscope(&["--replay", empty.to_str().unwrap()], None),
        &format!("no bytes in {}", empty.display()),
    );
    let events_only = dir.join("events.jsonl");
    std::fs::write(
        &events_only,
        "{\"t\":\"2024-05-01T10:00:00.000Z\",\"dir\":\"rx\",\"hex\":\"\"}\n\
         {\"t\":\"2024-05-01T10:00:01.000Z\",\"event\":\"link down: gone\"}\n",
    )
    .unwrap();
    assert_user_error(
        &kamscope(&["decode", events_only.to_str().unwrap()], None),
        "no bytes in",
    );
    std::fs::remove_dir_all(&dir).ok();
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("kamscope-cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn decodes_a_recording() {
    let frame =
        std::fs::read_to_string("tests/fixtures/han/kamstrup-no-list1-3p-2022.hex").unwrap();
    let hex: String = frame.split_whitespace().collect();
    let (a, b) = hex.split_at(100);
    let capture = format!(
        "{{\"t\":\"2024-05-01T10:00:00.000Z\",\"dir\":\"tx\",\"hex\":\"2F3F210D0A\"}}\n\
         {{\"t\":\"2024-05-01T10:00:00.100Z\",\"dir\":\"rx\",\"hex\":\"{a}\"}}\n\
         {{\"t\":\"2024-05-01T10:00:00.300Z\",\"dir\":\"rx\",\"hex\":\"{b}\"}}\n"
    );
    let out = kamscope(&["decode", "--format", "json"], Some(capture.as_bytes()));
    assert!(out.status.success(), "{out:?}");
    let spans = json_lines(&out);
    assert_eq!(spans.len(), 1, "tx chunks are not decoded as received data");
    assert_eq!(spans[0]["ok"], true);
    assert_eq!(spans[0]["meter_id"], "5706567326590407");
    assert_user_error(
        &kamscope(&["decode", "--input", "capture"], Some(b"{\"t\":1}\n")),
        "line 1: not a capture line",
    );
}

#[test]
fn the_app_without_a_terminal_says_so() {
    assert_user_error(&kamscope(&["--demo"], None), "needs a terminal");
    assert_user_error(
        &kamscope(&["--replay", "no/such.jsonl"], None),
        "cannot read no/such.jsonl",
    );
    assert_user_error(&kamscope(&[], None), "no source given");
    assert_eq!(
        kamscope(&["--demo", "--speed", "0"], None).status.code(),
        Some(2)
    );
}

#[test]
fn decode_a_live_port_from_the_simulator_on_a_pty() {
    let (mut sim, path) = sim_pty(&["--speed", "100"]);
    let out = command()
        .args([
            "decode",
            "--port",
            path.trim(),
            "--count",
            "3",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    sim.kill().ok();
    sim.wait().ok();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let spans = json_lines(&out);
    assert_eq!(spans.len(), 3);
    assert!(
        spans
            .iter()
            .all(|s| s["ok"] == true && s["meter_id"] == "5706567000000042"),
        "{spans:?}"
    );
}

fn read_port(path: &str) -> Output {
    command()
        .args(["read", "--port", path, "--format", "json"])
        .output()
        .unwrap()
}

#[test]
fn read_through_a_pty_for_both_meters_and_every_fault() {
    let cases: &[(&[&str], Option<i32>, &str)] = &[
        (&["--iec-meter", "351", "--echo"], Some(0), "complete"),
        (&["--iec-meter", "685-382"], Some(0), "complete"),
        (
            &["--iec-meter", "351", "--echo", "--iec-fault", "cut-off"],
            Some(1),
            "incomplete",
        ),
        (
            &["--iec-meter", "351", "--iec-fault", "bad-bcc"],
            Some(1),
            "bcc-bad",
        ),
        (
            &["--iec-meter", "685-382", "--iec-fault", "no-answer"],
            Some(2),
            "no-answer",
        ),
        (
            &["--iec-meter", "351", "--echo", "--iec-fault", "no-answer"],
            Some(2),
            "echo-only",
        ),
    ];
    for (args, code, verdict) in cases {
        let (mut sim, path) = sim_pty(&[&["--speed", "20"], *args].concat());
        let out = read_port(&path);
        sim.kill().ok();
        sim.wait().ok();
        assert_eq!(
            out.status.code(),
            *code,
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}"));
        assert_eq!(v["details"]["verdict"], *verdict, "{args:?}");
        if *code == Some(0) {
            assert_eq!(v["ok"], true);
            let rule = if args.contains(&"685-382") {
                "additive"
            } else {
                "xor"
            };
            assert_eq!(v["checks"][0]["rule"], rule);
            assert!(v["ident"].as_str().unwrap().starts_with("685"));
            assert!(v["fields"].as_array().unwrap().len() >= 8);
            assert!(v["fields"][1]["obis"].is_string() && v["fields"][1]["name"].is_string());
        }
    }
}

const KEY: &str = "00112233445566778899AABBCCDDEEFF";
const AUTH_KEY: &str = "FFEEDDCCBBAA99887766554433221100";
const ENCRYPTED: &str = "tests/fixtures/han/kamstrup-dk-encrypted-glo.hex";

fn decrypted(out: &Output) -> bool {
    assert!(out.status.success(), "{out:?}");
    json_lines(out)[0]["details"]["cipher"]["decrypted"] == true
}

/// Keys from the environment, a key file and the config, not only the command line (where `ps`
/// shows them); the first place that has any wins, and no message shows a key.
#[test]
fn keys_without_the_command_line() {
    let args = ["decode", ENCRYPTED, "--format", "json"];
    assert!(!decrypted(&kamscope(&args, None)));
    let env = [("KAMSCOPE_KEY", KEY), ("KAMSCOPE_AUTH_KEY", AUTH_KEY)];
    assert!(decrypted(&kamscope_with(&args, None, &env)));

    let dir = temp_dir("keys");
    let file = dir.join("meter.keys");
    std::fs::write(&file, format!("key = {KEY}\nauth_key = {AUTH_KEY}\n")).unwrap();
    let set_mode = |mode| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    set_mode(0o600);
    let with_file = [&args[..], &["--key-file", file.to_str().unwrap()]].concat();
    assert!(decrypted(&kamscope(&with_file, None)));
    // The key file wins over a wrong key in the environment.
    let wrong = [("KAMSCOPE_KEY", AUTH_KEY), ("KAMSCOPE_AUTH_KEY", KEY)];
    assert!(decrypted(&kamscope_with(&with_file, None, &wrong)));
    assert!(!decrypted(&kamscope_with(&args, None, &wrong)));
    set_mode(0o644);
    assert_user_error(
        &kamscope(&with_file, None),
        "can be read by other users: make it yours only (chmod 600",
    );

    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!("[keys]\nencryption = \"{KEY}\"\nauthentication = \"{AUTH_KEY}\"\n"),
    )
    .unwrap();
    let config_env = [("KAMSCOPE_CONFIG", config.to_str().unwrap())];
    assert!(decrypted(&kamscope_with(&args, None, &config_env)));

    let bad = [("KAMSCOPE_KEY", "00112233445566778899AABBCCDDEEF")];
    let out = kamscope_with(&args, None, &bad);
    assert_user_error(&out, "KAMSCOPE_KEY must be 32 hex digits (16 bytes)");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("0011223344"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn serial_options_are_checked() {
    assert_user_error(
        &kamscope(&["decode", "--count", "3"], Some(b"7E")),
        "--count needs --port",
    );
    assert_user_error(
        &kamscope(&["decode", "--port", "/dev/null", "--baud", "0"], None),
        "--baud 0 is not a standard serial speed (300, 1200, 2400",
    );
    assert_user_error(
        &kamscope(&["read", "--port", "/dev/null", "--baud", "2401"], None),
        "--baud 2401 is not a standard serial speed",
    );
}

/// A port that cannot be opened ends `decode --port` and `read` at once with one sentence.
#[test]
fn a_port_that_cannot_be_opened_is_said_at_once() {
    let dir = temp_dir("ports");
    let file = dir.join("capture.hex");
    std::fs::write(&file, "7E").unwrap();
    let cases = [
        (
            dir.clone(),
            format!("{} is a directory, not a serial port", dir.display()),
        ),
        (
            file.clone(),
            format!("{} is not a serial port", file.display()),
        ),
        ("/dev/null".into(), "/dev/null is not a serial port".into()),
    ];
    for (path, sentence) in &cases {
        for cmd in ["decode", "read"] {
            let started = std::time::Instant::now();
            let out = kamscope(&[cmd, "--port", path.to_str().unwrap()], None);
            assert_user_error(&out, sentence);
            assert!(started.elapsed() < std::time::Duration::from_secs(5));
        }
    }
    assert_user_error(
        &kamscope(&["read", "--port", "/dev/kamscope-no-such-tty"], None),
        "no device /dev/kamscope-no-such-tty: is the adapter plugged in?",
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// No permission: the sentence says what to do. Run as an unprivileged user (through setpriv
/// when the tests run as root) on the simulator's pseudo-terminal.
#[test]
fn no_permission_names_the_dialout_group() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let (mut sim, path) = sim_pty(&["--speed", "100"]);
    let dir = temp_dir("perm");
    // Who runs the tests: the owner of what they make.
    let root = std::fs::metadata(&dir).unwrap().uid() == 0;
    if !root {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
    }
    let unprivileged = || {
        let mut c = Command::new(if root { "setpriv" } else { "env" });
        if root {
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups"]);
        }
        c.arg(env!("CARGO_BIN_EXE_kamscope"))
            .env("HOME", &dir)
            .env("KAMSCOPE_CONFIG", dir.join("none.toml"));
        c
    };
    let sentence = format!(
        "no permission for {path}: add your user to the dialout group (sudo usermod -aG dialout $USER) and log in again"
    );
    for cmd in ["decode", "read"] {
        let Ok(out) = unprivileged().args([cmd, "--port", &path]).output() else {
            eprintln!("setpriv not available: skipped");
            break;
        };
        assert_user_error(&out, &sentence);
        assert_eq!(
            String::from_utf8_lossy(&out.stderr).trim(),
            format!("kamscope: {sentence}")
        );
    }
    sim.kill().ok();
    sim.wait().ok();
    std::fs::remove_dir_all(&dir).ok();
}

/// `| head -1` ends decode at once, even on an endless input; a closed standard output is said.
#[test]
fn decode_stops_when_its_output_goes_away() {
    let bin = env!("CARGO_BIN_EXE_kamscope");
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "cat /dev/urandom | {bin} decode --input raw | head -1"
        ))
        .env("KAMSCOPE_CONFIG", "/nonexistent/kamscope-test-config.toml")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().ok();
            panic!("decode kept reading after its reader went away");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("{bin} decode tests/fixtures/han/bad-fcs.hex >&-"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("KAMSCOPE_CONFIG", "/nonexistent/kamscope-test-config.toml")
        .output()
        .unwrap();
    assert_user_error(&out, "cannot write output: standard output is closed");
}
