//! Recording to a file: every chunk received or sent, appended as one line of the capture format
//! (`wire::capture`) and flushed at once, so a recording survives a crash or a pulled cable.
//!
//! A line is written whole or not at all: a write that fails part way (a full disk) is cut back
//! off the file. What comes while writing fails is kept in memory (up to [`MAX_WAITING`]) and
//! written when a retry, once a minute, succeeds; the user is told when it fails, when it
//! resumes, and if lines are being lost.

use crate::wire::capture::EventLine;
use crate::wire::pipeline::RecordError;
use crate::wire::{Chunk, ChunkSink};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long a failing recording waits before it tries to write again.
pub const RETRY_AFTER: Duration = Duration::from_secs(60);

/// The most kept in memory while writing fails.
pub const MAX_WAITING: usize = 64 * 1024 * 1024;

/// Where a recording's lines go: a file, or in the tests one that fails when told to.
pub trait RecordTarget: Write + Send + std::fmt::Debug {
    /// Its length now, to cut a failed write back off.
    fn written_len(&self) -> io::Result<u64>;
    fn truncate(&mut self, len: u64) -> io::Result<()>;
    fn sync(&mut self) -> io::Result<()>;
}

impl RecordTarget for File {
    fn written_len(&self) -> io::Result<u64> {
        Ok(self.metadata()?.len())
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.set_len(len)
    }

    fn sync(&mut self) -> io::Result<()> {
        self.sync_all()
    }
}

/// Appends chunks to a capture file, flushing each.
#[derive(Debug)]
pub struct Recorder {
    path: PathBuf,
    file: Box<dyn RecordTarget>,
    /// Whole lines not written yet (while writing fails).
    waiting: Vec<u8>,
    waiting_lines: usize,
    /// When writing last failed; `None` while it works.
    failed_at: Option<Instant>,
    retry_after: Duration,
    /// Lines lost because too much waited (said once per failure).
    losing: bool,
}

impl Recorder {
    pub fn create(path: &Path) -> io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Recorder::on(path, Box::new(file), RETRY_AFTER))
    }

    /// A recorder writing to `file` (named `path` in what it says).
    pub fn on(path: &Path, file: Box<dyn RecordTarget>, retry_after: Duration) -> Self {
        Recorder {
            path: path.to_path_buf(),
            file,
            waiting: Vec::new(),
            waiting_lines: 0,
            failed_at: None,
            retry_after,
            losing: false,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `bytes` (whole lines) and flushes; on failure cuts the file back to where it was.
    fn write_whole(&mut self, bytes: &[u8]) -> io::Result<()> {
        let before = self.file.written_len();
        let result = self.file.write_all(bytes).and_then(|()| self.file.flush());
        if result.is_err()
            && let Ok(len) = before
        {
            let _ = self.file.truncate(len);
        }
        result
    }

    /// Appends one whole line; see the module for what happens while writing fails.
    fn write_line(&mut self, mut line: String) -> Result<(), RecordError> {
        line.push('\n');
        let path = || self.path.display().to_string();
        let Some(failed_at) = self.failed_at else {
            return self.write_whole(line.as_bytes()).map_err(|e| {
                self.waiting = line.into_bytes();
                self.waiting_lines = 1;
                self.failed_at = Some(Instant::now());
                RecordError::Write {
                    path: self.path.display().to_string(),
                    reason: super::io_reason(&e),
                }
            });
        };
        let mut said = Ok(());
        if self.waiting.len() + line.len() <= MAX_WAITING {
            self.waiting.extend_from_slice(line.as_bytes());
            self.waiting_lines += 1;
        } else if !self.losing {
            self.losing = true;
            said = Err(RecordError::Losing {
                path: path(),
                limit_mib: MAX_WAITING / (1024 * 1024),
            });
        }
        if failed_at.elapsed() < self.retry_after {
            return said;
        }
        let waiting = std::mem::take(&mut self.waiting);
        match self.write_whole(&waiting) {
            Ok(()) => {
                let lines = self.waiting_lines;
                self.waiting_lines = 0;
                self.failed_at = None;
                self.losing = false;
                Err(RecordError::Resumed {
                    path: self.path.display().to_string(),
                    lines,
                })
            }
            Err(_) => {
                self.waiting = waiting;
                self.failed_at = Some(Instant::now());
                said
            }
        }
    }

    /// Writes what waits, if it can, and what the system still holds to the disk (at the end
    /// of a session).
    pub fn sync(&mut self) -> io::Result<()> {
        if !self.waiting.is_empty() {
            let waiting = std::mem::take(&mut self.waiting);
            self.write_whole(&waiting)?;
            self.waiting_lines = 0;
            self.failed_at = None;
        }
        self.file.sync()
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
        let _ = self.sync();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A file in memory whose writes fail while `full` is set, part way through (as a disk
    /// that fills up does).
    #[derive(Debug, Clone, Default)]
    struct Disk {
        bytes: Arc<Mutex<Vec<u8>>>,
        full: Arc<Mutex<bool>>,
    }

    impl Write for Disk {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let mut bytes = self.bytes.lock().unwrap();
            if *self.full.lock().unwrap() {
                // Half of it lands before the disk is full.
                bytes.extend_from_slice(&buf[..buf.len() / 2]);
                return Err(io::Error::new(io::ErrorKind::StorageFull, "no space left"));
            }
            bytes.extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl RecordTarget for Disk {
        fn written_len(&self) -> io::Result<u64> {
            Ok(self.bytes.lock().unwrap().len() as u64)
        }

        fn truncate(&mut self, len: u64) -> io::Result<()> {
            self.bytes.lock().unwrap().truncate(len as usize);
            Ok(())
        }

        fn sync(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn chunk(n: u8) -> Chunk {
        Chunk {
            t: chrono::DateTime::UNIX_EPOCH,
            link: crate::wire::Link::Han,
            dir: crate::wire::Direction::Rx,
            bytes: vec![n; 4],
        }
    }

    #[test]
    fn a_full_disk_leaves_whole_lines_and_nothing_is_lost_when_it_frees() {
        let disk = Disk::default();
        let mut rec = Recorder::on(
            Path::new("rec.jsonl"),
            Box::new(disk.clone()),
            Duration::ZERO,
        );
        assert_eq!(rec.record(&chunk(1)), Ok(()));
        *disk.full.lock().unwrap() = true;
        let failed = rec.record(&chunk(2)).unwrap_err();
        assert!(
            failed.to_string().contains("retried every minute"),
            "{failed}"
        );
        // Still failing: kept, nothing said again.
        assert_eq!(rec.record(&chunk(3)), Ok(()));
        // Every line in the file is whole.
        let text = String::from_utf8(disk.bytes.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 1);
        assert!(text.ends_with('\n'));
        *disk.full.lock().unwrap() = false;
        let resumed = rec.record(&chunk(4)).unwrap_err();
        assert_eq!(
            resumed,
            RecordError::Resumed {
                path: "rec.jsonl".into(),
                lines: 3
            }
        );
        let text = String::from_utf8(disk.bytes.lock().unwrap().clone()).unwrap();
        let lines: Vec<_> = text
            .lines()
            .map(|l| crate::wire::capture::CaptureLine::parse(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert_eq!(rec.record(&chunk(5)), Ok(()));
    }
}
