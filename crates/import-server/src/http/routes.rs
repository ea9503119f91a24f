//! The handlers of the contract's routes.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use import_core::wire::{
    AddGcsIntegration, AddHfIntegration, AddS3Integration, CloudIntegration, Counts, FailedView,
    Folder, FolderRequest, ImportJob, JobStatus, RetryRequest, RetryResponse, UploadBody,
    UploadResponse, VerifyResponse, VideoMetadata, VideoRow, VideoStatus, VideoStatusResponse,
    VideosPage, ViewStatus,
};
use import_core::{
    CloudUri, ImportObjects, ImportRequest, PageRequest, Provider, Scope, VideoId,
    check_gcs_bucket, check_hf_bucket, check_s3_bucket,
};

use super::body::JsonBody;
use super::guard::Caller;
use crate::clock::{now_ms, rfc3339};
use crate::crypto::{IdGen, new_id};
use crate::error::ApiError;
use crate::integrations::{Secrets, source_config};
use crate::state::AppState;
use crate::store::{FolderRecord, IntegrationRecord, JobRecord, NewVideo, Principal, RowRecord};

type St = State<Arc<AppState>>;

/// Most ids accepted by one retry request.
const MAX_RETRY_IDS: usize = 10_000;

/// Seconds a client should wait between polls of a running job.
const POLL_AFTER_SECONDS: u64 = 2;

pub(crate) async fn verify(axum::Extension(who): Caller) -> Json<VerifyResponse> {
    Json(VerifyResponse {
        valid: true,
        user_id: who.user_id,
        org_id: who.org_id,
    })
}

fn folder_wire(f: FolderRecord) -> Result<Folder, ApiError> {
    Ok(Folder {
        id: f.id.parse().map_err(ApiError::from)?,
        name: f.name,
        scope: f.scope,
        created_at: rfc3339(f.created_at),
    })
}

fn new_folder(who: &Principal, req: &FolderRequest) -> Result<FolderRecord, ApiError> {
    let checked = import_core::api::folder_request(&req.name, req.scope)?;
    let now = now_ms();
    Ok(FolderRecord {
        id: new_id("fo_", now as u64),
        org_id: who.org_id.clone(),
        scope: checked.scope,
        owner_id: if checked.scope == Scope::User {
            who.user_id.clone()
        } else {
            String::new()
        },
        name: checked.name,
        description: req.description.clone().filter(|d| !d.trim().is_empty()),
        created_by: who.user_id.clone(),
        created_at: now,
    })
}

pub(crate) async fn create_or_get_folder(
    State(st): St,
    axum::Extension(who): Caller,
    JsonBody(req): JsonBody<FolderRequest>,
) -> Result<Json<Folder>, ApiError> {
    let folder = new_folder(&who, &req)?;
    if let Some(existing) = st
        .store
        .folder_by_name(&who, &folder.name, folder.scope)
        .await?
    {
        return Ok(Json(folder_wire(existing)?));
    }
    let (name, scope) = (folder.name.clone(), folder.scope);
    match st.store.insert_folder(folder).await? {
        Some(created) => Ok(Json(folder_wire(created)?)),
        // Created meanwhile by a concurrent request: answer that one.
        None => match st.store.folder_by_name(&who, &name, scope).await? {
            Some(f) => Ok(Json(folder_wire(f)?)),
            None => Err(ApiError::unavailable(
                "the folder is being created; retry",
                1,
            )),
        },
    }
}

pub(crate) async fn create_folder(
    State(st): St,
    axum::Extension(who): Caller,
    JsonBody(req): JsonBody<FolderRequest>,
) -> Result<Response, ApiError> {
    let folder = new_folder(&who, &req)?;
    let (name, scope) = (folder.name.clone(), folder.scope);
    match st.store.insert_folder(folder).await? {
        Some(created) => Ok((StatusCode::CREATED, Json(folder_wire(created)?)).into_response()),
        None => Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "a folder named `{name}` already exists in scope `{scope}`; use POST /api/folders/create-or-get to reuse it"
            ),
        )),
    }
}

/// Query parameters, form-decoded (`+` is a space).
fn query_map(raw: Option<&str>) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

