//! The click as one table of fields, held as data: each field's name, header, role, type,
//! range, vocabulary or pattern, description and example. The parsers' checks, the field
//! errors' "expected" text, the CSV header detection and the OpenAPI click schema all read
//! this table, so a field's range is written once. [`UCI`] is the table of the UCI shop;
//! the catalogue issue loads such a table from a file, which is why it is a `Vec` of
//! values rather than a struct with one member per column.

use super::field::{Category, Colour, Field, Location, Photography, COUNTRY_NAMES};
use std::borrow::Cow;
use std::fmt;
use std::sync::LazyLock;

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
    /// Any other attribute of the click.
    Attribute,
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
        let noun = |text: &str| {
            if self.noun.is_empty() {
                text.to_owned()
            } else {
                format!("{text} {}", self.noun)
            }
        };
        let mut text = match &self.rule {
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
                if self.noun.is_empty() {
                    list
                } else {
                    format!("{}: {list}", self.noun)
                }
            }
            Rule::Codes(codes) => {
                let contiguous = codes.windows(2).all(|w| w[1].code == w[0].code + 1);
                match (contiguous, self.whole_range()) {
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
                format!("{} greater than {above} and at most {max}", noun("a"))
            }
            Rule::Text {
                max_chars,
                pattern: None,
            } => format!("{} of at most {max_chars} characters", noun("a non-empty")),
            Rule::Text {
                pattern: Some(pattern),
                ..
            } => format!("{}: {}, e.g. {}", noun("a"), pattern.words, self.example),
        };
        if let Some(condition) = &self.condition {
            text.push(' ');
            text.push_str(condition);
        }
        text
    }
}

