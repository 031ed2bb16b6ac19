//! The M-Bus master's readout session as a sans-IO state machine: bytes and the time go in,
//! frames to send and a verdict come out. `kamscope read --protocol mbus` and the tests drive it;
//! only the I/O around it differs.
//!
//! Reading one meter: SND_NKE `10 40 A CS 16` at its primary address (answer E5), or a select by
//! secondary address `68 0B 0B 68 53 FD 52 id(4) man(2) ver med CS 16` (answer E5) and then
//! address FD; then REQ_UD2 `10 7B|5B A CS 16` for each telegram while the last one ends with
//! DIF 1F ("more records follow"), the FCB toggled for each new telegram and kept for a repeat.
//!
//! A scan selects with wildcards (`FFFFFFFF`): no answer means no meter matches; an E5 and a
//! clean RSP_UD from FD means exactly one; a garbled answer or a bad checksum means several
//! answered at once (identical E5s overlay cleanly on the bus, so the REQ_UD2 after a select is
//! where two meters usually show), and the search narrows on the first wildcard digit, 0 to 9.
//!
//! A level converter echoes the master's frame: the exact bytes we sent, when they come back
//! first, are dropped before the answer is judged.

use super::slave::{ACK, CI_SELECT, SELECTED};
use super::{LONG_START, STOP, checksum, encode_long, encode_short, parse};
use serde::Serialize;
use std::fmt;

/// C field of SND_NKE (link reset).
pub const SND_NKE: u8 = 0x40;
/// C field of SND_UD with FCB 0 (the select is sent with it).
pub const SND_UD: u8 = 0x53;
/// C field of REQ_UD2; the FCB is bit 5 (0x5B without, 0x7B with).
pub const REQ_UD2: u8 = 0x5B;
const FCB: u8 = 0x20;
/// Wildcard digit and byte of a secondary address.
const WILD: u8 = 0x0F;

/// A secondary address to select: 8 id digits (most significant first; 0xF is a wildcard),
/// the manufacturer code, version and medium (0xFF bytes are wildcards).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecondaryAddress {
    pub digits: [u8; 8],
    /// As sent, little-endian (KAM: `2D 2C`).
    pub manufacturer: [u8; 2],
    pub version: u8,
    pub medium: u8,
}

impl SecondaryAddress {
    /// Every meter.
    pub const ANY: SecondaryAddress = SecondaryAddress {
        digits: [WILD; 8],
        manufacturer: [0xFF; 2],
        version: 0xFF,
        medium: 0xFF,
    };

    /// `12345678` (id only), or the 16-character form `12345678` `2C2D` `01` `02` (id,
    /// manufacturer code, version, medium, in hex as written on the label); `F` is a wildcard.
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        let bad = || {
            format!(
                "{t:?} is not a secondary address: give 8 digits (F for any digit), or 16 hex digits for id, manufacturer, version and medium"
            )
        };
        if !(t.len() == 8 || t.len() == 16) || !t.is_ascii() {
            return Err(bad());
        }
        let mut a = SecondaryAddress::ANY;
        for (d, c) in a.digits.iter_mut().zip(t[..8].chars()) {
            *d = match c {
                '0'..='9' => c as u8 - b'0',
                'f' | 'F' => WILD,
                _ => return Err(bad()),
            };
        }
        if t.len() == 16 {
            let hex = |s: &str| u8::from_str_radix(s, 16).map_err(|_| bad());
            a.manufacturer = [hex(&t[10..12])?, hex(&t[8..10])?];
            a.version = hex(&t[12..14])?;
            a.medium = hex(&t[14..16])?;
        }
        Ok(a)
    }

    /// The 8 bytes of the select: id BCD least significant byte first, manufacturer, version,
    /// medium.
    pub fn select_bytes(&self) -> [u8; 8] {
        let d = &self.digits;
        [
            (d[6] << 4) | d[7],
            (d[4] << 4) | d[5],
            (d[2] << 4) | d[3],
            (d[0] << 4) | d[1],
            self.manufacturer[0],
            self.manufacturer[1],
            self.version,
            self.medium,
        ]
    }

    /// The select frame.
    pub fn select_frame(&self) -> Vec<u8> {
        encode_long(SND_UD, SELECTED, CI_SELECT, &self.select_bytes())
    }

    fn id_text(&self) -> String {
        self.digits
            .iter()
            .map(|&d| char::from_digit(u32::from(d), 16).map_or('?', |c| c.to_ascii_uppercase()))
            .collect()
    }
}

impl fmt::Display for SecondaryAddress {
    /// The id alone when the rest is any; otherwise the 16-character form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id_text())?;
        if self.manufacturer != [0xFF; 2] || self.version != 0xFF || self.medium != 0xFF {
            write!(
                f,
                "{:02X}{:02X}{:02X}{:02X}",
                self.manufacturer[1], self.manufacturer[0], self.version, self.medium
            )?;
        }
        Ok(())
    }
}

