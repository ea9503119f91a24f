//! The store: keys, folders, integrations, jobs and the rows that are the queue.
//!
//! One interface, [`Store`], implemented once over SQL for SQLite (the
//! default: one file, nothing to install) and PostgreSQL (several replicas).
//! Every method is one transaction.

use async_trait::async_trait;
use import_core::wire::{FailureSummary, JobStatus, VideoMetadata, VideoStatus};
use import_core::{
    FailureCode, FolderId, ImportJobId, IntegrationId, PageRequest, Provider, Scope, VideoId,
    ViewRole,
};

use crate::error::StoreError;

mod sql;

pub use sql::{Dialect, SqlStore};

/// Result of a store call.
pub type StoreResult<T> = Result<T, StoreError>;

/// Who is calling: the owner of an API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// User id.
    pub user_id: String,
    /// Organisation id.
    pub org_id: String,
    /// Display name.
    pub display_name: Option<String>,
}

/// A stored API key (hashed).
#[derive(Debug, Clone)]
pub struct NewApiKey {
    /// Its id (`ak_` and 16 hex characters of its hash), to name it in
    /// listings and revocations; never the key.
    pub id: String,
    /// When it stops being accepted (ms), if ever.
    pub expires_at: Option<i64>,
    /// SHA-256 of the key.
    pub key_hash: String,
    /// The first characters, to recognise it in listings.
    pub key_prefix: String,
    /// Its owner.
    pub principal: Principal,
    /// Creation time (ms).
    pub created_at: i64,
}

/// A stored API key as the server reads it (to authenticate a request,
/// or to list keys for an operator): never the key or its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// The key's id.
    pub id: String,
    /// Its owner.
    pub principal: Principal,
    /// Creation (ms).
    pub created_at: i64,
    /// Last recorded use (ms).
    pub last_used_at: Option<i64>,
    /// Expiry (ms), if any.
    pub expires_at: Option<i64>,
    /// Revocation (ms), if revoked.
    pub revoked_at: Option<i64>,
}

/// A folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderRecord {
    /// Id.
    pub id: FolderId,
    /// Organisation.
    pub org_id: String,
    /// Scope.
    pub scope: Scope,
    /// Owner for `user` folders, empty for `org` folders.
    pub owner_id: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Creator.
    pub created_by: String,
    /// Creation time (ms).
    pub created_at: i64,
}

/// A saved integration; the secrets stay sealed.
#[derive(Clone, PartialEq, Eq)]
pub struct IntegrationRecord {
    /// Id.
    pub id: IntegrationId,
    /// Organisation.
    pub org_id: String,
    /// Creator's user id.
    pub created_by: String,
    /// Creator's display name.
    pub created_by_display_name: Option<String>,
    /// Name.
    pub name: String,
    /// Provider.
    pub kind: Provider,
    /// Bucket.
    pub bucket: String,
    /// Prefix it is narrowed to.
    pub prefix: Option<String>,
    /// S3 region.
    pub region: Option<String>,
    /// S3-compatible endpoint.
    pub endpoint_url: Option<String>,
    /// AES-256-GCM sealed secrets.
    pub sealed_secrets: Vec<u8>,
    /// Creation time (ms).
    pub created_at: i64,
    /// Last use (ms).
    pub last_used: Option<i64>,
}

impl std::fmt::Debug for IntegrationRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntegrationRecord")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("endpoint_url", &self.endpoint_url)
            .field("sealed_secrets", &"<sealed>")
            .finish_non_exhaustive()
    }
}

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

/// Row counts for the metrics ([`Store::row_gauges`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RowGauges {
    /// Listed rows by status, from the jobs' counters (`UPLOADING`: every row
    /// being copied, views of sets included).
    pub by_status: Vec<(VideoStatus, i64)>,
    /// Pending rows whose time has come, counted up to [`CLAIMABLE_COUNT_CAP`].
    pub claimable: i64,
}

/// The most claimable rows [`Store::row_gauges`] counts: the count walks the
/// queue's index, so it is bounded.
pub const CLAIMABLE_COUNT_CAP: i64 = 1_000_000;

/// What [`Store::release_expired`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Released {
    /// Rows queued again.
    pub requeued: u64,
    /// Rows failed for good: interrupted on every attempt.
    pub failed: u64,
}

