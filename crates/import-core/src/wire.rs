//! Serde types for every request and answer body of the contract.
//!
//! Field names are the contract's. Unknown fields are ignored when decoding, so a
//! newer server stays readable. Fields marked *extension* are ours: clients never
//! require them and use them when present.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::{FolderId, ImportJobId, IntegrationId, Scope, VideoId};
use crate::uri::Provider;

/// A string enum of the wire that stays open: a value this crate does not
/// know is kept as `Unknown` (a newer server may send more), with `as_str`,
/// `from_wire`, `KNOWN`, `Display`, serde and an OpenAPI string enum.
macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident ($schema_doc:literal) {
            $( $(#[$vmeta:meta])* $variant:ident = $wire:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value this version does not know, kept as it came.
            Unknown(String),
        }

        impl $name {
            /// Every value this crate knows, in declaration order.
            pub const KNOWN: &'static [$name] = &[$($name::$variant),+];

            /// The wire value.
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $wire, )+
                    $name::Unknown(s) => s,
                }
            }

            /// Parse a wire value; anything unknown is kept.
            pub fn from_wire(s: &str) -> $name {
                match s {
                    $( $wire => $name::$variant, )+
                    other => $name::Unknown(other.to_owned()),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                Ok($name::from_wire(&String::deserialize(d)?))
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                string_enum(&[$($wire),+], $schema_doc)
            }
        }
        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for $name {}
    };
}

open_enum! {
    /// The status of one video of an import job.
    ///
    /// A status this crate does not know is kept as [`VideoStatus::Unknown`] and
    /// counts as not terminal.
    pub enum VideoStatus ("Per-video status; clients treat unknown values as not terminal.") {
        /// Queued.
        Pending = "PENDING",
        /// Being copied.
        Uploading = "UPLOADING",
        /// Stored (terminal).
        Uploaded = "UPLOADED",
        /// Failed (terminal); the row's `error` says why.
        UploadingFailed = "UPLOADING_FAILED",
    }
}

impl VideoStatus {
    /// The terminal statuses: a row in one of them changes no more (until a
    /// retry). Every other status, an unknown one included, is not terminal.
    pub const TERMINAL: [VideoStatus; 2] = [VideoStatus::Uploaded, VideoStatus::UploadingFailed];

    /// `UPLOADED` or `UPLOADING_FAILED`.
    ///
    /// ```
    /// use import_core::VideoStatus;
    /// assert!(VideoStatus::from_wire("UPLOADED").is_terminal());
    /// assert!(!VideoStatus::from_wire("TRANSCODING").is_terminal());
    /// ```
    pub fn is_terminal(&self) -> bool {
        VideoStatus::TERMINAL.contains(self)
    }
}

open_enum! {
    /// The overall status of an import job (*extension*).
    pub enum JobStatus ("Overall job status (extension).") {
        /// Rows are still pending or copying.
        Importing = "importing",
        /// Every row uploaded.
        Completed = "completed",
        /// Terminal, some rows failed.
        CompletedWithErrors = "completed_with_errors",
        /// Terminal, every row failed.
        Failed = "failed",
        /// Terminal: cancelled by its owner; the rows it had not uploaded
        /// failed with `error_code` `cancelled`.
        Cancelled = "cancelled",
    }
}

impl JobStatus {
    /// The job status that follows from counts of rows.
    ///
    /// ```
    /// use import_core::{Counts, JobStatus};
    /// let c = Counts { uploaded: 2, failed: 1, pending: 0 };
    /// assert_eq!(JobStatus::from_counts(&c), JobStatus::CompletedWithErrors);
    /// ```
    pub fn from_counts(counts: &Counts) -> JobStatus {
        match (counts.pending, counts.uploaded, counts.failed) {
            (p, _, _) if p > 0 => JobStatus::Importing,
            (_, _, 0) => JobStatus::Completed,
            (_, 0, _) => JobStatus::Failed,
            _ => JobStatus::CompletedWithErrors,
        }
    }

