//! The log file (`tracing`): link events, bad frames, readout steps and the recording's state, so
//! an installer can send what happened on site. Written to a file, never to the terminal the app
//! draws on. At info level it names frames by offset and checks, never their bytes or a key.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub use tracing::Level;

/// Where the log goes when `--log` does not say: the platform's state directory (on Linux
/// `~/.local/state/kamscope/kamscope.log`), else its local data directory.
pub fn default_path() -> Option<PathBuf> {
    let dirs = directories::ProjectDirs::from("", "", "kamscope")?;
    let dir = dirs
        .state_dir()
        .unwrap_or_else(|| dirs.data_local_dir())
        .to_path_buf();
    Some(dir.join("kamscope.log"))
}

#[derive(Debug, thiserror::Error)]
#[error("cannot write the log {path}: {reason}")]
pub struct LogError {
    path: String,
    reason: String,
}

/// Starts logging to `path` (appended; its directory is made) at `level` and above.
pub fn init(path: &Path, level: Level) -> Result<(), LogError> {
    let fail = |e: std::io::Error| LogError {
        path: path.display().to_string(),
        reason: crate::link::io_reason(&e),
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(fail)?;
    // A second call (tests) keeps the first subscriber: that is fine.
    let _ = tracing_subscriber::fmt()
        .with_writer(Mutex::new(file))
        .with_ansi(false)
        .with_max_level(level)
        .with_target(false)
        .try_init();
    Ok(())
}
