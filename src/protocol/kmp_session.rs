//! The KMP readout session as a sans-IO state machine, the same shape as the IEC 61107 one: bytes
//! and the time go in, frames to send and a verdict come out.
//!
//! One request at a time: send it, wait for the answer frame (CR-terminated, checked), retry
//! after a silent timeout or a failed check, then the next request. An optical head echoes what
//! is sent: the echo is dropped before the answer is looked for.
//!
//! The 685-382 (ASCII-hex) gets the request sequence of the seed's driver: hello, the two memory
//! reads, the counters (0x90) and the tariff energies (0x95 00). A binary KMP meter gets GetType,
//! GetSerialNo and GetRegister for the standard electricity registers, eight at a time.

use super::check::{Check, CheckValue};
use super::kmp::{self, CR, Direction, Frame, Variant};
use super::kmp_register::{self as reg, Register};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmpOptions {
    pub variant: Variant,
    /// Tries of each request before giving up.
    pub attempts: u8,
    /// How long to wait for an answer after sending a request, in milliseconds.
    pub answer_timeout: u64,
}

impl KmpOptions {
    pub fn new(variant: Variant) -> Self {
        KmpOptions {
            variant,
            attempts: 3,
            answer_timeout: 1500,
        }
    }
}

/// What the driver must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Send(Vec<u8>),
}

/// One request of the sequence and what it is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub what: &'static str,
    pub command: u8,
    pub data: Vec<u8>,
    pub wire: Vec<u8>,
}

/// How a KMP readout ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every request answered, every check good.
    Complete {
        answers: usize,
    },
    /// An answer failed its check (LRC or CRC) on every try.
    BadCheck {
        request: &'static str,
        check: Check,
    },
    /// The meter answered some requests, then not this one.
    Incomplete {
        answered: usize,
        request: &'static str,
    },
    /// An answer whose payload does not fit the command's layout, or to another command.
    Garbled {
        reason: String,
    },
    /// Nothing but our own request came back: the head sees itself.
    EchoOnly,
    /// No answer to the first request after every attempt.
    NoAnswer {
        attempts: u8,
    },
    /// The port could not be opened or failed.
    PortError {
        reason: String,
    },
    Cancelled,
}

impl Verdict {
    pub fn ok(&self) -> bool {
        matches!(self, Verdict::Complete { .. })
    }

    /// Whether the meter answered at all (exit code 1 rather than 2 when not ok).
    pub fn answered(&self) -> bool {
        matches!(
            self,
            Verdict::Complete { .. }
                | Verdict::BadCheck { .. }
                | Verdict::Incomplete { .. }
                | Verdict::Garbled { .. }
        )
    }

    /// One sentence for the user.
    pub fn describe(&self) -> String {
        match self {
            Verdict::Complete { answers } => {
                format!("complete: {answers} answers, every check good")
            }
            Verdict::BadCheck { request, check } => format!(
                "the answer to the {request} request failed its {} check on every try (expected {}, got {}): do not trust it",
                check.name, check.expected, check.actual
            ),
            Verdict::Incomplete { answered, request } => format!(
                "incomplete: the meter answered {answered} request(s), then not the {request} request"
            ),
            Verdict::Garbled { reason } => format!("unreadable answer: {reason}"),
            Verdict::EchoOnly => "only our own request came back: the head sees itself (check its orientation and that it sits on the meter's optical port)".into(),
            Verdict::NoAnswer { attempts } => format!(
                "no answer after {attempts} attempts: check the head's position, the port and its speed (KMP: 1200 baud), the KMP variant (the 685-382 speaks ASCII-hex, heat and Omnipower meters binary), and wake the meter"
            ),
            Verdict::PortError { reason } => format!("optical port: {reason}"),
            Verdict::Cancelled => "cancelled".into(),
        }
    }
}

