//! Routes: thin translations from HTTP to the registry and the scoring module and back.

use super::observe;
use super::problem::{model_name, ApiError, Problem, ScoringErrors};
use super::registry::{Registry, ReloadSummary, Snapshot};
use super::settings::Settings;
use super::wire::{
    from_json, ConvertOutput, RevenueOutput, ScoreOutput, ScoreQuery, SegmentOutput, SessionInput,
};
use crate::domain::Session;
use crate::ml::model_file::{Manifest, ModelName};
use crate::scoring;
use actix_web::http::header;
use actix_web::web::{self, Bytes};
use actix_web::{get, post, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde::Serialize;
use std::sync::Arc;
use utoipa::ToSchema;

/// Shared by every worker.
pub struct AppState {
    pub registry: Arc<Registry>,
    pub settings: Arc<Settings>,
    pub api_keys: Vec<String>,
}

/// Reads the body up to the configured limit, after checking its media type.
pub(super) async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
    accepted: &[&'static str],
) -> Result<Bytes, ApiError> {
    let essence = media_type(req);
    if !accepted.contains(&essence.as_str()) {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        return Err(ApiError::UnsupportedMediaType {
            got: content_type,
            supported: if accepted.len() > 1 {
                "application/json or text/csv"
            } else {
                "application/json"
            },
        });
    }
    if let Some(length) = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
    {
        if length > limit {
            return Err(ApiError::TooLarge { limit });
        }
    }
    // A small body usually arrives in one chunk: keep that one as it is, without a copy.
    let mut only: Option<Bytes> = None;
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::Malformed(e.to_string()))?;
        let held = only.as_ref().map_or(body.len(), Bytes::len);
        if held + chunk.len() > limit {
            return Err(ApiError::TooLarge { limit });
        }
        match only.take() {
            None if body.is_empty() => only = Some(chunk),
            Some(first) => {
                body.extend_from_slice(&first);
                body.extend_from_slice(&chunk);
            }
            None => body.extend_from_slice(&chunk),
        }
    }
    Ok(only.unwrap_or_else(|| body.freeze()))
}

