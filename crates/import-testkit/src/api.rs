//! Calls to a running API server, for tests and benchmarks (feature `api`).
//!
//! [`ApiClient`] is a plain HTTP caller with an API key: it answers the status
//! and the JSON body of any call, so tests can check refusals as well as
//! successes. Its helpers (integrations, uploads, polling a job, paging its
//! rows) build their requests with the core's route constructors
//! ([`import_core::api`]) and name its header constants, so no path or header
//! name is written here.
//!
//! Every helper panics with the answer when the server refuses: they are for
//! tests.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use import_core::api::{self, API_KEY_HEADER, ApiRequest, JSON_CONTENT_TYPE};
use import_core::wire::AddS3Integration;
use import_core::{ImportJobId, ImportRequest, IntegrationId, PageRequest, Provider, VideoId};
use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::S3StandIn;

/// An HTTP caller of one server with one API key.
///
/// ```
/// use import_testkit::api::ApiClient;
///
/// let api = ApiClient::new("http://127.0.0.1:8080/", "vk_test");
/// assert_eq!(api.url("/healthz"), "http://127.0.0.1:8080/healthz");
/// assert_eq!(api.key(), "vk_test");
/// ```
#[derive(Debug, Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl ApiClient {
    /// A caller of the server at `base_url` (`http://127.0.0.1:PORT`) with `api_key`.
    pub fn new(base_url: impl Into<String>, api_key: impl Into<String>) -> ApiClient {
        ApiClient {
            http: reqwest::Client::new(),
            base: base_url.into().trim_end_matches('/').to_owned(),
            key: api_key.into(),
        }
    }

    /// The server's base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// The API key the calls carry.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The underlying HTTP client, for requests the helpers do not make.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The absolute URL of a path (with its query).
    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.base)
    }

    /// One call with another API key; answers the status and the body
    /// (JSON, else the text as a JSON string, `null` when empty).
    pub async fn call_as(
        &self,
        key: &str,
        method: Method,
        path_and_query: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let body = body.map(|b| serde_json::to_vec(&b).expect("a JSON value serialises"));
        self.exchange(key, method, path_and_query, body).await
    }

    /// One call with this caller's key; see [`ApiClient::call_as`].
    pub async fn call(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.call_as(&self.key, method, path_and_query, body).await
    }

    /// `GET` a path; see [`ApiClient::call_as`].
    pub async fn get(&self, path_and_query: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path_and_query, None).await
    }

    /// `POST` a JSON body to a path; see [`ApiClient::call_as`].
    pub async fn post(&self, path_and_query: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path_and_query, Some(body)).await
    }

    /// Send a request the core built; answers the status and the body.
    pub async fn send<T>(&self, request: &ApiRequest<T>) -> (StatusCode, Value) {
        self.exchange(
            &self.key,
            request.method().clone(),
            &request.path_and_query(),
            request.body().map(<[u8]>::to_vec),
        )
        .await
    }

    /// Send a request the core built, which must succeed; answers the body.
    pub async fn ok<T>(&self, request: &ApiRequest<T>) -> Value {
        let (status, body) = self.send(request).await;
        assert!(
            status.is_success(),
            "{} {}: {status} {body}",
            request.method(),
            request.path()
        );
        body
    }

    async fn exchange(
        &self,
        key: &str,
        method: Method,
        path_and_query: &str,
        body: Option<Vec<u8>>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, self.url(path_and_query))
            .header(API_KEY_HEADER, key);
        if let Some(b) = body {
            req = req.header(CONTENT_TYPE, JSON_CONTENT_TYPE).body(b);
        }
        let res = req.send().await.expect("the server answers");
        let status = res.status();
        let text = res.text().await.expect("the answer has a body");
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    /// Save an S3 integration, which must be answered `200`; answers its id.
    pub async fn s3_integration(&self, body: &AddS3Integration) -> String {
        let (status, answer) = self.send(&api::add_s3_integration(body)).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        answer["id"].as_str().expect("an integration id").to_owned()
    }

    /// Start an import of `keys` in an S3 `bucket` through an integration;
    /// answers the job id.
    pub async fn upload_s3_keys(&self, bucket: &str, keys: &[String], integration: &str) -> String {
        let request = ImportRequest::builder()
            .uris(keys.iter().map(|k| format!("s3://{bucket}/{k}")))
            .integration_id(parse_id::<IntegrationId>(integration))
            .build()
            .expect("a valid import request");
        let upload = api::upload(&request).expect("an S3 upload");
        self.upload(&upload).await
    }

    /// Send an upload request the core built; answers the job id.
    pub async fn upload<T>(&self, upload: &ApiRequest<T>) -> String {
        let started = self.ok(upload).await;
        started["import_job_id"]
            .as_str()
            .expect("an import job id")
            .to_owned()
    }

    /// The job, which must exist.
    pub async fn job(&self, job: &str) -> Value {
        self.ok(&api::get_import_job(&parse_id(job))).await
    }

    /// Poll a job every `every` until `done(job)` holds; answers the job.
    pub async fn poll_job(
        &self,
        job: &str,
        every: Duration,
        timeout: Duration,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let j = self.job(job).await;
            if done(&j) {
                return j;
            }
            assert!(
                Instant::now() < deadline,
                "job {job} did not get there in time: {j}"
            );
            tokio::time::sleep(every).await;
        }
    }

    /// Poll a job every 100 ms until it is terminal, for at most a minute.
    pub async fn wait_job(&self, job: &str) -> Value {
        self.poll_job(
            job,
            Duration::from_millis(100),
            Duration::from_secs(60),
            is_terminal,
        )
        .await
    }

    /// Every row of a job, by cursor pages of `limit`.
    pub async fn rows(&self, job: &str, limit: u32) -> Vec<Value> {
        let id: ImportJobId = parse_id(job);
        let mut out = Vec::new();
        let mut cursor: Option<VideoId> = None;
        loop {
            let page = PageRequest::new(limit, cursor.take(), None).expect("a valid page");
            let page = self.ok(&api::get_import_job_videos(&id, &page)).await;
            out.extend(page["videos"].as_array().expect("rows").iter().cloned());
            if page["has_more"] != json!(true) {
                return out;
            }
            cursor = Some(parse_id(page["next_cursor"].as_str().expect("a cursor")));
        }
    }

    /// Wait until the job is terminal with every one of its `n` rows uploaded,
    /// and check each object appears in exactly one row; answers the rows.
    pub async fn all_uploaded_once(&self, job: &str, n: usize) -> Vec<Value> {
        let done = self
            .poll_job(
                job,
                Duration::from_millis(200),
                Duration::from_secs(180),
                is_terminal,
            )
            .await;
        assert_eq!(
            done["counts"],
            json!({"uploaded": n, "failed": 0, "pending": 0}),
            "{done}"
        );
        let rows = self.rows(job, import_core::MAX_PAGE_LIMIT).await;
        assert_eq!(rows.len(), n);
        let uris: BTreeSet<&str> = rows
            .iter()
            .map(|r| r["import_source_uri"].as_str().expect("a source URI"))
            .collect();
        assert_eq!(uris.len(), n, "every object once");
        rows
    }
}

/// Whether a job (as JSON) is terminal.
pub fn is_terminal(job: &Value) -> bool {
    job["terminal"] == json!(true)
}

/// The body of an S3 integration for a bucket of the stand-in, named after
/// the bucket, with the stand-in's keys and endpoint.
pub fn s3_integration_body(s3: &S3StandIn, bucket: &str) -> AddS3Integration {
    AddS3Integration {
        name: bucket.to_owned(),
        kind: Provider::S3,
        access_key_id: s3.access_key().to_owned(),
        secret_access_key: s3.secret_key().to_owned(),
        session_token: None,
        region: None,
        endpoint_url: Some(s3.endpoint()),
        bucket: bucket.to_owned(),
        prefix: None,
    }
}

fn parse_id<T: std::str::FromStr>(id: &str) -> T {
    id.parse()
        .unwrap_or_else(|_| panic!("`{id}` is not a valid id"))
}
