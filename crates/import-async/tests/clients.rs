//! One end-to-end suite, run against both clients: the async client directly
//! and the blocking client on a blocking thread. Behind each client: a fault
//! proxy (to inject 503, 429 and dropped connections, and to record requests),
//! the reference server in-process, and an s3s-fs bucket with SigV4.

use std::time::{Duration, Instant};

use import_core::wire::{
    CloudIntegration, Folder, ImportJob, RetryResponse, UploadResponse, VerifyResponse, VideoRow,
    VideosPage,
};
use import_core::{AnswerError, ImportJobId, IntegrationId, VideoId};
use import_core::{ImportOutcome, ImportRequest, PageRequest, Progress, Provider, Scope, ViewSet};
use import_server::{Server, ServerConfig};
use import_testkit::S3StandIn;
use import_testkit::fault::{Action, FaultProxy, Rule};
use import_testkit::mp4::{Mp4Spec, jpeg_bytes, sample_mp4};
use serde_json::{Value, json};

type Error = import_async::Error;
type Result<T> = std::result::Result<T, Error>;

const AK: &str = "AKIDCLIENT";
const SK: &str = "client-secret-key";
const BUCKET: &str = "drive-monitor-archive";

/// What the suite needs of a client; implemented by both.
trait Driver: Sync {
    async fn verify(&self) -> Result<VerifyResponse>;
    async fn folder(&self, name: &str, scope: Scope) -> Result<Folder>;
    async fn create_folder(&self, name: &str, scope: Scope) -> Result<Folder>;
    async fn get_folder(&self, name: &str, scope: Scope) -> Result<Folder>;
    async fn add_s3(&self, creds: Value, endpoint: &str) -> Result<CloudIntegration>;
    async fn add_gcs(&self, key: Value) -> Result<CloudIntegration>;
    async fn add_hf(&self, bucket: &str, token: &str) -> Result<CloudIntegration>;
    async fn list(&self, kind: Option<Provider>) -> Result<Vec<CloudIntegration>>;
    async fn delete(&self, id: &IntegrationId) -> Result<()>;
    async fn upload(&self, req: &ImportRequest, folder: Option<&str>) -> Result<UploadResponse>;
    async fn job(&self, job: &ImportJobId) -> Result<ImportJob>;
    async fn page(&self, job: &ImportJobId, page: &PageRequest) -> Result<VideosPage>;
    async fn legacy_page(&self, job: &ImportJobId, page: &PageRequest) -> Result<VideosPage>;
    async fn rows(&self, job: &ImportJobId, limit: u32) -> Result<Vec<VideoRow>>;
    async fn wait(
        &self,
        job: &ImportJobId,
        timeout: Duration,
    ) -> Result<(ImportOutcome, Vec<Progress>)>;
    async fn resume(&self, tracker: import_core::ReadinessTracker) -> Result<ImportOutcome>;
    async fn retry(&self, job: &ImportJobId, ids: Option<Vec<VideoId>>) -> Result<RetryResponse>;
}

fn wait_options(timeout: Duration) -> import_core::client::WaitOptions {
    import_core::client::WaitOptions {
        poll_interval: Duration::from_millis(100),
        timeout,
        page_limit: 2,
    }
}

