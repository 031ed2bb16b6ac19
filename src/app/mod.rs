//! Application state and its update functions. No I/O here: key presses and reader events go in,
//! state and [`Effect`]s for the main loop come out, and `ui::draw` renders the state.

pub mod check;
pub mod compare;
pub mod events;
pub mod inspector;
pub mod keymap;
pub mod live;
pub mod picker;
pub mod readout;
pub mod report;
pub mod verdict;

use crate::protocol::Content;
use crate::protocol::decoder::Decoded;
use crate::protocol::han::Scaling;
use crate::protocol::mbus::session::Target;
use crate::wire::{
    HanCommand, HanEvent, LinkState, OpticalEvent, ReadoutEvent, ReadoutProtocol, SpanRecord,
};
use chrono::{DateTime, FixedOffset, Utc};
use crossterm::event::{KeyEvent, KeyEventKind};
use inspector::InspectorState;
use keymap::Action;
use live::LiveState;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Live,
    Readout,
    Inspector,
    Events,
    /// The installer's acceptance checks, as `kamscope check` judges them.
    Check,
}

impl Tab {
    pub const ALL: [Tab; 5] = [
        Tab::Live,
        Tab::Readout,
        Tab::Inspector,
        Tab::Events,
        Tab::Check,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Tab::Live => "1 Live",
            Tab::Readout => "2 Readout",
            Tab::Inspector => "3 Inspector",
            Tab::Events => "4 Events",
            Tab::Check => "5 Check",
        }
    }

    fn index(self) -> usize {
        Tab::ALL.iter().position(|&t| t == self).unwrap_or(0)
    }

    fn next(self) -> Tab {
        Tab::ALL[(self.index() + 1) % Tab::ALL.len()]
    }

    fn prev(self) -> Tab {
        Tab::ALL[(self.index() + Tab::ALL.len() - 1) % Tab::ALL.len()]
    }
}

/// Counters for the status bar.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub bytes: u64,
    pub good: u64,
    pub hcs_bad: u64,
    pub fcs_bad: u64,
    pub length_bad: u64,
    pub other_bad: u64,
    /// P1 telegrams good, and bad by their CRC (also counted above, in `good` and `other_bad`).
    pub p1_good: u64,
    pub p1_crc_bad: u64,
    pub junk_bytes: u64,
    pub last_byte: Option<DateTime<Utc>>,
    pub connected_since: Option<DateTime<Utc>>,
}

impl Stats {
    fn count(&mut self, s: &SpanRecord) {
        if let Content::P1(f) = &s.content {
            if s.ok() {
                self.p1_good += 1;
            } else if f.checks.iter().any(|c| c.name == "CRC" && !c.ok)
                && f.checks.iter().all(|c| c.name != "end" || c.ok)
            {
                self.p1_crc_bad += 1;
            }
        }
        match &s.content {
            Content::Junk => self.junk_bytes += s.bytes.len() as u64,
            _ if s.ok() => self.good += 1,
            Content::Hdlc(f) if !f.hcs_ok() => self.hcs_bad += 1,
            Content::Hdlc(f) if !f.length_ok() => self.length_bad += 1,
            Content::Hdlc(f) if !f.fcs_ok() => self.fcs_bad += 1,
            _ => self.other_bad += 1,
        }
    }

    pub fn bad(&self) -> u64 {
        self.hcs_bad + self.fcs_bad + self.length_bad + self.other_bad
    }
}

/// What the latest encrypted push said about the keys (Danish and Swiss meters encrypt their
/// push with general-glo-ciphering).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CipherState {
    /// The system title, as hex.
    pub system_title: String,
    /// The manufacturer its first three letters name (`KAM`).
    pub manufacturer: Option<String>,
    pub invocation_counter: u32,
    pub status: CipherStatus,
    pub received: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CipherStatus {
    /// No keys given: the values cannot be read.
    NeedKeys,
    /// The authentication tag does not match: the wrong key (or a damaged frame).
    WrongKey,
    /// The push is authenticated and no authentication key was given: decrypted without checking
    /// the tag, its values unverified.
    NeedAuthKey,
    /// A security suite kamscope cannot decrypt.
    Unsupported(String),
    /// Decrypted and authenticated.
    Decrypted,
}

