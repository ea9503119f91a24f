//! Benchmarks of the reference server, run as a user would run it: the release
//! `vimport serve` binary as a child process, an s3s-fs bucket in this process.
//!
//! ```text
//! cargo bench -p vimport --bench server                  # everything
//! cargo bench -p vimport --bench server -- create pages  # some of: create pages throughput memory
//! ```
//!
//! Each prints its figures; `docs/performance.md` records them. Nothing here
//! asserts a time.
#![allow(missing_docs)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use import_testkit::S3StandIn;
use import_testkit::mp4::{Mp4Spec, sample_mp4, streamed_mp4_to_file};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_vimport");
const AK: &str = "AKIDBENCH";
const SK: &str = "bench-secret-key";

struct Served {
    child: Child,
    base: String,
    key: String,
    _dir: tempfile::TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(workers: usize, allow: &str) -> Served {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args([
            "keys",
            "create",
            "--user",
            "bench",
            "--org",
            "bench",
            "--data-dir",
        ])
        .arg(dir.path())
        .env("VIMPORT_LOG", "error")
        .output()
        .unwrap();
    assert!(out.status.success());
    let key = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_owned();
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--allow-endpoint",
            allow,
            "--workers",
        ])
        .arg(workers.to_string())
        .arg("--data-dir")
        .arg(dir.path())
        .env("VIMPORT_LOG", "error")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line.trim().rsplit(' ').next().unwrap().to_owned();
    Served {
        child,
        base,
        key,
        _dir: dir,
    }
}

