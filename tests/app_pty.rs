//! The app as an installer runs it, on a pseudo-terminal: keys typed, the screen read back.
//! A demo session with a readout is recorded and decodes clean; keys come from the environment;
//! a port without permission keeps its sentence on the screen.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct App {
    child: Child,
    keys: std::fs::File,
    screen: Arc<Mutex<Vec<u8>>>,
}

/// Starts `cmd` (kamscope, maybe behind setpriv) on a new 120x40 pseudo-terminal.
fn start(mut cmd: Command) -> App {
    let size = nix::pty::Winsize {
        ws_row: 40,
        ws_col: 120,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let pty = nix::pty::openpty(Some(&size), None).unwrap();
    let io = || Stdio::from(pty.slave.try_clone().unwrap());
    let child = cmd
        .env("TERM", "xterm-256color")
        .stdin(io())
        .stdout(io())
        .stderr(io())
        .spawn()
        .unwrap();
    let screen = Arc::new(Mutex::new(Vec::new()));
    let sink = screen.clone();
    let master = std::fs::File::from(pty.master);
    let keys = master.try_clone().unwrap();
    let mut master = master;
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = master.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    App {
        child,
        keys,
        screen,
    }
}

impl App {
    fn output(&self) -> String {
        String::from_utf8_lossy(&self.screen.lock().unwrap()).into_owned()
    }

    fn wait_until(&self, what: &str, ok: impl Fn(&App) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !ok(self) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn shows(&self, text: &str) {
        self.wait_until(text, |a| a.output().contains(text));
    }

    fn press(&mut self, key: &str) {
        self.keys.write_all(key.as_bytes()).unwrap();
        self.keys.flush().unwrap();
        std::thread::sleep(Duration::from_millis(200));
    }

    fn quit(&mut self) {
        self.press("q");
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "the app did not quit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kamscope-app-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// kamscope with a config of its own (none) and the log in `dir`.
fn kamscope(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kamscope"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("KAMSCOPE_CONFIG", dir.join("config.toml"))
        .env_remove("KAMSCOPE_KEY")
        .env_remove("KAMSCOPE_AUTH_KEY")
        .args(["--log", dir.join("kamscope.log").to_str().unwrap()]);
    c
}

/// The issue's session: `--demo --record`, `2`, `r`, wait, `q`; the recording decodes with
/// nothing bad and no junk, and replays.
#[test]
fn a_demo_recording_with_a_readout_decodes_clean() {
    let dir = temp_dir("record");
    let rec = dir.join("rec.jsonl");
    let mut cmd = kamscope(&dir);
    cmd.args(["--demo", "--speed", "10", "--record", rec.to_str().unwrap()]);
    let mut app = start(cmd);
    app.shows("Live");
    app.wait_until("a recorded push", |_| {
        std::fs::read_to_string(&rec).is_ok_and(|r| r.lines().count() >= 3)
    });
    app.press("2");
    app.press("r");
    app.shows("BCC good");
    app.wait_until("a push after the readout", |_| {
        std::fs::read_to_string(&rec)
            .is_ok_and(|r| r.lines().last().is_some_and(|l| l.contains("\"han\"")))
    });
    app.quit();
    let recorded = std::fs::read_to_string(&rec).unwrap();
    assert!(recorded.contains("\"link\":\"optical\",\"dir\":\"tx\""));
    assert!(recorded.contains("\"link\":\"optical\",\"dir\":\"rx\""));

    let out = kamscope(&dir)
        .args(["decode", "--summary", rec.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["bad"], 0, "{summary}");
    assert_eq!(summary["junk_bytes"], 0, "{summary}");
    assert_eq!(
        summary["iec61107"], 2,
        "identification and data block: {summary}"
    );
    assert!(summary["hdlc"].as_u64().unwrap() >= 3, "{summary}");

    // The replay shows the readout in the Inspector beside the pushes.
    let mut cmd = kamscope(&dir);
    cmd.args(["--replay", rec.to_str().unwrap(), "--speed", "10"]);
    let mut app = start(cmd);
    app.shows("Live");
    app.press("3");
    app.shows("iec61107");
    app.quit();
    std::fs::remove_dir_all(&dir).ok();
}

/// The encrypted Danish fixture, replayed with the published dummy keys in the environment:
/// decrypted (its meter names itself), and the keys never reach the log.
#[test]
fn keys_from_the_environment_reach_the_app() {
    let dir = temp_dir("keys");
    let mut cmd = kamscope(&dir);
    cmd.args([
        "--replay",
        "tests/fixtures/han/kamstrup-dk-encrypted-glo.hex",
    ])
    .env("KAMSCOPE_KEY", "00112233445566778899AABBCCDDEEFF")
    .env("KAMSCOPE_AUTH_KEY", "FFEEDDCCBBAA99887766554433221100");
    let mut app = start(cmd);
    app.shows("Kamstrup_V0001");
    app.quit();
    let log = std::fs::read_to_string(dir.join("kamscope.log")).unwrap();
    assert!(log.contains("kamscope started"), "{log}");
    assert!(
        !log.contains("00112233") && !log.contains("FFEEDDCC"),
        "{log}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// A port the user may not open: the app stays up and the screen says what to do.
#[test]
fn no_permission_stays_on_the_screen() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let dir = temp_dir("perm");
    let root = std::fs::metadata(&dir).unwrap().uid() == 0;
    if root && Command::new("setpriv").arg("--version").output().is_err() {
        eprintln!("setpriv not available: skipped");
        return;
    }
    let mut sim = kamscope(&dir)
        .args(["sim", "--pty"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut path = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(sim.stdout.take().unwrap()),
        &mut path,
    )
    .unwrap();
    let path = path.trim().to_string();
    let cmd = if root {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_kamscope"))
            .env("HOME", &dir)
            .env("KAMSCOPE_CONFIG", dir.join("config.toml"));
        c
    } else {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
        kamscope(&dir)
    };
    let mut cmd = cmd;
    cmd.args(["--port", &path]);
    let mut app = start(cmd);
    app.shows("no permission for");
    app.shows("dialout");
    std::thread::sleep(Duration::from_millis(1500));
    assert!(app.child.try_wait().unwrap().is_none(), "the app stays up");
    app.quit();
    sim.kill().ok();
    sim.wait().ok();
    std::fs::remove_dir_all(&dir).ok();
}

/// A network bridge that is not up yet: the app says the connection is refused, stays up, and
/// reads the meter once the bridge listens.
#[test]
fn a_tcp_bridge_that_comes_late_is_read() {
    let dir = temp_dir("tcp");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut cmd = kamscope(&dir);
    cmd.args(["--port", &format!("tcp://127.0.0.1:{port}")]);
    let mut app = start(cmd);
    app.shows(&format!(
        "cannot connect to 127.0.0.1:{port}: connection refused"
    ));
    assert!(app.child.try_wait().unwrap().is_none(), "the app stays up");

    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let bridge = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream
            .write_all(&kamscope::protocol::han::sample_stream(3))
            .unwrap();
        // Held open until the app goes.
        let _ = stream.read_to_end(&mut Vec::new());
    });
    app.shows("5706567326590407");
    app.shows(&format!("tcp://127.0.0.1:{port}"));
    app.quit();
    bridge.join().unwrap();
    std::fs::remove_dir_all(&dir).ok();
}
