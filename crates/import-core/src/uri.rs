//! Cloud object URIs: `gs://bucket/object`, `s3://bucket/key`,
//! `hf://buckets/namespace/name/path`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub use crate::fields::MAX_OBJECT_NAME_BYTES;

/// A cloud storage provider that can be imported from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Provider {
    /// Google Cloud Storage (`gs://`).
    #[serde(rename = "gcs")]
    Gcs,
    /// Amazon S3 and S3-compatible stores such as Cloudflare R2 (`s3://`).
    #[serde(rename = "s3")]
    S3,
    /// Hugging Face Storage Buckets (`hf://buckets/...`).
    #[serde(rename = "hf_bucket")]
    HfBucket,
}

impl Provider {
    /// Every provider, in a fixed order.
    pub const ALL: [Provider; 3] = [Provider::Gcs, Provider::S3, Provider::HfBucket];

    /// The name the API uses (`gcs`, `s3`, `hf_bucket`), as in `source` and `type` fields.
    pub fn wire_name(self) -> &'static str {
        match self {
            Provider::Gcs => "gcs",
            Provider::S3 => "s3",
            Provider::HfBucket => "hf_bucket",
        }
    }

    /// The URI prefix of the provider, up to the bucket.
    pub fn uri_prefix(self) -> &'static str {
        match self {
            Provider::Gcs => "gs://",
            Provider::S3 => "s3://",
            Provider::HfBucket => "hf://buckets/",
        }
    }

    /// The URI scheme (`gs`, `s3`, `hf`).
    pub(crate) fn scheme(self) -> &'static str {
        match self {
            Provider::Gcs => "gs",
            Provider::S3 => "s3",
            Provider::HfBucket => "hf",
        }
    }

    /// Parse a wire name (`gcs`, `s3`, `hf_bucket`).
    pub fn from_wire_name(name: &str) -> Option<Provider> {
        Provider::ALL.into_iter().find(|p| p.wire_name() == name)
    }

    /// Check a bucket name against this provider's naming rules
    /// ([`check_gcs_bucket`], [`check_s3_bucket`] or [`check_hf_bucket`]).
    ///
    /// ```
    /// use import_core::Provider;
    ///
    /// assert!(Provider::S3.check_bucket("drive-archive").is_ok());
    /// assert!(Provider::S3.check_bucket("my_bucket").is_err());
    /// assert!(Provider::Gcs.check_bucket("my_bucket").is_ok());
    /// assert!(Provider::HfBucket.check_bucket("acme/fleet").is_ok());
    /// ```
    pub fn check_bucket(self, bucket: &str) -> Result<(), UriProblem> {
        match self {
            Provider::Gcs => check_gcs_bucket(bucket),
            Provider::S3 => check_s3_bucket(bucket),
            Provider::HfBucket => check_hf_bucket(bucket),
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Provider::Gcs => "a GCS object",
            Provider::S3 => "an S3 object",
            Provider::HfBucket => "a Hugging Face bucket object",
        })
    }
}

/// What is wrong with a URI; the `Display` text ends with the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UriProblem {
    /// Nothing was given.
    #[error("the URI is empty; name an object such as `s3://bucket/path/clip.mp4`")]
    Empty,
    /// No `scheme://`.
    #[error(
        "it has no scheme; write `gs://bucket/object.mp4`, `s3://bucket/key.mp4` or `hf://buckets/namespace/name/path.mp4`"
    )]
    MissingScheme,
    /// A scheme we do not import from.
    #[error(
        "scheme `{scheme}` is not supported; use `gs://` (GCS), `s3://` (S3, R2 and other S3-compatible stores) or `hf://buckets/` (Hugging Face buckets)"
    )]
    UnsupportedScheme {
        /// The scheme as written.
        scheme: String,
    },
    /// `hf://` that does not name a Storage Bucket.
    #[error(
        "Hugging Face URIs must name a Storage Bucket as `hf://buckets/namespace/name/path.mp4`; model, dataset and Space repositories cannot be imported"
    )]
    HfNotBucket,
    /// No bucket before the first `/`.
    #[error("it names no bucket; write `{scheme}://bucket/path/clip.mp4`")]
    MissingBucket {
        /// `gs` or `s3`.
        scheme: &'static str,
    },
    /// A bucket without an object name.
    #[error(
        "it names bucket `{bucket}` but no object; name each `.mp4` object (prefixes can be expanded with `vimport upload --expand`)"
    )]
    MissingObject {
        /// The bucket.
        bucket: String,
    },
    /// A bucket name the provider would reject.
    #[error("bucket name `{bucket}` is not valid for {provider}: {rule}")]
    InvalidBucket {
        /// Which provider's rules.
        provider: &'static str,
        /// The bucket as written.
        bucket: String,
        /// The rule it breaks.
        rule: &'static str,
    },
    /// Object name longer than 1024 bytes.
    #[error("the object name is {len} bytes long; the limit is 1024 bytes")]
    ObjectTooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// A control character in the object name.
    #[error("the object name contains a control character (U+{code:04X}); remove it")]
    ControlCharacter {
        /// The code point.
        code: u32,
    },
    /// `*`, `?` or `[` in the object name.
    #[error(
        "wildcards (`*`, `?`, `[`) are not supported; list each object, or expand a prefix into objects with `vimport upload --expand PREFIX --glob PATTERN`"
    )]
    Wildcard,
    /// An MCAP recording.
    #[error(
        "`.mcap` files are robot logs, not videos: cloud video import takes `.mp4` files only; ingest MCAP recordings through the MCAP ingestion workflow"
    )]
    Mcap,
    /// Not `.mp4`.
    #[error(
        "only `.mp4` files can be imported; convert the video to MP4 or name the `.mp4` object"
    )]
    NotMp4,
}

