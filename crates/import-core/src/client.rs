//! What the blocking and async clients share: configuration, the error type,
//! the upload flow (folder by name, GCS integration candidates) and credential
//! parsing. The clients only move bytes and sleep.

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

use http::StatusCode;
use serde_json::Value;

use crate::api::{self, ApiKey, ApiRequest};
use crate::error::Error;
use crate::ids::{ImportJobId, IntegrationId};
use crate::integrations::gcs_integration_candidates;
use crate::readiness::{Progress, ReadinessTracker};
use crate::request::ImportRequest;
use crate::retry::RetryPolicy;
use crate::uri::Provider;
use crate::wire::{
    AddGcsIntegration, AddS3Integration, CloudIntegration, Folder, FolderRequest, UploadResponse,
};

/// The hosted API's base URL, the default of every client.
pub const DEFAULT_BASE_URL: &str = "https://api-prod.nomadicml.com";
/// Environment variable holding the API key.
pub const ENV_API_KEY: &str = "VIMPORT_API_KEY";
/// Environment variable holding the base URL.
pub const ENV_BASE_URL: &str = "VIMPORT_BASE_URL";
/// Environment variable holding the request timeout in seconds.
pub const ENV_TIMEOUT_SECS: &str = "VIMPORT_TIMEOUT_SECS";
/// Default timeout of one HTTP request.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The `User-Agent` clients send by default.
pub fn default_user_agent() -> String {
    format!("import-rs/{}", env!("CARGO_PKG_VERSION"))
}

/// Everything a client needs to talk to the API.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The API key (redacted in `Debug`).
    pub api_key: ApiKey,
    /// Base URL without a trailing `/`.
    pub base_url: String,
    /// Timeout of one HTTP request.
    pub timeout: Duration,
    /// `User-Agent` header.
    pub user_agent: String,
    /// Which failures are retried.
    pub retry: RetryPolicy,
}

/// Builds a [`ClientConfig`]; [`ClientConfigBuilder::build`] validates.
///
/// ```
/// use import_core::client::ClientConfigBuilder;
///
/// let config = ClientConfigBuilder::default()
///     .api_key("vk_0123")
///     .base_url("http://127.0.0.1:8080/")
///     .build()?;
/// assert_eq!(config.base_url, "http://127.0.0.1:8080");
///
/// let env = |name: &str| (name == "VIMPORT_API_KEY").then(|| "vk_env".to_owned());
/// let from_env = ClientConfigBuilder::from_lookup(env)?.build()?;
/// assert_eq!(from_env.api_key.expose(), "vk_env");
/// # Ok::<(), import_core::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct ClientConfigBuilder {
    api_key: Option<String>,
    base_url: Option<String>,
    timeout: Option<Duration>,
    user_agent: Option<String>,
    retry: Option<RetryPolicy>,
}

impl ClientConfigBuilder {
    /// Start from environment-style variables: `VIMPORT_API_KEY` (required by
    /// `build`), `VIMPORT_BASE_URL`, `VIMPORT_TIMEOUT_SECS`. `lookup` is
    /// `|name| std::env::var(name).ok()` in the clients.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let mut b = ClientConfigBuilder {
            api_key: lookup(ENV_API_KEY),
            base_url: lookup(ENV_BASE_URL).filter(|u| !u.trim().is_empty()),
            ..ClientConfigBuilder::default()
        };
        if let Some(raw) = lookup(ENV_TIMEOUT_SECS).filter(|t| !t.trim().is_empty()) {
            let secs: f64 = raw
                .trim()
                .parse()
                .ok()
                .filter(|s: &f64| *s > 0.0 && s.is_finite())
                .ok_or_else(|| Error::InvalidField {
                    field: "VIMPORT_TIMEOUT_SECS",
                    problem: format!("must be a positive number of seconds, got `{raw}`"),
                })?;
            b.timeout = Some(Duration::from_secs_f64(secs));
        }
        Ok(b)
    }

    /// The API key.
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// The base URL (default: the hosted API).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// Timeout of one HTTP request (default 60 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// `User-Agent` (default `import-rs/<version>`).
    pub fn user_agent(mut self, ua: impl Into<String>) -> Self {
        self.user_agent = Some(ua.into());
        self
    }

    /// Retry policy (default [`RetryPolicy::default`]).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// Validate and build.
    pub fn build(self) -> Result<ClientConfig, Error> {
        let Some(key) = self.api_key else {
            return Err(Error::InvalidField {
                field: "api_key",
                problem: format!("is missing: pass it to the builder or set {ENV_API_KEY}"),
            });
        };
        let base = self.base_url.unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
        let base = base.trim().trim_end_matches('/').to_owned();
        let scheme_ok = base.starts_with("https://") || base.starts_with("http://");
        if !scheme_ok || base.len() <= "https://".len() || base.contains(char::is_whitespace) {
            return Err(Error::InvalidField {
                field: "base_url",
                problem: format!(
                    "`{base}` is not an http(s) URL; use for example `https://api.example.com` or `http://127.0.0.1:8080`"
                ),
            });
        }
        let timeout = self.timeout.unwrap_or(DEFAULT_TIMEOUT);
        if timeout.is_zero() {
            return Err(Error::InvalidField {
                field: "timeout",
                problem: "must be longer than zero".to_owned(),
            });
        }
        Ok(ClientConfig {
            api_key: ApiKey::new(key)?,
            base_url: base,
            timeout,
            user_agent: self.user_agent.unwrap_or_else(default_user_agent),
            retry: self.retry.unwrap_or_default(),
        })
    }
}

