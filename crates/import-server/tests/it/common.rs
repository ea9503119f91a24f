//! The harness of the server's tests: a real server on 127.0.0.1:0 with a
//! temporary SQLite file (or a fresh PostgreSQL database) and media folder,
//! and an s3s-fs bucket with SigV4. The calls themselves are
//! [`import_testkit::api::ApiClient`]'s, which [`Env`] dereferences to.
#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;
use std::time::Duration;

use import_server::store::{SqlStore, Store};
use import_server::{Server, ServerConfig};
use import_testkit::S3StandIn;
use import_testkit::api::{ApiClient, s3_integration_body};
use import_testkit::mp4::{Mp4Spec, sample_mp4};
use import_testkit::postgres;

pub const AK: &str = "AKIDTEST";
pub const SK: &str = "secret-test-key-9f8e7d";
pub const BUCKET: &str = "fleet-videos";

pub struct Env {
    pub server: Server,
    pub s3: S3StandIn,
    pub key: String,
    pub http: reqwest::Client,
    pub dir: tempfile::TempDir,
    api: ApiClient,
}

/// The calls (`call`, `get`, `post`, `rows`, `wait_job`...) go to this
/// environment's server with its key.
impl std::ops::Deref for Env {
    type Target = ApiClient;
    fn deref(&self) -> &ApiClient {
        &self.api
    }
}

/// With `VIMPORT_TEST_STORE=postgres` (as `cargo xtask test` runs the suite a
/// second time), every server of the suite gets a fresh PostgreSQL database
/// on the tests' server ([`postgres::admin_url`]); otherwise a SQLite file in `dir`.
pub fn database_url() -> Option<String> {
    if std::env::var("VIMPORT_TEST_STORE").as_deref() != Ok("postgres") {
        return None;
    }
    Some(postgres::fresh_database_blocking(&postgres::unique_name(
        "vimport_test_",
    )))
}

pub fn config(dir: &std::path::Path, allow: &[String]) -> ServerConfig {
    let mut c = ServerConfig::new(dir);
    c.database_url = database_url();
    c.listen = "127.0.0.1:0".parse().unwrap();
    c.allow_endpoints = allow.to_vec();
    c.max_in_flight = 2;
    c.lease = Duration::from_secs(10);
    c.retry_base = Duration::from_millis(50);
    c.max_attempts = 3;
    c
}

pub async fn env() -> Env {
    env_with(|_| {}).await
}

pub async fn env_with(tune: impl FnOnce(&mut ServerConfig)) -> Env {
    env_with_store(tune, |store| Arc::new(store)).await
}

/// [`env_with`] on a store that `wrap` makes from the real one (a wrapper
/// that injects faults, say).
pub async fn env_with_store(
    tune: impl FnOnce(&mut ServerConfig),
    wrap: impl FnOnce(SqlStore) -> Arc<dyn Store>,
) -> Env {
    let s3 = S3StandIn::start(AK, SK).await.unwrap();
    s3.create_bucket(BUCKET).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path(), &[s3.addr().to_string()]);
    tune(&mut c);
    std::fs::create_dir_all(&c.data_dir).unwrap();
    let store = SqlStore::open(&c.database_url()).await.unwrap();
    let server = Server::start_with_store(c, wrap(store)).await.unwrap();
    let key = server
        .create_api_key("user_ada", "org_acme", Some("Ada"))
        .await
        .unwrap();
    let api = ApiClient::new(server.base_url(), key.clone());
    Env {
        server,
        s3,
        key,
        http: api.http().clone(),
        dir,
        api,
    }
}

/// A real MP4 of the given size class.
pub fn mp4(width: u16, height: u16, duration_ms: u32) -> Vec<u8> {
    sample_mp4(&Mp4Spec {
        width,
        height,
        duration_ms,
        ..Mp4Spec::default()
    })
}

/// A server that reads Hugging Face buckets from `hf` (its CDN allowed),
/// tuned by `tune`.
pub async fn hf_env(hf: &import_testkit::HfStandIn, tune: impl FnOnce(&mut ServerConfig)) -> Env {
    let (endpoint, cdn) = (hf.endpoint(), hf.cdn_addr().to_string());
    env_with(move |c| {
        c.hf_endpoint = endpoint;
        c.allow_endpoints.push(cdn);
        tune(c);
    })
    .await
}

impl Env {
    /// `POST /api/hf-buckets/upload` of `files` of `bucket`, which must be
    /// accepted; the job id.
    pub async fn upload_hf(&self, bucket: &str, files: &[&str]) -> String {
        let (status, up) = self
            .post(
                "/api/hf-buckets/upload",
                serde_json::json!({"files": files, "bucket": bucket}),
            )
            .await;
        assert_eq!(status, reqwest::StatusCode::OK, "{up}");
        up["import_job_id"].as_str().unwrap().to_owned()
    }

    /// Save an R2-style S3 integration for the stand-in bucket.
    pub async fn s3_integration(&self, secret: &str, prefix: Option<&str>) -> String {
        let mut body = s3_integration_body(&self.s3, BUCKET);
        body.name = "local R2".to_owned();
        body.secret_access_key = secret.to_owned();
        body.prefix = prefix.map(str::to_owned);
        self.api.s3_integration(&body).await
    }
}

/// A GET without a key: status, content type and body as text.
pub async fn get_plain(env: &Env, path: &str) -> (reqwest::StatusCode, String, String) {
    let res = env
        .http
        .get(format!("{}{path}", env.server.base_url()))
        .send()
        .await
        .unwrap();
    let status = res.status();
    let content_type = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, content_type, res.text().await.unwrap())
}

/// Log lines captured in memory, for tests that read what the server logged
/// (a `tracing_subscriber` writer).
#[derive(Clone, Default)]
pub struct Capture(pub std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Capture {
    /// Capture every log line of this process at `filter` (an `EnvFilter`
    /// directive), without colour; a test binary per process installs one.
    pub fn install(filter: &str) -> Capture {
        let capture = Capture::default();
        let writer = capture.clone();
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .init();
        capture
    }

    /// What was captured so far, as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Peak resident memory of this process so far (VmHWM), in bytes.
pub fn peak_rss() -> u64 {
    proc_status_bytes("VmHWM:")
}

/// Start [`peak_rss`] again from the resident memory of now (Linux's
/// `clear_refs`, value 5).
pub fn reset_peak_rss() {
    std::fs::write("/proc/self/clear_refs", "5").expect("resetting the peak RSS");
}

/// Resident memory of this process now (VmRSS), in bytes.
pub fn current_rss() -> u64 {
    proc_status_bytes("VmRSS:")
}

/// A `kB` line of `/proc/self/status`, in bytes (0 if absent).
fn proc_status_bytes(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}
