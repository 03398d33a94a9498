//! What is loaded: every model's versions, its default, manifests and refused versions.

use crate::ml::model_file::{Manifest, ModelName};
use crate::service::http::AppState;
use crate::service::problem::{ApiError, ModelErrors};
use crate::service::registry::SlotInfo;
use actix_web::{get, web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

/// A loaded version, as `/models` lists it.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionInfo {
    pub version: u32,
    /// Answers requests that name no version.
    pub default: bool,
    #[schema(value_type = Object)]
    pub manifest: Manifest,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FailedVersion {
    pub version: u32,
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ModelInfo {
    pub name: String,
    pub default_version: Option<u32>,
    pub loaded: Vec<VersionInfo>,
    pub failed: Vec<FailedVersion>,
}

impl From<SlotInfo<'_>> for ModelInfo {
    fn from(slot: SlotInfo<'_>) -> ModelInfo {
        ModelInfo {
            name: slot.name.to_string(),
            default_version: slot.default,
            loaded: slot
                .loaded
                .into_iter()
                .map(|(version, manifest)| VersionInfo {
                    version,
                    default: slot.default == Some(version),
                    manifest: manifest.clone(),
                })
                .collect(),
            failed: slot
                .failed
                .iter()
                .map(|(v, why)| FailedVersion {
                    version: *v,
                    reason: why.clone(),
                })
                .collect(),
        }
    }
}

/// Every model: loaded versions, the default, their manifests, and refused versions.
#[utoipa::path(tag = "models", responses((status = 200, description = "Every model", body = Vec<ModelInfo>)))]
#[get("/models")]
pub async fn models(state: web::Data<AppState>) -> HttpResponse {
    let snapshot = state.registry.snapshot();
    let all: Vec<ModelInfo> = ModelName::ALL
        .iter()
        .map(|&n| ModelInfo::from(snapshot.info(n)))
        .collect();
    HttpResponse::Ok().json(all)
}

/// One model: loaded versions, the default, their manifests, and refused versions.
#[utoipa::path(
    tag = "models",
    params(("name" = String, Path, description = "convert, revenue or segment")),
    responses((status = 200, description = "The model", body = ModelInfo), ModelErrors)
)]
#[get("/models/{name}")]
pub async fn model(
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let name: ModelName = path.parse().map_err(ApiError::ModelNotFound)?;
    let snapshot = state.registry.snapshot();
    Ok(HttpResponse::Ok().json(ModelInfo::from(snapshot.info(name))))
}
