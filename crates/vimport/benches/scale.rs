//! Scale benchmarks, on SQLite and on PostgreSQL: a 1,000,000-row job
//! (`million`: its creation, pages at both ends); the queue's ceiling
//! (`queue`: 32 workers claiming and finishing rows of a 1,000,000-row job
//! with instant sources, no bytes copied, and the claim query's plan); and
//! the import rate of 20,000 small real objects with 1 and with 3 replicas on
//! PostgreSQL (`replicas`). Prints the figures; asserts no time.
//!
//! ```text
//! cargo bench -p vimport --bench scale                 # all (PostgreSQL: $VIMPORT_TEST_POSTGRES_URL, else 127.0.0.1:5432)
//! cargo bench -p vimport --bench scale -- million      # or: queue, replicas
//! VIMPORT_BENCH_ROWS=100000 cargo bench -p vimport --bench scale -- million queue
//! ```
#![allow(missing_docs)]

#[path = "../tests/it/common.rs"]
mod common;

use std::time::{Duration, Instant};

use import_core::{ImportJobId, PageRequest, api};
use import_server::store::{
    FinishedRow, InstanceId, JobRecord, LeaseOwner, NewVideo, RowOutcome, SqlStore, Store,
};
use import_server::{Server, ServerConfig};
use import_testkit::S3StandIn;
use import_testkit::mp4::{Mp4Spec, sample_mp4};
use import_testkit::postgres::fresh_database;

