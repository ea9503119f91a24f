//! Import job routes: the job, the caller's jobs, its rows page by page,
//! retry, cancel, one video's status.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use import_core::wire::{
    FailedView, ImportJob, ImportJobList, RetryRequest, RetryResponse, VideoMetadata, VideoStatus,
    VideoStatusResponse, VideosPage, ViewStatus,
};
use import_core::{ImportJobId, JobListRequest, PageRequest, VideoId};

use super::guard::Caller;
use super::{St, convert, path_id, query_map};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{JobQuery, JobRecord, Principal, RowRecord};

/// Most ids accepted by one retry request.
const MAX_RETRY_IDS: usize = 10_000;

/// The job `id` names, if the caller may see it.
async fn visible_job(st: &AppState, who: &Principal, id: &str) -> Result<JobRecord, ApiError> {
    const WHAT: &str = "import job";
    let id: ImportJobId = path_id(id, WHAT)?;
    st.store
        .jobs()
        .job(who, &id)
        .await?
        .ok_or_else(|| ApiError::not_found(WHAT))
}

pub(crate) async fn get_job(
    State(st): St,
    axum::Extension(who): Caller,
    Path(id): Path<String>,
) -> Result<Json<ImportJob>, ApiError> {
    let job = visible_job(&st, &who, &id).await?;
    Ok(Json(with_summary(&st, job).await?))
}

/// A job as the API shows it, its failure summary included.
async fn with_summary(st: &AppState, job: JobRecord) -> Result<ImportJob, ApiError> {
    let mut summaries = st
        .store
        .jobs()
        .failure_summaries(std::slice::from_ref(&job.id))
        .await?;
    let summary = summaries.remove(&job.id).unwrap_or_default();
    Ok(convert::job(&job, summary))
}

pub(crate) async fn list_jobs(
    State(st): St,
    axum::Extension(who): Caller,
    RawQuery(raw): RawQuery,
) -> Result<Json<ImportJobList>, ApiError> {
    let q = query_map(raw.as_deref());
    let get = |k: &str| q.get(k).map(String::as_str);
    let req = JobListRequest::from_query(
        get("limit"),
        get("cursor"),
        get("status"),
        get("folder_id"),
        get("created_after"),
    )?;
    let query = JobQuery {
        limit: req.limit() + 1,
        before: req.cursor().cloned(),
        status: req.status().cloned(),
        folder_id: req.folder_id().cloned(),
        created_after: req.created_after_ms(),
    };
    let mut jobs = st.store.jobs().list_jobs(&who, &query).await?;
    let has_more = jobs.len() > req.limit() as usize;
    jobs.truncate(req.limit() as usize);
    let ids: Vec<ImportJobId> = jobs.iter().map(|j| j.id.clone()).collect();
    let mut summaries = st.store.jobs().failure_summaries(&ids).await?;
    let next_cursor = if has_more { ids.last().cloned() } else { None };
    Ok(Json(ImportJobList {
        jobs: jobs
            .iter()
            .map(|j| convert::job(j, summaries.remove(&j.id).unwrap_or_default()))
            .collect(),
        has_more,
        next_cursor,
    }))
}

/// What a cancelled row's `error` says.
const CANCELLED_REASON: &str =
    "the import job was cancelled before this object was uploaded; retry the job to import it";

pub(crate) async fn cancel_job(
    State(st): St,
    axum::Extension(who): Caller,
    Path(id): Path<String>,
) -> Result<Json<ImportJob>, ApiError> {
    const WHAT: &str = "import job";
    let id: ImportJobId = path_id(&id, WHAT)?;
    let job = st
        .store
        .jobs()
        .cancel_job(&who, &id, CANCELLED_REASON, st.now_ms())
        .await?
        .ok_or_else(|| ApiError::not_found(WHAT))?;
    Ok(Json(with_summary(&st, job).await?))
}

