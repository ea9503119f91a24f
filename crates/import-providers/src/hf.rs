//! A read-only [`ObjectStore`] over a Hugging Face Storage Bucket.
//!
//! It speaks the Hub routes a reader needs, as the Hub client libraries do:
//!
//! | operation | request |
//! | --- | --- |
//! | head | `HEAD {hub}/buckets/{ns}/{name}/resolve/{path}`, **not** following the Hub's `302` to its CDN: the size is `X-Linked-Size` (a `3xx`'s `Content-Length` is the redirect's own body), the ETag `X-Linked-Etag` or `ETag`, the Xet hash `X-Xet-Hash`; `Content-Length` counts only on a `2xx`; when neither gives a size, `GET` with `Range: bytes=0-0` and `Content-Range` |
//! | get, ranged get | `GET {hub}/buckets/{ns}/{name}/resolve/{path}` with `Range`; the redirect to the CDN is followed by hand (each hop checked by the endpoint guard, the token sent to the Hub's own origin only); a CDN answer without `Content-Length` is fine (the size is the redirect's `X-Linked-Size`) |
//! | list | `GET {hub}/api/buckets/{ns}/{name}/tree/{prefix}?recursive=true&limit=1000`, following `Link: <...>; rel="next"`; the Hub matches the prefix as a string, so entries outside `prefix/` are dropped |
//! | paths-info | `POST {hub}/api/buckets/{ns}/{name}/paths-info` `{"paths": [...]}`, at most 1,000 paths a request ([`HfBucketStore::paths_info`]) |
//!
//! `{hub}` is operator configuration ([`DEFAULT_HF_ENDPOINT`] by default),
//! never part of an object URI. A token, when given, is sent as
//! `Authorization: Bearer` to the Hub only: redirects to another host drop it,
//! and a next-page link that leaves the Hub is refused. Every path segment is
//! percent-encoded; object names are taken literally.
//!
//! Transient failures (connection errors, timeouts, 429 and 5xx answers) are
//! retried a few times with exponential backoff before the request fails. A
//! `429` waits as the Hub says (`RateLimit: "api";r=0;t=S`, or `Retry-After`),
//! up to [`MAX_RATE_LIMIT_WAIT`]; a limit that resets later fails the request
//! as transient with "the Hub's rate limit for this token is spent; it
//! resets in N s".
//!
//! Messages follow the Hub's answers: `401` without a token means a private
//! bucket, `401` with one a refused token, and `404` with a token "not found,
//! or this token cannot read the bucket" (the Hub hides private buckets).

use import_core::outcome::RETRY_PROMISE;
use std::collections::{BTreeSet, HashSet};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{
    Attributes, CopyOptions, Extensions, GetOptions, GetRange, GetResult, GetResultPayload,
    ListResult, MultipartUpload, ObjectMeta, ObjectStore, PutMultipartOptions, PutOptions,
    PutPayload, PutResult,
};
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use url::Url;

use import_core::{Decision, Outcome, RetryPolicy, RetryState, parse_retry_after};

use crate::config::Secret;
use crate::endpoint::{EndpointPolicy, GuardRefusal, display_url};
use crate::error::{Failure, FailureKind, ProviderError, classify_status};
use crate::open::{CONNECT_TIMEOUT, READ_TIMEOUT, USER_AGENT};

/// The public Hugging Face Hub.
pub const DEFAULT_HF_ENDPOINT: &str = "https://huggingface.co";

/// The `store` name in `object_store` errors from this store.
const STORE: &str = "HfBucket";
/// Attempts after the first for transient failures.
const MAX_RETRIES: u32 = 3;
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// Longest wait for the Hub's rate limit to reset before a request is
/// retried; a limit that resets later fails the request (as transient).
pub const MAX_RATE_LIMIT_WAIT: Duration = Duration::from_secs(60);
/// Entries asked per listing page (the Hub's largest).
const LIST_PAGE_LIMIT: usize = 1000;
/// Paths per `paths-info` request, as the Hub takes them.
pub const PATHS_INFO_BATCH: usize = 1000;

/// The retries of Hub requests: the core's rule, 250 ms doubling, 3
/// retries, without jitter, and every `5xx` retried (the Hub's pass).
fn retry_policy() -> RetryPolicy {
    RetryPolicy::default()
        .with_max_retries(MAX_RETRIES)
        .with_initial_backoff(FIRST_BACKOFF)
        .with_jitter(false)
        .with_every_server_error(true)
}
const MAX_REDIRECTS: usize = 10;
/// How much of an error body is kept for the message.
const ERROR_BODY_LIMIT: usize = 200;
/// Most bytes of a listing page read (a page of 1,000 entries is ~300 KB).
pub(crate) const MAX_LISTING_PAGE: usize = 16 * 1024 * 1024;

/// A read-only [`ObjectStore`] over one Hugging Face Storage Bucket.
///
/// Writes, copies and deletes answer [`object_store::Error::NotImplemented`].
///
/// ```no_run
/// use import_providers::{EndpointPolicy, HfBucketStore, Secret, DEFAULT_HF_ENDPOINT};
/// use object_store::{path::Path, ObjectStore, ObjectStoreExt};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let store = HfBucketStore::new(
///     DEFAULT_HF_ENDPOINT,
///     "acme/fleet",
///     Some(Secret::new("hf_...")),
///     &EndpointPolicy::new(),
/// )?;
/// let meta = store.head(&Path::parse("day1/cam.mp4")?).await?;
/// println!("{} bytes", meta.size);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct HfBucketStore {
    inner: Arc<Inner>,
}

struct Inner {
    /// Follows no redirect: [`Inner::follow`] does, hop by hop.
    client: reqwest::Client,
    endpoint: Url,
    namespace: String,
    name: String,
    token: Option<Secret>,
    /// Decides which redirect targets may be followed.
    policy: EndpointPolicy,
}

