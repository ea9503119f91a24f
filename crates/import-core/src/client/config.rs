//! Client configuration: base URL, API key, timeout, user agent, retries,
//! from code or from the `VIMPORT_*` environment.

use std::time::Duration;

use crate::api::ApiKey;
use crate::error::Error;
use crate::retry::RetryPolicy;

use super::ClientError;

/// The hosted API's base URL, the default of every client.
pub const DEFAULT_BASE_URL: &str = "https://api-prod.nomadicml.com";
/// Environment variable holding the API key.
pub const ENV_API_KEY: &str = "VIMPORT_API_KEY";
/// Environment variable holding the base URL.
pub const ENV_BASE_URL: &str = "VIMPORT_BASE_URL";
/// Environment variable holding the request timeout in seconds.
pub const ENV_TIMEOUT_SECS: &str = "VIMPORT_TIMEOUT_SECS";
/// Default timeout of one HTTP request.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The `User-Agent` clients send by default.
pub fn default_user_agent() -> String {
    format!("import-rs/{}", env!("CARGO_PKG_VERSION"))
}

/// Everything a client needs to talk to the API.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The API key (redacted in `Debug`).
    pub api_key: ApiKey,
    /// Base URL without a trailing `/`.
    pub base_url: String,
    /// Timeout of one HTTP request.
    pub timeout: Duration,
    /// `User-Agent` header.
    pub user_agent: String,
    /// Which failures are retried.
    pub retry: RetryPolicy,
}

/// Builds a [`ClientConfig`]; [`ClientConfigBuilder::build`] validates.
///
/// ```
/// use import_core::client::ClientConfigBuilder;
///
/// let config = ClientConfigBuilder::default()
///     .api_key("vk_0123")
///     .base_url("http://127.0.0.1:8080/")
///     .build()?;
/// assert_eq!(config.base_url, "http://127.0.0.1:8080");
///
/// let env = |name: &str| (name == "VIMPORT_API_KEY").then(|| "vk_env".to_owned());
/// let from_env = ClientConfigBuilder::from_lookup(env)?.build()?;
/// assert_eq!(from_env.api_key.expose(), "vk_env");
/// # Ok::<(), import_core::Error>(())
/// ```
/// `Debug` never shows the API key.
#[derive(Clone, Default)]
#[must_use]
pub struct ClientConfigBuilder {
    api_key: Option<String>,
    base_url: Option<String>,
    timeout: Option<Duration>,
    user_agent: Option<String>,
    retry: Option<RetryPolicy>,
}

impl std::fmt::Debug for ClientConfigBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfigBuilder")
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("base_url", &self.base_url)
            .field("timeout", &self.timeout)
            .field("user_agent", &self.user_agent)
            .field("retry", &self.retry)
            .finish()
    }
}

impl ClientConfigBuilder {
    /// Start from environment-style variables: `VIMPORT_API_KEY` (required by
    /// `build`), `VIMPORT_BASE_URL`, `VIMPORT_TIMEOUT_SECS`. `lookup` is
    /// `|name| std::env::var(name).ok()` in the clients.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let mut b = ClientConfigBuilder {
            api_key: lookup(ENV_API_KEY),
            base_url: lookup(ENV_BASE_URL).filter(|u| !u.trim().is_empty()),
            ..ClientConfigBuilder::default()
        };
        if let Some(raw) = lookup(ENV_TIMEOUT_SECS).filter(|t| !t.trim().is_empty()) {
            let secs: f64 = raw
                .trim()
                .parse()
                .ok()
                .filter(|s: &f64| *s > 0.0 && s.is_finite())
                .ok_or_else(|| Error::InvalidField {
                    field: "VIMPORT_TIMEOUT_SECS",
                    problem: format!("must be a positive number of seconds, got `{raw}`"),
                })?;
            b.timeout = Some(Duration::from_secs_f64(secs));
        }
        Ok(b)
    }

    /// The API key.
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// The base URL (default: the hosted API).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// Timeout of one HTTP request (default 60 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// `User-Agent` (default `import-rs/<version>`).
    pub fn user_agent(mut self, ua: impl Into<String>) -> Self {
        self.user_agent = Some(ua.into());
        self
    }

    /// Retry policy (default [`RetryPolicy::default`]).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// Validate and build.
    pub fn build(self) -> Result<ClientConfig, Error> {
        let Some(key) = self.api_key else {
            return Err(Error::InvalidField {
                field: "api_key",
                problem: format!("is missing: pass it to the builder or set {ENV_API_KEY}"),
            });
        };
        let base = self.base_url.unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
        let base = base.trim().trim_end_matches('/').to_owned();
        let scheme_ok = base.starts_with("https://") || base.starts_with("http://");
        if !scheme_ok || base.len() <= "https://".len() || base.contains(char::is_whitespace) {
            return Err(Error::InvalidField {
                field: "base_url",
                problem: format!(
                    "`{base}` is not an http(s) URL; use for example `https://api.example.com` or `http://127.0.0.1:8080`"
                ),
            });
        }
        let timeout = self.timeout.unwrap_or(DEFAULT_TIMEOUT);
        if timeout.is_zero() {
            return Err(Error::InvalidField {
                field: "timeout",
                problem: "must be longer than zero".to_owned(),
            });
        }
        Ok(ClientConfig {
            api_key: ApiKey::new(key)?,
            base_url: base,
            timeout,
            user_agent: self.user_agent.unwrap_or_else(default_user_agent),
            retry: self.retry.unwrap_or_default(),
        })
    }
}

