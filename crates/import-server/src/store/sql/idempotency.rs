//! `Idempotency-Key` reservations and answers, taken over from dead processes
//! and pruned after the retention.

use async_trait::async_trait;
use sqlx::Row;

use super::SqlStore;
use crate::store::InstanceId;
use crate::store::{IdemBegin, IdemKey, IdempotencyStore, StoreResult};

#[async_trait]
impl IdempotencyStore for SqlStore {
    async fn idem_begin(
        &self,
        key: &IdemKey,
        fingerprint: &str,
        now: i64,
        instance: &InstanceId,
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
        .bind(instance.as_str())
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
                instance_id: row
                    .try_get::<Option<String>, _>("instance_id")?
                    .map(InstanceId::from),
            }
        };
        tx.commit().await?;
        Ok(answer)
    }

    async fn idem_take_over(
        &self,
        key: &IdemKey,
        from: Option<&InstanceId>,
        instance: &InstanceId,
        now: i64,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE idempotency_keys SET instance_id = $1, created_at = $2
             WHERE org_id = $3 AND user_id = $4 AND key = $5 AND status IS NULL
               AND (instance_id = $6 OR (instance_id IS NULL AND $6 IS NULL))",
        )
        .bind(instance.as_str())
        .bind(now)
        .bind(&key.org_id)
        .bind(&key.user_id)
        .bind(&key.key)
        .bind(from.map(InstanceId::as_str))
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