impl CipherStatus {
    /// In words, for the screens and the event log.
    pub fn describe(&self) -> String {
        match self {
            CipherStatus::NeedKeys => "keys needed (--key-file, KAMSCOPE_KEY or [keys])".into(),
            CipherStatus::WrongKey => {
                "wrong key: the authentication tag does not match (or the frame is damaged)".into()
            }
            CipherStatus::NeedAuthKey => {
                "decrypted without the authentication key: values unverified".into()
            }
            CipherStatus::Unsupported(why) => why.clone(),
            CipherStatus::Decrypted => "decrypted and authenticated".into(),
        }
    }
}

/// What a readout key says when no readout port is configured.
const NO_READOUT_PORT: &str = "no readout port: start kamscope with --optical PATH (or --demo)";

/// Work for the main loop.
#[derive(Debug)]
pub enum Effect {
    Han(HanCommand),
    /// Write `contents` to a new file at `path` and report it ("frame exported to ...").
    Export {
        path: PathBuf,
        what: &'static str,
        contents: String,
    },
    /// Start a readout on the readout port: in this protocol, for M-Bus of this meter (or a
    /// scan of the bus).
    StartReadout {
        protocol: ReadoutProtocol,
        mbus_target: Target,
    },
    CancelReadout,
    /// Remember the protocol chosen for this readout port (in the config).
    RememberReadoutProtocol {
        port: String,
        protocol: ReadoutProtocol,
    },
}

#[derive(Debug)]
pub struct App {
    pub tab: Tab,
    pub help: bool,
    pub quit: bool,
    /// What is being read, with its settings (`/dev/ttyUSB0 2400 8N1`).
    pub source: String,
    pub link: LinkState,
    pub stats: Stats,
    pub live: LiveState,
    pub inspector: InspectorState,
    pub readout: readout::ReadoutTab,
    pub scaling: Scaling,
    /// Keys for encrypted frames, to decode logged frames again.
    pub keys: Option<crate::protocol::dlms::Keys>,
    pub recording: Option<PathBuf>,
    /// The latest encrypted push, if any came.
    pub cipher: Option<CipherState>,
    /// What happened on the line, for the Events tab.
    pub events: events::EventLog,
    /// One line for the user: an export, an error while recording.
    pub notice: Option<String>,
    /// The laptop clock with its UTC offset, set by the main loop (fixed in tests).
    pub now: DateTime<FixedOffset>,
    /// The local UTC offset without daylight saving, in seconds (meters keep standard time).
    pub std_offset: i32,
    /// Something changed since the last draw.
    pub dirty: bool,
    /// What the Check tab asks beyond the defaults (the site exports, list 2 expected).
    pub check_options: check::CheckOptions,
    /// First row of the Check tab shown.
    pub check_scroll: u16,
    /// The site and installer named in the report (config `[site]`).
    pub site: report::Site,
}

impl App {
    pub fn new(
        source: String,
        scaling: Scaling,
        recording: Option<PathBuf>,
        now: DateTime<FixedOffset>,
        std_offset: i32,
    ) -> Self {
        let mut events = events::EventLog::default();
        if let Some(path) = &recording {
            events.push(
                now.to_utc(),
                live::Level::Info,
                format!("recording to {}", path.display()),
            );
        }
        App {
            events,
            tab: Tab::Live,
            help: false,
            quit: false,
            source,
            link: LinkState::Connecting,
            stats: Stats::default(),
            live: LiveState::default(),
            inspector: InspectorState::default(),
            readout: readout::ReadoutTab::default(),
            scaling,
            keys: None,
            recording,
            cipher: None,
            notice: None,
            now,
            std_offset,
            dirty: true,
            check_options: check::CheckOptions {
                in_app: true,
                ..check::CheckOptions::default()
            },
            check_scroll: 0,
            site: report::Site::default(),
        }
    }

    pub fn on_han(&mut self, event: HanEvent) {
        self.dirty = true;
        match event {
            HanEvent::Link(state) => {
                if state == LinkState::Connected {
                    self.stats.connected_since = Some(self.now.with_timezone(&Utc));
                }
                self.log_link(&state);
                self.link = state;
            }
            HanEvent::Bytes { at, count } => {
                self.stats.bytes += count as u64;
                self.stats.last_byte = Some(at);
            }
            HanEvent::Span(span) => {
                self.stats.count(&span);
                self.log_span(&span);
                self.note_cipher(&span);
                if let Some(m) = span.decoded.han_message() {
                    self.live.push(m, span.received);
                }
                self.inspector.push(*span);
                self.refresh_detail(false);
            }
            HanEvent::RecordError(e) => self.recording_failed(&e),
        }
    }

