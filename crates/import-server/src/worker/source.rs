//! Opening a job's source: its integration's sealed secrets become a store,
//! checked against the endpoint policy at every use and cached across rows.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use import_core::{FailureCode, IntegrationId, Provider};
use import_providers::{ProviderError, open_source};
use object_store::ObjectStore;
use tokio::sync::Mutex;

use crate::secrets::source_config;
use crate::state::AppState;
use crate::store::IntegrationRecord;
use import_core::outcome::CopyEnd;

/// Most sources kept open at once; the oldest is dropped to make room.
const MAX_CACHED_SOURCES: usize = 256;

/// Sources opened for integrations, reused across rows: at most
/// [`MAX_CACHED_SOURCES`], and an integration's is dropped when it is deleted.
#[derive(Default)]
pub(crate) struct SourceCache {
    stores: Mutex<CacheInner>,
}

#[derive(Default)]
struct CacheInner {
    by_key: HashMap<String, Arc<dyn ObjectStore>>,
    /// Keys, oldest first.
    order: VecDeque<String>,
}

impl SourceCache {
    async fn get(&self, key: &str) -> Option<Arc<dyn ObjectStore>> {
        self.stores.lock().await.by_key.get(key).cloned()
    }

    async fn insert(&self, key: String, store: Arc<dyn ObjectStore>) {
        let mut inner = self.stores.lock().await;
        if inner.by_key.insert(key.clone(), store).is_none() {
            inner.order.push_back(key);
        }
        while inner.by_key.len() > MAX_CACHED_SOURCES {
            let Some(oldest) = inner.order.pop_front() else {
                break;
            };
            inner.by_key.remove(&oldest);
        }
    }

    /// Drop the source of a deleted integration.
    pub(crate) async fn forget(&self, integration: &IntegrationId) {
        let mut inner = self.stores.lock().await;
        let key = integration.as_str();
        if inner.by_key.remove(key).is_some() {
            inner.order.retain(|k| k != key);
        }
    }

    #[cfg(test)]
    async fn len(&self) -> usize {
        self.stores.lock().await.by_key.len()
    }
}

/// The source of a job and the integration it reads with.
pub(super) struct Source {
    pub(super) store: Arc<dyn ObjectStore>,
    pub(super) integration: Option<IntegrationRecord>,
}

/// Open (or take from the cache) the store that reads `bucket` with the
/// job's integration, or anonymously when the job has none.
pub(super) async fn open(
    state: &AppState,
    cache: &SourceCache,
    job_integration: Option<&IntegrationId>,
    provider: Provider,
    bucket: &str,
) -> Result<Source, CopyEnd> {
    let integration = match job_integration {
        Some(id) => match state.store.integrations().integration_by_id(id).await {
            Ok(Some(rec)) => Some(rec),
            Ok(None) => {
                return Err(CopyEnd::Fail(
                    FailureCode::IntegrationMissing,
                    "the job's integration was deleted; save the integration again and import these objects anew".into(),
                ));
            }
            Err(e) => {
                return Err(CopyEnd::Retry(
                    FailureCode::StorageUnavailable,
                    e.to_string(),
                ));
            }
        },
        None => None,
    };
    let config = source_config(provider, bucket, integration.as_ref(), &state.secrets)
        .map_err(|e| CopyEnd::Fail(FailureCode::SourceError, e.to_string()))?;
    let refused = |e: ProviderError| match e {
        ProviderError::Unresolvable { .. } => {
            CopyEnd::Retry(FailureCode::SourceUnavailable, e.to_string())
        }
        _ => CopyEnd::Fail(FailureCode::SourceError, e.to_string()),
    };
    let key = match &integration {
        Some(rec) => rec.id.to_string(),
        None => format!("public:{}:{bucket}", provider.wire_name()),
    };
    let cached = cache.get(&key).await;
    let store = match cached {
        Some(store) => {
            // Checked at every use, not only when saved: DNS may have changed.
            import_providers::check_source(&config, &state.policy)
                .await
                .map_err(refused)?;
            store
        }
        None => {
            // `open_source` runs the same check before it builds the store.
            let store = open_source(&config, &state.policy, &state.config.hf_endpoint)
                .await
                .map_err(refused)?;
            cache.insert(key, store.clone()).await;
            store
        }
    };
    Ok(Source { store, integration })
}

#[cfg(test)]
mod tests {
    use object_store::memory::InMemory;

    use super::*;

    #[tokio::test]
    async fn the_cache_is_bounded_and_forgets_deleted_integrations() {
        let cache = SourceCache::default();
        for i in 0..MAX_CACHED_SOURCES + 44 {
            cache
                .insert(format!("ci_{i:04}"), Arc::new(InMemory::new()))
                .await;
        }
        assert_eq!(cache.len().await, MAX_CACHED_SOURCES);
        // The oldest went first.
        assert!(cache.get("ci_0000").await.is_none());
        let newest = format!("ci_{:04}", MAX_CACHED_SOURCES + 43);
        assert!(cache.get(&newest).await.is_some());
        let id: IntegrationId = newest.parse().unwrap();
        cache.forget(&id).await;
        assert!(cache.get(&newest).await.is_none());
        assert_eq!(cache.len().await, MAX_CACHED_SOURCES - 1);
    }
}
