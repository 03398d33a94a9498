//! The scoring routes: one handler per route, each a line into the shared single-session or
//! batch flow with its model's scorer.

use crate::inference::csv::columns;
use crate::inference::scorer::{Convert, Revenue, Score, Segment};
use crate::ml::model_file::ModelName;
use crate::service::http::{ApiKey, AppState, StrictQuery};
use crate::service::problem::{ApiError, ScoringErrors};
use crate::service::scorer;
use crate::service::wire::{
    BatchInput, BatchOptions, BatchOutput, ConvertOutput, ConvertQuery, ModelQuery, RevenueOutput,
    ScoreOutput, ScoreQuery, SegmentOutput, SessionInput,
};
use actix_web::{post, web, HttpRequest, HttpResponse};

/// The CSV body example every batch route shows, from the click table's examples.
fn csv_example() -> String {
    crate::domain::UCI.csv_example()
}

/// The batch routes and the columns of their CSV answers, for the OpenAPI document (the
/// columns come from the same definition the answers are written with; every answer has
/// a flat form, which `inference::answer`'s tests check).
pub fn csv_answers() -> [(&'static str, Vec<String>); 4] {
    [
        (
            "/convert/batch",
            columns::<ConvertOutput>().unwrap_or_default(),
        ),
        (
            "/revenue/batch",
            columns::<RevenueOutput>().unwrap_or_default(),
        ),
        (
            "/segment/batch",
            columns::<SegmentOutput>().unwrap_or_default(),
        ),
        ("/score/batch", columns::<ScoreOutput>().unwrap_or_default()),
    ]
}

/// Conversion probability of one session.
#[utoipa::path(
    tag = "scoring",
    request_body = SessionInput,
    params(ConvertQuery),
    security((), ("api_key" = [])),
    responses((status = 200, description = "The session's conversion answer", body = ConvertOutput), ScoringErrors)
)]
#[post("/convert")]
pub async fn convert(
    _key: ApiKey,
    req: HttpRequest,
    payload: web::Payload,
    query: StrictQuery<ConvertQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let selection = query.0.parse();
    scorer::single(Convert, &req, payload, &selection, &state).await
}

/// Expected revenue of one session.
#[utoipa::path(
    tag = "scoring",
    request_body = SessionInput,
    params(ModelQuery),
    security((), ("api_key" = [])),
    responses((status = 200, description = "The session's revenue answer", body = RevenueOutput), ScoringErrors)
)]
#[post("/revenue")]
pub async fn revenue(
    _key: ApiKey,
    req: HttpRequest,
    payload: web::Payload,
    query: StrictQuery<ModelQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let selection = query.0.parse(ModelName::Revenue)?;
    scorer::single(Revenue, &req, payload, &selection, &state).await
}

/// Persona of one session.
#[utoipa::path(
    tag = "scoring",
    request_body = SessionInput,
    params(ModelQuery),
    security((), ("api_key" = [])),
    responses((status = 200, description = "The session's persona", body = SegmentOutput), ScoringErrors)
)]
#[post("/segment")]
pub async fn segment(
    _key: ApiKey,
    req: HttpRequest,
    payload: web::Payload,
    query: StrictQuery<ModelQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let selection = query.0.parse(ModelName::Segment)?;
    scorer::single(Segment, &req, payload, &selection, &state).await
}

/// All three answers for one session, from one consistent set of models. Each model's
/// version is chosen with its own parameter (`convert_version`, `revenue_version`,
/// `segment_version`); a bare `version` is refused with 422, as it would be ambiguous.
#[utoipa::path(
    tag = "scoring",
    request_body = SessionInput,
    params(ScoreQuery),
    security((), ("api_key" = [])),
    responses((status = 200, description = "The three answers", body = ScoreOutput), ScoringErrors)
)]
#[post("/score")]
pub async fn score(
    _key: ApiKey,
    req: HttpRequest,
    payload: web::Payload,
    query: StrictQuery<ScoreQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let selection = query.0.parse()?;
    scorer::single(Score, &req, payload, &selection, &state).await
}

