//! The query parameters of the scoring routes and their checks.

use super::unknown_name;
use crate::ml::model_file::ModelName;
use crate::service::problem::{ApiError, FieldIssue};
use serde::Deserialize;
use std::collections::{HashMap, HashSet};
use utoipa::ToSchema;

/// Refuses query parameters the route does not take, naming each (the first
/// `max_issues`, the total in the detail): a misspelt `verison=2` would otherwise be
/// ignored and the default version would answer as if it had been asked for. `taken`
/// holds the fields of each query the route reads. Linear in the query: a query is up to
/// 64 kB of names the client chooses.
pub fn unknown_parameters(
    query_string: &str,
    taken: &[&[&'static str]],
    max_issues: usize,
) -> Result<(), ApiError> {
    if query_string.is_empty() {
        return Ok(());
    }
    let known: Vec<&str> = taken.iter().flat_map(|q| q.iter().copied()).collect();
    let pairs = query_pairs(query_string);
    let mut seen: HashSet<&str> = HashSet::new();
    let mut issues: Vec<FieldIssue> = Vec::new();
    let mut total = 0;
    for (name, _) in &pairs {
        if known.contains(&name.as_str()) || !seen.insert(name.as_str()) {
            continue;
        }
        total += 1;
        if issues.len() < max_issues {
            issues.push(FieldIssue {
                path: name.clone(),
                message: unknown_name("query parameter", name, &known),
            });
        }
    }
    if total == 0 {
        Ok(())
    } else {
        Err(ApiError::invalid_all(issues, total, max_issues))
    }
}

/// A query string's name and value pairs, decoded, in order; none when it cannot be read.
fn query_pairs(query_string: &str) -> Vec<(String, String)> {
    actix_web::web::Query::<Vec<(String, String)>>::from_query(query_string)
        .map(actix_web::web::Query::into_inner)
        .unwrap_or_default()
}

/// The field names of a query type, as its deserializer reads them: the one definition
/// of what a route takes.
pub fn fields<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    serde_aux::serde_introspection::serde_introspect::<T>()
}

/// The parameters of the scoring routes, and what each takes, in the API's words.
const QUERY_PARAMETERS: &[(&str, &str)] = &[
    ("version", "a version number, a whole number from 1"),
    ("convert_version", "a version number, a whole number from 1"),
    ("revenue_version", "a version number, a whole number from 1"),
    ("segment_version", "a version number, a whole number from 1"),
    ("explain", "true or false"),
    ("on_error", "fail or skip"),
];

fn parameter_ok(name: &str, value: &str) -> bool {
    match name {
        "explain" => matches!(value, "true" | "false"),
        "on_error" => matches!(value, "fail" | "skip"),
        _ => value.parse::<u32>().is_ok(),
    }
}

/// A query string the route's parameters could not be read from, with the parameter named
/// (the first `max_issues` problems, the total in the detail): the deserializer's own
/// message (`invalid digit found in string`) names none. One pass over the pairs, as
/// [`unknown_parameters`].
pub fn query_problem(query_string: &str, fallback: &str, max_issues: usize) -> ApiError {
    let pairs = query_pairs(query_string);
    let mut issues: Vec<FieldIssue> = Vec::new();
    let mut total = 0;
    let mut note = |issue: FieldIssue| {
        total += 1;
        if issues.len() < max_issues {
            issues.push(issue);
        }
    };
    // Each name's count, in the order names first appear.
    let mut times: HashMap<&str, usize> = HashMap::new();
    let mut names: Vec<&str> = Vec::new();
    for (name, value) in &pairs {
        let count = times.entry(name.as_str()).or_insert(0);
        *count += 1;
        if *count > 1 {
            continue;
        }
        names.push(name);
        if let Some((_, expected)) = QUERY_PARAMETERS.iter().find(|(n, _)| n == name) {
            if !parameter_ok(name, value) {
                note(FieldIssue {
                    path: name.clone(),
                    message: format!("got {value:?}, expected {expected}"),
                });
            }
        }
    }
    // `?version=1&version=2`: which one was meant cannot be guessed.
    for name in names {
        let given = times.get(name).copied().unwrap_or(1);
        if given > 1 {
            note(FieldIssue {
                path: name.to_owned(),
                message: format!("given {given} times; give it once"),
            });
        }
    }
    if total == 0 {
        ApiError::invalid("query", fallback.to_owned())
    } else {
        ApiError::invalid_all(issues, total, max_issues)
    }
}

/// What a batch does with a session it cannot score.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnError {
    /// The whole batch is refused (422) listing every problem (the first 1000).
    #[default]
    Fail,
    /// The other sessions are scored; the left-out ones are listed under `errors` (JSON) or
    /// in an `error` column (CSV).
    Skip,
}

