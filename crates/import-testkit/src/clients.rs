//! The clients' end-to-end suite (feature `clients`): one suite, run against
//! both clients. `import-async`'s tests run it on the async client,
//! `import-blocking`'s on the blocking client (from a blocking thread); each
//! implements [`Driver`] for its client and instantiates the suite with
//! [`client_suite!`](crate::client_suite).
//!
//! Behind each client: a [`FaultProxy`] (to inject 503, 429 and dropped
//! connections, and to record requests), the reference server in-process, and
//! an s3s-fs bucket with SigV4 ([`Env`]).
//!
//! The suite's functions panic on the first failed check: they are tests.
//!
//! A client's test file, in outline:
//!
//! ```text
//! struct Mine(my_client::Client);
//! impl import_testkit::clients::Driver for Mine { /* forward to the client */ }
//! mod on_mine {
//!     import_testkit::client_suite!(super::Mine);
//! }
//! ```

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::http::header::RETRY_AFTER;
use import_core::api::{self, IDEMPOTENCY_KEY_HEADER};
use import_core::client::WaitOptions;
use import_core::wire::{
    CloudIntegration, Folder, ImportJob, ImportJobList, RetryResponse, UploadResponse,
    VerifyResponse, VideoRow, VideosPage,
};
use import_core::{
    AnswerError, FailureCode, ImportJobId, ImportOutcome, ImportRequest, IntegrationId,
    JobListRequest, JobStatus, PageRequest, Progress, Provider, ReadinessTracker, RetryPolicy,
    Scope, VideoId, ViewSet,
};
use import_server::{Server, ServerConfig};
use serde_json::{Value, json};

use crate::S3StandIn;
use crate::fault::{Action, FaultProxy, Rule};
use crate::mp4::{Mp4Spec, jpeg_bytes, sample_mp4};

/// The error both clients answer.
pub type Error = import_core::client::ClientError;
/// What a client's operation answers.
pub type Result<T> = std::result::Result<T, Error>;

/// The access key id of the suite's bucket.
pub const AK: &str = "AKIDCLIENT";
/// The secret key of the suite's bucket.
pub const SK: &str = "client-secret-key";
/// The suite's bucket.
pub const BUCKET: &str = "drive-monitor-archive";

/// What the suite needs of a client; each client's tests implement it.
///
/// The methods take every value the suite chooses, so an implementation only
/// forwards to its client.
#[allow(
    async_fn_in_trait,
    reason = "the suite awaits every call on the test's own runtime; it never needs Send futures"
)]
pub trait Driver: Sized + Sync {
    /// A client of `base_url` with `api_key` and a retry policy.
    fn connect(api_key: &str, base_url: &str, policy: RetryPolicy) -> Self;
    /// Whose key this is.
    async fn verify(&self) -> Result<VerifyResponse>;
    /// The folder of that name and scope, created if missing.
    async fn folder(&self, name: &str, scope: Scope) -> Result<Folder>;
    /// A new folder, without a description.
    async fn create_folder(&self, name: &str, scope: Scope) -> Result<Folder>;
    /// The folder of that name and scope.
    async fn get_folder(&self, name: &str, scope: Scope) -> Result<Folder>;
    /// An S3 integration with an endpoint, without region or prefix.
    async fn add_s3(
        &self,
        name: &str,
        bucket: &str,
        creds: Value,
        endpoint: &str,
    ) -> Result<CloudIntegration>;
    /// A GCS integration from a service-account key.
    async fn add_gcs(
        &self,
        name: &str,
        bucket: &str,
        key: Value,
        prefix: Option<&str>,
    ) -> Result<CloudIntegration>;
    /// A Hugging Face bucket integration, without a prefix.
    async fn add_hf(&self, name: &str, bucket: &str, token: &str) -> Result<CloudIntegration>;
    /// The integrations, of one kind or all.
    async fn list(&self, kind: Option<Provider>) -> Result<Vec<CloudIntegration>>;
    /// Delete an integration.
    async fn delete(&self, id: &IntegrationId) -> Result<()>;
    /// Start an import, into a folder or none.
    async fn upload(&self, req: &ImportRequest, folder: Option<&str>) -> Result<UploadResponse>;
    /// The job.
    async fn job(&self, job: &ImportJobId) -> Result<ImportJob>;
    /// One page of the job's rows.
    async fn page(&self, job: &ImportJobId, page: &PageRequest) -> Result<VideosPage>;
    /// One page of the job's rows through the deprecated route.
    async fn legacy_page(&self, job: &ImportJobId, page: &PageRequest) -> Result<VideosPage>;
    /// Every row of the job, through the client's iterator or stream.
    async fn rows(&self, job: &ImportJobId, limit: u32) -> Result<Vec<VideoRow>>;
    /// Wait for the job with [`wait_options`]`(timeout)`; answers the
    /// outcome and every progress the client reported.
    async fn wait(
        &self,
        job: &ImportJobId,
        timeout: Duration,
    ) -> Result<(ImportOutcome, Vec<Progress>)>;
    /// Resume a wait from its tracker with [`wait_options`] of a minute.
    async fn resume(&self, tracker: ReadinessTracker) -> Result<ImportOutcome>;
    /// Retry the named (or all) failed rows.
    async fn retry(&self, job: &ImportJobId, ids: Option<Vec<VideoId>>) -> Result<RetryResponse>;
    /// One page of the caller's jobs.
    async fn list_jobs(&self, query: &JobListRequest) -> Result<ImportJobList>;
    /// Cancel a job.
    async fn cancel(&self, job: &ImportJobId) -> Result<ImportJob>;
}

