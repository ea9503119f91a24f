//! Paging through the per-video statuses of a job, by cursor or by offset.

use serde::{Deserialize, Serialize};

use crate::api::{self, ApiRequest};
use crate::error::{AnswerError, PagingProblem, Result};
use crate::ids::{FolderId, ImportJobId, VideoId};
use crate::wire::{ImportJob, JobStatus, VideoRow, VideosPage};

/// Default rows per page.
pub const DEFAULT_PAGE_LIMIT: u32 = 500;
/// Most rows per page.
pub const MAX_PAGE_LIMIT: u32 = 1000;

/// The paging parameters of one `videos` request, validated.
///
/// ```
/// use import_core::PageRequest;
/// let first = PageRequest::first(100)?;
/// assert_eq!(first.limit(), 100);
/// assert!(PageRequest::first(0).is_err());
/// // What a server does with the query string:
/// let err = PageRequest::from_query(Some("10"), Some("vi_1"), Some("20")).unwrap_err();
/// assert_eq!(err.http_status(), 400);
/// # Ok::<(), import_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageRequest {
    limit: u32,
    cursor: Option<VideoId>,
    offset: Option<u64>,
}

fn check_limit(limit: i64) -> Result<u32> {
    if (1..=i64::from(MAX_PAGE_LIMIT)).contains(&limit) {
        Ok(limit as u32)
    } else {
        Err(PagingProblem::LimitOutOfRange { limit }.into())
    }
}

impl PageRequest {
    /// The first page, by cursor.
    pub fn first(limit: u32) -> Result<PageRequest> {
        PageRequest::new(limit, None, None)
    }

    /// Any page: at most one of `cursor` and `offset`.
    pub fn new(limit: u32, cursor: Option<VideoId>, offset: Option<u64>) -> Result<PageRequest> {
        let limit = check_limit(i64::from(limit))?;
        if cursor.is_some() && offset.is_some() {
            return Err(PagingProblem::CursorAndOffset.into());
        }
        Ok(PageRequest {
            limit,
            cursor,
            offset,
        })
    }

    /// Parse the raw query parameters a server receives (`limit` defaults to 500).
    pub fn from_query(
        limit: Option<&str>,
        cursor: Option<&str>,
        offset: Option<&str>,
    ) -> Result<PageRequest> {
        // A parameter given with no value is an error, not "absent" (the
        // document's schemas give each a form an empty value does not meet).
        let limit = match limit.map(str::trim) {
            None => DEFAULT_PAGE_LIMIT,
            Some(raw) => {
                let n: i64 = raw.parse().map_err(|_| PagingProblem::NotANumber {
                    field: "limit",
                    value: raw.to_owned(),
                })?;
                check_limit(n)?
            }
        };
        let cursor = match cursor.map(str::trim) {
            None => None,
            Some(raw) => Some(VideoId::new(raw)?),
        };
        let offset = match offset.map(str::trim) {
            None => None,
            // 0 to i64::MAX, the document's `int64` with `minimum: 0`.
            Some(raw) => Some(
                raw.parse::<i64>()
                    .ok()
                    .and_then(|n| u64::try_from(n).ok())
                    .ok_or_else(|| PagingProblem::NotANumber {
                        field: "offset",
                        value: raw.to_owned(),
                    })?,
            ),
        };
        PageRequest::new(limit, cursor, offset)
    }

    /// Refuse `offset` on a multi-view job.
    pub fn check_for_job(&self, multi_view: bool) -> Result<()> {
        if multi_view && self.offset.is_some() {
            return Err(PagingProblem::OffsetOnMultiView.into());
        }
        Ok(())
    }

    /// Rows per page.
    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// The cursor (rows with a greater id follow).
    pub fn cursor(&self) -> Option<&VideoId> {
        self.cursor.as_ref()
    }

    /// The offset.
    pub fn offset(&self) -> Option<u64> {
        self.offset
    }
}

/// Default jobs per page of `GET /api/import-jobs`.
pub const DEFAULT_JOB_PAGE_LIMIT: u32 = 50;
/// Most jobs per page of `GET /api/import-jobs`.
pub const MAX_JOB_PAGE_LIMIT: u32 = 500;

