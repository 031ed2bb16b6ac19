//! `decode`'s output: frames decoded and written as JSON lines or as text into a reused buffer,
//! as `kamscope decode --format json|text` does. Run with `cargo bench --bench output`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kamscope::protocol::han::sample_stream;
use kamscope::protocol::{Decoder, Framer, Protocols};
use kamscope::wire::detail::{FieldHeads, SpanOutput};
use kamscope::wire::text;
use std::hint::black_box;

const FRAMES: usize = 10_000;

/// Frames and decodes the whole stream, handing each span's description to `write`.
fn each_span(stream: &[u8], mut write: impl FnMut(&SpanOutput<'_>)) {
    let mut framer = Framer::new(Protocols::ALL);
    let mut decoder = Decoder::default();
    framer.push(stream);
    framer.finish();
    while let Some(span) = framer.next_span() {
        let decoded = decoder.decode(&span);
        write(&SpanOutput::of(&span, &decoded));
    }
}

fn bench(c: &mut Criterion) {
    let stream = sample_stream(FRAMES);
    let mut group = c.benchmark_group("output");
    group.throughput(Throughput::Elements(FRAMES as u64));

    let mut out: Vec<u8> = Vec::with_capacity(1 << 20);
    let mut heads = FieldHeads::default();
    group.bench_function("json", |b| {
        b.iter(|| {
            let mut bytes = 0;
            each_span(&stream, |span| {
                out.clear();
                span.write_json(&mut out, &mut heads)
                    .expect("a span writes as JSON");
                out.push(b'\n');
                bytes += out.len();
            });
            black_box(bytes)
        })
    });

    let mut text_out = String::with_capacity(1 << 20);
    group.bench_function("text", |b| {
        b.iter(|| {
            let mut bytes = 0;
            each_span(&stream, |span| {
                text_out.clear();
                text::render_output(span, &mut text_out);
                bytes += text_out.len();
            });
            black_box(bytes)
        })
    });

    group.bench_function("decode_only", |b| {
        b.iter(|| {
            let mut fields = 0;
            each_span(&stream, |span| fields += span.fields().len());
            black_box(fields)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