/// A client that can be made from a [`ClientConfig`] (the blocking and the
/// async client).
pub trait FromConfig: Sized {
    /// Make the client.
    fn from_config(config: ClientConfig) -> Result<Self, ClientError>;
}

/// The builder of a client `C`: the settings of [`ClientConfigBuilder`], then
/// `build()` makes the client.
#[derive(Debug, Clone)]
#[must_use]
pub struct ClientBuilder<C> {
    inner: ClientConfigBuilder,
    client: std::marker::PhantomData<fn() -> C>,
}

impl<C> Default for ClientBuilder<C> {
    fn default() -> Self {
        ClientBuilder {
            inner: ClientConfigBuilder::default(),
            client: std::marker::PhantomData,
        }
    }
}

impl<C: FromConfig> ClientBuilder<C> {
    /// Start from `VIMPORT_API_KEY`, `VIMPORT_BASE_URL` and `VIMPORT_TIMEOUT_SECS`
    /// as `lookup` answers them.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ClientError> {
        Ok(ClientBuilder {
            inner: ClientConfigBuilder::from_lookup(lookup)?,
            client: std::marker::PhantomData,
        })
    }

    fn map(self, f: impl FnOnce(ClientConfigBuilder) -> ClientConfigBuilder) -> Self {
        ClientBuilder {
            inner: f(self.inner),
            client: self.client,
        }
    }

    /// The API key.
    pub fn api_key(self, key: impl Into<String>) -> Self {
        self.map(|b| b.api_key(key))
    }

    /// The base URL (default: the hosted API).
    pub fn base_url(self, url: impl Into<String>) -> Self {
        self.map(|b| b.base_url(url))
    }

    /// Timeout of one HTTP request (default 60 s).
    pub fn timeout(self, timeout: Duration) -> Self {
        self.map(|b| b.timeout(timeout))
    }

    /// `User-Agent` (default `import-rs/<version>`).
    pub fn user_agent(self, ua: impl Into<String>) -> Self {
        self.map(|b| b.user_agent(ua))
    }

    /// Retry policy (default: 4 retries of idempotent requests with backoff).
    pub fn retry_policy(self, policy: RetryPolicy) -> Self {
        self.map(|b| b.retry_policy(policy))
    }

    /// Validate and make the client.
    pub fn build(self) -> Result<C, ClientError> {
        C::from_config(self.inner.build()?)
    }
}

/// The error of the clients: bad local input, `401`, `404`, other API errors,
/// transport failures and timeouts are told apart.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// Something given to the client is invalid; nothing was sent.
    #[error("invalid input: {0}")]
    InvalidInput(#[source] Error),
    /// `401`: the API key is missing, unknown or revoked.
    #[error("the API key was refused (401): {detail}; check the key")]
    Unauthorized {
        /// The server's `detail`.
        detail: String,
    },
    /// `404`.
    #[error("not found (404): {detail}")]
    NotFound {
        /// The server's `detail`.
        detail: String,
    },
    /// Any other error answer.
    #[error("the API answered {status}: {detail}")]
    Api {
        /// The HTTP status.
        status: StatusCode,
        /// The server's `detail`.
        detail: String,
    },
    /// The request could not be sent or its answer not read.
    #[error("could not reach {url}: {message}")]
    Transport {
        /// The URL requested.
        url: String,
        /// What failed.
        message: String,
    },
    /// One HTTP request took longer than the configured timeout.
    #[error("{url} did not answer within {} s; raise the client's timeout or check the server", .after.as_secs_f64())]
    Timeout {
        /// The URL requested.
        url: String,
        /// The timeout in force.
        after: Duration,
    },
    /// `wait_for_import` ran out of time; the tracker can resume the wait.
    #[error("import job {job_id} was not ready after {} s ({progress}); wait again with the saved tracker or a longer timeout", .waited.as_secs())]
    WaitTimedOut {
        /// The job.
        job_id: ImportJobId,
        /// How long it waited.
        waited: Duration,
        /// The last progress seen.
        progress: Progress,
        /// The wait's state, to resume it (it is `Serialize`).
        tracker: Box<ReadinessTracker>,
    },
    /// The server answered something the contract does not allow.
    #[error("the server broke the contract: {message}")]
    Protocol {
        /// What was wrong.
        message: String,
    },
}

