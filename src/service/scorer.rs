//! The HTTP flows of scoring, the same for every model's scorer
//! ([`crate::inference::scorer`]), so `/convert` and `/convert/batch` cannot drift apart:
//! one session from a JSON body, or many from a JSON or CSV body, answered as JSON or CSV
//! and counted in the server's metrics.

use super::admission::{Permit, Pool};
use super::http::{self, Accepts, AppState, Format};
use super::observe::Recorded;
use super::problem::{ApiError, FieldIssue};
use super::settings::Settings;
use super::wire::{
    batch_from_json, no_csv_explanation, point_the_way, session_from_json, BatchOutput, CsvRecord,
    FormulaGuard, OnError, Refusal, Refused, Selection, SessionErrors, ShopJson,
    ISSUES_PER_SESSION,
};
use crate::domain::catalogue::Unseen;
use crate::domain::shop::ShopSession;
use crate::domain::Session;
use crate::inference::answer::{Passed, Passthrough};
use crate::inference::csv::{columns, row, NotFlat};
use crate::inference::registry::Snapshot;
use crate::inference::scorer::{Convert, Scorer};
use crate::inference::{self};
use crate::ml::model_file::{ModelName, Reading, ShopReading};
use crate::reader::shop::read_shop_clickstream_from;
use crate::reader::{Closed, Grouper, Policy, ReadError, ReadOptions, Why};
use crate::scoring::{Rows, Visit};
use actix_web::{web, HttpRequest, HttpResponse};
use rayon::prelude::*;
use std::path::Path;
use std::sync::Arc;

/// One session from a JSON body: read within the limits, parsed into domain values, scored.
pub async fn single<S: Scorer>(
    scorer: S,
    req: &HttpRequest,
    payload: web::Payload,
    query: &Selection,
    state: &AppState,
) -> Result<HttpResponse, ApiError>
where
    S::Output: Recorded,
{
    http::negotiate(req, &[Format::Json])?;
    let settings = &state.settings;
    let route = Refused::Single { path: req.path() };
    let (body, _permit) = http::read_body(req, payload, state, Accepts::Json, Pool::Sessions)
        .await
        .map_err(|refused| match refused {
            // The batch routes of the same model read CSV.
            ApiError::UnsupportedMediaType {
                got,
                supported,
                instead: None,
            } if http::media_type(req) == "text/csv" => ApiError::UnsupportedMediaType {
                got,
                supported,
                instead: Some(format!("POST {}/batch", req.path())),
            },
            other => other,
        })?;
    let snapshot = state.registry.snapshot();
    let reading = body_reading(scorer, &snapshot, query)?;
    let given = match &reading {
        Reading::Uci => {
            let input = session_from_json(&body, settings.max_problem_issues)
                .map_err(|refused| point_the_way(refused, &body, route))?;
            let session = input
                .parse("", settings.max_clicks_per_session)
                .map_err(ApiError::Invalid)?;
            Given::Uci(session)
        }
        Reading::Shop(shop) => {
            let session = shop_json(state, shop)?
                .session_from_json(
                    &body,
                    settings.max_clicks_per_session,
                    settings.max_problem_issues,
                )
                .map_err(|refused| point_the_way(refused, &body, route))?;
            Given::Shop(session)
        }
    };
    let mut rows = Rows::default();
    let out = scorer.score(&snapshot, given.visit(), query, &mut rows)?;
    out.record(&state.metrics, &snapshot);
    state.metrics.unseen(&reading, &rows.unseen);
    let versions = S::versions(&out);
    let names = passthrough_names(&reading);
    let response = if names.is_empty() {
        HttpResponse::Ok().json(&out)
    } else {
        HttpResponse::Ok().json(Passed {
            answer: &out,
            passthrough: Passthrough::of(&names, given.visit().passthrough()),
        })
    };
    Ok(http::with_versions(response, versions))
}

/// A session of a request body, parsed by the schema of the versions answering it.
pub enum Given {
    Uci(Session),
    Shop(ShopSession),
}

impl Given {
    pub fn visit(&self) -> Visit<'_> {
        match self {
            Given::Uci(s) => Visit::Uci(s),
            Given::Shop(s) => Visit::Shop(s),
        }
    }
}

