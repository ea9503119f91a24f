//! Opening a job's source: its integration's sealed secrets become a store,
//! checked against the endpoint policy at every use and cached across rows.

use std::collections::HashMap;
use std::sync::Arc;

use import_core::{FailureCode, IntegrationId, Provider};
use import_providers::{ProviderError, open_source};
use object_store::ObjectStore;
use tokio::sync::Mutex;

use super::Copy;
use crate::secrets::source_config;
use crate::state::AppState;
use crate::store::IntegrationRecord;

/// Sources opened for integrations, reused across rows.
#[derive(Default)]
pub(crate) struct SourceCache {
    stores: Mutex<HashMap<String, Arc<dyn ObjectStore>>>,
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
) -> Result<Source, Copy> {
    let integration = match job_integration {
        Some(id) => match state.store.integration_by_id(id).await {
            Ok(Some(rec)) => Some(rec),
            Ok(None) => {
                return Err(Copy::Fail(
                    FailureCode::IntegrationMissing,
                    "the job's integration was deleted; save the integration again and import these objects anew".into(),
                ));
            }
            Err(e) => return Err(Copy::Retry(FailureCode::StorageUnavailable, e.to_string())),
        },
        None => None,
    };
    let config = source_config(provider, bucket, integration.as_ref(), &state.secrets)
        .map_err(|e| Copy::Fail(FailureCode::SourceError, e.to_string()))?;
    let refused = |e: ProviderError| match e {
        ProviderError::Unresolvable { .. } => {
            Copy::Retry(FailureCode::SourceUnavailable, e.to_string())
        }
        _ => Copy::Fail(FailureCode::SourceError, e.to_string()),
    };
    let key = match &integration {
        Some(rec) => rec.id.to_string(),
        None => format!("public:{}:{bucket}", provider.wire_name()),
    };
    let cached = cache.stores.lock().await.get(&key).cloned();
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
            cache.stores.lock().await.insert(key, store.clone());
            store
        }
    };
    Ok(Source { store, integration })
}
