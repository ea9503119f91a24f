//! Reading real stand-ins of the clouds through `open_source`: s3s-fs (S3
//! with SigV4), the Hugging Face bucket double, and fake-gcs-server.

use std::sync::Arc;

use futures::TryStreamExt;
use import_core::{SNIFF_LEN, sniff_mp4};
use import_providers::{
    EndpointPolicy, FailureKind, GcsServiceAccount, ProviderError, S3Credentials, Secret,
    SourceConfig, classify, object_path, open_source,
};
use import_testkit::{HfOptions, HfStandIn, Mp4Spec, S3StandIn, sample_mp4};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};

const AK: &str = "AKIDTEST";
const SK: &str = "secret-test-key-0123456789";
const HF_TOKEN: &str = "hf_private_token_0123456789";
const NO_HUB: &str = "https://hub.invalid";

fn video() -> Vec<u8> {
    sample_mp4(&Mp4Spec::default())
}

fn allow(endpoint: &str) -> EndpointPolicy {
    let host_port = endpoint.trim_start_matches("http://");
    EndpointPolicy::from_allowed([host_port]).unwrap()
}

fn s3_config(endpoint: &str, credentials: Option<S3Credentials>) -> SourceConfig {
    SourceConfig::S3 {
        bucket: "vids".into(),
        region: None, // an endpoint without a region signs for "auto", like R2
        endpoint_url: Some(endpoint.to_owned()),
        credentials,
    }
}

async fn s3_stand_in() -> S3StandIn {
    let s3 = S3StandIn::start(AK, SK).await.unwrap();
    s3.create_bucket("vids").unwrap();
    s3.put("vids", "trips/42/front #1.mp4", &video()).unwrap();
    s3.put("vids", "trips/42/left.mp4", &video()).unwrap();
    s3.put("vids", "trips/43/front.mp4", &video()).unwrap();
    s3.put("vids", "other/x.mp4", b"not a video").unwrap();
    s3
}

async fn open(config: &SourceConfig, policy: &EndpointPolicy) -> Arc<dyn ObjectStore> {
    open_source(config, policy, NO_HUB).await.unwrap()
}

#[tokio::test]
async fn s3_head_get_range_and_list_with_the_right_keys() {
    let s3 = s3_stand_in().await;
    let config = s3_config(&s3.endpoint(), Some(S3Credentials::new(AK, SK)));
    let store = open(&config, &allow(&s3.endpoint())).await;
    let path = object_path("trips/42/front #1.mp4").unwrap();
    let expected = video();

    let meta = store.head(&path).await.unwrap();
    assert_eq!(meta.size, expected.len() as u64);

    let bytes = store.get(&path).await.unwrap().bytes().await.unwrap();
    assert_eq!(bytes.as_ref(), expected.as_slice());

    let head = store.get_range(&path, 0..SNIFF_LEN as u64).await.unwrap();
    assert_eq!(head.len(), SNIFF_LEN);
    sniff_mp4(&head).unwrap();

    let mut listed: Vec<String> = store
        .list(Some(&Path::parse("trips").unwrap()))
        .map_ok(|m| m.location.to_string())
        .try_collect()
        .await
        .unwrap();
    listed.sort();
    assert_eq!(
        listed,
        [
            "trips/42/front #1.mp4",
            "trips/42/left.mp4",
            "trips/43/front.mp4"
        ]
    );
    let folders = store
        .list_with_delimiter(Some(&Path::parse("trips").unwrap()))
        .await
        .unwrap();
    let mut prefixes: Vec<String> = folders
        .common_prefixes
        .iter()
        .map(ToString::to_string)
        .collect();
    prefixes.sort();
    assert_eq!(prefixes, ["trips/42", "trips/43"]);
}

