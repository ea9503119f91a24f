//! Server processes: registration, heartbeats, the PostgreSQL advisory locks,
//! and the release of a dead or stopping process's rows.

use async_trait::async_trait;
use sqlx::AssertSqlSafe;

use super::{Dialect, SqlStore};
use crate::store::InstanceId;
use crate::store::{InstanceLock, InstanceRecord, InstanceStore, Released, StoreResult};

#[async_trait]
impl InstanceStore for SqlStore {
    async fn register_instance(&self, instance: &InstanceRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO instances (id, host, pid, started_at, heartbeat_at, lock_key) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(instance.id.as_str())
        .bind(&instance.host)
        .bind(instance.pid)
        .bind(instance.started_at)
        .bind(instance.heartbeat_at)
        .bind(instance.lock_key)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn beat_instance(&self, id: &InstanceId, now: i64) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE instances SET heartbeat_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id.as_str())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn list_instances(&self) -> StoreResult<Vec<InstanceRecord>> {
        let rows: Vec<(String, String, i64, i64, i64, i64)> = sqlx::query_as(
            "SELECT id, host, pid, started_at, heartbeat_at, lock_key FROM instances ORDER BY started_at, id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(id, host, pid, started_at, heartbeat_at, lock_key)| InstanceRecord {
                    id: id.into(),
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
        id: &InstanceId,
        now: i64,
        max_attempts: u32,
    ) -> StoreResult<Released> {
        let mut tx = self.pool.begin().await?;
        let statements = (
            self.sql.fail_instance.as_str(),
            self.sql.release_instance.as_str(),
        );
        let (released, completed) = self
            .release_rows(&mut tx, statements, Some(id), now, max_attempts)
            .await?;
        forget_instance(&mut tx, id).await?;
        tx.commit().await?;
        completed.iter().for_each(super::tally::JobDone::log);
        Ok(released)
    }

    async fn hand_back_instance(&self, id: &InstanceId, now: i64) -> StoreResult<u64> {
        let mut tx = self.pool.begin().await?;
        let handed = sqlx::query(AssertSqlSafe(self.sql.hand_back_instance.as_str()))
            .bind(id.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        forget_instance(&mut tx, id).await?;
        tx.commit().await?;
        Ok(handed)
    }
}

/// Forget a process: its unfinished idempotency reservations (their requests
/// died with it, and no job of theirs was committed: a job and its answer
/// commit together) and its registration.
pub(super) async fn forget_instance(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: &InstanceId,
) -> StoreResult<()> {
    sqlx::query("DELETE FROM idempotency_keys WHERE instance_id = $1 AND status IS NULL")
        .bind(id.as_str())
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM instances WHERE id = $1")
        .bind(id.as_str())
        .execute(&mut **tx)
        .await?;
    Ok(())
}
