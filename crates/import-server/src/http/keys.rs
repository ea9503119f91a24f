//! The key route: who an API key belongs to.

use axum::Json;
use import_core::wire::VerifyResponse;

use super::guard::Caller;

pub(crate) async fn verify(axum::Extension(who): Caller) -> Json<VerifyResponse> {
    Json(VerifyResponse {
        valid: true,
        user_id: who.user_id,
        org_id: who.org_id,
    })
}
