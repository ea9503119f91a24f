//! Walking every page of a 100,000-row job: the blocking client against the
//! official Python SDK's `get_import_job_videos` loop, same server, same
//! machine, one run; and the requests needed to decide readiness.
//!
//! `cargo bench -p import-blocking --bench walk` (needs `nomadic==0.1.64`,
//! which `cargo xtask test` installs). Prints the figures; asserts no time.
#![allow(missing_docs)]

use std::process::Command;
use std::time::{Duration, Instant};

use import_blocking::{Client, ImportRequest, PageRequest, WaitOptions};
use import_server::{Server, ServerConfig};
use import_testkit::fault::FaultProxy;

const ROWS: usize = 100_000;

/// CPU time of the calling thread (user + system), from /proc (10 ms ticks).
fn thread_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // After the command name: state is field 0, utime is 11 and stime is 12.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (server, proxy, key) = rt.block_on(async {
        let mut config = ServerConfig::new(dir.path());
        config.listen = "127.0.0.1:0".parse().unwrap();
        config.max_in_flight = 0;
        let server = Server::start(config).await.unwrap();
        let key = server.create_api_key("bench", "bench", None).await.unwrap();
        let proxy = FaultProxy::start(server.addr()).await.unwrap();
        (server, proxy, key)
    });
    let client = Client::builder()
        .api_key(&key)
        .base_url(server.base_url())
        .build()
        .unwrap();
    let uris: Vec<String> = (0..ROWS)
        .map(|i| format!("s3://bench-bucket/cams/{i:06}.mp4"))
        .collect();
    let request = ImportRequest::builder().uris(uris).build().unwrap();
    let job = client.upload(&request, None).unwrap().import_job_id;
    // The objects need not exist: mark every row terminal in the database, as
    // the workers would, so that readiness can be decided.
    rt.block_on(async {
        let url = format!("sqlite://{}", dir.path().join("vimport.db").display());
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        sqlx::query("UPDATE videos SET status = 'UPLOADED'")
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query("UPDATE jobs SET uploaded = total, completed_at = updated_at")
            .execute(&pool)
            .await
            .unwrap();
    });

    // Ours: the auto-paging iterator, 1000 rows a page.
    let (wall0, cpu0) = (Instant::now(), thread_cpu());
    let rows = client
        .videos(&job, 1000)
        .unwrap()
        .filter(Result::is_ok)
        .count();
    let (ours_wall, ours_cpu) = (wall0.elapsed(), thread_cpu().saturating_sub(cpu0));
    assert_eq!(rows, ROWS);
    println!(
        "walk: blocking client read {rows} rows in {:.3} s wall, {:.3} s CPU (100 pages of 1000)",
        ours_wall.as_secs_f64(),
        ours_cpu.as_secs_f64()
    );

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/walk_sdk.py");
    let python = import_testkit::python::interpreter();
    match Command::new(&python)
        .args([script, &server.base_url(), &key, job.as_str()])
        .output()
    {
        Ok(out) if out.status.success() => {
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            let (wall, cpu) = (v["wall_s"].as_f64().unwrap(), v["cpu_s"].as_f64().unwrap());
            assert_eq!(v["rows"].as_u64(), Some(ROWS as u64));
            println!(
                "walk: official Python SDK loop read {} rows in {wall:.3} s wall, {cpu:.3} s CPU",
                v["rows"]
            );
            println!(
                "walk: ratio Python/Rust: wall {:.1}x, CPU {:.1}x (target >= 3x)",
                wall / ours_wall.as_secs_f64(),
                cpu / ours_cpu.as_secs_f64().max(0.01)
            );
        }
        Ok(out) => println!(
            "walk: the Python SDK run failed (pip install nomadic==0.1.64): {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => println!("walk: {} not runnable: {e}", python.to_string_lossy()),
    }

    // Requests to decide readiness once, counted on the wire.
    let counted = Client::builder()
        .api_key(&key)
        .base_url(proxy.endpoint())
        .build()
        .unwrap();
    proxy.clear_requests();
    let job_answer = counted.get_import_job(&job).unwrap();
    assert_eq!(job_answer.terminal, Some(true));
    let with_extensions = proxy.requests().len();
    proxy.clear_requests();
    let mut cursor = None;
    loop {
        let page = counted
            .get_import_job_videos(&job, &PageRequest::new(500, cursor, None).unwrap())
            .unwrap();
        if !page.has_more {
            break;
        }
        cursor = page.next_cursor;
    }
    let page_walk = proxy.requests().len();
    proxy.clear_requests();
    let outcome = counted
        .wait_for_import(&job, &WaitOptions::default(), |_| {})
        .unwrap();
    let full_wait = proxy.requests().len();
    assert_eq!(outcome.uploaded.len(), ROWS);
    println!(
        "readiness: decided with {with_extensions} request using the job extensions, against {page_walk} for the documented page walk (limit 500); \
         wait_for_import including collecting all {ROWS} ids: {full_wait} requests (1 job + pages of 1000)"
    );
    rt.block_on(server.shutdown());
}