/// The clicks a request's body is read as ([`Scorer::reading`]). When no version can be
/// picked the body is still read (as the default conversion version's clicks, else the
/// UCI shop's), so its own problems come first; scoring then says which version is
/// missing.
fn body_reading<S: Scorer>(
    scorer: S,
    snapshot: &Snapshot,
    selection: &Selection,
) -> Result<Reading, ApiError> {
    match scorer.reading(snapshot, selection) {
        Ok(reading) => Ok(reading),
        Err(inference::scorer::Error::Select(_)) => Ok(Convert
            .reading(snapshot, &Selection::default())
            .unwrap_or(Reading::Uci)),
        Err(e) => Err(e.into()),
    }
}

/// A shop schema's JSON bodies.
fn shop_json(state: &AppState, shop: &ShopReading) -> Result<Arc<ShopJson>, ApiError> {
    // A schema whose passthrough column is named like a session's own member was refused
    // when training compiled it, so this holds for every loaded version.
    state
        .shop_bodies
        .of(&shop.schema)
        .map_err(|e| ApiError::Internal(e.to_string()))
}

/// The names of the passthrough columns answers carry back: none for the UCI shop.
fn passthrough_names(reading: &Reading) -> Vec<String> {
    reading.shop().map_or_else(Vec::new, |shop| {
        shop.schema.passthrough().map(|c| c.name.clone()).collect()
    })
}

