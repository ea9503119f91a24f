//! Request bodies: read within the route's limit, the body timeout and the
//! server's body memory, then parsed as JSON with the contract's answers.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use futures::StreamExt;
use serde::de::DeserializeOwned;
use serde_json::error::Category;

use crate::budget::{MemoryBudget, Reservation};
use crate::error::ApiError;

/// What reading a body may take: the route's limit, the time the client
/// has to send it, the memory all bodies being read share and how long a
/// body waits for its part of it.
pub(crate) struct BodyBounds<'a> {
    /// Most bytes of this route's body.
    pub(crate) limit: usize,
    /// Whether the route is an upload (its `413` says to split the import).
    pub(crate) bulk: bool,
    /// `--body-timeout`.
    pub(crate) timeout: Duration,
    /// `--body-memory`.
    pub(crate) memory: &'a MemoryBudget,
    /// `--body-memory-wait`.
    pub(crate) wait: Duration,
}

/// Read a whole body (its `Content-Length` is `declared`, if it says one):
/// the bytes, and the part of the body memory they hold until dropped.
///
/// A declared length is reserved before the first byte is read; a body sent
/// in chunks reserves twice its bytes as they arrive (its chunks are joined
/// at the end). A body whose memory is not free within the bounded
/// wait is `503` with `Retry-After`; one over the limit `413` (at once when
/// its length says so); one that does not arrive in time `408`.
pub(crate) async fn read(
    body: Body,
    declared: Option<u64>,
    bounds: &BodyBounds<'_>,
) -> Result<(Bytes, Reservation), ApiError> {
    let limit = bounds.limit;
    let too_large = || {
        let fix = if bounds.bulk {
            "split the import into several requests"
        } else {
            "this route takes small JSON bodies only"
        };
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the request body is larger than {limit} bytes, the limit of this route; {fix}"
            ),
        )
    };
    let busy = || {
        let secs = bounds.wait.as_secs().max(1);
        ApiError::unavailable(
            format!(
                "the server is reading other request bodies with all of its {} bytes of body memory (--body-memory); retry in {secs} s",
                bounds.memory.total()
            ),
            secs,
        )
    };
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let waited_until = tokio::time::Instant::now() + bounds.wait;
    let reserve = |bytes: u64| async move {
        let left = waited_until.saturating_duration_since(tokio::time::Instant::now());
        bounds
            .memory
            .reserve_within(bytes, left)
            .await
            .ok_or_else(busy)
    };
    let mut held = match declared {
        Some(n) => reserve(n).await?,
        None => Reservation::default(),
    };
    // A body of known length is read into one buffer of that length; one
    // sent in chunks keeps its chunks and joins them at the end, so it
    // reserves twice its bytes as they arrive.
    let per_byte: u64 = if declared.is_some() { 1 } else { 2 };
    let read = async {
        let mut whole: Vec<u8> = Vec::with_capacity(declared.unwrap_or(0) as usize);
        let mut chunks: Vec<Bytes> = Vec::new();
        let mut total = 0usize;
        let mut stream = body.into_data_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| {
                ApiError::bad_request(format!(
                    "the request body could not be read ({e}); send a body as long as its Content-Length says"
                ))
            })?;
            total += chunk.len();
            if total > limit {
                return Err(too_large());
            }
            let need = total as u64 * per_byte;
            if need > held.bytes() {
                // At least 64 KiB at a time: a body of small chunks does not
                // ask the budget for each.
                let more = (need - held.bytes()).max(64 * 1024);
                held.merge(reserve(more).await?);
            }
            if declared.is_some() {
                whole.extend_from_slice(&chunk);
            } else {
                chunks.push(chunk);
            }
        }
        Ok((whole, chunks, total))
    };
    let (whole, mut chunks, total) = tokio::time::timeout(bounds.timeout, read)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the request body did not arrive within {} s (--body-timeout); send it faster or in smaller requests",
                    bounds.timeout.as_secs()
                ),
            )
        })??;
    let bytes = if declared.is_some() {
        Bytes::from(whole)
    } else if chunks.len() <= 1 {
        chunks.pop().unwrap_or_default()
    } else {
        let mut joined = Vec::with_capacity(total);
        for chunk in chunks {
            joined.extend_from_slice(&chunk);
        }
        Bytes::from(joined)
    };
    Ok((bytes, held))
}

/// A JSON body: malformed JSON is `400`, a missing or wrong field `422`, both
/// with a `detail` that names the problem.
pub(crate) struct JsonBody<T>(pub(crate) T);

impl<T, S> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::new(e.status(), e.body_text()))?;
        parse(&bytes).map(JsonBody)
    }
}

/// Parse a JSON body with the contract's error answers.
pub(crate) fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::unprocessable(
            "the request needs a JSON body; see docs/api/openapi.json",
        ));
    }
    // Every body of the contract is an object; serde would also take a
    // struct from an array (`[]` for a body of optional fields).
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Err(
            match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
                Ok(_) => ApiError::unprocessable(
                    "the request body must be a JSON object; see docs/api/openapi.json",
                ),
                Err(e) => ApiError::bad_request(format!("malformed JSON body: {e}")),
            },
        );
    }
    serde_json::from_slice(bytes).map_err(|e| match e.classify() {
        Category::Data => ApiError::unprocessable(format!("invalid request body: {e}")),
        Category::Syntax | Category::Eof | Category::Io => {
            ApiError::bad_request(format!("malformed JSON body: {e}"))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Optional {
        #[serde(default)]
        _ids: Option<Vec<String>>,
    }

    #[test]
    fn only_objects_are_bodies() {
        assert!(parse::<Optional>(b" {} ").is_ok());
        for (body, status) in [
            (&b"[]"[..], 422),
            (b"null", 422),
            (b"7", 422),
            (b"[", 400),
            (b"\x00", 400),
        ] {
            let err = parse::<Optional>(body).unwrap_err();
            assert_eq!(err.status().as_u16(), status, "{body:?}");
        }
    }
}