/// What a row interrupted on every attempt says.
pub const INTERRUPTED_REASON: &str = "the import of this object was interrupted on every attempt (its worker stopped or lost its lease each time); check the server's logs for what stops it, then retry the row";

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

/// A row claimed by a worker.
#[derive(Debug, Clone)]
pub struct ClaimedRow {
    /// Video id.
    pub id: VideoId,
    /// Job.
    pub job_id: ImportJobId,
    /// Object name.
    pub object: String,
    /// Claims so far, this one included.
    pub attempts: i64,
    /// The media bucket's multipart upload an earlier owner of the row
    /// started and may have left behind (abort it before copying).
    pub upload_id: Option<String>,
}

/// The most rows one claim takes ([`Store::claim_many`]): the batch the
/// workers claim in, and the limit of the store's claim statement.
pub const CLAIM_BATCH: u32 = 32;

/// A claimed row's outcome, to be written by [`Store::finish_many`].
#[derive(Debug, Clone)]
pub struct FinishedRow {
    /// The row.
    pub id: VideoId,
    /// The lease owner that claimed it.
    pub worker: String,
    /// How its copy ended.
    pub outcome: RowOutcome,
}

/// How a worker finished a row.
#[derive(Debug, Clone)]
pub enum RowOutcome {
    /// Stored, with its metadata.
    Uploaded(VideoMetadata),
    /// Failed for good, with its code and a reason a person understands.
    Failed(FailureCode, String),
    /// A transient failure: back to `PENDING` until `not_before` (ms).
    RetryLater {
        /// Earliest next claim (ms).
        not_before: i64,
        /// The failure, kept for the record.
        error: String,
    },
}

/// An idempotency key, as its owner scopes it: the same key from two
/// organisations (or two users) names two requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdemKey {
    /// The caller's organisation.
    pub org_id: String,
    /// The caller.
    pub user_id: String,
    /// The `Idempotency-Key` header.
    pub key: String,
}

/// The answer recorded for an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdemAnswer {
    /// Whose key.
    pub key: IdemKey,
    /// The answer's status.
    pub status: u16,
    /// The answer's body.
    pub body: Vec<u8>,
}

/// A server process registered in the database (see `instance`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceRecord {
    /// Its id (`in_...`).
    pub id: String,
    /// The host it runs on.
    pub host: String,
    /// Its process id.
    pub pid: i64,
    /// When it started (ms).
    pub started_at: i64,
    /// Its last heartbeat (ms).
    pub heartbeat_at: i64,
    /// The PostgreSQL advisory lock it holds while it lives.
    pub lock_key: i64,
}

/// The PostgreSQL advisory lock of a live process, held on a connection of
/// its own until dropped ([`Store::hold_instance_lock`]).
pub struct InstanceLock {
    pub(crate) _held: std::sync::Mutex<Box<dyn std::any::Any + Send>>,
}

impl std::fmt::Debug for InstanceLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InstanceLock")
    }
}

/// What the idempotency table says about a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdemBegin {
    /// First time: serve it, then [`Store::idem_finish`].
    Fresh,
    /// Seen with the same body: answer this again.
    Replay {
        /// The first answer's status.
        status: u16,
        /// The first answer's body.
        body: Vec<u8>,
    },
    /// Seen with another body.
    Conflict,
    /// A request with this key has not answered yet: it is being served by
    /// the process `instance_id`, or that process died (then
    /// [`Store::idem_take_over`]).
    Reserved {
        /// The process serving it.
        instance_id: Option<String>,
    },
}