pub(crate) async fn get_job_videos(
    State(st): St,
    axum::Extension(who): Caller,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<VideosPage>, ApiError> {
    let q = query_map(raw.as_deref());
    let page = PageRequest::from_query(
        q.get("limit").map(String::as_str),
        q.get("cursor").map(String::as_str),
        q.get("offset").map(String::as_str),
    )?;
    let job = visible_job(&st, &who, &id).await?;
    page.check_for_job(job.multi_view)?;
    let mut rows = st.store.jobs().list_rows(&job, &page).await?;
    let has_more = rows.len() > page.limit() as usize;
    rows.truncate(page.limit() as usize);
    let mut videos: Vec<_> = rows.iter().map(convert::row).collect();
    if job.multi_view && !rows.is_empty() {
        let set_ids: Vec<VideoId> = rows.iter().map(|r| r.id.clone()).collect();
        let mut by_set: BTreeMap<VideoId, Vec<RowRecord>> = BTreeMap::new();
        for view in st.store.jobs().set_views(&job.id, &set_ids).await? {
            if let Some(set) = view.set_id.clone() {
                by_set.entry(set).or_default().push(view);
            }
        }
        for (video, row) in videos.iter_mut().zip(&rows) {
            let views = by_set.remove(&row.id).unwrap_or_default();
            let mut map = BTreeMap::new();
            let mut failed = Vec::new();
            for v in views {
                let role = v.role.map(|r| r.as_str().to_owned()).unwrap_or_default();
                if v.status == VideoStatus::UploadingFailed {
                    failed.push(FailedView {
                        video_id: v.id.clone(),
                        status: v.status.clone(),
                        role: role.clone(),
                        error: v.error,
                        error_code: v.error_code,
                        import_source_uri: Some(v.source_uri.clone()),
                    });
                }
                map.insert(
                    role,
                    ViewStatus {
                        video_id: v.id,
                        status: v.status,
                        import_source_uri: Some(v.source_uri),
                    },
                );
            }
            video.set_video_id = Some(video.video_id.clone());
            video.views = Some(map);
            video.failed_views = Some(failed);
        }
    }
    let next_cursor = if has_more {
        videos.last().map(|v| v.video_id.clone())
    } else {
        None
    };
    Ok(Json(VideosPage {
        import_job_id: job.id,
        total: job.total.max(0) as u64,
        limit: page.limit(),
        cursor: page.cursor().cloned(),
        has_more,
        next_cursor,
        video_count: Some(videos.len() as u64),
        videos,
    }))
}

pub(crate) async fn retry_job(
    State(st): St,
    axum::Extension(who): Caller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<RetryResponse>, ApiError> {
    let req: RetryRequest = if body.iter().all(u8::is_ascii_whitespace) {
        RetryRequest::default()
    } else {
        super::body::parse(&body)?
    };
    let job = visible_job(&st, &who, &id).await?;
    if req
        .video_ids
        .as_ref()
        .is_some_and(|v| v.len() > MAX_RETRY_IDS)
    {
        return Err(ApiError::unprocessable(format!(
            "at most {MAX_RETRY_IDS} video ids per retry request; send several requests, or `null` to retry every failed row"
        )));
    }
    let retried = st
        .store
        .jobs()
        .retry_rows(&job, req.video_ids.as_deref(), st.now_ms())
        .await?;
    if !retried.is_empty() {
        st.wake.notify_waiters();
    }
    Ok(Json(RetryResponse {
        import_job_id: job.id,
        retried: retried.len() as u64,
        video_ids: retried,
    }))
}

pub(crate) async fn video_status(
    State(st): St,
    axum::Extension(who): Caller,
    Path(id): Path<String>,
) -> Result<Json<VideoStatusResponse>, ApiError> {
    const WHAT: &str = "video";
    let id: VideoId = path_id(&id, WHAT)?;
    let (row, job) = st
        .store
        .jobs()
        .video(&who, &id)
        .await?
        .ok_or_else(|| ApiError::not_found(WHAT))?;
    let failed = row.status == VideoStatus::UploadingFailed;
    Ok(Json(VideoStatusResponse {
        metadata: if row.status == VideoStatus::Uploaded {
            row.metadata
        } else {
            VideoMetadata::default()
        },
        error: failed.then_some(row.error).flatten(),
        error_code: failed.then_some(row.error_code).flatten(),
        video_id: row.id,
        status: row.status,
        import_job_id: job.id,
        import_source_uri: row.source_uri,
    }))
}