/// How the suite waits: polls every 100 ms, pages of 2 rows.
pub fn wait_options(timeout: Duration) -> WaitOptions {
    WaitOptions {
        poll_interval: Duration::from_millis(100),
        timeout,
        page_limit: 2,
    }
}

/// The suite's retry policy: short backoffs.
pub fn retry_policy() -> RetryPolicy {
    RetryPolicy::default()
        .with_initial_backoff(Duration::from_millis(50))
        .with_max_backoff(Duration::from_millis(400))
}

/// The server, its fault proxy and the bucket of one test.
pub struct Env {
    _server: Server,
    /// The fault proxy in front of the server; clients talk to it.
    pub proxy: FaultProxy,
    /// The bucket stand-in, with [`BUCKET`] created.
    pub s3: S3StandIn,
    /// An API key of `user_ada` in `org_acme`.
    pub key: String,
    /// The server's data folder.
    pub dir: tempfile::TempDir,
}

impl Env {
    /// Start the bucket, a server with `workers` import workers and the proxy.
    pub async fn start(workers: usize) -> Env {
        let s3 = S3StandIn::start(AK, SK).await.expect("the bucket starts");
        s3.create_bucket(BUCKET).expect("the bucket is created");
        let dir = tempfile::tempdir().expect("a temporary folder");
        let mut config = ServerConfig::new(dir.path());
        config.listen = "127.0.0.1:0".parse().expect("an address");
        config.allow_endpoints = vec![s3.addr().to_string()];
        config.max_in_flight = workers;
        config.retry_base = Duration::from_millis(50);
        let server = Server::start(config).await.expect("the server starts");
        let key = server
            .create_api_key("user_ada", "org_acme", Some("Ada"))
            .await
            .expect("a key");
        let proxy = FaultProxy::start(server.addr())
            .await
            .expect("the proxy starts");
        Env {
            _server: server,
            proxy,
            s3,
            key,
            dir,
        }
    }

    /// A client of the proxy with the key and [`retry_policy`].
    pub fn client<D: Driver>(&self) -> D {
        D::connect(&self.key, &self.proxy.endpoint(), retry_policy())
    }

    fn put(&self, key: &str, bytes: &[u8]) {
        self.s3
            .put(BUCKET, key, bytes)
            .expect("the object is stored");
    }

