//! A test double of the Hugging Face Hub's Storage Bucket routes.
//!
//! No emulator of the Hub exists, so [`HfStandIn`] is an honest test double:
//! a small axum server on `127.0.0.1:PORT` (the Hub) and a second one on
//! another port (its CDN) that serve a folder laid out as
//! `<root>/<namespace>/<name>/<path>` through the routes a bucket reader
//! needs, with the Hub's shapes. Each behaviour comes from the Hub's Storage
//! Buckets documentation and from what the official client
//! (`huggingface_hub` 2.4: `get_bucket_file_metadata`, `list_bucket_tree`,
//! `get_bucket_paths_info`, `HfFileSystem`) sends and expects; a test drives
//! this double with that client (`cargo xtask test`).
//!
//! | request | answer |
//! | --- | --- |
//! | `HEAD /buckets/{ns}/{name}/resolve/{path}` | `302` to the CDN (another port) with `X-Linked-Size`, `X-Linked-Etag`, `ETag`, `X-Xet-Hash`, `Link: <…/xet-read-token>; rel="xet-auth"` and the `Content-Length` of the redirect's own ~1 KB body, as the Hub does; with [`HfOptions::linked_size`] off, no `X-Linked-Size`; with [`HfOptions::redirect`] off, `200` with the file's `Content-Length` |
//! | `GET /buckets/{ns}/{name}/resolve/{path}` | the same `302` (and body), or the bytes when [`HfOptions::redirect`] is off |
//! | CDN `GET /cdn/{ns}/{name}/{path}?sig=…` | the bytes: 200, or 206 with `Content-Range` for one range; 416 when unsatisfiable; without `Content-Length` when [`HfOptions::cdn_content_length`] is off; no token needed, a valid `sig` (else 403). `HEAD` answers `405` when [`HfOptions::cdn_refuses_head`] is on |
//! | `GET /api/buckets/{ns}/{name}` | `{"id","private","createdAt","size","totalFiles"}` |
//! | `GET /api/buckets/{ns}/{name}/tree[/{prefix}][?recursive=true][&limit=N]` | JSON array of `{"type":"file","path","size","xetHash","mtime","uploadedAt"}` and `{"type":"directory","path","uploadedAt"}`, sorted by path; the prefix is matched **as a string** (`day1` also lists `day10/…`) when recursive, a folder's children otherwise; an empty array (not 404) when nothing matches; pages of `limit` (at most [`HfOptions::page_size`]) linked by `Link: <url>; rel="next"` |
//! | `POST /api/buckets/{ns}/{name}/paths-info` `{"paths":[...]}` | the file entries of the paths that exist (missing paths and folders left out) |
//!
//! Errors: an unknown bucket answers 404 (`X-Error-Code: RepoNotFound`), a
//! private bucket 401 without a token and **404** with a token that cannot
//! read it (the Hub hides private buckets), a missing file 404
//! (`EntryNotFound`), a path with an empty, `.` or `..` segment 400. Error
//! bodies are `{"error": "..."}`. With [`HfOptions::rate_limited`] the first
//! N requests to the Hub (not the CDN) answer `429` with
//! `RateLimit: "api";r=0;t=T`, `RateLimit-Policy` and `Retry-After: T`.
//!
//! Not the Hub: the `X-Xet-Hash` is a stand-in with its shape (64 hex
//! digits from the file's size and modification time, not a Merkle hash of
//! its bytes), there is no Xet storage behind `xet-read-token`, and file
//! bodies are streamed from disk.
//!
//! The endpoint is configuration (like `HF_ENDPOINT`): point a client at
//! [`HfStandIn::endpoint`] instead of the Hub.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::StreamExt;
use hyper_util::service::TowerToHyperService;
use serde::{Deserialize, Serialize};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _};
use tokio_util::io::ReaderStream;

use crate::pct::{encode_component, encode_path};
use crate::serve::ServerTask;

/// The default number of entries in one page of a tree listing, as on the Hub.
pub const DEFAULT_PAGE_SIZE: usize = 1000;

/// How a [`HfStandIn`] behaves.
#[derive(Debug, Clone)]
pub struct HfOptions {
    /// Answer `GET .../resolve/...` with a `302` to the `/cdn/...` route, as
    /// the real Hub does (default `true`); when `false`, serve the bytes
    /// directly.
    pub redirect: bool,
    /// Entries per page of a tree listing (default [`DEFAULT_PAGE_SIZE`]);
    /// must be at least 1.
    pub page_size: usize,
    /// The folder to serve; `None` (the default) makes a temporary folder
    /// that the stand-in owns and deletes when dropped.
    pub root: Option<PathBuf>,
    /// Wait this long before each 64 KiB chunk of a file's body: a slow
    /// source, to keep a copy in flight (default none).
    pub chunk_delay: Option<std::time::Duration>,
    /// Send `X-Linked-Size` with the Hub's redirects (default `true`); off,
    /// a reader must find the size another way.
    pub linked_size: bool,
    /// The CDN sends `Content-Length` (default `true`); off, its bodies are
    /// chunked.
    pub cdn_content_length: bool,
    /// The CDN answers `HEAD` with `405` (default `false`).
    pub cdn_refuses_head: bool,
    /// The first this many requests to the Hub answer `429` (default 0).
    pub rate_limited: usize,
    /// The reset, in seconds, those `429` announce (default 1).
    pub rate_limit_reset_secs: u64,
}

