//! The import pipeline against real stand-ins: s3s-fs with SigV4 and the Hugging
//! Face bucket double. Every failure reason ends as a failed row with its message.

use std::collections::{BTreeMap, BTreeSet};

use crate::common::*;
use import_testkit::mp4::{Codec, Mp4Spec, jpeg_bytes, sample_mp4, truncated_mp4};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn sha256_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let digest = aws_lc_rs_digest(bytes);
    digest.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn aws_lc_rs_digest(bytes: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes)
        .as_ref()
        .to_vec()
}

fn by_uri(rows: &[Value]) -> BTreeMap<String, Value> {
    rows.iter()
        .map(|r| {
            (
                r["import_source_uri"].as_str().unwrap().to_owned(),
                r.clone(),
            )
        })
        .collect()
}

#[tokio::test]
async fn s3_import_end_to_end_with_every_failure_reason() {
    let env = env().await;
    let good = sample_mp4(&Mp4Spec {
        width: 1920,
        height: 1080,
        duration_ms: 12_500,
        ..Mp4Spec::default()
    });
    let hevc = sample_mp4(&Mp4Spec {
        codec: Codec::Hvc1,
        moov_at_end: true,
        width: 640,
        height: 360,
        ..Mp4Spec::default()
    });
    env.s3.put(BUCKET, "trips/042/front.mp4", &good).unwrap();
    env.s3.put(BUCKET, "trips/042/rear #2.MP4", &hevc).unwrap();
    env.s3
        .put(BUCKET, "trips/042/photo.mp4", &jpeg_bytes())
        .unwrap();
    env.s3.put(BUCKET, "trips/042/empty.mp4", &[]).unwrap();
    env.s3
        .put(BUCKET, "trips/042/cut.mp4", &truncated_mp4())
        .unwrap();
    let ci = env.s3_integration(SK, None).await;
    let (_, folder) = env
        .post(
            "/api/folders/create-or-get",
            json!({"name": "fleet_uploads", "scope": "org"}),
        )
        .await;
    let keys = [
        "trips/042/front.mp4",
        "trips/042/rear #2.MP4",
        "trips/042/photo.mp4",
        "trips/042/empty.mp4",
        "trips/042/cut.mp4",
        "trips/042/missing.mp4",
        "trips/042/front.mp4",
    ];
    let (status, up) = env
        .post("/api/s3/upload", json!({"keys": keys, "bucket": BUCKET, "collection": "videos",
                                       "folder_id": folder["id"], "scope": "org", "integration_id": ci}))
        .await;
    assert_eq!(status, StatusCode::OK, "{up}");
    assert_eq!(up["status"], "importing");
    let job_id = up["import_job_id"].as_str().unwrap();
    let job = env.wait_job(job_id).await;
    assert_eq!(job["total"], 6, "duplicates are imported once");
    assert_eq!(job["source"], "s3");
    assert_eq!(job["bucket"], BUCKET);
    assert_eq!(job["prefix"], "trips/042/");
    assert_eq!(job["folder_id"], folder["id"]);
    assert_eq!(job["folder_name"], "fleet_uploads");
    assert_eq!(job["status"], "completed_with_errors");
    assert_eq!(
        job["counts"],
        json!({"uploaded": 2, "failed": 4, "pending": 0})
    );
    assert!(job["completed_at"].is_string());
    assert_eq!(job["multi_view"], false);

    let rows = by_uri(&env.rows(job_id, 2).await);
    assert_eq!(rows.len(), 6);
    let row = |k: &str| rows[&format!("s3://{BUCKET}/trips/042/{k}")].clone();
    assert_eq!(row("front.mp4")["status"], "UPLOADED");
    assert!(row("front.mp4").get("error").is_none());
    assert_eq!(row("rear #2.MP4")["status"], "UPLOADED");
    let failed = |k: &str, needle: &str| {
        let r = row(k);
        assert_eq!(r["status"], "UPLOADING_FAILED", "{k}: {r}");
        let e = r["error"].as_str().unwrap_or_default().to_owned();
        assert!(e.contains(needle), "{k}: `{e}` lacks `{needle}`");
    };
    failed("photo.mp4", "JPEG");
    failed("empty.mp4", "empty");
    failed("cut.mp4", "truncated");
    failed("missing.mp4", "not found");

    // Metadata of the uploaded videos.
    let vid = row("front.mp4")["video_id"].as_str().unwrap().to_owned();
    let (status, st) = env.get(&format!("/api/video/{vid}/status")).await;
    assert_eq!(status, StatusCode::OK);
    let m = &st["metadata"];
    assert_eq!(m["size_bytes"], good.len() as u64);
    assert_eq!(m["sha256"], sha256_hex(&good));
    assert_eq!(
        (m["width"].as_u64(), m["height"].as_u64()),
        (Some(1920), Some(1080))
    );
    assert!(
        (m["duration_s"].as_f64().unwrap() - 12.5).abs() < 1e-6,
        "{m}"
    );
    assert_eq!(m["codec"], "avc1");
    // s3s-fs gives single-part objects their MD5 as ETag.
    assert_eq!(m["verified_checksum"], "md5");
    assert_eq!(st["import_job_id"], job_id);
    let vid = row("rear #2.MP4")["video_id"].as_str().unwrap().to_owned();
    let (_, st) = env.get(&format!("/api/video/{vid}/status")).await;
    assert_eq!(st["metadata"]["codec"], "hvc1");
    assert_eq!(st["metadata"]["width"], 640);
    // Failed rows carry no metadata.
    let vid = row("photo.mp4")["video_id"].as_str().unwrap().to_owned();
    let (_, st) = env.get(&format!("/api/video/{vid}/status")).await;
    assert_eq!(st["metadata"], json!({}));

    // The media store holds exactly the uploaded videos.
    let media = env.dir.path().join("media/videos");
    let stored: Vec<_> = std::fs::read_dir(&media).unwrap().collect();
    assert_eq!(stored.len(), 2);

    // Retry the failed rows: they run again and fail again for the same reasons.
    env.s3.put(BUCKET, "trips/042/missing.mp4", &good).unwrap();
    let (status, retried) = env
        .post(
            &format!("/api/import-jobs/{job_id}/retry"),
            json!({"video_ids": null}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{retried}");
    assert_eq!(retried["retried"], 4);
    let job = env.wait_job(job_id).await;
    assert_eq!(
        job["counts"],
        json!({"uploaded": 3, "failed": 3, "pending": 0})
    );
    let (_, again) = env
        .post(
            &format!("/api/import-jobs/{job_id}/retry"),
            json!({"video_ids": [vid]}),
        )
        .await;
    assert_eq!(again["retried"], 1);
    env.wait_job(job_id).await;
}

#[tokio::test]
async fn credentials_prefix_and_anonymous_failures_are_rows() {
    let env = env().await;
    env.s3
        .put(BUCKET, "raw/a.mp4", &mp4(320, 240, 1000))
        .unwrap();
    env.s3
        .put(BUCKET, "cooked/b.mp4", &mp4(320, 240, 1000))
        .unwrap();
    // Wrong secret: the row fails with a message about the credentials.
    let wrong = env.s3_integration("not-the-secret", None).await;
    let (_, up) = env
        .post(
            "/api/s3/upload",
            json!({"keys": ["raw/a.mp4"], "bucket": BUCKET, "integration_id": wrong}),
        )
        .await;
    let job = up["import_job_id"].as_str().unwrap().to_owned();
    env.wait_job(&job).await;
    let rows = env.rows(&job, 10).await;
    assert_eq!(rows[0]["status"], "UPLOADING_FAILED");
    let err = rows[0]["error"].as_str().unwrap().to_lowercase();
    assert!(
        err.contains("credential") || err.contains("secret") || err.contains("denied"),
        "{err}"
    );
    assert!(!err.contains("not-the-secret"), "{err}");

    // Outside the integration's prefix.
    let narrow = env.s3_integration(SK, Some("raw/")).await;
    let (_, up) = env
        .post("/api/s3/upload", json!({"keys": ["raw/a.mp4", "cooked/b.mp4"], "bucket": BUCKET, "integration_id": narrow}))
        .await;
    let job = up["import_job_id"].as_str().unwrap().to_owned();
    let done = env.wait_job(&job).await;
    assert_eq!(
        done["prefix"], "raw/",
        "the integration's prefix is longer than the common one"
    );
    let rows = by_uri(&env.rows(&job, 10).await);
    assert_eq!(
        rows[&format!("s3://{BUCKET}/raw/a.mp4")]["status"],
        "UPLOADED"
    );
    let out = &rows[&format!("s3://{BUCKET}/cooked/b.mp4")];
    assert_eq!(out["status"], "UPLOADING_FAILED");
    assert!(
        out["error"]
            .as_str()
            .unwrap()
            .contains("outside the integration's prefix `raw/`"),
        "{out}"
    );
}

#[tokio::test]
async fn without_integration_id_the_newest_matching_integration_is_used() {
    let env = env().await;
    env.s3.put(BUCKET, "a.mp4", &mp4(320, 240, 1000)).unwrap();
    env.s3_integration("stale-secret", None).await;
    env.s3_integration(SK, None).await;
    let (_, up) = env
        .post(
            "/api/s3/upload",
            json!({"keys": ["a.mp4"], "bucket": BUCKET}),
        )
        .await;
    let job = up["import_job_id"].as_str().unwrap().to_owned();
    let done = env.wait_job(&job).await;
    assert_eq!(done["counts"]["uploaded"], 1, "{done}");
}

#[tokio::test]
async fn walk_with_limit_one_while_importing_sees_every_row_once() {
    let env = env_with(|c| c.max_in_flight = 1).await;
    let ci = env.s3_integration(SK, None).await;
    let keys: Vec<String> = (0..40).map(|i| format!("cam/{i:03}.mp4")).collect();
    for k in &keys {
        env.s3.put(BUCKET, k, &mp4(160, 120, 500)).unwrap();
    }
    let (_, up) = env
        .post(
            "/api/s3/upload",
            json!({"keys": keys, "bucket": BUCKET, "integration_id": ci}),
        )
        .await;
    let job = up["import_job_id"].as_str().unwrap().to_owned();
    let rows = env.rows(&job, 1).await;
    let ids: Vec<&str> = rows
        .iter()
        .map(|r| r["video_id"].as_str().unwrap())
        .collect();
    let distinct: BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(ids.len(), 40);
    assert_eq!(distinct.len(), 40);
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "rows come in ascending video_id order");
    // Offset pages give the same rows.
    let (_, page) = env
        .get(&format!("/api/import-jobs/{job}/videos?limit=10&offset=30"))
        .await;
    let tail: Vec<&str> = page["videos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["video_id"].as_str().unwrap())
        .collect();
    assert_eq!(tail, &ids[30..]);
    assert_eq!(page["has_more"], false);
    assert_eq!(page["next_cursor"], Value::Null);
    env.wait_job(&job).await;
}

#[tokio::test]
async fn multi_view_sets() {
    let env = env().await;
    let ci = env.s3_integration(SK, None).await;
    for k in ["t1/front.mp4", "t1/left.mp4", "t2/front.mp4"] {
        env.s3.put(BUCKET, k, &mp4(320, 240, 1000)).unwrap();
    }
    let u = |k: &str| format!("s3://{BUCKET}/{k}");
    let sets = json!([
        {"views": {"front": u("t1/front.mp4"), "left": u("t1/left.mp4")}},
        {"views": {"front": u("t2/front.mp4"), "rear": u("t2/rear-missing.mp4")}},
    ]);
    let (status, up) = env
        .post(
            "/api/s3/upload",
            json!({"sets": sets, "bucket": BUCKET, "integration_id": ci}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{up}");
    let job = up["import_job_id"].as_str().unwrap().to_owned();
    let done = env.wait_job(&job).await;
    assert_eq!(done["total"], 2);
    assert_eq!(done["multi_view"], true);
    let (status, _) = env
        .get(&format!("/api/import-jobs/{job}/videos?offset=0"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let rows = env.rows(&job, 1).await;
    assert_eq!(rows.len(), 2);
    let first = &rows[0];
    assert_eq!(first["import_source_uri"], u("t1/front.mp4"));
    assert_eq!(first["set_video_id"], first["video_id"]);
    assert_eq!(first["status"], "UPLOADED");
    assert_eq!(first["views"]["left"]["status"], "UPLOADED");
    assert_eq!(first["views"]["front"]["video_id"], first["video_id"]);
    assert_eq!(first["failed_views"], json!([]));
    let second = &rows[1];
    assert_eq!(second["status"], "UPLOADED");
    assert_eq!(second["failed_views"][0]["role"], "rear");
    assert_eq!(second["failed_views"][0]["status"], "UPLOADING_FAILED");
    assert!(
        second["failed_views"][0]["error"]
            .as_str()
            .unwrap()
            .contains("not found")
    );
}

#[tokio::test]
async fn hugging_face_bucket_import() {
    let hf = import_testkit::HfStandIn::start().await.unwrap();
    hf.add_bucket("acme", "cams", Some("hf_token_abc")).unwrap();
    hf.add_bucket("acme", "public-cams", None).unwrap();
    hf.put("acme", "cams", "day1/a.mp4", &mp4(640, 480, 2000))
        .unwrap();
    hf.put("acme", "public-cams", "b.mp4", &mp4(640, 480, 2000))
        .unwrap();
    let env = hf_env(&hf, |_| {}).await;
    let (status, _) = env
        .post("/api/cloud-integrations/hf-bucket", json!({"name": "hf", "type": "hf_bucket", "token": "hf_token_abc", "bucket": "acme/cams", "prefix": null}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let before = hf.requests();
    let (_, up) = env
        .post(
            "/api/hf-buckets/upload",
            json!({"files": ["day1/a.mp4", "day1/none.mp4"], "bucket": "acme/cams"}),
        )
        .await;
    let job = up["import_job_id"].as_str().unwrap().to_owned();
    let done = env.wait_job(&job).await;
    // One GET per object and no HEAD: the Hub's redirect and the CDN's
    // answer for the video, the Hub's 404 for the missing one.
    assert_eq!(hf.requests() - before, 3);
    assert_eq!(done["source"], "hf_bucket");
    assert_eq!(
        done["counts"],
        json!({"uploaded": 1, "failed": 1, "pending": 0})
    );
    // The Hub's Xet hash is kept beside our SHA-256; the token stayed on the Hub.
    let rows = env.rows(&job, 10).await;
    let uploaded = rows.iter().find(|r| r["status"] == "UPLOADED").unwrap();
    let vid = uploaded["video_id"].as_str().unwrap();
    let (_, st) = env.get(&format!("/api/video/{vid}/status")).await;
    let xet = st["metadata"]["xet_hash"].as_str().unwrap_or_default();
    assert_eq!(xet.len(), 64, "{st}");
    assert_eq!(hf.cdn_requests_with_a_token(), 0);
    let missing = rows
        .iter()
        .find(|r| r["status"] == "UPLOADING_FAILED")
        .unwrap();
    assert!(
        missing["error"]
            .as_str()
            .unwrap()
            .contains("not found, or this token cannot read the bucket"),
        "{missing}"
    );
    // A public bucket needs no integration.
    let (_, up) = env
        .post(
            "/api/hf-buckets/upload",
            json!({"files": ["b.mp4"], "bucket": "acme/public-cams"}),
        )
        .await;
    let job = up["import_job_id"].as_str().unwrap().to_owned();
    assert_eq!(env.wait_job(&job).await["counts"]["uploaded"], 1);
    // A private bucket without a token fails the row, not the request.
    let env2 = hf_env(&hf, |_| {}).await;
    let job = env2.upload_hf("acme/cams", &["day1/a.mp4"]).await;
    env2.wait_job(&job).await;
    let rows = env2.rows(&job, 10).await;
    assert_eq!(rows[0]["status"], "UPLOADING_FAILED");
    assert!(
        rows[0]["error"]
            .as_str()
            .unwrap()
            .starts_with("the bucket is private"),
        "{}",
        rows[0]
    );
}

/// A Hub whose CDN refuses HEAD and streams without Content-Length, and whose
/// redirects carry no X-Linked-Size: the import still reads the size (a
/// one-byte range) and copies the whole object.
#[tokio::test]
async fn hugging_face_import_copes_with_a_cdn_that_refuses_head() {
    let hf = import_testkit::HfStandIn::start_with(import_testkit::HfOptions {
        cdn_refuses_head: true,
        cdn_content_length: false,
        linked_size: false,
        ..import_testkit::HfOptions::default()
    })
    .await
    .unwrap();
    hf.add_bucket("acme", "cams", None).unwrap();
    let video = mp4(640, 480, 2000);
    hf.put("acme", "cams", "a.mp4", &video).unwrap();
    let env = hf_env(&hf, |_| {}).await;
    let job = env.upload_hf("acme/cams", &["a.mp4"]).await;
    env.wait_job(&job).await;
    let rows = env.rows(&job, 10).await;
    assert_eq!(rows[0]["status"], "UPLOADED", "{}", rows[0]);
    let vid = rows[0]["video_id"].as_str().unwrap();
    let (_, st) = env.get(&format!("/api/video/{vid}/status")).await;
    assert_eq!(st["metadata"]["size_bytes"], video.len() as u64);
}

/// A TCP proxy in front of the S3 stand-in that answers `503` to the first
/// `fail_first` connections, then forwards.
async fn flaky_proxy(
    target: std::net::SocketAddr,
    fail_first: usize,
) -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::AsyncWriteExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut client, _)) = listener.accept().await else {
                return;
            };
            let n = counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                if n < fail_first {
                    let mut buf = [0u8; 4096];
                    let _ = tokio::io::AsyncReadExt::read(&mut client, &mut buf).await;
                    let _ = client
                        .write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                        .await;
                    return;
                }
                if let Ok(mut upstream) = tokio::net::TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                }
            });
        }
    });
    (addr, seen)
}

