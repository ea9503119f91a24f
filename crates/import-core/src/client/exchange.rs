//! One request with its retries, as a state machine the clients drive.

use std::time::Duration;

use http::StatusCode;

use crate::api::ApiRequest;
use crate::error::Error;
use crate::retry::RetryPolicy;

use super::{ClientConfig, ClientError};

/// How a request failed before an answer arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendFailure {
    /// No answer within the timeout.
    Timeout,
    /// The connection was refused, reset or closed.
    Connect(String),
    /// Any other transport failure.
    Transport(String),
}

/// What the transport does next in an [`Exchange`].
#[derive(Debug)]
#[must_use]
pub enum ExchangeStep<T> {
    /// The exchange is over.
    Done(Result<T, ClientError>),
    /// Sleep this long, then send [`Exchange::http_request`] again.
    Retry(Duration),
}

/// One request with its retries, as a state machine: the transport sends
/// [`Exchange::http_request`], feeds the answer or the failure back, and sleeps
/// when told. Mutating requests carry the same `Idempotency-Key` on every try,
/// so a retried POST never does the work twice.
///
/// ```
/// use std::time::SystemTime;
/// use http::{HeaderMap, StatusCode};
/// use import_core::client::{ClientConfigBuilder, Exchange, ExchangeStep};
///
/// let config = ClientConfigBuilder::default().api_key("vk_1").base_url("http://127.0.0.1:8080").build()?;
/// let mut ex = Exchange::new(import_core::api::verify_auth(), &config, Some("key-1".into()), 7)?;
/// assert_eq!(ex.http_request().headers()["idempotency-key"], "key-1");
/// assert_eq!(ex.http_request().headers()["x-request-id"], "key-1");
/// let mut busy = HeaderMap::new();
/// busy.insert("retry-after", "1".parse().unwrap());
/// let step = ex.handle_response(StatusCode::SERVICE_UNAVAILABLE, &busy, b"", SystemTime::now());
/// assert!(matches!(step, ExchangeStep::Retry(d) if d.as_secs() >= 1));
/// let body = br#"{"valid":true,"user_id":"u","org_id":"o"}"#;
/// let ExchangeStep::Done(Ok(v)) = ex.handle_response(StatusCode::OK, &HeaderMap::new(), body, SystemTime::now()) else { panic!() };
/// assert!(v.valid);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Exchange<T> {
    request: ApiRequest<T>,
    http: http::Request<Vec<u8>>,
    url: String,
    /// The path of the configured base URL (`api` for `https://host/api/`).
    base_path: String,
    timeout: Duration,
    policy: RetryPolicy,
    state: crate::retry::RetryState,
}

/// The path of a base URL after its host, without slashes at either end
/// (`api` for `https://host:8080/api/`; empty for `https://host`).
fn base_path(base_url: &str) -> String {
    let after_scheme = base_url
        .split_once("://")
        .map_or(base_url, |(_, rest)| rest);
    let path = after_scheme.split_once('/').map_or("", |(_, path)| path);
    let path = path.split(['?', '#']).next().unwrap_or_default();
    path.trim_matches('/').to_owned()
}