impl From<Error> for ClientError {
    fn from(e: Error) -> Self {
        match e {
            Error::Unauthorized { detail } => ClientError::Unauthorized { detail },
            Error::NotFound { detail } => ClientError::NotFound { detail },
            Error::Api { status, detail, .. } => ClientError::Api { status, detail },
            Error::Decode { .. } | Error::Protocol { .. } => ClientError::Protocol {
                message: e.to_string(),
            },
            other => ClientError::InvalidInput(other),
        }
    }
}

impl ClientError {
    /// The HTTP status of an error answer, if this is one.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            ClientError::Unauthorized { .. } => Some(StatusCode::UNAUTHORIZED),
            ClientError::NotFound { .. } => Some(StatusCode::NOT_FOUND),
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

impl fmt::Display for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} of {} rows seen: {} uploaded, {} failed, {} pending",
            self.seen, self.total, self.uploaded, self.failed, self.pending
        )
    }
}

/// How a request failed before an answer arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendFailure {
    /// No answer within the timeout.
    Timeout,
    /// The connection was refused, reset or closed.
    Connect(String),
    /// Any other transport failure.
    Transport(String),
}

/// What the transport does next in an [`Exchange`].
#[derive(Debug)]
#[must_use]
pub enum ExchangeStep<T> {
    /// The exchange is over.
    Done(Result<T, ClientError>),
    /// Sleep this long, then send [`Exchange::http_request`] again.
    Retry(Duration),
}

/// One request with its retries, as a state machine: the transport sends
/// [`Exchange::http_request`], feeds the answer or the failure back, and sleeps
/// when told. Mutating requests carry the same `Idempotency-Key` on every try,
/// so a retried POST never does the work twice.
///
/// ```
/// use std::time::SystemTime;
/// use http::{HeaderMap, StatusCode};
/// use import_core::client::{ClientConfigBuilder, Exchange, ExchangeStep};
///
/// let config = ClientConfigBuilder::default().api_key("vk_1").base_url("http://127.0.0.1:8080").build()?;
/// let mut ex = Exchange::new(import_core::api::verify_auth(), &config, Some("key-1".into()), 7)?;
/// assert_eq!(ex.http_request().headers()["idempotency-key"], "key-1");
/// let mut busy = HeaderMap::new();
/// busy.insert("retry-after", "1".parse().unwrap());
/// let step = ex.handle_response(StatusCode::SERVICE_UNAVAILABLE, &busy, b"", SystemTime::now());
/// assert!(matches!(step, ExchangeStep::Retry(d) if d.as_secs() >= 1));
/// let body = br#"{"valid":true,"user_id":"u","org_id":"o"}"#;
/// let ExchangeStep::Done(Ok(v)) = ex.handle_response(StatusCode::OK, &HeaderMap::new(), body, SystemTime::now()) else { panic!() };
/// assert!(v.valid);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Exchange<T> {
    request: ApiRequest<T>,
    http: http::Request<Vec<u8>>,
    url: String,
    timeout: Duration,
    policy: RetryPolicy,
    state: crate::retry::RetryState,
}

impl<T: serde::de::DeserializeOwned> Exchange<T> {
    /// Prepare a request: the key is attached to mutating requests (pass a
    /// fresh random one per logical request); `seed` seeds the backoff jitter.
    pub fn new(
        request: ApiRequest<T>,
        config: &ClientConfig,
        idempotency_key: Option<String>,
        seed: u64,
    ) -> Result<Exchange<T>, ClientError> {
        let request = match idempotency_key {
            Some(key) if request.wants_idempotency_key() => request.with_idempotency_key(key)?,
            _ => request,
        };
        let url = request.url(&config.base_url);
        let mut builder = http::Request::builder()
            .method(request.method().clone())
            .uri(&url);
        for (name, value) in request.headers(&config.api_key, &config.user_agent)?.iter() {
            builder = builder.header(name, value);
        }
        let http = builder
            .body(request.body().map(<[u8]>::to_vec).unwrap_or_default())
            .map_err(|e| {
                ClientError::InvalidInput(Error::InvalidField {
                    field: "base_url",
                    problem: format!("`{url}` is not a valid request URL: {e}"),
                })
            })?;
        Ok(Exchange {
            request,
            http,
            url,
            timeout: config.timeout,
            policy: config.retry.clone(),
            state: crate::retry::RetryState::new(seed),
        })
    }

