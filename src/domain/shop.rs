//! A click of any shop's schema. A schema file ([`SchemaFile`]) compiles once into a
//! [`ShopSchema`]: each column's rule, its headers, its pattern compiled, its time format
//! or category path; rows of a file are then parsed by those rules alone into
//! [`ShopClick`]s, and a session's rows into a [`ShopSession`] in click order. The UCI shop
//! keeps its typed [`Click`](super::Click), read by the same table (`schemas/uci.toml`):
//! its 422 answers and its speed are the API's.

use super::schema::{allowed, header_key, Example, Role, Rule};
use super::schema_file::{Basket, SchemaError, SchemaFile, SchemaRecord};
use chrono::{DateTime, NaiveDate};
use std::fmt;

/// How a timestamp column writes time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeFormat {
    Rfc3339,
    UnixSeconds,
    UnixMillis,
    UnixMicros,
}

impl TimeFormat {
    fn parse(name: Option<&str>) -> Option<TimeFormat> {
        Some(match name? {
            "rfc3339" => TimeFormat::Rfc3339,
            "unix_seconds" => TimeFormat::UnixSeconds,
            "unix_millis" => TimeFormat::UnixMillis,
            "unix_micros" => TimeFormat::UnixMicros,
            _ => return None,
        })
    }

    fn words(self) -> &'static str {
        match self {
            TimeFormat::Rfc3339 => "an RFC 3339 time such as 2026-04-01T09:12:33Z",
            TimeFormat::UnixSeconds => "whole seconds since 1970-01-01T00:00:00Z",
            TimeFormat::UnixMillis => "whole milliseconds since 1970-01-01T00:00:00Z",
            TimeFormat::UnixMicros => "whole microseconds since 1970-01-01T00:00:00Z",
        }
    }

    /// Milliseconds since the epoch, UTC, for times from year 1 to 9999.
    fn millis(self, cell: Cell<'_>) -> Option<i64> {
        let whole = |per_milli: i64, divide: bool| -> Option<i64> {
            let v = cell.whole()?;
            let ms = if divide {
                v.div_euclid(per_milli)
            } else {
                v.checked_mul(per_milli)?
            };
            DateTime::from_timestamp_millis(ms).map(|t| t.timestamp_millis())
        };
        match self {
            TimeFormat::Rfc3339 => match cell {
                Cell::Text(text) => DateTime::parse_from_rfc3339(text.trim())
                    .ok()
                    .map(|t| t.timestamp_millis()),
                _ => None,
            },
            TimeFormat::UnixSeconds => whole(1000, false),
            TimeFormat::UnixMillis => whole(1, false),
            TimeFormat::UnixMicros => whole(1000, true),
        }
    }
}

/// One column of a shop's click, compiled: its role, names, rule and what the rule needs
/// at parse time.
#[derive(Debug, Clone)]
pub struct ShopColumn {
    pub role: Role,
    /// The role's name in the schema file (`product`, `date.year`, `attribute`), for errors.
    pub role_name: &'static str,
    /// The name in the API.
    pub name: String,
    /// The headers in the shop's files: one, or the parts of a composite session key.
    pub headers: Vec<String>,
    pub rule: Rule,
    pub noun: String,
    pub condition: Option<String>,
    pub description: String,
    pub example: Example,
    pattern: Option<regex::Regex>,
    /// A category path's separator and how many of its parts name the category.
    path: Option<(String, usize)>,
    time: Option<TimeFormat>,
}

impl ShopColumn {
    /// What the column accepts, in the API's words.
    pub fn allowed(&self) -> String {
        if let Some(format) = self.time {
            return format.words().to_owned();
        }
        allowed(
            &self.noun,
            &self.rule,
            self.condition.as_deref(),
            &self.example,
        )
    }

    /// The header as a message names it: the composite key's parts joined.
    pub fn header(&self) -> String {
        self.headers.join(" + ")
    }

