//! The SQL store: one implementation over `sqlx`'s `Any` driver, for SQLite
//! (the default: one file, WAL mode, nothing to install) and PostgreSQL (several
//! replicas sharing the work). The few statements that differ are chosen by
//! [`Dialect`].

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use import_core::wire::{FailureSummary, JobStatus, VideoMetadata, VideoStatus};
use import_core::{
    ChecksumAlgorithm, FailureCode, FolderId, ImportJobId, IntegrationId, PageRequest, Provider,
    Scope, VideoId, ViewRole,
};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, AssertSqlSafe, Executor, Row};

use super::{
    ApiKeyRecord, CLAIM_BATCH, CLAIMABLE_COUNT_CAP, ClaimedRow, FinishedRow, FolderRecord,
    INTERRUPTED_REASON, IdemAnswer, IdemBegin, IdemKey, InstanceLock, InstanceRecord,
    IntegrationRecord, JobQuery, JobRecord, NewApiKey, NewVideo, Principal, Released, RowGauges,
    RowOutcome, RowRecord, Store, StoreResult,
};
use crate::error::{StartupError, StoreError};

/// Schema migrations of each dialect, applied in order; the table
/// `schema_migrations` records which ran.
const SQLITE_MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/sqlite/0001_initial.sql"),
    include_str!("../../migrations/sqlite/0002_leaner_video_indexes.sql"),
    include_str!("../../migrations/sqlite/0003_failure_codes_and_cancel.sql"),
    include_str!("../../migrations/sqlite/0004_verified_checksum.sql"),
    include_str!("../../migrations/sqlite/0005_instances.sql"),
    include_str!("../../migrations/sqlite/0006_xet_hash.sql"),
    include_str!("../../migrations/sqlite/0007_key_management.sql"),
    include_str!("../../migrations/sqlite/0008_fair_turns.sql"),
];
const POSTGRES_MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/postgres/0001_initial.sql"),
    include_str!("../../migrations/postgres/0002_leaner_video_indexes.sql"),
    include_str!("../../migrations/postgres/0003_failure_codes_and_cancel.sql"),
    include_str!("../../migrations/postgres/0004_verified_checksum.sql"),
    include_str!("../../migrations/postgres/0005_instances.sql"),
    include_str!("../../migrations/postgres/0006_xet_hash.sql"),
    include_str!("../../migrations/postgres/0007_key_management.sql"),
    include_str!("../../migrations/postgres/0008_fair_turns.sql"),
];

/// Items per statement that takes a list (rows to insert, ids to look up):
/// the list travels as one JSON parameter ([`Dialect::json_list`]), or for
/// new rows on PostgreSQL one text array per column
/// ([`Dialect::insert_videos`]), about 2 MB for 10,000 rows. One parameter
/// instead of one per value: SQLite looks a parameter up by a linear scan of
/// the statement's parameters, so thousands of them cost time quadratic in
/// their number (a 1,000,000-row job took 59 s with 500 rows of 8 parameters
/// per statement).
const LIST_CHUNK: usize = 10_000;

/// A job with at least this many rows refreshes PostgreSQL's statistics of
/// `videos` once it is written (see `create_job`).
const ANALYZE_AFTER_ROWS: usize = 10_000;

/// Which SQL the store speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// One SQLite file; one server process.
    Sqlite,
    /// PostgreSQL; any number of server processes.
    Postgres,
}

impl Dialect {
    /// The dialect of a database URL, if it is one this store speaks.
    pub fn of_url(url: &str) -> Option<Dialect> {
        if url.starts_with("sqlite:") {
            Some(Dialect::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Dialect::Postgres)
        } else {
            None
        }
    }

    fn migrations(self) -> &'static [&'static str] {
        match self {
            Dialect::Sqlite => SQLITE_MIGRATIONS,
            Dialect::Postgres => POSTGRES_MIGRATIONS,
        }
    }

    /// `IN` the ids `select` picks, the subquery run once: on PostgreSQL
    /// an array built by an init plan (`= ANY(ARRAY(...))`, the usual form
    /// of a `SKIP LOCKED` batch claim); SQLite runs an `IN` list once.
    fn picked(self, select: &str) -> String {
        match self {
            Dialect::Sqlite => format!("IN ({select})"),
            Dialect::Postgres => format!("= ANY(ARRAY({select}))"),
        }
    }

    /// Keeps a correlated `EXISTS` a probe per row. PostgreSQL otherwise
    /// may plan it as a hashed subplan, which reads every video once per
    /// claim (it did for the claim's view-set rule: a sequential scan of
    /// `videos` for each batch); a subquery with an `OFFSET` is never turned
    /// into one, so each row probes `videos_set` instead.
    fn per_row_subquery(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => "OFFSET 0",
        }
    }

    /// Row locking for a claim: replicas skip rows another one is claiming.
    fn claim_lock(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => "FOR UPDATE SKIP LOCKED",
        }
    }

    /// A page of rows as one JSON array of arrays, in the order of
    /// [`ROW_COLUMNS`]. `duration_s` travels as text with every digit: SQLite
    /// writes a REAL into JSON with 15 significant digits only, which would
    /// change a duration such as 7007/600 on its way out.
    fn json_rows(self) -> String {
        let columns = ROW_COLUMNS.replace("duration_s", self.exact_duration());
        match self {
            Dialect::Sqlite => format!("json_group_array(json_array({columns}))"),
            Dialect::Postgres => {
                format!("COALESCE(json_agg(json_build_array({columns}) ORDER BY id), '[]')::text")
            }
        }
    }

    /// The text values of a JSON array parameter (`$N`) as a subquery, for
    /// `IN` (the one way a list of ids reaches a statement).
    fn json_list(self, param: &str) -> String {
        match self {
            Dialect::Sqlite => format!("(SELECT value FROM json_each({param}))"),
            Dialect::Postgres => format!("(SELECT json_array_elements_text({param}::json))"),
        }
    }

    /// `INSERT INTO videos` of a chunk of new rows: `$1` the job, `$2` the
    /// status, `$3` the time, then the rows' `id, set_id, role, object,
    /// source_uri` as a list: one JSON array of arrays in `$4`
    /// on SQLite, a text array per column in `$4`..`$8` on PostgreSQL, whose
    /// `unnest` reads them in half the time `json_array_elements` takes;
    /// last the first row's turn (`$5` on SQLite, `$9` on PostgreSQL), the
    /// others following in list order.
    fn insert_videos(self) -> String {
        let head = "INSERT INTO videos (id, job_id, set_id, role, object, source_uri, status, updated_at, turn)";
        match self {
            Dialect::Sqlite => format!(
                "{head} SELECT value ->> 0, $1, value ->> 1, value ->> 2, value ->> 3, value ->> 4, $2, $3, $5 + key
                 FROM json_each($4)"
            ),
            Dialect::Postgres => format!(
                "{head} SELECT r.id, $1, r.set_id, r.role, r.object, r.source_uri, $2, $3, $9 + r.ord - 1
                 FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::text[]) WITH ORDINALITY
                   AS r(id, set_id, role, object, source_uri, ord)"
            ),
        }
    }

    /// `UPDATE videos` of listed rows (`$2`, a JSON array of ids) to
    /// consecutive turns from `$1`, in list order.
    fn set_turns(self) -> &'static str {
        match self {
            Dialect::Sqlite => {
                "UPDATE videos SET turn = $1 + j.key FROM json_each($2) AS j WHERE videos.id = j.value"
            }
            Dialect::Postgres => {
                "UPDATE videos SET turn = $1 + j.ord - 1 FROM json_array_elements_text($2::json) WITH ORDINALITY AS j(id, ord) WHERE videos.id = j.id"
            }
        }
    }

    /// Row locking of an organisation's turn counter.
    fn lock_turns(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE",
        }
    }

    /// `duration_s` as text that parses back to the same `f64` (17
    /// significant digits on SQLite; PostgreSQL's shortest exact form).
    fn exact_duration(self) -> &'static str {
        match self {
            Dialect::Sqlite => {
                "CASE WHEN duration_s IS NULL THEN NULL ELSE printf('%!.17g', duration_s) END"
            }
            Dialect::Postgres => "duration_s::text",
        }
    }
}

