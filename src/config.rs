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
//! [site]
//! fuse_a = 25                    # the main fuse, for judging phase currents
//! name = "Storgata 1, Bergen"     # the site, for the commissioning report
//! installer = "Kari Nordmann"     # who checks it, for the report
//! [export]
//! dir = "/home/me/kamscope"      # where exports go (default: the documents folder)
//! [readout.protocol]             # remembered by the Readout tab, per port
//! "/dev/ttyUSB1" = "kmp"         # iec | kmp | mbus
//! [keys]                         # for encrypted pushes (Denmark, Switzerland)
//! encryption = "00112233445566778899AABBCCDDEEFF"
//! authentication = "FFEEDDCCBBAA99887766554433221100"
//! ```
//!
//! The picker's edits keep the file's comments and layout and replace it atomically.

use crate::wire::line::{Parity, SerialSettings};
use crate::wire::optical::ReadoutProtocol;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
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

/// The installation: what the meter's readings are judged against.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SiteConfig {
    /// The main fuse in amperes (default [`DEFAULT_FUSE_A`]).
    pub fuse_a: Option<f64>,
    /// The site's name or address, and who checks it: for the commissioning report.
    pub name: Option<String>,
    pub installer: Option<String>,
}

/// The main fuse when the config does not name one: the most common in Nordic homes.
pub const DEFAULT_FUSE_A: f64 = 25.0;

