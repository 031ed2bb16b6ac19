//! Decodes the sample stream repeatedly, for profilers: `cargo run --release --example profile_decode`.
use kamscope::protocol::{Decoder, Framer, Protocols};
fn main() {
    let stream = kamscope::protocol::han::sample_stream(10_000);
    let mut n = 0;
    for _ in 0..50 {
        let mut framer = Framer::new(Protocols::HDLC);
        let mut decoder = Decoder::default();
        framer.push(&stream);
        framer.finish();
        while let Some(span) = framer.next_span() {
            std::hint::black_box(decoder.decode(&span));
            n += 1;
        }
    }
    println!("{n} frames");
}
