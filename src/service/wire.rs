//! Request and response bodies as they travel, separate from the domain types; turning a
//! request into domain values is where every field is checked and every problem named.

use super::problem::{ApiError, FieldIssue};
use crate::domain::{Click, RawClick, Session, SessionError, SessionId};
use crate::ml::model_file::ModelName;
use crate::scoring::{Contribution, Tier};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use utoipa::ToSchema;

/// One click, with the columns of the UCI data under their snake_case names.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"year": 2008, "month": 4, "day": 1, "order": 1, "country": 29, "page1_main_category": 1, "page2_clothing_model": "A13", "colour": 1, "location": 5, "model_photography": 1, "price": 28, "price_2": 2, "page": 1}))]
pub struct ClickInput<'a> {
    #[schema(minimum = 2000, maximum = 2100)]
    pub year: i64,
    #[schema(minimum = 1, maximum = 12)]
    pub month: i64,
    /// A day that exists in its month.
    #[schema(minimum = 1, maximum = 31)]
    pub day: i64,
    /// Position of the click in the session, unique within it; clicks may come in any order.
    #[schema(minimum = 1, maximum = 100000)]
    pub order: i64,
    /// Country of the IP address.
    #[schema(minimum = 1, maximum = 47)]
    pub country: i64,
    /// Main category of the page.
    #[schema(minimum = 1, maximum = 4)]
    pub page1_main_category: i64,
    /// Product code, e.g. `A13`.
    #[serde(borrow)]
    #[schema(value_type = String, pattern = "^[ABCP][0-9]{1,3}$")]
    pub page2_clothing_model: Cow<'a, str>,
    /// Colour of the product.
    #[schema(minimum = 1, maximum = 14)]
    pub colour: i64,
    /// Where the product photo sits on the screen, in six parts.
    #[schema(minimum = 1, maximum = 6)]
    pub location: i64,
    /// How the model is photographed.
    #[schema(minimum = 1, maximum = 2)]
    pub model_photography: i64,
    /// Price in US dollars.
    #[schema(exclusive_minimum = 0, maximum = 100000)]
    pub price: f64,
    /// Whether the price is above the average price of its main category.
    #[schema(minimum = 1, maximum = 2)]
    pub price_2: i64,
    /// Page of the shop.
    #[schema(minimum = 1, maximum = 5)]
    pub page: i64,
}

impl<'a> From<&'a ClickInput<'_>> for RawClick<&'a str> {
    fn from(c: &'a ClickInput<'_>) -> RawClick<&'a str> {
        RawClick {
            year: c.year,
            month: c.month,
            day: c.day,
            order: c.order,
            country: c.country,
            page1_main_category: c.page1_main_category,
            page2_clothing_model: &c.page2_clothing_model,
            colour: c.colour,
            location: c.location,
            model_photography: c.model_photography,
            price: c.price,
            price_2: c.price_2,
            page: c.page,
        }
    }
}

/// One session: its id and the clicks seen so far. Fields other than these are refused,
/// naming them: a misspelt or misplaced field (`explain` belongs in the query) would
/// otherwise be dropped without a word.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionInput<'a> {
    /// At most 64 characters, not blank; surrounding spaces are dropped.
    #[serde(borrow)]
    #[schema(value_type = String, example = "s-1001", min_length = 1, max_length = 64, pattern = "\\S")]
    pub session_id: Cow<'a, str>,
    /// At least one; at most `MAX_CLICKS_PER_SESSION` (1000 by default).
    #[serde(borrow, deserialize_with = "clicks")]
    #[schema(min_items = 1)]
    pub clicks: Vec<ClickInput<'a>>,
}

/// serde_json gives no length for arrays, so serde's `Vec` grows from empty, copying
/// clicks at each doubling; a live session's clicks fit the first allocation here.
fn clicks<'de: 'a, 'a, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<ClickInput<'a>>, D::Error> {
    struct Clicks<'a>(std::marker::PhantomData<ClickInput<'a>>);
    impl<'de: 'a, 'a> serde::de::Visitor<'de> for Clicks<'a> {
        type Value = Vec<ClickInput<'a>>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an array of clicks")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).clamp(16, 1024));
            while let Some(click) = seq.next_element()? {
                out.push(click);
            }
            Ok(out)
        }
    }
    deserializer.deserialize_seq(Clicks(std::marker::PhantomData))
}

/// Many sessions in one request.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchInput<'a> {
    #[serde(borrow)]
    pub sessions: Vec<SessionInput<'a>>,
}

