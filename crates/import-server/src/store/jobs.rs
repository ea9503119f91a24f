//! Import jobs and their rows, as the API reads and steers them.

use std::collections::BTreeMap;

use async_trait::async_trait;
use import_core::wire::{FailureSummary, JobStatus, VideoMetadata, VideoStatus};
use import_core::{
    FailureCode, FolderId, ImportJobId, IntegrationId, PageRequest, Provider, Scope, VideoId,
    ViewRole,
};

use super::{IdemAnswer, Principal, StoreResult};

/// An import job.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRecord {
    /// Id.
    pub id: ImportJobId,
    /// Organisation.
    pub org_id: String,
    /// Creator.
    pub user_id: String,
    /// Scope.
    pub scope: Scope,
    /// Provider.
    pub source: Provider,
    /// Bucket.
    pub bucket: String,
    /// Common prefix.
    pub prefix: Option<String>,
    /// Folder.
    pub folder_id: Option<FolderId>,
    /// Folder name.
    pub folder_name: Option<String>,
    /// Collection.
    pub collection: String,
    /// Integration used.
    pub integration_id: Option<IntegrationId>,
    /// Made of view sets.
    pub multi_view: bool,
    /// Rows (sets for multi-view).
    pub total: i64,
    /// Rows uploaded.
    pub uploaded: i64,
    /// Rows failed.
    pub failed: i64,
    /// Creation (ms).
    pub created_at: i64,
    /// Last change (ms).
    pub updated_at: i64,
    /// Became terminal (ms).
    pub completed_at: Option<i64>,
    /// Cancelled by its owner (ms).
    pub cancelled_at: Option<i64>,
}

/// Which jobs [`Store::list_jobs`] answers.
#[derive(Debug, Clone, Default)]
pub struct JobQuery {
    /// At most this many.
    pub limit: u32,
    /// Only jobs older than this one (the cursor of the previous page).
    pub before: Option<ImportJobId>,
    /// Only jobs in this status.
    pub status: Option<JobStatus>,
    /// Only jobs into this folder.
    pub folder_id: Option<FolderId>,
    /// Only jobs created after this time (ms).
    pub created_after: Option<i64>,
}

/// A row to create with a job.
#[derive(Debug, Clone)]
pub struct NewVideo {
    /// Video id.
    pub id: VideoId,
    /// Multi-view: the set's id (the id of its `front` view).
    pub set_id: Option<VideoId>,
    /// Multi-view: the role.
    pub role: Option<ViewRole>,
    /// Object name in the bucket.
    pub object: String,
    /// Full source URI.
    pub source_uri: String,
}

/// A row as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct RowRecord {
    /// Video id.
    pub id: VideoId,
    /// Job.
    pub job_id: ImportJobId,
    /// Multi-view set (the id of its `front` view).
    pub set_id: Option<VideoId>,
    /// Multi-view role.
    pub role: Option<ViewRole>,
    /// Object name.
    pub object: String,
    /// Source URI.
    pub source_uri: String,
    /// Status.
    pub status: VideoStatus,
    /// Failure reason.
    pub error: Option<String>,
    /// Failure code.
    pub error_code: Option<FailureCode>,
    /// Metadata once uploaded.
    pub metadata: VideoMetadata,
}

/// Jobs and their rows, as the API reads and changes them. Every method is one transaction.
#[async_trait]
pub trait JobStore: Send + Sync {
    /// Create a job and its rows in one transaction.
    async fn create_job(
        &self,
        job: JobRecord,
        videos: Vec<NewVideo>,
        answer: Option<IdemAnswer>,
    ) -> StoreResult<()>;
    /// Rows of an organisation's unfinished jobs not yet uploaded or failed
    /// (listed rows: a multi-view set counts once).
    async fn pending_rows(&self, org_id: &str) -> StoreResult<u64>;
    /// A visible job.
    async fn job(&self, who: &Principal, id: &ImportJobId) -> StoreResult<Option<JobRecord>>;
    /// A job by id, for workers.
    async fn job_by_id(&self, id: &ImportJobId) -> StoreResult<Option<JobRecord>>;
    /// One page of listed rows (single-view rows, or multi-view fronts), at most
    /// `limit + 1` so the caller knows whether more follow.
    async fn list_rows(&self, job: &JobRecord, page: &PageRequest) -> StoreResult<Vec<RowRecord>>;
    /// Every view of the given sets.
    async fn set_views(
        &self,
        job_id: &ImportJobId,
        set_ids: &[VideoId],
    ) -> StoreResult<Vec<RowRecord>>;
    /// Failed rows back to `PENDING` (the named ones, or all); answers their ids.
    async fn retry_rows(
        &self,
        job: &JobRecord,
        ids: Option<&[VideoId]>,
        now: i64,
    ) -> StoreResult<Vec<VideoId>>;
    /// The failure summaries of jobs: their failed listed rows by code, most
    /// frequent first, each with up to five example source URIs (an entry,
    /// maybe empty, for every job asked).
    async fn failure_summaries(
        &self,
        jobs: &[ImportJobId],
    ) -> StoreResult<BTreeMap<ImportJobId, Vec<FailureSummary>>>;
    /// Cancel a job visible to `who`: its rows not yet terminal fail with
    /// `reason` and code `cancelled`, and it becomes terminal. A job that is
    /// terminal already is left as it is. `None` if `who` cannot see it.
    async fn cancel_job(
        &self,
        who: &Principal,
        id: &ImportJobId,
        reason: &str,
        now: i64,
    ) -> StoreResult<Option<JobRecord>>;
    /// The jobs visible to `who`, newest first.
    async fn list_jobs(&self, who: &Principal, query: &JobQuery) -> StoreResult<Vec<JobRecord>>;
    /// A video visible to the caller, with its job.
    async fn video(
        &self,
        who: &Principal,
        id: &VideoId,
    ) -> StoreResult<Option<(RowRecord, JobRecord)>>;
}
