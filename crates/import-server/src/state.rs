//! What every handler and worker shares.

use std::sync::Arc;
use std::time::{Duration, Instant};

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
    pub(crate) copy_memory: crate::budget::MemoryBudget,
    /// The bytes the request bodies being read may hold (`--body-memory`).
    pub(crate) body_memory: crate::budget::MemoryBudget,
    /// Wakes idle workers when rows are queued.
    pub(crate) wake: Notify,
    /// Rate limits per API key (`None` when `--requests-per-minute 0`).
    pub(crate) rate: Option<crate::http::RateLimits>,
    /// Failed authentications per peer address (`None` when
    /// `--max-failed-auth-per-minute 0`).
    pub(crate) auth_failures: Option<crate::http::AuthFailures>,
    /// The metrics `GET /metrics` shows.
    pub(crate) metrics: Metrics,
    /// Sources opened for integrations, shared by the workers.
    pub(crate) sources: Arc<crate::worker::SourceCache>,
    /// The last check that the media store takes a write (`GET /readyz`
    /// writes at most once per [`MEDIA_CHECK_EVERY`]).
    pub(crate) media_check: Cached<Result<(), String>>,
    /// The last check that the database answers (`GET /readyz` asks at most
    /// once per [`STORE_CHECK_EVERY`]).
    pub(crate) store_check: Cached<Result<(), String>>,
    /// The last row gauges read for `GET /metrics` (`None`: the database did
    /// not answer), read at most once per [`GAUGES_EVERY`].
    pub(crate) gauges: Cached<Option<crate::store::RowGauges>>,
}

impl AppState {
    /// Now, by the server's clock ([`crate::Clock`]), in ms since the epoch.
    pub(crate) fn now_ms(&self) -> i64 {
        self.config.clock.now_ms()
    }
}

/// How long `GET /readyz` reuses its last write to the media store.
pub(crate) const MEDIA_CHECK_EVERY: Duration = Duration::from_secs(30);

/// How long `GET /readyz` reuses its last check of the database.
pub(crate) const STORE_CHECK_EVERY: Duration = Duration::from_secs(1);

/// How long `GET /metrics` reuses its last read of the row gauges.
pub(crate) const GAUGES_EVERY: Duration = Duration::from_secs(5);

/// A value worked out at most once per period, however many ask: the
/// probes and the metrics answer anonymous requests, so what they cost the
/// database or the media store must not grow with how often they are asked.
/// Callers that ask while it is being worked out wait for that answer.
pub(crate) struct Cached<T> {
    every: Duration,
    last: tokio::sync::Mutex<Option<(Instant, T)>>,
}

impl<T: Clone> Cached<T> {
    /// A value kept for `every`.
    pub(crate) fn new(every: Duration) -> Cached<T> {
        Cached {
            every,
            last: tokio::sync::Mutex::new(None),
        }
    }

    /// The value worked out less than a period ago, else `work`'s.
    pub(crate) async fn get_or<F: std::future::Future<Output = T>>(
        &self,
        work: impl FnOnce() -> F,
    ) -> T {
        let mut last = self.last.lock().await;
        if let Some((at, value)) = last.as_ref()
            && at.elapsed() < self.every
        {
            return value.clone();
        }
        let value = work().await;
        *last = Some((Instant::now(), value.clone()));
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_cached_value_is_worked_out_once_per_period_however_many_ask() {
        let cached: Arc<Cached<u32>> = Arc::new(Cached::new(Duration::from_secs(60)));
        let runs = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let mut askers = tokio::task::JoinSet::new();
        for _ in 0..100 {
            let (cached, runs) = (cached.clone(), runs.clone());
            askers.spawn(async move {
                cached
                    .get_or(|| async {
                        runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        7
                    })
                    .await
            });
        }
        while let Some(answer) = askers.join_next().await {
            assert_eq!(answer.unwrap(), 7);
        }
        assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 1);
        // After its period it is worked out again.
        let short: Cached<u32> = Cached::new(Duration::ZERO);
        assert_eq!(short.get_or(|| async { 1 }).await, 1);
        assert_eq!(short.get_or(|| async { 2 }).await, 2);
    }
}
