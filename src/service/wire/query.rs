//! The query parameters of the scoring routes and their checks.

use super::unknown_name;
use crate::ml::model_file::ModelName;
use crate::service::problem::{ApiError, FieldIssue};
use serde::de::value::{MapDeserializer, StringDeserializer};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use std::collections::hash_map::{Entry, HashMap};
use utoipa::ToSchema;

/// Reads a route's parameters, those of `T` and of `U`, from its query string, decoded
/// once; refuses (422) naming each parameter (the first `max_issues`, the total in the
/// detail):
/// - a value that does not read, with what the parameter takes (from the field's own
///   deserializer: the deserializer's message, such as `invalid digit found in string`,
///   names nothing), and a parameter given more than once, as which one was meant cannot
///   be guessed;
/// - otherwise, every parameter neither takes: a misspelt `verison=2` would be ignored and
///   the default version would answer as if it had been asked for.
///
/// The names come from the types' deserializers, so a route cannot take a parameter it
/// does not check. Linear in the query: a query is up to 64 kB of names the client chooses.
pub fn read_query<T: DeserializeOwned, U: DeserializeOwned>(
    query_string: &str,
    max_issues: usize,
) -> Result<(T, U), ApiError> {
    let pairs = query_pairs(query_string);
    let (t_names, u_names) = (fields::<T>(), fields::<U>());
    // Each name with its first value and how many times it came, in the order names first
    // appear.
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut names: Vec<(&str, &str, usize)> = Vec::new();
    for (name, value) in &pairs {
        match seen.entry(name) {
            Entry::Occupied(at) => names[*at.get()].2 += 1,
            Entry::Vacant(at) => {
                at.insert(names.len());
                names.push((name, value, 1));
            }
        }
    }
    let firsts = |taken: &'static [&'static str]| {
        names
            .iter()
            .filter(move |(name, _, _)| taken.contains(name))
            .map(|&(name, value, _)| (name, value))
    };
    let read =
        from_pairs::<T>(firsts(t_names)).and_then(|t| Ok((t, from_pairs::<U>(firsts(u_names))?)));
    let repeated_known = names
        .iter()
        .any(|(name, _, times)| *times > 1 && (t_names.contains(name) || u_names.contains(name)));
    let mut issues = Issues::new(max_issues);
    let read = match read {
        Ok(read) if !repeated_known => read,
        Ok(_) | Err(_) => {
            for &(name, value, _) in &names {
                let refused = if t_names.contains(&name) {
                    from_pairs::<T>([(name, value)]).err()
                } else if u_names.contains(&name) {
                    from_pairs::<U>([(name, value)]).err()
                } else {
                    None
                };
                if let Some(takes) = refused {
                    issues.note(name, || format!("got {value:?}, expected {takes}"));
                }
            }
            for &(name, _, times) in &names {
                if times > 1 {
                    issues.note(name, || format!("given {times} times; give it once"));
                }
            }
            return Err(match read {
                Err(e) if issues.total == 0 => ApiError::invalid("query", e.to_string()),
                _ => issues.into_error(),
            });
        }
    };
    let known: Vec<&str> = t_names.iter().chain(u_names).copied().collect();
    for &(name, _, _) in &names {
        if !known.contains(&name) {
            issues.note(name, || unknown_name("query parameter", name, &known));
        }
    }
    if issues.total == 0 {
        Ok(read)
    } else {
        Err(issues.into_error())
    }
}

/// A query type read from decoded name and value pairs, each value through the field's
/// own deserializer.
fn from_pairs<'a, T: DeserializeOwned>(
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<T, serde::de::value::Error> {
    T::deserialize(MapDeserializer::new(pairs.into_iter()))
}

/// The issues of a query, at most `cap` of them listed and all counted; a message is
/// written only for a listed one (a suggestion costs an edit distance).
struct Issues {
    listed: Vec<FieldIssue>,
    total: usize,
    cap: usize,
}

impl Issues {
    fn new(cap: usize) -> Issues {
        Issues {
            listed: Vec::new(),
            total: 0,
            cap,
        }
    }

    fn note(&mut self, path: &str, message: impl FnOnce() -> String) {
        self.total += 1;
        if self.listed.len() < self.cap {
            self.listed.push(FieldIssue {
                path: path.to_owned(),
                message: message(),
            });
        }
    }

    fn into_error(self) -> ApiError {
        ApiError::invalid_all(self.listed, self.total, self.cap)
    }
}

/// A query string's name and value pairs, decoded, in order; none when it cannot be read.
fn query_pairs(query_string: &str) -> Vec<(String, String)> {
    if query_string.is_empty() {
        return Vec::new();
    }
    actix_web::web::Query::<Vec<(String, String)>>::from_query(query_string)
        .map(actix_web::web::Query::into_inner)
        .unwrap_or_default()
}

/// The field names of a query type, as its deserializer reads them: the one definition
/// of what a route takes.
pub fn fields<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    serde_aux::serde_introspection::serde_introspect::<T>()
}

/// The parameters of a route that takes no second set.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct NoParameters {}

