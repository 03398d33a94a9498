//! The first stages: read and label the data, split it by month, refuse data too thin to
//! judge a model on, and build the prefix features every model reads.

use super::{Steps, TrainConfig, TrainError};
use crate::dataset::PrefixSet;
use crate::features::ProductStats;
use crate::labels::{self, LabelSource, LabelledSession};
use crate::reader::{ReadOptions, ReadStats};
use serde::Serialize;

/// Progress steps of [`read`].
pub(super) const READ_STEPS: u64 = 1;
/// Progress steps of [`prepare`].
pub(super) const STEPS: u64 = 1;

/// The data file as the manifests and the report describe it.
pub(super) struct DataFile {
    pub file_name: String,
    pub sha256: String,
    pub stats: ReadStats,
    pub label_source: LabelSource,
}

pub(super) struct Labelled {
    pub file: DataFile,
    pub sessions: Vec<LabelledSession>,
}

pub(super) fn read(config: &TrainConfig, steps: &Steps) -> Result<Labelled, TrainError> {
    steps.step(format!("reading {}", config.data.display()));
    let data = labels::read_labelled(
        &config.data,
        config.outcomes.as_deref(),
        ReadOptions {
            skip_invalid: config.skip_invalid,
            max_clicks_per_session: config.max_clicks_per_session,
        },
    )?;
    Ok(Labelled {
        file: DataFile {
            file_name: data.file_name,
            sha256: data.sha256,
            stats: data.stats,
            label_source: data.source,
        },
        sessions: data.sessions,
    })
}

/// The contract's time split: the latest month validates, the months before train.
pub struct Split<'a> {
    /// (year, month) of the validation month.
    pub latest: (i32, u32),
    pub fit: Vec<&'a LabelledSession>,
    pub valid: Vec<&'a LabelledSession>,
}

pub fn split_latest_month(sessions: &[LabelledSession]) -> Split<'_> {
    let latest = sessions
        .iter()
        .map(|s| s.session.month())
        .max()
        .unwrap_or_default();
    let (valid, fit) = sessions.iter().partition(|s| s.session.month() == latest);
    Split { latest, fit, valid }
}

/// The split sessions and their prefix features.
pub(super) struct Prepared<'a> {
    pub split: Split<'a>,
    /// Every session, in file order, for the refit.
    pub all: Vec<&'a LabelledSession>,
    pub sessions: SessionCounts,
    /// Training prefixes, their product rates out of fold.
    pub fit_set: PrefixSet,
    /// Product rates of the training months, the only ones validation prefixes may see.
    pub fit_products: ProductStats,
    pub valid_set: PrefixSet,
}

pub(super) fn prepare<'a>(
    sessions: &'a [LabelledSession],
    config: &TrainConfig,
    steps: &Steps,
) -> Result<Prepared<'a>, TrainError> {
    let split = split_latest_month(sessions);
    if split.fit.is_empty() {
        let (year, month) = split.latest;
        return Err(TrainError::OneMonth(format!("{year}-{month:02}")));
    }
    let counts = SessionCounts::new(&split.fit, &split.valid);
    let min = config.min_sessions_per_class;
    for (part, pos, neg) in [
        (
            "training",
            counts.training_converting,
            counts.training_not_converting,
        ),
        (
            "validation",
            counts.validation_converting,
            counts.validation_not_converting,
        ),
    ] {
        if pos < min || neg < min {
            return Err(TrainError::TooThin(format!(
                "the {part} months hold {pos} converting and {neg} non-converting sessions; at least {min} of each are required (--min-sessions-per-class)"
            )));
        }
    }

    steps.step("computing prefix features");
    let (fit_set, fit_products) =
        PrefixSet::build_out_of_fold(&split.fit, config.folds, config.product_smoothing);
    let valid_set = PrefixSet::build(&split.valid, &fit_products);
    Ok(Prepared {
        all: sessions.iter().collect(),
        split,
        sessions: counts,
        fit_set,
        fit_products,
        valid_set,
    })
}

/// Converting and non-converting sessions of each side of the split, for the report.
#[derive(Debug, Clone, Serialize)]
pub struct SessionCounts {
    pub training_converting: usize,
    pub training_not_converting: usize,
    pub validation_converting: usize,
    pub validation_not_converting: usize,
}

impl SessionCounts {
    pub(super) fn new(fit: &[&LabelledSession], valid: &[&LabelledSession]) -> SessionCounts {
        let converting =
            |set: &[&LabelledSession]| set.iter().filter(|s| s.outcome.converted).count();
        let (fit_pos, valid_pos) = (converting(fit), converting(valid));
        SessionCounts {
            training_converting: fit_pos,
            training_not_converting: fit.len() - fit_pos,
            validation_converting: valid_pos,
            validation_not_converting: valid.len() - valid_pos,
        }
    }
}