impl Default for HfOptions {
    fn default() -> Self {
        Self {
            redirect: true,
            page_size: DEFAULT_PAGE_SIZE,
            root: None,
            chunk_delay: None,
            linked_size: true,
            cdn_content_length: true,
            cdn_refuses_head: false,
            rate_limited: 0,
            rate_limit_reset_secs: 1,
        }
    }
}

/// The Hugging Face bucket test double, listening on `127.0.0.1:PORT`.
///
/// Dropping it stops the server and, when it owns its folder, deletes it.
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// let hf = import_testkit::HfStandIn::start().await?;
/// hf.add_bucket("fleet", "cams", Some("hf_secret"))?;
/// hf.put("fleet", "cams", "2024/front.mp4", &import_testkit::mp4::sample_mp4(&Default::default()))?;
/// println!("HF endpoint: {}", hf.endpoint());
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct HfStandIn {
    server: ServerTask,
    _cdn: ServerTask,
    state: Arc<HfState>,
    // Kept last so the server stops before the folder goes.
    _owned_root: Option<TempDir>,
}

impl HfStandIn {
    /// Starts the double with [`HfOptions::default`]: redirects on, pages of
    /// 1000 entries, a temporary folder.
    ///
    /// Must be called inside a tokio runtime, which then runs the server.
    pub async fn start() -> io::Result<Self> {
        Self::start_with(HfOptions::default()).await
    }

    /// Starts the double with the given options.
    pub async fn start_with(options: HfOptions) -> io::Result<Self> {
        if options.page_size == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "HfOptions::page_size must be at least 1",
            ));
        }
        let (root, owned) = match options.root {
            Some(root) => {
                std::fs::create_dir_all(&root)?;
                (root.canonicalize()?, None)
            }
            None => {
                let dir = tempfile::Builder::new().prefix("hf-standin-").tempdir()?;
                (dir.path().canonicalize()?, Some(dir))
            }
        };
        let listener = ServerTask::bind_loopback().await?;
        let addr = listener.local_addr()?;
        let cdn_listener = ServerTask::bind_loopback().await?;
        let cdn_addr = cdn_listener.local_addr()?;
        let state = Arc::new(HfState {
            root,
            endpoint: format!("http://{addr}"),
            cdn_endpoint: format!("http://{cdn_addr}"),
            linked_size: options.linked_size,
            cdn_content_length: options.cdn_content_length,
            cdn_refuses_head: options.cdn_refuses_head,
            rate_limited: AtomicU64::new(options.rate_limited as u64),
            rate_limit_reset_secs: options.rate_limit_reset_secs,
            redirect: options.redirect,
            page_size: options.page_size,
            buckets: RwLock::new(HashMap::new()),
            requests: AtomicU64::new(0),
            chunk_delay: options.chunk_delay,
            bytes_served: Arc::new(AtomicU64::new(0)),
            cdn_authorized: AtomicU64::new(0),
            signer: RandomState::new(),
        });
        let router = router(Arc::clone(&state));
        let server = ServerTask::spawn(listener, TowerToHyperService::new(router))?;
        let cdn = ServerTask::spawn(
            cdn_listener,
            TowerToHyperService::new(cdn_router(Arc::clone(&state))),
        )?;
        tracing::debug!(%addr, %cdn_addr, root = %state.root.display(), "HF double started");
        Ok(Self {
            server,
            _cdn: cdn,
            state,
            _owned_root: owned,
        })
    }

    /// Bytes of file bodies sent so far (a body the client dropped counts
    /// what it was sent).
    pub fn bytes_served(&self) -> u64 {
        self.state
            .bytes_served
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The endpoint URL, `http://127.0.0.1:PORT` (no trailing slash).
    pub fn endpoint(&self) -> String {
        self.state.endpoint.clone()
    }

    /// The socket address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// The address of its CDN (another port): the Hub redirects downloads
    /// there, so a reader guarded against local addresses must allow it
    /// (`--allow-endpoint`), as it would allow a local MinIO.
    pub fn cdn_addr(&self) -> SocketAddr {
        self._cdn.addr()
    }

    /// CDN requests that carried an `Authorization` header (a reader must
    /// not send the Hub token to another host).
    pub fn cdn_requests_with_a_token(&self) -> u64 {
        self.state.cdn_authorized.load(Ordering::SeqCst)
    }

    /// The folder served, laid out as `<namespace>/<name>/<path>`.
    pub fn root(&self) -> &Path {
        &self.state.root
    }

    /// Registers the bucket `namespace/name` and creates its folder. With a
    /// token the bucket is private and every request needs
    /// `Authorization: Bearer <token>`; without, it is public. Adding an
    /// existing bucket again changes its token.
    pub fn add_bucket(&self, namespace: &str, name: &str, token: Option<&str>) -> io::Result<()> {
        check_name(namespace)?;
        check_name(name)?;
        std::fs::create_dir_all(self.state.root.join(namespace).join(name))?;
        self.state
            .buckets
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(
                (namespace.to_owned(), name.to_owned()),
                token.map(str::to_owned),
            );
        Ok(())
    }

    /// Where the file `path` of the bucket `namespace/name` lives on disk,
    /// creating its parent folders; write a big file there yourself (for
    /// example with [`crate::mp4::streamed_mp4_to_file`]). The bucket must
    /// have been added.
    pub fn file_path(&self, namespace: &str, name: &str, path: &str) -> io::Result<PathBuf> {
        let registered = self
            .state
            .buckets
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains_key(&(namespace.to_owned(), name.to_owned()));
        if !registered {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("no bucket {namespace}/{name}: call add_bucket first"),
            ));
        }
        let file =
            join_checked(&self.state.root.join(namespace).join(name), path).ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{path:?} has an empty, '.' or '..' segment"),
                )
            })?;
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent)?;
        }
        Ok(file)
    }

    /// Writes the file `path` of the bucket `namespace/name`, replacing any
    /// previous content. The bucket must have been added.
    pub fn put(&self, namespace: &str, name: &str, path: &str, bytes: &[u8]) -> io::Result<()> {
        let file = self.file_path(namespace, name, path)?;
        std::fs::write(file, bytes)
    }

    /// How many HTTP requests the double has answered or is answering,
    /// `/cdn` ones included.
    pub fn requests(&self) -> u64 {
        self.state.requests.load(Ordering::Relaxed)
    }
}

