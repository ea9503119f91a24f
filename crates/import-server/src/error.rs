//! Errors of the server: start-up failures and API answers.

use axum::Json;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use import_core::wire::ErrorBody;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartupError {
    /// A setting is wrong.
    #[error("invalid configuration: {what}: {fix}")]
    Config {
        /// Which setting.
        what: String,
        /// How to fix it.
        fix: String,
    },
    /// A file or socket operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The database could not be opened or migrated.
    #[error("database: {0}")]
    Database(String),
}

/// A failure of the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database is busy or unreachable; try again.
    #[error("the database is busy or unreachable: {0}")]
    Unavailable(#[source] DatabaseFailure),
    /// The database refused a value it cannot store (PostgreSQL's data
    /// exceptions, SQLite's "too big" and type mismatches): the same write
    /// will never pass.
    #[error("the database refused a value: {0}")]
    Refused(#[source] DatabaseFailure),
    /// Any other database failure.
    #[error("database error: {0}")]
    Database(#[source] DatabaseFailure),
    /// The request's idempotency reservation was taken over by a retry (this
    /// process was thought dead): the retry serves the request.
    #[error("this request's Idempotency-Key was taken over by a retry of it")]
    IdempotencyTakenOver,
    /// A column holds a value this server never writes (an unknown provider,
    /// scope, id or role): the database was changed by something else.
    #[error("the database holds a value in `{column}` that this server does not write")]
    Corrupt {
        /// The column (or table, for a page of rows).
        column: &'static str,
    },
}

impl StoreError {
    /// A database that is busy or away, for `what` reason: what a store (or
    /// a test's wrapper of one) answers when a call may pass if tried again.
    pub fn unavailable(what: impl Into<String>) -> StoreError {
        StoreError::Unavailable(DatabaseFailure(Failure::Other(what.into())))
    }

    /// A value the database refused, for `what` reason: what a test's
    /// wrapper of a store answers to act out a write that can never pass.
    pub fn refused(what: impl Into<String>) -> StoreError {
        StoreError::Refused(DatabaseFailure(Failure::Other(what.into())))
    }

    /// A failure to encode what a statement takes (a list as JSON).
    pub(crate) fn encoding(e: serde_json::Error) -> StoreError {
        StoreError::Database(DatabaseFailure(Failure::Other(format!(
            "encoding a statement's parameter: {e}"
        ))))
    }
}

/// What the database (or its driver) said when it failed. Its text is shown;
/// the driver's own error type stays inside this crate (the chain of
/// [`std::error::Error::source`] still reaches its cause).
#[derive(Debug)]
pub struct DatabaseFailure(Failure);

#[derive(Debug)]
enum Failure {
    Driver(sqlx::Error),
    Other(String),
}

impl std::fmt::Display for DatabaseFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Failure::Driver(e) => e.fmt(f),
            Failure::Other(what) => f.write_str(what),
        }
    }
}

impl std::error::Error for DatabaseFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.0 {
            Failure::Driver(e) => e.source(),
            Failure::Other(_) => None,
        }
    }
}

/// The store's SQL code converts the driver's errors with `?`: busy or away
/// (by the database's error code, never by message text) is
/// [`StoreError::Unavailable`], anything else [`StoreError::Database`].
#[doc(hidden)]
impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if is_transient(&e) {
            StoreError::Unavailable(DatabaseFailure(Failure::Driver(e)))
        } else if is_refused_value(&e) {
            StoreError::Refused(DatabaseFailure(Failure::Driver(e)))
        } else {
            StoreError::Database(DatabaseFailure(Failure::Driver(e)))
        }
    }
}

/// Whether the database refused a value, which no retry changes: a value
/// the driver could not encode, PostgreSQL's class 22 (data exception: a NUL
/// in `TEXT`, a number out of range, a string too long), SQLite's
/// `SQLITE_TOOBIG` (18), `SQLITE_MISMATCH` (20) and `SQLITE_RANGE` (25).
fn is_refused_value(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Encode(_) => true,
        sqlx::Error::Database(db) => {
            if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                db.code()
                    .and_then(|c| c.parse::<i32>().ok())
                    .is_some_and(|c| matches!(c & 0xff, 18 | 20 | 25))
            } else {
                db.code().is_some_and(|c| c.starts_with("22"))
            }
        }
        _ => false,
    }
}

