//! The click as one table of fields, held as data: each field's name, header, role, type,
//! range, vocabulary or pattern, description and example. The parsers' checks, the field
//! errors' "expected" text, the CSV header detection and the OpenAPI click schema all read
//! this table, so a field's range is written once. [`UCI`] is the table of the UCI shop;
//! the catalogue issue loads such a table from a file, which is why it is a `Vec` of
//! values rather than a struct with one member per column.

use super::field::Field;
use std::borrow::Cow;

/// Text of a table: written in the code for the UCI shop, owned when loaded.
pub type Text = Cow<'static, str>;

/// What a field means to the features and the grouping of rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The visit a row belongs to; in JSON it is the session's, not each click's.
    SessionId,
    /// A part of the click's calendar day.
    Date,
    /// The click's position in its session.
    Order,
    /// The product shown.
    Product,
    /// The product's main category.
    Category,
    /// The product's price.
    Price,
    /// The click's event time.
    Timestamp,
    /// Any other attribute of the click.
    Attribute,
    /// A column carried from input to output untouched.
    Passthrough,
}

/// The type of a field's values as they travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Whole,
    Number,
    Text,
}

impl Kind {
    /// The type in the API's words.
    pub fn expected(self) -> &'static str {
        match self {
            Kind::Whole => "a whole number",
            Kind::Number => "a number",
            Kind::Text => "a string",
        }
    }
}

/// One code of a fixed vocabulary and what it means.
#[derive(Debug, Clone, PartialEq)]
pub struct Code {
    pub code: i64,
    pub meaning: Text,
}

/// A text pattern: the regular expression documents it; the words tell a user.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    pub regex: Text,
    pub words: Text,
}

/// What values a field admits.
#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    /// Whole numbers from `min` to `max`.
    Whole { min: i64, max: i64 },
    /// Whole-number codes of a fixed vocabulary, in increasing order.
    Codes(Vec<Code>),
    /// Finite numbers greater than `above` and at most `max`.
    Number { above: f64, max: f64 },
    /// Text, not blank once trimmed, of at most `max_chars` characters, and of `pattern`
    /// when there is one.
    Text {
        max_chars: usize,
        pattern: Option<Pattern>,
    },
}

/// A field's example value, for documents and the CSV example.
#[derive(Debug, Clone, PartialEq)]
pub enum Example {
    Whole(i64),
    Number(f64),
    Text(Text),
}

impl std::fmt::Display for Example {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Example::Whole(v) => write!(f, "{v}"),
            Example::Number(v) => write!(f, "{v}"),
            Example::Text(v) => f.write_str(v),
        }
    }
}

impl Example {
    /// As a JSON value; a whole price stays a whole number, as a client would write it.
    pub fn json(&self) -> serde_json::Value {
        match self {
            Example::Whole(v) => (*v).into(),
            Example::Number(v) if v.fract() == 0.0 && v.abs() < 1e15 => (*v as i64).into(),
            Example::Number(v) => (*v).into(),
            Example::Text(v) => v.as_ref().into(),
        }
    }
}

/// One field of the click: one row of the table.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldSpec {
    /// The typed click's member this field fills.
    pub field: Field,
    /// The name in the API and in the snake_case copies of the data.
    pub name: Text,
    /// The header the shop's own file uses.
    pub header: Text,
    pub role: Role,
    /// What one value is, in the allowed text ("colour code"); empty when the rule says it.
    pub noun: Text,
    pub rule: Rule,
    /// A condition the rule alone does not state ("that exists in its month").
    pub condition: Option<Text>,
    pub description: Text,
    pub example: Example,
}

impl FieldSpec {
    pub fn kind(&self) -> Kind {
        match self.rule {
            Rule::Whole { .. } | Rule::Codes(_) => Kind::Whole,
            Rule::Number { .. } => Kind::Number,
            Rule::Text { .. } => Kind::Text,
        }
    }

    /// Whether a whole number is within the field's range or vocabulary.
    pub fn admits_whole(&self, value: i64) -> bool {
        match &self.rule {
            Rule::Whole { min, max } => (*min..=*max).contains(&value),
            Rule::Codes(codes) => codes.binary_search_by_key(&value, |c| c.code).is_ok(),
            Rule::Number { .. } => self.admits_number(value as f64),
            Rule::Text { .. } => false,
        }
    }

    /// Whether a number is within the field's range.
    pub fn admits_number(&self, value: f64) -> bool {
        match &self.rule {
            Rule::Number { above, max } => value.is_finite() && value > *above && value <= *max,
            _ => false,
        }
    }

    /// Whether a text is within the field's length. The pattern is the parser's to check:
    /// the crate has no regular expression engine on its input paths (see the tests).
    pub fn admits_length(&self, value: &str) -> bool {
        match &self.rule {
            Rule::Text { max_chars, .. } => {
                let value = value.trim();
                !value.is_empty() && value.chars().count() <= *max_chars
            }
            _ => false,
        }
    }

    /// The vocabulary of a coded field.
    pub fn codes(&self) -> Option<&[Code]> {
        match &self.rule {
            Rule::Codes(codes) => Some(codes),
            _ => None,
        }
    }

    /// The bounds of a field whose values are every whole number between two: a range, or
    /// codes with no gap.
    pub fn run_of_wholes(&self) -> Option<(i64, i64)> {
        match &self.rule {
            Rule::Whole { min, max } => Some((*min, *max)),
            Rule::Codes(codes) if codes.windows(2).all(|w| w[1].code == w[0].code + 1) => {
                self.whole_range()
            }
            _ => None,
        }
    }