/// The requests of a readout, in order.
pub fn requests(variant: Variant) -> Vec<Request> {
    match variant {
        Variant::AsciiHex => {
            let r = |what, command, data: &[u8]| Request {
                what,
                command,
                data: data.to_vec(),
                wire: reg::ascii_frame(Direction::Request, command, data),
            };
            vec![
                r("hello", reg::ASCII_HELLO, &[]),
                r(
                    "identity memory read",
                    reg::ASCII_READ_MEMORY,
                    &reg::MEMORY_READ_IDENTITY,
                ),
                r(
                    "second memory read",
                    reg::ASCII_READ_MEMORY,
                    &reg::MEMORY_READ_SECOND,
                ),
                r("counters", reg::ASCII_READ_COUNTERS, &[]),
                r("tariff energies", reg::ASCII_READ_TARIFFS, &[0x00]),
            ]
        }
        Variant::Binary => {
            let r = |what, command, data: Vec<u8>| Request {
                what,
                command,
                wire: reg::binary_frame(Direction::Request, command, &data),
                data,
            };
            let mut out = vec![
                r("GetType", reg::GET_TYPE, Vec::new()),
                r("GetSerialNo", reg::GET_SERIAL_NO, Vec::new()),
            ];
            for ids in reg::ELECTRICITY_REGISTERS.chunks(reg::MAX_REGISTERS_PER_REQUEST) {
                out.push(r(
                    "GetRegister",
                    reg::GET_REGISTER,
                    reg::encode_register_request(ids),
                ));
            }
            out
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Not started yet.
    Idle,
    /// Waiting for the answer to request `step`, try `attempt`, sent at `since`.
    Waiting {
        step: usize,
        attempt: u8,
        since: u64,
    },
    Done(Verdict),
}

/// A KMP readout in progress. Its state moves only through its methods.
#[derive(Debug, Clone)]
pub struct KmpSession {
    options: KmpOptions,
    requests: Vec<Request>,
    phase: Phase,
    /// Bytes since the current request went out.
    rx: Vec<u8>,
    echo_seen: bool,
    /// Whether anything but an echo came back.
    answered_any: bool,
    /// The last failed check of the current request.
    failed_check: Option<Check>,
    registers: Vec<Register>,
    answers: usize,
}

impl KmpSession {
    pub fn new(options: KmpOptions) -> Self {
        KmpSession {
            requests: requests(options.variant),
            options,
            phase: Phase::Idle,
            rx: Vec::new(),
            echo_seen: false,
            answered_any: false,
            failed_check: None,
            registers: Vec::new(),
            answers: 0,
        }
    }

    /// Sends the first request. Only the first call does anything.
    pub fn start(&mut self, now: u64) -> Vec<Action> {
        if self.phase != Phase::Idle {
            return Vec::new();
        }
        self.send(0, 1, now)
    }

    fn send(&mut self, step: usize, attempt: u8, now: u64) -> Vec<Action> {
        self.rx.clear();
        self.phase = Phase::Waiting {
            step,
            attempt,
            since: now,
        };
        vec![Action::Send(self.requests[step].wire.clone())]
    }

    pub fn options(&self) -> &KmpOptions {
        &self.options
    }

    pub fn phase(&self) -> &Phase {
        &self.phase
    }

    /// Request number and count, for progress.
    pub fn progress(&self) -> (usize, usize) {
        let done = match self.phase {
            Phase::Idle => 0,
            Phase::Waiting { step, .. } => step,
            Phase::Done(_) => self.answers,
        };
        (done, self.requests.len())
    }

    pub fn echo_seen(&self) -> bool {
        self.echo_seen
    }

    /// The registers decoded so far, in request order.
    pub fn registers(&self) -> &[Register] {
        &self.registers
    }

    pub fn done(&self) -> Option<&Verdict> {
        match &self.phase {
            Phase::Done(v) => Some(v),
            _ => None,
        }
    }

    pub fn deadline(&self) -> Option<u64> {
        match self.phase {
            Phase::Waiting { since, .. } => Some(since.saturating_add(self.options.answer_timeout)),
            _ => None,
        }
    }

    pub fn cancel(&mut self) {
        if self.done().is_none() {
            self.phase = Phase::Done(Verdict::Cancelled);
        }
    }

    pub fn on_port_error(&mut self, reason: String) {
        if self.done().is_none() {
            self.phase = Phase::Done(Verdict::PortError { reason });
        }
    }

    /// The port closed or failed.
    pub fn on_link_lost(&mut self, reason: &str) {
        if self.done().is_some() {
            return;
        }
        self.phase = Phase::Done(match self.phase {
            Phase::Waiting { step, .. } if self.answers > 0 => Verdict::Incomplete {
                answered: self.answers,
                request: self.requests[step].what,
            },
            _ => Verdict::PortError {
                reason: reason.to_string(),
            },
        });
    }

    pub fn on_bytes(&mut self, bytes: &[u8], now: u64) -> Vec<Action> {
        let Phase::Waiting { step, attempt, .. } = self.phase else {
            return Vec::new();
        };
        self.rx.extend_from_slice(bytes);
        let request = &self.requests[step].wire;
        // The echo may still be arriving.
        if self.rx.len() < request.len() && request.starts_with(&self.rx) {
            return Vec::new();
        }
        if self.rx.starts_with(request) {
            self.rx.drain(..request.len());
            self.echo_seen = true;
        }
        let Some(frame) = self.answer_frame() else {
            return Vec::new();
        };
        self.answered_any = true;
        self.on_answer(step, attempt, frame, now)
    }

    /// The first complete answer frame in what came back, if one did.
    fn answer_frame(&mut self) -> Option<Result<Frame, usize>> {
        let start = match self.options.variant {
            Variant::AsciiHex => b'H',
            Variant::Binary => 0x40,
        };
        let at = self.rx.iter().position(|&b| b == start)?;
        let cr = self.rx[at..].iter().position(|&b| b == CR)?;
        let end = at + cr + 1;
        let frame = kmp::parse(&self.rx[at..end]).ok_or(end);
        self.rx.drain(..end);
        Some(frame)
    }

    fn on_answer(
        &mut self,
        step: usize,
        attempt: u8,
        frame: Result<Frame, usize>,
        now: u64,
    ) -> Vec<Action> {
        let request = self.requests[step].clone();
        let frame = match frame {
            Ok(f) if f.direction == Direction::Response => f,
            // Noise, a damaged binary frame (its CRC fails, so it is not recognised as one):
            // asked again like a failed check.
            _ => {
                self.failed_check = Some(Check::compare(
                    "frame",
                    CheckValue::Text("a KMP answer"),
                    CheckValue::Text("unreadable bytes"),
                ));
                return self.retry(step, attempt, now);
            }
        };
        if let Some(bad) = frame.checks.iter().find(|c| !c.ok) {
            self.failed_check = Some(*bad);
            return self.retry(step, attempt, now);
        }
        if frame.command() != Some(request.command) {
            self.phase = Phase::Done(Verdict::Garbled {
                reason: format!(
                    "the {} request (command 0x{:02X}) was answered with command {}",
                    request.what,
                    request.command,
                    frame
                        .command()
                        .map_or_else(|| "none".into(), |c| format!("0x{c:02X}"))
                ),
            });
            return Vec::new();
        }
        let decoded = match self.options.variant {
            Variant::AsciiHex => {
                reg::decode_ascii_response(request.command, Some(&request.data), frame.data())
            }
            Variant::Binary => {
                reg::decode_binary(Direction::Response, request.command, frame.data())
            }
        };
        match decoded {
            Some(Ok(regs)) => self
                .registers
                .extend(regs.into_iter().filter(|r| r.named || r.id.is_some())),
            Some(Err(e)) => {
                self.phase = Phase::Done(Verdict::Garbled {
                    reason: format!("the answer to the {} request: {e}", request.what),
                });
                return Vec::new();
            }
            None => {}
        }
        self.answers += 1;
        self.failed_check = None;
        if step + 1 < self.requests.len() {
            self.send(step + 1, 1, now)
        } else {
            self.phase = Phase::Done(Verdict::Complete {
                answers: self.answers,
            });
            Vec::new()
        }
    }

    fn retry(&mut self, step: usize, attempt: u8, now: u64) -> Vec<Action> {
        if attempt < self.options.attempts {
            return self.send(step, attempt + 1, now);
        }
        let what = self.requests[step].what;
        self.phase = Phase::Done(match self.failed_check.take() {
            Some(check) => Verdict::BadCheck {
                request: what,
                check,
            },
            None if self.answers > 0 => Verdict::Incomplete {
                answered: self.answers,
                request: what,
            },
            None if self.echo_seen && !self.answered_any => Verdict::EchoOnly,
            None => Verdict::NoAnswer {
                attempts: self.options.attempts,
            },
        });
        Vec::new()
    }

    /// Time has passed: a request unanswered for the answer timeout is sent again.
    pub fn on_tick(&mut self, now: u64) -> Vec<Action> {
        let (Some(deadline), Phase::Waiting { step, attempt, .. }) = (self.deadline(), &self.phase)
        else {
            return Vec::new();
        };
        if now < deadline {
            return Vec::new();
        }
        let (step, attempt) = (*step, *attempt);
        self.retry(step, attempt, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::kmp_register::{Meter685382, RegisterValue, ascii_frame, binary_frame};

    fn meter() -> Meter685382 {
        Meter685382 {
            meter_type: *b"685382OK10",
            meter_id: 123_456,
            customer_no: 42,
            total_kwh: 9032,
            tariff1_kwh: 9031,
            tariff2_kwh: 1,
            operating_hours: 57_037,
            reset_counter: 903_233,
            peak_power_w: 1559,
            production_no: 7,
        }
    }

    /// Runs a session against a closure that answers each request's wire bytes.
    fn run(options: KmpOptions, mut answer: impl FnMut(&[u8]) -> Vec<u8>) -> (KmpSession, Verdict) {
        let mut s = KmpSession::new(options);
        let mut now = 0;
        let mut actions = s.start(now);
        for _ in 0..100 {
            for Action::Send(bytes) in std::mem::take(&mut actions) {
                let reply = answer(&bytes);
                now += 50;
                if reply.is_empty() {
                    now += 5000;
                    actions = s.on_tick(now);
                } else {
                    actions = s.on_bytes(&reply, now);
                    if actions.is_empty() && s.done().is_none() {
                        now += 5000;
                        actions = s.on_tick(now);
                    }
                }
            }
            if let Some(v) = s.done() {
                let v = v.clone();
                return (s, v);
            }
        }
        panic!("session never ended");
    }

    fn ascii_meter(echo: bool) -> impl FnMut(&[u8]) -> Vec<u8> {
        let m = meter();
        move |req| {
            let Some(f) = kmp::parse(req) else {
                return Vec::new();
            };
            let mut out = if echo { req.to_vec() } else { Vec::new() };
            if let Some(d) = m.answer(f.command().unwrap(), f.data()) {
                out.extend(ascii_frame(Direction::Response, f.command().unwrap(), &d));
            }
            out
        }
    }

    #[test]
    fn a_685_382_reads_completely_with_and_without_echo() {
        for echo in [false, true] {
            let (s, v) = run(KmpOptions::new(Variant::AsciiHex), ascii_meter(echo));
            assert_eq!(v, Verdict::Complete { answers: 5 }, "{}", v.describe());
            assert_eq!(s.echo_seen(), echo);
            let total = s
                .registers()
                .iter()
                .find(|r| r.name == "Total energy")
                .unwrap();
            assert_eq!((total.value(), total.unit), (Some(9032.0), Some("kWh")));
            assert!(s.registers().iter().any(|r| r.name == "Energy tariff 2"));
            assert!(
                s.registers().iter().all(|r| r.named),
                "unnamed words stay out"
            );
        }
    }

    #[test]
    fn a_bad_lrc_is_retried_then_reported() {
        let mut inner = ascii_meter(false);
        let (_, v) = run(KmpOptions::new(Variant::AsciiHex), |req| {
            let mut a = inner(req);
            if req == b"@FE9072\r" {
                // Damage one hex digit of the first word.
                a[6] = if a[6] == b'1' { b'2' } else { b'1' };
            }
            a
        });
        assert!(
            matches!(&v, Verdict::BadCheck { request: "counters", check } if check.name == "LRC"),
            "{v:?}"
        );
        assert!(v.answered() && !v.ok());
    }

    #[test]
    fn silence_echo_and_a_stop_half_way() {
        let (_, v) = run(KmpOptions::new(Variant::AsciiHex), |_| Vec::new());
        assert_eq!(v, Verdict::NoAnswer { attempts: 3 });
        assert!(!v.answered());
        let (_, v) = run(KmpOptions::new(Variant::AsciiHex), <[u8]>::to_vec);
        assert_eq!(v, Verdict::EchoOnly);
        let mut inner = ascii_meter(false);
        let (_, v) = run(KmpOptions::new(Variant::AsciiHex), |req| {
            if req.starts_with(b"@FE90") {
                Vec::new()
            } else {
                inner(req)
            }
        });
        assert_eq!(
            v,
            Verdict::Incomplete {
                answered: 3,
                request: "counters"
            }
        );
        assert!(v.describe().contains("counters"));
    }

    #[test]
    fn a_binary_meter_reads_its_registers() {
        let (s, v) = run(KmpOptions::new(Variant::Binary), |req| {
            let Some(f) = kmp::parse(req) else {
                return Vec::new();
            };
            let cmd = f.command().unwrap();
            let data = match cmd {
                reg::GET_TYPE => vec![0x00, 0x2A, 0x01, 0x03],
                reg::GET_SERIAL_NO => 123_456u32.to_be_bytes().to_vec(),
                reg::GET_REGISTER => {
                    let ids = reg::decode_register_request(f.data()).unwrap();
                    let values: Vec<RegisterValue> = ids
                        .iter()
                        .map(|&id| RegisterValue::from_number(id, 2, 0x0D40, -1))
                        .collect();
                    reg::encode_register_response(&values)
                }
                _ => return Vec::new(),
            };
            binary_frame(Direction::Response, cmd, &data)
        });
        assert_eq!(v, Verdict::Complete { answers: 4 }, "{}", v.describe());
        let energy = s
            .registers()
            .iter()
            .find(|r| r.name == "Energy in")
            .unwrap();
        assert_eq!(energy.unit, Some("kWh"));
        assert!((energy.value().unwrap() - 339.2).abs() < 1e-9);
        assert_eq!(
            s.registers().iter().filter(|r| r.id.is_some()).count(),
            reg::ELECTRICITY_REGISTERS.len()
        );
    }
}