impl Driver for import_async::Client {
    async fn verify(&self) -> Result<VerifyResponse> {
        self.verify_auth().await
    }
    async fn folder(&self, name: &str, scope: Scope) -> Result<Folder> {
        self.create_or_get_folder(name, scope).await
    }
    async fn create_folder(&self, name: &str, scope: Scope) -> Result<Folder> {
        import_async::Client::create_folder(self, name, scope, None).await
    }
    async fn get_folder(&self, name: &str, scope: Scope) -> Result<Folder> {
        import_async::Client::get_folder(self, name, scope).await
    }
    async fn add_s3(&self, creds: Value, endpoint: &str) -> Result<CloudIntegration> {
        self.cloud_integrations()
            .add_s3("R2 archive", BUCKET, &creds, None, Some(endpoint), None)
            .await
    }
    async fn add_gcs(&self, key: Value) -> Result<CloudIntegration> {
        self.cloud_integrations()
            .add_gcs("GCS archive", "gcs-archive", key, Some("raw/"))
            .await
    }
    async fn add_hf(&self, bucket: &str, token: &str) -> Result<CloudIntegration> {
        self.cloud_integrations()
            .add_hf_bucket("HF", bucket, token, None)
            .await
    }
    async fn list(&self, kind: Option<Provider>) -> Result<Vec<CloudIntegration>> {
        self.cloud_integrations().list(kind).await
    }
    async fn delete(&self, id: &IntegrationId) -> Result<()> {
        self.cloud_integrations().delete(id).await
    }
    async fn upload(&self, req: &ImportRequest, folder: Option<&str>) -> Result<UploadResponse> {
        import_async::Client::upload(self, req, folder).await
    }
    async fn job(&self, job: &ImportJobId) -> Result<ImportJob> {
        self.get_import_job(job).await
    }
    async fn page(&self, job: &ImportJobId, page: &PageRequest) -> Result<VideosPage> {
        self.get_import_job_videos(job, page).await
    }
    #[allow(deprecated)]
    async fn legacy_page(&self, job: &ImportJobId, page: &PageRequest) -> Result<VideosPage> {
        self.get_import_job_uploaded_video_ids(job, page).await
    }
    async fn rows(&self, job: &ImportJobId, limit: u32) -> Result<Vec<VideoRow>> {
        use futures::TryStreamExt;
        self.videos(job, limit)?.try_collect().await
    }
    async fn wait(
        &self,
        job: &ImportJobId,
        timeout: Duration,
    ) -> Result<(ImportOutcome, Vec<Progress>)> {
        let mut seen = Vec::new();
        let out = self
            .wait_for_import(job, &wait_options(timeout), |p| seen.push(*p))
            .await?;
        Ok((out, seen))
    }
    async fn resume(&self, tracker: import_core::ReadinessTracker) -> Result<ImportOutcome> {
        self.wait_with_tracker(tracker, &wait_options(Duration::from_secs(60)), |_| {})
            .await
    }
    async fn retry(&self, job: &ImportJobId, ids: Option<Vec<VideoId>>) -> Result<RetryResponse> {
        self.retry_import_job(job, ids.as_deref()).await
    }
}

/// The blocking client, driven from a blocking thread.
struct Blocking(import_blocking::Client);

async fn blocking<T: Send + 'static>(
    c: &Blocking,
    f: impl FnOnce(import_blocking::Client) -> T + Send + 'static,
) -> T {
    let client = c.0.clone();
    tokio::task::spawn_blocking(move || f(client))
        .await
        .expect("the blocking call does not panic")
}

