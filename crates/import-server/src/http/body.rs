//! JSON bodies with the contract's error answers.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;
use serde_json::error::Category;

use crate::error::ApiError;

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
