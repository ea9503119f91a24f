//! Opening a source bucket as an [`ObjectStore`]: the one place that
//! configures each cloud's client.

use std::sync::Arc;
use std::time::Duration;

use object_store::aws::AmazonS3Builder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, RetryConfig};

use crate::checksum::{DeclaredChecksums, HeaderDialect};
use crate::config::SourceConfig;
use crate::endpoint::{EndpointPolicy, check_source};
use crate::error::{ProviderError, scrub};
use crate::hf::HfBucketStore;

/// Time allowed to establish a connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Time allowed between two reads on a connection (waiting for the answer,
/// or for the next bytes of a body) before the request counts as stalled.
///
/// There is deliberately no limit on a whole request: `object_store`'s
/// request timeout runs until the body has been read completely, so any
/// fixed limit would cut the stream of a large video. A stalled transfer is
/// caught by this per-read limit instead, and `object_store` resumes an
/// interrupted body stream from where it stopped (a ranged request checked
/// against the object's ETag).
pub const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// `User-Agent` of every request to a bucket.
pub const USER_AGENT: &str = concat!("import-providers/", env!("CARGO_PKG_VERSION"));

/// The HTTP client options of every store opened by [`open_source`]:
/// [`CONNECT_TIMEOUT`], [`READ_TIMEOUT`], no whole-request limit, this
/// crate's `User-Agent`, and host names resolved through the endpoint
/// guard of `policy` (a name that resolves to a private address at connect
/// time is refused, which defeats DNS rebinding).
pub fn client_options(policy: &EndpointPolicy) -> ClientOptions {
    ClientOptions::new()
        .with_connect_timeout(CONNECT_TIMEOUT)
        .with_read_timeout(READ_TIMEOUT)
        .with_timeout_disabled()
        .with_user_agent(object_store::HeaderValue::from_static(USER_AGENT))
        .with_dns_resolver(policy.resolver(&[]))
}

/// The HTTP client of the S3 and GCS stores, built here instead of by
/// `object_store` so that it reads at most [`MAX_ERROR_BODY`] bytes of an
/// error answer and follows **no redirect**: a bucket endpoint that
/// answers `3xx` gets an error that says what to fix (see
/// [`crate::classify`]), and a redirect can never carry a request to an
/// address the endpoint guard did not see. Otherwise as `object_store` would
/// build it from [`client_options`]: the guarded resolver, the timeouts, this
/// crate's `User-Agent`, no transparent decompression, `https` only unless
/// the options allow `http`.
///
/// Every successful answer also carries the [`DeclaredChecksums`] its
/// headers name, in its extensions (`GetResult::extensions`).
#[derive(Debug)]
struct GuardedConnector {
    resolver: Arc<crate::endpoint::GuardedResolver>,
    /// The policy's proxy rule ([`EndpointPolicy::proxied`]).
    policy: EndpointPolicy,
    dialect: HeaderDialect,
}

impl object_store::client::HttpConnector for GuardedConnector {
    fn connect(
        &self,
        options: &ClientOptions,
    ) -> object_store::Result<object_store::client::HttpClient> {
        let allow_http = options
            .get_config_value(&object_store::ClientConfigKey::AllowHttp)
            .is_some_and(|v| v == "true");
        let http_error = |e: reqwest::Error| object_store::Error::Generic {
            store: "HTTP",
            source: Box::new(e),
        };
        let builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(self.resolver.clone())
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(READ_TIMEOUT)
            .user_agent(USER_AGENT)
            .https_only(!allow_http);
        let client = self
            .policy
            .proxied(builder)
            .and_then(reqwest::ClientBuilder::build)
            .map_err(http_error)?;
        Ok(object_store::client::HttpClient::new(BoundedErrorBodies {
            client,
            dialect: self.dialect,
        }))
    }
}

/// Most bytes of an error answer's body that are read (`object_store` reads
/// the whole body of a failed request into its error message); the rest is
/// dropped with the connection.
pub const MAX_ERROR_BODY: usize = 64 * 1024;

/// The HTTP service of [`GuardedConnector`]: reqwest, with the body of every
/// answer that is not a success cut at [`MAX_ERROR_BODY`] bytes, and the
/// checksums of every successful one read into its extensions.
#[derive(Debug)]
struct BoundedErrorBodies {
    client: reqwest::Client,
    dialect: HeaderDialect,
}

