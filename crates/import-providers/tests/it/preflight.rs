//! Pre-flight checks and prefix expansion against real stand-ins of the
//! clouds: s3s-fs (S3 with SigV4), the Hugging Face bucket double, and
//! fake-gcs-server.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use import_core::{CloudUri, Glob, ImportRequest};
use import_providers::{
    EndpointPolicy, FailureKind, GcsServiceAccount, ObjectCheck, PreflightOptions, PreflightReport,
    ProviderError, S3Credentials, Secret, SourceConfig, expand, open_source, preflight,
    split_requests,
};
use import_testkit::fault::FaultProxy;
use import_testkit::{FakeGcs, HfOptions, HfStandIn, Mp4Spec, S3StandIn, jpeg_bytes, sample_mp4};
use object_store::ObjectStore;

const AK: &str = "AKIDTEST";
const SK: &str = "secret-test-key-0123456789";
const HF_TOKEN: &str = "hf_private_token_0123456789";
const NO_HUB: &str = "https://hub.invalid";

fn video(mdat_bytes: usize) -> Vec<u8> {
    sample_mp4(&Mp4Spec {
        mdat_bytes,
        ..Mp4Spec::default()
    })
}

fn request(uris: &[String]) -> ImportRequest {
    ImportRequest::builder().uris(uris).build().unwrap()
}

async fn s3_store(endpoint: &str, secret: &str) -> Arc<dyn ObjectStore> {
    let config = SourceConfig::S3 {
        bucket: "vids".into(),
        region: None,
        endpoint_url: Some(endpoint.to_owned()),
        credentials: Some(S3Credentials::new(AK, secret)),
    };
    let host_port = endpoint.trim_start_matches("http://");
    let policy = EndpointPolicy::from_allowed([host_port]).unwrap();
    open_source(&config, &policy, NO_HUB).await.unwrap()
}

/// Runs a pre-flight and checks the progress callback went from 1 to total.
async fn run(
    request: &ImportRequest,
    store: impl Into<import_providers::PreflightStore>,
    prefix: Option<&str>,
    concurrency: usize,
) -> PreflightReport {
    let calls = AtomicUsize::new(0);
    let total = request.object_count();
    let options = PreflightOptions::default().with_concurrency(concurrency);
    let report = preflight(request, store, prefix, &options, |done, all| {
        assert_eq!(all, total);
        let previous = calls.fetch_add(1, Ordering::SeqCst);
        assert_eq!(done, previous + 1);
    })
    .await;
    assert_eq!(calls.load(Ordering::SeqCst), total);
    assert_eq!(report.objects.len(), total);
    report
}

fn check_of<'a>(report: &'a PreflightReport, uri: &str) -> &'a ObjectCheck {
    &report
        .objects
        .iter()
        .find(|o| o.uri.to_string() == uri)
        .unwrap_or_else(|| panic!("{uri} not in the report"))
        .check
}