/// Which meter (or meters) to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Primary address 0-250, or 254 ("the one meter on the bus").
    Primary(u8),
    Secondary(SecondaryAddress),
    /// Search the bus by secondary address and list every meter.
    Scan,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Primary(254) => f.write_str("primary address 254 (any one meter)"),
            Target::Primary(a) => write!(f, "primary address {a}"),
            Target::Secondary(s) => write!(f, "secondary address {s}"),
            Target::Scan => f.write_str("every meter (a scan by secondary address)"),
        }
    }
}

/// Timing and limits of a session, in milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MbusOptions {
    pub target: Target,
    /// Tries of each request before giving up (a scan's select is sent once: silence there
    /// means "no meter here", the usual answer).
    pub attempts: u8,
    /// How long to wait for the first byte of an answer after the request went out.
    pub answer_timeout: u64,
    /// Silence inside an answer after which it is judged as it stands.
    pub char_timeout: u64,
    /// Telegrams read at most from one meter (a meter that always says "more follows").
    pub max_telegrams: usize,
}

impl MbusOptions {
    /// Timeouts for the line speed: EN 13757-2 allows an answer to start up to 330 bit times +
    /// 50 ms after the request; twice that, and never under a second (USB adapters and level
    /// converters add their own latency).
    pub fn for_baud(target: Target, baud: u32) -> Self {
        let baud = u64::from(baud.max(1));
        let answer = 2 * (330_000 / baud + 50);
        // 30 characters of 11 bits of silence inside an answer.
        let gap = 30 * 11_000 / baud;
        MbusOptions {
            target,
            attempts: 3,
            answer_timeout: answer.max(1000),
            char_timeout: gap.max(500),
            max_telegrams: 16,
        }
    }
}

/// What the driver must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Send(Vec<u8>),
}

/// The request a session is waiting on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    /// SND_NKE at the primary address.
    Reset,
    /// Select by secondary address.
    Select,
    /// REQ_UD2 for a data telegram.
    Request,
}

impl Step {
    pub fn name(self) -> &'static str {
        match self {
            Step::Reset => "the reset (SND_NKE)",
            Step::Select => "the select by secondary address",
            Step::Request => "the data request (REQ_UD2)",
        }
    }
}

/// A meter a scan found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FoundMeter {
    /// The A field of its RSP_UD.
    pub primary: u8,
    /// Identification number from the fixed header (8 BCD digits).
    pub id: String,
    pub manufacturer: String,
    pub version: u8,
    pub medium: u8,
}

impl FoundMeter {
    pub fn medium_name(&self) -> &'static str {
        super::medium_name(self.medium)
    }
}

/// How a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every telegram came with a good checksum and readable records (a scan: every meter that
    /// answered was listed).
    Complete {
        telegrams: usize,
        meters: usize,
    },
    /// Nothing but perhaps our own echo, after every attempt.
    NoAnswer {
        step: Step,
        attempts: u8,
        echo: bool,
    },
    /// A scan whose wildcard select nobody answered.
    NoMeters {
        echo: bool,
    },
    /// An answer that is not an M-Bus answer (noise, a cut-off frame, a collision).
    Garbled {
        step: Step,
        reason: String,
    },
    /// A whole frame whose checksum does not match.
    BadChecksum {
        expected: u8,
        received: u8,
    },
    /// A telegram (number from 1) whose data records cannot be read past byte `offset`.
    BadRecord {
        telegram: usize,
        offset: usize,
        reason: String,
    },
    /// The meter still said "more follows" after this many telegrams.
    TooManyTelegrams {
        cap: usize,
    },
    /// A scan that could not single out the meters with these ids (several meters share the
    /// id, or a meter acknowledged the select but sent no data).
    ScanUnresolved {
        ids: Vec<String>,
        meters: usize,
    },
    PortError {
        reason: String,
    },
    Cancelled,
}

impl Verdict {
    pub fn ok(&self) -> bool {
        matches!(self, Verdict::Complete { .. })
    }

    /// Something answered, but what came failed a check (exit code 1 of `kamscope read`).
    pub fn answered(&self) -> bool {
        matches!(
            self,
            Verdict::Garbled { .. }
                | Verdict::BadChecksum { .. }
                | Verdict::BadRecord { .. }
                | Verdict::TooManyTelegrams { .. }
                | Verdict::ScanUnresolved { .. }
        )
    }

