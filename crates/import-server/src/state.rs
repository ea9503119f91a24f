//! What every handler and worker shares.

use std::sync::Arc;

use import_providers::EndpointPolicy;
use object_store::ObjectStore;
use tokio::sync::Notify;

use crate::config::ServerConfig;
use crate::crypto::SecretBox;
use crate::store::Store;

/// Shared state of one server process.
pub(crate) struct AppState {
    /// The database.
    pub(crate) store: Arc<dyn Store>,
    /// Seals integration secrets.
    pub(crate) secrets: SecretBox,
    /// Which endpoints integrations may reach.
    pub(crate) policy: EndpointPolicy,
    /// Where imported videos go.
    pub(crate) media: Arc<dyn ObjectStore>,
    /// The configuration.
    pub(crate) config: ServerConfig,
    /// Wakes idle workers when rows are queued.
    pub(crate) wake: Notify,
}
