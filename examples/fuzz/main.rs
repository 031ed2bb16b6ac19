//! A fuzz harness on stable Rust: `cargo run --release --example fuzz -- --inputs N [--seed S]`.
//!
//! Inputs are random bytes and the fixtures under tests/fixtures mutated with knowledge of their
//! formats (checks computed again so the damage reaches the decoders behind them, ciphered
//! pushes sealed with the test keys, deep nesting, huge lengths). Each goes to every decoder entry
//! point of its kind (see `targets`). A failure is a panic, a broken invariant (byte accounting,
//! chunking independence, ...) or an input slower than 50 ms; each failing input is written as
//! hex to `fuzz-failures/<target>-<n>.hex` and the run exits non-zero. The same seed gives the
//! same inputs: `--first N --inputs 1` runs input N alone; `--replay FILE` runs a saved one.

mod app;
mod inputs;
mod mutate;
mod rng;
mod targets;

use inputs::{Corpus, Input, Kind};
use rng::Rng;
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// The slowest an input may be (release build).
const TIME_LIMIT: Duration = Duration::from_millis(50);
/// Failing inputs written per target: one bug found a thousand times needs a few examples.
const FILES_PER_TARGET: usize = 20;
const FAILURE_DIR: &str = "fuzz-failures";

thread_local! {
    /// The message and place of the last panic, for the failure report (the default hook's
    /// backtrace print is replaced).
    pub static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
    /// A target is running: its panics are caught and reported as failures of the input.
    /// The target that took longest on the current input, to name in a time failure.
    pub static SLOWEST_TARGET: std::cell::Cell<Option<(&'static str, Duration)>> = const { std::cell::Cell::new(None) };
    pub static IN_TARGET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

struct Args {
    inputs: u64,
    seed: u64,
    first: u64,
    replay: Option<PathBuf>,
}

const USAGE: &str = "usage: cargo run --release --example fuzz -- --inputs N [--seed S] [--first N] [--replay FILE.hex]";

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        inputs: 10_000,
        seed: 1,
        first: 0,
        replay: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value; {USAGE}"));
        let number = |v: String| {
            v.replace('_', "")
                .parse::<u64>()
                .map_err(|_| format!("{flag} wants a whole number, not {v:?}"))
        };
        match flag.as_str() {
            "--inputs" => args.inputs = number(value()?)?,
            "--seed" => args.seed = number(value()?)?,
            "--first" => args.first = number(value()?)?,
            "--replay" => args.replay = Some(PathBuf::from(value()?)),
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other:?}; {USAGE}")),
        }
    }
    Ok(args)
}