    /// The status of a job with these counts that has `completed` (every
    /// row is done) or was `cancelled`: cancelled first, then, once
    /// complete, the outcome of its rows ([`JobStatus::from_counts`]), else
    /// importing.
    ///
    /// ```
    /// use import_core::{Counts, JobStatus};
    /// let c = Counts { uploaded: 2, failed: 1, pending: 0 };
    /// assert_eq!(JobStatus::of_job(&c, true, false), JobStatus::CompletedWithErrors);
    /// assert_eq!(JobStatus::of_job(&c, false, false), JobStatus::Importing);
    /// assert_eq!(JobStatus::of_job(&c, true, true), JobStatus::Cancelled);
    /// ```
    pub fn of_job(counts: &Counts, completed: bool, cancelled: bool) -> JobStatus {
        if cancelled {
            JobStatus::Cancelled
        } else if completed {
            JobStatus::from_counts(&Counts {
                pending: 0,
                ..*counts
            })
        } else {
            JobStatus::Importing
        }
    }

    /// Whether nothing more will happen without a retry.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            JobStatus::Completed
                | JobStatus::CompletedWithErrors
                | JobStatus::Failed
                | JobStatus::Cancelled
        )
    }
}

open_enum! {
    /// Why a row failed, as a machine can read it (*extension*): every failed
    /// row carries one beside its `error` sentence; uploaded rows have none.
    /// A code this crate does not know is kept as [`FailureCode::Unknown`].
    ///
    /// ```
    /// use import_core::FailureCode;
    /// assert_eq!(FailureCode::NotMp4.as_str(), "not_mp4");
    /// assert_eq!(FailureCode::from_wire("empty"), FailureCode::Empty);
    /// assert!(FailureCode::KNOWN.contains(&FailureCode::Cancelled));
    /// ```
    pub enum FailureCode ("Why a row failed (extension); clients keep unknown codes as they came.") {
        /// The object (or its bucket) does not exist.
        NotFound = "not_found",
        /// The credentials were accepted but do not grant access.
        AccessDenied = "access_denied",
        /// The credentials themselves were refused (wrong secret, expired token).
        BadCredentials = "bad_credentials",
        /// The job's integration was deleted before the row was copied.
        IntegrationMissing = "integration_missing",
        /// The object has no bytes.
        Empty = "empty",
        /// The object is not an MP4 (no `ftyp` box first).
        NotMp4 = "not_mp4",
        /// An MP4 that cannot be read (truncated, no `moov`, no video track).
        InvalidVideo = "invalid_video",
        /// The object is outside the integration's prefix.
        OutsidePrefix = "outside_prefix",
        /// The object is larger than the server accepts.
        TooLarge = "too_large",
        /// The copy does not match the checksum the source declares.
        ChecksumMismatch = "checksum_mismatch",
        /// The source kept failing (5xx, timeouts, resets) through every attempt.
        SourceUnavailable = "source_unavailable",
        /// The source was refused or answered something unusable (an endpoint
        /// the server may not reach, an unexpected answer).
        SourceError = "source_error",
        /// The media store kept refusing the copy through every attempt.
        StorageUnavailable = "storage_unavailable",
        /// The job was cancelled before the row was uploaded.
        Cancelled = "cancelled",
        /// Every attempt was interrupted (its worker stopped or lost its
        /// lease, or its outcome could not be recorded), as many times as a
        /// row may be claimed.
        Interrupted = "interrupted",
        /// The database refused to record the copy's outcome (a value it
        /// cannot store): a fault of the server, reported in its log.
        RecordRefused = "record_refused",
    }
}

open_enum! {
    /// Which checksum the source declared for an object and the copy was
    /// verified against (*extension*), in [`VideoMetadata::verified_checksum`].
    /// The strongest one the source offers is checked: `sha256`, then `md5`,
    /// then `crc32c`.
    ///
    /// ```
    /// use import_core::ChecksumAlgorithm;
    /// assert_eq!(ChecksumAlgorithm::Md5.as_str(), "md5");
    /// assert_eq!(ChecksumAlgorithm::from_wire("crc32c"), ChecksumAlgorithm::Crc32c);
    /// ```
    pub enum ChecksumAlgorithm ("The checksum the copy was verified against (extension).") {
        /// MD5: an S3 ETag of a single-part, unencrypted or SSE-S3 object, or GCS `md5Hash`.
        Md5 = "md5",
        /// CRC32C: S3 `x-amz-checksum-crc32c` (full object) or GCS `crc32c`.
        Crc32c = "crc32c",
        /// SHA-256: S3 `x-amz-checksum-sha256` (full object).
        Sha256 = "sha256",
    }
}

#[cfg(feature = "openapi")]
fn string_enum(
    values: &[&str],
    description: &str,
) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(values.iter().copied()))
        .description(Some(description))
        .into()
}