/// Namespaces and bucket names: `A-Z a-z 0-9 - _ .`, not `.` or `..`.
fn check_name(name: &str) -> io::Result<()> {
    let ok = !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{name:?} is not a namespace or bucket name (A-Z a-z 0-9 - _ .)"),
        ))
    }
}

/// Joins a `/`-separated relative path under `base`, or `None` when a
/// segment is empty, `.`, `..` or holds a NUL or backslash.
fn join_checked(base: &Path, rel: &str) -> Option<PathBuf> {
    let mut out = base.to_path_buf();
    for segment in rel.split('/') {
        if segment.is_empty() || segment == "." || segment == ".." || segment.contains(['\0', '\\'])
        {
            return None;
        }
        out.push(segment);
    }
    Some(out)
}

#[derive(Debug)]
struct HfState {
    root: PathBuf,
    endpoint: String,
    cdn_endpoint: String,
    linked_size: bool,
    cdn_content_length: bool,
    cdn_refuses_head: bool,
    /// `429` answers left to give.
    rate_limited: AtomicU64,
    rate_limit_reset_secs: u64,
    redirect: bool,
    page_size: usize,
    /// `(namespace, name)` → token of a private bucket, `None` when public.
    buckets: RwLock<HashMap<(String, String), Option<String>>>,
    requests: AtomicU64,
    chunk_delay: Option<std::time::Duration>,
    /// Bytes of file bodies sent so far.
    bytes_served: Arc<AtomicU64>,
    /// CDN requests that carried an `Authorization` header.
    cdn_authorized: AtomicU64,
    /// Keys the `sig` of the `/cdn` URLs, like a CDN's signing secret.
    signer: RandomState,
}

type Shared = Arc<HfState>;

impl HfState {
    /// Checks that the bucket exists and the request may read it; returns
    /// the bucket's folder.
    fn authorize(&self, ns: &str, name: &str, headers: &HeaderMap) -> Result<PathBuf, Reject> {
        let token = {
            let buckets = self
                .buckets
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match buckets.get(&(ns.to_owned(), name.to_owned())) {
                None => return Err(Reject::NoBucket(format!("{ns}/{name}"))),
                Some(token) => token.clone(),
            }
        };
        if let Some(expected) = token {
            let Some(value) = headers.get(header::AUTHORIZATION) else {
                return Err(Reject::NoToken);
            };
            let given = value
                .to_str()
                .ok()
                .and_then(|v| v.split_once(' '))
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                .map(|(_, token)| token.trim());
            if given != Some(expected.as_str()) {
                // The Hub hides a private bucket from a token that cannot read it.
                return Err(Reject::NoBucket(format!("{ns}/{name}")));
            }
        }
        Ok(self.root.join(ns).join(name))
    }

