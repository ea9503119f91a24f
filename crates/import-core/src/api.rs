//! Every operation of the contract as a transport-free request, and the decoding
//! of every answer.
//!
//! A transport (ureq, reqwest, a test) sends an [`ApiRequest`] and hands the
//! status, headers and body back to [`ApiRequest::decode`]. No URL path or JSON
//! field name needs to be written anywhere else.

use std::fmt;
use std::marker::PhantomData;

use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{AnswerError, Error, Result};
use crate::ids::{ImportJobId, IntegrationId, Scope, VideoId, check_idempotency_key};
use crate::pager::PageRequest;
use crate::request::ImportRequest;
use crate::routes::{self, Route};
use crate::wire::{
    AddGcsIntegration, AddHfIntegration, AddS3Integration, CloudIntegration, ErrorBody, Folder,
    FolderRequest, ImportJob, ImportJobList, Probe, RetryRequest, RetryResponse, UploadBody,
    UploadResponse, VerifyResponse, VideoStatusResponse, VideosPage,
};

/// Header carrying the API key.
pub const API_KEY_HEADER: &str = "x-api-key";
/// Header carrying the idempotency key of a POST.
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";
/// Header carrying a correlation id.
pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// Header set on an answer replayed for a repeated `Idempotency-Key`
/// (*extension*).
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// Response header of the reference server: the requests a key may make per
/// minute (`--requests-per-minute`).
pub const RATE_LIMIT_LIMIT_HEADER: &str = "ratelimit-limit";

/// Response header of the reference server: the requests the key may still
/// make at once.
pub const RATE_LIMIT_REMAINING_HEADER: &str = "ratelimit-remaining";

/// Response header of the reference server: whole seconds until the key may
/// make [`RATE_LIMIT_LIMIT_HEADER`] requests at once again.
pub const RATE_LIMIT_RESET_HEADER: &str = "ratelimit-reset";
/// Response header of a `429` or `503`: whole seconds to wait before the
/// request is sent again.
pub const RETRY_AFTER_HEADER: &str = "retry-after";