/// One input: made from the seed and its number, fed, timed.
fn run_one(corpus: &Corpus, seed: u64, n: u64) -> (Input, Result<(), targets::Failure>, Duration) {
    let mut rng = Rng::for_input(seed, n);
    SLOWEST_TARGET.set(None);
    let input = corpus.input(&mut rng);
    let started = Instant::now();
    let result = targets::run(&input, &mut rng);
    (input, result, started.elapsed())
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("fuzz: {e}");
            return ExitCode::from(2);
        }
    };
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        if IN_TARGET.get() {
            LAST_PANIC.with(|p| *p.borrow_mut() = Some(format!("{message}{place}")));
        } else {
            eprintln!("fuzz: the harness itself failed: {message}{place}");
        }
    }));
    if let Some(path) = &args.replay {
        return replay(path);
    }
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let corpus = match Corpus::load(&fixtures) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("fuzz: {e}");
            return ExitCode::from(2);
        }
    };
    // Timing in a debug build says nothing about the release one: the limit is not checked there.
    let check_time = !cfg!(debug_assertions);
    eprintln!(
        "fuzz: {} inputs from seed {} ({}){}",
        args.inputs,
        args.seed,
        corpus.counts(),
        if check_time {
            ""
        } else {
            "; debug build: the 50 ms limit is not checked"
        }
    );
    let started = Instant::now();
    let mut failures = 0u64;
    let mut written: std::collections::HashMap<&'static str, usize> = Default::default();
    let mut slowest = Duration::ZERO;
    let step = (args.inputs / 10).max(1);
    for n in args.first..args.first + args.inputs {
        let (input, mut result, mut elapsed) = run_one(&corpus, args.seed, n);
        if result.is_ok() && check_time && elapsed > TIME_LIMIT {
            // The machine may have been busy: an input is slow only if it is slow every time.
            // The fastest run is reported, with its slowest target.
            let mut stage = SLOWEST_TARGET.get();
            for _ in 0..2 {
                let again = run_one(&corpus, args.seed, n).2;
                if again < elapsed {
                    elapsed = again;
                    stage = SLOWEST_TARGET.get();
                }
            }
            if elapsed > TIME_LIMIT {
                let (name, took) = stage.unwrap_or(("none", Duration::ZERO));
                result = Err(targets::Failure {
                    target: "time",
                    reason: format!(
                        "{:.1} ms, over the {} ms limit ({name} took {:.1} ms)",
                        elapsed.as_secs_f64() * 1e3,
                        TIME_LIMIT.as_millis(),
                        took.as_secs_f64() * 1e3,
                    ),
                });
            }
        }
        slowest = slowest.max(elapsed);
        if let Err(f) = result {
            failures += 1;
            let count = written.entry(f.target).or_default();
            let file = if *count < FILES_PER_TARGET {
                *count += 1;
                save(f.target, n, &input.bytes)
            } else {
                "not written (enough of this target)".into()
            };
            let mut reason = f.reason;
            if reason.len() > 600 {
                let cut = (0..=600)
                    .rev()
                    .find(|&i| reason.is_char_boundary(i))
                    .unwrap_or(0);
                reason.truncate(cut);
                reason.push_str("...");
            }
            eprintln!(
                "fuzz: input {n} ({}, {} bytes): {}: {reason} [{file}]",
                input.how,
                input.bytes.len(),
                f.target
            );
        }
        let done = n - args.first + 1;
        if done % step == 0 && done < args.inputs {
            eprintln!(
                "fuzz: {}% ({done} inputs, {failures} failures, {:.1} s)",
                done * 100 / args.inputs,
                started.elapsed().as_secs_f64()
            );
        }
    }
    println!(
        "fuzz: {} inputs, {failures} failures, seed {}, {:.1} s (max {:.1} ms per input)",
        args.inputs,
        args.seed,
        started.elapsed().as_secs_f64(),
        slowest.as_secs_f64() * 1e3
    );
    if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Writes a failing input as hex; returns where (or why not).
fn save(target: &str, n: u64, bytes: &[u8]) -> String {
    let path = Path::new(FAILURE_DIR).join(format!("{target}-{n}.hex"));
    let mut text = kamscope::wire::hex::encode(bytes);
    text.push('\n');
    match std::fs::create_dir_all(FAILURE_DIR).and_then(|()| std::fs::write(&path, text)) {
        Ok(()) => path.display().to_string(),
        Err(e) => format!("cannot write {}: {e}", path.display()),
    }
}

/// Runs a saved input through every target (as bytes off a line, and as config, capture and hex
/// text).
fn replay(path: &Path) -> ExitCode {
    let bytes = match std::fs::read_to_string(path)
        .map_err(|e| e.to_string())
        .and_then(|t| kamscope::wire::hex::parse(&t).map_err(|e| e.to_string()))
    {
        Ok(b) => b,
        Err(e) => {
            eprintln!("fuzz: cannot read {}: {e}", path.display());
            return ExitCode::from(2);
        }
    };
    let mut failed = false;
    for kind in [Kind::Stream, Kind::Config, Kind::Capture, Kind::Hex] {
        let input = Input {
            kind,
            how: "replay",
            bytes: bytes.clone(),
            app: true,
        };
        let started = Instant::now();
        let result = targets::run(&input, &mut Rng::for_input(0, 0));
        let ms = started.elapsed().as_secs_f64() * 1e3;
        match result {
            Ok(()) => eprintln!("fuzz: {kind:?}: ok in {ms:.1} ms"),
            Err(f) => {
                failed = true;
                eprintln!("fuzz: {kind:?}: {}: {} ({ms:.1} ms)", f.target, f.reason);
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
