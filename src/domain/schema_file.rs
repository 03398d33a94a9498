//! A shop's schema file (docs/schema.md), read into the click table. The file is the one
//! definition of a shop's click: the UCI shop's own table is `schemas/uci.toml`, embedded.

use super::schema::{ClickSchema, Code, Example, FieldSpec, Pattern, Role, Rule, Text};
use super::Field;
use serde::Deserialize;
use std::collections::BTreeSet;

/// The format's only version so far.
const FORMAT: u32 = 1;

/// The length of a text column that declares none.
const DEFAULT_MAX_CHARS: usize = 256;

/// The schema file as written: one table per role, arrays of tables for the others.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaFile {
    pub schema: u32,
    pub name: String,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub description: String,
    /// The column order of files without a header.
    #[serde(default)]
    pub columns: Vec<String>,
    pub session: Column,
    #[serde(default)]
    pub order: Option<Column>,
    #[serde(default)]
    pub timestamp: Option<Column>,
    #[serde(default)]
    pub date: Option<DateColumns>,
    pub product: Column,
    pub category: Column,
    pub price: Column,
    #[serde(default, rename = "attribute")]
    pub attributes: Vec<Column>,
    #[serde(default, rename = "passthrough")]
    pub passthrough: Vec<Column>,
    #[serde(default)]
    pub outcome: Outcome,
    /// The feature plan's `[[feature]]` entries, as written: their shape is the feature
    /// module's (`features::FeatureSpec`), which reads and checks them against the table;
    /// the domain layer below it only carries them.
    #[serde(default, rename = "feature")]
    pub features: Vec<toml::Table>,
}

/// The day of a click: three whole-number columns, or one `YYYY-MM-DD` column.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DateColumns {
    pub year: Option<Column>,
    pub month: Option<Column>,
    pub day: Option<Column>,
    pub column: Option<String>,
}

/// How an order shows in the clicks.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outcome {
    #[serde(default)]
    pub basket: Basket,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Basket {
    /// Labels come from an outcomes file only.
    #[default]
    None,
    /// A click on the same product as the click before it (the UCI proxy).
    SameProductTwice,
}

/// One column: its names, what it admits, and its words for documents.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Column {
    /// The name in the API; also the header when `column` is not given.
    pub name: Option<String>,
    /// The header in the shop's files.
    pub column: Option<String>,
    /// Several columns forming one key (the session only).
    #[serde(default)]
    pub columns: Vec<String>,
    /// An attribute's kind: `categorical` (vocabulary learned at training unless `codes`
    /// fixes it), `whole` or `number`.
    pub kind: Option<String>,
    pub noun: Option<String>,
    pub description: Option<String>,
    pub condition: Option<String>,
    pub example: Option<toml::Value>,
    pub min: Option<i64>,
    pub above: Option<f64>,
    pub max: Option<f64>,
    pub codes: Option<Vec<CodeEntry>>,
    pub max_chars: Option<usize>,
    pub pattern: Option<PatternEntry>,
    /// A category path's separator and how many of its parts name the category.
    pub separator: Option<String>,
    pub depth: Option<usize>,
    /// A timestamp's format.
    pub format: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeEntry {
    pub code: i64,
    pub meaning: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatternEntry {
    pub regex: String,
    pub words: String,
}

/// Why a schema file cannot be used, naming the role or column.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SchemaError {
    #[error("the schema file is not valid TOML in the schema format: {0}")]
    Syntax(String),
    #[error("the schema file is format {0}; this build reads format {FORMAT}")]
    Format(u32),
    #[error("{role}: {problem}")]
    Column { role: String, problem: String },
    #[error("{0}")]
    Schema(String),
}

fn column_error(role: &str, problem: impl Into<String>) -> SchemaError {
    SchemaError::Column {
        role: role.to_owned(),
        problem: problem.into(),
    }
}

