//! The client and its transport.

use std::time::{Instant, SystemTime};

use import_core::client::{
    ClientConfig, Exchange, ExchangeStep, FromConfig, SendFailure, UploadFlow, UploadStep,
};
use import_core::{AnswerError, ApiRequest, Next, api};

use crate::{
    Error, Folder, ImportJob, ImportJobId, ImportJobList, ImportOutcome, ImportRequest,
    JobListRequest, PageRequest, ReadinessTracker, Result, RetryResponse, Scope, UploadResponse,
    VerifyResponse, VideoId, VideosPage, WaitOptions,
};

/// An async client. Cheap to clone; clones share connections.
#[derive(Debug, Clone)]
pub struct Client {
    config: ClientConfig,
    http: reqwest::Client,
}

/// Builds a [`Client`]: `Client::builder().api_key(..).base_url(..).build()`.
pub type ClientBuilder = import_core::client::ClientBuilder<Client>;

impl FromConfig for Client {
    fn from_config(config: ClientConfig) -> Result<Client> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::Transport {
                url: config.base_url.clone(),
                message: format!("the HTTP client cannot start: {e}"),
            })?;
        Ok(Client { config, http })
    }
}

fn seed() -> u64 {
    let b = uuid::Uuid::new_v4().into_bytes();
    u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
}

fn failure(e: &reqwest::Error) -> SendFailure {
    if e.is_timeout() {
        SendFailure::Timeout
    } else if e.is_connect() {
        SendFailure::Connect(import_core::client::error_chain(e))
    } else {
        SendFailure::Transport(import_core::client::error_chain(e))
    }
}

impl Client {
    /// Start building a client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client from `VIMPORT_API_KEY`, `VIMPORT_BASE_URL` and `VIMPORT_TIMEOUT_SECS`.
    pub fn from_env() -> Result<Client> {
        ClientBuilder::from_lookup(|name| std::env::var(name).ok())?.build()
    }

    /// The configuration in force.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Send one request with its retries and decode the answer.
    pub async fn send<T: serde::de::DeserializeOwned>(&self, request: ApiRequest<T>) -> Result<T> {
        let key = uuid::Uuid::new_v4().to_string();
        let mut exchange = Exchange::new(request, &self.config, Some(key), seed())?;
        loop {
            let step = match self.attempt(exchange.http_request()).await {
                Ok((status, headers, body)) => {
                    exchange.handle_response(status, &headers, &body, SystemTime::now())
                }
                Err(f) => exchange.handle_failure(f, SystemTime::now()),
            };
            match step {
                ExchangeStep::Done(result) => return result,
                ExchangeStep::Retry(pause) => tokio::time::sleep(pause).await,
            }
        }
    }

    async fn attempt(
        &self,
        request: &http::Request<Vec<u8>>,
    ) -> std::result::Result<(http::StatusCode, http::HeaderMap, bytes::Bytes), SendFailure> {
        let request = reqwest::Request::try_from(request.clone())
            .map_err(|e| SendFailure::Transport(e.to_string()))?;
        let res = self.http.execute(request).await.map_err(|e| failure(&e))?;
        let status = res.status();
        let headers = res.headers().clone();
        let body = res.bytes().await.map_err(|e| failure(&e))?;
        Ok((status, headers, body))
    }

    /// `POST /api/keys/verify`: whose key this is.
    pub async fn verify_auth(&self) -> Result<VerifyResponse> {
        self.send(api::verify_auth()).await
    }

    /// The folder of that name and scope, created if missing.
    pub async fn create_or_get_folder(&self, name: &str, scope: Scope) -> Result<Folder> {
        self.send(api::create_or_get_folder(&api::folder_request(
            name, scope,
        )?))
        .await
    }

    /// A new folder; `409` if the name exists in that scope.
    pub async fn create_folder(
        &self,
        name: &str,
        scope: Scope,
        description: Option<&str>,
    ) -> Result<Folder> {
        let mut folder = api::folder_request(name, scope)?;
        folder.description = description.map(str::to_owned);
        self.send(api::create_folder(&folder)).await
    }

    /// A folder by name and scope.
    pub async fn get_folder(&self, name: &str, scope: Scope) -> Result<Folder> {
        self.send(api::get_folder(name, scope)).await
    }

