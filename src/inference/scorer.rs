//! One scorer per model behind one trait: it picks the version (the one asked for, else the
//! canary's share, else the default or pin), scores with [`crate::scoring`] and wraps the
//! answer as it is sent. It only answers: the service records its metrics from what comes
//! back, and the `score` command records none.

use super::answer::{ConvertOutput, RevenueOutput, ScoreOutput, SegmentOutput};
use super::registry::{SelectError, Slot, Snapshot};
use crate::ml::model_file::{Loaded, ModelKind, ModelName, Reading};
use crate::scoring::{self, Rows, ScoreError, Visit};
use serde::Serialize;

/// Which version of each model answers, and whether to explain: what every scoring route's
/// query (and the `score` command's `--version`) comes down to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Selection {
    pub convert_version: Option<u32>,
    pub revenue_version: Option<u32>,
    pub segment_version: Option<u32>,
    pub explain: bool,
}

/// Why a session got no answer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Select(#[from] SelectError),
    #[error(transparent)]
    Score(#[from] ScoreError),
    /// The versions one request would be answered by read different click schemas, so
    /// its body cannot be read once for all of them.
    #[error("{0}")]
    Disagree(String),
}

pub trait Scorer: Copy + Send + Sync + 'static {
    /// The answer as sent; its default names the CSV columns ([`super::csv::columns`]).
    type Output: Serialize + Default + Send + 'static;

    /// Answers one session with the versions `snapshot` holds, extracting through the
    /// request's `rows` (which count the values no catalogue knew).
    fn score(
        self,
        snapshot: &Snapshot,
        visit: Visit,
        selection: &Selection,
        rows: &mut Rows,
    ) -> Result<Self::Output, Error>;

    /// The model versions behind an answer.
    fn versions(output: &Self::Output) -> Vec<(ModelName, u32)>;

    /// The clicks a request's sessions are read as, decided before its body is: those of
    /// the version asked for, else the default's (a canary reads the same, see
    /// [`Slot::route`]).
    fn reading(self, snapshot: &Snapshot, selection: &Selection) -> Result<Reading, Error>;
}

/// The version asked for, else the one routing sends this session to.
fn pick<'s, M: ModelKind>(
    slot: &'s Slot<M>,
    requested: Option<u32>,
    visit: Visit,
) -> Result<&'s Loaded<M>, SelectError> {
    match requested {
        Some(version) => slot.get(version),
        None => slot.route(visit.id()),
    }
}

/// The reading of the version a request names, else of the default.
fn reading_of<M: ModelKind>(slot: &Slot<M>, requested: Option<u32>) -> Result<Reading, Error> {
    let loaded = match requested {
        Some(version) => slot.get(version)?,
        None => slot.default_version()?,
    };
    Ok(loaded.reading.clone())
}

#[derive(Debug, Clone, Copy)]
pub struct Convert;

impl Scorer for Convert {
    type Output = ConvertOutput;

    fn score(
        self,
        snapshot: &Snapshot,
        visit: Visit,
        selection: &Selection,
        rows: &mut Rows,
    ) -> Result<ConvertOutput, Error> {
        self.score_with(snapshot, visit, selection, rows)
    }

    fn versions(output: &ConvertOutput) -> Vec<(ModelName, u32)> {
        vec![(ModelName::Convert, output.model_version)]
    }

    fn reading(self, snapshot: &Snapshot, selection: &Selection) -> Result<Reading, Error> {
        reading_of(&snapshot.convert, selection.convert_version)
    }
}

