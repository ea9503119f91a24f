//! The Hugging Face bucket double answers the Hub's routes as documented.

use std::net::SocketAddr;

use import_testkit::raw::{self, RawResponse};
use import_testkit::{HfOptions, HfStandIn};
use serde_json::{Value, json};
use tokio::runtime::Runtime;

const TOKEN: &str = "hf_test_token";

fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 256) as u8).collect()
}

/// A runtime (kept alive while the test runs) and a double with two
/// buckets: `fleet/open` (public) and `fleet/locked` (private).
fn setup(options: HfOptions) -> (Runtime, HfStandIn) {
    let runtime = Runtime::new().unwrap();
    let hf = runtime.block_on(HfStandIn::start_with(options)).unwrap();
    hf.add_bucket("fleet", "open", None).unwrap();
    hf.add_bucket("fleet", "locked", Some(TOKEN)).unwrap();
    for bucket in ["open", "locked"] {
        hf.put("fleet", bucket, "videos/a.mp4", &payload(1000))
            .unwrap();
        hf.put("fleet", bucket, "videos/b.mp4", &payload(20))
            .unwrap();
        hf.put("fleet", bucket, "videos/sub/c.mp4", &payload(3))
            .unwrap();
        hf.put("fleet", bucket, "top level.mp4", &payload(5))
            .unwrap();
    }
    (runtime, hf)
}

fn get(addr: SocketAddr, target: &str, headers: &[(&str, &str)]) -> RawResponse {
    raw::request(addr, "GET", target, headers, b"").unwrap()
}

/// Splits an absolute URL of the double into its request target.
fn target_of(hf: &HfStandIn, url: &str) -> String {
    url.strip_prefix(&hf.endpoint())
        .unwrap_or_else(|| panic!("{url} is not on {}", hf.endpoint()))
        .to_owned()
}

/// Splits an absolute URL of the double's CDN into its request target.
fn cdn_target(hf: &HfStandIn, url: &str) -> String {
    let base = format!("http://{}", hf.cdn_addr());
    url.strip_prefix(&base)
        .unwrap_or_else(|| panic!("{url} is not on the CDN {base}"))
        .to_owned()
}

/// Entries with only `type`, `path` and `size` (the other fields are
/// checked apart).
fn shapes(entries: &[Value]) -> Vec<Value> {
    entries
        .iter()
        .map(|e| {
            let mut kept = json!({"type": e["type"], "path": e["path"]});
            if e["type"] == "file" {
                kept["size"] = e["size"].clone();
            }
            kept
        })
        .collect()
}

