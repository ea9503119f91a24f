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
use crate::store::{Dialect, NewApiKey, Principal, SqlStore, Store};

/// A running server: the HTTP listener and the import workers.
pub struct Server {
    addr: SocketAddr,
    state: Arc<AppState>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// Open the store a configuration names.
pub(crate) async fn open_store(config: &ServerConfig) -> Result<Arc<dyn Store>, StartupError> {
    Ok(Arc::new(SqlStore::open(&config.database_url()).await?))
}

/// Open the media store a configuration names: the default folder, a folder
/// (`/path`, `file:///path`, or a relative path), or a bucket (`s3://bucket/prefix`,
/// the `https://` forms of S3 and R2, `gs://bucket/prefix`). A bucket store starts
/// from the standard environment variables (`AWS_*` for S3, `GOOGLE_*` for GCS)
/// and `config.media_options` override them; an unknown option is an error, not
/// silently dropped. Objects are written under the URL's path.
fn open_media(config: &ServerConfig) -> Result<Media, StartupError> {
    if let Some(folder) = media_folder(config) {
        let what = match config.media_url {
            None => "the default media folder",
            Some(_) => "a media folder",
        };
        refuse_options_for_folder(config, what)?;
        return Ok(Media {
            store: local_media(&folder)?,
            multipart: None,
        });
    }
    let url = config.media_url.as_deref().unwrap_or_default();
    let shown = crate::config::redact_url(url);
    let what = || format!("media URL `{shown}`");
    let parsed = url::Url::parse(url).map_err(|e| StartupError::Config {
        what: what(),
        fix: format!(
            "use a folder path, file:///path, or a bucket URL such as s3://bucket/prefix ({e})"
        ),
    })?;
    let unsupported = || {
        StartupError::Config {
        what: what(),
        fix: "use a folder path, file:///path, s3://bucket/prefix (S3, R2, MinIO) or gs://bucket/prefix".into(),
    }
    };
    let (scheme, prefix) =
        object_store::ObjectStoreScheme::parse(&parsed).map_err(|_| unsupported())?;
    // Secrets that must not reach an error message, whatever the builder says.
    let mut secrets: Vec<String> = config
        .media_options
        .iter()
        .filter(|(key, _)| crate::config::is_secret_option(key))
        .map(|(_, value)| value.clone())
        .chain(parsed.password().map(str::to_owned))
        .collect();
    let built = |e: object_store::Error, secrets: &[String]| StartupError::Config {
        what: what(),
        fix: format!(
            "the media store could not be set up: {}; check --media-url and --media-option",
            scrub(&e.to_string(), secrets)
        ),
    };
    match scheme {
        object_store::ObjectStoreScheme::AmazonS3 => {
            use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
            secrets.extend(env_secrets("AWS_"));
            let mut builder = AmazonS3Builder::from_env().with_url(url);
            for (key, value) in &config.media_options {
                let parsed_key: AmazonS3ConfigKey = media_option_key(
                    key,
                    "an s3:// media store",
                    "aws_endpoint, aws_access_key_id, aws_secret_access_key, aws_session_token, \
                     aws_region, aws_allow_http, aws_virtual_hosted_style_request",
                )?;
                builder = builder.with_config(parsed_key, value);
            }
            let store = builder.build().map_err(|e| built(e, &secrets))?;
            Ok(under_prefix(store, prefix))
        }
        object_store::ObjectStoreScheme::GoogleCloudStorage => {
            use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
            secrets.extend(env_secrets("GOOGLE_"));
            let mut builder = GoogleCloudStorageBuilder::from_env().with_url(url);
            for (key, value) in &config.media_options {
                let parsed_key: GoogleConfigKey = media_option_key(
                    key,
                    "a gs:// media store",
                    "google_service_account (a key file path), google_service_account_key \
                     (the key's JSON), google_bearer_token",
                )?;
                builder = builder.with_config(parsed_key, value);
            }
            let store = builder.build().map_err(|e| built(e, &secrets))?;
            Ok(under_prefix(store, prefix))
        }
        _ => Err(unsupported()),
    }
}

/// Media options only configure a bucket; on a folder they are a mistake.
fn refuse_options_for_folder(config: &ServerConfig, which: &str) -> Result<(), StartupError> {
    match config.media_options.first() {
        None => Ok(()),
        Some((key, _)) => Err(StartupError::Config {
            what: format!("media option `{key}`"),
            fix: format!(
                "media options configure a bucket, but the media store is {which}; \
                 set --media-url to s3://bucket/prefix or gs://bucket/prefix, or drop \
                 --media-option (and VIMPORT_MEDIA_OPTIONS)"
            ),
        }),
    }
}

/// Parse a media option's key (any case) as a configuration key of the store.
fn media_option_key<K: std::str::FromStr>(
    key: &str,
    store: &str,
    examples: &str,
) -> Result<K, StartupError> {
    key.trim()
        .to_ascii_lowercase()
        .parse()
        .map_err(|_| StartupError::Config {
            what: format!("media option `{key}`"),
            fix: format!(
                "this is not a setting of {store}; use object_store configuration keys such as {examples}"
            ),
        })
}

/// The values of secret-looking environment variables under a prefix (`AWS_`).
fn env_secrets(prefix: &str) -> Vec<String> {
    std::env::vars_os()
        .filter_map(|(key, value)| Some((key.into_string().ok()?, value.into_string().ok()?)))
        .filter(|(key, _)| key.starts_with(prefix) && crate::config::is_secret_option(key))
        .map(|(_, value)| value)
        .collect()
}

/// A message with every secret value (of 4 characters or more) replaced.
fn scrub(message: &str, secrets: &[String]) -> String {
    secrets
        .iter()
        .filter(|s| s.len() >= 4)
        .fold(message.to_owned(), |m, s| {
            m.replace(s.as_str(), "<redacted>")
        })
}

/// A bucket store that reads and writes under `prefix` (the URL's path).
/// The media store, and for a bucket its multipart interface (whose upload
/// ids are kept with the rows being copied).
struct Media {
    store: Arc<dyn ObjectStore>,
    multipart: Option<Arc<dyn object_store::multipart::MultipartStore>>,
}

fn under_prefix<S: ObjectStore + object_store::multipart::MultipartStore>(
    store: S,
    prefix: object_store::path::Path,
) -> Media {
    if prefix.as_ref().is_empty() {
        let store = Arc::new(store);
        Media {
            store: store.clone(),
            multipart: Some(store),
        }
    } else {
        let store = Arc::new(object_store::prefix::PrefixStore::new(store, prefix));
        Media {
            store: store.clone(),
            multipart: Some(store),
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

/// The media folder of a configuration whose media store is a local folder.
fn media_folder(config: &ServerConfig) -> Option<std::path::PathBuf> {
    match config.media_url.as_deref() {
        None => Some(config.data_dir.join("media")),
        Some(url) if url.starts_with("file://") || !url.contains("://") => Some(
            std::path::PathBuf::from(url.strip_prefix("file://").unwrap_or(url)),
        ),
        Some(_) => None,
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
    create_api_key_expiring(config, user_id, org_id, display_name, None).await
}

/// [`create_api_key`] with an expiry: the key is refused (`401`, naming the
/// time) once `expires_in` has passed.
pub async fn create_api_key_expiring(
    config: &ServerConfig,
    user_id: &str,
    org_id: &str,
    display_name: Option<&str>,
    expires_in: Option<std::time::Duration>,
) -> Result<String, StartupError> {
    ensure_data_dir(config)?;
    let store = open_store(config).await?;
    insert_key(store.as_ref(), user_id, org_id, display_name, expires_in).await
}

/// Every API key of the server's store, oldest first (never a key or its
/// hash): what `vimport keys list` shows.
pub async fn list_api_keys(
    config: &ServerConfig,
) -> Result<Vec<crate::store::ApiKeyRecord>, StartupError> {
    ensure_data_dir(config)?;
    let store = open_store(config).await?;
    store
        .list_api_keys()
        .await
        .map_err(|e| StartupError::Database(e.to_string()))
}

/// What revoking a key did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    /// It is revoked now: every replica refuses it from its next request.
    Now,
    /// It was revoked before.
    Already,
    /// No key has that id.
    Unknown,
}

/// Revoke the API key `id` (as `vimport keys list` shows it). Every replica
/// reads keys from the database on each request, so the key is refused at
/// once everywhere.
pub async fn revoke_api_key(config: &ServerConfig, id: &str) -> Result<Revoked, StartupError> {
    ensure_data_dir(config)?;
    let store = open_store(config).await?;
    let db = |e: crate::StoreError| StartupError::Database(e.to_string());
    if store
        .revoke_api_key(id.trim(), now_ms())
        .await
        .map_err(db)?
    {
        return Ok(Revoked::Now);
    }
    let known = store
        .list_api_keys()
        .await
        .map_err(db)?
        .iter()
        .any(|k| k.id == id.trim());
    Ok(if known {
        Revoked::Already
    } else {
        Revoked::Unknown
    })
}

async fn insert_key(
    store: &dyn Store,
    user_id: &str,
    org_id: &str,
    display_name: Option<&str>,
    expires_in: Option<std::time::Duration>,
) -> Result<String, StartupError> {
    for (what, value) in [("user", user_id), ("org", org_id)] {
        if value.trim().is_empty() || value.len() > 128 || value.chars().any(char::is_control) {
            return Err(StartupError::Config {
                what: format!("{what} id `{value}`"),
                fix: "use 1 to 128 characters without control characters".into(),
            });
        }
    }
    let display_name = import_core::fields::optional_text(
        "name",
        display_name,
        import_core::fields::MAX_NAME_CHARS,
        import_core::fields::Measure::Chars,
    )
    .map_err(|e| StartupError::Config {
        what: "--name".into(),
        fix: e.to_string(),
    })?;
    let key = new_api_key();
    let key_hash = hash_api_key(&key);
    let created_at = now_ms();
    store
        .create_api_key(NewApiKey {
            id: format!("ak_{}", &key_hash[..16]),
            expires_at: expires_in.map(|d| {
                created_at.saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            }),
            key_hash,
            key_prefix: key[..11].to_owned(),
            principal: Principal {
                user_id: user_id.trim().to_owned(),
                org_id: org_id.trim().to_owned(),
                display_name: display_name.map(str::to_owned),
            },
            created_at,
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
        let policy = import_providers::EndpointPolicy::from_allowed(config.allow_endpoints.iter())
            .map_err(|e| StartupError::Config {
                what: "--allow-endpoint".into(),
                fix: e.to_string(),
            })?;
        let media = open_media(&config)?;
        reseal_legacy_secrets(store.as_ref(), &secrets).await?;
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
            let far = now_ms() + config.lease.as_millis() as i64 * 2 + 86_400_000;
            let released = store
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
        let copy_memory = crate::worker::CopyMemory::new(config.copy_memory);
        let rate = crate::http::RateLimits::new(config.requests_per_minute);
        let state = Arc::new(AppState {
            store,
            secrets,
            policy,
            media: media.store,
            media_multipart: media.multipart,
            media_folder: media_folder(&config),
            instance,
            in_flight: std::sync::atomic::AtomicUsize::new(0),
            copy_memory,
            config,
            wake: Notify::new(),
            rate,
            metrics: crate::metrics::Metrics::new(),
            sources: Arc::default(),
            media_check: tokio::sync::Mutex::new(None),
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
        let state = self.state;
        let deadline = tokio::time::Instant::now() + state.config.stop_grace;
        while state.in_flight.load(std::sync::atomic::Ordering::SeqCst) > 0
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        match state
            .store
            .hand_back_instance(&state.instance.id, now_ms())
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

/// Secrets sealed by an earlier version (no associated data) are sealed
/// again, bound to their row's id and organisation; a blob that this key
/// cannot open is left as it is (its integration must be saved again) and
/// counted in the log.
async fn reseal_legacy_secrets(store: &dyn Store, secrets: &SecretBox) -> Result<(), StartupError> {
    const PAGE: u32 = 500;
    let (mut resealed, mut unopened) = (0u64, 0u64);
    let mut after: Option<import_core::IntegrationId> = None;
    loop {
        let page = store
            .integrations_page(after.as_ref(), PAGE)
            .await
            .map_err(|e| StartupError::Database(e.to_string()))?;
        for rec in &page {
            match crate::secrets::reseal_legacy(secrets, rec) {
                Some(new) => {
                    let done = store
                        .reseal_integration(&rec.id, &rec.sealed_secrets, &new)
                        .await
                        .map_err(|e| StartupError::Database(e.to_string()))?;
                    resealed += u64::from(done);
                }
                None if crate::secrets::Secrets::open(secrets, rec).is_none() => unopened += 1,
                None => {}
            }
        }
        match page.last() {
            Some(last) if page.len() == PAGE as usize => after = Some(last.id.clone()),
            _ => break,
        }
    }
    if resealed > 0 {
        tracing::info!(
            integrations = resealed,
            "integration secrets were sealed again, bound to their rows"
        );
    }
    if unopened > 0 {
        tracing::warn!(
            integrations = unopened,
            "integration secrets that this server's key cannot open were left as they are; save those integrations again"
        );
    }
    Ok(())
}
