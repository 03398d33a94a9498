//! What is loaded: per model, a short list of versions and their roles (default, pinned,
//! canary) and the refused versions; each version's full manifest on its own route.

use crate::inference::registry::{confined, Confined, SelectError, SlotInfo};
use crate::ml::model_file::{Manifest, ModelName, REPORT_FILE};
use crate::service::http::{ApiKey, AppState};
use crate::service::problem::{ApiError, ModelErrors, ModelVersionErrors, ModelsErrors};
use actix_web::{get, web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

/// What a loaded version does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VersionStatus {
    /// Answers requests that name no version (but the canary's share).
    Default,
    /// Answers its share of the sessions that name no version.
    Canary,
    /// Answers only requests that name it (`?version=`).
    OnRequest,
}

/// A loaded version, as `/models` lists it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"version": 1, "status": "default", "manifest": "/models/convert/1"}))]
pub struct VersionInfo {
    pub version: u32,
    pub status: VersionStatus,
    /// The click schema its requests are read by (`uci-clothing-2008`, or the shop's
    /// schema it was trained with).
    pub click_schema: String,
    /// Where its full manifest is.
    pub manifest: String,
    /// Where its training report is, when its folder holds one that is served.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<String>,
    /// Why the `report.html` in its folder is not served (a link leading outside the
    /// models folder, or not a regular file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report_refused: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FailedVersion {
    pub version: u32,
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CanaryInfo {
    pub version: u32,
    /// Share of the sessions, by a stable hash of their id.
    pub percent: u8,
    /// Why it gets no share though it is loaded: it reads another click schema than the
    /// default version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// One model, in short.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelInfo {
    pub name: String,
    /// Answers requests that name no version.
    pub default_version: Option<u32>,
    /// The version `PIN_<MODEL>` fixes as the default, if any (loaded or not).
    pub pinned_version: Option<u32>,
    pub canary: Option<CanaryInfo>,
    pub loaded: Vec<VersionInfo>,
    /// Versions found in the models folder and refused, with the reason.
    pub failed: Vec<FailedVersion>,
    /// Why the last reload could not replace the loaded versions (the folder is gone or
    /// unreadable, or holds no valid version); they keep serving meanwhile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

fn status(slot: &SlotInfo<'_>, version: u32) -> VersionStatus {
    if slot.canary.is_some_and(|(v, _)| v == version) && slot.default != Some(version) {
        VersionStatus::Canary
    } else if slot.default == Some(version) {
        VersionStatus::Default
    } else {
        VersionStatus::OnRequest
    }
}

impl From<SlotInfo<'_>> for ModelInfo {
    fn from(slot: SlotInfo<'_>) -> ModelInfo {
        ModelInfo {
            name: slot.name.to_string(),
            default_version: slot.default,
            pinned_version: slot.pinned,
            canary: slot.canary.map(|(version, percent)| CanaryInfo {
                version,
                percent,
                problem: slot.canary_problem.clone(),
            }),
            loaded: slot
                .loaded
                .iter()
                .map(|&(version, manifest)| VersionInfo {
                    version,
                    status: status(&slot, version),
                    click_schema: manifest.click_schema.name.clone(),
                    manifest: format!("/models/{}/{version}", slot.name),
                    report: None,
                    report_refused: None,
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
            problem: slot.problem.map(str::to_owned),
        }
    }
}

/// Each loaded version's report: its link, or why the file there is not served. Reads the
/// folder (links resolved), so it runs off the async workers.
async fn with_reports(
    mut infos: Vec<ModelInfo>,
    state: &web::Data<AppState>,
) -> Result<Vec<ModelInfo>, ApiError> {
    let snapshot = state.registry.snapshot();
    let models_dir = state.registry.dir().to_owned();
    web::block(move || {
        for info in &mut infos {
            let Ok(name) = info.name.parse::<ModelName>() else {
                continue;
            };
            for v in &mut info.loaded {
                let Ok(dir) = snapshot.version_dir(name, v.version) else {
                    continue;
                };
                match confined(&models_dir, &dir.join(REPORT_FILE)) {
                    Confined::File(_) => {
                        v.report = Some(format!("/models/{name}/{}/report", v.version));
                    }
                    Confined::Absent => {}
                    Confined::Refused(why) => v.report_refused = Some(why),
                }
            }
        }
        infos
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))
}

/// One loaded version in full.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionDetail {
    pub name: String,
    pub version: u32,
    pub status: VersionStatus,
    /// As written by the trainer: data, features, metrics, threshold, personas...
    #[schema(value_type = Object)]
    pub manifest: Manifest,
}

/// Every model: its loaded versions and their roles, and its refused versions.
#[utoipa::path(
    tag = "models",
    security((), ("api_key" = [])),
    responses((status = 200, description = "Every model, in short; each version's manifest is at `/models/{name}/{version}`", body = Vec<ModelInfo>), ModelsErrors)
)]
#[get("/models")]
pub async fn models(_key: ApiKey, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let snapshot = state.registry.snapshot();
    let all: Vec<ModelInfo> = ModelName::ALL
        .iter()
        .map(|&n| ModelInfo::from(snapshot.info(n)))
        .collect();
    Ok(HttpResponse::Ok().json(with_reports(all, &state).await?))
}

/// One model: its loaded versions and their roles, and its refused versions.
#[utoipa::path(
    tag = "models",
    params(("name" = String, Path, description = "convert, revenue or segment")),
    security((), ("api_key" = [])),
    responses((status = 200, description = "The model, in short", body = ModelInfo), ModelErrors)
)]
#[get("/models/{name}")]
pub async fn model(
    _key: ApiKey,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let name: ModelName = path.parse().map_err(ApiError::ModelNotFound)?;
    let snapshot = state.registry.snapshot();
    let one = vec![ModelInfo::from(snapshot.info(name))];
    let one = with_reports(one, &state).await?;
    Ok(HttpResponse::Ok().json(&one[0]))
}

/// One loaded version with its full manifest.
#[utoipa::path(
    tag = "models",
    params(
        ("name" = String, Path, description = "convert, revenue or segment"),
        ("version" = u32, Path, description = "A loaded version, as `/models/{name}` lists them"),
    ),
    security((), ("api_key" = [])),
    responses((status = 200, description = "The version and its manifest", body = VersionDetail), ModelVersionErrors)
)]
#[get("/models/{name}/{version}")]
pub async fn model_version(
    _key: ApiKey,
    path: web::Path<(String, u32)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (name, version) = path.into_inner();
    let name: ModelName = name.parse().map_err(ApiError::ModelNotFound)?;
    let snapshot = state.registry.snapshot();
    let slot = snapshot.info(name);
    let Some(&(_, manifest)) = slot.loaded.iter().find(|(v, _)| *v == version) else {
        let missing = SelectError::VersionNotLoaded {
            model: name,
            requested: version,
            available: slot.loaded.iter().map(|(v, _)| *v).collect(),
        };
        return Err(missing.into());
    };
    Ok(HttpResponse::Ok().json(VersionDetail {
        name: name.to_string(),
        version,
        status: status(&slot, version),
        manifest: manifest.clone(),
    }))
}
