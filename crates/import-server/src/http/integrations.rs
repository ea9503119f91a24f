//! Cloud integration routes: list, add (GCS, S3, HF), delete.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use import_core::wire::{AddGcsIntegration, AddHfIntegration, AddS3Integration, CloudIntegration};
use import_core::{IntegrationId, Provider, check_gcs_bucket, check_hf_bucket, check_s3_bucket};

use super::body::JsonBody;
use super::guard::Caller;
use super::{St, convert, path_id};
use crate::clock::now_ms;
use crate::error::ApiError;
use crate::ids::new_id;
use crate::secrets::{Secrets, source_config};
use crate::state::AppState;
use crate::store::{IntegrationRecord, Principal};

pub(crate) async fn list_integrations(
    State(st): St,
    axum::Extension(who): Caller,
) -> Result<Json<Vec<CloudIntegration>>, ApiError> {
    let all = st.store.list_integrations(&who).await?;
    Ok(Json(
        all.into_iter()
            .map(|r| convert::integration(&who, r))
            .collect(),
    ))
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
    Ok(Json(convert::integration(who, rec)))
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
        id: new_id(now as u64)?,
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
    let id: IntegrationId = path_id(&id, "integration")?;
    if st.store.delete_integration(&who, &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("integration"))
    }
}
