//! Pre-flight checks: before an import is sent, look at every object in the
//! bucket the way the importer will, and say what would fail.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::stream::{self, StreamExt};
use import_core::{CloudUri, ImportRequest, NotMp4, SNIFF_LEN, object_in_prefix, sniff_mp4};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use serde::Serialize;

use crate::config::SourceConfig;
use crate::endpoint::{EndpointPolicy, check_source};
use crate::error::{FailureKind, NOT_FOUND, ProviderError, classify};
use crate::hf::HfBucketStore;
use crate::path::object_path;

/// Objects checked at the same time by default.
pub const DEFAULT_PREFLIGHT_CONCURRENCY: usize = 32;

/// How [`preflight`] runs.
///
/// ```
/// let options = import_providers::PreflightOptions::default().with_concurrency(8);
/// assert_eq!(options.concurrency, 8);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PreflightOptions {
    /// Objects checked at the same time (default
    /// [`DEFAULT_PREFLIGHT_CONCURRENCY`]); 0 counts as 1.
    pub concurrency: usize,
}

impl Default for PreflightOptions {
    fn default() -> Self {
        PreflightOptions {
            concurrency: DEFAULT_PREFLIGHT_CONCURRENCY,
        }
    }
}

impl PreflightOptions {
    /// Check up to `concurrency` objects at the same time (0 counts as 1).
    #[must_use]
    pub fn with_concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency;
        self
    }
}

/// What the pre-flight found for one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ObjectCheck {
    /// The object exists, is not empty and starts with an MP4 `ftyp` box.
    Ok {
        /// Its size in bytes.
        size: u64,
    },
    /// No such object in the bucket.
    Missing,
    /// The object has no bytes.
    Empty,
    /// The object does not start with an MP4 `ftyp` box.
    NotMp4 {
        /// Why, for a person (what it looks like instead, and the fix).
        reason: String,
    },
    /// The object lies outside the integration's prefix, so the integration
    /// cannot read it; nothing was sent to the bucket for it.
    OutsidePrefix {
        /// The integration's prefix.
        prefix: String,
    },
    /// The credentials work, but not for this object.
    Denied {
        /// What the bucket said, with the fix.
        message: String,
    },
    /// Reading the object failed for another reason (after retries).
    Failed {
        /// What happened, with the fix when there is one.
        message: String,
    },
    /// Not checked: the credentials were refused (see
    /// [`PreflightReport::credentials`]), so the pre-flight stopped.
    NotChecked,
}

impl ObjectCheck {
    /// Whether the object is ready to import.
    pub fn is_ok(&self) -> bool {
        matches!(self, ObjectCheck::Ok { .. })
    }

    /// A short label for counting: `ok`, `missing`, `empty`, `not an MP4`, ...
    fn label(&self) -> &'static str {
        match self {
            ObjectCheck::Ok { .. } => "ready",
            ObjectCheck::Missing => "missing",
            ObjectCheck::Empty => "empty",
            ObjectCheck::NotMp4 { .. } => "not an MP4",
            ObjectCheck::OutsidePrefix { .. } => "outside the prefix",
            ObjectCheck::Denied { .. } => "denied",
            ObjectCheck::Failed { .. } => "failed",
            ObjectCheck::NotChecked => "not checked",
        }
    }
}

impl fmt::Display for ObjectCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ObjectCheck::Ok { size } => write!(f, "an MP4 of {}", human_bytes(*size)),
            ObjectCheck::Missing => f.write_str(
                "object not found in the bucket; check its name (names are case-sensitive) or upload it",
            ),
            ObjectCheck::Empty => write!(f, "{}", NotMp4::Empty),
            ObjectCheck::NotMp4 { reason } => f.write_str(reason),
            ObjectCheck::OutsidePrefix { prefix } => write!(
                f,
                "outside the integration's prefix `{prefix}`, so the integration cannot read it; move the object under the prefix or use an integration for the whole bucket"
            ),
            ObjectCheck::Denied { message } | ObjectCheck::Failed { message } => {
                f.write_str(message)
            }
            ObjectCheck::NotChecked => {
                f.write_str("not checked: the pre-flight stopped because the credentials were refused")
            }
        }
    }
}

/// One object and what the pre-flight found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectReport {
    /// The object.
    pub uri: CloudUri,
    /// What was found.
    pub check: ObjectCheck,
}