#[tokio::test]
async fn s3_wrong_secret_is_refused_with_a_clear_message() {
    let s3 = s3_stand_in().await;
    let wrong = "wrong-secret-key-abcdef";
    let config = s3_config(&s3.endpoint(), Some(S3Credentials::new(AK, wrong)));
    let store = open(&config, &allow(&s3.endpoint())).await;
    let path = object_path("trips/42/left.mp4").unwrap();

    // GET and list carry the error body: the code says what is wrong.
    let err = store.get(&path).await.unwrap_err();
    let failure = classify(&err);
    assert_eq!(failure.kind, FailureKind::BadCredentials, "{err}");
    assert!(
        failure.message.contains("SignatureDoesNotMatch"),
        "{failure}"
    );
    assert!(!format!("{err} {err:?} {failure:?}").contains(wrong));

    let err = store.list(None).try_collect::<Vec<_>>().await.unwrap_err();
    let failure = classify(&err);
    assert_eq!(failure.kind, FailureKind::BadCredentials, "{err}");

    // A HEAD answer has no body: all that is known is the 403.
    let err = store.head(&path).await.unwrap_err();
    let failure = classify(&err);
    assert_eq!(failure.kind, FailureKind::AccessDenied, "{err}");
    assert!(
        failure.message.contains("check the integration's keys"),
        "{failure}"
    );
}

#[tokio::test]
async fn s3_unknown_key_and_anonymous_reads() {
    let s3 = s3_stand_in().await;
    let policy = allow(&s3.endpoint());
    let path = object_path("trips/42/left.mp4").unwrap();

    let unknown = s3_config(&s3.endpoint(), Some(S3Credentials::new("AKIDOTHER", SK)));
    let err = open(&unknown, &policy).await.get(&path).await.unwrap_err();
    // s3s answers an unknown key id with `NotSignedUp` (AWS: `InvalidAccessKeyId`).
    let failure = classify(&err);
    assert_eq!(failure.kind, FailureKind::BadCredentials, "{err}");
    assert!(failure.message.contains("access key id"), "{failure}");

    // No credentials: unsigned requests, which this private bucket refuses.
    let anonymous = s3_config(&s3.endpoint(), None);
    let err = open(&anonymous, &policy)
        .await
        .get(&path)
        .await
        .unwrap_err();
    assert_eq!(classify(&err).kind, FailureKind::AccessDenied, "{err}");
}

#[tokio::test]
async fn s3_missing_object_is_not_found() {
    let s3 = s3_stand_in().await;
    let config = s3_config(&s3.endpoint(), Some(S3Credentials::new(AK, SK)));
    let store = open(&config, &allow(&s3.endpoint())).await;
    let path = object_path("trips/42/nope.mp4").unwrap();
    for err in [
        store.head(&path).await.unwrap_err(),
        store.get(&path).await.unwrap_err(),
    ] {
        let failure = classify(&err);
        assert_eq!(failure.kind, FailureKind::NotFound, "{err}");
        assert_eq!(failure.message, "object not found in the bucket");
    }
}

#[tokio::test]
async fn s3_http_endpoint_needs_the_allow_list() {
    let s3 = s3_stand_in().await;
    let config = s3_config(&s3.endpoint(), Some(S3Credentials::new(AK, SK)));
    let err = open_source(&config, &EndpointPolicy::new(), NO_HUB)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ProviderError::ForbiddenEndpoint { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("--allow-endpoint"), "{err}");

    // Even over https, a loopback endpoint is refused without the allow-list.
    let https = s3_config(
        &s3.endpoint().replace("http://", "https://"),
        Some(S3Credentials::new(AK, SK)),
    );
    let err = open_source(&https, &EndpointPolicy::new(), NO_HUB)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("loopback"), "{err}");

    let store = open(&config, &allow(&s3.endpoint())).await;
    store
        .head(&object_path("trips/42/left.mp4").unwrap())
        .await
        .unwrap();
}

#[tokio::test]
async fn connections_are_guarded_at_connect_time_too() {
    // A name that resolves to a loopback address is refused when the
    // connection is made, not only when the URL is checked (DNS rebinding).
    let s3 = s3_stand_in().await;
    let port = s3.addr().port();
    let build = |policy: &EndpointPolicy| {
        object_store::aws::AmazonS3Builder::new()
            .with_client_options(import_providers::client_options(policy))
            .with_retry(object_store::RetryConfig {
                max_retries: 0,
                ..import_providers::retry_config()
            })
            .with_endpoint(format!("http://localhost:{port}"))
            .with_allow_http(true)
            .with_region("us-east-1")
            .with_bucket_name("vids")
            .with_access_key_id(AK)
            .with_secret_access_key(SK)
            .build()
            .unwrap()
    };
    let path = object_path("trips/42/left.mp4").unwrap();
    let err = build(&EndpointPolicy::new()).head(&path).await.unwrap_err();
    let failure = classify(&err);
    assert_eq!(failure.kind, FailureKind::Other, "{err}");
    assert!(failure.message.contains("refused"), "{failure}");

    let allowed = EndpointPolicy::from_allowed([format!("localhost:{port}")]).unwrap();
    build(&allowed).head(&path).await.unwrap();
}

