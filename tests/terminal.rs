//! The app on a real (pseudo-)terminal: it takes the terminal over, writes its log, and on
//! SIGTERM or SIGHUP gives the terminal back as the shell had it (echo, line editing, main screen,
//! no mouse capture).

use nix::sys::termios::{LocalFlags, tcgetattr};
use std::io::Read;
use std::os::fd::OwnedFd;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct App {
    child: Child,
    slave: OwnedFd,
    screen: Arc<Mutex<Vec<u8>>>,
}

/// Starts `kamscope ARGS` on a new pseudo-terminal.
fn start(args: &[&str], config: &std::path::Path) -> App {
    let size = nix::pty::Winsize {
        ws_row: 24,
        ws_col: 80,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let pty = nix::pty::openpty(Some(&size), None).unwrap();
    let io = || Stdio::from(pty.slave.try_clone().unwrap());
    let child = Command::new(env!("CARGO_BIN_EXE_kamscope"))
        .args(args)
        .env("TERM", "xterm-256color")
        .env("KAMSCOPE_CONFIG", config)
        .stdin(io())
        .stdout(io())
        .stderr(io())
        .spawn()
        .unwrap();
    let screen = Arc::new(Mutex::new(Vec::new()));
    let sink = screen.clone();
    let mut master = std::fs::File::from(pty.master);
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
        slave: pty.slave,
        screen,
    }
}

impl App {
    fn echo_and_lines(&self) -> bool {
        let t = tcgetattr(&self.slave).unwrap();
        t.local_flags.contains(LocalFlags::ECHO) && t.local_flags.contains(LocalFlags::ICANON)
    }

    fn wait_until(&self, what: &str, ok: impl Fn(&App) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !ok(self) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn wait_exit(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "the app did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn output(&self) -> String {
        String::from_utf8_lossy(&self.screen.lock().unwrap()).into_owned()
    }
}

/// A test that fails half way must not leave the app running.
impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("kamscope-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn sigterm_gives_the_terminal_back_and_the_log_has_the_link_events() {
    let dir = temp_dir("term");
    let log = dir.join("kamscope.log");
    let rec = dir.join("rec.jsonl");
    let mut app = start(
        &[
            "--demo",
            "--speed",
            "20",
            "--log",
            log.to_str().unwrap(),
            "--record",
            rec.to_str().unwrap(),
        ],
        &dir.join("config.toml"),
    );
    app.wait_until("raw mode", |a| !a.echo_and_lines());
    app.wait_until("the first screen", |a| a.output().contains("Live"));
    app.wait_until("the link in the log", |_| {
        std::fs::read_to_string(&log).is_ok_and(|l| l.contains("HAN link connected"))
    });
    app.wait_until("a recorded push", |_| {
        std::fs::read_to_string(&rec).is_ok_and(|r| r.lines().count() > 5)
    });
    app.signal("TERM");
    let status = app.wait_exit();
    assert!(status.success(), "{status:?}");
    assert!(app.echo_and_lines(), "echo and line editing are back");
    let out = app.output();
    assert!(out.contains("\x1b[?1049l"), "back on the main screen");
    assert!(out.contains("\x1b[?1000l"), "mouse capture off");
    assert!(out.contains("\x1b[?25h"), "cursor shown");
    assert!(!out.contains("panicked"), "{out}");
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.contains("SIGTERM"), "{log}");
    assert!(log.contains("recording"), "{log}");
    // Every line of the recording is whole.
    let recorded = std::fs::read_to_string(&rec).unwrap();
    assert!(recorded.ends_with('\n'));
    for line in recorded.lines() {
        kamscope::wire::capture::CaptureLine::parse(line).unwrap();
    }
    // The event log is in the recording too.
    assert!(
        recorded.contains(r#""event":"link up: demo 3-phase"#),
        "{recorded}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn sighup_gives_the_terminal_back() {
    let dir = temp_dir("hup");
    let mut app = start(
        &["--demo", "--log", dir.join("log").to_str().unwrap()],
        &dir.join("config.toml"),
    );
    app.wait_until("raw mode", |a| !a.echo_and_lines());
    app.wait_until("the first screen", |a| a.output().contains("Live"));
    app.signal("HUP");
    app.wait_exit();
    assert!(app.echo_and_lines());
    std::fs::remove_dir_all(&dir).ok();
}
