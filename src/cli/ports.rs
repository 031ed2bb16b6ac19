//! `kamscope ports`: the serial ports the system knows, USB adapters with their ids.

use super::{Format, UserError, out};
use kamscope::link::serial::list_ports;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct PortsArgs {
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

pub fn run(args: PortsArgs) -> Result<ExitCode, UserError> {
    let ports = list_ports()?;
    match args.format {
        Format::Json => {
            for p in &ports {
                out(&format!(
                    "{}\n",
                    serde_json::to_string(p).expect("plain data")
                ));
            }
        }
        Format::Text => {
            if ports.is_empty() {
                out(
                    "no serial ports found: plug in the USB adapter (the demo needs none: kamscope --demo)\n",
                );
            }
            for p in &ports {
                out(&format!("{:<16} {:<9} {}\n", p.path, p.kind, p.identity()));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