/// A validated reference to one cloud object: provider, bucket and object name.
///
/// Invariants, checked by [`CloudUri::parse`]:
/// - the scheme is `gs`, `s3` or `hf` (any case); surrounding whitespace is ignored;
/// - the bucket follows the provider's naming rules (for Hugging Face, the bucket is
///   `namespace/name`);
/// - the object name is taken literally (no percent-decoding; `#`, `%` and spaces
///   belong to the name), is 1 to 1024 bytes, has no control characters and no
///   wildcard, and ends in `.mp4` in any case.
///
/// `Display` writes the canonical form, which parses back to the same value.
///
/// ```
/// use import_core::{CloudUri, Provider};
///
/// let uri: CloudUri = " S3://drive-archive/trips/42/front #1.MP4 ".parse()?;
/// assert_eq!(uri.provider(), Provider::S3);
/// assert_eq!(uri.bucket(), "drive-archive");
/// assert_eq!(uri.object(), "trips/42/front #1.MP4");
/// assert_eq!(uri.to_string(), "s3://drive-archive/trips/42/front #1.MP4");
///
/// let hf = CloudUri::parse("hf://buckets/acme/fleet/day1/cam.mp4")?;
/// assert_eq!(hf.bucket(), "acme/fleet");
///
/// let err = CloudUri::parse("gs://videos/day1/*.mp4").unwrap_err();
/// assert!(err.to_string().contains("wildcards"));
/// # Ok::<(), import_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CloudUri {
    provider: Provider,
    bucket: String,
    object: String,
}

impl CloudUri {
    /// Parse and validate a URI.
    pub fn parse(input: &str) -> Result<CloudUri> {
        let uri = input.trim();
        let fail = |problem: UriProblem| Error::InvalidUri {
            uri: uri.to_owned(),
            problem,
        };
        if uri.is_empty() {
            return Err(fail(UriProblem::Empty));
        }
        let (provider, bucket, object) = parse_location(uri).map_err(|problem| {
            fail(match problem {
                LocationProblem::MissingScheme => UriProblem::MissingScheme,
                LocationProblem::UnsupportedScheme(scheme) => UriProblem::UnsupportedScheme {
                    scheme: scheme.to_owned(),
                },
                LocationProblem::HfNotBucket => UriProblem::HfNotBucket,
                LocationProblem::MissingBucket(provider) => UriProblem::MissingBucket {
                    scheme: provider.scheme(),
                },
                LocationProblem::Bucket(problem) => problem,
            })
        })?;
        if object.is_empty() {
            return Err(fail(UriProblem::MissingObject { bucket }));
        }
        check_object_name(object).map_err(&fail)?;
        Ok(CloudUri {
            provider,
            bucket,
            object: object.to_owned(),
        })
    }

    /// Build a URI from its parts, with the same checks as [`CloudUri::parse`].
    ///
    /// For [`Provider::HfBucket`] the bucket is `namespace/name`.
    pub fn from_parts(provider: Provider, bucket: &str, object: &str) -> Result<CloudUri> {
        let uri = format!("{}{bucket}/{object}", provider.uri_prefix());
        let parsed = CloudUri::parse(&uri)?;
        // `parse` trims; a name with surrounding spaces must not silently change.
        if parsed.bucket != bucket || parsed.object != object {
            return Err(Error::InvalidUri {
                uri,
                problem: UriProblem::InvalidBucket {
                    provider: provider_label(provider),
                    bucket: bucket.to_owned(),
                    rule: "a bucket name cannot contain `/` (for Hugging Face: exactly one), and an object name cannot end with spaces",
                },
            });
        }
        Ok(parsed)
    }

