//! Killing the server with SIGKILL in the middle of an import and starting it
//! again loses no row, imports no object twice, and finishes the job.

use std::time::Duration;

use crate::common::*;
use import_testkit::S3StandIn;
use import_testkit::mp4::{Mp4Spec, sample_mp4};
use serde_json::json;

/// A hostile bucket serving each of `keys` as an MP4 of `size` bytes dripped
/// at `bytes_per_sec`, to keep copies in flight.
async fn slow_source(
    keys: &[&str],
    size: usize,
    bytes_per_sec: u64,
) -> import_testkit::hostile::HostileS3 {
    use import_testkit::hostile::{Behaviour, HostileS3};
    let source = HostileS3::start().await.unwrap();
    let mut video = sample_mp4(&Mp4Spec::default());
    let len = video.len().max(size);
    video.resize(len, 0);
    for key in keys {
        source.put(
            key,
            Behaviour::Drip {
                bytes: video.clone(),
                bytes_per_sec,
            },
        );
    }
    source
}

/// The GETs `source` has answered so far.
fn gets(source: &import_testkit::hostile::HostileS3) -> usize {
    source
        .requests()
        .iter()
        .filter(|r| r.starts_with("GET"))
        .count()
}

/// Save an integration for the hostile bucket and import `keys` from it;
/// the job id.
async fn import_from(
    api: &ApiClient,
    source: &import_testkit::hostile::HostileS3,
    keys: &[&str],
) -> String {
    let (status, ci) = api
        .post(
            "/api/cloud-integrations/s3",
            json!({"name": "slow", "type": "s3", "bucket": "slow",
                   "access_key_id": "AKID", "secret_access_key": "secret",
                   "endpoint_url": source.endpoint()}),
        )
        .await;
    assert!(status.is_success(), "{ci}");
    let ci = ci["id"].as_str().unwrap().to_owned();
    let keys: Vec<String> = keys.iter().map(|k| (*k).to_owned()).collect();
    api.upload_s3_keys("slow", &keys, &ci).await
}

