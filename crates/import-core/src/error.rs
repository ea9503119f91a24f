//! The crate's errors: [`Error`] for what a caller gives, [`AnswerError`]
//! for what an answer of the API says or breaks.

use http::StatusCode;

use crate::uri::{Provider, UriProblem};

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can be wrong with what a caller gives: a URI, a request, a
/// field, a page parameter.
///
/// Every message names the offending value and how to fix it. Variants carry
/// their context as fields, so callers can match on them instead of parsing text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A cloud URI does not follow the grammar or the provider's naming rules.
    #[error("invalid cloud URI `{uri}`: {problem}")]
    InvalidUri {
        /// The URI as given (trimmed).
        uri: String,
        /// What is wrong with it, with the fix.
        problem: UriProblem,
    },

    /// One request named objects of two providers.
    #[error(
        "one import request takes objects of one provider, but `{first}` is {first_provider} and `{second}` is {second_provider}; split them into one request per provider"
    )]
    MixedProviders {
        /// The first URI of the request.
        first: String,
        /// Its provider.
        first_provider: Provider,
        /// The first URI of another provider.
        second: String,
        /// That URI's provider.
        second_provider: Provider,
    },

    /// One request named objects of two buckets.
    #[error(
        "one import request takes objects of one bucket, but it names `{first_bucket}` and `{second_bucket}` (at `{second}`); split them into one request per bucket"
    )]
    MixedBuckets {
        /// The first bucket of the request.
        first_bucket: String,
        /// Another bucket.
        second_bucket: String,
        /// The first URI in that other bucket.
        second: String,
    },

    /// The request names no object at all.
    #[error("the import request names no object; add at least one `.mp4` URI or view set")]
    EmptyRequest,

    /// The request mixes single URIs and multi-view sets.
    #[error(
        "an import request is either single-view (a list of URIs) or multi-view (a list of view sets), not both; send them as two requests"
    )]
    MixedViewModes,

    /// The request names more objects than allowed.
    #[error(
        "the import request names {count} objects but at most {limit} are accepted per request; split it into several requests"
    )]
    TooManyObjects {
        /// Distinct objects named.
        count: usize,
        /// The cap in force.
        limit: usize,
    },

    /// A view role does not follow the role grammar.
    #[error(
        "invalid view role `{role}`: roles are a lower-case letter followed by up to 63 lower-case letters, digits or `_` (for example `front`, `left`, `overhead_1`)"
    )]
    InvalidViewRole {
        /// The role as given.
        role: String,
    },

    /// A view set names the same role twice.
    #[error("view role `{role}` appears twice in one view set; give each camera its own role")]
    DuplicateViewRole {
        /// The repeated role (normalised).
        role: String,
    },

    /// A view set has no `front` view.
    #[error(
        "view set {index} has no `front` view ({roles}); every multi-view set needs a `front` URI"
    )]
    MissingFrontView {
        /// Position of the set in the request (0-based).
        index: usize,
        /// The roles it does have, comma-separated.
        roles: String,
    },

    /// A view set uses a Hugging Face URI.
    #[error(
        "`{uri}` is a Hugging Face bucket URI, and Hugging Face buckets take single-view imports only; import these objects as a list of URIs"
    )]
    HfMultiView {
        /// The HF URI inside the view set.
        uri: String,
    },

    /// One object appears in two different view sets.
    #[error(
        "`{uri}` appears in view sets {first_set} and {second_set}; an object can belong to one set only"
    )]
    ObjectInTwoSets {
        /// The object URI.
        uri: String,
        /// First set index (0-based).
        first_set: usize,
        /// Second set index (0-based).
        second_set: usize,
    },

    /// A saved integration of another provider or bucket than the request's.
    #[error("{}", mismatch_text(*.integration_kind, .integration_bucket, *.request_kind, .request_bucket))]
    IntegrationMismatch {
        /// The integration's provider.
        integration_kind: Provider,
        /// The integration's bucket.
        integration_bucket: String,
        /// The request's provider.
        request_kind: Provider,
        /// The request's bucket.
        request_bucket: String,
    },

    /// An organisation-wide import names a folder private to one user: the
    /// folder's name would show to the whole organisation.
    #[error(
        "folder `{folder_id}` is private to its user: an import with scope `org` cannot go into it; choose an org-scope folder, or import with scope `user`"
    )]
    PrivateFolder {
        /// The folder.
        folder_id: String,
    },

    /// A GCS import has no integration to take credentials from.
    #[error(
        "`integration_id` is required for GCS imports{}: save a `gcs` integration with the bucket's service-account key (POST {}, or `vimport integrations add gcs`) and pass its id",
        bucket_note(.bucket), crate::routes::ADD_GCS_INTEGRATION.template
    )]
    GcsIntegrationRequired {
        /// The bucket of the request; empty when the request named none.
        bucket: String,
    },

    /// A scope other than `user` or `org`.
    #[error(
        "invalid scope `{value}`: use `user` (your own) or `org` (shared with your organisation)"
    )]
    InvalidScope {
        /// The value as given.
        value: String,
    },

    /// An identifier that cannot be an API id.
    #[error(
        "invalid {kind} `{value}`: ids are 1 to 128 visible ASCII characters without `/`, `?`, `#`, `%` or spaces; copy the id from the API's answer"
    )]
    InvalidId {
        /// What kind of id (`import job id`, `video id`, ...).
        kind: &'static str,
        /// The value as given.
        value: String,
    },

    /// A bucket name the provider would reject, in a request body.
    #[error("invalid `bucket`: {problem}")]
    InvalidBucket {
        /// The rule it breaks ([`UriProblem::InvalidBucket`]).
        problem: UriProblem,
    },

    /// A field of a request is missing or empty.
    #[error("`{field}` {problem}")]
    InvalidField {
        /// The field name, as on the wire.
        field: &'static str,
        /// What is wrong and how to fix it.
        problem: String,
    },

    /// Paging parameters that the contract rejects.
    #[error("{problem}")]
    InvalidPaging {
        /// Which rule was broken, with the fix.
        problem: PagingProblem,
    },

    /// An `Idempotency-Key` outside the contract's shape.
    #[error(
        "invalid Idempotency-Key `{key}`: use 1 to 128 printable ASCII characters (a UUID is a good choice)"
    )]
    InvalidIdempotencyKey {
        /// The key as given.
        key: String,
    },
}

