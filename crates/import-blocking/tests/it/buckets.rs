//! The `buckets` feature of the blocking client: pre-flight and expansion
//! against s3s-fs, from plain threads and from inside a tokio runtime.
//! (`cargo xtask test` runs with `--all-features`.)
#![cfg(feature = "buckets")]

use import_blocking::{
    Client, EndpointPolicy, Error, ImportRequest, ObjectCheck, PreflightOptions, S3Credentials,
    SourceConfig, split_requests,
};
use import_testkit::{Mp4Spec, S3StandIn, jpeg_bytes, sample_mp4};

const AK: &str = "AKIDTEST";
const SK: &str = "secret-test-key-0123456789";

#[test]
fn preflight_and_expand_through_the_blocking_client() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let s3 = rt.block_on(S3StandIn::start(AK, SK)).unwrap();
    s3.create_bucket("vids").unwrap();
    let clip = sample_mp4(&Mp4Spec::default());
    for i in 0..5 {
        s3.put("vids", &format!("day/cam-{i}.mp4"), &clip).unwrap();
    }
    s3.put("vids", "day/photo.mp4", &jpeg_bytes()).unwrap();
    s3.put("vids", "day/notes.txt", b"x").unwrap();

    let client = Client::builder()
        .api_key("vk_test")
        .base_url("http://127.0.0.1:9")
        .build()
        .unwrap();
    let source = SourceConfig::S3 {
        bucket: "vids".into(),
        region: None,
        endpoint_url: Some(s3.endpoint()),
        credentials: Some(S3Credentials::new(AK, SK)),
    };
    let policy = EndpointPolicy::from_allowed([s3.addr().to_string()]).unwrap();
    let hub = "https://hub.invalid";

    let uris = client
        .expand("s3://vids/day/", None, &source, &policy, hub)
        .unwrap();
    assert_eq!(uris.len(), 6);
    let cams = client
        .expand("s3://vids/day/", Some("cam-*.mp4"), &source, &policy, hub)
        .unwrap();
    assert_eq!(cams.len(), 5);
    assert_eq!(split_requests(cams, 2).len(), 3);

    let request = ImportRequest::builder()
        .uris(uris.iter().map(ToString::to_string))
        .uri("s3://vids/day/gone.mp4")
        .build()
        .unwrap();
    let options = PreflightOptions::default();
    let report = client
        .preflight(&request, &source, Some("day/"), &options, &policy, hub)
        .unwrap();
    assert_eq!(report.ready().count(), 5, "{report}");
    let problems: Vec<&ObjectCheck> = report.problems().map(|o| &o.check).collect();
    assert!(
        matches!(
            problems[..],
            [ObjectCheck::NotMp4 { .. }, ObjectCheck::Missing]
        ),
        "{report}"
    );

    // Called from async code, it runs on a thread of its own.
    let inside = rt.block_on(async {
        client.expand("s3://vids/day/", Some("photo.mp4"), &source, &policy, hub)
    });
    assert_eq!(inside.unwrap().len(), 1);

    // Wrong inputs name what to fix; nothing panics.
    let err = client
        .expand("s3://other-bucket/day/", None, &source, &policy, hub)
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput(_)), "{err}");
    assert!(
        err.to_string()
            .contains("the objects are in `s3://other-bucket/`"),
        "{err}"
    );
    let err = client
        .expand("s3://vids/day/", Some("cam[0-9.mp4"), &source, &policy, hub)
        .unwrap_err();
    assert!(err.to_string().contains("unclosed `[`"), "{err}");
    let err = client
        .preflight(
            &request,
            &source,
            None,
            &options,
            &EndpointPolicy::new(),
            hub,
        )
        .unwrap_err();
    assert!(err.to_string().contains("--allow-endpoint"), "{err}");
    let wrong = SourceConfig::S3 {
        bucket: "vids".into(),
        region: None,
        endpoint_url: Some(s3.endpoint()),
        credentials: Some(S3Credentials::new(AK, "wrong-secret-key-abcdef")),
    };
    let report = client
        .preflight(&request, &wrong, None, &options, &policy, hub)
        .unwrap();
    assert!(report.credentials.is_some(), "{report}");
    let err = client
        .expand("s3://vids/day/", None, &wrong, &policy, hub)
        .unwrap_err();
    assert!(err.to_string().contains("could not be listed"), "{err}");
    assert!(!format!("{err} {err:?} {report}").contains("wrong-secret-key"));
}