    /// A short name for scripts.
    pub fn name(&self) -> &'static str {
        match self {
            Verdict::Complete { .. } => "complete",
            Verdict::NoAnswer { .. } => "no-answer",
            Verdict::NoMeters { .. } => "no-meters",
            Verdict::Garbled { .. } => "garbled",
            Verdict::BadChecksum { .. } => "bad-checksum",
            Verdict::BadRecord { .. } => "bad-record",
            Verdict::TooManyTelegrams { .. } => "too-many-telegrams",
            Verdict::ScanUnresolved { .. } => "scan-unresolved",
            Verdict::PortError { .. } => "port-error",
            Verdict::Cancelled => "cancelled",
        }
    }

    /// One sentence for the user.
    pub fn describe(&self) -> String {
        match self {
            Verdict::Complete {
                telegrams,
                meters: 0,
            } => format!(
                "complete: {telegrams} telegram{}, checksums and records good",
                plural(*telegrams)
            ),
            Verdict::Complete { meters, .. } => {
                format!("scan complete: {meters} meter{} found", plural(*meters))
            }
            Verdict::NoMeters { echo } => format!(
                "no meter answered the wildcard select{}: check the bus wiring, the level converter and the speed (M-Bus meters talk at 300, 2400 or 9600 baud 8E1)",
                echoed(*echo)
            ),
            Verdict::NoAnswer {
                step,
                attempts,
                echo,
            } => format!(
                "no answer to {} after {attempts} attempt{}{}: no meter at this address? Scan the bus to find it (--scan, or n in the Readout tab); else check the bus wiring, the level converter and the speed (M-Bus meters talk at 300, 2400 or 9600 baud 8E1)",
                step.name(),
                plural(usize::from(*attempts)),
                echoed(*echo)
            ),
            Verdict::Garbled { step, reason } => format!(
                "unreadable answer to {}: {reason} (two meters at one address, a noisy bus, or the wrong speed or parity? M-Bus uses 8E1)",
                step.name()
            ),
            Verdict::BadChecksum { expected, received } => format!(
                "checksum bad: expected 0x{expected:02X}, got 0x{received:02X} after every attempt (two meters at one address, or a noisy bus)"
            ),
            Verdict::BadRecord {
                telegram,
                offset,
                reason,
            } => format!(
                "telegram {telegram} came with a good checksum, but its data records cannot be read past byte {offset}: {reason}"
            ),
            Verdict::TooManyTelegrams { cap } => format!(
                "the meter still had more data after {cap} telegrams: stopped there, the readout is incomplete"
            ),
            Verdict::ScanUnresolved { ids, meters } => format!(
                "scan found {meters} meter{}, but could not single out the meters matching {} (several meters with one id, or no data after the select): read them by primary address",
                plural(*meters),
                ids.join(", ")
            ),
            Verdict::PortError { reason } => format!("M-Bus port: {reason}"),
            Verdict::Cancelled => "cancelled".into(),
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn echoed(echo: bool) -> &'static str {
    if echo {
        " (only the level converter's echo of our frame came back)"
    } else {
        ""
    }
}

/// Where a session stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Not started.
    Idle,
    /// Waiting for the answer to `step` (`attempt` from 1).
    Waiting {
        step: Step,
        attempt: u8,
    },
    Done(Verdict),
}

/// What came back for a request, judged.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Answer {
    /// Nothing yet, or a frame still arriving.
    Pending,
    Ack,
    Frame(Vec<u8>),
    BadChecksum {
        expected: u8,
        received: u8,
    },
    Garbled(String),
    Silence,
}

#[derive(Debug, Clone)]
struct Request {
    bytes: Vec<u8>,
    step: Step,
    attempt: u8,
    since: u64,
}

/// A readout or scan in progress. Its state is private and moves only through its methods, so
/// no order of calls can break it.
#[derive(Debug, Clone)]
pub struct MbusSession {
    options: MbusOptions,
    phase: Phase,
    request: Option<Request>,
    /// Bytes since the request went out (echo dropped).
    rx: Vec<u8>,
    last_rx: u64,
    /// Our request came back in this exchange.
    echo_now: bool,
    /// Our requests came back at some point (a level converter echoes).
    echo_seen: bool,
    /// Address of the REQ_UD2s: the primary address, or FD after a select.
    address: u8,
    /// FCB of the next new telegram's REQ_UD2.
    fcb: bool,
    telegrams: Vec<Vec<u8>>,
    meters: Vec<FoundMeter>,
    /// Scan: patterns still to try (the next one last), and the one being tried.
    patterns: Vec<[u8; 8]>,
    probing: Option<[u8; 8]>,
    unresolved: Vec<String>,
}

impl MbusSession {
    pub fn new(options: MbusOptions, now: u64) -> Self {
        MbusSession {
            options,
            phase: Phase::Idle,
            request: None,
            rx: Vec::new(),
            last_rx: now,
            echo_now: false,
            echo_seen: false,
            address: SELECTED,
            fcb: true,
            telegrams: Vec::new(),
            meters: Vec::new(),
            patterns: Vec::new(),
            probing: None,
            unresolved: Vec::new(),
        }
    }

    /// Sends the first request. Only the first call does anything.
    pub fn start(&mut self, now: u64) -> Vec<Action> {
        if self.phase != Phase::Idle {
            return Vec::new();
        }
        match self.options.target.clone() {
            Target::Primary(a) => {
                self.address = a;
                self.send(Step::Reset, encode_short(SND_NKE, a).to_vec(), now)
            }
            Target::Secondary(s) => {
                self.address = SELECTED;
                self.send(Step::Select, s.select_frame(), now)
            }
            Target::Scan => {
                self.patterns = vec![[WILD; 8]];
                self.next_probe(now)
            }
        }
    }

    pub fn phase(&self) -> &Phase {
        &self.phase
    }

    pub fn options(&self) -> &MbusOptions {
        &self.options
    }

    pub fn done(&self) -> Option<&Verdict> {
        match &self.phase {
            Phase::Done(v) => Some(v),
            _ => None,
        }
    }

