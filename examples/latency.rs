//! Measures how long after a frame's closing flag arrives the screen shows it: bytes go through
//! the real HAN reader task (framer, decoder, channel) into the app, which is then drawn.
//! `cargo run --release --example latency`
use chrono::Local;
use kamscope::app::App;
use kamscope::link::{BoxLink, ConnectFuture, Connector};
use kamscope::protocol::han::{Scaling, sample_stream};
use kamscope::task::han::{self, HanConfig};
use kamscope::ui::{self, Theme};
use kamscope::wire::HanEvent;
use ratatui::{Terminal, backend::TestBackend};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

/// A link whose other end the measurement writes to.
struct Pipe(Option<tokio::io::DuplexStream>);

impl Connector for Pipe {
    fn describe(&self) -> String {
        "pipe".into()
    }
    fn connect(&mut self) -> ConnectFuture<'_> {
        let io = self.0.take();
        Box::pin(async move {
            io.map(|s| Box::new(s) as BoxLink)
                .ok_or_else(|| std::io::Error::other("pipe already used"))
        })
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let (ours, theirs) = tokio::io::duplex(64 * 1024);
    let (mut events, _commands) = han::spawn(Box::new(Pipe(Some(theirs))), HanConfig::default());
    let mut writer = ours;
    let now = Local::now().fixed_offset();
    let mut app = App::new("pipe".into(), Scaling::default(), None, now, 3600);
    let mut terminal = Terminal::new(TestBackend::new(120, 40)).unwrap();
    let theme = Theme::from_env();
    // 400 pushes would take 40 minutes at the line's pace; 40 show the distribution.
    let stream = sample_stream(40);
    let mut framer = kamscope::protocol::Framer::default();
    framer.push(&stream);
    framer.finish();
    let mut frames: Vec<Vec<u8>> = Vec::new();
    while let Some(span) = framer.next_span() {
        frames.push(span.bytes.to_vec());
    }
    let mut latencies = Vec::new();
    for frame in &frames {
        // 2400 baud: 24-byte pieces 100 ms apart, as the meter sends them.
        let pieces: Vec<&[u8]> = frame.chunks(24).collect();
        for (i, piece) in pieces.iter().enumerate() {
            if i > 0 {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            writer.write_all(piece).await.unwrap();
        }
        let last_byte = Instant::now();
        loop {
            match events.recv().await.expect("reader alive") {
                HanEvent::Span(s) => {
                    app.on_han(HanEvent::Span(s));
                    terminal.draw(|f| ui::draw(f, &app, &theme)).unwrap();
                    latencies.push(last_byte.elapsed());
                    break;
                }
                other => app.on_han(other),
            }
        }
    }
    latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{} frames: closing flag to drawn screen median {:.2} ms, max {:.2} ms",
        latencies.len(),
        ms(latencies[latencies.len() / 2]),
        ms(*latencies.last().unwrap())
    );
}
