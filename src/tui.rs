//! The interactive app: terminal setup and restore, and the event loop that feeds task events,
//! keys, mouse clicks and the clock into the app state and draws it when something changed.
//!
//! The loop ([`run_loop`]) is generic over the ratatui backend, the source of terminal events and
//! the [`Environment`] (clock, file writes), so a whole-app test types keys, feeds frames and
//! reads the screen without a terminal.

use crate::app::picker::{Choice, Picker, PickerAction};
use crate::app::{App, Effect};
use crate::link::io_reason;
use crate::link::serial::list_ports;
use crate::protocol::iec_session::ReadoutOptions;
use crate::task::optical::OpticalReplay;
use crate::task::readout::Readout;
pub use crate::task::readout::ReadoutConnectors;
use crate::ui::{self, Theme};
use crate::wire::capture::EventLine;
use crate::wire::line::SerialSettings;
use crate::wire::{HanCommand, HanEvent, OpticalEvent, ReadoutProtocol, SharedRecorder};
use chrono::{DateTime, FixedOffset, Local};
use crossterm::event::{
    DisableMouseCapture, EnableMouseCapture, Event, EventStream, MouseButton, MouseEventKind,
};
use futures_util::{Stream, StreamExt};
use ratatui::Terminal;
use ratatui::backend::Backend;
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::mpsc;

/// Why the app stopped other than by the user quitting.
#[derive(Debug, thiserror::Error)]
pub enum TuiError {
    #[error("cannot draw on the terminal: {0}")]
    Draw(String),
    #[error("terminal input failed: {0}")]
    Input(io::Error),
    #[error("cannot start the async runtime: {0}")]
    Runtime(io::Error),
    #[error("cannot set up the terminal: {0}")]
    Terminal(io::Error),
}

/// What the event loop needs from the world besides the terminal and the tasks.
pub trait Environment {
    /// The laptop clock with its UTC offset.
    fn now(&self) -> DateTime<FixedOffset>;
    /// Writes an export: a new file, never an existing one and never through a link (an existing
    /// name, a symbolic link among them, fails with `AlreadyExists`).
    fn write_new_file(&mut self, path: &Path, contents: &str) -> io::Result<()>;
    /// The folder exports go to; `None`: the working directory.
    fn export_dir(&self) -> Option<&Path> {
        None
    }
    /// Remembers the protocol chosen for a readout port (in the config); an error is one
    /// sentence. Nothing is kept by default (tests).
    fn remember_readout_protocol(
        &mut self,
        _port: &str,
        _protocol: ReadoutProtocol,
    ) -> Result<(), String> {
        Ok(())
    }
}

/// The real clock and file system.
#[derive(Debug, Default)]
pub struct RealEnvironment {
    /// Where exports go (made when the first export is written).
    pub export_dir: Option<PathBuf>,
    /// The config file the readout protocol of each port is remembered in (`None`: not kept).
    pub config: Option<PathBuf>,
}

impl Environment for RealEnvironment {
    fn now(&self) -> DateTime<FixedOffset> {
        Local::now().fixed_offset()
    }

    fn write_new_file(&mut self, path: &Path, contents: &str) -> io::Result<()> {
        use std::io::Write;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        // create_new: O_EXCL, so neither an existing file nor a symbolic link is followed.
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)?;
        file.write_all(contents.as_bytes())?;
        file.sync_all()
    }

    fn export_dir(&self) -> Option<&Path> {
        self.export_dir.as_deref()
    }

    fn remember_readout_protocol(
        &mut self,
        port: &str,
        protocol: ReadoutProtocol,
    ) -> Result<(), String> {
        match &self.config {
            Some(path) => crate::config::save_readout_protocol(path, port, protocol)
                .map_err(|e| e.to_string()),
            None => Ok(()),
        }
    }
}

/// Where exports go when the config does not say: a `kamscope` folder in the platform's
/// documents folder (`~/Documents/kamscope`), else in its data folder
/// (`~/.local/share/kamscope/exports`). `None`: the working directory.
pub fn default_export_dir() -> Option<PathBuf> {
    if let Some(docs) =
        directories::UserDirs::new().and_then(|u| u.document_dir().map(Path::to_path_buf))
    {
        return Some(docs.join("kamscope"));
    }
    directories::ProjectDirs::from("", "", "kamscope").map(|d| d.data_dir().join("exports"))
}