    async fn jobs_in_database(&self) -> i64 {
        let url = format!("sqlite://{}", self.dir.path().join("vimport.db").display());
        let pool = sqlx::SqlitePool::connect(&url)
            .await
            .expect("the database opens");
        sqlx::query_scalar("SELECT COUNT(*) FROM jobs")
            .fetch_one(&pool)
            .await
            .expect("jobs are counted")
    }
}

/// An R2-style integration of the suite's bucket with these credentials.
async fn r2<D: Driver>(d: &D, env: &Env, creds: Value) -> CloudIntegration {
    d.add_s3("R2 archive", BUCKET, creds, &env.s3.endpoint())
        .await
        .unwrap()
}

fn mp4() -> Vec<u8> {
    sample_mp4(&Mp4Spec {
        width: 1280,
        height: 720,
        duration_ms: 2000,
        ..Mp4Spec::default()
    })
}

/// The documentation's end-to-end example: save an R2-style integration, import
/// with a folder and `scope=org`, wait, and read the uploaded ids and the failed rows.
pub async fn docs_end_to_end<D: Driver>(d: &D, env: &Env) {
    env.put("trip-042/front.mp4", &mp4());
    env.put("trip-042/rear.mp4", &mp4());
    env.put("trip-042/notes.mp4", &jpeg_bytes());
    let me = d.verify().await.unwrap();
    assert_eq!(
        (me.user_id.as_str(), me.org_id.as_str()),
        ("user_ada", "org_acme")
    );
    let integration = r2(d, env, json!({"accessKeyId": AK, "secretAccessKey": SK})).await;
    assert_eq!(integration.region.as_deref(), Some("auto"));
    let request = ImportRequest::builder()
        .uris([
            format!("s3://{BUCKET}/trip-042/front.mp4"),
            format!("s3://{BUCKET}/trip-042/rear.mp4"),
            format!("s3://{BUCKET}/trip-042/notes.mp4"),
        ])
        .integration_id(integration.id.clone())
        .scope(Scope::Org)
        .build()
        .unwrap();
    let started = d.upload(&request, Some("fleet_uploads")).await.unwrap();
    let job = d.job(&started.import_job_id).await.unwrap();
    assert_eq!(job.folder_name.as_deref(), Some("fleet_uploads"));
    let (outcome, progress) = d
        .wait(&started.import_job_id, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(outcome.uploaded.len(), 2);
    assert_eq!(outcome.failed.len(), 1);
    assert!(outcome.failed[0].error.as_deref().unwrap().contains("JPEG"));
    assert!(!progress.is_empty());
    let last = progress.last().unwrap();
    assert_eq!((last.uploaded, last.failed, last.pending), (2, 1, 0));
    let folder = d.get_folder("fleet_uploads", Scope::Org).await.unwrap();
    assert_eq!(folder.id, job.folder_id.unwrap());
    let listed = d.list(Some(Provider::S3)).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(d.list(Some(Provider::Gcs)).await.unwrap().is_empty());
    // Retry the failed row: it fails again for the same reason.
    let retried = d
        .retry(
            &started.import_job_id,
            Some(vec![outcome.failed[0].video_id.clone()]),
        )
        .await
        .unwrap();
    assert_eq!(retried.retried, 1);
    let (again, _) = d
        .wait(&started.import_job_id, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(again.failed.len(), 1);
    d.delete(&integration.id).await.unwrap();
    assert!(matches!(
        d.delete(&integration.id).await,
        Err(Error::Answer(AnswerError::NotFound { .. }))
    ));
}

/// Multi-view sets come back as one row per set.
pub async fn multi_view<D: Driver>(d: &D, env: &Env) {
    env.put("t1/front.mp4", &mp4());
    env.put("t1/left.mp4", &mp4());
    let integration = r2(
        d,
        env,
        json!({"access_key_id": AK, "secret_access_key": SK}),
    )
    .await;
    let set = ViewSet::from_pairs([
        ("front", format!("s3://{BUCKET}/t1/front.mp4")),
        ("left", format!("s3://{BUCKET}/t1/left.mp4")),
    ])
    .unwrap();
    let request = ImportRequest::builder()
        .view_set(set)
        .integration_id(integration.id)
        .build()
        .unwrap();
    let started = d.upload(&request, None).await.unwrap();
    let (outcome, _) = d
        .wait(&started.import_job_id, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(outcome.uploaded.len(), 1);
    let rows = d.rows(&started.import_job_id, 1).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].set_video_id.as_ref(), Some(&rows[0].video_id));
    assert_eq!(
        rows[0].views.as_ref().unwrap()["left"].status,
        import_core::VideoStatus::Uploaded
    );
    let err = d
        .page(
            &started.import_job_id,
            &PageRequest::new(10, None, Some(0)).unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::BAD_REQUEST));
}

