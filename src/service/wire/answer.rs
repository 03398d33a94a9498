//! Answer bodies and their CSV form (every text cell through the formula guard).

use crate::scoring::{Contribution, Tier};
use crate::service::problem::FieldIssue;
use serde::Serialize;
use std::borrow::Cow;
use utoipa::ToSchema;

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
}
