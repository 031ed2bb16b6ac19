//! `--detect` (the app and `decode --port`): the HAN port's line settings found by themselves.
//! The port is opened at each setting real HAN ports use, listened to for about one push
//! period, and judged (`wire::detect`); progress goes to stderr, one line per setting.

use super::UserError;
use kamscope::link::net::Scheme;
use kamscope::link::port::{PortConnector, connector};
use kamscope::link::{Connector, io_reason};
use kamscope::wire::detect::{self, CANDIDATES, Trial, Verdict};
use kamscope::wire::line::SerialSettings;
use std::io::Write;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::time::{Instant, timeout_at};

#[derive(clap::Args)]
pub struct DetectArgs {
    /// Find the HAN port's line settings: try 2400 8N1, 2400 8E1, 9600 8E1 and 115200 8N1 in
    /// turn (up to 12 s each, less when good frames come) and use the one with good frames.
    #[arg(long, conflicts_with_all = ["baud", "parity", "data_bits", "stop_bits"])]
    pub detect: bool,
    /// With --detect: seconds to listen at each setting (a push period: list 1 comes every
    /// 10 s on Kamstrup).
    #[arg(long, value_name = "SECONDS", default_value_t = 12, requires = "detect",
          value_parser = clap::value_parser!(u64).range(1..=600))]
    pub detect_seconds: u64,
}

impl DetectArgs {
    /// The settings found on `port`.
    pub async fn run(&self, port: &str) -> Result<SerialSettings, UserError> {
        detect(port, Duration::from_secs(self.detect_seconds)).await
    }
}

/// Tries every candidate setting on `port` until one proves itself, says what each gave, and
/// gives the chosen one; none with good frames is the command's error.
pub async fn detect(port: &str, listen_for: Duration) -> Result<SerialSettings, UserError> {
    if let PortConnector::Net(n) = connector(port, SerialSettings::HAN)?
        && n.scheme == Scheme::Tcp
    {
        return Err(UserError(format!(
            "--detect cannot set the line of {port}: a raw tcp:// bridge keeps its own settings (use rfc2217:// or set the bridge)"
        )));
    }
    let mut verdicts: Vec<Verdict> = Vec::new();
    for settings in CANDIDATES {
        eprint!("kamscope: trying {settings} ... ");
        let _ = std::io::stderr().flush();
        let verdict = match listen(port, settings, listen_for).await {
            Ok(v) => v,
            Err(e) => {
                eprintln!("failed");
                return Err(e);
            }
        };
        eprintln!("{}", verdict.summary());
        // One good frame in a whole period is no luck (HCS and FCS both pass); there is no
        // need to try the rest.
        let found = verdict.good_frames > 0;
        verdicts.push(verdict);
        if found {
            break;
        }
    }
    match detect::choose(&verdicts) {
        Some(v) => {
            eprintln!(
                "kamscope: {} gives good frames; use {} next time",
                v.settings,
                detect::flags(v.settings)
            );
            Ok(v.settings)
        }
        None => Err(UserError(format!(
            "no line setting gave good frames on {port}: {}",
            if verdicts.iter().all(|v| v.bytes == 0) {
                "nothing came at all (is the adapter on the meter's HAN port, and has the grid company opened the port?)"
            } else {
                "bytes came but no frame passed its checks (a line setting kamscope does not try, or a damaged line)"
            }
        ))),
    }
}

/// What `port` gives at `settings` for `listen_for` (less once it has proven itself).
async fn listen(
    port: &str,
    settings: SerialSettings,
    listen_for: Duration,
) -> Result<Verdict, UserError> {
    let mut connector = connector(port, settings)?;
    let deadline = Instant::now() + listen_for;
    let mut link = match timeout_at(deadline, connector.connect()).await {
        Ok(Ok(link)) => link,
        Ok(Err(e)) => return Err(UserError(io_reason(&e))),
        Err(_) => {
            return Err(UserError(format!(
                "cannot open {} within {} s",
                connector.describe(),
                listen_for.as_secs()
            )));
        }
    };
    let mut trial = Trial::new(settings);
    let mut buf = [0u8; 4096];
    loop {
        match timeout_at(deadline, link.read(&mut buf)).await {
            Err(_) => break,
            Ok(Ok(0)) => {
                return Err(UserError(format!("{port} closed while listening")));
            }
            Ok(Ok(n)) => {
                trial.push(chrono::Utc::now(), &buf[..n]);
                if trial.proven() {
                    break;
                }
            }
            Ok(Err(e)) => {
                return Err(UserError(format!(
                    "reading {port} failed: {}",
                    io_reason(&e)
                )));
            }
        }
    }
    Ok(trial.finish())
}