    pub fn on_optical(&mut self, event: OpticalEvent) {
        self.on_readout(ReadoutEvent::Iec(event));
    }

    /// What a readout task reports: its progress, the spans of the line (to the Inspector), and
    /// the finished readout.
    pub fn on_readout(&mut self, event: ReadoutEvent) {
        use crate::wire::kmp::KmpEvent;
        use crate::wire::mbus::MbusEvent;
        use readout::{Finished, Running};
        self.dirty = true;
        let (running, span, error, done) = match event {
            ReadoutEvent::Iec(e) => match e {
                OpticalEvent::Status(s) => (Some(Running::Iec(s)), None, None, None),
                OpticalEvent::Span(s) => (None, Some(s), None, None),
                OpticalEvent::RecordError(e) => (None, None, Some(e), None),
                OpticalEvent::Done(r) => (None, None, None, Some(Finished::Iec(*r))),
            },
            ReadoutEvent::Kmp(e) => match e {
                KmpEvent::Status(s) => (Some(Running::Kmp(s)), None, None, None),
                KmpEvent::Span(s) => (None, Some(s), None, None),
                KmpEvent::RecordError(e) => (None, None, Some(e), None),
                KmpEvent::Done(r) => (None, None, None, Some(Finished::Kmp(*r))),
            },
            ReadoutEvent::Mbus(e) => match e {
                MbusEvent::Status(s) => (Some(Running::Mbus(s)), None, None, None),
                MbusEvent::Span(s) => (None, Some(s), None, None),
                MbusEvent::RecordError(e) => (None, None, Some(e), None),
                MbusEvent::Done(r) => (None, None, None, Some(Finished::Mbus(*r))),
            },
        };
        if let Some(s) = running {
            self.readout.running = Some(s);
        }
        if let Some(s) = span {
            self.inspector.push(*s);
            self.refresh_detail(false);
        }
        if let Some(e) = error {
            self.recording_failed(&e);
        }
        if let Some(r) = done {
            let level = match r.outcome() {
                readout::Outcome::Good => live::Level::Ok,
                readout::Outcome::Cancelled => live::Level::Warn,
                readout::Outcome::Failed => live::Level::Bad,
            };
            let text = format!("{} readout: {}", r.protocol().title(), r.verdict_text());
            self.events.push(self.now.to_utc(), level, text.clone());
            self.notice = Some(text);
            self.readout.finish(r);
        }
    }

    /// The clock moved on (age of the last push, link hints).
    pub fn tick(&mut self, now: DateTime<FixedOffset>) {
        self.now = now;
        self.events.close_burst_if_quiet(now.to_utc());
        self.dirty = true;
    }

    fn recording_failed(&mut self, e: &crate::wire::RecordError) {
        // A failing recording keeps what comes and retries; only a stopped one is gone.
        if *e == crate::wire::RecordError::Stopped {
            self.recording = None;
        }
        let level = if e.resumed() {
            live::Level::Ok
        } else {
            live::Level::Bad
        };
        self.notice = Some(e.to_string());
        self.events.push(self.now.to_utc(), level, e.to_string());
    }

    /// Link up, down, reconnecting, finished: logged when the state changes.
    fn log_link(&mut self, state: &LinkState) {
        if *state == self.link {
            return;
        }
        let now = self.now.to_utc();
        let (level, text) = match state {
            LinkState::Connecting => return,
            LinkState::Connected => (live::Level::Ok, format!("link up: {}", self.source)),
            LinkState::Waiting { reason } => (live::Level::Bad, format!("link down: {reason}")),
            LinkState::Ended => (live::Level::Info, "replay finished".to_string()),
        };
        self.events.push(now, level, text);
    }

    /// The first good frame, and bursts of bad ones.
    fn log_span(&mut self, span: &SpanRecord) {
        let at = span.received;
        if span.protocol() == crate::protocol::Protocol::Junk {
            return;
        }
        if span.ok() {
            if self.stats.good == 1 {
                self.events.push(at, live::Level::Ok, "first good frame");
            }
            return;
        }
        let failed: Vec<&str> = span
            .content
            .checks()
            .iter()
            .chain(span.decoded.extra_checks())
            .filter(|c| !c.ok)
            .map(|c| c.name)
            .collect();
        self.events
            .bad_frame(at, &format!("{} failed", failed.join(", ")));
    }

