//! What an operator asks a running server, without an API key: is it alive
//! (`/healthz`), can it serve and import (`/readyz`), and its metrics in the
//! Prometheus text format (`/metrics`).

use crate::common::*;
use import_testkit::mp4::jpeg_bytes;
use reqwest::StatusCode;
use serde_json::Value;

/// The value of one sample line (`name{labels} value`) of a scrape.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

#[tokio::test]
async fn probes_and_metrics_answer_without_a_key() {
    let env = env().await;
    let (status, _, body) = get_plain(&env, "/healthz").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["status"],
        "ok"
    );
    let (status, _, body) = get_plain(&env, "/readyz").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["status"],
        "ready"
    );
    // The API itself still wants its key.
    let (status, _, _) = get_plain(&env, "/api/import-jobs").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    env.s3
        .put(BUCKET, "m/good.mp4", &mp4(320, 240, 1_000))
        .unwrap();
    env.s3.put(BUCKET, "m/photo.mp4", &jpeg_bytes()).unwrap();
    let ci = env.s3_integration(SK, None).await;
    let keys = vec!["m/good.mp4".to_owned(), "m/photo.mp4".to_owned()];
    let job = env.upload_s3_keys(BUCKET, &keys, &ci).await;
    env.wait_job(&job).await;

    let (status, content_type, text) = get_plain(&env, "/metrics").await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let value = |series: &str| {
        sample(&text, series).unwrap_or_else(|| panic!("no `{series}` in the scrape:\n{text}"))
    };
    assert_eq!(value("vimport_claims_total"), 2.0);
    let good_size = mp4(320, 240, 1_000).len() as f64;
    assert!(value("vimport_copied_bytes_total") >= good_size);
    assert_eq!(value("vimport_copy_duration_seconds_count"), 1.0);
    assert_eq!(
        value("vimport_source_failures_total{code=\"not_mp4\"}"),
        1.0
    );
    assert_eq!(
        value(
            "vimport_http_requests_total{route=\"/api/s3/upload\",method=\"POST\",status=\"200\"}"
        ),
        1.0
    );
    assert!(value("vimport_http_request_duration_seconds_count{route=\"/api/s3/upload\"}") >= 1.0);
    assert_eq!(value("vimport_rows{status=\"UPLOADED\"}"), 1.0);
    assert_eq!(value("vimport_rows{status=\"UPLOADING_FAILED\"}"), 1.0);
    assert_eq!(value("vimport_rows{status=\"PENDING\"}"), 0.0);
    assert_eq!(value("vimport_claimable_rows"), 0.0);
    // Requests to no route are counted once, as `unmatched` (without a key
    // they are refused before the route is looked up).
    get_plain(&env, "/no/such/route").await;
    let (_, _, text) = get_plain(&env, "/metrics").await;
    assert_eq!(
        sample(
            &text,
            "vimport_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"401\"}"
        ),
        Some(1.0),
        "{text}"
    );
}

#[tokio::test]
async fn readyz_names_a_media_store_that_takes_no_write() {
    let env = env().await;
    // The media folder replaced by a file: no write can succeed.
    let media = env.dir.path().join("media");
    let _ = std::fs::remove_dir_all(&media);
    std::fs::write(&media, b"not a folder").unwrap();
    let (status, _, body) = get_plain(&env, "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let probe: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(probe["status"], "not_ready");
    assert!(
        probe["reason"]
            .as_str()
            .unwrap()
            .contains("the media store refuses a write"),
        "{probe}"
    );
    // What failed, not the raw error (paths, OS errors stay in the log).
    assert!(
        !probe["reason"].as_str().unwrap().contains("os error"),
        "{probe}"
    );
    // Alive all the same.
    let (status, _, _) = get_plain(&env, "/healthz").await;
    assert_eq!(status, StatusCode::OK);
}