pub(crate) async fn get_folder(
    State(st): St,
    axum::Extension(who): Caller,
    RawQuery(raw): RawQuery,
) -> Result<Json<Folder>, ApiError> {
    let q = query_map(raw.as_deref());
    let Some(name) = q.get("name").map(|n| n.trim()).filter(|n| !n.is_empty()) else {
        return Err(ApiError::unprocessable(
            "query parameter `name` is required: /api/folders/get?name=NAME&scope=user|org",
        ));
    };
    let scope: Scope = match q.get("scope") {
        Some(s) => s.parse()?,
        None => Scope::User,
    };
    match st.store.folder_by_name(&who, name, scope).await? {
        Some(f) => Ok(Json(folder_wire(f)?)),
        None => Err(ApiError::not_found(&format!(
            "folder `{name}` in scope `{scope}`"
        ))),
    }
}

fn integration_wire(who: &Principal, r: IntegrationRecord) -> Result<CloudIntegration, ApiError> {
    Ok(CloudIntegration {
        id: r.id.parse().map_err(ApiError::from)?,
        name: r.name,
        kind: r.kind,
        bucket: r.bucket,
        prefix: r.prefix,
        region: r.region,
        endpoint_url: r.endpoint_url,
        created_at: rfc3339(r.created_at),
        last_used: r.last_used.map(rfc3339),
        is_owner: r.created_by == who.user_id,
        created_by: r.created_by,
        created_by_display_name: r.created_by_display_name,
    })
}

pub(crate) async fn list_integrations(
    State(st): St,
    axum::Extension(who): Caller,
) -> Result<Json<Vec<CloudIntegration>>, ApiError> {
    let all = st.store.list_integrations(&who).await?;
    let list = all
        .into_iter()
        .map(|r| integration_wire(&who, r))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(list))
}

fn required(field: &'static str, value: &str) -> Result<String, ApiError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(ApiError::unprocessable(format!(
            "`{field}` must not be empty"
        )));
    }
    Ok(v.to_owned())
}

fn check_kind(kind: Provider, route: Provider) -> Result<(), ApiError> {
    if kind != route {
        return Err(ApiError::unprocessable(format!(
            "`type` is `{}` but this route saves `{}` integrations",
            kind.wire_name(),
            route.wire_name()
        )));
    }
    Ok(())
}

fn bucket_rule(kind: Provider, bucket: &str) -> Result<(), ApiError> {
    let check = match kind {
        Provider::Gcs => check_gcs_bucket,
        Provider::S3 => check_s3_bucket,
        Provider::HfBucket => check_hf_bucket,
    };
    check(bucket).map_err(|p| ApiError::unprocessable(format!("invalid `bucket`: {p}")))
}

fn prefix(p: Option<&str>) -> Option<String> {
    p.map(|p| p.trim().trim_start_matches('/').to_owned())
        .filter(|p| !p.is_empty())
}

async fn save_integration(
    st: &AppState,
    who: &Principal,
    mut rec: IntegrationRecord,
    secrets: Secrets,
) -> Result<Json<CloudIntegration>, ApiError> {
    rec.sealed_secrets = secrets.seal(&st.secrets);
    // The source must be buildable and its endpoints allowed before it is saved.
    let config = source_config(rec.kind, &rec.bucket, Some(&rec), &st.secrets)
        .map_err(|e| ApiError::unprocessable(e.to_string()))?;
    import_providers::check_source(&config, &st.policy)
        .await
        .map_err(|e| match e {
            import_providers::ProviderError::ForbiddenEndpoint { .. }
            | import_providers::ProviderError::Unresolvable { .. } => {
                ApiError::bad_request(e.to_string())
            }
            _ => ApiError::unprocessable(e.to_string()),
        })?;
    st.store.insert_integration(rec.clone()).await?;
    tracing::info!(id = %rec.id, kind = rec.kind.wire_name(), bucket = %rec.bucket, "integration saved");
    Ok(Json(integration_wire(who, rec)?))
}

fn new_integration(
    who: &Principal,
    kind: Provider,
    name: &str,
    bucket: &str,
    p: Option<&str>,
) -> Result<IntegrationRecord, ApiError> {
    let bucket = required("bucket", bucket)?;
    bucket_rule(kind, &bucket)?;
    let now = now_ms();
    Ok(IntegrationRecord {
        id: new_id("ci_", now as u64),
        org_id: who.org_id.clone(),
        created_by: who.user_id.clone(),
        created_by_display_name: who.display_name.clone(),
        name: required("name", name)?,
        kind,
        bucket,
        prefix: prefix(p),
        region: None,
        endpoint_url: None,
        sealed_secrets: Vec::new(),
        created_at: now,
        last_used: None,
    })
}