async fn hf_stand_in(options: HfOptions) -> HfStandIn {
    let hf = HfStandIn::start_with(options).await.unwrap();
    hf.add_bucket("acme", "public", None).unwrap();
    hf.add_bucket("acme", "private", Some(HF_TOKEN)).unwrap();
    for bucket in ["public", "private"] {
        hf.put("acme", bucket, "day1/front #1.mp4", &video())
            .unwrap();
        hf.put("acme", bucket, "day1/left.mp4", &video()).unwrap();
        hf.put("acme", bucket, "day2/front.mp4", &video()).unwrap();
    }
    hf
}

fn hf_config(bucket: &str, token: Option<&str>) -> SourceConfig {
    SourceConfig::Hf {
        bucket: format!("acme/{bucket}"),
        token: token.map(Secret::new),
    }
}

async fn hf_open(hf: &HfStandIn, config: &SourceConfig) -> Arc<dyn ObjectStore> {
    let policy = EndpointPolicy::from_allowed([hf.cdn_addr().to_string()]).unwrap();
    open_source(config, &policy, &hf.endpoint()).await.unwrap()
}

#[tokio::test]
async fn hf_public_bucket_without_token_follows_the_cdn_redirect() {
    let hf = hf_stand_in(HfOptions::default()).await;
    let store = hf_open(&hf, &hf_config("public", None)).await;
    let path = object_path("day1/front #1.mp4").unwrap();
    let expected = video();

    let meta = store.head(&path).await.unwrap();
    assert_eq!(meta.size, expected.len() as u64);
    assert!(meta.e_tag.is_some());

    let before = hf.requests();
    let result = store.get(&path).await.unwrap();
    assert_eq!(result.meta.size, expected.len() as u64);
    assert_eq!(result.bytes().await.unwrap().as_ref(), expected.as_slice());
    assert_eq!(hf.requests() - before, 2, "resolve, then the CDN URL");

    let head = store.get_range(&path, 0..SNIFF_LEN as u64).await.unwrap();
    assert_eq!(head.as_ref(), &expected[..SNIFF_LEN]);
    sniff_mp4(&head).unwrap();
    let tail = store
        .get_range(&path, expected.len() as u64 - 10..expected.len() as u64)
        .await
        .unwrap();
    assert_eq!(tail.as_ref(), &expected[expected.len() - 10..]);
}

#[tokio::test]
async fn hf_without_redirects_too() {
    let hf = hf_stand_in(HfOptions {
        redirect: false,
        ..HfOptions::default()
    })
    .await;
    let store = hf_open(&hf, &hf_config("public", None)).await;
    let path = object_path("day1/left.mp4").unwrap();
    let range = store.get_range(&path, 4..8).await.unwrap();
    assert_eq!(range.as_ref(), b"ftyp");
}

#[tokio::test]
async fn hf_private_bucket_needs_its_token() {
    let hf = hf_stand_in(HfOptions::default()).await;
    let path = object_path("day1/left.mp4").unwrap();

    let store = hf_open(&hf, &hf_config("private", Some(HF_TOKEN))).await;
    assert_eq!(
        store.get(&path).await.unwrap().bytes().await.unwrap().len(),
        video().len()
    );

    let store = hf_open(&hf, &hf_config("private", Some("hf_wrong_token_value"))).await;
    // The Hub hides a private bucket from a token that cannot read it: 404.
    let err = store.get(&path).await.unwrap_err();
    let failure = classify(&err);
    assert_eq!(failure.kind, FailureKind::NotFound, "{err}");
    assert!(
        failure
            .message
            .contains("not found, or this token cannot read the bucket"),
        "{failure}"
    );
    assert!(!format!("{err} {err:?}").contains("hf_wrong_token_value"));

    let store = hf_open(&hf, &hf_config("private", None)).await;
    let err = store.head(&path).await.unwrap_err();
    assert_eq!(classify(&err).kind, FailureKind::BadCredentials, "{err}");
    assert!(
        classify(&err).message.starts_with("the bucket is private"),
        "{err}"
    );
    let err = store.list(None).try_collect::<Vec<_>>().await.unwrap_err();
    assert_eq!(classify(&err).kind, FailureKind::BadCredentials, "{err}");
}

