//! The fault proxy forwards, answers by itself, drops connections and
//! records requests as documented.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use import_testkit::fault::{Action, FaultProxy, Rule};
use import_testkit::raw;
use tokio::runtime::Runtime;

/// A runtime (kept alive while the test runs), the upstream's POST counter
/// and a proxy in front of it.
///
/// The upstream answers `POST /v1/items` with 201, an `x-upstream` header
/// and a body echoing the query, `x-tag` header and request body; and
/// `GET /v1/hello` with a chunked body.
fn setup() -> (Runtime, Arc<AtomicUsize>, FaultProxy) {
    let runtime = Runtime::new().unwrap();
    let posts = Arc::new(AtomicUsize::new(0));
    let router = Router::new()
        .route("/v1/items", post(create))
        .route("/v1/hello", get(hello))
        .with_state(Arc::clone(&posts));
    let proxy = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .unwrap();
        let upstream = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        FaultProxy::start(upstream).await.unwrap()
    });
    (runtime, posts, proxy)
}

async fn create(
    State(posts): State<Arc<AtomicUsize>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, [(&'static str, &'static str); 1], String) {
    let n = posts.fetch_add(1, Ordering::SeqCst) + 1;
    let tag = headers
        .get("x-tag")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    let query = query.unwrap_or_default();
    let echo = format!("#{n} query={query} tag={tag} body={body}");
    (StatusCode::CREATED, [("x-upstream", "yes")], echo)
}

async fn hello() -> axum::body::Body {
    let parts = ["hel", "lo"].map(|s| Ok::<_, std::io::Error>(s.to_owned()));
    axum::body::Body::from_stream(futures::stream::iter(parts))
}

fn post_item(addr: SocketAddr, body: &str) -> std::io::Result<raw::RawResponse> {
    raw::request(
        addr,
        "POST",
        "/v1/items?x=1",
        &[("X-Tag", "t")],
        body.as_bytes(),
    )
}

fn respond_503(times: usize) -> Rule {
    Rule {
        method: Some("POST"),
        path_prefix: "/v1/items".into(),
        times,
        action: Action::Respond {
            status: 503,
            headers: vec![("Retry-After".into(), "1".into())],
            body: "busy".into(),
        },
    }
}

#[test]
fn pass_through_relays_status_headers_and_body() {
    let (_rt, posts, proxy) = setup();
    assert!(proxy.endpoint().starts_with("http://127.0.0.1:"));
    assert_eq!(proxy.endpoint(), format!("http://{}", proxy.addr()));

    let response = post_item(proxy.addr(), "hi").unwrap();
    assert_eq!(response.status, 201);
    assert_eq!(response.header("x-upstream"), Some("yes"));
    assert_eq!(response.header("connection"), Some("close"));
    assert_eq!(response.text(), "#1 query=x=1 tag=t body=hi");
    assert_eq!(posts.load(Ordering::SeqCst), 1);

    // A chunked upstream body goes through as it came.
    let hello = raw::request(proxy.addr(), "GET", "/v1/hello", &[], b"").unwrap();
    assert_eq!(hello.status, 200);
    assert_eq!(hello.text(), "hello");

    let missing = raw::request(proxy.addr(), "GET", "/nowhere", &[], b"").unwrap();
    assert_eq!(missing.status, 404);
}

#[test]
fn respond_answers_without_calling_the_upstream() {
    let (_rt, posts, proxy) = setup();
    proxy.push_rule(respond_503(usize::MAX));

    let response = post_item(proxy.addr(), "hi").unwrap();
    assert_eq!(response.status, 503);
    assert_eq!(response.header("retry-after"), Some("1"));
    assert_eq!(response.header("content-length"), Some("4"));
    assert_eq!(response.text(), "busy");
    assert_eq!(posts.load(Ordering::SeqCst), 0);

    // The method and the path prefix both have to match.
    let hello = raw::request(proxy.addr(), "GET", "/v1/hello", &[], b"").unwrap();
    assert_eq!(hello.status, 200);
    assert_eq!(proxy.requests().len(), 2);

    proxy.clear_rules();
    assert_eq!(post_item(proxy.addr(), "hi").unwrap().status, 201);
}