/// A parameter's value read from its text by `read`, or refused saying what it `takes`;
/// each query field reads its text through one of these, so its error says what it
/// takes in the API's words.
fn text_as<'de, D: Deserializer<'de>, T>(
    d: D,
    read: impl FnOnce(&str) -> Option<T>,
    takes: &str,
) -> Result<T, D::Error> {
    let text = String::deserialize(d)?;
    read(&text).ok_or_else(|| serde::de::Error::custom(takes))
}

fn version<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    text_as(
        d,
        |text| text.parse().ok().map(Some),
        "a version number, a whole number from 1",
    )
}

fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    text_as(d, |text| text.parse().ok(), "true or false")
}

fn optional_flag<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    flag(d).map(Some)
}

fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    String::deserialize(d).map(Some)
}

/// One of an enum's names, as its deserializer spells them.
fn one_of<'de, D: Deserializer<'de>, T: DeserializeOwned>(d: D) -> Result<T, D::Error> {
    let text = String::deserialize(d)?;
    T::deserialize(StringDeserializer::<serde::de::value::Error>::new(text)).map_err(|_| {
        let names = fields::<T>();
        let takes = match names.split_last() {
            Some((last, [])) => (*last).to_owned(),
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
            None => "nothing".to_owned(),
        };
        serde::de::Error::custom(takes)
    })
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
    #[serde(default, deserialize_with = "one_of")]
    pub on_error: OnError,
}

/// What every scoring route's query comes down to once parsed: the model side's own type.
pub use crate::inference::scorer::Selection;

/// Query of `/convert` and `/convert/batch`.
#[derive(Debug, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConvertQuery {
    /// Serve with this version instead of the default (or canary).
    #[serde(default, deserialize_with = "version")]
    pub version: Option<u32>,
    /// Add the features that pushed the conversion score most, either way. JSON answers
    /// only: a CSV answer (`Accept: text/csv`) refuses it with 422, as an explanation has
    /// no flat form.
    #[serde(default, deserialize_with = "flag")]
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
    #[serde(default, deserialize_with = "version")]
    pub version: Option<u32>,
    /// Not served here (only conversion answers explain); `explain=true` is refused.
    #[serde(default, deserialize_with = "optional_flag")]
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
    #[serde(default, deserialize_with = "version")]
    pub convert_version: Option<u32>,
    /// The revenue model's version, instead of the default (or canary).
    #[serde(default, deserialize_with = "version")]
    pub revenue_version: Option<u32>,
    /// The segment model's version, instead of the default (or canary).
    #[serde(default, deserialize_with = "version")]
    pub segment_version: Option<u32>,
    /// Add to the conversion answer the features that pushed its score most. JSON answers
    /// only: a CSV answer (`Accept: text/csv`) refuses it with 422.
    #[serde(default, deserialize_with = "flag")]
    pub explain: bool,
    /// Refused: a bare version is ambiguous over three models.
    #[serde(default, deserialize_with = "text")]
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

#[cfg(test)]
mod tests {
    use super::*;

    fn issues(error: ApiError) -> Vec<(String, String)> {
        error
            .problem()
            .errors
            .into_iter()
            .map(|i| (i.path, i.message))
            .collect()
    }

    #[test]
    fn every_parameter_of_every_query_reads_from_its_text() {
        let (score, options) = read_query::<ScoreQuery, BatchOptions>(
            "convert_version=3&revenue_version=%32&segment_version=1&explain=true&on_error=skip",
            10,
        )
        .expect("a valid query");
        assert_eq!(
            score.parse().ok(),
            Some(Selection {
                convert_version: Some(3),
                revenue_version: Some(2),
                segment_version: Some(1),
                explain: true,
            })
        );
        assert_eq!(options.on_error, OnError::Skip);
        let (convert, _) =
            read_query::<ConvertQuery, NoParameters>("version=4&explain=false", 10).expect("valid");
        assert_eq!((convert.version, convert.explain), (Some(4), false));
        let (model, _) =
            read_query::<ModelQuery, NoParameters>("version=5&explain=false", 10).expect("valid");
        assert_eq!((model.version, model.explain), (Some(5), Some(false)));
        let (none, options) =
            read_query::<ModelQuery, BatchOptions>("", 10).expect("no query is valid");
        assert_eq!((none.version, options.on_error), (None, OnError::Fail));
    }

    #[test]
    fn a_bad_value_says_what_its_parameter_takes_and_a_repeat_is_refused() {
        let refused = |query| {
            read_query::<ConvertQuery, BatchOptions>(query, 10)
                .err()
                .map(issues)
                .unwrap_or_default()
        };
        assert_eq!(
            refused("explain=maybe&on_error=never&version=x"),
            [
                (
                    "explain".into(),
                    "got \"maybe\", expected true or false".into()
                ),
                (
                    "on_error".into(),
                    "got \"never\", expected fail or skip".into()
                ),
                (
                    "version".into(),
                    "got \"x\", expected a version number, a whole number from 1".into()
                ),
            ]
        );
        // A repeat is refused even when both values read; unknown names wait until the
        // known ones are right.
        assert_eq!(
            refused("version=1&x=1&version=2"),
            [("version".into(), "given 2 times; give it once".into())]
        );
        let unknown = refused("verison=1&x=1&x=2");
        assert_eq!(unknown.len(), 2, "{unknown:?}");
        assert!(
            unknown[0].1.contains("did you mean version?"),
            "{unknown:?}"
        );
        assert_eq!(unknown[1].0, "x");
    }
}
