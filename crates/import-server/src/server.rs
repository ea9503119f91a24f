//! Starting and stopping a server.

use std::net::SocketAddr;
use std::sync::Arc;

use object_store::ObjectStore;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::clock::now_ms;
use crate::config::ServerConfig;
use crate::crypto::{SecretBox, hash_api_key, new_api_key};
use crate::error::StartupError;
use crate::state::AppState;
use crate::store::{NewApiKey, Principal, SqliteStore, Store};

/// A running server: the HTTP listener and the import workers.
pub struct Server {
    addr: SocketAddr,
    state: Arc<AppState>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// Open the store a configuration names.
pub(crate) async fn open_store(config: &ServerConfig) -> Result<Arc<dyn Store>, StartupError> {
    let url = config.database_url();
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::open(&url).await?))
    } else {
        Err(StartupError::Config {
            what: format!("database URL `{}`", crate::config::redact_url(&url)),
            fix: "use sqlite:///path/to/vimport.db (PostgreSQL support comes with the scale-out work)".into(),
        })
    }
}

fn open_media(config: &ServerConfig) -> Result<Arc<dyn ObjectStore>, StartupError> {
    match &config.media_url {
        None => {
            let dir = config.data_dir.join("media");
            local_media(&dir)
        }
        Some(url) if url.starts_with("file://") || url.starts_with('/') => {
            let path = url.strip_prefix("file://").unwrap_or(url);
            local_media(std::path::Path::new(path))
        }
        Some(url) => {
            let parsed = url::Url::parse(url).map_err(|e| StartupError::Config {
                what: format!("media URL `{url}`"),
                fix: format!("use a folder path, file:///path, or a bucket URL such as s3://bucket/prefix ({e})"),
            })?;
            let (store, _) =
                object_store::parse_url_opts(&parsed, config.media_options.iter().cloned())
                    .map_err(|e| StartupError::Config {
                        what: format!("media URL `{url}`"),
                        fix: e.to_string(),
                    })?;
            Ok(Arc::from(store))
        }
    }
}

fn local_media(dir: &std::path::Path) -> Result<Arc<dyn ObjectStore>, StartupError> {
    std::fs::create_dir_all(dir).map_err(|e| StartupError::Io {
        what: format!("creating the media folder {}", dir.display()),
        source: e,
    })?;
    let store = object_store::local::LocalFileSystem::new_with_prefix(dir).map_err(|e| {
        StartupError::Config {
            what: format!("media folder {}", dir.display()),
            fix: e.to_string(),
        }
    })?;
    Ok(Arc::new(store))
}

/// Remove the staging files of uploads a stopped process left behind (`NAME#N`,
/// as the local media store names them); their rows are copied again.
fn sweep_staged_uploads(dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().contains('#')
            && let Err(e) = std::fs::remove_file(entry.path())
        {
            tracing::warn!(path = %entry.path().display(), error = %e, "removing a stale staging file failed");
        }
    }
}

fn secret_box(config: &ServerConfig) -> Result<SecretBox, StartupError> {
    match &config.secret_key {
        Some(hex) => SecretBox::from_hex(hex),
        None => SecretBox::from_key_file(&config.data_dir.join("secret.key")),
    }
}

/// Create an API key for a user of an organisation; answers the key, which is
/// stored only as a hash.
pub async fn create_api_key(
    config: &ServerConfig,
    user_id: &str,
    org_id: &str,
    display_name: Option<&str>,
) -> Result<String, StartupError> {
    ensure_data_dir(config)?;
    let store = open_store(config).await?;
    insert_key(store.as_ref(), user_id, org_id, display_name).await
}

async fn insert_key(
    store: &dyn Store,
    user_id: &str,
    org_id: &str,
    display_name: Option<&str>,
) -> Result<String, StartupError> {
    for (what, value) in [("user", user_id), ("org", org_id)] {
        if value.trim().is_empty() || value.len() > 128 || value.chars().any(char::is_control) {
            return Err(StartupError::Config {
                what: format!("{what} id `{value}`"),
                fix: "use 1 to 128 characters without control characters".into(),
            });
        }
    }
    let key = new_api_key();
    store
        .create_api_key(NewApiKey {
            key_hash: hash_api_key(&key),
            key_prefix: key[..11].to_owned(),
            principal: Principal {
                user_id: user_id.trim().to_owned(),
                org_id: org_id.trim().to_owned(),
                display_name: display_name.map(str::to_owned),
            },
            created_at: now_ms(),
        })
        .await
        .map_err(|e| StartupError::Database(e.to_string()))?;
    Ok(key)
}

fn ensure_data_dir(config: &ServerConfig) -> Result<(), StartupError> {
    std::fs::create_dir_all(&config.data_dir).map_err(|e| StartupError::Io {
        what: format!("creating the data folder {}", config.data_dir.display()),
        source: e,
    })
}

impl Server {
    /// Open the store, bind the listener and start the workers.
    pub async fn start(config: ServerConfig) -> Result<Server, StartupError> {
        ensure_data_dir(&config)?;
        let store = open_store(&config).await?;
        let secrets = secret_box(&config)?;
        let policy = import_providers::EndpointPolicy::from_allowed(config.allow_endpoints.iter())
            .map_err(|e| StartupError::Config {
                what: "--allow-endpoint".into(),
                fix: e.to_string(),
            })?;
        let media = open_media(&config)?;
        // SQLite serves one process: rows it had claimed when it stopped are orphans,
        // and so are the staging files of their uploads.
        if config.database_url().starts_with("sqlite:") {
            if config.media_url.is_none() {
                sweep_staged_uploads(&config.data_dir.join("media").join("videos"));
            }
            let far = now_ms() + config.lease.as_millis() as i64 * 2 + 86_400_000;
            let n = store
                .release_expired(far)
                .await
                .map_err(|e| StartupError::Database(e.to_string()))?;
            if n > 0 {
                tracing::warn!(
                    rows = n,
                    "rows interrupted by the last stop are queued again"
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
        let workers = config.workers;
        let state = Arc::new(AppState {
            store,
            secrets,
            policy,
            media,
            config,
            wake: Notify::new(),
        });
        let (stop, stopped) = watch::channel(false);
        let mut tasks = crate::worker::spawn(state.clone(), workers, stopped.clone());
        let app = crate::http::router(state.clone());
        let mut http_stop = stopped;
        tasks.push(tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
                let _ = http_stop.wait_for(|s| *s).await;
            });
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "the HTTP server stopped");
            }
        }));
        tracing::info!(%addr, workers, "vimport server listening");
        Ok(Server {
            addr,
            state,
            stop,
            tasks,
        })
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
        insert_key(self.state.store.as_ref(), user_id, org_id, display_name).await
    }

    /// The media store imported videos are written to.
    pub fn media(&self) -> Arc<dyn ObjectStore> {
        self.state.media.clone()
    }

    /// Stop accepting requests, let workers finish their current row, and return.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }

    /// Wait until stopped by another task (never returns on its own).
    pub async fn wait(self) {
        for task in self.tasks {
            let _ = task.await;
        }
    }
}
