//! The route table: every route of the API once, as method, path template and
//! operation id.
//!
//! The request constructors in [`crate::api`] fill these templates, the
//! reference server's router registers exactly these templates, and the
//! OpenAPI document names these operation ids; a test in the server fails when
//! its router and this table differ. Templates use `{name}` for a path
//! parameter, the syntax of both OpenAPI and axum.
//!
//! ```
//! use import_core::routes::{self, Route};
//!
//! assert_eq!(routes::GET_IMPORT_JOB.template, "/api/import-jobs/{import_job_id}");
//! assert_eq!(routes::GET_IMPORT_JOB.fill("ij_7"), "/api/import-jobs/ij_7");
//! assert_eq!(routes::ALL.len(), 21);
//! // Every route but the public probes is under /api/ and takes an API key.
//! assert!(routes::ALL.iter().all(|r: &Route| r.public || r.template.starts_with("/api/")));
//! assert!(routes::HEALTHZ.public && !routes::GET_IMPORT_JOB.public);
//! ```

use http::Method;

use crate::uri::Provider;

/// The HTTP method of a route (the contract uses three).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verb {
    /// `GET`.
    Get,
    /// `POST`.
    Post,
    /// `DELETE`.
    Delete,
}

impl Verb {
    /// The `http` method.
    pub fn method(self) -> Method {
        match self {
            Verb::Get => Method::GET,
            Verb::Post => Method::POST,
            Verb::Delete => Method::DELETE,
        }
    }
}

/// One route of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Route {
    /// The method.
    pub verb: Verb,
    /// The path template, `{name}` marking a path parameter.
    pub template: &'static str,
    /// The OpenAPI operation id.
    pub operation_id: &'static str,
    /// Whether the hosted API lacks it (a route of this project only).
    pub extension: bool,
    /// Whether it answers without an API key (the probes and metrics of the
    /// reference server).
    pub public: bool,
    /// Whether its body may be large (the upload routes, which name up to
    /// 100,000 objects); every other route takes at most
    /// [`SMALL_BODY_LIMIT`].
    pub bulk: bool,
    /// What its handler answers, its success first: the statuses of what the
    /// route does. The answers of what it is (a key, a body, an
    /// `Idempotency-Key`) are its [`common_answers`]. The reference server's
    /// tests drive every route to each of these and to nothing else, and the
    /// OpenAPI document lists exactly these and the common ones.
    pub answers: &'static [Answer],
}

/// One answer of a route's handler: its status and what it means there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// What it means on this route; `None` for the usual meaning of the
    /// status (its [`common_answer`]).
    pub meaning: Option<&'static str>,
}

/// An answer with a meaning of its own on this route.
const fn says(status: u16, meaning: &'static str) -> Answer {
    Answer {
        status,
        meaning: Some(meaning),
    }
}

/// An answer with the usual meaning of its status.
const fn plain(status: u16) -> Answer {
    Answer {
        status,
        meaning: None,
    }
}

/// Largest request body of a route that is not [`bulk`](Route::bulk)
/// (folders, integrations, retries, ...): 64 KiB.
pub const SMALL_BODY_LIMIT: usize = 64 * 1024;

/// Default largest body of a [`bulk`](Route::bulk) route (an upload): 64 MiB,
/// the reference server's `--body-limit`.
pub const DEFAULT_BULK_BODY_LIMIT: usize = 64 * 1024 * 1024;

impl Route {
    const fn new(verb: Verb, template: &'static str, operation_id: &'static str) -> Route {
        Route {
            verb,
            template,
            operation_id,
            extension: false,
            public: false,
            bulk: false,
            answers: &[],
        }
    }

    const fn answers(self, answers: &'static [Answer]) -> Route {
        Route { answers, ..self }
    }

    /// The status of its success, the first of its [`answers`](Route::answers).
    ///
    /// ```
    /// use import_core::routes;
    ///
    /// assert_eq!(routes::CREATE_FOLDER.success(), 201);
    /// assert_eq!(routes::DELETE_INTEGRATION.success(), 204);
    /// ```
    pub fn success(&self) -> u16 {
        self.answers.first().map_or(200, |a| a.status)
    }

