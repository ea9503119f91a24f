//! Tenants that crowd, against real `vimport serve` processes: rate limits
//! per API key that both Rust clients ride through.

mod common;

use std::time::{Duration, Instant};

use common::*;

/// `--requests-per-minute 60`: a burst of 60 passes, the 61st is `429` with
/// `Retry-After` in whole seconds, `RateLimit-*` headers and a `detail`; the
/// async and blocking clients (default retry policy) then make their calls
/// without an error, each waiting as told.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_clients_ride_through_the_rate_limit() {
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().to_str().unwrap();
    let key = keys_create(&["--data-dir", data_dir], &[]);
    let (child, base) = serve(
        &[
            "--data-dir",
            data_dir,
            "--workers",
            "0",
            "--requests-per-minute",
            "60",
        ],
        &[],
    );
    let http = reqwest::Client::new();
    let verify = || {
        http.post(format!("{base}/api/keys/verify"))
            .header("X-API-Key", &key)
            .send()
    };
    for i in 0..60 {
        let res = verify().await.unwrap();
        assert_eq!(res.status(), 200, "request {i}");
        if i == 0 {
            assert_eq!(res.headers()["ratelimit-limit"], "60");
            assert_eq!(res.headers()["ratelimit-remaining"], "59");
        }
    }
    let refused = verify().await.unwrap();
    assert_eq!(refused.status(), 429);
    let headers = refused.headers().clone();
    assert_eq!(headers["retry-after"], "1");
    assert_eq!(headers["ratelimit-remaining"], "0");
    assert_eq!(headers["ratelimit-reset"], "60");
    let body: serde_json::Value = refused.json().await.unwrap();
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("60 requests a minute"),
        "{body}"
    );

    // The bucket is empty: each call below waits about a second.
    let started = Instant::now();
    let client = import_async::Client::builder()
        .api_key(&key)
        .base_url(&base)
        .build()
        .unwrap();
    for _ in 0..3 {
        let me = client.verify_auth().await.unwrap();
        assert_eq!(me.user_id, "user_1");
    }
    let (key2, base2) = (key.clone(), base.clone());
    tokio::task::spawn_blocking(move || {
        let client = import_blocking::Client::builder()
            .api_key(key2)
            .base_url(base2)
            .build()
            .unwrap();
        for _ in 0..3 {
            assert_eq!(client.verify_auth().unwrap().org_id, "org_1");
        }
    })
    .await
    .unwrap();
    let waited = started.elapsed();
    println!("six client calls through an empty bucket (60 a minute) took {waited:?}");
    assert!(waited >= Duration::from_secs(4), "{waited:?}");
    // Another key of the same server has its own bucket.
    let out = std::process::Command::new(BIN)
        .args([
            "keys",
            "create",
            "--user",
            "user_2",
            "--org",
            "org_1",
            "--data-dir",
            data_dir,
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let other = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_owned();
    let res = http
        .post(format!("{base}/api/keys/verify"))
        .header("X-API-Key", &other)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    kill(child);
}
