//! API keys: stored hashed, read to authenticate, listed and revoked.

use async_trait::async_trait;
use sqlx::AssertSqlSafe;

use super::SqlStore;
use super::rows::{API_KEY_COLUMNS, api_key_from};
use crate::store::{ApiKeyRecord, KeyStore, NewApiKey, StoreResult};

#[async_trait]
impl KeyStore for SqlStore {
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
}