    fn bucket_exists(&self, ns: &str, name: &str) -> bool {
        self.buckets
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains_key(&(ns.to_owned(), name.to_owned()))
    }

    fn sign(&self, ns: &str, name: &str, path: &str) -> String {
        format!("{:016x}", self.signer.hash_one((ns, name, path)))
    }
}

fn router(state: Shared) -> Router {
    Router::new()
        .route(
            "/buckets/{ns}/{name}/resolve/{*path}",
            get(resolve_get).head(resolve_head),
        )
        .route("/api/buckets/{ns}/{name}", get(bucket_info))
        .route("/api/buckets/{ns}/{name}/tree", get(tree_root))
        .route("/api/buckets/{ns}/{name}/tree/{*prefix}", get(tree_prefix))
        .route("/api/buckets/{ns}/{name}/paths-info", post(paths_info))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            rate_limit,
        ))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            count_request,
        ))
        .with_state(state)
}

/// The CDN: another listener, as the Hub's CDN is another host.
fn cdn_router(state: Shared) -> Router {
    Router::new()
        .route("/cdn/{ns}/{name}/{*path}", get(cdn_get).head(cdn_head))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            count_request,
        ))
        .with_state(state)
}

async fn count_request(State(state): State<Shared>, request: Request, next: Next) -> Response {
    state.requests.fetch_add(1, Ordering::Relaxed);
    next.run(request).await
}

/// The first [`HfOptions::rate_limited`] requests answer `429` as the Hub
/// does when a token's quota for the window is spent.
async fn rate_limit(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let spent = state
        .rate_limited
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
            left.checked_sub(1)
        })
        .is_ok();
    if !spent {
        return next.run(request).await;
    }
    let t = state.rate_limit_reset_secs;
    let mut response = (
        StatusCode::TOO_MANY_REQUESTS,
        axum::Json(
            serde_json::json!({ "error": "You have exceeded our hourly quotas for action: api" }),
        ),
    )
        .into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        ("ratelimit", format!("\"api\";r=0;t={t}")),
        (
            "ratelimit-policy",
            "\"fixed window\";\"api\";q=500;w=300".to_owned(),
        ),
        (axum::http::header::RETRY_AFTER.as_str(), t.to_string()),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    response
}

/// A stand-in with the Xet hash's shape (64 hex digits), from the file's
/// size and modification time.
fn xet_hash(meta: &std::fs::Metadata) -> String {
    let nanos = meta
        .modified()
        .ok()
        .and_then(|m| m.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let seed = format!("{:x}{nanos:x}", meta.len());
    let mut out = String::with_capacity(64);
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    while out.len() < 64 {
        for b in seed.bytes().chain(out.len().to_le_bytes()) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        out.push_str(&format!("{h:016x}"));
    }
    out.truncate(64);
    out
}

/// An RFC 3339 time in UTC with a `Z`, as the Hub writes `mtime`.
fn rfc3339(time: SystemTime) -> String {
    humantime::format_rfc3339_millis(time).to_string()
}

/// Why a request is refused.
#[derive(Debug)]
enum Reject {
    /// 400: a path with an empty, `.` or `..` segment.
    BadPath(String),
    /// 400: a body that is not what the route takes.
    BadBody(String),
    /// 404: no such bucket.
    NoBucket(String),
    /// 404: no such file or folder.
    NoEntry(String),
    /// 401: a private bucket and no `Authorization` header.
    NoToken,
    /// 403: a `/cdn` URL without a valid signature.
    BadSignature,
    /// 500.
    Internal(String),
}

impl IntoResponse for Reject {
    fn into_response(self) -> Response {
        let (status, code, message) = match self {
            Reject::BadPath(path) => (
                StatusCode::BAD_REQUEST,
                "BadRequest",
                format!("Invalid path {path:?}: empty, '.' and '..' segments are refused"),
            ),
            Reject::BadBody(why) => (StatusCode::BAD_REQUEST, "BadRequest", why),
            Reject::NoBucket(bucket) => (
                StatusCode::NOT_FOUND,
                "RepoNotFound",
                format!("Bucket {bucket} not found"),
            ),
            Reject::NoEntry(path) => (
                StatusCode::NOT_FOUND,
                "EntryNotFound",
                format!("Entry {path:?} not found"),
            ),
            Reject::NoToken => (
                StatusCode::UNAUTHORIZED,
                "Unauthorized",
                "This bucket is private: send Authorization: Bearer <token>".to_owned(),
            ),
            Reject::BadSignature => (
                StatusCode::FORBIDDEN,
                "Forbidden",
                "Missing or invalid signature".to_owned(),
            ),
            Reject::Internal(why) => (StatusCode::INTERNAL_SERVER_ERROR, "InternalError", why),
        };
        let mut response =
            (status, axum::Json(serde_json::json!({ "error": message }))).into_response();
        let headers = response.headers_mut();
        headers.insert("x-error-code", HeaderValue::from_static(code));
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// Opens a regular file of the bucket, or answers 400/404.
async fn open_file(
    bucket: &Path,
    rel: &str,
) -> Result<(tokio::fs::File, std::fs::Metadata), Reject> {
    let path = join_checked(bucket, rel).ok_or_else(|| Reject::BadPath(rel.to_owned()))?;
    let not_found = || Reject::NoEntry(rel.to_owned());
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|_| not_found())?;
    let meta = file.metadata().await.map_err(|_| not_found())?;
    if !meta.is_file() {
        return Err(not_found());
    }
    Ok((file, meta))
}

fn file_headers(meta: &std::fs::Metadata) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
    let nanos = modified
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{:x}-{nanos:x}\"", meta.len())) {
        headers.insert(header::ETAG, etag);
    }
    if let Ok(date) = HeaderValue::from_str(&httpdate::fmt_http_date(modified)) {
        headers.insert(header::LAST_MODIFIED, date);
    }
    headers
}

