//! Recording to a file: every chunk received or sent, appended as one line of the capture format
//! (`wire::capture`) and flushed at once, so a recording survives a crash or a pulled cable.

use crate::wire::capture::EventLine;
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

    /// Appends one whole line and flushes it.
    fn write_line(&mut self, mut line: String) -> Result<(), RecordError> {
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .and_then(|()| self.file.flush())
            .map_err(|e| RecordError::Write {
                path: self.path.display().to_string(),
                reason: super::io_reason(&e),
            })
    }

    /// Writes what the system still holds to the disk (at the end of a session).
    pub fn sync(&mut self) -> io::Result<()> {
        self.file.sync_all()
    }
}

impl ChunkSink for Recorder {
    fn record(&mut self, chunk: &Chunk) -> Result<(), RecordError> {
        self.write_line(chunk.to_json_line())
    }

    fn record_event(&mut self, event: &EventLine) -> Result<(), RecordError> {
        self.write_line(event.to_json_line())
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        let _ = self.file.sync_all();
    }
}
