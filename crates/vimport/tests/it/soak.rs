//! The SIGKILL soak: `vimport serve` is killed again and again under load,
//! each time while a batch submitted with an `Idempotency-Key` is being
//! served or copied, restarted on the same data, and the batch's request is
//! replayed as a client that lost its answer would. Nothing may be lost,
//! doubled or left behind, and the last kill's copies must be done quickly.
//!
//! SQLite by default; `cargo xtask test` runs it again with
//! `VIMPORT_TEST_STORE=postgres` on a fresh PostgreSQL database. Kills:
//! `VIMPORT_SOAK_KILLS` (default 10, at most 200).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::common::*;
use import_testkit::S3StandIn;
use import_testkit::mp4::{Mp4Spec, sample_mp4};
use reqwest::StatusCode;
use serde_json::{Value, json};

const BUCKET: &str = "soak";
/// Objects per batch (the last batch has three more: a 24 MiB video, a JPEG
/// named `.mp4` and a missing object; the big one last, so that the kills
/// before do not spend its attempts: each kill during a copy is an attempt).
const PER_BATCH: usize = 40;

fn sha256_hex(bytes: &[u8]) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What each source URI must end as: `Ok(sha256)` uploaded, `Err(code)` failed.
type Expected = BTreeMap<String, Result<String, &'static str>>;

fn batch(s3: &S3StandIn, i: usize, last: bool, expected: &mut Expected) -> Vec<String> {
    let mut keys = Vec::new();
    for j in 0..PER_BATCH {
        let bytes = sample_mp4(&Mp4Spec {
            mdat_bytes: 256 * 1024 + i * 100 + j,
            ..Mp4Spec::default()
        });
        let key = format!("b{i:03}/{j:03}.mp4");
        s3.put(BUCKET, &key, &bytes).unwrap();
        expected.insert(format!("s3://{BUCKET}/{key}"), Ok(sha256_hex(&bytes)));
        keys.push(key);
    }
    if last {
        let big = sample_mp4(&Mp4Spec {
            mdat_bytes: 24 << 20,
            ..Mp4Spec::default()
        });
        s3.put(BUCKET, "extra/big.mp4", &big).unwrap();
        expected.insert(format!("s3://{BUCKET}/extra/big.mp4"), Ok(sha256_hex(&big)));
        s3.put(BUCKET, "extra/photo.mp4", &import_testkit::jpeg_bytes())
            .unwrap();
        expected.insert(format!("s3://{BUCKET}/extra/photo.mp4"), Err("not_mp4"));
        expected.insert(format!("s3://{BUCKET}/extra/missing.mp4"), Err("not_found"));
        keys.extend(["extra/big.mp4", "extra/photo.mp4", "extra/missing.mp4"].map(String::from));
    }
    keys
}

/// `POST /api/s3/upload` with an `Idempotency-Key`; the status and the job
/// id, or `None` when the connection broke.
async fn submit(
    base: &str,
    api_key: &str,
    body: &Value,
    idem: &str,
) -> Option<(StatusCode, Value)> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let res = http
        .post(format!("{base}{}", import_core::routes::UPLOAD_S3.template))
        .header(import_core::api::API_KEY_HEADER, api_key)
        .header(import_core::api::IDEMPOTENCY_KEY_HEADER, idem)
        .json(body)
        .send()
        .await
        .ok()?;
    let status = res.status();
    let body = res.json::<Value>().await.ok()?;
    Some((status, body))
}