/// A status as an SQL string literal (`'PENDING'`), from the core's wire value.
fn status_sql(status: &VideoStatus) -> String {
    format!("'{}'", status.as_str())
}

/// The statements that name statuses, built once from the core's
/// [`VideoStatus`] values (the only place the store spells a status) and the
/// dialect. The terminal rule is [`VideoStatus::TERMINAL`]: every other status,
/// an unknown one included, counts as not terminal, in every statement.
#[derive(Debug)]
struct Statements {
    claim: String,
    renew: String,
    finish: String,
    count_finished: String,
    complete_job: String,
    release_expired: String,
    fail_interrupted: String,
    /// The rows of a dead process (`$1`) under the attempt cap (`$3`), queued again.
    release_instance: String,
    /// The rows of a dead process that used every attempt, failed.
    fail_instance: String,
    /// The rows of a stopping process, handed back without spending the attempt.
    hand_back_instance: String,
    hand_back: String,
    /// `retry_rows`, without its closing id filter and `RETURNING`.
    retry: String,
    /// New rows of a job ([`Dialect::insert_videos`]).
    insert_videos: String,
    /// A job's unfinished rows failed as cancelled.
    cancel: String,
}

impl Statements {
    fn new(dialect: Dialect) -> Statements {
        let pending = status_sql(&VideoStatus::Pending);
        let uploading = status_sql(&VideoStatus::Uploading);
        let failed = status_sql(&VideoStatus::UploadingFailed);
        let terminal = VideoStatus::TERMINAL
            .iter()
            .map(status_sql)
            .collect::<Vec<_>>()
            .join(", ");
        let front = format!("'{}'", ViewRole::FRONT);
        Statements {
            // Up to `{CLAIM_LIMIT}` rows in one statement (the number is
            // written into the statement, see `claim_sql`). The locking
            // subquery is run exactly once (`Dialect::picked`): run again by
            // the planner, it could take more rows than its limit.
            claim: format!(
                "UPDATE videos SET status = {uploading}, lease_owner = $1, lease_until = $2, attempts = attempts + 1, updated_at = $3,
                    instance_id = $4
                 WHERE id {}",
                dialect.picked(&format!(
                    "SELECT v.id FROM videos v
                    WHERE v.status = {pending} AND v.not_before <= $3
                      AND (v.role IS NULL OR v.role <> {front} OR NOT EXISTS (
                            SELECT 1 FROM videos w WHERE w.set_id = v.set_id AND w.role <> {front}
                              AND w.status NOT IN ({terminal}) {}))
                    ORDER BY v.turn, v.id LIMIT {CLAIM_LIMIT} {}",
                    dialect.per_row_subquery(),
                    dialect.claim_lock()
                ))
            ) + " RETURNING id, job_id, object, attempts, upload_id",
            renew: format!(
                "UPDATE videos SET lease_until = $1 WHERE id = $2 AND lease_owner = $3 AND status = {uploading}"
            ),
            finish: format!(
                "UPDATE videos SET status = $1, error = $2, not_before = $3, lease_owner = NULL, lease_until = NULL,
                    size_bytes = $4, sha256 = $5, duration_s = $6, width = $7, height = $8, codec = $9, updated_at = $10,
                    error_code = $13, verified_checksum = $14, xet_hash = $15, upload_id = NULL
                 WHERE id = $11 AND lease_owner = $12 AND status = {uploading}
                 RETURNING job_id, role, source_uri"
            ),
            // Count a finished row. This locks the job's row until the commit,
            // which serialises the finishes of one job.
            count_finished: "UPDATE jobs SET uploaded = uploaded + $1, failed = failed + $2, updated_at = $3 WHERE id = $4
                 RETURNING total - uploaded - failed AS remaining".into(),
            // Terminal once every listed row is done and no video of the job
            // is left (views of sets are not listed, so the count alone cannot
            // say). A statement of its own, after `count_finished`: on
            // PostgreSQL each statement sees what was committed when it
            // started, and only once it holds the job's lock has every other
            // finish of the job committed; inside `count_finished` the check
            // would miss a row finished at the same moment, and the job would
            // never complete.
            complete_job: format!(
                "UPDATE jobs SET completed_at = $1
                 WHERE id = $2 AND completed_at IS NULL AND uploaded + failed >= total
                   AND NOT EXISTS (SELECT 1 FROM videos WHERE job_id = $2 AND status NOT IN ({terminal}))"
            ),
            release_expired: format!(
                "UPDATE videos SET status = {pending}, lease_owner = NULL, lease_until = NULL, updated_at = $1
                 WHERE status = {uploading} AND lease_until < $1 AND attempts < $2"
            ),
            fail_interrupted: format!(
                "UPDATE videos SET status = {failed}, error = $1, error_code = $2, lease_owner = NULL,
                    lease_until = NULL, updated_at = $3
                 WHERE status = {uploading} AND lease_until < $3 AND attempts >= $4
                 RETURNING job_id, role, source_uri"
            ),
            release_instance: format!(
                "UPDATE videos SET status = {pending}, lease_owner = NULL, lease_until = NULL, instance_id = NULL, updated_at = $2
                 WHERE status = {uploading} AND instance_id = $1 AND attempts < $3"
            ),
            fail_instance: format!(
                "UPDATE videos SET status = {failed}, error = $2, error_code = $3, lease_owner = NULL,
                    lease_until = NULL, instance_id = NULL, updated_at = $4
                 WHERE status = {uploading} AND instance_id = $1 AND attempts >= $5
                 RETURNING job_id, role, source_uri"
            ),
            hand_back_instance: format!(
                "UPDATE videos SET status = {pending}, lease_owner = NULL, lease_until = NULL, instance_id = NULL,
                    attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, updated_at = $2
                 WHERE status = {uploading} AND instance_id = $1"
            ),
            hand_back: format!(
                "UPDATE videos SET status = {pending}, lease_owner = NULL, lease_until = NULL,
                    attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, updated_at = $1
                 WHERE id = $2 AND lease_owner = $3 AND status = {uploading}"
            ),
            retry: format!(
                "UPDATE videos SET status = {pending}, error = NULL, not_before = 0, attempts = 0, updated_at = $1
                 WHERE job_id = $2 AND status = {failed}"
            ),
            insert_videos: dialect.insert_videos(),
            cancel: format!(
                "UPDATE videos SET status = {failed}, error = $1, error_code = $2, lease_owner = NULL,
                    lease_until = NULL, not_before = 0, updated_at = $3
                 WHERE job_id = $4 AND status NOT IN ({terminal})
                 RETURNING role"
            ),
        }
    }
}