/// Writes an export named `name` into the environment's export folder as a new file: when the
/// name is taken (by a file or a link), `-1`, `-2`, ... is added before the extension. Returns
/// the path written.
pub fn write_export<E: Environment>(
    env: &mut E,
    name: &Path,
    contents: &str,
) -> io::Result<PathBuf> {
    let dir = env.export_dir().map(Path::to_path_buf);
    let stem = name
        .file_stem()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let ext = name.extension().map(|e| e.to_string_lossy().into_owned());
    for n in 0..1000 {
        let file = match (n, &ext) {
            (0, _) => name.to_path_buf(),
            (n, Some(ext)) => PathBuf::from(format!("{stem}-{n}.{ext}")),
            (n, None) => PathBuf::from(format!("{stem}-{n}")),
        };
        let path = match &dir {
            Some(d) => d.join(file),
            None => file,
        };
        match env.write_new_file(&path, contents) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            result => return result.map(|()| path),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "a thousand files of that name are there already",
    ))
}

/// The readout port, for readouts started from the Readout tab.
#[derive(Default)]
pub struct Optical {
    pub connectors: Option<ReadoutConnectors>,
    /// Options of an IEC 61107 readout (device address, speed switch).
    pub options: ReadoutOptions,
    /// The recording shared with the HAN reader (the readout records its bytes too).
    pub recorder: Option<SharedRecorder>,
    /// A replayed recording's optical line: its readouts' spans go to the Inspector as live.
    pub replay: Option<OpticalReplay>,
}

/// The HAN reader task as the loop sees it.
pub struct HanTask {
    pub events: mpsc::Receiver<HanEvent>,
    pub commands: mpsc::Sender<HanCommand>,
}

/// The port picker, before the app: `None` when the user quits. Rescans every second so an
/// adapter plugged in now shows up.
pub fn pick_source(last: Option<String>) -> Result<Option<Choice>, TuiError> {
    let theme = Theme::from_env();
    let mut terminal = ratatui::init();
    let ports = || list_ports().map_err(|e| e.to_string());
    let mut picker = Picker::new(ports(), last);
    let result = (|| -> Result<Option<Choice>, TuiError> {
        loop {
            terminal
                .draw(|f| ui::picker::draw(f, &picker, &theme))
                .map_err(|e| TuiError::Draw(e.to_string()))?;
            if crossterm::event::poll(Duration::from_secs(1)).map_err(TuiError::Input)? {
                if let Event::Key(key) = crossterm::event::read().map_err(TuiError::Input)? {
                    match picker.on_key(key) {
                        // A network address is checked here, where ports are understood: a
                        // mistyped one is said on its line and can be corrected.
                        PickerAction::Choose(Choice::Port(p)) if p.contains("://") => {
                            match crate::link::port::connector(&p, SerialSettings::HAN) {
                                Ok(_) => return Ok(Some(Choice::Port(p))),
                                Err(e) => {
                                    picker.address_error = Some(e);
                                    picker.editing = true;
                                }
                            }
                        }
                        PickerAction::Choose(c) => return Ok(Some(c)),
                        PickerAction::Quit => return Ok(None),
                        PickerAction::None => {}
                    }
                }
            } else {
                picker.set_ports(ports());
            }
        }
    })();
    ratatui::restore();
    result
}

/// Puts the terminal back as the shell expects it: raw mode off, main screen, no mouse capture,
/// cursor shown. Safe to call more than once.
pub fn restore_terminal() {
    let _ = crossterm::execute!(io::stdout(), DisableMouseCapture, crossterm::cursor::Show);
    ratatui::restore();
}

/// SIGTERM or SIGHUP (the terminal closed, `kill`): the app ends as if the user quit. The
/// handlers are installed at once (on the current runtime), before the terminal is taken over,
/// so a signal that comes early still gives the terminal back.
fn termination() -> impl Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let signals = (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    );
    async move {
        match signals {
            (Ok(mut term), Ok(mut hup)) => {
                tokio::select! {
                    _ = term.recv() => tracing::info!("SIGTERM: quitting"),
                    _ = hup.recv() => tracing::info!("SIGHUP: quitting"),
                }
            }
            _ => std::future::pending().await,
        }
    }
}

/// Runs the TUI on a terminal until the user quits or a signal ends it. The terminal is restored
/// on exit, error, panic, SIGTERM and SIGHUP.
pub fn run(
    app: App,
    spawn_han: impl FnOnce() -> HanTask,
    optical: Optical,
    mut env: RealEnvironment,
) -> Result<(), TuiError> {
    let runtime = crate::task::runtime().map_err(TuiError::Runtime)?;
    runtime.block_on(async move {
        let shutdown = termination();
        let mut terminal = ratatui::try_init().map_err(TuiError::Terminal)?;
        // ratatui's own hook restores raw mode and the screen; the mouse and cursor too.
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore_terminal();
            previous(info);
        }));
        let _ = crossterm::execute!(io::stdout(), EnableMouseCapture);
        let mut app = app;
        let han = spawn_han();
        let result = run_loop(
            &mut terminal,
            &mut app,
            EventStream::new(),
            han,
            optical,
            &mut env,
            shutdown,
        )
        .await;
        restore_terminal();
        result
    })
}

