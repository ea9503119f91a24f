//! Import jobs and their rows as the API reads them: creation (with the
//! fair-share turns), pages of listed rows, set views, retry, cancel, lists,
//! failure summaries.

use std::collections::BTreeMap;

use async_trait::async_trait;
use import_core::wire::{FailureSummary, JobStatus, VideoStatus};
use import_core::{
    FailureCode, FolderId, ImportJobId, IntegrationId, PageRequest, Scope, VideoId, ViewRole,
};
use sqlx::{AssertSqlSafe, Row};

use super::rows::{ROW_COLUMNS, job_from, json_text, rows_from_json, text_array, typed, typed_opt};
use super::tally::rebuild_failures;
use super::{ANALYZE_AFTER_ROWS, Dialect, LIST_CHUNK, SqlStore};
use crate::error::StoreError;
use crate::store::{
    IdemAnswer, JobQuery, JobRecord, JobStore, NewVideo, Principal, RowRecord, StoreResult,
};

impl SqlStore {
    /// Take `count` consecutive turns in `org_id`'s line, inside `tx`: from
    /// the turn being served now (the lowest turn of a queued row; with none
    /// queued, the highest any organisation reached), or after the
    /// organisation's own last turn if that is later. Answers the first.
    pub(super) async fn take_turns(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        org_id: &str,
        count: usize,
    ) -> StoreResult<i64> {
        sqlx::query("INSERT INTO org_turns (org_id, next_turn) VALUES ($1, 0) ON CONFLICT (org_id) DO NOTHING")
            .bind(org_id)
            .execute(&mut **tx)
            .await?;
        let own: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT next_turn FROM org_turns WHERE org_id = $1{}",
            self.dialect.lock_turns()
        )))
        .bind(org_id)
        .fetch_one(&mut **tx)
        .await?;
        let now_served: i64 = sqlx::query_scalar(AssertSqlSafe(self.sql.now_served.as_str()))
            .fetch_one(&mut **tx)
            .await?;
        let first = own.max(now_served);
        sqlx::query("UPDATE org_turns SET next_turn = $1 WHERE org_id = $2")
            .bind(first.saturating_add(count as i64))
            .bind(org_id)
            .execute(&mut **tx)
            .await?;
        Ok(first)
    }
}

