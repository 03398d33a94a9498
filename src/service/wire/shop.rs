//! A shop's sessions in JSON, read and documented by its schema ([`ShopSchema`]). A
//! session is `{"session_id": ..., <passthrough values by name>, "clicks": [...]}` (a
//! passthrough value is one per session, so it sits on the session, where a file repeats
//! it on every row); a click's fields are the schema's columns under their API names. The
//! bodies are read in one pass by the same seeds as the UCI bodies (`input`): every
//! missing, unknown, wrongly typed or duplicate field, and every value its column's rule
//! refuses, is a problem with its path, in the same words and under the same caps.

use super::columns::{object_schema, ColumnDoc};
use super::input::{
    clicks_capacity, read_batch, read_session, AnyValue, At, Got, Issues, Key, KeyIn, Read,
    Refusal, SessionBody, Shape,
};
use crate::domain::schema::{Kind, Role, Rule};
use crate::domain::schema_file::SchemaError;
use crate::domain::shop::{
    Cell, ColumnError, ShopClick, ShopColumn, ShopSchema, ShopSession, ShopSessionError, TimeFormat,
};
use crate::service::problem::ApiError;
use serde::de::{IgnoredAny, MapAccess, SeqAccess};
use std::borrow::Cow;
use std::sync::Arc;
use utoipa::openapi::schema::{AdditionalProperties, ArrayBuilder, ObjectBuilder, Schema};
use utoipa::openapi::schema::{SchemaType, Type};
use utoipa::openapi::{KnownFormat, RefOr};

// The session's own members, before its passthrough values.
use crate::inference::answer::{CLICKS, SESSION_ID};

/// A shop schema's JSON bodies: the names of a click's and a session's fields resolved once
/// per schema, so reading a click looks its keys up in a short list and nothing more.
#[derive(Debug, Clone)]
pub struct ShopJson {
    schema: Arc<ShopSchema>,
    /// A click's fields, in the schema's order of columns.
    click_names: Vec<String>,
    /// The column of each click field: `schema.columns[click_columns[i]]`.
    click_columns: Vec<usize>,
    /// The type each click field's value travels as.
    click_kinds: Vec<Kind>,
    /// Where each column of the schema is among a click's fields, if it is one.
    field_of: Vec<Option<usize>>,
    /// `session_id`, `clicks`, then the passthrough columns' names.
    session_names: Vec<String>,
    /// The passthrough columns, in the schema's order.
    passthrough: Vec<usize>,
    click_expected: String,
    session_expected: String,
}

/// The type a rule's values travel as in JSON.
fn kind(rule: &Rule) -> Kind {
    match rule {
        Rule::Whole { .. } | Rule::Codes(_) => Kind::Whole,
        Rule::Number { .. } => Kind::Number,
        Rule::Text { .. } => Kind::Text,
    }
}

/// "a, b and c".
fn listed(names: &[&str]) -> String {
    match names.split_last() {
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => String::new(),
    }
}

impl ShopJson {
    /// The bodies of a compiled schema. A passthrough column named `session_id` or
    /// `clicks` is refused: a session object could not tell it from the session's own.
    pub fn new(schema: impl Into<Arc<ShopSchema>>) -> Result<ShopJson, SchemaError> {
        let schema = schema.into();
        let mut click_names = Vec::new();
        let mut click_columns = Vec::new();
        let mut click_kinds = Vec::new();
        let mut field_of = vec![None; schema.columns.len()];
        let mut session_names = vec![SESSION_ID.to_owned(), CLICKS.to_owned()];
        let mut passthrough = Vec::new();
        for (i, column) in schema.columns.iter().enumerate() {
            match column.role {
                Role::SessionId => {}
                Role::Passthrough => {
                    if session_names[..2].contains(&column.name) {
                        return Err(SchemaError::Column {
                            role: column.role_name.to_owned(),
                            problem: format!(
                                "{:?} is a member of every JSON session; give the column another `name`",
                                column.name
                            ),
                        });
                    }
                    session_names.push(column.name.clone());
                    passthrough.push(i);
                }
                _ => {
                    field_of[i] = Some(click_names.len());
                    click_names.push(column.name.clone());
                    click_columns.push(i);
                    click_kinds.push(kind(&column.rule));
                }
            }
        }
        let names: Vec<&str> = click_names.iter().map(String::as_str).collect();
        let click_expected = format!("a click: an object with {}", listed(&names));
        let names: Vec<&str> = session_names.iter().map(String::as_str).collect();
        let session_expected = format!("a session: an object with {}", listed(&names));
        Ok(ShopJson {
            schema,
            click_names,
            click_columns,
            click_kinds,
            field_of,
            session_names,
            passthrough,
            click_expected,
            session_expected,
        })
    }

    pub fn schema(&self) -> &ShopSchema {
        &self.schema
    }

    /// A session from a JSON body, in click order, with every problem named (the first
    /// `cap`, and how many in all), in one pass. A session of more than `max_clicks`
    /// clicks is refused; the clicks past the limit are counted, not read.
    pub fn session_from_json(
        &self,
        body: &[u8],
        max_clicks: usize,
        cap: usize,
    ) -> Result<ShopSession, ApiError> {
        read_session(
            body,
            &ShopBody {
                json: self,
                max_clicks,
            },
            cap,
        )
    }

