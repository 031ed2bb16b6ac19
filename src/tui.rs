//! The interactive app: terminal setup and restore, and the event loop that feeds reader events,
//! keys, mouse clicks and the clock into the app state and draws it when something changed.

use crate::app::picker::{Choice, Picker, PickerAction};
use crate::app::{App, Effect};
use crate::link::Connector;
use crate::link::OpticalConnector;
use crate::link::capture::SharedRecorder;
use crate::link::serial::list_ports;
use crate::protocol::han::Scaling;
use crate::protocol::readout::ReadoutOptions;
use crate::reader::{self, ReaderCommand, ReaderConfig};
use crate::readout::ReadoutEvent;
use crate::ui::{self, Theme};
use chrono::Local;
use color_eyre::eyre::{Result, WrapErr};
use crossterm::event::{
    DisableMouseCapture, EnableMouseCapture, Event, EventStream, MouseButton, MouseEventKind,
};
use futures_util::StreamExt;
use ratatui::DefaultTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Start-up choices for the app beside the reader's.
#[derive(Default)]
pub struct Options {
    /// The optical head's port, for the Readout tab.
    pub optical: Option<Arc<dyn OpticalConnector>>,
    pub readout_options: ReadoutOptions,
    /// The recording shared with the HAN reader (the readout records its bytes too).
    pub recorder: Option<SharedRecorder>,
    pub recording: Option<PathBuf>,
    /// Index into `app::live::WINDOWS`.
    pub chart_window: Option<usize>,
    /// A first message for the status line.
    pub notice: Option<String>,
}

/// The port picker, before the app: `None` when the user quits. Rescans every second so an
/// adapter plugged in now shows up.
pub fn pick_source(last: Option<String>) -> Result<Option<Choice>> {
    let theme = Theme::from_env();
    let mut terminal = ratatui::init();
    let mut picker = Picker::new(list_ports(), last);
    let result = (|| -> Result<Option<Choice>> {
        loop {
            terminal.draw(|f| ui::picker::draw(f, &picker, &theme))?;
            if crossterm::event::poll(Duration::from_secs(1))? {
                if let Event::Key(key) = crossterm::event::read()? {
                    match picker.on_key(key) {
                        PickerAction::Choose(c) => return Ok(Some(c)),
                        PickerAction::Quit => return Ok(None),
                        PickerAction::None => {}
                    }
                }
            } else {
                picker.set_ports(list_ports());
            }
        }
    })();
    ratatui::restore();
    result
}

/// Runs the TUI until the user quits. The terminal is restored on exit, error or panic.
pub fn run(connector: Box<dyn Connector>, cfg: ReaderConfig, options: Options) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .wrap_err("cannot start the async runtime")?;
    runtime.block_on(async move {
        let mut terminal = ratatui::init();
        let _ = crossterm::execute!(std::io::stdout(), EnableMouseCapture);
        let result = event_loop(&mut terminal, connector, cfg, options).await;
        let _ = crossterm::execute!(std::io::stdout(), DisableMouseCapture);
        ratatui::restore();
        result
    })
}

async fn event_loop(
    terminal: &mut DefaultTerminal,
    connector: Box<dyn Connector>,
    cfg: ReaderConfig,
    options: Options,
) -> Result<()> {
    let theme = Theme::from_env();
    let scaling: Scaling = cfg.scaling;
    let std_offset = crate::app::live::standard_offset_seconds(Local::now());
    let mut app = App::new(
        connector.describe(),
        scaling,
        options.recording,
        Local::now().fixed_offset(),
        std_offset,
    );
    app.keys = cfg.keys.clone();
    app.readout.port = options.optical.as_ref().map(|c| c.describe());
    let mut readout: Option<(mpsc::Receiver<ReadoutEvent>, mpsc::Sender<()>)> = None;
    app.notice = options.notice;
    if let Some(w) = options.chart_window {
        app.live.window = w;
    }
    let (mut events, commands) = reader::spawn(connector, cfg);
    let mut input = EventStream::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut reader_done = false;
    let mut readout_done = false;
    loop {
        if app.dirty {
            terminal.draw(|f| ui::draw(f, &app, &theme))?;
            app.dirty = false;
        }
        if app.quit {
            break;
        }
        let mut effects = Vec::new();
        tokio::select! {
            ev = events.recv(), if !reader_done => match ev {
                Some(e) => {
                    app.on_reader(e);
                    // Take everything already waiting before drawing again.
                    while let Ok(e) = events.try_recv() {
                        app.on_reader(e);
                    }
                }
                None => reader_done = true,
            },
            ev = input.next() => match ev {
                Some(Ok(Event::Key(key))) => effects = app.on_key(key),
                Some(Ok(Event::Mouse(m))) if m.kind == MouseEventKind::Down(MouseButton::Left) && m.row == 0 => {
                    if let Some((tab, ..)) = ui::tab_hits(terminal.get_frame().area())
                        .into_iter()
                        .find(|(_, from, to)| (*from..*to).contains(&m.column))
                    {
                        app.on_tab_click(tab);
                    }
                }
                Some(Ok(Event::Resize(..))) => app.dirty = true,
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e).wrap_err("terminal input failed"),
                None => break,
            },
            _ = tick.tick() => app.tick(Local::now().fixed_offset()),
            ev = next_readout_event(&mut readout), if readout.is_some() => match ev {
                Some(e) => app.on_readout(e),
                None => readout_done = true,
            },
        }
        if readout_done {
            readout = None;
            readout_done = false;
        }
        for effect in effects {
            match effect {
                Effect::Reader(cmd) => {
                    let _ = commands.send(cmd).await;
                }
                Effect::StartReadout => {
                    if let Some(optical) = &options.optical {
                        readout = Some(crate::readout::spawn(
                            optical.clone(),
                            options.readout_options.clone(),
                            options.recorder.clone(),
                        ));
                    }
                }
                Effect::CancelReadout => {
                    if let Some((_, cancel)) = &readout {
                        let _ = cancel.try_send(());
                    }
                }
                Effect::Export { path, contents } => {
                    app.notice = Some(match std::fs::write(&path, contents) {
                        Ok(()) => format!("frame exported to {}", path.display()),
                        Err(e) => format!(
                            "cannot write {}: {}",
                            path.display(),
                            crate::input::io_reason(&e)
                        ),
                    });
                }
            }
        }
    }
    let _ = commands.send(ReaderCommand::Stop).await;
    Ok(())
}

/// The next event of the readout in progress (never called without one).
async fn next_readout_event(
    readout: &mut Option<(mpsc::Receiver<ReadoutEvent>, mpsc::Sender<()>)>,
) -> Option<ReadoutEvent> {
    match readout {
        Some((events, _)) => events.recv().await,
        None => std::future::pending().await,
    }
}
