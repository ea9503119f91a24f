//! The clients' end-to-end suite ([`import_testkit::clients`]) on the
//! blocking client, driven from a blocking thread; `import-async`'s tests run
//! the same suite on the async client.

use std::time::Duration;

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

/// The blocking client, driven from a blocking thread.
struct Blocking(import_blocking::Client);

async fn blocking<T: Send + 'static>(
    c: &Blocking,
    f: impl FnOnce(import_blocking::Client) -> T + Send + 'static,
) -> T {
    let client = c.0.clone();
    tokio::task::spawn_blocking(move || f(client))
        .await
        .expect("the blocking call does not panic")
}

impl Driver for Blocking {
    fn connect(api_key: &str, base_url: &str, policy: RetryPolicy) -> Self {
        Blocking(
            import_blocking::Client::builder()
                .api_key(api_key)
                .base_url(base_url)
                .retry_policy(policy)
                .build()
                .unwrap(),
        )
    }
    async fn verify(&self) -> Result<VerifyResponse> {
        blocking(self, |c| c.verify_auth()).await
    }
    async fn folder(&self, name: &str, scope: Scope) -> Result<Folder> {
        let n = name.to_owned();
        blocking(self, move |c| c.create_or_get_folder(&n, scope)).await
    }
    async fn create_folder(&self, name: &str, scope: Scope) -> Result<Folder> {
        let n = name.to_owned();
        blocking(self, move |c| c.create_folder(&n, scope, None)).await
    }
    async fn get_folder(&self, name: &str, scope: Scope) -> Result<Folder> {
        let n = name.to_owned();
        blocking(self, move |c| c.get_folder(&n, scope)).await
    }
    async fn add_s3(
        &self,
        name: &str,
        bucket: &str,
        creds: Value,
        endpoint: &str,
    ) -> Result<CloudIntegration> {
        let (n, b, e) = (name.to_owned(), bucket.to_owned(), endpoint.to_owned());
        blocking(self, move |c| {
            c.cloud_integrations()
                .add_s3(&n, &b, &creds, None, Some(&e), None)
        })
        .await
    }
    async fn add_gcs(
        &self,
        name: &str,
        bucket: &str,
        key: Value,
        prefix: Option<&str>,
    ) -> Result<CloudIntegration> {
        let (n, b, p) = (
            name.to_owned(),
            bucket.to_owned(),
            prefix.map(str::to_owned),
        );
        blocking(self, move |c| {
            c.cloud_integrations().add_gcs(&n, &b, key, p.as_deref())
        })
        .await
    }
    async fn add_hf(&self, name: &str, bucket: &str, token: &str) -> Result<CloudIntegration> {
        let (n, b, t) = (name.to_owned(), bucket.to_owned(), token.to_owned());
        blocking(self, move |c| {
            c.cloud_integrations().add_hf_bucket(&n, &b, &t, None)
        })
        .await
    }
    async fn list(&self, kind: Option<Provider>) -> Result<Vec<CloudIntegration>> {
        blocking(self, move |c| c.cloud_integrations().list(kind)).await
    }
    async fn delete(&self, id: &IntegrationId) -> Result<()> {
        let id = id.clone();
        blocking(self, move |c| c.cloud_integrations().delete(&id)).await
    }
    async fn upload(&self, req: &ImportRequest, folder: Option<&str>) -> Result<UploadResponse> {
        let (r, f) = (req.clone(), folder.map(str::to_owned));
        blocking(self, move |c| c.upload(&r, f.as_deref())).await
    }
    async fn job(&self, job: &ImportJobId) -> Result<ImportJob> {
        let j = job.clone();
        blocking(self, move |c| c.get_import_job(&j)).await
    }
    async fn page(&self, job: &ImportJobId, page: &PageRequest) -> Result<VideosPage> {
        let (j, p) = (job.clone(), page.clone());
        blocking(self, move |c| c.get_import_job_videos(&j, &p)).await
    }
    #[allow(deprecated)]
    async fn legacy_page(&self, job: &ImportJobId, page: &PageRequest) -> Result<VideosPage> {
        let (j, p) = (job.clone(), page.clone());
        blocking(self, move |c| c.get_import_job_uploaded_video_ids(&j, &p)).await
    }
    async fn rows(&self, job: &ImportJobId, limit: u32) -> Result<Vec<VideoRow>> {
        let j = job.clone();
        blocking(self, move |c| c.videos(&j, limit)?.collect()).await
    }
    async fn wait(
        &self,
        job: &ImportJobId,
        timeout: Duration,
    ) -> Result<(ImportOutcome, Vec<Progress>)> {
        let j = job.clone();
        blocking(self, move |c| {
            let mut seen = Vec::new();
            let out = c.wait_for_import(&j, &wait_options(timeout), |p| seen.push(*p))?;
            Ok((out, seen))
        })
        .await
    }
    async fn resume(&self, tracker: ReadinessTracker) -> Result<ImportOutcome> {
        blocking(self, move |c| {
            c.wait_with_tracker(tracker, &wait_options(Duration::from_secs(60)), |_| {})
        })
        .await
    }
    async fn retry(&self, job: &ImportJobId, ids: Option<Vec<VideoId>>) -> Result<RetryResponse> {
        let j = job.clone();
        blocking(self, move |c| c.retry_import_job(&j, ids.as_deref())).await
    }
    async fn list_jobs(&self, query: &JobListRequest) -> Result<ImportJobList> {
        let q = query.clone();
        blocking(self, move |c| c.list_import_jobs(&q)).await
    }
    async fn cancel(&self, job: &ImportJobId) -> Result<ImportJob> {
        let j = job.clone();
        blocking(self, move |c| c.cancel_import_job(&j)).await
    }
}

mod on_blocking {
    import_testkit::client_suite!(super::Blocking);
}