    /// What the pattern of received bytes suggests, if anything.
    pub fn hint(&self) -> Option<String> {
        let s = &self.stats;
        let now = self.now.with_timezone(&Utc);
        match &self.link {
            LinkState::Waiting { reason } => {
                return Some(format!("link down ({reason}): retrying every second"));
            }
            LinkState::Connected => {}
            _ => return None,
        }
        let connected_for = s.connected_since.map_or(0, |c| (now - c).num_seconds());
        if s.bytes == 0 && connected_for >= 12 {
            return Some(
                "no bytes at all: is HAN enabled by the grid company? check the cable (RJ45 pins 1-2)".into(),
            );
        }
        if s.good == 0 && s.hcs_bad >= 2 {
            return Some(
                "frames start but never pass HCS: wrong parity or speed? Kamstrup is 2400 8N1"
                    .into(),
            );
        }
        if s.good == 0 && s.bytes > 600 && s.bad() == 0 {
            return Some("bytes but no frames: wrong speed, noise, or not a HAN port".into());
        }
        None
    }

    fn set_scaling(&mut self, scaling: Scaling) -> Vec<Effect> {
        // Values and chart history are computed again from the raw integers.
        self.live
            .set_scalers(scaling.current_scaler, scaling.energy_scaler);
        let text = format!(
            "scaling: energy x10^{} Wh, current {}",
            scaling.energy_scaler,
            scaling
                .current_scaler
                .map_or("by meter type".to_string(), |c| format!("x10^{c} A"))
        );
        self.events.push(self.now.to_utc(), live::Level::Info, text);
        self.scaling = scaling;
        self.refresh_detail(true);
        vec![Effect::Han(HanCommand::SetScaling(scaling))]
    }

