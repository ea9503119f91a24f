//! The crate error, and the classification of `object_store` failures into
//! "retry later" or "fail the row".

use import_core::outcome::RETRY_PROMISE;
use std::error::Error as StdError;
use std::fmt;

use object_store::client::{HttpError, HttpErrorKind};

use crate::endpoint::GuardRefusal;
use crate::hf::HfError;

/// Everything that can go wrong while configuring or opening a source.
///
/// Every `Display` text names the problem and ends with the fix. No variant
/// ever carries a secret (keys, tokens, private keys): messages taken from
/// `object_store` are scrubbed of the configured secrets first.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderError {
    /// The source configuration is incomplete or contradictory.
    #[error("{what}; {fix}")]
    InvalidConfig {
        /// What is wrong.
        what: String,
        /// How to fix it.
        fix: String,
    },
    /// An endpoint was refused by the server-side request forgery guard.
    #[error(
        "endpoint `{url}` is refused: {reason}; use a public https endpoint, or ask the operator to allow it with `--allow-endpoint HOST:PORT`"
    )]
    ForbiddenEndpoint {
        /// The endpoint, without user information, query or fragment.
        url: String,
        /// Why it was refused.
        reason: String,
    },
    /// The host of an endpoint could not be resolved to any address.
    #[error(
        "the host `{host}` could not be resolved; check the spelling of the endpoint URL and that the server can reach its DNS"
    )]
    Unresolvable {
        /// The host name.
        host: String,
    },
    /// `object_store` refused to build the store or failed; the message has no secrets.
    #[error("{0}")]
    Store(String),
    /// A prefix URI to expand is not valid.
    #[error("invalid prefix URI `{uri}`: {problem}")]
    InvalidPrefix {
        /// The URI as given (trimmed, at most 200 characters).
        uri: String,
        /// What is wrong with it, with the fix.
        problem: String,
    },
    /// Listing the objects under a prefix failed.
    #[error("listing `{prefix}` failed: {message}")]
    List {
        /// The prefix URI that was listed.
        prefix: String,
        /// What kind of failure it was ([`classify`]).
        kind: FailureKind,
        /// What happened and the fix, without secrets.
        message: String,
    },
}

impl ProviderError {
    pub(crate) fn invalid(what: impl Into<String>, fix: impl Into<String>) -> Self {
        ProviderError::InvalidConfig {
            what: what.into(),
            fix: fix.into(),
        }
    }
}

impl From<import_core::PrefixError> for ProviderError {
    fn from(err: import_core::PrefixError) -> Self {
        ProviderError::InvalidPrefix {
            uri: err.uri,
            problem: err.problem.to_string(),
        }
    }
}

/// What kind of failure a source read ended with: decides between retrying
/// later and failing the row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FailureKind {
    /// The source is unavailable for now (5xx, 429, timeouts, dropped
    /// connections) even after `object_store`'s own retries: try again later.
    Transient,
    /// The object (or the bucket) does not exist.
    NotFound,
    /// The credentials were accepted but do not grant access to this bucket or object.
    AccessDenied,
    /// The credentials themselves were refused (wrong secret, unknown key, expired token).
    BadCredentials,
    /// Anything else; retrying will not help.
    Other,
}

impl FailureKind {
    /// Whether a later attempt may succeed without anyone changing anything.
    pub fn is_transient(self) -> bool {
        self == FailureKind::Transient
    }
}

/// A classified failure: its kind and a sentence a person understands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// What kind of failure it is.
    pub kind: FailureKind,
    /// A sentence saying what happened and, where there is one, the fix.
    pub message: String,
}

