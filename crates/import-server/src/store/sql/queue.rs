//! The rows as a queue: claims under leases, renewals, outcomes written in
//! groups, hand-backs, expired leases, and the gauges of the queue.

use async_trait::async_trait;
use import_core::wire::{VideoMetadata, VideoStatus};
use import_core::{ChecksumAlgorithm, Counts, FailureCode, VideoId, ViewRole};
use sqlx::{AssertSqlSafe, Row};

use super::rows::{json_text, stored_text, typed, typed_opt};
use super::statements::CLAIM_LIMIT;
use super::tally::{JobTally, count_failures};
use super::{Dialect, LIST_CHUNK, SqlStore};
use crate::store::{
    CLAIM_BATCH, ClaimedRow, FinishedRow, QueueStore, Released, RowGauges, RowOutcome, StoreResult,
};
use crate::store::{InstanceId, LeaseOwner};

impl SqlStore {
    /// The claim statement for up to `limit` rows (1 to [`CLAIM_BATCH`]).
    /// The limit is written into the statement, not bound: with a bound
    /// limit PostgreSQL plans for a tenth of the queue, and checks the
    /// view-set rule by hashing a scan of every video (a sequential scan per
    /// claim) instead of probing `videos_set` for the rows it takes. Each
    /// limit is its own prepared statement (at most [`CLAIM_BATCH`] of them).
    pub(super) fn claim_sql(&self, limit: u32) -> String {
        self.sql
            .claim
            .replace(CLAIM_LIMIT, &limit.clamp(1, CLAIM_BATCH).to_string())
    }

    /// Write one finished row inside `tx`: its job and what it adds to the
    /// job's counts, or `None` if the row is no longer its worker's.
    pub(super) async fn finish_row(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        row: &FinishedRow,
        now: i64,
    ) -> StoreResult<Option<(String, JobTally)>> {
        let (status, error, code, not_before, mut meta) = match row.outcome.clone() {
            RowOutcome::Uploaded(meta) => (VideoStatus::Uploaded, None, None, 0, meta),
            RowOutcome::Failed(code, error) => (
                VideoStatus::UploadingFailed,
                Some(error),
                Some(code),
                0,
                VideoMetadata::default(),
            ),
            RowOutcome::RetryLater { not_before, error } => (
                VideoStatus::Pending,
                Some(error),
                None,
                not_before,
                VideoMetadata::default(),
            ),
        };
        // Text from outside (a source's message, a video's bytes) is made
        // safe for both databases here, where every outcome is written: a
        // NUL, which PostgreSQL refuses in TEXT, never reaches a statement.
        let error = error.map(|e| stored_text(&e));
        for text in [&mut meta.codec, &mut meta.xet_hash, &mut meta.sha256]
            .into_iter()
            .flatten()
        {
            *text = stored_text(text);
        }
        // Not kept as a prepared statement: sqlx-core 0.9.0's `Any` driver
        // binds a NULL `Option<f64>` as FLOAT4 (its `Real`/`Double` NULL
        // mapping is swapped, `any/arguments.rs`) and a present one as
        // FLOAT8. PostgreSQL prepares a statement with the parameter types of
        // its first execution on a connection, so a cached `finish` first run
        // for a failed row (NULL `duration_s`) then refuses an uploaded row's
        // duration ("incorrect binary data format in bind parameter 6").
        // Preparing it afresh each time takes each execution's own types.
        let found = sqlx::query(AssertSqlSafe(self.sql.finish.as_str()))
            .persistent(false)
            .bind(status.as_str())
            .bind(&error)
            .bind(not_before)
            .bind(meta.size_bytes.map(|v| v as i64))
            .bind(&meta.sha256)
            .bind(meta.duration_s)
            .bind(meta.width.map(i64::from))
            .bind(meta.height.map(i64::from))
            .bind(&meta.codec)
            .bind(now)
            .bind(row.id.as_str())
            .bind(row.worker.as_str())
            .bind(code.as_ref().map(FailureCode::as_str))
            .bind(
                meta.verified_checksum
                    .as_ref()
                    .map(ChecksumAlgorithm::as_str),
            )
            .bind(&meta.xet_hash)
            .fetch_optional(&mut **tx)
            .await?;
        let Some(found) = found else {
            return Ok(None);
        };
        let job_id: String = found.try_get("job_id")?;
        let role: Option<ViewRole> = typed_opt("role", found.try_get("role")?)?;
        let mut tally = JobTally {
            terminal: status != VideoStatus::Pending,
            ..JobTally::default()
        };
        // Views of a set other than `front` are not listed: not counted.
        if ViewRole::is_listed(role.as_ref()) {
            match status {
                VideoStatus::Uploaded => tally.uploaded = 1,
                VideoStatus::UploadingFailed => {
                    tally.failed = 1;
                    if let Some(code) = code {
                        tally
                            .failures
                            .push((code, vec![found.try_get("source_uri")?]));
                    }
                }
                _ => {}
            }
        }
        Ok(Some((job_id, tally)))
    }
}