impl Convert {
    /// The answer, reading the feature row from (or leaving it in) the request's `rows`.
    fn score_with(
        self,
        snapshot: &Snapshot,
        visit: Visit,
        selection: &Selection,
        rows: &mut Rows,
    ) -> Result<ConvertOutput, Error> {
        let loaded = pick(&snapshot.convert, selection.convert_version, visit)?;
        Ok(ConvertOutput {
            session_id: visit.id().to_owned(),
            model: ModelName::Convert,
            model_version: loaded.manifest.version,
            answer: scoring::convert_with(loaded, visit, selection.explain, rows)?,
        })
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Revenue;

impl Scorer for Revenue {
    type Output = RevenueOutput;

    fn score(
        self,
        snapshot: &Snapshot,
        visit: Visit,
        selection: &Selection,
        rows: &mut Rows,
    ) -> Result<RevenueOutput, Error> {
        self.score_with(snapshot, visit, selection, rows)
    }

    fn versions(output: &RevenueOutput) -> Vec<(ModelName, u32)> {
        vec![(ModelName::Revenue, output.model_version)]
    }

    fn reading(self, snapshot: &Snapshot, selection: &Selection) -> Result<Reading, Error> {
        reading_of(&snapshot.revenue, selection.revenue_version)
    }
}

impl Revenue {
    /// The answer, reading the feature row from (or leaving it in) the request's `rows`.
    fn score_with(
        self,
        snapshot: &Snapshot,
        visit: Visit,
        selection: &Selection,
        rows: &mut Rows,
    ) -> Result<RevenueOutput, Error> {
        let loaded = pick(&snapshot.revenue, selection.revenue_version, visit)?;
        Ok(RevenueOutput {
            session_id: visit.id().to_owned(),
            model: ModelName::Revenue,
            model_version: loaded.manifest.version,
            answer: scoring::revenue_with(loaded, visit, rows)?,
        })
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Segment;

impl Scorer for Segment {
    type Output = SegmentOutput;

    fn score(
        self,
        snapshot: &Snapshot,
        visit: Visit,
        selection: &Selection,
        rows: &mut Rows,
    ) -> Result<SegmentOutput, Error> {
        self.score_with(snapshot, visit, selection, rows)
    }

    fn versions(output: &SegmentOutput) -> Vec<(ModelName, u32)> {
        vec![(ModelName::Segment, output.model_version)]
    }

    fn reading(self, snapshot: &Snapshot, selection: &Selection) -> Result<Reading, Error> {
        reading_of(&snapshot.segment, selection.segment_version)
    }
}

impl Segment {
    /// The answer, reading the feature row from (or leaving it in) the request's `rows`.
    fn score_with(
        self,
        snapshot: &Snapshot,
        visit: Visit,
        selection: &Selection,
        rows: &mut Rows,
    ) -> Result<SegmentOutput, Error> {
        let loaded = pick(&snapshot.segment, selection.segment_version, visit)?;
        Ok(SegmentOutput {
            session_id: visit.id().to_owned(),
            model: ModelName::Segment,
            model_version: loaded.manifest.version,
            answer: scoring::segment_with(loaded, visit, rows)?,
        })
    }
}

/// All three answers, from one snapshot.
#[derive(Debug, Clone, Copy)]
pub struct Score;

impl Scorer for Score {
    type Output = ScoreOutput;

    fn score(
        self,
        snapshot: &Snapshot,
        visit: Visit,
        selection: &Selection,
        rows: &mut Rows,
    ) -> Result<ScoreOutput, Error> {
        // One extraction for the three models when their row keys agree (see `Rows`).
        Ok(ScoreOutput {
            session_id: visit.id().to_owned(),
            convert: Convert.score_with(snapshot, visit, selection, rows)?,
            revenue: Revenue.score_with(snapshot, visit, selection, rows)?,
            segment: Segment.score_with(snapshot, visit, selection, rows)?,
        })
    }

    fn versions(output: &ScoreOutput) -> Vec<(ModelName, u32)> {
        vec![
            (ModelName::Convert, output.convert.model_version),
            (ModelName::Revenue, output.revenue.model_version),
            (ModelName::Segment, output.segment.model_version),
        ]
    }

    /// The three versions must read one schema: the body is read once.
    fn reading(self, snapshot: &Snapshot, selection: &Selection) -> Result<Reading, Error> {
        let convert = Convert.reading(snapshot, selection)?;
        for (name, other) in [
            (ModelName::Revenue, Revenue.reading(snapshot, selection)?),
            (ModelName::Segment, Segment.reading(snapshot, selection)?),
        ] {
            if !other.same_clicks(&convert) {
                return Err(Error::Disagree(format!(
                    "the convert version answering reads clicks of the schema {:?} and the {name} version answering reads {:?}: one request is read by one schema; ask each model's own route, or choose versions that agree with convert_version, revenue_version and segment_version",
                    convert.schema_name(),
                    other.schema_name()
                )));
            }
        }
        Ok(convert)
    }
}
