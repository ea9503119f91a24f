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

/// How long a server keeps an `Idempotency-Key`'s answer: the same key with
/// the same body within this time is answered again, with no new work.
pub const IDEMPOTENCY_RETENTION: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Longest `collection` of an import request, in bytes (after trimming).
pub const MAX_COLLECTION_LEN: usize = 128;

/// Longest view role (`front`, `overhead_1`, ...), in bytes.
pub const MAX_VIEW_ROLE_LEN: usize = 64;

/// Longest name (of a folder or an integration) and longest folder
/// description, in characters (after trimming).
pub const MAX_NAME_CHARS: usize = 255;

/// The `pattern` of a text field in the OpenAPI document: no control
/// character (what [`bounded_text`] refuses).
pub const NO_CONTROL_PATTERN: &str = r"^[^\x00-\x1F\x7F-\x9F]*$";

/// The `pattern` of a required text field in the OpenAPI document: no
/// control character, and something besides white space.
pub const REQUIRED_TEXT_PATTERN: &str =
    r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$";

/// What the OpenAPI document says of a text field of a request body: its
/// longest value (as sent) and its pattern, from the same limits the checks
/// use. `None` for a field without such a rule (a bucket follows its
/// provider's rules; ids and enums have schemas of their own).
///
/// ```
/// use import_core::fields::{documented_limit, MAX_NAME_CHARS, REQUIRED_TEXT_PATTERN};
///
/// assert_eq!(documented_limit("name"), Some((MAX_NAME_CHARS, REQUIRED_TEXT_PATTERN)));
/// assert_eq!(documented_limit("bucket"), None);
/// ```
pub fn documented_limit(field: &str) -> Option<(usize, &'static str)> {
    Some(match field {
        "name" => (MAX_NAME_CHARS, REQUIRED_TEXT_PATTERN),
        "description" => (MAX_NAME_CHARS, NO_CONTROL_PATTERN),
        "prefix" => (MAX_PREFIX_BYTES, NO_CONTROL_PATTERN),
        "access_key_id" | "secret_access_key" | "token" => {
            (MAX_CREDENTIAL_BYTES, REQUIRED_TEXT_PATTERN)
        }
        "session_token" => (MAX_CREDENTIAL_BYTES, NO_CONTROL_PATTERN),
        "region" => (MAX_S3_REGION_LEN, NO_CONTROL_PATTERN),
        "endpoint_url" => (MAX_ENDPOINT_URL_BYTES, NO_CONTROL_PATTERN),
        _ => return None,
    })
}

/// Longest folder name, in characters (as sent): [`MAX_NAME_CHARS`].
pub const MAX_FOLDER_NAME_LEN: usize = MAX_NAME_CHARS;

/// Longest integration prefix, in bytes (the providers' object-name limit).
pub const MAX_PREFIX_BYTES: usize = MAX_OBJECT_NAME_BYTES;

/// Longest service-account key of a GCS integration, as compact JSON, in
/// bytes (a real key is about 2.3 KiB).
pub const MAX_SERVICE_ACCOUNT_KEY_BYTES: usize = 16 * 1024;

/// Longest credential (access key id, secret access key, session token, Hub
/// token), in bytes. STS session tokens are the longest seen, about 1-2 KiB.
pub const MAX_CREDENTIAL_BYTES: usize = 8 * 1024;

/// Longest S3 endpoint URL, in bytes.
pub const MAX_ENDPOINT_URL_BYTES: usize = 2048;

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

/// How a text field's length is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// In characters (names and descriptions, which people read).
    Chars,
    /// In bytes (prefixes, credentials, URLs: what machines read).
    Bytes,
}

impl Measure {
    fn of(self, text: &str) -> usize {
        match self {
            Measure::Chars => text.chars().count(),
            Measure::Bytes => text.len(),
        }
    }

    fn unit(self) -> &'static str {
        match self {
            Measure::Chars => "characters",
            Measure::Bytes => "bytes",
        }
    }
}

