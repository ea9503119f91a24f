//! Parse and validate 100,000 URIs, build the import request and serialise its
//! upload body; print the time of each run. Target: under 50 ms per run.
//!
//! Run with `cargo bench -p import-core`.

use std::time::{Duration, Instant};

use import_core::{ImportRequest, api};

const OBJECTS: usize = 100_000;
const RUNS: usize = 15;

fn main() {
    let uris: Vec<String> = (0..OBJECTS)
        .map(|i| {
            format!(
                "s3://drive-monitor-archive/fleet/2026-09-{:02}/truck-{:04}/cam-front-{i:06}.mp4",
                i % 28 + 1,
                i % 997
            )
        })
        .collect();
    let mut times = Vec::with_capacity(RUNS);
    let mut body_len = 0;
    for _ in 0..RUNS {
        let start = Instant::now();
        let request = ImportRequest::builder()
            .uris(uris.iter().map(String::as_str))
            .build()
            .expect("valid URIs");
        let http = api::upload(&request).expect("an S3 upload");
        body_len = http.body().map_or(0, <[u8]>::len);
        times.push(start.elapsed());
        let _ = std::hint::black_box(http);
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "parse+validate+body of {OBJECTS} URIs ({body_len} body bytes): min {:.1} ms, median {:.1} ms, max {:.1} ms over {RUNS} runs (target < 50 ms)",
        ms(times[0]),
        ms(times[RUNS / 2]),
        ms(times[RUNS - 1])
    );
}