impl Driver for Blocking {
    async fn verify(&self) -> Result<VerifyResponse> {
        blocking(self, |c| c.verify_auth()).await
    }
    async fn folder(&self, name: &str, scope: Scope) -> Result<Folder> {
        let n = name.to_owned();
        blocking(self, move |c| c.create_or_get_folder(&n, scope)).await
    }
    async fn create_folder(&self, name: &str, scope: Scope) -> Result<Folder> {
        let n = name.to_owned();
        blocking(self, move |c| c.create_folder(&n, scope, None)).await
    }
    async fn get_folder(&self, name: &str, scope: Scope) -> Result<Folder> {
        let n = name.to_owned();
        blocking(self, move |c| c.get_folder(&n, scope)).await
    }
    async fn add_s3(&self, creds: Value, endpoint: &str) -> Result<CloudIntegration> {
        let e = endpoint.to_owned();
        blocking(self, move |c| {
            c.cloud_integrations()
                .add_s3("R2 archive", BUCKET, &creds, None, Some(&e), None)
        })
        .await
    }
    async fn add_gcs(&self, key: Value) -> Result<CloudIntegration> {
        blocking(self, move |c| {
            c.cloud_integrations()
                .add_gcs("GCS archive", "gcs-archive", key, Some("raw/"))
        })
        .await
    }
    async fn add_hf(&self, bucket: &str, token: &str) -> Result<CloudIntegration> {
        let (b, t) = (bucket.to_owned(), token.to_owned());
        blocking(self, move |c| {
            c.cloud_integrations().add_hf_bucket("HF", &b, &t, None)
        })
        .await
    }
    async fn list(&self, kind: Option<Provider>) -> Result<Vec<CloudIntegration>> {
        blocking(self, move |c| c.cloud_integrations().list(kind)).await
    }
    async fn delete(&self, id: &IntegrationId) -> Result<()> {
        let id = id.clone();
        blocking(self, move |c| c.cloud_integrations().delete(&id)).await
    }
    async fn upload(&self, req: &ImportRequest, folder: Option<&str>) -> Result<UploadResponse> {
        let (r, f) = (req.clone(), folder.map(str::to_owned));
        blocking(self, move |c| c.upload(&r, f.as_deref())).await
    }
    async fn job(&self, job: &ImportJobId) -> Result<ImportJob> {
        let j = job.clone();
        blocking(self, move |c| c.get_import_job(&j)).await
    }
    async fn page(&self, job: &ImportJobId, page: &PageRequest) -> Result<VideosPage> {
        let (j, p) = (job.clone(), page.clone());
        blocking(self, move |c| c.get_import_job_videos(&j, &p)).await
    }
    #[allow(deprecated)]
    async fn legacy_page(&self, job: &ImportJobId, page: &PageRequest) -> Result<VideosPage> {
        let (j, p) = (job.clone(), page.clone());
        blocking(self, move |c| c.get_import_job_uploaded_video_ids(&j, &p)).await
    }
    async fn rows(&self, job: &ImportJobId, limit: u32) -> Result<Vec<VideoRow>> {
        let j = job.clone();
        blocking(self, move |c| c.videos(&j, limit)?.collect()).await
    }
    async fn wait(
        &self,
        job: &ImportJobId,
        timeout: Duration,
    ) -> Result<(ImportOutcome, Vec<Progress>)> {
        let j = job.clone();
        blocking(self, move |c| {
            let mut seen = Vec::new();
            let out = c.wait_for_import(&j, &wait_options(timeout), |p| seen.push(*p))?;
            Ok((out, seen))
        })
        .await
    }
    async fn resume(&self, tracker: import_core::ReadinessTracker) -> Result<ImportOutcome> {
        blocking(self, move |c| {
            c.wait_with_tracker(tracker, &wait_options(Duration::from_secs(60)), |_| {})
        })
        .await
    }
    async fn retry(&self, job: &ImportJobId, ids: Option<Vec<VideoId>>) -> Result<RetryResponse> {
        let j = job.clone();
        blocking(self, move |c| c.retry_import_job(&j, ids.as_deref())).await
    }
}

struct Env {
    _server: Server,
    proxy: FaultProxy,
    s3: S3StandIn,
    key: String,
    dir: tempfile::TempDir,
}

async fn env(workers: usize) -> Env {
    let s3 = S3StandIn::start(AK, SK).await.unwrap();
    s3.create_bucket(BUCKET).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = ServerConfig::new(dir.path());
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.allow_endpoints = vec![s3.addr().to_string()];
    config.workers = workers;
    config.retry_base = Duration::from_millis(50);
    let server = Server::start(config).await.unwrap();
    let key = server
        .create_api_key("user_ada", "org_acme", Some("Ada"))
        .await
        .unwrap();
    let proxy = FaultProxy::start(server.addr()).await.unwrap();
    Env {
        _server: server,
        proxy,
        s3,
        key,
        dir,
    }
}

fn policy() -> import_core::RetryPolicy {
    import_core::RetryPolicy::default()
        .with_initial_backoff(Duration::from_millis(50))
        .with_max_backoff(Duration::from_millis(400))
}

impl Env {
    fn async_client(&self) -> import_async::Client {
        import_async::Client::builder()
            .api_key(&self.key)
            .base_url(self.proxy.endpoint())
            .retry_policy(policy())
            .build()
            .unwrap()
    }

