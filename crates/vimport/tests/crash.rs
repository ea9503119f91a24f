//! Killing the server with SIGKILL in the middle of an import and starting it
//! again loses no row, imports no object twice, and finishes the job.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use import_testkit::S3StandIn;
use import_testkit::mp4::{Mp4Spec, sample_mp4};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_vimport");

fn keys_create(data: &Path) -> String {
    let out = Command::new(BIN)
        .args([
            "keys",
            "create",
            "--user",
            "user_1",
            "--org",
            "org_1",
            "--name",
            "Crash Tester",
            "--data-dir",
        ])
        .arg(data)
        .env("VIMPORT_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    stdout.lines().last().unwrap().trim().to_owned()
}

/// Start `vimport serve` on a free port; answers the child and its base URL.
fn serve(data: &Path, allow: &str) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--workers",
            "2",
            "--lease-secs",
            "3",
            "--allow-endpoint",
            allow,
            "--data-dir",
        ])
        .arg(data)
        .env("VIMPORT_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let url = line.trim().rsplit(' ').next().unwrap().to_owned();
    assert!(
        url.starts_with("http://127.0.0.1:"),
        "unexpected first line: {line}"
    );
    (child, url)
}

async fn call(
    http: &reqwest::Client,
    key: &str,
    method: reqwest::Method,
    url: String,
    body: Option<Value>,
) -> Value {
    let mut req = http.request(method, url).header("X-API-Key", key);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    res.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_import_loses_and_duplicates_nothing() {
    let s3 = S3StandIn::start("AKIDCRASH", "crash-secret").await.unwrap();
    s3.create_bucket("crash-test").unwrap();
    const N: usize = 48;
    let mut shas = std::collections::BTreeMap::new();
    for i in 0..N {
        let bytes = sample_mp4(&Mp4Spec {
            mdat_bytes: 3 * 1024 * 1024 + i,
            duration_ms: 1000 + i as u32,
            ..Mp4Spec::default()
        });
        let key = format!("run/{i:03}.mp4");
        shas.insert(format!("s3://crash-test/{key}"), bytes.len());
        s3.put("crash-test", &key, &bytes).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let key = keys_create(dir.path());
    let (mut child, base) = serve(dir.path(), &s3.addr().to_string());
    let http = reqwest::Client::new();
    let ci = call(&http, &key, reqwest::Method::POST, format!("{base}/api/cloud-integrations/s3"), Some(json!({
        "name": "crash", "type": "s3", "access_key_id": "AKIDCRASH", "secret_access_key": "crash-secret",
        "endpoint_url": s3.endpoint(), "bucket": "crash-test"}))).await;
    let keys: Vec<String> = (0..N).map(|i| format!("run/{i:03}.mp4")).collect();
    let up = call(
        &http,
        &key,
        reqwest::Method::POST,
        format!("{base}/api/s3/upload"),
        Some(json!({
        "keys": keys, "bucket": "crash-test", "integration_id": ci["id"]})),
    )
    .await;
    let job = up["import_job_id"].as_str().unwrap().to_owned();

    // Kill it once some rows are done and others are being copied.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let j = call(
            &http,
            &key,
            reqwest::Method::GET,
            format!("{base}/api/import-jobs/{job}"),
            None,
        )
        .await;
        let done = j["counts"]["uploaded"].as_u64().unwrap();
        assert!(
            j["terminal"] == json!(false),
            "the import finished before the kill; make the objects bigger"
        );
        if done >= 4 {
            break;
        }
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let (mut child, base) = serve(dir.path(), &s3.addr().to_string());
    let deadline = Instant::now() + Duration::from_secs(180);
    let final_job = loop {
        let j = call(
            &http,
            &key,
            reqwest::Method::GET,
            format!("{base}/api/import-jobs/{job}"),
            None,
        )
        .await;
        if j["terminal"] == json!(true) {
            break j;
        }
        assert!(Instant::now() < deadline, "not finished after restart: {j}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        final_job["counts"],
        json!({"uploaded": N, "failed": 0, "pending": 0}),
        "{final_job}"
    );

    // Every row once, every object stored once with its full size.
    let page = call(
        &http,
        &key,
        reqwest::Method::GET,
        format!("{base}/api/import-jobs/{job}/videos?limit=1000"),
        None,
    )
    .await;
    let rows = page["videos"].as_array().unwrap();
    assert_eq!(rows.len(), N);
    let uris: std::collections::BTreeSet<&str> = rows
        .iter()
        .map(|r| r["import_source_uri"].as_str().unwrap())
        .collect();
    assert_eq!(uris.len(), N);
    for row in rows {
        let vid = row["video_id"].as_str().unwrap();
        let st = call(
            &http,
            &key,
            reqwest::Method::GET,
            format!("{base}/api/video/{vid}/status"),
            None,
        )
        .await;
        let uri = row["import_source_uri"].as_str().unwrap();
        assert_eq!(
            st["metadata"]["size_bytes"].as_u64().unwrap() as usize,
            shas[uri],
            "{uri}"
        );
    }
    let stored: Vec<String> = std::fs::read_dir(dir.path().join("media/videos"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        stored.len(),
        N,
        "exactly one stored file per video, no leftovers: {stored:?}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}
