//! Probes and metrics for orchestrators.

use crate::service::http::AppState;
use crate::service::problem::{ApiError, ReadinessErrors};
use actix_web::{get, route, web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: String,
}

/// The process is up. `HEAD` answers the same status and headers without a body.
#[utoipa::path(tag = "health", responses((status = 200, description = "Alive", body = Health)))]
#[route("/livez", method = "GET", method = "HEAD")]
pub async fn livez() -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok".into(),
    })
}

/// Ready while every model has a valid version loaded. `HEAD` answers the same status and
/// headers without a body. Open to all, as probes carry no key: with `API_KEYS` set the
/// reasons name the models folder as `MODELS_DIR`, not where it is on disk.
#[utoipa::path(
    tag = "health",
    responses((status = 200, description = "Every model can answer", body = Health), ReadinessErrors)
)]
#[route("/readyz", method = "GET", method = "HEAD")]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state.registry.snapshot().readiness().map_err(|reasons| {
        if state.api_keys.is_empty() {
            return ApiError::NotReady(reasons);
        }
        let folder = state.registry.dir().display().to_string();
        ApiError::NotReady(
            reasons
                .into_iter()
                .map(|r| r.replace(&folder, "MODELS_DIR"))
                .collect(),
        )
    })?;
    Ok(HttpResponse::Ok().json(Health {
        status: "ready".into(),
    }))
}

/// Prometheus metrics: requests and latency by route and status, predictions by model and
/// version, conversion probabilities, personas, model loads and a `model_info` gauge.
#[utoipa::path(tag = "health", responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain; version=0.0.4")))]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render())
}
