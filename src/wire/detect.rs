//! Finding a HAN port's line settings by themselves: the settings real HAN ports use are tried in
//! turn, and what came at each is judged here. Sans-IO: the caller opens the port at each
//! setting, feeds the bytes with their time ([`Trial::push`]) and asks for the verdict; the
//! bytes are framed by the same [`Pipeline`] as live.

use super::line::{Parity, SerialSettings};
use super::{Direction, Link, Pipeline};
use crate::protocol::{Content, Decoder, Protocols};
use chrono::{DateTime, Utc};
use std::fmt;

/// The settings real HAN ports use, in the order they are tried: Kamstrup (the meter kamscope is
/// for) first, then Aidon and Kaifa, then the faster lines.
pub const CANDIDATES: [SerialSettings; 4] = [
    SerialSettings::HAN,
    SerialSettings {
        parity: Parity::Even,
        ..SerialSettings::HAN
    },
    SerialSettings {
        baud: 9600,
        parity: Parity::Even,
        ..SerialSettings::HAN
    },
    SerialSettings::P1,
];

/// Good frames that prove a setting before its time is up: one could be luck, two are not.
pub const PROVEN_AFTER: u32 = 2;

/// What the bytes at one setting say about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// No byte came: nothing is sending, or the wiring is wrong.
    Nothing,
    /// Bytes, but not one frame in them: the speed is wrong (every bit is cut in the wrong
    /// place), or the parity is: a receiver that expects a parity bit the meter does not send
    /// takes the next start bit for the stop bit and loses step, so nothing lines up either.
    /// From the bytes alone the two cannot be told apart.
    NoFrames,
    /// Frames came, but none passed its checks: the speed is right (the frame marks and lengths
    /// line up) and the bits inside are damaged, as a wrong parity setting does.
    FailedChecks,
    /// Frames that pass every check: this setting works.
    GoodFrames,
}

/// The judgement of one setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub settings: SerialSettings,
    pub bytes: u64,
    /// Frames of any protocol the HAN port carries, good or not.
    pub frames: u32,
    pub good_frames: u32,
    /// Frames whose header check (HDLC HCS) failed.
    pub hcs_failures: u32,
    /// Frames whose frame check (HDLC FCS) failed.
    pub fcs_failures: u32,
    /// P1 telegrams whose CRC failed (or was missing).
    pub crc_failures: u32,
    /// Bytes found to be in no frame (a frame still arriving when the time was up is in
    /// neither).
    pub junk_bytes: u64,
}

impl Verdict {
    pub fn reading(&self) -> Reading {
        if self.bytes == 0 {
            Reading::Nothing
        } else if self.good_frames > 0 {
            Reading::GoodFrames
        } else if self.frames > 0 {
            Reading::FailedChecks
        } else {
            Reading::NoFrames
        }
    }

    /// The share of the bytes that were in no frame, 0 to 1.
    pub fn junk_share(&self) -> f64 {
        if self.bytes == 0 {
            0.0
        } else {
            self.junk_bytes as f64 / self.bytes as f64
        }
    }

    /// Which check failed and how often: `HCS fails on every frame`, `FCS fails on 3 of 5
    /// frames`.
    fn failures(&self) -> Vec<String> {
        let of = |n: u32| {
            if n == self.frames {
                "every frame".to_string()
            } else {
                format!("{n} of {} frames", self.frames)
            }
        };
        [
            ("HCS", self.hcs_failures),
            ("FCS", self.fcs_failures),
            ("CRC", self.crc_failures),
        ]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(name, n)| format!("{name} fails on {}", of(n)))
        .collect()
    }

    /// What came, without the setting: `1190 bytes, 0 good frames, HCS fails on every frame:
    /// wrong parity`.
    pub fn summary(&self) -> String {
        let plural = |n: u64, one: &str| {
            if n == 1 {
                format!("1 {one}")
            } else {
                format!("{n} {one}s")
            }
        };
        let mut parts = vec![plural(self.bytes, "byte")];
        match self.reading() {
            Reading::Nothing => {}
            Reading::NoFrames => parts.push("no frames".into()),
            _ => parts.push(plural(u64::from(self.good_frames), "good frame")),
        }
        if self.reading() == Reading::FailedChecks {
            parts.extend(self.failures());
        }
        // Junk beside frames says something; all junk is what "no frames" already says.
        if self.frames > 0 && self.junk_bytes > 0 {
            parts.push(format!("{:.0}% junk", self.junk_share() * 100.0));
        }
        let meaning = match self.reading() {
            Reading::Nothing => "nothing came",
            Reading::NoFrames => "wrong speed or parity",
            Reading::FailedChecks => "wrong parity",
            Reading::GoodFrames => "this one",
        };
        format!("{}: {meaning}", parts.join(", "))
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.settings, self.summary())
    }
}

/// One setting on trial: the bytes received at it, framed as they come.
pub struct Trial {
    pipeline: Pipeline,
    verdict: Verdict,
}

