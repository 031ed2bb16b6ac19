//! Measures what the app holds in memory after days of demo pushes, without a terminal: the
//! simulated meter's pushes (list 1 every 10 s, list 2 hourly) go through the HAN pipeline into
//! the app state (`App::on_han`, as the reader task delivers them), and the heap still held is
//! counted by this example's global allocator, in total and per part of the app.
//!
//! `cargo run --release --example inspector_memory -- --days 7 [--faults] [--meter 3p|1p|ct|p1]`
use chrono::{DateTime, Local, TimeDelta, Utc};
use kamscope::app::App;
use kamscope::link::sim::{MeterProfile, SimMeter};
use kamscope::protocol::han::Scaling;
use kamscope::protocol::{Decoder, Protocols};
use kamscope::wire::{Chunk, Direction, HanEvent, Link, Pipeline};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The system allocator, counting the bytes currently allocated.
struct Counting;

static HELD: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed on to the system allocator unchanged; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        HELD.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: same layout as asked of us.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        HELD.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        HELD.fetch_add(new_size, Ordering::Relaxed);
        HELD.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn held() -> usize {
    HELD.load(Ordering::Relaxed)
}

/// The process's resident set, from /proc (Linux), in bytes.
fn rss() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn mib(bytes: usize) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

struct Args {
    days: f64,
    faults: bool,
    meter: MeterProfile,
}

fn args() -> Result<Args, String> {
    let mut out = Args {
        days: 7.0,
        faults: false,
        meter: MeterProfile::ThreePhase,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--days" => {
                let v = it.next().ok_or("--days needs a number of days")?;
                out.days = v
                    .parse()
                    .ok()
                    .filter(|d: &f64| d.is_finite() && *d > 0.0)
                    .ok_or(format!("--days {v}: not a positive number of days"))?;
            }
            "--faults" => out.faults = true,
            "--meter" => {
                out.meter = match it.next().as_deref() {
                    Some("3p") => MeterProfile::ThreePhase,
                    Some("1p") => MeterProfile::OnePhase,
                    Some("ct") => MeterProfile::Ct,
                    Some("p1") => MeterProfile::P1,
                    other => return Err(format!("--meter {other:?}: use 3p, 1p, ct or p1")),
                }
            }
            other => {
                return Err(format!(
                    "unknown argument {other}: use --days N, --faults, --meter 3p|1p|ct|p1"
                ));
            }
        }
    }
    Ok(out)
}

fn main() {
    let args = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let start = Local::now().fixed_offset();
    let mut app = App::new("demo".into(), Scaling::default(), None, start, 3600);
    // What the HAN reader task frames: HDLC or P1.
    let mut pipeline = Pipeline::new(Link::Han, Protocols::HAN, Decoder::default(), None);
    let mut meter = SimMeter::new(args.meter, args.faults, 42);
    let t0 = start.timestamp();
    let seconds = (args.days * 86_400.0) as i64;
    let baseline = held();
    let mut spans = 0u64;
    for t in t0..t0 + seconds {
        let at: DateTime<Utc> = DateTime::from_timestamp(t, 0).unwrap_or_default();
        let Some(bytes) = meter.push_at(t, at.with_timezone(&Local).naive_local()) else {
            continue;
        };
        let chunk = Chunk {
            t: at,
            link: Link::Han,
            dir: Direction::Rx,
            bytes,
        };
        app.on_han(HanEvent::Bytes {
            at,
            count: chunk.bytes.len(),
        });
        let (records, _) = pipeline.records_of(&chunk);
        // A cut-off frame ends when the line goes quiet, half a second later.
        let quiet = pipeline.flush_records(at + TimeDelta::milliseconds(600));
        for s in records.into_iter().chain(quiet) {
            spans += 1;
            app.on_han(HanEvent::Span(Box::new(s)));
        }
        if t % 60 == 0 {
            app.tick(at.with_timezone(start.offset()));
        }
    }
    let total = held() - baseline;
    let resident = rss();
    println!(
        "{} simulated days, {} spans ({} in the Inspector), meter {}{}",
        args.days,
        spans,
        app.inspector.spans.len(),
        args.meter.name(),
        if args.faults { ", with faults" } else { "" }
    );
    println!("heap held by the app: {}", mib(total));
    // What each part holds: the heap freed when it is dropped.
    let mut part = |name: &str, drop_it: &mut dyn FnMut(&mut App)| {
        let before = held();
        drop_it(&mut app);
        println!("  {name:<10} {}", mib(before.saturating_sub(held())));
    };
    part("inspector", &mut |a| a.inspector = Default::default());
    part("live", &mut |a| a.live = Default::default());
    part("events", &mut |a| a.events = Default::default());
    match resident {
        Some(r) => println!("VmRSS before the parts were dropped: {}", mib(r)),
        None => println!("VmRSS: not available (no /proc/self/status)"),
    }
}