#[tokio::test]
async fn s3_reports_every_problem_per_object() {
    let s3 = S3StandIn::start(AK, SK).await.unwrap();
    s3.create_bucket("vids").unwrap();
    let (big, small) = (video(64 * 1024), video(1000));
    s3.put("vids", "raw/front.mp4", &big).unwrap();
    s3.put("vids", "raw/trip #1/rear.MP4", &small).unwrap();
    s3.put("vids", "raw/empty.mp4", b"").unwrap();
    s3.put("vids", "raw/photo.mp4", &jpeg_bytes()).unwrap();
    s3.put("vids", "raw/tiny.mp4", b"hello").unwrap();
    s3.put("vids", "cooked/outside.mp4", &big).unwrap();
    // Through a recording proxy, to see which requests were sent.
    let proxy = FaultProxy::start(s3.addr()).await.unwrap();
    let store = s3_store(&proxy.endpoint(), SK).await;

    let uris: Vec<String> = [
        "raw/front.mp4",
        "raw/trip #1/rear.MP4",
        "raw/empty.mp4",
        "raw/photo.mp4",
        "raw/tiny.mp4",
        "raw/missing.mp4",
        "cooked/outside.mp4",
    ]
    .iter()
    .map(|name| format!("s3://vids/{name}"))
    .collect();
    let request = request(&uris);
    let report = run(&request, store, Some("raw/"), 4).await;

    let order: Vec<String> = report.objects.iter().map(|o| o.uri.to_string()).collect();
    assert_eq!(order, uris, "the report keeps the request's order");
    assert_eq!(
        check_of(&report, "s3://vids/raw/front.mp4"),
        &ObjectCheck::Ok {
            size: big.len() as u64
        }
    );
    assert_eq!(
        check_of(&report, "s3://vids/raw/trip #1/rear.MP4"),
        &ObjectCheck::Ok {
            size: small.len() as u64
        }
    );
    assert_eq!(
        check_of(&report, "s3://vids/raw/empty.mp4"),
        &ObjectCheck::Empty
    );
    let ObjectCheck::NotMp4 { reason } = check_of(&report, "s3://vids/raw/photo.mp4") else {
        panic!("{report}");
    };
    assert!(
        reason.contains("JPEG") && reason.contains("convert"),
        "{reason}"
    );
    let ObjectCheck::NotMp4 { reason } = check_of(&report, "s3://vids/raw/tiny.mp4") else {
        panic!("{report}");
    };
    assert!(reason.contains("too short"), "{reason}");
    assert_eq!(
        check_of(&report, "s3://vids/raw/missing.mp4"),
        &ObjectCheck::Missing
    );
    assert_eq!(
        check_of(&report, "s3://vids/cooked/outside.mp4"),
        &ObjectCheck::OutsidePrefix {
            prefix: "raw/".into()
        }
    );
    assert!(!report.is_ok());
    assert_eq!(report.credentials, None);
    assert_eq!(report.problems().count(), 5);
    assert_eq!(report.ready().count(), 2);

    let text = report.to_string();
    assert!(
        text.starts_with("pre-flight: 2 of 7 objects ready"),
        "{text}"
    );
    assert!(
        text.contains("s3://vids/raw/photo.mp4: the object is not an MP4"),
        "{text}"
    );
    assert!(
        text.contains("s3://vids/cooked/outside.mp4: outside the integration's prefix `raw/`"),
        "{text}"
    );

    let requests = proxy.requests();
    assert!(
        requests.iter().all(|r| !r.path.contains("cooked")),
        "no request for an object outside the prefix"
    );
    let gets = requests.iter().filter(|r| r.method == "GET").count();
    let heads = requests.iter().filter(|r| r.method == "HEAD").count();
    assert_eq!(heads, 6, "one HEAD per object inside the prefix");
    assert_eq!(gets, 4, "one ranged GET per non-empty object");
    assert!(
        requests
            .iter()
            .filter(|r| r.method == "GET")
            .all(|r| r.header("range") == Some("bytes=0-63")
                || r.header("range") == Some("bytes=0-4")),
        "{requests:?}"
    );
}

#[tokio::test]
async fn s3_wrong_secret_is_reported_once_and_stops_the_checks() {
    let s3 = S3StandIn::start(AK, SK).await.unwrap();
    s3.create_bucket("vids").unwrap();
    let uris: Vec<String> = (0..50)
        .map(|i| {
            let name = format!("day/cam-{i}.mp4");
            s3.put("vids", &name, &video(100)).unwrap();
            format!("s3://vids/{name}")
        })
        .collect();
    let proxy = FaultProxy::start(s3.addr()).await.unwrap();
    let wrong = "wrong-secret-key-abcdef";
    let store = s3_store(&proxy.endpoint(), wrong).await;

    let report = run(&request(&uris), store, None, 32).await;
    let credentials = report.credentials.as_deref().expect("credentials problem");
    assert!(
        credentials.contains("check the integration's keys"),
        "{credentials}"
    );
    assert!(
        report
            .objects
            .iter()
            .all(|o| o.check == ObjectCheck::NotChecked),
        "{report:?}"
    );
    assert_eq!(proxy.requests().len(), 1, "the bucket was not hammered");
    assert!(!report.is_ok());
    let text = report.to_string();
    assert!(text.contains("50 not checked"), "{text}");
    assert_eq!(
        text.matches("check the integration's keys").count(),
        1,
        "{text}"
    );
    assert!(!format!("{text} {report:?}").contains(wrong));

    // With the right key, every object is fine.
    let store = s3_store(&s3.endpoint(), SK).await;
    let report = run(&request(&uris), store, None, 32).await;
    assert!(report.is_ok(), "{report}");
}