/// Rows of the big job: `VIMPORT_BENCH_ROWS`, default 1,000,000.
fn rows() -> usize {
    std::env::var("VIMPORT_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// A pending job `id` of `rows` rows (the objects need not exist).
fn big_job(id: &str, rows: usize) -> (JobRecord, Vec<NewVideo>) {
    let videos: Vec<NewVideo> = (0..rows)
        .map(|i| NewVideo {
            id: import_core::VideoId::new(format!("vi_{i:010}")).unwrap(),
            set_id: None,
            role: None,
            object: format!("fleet/cam-{i:07}.mp4"),
            source_uri: format!("s3://bench-bucket/fleet/cam-{i:07}.mp4"),
        })
        .collect();
    let job = JobRecord {
        id: id.parse().unwrap(),
        org_id: "bench".into(),
        user_id: "bench".into(),
        scope: import_core::Scope::User,
        source: import_core::Provider::S3,
        bucket: "bench-bucket".into(),
        prefix: Some("fleet/".into()),
        folder_id: None,
        folder_name: None,
        collection: "videos".into(),
        integration_id: None,
        multi_view: false,
        total: rows as i64,
        uploaded: 0,
        failed: 0,
        created_at: 1,
        updated_at: 1,
        completed_at: None,
        cancelled_at: None,
    };
    (job, videos)
}

async fn million(label: &str, database_url: String, dir: &std::path::Path) {
    let rows = rows();
    let store = SqlStore::open(&database_url).await.unwrap();
    let mut config = ServerConfig::new(dir);
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.max_in_flight = 0;
    config.database_url = Some(database_url);
    let server = Server::start(config).await.unwrap();
    let key = server.create_api_key("bench", "bench", None).await.unwrap();
    let (job, videos) = big_job("ij_million", rows);
    let start = Instant::now();
    store.jobs().create_job(job, videos, None).await.unwrap();
    let created = start.elapsed();
    let client = common::ApiClient::new(server.base_url(), &key);
    let id: ImportJobId = "ij_million".parse().unwrap();
    let time = async |cursor: Option<&str>| {
        let mut times = Vec::new();
        for _ in 0..40 {
            let page = PageRequest::new(500, cursor.map(|c| c.parse().unwrap()), None).unwrap();
            let request = api::get_import_job_videos(&id, &page);
            let t = Instant::now();
            let page = client.ok(&request).await;
            times.push(t.elapsed());
            assert_eq!(page["videos"].as_array().unwrap().len(), 500);
        }
        median(times)
    };
    let shallow = time(None).await;
    let deep = time(Some(&format!("vi_{:010}", rows - 501))).await;
    let mut checks = Vec::new();
    for _ in 0..40 {
        let t = Instant::now();
        let job = client.ok(&api::get_import_job(&id)).await;
        checks.push(t.elapsed());
        assert_eq!(job["total"], rows);
    }
    println!(
        "million [{label}]: creating a {rows}-row job {:.2} s; 500-row page at depth 0 {:.2} ms, at the end {:.2} ms, ratio {:.2} (target < 1.5); one readiness check (GET job) {:.2} ms",
        created.as_secs_f64(),
        shallow.as_secs_f64() * 1e3,
        deep.as_secs_f64() * 1e3,
        deep.as_secs_f64() / shallow.as_secs_f64(),
        median(checks).as_secs_f64() * 1e3
    );
    server.shutdown().await;
}

/// Workers of the queue benchmark.
const QUEUE_WORKERS: usize = 32;
/// How long the queue benchmark claims and finishes rows.
const QUEUE_SECONDS: u64 = 10;

/// The queue's ceiling: `QUEUE_WORKERS` tasks claim and finish rows of a
/// big pending job as fast as the store lets them (each row "copied" in no
/// time), for `QUEUE_SECONDS`, on the store's default pool.
async fn queue(label: &str, database_url: String) {
    let rows = rows();
    let store = SqlStore::open(&database_url).await.unwrap();
    let (job, videos) = big_job("ij_queue", rows);
    store.jobs().create_job(job, videos, None).await.unwrap();
    let plan = store.explain_claim(2).await.unwrap();
    println!("queue [{label}]: the claim's plan at {rows} pending rows:");
    for line in &plan {
        println!("    {line}");
    }
    let meta = import_core::wire::VideoMetadata {
        size_bytes: Some(4096),
        sha256: Some("ab".repeat(32)),
        duration_s: Some(2.0),
        width: Some(640),
        height: Some(480),
        codec: Some("avc1".into()),
        verified_checksum: Some(import_core::ChecksumAlgorithm::Md5),
        xet_hash: None,
    };
    let deadline = Instant::now() + Duration::from_secs(QUEUE_SECONDS);
    let start = Instant::now();
    let tasks: Vec<_> = (0..QUEUE_WORKERS)
        .map(|w| {
            let store = store.clone();
            let meta = meta.clone();
            tokio::spawn(async move {
                let worker = LeaseOwner::from(format!("wk_bench_{w}"));
                let (mut done, mut errors) = (0u64, 0u64);
                while Instant::now() < deadline {
                    let now = 10;
                    match store
                        .queue()
                        .claim(&worker, &InstanceId::from("in_bench"), now, now + 60_000)
                        .await
                    {
                        Ok(Some(row)) => {
                            let outcome = RowOutcome::Uploaded(meta.clone());
                            match store.queue().finish(&row.id, &worker, outcome, now).await {
                                Ok(true) => done += 1,
                                _ => errors += 1,
                            }
                        }
                        Ok(None) => break,
                        Err(_) => errors += 1,
                    }
                }
                (done, errors)
            })
        })
        .collect();
    let (done, errors) = rows_and_errors(tasks).await;
    let secs = start.elapsed().as_secs_f64();
    println!(
        "queue [{label}]: {QUEUE_WORKERS} workers claimed and finished {done} rows in {secs:.1} s = {:.0} rows/s ({errors} failed store calls; target >= 2000 rows/s on PostgreSQL)",
        done as f64 / secs
    );
    // As the server's dispatcher does: claims of 32 rows in one statement,
    // their outcomes in one transaction, a few batches at once.
    const BATCHERS: usize = 4;
    const BATCH: u32 = import_server::store::CLAIM_BATCH;
    let deadline = Instant::now() + Duration::from_secs(QUEUE_SECONDS);
    let start = Instant::now();
    let tasks: Vec<_> = (0..BATCHERS)
        .map(|w| {
            let store = store.clone();
            let meta = meta.clone();
            tokio::spawn(async move {
                let worker = LeaseOwner::from(format!("wk_batch_{w}"));
                let (mut done, mut errors) = (0u64, 0u64);
                while Instant::now() < deadline {
                    let now = 10;
                    let rows = match store
                        .queue()
                        .claim_many(
                            &worker,
                            &InstanceId::from("in_bench"),
                            now,
                            now + 60_000,
                            BATCH,
                        )
                        .await
                    {
                        Ok(rows) if rows.is_empty() => break,
                        Ok(rows) => rows,
                        Err(_) => {
                            errors += 1;
                            continue;
                        }
                    };
                    let finished: Vec<FinishedRow> = rows
                        .into_iter()
                        .map(|row| FinishedRow {
                            id: row.id,
                            worker: worker.clone(),
                            outcome: RowOutcome::Uploaded(meta.clone()),
                        })
                        .collect();
                    match store.queue().finish_many(&finished, now).await {
                        Ok(flags) => done += flags.iter().filter(|f| **f).count() as u64,
                        Err(_) => errors += 1,
                    }
                }
                (done, errors)
            })
        })
        .collect();
    let (done, errors) = rows_and_errors(tasks).await;
    let secs = start.elapsed().as_secs_f64();
    println!(
        "queue [{label}]: {BATCHERS} tasks claiming {BATCH} rows a statement and finishing them in one transaction: {done} rows in {secs:.1} s = {:.0} rows/s ({errors} failed store calls)",
        done as f64 / secs
    );
}

/// The rows finished and the failed store calls of the queue's tasks, summed.
async fn rows_and_errors(tasks: Vec<tokio::task::JoinHandle<(u64, u64)>>) -> (u64, u64) {
    let (mut done, mut errors) = (0, 0);
    for t in tasks {
        let (d, e) = t.await.unwrap();
        done += d;
        errors += e;
    }
    (done, errors)
}

async fn replicas_run(s3: &S3StandIn, count: usize, objects: usize) -> f64 {
    let db = fresh_database(&format!("vimport_bench_r{count}")).await;
    let allow = s3.addr().to_string();
    let replicas = common::Replicas::start(count, &db, &allow, &["--max-in-flight", "4"]);
    let client = common::ApiClient::new(&replicas.servers[0].1, &replicas.key);
    let ci = client
        .s3_integration(&common::s3_integration_body(s3, "scale-bucket"))
        .await;
    let keys: Vec<String> = (0..objects).map(|i| format!("small/{i:05}.mp4")).collect();
    let start = Instant::now();
    let job = client.upload_s3_keys("scale-bucket", &keys, &ci).await;
    let done = client
        .poll_job(
            &job,
            Duration::from_millis(250),
            Duration::from_secs(3600),
            common::is_terminal,
        )
        .await;
    assert_eq!(done["counts"]["uploaded"], objects, "{done}");
    let secs = start.elapsed().as_secs_f64();
    drop(replicas);
    println!(
        "replicas: {count} replica(s) x 4 workers imported {objects} small objects in {secs:.1} s = {:.0} objects/s",
        objects as f64 / secs
    );
    objects as f64 / secs
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
        if want("million") {
            let dir = tempfile::tempdir().unwrap();
            let sqlite = format!("sqlite://{}", dir.path().join("million.db").display());
            million("SQLite", sqlite, dir.path()).await;
            let dir = tempfile::tempdir().unwrap();
            let pg = fresh_database("vimport_bench_million").await;
            million("PostgreSQL", pg, dir.path()).await;
        }
        if want("queue") {
            let dir = tempfile::tempdir().unwrap();
            let sqlite = format!("sqlite://{}", dir.path().join("queue.db").display());
            queue("SQLite", sqlite).await;
            queue("PostgreSQL", fresh_database("vimport_bench_queue").await).await;
        }
        if want("replicas") {
            const OBJECTS: usize = 20_000;
            let s3 = S3StandIn::start("AKIDSCALE", "scale-secret").await.unwrap();
            s3.create_bucket("scale-bucket").unwrap();
            let bytes = sample_mp4(&Mp4Spec { mdat_bytes: 4096, ..Mp4Spec::default() });
            for i in 0..OBJECTS {
                s3.put("scale-bucket", &format!("small/{i:05}.mp4"), &bytes).unwrap();
            }
            let one = replicas_run(&s3, 1, OBJECTS).await;
            let three = replicas_run(&s3, 3, OBJECTS).await;
            println!("replicas: 3 replicas / 1 replica import rate: {:.2} (2 cores shared by the replicas, PostgreSQL and the bucket)", three / one);
        }
    });
}