impl SchemaFile {
    pub fn parse(text: &str) -> Result<SchemaFile, SchemaError> {
        let file: SchemaFile =
            toml::from_str(text).map_err(|e| SchemaError::Syntax(e.to_string()))?;
        if file.schema != FORMAT {
            return Err(SchemaError::Format(file.schema));
        }
        Ok(file)
    }

    /// Every column of the file, with its role, in the file's order of roles.
    pub fn roles(&self) -> Result<Vec<(Role, &'static str, &Column)>, SchemaError> {
        let mut out = vec![(Role::SessionId, "session", &self.session)];
        if let Some(order) = &self.order {
            out.push((Role::Order, "order", order));
        }
        if let Some(ts) = &self.timestamp {
            out.push((Role::Timestamp, "timestamp", ts));
        }
        if let Some(date) = &self.date {
            for (part, column) in [
                ("date.year", &date.year),
                ("date.month", &date.month),
                ("date.day", &date.day),
            ] {
                if let Some(column) = column {
                    out.push((Role::Date, part, column));
                }
            }
        }
        out.push((Role::Product, "product", &self.product));
        out.push((Role::Category, "category", &self.category));
        out.push((Role::Price, "price", &self.price));
        for a in &self.attributes {
            out.push((Role::Attribute, "attribute", a));
        }
        for p in &self.passthrough {
            out.push((Role::Passthrough, "passthrough", p));
        }
        if self.order.is_none() && self.timestamp.is_none() {
            return Err(SchemaError::Schema(
                "the schema orders clicks by neither an [order] nor a [timestamp] column".into(),
            ));
        }
        if self.date.is_none() && self.timestamp.is_none() {
            return Err(SchemaError::Schema(
                "the schema dates clicks by neither a [date] nor a [timestamp] column".into(),
            ));
        }
        Ok(out)
    }

    /// Checks every column's name, rule and example, for any shop: what `train --schema`
    /// says of a file before it reads any data.
    pub fn check(&self) -> Result<Vec<Checked<'_>>, SchemaError> {
        let mut out = Vec::new();
        let mut names = BTreeSet::new();
        for (role, role_name, column) in self.roles()? {
            let name = column_name(role, role_name, column)?;
            if !names.insert(name.clone()) {
                return Err(column_error(role_name, format!("{name:?} is named twice")));
            }
            let rule = rule(role_name, &name, column)?;
            let example = example(role_name, &name, column, &rule)?;
            out.push(Checked {
                role,
                role_name,
                name,
                rule,
                example,
                column,
            });
        }
        Ok(out)
    }

    /// The click table, each row bound to a typed member by `bind` (the UCI click's
    /// members, until clicks of any schema are typed by the table alone).
    pub fn table(&self, bind: impl Fn(&str) -> Option<Field>) -> Result<ClickSchema, SchemaError> {
        let mut fields = Vec::new();
        for c in self.check()? {
            let field = bind(&c.name).ok_or_else(|| {
                column_error(
                    c.role_name,
                    format!(
                        "{:?} is not a member of the clicks this build can type yet",
                        c.name
                    ),
                )
            })?;
            let column = c.column;
            fields.push(FieldSpec {
                field,
                header: column
                    .column
                    .clone()
                    .or_else(|| (!column.columns.is_empty()).then(|| column.columns.join("/")))
                    .unwrap_or_else(|| c.name.clone())
                    .into(),
                name: c.name.into(),
                role: c.role,
                noun: column.noun.clone().unwrap_or_default().into(),
                rule: c.rule,
                condition: column.condition.clone().map(Text::from),
                description: column.description.clone().unwrap_or_default().into(),
                example: c.example,
            });
        }
        if !self.columns.is_empty() {
            let mut ordered = Vec::with_capacity(fields.len());
            for name in &self.columns {
                let at = fields
                    .iter()
                    .position(|f: &FieldSpec| f.name == name.as_str())
                    .ok_or_else(|| {
                        SchemaError::Schema(format!("columns: {name:?} is no column of the schema"))
                    })?;
                ordered.push(fields.remove(at));
            }
            if let Some(left) = fields.first() {
                return Err(SchemaError::Schema(format!(
                    "columns: {:?} is missing from the list",
                    left.name
                )));
            }
            fields = ordered;
        }
        Ok(ClickSchema { fields })
    }
}