impl Trial {
    pub fn new(settings: SerialSettings) -> Self {
        Trial {
            pipeline: Pipeline::new(Link::Han, Protocols::HAN, Decoder::default(), None),
            verdict: Verdict {
                settings,
                bytes: 0,
                frames: 0,
                good_frames: 0,
                hcs_failures: 0,
                fcs_failures: 0,
                crc_failures: 0,
                junk_bytes: 0,
            },
        }
    }

    /// Bytes received at `at`.
    pub fn push(&mut self, at: DateTime<Utc>, bytes: &[u8]) {
        self.verdict.bytes += bytes.len() as u64;
        let verdict = &mut self.verdict;
        self.pipeline
            .push(Direction::Rx, at, bytes, |v| count(verdict, &v));
    }

    /// Whether the setting has shown enough good frames to stop trying early.
    pub fn proven(&self) -> bool {
        self.verdict.good_frames >= PROVEN_AFTER
    }

    /// The time is up: the verdict. A frame still arriving is left out (it was cut by the time,
    /// not by the line); its bytes are counted.
    pub fn finish(self) -> Verdict {
        self.verdict
    }
}

fn count(verdict: &mut Verdict, view: &super::pipeline::SpanView<'_>) {
    if matches!(view.span.content, Content::Junk) {
        verdict.junk_bytes += view.span.bytes.len() as u64;
        return;
    }
    verdict.frames += 1;
    if view.ok() {
        verdict.good_frames += 1;
    }
    for check in view.span.content.checks().iter().filter(|c| !c.ok) {
        match check.name {
            "HCS" => verdict.hcs_failures += 1,
            "FCS" => verdict.fcs_failures += 1,
            "CRC" => verdict.crc_failures += 1,
            _ => {}
        }
    }
}

/// Judges `bytes`, received at `settings` in one go (for tests and recorded samples).
pub fn judge(settings: SerialSettings, at: DateTime<Utc>, bytes: &[u8]) -> Verdict {
    let mut trial = Trial::new(settings);
    trial.push(at, bytes);
    trial.finish()
}

/// The setting to use: the one with the most good frames; on a tie the first tried (the order
/// of [`CANDIDATES`] puts the likelier first). `None` when no setting gave a good frame.
pub fn choose(verdicts: &[Verdict]) -> Option<&Verdict> {
    verdicts
        .iter()
        .filter(|v| v.reading() == Reading::GoodFrames)
        .rev()
        .max_by_key(|v| v.good_frames)
}

/// What to pass next time to get `settings` without detecting: `--baud 2400 --parity none`.
pub fn flags(settings: SerialSettings) -> String {
    let parity = match settings.parity {
        Parity::None => "none",
        Parity::Even => "even",
        Parity::Odd => "odd",
    };
    let mut out = format!("--baud {} --parity {parity}", settings.baud);
    if settings.data_bits != 8 {
        out += &format!(" --data-bits {}", settings.data_bits);
    }
    if settings.stop_bits != 1 {
        out += &format!(" --stop-bits {}", settings.stop_bits);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readings_in_words() {
        let at = Utc::now();
        let kamstrup = crate::protocol::han::sample_stream(3);
        let good = judge(CANDIDATES[0], at, &kamstrup);
        assert_eq!(good.reading(), Reading::GoodFrames);
        assert_eq!(
            good.to_string(),
            format!(
                "2400 8N1: {} bytes, 3 good frames: this one",
                kamstrup.len()
            )
        );
        assert_eq!(
            judge(CANDIDATES[1], at, &[]).to_string(),
            "2400 8E1: 0 bytes: nothing came"
        );
        assert_eq!(
            judge(CANDIDATES[2], at, &[0x55; 40]).to_string(),
            "9600 8E1: 40 bytes, no frames: wrong speed or parity"
        );
        // Every frame's header damaged in the same place.
        let mut damaged = kamstrup.clone();
        let mut at_frame = 0;
        while at_frame < damaged.len() {
            let len = usize::from(
                u16::from_be_bytes([damaged[at_frame + 1], damaged[at_frame + 2]]) & 0x7ff,
            );
            damaged[at_frame + 5] ^= 0x80;
            at_frame += len + 2;
        }
        let bad = judge(CANDIDATES[1], at, &damaged);
        assert_eq!(bad.reading(), Reading::FailedChecks);
        assert_eq!(
            bad.to_string(),
            format!(
                "2400 8E1: {} bytes, 0 good frames, HCS fails on every frame, FCS fails on every frame: wrong parity",
                kamstrup.len()
            )
        );
        assert_eq!(choose(&[bad.clone(), good.clone()]), Some(&good));
        assert_eq!(choose(&[bad]), None);
        assert_eq!(flags(CANDIDATES[0]), "--baud 2400 --parity none");
        assert_eq!(flags(CANDIDATES[2]), "--baud 9600 --parity even");
    }
}
