//! Benchmarks of the reference server, run as a user would run it: the release
//! `vimport serve` binary as a child process, an s3s-fs bucket in this process.
//!
//! ```text
//! cargo bench -p vimport --bench server                  # everything
//! cargo bench -p vimport --bench server -- create pages  # some of: create pages throughput memory
//! cargo bench -p vimport --bench server -- sweep         # not in "everything": --max-in-flight values
//! cargo bench -p vimport --bench server -- bodies        # not in "everything": 24 slow 60 MiB uploads
//! ```
//!
//! `create` and `pages` run on SQLite and on PostgreSQL (a fresh database on
//! `$VIMPORT_TEST_POSTGRES_URL`'s server, else 127.0.0.1:5432).
//!
//! Each prints its figures; `docs/performance.md` records them. Nothing here
//! asserts a time.
#![allow(missing_docs)]

#[path = "../tests/it/common.rs"]
mod common;
mod throughput;

use std::process::Child;
use std::time::{Duration, Instant};

use common::{ApiClient, is_terminal, s3_integration_body};
use import_core::{ImportJobId, ImportRequest, PageRequest, api};
use import_testkit::S3StandIn;
use import_testkit::mp4::{Mp4Spec, streamed_mp4_to_file};

const AK: &str = "AKIDBENCH";
const SK: &str = "bench-secret-key";

struct Served {
    child: Child,
    api: ApiClient,
    _dir: tempfile::TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `vimport serve` with `--max-in-flight` as given (`None`: its default).
fn serve(max_in_flight: Option<usize>, allow: &str) -> Served {
    serve_on(max_in_flight, allow, None)
}

/// [`serve`] on a database of the caller's (`None`: the data folder's SQLite file).
fn serve_on(max_in_flight: Option<usize>, allow: &str, database_url: Option<&str>) -> Served {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let mut store = vec!["--data-dir", data];
    if let Some(url) = database_url {
        store.extend(["--database-url", url]);
    }
    let key = common::keys_create(&store, &[]);
    let in_flight = max_in_flight.map(|n| n.to_string());
    let mut args = vec!["--allow-endpoint", allow];
    if let Some(n) = &in_flight {
        args.extend(["--max-in-flight", n.as_str()]);
    }
    args.extend(&store);
    let (child, base) = common::serve(&args, &[]);
    Served {
        child,
        api: ApiClient::new(base, key),
        _dir: dir,
    }
}

/// The upload of `keys` in an S3 bucket through an integration.
fn upload(
    bucket: &str,
    keys: &[String],
    integration: &str,
) -> api::ApiRequest<import_core::wire::UploadResponse> {
    let request = ImportRequest::builder()
        .uris(keys.iter().map(|k| format!("s3://{bucket}/{k}")))
        .integration_id(integration.parse().unwrap())
        .build()
        .unwrap();
    api::upload(&request).unwrap()
}

impl Served {
    async fn integration(&self, s3: &S3StandIn, bucket: &str) -> String {
        self.api
            .s3_integration(&s3_integration_body(s3, bucket))
            .await
    }

    async fn wait(&self, job: &str) -> serde_json::Value {
        self.api
            .poll_job(
                job,
                Duration::from_millis(50),
                Duration::from_secs(24 * 3600),
                is_terminal,
            )
            .await
    }

    /// CPU time (user + system) the server process has used so far.
    fn cpu_secs(&self) -> Option<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).ok()?;
        // After the command name's closing parenthesis: fields 3 onwards;
        // utime and stime are fields 14 and 15, in clock ticks (100 a second).
        let rest = stat.rsplit_once(')')?.1;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
        Some(ticks / 100.0)
    }

    /// Peak resident memory of the server process so far (VmHWM), in MiB.
    fn peak_rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn create_and_pages(s3: &S3StandIn, run_pages: bool) {
    let database = import_testkit::postgres::fresh_database("vimport_bench_create").await;
    for (label, url) in [("SQLite", None), ("PostgreSQL", Some(database.as_str()))] {
        create_and_pages_on(s3, run_pages, label, url).await;
    }
}