/// The one rule of every text field of a request: at most `max` (counted as
/// `measure` says) and no control character, both in the value as sent;
/// then trimmed. An error names the field, what is wrong and the limit; the
/// value may be empty (use [`text_field`] for a required one). The limits
/// apply to the value as sent so that the OpenAPI document's `maxLength`
/// and `pattern` say exactly what is refused.
///
/// ```
/// use import_core::fields::{bounded_text, Measure};
///
/// assert_eq!(bounded_text("name", " fleet ", 255, Measure::Chars)?, "fleet");
/// let long = "é".repeat(256);
/// assert_eq!(
///     bounded_text("name", &long, 255, Measure::Chars).unwrap_err().to_string(),
///     "`name` is 256 characters long; use at most 255"
/// );
/// assert_eq!(
///     bounded_text("prefix", "raw/\0", 1024, Measure::Bytes).unwrap_err().to_string(),
///     "`prefix` contains the control character U+0000; remove it"
/// );
/// # Ok::<(), import_core::Error>(())
/// ```
pub fn bounded_text<'a>(
    field: &'static str,
    value: &'a str,
    max: usize,
    measure: Measure,
) -> Result<&'a str> {
    if let Some(c) = value.chars().find(|c| c.is_control()) {
        return Err(Error::InvalidField {
            field,
            problem: format!(
                "contains the control character U+{:04X}; remove it",
                u32::from(c)
            ),
        });
    }
    let len = measure.of(value);
    if len > max {
        return Err(Error::InvalidField {
            field,
            problem: format!("is {len} {} long; use at most {max}", measure.unit()),
        });
    }
    Ok(value.trim())
}

/// A required text field: [`bounded_text`], and not empty.
///
/// ```
/// use import_core::fields::{text_field, Measure};
///
/// assert_eq!(text_field("token", " hf_x ", 8192, Measure::Bytes)?, "hf_x");
/// assert_eq!(
///     text_field("token", " ", 8192, Measure::Bytes).unwrap_err().to_string(),
///     "`token` must not be empty"
/// );
/// # Ok::<(), import_core::Error>(())
/// ```
pub fn text_field<'a>(
    field: &'static str,
    value: &'a str,
    max: usize,
    measure: Measure,
) -> Result<&'a str> {
    let checked = bounded_text(field, value, max, measure)?;
    if checked.is_empty() {
        return Err(Error::InvalidField {
            field,
            problem: "must not be empty".to_owned(),
        });
    }
    Ok(checked)
}

/// An optional text field: [`bounded_text`]; `None` when absent or blank.
///
/// ```
/// use import_core::fields::{optional_text, Measure};
///
/// assert_eq!(optional_text("description", Some("  "), 255, Measure::Chars)?, None);
/// assert_eq!(optional_text("description", Some(" day 1 "), 255, Measure::Chars)?, Some("day 1"));
/// assert!(optional_text("description", Some("a\u{1b}[2J"), 255, Measure::Chars).is_err());
/// # Ok::<(), import_core::Error>(())
/// ```
pub fn optional_text<'a>(
    field: &'static str,
    value: Option<&'a str>,
    max: usize,
    measure: Measure,
) -> Result<Option<&'a str>> {
    match value {
        None => Ok(None),
        Some(v) => Ok(Some(bounded_text(field, v, max, measure)?).filter(|v| !v.is_empty())),
    }
}

/// A folder description as saved: at most [`MAX_NAME_CHARS`] characters,
/// no control character; `None` when absent or blank.
///
/// ```
/// assert_eq!(import_core::fields::folder_description(Some(" drives "))?.as_deref(), Some("drives"));
/// # Ok::<(), import_core::Error>(())
/// ```
pub fn folder_description(value: Option<&str>) -> Result<Option<String>> {
    Ok(optional_text("description", value, MAX_NAME_CHARS, Measure::Chars)?.map(str::to_owned))
}

/// An S3 endpoint URL in its form: `http://` or `https://`, a host and an
/// optional port, at most [`MAX_ENDPOINT_URL_BYTES`]; no user name, password,
/// query or fragment (credentials belong in the key fields). A trailing `/`
/// is dropped. Whether the host may be reached is the server's endpoint
/// policy, not this rule.
///
/// ```
/// use import_core::fields::endpoint_url;
///
/// assert_eq!(endpoint_url("https://acct.r2.cloudflarestorage.com/")?, "https://acct.r2.cloudflarestorage.com");
/// assert_eq!(endpoint_url("http://127.0.0.1:9000")?, "http://127.0.0.1:9000");
/// assert!(endpoint_url("ftp://x").is_err());
/// assert!(endpoint_url("https://user:pw@x").is_err());
/// # Ok::<(), import_core::Error>(())
/// ```
pub fn endpoint_url(value: &str) -> Result<String> {
    let text = text_field(
        "endpoint_url",
        value,
        MAX_ENDPOINT_URL_BYTES,
        Measure::Bytes,
    )?;
    let bad = |why: &str| Error::InvalidField {
        field: "endpoint_url",
        problem: format!(
            "`{}` {why}; write it as https://HOST[:PORT], for example https://ACCOUNT.r2.cloudflarestorage.com",
            shown(text)
        ),
    };
    let trimmed = text.trim_end_matches('/');
    let uri: http::Uri = trimmed.parse().map_err(|_| bad("is not a URL"))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => return Err(bad("must start with https:// or http://")),
    }
    let Some(authority) = uri.authority() else {
        return Err(bad("has no host"));
    };
    if authority.as_str().contains('@') {
        return Err(bad("must not carry a user name or password"));
    }
    if authority.host().is_empty() {
        return Err(bad("has no host"));
    }
    if uri.query().is_some() || trimmed.contains('#') {
        return Err(bad("must not carry a query or fragment"));
    }
    Ok(trimmed.to_owned())
}