    /// The request to send (the same on every try).
    pub fn http_request(&self) -> &http::Request<Vec<u8>> {
        &self.http
    }

    /// The URL requested.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Feed an answer: done, or retry after a pause (`429`, `503` with
    /// `Retry-After`, ...).
    pub fn handle_response(
        &mut self,
        status: StatusCode,
        headers: &http::HeaderMap,
        body: &[u8],
        now: std::time::SystemTime,
    ) -> ExchangeStep<T> {
        if !status.is_success() {
            let retry_after = headers
                .get(http::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok());
            let outcome = crate::retry::Outcome::Status {
                status,
                retry_after,
            };
            if let crate::retry::Decision::Retry { after } =
                self.policy
                    .decide(&mut self.state, self.request.is_idempotent(), outcome, now)
            {
                return ExchangeStep::Retry(after);
            }
        }
        ExchangeStep::Done(
            self.request
                .decode(status, headers, body)
                .map_err(ClientError::from),
        )
    }

    /// Feed a transport failure: done with the error, or retry after a pause.
    pub fn handle_failure(
        &mut self,
        failure: SendFailure,
        now: std::time::SystemTime,
    ) -> ExchangeStep<T> {
        let outcome = match failure {
            SendFailure::Timeout => crate::retry::Outcome::Timeout,
            SendFailure::Connect(_) => crate::retry::Outcome::Connect,
            SendFailure::Transport(_) => crate::retry::Outcome::Transport,
        };
        if let crate::retry::Decision::Retry { after } =
            self.policy
                .decide(&mut self.state, self.request.is_idempotent(), outcome, now)
        {
            return ExchangeStep::Retry(after);
        }
        ExchangeStep::Done(Err(match failure {
            SendFailure::Timeout => ClientError::Timeout {
                url: self.url.clone(),
                after: self.timeout,
            },
            SendFailure::Connect(message) | SendFailure::Transport(message) => {
                ClientError::Transport {
                    url: self.url.clone(),
                    message,
                }
            }
        }))
    }
}

/// A GCS service-account key, as a caller may hold it.
#[derive(Clone)]
#[non_exhaustive]
pub enum GcsKey {
    /// A path to the JSON key file.
    Path(std::path::PathBuf),
    /// The JSON text.
    Json(String),
    /// The JSON bytes.
    Bytes(Vec<u8>),
    /// The parsed JSON.
    Value(Value),
}

impl fmt::Debug for GcsKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GcsKey::Path(p) => f.debug_tuple("Path").field(p).finish(),
            _ => f.write_str("GcsKey(<redacted>)"),
        }
    }
}

impl From<std::path::PathBuf> for GcsKey {
    fn from(p: std::path::PathBuf) -> Self {
        GcsKey::Path(p)
    }
}

impl From<&std::path::Path> for GcsKey {
    fn from(p: &std::path::Path) -> Self {
        GcsKey::Path(p.to_owned())
    }
}

impl From<Value> for GcsKey {
    fn from(v: Value) -> Self {
        GcsKey::Value(v)
    }
}

impl GcsKey {
    /// The integration body; `read` reads the key file when the key is a path
    /// (the client passes `std::fs::read`).
    pub fn into_integration(
        self,
        name: &str,
        bucket: &str,
        prefix: Option<&str>,
        read: impl FnOnce(&std::path::Path) -> std::io::Result<Vec<u8>>,
    ) -> Result<AddGcsIntegration, Error> {
        match self {
            GcsKey::Path(path) => {
                let bytes = read(&path).map_err(|e| Error::InvalidField {
                    field: "service_account",
                    problem: format!("the key file {} cannot be read: {e}", path.display()),
                })?;
                gcs_integration(name, bucket, &bytes, prefix)
            }
            GcsKey::Json(text) => gcs_integration(name, bucket, text.as_bytes(), prefix),
            GcsKey::Bytes(bytes) => gcs_integration(name, bucket, &bytes, prefix),
            GcsKey::Value(value) => gcs_integration_value(name, bucket, value, prefix),
        }
    }
}

/// How `wait_for_import` polls.
#[derive(Debug, Clone, PartialEq)]
pub struct WaitOptions {
    /// Pause between polls when the server suggests none (default 5 s).
    pub poll_interval: Duration,
    /// Give up after this long with [`ClientError::WaitTimedOut`] (default 1 h).
    pub timeout: Duration,
    /// Rows per page when walking the job (default 1000).
    pub page_limit: u32,
}