    /// The provider.
    pub fn provider(&self) -> Provider {
        self.provider
    }

    /// The bucket (`namespace/name` for Hugging Face buckets).
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The object name: everything after the bucket, taken literally.
    pub fn object(&self) -> &str {
        &self.object
    }
}

impl fmt::Display for CloudUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{}/{}",
            self.provider.uri_prefix(),
            self.bucket,
            self.object
        )
    }
}

impl FromStr for CloudUri {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        CloudUri::parse(s)
    }
}

impl Serialize for CloudUri {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for CloudUri {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        CloudUri::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// What the scheme-and-bucket part of a URI can get wrong; each URI type
/// words it for itself ([`UriProblem`], [`PrefixProblem`]).
enum LocationProblem<'a> {
    MissingScheme,
    UnsupportedScheme(&'a str),
    HfNotBucket,
    MissingBucket(Provider),
    Bucket(UriProblem),
}

/// The one scheme and bucket grammar: `gs://bucket/rest`, `s3://bucket/rest`
/// or `hf://buckets/namespace/name/rest` (scheme in any case), with the
/// provider's bucket-name rules. Answers the provider, the bucket and the
/// rest (possibly empty), taken literally.
fn parse_location(uri: &str) -> Result<(Provider, String, &str), LocationProblem<'_>> {
    let Some((scheme, rest)) = uri.split_once("://") else {
        return Err(LocationProblem::MissingScheme);
    };
    let is = |name: &str| scheme.eq_ignore_ascii_case(name);
    let (provider, bucket, rest) = if is("gs") || is("s3") {
        let provider = if is("gs") {
            Provider::Gcs
        } else {
            Provider::S3
        };
        let (bucket, rest) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(LocationProblem::MissingBucket(provider));
        }
        (provider, bucket.to_owned(), rest)
    } else if is("hf") {
        let Some(rest) = rest.strip_prefix("buckets/") else {
            return Err(LocationProblem::HfNotBucket);
        };
        let mut parts = rest.splitn(3, '/');
        let namespace = parts.next().unwrap_or_default();
        let name = parts.next().unwrap_or_default();
        let rest = parts.next().unwrap_or_default();
        (Provider::HfBucket, format!("{namespace}/{name}"), rest)
    } else {
        return Err(LocationProblem::UnsupportedScheme(scheme));
    };
    provider
        .check_bucket(&bucket)
        .map_err(LocationProblem::Bucket)?;
    Ok((provider, bucket, rest))
}

/// What is wrong with a prefix URI; the `Display` text ends with the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PrefixProblem {
    /// No `scheme://`.
    #[error(
        "it has no scheme; write `s3://bucket/folder/`, `gs://bucket/folder/` or `hf://buckets/namespace/name/folder/`"
    )]
    MissingScheme,
    /// A scheme we do not import from.
    #[error("scheme `{scheme}` is not supported; use `s3://`, `gs://` or `hf://buckets/`")]
    UnsupportedScheme {
        /// The scheme as written, at most 20 characters.
        scheme: String,
    },
    /// `hf://` that does not name a Storage Bucket.
    #[error(
        "Hugging Face prefixes name a Storage Bucket as `hf://buckets/namespace/name/folder/`; model, dataset and Space repositories cannot be imported"
    )]
    HfNotBucket,
    /// No bucket before the first `/`.
    #[error("it names no bucket; write `{}bucket/folder/`", .provider.uri_prefix())]
    MissingBucket {
        /// The provider of the scheme.
        provider: Provider,
    },
    /// A bucket name the provider would reject ([`UriProblem::InvalidBucket`]).
    #[error("{0}")]
    InvalidBucket(UriProblem),
    /// A prefix longer than any object name.
    #[error("the prefix is {len} bytes long, longer than any object name (1024 bytes); shorten it")]
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// A control character in the prefix.
    #[error("the prefix contains a control character (U+{code:04X}); remove it")]
    ControlCharacter {
        /// The code point.
        code: u32,
    },
    /// `*`, `?` or `[` in the prefix.
    #[error(
        "the prefix contains a wildcard (`*`, `?` or `[`); give the folder as the prefix and the pattern as the glob (`--glob '*.mp4'`)"
    )]
    Wildcard,
    /// An empty, `.` or `..` folder.
    #[error(
        "the prefix has an empty folder (`//` or a leading `/`) or a `.` or `..` folder; write it as `folder/sub/`"
    )]
    BadFolder,
}