    /// The RSP_UD frames read, in order (whole frames with good checksums).
    pub fn telegrams(&self) -> &[Vec<u8>] {
        &self.telegrams
    }

    /// The meters a scan found so far.
    pub fn meters(&self) -> &[FoundMeter] {
        &self.meters
    }

    /// Whether the level converter echoed our frames.
    pub fn echo_seen(&self) -> bool {
        self.echo_seen
    }

    /// When [`on_tick`](Self::on_tick) must be called next.
    pub fn deadline(&self) -> Option<u64> {
        let r = self.request.as_ref().filter(|_| self.done().is_none())?;
        let first = r.since.saturating_add(self.options.answer_timeout);
        Some(if self.rx.is_empty() {
            first
        } else {
            first.max(self.last_rx.saturating_add(self.options.char_timeout))
        })
    }

    pub fn cancel(&mut self) {
        self.finish(Verdict::Cancelled);
    }

    /// The port could not be opened, written or read: the session ends with that reason.
    pub fn on_port_error(&mut self, reason: String) {
        self.finish(Verdict::PortError { reason });
    }

    /// The port closed under the session.
    pub fn on_link_lost(&mut self, reason: &str) {
        self.finish(Verdict::PortError {
            reason: format!("the port closed ({reason})"),
        });
    }

    fn finish(&mut self, verdict: Verdict) {
        if self.done().is_none() {
            self.phase = Phase::Done(verdict);
        }
    }

    pub fn on_bytes(&mut self, bytes: &[u8], now: u64) -> Vec<Action> {
        if self.done().is_some() || self.request.is_none() {
            return Vec::new();
        }
        self.last_rx = now;
        self.rx.extend_from_slice(bytes);
        match self.judge() {
            // Judged when the line goes quiet, so the rest of a collision does not spill into
            // the next answer.
            Answer::Pending | Answer::Garbled(_) | Answer::Silence => Vec::new(),
            answer => self.answered(answer, now),
        }
    }

    /// Time has passed: an answer that did not come or stopped is judged.
    pub fn on_tick(&mut self, now: u64) -> Vec<Action> {
        match self.deadline() {
            Some(d) if now >= d => {}
            _ => return Vec::new(),
        }
        let answer = match self.judge() {
            Answer::Pending => {
                Answer::Garbled(format!("the frame stopped after {} bytes", self.rx.len()))
            }
            a => a,
        };
        self.answered(answer, now)
    }

    /// Reads what came back so far.
    fn judge(&mut self) -> Answer {
        let Some(request) = &self.request else {
            return Answer::Pending;
        };
        if !self.echo_now {
            if self.rx.len() < request.bytes.len() && request.bytes.starts_with(&self.rx) {
                return if self.rx.is_empty() {
                    Answer::Silence
                } else {
                    Answer::Pending // maybe our echo, still arriving
                };
            }
            if self.rx.starts_with(&request.bytes) {
                self.rx.drain(..request.bytes.len());
                self.echo_now = true;
                self.echo_seen = true;
            }
        }
        let rx = &self.rx;
        let Some(&first) = rx.first() else {
            return Answer::Silence;
        };
        match first {
            ACK if rx.len() == 1 => Answer::Ack,
            ACK => Answer::Garbled(format!("{} more bytes after the E5", rx.len() - 1)),
            LONG_START => {
                let [_, l, l2, start, ..] = rx[..] else {
                    return Answer::Pending;
                };
                if l != l2 || start != LONG_START || l < 3 {
                    return Answer::Garbled(format!(
                        "a long frame header that does not hold together ({})",
                        hex(&rx[..4])
                    ));
                }
                let end = usize::from(l) + 6;
                if rx.len() < end {
                    return Answer::Pending;
                }
                if rx.len() > end {
                    return Answer::Garbled(format!(
                        "{} more bytes after a {end}-byte frame",
                        rx.len() - end
                    ));
                }
                if rx[end - 1] != STOP {
                    return Answer::Garbled(format!(
                        "the frame ends with 0x{:02X}, not the stop byte 16",
                        rx[end - 1]
                    ));
                }
                let expected = checksum(&rx[4..end - 2]);
                let received = rx[end - 2];
                if expected != received {
                    return Answer::BadChecksum { expected, received };
                }
                Answer::Frame(rx.clone())
            }
            b => Answer::Garbled(format!(
                "the answer starts with 0x{b:02X}, not E5 or a long frame ({} bytes)",
                rx.len()
            )),
        }
    }

    fn send(&mut self, step: Step, bytes: Vec<u8>, now: u64) -> Vec<Action> {
        self.phase = Phase::Waiting { step, attempt: 1 };
        self.start_exchange(Request {
            bytes,
            step,
            attempt: 1,
            since: now,
        })
    }

    fn start_exchange(&mut self, request: Request) -> Vec<Action> {
        self.rx.clear();
        self.echo_now = false;
        let action = Action::Send(request.bytes.clone());
        self.phase = Phase::Waiting {
            step: request.step,
            attempt: request.attempt,
        };
        self.request = Some(request);
        vec![action]
    }

