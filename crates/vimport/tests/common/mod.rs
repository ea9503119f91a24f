//! Driving `vimport` child processes: keys, servers and API calls, shared by
//! the crash and replica tests and the scale benchmark.
#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_vimport");

/// `vimport keys create ARGS...`; answers the key (the last line).
pub fn keys_create(args: &[&str], envs: &[(&str, &str)]) -> String {
    let out = Command::new(BIN)
        .args(["keys", "create", "--user", "user_1", "--org", "org_1"])
        .args(args)
        .envs(envs.iter().copied())
        .env("VIMPORT_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_owned()
}

/// `vimport serve --listen 127.0.0.1:0 ARGS...`; answers the child and its base URL.
pub fn serve(args: &[&str], envs: &[(&str, &str)]) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .envs(envs.iter().copied())
        .env("VIMPORT_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().rsplit(' ').next().unwrap().to_owned();
    assert!(
        url.starts_with("http://127.0.0.1:"),
        "unexpected first line: {line}"
    );
    (child, url)
}

/// Stop a child with SIGKILL.
pub fn kill(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// One API call that must succeed; answers the JSON body.
pub async fn call(key: &str, method: reqwest::Method, url: String, body: Option<Value>) -> Value {
    let mut req = reqwest::Client::new()
        .request(method, url)
        .header("X-API-Key", key);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    res.json().await.unwrap()
}

/// Save an S3 integration for a stand-in bucket; answers its id.
pub async fn s3_integration(
    key: &str,
    base: &str,
    s3: &import_testkit::S3StandIn,
    bucket: &str,
) -> String {
    let body = json!({"name": bucket, "type": "s3", "access_key_id": s3.access_key(), "secret_access_key": s3.secret_key(),
                      "endpoint_url": s3.endpoint(), "bucket": bucket});
    let v = call(
        key,
        reqwest::Method::POST,
        format!("{base}/api/cloud-integrations/s3"),
        Some(body),
    )
    .await;
    v["id"].as_str().unwrap().to_owned()
}

/// Start an import of `keys`; answers the job id.
pub async fn upload(
    key: &str,
    base: &str,
    bucket: &str,
    keys: &[String],
    integration: &str,
) -> String {
    let body = json!({"keys": keys, "bucket": bucket, "integration_id": integration});
    let v = call(
        key,
        reqwest::Method::POST,
        format!("{base}/api/s3/upload"),
        Some(body),
    )
    .await;
    v["import_job_id"].as_str().unwrap().to_owned()
}

/// Poll a job every `every` until `done(job)` holds; answers the job.
pub async fn poll_job(
    key: &str,
    base: &str,
    job: &str,
    every: Duration,
    timeout: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let j = call(
            key,
            reqwest::Method::GET,
            format!("{base}/api/import-jobs/{job}"),
            None,
        )
        .await;
        if done(&j) {
            return j;
        }
        assert!(
            Instant::now() < deadline,
            "job {job} did not get there in time: {j}"
        );
        tokio::time::sleep(every).await;
    }
}

/// Wait until the job is terminal with every one of its `n` rows uploaded,
/// and check each object appears in exactly one row; answers the rows.
pub async fn all_uploaded_once(key: &str, base: &str, job: &str, n: usize) -> Vec<Value> {
    let done = poll_job(
        key,
        base,
        job,
        Duration::from_millis(200),
        Duration::from_secs(180),
        |j| j["terminal"] == json!(true),
    )
    .await;
    assert_eq!(
        done["counts"],
        json!({"uploaded": n, "failed": 0, "pending": 0}),
        "{done}"
    );
    let page = call(
        key,
        reqwest::Method::GET,
        format!("{base}/api/import-jobs/{job}/videos?limit=1000"),
        None,
    )
    .await;
    let rows = page["videos"].as_array().unwrap().clone();
    assert_eq!(rows.len(), n);
    let uris: std::collections::BTreeSet<&str> = rows
        .iter()
        .map(|r| r["import_source_uri"].as_str().unwrap())
        .collect();
    assert_eq!(uris.len(), n, "every object once");
    rows
}

/// A new empty PostgreSQL database on the test server; answers its URL.
pub async fn fresh_database(name: &str) -> String {
    use sqlx::Connection;
    let admin = std::env::var("VIMPORT_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let mut conn = sqlx::postgres::PgConnection::connect(&admin)
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
    format!(
        "{}/{name}",
        admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b)
    )
}

/// The stored videos of a local media folder, leaving out staging files (`NAME#N`).
pub fn stored_videos(media: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(media.join("videos"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.contains('#'))
        .collect()
}