pub(crate) async fn add_gcs(
    State(st): St,
    axum::Extension(who): Caller,
    JsonBody(body): JsonBody<AddGcsIntegration>,
) -> Result<Json<CloudIntegration>, ApiError> {
    check_kind(body.kind, Provider::Gcs)?;
    if !body.service_account.is_object() {
        return Err(ApiError::unprocessable(
            "`service_account` must be the service-account JSON key object (the file downloaded from the cloud console)",
        ));
    }
    let rec = new_integration(
        &who,
        Provider::Gcs,
        &body.name,
        &body.bucket,
        body.prefix.as_deref(),
    )?;
    save_integration(
        &st,
        &who,
        rec,
        Secrets::Gcs {
            service_account: body.service_account,
        },
    )
    .await
}

pub(crate) async fn add_s3(
    State(st): St,
    axum::Extension(who): Caller,
    JsonBody(body): JsonBody<AddS3Integration>,
) -> Result<Json<CloudIntegration>, ApiError> {
    check_kind(body.kind, Provider::S3)?;
    let mut rec = new_integration(
        &who,
        Provider::S3,
        &body.name,
        &body.bucket,
        body.prefix.as_deref(),
    )?;
    let endpoint = body
        .endpoint_url
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty());
    let region = body
        .region
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    rec.region = match (region, endpoint) {
        (Some(r), _) => Some(r.to_owned()),
        (None, Some(_)) => Some("auto".to_owned()),
        (None, None) => {
            return Err(ApiError::unprocessable(
                "`region` is required for Amazon S3 (for example `us-east-1`); for R2, MinIO and other S3-compatible stores give `endpoint_url`",
            ));
        }
    };
    rec.endpoint_url = endpoint.map(|e| e.trim_end_matches('/').to_owned());
    let secrets = Secrets::S3 {
        access_key_id: required("access_key_id", &body.access_key_id)?,
        secret_access_key: required("secret_access_key", &body.secret_access_key)?,
        session_token: body.session_token.filter(|t| !t.trim().is_empty()),
    };
    save_integration(&st, &who, rec, secrets).await
}

pub(crate) async fn add_hf(
    State(st): St,
    axum::Extension(who): Caller,
    JsonBody(body): JsonBody<AddHfIntegration>,
) -> Result<Json<CloudIntegration>, ApiError> {
    check_kind(body.kind, Provider::HfBucket)?;
    let rec = new_integration(
        &who,
        Provider::HfBucket,
        &body.name,
        &body.bucket,
        body.prefix.as_deref(),
    )?;
    let token = required("token", &body.token)?;
    save_integration(&st, &who, rec, Secrets::Hf { token: Some(token) }).await
}

pub(crate) async fn delete_integration(
    State(st): St,
    axum::Extension(who): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if st.store.delete_integration(&who, &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("integration"))
    }
}

pub(crate) async fn upload_gcs(
    st: St,
    who: Caller,
    body: JsonBody<UploadBody>,
) -> Result<Json<UploadResponse>, ApiError> {
    upload(st, who, body, Provider::Gcs).await
}

pub(crate) async fn upload_s3(
    st: St,
    who: Caller,
    body: JsonBody<UploadBody>,
) -> Result<Json<UploadResponse>, ApiError> {
    upload(st, who, body, Provider::S3).await
}

pub(crate) async fn upload_hf(
    st: St,
    who: Caller,
    body: JsonBody<UploadBody>,
) -> Result<Json<UploadResponse>, ApiError> {
    upload(st, who, body, Provider::HfBucket).await
}