    /// A batch (`{"sessions": [...]}`) from a JSON body, in one pass: each session read,
    /// or refused with its problems, as the UCI batch's are (see [`super::batch_from_json`]:
    /// the batch's own shape and `max_sessions` refuse the whole body; each session lists
    /// its first problems, and more while the batch has listed fewer than `cap`).
    pub fn batch_from_json(
        &self,
        body: &[u8],
        max_sessions: usize,
        max_clicks: usize,
        cap: usize,
    ) -> Result<Vec<Result<ShopSession, Refusal>>, ApiError> {
        read_batch(
            body,
            &ShopBody {
                json: self,
                max_clicks,
            },
            max_sessions,
            cap,
        )
    }
}

/// Each shop schema's bodies, made once per schema text and shared by the requests read
/// by it (a retrain with the same schema file reuses them), so a request pays no more
/// than a lookup.
#[derive(Debug, Default)]
pub struct ShopBodies {
    made: std::sync::RwLock<std::collections::HashMap<String, Arc<ShopJson>>>,
}

impl ShopBodies {
    /// The bodies of `schema`.
    pub fn of(&self, schema: &Arc<ShopSchema>) -> Result<Arc<ShopJson>, SchemaError> {
        let key = &schema.record.text;
        if let Some(json) = self.made.read().ok().and_then(|m| m.get(key).cloned()) {
            return Ok(json);
        }
        let json = Arc::new(ShopJson::new(schema.clone())?);
        if let Ok(mut made) = self.made.write() {
            made.insert(key.clone(), json.clone());
        }
        Ok(json)
    }
}

/// A session of a shop's body, with the clicks limit of the request.
struct ShopBody<'j> {
    json: &'j ShopJson,
    max_clicks: usize,
}

/// A value's problem by its column's rule, in the words of the UCI body's.
fn refused(e: &ColumnError) -> String {
    format!("got {:?}, expected {}", e.value, e.expected)
}

impl<'de> SessionBody<'de> for ShopBody<'_> {
    type Out = ShopSession;

    fn expected(&self) -> &str {
        &self.json.session_expected
    }

    fn members<A: MapAccess<'de>>(
        &self,
        mut map: A,
        at: &At,
        issues: &mut Issues,
        id: &mut Option<String>,
    ) -> Result<Option<ShopSession>, A::Error> {
        let json = self.json;
        let names = &json.session_names;
        let before = issues.total;
        let mut seen = vec![false; names.len()];
        // The session id at 0, the passthrough values from 2: texts as sent.
        let mut texts: Vec<Option<Cow<'de, str>>> = vec![None; names.len()];
        let mut clicks = None;
        while let Some(key) = map.next_key_seed(KeyIn(names))? {
            let i = match key {
                Key::Known(i) if i < names.len() => i,
                Key::Known(_) => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
                Key::Unknown(name) => {
                    issues.unknown(at, &name, names);
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            if seen[i] {
                issues.twice(at, &names[i]);
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            seen[i] = true;
            let here = At::Key(at, &names[i]);
            if i == 1 {
                let shape = ClicksShape {
                    json,
                    at: here,
                    issues: &mut *issues,
                    max_clicks: self.max_clicks,
                };
                clicks = Some(map.next_value_seed(Read(shape))?);
                continue;
            }
            match map
                .next_value_seed(AnyValue)
                .inspect_err(|_| issues.unreadable_at(&here))?
            {
                Got::Text(t) => texts[i] = Some(t),
                got => issues.wrong(&here, &got, Kind::Text.expected()),
            }
        }
        for (name, _) in names.iter().zip(&seen).filter(|(_, seen)| !**seen) {
            issues.missing(at, name);
        }
        *id = texts[0].as_ref().map(|t| t.to_string());
        let schema = &*json.schema;
        let session_id = texts[0].as_deref().and_then(|raw| {
            schema
                .session_id(Cell::Text(raw))
                .map_err(|e| issues.note(&At::Key(at, SESSION_ID), || refused(&e)))
                .ok()
        });
        let mut passthrough = Vec::with_capacity(json.passthrough.len());
        for (k, &column) in json.passthrough.iter().enumerate() {
            let Some(raw) = texts[k + 2].as_deref() else {
                continue;
            };
            match schema.columns[column].text_value(Cell::Text(raw)) {
                Ok(value) => passthrough.push(value),
                Err(e) => issues.note(&At::Key(at, &names[k + 2]), || refused(&e)),
            }
        }
        let (Some(session_id), Some(Some(clicks))) = (session_id, clicks) else {
            return Ok(None);
        };
        if issues.total > before {
            return Ok(None);
        }
        // Every click was read, so a row's "line" is its index in `clicks`.
        let rows = clicks
            .into_iter()
            .enumerate()
            .map(|(i, click)| (i as u64, click, Vec::new()))
            .collect();
        match ShopSession::build(schema, session_id, rows) {
            Ok(mut session) => {
                session.passthrough = passthrough;
                Ok(Some(session))
            }
            Err(e) => {
                let message = match *e {
                    ShopSessionError::ConflictingOrder {
                        order,
                        first,
                        second,
                        ..
                    } => format!(
                        "two different clicks share order {order}: clicks[{first}] and clicks[{second}]"
                    ),
                    // A body gives each passthrough value once: it cannot disagree.
                    ShopSessionError::Passthrough { .. } => e.to_string(),
                };
                issues.note(&At::Key(at, CLICKS), || message);
                Ok(None)
            }
        }
    }
}

/// A session's clicks; `None` when one of them, or their count, has a problem (noted).
struct ClicksShape<'j, 'p, 'i, 'b> {
    json: &'j ShopJson,
    at: At<'p>,
    issues: &'i mut Issues<'b>,
    max_clicks: usize,
}

impl<'de> Shape<'de> for ClicksShape<'_, '_, '_, '_> {
    type Out = Option<Vec<ShopClick>>;

    fn seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Out, A::Error> {
        let before = self.issues.total;
        let mut out = Vec::with_capacity(clicks_capacity(seq.size_hint()));
        // One buffer of fields for every click of the session.
        let mut fields = Vec::with_capacity(self.json.click_names.len());
        let mut count = 0usize;
        loop {
            if count >= self.max_clicks {
                // Past the limit the session is refused; the rest is only counted.
                match seq.next_element::<IgnoredAny>()? {
                    Some(_) => count += 1,
                    None => break,
                }
                continue;
            }
            let shape = ClickShape {
                json: self.json,
                at: At::Index(&self.at, count),
                issues: &mut *self.issues,
                fields: &mut fields,
            };
            match seq.next_element_seed(Read(shape))? {
                Some(Some(click)) => out.push(click),
                Some(None) => {}
                None => break,
            }
            count += 1;
        }
        if count == 0 {
            self.issues
                .note(&self.at, || "expected at least one click".to_owned());
        } else if count > self.max_clicks {
            self.issues.note(&self.at, || {
                format!(
                    "{count} clicks is more than the limit of {} per session",
                    self.max_clicks
                )
            });
        }
        Ok((self.issues.total == before).then_some(out))
    }

    fn other(self, got: Got<'de>) -> Self::Out {
        self.issues.wrong(&self.at, &got, "an array of clicks");
        None
    }
}

/// A click field as it came.
enum Field<'de> {
    Absent,
    /// Present, of a type its column does not take (noted).
    Wrong,
    Value(Got<'de>),
}

/// Whether a JSON value is of the type a field travels as: as for the UCI click, a
/// numeric string is not a number, nor a float a whole number.
fn of_kind(kind: Kind, got: &Got) -> bool {
    matches!(
        (kind, got),
        (Kind::Whole, Got::Whole(_))
            | (Kind::Number, Got::Whole(_) | Got::Big(_) | Got::Number(_))
            | (Kind::Text, Got::Text(_))
    )
}

/// A value of the right type as the schema's parser takes it.
fn cell<'a>(field: Option<&'a Field>) -> Cell<'a> {
    match field {
        Some(Field::Value(Got::Text(t))) => Cell::Text(t),
        Some(Field::Value(Got::Whole(v))) => Cell::Whole(*v),
        Some(Field::Value(Got::Big(v))) => Cell::Number(*v as f64),
        Some(Field::Value(Got::Number(v))) => Cell::Number(*v),
        // Absent or of the wrong type, and noted so; its rule's error is not repeated.
        _ => Cell::Text(""),
    }
}