    pub fn on_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let effects = self.dispatch_key(key);
        self.refresh_detail(false);
        effects
    }

    /// Looks the key up in the [`keymap`] and applies what it means.
    fn dispatch_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        if key.kind != KeyEventKind::Press {
            return Vec::new();
        }
        self.dirty = true;
        let Some((action, matched)) = keymap::lookup(self.tab, &key) else {
            return Vec::new();
        };
        if self.help {
            // Only Esc, ? and q close the help; Ctrl-C quits from anywhere.
            match action {
                Action::Quit if matched.ctrl => self.quit = true,
                Action::Quit | Action::Help | Action::DismissOrCancel => self.help = false,
                _ => {}
            }
            return Vec::new();
        }
        self.apply(action)
    }

    /// Does what a key means. Scoped actions come only from their tab's bindings.
    fn apply(&mut self, action: Action) -> Vec<Effect> {
        match action {
            Action::Quit => self.quit = true,
            Action::Help => self.help = true,
            Action::ShowTab(tab) => self.tab = tab,
            Action::NextTab => self.tab = self.tab.next(),
            Action::PrevTab => self.tab = self.tab.prev(),
            Action::DismissOrCancel => {
                if self.tab == Tab::Readout && self.readout.running.is_some() {
                    return vec![Effect::CancelReadout];
                }
                self.notice = None;
            }
            Action::ChartKind => self.live.chart = self.live.chart.next(),
            Action::ChartWindow => self.live.window = (self.live.window + 1) % live::WINDOWS.len(),
            Action::EnergyScaler => {
                let energy_scaler = if self.scaling.energy_scaler == 1 {
                    0
                } else {
                    1
                };
                let effects = self.set_scaling(Scaling {
                    energy_scaler,
                    ..self.scaling
                });
                // The setting is kept for a Kamstrup list, but says why nothing changed now.
                if let Some(why) = self.live.scalers_do_not_apply() {
                    self.notice = Some(why.into());
                }
                return effects;
            }
            Action::CurrentScaler => {
                let current_scaler = match self.scaling.current_scaler {
                    None => Some(-2),
                    Some(-2) => Some(-3),
                    Some(_) => None,
                };
                let effects = self.set_scaling(Scaling {
                    current_scaler,
                    ..self.scaling
                });
                // The setting is kept for a Kamstrup list, but says why nothing changed now.
                if let Some(why) = self.live.scalers_do_not_apply() {
                    self.notice = Some(why.into());
                }
                return effects;
            }
            Action::StartReadout => return self.start_readout(false),
            Action::MbusScan => return self.start_readout(true),
            Action::ReadoutProtocol => return self.next_readout_protocol(),
            Action::ReadoutPrev => self.readout.select_by(-1),
            Action::ReadoutNext => self.readout.select_by(1),
            Action::ReadoutCompare => self.readout.compare = !self.readout.compare,
            Action::ReadoutRawValues => self.readout.show_raw = !self.readout.show_raw,
            Action::ScrollUp => self.scroll_by(-1),
            Action::ScrollDown => self.scroll_by(1),
            Action::ScrollPageUp => self.scroll_by(-10),
            Action::ScrollPageDown => self.scroll_by(10),
            Action::ExportCsv => return self.export_readout("csv"),
            Action::WriteReport => return self.write_report(),
            Action::Export => {
                return match self.tab {
                    Tab::Readout => self.export_readout("json"),
                    Tab::Inspector => self.export_frame(),
                    Tab::Live | Tab::Events | Tab::Check => Vec::new(),
                };
            }
            Action::SelectUp => self.inspector.move_by(-1),
            Action::SelectDown => self.inspector.move_by(1),
            Action::SelectPageUp => self.inspector.move_by(-20),
            Action::SelectPageDown => self.inspector.move_by(20),
            Action::SelectFirst => self.inspector.move_by(isize::MIN / 2),
            Action::SelectLast => {
                self.inspector.select_last();
                self.inspector.follow = true;
            }
            Action::ToggleFollow => {
                let ins = &mut self.inspector;
                ins.follow = !ins.follow;
                if ins.follow {
                    ins.select_last();
                }
            }
            Action::ToggleBadOnly => self.inspector.toggle_filter(),
            Action::DetailScrollUp => {
                let ins = &mut self.inspector;
                ins.detail_scroll = ins.detail_scroll.saturating_sub(3);
            }
            Action::DetailScrollDown => {
                let ins = &mut self.inspector;
                ins.detail_scroll = ins.detail_scroll.saturating_add(3);
            }
        }
        Vec::new()
    }

    /// Scrolls the Readout tab's registers, or the event log (whose scroll counts back from the
    /// newest line).
    fn scroll_by(&mut self, delta: i16) {
        match self.tab {
            Tab::Events => {
                let back = &mut self.events.scroll;
                *back = back.saturating_add_signed(-delta);
            }
            Tab::Check => self.check_scroll = self.check_scroll.saturating_add_signed(delta),
            _ => {
                let tab = &mut self.readout;
                // On a shown M-Bus scan the arrows pick a meter instead.
                if let Some(meters) = tab.shown().and_then(readout::Finished::scan) {
                    let last = meters.len().saturating_sub(1);
                    tab.scan_cursor = tab
                        .scan_cursor
                        .saturating_add_signed(isize::from(delta))
                        .min(last);
                    return;
                }
                let s = &mut tab.scroll;
                *s = s.saturating_add_signed(delta);
            }
        }
    }

    /// Starts a readout in the chosen protocol; on a shown M-Bus scan, of the meter picked in it.
    /// (`r` in the Readout tab, and `kamscope check --optical`.)
    pub fn start_readout(&mut self, scan: bool) -> Vec<Effect> {
        let tab = &mut self.readout;
        let Some(port) = tab.port.clone() else {
            self.notice = Some(NO_READOUT_PORT.into());
            return Vec::new();
        };
        if tab.running.is_some() {
            return Vec::new();
        }
        let protocol = tab.protocol;
        if scan && protocol != ReadoutProtocol::Mbus {
            self.notice = Some("n scans an M-Bus: press p until the protocol is M-Bus".into());
            return Vec::new();
        }
        if protocol == ReadoutProtocol::Mbus
            && !scan
            && let Some(picked) = tab.picked_meter()
        {
            tab.mbus_target = Some(picked);
        }
        let mbus_target = if scan {
            Target::Scan
        } else {
            tab.mbus_target()
        };
        tab.running = Some(readout::Running::Starting(protocol));
        let what = match protocol {
            ReadoutProtocol::Mbus => format!("M-Bus readout of {mbus_target}"),
            p => format!("{} readout", p.title()),
        };
        self.events.push(
            self.now.to_utc(),
            live::Level::Info,
            format!("{what} started on {port}"),
        );
        vec![Effect::StartReadout {
            protocol,
            mbus_target,
        }]
    }

    /// The next protocol for the readout port, remembered for the port.
    fn next_readout_protocol(&mut self) -> Vec<Effect> {
        let tab = &mut self.readout;
        let Some(port) = tab.port.clone() else {
            self.notice = Some(NO_READOUT_PORT.into());
            return Vec::new();
        };
        if tab.running.is_some() {
            self.notice = Some("a readout is running: Esc cancels it first".into());
            return Vec::new();
        }
        tab.protocol = tab.protocol.next();
        self.notice = Some(format!(
            "readout protocol: {} (p changes it)",
            tab.protocol.title()
        ));
        vec![Effect::RememberReadoutProtocol {
            port,
            protocol: tab.protocol,
        }]
    }

    /// The shown readout as `csv` or `json`.
    fn export_readout(&mut self, ext: &str) -> Vec<Effect> {
        let Some(r) = self.readout.shown() else {
            self.notice = Some("no readout to export yet: press r".into());
            return Vec::new();
        };
        let contents = if ext == "csv" {
            readout::to_csv(r)
        } else {
            readout::to_json(r)
        };
        let path = PathBuf::from(readout::export_name(r, ext, self.now.offset()));
        vec![Effect::Export {
            path,
            what: "readout",
            contents,
        }]
    }

    /// The commissioning report of the session so far, as the Check tab judges it.
    fn write_report(&mut self) -> Vec<Effect> {
        let checks = check::checks(self, self.check_options);
        let verdict = check::verdict(self, &checks);
        let info = report::ReportInfo {
            site: self.site.name.clone(),
            installer: self.site.installer.clone(),
            note: None,
            generated: self.now,
            source: self.source.clone(),
        };
        let contents = report::html(self, &checks, verdict, &info);
        let path = PathBuf::from(format!(
            "kamscope-report-{}.html",
            self.now.format("%Y%m%d-%H%M%S")
        ));
        vec![Effect::Export {
            path,
            what: "report",
            contents,
        }]
    }

    /// The selected span's description as JSON.
    fn export_frame(&mut self) -> Vec<Effect> {
        let ins = &self.inspector;
        if let (Some(span), Some(shown)) = (ins.selected_span(), &ins.detail) {
            let mut contents = serde_json::to_string_pretty(&shown.detail).unwrap_or_default();
            contents.push('\n');
            let path = PathBuf::from(format!(
                "kamscope-frame-{}-{}.json",
                span.received
                    .with_timezone(self.now.offset())
                    .format("%Y%m%d-%H%M%S"),
                span.offset
            ));
            return vec![Effect::Export {
                path,
                what: "frame",
                contents,
            }];
        }
        self.notice = Some("nothing selected to export".into());
        Vec::new()
    }

    /// Keeps what an encrypted push says about the keys.
    fn note_cipher(&mut self, span: &SpanRecord) {
        use crate::protocol::dlms::DecryptError;
        let Decoded::Hdlc(h) = &span.decoded else {
            return;
        };
        let Some(glo) = &h.cipher else {
            return;
        };
        let status = match &h.decrypt_error {
            _ if h.decrypted => CipherStatus::Decrypted,
            Some(DecryptError::Authentication) => CipherStatus::WrongKey,
            // Without the authentication key the content is decrypted unchecked: if it does not
            // decode, the encryption key is the likely culprit.
            Some(DecryptError::NoAuthenticationKey) if h.message.is_some() => {
                CipherStatus::NeedAuthKey
            }
            Some(DecryptError::NoAuthenticationKey) => CipherStatus::WrongKey,
            Some(e @ DecryptError::Unsupported(_)) => CipherStatus::Unsupported(e.to_string()),
            None => CipherStatus::NeedKeys,
        };
        if self.cipher.as_ref().map(|c| &c.status) != Some(&status) {
            let level = if status == CipherStatus::Decrypted {
                live::Level::Ok
            } else {
                live::Level::Bad
            };
            self.events.push(
                span.received,
                level,
                format!("encrypted push: {}", status.describe()),
            );
        }
        self.cipher = Some(CipherState {
            system_title: crate::wire::hex::encode(&glo.system_title),
            manufacturer: glo.manufacturer(),
            invocation_counter: glo.invocation_counter,
            status,
            received: span.received,
        });
    }

    /// Describes the selected span in the Inspector if the selection changed (or `force`: the
    /// scaling changed).
    fn refresh_detail(&mut self, force: bool) {
        self.inspector
            .refresh(self.scaling, self.keys.as_ref(), force);
    }

    /// A click on the tab bar row selects the tab under the cursor.
    pub fn on_tab_click(&mut self, tab: Tab) {
        self.tab = tab;
        self.dirty = true;
    }
}
