//! Refitting the chosen settings on every month: the shipped models learn from all the
//! data, and nothing is chosen here.

use super::prepare::Prepared;
use super::{Selection, Steps, TrainConfig, TrainError};
use crate::dataset::{self, PrefixSet};
use crate::ml::classifier::ConvertModel;
use crate::ml::metrics;
use crate::ml::model_file::{ScoreDistribution, Tiers};
use crate::ml::regressor::RevenueModel;
use crate::ml::segment::{Persona, SegmentModel};

/// Progress steps of [`refit`].
pub(super) const STEPS: u64 = 3;

/// Features shown in the report, of the shipped conversion model.
const TOP_FEATURES: usize = 15;

pub(super) struct Refitted {
    pub models: RefitModels,
    pub summary: RefitSummary,
}

pub(super) struct RefitModels {
    pub convert: ConvertModel,
    pub revenue: RevenueModel,
    pub segments: SegmentModel,
}

/// What the manifests and the report say about the refitted models.
pub(super) struct RefitSummary {
    /// Prefixes the conversion and revenue models were fitted on.
    pub prefixes: usize,
    /// Sessions the segment model was fitted on.
    pub sessions: usize,
    pub distribution: ScoreDistribution,
    pub tiers: Tiers,
    pub top_features: Vec<(String, f64)>,
    pub silhouette_all: f64,
    pub personas: Vec<Persona>,
}

pub(super) fn refit<S: crate::domain::AnySession>(
    prepared: &Prepared<S>,
    selection: &Selection,
    config: &TrainConfig,
    steps: &Steps,
) -> Result<Refitted, TrainError>
where
    S::Click: crate::features::ClickValues,
{
    steps.step("refitting conversion on all months");
    let all = &prepared.all;
    let census = prepared.census.map(|c| c.all_products());
    let (all_set, all_products) = PrefixSet::build_out_of_fold(
        prepared.plan,
        all,
        config.folds,
        config.session_hash(),
        census.as_ref(),
        config.product_smoothing,
    );
    let convert = selection
        .convert
        .spec
        .fit(&all_set, &all_products, config.smote_seed)?;
    let scores = dataset::predict_widened(all_set.features.view(), |x| convert.probabilities(x));
    let distribution = score_distribution(&scores, &all_set);
    let tiers = Tiers::around_threshold(selection.convert.threshold, &distribution);

    steps.step("refitting revenue on all months");
    let conditional = selection.revenue.spec.fit(&all_set.converting())?;
    let revenue = RevenueModel {
        probability: copy_of(&convert)?,
        conditional,
    };

    steps.step("fitting segments on all sessions");
    let all_full = dataset::full_sessions::<f32, _>(prepared.plan, all);
    let (segments, silhouette_all) = SegmentModel::fit(
        all_full.view(),
        crate::ml::segment::segment_features(prepared.plan),
        selection.segments.k_choice.k,
        &config.kmeans,
        &prepared.shop.money.sign,
    )?;

    Ok(Refitted {
        summary: RefitSummary {
            prefixes: all_set.len(),
            sessions: all.len(),
            distribution,
            tiers,
            top_features: convert
                .classifier
                .top_features(prepared.plan.names(), TOP_FEATURES),
            silhouette_all,
            personas: segments.personas.clone(),
        },
        models: RefitModels {
            convert,
            revenue,
            segments,
        },
    })
}

/// Session-weighted quantiles of the training scores at 0%, 1%, ..., 100%: 101 of them,
/// so percentile `p` is `quantiles[p]`.
pub(super) fn score_distribution(scores: &[f64], set: &PrefixSet) -> ScoreDistribution {
    let levels: Vec<f64> = (0..=100).map(|i| f64::from(i) / 100.0).collect();
    ScoreDistribution {
        quantiles: metrics::weighted_quantiles(scores, &set.weight, &levels),
    }
}

/// forust's booster has no `Clone`; a JSON round trip of the classifier is exact
/// (float_roundtrip) and doubles as a check that it survives its own file format. The
/// product table is shared, not copied: a shop's holds millions of products.
fn copy_of(model: &ConvertModel) -> Result<ConvertModel, TrainError> {
    let text =
        serde_json::to_string(&model.classifier).map_err(|source| TrainError::Serialise {
            what: "the conversion model for the revenue model's copy",
            source,
        })?;
    let classifier = serde_json::from_str(&text).map_err(|source| TrainError::Serialise {
        what: "the conversion model's copy (it did not read back)",
        source,
    })?;
    Ok(ConvertModel {
        classifier,
        log_odds_shift: model.log_odds_shift,
        products: model.products.clone(),
    })
}
