//! Golden tests: every request the core builds is the one `spec/api.md` shows:
//! method, path, query, headers and JSON body.

use http::Method;
use import_core::wire::{AddGcsIntegration, AddHfIntegration, AddS3Integration, FolderRequest};
use import_core::{ApiKey, ApiRequest, ImportRequest, PageRequest, Provider, Scope, ViewSet, api};
use serde_json::{Value, json};

fn body<T>(req: &ApiRequest<T>) -> Value {
    serde_json::from_slice(req.body().expect("a JSON body")).expect("valid JSON")
}

fn upload(req: &ImportRequest) -> (Method, String, Value) {
    let http = api::upload(req).expect("a valid upload");
    (http.method().clone(), http.path_and_query(), body(&http))
}

#[test]
fn gcs_single_view() {
    let req = ImportRequest::builder()
        .uris([
            "gs://drive-archive/uploads/trip-042/front.mp4",
            "gs://drive-archive/uploads/trip-042/rear.mp4",
        ])
        .integration_id("ci_gcs1".parse().unwrap())
        .build()
        .unwrap();
    assert_eq!(
        upload(&req),
        (
            Method::POST,
            "/api/gcs/upload".to_owned(),
            json!({
                "integration_id": "ci_gcs1",
                "files": ["uploads/trip-042/front.mp4", "uploads/trip-042/rear.mp4"],
                "collection": "videos",
                "folder_id": null,
                "scope": "user"
            })
        )
    );
}

#[test]
fn gcs_multi_view() {
    let set = ViewSet::from_pairs([
        ("front", "gs://drive-archive/t/front.mp4"),
        ("left", "gs://drive-archive/t/left.mp4"),
    ])
    .unwrap();
    let req = ImportRequest::builder()
        .view_set(set)
        .integration_id("ci_gcs1".parse().unwrap())
        .build()
        .unwrap();
    assert_eq!(
        upload(&req).2,
        json!({
            "integration_id": "ci_gcs1",
            "sets": [{"views": {"front": "gs://drive-archive/t/front.mp4", "left": "gs://drive-archive/t/left.mp4"}}],
            "bucket": "drive-archive",
            "collection": "videos",
            "folder_id": null,
            "scope": "user"
        })
    );
}

#[test]
fn s3_single_view_without_integration() {
    let req = ImportRequest::builder()
        .uris([
            "s3://drive-monitor-archive/a/x.mp4",
            "s3://drive-monitor-archive/a/y #2.mp4",
        ])
        .build()
        .unwrap();
    assert_eq!(
        upload(&req),
        (
            Method::POST,
            "/api/s3/upload".to_owned(),
            json!({
                "keys": ["a/x.mp4", "a/y #2.mp4"],
                "bucket": "drive-monitor-archive",
                "collection": "videos",
                "folder_id": null,
                "scope": "user"
            })
        )
    );
}

#[test]
fn s3_with_integration_folder_and_org_scope() {
    let req = ImportRequest::builder()
        .uri("s3://drive-monitor-archive/a/x.mp4")
        .integration_id("ci_r2".parse().unwrap())
        .folder_id("fo_fleet".parse().unwrap())
        .scope(Scope::Org)
        .collection("videos")
        .build()
        .unwrap();
    assert_eq!(
        upload(&req).2,
        json!({
            "keys": ["a/x.mp4"],
            "bucket": "drive-monitor-archive",
            "collection": "videos",
            "folder_id": "fo_fleet",
            "scope": "org",
            "integration_id": "ci_r2"
        })
    );
}

#[test]
fn s3_multi_view() {
    let sets = [
        ViewSet::from_pairs([
            ("front", "s3://b01/t/front.mp4"),
            ("left", "s3://b01/t/left.mp4"),
        ])
        .unwrap(),
        ViewSet::from_pairs([("front", "s3://b01/u/front.mp4")]).unwrap(),
    ];
    let req = ImportRequest::builder().view_sets(sets).build().unwrap();
    let (method, path, body) = upload(&req);
    assert_eq!((method, path.as_str()), (Method::POST, "/api/s3/upload"));
    assert_eq!(
        body,
        json!({
            "sets": [
                {"views": {"front": "s3://b01/t/front.mp4", "left": "s3://b01/t/left.mp4"}},
                {"views": {"front": "s3://b01/u/front.mp4"}}
            ],
            "bucket": "b01",
            "collection": "videos",
            "folder_id": null,
            "scope": "user"
        })
    );
}

