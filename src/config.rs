//! The config file: `config.toml` in the platform's config directory (on Linux
//! `~/.config/kamscope/config.toml`), or the file named by `KAMSCOPE_CONFIG`. Every key is
//! optional; command-line options win over it.
//!
//! ```toml
//! last_source = "/dev/ttyUSB0"   # remembered by the port picker ("demo" for the demo meter)
//! [han]
//! port = "/dev/ttyUSB0"
//! baud = 2400
//! parity = "none"                # none | even | odd
//! data_bits = 8
//! stop_bits = 1
//! [scaling]
//! energy_scaler = 1              # 1: raw x 10 Wh (Norway), 0: Wh (Sweden)
//! current_scaler = -3            # leave out to choose by meter type
//! [chart]
//! window = "1h"                  # 5min | 1h | 6h | 24h
//! ```

use crate::wire::line::{Parity, SerialSettings};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PortConfig {
    pub port: Option<String>,
    pub baud: Option<u32>,
    pub parity: Option<Parity>,
    pub data_bits: Option<u8>,
    pub stop_bits: Option<u8>,
}

impl PortConfig {
    /// These settings over `preset`.
    pub fn settings(&self, preset: SerialSettings) -> SerialSettings {
        SerialSettings {
            baud: self.baud.unwrap_or(preset.baud),
            data_bits: self.data_bits.unwrap_or(preset.data_bits),
            parity: self.parity.unwrap_or(preset.parity),
            stop_bits: self.stop_bits.unwrap_or(preset.stop_bits),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScalingConfig {
    pub energy_scaler: Option<i8>,
    pub current_scaler: Option<i8>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChartConfig {
    pub window: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub last_source: Option<String>,
    pub han: PortConfig,
    pub optical: PortConfig,
    pub scaling: ScalingConfig,
    pub chart: ChartConfig,
}

/// Chart window names in the config, in the order of `app::live::WINDOWS`.
pub const WINDOW_NAMES: [&str; 4] = ["5min", "1h", "6h", "24h"];

impl Config {
    /// Index into `app::live::WINDOWS` for the configured chart window.
    pub fn chart_window(&self) -> Option<usize> {
        let w = self.chart.window.as_deref()?;
        WINDOW_NAMES.iter().position(|n| *n == w)
    }

    fn validate(&self) -> Result<(), String> {
        for (name, p) in [("han", &self.han), ("optical", &self.optical)] {
            if p.data_bits.is_some_and(|d| !(5..=8).contains(&d)) {
                return Err(format!("[{name}] data_bits must be 5 to 8"));
            }
            if p.stop_bits.is_some_and(|s| !(1..=2).contains(&s)) {
                return Err(format!("[{name}] stop_bits must be 1 or 2"));
            }
            if p.baud == Some(0) {
                return Err(format!("[{name}] baud must be above 0"));
            }
        }
        for (name, v) in [
            ("energy_scaler", self.scaling.energy_scaler),
            ("current_scaler", self.scaling.current_scaler),
        ] {
            if v.is_some_and(|v| !(-9..=9).contains(&v)) {
                return Err(format!("[scaling] {name} must be -9 to 9"));
            }
        }
        if self.chart.window.is_some() && self.chart_window().is_none() {
            return Err(format!(
                "[chart] window must be one of {}",
                WINDOW_NAMES.join(", ")
            ));
        }
        Ok(())
    }
}

/// A config that cannot be read or written: one sentence naming the file (and the line).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(String);

/// Where the config lives.
pub fn path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("KAMSCOPE_CONFIG") {
        return Some(PathBuf::from(p));
    }
    directories::ProjectDirs::from("", "", "kamscope").map(|d| d.config_dir().join("config.toml"))
}

/// Reads the config; a missing file is an empty config. Errors are one line naming the file and
/// the line.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
        Err(e) => {
            return Err(ConfigError(format!(
                "cannot read config {}: {}",
                path.display(),
                crate::link::io_reason(&e)
            )));
        }
    };
    let config: Config = toml::from_str(&text).map_err(|e| {
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
        let msg = e.message().trim().replace('\n', " ");
        ConfigError(match line {
            Some(l) => format!("config {} line {l}: {msg}", path.display()),
            None => format!("config {}: {msg}", path.display()),
        })
    })?;
    config
        .validate()
        .map_err(|e| ConfigError(format!("config {}: {e}", path.display())))?;
    Ok(config)
}

/// Writes the config (creating its directory).
pub fn save(path: &Path, config: &Config) -> Result<(), ConfigError> {
    let fail = |e: std::io::Error| {
        ConfigError(format!(
            "cannot write config {}: {}",
            path.display(),
            crate::link::io_reason(&e)
        ))
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    let body = toml::to_string(config).map_err(|e| ConfigError(e.to_string()))?;
    std::fs::write(
        path,
        format!("# kamscope configuration (see README)\n{body}"),
    )
    .map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        let dir = std::env::temp_dir().join(format!("kamscope-config-{}", std::process::id()));
        let path = dir.join("config.toml");
        assert_eq!(load(&path).unwrap(), Config::default());
        let mut c = Config {
            last_source: Some("demo".into()),
            ..Config::default()
        };
        c.han.parity = Some(Parity::Even);
        c.chart.window = Some("6h".into());
        save(&path, &c).unwrap();
        assert_eq!(load(&path).unwrap(), c);
        assert_eq!(load(&path).unwrap().chart_window(), Some(2));

        std::fs::write(&path, "[han]\nport = \"/dev/x\"\nbaud = \"fast\"\n").unwrap();
        let e = load(&path).unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("config.toml"), "{e}");
        assert!(!e.contains('\n'));
        std::fs::write(&path, "[han]\nspeed = 2400\n").unwrap();
        assert!(load(&path).unwrap_err().to_string().contains("line 2"));
        std::fs::write(&path, "[chart]\nwindow = \"2h\"\n").unwrap();
        assert!(
            load(&path)
                .unwrap_err()
                .to_string()
                .contains("window must be one of")
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}
