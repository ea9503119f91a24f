//! The three upload routes: a validated [`ImportRequest`] becomes a job and
//! its rows, answered at once; the workers copy in the background.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use import_core::wire::{JobStatus, UploadBody, UploadResponse};
use import_core::{
    CloudUri, ImportObjects, ImportRequest, Provider, SavedIntegration, VideoId, ViewRole,
};

use super::St;
use super::guard::{Caller, IdemSlot};
use crate::error::ApiError;
use crate::ids::{IdGen, new_id};
use crate::state::AppState;
use crate::store::{FolderRecord, IdemAnswer, IntegrationRecord, JobRecord, NewVideo, Principal};

pub(crate) async fn upload_gcs(
    st: St,
    who: Caller,
    slot: Option<axum::Extension<IdemSlot>>,
    body: Bytes,
) -> Result<Json<UploadResponse>, ApiError> {
    upload(st, who, slot, body, Provider::Gcs).await
}

pub(crate) async fn upload_s3(
    st: St,
    who: Caller,
    slot: Option<axum::Extension<IdemSlot>>,
    body: Bytes,
) -> Result<Json<UploadResponse>, ApiError> {
    upload(st, who, slot, body, Provider::S3).await
}

pub(crate) async fn upload_hf(
    st: St,
    who: Caller,
    slot: Option<axum::Extension<IdemSlot>>,
    body: Bytes,
) -> Result<Json<UploadResponse>, ApiError> {
    upload(st, who, slot, body, Provider::HfBucket).await
}

async fn upload(
    State(st): St,
    axum::Extension(who): Caller,
    slot: Option<axum::Extension<IdemSlot>>,
    bytes: Bytes,
    provider: Provider,
) -> Result<Json<UploadResponse>, ApiError> {
    // The cap first: a body naming too many objects is refused before any
    // name is parsed.
    import_core::check_upload_count(&bytes, st.config.max_objects)?;
    let body: UploadBody = super::body::parse(&bytes)?;
    let named = named_integration(&st, &who, &body).await?;
    // Every upload rule is the core's, the saved integration's provider and
    // bucket included.
    let request = ImportRequest::from_upload_body(
        provider,
        &body,
        named.as_ref().map(|r| SavedIntegration {
            kind: r.kind,
            bucket: &r.bucket,
        }),
        st.config.max_objects,
    )?;
    let folder = match request.folder_id() {
        Some(id) => {
            let folder = st
                .store
                .folders()
                .folder_by_id(&who, id)
                .await?
                .ok_or_else(|| ApiError::not_found("folder"))?;
            request.check_folder(folder.scope, folder.id.as_str())?;
            Some(folder)
        }
        None => None,
    };
    // Without an integration: the caller's newest one for that bucket, else public access.
    let integration = match named {
        Some(rec) => Some(rec),
        None => {
            st.store
                .integrations()
                .newest_integration(&who, provider, request.bucket())
                .await?
        }
    };
    let now = st.now_ms();
    let job = new_job(&who, &request, folder, integration.as_ref(), now)?;
    // The organisation's queue is bounded: a request that would take it
    // past the cap is refused whole (two racing requests may pass it by one
    // request's rows).
    let cap = st.config.max_pending_rows_per_org;
    let adding = u64::try_from(job.total).unwrap_or(0);
    let pending = st.store.jobs().pending_rows(&who.org_id).await?;
    if pending.saturating_add(adding) > cap {
        return Err(ApiError::new(
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            format!(
                "your organisation has {pending} videos waiting to import and this request adds {adding}; at most {cap} may wait at once (--max-pending-rows-per-org): wait for imports to finish, then send it again"
            ),
        )
        .with_retry_after(60));
    }
    let videos = new_videos(&request, now)?;
    let (job_id, count) = (job.id.clone(), videos.len());
    let answer = UploadResponse {
        import_job_id: job_id.clone(),
        status: JobStatus::Importing,
    };
    // Under an Idempotency-Key, the answer commits with the job.
    let recorded = match slot {
        Some(axum::Extension(IdemSlot(key))) => Some(IdemAnswer {
            key,
            status: axum::http::StatusCode::OK.as_u16(),
            body: serde_json::to_vec(&answer).map_err(|e| {
                ApiError::new(
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                    format!("encoding the answer failed: {e}"),
                )
            })?,
        }),
        None => None,
    };
    st.store.jobs().create_job(job, videos, recorded).await?;
    // The job is committed: nothing after this fails the request.
    if let Some(rec) = &integration
        && let Err(e) = st
            .store
            .integrations()
            .touch_integration(&rec.id, now)
            .await
    {
        tracing::warn!(error = %e, integration = %rec.id, "recording the integration's last use failed");
    }
    st.wake.notify_waiters();
    tracing::info!(job = %job_id, provider = provider.wire_name(), bucket = %request.bucket(), objects = count, "import job created");
    Ok(Json(answer))
}