fn json_body(response: &RawResponse) -> Value {
    serde_json::from_slice(&response.body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", response.text()))
}

#[test]
fn head_get_redirect_and_ranges() {
    let (_rt, hf) = setup(HfOptions::default());
    let addr = hf.addr();

    let head = raw::request(
        addr,
        "HEAD",
        "/buckets/fleet/open/resolve/videos/a.mp4",
        &[],
        b"",
    )
    .unwrap();
    // HEAD answers the Hub's 302 to its CDN: the size in X-Linked-Size,
    // Content-Length the redirect's own ~1 KB body.
    assert_eq!(head.status, 302);
    assert_eq!(head.header("x-linked-size"), Some("1000"));
    let own = head
        .header("content-length")
        .unwrap()
        .parse::<u64>()
        .unwrap();
    assert!((900..=1100).contains(&own), "{own}");
    assert!(head.header("etag").is_some());
    assert_eq!(head.header("x-linked-etag"), head.header("etag"));
    let xet = head.header("x-xet-hash").unwrap();
    assert!(
        xet.len() == 64 && xet.bytes().all(|b| b.is_ascii_hexdigit()),
        "{xet}"
    );
    assert!(head.header("link").unwrap().ends_with("rel=\"xet-auth\""));
    // The path may come with its slashes encoded, as huggingface_hub sends it.
    let encoded = raw::request(
        addr,
        "HEAD",
        "/buckets/fleet/open/resolve/videos%2Fa.mp4",
        &[],
        b"",
    )
    .unwrap();
    assert_eq!(encoded.header("x-linked-size"), Some("1000"));

    // GET answers the same 302, to the CDN on another port.
    let redirect = get(addr, "/buckets/fleet/open/resolve/videos/a.mp4", &[]);
    assert_eq!(redirect.status, 302);
    let location = redirect.header("location").expect("Location").to_owned();
    assert!(location.starts_with(&format!(
        "http://{}/cdn/fleet/open/videos/a.mp4?sig=",
        hf.cdn_addr()
    )));
    assert_ne!(hf.cdn_addr().port(), addr.port());
    let cdn = cdn_target(&hf, &location);
    let addr = hf.cdn_addr();

    let full = get(addr, &cdn, &[]);
    assert_eq!(full.status, 200);
    assert_eq!(full.body, payload(1000));

    let part = get(addr, &cdn, &[("Range", "bytes=10-19")]);
    assert_eq!(part.status, 206);
    assert_eq!(part.header("content-range"), Some("bytes 10-19/1000"));
    assert_eq!(part.body, payload(1000)[10..20]);

    let tail = get(addr, &cdn, &[("Range", "bytes=990-")]);
    assert_eq!(tail.status, 206);
    assert_eq!(tail.header("content-range"), Some("bytes 990-999/1000"));
    assert_eq!(tail.body, payload(1000)[990..]);

    let suffix = get(addr, &cdn, &[("Range", "bytes=-4")]);
    assert_eq!(suffix.status, 206);
    assert_eq!(suffix.body, payload(1000)[996..]);

    let past = get(addr, &cdn, &[("Range", "bytes=1000-")]);
    assert_eq!(past.status, 416);
    assert_eq!(past.header("content-range"), Some("bytes */1000"));

    // The CDN URL is only good with its signature.
    let unsigned = cdn.split('?').next().unwrap();
    assert_eq!(get(addr, unsigned, &[]).status, 403);
    assert_eq!(get(addr, &format!("{unsigned}?sig=0000"), &[]).status, 403);
    let other_file = cdn.replace("a.mp4", "b.mp4");
    assert_eq!(get(addr, &other_file, &[]).status, 403);

    // Names that need percent-encoding survive the redirect.
    let addr = hf.addr();
    let spaced = get(addr, "/buckets/fleet/open/resolve/top%20level.mp4", &[]);
    assert_eq!(spaced.status, 302);
    let location = spaced.header("location").unwrap();
    assert!(
        location.contains("/cdn/fleet/open/top%20level.mp4?sig="),
        "{location}"
    );
    assert_eq!(
        get(hf.cdn_addr(), &cdn_target(&hf, location), &[]).body,
        payload(5)
    );

    let missing = get(addr, "/buckets/fleet/open/resolve/videos/nope.mp4", &[]);
    assert_eq!(missing.status, 404);
    assert_eq!(missing.header("x-error-code"), Some("EntryNotFound"));
    // A folder is not a file.
    assert_eq!(
        get(addr, "/buckets/fleet/open/resolve/videos", &[]).status,
        404
    );
}

#[test]
fn the_cdn_can_refuse_head_and_stream_without_a_length() {
    let (_rt, hf) = setup(HfOptions {
        cdn_refuses_head: true,
        cdn_content_length: false,
        linked_size: false,
        ..HfOptions::default()
    });
    let head = raw::request(
        hf.addr(),
        "HEAD",
        "/buckets/fleet/open/resolve/videos/a.mp4",
        &[],
        b"",
    )
    .unwrap();
    assert_eq!(head.status, 302);
    assert_eq!(head.header("x-linked-size"), None);
    let cdn = cdn_target(&hf, head.header("location").unwrap());
    let refused = raw::request(hf.cdn_addr(), "HEAD", &cdn, &[], b"").unwrap();
    assert_eq!(refused.status, 405);
    let full = get(hf.cdn_addr(), &cdn, &[]);
    assert_eq!(full.status, 200);
    assert_eq!(full.header("content-length"), None);
    assert_eq!(full.body, payload(1000));
}

#[test]
fn rate_limits_on_demand() {
    let (_rt, hf) = setup(HfOptions {
        rate_limited: 2,
        rate_limit_reset_secs: 7,
        ..HfOptions::default()
    });
    for _ in 0..2 {
        let limited = get(hf.addr(), "/api/buckets/fleet/open/tree", &[]);
        assert_eq!(limited.status, 429);
        assert_eq!(limited.header("ratelimit"), Some("\"api\";r=0;t=7"));
        assert_eq!(limited.header("retry-after"), Some("7"));
        assert!(
            limited
                .header("ratelimit-policy")
                .unwrap()
                .contains("q=500;w=300")
        );
    }
    assert_eq!(
        get(hf.addr(), "/api/buckets/fleet/open/tree", &[]).status,
        200
    );
}

#[test]
fn without_redirects_bytes_come_straight() {
    let (_rt, hf) = setup(HfOptions {
        redirect: false,
        ..HfOptions::default()
    });
    let addr = hf.addr();
    let full = get(addr, "/buckets/fleet/open/resolve/videos/a.mp4", &[]);
    assert_eq!(full.status, 200);
    assert_eq!(full.header("content-length"), Some("1000"));
    assert_eq!(full.body, payload(1000));
    let part = get(
        addr,
        "/buckets/fleet/open/resolve/videos/a.mp4",
        &[("Range", "bytes=0-3")],
    );
    assert_eq!(part.status, 206);
    assert_eq!(part.body, payload(1000)[..4]);
}

#[test]
fn large_files_stream_whole() {
    let (_rt, hf) = setup(HfOptions {
        redirect: false,
        ..HfOptions::default()
    });
    let big = payload(5 * 1024 * 1024 + 3);
    hf.put("fleet", "open", "big.bin", &big).unwrap();
    let response = get(hf.addr(), "/buckets/fleet/open/resolve/big.bin", &[]);
    assert_eq!(response.status, 200);
    assert!(response.body == big, "body differs");
}

/// Follows `Link: <url>; rel="next"` and returns every entry and the number
/// of pages.
fn list_all(hf: &HfStandIn, first: &str, headers: &[(&str, &str)]) -> (Vec<Value>, usize) {
    let mut entries = Vec::new();
    let mut pages = 0;
    let mut target = first.to_owned();
    loop {
        let response = get(hf.addr(), &target, headers);
        assert_eq!(response.status, 200, "{target}: {}", response.text());
        pages += 1;
        entries.extend(json_body(&response).as_array().unwrap().iter().cloned());
        let Some(link) = response.header("link") else {
            return (entries, pages);
        };
        let url = link
            .strip_prefix('<')
            .and_then(|l| l.strip_suffix(">; rel=\"next\""))
            .unwrap_or_else(|| panic!("bad Link header {link}"));
        target = target_of(hf, url);
    }
}

#[test]
fn tree_listings_paginate() {
    let (_rt, hf) = setup(HfOptions {
        page_size: 2,
        ..HfOptions::default()
    });

    // Folders are entries too, as on the Hub.
    let (entries, pages) = list_all(&hf, "/api/buckets/fleet/open/tree?recursive=true", &[]);
    assert_eq!(pages, 3);
    assert_eq!(
        shapes(&entries),
        vec![
            json!({"type": "file", "path": "top level.mp4", "size": 5}),
            json!({"type": "directory", "path": "videos"}),
            json!({"type": "file", "path": "videos/a.mp4", "size": 1000}),
            json!({"type": "file", "path": "videos/b.mp4", "size": 20}),
            json!({"type": "directory", "path": "videos/sub"}),
            json!({"type": "file", "path": "videos/sub/c.mp4", "size": 3}),
        ]
    );
    // Files carry the Hub's fields.
    let file = &entries[2];
    assert_eq!(file["xetHash"].as_str().unwrap().len(), 64);
    assert!(file["mtime"].as_str().unwrap().ends_with('Z'), "{file}");
    assert!(
        file["uploadedAt"].as_str().unwrap().ends_with('Z'),
        "{file}"
    );
    assert!(entries[1]["uploadedAt"].is_string());

    let (entries, pages) = list_all(&hf, "/api/buckets/fleet/open/tree/videos", &[]);
    assert_eq!(pages, 2);
    assert_eq!(
        shapes(&entries),
        vec![
            json!({"type": "file", "path": "videos/a.mp4", "size": 1000}),
            json!({"type": "file", "path": "videos/b.mp4", "size": 20}),
            json!({"type": "directory", "path": "videos/sub"}),
        ]
    );

    // `limit` asks for smaller pages.
    let (_, pages) = list_all(
        &hf,
        "/api/buckets/fleet/open/tree?recursive=true&limit=1",
        &[],
    );
    assert_eq!(pages, 6);

    // The prefix is matched as a string when recursive: `day1` lists `day10/`.
    hf.add_bucket("fleet", "days", None).unwrap();
    hf.put("fleet", "days", "day1/a.mp4", b"1").unwrap();
    hf.put("fleet", "days", "day10/b.mp4", b"2").unwrap();
    let (entries, _) = list_all(&hf, "/api/buckets/fleet/days/tree/day1?recursive=true", &[]);
    let paths: Vec<&str> = entries
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["day1", "day1/a.mp4", "day10", "day10/b.mp4"]);

    // Exactly one full page: no Link.
    hf.add_bucket("fleet", "two", None).unwrap();
    hf.put("fleet", "two", "x/1.mp4", b"1").unwrap();
    hf.put("fleet", "two", "x/2.mp4", b"2").unwrap();
    let (entries, pages) = list_all(&hf, "/api/buckets/fleet/two/tree/x%2F?recursive=true", &[]);
    assert_eq!((entries.len(), pages), (2, 1));

    // Nothing under a prefix: an empty page, not 404.
    let missing = get(hf.addr(), "/api/buckets/fleet/open/tree/nothing-here", &[]);
    assert_eq!(missing.status, 200);
    assert_eq!(json_body(&missing), json!([]));
}

