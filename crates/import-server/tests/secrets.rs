//! No secret appears in any answer or any log line: every log line of a run
//! that saves integrations and imports with right and wrong keys is captured and
//! searched.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::*;
use reqwest::StatusCode;
use serde_json::json;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_secret_in_answers_or_logs() {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        // Everything at trace level, except the S3 stand-in itself: it plays the
        // cloud, which of course sees the credentials it checks.
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            "trace,s3s=off,s3s_fs=off",
        ))
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();

    let env = env().await;
    let mut answers = String::new();
    // S3: right and wrong secrets, a session token.
    let ci = env.s3_integration(SK, None).await;
    let (_, wrong) = env
        .post(
            "/api/cloud-integrations/s3",
            json!({"name": "wrong", "type": "s3", "access_key_id": AK, "secret_access_key": "wrong-secret-5c2b",
                   "session_token": "session-token-77aa", "endpoint_url": env.s3.endpoint(), "bucket": BUCKET}),
        )
        .await;
    answers.push_str(&wrong.to_string());
    // HF token and a GCS private key.
    let (_, hf) = env
        .post("/api/cloud-integrations/hf-bucket", json!({"name": "hf", "type": "hf_bucket", "token": "hf_tok_3e4f", "bucket": "acme/cams"}))
        .await;
    answers.push_str(&hf.to_string());
    let (_, gcs) = env
        .post(
            "/api/cloud-integrations/gcs",
            json!({"name": "g", "type": "gcs", "bucket": "drive-archive", "service_account": {
                "type": "service_account", "client_email": "x@y.iam.gserviceaccount.com", "private_key_id": "kid",
                "private_key": "-----BEGIN PRIVATE KEY-----\nPRIVATEKEYMATERIAL\n-----END PRIVATE KEY-----\n",
                "token_uri": "https://127.0.0.1:1/token"}}),
        )
        .await;
    answers.push_str(&gcs.to_string());
    env.s3.put(BUCKET, "a.mp4", &mp4(320, 240, 1000)).unwrap();
    for id in [ci.as_str(), wrong["id"].as_str().unwrap()] {
        let (status, up) = env
            .post(
                "/api/s3/upload",
                json!({"keys": ["a.mp4", "gone.mp4"], "bucket": BUCKET, "integration_id": id}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let job = up["import_job_id"].as_str().unwrap();
        answers.push_str(&env.wait_job(job).await.to_string());
        answers.push_str(&serde_json::to_string(&env.rows(job, 10).await).unwrap());
    }
    let (_, list) = env.get("/api/cloud-integrations").await;
    answers.push_str(&list.to_string());

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("import job created"), "the capture works");
    assert!(logs.contains("row finished"), "the capture works");
    for secret in [
        SK,
        "wrong-secret-5c2b",
        "session-token-77aa",
        "hf_tok_3e4f",
        "PRIVATEKEYMATERIAL",
        env.key.as_str(),
    ] {
        if let Some(at) = logs.find(secret) {
            panic!(
                "`{secret}` appears in the logs: ...{}...",
                &logs[at.saturating_sub(400)..(at + 100).min(logs.len())]
            );
        }
        assert!(!answers.contains(secret), "`{secret}` appears in an answer");
    }
}