#[tokio::test]
async fn hf_missing_object_and_bucket() {
    let hf = hf_stand_in(HfOptions::default()).await;
    let store = hf_open(&hf, &hf_config("public", None)).await;
    let err = store
        .head(&object_path("day1/nope.mp4").unwrap())
        .await
        .unwrap_err();
    let failure = classify(&err);
    assert_eq!(failure.kind, FailureKind::NotFound, "{err}");
    assert_eq!(failure.message, "object not found in the bucket");

    // A prefix with nothing under it is an empty listing, not an error.
    let none: Vec<_> = store
        .list(Some(&Path::parse("day9").unwrap()))
        .try_collect()
        .await
        .unwrap();
    assert!(none.is_empty());

    let store = hf_open(&hf, &hf_config("nobucket", None)).await;
    let err = store.list(None).try_collect::<Vec<_>>().await.unwrap_err();
    assert_eq!(classify(&err).kind, FailureKind::NotFound, "{err}");
    let err = store
        .list(Some(&Path::parse("day1").unwrap()))
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert_eq!(classify(&err).kind, FailureKind::NotFound, "{err}");
}

#[tokio::test]
async fn hf_list_follows_every_page() {
    let hf = hf_stand_in(HfOptions {
        page_size: 2,
        ..HfOptions::default()
    })
    .await;
    for i in 0..7 {
        hf.put("acme", "private", &format!("day3/cam{i}.mp4"), &video())
            .unwrap();
    }
    let store = hf_open(&hf, &hf_config("private", Some(HF_TOKEN))).await;
    let before = hf.requests();
    let mut all: Vec<String> = store
        .list(None)
        .map_ok(|m| m.location.to_string())
        .try_collect()
        .await
        .unwrap();
    all.sort();
    assert_eq!(all.len(), 10, "{all:?}");
    // 10 files and their folders, in pages of 2.
    assert_eq!(
        hf.requests() - before,
        7,
        "10 files and 3 folders in pages of 2"
    );
    assert!(all.contains(&"day1/front #1.mp4".to_owned()));

    let day3: Vec<_> = store
        .list(Some(&Path::parse("day3").unwrap()))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(day3.len(), 7);
    assert!(day3.iter().all(|m| m.size == video().len() as u64));

    let root = store.list_with_delimiter(None).await.unwrap();
    let mut prefixes: Vec<String> = root
        .common_prefixes
        .iter()
        .map(ToString::to_string)
        .collect();
    prefixes.sort();
    assert_eq!(prefixes, ["day1", "day2", "day3"]);
    assert!(root.objects.is_empty());
}