/// The persistence interface of the server.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Store a hashed API key.
    async fn create_api_key(&self, key: NewApiKey) -> StoreResult<()>;
    /// The owner of a key hash.
    async fn principal_for_key(&self, key_hash: &str) -> StoreResult<Option<ApiKeyRecord>>;
    /// Record a key's use at `now` (ms).
    async fn touch_api_key(&self, key_id: &str, now: i64) -> StoreResult<()>;
    /// Every API key, oldest first.
    async fn list_api_keys(&self) -> StoreResult<Vec<ApiKeyRecord>>;
    /// Revoke a key that is not revoked yet; whether one was.
    async fn revoke_api_key(&self, key_id: &str, now: i64) -> StoreResult<bool>;

    /// Create a folder; `Ok(None)` when the name exists in that scope.
    async fn insert_folder(&self, folder: FolderRecord) -> StoreResult<Option<FolderRecord>>;
    /// A visible folder by name and scope.
    async fn folder_by_name(
        &self,
        who: &Principal,
        name: &str,
        scope: Scope,
    ) -> StoreResult<Option<FolderRecord>>;
    /// A visible folder by id.
    async fn folder_by_id(
        &self,
        who: &Principal,
        id: &FolderId,
    ) -> StoreResult<Option<FolderRecord>>;

    /// Save an integration.
    async fn insert_integration(&self, rec: IntegrationRecord) -> StoreResult<()>;
    /// Integrations visible to the caller, newest first.
    async fn list_integrations(&self, who: &Principal) -> StoreResult<Vec<IntegrationRecord>>;
    /// A visible integration.
    async fn integration(
        &self,
        who: &Principal,
        id: &IntegrationId,
    ) -> StoreResult<Option<IntegrationRecord>>;
    /// An integration by id, for workers.
    async fn integration_by_id(&self, id: &IntegrationId)
    -> StoreResult<Option<IntegrationRecord>>;
    /// The caller's newest integration of a provider and bucket.
    async fn newest_integration(
        &self,
        who: &Principal,
        kind: Provider,
        bucket: &str,
    ) -> StoreResult<Option<IntegrationRecord>>;
    /// Delete an integration the caller owns; false if none.
    async fn delete_integration(&self, who: &Principal, id: &IntegrationId) -> StoreResult<bool>;
    /// Record a use.
    async fn touch_integration(&self, id: &IntegrationId, now: i64) -> StoreResult<()>;
    /// Every organisation's integrations in id order after `after`, at most
    /// `limit`, sealed secrets included (for the start's reseal).
    async fn integrations_page(
        &self,
        after: Option<&IntegrationId>,
        limit: u32,
    ) -> StoreResult<Vec<IntegrationRecord>>;
    /// Replace an integration's sealed secrets if they are still `old`;
    /// whether they were (another replica may have resealed them first).
    async fn reseal_integration(
        &self,
        id: &IntegrationId,
        old: &[u8],
        new: &[u8],
    ) -> StoreResult<bool>;

    /// Create a job and its rows in one transaction.
    async fn create_job(
        &self,
        job: JobRecord,
        videos: Vec<NewVideo>,
        answer: Option<IdemAnswer>,
    ) -> StoreResult<()>;
    /// A visible job.
    async fn job(&self, who: &Principal, id: &ImportJobId) -> StoreResult<Option<JobRecord>>;
    /// Rows of an organisation's unfinished jobs not yet uploaded or failed
    /// (listed rows: a multi-view set counts once).
    async fn pending_rows(&self, org_id: &str) -> StoreResult<u64>;
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
    ) -> StoreResult<std::collections::BTreeMap<ImportJobId, Vec<FailureSummary>>>;
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
    /// Whether the database answers and its schema is the one this server
    /// writes; the reason when not.
    async fn ready(&self) -> StoreResult<Result<(), String>>;
    /// Row counts for the metrics, at time `now`.
    async fn row_gauges(&self, now: i64) -> StoreResult<RowGauges>;
    /// A video visible to the caller, with its job.
    async fn video(
        &self,
        who: &Principal,
        id: &VideoId,
    ) -> StoreResult<Option<(RowRecord, JobRecord)>>;

    /// Claim up to `limit` rows to import, the next in the queue's order
    /// (turns, then ids), in one statement; each is leased to `worker`
    /// until `lease_until`.
    async fn claim_many(
        &self,
        worker: &str,
        instance: &str,
        now: i64,
        lease_until: i64,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedRow>>;
    /// Claim the next row to import, leased to `worker` until `lease_until`.
    async fn claim(
        &self,
        worker: &str,
        instance: &str,
        now: i64,
        lease_until: i64,
    ) -> StoreResult<Option<ClaimedRow>> {
        Ok(self
            .claim_many(worker, instance, now, lease_until, 1)
            .await?
            .into_iter()
            .next())
    }
    /// Record the media bucket's multipart upload of a claimed row's copy;
    /// false if the row is no longer ours.
    async fn set_upload_id(
        &self,
        id: &VideoId,
        worker: &str,
        upload_id: Option<&str>,
    ) -> StoreResult<bool>;
    /// Extend a lease; false if the row is no longer ours.
    async fn renew_lease(&self, id: &VideoId, worker: &str, lease_until: i64) -> StoreResult<bool>;
    /// Finish claimed rows in one transaction: for each, in order, whether
    /// it was still its worker's (a row whose lease was lost is left
    /// unchanged). On an error nothing is written.
    async fn finish_many(&self, rows: &[FinishedRow], now: i64) -> StoreResult<Vec<bool>>;
    /// Finish a claimed row; false (and no change) if the lease was lost.
    async fn finish(
        &self,
        id: &VideoId,
        worker: &str,
        outcome: RowOutcome,
        now: i64,
    ) -> StoreResult<bool> {
        let row = FinishedRow {
            id: id.clone(),
            worker: worker.to_owned(),
            outcome,
        };
        Ok(self
            .finish_many(std::slice::from_ref(&row), now)
            .await?
            .first()
            .copied()
            .unwrap_or(false))
    }
    /// Give a claimed row back to `PENDING` without spending the attempt its
    /// claim counted (its worker could not record the outcome); false if the
    /// lease was lost.
    async fn hand_back(&self, id: &VideoId, worker: &str, now: i64) -> StoreResult<bool>;
    /// Rows whose lease expired: back to `PENDING`, or, when they were
    /// claimed `max_attempts` times already, `UPLOADING_FAILED` with code
    /// `interrupted` (counted in their jobs like any finished row).
    async fn release_expired(&self, now: i64, max_attempts: u32) -> StoreResult<Released>;
    /// Which of `ids` are `UPLOADING` under a lease that has not expired at
    /// `now`: their media uploads may be in progress and must be left alone.
    async fn leased_among(&self, ids: &[VideoId], now: i64) -> StoreResult<Vec<VideoId>>;

    /// Register a server process.
    async fn register_instance(&self, instance: &InstanceRecord) -> StoreResult<()>;
    /// A process's heartbeat; false when it is no longer registered (it was
    /// thought dead and its rows were queued again).
    async fn beat_instance(&self, id: &str, now: i64) -> StoreResult<bool>;
    /// Every registered process.
    async fn instances(&self) -> StoreResult<Vec<InstanceRecord>>;
    /// Take the advisory lock `lock_key` for the life of this process, on a
    /// connection of its own (PostgreSQL; `None` on SQLite).
    async fn hold_instance_lock(&self, lock_key: i64) -> StoreResult<Option<InstanceLock>>;
    /// Whether nobody holds the advisory lock `lock_key`: its process is
    /// dead (always true on SQLite, which one process serves).
    async fn instance_lock_free(&self, lock_key: i64) -> StoreResult<bool>;
    /// A dead process's rows queued again at once (or, when they used every
    /// attempt, failed as `interrupted`), its unfinished idempotency
    /// reservations and its registration removed.
    async fn release_instance(
        &self,
        id: &str,
        now: i64,
        max_attempts: u32,
    ) -> StoreResult<Released>;
    /// A stopping process's rows handed back without spending their
    /// attempt, and its registration removed; answers how many.
    async fn hand_back_instance(&self, id: &str, now: i64) -> StoreResult<u64>;

    /// Look up or reserve an idempotency key for the process `instance`.
    async fn idem_begin(
        &self,
        key: &IdemKey,
        fingerprint: &str,
        now: i64,
        instance: &str,
    ) -> StoreResult<IdemBegin>;
    /// Take over the unfinished reservation of the dead process `from`.
    async fn idem_take_over(
        &self,
        key: &IdemKey,
        from: Option<&str>,
        instance: &str,
        now: i64,
    ) -> StoreResult<bool>;
    /// Record the answer of a reserved key.
    async fn idem_finish(&self, key: &IdemKey, status: u16, body: &[u8]) -> StoreResult<()>;
    /// Forget a reserved key (the request failed on our side).
    async fn idem_abort(&self, key: &IdemKey) -> StoreResult<()>;
    /// Forget keys older than `before`.
    async fn idem_prune(&self, before: i64) -> StoreResult<u64>;
}
