//! The readiness contract as a state machine: when is an import job done, and
//! which videos came out of it.
//!
//! A job is ready when the ids returned reach `total` and every returned row is
//! terminal. With the job extensions (`terminal`, `counts`) one request per poll
//! decides; without them the tracker walks the pages.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::api::{self, ApiRequest};
use crate::error::{AnswerError, Result};
use crate::ids::{ImportJobId, VideoId};
use crate::pager::{DEFAULT_PAGE_LIMIT, Pager};
use crate::wire::{
    Counts, FailedView, ImportJob, RetryResponse, VideoRow, VideoStatus, VideosPage,
};

/// Default pause between polls when the server suggests none.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(5);

/// What the driver should do next.
#[derive(Debug)]
#[must_use]
pub enum Next {
    /// Send this request and feed the job to [`ReadinessTracker::handle_job`].
    FetchJob(ApiRequest<ImportJob>),
    /// Send this request and feed the page to [`ReadinessTracker::handle_page`].
    FetchPage(ApiRequest<VideosPage>),
    /// Sleep this long, then poll again.
    Wait(Duration),
    /// The job is ready: read [`ReadinessTracker::outcome`].
    Ready,
}

/// How far a job has come.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// The job's `total` (rows or sets), once known.
    pub total: u64,
    /// Distinct rows seen so far (equals `uploaded + failed + pending` with the
    /// counts extension).
    pub seen: u64,
    /// Rows `UPLOADED`.
    pub uploaded: u64,
    /// Rows `UPLOADING_FAILED`.
    pub failed: u64,
    /// Every other row, including unknown statuses and rows not seen yet.
    pub pending: u64,
}

/// A failed row, with the reason the server gave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedVideo {
    /// The row's video id.
    pub video_id: VideoId,
    /// The source object.
    pub import_source_uri: Option<String>,
    /// Why it failed (the `error` extension), if the server said.
    pub error: Option<String>,
    /// Multi-view: the views that failed.
    pub failed_views: Vec<FailedView>,
}

/// What came out of a ready job: the input to analysis.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportOutcome {
    /// Ids of the rows `UPLOADED`, ascending.
    pub uploaded: Vec<VideoId>,
    /// The rows `UPLOADING_FAILED`, ascending by id.
    pub failed: Vec<FailedVideo>,
    /// Multi-view rows whose front uploaded but some other view failed.
    pub incomplete_sets: Vec<FailedVideo>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum Phase {
    /// Ask for the job.
    NeedJob,
    /// Walking pages with `walk`.
    Walking,
    /// Tell the driver to wait, then go on.
    Waiting,
    /// Done.
    Ready,
}

/// The readiness contract as a state machine, in the style of a sans-I/O
/// protocol: ask [`ReadinessTracker::poll`] what to do, do it, feed the answer
/// back with `handle_*`.
///
/// It copes with rows seen twice (the latest observation wins), unknown statuses
/// (not terminal), rows that go back to `PENDING` after a retry, and a `total`
/// of 0 or one that grows. Without the extensions, a walk after the first one
/// starts after the rows already known to be terminal, and a full walk confirms
/// before it reports ready. The tracker is `Serialize`, so a wait can be saved
/// and resumed.
///
/// ```
/// use import_core::{Next, ReadinessTracker};
///
/// let mut tracker = ReadinessTracker::new("ij_7".parse()?);
/// let Next::FetchJob(req) = tracker.poll() else { unreachable!() };
/// assert_eq!(req.path(), "/api/import-jobs/ij_7");
/// // A server with the extensions says the job is terminal:
/// tracker.handle_job(serde_json::from_str(r#"{"job_id":"ij_7","source":"s3","bucket":"b",
///     "total":2,"created_at":"t","terminal":true,"counts":{"uploaded":1,"failed":1,"pending":0}}"#)?);
/// // One walk collects the ids:
/// let Next::FetchPage(req) = tracker.poll() else { unreachable!() };
/// assert_eq!(req.path_and_query(), "/api/import-jobs/ij_7/videos?limit=1000");
/// tracker.handle_page(serde_json::from_str(r#"{"import_job_id":"ij_7","total":2,"limit":1000,
///     "has_more":false,"videos":[{"video_id":"vi_1","status":"UPLOADED"},
///     {"video_id":"vi_2","status":"UPLOADING_FAILED","error":"object not found"}]}"#)?)?;
/// assert!(matches!(tracker.poll(), Next::Ready));
/// let outcome = tracker.outcome().expect("ready");
/// assert_eq!(outcome.uploaded[0].as_str(), "vi_1");
/// assert_eq!(outcome.failed[0].error.as_deref(), Some("object not found"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReadinessTracker {
    job_id: ImportJobId,
    page_limit: u32,
    poll_interval_ms: u64,
    phase: Phase,
    /// Whether the server has the job extensions; `None` until the first job.
    extensions: Option<bool>,
    total: Option<u64>,
    counts: Option<Counts>,
    poll_after_secs: Option<u64>,
    rows: BTreeMap<VideoId, VideoRow>,
    walk: Option<Pager>,
    /// The current walk started at the first row.
    walk_is_full: bool,
}