    /// A categorical attribute: text whose vocabulary is learned at training.
    pub fn is_categorical(&self) -> bool {
        matches!(self.rule, Rule::Text { .. })
    }

    fn error(&self, value: impl Into<String>) -> ColumnError {
        ColumnError {
            name: self.name.clone(),
            role: self.role_name,
            header: self.header(),
            value: value.into(),
            expected: self.allowed(),
        }
    }

    fn text(&self, cell: Cell<'_>) -> Result<String, ColumnError> {
        let Cell::Text(raw) = cell else {
            return Err(self.error(cell.to_string()));
        };
        let text = raw.trim();
        let fits = match &self.rule {
            Rule::Text { max_chars, .. } => !text.is_empty() && text.chars().count() <= *max_chars,
            _ => false,
        };
        if !fits || self.pattern.as_ref().is_some_and(|p| !p.is_match(text)) {
            return Err(self.error(raw));
        }
        Ok(match &self.path {
            Some((separator, depth)) => category_path(text, separator, *depth),
            None => text.to_owned(),
        })
    }

    fn whole(&self, cell: Cell<'_>) -> Result<i64, ColumnError> {
        let admitted = cell.whole().filter(|v| match &self.rule {
            Rule::Whole { min, max } => (*min..=*max).contains(v),
            Rule::Codes(codes) => codes.binary_search_by_key(v, |c| c.code).is_ok(),
            _ => false,
        });
        admitted.ok_or_else(|| self.error(cell.to_string()))
    }

    fn number(&self, cell: Cell<'_>) -> Result<f64, ColumnError> {
        let admitted = cell.number().filter(|v| match &self.rule {
            Rule::Number { above, max } => v.is_finite() && v > above && v <= max,
            Rule::Whole { min, max } => *v >= *min as f64 && *v <= *max as f64,
            _ => false,
        });
        admitted.ok_or_else(|| self.error(cell.to_string()))
    }

    fn value(&self, cell: Cell<'_>) -> Result<Value, ColumnError> {
        match &self.rule {
            Rule::Text { .. } => self.text(cell).map(Value::Text),
            Rule::Whole { .. } | Rule::Codes(_) => self.whole(cell).map(Value::Whole),
            Rule::Number { .. } => self.number(cell).map(Value::Number),
        }
    }
}

/// The first `depth` parts of a category path, each trimmed, empty parts dropped
/// (`"Footwear / Boots//winter"` at depth 2 is `"Footwear/Boots"`).
fn category_path(text: &str, separator: &str, depth: usize) -> String {
    let parts: Vec<&str> = text
        .split(separator)
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .take(depth)
        .collect();
    parts.join(separator)
}

/// A cell as it arrives: text from a CSV file, or a JSON value's type.
#[derive(Debug, Clone, Copy)]
pub enum Cell<'a> {
    Text(&'a str),
    Whole(i64),
    Number(f64),
}

impl Cell<'_> {
    fn whole(self) -> Option<i64> {
        match self {
            Cell::Text(t) => t.trim().parse().ok(),
            Cell::Whole(v) => Some(v),
            Cell::Number(v) if v.fract() == 0.0 && v.abs() < 9.0e15 => Some(v as i64),
            Cell::Number(_) => None,
        }
    }

    fn number(self) -> Option<f64> {
        match self {
            Cell::Text(t) => t.trim().parse::<f64>().ok().filter(|v| v.is_finite()),
            Cell::Whole(v) => Some(v as f64),
            Cell::Number(v) => Some(v),
        }
    }
}

impl fmt::Display for Cell<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cell::Text(t) => f.write_str(t),
            Cell::Whole(v) => write!(f, "{v}"),
            Cell::Number(v) => write!(f, "{v}"),
        }
    }
}

/// One bad value: which column, by its API name, role and header, what it held and what
/// the schema allows.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnError {
    pub name: String,
    pub role: &'static str,
    pub header: String,
    pub value: String,
    pub expected: String,
}