fn hf_config(bucket: &str, token: Option<&str>) -> SourceConfig {
    SourceConfig::Hf {
        bucket: format!("acme/{bucket}"),
        token: token.map(Secret::new),
    }
}

/// The bucket as a pre-flight opens it, with the Hub's paths-info.
async fn hf_preflight(hf: &HfStandIn, config: &SourceConfig) -> import_providers::PreflightStore {
    let policy = EndpointPolicy::from_allowed([hf.cdn_addr().to_string()]).unwrap();
    import_providers::PreflightStore::open(config, &policy, &hf.endpoint())
        .await
        .unwrap()
}

async fn hf_store(hf: &HfStandIn, config: &SourceConfig) -> Arc<dyn ObjectStore> {
    let policy = EndpointPolicy::from_allowed([hf.cdn_addr().to_string()]).unwrap();
    open_source(config, &policy, &hf.endpoint()).await.unwrap()
}

#[tokio::test]
async fn hf_public_and_private_buckets() {
    let hf = HfStandIn::start().await.unwrap();
    hf.add_bucket("acme", "public", None).unwrap();
    hf.add_bucket("acme", "private", Some(HF_TOKEN)).unwrap();
    let clip = video(2000);
    for bucket in ["public", "private"] {
        hf.put("acme", bucket, "day1/front #1.mp4", &clip).unwrap();
        hf.put("acme", bucket, "day1/left.mp4", &clip).unwrap();
        hf.put("acme", bucket, "day1/photo.mp4", &jpeg_bytes())
            .unwrap();
    }
    let uris = |bucket: &str| -> Vec<String> {
        [
            "day1/front #1.mp4",
            "day1/left.mp4",
            "day1/photo.mp4",
            "day1/nope.mp4",
        ]
        .iter()
        .map(|name| format!("hf://buckets/acme/{bucket}/{name}"))
        .collect()
    };

    // paths-info answers for the four at once (the missing one needs no
    // more), then a ranged read of each that exists (the Hub's redirect and
    // the CDN): 7 requests, no HEAD.
    let store = hf_preflight(&hf, &hf_config("public", None)).await;
    let before = hf.requests();
    let report = run(&request(&uris("public")), store, Some("day1/"), 8).await;
    assert_eq!(hf.requests() - before, 7);
    let checks: Vec<&ObjectCheck> = report.objects.iter().map(|o| &o.check).collect();
    let size = clip.len() as u64;
    assert!(
        matches!(checks[..], [
        ObjectCheck::Ok { size: a },
        ObjectCheck::Ok { size: b },
        ObjectCheck::NotMp4 { .. },
        ObjectCheck::Missing,
    ] if *a == size && *b == size),
        "{report}"
    );

    let store = hf_preflight(&hf, &hf_config("private", Some(HF_TOKEN))).await;
    let report = run(&request(&uris("private")), store, None, 8).await;
    assert_eq!(report.ready().count(), 2, "{report}");
    assert_eq!(report.credentials, None);

    // No token for a private bucket: reported once, one request sent.
    let store = hf_preflight(&hf, &hf_config("private", None)).await;
    let before = hf.requests();
    let report = run(&request(&uris("private")), store, None, 8).await;
    assert_eq!(hf.requests() - before, 1);
    let credentials = report.credentials.as_deref().unwrap();
    assert!(credentials.contains("token"), "{credentials}");
    assert!(
        report
            .objects
            .iter()
            .all(|o| o.check == ObjectCheck::NotChecked)
    );

    // A wrong token: access denied before anything worked is a credentials problem too.
    let wrong = "hf_wrong_token_value_42";
    let store = hf_preflight(&hf, &hf_config("private", Some(wrong))).await;
    let report = run(&request(&uris("private")), store, None, 8).await;
    assert!(report.credentials.is_some(), "{report}");
    assert!(!format!("{report} {report:?}").contains(wrong));
}

