//! Server configuration.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Everything the operator can set. [`ServerConfig::new`] gives the defaults:
/// one SQLite file and a media folder under the data folder.
#[derive(Clone)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Folder for the database, the media and the secret key file.
    pub data_dir: PathBuf,
    /// Database URL; default `sqlite://<data_dir>/vimport.db`.
    pub database_url: Option<String>,
    /// Media store URL (any `object_store` URL); default `<data_dir>/media`.
    pub media_url: Option<String>,
    /// Options of the media store (endpoint, keys) for bucket URLs.
    pub media_options: Vec<(String, String)>,
    /// Import workers in this process.
    pub workers: usize,
    /// `HOST:PORT`s that integrations may use even though they are local or plain HTTP.
    pub allow_endpoints: Vec<String>,
    /// The Hugging Face Hub endpoint.
    pub hf_endpoint: String,
    /// The AEAD key for integration secrets, 64 hex characters; default: a key
    /// file in the data folder.
    pub secret_key: Option<String>,
    /// Cap on objects per import request.
    pub max_objects: usize,
    /// Cap on request body bytes.
    pub body_limit: usize,
    /// How long a claimed row stays leased without a heartbeat.
    pub lease: Duration,
    /// Claims of a row before a transient failure becomes final.
    pub max_attempts: u32,
    /// First backoff after a transient failure; doubles each attempt.
    pub retry_base: Duration,
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field(
                "database_url",
                &self.database_url.as_deref().map(redact_url),
            )
            .field("media_url", &self.media_url)
            .field("workers", &self.workers)
            .field("allow_endpoints", &self.allow_endpoints)
            .field("hf_endpoint", &self.hf_endpoint)
            .field(
                "secret_key",
                &self.secret_key.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

/// A URL with its password hidden.
pub(crate) fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("<redacted>"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

impl ServerConfig {
    /// Defaults under a data folder, listening on `127.0.0.1:8080`.
    pub fn new(data_dir: impl Into<PathBuf>) -> ServerConfig {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: data_dir.into(),
            database_url: None,
            media_url: None,
            media_options: Vec::new(),
            workers: 4,
            allow_endpoints: Vec::new(),
            hf_endpoint: "https://huggingface.co".to_owned(),
            secret_key: None,
            max_objects: import_core::DEFAULT_MAX_OBJECTS,
            body_limit: 64 * 1024 * 1024,
            lease: Duration::from_secs(60),
            max_attempts: 5,
            retry_base: Duration::from_secs(1),
        }
    }

    /// The database URL in force.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("vimport.db").display()))
    }
}
