//! Recording to a file: every chunk received or sent, appended as one line of the capture format
//! (`wire::capture`) and flushed at once, so a recording survives a crash or a pulled cable.

use crate::wire::pipeline::RecordError;
use crate::wire::{Chunk, ChunkSink};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Appends chunks to a capture file, flushing each.
#[derive(Debug)]
pub struct Recorder {
    path: PathBuf,
    file: File,
}

impl Recorder {
    pub fn create(path: &Path) -> io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Recorder {
            path: path.to_path_buf(),
            file,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write(&mut self, chunk: &Chunk) -> io::Result<()> {
        let mut line = chunk.to_json_line();
        line.push('\n');
        self.file.write_all(line.as_bytes())?;
        self.file.flush()
    }

    /// Writes what the system still holds to the disk (at the end of a session).
    pub fn sync(&mut self) -> io::Result<()> {
        self.file.sync_all()
    }
}

impl ChunkSink for Recorder {
    fn record(&mut self, chunk: &Chunk) -> Result<(), RecordError> {
        self.write(chunk).map_err(|e| RecordError::Write {
            path: self.path.display().to_string(),
            reason: super::io_reason(&e),
        })
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        let _ = self.file.sync_all();
    }
}
