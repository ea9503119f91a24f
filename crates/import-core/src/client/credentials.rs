//! Credentials as callers hold them: a GCS service-account key (file, text,
//! bytes or JSON) and S3 keys in any usual spelling.

use std::fmt;

use serde_json::Value;

use crate::error::Error;
use crate::wire::AddGcsIntegration;

use super::{gcs_integration, gcs_integration_value};

/// A GCS service-account key, as a caller may hold it.
#[derive(Clone)]
#[non_exhaustive]
pub enum GcsKey {
    /// A path to the JSON key file.
    Path(std::path::PathBuf),
    /// The JSON text.
    Json(String),
    /// The JSON bytes.
    Bytes(Vec<u8>),
    /// The parsed JSON.
    Value(Value),
}

impl fmt::Debug for GcsKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GcsKey::Path(p) => f.debug_tuple("Path").field(p).finish(),
            _ => f.write_str("GcsKey(<redacted>)"),
        }
    }
}

impl From<std::path::PathBuf> for GcsKey {
    fn from(p: std::path::PathBuf) -> Self {
        GcsKey::Path(p)
    }
}

impl From<&std::path::Path> for GcsKey {
    fn from(p: &std::path::Path) -> Self {
        GcsKey::Path(p.to_owned())
    }
}

impl From<Value> for GcsKey {
    fn from(v: Value) -> Self {
        GcsKey::Value(v)
    }
}

impl GcsKey {
    /// The integration body; `read` reads the key file when the key is a path
    /// (the client passes `std::fs::read`).
    pub fn into_integration(
        self,
        name: &str,
        bucket: &str,
        prefix: Option<&str>,
        read: impl FnOnce(&std::path::Path) -> std::io::Result<Vec<u8>>,
    ) -> Result<AddGcsIntegration, Error> {
        match self {
            GcsKey::Path(path) => {
                let bytes = read(&path).map_err(|e| Error::InvalidField {
                    field: "service_account",
                    problem: format!("the key file {} cannot be read: {e}", path.display()),
                })?;
                gcs_integration(name, bucket, &bytes, prefix)
            }
            GcsKey::Json(text) => gcs_integration(name, bucket, text.as_bytes(), prefix),
            GcsKey::Bytes(bytes) => gcs_integration(name, bucket, &bytes, prefix),
            GcsKey::Value(value) => gcs_integration_value(name, bucket, value, prefix),
        }
    }
}

/// Parse S3 credentials given as JSON with any of the usual spellings of the
/// keys (`access_key_id`, `accessKeyId`, `AccessKeyId`, `access-key-id`, ...).
///
/// ```
/// let v = serde_json::json!({"accessKeyId": "AK", "SecretAccessKey": "SK", "session-token": "T"});
/// let c = import_core::client::S3Keys::from_json(&v)?;
/// assert_eq!((c.access_key_id.as_str(), c.session_token.as_deref()), ("AK", Some("T")));
/// # Ok::<(), import_core::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct S3Keys {
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
    /// Session token of temporary credentials.
    pub session_token: Option<String>,
}

impl fmt::Debug for S3Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Keys")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

fn normalize_key(k: &str) -> String {
    k.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

impl S3Keys {
    /// Read the keys from a JSON object, whatever the spelling of its keys.
    pub fn from_json(value: &Value) -> Result<S3Keys, Error> {
        let Some(map) = value.as_object() else {
            return Err(Error::InvalidField {
                field: "credentials",
                problem: "must be a JSON object with the access key id and the secret access key"
                    .to_owned(),
            });
        };
        let get = |want: &str| {
            map.iter()
                .find(|(k, _)| normalize_key(k) == want)
                .and_then(|(_, v)| v.as_str())
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let missing = |field: &'static str| {
            Error::InvalidField {
            field,
            problem: "is missing from the S3 credentials (accepted spellings: access_key_id / accessKeyId, secret_access_key / secretAccessKey)".to_owned(),
        }
        };
        Ok(S3Keys {
            access_key_id: get("accesskeyid").ok_or_else(|| missing("access_key_id"))?,
            secret_access_key: get("secretaccesskey")
                .ok_or_else(|| missing("secret_access_key"))?,
            session_token: get("sessiontoken"),
        })
    }
}