impl Default for WaitOptions {
    fn default() -> Self {
        WaitOptions {
            poll_interval: crate::readiness::DEFAULT_POLL_INTERVAL,
            timeout: Duration::from_secs(3600),
            page_limit: crate::pager::MAX_PAGE_LIMIT,
        }
    }
}

impl WaitOptions {
    /// A tracker for a job with these options.
    pub fn tracker(&self, job: ImportJobId) -> ReadinessTracker {
        ReadinessTracker::new(job)
            .with_page_limit(self.page_limit)
            .with_poll_interval(self.poll_interval)
    }

    /// How long to sleep for a `Next::Wait(wanted)` after `elapsed`, or the
    /// timeout error when the time is up.
    pub fn pause(
        &self,
        tracker: &ReadinessTracker,
        elapsed: Duration,
        wanted: Duration,
    ) -> Result<Duration, ClientError> {
        if elapsed >= self.timeout {
            return Err(ClientError::WaitTimedOut {
                job_id: tracker.job_id().clone(),
                waited: elapsed,
                progress: tracker.progress(),
                tracker: Box::new(tracker.clone()),
            });
        }
        Ok(wanted.min(self.timeout - elapsed))
    }
}

/// One step of an upload, for the client to carry out.
#[derive(Debug)]
#[must_use]
pub enum UploadStep {
    /// Send, then [`UploadFlow::handle_folder`].
    CreateFolder(ApiRequest<Folder>),
    /// Send, then [`UploadFlow::handle_integrations`].
    ListIntegrations(ApiRequest<Vec<CloudIntegration>>),
    /// Send, then [`UploadFlow::handle_upload`].
    Upload(ApiRequest<UploadResponse>),
    /// Finished.
    Done(UploadResponse),
}

#[derive(Debug)]
enum FlowState {
    Folder,
    Integrations,
    Upload,
    Done(UploadResponse),
}

/// An upload as the official SDK does it: resolve the folder by name
/// (create-or-get), then, for GCS without an integration, try the caller's
/// saved `gcs` integrations for the bucket in order until one is accepted.
///
/// ```
/// use import_core::client::{UploadFlow, UploadStep};
/// use import_core::ImportRequest;
///
/// let request = ImportRequest::builder().uri("gs://drive-archive/a.mp4").build()?;
/// let mut flow = UploadFlow::new(request, None)?;
/// let UploadStep::ListIntegrations(req) = flow.poll()? else { unreachable!() };
/// assert_eq!(req.path(), "/api/cloud-integrations");
/// flow.handle_integrations(serde_json::from_str(r#"[{"id":"ci_1","name":"a","type":"gcs",
///     "bucket":"drive-archive","created_at":"t","created_by":"u","is_owner":true}]"#).unwrap())?;
/// let UploadStep::Upload(req) = flow.poll()? else { unreachable!() };
/// assert_eq!(req.path(), "/api/gcs/upload");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct UploadFlow {
    request: ImportRequest,
    folder: Option<FolderRequest>,
    candidates: VecDeque<IntegrationId>,
    /// Trying the caller's saved GCS integrations one after the other.
    auto_gcs: bool,
    state: FlowState,
}

impl UploadFlow {
    /// A flow for a request and an optional folder name (created in the request's scope).
    pub fn new(request: ImportRequest, folder: Option<&str>) -> Result<UploadFlow, Error> {
        let folder = folder
            .map(|name| api::folder_request(name, request.scope()))
            .transpose()?;
        let auto_gcs = request.provider() == Provider::Gcs && request.integration_id().is_none();
        let state = if folder.is_some() {
            FlowState::Folder
        } else if auto_gcs {
            FlowState::Integrations
        } else {
            FlowState::Upload
        };
        Ok(UploadFlow {
            request,
            folder,
            candidates: VecDeque::new(),
            auto_gcs,
            state,
        })
    }

    /// The next step.
    pub fn poll(&mut self) -> Result<UploadStep, ClientError> {
        Ok(match &self.state {
            FlowState::Folder => match &self.folder {
                Some(f) => UploadStep::CreateFolder(api::create_or_get_folder(f)),
                None => {
                    self.state = FlowState::Upload;
                    return self.poll();
                }
            },
            FlowState::Integrations => UploadStep::ListIntegrations(api::list_integrations()),
            FlowState::Upload => {
                let mut request = self.request.clone();
                if let Some(id) = self.candidates.front() {
                    request = request.with_integration_id(id.clone());
                }
                UploadStep::Upload(api::upload(&request).map_err(ClientError::InvalidInput)?)
            }
            FlowState::Done(answer) => UploadStep::Done(answer.clone()),
        })
    }