impl Served {
    async fn call(
        &self,
        http: &reqwest::Client,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Value {
        let mut req = http
            .request(method, format!("{}{path}", self.base))
            .header("X-API-Key", &self.key);
        if let Some(b) = body {
            req = req.json(b);
        }
        let res = req.send().await.unwrap();
        assert!(res.status().is_success(), "{path}: {}", res.status());
        res.json().await.unwrap()
    }

    async fn integration(&self, http: &reqwest::Client, s3: &S3StandIn, bucket: &str) -> String {
        let body = json!({"name": "bench", "type": "s3", "access_key_id": AK, "secret_access_key": SK,
                          "endpoint_url": s3.endpoint(), "bucket": bucket});
        let v = self
            .call(
                http,
                reqwest::Method::POST,
                "/api/cloud-integrations/s3",
                Some(&body),
            )
            .await;
        v["id"].as_str().unwrap().to_owned()
    }

    async fn wait(&self, http: &reqwest::Client, job: &str) -> Value {
        loop {
            let j = self
                .call(
                    http,
                    reqwest::Method::GET,
                    &format!("/api/import-jobs/{job}"),
                    None,
                )
                .await;
            if j["terminal"] == json!(true) {
                return j;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
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
    let http = reqwest::Client::new();
    let server = serve(0, &s3.addr().to_string());
    let ci = server.integration(&http, s3, "bench-bucket").await;
    let keys: Vec<String> = (0..100_000)
        .map(|i| {
            format!(
                "fleet/2026-11-{:02}/truck-{:04}/front-{i:06}.mp4",
                i % 28 + 1,
                i % 997
            )
        })
        .collect();
    let body = json!({"keys": keys, "bucket": "bench-bucket", "integration_id": ci});
    let start = Instant::now();
    let up = server
        .call(&http, reqwest::Method::POST, "/api/s3/upload", Some(&body))
        .await;
    let created = start.elapsed();
    println!(
        "create: one request creating a 100,000-object job: {:.2} s (target < 3 s)",
        created.as_secs_f64()
    );
    if !run_pages {
        return;
    }
    let job = up["import_job_id"].as_str().unwrap();
    // Find the cursor at depth 99,500 by walking the job once.
    let mut ids = Vec::with_capacity(100_000);
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/import-jobs/{job}/videos?limit=1000&cursor={c}"),
            None => format!("/api/import-jobs/{job}/videos?limit=1000"),
        };
        let page = server.call(&http, reqwest::Method::GET, &path, None).await;
        for r in page["videos"].as_array().unwrap() {
            ids.push(r["video_id"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(ids.len(), 100_000);
    let deep = ids[99_499].clone();
    let time_pages = async |cursor: Option<&str>| {
        let mut times = Vec::new();
        for _ in 0..60 {
            let path = match cursor {
                Some(c) => format!("/api/import-jobs/{job}/videos?limit=500&cursor={c}"),
                None => format!("/api/import-jobs/{job}/videos?limit=500"),
            };
            let start = Instant::now();
            let page = server.call(&http, reqwest::Method::GET, &path, None).await;
            times.push(start.elapsed());
            assert_eq!(page["videos"].as_array().unwrap().len(), 500);
        }
        median(times)
    };
    let shallow = time_pages(None).await;
    let deep_t = time_pages(Some(&deep)).await;
    println!(
        "pages: 500-row page at depth 0: {:.2} ms, at depth 99,500: {:.2} ms (median of 60), ratio {:.2} (target < 1.5)",
        shallow.as_secs_f64() * 1e3,
        deep_t.as_secs_f64() * 1e3,
        deep_t.as_secs_f64() / shallow.as_secs_f64()
    );
}

async fn throughput(s3: &S3StandIn) {
    const N: usize = 200;
    s3.create_bucket("bench-bucket").unwrap();
    let spec = Mp4Spec {
        mdat_bytes: 8 * 1024 * 1024,
        ..Mp4Spec::default()
    };
    let bytes = sample_mp4(&spec);
    for i in 0..N {
        s3.put("bench-bucket", &format!("in/{i:03}.mp4"), &bytes)
            .unwrap();
    }
    let total_mib = (bytes.len() * N) as f64 / (1024.0 * 1024.0);
    let http = reqwest::Client::new();
    let server = serve(8, &s3.addr().to_string());
    let ci = server.integration(&http, s3, "bench-bucket").await;
    let keys: Vec<String> = (0..N).map(|i| format!("in/{i:03}.mp4")).collect();
    let body = json!({"keys": keys, "bucket": "bench-bucket", "integration_id": ci});
    let start = Instant::now();
    let up = server
        .call(&http, reqwest::Method::POST, "/api/s3/upload", Some(&body))
        .await;
    let job = server
        .wait(&http, up["import_job_id"].as_str().unwrap())
        .await;
    let ours = start.elapsed();
    assert_eq!(job["counts"]["uploaded"], N, "{job}");
    println!(
        "throughput: vimport imported {N} × 8 MiB ({total_mib:.0} MiB) in {:.2} s = {:.0} MiB/s (8 workers; copy + sha256 + moov probe)",
        ours.as_secs_f64(),
        total_mib / ours.as_secs_f64()
    );
    let out = tempfile::tempdir().unwrap();
    let rclone = tokio::task::spawn_blocking({
        let endpoint = s3.endpoint();
        let out = out.path().to_owned();
        move || {
            let start = Instant::now();
            let status = Command::new("rclone")
                .args(["copy", "src:bench-bucket/in"])
                .arg(&out)
                .args(["--low-level-retries", "1", "--transfers", "8"])
                .env_remove("AWS_CA_BUNDLE")
                .env("RCLONE_CONFIG_SRC_TYPE", "s3")
                .env("RCLONE_CONFIG_SRC_PROVIDER", "Other")
                .env("RCLONE_CONFIG_SRC_ENDPOINT", endpoint)
                .env("RCLONE_CONFIG_SRC_FORCE_PATH_STYLE", "true")
                .env("RCLONE_CONFIG_SRC_ACCESS_KEY_ID", AK)
                .env("RCLONE_CONFIG_SRC_SECRET_ACCESS_KEY", SK)
                .env("RCLONE_CONFIG_SRC_REGION", "us-east-1")
                .status();
            (status, start.elapsed())
        }
    })
    .await
    .unwrap();
    match rclone {
        (Ok(s), t) if s.success() => println!(
            "throughput: rclone copy (8 transfers) of the same objects: {:.2} s = {:.0} MiB/s; vimport/rclone throughput ratio {:.2} (target >= 0.8)",
            t.as_secs_f64(),
            total_mib / t.as_secs_f64(),
            t.as_secs_f64() / ours.as_secs_f64()
        ),
        _ => println!(
            "throughput: rclone is not installed or failed (apt-get install -y rclone); no comparison"
        ),
    }
}

async fn memory(s3: &S3StandIn) {
    s3.create_bucket("bench-bucket").unwrap();
    let http = reqwest::Client::new();
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
        let server = serve(1, &s3.addr().to_string());
        let ci = server.integration(&http, s3, "bench-bucket").await;
        let body = json!({"keys": [key], "bucket": "bench-bucket", "integration_id": ci});
        let start = Instant::now();
        let up = server
            .call(&http, reqwest::Method::POST, "/api/s3/upload", Some(&body))
            .await;
        let job = server
            .wait(&http, up["import_job_id"].as_str().unwrap())
            .await;
        assert_eq!(job["counts"]["uploaded"], 1, "{job}");
        println!(
            "memory: importing one {label} object ({len} bytes) took {:.1} s; server peak RSS {:.1} MiB (target < 200 MiB, flat in size)",
            start.elapsed().as_secs_f64(),
            server.peak_rss_mib()
        );
        let _ = std::fs::remove_file(&path);
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
            throughput(&s3).await;
        }
        if want("memory") {
            memory(&s3).await;
        }
    });
    let _ = Path::new(BIN);
}