/// One click: its fields' types checked as they come, then every value by its column's
/// rule through the schema's one parser of clicks.
struct ClickShape<'j, 'p, 'i, 'b, 'f, 'de> {
    json: &'j ShopJson,
    at: At<'p>,
    issues: &'i mut Issues<'b>,
    fields: &'f mut Vec<Field<'de>>,
}

impl<'de> Shape<'de> for ClickShape<'_, '_, '_, '_, '_, 'de> {
    type Out = Option<ShopClick>;

    fn map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Out, A::Error> {
        let json = self.json;
        let names = &json.click_names;
        let before = self.issues.total;
        self.fields.clear();
        self.fields.resize_with(names.len(), || Field::Absent);
        while let Some(key) = map.next_key_seed(KeyIn(names))? {
            let i = match key {
                Key::Known(i) if i < names.len() => i,
                Key::Known(_) => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
                Key::Unknown(name) => {
                    self.issues.unknown(&self.at, &name, names);
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            if !matches!(self.fields[i], Field::Absent) {
                self.issues.twice(&self.at, &names[i]);
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            let here = At::Key(&self.at, &names[i]);
            let got = map
                .next_value_seed(AnyValue)
                .inspect_err(|_| self.issues.unreadable_at(&here))?;
            let kind = json.click_kinds[i];
            self.fields[i] = if of_kind(kind, &got) {
                Field::Value(got)
            } else {
                self.issues.wrong(&here, &got, kind.expected());
                Field::Wrong
            };
        }
        for (name, field) in names.iter().zip(self.fields.iter()) {
            if matches!(field, Field::Absent) {
                self.issues.missing(&self.at, name);
            }
        }
        let fields = &*self.fields;
        let value = |column: usize| cell(json.field_of[column].and_then(|i| fields.get(i)));
        let mut errors = Vec::new();
        let click = json.schema.click(&value, &mut errors);
        for e in &errors {
            match names.iter().position(|n| *n == e.name) {
                Some(i) if matches!(fields[i], Field::Value(_)) => {
                    self.issues
                        .note(&At::Key(&self.at, &names[i]), || refused(e));
                }
                Some(_) => {}
                None => self.issues.note(&self.at, || e.to_string()),
            }
        }
        if click.is_none() && self.issues.total == before {
            // The parser refused the click without naming a value: say so rather than
            // drop the click from its session.
            self.issues.note(&self.at, || {
                "could not be read as a click of this shop".to_owned()
            });
        }
        Ok(click.filter(|_| self.issues.total == before))
    }

    fn other(self, got: Got<'de>) -> Self::Out {
        self.issues.wrong(&self.at, &got, &self.json.click_expected);
        None
    }
}

/// The OpenAPI schemas of a shop's bodies, generated from its schema as `click_schema()`
/// is from the UCI click table.
impl ShopJson {
    fn doc<'c>(&self, column: &'c ShopColumn) -> ColumnDoc<'c> {
        ColumnDoc {
            name: &column.name,
            description: &column.description,
            rule: &column.rule,
            example: &column.example,
            format: match column.time_format() {
                Some(TimeFormat::Rfc3339) => Some(KnownFormat::DateTime),
                _ => None,
            },
        }
    }

    /// A click: each column's type, range, vocabulary or pattern, description and example.
    pub fn click_schema(&self) -> Schema {
        let columns: Vec<ColumnDoc> = self
            .click_columns
            .iter()
            .map(|&i| self.doc(&self.schema.columns[i]))
            .collect();
        let description = format!(
            "One click of the shop {:?}, its fields the columns of its schema.",
            self.schema.name
        );
        Schema::Object(object_schema(&description, &columns).build())
    }

    /// A session: its id by the session column's rule, its passthrough values, and its
    /// clicks (`click`: this schema's [`ShopJson::click_schema`] or a reference to it).
    pub fn session_schema(&self, click: RefOr<Schema>) -> Schema {
        let schema = &*self.schema;
        let session = schema.column(Role::SessionId);
        // A composite key travels joined: its length is its parts' and the separators'.
        let id_rule = session.map(|c| match &c.rule {
            Rule::Text { max_chars, .. } if c.headers.len() > 1 => Rule::Text {
                max_chars: max_chars.saturating_add(1).saturating_mul(c.headers.len()) - 1,
                // A pattern is each part's.
                pattern: None,
            },
            rule => rule.clone(),
        });
        let mut columns = Vec::with_capacity(1 + self.passthrough.len());
        if let (Some(column), Some(rule)) = (session, &id_rule) {
            columns.push(ColumnDoc {
                name: SESSION_ID,
                rule,
                ..self.doc(column)
            });
        }
        columns.extend(
            self.passthrough
                .iter()
                .map(|&i| self.doc(&schema.columns[i])),
        );
        let mut example = serde_json::Map::new();
        for column in &columns {
            example.insert(column.name.to_owned(), column.example.json());
        }
        let click_example: serde_json::Map<String, serde_json::Value> = self
            .click_columns
            .iter()
            .map(|&i| {
                let c = &schema.columns[i];
                (c.name.clone(), c.example.json())
            })
            .collect();
        example.insert(
            CLICKS.to_owned(),
            serde_json::Value::Array(vec![click_example.into()]),
        );
        let clicks = ArrayBuilder::new()
            .items(click)
            .min_items(Some(1))
            .description(Some(
                "At least one; at most `MAX_CLICKS_PER_SESSION` (1000 by default).",
            ));
        let description = format!(
            "One session of the shop {:?}: its id, the values returned with its scores, and the clicks seen so far.",
            schema.name
        );
        let object = object_schema(&description, &columns)
            .property(CLICKS, clicks)
            .required(CLICKS);
        #[allow(
            deprecated,
            reason = "OpenAPI 3.1 keeps `example`, and the document has it"
        )]
        let object = object.example(Some(serde_json::Value::Object(example)));
        Schema::Object(object.build())
    }

    /// A batch: `{"sessions": [...]}` (`session`: this schema's
    /// [`ShopJson::session_schema`] or a reference to it).
    pub fn batch_schema(&self, session: RefOr<Schema>) -> Schema {
        let sessions = ArrayBuilder::new().items(session);
        Schema::Object(
            ObjectBuilder::new()
                .schema_type(SchemaType::Type(Type::Object))
                .description(Some(format!(
                    "Many sessions of the shop {:?} in one request.",
                    self.schema.name
                )))
                .additional_properties(Some(AdditionalProperties::FreeForm(false)))
                .property("sessions", sessions)
                .required("sessions")
                .build(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::shop::Value;
    use crate::service::problem::FieldIssue;
    use chrono::NaiveDate;
    use proptest::prelude::*;
    use serde_json::json;

    const SECOND_SHOP: &str = include_str!("../../../examples/second-shop/schema.toml");
    const GA4: &str = include_str!("../../../examples/ga4/schema.toml");
    const UCI: &str = crate::domain::schema_file::UCI_FILE;

    fn bodies(text: &str) -> ShopJson {
        let schema = ShopSchema::parse(text).expect("the schema compiles");
        ShopJson::new(schema).expect("a schema without clashing names has bodies")
    }

    fn read(json: &ShopJson, body: &serde_json::Value) -> Result<ShopSession, ApiError> {
        json.session_from_json(body.to_string().as_bytes(), 1000, 1000)
    }

    fn issues(error: ApiError) -> (Vec<FieldIssue>, usize) {
        match error {
            ApiError::Invalid(issues) => {
                let n = issues.len();
                (issues, n)
            }
            ApiError::InvalidMany { listed, total } => (listed, total),
            other => panic!("expected invalid fields, got {other:?}"),
        }
    }

    fn problems(read: Result<ShopSession, ApiError>) -> Vec<(String, String)> {
        let error = read.expect_err("a body with problems is refused");
        let (listed, _) = issues(error);
        listed.into_iter().map(|i| (i.path, i.message)).collect()
    }

    fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
        expected
            .iter()
            .map(|(p, m)| (p.to_string(), m.to_string()))
            .collect()
    }

    fn second_shop_click(time: &str, product: &str) -> serde_json::Value {
        json!({
            "timestamp": time,
            "product": product,
            "category": "footwear/boots/winter",
            "price": 189.99,
            "device": "mobile",
        })
    }

    #[test]
    fn a_second_shop_session_reads_in_time_order_with_its_passthrough_value() {
        let json = bodies(SECOND_SHOP);
        let body = json!({
            "session_id": " s-1 ",
            "clicks": [
                second_shop_click("2026-04-01T09:14:00Z", "SKU-2"),
                second_shop_click("2026-04-01T09:12:33.250+02:00", " SKU-1 "),
            ],
            "customer_id": "c-7",
        });
        let session = read(&json, &body).expect("a valid body");
        assert_eq!(session.id, "s-1");
        assert_eq!(session.passthrough, ["c-7"]);
        let products: Vec<&str> = session.clicks.iter().map(|c| c.product.as_str()).collect();
        assert_eq!(products, ["SKU-1", "SKU-2"], "in time order");
        let first = &session.clicks[0];
        assert_eq!(first.time, Some(1_775_027_553_250));
        assert_eq!(first.date, NaiveDate::from_ymd_opt(2026, 4, 1).unwrap());
        assert_eq!(first.category, "footwear/boots");
        assert_eq!(first.price, 189.99);
        assert_eq!(first.attributes, [Value::Text("mobile".into())]);
        assert_eq!(first.order, None);
    }

    #[test]
    fn a_ga4_session_joins_its_key_and_reads_microseconds() {
        let json = bodies(GA4);
        let body = json!({
            "session_id": " 1234567890.1712048400 / 1712048400 ",
            "clicks": [{
                "timestamp": 1_712_048_405_000_123_i64,
                "product": "SKU-10443",
                "category": "footwear",
                "price": 12,
                "device": "tablet",
            }],
        });
        let session = read(&json, &body).expect("a valid body");
        assert_eq!(session.id, "1234567890.1712048400/1712048400");
        assert!(session.passthrough.is_empty());
        let click = &session.clicks[0];
        assert_eq!(click.time, Some(1_712_048_405_000));
        assert_eq!(click.date, NaiveDate::from_ymd_opt(2024, 4, 2).unwrap());
        assert_eq!(click.price, 12.0, "a whole number is a number");

        // A column without a noun is named by its type.
        let mut body = body;
        body["clicks"][0]["price"] = json!(0.0);
        assert_eq!(
            problems(read(&json, &body)),
            pairs(&[(
                "clicks[0].price",
                "got \"0\", expected a number greater than 0 and at most 1000000"
            )])
        );
    }

    #[test]
    fn every_kind_of_problem_names_its_path_and_what_is_allowed() {
        let json = bodies(SECOND_SHOP);
        let body = r#"{"session_id": "s-1", "clicks": [
            {"timestamp": 17, "product": "SKU-1", "category": "boots", "price": "189.99", "device": "mobile"},
            {"timestamp": "2026-04-01T09:12:33Z", "category": "boots", "prise": 3, "price": 3, "device": "mobile"},
            {"timestamp": "2026-04-01T09:12:33Z", "product": "SKU-1", "category": "boots", "price": -3, "device": "mobile", "device": "tablet"},
            {"timestamp": "yesterday", "product": "", "category": "boots", "price": 1, "device": "mobile"}
        ]}"#;
        let got = problems(json.session_from_json(body.as_bytes(), 1000, 1000));
        assert_eq!(
            got,
            pairs(&[
                ("clicks[0].timestamp", "got the number 17, expected a string"),
                ("clicks[0].price", "got the string \"189.99\", expected a number"),
                (
                    "clicks[1].prise",
                    "not a field here (did you mean price?); the fields here are timestamp, product, category, price, device"
                ),
                ("clicks[1].product", "required, but missing"),
                ("clicks[2].device", "duplicate field `device`"),
                (
                    "clicks[2].price",
                    "got \"-3\", expected a price in euros greater than 0 and at most 10000"
                ),
                (
                    "clicks[3].timestamp",
                    "got \"yesterday\", expected an RFC 3339 time such as 2026-04-01T09:12:33Z"
                ),
                (
                    "clicks[3].product",
                    "got \"\", expected a non-empty string of at most 64 characters"
                ),
                ("customer_id", "required, but missing"),
            ])
        );
    }

    #[test]
    fn the_session_id_and_passthrough_values_follow_their_columns_rules() {
        let json = bodies(SECOND_SHOP);
        let click = second_shop_click("2026-04-01T09:12:33Z", "SKU-1");
        let body = json!({"session_id": "  ", "customer_id": 7, "clicks": [click]});
        assert_eq!(
            problems(read(&json, &body)),
            pairs(&[
                ("customer_id", "got the number 7, expected a string"),
                (
                    "session_id",
                    "got \"  \", expected a non-empty string of at most 64 characters"
                ),
            ])
        );
        let long = "c".repeat(65);
        let body =
            json!({"session_id": "s", "customer_id": long, "clicks": [click], "sesion_id": 1});
        let got = problems(read(&json, &body));
        assert_eq!(got[0].0, "sesion_id");
        assert!(got[0].1.contains("did you mean session_id?"), "{got:?}");
        assert_eq!(got[1].0, "customer_id");
        assert!(got[1].1.ends_with("at most 64 characters"), "{got:?}");

        let ga4 = bodies(GA4);
        let body = json!({"session_id": "u1", "clicks": [{
            "timestamp": "1712048405000000", "product": "p", "category": "c", "price": 1, "device": "d",
        }]});
        assert_eq!(
            problems(read(&ga4, &body)),
            pairs(&[
                ("clicks[0].timestamp", "got the string \"1712048405000000\", expected a whole number"),
                (
                    "session_id",
                    "got \"u1\", expected user_pseudo_id and ga_session_id joined with \"/\", each a non-empty string of at most 128 characters"
                ),
            ])
        );
    }

    #[test]
    fn clicks_are_at_least_one_and_at_most_the_limit() {
        let json = bodies(SECOND_SHOP);
        let click = second_shop_click("2026-04-01T09:12:33Z", "SKU-1");
        let body = json!({"session_id": "s", "customer_id": "c", "clicks": []});
        assert_eq!(
            problems(read(&json, &body)),
            pairs(&[("clicks", "expected at least one click")])
        );
        let body = json!({"session_id": "s", "customer_id": "c", "clicks": [click, click, {"not": "read"}]});
        let got = json.session_from_json(body.to_string().as_bytes(), 2, 1000);
        assert_eq!(
            problems(got),
            pairs(&[("clicks", "3 clicks is more than the limit of 2 per session")])
        );
        let body = json!({"session_id": "s", "customer_id": "c", "clicks": {"a": 1}});
        assert_eq!(
            problems(read(&json, &body)),
            pairs(&[("clicks", "got an object, expected an array of clicks")])
        );
        let body = json!({"session_id": "s", "customer_id": "c", "clicks": [3]});
        assert_eq!(
            problems(read(&json, &body)),
            pairs(&[(
                "clicks[0]",
                "got the number 3, expected a click: an object with timestamp, product, category, price and device"
            )])
        );
        let got = problems(read(&json, &json!([1])));
        assert_eq!(
            got,
            pairs(&[(
                "$",
                "got an array, expected a session: an object with session_id, clicks and customer_id"
            )])
        );
    }

    #[test]
    fn problems_past_the_cap_are_counted_not_listed() {
        let json = bodies(SECOND_SHOP);
        let clicks: Vec<serde_json::Value> = (0..50).map(|_| json!({"price": 0})).collect();
        let body = json!({"session_id": "s", "customer_id": "c", "clicks": clicks});
        let error = json
            .session_from_json(body.to_string().as_bytes(), 1000, 7)
            .expect_err("refused");
        let (listed, total) = issues(error);
        // Each click: four fields missing and the price out of its range.
        assert_eq!((listed.len(), total), (7, 250));
    }

    #[test]
    fn a_batch_reads_each_session_or_refuses_it_with_its_paths() {
        let json = bodies(SECOND_SHOP);
        let good = json!({"session_id": "a", "customer_id": "c-1", "clicks": [second_shop_click("2026-04-01T09:12:33Z", "SKU-1")]});
        let mut bad_click = second_shop_click("2026-04-01T09:12:33Z", "SKU-1");
        bad_click["price"] = json!(0);
        let bad = json!({"session_id": "b", "customer_id": "c-2", "clicks": [bad_click]});
        let body = json!({"sessions": [good, bad]}).to_string();
        let read = json
            .batch_from_json(body.as_bytes(), 10, 1000, 1000)
            .expect("the batch's own shape is right");
        assert_eq!(read.len(), 2);
        let first = read[0].as_ref().expect("the first session is valid");
        assert_eq!(
            (first.id.as_str(), first.passthrough.as_slice()),
            ("a", &["c-1".to_owned()][..])
        );
        let refusal = read[1].as_ref().expect_err("the second is refused");
        assert_eq!(
            (refusal.index, refusal.session_id.as_deref()),
            (1, Some("b"))
        );
        assert_eq!(refusal.errors[0].path, "sessions[1].clicks[0].price");
        assert_eq!(
            refusal.errors[0].message,
            "got \"0\", expected a price in euros greater than 0 and at most 10000"
        );

        let body = json!({"sessions": [1, 2, 3]}).to_string();
        let (listed, _) = issues(
            json.batch_from_json(body.as_bytes(), 2, 1000, 1000)
                .expect_err("past the limit"),
        );
        assert_eq!(listed[0].path, "sessions");
        assert_eq!(
            listed[0].message,
            "3 sessions is more than the limit of 2 per batch"
        );

        let (listed, _) = issues(
            json.batch_from_json(br#"{"session": []}"#, 2, 1000, 1000)
                .expect_err("no sessions"),
        );
        assert_eq!(listed[0].path, "session");
        assert!(
            listed[0].message.contains("did you mean sessions?"),
            "{listed:?}"
        );
    }

    #[test]
    fn clicks_with_an_order_keep_it_and_two_different_clicks_cannot_share_one() {
        let json = bodies(UCI);
        let click = |order: i64, colour: i64| {
            json!({"year": 2008, "month": 4, "day": 1, "order": order, "country": 29,
                "page1_main_category": 1, "page2_clothing_model": "A13", "colour": colour,
                "location": 5, "model_photography": 1, "price": 28, "price_2": 2, "page": 1})
        };
        let body = json!({"session_id": "s", "clicks": [click(2, 3), click(1, 3), click(2, 3)]});
        let session = read(&json, &body).expect("a valid body");
        let orders: Vec<Option<i64>> = session.clicks.iter().map(|c| c.order).collect();
        assert_eq!(orders, [Some(1), Some(2)]);
        assert_eq!(session.repeats, 1, "an exact repeat is dropped and counted");

        let body = json!({"session_id": "s", "clicks": [click(1, 3), click(2, 3), click(1, 4)]});
        assert_eq!(
            problems(read(&json, &body)),
            pairs(&[(
                "clicks",
                "two different clicks share order 1: clicks[0] and clicks[2]"
            )])
        );
    }

    #[test]
    fn the_uci_schema_read_as_a_shop_refuses_values_in_the_uci_bodys_words() {
        // The UCI reader (shape by the seeds, rules by `SessionInput::parse`) and a shop's
        // reader over the UCI schema file: the same problems, path for path. (A day past
        // its month's end is worded by each parser of days: not compared here.)
        let body = json!({"session_id": "s", "clicks": [
            {"year": 2008, "month": 2, "day": 29, "order": 1, "country": 99,
             "page1_main_category": 1, "page2_clothing_model": "Z9", "colour": 3,
             "location": 5, "model_photography": 1, "price": 0, "price_2": 2, "page": 1}
        ]})
        .to_string();
        let uci = super::super::session_from_json(body.as_bytes(), 1000)
            .expect("the shape is right")
            .parse("", 1000)
            .expect_err("the values are not");
        let mut uci: Vec<(String, String)> = uci.into_iter().map(|i| (i.path, i.message)).collect();
        let mut shop = problems(bodies(UCI).session_from_json(body.as_bytes(), 1000, 1000));
        // The UCI click lists in its table's order, a shop's in its schema's order of
        // roles (attributes after the price).
        uci.sort();
        shop.sort();
        assert_eq!(shop, uci);
    }

    #[test]
    fn a_passthrough_named_like_a_session_member_is_refused() {
        let text = SECOND_SHOP.replace("name = \"customer_id\"", "name = \"clicks\"");
        let schema = ShopSchema::parse(&text).expect("the schema itself compiles");
        let error = ShopJson::new(schema).expect_err("clicks is the session's");
        assert!(
            error
                .to_string()
                .contains("\"clicks\" is a member of every JSON session"),
            "{error}"
        );
    }

    /// Any JSON value, with keys a shop's bodies know often enough to reach every reader.
    fn any_json() -> impl Strategy<Value = serde_json::Value> {
        let key = prop_oneof![
            Just("session_id".to_owned()),
            Just("clicks".to_owned()),
            Just("sessions".to_owned()),
            Just("customer_id".to_owned()),
            Just("timestamp".to_owned()),
            Just("product".to_owned()),
            Just("category".to_owned()),
            Just("price".to_owned()),
            Just("device".to_owned()),
            "[a-z_]{0,10}",
        ];
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<u64>().prop_map(serde_json::Value::from),
            any::<f64>().prop_map(serde_json::Value::from),
            Just(json!("2026-04-01T09:12:33Z")),
            Just(json!(1_712_048_405_000_000_i64)),
            "[ -~]{0,20}".prop_map(serde_json::Value::from),
            "[a-z0-9]{1,8}/[a-z0-9]{1,8}(/[a-z]{1,4})?".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(5, 96, 8, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(serde_json::Value::Array),
                prop::collection::vec((key.clone(), inner), 0..8)
                    .prop_map(|members| serde_json::Value::Object(members.into_iter().collect())),
            ]
        })
    }

    /// What any body must come to: a session within its limits, or a refusal that lists
    /// no more than the cap.
    fn holds(read: Result<ShopSession, ApiError>, max_clicks: usize, cap: usize) {
        match read {
            Ok(session) => {
                assert!(!session.id.trim().is_empty());
                assert!(!session.clicks.is_empty() && session.clicks.len() <= max_clicks);
            }
            Err(ApiError::Invalid(listed)) => assert!(!listed.is_empty() && listed.len() <= cap),
            Err(ApiError::InvalidMany { listed, total }) => {
                assert!(listed.len() <= cap && total > listed.len())
            }
            Err(ApiError::Malformed(_)) => {}
            Err(other) => panic!("a body is malformed or invalid, not {other:?}"),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn no_json_value_panics_a_shop_reader(
            value in any_json(),
            max_clicks in 1usize..4,
            cap in 1usize..30,
        ) {
            let body = value.to_string();
            for json in [bodies(SECOND_SHOP), bodies(GA4)] {
                holds(json.session_from_json(body.as_bytes(), max_clicks, cap), max_clicks, cap);
                let batch = json!({"sessions": [value.clone(), value.clone()]}).to_string();
                for b in [body.as_str(), batch.as_str()] {
                    if let Ok(sessions) = json.batch_from_json(b.as_bytes(), 2, max_clicks, cap) {
                        for s in sessions {
                            match s {
                                Ok(s) => prop_assert!(s.clicks.len() <= max_clicks),
                                Err(r) => prop_assert!(!r.errors.is_empty() && r.total >= r.errors.len()),
                            }
                        }
                    }
                }
            }
        }

        #[test]
        fn no_cut_or_spliced_body_panics_a_shop_reader(
            cut in 0usize..400,
            splice in "[\\[\\]{}\",:0-9a-z\\\\ ]{0,6}",
        ) {
            let json = bodies(SECOND_SHOP);
            let valid = json!({"session_id": "s", "customer_id": "c", "clicks": [
                second_shop_click("2026-04-01T09:12:33Z", "SKU-1"),
                second_shop_click("2026-04-01T09:12:34Z", "SKU-2"),
            ]})
            .to_string();
            let at = cut.min(valid.len());
            let body = format!("{}{splice}{}", &valid[..at], &valid[at..]);
            holds(json.session_from_json(body.as_bytes(), 10, 20), 10, 20);
        }
    }

    /// The checks of JSON Schema the generated documents use, by hand (no validator crate
    /// is in the build): every place `value` breaks `schema`.
    fn breaks(
        schema: &serde_json::Value,
        value: &serde_json::Value,
        at: &str,
        out: &mut Vec<String>,
    ) {
        let mut no = |why: &str| out.push(format!("{at}: {why}"));
        let kind = schema["type"].as_str().unwrap_or("");
        let typed = match kind {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            _ => true,
        };
        if !typed {
            return no(&format!("not {kind}"));
        }
        if let Some(n) = value.as_f64() {
            if schema["minimum"].as_f64().is_some_and(|m| n < m) {
                no("below minimum");
            }
            if schema["maximum"].as_f64().is_some_and(|m| n > m) {
                no("above maximum");
            }
            if schema["exclusiveMinimum"].as_f64().is_some_and(|m| n <= m) {
                no("not above exclusiveMinimum");
            }
        }
        if let Some(text) = value.as_str() {
            let length = text.chars().count() as u64;
            if schema["minLength"].as_u64().is_some_and(|m| length < m) {
                no("shorter than minLength");
            }
            if schema["maxLength"].as_u64().is_some_and(|m| length > m) {
                no("longer than maxLength");
            }
            if let Some(pattern) = schema["pattern"].as_str() {
                let regex = regex::Regex::new(pattern).expect("the document's pattern compiles");
                if !regex.is_match(text) {
                    no("does not match pattern");
                }
            }
        }
        if let Some(items) = value.as_array() {
            if schema["minItems"]
                .as_u64()
                .is_some_and(|m| (items.len() as u64) < m)
            {
                no("fewer than minItems");
            }
            for (i, item) in items.iter().enumerate() {
                breaks(&schema["items"], item, &format!("{at}[{i}]"), out);
            }
        }
        if let Some(members) = value.as_object() {
            let properties = schema["properties"].as_object();
            for required in schema["required"].as_array().into_iter().flatten() {
                let name = required.as_str().unwrap_or("");
                if !members.contains_key(name) {
                    out.push(format!("{at}.{name}: required"));
                }
            }
            for (name, member) in members {
                match properties.and_then(|p| p.get(name)) {
                    Some(property) => breaks(property, member, &format!("{at}.{name}"), out),
                    None if schema["additionalProperties"] == json!(false) => {
                        out.push(format!("{at}.{name}: not a property"))
                    }
                    None => {}
                }
            }
        }
    }

    fn document(json: &ShopJson) -> serde_json::Value {
        let session = json.session_schema(json.click_schema().into());
        serde_json::to_value(json.batch_schema(session.into())).expect("a schema serialises")
    }

    fn violations(schema: &serde_json::Value, value: &serde_json::Value) -> Vec<String> {
        let mut out = Vec::new();
        breaks(schema, value, "$", &mut out);
        out
    }

    #[test]
    fn the_generated_schema_admits_a_valid_body_and_refuses_bad_ones() {
        let json = bodies(SECOND_SHOP);
        let batch = document(&json);
        let session = &batch["properties"]["sessions"]["items"];
        let click = &session["properties"]["clicks"]["items"];
        assert_eq!(click["properties"]["timestamp"]["format"], "date-time");
        assert_eq!(click["properties"]["price"]["exclusiveMinimum"], 0);
        assert_eq!(click["properties"]["price"]["maximum"], 10000);
        assert_eq!(click["properties"]["device"]["type"], "string");
        assert_eq!(
            click["properties"]["price"]["description"],
            "Price in euros."
        );
        assert_eq!(session["properties"]["customer_id"]["maxLength"], 64);
        assert_eq!(session["properties"]["session_id"]["maxLength"], 64);

        let valid = json!({"sessions": [{"session_id": "s-1", "customer_id": "c-1", "clicks": [
            second_shop_click("2026-04-01T09:12:33Z", "SKU-1"),
        ]}]});
        assert_eq!(violations(&batch, &valid), Vec::<String>::new());
        let mut bad = Vec::new();
        for (path, value) in [
            ("/sessions/0/clicks/0/price", json!("189.99")),
            ("/sessions/0/clicks/0/price", json!(0)),
            ("/sessions/0/clicks/0/timestamp", json!(17)),
            ("/sessions/0/session_id", json!("  ")),
            ("/sessions/0/customer_id", json!("c".repeat(65))),
            ("/sessions/0/clicks", json!([])),
            ("/sessions/0/clicks/0/colour", json!(3)),
        ] {
            let mut body = valid.clone();
            let (parent, name) = path.rsplit_once('/').unwrap_or(("", path));
            body.pointer_mut(parent)
                .and_then(|p| p.as_object_mut())
                .map(|p| p.insert(name.to_owned(), value.clone()));
            let found = violations(&batch, &body);
            // The reader refuses what the document does.
            let reader = json.batch_from_json(body.to_string().as_bytes(), 10, 1000, 1000);
            let refused = matches!(&reader, Ok(r) if r[0].is_err());
            bad.push((path, value, found.is_empty(), refused));
        }
        for (path, value, admitted, refused) in bad {
            assert!(!admitted, "the document admits {value} at {path}");
            assert!(refused, "the reader admits {value} at {path}");
        }
        let mut missing = valid.clone();
        missing["sessions"][0]["clicks"][0]
            .as_object_mut()
            .map(|c| c.remove("product"));
        assert_eq!(
            violations(&batch, &missing),
            ["$.sessions[0].clicks[0].product: required"]
        );
    }

    #[test]
    fn each_schemas_own_example_is_a_valid_body_both_ways() {
        for (text, max_length) in [(SECOND_SHOP, 64), (GA4, 257), (UCI, 64)] {
            let json = bodies(text);
            let session = serde_json::to_value(json.session_schema(json.click_schema().into()))
                .expect("a schema serialises");
            assert_eq!(session["properties"]["session_id"]["maxLength"], max_length);
            let example = &session["example"];
            assert_eq!(
                violations(&session, example),
                Vec::<String>::new(),
                "{text}"
            );
            read(&json, example).unwrap_or_else(|e| panic!("{}: {e:?}", json.schema().name));
        }
    }
}
