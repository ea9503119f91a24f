//! Bucket access for cloud video import: Amazon S3 and S3-compatible stores
//! (Cloudflare R2, MinIO, ...), Google Cloud Storage and Hugging Face
//! Storage Buckets, all behind `object_store`'s [`ObjectStore`](object_store::ObjectStore).
//!
//! The reference server reads every source object through this crate; the
//! clients use it for pre-flight checks and prefix expansion. It is the one
//! place that configures each cloud:
//!
//! - [`SourceConfig`]: how to open one bucket (region or endpoint, keys,
//!   service-account key, Hub token), with secrets wrapped in [`Secret`] so
//!   they never reach a log line, an error or `Debug` output;
//! - [`EndpointPolicy`] and [`check_source`]: the guard against server-side
//!   request forgery (no loopback, private, link-local or metadata addresses
//!   unless the operator allows a `host:port`);
//! - [`open_source`]: the configured store, with timeouts that suit large
//!   videos and a modest retry configuration;
//! - [`HfBucketStore`]: a read-only `ObjectStore` over the Hugging Face Hub
//!   bucket routes;
//! - [`DeclaredChecksums`] and [`ChecksumCheck`]: the MD5, CRC32C or SHA-256
//!   an S3 or GCS answer declares for an object (in `GetResult::extensions`),
//!   and the check of a copy against it;
//! - [`classify`]: what a failed read means for the import (retry later,
//!   object missing, access denied, credentials refused) as a sentence a
//!   person understands;
//! - [`preflight`]: before an import, check every object of an
//!   [`ImportRequest`](import_core::ImportRequest) the way the importer will
//!   (exists, not empty, an MP4 signature, inside the integration's prefix),
//!   with bounded concurrency, into a [`PreflightReport`];
//! - [`expand`] and [`split_requests`]: the API takes no wildcards, so turn a
//!   prefix (and a [`Glob`](import_core::Glob)) into explicit `.mp4` URIs,
//!   in chunks under the per-request cap.
//!
//! Object names are taken literally: turn one into a path with
//! [`object_path`], not `Path::from` (which would percent-encode `#`, `%`
//! and other characters and so name a different object).
//!
//! ```no_run
//! use import_providers::{classify, object_path, open_source, EndpointPolicy, SourceConfig};
//! use object_store::ObjectStoreExt;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let config = SourceConfig::Hf { bucket: "acme/fleet".into(), token: None };
//! let policy = EndpointPolicy::from_allowed(["minio.internal:9000"])?;
//! let store = open_source(&config, &policy, import_providers::DEFAULT_HF_ENDPOINT).await?;
//! let path = object_path("day1/front #1.mp4")?;
//! if let Err(err) = store.head(&path).await {
//!     let failure = classify(&err);
//!     eprintln!("{}{}", failure.message, if failure.is_transient() { " (will retry)" } else { "" });
//! }
//! # Ok(()) }
//! ```

#![deny(clippy::unwrap_used, clippy::expect_used)]

mod checksum;
mod config;
mod endpoint;
mod error;
mod expand;
mod hf;
pub mod mp4;
mod names;
mod open;
mod path;
mod preflight;

pub use checksum::{ChecksumCheck, ChecksumMismatch, DeclaredChecksums};
pub use config::{GCS_ADDRESS_FIELDS, GcsServiceAccount, S3Credentials, Secret, SourceConfig};
pub use endpoint::{EndpointPolicy, check_source, forbidden_reason};
pub use error::{Failure, FailureKind, ProviderError, classify};
pub use expand::{Expansion, LeftOutBecause, MAX_LEFT_OUT_NAMED, expand, expand_report};
pub use hf::{
    DEFAULT_HF_ENDPOINT, HfBucketStore, HubFile, HubFileInfo, MAX_RATE_LIMIT_WAIT, PATHS_INFO_BATCH,
};
/// The prefix grammar and the request split live in the core; re-exported
/// here for callers of [`expand`].
pub use import_core::{PrefixError, PrefixUri, split_requests};
pub use names::{MAX_CONCURRENT_LOOKUPS, RESOLVE_TIMEOUT, UNANSWERED_FOR};
pub use open::{
    CONNECT_TIMEOUT, MAX_ERROR_BODY, READ_TIMEOUT, USER_AGENT, client_options, open_source,
    retry_config,
};
pub use path::object_path;
pub use preflight::{
    DEFAULT_PREFLIGHT_CONCURRENCY, ObjectCheck, ObjectReport, PreflightOptions, PreflightReport,
    PreflightStore, preflight,
};