    /// Whether the handler of this route, or a layer in front of it, may
    /// answer `status` (its request has a body when `has_body`).
    ///
    /// ```
    /// use import_core::routes;
    ///
    /// assert!(routes::GET_IMPORT_JOB.may_answer(404, false));
    /// assert!(routes::GET_IMPORT_JOB.may_answer(429, false));
    /// assert!(!routes::GET_IMPORT_JOB.may_answer(409, false));
    /// assert!(!routes::HEALTHZ.may_answer(401, false));
    /// assert!(routes::HEALTHZ.may_answer(414, false));
    /// ```
    pub fn may_answer(&self, status: u16, has_body: bool) -> bool {
        self.answers.iter().any(|a| a.status == status)
            || common_answers(self, has_body)
                .iter()
                .any(|a| a.status == status)
    }

    const fn bulk(self) -> Route {
        Route { bulk: true, ..self }
    }

    /// The largest body this route takes, given the server's limit of bulk
    /// bodies.
    ///
    /// ```
    /// use import_core::routes::{self, SMALL_BODY_LIMIT};
    ///
    /// assert_eq!(routes::UPLOAD_S3.body_limit(64 << 20), 64 << 20);
    /// assert_eq!(routes::ADD_S3_INTEGRATION.body_limit(64 << 20), SMALL_BODY_LIMIT);
    /// assert_eq!(routes::CREATE_FOLDER.body_limit(1024), 1024);
    /// ```
    pub const fn body_limit(&self, bulk_limit: usize) -> usize {
        if self.bulk || bulk_limit < SMALL_BODY_LIMIT {
            bulk_limit
        } else {
            SMALL_BODY_LIMIT
        }
    }

    const fn extension(self) -> Route {
        Route {
            extension: true,
            ..self
        }
    }

    const fn public(self) -> Route {
        Route {
            public: true,
            ..self
        }
    }

    /// The method.
    pub fn method(&self) -> Method {
        self.verb.method()
    }

    /// The path with its one parameter replaced by `segment`, percent-encoded.
    /// A template without a parameter is returned as it is.
    pub fn fill(&self, segment: &str) -> String {
        let Some(open) = self.template.find('{') else {
            return self.template.to_owned();
        };
        let close = self.template[open..]
            .find('}')
            .map_or(self.template.len(), |i| open + i + 1);
        let mut out = String::with_capacity(self.template.len() + segment.len());
        out.push_str(&self.template[..open]);
        percent_encode_into(segment, &mut out);
        out.push_str(&self.template[close..]);
        out
    }

    /// Whether requests on this route take an `Idempotency-Key`.
    pub fn takes_idempotency_key(&self) -> bool {
        takes_idempotency_key(&self.method())
    }
}

/// An answer that a route may give besides its own, because of what it is
/// (it takes a key, a body or an `Idempotency-Key`), not because of what it
/// does: produced by the reference server's layers in front of every
/// handler, and listed for every route by the OpenAPI document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommonAnswer {
    /// The status code.
    pub status: u16,
    /// What it means, for the document's readers.
    pub meaning: &'static str,
    /// Whether it carries `Retry-After` (seconds).
    pub retry_after: bool,
    /// Whether it carries the JSON error body (`{"detail": ...}`); the
    /// answers of the HTTP parser itself have none.
    pub body: bool,
}

const fn answer(status: u16, meaning: &'static str, retry_after: bool) -> CommonAnswer {
    CommonAnswer {
        status,
        meaning,
        retry_after,
        body: true,
    }
}

/// Answers of every route, the public ones included: a request whose head
/// the server does not read.
const EVERY: [CommonAnswer; 2] = [
    answer(
        414,
        "The request's target (path and query) is longer than 8 KiB.",
        false,
    ),
    CommonAnswer {
        status: 431,
        meaning: "The request's head (its line and headers) is larger than the server reads (`--max-head-bytes`, 32 KiB by default), or has more than 100 headers; no body.",
        retry_after: false,
        body: false,
    },
];

/// Answers of every route that takes an API key.
const KEYED: [CommonAnswer; 4] = [
    answer(401, "Missing, unknown, expired or revoked API key.", false),
    answer(
        429,
        "Rate limited; retry after `Retry-After` seconds.",
        true,
    ),
    answer(
        500,
        "An internal failure of the server, logged; never the answer to bad input.",
        false,
    ),
    answer(
        503,
        "The server's database is busy or unreachable, or the request bodies being read hold all of its body memory; retry after `Retry-After` seconds.",
        true,
    ),
];

