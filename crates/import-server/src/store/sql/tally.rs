//! What finished rows add to their jobs: the counters, completion and the
//! failure summary by code, written under the job's row lock.

use std::collections::BTreeMap;

use import_core::{FailureCode, ViewRole};
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use super::SqlStore;
use super::rows::{json_text, typed_opt};
use super::statements::Statements;
use crate::error::StoreError;
use crate::store::StoreResult;

/// What finished rows add to one job: its counters, and its failure
/// summary by code with the rows' source URIs.
#[derive(Debug, Default)]
pub(super) struct JobTally {
    /// A row reached a terminal status (a row queued again changes nothing).
    pub(super) terminal: bool,
    pub(super) uploaded: i64,
    pub(super) failed: i64,
    pub(super) failures: Vec<(FailureCode, Vec<String>)>,
}

impl JobTally {
    pub(super) fn add(&mut self, other: JobTally) {
        self.terminal |= other.terminal;
        self.uploaded += other.uploaded;
        self.failed += other.failed;
        for (code, uris) in other.failures {
            match self
                .failures
                .iter_mut()
                .find(|(c, _)| c.as_str() == code.as_str())
            {
                Some((_, seen)) => seen.extend(uris),
                None => self.failures.push((code, uris)),
            }
        }
    }
}

/// Most example URIs a job's failure summary keeps per code.
pub(crate) const FAILURE_EXAMPLES: usize = 5;

