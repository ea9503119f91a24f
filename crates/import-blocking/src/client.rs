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

/// Largest answer body read.
const MAX_BODY: u64 = 256 * 1024 * 1024;

/// A blocking client. Cheap to clone; clones share connections.
#[derive(Debug, Clone)]
pub struct Client {
    config: ClientConfig,
    agent: ureq::Agent,
}

/// Builds a [`Client`]: `Client::builder().api_key(..).base_url(..).build()`.
pub type ClientBuilder = import_core::client::ClientBuilder<Client>;

impl FromConfig for Client {
    fn from_config(config: ClientConfig) -> Result<Client> {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(config.timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .new_agent();
        Ok(Client { config, agent })
    }
}

fn seed() -> u64 {
    let b = uuid::Uuid::new_v4().into_bytes();
    u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
}

fn failure(e: ureq::Error) -> SendFailure {
    match e {
        ureq::Error::Timeout(_) => SendFailure::Timeout,
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => SendFailure::Timeout,
        ureq::Error::Io(io) => SendFailure::Connect(io.to_string()),
        ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => {
            SendFailure::Connect(e.to_string())
        }
        other => SendFailure::Transport(import_core::client::error_chain(&other)),
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
    pub fn send<T: serde::de::DeserializeOwned>(&self, request: ApiRequest<T>) -> Result<T> {
        let key = uuid::Uuid::new_v4().to_string();
        let mut exchange = Exchange::new(request, &self.config, Some(key), seed())?;
        loop {
            let step = match self.agent.run(exchange.http_request().clone()) {
                Ok(mut res) => {
                    let status = res.status();
                    match res.body_mut().with_config().limit(MAX_BODY).read_to_vec() {
                        Ok(body) => exchange.handle_response(
                            status,
                            res.headers(),
                            &body,
                            SystemTime::now(),
                        ),
                        Err(e) => exchange.handle_failure(failure(e), SystemTime::now()),
                    }
                }
                Err(e) => exchange.handle_failure(failure(e), SystemTime::now()),
            };
            match step {
                ExchangeStep::Done(result) => return result,
                ExchangeStep::Retry(pause) => std::thread::sleep(pause),
            }
        }
    }

    /// `POST /api/keys/verify`: whose key this is.
    pub fn verify_auth(&self) -> Result<VerifyResponse> {
        self.send(api::verify_auth())
    }

    /// The folder of that name and scope, created if missing.
    pub fn create_or_get_folder(&self, name: &str, scope: Scope) -> Result<Folder> {
        self.send(api::create_or_get_folder(&api::folder_request(
            name, scope,
        )?))
    }

    /// A new folder; `409` if the name exists in that scope.
    pub fn create_folder(
        &self,
        name: &str,
        scope: Scope,
        description: Option<&str>,
    ) -> Result<Folder> {
        let mut folder = api::folder_request(name, scope)?;
        folder.description = description.map(str::to_owned);
        self.send(api::create_folder(&folder))
    }

    /// A folder by name and scope.
    pub fn get_folder(&self, name: &str, scope: Scope) -> Result<Folder> {
        self.send(api::get_folder(name, scope))
    }

    /// Saved cloud integrations: list, add, delete.
    pub fn cloud_integrations(&self) -> crate::CloudIntegrations<'_> {
        crate::CloudIntegrations::new(self)
    }

    /// Start an import: URIs or view sets of one bucket. `folder` is a folder
    /// name, created in the request's scope if missing. A GCS request without
    /// an integration tries the caller's saved `gcs` integrations for the
    /// bucket in order until one is accepted.
    pub fn upload(&self, request: &ImportRequest, folder: Option<&str>) -> Result<UploadResponse> {
        let mut flow = UploadFlow::new(request.clone(), folder)?;
        loop {
            match flow.poll()? {
                UploadStep::CreateFolder(req) => flow.handle_folder(self.send(req)?),
                UploadStep::ListIntegrations(req) => flow.handle_integrations(self.send(req)?)?,
                UploadStep::Upload(req) => flow.handle_upload(self.send(req))?,
                UploadStep::Done(answer) => return Ok(answer),
            }
        }
    }

    /// `GET /api/import-jobs/{id}`.
    pub fn get_import_job(&self, job: &ImportJobId) -> Result<ImportJob> {
        self.send(api::get_import_job(job))
    }

    /// One page of a job's per-video statuses.
    pub fn get_import_job_videos(
        &self,
        job: &ImportJobId,
        page: &PageRequest,
    ) -> Result<VideosPage> {
        self.send(api::get_import_job_videos(job, page))
    }

    /// The old name of [`Client::get_import_job_videos`], kept as the SDKs keep it.
    #[deprecated(note = "use get_import_job_videos, which calls the same route")]
    pub fn get_import_job_uploaded_video_ids(
        &self,
        job: &ImportJobId,
        page: &PageRequest,
    ) -> Result<VideosPage> {
        self.get_import_job_videos(job, page)
    }

    /// Every row of a job, page by page, as an iterator.
    pub fn videos(&self, job: &ImportJobId, limit: u32) -> Result<crate::VideoRows<'_>> {
        crate::VideoRows::new(self, job, limit)
    }

