//! Anonymous requests cost a bounded amount: made-up methods never become
//! metric series or long log lines, a request head and target have a size
//! limit, and the probes say what failed without the raw error.

use crate::common::*;
use reqwest::{Method, StatusCode};

/// The issue's attack: 2,000 requests without a key, each with a made-up
/// method of 1.5 KB and a long path. `/metrics` grew from 1.9 KB to 3.2 MB,
/// and each 401 logged the method and the whole path; now the metrics gain
/// one series (method `other`) and every log line stays short.
#[tokio::test]
async fn made_up_methods_and_paths_cost_a_bounded_amount() {
    let capture = Capture::install("info");
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
        // 401 until the address has failed its 60 a minute, then 429.
        let status = res.status();
        assert!(
            status == StatusCode::UNAUTHORIZED
                || (i >= 60 && status == StatusCode::TOO_MANY_REQUESTS),
            "request {i}: {status}"
        );
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
    let logs = capture.text();
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

/// A client whose source address is `ip` (any of 127.0.0.0/8 reaches the
/// server on 127.0.0.1).
fn client_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(ip.parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap()
}

/// The issue's lock-out: with `--max-connections 200`, 200 half-sent
/// requests from 127.0.0.2 made a request from 127.0.0.3 get `503` at once.
/// Now one address holds at most a quarter of the connections (here 2 of 8),
/// and another is served at once.
#[tokio::test]
async fn one_peer_cannot_hold_every_connection() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let env = env_with(|c| c.max_connections = 8).await;
    let addr = env.server.addr();
    let half_sent = || async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
        let mut stream = socket.connect(addr).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        stream
    };
    let mut held = vec![half_sent().await, half_sent().await];
    // A third of the same address: 503, said at once.
    let mut third = half_sent().await;
    let mut answer = vec![0u8; 512];
    let n = tokio::time::timeout(std::time::Duration::from_secs(5), third.read(&mut answer))
        .await
        .unwrap()
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("--max-connections-per-peer"), "{answer}");
    // Another address is served at once.
    let started = std::time::Instant::now();
    let res = client_from("127.0.0.3")
        .get(env.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    println!(
        "while 127.0.0.2 held its share, 127.0.0.3 was served in {:.1} ms",
        started.elapsed().as_secs_f64() * 1000.0
    );
    // A connection given up frees its place.
    held.pop();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let again = client_from("127.0.0.2")
        .get(env.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::OK);
}

/// A flood of made-up keys from one address: 61 are `401`, then `429` with
/// `Retry-After` without a key lookup; a key that authenticated before still
/// passes from that address, and another address is not held up.
#[tokio::test]
async fn failed_authentications_are_limited_per_peer() {
    let env = env().await;
    let flood = client_from("127.0.0.2");
    let verify = env.url(import_core::routes::VERIFY_AUTH.template);
    // The good key authenticates from the flooding address first.
    let ok = flood
        .post(&verify)
        .header("X-API-Key", &env.key)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let mut statuses = Vec::new();
    for i in 0..80 {
        let res = flood
            .post(&verify)
            .header("X-API-Key", format!("vk_madeup_{i}"))
            .send()
            .await
            .unwrap();
        statuses.push(res.status().as_u16());
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            let wait: u64 = res.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=60).contains(&wait), "{wait}");
        }
    }
    // 60 failures within the limit, the 61st crosses it (its lookup was
    // made), and every later one is refused without a lookup.
    assert!(statuses[..61].iter().all(|&s| s == 401), "{statuses:?}");
    assert!(statuses[61..].iter().all(|&s| s == 429), "{statuses:?}");
    let ok = flood
        .post(&verify)
        .header("X-API-Key", &env.key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        ok.status(),
        StatusCode::OK,
        "a good key passes a blocked address"
    );
    let other = client_from("127.0.0.3")
        .post(&verify)
        .header("X-API-Key", "vk_madeup_x")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::UNAUTHORIZED);
}

