//! No secret appears in any answer or any log line: every log line of a run
//! that saves integrations and imports with right and wrong keys is captured and
//! searched.

use std::sync::{Arc, Mutex};

use crate::common::*;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn no_secret_in_answers_or_logs() {
    // Everything at trace level, except the S3 stand-in itself: it plays the
    // cloud, which of course sees the credentials it checks.
    let capture = Capture::install("trace,s3s=off,s3s_fs=off");

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

    let logs = capture.text();
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

/// Sealed secrets are bound to their row: a blob copied into another
/// integration's row does not open there (the import fails naming the
/// secrets), and blobs sealed by an earlier version (no associated data) are
/// sealed again, bound, when a server starts.
#[tokio::test]
async fn sealed_secrets_are_bound_to_their_row() {
    use import_server::store::Store;
    let captured: Arc<Mutex<Option<import_server::store::SqlStore>>> = Arc::default();
    let keep = captured.clone();
    let env = env_with_store(
        |_| {},
        move |store| {
            *keep.lock().unwrap() = Some(store.clone());
            Arc::new(store)
        },
    )
    .await;
    let store = captured.lock().unwrap().clone().unwrap();
    env.s3.put(BUCKET, "a.mp4", &mp4(64, 48, 1000)).unwrap();
    let right = env.s3_integration(SK, None).await;
    let wrong = env.s3_integration("not-the-secret", None).await;
    let all = store
        .integrations()
        .integrations_page(None, 10)
        .await
        .unwrap();
    let blob = |id: &str| {
        all.iter()
            .find(|r| r.id.as_str() == id)
            .unwrap()
            .sealed_secrets
            .clone()
    };
    assert!(blob(&right).starts_with(b"v2:"));
    // Someone with write access to the database moves the right secrets
    // into the other row: they do not open there.
    let wrong_id: import_core::IntegrationId = wrong.parse().unwrap();
    assert!(
        store
            .integrations()
            .reseal_integration(&wrong_id, &blob(&wrong), &blob(&right))
            .await
            .unwrap()
    );
    let job = env
        .upload_s3_keys(BUCKET, &["a.mp4".to_owned()], &wrong)
        .await;
    env.wait_job(&job).await;
    let rows = env.rows(&job, 10).await;
    assert_eq!(rows[0]["status"], "UPLOADING_FAILED", "{rows:?}");
    assert!(
        rows[0]["error"]
            .as_str()
            .unwrap()
            .contains("cannot be opened"),
        "{rows:?}"
    );

    // A blob as an earlier version sealed it (no mark, no associated data)
    // is sealed again at the next start, and then opens.
    let key = std::fs::read_to_string(env.dir.path().join("secret.key")).unwrap();
    let legacy_box = import_server::SecretBox::from_hex(&key).unwrap();
    let plain =
        json!({"kind": "s3", "access_key_id": AK, "secret_access_key": SK, "session_token": null});
    let legacy = legacy_box.seal(plain.to_string().as_bytes(), b"");
    assert!(
        store
            .integrations()
            .reseal_integration(&wrong_id, &blob(&right), &legacy)
            .await
            .unwrap()
    );
    let mut config = env.server.config().clone();
    config.listen = "127.0.0.1:0".parse().unwrap();
    let second = import_server::Server::start_with_store(config, Arc::new(store.clone()))
        .await
        .unwrap();
    let now = store
        .integrations()
        .integrations_page(None, 10)
        .await
        .unwrap();
    let resealed = now.iter().find(|r| r.id == wrong_id).unwrap();
    assert!(resealed.sealed_secrets.starts_with(b"v2:"));
    assert_ne!(resealed.sealed_secrets, legacy);
    second.shutdown().await;
    let retried = env
        .post(
            &format!("/api/import-jobs/{job}/retry"),
            json!({"video_ids": null}),
        )
        .await;
    assert_eq!(retried.0, StatusCode::OK, "{retried:?}");
    let done = env.wait_job(&job).await;
    assert_eq!(done["counts"]["uploaded"], 1, "{done}");
}