impl fmt::Display for ColumnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}, column {:?}): got {:?}, expected {}",
            self.name, self.role, self.header, self.value, self.expected
        )
    }
}

/// An attribute's value: a categorical text (its vocabulary is the model's), a code or
/// whole number, or a number.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Text(String),
    Whole(i64),
    Number(f64),
}

/// One click of a shop's schema, every value checked by its column's rule.
#[derive(Debug, Clone, PartialEq)]
pub struct ShopClick {
    /// The position the data gives, when the schema has an `[order]` column.
    pub order: Option<i64>,
    /// Milliseconds since the epoch, UTC, when the schema has a `[timestamp]`.
    pub time: Option<i64>,
    /// The calendar day: the date columns', else the timestamp's (UTC).
    pub date: NaiveDate,
    pub product: String,
    /// The category, or its path cut to the schema's depth.
    pub category: String,
    pub price: f64,
    /// One per declared attribute, in the schema's order.
    pub attributes: Vec<Value>,
}

/// A row of a shop's file: the session it names, its click, its passthrough values.
#[derive(Debug, Clone, PartialEq)]
pub struct ShopRow {
    pub session: String,
    pub click: ShopClick,
    pub passthrough: Vec<String>,
}

/// Where a click's day comes from.
#[derive(Debug, Clone, Copy)]
enum Day {
    Parts {
        year: usize,
        month: usize,
        day: usize,
    },
    Timestamp,
}

/// A shop's schema compiled for parsing: every column with its rule, and where each role
/// is among them.
#[derive(Debug, Clone)]
pub struct ShopSchema {
    pub name: String,
    pub currency: Option<String>,
    pub description: String,
    /// The file as written, which the model records.
    pub record: SchemaRecord,
    pub basket: Basket,
    /// Every column, in the schema file's order of roles.
    pub columns: Vec<ShopColumn>,
    session: usize,
    order: Option<usize>,
    timestamp: Option<usize>,
    day: Day,
    product: usize,
    category: usize,
    price: usize,
    attributes: Vec<usize>,
    passthrough: Vec<usize>,
}

fn schema_error(message: impl Into<String>) -> SchemaError {
    SchemaError::Schema(message.into())
}

impl ShopSchema {
    /// Reads and compiles a schema file's text.
    pub fn parse(text: &str) -> Result<ShopSchema, SchemaError> {
        let file = SchemaFile::parse(text)?;
        ShopSchema::compile(&file, text)
    }

