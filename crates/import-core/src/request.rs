//! A validated batch of objects to import, and the upload body of each route.

use std::collections::{HashMap, HashSet};

use crate::error::{Error, Result};
use crate::fields::{MAX_COLLECTION_LEN, short_text};
use crate::ids::{FolderId, IntegrationId, Scope};
use crate::uri::{CloudUri, Provider};
use crate::view::ViewSet;
use crate::wire::{UploadBody, WireViewSet};

/// Default cap on objects per request.
pub const DEFAULT_MAX_OBJECTS: usize = 100_000;

/// Default collection.
pub const DEFAULT_COLLECTION: &str = "videos";

/// The objects of a request: a list of URIs or a list of view sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportObjects {
    /// Single-view: distinct URIs in the order given.
    Single(Vec<CloudUri>),
    /// Multi-view: distinct view sets in the order given.
    Multi(Vec<ViewSet>),
}

/// A validated import: objects of one provider and one bucket, with the target
/// folder, scope, integration and collection.
///
/// Build it with [`ImportRequest::builder`]; servers rebuild it from a body with
/// [`ImportRequest::from_upload_body`]. Both check the same rules.
///
/// ```
/// use import_core::{ImportRequest, Provider, Scope};
///
/// let req = ImportRequest::builder()
///     .uris(["s3://drive-archive/trip-042/front.mp4", "s3://drive-archive/trip-042/rear.mp4"])
///     .uri("s3://drive-archive/trip-042/front.mp4") // duplicates are imported once
///     .scope(Scope::Org)
///     .build()?;
/// assert_eq!(req.provider(), Provider::S3);
/// assert_eq!(req.total(), 2);
/// assert_eq!(req.route(), "/api/s3/upload");
/// assert_eq!(req.common_prefix().as_deref(), Some("trip-042/"));
///
/// let mixed = ImportRequest::builder()
///     .uris(["s3://drive-archive/a.mp4", "s3://other-bucket/b.mp4"])
///     .build();
/// assert!(mixed.unwrap_err().to_string().contains("`drive-archive` and `other-bucket`"));
/// # Ok::<(), import_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRequest {
    provider: Provider,
    bucket: String,
    objects: ImportObjects,
    folder_id: Option<FolderId>,
    scope: Scope,
    integration_id: Option<IntegrationId>,
    collection: String,
}

/// Collects the parts of an [`ImportRequest`]; [`ImportRequestBuilder::build`] validates.
#[derive(Debug, Clone)]
#[must_use]
pub struct ImportRequestBuilder {
    uris: Vec<CloudUri>,
    /// The first URI that failed to parse; reported by `build`.
    first_error: Option<Error>,
    sets: Vec<ViewSet>,
    folder_id: Option<FolderId>,
    scope: Scope,
    integration_id: Option<IntegrationId>,
    collection: Option<String>,
    max_objects: usize,
}

impl Default for ImportRequestBuilder {
    fn default() -> Self {
        ImportRequestBuilder {
            uris: Vec::new(),
            first_error: None,
            sets: Vec::new(),
            folder_id: None,
            scope: Scope::User,
            integration_id: None,
            collection: None,
            max_objects: DEFAULT_MAX_OBJECTS,
        }
    }
}

impl ImportRequestBuilder {
    /// Add one object URI (single-view). It is parsed now; the first URI that
    /// fails is reported by [`ImportRequestBuilder::build`].
    pub fn uri(mut self, uri: impl AsRef<str>) -> Self {
        self.push_uri(uri.as_ref());
        self
    }

    /// Add object URIs (single-view).
    pub fn uris<I, S>(mut self, uris: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let uris = uris.into_iter();
        self.uris.reserve(uris.size_hint().0);
        for uri in uris {
            self.push_uri(uri.as_ref());
        }
        self
    }

    /// Add an already parsed URI (single-view).
    pub fn cloud_uri(mut self, uri: CloudUri) -> Self {
        self.uris.push(uri);
        self
    }

    fn push_uri(&mut self, uri: &str) {
        if self.first_error.is_some() {
            return;
        }
        match CloudUri::parse(uri) {
            Ok(uri) => self.uris.push(uri),
            Err(e) => self.first_error = Some(e),
        }
    }

    /// Add a view set (multi-view).
    pub fn view_set(mut self, set: ViewSet) -> Self {
        self.sets.push(set);
        self
    }

    /// Add view sets (multi-view).
    pub fn view_sets(mut self, sets: impl IntoIterator<Item = ViewSet>) -> Self {
        self.sets.extend(sets);
        self
    }

    /// Import into this folder.
    pub fn folder_id(mut self, id: FolderId) -> Self {
        self.folder_id = Some(id);
        self
    }

    /// `user` (default) or `org`.
    pub fn scope(mut self, scope: Scope) -> Self {
        self.scope = scope;
        self
    }

    /// Take credentials from this saved integration.
    pub fn integration_id(mut self, id: IntegrationId) -> Self {
        self.integration_id = Some(id);
        self
    }

    /// Collection (default `videos`).
    pub fn collection(mut self, collection: impl Into<String>) -> Self {
        self.collection = Some(collection.into());
        self
    }

