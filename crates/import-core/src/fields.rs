//! The rules for the fields a request carries, in one place: every length
//! limit and character rule, "must not be empty", folder names and the S3
//! region rule (an endpoint without a region means `auto`).
//!
//! Bucket names follow their provider's rules ([`Provider::check_bucket`](crate::Provider::check_bucket));
//! object names follow [`check_object_name`](crate::check_object_name).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Longest API id (job, video, folder, integration), in bytes.
pub const MAX_ID_LEN: usize = 128;

/// Longest `Idempotency-Key`, in bytes.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 128;

/// Longest `collection` of an import request, in bytes (after trimming).
pub const MAX_COLLECTION_LEN: usize = 128;

/// Longest view role (`front`, `overhead_1`, ...), in bytes.
pub const MAX_VIEW_ROLE_LEN: usize = 64;

/// Longest folder name, in bytes (after trimming).
pub const MAX_FOLDER_NAME_LEN: usize = 255;

/// Longest object name accepted, in bytes (the providers' own limit).
pub const MAX_OBJECT_NAME_BYTES: usize = 1024;

/// Longest S3 region, in bytes.
pub const MAX_S3_REGION_LEN: usize = 32;

/// The region an S3-compatible store is signed for when an endpoint is given
/// without a region (Cloudflare R2 and most others accept it).
pub const S3_ENDPOINT_REGION: &str = "auto";

/// The value, trimmed, unless it is absent, empty or only white space.
///
/// ```
/// use import_core::fields::non_blank;
///
/// assert_eq!(non_blank(Some(" eu-west-3 ")), Some("eu-west-3"));
/// assert_eq!(non_blank(Some("  ")), None);
/// assert_eq!(non_blank(None), None);
/// ```
pub fn non_blank(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// A required text field, trimmed; `` `field` must not be empty`` when it is
/// empty or only white space.
///
/// ```
/// use import_core::fields::required;
///
/// assert_eq!(required("name", " fleet ")?, "fleet");
/// assert_eq!(required("name", " ").unwrap_err().to_string(), "`name` must not be empty");
/// # Ok::<(), import_core::Error>(())
/// ```
pub fn required(field: &'static str, value: &str) -> Result<String> {
    match non_blank(Some(value)) {
        Some(v) => Ok(v.to_owned()),
        None => Err(Error::InvalidField {
            field,
            problem: "must not be empty".to_owned(),
        }),
    }
}

/// A short text field (a name, a collection): trimmed, 1 to `max` bytes, no
/// control characters. `None` when it breaks the rule; the caller words the
/// error for its field.
///
/// ```
/// use import_core::fields::short_text;
///
/// assert_eq!(short_text(" trips ", 255), Some("trips"));
/// assert_eq!(short_text("a\u{7}b", 255), None);
/// assert_eq!(short_text("abc", 2), None);
/// ```
pub fn short_text(value: &str, max: usize) -> Option<&str> {
    let trimmed = value.trim();
    let ok = !trimmed.is_empty() && trimmed.len() <= max && !trimmed.chars().any(char::is_control);
    ok.then_some(trimmed)
}

/// The S3 region rule: the region given (trimmed), or [`S3_ENDPOINT_REGION`]
/// when only an endpoint is given; `None` when neither is (Amazon S3 then
/// needs a region: each caller says so in its own words).
///
/// ```
/// use import_core::fields::s3_region;
///
/// assert_eq!(s3_region(Some(" us-east-1 "), None), Some("us-east-1"));
/// assert_eq!(s3_region(None, Some("https://account.r2.cloudflarestorage.com")), Some("auto"));
/// assert_eq!(s3_region(Some(""), Some(" ")), None);
/// ```
pub fn s3_region<'a>(region: Option<&'a str>, endpoint_url: Option<&str>) -> Option<&'a str> {
    match (non_blank(region), non_blank(endpoint_url)) {
        (Some(region), _) => Some(region),
        (None, Some(_)) => Some(S3_ENDPOINT_REGION),
        (None, None) => None,
    }
}

/// Whether a region is a short token such as `us-east-1` or `auto`: 1 to
/// [`MAX_S3_REGION_LEN`] lower-case letters, digits and `-`, not starting or
/// ending with `-`. It becomes part of a host name, so nothing else is
/// accepted.
///
/// ```
/// use import_core::fields::is_s3_region;
///
/// assert!(is_s3_region("eu-west-3") && is_s3_region("auto"));
/// assert!(!is_s3_region("EU") && !is_s3_region("-a") && !is_s3_region("a.b"));
/// ```
pub fn is_s3_region(region: &str) -> bool {
    !region.is_empty()
        && region.len() <= MAX_S3_REGION_LEN
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !region.starts_with('-')
        && !region.ends_with('-')
}