/// Conversion probabilities of many sessions.
#[utoipa::path(
    tag = "scoring",
    request_body(content(
        (BatchInput = "application/json"),
        (String = "text/csv", example = json!(csv_example()))
    )),
    params(ConvertQuery, BatchOptions),
    security((), ("api_key" = [])),
    responses(
        (status = 200, description = "One answer per scored session, in order: JSON, or CSV when `Accept` prefers `text/csv`; with `on_error=skip` the left-out sessions are listed under `errors` (JSON) or in a last `error` column (CSV)", content((BatchOutput<ConvertOutput> = "application/json"), (String = "text/csv"))),
        ScoringErrors,
    )
)]
#[post("/convert/batch")]
pub async fn convert_batch(
    _key: ApiKey,
    req: HttpRequest,
    payload: web::Payload,
    query: StrictQuery<ConvertQuery, BatchOptions>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let selection = query.0.parse();
    scorer::batch(Convert, &req, payload, selection, query.1.on_error, state).await
}

/// Expected revenue of many sessions.
#[utoipa::path(
    tag = "scoring",
    request_body(content(
        (BatchInput = "application/json"),
        (String = "text/csv", example = json!(csv_example()))
    )),
    params(ModelQuery, BatchOptions),
    security((), ("api_key" = [])),
    responses(
        (status = 200, description = "One answer per scored session, in order: JSON, or CSV when `Accept` prefers `text/csv`; with `on_error=skip` the left-out sessions are listed under `errors` (JSON) or in a last `error` column (CSV)", content((BatchOutput<RevenueOutput> = "application/json"), (String = "text/csv"))),
        ScoringErrors,
    )
)]
#[post("/revenue/batch")]
pub async fn revenue_batch(
    _key: ApiKey,
    req: HttpRequest,
    payload: web::Payload,
    query: StrictQuery<ModelQuery, BatchOptions>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let selection = query.0.parse(ModelName::Revenue)?;
    scorer::batch(Revenue, &req, payload, selection, query.1.on_error, state).await
}

/// Personas of many sessions.
#[utoipa::path(
    tag = "scoring",
    request_body(content(
        (BatchInput = "application/json"),
        (String = "text/csv", example = json!(csv_example()))
    )),
    params(ModelQuery, BatchOptions),
    security((), ("api_key" = [])),
    responses(
        (status = 200, description = "One answer per scored session, in order: JSON, or CSV when `Accept` prefers `text/csv`; with `on_error=skip` the left-out sessions are listed under `errors` (JSON) or in a last `error` column (CSV)", content((BatchOutput<SegmentOutput> = "application/json"), (String = "text/csv"))),
        ScoringErrors,
    )
)]
#[post("/segment/batch")]
pub async fn segment_batch(
    _key: ApiKey,
    req: HttpRequest,
    payload: web::Payload,
    query: StrictQuery<ModelQuery, BatchOptions>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let selection = query.0.parse(ModelName::Segment)?;
    scorer::batch(Segment, &req, payload, selection, query.1.on_error, state).await
}

/// All three answers for many sessions. Versions as on `/score`: one parameter per model,
/// a bare `version` refused. The CSV answer's columns are the JSON fields, each nested
/// answer's under its name and a dot (`convert.probability`).
#[utoipa::path(
    tag = "scoring",
    request_body(content(
        (BatchInput = "application/json"),
        (String = "text/csv", example = json!(csv_example()))
    )),
    params(ScoreQuery, BatchOptions),
    security((), ("api_key" = [])),
    responses(
        (status = 200, description = "One answer per scored session, in order: JSON, or CSV when `Accept` prefers `text/csv`; with `on_error=skip` the left-out sessions are listed under `errors` (JSON) or in a last `error` column (CSV)", content((BatchOutput<ScoreOutput> = "application/json"), (String = "text/csv"))),
        ScoringErrors,
    )
)]
#[post("/score/batch")]
pub async fn score_batch(
    _key: ApiKey,
    req: HttpRequest,
    payload: web::Payload,
    query: StrictQuery<ScoreQuery, BatchOptions>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let selection = query.0.parse()?;
    scorer::batch(Score, &req, payload, selection, query.1.on_error, state).await
}
