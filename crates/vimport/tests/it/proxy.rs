//! Sources never go through a proxy the endpoint guard cannot see: a
//! `vimport serve` whose environment names a proxy (`HTTPS_PROXY` and the
//! rest) imports straight from the bucket, and the proxy sees nothing; with
//! `--source-proxy` the operator's proxy is used.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use import_testkit::S3StandIn;
use import_testkit::mp4::{Mp4Spec, sample_mp4};

use crate::common::*;

/// A listener on loopback that counts the connections it is offered and
/// closes each at once: a proxy that would see any request sent to it.
async fn counting_proxy() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(AtomicUsize::new(0));
    let count = seen.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            drop(socket);
        }
    });
    (format!("http://{addr}"), seen)
}

#[tokio::test]
async fn proxy_variables_are_ignored_and_an_explicit_proxy_is_used() {
    let s3 = S3StandIn::start("AKIDPROXY", "proxy-secret").await.unwrap();
    s3.create_bucket("fleet").unwrap();
    s3.put("fleet", "cam/front.mp4", &sample_mp4(&Mp4Spec::default()))
        .unwrap();
    let (proxy, seen) = counting_proxy().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let key = keys_create(&["--data-dir", data], &[]);
    let allow = s3.addr().to_string();
    let proxy_env: Vec<(&str, &str)> = [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ]
    .into_iter()
    .map(|name| (name, proxy.as_str()))
    .collect();

    let (child, url) = serve(
        &["--data-dir", data, "--allow-endpoint", &allow],
        &proxy_env,
    );
    let api = ApiClient::new(url, key.clone());
    let ci = api.s3_integration(&s3_integration_body(&s3, "fleet")).await;
    let job = api
        .upload_s3_keys("fleet", &["cam/front.mp4".to_owned()], &ci)
        .await;
    let done = api.wait_job(&job).await;
    kill(child);
    assert_eq!(done["counts"]["uploaded"], 1, "{done}");
    assert_eq!(
        seen.load(Ordering::SeqCst),
        0,
        "a request went to the environment's proxy"
    );

    // An explicit --source-proxy (allowed, as it is on loopback) is used.
    let proxy_addr = proxy.trim_start_matches("http://").to_owned();
    let (child, url) = serve(
        &[
            "--data-dir",
            data,
            "--allow-endpoint",
            &allow,
            "--allow-endpoint",
            &proxy_addr,
            "--source-proxy",
            &proxy,
        ],
        &[],
    );
    let api = ApiClient::new(url, key);
    api.upload_s3_keys("fleet", &["cam/front.mp4".to_owned()], &ci)
        .await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while seen.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "the source proxy was never used");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    kill(child);
}