/// What [`preflight`] found: one [`ObjectReport`] per object of the request,
/// in the request's order, and the credentials problem if there was one.
///
/// `Display` writes a summary: the counts on the first line, then the
/// credentials problem and up to 20 problem objects, one a line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PreflightReport {
    /// Every object of the request, in its order.
    pub objects: Vec<ObjectReport>,
    /// Why the credentials were refused, reported once; the objects left
    /// unchecked are [`ObjectCheck::NotChecked`].
    pub credentials: Option<String>,
}

/// Most problem objects listed by `Display`.
const SHOWN_PROBLEMS: usize = 20;

impl PreflightReport {
    /// Whether every object is ready to import and the credentials work.
    pub fn is_ok(&self) -> bool {
        self.credentials.is_none() && self.objects.iter().all(|o| o.check.is_ok())
    }

    /// The objects that are not ready, in the request's order.
    pub fn problems(&self) -> impl Iterator<Item = &ObjectReport> {
        self.objects.iter().filter(|o| !o.check.is_ok())
    }

    /// The objects that are ready, in the request's order.
    pub fn ready(&self) -> impl Iterator<Item = &CloudUri> {
        self.objects
            .iter()
            .filter(|o| o.check.is_ok())
            .map(|o| &o.uri)
    }
}

impl fmt::Display for PreflightReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total = self.objects.len();
        let mut ready = 0usize;
        let mut bytes = 0u64;
        // Labels in a fixed order, with their counts.
        let mut counts: Vec<(&'static str, usize)> = Vec::new();
        for object in &self.objects {
            if let ObjectCheck::Ok { size } = object.check {
                ready += 1;
                bytes = bytes.saturating_add(size);
                continue;
            }
            let label = object.check.label();
            match counts.iter_mut().find(|(l, _)| *l == label) {
                Some((_, n)) => *n += 1,
                None => counts.push((label, 1)),
            }
        }
        write!(
            f,
            "pre-flight: {ready} of {total} object{} ready ({})",
            if total == 1 { "" } else { "s" },
            human_bytes(bytes)
        )?;
        for (label, n) in &counts {
            write!(f, ", {n} {label}")?;
        }
        if let Some(credentials) = &self.credentials {
            write!(
                f,
                "\n  credentials: {credentials} (the pre-flight stopped so as not to repeat requests with refused credentials)"
            )?;
        }
        let shown: Vec<&ObjectReport> = self
            .problems()
            .filter(|o| o.check != ObjectCheck::NotChecked)
            .collect();
        for object in shown.iter().take(SHOWN_PROBLEMS) {
            write!(f, "\n  {}: {}", object.uri, object.check)?;
        }
        if shown.len() > SHOWN_PROBLEMS {
            write!(f, "\n  ... and {} more", shown.len() - SHOWN_PROBLEMS)?;
        }
        Ok(())
    }
}

fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// The bucket a pre-flight reads: any store, and for a Hugging Face bucket
/// the [`HfBucketStore`] itself, whose `paths-info` answers for 1,000
/// objects at a time. Made from an `Arc<dyn ObjectStore>` (every object is
/// checked with `HEAD`), or opened with [`PreflightStore::open`].
#[derive(Debug, Clone)]
pub struct PreflightStore {
    store: Arc<dyn ObjectStore>,
    hub: Option<HfBucketStore>,
}

impl From<Arc<dyn ObjectStore>> for PreflightStore {
    fn from(store: Arc<dyn ObjectStore>) -> Self {
        PreflightStore { store, hub: None }
    }
}

impl From<HfBucketStore> for PreflightStore {
    fn from(hub: HfBucketStore) -> Self {
        PreflightStore {
            store: Arc::new(hub.clone()),
            hub: Some(hub),
        }
    }
}

impl PreflightStore {
    /// Open the bucket of `config` as [`open_source`](crate::open_source)
    /// does (the endpoint guard applies), keeping a Hugging Face bucket's
    /// `paths-info`.
    pub async fn open(
        config: &SourceConfig,
        policy: &EndpointPolicy,
        hf_endpoint: &str,
    ) -> Result<PreflightStore, ProviderError> {
        match config {
            SourceConfig::Hf { bucket, token } => {
                check_source(config, policy).await?;
                Ok(HfBucketStore::new(hf_endpoint, bucket, token.clone(), policy)?.into())
            }
            _ => Ok(crate::open_source(config, policy, hf_endpoint)
                .await?
                .into()),
        }
    }
}

/// What checking one object ended with.
enum Outcome {
    Checked(ObjectCheck),
    /// The credentials were refused; the object itself is unknown.
    Credentials(String),
}