async fn create_and_pages_on(
    s3: &S3StandIn,
    run_pages: bool,
    label: &str,
    database_url: Option<&str>,
) {
    let server = serve_on(Some(0), &s3.addr().to_string(), database_url);
    let ci = server.integration(s3, "bench-bucket").await;
    let keys: Vec<String> = (0..100_000)
        .map(|i| {
            format!(
                "fleet/2026-11-{:02}/truck-{:04}/front-{i:06}.mp4",
                i % 28 + 1,
                i % 997
            )
        })
        .collect();
    let request = upload("bench-bucket", &keys, &ci);
    let start = Instant::now();
    let job = server.api.upload(&request).await;
    let created = start.elapsed();
    println!(
        "create [{label}]: one request creating a 100,000-object job: {:.2} s (target < 1 s)",
        created.as_secs_f64()
    );
    if !run_pages {
        return;
    }
    // Find the cursor at depth 99,500 by walking the job once.
    let ids: Vec<String> = server
        .api
        .rows(&job, 1000)
        .await
        .iter()
        .map(|r| r["video_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 100_000);
    let deep = ids[99_499].clone();
    let job: ImportJobId = job.parse().unwrap();
    let time_pages = async |cursor: Option<&str>| {
        let mut times = Vec::new();
        for _ in 0..60 {
            let page = PageRequest::new(500, cursor.map(|c| c.parse().unwrap()), None).unwrap();
            let request = api::get_import_job_videos(&job, &page);
            let start = Instant::now();
            let page = server.api.ok(&request).await;
            times.push(start.elapsed());
            assert_eq!(page["videos"].as_array().unwrap().len(), 500);
        }
        median(times)
    };
    let shallow = time_pages(None).await;
    let deep_t = time_pages(Some(&deep)).await;
    println!(
        "pages [{label}]: 500-row page at depth 0: {:.2} ms, at depth 99,500: {:.2} ms (median of 60), ratio {:.2} (target < 1.5)",
        shallow.as_secs_f64() * 1e3,
        deep_t.as_secs_f64() * 1e3,
        deep_t.as_secs_f64() / shallow.as_secs_f64()
    );
}

async fn memory(s3: &S3StandIn) {
    s3.create_bucket("bench-bucket").unwrap();
    for (label, mib) in [("512 MiB", 512usize), ("2 GiB", 2048)] {
        let spec = Mp4Spec {
            mdat_bytes: mib * 1024 * 1024,
            moov_at_end: true,
            duration_ms: 600_000,
            ..Mp4Spec::default()
        };
        let key = format!("big/{mib}.mp4");
        let path = s3.object_path("bench-bucket", &key).unwrap();
        let len = streamed_mp4_to_file(&path, &spec).unwrap();
        let server = serve(None, &s3.addr().to_string());
        let ci = server.integration(s3, "bench-bucket").await;
        let request = upload("bench-bucket", &[key], &ci);
        let start = Instant::now();
        let job = server.api.upload(&request).await;
        let job = server.wait(&job).await;
        assert_eq!(job["counts"]["uploaded"], 1, "{job}");
        println!(
            "memory: importing one {label} object ({len} bytes) took {:.1} s; server peak RSS {:.1} MiB (target < 200 MiB, flat in size)",
            start.elapsed().as_secs_f64(),
            server.peak_rss_mib()
        );
        let _ = std::fs::remove_file(&path);
    }
}

/// The second abuse issue's memory attack: 24 uploads of 60 MiB each, sent
/// at once with one key at 4 MiB/s each, against `vimport serve` at its
/// defaults (`--body-memory 256MiB`), on SQLite and on PostgreSQL: the
/// server's peak RSS and the answers (the issue saw 1.57 GiB and 1.59 GiB).
async fn bodies() {
    use std::io::{Read, Write};
    const UPLOADS: usize = 24;
    const SIZE: usize = 60 << 20;
    const RATE: usize = 4 << 20;
    let database = import_testkit::postgres::fresh_database("vimport_bench_bodies").await;
    for (label, url) in [("SQLite", None), ("PostgreSQL", Some(database.as_str()))] {
        let server = serve_on(Some(0), "127.0.0.1:1", url);
        let addr = server
            .api
            .base_url()
            .trim_start_matches("http://")
            .to_owned();
        let key = server.api.key().to_owned();
        let before = server.peak_rss_mib();
        let started = Instant::now();
        let senders: Vec<_> = (0..UPLOADS)
            .map(|_| {
                let (addr, key) = (addr.clone(), key.clone());
                std::thread::spawn(move || -> String {
                    let Ok(mut conn) = std::net::TcpStream::connect(&addr) else {
                        return "no connection".into();
                    };
                    let head = format!(
                        "POST {} HTTP/1.1\r\nHost: x\r\nX-API-Key: {key}\r\nContent-Type: application/json\r\nContent-Length: {SIZE}\r\n\r\n",
                        import_core::routes::UPLOAD_S3.template
                    );
                    let chunk = vec![b' '; 256 << 10];
                    let mut sent = conn.write_all(head.as_bytes()).is_ok();
                    let mut total = 0;
                    // Slowly for 15 s, then the rest at once (bounded: SIZE bytes).
                    while sent && total < SIZE {
                        let n = chunk.len().min(SIZE - total);
                        sent = conn.write_all(&chunk[..n]).is_ok();
                        total += n;
                        if started.elapsed() < Duration::from_secs(15) {
                            std::thread::sleep(Duration::from_secs_f64(n as f64 / RATE as f64));
                        }
                    }
                    let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
                    let mut answer = [0u8; 64];
                    let n = conn.read(&mut answer).unwrap_or(0);
                    String::from_utf8_lossy(&answer[..n])
                        .lines()
                        .next()
                        .unwrap_or("no answer")
                        .to_owned()
                })
            })
            .collect();
        let mut answers: std::collections::BTreeMap<String, usize> = Default::default();
        for sender in senders {
            *answers
                .entry(sender.join().unwrap_or_default())
                .or_default() += 1;
        }
        println!(
            "bodies on {label}: {UPLOADS} slow uploads of 60 MiB with one key in {:.1} s; server peak RSS {before:.1} MiB before, {:.1} MiB after (the issue: 1.57 GiB on SQLite, 1.59 GiB on PostgreSQL); answers {answers:?}",
            started.elapsed().as_secs_f64(),
            server.peak_rss_mib()
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let want = |name: &str| args.is_empty() || args.iter().any(|a| a == name);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let s3 = S3StandIn::start(AK, SK).await.unwrap();
        s3.create_bucket("bench-bucket").unwrap();
        if want("create") || want("pages") {
            create_and_pages(&s3, want("pages")).await;
        }
        if want("throughput") {
            throughput::throughput(&s3).await;
        }
        if args.iter().any(|a| a == "sweep") {
            throughput::sweep(&s3).await;
        }
        if want("memory") {
            memory(&s3).await;
        }
        if args.iter().any(|a| a == "bodies") {
            bodies().await;
        }
    });
}