/// What the Hub says of a file beyond its size and ETag, in the
/// `extensions` of every `GetResult` of an [`HfBucketStore`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HubFileInfo {
    /// The Xet hash (`X-Xet-Hash`).
    pub xet_hash: Option<String>,
}

/// One file of a `paths-info` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubFile {
    /// Its path in the bucket.
    pub path: Path,
    /// Its size in bytes.
    pub size: u64,
    /// Its Xet hash.
    pub xet_hash: Option<String>,
}

impl HfBucketStore {
    /// A reader for bucket `namespace/name` on the Hub at `hf_endpoint`.
    ///
    /// `policy` decides which redirect targets may be followed and guards
    /// every connection against private addresses (the Hub endpoint itself
    /// is operator configuration and trusted).
    pub fn new(
        hf_endpoint: &str,
        bucket: &str,
        token: Option<Secret>,
        policy: &EndpointPolicy,
    ) -> Result<Self, ProviderError> {
        import_core::check_hf_bucket(bucket)
            .map_err(|p| ProviderError::invalid(p.to_string(), "correct the bucket name"))?;
        let Some((namespace, name)) = bucket.split_once('/') else {
            return Err(ProviderError::invalid(
                format!("`{bucket}` is not a Hugging Face bucket"),
                "write the bucket as `namespace/name`",
            ));
        };
        let endpoint = parse_hub_endpoint(hf_endpoint)?;
        if token.as_ref().is_some_and(Secret::is_blank) {
            return Err(ProviderError::invalid(
                "the Hugging Face token is empty",
                "give a Hub access token with read access to the bucket, or none for a public bucket",
            ));
        }
        let builder = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(READ_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(policy.resolver(&[endpoint.host_str().unwrap_or_default().to_owned()]));
        let client = policy
            .proxied(builder)
            .and_then(reqwest::ClientBuilder::build)
            .map_err(|e| ProviderError::Store(format!("cannot build the HTTP client: {e}")))?;
        Ok(HfBucketStore {
            inner: Arc::new(Inner {
                client,
                endpoint,
                namespace: namespace.to_owned(),
                name: name.to_owned(),
                token,
                policy: policy.clone(),
            }),
        })
    }

    /// The files among `paths` that exist, asked `paths-info`
    /// [`PATHS_INFO_BATCH`] at a time; a path the answer leaves out does not
    /// exist (or is a folder).
    pub async fn paths_info(&self, paths: &[Path]) -> object_store::Result<Vec<HubFile>> {
        let inner = &self.inner;
        let mut url = inner.base_segments(true);
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.push("paths-info");
        }
        let mut found = Vec::new();
        for batch in paths.chunks(PATHS_INFO_BATCH) {
            let body = serde_json::json!({
                "paths": batch.iter().map(AsRef::as_ref).collect::<Vec<&str>>(),
            });
            let body = serde_json::to_vec(&body).map_err(|e| {
                HfError::protocol(format!("encoding paths-info: {e}")).into_store("")
            })?;
            let response = inner
                .send_with(Method::POST, &url, None, Some(Bytes::from(body)), false)
                .await
                .map_err(|e| e.into_store(""))?;
            let page = read_at_most(response, MAX_LISTING_PAGE)
                .await
                .map_err(|e| HfError::from_reqwest(e).into_store(""))?;
            let entries: Vec<TreeEntry> = serde_json::from_slice(&page).map_err(|e| {
                HfError::protocol(format!(
                    "a paths-info answer is not a JSON array of entries ({e})"
                ))
                .into_store("")
            })?;
            let asked: HashSet<&str> = batch.iter().map(AsRef::as_ref).collect();
            for entry in entries {
                if entry.kind != "file" || !asked.contains(entry.path.as_str()) {
                    continue;
                }
                let xet_hash = entry.xet_hash.clone();
                if let Some(meta) = entry_meta(entry) {
                    found.push(HubFile {
                        path: meta.location,
                        size: meta.size,
                        xet_hash,
                    });
                }
            }
        }
        Ok(found)
    }

    /// The bucket, `namespace/name`.
    pub fn bucket(&self) -> String {
        format!("{}/{}", self.inner.namespace, self.inner.name)
    }

    /// The Hub endpoint this store reads from.
    pub fn endpoint(&self) -> &str {
        self.inner.endpoint.as_str()
    }
}

fn parse_hub_endpoint(hf_endpoint: &str) -> Result<Url, ProviderError> {
    let fix = "set the Hub endpoint to a URL such as `https://huggingface.co`";
    let mut url = Url::parse(hf_endpoint.trim()).map_err(|e| {
        ProviderError::invalid(format!("the Hub endpoint is not a valid URL ({e})"), fix)
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(ProviderError::invalid(
            "the Hub endpoint must be an http or https URL with a host",
            fix,
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ProviderError::invalid(
            "the Hub endpoint carries user information",
            "remove `user:password@` from it; give a token instead",
        ));
    }
    url.set_query(None);
    url.set_fragment(None);
    if let Ok(mut segments) = url.path_segments_mut() {
        segments.pop_if_empty();
    }
    Ok(url)
}

impl fmt::Debug for HfBucketStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HfBucketStore")
            .field("endpoint", &self.inner.endpoint.as_str())
            .field("bucket", &self.bucket())
            .field("token", &self.inner.token)
            .finish()
    }
}

impl fmt::Display for HfBucketStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "HfBucketStore(hf://buckets/{}/{} at {})",
            self.inner.namespace, self.inner.name, self.inner.endpoint
        )
    }
}