#[tokio::test]
async fn secrets_never_appear_in_debug_or_errors() {
    let pem_line = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7secretline";
    let key = GcsServiceAccount::from_value(serde_json::json!({
        "type": "service_account",
        "project_id": "fleet",
        "private_key_id": "abc",
        "private_key": format!("-----BEGIN PRIVATE KEY-----\n{pem_line}\n-----END PRIVATE KEY-----\n"),
        "client_email": "importer@fleet.iam.gserviceaccount.com",
        "token_uri": "https://127.0.0.1/token",
        "gcs_base_url": "https://127.0.0.1:9"
    }))
    .unwrap();
    let session = "session-token-value-0123";
    let configs = [
        s3_config(
            "http://127.0.0.1:9",
            Some(S3Credentials::new(AK, SK).with_session_token(session)),
        ),
        SourceConfig::Gcs {
            bucket: "fleet-videos".into(),
            service_account: key,
        },
        hf_config("private", Some(HF_TOKEN)),
    ];
    let secrets = [SK, session, pem_line, HF_TOKEN];
    let mut shown = String::new();
    for config in &configs {
        shown.push_str(&format!("{config:?}\n"));
        // Refused endpoints (loopback without allow-list) and opened stores.
        if let Err(err) = open_source(config, &EndpointPolicy::new(), NO_HUB).await {
            shown.push_str(&format!("{err}\n{err:?}\n"));
        }
        let policy = EndpointPolicy::from_allowed(["127.0.0.1:9", "127.0.0.1:443"]).unwrap();
        match open_source(config, &policy, "http://127.0.0.1:9").await {
            Ok(store) => {
                shown.push_str(&format!("{store}\n{store:?}\n"));
                let err = store
                    .head(&object_path("a.mp4").unwrap())
                    .await
                    .unwrap_err();
                shown.push_str(&format!("{err}\n{err:?}\n{:?}\n", classify(&err)));
            }
            Err(err) => shown.push_str(&format!("{err}\n{err:?}\n")),
        }
    }
    for secret in secrets {
        assert!(!shown.contains(secret), "{secret} leaked in:\n{shown}");
    }
    assert!(shown.contains("<redacted>"));
}

#[tokio::test]
#[ignore = "needs fake-gcs-server; run cargo xtask test"]
async fn gcs_head_get_range_and_list_on_fake_gcs_server() {
    let seed = tempfile::tempdir().unwrap();
    std::fs::create_dir(seed.path().join("fleet-videos")).unwrap();
    let gcs = tokio::task::spawn_blocking({
        let seed = seed.path().to_owned();
        move || import_testkit::FakeGcs::start(&seed)
    })
    .await
    .unwrap()
    .unwrap();
    let expected = video();
    for name in ["day1/front #1.mp4", "day1/left.mp4", "day2/front.mp4"] {
        gcs.upload("fleet-videos", name, &expected).unwrap();
    }
    let key = GcsServiceAccount::from_value(gcs.service_account_json()).unwrap();
    let config = SourceConfig::Gcs {
        bucket: "fleet-videos".into(),
        service_account: key,
    };
    let err = open_source(&config, &EndpointPolicy::new(), NO_HUB)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ProviderError::ForbiddenEndpoint { .. }),
        "{err}"
    );

    let store = open(&config, &allow(&gcs.endpoint())).await;
    let path = object_path("day1/front #1.mp4").unwrap();
    assert_eq!(store.head(&path).await.unwrap().size, expected.len() as u64);
    let bytes = store.get(&path).await.unwrap().bytes().await.unwrap();
    assert_eq!(bytes.as_ref(), expected.as_slice());
    let head = store.get_range(&path, 0..SNIFF_LEN as u64).await.unwrap();
    sniff_mp4(&head).unwrap();
    let mut listed: Vec<String> = store
        .list(Some(&Path::parse("day1").unwrap()))
        .map_ok(|m| m.location.to_string())
        .try_collect()
        .await
        .unwrap();
    listed.sort();
    assert_eq!(listed, ["day1/front #1.mp4", "day1/left.mp4"]);

    let err = store
        .head(&object_path("day1/nope.mp4").unwrap())
        .await
        .unwrap_err();
    assert_eq!(classify(&err).kind, FailureKind::NotFound, "{err}");
}

/// A Hub whose listing page never ends: the reader stops at 16 MiB with a
/// reason instead of reading it whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_hub_listing_page_is_cut() {
    use import_testkit::hostile::{Behaviour, HostileS3};

    let hub = HostileS3::start().await.unwrap();
    // The Hub's tree route: /api/buckets/acme/b/tree.
    hub.put(
        "buckets/acme/b/tree",
        Behaviour::EndlessBody {
            declared: 2,
            start: b"[".to_vec(),
        },
    );
    let store = import_providers::HfBucketStore::new(
        &hub.endpoint(),
        "acme/b",
        None,
        &import_providers::EndpointPolicy::new(),
    )
    .unwrap();
    let listed: Result<Vec<_>, _> = store.list(None).try_collect().await;
    let err = listed.expect_err("an endless page was accepted");
    let sent = hub.bytes_sent();
    println!("endless listing page: {sent} bytes sent; {err}");
    assert!(sent < 64 << 20, "{sent} bytes were sent");
}

