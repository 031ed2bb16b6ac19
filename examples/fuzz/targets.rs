//! What each input is fed to, and what is checked beyond "no panic": the framer's byte
//! accounting and chunking independence, the byte maps' accounting, the redaction's length,
//! that sessions end, and that errors are one line.

use crate::inputs::{AUTHENTICATION_KEY, ENCRYPTION_KEY, Input, Kind};
use crate::rng::Rng;
use chrono::Timelike;
use kamscope::protocol::dlms::{self, Apdu, Keys};
use kamscope::protocol::han::Scaling;
use kamscope::protocol::{
    Decoder, Framer, Protocol, Protocols, axdr, han, hdlc, iec_session, iec61107, kmp,
    kmp_register, kmp_session, mbus, p1, redact, region,
};
use kamscope::wire::SpanDetail;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Which part of the crate failed on an input, and how.
pub struct Failure {
    pub target: &'static str,
    pub reason: String,
}

/// Runs `check`; a panic in it is a failure of `target` too.
fn stage(target: &'static str, check: impl FnOnce() -> Result<(), String>) -> Result<(), Failure> {
    crate::IN_TARGET.set(true);
    let started = std::time::Instant::now();
    let caught = catch_unwind(AssertUnwindSafe(check));
    let took = started.elapsed();
    crate::IN_TARGET.set(false);
    crate::SLOWEST_TARGET.with(|s| {
        if s.get().is_none_or(|(_, t)| took > t) {
            s.set(Some((target, took)));
        }
    });
    let result = caught.unwrap_or_else(|_| {
        Err(format!(
            "panic: {}",
            crate::LAST_PANIC.with(|p| p.borrow_mut().take().unwrap_or_default())
        ))
    });
    result.map_err(|reason| Failure { target, reason })
}

fn keys(rng: &mut Rng) -> Option<Keys> {
    match rng.below(3) {
        0 => None,
        1 => Some(Keys {
            encryption: ENCRYPTION_KEY,
            authentication: Some(AUTHENTICATION_KEY),
        }),
        _ => Some(Keys {
            encryption: ENCRYPTION_KEY,
            authentication: None,
        }),
    }
}

fn protocols(rng: &mut Rng) -> Protocols {
    match rng.below(8) {
        0 => Protocols::HAN,
        1 => Protocols::OPTICAL,
        2 => Protocols::HDLC,
        3 => Protocols {
            hdlc: rng.one_in(2),
            iec61107: rng.one_in(2),
            kmp: rng.one_in(2),
            mbus: rng.one_in(2),
            p1: rng.one_in(2),
        },
        _ => Protocols::ALL,
    }
}

/// Feeds one input to every target of its kind; the first failure is returned.
pub fn run(input: &Input, rng: &mut Rng) -> Result<(), Failure> {
    let bytes = &input.bytes;
    match input.kind {
        Kind::Stream => {
            let protocols = protocols(rng);
            let chunks = rng.chunking(bytes.len());
            stage("framer", || framer(bytes, protocols, &chunks))?;
            let keys = keys(rng);
            stage("decoder", || decoder(bytes, protocols, keys.clone()))?;
            stage("parsers", || parsers(bytes))?;
            stage("iec_session", || iec_session(bytes, &mut rng.clone()))?;
            stage("kmp_session", || kmp_session(bytes, &mut rng.clone()))?;
            stage("mbus_session", || mbus_session(bytes, &mut rng.clone()))?;
            stage("redact", || redact(bytes, protocols, keys.clone()))?;
            if input.app || rng.one_in(40) {
                stage("app", || crate::app::draw(bytes, keys, rng))?;
            }
            Ok(())
        }
        Kind::Config => stage("config", || config(bytes)),
        Kind::Capture => stage("capture", || capture(bytes)),
        Kind::Hex => stage("hex", || hex(bytes)),
    }
}

type SpanKey = (u64, usize, Protocol, bool);

/// (offset, length, protocol, checks good) of every span, the input pushed in `chunks`.
fn spans_in(bytes: &[u8], protocols: Protocols, chunks: &[usize]) -> Vec<SpanKey> {
    let mut framer = Framer::new(protocols);
    let mut out = Vec::new();
    let mut take = |framer: &mut Framer| {
        while let Some(s) = framer.next_span() {
            out.push((s.offset, s.bytes.len(), s.protocol(), s.content.all_ok()));
        }
    };
    let mut at = 0;
    for &n in chunks {
        framer.push(&bytes[at..at + n]);
        at += n;
        take(&mut framer);
    }
    framer.finish();
    take(&mut framer);
    out
}