#[async_trait::async_trait]
impl object_store::client::HttpService for BoundedErrorBodies {
    async fn call(
        &self,
        req: object_store::client::HttpRequest,
    ) -> Result<object_store::client::HttpResponse, object_store::client::HttpError> {
        use futures::StreamExt;
        let mut res = object_store::client::HttpService::call(&self.client, req).await?;
        if res.status().is_success() {
            let declared = DeclaredChecksums::from_headers(self.dialect, res.headers());
            res.extensions_mut().insert(declared);
            return Ok(res);
        }
        let (parts, body) = res.into_parts();
        let mut stream = body.bytes_stream();
        let mut kept = Vec::new();
        while kept.len() < MAX_ERROR_BODY {
            match stream.next().await {
                Some(Ok(chunk)) => {
                    let take = (MAX_ERROR_BODY - kept.len()).min(chunk.len());
                    kept.extend_from_slice(&chunk[..take]);
                }
                Some(Err(_)) | None => break,
            }
        }
        Ok(object_store::client::HttpResponse::from_parts(
            parts,
            kept.into(),
        ))
    }
}

/// The retry configuration of every store opened by [`open_source`].
///
/// `object_store` retries by itself: 5xx answers, connection errors, dropped
/// connections, timeouts of read-only requests, and interrupted body streams
/// (resumed from the last byte received). This keeps that modest (4 retries,
/// backoff from 200 ms up to 10 s, at most 2 minutes of retrying per
/// request): the server retries a failed row again later anyway, so a
/// source that is down should fail the attempt rather than hold a worker.
pub fn retry_config() -> RetryConfig {
    RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
            base: 2.0,
        },
        max_retries: 4,
        retry_timeout: Duration::from_secs(120),
    }
}

