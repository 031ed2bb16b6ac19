//! `kamscope read --protocol mbus`: an M-Bus readout (or a scan of the bus) through a level
//! converter, without the app. Exit code 0 for a complete readout with good checksums and
//! records, 1 when an answer came but failed a check, 2 for no answer (the reason on stderr).

use super::{Format, SerialArgs, UserError, out, runtime};
use kamscope::link::port::connector as port_connector;
use kamscope::protocol::mbus::session::{MbusOptions, SecondaryAddress, Target, Verdict};
use kamscope::task::mbus;
use kamscope::wire::MbusEvent;
use kamscope::wire::line::SerialSettings;
use kamscope::wire::mbus::{FoundMeterDetail, MbusReadoutDetail};
use std::process::ExitCode;
use std::sync::Arc;

/// The M-Bus options of `kamscope read` (the primary address is `--address`).
#[derive(clap::Args)]
pub struct MbusArgs {
    /// With --protocol mbus: select the meter by its secondary address (8 digits, F for any
    /// digit; or 16 hex digits: id, manufacturer, version, medium).
    #[arg(long, value_name = "ID", value_parser = SecondaryAddress::parse, conflicts_with = "scan")]
    secondary: Option<SecondaryAddress>,
    /// With --protocol mbus: search the bus by secondary address and list every meter.
    #[arg(long)]
    scan: bool,
}

impl MbusArgs {
    /// These options make no sense for another protocol than M-Bus.
    pub fn reject_outside_mbus(&self) -> Result<(), UserError> {
        if self.secondary.is_some() || self.scan {
            return Err(UserError(
                "--secondary and --scan are M-Bus options: add --protocol mbus".into(),
            ));
        }
        Ok(())
    }
}

/// What `--address` says for M-Bus: a primary address 0-250, or 254 (also when not given).
fn primary_address(address: &str) -> Result<u8, UserError> {
    if address.is_empty() {
        return Ok(254);
    }
    match address.parse::<u8>() {
        Ok(a) if a <= 250 || a == 254 => Ok(a),
        _ => Err(UserError(format!(
            "--address {address:?} is not an M-Bus primary address: give 0-250, or 254 for the one meter on the bus"
        ))),
    }
}

pub fn run(
    port: String,
    address: String,
    mbus_args: MbusArgs,
    format: Format,
    serial: &SerialArgs,
) -> Result<ExitCode, UserError> {
    let target = match (mbus_args.secondary, mbus_args.scan) {
        _ if !address.is_empty() && (mbus_args.secondary.is_some() || mbus_args.scan) => {
            return Err(UserError(
                "give one of --address, --secondary and --scan, not several".into(),
            ));
        }
        (Some(s), _) => Target::Secondary(s),
        (None, true) => Target::Scan,
        (None, false) => Target::Primary(primary_address(&address)?),
    };
    let settings = serial.over(SerialSettings::MBUS, "mbus")?;
    let connector = port_connector(&port, settings)?;
    // What the port's error sentences name it (a path, or HOST:PORT).
    let port = connector.name();
    let connector = Arc::new(connector);
    let target_text = target.to_string();
    let options = MbusOptions::for_baud(target, settings.baud);
    let result = runtime()?.block_on(async move {
        let (mut events, cancel) = mbus::spawn(connector, options, None);
        let mut shown = None;
        loop {
            match super::next_event(&mut events, &cancel).await {
                // The start, and each retry: a scan's many selects are not news.
                Some(MbusEvent::Status(s)) => {
                    let Some(step) = s.step else { continue };
                    if shown.is_none() {
                        eprintln!("kamscope: reading {target_text} on {}", s.port);
                    }
                    if s.attempt > 1 && shown != Some((step, s.attempt)) {
                        eprintln!(
                            "kamscope: no answer to {} yet: asking again (attempt {})",
                            step.name(),
                            s.attempt
                        );
                    }
                    shown = Some((step, s.attempt));
                }
                Some(MbusEvent::Done(r)) => return Some(*r),
                Some(_) => {}
                None => return None,
            }
        }
    });
    let Some(result) = result else {
        return Err(UserError("the readout task ended without a result".into()));
    };
    let detail = MbusReadoutDetail::of(&result);
    match format {
        Format::Json => out(&format!(
            "{}\n",
            serde_json::to_string(&detail).expect("plain data")
        )),
        // Without an answer there is nothing for standard output: the verdict goes to stderr.
        Format::Text if result.verdict.ok() || result.verdict.answered() => {
            let mut text = format!("verdict  {}\n", result.verdict.describe());
            for m in detail.meters.iter().flatten() {
                text.push_str(&FoundMeterDetail::line(m));
                text.push('\n');
            }
            for t in &detail.telegrams {
                text.push('\n');
                kamscope::wire::text::render(t, &mut text);
            }
            out(&text);
        }
        Format::Text => {}
    }
    match result.verdict {
        Verdict::Complete { .. } => Ok(ExitCode::SUCCESS),
        v if v.answered() => Ok(ExitCode::from(1)),
        // A port that cannot be opened: the sentence names it and what to do.
        Verdict::PortError { reason } if reason.contains(&port) => Err(UserError(reason)),
        other => Err(UserError(other.describe())),
    }
}
