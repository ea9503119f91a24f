//! Folder routes: create, create-or-get, get by name.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use import_core::Scope;
use import_core::wire::{Folder, FolderRequest};

use super::body::JsonBody;
use super::guard::Caller;
use super::{St, convert, query_map};
use crate::error::ApiError;
use crate::ids::new_id;
use crate::store::{FolderRecord, Principal};

fn new_folder(who: &Principal, req: &FolderRequest, now: i64) -> Result<FolderRecord, ApiError> {
    let checked = import_core::api::folder_request(&req.name, req.scope)?;
    Ok(FolderRecord {
        id: new_id(now as u64)?,
        org_id: who.org_id.clone(),
        scope: checked.scope,
        owner_id: if checked.scope == Scope::User {
            who.user_id.clone()
        } else {
            String::new()
        },
        name: checked.name,
        description: import_core::fields::folder_description(req.description.as_deref())?,
        created_by: who.user_id.clone(),
        created_at: now,
    })
}

pub(crate) async fn create_or_get_folder(
    State(st): St,
    axum::Extension(who): Caller,
    JsonBody(req): JsonBody<FolderRequest>,
) -> Result<Json<Folder>, ApiError> {
    let folder = new_folder(&who, &req, st.now_ms())?;
    if let Some(existing) = st
        .store
        .folders()
        .folder_by_name(&who, &folder.name, folder.scope)
        .await?
    {
        return Ok(Json(convert::folder(existing)));
    }
    let (name, scope) = (folder.name.clone(), folder.scope);
    match st.store.folders().insert_folder(folder).await? {
        Some(created) => Ok(Json(convert::folder(created))),
        // Created meanwhile by a concurrent request: answer that one.
        None => match st
            .store
            .folders()
            .folder_by_name(&who, &name, scope)
            .await?
        {
            Some(f) => Ok(Json(convert::folder(f))),
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
    let folder = new_folder(&who, &req, st.now_ms())?;
    let (name, scope) = (folder.name.clone(), folder.scope);
    match st.store.folders().insert_folder(folder).await? {
        Some(created) => Ok((StatusCode::CREATED, Json(convert::folder(created))).into_response()),
        None => Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "a folder named `{name}` already exists in scope `{scope}`; use POST {} to reuse it",
                import_core::routes::CREATE_OR_GET_FOLDER.template
            ),
        )),
    }
}

pub(crate) async fn get_folder(
    State(st): St,
    axum::Extension(who): Caller,
    RawQuery(raw): RawQuery,
) -> Result<Json<Folder>, ApiError> {
    let q = query_map(raw.as_deref());
    let Some(name) = q.get("name").filter(|n| !n.trim().is_empty()) else {
        return Err(ApiError::unprocessable(format!(
            "query parameter `name` is required: {}?name=NAME&scope=user|org",
            import_core::routes::GET_FOLDER.template
        )));
    };
    let name = import_core::FolderName::parse(name)?;
    let name = name.as_str();
    let scope: Scope = match q.get("scope") {
        Some(s) => s.parse()?,
        None => Scope::User,
    };
    match st.store.folders().folder_by_name(&who, name, scope).await? {
        Some(f) => Ok(Json(convert::folder(f))),
        None => Err(ApiError::not_found(&format!(
            "folder `{name}` in scope `{scope}`"
        ))),
    }
}