    /// Compiles a checked schema file; `text` is the file as written, for the record.
    pub fn compile(file: &SchemaFile, text: &str) -> Result<ShopSchema, SchemaError> {
        if file.date.as_ref().is_some_and(|d| d.column.is_some()) {
            return Err(schema_error(
                "date: a single YYYY-MM-DD column is not read yet; give [date.year], \
                 [date.month] and [date.day], or let the [timestamp] date the clicks",
            ));
        }
        let mut columns = Vec::new();
        for checked in file.check()? {
            let c = checked.column;
            let headers = if !c.columns.is_empty() {
                if checked.role != Role::SessionId {
                    return Err(SchemaError::Column {
                        role: checked.role_name.to_owned(),
                        problem: "only the session may be a key of several columns".into(),
                    });
                }
                c.columns.clone()
            } else {
                vec![c.column.clone().unwrap_or_else(|| checked.name.clone())]
            };
            let pattern = match &checked.rule {
                Rule::Text {
                    pattern: Some(p), ..
                } => Some(
                    regex::Regex::new(&p.regex).map_err(|e| SchemaError::Column {
                        role: checked.role_name.to_owned(),
                        problem: format!("its pattern is not a regular expression: {e}"),
                    })?,
                ),
                _ => None,
            };
            let path = match (&c.separator, c.depth) {
                (Some(sep), depth) if checked.role == Role::Category && !sep.is_empty() => {
                    Some((sep.clone(), depth.unwrap_or(usize::MAX).max(1)))
                }
                (None, None) => None,
                _ => {
                    return Err(SchemaError::Column {
                        role: checked.role_name.to_owned(),
                        problem: "`separator` and `depth` describe a category path: only the \
                                  category takes them, with a non-empty separator"
                            .into(),
                    })
                }
            };
            let time = if checked.role == Role::Timestamp {
                TimeFormat::parse(c.format.as_deref())
            } else {
                None
            };
            columns.push(ShopColumn {
                role: checked.role,
                role_name: checked.role_name,
                name: checked.name,
                headers,
                rule: checked.rule,
                noun: c.noun.clone().unwrap_or_default(),
                condition: c.condition.clone(),
                description: c.description.clone().unwrap_or_default(),
                example: checked.example,
                pattern,
                path,
                time,
            });
        }
        let find = |role_name: &str| columns.iter().position(|c| c.role_name == role_name);
        let required = |role_name: &str| {
            find(role_name).ok_or_else(|| schema_error(format!("the schema has no [{role_name}]")))
        };
        let day =
            match (find("date.year"), find("date.month"), find("date.day")) {
                (Some(year), Some(month), Some(day)) => Day::Parts { year, month, day },
                (None, None, None) if find("timestamp").is_some() => Day::Timestamp,
                _ => return Err(schema_error(
                    "date: give all three of [date.year], [date.month] and [date.day], or none \
                     and a [timestamp]",
                )),
            };
        let of_role = |role: Role| -> Vec<usize> {
            (0..columns.len())
                .filter(|&i| columns[i].role == role)
                .collect()
        };
        Ok(ShopSchema {
            name: file.name.clone(),
            currency: file.currency.clone(),
            description: file.description.clone(),
            record: SchemaRecord {
                name: file.name.clone(),
                text: text.to_owned(),
            },
            basket: file.outcome.basket,
            session: required("session")?,
            order: find("order"),
            timestamp: find("timestamp"),
            day,
            product: required("product")?,
            category: required("category")?,
            price: required("price")?,
            attributes: of_role(Role::Attribute),
            passthrough: of_role(Role::Passthrough),
            columns,
        })
    }

    /// Whether clicks are ordered by a position column (else by their time).
    pub fn has_order(&self) -> bool {
        self.order.is_some()
    }

    pub fn has_timestamp(&self) -> bool {
        self.timestamp.is_some()
    }

    /// The declared attributes, in order.
    pub fn attributes(&self) -> impl Iterator<Item = &ShopColumn> {
        self.attributes.iter().map(|&i| &self.columns[i])
    }

    /// The declared passthrough columns, in order.
    pub fn passthrough(&self) -> impl Iterator<Item = &ShopColumn> {
        self.passthrough.iter().map(|&i| &self.columns[i])
    }

    pub fn column(&self, role: Role) -> Option<&ShopColumn> {
        self.columns.iter().find(|c| c.role == role)
    }

    /// Where each column's cells are in a file with this header: headers match with case,
    /// spaces and punctuation ignored, as the UCI file's do. A column the file lacks is
    /// named with its role and the headers the file has; extra columns are ignored.
    pub fn bind(&self, header: &[&str]) -> Result<Binding, String> {
        let keys: Vec<String> = header.iter().map(|h| header_key(h)).collect();
        let mut cells = Vec::with_capacity(self.columns.len());
        for column in &self.columns {
            let mut at = Vec::with_capacity(column.headers.len());
            for wanted in &column.headers {
                let key = header_key(wanted);
                let found = keys
                    .iter()
                    .position(|k| *k == key)
                    .or_else(|| keys.iter().position(|k| *k == header_key(&column.name)));
                match found {
                    Some(i) => at.push(i),
                    None => {
                        return Err(format!(
                            "the header has no column {wanted:?} for the {} ({}); it has: {}",
                            column.name,
                            column.role_name,
                            header.join(", ")
                        ))
                    }
                }
            }
            cells.push(at);
        }
        Ok(Binding {
            cells,
            width: header.len(),
        })
    }