/// A prefix URI that [`PrefixUri::parse`] refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid prefix URI `{uri}`: {problem}")]
pub struct PrefixError {
    /// The URI as given (trimmed, at most 200 characters).
    pub uri: String,
    /// What is wrong with it, with the fix.
    pub problem: PrefixProblem,
}

/// A bucket and a prefix inside it: `s3://bucket/prefix`,
/// `gs://bucket/prefix` or `hf://buckets/namespace/name/prefix`.
///
/// Same scheme and bucket grammar as [`CloudUri`]. The prefix is taken
/// literally, like an object name, and matched as a string:
/// `s3://vids/2024-09` covers `2024-09-01/a.mp4` and `2024-09.mp4`, while
/// `s3://vids/2024-09/` covers only what is in that folder. It may be empty
/// (the whole bucket); otherwise it follows the object-name rules an object
/// under it must meet (length, no control character, no wildcard) and its
/// folders are neither empty nor `.` or `..`.
///
/// ```
/// use import_core::{PrefixUri, Provider};
///
/// let p = PrefixUri::parse("hf://buckets/acme/fleet/day 1/")?;
/// assert_eq!(p.provider(), Provider::HfBucket);
/// assert_eq!(p.bucket(), "acme/fleet");
/// assert_eq!(p.prefix(), "day 1/");
/// assert_eq!(PrefixUri::parse("S3://vids")?.to_string(), "s3://vids/");
/// assert!(PrefixUri::parse("s3://vids/day/*.mp4").unwrap_err().to_string().contains("glob"));
/// # Ok::<(), import_core::PrefixError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PrefixUri {
    provider: Provider,
    bucket: String,
    prefix: String,
}

impl PrefixUri {
    /// Parse and check a prefix URI: scheme, the provider's bucket-name
    /// rules, and a prefix an object name could start with.
    pub fn parse(input: &str) -> Result<PrefixUri, PrefixError> {
        let uri = input.trim();
        let fail = |problem: PrefixProblem| PrefixError {
            uri: uri.chars().take(200).collect(),
            problem,
        };
        let (provider, bucket, prefix) = parse_location(uri).map_err(|problem| {
            fail(match problem {
                LocationProblem::MissingScheme => PrefixProblem::MissingScheme,
                LocationProblem::UnsupportedScheme(scheme) => PrefixProblem::UnsupportedScheme {
                    scheme: scheme.chars().take(20).collect(),
                },
                LocationProblem::HfNotBucket => PrefixProblem::HfNotBucket,
                LocationProblem::MissingBucket(provider) => {
                    PrefixProblem::MissingBucket { provider }
                }
                LocationProblem::Bucket(problem) => PrefixProblem::InvalidBucket(problem),
            })
        })?;
        check_name_characters(prefix).map_err(|problem| {
            fail(match problem {
                UriProblem::ObjectTooLong { len } => PrefixProblem::TooLong { len },
                UriProblem::ControlCharacter { code } => PrefixProblem::ControlCharacter { code },
                _ => PrefixProblem::Wildcard,
            })
        })?;
        if let Some((folder, _)) = prefix.rsplit_once('/')
            && folder
                .split('/')
                .any(|part| part.is_empty() || part == "." || part == "..")
        {
            return Err(fail(PrefixProblem::BadFolder));
        }
        Ok(PrefixUri {
            provider,
            bucket,
            prefix: prefix.to_owned(),
        })
    }

    /// The provider.
    pub fn provider(&self) -> Provider {
        self.provider
    }

    /// The bucket (`namespace/name` for Hugging Face).
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The prefix, possibly empty, taken literally.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The folder to list: the prefix up to its last `/` (`None` for the
    /// whole bucket).
    ///
    /// ```
    /// let p = import_core::PrefixUri::parse("gs://fleet-videos/2024/09")?;
    /// assert_eq!(p.folder(), Some("2024"));
    /// # Ok::<(), import_core::PrefixError>(())
    /// ```
    pub fn folder(&self) -> Option<&str> {
        self.prefix
            .rsplit_once('/')
            .map(|(folder, _)| folder)
            .filter(|f| !f.is_empty())
    }
}

impl fmt::Display for PrefixUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{}/{}",
            self.provider.uri_prefix(),
            self.bucket,
            self.prefix
        )
    }
}

fn provider_label(provider: Provider) -> &'static str {
    match provider {
        Provider::Gcs => "GCS",
        Provider::S3 => "S3",
        Provider::HfBucket => "Hugging Face",
    }
}