#[async_trait]
impl JobStore for SqlStore {
    async fn create_job(
        &self,
        j: JobRecord,
        videos: Vec<NewVideo>,
        answer: Option<IdemAnswer>,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        // The request's idempotency answer commits with its job: after a
        // crash there are both or neither, so a replay never makes a second job.
        if let Some(answer) = &answer {
            let recorded = sqlx::query(
                "UPDATE idempotency_keys SET status = $1, body = $2
                 WHERE org_id = $3 AND user_id = $4 AND key = $5 AND status IS NULL",
            )
            .bind(i64::from(answer.status))
            .bind(&answer.body)
            .bind(&answer.key.org_id)
            .bind(&answer.key.user_id)
            .bind(&answer.key.key)
            .execute(&mut *tx)
            .await?;
            if recorded.rows_affected() != 1 {
                // The reservation was taken over (this process was thought
                // dead): the other request makes the job.
                tx.rollback().await?;
                return Err(StoreError::IdempotencyTakenOver);
            }
        }
        sqlx::query(
            "INSERT INTO jobs (id, org_id, user_id, scope, source, bucket, prefix, folder_id, folder_name, collection,
                integration_id, multi_view, total, uploaded, failed, created_at, updated_at, completed_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
        )
        .bind(j.id.as_str())
        .bind(&j.org_id)
        .bind(&j.user_id)
        .bind(j.scope.as_str())
        .bind(j.source.wire_name())
        .bind(&j.bucket)
        .bind(&j.prefix)
        .bind(j.folder_id.as_ref().map(FolderId::as_str))
        .bind(&j.folder_name)
        .bind(&j.collection)
        .bind(j.integration_id.as_ref().map(IntegrationId::as_str))
        .bind(i64::from(j.multi_view))
        .bind(j.total)
        .bind(j.uploaded)
        .bind(j.failed)
        .bind(j.created_at)
        .bind(j.updated_at)
        .bind(j.completed_at)
        .execute(&mut *tx)
        .await?;
        let mut turn = self.take_turns(&mut tx, &j.org_id, videos.len()).await?;
        for chunk in videos.chunks(LIST_CHUNK) {
            let q = sqlx::query(AssertSqlSafe(self.sql.insert_videos.as_str()))
                .bind(j.id.as_str())
                .bind(VideoStatus::Pending.as_str())
                .bind(j.created_at);
            let q = match self.dialect {
                Dialect::Sqlite => {
                    let rows: Vec<_> = chunk
                        .iter()
                        .map(|v| {
                            (
                                v.id.as_str(),
                                v.set_id.as_ref().map(VideoId::as_str),
                                v.role.as_ref().map(ViewRole::as_str),
                                v.object.as_str(),
                                v.source_uri.as_str(),
                            )
                        })
                        .collect();
                    q.bind(json_text(&rows)?).bind(turn)
                }
                Dialect::Postgres => q
                    .bind(text_array(chunk.iter().map(|v| Some(v.id.as_str()))))
                    .bind(text_array(
                        chunk.iter().map(|v| v.set_id.as_ref().map(VideoId::as_str)),
                    ))
                    .bind(text_array(
                        chunk.iter().map(|v| v.role.as_ref().map(ViewRole::as_str)),
                    ))
                    .bind(text_array(chunk.iter().map(|v| Some(v.object.as_str()))))
                    .bind(text_array(
                        chunk.iter().map(|v| Some(v.source_uri.as_str())),
                    ))
                    .bind(turn),
            };
            q.execute(&mut *tx).await?;
            turn += chunk.len() as i64;
        }
        tx.commit().await?;
        if self.dialect == Dialect::Postgres && videos.len() >= ANALYZE_AFTER_ROWS {
            // Fresh statistics for the planner: without them PostgreSQL takes
            // a big new job for a few dozen rows and reads a page of it by
            // sorting all its rows (32 ms instead of 2 ms for the first page
            // of 100,000). ANALYZE samples a bounded number of rows (300 x
            // default_statistics_target) whatever the table's size. The job
            // exists already; a failure here only costs speed.
            if let Err(e) = sqlx::query("ANALYZE videos").execute(&self.pool).await {
                tracing::warn!(error = %e, "refreshing the planner's statistics after a big job failed");
            }
        }
        Ok(())
    }

