//! Saved cloud integrations.

use import_core::api;
use import_core::client::{GcsKey, S3Keys, filter_integrations, hf_integration, s3_integration};

use crate::{Client, CloudIntegration, IntegrationId, Provider, Result};

/// The integrations routes, from [`Client::cloud_integrations`].
#[derive(Debug, Clone, Copy)]
pub struct CloudIntegrations<'a> {
    client: &'a Client,
}

impl<'a> CloudIntegrations<'a> {
    pub(crate) fn new(client: &'a Client) -> Self {
        CloudIntegrations { client }
    }

    /// Every integration visible to the caller, optionally of one provider.
    pub fn list(&self, kind: Option<Provider>) -> Result<Vec<CloudIntegration>> {
        Ok(filter_integrations(
            self.client.send(api::list_integrations())?,
            kind,
        ))
    }

    /// Save a GCS integration from a service-account key (a path, JSON text,
    /// bytes or a JSON value).
    pub fn add_gcs(
        &self,
        name: &str,
        bucket: &str,
        key: impl Into<GcsKey>,
        prefix: Option<&str>,
    ) -> Result<CloudIntegration> {
        let body = key
            .into()
            .into_integration(name, bucket, prefix, |path| std::fs::read(path))?;
        self.client.send(api::add_gcs_integration(&body))
    }

    /// Save an S3 or S3-compatible integration. `credentials` is a JSON object
    /// with the keys in any usual spelling (`access_key_id` or `accessKeyId`,
    /// ...); give `endpoint_url` for R2/MinIO (the region then defaults to `auto`).
    pub fn add_s3(
        &self,
        name: &str,
        bucket: &str,
        credentials: &serde_json::Value,
        region: Option<&str>,
        endpoint_url: Option<&str>,
        prefix: Option<&str>,
    ) -> Result<CloudIntegration> {
        let keys = S3Keys::from_json(credentials)?;
        let body = s3_integration(name, bucket, keys, region, endpoint_url, prefix)?;
        self.client.send(api::add_s3_integration(&body))
    }

    /// Save a Hugging Face bucket integration (`bucket` is `namespace/name`).
    pub fn add_hf_bucket(
        &self,
        name: &str,
        bucket: &str,
        token: &str,
        prefix: Option<&str>,
    ) -> Result<CloudIntegration> {
        let body = hf_integration(name, bucket, token, prefix)?;
        self.client.send(api::add_hf_integration(&body))
    }

    /// Delete an integration you own (*extension*).
    pub fn delete(&self, id: &IntegrationId) -> Result<()> {
        self.client.send(api::delete_integration(id))
    }
}