/// The query of `GET /api/import-jobs` (*extension*): the caller's visible
/// jobs, newest first, with optional filters; validated.
///
/// ```
/// use import_core::{JobListRequest, JobStatus};
/// let q = JobListRequest::from_query(Some("20"), None, Some("cancelled"), None, Some("2026-11-28T00:00:00Z"))?;
/// assert_eq!(q.limit(), 20);
/// assert_eq!(q.status(), Some(&JobStatus::Cancelled));
/// assert_eq!(q.created_after_ms(), Some(1_795_824_000_000));
/// assert!(JobListRequest::from_query(Some("501"), None, None, None, None).is_err());
/// assert!(JobListRequest::from_query(None, None, Some("sleeping"), None, None).is_err());
/// # Ok::<(), import_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JobListRequest {
    limit: Option<u32>,
    cursor: Option<ImportJobId>,
    status: Option<JobStatus>,
    folder_id: Option<FolderId>,
    created_after_ms: Option<i64>,
}

fn field(field: &'static str, problem: impl Into<String>) -> crate::Error {
    crate::Error::InvalidField {
        field,
        problem: problem.into(),
    }
}

impl JobListRequest {
    /// The first page with the default limit and no filter.
    pub fn new() -> JobListRequest {
        JobListRequest::default()
    }

    /// At most `limit` jobs (1 to [`MAX_JOB_PAGE_LIMIT`]).
    pub fn with_limit(mut self, limit: u32) -> Result<JobListRequest> {
        if !(1..=MAX_JOB_PAGE_LIMIT).contains(&limit) {
            return Err(field(
                "limit",
                format!(
                    "{limit} is out of range: use 1 to {MAX_JOB_PAGE_LIMIT} (default {DEFAULT_JOB_PAGE_LIMIT})"
                ),
            ));
        }
        self.limit = Some(limit);
        Ok(self)
    }

    /// The page after the one whose `next_cursor` this is.
    pub fn with_cursor(mut self, cursor: ImportJobId) -> JobListRequest {
        self.cursor = Some(cursor);
        self
    }

    /// Only jobs in `status`. A status this crate does not know is refused.
    pub fn with_status(mut self, status: JobStatus) -> Result<JobListRequest> {
        if let JobStatus::Unknown(s) = &status {
            let known: Vec<&str> = JobStatus::KNOWN.iter().map(JobStatus::as_str).collect();
            return Err(field(
                "status",
                format!("`{s}` is not a job status: use one of {}", known.join(", ")),
            ));
        }
        self.status = Some(status);
        Ok(self)
    }

    /// Only jobs into this folder.
    pub fn with_folder(mut self, folder: FolderId) -> JobListRequest {
        self.folder_id = Some(folder);
        self
    }

    /// Only jobs created after `ms` (milliseconds since the Unix epoch).
    pub fn with_created_after_ms(mut self, ms: i64) -> JobListRequest {
        self.created_after_ms = Some(ms);
        self
    }

    /// Parse the raw query parameters a server receives.
    pub fn from_query(
        limit: Option<&str>,
        cursor: Option<&str>,
        status: Option<&str>,
        folder_id: Option<&str>,
        created_after: Option<&str>,
    ) -> Result<JobListRequest> {
        let mut q = JobListRequest::new();
        // A parameter given with no value is an error, not "absent": the
        // document's schemas give each a form an empty value does not meet.
        for (name, value) in [
            ("limit", limit),
            ("cursor", cursor),
            ("status", status),
            ("folder_id", folder_id),
            ("created_after", created_after),
        ] {
            if value.is_some_and(|v| v.trim().is_empty()) {
                return Err(field(
                    name,
                    format!("is empty: give a value or leave `{name}` out"),
                ));
            }
        }
        fn given(v: Option<&str>) -> Option<&str> {
            v.map(str::trim)
        }
        if let Some(raw) = given(limit) {
            let n: u32 = raw
                .parse()
                .map_err(|_| field("limit", format!("must be a whole number, got `{raw}`")))?;
            q = q.with_limit(n)?;
        }
        if let Some(raw) = given(cursor) {
            q = q.with_cursor(ImportJobId::new(raw)?);
        }
        if let Some(raw) = given(status) {
            q = q.with_status(JobStatus::from_wire(raw))?;
        }
        if let Some(raw) = given(folder_id) {
            q = q.with_folder(FolderId::new(raw)?);
        }
        if let Some(raw) = given(created_after) {
            let t = humantime::parse_rfc3339_weak(raw).map_err(|_| {
                field(
                    "created_after",
                    format!("`{raw}` is not an RFC 3339 UTC time such as 2026-11-28T17:34:06Z"),
                )
            })?;
            let ms = t
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
            q = q.with_created_after_ms(ms);
        }
        Ok(q)
    }

