//! fake-gcs-server starts, takes uploads and lists them.

use import_testkit::FakeGcs;
use import_testkit::raw;

#[test]
#[ignore = "needs fake-gcs-server; run cargo xtask test"]
fn starts_uploads_and_lists() {
    let seed = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(seed.path().join("seeded/2024")).unwrap();
    std::fs::write(seed.path().join("seeded/2024/front.mp4"), b"seed bytes").unwrap();

    let gcs = FakeGcs::start(seed.path()).unwrap();
    assert_eq!(gcs.endpoint(), format!("http://{}", gcs.addr()));
    assert_eq!(
        gcs.object_names("seeded").unwrap(),
        vec!["2024/front.mp4".to_owned()]
    );

    gcs.create_bucket("vids").unwrap();
    let video = import_testkit::sample_mp4(&Default::default());
    gcs.upload("vids", "2024-09-01/cam 0.mp4", &video).unwrap();
    gcs.upload("vids", "2024-09-01/cam1.mp4", b"x").unwrap();
    assert_eq!(
        gcs.object_names("vids").unwrap(),
        vec![
            "2024-09-01/cam 0.mp4".to_owned(),
            "2024-09-01/cam1.mp4".to_owned()
        ]
    );
    // The object reads back through the JSON API's media route.
    let read = raw::request(
        gcs.addr(),
        "GET",
        "/storage/v1/b/vids/o/2024-09-01%2Fcam%200.mp4?alt=media",
        &[("Range", "bytes=0-7")],
        b"",
    )
    .unwrap();
    assert_eq!(read.status, 206, "{}", read.text());
    assert_eq!(read.body, video[..8]);
    assert!(gcs.upload("no-such-bucket", "a.mp4", b"x").is_err());

    let key = gcs.service_account_json();
    assert_eq!(key["gcs_base_url"], gcs.endpoint());
    assert_eq!(key["disable_oauth"], true);
    for field in ["client_email", "private_key", "private_key_id"] {
        assert!(key[field].is_string(), "{field}");
    }

    let addr = gcs.addr();
    drop(gcs);
    assert!(raw::request(addr, "GET", "/storage/v1/b", &[], b"").is_err());
}