/// A header name as the contract's documents spell it: each dash-separated
/// word capitalised, `API` and `ID` in capitals and `RateLimit` as its
/// specification writes it. The names above are lower case, as `http`
/// takes them; HTTP header names are case-insensitive, so both are the same
/// header.
///
/// ```
/// use import_core::api::{self, display_header};
/// assert_eq!(display_header(api::API_KEY_HEADER), "X-API-Key");
/// assert_eq!(display_header(api::REQUEST_ID_HEADER), "X-Request-ID");
/// assert_eq!(display_header(api::IDEMPOTENCY_KEY_HEADER), "Idempotency-Key");
/// assert_eq!(display_header(api::RATE_LIMIT_RESET_HEADER), "RateLimit-Reset");
/// assert_eq!(display_header(api::RETRY_AFTER_HEADER), "Retry-After");
/// ```
pub fn display_header(name: &str) -> String {
    name.split('-')
        .map(|word| match word.to_ascii_lowercase().as_str() {
            "api" => "API".to_owned(),
            "id" => "ID".to_owned(),
            "ratelimit" => "RateLimit".to_owned(),
            lower => {
                let mut chars = lower.chars();
                chars
                    .next()
                    .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                    .unwrap_or_default()
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// The `Content-Type` of every body.
pub const JSON_CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// An API key. Its `Debug` and `Display` never show the key.
///
/// ```
/// use import_core::ApiKey;
/// let key = ApiKey::new("vk_live_0123456789abcdef")?;
/// assert_eq!(format!("{key:?}"), "ApiKey(<redacted>)");
/// assert!(ApiKey::new("  ").is_err());
/// # Ok::<(), import_core::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wrap a key: trimmed, non-empty, printable ASCII.
    pub fn new(key: impl Into<String>) -> Result<ApiKey> {
        let key = key.into();
        let trimmed = key.trim();
        if trimmed.is_empty() || !trimmed.bytes().all(|c| c.is_ascii_graphic()) {
            return Err(Error::InvalidField {
                field: "api_key",
                problem: "must be a non-empty key of printable ASCII characters without spaces; create one with `vimport keys create` or copy it from your account settings".to_owned(),
            });
        }
        Ok(ApiKey(trimmed.to_owned()))
    }

    /// The key itself, for the transport to put in a header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// One HTTP exchange of the contract, built once and sent by any transport.
///
/// `T` is the type of a successful answer's body; [`ApiRequest::decode`] turns
/// `(status, headers, body)` into `Result<T>`.
///
/// ```
/// use http::{HeaderMap, StatusCode};
/// use import_core::{api, ImportJobId};
///
/// let id: ImportJobId = "ij_42".parse()?;
/// let req = api::get_import_job(&id);
/// assert_eq!(req.method(), "GET");
/// assert_eq!(req.url("http://127.0.0.1:8080/"), "http://127.0.0.1:8080/api/import-jobs/ij_42");
///
/// let body = br#"{"job_id":"ij_42","source":"s3","bucket":"b","total":1,"created_at":"2026-01-01T00:00:00Z"}"#;
/// let job = req.decode(StatusCode::OK, &HeaderMap::new(), body)?;
/// assert_eq!(job.total, 1);
///
/// let err = req.decode(StatusCode::NOT_FOUND, &HeaderMap::new(), br#"{"detail":"Import job not found"}"#);
/// assert!(matches!(err, Err(import_core::AnswerError::NotFound { .. })));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct ApiRequest<T> {
    method: Method,
    path: String,
    query: Vec<(&'static str, String)>,
    body: Option<Vec<u8>>,
    idempotency_key: Option<String>,
    answer: PhantomData<fn() -> T>,
}

impl<T> ApiRequest<T> {
    fn new(method: Method, path: String) -> Self {
        ApiRequest {
            method,
            path,
            query: Vec::new(),
            body: None,
            idempotency_key: None,
            answer: PhantomData,
        }
    }

    /// A request on `route`, its path parameter (if any) filled with `segment`.
    fn route(route: Route, segment: &str) -> Self {
        Self::new(route.method(), route.fill(segment))
    }

    fn json(route: Route, segment: &str, body: &impl Serialize) -> Self {
        let mut req = Self::route(route, segment);
        // Serialising our own wire types cannot fail: they hold no maps with
        // non-string keys and no failing Serialize impls.
        req.body = Some(serde_json::to_vec(body).unwrap_or_default());
        req
    }

    /// The HTTP method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The path, starting with `/api`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Query parameters, unencoded.
    pub fn query(&self) -> &[(&'static str, String)] {
        &self.query
    }

    /// The JSON body, if any.
    pub fn body(&self) -> Option<&[u8]> {
        self.body.as_deref()
    }

    /// The path and percent-encoded query.
    pub fn path_and_query(&self) -> String {
        let mut out = self.path.clone();
        for (i, (k, v)) in self.query.iter().enumerate() {
            out.push(if i == 0 { '?' } else { '&' });
            out.push_str(k);
            out.push('=');
            routes::percent_encode_into(v, &mut out);
        }
        out
    }

    /// The full URL under a base such as `https://api.example.com` (a trailing
    /// `/` on the base is ignored).
    pub fn url(&self, base: &str) -> String {
        format!("{}{}", base.trim_end_matches('/'), self.path_and_query())
    }

    /// Attach an `Idempotency-Key` (POST/PUT/PATCH/DELETE). Keep the same key
    /// across retries of this request.
    pub fn with_idempotency_key(mut self, key: impl Into<String>) -> Result<Self> {
        let key = key.into();
        check_idempotency_key(&key)?;
        self.idempotency_key = Some(key);
        Ok(self)
    }

    /// The idempotency key, if attached.
    pub fn idempotency_key(&self) -> Option<&str> {
        self.idempotency_key.as_deref()
    }

    /// Whether the request may be retried: a GET, or a request with an idempotency key.
    pub fn is_idempotent(&self) -> bool {
        self.method == Method::GET || self.idempotency_key.is_some()
    }

    /// Whether the contract wants an `Idempotency-Key` on this method.
    pub fn wants_idempotency_key(&self) -> bool {
        routes::takes_idempotency_key(&self.method)
    }

    /// Every header the request needs: the API key, `Accept`, `User-Agent`,
    /// `Content-Type` with a body, and the idempotency key when attached.
    pub fn headers(&self, key: &ApiKey, user_agent: &str) -> Result<HeaderMap> {
        let mut h = HeaderMap::new();
        let mut value = HeaderValue::from_str(key.expose()).map_err(|_| Error::InvalidField {
            field: "api_key",
            problem: "is not a valid header value".to_owned(),
        })?;
        value.set_sensitive(true);
        h.insert(HeaderName::from_static(API_KEY_HEADER), value);
        h.insert(
            http::header::ACCEPT,
            HeaderValue::from_static("application/json"),
        );
        let ua = HeaderValue::from_str(user_agent).map_err(|_| Error::InvalidField {
            field: "user_agent",
            problem: format!("`{user_agent}` is not a valid header value; use printable ASCII"),
        })?;
        h.insert(http::header::USER_AGENT, ua);
        if self.body.is_some() {
            h.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static(JSON_CONTENT_TYPE),
            );
        }
        if let Some(k) = &self.idempotency_key {
            // Checked to be printable ASCII by `with_idempotency_key`.
            if let Ok(v) = HeaderValue::from_str(k) {
                h.insert(HeaderName::from_static(IDEMPOTENCY_KEY_HEADER), v);
            }
        }
        Ok(h)
    }
}

impl<T: DeserializeOwned> ApiRequest<T> {
    /// Decode an answer: the body on success, a typed [`AnswerError`] otherwise.
    pub fn decode(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<T, AnswerError> {
        decode_answer(status, headers, body)
    }
}

/// Decode an answer of the contract into `T`, or into the matching [`AnswerError`].
///
/// `401` becomes [`AnswerError::Unauthorized`], `404` [`AnswerError::NotFound`],
/// every other non-2xx [`AnswerError::Api`] with the `detail` and `Retry-After` seconds. An empty
/// success body (a `204`) decodes as JSON `null`, so `T = ()` works.
pub fn decode_answer<T: DeserializeOwned>(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<T, AnswerError> {
    if status.is_success() {
        let body = if body.iter().all(u8::is_ascii_whitespace) {
            b"null".as_slice()
        } else {
            body
        };
        return serde_json::from_slice(body).map_err(|e| AnswerError::Decode {
            status,
            expected: short_type_name::<T>(),
            reason: e.to_string(),
        });
    }
    let detail = match serde_json::from_slice::<ErrorBody>(body) {
        Ok(b) => b.detail.to_string(),
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            if text.is_empty() {
                status.canonical_reason().unwrap_or("no detail").to_owned()
            } else {
                text.chars().take(500).collect()
            }
        }
    };
    Err(match status {
        StatusCode::UNAUTHORIZED => AnswerError::Unauthorized { detail },
        StatusCode::NOT_FOUND => AnswerError::NotFound { detail },
        _ => AnswerError::Api {
            status,
            detail,
            retry_after_secs: headers
                .get(http::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(crate::retry::retry_after_seconds),
        },
    })
}

fn short_type_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    full.rsplit("::").next().unwrap_or(full)
}

/// `POST /api/keys/verify`.
pub fn verify_auth() -> ApiRequest<VerifyResponse> {
    ApiRequest::route(routes::VERIFY_AUTH, "")
}

/// `POST /api/folders/create-or-get`: the folder of that name and scope, created if missing.
pub fn create_or_get_folder(folder: &FolderRequest) -> ApiRequest<Folder> {
    ApiRequest::json(routes::CREATE_OR_GET_FOLDER, "", folder)
}

/// `POST /api/folders`: a new folder (`409` if the name exists in that scope).
pub fn create_folder(folder: &FolderRequest) -> ApiRequest<Folder> {
    ApiRequest::json(routes::CREATE_FOLDER, "", folder)
}

/// `GET /api/folders/get?name=&scope=`.
pub fn get_folder(name: &str, scope: Scope) -> ApiRequest<Folder> {
    let mut req = ApiRequest::route(routes::GET_FOLDER, "");
    req.query = vec![
        ("name", name.to_owned()),
        ("scope", scope.as_str().to_owned()),
    ];
    req
}

/// `GET /api/cloud-integrations`.
pub fn list_integrations() -> ApiRequest<Vec<CloudIntegration>> {
    ApiRequest::route(routes::LIST_INTEGRATIONS, "")
}

/// `POST /api/cloud-integrations/gcs`.
pub fn add_gcs_integration(body: &AddGcsIntegration) -> ApiRequest<CloudIntegration> {
    ApiRequest::json(routes::ADD_GCS_INTEGRATION, "", body)
}

/// `POST /api/cloud-integrations/s3`.
pub fn add_s3_integration(body: &AddS3Integration) -> ApiRequest<CloudIntegration> {
    ApiRequest::json(routes::ADD_S3_INTEGRATION, "", body)
}

/// `POST /api/cloud-integrations/hf-bucket`.
pub fn add_hf_integration(body: &AddHfIntegration) -> ApiRequest<CloudIntegration> {
    ApiRequest::json(routes::ADD_HF_INTEGRATION, "", body)
}

/// `DELETE /api/cloud-integrations/{id}` (*extension*), answered `204`.
pub fn delete_integration(id: &IntegrationId) -> ApiRequest<()> {
    ApiRequest::route(routes::DELETE_INTEGRATION, id.as_str())
}

/// The upload route and body of an import request.
///
/// A GCS request without an integration is [`Error::GcsIntegrationRequired`].
pub fn upload(request: &ImportRequest) -> Result<ApiRequest<UploadResponse>> {
    let body: UploadBody = request.upload_body()?;
    Ok(ApiRequest::json(
        routes::upload(request.provider()),
        "",
        &body,
    ))
}

/// `GET /api/import-jobs/{id}`.
pub fn get_import_job(id: &ImportJobId) -> ApiRequest<ImportJob> {
    ApiRequest::route(routes::GET_IMPORT_JOB, id.as_str())
}

/// `GET /api/import-jobs/{id}/videos?limit=&cursor=|offset=`.
pub fn get_import_job_videos(id: &ImportJobId, page: &PageRequest) -> ApiRequest<VideosPage> {
    let mut req = ApiRequest::route(routes::GET_IMPORT_JOB_VIDEOS, id.as_str());
    req.query.push(("limit", page.limit().to_string()));
    if let Some(cursor) = page.cursor() {
        req.query.push(("cursor", cursor.as_str().to_owned()));
    }
    if let Some(offset) = page.offset() {
        req.query.push(("offset", offset.to_string()));
    }
    req
}

/// `POST /api/import-jobs/{id}/retry`: the named (or all) failed rows back to `PENDING`.
pub fn retry_import_job(
    id: &ImportJobId,
    video_ids: Option<&[VideoId]>,
) -> ApiRequest<RetryResponse> {
    ApiRequest::json(
        routes::RETRY_IMPORT_JOB,
        id.as_str(),
        &RetryRequest {
            video_ids: video_ids.map(<[VideoId]>::to_vec),
        },
    )
}

/// `GET /healthz` (*extension* of the reference server, no API key needed).
pub fn health() -> ApiRequest<Probe> {
    ApiRequest::route(routes::HEALTHZ, "")
}

/// `GET /readyz` (*extension* of the reference server, no API key needed):
/// `200` ready, `503` with the reason otherwise.
pub fn readiness() -> ApiRequest<Probe> {
    ApiRequest::route(routes::READYZ, "")
}

/// `GET /metrics` (*extension* of the reference server, no API key needed).
/// Its body is the Prometheus text format, not JSON: read it as text (the
/// clients do not decode it).
pub fn metrics() -> ApiRequest<()> {
    ApiRequest::route(routes::METRICS, "")
}

/// `GET /api/import-jobs?limit=&cursor=&status=&folder_id=&created_after=`
/// (*extension*): the caller's visible jobs, newest first.
pub fn list_import_jobs(query: &crate::JobListRequest) -> ApiRequest<ImportJobList> {
    let mut req = ApiRequest::route(routes::LIST_IMPORT_JOBS, "");
    req.query.extend(query.query_pairs());
    req
}

/// `POST /api/import-jobs/{id}/cancel` (*extension*): the rows not yet
/// uploaded fail as `cancelled` and the job ends `cancelled`; answers the job.
pub fn cancel_import_job(id: &ImportJobId) -> ApiRequest<ImportJob> {
    ApiRequest::route(routes::CANCEL_IMPORT_JOB, id.as_str())
}

/// `GET /api/video/{id}/status` (*extension*).
pub fn get_video_status(id: &VideoId) -> ApiRequest<VideoStatusResponse> {
    ApiRequest::route(routes::GET_VIDEO_STATUS, id.as_str())
}

/// A folder request by name, as `create_or_get_folder` takes it: the name
/// checked by [`FolderName`](crate::FolderName).
pub fn folder_request(name: &str, scope: Scope) -> Result<FolderRequest> {
    Ok(FolderRequest {
        name: crate::FolderName::parse(name)?.into_string(),
        scope,
        description: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_is_percent_encoded() {
        let req = get_folder("fleet uploads/2024 & co", Scope::Org);
        assert_eq!(
            req.path_and_query(),
            "/api/folders/get?name=fleet%20uploads%2F2024%20%26%20co&scope=org"
        );
    }

    #[test]
    fn errors_carry_status_detail_and_retry_after() {
        let req = list_integrations();
        let mut h = HeaderMap::new();
        h.insert(http::header::RETRY_AFTER, HeaderValue::from_static("7"));
        let err = req
            .decode(StatusCode::SERVICE_UNAVAILABLE, &h, br#"{"detail":"busy"}"#)
            .unwrap_err();
        assert_eq!(
            err,
            AnswerError::Api {
                status: StatusCode::SERVICE_UNAVAILABLE,
                detail: "busy".into(),
                retry_after_secs: Some(7)
            }
        );
        assert_eq!(
            err.to_string(),
            "the API answered 503 Service Unavailable: busy"
        );
        let err = req.decode(StatusCode::UNAUTHORIZED, &h, b"").unwrap_err();
        assert_eq!(
            err,
            AnswerError::Unauthorized {
                detail: "Unauthorized".into()
            }
        );
        assert!(err.to_string().contains("check the key you give"));
        let err = req
            .decode(StatusCode::BAD_GATEWAY, &h, b"<html>oops</html>")
            .unwrap_err();
        assert!(err.to_string().ends_with("<html>oops</html>"), "{err}");
    }

    #[test]
    fn bad_success_body_is_a_decode_error() {
        let err = get_import_job(&"ij_1".parse().unwrap())
            .decode(StatusCode::OK, &HeaderMap::new(), b"<html>")
            .unwrap_err();
        assert!(
            matches!(
                err,
                AnswerError::Decode {
                    expected: "ImportJob",
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("check the base URL"), "{err}");
    }

    #[test]
    fn no_content_decodes_as_unit() {
        let req = delete_integration(&"ci_1".parse().unwrap());
        req.decode(StatusCode::NO_CONTENT, &HeaderMap::new(), b"")
            .unwrap();
        assert_eq!(req.method(), Method::DELETE);
        assert!(req.wants_idempotency_key());
    }

    #[test]
    fn idempotency() {
        let req = verify_auth();
        assert!(!req.is_idempotent());
        let req = req.with_idempotency_key("k-1").unwrap();
        assert!(req.is_idempotent());
        assert!(verify_auth().with_idempotency_key("").is_err());
        assert!(list_integrations().is_idempotent());
        let key = ApiKey::new("secret-key").unwrap();
        let h = req.headers(&key, "import-rs/0.1").unwrap();
        assert_eq!(h[IDEMPOTENCY_KEY_HEADER], "k-1");
        assert_eq!(h[API_KEY_HEADER], "secret-key");
        assert!(h[API_KEY_HEADER].is_sensitive());
        assert!(!h.contains_key(http::header::CONTENT_TYPE));
    }

    #[test]
    fn api_key_is_checked_and_hidden() {
        assert!(ApiKey::new("a b").is_err());
        let err = ApiKey::new("").unwrap_err();
        assert!(err.to_string().contains("vimport keys create"), "{err}");
        let key = ApiKey::new(" k ").unwrap();
        assert_eq!(key.expose(), "k");
        assert!(!format!("{key:?}").contains('k') || format!("{key:?}") == "ApiKey(<redacted>)");
    }

    #[test]
    fn folder_names() {
        assert_eq!(folder_request(" trips ", Scope::Org).unwrap().name, "trips");
        let err = folder_request("", Scope::User).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("`name` `` is not a folder name"),
            "{err}"
        );
    }
}