/// The event loop: draws when something changed, then waits for the next task event, key,
/// mouse click, tick or `shutdown`. Ends when the user quits, the input ends or `shutdown`
/// completes; the HAN task is told to stop.
pub async fn run_loop<B, S, E>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    input: S,
    mut han: HanTask,
    mut optical: Optical,
    env: &mut E,
    shutdown: impl Future<Output = ()>,
) -> Result<(), TuiError>
where
    B: Backend,
    S: Stream<Item = io::Result<Event>>,
    E: Environment,
{
    let theme = Theme::from_env();
    let mut readout: Option<Readout> = None;
    let mut replayed = optical.replay.take().map(OpticalReplay::spawn);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut han_done = false;
    tokio::pin!(shutdown);
    tokio::pin!(input);
    let mut events_recorded = 0;
    loop {
        record_events(app, &optical.recorder, &mut events_recorded);
        if app.dirty {
            terminal
                .draw(|f| ui::draw(f, app, &theme))
                .map_err(|e| TuiError::Draw(e.to_string()))?;
            app.dirty = false;
        }
        if app.quit {
            break;
        }
        let mut effects = Vec::new();
        let mut readout_ended = false;
        tokio::select! {
            ev = han.events.recv(), if !han_done => match ev {
                Some(e) => {
                    app.on_han(e);
                    // Take everything already waiting before drawing again.
                    while let Ok(e) = han.events.try_recv() {
                        app.on_han(e);
                    }
                }
                None => han_done = true,
            },
            ev = input.next() => match ev {
                Some(Ok(Event::Key(key))) => effects = app.on_key(key),
                Some(Ok(Event::Mouse(m))) if m.kind == MouseEventKind::Down(MouseButton::Left) && m.row == 0 => {
                    let width = terminal.size().map_or(80, |s| s.width);
                    if let Some((tab, ..)) = ui::tab_hits(ratatui::layout::Rect::new(0, 0, width, 1))
                        .into_iter()
                        .find(|(_, from, to)| (*from..*to).contains(&m.column))
                    {
                        app.on_tab_click(tab);
                    }
                }
                Some(Ok(Event::Resize(..))) => app.dirty = true,
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(TuiError::Input(e)),
                None => break,
            },
            _ = tick.tick() => app.tick(env.now()),
            ev = Readout::next_of(&mut readout), if readout.is_some() => match ev {
                Some(e) => app.on_readout(e),
                None => readout_ended = true,
            },
            ev = next_event(&mut replayed), if replayed.is_some() => match ev {
                Some(e) => app.on_optical(e),
                None => replayed = None,
            },
            () = &mut shutdown => break,
        }
        if readout_ended {
            readout = None;
        }
        for effect in effects {
            apply(effect, app, &han, &optical, &mut readout, env).await;
        }
    }
    let _ = han.commands.send(HanCommand::Stop).await;
    if let Some(r) = &readout {
        r.cancel();
    }
    // The reader finishes a frame that is still arriving (so a recording ends on a whole
    // frame): wait while it reports, not longer.
    let finish = async {
        while let Ok(Some(_)) =
            tokio::time::timeout(Duration::from_millis(300), han.events.recv()).await
        {}
    };
    let _ = tokio::time::timeout(crate::task::han::FINISH_FRAME, finish).await;
    Ok(())
}

/// Writes the event log's new lines into the recording, between the chunks, so a recording
/// tells what happened as well as what came.
fn record_events(app: &mut App, recorder: &Option<SharedRecorder>, recorded: &mut u64) {
    let Some(rec) = recorder else {
        return;
    };
    if app.events.total() == *recorded {
        return;
    }
    let lines: Vec<EventLine> = app
        .events
        .since(*recorded)
        .map(|e| EventLine::new(e.at, &e.text))
        .collect();
    *recorded = app.events.total();
    let Ok(mut sink) = rec.lock() else {
        return;
    };
    for line in &lines {
        if let Err(e) = sink.record_event(line) {
            tracing::error!("{e}");
            break;
        }
    }
}

