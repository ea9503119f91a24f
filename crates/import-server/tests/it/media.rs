//! A bucket as the media store: the server writes imported videos to an s3s-fs
//! bucket (SigV4, its own keys) configured with `media_options`, once each and
//! without reading them back (the stand-ins count the requests), and refuses
//! a media option it does not know at start.

use crate::common::*;
use import_server::Server;
use import_testkit::S3StandIn;
use reqwest::StatusCode;
use serde_json::{Value, json};

const MEDIA_AK: &str = "AKIDMEDIA";
const MEDIA_SK: &str = "media-secret-key-4c3b2a";
const MEDIA_BUCKET: &str = "vimport-media";
const MEDIA_PREFIX: &str = "prod/v1";

/// The options that point an S3 media store at a stand-in.
fn media_options(media: &S3StandIn) -> Vec<(String, String)> {
    [
        ("aws_endpoint", media.endpoint()),
        ("aws_access_key_id", MEDIA_AK.to_owned()),
        ("aws_secret_access_key", MEDIA_SK.to_owned()),
        ("aws_region", "us-east-1".to_owned()),
        ("aws_allow_http", "true".to_owned()),
        ("aws_virtual_hosted_style_request", "false".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

#[tokio::test]
async fn imported_videos_land_in_the_media_bucket_written_once_never_read() {
    let media = S3StandIn::start(MEDIA_AK, MEDIA_SK).await.unwrap();
    media.create_bucket(MEDIA_BUCKET).unwrap();
    let options = media_options(&media);
    let env = env_with(|c| {
        c.media_url = Some(format!("s3://{MEDIA_BUCKET}/{MEDIA_PREFIX}"));
        c.media_options = options;
    })
    .await;

    let front = mp4(1280, 720, 4_000);
    let rear = mp4(640, 480, 2_500);
    env.s3.put(BUCKET, "cams/front.mp4", &front).unwrap();
    env.s3.put(BUCKET, "cams/rear.mp4", &rear).unwrap();
    let ci = env.s3_integration(SK, None).await;
    let (status, up) = env
        .post(
            "/api/s3/upload",
            json!({"keys": ["cams/front.mp4", "cams/rear.mp4"], "bucket": BUCKET,
                   "integration_id": ci}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{up}");
    let job_id = up["import_job_id"].as_str().unwrap();
    let job = env.wait_job(job_id).await;
    assert_eq!(
        job["counts"],
        json!({"uploaded": 2, "failed": 0, "pending": 0}),
        "{job}"
    );

    let rows = env.rows(job_id, 10).await;
    assert_eq!(rows.len(), 2);
    for row in &rows {
        assert_eq!(row["status"], "UPLOADED", "{row}");
        let uri = row["import_source_uri"].as_str().unwrap();
        let (source, width, height, duration_s) = if uri.ends_with("front.mp4") {
            (&front, 1280, 720, 4.0)
        } else {
            (&rear, 640, 480, 2.5)
        };
        let id = row["video_id"].as_str().unwrap();
        let (status, st) = env.get(&format!("/api/video/{id}/status")).await;
        assert_eq!(status, StatusCode::OK, "{st}");
        let m: &Value = &st["metadata"];
        assert_eq!(m["size_bytes"], source.len() as u64, "{m}");
        assert_eq!(
            (m["width"].as_u64(), m["height"].as_u64()),
            (Some(width), Some(height))
        );
        assert!(
            (m["duration_s"].as_f64().unwrap() - duration_s).abs() < 1e-6,
            "{m}"
        );
        assert_eq!(m["codec"], "avc1");

        // The object is in the media bucket, under the URL's prefix, byte for byte.
        let on_disk = media
            .root()
            .join(MEDIA_BUCKET)
            .join(MEDIA_PREFIX)
            .join("videos")
            .join(format!("{id}.1.mp4"));
        let stored = std::fs::read(&on_disk)
            .unwrap_or_else(|e| panic!("{} is missing: {e}", on_disk.display()));
        assert_eq!(stored.len(), source.len(), "{}", on_disk.display());
        assert_eq!(&stored, source, "{}", on_disk.display());
    }

    // One request per object at the source (a GET, no HEAD); the media
    // bucket is written once per object (one PUT: small objects are not
    // multipart uploads) and never read during the import.
    assert_eq!(env.s3.operations("GetObject"), 2);
    assert_eq!(env.s3.operations("HeadObject"), 0);
    assert_eq!(media.operations("PutObject"), 2);
    assert_eq!(media.operations("CreateMultipartUpload"), 0);
    assert_eq!(media.operations("GetObject"), 0);
    assert_eq!(media.operations("HeadObject"), 0);

    // Nothing went to the local media folder.
    let local = env.dir.path().join("media");
    let local_files = std::fs::read_dir(&local).map_or(0, |d| d.count());
    assert_eq!(local_files, 0, "{} should be unused", local.display());
    env.server.shutdown().await;
}

/// What `Server::start` says about a configuration, which must be refused.
async fn start_error(tune: impl FnOnce(&mut import_server::ServerConfig)) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path(), &[]);
    tune(&mut c);
    match Server::start(c).await {
        Ok(server) => {
            server.shutdown().await;
            panic!("the server started although its media configuration is wrong")
        }
        Err(e) => e.to_string(),
    }
}

#[tokio::test]
async fn an_unknown_media_option_stops_the_start_with_a_clear_error() {
    let media = S3StandIn::start(MEDIA_AK, MEDIA_SK).await.unwrap();
    media.create_bucket(MEDIA_BUCKET).unwrap();
    let mut options = media_options(&media);
    options.push(("aws_endpiont_url".to_owned(), "http://x".to_owned()));
    let e = start_error(|c| {
        c.media_url = Some(format!("s3://{MEDIA_BUCKET}/{MEDIA_PREFIX}"));
        c.media_options = options;
    })
    .await;
    assert!(e.contains("`aws_endpiont_url`"), "names the key: {e}");
    assert!(e.contains("aws_endpoint"), "names valid keys: {e}");
    assert!(!e.contains(MEDIA_SK), "leaks the secret: {e}");
}

#[tokio::test]
async fn media_options_on_a_folder_and_unsupported_urls_are_refused() {
    let e = start_error(|c| {
        c.media_options = vec![("aws_secret_access_key".into(), MEDIA_SK.into())];
    })
    .await;
    assert!(e.contains("--media-url") && e.contains("folder"), "{e}");
    assert!(!e.contains(MEDIA_SK), "leaks the secret: {e}");

    let e = start_error(|c| c.media_url = Some("ftp://host/videos".into())).await;
    assert!(e.contains("s3://bucket/prefix"), "{e}");

    // A value the store cannot parse: the error is clear and hides secret values.
    let e = start_error(|c| {
        c.media_url = Some(format!("s3://{MEDIA_BUCKET}"));
        c.media_options = vec![
            ("aws_access_key_id".into(), MEDIA_AK.into()),
            ("aws_secret_access_key".into(), MEDIA_SK.into()),
            ("aws_virtual_hosted_style_request".into(), "perhaps".into()),
        ];
    })
    .await;
    assert!(e.contains("media store could not be set up"), "{e}");
    assert!(e.contains("perhaps"), "names the bad value: {e}");
    assert!(!e.contains(MEDIA_SK), "leaks the secret: {e}");
}

/// The race: a worker passed its fence and its write to the media
/// store is on its way (held here by a proxy for 3 s); the job is cancelled
/// and retried at once, and a new claim copies the object, which changed
/// meanwhile, and records it. The old write lands afterwards, at the object
/// of its own claim: the row's video is the new copy, as its metadata says.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_write_of_a_lost_claim_never_replaces_the_new_copy() {
    use import_testkit::fault::{Action, FaultProxy, Rule};
    let media = S3StandIn::start(MEDIA_AK, MEDIA_SK).await.unwrap();
    media.create_bucket(MEDIA_BUCKET).unwrap();
    let proxy = FaultProxy::start(media.addr()).await.unwrap();
    let mut options = media_options(&media);
    for (key, value) in &mut options {
        if key == "aws_endpoint" {
            *value = proxy.endpoint();
        }
    }
    let env = env_with(|c| {
        c.media_url = Some(format!("s3://{MEDIA_BUCKET}"));
        c.media_options = options;
        c.max_attempts = 3;
    })
    .await;
    let old = mp4(320, 240, 1_000);
    let new = mp4(640, 480, 2_000);
    env.s3.put(BUCKET, "cams/front.mp4", &old).unwrap();
    // The first write of a video to the media store is held for 3 s.
    proxy.push_rule(Rule {
        method: Some("PUT"),
        path_prefix: format!("/{MEDIA_BUCKET}/videos/"),
        times: 1,
        action: Action::DelayForward(std::time::Duration::from_secs(3)),
    });
    let ci = env.s3_integration(SK, None).await;
    let job = env
        .upload_s3_keys(BUCKET, &["cams/front.mp4".to_owned()], &ci)
        .await;
    // The first claim's write has reached the proxy: it passed its fence.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !proxy.requests().iter().any(|r| r.method == "PUT") {
        assert!(
            std::time::Instant::now() < deadline,
            "no write reached the media store"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // The object changes; the job is cancelled and retried at once.
    env.s3.put(BUCKET, "cams/front.mp4", &new).unwrap();
    let (status, _) = env
        .post(&format!("/api/import-jobs/{job}/cancel"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, retried) = env
        .post(
            &format!("/api/import-jobs/{job}/retry"),
            json!({"video_ids": null}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{retried}");
    let done = env.wait_job(&job).await;
    assert_eq!(done["counts"]["uploaded"], 1, "{done}");
    let row = env.rows(&job, 10).await.remove(0);
    let id = row["video_id"].as_str().unwrap().to_owned();
    let (_, st) = env.get(&format!("/api/video/{id}/status")).await;
    assert_eq!(st["metadata"]["width"], 640, "{st}");
    // The old write lands, late.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let videos = media.root().join(MEDIA_BUCKET).join("videos");
    let first = videos.join(format!("{id}.1.mp4"));
    while !first.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the held write never landed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    // The row's video is the new copy; the late one is the old object, in a
    // place of its own.
    let stored: Vec<_> = std::fs::read_dir(&videos)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    println!("after the late write, the media bucket holds {stored:?}");
    assert_eq!(std::fs::read(&first).unwrap(), old);
    let newest = stored
        .iter()
        .filter(|n| n.starts_with(&format!("{id}.")) && !n.ends_with(".1.mp4"))
        .map(|n| videos.join(n))
        .collect::<Vec<_>>();
    assert_eq!(newest.len(), 1, "{stored:?}");
    assert_eq!(std::fs::read(&newest[0]).unwrap(), new);
}