impl SessionInput<'_> {
    /// Checks every field; `prefix` locates this session in the body (`""` or
    /// `sessions[4].`).
    pub fn parse(&self, prefix: &str, max_clicks: usize) -> Result<Session, Vec<FieldIssue>> {
        let mut issues = Vec::new();
        let id = SessionId::parse(&self.session_id)
            .map_err(|e| {
                issues.push(FieldIssue {
                    path: format!("{prefix}session_id"),
                    message: format!("got {:?}, expected {}", e.value, e.expected()),
                })
            })
            .ok();
        if self.clicks.is_empty() {
            issues.push(FieldIssue {
                path: format!("{prefix}clicks"),
                message: "expected at least one click".into(),
            });
        }
        if self.clicks.len() > max_clicks {
            issues.push(FieldIssue {
                path: format!("{prefix}clicks"),
                message: format!(
                    "{} clicks is more than the limit of {max_clicks} per session",
                    self.clicks.len()
                ),
            });
            return Err(issues);
        }
        let mut clicks = Vec::with_capacity(self.clicks.len());
        for (i, c) in self.clicks.iter().enumerate() {
            match Click::parse(&RawClick::from(c)) {
                Ok(click) => clicks.push(click),
                Err(errors) => issues.extend(errors.into_iter().map(|e| FieldIssue {
                    path: format!("{prefix}clicks[{i}].{}", e.field),
                    message: format!("got {:?}, expected {}", e.value, e.expected()),
                })),
            }
        }
        let Some(id) = id.filter(|_| issues.is_empty()) else {
            return Err(issues);
        };
        match Session::new(id, clicks) {
            Ok((session, _repeats)) => Ok(session),
            Err(SessionError::ConflictingOrder { order }) => Err(vec![FieldIssue {
                path: format!("{prefix}clicks"),
                message: format!("two different clicks share order {order}"),
            }]),
            Err(SessionError::Empty) => Err(vec![FieldIssue {
                path: format!("{prefix}clicks"),
                message: "expected at least one click".into(),
            }]),
        }
    }
}

/// Parses a JSON body, naming the path of a value of the wrong type.
pub fn from_json<'a, T: serde::Deserialize<'a>>(body: &'a [u8]) -> Result<T, ApiError> {
    // Tracking paths costs on every value; only a failed parse pays for it. Checking the
    // UTF-8 once for the whole body spares serde_json a check per string.
    if let Ok(text) = std::str::from_utf8(body) {
        if let Ok(value) = serde_json::from_str(text) {
            return Ok(value);
        }
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = match serde_path_to_error::deserialize(&mut de) {
        Ok(value) => value,
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            // serde_json's reader refuses a number past f64 (`1e400`) as malformed JSON, but
            // the path says which field it was, and the fix is the value, not the syntax.
            let out_of_range = inner.to_string().starts_with("number out of range");
            if out_of_range && !path.is_empty() && path != "." {
                return Err(ApiError::invalid(
                    path,
                    "got a number too large to be represented, expected one in the field's range"
                        .to_owned(),
                ));
            }
            if !inner.is_data() {
                return Err(ApiError::Malformed(inner.to_string()));
            }
            let (path, message) = in_api_terms(&path, &inner);
            return Err(ApiError::invalid(path, message));
        }
    };
    // A valid value followed by more (`{...}xyz`) is not a valid body.
    de.end().map_err(|e| ApiError::Malformed(e.to_string()))?;
    Ok(value)
}

/// A session from a JSON body. serde stops at the first field of the wrong shape; when it
/// does, every other one is found too (see [`every_shape_issue`]), so a client writing its
/// first request is not told of its missing fields one round trip at a time. `budget` is
/// the bytes of re-reading a request may still spend on that search.
pub fn session_from_json<'a>(
    body: &'a [u8],
    budget: &AtomicUsize,
) -> Result<SessionInput<'a>, ApiError> {
    match from_json::<SessionInput>(body) {
        Err(ApiError::Invalid(first)) => Err(ApiError::Invalid(
            every_shape_issue(body, budget).unwrap_or(first),
        )),
        other => other,
    }
}

/// The bytes a request may spend re-reading its bodies to list their shape problems: a
/// few times the body and a floor, so a hostile body of many small mistakes cannot make
/// the search cost much more than reading it.
pub fn shape_budget(body_len: usize) -> AtomicUsize {
    AtomicUsize::new(body_len.saturating_mul(4).saturating_add(1 << 20))
}