async fn upload(
    State(st): St,
    axum::Extension(who): Caller,
    JsonBody(body): JsonBody<UploadBody>,
    provider: Provider,
) -> Result<Json<UploadResponse>, ApiError> {
    let integration = match &body.integration_id {
        Some(id) => Some(
            st.store
                .integration(&who, id.as_str())
                .await?
                .ok_or_else(|| ApiError::not_found("integration"))?,
        ),
        None if provider == Provider::Gcs => {
            return Err(ApiError::bad_request(
                "`integration_id` is required for GCS imports: save a `gcs` integration with the bucket's service-account key (POST /api/cloud-integrations/gcs) and pass its id",
            ));
        }
        None => None,
    };
    if let Some(rec) = &integration
        && rec.kind != provider
    {
        return Err(ApiError::bad_request(format!(
            "integration `{}` is a `{}` integration; this route imports from {} buckets: pass an integration of that provider",
            rec.id,
            rec.kind.wire_name(),
            provider.wire_name()
        )));
    }
    let request = ImportRequest::from_upload_body(
        provider,
        &body,
        integration.as_ref().map(|r| r.bucket.as_str()),
        st.config.max_objects,
    )?;
    if let Some(rec) = &integration {
        request.check_integration(rec.kind, &rec.bucket)?;
    }
    let folder = match request.folder_id() {
        Some(id) => Some(
            st.store
                .folder_by_id(&who, id.as_str())
                .await?
                .ok_or_else(|| ApiError::not_found("folder"))?,
        ),
        None => None,
    };
    // Without an integration: the caller's newest one for that bucket, else public access.
    let integration = match integration {
        Some(rec) => Some(rec),
        None => {
            st.store
                .newest_integration(&who, provider, request.bucket())
                .await?
        }
    };
    let prefix = longest(
        request.common_prefix(),
        integration.as_ref().and_then(|r| r.prefix.clone()),
    );
    let now = now_ms();
    let job_id = new_id("ij_", now as u64);
    let mut ids = IdGen::new("vi_", now as u64);
    let mut videos = Vec::with_capacity(request.object_count());
    match request.objects() {
        ImportObjects::Single(uris) => {
            for uri in uris {
                videos.push(new_video(ids.next_id(), None, None, uri));
            }
        }
        ImportObjects::Multi(sets) => {
            for set in sets {
                let front = ids.next_id();
                for (role, uri) in set.views() {
                    let id = if role.is_front() {
                        front.clone()
                    } else {
                        ids.next_id()
                    };
                    videos.push(new_video(
                        id,
                        Some(front.clone()),
                        Some(role.as_str().to_owned()),
                        uri,
                    ));
                }
            }
        }
    }
    let job = JobRecord {
        id: job_id.clone(),
        org_id: who.org_id.clone(),
        user_id: who.user_id.clone(),
        scope: request.scope(),
        source: provider,
        bucket: request.bucket().to_owned(),
        prefix,
        folder_id: folder.as_ref().map(|f| f.id.clone()),
        folder_name: folder.map(|f| f.name),
        collection: request.collection().to_owned(),
        integration_id: integration.as_ref().map(|r| r.id.clone()),
        multi_view: request.is_multi_view(),
        total: request.total() as i64,
        uploaded: 0,
        failed: 0,
        created_at: now,
        updated_at: now,
        completed_at: None,
    };
    let count = videos.len();
    st.store.create_job(job, videos).await?;
    if let Some(rec) = &integration {
        st.store.touch_integration(&rec.id, now).await?;
    }
    st.wake.notify_waiters();
    tracing::info!(job = %job_id, provider = provider.wire_name(), bucket = %request.bucket(), objects = count, "import job created");
    Ok(Json(UploadResponse {
        import_job_id: job_id.parse().map_err(ApiError::from)?,
        status: JobStatus::Importing,
    }))
}

fn new_video(id: String, set_id: Option<String>, role: Option<String>, uri: &CloudUri) -> NewVideo {
    NewVideo {
        id,
        set_id,
        role,
        object: uri.object().to_owned(),
        source_uri: uri.to_string(),
    }
}

fn longest(a: Option<String>, b: Option<String>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if b.len() > a.len() { b } else { a }),
        (a, b) => a.or(b),
    }
}

fn job_wire(job: &JobRecord) -> Result<ImportJob, ApiError> {
    let counts = Counts {
        uploaded: job.uploaded.max(0) as u64,
        failed: job.failed.max(0) as u64,
        pending: (job.total - job.uploaded - job.failed).max(0) as u64,
    };
    let terminal = job.completed_at.is_some();
    let status = if terminal {
        JobStatus::from_counts(&Counts {
            pending: 0,
            ..counts
        })
    } else {
        JobStatus::Importing
    };
    Ok(ImportJob {
        job_id: job.id.parse().map_err(ApiError::from)?,
        source: job.source,
        bucket: job.bucket.clone(),
        prefix: job.prefix.clone(),
        folder_id: job
            .folder_id
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(ApiError::from)?,
        folder_name: job.folder_name.clone(),
        total: job.total.max(0) as u64,
        created_at: rfc3339(job.created_at),
        updated_at: Some(rfc3339(job.updated_at)),
        completed_at: job.completed_at.map(rfc3339),
        status: Some(status),
        terminal: Some(terminal),
        counts: Some(counts),
        poll_after_seconds: Some(if terminal { 0 } else { POLL_AFTER_SECONDS }),
        multi_view: Some(job.multi_view),
    })
}