    /// Jobs per page.
    pub fn limit(&self) -> u32 {
        self.limit.unwrap_or(DEFAULT_JOB_PAGE_LIMIT)
    }

    /// The cursor: jobs older than this one follow.
    pub fn cursor(&self) -> Option<&ImportJobId> {
        self.cursor.as_ref()
    }

    /// The status filter.
    pub fn status(&self) -> Option<&JobStatus> {
        self.status.as_ref()
    }

    /// The folder filter.
    pub fn folder_id(&self) -> Option<&FolderId> {
        self.folder_id.as_ref()
    }

    /// The creation-time filter (ms since the Unix epoch).
    pub fn created_after_ms(&self) -> Option<i64> {
        self.created_after_ms
    }

    /// The query pairs of the request, in a fixed order.
    pub(crate) fn query_pairs(&self) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        if let Some(limit) = self.limit {
            q.push(("limit", limit.to_string()));
        }
        if let Some(cursor) = &self.cursor {
            q.push(("cursor", cursor.as_str().to_owned()));
        }
        if let Some(status) = &self.status {
            q.push(("status", status.as_str().to_owned()));
        }
        if let Some(folder) = &self.folder_id {
            q.push(("folder_id", folder.as_str().to_owned()));
        }
        if let Some(ms) = self.created_after_ms {
            let t = std::time::UNIX_EPOCH
                + std::time::Duration::from_millis(u64::try_from(ms).unwrap_or(0));
            q.push((
                "created_after",
                humantime::format_rfc3339_millis(t).to_string(),
            ));
        }
        q
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
enum Position {
    Cursor(Option<VideoId>),
    Offset(u64),
}

/// Walks the pages of a job: ask [`Pager::poll_request`] what to fetch, feed the
/// answer to [`Pager::handle_page`], until `poll_request` answers `None`.
///
/// ```
/// use import_core::{Pager, VideosPage};
///
/// let mut pager = Pager::cursor("ij_1".parse()?, 2)?;
/// let req = pager.poll_request().expect("a first page");
/// assert_eq!(req.path_and_query(), "/api/import-jobs/ij_1/videos?limit=2");
///
/// let page: VideosPage = serde_json::from_str(r#"{"import_job_id":"ij_1","total":3,"limit":2,
///     "cursor":null,"has_more":true,"next_cursor":"vi_2",
///     "videos":[{"video_id":"vi_1","status":"UPLOADED"},{"video_id":"vi_2","status":"PENDING"}]}"#)?;
/// let rows = pager.handle_page(page)?;
/// assert_eq!(rows.len(), 2);
/// let next = pager.poll_request().expect("a second page");
/// assert_eq!(next.path_and_query(), "/api/import-jobs/ij_1/videos?limit=2&cursor=vi_2");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pager {
    job_id: ImportJobId,
    limit: u32,
    position: Position,
    done: bool,
}

impl Pager {
    /// Walk by cursor from the first row.
    pub fn cursor(job_id: ImportJobId, limit: u32) -> Result<Pager> {
        Pager::after(job_id, limit, None)
    }

    /// Walk by cursor from the row after `after` (or the first row).
    pub fn after(job_id: ImportJobId, limit: u32, after: Option<VideoId>) -> Result<Pager> {
        let limit = check_limit(i64::from(limit))?;
        Ok(Pager {
            job_id,
            limit,
            position: Position::Cursor(after),
            done: false,
        })
    }

    /// Walk by offset (not for multi-view jobs; its cost grows with depth on many servers).
    pub fn offset(job_id: ImportJobId, limit: u32, offset: u64) -> Result<Pager> {
        let limit = check_limit(i64::from(limit))?;
        Ok(Pager {
            job_id,
            limit,
            position: Position::Offset(offset),
            done: false,
        })
    }

