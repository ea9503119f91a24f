//! Three `vimport serve` replicas on one PostgreSQL database share an import;
//! one is killed with SIGKILL mid-import; no row is lost and none is imported twice.

use std::time::Duration;

use crate::common::*;
use import_testkit::S3StandIn;
use import_testkit::mp4::{Mp4Spec, sample_mp4};
use import_testkit::postgres::fresh_database;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL; run cargo xtask test"]
async fn three_replicas_share_the_work_and_survive_a_sigkill() {
    let db = fresh_database(&format!("vimport_replicas_{}", std::process::id())).await;
    let s3 = S3StandIn::start("AKIDREPL", "replica-secret")
        .await
        .unwrap();
    s3.create_bucket("replicas").unwrap();
    const N: usize = 60;
    for i in 0..N {
        let bytes = sample_mp4(&Mp4Spec {
            mdat_bytes: 2 * 1024 * 1024 + i,
            ..Mp4Spec::default()
        });
        s3.put("replicas", &format!("cams/{i:03}.mp4"), &bytes)
            .unwrap();
    }
    let allow = s3.addr().to_string();
    let mut replicas = Replicas::start(
        3,
        &db,
        &allow,
        &["--max-in-flight", "2", "--lease-secs", "2"],
    );
    let key = replicas.key.clone();
    let base = ApiClient::new(&replicas.servers[0].1, &key);
    let ci = base
        .s3_integration(&s3_integration_body(&s3, "replicas"))
        .await;
    // The job is created through another replica than the integration: they share the database.
    let other = ApiClient::new(&replicas.servers[1].1, &key);
    let keys: Vec<String> = (0..N).map(|i| format!("cams/{i:03}.mp4")).collect();
    let job = other.upload_s3_keys("replicas", &keys, &ci).await;

    let seen = base
        .poll_job(
            &job,
            Duration::from_millis(20),
            Duration::from_secs(120),
            |j| j["counts"]["uploaded"].as_u64().unwrap_or(0) >= 6 || is_terminal(j),
        )
        .await;
    assert_eq!(
        seen["terminal"],
        json!(false),
        "finished before the kill; make the objects bigger"
    );
    let (victim, _) = replicas.servers.remove(2);
    kill(victim);

    let rows = other.all_uploaded_once(&job, N).await;
    // One stored video per row; a killed replica may leave a staging file behind.
    let stored = stored_videos(&replicas.media);
    assert_eq!(stored.len(), N, "{stored:?}");
    for row in &rows {
        let vid = row["video_id"].as_str().unwrap();
        // Under its id and the claim that copied it (`ID.CLAIM.mp4`).
        assert!(
            stored
                .iter()
                .any(|f| f.starts_with(&format!("{vid}.")) && f.ends_with(".mp4")),
            "{vid} stored under its id: {stored:?}"
        );
    }
    drop(replicas);
}

/// `vimport keys revoke` on the shared database: both replicas refuse the key
/// from their next request (they read keys from the database on every
/// request; nothing is cached).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL; run cargo xtask test"]
async fn a_revoked_key_is_refused_by_every_replica_at_once() {
    let db = fresh_database(&format!("vimport_revoke_{}", std::process::id())).await;
    let replicas = Replicas::start(2, &db, "127.0.0.1:9", &["--max-in-flight", "0"]);
    let clients: Vec<ApiClient> = replicas
        .servers
        .iter()
        .map(|(_, url)| ApiClient::new(url, &replicas.key))
        .collect();
    for c in &clients {
        assert_eq!(c.post("/api/keys/verify", json!(null)).await.0, 200);
    }
    let data = tempfile::tempdir().unwrap();
    let keys = |args: &[&str]| {
        std::process::Command::new(BIN)
            .arg("keys")
            .args(args)
            .args([
                "--database-url",
                &db,
                "--data-dir",
                data.path().to_str().unwrap(),
            ])
            .env("VIMPORT_SECRET_KEY", REPLICA_SECRET_KEY)
            .env("VIMPORT_LOG", "warn")
            .output()
            .unwrap()
    };
    let out = keys(&["list", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = listed[0]["id"].as_str().unwrap().to_owned();
    let out = keys(&["revoke", &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let revoked = std::time::Instant::now();
    for c in &clients {
        let (status, body) = c.post("/api/keys/verify", json!(null)).await;
        assert_eq!(status, 401, "{body}");
    }
    println!(
        "both replicas refused the revoked key within {:?}",
        revoked.elapsed()
    );
    assert!(revoked.elapsed() < Duration::from_secs(1));
}

/// Fair share with two replicas on one PostgreSQL database: the turns live
/// in the database, so the replicas serve the organisations in turn
/// together.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL; run cargo xtask test"]
async fn replicas_share_the_turns_between_organisations() {
    let db = fresh_database(&format!("vimport_fair_{}", std::process::id())).await;
    let s3 = fair_share_bucket().await;
    let allow = s3.addr().to_string();
    let replicas = Replicas::start(2, &db, &allow, &["--max-in-flight", "1"]);
    let data = tempfile::tempdir().unwrap();
    let store = [
        "--database-url",
        db.as_str(),
        "--data-dir",
        data.path().to_str().unwrap(),
    ];
    let small_key = key_for(&store, "bo", "org_small");
    let big = ApiClient::new(&replicas.servers[0].1, &replicas.key);
    let small = ApiClient::new(&replicas.servers[1].1, &small_key);
    small_behind_big(&s3, &big, &small).await;
}