    /// Saved cloud integrations: list, add, delete.
    pub fn cloud_integrations(&self) -> crate::CloudIntegrations<'_> {
        crate::CloudIntegrations::new(self)
    }

    /// Start an import: URIs or view sets of one bucket. `folder` is a folder
    /// name, created in the request's scope if missing. A GCS request without
    /// an integration tries the caller's saved `gcs` integrations for the
    /// bucket in order until one is accepted.
    pub async fn upload(
        &self,
        request: &ImportRequest,
        folder: Option<&str>,
    ) -> Result<UploadResponse> {
        let mut flow = UploadFlow::new(request.clone(), folder)?;
        loop {
            match flow.poll()? {
                UploadStep::CreateFolder(req) => flow.handle_folder(self.send(req).await?),
                UploadStep::ListIntegrations(req) => {
                    flow.handle_integrations(self.send(req).await?)?
                }
                UploadStep::Upload(req) => flow.handle_upload(self.send(req).await)?,
                UploadStep::Done(answer) => return Ok(answer),
            }
        }
    }

    /// `GET /api/import-jobs/{id}`.
    pub async fn get_import_job(&self, job: &ImportJobId) -> Result<ImportJob> {
        self.send(api::get_import_job(job)).await
    }

    /// One page of a job's per-video statuses.
    pub async fn get_import_job_videos(
        &self,
        job: &ImportJobId,
        page: &PageRequest,
    ) -> Result<VideosPage> {
        self.send(api::get_import_job_videos(job, page)).await
    }

    /// The old name of [`Client::get_import_job_videos`], kept as the SDKs keep it.
    #[deprecated(note = "use get_import_job_videos, which calls the same route")]
    pub async fn get_import_job_uploaded_video_ids(
        &self,
        job: &ImportJobId,
        page: &PageRequest,
    ) -> Result<VideosPage> {
        self.get_import_job_videos(job, page).await
    }

    /// Every row of a job, page by page, as a stream that follows the cursor.
    pub fn videos(
        &self,
        job: &ImportJobId,
        limit: u32,
    ) -> Result<impl futures::Stream<Item = Result<crate::VideoRow>> + '_> {
        crate::video_rows(self, job, limit)
    }

    /// Wait until the job is ready; answers the uploaded ids and the failed
    /// rows. `on_progress` is called after every poll.
    pub async fn wait_for_import(
        &self,
        job: &ImportJobId,
        options: &WaitOptions,
        on_progress: impl FnMut(&import_core::Progress) + Send,
    ) -> Result<ImportOutcome> {
        self.wait_with_tracker(options.tracker(job.clone()), options, on_progress)
            .await
    }

    /// Resume a wait from a saved tracker (for example the one in
    /// [`Error::WaitTimedOut`]).
    pub async fn wait_with_tracker(
        &self,
        mut tracker: ReadinessTracker,
        options: &WaitOptions,
        mut on_progress: impl FnMut(&import_core::Progress) + Send,
    ) -> Result<ImportOutcome> {
        let started = Instant::now();
        loop {
            match tracker.poll() {
                Next::FetchJob(req) => {
                    tracker.handle_job(self.send(req).await?);
                    on_progress(&tracker.progress());
                }
                Next::FetchPage(req) => tracker.handle_page(self.send(req).await?)?,
                Next::Wait(wanted) => {
                    on_progress(&tracker.progress());
                    tokio::time::sleep(options.pause(&tracker, started.elapsed(), wanted)?).await;
                }
                Next::Ready => {
                    on_progress(&tracker.progress());
                    return tracker.outcome().ok_or_else(|| {
                        Error::Answer(AnswerError::Protocol {
                            problem: "the tracker said ready without an outcome".into(),
                        })
                    });
                }
            }
        }
    }

    /// Put the named (or all) failed rows of a job back to `PENDING`.
    pub async fn retry_import_job(
        &self,
        job: &ImportJobId,
        video_ids: Option<&[VideoId]>,
    ) -> Result<RetryResponse> {
        self.send(api::retry_import_job(job, video_ids)).await
    }

    /// *Extension*: one page of the caller's import jobs, newest first
    /// (`GET /api/import-jobs`); the next page is
    /// `query.with_cursor(page.next_cursor)` while `has_more`.
    pub async fn list_import_jobs(&self, query: &JobListRequest) -> Result<ImportJobList> {
        self.send(api::list_import_jobs(query)).await
    }

    /// *Extension* of the reference server: `GET /healthz`, sent without
    /// the API key's checks mattering (the route takes none).
    pub async fn health(&self) -> Result<import_core::Probe> {
        self.send(api::health()).await
    }

    /// *Extension* of the reference server: `GET /readyz`. `Ok` when the
    /// server is ready; a `503` (with the reason) is an error, retried first
    /// as any `503` is under the client's retry policy.
    pub async fn readiness(&self) -> Result<import_core::Probe> {
        self.send(api::readiness()).await
    }

    /// *Extension*: cancel a job: its rows not yet uploaded fail with
    /// `error_code` `cancelled`, and the job ends `cancelled`. Answers the job.
    pub async fn cancel_import_job(&self, job: &ImportJobId) -> Result<ImportJob> {
        self.send(api::cancel_import_job(job)).await
    }
}
