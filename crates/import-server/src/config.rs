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
    /// Media store: a folder, `file:///path`, or a bucket URL (`s3://bucket/prefix`,
    /// `gs://bucket/prefix`); default `<data_dir>/media`.
    pub media_url: Option<String>,
    /// Options of a bucket media store, as `object_store` configuration keys
    /// (`aws_endpoint`, `aws_access_key_id`, `aws_secret_access_key`, `aws_region`,
    /// `aws_allow_http`, ...). They win over the `AWS_*` (or `GOOGLE_*`)
    /// environment variables. `Debug` hides the values of secret-looking keys.
    pub media_options: Vec<(String, String)>,
    /// Objects this process copies at once (`--max-in-flight`); 0 serves
    /// the API only.
    pub max_in_flight: usize,
    /// Bytes the copies in flight may buffer together (`--copy-memory`).
    pub copy_memory: u64,
    /// `HOST:PORT`s that integrations may use even though they are local or plain HTTP.
    pub allow_endpoints: Vec<String>,
    /// The proxy every request to a source goes through (`--source-proxy`);
    /// without one, the environment's proxy variables are ignored
    /// ([`EndpointPolicy::with_proxy`](import_providers::EndpointPolicy::with_proxy)
    /// says what the guard then checks).
    pub source_proxy: Option<String>,
    /// Name servers that resolve the host names of sources
    /// (`--source-name-server`); empty: the system's (`/etc/resolv.conf`).
    /// Either way names are resolved by the providers' own async resolver
    /// ([`EndpointPolicy::with_name_servers`](import_providers::EndpointPolicy::with_name_servers)).
    pub source_name_servers: Vec<std::net::SocketAddr>,
    /// The Hugging Face Hub endpoint.
    pub hf_endpoint: String,
    /// The AEAD key for integration secrets, 64 hex characters; default: a key
    /// file in the data folder.
    pub secret_key: Option<String>,
    /// Cap on objects per import request.
    pub max_objects: usize,
    /// Cap on request body bytes.
    pub body_limit: usize,
    /// Bytes that the request bodies being read at once may hold together
    /// (`--body-memory`); at least [`body_limit`](Self::body_limit).
    pub body_memory: u64,
    /// How long a request waits for its body's part of
    /// [`body_memory`](Self::body_memory) before it is `503`
    /// (`--body-memory-wait`).
    pub body_memory_wait: Duration,
    /// How long a claimed row stays leased without a heartbeat.
    pub lease: Duration,
    /// Claims of a row before a transient failure becomes final.
    pub max_attempts: u32,
    /// First backoff after a transient failure; doubles each attempt.
    pub retry_base: Duration,
    /// Largest object imported, in bytes; a larger one fails (`too_large`)
    /// before any of its body is read.
    pub max_object_size: u64,
    /// Least average rate a source must deliver over every
    /// [`source_rate_window`](Self::source_rate_window), in bytes per second;
    /// a slower attempt stops (and is retried). 0 turns the floor off.
    pub min_source_rate: u64,
    /// The window [`min_source_rate`](Self::min_source_rate) is measured over.
    pub source_rate_window: Duration,
    /// How often stale staging files of a media folder are swept (also once
    /// at start); 5 minutes by default.
    pub staging_sweep: Duration,
    /// A server process whose heartbeat is older than this is dead: another
    /// queues its rows again (`--instance-timeout`).
    pub instance_timeout: Duration,
    /// How long a stop waits for the copies in flight before it hands their
    /// rows back.
    pub stop_grace: Duration,
    /// Longest wait for a request's whole header block (`--header-timeout`).
    pub header_timeout: Duration,
    /// Longest wait for a request's whole body (`--body-timeout`); `408`
    /// beyond.
    pub body_timeout: Duration,
    /// A connection with nothing sent or received, and no request being
    /// served, for this long is closed (`--idle-timeout`).
    pub idle_timeout: Duration,
    /// Connections open at once (`--max-connections`); one more is
    /// answered `503` and closed at once.
    pub max_connections: usize,
    /// Most connections one peer address may hold open (`--max-connections-per-peer`):
    /// `None` for a quarter of [`max_connections`](ServerConfig::max_connections),
    /// `Some(0)` for no limit (behind a load balancer).
    pub max_connections_per_peer: Option<usize>,
    /// Failed authentications a peer address may make per minute before its
    /// requests are `429` without a key lookup (`--max-failed-auth-per-minute`; 0: no limit).
    pub max_failed_auth_per_minute: u32,
    /// Largest request head (request line and headers) read
    /// (`--max-head-bytes`); `431` beyond.
    pub max_head_bytes: usize,
    /// Requests each API key may make per minute, in bursts of as many
    /// (`--requests-per-minute`); `429` beyond; 0 turns the limit off.
    pub requests_per_minute: u32,
    /// Rows an organisation may have waiting to import at once
    /// (`--max-pending-rows-per-org`); an upload past it is `429`.
    pub max_pending_rows_per_org: u64,
    /// The clock the server reads (the system's; a test moves it ahead to
    /// make expiries and retentions pass).
    pub clock: crate::Clock,
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
            .field("media_url", &self.media_url.as_deref().map(redact_url))
            .field("media_options", &RedactedOptions(&self.media_options))
            .field("max_in_flight", &self.max_in_flight)
            .field("copy_memory", &self.copy_memory)
            .field("allow_endpoints", &self.allow_endpoints)
            .field(
                "source_proxy",
                &self.source_proxy.as_deref().map(redact_url),
            )
            .field("source_name_servers", &self.source_name_servers)
            .field("hf_endpoint", &self.hf_endpoint)
            .field(
                "secret_key",
                &self.secret_key.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

/// Whether the value of a media option or of a URL's query parameter is a
/// secret (or points at one): its name, without regard to case, names a
/// secret, key, token, password however spelled (`password`, `sslpassword`,
/// `passfile`), credential or signature (`aws_secret_access_key`,
/// `aws_session_token`, ...).
pub(crate) fn is_secret_option(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["secret", "key", "token", "pass", "credential", "signature"]
        .iter()
        .any(|word| key.contains(word))
}

/// Media options for `Debug`: keys shown, secret values replaced.
struct RedactedOptions<'a>(&'a [(String, String)]);