/// Wait until `source` has answered `n` GETs.
async fn wait_for_gets(source: &import_testkit::hostile::HostileS3, n: usize, within: Duration) {
    let deadline = std::time::Instant::now() + within;
    while gets(source) < n {
        assert!(
            std::time::Instant::now() < deadline,
            "{n} GETs were not seen: {:?}",
            source.requests()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_import_loses_and_duplicates_nothing() {
    let s3 = S3StandIn::start("AKIDCRASH", "crash-secret").await.unwrap();
    s3.create_bucket("crash-test").unwrap();
    const N: usize = 48;
    let mut sizes = std::collections::BTreeMap::new();
    for i in 0..N {
        let bytes = sample_mp4(&Mp4Spec {
            mdat_bytes: 3 * 1024 * 1024 + i,
            duration_ms: 1000 + i as u32,
            ..Mp4Spec::default()
        });
        let key = format!("run/{i:03}.mp4");
        sizes.insert(format!("s3://crash-test/{key}"), bytes.len());
        s3.put("crash-test", &key, &bytes).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let allow = s3.addr().to_string();
    let serve_args = [
        "--max-in-flight",
        "2",
        "--lease-secs",
        "3",
        "--allow-endpoint",
        &allow,
        "--data-dir",
        data,
    ];
    let key = keys_create(&["--data-dir", data], &[]);
    let (child, base) = serve(&serve_args, &[]);
    let api = ApiClient::new(base, &key);
    let ci = api
        .s3_integration(&s3_integration_body(&s3, "crash-test"))
        .await;
    let keys: Vec<String> = (0..N).map(|i| format!("run/{i:03}.mp4")).collect();
    let job = api.upload_s3_keys("crash-test", &keys, &ci).await;

    // Kill it once some rows are done and others are being copied.
    let seen = api
        .poll_job(
            &job,
            Duration::from_millis(20),
            Duration::from_secs(120),
            |j| j["counts"]["uploaded"].as_u64().unwrap_or(0) >= 4 || is_terminal(j),
        )
        .await;
    assert_eq!(
        seen["terminal"],
        json!(false),
        "the import finished before the kill; make the objects bigger"
    );
    kill(child);

    let (child, base) = serve(&serve_args, &[]);
    let api = ApiClient::new(base, &key);
    let rows = api.all_uploaded_once(&job, N).await;
    for row in &rows {
        let vid = row["video_id"].as_str().unwrap().parse().unwrap();
        let st = api.ok(&import_core::api::get_video_status(&vid)).await;
        let uri = row["import_source_uri"].as_str().unwrap();
        assert_eq!(
            st["metadata"]["size_bytes"].as_u64().unwrap() as usize,
            sizes[uri],
            "{uri}"
        );
    }
    // No staging files either: the restart swept them.
    let all: Vec<_> = std::fs::read_dir(dir.path().join("media/videos"))
        .unwrap()
        .collect();
    assert_eq!(
        all.len(),
        N,
        "exactly one stored file per video, no leftovers"
    );
    assert_eq!(stored_videos(&dir.path().join("media")).len(), N);
    kill(child);
}

/// SIGTERM stops `vimport serve` gracefully: it answers probes until then,
/// exits with status 0 within seconds, and a restart on the same data serves
/// again.
#[test]
fn sigterm_stops_the_server_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let (mut child, base) = serve(&["--data-dir", data], &[]);
    let probe = |base: &str| {
        let addr: std::net::SocketAddr = base.trim_start_matches("http://").parse().unwrap();
        import_testkit::raw::request(addr, "GET", "/healthz", &[], b"")
            .is_ok_and(|r| r.status == 200)
    };
    assert!(probe(&base), "the server answers /healthz");
    let pid = child.id().to_string();
    // The shell's own `kill`: no procps needed.
    let sent = std::process::Command::new("sh")
        .args(["-c", &format!("kill -TERM {pid}")])
        .status()
        .unwrap();
    assert!(sent.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "vimport serve did not stop within 20 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "vimport serve exited with {status}");
    let (child, base) = serve(&["--data-dir", data], &[]);
    assert!(probe(&base), "a restart on the same data serves");
    kill(child);
}

/// A second `vimport serve` on the same SQLite data folder leaves the first
/// one's copies alone while the first lives, and takes them over within
/// seconds when it dies (its lock file is free at once; no lease to wait for).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_process_on_one_sqlite_folder_is_safe_and_takes_over_at_once() {
    let source = slow_source(&["slow0.mp4", "slow1.mp4"], 1 << 20, 2048).await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let allow = source.addr().to_string();
    let args = [
        "--max-in-flight",
        "2",
        "--min-source-rate",
        "0",
        "--allow-endpoint",
        &allow,
        "--data-dir",
        data,
    ];
    let key = keys_create(&["--data-dir", data], &[]);
    let (first, base) = serve(&args, &[]);
    let api = ApiClient::new(base, &key);
    let job = import_from(&api, &source, &["slow0.mp4", "slow1.mp4"]).await;
    wait_for_gets(&source, 2, Duration::from_secs(20)).await;
    // A second process on the same folder: the first one's rows stay its own.
    let (second, base) = serve(&args, &[]);
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        gets(&source),
        2,
        "the second process took rows of a live one: {:?}",
        source.requests()
    );
    // The first dies: the second takes its rows over at once.
    kill(first);
    let died = std::time::Instant::now();
    wait_for_gets(&source, 4, Duration::from_secs(10)).await;
    println!(
        "a dead process's copies resumed {:.1} s after the kill",
        died.elapsed().as_secs_f64()
    );
    let api = ApiClient::new(base, &key);
    let job = api.job(&job).await;
    assert_eq!(job["counts"]["pending"], 2, "{job}");
    kill(second);
}

/// SIGTERM while copies are in flight: the server gives them its stop grace
/// (5 s), hands their rows back and exits 0; a restart copies them at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_hands_back_the_copies_in_flight() {
    let source = slow_source(&["slow.mp4"], 1 << 20, 4096).await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let allow = source.addr().to_string();
    let args = [
        "--min-source-rate",
        "0",
        "--allow-endpoint",
        &allow,
        "--data-dir",
        data,
    ];
    let key = keys_create(&["--data-dir", data], &[]);
    let (mut child, base) = serve(&args, &[]);
    let api = ApiClient::new(base, &key);
    let job = import_from(&api, &source, &["slow.mp4"]).await;
    wait_for_gets(&source, 1, Duration::from_secs(20)).await;
    let stopped = std::time::Instant::now();
    let sent = std::process::Command::new("sh")
        .args(["-c", &format!("kill -TERM {}", child.id())])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            stopped.elapsed() < Duration::from_secs(20),
            "vimport serve did not stop within 20 s of SIGTERM with a copy in flight"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "vimport serve exited with {status}");
    println!(
        "stopped {:.1} s after SIGTERM with a copy in flight",
        stopped.elapsed().as_secs_f64()
    );
    let (child, base) = serve(&args, &[]);
    wait_for_gets(&source, 2, Duration::from_secs(5)).await;
    let api = ApiClient::new(base, &key);
    assert_eq!(api.job(&job).await["counts"]["failed"], 0);
    kill(child);
}