    /// Cap on objects per request (default 100,000).
    pub fn max_objects(mut self, max: usize) -> Self {
        self.max_objects = max;
        self
    }

    /// Validate everything and build the request.
    pub fn build(self) -> Result<ImportRequest> {
        if let Some(e) = self.first_error {
            return Err(e);
        }
        let collection = check_collection(self.collection)?;
        let (provider, bucket, objects) = match (self.uris.is_empty(), self.sets.is_empty()) {
            (true, true) => return Err(Error::EmptyRequest),
            (false, false) => return Err(Error::MixedViewModes),
            (false, true) => single(self.uris, self.max_objects)?,
            (true, false) => multi(self.sets, self.max_objects)?,
        };
        Ok(ImportRequest {
            provider,
            bucket,
            objects,
            folder_id: self.folder_id,
            scope: self.scope,
            integration_id: self.integration_id,
            collection,
        })
    }
}

fn check_collection(collection: Option<String>) -> Result<String> {
    let Some(collection) = collection else {
        return Ok(DEFAULT_COLLECTION.to_owned());
    };
    let Some(trimmed) = short_text(&collection, MAX_COLLECTION_LEN) else {
        return Err(Error::InvalidField {
            field: "collection",
            problem: format!(
                "must be 1 to {MAX_COLLECTION_LEN} characters without control characters, got `{}`; leave it out to use `{DEFAULT_COLLECTION}`",
                collection.escape_debug()
            ),
        });
    };
    Ok(trimmed.to_owned())
}

fn same_place(first: &CloudUri, other: &CloudUri) -> Result<()> {
    if first.provider() != other.provider() {
        return Err(Error::MixedProviders {
            first: first.to_string(),
            first_provider: first.provider(),
            second: other.to_string(),
            second_provider: other.provider(),
        });
    }
    if first.bucket() != other.bucket() {
        return Err(Error::MixedBuckets {
            first_bucket: first.bucket().to_owned(),
            second_bucket: other.bucket().to_owned(),
            second: other.to_string(),
        });
    }
    Ok(())
}

fn single(uris: Vec<CloudUri>, max: usize) -> Result<(Provider, String, ImportObjects)> {
    let Some(first) = uris.first().cloned() else {
        return Err(Error::EmptyRequest);
    };
    let mut keep = Vec::with_capacity(uris.len());
    {
        let mut seen: HashSet<&str> = HashSet::with_capacity(uris.len());
        for uri in &uris {
            same_place(&first, uri)?;
            keep.push(seen.insert(uri.object()));
        }
    }
    let distinct: Vec<CloudUri> = uris
        .into_iter()
        .zip(keep)
        .filter_map(|(uri, keep)| keep.then_some(uri))
        .collect();
    if distinct.len() > max {
        return Err(Error::TooManyObjects {
            count: distinct.len(),
            limit: max,
        });
    }
    Ok((
        first.provider(),
        first.bucket().to_owned(),
        ImportObjects::Single(distinct),
    ))
}

fn multi(sets: Vec<ViewSet>, max: usize) -> Result<(Provider, String, ImportObjects)> {
    let Some(first) = sets.first().map(|s| s.front().clone()) else {
        return Err(Error::EmptyRequest);
    };
    let mut owner: HashMap<&str, usize> = HashMap::new();
    let mut seen: HashSet<&ViewSet> = HashSet::with_capacity(sets.len());
    let mut kept: HashSet<usize> = HashSet::with_capacity(sets.len());
    let mut objects = 0usize;
    for (index, set) in sets.iter().enumerate() {
        if !seen.insert(set) {
            // An identical set was already kept: import it once.
            continue;
        }
        for (_, uri) in set.views() {
            same_place(&first, uri)?;
            if let Some(&first_set) = owner.get(uri.object()) {
                return Err(Error::ObjectInTwoSets {
                    uri: uri.to_string(),
                    first_set,
                    second_set: index,
                });
            }
            owner.insert(uri.object(), index);
        }
        objects += set.len();
        kept.insert(index);
    }
    if objects > max {
        return Err(Error::TooManyObjects {
            count: objects,
            limit: max,
        });
    }
    let distinct = sets
        .into_iter()
        .enumerate()
        .filter(|(i, _)| kept.contains(i))
        .map(|(_, s)| s)
        .collect();
    Ok((
        first.provider(),
        first.bucket().to_owned(),
        ImportObjects::Multi(distinct),
    ))
}

impl ImportRequest {
    /// Start building a request.
    pub fn builder() -> ImportRequestBuilder {
        ImportRequestBuilder::default()
    }