/// Every problem of shape in a session body (missing, unknown and wrongly typed fields,
/// anywhere in it), in the order serde meets them. Each round reads the body as a value,
/// notes the problem serde stops at, and mends the value there so the next round goes on:
/// an unknown field is removed, a missing one is put in and a wrong one replaced by a
/// stand-in of the type serde asked for. What lies inside a stand-in is not reported, as
/// the client did not send it. `None` when the body is not JSON or the first problem could
/// not be mended.
fn every_shape_issue(body: &[u8], budget: &AtomicUsize) -> Option<Vec<FieldIssue>> {
    use serde_json::Value;
    let mut value: Value = serde_json::from_slice(body).ok()?;
    // serde would read a session from an array too (as a tuple), and its complaints about
    // the array's items would mislead: a body that is not an object has one problem.
    let got = match &value {
        Value::Object(_) => None,
        Value::Array(_) => Some("an array".to_owned()),
        Value::String(_) => Some("a string".to_owned()),
        Value::Number(n) => Some(format!("the number {n}")),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => Some("null".to_owned()),
    };
    if let Some(got) = got {
        return Some(vec![FieldIssue {
            path: "$".into(),
            message: format!("got {got}, expected {}", api_type("struct SessionInput")),
        }]);
    }
    let mut issues: Vec<FieldIssue> = Vec::new();
    let mut stand_ins: Vec<Vec<Step>> = Vec::new();
    let mut last: Option<(Vec<Step>, String)> = None;
    loop {
        let spent = budget.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
            left.checked_sub(body.len().max(1))
        });
        if spent.is_err() {
            break;
        }
        let error = match serde_path_to_error::deserialize::<_, SessionInput>(&value) {
            Ok(_) => break,
            Err(e) => e,
        };
        let at: Vec<Step> = error.path().iter().filter_map(Step::of).collect();
        let path = error.path().to_string();
        let inner = error.into_inner();
        let invented = stand_ins.iter().any(|s| at.starts_with(s));
        if !invented {
            let (path, message) = in_api_terms(&path, &inner);
            issues.push(FieldIssue { path, message });
        }
        let text = inner.to_string();
        // A mend that did not take (the same complaint at the same place) would only spend
        // the budget again.
        if last.as_ref() == Some(&(at.clone(), text.clone())) {
            break;
        }
        last = Some((at.clone(), text.clone()));
        let mended = if let Some(rest) = text.strip_prefix("missing field `") {
            let mut field = at.clone();
            field.push(Step::Key(rest.trim_end_matches('`').to_owned()));
            let done = put(&mut value, &field, Some(Value::Null));
            stand_ins.push(field);
            done
        } else if text.starts_with("unknown field `") {
            put(&mut value, &at, None)
        } else if let Some((_, expected)) = text.rsplit_once(", expected ") {
            let stand_in =
                match api_type(expected.split(" with ").next().unwrap_or(expected)).as_str() {
                    "a whole number" => Some(Value::from(0)),
                    "a number" => Some(Value::from(0.0)),
                    "a string" => Some(Value::from("")),
                    "true or false" => Some(Value::Bool(false)),
                    "an array" | "an array of clicks" => Some(Value::Array(Vec::new())),
                    other
                        if other.starts_with("a click")
                            || other.starts_with("a session")
                            || other.starts_with("an object") =>
                    {
                        Some(Value::Object(serde_json::Map::new()))
                    }
                    _ => None,
                };
            let done = stand_in.is_some_and(|v| put(&mut value, &at, Some(v)));
            stand_ins.push(at);
            done
        } else {
            false
        };
        if !mended {
            break;
        }
    }
    (!issues.is_empty()).then_some(issues)
}

/// One step of a path into a JSON value.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Index(usize),
    Key(String),
}

impl Step {
    fn of(segment: &serde_path_to_error::Segment) -> Option<Step> {
        match segment {
            serde_path_to_error::Segment::Seq { index } => Some(Step::Index(*index)),
            serde_path_to_error::Segment::Map { key } => Some(Step::Key(key.clone())),
            _ => None,
        }
    }
}

/// Sets (or with `None` removes) the value at `at`; false when the path leads nowhere.
fn put(root: &mut serde_json::Value, at: &[Step], new: Option<serde_json::Value>) -> bool {
    use serde_json::Value;
    let Some((last, parents)) = at.split_last() else {
        return match new {
            Some(v) => {
                *root = v;
                true
            }
            None => false,
        };
    };
    let mut here = root;
    for step in parents {
        let next = match step {
            Step::Index(i) => here.get_mut(*i),
            Step::Key(k) => here.get_mut(k.as_str()),
        };
        match next {
            Some(v) => here = v,
            None => return false,
        }
    }
    match (last, here, new) {
        (Step::Key(k), Value::Object(map), Some(v)) => {
            map.insert(k.clone(), v);
            true
        }
        (Step::Key(k), Value::Object(map), None) => map.remove(k.as_str()).is_some(),
        (Step::Index(i), Value::Array(items), Some(v)) => match items.get_mut(*i) {
            Some(slot) => {
                *slot = v;
                true
            }
            None => false,
        },
        _ => false,
    }
}