    fn request_ud2(&mut self, now: u64) -> Vec<Action> {
        let c = if self.fcb { REQ_UD2 | FCB } else { REQ_UD2 };
        self.send(Step::Request, encode_short(c, self.address).to_vec(), now)
    }

    /// What an answer to the current request leads to.
    fn answered(&mut self, answer: Answer, now: u64) -> Vec<Action> {
        let Some(request) = self.request.clone() else {
            return Vec::new();
        };
        let step = request.step;
        // The answer the step does not expect is as good as garbled.
        let answer = match (step, answer) {
            (Step::Request, Answer::Ack) => {
                Answer::Garbled("an acknowledgement (E5) instead of a data telegram".into())
            }
            (Step::Reset | Step::Select, Answer::Frame(f)) => Answer::Garbled(format!(
                "a {}-byte frame instead of the acknowledgement (E5)",
                f.len()
            )),
            (_, a) => a,
        };
        let scanning = self.options.target == Target::Scan;
        let failed = matches!(
            answer,
            Answer::Silence | Answer::Garbled(_) | Answer::BadChecksum { .. }
        );
        if scanning && failed {
            let collision = !matches!(answer, Answer::Silence);
            match step {
                // Silence: no meter matches. A garbled answer: several do.
                Step::Select if collision => return self.narrow(now),
                Step::Select => return self.next_probe(now),
                Step::Request if collision => return self.narrow(now),
                _ => {}
            }
        }
        // Retry: the same frame (same FCB: the meter sends the same telegram again).
        if failed && request.attempt < self.options.attempts {
            return self.start_exchange(Request {
                attempt: request.attempt + 1,
                since: now,
                ..request
            });
        }
        match answer {
            Answer::Pending | Answer::Silence if scanning => {
                // Acknowledged the select, then no data: it cannot be listed.
                self.unresolved_probe();
                self.next_probe(now)
            }
            Answer::Pending | Answer::Silence => {
                self.finish(Verdict::NoAnswer {
                    step,
                    attempts: request.attempt,
                    echo: self.echo_seen,
                });
                Vec::new()
            }
            Answer::Garbled(reason) => {
                self.finish(Verdict::Garbled { step, reason });
                Vec::new()
            }
            Answer::BadChecksum { expected, received } => {
                self.finish(Verdict::BadChecksum { expected, received });
                Vec::new()
            }
            Answer::Ack => {
                // A reset or select: the first telegram is asked for with the FCB set.
                self.fcb = true;
                self.request_ud2(now)
            }
            Answer::Frame(frame) if scanning => {
                self.found(&frame);
                self.next_probe(now)
            }
            Answer::Frame(frame) => self.telegram(frame, now),
        }
    }

    fn telegram(&mut self, frame: Vec<u8>, now: u64) -> Vec<Action> {
        let records = parse(&frame).and_then(|t| t.data_records(&frame));
        self.telegrams.push(frame);
        let n = self.telegrams.len();
        if let Some(records) = &records
            && let Some((offset, reason)) = &records.error
        {
            self.finish(Verdict::BadRecord {
                telegram: n,
                offset: *offset,
                reason: reason.clone(),
            });
            return Vec::new();
        }
        if !records.is_some_and(|r| r.more_follows()) {
            self.finish(Verdict::Complete {
                telegrams: n,
                meters: 0,
            });
            return Vec::new();
        }
        if n >= self.options.max_telegrams {
            self.finish(Verdict::TooManyTelegrams {
                cap: self.options.max_telegrams,
            });
            return Vec::new();
        }
        self.fcb = !self.fcb;
        self.request_ud2(now)
    }

    /// Scan: a clean RSP_UD from the selected meter.
    fn found(&mut self, frame: &[u8]) {
        let Some(t) = parse(frame) else {
            return;
        };
        let Some(h) = t.header else {
            // A telegram without the fixed header says nothing about who sent it.
            self.unresolved_probe();
            return;
        };
        let meter = FoundMeter {
            primary: t.address,
            id: h.id,
            manufacturer: h.manufacturer,
            version: h.version,
            medium: h.medium,
        };
        if !self.meters.contains(&meter) {
            self.meters.push(meter);
        }
    }

    fn unresolved_probe(&mut self) {
        if let Some(p) = self.probing {
            let id = SecondaryAddress {
                digits: p,
                ..SecondaryAddress::ANY
            };
            self.unresolved.push(id.to_string());
        }
    }

    /// Several meters matched the pattern being tried: try each value of its first wildcard.
    fn narrow(&mut self, now: u64) -> Vec<Action> {
        if let Some(p) = self.probing {
            match p.iter().position(|&d| d == WILD) {
                Some(i) => {
                    for digit in (0..=9).rev() {
                        let mut child = p;
                        child[i] = digit;
                        self.patterns.push(child);
                    }
                }
                // Every digit given and still several answer: they share the id.
                None => self.unresolved_probe(),
            }
        }
        self.next_probe(now)
    }