/// One column of a checked schema: its role, name, rule and example, and the column as
/// written.
#[derive(Debug)]
pub struct Checked<'a> {
    pub role: Role,
    /// The role's name in the file (`date.year`, `attribute`), for errors.
    pub role_name: &'static str,
    pub name: String,
    pub rule: Rule,
    pub example: Example,
    pub column: &'a Column,
}

/// A column's API name: its own, else its role's (an attribute or passthrough must name
/// itself).
fn column_name(role: Role, role_name: &str, column: &Column) -> Result<String, SchemaError> {
    column
        .name
        .clone()
        .or_else(|| match role {
            Role::Attribute | Role::Passthrough => None,
            _ => Some(role_name.trim_start_matches("date.").to_owned()),
        })
        .ok_or_else(|| column_error(role_name, "has no name"))
}

/// The rule a column's keys declare: codes, a number range, a text, or a whole range.
fn rule(role: &str, name: &str, c: &Column) -> Result<Rule, SchemaError> {
    let at = || format!("{role} {name:?}");
    if let Some(codes) = &c.codes {
        let mut codes: Vec<Code> = codes
            .iter()
            .map(|e| Code {
                code: e.code,
                meaning: e.meaning.clone().into(),
            })
            .collect();
        codes.sort_by_key(|c| c.code);
        if codes.windows(2).any(|w| w[0].code == w[1].code) || codes.is_empty() {
            return Err(column_error(
                &at(),
                "codes must be a non-empty list of distinct codes",
            ));
        }
        return Ok(Rule::Codes(codes));
    }
    if let Some(above) = c.above {
        let max = c
            .max
            .filter(|m| m.is_finite() && *m > above)
            .ok_or_else(|| column_error(&at(), "a number range needs a `max` above `above`"))?;
        return Ok(Rule::Number { above, max });
    }
    let text_by_default = matches!(role, "session" | "product" | "category" | "passthrough")
        || (role == "attribute" && c.kind.as_deref() == Some("categorical"));
    if role == "timestamp" {
        return match c.format.as_deref() {
            Some("rfc3339") => Ok(Rule::Text {
                max_chars: 40,
                pattern: None,
            }),
            Some("unix_seconds" | "unix_millis" | "unix_micros") => Ok(Rule::Whole {
                min: 0,
                max: i64::MAX,
            }),
            other => Err(column_error(
                &at(),
                format!(
                    "format {other:?} is not one of rfc3339, unix_seconds, unix_millis or unix_micros"
                ),
            )),
        };
    }
    if c.max_chars.is_some() || c.pattern.is_some() || text_by_default {
        let max_chars = c.max_chars.unwrap_or(DEFAULT_MAX_CHARS);
        if max_chars == 0 {
            return Err(column_error(&at(), "max_chars must be at least 1"));
        }
        return Ok(Rule::Text {
            max_chars,
            pattern: c.pattern.as_ref().map(|p| Pattern {
                regex: p.regex.clone().into(),
                words: p.words.clone().into(),
            }),
        });
    }
    match (c.min, c.max) {
        (Some(min), Some(max)) if max.fract() == 0.0 && max >= min as f64 && max < 9.0e15 => {
            Ok(Rule::Whole {
                min,
                max: max as i64,
            })
        }
        _ => Err(column_error(
            &at(),
            "declares no rule: give `codes`, `min` and `max` (whole numbers), `above` and `max` (numbers), or `max_chars` (text)",
        )),
    }
}

