//! `kamscope sim --pty`: the simulated meter on a pseudo-terminal, for testing the serial path end
//! to end (`kamscope --port <path>` or `kamscope read --port <path>` on the other side).

use super::{UserError, out, parse_speed};
use kamscope::link::pty::SimPty;
use kamscope::link::sim::{MeterProfile, demo_energy};
use kamscope::link::sim_optical::{IecMeter, OpticalFault, SimOptical};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct SimArgs {
    /// Use a pseudo-terminal (the only place the simulator can run on its own).
    #[arg(long, required = true)]
    pty: bool,
    #[arg(long, value_enum, default_value_t = MeterProfile::ThreePhase)]
    meter: MeterProfile,
    #[arg(long)]
    faults: bool,
    #[arg(long, default_value_t = 1.0, value_parser = parse_speed)]
    speed: f64,
    /// Play the optical port of this meter instead of the HAN port (`kamscope read` or the
    /// Readout tab on the other side).
    #[arg(long, value_enum)]
    iec_meter: Option<IecMeter>,
    /// Play the 685-382's optical port speaking ASCII-hex KMP (`kamscope read --protocol kmp`).
    #[arg(long, conflicts_with = "iec_meter")]
    kmp: bool,
    /// With --iec-meter: echo the request like a real optical head.
    #[arg(long, requires = "iec_meter")]
    echo: bool,
    /// With --iec-meter: misbehave on purpose.
    #[arg(long, value_enum, requires = "iec_meter", default_value_t = OpticalFault::None)]
    iec_fault: OpticalFault,
}

pub fn run(args: SimArgs) -> Result<ExitCode, UserError> {
    super::runtime()?.block_on(async {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        let pty_error = |e: std::io::Error| UserError(format!("cannot open a pseudo-terminal: {e}"));
        let sim = match args.iec_meter {
            None if args.kmp => {
                let kmp = kamscope::link::sim_kmp::SimKmp::new(false, demo_energy());
                SimPty::open_kmp(kmp, args.speed).map_err(pty_error)?
            }
            None => SimPty::open(args.meter, args.faults, args.speed, seed).map_err(pty_error)?,
            Some(iec) => {
                let optical = SimOptical::new(iec, args.echo, args.iec_fault, demo_energy());
                SimPty::open_optical(optical, args.speed).map_err(pty_error)?
            }
        };
        let path = sim.path.display().to_string();
        out(&format!("{path}\n"));
        match args.iec_meter {
            None if args.kmp => eprintln!(
                "simulated 685-382 optical port (KMP) on {path}: run `kamscope read --protocol kmp --port {path}`; Ctrl-C stops it",
            ),
            None => eprintln!(
                "simulated {} meter (HAN port) on {path}: run `kamscope --port {path}`; Ctrl-C stops it",
                args.meter.name(),
            ),
            Some(_) => eprintln!(
                "simulated optical port on {path}: run `kamscope read --port {path}`; Ctrl-C stops it",
            ),
        }
        tracing::info!(%path, "simulated meter started");
        let _ = tokio::signal::ctrl_c().await;
        drop(sim);
        Ok(ExitCode::SUCCESS)
    })
}