/// Answers of every route that takes an `Idempotency-Key`.
const IDEMPOTENT: [CommonAnswer; 2] = [
    answer(
        409,
        "The `Idempotency-Key` was used with a different body, or its first request is still being served (then with `Retry-After`).",
        true,
    ),
    answer(
        422,
        "A field fails validation; `detail` lists the fields.",
        false,
    ),
];

/// Answers of every route that takes a body.
const WITH_BODY: [CommonAnswer; 4] = [
    answer(400, "Malformed or contradictory request.", false),
    answer(
        408,
        "The body did not arrive within the server's body timeout.",
        false,
    ),
    answer(
        413,
        "The body is larger than the route accepts (64 KiB; the upload routes 64 MiB by default).",
        false,
    ),
    answer(
        422,
        "A field fails validation; `detail` lists the fields.",
        false,
    ),
];

/// The common answer of this status, if it is one (the meaning the OpenAPI
/// document gives it where a route says nothing more).
pub fn common_answer(status: u16) -> Option<CommonAnswer> {
    EVERY
        .iter()
        .chain(&KEYED)
        .chain(&IDEMPOTENT)
        .chain(&WITH_BODY)
        .find(|a| a.status == status)
        .copied()
}

/// The answers `route` may give besides its own (its request has a body when
/// `has_body`), each status once: the table beside the route table.
///
/// ```
/// use import_core::routes;
///
/// let statuses = |r, body| -> Vec<u16> {
///     routes::common_answers(r, body).iter().map(|a| a.status).collect()
/// };
/// assert_eq!(statuses(&routes::GET_IMPORT_JOB, false), [414, 431, 401, 429, 500, 503]);
/// assert_eq!(statuses(&routes::CREATE_FOLDER, true), [414, 431, 401, 429, 500, 503, 409, 422, 400, 408, 413]);
/// assert_eq!(statuses(&routes::HEALTHZ, false), [414, 431]);
/// ```
pub fn common_answers(route: &Route, has_body: bool) -> Vec<CommonAnswer> {
    let mut out: Vec<CommonAnswer> = Vec::new();
    let mut add = |answers: &[CommonAnswer]| {
        for a in answers {
            if !out.iter().any(|seen| seen.status == a.status) {
                out.push(*a);
            }
        }
    };
    add(&EVERY);
    if !route.public {
        add(&KEYED);
    }
    if route.takes_idempotency_key() {
        add(&IDEMPOTENT);
    }
    if has_body {
        add(&WITH_BODY);
    }
    out
}

/// Whether a request of this method takes an `Idempotency-Key`: the mutating
/// methods (`POST`, `PUT`, `PATCH`, `DELETE`). The one place of this rule, for
/// the clients and the server alike.
pub fn takes_idempotency_key(method: &Method) -> bool {
    matches!(
        *method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    )
}

/// A method as a metric label or log field shows it: one of the methods
/// HTTP defines, else `other`, so that a client inventing methods cannot
/// grow the server's metrics or logs without bound.
///
/// ```
/// use http::Method;
/// use import_core::routes::method_label;
///
/// assert_eq!(method_label(&Method::POST), "POST");
/// assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "other");
/// ```
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "other",
    }
}

/// The route of the table with this method and template, if any.
///
/// ```
/// use import_core::routes;
///
/// assert_eq!(routes::find(&http::Method::POST, "/api/s3/upload"), Some(routes::UPLOAD_S3));
/// assert_eq!(routes::find(&http::Method::GET, "/api/s3/upload"), None);
/// ```
pub fn find(method: &Method, template: &str) -> Option<Route> {
    ALL.iter()
        .find(|r| r.template == template && r.method() == method)
        .copied()
}

/// Check an API key.
///
/// Answers who the key belongs to.
pub const VERIFY_AUTH: Route = Route::new(Verb::Post, "/api/keys/verify", "verify_auth")
    .answers(&[says(200, "The key is valid.")]);
