//! kamscope command line: parse, dispatch, exit code. Each command lives in `cli/`.
#![forbid(unsafe_code)]

mod cli;

use clap::Parser;
use cli::{Cli, Command, UserError};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = start_log(&cli).and_then(|()| match cli.command {
        Some(Command::Bundle(args)) => cli::bundle::run(args, cli.log.log.as_deref()),
        Some(Command::Check(args)) => cli::check::run(args),
        Some(Command::Decode(args)) => cli::decode::run(args),
        Some(Command::Ports(args)) => cli::ports::run(args),
        Some(Command::Read(args)) => cli::read::run(args),
        Some(Command::Sim(args)) => cli::sim::run(args),
        None => cli::run::run(cli.run),
    });
    match result {
        Ok(code) => code,
        Err(UserError(msg)) => {
            eprintln!("kamscope: {msg}");
            ExitCode::from(2)
        }
    }
}

/// The log: `--log FILE`, or by default for the commands that talk to a meter (the app, `read`,
/// `decode --port`, `sim`), under the platform's state directory.
fn start_log(cli: &Cli) -> Result<(), UserError> {
    let talks_to_a_meter = match &cli.command {
        None | Some(Command::Read(_) | Command::Sim(_)) => true,
        Some(Command::Decode(d)) => d.port.is_some(),
        Some(Command::Check(c)) => c.talks_to_a_meter(),
        Some(Command::Ports(_) | Command::Bundle(_)) => false,
    };
    let path = match &cli.log.log {
        Some(p) => Some(p.clone()),
        None if talks_to_a_meter => kamscope::log::default_path(),
        None => None,
    };
    let Some(path) = path else {
        return Ok(());
    };
    match kamscope::log::init(&path, cli.log.log_level.into()) {
        Ok(()) => Ok(()),
        Err(e) if cli.log.log.is_some() => Err(UserError::from(e)),
        // The default log is a convenience: a read-only home must not stop the work.
        Err(_) => Ok(()),
    }
}