/// Paging with `limit=1` sees every row once, by iterator/stream and by hand.
pub async fn paging<D: Driver>(d: &D, env: &Env) {
    let integration = r2(d, env, json!({"accessKeyId": AK, "secretAccessKey": SK})).await;
    let uris: Vec<String> = (0..7).map(|i| format!("s3://{BUCKET}/p/{i}.mp4")).collect();
    for i in 0..7 {
        env.put(&format!("p/{i}.mp4"), &mp4());
    }
    let request = ImportRequest::builder()
        .uris(uris)
        .integration_id(integration.id)
        .build()
        .unwrap();
    let started = d.upload(&request, None).await.unwrap();
    let rows = d.rows(&started.import_job_id, 1).await.unwrap();
    let ids: BTreeSet<_> = rows.iter().map(|r| r.video_id.clone()).collect();
    assert_eq!((rows.len(), ids.len()), (7, 7));
    let first = d
        .page(&started.import_job_id, &PageRequest::first(3).unwrap())
        .await
        .unwrap();
    assert!(first.has_more);
    let next = PageRequest::new(3, first.next_cursor.clone(), None).unwrap();
    let second = d.legacy_page(&started.import_job_id, &next).await.unwrap();
    assert!(second.videos[0].video_id > first.videos[2].video_id);
    d.wait(&started.import_job_id, Duration::from_secs(60))
        .await
        .unwrap();
}

/// `503` with `Retry-After`, then `429`: both retried after the pause, then success.
pub async fn busy_then_success<D: Driver>(d: &D, env: &Env) {
    env.proxy.push_rule(Rule {
        method: Some("POST"),
        path_prefix: api::verify_auth().path().into(),
        times: 1,
        action: Action::Respond {
            status: 503,
            headers: vec![(RETRY_AFTER.as_str().into(), "1".into())],
            body: r#"{"detail":"busy"}"#.into(),
        },
    });
    env.proxy.push_rule(Rule {
        method: Some("POST"),
        path_prefix: api::verify_auth().path().into(),
        times: 1,
        action: Action::Respond {
            status: 429,
            headers: vec![(RETRY_AFTER.as_str().into(), "1".into())],
            body: r#"{"detail":"slow down"}"#.into(),
        },
    });
    env.proxy.clear_requests();
    let start = Instant::now();
    let me = d.verify().await.unwrap();
    assert_eq!(me.user_id, "user_ada");
    assert!(
        start.elapsed() >= Duration::from_secs(2),
        "Retry-After was honoured twice: {:?}",
        start.elapsed()
    );
    let seen = env.proxy.requests();
    assert_eq!(seen.len(), 3);
    let keys: BTreeSet<_> = seen
        .iter()
        .map(|r| r.header(IDEMPOTENCY_KEY_HEADER).unwrap().to_owned())
        .collect();
    assert_eq!(keys.len(), 1, "one Idempotency-Key across the retries");
    // A 503 that does not go away ends as an API error with its detail.
    env.proxy.push_rule(Rule {
        method: Some("GET"),
        path_prefix: api::list_integrations().path().into(),
        times: usize::MAX,
        action: Action::Respond {
            status: 503,
            headers: vec![],
            body: r#"{"detail":"down for maintenance"}"#.into(),
        },
    });
    let err = d.list(None).await.unwrap_err();
    assert!(
        matches!(&err, Error::Answer(AnswerError::Api { status, detail, .. }) if status.as_u16() == 503 && detail == "down for maintenance"),
        "{err}"
    );
    env.proxy.clear_rules();
}