impl ReadinessTracker {
    /// A tracker for a job, with 1000-row pages and a 5 s default poll interval.
    pub fn new(job_id: ImportJobId) -> ReadinessTracker {
        ReadinessTracker {
            job_id,
            page_limit: 1000,
            poll_interval_ms: DEFAULT_POLL_INTERVAL.as_millis() as u64,
            phase: Phase::NeedJob,
            extensions: None,
            total: None,
            counts: None,
            poll_after_secs: None,
            rows: BTreeMap::new(),
            walk: None,
            walk_is_full: false,
        }
    }

    /// Rows per page when walking (1..=1000; out of range falls back to 500).
    #[must_use]
    pub fn with_page_limit(mut self, limit: u32) -> ReadinessTracker {
        self.page_limit = if (1..=1000).contains(&limit) {
            limit
        } else {
            DEFAULT_PAGE_LIMIT
        };
        self
    }

    /// Pause between polls when the server suggests none (`poll_after_seconds`).
    #[must_use]
    pub fn with_poll_interval(mut self, interval: Duration) -> ReadinessTracker {
        self.poll_interval_ms = interval.as_millis().min(u128::from(u64::MAX)) as u64;
        self
    }

    /// The job tracked.
    pub fn job_id(&self) -> &ImportJobId {
        &self.job_id
    }

    /// Whether the server answered with the job extensions (`None` until known).
    pub fn has_extensions(&self) -> Option<bool> {
        self.extensions
    }

    /// What to do next. After [`Next::Wait`] the driver sleeps and polls again.
    pub fn poll(&mut self) -> Next {
        match self.phase {
            Phase::Ready => Next::Ready,
            Phase::NeedJob => Next::FetchJob(api::get_import_job(&self.job_id)),
            Phase::Walking => match self.walk.as_ref().and_then(Pager::poll_request) {
                Some(req) => Next::FetchPage(req),
                None => {
                    // A walk without a request left: should not happen, start over.
                    self.start_walk(true);
                    self.poll()
                }
            },
            Phase::Waiting => {
                let wait = self.wait();
                if self.extensions == Some(false) {
                    let full = self.rows.len() as u64 >= self.total.unwrap_or(0);
                    self.start_walk(!full);
                } else {
                    self.phase = Phase::NeedJob;
                }
                Next::Wait(wait)
            }
        }
    }

    fn wait(&self) -> Duration {
        match (self.extensions, self.poll_after_secs) {
            (Some(true), Some(secs)) => Duration::from_secs(secs),
            _ => Duration::from_millis(self.poll_interval_ms),
        }
    }