/// Many sessions from a JSON or CSV body, scored off the async workers on all cores;
/// answered as JSON, or CSV for `Accept: text/csv`. With `on_error=skip` the sessions that
/// cannot be scored are left out and reported; with `fail` they refuse the batch.
pub async fn batch<S: Scorer>(
    scorer: S,
    req: &HttpRequest,
    payload: web::Payload,
    query: Selection,
    on_error: OnError,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError>
where
    S::Output: Recorded,
{
    let csv = http::negotiate(req, &[Format::Json, Format::Csv])? == Format::Csv;
    if csv && query.explain {
        return Err(no_csv_explanation());
    }
    let snapshot = state.registry.snapshot();
    let reading = body_reading(scorer, &snapshot, &query)?;
    // The body's share of the batch pool is held until the answer is encoded: parsed
    // sessions and answers are what make a batch's memory.
    let (items, _permit) = sessions_of(req, payload, &state, on_error, reading.clone()).await?;
    let encoded = web::block(move || -> Result<Encoded, ApiError> {
        let scored: Vec<Result<(S::Output, Unseen), SessionErrors>> = items
            .par_iter()
            .map(|item| match item {
                Ok(given) => {
                    let mut rows = Rows::default();
                    let out = scorer.score(&snapshot, given.visit(), &query, &mut rows)?;
                    out.record(&state.metrics, &snapshot);
                    Ok(Ok((out, rows.unseen)))
                }
                Err(refused) => Ok(Err(refused.clone())),
            })
            .collect::<Result<_, ApiError>>()?;
        let mut unseen = Unseen::default();
        for (_, u) in scored.iter().flatten() {
            unseen.add(u);
        }
        state.metrics.unseen(&reading, &unseen);
        let names = passthrough_names(&reading);
        let answers: Vec<Result<Passed<S::Output>, SessionErrors>> = scored
            .into_iter()
            .zip(&items)
            .map(|(answer, item)| {
                answer.map(|(out, _)| Passed {
                    answer: out,
                    passthrough: match item {
                        Ok(given) => Passthrough::of(&names, given.visit().passthrough()),
                        Err(_) => Passthrough::default(),
                    },
                })
            })
            .collect();
        drop(items);
        let versions: Vec<(ModelName, u32)> = answers
            .iter()
            .flatten()
            .flat_map(|a| S::versions(&a.answer))
            .collect();
        let skip = on_error == OnError::Skip;
        let guard = FormulaGuard::from_setting(state.settings.csv_formula_guard);
        let (bytes, content_type) = if csv {
            let mut w = csv::Writer::from_writer(Vec::new());
            let failed = |e: csv::Error| ApiError::Internal(e.to_string());
            let flat = |e: NotFlat| ApiError::Internal(e.to_string());
            let mut header = columns::<S::Output>().map_err(flat)?;
            header.extend(names.iter().cloned());
            if skip {
                header.push(crate::inference::answer::ERROR_COLUMN.into());
            }
            let width = header.len();
            w.write_record(&header).map_err(failed)?;
            for answer in &answers {
                let record = match answer {
                    Ok(a) => {
                        let mut record = CsvRecord::new(guard);
                        row(&a.answer, &mut record).map_err(flat)?;
                        for (_, value) in &a.passthrough.0 {
                            record.text(value);
                        }
                        if skip {
                            record.empty();
                        }
                        record
                    }
                    Err(refused) => {
                        // In its place: the id as sent, empty answer cells, and why (which
                        // may quote the client's values), all through the same guard.
                        let mut record = CsvRecord::new(guard);
                        record.text(refused.session_id.as_deref().unwrap_or(""));
                        for _ in 2..width {
                            record.empty();
                        }
                        record.text(&refused_text(refused));
                        record
                    }
                }
                .into_inner();
                w.write_record(&record).map_err(failed)?;
            }
            let bytes = w
                .into_inner()
                .map_err(|e| ApiError::Internal(e.error().to_string()))?;
            (bytes, "text/csv")
        } else {
            let mut results = Vec::with_capacity(answers.len());
            let mut errors = Vec::new();
            for answer in answers {
                match answer {
                    Ok(a) => results.push(a),
                    Err(refused) => errors.push(refused),
                }
            }
            let errors = skip.then_some(errors);
            // Without passthrough values each answer is sent as it is.
            let bytes = if names.is_empty() {
                let results: Vec<S::Output> = results.into_iter().map(|a| a.answer).collect();
                serde_json::to_vec(&BatchOutput { results, errors })
            } else {
                serde_json::to_vec(&BatchOutput { results, errors })
            }
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

/// A left-out session's problems on one line, for the CSV `error` column.
fn refused_text(refused: &SessionErrors) -> String {
    refused
        .errors
        .iter()
        .map(|e| format!("{}: {}", e.path, e.message))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A batch answer, encoded, with the versions that answered.
struct Encoded {
    bytes: Vec<u8>,
    content_type: &'static str,
    versions: Vec<(ModelName, u32)>,
}

/// A refused CSV row as field issues, one per bad value: where it is and what was wrong.
/// Empty for errors about the whole body.
fn row_issues(e: &ReadError) -> Vec<FieldIssue> {
    let one = |path: String, message: String| vec![FieldIssue { path, message }];
    match e {
        ReadError::Invalid { line, values, .. } => values
            .iter()
            .map(|v| FieldIssue {
                path: format!("line {line}, column {}", v.column),
                message: format!("got {:?}, expected {}", v.value, v.allowed),
            })
            .collect(),
        ReadError::NotUtf8 {
            line,
            column,
            value,
            ..
        } => one(
            format!("line {line}, column {column}"),
            format!("got {value:?}, which is not valid UTF-8 text"),
        ),
        ReadError::FieldCount {
            line,
            found,
            expected,
            ..
        } => one(
            format!("line {line}"),
            format!("{found} fields, but the header has {expected}"),
        ),
        ReadError::ConflictingOrder {
            line,
            session,
            order,
            ..
        } => one(
            format!("line {line}"),
            format!("session {session:?} already has a different click with order {order}"),
        ),
        ReadError::MissingColumns { missing, .. } => {
            one("header".to_owned(), format!("missing column(s) {missing}"))
        }
        ReadError::Empty { .. }
        | ReadError::Format { .. }
        | ReadError::Separator { .. }
        | ReadError::Malformed { .. }
        | ReadError::Io { .. } => Vec::new(),
    }
}

fn csv_problem(e: ReadError) -> ApiError {
    let issues = row_issues(&e);
    if issues.is_empty() {
        ApiError::Malformed(e.to_string())
    } else {
        ApiError::Invalid(issues)
    }
}

/// The sessions of a batch body, every field checked, within the batch limits, read as
/// `reading`'s clicks: each one parsed, or why it cannot be. Under `fail` any problem
/// refuses the batch, listing every one (up to `MAX_PROBLEM_ISSUES`).
async fn sessions_of(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    on_error: OnError,
    reading: Reading,
) -> Result<(Vec<Result<Given, SessionErrors>>, Permit), ApiError> {
    let settings = &state.settings;
    let (body, permit) =
        http::read_body(req, payload, state, Accepts::JsonOrCsv, Pool::Batches).await?;
    let is_csv = http::media_type(req) == "text/csv";
    let limits = Limits::of(settings);
    let json = match &reading {
        Reading::Shop(shop) => Some(shop_json(state, shop)?),
        Reading::Uci => None,
    };
    web::block(
        move || -> Result<Vec<Result<Given, SessionErrors>>, ApiError> {
            let items = read_batch_as(&reading, json.as_deref(), &body, is_csv, limits)
                .map_err(|refused| point_the_way(refused, &body, Refused::Batch { csv: is_csv }))?;
            if on_error == OnError::Fail && items.iter().any(Result::is_err) {
                let mut total = 0;
                let mut listed = Vec::new();
                for refused in items.into_iter().filter_map(Result::err) {
                    total += refused.total;
                    let room = limits.issues.saturating_sub(listed.len());
                    listed.extend(refused.errors.into_iter().take(room));
                }
                return Err(ApiError::invalid_all(listed, total, limits.issues));
            }
            // Under `skip` each left-out session's problems are listed in the answer:
            // a few of each, the rest counted.
            let items = items
                .into_iter()
                .map(|item| {
                    item.map_err(|refused| SessionErrors {
                        index: refused.index,
                        session_id: refused.session_id,
                        errors: capped(refused.errors, refused.total),
                    })
                })
                .collect();
            Ok(items)
        },
    )
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
    .map(|items| (items, permit))
}

/// A batch body's sessions read as `reading`'s clicks (a shop's JSON by `json`, its
/// schema's bodies).
fn read_batch_as(
    reading: &Reading,
    json: Option<&ShopJson>,
    body: &[u8],
    is_csv: bool,
    limits: Limits,
) -> Result<Vec<Result<Given, Refusal>>, ApiError> {
    let (shop, json) = match (reading, json) {
        (Reading::Uci, _) => {
            let items = read_batch(body, is_csv, limits)?;
            return Ok(items.into_iter().map(|i| i.map(Given::Uci)).collect());
        }
        (Reading::Shop(shop), Some(json)) => (shop, json),
        (Reading::Shop(shop), None) => {
            return Err(ApiError::Internal(format!(
                "no JSON bodies were made for the schema {:?}",
                shop.schema.name
            )))
        }
    };
    if is_csv {
        return shop_csv_sessions(body, shop, limits);
    }
    let items = json.batch_from_json(body, limits.sessions, limits.clicks, limits.issues)?;
    Ok(items.into_iter().map(|i| i.map(Given::Shop)).collect())
}

/// A shop's CSV batch, read by its schema's header: rows may come in any order. It is read
/// whole: a bad value, a conflicting passthrough value or a session over the clicks limit
/// refuses the batch, naming its line and column (under `on_error=skip` too; a JSON batch
/// leaves such sessions out one by one).
fn shop_csv_sessions(
    body: &[u8],
    shop: &ShopReading,
    limits: Limits,
) -> Result<Vec<Result<Given, Refusal>>, ApiError> {
    let options = ReadOptions {
        skip_invalid: false,
        max_clicks_per_session: limits.clicks,
    };
    let read = read_shop_clickstream_from(body, Path::new("request body"), &shop.schema, options)
        .map_err(csv_problem)?;
    if read.stats.long_sessions_skipped > 0 {
        let listed = read
            .stats
            .long_session_examples
            .iter()
            .map(|long| FieldIssue {
                path: format!("session {}", long.session),
                message: format!(
                    "{} clicks is more than the limit of {} per session",
                    long.clicks, limits.clicks
                ),
            })
            .collect();
        return Err(ApiError::invalid_all(
            listed,
            read.stats.long_sessions_skipped as usize,
            limits.issues,
        ));
    }
    limits.check_sessions(read.sessions.len())?;
    Ok(read
        .sessions
        .into_iter()
        .map(|s| Ok(Given::Shop(s)))
        .collect())
}

/// The batch limits: sessions per batch, clicks per session, issues listed in a problem.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub sessions: usize,
    pub clicks: usize,
    pub issues: usize,
}

impl Limits {
    pub fn of(settings: &Settings) -> Limits {
        Limits {
            sessions: settings.max_sessions_per_batch,
            clicks: settings.max_clicks_per_session,
            issues: settings.max_problem_issues,
        }
    }

    /// Refuses a batch of `n` sessions past the limit, before any is parsed.
    fn check_sessions(self, n: usize) -> Result<(), ApiError> {
        if n > self.sessions {
            return Err(ApiError::invalid(
                "sessions",
                format!(
                    "{n} sessions is more than the limit of {} per batch",
                    self.sessions
                ),
            ));
        }
        Ok(())
    }
}

/// A batch body's sessions, as the batch routes read them (CSV or JSON), within the given
/// limits: the entry point of the property tests and fuzz targets.
pub fn batch_sessions(
    body: &[u8],
    is_csv: bool,
    limits: Limits,
) -> Result<Vec<Result<Session, SessionErrors>>, ApiError> {
    Ok(read_batch(body, is_csv, limits)?
        .into_iter()
        .map(|item| {
            item.map_err(|refused| SessionErrors {
                index: refused.index,
                session_id: refused.session_id,
                errors: refused.errors,
            })
        })
        .collect())
}

/// Each session of a batch body parsed, or refused with its problems (the first ones
/// listed, all counted).
fn read_batch(
    body: &[u8],
    is_csv: bool,
    limits: Limits,
) -> Result<Vec<Result<Session, Refusal>>, ApiError> {
    if is_csv {
        csv_sessions(body, limits)
    } else {
        json_sessions(body, limits)
    }
}

/// A JSON batch in one pass; the sessions of the right shape are then checked on all
/// cores.
fn json_sessions(body: &[u8], limits: Limits) -> Result<Vec<Result<Session, Refusal>>, ApiError> {
    let read = batch_from_json(body, limits.sessions, limits.issues)?;
    Ok(read
        .par_iter()
        .enumerate()
        .map(|(i, item)| match item {
            Ok(s) => s
                .parse(&format!("sessions[{i}]."), limits.clicks)
                .map_err(|errors| Refusal {
                    index: i,
                    session_id: Some(s.session_id.to_string()),
                    total: errors.len(),
                    errors,
                }),
            Err(refused) => Err(Refusal {
                index: refused.index,
                session_id: refused.session_id.clone(),
                errors: refused.errors.clone(),
                total: refused.total,
            }),
        })
        .collect())
}

/// A left-out session's first problems, the rest (of `total`) counted in the last line.
fn capped(mut errors: Vec<FieldIssue>, total: usize) -> Vec<FieldIssue> {
    if total > ISSUES_PER_SESSION || errors.len() > ISSUES_PER_SESSION {
        let total = total.max(errors.len());
        let more = total - ISSUES_PER_SESSION + 1;
        errors.truncate(ISSUES_PER_SESSION - 1);
        errors.push(FieldIssue {
            path: "...".into(),
            message: format!("and {more} more problems in this session"),
        });
    }
    errors
}

/// A CSV body's sessions, in order of first appearance, each with every problem of its
/// rows: the reader's one grouping under the batch policy, its answer as the route's. A row
/// that names no valid session belongs to none and so cannot be skipped: it refuses the
/// batch.
fn csv_sessions(body: &[u8], limits: Limits) -> Result<Vec<Result<Session, Refusal>>, ApiError> {
    let policy = Policy::Batch {
        max_clicks: limits.clicks,
        // Every orphan row holds a problem at least, so these hold the first ones listed.
        orphans: limits.issues,
    };
    let mut grouper = Grouper::new(body, Path::new("request body"), policy).map_err(csv_problem)?;
    let gathered = grouper.whole().map_err(csv_problem)?;
    if grouper.orphans.problems > 0 {
        let listed = grouper
            .orphans
            .listed
            .iter()
            .flat_map(row_issues)
            .take(limits.issues)
            .map(|issue| FieldIssue {
                path: issue.path,
                message: format!(
                    "{} (the row names no valid session, so it cannot be skipped)",
                    issue.message
                ),
            })
            .collect();
        return Err(ApiError::invalid_all(
            listed,
            grouper.orphans.problems,
            limits.issues,
        ));
    }
    limits.check_sessions(gathered.len())?;
    let mut items = Vec::with_capacity(gathered.len());
    for (id, gathering) in gathered {
        match grouper.close(id, gathering).map_err(csv_problem)? {
            Closed::Session(session) => items.push(Ok(session)),
            Closed::Skipped => {}
            Closed::Refused(refused) => {
                let errors = match &refused.why {
                    Why::Rows(rows) => rows.iter().flat_map(row_issues).collect(),
                    Why::Long { clicks, max_clicks } => vec![FieldIssue {
                        path: format!("session {}", refused.id),
                        message: format!(
                            "{clicks} clicks is more than the limit of {max_clicks} per session"
                        ),
                    }],
                    Why::Session(e) => row_issues(e),
                };
                items.push(Err(Refusal {
                    index: refused.index,
                    session_id: Some(refused.id.to_string()),
                    total: errors.len(),
                    errors,
                }));
            }
        }
    }
    Ok(items)
}