    /// Feed the folder answer.
    pub fn handle_folder(&mut self, folder: Folder) {
        self.request = self.request.clone().with_folder_id(folder.id);
        self.state = if self.auto_gcs {
            FlowState::Integrations
        } else {
            FlowState::Upload
        };
    }

    /// Feed the list of saved integrations; none for the bucket is an error that
    /// says how to add one.
    pub fn handle_integrations(&mut self, list: Vec<CloudIntegration>) -> Result<(), ClientError> {
        self.candidates = gcs_integration_candidates(&list, self.request.bucket())
            .map(|i| i.id.clone())
            .collect();
        if self.candidates.is_empty() {
            return Err(ClientError::InvalidInput(Error::GcsIntegrationRequired {
                bucket: self.request.bucket().to_owned(),
            }));
        }
        self.state = FlowState::Upload;
        Ok(())
    }

    /// Feed the upload answer. When trying saved GCS integrations, a refusal
    /// (any 4xx but `401`) moves on to the next one; the last refusal is
    /// returned when none is accepted.
    pub fn handle_upload(
        &mut self,
        answer: Result<UploadResponse, ClientError>,
    ) -> Result<(), ClientError> {
        match answer {
            Ok(ok) => {
                self.state = FlowState::Done(ok);
                Ok(())
            }
            Err(e) => {
                let refused = e
                    .status()
                    .is_some_and(|s| s.is_client_error() && s != StatusCode::UNAUTHORIZED);
                if self.auto_gcs && refused && self.candidates.len() > 1 {
                    self.candidates.pop_front();
                    Ok(())
                } else {
                    Err(e)
                }
            }
        }
    }
}

/// Parse S3 credentials given as JSON with any of the usual spellings of the
/// keys (`access_key_id`, `accessKeyId`, `AccessKeyId`, `access-key-id`, ...).
///
/// ```
/// let v = serde_json::json!({"accessKeyId": "AK", "SecretAccessKey": "SK", "session-token": "T"});
/// let c = import_core::client::S3Keys::from_json(&v)?;
/// assert_eq!((c.access_key_id.as_str(), c.session_token.as_deref()), ("AK", Some("T")));
/// # Ok::<(), import_core::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct S3Keys {
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
    /// Session token of temporary credentials.
    pub session_token: Option<String>,
}

impl fmt::Debug for S3Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Keys")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

