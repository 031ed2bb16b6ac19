//! `kamscope read --protocol kmp`: a KMP readout through the optical head, without the app. The
//! 685-382's ASCII-hex KMP (1200 8E2) by default, binary KMP (1200 8N2) on request. Exit code 0
//! for a complete readout with every check good, 1 when the meter answered but a check failed or
//! it stopped, 2 for no answer or a port error (with the reason on stderr).

use super::{Format, SerialArgs, UserError, next_event, out, runtime};
use kamscope::link::port::connector as port_connector;
use kamscope::protocol::kmp::Variant;
use kamscope::protocol::kmp_session::{KmpOptions, Verdict};
use kamscope::task::kmp;
use kamscope::wire::kmp::{KmpEvent, KmpResult, variant_name};
use kamscope::wire::line::SerialSettings;
use kamscope::wire::{Direction, FieldDetail, SpanDetail, SpanRecord};
use serde::Serialize;
use std::fmt::Write;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KmpVariantArg {
    /// The 685-382's ASCII-hex KMP (1200 8E2).
    Ascii,
    /// Binary KMP (1200 8N2).
    Binary,
}

/// The JSON form of a KMP readout.
#[derive(Serialize)]
struct KmpReport<'a> {
    protocol: &'static str,
    variant: &'static str,
    port: &'a str,
    ok: bool,
    verdict: &'static str,
    verdict_text: String,
    echo: bool,
    duration_ms: u64,
    registers: Vec<FieldDetail>,
    spans: Vec<SentSpan>,
}

#[derive(Serialize)]
struct SentSpan {
    /// `tx` sent by us, `rx` received.
    dir: &'static str,
    #[serde(flatten)]
    span: SpanDetail,
}

fn verdict_kind(v: &Verdict) -> &'static str {
    match v {
        Verdict::Complete { .. } => "complete",
        Verdict::BadCheck { .. } => "bad-check",
        Verdict::Incomplete { .. } => "incomplete",
        Verdict::Garbled { .. } => "garbled",
        Verdict::EchoOnly => "echo-only",
        Verdict::NoAnswer { .. } => "no-answer",
        Verdict::PortError { .. } => "port-error",
        Verdict::Cancelled => "cancelled",
    }
}

/// A register's value with the decimals its scaler gives, or its raw value.
fn value_text(f: &FieldDetail) -> String {
    match f.value {
        Some(v) => {
            let decimals = usize::try_from(-i32::from(f.scaler.unwrap_or(0))).unwrap_or(0);
            format!("{v:.decimals$}")
        }
        None => f.raw_text(),
    }
}

fn text(result: &KmpResult, fields: &[FieldDetail]) -> String {
    let mut t = format!("verdict  {}\n", result.verdict.describe());
    let _ = writeln!(
        t,
        "kmp      {} on {}{}",
        variant_name(result.variant),
        result.port,
        if result.echo_seen {
            " (head echoes)"
        } else {
            ""
        }
    );
    let name_width = fields
        .iter()
        .map(|f| f.name.chars().count())
        .max()
        .unwrap_or(0);
    // Binary registers show their id; the 685-382's fixed layouts have none.
    let with_ids = fields.iter().any(|f| f.obis.is_some());
    for f in fields {
        let code = match (with_ids, f.obis.as_deref()) {
            (false, _) => String::new(),
            (true, code) => format!("{:<7}", code.unwrap_or("-")),
        };
        let line = format!(
            "  {code}{:<name_width$}  {:>14}  {}",
            f.name,
            value_text(f),
            f.unit.as_deref().or(f.text.as_deref()).unwrap_or("")
        );
        let _ = writeln!(t, "{}", line.trim_end());
    }
    t
}

pub fn run(
    port: String,
    variant: KmpVariantArg,
    format: Format,
    serial: &SerialArgs,
) -> Result<ExitCode, UserError> {
    let (variant, preset, section) = match variant {
        KmpVariantArg::Ascii => (Variant::AsciiHex, SerialSettings::KMP_ASCII, "kmp"),
        KmpVariantArg::Binary => (Variant::Binary, SerialSettings::KMP_BINARY, "kmp"),
    };
    let connector = port_connector(&port, serial.over(preset, section)?)?;
    // What the port's error sentences name it (a path, or HOST:PORT).
    let port = connector.name();
    let connector = Arc::new(connector);
    let (result, spans) = runtime()?.block_on(async move {
        let (mut events, cancel) = kmp::spawn(connector, KmpOptions::new(variant), None);
        let mut spans: Vec<SpanRecord> = Vec::new();
        loop {
            match next_event(&mut events, &cancel).await {
                Some(KmpEvent::Span(s)) => spans.push(*s),
                Some(KmpEvent::Done(r)) => return (Some(*r), spans),
                Some(_) => {}
                None => return (None, spans),
            }
        }
    });
    let Some(result) = result else {
        return Err(UserError("the readout task ended without a result".into()));
    };
    let fields = result.fields();
    match format {
        Format::Json => {
            let report = KmpReport {
                protocol: "kmp",
                variant: variant_name(result.variant),
                port: &result.port,
                ok: result.verdict.ok(),
                verdict: verdict_kind(&result.verdict),
                verdict_text: result.verdict.describe(),
                echo: result.echo_seen,
                duration_ms: result.duration_ms,
                registers: fields,
                spans: spans
                    .iter()
                    .map(|s| SentSpan {
                        dir: match s.dir {
                            Direction::Tx => "tx",
                            Direction::Rx => "rx",
                        },
                        span: SpanDetail::of(&s.span(), &s.decoded),
                    })
                    .collect(),
            };
            out(&format!(
                "{}\n",
                serde_json::to_string(&report).expect("plain data")
            ));
        }
        // Without an answer there is nothing for standard output: the verdict goes to stderr.
        Format::Text if result.verdict.answered() => out(&text(&result, &fields)),
        Format::Text => {}
    }
    match result.verdict {
        Verdict::Complete { .. } => Ok(ExitCode::SUCCESS),
        v if v.answered() => {
            eprintln!("kamscope: {}", v.describe());
            Ok(ExitCode::from(1))
        }
        // A port that cannot be opened: the sentence names it and what to do.
        Verdict::PortError { reason } if reason.contains(&port) => Err(UserError(reason)),
        other => Err(UserError(other.describe())),
    }
}