impl std::fmt::Debug for RedactedOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(key, value)| {
                let shown = if is_secret_option(key) {
                    "<redacted>"
                } else {
                    value.as_str()
                };
                (key.as_str(), shown)
            }))
            .finish()
    }
}

/// What stands in for a hidden secret.
const REDACTED: &str = "<redacted>";

/// A URL (a database's, a media bucket's) as messages and `Debug` show it:
/// its password and every query parameter that holds a secret
/// ([`is_secret_option`]) replaced by `<redacted>`. A URL that cannot be
/// parsed is shown as its scheme only, since where its secrets are cannot be
/// told.
pub(crate) fn redact_url(url: &str) -> String {
    let Ok(mut u) = url::Url::parse(url) else {
        return match url.split_once(':') {
            Some((scheme, _))
                if !scheme.is_empty()
                    && scheme
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
            {
                format!("{scheme}:… (not shown: it cannot be parsed)")
            }
            _ => "… (not shown: it cannot be parsed)".to_owned(),
        };
    };
    if u.password().is_some() {
        let _ = u.set_password(Some(REDACTED));
    }
    if u.query().is_some() {
        let pairs: Vec<(String, String)> = u
            .query_pairs()
            .map(|(k, v)| {
                let v = if is_secret_option(&k) {
                    REDACTED.to_owned()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        u.query_pairs_mut().clear().extend_pairs(pairs);
    }
    // The query encodes `<` and `>`; the marker reads better as it is.
    u.to_string().replace("%3Credacted%3E", REDACTED)
}

/// `text` (a driver's message about `url`) with every secret of `url` (its
/// password, its secret query parameters, raw and percent-decoded) replaced
/// by `<redacted>`, and the URL itself by its redacted form; nothing of it
/// when `url` cannot be parsed.
pub(crate) fn scrub(text: &str, url: &str) -> String {
    if url::Url::parse(url).is_err() {
        // Where its secrets are cannot be told: the driver's words could
        // quote any part of it.
        return "the driver's message is not shown, as the URL cannot be parsed".to_owned();
    }
    let mut out = text.replace(url, &redact_url(url));
    let mut secrets: Vec<String> = Vec::new();
    if let Ok(u) = url::Url::parse(url) {
        if let Some(p) = u.password() {
            secrets.push(p.to_owned());
            if let Ok(decoded) = percent_encoding::percent_decode_str(p).decode_utf8() {
                secrets.push(decoded.into_owned());
            }
        }
        for (k, v) in u.query_pairs() {
            if is_secret_option(&k) {
                secrets.push(v.into_owned());
            }
        }
    }
    // Longest first, so that a secret inside another is not left half shown.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for secret in secrets.iter().filter(|s| s.len() >= 3) {
        out = out.replace(secret.as_str(), REDACTED);
    }
    out
}

/// The file a SQLite database URL names, if it names one.
fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && !path.contains(":memory:")).then(|| PathBuf::from(path))
}