impl Failure {
    fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        Failure {
            kind,
            message: message.into(),
        }
    }

    /// Whether a later attempt may succeed ([`FailureKind::Transient`]).
    pub fn is_transient(&self) -> bool {
        self.kind.is_transient()
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

const ACCESS_DENIED: &str =
    "access denied by the bucket (check the integration's keys and the bucket policy)";
pub(crate) const NOT_FOUND: &str = "object not found in the bucket";

/// Classify an `object_store` error from any source opened by this crate
/// (S3, GCS or a Hugging Face bucket) into a [`Failure`].
///
/// `object_store` already retried transient failures before answering, so a
/// [`FailureKind::Transient`] here means "the source kept failing; try again
/// later", and everything else means "retrying will not help: fail the row
/// with this message". The message never contains secrets.
///
/// ```
/// use import_providers::{classify, FailureKind};
///
/// let err = object_store::Error::NotFound {
///     path: "trips/front.mp4".into(),
///     source: "404".into(),
/// };
/// let failure = classify(&err);
/// assert_eq!(failure.kind, FailureKind::NotFound);
/// assert_eq!(failure.message, "object not found in the bucket");
/// ```
pub fn classify(err: &object_store::Error) -> Failure {
    use object_store::Error as E;

    // Our own Hugging Face store knows exactly what happened.
    if let Some(hf) = find_in_chain::<HfError>(err) {
        return hf.failure();
    }

    // The endpoint guard refused to connect: permanent, whatever the transport says.
    if let Some(refusal) = find_in_chain::<GuardRefusal>(err) {
        return Failure::new(
            FailureKind::Other,
            format!(
                "{refusal}; the operator can allow a trusted endpoint with `--allow-endpoint HOST:PORT`"
            ),
        );
    }

    let text = chain_text(err);
    let code = s3_error_code(&text);
    let status = status_in_text(&text);

    if let Some(failure) = code.as_deref().and_then(classify_code) {
        return failure;
    }

    match err {
        E::NotFound { .. } => not_found(&text),
        E::PermissionDenied { .. } => Failure::new(FailureKind::AccessDenied, ACCESS_DENIED),
        E::Unauthenticated { .. } => Failure::new(
            FailureKind::BadCredentials,
            "the credentials were refused (401 Unauthorized); check the integration's keys, token or service-account key",
        ),
        E::NotImplemented { operation, .. } => Failure::new(
            FailureKind::Other,
            format!("this source does not support `{operation}`: it is read-only"),
        ),
        E::NotSupported { .. } => Failure::new(
            FailureKind::Other,
            "this source does not support the operation",
        ),
        E::InvalidPath { .. } => Failure::new(
            FailureKind::Other,
            "the object name cannot be read through the storage client (empty path segment, `.` or `..`, or a control character); rename the object",
        ),
        E::Precondition { .. } | E::NotModified { .. } => Failure::new(
            FailureKind::Transient,
            "the object changed while it was being read; it will be read again",
        ),
        _ => classify_by_status_or_transport(err, status, &text),
    }
}

fn classify_by_status_or_transport(
    err: &object_store::Error,
    status: Option<u16>,
    text: &str,
) -> Failure {
    if let Some(failure) = status.and_then(classify_status) {
        return failure;
    }
    if let Some(code) = status.filter(|s| (300..400).contains(s)) {
        // The stores follow no redirect (they could lead past the endpoint guard).
        return Failure::new(
            FailureKind::Other,
            format!(
                "the bucket's endpoint answered with a redirect (HTTP {code}), which is not followed; set the integration's endpoint_url (or region) to the address that serves the bucket"
            ),
        );
    }
    if let Some(lookup) = find_in_chain::<crate::names::LookupError>(err) {
        return Failure::new(FailureKind::Transient, format!("{lookup}{RETRY_PROMISE}"));
    }
    if let Some(http) = find_in_chain::<HttpError>(err) {
        return match http.kind() {
            HttpErrorKind::Timeout => Failure::new(
                FailureKind::Transient,
                format!(
                    "the bucket's service did not answer in time (timeout) even after retries{RETRY_PROMISE}"
                ),
            ),
            HttpErrorKind::Connect => Failure::new(
                FailureKind::Transient,
                format!(
                    "could not connect to the bucket's service even after retries{RETRY_PROMISE}"
                ),
            ),
            HttpErrorKind::Request | HttpErrorKind::Interrupted => Failure::new(
                FailureKind::Transient,
                format!(
                    "the connection to the bucket's service broke even after retries{RETRY_PROMISE}"
                ),
            ),
            _ => other(text),
        };
    }
    if text.contains("Received redirect without LOCATION") {
        return Failure::new(
            FailureKind::Other,
            "the bucket answered with a redirect: it is in another region; set the integration's region to the bucket's region",
        );
    }
    let lower = text.to_ascii_lowercase();
    if lower.contains("timed out") || lower.contains("timeout") {
        return Failure::new(
            FailureKind::Transient,
            format!(
                "the bucket's service did not answer in time (timeout) even after retries{RETRY_PROMISE}"
            ),
        );
    }
    if lower.contains("error sending request")
        || lower.contains("connection reset")
        || lower.contains("connection refused")
        || lower.contains("connection closed")
    {
        return Failure::new(
            FailureKind::Transient,
            format!(
                "the connection to the bucket's service failed even after retries{RETRY_PROMISE}"
            ),
        );
    }
    other(text)
}

/// Classify an HTTP status code; `None` for statuses that say nothing useful.
pub(crate) fn classify_status(status: u16) -> Option<Failure> {
    Some(match status {
        404 => Failure::new(FailureKind::NotFound, NOT_FOUND),
        401 => Failure::new(
            FailureKind::BadCredentials,
            "the credentials were refused (401 Unauthorized); check the integration's keys, token or service-account key",
        ),
        403 => Failure::new(FailureKind::AccessDenied, ACCESS_DENIED),
        416 => Failure::new(
            FailureKind::Other,
            "the requested byte range lies outside the object (the object is shorter than expected, maybe empty); re-export the recording",
        ),
        408 | 429 => Failure::new(
            FailureKind::Transient,
            format!(
                "the bucket's service asked to slow down (HTTP {status}) even after retries{RETRY_PROMISE}"
            ),
        ),
        500..=599 => Failure::new(
            FailureKind::Transient,
            format!(
                "the bucket's service is temporarily unavailable (HTTP {status}) even after retries{RETRY_PROMISE}"
            ),
        ),
        _ => return None,
    })
}

/// S3 (and S3-compatible) error codes that decide the kind by themselves.
fn classify_code(code: &str) -> Option<Failure> {
    let (kind, message) = match code {
        "SignatureDoesNotMatch" => (
            FailureKind::BadCredentials,
            "the credentials were refused: the secret key does not match (SignatureDoesNotMatch); update the integration's secret access key",
        ),
        "InvalidAccessKeyId" | "NotSignedUp" => (
            FailureKind::BadCredentials,
            "the credentials were refused: the access key id is unknown to the provider (InvalidAccessKeyId); check the integration's access key id and endpoint",
        ),
        "ExpiredToken" | "TokenRefreshRequired" => (
            FailureKind::BadCredentials,
            "the credentials were refused: the session token has expired (ExpiredToken); save the integration again with fresh temporary credentials",
        ),
        "InvalidToken" => (
            FailureKind::BadCredentials,
            "the credentials were refused: the session token is malformed or invalid (InvalidToken); save the integration again with valid temporary credentials",
        ),
        "AuthorizationHeaderMalformed" => (
            FailureKind::BadCredentials,
            "the credentials were refused: the request was signed for the wrong region (AuthorizationHeaderMalformed); set the integration's region to the bucket's region",
        ),
        "AccessDenied" | "AllAccessDisabled" | "AccountProblem" => {
            (FailureKind::AccessDenied, ACCESS_DENIED)
        }
        "NoSuchBucket" => (
            FailureKind::NotFound,
            "the bucket does not exist (NoSuchBucket); check the bucket name, region and endpoint",
        ),
        "NoSuchKey" => (FailureKind::NotFound, NOT_FOUND),
        "PermanentRedirect" => (
            FailureKind::Other,
            "the bucket is in another region (PermanentRedirect); set the integration's region to the bucket's region",
        ),
        "RequestTimeTooSkewed" => (
            FailureKind::Other,
            "the provider refused the request because the server's clock is off (RequestTimeTooSkewed); the operator must fix the server's clock",
        ),
        "SlowDown" | "InternalError" | "ServiceUnavailable" | "RequestTimeout" => {
            return Some(Failure::new(
                FailureKind::Transient,
                format!(
                    "the bucket's service is temporarily unavailable and kept failing after retries{RETRY_PROMISE}"
                ),
            ));
        }
        _ => return None,
    };
    Some(Failure::new(kind, message))
}

fn not_found(text: &str) -> Failure {
    if text.contains("bucket does not exist") || text.contains("NoSuchBucket") {
        Failure::new(
            FailureKind::NotFound,
            "the bucket does not exist; check the bucket name, region and endpoint",
        )
    } else {
        Failure::new(FailureKind::NotFound, NOT_FOUND)
    }
}

fn other(text: &str) -> Failure {
    Failure::new(
        FailureKind::Other,
        format!("reading the bucket failed: {}", shorten(text, 300)),
    )
}

/// The whole chain of messages: `object_store` errors often print their
/// source already, so a message is skipped when the previous one contains it.
pub(crate) fn chain_text(err: &(dyn StdError + 'static)) -> String {
    import_core::client::error_chain(err)
}

pub(crate) fn find_in_chain<'a, T: StdError + 'static>(
    err: &'a (dyn StdError + 'static),
) -> Option<&'a T> {
    let mut current: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        // `object_store::Error` keeps its cause in boxed `source` fields.
        current = e.source();
    }
    None
}