    /// Rebuild and validate a request from an upload body, as a server does.
    ///
    /// `integration` is the saved integration named by `integration_id`, if
    /// any: a single-view GCS body carries no bucket of its own. Every upload
    /// rule is checked here: a GCS import names an integration
    /// ([`Error::GcsIntegrationRequired`]), the integration is of this route's
    /// provider and bucket ([`Error::IntegrationMismatch`]), and the objects,
    /// sets and fields are valid. Names in `files`/`keys` are taken literally.
    ///
    /// ```
    /// use import_core::{ImportRequest, Provider, UploadBody};
    ///
    /// let body: UploadBody = serde_json::from_str(
    ///     r#"{"keys": ["a/x.mp4"], "bucket": "fleet", "collection": "videos", "folder_id": null, "scope": "org"}"#,
    /// )?;
    /// let req = ImportRequest::from_upload_body(Provider::S3, &body, None, 100_000)?;
    /// assert_eq!(req.uris().next().map(|u| u.to_string()).as_deref(), Some("s3://fleet/a/x.mp4"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_upload_body(
        provider: Provider,
        body: &UploadBody,
        integration: Option<SavedIntegration<'_>>,
        max_objects: usize,
    ) -> Result<ImportRequest> {
        if provider == Provider::Gcs && body.integration_id.is_none() {
            return Err(Error::GcsIntegrationRequired {
                bucket: body.bucket.clone().unwrap_or_default(),
            });
        }
        if let Some(saved) = integration
            && saved.kind != provider
        {
            return Err(Error::IntegrationMismatch {
                integration_kind: saved.kind,
                integration_bucket: saved.bucket.to_owned(),
                request_kind: provider,
                request_bucket: body.bucket.clone().unwrap_or_default(),
            });
        }
        let integration_bucket = integration.map(|saved| saved.bucket);
        let names_field = names_field(provider);
        let names = match provider {
            Provider::S3 => body.keys.as_ref(),
            Provider::Gcs | Provider::HfBucket => body.files.as_ref(),
        };
        let bucket = body.bucket.as_deref().or(integration_bucket);
        let mut builder = ImportRequest::builder().max_objects(max_objects);
        match (names, &body.sets) {
            (Some(_), Some(_)) => return Err(Error::MixedViewModes),
            (None, None) => {
                return Err(Error::InvalidField {
                    field: names_field,
                    problem: format!(
                        "is required: list the object names to import in `{names_field}`, or send multi-view `sets`"
                    ),
                });
            }
            (Some(names), None) => {
                let Some(bucket) = bucket else {
                    return Err(missing_bucket(provider));
                };
                if names.is_empty() {
                    return Err(Error::EmptyRequest);
                }
                for name in names {
                    builder = builder.cloud_uri(CloudUri::from_parts(provider, bucket, name)?);
                }
            }
            (None, Some(sets)) => {
                if provider == Provider::HfBucket {
                    return Err(Error::InvalidField {
                        field: "sets",
                        problem: "is not accepted for Hugging Face buckets, which take single-view imports only; send `files`".to_owned(),
                    });
                }
                if sets.is_empty() {
                    return Err(Error::EmptyRequest);
                }
                for (index, set) in sets.iter().enumerate() {
                    let set = ViewSet::from_pairs_at(index, &set.views)?;
                    if set.front().provider() != provider {
                        return Err(Error::InvalidField {
                            field: "sets",
                            problem: format!(
                                "holds `{}`, which is not {} URI for this route",
                                set.front(),
                                match provider {
                                    Provider::Gcs => "a `gs://`",
                                    _ => "an `s3://`",
                                }
                            ),
                        });
                    }
                    if let Some(bucket) = bucket
                        && set.front().bucket() != bucket
                    {
                        return Err(Error::MixedBuckets {
                            first_bucket: bucket.to_owned(),
                            second_bucket: set.front().bucket().to_owned(),
                            second: set.front().to_string(),
                        });
                    }
                    builder = builder.view_set(set);
                }
            }
        }
        if let Some(collection) = &body.collection {
            builder = builder.collection(collection.clone());
        }
        if let Some(folder) = &body.folder_id {
            builder = builder.folder_id(folder.clone());
        }
        if let Some(id) = &body.integration_id {
            builder = builder.integration_id(id.clone());
        }
        let request = builder.scope(body.scope.unwrap_or_default()).build()?;
        if let Some(saved) = integration {
            request.check_integration(saved.kind, saved.bucket)?;
        }
        Ok(request)
    }

    /// The provider of every object.
    pub fn provider(&self) -> Provider {
        self.provider
    }

    /// The bucket of every object (`namespace/name` for Hugging Face).
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The objects: URIs or view sets.
    pub fn objects(&self) -> &ImportObjects {
        &self.objects
    }

    /// Whether the request is made of view sets.
    pub fn is_multi_view(&self) -> bool {
        matches!(self.objects, ImportObjects::Multi(_))
    }

    /// Every object URI (every view of every set, `front` first).
    pub fn uris(&self) -> Box<dyn Iterator<Item = &CloudUri> + '_> {
        match &self.objects {
            ImportObjects::Single(uris) => Box::new(uris.iter()),
            ImportObjects::Multi(sets) => {
                Box::new(sets.iter().flat_map(|s| s.views().map(|(_, u)| u)))
            }
        }
    }

    /// Number of objects to copy (every view counts).
    pub fn object_count(&self) -> usize {
        match &self.objects {
            ImportObjects::Single(uris) => uris.len(),
            ImportObjects::Multi(sets) => sets.iter().map(ViewSet::len).sum(),
        }
    }

    /// The job's `total`: distinct objects (single-view) or sets (multi-view).
    pub fn total(&self) -> usize {
        match &self.objects {
            ImportObjects::Single(uris) => uris.len(),
            ImportObjects::Multi(sets) => sets.len(),
        }
    }

    /// Target folder.
    pub fn folder_id(&self) -> Option<&FolderId> {
        self.folder_id.as_ref()
    }

    /// Scope.
    pub fn scope(&self) -> Scope {
        self.scope
    }

    /// Integration.
    pub fn integration_id(&self) -> Option<&IntegrationId> {
        self.integration_id.as_ref()
    }

    /// Collection.
    pub fn collection(&self) -> &str {
        &self.collection
    }

    /// The same request with another integration (used when trying GCS candidates).
    #[must_use]
    pub fn with_integration_id(mut self, id: IntegrationId) -> ImportRequest {
        self.integration_id = Some(id);
        self
    }

    /// The same request with another target folder.
    #[must_use]
    pub fn with_folder_id(mut self, id: FolderId) -> ImportRequest {
        self.folder_id = Some(id);
        self
    }

    /// The upload route of the provider.
    pub fn route(&self) -> &'static str {
        upload_route(self.provider)
    }

    /// The longest common folder of the object names (`a/b/` for `a/b/x.mp4`
    /// and `a/b/y.mp4`), or `None` when they share none.
    pub fn common_prefix(&self) -> Option<String> {
        let mut names = self.uris().map(CloudUri::object);
        let first = names.next()?;
        let mut len = first.len();
        for name in names {
            len = first
                .bytes()
                .zip(name.bytes())
                .take(len)
                .take_while(|(a, b)| a == b)
                .count();
        }
        // Two names may share the first bytes of different characters
        // (`é` and `è`): cut at a character boundary.
        while !first.is_char_boundary(len) {
            len -= 1;
        }
        let common = &first[..len];
        let end = common.rfind('/')? + 1;
        Some(first[..end].to_owned())
    }

    /// Check that the request may go into a folder of scope `folder_scope`:
    /// an `org` import never into a `user` folder (a `400` on the server).
    ///
    /// ```
    /// use import_core::{ImportRequest, Scope};
    /// let org = ImportRequest::builder().uri("s3://fleet-videos/a.mp4").scope(Scope::Org).build().unwrap();
    /// assert!(org.check_folder(Scope::User, "fo_1").is_err());
    /// assert!(org.check_folder(Scope::Org, "fo_1").is_ok());
    /// ```
    pub fn check_folder(&self, folder_scope: Scope, folder_id: &str) -> Result<()> {
        if self.scope == Scope::Org && folder_scope == Scope::User {
            return Err(Error::PrivateFolder {
                folder_id: folder_id.to_owned(),
            });
        }
        Ok(())
    }

    /// Check that a saved integration may serve this request: same provider and
    /// same bucket (a `400` on the server).
    pub fn check_integration(&self, kind: Provider, bucket: &str) -> Result<()> {
        if kind != self.provider || bucket != self.bucket {
            return Err(Error::IntegrationMismatch {
                integration_kind: kind,
                integration_bucket: bucket.to_owned(),
                request_kind: self.provider,
                request_bucket: self.bucket.clone(),
            });
        }
        Ok(())
    }

    /// The JSON body of the provider's upload route, exactly as the contract shows.
    ///
    /// A GCS request without an integration is an error that says how to get one.
    pub fn upload_body(&self) -> Result<UploadBody> {
        if self.provider == Provider::Gcs && self.integration_id.is_none() {
            return Err(Error::GcsIntegrationRequired {
                bucket: self.bucket.clone(),
            });
        }
        let mut body = UploadBody {
            integration_id: self.integration_id.clone(),
            collection: Some(self.collection.clone()),
            folder_id: self.folder_id.clone(),
            scope: Some(self.scope),
            ..UploadBody::default()
        };
        match &self.objects {
            ImportObjects::Single(uris) => {
                let names: Vec<String> = uris.iter().map(|u| u.object().to_owned()).collect();
                match self.provider {
                    Provider::S3 => {
                        body.keys = Some(names);
                        body.bucket = Some(self.bucket.clone());
                    }
                    Provider::HfBucket => {
                        body.files = Some(names);
                        body.bucket = Some(self.bucket.clone());
                    }
                    Provider::Gcs => body.files = Some(names),
                }
            }
            ImportObjects::Multi(sets) => {
                body.bucket = Some(self.bucket.clone());
                body.sets = Some(
                    sets.iter()
                        .map(|s| WireViewSet {
                            views: s
                                .views()
                                .map(|(r, u)| (r.as_str().to_owned(), u.to_string()))
                                .collect(),
                        })
                        .collect(),
                );
            }
        }
        Ok(body)
    }
}

