//! Cloud integration routes: list, add (GCS, S3, HF), delete.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use import_core::wire::{AddGcsIntegration, AddHfIntegration, AddS3Integration, CloudIntegration};
use import_core::{GcsIntegration, HfIntegration, IntegrationId, Provider, S3Integration};

use super::body::JsonBody;
use super::guard::Caller;
use super::{St, convert, path_id};
use crate::error::ApiError;
use crate::ids::new_id;
use crate::secrets::{Secrets, source_config};
use crate::state::AppState;
use crate::store::{IntegrationRecord, Principal};

pub(crate) async fn list_integrations(
    State(st): St,
    axum::Extension(who): Caller,
) -> Result<Json<Vec<CloudIntegration>>, ApiError> {
    let all = st.store.integrations().list_integrations(&who).await?;
    Ok(Json(
        all.into_iter()
            .map(|r| convert::integration(&who, r))
            .collect(),
    ))
}

async fn save_integration(
    st: &AppState,
    who: &Principal,
    mut rec: IntegrationRecord,
    secrets: Secrets,
) -> Result<Json<CloudIntegration>, ApiError> {
    rec.sealed_secrets = secrets.seal(&st.secrets, rec.id.as_str(), &rec.org_id);
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
    st.store
        .integrations()
        .insert_integration(rec.clone())
        .await?;
    tracing::info!(id = %rec.id, kind = rec.kind.wire_name(), bucket = %rec.bucket, "integration saved");
    Ok(Json(convert::integration(who, rec)))
}

/// The record of a validated integration body, its secrets not yet sealed.
fn new_integration(
    who: &Principal,
    kind: Provider,
    name: &str,
    bucket: &str,
    prefix: Option<&str>,
    now: i64,
) -> Result<IntegrationRecord, ApiError> {
    Ok(IntegrationRecord {
        id: new_id(now as u64)?,
        org_id: who.org_id.clone(),
        created_by: who.user_id.clone(),
        created_by_display_name: who.display_name.clone(),
        name: name.to_owned(),
        kind,
        bucket: bucket.to_owned(),
        prefix: prefix.map(str::to_owned),
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
    let c = GcsIntegration::try_from(body)?;
    let rec = new_integration(
        &who,
        Provider::Gcs,
        c.name(),
        c.bucket(),
        c.prefix(),
        st.now_ms(),
    )?;
    let secrets = Secrets::Gcs {
        service_account: c.service_account().clone(),
    };
    save_integration(&st, &who, rec, secrets).await
}

pub(crate) async fn add_s3(
    State(st): St,
    axum::Extension(who): Caller,
    JsonBody(body): JsonBody<AddS3Integration>,
) -> Result<Json<CloudIntegration>, ApiError> {
    let c = S3Integration::try_from(body)?;
    let mut rec = new_integration(
        &who,
        Provider::S3,
        c.name(),
        c.bucket(),
        c.prefix(),
        st.now_ms(),
    )?;
    rec.region = Some(c.region().to_owned());
    rec.endpoint_url = c.endpoint_url().map(str::to_owned);
    let secrets = Secrets::S3 {
        access_key_id: c.access_key_id().to_owned(),
        secret_access_key: c.secret_access_key().to_owned(),
        session_token: c.session_token().map(str::to_owned),
    };
    save_integration(&st, &who, rec, secrets).await
}

pub(crate) async fn add_hf(
    State(st): St,
    axum::Extension(who): Caller,
    JsonBody(body): JsonBody<AddHfIntegration>,
) -> Result<Json<CloudIntegration>, ApiError> {
    let c = HfIntegration::try_from(body)?;
    let rec = new_integration(
        &who,
        Provider::HfBucket,
        c.name(),
        c.bucket(),
        c.prefix(),
        st.now_ms(),
    )?;
    let secrets = Secrets::Hf {
        token: Some(c.token().to_owned()),
    };
    save_integration(&st, &who, rec, secrets).await
}

pub(crate) async fn delete_integration(
    State(st): St,
    axum::Extension(who): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id: IntegrationId = path_id(&id, "integration")?;
    if st
        .store
        .integrations()
        .delete_integration(&who, &id)
        .await?
    {
        st.sources.forget(&id).await;
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("integration"))
    }
}