/// The `<Code>...</Code>` of an S3 XML error body, if the message carries one.
fn s3_error_code(text: &str) -> Option<String> {
    let start = text.find("<Code>")? + "<Code>".len();
    let end = text[start..].find("</Code>")? + start;
    let code = text[start..end].trim();
    (!code.is_empty() && code.len() <= 64 && code.chars().all(|c| c.is_ascii_alphanumeric()))
        .then(|| code.to_owned())
}

/// The status of `object_store`'s "status code: 503 Service Unavailable" text.
fn status_in_text(text: &str) -> Option<u16> {
    let marker = "status code: ";
    let start = text.find(marker)? + marker.len();
    let digits: String = text[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    (digits.len() == 3).then(|| digits.parse().ok()).flatten()
}

/// The first line of `text`, at most `max` bytes, control characters
/// escaped ([`import_core::quote::outside`]): what a source said reaches a
/// row's `error` only so.
fn shorten(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or_default().trim();
    import_core::quote::outside(line, max).into_owned()
}

/// Replace every occurrence of each secret in `text` by `<redacted>`.
pub(crate) fn scrub(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_owned();
    for secret in secrets {
        if secret.len() >= 4 {
            out = out.replace(secret, "<redacted>");
        }
    }
    out
}

/// What a failure of bucket access means for a client's caller (the core's
/// [`import_core::client::BucketFailure`]): an unresolvable host, a listing
/// that failed (transient or not), a prefix that is not one, or a source
/// that refused; the one mapping both clients use.
impl From<ProviderError> for import_core::client::BucketFailure {
    fn from(err: ProviderError) -> Self {
        use import_core::client::BucketFailure;
        match err {
            ProviderError::Unresolvable { ref host } => BucketFailure::Unresolvable {
                host: host.clone(),
                message: err.to_string(),
            },
            ProviderError::List {
                prefix,
                kind,
                message,
            } => BucketFailure::List {
                prefix,
                transient: kind.is_transient(),
                message,
            },
            ProviderError::InvalidPrefix { uri, problem } => {
                BucketFailure::InvalidPrefix { uri, problem }
            }
            other => BucketFailure::Source {
                message: other.to_string(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generic(msg: &str) -> object_store::Error {
        object_store::Error::Generic {
            store: "S3",
            source: msg.to_owned().into(),
        }
    }

    #[test]
    fn codes_decide_before_variants() {
        let err = object_store::Error::PermissionDenied {
            path: "a.mp4".into(),
            source: "Server returned non-2xx status code: 403 Forbidden: <Error><Code>SignatureDoesNotMatch</Code></Error>".into(),
        };
        let f = classify(&err);
        assert_eq!(f.kind, FailureKind::BadCredentials);
        assert!(f.message.contains("secret key does not match"), "{f}");

        let f = classify(&generic(
            "Error performing list request: Server returned non-2xx status code: 403 Forbidden: <Error><Code>AccessDenied</Code></Error>",
        ));
        assert_eq!(f.kind, FailureKind::AccessDenied);
        assert_eq!(f.message, ACCESS_DENIED);
    }

    #[test]
    fn statuses_in_generic_errors() {
        let f = classify(&generic(
            "Error performing GET http://x/b in 2s, after 3 retries - Server returned non-2xx status code: 503 Service Unavailable: ",
        ));
        assert_eq!(f.kind, FailureKind::Transient);
        assert!(f.message.contains("503"));
        assert_eq!(
            classify(&generic("status code: 403 Forbidden")).kind,
            FailureKind::AccessDenied
        );
        assert_eq!(
            classify(&generic("status code: 416 Range Not Satisfiable")).kind,
            FailureKind::Other
        );
        assert_eq!(
            classify(&generic("operation timed out")).kind,
            FailureKind::Transient
        );
        assert_eq!(classify(&generic("weird")).kind, FailureKind::Other);
    }

    #[test]
    fn variants() {
        let nf = object_store::Error::NotFound {
            path: "x".into(),
            source: "404".into(),
        };
        assert_eq!(classify(&nf).kind, FailureKind::NotFound);
        let nf = object_store::Error::NotFound {
            path: "x".into(),
            source: "<Error><Code>NoSuchBucket</Code></Error>".into(),
        };
        assert!(classify(&nf).message.contains("bucket does not exist"));
        let un = object_store::Error::Unauthenticated {
            path: "x".into(),
            source: "401".into(),
        };
        assert_eq!(classify(&un).kind, FailureKind::BadCredentials);
        let ni = object_store::Error::NotImplemented {
            operation: "put_opts".into(),
            implementer: "HfBucketStore".into(),
        };
        assert_eq!(classify(&ni).kind, FailureKind::Other);
    }

    #[test]
    fn helpers() {
        assert_eq!(status_in_text("x status code: 404 Not Found"), Some(404));
        assert_eq!(status_in_text("status code: 40"), None);
        assert_eq!(
            s3_error_code("<Error><Code>NoSuchKey</Code>").as_deref(),
            Some("NoSuchKey")
        );
        assert_eq!(s3_error_code("<Code>a b</Code>"), None);
        assert_eq!(scrub("key=SECRET!", &["SECRET"]), "key=<redacted>!");
        assert_eq!(shorten("a\u{1b}[31mb\nsecond line", 300), "a\\u{1b}[31mb");
        assert_eq!(shorten("ééé", 3), "é…");
        assert_eq!(shorten("abcdef\nsecond", 3), "abc…");
    }

    #[test]
    fn each_failure_means_one_thing_to_a_clients_caller() {
        use import_core::client::BucketFailure;
        let host = ProviderError::Unresolvable {
            host: "nowhere.invalid".into(),
        };
        let shown = host.to_string();
        assert_eq!(
            BucketFailure::from(host),
            BucketFailure::Unresolvable {
                host: "nowhere.invalid".into(),
                message: shown
            }
        );
        let list = ProviderError::List {
            prefix: "s3://b/p/".into(),
            kind: FailureKind::Transient,
            message: "503".into(),
        };
        assert_eq!(
            BucketFailure::from(list),
            BucketFailure::List {
                prefix: "s3://b/p/".into(),
                transient: true,
                message: "503".into()
            }
        );
        let bad = ProviderError::InvalidPrefix {
            uri: "x".into(),
            problem: "no scheme".into(),
        };
        assert_eq!(
            BucketFailure::from(bad),
            BucketFailure::InvalidPrefix {
                uri: "x".into(),
                problem: "no scheme".into()
            }
        );
    }
}
