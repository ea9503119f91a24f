//! A test double of the Hugging Face Hub's Storage Bucket routes.
//!
//! No emulator of the Hub exists, so [`HfStandIn`] is an honest test double:
//! a small axum server on `127.0.0.1:PORT` that serves a folder laid out as
//! `<root>/<namespace>/<name>/<path>` through the few routes a bucket reader
//! needs, with the Hub's shapes (status codes, headers, JSON entries,
//! redirects, pagination). It is not the Hub: only what is listed here
//! exists, and the JSON entries carry only `type`, `path` and `size`.
//!
//! | request | answer |
//! | --- | --- |
//! | `HEAD /buckets/{ns}/{name}/resolve/{path}` | 200 with `Content-Length`, `ETag`, `Last-Modified`, `Accept-Ranges: bytes` |
//! | `GET /buckets/{ns}/{name}/resolve/{path}` | `302` to `/cdn/{ns}/{name}/{path}?sig=…` like the real Hub (clients must follow redirects), or the bytes directly when [`HfOptions::redirect`] is off |
//! | `GET /cdn/{ns}/{name}/{path}?sig=…` | the bytes: 200, or 206 with `Content-Range` for `Range: bytes=a-b`, `bytes=a-`, `bytes=-n`; 416 when unsatisfiable. Like a presigned CDN URL it needs no token, only a valid `sig` (else 403) |
//! | `GET /api/buckets/{ns}/{name}/tree[/{prefix}][?recursive=true]` | JSON array of `{"type":"file","path","size"}` (and `{"type":"directory","path"}` when not recursive), sorted by path, at most [`HfOptions::page_size`] a page; more pages via `Link: <url>; rel="next"` (a `cursor` query parameter) |
//! | `POST /api/buckets/{ns}/{name}/paths-info` `{"paths":[...]}` | the entries of the paths that exist |
//!
//! Errors: an unknown bucket answers 404, a private bucket 401 without an
//! `Authorization: Bearer <token>` header and 403 with a wrong token, a
//! missing file or folder 404, and a path with an empty, `.` or `..`
//! segment 400. Error bodies are `{"error": "..."}` with an `X-Error-Code`
//! header. File bodies are streamed from disk, so memory does not grow with
//! file size.
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
}

impl Default for HfOptions {
    fn default() -> Self {
        Self {
            redirect: true,
            page_size: DEFAULT_PAGE_SIZE,
            root: None,
            chunk_delay: None,
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
        let state = Arc::new(HfState {
            root,
            endpoint: format!("http://{addr}"),
            redirect: options.redirect,
            page_size: options.page_size,
            buckets: RwLock::new(HashMap::new()),
            requests: AtomicU64::new(0),
            chunk_delay: options.chunk_delay,
            bytes_served: Arc::new(AtomicU64::new(0)),
            signer: RandomState::new(),
        });
        let router = router(Arc::clone(&state));
        let server = ServerTask::spawn(listener, TowerToHyperService::new(router))?;
        tracing::debug!(%addr, root = %state.root.display(), "HF double started");
        Ok(Self {
            server,
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
    redirect: bool,
    page_size: usize,
    /// `(namespace, name)` → token of a private bucket, `None` when public.
    buckets: RwLock<HashMap<(String, String), Option<String>>>,
    requests: AtomicU64,
    chunk_delay: Option<std::time::Duration>,
    /// Bytes of file bodies sent so far.
    bytes_served: Arc<AtomicU64>,
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
                return Err(Reject::WrongToken);
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
        .route("/cdn/{ns}/{name}/{*path}", get(cdn_get))
        .route("/api/buckets/{ns}/{name}/tree", get(tree_root))
        .route("/api/buckets/{ns}/{name}/tree/{*prefix}", get(tree_prefix))
        .route("/api/buckets/{ns}/{name}/paths-info", post(paths_info))
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
    /// 403: a token that does not open the bucket.
    WrongToken,
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
            Reject::WrongToken => (
                StatusCode::FORBIDDEN,
                "Forbidden",
                "The token does not give access to this bucket".to_owned(),
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
        Ok((_file, meta)) => {
            let mut response_headers = file_headers(&meta);
            response_headers.insert(header::CONTENT_LENGTH, HeaderValue::from(meta.len()));
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
        return serve_file(&state, file, &meta, &headers).await;
    }
    let location = format!(
        "{}/cdn/{}/{}/{}?sig={}",
        state.endpoint,
        encode_component(&ns),
        encode_component(&name),
        encode_path(&path),
        state.sign(&ns, &name, &path)
    );
    match HeaderValue::from_str(&location) {
        Ok(location) => (StatusCode::FOUND, [(header::LOCATION, location)]).into_response(),
        Err(_) => Reject::BadPath(path).into_response(),
    }
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
    if !state.bucket_exists(&ns, &name) {
        return Reject::NoBucket(format!("{ns}/{name}")).into_response();
    }
    if query.sig.as_deref() != Some(state.sign(&ns, &name, &path).as_str()) {
        return Reject::BadSignature.into_response();
    }
    let bucket = state.root.join(&ns).join(&name);
    match open_file(&bucket, &path).await {
        Ok((file, meta)) => serve_file(&state, file, &meta, &headers).await,
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
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
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

/// One entry of a tree listing or a paths-info answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum Entry {
    File { path: String, size: u64 },
    Directory { path: String },
}

impl Entry {
    fn path(&self) -> &str {
        match self {
            Entry::File { path, .. } | Entry::Directory { path } => path,
        }
    }
}

/// Lists `dir` (whose path in the bucket is `rel`): its files and folders,
/// or every file below it when `recursive`. Sorted by path. Symbolic links
/// to folders are not followed.
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
            let file_type = item.file_type()?;
            if file_type.is_dir() {
                if recursive {
                    pending.push((item.path(), path));
                } else {
                    entries.push(Entry::Directory { path });
                }
            } else {
                // Follow symbolic links to files.
                let Ok(meta) = std::fs::metadata(item.path()) else {
                    continue;
                };
                if meta.is_file() {
                    entries.push(Entry::File {
                        path,
                        size: meta.len(),
                    });
                }
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
    let prefix = prefix.trim_end_matches('/').to_owned();
    let dir = if prefix.is_empty() {
        bucket
    } else {
        match join_checked(&bucket, &prefix) {
            Some(dir) => dir,
            None => return Reject::BadPath(prefix).into_response(),
        }
    };
    let recursive = query
        .recursive
        .as_deref()
        .is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
    let listed = {
        let prefix = prefix.clone();
        tokio::task::spawn_blocking(move || {
            if !dir.is_dir() {
                return Ok(None);
            }
            list_dir(&dir, &prefix, recursive).map(Some)
        })
        .await
    };
    let entries = match listed {
        Ok(Ok(Some(entries))) => entries,
        Ok(Ok(None)) => return Reject::NoEntry(prefix).into_response(),
        Ok(Err(err)) => return Reject::Internal(err.to_string()).into_response(),
        Err(join) => return Reject::Internal(join.to_string()).into_response(),
    };
    // Keyset pagination: the cursor is the last path of the previous page.
    let start = match &query.cursor {
        Some(cursor) => entries.partition_point(|e| e.path() <= cursor.as_str()),
        None => 0,
    };
    let rest = &entries[start..];
    let page = &rest[..rest.len().min(state.page_size)];
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
                let meta = std::fs::metadata(file).ok()?;
                if meta.is_dir() {
                    Some(Entry::Directory { path })
                } else if meta.is_file() {
                    Some(Entry::File {
                        path,
                        size: meta.len(),
                    })
                } else {
                    None
                }
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