/// The integration the body names, if the caller may see it.
async fn named_integration(
    st: &AppState,
    who: &Principal,
    body: &UploadBody,
) -> Result<Option<IntegrationRecord>, ApiError> {
    let Some(id) = &body.integration_id else {
        return Ok(None);
    };
    let rec = st
        .store
        .integrations()
        .integration(who, id)
        .await?
        .ok_or_else(|| ApiError::not_found("integration"))?;
    Ok(Some(rec))
}

/// The job record of a request.
fn new_job(
    who: &Principal,
    request: &ImportRequest,
    folder: Option<FolderRecord>,
    integration: Option<&IntegrationRecord>,
    now: i64,
) -> Result<JobRecord, ApiError> {
    Ok(JobRecord {
        id: new_id(now as u64)?,
        org_id: who.org_id.clone(),
        user_id: who.user_id.clone(),
        scope: request.scope(),
        source: request.provider(),
        bucket: request.bucket().to_owned(),
        prefix: longest(
            request.common_prefix(),
            integration.and_then(|r| r.prefix.clone()),
        ),
        folder_id: folder.as_ref().map(|f| f.id.clone()),
        folder_name: folder.map(|f| f.name),
        collection: request.collection().to_owned(),
        integration_id: integration.map(|r| r.id.clone()),
        multi_view: request.is_multi_view(),
        total: request.total() as i64,
        uploaded: 0,
        failed: 0,
        created_at: now,
        updated_at: now,
        completed_at: None,
        cancelled_at: None,
    })
}

/// One row per object; a view set's rows share the id of its `front` view
/// as their set id, and the front's row is the set's.
fn new_videos(request: &ImportRequest, now: i64) -> Result<Vec<NewVideo>, ApiError> {
    let mut ids = IdGen::<VideoId>::new(now as u64);
    let mut videos = Vec::with_capacity(request.object_count());
    match request.objects() {
        ImportObjects::Single(uris) => {
            for uri in uris {
                videos.push(new_video(ids.next_id()?, None, None, uri));
            }
        }
        ImportObjects::Multi(sets) => {
            for set in sets {
                let front = ids.next_id()?;
                for (role, uri) in set.views() {
                    let id = if role.is_front() {
                        front.clone()
                    } else {
                        ids.next_id()?
                    };
                    videos.push(new_video(id, Some(front.clone()), Some(role.clone()), uri));
                }
            }
        }
    }
    Ok(videos)
}

fn new_video(
    id: VideoId,
    set_id: Option<VideoId>,
    role: Option<ViewRole>,
    uri: &CloudUri,
) -> NewVideo {
    NewVideo {
        id,
        set_id,
        role,
        object: uri.object().to_owned(),
        source_uri: uri.to_string(),
    }
}

/// The longer of two prefixes.
fn longest(a: Option<String>, b: Option<String>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if b.len() > a.len() { b } else { a }),
        (a, b) => a.or(b),
    }
}