/// The Hub's redirect to its CDN, with the headers the Hub puts on it.
fn redirect_to_cdn(
    state: &HfState,
    ns: &str,
    name: &str,
    path: &str,
    meta: &std::fs::Metadata,
    head: bool,
) -> Response {
    let location = format!(
        "{}/cdn/{}/{}/{}?sig={}",
        state.cdn_endpoint,
        encode_component(ns),
        encode_component(name),
        encode_path(path),
        state.sign(ns, name, path)
    );
    let body = format!("Found. Redirecting to {location}{}", " ".repeat(900));
    let mut headers = file_headers(meta);
    headers.remove(header::ACCEPT_RANGES);
    headers.remove(header::CONTENT_TYPE);
    let pairs = [
        ("location", location.clone()),
        ("content-type", "text/plain; charset=utf-8".to_owned()),
        ("content-length", body.len().to_string()),
        ("x-xet-hash", xet_hash(meta)),
        (
            "link",
            format!(
                "<{}/api/buckets/{}/{}/xet-read-token>; rel=\"xet-auth\"",
                state.endpoint,
                encode_component(ns),
                encode_component(name)
            ),
        ),
        (
            "x-xet-refresh-route",
            format!("/api/buckets/{ns}/{name}/xet-read-token"),
        ),
    ];
    for (key, value) in pairs {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(key, value);
        }
    }
    if let Some(etag) = headers.get(header::ETAG).cloned() {
        headers.insert("x-linked-etag", etag);
    }
    if state.linked_size {
        headers.insert("x-linked-size", HeaderValue::from(meta.len()));
    }
    if head {
        (StatusCode::FOUND, headers).into_response()
    } else {
        (StatusCode::FOUND, headers, body).into_response()
    }
}

async fn resolve_head(
    State(state): State<Shared>,
    UrlPath((ns, name, path)): UrlPath<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let bucket = match state.authorize(&ns, &name, &headers) {
        Ok(bucket) => bucket,
        Err(reject) => return reject.into_response(),
    };
    match open_file(&bucket, &path).await {
        Ok((_file, meta)) if state.redirect => {
            redirect_to_cdn(&state, &ns, &name, &path, &meta, true)
        }
        Ok((_file, meta)) => {
            let mut response_headers = file_headers(&meta);
            response_headers.insert(header::CONTENT_LENGTH, HeaderValue::from(meta.len()));
            if let Ok(hash) = HeaderValue::from_str(&xet_hash(&meta)) {
                response_headers.insert("x-xet-hash", hash);
            }
            (StatusCode::OK, response_headers).into_response()
        }
        Err(reject) => reject.into_response(),
    }
}

async fn resolve_get(
    State(state): State<Shared>,
    UrlPath((ns, name, path)): UrlPath<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let bucket = match state.authorize(&ns, &name, &headers) {
        Ok(bucket) => bucket,
        Err(reject) => return reject.into_response(),
    };
    let (file, meta) = match open_file(&bucket, &path).await {
        Ok(opened) => opened,
        Err(reject) => return reject.into_response(),
    };
    if !state.redirect {
        return serve_file(&state, file, &meta, &headers, true).await;
    }
    redirect_to_cdn(&state, &ns, &name, &path, &meta, false)
}

async fn bucket_info(
    State(state): State<Shared>,
    UrlPath((ns, name)): UrlPath<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let bucket = match state.authorize(&ns, &name, &headers) {
        Ok(bucket) => bucket,
        Err(reject) => return reject.into_response(),
    };
    let private = state
        .buckets
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(&(ns.clone(), name.clone()))
        .is_some_and(Option::is_some);
    let files = tokio::task::spawn_blocking(move || list_dir(&bucket, "", true))
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    let (count, size) = files.iter().fold((0u64, 0u64), |(n, total), e| match e {
        Entry::File { size, .. } => (n + 1, total + size),
        Entry::Directory { .. } => (n, total),
    });
    axum::Json(serde_json::json!({
        "id": format!("{ns}/{name}"),
        "private": private,
        "createdAt": "2026-01-01T00:00:00.000Z",
        "size": size,
        "totalFiles": count,
    }))
    .into_response()
}

