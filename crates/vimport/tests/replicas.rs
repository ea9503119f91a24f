//! Three `vimport serve` replicas on one PostgreSQL database share an import;
//! one is killed with SIGKILL mid-import; no row is lost and none is imported twice.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use import_testkit::S3StandIn;
use import_testkit::mp4::{Mp4Spec, sample_mp4};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_vimport");
const SECRET_KEY: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

fn admin_url() -> String {
    std::env::var("VIMPORT_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

async fn fresh_database() -> String {
    use sqlx::Connection;
    let name = format!("vimport_replicas_{}", std::process::id());
    let mut conn = sqlx::postgres::PgConnection::connect(&admin_url())
        .await
        .expect("PostgreSQL answers");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name}"
    )))
    .execute(&mut conn)
    .await
    .unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .unwrap();
    let admin = admin_url();
    let base = admin
        .rsplit_once('/')
        .map_or(admin.as_str(), |(b, _)| b)
        .to_owned();
    format!("{base}/{name}")
}

fn replica(db: &str, data: &Path, media: &Path, allow: &str) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--workers",
            "2",
            "--lease-secs",
            "2",
            "--allow-endpoint",
            allow,
            "--database-url",
            db,
        ])
        .arg("--data-dir")
        .arg(data)
        .arg("--media-url")
        .arg(format!("file://{}", media.display()))
        .env("VIMPORT_SECRET_KEY", SECRET_KEY)
        .env("VIMPORT_LOG", "warn")
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

async fn call(key: &str, method: reqwest::Method, url: String, body: Option<Value>) -> Value {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL; run cargo xtask test"]
async fn three_replicas_share_the_work_and_survive_a_sigkill() {
    let db = fresh_database().await;
    let s3 = S3StandIn::start("AKIDREPL", "replica-secret")
        .await
        .unwrap();
    s3.create_bucket("replicas").unwrap();
    const N: usize = 60;
    for i in 0..N {
        let bytes = sample_mp4(&Mp4Spec {
            mdat_bytes: 2 * 1024 * 1024 + i,
            ..Mp4Spec::default()
        });
        s3.put("replicas", &format!("cams/{i:03}.mp4"), &bytes)
            .unwrap();
    }
    let root = tempfile::tempdir().unwrap();
    let media = root.path().join("media");
    std::fs::create_dir_all(&media).unwrap();
    let out = Command::new(BIN)
        .args([
            "keys",
            "create",
            "--user",
            "u1",
            "--org",
            "o1",
            "--database-url",
            &db,
            "--data-dir",
        ])
        .arg(root.path().join("keys"))
        .env("VIMPORT_SECRET_KEY", SECRET_KEY)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_owned();
    let allow = s3.addr().to_string();
    let mut replicas: Vec<(Child, String)> = (0..3)
        .map(|i| replica(&db, &root.path().join(format!("r{i}")), &media, &allow))
        .collect();
    let base = replicas[0].1.clone();
    let ci = call(&key, reqwest::Method::POST, format!("{base}/api/cloud-integrations/s3"), Some(json!({
        "name": "r", "type": "s3", "access_key_id": "AKIDREPL", "secret_access_key": "replica-secret",
        "endpoint_url": s3.endpoint(), "bucket": "replicas"}))).await;
    let keys: Vec<String> = (0..N).map(|i| format!("cams/{i:03}.mp4")).collect();
    // The job is created through another replica than the integration: they share the database.
    let other = replicas[1].1.clone();
    let up = call(
        &key,
        reqwest::Method::POST,
        format!("{other}/api/s3/upload"),
        Some(json!({
        "keys": keys, "bucket": "replicas", "integration_id": ci["id"]})),
    )
    .await;
    let job = up["import_job_id"].as_str().unwrap().to_owned();

    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let j = call(
            &key,
            reqwest::Method::GET,
            format!("{base}/api/import-jobs/{job}"),
            None,
        )
        .await;
        assert_eq!(
            j["terminal"],
            json!(false),
            "finished before the kill; make the objects bigger"
        );
        if j["counts"]["uploaded"].as_u64().unwrap() >= 6 {
            break;
        }
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (mut victim, _) = replicas.remove(2);
    victim.kill().unwrap(); // SIGKILL
    victim.wait().unwrap();

    let deadline = Instant::now() + Duration::from_secs(180);
    let done = loop {
        let j = call(
            &key,
            reqwest::Method::GET,
            format!("{base}/api/import-jobs/{job}"),
            None,
        )
        .await;
        if j["terminal"] == json!(true) {
            break j;
        }
        assert!(Instant::now() < deadline, "not finished: {j}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        done["counts"],
        json!({"uploaded": N, "failed": 0, "pending": 0}),
        "{done}"
    );
    let page = call(
        &key,
        reqwest::Method::GET,
        format!("{other}/api/import-jobs/{job}/videos?limit=1000"),
        None,
    )
    .await;
    let rows = page["videos"].as_array().unwrap();
    assert_eq!(rows.len(), N);
    let uris: std::collections::BTreeSet<&str> = rows
        .iter()
        .map(|r| r["import_source_uri"].as_str().unwrap())
        .collect();
    assert_eq!(uris.len(), N, "every object once");
    // One stored video per row; a killed replica may leave a staging file (`NAME#N`) behind.
    let stored: Vec<String> = std::fs::read_dir(media.join("videos"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.contains('#'))
        .collect();
    assert_eq!(stored.len(), N, "{stored:?}");
    for row in rows {
        let vid = row["video_id"].as_str().unwrap();
        assert!(
            stored.contains(&format!("{vid}.mp4")),
            "{vid} stored under its id"
        );
    }
    for (mut child, _) in replicas {
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