open_enum! {
    /// What a probe of the reference server answers (*extension*).
    pub enum ProbeStatus ("Probe answer (extension).") {
        /// `GET /healthz`: the process runs.
        Ok = "ok",
        /// `GET /readyz`: the database answers, its schema is current and the
        /// media store takes a write.
        Ready = "ready",
        /// `GET /readyz` with `503`: `reason` says what is wrong.
        NotReady = "not_ready",
    }
}

/// `GET /healthz` and `GET /readyz` answer (*extension*).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Probe {
    /// `ok`, `ready` or `not_ready`.
    pub status: ProbeStatus,
    /// Why the server is not ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `POST /api/keys/verify` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VerifyResponse {
    /// Always `true` on a `200`.
    pub valid: bool,
    /// The key's user.
    pub user_id: String,
    /// The key's organisation.
    pub org_id: String,
}

/// Body of `POST /api/folders/create-or-get` and `POST /api/folders`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FolderRequest {
    /// Folder name, unique within its scope.
    pub name: String,
    /// `user` or `org`.
    #[serde(default)]
    pub scope: Scope,
    /// Optional description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Folder {
    /// Folder id.
    pub id: FolderId,
    /// Folder name.
    pub name: String,
    /// Its scope.
    pub scope: Scope,
    /// RFC 3339 creation time.
    pub created_at: String,
}

/// A saved cloud integration as the API shows it (secrets are never included).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CloudIntegration {
    /// Integration id.
    pub id: IntegrationId,
    /// Display name.
    pub name: String,
    /// `gcs`, `s3` or `hf_bucket`.
    #[serde(rename = "type")]
    pub kind: Provider,
    /// The bucket (`namespace/name` for Hugging Face).
    pub bucket: String,
    /// The prefix the integration is narrowed to.
    #[serde(default)]
    pub prefix: Option<String>,
    /// S3 region.
    #[serde(default)]
    pub region: Option<String>,
    /// S3-compatible endpoint (R2, MinIO, ...).
    #[serde(default)]
    pub endpoint_url: Option<String>,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// RFC 3339 time of last use.
    #[serde(default)]
    pub last_used: Option<String>,
    /// The creator's user id.
    pub created_by: String,
    /// The creator's display name.
    #[serde(default)]
    pub created_by_display_name: Option<String>,
    /// Whether the caller created it.
    pub is_owner: bool,
}

/// Body of `POST /api/cloud-integrations/gcs`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AddGcsIntegration {
    /// Display name.
    pub name: String,
    /// Always `gcs`.
    #[serde(rename = "type")]
    pub kind: Provider,
    /// The service-account JSON key (secret).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub service_account: serde_json::Value,
    /// The bucket.
    pub bucket: String,
    /// Optional prefix to narrow access to.
    #[serde(default)]
    pub prefix: Option<String>,
}

/// Body of `POST /api/cloud-integrations/s3`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AddS3Integration {
    /// Display name.
    pub name: String,
    /// Always `s3`.
    #[serde(rename = "type")]
    pub kind: Provider,
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key (secret).
    pub secret_access_key: String,
    /// Session token for temporary credentials (secret).
    #[serde(default)]
    pub session_token: Option<String>,
    /// Region; `auto` when an endpoint is given and no region.
    #[serde(default)]
    pub region: Option<String>,
    /// Endpoint of an S3-compatible store.
    #[serde(default)]
    pub endpoint_url: Option<String>,
    /// The bucket.
    pub bucket: String,
    /// Optional prefix.
    #[serde(default)]
    pub prefix: Option<String>,
}

/// Body of `POST /api/cloud-integrations/hf-bucket`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AddHfIntegration {
    /// Display name.
    pub name: String,
    /// Always `hf_bucket`.
    #[serde(rename = "type")]
    pub kind: Provider,
    /// Hugging Face token (secret).
    pub token: String,
    /// `namespace/name`.
    pub bucket: String,
    /// Optional prefix.
    #[serde(default)]
    pub prefix: Option<String>,
}

const REDACTED: &str = "<redacted>";

impl fmt::Debug for AddGcsIntegration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AddGcsIntegration")
            .field("name", &self.name)
            .field("service_account", &REDACTED)
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl fmt::Debug for AddS3Integration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AddS3Integration")
            .field("name", &self.name)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &REDACTED)
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| REDACTED),
            )
            .field("region", &self.region)
            .field("endpoint_url", &self.endpoint_url)
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl fmt::Debug for AddHfIntegration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AddHfIntegration")
            .field("name", &self.name)
            .field("token", &REDACTED)
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .finish()
    }
}