/// A POST whose connection drops after the server acted is retried with the
/// same `Idempotency-Key` and creates one job.
pub async fn dropped_post_creates_one_job<D: Driver>(d: &D, env: &Env) {
    env.put("once.mp4", &mp4());
    let integration = r2(d, env, json!({"accessKeyId": AK, "secretAccessKey": SK})).await;
    let before = env.jobs_in_database().await;
    let request = ImportRequest::builder()
        .uri(format!("s3://{BUCKET}/once.mp4"))
        .integration_id(integration.id)
        .build()
        .unwrap();
    let route = api::upload(&request).unwrap().path().to_owned();
    env.proxy.clear_requests();
    env.proxy.push_rule(Rule {
        method: Some("POST"),
        path_prefix: route.clone(),
        times: 1,
        action: Action::DropAfterForward,
    });
    let started = d.upload(&request, None).await.unwrap();
    let uploads: Vec<_> = env
        .proxy
        .requests()
        .into_iter()
        .filter(|r| r.path == route)
        .collect();
    assert_eq!(uploads.len(), 2, "the dropped POST was retried");
    assert_eq!(
        uploads[0].header(IDEMPOTENCY_KEY_HEADER),
        uploads[1].header(IDEMPOTENCY_KEY_HEADER)
    );
    assert_eq!(env.jobs_in_database().await, before + 1, "one job, not two");
    d.wait(&started.import_job_id, Duration::from_secs(60))
        .await
        .unwrap();
}

/// The wait's timeout is an error with the last progress and a tracker that resumes.
pub async fn wait_times_out_and_resumes<D: Driver>(d: &D, env: &Env) {
    env.put("slow.mp4", &mp4());
    let integration = r2(d, env, json!({"accessKeyId": AK, "secretAccessKey": SK})).await;
    let request = ImportRequest::builder()
        .uri(format!("s3://{BUCKET}/slow.mp4"))
        .integration_id(integration.id)
        .build()
        .unwrap();
    let started = d.upload(&request, None).await.unwrap();
    let err = d
        .wait(&started.import_job_id, Duration::from_millis(300))
        .await
        .unwrap_err();
    let Error::WaitTimedOut {
        job_id,
        progress,
        tracker,
        ..
    } = err
    else {
        panic!("expected a timeout, got {err}")
    };
    assert_eq!(job_id, started.import_job_id);
    assert_eq!((progress.total, progress.pending), (1, 1));
    // The tracker survives a round trip through JSON and resumes the wait, once
    // a worker runs; this environment has none, so start one.
    let saved = serde_json::to_string(&tracker).unwrap();
    let tracker: ReadinessTracker = serde_json::from_str(&saved).unwrap();
    let mut config = ServerConfig::new(env.dir.path());
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.allow_endpoints = vec![env.s3.addr().to_string()];
    let worker = Server::start(config).await.unwrap();
    let outcome = d.resume(tracker).await.unwrap();
    assert_eq!(outcome.uploaded.len(), 1);
    worker.shutdown().await;
}

