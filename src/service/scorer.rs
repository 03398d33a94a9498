//! One scorer per model behind one trait: it picks the version (`?version=`, canary,
//! default or pin), scores with [`crate::scoring`], builds the wire answer and records its
//! metrics. The single-session and batch flows below are the same for every scorer, so
//! `/convert` and `/convert/batch` cannot drift apart.

use super::http::{self, Accepts, AppState, Format};
use super::observe;
use super::problem::{ApiError, FieldIssue};
use super::registry::Snapshot;
use super::wire::{
    from_json, no_csv_explanation, BatchInput, BatchOutput, ConvertOutput, CsvAnswer, CsvRecord,
    RevenueOutput, ScoreOutput, SegmentOutput, Selection, SessionInput,
};
use crate::domain::Session;
use crate::ml::model_file::ModelName;
use crate::reader::{self, ReadError, ReadOptions};
use crate::scoring;
use actix_web::{web, HttpRequest, HttpResponse};
use rayon::prelude::*;
use serde::Serialize;
use std::path::Path;

pub trait Scorer: Copy + Send + Sync + 'static {
    type Output: Serialize + CsvAnswer + Send + 'static;

    /// Answers one session with the versions `snapshot` holds, and records the metrics.
    fn score(
        self,
        snapshot: &Snapshot,
        session: &Session,
        query: &Selection,
    ) -> Result<Self::Output, ApiError>;

    /// The model versions behind an answer, for the log line.
    fn versions(output: &Self::Output) -> Vec<(ModelName, u32)>;

    /// One flat CSV row for an answer, under [`CsvAnswer::csv_columns`]: a record the
    /// batch flow may extend with trailing columns of its own before writing it.
    fn write_row(output: &Self::Output) -> csv::StringRecord {
        let mut record = CsvRecord::default();
        output.csv_cells(&mut record);
        record.into_inner()
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Convert;

impl Scorer for Convert {
    type Output = ConvertOutput;

    fn score(
        self,
        snapshot: &Snapshot,
        session: &Session,
        query: &Selection,
    ) -> Result<ConvertOutput, ApiError> {
        let id = session.id().as_str();
        let loaded = snapshot.convert.select(query.convert_version, id)?;
        let version = loaded.manifest.version;
        let a = scoring::convert(loaded, session, query.explain)?;
        observe::prediction(ModelName::Convert, version);
        if !a.already_converted {
            observe::conversion_probability(version, a.probability);
        }
        Ok(ConvertOutput {
            session_id: id.to_owned(),
            model: ModelName::Convert.to_string(),
            model_version: version,
            probability: a.probability,
            will_convert: a.will_convert,
            threshold: a.threshold,
            percentile: a.percentile,
            tier: a.tier,
            already_converted: a.already_converted,
            explanation: a.explanation,
        })
    }

    fn versions(output: &ConvertOutput) -> Vec<(ModelName, u32)> {
        vec![(ModelName::Convert, output.model_version)]
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Revenue;

impl Scorer for Revenue {
    type Output = RevenueOutput;

    fn score(
        self,
        snapshot: &Snapshot,
        session: &Session,
        query: &Selection,
    ) -> Result<RevenueOutput, ApiError> {
        let id = session.id().as_str();
        let loaded = snapshot.revenue.select(query.revenue_version, id)?;
        let version = loaded.manifest.version;
        let a = scoring::revenue(loaded, session)?;
        observe::prediction(ModelName::Revenue, version);
        Ok(RevenueOutput {
            session_id: id.to_owned(),
            model: ModelName::Revenue.to_string(),
            model_version: version,
            expected_revenue: a.expected_revenue,
            revenue_if_converts: a.revenue_if_converts,
            probability: a.probability,
            already_converted: a.already_converted,
        })
    }

    fn versions(output: &RevenueOutput) -> Vec<(ModelName, u32)> {
        vec![(ModelName::Revenue, output.model_version)]
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Segment;

impl Scorer for Segment {
    type Output = SegmentOutput;

    fn score(
        self,
        snapshot: &Snapshot,
        session: &Session,
        query: &Selection,
    ) -> Result<SegmentOutput, ApiError> {
        let id = session.id().as_str();
        let loaded = snapshot.segment.select(query.segment_version, id)?;
        let version = loaded.manifest.version;
        let a = scoring::segment(loaded, session)?;
        observe::prediction(ModelName::Segment, version);
        observe::persona(version, &a.name);
        Ok(SegmentOutput {
            session_id: id.to_owned(),
            model: ModelName::Segment.to_string(),
            model_version: version,
            persona_id: a.persona_id,
            name: a.name,
            description: a.description,
            distance: a.distance,
        })
    }

    fn versions(output: &SegmentOutput) -> Vec<(ModelName, u32)> {
        vec![(ModelName::Segment, output.model_version)]
    }
}

/// All three answers, from one snapshot.
#[derive(Debug, Clone, Copy)]
pub struct Score;

impl Scorer for Score {
    type Output = ScoreOutput;

    fn score(
        self,
        snapshot: &Snapshot,
        session: &Session,
        query: &Selection,
    ) -> Result<ScoreOutput, ApiError> {
        Ok(ScoreOutput {
            session_id: session.id().to_string(),
            convert: Convert.score(snapshot, session, query)?,
            revenue: Revenue.score(snapshot, session, query)?,
            segment: Segment.score(snapshot, session, query)?,
        })
    }

    fn versions(output: &ScoreOutput) -> Vec<(ModelName, u32)> {
        vec![
            (ModelName::Convert, output.convert.model_version),
            (ModelName::Revenue, output.revenue.model_version),
            (ModelName::Segment, output.segment.model_version),
        ]
    }
}

/// One session from a JSON body: read within the limits, parsed into domain values, scored.
pub async fn single<S: Scorer>(
    scorer: S,
    req: &HttpRequest,
    payload: web::Payload,
    query: &Selection,
    state: &AppState,
) -> Result<HttpResponse, ApiError> {
    http::negotiate(req, &[Format::Json])?;
    let settings = &state.settings;
    let body = http::read_body(req, payload, settings, Accepts::Json).await?;
    let input: SessionInput = from_json(&body)?;
    let session = input
        .parse("", settings.max_clicks_per_session)
        .map_err(ApiError::Invalid)?;
    let out = scorer.score(&state.registry.snapshot(), &session, query)?;
    let versions = S::versions(&out);
    Ok(http::with_versions(HttpResponse::Ok().json(&out), versions))
}

/// Many sessions from a JSON or CSV body, scored off the async workers on all cores;
/// answered as JSON, or CSV for `Accept: text/csv`.
pub async fn batch<S: Scorer>(
    scorer: S,
    req: &HttpRequest,
    payload: web::Payload,
    query: Selection,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let csv = http::negotiate(req, &[Format::Json, Format::Csv])? == Format::Csv;
    if csv && query.explain {
        return Err(no_csv_explanation());
    }
    let sessions = sessions_of(req, payload, &state).await?;
    let encoded = web::block(move || -> Result<Encoded, ApiError> {
        let snapshot = state.registry.snapshot();
        let answers: Vec<S::Output> = sessions
            .par_iter()
            .map(|s| scorer.score(&snapshot, s, &query))
            .collect::<Result<_, ApiError>>()?;
        let versions: Vec<(ModelName, u32)> = answers.iter().flat_map(S::versions).collect();
        let (bytes, content_type) = if csv {
            let mut w = csv::Writer::from_writer(Vec::new());
            let failed = |e: csv::Error| ApiError::Internal(e.to_string());
            w.write_record(S::Output::csv_columns()).map_err(failed)?;
            for answer in &answers {
                w.write_record(&S::write_row(answer)).map_err(failed)?;
            }
            let bytes = w
                .into_inner()
                .map_err(|e| ApiError::Internal(e.error().to_string()))?;
            (bytes, "text/csv")
        } else {
            let bytes = serde_json::to_vec(&BatchOutput { results: answers })
                .map_err(|e| ApiError::Internal(e.to_string()))?;
            (bytes, "application/json")
        };
        Ok(Encoded {
            bytes,
            content_type,
            versions,
        })
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))??;
    Ok(http::with_versions(
        HttpResponse::Ok()
            .content_type(encoded.content_type)
            .body(encoded.bytes),
        encoded.versions,
    ))
}

/// A batch answer, encoded, with the versions that answered.
struct Encoded {
    bytes: Vec<u8>,
    content_type: &'static str,
    versions: Vec<(ModelName, u32)>,
}

/// A refused CSV row as a field issue: where it is and what was wrong. `None` for errors
/// about the whole body.
fn row_issue(e: &ReadError) -> Option<FieldIssue> {
    let (path, message) = match e {
        ReadError::Invalid {
            line,
            column,
            value,
            allowed,
            ..
        } => (
            format!("line {line}, column {column}"),
            format!("got {value:?}, expected {allowed}"),
        ),
        ReadError::NotUtf8 {
            line,
            column,
            value,
            ..
        } => (
            format!("line {line}, column {column}"),
            format!("got {value:?}, which is not valid UTF-8 text"),
        ),
        ReadError::FieldCount {
            line,
            found,
            expected,
            ..
        } => (
            format!("line {line}"),
            format!("{found} fields, but the header has {expected}"),
        ),
        ReadError::ConflictingOrder {
            line,
            session,
            order,
            ..
        } => (
            format!("line {line}"),
            format!("session {session:?} already has a different click with order {order}"),
        ),
        ReadError::MissingColumns { missing, .. } => {
            ("header".to_owned(), format!("missing column(s) {missing}"))
        }
        ReadError::Empty { .. }
        | ReadError::Separator { .. }
        | ReadError::Malformed { .. }
        | ReadError::Io { .. } => return None,
    };
    Some(FieldIssue { path, message })
}

fn csv_problem(e: ReadError) -> ApiError {
    match row_issue(&e) {
        Some(issue) => ApiError::Invalid(vec![issue]),
        None => ApiError::Malformed(e.to_string()),
    }
}

/// The sessions of a batch body, every field checked, within the batch limits.
async fn sessions_of(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
) -> Result<Vec<Session>, ApiError> {
    let settings = &state.settings;
    let body = http::read_body(req, payload, settings, Accepts::JsonOrCsv).await?;
    let is_csv = http::media_type(req) == "text/csv";
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
