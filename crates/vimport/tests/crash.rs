//! Killing the server with SIGKILL in the middle of an import and starting it
//! again loses no row, imports no object twice, and finishes the job.

mod common;

use std::time::Duration;

use common::*;
use import_testkit::S3StandIn;
use import_testkit::mp4::{Mp4Spec, sample_mp4};
use serde_json::json;

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
        "--workers",
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
