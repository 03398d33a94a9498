//! Operations behind the admin token.

use crate::inference::registry::{ReloadSummary, Trigger};
use crate::service::http::{AdminToken, AppState};
use crate::service::observe;
use crate::service::problem::{AdminErrors, ApiError};
use actix_web::{post, web, HttpResponse};

/// Rescan the models folder now. Needs `Authorization: Bearer <ADMIN_TOKEN>`; without a
/// configured token the route does not exist (404).
#[utoipa::path(
    tag = "admin",
    responses((status = 200, description = "What the reload loaded, refused and unloaded", body = ReloadSummary), AdminErrors),
    security(("admin_token" = []))
)]
#[post("/admin/reload")]
pub async fn reload(
    _admin: AdminToken,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let summary =
        web::block(move || observe::reload(&state.registry, &state.metrics, Trigger::Admin))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(HttpResponse::Ok().json(summary))
}