/// The Hub's HEAD answers a redirect: its size is `X-Linked-Size`, and the
/// reader never asks the CDN for a HEAD (which CDNs may refuse); a download
/// without `Content-Length` is sized by the redirect; the token never reaches
/// the CDN; the Xet hash is kept.
#[tokio::test]
async fn hf_head_stops_at_the_redirect_and_downloads_cope_with_the_cdn() {
    let hf = hf_stand_in(HfOptions {
        cdn_refuses_head: true,
        cdn_content_length: false,
        ..HfOptions::default()
    })
    .await;
    let store = hf_open(&hf, &hf_config("private", Some(HF_TOKEN))).await;
    let path = object_path("day1/left.mp4").unwrap();
    let head = store
        .get_opts(
            &path,
            object_store::GetOptions {
                head: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(head.meta.size, video().len() as u64);
    assert!(head.meta.e_tag.is_some());
    let xet = head
        .extensions
        .get::<import_providers::HubFileInfo>()
        .and_then(|i| i.xet_hash.clone())
        .unwrap();
    assert_eq!(xet.len(), 64);
    let got = store.get(&path).await.unwrap();
    assert_eq!(got.meta.size, video().len() as u64);
    assert_eq!(got.bytes().await.unwrap().len(), video().len());
    let part = store.get_range(&path, 4..12).await.unwrap();
    assert_eq!(&part[..], &video()[4..12]);
    assert_eq!(
        hf.cdn_requests_with_a_token(),
        0,
        "the token reached the CDN"
    );

    // No X-Linked-Size either: the size comes from a one-byte range.
    let hf = hf_stand_in(HfOptions {
        linked_size: false,
        cdn_refuses_head: true,
        cdn_content_length: false,
        ..HfOptions::default()
    })
    .await;
    let store = hf_open(&hf, &hf_config("public", None)).await;
    assert_eq!(store.head(&path).await.unwrap().size, video().len() as u64);
    let got = store.get(&path).await.unwrap();
    assert_eq!(got.bytes().await.unwrap().len(), video().len());
}

/// A 429 with the Hub's RateLimit header is waited out when the reset is
/// near, and reported as such when it is far.
#[tokio::test]
async fn hf_rate_limits_are_waited_out_or_reported() {
    let hf = hf_stand_in(HfOptions {
        rate_limited: 2,
        rate_limit_reset_secs: 1,
        ..HfOptions::default()
    })
    .await;
    let store = hf_open(&hf, &hf_config("public", None)).await;
    let path = object_path("day1/left.mp4").unwrap();
    let started = std::time::Instant::now();
    assert_eq!(store.head(&path).await.unwrap().size, video().len() as u64);
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );

    let hf = hf_stand_in(HfOptions {
        rate_limited: 1,
        rate_limit_reset_secs: 3600,
        ..HfOptions::default()
    })
    .await;
    let store = hf_open(&hf, &hf_config("public", None)).await;
    let started = std::time::Instant::now();
    let err = store.head(&path).await.unwrap_err();
    let failure = classify(&err);
    assert_eq!(failure.kind, FailureKind::Transient, "{err}");
    assert!(
        failure
            .message
            .contains("rate limit for this token is spent; it resets in 3600 s"),
        "{failure}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

/// The Hub matches a listing's prefix as a string: `day1` would also give
/// `day10/...`, which is not under `day1/`.
#[tokio::test]
async fn hf_listing_keeps_only_what_is_under_the_prefix() {
    let hf = hf_stand_in(HfOptions::default()).await;
    hf.put("acme", "public", "day10/other.mp4", &video())
        .unwrap();
    let store = hf_open(&hf, &hf_config("public", None)).await;
    let mut listed: Vec<String> = store
        .list(Some(&Path::parse("day1").unwrap()))
        .map_ok(|m| m.location.to_string())
        .try_collect()
        .await
        .unwrap();
    listed.sort();
    assert_eq!(listed, ["day1/front #1.mp4", "day1/left.mp4"]);
}
