//! What the blocking and async clients share: configuration, the error type,
//! the exchange (one request with its retries), the upload flow (folder by
//! name, GCS integration candidates), credential parsing and the integration
//! bodies. The clients only move bytes and sleep.
//!
//! ```
//! use import_core::client::{ClientConfigBuilder, UploadFlow, UploadStep};
//! use import_core::ImportRequest;
//!
//! let config = ClientConfigBuilder::default().api_key("vk_1").build()?;
//! assert_eq!(config.base_url, import_core::client::DEFAULT_BASE_URL);
//! let request = ImportRequest::builder().uri("s3://bkt/a.mp4").build()?;
//! let mut flow = UploadFlow::new(request, None)?;
//! assert!(matches!(flow.poll()?, UploadStep::Upload(_)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod bodies;
mod config;
mod credentials;
mod error;
mod exchange;
mod upload;

pub use bodies::{
    filter_integrations, gcs_integration, gcs_integration_value, hf_integration, s3_integration,
};
pub use config::{
    ClientBuilder, ClientConfig, ClientConfigBuilder, DEFAULT_BASE_URL, DEFAULT_TIMEOUT,
    ENV_API_KEY, ENV_BASE_URL, ENV_TIMEOUT_SECS, FromConfig, default_user_agent,
};
pub use credentials::{GcsKey, S3Keys};
pub use error::{BucketFailure, ClientError, describe_transport, error_chain};
pub use exchange::{Exchange, ExchangeStep, SendFailure};
pub use upload::{DEFAULT_WAIT_TIMEOUT, UploadFlow, UploadStep, WaitOptions};
