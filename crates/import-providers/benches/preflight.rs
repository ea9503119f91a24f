//! Pre-flight of 10,000 objects against s3s-fs (S3 with SigV4, in this
//! process), one object at a time and 32 at a time: how much the bounded
//! concurrency buys.
//!
//! `cargo bench -p import-providers --bench preflight` (release). Prints the
//! times and the speed-ups; asserts no time. Two settings:
//!
//! - loopback: s3s-fs answers as fast as this machine can; client and server
//!   share its cores, so concurrency can only fill idle cores;
//! - with a simulated round trip (default 5 ms, roughly a bucket in the same
//!   cloud region) added before each answer: what concurrency buys against a
//!   real bucket, where one-at-a-time checks mostly wait.
//!
//! `PREFLIGHT_BENCH_OBJECTS` (default 10000) and `PREFLIGHT_BENCH_LATENCY_MS`
//! (default 5) change the settings.
//!
//! s3s-fs is served here rather than through the test kit's stand-in so that
//! its sockets have `TCP_NODELAY`: without it a small ranged `GET` answer
//! waits for the client's delayed ACK (about 40 ms on Linux), which makes
//! the one-at-a-time run look far slower than the work it does.
#![allow(missing_docs)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::service::{Service, service_fn};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use import_core::ImportRequest;
use import_providers::{
    EndpointPolicy, PreflightOptions, S3Credentials, SourceConfig, open_source, preflight,
};
use import_testkit::{Mp4Spec, sample_mp4};
use object_store::ObjectStore;
use tokio::net::TcpListener;

const AK: &str = "AKIDBENCH";
const SK: &str = "bench-secret-key-0123456789";
const BUCKET: &str = "bench-vids";

/// s3s-fs serving `root` (its sub-folders are buckets) on a loopback port,
/// each answer delayed by `latency`.
async fn serve_s3s_fs(root: &Path, latency: Duration) -> String {
    let fs = s3s_fs::FileSystem::new(root).unwrap();
    let mut builder = s3s::service::S3ServiceBuilder::new(fs);
    builder.set_auth(s3s::auth::SimpleAuth::from_single(AK, SK));
    let s3 = builder.build();
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let http = Builder::new(TokioExecutor::new());
        while let Ok((stream, _)) = listener.accept().await {
            stream.set_nodelay(true).unwrap();
            let s3 = s3.clone();
            let delayed = service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                let s3 = s3.clone();
                async move {
                    if !latency.is_zero() {
                        tokio::time::sleep(latency).await;
                    }
                    Service::call(&s3, request).await
                }
            });
            let connection = http
                .serve_connection(TokioIo::new(stream), delayed)
                .into_owned();
            tokio::spawn(connection);
        }
    });
    format!("http://{addr}")
}

async fn open(endpoint: &str) -> Arc<dyn ObjectStore> {
    let config = SourceConfig::S3 {
        bucket: BUCKET.into(),
        region: None,
        endpoint_url: Some(endpoint.to_owned()),
        credentials: Some(S3Credentials::new(AK, SK)),
    };
    let policy = EndpointPolicy::from_allowed([endpoint.trim_start_matches("http://")]).unwrap();
    open_source(&config, &policy, "https://hub.invalid")
        .await
        .unwrap()
}

async fn run(
    request: &ImportRequest,
    store: &Arc<dyn ObjectStore>,
    concurrency: usize,
) -> Duration {
    let options = PreflightOptions::default().with_concurrency(concurrency);
    let started = Instant::now();
    let report = preflight(request, Arc::clone(store), None, &options, |_, _| {}).await;
    let elapsed = started.elapsed();
    assert!(report.is_ok(), "{report}");
    elapsed
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let objects = usize::try_from(env_number("PREFLIGHT_BENCH_OBJECTS", 10_000)).unwrap();
    let latency = Duration::from_millis(env_number("PREFLIGHT_BENCH_LATENCY_MS", 5));
    let root = tempfile::tempdir().unwrap();
    let clip = sample_mp4(&Mp4Spec {
        mdat_bytes: 512,
        ..Mp4Spec::default()
    });
    let uris: Vec<String> = (0..objects)
        .map(|i| {
            let key = format!("day/{:02}/cam-{i:05}.mp4", i % 50);
            let file = root.path().join(BUCKET).join(&key);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, &clip).unwrap();
            format!("s3://{BUCKET}/{key}")
        })
        .collect();
    let request = ImportRequest::builder().uris(&uris).build().unwrap();
    let warm_up = ImportRequest::builder()
        .uris(&uris[..objects.min(500)])
        .build()
        .unwrap();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        println!(
            "pre-flight of {objects} objects ({} bytes each; a HEAD and a ranged GET each) against s3s-fs, {} core(s):",
            clip.len(),
            std::thread::available_parallelism().map_or(1, usize::from)
        );
        for (setting, latency) in [
            ("loopback", Duration::ZERO),
            ("+round trip", latency),
        ] {
            let store = open(&serve_s3s_fs(root.path(), latency).await).await;
            run(&warm_up, &store, 32).await;
            let one = run(&request, &store, 1).await;
            let many = run(&request, &store, 32).await;
            let per_second = |d: Duration| objects as f64 / d.as_secs_f64();
            println!(
                "  {setting} ({} ms per request): concurrency 1 {:.2} s ({:.0} objects/s), concurrency 32 {:.2} s ({:.0} objects/s), speed-up {:.1}x",
                latency.as_millis(),
                one.as_secs_f64(),
                per_second(one),
                many.as_secs_f64(),
                per_second(many),
                one.as_secs_f64() / many.as_secs_f64()
            );
        }
    });
}