/// Whether a database error goes away by itself: the pool or the connection
/// failed, or the database answered with a code that means "busy, try again".
fn is_transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => true,
        sqlx::Error::Database(db) => {
            if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                // SQLITE_BUSY (5) and SQLITE_LOCKED (6), with their extended codes.
                db.code()
                    .and_then(|c| c.parse::<i32>().ok())
                    .is_some_and(|c| matches!(c & 0xff, 5 | 6))
            } else {
                // PostgreSQL: serialization failure, deadlock, too many
                // connections, shutting down, starting up.
                db.code().is_some_and(|c| {
                    matches!(
                        &*c,
                        "40001" | "40P01" | "53300" | "57P01" | "57P02" | "57P03"
                    )
                })
            }
        }
        _ => false,
    }
}

/// An error answer: a status and a `{"detail": ...}` body.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: ErrorBody,
    retry_after: Option<u64>,
}

impl ApiError {
    /// An answer with a status and a message.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> ApiError {
        ApiError {
            status,
            body: ErrorBody::message(detail),
            retry_after: None,
        }
    }

    /// `400`.
    pub fn bad_request(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, detail)
    }

    /// `404`.
    pub fn not_found(what: &str) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, format!("{what} not found"))
    }

    /// `422` for one field.
    pub fn unprocessable(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, detail)
    }

    /// `503` with `Retry-After`.
    pub fn unavailable(detail: impl Into<String>, retry_after: u64) -> ApiError {
        ApiError {
            retry_after: Some(retry_after),
            ..ApiError::new(StatusCode::SERVICE_UNAVAILABLE, detail)
        }
    }

    /// The same answer with `Retry-After: secs`.
    pub fn with_retry_after(self, secs: u64) -> ApiError {
        ApiError {
            retry_after: Some(secs),
            ..self
        }
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl From<import_core::Error> for ApiError {
    fn from(e: import_core::Error) -> Self {
        let status =
            StatusCode::from_u16(e.http_status().as_u16()).unwrap_or(StatusCode::BAD_REQUEST);
        ApiError::new(status, e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(e) => {
                tracing::warn!(error = %e, "store unavailable");
                ApiError::unavailable("the server is busy; retry shortly", 2)
            }
            StoreError::IdempotencyTakenOver => ApiError::new(
                StatusCode::CONFLICT,
                "a retry of this request with the same Idempotency-Key is being served; retry in a moment to get its answer",
            )
            .with_retry_after(1),
            e @ (StoreError::Database(_) | StoreError::Refused(_) | StoreError::Corrupt { .. }) => {
                tracing::error!(error = %e, "store failure");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error; it has been logged",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = (self.status, Json(self.body)).into_response();
        if let Some(secs) = self.retry_after {
            res.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, HeaderValue::from(secs));
        }
        res
    }
}

#[cfg(test)]
mod store_error_tests {
    use super::*;

    #[test]
    fn the_drivers_errors_are_classified_by_kind_and_shown_by_text() {
        let busy = StoreError::from(sqlx::Error::PoolTimedOut);
        assert!(matches!(busy, StoreError::Unavailable(_)), "{busy:?}");
        assert!(
            busy.to_string()
                .starts_with("the database is busy or unreachable: ")
        );
        let other = StoreError::from(sqlx::Error::RowNotFound);
        assert!(matches!(other, StoreError::Database(_)), "{other:?}");
        let refused = StoreError::from(sqlx::Error::Encode("no".into()));
        assert!(matches!(refused, StoreError::Refused(_)), "{refused:?}");
        let made = StoreError::unavailable("injected");
        assert_eq!(
            made.to_string(),
            "the database is busy or unreachable: injected"
        );
    }
}