/// State shared by the checks running at the same time.
#[derive(Default)]
struct Shared {
    /// Set when the credentials were refused: no more requests.
    stop: AtomicBool,
    /// Set when the bucket answered a request normally (an object or a 404):
    /// the credentials work, so a later "access denied" is about one object.
    accepted: AtomicBool,
}

impl Shared {
    fn failure(&self, err: &object_store::Error) -> Outcome {
        let failure = classify(err);
        match failure.kind {
            FailureKind::NotFound if failure.message == NOT_FOUND => {
                self.accepted.store(true, Ordering::Relaxed);
                Outcome::Checked(ObjectCheck::Missing)
            }
            FailureKind::BadCredentials => self.refuse(failure.message),
            FailureKind::AccessDenied if !self.accepted.load(Ordering::Relaxed) => {
                self.refuse(failure.message)
            }
            FailureKind::AccessDenied => Outcome::Checked(ObjectCheck::Denied {
                message: failure.message,
            }),
            _ => Outcome::Checked(ObjectCheck::Failed {
                message: failure.message,
            }),
        }
    }

    fn refuse(&self, message: String) -> Outcome {
        self.stop.store(true, Ordering::Relaxed);
        Outcome::Credentials(message)
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

async fn check_object(
    store: &dyn ObjectStore,
    uri: &CloudUri,
    shared: &Shared,
    known_size: Option<u64>,
) -> Outcome {
    let path = match object_path(uri.object()) {
        Ok(path) => path,
        Err(err) => {
            return Outcome::Checked(ObjectCheck::Failed {
                message: err.to_string(),
            });
        }
    };
    if shared.stopped() {
        return Outcome::Checked(ObjectCheck::NotChecked);
    }
    let size = match known_size {
        Some(size) => size,
        None => match store.head(&path).await {
            Ok(meta) => meta.size,
            Err(err) => return shared.failure(&err),
        },
    };
    shared.accepted.store(true, Ordering::Relaxed);
    if size == 0 {
        return Outcome::Checked(ObjectCheck::Empty);
    }
    let len = size.min(SNIFF_LEN as u64);
    let head = match store.get_range(&path, 0..len).await {
        Ok(head) => head,
        Err(err) => return shared.failure(&err),
    };
    Outcome::Checked(match sniff_mp4(&head) {
        Ok(_brand) => ObjectCheck::Ok { size },
        Err(NotMp4::Empty) => ObjectCheck::Empty,
        Err(reason) => ObjectCheck::NotMp4 {
            reason: reason.to_string(),
        },
    })
}

/// Collects the outcomes and reports progress.
struct Tally<'a, F> {
    checks: Vec<Option<ObjectCheck>>,
    credentials: Option<String>,
    done: usize,
    on_done: &'a F,
}

impl<F: Fn(usize, usize)> Tally<'_, F> {
    fn record(&mut self, index: usize, outcome: Outcome) {
        let check = match outcome {
            Outcome::Checked(check) => check,
            Outcome::Credentials(message) => {
                self.credentials.get_or_insert(message);
                ObjectCheck::NotChecked
            }
        };
        self.checks[index] = Some(check);
        self.done += 1;
        (self.on_done)(self.done, self.checks.len());
    }
}