impl<T: serde::de::DeserializeOwned> Exchange<T> {
    /// Prepare a request: the key (pass a fresh random one per logical
    /// request) is its `X-Request-ID` on every try, so the server's log
    /// lines of one request and its retries share it, and its
    /// `Idempotency-Key` when the method takes one; `seed` seeds the
    /// backoff jitter.
    pub fn new(
        request: ApiRequest<T>,
        config: &ClientConfig,
        request_key: Option<String>,
        seed: u64,
    ) -> Result<Exchange<T>, ClientError> {
        let request_id = request_key.clone();
        let request = match request_key {
            Some(key) if request.wants_idempotency_key() => request.with_idempotency_key(key)?,
            _ => request,
        };
        let url = request.url(&config.base_url);
        let mut builder = http::Request::builder()
            .method(request.method().clone())
            .uri(&url);
        for (name, value) in request.headers(&config.api_key, &config.user_agent)?.iter() {
            builder = builder.header(name, value);
        }
        if let Some(id) = request_id
            .as_deref()
            .and_then(|k| http::HeaderValue::from_str(k).ok())
        {
            builder = builder.header(crate::api::REQUEST_ID_HEADER, id);
        }
        let http = builder
            .body(request.body().map(<[u8]>::to_vec).unwrap_or_default())
            .map_err(|e| {
                ClientError::InvalidInput(Error::InvalidField {
                    field: "base_url",
                    problem: format!("`{url}` is not a valid request URL: {e}"),
                })
            })?;
        let base_path = base_path(&config.base_url);
        Ok(Exchange {
            request,
            http,
            url,
            base_path,
            timeout: config.timeout,
            policy: config.retry.clone(),
            state: crate::retry::RetryState::new(seed),
        })
    }

    /// The request to send (the same on every try).
    pub fn http_request(&self) -> &http::Request<Vec<u8>> {
        &self.http
    }

    /// The URL requested.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Feed an answer: done, or retry after a pause (`429`, `503` with
    /// `Retry-After`, ...).
    pub fn handle_response(
        &mut self,
        status: StatusCode,
        headers: &http::HeaderMap,
        body: &[u8],
        now: std::time::SystemTime,
    ) -> ExchangeStep<T> {
        if !status.is_success() {
            let retry_after = headers
                .get(http::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok());
            let outcome = crate::retry::Outcome::Status {
                status,
                retry_after,
            };
            if let crate::retry::Decision::Retry { after } =
                self.policy
                    .decide(&mut self.state, self.request.is_idempotent(), outcome, now)
            {
                return ExchangeStep::Retry(after);
            }
        }
        ExchangeStep::Done(self.request.decode(status, headers, body).map_err(|e| {
            match e {
                // A base URL ending in `/api` (`https://host/api`) puts every
                // route, which starts with `/api/`, under `/api/api/`: the
                // server answers 404 to all of them.
                crate::AnswerError::NotFound { detail }
                    if self.base_path == "api" || self.base_path.ends_with("/api") =>
                {
                    crate::AnswerError::NotFound {
                        detail: format!(
                            "{detail}; the base URL ends with `/{}`, and every route already starts with `/api/`: give the server's address without it (VIMPORT_BASE_URL or --base-url)",
                            self.base_path
                        ),
                    }
                    .into()
                }
                other => other.into(),
            }
        }))
    }

    /// Feed a transport failure: done with the error, or retry after a pause.
    pub fn handle_failure(
        &mut self,
        failure: SendFailure,
        now: std::time::SystemTime,
    ) -> ExchangeStep<T> {
        let outcome = match failure {
            SendFailure::Timeout => crate::retry::Outcome::Timeout,
            SendFailure::Connect(_) => crate::retry::Outcome::Connect,
            SendFailure::Transport(_) => crate::retry::Outcome::Transport,
        };
        if let crate::retry::Decision::Retry { after } =
            self.policy
                .decide(&mut self.state, self.request.is_idempotent(), outcome, now)
        {
            return ExchangeStep::Retry(after);
        }
        ExchangeStep::Done(Err(match failure {
            SendFailure::Timeout => ClientError::Timeout {
                url: self.url.clone(),
                after: self.timeout,
            },
            SendFailure::Connect(message) | SendFailure::Transport(message) => {
                ClientError::Transport {
                    url: self.url.clone(),
                    message: super::error::describe_transport(&message),
                }
            }
        }))
    }
}

#[cfg(test)]
mod base_path_tests {
    #[test]
    fn the_path_of_a_base_url_is_what_follows_its_host() {
        assert_eq!(super::base_path("https://api.example.com"), "");
        assert_eq!(super::base_path("https://api.example.com/"), "");
        assert_eq!(super::base_path("http://127.0.0.1:8080/api/"), "api");
        assert_eq!(super::base_path("http://h/v1/api?x=1"), "v1/api");
    }
}
