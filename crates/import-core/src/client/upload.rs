//! The upload flow (folder by name, GCS integration candidates) and how
//! `wait_for_import` polls.

use std::collections::VecDeque;
use std::time::Duration;

use http::StatusCode;

use crate::api::{self, ApiRequest};
use crate::error::Error;
use crate::ids::{ImportJobId, IntegrationId};
use crate::integrations::gcs_integration_candidates;
use crate::readiness::ReadinessTracker;
use crate::request::ImportRequest;
use crate::uri::Provider;
use crate::wire::{CloudIntegration, Folder, FolderRequest, UploadResponse};

use super::ClientError;

/// How `wait_for_import` polls.
#[derive(Debug, Clone, PartialEq)]
pub struct WaitOptions {
    /// Pause between polls when the server suggests none (default 5 s).
    pub poll_interval: Duration,
    /// Give up after this long with [`ClientError::WaitTimedOut`] (default 1 h).
    pub timeout: Duration,
    /// Rows per page when walking the job (default 1000).
    pub page_limit: u32,
}

/// How long a wait for an import goes on by default before it gives up.
pub const DEFAULT_WAIT_TIMEOUT: Duration = Duration::from_secs(3600);

impl Default for WaitOptions {
    fn default() -> Self {
        WaitOptions {
            poll_interval: crate::readiness::DEFAULT_POLL_INTERVAL,
            timeout: DEFAULT_WAIT_TIMEOUT,
            page_limit: crate::pager::MAX_PAGE_LIMIT,
        }
    }
}

impl WaitOptions {
    /// A tracker for a job with these options.
    pub fn tracker(&self, job: ImportJobId) -> ReadinessTracker {
        ReadinessTracker::new(job)
            .with_page_limit(self.page_limit)
            .with_poll_interval(self.poll_interval)
    }

    /// How long to sleep for a `Next::Wait(wanted)` after `elapsed`, or the
    /// timeout error when the time is up.
    pub fn pause(
        &self,
        tracker: &ReadinessTracker,
        elapsed: Duration,
        wanted: Duration,
    ) -> Result<Duration, ClientError> {
        if elapsed >= self.timeout {
            return Err(ClientError::WaitTimedOut {
                job_id: tracker.job_id().clone(),
                waited: elapsed,
                progress: tracker.progress(),
                tracker: Box::new(tracker.clone()),
            });
        }
        Ok(wanted.min(self.timeout - elapsed))
    }
}

/// One step of an upload, for the client to carry out.
#[derive(Debug)]
#[must_use]
pub enum UploadStep {
    /// Send, then [`UploadFlow::handle_folder`].
    CreateFolder(ApiRequest<Folder>),
    /// Send, then [`UploadFlow::handle_integrations`].
    ListIntegrations(ApiRequest<Vec<CloudIntegration>>),
    /// Send, then [`UploadFlow::handle_upload`].
    Upload(ApiRequest<UploadResponse>),
    /// Finished.
    Done(UploadResponse),
}

#[derive(Debug)]
enum FlowState {
    Folder,
    Integrations,
    Upload,
    Done(UploadResponse),
}

/// An upload as the official SDK does it: resolve the folder by name
/// (create-or-get), then, for GCS without an integration, try the caller's
/// saved `gcs` integrations for the bucket in order until one is accepted.
///
/// ```
/// use import_core::client::{UploadFlow, UploadStep};
/// use import_core::ImportRequest;
///
/// let request = ImportRequest::builder().uri("gs://drive-archive/a.mp4").build()?;
/// let mut flow = UploadFlow::new(request, None)?;
/// let UploadStep::ListIntegrations(req) = flow.poll()? else { unreachable!() };
/// assert_eq!(req.path(), "/api/cloud-integrations");
/// flow.handle_integrations(serde_json::from_str(r#"[{"id":"ci_1","name":"a","type":"gcs",
///     "bucket":"drive-archive","created_at":"t","created_by":"u","is_owner":true}]"#).unwrap())?;
/// let UploadStep::Upload(req) = flow.poll()? else { unreachable!() };
/// assert_eq!(req.path(), "/api/gcs/upload");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct UploadFlow {
    request: ImportRequest,
    folder: Option<FolderRequest>,
    candidates: VecDeque<IntegrationId>,
    /// Trying the caller's saved GCS integrations one after the other.
    auto_gcs: bool,
    state: FlowState,
}

impl UploadFlow {
    /// A flow for a request and an optional folder name (created in the request's scope).
    pub fn new(request: ImportRequest, folder: Option<&str>) -> Result<UploadFlow, Error> {
        let folder = folder
            .map(|name| api::folder_request(name, request.scope()))
            .transpose()?;
        let auto_gcs = request.provider() == Provider::Gcs && request.integration_id().is_none();
        let state = if folder.is_some() {
            FlowState::Folder
        } else if auto_gcs {
            FlowState::Integrations
        } else {
            FlowState::Upload
        };
        Ok(UploadFlow {
            request,
            folder,
            candidates: VecDeque::new(),
            auto_gcs,
            state,
        })
    }

    /// The next step.
    pub fn poll(&mut self) -> Result<UploadStep, ClientError> {
        Ok(match &self.state {
            FlowState::Folder => match &self.folder {
                Some(f) => UploadStep::CreateFolder(api::create_or_get_folder(f)),
                None => {
                    self.state = FlowState::Upload;
                    return self.poll();
                }
            },
            FlowState::Integrations => UploadStep::ListIntegrations(api::list_integrations()),
            FlowState::Upload => {
                let mut request = self.request.clone();
                if let Some(id) = self.candidates.front() {
                    request = request.with_integration_id(id.clone());
                }
                UploadStep::Upload(api::upload(&request).map_err(ClientError::InvalidInput)?)
            }
            FlowState::Done(answer) => UploadStep::Done(answer.clone()),
        })
    }

