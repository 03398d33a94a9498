//! Batch routes: many sessions per request, as JSON (`{"sessions": [...]}`) or as a CSV
//! upload in any format `train` reads; answers as JSON, or CSV for `Accept: text/csv`.
//! Scoring runs off the async workers, on all cores.

use super::api::{self, Answered, AppState};
use super::problem::{ApiError, FieldIssue, ScoringErrors};
use super::wire::{
    from_json, BatchInput, ConvertOutput, RevenueOutput, ScoreOutput, ScoreQuery, SegmentOutput,
};
use crate::domain::Session;
use crate::reader::{self, ReadError, ReadOptions};
use actix_web::http::header;
use actix_web::{post, web, HttpRequest, HttpResponse};
use rayon::prelude::*;
use serde::Serialize;
use std::path::Path;
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy)]
enum Route {
    Convert,
    Revenue,
    Segment,
    Score,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Answer {
    Convert(ConvertOutput),
    Revenue(RevenueOutput),
    Segment(SegmentOutput),
    Score(Box<ScoreOutput>),
}

impl Answer {
    fn versions(&self) -> Vec<(&'static str, u32)> {
        match self {
            Answer::Convert(c) => c.versions(),
            Answer::Revenue(r) => r.versions(),
            Answer::Segment(s) => s.versions(),
            Answer::Score(s) => s.versions(),
        }
    }
}

/// A batch answer, encoded, with the versions that answered.
struct Encoded {
    bytes: Vec<u8>,
    content_type: &'static str,
    versions: Vec<(&'static str, u32)>,
}

/// Answers for many sessions, in the order they came.
#[derive(Serialize, ToSchema)]
pub struct BatchOutput<T> {
    pub results: Vec<T>,
}

fn csv_problem(e: ReadError) -> ApiError {
    match e {
        ReadError::Invalid {
            line,
            column,
            value,
            allowed,
            ..
        } => ApiError::invalid(
            format!("line {line}, column {column}"),
            format!("got {value:?}, expected {allowed}"),
        ),
        ReadError::ConflictingOrder {
            line,
            session,
            order,
            ..
        } => ApiError::invalid(
            format!("line {line}"),
            format!("session {session:?} already has a different click with order {order}"),
        ),
        ReadError::MissingColumns { missing, .. } => {
            ApiError::invalid("header", format!("missing column(s) {missing}"))
        }
        ReadError::Empty { .. }
        | ReadError::Separator { .. }
        | ReadError::Malformed { .. }
        | ReadError::Io { .. } => ApiError::Malformed(e.to_string()),
    }
}

async fn sessions_of(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
) -> Result<Vec<Session>, ApiError> {
    api::authorize(req, state)?;
    let settings = &state.settings;
    let body = api::read_body(
        req,
        payload,
        settings.max_body_bytes,
        &["application/json", "text/csv"],
    )
    .await?;
    let is_csv = api::media_type(req) == "text/csv";
    let max_sessions = settings.max_sessions_per_batch;
    let max_clicks = settings.max_clicks_per_session;
    let too_many = move |n: usize| {
        ApiError::invalid(
            "sessions",
            format!("{n} sessions is more than the limit of {max_sessions} per batch"),
        )
    };
    web::block(move || -> Result<Vec<Session>, ApiError> {
        if is_csv {
            let stream = reader::read_clickstream_from(
                body.as_ref(),
                Path::new("request body"),
                ReadOptions::default(),
            )
            .map_err(csv_problem)?;
            if stream.sessions.len() > max_sessions {
                return Err(too_many(stream.sessions.len()));
            }
            if let Some(long) = stream
                .sessions
                .iter()
                .find(|s| s.clicks().len() > max_clicks)
            {
                return Err(ApiError::invalid(
                    format!("session {}", long.id()),
                    format!(
                        "{} clicks is more than the limit of {max_clicks} per session",
                        long.clicks().len()
                    ),
                ));
            }
            return Ok(stream.sessions);
        }
        let input: BatchInput = from_json(&body)?;
        if input.sessions.len() > max_sessions {
            return Err(too_many(input.sessions.len()));
        }
        let parsed: Vec<Result<Session, Vec<FieldIssue>>> = input
            .sessions
            .par_iter()
            .enumerate()
            .map(|(i, s)| s.parse(&format!("sessions[{i}]."), max_clicks))
            .collect();
        let mut sessions = Vec::with_capacity(parsed.len());
        let mut issues = Vec::new();
        for p in parsed {
            match p {
                Ok(s) => sessions.push(s),
                Err(e) => issues.extend(e),
            }
        }
        if issues.is_empty() {
            Ok(sessions)
        } else {
            Err(ApiError::Invalid(issues))
        }
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
}

async fn batch(
    route: Route,
    req: HttpRequest,
    payload: web::Payload,
    query: web::Query<ScoreQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let sessions = sessions_of(&req, payload, &state).await?;
    let wants_csv = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/csv"));
    let query = query.into_inner();
    let worker_state = state.clone();
    let body = web::block(move || -> Result<Encoded, ApiError> {
        let state = &worker_state;
        let snapshot = state.registry.snapshot();
        let answers: Vec<Answer> = sessions
            .par_iter()
            .map(|s| {
                Ok(match route {
                    Route::Convert => {
                        Answer::Convert(api::convert_output(&snapshot, state, s, &query)?)
                    }
                    Route::Revenue => {
                        Answer::Revenue(api::revenue_output(&snapshot, state, s, &query)?)
                    }
                    Route::Segment => {
                        Answer::Segment(api::segment_output(&snapshot, state, s, &query)?)
                    }
                    Route::Score => {
                        Answer::Score(Box::new(api::score_output(&snapshot, state, s, &query)?))
                    }
                })
            })
            .collect::<Result<_, ApiError>>()?;
        let mut versions: Vec<(&'static str, u32)> =
            answers.iter().flat_map(Answer::versions).collect();
        versions.sort_unstable();
        versions.dedup();
        if wants_csv {
            let csv = to_csv(&answers).map_err(|e| ApiError::Internal(e.to_string()))?;
            Ok(Encoded {
                bytes: csv,
                content_type: "text/csv",
                versions,
            })
        } else {
            let json = serde_json::to_vec(&BatchOutput { results: answers })
                .map_err(|e| ApiError::Internal(e.to_string()))?;
            Ok(Encoded {
                bytes: json,
                content_type: "application/json",
                versions,
            })
        }
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))??;
    Ok(api::with_versions(
        HttpResponse::Ok()
            .content_type(body.content_type)
            .body(body.bytes),
        body.versions,
    ))
}

/// Flat CSV rows: one per session, the nested answers' fields side by side.
fn to_csv(answers: &[Answer]) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for answer in answers {
        match answer {
            Answer::Convert(c) => w.serialize(ConvertRow::from(c))?,
            Answer::Revenue(r) => w.serialize(r)?,
            Answer::Segment(s) => w.serialize(s)?,
            Answer::Score(s) => w.serialize(ScoreRow::from(s.as_ref()))?,
        }
    }
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

#[derive(Serialize)]
struct ConvertRow<'a> {
    session_id: &'a str,
    model_version: u32,
    probability: f64,
    will_convert: bool,
    threshold: f64,
    percentile: f64,
    tier: crate::scoring::Tier,
    already_converted: bool,
}

impl<'a> From<&'a ConvertOutput> for ConvertRow<'a> {
    fn from(c: &'a ConvertOutput) -> Self {
        ConvertRow {
            session_id: &c.session_id,
            model_version: c.model_version,
            probability: c.probability,
            will_convert: c.will_convert,
            threshold: c.threshold,
            percentile: c.percentile,
            tier: c.tier,
            already_converted: c.already_converted,
        }
    }
}

#[derive(Serialize)]
struct ScoreRow<'a> {
    session_id: &'a str,
    convert_version: u32,
    probability: f64,
    will_convert: bool,
    percentile: f64,
    tier: crate::scoring::Tier,
    already_converted: bool,
    revenue_version: u32,
    expected_revenue: f64,
    revenue_if_converts: f64,
    segment_version: u32,
    persona_id: usize,
    persona: &'a str,
}

impl<'a> From<&'a ScoreOutput> for ScoreRow<'a> {
    fn from(s: &'a ScoreOutput) -> Self {
        ScoreRow {
            session_id: &s.session_id,
            convert_version: s.convert.model_version,
            probability: s.convert.probability,
            will_convert: s.convert.will_convert,
            percentile: s.convert.percentile,
            tier: s.convert.tier,
            already_converted: s.convert.already_converted,
            revenue_version: s.revenue.model_version,
            expected_revenue: s.revenue.expected_revenue,
            revenue_if_converts: s.revenue.revenue_if_converts,
            segment_version: s.segment.model_version,
            persona_id: s.segment.persona_id,
            persona: &s.segment.name,
        }
    }
}

macro_rules! batch_route {
    ($fn:ident, $path:literal, $route:expr, $output:ty, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(
            tag = "scoring",
            request_body(content(
                (BatchInput = "application/json"),
                (String = "text/csv", example = "year,month,day,order,country,session_id,page1_main_category,page2_clothing_model,colour,location,model_photography,price,price_2,page\n2008,4,1,1,29,s-1,1,A13,1,5,1,28,2,1\n")
            )),
            params(ScoreQuery),
            responses(
                (status = 200, description = "One answer per session, in order (CSV with Accept: text/csv)", body = BatchOutput<$output>),
                ScoringErrors,
            )
        )]
        #[post($path)]
        pub async fn $fn(
            req: HttpRequest,
            payload: web::Payload,
            query: web::Query<ScoreQuery>,
            state: web::Data<AppState>,
        ) -> Result<HttpResponse, ApiError> {
            batch($route, req, payload, query, state).await
        }
    };
}

batch_route!(
    convert_batch,
    "/convert/batch",
    Route::Convert,
    ConvertOutput,
    "Conversion probabilities of many sessions."
);
batch_route!(
    revenue_batch,
    "/revenue/batch",
    Route::Revenue,
    RevenueOutput,
    "Expected revenue of many sessions."
);
batch_route!(
    segment_batch,
    "/segment/batch",
    Route::Segment,
    SegmentOutput,
    "Personas of many sessions."
);
batch_route!(
    score_batch,
    "/score/batch",
    Route::Score,
    ScoreOutput,
    "All three answers for many sessions."
);