fn invalid_bucket(provider: Provider, bucket: &str, rule: &'static str) -> UriProblem {
    UriProblem::InvalidBucket {
        provider: provider_label(provider),
        bucket: bucket.to_owned(),
        rule,
    }
}

fn starts_and_ends_alnum(s: &str) -> bool {
    let b = s.as_bytes();
    b.first().is_some_and(u8::is_ascii_alphanumeric)
        && b.last().is_some_and(u8::is_ascii_alphanumeric)
}

/// GCS bucket naming rules: 3-63 characters (up to 222 with dots, each
/// dot-separated part at most 63) of lower-case letters, digits, `-`, `_`, `.`,
/// starting and ending with a letter or digit.
pub fn check_gcs_bucket(bucket: &str) -> Result<(), UriProblem> {
    let p = Provider::Gcs;
    if !bucket
        .bytes()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'-' | b'_' | b'.'))
    {
        return Err(invalid_bucket(
            p,
            bucket,
            "use only lower-case letters, digits, `-`, `_` and `.`",
        ));
    }
    let dotted = bucket.contains('.');
    let max = if dotted { 222 } else { 63 };
    if bucket.len() < 3 || bucket.len() > max {
        return Err(invalid_bucket(
            p,
            bucket,
            "use 3 to 63 characters (up to 222 when the name contains dots)",
        ));
    }
    if dotted
        && bucket
            .split('.')
            .any(|part| part.is_empty() || part.len() > 63)
    {
        return Err(invalid_bucket(
            p,
            bucket,
            "each dot-separated part must be 1 to 63 characters",
        ));
    }
    if !starts_and_ends_alnum(bucket) {
        return Err(invalid_bucket(
            p,
            bucket,
            "start and end the name with a letter or digit",
        ));
    }
    Ok(())
}

/// S3 bucket naming rules: 3-63 characters of lower-case letters, digits, `.`
/// and `-`, starting and ending with a letter or digit, no `..`, not shaped like
/// an IPv4 address.
pub fn check_s3_bucket(bucket: &str) -> Result<(), UriProblem> {
    let p = Provider::S3;
    if !bucket
        .bytes()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'-' | b'.'))
    {
        return Err(invalid_bucket(
            p,
            bucket,
            "use only lower-case letters, digits, `.` and `-`",
        ));
    }
    if bucket.len() < 3 || bucket.len() > 63 {
        return Err(invalid_bucket(p, bucket, "use 3 to 63 characters"));
    }
    if !starts_and_ends_alnum(bucket) {
        return Err(invalid_bucket(
            p,
            bucket,
            "start and end the name with a letter or digit",
        ));
    }
    if bucket.contains("..") {
        return Err(invalid_bucket(
            p,
            bucket,
            "two dots in a row are not allowed",
        ));
    }
    let parts: Vec<&str> = bucket.split('.').collect();
    if parts.len() == 4
        && parts.iter().all(|part| {
            !part.is_empty() && part.len() <= 3 && part.bytes().all(|c| c.is_ascii_digit())
        })
    {
        return Err(invalid_bucket(
            p,
            bucket,
            "a bucket name must not look like an IP address",
        ));
    }
    Ok(())
}

/// Hugging Face bucket rules: `namespace/name`, each 1-96 characters of
/// letters, digits, `-`, `_` and `.`.
pub fn check_hf_bucket(bucket: &str) -> Result<(), UriProblem> {
    let p = Provider::HfBucket;
    let Some((namespace, name)) = bucket.split_once('/') else {
        return Err(invalid_bucket(
            p,
            bucket,
            "write the bucket as `namespace/name`",
        ));
    };
    for part in [namespace, name] {
        if part.is_empty() {
            return Err(invalid_bucket(
                p,
                bucket,
                "write the bucket as `namespace/name`, both parts non-empty",
            ));
        }
        if part.len() > 96 {
            return Err(invalid_bucket(
                p,
                bucket,
                "namespace and name are at most 96 characters each",
            ));
        }
        if !part
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        {
            return Err(invalid_bucket(
                p,
                bucket,
                "namespace and name use only letters, digits, `-`, `_` and `.`",
            ));
        }
    }
    Ok(())
}

/// Check an object name: non-empty, at most 1024 bytes, no control characters,
/// no wildcards, `.mp4` in any case (with a dedicated message for `.mcap`).
pub fn check_object_name(object: &str) -> Result<(), UriProblem> {
    check_name_characters(object)?;
    if ends_with_ignore_case(object, ".mcap") {
        return Err(UriProblem::Mcap);
    }
    if !is_mp4_name(object) {
        return Err(UriProblem::NotMp4);
    }
    Ok(())
}

