//! The answers as they are sent: each model's answer (from [`crate::scoring`], where its
//! fields are defined once) embedded under the session and the version that answered. The
//! JSON answer is their serde form, the CSV row the same serialisation walked flat
//! ([`super::csv`]), and the OpenAPI schema their `ToSchema` (the embedded answer shows as
//! `allOf`). The `score` command writes these same types.

use crate::ml::model_file::ModelName;
use crate::scoring::{ConvertAnswer, RevenueAnswer, SegmentAnswer};
use serde::Serialize;
use std::io::{self, Write};
use utoipa::ToSchema;

/// The conversion answer for one session.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"session_id": "s-1001", "model": "convert", "model_version": 1, "probability": 0.21, "will_convert": true, "threshold": 0.16, "percentile": 83.0, "tier": "medium", "already_converted": false}))]
pub struct ConvertOutput {
    pub session_id: String,
    #[schema(value_type = String)]
    pub model: ModelName,
    pub model_version: u32,
    #[serde(flatten)]
    pub answer: ConvertAnswer,
}

/// The revenue answer for one session.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"session_id": "s-1001", "model": "revenue", "model_version": 1, "expected_revenue": 9.4, "revenue_if_converts": 44.8, "probability": 0.21, "already_converted": false}))]
pub struct RevenueOutput {
    pub session_id: String,
    #[schema(value_type = String)]
    pub model: ModelName,
    pub model_version: u32,
    #[serde(flatten)]
    pub answer: RevenueAnswer,
}

/// The persona of one session.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"session_id": "s-1001", "model": "segment", "model_version": 1, "persona_id": 2, "name": "Bargain hunters", "description": "About 3 clicks a visit at $37 on average, 85% sale items, 54% above their category's average price, reaching page 2.5.", "distance": 0.8}))]
pub struct SegmentOutput {
    pub session_id: String,
    #[schema(value_type = String)]
    pub model: ModelName,
    pub model_version: u32,
    #[serde(flatten)]
    pub answer: SegmentAnswer,
}

/// All three answers for one session.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct ScoreOutput {
    pub session_id: String,
    pub convert: ConvertOutput,
    pub revenue: RevenueOutput,
    pub segment: SegmentOutput,
}

/// A shop's JSON session's own members (`{"session_id": ..., <passthrough values>,
/// "clicks": [...]}`, the service's bodies).
pub const SESSION_ID: &str = "session_id";
pub const CLICKS: &str = "clicks";

/// The last column of a CSV batch answered with `on_error=skip`: why a session was refused.
pub const ERROR_COLUMN: &str = "error";

/// Why a shop's passthrough column cannot be named `name`, if it cannot: a JSON session's
/// own members, and the columns of every flat answer (CSV, Parquet), which the passthrough
/// columns follow in the same row, compared without case as DuckDB and Spark compare
/// column names. Training refuses such a schema, so no answer written from its models has
/// two columns of one name.
pub fn passthrough_clash(name: &str) -> Option<String> {
    let same = |taken: &str| taken.eq_ignore_ascii_case(name);
    if let Some(member) = [SESSION_ID, CLICKS].into_iter().find(|m| same(m)) {
        return Some(format!("{member:?} is a member of every JSON session"));
    }
    let flat = [
        super::csv::columns::<ConvertOutput>(),
        super::csv::columns::<RevenueOutput>(),
        super::csv::columns::<SegmentOutput>(),
        super::csv::columns::<ScoreOutput>(),
    ];
    flat.into_iter()
        .flatten()
        .flatten()
        .chain([ERROR_COLUMN.to_owned()])
        .find(|column| same(column))
        .map(|column| {
            format!("{column:?} is a column of the answers' CSV and Parquet rows, which passthrough columns follow")
        })
}

// The defaults are what the CSV columns are read from ([`super::csv::columns`]); only the
// model differs from a derived one.
impl Default for ConvertOutput {
    fn default() -> Self {
        ConvertOutput {
            session_id: String::new(),
            model: ModelName::Convert,
            model_version: 0,
            answer: ConvertAnswer::default(),
        }
    }
}

impl Default for RevenueOutput {
    fn default() -> Self {
        RevenueOutput {
            session_id: String::new(),
            model: ModelName::Revenue,
            model_version: 0,
            answer: RevenueAnswer::default(),
        }
    }
}

impl Default for SegmentOutput {
    fn default() -> Self {
        SegmentOutput {
            session_id: String::new(),
            model: ModelName::Segment,
            model_version: 0,
            answer: SegmentAnswer::default(),
        }
    }
}

/// A session's passthrough values under their columns' names, as its answer carries them
/// back (a shop's schema declares them; the UCI shop has none): a JSON object, or CSV
/// columns after the answer's.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Passthrough(pub Vec<(String, String)>);

