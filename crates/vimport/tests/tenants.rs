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

/// `vimport keys create` for `user` of `org` in `data_dir`; answers the key.
fn key_for(data_dir: &str, user: &str, org: &str) -> String {
    let out = std::process::Command::new(BIN)
        .args([
            "keys",
            "create",
            "--user",
            user,
            "--org",
            org,
            "--data-dir",
            data_dir,
        ])
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

/// One organisation queues 300 objects; another then queues one. The
/// workers take turns between the organisations, so the small one's object
/// is imported while most of the big job still waits, instead of after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_big_job_of_one_organisation_does_not_hold_up_another() {
    use import_testkit::S3StandIn;
    use import_testkit::mp4::{Mp4Spec, sample_mp4};
    const BIG: usize = 300;
    let s3 = S3StandIn::start("AKIDFAIR", "fair-secret").await.unwrap();
    s3.create_bucket("fleet").unwrap();
    let bytes = sample_mp4(&Mp4Spec {
        mdat_bytes: 512 * 1024,
        ..Mp4Spec::default()
    });
    for i in 0..BIG {
        s3.put("fleet", &format!("big/{i:03}.mp4"), &bytes).unwrap();
    }
    s3.put("fleet", "small/one.mp4", &bytes).unwrap();
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().to_str().unwrap();
    let (big_key, small_key) = (
        key_for(data_dir, "ada", "org_big"),
        key_for(data_dir, "bo", "org_small"),
    );
    let allow = s3.addr().to_string();
    let (child, base) = serve(
        &[
            "--data-dir",
            data_dir,
            "--workers",
            "2",
            "--allow-endpoint",
            &allow,
        ],
        &[],
    );
    let (big, small) = (
        ApiClient::new(&base, &big_key),
        ApiClient::new(&base, &small_key),
    );
    let big_ci = big.s3_integration(&s3_integration_body(&s3, "fleet")).await;
    let small_ci = small
        .s3_integration(&s3_integration_body(&s3, "fleet"))
        .await;
    let keys: Vec<String> = (0..BIG).map(|i| format!("big/{i:03}.mp4")).collect();
    let big_job = big.upload_s3_keys("fleet", &keys, &big_ci).await;
    // Let the big job get going first.
    big.poll_job(
        &big_job,
        Duration::from_millis(10),
        Duration::from_secs(60),
        |j| j["counts"]["uploaded"].as_u64().unwrap_or(0) >= 2,
    )
    .await;
    let asked = Instant::now();
    let small_job = small
        .upload_s3_keys("fleet", &["small/one.mp4".to_owned()], &small_ci)
        .await;
    let done = small
        .poll_job(
            &small_job,
            Duration::from_millis(10),
            Duration::from_secs(120),
            is_terminal,
        )
        .await;
    let waited = asked.elapsed();
    assert_eq!(done["counts"]["uploaded"], 1, "{done}");
    let big_now = big.job(&big_job).await;
    let big_done = big_now["counts"]["uploaded"].as_u64().unwrap();
    println!(
        "the small organisation's object was imported {waited:?} after it was queued, while the big job had {big_done} of {BIG} imported"
    );
    assert!(
        big_done < BIG as u64 / 2,
        "the small job waited behind the big one: {big_done} of {BIG} were imported first"
    );
    let all = big
        .poll_job(
            &big_job,
            Duration::from_millis(50),
            Duration::from_secs(300),
            is_terminal,
        )
        .await;
    assert_eq!(all["counts"]["uploaded"], BIG as u64, "{all}");
    kill(child);
}
