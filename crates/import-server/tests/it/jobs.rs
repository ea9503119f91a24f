//! Steering imports: failure codes on failed rows, a job's failure summary,
//! the caller's list of jobs, and cancelling a job, against a real server on
//! SQLite (or PostgreSQL with `VIMPORT_TEST_STORE=postgres`) and s3s-fs.

use crate::common::*;
use import_core::api;
use import_core::{FailureCode, JobListRequest, JobStatus};
use import_testkit::api::ApiClient;
use import_testkit::mp4::{Mp4Spec, jpeg_bytes, sample_mp4};
use import_testkit::{HfOptions, HfStandIn};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn uri(key: &str) -> String {
    format!("s3://{BUCKET}/{key}")
}

fn summary_of(job: &Value) -> Vec<(String, u64, Vec<String>)> {
    job["failure_summary"]
        .as_array()
        .unwrap_or_else(|| panic!("no failure_summary: {job}"))
        .iter()
        .map(|line| {
            (
                line["code"].as_str().unwrap().to_owned(),
                line["count"].as_u64().unwrap(),
                // In the order their rows finished, which two workers may swap.
                {
                    let mut examples: Vec<String> = line["examples"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|e| e.as_str().unwrap().to_owned())
                        .collect();
                    examples.sort();
                    examples
                },
            )
        })
        .collect()
}

/// A client of another organisation on the same server.
async fn other_org(env: &Env) -> ApiClient {
    let key = env
        .server
        .create_api_key("user_eve", "org_evil", None)
        .await
        .unwrap();
    ApiClient::new(env.server.base_url(), key)
}