    /// One row's cells as a click, with every bad value of the row.
    pub fn row(&self, binding: &Binding, record: &[&str]) -> Result<ShopRow, Vec<ColumnError>> {
        let cell = |column: usize| -> Cell<'_> {
            // A short row is the reader's error; here a missing cell reads as empty.
            let i = binding.cells[column].first().copied().unwrap_or(usize::MAX);
            Cell::Text(record.get(i).copied().unwrap_or(""))
        };
        let mut errors = Vec::new();
        let session_column = &self.columns[self.session];
        let mut parts = Vec::with_capacity(binding.cells[self.session].len());
        for &i in &binding.cells[self.session] {
            match session_column.text(Cell::Text(record.get(i).copied().unwrap_or(""))) {
                Ok(part) => parts.push(part),
                Err(e) => errors.push(e),
            }
        }
        let click = self.click(&cell, &mut errors);
        let mut passthrough = Vec::with_capacity(self.passthrough.len());
        for &p in &self.passthrough {
            match self.columns[p].text(cell(p)) {
                Ok(v) => passthrough.push(v),
                Err(e) => errors.push(e),
            }
        }
        match click {
            Some(click) if errors.is_empty() => Ok(ShopRow {
                session: parts.join("/"),
                click,
                passthrough,
            }),
            _ => Err(errors),
        }
    }

    /// A click from its cells by column (`cell(i)` for `self.columns[i]`), noting every bad
    /// value in `errors`; `None` when any is bad.
    pub fn click<'a>(
        &self,
        cell: &impl Fn(usize) -> Cell<'a>,
        errors: &mut Vec<ColumnError>,
    ) -> Option<ShopClick> {
        let before = errors.len();
        let order = self
            .order
            .map(|i| keep(errors, self.columns[i].whole(cell(i))));
        let time = match self.timestamp {
            Some(i) => {
                let column = &self.columns[i];
                let c = cell(i);
                let format = column.time.unwrap_or(TimeFormat::Rfc3339);
                Some(keep(
                    errors,
                    format.millis(c).ok_or_else(|| column.error(c.to_string())),
                ))
            }
            None => None,
        };
        let date = match self.day {
            Day::Parts { year, month, day } => {
                let y = keep(errors, self.columns[year].whole(cell(year)));
                let m = keep(errors, self.columns[month].whole(cell(month)));
                let d = keep(errors, self.columns[day].whole(cell(day)));
                match (y, m, d) {
                    (Some(y), Some(m), Some(d)) => {
                        let date = i32::try_from(y).ok().and_then(|y| {
                            NaiveDate::from_ymd_opt(
                                y,
                                u32::try_from(m).ok()?,
                                u32::try_from(d).ok()?,
                            )
                        });
                        let column = &self.columns[day];
                        keep(
                            errors,
                            date.ok_or_else(|| ColumnError {
                                expected: format!(
                                    "{} (no such day in {y}-{m:02})",
                                    column.allowed()
                                ),
                                ..column.error(d.to_string())
                            }),
                        )
                    }
                    _ => None,
                }
            }
            Day::Timestamp => time
                .flatten()
                .and_then(DateTime::from_timestamp_millis)
                .map(|t| t.date_naive()),
        };
        let product = keep(errors, self.columns[self.product].text(cell(self.product)));
        let category = {
            let column = &self.columns[self.category];
            match column.rule {
                Rule::Codes(_) | Rule::Whole { .. } => keep(
                    errors,
                    column.whole(cell(self.category)).map(|c| c.to_string()),
                ),
                _ => keep(errors, column.text(cell(self.category))),
            }
        };
        let price = keep(errors, self.columns[self.price].number(cell(self.price)));
        let mut attributes = Vec::with_capacity(self.attributes.len());
        for &a in &self.attributes {
            if let Some(v) = keep(errors, self.columns[a].value(cell(a))) {
                attributes.push(v);
            }
        }
        if errors.len() > before {
            return None;
        }
        Some(ShopClick {
            order: order.flatten(),
            time: time.flatten(),
            date: date?,
            product: product?,
            category: category?,
            price: price?,
            attributes,
        })
    }
}

