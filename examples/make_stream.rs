//! Writes a raw capture of N Kamstrup pushes, to time `kamscope decode --summary` on a large file:
//! `cargo run --release --example make_stream -- 1000000 /tmp/han.bin`
fn main() {
    let mut args = std::env::args().skip(1);
    let frames: usize = args
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let path = args.next().unwrap_or_else(|| "han-stream.bin".into());
    let stream = kamscope::protocol::han::sample_stream(frames);
    if let Err(e) = std::fs::write(&path, &stream) {
        eprintln!("make_stream: cannot write {path}: {e}");
        std::process::exit(2);
    }
    println!("{path}: {frames} frames, {} bytes", stream.len());
}