    /// Feed the folder answer.
    pub fn handle_folder(&mut self, folder: Folder) {
        self.request = self.request.clone().with_folder_id(folder.id);
        self.state = if self.auto_gcs {
            FlowState::Integrations
        } else {
            FlowState::Upload
        };
    }

    /// Feed the list of saved integrations; none for the bucket is an error that
    /// says how to add one.
    pub fn handle_integrations(&mut self, list: Vec<CloudIntegration>) -> Result<(), ClientError> {
        self.candidates = gcs_integration_candidates(&list, self.request.bucket())
            .map(|i| i.id.clone())
            .collect();
        if self.candidates.is_empty() {
            return Err(ClientError::InvalidInput(Error::GcsIntegrationRequired {
                bucket: self.request.bucket().to_owned(),
            }));
        }
        self.state = FlowState::Upload;
        Ok(())
    }

    /// Feed the upload answer. When trying saved GCS integrations, a refusal
    /// (any 4xx but `401`) moves on to the next one; the last refusal is
    /// returned when none is accepted.
    pub fn handle_upload(
        &mut self,
        answer: Result<UploadResponse, ClientError>,
    ) -> Result<(), ClientError> {
        match answer {
            Ok(ok) => {
                self.state = FlowState::Done(ok);
                Ok(())
            }
            Err(e) => {
                let refused = e
                    .status()
                    .is_some_and(|s| s.is_client_error() && s != StatusCode::UNAUTHORIZED);
                if self.auto_gcs && refused && self.candidates.len() > 1 {
                    self.candidates.pop_front();
                    Ok(())
                } else {
                    Err(e)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::AnswerError;
    use serde_json::Value;

    fn integ(id: &str, kind: &str, bucket: &str) -> CloudIntegration {
        serde_json::from_value(
            serde_json::json!({"id": id, "name": id, "type": kind, "bucket": bucket,
            "created_at": "t", "created_by": "u", "is_owner": true}),
        )
        .unwrap()
    }

    #[test]
    fn folder_then_upload() {
        let req = ImportRequest::builder()
            .uri("s3://bkt/a.mp4")
            .build()
            .unwrap();
        let mut flow = UploadFlow::new(req, Some("fleet")).unwrap();
        let UploadStep::CreateFolder(r) = flow.poll().unwrap() else {
            panic!()
        };
        assert_eq!(r.path(), "/api/folders/create-or-get");
        flow.handle_folder(
            serde_json::from_str(r#"{"id":"fo_1","name":"fleet","scope":"user","created_at":"t"}"#)
                .unwrap(),
        );
        let UploadStep::Upload(r) = flow.poll().unwrap() else {
            panic!()
        };
        let body: Value = serde_json::from_slice(r.body().unwrap()).unwrap();
        assert_eq!(body["folder_id"], "fo_1");
        flow.handle_upload(Ok(UploadResponse {
            import_job_id: "ij_1".parse().unwrap(),
            status: crate::JobStatus::Importing,
        }))
        .unwrap();
        assert!(matches!(flow.poll().unwrap(), UploadStep::Done(_)));
    }

    #[test]
    fn gcs_candidates_are_tried_in_order() {
        let req = ImportRequest::builder()
            .uri("gs://bkt/a.mp4")
            .build()
            .unwrap();
        let mut flow = UploadFlow::new(req, None).unwrap();
        let UploadStep::ListIntegrations(_) = flow.poll().unwrap() else {
            panic!()
        };
        flow.handle_integrations(vec![
            integ("ci_1", "gcs", "bkt"),
            integ("ci_2", "s3", "bkt"),
            integ("ci_3", "gcs", "bkt"),
        ])
        .unwrap();
        let body = |flow: &mut UploadFlow| {
            let UploadStep::Upload(r) = flow.poll().unwrap() else {
                panic!()
            };
            serde_json::from_slice::<Value>(r.body().unwrap()).unwrap()
        };
        assert_eq!(body(&mut flow)["integration_id"], "ci_1");
        let refused = ClientError::Answer(AnswerError::Api {
            status: StatusCode::BAD_REQUEST,
            detail: "no".into(),
            retry_after_secs: None,
        });
        flow.handle_upload(Err(refused)).unwrap();
        assert_eq!(body(&mut flow)["integration_id"], "ci_3");
        // The last refusal is returned.
        let err = flow
            .handle_upload(Err(ClientError::Answer(AnswerError::Api {
                status: StatusCode::FORBIDDEN,
                detail: "x".into(),
                retry_after_secs: None,
            })))
            .unwrap_err();
        assert_eq!(err.status(), Some(StatusCode::FORBIDDEN));
        // 401 stops at once.
        let req = ImportRequest::builder()
            .uri("gs://bkt/a.mp4")
            .build()
            .unwrap();
        let mut flow = UploadFlow::new(req, None).unwrap();
        let _ = flow.poll().unwrap();
        flow.handle_integrations(vec![
            integ("ci_1", "gcs", "bkt"),
            integ("ci_3", "gcs", "bkt"),
        ])
        .unwrap();
        assert!(
            flow.handle_upload(Err(ClientError::Answer(AnswerError::Unauthorized {
                detail: "k".into()
            })))
            .is_err()
        );
        // None saved.
        let req = ImportRequest::builder()
            .uri("gs://bkt/a.mp4")
            .build()
            .unwrap();
        let mut flow = UploadFlow::new(req, None).unwrap();
        let err = flow
            .handle_integrations(vec![integ("ci_2", "s3", "bkt")])
            .unwrap_err();
        assert!(
            err.to_string().contains("vimport integrations add gcs"),
            "{err}"
        );
    }
}