/// A folder name: trimmed, 1 to [`MAX_FOLDER_NAME_LEN`] bytes, no control
/// characters.
///
/// ```
/// use import_core::FolderName;
///
/// let name = FolderName::parse(" trips 2024 ")?;
/// assert_eq!(name.as_str(), "trips 2024");
/// let err = FolderName::parse("").unwrap_err();
/// assert!(err.to_string().starts_with("`name` `` is not a folder name"));
/// # Ok::<(), import_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FolderName(String);

impl FolderName {
    /// Check a folder name as given (it is trimmed first).
    pub fn parse(name: &str) -> Result<FolderName> {
        match short_text(name, MAX_FOLDER_NAME_LEN) {
            Some(trimmed) => Ok(FolderName(trimmed.to_owned())),
            None => Err(Error::InvalidField {
                field: "name",
                problem: format!(
                    "`{}` is not a folder name: use 1 to {MAX_FOLDER_NAME_LEN} characters without control characters",
                    name.escape_debug()
                ),
            }),
        }
    }

    /// The name, trimmed.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name as an owned string.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for FolderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for FolderName {
    type Error = Error;
    fn try_from(name: String) -> Result<Self> {
        FolderName::parse(&name)
    }
}

impl From<FolderName> for String {
    fn from(name: FolderName) -> String {
        name.0
    }
}

/// Default of the reference server's `--max-object-size`: 50 GiB.
pub const DEFAULT_MAX_OBJECT_SIZE: u64 = 50 * 1024 * 1024 * 1024;

/// Default of the reference server's `--min-source-rate`: 64 KiB/s.
pub const DEFAULT_MIN_SOURCE_RATE: u64 = 64 * 1024;

/// Default of the reference server's `--source-rate-window`, in seconds.
pub const DEFAULT_SOURCE_RATE_WINDOW_SECS: u64 = 60;

/// Default of the reference server's `--instance-timeout`, in seconds: a
/// server process whose heartbeat is older than this is dead, and another
/// queues its rows again.
pub const DEFAULT_INSTANCE_TIMEOUT_SECS: u64 = 15;

/// A size in bytes as an operator writes it: a whole number of bytes, or with
/// a `KiB`, `MiB`, `GiB` or `TiB` suffix (powers of 1024; a space before it
/// is allowed).
///
/// ```
/// use import_core::fields::parse_byte_size;
/// assert_eq!(parse_byte_size("1000").unwrap(), 1000);
/// assert_eq!(parse_byte_size("512 MiB").unwrap(), 512 << 20);
/// assert_eq!(parse_byte_size("50GiB").unwrap(), 50 << 30);
/// assert!(parse_byte_size("5GB").is_err());
/// assert!(parse_byte_size("-1").is_err());
/// ```
pub fn parse_byte_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let shift = match unit.trim() {
        "" | "B" => 0,
        "KiB" => 10,
        "MiB" => 20,
        "GiB" => 30,
        "TiB" => 40,
        other => {
            return Err(format!(
                "`{text}`: unknown unit `{other}`; write bytes, or a number with KiB, MiB, GiB or TiB (for example 50GiB)"
            ));
        }
    };
    let n: u64 = digits.parse().map_err(|_| {
        format!("`{text}` is not a size; write bytes, or a number with KiB, MiB, GiB or TiB (for example 50GiB)")
    })?;
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| format!("`{text}` is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_names() {
        assert_eq!(FolderName::parse(" trips ").unwrap().as_str(), "trips");
        assert!(FolderName::parse(&"a".repeat(255)).is_ok());
        assert!(FolderName::parse(&"a".repeat(256)).is_err());
        let err = FolderName::parse("a\u{1}").unwrap_err();
        assert_eq!(err.http_status(), 422);
        assert!(
            err.to_string().contains("`a\\u{1}` is not a folder name"),
            "{err}"
        );
        let parsed: FolderName = serde_json::from_str("\" x \"").unwrap();
        assert_eq!(serde_json::to_string(&parsed).unwrap(), "\"x\"");
    }

    #[test]
    fn region_rule() {
        assert_eq!(
            s3_region(Some("eu-west-3"), Some("https://x")),
            Some("eu-west-3")
        );
        assert_eq!(s3_region(Some("  "), Some("https://x")), Some("auto"));
        assert_eq!(s3_region(None, None), None);
        assert!(is_s3_region(&"a".repeat(32)) && !is_s3_region(&"a".repeat(33)));
    }

    #[test]
    fn required_fields() {
        assert_eq!(
            required("token", "\t").unwrap_err(),
            Error::InvalidField {
                field: "token",
                problem: "must not be empty".into()
            }
        );
    }
}