/// A serde error as the API speaks: the field's full path, what came and what the API
/// expects there, without Rust type names.
fn in_api_terms(path: &str, error: &serde_json::Error) -> (String, String) {
    let root = path == "." || path.is_empty();
    let text = error.to_string();
    // serde_json appends the position; the path says where already.
    let text = match text.rfind(" at line ") {
        Some(cut) => &text[..cut],
        None => &text,
    };
    let join = |field: &str| {
        if root {
            field.to_owned()
        } else {
            format!("{path}.{field}")
        }
    };
    let here = if root {
        "$".to_owned()
    } else {
        path.to_owned()
    };
    if let Some(rest) = text.strip_prefix("missing field `") {
        let field = rest.trim_end_matches('`');
        return (join(field), "required, but missing".into());
    }
    if let Some(rest) = text.strip_prefix("unknown field `") {
        if let Some((field, expected)) = rest.split_once("`, expected ") {
            // The path already ends with the unknown name.
            return (here, unknown_name("field", field, &backquoted(expected)));
        }
    }
    let parts = text
        .strip_prefix("invalid type: ")
        .or_else(|| text.strip_prefix("invalid value: "))
        .and_then(|rest| rest.rsplit_once(", expected "));
    if let Some((got, expected)) = parts {
        return (
            here,
            format!("got {}, expected {}", json_value(got), api_type(expected)),
        );
    }
    // An array where an object belongs: serde reads it as a tuple of the wrong length.
    let parts = text
        .strip_prefix("invalid length ")
        .and_then(|rest| rest.split_once(", expected "));
    if let Some((_, expected)) = parts {
        let expected = expected.split(" with ").next().unwrap_or(expected);
        return (
            here,
            format!("got an array, expected {}", api_type(expected)),
        );
    }
    (here, text.to_owned())
}

/// The names between backquotes in serde's list of what it expected (`` `a`, `b` or `c` ``).
fn backquoted(list: &str) -> Vec<&str> {
    list.split('`').skip(1).step_by(2).collect()
}

/// What to say of a field or parameter (`kind`) that is not one: the closest known name
/// when it looks like a slip of the keyboard, and every name that is known.
fn unknown_name(kind: &str, name: &str, known: &[&str]) -> String {
    // The edit distance costs the product of the two lengths; a name longer than a known
    // one by more than the distance allowed cannot be a slip of it, and a client's name
    // may be as long as the query.
    let within = |k: &str| 2.max(k.len() / 4);
    let length = name.chars().count();
    let closest = known
        .iter()
        .filter(|k| length <= k.len() + within(k))
        .map(|k| (strsim::damerau_levenshtein(name, k), *k))
        .min()
        .filter(|(distance, k)| *distance <= within(k))
        .map(|(_, k)| format!(" (did you mean {k}?)"))
        .unwrap_or_default();
    format!(
        "not a {kind} here{closest}; the {kind}s here are {}",
        known.join(", ")
    )
}

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

/// serde's name for what came (`string "x"`, `integer `5``) as JSON words.
fn json_value(got: &str) -> String {
    let quoted = |prefix: &str| {
        got.strip_prefix(prefix)
            .map(|v| v.trim_matches('`').to_owned())
    };
    if let Some(v) = got.strip_prefix("string ") {
        format!("the string {v}")
    } else if let Some(v) = quoted("integer ").or_else(|| quoted("floating point ")) {
        format!("the number {v}")
    } else if let Some(v) = quoted("boolean ") {
        v
    } else {
        match got {
            "map" => "an object".into(),
            "sequence" => "an array".into(),
            "null" | "unit value" => "null".into(),
            other => other.to_owned(),
        }
    }
}

/// serde's name for what was expected (`i64`, `struct ClickInput`) as the API's.
fn api_type(expected: &str) -> String {
    match expected {
        "i64" | "u64" | "i32" | "u32" | "usize" | "u16" | "u8" => "a whole number".into(),
        "f64" | "f32" => "a number".into(),
        "a string" | "a borrowed string" | "a string or bytes" => "a string".into(),
        "a boolean" => "true or false".into(),
        "struct ClickInput" => "a click: an object with year, month, day, order, country, page1_main_category, page2_clothing_model, colour, location, model_photography, price, price_2 and page".into(),
        "struct SessionInput" => "a session: an object with session_id and clicks".into(),
        "struct BatchInput" => "an object with sessions, an array of sessions".into(),
        "a sequence" => "an array".into(),
        other if other.starts_with("struct ") => "an object".into(),
        other => other.to_owned(),
    }
}