/// Open a source bucket for reading.
///
/// Validates the configuration and checks its endpoints against `policy`
/// ([`check_source`]) first, then builds the store:
///
/// - S3: path-style requests to `endpoint_url` when one is given (region
///   `"auto"` unless set), plain `http` only for an endpoint the policy
///   allows; static keys (and session token), or unsigned requests when no
///   credentials are given (public buckets).
/// - GCS: the service-account key; a key with `gcs_base_url` and
///   `disable_oauth` (the local emulator recipe) is honoured. Requests are
///   never unsigned: that mode falls back to the cloud metadata service.
/// - Hugging Face: an [`HfBucketStore`] on the Hub at `hf_endpoint`
///   (operator configuration, [`DEFAULT_HF_ENDPOINT`](crate::DEFAULT_HF_ENDPOINT)
///   in production).
///
/// Nothing is sent to the bucket here: a wrong key shows on the first read.
///
/// ```no_run
/// use import_providers::{classify, open_source, EndpointPolicy, S3Credentials, SourceConfig};
/// use object_store::{path::Path, ObjectStoreExt};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let config = SourceConfig::S3 {
///     bucket: "drive-archive".into(),
///     region: Some("us-east-1".into()),
///     endpoint_url: None,
///     credentials: Some(S3Credentials::new("AKIA...", "...")),
/// };
/// let store = open_source(&config, &EndpointPolicy::new(), "https://huggingface.co").await?;
/// match store.head(&Path::parse("trip-042/front.mp4")?).await {
///     Ok(meta) => println!("{} bytes", meta.size),
///     Err(err) => {
///         let failure = classify(&err);
///         println!("{:?}: {}", failure.kind, failure.message);
///     }
/// }
/// # Ok(()) }
/// ```
pub async fn open_source(
    config: &SourceConfig,
    policy: &EndpointPolicy,
    hf_endpoint: &str,
) -> Result<Arc<dyn ObjectStore>, ProviderError> {
    check_source(config, policy).await?;
    let secrets = config.secrets();
    let store_error = |e: object_store::Error| {
        ProviderError::Store(format!(
            "the storage client could not be configured: {}",
            scrub(&e.to_string(), &secrets)
        ))
    };
    match config {
        SourceConfig::S3 {
            bucket,
            credentials,
            ..
        } => {
            let region = config.s3_region()?.unwrap_or_else(|| "auto".to_owned());
            // Ask for the object's checksums (`x-amz-checksum-*`) with every
            // GET and HEAD; the header is signed with the request.
            let mut checksum_mode = reqwest::header::HeaderMap::new();
            checksum_mode.insert(
                "x-amz-checksum-mode",
                reqwest::header::HeaderValue::from_static("ENABLED"),
            );
            let mut builder = AmazonS3Builder::new()
                .with_client_options(client_options(policy).with_default_headers(checksum_mode))
                .with_http_connector(GuardedConnector {
                    resolver: policy.resolver(&[]),
                    policy: policy.clone(),
                    dialect: HeaderDialect::S3,
                })
                .with_retry(retry_config())
                .with_bucket_name(bucket)
                .with_region(region);
            if let Some(endpoint) = config.s3_endpoint_url() {
                let endpoint = endpoint.trim().trim_end_matches('/');
                // check_source let an http endpoint through only when allowed.
                let http = endpoint
                    .get(..7)
                    .is_some_and(|s| s.eq_ignore_ascii_case("http://"));
                builder = builder
                    .with_endpoint(endpoint)
                    .with_virtual_hosted_style_request(false)
                    .with_allow_http(http);
            }
            builder = match credentials {
                Some(creds) => {
                    let mut b = builder
                        .with_access_key_id(creds.access_key_id.trim())
                        .with_secret_access_key(creds.secret_access_key.expose());
                    if let Some(token) = &creds.session_token {
                        b = b.with_token(token.expose());
                    }
                    b
                }
                None => builder.with_skip_signature(true),
            };
            Ok(Arc::new(builder.build().map_err(store_error)?))
        }
        SourceConfig::Gcs {
            bucket,
            service_account,
        } => {
            let http = service_account
                .gcs_base_url()
                .and_then(|u| u.get(..7))
                .is_some_and(|s| s.eq_ignore_ascii_case("http://"));
            let options = client_options(policy).with_allow_http(http);
            let store = GoogleCloudStorageBuilder::new()
                .with_client_options(options)
                .with_http_connector(GuardedConnector {
                    resolver: policy.resolver(&[]),
                    policy: policy.clone(),
                    dialect: HeaderDialect::Gcs,
                })
                .with_retry(retry_config())
                .with_bucket_name(bucket)
                .with_service_account_key(service_account.expose_json())
                .build()
                .map_err(store_error)?;
            Ok(Arc::new(store))
        }
        SourceConfig::Hf { bucket, token } => Ok(Arc::new(HfBucketStore::new(
            hf_endpoint,
            bucket,
            token.clone(),
            policy,
        )?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{GcsServiceAccount, S3Credentials, Secret};

    #[tokio::test]
    async fn opening_checks_the_endpoint_first() {
        let config = SourceConfig::S3 {
            bucket: "vids".into(),
            region: None,
            endpoint_url: Some("http://127.0.0.1:9".into()),
            credentials: Some(S3Credentials::new("AK", "very-secret-key")),
        };
        let err = open_source(&config, &EndpointPolicy::new(), "https://hub.example")
            .await
            .unwrap_err();
        assert!(
            matches!(err, ProviderError::ForbiddenEndpoint { .. }),
            "{err}"
        );
        let policy = EndpointPolicy::from_allowed(["127.0.0.1:9"]).unwrap();
        let store = open_source(&config, &policy, "https://hub.example")
            .await
            .unwrap();
        assert!(!format!("{store:?} {store}").contains("very-secret-key"));
    }

    #[tokio::test]
    async fn every_provider_opens_without_network() {
        let policy = EndpointPolicy::from_allowed(["127.0.0.1:4443"]).unwrap();
        let gcs = SourceConfig::Gcs {
            bucket: "fleet-videos".into(),
            service_account: GcsServiceAccount::from_json(
                r#"{"gcs_base_url": "http://127.0.0.1:4443", "disable_oauth": true}"#,
            )
            .unwrap(),
        };
        open_source(&gcs, &policy, "https://hub.example")
            .await
            .unwrap();
        let hf = SourceConfig::Hf {
            bucket: "acme/fleet".into(),
            token: Some(Secret::new("hf_token_value")),
        };
        let store = open_source(&hf, &policy, "https://hub.example")
            .await
            .unwrap();
        assert!(!format!("{store:?}").contains("hf_token_value"));
        let public = SourceConfig::S3 {
            bucket: "open-drives".into(),
            region: Some("us-west-2".into()),
            endpoint_url: None,
            credentials: None,
        };
        open_source(&public, &policy, "https://hub.example")
            .await
            .unwrap();
    }
}