/// One multi-view set on the wire: role → full object URI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WireViewSet {
    /// `{"front": "s3://b/t/front.mp4", "left": ...}`; `front` is required.
    pub views: BTreeMap<String, String>,
}

/// Body of the three upload routes (`/api/gcs/upload`, `/api/s3/upload`,
/// `/api/hf-buckets/upload`).
///
/// Single-view requests send `files` (GCS, HF) or `keys` (S3); multi-view requests
/// send `sets` and `bucket`. Build it with [`crate::ImportRequest`], which writes
/// exactly the fields each route takes; a server turns it back into an
/// [`crate::ImportRequest`] with [`crate::ImportRequest::from_upload_body`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UploadBody {
    /// Integration to take credentials from (required for GCS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integration_id: Option<IntegrationId>,
    /// Object names (GCS and HF single-view).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<Vec<String>>,
    /// Object keys (S3 single-view).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<Vec<String>>,
    /// Multi-view sets (GCS, S3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sets: Option<Vec<WireViewSet>>,
    /// The bucket (S3, HF, and every multi-view request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    /// Collection, `videos` by default.
    #[serde(default)]
    pub collection: Option<String>,
    /// Target folder.
    #[serde(default)]
    pub folder_id: Option<FolderId>,
    /// `user` or `org`.
    #[serde(default)]
    pub scope: Option<Scope>,
}

/// Answer of the upload routes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UploadResponse {
    /// The new job.
    pub import_job_id: ImportJobId,
    /// `importing`.
    pub status: JobStatus,
}

/// Row counts of a job (*extension*).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Counts {
    /// Rows `UPLOADED`.
    pub uploaded: u64,
    /// Rows `UPLOADING_FAILED`.
    pub failed: u64,
    /// Every other row.
    pub pending: u64,
}

impl Counts {
    /// The counts of a job of `total` listed rows, `uploaded` and `failed`
    /// of them: every other row is pending (never below zero).
    ///
    /// ```
    /// use import_core::Counts;
    /// let c = Counts::from_totals(10, 6, 1);
    /// assert_eq!((c.uploaded, c.failed, c.pending), (6, 1, 3));
    /// assert_eq!(Counts::from_totals(1, 1, 1).pending, 0);
    /// ```
    pub fn from_totals(total: i64, uploaded: i64, failed: i64) -> Counts {
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        Counts {
            uploaded: count(uploaded),
            failed: count(failed),
            pending: count(total.saturating_sub(uploaded).saturating_sub(failed)),
        }
    }
}

/// One line of a job's `failure_summary` (*extension*).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FailureSummary {
    /// The failure code.
    pub code: FailureCode,
    /// Listed rows that failed with it.
    pub count: u64,
    /// Up to five of their source URIs.
    pub examples: Vec<String>,
}

/// `GET /api/import-jobs` answer (*extension*): the caller's visible jobs,
/// newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImportJobList {
    /// The jobs of this page, each as `GET /api/import-jobs/{id}` shows it.
    pub jobs: Vec<ImportJob>,
    /// Whether more jobs follow.
    pub has_more: bool,
    /// The cursor of the next page.
    #[serde(default)]
    pub next_cursor: Option<ImportJobId>,
}

/// `GET /api/import-jobs/{id}` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImportJob {
    /// The job id.
    pub job_id: ImportJobId,
    /// `gcs`, `s3` or `hf_bucket`.
    pub source: Provider,
    /// The source bucket.
    pub bucket: String,
    /// Longest common folder of the names, or the integration's prefix.
    #[serde(default)]
    pub prefix: Option<String>,
    /// Target folder.
    #[serde(default)]
    pub folder_id: Option<FolderId>,
    /// Target folder's name.
    #[serde(default)]
    pub folder_name: Option<String>,
    /// Distinct objects (single-view) or sets (multi-view).
    pub total: u64,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// RFC 3339 time of the last change.
    #[serde(default)]
    pub updated_at: Option<String>,
    /// RFC 3339 time the job became terminal.
    #[serde(default)]
    pub completed_at: Option<String>,
    /// *Extension*: overall status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<JobStatus>,
    /// *Extension*: whether every row is terminal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminal: Option<bool>,
    /// *Extension*: row counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counts: Option<Counts>,
    /// *Extension*: suggested seconds before the next poll.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll_after_seconds: Option<u64>,
    /// *Extension*: the listed rows that failed, by code, most frequent
    /// first (kept up to date as rows finish).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_summary: Option<Vec<FailureSummary>>,
    /// *Extension*: whether the job was made of view sets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multi_view: Option<bool>,
}

