//! The rows of every job as one queue: claims under leases, outcomes,
//! hand-backs and expired leases.

use async_trait::async_trait;
use import_core::wire::{VideoMetadata, VideoStatus};
use import_core::{FailureCode, ImportJobId, VideoId};

use super::{InstanceId, LeaseOwner, StoreResult};

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

/// A row claimed by a worker.
#[derive(Debug, Clone)]
pub struct ClaimedRow {
    /// Video id.
    pub id: VideoId,
    /// Job.
    pub job_id: ImportJobId,
    /// Object name.
    pub object: String,
    /// Claims that count against the attempt cap, this one included (a
    /// retry starts them again).
    pub attempts: i64,
    /// This claim's fencing token: every claim the row ever had, this one
    /// included (never reset). The copy writes to a media object of this
    /// claim's own, so a worker that lost the row changes nothing of the
    /// claim that took it over.
    pub claim: u32,
    /// The media bucket's multipart upload an earlier owner of the row
    /// started and may have left behind (abort it before copying).
    pub upload_id: Option<String>,
    /// Times the row was handed back before because its outcome could not
    /// be written ([`import_core::outcome::MAX_FREE_HAND_BACKS`]).
    pub hand_backs: u32,
    /// The claim that started [`upload_id`](Self::upload_id) (its media
    /// object is that claim's).
    pub upload_claim: Option<u32>,
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
    pub worker: LeaseOwner,
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

/// The queue of rows to import, as the workers take and finish them. Every method is one transaction.
#[async_trait]
pub trait QueueStore: Send + Sync {
    /// Claim up to `limit` rows to import, the next in the queue's order
    /// (turns, then ids), in one statement; each is leased to `worker`
    /// until `lease_until`.
    async fn claim_many(
        &self,
        worker: &LeaseOwner,
        instance: &InstanceId,
        now: i64,
        lease_until: i64,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedRow>>;
    /// Record the media bucket's multipart upload of a claimed row's copy;
    /// false if the row is no longer ours.
    async fn set_upload_id(
        &self,
        id: &VideoId,
        worker: &LeaseOwner,
        upload_id: Option<&str>,
    ) -> StoreResult<bool>;
    /// Extend a lease; false if the row is no longer ours.
    async fn renew_lease(
        &self,
        id: &VideoId,
        worker: &LeaseOwner,
        lease_until: i64,
    ) -> StoreResult<bool>;
    /// Finish claimed rows in one transaction: for each, in order, whether
    /// it was still its worker's (a row whose lease was lost is left
    /// unchanged). On an error nothing is written.
    async fn finish_many(&self, rows: &[FinishedRow], now: i64) -> StoreResult<Vec<bool>>;
    /// Give a claimed row back to `PENDING` (its worker could not record the
    /// outcome), counting the hand-back; with `free`, without spending the
    /// attempt its claim counted. False if the lease was lost.
    async fn hand_back(
        &self,
        id: &VideoId,
        worker: &LeaseOwner,
        now: i64,
        free: bool,
    ) -> StoreResult<bool>;
    /// Which of `ids` are `UPLOADING` under a lease that has not expired at
    /// `now`: their media uploads may be in progress and must be left alone.
    async fn leased_among(&self, ids: &[VideoId], now: i64) -> StoreResult<Vec<VideoId>>;
    /// Rows whose lease expired: back to `PENDING`, or, when they were
    /// claimed `max_attempts` times already, `UPLOADING_FAILED` with code
    /// `interrupted` (counted in their jobs like any finished row).
    async fn release_expired(&self, now: i64, max_attempts: u32) -> StoreResult<Released>;
    /// Row counts for the metrics, at time `now`.
    async fn row_gauges(&self, now: i64) -> StoreResult<RowGauges>;
    /// Claim the next row to import, leased to `worker` until `lease_until`:
    /// [`claim_many`](QueueStore::claim_many) of one, a convenience of the
    /// store's tests and benchmarks (the dispatcher claims in batches).
    async fn claim(
        &self,
        worker: &LeaseOwner,
        instance: &InstanceId,
        now: i64,
        lease_until: i64,
    ) -> StoreResult<Option<ClaimedRow>> {
        Ok(self
            .claim_many(worker, instance, now, lease_until, 1)
            .await?
            .into_iter()
            .next())
    }
    /// Finish a claimed row; false (and no change) if the lease was lost:
    /// [`finish_many`](QueueStore::finish_many) of one, a convenience of the
    /// store's tests (the recorder finishes in groups).
    async fn finish(
        &self,
        id: &VideoId,
        worker: &LeaseOwner,
        outcome: RowOutcome,
        now: i64,
    ) -> StoreResult<bool> {
        let row = FinishedRow {
            id: id.clone(),
            worker: worker.clone(),
            outcome,
        };
        Ok(self
            .finish_many(std::slice::from_ref(&row), now)
            .await?
            .first()
            .copied()
            .unwrap_or(false))
    }
}