    /// Start a walk: from the first row when `full`, else after the rows already
    /// known to be terminal.
    fn start_walk(&mut self, full: bool) {
        let after = if full {
            None
        } else {
            self.rows
                .iter()
                .take_while(|(_, r)| r.status.is_terminal())
                .last()
                .map(|(id, _)| id.clone())
        };
        self.walk_is_full = after.is_none();
        // The limit was checked by `with_page_limit`.
        self.walk = Pager::after(self.job_id.clone(), self.page_limit, after).ok();
        self.phase = Phase::Walking;
    }

    /// Feed a job answer.
    pub fn handle_job(&mut self, job: ImportJob) {
        self.total = Some(job.total);
        self.extensions = Some(job.terminal.is_some());
        self.counts = job.counts;
        self.poll_after_secs = job.poll_after_seconds;
        if self.phase == Phase::Ready {
            return;
        }
        match job.terminal {
            // Extensions: one request per poll until terminal, then one full walk.
            Some(false) => self.phase = Phase::Waiting,
            Some(true) => self.start_walk(true),
            None => {
                if self.phase != Phase::Walking {
                    self.start_walk(true);
                }
            }
        }
    }

    /// Feed a page answer. Rows already seen are replaced by the newer
    /// observation; a page that would not move the walk forward is an
    /// [`AnswerError::Protocol`].
    pub fn handle_page(&mut self, page: VideosPage) -> Result<(), AnswerError> {
        self.total = Some(page.total);
        let rows = match (self.phase, self.walk.as_mut()) {
            (Phase::Walking, Some(walk)) => walk.handle_page(page)?,
            _ => page.videos,
        };
        for row in rows {
            self.rows.insert(row.video_id.clone(), row);
        }
        let walk_done = self.walk.as_ref().is_none_or(Pager::is_done);
        if self.phase == Phase::Walking && walk_done {
            self.walk = None;
            if self.contract_holds() {
                if self.walk_is_full {
                    self.phase = Phase::Ready;
                } else {
                    // Confirm with one full walk before saying ready.
                    self.start_walk(true);
                }
            } else {
                self.phase = Phase::Waiting;
            }
        }
        Ok(())
    }

    /// Feed the answer of a retry made through this client: those rows are
    /// pending again and the job is no longer ready.
    pub fn handle_retry(&mut self, retry: &RetryResponse) {
        for id in &retry.video_ids {
            if let Some(row) = self.rows.get_mut(id) {
                row.status = VideoStatus::Pending;
                row.error = None;
            }
        }
        if retry.retried > 0 {
            self.counts = None;
            self.phase = Phase::NeedJob;
            self.walk = None;
        }
    }

    /// The readiness contract on what has been seen: ids reach `total` and every
    /// row is terminal.
    pub fn contract_holds(&self) -> bool {
        let Some(total) = self.total else {
            return false;
        };
        self.rows.len() as u64 >= total && self.rows.values().all(|r| r.status.is_terminal())
    }

    /// Whether the job is ready.
    pub fn is_ready(&self) -> bool {
        self.phase == Phase::Ready
    }

    /// Progress so far: from the job's `counts` when the server has them and no
    /// walk has been completed, else from the rows seen.
    pub fn progress(&self) -> Progress {
        let total = self.total.unwrap_or(0);
        if let (Some(c), false) = (self.counts, self.phase == Phase::Ready) {
            return Progress {
                total,
                seen: c.uploaded + c.failed + c.pending,
                uploaded: c.uploaded,
                failed: c.failed,
                pending: c.pending,
            };
        }
        let mut p = Progress {
            total,
            seen: self.rows.len() as u64,
            ..Progress::default()
        };
        for row in self.rows.values() {
            match row.status {
                VideoStatus::Uploaded => p.uploaded += 1,
                VideoStatus::UploadingFailed => p.failed += 1,
                _ => p.pending += 1,
            }
        }
        p.pending += total.saturating_sub(p.seen);
        p
    }