    /// The smallest and largest whole value, for documents.
    pub fn whole_range(&self) -> Option<(i64, i64)> {
        match &self.rule {
            Rule::Whole { min, max } => Some((*min, *max)),
            Rule::Codes(codes) => Some((codes.first()?.code, codes.last()?.code)),
            _ => None,
        }
    }

    /// What the field accepts, in words a user can act on, from its rule.
    pub fn allowed(&self) -> String {
        allowed(
            &self.noun,
            &self.rule,
            self.condition.as_deref(),
            &self.example,
        )
    }
}

/// What a column accepts, in words a user can act on, from its rule: one wording for the
/// UCI click's fields and every shop schema's columns.
pub fn allowed(what: &str, rule: &Rule, condition: Option<&str>, example: &Example) -> String {
    // A column without a noun is named by its type: "a number", "a non-empty string".
    let named = |text: &str, kind: &str| {
        let what = if what.is_empty() { kind } else { what };
        format!("{text} {what}")
    };
    let noun = |text: &str| {
        if what.is_empty() {
            text.to_owned()
        } else {
            format!("{text} {what}")
        }
    };
    let whole_range = |codes: &[Code]| Some((codes.first()?.code, codes.last()?.code));
    let mut text = match rule {
        Rule::Whole { min, max } => format!("{} from {min} to {max}", noun("an integer")),
        Rule::Codes(codes) if codes.len() <= SPELT_OUT => {
            let listed: Vec<String> = codes
                .iter()
                .map(|c| format!("{} ({})", c.code, c.meaning))
                .collect();
            let list = match listed.split_last() {
                Some((last, [])) => last.clone(),
                Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
                None => "nothing".to_owned(),
            };
            if what.is_empty() {
                list
            } else {
                format!("{what}: {list}")
            }
        }
        Rule::Codes(codes) => {
            let contiguous = codes.windows(2).all(|w| w[1].code == w[0].code + 1);
            match (contiguous, whole_range(codes)) {
                (true, Some((min, max))) => {
                    format!("{} from {min} to {max}", noun("an integer"))
                }
                _ => {
                    let list: Vec<String> = codes.iter().map(|c| c.code.to_string()).collect();
                    format!("{}: one of {}", noun("an integer"), list.join(", "))
                }
            }
        }
        Rule::Number { above, max } => {
            format!(
                "{} greater than {above} and at most {max}",
                named("a", "number")
            )
        }
        Rule::Text {
            max_chars,
            pattern: None,
        } => format!(
            "{} of at most {max_chars} characters",
            named("a non-empty", "string")
        ),
        Rule::Text {
            pattern: Some(pattern),
            ..
        } => format!(
            "{}: {}, e.g. {}",
            named("a", "string"),
            pattern.words,
            example
        ),
    };
    if let Some(condition) = condition {
        text.push(' ');
        text.push_str(condition);
    }
    text
}

/// Vocabularies of at most this many codes are spelt out in the allowed text; longer ones
/// are given as their range.
const SPELT_OUT: usize = 4;

/// A shop's click: its fields, in the column order of its headerless files.
#[derive(Debug, Clone, PartialEq)]
pub struct ClickSchema {
    pub fields: Vec<FieldSpec>,
}

impl ClickSchema {
    /// The row of a typed member.
    pub fn spec(&self, field: Field) -> Option<&FieldSpec> {
        // The UCI table is in `Field::ALL` order, so the position finds it at once.
        self.fields
            .get(field as usize)
            .filter(|s| s.field == field)
            .or_else(|| self.fields.iter().find(|s| s.field == field))
    }

    /// The row of an API name.
    pub fn named(&self, name: &str) -> Option<&FieldSpec> {
        self.fields.iter().find(|s| s.name == name)
    }

    /// The row a file's column header stands for: its API name or the shop's header, with
    /// case, spaces and punctuation ignored (`session ID`, `session_id`).
    pub fn by_header(&self, header: &str) -> Option<&FieldSpec> {
        let key = header_key(header);
        self.fields
            .iter()
            .find(|s| header_key(&s.name) == key || header_key(&s.header) == key)
    }

    /// The fields of a click in a JSON body: all but the session id, which is the
    /// session's.
    pub fn click_fields(&self) -> impl Iterator<Item = &FieldSpec> {
        self.fields.iter().filter(|s| s.role != Role::SessionId)
    }

    /// The API names of a JSON click's fields.
    pub fn click_names(&self) -> Vec<&str> {
        self.click_fields().map(|s| s.name.as_ref()).collect()
    }

    /// "a click: an object with year, month, ... and page", for type errors.
    pub fn click_expected(&self) -> String {
        let names = self.click_names();
        let list = match names.split_last() {
            Some((last, [])) => (*last).to_owned(),
            Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
            None => String::new(),
        };
        format!("a click: an object with {list}")
    }

    /// A CSV body of one click under the snake_case header, from the examples.
    pub fn csv_example(&self) -> String {
        let header: Vec<&str> = self.fields.iter().map(|s| s.name.as_ref()).collect();
        let row: Vec<String> = self.fields.iter().map(|s| s.example.to_string()).collect();
        format!("{}\n{}\n", header.join(","), row.join(","))
    }
}

/// Reduces a header to letters and digits so `session ID` and `session_id`, or
/// `page 1 (main category)` and `page1_main_category`, meet.
pub(crate) fn header_key(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}