#[test]
fn default_page_size_is_1000() {
    let (_rt, hf) = setup(HfOptions::default());
    hf.add_bucket("fleet", "many", None).unwrap();
    for i in 0..1001 {
        hf.put("fleet", "many", &format!("clips/{i:04}.mp4"), b"x")
            .unwrap();
    }
    let first = get(
        hf.addr(),
        "/api/buckets/fleet/many/tree?recursive=true",
        &[],
    );
    assert_eq!(json_body(&first).as_array().unwrap().len(), 1000);
    assert!(first.header("link").is_some());
    let (entries, pages) = list_all(&hf, "/api/buckets/fleet/many/tree?recursive=true", &[]);
    // 1,001 files and their folder.
    assert_eq!((entries.len(), pages), (1002, 2));
}

#[test]
fn paths_info_answers_what_exists() {
    let (_rt, hf) = setup(HfOptions::default());
    let body = json!({"paths": ["videos/a.mp4", "missing.mp4", "videos/sub", "top level.mp4"]});
    let response = raw::request(
        hf.addr(),
        "POST",
        "/api/buckets/fleet/open/paths-info",
        &[("Content-Type", "application/json")],
        body.to_string().as_bytes(),
    )
    .unwrap();
    assert_eq!(response.status, 200, "{}", response.text());
    // Files only: missing paths and folders are left out.
    let entries = json_body(&response);
    assert_eq!(
        shapes(entries.as_array().unwrap()),
        vec![
            json!({"type": "file", "path": "videos/a.mp4", "size": 1000}),
            json!({"type": "file", "path": "top level.mp4", "size": 5}),
        ]
    );
    assert_eq!(entries[0]["xetHash"].as_str().unwrap().len(), 64);

    let bad = raw::request(
        hf.addr(),
        "POST",
        "/api/buckets/fleet/open/paths-info",
        &[("Content-Type", "application/json")],
        b"{\"nope\": 1}",
    )
    .unwrap();
    assert_eq!(bad.status, 400);
}