    /// Every row seen, ascending by id.
    pub fn rows(&self) -> impl Iterator<Item = &VideoRow> {
        self.rows.values()
    }

    /// The uploaded ids and failed rows, once ready.
    pub fn outcome(&self) -> Option<ImportOutcome> {
        if !self.is_ready() {
            return None;
        }
        let mut out = ImportOutcome::default();
        for row in self.rows.values() {
            let failed = || FailedVideo {
                video_id: row.video_id.clone(),
                import_source_uri: row.import_source_uri.clone(),
                error: row.error.clone(),
                failed_views: row.failed_views.clone().unwrap_or_default(),
            };
            match row.status {
                VideoStatus::Uploaded => {
                    out.uploaded.push(row.video_id.clone());
                    if row.failed_views.as_ref().is_some_and(|v| !v.is_empty()) {
                        out.incomplete_sets.push(failed());
                    }
                }
                VideoStatus::UploadingFailed => out.failed.push(failed()),
                _ => {}
            }
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(total: u64, terminal: Option<bool>) -> ImportJob {
        ImportJob {
            job_id: "ij_1".parse().unwrap(),
            source: crate::Provider::S3,
            bucket: "b".into(),
            prefix: None,
            folder_id: None,
            folder_name: None,
            total,
            created_at: "t".into(),
            updated_at: None,
            completed_at: None,
            status: None,
            terminal,
            counts: terminal.map(|_| Counts::default()),
            poll_after_seconds: Some(2),
            failure_summary: None,
            multi_view: None,
        }
    }

    fn row(id: &str, status: &str) -> VideoRow {
        VideoRow {
            video_id: id.parse().unwrap(),
            status: VideoStatus::from_wire(status),
            import_source_uri: Some(format!("s3://b/{id}.mp4")),
            error: (status == "UPLOADING_FAILED").then(|| "object not found".to_owned()),
            error_code: None,
            set_video_id: None,
            views: None,
            failed_views: None,
            last_error: None,
        }
    }

    fn page(total: u64, rows: &[(&str, &str)], next: Option<&str>) -> VideosPage {
        VideosPage {
            import_job_id: "ij_1".parse().unwrap(),
            total,
            limit: 1000,
            cursor: None,
            has_more: next.is_some(),
            next_cursor: next.map(|n| n.parse().unwrap()),
            video_count: None,
            videos: rows.iter().map(|(i, s)| row(i, s)).collect(),
        }
    }

    fn expect_job(t: &mut ReadinessTracker) {
        assert!(matches!(t.poll(), Next::FetchJob(_)));
    }

    fn expect_page(t: &mut ReadinessTracker) -> String {
        match t.poll() {
            Next::FetchPage(req) => req.path_and_query(),
            other => panic!("expected a page, got {other:?}"),
        }
    }

    #[test]
    fn extensions_one_request_per_poll_until_terminal() {
        let mut t = ReadinessTracker::new("ij_1".parse().unwrap());
        expect_job(&mut t);
        t.handle_job(job(2, Some(false)));
        assert_eq!(t.has_extensions(), Some(true));
        assert!(matches!(t.poll(), Next::Wait(d) if d == Duration::from_secs(2)));
        expect_job(&mut t);
        t.handle_job(job(2, Some(true)));
        expect_page(&mut t);
        t.handle_page(page(2, &[("vi_1", "UPLOADED"), ("vi_2", "UPLOADED")], None))
            .unwrap();
        assert!(matches!(t.poll(), Next::Ready));
        assert_eq!(t.outcome().unwrap().uploaded.len(), 2);
    }

    #[test]
    fn page_walk_without_extensions_resumes_after_terminal_prefix() {
        let mut t = ReadinessTracker::new("ij_1".parse().unwrap())
            .with_poll_interval(Duration::from_millis(10));
        expect_job(&mut t);
        t.handle_job(job(3, None));
        assert_eq!(t.has_extensions(), Some(false));
        assert_eq!(
            expect_page(&mut t),
            "/api/import-jobs/ij_1/videos?limit=1000"
        );
        t.handle_page(page(
            3,
            &[
                ("vi_1", "UPLOADED"),
                ("vi_2", "PENDING"),
                ("vi_3", "UPLOADED"),
            ],
            None,
        ))
        .unwrap();
        assert!(matches!(t.poll(), Next::Wait(d) if d == Duration::from_millis(10)));
        // The next walk starts after vi_1, which is terminal.
        assert_eq!(
            expect_page(&mut t),
            "/api/import-jobs/ij_1/videos?limit=1000&cursor=vi_1"
        );
        t.handle_page(page(
            3,
            &[("vi_2", "UPLOADING_FAILED"), ("vi_3", "UPLOADED")],
            None,
        ))
        .unwrap();
        assert!(!t.is_ready());
        // A partial walk said ready: one full walk confirms.
        assert_eq!(
            expect_page(&mut t),
            "/api/import-jobs/ij_1/videos?limit=1000"
        );
        t.handle_page(page(
            3,
            &[
                ("vi_1", "UPLOADED"),
                ("vi_2", "UPLOADING_FAILED"),
                ("vi_3", "UPLOADED"),
            ],
            None,
        ))
        .unwrap();
        assert!(matches!(t.poll(), Next::Ready));
        let out = t.outcome().unwrap();
        assert_eq!(
            out.uploaded.iter().map(VideoId::as_str).collect::<Vec<_>>(),
            ["vi_1", "vi_3"]
        );
        assert_eq!(out.failed[0].video_id.as_str(), "vi_2");
        assert_eq!(out.failed[0].error.as_deref(), Some("object not found"));
    }

    #[test]
    fn missing_rows_keep_it_not_ready_and_force_full_walks() {
        let mut t = ReadinessTracker::new("ij_1".parse().unwrap());
        expect_job(&mut t);
        t.handle_job(job(3, None));
        expect_page(&mut t);
        t.handle_page(page(3, &[("vi_1", "UPLOADED"), ("vi_2", "UPLOADED")], None))
            .unwrap();
        assert!(!t.is_ready());
        assert_eq!(t.progress().pending, 1);
        assert!(matches!(t.poll(), Next::Wait(_)));
        assert_eq!(
            expect_page(&mut t),
            "/api/import-jobs/ij_1/videos?limit=1000"
        );
    }

    #[test]
    fn total_zero_is_ready_after_an_empty_walk() {
        let mut t = ReadinessTracker::new("ij_1".parse().unwrap());
        expect_job(&mut t);
        t.handle_job(job(0, None));
        expect_page(&mut t);
        t.handle_page(page(0, &[], None)).unwrap();
        assert!(t.is_ready());
        assert_eq!(t.outcome().unwrap(), ImportOutcome::default());
    }

    #[test]
    fn growing_total_is_followed() {
        let mut t = ReadinessTracker::new("ij_1".parse().unwrap());
        expect_job(&mut t);
        t.handle_job(job(1, None));
        expect_page(&mut t);
        t.handle_page(page(2, &[("vi_1", "UPLOADED")], None))
            .unwrap();
        assert!(!t.is_ready(), "total grew to 2 while one row was seen");
    }

    #[test]
    fn unknown_status_is_not_terminal() {
        let mut t = ReadinessTracker::new("ij_1".parse().unwrap());
        expect_job(&mut t);
        t.handle_job(job(1, None));
        expect_page(&mut t);
        t.handle_page(page(1, &[("vi_1", "TRANSCODING")], None))
            .unwrap();
        assert!(!t.is_ready());
    }

    #[test]
    fn rows_back_to_pending_after_retry() {
        let mut t = ReadinessTracker::new("ij_1".parse().unwrap());
        expect_job(&mut t);
        t.handle_job(job(1, None));
        expect_page(&mut t);
        t.handle_page(page(1, &[("vi_1", "UPLOADING_FAILED")], None))
            .unwrap();
        assert!(t.is_ready());
        t.handle_retry(&RetryResponse {
            import_job_id: "ij_1".parse().unwrap(),
            retried: 1,
            video_ids: vec!["vi_1".parse().unwrap()],
        });
        assert!(!t.is_ready());
        assert!(t.outcome().is_none());
        expect_job(&mut t);
        t.handle_job(job(1, None));
        expect_page(&mut t);
        t.handle_page(page(1, &[("vi_1", "PENDING")], None))
            .unwrap();
        assert!(!t.is_ready());
    }

    #[test]
    fn duplicate_rows_count_once_latest_wins() {
        let mut t = ReadinessTracker::new("ij_1".parse().unwrap()).with_page_limit(1);
        expect_job(&mut t);
        t.handle_job(job(2, None));
        assert_eq!(expect_page(&mut t), "/api/import-jobs/ij_1/videos?limit=1");
        t.handle_page(page(2, &[("vi_1", "PENDING")], Some("vi_1")))
            .unwrap();
        expect_page(&mut t);
        t.handle_page(page(2, &[("vi_1", "UPLOADED")], Some("vi_1b")))
            .unwrap();
        expect_page(&mut t);
        t.handle_page(page(2, &[("vi_1", "UPLOADED")], None))
            .unwrap();
        assert!(!t.is_ready(), "one distinct id of two");
        assert_eq!(t.progress().seen, 1);
    }

    #[test]
    fn progress_uses_counts_when_present() {
        let mut t = ReadinessTracker::new("ij_1".parse().unwrap());
        expect_job(&mut t);
        let mut j = job(10, Some(false));
        j.counts = Some(Counts {
            uploaded: 3,
            failed: 1,
            pending: 6,
        });
        t.handle_job(j);
        assert_eq!(
            t.progress(),
            Progress {
                total: 10,
                seen: 10,
                uploaded: 3,
                failed: 1,
                pending: 6
            }
        );
    }

    #[test]
    fn multi_view_incomplete_sets_are_reported() {
        let mut t = ReadinessTracker::new("ij_1".parse().unwrap());
        expect_job(&mut t);
        t.handle_job(job(1, Some(true)));
        expect_page(&mut t);
        let mut p = page(1, &[("vi_1", "UPLOADED")], None);
        p.videos[0].failed_views = Some(vec![FailedView {
            video_id: "vi_2".parse().unwrap(),
            status: VideoStatus::UploadingFailed,
            role: "left".into(),
            error: Some("access denied".into()),
            error_code: None,
            import_source_uri: Some("s3://b/trip/left.mp4".into()),
        }]);
        t.handle_page(p).unwrap();
        let out = t.outcome().unwrap();
        assert_eq!(out.uploaded.len(), 1);
        assert_eq!(out.incomplete_sets[0].failed_views[0].role, "left");
        assert_eq!(
            out.incomplete_sets[0].failed_views[0]
                .import_source_uri
                .as_deref(),
            Some("s3://b/trip/left.mp4")
        );
    }

    #[test]
    fn state_survives_save_and_resume() {
        let mut t = ReadinessTracker::new("ij_1".parse().unwrap()).with_page_limit(1);
        expect_job(&mut t);
        t.handle_job(job(2, None));
        expect_page(&mut t);
        t.handle_page(page(2, &[("vi_1", "UPLOADED")], Some("vi_1")))
            .unwrap();
        let saved = serde_json::to_string(&t).unwrap();
        let mut back: ReadinessTracker = serde_json::from_str(&saved).unwrap();
        assert_eq!(
            expect_page(&mut back),
            "/api/import-jobs/ij_1/videos?limit=1&cursor=vi_1"
        );
        back.handle_page(page(2, &[("vi_2", "UPLOADED")], None))
            .unwrap();
        assert!(back.is_ready());
    }
}
