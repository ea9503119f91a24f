//! Tenants that crowd, against real `vimport serve` processes: rate limits
//! per API key that both Rust clients ride through.

use std::time::{Duration, Instant};

use crate::common::*;

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
            "--max-in-flight",
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
    let other = key_for(&["--data-dir", data_dir], "user_2", "org_1");
    let res = http
        .post(format!("{base}/api/keys/verify"))
        .header("X-API-Key", &other)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    kill(child);
}

/// One organisation queues 300 objects; another then queues one. Copies
/// take turns between the organisations, so the small one's object is
/// imported while most of the big job still waits, instead of after it:
/// with two copies in flight, and at the default (32 in flight, claims of
/// up to 32 rows at once).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_big_job_of_one_organisation_does_not_hold_up_another() {
    let s3 = fair_share_bucket().await;
    for in_flight in [Some("2"), None] {
        let data = tempfile::tempdir().unwrap();
        let data_dir = data.path().to_str().unwrap();
        let store = ["--data-dir", data_dir];
        let (big_key, small_key) = (
            key_for(&store, "ada", "org_big"),
            key_for(&store, "bo", "org_small"),
        );
        let allow = s3.addr().to_string();
        let mut args = vec!["--data-dir", data_dir, "--allow-endpoint", &allow];
        if let Some(n) = in_flight {
            args.extend(["--max-in-flight", n]);
        }
        let (child, base) = serve(&args, &[]);
        let (big, small) = (
            ApiClient::new(&base, &big_key),
            ApiClient::new(&base, &small_key),
        );
        println!("--max-in-flight {}", in_flight.unwrap_or("(default)"));
        small_behind_big(&s3, &big, &small).await;
        kill(child);
    }
}