/// The conversion answer for one session.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"session_id": "s-1001", "model": "convert", "model_version": 1, "probability": 0.21, "will_convert": true, "threshold": 0.16, "percentile": 83.0, "tier": "medium", "already_converted": false}))]
pub struct ConvertOutput {
    pub session_id: String,
    pub model: String,
    pub model_version: u32,
    /// P(the session converts | the clicks so far).
    pub probability: f64,
    /// `probability >= threshold`.
    pub will_convert: bool,
    /// Decision threshold chosen on validation data (best F1).
    pub threshold: f64,
    /// Where the probability falls among training sessions, 0-100.
    pub percentile: f64,
    pub tier: Tier,
    /// The clicks already hold a basket event: the session has converted.
    pub already_converted: bool,
    /// With `?explain=true`: the features that pushed the score most, either way.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<Vec<Contribution>>,
}

/// The revenue answer for one session.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"session_id": "s-1001", "model": "revenue", "model_version": 1, "expected_revenue": 9.4, "revenue_if_converts": 44.8, "probability": 0.21, "already_converted": false}))]
pub struct RevenueOutput {
    pub session_id: String,
    pub model: String,
    pub model_version: u32,
    /// P(convert) x revenue if it converts, US dollars.
    pub expected_revenue: f64,
    pub revenue_if_converts: f64,
    pub probability: f64,
    /// The basket is known; the revenue is the basket's.
    pub already_converted: bool,
}

/// The persona of one session.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"session_id": "s-1001", "model": "segment", "model_version": 1, "persona_id": 2, "name": "Bargain hunters", "description": "About 3 clicks a visit at $37 on average, 85% sale items, 54% above their category's average price, reaching page 2.5.", "distance": 0.8}))]
pub struct SegmentOutput {
    pub session_id: String,
    pub model: String,
    pub model_version: u32,
    pub persona_id: usize,
    pub name: String,
    pub description: String,
    /// Distance to the persona's centroid, in standard deviations.
    pub distance: f64,
}

/// All three answers for one session.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ScoreOutput {
    pub session_id: String,
    pub convert: ConvertOutput,
    pub revenue: RevenueOutput,
    pub segment: SegmentOutput,
}

/// Answers for many sessions, in the order they came.
#[derive(Serialize, ToSchema)]
pub struct BatchOutput<T> {
    /// One answer per scored session, in the order the sessions came.
    pub results: Vec<T>,
    /// With `?on_error=skip` only (absent otherwise): the sessions that were not scored,
    /// each with its position in the batch and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<SessionErrors>>,
}

/// A session of a batch left out under `?on_error=skip`, and why.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"index": 3, "session_id": "s-9", "errors": [{"path": "sessions[3].clicks[0].day", "message": "got \"31\", expected an integer day that exists in its month (June has 30 days)"}]}))]
pub struct SessionErrors {
    /// 0-based position of the session in the batch: `sessions[index]` in JSON, the order
    /// of first appearance in a CSV body.
    pub index: usize,
    /// The session's id as sent, when it could be read.
    pub session_id: Option<String>,
    pub errors: Vec<FieldIssue>,
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

/// A CSV answer's cells: the JSON answer's fields under their JSON names, in the same
/// order; a nested answer's fields are dotted (`convert.probability`). Numbers are written
/// as serde_json writes them, so a cell and its JSON value read back the same.
///
/// Text cells go through [`guard_formula`] unless the record was made with
/// [`FormulaGuard::Off`]: a session id or a persona name is the client's or the trainer's
/// text, and a spreadsheet opening the answer would run one beginning with `=`.
pub struct CsvRecord {
    cells: csv::StringRecord,
    guard: FormulaGuard,
}

/// Whether the text cells of a CSV answer are kept from running as spreadsheet formulas.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FormulaGuard {
    /// Text beginning with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading
    /// `'` (OWASP's advice for CSV injection); cells that read as numbers are kept.
    #[default]
    On,
    /// Cells as they are, for programs that read the answer (`CSV_FORMULA_GUARD=false`).
    Off,
}

impl FormulaGuard {
    pub fn from_setting(on: bool) -> FormulaGuard {
        if on {
            FormulaGuard::On
        } else {
            FormulaGuard::Off
        }
    }
}