fn example(role: &str, name: &str, c: &Column, rule: &Rule) -> Result<Example, SchemaError> {
    let wrong = || {
        column_error(
            &format!("{role} {name:?}"),
            "its example is not of its rule's type",
        )
    };
    Ok(match (&c.example, rule) {
        (Some(toml::Value::Integer(v)), Rule::Whole { .. } | Rule::Codes(_)) => Example::Whole(*v),
        (Some(toml::Value::Integer(v)), Rule::Number { .. }) => Example::Number(*v as f64),
        (Some(toml::Value::Float(v)), Rule::Number { .. }) => Example::Number(*v),
        (Some(toml::Value::String(v)), Rule::Text { .. }) => Example::Text(v.clone().into()),
        (Some(_), _) => return Err(wrong()),
        (None, Rule::Whole { min, .. }) => Example::Whole(*min),
        (None, Rule::Codes(codes)) => Example::Whole(codes.first().map_or(0, |c| c.code)),
        (None, Rule::Number { max, .. }) => Example::Number(*max),
        (None, Rule::Text { .. }) => Example::Text("x".into()),
    })
}

/// The UCI shop's schema file, as shipped.
pub const UCI_FILE: &str = include_str!("../../schemas/uci.toml");

/// The schema a model was trained on, as its manifest carries it: the file's own text
/// (comments and all, so a reader sees what the shop wrote) under its name.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct SchemaRecord {
    pub name: String,
    pub text: String,
}

impl SchemaRecord {
    /// The UCI shop's, which models written before schemas were recorded were trained on.
    pub fn uci() -> SchemaRecord {
        SchemaRecord {
            name: "uci-clothing-2008".into(),
            text: UCI_FILE.into(),
        }
    }