/// Bad input never leaves the machine; 401 and 404 are told apart.
pub async fn errors_are_typed<D: Driver>(d: &D, env: &Env) {
    env.proxy.clear_requests();
    let request = ImportRequest::builder()
        .uri(format!("gs://{BUCKET}/a.mp4"))
        .build()
        .unwrap();
    let err = d.upload(&request, None).await.unwrap_err();
    assert!(matches!(err, Error::InvalidInput(_)), "{err}");
    assert!(
        err.to_string().contains("vimport integrations add gcs"),
        "{err}"
    );
    let err = d
        .add_gcs(
            "GCS archive",
            "gcs-archive",
            json!("not an object"),
            Some("raw/"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput(_)), "{err}");
    assert!(
        env.proxy
            .requests()
            .iter()
            .all(|r| r.path == api::list_integrations().path()),
        "only the list was sent"
    );
    let err = d.job(&"ij_missing".parse().unwrap()).await.unwrap_err();
    assert!(
        matches!(err, Error::Answer(AnswerError::NotFound { .. })),
        "{err}"
    );
    let err = d
        .create_folder("x", Scope::User)
        .await
        .and(d.create_folder("x", Scope::User).await)
        .unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(409));
    let bad = D::connect("vk_wrong", &env.proxy.endpoint(), RetryPolicy::default());
    assert!(matches!(
        bad.verify().await,
        Err(Error::Answer(AnswerError::Unauthorized { .. }))
    ));
    let nowhere = D::connect("k", "http://127.0.0.1:9", RetryPolicy::none());
    assert!(matches!(
        nowhere.verify().await,
        Err(Error::Transport { .. })
    ));
    let hf = d.add_hf("HF", "acme/cams", "hf_tok").await.unwrap();
    assert_eq!(hf.kind, Provider::HfBucket);
    let _ = d.folder("fleet", Scope::Org).await.unwrap();
}

/// Golden: each operation sends what api.md says (method, path, query,
/// headers, body), as recorded on the wire. The paths and header names are
/// spelled here on purpose: this checks the wire against the spec, not
/// against the core's constructors.
pub async fn wire_requests<D: Driver>(d: &D, env: &Env) {
    env.proxy.clear_requests();
    let _ = d.verify().await.unwrap();
    let _ = d.folder("fleet uploads", Scope::Org).await.unwrap();
    let _ = d.get_folder("fleet uploads", Scope::Org).await.unwrap();
    let i = r2(
        d,
        env,
        json!({"accessKeyId": AK, "secretAccessKey": SK, "sessionToken": "tok"}),
    )
    .await;
    env.put("g.mp4", &mp4());
    let request = ImportRequest::builder()
        .uri(format!("s3://{BUCKET}/g.mp4"))
        .build()
        .unwrap();
    let started = d.upload(&request, None).await.unwrap();
    let _ = d
        .page(
            &started.import_job_id,
            &PageRequest::new(10, Some("vi_0".parse().unwrap()), None).unwrap(),
        )
        .await
        .unwrap();
    let _ = d.retry(&started.import_job_id, None).await.unwrap();
    d.delete(&i.id).await.unwrap();
    let seen = env.proxy.requests();
    let shape: Vec<(String, String, Option<String>)> = seen
        .iter()
        .map(|r| (r.method.clone(), r.path.clone(), r.query.clone()))
        .collect();
    let job = started.import_job_id.as_str();
    assert_eq!(
        shape,
        vec![
            ("POST".into(), "/api/keys/verify".into(), None),
            ("POST".into(), "/api/folders/create-or-get".into(), None),
            (
                "GET".into(),
                "/api/folders/get".into(),
                Some("name=fleet%20uploads&scope=org".into())
            ),
            ("POST".into(), "/api/cloud-integrations/s3".into(), None),
            ("POST".into(), "/api/s3/upload".into(), None),
            (
                "GET".into(),
                format!("/api/import-jobs/{job}/videos"),
                Some("limit=10&cursor=vi_0".into())
            ),
            ("POST".into(), format!("/api/import-jobs/{job}/retry"), None),
            (
                "DELETE".into(),
                format!("/api/cloud-integrations/{}", i.id),
                None
            ),
        ]
    );
    for r in &seen {
        assert_eq!(r.header("x-api-key"), Some(env.key.as_str()));
        assert!(r.header("user-agent").unwrap().starts_with("import-rs/"));
        assert_eq!(
            r.header("idempotency-key").is_some(),
            r.method != "GET",
            "{} {}",
            r.method,
            r.path
        );
        if !r.body.is_empty() {
            assert_eq!(
                r.header("content-type"),
                Some("application/json; charset=utf-8")
            );
        }
    }
    let body = |n: usize| serde_json::from_slice::<Value>(&seen[n].body).unwrap();
    assert_eq!(body(1), json!({"name": "fleet uploads", "scope": "org"}));
    assert_eq!(
        body(3),
        json!({"name": "R2 archive", "type": "s3", "access_key_id": AK, "secret_access_key": SK, "session_token": "tok",
               "region": "auto", "endpoint_url": env.s3.endpoint(), "bucket": BUCKET, "prefix": null})
    );
    assert_eq!(
        body(4),
        json!({"keys": ["g.mp4"], "bucket": BUCKET, "collection": "videos", "folder_id": null, "scope": "user"})
    );
    assert_eq!(body(6), json!({"video_ids": null}));
    assert!(seen[0].body.is_empty());
}