/// A text cell a spreadsheet would not run: OWASP's list of characters that start a
/// formula (or, for tab and carriage return, hide one behind whitespace), neutralised
/// with a leading `'`, which spreadsheets show as text and drop. A cell that is a plain
/// number (`-12`, `+3.5`) is a value to a spreadsheet, not a formula, and is kept as sent.
pub fn guard_formula(cell: &str) -> Cow<'_, str> {
    match cell.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') if !plain_number(cell) => {
            Cow::Owned(format!("'{cell}"))
        }
        _ => Cow::Borrowed(cell),
    }
}

/// A decimal number as spreadsheets read one: a sign, digits with at most one point, and
/// an exponent. Rust's own parser takes `inf` and `NaN` too, which a spreadsheet would
/// read as a formula naming a function.
fn plain_number(text: &str) -> bool {
    let rest = text.strip_prefix(['+', '-']).unwrap_or(text);
    let (mantissa, exponent) = match rest.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e.strip_prefix(['+', '-']).unwrap_or(e))),
        None => (rest, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some((whole, frac)) => {
            (digits(whole) || whole.is_empty())
                && (digits(frac) || frac.is_empty())
                && !(whole.is_empty() && frac.is_empty())
        }
        None => digits(mantissa),
    };
    mantissa_ok && exponent.is_none_or(digits)
}

impl CsvRecord {
    pub fn new(guard: FormulaGuard) -> CsvRecord {
        CsvRecord {
            cells: csv::StringRecord::new(),
            guard,
        }
    }

    /// The one way text reaches a CSV answer.
    pub fn text(&mut self, value: &str) -> &mut Self {
        match self.guard {
            FormulaGuard::On => self.cells.push_field(&guard_formula(value)),
            FormulaGuard::Off => self.cells.push_field(value),
        }
        self
    }

    pub fn int(&mut self, value: impl Into<u64>) -> &mut Self {
        self.cells.push_field(&value.into().to_string());
        self
    }

    pub fn num(&mut self, value: f64) -> &mut Self {
        // `{:?}` is the shortest text that reads back as the same f64, with `.0` on whole
        // numbers, as in JSON.
        self.cells.push_field(&format!("{value:?}"));
        self
    }

    pub fn flag(&mut self, value: bool) -> &mut Self {
        self.cells.push_field(if value { "true" } else { "false" });
        self
    }

    /// An empty cell (a left-out session's answer columns).
    pub fn empty(&mut self) -> &mut Self {
        self.cells.push_field("");
        self
    }

    /// The guard this record writes with, for records nested in it.
    pub fn guard(&self) -> FormulaGuard {
        self.guard
    }

    /// The cells, to write.
    pub fn into_inner(self) -> csv::StringRecord {
        self.cells
    }
}

/// An answer with a flat CSV form.
pub trait CsvAnswer {
    /// The columns, in order; the first is always `session_id`.
    fn csv_columns() -> Vec<String>;
    /// Pushes the answer's cells, one per column.
    fn csv_cells(&self, record: &mut CsvRecord);
}

/// The tier as its JSON answer spells it (the CSV-vs-JSON test holds them together).
fn tier_text(tier: Tier) -> &'static str {
    match tier {
        Tier::High => "high",
        Tier::Medium => "medium",
        Tier::Low => "low",
    }
}

fn owned(columns: &[&str]) -> Vec<String> {
    columns.iter().map(|c| (*c).to_owned()).collect()
}

impl CsvAnswer for ConvertOutput {
    fn csv_columns() -> Vec<String> {
        owned(&[
            "session_id",
            "model",
            "model_version",
            "probability",
            "will_convert",
            "threshold",
            "percentile",
            "tier",
            "already_converted",
        ])
    }

    fn csv_cells(&self, r: &mut CsvRecord) {
        r.text(&self.session_id)
            .text(&self.model)
            .int(self.model_version)
            .num(self.probability)
            .flag(self.will_convert)
            .num(self.threshold)
            .num(self.percentile)
            .text(tier_text(self.tier))
            .flag(self.already_converted);
    }
}

impl CsvAnswer for RevenueOutput {
    fn csv_columns() -> Vec<String> {
        owned(&[
            "session_id",
            "model",
            "model_version",
            "expected_revenue",
            "revenue_if_converts",
            "probability",
            "already_converted",
        ])
    }

    fn csv_cells(&self, r: &mut CsvRecord) {
        r.text(&self.session_id)
            .text(&self.model)
            .int(self.model_version)
            .num(self.expected_revenue)
            .num(self.revenue_if_converts)
            .num(self.probability)
            .flag(self.already_converted);
    }
}

impl CsvAnswer for SegmentOutput {
    fn csv_columns() -> Vec<String> {
        owned(&[
            "session_id",
            "model",
            "model_version",
            "persona_id",
            "name",
            "description",
            "distance",
        ])
    }