impl SiteConfig {
    pub fn fuse_a(&self) -> f64 {
        self.fuse_a.unwrap_or(DEFAULT_FUSE_A)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExportConfig {
    /// Where exports are written; default: the platform's documents (or data) folder.
    pub dir: Option<PathBuf>,
}

/// Keys for encrypted pushes, as 32 hex digits each. Kept out of logs, recordings and exports.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeysConfig {
    pub encryption: Option<String>,
    pub authentication: Option<String>,
}

/// Never print a key, not even in a debug dump.
impl std::fmt::Debug for KeysConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeysConfig")
            .field("encryption", &self.encryption.as_ref().map(|_| "<set>"))
            .field(
                "authentication",
                &self.authentication.as_ref().map(|_| "<set>"),
            )
            .finish()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReadoutConfig {
    /// The protocol last chosen on each readout port (the port's path as the key).
    pub protocol: BTreeMap<String, ReadoutProtocol>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub last_source: Option<String>,
    pub han: PortConfig,
    pub optical: PortConfig,
    pub scaling: ScalingConfig,
    pub chart: ChartConfig,
    pub site: SiteConfig,
    pub export: ExportConfig,
    pub readout: ReadoutConfig,
    pub keys: KeysConfig,
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
        if self
            .site
            .fuse_a
            .is_some_and(|a| !(a.is_finite() && (1.0..=10_000.0).contains(&a)))
        {
            return Err("[site] fuse_a must be a current in amperes, 1 to 10000".into());
        }
        for (name, key) in [
            ("encryption", &self.keys.encryption),
            ("authentication", &self.keys.authentication),
        ] {
            if key
                .as_ref()
                .is_some_and(|k| k.len() != 32 || !k.bytes().all(|b| b.is_ascii_hexdigit()))
            {
                return Err(format!("[keys] {name} must be 32 hex digits"));
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
    parse(&text, path)
}

/// Parses and checks a config's text; `path` names the file in errors.
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let config: Config = toml::from_str(text).map_err(|e| {
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

/// Remembers the source the picker chose (`last_source`).
pub fn save_last_source(path: &Path, value: &str) -> Result<(), ConfigError> {
    edit(path, |doc| doc["last_source"] = toml_edit::value(value))
}

/// Remembers the protocol chosen for a readout port (`[readout.protocol]`).
pub fn save_readout_protocol(
    path: &Path,
    port: &str,
    protocol: ReadoutProtocol,
) -> Result<(), ConfigError> {
    edit(path, |doc| {
        // `[readout.protocol]` alone, without an empty `[readout]` above it.
        let mut implicit = toml_edit::Table::new();
        implicit.set_implicit(true);
        let readout = doc
            .entry("readout")
            .or_insert(toml_edit::Item::Table(implicit))
            .as_table_like_mut();
        if let Some(readout) = readout {
            let table = readout
                .entry("protocol")
                .or_insert(toml_edit::table())
                .as_table_like_mut();
            if let Some(table) = table {
                table.insert(port, toml_edit::value(protocol.key()));
            }
        }
    })
}

/// Changes the config file with `change`, keeping every other line, comment and the layout of the
/// file as they are. The file is replaced atomically: written to a temporary file beside it,
/// synced, then renamed over it, so a crash never leaves half a config.
fn edit(path: &Path, change: impl FnOnce(&mut toml_edit::DocumentMut)) -> Result<(), ConfigError> {
    let fail = |e: std::io::Error| {
        ConfigError(format!(
            "cannot write config {}: {}",
            path.display(),
            crate::link::io_reason(&e)
        ))
    };
    let (text, header) = match std::fs::read_to_string(path) {
        Ok(t) => (t, ""),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            (String::new(), "# kamscope configuration (see README)\n")
        }
        Err(e) => return Err(fail(e)),
    };
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .map_err(|e| ConfigError(format!("config {}: {e}", path.display())))?;
    change(&mut doc);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    crate::link::write_atomically(path, format!("{header}{doc}").as_bytes()).map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_edit_replaces_the_file_whole_and_never_writes_through_a_link() {
        let dir = std::env::temp_dir().join(format!("kamscope-config-link-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let elsewhere = dir.join("elsewhere.txt");
        std::fs::write(&elsewhere, "# kept as it is\n").unwrap();
        let path = dir.join("config.toml");
        std::os::unix::fs::symlink(&elsewhere, &path).unwrap();
        save_last_source(&path, "demo").unwrap();
        assert_eq!(
            std::fs::read_to_string(&elsewhere).unwrap(),
            "# kept as it is\n"
        );
        assert!(!std::fs::symlink_metadata(&path).unwrap().is_symlink());
        assert_eq!(load(&path).unwrap().last_source.as_deref(), Some("demo"));
        // No temporary file is left beside it.
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn picker_edits_keep_comments_and_layout() {
        let dir = std::env::temp_dir().join(format!("kamscope-config-{}", std::process::id()));
        let path = dir.join("config.toml");
        assert_eq!(load(&path).unwrap(), Config::default());
        save_readout_protocol(&path, "demo", ReadoutProtocol::Kmp).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "# kamscope configuration (see README)\n[readout.protocol]\ndemo = \"kmp\"\n"
        );
        std::fs::remove_file(&path).unwrap();
        save_last_source(&path, "demo").unwrap();
        assert_eq!(load(&path).unwrap().last_source.as_deref(), Some("demo"));

        let mine = "# my site\n[han]\nparity = \"even\"   # Aidon\n\n[chart]\nwindow = \"6h\"\n";
        std::fs::write(&path, mine).unwrap();
        save_last_source(&path, "/dev/ttyUSB1").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("# my site") && text.contains("parity = \"even\"   # Aidon"));
        let c = load(&path).unwrap();
        assert_eq!(c.last_source.as_deref(), Some("/dev/ttyUSB1"));
        assert_eq!(c.han.parity, Some(Parity::Even));
        assert_eq!(c.chart_window(), Some(2));
        save_readout_protocol(&path, "/dev/ttyUSB2", ReadoutProtocol::Mbus).unwrap();
        save_readout_protocol(&path, "/dev/ttyUSB3", ReadoutProtocol::Kmp).unwrap();
        save_readout_protocol(&path, "/dev/ttyUSB2", ReadoutProtocol::Iec).unwrap();
        let c = load(&path).unwrap();
        assert_eq!(
            c.readout.protocol.get("/dev/ttyUSB2"),
            Some(&ReadoutProtocol::Iec)
        );
        assert_eq!(
            c.readout.protocol.get("/dev/ttyUSB3"),
            Some(&ReadoutProtocol::Kmp)
        );
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .contains("# my site")
        );
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let dir = std::env::temp_dir().join(format!("kamscope-config-e-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("config.toml");
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
        std::fs::write(&path, "[keys]\nencryption = \"0011\"\n").unwrap();
        assert!(
            load(&path)
                .unwrap_err()
                .to_string()
                .contains("32 hex digits")
        );
        std::fs::write(&path, "[site]\nfuse_a = 35\n").unwrap();
        assert_eq!(load(&path).unwrap().site.fuse_a(), 35.0);
        std::fs::remove_dir_all(&dir).ok();
    }
}