/// Every byte in exactly one span, in order; the same spans however the input was chunked.
fn framer(bytes: &[u8], protocols: Protocols, chunks: &[usize]) -> Result<(), String> {
    let whole = spans_in(
        bytes,
        protocols,
        &[bytes.len()][..usize::from(!bytes.is_empty())],
    );
    let mut at = 0u64;
    for s in &whole {
        if s.0 != at || s.1 == 0 {
            return Err(format!(
                "accounting: span {s:?} where byte {at} was next (spans {whole:?})"
            ));
        }
        at += s.1 as u64;
    }
    if at != bytes.len() as u64 {
        return Err(format!(
            "accounting: spans cover {at} of {} bytes",
            bytes.len()
        ));
    }
    let bytewise = spans_in(bytes, protocols, &vec![1; bytes.len()]);
    if bytewise != whole {
        return Err(format!(
            "chunking: byte by byte {bytewise:?}, in one chunk {whole:?}"
        ));
    }
    let random = spans_in(bytes, protocols, chunks);
    if random != whole {
        return Err(format!(
            "chunking: in chunks {chunks:?} {random:?}, in one chunk {whole:?}"
        ));
    }
    Ok(())
}

/// Every span decoded and described (text, JSON, byte map, summary) as `decode` does.
fn decoder(bytes: &[u8], protocols: Protocols, keys: Option<Keys>) -> Result<(), String> {
    let mut decoder = Decoder::new(Scaling::default(), keys);
    let mut framer = Framer::new(protocols);
    let mut summary = kamscope::wire::summary::Summary::default();
    framer.push(bytes);
    framer.finish();
    let mut text = String::new();
    while let Some(span) = framer.next_span() {
        let decoded = decoder.decode(&span);
        let detail = SpanDetail::of(&span, &decoded);
        text.clear();
        kamscope::wire::text::render(&detail, &mut text);
        serde_json::to_string(&detail).map_err(|e| format!("JSON of a span: {e}"))?;
        summary.add(&span, &decoded);
        let regions = region::of_span(span.bytes, &span.content, &decoded);
        let covered: usize = regions.iter().map(|r| r.range.len()).sum();
        let contiguous = regions
            .windows(2)
            .all(|w| w[0].range.end == w[1].range.start)
            && regions.first().is_none_or(|r| r.range.start == 0);
        if covered != span.bytes.len() || !contiguous {
            return Err(format!(
                "byte map of the span at {} covers {covered} of {} bytes: {:?}",
                span.offset,
                span.bytes.len(),
                regions.iter().map(|r| r.range.clone()).collect::<Vec<_>>()
            ));
        }
    }
    summary.to_json();
    Ok(())
}

/// The parsers the decoder calls, on the whole input as if it were one frame or APDU.
fn parsers(bytes: &[u8]) -> Result<(), String> {
    let _ = hdlc::inspect(bytes, false);
    let _ = hdlc::inspect(bytes, true);
    let _ = axdr::decode(bytes, 0);
    for apdu in [bytes, bytes.get(3..).unwrap_or_default()] {
        match dlms::parse_apdu(apdu, 0) {
            Ok(Apdu::DataNotification(n)) => {
                let _ = n.body_data(apdu, 0);
                if let Ok(m) = han::map(&n, apdu, 0, &Scaling::default()) {
                    // The named fields and the look-ups, made from the compact fields.
                    let _ = (m.fields(), m.meter_type(), m.meter_id(), m.time());
                    let _ = (m.value(1, 7), m.list_version());
                }
            }
            Ok(Apdu::GloCiphering(g)) => {
                let keys = Keys {
                    encryption: ENCRYPTION_KEY,
                    authentication: Some(AUTHENTICATION_KEY),
                };
                let _ = dlms::decrypt(apdu, &g, &keys);
                let _ = dlms::decrypt_unchecked(apdu, &g, &ENCRYPTION_KEY);
                let _ = g.manufacturer();
            }
            _ => {}
        }
    }
    let _ = iec61107::parse_identification(bytes);
    let block = iec61107::parse_data_block(bytes);
    let _ = kamscope::wire::detail::iec_fields(&block);
    let _ = redact::iec_ids(&block);
    if let Some(t) = mbus::parse(bytes) {
        let _ = t.data_records(bytes);
    }
    let _ = mbus::records::parse_records(bytes, 0);
    if let Some(f) = kmp::parse(bytes)
        && let Some(command) = f.command()
    {
        for direction in [kmp::Direction::Request, kmp::Direction::Response] {
            let _ = kmp_register::decode_binary(direction, command, f.data());
        }
        let _ = kmp_register::decode_ascii_response(command, None, f.data());
        let _ = kmp_register::decode_ascii_response(command, Some(&[0x00]), f.data());
    }
    let _ = kmp_register::decode_register_request(bytes);
    let _ = kmp_register::decode_register_response(bytes);
    let _ = p1::inspect(bytes);
    let telegram = p1::parse(bytes);
    let _ = p1::to_han_message(&telegram);
    let _ = kamscope::wire::detail::p1_fields(&telegram);
    let _ = redact::p1_ids(&telegram);
    Ok(())
}