/// The object-count cap of an upload body, checked before any name is read:
/// the entries of `files` and `keys` and the views of every set in `sets` are
/// counted as written (duplicates too), without allocating a name. A body
/// that is not JSON passes here and gets its own error from the real parse.
///
/// ```
/// use import_core::{Error, check_upload_count};
///
/// let body = br#"{"keys": ["a.mp4", "b.mp4", "c.mp4"], "bucket": "b"}"#;
/// assert!(check_upload_count(body, 3).is_ok());
/// assert_eq!(check_upload_count(body, 2), Err(Error::TooManyObjects { count: 3, limit: 2 }));
/// let sets = br#"{"sets": [{"views": {"front": "s3://b/f.mp4", "left": "s3://b/l.mp4"}}]}"#;
/// assert!(check_upload_count(sets, 1).is_err());
/// ```
pub fn check_upload_count(body: &[u8], max_objects: usize) -> Result<()> {
    use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};

    /// The visits of a JSON scalar (null, bool, number, string): `$value`.
    macro_rules! scalars {
        ($value:expr) => {
            fn visit_unit<E>(self) -> std::result::Result<Self::Value, E> {
                Ok($value)
            }
            fn visit_bool<E>(self, _: bool) -> std::result::Result<Self::Value, E> {
                Ok($value)
            }
            fn visit_i64<E>(self, _: i64) -> std::result::Result<Self::Value, E> {
                Ok($value)
            }
            fn visit_u64<E>(self, _: u64) -> std::result::Result<Self::Value, E> {
                Ok($value)
            }
            fn visit_f64<E>(self, _: f64) -> std::result::Result<Self::Value, E> {
                Ok($value)
            }
            fn visit_str<E>(self, _: &str) -> std::result::Result<Self::Value, E> {
                Ok($value)
            }
        };
    }

    /// How many entries a JSON array or object holds; 0 for anything else.
    #[derive(Default)]
    struct Count(usize);
    impl<'de> serde::Deserialize<'de> for Count {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Count;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("any JSON value")
                }
                fn visit_seq<A: SeqAccess<'de>>(
                    self,
                    mut seq: A,
                ) -> std::result::Result<Count, A::Error> {
                    let mut n = 0;
                    while seq.next_element::<IgnoredAny>()?.is_some() {
                        n += 1;
                    }
                    Ok(Count(n))
                }
                fn visit_map<A: MapAccess<'de>>(
                    self,
                    mut map: A,
                ) -> std::result::Result<Count, A::Error> {
                    let mut n = 0;
                    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {
                        n += 1;
                    }
                    Ok(Count(n))
                }
                scalars!(Count(0));
            }
            d.deserialize_any(V)
        }
    }
    /// The views of one set (at least 1, whatever its shape).
    struct SetEntry(usize);
    impl<'de> serde::Deserialize<'de> for SetEntry {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = SetEntry;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("a view set")
                }
                fn visit_map<A: MapAccess<'de>>(
                    self,
                    mut map: A,
                ) -> std::result::Result<SetEntry, A::Error> {
                    let mut views = 0;
                    while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                        if key == "views" {
                            views = map.next_value::<Count>()?.0;
                        } else {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                    Ok(SetEntry(views.max(1)))
                }
                fn visit_seq<A: SeqAccess<'de>>(
                    self,
                    mut seq: A,
                ) -> std::result::Result<SetEntry, A::Error> {
                    while seq.next_element::<IgnoredAny>()?.is_some() {}
                    Ok(SetEntry(1))
                }
                scalars!(SetEntry(1));
            }
            d.deserialize_any(V)
        }
    }
    /// The views of every set.
    #[derive(Default)]
    struct SetViews(usize);
    impl<'de> serde::Deserialize<'de> for SetViews {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = SetViews;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("a list of view sets")
                }
                fn visit_seq<A: SeqAccess<'de>>(
                    self,
                    mut seq: A,
                ) -> std::result::Result<SetViews, A::Error> {
                    let mut n = 0usize;
                    while let Some(set) = seq.next_element::<SetEntry>()? {
                        n = n.saturating_add(set.0);
                    }
                    Ok(SetViews(n))
                }
                fn visit_map<A: MapAccess<'de>>(
                    self,
                    mut map: A,
                ) -> std::result::Result<SetViews, A::Error> {
                    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                    Ok(SetViews(0))
                }
                scalars!(SetViews(0));
            }
            d.deserialize_any(V)
        }
    }
    #[derive(serde::Deserialize)]
    struct Counted {
        #[serde(default)]
        files: Count,
        #[serde(default)]
        keys: Count,
        #[serde(default)]
        sets: SetViews,
    }
    let Ok(counted) = serde_json::from_slice::<Counted>(body) else {
        return Ok(());
    };
    let count = counted.files.0.max(counted.keys.0).max(counted.sets.0);
    if count > max_objects {
        return Err(Error::TooManyObjects {
            count,
            limit: max_objects,
        });
    }
    Ok(())
}