    fn next_probe(&mut self, now: u64) -> Vec<Action> {
        let Some(pattern) = self.patterns.pop() else {
            self.probing = None;
            let meters = self.meters.len();
            self.finish(if !self.unresolved.is_empty() {
                Verdict::ScanUnresolved {
                    ids: self.unresolved.clone(),
                    meters,
                }
            } else if meters == 0 {
                Verdict::NoMeters {
                    echo: self.echo_seen,
                }
            } else {
                Verdict::Complete {
                    telegrams: 0,
                    meters,
                }
            });
            return Vec::new();
        };
        self.probing = Some(pattern);
        self.address = SELECTED;
        let select = SecondaryAddress {
            digits: pattern,
            ..SecondaryAddress::ANY
        };
        self.send(Step::Select, select.select_frame(), now)
    }
}

fn hex(b: &[u8]) -> String {
    let v: Vec<String> = b.iter().map(|x| format!("{x:02X}")).collect();
    v.join(" ")
}

#[cfg(test)]
mod tests {
    use super::super::slave::tests::kam;
    use super::super::slave::{Reply, Slave};
    use super::*;

    /// Data records of a telegram; `more`: ends with DIF 1F.
    fn records(n: usize, more: bool) -> Vec<u8> {
        let mut r = vec![0x04, 0x03];
        r.extend_from_slice(&(1000 * (n as u32 + 1)).to_le_bytes());
        if more {
            r.push(0x1F);
        }
        r
    }

    /// A bus of slaves: what the master hears after each frame it sends. Several answers at
    /// once overlay as a wired AND (a space bit wins), byte by byte.
    struct Bus {
        slaves: Vec<Slave>,
        telegrams: usize,
        echo: bool,
    }

    impl Bus {
        fn new(ids: &[(u8, u32)], telegrams: usize) -> Self {
            Bus {
                slaves: ids.iter().map(|&(primary, id)| kam(primary, id)).collect(),
                telegrams,
                echo: false,
            }
        }

        fn hear(&mut self, frame: &[u8]) -> Vec<u8> {
            let n = self.telegrams;
            let mut answers: Vec<Vec<u8>> = Vec::new();
            for s in &mut self.slaves {
                let reply = s.on_frame(frame, n);
                if reply != Reply::Nothing {
                    // Each meter measures its own energy: twins differ in more than the A field.
                    let own = u32::from(s.identity.primary) * 7919;
                    answers.push(s.reply_bytes(reply, |i| {
                        let mut r = records(i, i + 1 < n);
                        r[2..6].copy_from_slice(&(1000 * (i as u32 + 1) + own).to_le_bytes());
                        r
                    }));
                }
            }
            let len = answers.iter().map(Vec::len).max().unwrap_or(0);
            let mut heard: Vec<u8> = (0..len)
                .map(|i| {
                    answers
                        .iter()
                        .fold(0xFF, |acc, a| acc & a.get(i).copied().unwrap_or(0xFF))
                })
                .collect();
            if self.echo {
                heard.splice(0..0, frame.iter().copied());
            }
            heard
        }
    }

    /// Runs a session against the bus until it ends; returns every frame sent.
    fn run(session: &mut MbusSession, bus: &mut Bus) -> Vec<Vec<u8>> {
        let mut now = 0;
        let mut sent = Vec::new();
        let mut actions = session.start(now);
        while session.done().is_none() {
            assert!(sent.len() < 500, "runaway session");
            if let Some(Action::Send(frame)) = actions.pop() {
                sent.push(frame.clone());
                let heard = bus.hear(&frame);
                now += 30;
                // Byte by byte: nothing may depend on how the answer is chunked.
                actions = Vec::new();
                for b in heard {
                    actions.extend(session.on_bytes(&[b], now));
                    now += 5;
                }
                if !actions.is_empty() {
                    continue;
                }
            }
            now = session.deadline().unwrap_or(now).max(now);
            actions = session.on_tick(now);
        }
        sent
    }

    fn options(target: Target) -> MbusOptions {
        MbusOptions::for_baud(target, 2400)
    }

    #[test]
    fn primary_readout_resets_then_reads_every_telegram_with_fcb_toggling() {
        let mut bus = Bus::new(&[(5, 12345678)], 3);
        let mut s = MbusSession::new(options(Target::Primary(5)), 0);
        let sent = run(&mut s, &mut bus);
        assert_eq!(
            sent,
            [
                vec![0x10, 0x40, 0x05, 0x45, 0x16],
                vec![0x10, 0x7B, 0x05, 0x80, 0x16],
                vec![0x10, 0x5B, 0x05, 0x60, 0x16],
                vec![0x10, 0x7B, 0x05, 0x80, 0x16],
            ]
        );
        assert_eq!(
            s.done(),
            Some(&Verdict::Complete {
                telegrams: 3,
                meters: 0
            })
        );
        // Three different telegrams, in order (the values count up).
        let values: Vec<u32> = s
            .telegrams()
            .iter()
            .map(|t| u32::from_le_bytes([t[21], t[22], t[23], t[24]]) - 5 * 7919)
            .collect();
        assert_eq!(values, [1000, 2000, 3000]);
        assert!(!s.echo_seen());
    }