/// A client that can be made from a [`ClientConfig`] (the blocking and the
/// async client).
pub trait FromConfig: Sized {
    /// Make the client.
    fn from_config(config: ClientConfig) -> Result<Self, ClientError>;
}

/// The builder of a client `C`: the settings of [`ClientConfigBuilder`], then
/// `build()` makes the client.
#[derive(Debug, Clone)]
#[must_use]
pub struct ClientBuilder<C> {
    inner: ClientConfigBuilder,
    client: std::marker::PhantomData<fn() -> C>,
}

impl<C> Default for ClientBuilder<C> {
    fn default() -> Self {
        ClientBuilder {
            inner: ClientConfigBuilder::default(),
            client: std::marker::PhantomData,
        }
    }
}

impl<C: FromConfig> ClientBuilder<C> {
    /// Start from `VIMPORT_API_KEY`, `VIMPORT_BASE_URL` and `VIMPORT_TIMEOUT_SECS`
    /// as `lookup` answers them.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ClientError> {
        Ok(ClientBuilder {
            inner: ClientConfigBuilder::from_lookup(lookup)?,
            client: std::marker::PhantomData,
        })
    }

    fn map(self, f: impl FnOnce(ClientConfigBuilder) -> ClientConfigBuilder) -> Self {
        ClientBuilder {
            inner: f(self.inner),
            client: self.client,
        }
    }

    /// The API key.
    pub fn api_key(self, key: impl Into<String>) -> Self {
        self.map(|b| b.api_key(key))
    }

    /// The base URL (default: the hosted API).
    pub fn base_url(self, url: impl Into<String>) -> Self {
        self.map(|b| b.base_url(url))
    }

    /// Timeout of one HTTP request (default 60 s).
    pub fn timeout(self, timeout: Duration) -> Self {
        self.map(|b| b.timeout(timeout))
    }

    /// `User-Agent` (default `import-rs/<version>`).
    pub fn user_agent(self, ua: impl Into<String>) -> Self {
        self.map(|b| b.user_agent(ua))
    }

    /// Retry policy (default: 4 retries of idempotent requests with backoff).
    pub fn retry_policy(self, policy: RetryPolicy) -> Self {
        self.map(|b| b.retry_policy(policy))
    }

    /// Validate and make the client.
    pub fn build(self) -> Result<C, ClientError> {
        C::from_config(self.inner.build()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders_never_show_the_key() {
        let builder = ClientConfigBuilder::default().api_key("vk_secret_123");
        let shown = format!("{builder:?}");
        assert!(!shown.contains("vk_secret_123"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
        let config = builder.build().unwrap();
        assert!(!format!("{config:?}").contains("vk_secret_123"));
    }

    #[test]
    fn config_checks() {
        let err = ClientConfigBuilder::default().build().unwrap_err();
        assert!(err.to_string().contains("VIMPORT_API_KEY"), "{err}");
        let err = ClientConfigBuilder::default()
            .api_key("k")
            .base_url("ftp://x")
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("not an http(s) URL"), "{err}");
        let c = ClientConfigBuilder::default().api_key("k").build().unwrap();
        assert_eq!(c.base_url, DEFAULT_BASE_URL);
        assert_eq!(c.timeout, DEFAULT_TIMEOUT);
        assert!(c.user_agent.starts_with("import-rs/"));
        let env = |n: &str| match n {
            ENV_API_KEY => Some("k".to_owned()),
            ENV_TIMEOUT_SECS => Some("abc".to_owned()),
            _ => None,
        };
        assert!(
            ClientConfigBuilder::from_lookup(env)
                .unwrap_err()
                .to_string()
                .contains("VIMPORT_TIMEOUT_SECS")
        );
        assert!(!format!("{c:?}").contains("\"k\""));
    }
}
