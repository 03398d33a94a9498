//! Request and response bodies as they travel, separate from the domain types; turning a
//! request into domain values is where every field is checked and every problem named.

use super::problem::{ApiError, FieldIssue};
use crate::domain::{Click, RawClick, Session, SessionError, SessionId};
use crate::scoring::{Contribution, Tier};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use utoipa::ToSchema;

/// One click, with the columns of the UCI data under their snake_case names.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
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
    /// Country code 1-47 (29 is Poland).
    #[schema(minimum = 1, maximum = 47)]
    pub country: i64,
    /// 1 trousers, 2 skirts, 3 blouses, 4 sale.
    #[schema(minimum = 1, maximum = 4)]
    pub page1_main_category: i64,
    /// Product code, e.g. `A13`.
    #[serde(borrow)]
    #[schema(value_type = String, pattern = "^[ABCP][0-9]{1,3}$")]
    pub page2_clothing_model: Cow<'a, str>,
    /// Colour code 1-14.
    #[schema(minimum = 1, maximum = 14)]
    pub colour: i64,
    /// Photo location 1-6 (top left to bottom right).
    #[schema(minimum = 1, maximum = 6)]
    pub location: i64,
    /// 1 en face, 2 profile.
    #[schema(minimum = 1, maximum = 2)]
    pub model_photography: i64,
    /// Price in US dollars.
    #[schema(exclusive_minimum = 0, maximum = 100000)]
    pub price: f64,
    /// 1 when the price is above its category's average, 2 otherwise.
    #[schema(minimum = 1, maximum = 2)]
    pub price_2: i64,
    /// Page of the shop, 1-5.
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

/// One session: its id and the clicks seen so far.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
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
                    message: format!("got {:?}, expected {}", e.value, e.field.allowed()),
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
                    message: format!("got {:?}, expected {}", e.value, e.field.allowed()),
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
    match serde_path_to_error::deserialize(&mut de) {
        Ok(value) => Ok(value),
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if inner.is_data() {
                Err(ApiError::invalid(
                    if path == "." { "$".into() } else { path },
                    inner.to_string(),
                ))
            } else {
                Err(ApiError::Malformed(inner.to_string()))
            }
        }
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
    pub results: Vec<T>,
}

/// A conversion answer as one CSV row (the explanation has no flat form).
#[derive(Serialize)]
pub struct ConvertRow<'a> {
    session_id: &'a str,
    model_version: u32,
    probability: f64,
    will_convert: bool,
    threshold: f64,
    percentile: f64,
    tier: Tier,
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

/// All three answers as one CSV row: the nested answers' fields side by side.
#[derive(Serialize)]
pub struct ScoreRow<'a> {
    session_id: &'a str,
    convert_version: u32,
    probability: f64,
    will_convert: bool,
    percentile: f64,
    tier: Tier,
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

/// Query of the scoring routes.
#[derive(Debug, Clone, Deserialize, utoipa::IntoParams)]
pub struct ScoreQuery {
    /// Serve with this version instead of the default.
    pub version: Option<u32>,
    /// Add the features that pushed the conversion score (convert and score only).
    #[serde(default)]
    pub explain: bool,
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
    fn a_value_of_the_wrong_type_is_named_by_its_path() {
        let body = br#"{"session_id": "s", "clicks": [{"year": "2008"}]}"#;
        match from_json::<SessionInput>(body) {
            Err(ApiError::Invalid(issues)) => assert_eq!(issues[0].path, "clicks[0].year"),
            Err(other) => panic!("expected invalid, got {other}"),
            Ok(_) => panic!("a string year was accepted"),
        }
    }
}