/// A 401's detail with a hint, unless the server gave one.
fn with_key_hint(detail: &str) -> String {
    if detail.contains("check the key") {
        detail.to_owned()
    } else {
        format!("{detail}; check the key you give (--api-key or VIMPORT_API_KEY)")
    }
}

/// What decoding an answer of the API can fail with: an error answer, or an
/// answer that breaks the contract. Kept apart from [`Error`], which is about
/// what a caller gives; the clients' error wraps this one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AnswerError {
    /// The server answered `401`: the API key is missing, unknown or revoked.
    /// The message gives a hint once: the server's own, or where the key
    /// comes from when the server gave none.
    ///
    /// ```
    /// use import_core::AnswerError;
    ///
    /// let ours = AnswerError::Unauthorized {
    ///     detail: "invalid API key: check the key, or create one with `vimport keys create`".into(),
    /// };
    /// assert_eq!(ours.to_string().matches("check the key").count(), 1);
    /// let hosted = AnswerError::Unauthorized { detail: "Invalid API key".into() };
    /// assert!(hosted.to_string().ends_with("check the key you give (--api-key or VIMPORT_API_KEY)"));
    /// ```
    #[error("the API key was refused (401): {}", with_key_hint(detail))]
    Unauthorized {
        /// The server's `detail`.
        detail: String,
    },

    /// The server answered `404`.
    #[error("not found (404): {detail}")]
    NotFound {
        /// The server's `detail`.
        detail: String,
    },

    /// Any other error answer of the API.
    #[error("the API answered {status}: {detail}")]
    Api {
        /// The HTTP status.
        status: StatusCode,
        /// The server's `detail`, flattened to one line.
        detail: String,
        /// Seconds the server asked to wait (`Retry-After`), if any.
        retry_after_secs: Option<u64>,
    },

    /// A success answer whose body is not the JSON the contract describes.
    #[error(
        "the API answered {status} with a body that is not a valid {expected}: {reason}; check the base URL points at the import API"
    )]
    Decode {
        /// The HTTP status of the answer.
        status: StatusCode,
        /// The type that was expected.
        expected: &'static str,
        /// The JSON error.
        reason: String,
    },

    /// A server answer that breaks the paging contract.
    #[error("the server broke the paging contract: {problem}")]
    Protocol {
        /// What the server did.
        problem: String,
    },
}

impl AnswerError {
    /// The HTTP status of an error answer; `None` for an answer that broke
    /// the contract (a success with a body that does not decode, a paging
    /// answer that goes nowhere).
    ///
    /// ```
    /// use http::StatusCode;
    /// use import_core::AnswerError;
    /// let err = AnswerError::NotFound { detail: "Import job not found".into() };
    /// assert_eq!(err.status(), Some(StatusCode::NOT_FOUND));
    /// ```
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            AnswerError::Unauthorized { .. } => Some(StatusCode::UNAUTHORIZED),
            AnswerError::NotFound { .. } => Some(StatusCode::NOT_FOUND),
            AnswerError::Api { status, .. } => Some(*status),
            AnswerError::Decode { .. } | AnswerError::Protocol { .. } => None,
        }
    }
}