async fn visible_job(st: &AppState, who: &Principal, id: &str) -> Result<JobRecord, ApiError> {
    st.store
        .job(who, id)
        .await?
        .ok_or_else(|| ApiError::not_found("import job"))
}

pub(crate) async fn get_job(
    State(st): St,
    axum::Extension(who): Caller,
    Path(id): Path<String>,
) -> Result<Json<ImportJob>, ApiError> {
    let job = visible_job(&st, &who, &id).await?;
    Ok(Json(job_wire(&job)?))
}

fn vid(id: &str) -> Result<VideoId, ApiError> {
    id.parse().map_err(ApiError::from)
}

fn row_wire(row: &RowRecord) -> Result<VideoRow, ApiError> {
    let status = VideoStatus::from_wire(&row.status);
    Ok(VideoRow {
        video_id: vid(&row.id)?,
        error: (status == VideoStatus::UploadingFailed)
            .then(|| row.error.clone())
            .flatten(),
        status,
        import_source_uri: Some(row.source_uri.clone()),
        set_video_id: None,
        views: None,
        failed_views: None,
    })
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
    let mut rows = st.store.list_rows(&job, &page).await?;
    let has_more = rows.len() > page.limit() as usize;
    rows.truncate(page.limit() as usize);
    let mut videos = rows.iter().map(row_wire).collect::<Result<Vec<_>, _>>()?;
    if job.multi_view && !rows.is_empty() {
        let set_ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        let mut by_set: BTreeMap<String, Vec<RowRecord>> = BTreeMap::new();
        for view in st.store.set_views(&job.id, &set_ids).await? {
            if let Some(set) = view.set_id.clone() {
                by_set.entry(set).or_default().push(view);
            }
        }
        for (video, row) in videos.iter_mut().zip(&rows) {
            let views = by_set.remove(&row.id).unwrap_or_default();
            let mut map = BTreeMap::new();
            let mut failed = Vec::new();
            for v in &views {
                let role = v.role.clone().unwrap_or_default();
                let status = VideoStatus::from_wire(&v.status);
                if status == VideoStatus::UploadingFailed {
                    failed.push(FailedView {
                        video_id: vid(&v.id)?,
                        status: status.clone(),
                        role: role.clone(),
                        error: v.error.clone(),
                    });
                }
                map.insert(
                    role,
                    ViewStatus {
                        video_id: vid(&v.id)?,
                        status,
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
        import_job_id: job.id.parse().map_err(ApiError::from)?,
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
    let ids: Option<Vec<String>> = req
        .video_ids
        .map(|v| v.into_iter().map(|i| i.as_str().to_owned()).collect());
    if ids.as_ref().is_some_and(|v| v.len() > MAX_RETRY_IDS) {
        return Err(ApiError::unprocessable(format!(
            "at most {MAX_RETRY_IDS} video ids per retry request; send several requests, or `null` to retry every failed row"
        )));
    }
    let retried = st.store.retry_rows(&job, ids.as_deref(), now_ms()).await?;
    if !retried.is_empty() {
        st.wake.notify_waiters();
    }
    Ok(Json(RetryResponse {
        import_job_id: job.id.parse().map_err(ApiError::from)?,
        retried: retried.len() as u64,
        video_ids: retried.iter().map(|i| vid(i)).collect::<Result<_, _>>()?,
    }))
}

pub(crate) async fn video_status(
    State(st): St,
    axum::Extension(who): Caller,
    Path(id): Path<String>,
) -> Result<Json<VideoStatusResponse>, ApiError> {
    let (row, job) = st
        .store
        .video(&who, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("video"))?;
    let status = VideoStatus::from_wire(&row.status);
    Ok(Json(VideoStatusResponse {
        video_id: vid(&row.id)?,
        metadata: if status == VideoStatus::Uploaded {
            row.metadata.clone()
        } else {
            VideoMetadata::default()
        },
        status,
        import_job_id: job.id.parse().map_err(ApiError::from)?,
        import_source_uri: row.source_uri,
    }))
}