    async fn pending_rows(&self, org_id: &str) -> StoreResult<u64> {
        let pending: i64 = sqlx::query_scalar(
            // SUM of BIGINT is NUMERIC on PostgreSQL: cast back.
            "SELECT CAST(COALESCE(SUM(total - uploaded - failed), 0) AS BIGINT) FROM jobs WHERE org_id = $1 AND completed_at IS NULL",
        )
        .bind(org_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(u64::try_from(pending).unwrap_or(0))
    }

    async fn job(&self, who: &Principal, id: &ImportJobId) -> StoreResult<Option<JobRecord>> {
        let row = sqlx::query(
            "SELECT * FROM jobs WHERE id = $1 AND org_id = $2 AND (user_id = $3 OR scope = $4)",
        )
        .bind(id.as_str())
        .bind(&who.org_id)
        .bind(&who.user_id)
        .bind(Scope::Org.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(job_from).transpose()
    }

    async fn job_by_id(&self, id: &ImportJobId) -> StoreResult<Option<JobRecord>> {
        let row = sqlx::query("SELECT * FROM jobs WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(job_from).transpose()
    }

    async fn list_rows(&self, job: &JobRecord, page: &PageRequest) -> StoreResult<Vec<RowRecord>> {
        // The page comes back as one JSON array built by SQLite: one row crosses
        // the driver instead of a thousand, which is most of a page's cost.
        let limit = i64::from(page.limit()) + 1;
        let (filter, offset) = match page.offset() {
            Some(offset) => ("", i64::try_from(offset).unwrap_or(i64::MAX)),
            None => ("AND id > $2", 0),
        };
        let sql = format!(
            "SELECT {} FROM (
                SELECT {ROW_COLUMNS} FROM videos WHERE job_id = $1 {filter} AND {}
                ORDER BY id LIMIT $3 OFFSET $4) page",
            self.dialect.json_rows(),
            self.sql.listed
        );
        let json: String = sqlx::query_scalar(AssertSqlSafe(sql))
            .bind(job.id.as_str())
            .bind(page.cursor().map_or("", |c| c.as_str()))
            .bind(limit)
            .bind(offset)
            .fetch_one(&self.pool)
            .await?;
        let mut rows = rows_from_json(&json)?;
        rows.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(rows)
    }

    async fn set_views(
        &self,
        job_id: &ImportJobId,
        set_ids: &[VideoId],
    ) -> StoreResult<Vec<RowRecord>> {
        let mut out = Vec::new();
        for chunk in set_ids.chunks(LIST_CHUNK) {
            let sql = format!(
                "SELECT {} FROM (SELECT {ROW_COLUMNS} FROM videos WHERE job_id = $1 AND set_id IN {} ORDER BY id) page",
                self.dialect.json_rows(),
                self.dialect.json_list("$2")
            );
            let ids: Vec<&str> = chunk.iter().map(VideoId::as_str).collect();
            let json: String = sqlx::query_scalar(AssertSqlSafe(sql))
                .bind(job_id.as_str())
                .bind(json_text(&ids)?)
                .fetch_one(&self.pool)
                .await?;
            out.extend(rows_from_json(&json)?);
        }
        Ok(out)
    }

    async fn retry_rows(
        &self,
        job: &JobRecord,
        ids: Option<&[VideoId]>,
        now: i64,
    ) -> StoreResult<Vec<VideoId>> {
        let mut tx = self.pool.begin().await?;
        let filter = match ids {
            Some([]) => return Ok(Vec::new()),
            Some(_) => format!(" AND id IN {}", self.dialect.json_list("$3")),
            None => String::new(),
        };
        let sql = format!("{}{filter} RETURNING id, set_id, role", self.sql.retry);
        let mut q = sqlx::query(AssertSqlSafe(sql))
            .bind(now)
            .bind(job.id.as_str());
        if let Some(ids) = ids {
            let ids: Vec<&str> = ids.iter().map(VideoId::as_str).collect();
            q = q.bind(json_text(&ids)?);
        }
        let rows = q.fetch_all(&mut *tx).await?;
        let mut retried = Vec::with_capacity(rows.len());
        let mut failed_listed = 0i64;
        for row in &rows {
            let role: Option<ViewRole> = typed_opt("role", row.try_get("role")?)?;
            retried.push(typed("id", row.try_get("id")?)?);
            if ViewRole::is_listed(role.as_ref()) {
                failed_listed += 1;
            }
        }
        if !retried.is_empty() {
            // Retried rows queue again in their organisation's line as new
            // rows do: an old turn would put them ahead of every other
            // organisation's work.
            let mut turn = self.take_turns(&mut tx, &job.org_id, retried.len()).await?;
            for chunk in retried.chunks(LIST_CHUNK) {
                let ids: Vec<&str> = chunk.iter().map(VideoId::as_str).collect();
                sqlx::query(self.dialect.set_turns())
                    .bind(turn)
                    .bind(json_text(&ids)?)
                    .execute(&mut *tx)
                    .await?;
                turn += chunk.len() as i64;
            }
            // A retried job (a cancelled one included) is importing again.
            sqlx::query("UPDATE jobs SET failed = failed - $1, completed_at = NULL, cancelled_at = NULL, updated_at = $2 WHERE id = $3")
                .bind(failed_listed)
                .bind(now)
                .bind(job.id.as_str())
                .execute(&mut *tx)
                .await?;
            rebuild_failures(&mut tx, &self.sql, job.id.as_str()).await?;
        }
        tx.commit().await?;
        Ok(retried)
    }

    async fn failure_summaries(
        &self,
        jobs: &[ImportJobId],
    ) -> StoreResult<BTreeMap<ImportJobId, Vec<FailureSummary>>> {
        let mut out: BTreeMap<ImportJobId, Vec<FailureSummary>> =
            jobs.iter().map(|id| (id.clone(), Vec::new())).collect();
        for chunk in jobs.chunks(LIST_CHUNK) {
            let ids: Vec<&str> = chunk.iter().map(ImportJobId::as_str).collect();
            let lines: Vec<(String, String, i64, String)> = sqlx::query_as(AssertSqlSafe(format!(
                "SELECT job_id, code, count, examples FROM job_failures
                 WHERE job_id IN {} AND count > 0 ORDER BY job_id, count DESC, code",
                self.dialect.json_list("$1")
            )))
            .bind(json_text(&ids)?)
            .fetch_all(&self.pool)
            .await?;
            for (job_id, code, count, examples) in lines {
                let job_id: ImportJobId = typed("job_id", job_id)?;
                out.entry(job_id).or_default().push(FailureSummary {
                    code: FailureCode::from_wire(&code),
                    count: count.max(0) as u64,
                    examples: serde_json::from_str(&examples)
                        .map_err(|_| StoreError::Corrupt { column: "examples" })?,
                });
            }
        }
        Ok(out)
    }

    async fn cancel_job(
        &self,
        who: &Principal,
        id: &ImportJobId,
        reason: &str,
        now: i64,
    ) -> StoreResult<Option<JobRecord>> {
        let Some(job) = self.job(who, id).await? else {
            return Ok(None);
        };
        if job.completed_at.is_some() {
            // Terminal already (completed, or cancelled before): nothing to stop.
            return Ok(Some(job));
        }
        let mut tx = self.pool.begin().await?;
        // The rows first, then the job: the order in which `finish` locks them.
        let rows = sqlx::query(AssertSqlSafe(self.sql.cancel.as_str()))
            .bind(reason)
            .bind(FailureCode::Cancelled.as_str())
            .bind(now)
            .bind(id.as_str())
            .fetch_all(&mut *tx)
            .await?;
        let mut cancelled_listed = 0i64;
        for row in &rows {
            let role: Option<ViewRole> = typed_opt("role", row.try_get("role")?)?;
            if ViewRole::is_listed(role.as_ref()) {
                cancelled_listed += 1;
            }
        }
        sqlx::query(
            "UPDATE jobs SET failed = failed + $1, cancelled_at = $2, completed_at = $2, updated_at = $2
             WHERE id = $3 AND completed_at IS NULL",
        )
        .bind(cancelled_listed)
        .bind(now)
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?;
        rebuild_failures(&mut tx, &self.sql, id.as_str()).await?;
        tx.commit().await?;
        self.job(who, id).await
    }

    async fn list_jobs(&self, who: &Principal, query: &JobQuery) -> StoreResult<Vec<JobRecord>> {
        let status = match &query.status {
            None => "",
            Some(JobStatus::Importing) => " AND completed_at IS NULL",
            Some(JobStatus::Cancelled) => " AND cancelled_at IS NOT NULL",
            Some(JobStatus::Completed) => {
                " AND completed_at IS NOT NULL AND cancelled_at IS NULL AND failed = 0"
            }
            Some(JobStatus::CompletedWithErrors) => {
                " AND completed_at IS NOT NULL AND cancelled_at IS NULL AND failed > 0 AND uploaded > 0"
            }
            Some(JobStatus::Failed) => {
                " AND completed_at IS NOT NULL AND cancelled_at IS NULL AND failed > 0 AND uploaded = 0"
            }
            // A status this server does not know matches no job.
            Some(JobStatus::Unknown(_)) => " AND 1 = 0",
        };
        let sql = format!(
            "SELECT * FROM jobs WHERE org_id = $1 AND (user_id = $2 OR scope = $3)
               AND ($4 = '' OR id < $4) AND ($5 = '' OR folder_id = $5) AND created_at > $6{status}
             ORDER BY id DESC LIMIT $7"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(&who.org_id)
            .bind(&who.user_id)
            .bind(Scope::Org.as_str())
            .bind(query.before.as_ref().map_or("", ImportJobId::as_str))
            .bind(query.folder_id.as_ref().map_or("", FolderId::as_str))
            .bind(query.created_after.unwrap_or(i64::MIN))
            .bind(i64::from(query.limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(job_from).collect()
    }

    async fn video(
        &self,
        who: &Principal,
        id: &VideoId,
    ) -> StoreResult<Option<(RowRecord, JobRecord)>> {
        let json: String = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT {} FROM (SELECT {ROW_COLUMNS} FROM videos WHERE id = $1) page",
            self.dialect.json_rows()
        )))
        .bind(id.as_str())
        .fetch_one(&self.pool)
        .await?;
        let Some(row) = rows_from_json(&json)?.into_iter().next() else {
            return Ok(None);
        };
        Ok(self.job(who, &row.job_id).await?.map(|job| (row, job)))
    }
}
