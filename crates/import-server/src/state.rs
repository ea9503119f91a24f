//! What every handler and worker shares.

use std::sync::Arc;

use import_providers::EndpointPolicy;
use object_store::ObjectStore;
use tokio::sync::Notify;

use crate::config::ServerConfig;
use crate::crypto::SecretBox;
use crate::metrics::Metrics;
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
    /// The media bucket's multipart interface (`None` for a folder): copies
    /// into a bucket keep their upload id with their row.
    pub(crate) media_multipart: Option<Arc<dyn object_store::multipart::MultipartStore>>,
    /// The media folder, when the media store is a local folder (its
    /// staging files are swept).
    pub(crate) media_folder: Option<std::path::PathBuf>,
    /// The configuration.
    pub(crate) config: ServerConfig,
    /// This process, as the database knows it.
    pub(crate) instance: crate::instance::Instance,
    /// The bytes the copies in flight may buffer (`--copy-memory`).
    pub(crate) copy_memory: crate::worker::CopyMemory,
    /// Wakes idle workers when rows are queued.
    pub(crate) wake: Notify,
    /// Rate limits per API key (`None` when `--requests-per-minute 0`).
    pub(crate) rate: Option<crate::http::RateLimits>,
    /// The metrics `GET /metrics` shows.
    pub(crate) metrics: Metrics,
    /// Sources opened for integrations, shared by the workers.
    pub(crate) sources: Arc<crate::worker::SourceCache>,
    /// The last check that the media store takes a write, and when it ran
    /// (`GET /readyz` writes at most once per [`MEDIA_CHECK_EVERY`]).
    pub(crate) media_check: tokio::sync::Mutex<Option<(std::time::Instant, Result<(), String>)>>,
}

/// How long `GET /readyz` reuses its last write to the media store.
pub(crate) const MEDIA_CHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(30);