/// The value, or `None` with its error noted.
fn keep<T>(errors: &mut Vec<ColumnError>, r: Result<T, ColumnError>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(e) => {
            errors.push(e);
            None
        }
    }
}

/// Where a file's header puts each column of a schema: the cells of `columns[i]` are at
/// `cells[i]` (several for a composite session key).
#[derive(Debug, Clone)]
pub struct Binding {
    cells: Vec<Vec<usize>>,
    /// Cells a row of the file has.
    pub width: usize,
}

/// Why a session's rows do not make a session.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ShopSessionError {
    #[error("session {session:?}: two different clicks share order {order} (lines {first} and {second})")]
    ConflictingOrder {
        session: String,
        order: i64,
        first: u64,
        second: u64,
    },
    #[error("session {session:?}: its {name} ({role}) must be the same on every row, but line {first} has {a:?} and line {second} has {b:?}")]
    Passthrough {
        session: String,
        name: String,
        role: &'static str,
        first: u64,
        a: String,
        second: u64,
        b: String,
    },
}

/// The clicks of one visit of a shop, in click order, with its passthrough values.
#[derive(Debug, Clone, PartialEq)]
pub struct ShopSession {
    pub id: String,
    pub clicks: Vec<ShopClick>,
    /// One per declared passthrough column, the same on every row.
    pub passthrough: Vec<String>,
    /// Rows dropped as exact repeats of another.
    pub repeats: usize,
}

// The basket proxy reads only a click's product, price and day, which coding by a
// catalogue does not change: a shop's sessions are labelled before any catalogue is
// learned (train's census chooses the validation period from them in its first pass).
impl super::AnyClick for ShopClick {
    fn product(&self) -> super::ProductKey {
        super::ProductKey::of(&self.product)
    }

    fn product_id(&self) -> super::ProductId {
        super::ProductId::of(&self.product)
    }

    fn price(&self) -> f64 {
        self.price
    }

    fn day(&self) -> NaiveDate {
        self.date
    }

    fn category_label(&self) -> std::borrow::Cow<'_, str> {
        self.category.as_str().into()
    }
}

impl super::AnySession for ShopSession {
    type Click = ShopClick;

    fn name(&self) -> &str {
        &self.id
    }

    fn clicks(&self) -> &[ShopClick] {
        &self.clicks
    }
}

impl ShopSession {
    /// A session from its rows (with their lines), in click order: by `order` when the
    /// schema has one (exact repeats dropped and counted; two different clicks with one
    /// order refused), else by time with ties in file order. Passthrough values must agree.
    pub fn build(
        schema: &ShopSchema,
        id: String,
        mut rows: Vec<(u64, ShopClick, Vec<String>)>,
    ) -> Result<ShopSession, Box<ShopSessionError>> {
        if let Some((first_line, _, first)) = rows.first() {
            for (line, _, values) in &rows[1..] {
                if let Some(k) = (0..values.len()).find(|&k| values[k] != first[k]) {
                    let column = schema.passthrough().nth(k);
                    return Err(Box::new(ShopSessionError::Passthrough {
                        session: id,
                        name: column.map_or_else(String::new, |c| c.name.clone()),
                        role: "passthrough",
                        first: *first_line,
                        a: first[k].clone(),
                        second: *line,
                        b: values[k].clone(),
                    }));
                }
            }
        }
        let passthrough = rows.first().map(|r| r.2.clone()).unwrap_or_default();
        let mut repeats = 0;
        if schema.has_order() {
            rows.sort_by_key(|(line, c, _)| (c.order, *line));
            let mut kept: Vec<(u64, ShopClick, Vec<String>)> = Vec::with_capacity(rows.len());
            for row in rows {
                match kept.last() {
                    Some(last) if last.1.order == row.1.order => {
                        if last.1 == row.1 {
                            repeats += 1;
                        } else {
                            return Err(Box::new(ShopSessionError::ConflictingOrder {
                                session: id,
                                order: row.1.order.unwrap_or_default(),
                                first: last.0,
                                second: row.0,
                            }));
                        }
                    }
                    _ => kept.push(row),
                }
            }
            rows = kept;
        } else {
            rows.sort_by_key(|(line, c, _)| (c.time, *line));
        }
        Ok(ShopSession {
            id,
            clicks: rows.into_iter().map(|r| r.1).collect(),
            passthrough,
            repeats,
        })
    }
}

