//! Starting and stopping a server: the store, the media store, this
//! process's registration, the workers and the HTTP listener, wired together
//! at start and stopped in order.

use std::net::SocketAddr;
use std::sync::Arc;

use object_store::ObjectStore;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::admin::{ensure_data_dir, insert_key, open_store};
use crate::config::ServerConfig;
use crate::crypto::SecretBox;
use crate::error::StartupError;
use crate::state::{AppState, Cached, GAUGES_EVERY, MEDIA_CHECK_EVERY, STORE_CHECK_EVERY};
use crate::store::{Dialect, Store};

/// A running server: the HTTP listener and the import workers.
pub struct Server {
    addr: SocketAddr,
    state: Arc<AppState>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

fn secret_box(config: &ServerConfig) -> Result<SecretBox, StartupError> {
    match &config.secret_key {
        Some(hex) => SecretBox::from_hex(hex),
        None => SecretBox::from_key_file(&config.data_dir.join("secret.key")),
    }
}

impl Server {
    /// Open the store, bind the listener and start the workers.
    pub async fn start(config: ServerConfig) -> Result<Server, StartupError> {
        ensure_data_dir(&config)?;
        let store = open_store(&config).await?;
        Self::start_with_store(config, store).await
    }

    /// [`Server::start`] on a store of the caller's: the configuration's
    /// database URL still says which dialect it is (SQLite's start-up
    /// re-queue runs for it). For wrappers around [`SqlStore`] that count or
    /// inject faults in tests.
    ///
    /// [`SqlStore`]: crate::store::SqlStore
    pub async fn start_with_store(
        config: ServerConfig,
        store: Arc<dyn Store>,
    ) -> Result<Server, StartupError> {
        ensure_data_dir(&config)?;
        let secrets = secret_box(&config)?;
        let mut policy = import_providers::EndpointPolicy::from_allowed(
            config.allow_endpoints.iter(),
        )
        .map_err(|e| StartupError::Config {
            what: "--allow-endpoint".into(),
            fix: e.to_string(),
        })?;
        if !config.source_name_servers.is_empty() {
            policy = policy.with_name_servers(config.source_name_servers.iter().copied());
        }
        if let Some(proxy) = &config.source_proxy {
            policy = policy.with_proxy(proxy).map_err(|e| StartupError::Config {
                what: "--source-proxy".into(),
                fix: e.to_string(),
            })?;
        }
        let media = crate::media::open(&config)?;
        crate::secrets::reseal_legacy_secrets(store.as_ref(), &secrets).await?;
        let sqlite = Dialect::of_url(&config.database_url()) == Some(Dialect::Sqlite);
        // Registered before anything is claimed.
        let instance = crate::instance::Instance::register(&config, store.as_ref(), sqlite).await?;
        // On SQLite with no other live process, every row being copied is an
        // orphan of the last stop (rows claimed by a version without the
        // process registry included): queued again at once. The staging
        // files of their uploads are swept by the reaper.
        let alone = sqlite
            && instance
                .alone(store.as_ref(), config.instance_timeout)
                .await
                .map_err(|e| StartupError::Database(e.to_string()))?;
        if alone {
            let far = config.clock.now_ms() + config.lease.as_millis() as i64 * 2 + 86_400_000;
            let released = store
                .queue()
                .release_expired(far, config.max_attempts)
                .await
                .map_err(|e| StartupError::Database(e.to_string()))?;
            if released.requeued > 0 {
                tracing::warn!(
                    rows = released.requeued,
                    "rows interrupted by the last stop are queued again"
                );
            }
            if released.failed > 0 {
                tracing::warn!(
                    rows = released.failed,
                    "rows interrupted by the last stop on every attempt failed as `interrupted`"
                );
            }
        }
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|e| StartupError::Io {
                what: format!("listening on {}", config.listen),
                source: e,
            })?;
        let addr = listener.local_addr().map_err(|e| StartupError::Io {
            what: "reading the listening address".into(),
            source: e,
        })?;
        let max_in_flight = config.max_in_flight;
        if config.body_memory < config.body_limit as u64 {
            return Err(StartupError::Config {
                what: format!("--body-memory {}", config.body_memory),
                fix: format!(
                    "it is smaller than --body-limit {}, so an upload body of the largest size could never be read; raise --body-memory or lower --body-limit",
                    config.body_limit
                ),
            });
        }
        let copy_memory = crate::budget::MemoryBudget::new(config.copy_memory);
        let body_memory = crate::budget::MemoryBudget::new(config.body_memory);
        let rate = crate::http::RateLimits::new(config.requests_per_minute);
        let auth_failures = crate::http::AuthFailures::new(config.max_failed_auth_per_minute);
        let state = Arc::new(AppState {
            store,
            secrets,
            policy,
            media: media.store,
            media_multipart: media.multipart,
            media_folder: media.folder,
            instance,
            copy_memory,
            body_memory,
            config,
            wake: Notify::new(),
            rate,
            auth_failures,
            metrics: crate::metrics::Metrics::new(),
            sources: Arc::default(),
            media_check: Cached::new(MEDIA_CHECK_EVERY),
            store_check: Cached::new(STORE_CHECK_EVERY),
            gauges: Cached::new(GAUGES_EVERY),
        });
        if alone {
            // Nothing is being copied: every staging file is stale.
            crate::worker::sweep_staging(&state).await;
        }
        let (stop, stopped) = watch::channel(false);
        let mut tasks = crate::worker::spawn(state.clone(), max_in_flight, stopped.clone());
        let app = crate::http::router(state.clone());
        let http_stop = stopped;
        let bounds = crate::http::Bounds {
            max_connections: state.config.max_connections.max(1),
            max_connections_per_peer: state.config.connections_per_peer(),
            max_head_bytes: state.config.max_head_bytes,
            header_timeout: state.config.header_timeout,
            idle_timeout: state.config.idle_timeout,
            stop_grace: state.config.stop_grace,
        };
        let refused = state.metrics.refused_connections.clone();
        tasks.push(tokio::spawn(async move {
            crate::http::serve(listener, app, bounds, http_stop, refused).await;
        }));
        tracing::info!(%addr, max_in_flight, "vimport server listening");
        Ok(Server {
            addr,
            state,
            stop,
            tasks,
        })
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &ServerConfig {
        &self.state.config
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL, `http://ADDR`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Create an API key in this server's store.
    pub async fn create_api_key(
        &self,
        user_id: &str,
        org_id: &str,
        display_name: Option<&str>,
    ) -> Result<String, StartupError> {
        insert_key(
            self.state.store.as_ref(),
            user_id,
            org_id,
            display_name,
            None,
        )
        .await
    }

    /// The media store imported videos are written to.
    pub fn media(&self) -> Arc<dyn ObjectStore> {
        self.state.media.clone()
    }

    /// Stop accepting requests, let workers finish their current row, and return.
    ///
    /// The workers stop claiming; copies in flight get `stop_grace` (5 s) to
    /// finish, then the rows still being copied are handed back (queued
    /// again without spending an attempt) and this process leaves the
    /// registry, so another process (or the next start) takes them at once.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
        // The dispatcher, among the tasks, returns once its copies have
        // ended or the stop's grace is over (the rest cancelled).
        let state = self.state;
        match state
            .store
            .instances()
            .hand_back_instance(&state.instance.id, state.now_ms())
            .await
        {
            Ok(0) => {}
            Ok(rows) => tracing::info!(rows, "rows still being copied were handed back"),
            Err(e) => {
                tracing::warn!(error = %e, "handing back the rows being copied failed; they are queued again when this process is seen dead")
            }
        }
        state.instance.release_locks();
    }

    /// Wait until stopped by another task (never returns on its own).
    pub async fn wait(self) {
        for task in self.tasks {
            let _ = task.await;
        }
    }
}
