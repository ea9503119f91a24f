//! Reading the buckets themselves (feature `buckets`): pre-flight checks and
//! prefix expansion, opt-in steps before [`Client::upload`].
//!
//! The bucket clients are async; each call runs them on a private
//! current-thread tokio runtime that lives for that call only (on a thread
//! of its own when the caller is itself inside a tokio runtime, where a
//! nested runtime is not allowed).

use std::future::Future;

use import_core::client::{BucketFailure, ClientError};
use import_core::glob::Glob;
use import_providers::{ProviderError, expand, open_source, preflight};

pub use import_providers::{
    DEFAULT_HF_ENDPOINT, DEFAULT_PREFLIGHT_CONCURRENCY, EndpointPolicy, GcsServiceAccount,
    ObjectCheck, ObjectReport, PrefixUri, PreflightOptions, PreflightReport, S3Credentials, Secret,
    SourceConfig, split_requests,
};

use crate::{Client, CloudUri, ImportRequest, Result};

/// Run `future` to completion on a private current-thread runtime, created
/// and dropped on a thread of its own when the caller is inside a runtime.
fn block_on<F>(target: &str, future: F) -> Result<F::Output>
where
    F: Future + Send,
    F::Output: Send,
{
    let run = move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ClientError::Transport {
                url: target.to_owned(),
                message: format!("could not start the I/O runtime to read the bucket: {e}"),
            })?;
        Ok(runtime.block_on(future))
    };
    if tokio::runtime::Handle::try_current().is_err() {
        return run();
    }
    std::thread::scope(|scope| match scope.spawn(run).join() {
        Ok(output) => output,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

/// The client error for a failure of the bucket crate: what the core's
/// [`BucketFailure`] says it means for a caller.
fn client_error(err: ProviderError) -> ClientError {
    BucketFailure::from(err).into()
}

impl Client {
    /// Check every object of `request` in its bucket before uploading it:
    /// it exists, is not empty, starts with an MP4 `ftyp` box, and lies
    /// inside `prefix` (the integration's prefix, if it has one).
    ///
    /// The bucket is read directly with `source` (the same credentials the
    /// integration holds), opened through the endpoint guard `policy`;
    /// `hf_endpoint` is the Hugging Face Hub ([`DEFAULT_HF_ENDPOINT`]).
    /// Nothing is sent to the API. Refused credentials are reported once in
    /// [`PreflightReport::credentials`] and stop the checks. Errors: a
    /// `source` for another bucket than the request's, or one that cannot be
    /// opened, is [`Error::InvalidInput`](crate::Error::InvalidInput).
    ///
    /// ```no_run
    /// use import_blocking::{Client, EndpointPolicy, ImportRequest, PreflightOptions, S3Credentials, SourceConfig};
    ///
    /// let client = Client::from_env()?;
    /// let request = ImportRequest::builder().uris(["s3://drive-archive/raw/front.mp4"]).build()?;
    /// let source = SourceConfig::S3 {
    ///     bucket: "drive-archive".into(),
    ///     region: Some("us-east-1".into()),
    ///     endpoint_url: None,
    ///     credentials: Some(S3Credentials::new("AKIA...", "...")),
    /// };
    /// let report = client.preflight(
    ///     &request, &source, Some("raw/"), &PreflightOptions::default(),
    ///     &EndpointPolicy::new(), import_blocking::DEFAULT_HF_ENDPOINT,
    /// )?;
    /// if report.is_ok() {
    ///     client.upload(&request, None)?;
    /// } else {
    ///     eprintln!("{report}");
    /// }
    /// # Ok::<(), import_blocking::Error>(())
    /// ```
    pub fn preflight(
        &self,
        request: &ImportRequest,
        source: &SourceConfig,
        prefix: Option<&str>,
        options: &PreflightOptions,
        policy: &EndpointPolicy,
        hf_endpoint: &str,
    ) -> Result<PreflightReport> {
        source
            .check_serves(request.provider(), request.bucket())
            .map_err(client_error)?;
        block_on(request.bucket(), async {
            let store = import_providers::PreflightStore::open(source, policy, hf_endpoint)
                .await
                .map_err(client_error)?;
            Ok(preflight(request, store, prefix, options, |_, _| {}).await)
        })?
    }

    /// List the `.mp4` objects under `prefix_uri` (`s3://bucket/folder/`,
    /// `gs://...`, `hf://buckets/ns/name/folder/`) whose name relative to
    /// the prefix matches `glob` (every `.mp4` when `None`), sorted, as the
    /// explicit URIs the API takes; split them into requests with
    /// [`split_requests`](crate::split_requests).
    ///
    /// The bucket is read directly with `source`, as for
    /// [`Client::preflight`]. Errors: a bad URI or glob, or a `source` for
    /// another bucket, is [`Error::InvalidInput`](crate::Error::InvalidInput);
    /// a listing that kept failing is [`Error::Transport`](crate::Error::Transport).
    ///
    /// ```no_run
    /// use import_blocking::{Client, EndpointPolicy, SourceConfig};
    ///
    /// let client = Client::from_env()?;
    /// let source = SourceConfig::Hf { bucket: "acme/fleet".into(), token: None };
    /// let uris = client.expand(
    ///     "hf://buckets/acme/fleet/2024-09-01/", Some("**/front*.mp4"), &source,
    ///     &EndpointPolicy::new(), import_blocking::DEFAULT_HF_ENDPOINT,
    /// )?;
    /// println!("{} objects", uris.len());
    /// # Ok::<(), import_blocking::Error>(())
    /// ```
    pub fn expand(
        &self,
        prefix_uri: &str,
        glob: Option<&str>,
        source: &SourceConfig,
        policy: &EndpointPolicy,
        hf_endpoint: &str,
    ) -> Result<Vec<CloudUri>> {
        let prefix =
            PrefixUri::parse(prefix_uri).map_err(|e| ClientError::from(BucketFailure::from(e)))?;
        let glob = glob.map(Glob::parse).transpose()?;
        source
            .check_serves(prefix.provider(), prefix.bucket())
            .map_err(client_error)?;
        block_on(prefix_uri, async {
            let store = open_source(source, policy, hf_endpoint)
                .await
                .map_err(client_error)?;
            expand(store, prefix_uri, glob.as_ref())
                .await
                .map_err(client_error)
        })?
    }
}
