//! The clients' error.

use std::fmt;
use std::time::Duration;

use http::StatusCode;

use crate::error::{AnswerError, Error};
use crate::ids::ImportJobId;
use crate::readiness::{Progress, ReadinessTracker};

/// An error and its causes, joined with `: ` (what a transport failure
/// says, for [`describe_transport`]).
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// What a transport failure (its causes' text, [`error_chain`]) means for a
/// person, with the setting to check: connection refused, a name that does
/// not resolve, a TLS failure and a connection closed are told apart; other
/// text is kept as it is.
///
/// ```
/// use import_core::client::describe_transport;
///
/// let refused = describe_transport("error sending request: tcp connect error: Connection refused (os error 111)");
/// assert!(refused.starts_with("the connection was refused"));
/// assert!(refused.contains("VIMPORT_BASE_URL"));
/// assert!(describe_transport("dns error: failed to lookup address information").starts_with("the server's name"));
/// assert_eq!(describe_transport("something else"), "something else");
/// ```
pub fn describe_transport(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let what = if lower.contains("connection refused") {
        "the connection was refused: nothing listens at that address; check VIMPORT_BASE_URL (or --base-url) and that the server runs"
    } else if [
        "dns error",
        "failed to lookup address",
        "name or service not known",
        "no such host",
        "host not found",
        "hostnotfound",
    ]
    .iter()
    .any(|m| lower.contains(m))
    {
        "the server's name could not be resolved; check the host in VIMPORT_BASE_URL (or --base-url)"
    } else if ["certificate", "tls", "handshake", "ssl"]
        .iter()
        .any(|m| lower.contains(m))
    {
        "the TLS connection failed (the server's certificate was refused, or it does not speak TLS there); check the scheme, https or http, of VIMPORT_BASE_URL (or --base-url)"
    } else if [
        "connection reset",
        "broken pipe",
        "connection closed",
        "unexpected eof",
    ]
    .iter()
    .any(|m| lower.contains(m))
    {
        "the connection was closed before the answer; retry, and check the server's logs"
    } else {
        return text.to_owned();
    };
    format!("{what} ({text})")
}

/// The error of the clients: bad local input, `401`, `404`, other API errors,
/// transport failures and timeouts are told apart.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// Something given to the client is invalid; nothing was sent.
    #[error("invalid input: {0}")]
    InvalidInput(#[source] Error),
    /// The API answered with an error (`401`, `404`, any other status), or
    /// with an answer that breaks the contract.
    #[error(transparent)]
    Answer(#[from] AnswerError),
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
}

impl From<Error> for ClientError {
    fn from(e: Error) -> Self {
        ClientError::InvalidInput(e)
    }
}

impl ClientError {
    /// The HTTP status of an error answer, if this is one.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            ClientError::Answer(answer) => answer.status(),
            _ => None,
        }
    }
}

/// A failure of the clients' bucket features (pre-flight checks, prefix
/// expansion), by its parts: the clients take these from the bucket crate's
/// error and turn them into a [`ClientError`] here, in one place.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BucketFailure {
    /// The host of an endpoint could not be resolved.
    Unresolvable {
        /// The host name.
        host: String,
        /// The whole message.
        message: String,
    },
    /// Listing the objects under a prefix failed.
    List {
        /// The prefix URI that was listed.
        prefix: String,
        /// Whether a later attempt may succeed (the listing kept failing
        /// for a transient reason).
        transient: bool,
        /// What happened and the fix.
        message: String,
    },
    /// A prefix URI that is not valid.
    InvalidPrefix {
        /// The URI as given.
        uri: String,
        /// What is wrong with it, with the fix.
        problem: String,
    },
    /// Any other failure: the source cannot be used (a refused endpoint, a
    /// configuration that cannot work, refused credentials, a missing bucket).
    Source {
        /// The whole message.
        message: String,
    },
}

impl From<BucketFailure> for ClientError {
    /// A host that could not be resolved, or a listing that kept failing for
    /// a transient reason, is [`ClientError::Transport`]; everything else is
    /// [`ClientError::InvalidInput`] naming the input to fix (`prefix_uri`
    /// or `source`).
    fn from(failure: BucketFailure) -> Self {
        let invalid = |field: &'static str, problem: String| {
            ClientError::InvalidInput(Error::InvalidField { field, problem })
        };
        match failure {
            BucketFailure::Unresolvable { host, message } => {
                ClientError::Transport { url: host, message }
            }
            BucketFailure::List {
                prefix,
                transient: true,
                message,
            } => ClientError::Transport {
                url: prefix,
                message,
            },
            BucketFailure::List { message, .. } => {
                invalid("prefix_uri", format!("could not be listed: {message}"))
            }
            BucketFailure::InvalidPrefix { uri, problem } => {
                invalid("prefix_uri", format!("`{uri}` is not valid: {problem}"))
            }
            BucketFailure::Source { message } => {
                invalid("source", format!("cannot be used: {message}"))
            }
        }
    }
}

impl From<crate::PrefixError> for BucketFailure {
    fn from(err: crate::PrefixError) -> Self {
        BucketFailure::InvalidPrefix {
            uri: err.uri,
            problem: err.problem.to_string(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_map_from_answers() {
        let e: ClientError = AnswerError::NotFound { detail: "x".into() }.into();
        assert!(matches!(
            e,
            ClientError::Answer(AnswerError::NotFound { .. })
        ));
        assert_eq!(e.to_string(), "not found (404): x");
        assert_eq!(e.status(), Some(StatusCode::NOT_FOUND));
        let e: ClientError = Error::EmptyRequest.into();
        assert!(matches!(e, ClientError::InvalidInput(_)));
        assert!(e.to_string().starts_with("invalid input: "));
    }

    #[test]
    fn bucket_failures() {
        let prefix = crate::PrefixUri::parse("s3:///day/").unwrap_err();
        let err = ClientError::from(BucketFailure::from(prefix));
        assert!(matches!(err, ClientError::InvalidInput(_)));
        assert!(
            err.to_string().starts_with(
                "invalid input: `prefix_uri` `s3:///day/` is not valid: it names no bucket"
            ),
            "{err}"
        );
        let transient = BucketFailure::List {
            prefix: "s3://b/".into(),
            transient: true,
            message: "busy".into(),
        };
        assert!(matches!(
            ClientError::from(transient),
            ClientError::Transport { url, .. } if url == "s3://b/"
        ));
        let listing = ClientError::from(BucketFailure::List {
            prefix: "s3://b/".into(),
            transient: false,
            message: "denied".into(),
        });
        assert_eq!(
            listing.to_string(),
            "invalid input: `prefix_uri` could not be listed: denied"
        );
        let source = ClientError::from(BucketFailure::Source {
            message: "no".into(),
        });
        assert_eq!(
            source.to_string(),
            "invalid input: `source` cannot be used: no"
        );
    }
}
