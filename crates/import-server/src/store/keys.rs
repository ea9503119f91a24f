//! API keys and who holds them.

use async_trait::async_trait;

use super::StoreResult;

/// Who is calling: the owner of an API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// User id.
    pub user_id: String,
    /// Organisation id.
    pub org_id: String,
    /// Display name.
    pub display_name: Option<String>,
}

/// A stored API key (hashed).
#[derive(Debug, Clone)]
pub struct NewApiKey {
    /// Its id (`ak_` and 16 hex characters of its hash), to name it in
    /// listings and revocations; never the key.
    pub id: String,
    /// When it stops being accepted (ms), if ever.
    pub expires_at: Option<i64>,
    /// SHA-256 of the key.
    pub key_hash: String,
    /// The first characters, to recognise it in listings.
    pub key_prefix: String,
    /// Its owner.
    pub principal: Principal,
    /// Creation time (ms).
    pub created_at: i64,
}

/// A stored API key as the server reads it (to authenticate a request,
/// or to list keys for an operator): never the key or its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// The key's id.
    pub id: String,
    /// Its owner.
    pub principal: Principal,
    /// Creation (ms).
    pub created_at: i64,
    /// Last recorded use (ms).
    pub last_used_at: Option<i64>,
    /// Expiry (ms), if any.
    pub expires_at: Option<i64>,
    /// Revocation (ms), if revoked.
    pub revoked_at: Option<i64>,
}

/// API keys, stored hashed. Every method is one transaction.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// Store a hashed API key.
    async fn create_api_key(&self, key: NewApiKey) -> StoreResult<()>;
    /// The owner of a key hash.
    async fn principal_for_key(&self, key_hash: &str) -> StoreResult<Option<ApiKeyRecord>>;
    /// Record a key's use at `now` (ms).
    async fn touch_api_key(&self, key_id: &str, now: i64) -> StoreResult<()>;
    /// Every API key, oldest first.
    async fn list_api_keys(&self) -> StoreResult<Vec<ApiKeyRecord>>;
    /// Revoke a key that is not revoked yet; whether one was.
    async fn revoke_api_key(&self, key_id: &str, now: i64) -> StoreResult<bool>;
}