#[derive(Debug, Deserialize)]
struct CdnQuery {
    sig: Option<String>,
}

async fn cdn_get(
    State(state): State<Shared>,
    UrlPath((ns, name, path)): UrlPath<(String, String, String)>,
    Query(query): Query<CdnQuery>,
    headers: HeaderMap,
) -> Response {
    if headers.contains_key(header::AUTHORIZATION) {
        state.cdn_authorized.fetch_add(1, Ordering::SeqCst);
    }
    if !state.bucket_exists(&ns, &name) {
        return Reject::NoBucket(format!("{ns}/{name}")).into_response();
    }
    if query.sig.as_deref() != Some(state.sign(&ns, &name, &path).as_str()) {
        return Reject::BadSignature.into_response();
    }
    let bucket = state.root.join(&ns).join(&name);
    match open_file(&bucket, &path).await {
        Ok((file, meta)) => {
            serve_file(&state, file, &meta, &headers, state.cdn_content_length).await
        }
        Err(reject) => reject.into_response(),
    }
}

async fn cdn_head(
    State(state): State<Shared>,
    UrlPath((ns, name, path)): UrlPath<(String, String, String)>,
    Query(query): Query<CdnQuery>,
) -> Response {
    if state.cdn_refuses_head {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    if query.sig.as_deref() != Some(state.sign(&ns, &name, &path).as_str()) {
        return Reject::BadSignature.into_response();
    }
    let bucket = state.root.join(&ns).join(&name);
    match open_file(&bucket, &path).await {
        Ok((_file, meta)) => {
            let mut headers = file_headers(&meta);
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(meta.len()));
            (StatusCode::OK, headers).into_response()
        }
        Err(reject) => reject.into_response(),
    }
}

/// What a `Range` header asks of a file of a given size.
#[derive(Debug, PartialEq, Eq)]
enum RangeAsk {
    /// No usable range: send the whole file (RFC 9110 lets a server ignore
    /// a range it does not understand, and multi-range requests).
    Full,
    /// Bytes `start..=end`.
    Part { start: u64, end: u64 },
    /// A valid range that lies past the end of the file.
    Unsatisfiable,
}

fn parse_range(value: Option<&HeaderValue>, size: u64) -> RangeAsk {
    let Some(spec) = value
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().strip_prefix("bytes="))
    else {
        return RangeAsk::Full;
    };
    if spec.contains(',') {
        return RangeAsk::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeAsk::Full;
    };
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() {
        // Suffix: the last N bytes.
        let Ok(n) = last.parse::<u64>() else {
            return RangeAsk::Full;
        };
        if n == 0 || size == 0 {
            return RangeAsk::Unsatisfiable;
        }
        return RangeAsk::Part {
            start: size.saturating_sub(n),
            end: size - 1,
        };
    }
    let Ok(start) = first.parse::<u64>() else {
        return RangeAsk::Full;
    };
    let end = if last.is_empty() {
        None
    } else {
        match last.parse::<u64>() {
            Ok(end) if end >= start => Some(end),
            _ => return RangeAsk::Full,
        }
    };
    if start >= size {
        return RangeAsk::Unsatisfiable;
    }
    let end = end.map_or(size - 1, |end| end.min(size - 1));
    RangeAsk::Part { start, end }
}