/// A saved integration as an upload sees it: its provider and bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SavedIntegration<'a> {
    /// Its provider.
    pub kind: Provider,
    /// Its bucket.
    pub bucket: &'a str,
}

/// The upload route of a provider.
pub fn upload_route(provider: Provider) -> &'static str {
    crate::routes::upload(provider).template
}

fn names_field(provider: Provider) -> &'static str {
    match provider {
        Provider::S3 => "keys",
        Provider::Gcs | Provider::HfBucket => "files",
    }
}

fn missing_bucket(provider: Provider) -> Error {
    Error::InvalidField {
        field: "bucket",
        problem: match provider {
            Provider::Gcs => "is unknown: a GCS import takes its bucket from `integration_id`; pass the id of a saved `gcs` integration".to_owned(),
            Provider::S3 => "is required: name the S3 bucket the keys are in".to_owned(),
            Provider::HfBucket => "is required: name the Hugging Face bucket as `namespace/name`".to_owned(),
        },
    }
}

/// Whether an object name lies inside an integration's prefix (`None` or empty
/// means the whole bucket).
///
/// ```
/// assert!(import_core::object_in_prefix("raw/a.mp4", Some("raw/")));
/// assert!(!import_core::object_in_prefix("cooked/a.mp4", Some("raw/")));
/// assert!(import_core::object_in_prefix("any.mp4", None));
/// ```
pub fn object_in_prefix(object: &str, prefix: Option<&str>) -> bool {
    match prefix {
        None | Some("") => true,
        Some(prefix) => object.starts_with(prefix),
    }
}