/// Times in a session's run: mostly small steps, sometimes past every timeout.
fn step(rng: &mut Rng) -> u64 {
    match rng.below(10) {
        0 => rng.below(20_000) as u64,
        1 => u64::from(u32::MAX),
        _ => rng.below(200) as u64,
    }
}

/// What the three readout sessions share, for [`drive`].
trait Session {
    fn feed(&mut self, bytes: &[u8], now: u64);
    fn tick(&mut self, now: u64);
    fn deadline(&self) -> Option<u64>;
    /// The verdict's sentence, once the session is done.
    fn verdict(&self) -> Option<String>;
}

impl Session for iec_session::ReadoutSession {
    fn feed(&mut self, bytes: &[u8], now: u64) {
        self.on_bytes(bytes, now);
        let _ = self.progress();
        let _ = self.eta(now, Some(20));
    }
    fn tick(&mut self, now: u64) {
        self.on_tick(now);
    }
    fn deadline(&self) -> Option<u64> {
        self.deadline()
    }
    fn verdict(&self) -> Option<String> {
        self.done().map(|v| v.describe())
    }
}

impl Session for kmp_session::KmpSession {
    fn feed(&mut self, bytes: &[u8], now: u64) {
        self.on_bytes(bytes, now);
        let _ = self.progress();
    }
    fn tick(&mut self, now: u64) {
        self.on_tick(now);
    }
    fn deadline(&self) -> Option<u64> {
        self.deadline()
    }
    fn verdict(&self) -> Option<String> {
        self.done().map(|v| v.describe())
    }
}

impl Session for mbus::session::MbusSession {
    fn feed(&mut self, bytes: &[u8], now: u64) {
        self.on_bytes(bytes, now);
    }
    fn tick(&mut self, now: u64) {
        self.on_tick(now);
    }
    fn deadline(&self) -> Option<u64> {
        self.deadline()
    }
    fn verdict(&self) -> Option<String> {
        self.done().map(|v| v.describe())
    }
}

/// Feeds the input to a session as the meter's answer, in random chunks at random times with
/// ticks between, then lets time run out: a session must end.
fn drive(
    name: &str,
    session: &mut impl Session,
    bytes: &[u8],
    rng: &mut Rng,
) -> Result<(), String> {
    let mut now = 1_000u64;
    let mut at = 0;
    for n in rng.chunking(bytes.len()) {
        now = now.saturating_add(step(rng));
        session.feed(&bytes[at..at + n], now);
        at += n;
        if rng.one_in(3) {
            now = now.saturating_add(step(rng));
            session.tick(now);
        }
    }
    for _ in 0..10_000 {
        if session.verdict().is_some() {
            return Ok(());
        }
        let Some(d) = session.deadline() else {
            return Err(format!("{name}: not done and waits for nothing"));
        };
        now = now.max(d).saturating_add(1);
        session.tick(now);
    }
    Err(format!("{name}: not done after 10000 timeouts"))
}

fn iec_session(bytes: &[u8], rng: &mut Rng) -> Result<(), String> {
    use iec_session::{ReadoutOptions, ReadoutSession};
    let options = ReadoutOptions {
        no_baud_switch: rng.one_in(2),
        address: if rng.one_in(4) {
            "1234".into()
        } else {
            String::new()
        },
        ..ReadoutOptions::default()
    };
    let mut s = ReadoutSession::new(options, 1_000);
    s.start(1_000);
    drive("IEC readout", &mut s, bytes, rng)
}