#[test]
fn private_buckets_need_the_token() {
    let (_rt, hf) = setup(HfOptions::default());
    let addr = hf.addr();
    let bearer = format!("Bearer {TOKEN}");
    let good: &[(&str, &str)] = &[("Authorization", &bearer)];
    let wrong: &[(&str, &str)] = &[("Authorization", "Bearer hf_wrong")];

    let resolve = "/buckets/fleet/locked/resolve/videos/a.mp4";
    let tree = "/api/buckets/fleet/locked/tree?recursive=true";
    for target in [resolve, tree] {
        let none = get(addr, target, &[]);
        assert_eq!(none.status, 401, "{target}");
        assert_eq!(none.header("www-authenticate"), Some("Bearer"));
        // The Hub hides a private bucket from a token that cannot read it.
        assert_eq!(get(addr, target, wrong).status, 404, "{target}");
    }
    let head = raw::request(addr, "HEAD", resolve, &[], b"").unwrap();
    assert_eq!(head.status, 401);
    let head = raw::request(addr, "HEAD", resolve, good, b"").unwrap();
    assert_eq!(head.status, 302);
    assert_eq!(head.header("x-linked-size"), Some("1000"));

    // With the token: redirect, then the CDN URL needs no token.
    let redirect = get(addr, resolve, good);
    assert_eq!(redirect.status, 302);
    let cdn = cdn_target(&hf, redirect.header("location").unwrap());
    assert_eq!(get(hf.cdn_addr(), &cdn, &[]).body, payload(1000));

    let (entries, _) = list_all(&hf, tree, good);
    assert_eq!(entries.len(), 6);

    let paths_info = |headers: &[(&str, &str)]| {
        raw::request(
            addr,
            "POST",
            "/api/buckets/fleet/locked/paths-info",
            headers,
            br#"{"paths": ["videos/a.mp4"]}"#,
        )
        .unwrap()
        .status
    };
    assert_eq!(paths_info(&[]), 401);
    assert_eq!(paths_info(wrong), 404);
    assert_eq!(paths_info(good), 200);

    // A public bucket needs no token.
    let open = raw::request(
        addr,
        "HEAD",
        "/buckets/fleet/open/resolve/videos/a.mp4",
        &[],
        b"",
    );
    assert_eq!(open.unwrap().status, 302);
}

