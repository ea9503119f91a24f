//! Prefix expansion: the import API takes explicit object names only, so a
//! prefix (and a glob) is turned into the list of `.mp4` objects under it.

use std::fmt;
use std::sync::Arc;

use futures::stream::StreamExt;
use import_core::glob::Glob;
use import_core::{
    CloudUri, MAX_OBJECT_NAME_BYTES, Provider, check_gcs_bucket, check_hf_bucket, check_s3_bucket,
};
use object_store::ObjectStore;

use crate::error::{ProviderError, classify};
use crate::path::object_path;

/// A bucket and a prefix inside it: `s3://bucket/prefix`,
/// `gs://bucket/prefix` or `hf://buckets/namespace/name/prefix`.
///
/// The prefix is taken literally, like an object name, and matched as a
/// string: `s3://vids/2024-09` covers `2024-09-01/a.mp4` and `2024-09.mp4`,
/// while `s3://vids/2024-09/` covers only what is in that folder. It may be
/// empty (the whole bucket).
///
/// ```
/// use import_core::Provider;
/// use import_providers::PrefixUri;
///
/// let p = PrefixUri::parse("hf://buckets/acme/fleet/day 1/")?;
/// assert_eq!(p.provider(), Provider::HfBucket);
/// assert_eq!(p.bucket(), "acme/fleet");
/// assert_eq!(p.prefix(), "day 1/");
/// assert_eq!(PrefixUri::parse("S3://vids")?.to_string(), "s3://vids/");
/// assert!(PrefixUri::parse("s3://vids/day/*.mp4").unwrap_err().to_string().contains("glob"));
/// # Ok::<(), import_providers::ProviderError>(())
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
    pub fn parse(input: &str) -> Result<PrefixUri, ProviderError> {
        let uri = input.trim();
        let fail = |problem: String| ProviderError::InvalidPrefix {
            uri: uri.chars().take(200).collect(),
            problem,
        };
        let Some((scheme, rest)) = uri.split_once("://") else {
            return Err(fail(
                "it has no scheme; write `s3://bucket/folder/`, `gs://bucket/folder/` or `hf://buckets/namespace/name/folder/`".to_owned(),
            ));
        };
        let is = |name: &str| scheme.eq_ignore_ascii_case(name);
        let (provider, bucket, prefix) = if is("s3") || is("gs") {
            let provider = if is("s3") {
                Provider::S3
            } else {
                Provider::Gcs
            };
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(fail(format!(
                    "it names no bucket; write `{}bucket/folder/`",
                    provider.uri_prefix()
                )));
            }
            let check = if provider == Provider::S3 {
                check_s3_bucket
            } else {
                check_gcs_bucket
            };
            check(bucket).map_err(|p| fail(p.to_string()))?;
            (provider, bucket.to_owned(), prefix)
        } else if is("hf") {
            let Some(rest) = rest.strip_prefix("buckets/") else {
                return Err(fail(
                    "Hugging Face prefixes name a Storage Bucket as `hf://buckets/namespace/name/folder/`; model, dataset and Space repositories cannot be imported".to_owned(),
                ));
            };
            let mut parts = rest.splitn(3, '/');
            let namespace = parts.next().unwrap_or_default();
            let name = parts.next().unwrap_or_default();
            let bucket = format!("{namespace}/{name}");
            check_hf_bucket(&bucket).map_err(|p| fail(p.to_string()))?;
            (Provider::HfBucket, bucket, parts.next().unwrap_or_default())
        } else {
            return Err(fail(format!(
                "scheme `{}` is not supported; use `s3://`, `gs://` or `hf://buckets/`",
                scheme.chars().take(20).collect::<String>()
            )));
        };
        check_prefix(prefix).map_err(fail)?;
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
    fn folder(&self) -> Option<&str> {
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

fn check_prefix(prefix: &str) -> Result<(), String> {
    if prefix.len() > MAX_OBJECT_NAME_BYTES {
        return Err(format!(
            "the prefix is {} bytes long, longer than any object name (1024 bytes); shorten it",
            prefix.len()
        ));
    }
    if let Some(c) = prefix.chars().find(|c| c.is_control()) {
        return Err(format!(
            "the prefix contains a control character (U+{:04X}); remove it",
            u32::from(c)
        ));
    }
    if prefix.contains(['*', '?', '[']) {
        return Err(
            "the prefix contains a wildcard (`*`, `?` or `[`); give the folder as the prefix and the pattern as the glob (`--glob '*.mp4'`)".to_owned(),
        );
    }
    if let Some((folder, _)) = prefix.rsplit_once('/')
        && (folder.is_empty() || object_path(folder).is_err())
    {
        return Err(
            "the prefix has an empty folder (`//` or a leading `/`) or a `.` or `..` folder; write it as `folder/sub/`".to_owned(),
        );
    }
    Ok(())
}

fn is_mp4(name: &str) -> bool {
    let bytes = name.as_bytes();
    bytes.len() >= 4 && bytes[bytes.len() - 4..].eq_ignore_ascii_case(b".mp4")
}

/// List the `.mp4` objects under a prefix, as explicit URIs.
///
/// `prefix_uri` is `s3://bucket/folder/`, `gs://bucket/folder/` or
/// `hf://buckets/namespace/name/folder/` (see [`PrefixUri`]); `store` must be
/// that bucket, opened by the caller with [`open_source`](crate::open_source)
/// (so the endpoint guard applies). The listing is recursive and keeps the
/// objects whose name ends in `.mp4` (any case) and, when a `glob` is given,
/// whose name relative to the prefix it matches (`**/front*.mp4`,
/// `cam-[0-9].mp4`, ...). The result is sorted by name.
///
/// Objects the API could not take anyway (a name with a wildcard character
/// or a control character, longer than 1024 bytes) are left out with a
/// warning in the log. A failed listing is [`ProviderError::List`] with the
/// [`classify`] kind and message; a bad URI is
/// [`ProviderError::InvalidPrefix`].
///
/// ```no_run
/// use import_core::{Glob, ImportRequest, DEFAULT_MAX_OBJECTS};
/// use import_providers::{expand, open_source, split_requests, EndpointPolicy, SourceConfig};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let source = SourceConfig::Hf { bucket: "acme/fleet".into(), token: None };
/// let store = open_source(&source, &EndpointPolicy::new(), import_providers::DEFAULT_HF_ENDPOINT).await?;
/// let glob = Glob::parse("**/front*.mp4")?;
/// let uris = expand(store, "hf://buckets/acme/fleet/2024-09-01/", Some(&glob)).await?;
/// for chunk in split_requests(uris, DEFAULT_MAX_OBJECTS) {
///     let request = ImportRequest::builder().uris(chunk.iter().map(|u| u.to_string())).build()?;
///     println!("{} objects", request.total());
/// }
/// # Ok(()) }
/// ```
pub async fn expand(
    store: Arc<dyn ObjectStore>,
    prefix_uri: &str,
    glob: Option<&Glob>,
) -> Result<Vec<CloudUri>, ProviderError> {
    let prefix = PrefixUri::parse(prefix_uri)?;
    let folder = match prefix.folder() {
        Some(folder) => Some(object_path(folder)?),
        None => None,
    };
    let mut listing = store.list(folder.as_ref());
    let mut uris = Vec::new();
    while let Some(meta) = listing.next().await {
        let meta = meta.map_err(|err| {
            let failure = classify(&err);
            ProviderError::List {
                prefix: prefix.to_string(),
                kind: failure.kind,
                message: failure.message,
            }
        })?;
        let name = meta.location.as_ref();
        let Some(relative) = name.strip_prefix(prefix.prefix()) else {
            continue;
        };
        if !is_mp4(name) || glob.is_some_and(|g| !g.matches(relative)) {
            continue;
        }
        match CloudUri::from_parts(prefix.provider(), prefix.bucket(), name) {
            Ok(uri) => uris.push(uri),
            Err(err) => tracing::warn!(object = name, "left out of the expansion: {err}"),
        }
    }
    uris.sort_unstable();
    uris.dedup();
    Ok(uris)
}

/// Split a list of URIs into chunks of at most `cap` (the server's cap per
/// request, [`DEFAULT_MAX_OBJECTS`](import_core::DEFAULT_MAX_OBJECTS) by
/// default), in order; one import request per chunk.
///
/// A `cap` of 0 gives no chunk at all (nothing could be sent).
///
/// ```
/// use import_core::CloudUri;
///
/// let uris: Vec<CloudUri> = (0..5)
///     .map(|i| CloudUri::parse(&format!("s3://vids/day/cam-{i}.mp4")).unwrap())
///     .collect();
/// let chunks = import_providers::split_requests(uris, 2);
/// assert_eq!(chunks.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 1]);
/// assert!(import_providers::split_requests(Vec::new(), 2).is_empty());
/// ```
pub fn split_requests(uris: Vec<CloudUri>, cap: usize) -> Vec<Vec<CloudUri>> {
    if cap == 0 {
        return Vec::new();
    }
    let mut chunks = Vec::with_capacity(uris.len().div_ceil(cap));
    let mut rest = uris.into_iter();
    loop {
        let chunk: Vec<CloudUri> = rest.by_ref().take(cap).collect();
        if chunk.is_empty() {
            return chunks;
        }
        chunks.push(chunk);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            assert!(matches!(err, ProviderError::InvalidPrefix { .. }), "{uri}");
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
        assert!(is_mp4("a.mp4") && is_mp4("x/B.MP4") && is_mp4(".Mp4"));
        assert!(!is_mp4("a.mp4.jpg") && !is_mp4("mp4") && !is_mp4("a.mcap"));
        assert!(!is_mp4("clipé"), "multi-byte endings are not sliced");
    }

    #[test]
    fn chunks() {
        let uris: Vec<CloudUri> = (0..10)
            .map(|i| CloudUri::parse(&format!("s3://vids/{i}.mp4")).unwrap())
            .collect();
        let chunks = split_requests(uris.clone(), 4);
        assert_eq!(chunks.iter().map(Vec::len).collect::<Vec<_>>(), [4, 4, 2]);
        assert_eq!(chunks.concat(), uris);
        assert_eq!(split_requests(uris.clone(), 10).len(), 1);
        assert_eq!(split_requests(uris.clone(), usize::MAX).len(), 1);
        assert!(split_requests(uris, 0).is_empty());
    }
}
