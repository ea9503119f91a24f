//! Sources that lie or attack (the sources issue): every test imports from
//! [`HostileS3`], a bucket endpoint on loopback that the server is allowed
//! to reach (`--allow-endpoint`), and checks the server copies nothing it
//! should not, reads nothing without bound, and fails the row with a reason.

use std::time::{Duration, Instant};

use crate::common::*;
use import_testkit::hostile::{Behaviour, HostileS3};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Save an S3 integration for `bucket` at the hostile endpoint.
async fn integration(env: &Env, s3: &HostileS3, bucket: &str) -> String {
    let (status, ci) = env
        .post(
            "/api/cloud-integrations/s3",
            json!({"name": bucket, "type": "s3", "bucket": bucket,
                   "access_key_id": "AKID", "secret_access_key": "secret",
                   "endpoint_url": s3.endpoint()}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{ci}");
    ci["id"].as_str().unwrap().to_owned()
}

/// Import `keys` from the hostile endpoint; the job id.
async fn import(env: &Env, s3: &HostileS3, keys: &[&str]) -> String {
    let ci = integration(env, s3, "hostile").await;
    let keys: Vec<String> = keys.iter().map(|k| (*k).to_owned()).collect();
    env.upload_s3_keys("hostile", &keys, &ci).await
}

/// Import `x.mp4`, wait for its job, and answer its one row.
async fn import_one(env: &Env, s3: &HostileS3) -> Value {
    let job = import(env, s3, &["x.mp4"]).await;
    env.wait_job(&job).await;
    env.rows(&job, 10).await.remove(0)
}

/// A server allowed to reach `s3`, with one attempt per row unless `tune`
/// says otherwise.
async fn env_for(s3: &HostileS3, tune: impl FnOnce(&mut import_server::ServerConfig)) -> Env {
    let addr = s3.addr().to_string();
    env_with(move |c| {
        c.allow_endpoints.push(addr);
        c.max_attempts = 1;
        tune(c);
    })
    .await
}

/// Files in the media folder (staging files included).
fn media_files(env: &Env) -> Vec<String> {
    std::fs::read_dir(env.dir.path().join("media/videos"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn error_of(row: &Value) -> &str {
    row["error"].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_honest_object_is_verified_against_its_md5_etag() {
    let s3 = HostileS3::start().await.unwrap();
    s3.put("x.mp4", Behaviour::Honest(mp4(320, 240, 1_000)));
    let env = env_for(&s3, |_| {}).await;
    let row = import_one(&env, &s3).await;
    assert_eq!(row["status"], "UPLOADED", "{row}");
    let vid = row["video_id"].as_str().unwrap();
    let (_, st) = env.get(&format!("/api/video/{vid}/status")).await;
    assert_eq!(st["metadata"]["verified_checksum"], "md5", "{st}");
    // One request for the object: a GET, no HEAD.
    let of_object: Vec<String> = s3
        .requests()
        .into_iter()
        .filter(|r| r.ends_with("/x.mp4"))
        .collect();
    assert_eq!(of_object, ["GET /x.mp4"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flipped_byte_under_a_true_md5_etag_fails_as_a_checksum_mismatch() {
    let s3 = HostileS3::start().await.unwrap();
    let video = mp4(320, 240, 1_000);
    let at = video.len() / 2;
    s3.put("x.mp4", Behaviour::FlippedByte { bytes: video, at });
    let env = env_for(&s3, |c| c.max_attempts = 2).await;
    let row = import_one(&env, &s3).await;
    assert_eq!(row["status"], "UPLOADING_FAILED");
    assert_eq!(row["error_code"], "checksum_mismatch");
    assert!(error_of(&row).contains("checksum mismatch (md5)"), "{row}");
    // Retried once (two GETs), and nothing stayed in the media store.
    let gets = s3
        .requests()
        .iter()
        .filter(|r| r.starts_with("GET"))
        .count();
    assert_eq!(gets, 2);
    assert!(media_files(&env).is_empty(), "{:?}", media_files(&env));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_replaced_before_the_copy_is_copied_whole_in_its_new_version() {
    let s3 = HostileS3::start().await.unwrap();
    s3.put(
        "x.mp4",
        Behaviour::Replaced {
            before: mp4(320, 240, 1_000),
            after: mp4(640, 480, 2_000),
        },
    );
    let env = env_for(&s3, |_| {}).await;
    let row = import_one(&env, &s3).await;
    // One GET: its answer is one version (size, ETag, body), so the copy
    // is the new version whole, verified against its own MD5.
    assert_eq!(row["status"], "UPLOADED", "{row}");
    let vid = row["video_id"].as_str().unwrap();
    let (_, st) = env.get(&format!("/api/video/{vid}/status")).await;
    assert_eq!(st["metadata"]["width"], 640, "{st}");
    assert_eq!(st["metadata"]["verified_checksum"], "md5", "{st}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_body_is_cut_at_the_declared_size() {
    let s3 = HostileS3::start().await.unwrap();
    let start = mp4(320, 240, 1_000)[..64].to_vec();
    s3.put(
        "x.mp4",
        Behaviour::EndlessBody {
            declared: 1_000,
            start,
        },
    );
    let env = env_for(&s3, |_| {}).await;
    let before = peak_rss();
    let row = import_one(&env, &s3).await;
    let grown = peak_rss().saturating_sub(before);
    let sent = s3.bytes_sent();
    println!(
        "endless body: {sent} bytes sent before the server hung up, peak RSS grew {grown} bytes, media files {:?}, reason: {}",
        media_files(&env),
        error_of(&row)
    );
    assert_eq!(row["status"], "UPLOADING_FAILED");
    assert!(media_files(&env).is_empty(), "{:?}", media_files(&env));
    assert!(sent < 64 << 20, "{sent} bytes were sent");
    assert!(grown < 200 << 20, "peak RSS grew by {grown} bytes");
}

/// The GET answers `400` with a body that never ends: the server reads 64 KiB
/// of it, drops the rest, fails the row with a short reason, and its memory
/// does not grow with the body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_error_body_is_read_to_64_kib_only() {
    let s3 = HostileS3::start().await.unwrap();
    s3.put("x.mp4", Behaviour::EndlessErrorBody);
    let env = env_for(&s3, |_| {}).await;
    let before = peak_rss();
    let row = import_one(&env, &s3).await;
    let grown = peak_rss().saturating_sub(before);
    let sent = s3.bytes_sent();
    println!(
        "endless error body: {sent} bytes sent before the server hung up, peak RSS grew {grown} bytes"
    );
    assert_eq!(row["status"], "UPLOADING_FAILED");
    assert!(
        error_of(&row).len() < 1024,
        "the row's error holds the body: {} bytes",
        error_of(&row).len()
    );
    assert!(
        sent > 0,
        "the GET was never answered: the test proves nothing"
    );
    assert!(grown < 200 << 20, "peak RSS grew by {grown} bytes");
    // What the server read is bounded; the socket buffers hold a little more.
    assert!(sent < 64 << 20, "{sent} bytes were sent");
}

/// Every request answers `307` to a second listener: the import fails with a
/// message that says what to fix, and the other listener sees no request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_to_a_second_listener_is_not_followed() {
    let target = HostileS3::start().await.unwrap();
    target.put("stolen", Behaviour::Honest(b"gotcha".to_vec()));
    let s3 = HostileS3::start().await.unwrap();
    s3.put(
        "x.mp4",
        Behaviour::Redirect(format!("{}/hostile/stolen", target.endpoint())),
    );
    // Both listeners are allowed: only the redirect policy keeps the request away.
    let target_addr = target.addr().to_string();
    let env = env_for(&s3, move |c| c.allow_endpoints.push(target_addr)).await;
    let row = import_one(&env, &s3).await;
    assert_eq!(row["status"], "UPLOADING_FAILED");
    assert!(
        error_of(&row).contains("redirect (HTTP 307)") && error_of(&row).contains("endpoint_url"),
        "{row}"
    );
    assert!(target.requests().is_empty(), "{:?}", target.requests());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_body_fails() {
    let s3 = HostileS3::start().await.unwrap();
    let video = mp4(320, 240, 1_000);
    let sent = video.len() / 2;
    s3.put("x.mp4", Behaviour::ShortBody { bytes: video, sent });
    let env = env_for(&s3, |_| {}).await;
    let row = import_one(&env, &s3).await;
    assert_eq!(row["status"], "UPLOADING_FAILED");
    // object_store asks for the rest with a `Range` (this endpoint ignores
    // it: a source error) or, for a source that keeps cutting, gives up (a
    // short read: unavailable). Either way nothing is stored.
    let code = row["error_code"].as_str().unwrap_or_default();
    assert!(
        ["source_unavailable", "source_error"].contains(&code),
        "{row}"
    );
    assert!(media_files(&env).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_over_the_default_size_limit_is_never_read() {
    let s3 = HostileS3::start().await.unwrap();
    // 60 GiB declared, over the default 50 GiB.
    s3.put(
        "x.mp4",
        Behaviour::EndlessBody {
            declared: 60 << 30,
            start: Vec::new(),
        },
    );
    let env = env_for(&s3, |_| {}).await;
    let row = import_one(&env, &s3).await;
    assert_eq!(row["error_code"], "too_large", "{row}");
    assert!(error_of(&row).contains("64424509440 bytes"), "{row}");
    // One GET, whose body is dropped unread: the source sends what the
    // sockets' buffers take before the connection closes, nothing is written.
    let gets = s3
        .requests()
        .iter()
        .filter(|r| r.starts_with("GET"))
        .count();
    assert_eq!(gets, 1, "{:?}", s3.requests());
    let sent = s3.bytes_sent();
    println!("an object over the size limit: {sent} bytes sent before the server hung up");
    assert!(sent < 64 << 20, "{sent}");
    assert!(media_files(&env).is_empty());
}

/// Four objects dripped at 1 KiB/s fill every place of a server copying
/// four objects at once (`--max-in-flight 4`); a good object queued behind
/// them is still uploaded within 10 s, because a copy under the rate floor
/// (default 64 KiB/s) moves to the slow lane after 5 s and gives its place up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_drip_fed_objects_do_not_hold_a_good_one_back() {
    let s3 = HostileS3::start().await.unwrap();
    let video = mp4(320, 240, 1_000);
    for i in 0..4 {
        s3.put(
            &format!("drip{i}.mp4"),
            Behaviour::Drip {
                bytes: video.clone(),
                bytes_per_sec: 1024,
            },
        );
    }
    s3.put("good.mp4", Behaviour::Honest(video.clone()));
    let defaults = import_server::ServerConfig::new(std::path::Path::new("."));
    let env = env_for(&s3, |c| {
        c.max_in_flight = 4;
        c.min_source_rate = defaults.min_source_rate;
        c.source_rate_window = defaults.source_rate_window;
    })
    .await;
    let drips = import(
        &env,
        &s3,
        &["drip0.mp4", "drip1.mp4", "drip2.mp4", "drip3.mp4"],
    )
    .await;
    // Let the four places take the drips first.
    let deadline = Instant::now() + Duration::from_secs(10);
    while s3
        .requests()
        .iter()
        .filter(|r| r.starts_with("GET"))
        .count()
        < 4
    {
        assert!(Instant::now() < deadline, "the drips were not all claimed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let started = Instant::now();
    let good = import(&env, &s3, &["good.mp4"]).await;
    let done = env.wait_job(&good).await;
    let took = started.elapsed();
    println!("the good object behind four drips was uploaded in {took:?}");
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(env.rows(&good, 10).await[0]["status"], "UPLOADED");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    // The drips are still in flight (slow lane), not failed or done.
    let job = env.job(&drips).await;
    assert_eq!(job["status"], "importing", "{job}");
    let (status, _) = env
        .post(&format!("/api/import-jobs/{drips}/cancel"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
}

/// A Hub whose GET answers `400` with a body that never ends: the Hugging
/// Face reader reads at most 64 KiB of it too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_error_with_an_endless_body_is_read_to_64_kib_only() {
    let hub = HostileS3::start().await.unwrap();
    // The Hub's resolve route: /buckets/acme/b/resolve/x.mp4.
    hub.put("acme/b/resolve/x.mp4", Behaviour::EndlessErrorBody);
    let endpoint = hub.endpoint();
    let env = env_with(move |c| {
        c.hf_endpoint = endpoint;
        c.max_attempts = 1;
    })
    .await;
    let before = peak_rss();
    let job = env.upload_hf("acme/b", &["x.mp4"]).await;
    env.wait_job(&job).await;
    let row = env.rows(&job, 10).await.remove(0);
    let grown = peak_rss().saturating_sub(before);
    let sent = hub.bytes_sent();
    println!("endless Hub error body: {sent} bytes sent, peak RSS grew {grown} bytes");
    assert_eq!(row["status"], "UPLOADING_FAILED");
    assert!(error_of(&row).len() < 1024, "{row}");
    assert!(sent > 0 && sent < 64 << 20, "{sent} bytes were sent");
    assert!(grown < 200 << 20, "peak RSS grew by {grown} bytes");
}

/// Staging files (`videos/ID.mp4#N`) left by a process that died are swept,
/// on SQLite and PostgreSQL alike; the staging file of a copy in flight
/// (its row under a live lease) is left alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_staging_files_are_swept_and_live_ones_kept() {
    let s3 = HostileS3::start().await.unwrap();
    // 17 MiB at 8 KiB/s: in flight far longer than the test looks. Larger
    // than two 8 MiB parts, so it is a multipart upload with a staging file
    // (an object of up to 16 MiB is written with a single `put` at the end).
    let mut video = mp4(320, 240, 1_000);
    video.resize(17 * 1024 * 1024, 0);
    s3.put(
        "x.mp4",
        Behaviour::Drip {
            bytes: video,
            bytes_per_sec: 8 * 1024,
        },
    );
    let stale = [
        "vi_01M8X1TFPMC2QNM943A2QWBSWH.mp4#3".to_owned(),
        "leftover.mp4#1".to_owned(),
    ];
    let leftovers = stale.clone();
    let env = env_for(&s3, move |c| {
        let videos = c.data_dir.join("media/videos");
        std::fs::create_dir_all(&videos).unwrap();
        for name in &leftovers {
            std::fs::write(videos.join(name), b"half a video").unwrap();
        }
        c.staging_sweep = Duration::from_millis(100);
        c.min_source_rate = 0;
    })
    .await;
    let job = import(&env, &s3, &["x.mp4"]).await;
    let vid = env.rows(&job, 10).await[0]["video_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let live_prefix = format!("{vid}.1.mp4#");
    // The copy's own staging file appears, the stale ones go.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let files = media_files(&env);
        let live = files.iter().any(|f| f.starts_with(&live_prefix));
        let stale_left = files.iter().any(|f| stale.contains(f));
        if live && !stale_left {
            break;
        }
        assert!(Instant::now() < deadline, "files: {files:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Several sweeps later the live one is still there.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let files = media_files(&env);
    assert!(
        files.iter().any(|f| f.starts_with(&live_prefix)),
        "the staging file of a copy in flight was swept: {files:?}"
    );
    // Cancelled, the copy aborts its upload: nothing is left.
    let (status, _) = env
        .post(&format!("/api/import-jobs/{job}/cancel"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !media_files(&env).is_empty() {
        assert!(Instant::now() < deadline, "left: {:?}", media_files(&env));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A Hub that redirects a download to an address inside the network (an IP
/// literal, which never reaches the guarded resolver): the redirect is
/// refused and the target sees no request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_redirect_into_the_network_is_refused() {
    let target = HostileS3::start().await.unwrap();
    let hub = HostileS3::start().await.unwrap();
    hub.put(
        "acme/b/resolve/x.mp4",
        Behaviour::Redirect(format!("{}/internal/secret", target.endpoint())),
    );
    let endpoint = hub.endpoint();
    let env = env_with(move |c| {
        c.hf_endpoint = endpoint;
        c.max_attempts = 1;
    })
    .await;
    let job = env.upload_hf("acme/b", &["x.mp4"]).await;
    env.wait_job(&job).await;
    let row = env.rows(&job, 10).await.remove(0);
    assert_eq!(row["status"], "UPLOADING_FAILED");
    assert!(error_of(&row).contains("refused"), "{row}");
    assert!(target.requests().is_empty(), "{:?}", target.requests());
}

/// Bytes of a video that PostgreSQL cannot keep in `TEXT`: a box whose type
/// is four NUL bytes (named in the failure's reason), and a sample entry of
/// four NUL bytes (which `mp4parse` refuses). Each row is copied once and
/// ends, its reason stored with the bytes escaped, on SQLite and PostgreSQL
/// alike (the issue saw 42 GETs in 60 s and a row that never ended on
/// PostgreSQL). The store's own escaping of a codec is `store::outside_text`.
#[tokio::test]
async fn nul_bytes_in_a_video_are_stored_escaped_and_the_row_ends() {
    let env = env().await;
    let good = mp4(320, 240, 1_000);
    // `ftyp`, then a box of type 0000 that claims more bytes than follow.
    let ftyp_len = u32::from_be_bytes(good[..4].try_into().unwrap()) as usize;
    let mut nul_box = good[..ftyp_len].to_vec();
    nul_box.extend_from_slice(&4096u32.to_be_bytes());
    nul_box.extend_from_slice(&[0, 0, 0, 0]);
    nul_box.extend_from_slice(&[7; 64]);
    // A file whose sample entry is `\0\0\0\0` instead of `avc1`.
    let stsd = good.windows(4).position(|w| w == b"stsd").unwrap();
    let at = stsd + good[stsd..].windows(4).position(|w| w == b"avc1").unwrap();
    let mut nul_codec = good.clone();
    nul_codec[at..at + 4].copy_from_slice(&[0, 0, 0, 0]);
    env.s3.put(BUCKET, "nul-box.mp4", &nul_box).unwrap();
    env.s3.put(BUCKET, "nul-codec.mp4", &nul_codec).unwrap();
    let ci = env.s3_integration(SK, None).await;
    let job = env
        .upload_s3_keys(
            BUCKET,
            &["nul-box.mp4".to_owned(), "nul-codec.mp4".to_owned()],
            &ci,
        )
        .await;
    let done = env.wait_job(&job).await;
    assert_eq!(done["counts"]["failed"], 2, "{done}");
    assert_eq!(
        env.s3.operations("GetObject"),
        2,
        "each object is read once"
    );
    for row in env.rows(&job, 10).await {
        assert_eq!(row["error_code"], "invalid_video", "{row}");
        let reason = row["error"].as_str().unwrap();
        assert!(!reason.contains('\0'), "{reason}");
        if row["import_source_uri"]
            .as_str()
            .unwrap()
            .ends_with("nul-box.mp4")
        {
            assert!(reason.contains(r"the `\x00\x00\x00\x00` box"), "{reason}");
        }
    }
}