/// The status of one view of a multi-view set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ViewStatus {
    /// The view's video id.
    pub video_id: VideoId,
    /// Its status.
    pub status: VideoStatus,
    /// *Extension*: the view's source object, as the request named it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import_source_uri: Option<String>,
}

/// A failed view of a multi-view set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FailedView {
    /// The view's video id.
    pub video_id: VideoId,
    /// Its status (`UPLOADING_FAILED`).
    pub status: VideoStatus,
    /// Its role.
    pub role: String,
    /// Why it failed.
    #[serde(default)]
    pub error: Option<String>,
    /// *Extension*: why it failed, as a code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<FailureCode>,
    /// *Extension*: the view's source object, as the request named it (so
    /// that a failed view can be imported again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import_source_uri: Option<String>,
}

/// One row of `GET /api/import-jobs/{id}/videos`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VideoRow {
    /// The video id (the front's, for a multi-view set).
    pub video_id: VideoId,
    /// Its status.
    pub status: VideoStatus,
    /// The source object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import_source_uri: Option<String>,
    /// *Extension*: why the row failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// *Extension*: why the row failed, as a code (failed rows only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<FailureCode>,
    /// Multi-view: the set's id (= the front's video id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_video_id: Option<VideoId>,
    /// Multi-view: every role's video.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub views: Option<BTreeMap<String, ViewStatus>>,
    /// Multi-view: the views that failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_views: Option<Vec<FailedView>>,
    /// *Extension*: for a row still waiting (or being copied again), why
    /// its last attempt failed; it will be tried again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// `GET /api/import-jobs/{id}/videos` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VideosPage {
    /// The job.
    pub import_job_id: ImportJobId,
    /// Rows of the whole job (sets for multi-view).
    pub total: u64,
    /// The limit used.
    pub limit: u32,
    /// The cursor this page started after.
    #[serde(default)]
    pub cursor: Option<VideoId>,
    /// Whether more rows follow.
    pub has_more: bool,
    /// Cursor of the next page when `has_more`.
    #[serde(default)]
    pub next_cursor: Option<VideoId>,
    /// Rows on this page.
    #[serde(default)]
    pub video_count: Option<u64>,
    /// The rows, ascending `video_id`.
    pub videos: Vec<VideoRow>,
}

/// Body of `POST /api/import-jobs/{id}/retry`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RetryRequest {
    /// Rows to retry; `null` retries every failed row.
    #[serde(default)]
    pub video_ids: Option<Vec<VideoId>>,
}

/// Answer of `POST /api/import-jobs/{id}/retry`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RetryResponse {
    /// The job.
    pub import_job_id: ImportJobId,
    /// Rows put back to `PENDING`.
    pub retried: u64,
    /// Their ids.
    pub video_ids: Vec<VideoId>,
}

/// Metadata of an uploaded video (*extension*).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VideoMetadata {
    /// Size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<u64>,
    /// Hex SHA-256 of the bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Duration in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<f64>,
    /// Frame width.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    /// Frame height.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// Codec (`avc1`, `hvc1`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec: Option<String>,
    /// *Extension*: the checksum the source declared and the copy matched;
    /// absent (null) when the source declared none that could be checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_checksum: Option<ChecksumAlgorithm>,
    /// *Extension*: the Hugging Face Hub's Xet hash of the object (its
    /// `X-Xet-Hash`), for videos imported from a Hugging Face bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xet_hash: Option<String>,
}

/// `GET /api/video/{id}/status` answer (*extension*).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VideoStatusResponse {
    /// The video.
    pub video_id: VideoId,
    /// Its status.
    pub status: VideoStatus,
    /// Its job.
    pub import_job_id: ImportJobId,
    /// The source object.
    pub import_source_uri: String,
    /// Present once `UPLOADED`.
    #[serde(default)]
    pub metadata: VideoMetadata,
    /// *Extension*: why the video failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// *Extension*: why the video failed, as a code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<FailureCode>,
}

/// One part of a field error's location: a name or an index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum LocPart {
    /// A field name.
    Field(String),
    /// A list index.
    Index(u64),
}

