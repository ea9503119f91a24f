//! The pure core of the cloud video import toolkit.
//!
//! Every rule of the cloud-import contract lives here once, so the clients and
//! the reference server cannot disagree:
//!
//! - [`CloudUri`] and [`PrefixUri`]: `gs://`, `s3://` and `hf://buckets/` object
//!   and prefix URIs, one grammar with each provider's naming rules;
//! - [`ImportRequest`] and [`ViewSet`]: a validated batch of one bucket, and its
//!   route and JSON body ([`api::upload`]);
//! - [`wire`]: serde types of every request and answer;
//! - [`fields`], [`FolderName`], [`S3Integration`], [`GcsIntegration`] and
//!   [`HfIntegration`]: every field limit and rule of a request body, once;
//! - [`api`]: every operation as a transport-free [`ApiRequest`] that also
//!   decodes its answer;
//! - [`Pager`] and [`ReadinessTracker`]: paging and the readiness contract as
//!   state machines (ask `poll`, feed `handle_*`);
//! - [`RetryPolicy`]: which failures are retried and after how long;
//! - [`sniff_mp4`]: the MP4 signature rule (an `ftyp` box first);
//! - [`gcs_integration_candidates`]: which saved integrations a GCS import tries.
//!
//! The crate does no I/O, reads no clock and needs no async runtime: callers
//! pass the time (`now`) and random seeds in.
//!
//! ```
//! use import_core::{api, ImportRequest, Scope};
//!
//! let request = ImportRequest::builder()
//!     .uris(["s3://drive-archive/trip-042/front.mp4"])
//!     .scope(Scope::Org)
//!     .build()?;
//! let http = api::upload(&request)?;
//! assert_eq!(http.path(), "/api/s3/upload");
//! let body: serde_json::Value = serde_json::from_slice(http.body().unwrap_or_default()).unwrap();
//! assert_eq!(body["keys"][0], "trip-042/front.mp4");
//! # Ok::<(), import_core::Error>(())
//! ```

#![deny(clippy::unwrap_used, clippy::expect_used)]

pub mod api;
pub mod client;
mod error;
pub mod fields;
pub mod glob;
mod ids;
mod integrations;
pub mod outcome;
mod pager;
pub mod quote;
mod readiness;
mod request;
mod retry;
pub mod routes;
mod sniff;
mod uri;
mod view;
pub mod wire;

pub use api::{ApiKey, ApiRequest};
pub use error::{AnswerError, Error, PagingProblem, Result};
pub use fields::FolderName;
pub use glob::Glob;
pub use ids::{FolderId, ImportJobId, IntegrationId, Scope, VideoId, check_idempotency_key};
pub use integrations::{
    GcsIntegration, HfIntegration, S3Integration, gcs_integration_candidates, integration_prefix,
};
pub use pager::{
    DEFAULT_JOB_PAGE_LIMIT, DEFAULT_PAGE_LIMIT, JobListRequest, MAX_JOB_PAGE_LIMIT, MAX_PAGE_LIMIT,
    PageRequest, Pager,
};
pub use readiness::{
    DEFAULT_POLL_INTERVAL, FailedVideo, ImportOutcome, Next, Progress, ReadinessTracker,
};
pub use request::{
    DEFAULT_COLLECTION, DEFAULT_MAX_OBJECTS, ImportObjects, ImportRequest, ImportRequestBuilder,
    SavedIntegration, check_upload_count, object_in_prefix, split_requests, upload_route,
};
pub use retry::{Decision, Outcome, RetryPolicy, RetryState, parse_retry_after};
pub use sniff::{NotMp4, SNIFF_LEN, sniff_mp4};
pub use uri::{
    CloudUri, MAX_OBJECT_NAME_BYTES, PrefixError, PrefixProblem, PrefixUri, Provider, UriProblem,
    check_gcs_bucket, check_hf_bucket, check_object_name, check_s3_bucket, is_mp4_name,
};
pub use view::{ViewRole, ViewSet};
pub use wire::{
    ChecksumAlgorithm, CloudIntegration, Counts, FailureCode, FailureSummary, ImportJob,
    ImportJobList, JobStatus, Probe, ProbeStatus, UploadBody, UploadResponse, VideoRow,
    VideoStatus, VideosPage,
};