#[tokio::test]
async fn hf_expansion_follows_pages() {
    let hf = HfStandIn::start_with(HfOptions {
        page_size: 7,
        ..HfOptions::default()
    })
    .await
    .unwrap();
    hf.add_bucket("acme", "fleet", Some(HF_TOKEN)).unwrap();
    for i in 0..30 {
        hf.put("acme", "fleet", &format!("day1/cam-{i:02}.mp4"), b"x")
            .unwrap();
    }
    hf.put("acme", "fleet", "day1/sub/deep.mp4", b"x").unwrap();
    hf.put("acme", "fleet", "day1/notes.txt", b"x").unwrap();
    hf.put("acme", "fleet", "day2/cam-00.mp4", b"x").unwrap();
    let store = hf_store(&hf, &hf_config("fleet", Some(HF_TOKEN))).await;

    let all = expand(Arc::clone(&store), "hf://buckets/acme/fleet/day1/", None)
        .await
        .unwrap();
    assert_eq!(all.len(), 31);
    assert_eq!(
        all[0].to_string(),
        "hf://buckets/acme/fleet/day1/cam-00.mp4"
    );
    assert_eq!(
        all[30].to_string(),
        "hf://buckets/acme/fleet/day1/sub/deep.mp4"
    );

    let glob = Glob::parse("cam-1?.mp4").unwrap();
    let tens = expand(store, "hf://buckets/acme/fleet/day1/", Some(&glob))
        .await
        .unwrap();
    assert_eq!(tens.len(), 10);

    let store = hf_store(&hf, &hf_config("fleet", None)).await;
    let err = expand(store, "hf://buckets/acme/fleet/day1/", None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ProviderError::List {
                kind: FailureKind::BadCredentials,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string()
            .starts_with("listing `hf://buckets/acme/fleet/day1/` failed: "),
        "{err}"
    );
}

/// `cams` objects `day/cam-{i}.mp4`, plus 160 others that a glob or the
/// `.mp4` rule tells apart: `.jpg`, `.MP4`, nested folders, other prefixes.
fn seed_expansion_bucket(s3: &S3StandIn, cams: usize) {
    s3.create_bucket("vids").unwrap();
    let write = |key: &str| {
        let path = s3.object_path("vids", key).unwrap();
        std::fs::write(path, b"small").unwrap();
    };
    for i in 0..cams {
        write(&format!("day/cam-{i}.mp4"));
    }
    for i in 0..40 {
        write(&format!("day/cam-{i}.jpg"));
        write(&format!("day/UPPER-{i}.MP4"));
        write(&format!("day/nested/{}/clip-{i}.mp4", i % 4));
        write(&format!("night/cam-{i}.mp4"));
    }
    write("day/notes.mp4.txt");
    write("daylight/cam-0.mp4");
}

async fn expand_with(
    store: &Arc<dyn ObjectStore>,
    prefix: &str,
    glob: Option<&str>,
) -> Vec<CloudUri> {
    let glob = glob.map(|g| Glob::parse(g).unwrap());
    expand(Arc::clone(store), prefix, glob.as_ref())
        .await
        .unwrap()
}

#[tokio::test]
async fn s3_expansion_of_ten_thousand_objects_into_requests() {
    let s3 = S3StandIn::start(AK, SK).await.unwrap();
    seed_expansion_bucket(&s3, 10_000);
    let store = s3_store(&s3.endpoint(), SK).await;

    // Default: every `.mp4` in any case, nested ones included.
    let every = expand_with(&store, "s3://vids/day/", None).await;
    assert_eq!(every.len(), 10_000 + 40 + 40);
    assert!(
        every.windows(2).all(|w| w[0] < w[1]),
        "sorted, no duplicates"
    );
    assert!(every.contains(&CloudUri::parse("s3://vids/day/UPPER-7.MP4").unwrap()));
    assert!(every.iter().all(|u| u.object().starts_with("day/")));

    // `*` stays in the folder: the 10,000 cameras, in 3 requests of at most 4,000.
    let cams = expand_with(&store, "s3://vids/day/", Some("cam-*.mp4")).await;
    assert_eq!(cams.len(), 10_000);
    assert_eq!(cams[0].to_string(), "s3://vids/day/cam-0.mp4");
    let chunks = split_requests(cams.clone(), 4_000);
    assert_eq!(
        chunks.iter().map(Vec::len).collect::<Vec<_>>(),
        [4_000, 4_000, 2_000]
    );
    assert_eq!(chunks.concat(), cams);
    for chunk in &chunks {
        let request = ImportRequest::builder()
            .uris(chunk.iter().map(ToString::to_string))
            .max_objects(4_000)
            .build()
            .unwrap();
        assert_eq!(request.total(), chunk.len());
    }
}

#[tokio::test]
async fn s3_expansion_globs_and_prefixes() {
    let s3 = S3StandIn::start(AK, SK).await.unwrap();
    seed_expansion_bucket(&s3, 100);
    let store = s3_store(&s3.endpoint(), SK).await;
    let count = |prefix: &'static str, glob: Option<&'static str>| {
        let store = Arc::clone(&store);
        async move { expand_with(&store, prefix, glob).await.len() }
    };

    assert_eq!(count("s3://vids/day/", None).await, 100 + 40 + 40);
    assert_eq!(count("s3://vids/day/", Some("cam-*.mp4")).await, 100);
    assert_eq!(count("s3://vids/day/", Some("**/*.mp4")).await, 140);
    assert_eq!(count("s3://vids/day/", Some("nested/**")).await, 40);
    assert_eq!(count("s3://vids/day/", Some("nested/[!0]/*")).await, 30);
    assert_eq!(count("s3://vids/day/", Some("*.MP4")).await, 40);
    assert_eq!(count("s3://vids/day/", Some("cam-[0-9].mp4")).await, 10);
    assert_eq!(count("s3://vids/day/", Some("cam-?5.mp4")).await, 9);
    assert_eq!(count("s3://vids/", Some("*/cam-1.mp4")).await, 2);
    assert_eq!(count("s3://vids", None).await, 100 + 40 + 40 + 40 + 1);
    // A prefix that does not end in `/` is matched as a string.
    assert_eq!(count("s3://vids/day/cam-1", None).await, 1 + 10);
    // Relative to `day`, the names are `/cam-0.mp4` and `light/cam-0.mp4`.
    let day = expand_with(&store, "s3://vids/day", Some("*/cam-0.mp4")).await;
    let names: Vec<&str> = day.iter().map(CloudUri::object).collect();
    assert_eq!(names, ["day/cam-0.mp4", "daylight/cam-0.mp4"]);
    assert_eq!(count("s3://vids/day", Some("light/*")).await, 1);
    assert_eq!(count("s3://vids/empty/", None).await, 0);

    let err = expand(Arc::clone(&store), "s3://vids/day/*.mp4", None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("--glob"), "{err}");

    let wrong = s3_store(&s3.endpoint(), "wrong-secret-key-abcdef").await;
    let err = expand(wrong, "s3://vids/day/", None).await.unwrap_err();
    assert!(
        matches!(
            err,
            ProviderError::List {
                kind: FailureKind::BadCredentials,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("secret access key"), "{err}");
}

#[tokio::test]
#[ignore = "needs fake-gcs-server; run cargo xtask test"]
async fn gcs_preflight_and_expansion() {
    let seed = tempfile::tempdir().unwrap();
    std::fs::create_dir(seed.path().join("fleet-videos")).unwrap();
    let gcs = tokio::task::spawn_blocking({
        let seed = seed.path().to_owned();
        move || FakeGcs::start(&seed)
    })
    .await
    .unwrap()
    .unwrap();
    let clip = video(3000);
    // Short blocking uploads, accepted in a test.
    let objects: [(&str, &[u8]); 5] = [
        ("2024/front.mp4", &clip),
        ("2024/sub/left.mp4", &clip),
        ("2024/photo.mp4", &jpeg_bytes()),
        ("2024/empty.mp4", b""),
        ("2024/x.jpg", &jpeg_bytes()),
    ];
    for (name, bytes) in objects {
        gcs.upload("fleet-videos", name, bytes).unwrap();
    }
    let config = SourceConfig::Gcs {
        bucket: "fleet-videos".into(),
        service_account: GcsServiceAccount::from_value(gcs.service_account_json()).unwrap(),
    };
    let host_port = gcs.endpoint().trim_start_matches("http://").to_owned();
    let policy = EndpointPolicy::from_allowed([host_port]).unwrap();
    let store = open_source(&config, &policy, NO_HUB).await.unwrap();

    let uris = expand(Arc::clone(&store), "gs://fleet-videos/2024/", None)
        .await
        .unwrap();
    let names: Vec<&str> = uris.iter().map(CloudUri::object).collect();
    assert_eq!(
        names,
        [
            "2024/empty.mp4",
            "2024/front.mp4",
            "2024/photo.mp4",
            "2024/sub/left.mp4"
        ]
    );

    let mut all: Vec<String> = uris.iter().map(ToString::to_string).collect();
    all.push("gs://fleet-videos/2024/nope.mp4".into());
    all.push("gs://fleet-videos/other/y.mp4".into());
    let report = run(&request(&all), store, Some("2024/"), 4).await;
    let size = clip.len() as u64;
    assert_eq!(
        check_of(&report, "gs://fleet-videos/2024/front.mp4"),
        &ObjectCheck::Ok { size }
    );
    assert_eq!(
        check_of(&report, "gs://fleet-videos/2024/sub/left.mp4"),
        &ObjectCheck::Ok { size }
    );
    assert_eq!(
        check_of(&report, "gs://fleet-videos/2024/empty.mp4"),
        &ObjectCheck::Empty
    );
    assert!(matches!(
        check_of(&report, "gs://fleet-videos/2024/photo.mp4"),
        ObjectCheck::NotMp4 { .. }
    ));
    assert_eq!(
        check_of(&report, "gs://fleet-videos/2024/nope.mp4"),
        &ObjectCheck::Missing
    );
    assert!(matches!(
        check_of(&report, "gs://fleet-videos/other/y.mp4"),
        ObjectCheck::OutsidePrefix { .. }
    ));
}

/// Pre-flight against a Hub whose CDN refuses HEAD and streams without
/// Content-Length, and whose redirects carry no X-Linked-Size: paths-info
/// gives the sizes, ranged reads the signatures.
#[tokio::test]
async fn hf_preflight_copes_with_a_cdn_that_refuses_head() {
    let hf = HfStandIn::start_with(HfOptions {
        cdn_refuses_head: true,
        cdn_content_length: false,
        linked_size: false,
        ..HfOptions::default()
    })
    .await
    .unwrap();
    hf.add_bucket("acme", "public", None).unwrap();
    let clip = video(2000);
    hf.put("acme", "public", "a.mp4", &clip).unwrap();
    hf.put("acme", "public", "photo.mp4", &jpeg_bytes())
        .unwrap();
    let uris: Vec<String> = ["a.mp4", "photo.mp4", "gone.mp4"]
        .iter()
        .map(|n| format!("hf://buckets/acme/public/{n}"))
        .collect();
    let store = hf_preflight(&hf, &hf_config("public", None)).await;
    let report = run(&request(&uris), store, None, 4).await;
    let checks: Vec<&ObjectCheck> = report.objects.iter().map(|o| &o.check).collect();
    assert!(
        matches!(checks[..], [
            ObjectCheck::Ok { size },
            ObjectCheck::NotMp4 { .. },
            ObjectCheck::Missing,
        ] if *size == clip.len() as u64),
        "{report}"
    );
}
