//! The clients' end-to-end suite ([`import_testkit::clients`]) on the async
//! client; `import-blocking`'s tests run the same suite on the blocking client.

use std::time::Duration;

use futures::TryStreamExt;
use import_core::wire::{
    CloudIntegration, Folder, ImportJob, ImportJobList, RetryResponse, UploadResponse,
    VerifyResponse, VideoRow, VideosPage,
};
use import_core::{
    ImportJobId, ImportOutcome, ImportRequest, IntegrationId, JobListRequest, PageRequest,
    Progress, Provider, ReadinessTracker, RetryPolicy, Scope, VideoId,
};
use import_testkit::clients::{Driver, Result, wait_options};
use serde_json::Value;

/// The async client, as the suite drives it.
struct Async(import_async::Client);

impl Driver for Async {
    fn connect(api_key: &str, base_url: &str, policy: RetryPolicy) -> Self {
        Async(
            import_async::Client::builder()
                .api_key(api_key)
                .base_url(base_url)
                .retry_policy(policy)
                .build()
                .unwrap(),
        )
    }
    async fn verify(&self) -> Result<VerifyResponse> {
        self.0.verify_auth().await
    }
    async fn folder(&self, name: &str, scope: Scope) -> Result<Folder> {
        self.0.create_or_get_folder(name, scope).await
    }
    async fn create_folder(&self, name: &str, scope: Scope) -> Result<Folder> {
        self.0.create_folder(name, scope, None).await
    }
    async fn get_folder(&self, name: &str, scope: Scope) -> Result<Folder> {
        self.0.get_folder(name, scope).await
    }
    async fn add_s3(
        &self,
        name: &str,
        bucket: &str,
        creds: Value,
        endpoint: &str,
    ) -> Result<CloudIntegration> {
        self.0
            .cloud_integrations()
            .add_s3(name, bucket, &creds, None, Some(endpoint), None)
            .await
    }
    async fn add_gcs(
        &self,
        name: &str,
        bucket: &str,
        key: Value,
        prefix: Option<&str>,
    ) -> Result<CloudIntegration> {
        self.0
            .cloud_integrations()
            .add_gcs(name, bucket, key, prefix)
            .await
    }
    async fn add_hf(&self, name: &str, bucket: &str, token: &str) -> Result<CloudIntegration> {
        self.0
            .cloud_integrations()
            .add_hf_bucket(name, bucket, token, None)
            .await
    }
    async fn list(&self, kind: Option<Provider>) -> Result<Vec<CloudIntegration>> {
        self.0.cloud_integrations().list(kind).await
    }
    async fn delete(&self, id: &IntegrationId) -> Result<()> {
        self.0.cloud_integrations().delete(id).await
    }
    async fn upload(&self, req: &ImportRequest, folder: Option<&str>) -> Result<UploadResponse> {
        self.0.upload(req, folder).await
    }
    async fn job(&self, job: &ImportJobId) -> Result<ImportJob> {
        self.0.get_import_job(job).await
    }
    async fn page(&self, job: &ImportJobId, page: &PageRequest) -> Result<VideosPage> {
        self.0.get_import_job_videos(job, page).await
    }
    #[allow(deprecated)]
    async fn legacy_page(&self, job: &ImportJobId, page: &PageRequest) -> Result<VideosPage> {
        self.0.get_import_job_uploaded_video_ids(job, page).await
    }
    async fn rows(&self, job: &ImportJobId, limit: u32) -> Result<Vec<VideoRow>> {
        self.0.videos(job, limit)?.try_collect().await
    }
    async fn wait(
        &self,
        job: &ImportJobId,
        timeout: Duration,
    ) -> Result<(ImportOutcome, Vec<Progress>)> {
        let mut seen = Vec::new();
        let out = self
            .0
            .wait_for_import(job, &wait_options(timeout), |p| seen.push(*p))
            .await?;
        Ok((out, seen))
    }
    async fn resume(&self, tracker: ReadinessTracker) -> Result<ImportOutcome> {
        self.0
            .wait_with_tracker(tracker, &wait_options(Duration::from_secs(60)), |_| {})
            .await
    }
    async fn retry(&self, job: &ImportJobId, ids: Option<Vec<VideoId>>) -> Result<RetryResponse> {
        self.0.retry_import_job(job, ids.as_deref()).await
    }
    async fn list_jobs(&self, query: &JobListRequest) -> Result<ImportJobList> {
        self.0.list_import_jobs(query).await
    }
    async fn cancel(&self, job: &ImportJobId) -> Result<ImportJob> {
        self.0.cancel_import_job(job).await
    }
}

mod on_async {
    import_testkit::client_suite!(super::Async);
}
