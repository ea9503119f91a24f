//! Reading the buckets themselves (feature `buckets`): pre-flight checks and
//! prefix expansion, opt-in steps before [`Client::upload`].

use import_core::client::{BucketFailure, ClientError};
use import_core::glob::Glob;
use import_providers::{ProviderError, expand, open_source, preflight};

pub use import_providers::{
    DEFAULT_HF_ENDPOINT, DEFAULT_PREFLIGHT_CONCURRENCY, EndpointPolicy, GcsServiceAccount,
    ObjectCheck, ObjectReport, PrefixUri, PreflightOptions, PreflightReport, S3Credentials, Secret,
    SourceConfig, split_requests,
};

use crate::{Client, CloudUri, ImportRequest, Result};

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
    /// # async fn run() -> Result<(), import_async::Error> {
    /// use import_async::{Client, EndpointPolicy, ImportRequest, PreflightOptions, S3Credentials, SourceConfig};
    ///
    /// let client = Client::from_env()?;
    /// let request = ImportRequest::builder().uris(["s3://drive-archive/raw/front.mp4"]).build()?;
    /// let source = SourceConfig::S3 {
    ///     bucket: "drive-archive".into(),
    ///     region: Some("us-east-1".into()),
    ///     endpoint_url: None,
    ///     credentials: Some(S3Credentials::new("AKIA...", "...")),
    /// };
    /// let report = client
    ///     .preflight(&request, &source, Some("raw/"), &PreflightOptions::default(), &EndpointPolicy::new(), import_async::DEFAULT_HF_ENDPOINT)
    ///     .await?;
    /// if report.is_ok() {
    ///     client.upload(&request, None).await?;
    /// } else {
    ///     eprintln!("{report}");
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn preflight(
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
        let store = import_providers::PreflightStore::open(source, policy, hf_endpoint)
            .await
            .map_err(client_error)?;
        Ok(preflight(request, store, prefix, options, |_, _| {}).await)
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
    /// # async fn run(source: import_async::SourceConfig) -> Result<(), import_async::Error> {
    /// use import_async::{Client, EndpointPolicy};
    ///
    /// let client = Client::from_env()?;
    /// let uris = client
    ///     .expand("s3://drive-archive/2024-09-01/", Some("**/front*.mp4"), &source, &EndpointPolicy::new(), import_async::DEFAULT_HF_ENDPOINT)
    ///     .await?;
    /// println!("{} objects", uris.len());
    /// # Ok(()) }
    /// ```
    pub async fn expand(
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
        let store = open_source(source, policy, hf_endpoint)
            .await
            .map_err(client_error)?;
        expand(store, prefix_uri, glob.as_ref())
            .await
            .map_err(client_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;
    use import_testkit::{HfStandIn, Mp4Spec, sample_mp4};

    #[tokio::test]
    async fn preflight_and_expand_on_the_hf_double() {
        let hf = HfStandIn::start().await.unwrap();
        hf.add_bucket("acme", "fleet", None).unwrap();
        hf.put(
            "acme",
            "fleet",
            "day1/front.mp4",
            &sample_mp4(&Mp4Spec::default()),
        )
        .unwrap();
        hf.put("acme", "fleet", "day1/rear.mp4", b"not a video")
            .unwrap();
        let client = Client::builder()
            .api_key("vk_test")
            .base_url("http://127.0.0.1:9")
            .build()
            .unwrap();
        let source = SourceConfig::Hf {
            bucket: "acme/fleet".into(),
            token: None,
        };
        let policy = EndpointPolicy::from_allowed([hf.cdn_addr().to_string()]).unwrap();

        let uris = client
            .expand(
                "hf://buckets/acme/fleet/day1/",
                None,
                &source,
                &policy,
                &hf.endpoint(),
            )
            .await
            .unwrap();
        assert_eq!(uris.len(), 2);
        let request = ImportRequest::builder()
            .uris(uris.iter().map(ToString::to_string))
            .build()
            .unwrap();
        let report = client
            .preflight(
                &request,
                &source,
                None,
                &PreflightOptions::default(),
                &policy,
                &hf.endpoint(),
            )
            .await
            .unwrap();
        assert_eq!(report.ready().count(), 1, "{report}");
        assert!(matches!(
            report.objects[1].check,
            ObjectCheck::NotMp4 { .. }
        ));

        let err = client
            .expand("s3://fleet/day1/", None, &source, &policy, &hf.endpoint())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InvalidInput(_)), "{err}");
        assert!(err.to_string().contains("`source` cannot be used"), "{err}");
        let err = client
            .expand(
                "hf://buckets/acme/fleet/",
                Some("day1/[a-"),
                &source,
                &policy,
                &hf.endpoint(),
            )
            .await
            .unwrap_err();
        assert!(err.to_string().contains("unclosed `[`"), "{err}");
    }
}
