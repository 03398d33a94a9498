//! The contract's metrics of a model on a set of prefixes. Training (the validation period) and
//! `clickstream evaluate` both report through these functions.

use crate::dataset::PrefixSet;
use crate::ml::metrics::{self, Confusion};
use crate::ml::regressor::RevenuePrediction;
use serde::{Deserialize, Serialize};

/// Prefix-length buckets of the by-length breakdown.
pub const PREFIX_BUCKETS: &[(&str, usize, usize)] = &[
    ("1", 1, 1),
    ("2-3", 2, 3),
    ("4-7", 4, 7),
    ("8+", 8, usize::MAX),
];

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BucketMetrics {
    pub prefix_length: String,
    pub prefixes: usize,
    /// Total weight of the bucket's prefixes (sessions' shares).
    pub weight: f64,
    pub roc_auc: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConvertMetrics {
    pub prefixes: usize,
    /// Sessions behind the prefixes; each weighs 1 in every figure below.
    pub sessions: usize,
    pub base_rate: f64,
    pub roc_auc: Option<f64>,
    pub pr_auc: Option<f64>,
    pub log_loss: f64,
    /// Log loss of always predicting the base rate of these same sessions.
    pub base_rate_log_loss: f64,
    pub brier: f64,
    pub threshold: f64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub confusion: Confusion,
    pub by_prefix_length: Vec<BucketMetrics>,
}

pub fn convert_metrics<F>(
    probabilities: &[f64],
    set: &PrefixSet<F>,
    threshold: f64,
) -> ConvertMetrics {
    let (y, w) = (&set.converted, &set.weight);
    let base_rate = metrics::base_rate(y, w);
    let constant = vec![base_rate; y.len()];
    let confusion = Confusion::at(probabilities, y, w, threshold);
    let by_prefix_length = PREFIX_BUCKETS
        .iter()
        .map(|&(label, lo, hi)| {
            let rows: Vec<usize> = (0..set.len())
                .filter(|&i| (lo..=hi).contains(&set.prefix_len[i]))
                .collect();
            let pick = |v: &[f64]| rows.iter().map(|&i| v[i]).collect::<Vec<_>>();
            let labels: Vec<bool> = rows.iter().map(|&i| y[i]).collect();
            let weights = pick(w);
            BucketMetrics {
                prefix_length: label.to_owned(),
                prefixes: rows.len(),
                weight: weights.iter().sum(),
                roc_auc: metrics::roc_auc(&pick(probabilities), &labels, &weights),
            }
        })
        .collect();
    ConvertMetrics {
        prefixes: set.len(),
        sessions: distinct(&set.session),
        base_rate,
        roc_auc: metrics::roc_auc(probabilities, y, w),
        pr_auc: metrics::average_precision(probabilities, y, w),
        log_loss: metrics::log_loss(probabilities, y, w),
        base_rate_log_loss: metrics::log_loss(&constant, y, w),
        brier: metrics::brier(probabilities, y, w),
        threshold,
        precision: confusion.precision(),
        recall: confusion.recall(),
        f1: confusion.f1(),
        confusion,
        by_prefix_length,
    }
}

fn distinct(ids: &[usize]) -> usize {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    ids.len()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RevenueMetrics {
    pub rmse: f64,
    pub mae: f64,
    /// RMSE of the conditional revenue on converting sessions only.
    pub rmse_if_converts: Option<f64>,
    /// The constant a model must beat: the weighted mean revenue of these same sessions
    /// (the best constant in hindsight), its RMSE and MAE.
    pub best_constant: f64,
    pub best_constant_rmse: f64,
    pub best_constant_mae: f64,
    /// 1 - rmse / best_constant_rmse.
    pub rmse_gain_over_constant: f64,
}

pub fn revenue_metrics<F>(predictions: &[RevenuePrediction], set: &PrefixSet<F>) -> RevenueMetrics {
    let expected: Vec<f64> = predictions.iter().map(|p| p.expected).collect();
    let w = &set.weight;
    let best_constant = metrics::weighted_mean(&set.revenue, w);
    let constant = vec![best_constant; set.len()];
    let converting: Vec<usize> = (0..set.len()).filter(|&i| set.converted[i]).collect();
    let rmse_if_converts = (!converting.is_empty()).then(|| {
        let pick = |f: &dyn Fn(usize) -> f64| converting.iter().map(|&i| f(i)).collect::<Vec<_>>();
        metrics::rmse(
            &pick(&|i| predictions[i].if_converts),
            &pick(&|i| set.revenue[i]),
            &pick(&|i| w[i]),
        )
    });
    let rmse = metrics::rmse(&expected, &set.revenue, w);
    let best_constant_rmse = metrics::rmse(&constant, &set.revenue, w);
    RevenueMetrics {
        rmse,
        mae: metrics::mae(&expected, &set.revenue, w),
        rmse_if_converts,
        best_constant,
        best_constant_rmse,
        best_constant_mae: metrics::mae(&constant, &set.revenue, w),
        rmse_gain_over_constant: 1.0 - rmse / best_constant_rmse,
    }
}

/// The session bootstrap behind every reported ROC-AUC interval: `train`'s default and
/// what `evaluate` uses, so a model's interval is recomputed the way it was reported.
pub const AUC_BOOTSTRAP_RESAMPLES: usize = 200;
pub const AUC_BOOTSTRAP_SEED: u64 = 2008;

/// A 95% interval for the session-weighted ROC-AUC, by resampling sessions with
/// replacement (`resamples` times, seeded): how far the figure could move on another month
/// of the same shop.
pub fn roc_auc_interval<F: Sync>(
    probabilities: &[f64],
    set: &PrefixSet<F>,
    resamples: usize,
    seed: u64,
) -> Option<(f64, f64)> {
    use rand::{Rng, SeedableRng};
    use rayon::prelude::*;
    let sessions = set.session.iter().max().map_or(0, |m| m + 1);
    if sessions == 0 || resamples == 0 {
        return None;
    }
    let mut aucs: Vec<f64> = (0..resamples)
        .into_par_iter()
        .filter_map(|r| {
            let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(
                seed ^ (r as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            );
            let mut draws = vec![0u32; sessions];
            for _ in 0..sessions {
                draws[rng.gen_range(0..sessions)] += 1;
            }
            let weights: Vec<f64> = set
                .weight
                .iter()
                .zip(&set.session)
                .map(|(w, s)| w * f64::from(draws[*s]))
                .collect();
            metrics::roc_auc(probabilities, &set.converted, &weights)
        })
        .collect();
    if aucs.is_empty() {
        return None;
    }
    aucs.sort_by(f64::total_cmp);
    let at = |q: f64| aucs[((aucs.len() - 1) as f64 * q).round() as usize];
    Some((at(0.025), at(0.975)))
}