/// A process killed while it copies into a media bucket leaves a multipart
/// upload behind; the process that takes the row over aborts it (its id is
/// kept with the row), so the bucket keeps nothing of it. The object is
/// larger than 16 MiB: a smaller one is written with a single `put` once
/// checked, and leaves no upload behind to abort.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_media_upload_of_a_killed_copy_is_aborted_by_the_next_owner() {
    let source = slow_source(&["slow.mp4"], 17 * 1024 * 1024, 4 * 1024 * 1024).await;
    let media = S3StandIn::start("AKIDMEDIA", "media-secret").await.unwrap();
    media.create_bucket("media").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let allow = source.addr().to_string();
    let endpoint = format!("aws_endpoint={}", media.endpoint());
    let args = [
        "--max-in-flight",
        "1",
        "--min-source-rate",
        "0",
        "--allow-endpoint",
        &allow,
        "--data-dir",
        data,
        "--media-url",
        "s3://media/v",
        "--media-option",
        &endpoint,
        "--media-option",
        "aws_access_key_id=AKIDMEDIA",
        "--media-option",
        "aws_secret_access_key=media-secret",
        "--media-option",
        "aws_region=us-east-1",
        "--media-option",
        "aws_allow_http=true",
    ];
    let key = keys_create(&["--data-dir", data], &[]);
    let (first, base) = serve(&args, &[]);
    let api = ApiClient::new(base, &key);
    let job = import_from(&api, &source, &["slow.mp4"]).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while media.pending_multipart_uploads() < 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "the copy never started its upload"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The copy records the upload's id with its row right after creating it
    // (one database write); a kill inside that instant leaves the upload to
    // the bucket's lifecycle rule (docs/operations.md). Kill once the row
    // holds it (read from the server's own SQLite file): the drip keeps the
    // copy in flight for seconds.
    let db = format!("sqlite://{data}/vimport.db?mode=ro");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&db)
            .await
            .unwrap();
        let recorded: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM videos WHERE upload_id IS NOT NULL")
                .fetch_one(&mut conn)
                .await
                .unwrap();
        if recorded > 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the copy never recorded its upload with its row"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    kill(first);
    let (second, base) = serve(&args, &[]);
    let api = ApiClient::new(base, &key);
    let done = api
        .poll_job(
            &job,
            Duration::from_millis(100),
            Duration::from_secs(60),
            is_terminal,
        )
        .await;
    assert_eq!(done["counts"]["uploaded"], 1, "{done}");
    assert_eq!(
        media.pending_multipart_uploads(),
        0,
        "the killed copy's upload was left in the media bucket"
    );
    kill(second);
}