/// What went wrong talking to the Hub; classified by [`crate::classify`].
#[derive(Debug)]
pub(crate) struct HfError {
    kind: HfErrorKind,
    message: String,
    /// Whether the request that failed carried the token.
    with_token: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HfErrorKind {
    Status(u16),
    Timeout,
    Connect,
    Transport,
    /// A redirect or page link that the guard refused.
    Refused,
    /// An answer that does not follow the protocol.
    Protocol,
    /// The Hub's rate limit is spent for longer than we wait.
    RateLimited,
}

impl fmt::Display for HfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for HfError {}

impl HfError {
    fn protocol(message: impl Into<String>) -> Self {
        HfError {
            kind: HfErrorKind::Protocol,
            message: message.into(),
            with_token: false,
        }
    }

    fn refused(message: String) -> Self {
        HfError {
            kind: HfErrorKind::Refused,
            message,
            with_token: false,
        }
    }

    fn from_reqwest(err: reqwest::Error) -> Self {
        // Show the URL without its query: a CDN URL carries a signature.
        let url = err.url().map(display_url);
        let err = err.without_url();
        let refused = crate::error::find_in_chain::<GuardRefusal>(&err).is_some();
        let kind = if refused {
            HfErrorKind::Refused
        } else if err.is_redirect() || err.is_decode() {
            HfErrorKind::Protocol
        } else if err.is_timeout() {
            HfErrorKind::Timeout
        } else if err.is_connect() {
            HfErrorKind::Connect
        } else {
            HfErrorKind::Transport
        };
        let text = crate::error::chain_text(&err);
        let message = match url {
            Some(url) => format!("the Hugging Face Hub request to {url} failed: {text}"),
            None => format!("the Hugging Face Hub request failed: {text}"),
        };
        HfError {
            kind,
            message,
            with_token: false,
        }
    }

    /// The classification [`crate::classify`] answers for this error.
    pub(crate) fn failure(&self) -> Failure {
        let (kind, message) = match self.kind {
            HfErrorKind::Status(401) if !self.with_token => (
                FailureKind::BadCredentials,
                "the bucket is private (401 without a token): save an `hf_bucket` integration with a token that can read it".to_owned(),
            ),
            HfErrorKind::Status(401) => (
                FailureKind::BadCredentials,
                "the token was refused (401 Unauthorized): give a valid Hugging Face token with read access to the bucket".to_owned(),
            ),
            HfErrorKind::Status(404) if self.with_token => (
                FailureKind::NotFound,
                "not found, or this token cannot read the bucket (the Hub answers 404 for both); check the path and the token's access".to_owned(),
            ),
            HfErrorKind::RateLimited => (FailureKind::Transient, self.message.clone()),
            HfErrorKind::Status(403) => (
                FailureKind::AccessDenied,
                "access denied by the bucket (check the integration's Hugging Face token: it needs read access to this bucket)".to_owned(),
            ),
            HfErrorKind::Status(status) => match classify_status(status) {
                Some(failure) => return failure,
                None => (
                    FailureKind::Other,
                    format!("the Hugging Face Hub answered HTTP {status}: {}", self.message),
                ),
            },
            HfErrorKind::Timeout => (
                FailureKind::Transient,
                format!("the Hugging Face Hub did not answer in time (timeout) even after retries{RETRY_PROMISE}").to_owned(),
            ),
            HfErrorKind::Connect | HfErrorKind::Transport => (
                FailureKind::Transient,
                format!("the connection to the Hugging Face Hub failed even after retries{RETRY_PROMISE}").to_owned(),
            ),
            HfErrorKind::Refused => (FailureKind::Other, self.message.clone()),
            HfErrorKind::Protocol => (
                FailureKind::Other,
                format!("the Hugging Face Hub gave an unexpected answer: {}", self.message),
            ),
        };
        Failure { kind, message }
    }

    fn into_store(self, path: &str) -> object_store::Error {
        let path = path.to_owned();
        let source = Box::new(self);
        match source.kind {
            HfErrorKind::Status(404) => object_store::Error::NotFound { path, source },
            HfErrorKind::Status(401) => object_store::Error::Unauthenticated { path, source },
            HfErrorKind::Status(403) => object_store::Error::PermissionDenied { path, source },
            _ => object_store::Error::Generic {
                store: STORE,
                source,
            },
        }
    }
}

/// One entry of a tree listing.
#[derive(Debug, serde::Deserialize)]
struct TreeEntry {
    #[serde(rename = "type")]
    kind: String,
    path: String,
    #[serde(default)]
    size: Option<u64>,
    #[serde(default)]
    mtime: Option<String>,
    #[serde(default, rename = "uploadedAt")]
    uploaded_at: Option<String>,
    #[serde(default, rename = "lastModified")]
    last_modified: Option<String>,
    #[serde(default, rename = "xetHash")]
    xet_hash: Option<String>,
}

impl Inner {
    fn base_segments(&self, api: bool) -> Url {
        let mut url = self.endpoint.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            if api {
                segments.push("api");
            }
            segments
                .push("buckets")
                .push(&self.namespace)
                .push(&self.name);
        }
        url
    }

