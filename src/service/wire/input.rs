//! Request bodies: a click, a session, a batch, parsed from JSON with every problem named.

use super::unknown_name;
use crate::domain::{Click, RawClick, Session, SessionError, SessionId};
use crate::service::problem::{ApiError, FieldIssue};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
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

#[cfg(test)]
mod tests {
    use super::*;

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