    #[test]
    fn the_echo_of_a_level_converter_is_dropped() {
        let mut bus = Bus::new(&[(5, 12345678)], 2);
        bus.echo = true;
        let mut s = MbusSession::new(options(Target::Primary(5)), 0);
        run(&mut s, &mut bus);
        assert!(s.done().unwrap().ok(), "{:?}", s.done());
        assert!(s.echo_seen());
        assert_eq!(s.telegrams().len(), 2);
    }

    #[test]
    fn nobody_at_the_address_is_retried_then_no_answer() {
        let mut bus = Bus::new(&[(5, 12345678)], 1);
        bus.echo = true;
        let mut s = MbusSession::new(options(Target::Primary(6)), 0);
        let sent = run(&mut s, &mut bus);
        assert_eq!(sent.len(), 3, "three attempts");
        assert!(sent.iter().all(|f| f == &[0x10, 0x40, 0x06, 0x46, 0x16]));
        let v = s.done().unwrap();
        assert_eq!(
            v,
            &Verdict::NoAnswer {
                step: Step::Reset,
                attempts: 3,
                echo: true
            }
        );
        assert!(!v.answered());
        assert!(
            v.describe()
                .starts_with("no answer to the reset (SND_NKE) after 3 attempts (only")
        );
    }

    #[test]
    fn a_lost_telegram_is_asked_for_again_with_the_same_fcb() {
        let mut s = MbusSession::new(options(Target::Primary(1)), 0);
        s.start(0);
        let mut slave = kam(1, 1);
        let mut a = s.on_bytes(&[ACK], 10);
        assert_eq!(a, vec![Action::Send(vec![0x10, 0x7B, 0x01, 0x7C, 0x16])]);
        let Some(Action::Send(req)) = a.pop() else {
            unreachable!()
        };
        slave.on_frame(&[0x10, 0x40, 0x01, 0x41, 0x16], 2);
        let first = slave.on_frame(&req, 2);
        let t1 = slave.reply_bytes(first, |i| records(i, i == 0));
        let a = s.on_bytes(&t1, 50);
        let Some(Action::Send(req2)) = a.first().cloned() else {
            panic!("{a:?}")
        };
        assert_eq!(req2[1], 0x5B, "FCB toggled for the next telegram");
        // The answer is lost: after the timeout the same request goes out again.
        assert!(s.on_tick(50 + 999).is_empty());
        assert_eq!(s.on_tick(50 + 1000), vec![Action::Send(req2.clone())]);
        let reply = slave.on_frame(&req2, 2);
        assert_eq!(reply, Reply::Telegram(1));
        let again = slave.on_frame(&req2, 2);
        assert_eq!(again, Reply::Telegram(1), "the same FCB: the same telegram");
        let t2 = slave.reply_bytes(again, |i| records(i, i == 0));
        assert!(s.on_bytes(&t2, 1100).is_empty());
        assert_eq!(s.done().map(Verdict::ok), Some(true));
    }

    #[test]
    fn bad_checksum_and_garbage_are_retried_then_judged() {
        let mut s = MbusSession::new(options(Target::Primary(1)), 0);
        s.start(0);
        s.on_bytes(&[ACK], 10);
        let mut slave = kam(1, 1);
        let mut bad = slave.rsp_ud(&records(0, false));
        let n = bad.len();
        bad[n - 2] ^= 0x10;
        let mut t = 20;
        for _ in 0..3 {
            s.on_bytes(&bad, t);
            t += 2000;
        }
        let v = s.done().unwrap();
        assert!(matches!(v, Verdict::BadChecksum { .. }), "{v:?}");
        assert!(v.answered());

        let mut s = MbusSession::new(
            MbusOptions {
                attempts: 1,
                ..options(Target::Primary(1))
            },
            0,
        );
        s.start(0);
        s.on_bytes(&[0x00, 0x42], 10);
        assert!(s.done().is_none(), "judged when the line goes quiet");
        s.on_tick(s.deadline().unwrap());
        let v = s.done().unwrap();
        assert!(
            matches!(v, Verdict::Garbled { step: Step::Reset, reason } if reason.contains("0x00")),
            "{v:?}"
        );
    }

    #[test]
    fn secondary_select_then_talks_to_fd() {
        let mut bus = Bus::new(&[(0, 12345678), (0, 87654321)], 2);
        let addr = SecondaryAddress::parse("12345678").unwrap();
        let mut s = MbusSession::new(options(Target::Secondary(addr)), 0);
        let sent = run(&mut s, &mut bus);
        assert_eq!(
            sent[0],
            [
                0x68, 0x0B, 0x0B, 0x68, 0x53, 0xFD, 0x52, 0x78, 0x56, 0x34, 0x12, 0xFF, 0xFF, 0xFF,
                0xFF, 0xB2, 0x16
            ]
        );
        assert_eq!(&sent[1][..3], &[0x10, 0x7B, 0xFD]);
        assert!(s.done().unwrap().ok(), "{:?}", s.done());
        let h = parse(&s.telegrams()[0]).unwrap().header.unwrap();
        assert_eq!(h.id, "12345678");

        let none = SecondaryAddress::parse("11111111").unwrap();
        let mut s = MbusSession::new(options(Target::Secondary(none)), 0);
        run(&mut s, &mut bus);
        assert!(matches!(
            s.done(),
            Some(Verdict::NoAnswer {
                step: Step::Select,
                attempts: 3,
                ..
            })
        ));
    }