/// The ways paging parameters can be wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PagingProblem {
    /// `limit` outside `1..=1000`.
    #[error("page limit {limit} is out of range: use a limit from 1 to 1000 (default 500)")]
    LimitOutOfRange {
        /// The limit as given.
        limit: i64,
    },
    /// `limit` or `offset` is not a number.
    #[error("`{field}` must be a whole number, got `{value}`")]
    NotANumber {
        /// `limit` or `offset`.
        field: &'static str,
        /// The value as given.
        value: String,
    },
    /// Both `cursor` and `offset` were given.
    #[error(
        "give either `cursor` or `offset`, not both; prefer `cursor` (its cost does not grow with depth)"
    )]
    CursorAndOffset,
    /// `offset` on a multi-view job.
    #[error("`offset` paging is not available on a multi-view job; page with `cursor` instead")]
    OffsetOnMultiView,
}

/// The text of [`Error::IntegrationMismatch`]: another provider, or another
/// bucket of the same provider, with the fix that applies.
fn mismatch_text(
    integration_kind: Provider,
    integration_bucket: &str,
    request_kind: Provider,
    request_bucket: &str,
) -> String {
    if integration_kind != request_kind {
        return format!(
            "the integration is a `{}` integration, but the request imports from {} buckets; pass an integration of that provider",
            integration_kind.wire_name(),
            request_kind.wire_name()
        );
    }
    let fix = if request_kind == Provider::Gcs {
        "pass a `gcs` integration saved for that bucket"
    } else {
        "pass an integration saved for that bucket, or leave `integration_id` out"
    };
    format!(
        "the integration is for bucket `{integration_bucket}`, but the request imports from {} bucket `{request_bucket}`; {fix}",
        request_kind.wire_name()
    )
}

/// ` (bucket `b`)` for a message about a bucket, when it is known.
fn bucket_note(bucket: &str) -> String {
    if bucket.is_empty() {
        String::new()
    } else {
        format!(" (bucket `{bucket}`)")
    }
}

impl Error {
    /// The HTTP status a server answers with when this error is the client's fault.
    ///
    /// This is the contract's mapping: `400` for contradictory requests, `401`,
    /// `422` for a field that fails validation. (Errors of decoded answers are
    /// [`AnswerError`]s.)
    ///
    /// ```
    /// use import_core::{CloudUri, Error};
    /// let err = "s3://bucket/clip.mov".parse::<CloudUri>().unwrap_err();
    /// assert_eq!(err.http_status(), 422);
    /// ```
    pub fn http_status(&self) -> StatusCode {
        match self {
            Error::InvalidUri { .. }
            | Error::EmptyRequest
            | Error::TooManyObjects { .. }
            | Error::InvalidViewRole { .. }
            | Error::DuplicateViewRole { .. }
            | Error::MissingFrontView { .. }
            | Error::HfMultiView { .. }
            | Error::ObjectInTwoSets { .. }
            | Error::InvalidScope { .. }
            | Error::InvalidId { .. }
            | Error::InvalidField { .. }
            | Error::InvalidBucket { .. }
            | Error::InvalidIdempotencyKey { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Error::InvalidPaging { problem } => match problem {
                PagingProblem::LimitOutOfRange { .. } | PagingProblem::NotANumber { .. } => {
                    StatusCode::UNPROCESSABLE_ENTITY
                }
                PagingProblem::CursorAndOffset | PagingProblem::OffsetOnMultiView => {
                    StatusCode::BAD_REQUEST
                }
            },
            Error::MixedProviders { .. }
            | Error::MixedBuckets { .. }
            | Error::MixedViewModes
            | Error::IntegrationMismatch { .. }
            | Error::PrivateFolder { .. }
            | Error::GcsIntegrationRequired { .. } => StatusCode::BAD_REQUEST,
        }
    }
}

impl From<PagingProblem> for Error {
    fn from(problem: PagingProblem) -> Self {
        Error::InvalidPaging { problem }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answer_errors_read_well() {
        let e = AnswerError::NotFound {
            detail: "Import job not found".into(),
        };
        assert_eq!(e.to_string(), "not found (404): Import job not found");
        assert_eq!(e.status(), Some(StatusCode::NOT_FOUND));
        let e = AnswerError::Protocol {
            problem: "x".into(),
        };
        assert_eq!(e.to_string(), "the server broke the paging contract: x");
        assert_eq!(e.status(), None);
        let e = AnswerError::Decode {
            status: StatusCode::OK,
            expected: "ImportJob",
            reason: "expected value at line 1 column 1".into(),
        };
        assert_eq!(
            e.to_string(),
            "the API answered 200 OK with a body that is not a valid ImportJob: expected value at line 1 column 1; check the base URL points at the import API"
        );
    }

    #[test]
    fn validation_errors_are_client_errors() {
        let cases = [
            (Error::EmptyRequest, 422),
            (Error::MixedViewModes, 400),
            (Error::TooManyObjects { count: 2, limit: 1 }, 422),
            (Error::GcsIntegrationRequired { bucket: "b".into() }, 400),
            (PagingProblem::CursorAndOffset.into(), 400),
            (PagingProblem::LimitOutOfRange { limit: 0 }.into(), 422),
        ];
        for (err, status) in cases {
            assert_eq!(err.http_status(), status, "{err}");
        }
    }
}