/// An S3 region as given: [`is_s3_region`], or a 422 naming the form.
///
/// ```
/// assert_eq!(import_core::fields::region("region", " eu-west-3 ")?, "eu-west-3");
/// assert!(import_core::fields::region("region", "EU West").is_err());
/// # Ok::<(), import_core::Error>(())
/// ```
pub fn region<'a>(field: &'static str, value: &'a str) -> Result<&'a str> {
    let text = text_field(field, value, MAX_S3_REGION_LEN, Measure::Bytes)?;
    if is_s3_region(text) {
        Ok(text)
    } else {
        Err(Error::InvalidField {
            field,
            problem: format!(
                "`{}` is not a region: use lower-case letters, digits and `-`, for example `us-east-1` (or `auto` for R2)",
                shown(text)
            ),
        })
    }
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

/// A folder name: trimmed, 1 to [`MAX_FOLDER_NAME_LEN`] characters, no
/// control characters.
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
        let trimmed = name.trim();
        let fits = !trimmed.is_empty()
            && name.chars().count() <= MAX_FOLDER_NAME_LEN
            && !name.chars().any(char::is_control);
        match fits.then_some(trimmed) {
            Some(trimmed) => Ok(FolderName(trimmed.to_owned())),
            None => Err(Error::InvalidField {
                field: "name",
                problem: format!(
                    "`{}` is not a folder name: use 1 to {MAX_FOLDER_NAME_LEN} characters without control characters",
                    shown(name)
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

/// A value as an error shows it: escaped, and cut after 64 characters.
fn shown(value: &str) -> String {
    let mut out: String = value
        .chars()
        .take(64)
        .collect::<String>()
        .escape_debug()
        .to_string();
    if value.chars().nth(64).is_some() {
        out.push_str("...");
    }
    out
}

/// Default of the reference server's `--max-in-flight`: objects copied at
/// once by one server process. Chosen by measurement on 2 cores against
/// s3s-fs and against the same source 5 ms farther away
/// (`docs/performance.md`: 16 to 64 were alike within the noise, 128 and
/// 256 slower, and memory grows with the count). It does not depend on the
/// core count; a source farther away than 5 ms wants more.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 32;

/// Default of the reference server's `--copy-memory`: bytes the copies in
/// flight may buffer together, 256 MiB. A copy reserves what it can hold at
/// once (its object's size, at most [`COPY_BUFFER_PER_OBJECT`]) before it
/// reads its source, so memory stays bounded whatever `--max-in-flight` is.
pub const DEFAULT_COPY_MEMORY: u64 = 256 * 1024 * 1024;

/// The most a single copy buffers: one 8 MiB part being filled and two in
/// flight to the media store.
pub const COPY_BUFFER_PER_OBJECT: u64 = 3 * 8 * 1024 * 1024;

/// Largest `moov` box a copy keeps in memory as the bytes stream past, for
/// its probe: 1 MiB (a minute of 30 fps video needs some tens of KiB). A
/// larger one is read back from the stored file once the copy's buffers
/// are given back.
pub const STREAMED_MOOV_MAX: u64 = 1024 * 1024;

/// Largest `ftyp` box taken for a real one (what a probe keeps of it).
pub const MAX_FTYP_BYTES: u64 = 4096;

/// What a copy of an object of `size` bytes holds while its bytes stream
/// past, and so reserves of `--copy-memory` before it reads its source:
/// its buffers (the whole object when it is small, else
/// [`COPY_BUFFER_PER_OBJECT`]), a `moov` kept on the way and the parser's
/// tables made from it (about as large again), and the `ftyp`.
///
/// ```
/// use import_core::fields::{COPY_BUFFER_PER_OBJECT, STREAMED_MOOV_MAX, copy_holds};
/// assert_eq!(copy_holds(1000), 3 * 1000 + 1000);
/// assert_eq!(copy_holds(1 << 40), COPY_BUFFER_PER_OBJECT + 2 * STREAMED_MOOV_MAX + 4096);
/// ```
pub const fn copy_holds(size: u64) -> u64 {
    let buffers = if size < COPY_BUFFER_PER_OBJECT {
        size
    } else {
        COPY_BUFFER_PER_OBJECT
    };
    let moov = if size < STREAMED_MOOV_MAX {
        size
    } else {
        STREAMED_MOOV_MAX
    };
    let ftyp = if size < MAX_FTYP_BYTES {
        size
    } else {
        MAX_FTYP_BYTES
    };
    buffers + 2 * moov + ftyp
}

/// What reading back a `moov` box of `moov` bytes holds, once the copy's
/// buffers are given back: the box, and the parser's tables made from it.
pub const fn moov_read_back_holds(moov: u64) -> u64 {
    2 * moov + MAX_FTYP_BYTES
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

/// Default of the reference server's `--lease-secs`: how long a claimed row
/// stays leased without a renewal.
pub const DEFAULT_LEASE_SECS: u64 = 60;

/// How often a holder renews what it holds for `window` (a row's lease, a
/// process's registration under `--instance-timeout`): a third of the
/// window, at most every 2 s (so that a row taken away stops its copy
/// within 2 s), at least every 100 ms.
///
/// ```
/// use std::time::Duration;
/// use import_core::fields::heartbeat_every;
/// assert_eq!(heartbeat_every(Duration::from_secs(3)), Duration::from_secs(1));
/// assert_eq!(heartbeat_every(Duration::from_secs(60)), Duration::from_secs(2));
/// assert_eq!(heartbeat_every(Duration::from_millis(30)), Duration::from_millis(100));
/// ```
pub fn heartbeat_every(window: std::time::Duration) -> std::time::Duration {
    (window / 3)
        .min(std::time::Duration::from_secs(2))
        .max(std::time::Duration::from_millis(100))
}

/// Default of the reference server's `--header-timeout`, in seconds: the
/// longest wait for a request's whole header block.
pub const DEFAULT_HEADER_TIMEOUT_SECS: u64 = 30;

/// Default of the reference server's `--body-memory`: bytes that the request
/// bodies being read at once may hold together, 256 MiB, four upload bodies
/// at the default 64 MiB `--body-limit` (one upload body of 200,000 objects
/// is about 30 MiB). A body past it waits up to `--body-memory-wait`, then
/// is `503`.
pub const DEFAULT_BODY_MEMORY: u64 = 256 * 1024 * 1024;

/// Default of the reference server's `--body-memory-wait`, in seconds: how
/// long a request waits for its body's part of `--body-memory` before it is
/// `503` with `Retry-After`.
pub const DEFAULT_BODY_MEMORY_WAIT_SECS: u64 = 5;

/// Default of the reference server's `--body-timeout`, in seconds: the
/// longest wait for a request's whole body (a 64 MiB upload body at 4 Mbit/s
/// takes about 130 s).
pub const DEFAULT_BODY_TIMEOUT_SECS: u64 = 180;

/// Default of the reference server's `--idle-timeout`, in seconds: a
/// keep-alive connection with nothing sent or received for this long is
/// closed.
pub const DEFAULT_IDLE_TIMEOUT_SECS: u64 = 60;

/// Default of the reference server's `--max-connections`: connections open
/// at once; one more is answered `503` and closed.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;

/// Default failed authentications (a missing, unknown, revoked or expired
/// key) one peer address may make per minute, in bursts of as many, before
/// its requests are `429` without a key lookup: 60, far above a person
/// mistyping a key, far below a flood.
pub const DEFAULT_MAX_FAILED_AUTH_PER_MINUTE: u32 = 60;

/// Longest request target (path and query) the reference server reads:
/// 8 KiB, `414` beyond. The longest a client of the contract sends is a
/// folder name of 255 characters, percent-encoded (at most 3 KiB), with a
/// few ids; a constant, since no real request comes near it.
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// Default largest request head (request line and headers) the reference
/// server reads: 32 KiB (`--max-head-bytes`), `431` beyond, like common
/// proxies (nginx reads 4 buffers of 8 KiB).
pub const DEFAULT_MAX_HEAD_BYTES: usize = 32 * 1024;

/// Most headers of one request the reference server reads, `431` beyond: a
/// constant, as real clients send a dozen.
pub const MAX_REQUEST_HEADERS: usize = 100;

/// Largest file of secrets the reference server reads (`--database-url-file`,
/// `--media-option-file`): 64 KiB, far more than a few lines.
pub const MAX_SECRET_FILE_BYTES: usize = 64 * 1024;

/// Where the reference server listens by default: `127.0.0.1:8080`, the
/// loopback address only, so a server started without thought is not
/// reachable from other machines.
pub const DEFAULT_LISTEN: std::net::SocketAddr =
    std::net::SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 8080);

/// Default of the reference server's `--requests-per-minute`: requests each
/// API key may make per minute, in bursts of as many (0 turns the limit off).
pub const DEFAULT_REQUESTS_PER_MINUTE: u32 = 6000;

/// Default of the reference server's `--max-pending-rows-per-org`: rows an
/// organisation may have waiting to import at once.
pub const DEFAULT_MAX_PENDING_ROWS_PER_ORG: u64 = 1_000_000;

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