/// The issue's memory: 24 slow 60 MiB uploads at once held 1.57 GiB. Bodies
/// being read share `--body-memory` (here 2 MiB): two uploads that declare
/// 1 MiB each and send slowly hold all of it, so a third body waits
/// `--body-memory-wait` and is `503` with `Retry-After`, while a request
/// without a body is served; once the two are sent, bodies are read again.
#[tokio::test]
async fn request_bodies_are_held_within_the_body_memory() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let env = env_with(|c| {
        c.body_limit = 1 << 20;
        c.body_memory = 2 << 20;
        c.body_memory_wait = std::time::Duration::from_millis(300);
    })
    .await;
    let addr = env.server.addr();
    let upload = import_core::routes::UPLOAD_S3.template;
    let slow_upload = || async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let head = format!(
            "POST {upload} HTTP/1.1\r\nHost: x\r\nX-API-Key: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{{",
            env.key,
            1 << 20
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        stream
    };
    let mut held = vec![slow_upload().await, slow_upload().await];
    let verify = env.url(import_core::routes::VERIFY_AUTH.template);
    let with_body = || {
        env.http
            .post(&verify)
            .header("X-API-Key", &env.key)
            .header("Content-Type", "application/json")
            .body("{}")
    };
    // Once the two bodies hold the memory (they reserve when their key has
    // passed), a third body is refused after the wait.
    let mut refused = None;
    for _ in 0..50 {
        let res = with_body().send().await.unwrap();
        if res.status() == StatusCode::SERVICE_UNAVAILABLE {
            refused = Some(res);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let refused = refused.expect("a body past --body-memory was never refused");
    assert!(refused.headers().contains_key("retry-after"));
    let body: serde_json::Value = refused.json().await.unwrap();
    assert!(
        body["detail"].to_string().contains("--body-memory"),
        "{body}"
    );
    // A request without a body needs none of it.
    let read = env
        .http
        .get(env.url(import_core::routes::LIST_IMPORT_JOBS.template))
        .header("X-API-Key", &env.key)
        .send()
        .await
        .unwrap();
    assert_ne!(read.status(), StatusCode::SERVICE_UNAVAILABLE);
    // The two uploads send the rest of their bytes (not JSON: a 4xx each),
    // and give their memory back.
    for stream in &mut held {
        stream.write_all(&vec![b' '; (1 << 20) - 1]).await.unwrap();
        let mut answer = vec![0u8; 64];
        let n = stream.read(&mut answer).await.unwrap();
        let answer = String::from_utf8_lossy(&answer[..n]);
        assert!(answer.starts_with("HTTP/1.1 4"), "{answer}");
    }
    let res = with_body().send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

/// A chunked body (no `Content-Length`) is counted as it arrives: past the
/// route's limit it is `413`, and within it the request is served.
#[tokio::test]
async fn a_chunked_body_is_counted_as_it_arrives() {
    let env = env_with(|c| c.body_limit = 64 << 10).await;
    let chunked = |bytes: usize| {
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> = (0..bytes / 1024)
            .map(|_| Ok(vec![b' '; 1024]))
            .chain(std::iter::once(Ok(b"{}".to_vec())))
            .collect();
        reqwest::Body::wrap_stream(futures::stream::iter(chunks))
    };
    let verify = env.url(import_core::routes::VERIFY_AUTH.template);
    let ok = env
        .http
        .post(&verify)
        .header("X-API-Key", &env.key)
        .body(chunked(8 << 10))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let upload = env.url(import_core::routes::UPLOAD_S3.template);
    let over = env
        .http
        .post(&upload)
        .header("X-API-Key", &env.key)
        .header("Content-Type", "application/json")
        .body(chunked(80 << 10))
        .send()
        .await
        .unwrap();
    assert_eq!(over.status(), StatusCode::PAYLOAD_TOO_LARGE);
}