    fn blocking_client(&self) -> Blocking {
        Blocking(
            import_blocking::Client::builder()
                .api_key(&self.key)
                .base_url(self.proxy.endpoint())
                .retry_policy(policy())
                .build()
                .unwrap(),
        )
    }

    fn put(&self, key: &str, bytes: &[u8]) {
        self.s3.put(BUCKET, key, bytes).unwrap();
    }

    async fn jobs_in_database(&self) -> i64 {
        let url = format!("sqlite://{}", self.dir.path().join("vimport.db").display());
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        sqlx::query_scalar("SELECT COUNT(*) FROM jobs")
            .fetch_one(&pool)
            .await
            .unwrap()
    }
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
async fn docs_end_to_end(d: &impl Driver, env: &Env) {
    env.put("trip-042/front.mp4", &mp4());
    env.put("trip-042/rear.mp4", &mp4());
    env.put("trip-042/notes.mp4", &jpeg_bytes());
    let me = d.verify().await.unwrap();
    assert_eq!(
        (me.user_id.as_str(), me.org_id.as_str()),
        ("user_ada", "org_acme")
    );
    let integration = d
        .add_s3(
            json!({"accessKeyId": AK, "secretAccessKey": SK}),
            &env.s3.endpoint(),
        )
        .await
        .unwrap();
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
async fn multi_view(d: &impl Driver, env: &Env) {
    env.put("t1/front.mp4", &mp4());
    env.put("t1/left.mp4", &mp4());
    let integration = d
        .add_s3(
            json!({"access_key_id": AK, "secret_access_key": SK}),
            &env.s3.endpoint(),
        )
        .await
        .unwrap();
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
        rows[0].views.as_ref().unwrap()["left"].status.as_str(),
        "UPLOADED"
    );
    let err = d
        .page(
            &started.import_job_id,
            &PageRequest::new(10, None, Some(0)).unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(reqwest::StatusCode::BAD_REQUEST));
}

/// Paging with `limit=1` sees every row once, by iterator/stream and by hand.
async fn paging(d: &impl Driver, env: &Env) {
    let integration = d
        .add_s3(
            json!({"accessKeyId": AK, "secretAccessKey": SK}),
            &env.s3.endpoint(),
        )
        .await
        .unwrap();
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
    let ids: std::collections::BTreeSet<_> = rows.iter().map(|r| r.video_id.clone()).collect();
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
async fn busy_then_success(d: &impl Driver, env: &Env) {
    env.proxy.push_rule(Rule {
        method: Some("POST"),
        path_prefix: "/api/keys/verify".into(),
        times: 1,
        action: Action::Respond {
            status: 503,
            headers: vec![("Retry-After".into(), "1".into())],
            body: r#"{"detail":"busy"}"#.into(),
        },
    });
    env.proxy.push_rule(Rule {
        method: Some("POST"),
        path_prefix: "/api/keys/verify".into(),
        times: 1,
        action: Action::Respond {
            status: 429,
            headers: vec![("Retry-After".into(), "1".into())],
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
    let keys: std::collections::BTreeSet<_> = seen
        .iter()
        .map(|r| r.header("idempotency-key").unwrap().to_owned())
        .collect();
    assert_eq!(keys.len(), 1, "one Idempotency-Key across the retries");
    // A 503 that does not go away ends as an API error with its detail.
    env.proxy.push_rule(Rule {
        method: Some("GET"),
        path_prefix: "/api/cloud-integrations".into(),
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
async fn dropped_post_creates_one_job(d: &impl Driver, env: &Env) {
    env.put("once.mp4", &mp4());
    let integration = d
        .add_s3(
            json!({"accessKeyId": AK, "secretAccessKey": SK}),
            &env.s3.endpoint(),
        )
        .await
        .unwrap();
    let before = env.jobs_in_database().await;
    env.proxy.clear_requests();
    env.proxy.push_rule(Rule {
        method: Some("POST"),
        path_prefix: "/api/s3/upload".into(),
        times: 1,
        action: Action::DropAfterForward,
    });
    let request = ImportRequest::builder()
        .uri(format!("s3://{BUCKET}/once.mp4"))
        .integration_id(integration.id)
        .build()
        .unwrap();
    let started = d.upload(&request, None).await.unwrap();
    let uploads: Vec<_> = env
        .proxy
        .requests()
        .into_iter()
        .filter(|r| r.path == "/api/s3/upload")
        .collect();
    assert_eq!(uploads.len(), 2, "the dropped POST was retried");
    assert_eq!(
        uploads[0].header("idempotency-key"),
        uploads[1].header("idempotency-key")
    );
    assert_eq!(env.jobs_in_database().await, before + 1, "one job, not two");
    d.wait(&started.import_job_id, Duration::from_secs(60))
        .await
        .unwrap();
}

/// The wait's timeout is an error with the last progress and a tracker that resumes.
async fn wait_times_out_and_resumes(d: &impl Driver, env: &Env) {
    env.put("slow.mp4", &mp4());
    let integration = d
        .add_s3(
            json!({"accessKeyId": AK, "secretAccessKey": SK}),
            &env.s3.endpoint(),
        )
        .await
        .unwrap();
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
    let tracker: import_core::ReadinessTracker = serde_json::from_str(&saved).unwrap();
    let mut config = ServerConfig::new(env.dir.path());
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.allow_endpoints = vec![env.s3.addr().to_string()];
    let worker = Server::start(config).await.unwrap();
    let outcome = d.resume(tracker).await.unwrap();
    assert_eq!(outcome.uploaded.len(), 1);
    worker.shutdown().await;
}

/// Bad input never leaves the machine; 401 and 404 are told apart.
async fn errors_are_typed(d: &impl Driver, env: &Env) {
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
    let err = d.add_gcs(json!("not an object")).await.unwrap_err();
    assert!(matches!(err, Error::InvalidInput(_)), "{err}");
    assert!(
        env.proxy
            .requests()
            .iter()
            .all(|r| r.path == "/api/cloud-integrations"),
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
    let bad = import_async::Client::builder()
        .api_key("vk_wrong")
        .base_url(env.proxy.endpoint())
        .build()
        .unwrap();
    assert!(matches!(
        bad.verify_auth().await,
        Err(Error::Answer(AnswerError::Unauthorized { .. }))
    ));
    let nowhere = import_async::Client::builder()
        .api_key("k")
        .base_url("http://127.0.0.1:9")
        .retry_policy(import_core::RetryPolicy::none())
        .build()
        .unwrap();
    assert!(matches!(
        nowhere.verify_auth().await,
        Err(Error::Transport { .. })
    ));
    let hf = d.add_hf("acme/cams", "hf_tok").await.unwrap();
    assert_eq!(hf.kind, Provider::HfBucket);
    let _ = d.folder("fleet", Scope::Org).await.unwrap();
}

/// Golden: each operation sends what api.md says (method, path, query,
/// headers, body), as recorded on the wire.
async fn wire_requests(d: &impl Driver, env: &Env) {
    env.proxy.clear_requests();
    let _ = d.verify().await.unwrap();
    let _ = d.folder("fleet uploads", Scope::Org).await.unwrap();
    let _ = d.get_folder("fleet uploads", Scope::Org).await.unwrap();
    let i = d
        .add_s3(
            json!({"accessKeyId": AK, "secretAccessKey": SK, "sessionToken": "tok"}),
            &env.s3.endpoint(),
        )
        .await
        .unwrap();
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

macro_rules! both {
    ($($name:ident => $workers:expr),* $(,)?) => {
        mod on_async {
            use super::*;
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let env = env($workers).await;
                super::$name(&env.async_client(), &env).await;
            })*
        }
        mod on_blocking {
            use super::*;
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let env = env($workers).await;
                super::$name(&env.blocking_client(), &env).await;
            })*
        }
    };
}

both! {
    docs_end_to_end => 2,
    multi_view => 2,
    paging => 2,
    busy_then_success => 1,
    dropped_post_creates_one_job => 1,
    wait_times_out_and_resumes => 0,
    errors_are_typed => 1,
    wire_requests => 1,
}