/// What readers of a shop's clicks other than its files need (the service's JSON bodies,
/// where a session's id and passthrough values are given once, as the session's).
impl ShopSchema {
    /// A session id given as one value, by the session column's rule: a composite key as
    /// its parts joined with "/", each part by the rule, as the rows of a file make it
    /// (`"u1 / 42"` is `"u1/42"`). A part holding "/" itself belongs to the last part.
    pub fn session_id(&self, cell: Cell<'_>) -> Result<String, ColumnError> {
        let column = &self.columns[self.session];
        let parts = column.headers.len();
        if parts <= 1 {
            return column.text(cell);
        }
        let refused = || ColumnError {
            expected: format!(
                "{} joined with \"/\", each {}",
                column.headers.join(" and "),
                column.allowed()
            ),
            ..column.error(cell.to_string())
        };
        let Cell::Text(raw) = cell else {
            return Err(refused());
        };
        let mut key = Vec::with_capacity(parts);
        for part in raw.splitn(parts, '/') {
            key.push(column.text(Cell::Text(part)).map_err(|_| refused())?);
        }
        if key.len() != parts {
            return Err(refused());
        }
        Ok(key.join("/"))
    }
}

impl ShopColumn {
    /// A text column's value by its rule (a passthrough value, say); any other column's
    /// value is refused.
    pub fn text_value(&self, cell: Cell<'_>) -> Result<String, ColumnError> {
        self.text(cell)
    }

