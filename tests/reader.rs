//! The reader task against the simulated meter, record then replay.

use kamscope::link::record::Recorder;
use kamscope::link::replay::{ReplayConnector, ReplaySource};
use kamscope::link::sim::{MeterProfile, SimConnector};
use kamscope::task::han::{self, HanConfig};
use kamscope::wire::{HanCommand, HanEvent, LinkState, SpanRecord};
use std::time::Duration;

async fn collect_spans(
    events: &mut tokio::sync::mpsc::Receiver<HanEvent>,
    want: usize,
    limit: Duration,
) -> (Vec<SpanRecord>, Vec<LinkState>) {
    let mut spans = Vec::new();
    let mut states = Vec::new();
    let deadline = tokio::time::Instant::now() + limit;
    while spans.len() < want {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(HanEvent::Span(s))) => spans.push(*s),
            Ok(Some(HanEvent::Link(l))) => {
                let ended = l == LinkState::Ended;
                states.push(l);
                if ended {
                    break;
                }
            }
            Ok(Some(HanEvent::RecordError(e))) => panic!("{e}"),
            Ok(Some(HanEvent::Bytes { .. })) => {}
            Ok(None) | Err(_) => break,
        }
    }
    (spans, states)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_meter_record_then_replay_gives_the_same_spans() {
    let dir = std::env::temp_dir().join(format!("kamscope-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("capture.jsonl");
    let _ = std::fs::remove_file(&path);

    let cfg = HanConfig {
        recorder: Some(std::sync::Arc::new(std::sync::Mutex::new(
            Recorder::create(&path).unwrap(),
        ))),
        ..HanConfig::default()
    };
    let (mut events, commands) = han::spawn(
        Box::new(SimConnector::new(MeterProfile::ThreePhase, true, 200.0)),
        cfg,
    );
    let (live, states) = collect_spans(&mut events, 12, Duration::from_secs(20)).await;
    commands.send(HanCommand::Stop).await.unwrap();
    assert!(states.contains(&LinkState::Connected));
    assert!(live.len() >= 12, "{} spans", live.len());
    assert!(live.iter().filter(|s| s.ok()).count() >= 6);
    // Let the reader finish writing, then drain what it sent after our count.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut all_live = live;
    while let Ok(e) = events.try_recv() {
        if let HanEvent::Span(s) = e {
            all_live.push(*s);
        }
    }

    let source = ReplaySource::load(&path).unwrap();
    assert!(matches!(&source, ReplaySource::Capture(_)));
    assert!(source.chunks().next().is_some());
    let (mut events, _c) = han::spawn(
        Box::new(ReplayConnector::new(path.clone(), source, 1000.0)),
        HanConfig::default(),
    );
    let (replayed, states) = collect_spans(&mut events, usize::MAX, Duration::from_secs(20)).await;
    assert_eq!(states.last(), Some(&LinkState::Ended));
    let key = |s: &SpanRecord| (s.offset, s.bytes.clone(), s.ok());
    let live_keys: Vec<_> = all_live.iter().map(key).collect();
    let replay_keys: Vec<_> = replayed.iter().map(key).collect();
    // The live run may have flushed a partial frame at Stop that the capture still holds whole
    // up to the same bytes: compare the common prefix of complete spans.
    let n = live_keys.len().min(replay_keys.len()) - 1;
    assert!(n >= 10);
    assert_eq!(live_keys[..n], replay_keys[..n]);
    std::fs::remove_dir_all(&dir).ok();
}

/// A link whose other end the test holds.
struct Pipe(Option<tokio::io::DuplexStream>);

impl kamscope::link::Connector for Pipe {
    fn describe(&self) -> String {
        "pipe".into()
    }

    fn connect(&mut self) -> kamscope::link::ConnectFuture<'_> {
        let io = self.0.take();
        Box::pin(async move {
            io.map(|io| Box::new(io) as kamscope::link::BoxLink)
                .ok_or_else(|| std::io::Error::other("gone"))
        })
    }
}

/// Quitting while a frame arrives: the reader reads on until it is whole, so the recording
/// ends on a whole frame (and decodes clean).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_mid_frame_finishes_the_frame() {
    use tokio::io::AsyncWriteExt;
    let (ours, mut meter) = tokio::io::duplex(4096);
    let (mut events, commands) = han::spawn(Box::new(Pipe(Some(ours))), HanConfig::default());
    let frame = kamscope::protocol::han::sample_stream(1);
    let (a, b) = frame.split_at(100);
    meter.write_all(a).await.unwrap();
    loop {
        if let Some(HanEvent::Bytes { .. }) = events.recv().await {
            break;
        }
    }
    commands.send(HanCommand::Stop).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    meter.write_all(b).await.unwrap();
    let mut spans = Vec::new();
    while let Some(e) = events.recv().await {
        if let HanEvent::Span(s) = e {
            spans.push(*s);
        }
    }
    assert_eq!(spans.len(), 1, "{spans:?}");
    assert!(spans[0].ok());
    assert_eq!(spans[0].bytes, frame);
}