#[test]
fn unknown_buckets_and_traversal() {
    let (_rt, hf) = setup(HfOptions::default());
    let addr = hf.addr();
    for target in [
        "/buckets/fleet/ghost/resolve/a.mp4",
        "/buckets/nobody/open/resolve/videos/a.mp4",
        "/api/buckets/fleet/ghost/tree",
        "/buckets/fleet/../resolve/open/videos/a.mp4",
    ] {
        let response = get(addr, target, &[]);
        assert_eq!(response.status, 404, "{target}");
    }
    assert_eq!(
        get(addr, "/api/buckets/fleet/ghost/tree", &[]).header("x-error-code"),
        Some("RepoNotFound")
    );

    // Put a file next to the bucket that traversal would reach.
    std::fs::write(hf.root().join("fleet").join("secret.txt"), b"secret").unwrap();
    for target in [
        "/buckets/fleet/open/resolve/../secret.txt",
        "/buckets/fleet/open/resolve/videos/../../secret.txt",
        "/buckets/fleet/open/resolve/%2E%2E/secret.txt",
        "/buckets/fleet/open/resolve/videos//a.mp4",
        "/api/buckets/fleet/open/tree/..",
        "/api/buckets/fleet/open/tree/videos/../..",
    ] {
        let response = get(addr, target, &[]);
        assert_eq!(response.status, 400, "{target}: {}", response.text());
    }
    let response = raw::request(
        addr,
        "POST",
        "/api/buckets/fleet/open/paths-info",
        &[],
        br#"{"paths": ["../secret.txt"]}"#,
    )
    .unwrap();
    assert_eq!(response.status, 400);
}

#[test]
fn counts_requests_and_stops_on_drop() {
    let (rt, hf) = setup(HfOptions::default());
    let addr = hf.addr();
    let before = hf.requests();
    for _ in 0..3 {
        get(addr, "/api/buckets/fleet/open/tree", &[]);
    }
    get(addr, "/no/such/route", &[]);
    assert_eq!(hf.requests() - before, 4);

    let root = hf.root().to_path_buf();
    drop(hf);
    assert!(!root.exists(), "the temporary folder is deleted");
    // The accept loop is aborted; give the runtime a moment to drop it.
    let mut refused = false;
    for _ in 0..100 {
        if std::net::TcpStream::connect(addr).is_err() {
            refused = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(refused, "still listening after drop");
    drop(rt);
}

#[test]
fn helpers_refuse_bad_input() {
    let (_rt, hf) = setup(HfOptions::default());
    assert!(hf.add_bucket("..", "x", None).is_err());
    assert!(hf.add_bucket("ns", "a/b", None).is_err());
    assert!(hf.put("fleet", "ghost", "a.mp4", b"x").is_err());
    assert!(hf.put("fleet", "open", "../a.mp4", b"x").is_err());
    assert!(hf.put("fleet", "open", "/a.mp4", b"x").is_err());
    let rt = Runtime::new().unwrap();
    let zero = rt.block_on(HfStandIn::start_with(HfOptions {
        page_size: 0,
        ..HfOptions::default()
    }));
    assert!(zero.is_err());
}