/// Sends a request on a plain socket and returns every byte that came back.
fn send_and_read_all(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut received = Vec::new();
    match stream.read_to_end(&mut received) {
        Ok(_) => {}
        Err(err) if err.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(err) => panic!("reading the response: {err}"),
    }
    received
}

const RAW_POST: &[u8] = b"POST /v1/items HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi";

#[test]
fn drop_after_forward_closes_silently_after_the_upstream_acted() {
    let (_rt, posts, proxy) = setup();
    proxy.push_rule(Rule {
        method: None,
        path_prefix: "/v1/".into(),
        times: 1,
        action: Action::DropAfterForward,
    });

    assert!(send_and_read_all(proxy.addr(), RAW_POST).is_empty());
    assert_eq!(posts.load(Ordering::SeqCst), 1);

    // Spent: the retry gets the upstream's answer.
    let response = post_item(proxy.addr(), "again").unwrap();
    assert_eq!(response.status, 201);
    assert_eq!(response.text(), "#2 query=x=1 tag=t body=again");
}

#[test]
fn drop_before_forward_closes_without_calling_the_upstream() {
    let (_rt, posts, proxy) = setup();
    proxy.push_rule(Rule {
        method: Some("post"),
        path_prefix: String::new(),
        times: 1,
        action: Action::DropBeforeForward,
    });

    assert!(send_and_read_all(proxy.addr(), RAW_POST).is_empty());
    assert!(post_item(proxy.addr(), "x").unwrap().status == 201);
    assert_eq!(posts.load(Ordering::SeqCst), 1);
    assert_eq!(proxy.requests().len(), 2);
}

#[test]
fn rules_are_used_in_order_and_expire() {
    let (_rt, posts, proxy) = setup();
    proxy.push_rule(respond_503(2));
    proxy.push_rule(Rule {
        method: Some("POST"),
        path_prefix: "/v1".into(),
        times: 1,
        action: Action::Respond {
            status: 429,
            headers: Vec::new(),
            body: String::new(),
        },
    });

    let statuses: Vec<u16> = (0..4)
        .map(|_| post_item(proxy.addr(), "b").unwrap().status)
        .collect();
    assert_eq!(statuses, [503, 503, 429, 201]);
    assert_eq!(posts.load(Ordering::SeqCst), 1);
}

#[test]
fn records_method_path_query_headers_and_body() {
    let (_rt, _posts, proxy) = setup();
    proxy.push_rule(respond_503(1));

    post_item(proxy.addr(), "first").unwrap();
    post_item(proxy.addr(), "second").unwrap();
    raw::request(proxy.addr(), "GET", "/v1/hello", &[], b"").unwrap();

    let requests = proxy.requests();
    assert_eq!(requests.len(), 3);
    let first = &requests[0];
    assert_eq!(first.method, "POST");
    assert_eq!(first.path, "/v1/items");
    assert_eq!(first.query.as_deref(), Some("x=1"));
    assert_eq!(first.body, b"first");
    assert_eq!(first.header("X-TAG"), Some("t"));
    assert!(first.headers.iter().any(|(n, v)| n == "x-tag" && v == "t"));
    assert!(
        first
            .headers
            .iter()
            .all(|(n, _)| *n == n.to_ascii_lowercase())
    );
    assert_eq!(requests[1].body, b"second");
    assert_eq!(requests[2].method, "GET");
    assert_eq!(requests[2].query, None);
    assert!(requests[2].body.is_empty());

    proxy.clear_requests();
    assert!(proxy.requests().is_empty());
}

#[test]
fn chunked_request_bodies_are_refused() {
    let (_rt, posts, proxy) = setup();
    let request = b"POST /v1/items HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n";
    let received = send_and_read_all(proxy.addr(), request);
    assert!(received.starts_with(b"HTTP/1.1 501 "), "{received:?}");
    assert_eq!(posts.load(Ordering::SeqCst), 0);
}

#[test]
fn dropping_the_proxy_stops_it() {
    let (_rt, _posts, proxy) = setup();
    let addr = proxy.addr();
    drop(proxy);
    // The listener closes once the aborted task is gone.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).is_ok() {
        assert!(std::time::Instant::now() < deadline, "still accepting");
        std::thread::sleep(Duration::from_millis(20));
    }
}