/// Add `count` failures with `code` to a job's summary, keeping the first
/// [`FAILURE_EXAMPLES`] source URIs. Run it while the transaction holds the
/// job's row lock (after updating its counters), so that two finishes of one
/// job never read and write the same line at once.
pub(super) async fn count_failures(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    job_id: &str,
    code: &FailureCode,
    count: i64,
    uris: &[String],
) -> StoreResult<()> {
    let line: Option<(i64, String)> =
        sqlx::query_as("SELECT count, examples FROM job_failures WHERE job_id = $1 AND code = $2")
            .bind(job_id)
            .bind(code.as_str())
            .fetch_optional(&mut **tx)
            .await?;
    let (before, mut examples) = match line {
        Some((n, json)) => (
            n,
            serde_json::from_str::<Vec<String>>(&json)
                .map_err(|_| StoreError::Corrupt { column: "examples" })?,
        ),
        None => (0, Vec::new()),
    };
    for uri in uris {
        if examples.len() >= FAILURE_EXAMPLES {
            break;
        }
        examples.push(uri.clone());
    }
    sqlx::query(
        "INSERT INTO job_failures (job_id, code, count, examples) VALUES ($1, $2, $3, $4)
         ON CONFLICT (job_id, code) DO UPDATE SET count = excluded.count, examples = excluded.examples",
    )
    .bind(job_id)
    .bind(code.as_str())
    .bind(before + count)
    .bind(json_text(&examples)?)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Count a job's failure summary again from its failed listed rows (after a
/// retry or a cancel changed many at once). Run it under the job's row lock.
pub(super) async fn rebuild_failures(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    sql: &Statements,
    job_id: &str,
) -> StoreResult<()> {
    sqlx::query("DELETE FROM job_failures WHERE job_id = $1")
        .bind(job_id)
        .execute(&mut **tx)
        .await?;
    let counts: Vec<(String, i64)> = sqlx::query_as(AssertSqlSafe(sql.failure_counts.as_str()))
        .bind(job_id)
        .fetch_all(&mut **tx)
        .await?;
    for (code, count) in counts {
        let examples: Vec<String> =
            sqlx::query_scalar(AssertSqlSafe(sql.failure_examples.as_str()))
                .bind(job_id)
                .bind(&code)
                .fetch_all(&mut **tx)
                .await?;
        sqlx::query(
            "INSERT INTO job_failures (job_id, code, count, examples) VALUES ($1, $2, $3, $4)",
        )
        .bind(job_id)
        .bind(&code)
        .bind(count)
        .bind(json_text(&examples)?)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// A job that a transaction completed, with its counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct JobDone {
    pub(super) job_id: String,
    pub(super) uploaded: i64,
    pub(super) failed: i64,
}

impl JobDone {
    /// Say so in the log (once the transaction committed).
    pub(super) fn log(&self) {
        tracing::info!(
            job = %self.job_id,
            uploaded = self.uploaded,
            failed = self.failed,
            "import job finished"
        );
    }
}

impl SqlStore {
    /// Count `uploaded` and `failed` finished rows in their job (which locks
    /// the job's row until the commit) and, once every listed row is counted,
    /// mark the job complete if no video of it is left: the one path of a
    /// finished row into its job, for `finish` and for expired leases.
    /// The job when this count completed it, with its counts (to be told
    /// once the transaction commits).
    pub(super) async fn count_in_job(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        job_id: &str,
        uploaded: i64,
        failed: i64,
        now: i64,
    ) -> StoreResult<Option<JobDone>> {
        let counted: Option<(i64, i64, i64)> =
            sqlx::query_as(AssertSqlSafe(self.sql.count_finished.as_str()))
                .bind(uploaded)
                .bind(failed)
                .bind(now)
                .bind(job_id)
                .fetch_optional(&mut **tx)
                .await?;
        // Only once every listed row is counted can the job be done: one
        // statement fewer under the job's lock for all the other rows.
        let Some((_, uploaded, failed)) = counted.filter(|(remaining, ..)| *remaining <= 0) else {
            return Ok(None);
        };
        let completed = sqlx::query(AssertSqlSafe(self.sql.complete_job.as_str()))
            .bind(now)
            .bind(job_id)
            .execute(&mut **tx)
            .await?
            .rows_affected()
            == 1;
        Ok(completed.then(|| JobDone {
            job_id: job_id.to_owned(),
            uploaded,
            failed,
        }))
    }

    /// Rows of one scope (those of a dead process, or those whose lease
    /// expired) freed in `tx`: failed as `interrupted` when they used their
    /// attempts (`fail`), queued again otherwise (`requeue`), their jobs
    /// counted. Both statements take the scope's instance id first when
    /// there is one, then the reason, code, time and attempt cap (`fail`),
    /// or the time and the cap (`requeue`).
    pub(super) async fn release_rows(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        (fail, requeue): (&str, &str),
        instance: Option<&crate::store::InstanceId>,
        now: i64,
        max_attempts: u32,
    ) -> StoreResult<(crate::store::Released, Vec<JobDone>)> {
        let mut failing = sqlx::query(sqlx::AssertSqlSafe(fail));
        let mut requeuing = sqlx::query(sqlx::AssertSqlSafe(requeue));
        if let Some(id) = instance {
            failing = failing.bind(id.as_str());
            requeuing = requeuing.bind(id.as_str());
        }
        let failed = failing
            .bind(crate::store::INTERRUPTED_REASON)
            .bind(import_core::FailureCode::Interrupted.as_str())
            .bind(now)
            .bind(i64::from(max_attempts))
            .fetch_all(&mut **tx)
            .await?;
        let requeued = requeuing
            .bind(now)
            .bind(i64::from(max_attempts))
            .execute(&mut **tx)
            .await?
            .rows_affected();
        let completed = self.count_interrupted(tx, &failed, now).await?;
        let released = crate::store::Released {
            requeued,
            failed: failed.len() as u64,
        };
        Ok((released, completed))
    }

    /// Count rows failed as interrupted (`RETURNING job_id, role,
    /// source_uri`) in their jobs and failure summaries.
    pub(super) async fn count_interrupted(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        failed: &[AnyRow],
        now: i64,
    ) -> StoreResult<Vec<JobDone>> {
        // Per job, in id order: (listed failures, their source URIs, any row).
        let mut by_job: BTreeMap<String, (i64, Vec<String>)> = BTreeMap::new();
        for row in failed {
            let job_id: String = row.try_get("job_id")?;
            let role: Option<ViewRole> = typed_opt("role", row.try_get("role")?)?;
            let entry = by_job.entry(job_id).or_default();
            if ViewRole::is_listed(role.as_ref()) {
                entry.0 += 1;
                entry.1.push(row.try_get("source_uri")?);
            }
        }
        let mut completed = Vec::new();
        for (job_id, (listed_failures, uris)) in &by_job {
            completed.extend(
                self.count_in_job(tx, job_id, 0, *listed_failures, now)
                    .await?,
            );
            if *listed_failures > 0 {
                count_failures(
                    tx,
                    job_id,
                    &FailureCode::Interrupted,
                    *listed_failures,
                    uris,
                )
                .await?;
            }
        }
        Ok(completed)
    }
}