/// The caller's jobs, newest first and paged; a cancel fails the pending
/// rows with the `cancelled` code and ends the job `cancelled` (no workers:
/// the rows wait until then).
pub async fn jobs_listed_and_cancelled<D: Driver>(d: &D, env: &Env) {
    let integration = r2(
        d,
        env,
        json!({"access_key_id": AK, "secret_access_key": SK}),
    )
    .await;
    let mut jobs = Vec::new();
    for i in 0..3 {
        let request = ImportRequest::builder()
            .uris([format!("s3://{BUCKET}/jobs/{i}.mp4")])
            .integration_id(integration.id.clone())
            .build()
            .unwrap();
        jobs.push(d.upload(&request, None).await.unwrap().import_job_id);
    }
    let mut listed = Vec::new();
    let mut query = JobListRequest::new().with_limit(2).unwrap();
    loop {
        let page = d.list_jobs(&query).await.unwrap();
        listed.extend(page.jobs.iter().map(|j| j.job_id.clone()));
        match page.next_cursor {
            Some(cursor) if page.has_more => query = query.with_cursor(cursor),
            _ => break,
        }
        assert!(listed.len() <= jobs.len(), "paging does not end");
    }
    jobs.reverse();
    assert_eq!(listed, jobs);

    let cancelled = d.cancel(&jobs[0]).await.unwrap();
    assert_eq!(cancelled.status, Some(JobStatus::Cancelled));
    assert_eq!(cancelled.terminal, Some(true));
    let summary = cancelled.failure_summary.unwrap();
    assert_eq!(summary.len(), 1);
    assert_eq!(summary[0].code, FailureCode::Cancelled);
    assert_eq!(summary[0].count, 1);
    let rows = d.rows(&jobs[0], 10).await.unwrap();
    assert_eq!(rows[0].error_code, Some(FailureCode::Cancelled));
    let again = d.cancel(&jobs[0]).await.unwrap();
    assert_eq!(again.status, Some(JobStatus::Cancelled));
    let only = JobListRequest::new()
        .with_status(JobStatus::Cancelled)
        .unwrap();
    let page = d.list_jobs(&only).await.unwrap();
    assert_eq!(page.jobs.len(), 1);
    assert_eq!(page.jobs[0].job_id, jobs[0]);
    let err = d.cancel(&"ij_nope".parse().unwrap()).await.unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::NOT_FOUND));
}

/// The suite's tests for one client: `client_suite!(MyDriver)` where
/// `MyDriver:` [`Driver`]. Each test starts its own [`Env`] on a
/// two-thread tokio runtime (the calling crate depends on `tokio`).
#[macro_export]
macro_rules! client_suite {
    ($driver:ty) => {
        $crate::client_suite! { $driver;
            docs_end_to_end => 2,
            multi_view => 2,
            paging => 2,
            busy_then_success => 1,
            dropped_post_creates_one_job => 1,
            wait_times_out_and_resumes => 0,
            errors_are_typed => 1,
            wire_requests => 1,
            jobs_listed_and_cancelled => 0,
        }
    };
    ($driver:ty; $($name:ident => $workers:expr),* $(,)?) => {
        $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let env = $crate::clients::Env::start($workers).await;
            $crate::clients::$name(&env.client::<$driver>(), &env).await;
        })*
    };
}
