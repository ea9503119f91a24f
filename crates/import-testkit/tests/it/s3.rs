//! The S3 stand-in is s3s-fs with authentication on: files land on disk,
//! unsigned requests are refused.

use import_testkit::S3StandIn;
use import_testkit::raw;
use tokio::runtime::Runtime;

const AK: &str = "AKIDTEST";
const SK: &str = "secret-test-key";

#[test]
fn objects_land_on_disk_and_unsigned_requests_are_refused() {
    let rt = Runtime::new().unwrap();
    let s3 = rt.block_on(S3StandIn::start(AK, SK)).unwrap();
    assert_eq!(s3.access_key(), AK);
    assert_eq!(s3.secret_key(), SK);
    assert_eq!(s3.endpoint(), format!("http://{}", s3.addr()));

    s3.create_bucket("vids").unwrap();
    s3.put("vids", "2024-09-01/cam0.mp4", b"hello").unwrap();
    let on_disk = s3.root().join("vids/2024-09-01/cam0.mp4");
    assert_eq!(std::fs::read(on_disk).unwrap(), b"hello");

    for (method, target) in [
        ("GET", "/vids/2024-09-01/cam0.mp4"),
        ("HEAD", "/vids/2024-09-01/cam0.mp4"),
        ("GET", "/vids?list-type=2"),
        ("GET", "/"),
    ] {
        let response = raw::request(s3.addr(), method, target, &[], b"").unwrap();
        assert_eq!(
            response.status,
            403,
            "{method} {target}: {}",
            response.text()
        );
        if method == "GET" {
            assert!(
                response.text().contains("AccessDenied"),
                "{}",
                response.text()
            );
        }
    }

    // A request that claims a signature it does not have is refused too.
    let forged = raw::request(
        s3.addr(),
        "GET",
        "/vids/2024-09-01/cam0.mp4",
        &[
            (
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=AKIDTEST/20240901/us-east-1/s3/aws4_request, \
                 SignedHeaders=host;x-amz-date, Signature=0000000000000000000000000000000000000000000000000000000000000000",
            ),
            ("x-amz-date", "20240901T000000Z"),
            ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
        ],
        b"",
    )
    .unwrap();
    assert_eq!(forged.status, 403, "{}", forged.text());
}

#[test]
fn helpers_refuse_what_s3s_fs_cannot_serve() {
    let rt = Runtime::new().unwrap();
    let s3 = rt.block_on(S3StandIn::start(AK, SK)).unwrap();
    assert!(s3.create_bucket("ab").is_err(), "too short");
    assert!(s3.create_bucket("Upper").is_err());
    s3.create_bucket("vids").unwrap();
    assert!(s3.put("nope", "a.mp4", b"x").is_err(), "no such bucket");
    s3.put("vids", "a/b.mp4", b"x").unwrap();
    // A key that is a folder, or under a file, would make s3s-fs answer 500.
    assert!(s3.put("vids", "a", b"x").is_err());
    assert!(s3.put("vids", "a/b.mp4/c.mp4", b"x").is_err());
    assert!(s3.put("vids", "../escape.mp4", b"x").is_err());
    assert!(s3.put("vids", "a//b.mp4", b"x").is_err());
    assert!(rt.block_on(S3StandIn::start("", SK)).is_err());
}

#[test]
fn serves_a_given_folder_and_stops_on_drop() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("seeded")).unwrap();
    let rt = Runtime::new().unwrap();
    let s3 = rt
        .block_on(S3StandIn::start_in(dir.path(), AK, SK))
        .unwrap();
    assert_eq!(s3.root(), dir.path().canonicalize().unwrap());
    let addr = s3.addr();
    assert!(std::net::TcpStream::connect(addr).is_ok());
    drop(s3);
    assert!(dir.path().join("seeded").is_dir(), "a given folder is kept");
    let mut refused = false;
    for _ in 0..100 {
        if std::net::TcpStream::connect(addr).is_err() {
            refused = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(refused, "still listening after drop");
}