    #[test]
    fn scan_narrows_on_collisions_and_lists_every_meter() {
        // Two meters differing only in the last digit, a third elsewhere.
        let mut bus = Bus::new(&[(3, 12345678), (9, 12345671), (4, 50000000)], 2);
        bus.echo = true;
        let mut s = MbusSession::new(options(Target::Scan), 0);
        run(&mut s, &mut bus);
        let mut found: Vec<(u8, String)> = s
            .meters()
            .iter()
            .map(|m| (m.primary, m.id.clone()))
            .collect();
        found.sort();
        assert_eq!(
            found,
            [
                (3, "12345678".to_string()),
                (4, "50000000".to_string()),
                (9, "12345671".to_string())
            ]
        );
        assert_eq!(
            s.done(),
            Some(&Verdict::Complete {
                telegrams: 0,
                meters: 3
            })
        );
        let m = &s.meters()[0];
        assert_eq!(
            (m.manufacturer.as_str(), m.version, m.medium_name()),
            ("KAM", 1, "electricity")
        );
    }

    #[test]
    fn scan_of_an_empty_bus_and_of_twins() {
        let mut bus = Bus::new(&[], 1);
        let mut s = MbusSession::new(options(Target::Scan), 0);
        let sent = run(&mut s, &mut bus);
        assert_eq!(sent.len(), 1, "silence on the first select ends it");
        assert!(
            s.done()
                .unwrap()
                .describe()
                .starts_with("no meter answered")
        );

        // Two meters with one id (the seed: a meter number need not be unique) and one other.
        let mut bus = Bus::new(&[(1, 11111111), (2, 11111111), (3, 22222222)], 1);
        let mut s = MbusSession::new(options(Target::Scan), 0);
        run(&mut s, &mut bus);
        match s.done().unwrap() {
            Verdict::ScanUnresolved { ids, meters } => {
                assert_eq!(ids, &["11111111".to_string()]);
                assert_eq!(*meters, 1);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_meter_that_never_stops_is_capped() {
        let mut s = MbusSession::new(
            MbusOptions {
                max_telegrams: 2,
                ..options(Target::Primary(1))
            },
            0,
        );
        s.start(0);
        s.on_bytes(&[ACK], 1);
        let mut slave = kam(1, 1);
        s.on_bytes(&slave.rsp_ud(&records(0, true)), 2);
        s.on_bytes(&slave.rsp_ud(&records(1, true)), 3);
        assert_eq!(s.done(), Some(&Verdict::TooManyTelegrams { cap: 2 }));
        assert_eq!(s.telegrams().len(), 2);
    }

    #[test]
    fn unreadable_records_are_reported() {
        let mut s = MbusSession::new(options(Target::Primary(1)), 0);
        s.start(0);
        s.on_bytes(&[ACK], 1);
        let mut slave = kam(1, 1);
        // An int32 record cut after two bytes.
        s.on_bytes(&slave.rsp_ud(&[0x04, 0x03, 0x01, 0x02]), 2);
        let v = s.done().unwrap();
        assert!(
            matches!(
                v,
                Verdict::BadRecord {
                    telegram: 1,
                    offset: 19,
                    ..
                }
            ),
            "{v:?}"
        );
        assert!(v.answered());
    }

    #[test]
    fn secondary_address_forms() {
        let a = SecondaryAddress::parse("1234567F").unwrap();
        assert_eq!(a.select_bytes()[..4], [0x7F, 0x56, 0x34, 0x12]);
        assert_eq!(a.to_string(), "1234567F");
        let b = SecondaryAddress::parse("123456782C2D0102").unwrap();
        assert_eq!(b.select_bytes()[4..], [0x2D, 0x2C, 0x01, 0x02]);
        assert_eq!(b.to_string(), "123456782C2D0102");
        for bad in ["1234567", "12345678X", "1234567A", "", "１２３４５６７８"] {
            assert!(SecondaryAddress::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn no_call_order_breaks_the_session() {
        let mut s = MbusSession::new(
            MbusOptions {
                answer_timeout: u64::MAX,
                char_timeout: u64::MAX,
                ..options(Target::Scan)
            },
            u64::MAX,
        );
        assert!(s.on_bytes(&[ACK], 0).is_empty(), "bytes before start");
        assert_eq!(s.start(u64::MAX).len(), 1);
        assert!(s.start(u64::MAX).is_empty());
        assert_eq!(s.deadline(), Some(u64::MAX));
        s.on_bytes(&[0x68, 0xFF, 0xFF, 0x68], u64::MAX);
        s.on_tick(u64::MAX);
        s.on_link_lost("gone");
        s.on_port_error("gone".into());
        s.cancel();
        assert!(s.done().is_some());
        assert_eq!(s.deadline(), None);
    }
}