/// Get a folder by name and scope, creating it if missing.
///
/// The same name and scope always return the same folder.
pub const CREATE_OR_GET_FOLDER: Route = Route::new(
    Verb::Post,
    "/api/folders/create-or-get",
    "create_or_get_folder",
)
.answers(&[says(200, "The folder."), plain(422)]);
/// Create a folder.
pub const CREATE_FOLDER: Route = Route::new(Verb::Post, "/api/folders", "create_folder").answers(&[
    says(201, "The new folder."),
    says(
        409,
        "A folder of that name exists in that scope, or the `Idempotency-Key` was used with a different body.",
    ),
    plain(422),
]);
/// Find a folder by name and scope.
pub const GET_FOLDER: Route = Route::new(Verb::Get, "/api/folders/get", "get_folder").answers(&[
    says(200, "The folder."),
    says(404, "No folder of that name in that scope."),
    plain(422),
]);
/// List saved cloud integrations.
///
/// Every integration visible to the caller: their own and their organisation's.
pub const LIST_INTEGRATIONS: Route = Route::new(
    Verb::Get,
    "/api/cloud-integrations",
    "list_cloud_integrations",
)
.answers(&[says(200, "The integrations, without secrets.")]);
/// The answers of the routes that save an integration with endpoints of its
/// own (GCS, S3).
const SAVE_INTEGRATION: &[Answer] = &[
    SAVED,
    says(
        400,
        "An endpoint of the integration that the server may not reach (see `--allow-endpoint`) or cannot resolve.",
    ),
    plain(422),
];
/// The success of the routes that save an integration.
const SAVED: Answer = says(200, "The saved integration, without secrets.");
/// Save a Google Cloud Storage integration.
///
/// Holds a service-account key for one bucket, optionally narrowed to a prefix.
pub const ADD_GCS_INTEGRATION: Route = Route::new(
    Verb::Post,
    "/api/cloud-integrations/gcs",
    "add_gcs_integration",
)
.answers(SAVE_INTEGRATION);
/// Save an S3 or S3-compatible integration.
///
/// `region` is required unless `endpoint_url` is given (then it defaults to
/// `auto`). An S3-compatible store (Cloudflare R2, MinIO, ...) is an `s3`
/// integration with `endpoint_url`.
pub const ADD_S3_INTEGRATION: Route = Route::new(
    Verb::Post,
    "/api/cloud-integrations/s3",
    "add_s3_integration",
)
.answers(SAVE_INTEGRATION);
/// Save a Hugging Face Storage Bucket integration.
///
/// `bucket` is `namespace/name`; `token` is a Hugging Face token.
pub const ADD_HF_INTEGRATION: Route = Route::new(
    Verb::Post,
    "/api/cloud-integrations/hf-bucket",
    "add_hf_integration",
)
.answers(&[SAVED, plain(422)]);
/// Delete a saved cloud integration.
///
/// Only its owner may delete it; anyone else gets `404`.
pub const DELETE_INTEGRATION: Route = Route::new(
    Verb::Delete,
    "/api/cloud-integrations/{id}",
    "delete_cloud_integration",
)
.extension()
.answers(&[
    says(204, "Deleted."),
    says(404, "No such integration, or the caller does not own it."),
]);
/// The answers of the three upload routes.
const UPLOAD: &[Answer] = &[
    says(
        200,
        "The import job; the copying happens in the background.",
    ),
    says(
        400,
        "Malformed or contradictory request, or an integration of another provider or bucket.",
    ),
    says(
        404,
        "The `integration_id` or `folder_id` does not exist or is not visible to the caller.",
    ),
    says(
        422,
        "A missing field, an empty list, more objects than the server's limit, a name that is not `.mp4`, or a multi-view set without `front`.",
    ),
    says(
        429,
        "Rate limited, or the organisation already has as many videos waiting as the server allows (`--max-pending-rows-per-org`); retry after `Retry-After` seconds.",
    ),
];
/// Import objects from a Google Cloud Storage bucket.
///
/// Single-view: `files`. Multi-view: `sets` and `bucket`. `integration_id` is
/// required (the bucket comes from it).
pub const UPLOAD_GCS: Route = Route::new(Verb::Post, "/api/gcs/upload", "upload_gcs")
    .bulk()
    .answers(UPLOAD);
/// Import objects from an S3 or S3-compatible bucket.
///
/// Single-view: `keys` and `bucket`. Multi-view: `sets` and `bucket`. Without
/// `integration_id` the server uses a saved `s3` integration of the caller for
/// the bucket (newest first), else its own default credentials, else anonymous
/// access.
pub const UPLOAD_S3: Route = Route::new(Verb::Post, "/api/s3/upload", "upload_s3")
    .bulk()
    .answers(UPLOAD);
/// Import objects from a Hugging Face Storage Bucket.
///
/// `files` and `bucket` (`namespace/name`); no multi-view. Without
/// `integration_id` the server uses a saved `hf_bucket` integration for the
/// bucket, else public access.
pub const UPLOAD_HF_BUCKET: Route =
    Route::new(Verb::Post, "/api/hf-buckets/upload", "upload_hf_bucket")
        .bulk()
        .answers(UPLOAD);
