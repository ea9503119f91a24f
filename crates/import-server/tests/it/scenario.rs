//! The documented import flow, 20 times in a row on one server (on
//! PostgreSQL in the second pass of `cargo xtask test`): a job of good, empty,
//! not-MP4, missing and outside-the-prefix objects, then multi-view sets with
//! a missing view, then a retry of the failed rows. Every run must end with
//! no row stuck and the server must log no warning or error: a failed store
//! write (as PostgreSQL's "incorrect binary data format in bind parameter 6"
//! was, depending on the order in which rows finished on a pooled
//! connection), a lost lease or an expired one would all show up there.
//!
//! Its own test binary: the log is captured by a global subscriber.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::*;
use import_testkit::mp4::jpeg_bytes;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Runs of the scenario.
const RUNS: usize = 20;

/// The server's log at WARN and above, as text.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn status_of<'a>(rows: &'a [Value], uri: &str) -> (&'a str, &'a str) {
    let row = rows
        .iter()
        .find(|r| r["import_source_uri"] == uri)
        .unwrap_or_else(|| panic!("no row for {uri}: {rows:?}"));
    (
        row["status"].as_str().unwrap(),
        row["error"].as_str().unwrap_or(""),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_import_scenario_twenty_times_with_no_row_stuck_and_no_warning() {
    let log = Captured::default();
    let writer = log.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let env = env_with(|c| {
        c.max_in_flight = 4;
        // Short enough that a row left to its lease would show (as a
        // warning from the reaper) within the scenario.
        c.lease = Duration::from_secs(5);
    })
    .await;
    let u = |k: &str| format!("s3://{BUCKET}/{k}");
    env.s3
        .put(BUCKET, "trips/good.mp4", &mp4(640, 480, 3_000))
        .unwrap();
    env.s3.put(BUCKET, "trips/empty.mp4", &[]).unwrap();
    env.s3
        .put(BUCKET, "trips/photo.mp4", &jpeg_bytes())
        .unwrap();
    env.s3
        .put(BUCKET, "other/outside.mp4", &mp4(320, 240, 1_000))
        .unwrap();
    for k in ["sets/1/front.mp4", "sets/1/left.mp4", "sets/2/front.mp4"] {
        env.s3.put(BUCKET, k, &mp4(320, 240, 1_000)).unwrap();
    }
    let narrow = env.s3_integration(SK, Some("trips/")).await;
    let whole = env.s3_integration(SK, None).await;

    for run in 0..RUNS {
        // Objects of every kind, one job.
        let missing = format!("trips/missing-{run}.mp4");
        let (status, up) = env
            .post(
                "/api/s3/upload",
                json!({
                    "keys": ["trips/good.mp4", "trips/empty.mp4", "trips/photo.mp4", missing, "other/outside.mp4"],
                    "bucket": BUCKET,
                    "integration_id": narrow,
                }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "run {run}: {up}");
        let job = up["import_job_id"].as_str().unwrap().to_owned();
        let done = env.wait_job(&job).await;
        assert_eq!(
            done["counts"],
            json!({"uploaded": 1, "failed": 4, "pending": 0}),
            "run {run}: {done}"
        );
        let rows = env.rows(&job, 100).await;
        assert_eq!(status_of(&rows, &u("trips/good.mp4")).0, "UPLOADED");
        for (key, reason) in [
            ("trips/empty.mp4", "empty"),
            ("trips/photo.mp4", "mp4"),
            (missing.as_str(), "not found"),
            ("other/outside.mp4", "outside the integration's prefix"),
        ] {
            let (status, error) = status_of(&rows, &u(key));
            assert_eq!(status, "UPLOADING_FAILED", "run {run}: {key}");
            assert!(
                error.to_lowercase().contains(reason),
                "run {run}: {key}: {error}"
            );
        }

        // Multi-view sets, one with a missing view.
        let (status, up) = env
            .post(
                "/api/s3/upload",
                json!({
                    "sets": [
                        {"views": {"front": u("sets/1/front.mp4"), "left": u("sets/1/left.mp4")}},
                        {"views": {"front": u("sets/2/front.mp4"), "rear": u(&format!("sets/2/rear-{run}.mp4"))}},
                    ],
                    "bucket": BUCKET,
                    "integration_id": whole,
                }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "run {run}: {up}");
        let sets = up["import_job_id"].as_str().unwrap().to_owned();
        let done = env.wait_job(&sets).await;
        assert_eq!(done["counts"]["pending"], 0, "run {run}: {done}");
        let rows = env.rows(&sets, 10).await;
        assert_eq!(rows.len(), 2, "run {run}");
        assert!(
            rows.iter().all(|r| r["status"] == "UPLOADED"),
            "run {run}: {rows:?}"
        );
        assert_eq!(rows[1]["failed_views"][0]["role"], "rear", "run {run}");

        // A retry: the missing object now exists and uploads; the others fail again.
        env.s3.put(BUCKET, &missing, &mp4(320, 240, 1_000)).unwrap();
        let (status, retried) = env
            .post(
                &format!("/api/import-jobs/{job}/retry"),
                json!({"video_ids": null}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "run {run}: {retried}");
        assert_eq!(retried["retried"], 4, "run {run}");
        let done = env.wait_job(&job).await;
        assert_eq!(
            done["counts"],
            json!({"uploaded": 2, "failed": 3, "pending": 0}),
            "run {run}: {done}"
        );
    }
    env.server.shutdown().await;

    let text = String::from_utf8_lossy(&log.0.lock().unwrap()).into_owned();
    assert!(
        text.trim().is_empty(),
        "the server logged warnings or errors during {RUNS} runs:\n{text}"
    );
}