/// Replay until answered `200` (a `409` says when to come back); the job id.
async fn replay(base: &str, api_key: &str, body: &Value, idem: &str) -> (String, usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut conflicts = 0;
    loop {
        match submit(base, api_key, body, idem).await {
            Some((StatusCode::OK, answer)) => {
                return (
                    answer["import_job_id"].as_str().unwrap().to_owned(),
                    conflicts,
                );
            }
            Some((StatusCode::CONFLICT, answer)) => {
                conflicts += 1;
                assert!(
                    answer["detail"]
                        .as_str()
                        .unwrap_or_default()
                        .contains("still being served")
                        || answer["detail"]
                            .as_str()
                            .unwrap_or_default()
                            .contains("being served"),
                    "{answer}"
                );
            }
            other => panic!("the replay of {idem} answered {other:?}"),
        }
        assert!(
            Instant::now() < deadline,
            "the replay of {idem} was never answered"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_soak_loses_nothing_doubles_nothing_and_stalls_nothing() {
    let kills: usize = std::env::var("VIMPORT_SOAK_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10)
        .clamp(1, 200);
    let postgres = std::env::var("VIMPORT_TEST_STORE").as_deref() == Ok("postgres");
    let store = if postgres { "PostgreSQL" } else { "SQLite" };
    let s3 = S3StandIn::start("AKIDSOAK", "soak-secret").await.unwrap();
    s3.create_bucket(BUCKET).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let database_url = postgres.then(|| {
        import_testkit::postgres::fresh_database_blocking(&import_testkit::postgres::unique_name(
            "vimport_soak_",
        ))
    });
    let mut db_args: Vec<&str> = vec!["--data-dir", data];
    if let Some(url) = &database_url {
        db_args.extend(["--database-url", url.as_str()]);
    }
    let allow = s3.addr().to_string();
    let mut serve_args = vec!["--max-in-flight", "4", "--allow-endpoint", &allow];
    serve_args.extend(&db_args);
    let api_key = keys_create(&db_args, &[]);
    let (mut child, mut base) = serve(&serve_args, &[]);
    let ci = ApiClient::new(base.clone(), &api_key)
        .s3_integration(&s3_integration_body(&s3, BUCKET))
        .await;

    let mut expected = Expected::new();
    let mut jobs: Vec<String> = Vec::new();
    let (mut answered_first, mut conflicts) = (0, 0);
    let mut last_restart = Instant::now();
    for i in 0..kills {
        let keys = batch(&s3, i, i + 1 == kills, &mut expected);
        let body = json!({"keys": keys, "bucket": BUCKET, "integration_id": ci});
        let idem = format!("soak-batch-{i}");
        let first = if i % 2 == 0 {
            // Killed while the request is being served: a few ms after it left.
            let request = tokio::spawn({
                let (base, api_key, body, idem) =
                    (base.clone(), api_key.clone(), body.clone(), idem.clone());
                async move { submit(&base, &api_key, &body, &idem).await }
            });
            tokio::time::sleep(Duration::from_millis((i as u64 * 7) % 25)).await;
            kill(child);
            request.await.unwrap()
        } else {
            // Killed while the batch is being copied.
            let first = submit(&base, &api_key, &body, &idem).await;
            let job = first
                .as_ref()
                .map(|(_, b)| b["import_job_id"].as_str().unwrap().to_owned());
            if let Some(job) = &job {
                let api = ApiClient::new(base.clone(), &api_key);
                api.poll_job(
                    job,
                    Duration::from_millis(10),
                    Duration::from_secs(60),
                    |j| j["counts"]["uploaded"].as_u64().unwrap_or(0) >= 3 || is_terminal(j),
                )
                .await;
            }
            kill(child);
            first
        };
        (child, base) = serve(&serve_args, &[]);
        last_restart = Instant::now();
        let (job, waited) = replay(&base, &api_key, &body, &idem).await;
        conflicts += waited;
        if let Some((status, answer)) = first {
            assert_eq!(status, StatusCode::OK, "{answer}");
            assert_eq!(
                answer["import_job_id"],
                job.as_str(),
                "the replay made a second job"
            );
            answered_first += 1;
        }
        jobs.push(job);
    }

    // Every job ends; the last kill's copies are redone at once.
    let api = ApiClient::new(base.clone(), &api_key);
    for job in &jobs {
        api.poll_job(
            job,
            Duration::from_millis(50),
            Duration::from_secs(180),
            is_terminal,
        )
        .await;
    }
    let recovery = last_restart.elapsed();

    // One job per batch, whatever the kills.
    let (status, list) = api
        .get(&format!(
            "{}?limit=500",
            import_core::routes::LIST_IMPORT_JOBS.template
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["jobs"].as_array().unwrap().len(), kills, "{list}");

    // Every row once, with the right outcome; every stored video once and
    // byte for byte its source; nothing else in the media folder.
    let mut seen: BTreeMap<String, Value> = BTreeMap::new();
    for job in &jobs {
        for row in api.rows(job, 1000).await {
            let uri = row["import_source_uri"].as_str().unwrap().to_owned();
            assert!(
                seen.insert(uri.clone(), row).is_none(),
                "{uri} has two rows"
            );
        }
    }
    assert_eq!(seen.len(), expected.len());
    let media = data.to_owned() + "/media/videos";
    let mut stored = 0;
    for (uri, want) in &expected {
        let row = &seen[uri];
        match want {
            Ok(sha) => {
                assert_eq!(row["status"], "UPLOADED", "{uri}: {row}");
                let vid = row["video_id"].as_str().unwrap();
                // Each claim writes its own file (`ID.CLAIM.mp4`); once the
                // row is recorded, only the recorded claim's stays.
                let copies: Vec<std::path::PathBuf> = std::fs::read_dir(&media)
                    .unwrap()
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| {
                        let name = p.file_name().unwrap().to_string_lossy().into_owned();
                        name.starts_with(&format!("{vid}.")) && name.ends_with(".mp4")
                    })
                    .collect();
                assert_eq!(copies.len(), 1, "{uri}: {copies:?}");
                let bytes = std::fs::read(&copies[0]).unwrap();
                assert_eq!(&sha256_hex(&bytes), sha, "{uri}: the stored video differs");
                stored += 1;
            }
            Err(code) => {
                assert_eq!(row["status"], "UPLOADING_FAILED", "{uri}: {row}");
                assert_eq!(row["error_code"], *code, "{uri}: {row}");
            }
        }
    }
    let files: Vec<String> = std::fs::read_dir(&media)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        files.len(),
        stored,
        "left behind: {:?}",
        files.iter().filter(|f| f.contains('#')).collect::<Vec<_>>()
    );
    println!(
        "soak on {store}: {kills} kills, {} objects ({stored} stored), {kills} replays answered 200 ({answered_first} first answers matched, {conflicts} 409s while served), every job done {:.1} s after the last restart",
        expected.len(),
        recovery.as_secs_f64()
    );
    kill(child);
}