    /// Wait until the job is ready; answers the uploaded ids and the failed
    /// rows. `on_progress` is called after every poll.
    pub fn wait_for_import(
        &self,
        job: &ImportJobId,
        options: &WaitOptions,
        on_progress: impl FnMut(&import_core::Progress),
    ) -> Result<ImportOutcome> {
        self.wait_with_tracker(options.tracker(job.clone()), options, on_progress)
    }

    /// Resume a wait from a saved tracker (for example the one in
    /// [`Error::WaitTimedOut`]).
    pub fn wait_with_tracker(
        &self,
        mut tracker: ReadinessTracker,
        options: &WaitOptions,
        mut on_progress: impl FnMut(&import_core::Progress),
    ) -> Result<ImportOutcome> {
        let started = Instant::now();
        loop {
            match tracker.poll() {
                Next::FetchJob(req) => {
                    tracker.handle_job(self.send(req)?);
                    on_progress(&tracker.progress());
                }
                Next::FetchPage(req) => tracker.handle_page(self.send(req)?)?,
                Next::Wait(wanted) => {
                    on_progress(&tracker.progress());
                    std::thread::sleep(options.pause(&tracker, started.elapsed(), wanted)?);
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
    pub fn retry_import_job(
        &self,
        job: &ImportJobId,
        video_ids: Option<&[VideoId]>,
    ) -> Result<RetryResponse> {
        self.send(api::retry_import_job(job, video_ids))
    }

    /// *Extension*: one page of the caller's import jobs, newest first
    /// (`GET /api/import-jobs`); the next page is
    /// `query.with_cursor(page.next_cursor)` while `has_more`.
    pub fn list_import_jobs(&self, query: &JobListRequest) -> Result<ImportJobList> {
        self.send(api::list_import_jobs(query))
    }

    /// *Extension* of the reference server: `GET /healthz`, sent without
    /// the API key's checks mattering (the route takes none).
    pub fn health(&self) -> Result<import_core::Probe> {
        self.send(api::health())
    }

    /// *Extension* of the reference server: `GET /readyz`. `Ok` when the
    /// server is ready; a `503` (with the reason) is an error, retried first
    /// as any `503` is under the client's retry policy.
    pub fn readiness(&self) -> Result<import_core::Probe> {
        self.send(api::readiness())
    }

    /// *Extension*: cancel a job: its rows not yet uploaded fail with
    /// `error_code` `cancelled`, and the job ends `cancelled`. Answers the job.
    pub fn cancel_import_job(&self, job: &ImportJobId) -> Result<ImportJob> {
        self.send(api::cancel_import_job(job))
    }
}
