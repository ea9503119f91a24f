//! The blocking client of the cloud video import API.
//!
//! Everything the official Python SDK does for cloud imports, one for one, with
//! typed errors, waiting that ends, and paging that does not re-read a large
//! job. The requests, answers, retries and state machines all come from
//! [`import_core`]; this crate only moves bytes over [`ureq`] and sleeps.
//!
//! ```no_run
//! use import_blocking::{Client, ImportRequest, Scope, WaitOptions};
//!
//! let client = Client::builder().api_key("vk_...").base_url("http://127.0.0.1:8080").build()?;
//! let request = ImportRequest::builder()
//!     .uris(["s3://drive-monitor-archive/trip-042/front.mp4", "s3://drive-monitor-archive/trip-042/rear.mp4"])
//!     .scope(Scope::Org)
//!     .build()?;
//! let started = client.upload(&request, Some("fleet_uploads"))?;
//! let outcome = client.wait_for_import(&started.import_job_id, &WaitOptions::default(), |p| eprintln!("{p}"))?;
//! println!("ready for analysis: {:?}", outcome.uploaded);
//! # Ok::<(), import_blocking::Error>(())
//! ```
//!
//! `Client::from_env()` reads `VIMPORT_API_KEY`, `VIMPORT_BASE_URL` (default:
//! the hosted API) and `VIMPORT_TIMEOUT_SECS`.
//!
//! With the `buckets` feature (off by default), the client can also read the
//! buckets itself, as opt-in steps before `upload`: `Client::preflight`
//! checks every object of a request (exists, not empty, an MP4, inside the
//! integration's prefix) and `Client::expand` turns a prefix and a glob into
//! the explicit URIs the API takes. `upload` never needs them.

#[cfg(feature = "buckets")]
mod buckets;
mod client;
mod integrations;
mod pages;

#[cfg(feature = "buckets")]
pub use buckets::{
    DEFAULT_HF_ENDPOINT, DEFAULT_PREFLIGHT_CONCURRENCY, EndpointPolicy, GcsServiceAccount,
    ObjectCheck, ObjectReport, PrefixUri, PreflightOptions, PreflightReport, S3Credentials, Secret,
    SourceConfig, split_requests,
};
pub use client::{Client, ClientBuilder};
pub use import_core::client::{ClientError as Error, GcsKey, S3Keys, WaitOptions};
pub use import_core::wire::{
    CloudIntegration, FailureSummary, Folder, ImportJob, ImportJobList, RetryResponse,
    UploadResponse, VerifyResponse, VideoRow, VideosPage,
};
pub use import_core::{
    AnswerError, CloudUri, FailureCode, FolderId, ImportJobId, ImportOutcome, ImportRequest,
    IntegrationId, JobListRequest, JobStatus, PageRequest, Progress, Provider, ReadinessTracker,
    RetryPolicy, Scope, VideoId, ViewSet,
};
pub use integrations::CloudIntegrations;
pub use pages::VideoRows;

/// Result of a client call.
pub type Result<T, E = Error> = std::result::Result<T, E>;
