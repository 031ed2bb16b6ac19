//! The event log: what happened on the line, one timestamped line each: link up and down, the
//! first frame, bursts of bad frames, scaler changes, readouts, the recording, encryption. The
//! Events tab shows it; an installer reads back what happened while they were in the other room.

use super::live::Level;
use chrono::{DateTime, Utc};
use std::collections::VecDeque;

/// Lines kept; older ones leave (their number is shown).
pub const MAX_EVENTS: usize = 2000;

/// A quiet spell this long ends a burst of bad frames.
pub const BURST_QUIET_S: i64 = 60;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    pub at: DateTime<Utc>,
    pub level: Level,
    pub text: String,
}

/// A run of bad frames with no more than [`BURST_QUIET_S`] between them.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Burst {
    first: DateTime<Utc>,
    last: DateTime<Utc>,
    count: u64,
}

#[derive(Debug, Clone, Default)]
pub struct EventLog {
    entries: VecDeque<LogEntry>,
    /// Lines that left the log because it was full.
    pub dropped: u64,
    /// Lines scrolled back from the newest (0: following the newest).
    pub scroll: u16,
    burst: Option<Burst>,
}

impl EventLog {
    pub fn push(&mut self, at: DateTime<Utc>, level: Level, text: impl Into<String>) {
        if self.entries.len() == MAX_EVENTS {
            self.entries.pop_front();
            self.dropped += 1;
        }
        self.entries.push_back(LogEntry {
            at,
            level,
            text: text.into(),
        });
        if self.scroll > 0 {
            // Keep the lines the user is reading in place.
            self.scroll = self.scroll.saturating_add(1);
        }
    }

    pub fn entries(&self) -> impl DoubleEndedIterator<Item = &LogEntry> + ExactSizeIterator {
        self.entries.iter()
    }

    /// Lines logged since the start, those dropped included: the number of the next line.
    pub fn total(&self) -> u64 {
        self.dropped + self.entries.len() as u64
    }

    /// The lines from number `from` on (those still kept).
    pub fn since(&self, from: u64) -> impl Iterator<Item = &LogEntry> {
        let skip = from.saturating_sub(self.dropped) as usize;
        self.entries.iter().skip(skip)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// A bad frame: the first of a burst is logged at once with what failed.
    pub fn bad_frame(&mut self, at: DateTime<Utc>, what: &str) {
        self.close_burst_if_quiet(at);
        match &mut self.burst {
            Some(b) => {
                b.last = at;
                b.count += 1;
            }
            None => {
                self.burst = Some(Burst {
                    first: at,
                    last: at,
                    count: 1,
                });
                self.push(at, Level::Bad, format!("bad frame: {what}"));
            }
        }
    }

    /// The clock moving on: a burst that has been quiet long enough is summed up.
    pub fn close_burst_if_quiet(&mut self, now: DateTime<Utc>) {
        let quiet = self
            .burst
            .as_ref()
            .is_some_and(|b| (now - b.last).num_seconds() > BURST_QUIET_S);
        if quiet {
            self.close_burst();
        }
    }

    /// Ends a burst of bad frames: more than one is summed up (a lone bad frame said it all).
    fn close_burst(&mut self) {
        let Some(b) = self.burst.take() else {
            return;
        };
        if b.count > 1 {
            let secs = (b.last - b.first).num_seconds();
            let text = format!(
                "{} bad frames over {secs} s, then {BURST_QUIET_S} s without one",
                b.count
            );
            self.push(b.last, Level::Warn, text);
        }
    }

    /// Whether a burst of bad frames is going on.
    pub fn in_burst(&self) -> bool {
        self.burst.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap()
    }

    #[test]
    fn bursts_are_logged_once_and_summed_up() {
        let mut log = EventLog::default();
        log.bad_frame(t(0), "FCS failed");
        log.bad_frame(t(10), "FCS failed");
        log.bad_frame(t(20), "HCS failed");
        assert_eq!(log.len(), 1);
        log.close_burst_if_quiet(t(30));
        assert!(log.in_burst());
        log.close_burst_if_quiet(t(90));
        assert!(!log.in_burst());
        let texts: Vec<&str> = log.entries().map(|e| e.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "bad frame: FCS failed",
                "3 bad frames over 20 s, then 60 s without one"
            ]
        );
        // A lone bad frame is one line.
        log.bad_frame(t(200), "HCS failed");
        log.close_burst_if_quiet(t(300));
        assert_eq!(log.len(), 3);
    }

    #[test]
    fn the_log_is_bounded() {
        let mut log = EventLog::default();
        for i in 0..MAX_EVENTS + 5 {
            log.push(t(i as i64), Level::Info, "x");
        }
        assert_eq!(log.len(), MAX_EVENTS);
        assert_eq!(log.dropped, 5);
    }
}