/// The rules every object name (and so every prefix of one) meets: at most
/// 1024 bytes, no control characters, no wildcards.
fn check_name_characters(name: &str) -> Result<(), UriProblem> {
    if name.len() > MAX_OBJECT_NAME_BYTES {
        return Err(UriProblem::ObjectTooLong { len: name.len() });
    }
    // Fast path: printable ASCII has no control characters.
    let printable_ascii = name.bytes().all(|b| (0x20..0x7f).contains(&b));
    if let Some(c) = (!printable_ascii)
        .then(|| name.chars().find(|c| c.is_control()))
        .flatten()
    {
        return Err(UriProblem::ControlCharacter { code: c as u32 });
    }
    if name.contains(['*', '?', '[']) {
        return Err(UriProblem::Wildcard);
    }
    Ok(())
}

/// Whether an object name ends in `.mp4`, in any case: the suffix rule of
/// [`check_object_name`].
///
/// ```
/// assert!(import_core::is_mp4_name("day1/FRONT.Mp4"));
/// assert!(!import_core::is_mp4_name("day1/front.mp4.jpg"));
/// ```
pub fn is_mp4_name(name: &str) -> bool {
    ends_with_ignore_case(name, ".mp4")
}

fn ends_with_ignore_case(name: &str, suffix: &str) -> bool {
    name.len() >= suffix.len()
        && name.as_bytes()[name.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(uri: &str) -> UriProblem {
        match CloudUri::parse(uri) {
            Err(Error::InvalidUri { problem, .. }) => problem,
            other => panic!("expected an invalid URI for {uri:?}, got {other:?}"),
        }
    }

    fn message(uri: &str) -> String {
        CloudUri::parse(uri).unwrap_err().to_string()
    }

    #[test]
    fn parses_each_provider() {
        let gs = CloudUri::parse("gs://my_bucket.v1/a/b.mp4").unwrap();
        assert_eq!(
            (gs.provider(), gs.bucket(), gs.object()),
            (Provider::Gcs, "my_bucket.v1", "a/b.mp4")
        );
        let s3 = CloudUri::parse("s3://drive-monitor-archive/x.mp4").unwrap();
        assert_eq!(
            (s3.provider(), s3.bucket(), s3.object()),
            (Provider::S3, "drive-monitor-archive", "x.mp4")
        );
        let hf = CloudUri::parse("hf://buckets/Acme_1/fleet.v2/d/e.mp4").unwrap();
        assert_eq!(
            (hf.provider(), hf.bucket(), hf.object()),
            (Provider::HfBucket, "Acme_1/fleet.v2", "d/e.mp4")
        );
    }

    #[test]
    fn scheme_is_case_insensitive_and_whitespace_trimmed() {
        let uri = CloudUri::parse("\t GS://bucket/a.mp4 \n").unwrap();
        assert_eq!(uri.to_string(), "gs://bucket/a.mp4");
        assert_eq!(
            CloudUri::parse("Hf://buckets/a/b/c.mp4")
                .unwrap()
                .to_string(),
            "hf://buckets/a/b/c.mp4"
        );
    }

    #[test]
    fn object_name_is_literal() {
        let uri = CloudUri::parse("s3://bucket/a%20b/c #d.mp4").unwrap();
        assert_eq!(uri.object(), "a%20b/c #d.mp4");
        assert_eq!(uri.to_string(), "s3://bucket/a%20b/c #d.mp4");
    }

    #[test]
    fn mp4_suffix_any_case() {
        assert!(CloudUri::parse("s3://bucket/a.Mp4").is_ok());
        assert_eq!(problem("s3://bucket/a.mov"), UriProblem::NotMp4);
        assert_eq!(problem("s3://bucket/a.mp4.jpg"), UriProblem::NotMp4);
        assert!(message("s3://bucket/a.jpg").contains("`s3://bucket/a.jpg`"));
        assert!(message("s3://bucket/a.jpg").contains("only `.mp4` files"));
    }

    #[test]
    fn mcap_has_its_own_message() {
        assert_eq!(problem("s3://bucket/run.MCAP"), UriProblem::Mcap);
        assert!(message("gs://bucket/run.mcap").contains("MCAP ingestion"));
    }

    #[test]
    fn wildcards_are_refused() {
        for uri in [
            "s3://bucket/*.mp4",
            "gs://bucket/a?.mp4",
            "hf://buckets/a/b/[ab].mp4",
        ] {
            assert_eq!(problem(uri), UriProblem::Wildcard, "{uri}");
        }
        assert!(message("s3://bucket/*.mp4").contains("--expand"));
    }

    #[test]
    fn empty_and_missing_parts() {
        assert_eq!(problem("   "), UriProblem::Empty);
        assert!(message("").contains("the URI is empty"));
        assert_eq!(problem("bucket/a.mp4"), UriProblem::MissingScheme);
        assert!(message("bucket/a.mp4").contains("has no scheme"));
        assert_eq!(
            problem("s3:///a.mp4"),
            UriProblem::MissingBucket { scheme: "s3" }
        );
        assert!(message("gs:///a.mp4").contains("names no bucket; write `gs://"));
        assert_eq!(
            problem("s3://bucket"),
            UriProblem::MissingObject {
                bucket: "bucket".into()
            }
        );
        assert_eq!(
            problem("s3://bucket/"),
            UriProblem::MissingObject {
                bucket: "bucket".into()
            }
        );
        assert!(message("s3://bucket/").contains("no object"));
        assert_eq!(
            problem("hf://buckets/ns/name"),
            UriProblem::MissingObject {
                bucket: "ns/name".into()
            }
        );
    }

    #[test]
    fn unsupported_schemes() {
        assert_eq!(
            problem("https://host/a.mp4"),
            UriProblem::UnsupportedScheme {
                scheme: "https".into()
            }
        );
        assert!(message("az://c/a.mp4").contains("scheme `az` is not supported"));
        assert_eq!(problem("hf://datasets/a/b/c.mp4"), UriProblem::HfNotBucket);
        assert!(message("hf://a/b/c.mp4").contains("Storage Bucket"));
    }

    #[test]
    fn object_length_and_control_characters() {
        let long = format!("s3://bucket/{}.mp4", "a".repeat(1021));
        assert_eq!(problem(&long), UriProblem::ObjectTooLong { len: 1025 });
        assert!(message(&long).contains("limit is 1024 bytes"));
        let exact = format!("s3://bucket/{}.mp4", "a".repeat(1020));
        assert!(CloudUri::parse(&exact).is_ok());
        assert_eq!(
            problem("s3://bucket/a\u{7}b.mp4"),
            UriProblem::ControlCharacter { code: 7 }
        );
        assert!(message("s3://bucket/a\u{7f}.mp4").contains("U+007F"));
    }

    #[test]
    fn gcs_bucket_rules() {
        for ok in [
            "abc",
            "a_b-c.d",
            &"a".repeat(63),
            &format!("{}.{}", "a".repeat(63), "b".repeat(63)),
        ] {
            assert!(check_gcs_bucket(ok).is_ok(), "{ok}");
        }
        let rule = |b: &str| match check_gcs_bucket(b).unwrap_err() {
            UriProblem::InvalidBucket { rule, .. } => rule,
            other => panic!("{other:?}"),
        };
        assert!(rule("ab").contains("3 to 63"));
        assert!(rule(&"a".repeat(64)).contains("3 to 63"));
        assert!(rule(&format!("{}.b", "a".repeat(64))).contains("1 to 63"));
        assert!(rule(&"a.".repeat(112)).contains("222"));
        assert!(rule("Abc").contains("lower-case"));
        assert!(rule("-abc").contains("start and end"));
        assert!(rule("a..b").contains("1 to 63"));
        assert!(message("gs://UPPER/a.mp4").contains("bucket name `UPPER` is not valid for GCS"));
    }

    #[test]
    fn s3_bucket_rules() {
        for ok in ["abc", "my.bucket-1", &"a".repeat(63), "1.2.3.a"] {
            assert!(check_s3_bucket(ok).is_ok(), "{ok}");
        }
        let rule = |b: &str| match check_s3_bucket(b).unwrap_err() {
            UriProblem::InvalidBucket { rule, .. } => rule,
            other => panic!("{other:?}"),
        };
        assert!(rule("ab").contains("3 to 63"));
        assert!(rule(&"a".repeat(64)).contains("3 to 63"));
        assert!(rule("a_b").contains("lower-case"));
        assert!(rule("a..b").contains("two dots"));
        assert!(rule("192.168.1.10").contains("IP address"));
        assert!(rule("abc-").contains("start and end"));
        assert!(message("s3://my_bucket/a.mp4").contains("not valid for S3"));
    }

    #[test]
    fn hf_bucket_rules() {
        assert!(check_hf_bucket("Org-1/my_name.v2").is_ok());
        assert!(check_hf_bucket(&format!("{}/{}", "a".repeat(96), "b".repeat(96))).is_ok());
        let rule = |b: &str| match check_hf_bucket(b).unwrap_err() {
            UriProblem::InvalidBucket { rule, .. } => rule,
            other => panic!("{other:?}"),
        };
        assert!(rule("onlyone").contains("namespace/name"));
        assert!(rule("/name").contains("non-empty"));
        assert!(rule(&format!("{}/b", "a".repeat(97))).contains("96"));
        assert!(rule("a b/c").contains("letters, digits"));
        assert!(message("hf://buckets/a b/c/x.mp4").contains("not valid for Hugging Face"));
    }

    #[test]
    fn from_parts_matches_parse() {
        let uri = CloudUri::from_parts(Provider::HfBucket, "ns/name", "a/b.mp4").unwrap();
        assert_eq!(uri.to_string(), "hf://buckets/ns/name/a/b.mp4");
        // Leading spaces belong to the name; a `/` cannot hide in the bucket.
        assert_eq!(
            CloudUri::from_parts(Provider::S3, "bucket", " a.mp4")
                .unwrap()
                .object(),
            " a.mp4"
        );
        let err = CloudUri::from_parts(Provider::S3, "abc/def", "x.mp4").unwrap_err();
        assert!(err.to_string().contains("cannot contain `/`"), "{err}");
        assert!(CloudUri::from_parts(Provider::S3, "bucket", "a.mp4").is_ok());
    }

    #[test]
    fn provider_names() {
        for p in Provider::ALL {
            assert_eq!(Provider::from_wire_name(p.wire_name()), Some(p));
        }
        assert_eq!(Provider::from_wire_name("azure"), None);
        assert_eq!(
            serde_json::to_string(&Provider::HfBucket).unwrap(),
            "\"hf_bucket\""
        );
    }

    #[test]
    fn prefix_uris() {
        let p = PrefixUri::parse(" gs://fleet-videos/2024/09 ").unwrap();
        assert_eq!(
            (p.provider(), p.bucket(), p.prefix()),
            (Provider::Gcs, "fleet-videos", "2024/09")
        );
        assert_eq!(p.folder(), Some("2024"));
        let p = PrefixUri::parse("s3://vids/").unwrap();
        assert_eq!((p.prefix(), p.folder()), ("", None));
        let p = PrefixUri::parse("s3://vids/day").unwrap();
        assert_eq!((p.prefix(), p.folder()), ("day", None));
        let p = PrefixUri::parse("hf://buckets/acme/fleet").unwrap();
        assert_eq!((p.bucket(), p.prefix()), ("acme/fleet", ""));
        assert_eq!(p.to_string(), "hf://buckets/acme/fleet/");
        let p = PrefixUri::parse("hf://buckets/acme/fleet/a #1/b/").unwrap();
        assert_eq!((p.prefix(), p.folder()), ("a #1/b/", Some("a #1/b")));
    }

    #[test]
    fn bad_prefix_uris_name_the_fix() {
        let cases = [
            ("", "no scheme"),
            ("vids/day/", "no scheme"),
            ("ftp://vids/day/", "`ftp` is not supported"),
            ("s3:///day/", "names no bucket"),
            ("s3://Vids/day/", "bucket name"),
            ("hf://datasets/acme/x/", "Storage Bucket"),
            ("hf://buckets/acme/", "bucket"),
            ("s3://vids/day/*.mp4", "--glob"),
            ("s3://vids//day/", "`folder/sub/`"),
            ("s3://vids/day/../x/", "`folder/sub/`"),
            ("s3://vids/a\u{7}/", "control character"),
        ];
        for (uri, expected) in cases {
            let err = PrefixUri::parse(uri).unwrap_err();
            assert!(err.to_string().starts_with("invalid prefix URI"), "{uri}");
            assert!(err.to_string().contains(expected), "{uri}: {err}");
        }
        let long = format!("s3://vids/{}/", "a".repeat(1100));
        assert!(
            PrefixUri::parse(&long)
                .unwrap_err()
                .to_string()
                .contains("1024")
        );
    }

    #[test]
    fn mp4_names() {
        assert!(is_mp4_name("a.mp4") && is_mp4_name("x/B.MP4") && is_mp4_name(".Mp4"));
        assert!(!is_mp4_name("a.mp4.jpg") && !is_mp4_name("mp4") && !is_mp4_name("a.mcap"));
        assert!(!is_mp4_name("clipé"), "multi-byte endings are not sliced");
    }

    #[test]
    fn check_bucket_picks_the_provider_rule() {
        assert!(Provider::Gcs.check_bucket("a_b").is_ok());
        assert!(Provider::S3.check_bucket("a_b").is_err());
        assert!(Provider::HfBucket.check_bucket("a_b").is_err());
        assert!(Provider::HfBucket.check_bucket("a/b").is_ok());
    }
}