impl Passthrough {
    /// The values of a session under the names of the columns they came from.
    pub fn of(names: &[String], values: &[String]) -> Passthrough {
        Passthrough(names.iter().cloned().zip(values.iter().cloned()).collect())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for Passthrough {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

/// An answer with its session's passthrough values: `{...the answer..., "passthrough":
/// {"customer_id": "C-17"}}`; without any, the answer as it is.
#[derive(Debug, Serialize)]
pub struct Passed<T> {
    #[serde(flatten)]
    pub answer: T,
    #[serde(skip_serializing_if = "Passthrough::is_empty")]
    pub passthrough: Passthrough,
}

/// How answers are written: the batch routes' two media types, and the `score` command's
/// own two forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The CSV answer of the batch routes (`Accept: text/csv`).
    Csv,
    /// The JSON answer of the batch routes: `{"results":[...]}`.
    Json,
    /// One JSON answer per line.
    Jsonl,
    /// The CSV answer's columns as typed Parquet columns (`score` only; builds with the
    /// `parquet` feature).
    Parquet,
}

impl Format {
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Csv => "text/csv",
            Format::Jsonl => "application/jsonl",
            Format::Parquet => "application/vnd.apache.parquet",
        }
    }
}

/// A batch's JSON answer, `{"results":[...]}`, written as its answers come: the `score`
/// command streams a file of any size through it. The batch routes serialise their
/// `BatchOutput` (which adds the left-out sessions); a test of theirs holds the two to
/// the same bytes.
pub struct JsonResults<W: Write> {
    out: W,
    written: u64,
}

impl<W: Write> JsonResults<W> {
    pub fn start(mut out: W) -> io::Result<JsonResults<W>> {
        out.write_all(b"{\"results\":[")?;
        Ok(JsonResults { out, written: 0 })
    }

    pub fn push<T: Serialize>(&mut self, answer: &T) -> io::Result<()> {
        if self.written > 0 {
            self.out.write_all(b",")?;
        }
        serde_json::to_writer(&mut self.out, answer)?;
        self.written += 1;
        Ok(())
    }

    /// Closes the document; the writer, to flush.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.write_all(b"]}")?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::super::csv;

    #[test]
    fn a_passthrough_column_may_not_take_an_answer_column_or_a_session_member_in_any_case() {
        use super::passthrough_clash;
        for free in ["customer_id", "campaign", "model_versions", "session"] {
            assert_eq!(passthrough_clash(free), None, "{free}");
        }
        let flat = csv::columns::<super::ScoreOutput>().expect("flat");
        // `session_id` is both, and said as the session's member.
        let answer_only = flat
            .iter()
            .map(String::as_str)
            .filter(|c| *c != "session_id");
        for taken in answer_only.chain(["probability", "ERROR"]) {
            let why = passthrough_clash(taken).unwrap_or_default();
            assert!(why.contains("a column of the answers"), "{taken}: {why}");
        }
        for member in ["clicks", "Session_ID"] {
            let why = passthrough_clash(member).unwrap_or_default();
            assert!(
                why.contains("a member of every JSON session"),
                "{member}: {why}"
            );
        }
    }
    use super::*;
    use crate::scoring::{Contribution, Tier};

    /// A JSON value as far as its field names go, in the order they were written (a
    /// `serde_json::Value` sorts them).
    enum Node {
        Object(Vec<(String, Node)>),
        Leaf,
    }

