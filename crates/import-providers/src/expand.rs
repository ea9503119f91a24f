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
        if !is_mp4_name(name) || glob.is_some_and(|g| !g.matches(relative)) {
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