/// Streams a file, or the part of it that `Range` asks for.
async fn serve_file(
    state: &HfState,
    mut file: tokio::fs::File,
    meta: &std::fs::Metadata,
    request_headers: &HeaderMap,
    content_length: bool,
) -> Response {
    let size = meta.len();
    let mut headers = file_headers(meta);
    let (status, start, len) = match parse_range(request_headers.get(header::RANGE), size) {
        RangeAsk::Full => (StatusCode::OK, 0, size),
        RangeAsk::Part { start, end } => {
            if let Ok(value) = HeaderValue::from_str(&format!("bytes {start}-{end}/{size}")) {
                headers.insert(header::CONTENT_RANGE, value);
            }
            (StatusCode::PARTIAL_CONTENT, start, end - start + 1)
        }
        RangeAsk::Unsatisfiable => {
            if let Ok(value) = HeaderValue::from_str(&format!("bytes */{size}")) {
                headers.insert(header::CONTENT_RANGE, value);
            }
            headers.remove(header::CONTENT_TYPE);
            return (StatusCode::RANGE_NOT_SATISFIABLE, headers).into_response();
        }
    };
    if start > 0
        && let Err(err) = file.seek(io::SeekFrom::Start(start)).await
    {
        return Reject::Internal(err.to_string()).into_response();
    }
    if content_length {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    let delay = state.chunk_delay;
    let served = Arc::clone(&state.bytes_served);
    let chunks = ReaderStream::with_capacity(file.take(len), 64 * 1024).then(move |chunk| {
        let served = Arc::clone(&served);
        async move {
            if let Some(delay) = delay {
                tokio::time::sleep(delay).await;
            }
            if let Ok(bytes) = &chunk {
                served.fetch_add(bytes.len() as u64, std::sync::atomic::Ordering::SeqCst);
            }
            chunk
        }
    });
    (status, headers, Body::from_stream(chunks)).into_response()
}

/// One entry of a tree listing or a paths-info answer, with the Hub's fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum Entry {
    File {
        path: String,
        size: u64,
        #[serde(rename = "xetHash")]
        xet_hash: String,
        mtime: String,
        #[serde(rename = "uploadedAt")]
        uploaded_at: String,
    },
    Directory {
        path: String,
        #[serde(rename = "uploadedAt")]
        uploaded_at: String,
    },
}

impl Entry {
    fn path(&self) -> &str {
        match self {
            Entry::File { path, .. } | Entry::Directory { path, .. } => path,
        }
    }

    fn file(path: String, meta: &std::fs::Metadata) -> Entry {
        let modified = rfc3339(meta.modified().unwrap_or(SystemTime::UNIX_EPOCH));
        Entry::File {
            path,
            size: meta.len(),
            xet_hash: xet_hash(meta),
            mtime: modified.clone(),
            uploaded_at: modified,
        }
    }

    fn directory(path: String, meta: &std::fs::Metadata) -> Entry {
        Entry::Directory {
            path,
            uploaded_at: rfc3339(meta.modified().unwrap_or(SystemTime::UNIX_EPOCH)),
        }
    }
}

/// Every file and folder below `dir` (whose path in the bucket is `rel`),
/// sorted by path. Symbolic links to folders are not followed.
fn list_dir(dir: &Path, rel: &str, recursive: bool) -> io::Result<Vec<Entry>> {
    let mut entries = Vec::new();
    let mut pending = vec![(dir.to_path_buf(), rel.to_owned())];
    while let Some((dir, rel)) = pending.pop() {
        for item in std::fs::read_dir(&dir)? {
            let item = item?;
            let Ok(file_name) = item.file_name().into_string() else {
                continue;
            };
            let path = if rel.is_empty() {
                file_name
            } else {
                format!("{rel}/{file_name}")
            };
            // Follow symbolic links to files.
            let Ok(meta) = std::fs::metadata(item.path()) else {
                continue;
            };
            if item.file_type()?.is_dir() {
                entries.push(Entry::directory(path.clone(), &meta));
                if recursive {
                    pending.push((item.path(), path));
                }
            } else if meta.is_file() {
                entries.push(Entry::file(path, &meta));
            }
        }
    }
    entries.sort_by(|a, b| a.path().cmp(b.path()));
    Ok(entries)
}

#[derive(Debug, Deserialize)]
struct TreeQuery {
    recursive: Option<String>,
    cursor: Option<String>,
    limit: Option<usize>,
}

async fn tree_root(
    State(state): State<Shared>,
    UrlPath((ns, name)): UrlPath<(String, String)>,
    Query(query): Query<TreeQuery>,
    headers: HeaderMap,
) -> Response {
    tree(state, ns, name, String::new(), query, headers).await
}

async fn tree_prefix(
    State(state): State<Shared>,
    UrlPath((ns, name, prefix)): UrlPath<(String, String, String)>,
    Query(query): Query<TreeQuery>,
    headers: HeaderMap,
) -> Response {
    tree(state, ns, name, prefix, query, headers).await
}