    impl<'de> serde::Deserialize<'de> for Node {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Node, D::Error> {
            struct Visit;
            impl<'de> serde::de::Visitor<'de> for Visit {
                type Value = Node;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("any JSON value")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut map: A,
                ) -> Result<Node, A::Error> {
                    let mut fields = Vec::new();
                    while let Some((k, v)) = map.next_entry::<String, Node>()? {
                        fields.push((k, v));
                    }
                    Ok(Node::Object(fields))
                }
                fn visit_seq<A: serde::de::SeqAccess<'de>>(
                    self,
                    mut seq: A,
                ) -> Result<Node, A::Error> {
                    while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                    Ok(Node::Leaf)
                }
                fn visit_bool<E>(self, _: bool) -> Result<Node, E> {
                    Ok(Node::Leaf)
                }
                fn visit_i64<E>(self, _: i64) -> Result<Node, E> {
                    Ok(Node::Leaf)
                }
                fn visit_u64<E>(self, _: u64) -> Result<Node, E> {
                    Ok(Node::Leaf)
                }
                fn visit_f64<E>(self, _: f64) -> Result<Node, E> {
                    Ok(Node::Leaf)
                }
                fn visit_str<E>(self, _: &str) -> Result<Node, E> {
                    Ok(Node::Leaf)
                }
                fn visit_unit<E>(self) -> Result<Node, E> {
                    Ok(Node::Leaf)
                }
            }
            d.deserialize_any(Visit)
        }
    }

    /// The names of the JSON object's fields, in order, nested objects dotted (and their
    /// own `session_id` left to the row's), as the CSV header must read.
    fn json_names(node: &Node, prefix: &str, out: &mut Vec<String>) {
        let Node::Object(fields) = node else {
            return;
        };
        for (key, value) in fields {
            match value {
                Node::Object(_) => json_names(value, &format!("{key}."), out),
                Node::Leaf if !prefix.is_empty() && key == "session_id" => {}
                Node::Leaf => out.push(format!("{prefix}{key}")),
            }
        }
    }

    fn same_names<T: Serialize + Default>(answer: &T) {
        let json = serde_json::to_string(answer).expect("an answer serialises");
        let node: Node = serde_json::from_str(&json).expect("JSON");
        let mut names = Vec::new();
        json_names(&node, "", &mut names);
        assert_eq!(csv::columns::<T>().expect("a flat answer"), names);
    }

    fn convert() -> ConvertOutput {
        ConvertOutput {
            session_id: "=s-1".into(),
            model: ModelName::Convert,
            model_version: 3,
            answer: ConvertAnswer {
                probability: 0.25,
                will_convert: true,
                threshold: 0.125,
                percentile: 80.0,
                tier: Tier::Medium,
                already_converted: false,
                explanation: None,
            },
        }
    }

    fn score() -> ScoreOutput {
        ScoreOutput {
            session_id: "=s-1".into(),
            convert: convert(),
            revenue: RevenueOutput {
                session_id: "=s-1".into(),
                model: ModelName::Revenue,
                model_version: 2,
                answer: RevenueAnswer {
                    expected_revenue: 1e-7,
                    revenue_if_converts: 44.0,
                    probability: 0.5,
                    already_converted: true,
                },
            },
            segment: SegmentOutput {
                session_id: "=s-1".into(),
                model: ModelName::Segment,
                model_version: 1,
                answer: SegmentAnswer {
                    persona_id: 2,
                    name: "-Bargain hunters".into(),
                    description: "a, \"quoted\" one".into(),
                    distance: 1.0,
                },
            },
        }
    }

    #[test]
    fn the_csv_columns_of_each_answer_are_its_json_fields_in_order() {
        same_names(&convert());
        same_names(&score());
        same_names(&score().revenue);
        same_names(&score().segment);
        assert_eq!(
            csv::columns::<ConvertOutput>().expect("flat"),
            [
                "session_id",
                "model",
                "model_version",
                "probability",
                "will_convert",
                "threshold",
                "percentile",
                "tier",
                "already_converted"
            ]
        );
    }

    #[test]
    fn a_csv_row_is_the_json_answer_flat_with_text_guarded() {
        let mut record = csv::CsvRecord::new(csv::FormulaGuard::On);
        csv::row(&score(), &mut record).expect("flat");
        let cells: Vec<String> = record.into_inner().iter().map(str::to_owned).collect();
        assert_eq!(
            cells,
            [
                "'=s-1",
                "convert",
                "3",
                "0.25",
                "true",
                "0.125",
                "80.0",
                "medium",
                "false",
                "revenue",
                "2",
                "1e-7",
                "44.0",
                "0.5",
                "true",
                "segment",
                "1",
                "2",
                "'-Bargain hunters",
                "a, \"quoted\" one",
                "1.0"
            ]
        );
        assert_eq!(
            cells.len(),
            csv::columns::<ScoreOutput>().expect("flat").len()
        );
    }

    #[test]
    fn an_explanation_has_no_csv_form() {
        let mut explained = convert();
        explained.answer.explanation = Some(vec![Contribution {
            feature: "clicks".into(),
            value: 1.0,
            contribution: 0.5,
        }]);
        let mut record = csv::CsvRecord::new(csv::FormulaGuard::On);
        assert!(csv::row(&explained, &mut record).is_err());
    }

    #[test]
    fn the_model_field_is_spelt_as_the_model_names_are() {
        for name in ModelName::ALL {
            assert_eq!(
                serde_json::to_value(name).expect("JSON"),
                serde_json::Value::from(name.as_str())
            );
        }
    }

    #[test]
    fn streamed_results_are_the_batch_shape() {
        let mut out = JsonResults::start(Vec::new()).expect("in memory");
        out.push(&convert()).expect("in memory");
        out.push(&convert()).expect("in memory");
        let bytes = out.finish().expect("in memory");
        let expected = serde_json::json!({ "results": [convert(), convert()] });
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&bytes).expect("JSON"),
            expected
        );
    }
}