    /// How a timestamp column writes time; `None` for any other column.
    pub fn time_format(&self) -> Option<TimeFormat> {
        self.time
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND_SHOP: &str = include_str!("../../examples/second-shop/schema.toml");
    const GA4: &str = include_str!("../../examples/ga4/schema.toml");

    fn shop() -> ShopSchema {
        ShopSchema::parse(SECOND_SHOP).expect("the second shop's schema compiles")
    }

    const HEADER: [&str; 7] = [
        "session_id",
        "event_time",
        "sku",
        "category",
        "price",
        "device",
        "customer_id",
    ];

    #[test]
    fn a_row_of_the_second_shop_is_a_click_by_its_rules() {
        let schema = shop();
        let binding = schema.bind(&HEADER).expect("the header binds");
        let row = schema
            .row(
                &binding,
                &[
                    "s-1",
                    "2026-04-01T09:12:33.250+02:00",
                    " SKU-10443 ",
                    "Footwear / Boots//winter",
                    "189.99",
                    "mobile",
                    "c-7",
                ],
            )
            .expect("a valid row");
        assert_eq!(row.session, "s-1");
        assert_eq!(row.click.product, "SKU-10443");
        assert_eq!(row.click.category, "Footwear/Boots");
        assert_eq!(row.click.time, Some(1_775_027_553_250));
        assert_eq!(row.click.date, NaiveDate::from_ymd_opt(2026, 4, 1).unwrap());
        assert_eq!(row.click.attributes, vec![Value::Text("mobile".into())]);
        assert_eq!(row.passthrough, vec!["c-7".to_owned()]);
    }

    #[test]
    fn every_bad_value_of_a_row_is_named_with_its_role_and_header() {
        let schema = shop();
        let binding = schema.bind(&HEADER).expect("the header binds");
        let errors = schema
            .row(
                &binding,
                &["s-1", "yesterday", "", "boots", "-3", "", "c-7"],
            )
            .expect_err("four bad values");
        let named: Vec<(&str, &str)> = errors.iter().map(|e| (e.name.as_str(), e.role)).collect();
        assert_eq!(
            named,
            [
                ("timestamp", "timestamp"),
                ("product", "product"),
                ("price", "price"),
                ("device", "attribute"),
            ]
        );
        assert_eq!(
            errors[2].to_string(),
            "price (price, column \"price\"): got \"-3\", expected a price in euros greater than 0 and at most 10000"
        );
        assert!(errors[0].expected.contains("RFC 3339"), "{}", errors[0]);
    }

    #[test]
    fn a_missing_column_is_named_with_its_role_and_the_headers_present() {
        let err = shop()
            .bind(&[
                "session_id",
                "sku",
                "category",
                "price",
                "device",
                "customer_id",
            ])
            .expect_err("no event_time");
        assert!(
            err.contains("\"event_time\" for the timestamp (timestamp)"),
            "{err}"
        );
        assert!(err.contains("it has: session_id, sku"), "{err}");
    }

    #[test]
    fn a_composite_session_key_is_joined_and_micros_become_millis() {
        let schema = ShopSchema::parse(GA4).expect("the GA4 schema compiles");
        let header: Vec<&str> = schema
            .columns
            .iter()
            .flat_map(|c| c.headers.iter().map(String::as_str))
            .collect();
        let binding = schema.bind(&header).expect("binds its own headers");
        let cells: Vec<String> = schema
            .columns
            .iter()
            .flat_map(|c| match c.role {
                Role::SessionId => vec!["u1".to_owned(), "42".to_owned()],
                Role::Timestamp => vec!["1712000000123456".to_owned()],
                _ => vec![c.example.to_string(); c.headers.len()],
            })
            .collect();
        let cells: Vec<&str> = cells.iter().map(String::as_str).collect();
        let row = schema
            .row(&binding, &cells)
            .expect("its examples are valid");
        assert_eq!(row.session, "u1/42");
        assert_eq!(row.click.time, Some(1_712_000_000_123));
    }

    fn click(order: Option<i64>, time: i64, product: &str) -> ShopClick {
        ShopClick {
            order,
            time: Some(time),
            date: NaiveDate::from_ymd_opt(2026, 4, 1).unwrap(),
            product: product.into(),
            category: "a".into(),
            price: 1.0,
            attributes: vec![],
        }
    }

    #[test]
    fn a_session_is_in_time_order_with_ties_in_file_order() {
        let rows = vec![
            (1, click(None, 30, "c"), vec!["x".into()]),
            (2, click(None, 10, "a"), vec!["x".into()]),
            (3, click(None, 30, "d"), vec!["x".into()]),
            (4, click(None, 20, "b"), vec!["x".into()]),
        ];
        let session = ShopSession::build(&shop(), "s".into(), rows).expect("a session");
        let products: Vec<&str> = session.clicks.iter().map(|c| c.product.as_str()).collect();
        assert_eq!(products, ["a", "b", "c", "d"]);
        assert_eq!(session.passthrough, ["x"]);
    }

    #[test]
    fn a_passthrough_conflict_names_the_column_and_both_rows() {
        let rows = vec![
            (7, click(None, 1, "a"), vec!["c-1".into()]),
            (9, click(None, 2, "a"), vec!["c-2".into()]),
        ];
        let err = ShopSession::build(&shop(), "s".into(), rows).expect_err("a conflict");
        assert_eq!(
            err.to_string(),
            "session \"s\": its customer_id (passthrough) must be the same on every row, but line 7 has \"c-1\" and line 9 has \"c-2\""
        );
    }

    #[test]
    fn the_uci_schema_compiles_too() {
        let schema = ShopSchema::parse(super::super::schema_file::UCI_FILE).expect("compiles");
        assert!(schema.has_order());
        assert_eq!(schema.attributes().count(), 6);
    }
}
