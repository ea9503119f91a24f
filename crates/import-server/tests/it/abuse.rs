//! Anonymous requests cost a bounded amount: made-up methods never become
//! metric series or long log lines, a request head and target have a size
//! limit, and the probes say what failed without the raw error.

use std::io::Write;
use std::sync::{Arc, Mutex};

use crate::common::*;
use reqwest::{Method, StatusCode};

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

/// The issue's attack: 2,000 requests without a key, each with a made-up
/// method of 1.5 KB and a long path. `/metrics` grew from 1.9 KB to 3.2 MB,
/// and each 401 logged the method and the whole path; now the metrics gain
/// one series (method `other`) and every log line stays short.
#[tokio::test]
async fn made_up_methods_and_paths_cost_a_bounded_amount() {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();
    let env = env().await;
    let (_, _, before) = get_plain(&env, "/metrics").await;
    let long_path = format!("/api/{}", "p".repeat(7_000));
    for i in 0..2_000 {
        let method =
            Method::from_bytes(format!("M{i:04}{}", "X".repeat(1_500)).as_bytes()).unwrap();
        let res = env
            .http
            .request(method, env.url(&long_path))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let (status, _, after) = get_plain(&env, "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    println!(
        "/metrics: {} bytes before 2,000 made-up methods, {} bytes after",
        before.len(),
        after.len()
    );
    assert!(after.len() < before.len() + 4_096, "{}", after.len());
    assert!(after.contains(r#"method="other""#), "{after}");
    assert!(!after.contains("XXXX"));
    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    let longest = logs.lines().map(str::len).max().unwrap_or(0);
    assert!(longest < 1_024, "a log line of {longest} bytes");
    assert!(!logs.contains("XXXX"), "a made-up method was logged");
}

#[tokio::test]
async fn a_long_target_is_414_and_a_large_head_431() {
    let env = env().await;
    // Over 8 KiB of path and query: 414, before the key is looked at.
    let (status, body) = env
        .get(&format!("/api/import-jobs?cursor={}", "c".repeat(9_000)))
        .await;
    assert_eq!(status, StatusCode::URI_TOO_LONG, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("8192"), "{body}");
    let (status, _, _) = get_plain(&env, &format!("/healthz?{}", "q".repeat(9_000))).await;
    assert_eq!(status, StatusCode::URI_TOO_LONG);
    // A head over 32 KiB (one header of 40 KB): hyper's 431.
    let res = env
        .http
        .get(env.url("/healthz"))
        .header("x-padding", "h".repeat(40_000))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    // More than 100 headers: 431 too.
    let mut req = env.http.get(env.url("/healthz"));
    for i in 0..120 {
        req = req.header(format!("x-h{i}"), "1");
    }
    assert_eq!(
        req.send().await.unwrap().status(),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
    );
    // Within the limits all is well.
    let (status, _, _) = get_plain(&env, "/healthz").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_larger_head_limit_is_taken_from_the_configuration() {
    let env = env_with(|c| c.max_head_bytes = 128 * 1024).await;
    let res = env
        .http
        .get(env.url("/healthz"))
        .header("x-padding", "h".repeat(40_000))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}
