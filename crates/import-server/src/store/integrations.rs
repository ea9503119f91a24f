//! Saved cloud integrations; their secrets stay sealed.

use async_trait::async_trait;
use import_core::{IntegrationId, Provider};

use super::{Principal, StoreResult};

/// A saved integration; the secrets stay sealed.
#[derive(Clone, PartialEq, Eq)]
pub struct IntegrationRecord {
    /// Id.
    pub id: IntegrationId,
    /// Organisation.
    pub org_id: String,
    /// Creator's user id.
    pub created_by: String,
    /// Creator's display name.
    pub created_by_display_name: Option<String>,
    /// Name.
    pub name: String,
    /// Provider.
    pub kind: Provider,
    /// Bucket.
    pub bucket: String,
    /// Prefix it is narrowed to.
    pub prefix: Option<String>,
    /// S3 region.
    pub region: Option<String>,
    /// S3-compatible endpoint.
    pub endpoint_url: Option<String>,
    /// AES-256-GCM sealed secrets.
    pub sealed_secrets: Vec<u8>,
    /// Creation time (ms).
    pub created_at: i64,
    /// Last use (ms).
    pub last_used: Option<i64>,
}

impl std::fmt::Debug for IntegrationRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntegrationRecord")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("endpoint_url", &self.endpoint_url)
            .field("sealed_secrets", &"<sealed>")
            .finish_non_exhaustive()
    }
}

/// Saved integrations. Every method is one transaction.
#[async_trait]
pub trait IntegrationStore: Send + Sync {
    /// Save an integration.
    async fn insert_integration(&self, rec: IntegrationRecord) -> StoreResult<()>;
    /// Integrations visible to the caller, newest first.
    async fn list_integrations(&self, who: &Principal) -> StoreResult<Vec<IntegrationRecord>>;
    /// A visible integration.
    async fn integration(
        &self,
        who: &Principal,
        id: &IntegrationId,
    ) -> StoreResult<Option<IntegrationRecord>>;
    /// An integration by id, for workers.
    async fn integration_by_id(&self, id: &IntegrationId)
    -> StoreResult<Option<IntegrationRecord>>;
    /// The caller's newest integration of a provider and bucket.
    async fn newest_integration(
        &self,
        who: &Principal,
        kind: Provider,
        bucket: &str,
    ) -> StoreResult<Option<IntegrationRecord>>;
    /// Delete an integration the caller owns; false if none.
    async fn delete_integration(&self, who: &Principal, id: &IntegrationId) -> StoreResult<bool>;
    /// Record a use.
    async fn touch_integration(&self, id: &IntegrationId, now: i64) -> StoreResult<()>;
    /// Every organisation's integrations in id order after `after`, at most
    /// `limit`, sealed secrets included (for the start's reseal).
    async fn integrations_page(
        &self,
        after: Option<&IntegrationId>,
        limit: u32,
    ) -> StoreResult<Vec<IntegrationRecord>>;
    /// Replace an integration's sealed secrets if they are still `old`;
    /// whether they were (another replica may have resealed them first).
    async fn reseal_integration(
        &self,
        id: &IntegrationId,
        old: &[u8],
        new: &[u8],
    ) -> StoreResult<bool>;
}