#[test]
fn hf_bucket_single_view() {
    let req = ImportRequest::builder()
        .uri("hf://buckets/acme/fleet-cams/day1/cam0.mp4")
        .build()
        .unwrap();
    assert_eq!(
        upload(&req),
        (
            Method::POST,
            "/api/hf-buckets/upload".to_owned(),
            json!({
                "files": ["day1/cam0.mp4"],
                "bucket": "acme/fleet-cams",
                "collection": "videos",
                "folder_id": null,
                "scope": "user"
            })
        )
    );
}

#[test]
fn folders() {
    let folder = FolderRequest {
        name: "fleet_uploads".into(),
        scope: Scope::Org,
        description: None,
    };
    let req = api::create_or_get_folder(&folder);
    assert_eq!(
        (req.method(), req.path()),
        (&Method::POST, "/api/folders/create-or-get")
    );
    assert_eq!(body(&req), json!({"name": "fleet_uploads", "scope": "org"}));
    let req = api::create_folder(&FolderRequest {
        description: Some("d".into()),
        ..folder
    });
    assert_eq!((req.method(), req.path()), (&Method::POST, "/api/folders"));
    assert_eq!(
        body(&req),
        json!({"name": "fleet_uploads", "scope": "org", "description": "d"})
    );
    let req = api::get_folder("fleet_uploads", Scope::User);
    assert_eq!(req.method(), Method::GET);
    assert_eq!(
        req.path_and_query(),
        "/api/folders/get?name=fleet_uploads&scope=user"
    );
    assert!(req.body().is_none());
}

#[test]
fn verify_and_list() {
    let req = api::verify_auth();
    assert_eq!(
        (req.method(), req.path(), req.body()),
        (&Method::POST, "/api/keys/verify", None)
    );
    let req = api::list_integrations();
    assert_eq!(
        (req.method(), req.path()),
        (&Method::GET, "/api/cloud-integrations")
    );
}

#[test]
fn integrations() {
    let gcs = AddGcsIntegration {
        name: "GCS archive".into(),
        kind: Provider::Gcs,
        service_account: json!({"type": "service_account", "client_email": "x@y.iam", "private_key": "k"}),
        bucket: "drive-archive".into(),
        prefix: Some("raw/".into()),
    };
    let req = api::add_gcs_integration(&gcs);
    assert_eq!(req.path(), "/api/cloud-integrations/gcs");
    assert_eq!(
        body(&req),
        json!({"name": "GCS archive", "type": "gcs",
               "service_account": {"type": "service_account", "client_email": "x@y.iam", "private_key": "k"},
               "bucket": "drive-archive", "prefix": "raw/"})
    );
    let s3 = AddS3Integration {
        name: "R2".into(),
        kind: Provider::S3,
        access_key_id: "AKID".into(),
        secret_access_key: "SECRET".into(),
        session_token: None,
        region: Some("auto".into()),
        endpoint_url: Some("https://acct.r2.cloudflarestorage.com".into()),
        bucket: "drive-monitor-archive".into(),
        prefix: None,
    };
    let req = api::add_s3_integration(&s3);
    assert_eq!(req.path(), "/api/cloud-integrations/s3");
    assert_eq!(
        body(&req),
        json!({"name": "R2", "type": "s3", "access_key_id": "AKID", "secret_access_key": "SECRET",
               "session_token": null, "region": "auto",
               "endpoint_url": "https://acct.r2.cloudflarestorage.com",
               "bucket": "drive-monitor-archive", "prefix": null})
    );
    let hf = AddHfIntegration {
        name: "HF".into(),
        kind: Provider::HfBucket,
        token: "hf_abc".into(),
        bucket: "acme/fleet".into(),
        prefix: None,
    };
    let req = api::add_hf_integration(&hf);
    assert_eq!(req.path(), "/api/cloud-integrations/hf-bucket");
    assert_eq!(
        body(&req),
        json!({"name": "HF", "type": "hf_bucket", "token": "hf_abc", "bucket": "acme/fleet", "prefix": null})
    );
    let req = api::delete_integration(&"ci_9".parse().unwrap());
    assert_eq!(
        (req.method(), req.path()),
        (&Method::DELETE, "/api/cloud-integrations/ci_9")
    );
}

