//! The HTTP layer: routes of the contract, authentication, idempotency, limits.

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};

use crate::error::ApiError;
use crate::state::AppState;

mod body;
mod guard;
mod routes;

pub use guard::REPLAYED_HEADER;

/// The router of every route of the contract.
pub(crate) fn router(state: Arc<AppState>) -> Router {
    let limit = state.config.body_limit;
    Router::new()
        .route("/api/keys/verify", post(routes::verify))
        .route(
            "/api/folders/create-or-get",
            post(routes::create_or_get_folder),
        )
        .route("/api/folders", post(routes::create_folder))
        .route("/api/folders/get", get(routes::get_folder))
        .route("/api/cloud-integrations", get(routes::list_integrations))
        .route("/api/cloud-integrations/gcs", post(routes::add_gcs))
        .route("/api/cloud-integrations/s3", post(routes::add_s3))
        .route("/api/cloud-integrations/hf-bucket", post(routes::add_hf))
        .route(
            "/api/cloud-integrations/{id}",
            delete(routes::delete_integration),
        )
        .route("/api/gcs/upload", post(routes::upload_gcs))
        .route("/api/s3/upload", post(routes::upload_s3))
        .route("/api/hf-buckets/upload", post(routes::upload_hf))
        .route("/api/import-jobs/{id}", get(routes::get_job))
        .route("/api/import-jobs/{id}/videos", get(routes::get_job_videos))
        .route("/api/import-jobs/{id}/retry", post(routes::retry_job))
        .route("/api/video/{id}/status", get(routes::video_status))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::guard,
        ))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no such route; see docs/api/openapi.json for the routes of the API",
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "this route does not take that method",
    )
}