    fn resolve_url(&self, location: &Path) -> Url {
        let mut url = self.base_segments(false);
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.push("resolve");
            segments.extend(location.as_ref().split('/'));
        }
        url
    }

    fn tree_url(&self, prefix: Option<&Path>) -> Url {
        let mut url = self.base_segments(true);
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.push("tree");
            // The whole prefix is one percent-encoded segment, as the Hub clients send it.
            if let Some(prefix) = prefix.filter(|p| !p.as_ref().is_empty()) {
                segments.push(prefix.as_ref());
            }
        }
        url.query_pairs_mut()
            .append_pair("recursive", "true")
            .append_pair("limit", &LIST_PAGE_LIMIT.to_string());
        url
    }

    /// Whether a redirect from `from` to `next` may be followed, and with the
    /// token: the Hub's own origin keeps it; another host gets no token and
    /// must pass the endpoint guard; the Hub's host on another port or scheme
    /// is refused (the resolver trusts that host).
    fn check_hop(&self, next: &Url) -> Result<bool, HfError> {
        if next.origin() == self.endpoint.origin() {
            return Ok(true);
        }
        if let (Some(host), Some(port)) = (next.host_str(), next.port_or_known_default())
            && self
                .policy
                .is_allowed(host.trim_start_matches('[').trim_end_matches(']'), port)
        {
            return Ok(false);
        }
        let hub_host = self.endpoint.host_str().unwrap_or_default();
        if next
            .host_str()
            .is_some_and(|h| h.eq_ignore_ascii_case(hub_host))
        {
            return Err(HfError::refused(format!(
                "a redirect to `{}` is refused: the Hub's host on another port or scheme",
                display_url(next)
            )));
        }
        self.policy
            .check_redirect(next)
            .map(|()| false)
            .map_err(|reason| {
                HfError::refused(format!(
                    "{reason}; the operator can allow a trusted endpoint with `--allow-endpoint HOST:PORT`"
                ))
            })
    }

    /// `method` on `url`, following redirects by hand (each hop checked);
    /// answers the final response and the headers of the first redirect.
    async fn follow(
        &self,
        method: Method,
        url: &Url,
        range: Option<&str>,
    ) -> Result<(reqwest::Response, Option<HeaderMap>), HfError> {
        let mut url = url.clone();
        let mut first_hop: Option<HeaderMap> = None;
        let mut with_token = true;
        for _ in 0..=MAX_REDIRECTS {
            let response = self
                .send_with(method.clone(), &url, range, None, true)
                .await
                .map_err(|e| HfError {
                    with_token: e.with_token && with_token,
                    ..e
                })?;
            if !response.status().is_redirection() {
                return Ok((response, first_hop));
            }
            let location = header_str(response.headers(), header::LOCATION).ok_or_else(|| {
                HfError::protocol("the Hub answered a redirect without a Location")
            })?;
            let next = url
                .join(location)
                .map_err(|e| HfError::protocol(format!("the Hub's redirect is not a URL ({e})")))?;
            with_token = with_token && self.check_hop(&next)?;
            if first_hop.is_none() {
                first_hop = Some(response.headers().clone());
            }
            url = next;
        }
        Err(HfError::protocol(format!(
            "more than {MAX_REDIRECTS} redirects"
        )))
    }

    /// Send a request, retrying transient failures; non-2xx answers are errors.
    async fn send(
        &self,
        method: Method,
        url: &Url,
        range: Option<&str>,
    ) -> Result<reqwest::Response, HfError> {
        self.send_with(method, url, range, None, false).await
    }

    /// Send one request (no redirect followed), retrying transient failures
    /// and waiting out short rate limits; answers `2xx` (and `3xx` when
    /// `redirects` is set), else an error. The token goes to the Hub's own
    /// origin only.
    async fn send_with(
        &self,
        method: Method,
        url: &Url,
        range: Option<&str>,
        body: Option<Bytes>,
        redirects: bool,
    ) -> Result<reqwest::Response, HfError> {
        let policy = retry_policy();
        let with_token = self.token.is_some() && url.origin() == self.endpoint.origin();
        // No jitter: the seed draws nothing.
        let mut retries = RetryState::new(0);
        loop {
            let mut request = self.client.request(method.clone(), url.clone());
            if with_token && let Some(token) = &self.token {
                let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
                    .map_err(|_| {
                        HfError::protocol(
                            "the Hugging Face token contains characters that cannot be sent in a header; copy the token again",
                        )
                    })?;
                value.set_sensitive(true);
                request = request.header(header::AUTHORIZATION, value);
            }
            if let Some(range) = range {
                request = request.header(header::RANGE, range);
            }
            if let Some(body) = &body {
                request = request
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(body.clone());
            }
            let (err, told_wait) = match request.send().await {
                Ok(response)
                    if response.status().is_success()
                        || (redirects && response.status().is_redirection()) =>
                {
                    return Ok(response);
                }
                Ok(response) => {
                    let told = rate_limit_wait(response.headers(), SystemTime::now());
                    let mut err = status_error(&method, url, response).await;
                    err.with_token = with_token;
                    (err, told)
                }
                Err(e) => (HfError::from_reqwest(e), None),
            };
            if err.kind == HfErrorKind::Status(429)
                && let Some(wait) = told_wait
                && wait > MAX_RATE_LIMIT_WAIT
            {
                return Err(HfError {
                    kind: HfErrorKind::RateLimited,
                    message: format!(
                        "the Hub's rate limit for this token is spent; it resets in {} s (more than the {} s this server waits){RETRY_PROMISE}",
                        wait.as_secs(),
                        MAX_RATE_LIMIT_WAIT.as_secs()
                    ),
                    with_token,
                });
            }
            let outcome = match err.kind {
                HfErrorKind::Status(code) => match reqwest::StatusCode::from_u16(code) {
                    Ok(status) => Outcome::Status {
                        status,
                        retry_after: None,
                    },
                    Err(_) => return Err(err),
                },
                HfErrorKind::Timeout => Outcome::Timeout,
                HfErrorKind::Connect => Outcome::Connect,
                HfErrorKind::Transport => Outcome::Transport,
                HfErrorKind::Refused | HfErrorKind::Protocol | HfErrorKind::RateLimited => {
                    return Err(err);
                }
            };
            // The policy decides; the Hub's own wait (its `RateLimit` or
            // `Retry-After`, read above and bounded by MAX_RATE_LIMIT_WAIT)
            // stretches the policy's backoff.
            let wait = match policy.decide(&mut retries, true, outcome, SystemTime::now()) {
                Decision::Retry { after } => told_wait.map_or(after, |told| told.max(after)),
                Decision::GiveUp | Decision::DoNotRetry => return Err(err),
            };
            tracing::debug!(
                url = %display_url(url),
                retry = retries.attempt(),
                wait_ms = wait.as_millis() as u64,
                "retrying a Hugging Face Hub request: {err}"
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// What a `HEAD` says of a file, as the official clients read it: the
    /// Hub's `302` to its CDN is not followed; a redirect's size is
    /// `X-Linked-Size` (its `Content-Length` is the redirect's own body), a
    /// `2xx`'s is `Content-Length`; without either, a `GET` of its first byte
    /// and `Content-Range`.
    async fn head(&self, location: &Path, url: &Url) -> Result<(ObjectMeta, HubFileInfo), HfError> {
        let response = self.send_with(Method::HEAD, url, None, None, true).await?;
        let headers = response.headers().clone();
        let info = HubFileInfo {
            xet_hash: header_str(&headers, "x-xet-hash").map(str::to_owned),
        };
        let size = if response.status().is_redirection() {
            header_u64(&headers, "x-linked-size")
        } else {
            // Read the header itself: reqwest reports 0 as the length of a HEAD body.
            header_u64(&headers, "x-linked-size")
                .or_else(|| header_u64(&headers, header::CONTENT_LENGTH))
        };
        if let Some(size) = size {
            return Ok((meta_from_headers(location, &headers, size), info));
        }
        // Neither: ask for the first byte (an empty file answers 416 or 200 with 0).
        let (response, hop) = self.follow(Method::GET, url, Some("bytes=0-0")).await?;
        let got = response.headers().clone();
        let size = match response.status() {
            StatusCode::PARTIAL_CONTENT => header_str(&got, header::CONTENT_RANGE)
                .and_then(parse_content_range)
                .map(|(_, _, total)| total),
            _ => header_u64(&got, header::CONTENT_LENGTH),
        }
        .ok_or_else(|| {
            HfError::protocol("the Hub did not give the object's size (no X-Linked-Size, Content-Length or Content-Range)")
        })?;
        drop(response);
        let meta_headers = hop
            .as_ref()
            .filter(|h| h.contains_key(header::ETAG) || h.contains_key("x-linked-etag"))
            .unwrap_or(&headers);
        let info = HubFileInfo {
            xet_hash: info.xet_hash.or_else(|| {
                hop.as_ref()
                    .and_then(|h| header_str(h, "x-xet-hash"))
                    .map(str::to_owned)
            }),
        };
        Ok((meta_from_headers(location, meta_headers, size), info))
    }

    /// Fetch one listing page: its files and the next page's URL.
    async fn list_page(&self, url: &Url) -> Result<(Vec<TreeEntry>, Option<Url>), HfError> {
        let response = self.send(Method::GET, url, None).await?;
        let next = next_link(response.headers(), url)?;
        if let Some(next) = &next
            && next.origin() != self.endpoint.origin()
        {
            return Err(HfError::refused(format!(
                "the Hub's next-page link leaves the Hub (`{}`); the listing was stopped so the token is not sent elsewhere",
                display_url(next)
            )));
        }
        let body = read_at_most(response, MAX_LISTING_PAGE)
            .await
            .map_err(HfError::from_reqwest)?;
        if body.len() >= MAX_LISTING_PAGE {
            return Err(HfError::protocol(format!(
                "a listing page is larger than {} MiB; the listing was stopped",
                MAX_LISTING_PAGE >> 20
            )));
        }
        let entries: Vec<TreeEntry> = serde_json::from_slice(&body).map_err(|e| {
            HfError::protocol(format!(
                "a listing page is not a JSON array of entries ({e})"
            ))
        })?;
        Ok((entries, next))
    }
}

async fn status_error(method: &Method, url: &Url, response: reqwest::Response) -> HfError {
    let status = response.status();
    let body = if *method == Method::HEAD {
        String::new()
    } else {
        // At most MAX_ERROR_BODY bytes: the rest is dropped with the connection.
        let bytes = read_at_most(response, crate::open::MAX_ERROR_BODY)
            .await
            .unwrap_or_default();
        hub_error_text(&bytes)
    };
    let reason = status.canonical_reason().unwrap_or("");
    let mut message = format!(
        "{method} {} answered {} {reason}",
        display_url(url),
        status.as_u16()
    );
    if !body.is_empty() {
        message.push_str(": ");
        message.push_str(&body);
    }
    HfError {
        kind: HfErrorKind::Status(status.as_u16()),
        message,
        with_token: false,
    }
}

/// How long a `429` (or `503`) says to wait: the reset of a spent
/// `RateLimit` (`"api";r=0;t=55`, the policy name any quoted string, as
/// in `"api|resolvers";r=0;t=55`), or `Retry-After`, whichever is longer.
fn rate_limit_wait(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let retry_after =
        header_str(headers, header::RETRY_AFTER).and_then(|v| parse_retry_after(v, now));
    let reset = headers
        .get_all("ratelimit")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|item| {
            let mut params = item.split(';').skip(1);
            let (mut remaining, mut reset) = (None, None);
            for param in params.by_ref() {
                let Some((key, value)) = param.split_once('=') else {
                    continue;
                };
                let value: Option<u64> = value.trim().parse().ok();
                match key.trim() {
                    "r" => remaining = value,
                    "t" => reset = value,
                    _ => {}
                }
            }
            (remaining == Some(0)).then_some(reset).flatten()
        })
        .map(Duration::from_secs);
    match (retry_after, reset) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// The body of `response`, read to at most `limit` bytes (a body that runs
/// on answers `limit` bytes; the rest is dropped with the connection).
async fn read_at_most(
    response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, reqwest::Error> {
    let mut stream = response.bytes_stream();
    let mut kept = Vec::new();
    while kept.len() < limit {
        match stream.next().await {
            Some(chunk) => {
                let chunk = chunk?;
                let take = (limit - kept.len()).min(chunk.len());
                kept.extend_from_slice(&chunk[..take]);
            }
            None => break,
        }
    }
    Ok(kept)
}

/// The `error` field of a Hub JSON error, or the start of the body, made
/// safe to keep ([`import_core::quote::outside`]).
fn hub_error_text(body: &[u8]) -> String {
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_slice(body)
        && let Some(serde_json::Value::String(e)) = map.get("error")
    {
        return import_core::quote::outside(e, ERROR_BODY_LIMIT).into_owned();
    }
    let text = String::from_utf8_lossy(body);
    import_core::quote::outside(text.trim(), ERROR_BODY_LIMIT).into_owned()
}

/// The `rel="next"` target of a `Link` header, resolved against `current`.
fn next_link(headers: &HeaderMap, current: &Url) -> Result<Option<Url>, HfError> {
    for value in headers.get_all(header::LINK) {
        let Ok(value) = value.to_str() else {
            continue;
        };
        let mut rest = value;
        while let Some(open) = rest.find('<') {
            let Some(close) = rest[open..].find('>').map(|c| open + c) else {
                break;
            };
            let target = &rest[open + 1..close];
            let params_end = rest[close..].find('<').map_or(rest.len(), |n| close + n);
            let params = &rest[close + 1..params_end];
            let is_next = params.split(';').any(|p| {
                let p = p.trim().trim_end_matches(',').trim();
                let Some((key, val)) = p.split_once('=') else {
                    return false;
                };
                key.trim().eq_ignore_ascii_case("rel")
                    && val
                        .trim()
                        .trim_matches('"')
                        .split_ascii_whitespace()
                        .any(|r| r.eq_ignore_ascii_case("next"))
            });
            if is_next {
                return current.join(target).map(Some).map_err(|e| {
                    HfError::protocol(format!("the Hub's next-page link is not a URL ({e})"))
                });
            }
            rest = &rest[params_end..];
        }
    }
    Ok(None)
}

fn header_str(headers: &HeaderMap, name: impl header::AsHeaderName) -> Option<&str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

fn header_u64(headers: &HeaderMap, name: impl header::AsHeaderName) -> Option<u64> {
    header_str(headers, name).and_then(|v| v.parse().ok())
}

fn meta_from_headers(location: &Path, headers: &HeaderMap, size: u64) -> ObjectMeta {
    let last_modified = header_str(headers, header::LAST_MODIFIED)
        .and_then(|v| httpdate::parse_http_date(v).ok())
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let e_tag = header_str(headers, "x-linked-etag")
        .or_else(|| header_str(headers, header::ETAG))
        .map(str::to_owned);
    ObjectMeta {
        location: location.clone(),
        last_modified: last_modified.into(),
        size,
        e_tag,
        version: None,
    }
}

/// `bytes START-END/TOTAL` of a `Content-Range` header.
fn parse_content_range(value: &str) -> Option<(u64, u64, u64)> {
    let rest = value.trim().strip_prefix("bytes")?.trim_start();
    let (span, total) = rest.split_once('/')?;
    let (start, end) = span.split_once('-')?;
    let start: u64 = start.trim().parse().ok()?;
    let end: u64 = end.trim().parse().ok()?;
    let total: u64 = total.trim().parse().ok()?;
    (start <= end && end < total).then_some((start, end, total))
}

fn entry_meta(entry: TreeEntry) -> Option<ObjectMeta> {
    if entry.kind != "file" {
        return None;
    }
    let location = match Path::parse(&entry.path) {
        Ok(p) if p.as_ref() == entry.path => p,
        _ => {
            tracing::warn!(
                path = %entry.path,
                "skipping a Hugging Face bucket entry whose name cannot be represented as an object path"
            );
            return None;
        }
    };
    let last_modified = [&entry.mtime, &entry.uploaded_at, &entry.last_modified]
        .into_iter()
        .flatten()
        .find_map(|t| humantime::parse_rfc3339_weak(t.trim_end_matches('Z')).ok())
        .unwrap_or(SystemTime::UNIX_EPOCH);
    Some(ObjectMeta {
        location,
        last_modified: last_modified.into(),
        size: entry.size.unwrap_or(0),
        e_tag: None,
        version: None,
    })
}

fn not_implemented(operation: &str) -> object_store::Error {
    object_store::Error::NotImplemented {
        operation: operation.to_owned(),
        implementer: "HfBucketStore (Hugging Face buckets are read-only here)".to_owned(),
    }
}

/// Skip `skip` bytes of a stream, then yield at most `take` bytes.
fn slice_stream(
    body: BoxStream<'static, object_store::Result<Bytes>>,
    skip: u64,
    take: u64,
) -> BoxStream<'static, object_store::Result<Bytes>> {
    stream::unfold(
        (body, skip, take),
        |(mut body, mut skip, mut take)| async move {
            loop {
                if take == 0 {
                    return None;
                }
                let mut chunk = match body.next().await? {
                    Ok(chunk) => chunk,
                    Err(e) => return Some((Err(e), (body, 0, 0))),
                };
                let len = chunk.len() as u64;
                if skip >= len {
                    skip -= len;
                    continue;
                }
                let start = skip as usize;
                skip = 0;
                let end = (start as u64 + take).min(len) as usize;
                let piece = chunk.split_off(start).slice(..end - start);
                take -= piece.len() as u64;
                return Some((Ok(piece), (body, skip, take)));
            }
        },
    )
    .boxed()
}

#[async_trait]
impl ObjectStore for HfBucketStore {
    async fn put_opts(
        &self,
        _location: &Path,
        _payload: PutPayload,
        _opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        Err(not_implemented("put_opts"))
    }

    async fn put_multipart_opts(
        &self,
        _location: &Path,
        _opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        Err(not_implemented("put_multipart_opts"))
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        let inner = &self.inner;
        let path = location.as_ref();
        if options.version.is_some() {
            return Err(object_store::Error::NotSupported {
                source: "Hugging Face buckets have no object versions".into(),
            });
        }
        if let Some(range) = &options.range {
            range.is_valid().map_err(|e| object_store::Error::Generic {
                store: STORE,
                source: Box::new(e),
            })?;
        }
        let url = inner.resolve_url(location);

        if options.head {
            let (meta, info) = inner
                .head(location, &url)
                .await
                .map_err(|e| e.into_store(path))?;
            options.check_preconditions(&meta)?;
            let mut extensions = Extensions::default();
            extensions.insert(info);
            return Ok(GetResult {
                payload: GetResultPayload::Stream(stream::empty().boxed()),
                range: 0..meta.size,
                meta,
                attributes: Attributes::new(),
                extensions,
            });
        }

        let range_header = options.range.as_ref().map(GetRange::to_string);
        let (response, hop) = inner
            .follow(Method::GET, &url, range_header.as_deref())
            .await
            .map_err(|e| e.into_store(path))?;
        let status = response.status();
        let headers = response.headers().clone();
        let hop = hop.unwrap_or_default();
        let linked_size = header_u64(&hop, "x-linked-size");
        let info = HubFileInfo {
            xet_hash: header_str(&hop, "x-xet-hash")
                .or_else(|| header_str(&headers, "x-xet-hash"))
                .map(str::to_owned),
        };
        // The version the Hub names (its redirect's ETag), else the CDN's.
        let meta_headers = if hop.contains_key("x-linked-etag") || hop.contains_key(header::ETAG) {
            &hop
        } else {
            &headers
        };
        let body_path = path.to_owned();
        let body: BoxStream<'static, object_store::Result<Bytes>> = response
            .bytes_stream()
            .map_err(move |e| HfError::from_reqwest(e).into_store(&body_path))
            .boxed();

        let (meta, range, payload) = if status == StatusCode::PARTIAL_CONTENT {
            let (start, end, total) = header_str(&headers, header::CONTENT_RANGE)
                .and_then(parse_content_range)
                .ok_or_else(|| {
                    HfError::protocol("a partial answer without a valid Content-Range")
                        .into_store(path)
                })?;
            (
                meta_from_headers(location, meta_headers, total),
                start..end + 1,
                body,
            )
        } else {
            // The CDN may stream without Content-Length: the Hub's
            // X-Linked-Size says the size then, else ask as a HEAD would.
            let size = match header_u64(&headers, header::CONTENT_LENGTH).or(linked_size) {
                Some(size) => size,
                None => {
                    inner
                        .head(location, &url)
                        .await
                        .map_err(|e| e.into_store(path))?
                        .0
                        .size
                }
            };
            let meta = meta_from_headers(location, meta_headers, size);
            match &options.range {
                // The server ignored the range: cut it out of the full body.
                Some(range) => {
                    let wanted = range.as_range(size).map_err(|e| {
                        HfError {
                            kind: HfErrorKind::Status(416),
                            message: e.to_string(),
                            with_token: false,
                        }
                        .into_store(path)
                    })?;
                    let payload = slice_stream(body, wanted.start, wanted.end - wanted.start);
                    (meta, wanted, payload)
                }
                None => (meta, 0..size, body),
            }
        };
        options.check_preconditions(&meta)?;
        let mut extensions = Extensions::default();
        extensions.insert(info);
        Ok(GetResult {
            payload: GetResultPayload::Stream(payload),
            meta,
            range,
            attributes: Attributes::new(),
            extensions,
        })
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        locations
            .map(|location| location.and_then(|_| Err(not_implemented("delete"))))
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        let inner = Arc::clone(&self.inner);
        let prefix = prefix.cloned().unwrap_or(Path::ROOT);
        let first = inner.tree_url(Some(&prefix));
        let state = (Some(first), HashSet::<String>::new(), true);
        stream::try_unfold(state, move |(next, mut seen, first_page)| {
            let inner = Arc::clone(&inner);
            let prefix = prefix.clone();
            async move {
                let Some(url) = next else {
                    return Ok(None);
                };
                if !seen.insert(url.to_string()) {
                    return Err(HfError::protocol(
                        "the Hub's next-page links go round in a circle",
                    )
                    .into_store(prefix.as_ref()));
                }
                let (entries, next) = match inner.list_page(&url).await {
                    Ok(page) => page,
                    // The Hub may answer 404 for a prefix with nothing under it:
                    // that is an empty listing when the bucket itself exists.
                    Err(e)
                        if first_page
                            && e.kind == HfErrorKind::Status(404)
                            && !prefix.as_ref().is_empty() =>
                    {
                        let root = inner.tree_url(None);
                        inner
                            .list_page(&root)
                            .await
                            .map_err(|e| e.into_store(prefix.as_ref()))?;
                        (Vec::new(), None)
                    }
                    Err(e) => return Err(e.into_store(prefix.as_ref())),
                };
                let metas: Vec<ObjectMeta> = entries
                    .into_iter()
                    .filter_map(entry_meta)
                    .filter(|m| m.location.prefix_matches(&prefix))
                    .collect();
                Ok(Some((metas, (next, seen, false))))
            }
        })
        .map_ok(|metas| stream::iter(metas.into_iter().map(Ok)))
        .try_flatten()
        .boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        let base = prefix.cloned().unwrap_or(Path::ROOT);
        let all: Vec<ObjectMeta> = self.list(Some(&base)).try_collect().await?;
        let mut common = BTreeSet::new();
        let mut objects = Vec::new();
        for meta in all {
            let folder = {
                let Some(mut rest) = meta.location.prefix_match(&base) else {
                    continue;
                };
                let Some(first) = rest.next() else {
                    continue;
                };
                rest.next().is_some().then(|| base.clone().join(first))
            };
            match folder {
                Some(folder) => {
                    common.insert(folder);
                }
                None => objects.push(meta),
            }
        }
        Ok(ListResult {
            common_prefixes: common.into_iter().collect(),
            objects,
            extensions: Extensions::default(),
        })
    }

    async fn copy_opts(
        &self,
        _from: &Path,
        _to: &Path,
        _options: CopyOptions,
    ) -> object_store::Result<()> {
        Err(not_implemented("copy_opts"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(endpoint: &str) -> HfBucketStore {
        HfBucketStore::new(
            endpoint,
            "acme/fleet",
            Some(Secret::new("hf_secret_token_value")),
            &EndpointPolicy::new(),
        )
        .unwrap()
    }

    #[test]
    fn urls_encode_every_segment() {
        let s = store("https://hub.example/mirror/");
        let url = s
            .inner
            .resolve_url(&Path::parse("day 1/front #1?.mp4").unwrap());
        assert_eq!(
            url.as_str(),
            "https://hub.example/mirror/buckets/acme/fleet/resolve/day%201/front%20%231%3F.mp4"
        );
        let tree = s.inner.tree_url(Some(&Path::parse("day 1/a").unwrap()));
        assert_eq!(
            tree.as_str(),
            "https://hub.example/mirror/api/buckets/acme/fleet/tree/day%201%2Fa?recursive=true&limit=1000"
        );
        assert_eq!(
            s.inner.tree_url(Some(&Path::ROOT)).as_str(),
            "https://hub.example/mirror/api/buckets/acme/fleet/tree?recursive=true&limit=1000"
        );
    }

    #[test]
    fn token_is_never_shown() {
        let s = store(DEFAULT_HF_ENDPOINT);
        let shown = format!("{s:?} {s}");
        assert!(!shown.contains("hf_secret"), "{shown}");
        assert!(shown.contains("acme/fleet"));
    }

    #[test]
    fn bad_configuration() {
        let policy = EndpointPolicy::new();
        let err = HfBucketStore::new("ftp://x", "a/b", None, &policy).unwrap_err();
        assert!(err.to_string().contains("Hub endpoint"), "{err}");
        let err = HfBucketStore::new(DEFAULT_HF_ENDPOINT, "nobucket", None, &policy).unwrap_err();
        assert!(err.to_string().contains("bucket"), "{err}");
        let err = HfBucketStore::new(DEFAULT_HF_ENDPOINT, "a/b", Some(Secret::new(" ")), &policy)
            .unwrap_err();
        assert!(err.to_string().contains("token is empty"), "{err}");
    }

    #[test]
    fn link_headers() {
        let current =
            Url::parse("https://hub.example/api/buckets/a/b/tree?recursive=true").unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            header::LINK,
            HeaderValue::from_static(
                r#"<https://hub.example/x?cursor=1>; rel="prev", </api/buckets/a/b/tree?cursor=2>; rel="next""#,
            ),
        );
        assert_eq!(
            next_link(&headers, &current).unwrap().unwrap().as_str(),
            "https://hub.example/api/buckets/a/b/tree?cursor=2"
        );
        headers.insert(
            header::LINK,
            HeaderValue::from_static("<https://hub.example/p2>; rel=next"),
        );
        assert!(next_link(&headers, &current).unwrap().is_some());
        headers.insert(
            header::LINK,
            HeaderValue::from_static("<https://hub.example/p2>; rel=\"last\""),
        );
        assert!(next_link(&headers, &current).unwrap().is_none());
        assert!(next_link(&HeaderMap::new(), &current).unwrap().is_none());
    }

    #[test]
    fn content_ranges() {
        assert_eq!(parse_content_range("bytes 0-63/1000"), Some((0, 63, 1000)));
        assert_eq!(parse_content_range("bytes 10-5/1000"), None);
        assert_eq!(parse_content_range("bytes 0-63/*"), None);
        assert_eq!(parse_content_range("items 0-1/2"), None);
    }

    #[test]
    fn entries() {
        let entries: Vec<TreeEntry> = serde_json::from_str(
            r#"[{"type":"file","path":"a/b.mp4","size":10,"mtime":"2024-09-25T15:31:02.346Z","xetHash":"x"},
                {"type":"directory","path":"a"},
                {"type":"file","path":"a//bad.mp4","size":1}]"#,
        )
        .unwrap();
        let metas: Vec<ObjectMeta> = entries.into_iter().filter_map(entry_meta).collect();
        assert_eq!(metas.len(), 1);
        assert_eq!(metas[0].size, 10);
        assert_eq!(metas[0].location.as_ref(), "a/b.mp4");
        let modified: SystemTime = metas[0].last_modified.into();
        assert!(modified > SystemTime::UNIX_EPOCH);
    }

    #[tokio::test]
    async fn slicing_a_full_body() {
        let chunks: Vec<object_store::Result<Bytes>> = vec![
            Ok(Bytes::from_static(b"0123")),
            Ok(Bytes::from_static(b"4567")),
            Ok(Bytes::from_static(b"89")),
        ];
        let sliced: Vec<Bytes> = slice_stream(stream::iter(chunks).boxed(), 3, 5)
            .try_collect()
            .await
            .unwrap();
        assert_eq!(sliced.concat(), b"34567");
    }

    #[tokio::test]
    async fn writes_are_not_implemented() {
        use object_store::ObjectStoreExt;
        let s = store(DEFAULT_HF_ENDPOINT);
        let err = s
            .put(&Path::from("a.mp4"), PutPayload::from_static(b"x"))
            .await
            .unwrap_err();
        assert!(matches!(err, object_store::Error::NotImplemented { .. }));
        let err = s.delete(&Path::from("a.mp4")).await.unwrap_err();
        assert!(matches!(err, object_store::Error::NotImplemented { .. }));
        let err = s
            .copy(&Path::from("a.mp4"), &Path::from("b.mp4"))
            .await
            .unwrap_err();
        assert!(matches!(err, object_store::Error::NotImplemented { .. }));
    }
}