async fn tree(
    state: Shared,
    ns: String,
    name: String,
    prefix: String,
    query: TreeQuery,
    headers: HeaderMap,
) -> Response {
    let bucket = match state.authorize(&ns, &name, &headers) {
        Ok(bucket) => bucket,
        Err(reject) => return reject.into_response(),
    };
    let recursive = query
        .recursive
        .as_deref()
        .is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
    if prefix.split('/').any(|seg| seg == "." || seg == "..") || prefix.contains(['\0', '\\']) {
        return Reject::BadPath(prefix).into_response();
    }
    let listed = tokio::task::spawn_blocking(move || list_dir(&bucket, "", true)).await;
    let all = match listed {
        Ok(Ok(entries)) => entries,
        Ok(Err(err)) => return Reject::Internal(err.to_string()).into_response(),
        Err(join) => return Reject::Internal(join.to_string()).into_response(),
    };
    // Recursive: the prefix matched as a string, as the Hub does (`day1`
    // lists `day10/...` too). Not recursive: a folder's children.
    let folder = prefix.trim_end_matches('/').to_owned();
    let entries: Vec<Entry> = all
        .into_iter()
        .filter(|e| {
            let path = e.path();
            if recursive {
                path.starts_with(prefix.as_str())
            } else {
                let parent = path.rsplit_once('/').map_or("", |(parent, _)| parent);
                parent == folder
            }
        })
        .collect();
    let page_size = query
        .limit
        .unwrap_or(state.page_size)
        .clamp(1, state.page_size);
    // Keyset pagination: the cursor is the last path of the previous page.
    let start = match &query.cursor {
        Some(cursor) => entries.partition_point(|e| e.path() <= cursor.as_str()),
        None => 0,
    };
    let rest = &entries[start..];
    let page = &rest[..rest.len().min(page_size)];
    let mut response = axum::Json(page).into_response();
    if rest.len() > page.len()
        && let Some(last) = page.last()
    {
        let mut next = format!(
            "{}/api/buckets/{}/{}/tree",
            state.endpoint,
            encode_component(&ns),
            encode_component(&name)
        );
        if !prefix.is_empty() {
            next.push('/');
            next.push_str(&encode_path(&prefix));
        }
        next.push_str(if recursive { "?recursive=true&" } else { "?" });
        if let Some(limit) = query.limit {
            next.push_str(&format!("limit={limit}&"));
        }
        next.push_str("cursor=");
        next.push_str(&encode_component(last.path()));
        if let Ok(link) = HeaderValue::from_str(&format!("<{next}>; rel=\"next\"")) {
            response.headers_mut().insert(header::LINK, link);
        }
    }
    response
}

#[derive(Debug, Deserialize)]
struct PathsInfoBody {
    paths: Vec<String>,
}

async fn paths_info(
    State(state): State<Shared>,
    UrlPath((ns, name)): UrlPath<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let bucket = match state.authorize(&ns, &name, &headers) {
        Ok(bucket) => bucket,
        Err(reject) => return reject.into_response(),
    };
    let request: PathsInfoBody = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(err) => {
            return Reject::BadBody(format!("expected {{\"paths\": [...]}}: {err}"))
                .into_response();
        }
    };
    let mut resolved = Vec::with_capacity(request.paths.len());
    for path in request.paths {
        let path = path.trim_end_matches('/').to_owned();
        match join_checked(&bucket, &path) {
            Some(file) => resolved.push((path, file)),
            None => return Reject::BadPath(path).into_response(),
        }
    }
    let entries = tokio::task::spawn_blocking(move || {
        resolved
            .into_iter()
            .filter_map(|(path, file)| {
                // Files only: folders and missing paths are left out.
                let meta = std::fs::metadata(file).ok()?;
                meta.is_file().then(|| Entry::file(path, &meta))
            })
            .collect::<Vec<_>>()
    })
    .await;
    match entries {
        Ok(entries) => axum::Json(entries).into_response(),
        Err(join) => Reject::Internal(join.to_string()).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let h = |s: &'static str| HeaderValue::from_static(s);
        assert_eq!(parse_range(None, 10), RangeAsk::Full);
        assert_eq!(
            parse_range(Some(&h("bytes=2-5")), 10),
            RangeAsk::Part { start: 2, end: 5 }
        );
        assert_eq!(
            parse_range(Some(&h("bytes=2-")), 10),
            RangeAsk::Part { start: 2, end: 9 }
        );
        assert_eq!(
            parse_range(Some(&h("bytes=8-100")), 10),
            RangeAsk::Part { start: 8, end: 9 }
        );
        assert_eq!(
            parse_range(Some(&h("bytes=-3")), 10),
            RangeAsk::Part { start: 7, end: 9 }
        );
        assert_eq!(
            parse_range(Some(&h("bytes=-30")), 10),
            RangeAsk::Part { start: 0, end: 9 }
        );
        assert_eq!(
            parse_range(Some(&h("bytes=10-")), 10),
            RangeAsk::Unsatisfiable
        );
        assert_eq!(
            parse_range(Some(&h("bytes=0-")), 0),
            RangeAsk::Unsatisfiable
        );
        assert_eq!(parse_range(Some(&h("bytes=5-2")), 10), RangeAsk::Full);
        assert_eq!(parse_range(Some(&h("bytes=0-1,4-5")), 10), RangeAsk::Full);
        assert_eq!(parse_range(Some(&h("items=0-1")), 10), RangeAsk::Full);
    }

    #[test]
    fn traversal_is_refused() {
        let base = Path::new("/srv");
        assert!(join_checked(base, "a/b.mp4").is_some());
        for bad in ["../x", "a/../../x", "a//b", "/abs", "a/./b", "", "a\\..\\b"] {
            assert!(join_checked(base, bad).is_none(), "{bad:?}");
        }
    }
}