/// The request's media type without parameters, lower case.
pub(super) fn media_type(req: &HttpRequest) -> String {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// The model versions that answered, for the request's log line.
#[derive(Debug, Clone)]
pub struct ModelVersions(pub String);

pub(super) fn with_versions<'a>(
    mut response: HttpResponse,
    versions: impl IntoIterator<Item = (&'a str, u32)>,
) -> HttpResponse {
    let mut seen: Vec<(&str, u32)> = versions.into_iter().collect();
    seen.sort_unstable();
    seen.dedup();
    let mut text = String::with_capacity(16 * seen.len());
    for (i, (name, v)) in seen.iter().enumerate() {
        use std::fmt::Write;
        let _ = write!(text, "{}{name}/{v}", if i > 0 { "," } else { "" });
    }
    response.extensions_mut().insert(ModelVersions(text));
    response
}

/// Compares secrets in constant time, so response timing does not leak how much of a
/// guess was right.
fn secret_eq(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// When API keys are configured, scoring needs one in `X-Api-Key`.
pub(super) fn authorize(req: &HttpRequest, state: &AppState) -> Result<(), ApiError> {
    if state.api_keys.is_empty() {
        return Ok(());
    }
    match req.headers().get("X-Api-Key").and_then(|v| v.to_str().ok()) {
        Some(key) if state.api_keys.iter().any(|k| secret_eq(k, key)) => Ok(()),
        Some(_) => Err(ApiError::Unauthorized("the API key is not valid".into())),
        None => Err(ApiError::Unauthorized(
            "an API key is required in X-Api-Key".into(),
        )),
    }
}

async fn one_session(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
) -> Result<Session, ApiError> {
    authorize(req, state)?;
    let body = read_body(
        req,
        payload,
        state.settings.max_body_bytes,
        &["application/json"],
    )
    .await?;
    let input: SessionInput = from_json(&body)?;
    input
        .parse("", state.settings.max_clicks_per_session)
        .map_err(ApiError::Invalid)
}

pub(super) fn convert_output(
    snapshot: &Snapshot,
    state: &AppState,
    session: &Session,
    query: &ScoreQuery,
) -> Result<ConvertOutput, ApiError> {
    let id = session.id().as_str();
    let loaded = snapshot.select(
        ModelName::Convert,
        query.version,
        id,
        state.registry.canary(),
    )?;
    let a = scoring::convert(&loaded, session, query.explain)?;
    observe::prediction(ModelName::Convert, loaded.manifest.version);
    if !a.already_converted {
        observe::conversion_probability(loaded.manifest.version, a.probability);
    }
    Ok(ConvertOutput {
        session_id: id.to_owned(),
        model: ModelName::Convert.to_string(),
        model_version: loaded.manifest.version,
        probability: a.probability,
        will_convert: a.will_convert,
        threshold: a.threshold,
        percentile: a.percentile,
        tier: a.tier,
        already_converted: a.already_converted,
        explanation: a.explanation,
    })
}

pub(super) fn revenue_output(
    snapshot: &Snapshot,
    state: &AppState,
    session: &Session,
    query: &ScoreQuery,
) -> Result<RevenueOutput, ApiError> {
    let id = session.id().as_str();
    let loaded = snapshot.select(
        ModelName::Revenue,
        query.version,
        id,
        state.registry.canary(),
    )?;
    let a = scoring::revenue(&loaded, session)?;
    observe::prediction(ModelName::Revenue, loaded.manifest.version);
    Ok(RevenueOutput {
        session_id: id.to_owned(),
        model: ModelName::Revenue.to_string(),
        model_version: loaded.manifest.version,
        expected_revenue: a.expected_revenue,
        revenue_if_converts: a.revenue_if_converts,
        probability: a.probability,
        already_converted: a.already_converted,
    })
}

pub(super) fn segment_output(
    snapshot: &Snapshot,
    state: &AppState,
    session: &Session,
    query: &ScoreQuery,
) -> Result<SegmentOutput, ApiError> {
    let id = session.id().as_str();
    let loaded = snapshot.select(
        ModelName::Segment,
        query.version,
        id,
        state.registry.canary(),
    )?;
    let a = scoring::segment(&loaded, session)?;
    observe::prediction(ModelName::Segment, loaded.manifest.version);
    observe::persona(loaded.manifest.version, &a.name);
    Ok(SegmentOutput {
        session_id: id.to_owned(),
        model: ModelName::Segment.to_string(),
        model_version: loaded.manifest.version,
        persona_id: a.persona_id,
        name: a.name,
        description: a.description,
        distance: a.distance,
    })
}

/// The model versions behind an answer, for the log line.
pub(super) trait Answered {
    fn versions(&self) -> Vec<(&'static str, u32)>;
}

impl Answered for ConvertOutput {
    fn versions(&self) -> Vec<(&'static str, u32)> {
        vec![("convert", self.model_version)]
    }
}

impl Answered for RevenueOutput {
    fn versions(&self) -> Vec<(&'static str, u32)> {
        vec![("revenue", self.model_version)]
    }
}

impl Answered for SegmentOutput {
    fn versions(&self) -> Vec<(&'static str, u32)> {
        vec![("segment", self.model_version)]
    }
}

impl Answered for ScoreOutput {
    fn versions(&self) -> Vec<(&'static str, u32)> {
        vec![
            ("convert", self.convert.model_version),
            ("revenue", self.revenue.model_version),
            ("segment", self.segment.model_version),
        ]
    }
}

/// A single-session route: the same checks, errors and documentation for each answer.
// rustfmt re-indents the attribute inside this macro a little more on every run.
#[rustfmt::skip]
macro_rules! single_route {
    ($fn:ident, $path:literal, $output:ty, $answer:ident, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(
            tag = "scoring",
            request_body = SessionInput,
            params(ScoreQuery),
            responses((status = 200, body = $output), ScoringErrors)
        )]
        #[post($path)]
        pub async fn $fn(
            req: HttpRequest,
            payload: web::Payload,
            query: web::Query<ScoreQuery>,
            state: web::Data<AppState>,
        ) -> Result<HttpResponse, ApiError> {
            let session = one_session(&req, payload, &state).await?;
            let snapshot = state.registry.snapshot();
            let out = $answer(&snapshot, &state, &session, &query)?;
            Ok(with_versions(HttpResponse::Ok().json(&out), out.versions()))
        }
    };
}

single_route!(
    convert,
    "/convert",
    ConvertOutput,
    convert_output,
    "Conversion probability of one session."
);
single_route!(
    revenue,
    "/revenue",
    RevenueOutput,
    revenue_output,
    "Expected revenue of one session."
);
single_route!(
    segment,
    "/segment",
    SegmentOutput,
    segment_output,
    "Persona of one session."
);
single_route!(
    score,
    "/score",
    ScoreOutput,
    score_output,
    "All three answers for one session, from one consistent set of models."
);

pub(super) fn score_output(
    snapshot: &Snapshot,
    state: &AppState,
    session: &Session,
    query: &ScoreQuery,
) -> Result<ScoreOutput, ApiError> {
    Ok(ScoreOutput {
        session_id: session.id().to_string(),
        convert: convert_output(snapshot, state, session, query)?,
        revenue: revenue_output(snapshot, state, session, query)?,
        segment: segment_output(snapshot, state, session, query)?,
    })
}

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

fn model_info(snapshot: &Snapshot, name: ModelName) -> ModelInfo {
    let slot = snapshot.slots.get(&name);
    ModelInfo {
        name: name.to_string(),
        default_version: slot.and_then(|s| s.default),
        loaded: slot
            .map(|s| {
                s.loaded
                    .iter()
                    .map(|(v, m)| VersionInfo {
                        version: *v,
                        default: s.default == Some(*v),
                        manifest: m.manifest.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        failed: slot
            .map(|s| {
                s.failed
                    .iter()
                    .map(|(v, why)| FailedVersion {
                        version: *v,
                        reason: why.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// Every model: loaded versions, the default, their manifests, and refused versions.
#[utoipa::path(tag = "models", responses((status = 200, body = Vec<ModelInfo>)))]
#[get("/models")]
pub async fn models(state: web::Data<AppState>) -> HttpResponse {
    let snapshot = state.registry.snapshot();
    let all: Vec<ModelInfo> = ModelName::ALL
        .iter()
        .map(|&n| model_info(&snapshot, n))
        .collect();
    HttpResponse::Ok().json(all)
}

/// One model: loaded versions, the default, their manifests, and refused versions.
#[utoipa::path(
    tag = "models",
    params(("name" = String, Path, description = "convert, revenue or segment")),
    responses(
        (status = 200, body = ModelInfo),
        (status = 404, description = "Unknown model", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/models/{name}")]
pub async fn model(
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let name = model_name(&path)?;
    Ok(HttpResponse::Ok().json(model_info(&state.registry.snapshot(), name)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: String,
}

/// The process is up.
#[utoipa::path(tag = "health", responses((status = 200, body = Health)))]
#[get("/livez")]
pub async fn livez() -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok".into(),
    })
}

/// Ready while every model has a valid version loaded.
#[utoipa::path(
    tag = "health",
    responses(
        (status = 200, body = Health),
        (status = 503, description = "A model has no valid version", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state
        .registry
        .snapshot()
        .readiness()
        .map_err(ApiError::NotReady)?;
    Ok(HttpResponse::Ok().json(Health {
        status: "ready".into(),
    }))
}

/// Rescan the models folder now. Needs `Authorization: Bearer <ADMIN_TOKEN>`; without a
/// configured token the route does not exist (404).
#[utoipa::path(
    tag = "admin",
    responses(
        (status = 200, body = ReloadSummary),
        (status = 401, description = "Missing or wrong token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No admin token configured", body = Problem, content_type = "application/problem+json"),
    ),
    security(("admin_token" = []))
)]
#[post("/admin/reload")]
pub async fn reload(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let Some(token) = &state.settings.admin_token else {
        return Err(ApiError::NotFound(
            "the admin routes are disabled: no ADMIN_TOKEN is configured".into(),
        ));
    };
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match given {
        Some(g) if secret_eq(g, token.expose()) => {}
        Some(_) => {
            return Err(ApiError::Unauthorized(
                "the admin token is not valid".into(),
            ))
        }
        None => {
            return Err(ApiError::Unauthorized(
                "Authorization: Bearer <token> is required".into(),
            ))
        }
    }
    let registry = state.registry.clone();
    let summary = web::block(move || super::reload(&registry, "admin"))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(HttpResponse::Ok().json(summary))
}

/// Prometheus metrics: requests and latency by route and status, predictions by model and
/// version, conversion probabilities, personas, model loads and a `model_info` gauge.
#[utoipa::path(tag = "health", responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain; version=0.0.4")))]
#[get("/metrics")]
pub async fn metrics() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(observe::render())
}

/// Registers every route (and, through utoipa-actix-web, its OpenAPI part).
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(convert)
        .service(revenue)
        .service(segment)
        .service(score)
        .service(super::batch::convert_batch)
        .service(super::batch::revenue_batch)
        .service(super::batch::segment_batch)
        .service(super::batch::score_batch)
        .service(models)
        .service(model)
        .service(livez)
        .service(readyz)
        .service(metrics)
        .service(reload);
}