fn kmp_session(bytes: &[u8], rng: &mut Rng) -> Result<(), String> {
    use kmp_session::{KmpOptions, KmpSession};
    let variant = rng.pick(&[kmp::Variant::AsciiHex, kmp::Variant::Binary]);
    let mut s = KmpSession::new(KmpOptions::new(variant));
    s.start(1_000);
    drive("KMP readout", &mut s, bytes, rng)?;
    for r in s.registers() {
        let _ = r.value();
    }
    Ok(())
}

fn mbus_session(bytes: &[u8], rng: &mut Rng) -> Result<(), String> {
    use mbus::session::{MbusOptions, MbusSession, SecondaryAddress, Target};
    let target = match rng.below(4) {
        0 => Target::Scan,
        1 => Target::Secondary(
            SecondaryAddress::parse("14839120").map_err(|e| format!("address: {e}"))?,
        ),
        _ => Target::Primary(rng.pick(&[0, 1, 254])),
    };
    let baud = rng.pick(&[300, 2400, 9600]);
    let mut s = MbusSession::new(MbusOptions::for_baud(target, baud), 1_000);
    s.start(1_000);
    drive("M-Bus readout", &mut s, bytes, rng)
}

/// Both passes of `kamscope bundle --redact`: the output is as long as the input.
fn redact(bytes: &[u8], protocols: Protocols, keys: Option<Keys>) -> Result<(), String> {
    let mut ids = redact::Pseudonyms::default();
    let mut decoder = Decoder::new(Scaling::default(), keys);
    redact::learn(bytes, protocols, &mut decoder, &mut ids);
    let redacted = redact::redact_stream(bytes, protocols, &ids);
    if redacted.bytes.len() != bytes.len() {
        return Err(format!(
            "redacted {} bytes into {}",
            bytes.len(),
            redacted.bytes.len()
        ));
    }
    let _ = ids.found_in(&redacted.bytes);
    Ok(())
}

fn one_line(what: &str, error: impl std::fmt::Display) -> Result<(), String> {
    let text = error.to_string();
    if text.contains('\n') || text.trim().is_empty() {
        return Err(format!("{what} error is not one line: {text:?}"));
    }
    Ok(())
}

fn config(bytes: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(bytes);
    match kamscope::config::parse(&text, std::path::Path::new("fuzz.toml")) {
        Ok(c) => {
            let _ = c.chart_window();
            let _ = c.site.fuse_a();
            Ok(())
        }
        Err(e) => one_line("config", e),
    }
}

fn capture(bytes: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(bytes);
    let _ = kamscope::wire::capture::looks_like_capture(bytes);
    for line in text.lines() {
        match kamscope::wire::capture::CaptureLine::parse(line) {
            Ok(kamscope::wire::capture::CaptureLine::Chunk(mut c)) => {
                let again = c.to_json_line();
                let back = kamscope::wire::capture::CaptureLine::parse(&again)
                    .map_err(|e| format!("a chunk written again does not parse: {e}"))?;
                // The format keeps milliseconds.
                c.t =
                    c.t.with_nanosecond(c.t.nanosecond() / 1_000_000 * 1_000_000)
                        .unwrap_or(c.t);
                if back != kamscope::wire::capture::CaptureLine::Chunk(c) {
                    return Err(format!("a chunk written again reads back changed: {again}"));
                }
            }
            Ok(_) => {}
            Err(e) => one_line("capture", e)?,
        }
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> Result<(), String> {
    let _ = kamscope::wire::hex::looks_like_hex(bytes);
    let mut streamed = Vec::new();
    let mut dec = kamscope::wire::hex::HexDecoder::default();
    let fed = bytes
        .chunks(7)
        .try_for_each(|c| dec.feed("fuzz", c, &mut streamed))
        .and_then(|()| dec.finish("fuzz"));
    match std::str::from_utf8(bytes) {
        Ok(text) => match (kamscope::wire::hex::parse(text), fed) {
            (Ok(whole), Ok(())) if whole != streamed => {
                Err("hex decoded in pieces differs from the whole".into())
            }
            (Ok(whole), _)
                if kamscope::wire::hex::parse(&kamscope::wire::hex::encode(&whole)).as_ref()
                    != Ok(&whole) =>
            {
                Err("hex written again reads back changed".into())
            }
            (Ok(_), Err(e)) | (Err(e), Ok(())) => Err(format!(
                "hex decoded whole and in pieces disagree: one failed with {e}"
            )),
            (Err(e), Err(_)) => one_line("hex", e),
            _ => Ok(()),
        },
        Err(_) => fed.map_or_else(|e| one_line("hex", e), |()| Ok(())),
    }
}
