//! The statements that name statuses, built once per dialect: the one place
//! the store spells a status ([`status_sql`]).

use import_core::ViewRole;
use import_core::wire::VideoStatus;

use super::Dialect;
use super::tally::FAILURE_EXAMPLES;
use crate::store::CLAIMABLE_COUNT_CAP;

/// A status as an SQL string literal (`'PENDING'`), from the core's wire value.
pub(super) fn status_sql(status: &VideoStatus) -> String {
    format!("'{}'", status.as_str())
}

/// The statements that name statuses, built once from the core's
/// [`VideoStatus`] values (the only place the store spells a status) and the
/// dialect. The terminal rule is [`VideoStatus::TERMINAL`]: every other status,
/// an unknown one included, counts as not terminal, in every statement.
#[derive(Debug)]
pub(super) struct Statements {
    pub(super) claim: String,
    pub(super) renew: String,
    pub(super) finish: String,
    pub(super) count_finished: String,
    pub(super) complete_job: String,
    pub(super) release_expired: String,
    pub(super) fail_interrupted: String,
    /// The rows of a dead process (`$1`) under the attempt cap (`$3`), queued again.
    pub(super) release_instance: String,
    /// The rows of a dead process that used every attempt, failed.
    pub(super) fail_instance: String,
    /// The rows of a stopping process, handed back without spending the attempt.
    pub(super) hand_back_instance: String,
    pub(super) hand_back: String,
    /// `retry_rows`, without its closing id filter and `RETURNING`.
    pub(super) retry: String,
    /// New rows of a job ([`Dialect::insert_videos`]).
    pub(super) insert_videos: String,
    /// A job's unfinished rows failed as cancelled.
    pub(super) cancel: String,
    /// "A listed row" (single-view, or the front of a set) as a condition on
    /// `role`: [`ViewRole::is_listed`] in SQL.
    pub(super) listed: String,
    /// The turn being served: the lowest of a queued row, else the highest
    /// any organisation reached.
    pub(super) now_served: String,
    /// A job's failed listed rows (`$1`), counted by code.
    pub(super) failure_counts: String,
    /// The first source URIs of a job's (`$1`) failed listed rows of a code (`$2`).
    pub(super) failure_examples: String,
    /// Rows being copied.
    pub(super) count_uploading: String,
    /// Pending rows whose time (`$1`) has come, up to [`CLAIMABLE_COUNT_CAP`].
    pub(super) count_claimable: String,
    /// Keep a claimed row's (`$2`, `$3` its lease owner) media upload id (`$1`).
    pub(super) set_upload_id: String,
    /// Which of the rows (`$1`, a JSON list) are under a live lease at `$2`.
    pub(super) leased_among: String,
}

impl Statements {
    pub(super) fn new(dialect: Dialect) -> Statements {
        let pending = status_sql(&VideoStatus::Pending);
        let uploading = status_sql(&VideoStatus::Uploading);
        let failed = status_sql(&VideoStatus::UploadingFailed);
        let uploaded = status_sql(&VideoStatus::Uploaded);
        let terminal = VideoStatus::TERMINAL
            .iter()
            .map(status_sql)
            .collect::<Vec<_>>()
            .join(", ");
        let front = format!("'{}'", ViewRole::FRONT);
        let listed = format!("(role IS NULL OR role = {front})");
        Statements {
            // Up to `{CLAIM_LIMIT}` rows in one statement (the number is
            // written into the statement, see `claim_sql`). The locking
            // subquery is run exactly once (`Dialect::picked`): run again by
            // the planner, it could take more rows than its limit.
            claim: format!(
                "UPDATE videos SET status = {uploading}, lease_owner = $1, lease_until = $2, attempts = attempts + 1, claims = claims + 1, updated_at = $3,
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
            ) + " RETURNING id, job_id, object, attempts, upload_id, hand_backs, claims, upload_claim",
            renew: format!(
                "UPDATE videos SET lease_until = $1 WHERE id = $2 AND lease_owner = $3 AND status = {uploading}"
            ),
            finish: format!(
                "UPDATE videos SET status = $1, error = $2, not_before = $3, lease_owner = NULL, lease_until = NULL,
                    size_bytes = $4, sha256 = $5, duration_s = $6, width = $7, height = $8, codec = $9, updated_at = $10,
                    error_code = $13, verified_checksum = $14, xet_hash = $15, upload_id = NULL, upload_claim = NULL,
                    media_claim = CASE WHEN $1 = {uploaded} THEN claims ELSE media_claim END
                 WHERE id = $11 AND lease_owner = $12 AND status = {uploading}
                 RETURNING job_id, role, source_uri"
            ),
            // Count a finished row. This locks the job's row until the commit,
            // which serialises the finishes of one job.
            count_finished: "UPDATE jobs SET uploaded = uploaded + $1, failed = failed + $2, updated_at = $3 WHERE id = $4
                 RETURNING total - uploaded - failed AS remaining, uploaded, failed".into(),
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
            // `$4` is 1 when the attempt is given back (a free hand-back).
            hand_back: format!(
                "UPDATE videos SET status = {pending}, lease_owner = NULL, lease_until = NULL,
                    attempts = CASE WHEN $4 = 1 AND attempts > 0 THEN attempts - 1 ELSE attempts END,
                    hand_backs = hand_backs + 1, updated_at = $1
                 WHERE id = $2 AND lease_owner = $3 AND status = {uploading}"
            ),
            retry: format!(
                "UPDATE videos SET status = {pending}, error = NULL, not_before = 0, attempts = 0, hand_backs = 0, updated_at = $1
                 WHERE job_id = $2 AND status = {failed}"
            ),
            insert_videos: dialect.insert_videos(),
            now_served: format!(
                "SELECT COALESCE(
                    (SELECT turn FROM videos WHERE status = {pending} ORDER BY turn LIMIT 1),
                    (SELECT MAX(next_turn) FROM org_turns), 0)"
            ),
            failure_counts: format!(
                "SELECT error_code, COUNT(*) FROM videos
                 WHERE job_id = $1 AND status = {failed} AND error_code IS NOT NULL AND {listed}
                 GROUP BY error_code"
            ),
            failure_examples: format!(
                "SELECT source_uri FROM videos
                 WHERE job_id = $1 AND status = {failed} AND error_code = $2 AND {listed}
                 ORDER BY id LIMIT {FAILURE_EXAMPLES}"
            ),
            count_uploading: format!("SELECT COUNT(*) FROM videos WHERE status = {uploading}"),
            count_claimable: format!(
                "SELECT COUNT(*) FROM (SELECT 1 FROM videos WHERE status = {pending} AND not_before <= $1 LIMIT {CLAIMABLE_COUNT_CAP}) c"
            ),
            set_upload_id: format!(
                "UPDATE videos SET upload_id = $1, upload_claim = CASE WHEN $1 IS NULL THEN NULL ELSE claims END
                 WHERE id = $2 AND lease_owner = $3 AND status = {uploading}"
            ),
            leased_among: format!(
                "SELECT id FROM videos WHERE id IN {} AND status = {uploading} AND lease_until > $2",
                dialect.json_list("$1")
            ),
            cancel: format!(
                "UPDATE videos SET status = {failed}, error = $1, error_code = $2, lease_owner = NULL,
                    lease_until = NULL, not_before = 0, updated_at = $3
                 WHERE job_id = $4 AND status NOT IN ({terminal})
                 RETURNING role"
            ),
            listed,
        }
    }
}

/// Where the claim statement's row limit goes (see `SqlStore::claim_sql`).
pub(super) const CLAIM_LIMIT: &str = "__CLAIM_LIMIT__";
