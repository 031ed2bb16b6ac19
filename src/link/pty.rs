//! The simulated meter on a pseudo-terminal: `kamscope sim --pty` prints a path that the app (or
//! any serial tool) opens like a USB adapter, so the real serial code path runs end to end.

use super::sim::{MeterProfile, SimMeter, run_meter};
use nix::sys::termios::{SetArg, cfmakeraw, tcgetattr, tcsetattr};
use std::io;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use tokio::task::JoinHandle;

/// A running simulated meter behind a pseudo-terminal. Dropping it ends the meter and closes the
/// terminal, as if the adapter were unplugged.
pub struct SimPty {
    /// The terminal to open (`/dev/pts/5`).
    pub path: PathBuf,
    /// Held open so the terminal does not hang up while no reader has it open.
    _slave: OwnedFd,
    task: JoinHandle<()>,
}

/// A pseudo-terminal in raw mode (nothing echoed or translated before a reader sets its own
/// mode): its path, the slave end to hold open, and the master end to talk through.
fn open_raw() -> io::Result<(PathBuf, OwnedFd, tokio::fs::File)> {
    let pty = nix::pty::openpty(None, None).map_err(io::Error::from)?;
    let mut tio = tcgetattr(&pty.slave).map_err(io::Error::from)?;
    cfmakeraw(&mut tio);
    tcsetattr(&pty.slave, SetArg::TCSANOW, &tio).map_err(io::Error::from)?;
    let path = nix::unistd::ttyname(&pty.slave).map_err(io::Error::from)?;
    let master = tokio::fs::File::from_std(std::fs::File::from(pty.master));
    Ok((path, pty.slave, master))
}

impl SimPty {
    /// Opens a pseudo-terminal and starts the meter's HAN port on it (on the current runtime).
    pub fn open(profile: MeterProfile, faults: bool, speed: f64, seed: u64) -> io::Result<SimPty> {
        let (path, slave, master) = open_raw()?;
        let meter = SimMeter::new(profile, faults, seed);
        let task = tokio::spawn(run_meter(meter, speed.max(0.01), master));
        Ok(SimPty {
            path,
            _slave: slave,
            task,
        })
    }

    /// A pseudo-terminal playing the meter's optical port: silent until a sign-on request.
    pub fn open_optical(sim: super::sim_optical::SimOptical, speed: f64) -> io::Result<SimPty> {
        let (path, slave, master) = open_raw()?;
        let task = tokio::spawn(super::sim_optical::run_optical(
            sim,
            speed.max(0.01),
            master,
        ));
        Ok(SimPty {
            path,
            _slave: slave,
            task,
        })
    }
}

impl SimPty {
    /// A pseudo-terminal playing the 685-382's optical port in ASCII-hex KMP: silent until a
    /// request.
    pub fn open_kmp(sim: super::sim_kmp::SimKmp, speed: f64) -> io::Result<SimPty> {
        let (path, slave, master) = open_raw()?;
        let task = tokio::spawn(super::sim_kmp::run_kmp(sim, speed.max(0.01), master));
        Ok(SimPty {
            path,
            _slave: slave,
            task,
        })
    }

    /// A pseudo-terminal playing the meter's M-Bus module: silent until the master asks.
    pub fn open_mbus(sim: super::sim_mbus::SimMbus, speed: f64) -> io::Result<SimPty> {
        let (path, slave, master) = open_raw()?;
        let task = tokio::spawn(super::sim_mbus::run_mbus(sim, speed.max(0.01), master));
        Ok(SimPty {
            path,
            _slave: slave,
            task,
        })
    }
}

impl Drop for SimPty {
    fn drop(&mut self) {
        self.task.abort();
    }
}