/// Carries out one effect the app asked for.
async fn apply<E: Environment>(
    effect: Effect,
    app: &mut App,
    han: &HanTask,
    optical: &Optical,
    readout: &mut Option<Readout>,
    env: &mut E,
) {
    match effect {
        Effect::Han(cmd) => {
            let _ = han.commands.send(cmd).await;
        }
        Effect::StartReadout {
            protocol,
            mbus_target,
        } => {
            if let Some(c) = &optical.connectors {
                *readout = Some(Readout::start(
                    c,
                    protocol,
                    mbus_target,
                    optical.options.clone(),
                    optical.recorder.clone(),
                ));
            }
        }
        Effect::RememberReadoutProtocol { port, protocol } => {
            if let Err(e) = env.remember_readout_protocol(&port, protocol) {
                tracing::warn!(%port, reason = %e, "readout protocol not remembered");
                app.notice = Some(e);
                app.dirty = true;
            }
        }
        Effect::CancelReadout => {
            if let Some(r) = readout {
                r.cancel();
            }
        }
        Effect::Export {
            path,
            what,
            contents,
        } => {
            app.notice = Some(match write_export(env, &path, &contents) {
                Ok(written) => {
                    let written = full_path(&written);
                    tracing::info!(path = %written.display(), "{what} exported");
                    // The file's name first: a narrow status line cuts the folder, not the name.
                    let name = written.file_name().unwrap_or_default().to_string_lossy();
                    match written.parent() {
                        Some(dir) => format!("{what} exported: {name} in {}", dir.display()),
                        None => format!("{what} exported: {name}"),
                    }
                }
                Err(e) => {
                    let dir = env.export_dir().map(Path::to_path_buf).unwrap_or_default();
                    let target = full_path(&dir.join(&path));
                    tracing::warn!(path = %target.display(), reason = %io_reason(&e), "{what} export failed");
                    format!(
                        "cannot export the {what} to {}: {}",
                        target.display(),
                        io_reason(&e)
                    )
                }
            });
            app.dirty = true;
        }
    }
}

/// The path as the user can find it again: absolute.
fn full_path(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The next event of a replayed optical line (never called without one).
async fn next_event(events: &mut Option<mpsc::Receiver<OpticalEvent>>) -> Option<OpticalEvent> {
    match events {
        Some(events) => events.recv().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("kamscope-export-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    /// Exports go into the one folder (made if missing), never over a file or through a link:
    /// a taken name gets -1, -2, ...
    #[test]
    fn exports_never_overwrite_or_follow_a_link() {
        let dir = temp_dir("real").join("not yet there");
        let mut env = RealEnvironment {
            export_dir: Some(dir.clone()),
            config: None,
        };
        let name = Path::new("kamscope-readout-20240501-100000.csv");
        let first = write_export(&mut env, name, "one").unwrap();
        assert_eq!(first, dir.join(name));
        let second = write_export(&mut env, name, "two").unwrap();
        assert_eq!(second, dir.join("kamscope-readout-20240501-100000-1.csv"));
        // A link where the next name would be: not followed, not replaced.
        let target = dir.join("target.txt");
        std::fs::write(&target, "keep").unwrap();
        std::os::unix::fs::symlink(&target, dir.join("kamscope-readout-20240501-100000-2.csv"))
            .unwrap();
        let third = write_export(&mut env, name, "three").unwrap();
        assert_eq!(third, dir.join("kamscope-readout-20240501-100000-3.csv"));
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
        assert_eq!(std::fs::read_to_string(&first).unwrap(), "one");
        assert_eq!(std::fs::read_to_string(&second).unwrap(), "two");
        assert_eq!(std::fs::read_to_string(&third).unwrap(), "three");
        std::fs::remove_dir_all(dir.parent().unwrap()).ok();
    }

    /// The message names the noun and the full path, also when the folder cannot be made.
    #[tokio::test]
    async fn the_export_message_names_what_and_where() {
        let dir = temp_dir("message");
        let mut env = RealEnvironment {
            export_dir: Some(dir.clone()),
            config: None,
        };
        let now = Local::now().fixed_offset();
        let mut app = App::new("test".into(), Default::default(), None, now, 0);
        let (_etx, events) = mpsc::channel(1);
        let (commands, _crx) = mpsc::channel(1);
        let han = HanTask { events, commands };
        let export = |path: &str| Effect::Export {
            path: PathBuf::from(path),
            what: "readout",
            contents: "x".into(),
        };
        let optical = Optical::default();
        apply(
            export("r.csv"),
            &mut app,
            &han,
            &optical,
            &mut None,
            &mut env,
        )
        .await;
        assert_eq!(
            app.notice.as_deref(),
            Some(format!("readout exported: r.csv in {}", full_path(&dir).display()).as_str())
        );
        // A file where the folder should be: one sentence with the path and the reason.
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::write(&dir, "a file").unwrap();
        apply(
            export("r.csv"),
            &mut app,
            &han,
            &optical,
            &mut None,
            &mut env,
        )
        .await;
        let notice = app.notice.clone().unwrap();
        assert!(
            notice.starts_with(&format!(
                "cannot export the readout to {}: ",
                dir.join("r.csv").display()
            )),
            "{notice}"
        );
        std::fs::remove_file(&dir).ok();
    }
}
