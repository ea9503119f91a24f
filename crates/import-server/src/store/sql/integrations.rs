//! Saved cloud integrations, their sealed secrets never read out but by the
//! workers and the start's reseal.

use async_trait::async_trait;
use import_core::{IntegrationId, Provider};

use super::SqlStore;
use super::rows::integration_from;
use crate::store::{IntegrationRecord, IntegrationStore, Principal, StoreResult};

#[async_trait]
impl IntegrationStore for SqlStore {
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
}