#[async_trait]
impl QueueStore for SqlStore {
    async fn claim_many(
        &self,
        worker: &LeaseOwner,
        instance: &InstanceId,
        now: i64,
        lease_until: i64,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedRow>> {
        let rows = sqlx::query(AssertSqlSafe(self.claim_sql(limit)))
            .bind(worker.as_str())
            .bind(lease_until)
            .bind(now)
            .bind(instance.as_str())
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(ClaimedRow {
                    id: typed("id", r.try_get("id")?)?,
                    job_id: typed("job_id", r.try_get("job_id")?)?,
                    object: r.try_get("object")?,
                    attempts: r.try_get("attempts")?,
                    upload_id: r.try_get("upload_id")?,
                    hand_backs: u32::try_from(r.try_get::<i64, _>("hand_backs")?)
                        .unwrap_or(u32::MAX),
                    claim: u32::try_from(r.try_get::<i64, _>("claims")?).unwrap_or(u32::MAX),
                    upload_claim: r
                        .try_get::<Option<i64>, _>("upload_claim")?
                        .map(|c| u32::try_from(c).unwrap_or(u32::MAX)),
                })
            })
            .collect()
    }

    async fn set_upload_id(
        &self,
        id: &VideoId,
        worker: &LeaseOwner,
        upload_id: Option<&str>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(AssertSqlSafe(self.sql.set_upload_id.as_str()))
            .bind(upload_id.map(stored_text))
            .bind(id.as_str())
            .bind(worker.as_str())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn renew_lease(
        &self,
        id: &VideoId,
        worker: &LeaseOwner,
        lease_until: i64,
    ) -> StoreResult<bool> {
        let done = sqlx::query(AssertSqlSafe(self.sql.renew.as_str()))
            .bind(lease_until)
            .bind(id.as_str())
            .bind(worker.as_str())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn finish_many(&self, rows: &[FinishedRow], now: i64) -> StoreResult<Vec<bool>> {
        let mut tx = self.pool.begin().await?;
        // Asynchronous commit for this transaction only: it holds its jobs'
        // row locks until the commit, so waiting for the WAL flush there caps
        // the finishes of one job at one batch per flush (docs/performance.md).
        // What a PostgreSQL crash can cost is the last fraction of a second of
        // finishes: those rows are still `UPLOADING` under their lease, and
        // are copied again once it expires, to the same media path. Creating
        // a job, the claim and everything a client is answered about stay
        // synchronous.
        if self.dialect == Dialect::Postgres {
            sqlx::query("SET LOCAL synchronous_commit TO OFF")
                .execute(&mut *tx)
                .await?;
        }
        // The rows first, then their jobs in the order of their ids: two
        // batches (of two replicas) never wait on each other's jobs in a circle.
        let mut done = Vec::with_capacity(rows.len());
        let mut jobs: std::collections::BTreeMap<String, JobTally> = Default::default();
        for row in rows {
            let Some((job_id, tally)) = self.finish_row(&mut tx, row, now).await? else {
                done.push(false);
                continue;
            };
            done.push(true);
            jobs.entry(job_id).or_default().add(tally);
        }
        let mut completed = Vec::new();
        for (job_id, tally) in &jobs {
            // A row back in the queue changes nothing its job shows.
            if tally.terminal {
                completed.extend(
                    self.count_in_job(&mut tx, job_id, tally.uploaded, tally.failed, now)
                        .await?,
                );
            }
            // The job's failure summary, under the job's lock taken above.
            for (code, uris) in &tally.failures {
                count_failures(&mut tx, job_id, code, uris.len() as i64, uris).await?;
            }
        }
        tx.commit().await?;
        completed.iter().for_each(super::tally::JobDone::log);
        Ok(done)
    }

    async fn hand_back(
        &self,
        id: &VideoId,
        worker: &LeaseOwner,
        now: i64,
        free: bool,
    ) -> StoreResult<bool> {
        let done = sqlx::query(AssertSqlSafe(self.sql.hand_back.as_str()))
            .bind(now)
            .bind(id.as_str())
            .bind(worker.as_str())
            .bind(i64::from(free))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn leased_among(&self, ids: &[VideoId], now: i64) -> StoreResult<Vec<VideoId>> {
        let mut out = Vec::new();
        for chunk in ids.chunks(LIST_CHUNK) {
            let list: Vec<&str> = chunk.iter().map(VideoId::as_str).collect();
            let leased: Vec<(String,)> =
                sqlx::query_as(AssertSqlSafe(self.sql.leased_among.as_str()))
                    .bind(json_text(&list)?)
                    .bind(now)
                    .fetch_all(&self.pool)
                    .await?;
            for (id,) in leased {
                out.push(typed("id", id)?);
            }
        }
        Ok(out)
    }

    async fn release_expired(&self, now: i64, max_attempts: u32) -> StoreResult<Released> {
        let mut tx = self.pool.begin().await?;
        // The rows first, then their jobs: the order in which `finish` locks them.
        let statements = (
            self.sql.fail_interrupted.as_str(),
            self.sql.release_expired.as_str(),
        );
        let (released, completed) = self
            .release_rows(&mut tx, statements, None, now, max_attempts)
            .await?;
        tx.commit().await?;
        completed.iter().for_each(super::tally::JobDone::log);
        Ok(released)
    }

    async fn row_gauges(&self, now: i64) -> StoreResult<RowGauges> {
        let (total, uploaded, failed): (i64, i64, i64) = sqlx::query_as(
            "SELECT CAST(COALESCE(SUM(total), 0) AS BIGINT), CAST(COALESCE(SUM(uploaded), 0) AS BIGINT),
                    CAST(COALESCE(SUM(failed), 0) AS BIGINT) FROM jobs",
        )
        .fetch_one(&self.pool)
        .await?;
        let uploading: i64 = sqlx::query_scalar(AssertSqlSafe(self.sql.count_uploading.as_str()))
            .fetch_one(&self.pool)
            .await?;
        let claimable: i64 = sqlx::query_scalar(AssertSqlSafe(self.sql.count_claimable.as_str()))
            .bind(now)
            .fetch_one(&self.pool)
            .await?;
        Ok(RowGauges {
            by_status: vec![
                (
                    VideoStatus::Pending,
                    i64::try_from(Counts::from_totals(total, uploaded, failed).pending)
                        .unwrap_or(i64::MAX)
                        .saturating_sub(uploading)
                        .max(0),
                ),
                (VideoStatus::Uploading, uploading),
                (VideoStatus::Uploaded, uploaded),
                (VideoStatus::UploadingFailed, failed),
            ],
            claimable,
        })
    }
}

impl SqlStore {
    /// The database's plan for the claim query at time `now`, one line per
    /// plan node (`EXPLAIN QUERY PLAN` on SQLite, `EXPLAIN` on PostgreSQL;
    /// nothing is claimed). For the queue benchmark and for operators who
    /// want to see that a claim stays on the queue's index.
    pub async fn explain_claim(&self, now: i64) -> StoreResult<Vec<String>> {
        let (explain, column) = match self.dialect {
            Dialect::Sqlite => ("EXPLAIN QUERY PLAN", 3),
            Dialect::Postgres => ("EXPLAIN", 0),
        };
        let sql = format!("{explain} {}", self.claim_sql(CLAIM_BATCH));
        let rows = sqlx::query(AssertSqlSafe(sql))
            .persistent(false)
            .bind("wk_explain")
            .bind(now)
            .bind(now)
            .bind("in_explain")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok(r.try_get::<String, _>(column)?))
            .collect()
    }
}