/// The SQL implementation of [`Store`].
#[derive(Debug, Clone)]
pub struct SqlStore {
    pool: AnyPool,
    dialect: Dialect,
    sql: std::sync::Arc<Statements>,
}

fn startup(url: &str) -> impl Fn(sqlx::Error) -> StartupError + '_ {
    move |e| StartupError::Database(format!("opening {}: {e}", crate::config::redact_url(url)))
}

impl SqlStore {
    /// Take `count` consecutive turns in `org_id`'s line, inside `tx`: from
    /// the turn being served now (the lowest turn of a queued row; with none
    /// queued, the highest any organisation reached), or after the
    /// organisation's own last turn if that is later. Answers the first.
    async fn take_turns(
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
        let now_served: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT COALESCE(
                (SELECT turn FROM videos WHERE status = {} ORDER BY turn LIMIT 1),
                (SELECT MAX(next_turn) FROM org_turns), 0)",
            status_sql(&VideoStatus::Pending)
        )))
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

    /// Open (creating a SQLite file if missing) and migrate the database at
    /// `url`: `sqlite:///path/to/file.db`, `sqlite::memory:`, or
    /// `postgres://user@host:port/database`.
    pub async fn open(url: &str) -> Result<SqlStore, StartupError> {
        Self::open_with_connections(url, None).await
    }

    /// Count rows failed as interrupted (`RETURNING job_id, role,
    /// source_uri`) in their jobs and failure summaries.
    async fn count_interrupted(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        failed: &[AnyRow],
        now: i64,
    ) -> StoreResult<()> {
        // Per job, in id order: (listed failures, their source URIs, any row).
        let mut by_job: BTreeMap<String, (i64, Vec<String>)> = BTreeMap::new();
        for row in failed {
            let job_id: String = row.try_get("job_id")?;
            let role: Option<ViewRole> = typed_opt("role", row.try_get("role")?)?;
            let entry = by_job.entry(job_id).or_default();
            if listed(role.as_ref()) {
                entry.0 += 1;
                entry.1.push(row.try_get("source_uri")?);
            }
        }
        for (job_id, (listed_failures, uris)) in &by_job {
            self.count_in_job(tx, job_id, 0, *listed_failures, now)
                .await?;
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
        Ok(())
    }

    /// [`SqlStore::open`] with at most `max_connections` pooled connections
    /// instead of the default (8 for a SQLite file, 1 for `:memory:`, 16 for
    /// PostgreSQL). A pool of one makes every statement run on the same
    /// connection, which tests of prepared-statement reuse need.
    pub async fn open_with_connections(
        url: &str,
        max_connections: Option<u32>,
    ) -> Result<SqlStore, StartupError> {
        let Some(dialect) = Dialect::of_url(url) else {
            return Err(StartupError::Config {
                what: format!("database URL `{}`", crate::config::redact_url(url)),
                fix: "use sqlite:///path/to/vimport.db, or postgres://user@host:5432/database for several replicas".into(),
            });
        };
        sqlx::any::install_default_drivers();
        let (connect_url, max) = match dialect {
            Dialect::Sqlite if url.contains(":memory:") => (url.to_owned(), 1),
            Dialect::Sqlite if url.contains('?') => (url.to_owned(), 8),
            Dialect::Sqlite => (format!("{url}?mode=rwc"), 8),
            Dialect::Postgres => (url.to_owned(), 16),
        };
        let max = max_connections.unwrap_or(max).max(1);
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if dialect == Dialect::Sqlite {
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 15000; PRAGMA foreign_keys = OFF;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect(&connect_url)
            .await
            .map_err(startup(url))?;
        let store = SqlStore {
            pool,
            dialect,
            sql: std::sync::Arc::new(Statements::new(dialect)),
        };
        store.migrate().await?;
        Ok(store)
    }

    /// The dialect in use.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Count `uploaded` and `failed` finished rows in their job (which locks
    /// the job's row until the commit) and, once every listed row is counted,
    /// mark the job complete if no video of it is left: the one path of a
    /// finished row into its job, for `finish` and for expired leases.
    async fn count_in_job(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        job_id: &str,
        uploaded: i64,
        failed: i64,
        now: i64,
    ) -> StoreResult<()> {
        let remaining: Option<i64> =
            sqlx::query_scalar(AssertSqlSafe(self.sql.count_finished.as_str()))
                .bind(uploaded)
                .bind(failed)
                .bind(now)
                .bind(job_id)
                .fetch_optional(&mut **tx)
                .await?;
        // Only once every listed row is counted can the job be done: one
        // statement fewer under the job's lock for all the other rows.
        if remaining.is_some_and(|n| n <= 0) {
            sqlx::query(AssertSqlSafe(self.sql.complete_job.as_str()))
                .bind(now)
                .bind(job_id)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    /// The claim statement for up to `limit` rows (1 to [`CLAIM_BATCH`]).
    /// The limit is written into the statement, not bound: with a bound
    /// limit PostgreSQL plans for a tenth of the queue, and checks the
    /// view-set rule by hashing a scan of every video (a sequential scan per
    /// claim) instead of probing `videos_set` for the rows it takes. Each
    /// limit is its own prepared statement (at most [`CLAIM_BATCH`] of them).
    fn claim_sql(&self, limit: u32) -> String {
        self.sql
            .claim
            .replace(CLAIM_LIMIT, &limit.clamp(1, CLAIM_BATCH).to_string())
    }

    /// Write one finished row inside `tx`: its job and what it adds to the
    /// job's counts, or `None` if the row is no longer its worker's.
    async fn finish_row(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        row: &FinishedRow,
        now: i64,
    ) -> StoreResult<Option<(String, JobTally)>> {
        let (status, error, code, not_before, meta) = match row.outcome.clone() {
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
            .bind(&row.worker)
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
        if listed(role.as_ref()) {
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

    async fn migrate(&self) -> Result<(), StartupError> {
        let db = |e: sqlx::Error| StartupError::Database(format!("migrating: {e}"));
        let mut tx = self.pool.begin().await.map_err(db)?;
        if self.dialect == Dialect::Postgres {
            // Replicas starting together migrate one at a time.
            sqlx::query("SELECT pg_advisory_xact_lock(7461636)")
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        sqlx::query("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)")
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let version: i64 =
            sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
                .fetch_one(&mut *tx)
                .await
                .map_err(db)?;
        let migrations = self.dialect.migrations();
        if version as usize > migrations.len() {
            return Err(StartupError::Database(format!(
                "the database is at schema version {version}, newer than this server knows ({}); run a newer vimport",
                migrations.len()
            )));
        }
        for (i, sql) in migrations.iter().enumerate().skip(version as usize) {
            sqlx::raw_sql(AssertSqlSafe(*sql))
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
                .bind(i as i64 + 1)
                .bind(crate::clock::now_ms())
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        Ok(())
    }
}

fn provider(s: &str) -> StoreResult<Provider> {
    Provider::from_wire_name(s).ok_or(StoreError::Corrupt { column: "kind" })
}

fn scope(s: &str) -> StoreResult<Scope> {
    s.parse()
        .map_err(|_| StoreError::Corrupt { column: "scope" })
}

/// A typed value of a column this store wrote (an id, a role).
fn typed<T: std::str::FromStr>(column: &'static str, value: String) -> StoreResult<T> {
    value.parse().map_err(|_| StoreError::Corrupt { column })
}

/// An optional typed value.
fn typed_opt<T: std::str::FromStr>(
    column: &'static str,
    value: Option<String>,
) -> StoreResult<Option<T>> {
    value.map(|v| typed(column, v)).transpose()
}

fn folder_from(row: &AnyRow) -> StoreResult<FolderRecord> {
    Ok(FolderRecord {
        id: typed("id", row.try_get("id")?)?,
        org_id: row.try_get("org_id")?,
        scope: scope(row.try_get("scope")?)?,
        owner_id: row.try_get("owner_id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
    })
}

/// The columns [`api_key_from`] reads: never the hash.
const API_KEY_COLUMNS: &str =
    "id, user_id, org_id, display_name, created_at, last_used_at, expires_at, revoked_at";

fn api_key_from(row: &AnyRow) -> StoreResult<ApiKeyRecord> {
    Ok(ApiKeyRecord {
        id: row.try_get("id")?,
        principal: Principal {
            user_id: row.try_get("user_id")?,
            org_id: row.try_get("org_id")?,
            display_name: row.try_get("display_name")?,
        },
        created_at: row.try_get("created_at")?,
        last_used_at: row.try_get("last_used_at")?,
        expires_at: row.try_get("expires_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

fn integration_from(row: &AnyRow) -> StoreResult<IntegrationRecord> {
    Ok(IntegrationRecord {
        id: typed("id", row.try_get("id")?)?,
        org_id: row.try_get("org_id")?,
        created_by: row.try_get("created_by")?,
        created_by_display_name: row.try_get("created_by_display_name")?,
        name: row.try_get("name")?,
        kind: provider(row.try_get("kind")?)?,
        bucket: row.try_get("bucket")?,
        prefix: row.try_get("prefix")?,
        region: row.try_get("region")?,
        endpoint_url: row.try_get("endpoint_url")?,
        // Absent when only the listed columns were read.
        sealed_secrets: match row.try_get("sealed_secrets") {
            Err(sqlx::Error::ColumnNotFound(_)) => Vec::new(),
            other => other?,
        },
        created_at: row.try_get("created_at")?,
        last_used: row.try_get("last_used")?,
    })
}

fn job_from(row: &AnyRow) -> StoreResult<JobRecord> {
    Ok(JobRecord {
        id: typed("id", row.try_get("id")?)?,
        org_id: row.try_get("org_id")?,
        user_id: row.try_get("user_id")?,
        scope: scope(row.try_get("scope")?)?,
        source: provider(row.try_get("source")?)?,
        bucket: row.try_get("bucket")?,
        prefix: row.try_get("prefix")?,
        folder_id: typed_opt("folder_id", row.try_get("folder_id")?)?,
        folder_name: row.try_get("folder_name")?,
        collection: row.try_get("collection")?,
        integration_id: typed_opt("integration_id", row.try_get("integration_id")?)?,
        multi_view: row.try_get::<i64, _>("multi_view")? != 0,
        total: row.try_get("total")?,
        uploaded: row.try_get("uploaded")?,
        failed: row.try_get("failed")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        completed_at: row.try_get("completed_at")?,
        cancelled_at: row.try_get("cancelled_at")?,
    })
}

const ROW_COLUMNS: &str = "id, job_id, set_id, role, object, source_uri, status, error, error_code, size_bytes, sha256, duration_s, width, height, codec, verified_checksum, xet_hash";

/// A PostgreSQL array literal of text values (`{"a","b\\"c",NULL}`), for a
/// `$N::text[]` parameter: every element quoted, `"` and `\` escaped with a
/// backslash, `None` as an unquoted `NULL`.
fn text_array<'a>(values: impl Iterator<Item = Option<&'a str>>) -> String {
    let mut out = String::from("{");
    for (i, value) in values.enumerate() {
        if i > 0 {
            out.push(',');
        }
        match value {
            None => out.push_str("NULL"),
            Some(text) => {
                out.push('"');
                for c in text.chars() {
                    if c == '"' || c == '\\' {
                        out.push('\\');
                    }
                    out.push(c);
                }
                out.push('"');
            }
        }
    }
    out.push('}');
    out
}

/// Where the claim statement's row limit goes (see `SqlStore::claim_sql`).
const CLAIM_LIMIT: &str = "__CLAIM_LIMIT__";

/// What finished rows add to one job: its counters, and its failure
/// summary by code with the rows' source URIs.
#[derive(Debug, Default)]
struct JobTally {
    /// A row reached a terminal status (a row queued again changes nothing).
    terminal: bool,
    uploaded: i64,
    failed: i64,
    failures: Vec<(FailureCode, Vec<String>)>,
}

impl JobTally {
    fn add(&mut self, other: JobTally) {
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
async fn count_failures(
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
async fn rebuild_failures(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    job_id: &str,
) -> StoreResult<()> {
    sqlx::query("DELETE FROM job_failures WHERE job_id = $1")
        .bind(job_id)
        .execute(&mut **tx)
        .await?;
    let failed = status_sql(&VideoStatus::UploadingFailed);
    let front = format!("'{}'", ViewRole::FRONT);
    let counts: Vec<(String, i64)> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT error_code, COUNT(*) FROM videos
         WHERE job_id = $1 AND status = {failed} AND error_code IS NOT NULL AND (role IS NULL OR role = {front})
         GROUP BY error_code"
    )))
    .bind(job_id)
    .fetch_all(&mut **tx)
    .await?;
    for (code, count) in counts {
        let examples: Vec<String> = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT source_uri FROM videos
             WHERE job_id = $1 AND status = {failed} AND error_code = $2 AND (role IS NULL OR role = {front})
             ORDER BY id LIMIT {FAILURE_EXAMPLES}"
        )))
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

/// A list as the JSON text of a list parameter.
fn json_text<T: serde::Serialize>(list: &T) -> StoreResult<String> {
    serde_json::to_string(list).map_err(|e| StoreError::Database(sqlx::Error::Encode(Box::new(e))))
}

/// One row of `json_array(ROW_COLUMNS)`, in that order.
/// One row of [`ROW_COLUMNS`], as [`Dialect::json_rows`] writes it.
#[derive(serde::Deserialize)]
struct JsonRow(
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// The one row decoder: every read of rows selects [`ROW_COLUMNS`] into one
/// JSON array ([`Dialect::json_rows`]) and decodes it here.
fn rows_from_json(json: &str) -> StoreResult<Vec<RowRecord>> {
    let rows: Vec<JsonRow> =
        serde_json::from_str(json).map_err(|_| StoreError::Corrupt { column: "videos" })?;
    rows.into_iter()
        .map(
            |JsonRow(
                id,
                job_id,
                set_id,
                role,
                object,
                source_uri,
                status,
                error,
                error_code,
                size,
                sha256,
                duration_s,
                width,
                height,
                codec,
                verified_checksum,
                xet_hash,
            )| {
                Ok(RowRecord {
                    id: typed("id", id)?,
                    job_id: typed("job_id", job_id)?,
                    set_id: typed_opt("set_id", set_id)?,
                    role: typed_opt("role", role)?,
                    object,
                    source_uri,
                    status: VideoStatus::from_wire(&status),
                    error,
                    error_code: error_code.map(|c| FailureCode::from_wire(&c)),
                    metadata: VideoMetadata {
                        size_bytes: size.map(|v| v as u64),
                        sha256,
                        duration_s: duration_s.map(|d| d.parse::<f64>()).transpose().map_err(
                            |_| StoreError::Corrupt {
                                column: "duration_s",
                            },
                        )?,
                        width: width.map(|v| v as u32),
                        height: height.map(|v| v as u32),
                        codec,
                        verified_checksum: verified_checksum
                            .map(|c| ChecksumAlgorithm::from_wire(&c)),
                        xet_hash,
                    },
                })
            },
        )
        .collect()
}

/// `true` when a row is listed (single-view, or the front of a set).
fn listed(role: Option<&ViewRole>) -> bool {
    role.is_none_or(ViewRole::is_front)
}

#[async_trait]
impl Store for SqlStore {
    async fn create_api_key(&self, key: NewApiKey) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO api_keys (key_hash, key_prefix, user_id, org_id, display_name, created_at, id, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&key.key_hash)
        .bind(&key.key_prefix)
        .bind(&key.principal.user_id)
        .bind(&key.principal.org_id)
        .bind(&key.principal.display_name)
        .bind(key.created_at)
        .bind(&key.id)
        .bind(key.expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn principal_for_key(&self, key_hash: &str) -> StoreResult<Option<ApiKeyRecord>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {API_KEY_COLUMNS} FROM api_keys WHERE key_hash = $1"
        )))
        .bind(key_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(api_key_from).transpose()
    }

    async fn touch_api_key(&self, key_id: &str, now: i64) -> StoreResult<()> {
        sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
            .bind(now)
            .bind(key_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn list_api_keys(&self) -> StoreResult<Vec<ApiKeyRecord>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {API_KEY_COLUMNS} FROM api_keys ORDER BY created_at, id"
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(api_key_from).collect()
    }

    async fn revoke_api_key(&self, key_id: &str, now: i64) -> StoreResult<bool> {
        let done =
            sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(now)
                .bind(key_id)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn insert_folder(&self, f: FolderRecord) -> StoreResult<Option<FolderRecord>> {
        let done = sqlx::query(
            "INSERT INTO folders (id, org_id, scope, owner_id, name, description, created_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
        )
        .bind(f.id.as_str())
        .bind(&f.org_id)
        .bind(f.scope.as_str())
        .bind(&f.owner_id)
        .bind(&f.name)
        .bind(&f.description)
        .bind(&f.created_by)
        .bind(f.created_at)
        .execute(&self.pool)
        .await?;
        Ok((done.rows_affected() == 1).then_some(f))
    }

    async fn folder_by_name(
        &self,
        who: &Principal,
        name: &str,
        scope: Scope,
    ) -> StoreResult<Option<FolderRecord>> {
        let owner = if scope == Scope::User {
            who.user_id.as_str()
        } else {
            ""
        };
        let row = sqlx::query("SELECT * FROM folders WHERE org_id = $1 AND scope = $2 AND owner_id = $3 AND name = $4")
            .bind(&who.org_id)
            .bind(scope.as_str())
            .bind(owner)
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(folder_from).transpose()
    }

    async fn folder_by_id(
        &self,
        who: &Principal,
        id: &FolderId,
    ) -> StoreResult<Option<FolderRecord>> {
        let row = sqlx::query(
            "SELECT * FROM folders WHERE id = $1 AND org_id = $2 AND (scope = $3 OR owner_id = $4)",
        )
        .bind(id.as_str())
        .bind(&who.org_id)
        .bind(Scope::Org.as_str())
        .bind(&who.user_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(folder_from).transpose()
    }

    async fn insert_integration(&self, r: IntegrationRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO integrations (id, org_id, created_by, created_by_display_name, name, kind, bucket, prefix,
                region, endpoint_url, sealed_secrets, created_at, last_used)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(r.id.as_str())
        .bind(&r.org_id)
        .bind(&r.created_by)
        .bind(&r.created_by_display_name)
        .bind(&r.name)
        .bind(r.kind.wire_name())
        .bind(&r.bucket)
        .bind(&r.prefix)
        .bind(&r.region)
        .bind(&r.endpoint_url)
        .bind(&r.sealed_secrets)
        .bind(r.created_at)
        .bind(r.last_used)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn list_integrations(&self, who: &Principal) -> StoreResult<Vec<IntegrationRecord>> {
        let rows = sqlx::query(
            // Only what the list shows: no sealed secrets are read.
            "SELECT id, org_id, created_by, created_by_display_name, name, kind, bucket, prefix, region, endpoint_url, created_at, last_used FROM integrations WHERE org_id = $1 ORDER BY created_at DESC, id DESC",
        )
        .bind(&who.org_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(integration_from).collect()
    }

    async fn integration(
        &self,
        who: &Principal,
        id: &IntegrationId,
    ) -> StoreResult<Option<IntegrationRecord>> {
        let row = sqlx::query("SELECT * FROM integrations WHERE id = $1 AND org_id = $2")
            .bind(id.as_str())
            .bind(&who.org_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(integration_from).transpose()
    }

    async fn integration_by_id(
        &self,
        id: &IntegrationId,
    ) -> StoreResult<Option<IntegrationRecord>> {
        let row = sqlx::query("SELECT * FROM integrations WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(integration_from).transpose()
    }

    async fn newest_integration(
        &self,
        who: &Principal,
        kind: Provider,
        bucket: &str,
    ) -> StoreResult<Option<IntegrationRecord>> {
        let row = sqlx::query(
            "SELECT * FROM integrations WHERE org_id = $1 AND created_by = $2 AND kind = $3 AND bucket = $4
             ORDER BY created_at DESC, id DESC LIMIT 1",
        )
        .bind(&who.org_id)
        .bind(&who.user_id)
        .bind(kind.wire_name())
        .bind(bucket)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(integration_from).transpose()
    }

    async fn delete_integration(&self, who: &Principal, id: &IntegrationId) -> StoreResult<bool> {
        let done = sqlx::query(
            "DELETE FROM integrations WHERE id = $1 AND org_id = $2 AND created_by = $3",
        )
        .bind(id.as_str())
        .bind(&who.org_id)
        .bind(&who.user_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn touch_integration(&self, id: &IntegrationId, now: i64) -> StoreResult<()> {
        sqlx::query("UPDATE integrations SET last_used = $1 WHERE id = $2")
            .bind(now)
            .bind(id.as_str())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn integrations_page(
        &self,
        after: Option<&IntegrationId>,
        limit: u32,
    ) -> StoreResult<Vec<IntegrationRecord>> {
        let rows = sqlx::query("SELECT * FROM integrations WHERE id > $1 ORDER BY id LIMIT $2")
            .bind(after.map_or("", IntegrationId::as_str))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(integration_from).collect()
    }

    async fn reseal_integration(
        &self,
        id: &IntegrationId,
        old: &[u8],
        new: &[u8],
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE integrations SET sealed_secrets = $1 WHERE id = $2 AND sealed_secrets = $3",
        )
        .bind(new)
        .bind(id.as_str())
        .bind(old)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

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
                SELECT {ROW_COLUMNS} FROM videos WHERE job_id = $1 {filter} AND (role IS NULL OR role = $5)
                ORDER BY id LIMIT $3 OFFSET $4) page",
            self.dialect.json_rows()
        );
        let json: String = sqlx::query_scalar(AssertSqlSafe(sql))
            .bind(job.id.as_str())
            .bind(page.cursor().map_or("", |c| c.as_str()))
            .bind(limit)
            .bind(offset)
            .bind(ViewRole::FRONT)
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
            if listed(role.as_ref()) {
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
            rebuild_failures(&mut tx, job.id.as_str()).await?;
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
            if listed(role.as_ref()) {
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
        rebuild_failures(&mut tx, id.as_str()).await?;
        tx.commit().await?;
        self.job(who, id).await
    }

    async fn ready(&self) -> StoreResult<Result<(), String>> {
        let version: i64 =
            sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
                .fetch_one(&self.pool)
                .await?;
        let expected = self.dialect.migrations().len() as i64;
        Ok(if version == expected {
            Ok(())
        } else {
            Err(format!(
                "the database schema is at version {version}, this server needs {expected}; restart it to migrate, or run the server version that matches"
            ))
        })
    }

    async fn row_gauges(&self, now: i64) -> StoreResult<RowGauges> {
        let (total, uploaded, failed): (i64, i64, i64) = sqlx::query_as(
            "SELECT CAST(COALESCE(SUM(total), 0) AS BIGINT), CAST(COALESCE(SUM(uploaded), 0) AS BIGINT),
                    CAST(COALESCE(SUM(failed), 0) AS BIGINT) FROM jobs",
        )
        .fetch_one(&self.pool)
        .await?;
        let uploading: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM videos WHERE status = {}",
            status_sql(&VideoStatus::Uploading)
        )))
        .fetch_one(&self.pool)
        .await?;
        let claimable: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM (SELECT 1 FROM videos WHERE status = {} AND not_before <= $1 LIMIT {CLAIMABLE_COUNT_CAP}) c",
            status_sql(&VideoStatus::Pending)
        )))
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        Ok(RowGauges {
            by_status: vec![
                (
                    VideoStatus::Pending,
                    (total - uploaded - failed - uploading).max(0),
                ),
                (VideoStatus::Uploading, uploading),
                (VideoStatus::Uploaded, uploaded),
                (VideoStatus::UploadingFailed, failed),
            ],
            claimable,
        })
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

    async fn claim_many(
        &self,
        worker: &str,
        instance: &str,
        now: i64,
        lease_until: i64,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedRow>> {
        let rows = sqlx::query(AssertSqlSafe(self.claim_sql(limit)))
            .bind(worker)
            .bind(lease_until)
            .bind(now)
            .bind(instance)
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
                })
            })
            .collect()
    }

    async fn set_upload_id(
        &self,
        id: &VideoId,
        worker: &str,
        upload_id: Option<&str>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(AssertSqlSafe(format!(
            "UPDATE videos SET upload_id = $1 WHERE id = $2 AND lease_owner = $3 AND status = {}",
            status_sql(&VideoStatus::Uploading)
        )))
        .bind(upload_id)
        .bind(id.as_str())
        .bind(worker)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn renew_lease(&self, id: &VideoId, worker: &str, lease_until: i64) -> StoreResult<bool> {
        let done = sqlx::query(AssertSqlSafe(self.sql.renew.as_str()))
            .bind(lease_until)
            .bind(id.as_str())
            .bind(worker)
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
        for (job_id, tally) in &jobs {
            // A row back in the queue changes nothing its job shows.
            if tally.terminal {
                self.count_in_job(&mut tx, job_id, tally.uploaded, tally.failed, now)
                    .await?;
            }
            // The job's failure summary, under the job's lock taken above.
            for (code, uris) in &tally.failures {
                count_failures(&mut tx, job_id, code, uris.len() as i64, uris).await?;
            }
        }
        tx.commit().await?;
        Ok(done)
    }

    async fn hand_back(&self, id: &VideoId, worker: &str, now: i64) -> StoreResult<bool> {
        let done = sqlx::query(AssertSqlSafe(self.sql.hand_back.as_str()))
            .bind(now)
            .bind(id.as_str())
            .bind(worker)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn leased_among(&self, ids: &[VideoId], now: i64) -> StoreResult<Vec<VideoId>> {
        let mut out = Vec::new();
        for chunk in ids.chunks(LIST_CHUNK) {
            let list: Vec<&str> = chunk.iter().map(VideoId::as_str).collect();
            let leased: Vec<(String,)> = sqlx::query_as(AssertSqlSafe(format!(
                "SELECT id FROM videos WHERE id IN {} AND status = {} AND lease_until > $2",
                self.dialect.json_list("$1"),
                status_sql(&VideoStatus::Uploading)
            )))
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
        let failed = sqlx::query(AssertSqlSafe(self.sql.fail_interrupted.as_str()))
            .bind(INTERRUPTED_REASON)
            .bind(FailureCode::Interrupted.as_str())
            .bind(now)
            .bind(i64::from(max_attempts))
            .fetch_all(&mut *tx)
            .await?;
        let requeued = sqlx::query(AssertSqlSafe(self.sql.release_expired.as_str()))
            .bind(now)
            .bind(i64::from(max_attempts))
            .execute(&mut *tx)
            .await?
            .rows_affected();
        self.count_interrupted(&mut tx, &failed, now).await?;
        tx.commit().await?;
        Ok(Released {
            requeued,
            failed: failed.len() as u64,
        })
    }

    async fn register_instance(&self, instance: &InstanceRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO instances (id, host, pid, started_at, heartbeat_at, lock_key) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&instance.id)
        .bind(&instance.host)
        .bind(instance.pid)
        .bind(instance.started_at)
        .bind(instance.heartbeat_at)
        .bind(instance.lock_key)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn beat_instance(&self, id: &str, now: i64) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE instances SET heartbeat_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn instances(&self) -> StoreResult<Vec<InstanceRecord>> {
        let rows: Vec<(String, String, i64, i64, i64, i64)> = sqlx::query_as(
            "SELECT id, host, pid, started_at, heartbeat_at, lock_key FROM instances ORDER BY started_at, id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(id, host, pid, started_at, heartbeat_at, lock_key)| InstanceRecord {
                    id,
                    host,
                    pid,
                    started_at,
                    heartbeat_at,
                    lock_key,
                },
            )
            .collect())
    }

    async fn hold_instance_lock(&self, lock_key: i64) -> StoreResult<Option<InstanceLock>> {
        if self.dialect != Dialect::Postgres {
            return Ok(None);
        }
        // A connection of its own, kept for the life of the process: the
        // lock goes with it when the process dies, however it dies.
        let mut conn = self.pool.acquire().await?.detach();
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(lock_key)
            .execute(&mut conn)
            .await?;
        Ok(Some(InstanceLock {
            _held: std::sync::Mutex::new(Box::new(conn)),
        }))
    }

    async fn instance_lock_free(&self, lock_key: i64) -> StoreResult<bool> {
        if self.dialect != Dialect::Postgres {
            // SQLite serves one process (the data folder is locked): any
            // other process it knows of is gone.
            return Ok(true);
        }
        // One statement, so that the lock is taken and let go on the same
        // pooled connection.
        let free: bool = sqlx::query_scalar(
            "SELECT CASE WHEN pg_try_advisory_lock($1) THEN pg_advisory_unlock($1) ELSE false END",
        )
        .bind(lock_key)
        .fetch_one(&self.pool)
        .await?;
        Ok(free)
    }

    async fn release_instance(
        &self,
        id: &str,
        now: i64,
        max_attempts: u32,
    ) -> StoreResult<Released> {
        let mut tx = self.pool.begin().await?;
        let failed = sqlx::query(AssertSqlSafe(self.sql.fail_instance.as_str()))
            .bind(id)
            .bind(INTERRUPTED_REASON)
            .bind(FailureCode::Interrupted.as_str())
            .bind(now)
            .bind(i64::from(max_attempts))
            .fetch_all(&mut *tx)
            .await?;
        let requeued = sqlx::query(AssertSqlSafe(self.sql.release_instance.as_str()))
            .bind(id)
            .bind(now)
            .bind(i64::from(max_attempts))
            .execute(&mut *tx)
            .await?
            .rows_affected();
        self.count_interrupted(&mut tx, &failed, now).await?;
        forget_instance(&mut tx, id).await?;
        tx.commit().await?;
        Ok(Released {
            requeued,
            failed: failed.len() as u64,
        })
    }

    async fn hand_back_instance(&self, id: &str, now: i64) -> StoreResult<u64> {
        let mut tx = self.pool.begin().await?;
        let handed = sqlx::query(AssertSqlSafe(self.sql.hand_back_instance.as_str()))
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        forget_instance(&mut tx, id).await?;
        tx.commit().await?;
        Ok(handed)
    }

    async fn idem_begin(
        &self,
        key: &IdemKey,
        fingerprint: &str,
        now: i64,
        instance: &str,
    ) -> StoreResult<IdemBegin> {
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO idempotency_keys (org_id, user_id, key, fingerprint, status, body, created_at, instance_id)
             VALUES ($1, $2, $3, $4, NULL, NULL, $5, $6) ON CONFLICT DO NOTHING",
        )
        .bind(&key.org_id)
        .bind(&key.user_id)
        .bind(&key.key)
        .bind(fingerprint)
        .bind(now)
        .bind(instance)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 1 {
            tx.commit().await?;
            return Ok(IdemBegin::Fresh);
        }
        let row = sqlx::query(
            "SELECT fingerprint, status, body, instance_id FROM idempotency_keys
             WHERE org_id = $1 AND user_id = $2 AND key = $3",
        )
        .bind(&key.org_id)
        .bind(&key.user_id)
        .bind(&key.key)
        .fetch_one(&mut *tx)
        .await?;
        let stored: String = row.try_get("fingerprint")?;
        let status: Option<i64> = row.try_get("status")?;
        let answer = if stored != fingerprint {
            IdemBegin::Conflict
        } else if let Some(status) = status {
            IdemBegin::Replay {
                status: u16::try_from(status).unwrap_or(500),
                body: row
                    .try_get::<Option<Vec<u8>>, _>("body")?
                    .unwrap_or_default(),
            }
        } else {
            IdemBegin::Reserved {
                instance_id: row.try_get("instance_id")?,
            }
        };
        tx.commit().await?;
        Ok(answer)
    }

    async fn idem_take_over(
        &self,
        key: &IdemKey,
        from: Option<&str>,
        instance: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE idempotency_keys SET instance_id = $1, created_at = $2
             WHERE org_id = $3 AND user_id = $4 AND key = $5 AND status IS NULL
               AND (instance_id = $6 OR (instance_id IS NULL AND $6 IS NULL))",
        )
        .bind(instance)
        .bind(now)
        .bind(&key.org_id)
        .bind(&key.user_id)
        .bind(&key.key)
        .bind(from)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn idem_finish(&self, key: &IdemKey, status: u16, body: &[u8]) -> StoreResult<()> {
        sqlx::query(
            "UPDATE idempotency_keys SET status = $1, body = $2
             WHERE org_id = $3 AND user_id = $4 AND key = $5 AND status IS NULL",
        )
        .bind(i64::from(status))
        .bind(body)
        .bind(&key.org_id)
        .bind(&key.user_id)
        .bind(&key.key)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn idem_abort(&self, key: &IdemKey) -> StoreResult<()> {
        sqlx::query(
            "DELETE FROM idempotency_keys WHERE org_id = $1 AND user_id = $2 AND key = $3 AND status IS NULL",
        )
        .bind(&key.org_id)
        .bind(&key.user_id)
        .bind(&key.key)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn idem_prune(&self, before: i64) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}

/// Forget a process: its unfinished idempotency reservations (their requests
/// died with it, and no job of theirs was committed: a job and its answer
/// commit together) and its registration.
async fn forget_instance(tx: &mut sqlx::Transaction<'_, sqlx::Any>, id: &str) -> StoreResult<()> {
    sqlx::query("DELETE FROM idempotency_keys WHERE instance_id = $1 AND status IS NULL")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM instances WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
