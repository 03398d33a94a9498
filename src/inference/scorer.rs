//! One scorer per model behind one trait: it picks the version (the one asked for, else the
//! canary's share, else the default or pin), scores with [`crate::scoring`] and wraps the
//! answer as it is sent. It only answers: the service records its metrics from what comes
//! back, and the `score` command records none.

use super::answer::{ConvertOutput, RevenueOutput, ScoreOutput, SegmentOutput};
use super::registry::{SelectError, Slot, Snapshot};
use crate::domain::Session;
use crate::ml::model_file::{Loaded, ModelKind, ModelName};
use crate::scoring::{self, Rows, ScoreError};
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
}

pub trait Scorer: Copy + Send + Sync + 'static {
    /// The answer as sent; its default names the CSV columns ([`super::csv::columns`]).
    type Output: Serialize + Default + Send + 'static;

    /// Answers one session with the versions `snapshot` holds.
    fn score(
        self,
        snapshot: &Snapshot,
        session: &Session,
        selection: &Selection,
    ) -> Result<Self::Output, Error>;

    /// The model versions behind an answer.
    fn versions(output: &Self::Output) -> Vec<(ModelName, u32)>;
}

/// The version asked for, else the one routing sends this session to.
fn pick<'s, M: ModelKind>(
    slot: &'s Slot<M>,
    requested: Option<u32>,
    session: &Session,
) -> Result<&'s Loaded<M>, SelectError> {
    match requested {
        Some(version) => slot.get(version),
        None => slot.route(session.id().as_str()),
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Convert;

impl Scorer for Convert {
    type Output = ConvertOutput;

    fn score(
        self,
        snapshot: &Snapshot,
        session: &Session,
        selection: &Selection,
    ) -> Result<ConvertOutput, Error> {
        self.score_with(snapshot, session, selection, &mut Rows::default())
    }

    fn versions(output: &ConvertOutput) -> Vec<(ModelName, u32)> {
        vec![(ModelName::Convert, output.model_version)]
    }
}

impl Convert {
    /// The answer, reading the feature row from (or leaving it in) the request's `rows`.
    fn score_with(
        self,
        snapshot: &Snapshot,
        session: &Session,
        selection: &Selection,
        rows: &mut Rows,
    ) -> Result<ConvertOutput, Error> {
        let loaded = pick(&snapshot.convert, selection.convert_version, session)?;
        Ok(ConvertOutput {
            session_id: session.id().as_str().to_owned(),
            model: ModelName::Convert,
            model_version: loaded.manifest.version,
            answer: scoring::convert_with(loaded, session, selection.explain, rows)?,
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
        session: &Session,
        selection: &Selection,
    ) -> Result<RevenueOutput, Error> {
        self.score_with(snapshot, session, selection, &mut Rows::default())
    }

    fn versions(output: &RevenueOutput) -> Vec<(ModelName, u32)> {
        vec![(ModelName::Revenue, output.model_version)]
    }
}

impl Revenue {
    /// The answer, reading the feature row from (or leaving it in) the request's `rows`.
    fn score_with(
        self,
        snapshot: &Snapshot,
        session: &Session,
        selection: &Selection,
        rows: &mut Rows,
    ) -> Result<RevenueOutput, Error> {
        let loaded = pick(&snapshot.revenue, selection.revenue_version, session)?;
        Ok(RevenueOutput {
            session_id: session.id().as_str().to_owned(),
            model: ModelName::Revenue,
            model_version: loaded.manifest.version,
            answer: scoring::revenue_with(loaded, session, rows)?,
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
        session: &Session,
        selection: &Selection,
    ) -> Result<SegmentOutput, Error> {
        self.score_with(snapshot, session, selection, &mut Rows::default())
    }

    fn versions(output: &SegmentOutput) -> Vec<(ModelName, u32)> {
        vec![(ModelName::Segment, output.model_version)]
    }
}

impl Segment {
    /// The answer, reading the feature row from (or leaving it in) the request's `rows`.
    fn score_with(
        self,
        snapshot: &Snapshot,
        session: &Session,
        selection: &Selection,
        rows: &mut Rows,
    ) -> Result<SegmentOutput, Error> {
        let loaded = pick(&snapshot.segment, selection.segment_version, session)?;
        Ok(SegmentOutput {
            session_id: session.id().as_str().to_owned(),
            model: ModelName::Segment,
            model_version: loaded.manifest.version,
            answer: scoring::segment_with(loaded, session, rows)?,
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
        session: &Session,
        selection: &Selection,
    ) -> Result<ScoreOutput, Error> {
        // One extraction for the three models when their row keys agree (see `Rows`).
        let rows = &mut Rows::default();
        Ok(ScoreOutput {
            session_id: session.id().as_str().to_owned(),
            convert: Convert.score_with(snapshot, session, selection, rows)?,
            revenue: Revenue.score_with(snapshot, session, selection, rows)?,
            segment: Segment.score_with(snapshot, session, selection, rows)?,
        })
    }

    fn versions(output: &ScoreOutput) -> Vec<(ModelName, u32)> {
        vec![
            (ModelName::Convert, output.convert.model_version),
            (ModelName::Revenue, output.revenue.model_version),
            (ModelName::Segment, output.segment.model_version),
        ]
    }
}