/// Is the server alive.
///
/// 200 while the process runs. No API key.
pub const HEALTHZ: Route = Route::new(Verb::Get, "/healthz", "healthz")
    .extension()
    .public()
    .answers(&[says(200, "Alive: `{\"status\": \"ok\"}`.")]);
/// Can the server serve and import.
///
/// 200 when the database answers, its schema is current and the media store
/// takes a write (checked at most every 30 s); otherwise 503 with `status`
/// `not_ready` and the `reason`. No API key.
pub const READYZ: Route = Route::new(Verb::Get, "/readyz", "readyz")
    .extension()
    .public()
    .answers(&[
        says(200, "Ready."),
        says(503, "Not ready; the body's `reason` says why."),
    ]);
/// Metrics in the Prometheus text format.
///
/// The Prometheus text format (`text/plain; version=0.0.4`), not JSON: rows by
/// status, claimable rows, claims, copied bytes, copy duration, failures by
/// code, HTTP requests by route and status, request latency. No API key.
pub const METRICS: Route = Route::new(Verb::Get, "/metrics", "metrics")
    .extension()
    .public()
    .answers(&[says(200, "The metrics, as text.")]);
/// List the caller's import jobs.
///
/// The jobs the caller can see (its own, and the `org` jobs of its
/// organisation), newest first, each as the job's own route shows it. Page
/// with `cursor` (the previous page's `next_cursor`).
pub const LIST_IMPORT_JOBS: Route = Route::new(Verb::Get, "/api/import-jobs", "list_import_jobs")
    .extension()
    .answers(&[
        says(200, "One page of jobs."),
        says(422, "`limit` is outside 1..=500, or a filter is malformed."),
    ]);
/// Cancel an import job.
///
/// The job's rows not yet terminal end `UPLOADING_FAILED` with `error_code`
/// `cancelled`; copies in flight stop within seconds; the job's `status`
/// becomes `cancelled` and it is terminal. A job that is terminal already is
/// left as it is; cancelling again answers the job again. `POST .../retry`
/// imports the cancelled rows after all.
pub const CANCEL_IMPORT_JOB: Route = Route::new(
    Verb::Post,
    "/api/import-jobs/{import_job_id}/cancel",
    "cancel_import_job",
)
.extension()
.answers(&[says(200, "The job, as it is now."), NO_SUCH_JOB]);
/// The answer of every route of one job when there is no such job.
const NO_SUCH_JOB: Answer = says(404, "No such import job.");
/// Get an import job.
///
/// `job_id` .. `completed_at` are the documented fields. **Extension**:
/// `status`, `terminal`, `counts`, `poll_after_seconds` and `multi_view` tell
/// readiness in one request.
pub const GET_IMPORT_JOB: Route = Route::new(
    Verb::Get,
    "/api/import-jobs/{import_job_id}",
    "get_import_job",
)
.answers(&[says(200, "The job."), NO_SUCH_JOB]);
/// List the per-video statuses of an import job.
///
/// Rows come in ascending `video_id` order. `cursor` is the last `video_id` of
/// the previous page; `next_cursor` is the last id of this page when
/// `has_more`. Multi-view jobs list one row per set (the `front` video, with
/// `views` and `failed_views`). Statuses are `PENDING`, `UPLOADING`,
/// `UPLOADED` (terminal) and `UPLOADING_FAILED` (terminal); clients treat any
/// other status as not terminal. The job is ready when the ids returned reach
/// `total` and every row is terminal. The SDKs' deprecated
/// `get_import_job_uploaded_video_ids` calls this route. **Extension**: `error`
/// on a failed row.
pub const GET_IMPORT_JOB_VIDEOS: Route = Route::new(
    Verb::Get,
    "/api/import-jobs/{import_job_id}/videos",
    "get_import_job_videos",
)
.answers(&[
    says(200, "One page of rows."),
    says(
        400,
        "`cursor` together with `offset`, or `offset` on a multi-view job.",
    ),
    NO_SUCH_JOB,
    says(
        422,
        "`limit` is outside 1..=1000, or a parameter is malformed.",
    ),
]);
/// Retry failed rows of an import job.
///
/// Puts the named (or, with `video_ids: null`, all) `UPLOADING_FAILED` rows
/// back to `PENDING`; other rows are left alone. The job is no longer terminal
/// until they finish again.
pub const RETRY_IMPORT_JOB: Route = Route::new(
    Verb::Post,
    "/api/import-jobs/{import_job_id}/retry",
    "retry_import_job",
)
.answers(&[
    says(200, "The rows put back to `PENDING`."),
    NO_SUCH_JOB,
    plain(422),
]);
/// Get the status of one imported video.
///
/// `metadata` fields are present once the video is `UPLOADED`.
pub const GET_VIDEO_STATUS: Route = Route::new(
    Verb::Get,
    "/api/video/{video_id}/status",
    "get_video_status",
)
.extension()
.answers(&[
    says(200, "The video's status."),
    says(404, "No such video."),
]);