/// The query a batch route takes beside its scoring one.
#[derive(Debug, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BatchOptions {
    /// `fail` (default): one invalid session refuses the batch, with every problem listed.
    /// `skip`: invalid sessions are left out and reported with their index; the rest are
    /// scored. A CSV row that names no valid session cannot be skipped and still fails.
    #[serde(default)]
    pub on_error: OnError,
}

/// What every scoring route's query comes down to once parsed: the model side's own type.
pub use crate::inference::scorer::Selection;

/// Query of `/convert` and `/convert/batch`.
#[derive(Debug, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConvertQuery {
    /// Serve with this version instead of the default (or canary).
    pub version: Option<u32>,
    /// Add the features that pushed the conversion score most, either way. JSON answers
    /// only: a CSV answer (`Accept: text/csv`) refuses it with 422, as an explanation has
    /// no flat form.
    #[serde(default)]
    pub explain: bool,
}

impl ConvertQuery {
    pub fn parse(self) -> Selection {
        Selection {
            convert_version: self.version,
            explain: self.explain,
            ..Selection::default()
        }
    }
}

/// Query of the revenue and segment routes, single and batch.
#[derive(Debug, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ModelQuery {
    /// Serve with this version instead of the default (or canary).
    pub version: Option<u32>,
    /// Not served here (only conversion answers explain); `explain=true` is refused.
    #[serde(default)]
    #[param(ignore)]
    pub explain: Option<bool>,
}

/// `explain=true` on a route whose answer cannot carry an explanation.
fn no_explanation(why: &str) -> ApiError {
    ApiError::invalid(
        "explain",
        format!("got true, but {why}; leave `explain` out"),
    )
}

impl ModelQuery {
    pub fn parse(self, model: ModelName) -> Result<Selection, ApiError> {
        if self.explain == Some(true) {
            return Err(no_explanation(&format!(
                "{model} answers have no explanation (only convert and score explain)"
            )));
        }
        let mut selection = Selection::default();
        *match model {
            ModelName::Convert => &mut selection.convert_version,
            ModelName::Revenue => &mut selection.revenue_version,
            ModelName::Segment => &mut selection.segment_version,
        } = self.version;
        Ok(selection)
    }
}

/// Query of `/score` and `/score/batch`: a version per model, as the three answers come
/// from three models.
#[derive(Debug, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ScoreQuery {
    /// The conversion model's version, instead of the default (or canary).
    pub convert_version: Option<u32>,
    /// The revenue model's version, instead of the default (or canary).
    pub revenue_version: Option<u32>,
    /// The segment model's version, instead of the default (or canary).
    pub segment_version: Option<u32>,
    /// Add to the conversion answer the features that pushed its score most. JSON answers
    /// only: a CSV answer (`Accept: text/csv`) refuses it with 422.
    #[serde(default)]
    pub explain: bool,
    /// Refused: a bare version is ambiguous over three models.
    #[serde(default)]
    #[param(ignore)]
    pub version: Option<String>,
}

impl ScoreQuery {
    pub fn parse(self) -> Result<Selection, ApiError> {
        if let Some(v) = self.version {
            return Err(ApiError::invalid(
                "version",
                format!(
                    "got {v:?}, but /score answers from three models: name each one's version with convert_version, revenue_version or segment_version"
                ),
            ));
        }
        Ok(Selection {
            convert_version: self.convert_version,
            revenue_version: self.revenue_version,
            segment_version: self.segment_version,
            explain: self.explain,
        })
    }
}

/// `explain=true` with a CSV answer.
pub fn no_csv_explanation() -> ApiError {
    no_explanation("an explanation has no CSV form: ask for JSON (Accept: application/json)")
}
