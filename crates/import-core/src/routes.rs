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
        }
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
}

const fn answer(status: u16, meaning: &'static str, retry_after: bool) -> CommonAnswer {
    CommonAnswer {
        status,
        meaning,
        retry_after,
    }
}

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
        "The server's database is busy or unreachable; retry after `Retry-After` seconds.",
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
    KEYED
        .iter()
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
/// assert_eq!(statuses(&routes::GET_IMPORT_JOB, false), [401, 429, 500, 503]);
/// assert_eq!(statuses(&routes::CREATE_FOLDER, true), [401, 429, 500, 503, 409, 422, 400, 408, 413]);
/// assert!(statuses(&routes::HEALTHZ, false).is_empty());
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

/// `POST /api/keys/verify`.
pub const VERIFY_AUTH: Route = Route::new(Verb::Post, "/api/keys/verify", "verify_auth");
/// `POST /api/folders/create-or-get`.
pub const CREATE_OR_GET_FOLDER: Route = Route::new(
    Verb::Post,
    "/api/folders/create-or-get",
    "create_or_get_folder",
);
/// `POST /api/folders`.
pub const CREATE_FOLDER: Route = Route::new(Verb::Post, "/api/folders", "create_folder");
/// `GET /api/folders/get`.
pub const GET_FOLDER: Route = Route::new(Verb::Get, "/api/folders/get", "get_folder");
/// `GET /api/cloud-integrations`.
pub const LIST_INTEGRATIONS: Route = Route::new(
    Verb::Get,
    "/api/cloud-integrations",
    "list_cloud_integrations",
);
/// `POST /api/cloud-integrations/gcs`.
pub const ADD_GCS_INTEGRATION: Route = Route::new(
    Verb::Post,
    "/api/cloud-integrations/gcs",
    "add_gcs_integration",
);
/// `POST /api/cloud-integrations/s3`.
pub const ADD_S3_INTEGRATION: Route = Route::new(
    Verb::Post,
    "/api/cloud-integrations/s3",
    "add_s3_integration",
);
/// `POST /api/cloud-integrations/hf-bucket`.
pub const ADD_HF_INTEGRATION: Route = Route::new(
    Verb::Post,
    "/api/cloud-integrations/hf-bucket",
    "add_hf_integration",
);
/// `DELETE /api/cloud-integrations/{id}` (extension).
pub const DELETE_INTEGRATION: Route = Route::new(
    Verb::Delete,
    "/api/cloud-integrations/{id}",
    "delete_cloud_integration",
)
.extension();
/// `POST /api/gcs/upload`.
pub const UPLOAD_GCS: Route = Route::new(Verb::Post, "/api/gcs/upload", "upload_gcs").bulk();
/// `POST /api/s3/upload`.
pub const UPLOAD_S3: Route = Route::new(Verb::Post, "/api/s3/upload", "upload_s3").bulk();
/// `POST /api/hf-buckets/upload`.
pub const UPLOAD_HF_BUCKET: Route =
    Route::new(Verb::Post, "/api/hf-buckets/upload", "upload_hf_bucket").bulk();
/// `GET /healthz` (extension, no API key): 200 while the process runs.
pub const HEALTHZ: Route = Route::new(Verb::Get, "/healthz", "healthz")
    .extension()
    .public();
/// `GET /readyz` (extension, no API key): 200 when the server can serve and
/// import, 503 with the reason otherwise.
pub const READYZ: Route = Route::new(Verb::Get, "/readyz", "readyz")
    .extension()
    .public();
/// `GET /metrics` (extension, no API key): Prometheus text format.
pub const METRICS: Route = Route::new(Verb::Get, "/metrics", "metrics")
    .extension()
    .public();
/// `GET /api/import-jobs` (extension): the caller's jobs, newest first.
pub const LIST_IMPORT_JOBS: Route =
    Route::new(Verb::Get, "/api/import-jobs", "list_import_jobs").extension();
/// `POST /api/import-jobs/{import_job_id}/cancel` (extension).
pub const CANCEL_IMPORT_JOB: Route = Route::new(
    Verb::Post,
    "/api/import-jobs/{import_job_id}/cancel",
    "cancel_import_job",
)
.extension();
/// `GET /api/import-jobs/{import_job_id}`.
pub const GET_IMPORT_JOB: Route = Route::new(
    Verb::Get,
    "/api/import-jobs/{import_job_id}",
    "get_import_job",
);
/// `GET /api/import-jobs/{import_job_id}/videos`.
pub const GET_IMPORT_JOB_VIDEOS: Route = Route::new(
    Verb::Get,
    "/api/import-jobs/{import_job_id}/videos",
    "get_import_job_videos",
);
/// `POST /api/import-jobs/{import_job_id}/retry`.
pub const RETRY_IMPORT_JOB: Route = Route::new(
    Verb::Post,
    "/api/import-jobs/{import_job_id}/retry",
    "retry_import_job",
);
/// `GET /api/video/{video_id}/status` (extension).
pub const GET_VIDEO_STATUS: Route = Route::new(
    Verb::Get,
    "/api/video/{video_id}/status",
    "get_video_status",
)
.extension();

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
