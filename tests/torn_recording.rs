//! A recording torn by a full disk or a power cut: the bad line is skipped with a sentence naming
//! its line number, and everything after it is still decoded, replayed and judged.

mod common;

use chrono::{Duration, TimeZone, Utc};
use common::command;
use kamscope::link::replay::ReplaySource;
use kamscope::wire::{Chunk, Direction, Link};

/// Six pushes ten seconds apart, one line each, with line 3 torn in the middle and the last line
/// cut off (as a power cut leaves it).
fn torn_recording(name: &str) -> std::path::PathBuf {
    let frame = kamscope::protocol::han::sample_stream(1);
    let t0 = Utc.with_ymd_and_hms(2024, 5, 1, 10, 0, 0).unwrap();
    let mut lines: Vec<String> = std::iter::repeat_n(&frame, 6)
        .enumerate()
        .map(|(i, bytes)| {
            Chunk {
                t: t0 + Duration::seconds(10 * i as i64),
                link: Link::Han,
                dir: Direction::Rx,
                bytes: bytes.to_vec(),
            }
            .to_json_line()
        })
        .collect();
    let torn = lines[2].len() / 2;
    lines[2].truncate(torn);
    let mut text = lines[..5].join("\n");
    text.push('\n');
    text.push_str(&lines[5][..40]);
    let path = std::env::temp_dir().join(format!("kamscope-{name}-{}.jsonl", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn decode_skips_a_torn_line_and_goes_on() {
    let path = torn_recording("torn-decode");
    let o = command()
        .args(["decode", "--summary", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    // Lines 1, 2, 4 and 5 decode; 3 and 6 are torn.
    assert_eq!(summary["good"], 4, "{summary}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("line 3: not a capture line, skipped"), "{err}");
    assert!(err.contains("line 6: not a capture line, skipped"), "{err}");
    std::fs::remove_file(&path).ok();
}

#[test]
fn replay_and_check_read_past_a_torn_line() {
    let path = torn_recording("torn-replay");
    let source = ReplaySource::load(&path).unwrap();
    assert_eq!(source.chunks().count(), 4);
    let warnings = source.warnings();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings[0].contains("line 3"));
    let o = command()
        .args(["check", "--replay", path.to_str().unwrap()])
        .env("TZ", "UTC")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("pushes decoded"), "{text}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("line 3: not a capture line, skipped"), "{err}");
    std::fs::remove_file(&path).ok();
}

#[test]
fn a_replay_reads_its_recording_from_disk_as_it_plays() {
    // The source holds where the recording is, not its chunks: what is on disk when it plays is
    // what plays (a week-long recording is never held in memory, let alone twice).
    let path = torn_recording("streamed");
    let source = ReplaySource::load(&path).unwrap();
    assert!(matches!(source, ReplaySource::Capture(_)));
    assert_eq!(source.chunks().count(), 4);
    let more = Chunk {
        t: Utc.with_ymd_and_hms(2024, 5, 1, 10, 1, 0).unwrap(),
        link: Link::Han,
        dir: Direction::Rx,
        bytes: kamscope::protocol::han::sample_stream(1),
    };
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push('\n');
    text.push_str(&more.to_json_line());
    text.push('\n');
    std::fs::write(&path, text).unwrap();
    assert_eq!(source.chunks().count(), 5);
    std::fs::remove_file(&path).ok();
}