    fn csv_cells(&self, r: &mut CsvRecord) {
        r.text(&self.session_id)
            .text(&self.model)
            .int(self.model_version)
            .int(self.persona_id as u64)
            .text(&self.name)
            .text(&self.description)
            .num(self.distance);
    }
}

/// The nested answers' columns after `session_id`, each under `<part>.`: the row's
/// `session_id` stands for theirs.
fn nested_columns<T: CsvAnswer>(part: &str) -> impl Iterator<Item = String> + '_ {
    T::csv_columns()
        .into_iter()
        .skip(1)
        .map(move |c| format!("{part}.{c}"))
}

fn nested_cells<T: CsvAnswer>(answer: &T, r: &mut CsvRecord) {
    // The nested record guards its own text cells; its numbers must stay unguarded.
    let mut own = CsvRecord::new(r.guard());
    answer.csv_cells(&mut own);
    for cell in own.cells.iter().skip(1) {
        r.cells.push_field(cell);
    }
}

impl CsvAnswer for ScoreOutput {
    fn csv_columns() -> Vec<String> {
        std::iter::once("session_id".to_owned())
            .chain(nested_columns::<ConvertOutput>("convert"))
            .chain(nested_columns::<RevenueOutput>("revenue"))
            .chain(nested_columns::<SegmentOutput>("segment"))
            .collect()
    }

    fn csv_cells(&self, r: &mut CsvRecord) {
        r.text(&self.session_id);
        nested_cells(&self.convert, r);
        nested_cells(&self.revenue, r);
        nested_cells(&self.segment, r);
    }
}

/// Which version of each model answers, and whether to explain: what every scoring route's
/// query comes down to once parsed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Selection {
    pub convert_version: Option<u32>,
    pub revenue_version: Option<u32>,
    pub segment_version: Option<u32>,
    pub explain: bool,
}

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

/// What a body looks like at a glance, to tell a client that sent it to the wrong kind of
/// route, or under the wrong media type, where it belongs: the first things a new client
/// trips on. Looked at only once a body has been refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyShape {
    /// A JSON array.
    Array,
    /// A JSON object with a `sessions` member: a batch.
    Batch,
    /// Any other JSON object.
    Object,
    /// Text whose first line has a `,`, `;` or tab: a CSV header or row.
    Csv,
    Other,
}

impl BodyShape {
    pub fn of(body: &[u8]) -> BodyShape {
        let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
        let start = body.iter().position(|b| !b.is_ascii_whitespace());
        match start.map(|i| body[i]) {
            Some(b'[') => BodyShape::Array,
            Some(b'{') => {
                /// Every other member is skipped unread, so looking costs one pass.
                #[derive(Deserialize)]
                struct HasSessions {
                    #[allow(dead_code, reason = "only its presence is looked for")]
                    sessions: serde::de::IgnoredAny,
                }
                match serde_json::from_slice::<HasSessions>(body) {
                    Ok(_) => BodyShape::Batch,
                    Err(_) => BodyShape::Object,
                }
            }
            Some(_) => {
                let first_line = body.split(|&b| b == b'\n').next().unwrap_or_default();
                if first_line.iter().any(|b| matches!(b, b',' | b';' | b'\t')) {
                    BodyShape::Csv
                } else {
                    BodyShape::Other
                }
            }
            None => BodyShape::Other,
        }
    }
}

/// Which route refused a body: a single session's (`POST /convert`, at `path`) or a
/// batch's, and the media type it was sent as.
#[derive(Debug, Clone, Copy)]
pub enum Refused<'a> {
    Single { path: &'a str },
    Batch { csv: bool },
}

