//! Prefix expansion: the import API takes explicit object names only, so a
//! prefix (and a glob) is turned into the list of `.mp4` objects under it.

use std::sync::Arc;

use futures::stream::StreamExt;
use import_core::glob::Glob;
use import_core::{CloudUri, PrefixUri, is_mp4_name};
use object_store::ObjectStore;

use crate::error::{ProviderError, classify};
use crate::path::object_path;

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
/// use import_core::{split_requests, Glob, ImportRequest, DEFAULT_MAX_OBJECTS};
/// use import_providers::{expand, open_source, EndpointPolicy, SourceConfig};
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
    expand_report(store, prefix_uri, glob).await.map(|e| e.uris)
}

/// Why an object under the prefix is not in an expansion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeftOutBecause {
    /// Its name does not end in `.mp4`.
    NotMp4,
    /// The glob does not match it.
    NotMatched,
    /// The API could not take its name (a wildcard or control character,
    /// longer than 1024 bytes).
    NameRefused,
}

impl LeftOutBecause {
    /// The reason, for a person.
    pub fn as_str(self) -> &'static str {
        match self {
            LeftOutBecause::NotMp4 => "not .mp4",
            LeftOutBecause::NotMatched => "does not match the glob",
            LeftOutBecause::NameRefused => "a name the API cannot take",
        }
    }
}

/// Most left-out objects an [`Expansion`] names (all are counted).
pub const MAX_LEFT_OUT_NAMED: usize = 1_000;

/// What an expansion found: the URIs, and the objects it left out, counted
/// by reason and the first [`MAX_LEFT_OUT_NAMED`] named.
#[derive(Debug, Clone, Default)]
pub struct Expansion {
    /// The objects kept, sorted by name.
    pub uris: Vec<CloudUri>,
    /// Objects left out, by reason.
    pub left_out: std::collections::BTreeMap<&'static str, usize>,
    /// The first objects left out, with why.
    pub left_out_named: Vec<(String, LeftOutBecause)>,
}

impl Expansion {
    fn leave_out(&mut self, name: &str, why: LeftOutBecause) {
        *self.left_out.entry(why.as_str()).or_default() += 1;
        if self.left_out_named.len() < MAX_LEFT_OUT_NAMED {
            self.left_out_named.push((name.to_owned(), why));
        }
    }

    /// How many objects were left out.
    pub fn left_out_count(&self) -> usize {
        self.left_out.values().sum()
    }
}

/// [`expand`], saying what it left out and why.
pub async fn expand_report(
    store: Arc<dyn ObjectStore>,
    prefix_uri: &str,
    glob: Option<&Glob>,
) -> Result<Expansion, ProviderError> {
    let prefix = PrefixUri::parse(prefix_uri)?;
    let folder = match prefix.folder() {
        Some(folder) => Some(object_path(folder)?),
        None => None,
    };
    let mut listing = store.list(folder.as_ref());
    let mut out = Expansion::default();
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
        if !is_mp4_name(name) {
            out.leave_out(name, LeftOutBecause::NotMp4);
            continue;
        }
        if glob.is_some_and(|g| !g.matches(relative)) {
            out.leave_out(name, LeftOutBecause::NotMatched);
            continue;
        }
        match CloudUri::from_parts(prefix.provider(), prefix.bucket(), name) {
            Ok(uri) => out.uris.push(uri),
            Err(err) => {
                tracing::warn!(object = name, "left out of the expansion: {err}");
                out.leave_out(name, LeftOutBecause::NameRefused);
            }
        }
    }
    out.uris.sort_unstable();
    out.uris.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_object_left_out_is_counted_and_the_first_ones_named() {
        let mut out = Expansion::default();
        for i in 0..MAX_LEFT_OUT_NAMED + 5 {
            out.leave_out(&format!("day/{i}.txt"), LeftOutBecause::NotMp4);
        }
        out.leave_out("day/a.mp4", LeftOutBecause::NotMatched);
        assert_eq!(out.left_out_count(), MAX_LEFT_OUT_NAMED + 6);
        assert_eq!(out.left_out_named.len(), MAX_LEFT_OUT_NAMED);
        assert_eq!(out.left_out["not .mp4"], MAX_LEFT_OUT_NAMED + 5);
        assert_eq!(out.left_out["does not match the glob"], 1);
    }
}
