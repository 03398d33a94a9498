//! Batch answer bodies. The answers themselves, their CSV form and the formula guard are
//! the model side's ([`crate::inference::answer`], [`crate::inference::csv`]): the `score`
//! command writes them too.

pub use crate::inference::answer::{ConvertOutput, RevenueOutput, ScoreOutput, SegmentOutput};
pub use crate::inference::csv::{guard_formula, CsvRecord, FormulaGuard};
use crate::service::problem::FieldIssue;
use serde::Serialize;
use utoipa::ToSchema;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inference::answer::JsonResults;
    use crate::ml::model_file::ModelName;

    #[test]
    fn the_streamed_json_of_the_score_command_is_the_batch_routes_answer() {
        let answer = || SegmentOutput {
            session_id: "s-1".into(),
            model: ModelName::Segment,
            model_version: 2,
            ..SegmentOutput::default()
        };
        let mut streamed = JsonResults::start(Vec::new()).expect("in memory");
        streamed.push(&answer()).expect("in memory");
        streamed.push(&answer()).expect("in memory");
        let streamed = streamed.finish().expect("in memory");
        let batch = BatchOutput {
            results: vec![answer(), answer()],
            errors: None,
        };
        assert_eq!(
            String::from_utf8(streamed).expect("UTF-8"),
            serde_json::to_string(&batch).expect("JSON")
        );
    }
}
