//! `kamscope read`: an optical readout without the app. Exit code 0 for a complete readout with a
//! good BCC, 1 when it came but failed a check, 2 for no readout (with the reason on stderr).

use super::{Format, SerialArgs, UserError, out, runtime};
use kamscope::link::port::connector as port_connector;
use kamscope::protocol::iec_session::{ReadoutOptions, Verdict};
use kamscope::task::optical;
use kamscope::wire::line::SerialSettings;
use kamscope::wire::optical::ReadoutProtocol;
use kamscope::wire::{OpticalEvent, ReadoutPhase, SpanDetail};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(clap::Args)]
pub struct ReadArgs {
    /// Serial port of the optical head (or the M-Bus level converter); tcp://HOST:PORT for a
    /// network bridge, rfc2217://HOST:PORT to set its line (and a speed switch) too.
    #[arg(long, value_name = "PORT")]
    port: String,
    /// Device address for the sign-on request (`/?ADDRESS!`); with --protocol mbus the primary
    /// address (0-250, or 254 for the one meter on the bus: the default).
    #[arg(long, default_value = "")]
    address: String,
    /// Stay at 300 baud even if the meter offers more.
    #[arg(long)]
    no_baud_switch: bool,
    /// The protocol to read with: IEC 61107 (300 7E1), KMP (1200 8E2) or M-Bus (2400 8E1); --baud
    /// and the other line options change the preset.
    #[arg(long, value_enum, default_value_t = ReadoutProtocol::Iec)]
    protocol: ReadoutProtocol,
    /// With --protocol kmp: the 685-382's ASCII-hex KMP (1200 8E2, the default) or binary KMP
    /// (1200 8N2).
    #[arg(long, value_enum)]
    kmp_variant: Option<super::read_kmp::KmpVariantArg>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    #[command(flatten)]
    serial: SerialArgs,
    #[command(flatten)]
    mbus: super::read_mbus::MbusArgs,
}

pub fn run(args: ReadArgs) -> Result<ExitCode, UserError> {
    if args.protocol != ReadoutProtocol::Kmp && args.kmp_variant.is_some() {
        return Err(UserError("--kmp-variant needs --protocol kmp".into()));
    }
    match args.protocol {
        ReadoutProtocol::Iec => args.mbus.reject_outside_mbus()?,
        ReadoutProtocol::Kmp => {
            args.mbus.reject_outside_mbus()?;
            if !args.address.is_empty() || args.no_baud_switch {
                return Err(UserError(
                    "--address and --no-baud-switch are for IEC 61107 readouts, not --protocol kmp"
                        .into(),
                ));
            }
            let variant = args
                .kmp_variant
                .unwrap_or(super::read_kmp::KmpVariantArg::Ascii);
            return super::read_kmp::run(args.port, variant, args.format, &args.serial);
        }
        ReadoutProtocol::Mbus if args.no_baud_switch => {
            return Err(UserError(
                "--no-baud-switch is for the optical head: M-Bus keeps the speed of --baud".into(),
            ));
        }
        ReadoutProtocol::Mbus => {
            return super::read_mbus::run(
                args.port,
                args.address,
                args.mbus,
                args.format,
                &args.serial,
            );
        }
    }
    let settings = args.serial.over(SerialSettings::OPTICAL, "optical")?;
    let connector = port_connector(&args.port, settings)?;
    // What the port's error sentences name it (a path, or HOST:PORT).
    let path = connector.name();
    let connector = Arc::new(connector);
    let options = ReadoutOptions {
        address: args.address,
        no_baud_switch: args.no_baud_switch,
        ..ReadoutOptions::default()
    };
    let result = runtime()?.block_on(async move {
        let (mut events, cancel) = optical::spawn(connector, options, None);
        let mut phase = ReadoutPhase::Starting;
        loop {
            match super::next_event(&mut events, &cancel).await {
                Some(OpticalEvent::Status(s))
                    if s.phase != phase && s.phase != ReadoutPhase::Done =>
                {
                    phase = s.phase;
                    eprintln!("kamscope: {} on {}", s.phase, s.port);
                }
                Some(OpticalEvent::Done(r)) => return Some(*r),
                Some(_) => {}
                None => return None,
            }
        }
    });
    let Some(result) = result else {
        return Err(UserError("the readout task ended without a result".into()));
    };
    let detail = SpanDetail::of_readout(&result);
    match args.format {
        Format::Json => out(&format!(
            "{}\n",
            serde_json::to_string(&detail).expect("plain data")
        )),
        // Without a readout there is nothing for standard output: the verdict goes to stderr.
        Format::Text if result.ident.is_some() => {
            let mut text = format!("verdict  {}\n", result.verdict.describe());
            kamscope::wire::text::render(&detail, &mut text);
            out(&text);
        }
        Format::Text => {}
    }
    match result.verdict {
        Verdict::Complete { .. } => Ok(ExitCode::SUCCESS),
        Verdict::BadBcc { .. } | Verdict::Incomplete { .. } | Verdict::Garbled { .. } => {
            Ok(ExitCode::from(1))
        }
        // A port that cannot be opened: the sentence names it and what to do.
        Verdict::PortError { reason } if reason.contains(&path) => Err(UserError(reason)),
        other => Err(UserError(other.describe())),
    }
}