/// What the rest of the crate asks of a column, read from the UCI table.
impl Field {
    /// The field's row in the click table.
    fn spec(self) -> Option<&'static FieldSpec> {
        UCI.spec(self)
    }

    /// The name in the API and in the snake_case copies of the data.
    pub fn name(self) -> &'static str {
        self.spec().map_or("?", |s| s.name.as_ref())
    }

    /// The header the UCI file uses for this column.
    pub fn original_name(self) -> &'static str {
        self.spec().map_or("?", |s| s.header.as_ref())
    }

    /// What the column accepts, in words a user can act on.
    pub fn allowed(self) -> String {
        self.spec().map_or_else(String::new, FieldSpec::allowed)
    }

    /// What each code of a coded column means: the one source of the code tables in
    /// `docs/codes.md`, the console and the OpenAPI document. `None` for columns holding
    /// plain values.
    pub fn codes(self) -> Option<Vec<(i64, &'static str)>> {
        let codes = self.spec()?.codes()?;
        Some(codes.iter().map(|c| (c.code, c.meaning.as_ref())).collect())
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
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
fn header_key(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// `price 2` (is the price above the average of its main category?).
pub(crate) const PRICE_2_CODES: [(i64, &str); 2] = [(1, "yes"), (2, "no")];

/// The shop's pages.
const PAGES: [(i64, &str); 5] = [
    (1, "page 1 of the shop"),
    (2, "page 2 of the shop"),
    (3, "page 3 of the shop"),
    (4, "page 4 of the shop"),
    (5, "page 5 of the shop"),
];

fn codes(pairs: impl IntoIterator<Item = (i64, &'static str)>) -> Rule {
    let mut codes: Vec<Code> = pairs
        .into_iter()
        .map(|(code, meaning)| Code {
            code,
            meaning: meaning.into(),
        })
        .collect();
    codes.sort_by_key(|c| c.code);
    Rule::Codes(codes)
}

fn of<T: Copy>(all: &[T], code: fn(T) -> i64, label: fn(T) -> &'static str) -> Rule {
    codes(all.iter().map(|&v| (code(v), label(v))))
}

/// The UCI shop's click (e-shop clothing 2008), the fields in its file's column order.
pub static UCI: LazyLock<ClickSchema> = LazyLock::new(|| ClickSchema {
    fields: Field::ALL.into_iter().map(uci_field).collect(),
});

fn uci_field(field: Field) -> FieldSpec {
    let whole = |min, max| Rule::Whole { min, max };
    #[rustfmt::skip]
    let (name, header, role, noun, rule, description, example): (_, _, _, _, _, &str, _) = match field {
        Field::Year => ("year", "year", Role::Date, "year", whole(2000, 2100),
            "Year of the click.", Example::Whole(2008)),
        Field::Month => ("month", "month", Role::Date, "month", whole(1, 12),
            "Month of the click.", Example::Whole(4)),
        Field::Day => ("day", "day", Role::Date, "day", whole(1, 31),
            "A day that exists in its month.", Example::Whole(1)),
        Field::Order => ("order", "order", Role::Order, "", whole(1, 100_000),
            "Position of the click in the session, unique within it; clicks may come in any order.",
            Example::Whole(1)),
        Field::Country => ("country", "country", Role::Attribute, "country code",
            codes((1..).zip(COUNTRY_NAMES)), "Country of the IP address.", Example::Whole(29)),
        Field::SessionId => ("session_id", "session ID", Role::SessionId, "identifier",
            Rule::Text { max_chars: 64, pattern: None },
            "The visit the click belongs to; surrounding spaces are dropped.",
            Example::Text("s-1".into())),
        Field::Category => ("page1_main_category", "page 1 (main category)", Role::Category, "",
            of(Category::ALL, Category::code, Category::label), "Main category of the page.",
            Example::Whole(1)),
        Field::Product => ("page2_clothing_model", "page 2 (clothing model)", Role::Product,
            "product code",
            Rule::Text { max_chars: 4, pattern: Some(Pattern {
                regex: "^[ABCP][0-9]{1,3}$".into(),
                words: "one letter A, B, C or P followed by 1 to 3 digits".into(),
            }) },
            "Product code, e.g. `A13`.", Example::Text("A13".into())),
        Field::Colour => ("colour", "colour", Role::Attribute, "colour code",
            of(Colour::ALL, Colour::code, Colour::label), "Colour of the product.",
            Example::Whole(1)),
        Field::Location => ("location", "location", Role::Attribute, "photo location",
            of(Location::ALL, Location::code, Location::label),
            "Where the product photo sits on the screen, in six parts.", Example::Whole(5)),
        Field::Photography => ("model_photography", "model photography", Role::Attribute, "",
            of(Photography::ALL, Photography::code, Photography::label),
            "How the model is photographed.", Example::Whole(1)),
        Field::Price => ("price", "price", Role::Price, "price in US dollars",
            Rule::Number { above: 0.0, max: 100_000.0 }, "Price in US dollars.",
            Example::Number(28.0)),
        Field::Price2 => ("price_2", "price 2", Role::Attribute,
            "whether the price is above its category's average", codes(PRICE_2_CODES),
            "Whether the price is above the average price of its main category.",
            Example::Whole(2)),
        Field::Page => ("page", "page", Role::Attribute, "page", codes(PAGES),
            "Page of the shop.", Example::Whole(1)),
    };
    FieldSpec {
        field,
        name: name.into(),
        header: header.into(),
        role,
        noun: noun.into(),
        rule,
        condition: (field == Field::Day).then(|| "that exists in its month".into()),
        description: description.into(),
        example,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_uci_table_holds_every_typed_member_once_in_column_order() {
        let fields: Vec<Field> = UCI.fields.iter().map(|s| s.field).collect();
        assert_eq!(fields, Field::ALL);
        for field in Field::ALL {
            assert_eq!(UCI.spec(field).map(|s| s.field), Some(field));
        }
    }

    #[test]
    fn allowed_texts_come_from_the_rules() {
        let allowed = |f: Field| UCI.spec(f).map(FieldSpec::allowed).unwrap_or_default();
        assert_eq!(allowed(Field::Order), "an integer from 1 to 100000");
        assert_eq!(
            allowed(Field::Colour),
            "an integer colour code from 1 to 14"
        );
        assert_eq!(
            allowed(Field::Category),
            "1 (trousers), 2 (skirts), 3 (blouses) or 4 (sale)"
        );
        assert_eq!(
            allowed(Field::Price),
            "a price in US dollars greater than 0 and at most 100000"
        );
        assert_eq!(
            allowed(Field::Product),
            "a product code: one letter A, B, C or P followed by 1 to 3 digits, e.g. A13"
        );
        assert_eq!(
            allowed(Field::SessionId),
            "a non-empty identifier of at most 64 characters"
        );
        assert_eq!(
            allowed(Field::Day),
            "an integer day from 1 to 31 that exists in its month"
        );
    }

    #[test]
    fn every_example_is_admitted_by_its_own_rule() {
        for spec in &UCI.fields {
            let ok = match &spec.example {
                Example::Whole(v) => spec.admits_whole(*v),
                Example::Number(v) => spec.admits_number(*v),
                Example::Text(v) => spec.admits_length(v),
            };
            assert!(ok, "{}: {}", spec.name, spec.example);
        }
    }
}