/// Check every object of `request` in the bucket before importing it.
///
/// `store` is the request's bucket, opened by the caller with
/// [`open_source`](crate::open_source) (so the endpoint guard applies);
/// `prefix` is the integration's prefix (`None` or empty: the whole bucket).
/// For each object, in this order:
///
/// 1. outside `prefix`: [`ObjectCheck::OutsidePrefix`], with no request;
/// 2. `HEAD`: [`ObjectCheck::Missing`], or [`ObjectCheck::Empty`] for 0 bytes;
/// 3. a ranged read of the first [`SNIFF_LEN`] bytes, checked with
///    [`sniff_mp4`]: [`ObjectCheck::NotMp4`] with the reason (a JPEG named
///    `.mp4` says so), else [`ObjectCheck::Ok`] with the size.
///
/// Up to [`PreflightOptions::concurrency`] objects are checked at the same
/// time, after the first object alone: when the credentials are refused
/// (wrong key or token, or access denied before any request succeeded) the
/// problem is reported once in [`PreflightReport::credentials`] and no
/// further request is sent; the objects left are
/// [`ObjectCheck::NotChecked`]. An access denied after the credentials
/// worked for another object is that object's [`ObjectCheck::Denied`].
///
/// `on_done(done, total)` is called each time one more object is settled,
/// `done` going from 1 to `total`. Nothing here fails as a whole: every
/// problem is in the report.
///
/// ```no_run
/// use import_core::ImportRequest;
/// use import_providers::{open_source, preflight, EndpointPolicy, PreflightOptions, S3Credentials, SourceConfig};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let request = ImportRequest::builder()
///     .uris(["s3://drive-archive/raw/front.mp4", "s3://drive-archive/raw/rear.mp4"])
///     .build()?;
/// let source = SourceConfig::S3 {
///     bucket: "drive-archive".into(),
///     region: Some("us-east-1".into()),
///     endpoint_url: None,
///     credentials: Some(S3Credentials::new("AKIA...", "...")),
/// };
/// let store = open_source(&source, &EndpointPolicy::new(), import_providers::DEFAULT_HF_ENDPOINT).await?;
/// let report = preflight(&request, store, Some("raw/"), &PreflightOptions::default(), |done, total| {
///     eprint!("\rchecked {done}/{total}");
/// })
/// .await;
/// if !report.is_ok() {
///     eprintln!("\n{report}");
/// }
/// # Ok(()) }
/// ```
pub async fn preflight(
    request: &ImportRequest,
    store: impl Into<PreflightStore>,
    prefix: Option<&str>,
    options: &PreflightOptions,
    on_done: impl Fn(usize, usize) + Send + Sync,
) -> PreflightReport {
    let PreflightStore { store, hub } = store.into();
    let uris: Vec<&CloudUri> = request.uris().collect();
    let mut tally = Tally {
        checks: vec![None; uris.len()],
        credentials: None,
        done: 0,
        on_done: &on_done,
    };
    let mut to_check = Vec::with_capacity(uris.len());
    for (index, uri) in uris.iter().enumerate() {
        if object_in_prefix(uri.object(), prefix) {
            to_check.push(index);
        } else {
            let prefix = prefix.unwrap_or_default().to_owned();
            tally.record(
                index,
                Outcome::Checked(ObjectCheck::OutsidePrefix { prefix }),
            );
        }
    }

    let shared = Shared::default();
    let store = store.as_ref();
    // A Hugging Face bucket answers which objects exist, and their sizes,
    // 1,000 at a time (`paths-info`): no HEAD per object.
    let mut sizes: Option<HashMap<String, u64>> = None;
    if let Some(hub) = &hub
        && !to_check.is_empty()
    {
        let paths: Vec<Path> = to_check
            .iter()
            .filter_map(|&i| object_path(uris[i].object()).ok())
            .collect();
        match hub.paths_info(&paths).await {
            Ok(files) => {
                shared.accepted.store(true, Ordering::Relaxed);
                sizes = Some(
                    files
                        .into_iter()
                        .map(|f| (f.path.as_ref().to_owned(), f.size))
                        .collect(),
                );
            }
            Err(err) => {
                let failure = classify(&err);
                if matches!(
                    failure.kind,
                    FailureKind::BadCredentials | FailureKind::AccessDenied | FailureKind::NotFound
                ) {
                    // The bucket itself refused (a 404 hides a private one).
                    shared.stop.store(true, Ordering::Relaxed);
                    tally.credentials = Some(failure.message);
                }
                // Anything else: check each object the usual way.
            }
        }
    }
    let known = |index: usize| -> Result<Option<u64>, ()> {
        let Some(sizes) = &sizes else { return Ok(None) };
        let Ok(path) = object_path(uris[index].object()) else {
            // check_object reports the bad name.
            return Ok(None);
        };
        sizes.get(path.as_ref()).copied().map(Some).ok_or(())
    };
    let mut pending = Vec::with_capacity(to_check.len());
    for index in to_check {
        match known(index) {
            // Left out of the paths-info answer: it does not exist.
            Err(()) if sizes.is_some() => {
                tally.record(index, Outcome::Checked(ObjectCheck::Missing))
            }
            Err(()) | Ok(None) => pending.push((index, None)),
            Ok(Some(size)) => pending.push((index, Some(size))),
        }
    }
    let mut to_check = pending.into_iter();
    // The first object alone: a refused key costs one request, not `concurrency`.
    if let Some((first, size)) = to_check.next() {
        let outcome = check_object(store, uris[first], &shared, size).await;
        tally.record(first, outcome);
    }
    let (uris, shared) = (&uris, &shared);
    let mut rest = stream::iter(to_check)
        .map(|(index, size)| async move {
            (index, check_object(store, uris[index], shared, size).await)
        })
        .buffer_unordered(options.concurrency.max(1));
    while let Some((index, outcome)) = rest.next().await {
        tally.record(index, outcome);
    }

    let objects = uris
        .iter()
        .zip(tally.checks)
        .map(|(uri, check)| ObjectReport {
            uri: (*uri).clone(),
            check: check.unwrap_or(ObjectCheck::NotChecked),
        })
        .collect();
    PreflightReport {
        objects,
        credentials: tally.credentials,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(checks: Vec<ObjectCheck>, credentials: Option<&str>) -> PreflightReport {
        PreflightReport {
            objects: checks
                .into_iter()
                .enumerate()
                .map(|(i, check)| ObjectReport {
                    uri: CloudUri::parse(&format!("s3://vids/c{i}.mp4")).unwrap(),
                    check,
                })
                .collect(),
            credentials: credentials.map(str::to_owned),
        }
    }

    #[test]
    fn summary_counts_and_lists_problems() {
        let r = report(
            vec![
                ObjectCheck::Ok { size: 2048 },
                ObjectCheck::Missing,
                ObjectCheck::Ok { size: 1024 },
                ObjectCheck::Empty,
                ObjectCheck::OutsidePrefix {
                    prefix: "raw/".into(),
                },
            ],
            None,
        );
        assert!(!r.is_ok());
        assert_eq!(r.problems().count(), 3);
        assert_eq!(r.ready().count(), 2);
        let text = r.to_string();
        assert!(
            text.starts_with(
                "pre-flight: 2 of 5 objects ready (3.0 KiB), 1 missing, 1 empty, 1 outside the prefix"
            ),
            "{text}"
        );
        assert!(
            text.contains("s3://vids/c1.mp4: object not found"),
            "{text}"
        );
        assert!(text.contains("prefix `raw/`"), "{text}");
        assert!(text.contains("re-export"), "{text}");
    }

    #[test]
    fn credentials_are_reported_once() {
        let r = report(
            vec![ObjectCheck::NotChecked; 30],
            Some("the key was refused"),
        );
        assert!(!r.is_ok());
        let text = r.to_string();
        assert_eq!(text.matches("the key was refused").count(), 1, "{text}");
        assert!(!text.contains("c3.mp4"), "{text}");
        assert!(text.contains("30 not checked"), "{text}");
    }

    #[test]
    fn long_lists_are_cut() {
        let r = report(vec![ObjectCheck::Missing; 25], None);
        let text = r.to_string();
        assert_eq!(text.lines().count(), 1 + SHOWN_PROBLEMS + 1);
        assert!(text.ends_with("... and 5 more"), "{text}");
        assert!(report(vec![ObjectCheck::Ok { size: 1 }], None).is_ok());
        assert_eq!(human_bytes(5 * 1024 * 1024 * 1024), "5.0 GiB");
    }

    #[test]
    fn access_denied_is_about_the_credentials_until_they_worked() {
        let denied = || object_store::Error::PermissionDenied {
            path: "a.mp4".into(),
            source: "403 Forbidden".into(),
        };
        let shared = Shared::default();
        assert!(matches!(shared.failure(&denied()), Outcome::Credentials(_)));
        assert!(shared.stopped());

        let shared = Shared::default();
        let missing = object_store::Error::NotFound {
            path: "b.mp4".into(),
            source: "404".into(),
        };
        assert!(matches!(
            shared.failure(&missing),
            Outcome::Checked(ObjectCheck::Missing)
        ));
        let Outcome::Checked(ObjectCheck::Denied { message }) = shared.failure(&denied()) else {
            panic!("a 404 showed the credentials work");
        };
        assert!(message.contains("bucket policy"), "{message}");
        assert!(!shared.stopped());

        let refused = object_store::Error::Unauthenticated {
            path: "c.mp4".into(),
            source: "401".into(),
        };
        assert!(matches!(shared.failure(&refused), Outcome::Credentials(_)));
        assert!(shared.stopped());

        let no_bucket = object_store::Error::NotFound {
            path: "d.mp4".into(),
            source: "<Error><Code>NoSuchBucket</Code></Error>".into(),
        };
        let Outcome::Checked(ObjectCheck::Failed { message }) =
            Shared::default().failure(&no_bucket)
        else {
            panic!("a missing bucket is not a missing object");
        };
        assert!(message.contains("bucket does not exist"), "{message}");
    }

    #[test]
    fn serialises_with_a_status() {
        let r = report(
            vec![ObjectCheck::NotMp4 {
                reason: "a JPEG".into(),
            }],
            None,
        );
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["objects"][0]["check"]["status"], "not_mp4");
        assert_eq!(json["objects"][0]["uri"], "s3://vids/c0.mp4");
    }
}