/// Split a list (of URIs, usually) into chunks of at most `cap` (the
/// server's cap per request, [`DEFAULT_MAX_OBJECTS`] by default), in order;
/// one import request per chunk.
///
/// A `cap` of 0 gives no chunk at all (nothing could be sent).
///
/// ```
/// use import_core::CloudUri;
///
/// let uris: Vec<CloudUri> = (0..5)
///     .map(|i| CloudUri::parse(&format!("s3://vids/day/cam-{i}.mp4")).unwrap())
///     .collect();
/// let chunks = import_core::split_requests(uris, 2);
/// assert_eq!(chunks.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 1]);
/// assert!(import_core::split_requests(Vec::<CloudUri>::new(), 2).is_empty());
/// ```
pub fn split_requests<T>(uris: Vec<T>, cap: usize) -> Vec<Vec<T>> {
    if cap == 0 {
        return Vec::new();
    }
    let mut chunks = Vec::with_capacity(uris.len().div_ceil(cap));
    let mut rest = uris.into_iter();
    loop {
        let chunk: Vec<T> = rest.by_ref().take(cap).collect();
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
    fn empty_and_mixed_modes() {
        assert_eq!(
            ImportRequest::builder().build().unwrap_err(),
            Error::EmptyRequest
        );
        assert_eq!(
            Error::EmptyRequest.to_string(),
            "the import request names no object; add at least one `.mp4` URI or view set"
        );
        let set = ViewSet::from_pairs([("front", "s3://bkt/f.mp4")]).unwrap();
        let err = ImportRequest::builder()
            .uri("s3://bkt/a.mp4")
            .view_set(set)
            .build()
            .unwrap_err();
        assert_eq!(err, Error::MixedViewModes);
        assert!(err.to_string().contains("not both"));
    }

    #[test]
    fn one_provider_one_bucket() {
        let err = ImportRequest::builder()
            .uris(["s3://bkt/a.mp4", "gs://bkt/b.mp4"])
            .build()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "one import request takes objects of one provider, but `s3://bkt/a.mp4` is an S3 object and `gs://bkt/b.mp4` is a GCS object; split them into one request per provider"
        );
        let err = ImportRequest::builder()
            .uris(["s3://bkt/a.mp4", "s3://bkt2/b.mp4"])
            .build()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "one import request takes objects of one bucket, but it names `bkt` and `bkt2` (at `s3://bkt2/b.mp4`); split them into one request per bucket"
        );
    }

    #[test]
    fn first_bad_uri_is_reported() {
        let err = ImportRequest::builder()
            .uris(["s3://bkt/a.mp4", "s3://bkt/b.jpg"])
            .build()
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("invalid cloud URI `s3://bkt/b.jpg`"),
            "{err}"
        );
    }

    #[test]
    fn duplicates_removed_in_order() {
        let req = ImportRequest::builder()
            .uris([
                "s3://bkt/b.mp4",
                "s3://bkt/a.mp4",
                " S3://bkt/b.mp4",
                "s3://bkt/a.mp4",
            ])
            .build()
            .unwrap();
        let names: Vec<&str> = req.uris().map(CloudUri::object).collect();
        assert_eq!(names, ["b.mp4", "a.mp4"]);
        assert_eq!(req.total(), 2);
    }

    #[test]
    fn cap_on_objects() {
        let uris: Vec<String> = (0..5).map(|i| format!("s3://bkt/{i}.mp4")).collect();
        let err = ImportRequest::builder()
            .uris(uris.clone())
            .max_objects(4)
            .build()
            .unwrap_err();
        assert_eq!(err, Error::TooManyObjects { count: 5, limit: 4 });
        assert_eq!(
            err.to_string(),
            "the import request names 5 objects but at most 4 are accepted per request; split it into several requests"
        );
        assert!(
            ImportRequest::builder()
                .uris(uris)
                .max_objects(5)
                .build()
                .is_ok()
        );
        // Duplicates do not count against the cap.
        let dup = vec!["s3://bkt/a.mp4"; 10];
        assert!(
            ImportRequest::builder()
                .uris(dup)
                .max_objects(1)
                .build()
                .is_ok()
        );
        // Every view counts for multi-view.
        let set =
            ViewSet::from_pairs([("front", "s3://bkt/f.mp4"), ("left", "s3://bkt/l.mp4")]).unwrap();
        let err = ImportRequest::builder()
            .view_set(set)
            .max_objects(1)
            .build()
            .unwrap_err();
        assert_eq!(err, Error::TooManyObjects { count: 2, limit: 1 });
    }

    #[test]
    fn collection_default_and_checks() {
        let req = ImportRequest::builder()
            .uri("s3://bkt/a.mp4")
            .build()
            .unwrap();
        assert_eq!(req.collection(), "videos");
        let err = ImportRequest::builder()
            .uri("s3://bkt/a.mp4")
            .collection("  ")
            .build()
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("`collection` must be 1 to 128 characters"),
            "{err}"
        );
    }

    #[test]
    fn view_sets_dedupe_and_exclusive_objects() {
        let a = ViewSet::from_pairs([
            ("front", "s3://bkt/t1/f.mp4"),
            ("left", "s3://bkt/t1/l.mp4"),
        ])
        .unwrap();
        let b = ViewSet::from_pairs([("front", "s3://bkt/t2/f.mp4")]).unwrap();
        let req = ImportRequest::builder()
            .view_sets([a.clone(), b.clone(), a.clone()])
            .build()
            .unwrap();
        assert_eq!(req.total(), 2);
        assert_eq!(req.object_count(), 3);
        let c = ViewSet::from_pairs([
            ("front", "s3://bkt/t3/f.mp4"),
            ("rear", "s3://bkt/t1/l.mp4"),
        ])
        .unwrap();
        let err = ImportRequest::builder()
            .view_sets([a, b, c])
            .build()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "`s3://bkt/t1/l.mp4` appears in view sets 0 and 2; an object can belong to one set only"
        );
        let other = ViewSet::from_pairs([("front", "s3://zzz/f.mp4")]).unwrap();
        let err = ImportRequest::builder()
            .view_sets([
                ViewSet::from_pairs([("front", "s3://bkt/f.mp4")]).unwrap(),
                other,
            ])
            .build()
            .unwrap_err();
        assert!(matches!(err, Error::MixedBuckets { .. }));
    }

    #[test]
    fn gcs_without_integration_says_how_to_get_one() {
        let req = ImportRequest::builder()
            .uri("gs://bkt/a.mp4")
            .build()
            .unwrap();
        let err = req.upload_body().unwrap_err();
        assert_eq!(
            err,
            Error::GcsIntegrationRequired {
                bucket: "bkt".into()
            }
        );
        assert!(
            err.to_string().contains("vimport integrations add gcs"),
            "{err}"
        );
        let ok = req.with_integration_id(IntegrationId::new("ci_1").unwrap());
        assert!(ok.upload_body().is_ok());
    }

    #[test]
    fn common_prefix_is_a_folder() {
        let prefix = |uris: &[&str]| {
            ImportRequest::builder()
                .uris(uris.iter().copied())
                .build()
                .unwrap()
                .common_prefix()
        };
        // Names that share the first byte of different characters.
        assert_eq!(
            prefix(&["s3://bkt/a/é.mp4", "s3://bkt/a/è.mp4"]).as_deref(),
            Some("a/")
        );
        assert_eq!(prefix(&["s3://bkt/é/x.mp4", "s3://bkt/è/x.mp4"]), None);
        assert_eq!(
            prefix(&["s3://bkt/a/b/x.mp4", "s3://bkt/a/b/y.mp4"]).as_deref(),
            Some("a/b/")
        );
        assert_eq!(
            prefix(&["s3://bkt/a/bc/x.mp4", "s3://bkt/a/bd/y.mp4"]).as_deref(),
            Some("a/")
        );
        assert_eq!(prefix(&["s3://bkt/x.mp4", "s3://bkt/y.mp4"]), None);
        assert_eq!(prefix(&["s3://bkt/only/one.mp4"]).as_deref(), Some("only/"));
    }

    #[test]
    fn integration_must_match() {
        let req = ImportRequest::builder()
            .uri("s3://bkt/a.mp4")
            .build()
            .unwrap();
        assert!(req.check_integration(Provider::S3, "bkt").is_ok());
        let err = req.check_integration(Provider::Gcs, "bkt").unwrap_err();
        assert_eq!(err.http_status(), 400);
        assert!(
            err.to_string()
                .contains("is a `gcs` integration, but the request imports from s3 buckets"),
            "{err}"
        );
        let err = req.check_integration(Provider::S3, "other").unwrap_err();
        assert!(
            err.to_string().contains(
                "the integration is for bucket `other`, but the request imports from s3 bucket `bkt`"
            ),
            "{err}"
        );
    }

    #[test]
    fn from_body_errors() {
        let body = |json: &str| serde_json::from_str::<UploadBody>(json).unwrap();
        let err =
            ImportRequest::from_upload_body(Provider::S3, &body(r#"{"bucket":"bkt"}"#), None, 10)
                .unwrap_err();
        assert!(err.to_string().starts_with("`keys` is required"), "{err}");
        let err =
            ImportRequest::from_upload_body(Provider::S3, &body(r#"{"keys":["a.mp4"]}"#), None, 10)
                .unwrap_err();
        assert!(err.to_string().starts_with("`bucket` is required"), "{err}");
        // An integration id whose integration is not given: no bucket.
        let err = ImportRequest::from_upload_body(
            Provider::Gcs,
            &body(r#"{"files":["a.mp4"],"integration_id":"ci_1"}"#),
            None,
            10,
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("takes its bucket from `integration_id`"),
            "{err}"
        );
        let err = ImportRequest::from_upload_body(
            Provider::S3,
            &body(r#"{"keys":[],"bucket":"bkt"}"#),
            None,
            10,
        )
        .unwrap_err();
        assert_eq!(err, Error::EmptyRequest);
        let err = ImportRequest::from_upload_body(
            Provider::HfBucket,
            &body(r#"{"sets":[{"views":{"front":"hf://buckets/a/b/f.mp4"}}],"bucket":"a/b"}"#),
            None,
            10,
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("single-view imports only"),
            "{err}"
        );
        let err = ImportRequest::from_upload_body(
            Provider::S3,
            &body(r#"{"sets":[{"views":{"front":"s3://bkt/f.mp4"}},{"views":{"left":"s3://bkt/l.mp4"}}],"bucket":"bkt"}"#),
            None,
            10,
        )
        .unwrap_err();
        assert!(
            matches!(err, Error::MissingFrontView { index: 1, .. }),
            "{err}"
        );
        let err = ImportRequest::from_upload_body(
            Provider::S3,
            &body(r#"{"sets":[{"views":{"front":"gs://bkt/f.mp4"}}],"bucket":"bkt"}"#),
            None,
            10,
        )
        .unwrap_err();
        assert!(err.to_string().contains("not an `s3://` URI"), "{err}");
        let err = ImportRequest::from_upload_body(
            Provider::S3,
            &body(r#"{"sets":[{"views":{"front":"s3://bkt/f.mp4"}}],"bucket":"other"}"#),
            None,
            10,
        )
        .unwrap_err();
        assert!(matches!(err, Error::MixedBuckets { .. }), "{err}");
        let err = ImportRequest::from_upload_body(
            Provider::S3,
            &body(r#"{"keys":["a.mp4"],"sets":[],"bucket":"bkt"}"#),
            None,
            10,
        )
        .unwrap_err();
        assert_eq!(err, Error::MixedViewModes);
        let err = ImportRequest::from_upload_body(
            Provider::S3,
            &body(r#"{"keys":["x.mov"],"bucket":"bkt"}"#),
            None,
            10,
        )
        .unwrap_err();
        assert!(err.to_string().contains("`s3://bkt/x.mov`"), "{err}");
    }

    #[test]
    fn upload_bodies_are_checked_against_the_saved_integration() {
        let body = |json: &str| serde_json::from_str::<UploadBody>(json).unwrap();
        let err = ImportRequest::from_upload_body(
            Provider::Gcs,
            &body(r#"{"files":["a.mp4"],"bucket":"bkt"}"#),
            None,
            10,
        )
        .unwrap_err();
        assert_eq!(
            err,
            Error::GcsIntegrationRequired {
                bucket: "bkt".into()
            }
        );
        assert!(
            err.to_string().contains("`integration_id` is required"),
            "{err}"
        );
        let s3 = SavedIntegration {
            kind: Provider::S3,
            bucket: "bkt",
        };
        let err = ImportRequest::from_upload_body(
            Provider::Gcs,
            &body(r#"{"files":["a.mp4"],"integration_id":"ci_1"}"#),
            Some(s3),
            10,
        )
        .unwrap_err();
        assert!(matches!(err, Error::IntegrationMismatch { .. }), "{err}");
        assert!(err.to_string().contains("is a `s3` integration"), "{err}");
        let err = ImportRequest::from_upload_body(
            Provider::S3,
            &body(r#"{"keys":["a.mp4"],"bucket":"other","integration_id":"ci_1"}"#),
            Some(s3),
            10,
        )
        .unwrap_err();
        assert!(matches!(err, Error::IntegrationMismatch { .. }), "{err}");
        // A body without a bucket imports from the integration's.
        let req = ImportRequest::from_upload_body(
            Provider::S3,
            &body(r#"{"keys":["a.mp4"],"integration_id":"ci_1"}"#),
            Some(s3),
            10,
        )
        .unwrap();
        assert_eq!(req.bucket(), "bkt");
    }

    #[test]
    fn body_round_trips_through_from_upload_body() {
        let req = ImportRequest::builder()
            .uris(["hf://buckets/ns/name/a.mp4", "hf://buckets/ns/name/b/c.mp4"])
            .scope(Scope::Org)
            .folder_id(FolderId::new("fo_1").unwrap())
            .collection("clips")
            .build()
            .unwrap();
        let body = req.upload_body().unwrap();
        let back = ImportRequest::from_upload_body(Provider::HfBucket, &body, None, 10).unwrap();
        assert_eq!(back, req);
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