impl ServerConfig {
    /// The connections one peer may hold: its setting, else a quarter of
    /// `max_connections` (at least 1); 0 for no limit.
    pub fn connections_per_peer(&self) -> usize {
        self.max_connections_per_peer
            .unwrap_or((self.max_connections / 4).max(1))
    }

    /// Defaults under a data folder, listening on
    /// [`DEFAULT_LISTEN`](import_core::fields::DEFAULT_LISTEN).
    pub fn new(data_dir: impl Into<PathBuf>) -> ServerConfig {
        ServerConfig {
            listen: import_core::fields::DEFAULT_LISTEN,
            data_dir: data_dir.into(),
            database_url: None,
            media_url: None,
            media_options: Vec::new(),
            max_in_flight: import_core::fields::DEFAULT_MAX_IN_FLIGHT,
            copy_memory: import_core::fields::DEFAULT_COPY_MEMORY,
            allow_endpoints: Vec::new(),
            source_proxy: None,
            source_name_servers: Vec::new(),
            hf_endpoint: import_providers::DEFAULT_HF_ENDPOINT.to_owned(),
            secret_key: None,
            max_objects: import_core::DEFAULT_MAX_OBJECTS,
            body_limit: import_core::routes::DEFAULT_BULK_BODY_LIMIT,
            body_memory: import_core::fields::DEFAULT_BODY_MEMORY,
            body_memory_wait: Duration::from_secs(
                import_core::fields::DEFAULT_BODY_MEMORY_WAIT_SECS,
            ),
            lease: Duration::from_secs(import_core::fields::DEFAULT_LEASE_SECS),
            max_attempts: import_core::outcome::DEFAULT_MAX_ATTEMPTS,
            retry_base: Duration::from_secs(1),
            max_object_size: import_core::fields::DEFAULT_MAX_OBJECT_SIZE,
            min_source_rate: import_core::fields::DEFAULT_MIN_SOURCE_RATE,
            source_rate_window: Duration::from_secs(
                import_core::fields::DEFAULT_SOURCE_RATE_WINDOW_SECS,
            ),
            staging_sweep: Duration::from_secs(300),
            instance_timeout: Duration::from_secs(
                import_core::fields::DEFAULT_INSTANCE_TIMEOUT_SECS,
            ),
            stop_grace: Duration::from_secs(5),
            header_timeout: Duration::from_secs(import_core::fields::DEFAULT_HEADER_TIMEOUT_SECS),
            body_timeout: Duration::from_secs(import_core::fields::DEFAULT_BODY_TIMEOUT_SECS),
            idle_timeout: Duration::from_secs(import_core::fields::DEFAULT_IDLE_TIMEOUT_SECS),
            max_connections: import_core::fields::DEFAULT_MAX_CONNECTIONS,
            max_head_bytes: import_core::fields::DEFAULT_MAX_HEAD_BYTES,
            max_connections_per_peer: None,
            max_failed_auth_per_minute: import_core::fields::DEFAULT_MAX_FAILED_AUTH_PER_MINUTE,
            requests_per_minute: import_core::fields::DEFAULT_REQUESTS_PER_MINUTE,
            max_pending_rows_per_org: import_core::fields::DEFAULT_MAX_PENDING_ROWS_PER_ORG,
            clock: crate::Clock::default(),
        }
    }