    /// Why clicks checked against `serving` cannot be scored by a model trained on this
    /// schema, if they cannot: the first column whose name, header, role or rule differs.
    pub fn mismatch(&self, serving: &ClickSchema) -> Option<String> {
        let file = match SchemaFile::parse(&self.text) {
            Ok(file) => file,
            Err(e) => {
                return Some(format!(
                    "its schema {:?} cannot be used here: {e}",
                    self.name
                ))
            }
        };
        let Ok(trained) = file.table(Field::from_name) else {
            // A valid schema whose columns are not the UCI click's: a shop's own.
            return Some(format!(
                "it was trained on the shop schema {:?} (train --schema) but records no catalogue of the shop's values, which reading its clicks needs: train it again with this build",
                self.name
            ));
        };
        let differs = |a: &FieldSpec, b: &FieldSpec| {
            a.name != b.name || a.header != b.header || a.role != b.role || a.rule != b.rule
        };
        for (i, served) in serving.fields.iter().enumerate() {
            match trained.fields.get(i) {
                Some(t) if !differs(t, served) => {}
                Some(t) => {
                    return Some(format!(
                        "it was trained on schema {:?}, whose column {} ({:?}) is {:?} ({}) in the schema this service checks clicks against",
                        self.name, i + 1, t.name, served.name, served.allowed()
                    ))
                }
                None => {
                    return Some(format!(
                        "it was trained on schema {:?}, which lacks column {:?}",
                        self.name, served.name
                    ))
                }
            }
        }
        (trained.fields.len() > serving.fields.len()).then(|| {
            format!(
                "it was trained on schema {:?}, which has {} columns where this service checks {}",
                self.name,
                trained.fields.len(),
                serving.fields.len()
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_of_a_shops_own_schema_is_refused_in_the_shops_words() {
        let record = SchemaRecord {
            name: "trailhead-outdoor".into(),
            text: include_str!("../../examples/second-shop/schema.toml").into(),
        };
        let why = record
            .mismatch(&super::super::UCI)
            .expect("not the UCI click");
        assert!(
            why.contains("the shop schema \"trailhead-outdoor\" (train --schema)"),
            "{why}"
        );
        assert_eq!(SchemaRecord::uci().mismatch(&super::super::UCI), None);
    }

    fn minimal() -> String {
        r#"
schema = 1
name = "t"
[session]
name = "session_id"
[order]
min = 1
max = 9
[date.year]
min = 2000
max = 2100
[product]
max_chars = 8
[category]
codes = [{ code = 1, meaning = "a" }]
[price]
above = 0
max = 10
"#
        .to_owned()
    }

    #[test]
    fn the_uci_file_parses_and_orders_its_columns_as_the_shops_file() {
        let file = SchemaFile::parse(UCI_FILE).expect("the shipped UCI schema parses");
        assert_eq!(file.outcome.basket, Basket::SameProductTwice);
        let table = file
            .table(Field::from_name)
            .expect("the UCI schema binds every typed member");
        let names: Vec<&str> = table.fields.iter().map(|f| f.name.as_ref()).collect();
        assert_eq!(
            names,
            file.columns.iter().map(String::as_str).collect::<Vec<_>>()
        );
    }

    #[test]
    fn every_shipped_schema_file_is_valid() {
        for (file, text) in [
            ("schemas/uci.toml", UCI_FILE),
            (
                "examples/second-shop/schema.toml",
                include_str!("../../examples/second-shop/schema.toml"),
            ),
            (
                "examples/ga4/schema.toml",
                include_str!("../../examples/ga4/schema.toml"),
            ),
        ] {
            let schema = SchemaFile::parse(text).unwrap_or_else(|e| panic!("{file}: {e}"));
            let columns = schema.check().unwrap_or_else(|e| panic!("{file}: {e}"));
            assert!(columns.iter().any(|c| c.role == Role::Product), "{file}");
        }
    }

    #[test]
    fn a_column_without_an_example_gets_one_its_rule_admits() {
        let text = minimal().replace("above = 0\nmax = 10", "above = 5\nmax = 10");
        let file = SchemaFile::parse(&text).expect("the file parses");
        let checked = file.check().expect("a valid schema");
        let price = checked
            .iter()
            .find(|c| c.role == Role::Price)
            .expect("a price column");
        match (&price.example, &price.rule) {
            (Example::Number(v), Rule::Number { above, max }) => {
                assert!(v > above && v <= max, "{v}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_unknown_key_is_named() {
        let text = minimal().replace("max_chars = 8", "max_chars = 8\nmax_char = 3");
        let err = SchemaFile::parse(&text).expect_err("a misspelt key is refused");
        assert!(err.to_string().contains("max_char"), "{err}");
    }

    #[test]
    fn a_column_without_a_rule_is_named_with_its_role() {
        let text = minimal().replace("[order]\nmin = 1\nmax = 9", "[order]\nmin = 1");
        let file = SchemaFile::parse(&text).expect("the file parses");
        let err = file.table(|_| Some(Field::Order)).expect_err("no rule");
        assert!(
            err.to_string()
                .starts_with("order \"order\": declares no rule"),
            "{err}"
        );
    }

    #[test]
    fn a_schema_with_neither_order_nor_timestamp_is_refused() {
        let text = minimal().replace("[order]\nmin = 1\nmax = 9\n", "");
        let file = SchemaFile::parse(&text).expect("the file parses");
        let err = file.table(|_| Some(Field::Order)).expect_err("unordered");
        assert!(err.to_string().contains("neither an [order]"), "{err}");
    }

    #[test]
    fn another_format_is_refused_by_number() {
        let text = minimal().replace("schema = 1", "schema = 2");
        assert_eq!(SchemaFile::parse(&text).err(), Some(SchemaError::Format(2)));
    }

    #[test]
    fn duplicate_codes_and_names_are_refused() {
        let text = minimal().replace(
            "codes = [{ code = 1, meaning = \"a\" }]",
            "codes = [{ code = 1, meaning = \"a\" }, { code = 1, meaning = \"b\" }]",
        );
        let file = SchemaFile::parse(&text).expect("the file parses");
        let err = file.table(|_| Some(Field::Category)).expect_err("twice");
        assert!(err.to_string().contains("distinct codes"), "{err}");
    }
}
