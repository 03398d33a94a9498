//! Choosing the conditional revenue model: each candidate is judged on the expected
//! revenue it gives with the chosen conversion model, against realised revenue.

use super::prepare::Prepared;
use super::{timed, to_json, Steps, TrainConfig, TrainError};
use crate::dataset::{self, PrefixSet};
use crate::evaluation::{self, RevenueMetrics};
use crate::ml::classifier::{BoostingParams, FitError};
use crate::ml::regressor::{Regressor, RevenuePrediction, RidgeParams};
use serde::Serialize;

/// Progress steps of [`select`].
pub(super) const STEPS: u64 = 1;

#[derive(Debug, Clone, Serialize)]
pub struct RevenueCandidate {
    pub algorithm: String,
    pub hyperparameters: serde_json::Value,
    pub fit_seconds: f64,
    pub metrics: RevenueMetrics,
}

#[derive(Debug, Clone)]
pub(super) enum RevenueSpec {
    Boosting(BoostingParams),
    Ridge(RidgeParams),
}

impl RevenueSpec {
    /// Fits revenue given conversion, so only on converting sessions' prefixes.
    pub fn fit(&self, converting: &PrefixSet) -> Result<Regressor, FitError> {
        match self {
            RevenueSpec::Boosting(p) => Regressor::fit_boosting(
                p,
                converting.features.view(),
                &converting.revenue,
                &converting.weight,
            ),
            RevenueSpec::Ridge(p) => {
                Regressor::fit_linear(p, converting.features.view(), &converting.revenue)
            }
        }
    }

    pub fn hyperparameters(&self) -> Result<serde_json::Value, TrainError> {
        let what = "the revenue hyperparameters";
        match self {
            RevenueSpec::Boosting(p) => to_json(what, p),
            RevenueSpec::Ridge(p) => to_json(what, p),
        }
    }
}

pub(super) struct RevenueChoice {
    pub spec: RevenueSpec,
    /// Index of the chosen one in `candidates`.
    pub index: usize,
    pub candidates: Vec<RevenueCandidate>,
    /// The chosen candidate's expected revenue for the validation prefixes.
    pub valid_expected: Vec<f64>,
}

impl RevenueChoice {
    pub fn chosen(&self) -> &RevenueCandidate {
        &self.candidates[self.index]
    }
}

/// The candidate with the lowest validation RMSE of expected revenue, given the chosen
/// conversion model's validation probabilities.
pub(super) fn select<S>(
    prepared: &Prepared<S>,
    valid_probabilities: &[f64],
    config: &TrainConfig,
    steps: &Steps,
) -> Result<RevenueChoice, TrainError> {
    steps.step("revenue candidates");
    let fit_converting = prepared.fit_set.converting();
    let valid_set = &prepared.valid_set;
    let mut specs = vec![
        RevenueSpec::Ridge(config.ridge.clone()),
        RevenueSpec::Boosting(config.revenue_boosting.clone()),
    ];
    let mut candidates = Vec::with_capacity(specs.len());
    let mut best: Option<(usize, f64)> = None;
    let mut expected_by_candidate = Vec::with_capacity(specs.len());
    for (i, spec) in specs.iter().enumerate() {
        let (conditional, secs) = timed(|| spec.fit(&fit_converting));
        let conditional = conditional?;
        let predictions: Vec<_> = valid_probabilities
            .iter()
            .zip(dataset::predict_widened(valid_set.features.view(), |x| {
                conditional.predict(x)
            }))
            .map(|(&probability, if_converts)| RevenuePrediction {
                expected: probability * if_converts,
                if_converts,
                probability,
            })
            .collect();
        let m = evaluation::revenue_metrics(&predictions, valid_set);
        if best.is_none_or(|b| m.rmse < b.1) {
            best = Some((i, m.rmse));
        }
        expected_by_candidate.push(predictions.iter().map(|p| p.expected).collect());
        candidates.push(RevenueCandidate {
            algorithm: conditional.algorithm().to_owned(),
            hyperparameters: spec.hyperparameters()?,
            fit_seconds: secs,
            metrics: m,
        });
    }
    let index = best.map_or(0, |b| b.0);
    Ok(RevenueChoice {
        spec: specs.swap_remove(index),
        index,
        candidates,
        valid_expected: expected_by_candidate.swap_remove(index),
    })
}