    /// The database URL in force.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("vimport.db").display()))
    }

    /// The file of the database in force when it is a SQLite file
    /// (`sqlite://PATH?...`; not an in-memory database nor PostgreSQL).
    pub(crate) fn sqlite_file(&self) -> Option<PathBuf> {
        sqlite_file(&self.database_url())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_name_their_file() {
        assert_eq!(
            sqlite_file("sqlite:///data/vimport.db?mode=rwc"),
            Some("/data/vimport.db".into())
        );
        assert_eq!(
            sqlite_file("sqlite:relative.db"),
            Some("relative.db".into())
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("sqlite://file::memory:?cache=shared"), None);
        assert_eq!(sqlite_file("postgres://db/x"), None);
    }

    #[test]
    fn debug_hides_secret_media_options_and_keeps_the_rest() {
        let mut config = ServerConfig::new("/tmp/data");
        config.media_url = Some("s3://vids/media".into());
        config.media_options = vec![
            ("aws_endpoint".into(), "http://127.0.0.1:9000".into()),
            ("aws_access_key_id".into(), "AKIDVISIBLE".into()),
            ("AWS_SECRET_ACCESS_KEY".into(), "hunter2-secret".into()),
            ("aws_session_token".into(), "tok-123".into()),
            ("aws_region".into(), "eu-west-1".into()),
        ];
        let shown = format!("{config:?}");
        for hidden in ["AKIDVISIBLE", "hunter2-secret", "tok-123"] {
            assert!(!shown.contains(hidden), "{hidden} leaked: {shown}");
        }
        for kept in [
            "aws_endpoint",
            "http://127.0.0.1:9000",
            "eu-west-1",
            "AWS_SECRET_ACCESS_KEY",
        ] {
            assert!(shown.contains(kept), "{kept} missing: {shown}");
        }
    }

    #[test]
    fn a_database_urls_password_is_hidden_however_it_is_given() {
        let cases = [
            ("postgres://ada:hunter2pw@db.internal:5432/app", "hunter2pw"),
            (
                "postgres://ada@127.0.0.1:1/db?password=hunter2pw",
                "hunter2pw",
            ),
            (
                "postgres://ada@127.0.0.1:1/db?sslmode=require&sslpassword=hunter2pw",
                "hunter2pw",
            ),
            (
                "postgres://ada@127.0.0.1:1/db?PassWord=hunter2pw&application_name=x",
                "hunter2pw",
            ),
            (
                "postgres://ada@127.0.0.1:1/db?passfile=/run/hunter2pw",
                "/run/hunter2pw",
            ),
            ("postgres://ada:hunter%32pw@127.0.0.1:1/db", "hunter2pw"),
            ("postgres://ada:hunter2pw@[::1/db", "hunter2pw"),
            ("not a url hunter2pw", "hunter2pw"),
        ];
        for (url, secret) in cases {
            let shown = redact_url(url);
            assert!(!shown.contains("hunter"), "{url} -> {shown}");
            let message = format!("error connecting to {url}: {secret} refused");
            let scrubbed = scrub(&message, url);
            assert!(!scrubbed.contains("hunter"), "{url} -> {scrubbed}");
        }
        // What is not secret stays, so the message still says which database.
        let shown = redact_url("postgres://ada@db.internal:5432/app?password=x&sslmode=require");
        assert_eq!(
            shown,
            "postgres://ada@db.internal:5432/app?password=<redacted>&sslmode=require"
        );
        assert_eq!(
            redact_url("sqlite:///var/lib/vimport/vimport.db"),
            "sqlite:///var/lib/vimport/vimport.db"
        );
        assert!(redact_url("postgres://a:b@[::1/db").starts_with("postgres:… (not shown"));
    }

    #[test]
    fn secret_option_names() {
        for key in [
            "aws_secret_access_key",
            "AWS_SESSION_TOKEN",
            "aws_access_key_id",
            "db_password",
            "google_service_account_key",
            "sslpassword",
            "passfile",
        ] {
            assert!(is_secret_option(key), "{key}");
        }
        for key in [
            "aws_endpoint",
            "aws_region",
            "aws_allow_http",
            "aws_virtual_hosted_style_request",
        ] {
            assert!(!is_secret_option(key), "{key}");
        }
    }
}