#[tokio::test]
async fn failed_rows_carry_codes_and_the_job_sums_them_up() {
    let env = env().await;
    env.s3
        .put(BUCKET, "cam/good.mp4", &mp4(320, 240, 1_000))
        .unwrap();
    env.s3
        .put(BUCKET, "cam/photo-1.mp4", &jpeg_bytes())
        .unwrap();
    env.s3
        .put(BUCKET, "cam/photo-2.mp4", &jpeg_bytes())
        .unwrap();
    env.s3.put(BUCKET, "cam/empty.mp4", &[]).unwrap();
    let ci = env.s3_integration(SK, Some("cam/")).await;
    let keys: Vec<String> = [
        "cam/good.mp4",
        "cam/photo-1.mp4",
        "cam/photo-2.mp4",
        "cam/empty.mp4",
        "cam/missing.mp4",
        "other/outside.mp4",
    ]
    .map(str::to_owned)
    .to_vec();
    let job = env.upload_s3_keys(BUCKET, &keys, &ci).await;
    let done = env.wait_job(&job).await;
    assert_eq!(
        done["counts"],
        json!({"uploaded": 1, "failed": 5, "pending": 0})
    );
    // Most frequent first, then by code; examples are the source URIs.
    assert_eq!(
        summary_of(&done),
        vec![
            (
                "not_mp4".to_owned(),
                2,
                vec![uri("cam/photo-1.mp4"), uri("cam/photo-2.mp4")]
            ),
            ("empty".to_owned(), 1, vec![uri("cam/empty.mp4")]),
            ("not_found".to_owned(), 1, vec![uri("cam/missing.mp4")]),
            (
                "outside_prefix".to_owned(),
                1,
                vec![uri("other/outside.mp4")]
            ),
        ]
    );
    let rows = env.rows(&job, 100).await;
    for row in &rows {
        let source = row["import_source_uri"].as_str().unwrap();
        if source == uri("cam/good.mp4") {
            assert_eq!(row["status"], "UPLOADED");
            assert!(row.get("error_code").is_none(), "{row}");
        } else {
            assert_eq!(row["status"], "UPLOADING_FAILED");
            let code = FailureCode::from_wire(row["error_code"].as_str().unwrap());
            assert!(FailureCode::KNOWN.contains(&code), "{row}");
        }
    }
    let photo = rows
        .iter()
        .find(|r| r["import_source_uri"] == uri("cam/photo-1.mp4"))
        .unwrap();
    let (_, status) = env
        .get(&format!(
            "/api/video/{}/status",
            photo["video_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(status["error_code"], "not_mp4", "{status}");

    // The missing object appears; a retry leaves only what still fails.
    env.s3
        .put(BUCKET, "cam/missing.mp4", &mp4(320, 240, 1_000))
        .unwrap();
    let (status, _) = env
        .post(
            &format!("/api/import-jobs/{job}/retry"),
            json!({"video_ids": null}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let done = env.wait_job(&job).await;
    let codes: Vec<(String, u64)> = summary_of(&done)
        .into_iter()
        .map(|(code, n, _)| (code, n))
        .collect();
    assert_eq!(
        codes,
        vec![
            ("not_mp4".to_owned(), 2),
            ("empty".to_owned(), 1),
            ("outside_prefix".to_owned(), 1)
        ]
    );
}

#[tokio::test]
async fn the_job_list_is_newest_first_filtered_paged_and_private() {
    let env = env().await;
    env.s3
        .put(BUCKET, "a/good.mp4", &mp4(320, 240, 1_000))
        .unwrap();
    let ci = env.s3_integration(SK, None).await;
    let good = vec!["a/good.mp4".to_owned()];
    let bad = vec!["a/missing.mp4".to_owned()];
    let mut ids = Vec::new();
    for keys in [&good, &bad, &good] {
        let job = env.upload_s3_keys(BUCKET, keys, &ci).await;
        env.wait_job(&job).await;
        ids.push(job);
    }
    let (status, list) = env
        .send(&api::list_import_jobs(&JobListRequest::new()))
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let listed: Vec<&str> = list["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["job_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        listed,
        vec![ids[2].as_str(), ids[1].as_str(), ids[0].as_str()]
    );
    assert_eq!(list["has_more"], false);
    // Each job as GET /api/import-jobs/{id} shows it.
    assert_eq!(list["jobs"][1], env.job(&ids[1]).await);

    // Pages of one, by cursor.
    let mut seen = Vec::new();
    let mut query = JobListRequest::new().with_limit(1).unwrap();
    loop {
        let (_, page) = env.send(&api::list_import_jobs(&query)).await;
        seen.push(page["jobs"][0]["job_id"].as_str().unwrap().to_owned());
        if page["has_more"] == false {
            break;
        }
        query = query.with_cursor(page["next_cursor"].as_str().unwrap().parse().unwrap());
        assert!(seen.len() <= 3, "paging does not end: {seen:?}");
    }
    assert_eq!(seen, vec![ids[2].clone(), ids[1].clone(), ids[0].clone()]);

    // Filters.
    let failed = JobListRequest::new()
        .with_status(JobStatus::Failed)
        .unwrap();
    let (_, page) = env.send(&api::list_import_jobs(&failed)).await;
    assert_eq!(page["jobs"].as_array().unwrap().len(), 1);
    assert_eq!(page["jobs"][0]["job_id"], ids[1].as_str());
    let future = JobListRequest::new().with_created_after_ms(i64::from(i32::MAX) * 1000);
    let (_, page) = env.send(&api::list_import_jobs(&future)).await;
    assert_eq!(page["jobs"], json!([]));
    for bad in [
        "limit=0",
        "limit=501",
        "limit=x",
        "status=sleeping",
        "created_after=yesterday",
        "cursor=not%20an%20id",
    ] {
        let (status, body) = env.get(&format!("/api/import-jobs?{bad}")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
        assert!(
            body["detail"].is_string() || body["detail"].is_array(),
            "{body}"
        );
    }

    // Another organisation sees none of them.
    let eve = other_org(&env).await;
    let (status, page) = eve
        .send(&api::list_import_jobs(&JobListRequest::new()))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["jobs"], json!([]));
}

#[tokio::test]
async fn a_cancelled_job_fails_its_pending_rows_and_can_be_retried() {
    // No workers: every row stays pending until the cancel.
    let env = env_with(|c| c.max_in_flight = 0).await;
    let ci = env.s3_integration(SK, None).await;
    let keys: Vec<String> = (0..4).map(|i| format!("c/{i}.mp4")).collect();
    let job = env.upload_s3_keys(BUCKET, &keys, &ci).await;
    let id = job.parse().unwrap();

    let eve = other_org(&env).await;
    let (status, _) = eve.send(&api::cancel_import_job(&id)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, cancelled) = env.send(&api::cancel_import_job(&id)).await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["terminal"], true);
    assert_eq!(
        cancelled["counts"],
        json!({"uploaded": 0, "failed": 4, "pending": 0})
    );
    assert_eq!(summary_of(&cancelled)[0].0, "cancelled");
    assert_eq!(summary_of(&cancelled)[0].1, 4);
    for row in env.rows(&job, 10).await {
        assert_eq!(row["status"], "UPLOADING_FAILED");
        assert_eq!(row["error_code"], "cancelled");
        assert!(row["error"].as_str().unwrap().contains("cancelled"));
    }
    // Again: the same answer.
    let (status, again) = env.send(&api::cancel_import_job(&id)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["status"], "cancelled");
    assert_eq!(again["counts"], cancelled["counts"]);
    let cancelled_only = JobListRequest::new()
        .with_status(JobStatus::Cancelled)
        .unwrap();
    let (_, page) = env.send(&api::list_import_jobs(&cancelled_only)).await;
    assert_eq!(page["jobs"][0]["job_id"], job.as_str());

    // A retry imports the cancelled rows after all: the job runs again.
    let (status, retried) = env
        .post(
            &format!("/api/import-jobs/{job}/retry"),
            json!({"video_ids": null}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(retried["retried"], 4);
    let running = env.job(&job).await;
    assert_eq!(running["status"], "importing");
    assert_eq!(running["failure_summary"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_stops_a_copy_in_flight_within_seconds() {
    // A slow public bucket: 8 MiB sent 64 KiB every 50 ms, a copy of ~6.4 s.
    let hf = HfStandIn::start_with(HfOptions {
        chunk_delay: Some(std::time::Duration::from_millis(50)),
        ..HfOptions::default()
    })
    .await
    .unwrap();
    hf.add_bucket("acme", "slow", None).unwrap();
    let video = sample_mp4(&Mp4Spec {
        mdat_bytes: 8 << 20,
        ..Mp4Spec::default()
    });
    hf.put("acme", "slow", "big.mp4", &video).unwrap();
    let env = hf_env(&hf, |_| {}).await;
    let job = env.upload_hf("acme/slow", &["big.mp4"]).await;
    // Wait (bounded) until the copy is under way.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while hf.bytes_served() < 256 * 1024 {
        assert!(
            std::time::Instant::now() < deadline,
            "the copy never started"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (status, cancelled) = env
        .send(&api::cancel_import_job(&job.parse().unwrap()))
        .await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled");
    // Within the 2 s lease renewal (and a chunk or two in the pipes), the
    // copy stops: the source sends nothing more.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let stopped_at = hf.bytes_served();
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    assert_eq!(
        hf.bytes_served(),
        stopped_at,
        "the copy goes on after the cancel"
    );
    assert!(stopped_at < video.len() as u64, "the copy ran to its end");
    // Nothing stored, nothing staged; the row stays cancelled.
    let videos = env.dir.path().join("media/videos");
    let left: Vec<_> = std::fs::read_dir(&videos)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
    let rows = env.rows(&job, 10).await;
    assert_eq!(rows[0]["error_code"], "cancelled");
}