fn normalize_key(k: &str) -> String {
    k.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

impl S3Keys {
    /// Read the keys from a JSON object, whatever the spelling of its keys.
    pub fn from_json(value: &Value) -> Result<S3Keys, Error> {
        let Some(map) = value.as_object() else {
            return Err(Error::InvalidField {
                field: "credentials",
                problem: "must be a JSON object with the access key id and the secret access key"
                    .to_owned(),
            });
        };
        let get = |want: &str| {
            map.iter()
                .find(|(k, _)| normalize_key(k) == want)
                .and_then(|(_, v)| v.as_str())
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let missing = |field: &'static str| {
            Error::InvalidField {
            field,
            problem: "is missing from the S3 credentials (accepted spellings: access_key_id / accessKeyId, secret_access_key / secretAccessKey)".to_owned(),
        }
        };
        Ok(S3Keys {
            access_key_id: get("accesskeyid").ok_or_else(|| missing("access_key_id"))?,
            secret_access_key: get("secretaccesskey")
                .ok_or_else(|| missing("secret_access_key"))?,
            session_token: get("sessiontoken"),
        })
    }
}

/// The body that saves an S3 integration; `region` defaults to `auto` when an
/// endpoint is given, and is required otherwise. Checked by
/// [`S3Integration`](crate::S3Integration), as the server checks it.
pub fn s3_integration(
    name: &str,
    bucket: &str,
    keys: S3Keys,
    region: Option<&str>,
    endpoint_url: Option<&str>,
    prefix: Option<&str>,
) -> Result<AddS3Integration, Error> {
    let body = AddS3Integration {
        name: name.to_owned(),
        kind: Provider::S3,
        access_key_id: keys.access_key_id,
        secret_access_key: keys.secret_access_key,
        session_token: keys.session_token,
        region: region.map(str::to_owned),
        endpoint_url: endpoint_url.map(str::to_owned),
        bucket: bucket.to_owned(),
        prefix: prefix.map(str::to_owned),
    };
    crate::S3Integration::try_from(body).map(AddS3Integration::from)
}

/// The body that saves a GCS integration from the service-account key's bytes
/// (the JSON file as downloaded).
pub fn gcs_integration(
    name: &str,
    bucket: &str,
    key_json: &[u8],
    prefix: Option<&str>,
) -> Result<AddGcsIntegration, Error> {
    let value: Value = serde_json::from_slice(key_json).map_err(|e| Error::InvalidField {
        field: "service_account",
        problem: format!(
            "is not valid JSON ({e}); pass the service-account key file as downloaded"
        ),
    })?;
    gcs_integration_value(name, bucket, value, prefix)
}

/// The body that saves a GCS integration from the service-account key as
/// JSON. Checked by [`GcsIntegration`](crate::GcsIntegration), as the server
/// checks it.
pub fn gcs_integration_value(
    name: &str,
    bucket: &str,
    key: Value,
    prefix: Option<&str>,
) -> Result<AddGcsIntegration, Error> {
    let body = AddGcsIntegration {
        name: name.to_owned(),
        kind: Provider::Gcs,
        service_account: key,
        bucket: bucket.to_owned(),
        prefix: prefix.map(str::to_owned),
    };
    crate::GcsIntegration::try_from(body).map(AddGcsIntegration::from)
}

/// The body that saves a Hugging Face bucket integration. Checked by
/// [`HfIntegration`](crate::HfIntegration), as the server checks it.
pub fn hf_integration(
    name: &str,
    bucket: &str,
    token: &str,
    prefix: Option<&str>,
) -> Result<crate::wire::AddHfIntegration, Error> {
    let body = crate::wire::AddHfIntegration {
        name: name.to_owned(),
        kind: Provider::HfBucket,
        token: token.to_owned(),
        bucket: bucket.to_owned(),
        prefix: prefix.map(str::to_owned),
    };
    crate::HfIntegration::try_from(body).map(crate::wire::AddHfIntegration::from)
}

/// The saved integrations of one provider, in the order the API listed them.
pub fn filter_integrations(
    list: Vec<CloudIntegration>,
    kind: Option<Provider>,
) -> Vec<CloudIntegration> {
    list.into_iter()
        .filter(|i| kind.is_none_or(|k| i.kind == k))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn integ(id: &str, kind: &str, bucket: &str) -> CloudIntegration {
        serde_json::from_value(
            serde_json::json!({"id": id, "name": id, "type": kind, "bucket": bucket,
            "created_at": "t", "created_by": "u", "is_owner": true}),
        )
        .unwrap()
    }

    #[test]
    fn config_checks() {
        let err = ClientConfigBuilder::default().build().unwrap_err();
        assert!(err.to_string().contains("VIMPORT_API_KEY"), "{err}");
        let err = ClientConfigBuilder::default()
            .api_key("k")
            .base_url("ftp://x")
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("not an http(s) URL"), "{err}");
        let c = ClientConfigBuilder::default().api_key("k").build().unwrap();
        assert_eq!(c.base_url, DEFAULT_BASE_URL);
        assert_eq!(c.timeout, DEFAULT_TIMEOUT);
        assert!(c.user_agent.starts_with("import-rs/"));
        let env = |n: &str| match n {
            ENV_API_KEY => Some("k".to_owned()),
            ENV_TIMEOUT_SECS => Some("abc".to_owned()),
            _ => None,
        };
        assert!(
            ClientConfigBuilder::from_lookup(env)
                .unwrap_err()
                .to_string()
                .contains("VIMPORT_TIMEOUT_SECS")
        );
        assert!(!format!("{c:?}").contains("\"k\""));
    }

    #[test]
    fn errors_map_from_answers() {
        let e: ClientError = Error::NotFound { detail: "x".into() }.into();
        assert!(matches!(e, ClientError::NotFound { .. }));
        assert_eq!(e.status(), Some(StatusCode::NOT_FOUND));
        let e: ClientError = Error::EmptyRequest.into();
        assert!(matches!(e, ClientError::InvalidInput(_)));
        assert!(e.to_string().starts_with("invalid input: "));
    }

    #[test]
    fn folder_then_upload() {
        let req = ImportRequest::builder()
            .uri("s3://bkt/a.mp4")
            .build()
            .unwrap();
        let mut flow = UploadFlow::new(req, Some("fleet")).unwrap();
        let UploadStep::CreateFolder(r) = flow.poll().unwrap() else {
            panic!()
        };
        assert_eq!(r.path(), "/api/folders/create-or-get");
        flow.handle_folder(
            serde_json::from_str(r#"{"id":"fo_1","name":"fleet","scope":"user","created_at":"t"}"#)
                .unwrap(),
        );
        let UploadStep::Upload(r) = flow.poll().unwrap() else {
            panic!()
        };
        let body: Value = serde_json::from_slice(r.body().unwrap()).unwrap();
        assert_eq!(body["folder_id"], "fo_1");
        flow.handle_upload(Ok(UploadResponse {
            import_job_id: "ij_1".parse().unwrap(),
            status: crate::JobStatus::Importing,
        }))
        .unwrap();
        assert!(matches!(flow.poll().unwrap(), UploadStep::Done(_)));
    }

    #[test]
    fn gcs_candidates_are_tried_in_order() {
        let req = ImportRequest::builder()
            .uri("gs://bkt/a.mp4")
            .build()
            .unwrap();
        let mut flow = UploadFlow::new(req, None).unwrap();
        let UploadStep::ListIntegrations(_) = flow.poll().unwrap() else {
            panic!()
        };
        flow.handle_integrations(vec![
            integ("ci_1", "gcs", "bkt"),
            integ("ci_2", "s3", "bkt"),
            integ("ci_3", "gcs", "bkt"),
        ])
        .unwrap();
        let body = |flow: &mut UploadFlow| {
            let UploadStep::Upload(r) = flow.poll().unwrap() else {
                panic!()
            };
            serde_json::from_slice::<Value>(r.body().unwrap()).unwrap()
        };
        assert_eq!(body(&mut flow)["integration_id"], "ci_1");
        let refused = ClientError::Api {
            status: StatusCode::BAD_REQUEST,
            detail: "no".into(),
        };
        flow.handle_upload(Err(refused)).unwrap();
        assert_eq!(body(&mut flow)["integration_id"], "ci_3");
        // The last refusal is returned.
        let err = flow
            .handle_upload(Err(ClientError::Api {
                status: StatusCode::FORBIDDEN,
                detail: "x".into(),
            }))
            .unwrap_err();
        assert_eq!(err.status(), Some(StatusCode::FORBIDDEN));
        // 401 stops at once.
        let req = ImportRequest::builder()
            .uri("gs://bkt/a.mp4")
            .build()
            .unwrap();
        let mut flow = UploadFlow::new(req, None).unwrap();
        let _ = flow.poll().unwrap();
        flow.handle_integrations(vec![
            integ("ci_1", "gcs", "bkt"),
            integ("ci_3", "gcs", "bkt"),
        ])
        .unwrap();
        assert!(
            flow.handle_upload(Err(ClientError::Unauthorized { detail: "k".into() }))
                .is_err()
        );
        // None saved.
        let req = ImportRequest::builder()
            .uri("gs://bkt/a.mp4")
            .build()
            .unwrap();
        let mut flow = UploadFlow::new(req, None).unwrap();
        let err = flow
            .handle_integrations(vec![integ("ci_2", "s3", "bkt")])
            .unwrap_err();
        assert!(
            err.to_string().contains("vimport integrations add gcs"),
            "{err}"
        );
    }

    #[test]
    fn s3_keys_and_bodies() {
        for v in [
            serde_json::json!({"access_key_id": "A", "secret_access_key": "S"}),
            serde_json::json!({"AccessKeyId": "A", "Secret-Access-Key": "S"}),
            serde_json::json!({"accessKeyId": "A", "secretAccessKey": "S", "sessionToken": ""}),
        ] {
            let k = S3Keys::from_json(&v).unwrap();
            assert_eq!(
                (
                    k.access_key_id.as_str(),
                    k.secret_access_key.as_str(),
                    k.session_token
                ),
                ("A", "S", None)
            );
        }
        let err = S3Keys::from_json(&serde_json::json!({"accessKeyId": "A"})).unwrap_err();
        assert!(err.to_string().contains("secret_access_key"), "{err}");
        let keys =
            S3Keys::from_json(&serde_json::json!({"accessKeyId": "A", "secretAccessKey": "S"}))
                .unwrap();
        assert!(!format!("{keys:?}").contains("\"S\""));
        let body = s3_integration(
            "r2",
            "bkt",
            keys.clone(),
            None,
            Some("https://x.r2.example"),
            None,
        )
        .unwrap();
        assert_eq!(body.region.as_deref(), Some("auto"));
        assert!(
            s3_integration("r2", "bkt", keys, None, None, None)
                .unwrap_err()
                .to_string()
                .contains("`region`")
        );
        assert!(
            gcs_integration("g", "bkt", b"{not json", None)
                .unwrap_err()
                .to_string()
                .contains("not valid JSON")
        );
        assert!(hf_integration("h", "nonamespace", "hf_x", None).is_err());
        assert_eq!(
            hf_integration("h", " ns/name ", "hf_x", None)
                .unwrap()
                .bucket,
            "ns/name"
        );
    }
}