    /// Tell the pager about the job; offset paging of a multi-view job is refused.
    pub fn handle_job(&self, job: &ImportJob) -> Result<()> {
        self.next_page()
            .map_or(Ok(()), |p| p.check_for_job(job.multi_view == Some(true)))
    }

    /// The job being walked.
    pub fn job_id(&self) -> &ImportJobId {
        &self.job_id
    }

    /// The parameters of the next page, or `None` when the walk is over.
    pub fn next_page(&self) -> Option<PageRequest> {
        if self.done {
            return None;
        }
        Some(match &self.position {
            Position::Cursor(c) => PageRequest {
                limit: self.limit,
                cursor: c.clone(),
                offset: None,
            },
            Position::Offset(o) => PageRequest {
                limit: self.limit,
                cursor: None,
                offset: Some(*o),
            },
        })
    }

    /// The request of the next page, or `None` when the walk is over.
    #[must_use]
    pub fn poll_request(&self) -> Option<ApiRequest<VideosPage>> {
        self.next_page()
            .map(|p| api::get_import_job_videos(&self.job_id, &p))
    }

    /// Whether the last page has been handled.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Feed the answer to the last request; returns its rows and moves on.
    ///
    /// A page that claims more rows but would not move the walk forward is an
    /// [`AnswerError::Protocol`] rather than an endless loop.
    pub fn handle_page(&mut self, page: VideosPage) -> Result<Vec<VideoRow>, AnswerError> {
        if self.done {
            return Ok(Vec::new());
        }
        if !page.has_more {
            self.done = true;
            return Ok(page.videos);
        }
        match &mut self.position {
            Position::Cursor(cursor) => {
                let next = page
                    .next_cursor
                    .clone()
                    .or_else(|| page.videos.last().map(|r| r.video_id.clone()));
                match next {
                    Some(next) if cursor.as_ref() != Some(&next) => *cursor = Some(next),
                    _ => {
                        return Err(AnswerError::Protocol {
                            problem: format!(
                                "the page after cursor {:?} says `has_more` but gives no new cursor",
                                cursor.as_ref().map(VideoId::as_str)
                            ),
                        });
                    }
                }
            }
            Position::Offset(offset) => {
                if page.videos.is_empty() {
                    return Err(AnswerError::Protocol {
                        problem: format!(
                            "the page at offset {offset} says `has_more` but holds no rows"
                        ),
                    });
                }
                *offset += page.videos.len() as u64;
            }
        }
        Ok(page.videos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(ids: &[&str], has_more: bool, next: Option<&str>) -> VideosPage {
        VideosPage {
            import_job_id: "ij_1".parse().unwrap(),
            total: 10,
            limit: 2,
            cursor: None,
            has_more,
            next_cursor: next.map(|n| n.parse().unwrap()),
            video_count: Some(ids.len() as u64),
            videos: ids
                .iter()
                .map(|id| VideoRow {
                    video_id: id.parse().unwrap(),
                    status: crate::VideoStatus::Pending,
                    import_source_uri: None,
                    error: None,
                    error_code: None,
                    set_video_id: None,
                    views: None,
                    failed_views: None,
                    last_error: None,
                })
                .collect(),
        }
    }

    #[test]
    fn empty_parameters_are_refused_not_taken_as_absent() {
        for (limit, cursor, offset) in [
            (Some(""), None, None),
            (None, Some(" "), None),
            (None, None, Some("")),
        ] {
            let err = PageRequest::from_query(limit, cursor, offset).unwrap_err();
            assert_eq!(err.http_status(), 422, "{err}");
        }
        // The document's `int64`: 2^63 is not an offset, nor is -1.
        for offset in ["9223372036854775808", "-1"] {
            assert!(PageRequest::from_query(None, None, Some(offset)).is_err());
        }
        assert!(PageRequest::from_query(None, None, Some("9223372036854775807")).is_ok());
        let err = JobListRequest::from_query(None, None, None, None, Some("")).unwrap_err();
        assert!(
            err.to_string().contains("`created_after` is empty"),
            "{err}"
        );
    }

    #[test]
    fn limit_bounds_and_messages() {
        assert!(PageRequest::first(1).is_ok());
        assert!(PageRequest::first(1000).is_ok());
        let err = PageRequest::first(1001).unwrap_err();
        assert_eq!(err.http_status(), 422);
        assert_eq!(
            err.to_string(),
            "page limit 1001 is out of range: use a limit from 1 to 1000 (default 500)"
        );
        let err = PageRequest::from_query(Some("-5"), None, None).unwrap_err();
        assert_eq!(
            err,
            crate::Error::from(PagingProblem::LimitOutOfRange { limit: -5 })
        );
        let err = PageRequest::from_query(Some("ten"), None, None).unwrap_err();
        assert_eq!(err.to_string(), "`limit` must be a whole number, got `ten`");
        assert_eq!(err.http_status(), 422);
        let err = PageRequest::from_query(None, None, Some("-1")).unwrap_err();
        assert_eq!(err.to_string(), "`offset` must be a whole number, got `-1`");
        assert_eq!(
            PageRequest::from_query(None, None, None).unwrap().limit(),
            500
        );
        assert!(Pager::cursor("ij_1".parse().unwrap(), 0).is_err());
    }

    #[test]
    fn cursor_and_offset_together() {
        let err = PageRequest::new(5, Some("vi_1".parse().unwrap()), Some(3)).unwrap_err();
        assert_eq!(err.http_status(), 400);
        assert!(
            err.to_string()
                .starts_with("give either `cursor` or `offset`, not both")
        );
    }

    #[test]
    fn offset_on_multi_view() {
        let req = PageRequest::new(5, None, Some(3)).unwrap();
        assert!(req.check_for_job(false).is_ok());
        let err = req.check_for_job(true).unwrap_err();
        assert_eq!(err.http_status(), 400);
        assert_eq!(
            err.to_string(),
            "`offset` paging is not available on a multi-view job; page with `cursor` instead"
        );
        let pager = Pager::offset("ij_1".parse().unwrap(), 5, 0).unwrap();
        let mut job: ImportJob = serde_json::from_str(
            r#"{"job_id":"ij_1","source":"s3","bucket":"b","total":1,"created_at":"t","multi_view":true}"#,
        )
        .unwrap();
        assert!(pager.handle_job(&job).is_err());
        job.multi_view = None;
        assert!(pager.handle_job(&job).is_ok());
    }

    #[test]
    fn cursor_walk() {
        let mut p = Pager::cursor("ij_1".parse().unwrap(), 2).unwrap();
        p.handle_page(page(&["vi_1", "vi_2"], true, Some("vi_2")))
            .unwrap();
        assert_eq!(p.next_page().unwrap().cursor().unwrap().as_str(), "vi_2");
        // No next_cursor: the last id is used.
        p.handle_page(page(&["vi_3", "vi_4"], true, None)).unwrap();
        assert_eq!(p.next_page().unwrap().cursor().unwrap().as_str(), "vi_4");
        p.handle_page(page(&["vi_5"], false, None)).unwrap();
        assert!(p.is_done());
        assert!(p.poll_request().is_none());
    }

    #[test]
    fn stuck_cursor_is_a_protocol_error() {
        let mut p =
            Pager::after("ij_1".parse().unwrap(), 2, Some("vi_2".parse().unwrap())).unwrap();
        let err = p.handle_page(page(&[], true, Some("vi_2"))).unwrap_err();
        assert!(err.to_string().contains("gives no new cursor"), "{err}");
        let mut p = Pager::cursor("ij_1".parse().unwrap(), 2).unwrap();
        assert!(p.handle_page(page(&[], true, None)).is_err());
    }

    #[test]
    fn offset_walk() {
        let mut p = Pager::offset("ij_1".parse().unwrap(), 2, 4).unwrap();
        assert_eq!(
            p.poll_request().unwrap().path_and_query(),
            "/api/import-jobs/ij_1/videos?limit=2&offset=4"
        );
        p.handle_page(page(&["vi_5", "vi_6"], true, None)).unwrap();
        assert_eq!(p.next_page().unwrap().offset(), Some(6));
        let err = p.handle_page(page(&[], true, None)).unwrap_err();
        assert!(err.to_string().contains("holds no rows"), "{err}");
    }
}