/// Every route, in the contract's order.
pub const ALL: &[Route] = &[
    VERIFY_AUTH,
    CREATE_OR_GET_FOLDER,
    CREATE_FOLDER,
    GET_FOLDER,
    LIST_INTEGRATIONS,
    ADD_GCS_INTEGRATION,
    ADD_S3_INTEGRATION,
    ADD_HF_INTEGRATION,
    DELETE_INTEGRATION,
    UPLOAD_GCS,
    UPLOAD_S3,
    UPLOAD_HF_BUCKET,
    GET_IMPORT_JOB,
    GET_IMPORT_JOB_VIDEOS,
    RETRY_IMPORT_JOB,
    GET_VIDEO_STATUS,
    LIST_IMPORT_JOBS,
    CANCEL_IMPORT_JOB,
    HEALTHZ,
    READYZ,
    METRICS,
];

/// The upload route of a provider.
///
/// One request names objects in one bucket. Object names are the part of the
/// URI after the bucket, taken literally. Duplicate names are imported once.
/// Credentials, bucket access, each object's existence, its place inside the
/// integration's prefix and its MP4 signature are checked in the background:
/// each failure is a row with status `UPLOADING_FAILED`, never a 4xx.
pub fn upload(provider: Provider) -> Route {
    match provider {
        Provider::Gcs => UPLOAD_GCS,
        Provider::S3 => UPLOAD_S3,
        Provider::HfBucket => UPLOAD_HF_BUCKET,
    }
}

/// Percent-encode everything but RFC 3986 unreserved characters.
pub(crate) fn percent_encode_into(s: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 15)] as char);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn routes_and_operation_ids_are_unique() {
        let pairs: HashSet<_> = ALL.iter().map(|r| (r.verb, r.template)).collect();
        assert_eq!(pairs.len(), ALL.len());
        let ids: HashSet<_> = ALL.iter().map(|r| r.operation_id).collect();
        assert_eq!(ids.len(), ALL.len());
    }

    #[test]
    fn every_route_answers_a_success_first_then_errors_once_each() {
        for r in ALL {
            let (first, rest) = r
                .answers
                .split_first()
                .unwrap_or_else(|| panic!("{} lists no answer", r.operation_id));
            assert!((200..300).contains(&first.status), "{}", r.operation_id);
            assert!(rest.iter().all(|a| a.status >= 400), "{}", r.operation_id);
            let unique: HashSet<_> = r.answers.iter().map(|a| a.status).collect();
            assert_eq!(unique.len(), r.answers.len(), "{}", r.operation_id);
        }
    }

    #[test]
    fn templates_take_at_most_one_parameter() {
        for r in ALL {
            assert!(r.template.matches('{').count() <= 1, "{}", r.template);
            assert_eq!(
                r.template.matches('{').count(),
                r.template.matches('}').count()
            );
        }
    }

    #[test]
    fn fill_encodes_the_segment() {
        assert_eq!(
            DELETE_INTEGRATION.fill("a b/c"),
            "/api/cloud-integrations/a%20b%2Fc"
        );
        assert_eq!(RETRY_IMPORT_JOB.fill("ij_1"), "/api/import-jobs/ij_1/retry");
        assert_eq!(VERIFY_AUTH.fill("ignored"), "/api/keys/verify");
    }

    #[test]
    fn mutating_methods_take_an_idempotency_key() {
        assert!(UPLOAD_S3.takes_idempotency_key());
        assert!(DELETE_INTEGRATION.takes_idempotency_key());
        assert!(!GET_IMPORT_JOB.takes_idempotency_key());
        assert!(takes_idempotency_key(&Method::PATCH));
        assert!(!takes_idempotency_key(&Method::HEAD));
    }
}
