//! The official Python SDK (`nomadic==0.1.64`) runs the documented cloud-import
//! flow against our server unchanged.

use std::process::Command;

use crate::common::*;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the Python SDK nomadic==0.1.64; run cargo xtask test"]
async fn official_python_sdk_flow() {
    let env = env().await;
    env.s3
        .put(BUCKET, "trip-042/front.mp4", &mp4(1280, 720, 3000))
        .unwrap();
    env.s3
        .put(BUCKET, "trip-042/rear.mp4", &mp4(1280, 720, 3000))
        .unwrap();
    env.s3
        .put(
            BUCKET,
            "trip-042/notes.mp4",
            &import_testkit::mp4::jpeg_bytes(),
        )
        .unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sdk/flow.py");
    let (base, key, endpoint) = (env.server.base_url(), env.key.clone(), env.s3.endpoint());
    let out = tokio::task::spawn_blocking(move || {
        Command::new(import_testkit::python::interpreter())
            .arg(script)
            .env("BASE_URL", base)
            .env("API_KEY", key)
            .env("S3_ENDPOINT", endpoint)
            .env("ACCESS_KEY", AK)
            .env("SECRET_KEY", SK)
            .env("BUCKET", BUCKET)
            .env(
                "KEYS",
                "trip-042/front.mp4,trip-042/rear.mp4,trip-042/notes.mp4",
            )
            .output()
            .expect("python3 runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the SDK flow failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(seen["auth"]["valid"], true);
    assert_eq!(seen["integration"]["type"], "s3");
    assert_eq!(seen["integration"]["region"], "auto");
    assert!(!stdout.contains(SK), "the secret came back");
    let rows = seen["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    let uploaded = rows.iter().filter(|r| r["status"] == "UPLOADED").count();
    assert_eq!(uploaded, 2, "{rows:?}");
    let failed: Vec<&Value> = rows
        .iter()
        .filter(|r| r["status"] == "UPLOADING_FAILED")
        .collect();
    assert!(
        failed[0]["error"].as_str().unwrap().contains("JPEG"),
        "{failed:?}"
    );
    assert_eq!(seen["job"]["terminal"], true);
    assert_eq!(seen["job"]["folder_name"], "fleet_uploads");
    assert!(seen["job"]["completed_at"].is_string());
    assert_eq!(seen["legacy_count"], 3);
    assert_eq!(seen["integrations"].as_array().unwrap().len(), 1);
    assert_eq!(seen["folder"]["scope"], "org");
    // The job is an `org` job: a colleague sees it.
    let bob = env
        .server
        .create_api_key("user_bob", "org_acme", None)
        .await
        .unwrap();
    let job = seen["job_id"].as_str().unwrap();
    let (status, _) = env
        .call_as(
            &bob,
            reqwest::Method::GET,
            &format!("/api/import-jobs/{job}"),
            None,
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::OK);
}

/// The official SDK rides through `--requests-per-minute`: 65 calls against
/// a limit of 60 a minute all succeed, the last ones after the `Retry-After`
/// waits the server asked for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the Python SDK nomadic==0.1.64; run cargo xtask test"]
async fn official_python_sdk_rides_through_the_rate_limit() {
    let env = env_with(|c| c.requests_per_minute = 60).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sdk/rate_limit.py");
    let (base, key) = (env.server.base_url(), env.key.clone());
    let out = tokio::task::spawn_blocking(move || {
        Command::new(import_testkit::python::interpreter())
            .arg(script)
            .env("BASE_URL", base)
            .env("API_KEY", key)
            .env("CALLS", "65")
            .output()
            .expect("python3 runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the SDK failed under the rate limit:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(seen["ok"], 65);
    let (_, _, metrics) = get_plain(&env, "/metrics").await;
    let refused: u64 = metrics
        .lines()
        .filter(|l| l.starts_with("vimport_http_requests_total") && l.contains("status=\"429\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum();
    println!(
        "the SDK made 65 calls in {} s; the server answered 429 {refused} times",
        seen["seconds"]
    );
    assert!(refused >= 4, "{metrics}");
}

/// The contract document matches the server: schemathesis (PyPI, 4.32.5)
/// sends what `docs/api/openapi.json` allows and what it forbids, for at most
/// 100 s, and finds no 5xx, no status code the document does not list, no
/// answer off its schema and no forbidden request accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs schemathesis==4.32.5; run cargo xtask test"]
async fn schemathesis_finds_the_server_true_to_its_contract() {
    let env = env_with(|c| {
        c.max_in_flight = 0;
        c.requests_per_minute = 0;
    })
    .await;
    let document = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/api/openapi.json");
    let (base, key) = (env.server.base_url(), env.key.clone());
    // schemathesis keeps a cache in its working folder: a temporary one.
    let work = tempfile::tempdir().unwrap();
    let cwd = work.path().to_owned();
    // A body over a route's limit is refused with `413` before it is read
    // (the document lists it): that is a rejection of forbidden data too,
    // beside schemathesis's default rejection statuses.
    let config = cwd.join("schemathesis.toml");
    std::fs::write(
        &config,
        "[checks.negative_data_rejection]\n\
         expected-statuses = [\"400\", \"401\", \"403\", \"404\", \"405\", \"406\", \"409\", \"413\", \"415\", \"422\", \"428\", \"429\", \"5xx\"]\n",
    )
    .unwrap();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(import_testkit::python::interpreter())
            .current_dir(cwd)
            .args(["-c", "import sys; from schemathesis.cli import schemathesis; sys.argv[0] = 'schemathesis'; schemathesis()"])
            .arg("--config-file")
            .arg(&config)
            .args(["run", document, "-u", &base, "-H", &format!("X-API-Key: {key}")])
            .args([
                "--checks",
                "not_a_server_error,status_code_conformance,response_schema_conformance,negative_data_rejection",
                "--max-time",
                "100",
                "-w",
                "2",
                "--seed",
                "42",
                "--no-color",
            ])
            .output()
            .expect("python3 runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains("generated") || l.contains("passed") || l.contains("failure"))
        .collect();
    println!("schemathesis: {}", summary.join(" | "));
    assert!(
        out.status.success(),
        "schemathesis found the server off its contract:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("generated"), "{stdout}");
}