#[test]
fn jobs_pages_retry_and_video_status() {
    let id = "ij_42".parse().unwrap();
    let req = api::get_import_job(&id);
    assert_eq!(
        (req.method(), req.path()),
        (&Method::GET, "/api/import-jobs/ij_42")
    );
    let page = PageRequest::new(500, Some("vi_9".parse().unwrap()), None).unwrap();
    assert_eq!(
        api::get_import_job_videos(&id, &page).path_and_query(),
        "/api/import-jobs/ij_42/videos?limit=500&cursor=vi_9"
    );
    let page = PageRequest::new(10, None, Some(20)).unwrap();
    assert_eq!(
        api::get_import_job_videos(&id, &page).path_and_query(),
        "/api/import-jobs/ij_42/videos?limit=10&offset=20"
    );
    let req = api::retry_import_job(&id, None);
    assert_eq!(
        (req.method(), req.path()),
        (&Method::POST, "/api/import-jobs/ij_42/retry")
    );
    assert_eq!(body(&req), json!({"video_ids": null}));
    let ids = ["vi_1".parse().unwrap()];
    assert_eq!(
        body(&api::retry_import_job(&id, Some(&ids))),
        json!({"video_ids": ["vi_1"]})
    );
    let req = api::get_video_status(&"vi_1".parse().unwrap());
    assert_eq!(
        (req.method(), req.path()),
        (&Method::GET, "/api/video/vi_1/status")
    );
}

#[test]
fn headers() {
    let key = ApiKey::new("key-123").unwrap();
    let req = api::create_or_get_folder(&FolderRequest {
        name: "f".into(),
        scope: Scope::User,
        description: None,
    })
    .with_idempotency_key("idem-1")
    .unwrap();
    let h = req.headers(&key, "import-rs/0.1.0").unwrap();
    assert_eq!(h["x-api-key"], "key-123");
    assert_eq!(h["idempotency-key"], "idem-1");
    assert_eq!(h["content-type"], "application/json; charset=utf-8");
    assert_eq!(h["user-agent"], "import-rs/0.1.0");
    assert_eq!(h["accept"], "application/json");
    let get = api::get_import_job(&"ij_1".parse().unwrap())
        .headers(&key, "ua")
        .unwrap();
    assert!(!get.contains_key("content-type") && !get.contains_key("idempotency-key"));
}

/// Answers as the contract shows them decode into the wire types.
#[test]
fn documented_answers_decode() {
    use http::{HeaderMap, StatusCode};
    let ok = |req: &ApiRequest<import_core::ImportJob>, body: Value| {
        req.decode(
            StatusCode::OK,
            &HeaderMap::new(),
            body.to_string().as_bytes(),
        )
        .unwrap()
    };
    let job = ok(
        &api::get_import_job(&"ij_1".parse().unwrap()),
        json!({"job_id": "ij_1", "source": "s3", "bucket": "b", "prefix": "uploads/trip-042/",
               "folder_id": "fo_1", "folder_name": "fleet_uploads", "total": 2,
               "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:01Z", "completed_at": null,
               "status": "importing", "terminal": false, "counts": {"uploaded": 1, "failed": 0, "pending": 1},
               "poll_after_seconds": 5, "multi_view": false}),
    );
    assert_eq!(job.counts.unwrap().pending, 1);
    let page: import_core::VideosPage = serde_json::from_value(json!({
        "import_job_id": "ij_1", "total": 2, "limit": 500, "cursor": null, "has_more": false,
        "next_cursor": null, "video_count": 2,
        "videos": [
            {"video_id": "vi_1", "status": "UPLOADED", "import_source_uri": "s3://bucket/a.mp4"},
            {"video_id": "vi_2", "status": "UPLOADING_FAILED", "import_source_uri": "s3://bucket/b.mp4", "error": "object not found"},
            {"video_id": "vi_3", "status": "UPLOADED", "set_video_id": "vi_3",
             "views": {"left": {"video_id": "vi_4", "status": "UPLOADING_FAILED"}},
             "failed_views": [{"video_id": "vi_4", "status": "UPLOADING_FAILED", "role": "left", "error": "access denied"}]}
        ]}))
    .unwrap();
    assert_eq!(
        page.videos[2].failed_views.as_ref().unwrap()[0].role,
        "left"
    );
    let integ: Vec<import_core::CloudIntegration> = serde_json::from_value(json!([
        {"id": "ci_1", "name": "AWS archive", "type": "s3", "bucket": "drive-archive", "prefix": null,
         "region": "us-east-1", "endpoint_url": null, "created_at": "t", "last_used": null,
         "created_by": "u_1", "created_by_display_name": null, "is_owner": true}
    ]))
    .unwrap();
    assert_eq!(integ[0].kind, Provider::S3);
}
