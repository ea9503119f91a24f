//! Scale benchmarks: a 1,000,000-row job on SQLite and on PostgreSQL, and the
//! import rate of 20,000 small real objects with 1 and with 3 replicas on
//! PostgreSQL. Prints the figures; asserts no time.
//!
//! ```text
//! cargo bench -p vimport --bench scale                 # both (needs PostgreSQL on 127.0.0.1:5432)
//! cargo bench -p vimport --bench scale -- million      # or: replicas
//! ```
#![allow(missing_docs)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use import_server::store::{JobRecord, NewVideo, SqlStore, Store};
use import_server::{Server, ServerConfig};
use import_testkit::S3StandIn;
use import_testkit::mp4::{Mp4Spec, sample_mp4};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_vimport");
const SECRET_KEY: &str = "1f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

fn admin_url() -> String {
    std::env::var("VIMPORT_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

async fn fresh_pg(name: &str) -> String {
    use sqlx::Connection;
    let mut conn = sqlx::postgres::PgConnection::connect(&admin_url())
        .await
        .expect("PostgreSQL answers");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut conn)
    .await
    .unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .unwrap();
    let admin = admin_url();
    format!(
        "{}/{name}",
        admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b)
    )
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn get(http: &reqwest::Client, key: &str, url: String) -> Value {
    let res = http.get(url).header("X-API-Key", key).send().await.unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    res.json().await.unwrap()
}

async fn million(label: &str, database_url: String, dir: &std::path::Path) {
    const ROWS: usize = 1_000_000;
    let store = SqlStore::open(&database_url).await.unwrap();
    let mut config = ServerConfig::new(dir);
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.workers = 0;
    config.database_url = Some(database_url);
    let server = Server::start(config).await.unwrap();
    let key = server.create_api_key("bench", "bench", None).await.unwrap();
    let videos: Vec<NewVideo> = (0..ROWS)
        .map(|i| NewVideo {
            id: format!("vi_{i:010}"),
            set_id: None,
            role: None,
            object: format!("fleet/cam-{i:07}.mp4"),
            source_uri: format!("s3://bench-bucket/fleet/cam-{i:07}.mp4"),
        })
        .collect();
    let job = JobRecord {
        id: "ij_million".into(),
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
        total: ROWS as i64,
        uploaded: 0,
        failed: 0,
        created_at: 1,
        updated_at: 1,
        completed_at: None,
    };
    let start = Instant::now();
    store.create_job(job, videos).await.unwrap();
    let created = start.elapsed();
    let http = reqwest::Client::new();
    let base = server.base_url();
    let time = async |cursor: Option<&str>| {
        let mut times = Vec::new();
        for _ in 0..40 {
            let url = match cursor {
                Some(c) => format!("{base}/api/import-jobs/ij_million/videos?limit=500&cursor={c}"),
                None => format!("{base}/api/import-jobs/ij_million/videos?limit=500"),
            };
            let t = Instant::now();
            let page = get(&http, &key, url).await;
            times.push(t.elapsed());
            assert_eq!(page["videos"].as_array().unwrap().len(), 500);
        }
        median(times)
    };
    let shallow = time(None).await;
    let deep = time(Some(&format!("vi_{:010}", ROWS - 501))).await;
    let mut checks = Vec::new();
    for _ in 0..40 {
        let t = Instant::now();
        let job = get(&http, &key, format!("{base}/api/import-jobs/ij_million")).await;
        checks.push(t.elapsed());
        assert_eq!(job["total"], ROWS);
    }
    println!(
        "million [{label}]: creating a 1,000,000-row job {:.2} s; 500-row page at depth 0 {:.2} ms, at the end {:.2} ms, ratio {:.2} (target < 1.5); one readiness check (GET job) {:.2} ms",
        created.as_secs_f64(),
        shallow.as_secs_f64() * 1e3,
        deep.as_secs_f64() * 1e3,
        deep.as_secs_f64() / shallow.as_secs_f64(),
        median(checks).as_secs_f64() * 1e3
    );
    server.shutdown().await;
}

fn replica(
    db: &str,
    data: &std::path::Path,
    media: &std::path::Path,
    allow: &str,
    workers: usize,
) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--allow-endpoint",
            allow,
            "--database-url",
            db,
            "--workers",
        ])
        .arg(workers.to_string())
        .arg("--data-dir")
        .arg(data)
        .arg("--media-url")
        .arg(format!("file://{}", media.display()))
        .env("VIMPORT_SECRET_KEY", SECRET_KEY)
        .env("VIMPORT_LOG", "error")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, line.trim().rsplit(' ').next().unwrap().to_owned())
}

async fn replicas_run(s3: &S3StandIn, count: usize, objects: usize) -> f64 {
    let db = fresh_pg(&format!("vimport_bench_r{count}")).await;
    let root = tempfile::tempdir().unwrap();
    let media = root.path().join("media");
    std::fs::create_dir_all(&media).unwrap();
    let out = Command::new(BIN)
        .args([
            "keys",
            "create",
            "--user",
            "b",
            "--org",
            "b",
            "--database-url",
            &db,
            "--data-dir",
        ])
        .arg(root.path().join("keys"))
        .env("VIMPORT_SECRET_KEY", SECRET_KEY)
        .output()
        .unwrap();
    let key = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_owned();
    let allow = s3.addr().to_string();
    let mut children: Vec<(Child, String)> = (0..count)
        .map(|i| replica(&db, &root.path().join(format!("r{i}")), &media, &allow, 4))
        .collect();
    let base = children[0].1.clone();
    let http = reqwest::Client::new();
    let ci: Value = http
        .post(format!("{base}/api/cloud-integrations/s3"))
        .header("X-API-Key", &key)
        .json(&json!({"name": "b", "type": "s3", "access_key_id": "AKIDSCALE", "secret_access_key": "scale-secret",
                      "endpoint_url": s3.endpoint(), "bucket": "scale-bucket"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let keys: Vec<String> = (0..objects).map(|i| format!("small/{i:05}.mp4")).collect();
    let start = Instant::now();
    let up: Value = http
        .post(format!("{base}/api/s3/upload"))
        .header("X-API-Key", &key)
        .json(&json!({"keys": keys, "bucket": "scale-bucket", "integration_id": ci["id"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let job = up["import_job_id"].as_str().unwrap().to_owned();
    loop {
        let j = get(&http, &key, format!("{base}/api/import-jobs/{job}")).await;
        if j["terminal"] == json!(true) {
            assert_eq!(j["counts"]["uploaded"], objects, "{j}");
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let secs = start.elapsed().as_secs_f64();
    for (mut c, _) in children.drain(..) {
        let _ = c.kill();
        let _ = c.wait();
    }
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
            let pg = fresh_pg("vimport_bench_million").await;
            million("PostgreSQL", pg, dir.path()).await;
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