/// One field validation failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldError {
    /// Where: `["body", "keys", 3]`.
    pub loc: Vec<LocPart>,
    /// What is wrong.
    pub msg: String,
}

/// The `detail` of an error body: a message or a list of field errors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ErrorDetail {
    /// A human message.
    Message(String),
    /// Field validation failures.
    Fields(Vec<FieldError>),
}

impl fmt::Display for ErrorDetail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorDetail::Message(m) => f.write_str(m),
            ErrorDetail::Fields(fields) => {
                for (i, field) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    let loc: Vec<String> = field
                        .loc
                        .iter()
                        .map(|p| match p {
                            LocPart::Field(s) => s.clone(),
                            LocPart::Index(i) => i.to_string(),
                        })
                        .collect();
                    write!(f, "{}: {}", loc.join("."), field.msg)?;
                }
                Ok(())
            }
        }
    }
}

/// Every 4xx/5xx body: `{"detail": ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// The message or field errors.
    pub detail: ErrorDetail,
}

impl ErrorBody {
    /// An error body with a plain message.
    pub fn message(detail: impl Into<String>) -> ErrorBody {
        ErrorBody {
            detail: ErrorDetail::Message(detail.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_statuses_are_kept_and_not_terminal() {
        let row: VideoRow =
            serde_json::from_str(r#"{"video_id":"vi_1","status":"TRANSCODING","extra":1}"#)
                .unwrap();
        assert_eq!(row.status, VideoStatus::Unknown("TRANSCODING".into()));
        assert!(!row.status.is_terminal());
        assert_eq!(
            serde_json::to_string(&row.status).unwrap(),
            "\"TRANSCODING\""
        );
        let job: JobStatus = serde_json::from_str("\"paused\"").unwrap();
        assert!(!job.is_terminal());
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let job: ImportJob = serde_json::from_str(
            r#"{"job_id":"ij_1","source":"s3","bucket":"b","total":0,"created_at":"t","new_field":{"x":1}}"#,
        )
        .unwrap();
        assert_eq!(job.terminal, None);
        assert_eq!(job.counts, None);
    }

    #[test]
    fn job_status_from_counts() {
        let c = |uploaded, failed, pending| Counts {
            uploaded,
            failed,
            pending,
        };
        assert_eq!(JobStatus::from_counts(&c(1, 0, 1)), JobStatus::Importing);
        assert_eq!(JobStatus::from_counts(&c(2, 0, 0)), JobStatus::Completed);
        assert_eq!(JobStatus::from_counts(&c(0, 2, 0)), JobStatus::Failed);
        assert_eq!(
            JobStatus::from_counts(&c(1, 1, 0)),
            JobStatus::CompletedWithErrors
        );
        assert_eq!(JobStatus::from_counts(&c(0, 0, 0)), JobStatus::Completed);
    }

    #[test]
    fn secrets_are_absent_from_debug() {
        let s3 = AddS3Integration {
            name: "n".into(),
            kind: Provider::S3,
            access_key_id: "AKID".into(),
            secret_access_key: "super-secret-value".into(),
            session_token: Some("token-value".into()),
            region: None,
            endpoint_url: None,
            bucket: "b".into(),
            prefix: None,
        };
        let dbg = format!("{s3:?}");
        assert!(
            !dbg.contains("super-secret-value") && !dbg.contains("token-value"),
            "{dbg}"
        );
        let hf = AddHfIntegration {
            name: "n".into(),
            kind: Provider::HfBucket,
            token: "hf_secret".into(),
            bucket: "a/b".into(),
            prefix: None,
        };
        assert!(!format!("{hf:?}").contains("hf_secret"));
        let gcs = AddGcsIntegration {
            name: "n".into(),
            kind: Provider::Gcs,
            service_account: serde_json::json!({"private_key": "PRIVATE"}),
            bucket: "b".into(),
            prefix: None,
        };
        assert!(!format!("{gcs:?}").contains("PRIVATE"));
    }

    #[test]
    fn error_detail_both_shapes() {
        let plain: ErrorBody =
            serde_json::from_str(r#"{"detail":"Import job not found"}"#).unwrap();
        assert_eq!(plain.detail.to_string(), "Import job not found");
        let fields: ErrorBody = serde_json::from_str(
            r#"{"detail":[{"loc":["body","keys",3],"msg":"not mp4","type":"value_error"}]}"#,
        )
        .unwrap();
        assert_eq!(fields.detail.to_string(), "body.keys.3: not mp4");
    }
}