/// `refused`, with the way to the right route or media type when the body's shape shows
/// where it went wrong; otherwise `refused` as it is.
pub fn point_the_way(refused: ApiError, body: &[u8], route: Refused) -> ApiError {
    let shape = BodyShape::of(body);
    let batch_route = |path: &str| format!("POST {path}/batch");
    match (route, shape, refused) {
        (Refused::Batch { csv: false }, BodyShape::Array, ApiError::Invalid(_)) => {
            ApiError::invalid(
                "$",
                "got an array, expected an object: wrap the sessions as {\"sessions\": [...]}",
            )
        }
        (Refused::Batch { csv: false }, BodyShape::Csv, ApiError::Malformed(why)) => {
            ApiError::Malformed(format!(
                "{why}; the body looks like CSV: send it with Content-Type: text/csv"
            ))
        }
        (Refused::Batch { csv: true }, BodyShape::Array | BodyShape::Batch | BodyShape::Object, e) => {
            match e {
                ApiError::Malformed(why) => ApiError::Malformed(format!(
                    "{why}; the body looks like JSON: send it with Content-Type: application/json"
                )),
                ApiError::Invalid(_) | ApiError::InvalidMany { .. } => ApiError::invalid(
                    "header",
                    "the body looks like JSON, not CSV: send it with Content-Type: application/json",
                ),
                other => other,
            }
        }
        (Refused::Single { path }, BodyShape::Batch, ApiError::Invalid(_)) => ApiError::invalid(
            "sessions",
            format!("a batch of sessions: send it to {}", batch_route(path)),
        ),
        (Refused::Single { path }, BodyShape::Array, ApiError::Invalid(_)) => ApiError::invalid(
            "$",
            format!(
                "got an array, expected a session object; send many to {} as {{\"sessions\": [...]}}",
                batch_route(path)
            ),
        ),
        (Refused::Single { path }, BodyShape::Csv, ApiError::Malformed(why)) => {
            ApiError::Malformed(format!(
                "{why}; the body looks like CSV: send a CSV of sessions to {} with Content-Type: text/csv",
                batch_route(path)
            ))
        }
        (_, _, refused) => refused,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_that_starts_a_formula_is_neutralised_and_numbers_are_kept() {
        for (cell, written) in [
            ("=1+1", "'=1+1"),
            ("+1+1", "'+1+1"),
            ("-1+1", "'-1+1"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("-inf", "'-inf"),
            ("+NaN", "'+NaN"),
            ("-", "'-"),
            ("-.", "'-."),
            ("-2", "-2"),
            ("+3.5", "+3.5"),
            ("-.5e-3", "-.5e-3"),
            ("-1.", "-1."),
            ("a=1", "a=1"),
            ("", ""),
        ] {
            assert_eq!(guard_formula(cell), written, "{cell:?}");
        }
        let mut guarded = CsvRecord::new(FormulaGuard::On);
        guarded.text("=x").num(-0.5).int(3u32);
        let mut raw = CsvRecord::new(FormulaGuard::Off);
        raw.text("=x");
        assert_eq!(
            guarded.into_inner().iter().collect::<Vec<_>>(),
            ["'=x", "-0.5", "3"]
        );
        assert_eq!(raw.into_inner().iter().collect::<Vec<_>>(), ["=x"]);
    }

    #[test]
    fn a_body_that_is_not_utf8_is_malformed_not_a_panic() {
        let body = b"{\"session_id\": \"s\xff\", \"clicks\": []}";
        match from_json::<SessionInput>(body) {
            Err(ApiError::Malformed(why)) => assert!(why.contains("unicode"), "{why}"),
            Err(other) => panic!("expected malformed, got {other}"),
            Ok(_) => panic!("invalid UTF-8 was accepted"),
        }
    }

    #[test]
    fn clicks_that_are_not_an_array_are_named() {
        let body = br#"{"session_id": "s", "clicks": "many"}"#;
        match from_json::<SessionInput>(body) {
            Err(ApiError::Invalid(issues)) => {
                assert_eq!(issues[0].path, "clicks");
                assert!(
                    issues[0].message.contains("an array of clicks"),
                    "{}",
                    issues[0].message
                );
            }
            Err(other) => panic!("expected invalid, got {other}"),
            Ok(_) => panic!("a string was accepted as clicks"),
        }
    }

    #[test]
    fn the_search_for_more_problems_stops_when_its_budget_is_spent() {
        let body = br#"{"session_id": "s", "clicks": [{"year": 2008}, {"year": 2008}]}"#;
        let count = |budget: usize| match session_from_json(body, &AtomicUsize::new(budget)) {
            Err(ApiError::Invalid(issues)) => issues.len(),
            other => panic!("expected invalid, got {other:?}"),
        };
        // Two clicks with 12 fields missing each, all found with room to spare.
        assert_eq!(count(1 << 20), 24);
        // No budget: serde's own first problem, still named.
        assert_eq!(count(0), 1);
        // A budget for a few rounds: some of the problems, then it stops.
        assert!((2..24).contains(&count(4 * body.len())));
    }

    #[test]
    fn a_value_of_the_wrong_type_is_named_by_its_path() {
        let body = br#"{"session_id": "s", "clicks": [{"year": "2008"}]}"#;
        match from_json::<SessionInput>(body) {
            Err(ApiError::Invalid(issues)) => assert_eq!(issues[0].path, "clicks[0].year"),
            Err(other) => panic!("expected invalid, got {other}"),
            Ok(_) => panic!("a string year was accepted"),
        }
    }
}