#[tokio::test]
async fn transient_source_errors_are_retried_then_give_up() {
    // Enough failures to outlast the bucket client's own retries: the row goes
    // back to the queue with backoff and succeeds on a later claim.
    let s3 = import_testkit::S3StandIn::start(AK, SK).await.unwrap();
    s3.create_bucket(BUCKET).unwrap();
    s3.put(BUCKET, "a.mp4", &mp4(320, 240, 1000)).unwrap();
    let (flaky, seen) = flaky_proxy(s3.addr(), 7).await;
    let (dead, _) = flaky_proxy(s3.addr(), usize::MAX).await;
    let env = env_with(move |c| {
        c.allow_endpoints.push(flaky.to_string());
        c.allow_endpoints.push(dead.to_string());
    })
    .await;
    for (endpoint, name) in [(flaky, "flaky"), (dead, "dead")] {
        let (status, ci) = env
            .post(
                "/api/cloud-integrations/s3",
                json!({"name": name, "type": "s3", "access_key_id": AK, "secret_access_key": SK,
                       "endpoint_url": format!("http://{endpoint}"), "bucket": BUCKET}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{ci}");
        let (_, up) = env
            .post(
                "/api/s3/upload",
                json!({"keys": ["a.mp4"], "bucket": BUCKET, "integration_id": ci["id"]}),
            )
            .await;
        let job = up["import_job_id"].as_str().unwrap().to_owned();
        let done = env.wait_job(&job).await;
        let rows = env.rows(&job, 10).await;
        if name == "flaky" {
            assert_eq!(done["counts"]["uploaded"], 1, "{rows:?}");
            assert!(seen.load(std::sync::atomic::Ordering::SeqCst) > 7);
        } else {
            assert_eq!(rows[0]["status"], "UPLOADING_FAILED");
            let err = rows[0]["error"].as_str().unwrap();
            assert!(err.contains("kept failing after 3 attempts"), "{err}");
        }
    }
}

#[tokio::test]
async fn an_object_over_the_size_limit_fails_before_it_is_read() {
    let env = env_with(|c| c.max_object_size = 1_000).await;
    let video = mp4(320, 240, 1_000);
    assert!(video.len() > 1_000);
    env.s3.put(BUCKET, "big/a.mp4", &video).unwrap();
    let ci = env.s3_integration(SK, None).await;
    let job = env
        .upload_s3_keys(BUCKET, &["big/a.mp4".to_owned()], &ci)
        .await;
    env.wait_job(&job).await;
    let rows = env.rows(&job, 10).await;
    assert_eq!(rows[0]["status"], "UPLOADING_FAILED");
    assert_eq!(rows[0]["error_code"], "too_large");
    let error = rows[0]["error"].as_str().unwrap();
    assert!(
        error.contains(&format!("the object is {} bytes", video.len()))
            && error.contains("limit of 1000 bytes (--max-object-size)"),
        "{error}"
    );
    // Nothing of it reached the media store.
    let videos = env.dir.path().join("media/videos");
    let stored = std::fs::read_dir(&videos).map(|d| d.count()).unwrap_or(0);
    assert_eq!(stored, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_under_the_rate_floor_fails_with_the_rate_named() {
    // 64 KiB every 100 ms (640 KiB/s) against a floor of 1 MiB/s over 1 s.
    let hf = import_testkit::HfStandIn::start_with(import_testkit::HfOptions {
        chunk_delay: Some(std::time::Duration::from_millis(100)),
        ..import_testkit::HfOptions::default()
    })
    .await
    .unwrap();
    hf.add_bucket("acme", "drip", None).unwrap();
    let video = sample_mp4(&Mp4Spec {
        mdat_bytes: 4 << 20,
        ..Mp4Spec::default()
    });
    hf.put("acme", "drip", "slow.mp4", &video).unwrap();
    let env = hf_env(&hf, |c| {
        c.min_source_rate = 1 << 20;
        c.source_rate_window = std::time::Duration::from_secs(1);
        c.max_attempts = 2;
    })
    .await;
    let started = std::time::Instant::now();
    let job = env.upload_hf("acme/drip", &["slow.mp4"]).await;
    env.wait_job(&job).await;
    let rows = env.rows(&job, 10).await;
    assert_eq!(rows[0]["status"], "UPLOADING_FAILED");
    assert_eq!(rows[0]["error_code"], "source_unavailable");
    let error = rows[0]["error"].as_str().unwrap();
    assert!(error.contains("less than the 1048576 bytes/s"), "{error}");
    // Two attempts of about a window each, not the ~6.4 s the copy would take.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(6),
        "took {:?}",
        started.elapsed()
    );
    assert!(hf.bytes_served() < 2 * video.len() as u64);
}

/// The budget: copies at once of 33 MiB objects whose `moov` is
/// 32 MiB, at the end as a camera writes it (16 here, to keep the suite
/// short; the 40 grew the process by 163 MiB over 128 MiB). A copy reserves its parts and
/// a small `moov`; the large `moov` is only located on the way and read
/// back once the parts are given back, within its own reservation. So the
/// process grows by at most `--copy-memory` (128 MiB here) and a constant
/// (the S3 stand-in serving in this same process, the HTTP buffers).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_with_large_moov_boxes_stay_within_the_copy_memory() {
    const MIB: u64 = 1 << 20;
    const COPIES: usize = 16;
    let budget = 128 * MIB;
    let env = env_with(|c| {
        c.max_in_flight = COPIES;
        c.copy_memory = budget;
        c.max_attempts = 1;
        c.lease = std::time::Duration::from_secs(60);
    })
    .await;
    let spec = Mp4Spec {
        mdat_bytes: MIB as usize,
        moov_padding: (import_providers::mp4::MAX_MOOV_BYTES - 64 * 1024) as usize,
        moov_at_end: true,
        ..Mp4Spec::default()
    };
    let first = env.s3.object_path(BUCKET, "rig/0.mp4").unwrap();
    let size = import_testkit::mp4::streamed_mp4_to_file(&first, &spec).unwrap();
    let keys: Vec<String> = (0..COPIES).map(|i| format!("rig/{i}.mp4")).collect();
    for key in &keys[1..] {
        std::fs::copy(&first, env.s3.object_path(BUCKET, key).unwrap()).unwrap();
    }
    let ci = env.s3_integration(SK, None).await;
    // The peak from here on (generating the file took its own).
    reset_peak_rss();
    let before = current_rss();
    let started = std::time::Instant::now();
    let job = env.upload_s3_keys(BUCKET, &keys, &ci).await;
    let done = env.wait_job(&job).await;
    let grown = peak_rss().saturating_sub(before);
    let rows = env.rows(&job, 100).await;
    let uploaded = rows.iter().filter(|r| r["status"] == "UPLOADED").count();
    println!(
        "{COPIES} copies of {size} bytes with a {} byte moov: {uploaded} uploaded in {:.1} s, peak RSS grew {} MiB over a --copy-memory of {} MiB",
        spec.moov_padding,
        started.elapsed().as_secs_f64(),
        grown / MIB,
        budget / MIB
    );
    assert_eq!(uploaded, COPIES, "{done}\n{:?}", rows.first());
    assert!(
        grown < budget + 96 * MIB,
        "peak RSS grew {} MiB",
        grown / MIB
    );
}

/// A row waiting to be tried again says why its last attempt failed
/// (`last_error`), where it showed only `PENDING`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_row_says_why_its_last_attempt_failed() {
    // An endpoint nothing listens on (allowed): every attempt is refused.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nobody = free.local_addr().unwrap();
    drop(free);
    let env = env_with(|c| {
        c.allow_endpoints.push(nobody.to_string());
        c.max_attempts = 5;
        c.retry_base = std::time::Duration::from_secs(60);
    })
    .await;
    let mut body = import_testkit::api::s3_integration_body(&env.s3, BUCKET);
    body.endpoint_url = Some(format!("http://{nobody}"));
    let ci = import_testkit::api::ApiClient::s3_integration(&env, &body).await;
    let job = env.upload_s3_keys(BUCKET, &["x.mp4".to_owned()], &ci).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let row = env.rows(&job, 10).await.remove(0);
        if let Some(reason) = row["last_error"].as_str() {
            assert_eq!(row["status"], "PENDING", "{row}");
            assert!(row["error"].is_null(), "{row}");
            assert!(reason.contains("could not connect"), "{reason}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no reason: {row}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// A job that finishes says so in the log once, with its counts, and each
/// row's line names its job and its object.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_job_is_logged_with_its_counts() {
    let capture = Capture::install("info");
    let env = env().await;
    env.s3.put(BUCKET, "a.mp4", &mp4(320, 240, 1_000)).unwrap();
    let ci = env.s3_integration(SK, None).await;
    let job = env
        .upload_s3_keys(BUCKET, &["a.mp4".to_owned(), "gone.mp4".to_owned()], &ci)
        .await;
    env.wait_job(&job).await;
    // The line comes as the finishing transaction commits (bounded wait).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let logs = loop {
        let logs = capture.text();
        if logs.contains("import job finished") || std::time::Instant::now() > deadline {
            break logs;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let finished: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("import job finished"))
        .collect();
    assert_eq!(finished.len(), 1, "{logs}");
    assert!(finished[0].contains(&job), "{}", finished[0]);
    assert!(
        finished[0].contains("uploaded=1") && finished[0].contains("failed=1"),
        "{}",
        finished[0]
    );
    let row_line = logs
        .lines()
        .find(|l| l.contains("row finished") && l.contains("a.mp4"))
        .unwrap_or_else(|| panic!("{logs}"));
    assert!(row_line.contains(&job), "{row_line}");
}
