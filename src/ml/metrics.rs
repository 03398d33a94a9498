//! Session-weighted metrics. linfa's ROC and regression metrics take no sample weights, and
//! the contract weighs each session 1 in total, so the few formulas live here.

use serde::{Deserialize, Serialize};

/// Keeps probabilities away from 0 and 1 so log loss stays finite.
const EPS: f64 = 1e-15;

fn total(weights: &[f64]) -> f64 {
    weights.iter().sum()
}

/// Walks the scores from the highest down, one group of tied scores at a time, yielding
/// the score and the positive and negative weight of the group.
fn tie_groups<'a>(
    scores: &'a [f64],
    labels: &'a [bool],
    weights: &'a [f64],
) -> impl Iterator<Item = (f64, f64, f64)> + 'a {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut i = 0;
    std::iter::from_fn(move || {
        let first = *idx.get(i)?;
        let score = scores[first];
        let (mut pos, mut neg) = (0.0, 0.0);
        while i < idx.len() && scores[idx[i]] == score {
            if labels[idx[i]] {
                pos += weights[idx[i]];
            } else {
                neg += weights[idx[i]];
            }
            i += 1;
        }
        Some((score, pos, neg))
    })
}

/// Weighted ROC-AUC: the probability that a random positive (by weight) outscores a random
/// negative, ties counting one half. `None` when a class has no weight.
pub fn roc_auc(scores: &[f64], labels: &[bool], weights: &[f64]) -> Option<f64> {
    let (mut tp, mut fp, mut area) = (0.0, 0.0, 0.0);
    for (_, dtp, dfp) in tie_groups(scores, labels, weights) {
        // Trapezoid: a tied group is a diagonal step.
        area += dfp * (tp + dtp / 2.0);
        tp += dtp;
        fp += dfp;
    }
    (tp > 0.0 && fp > 0.0).then(|| area / (tp * fp))
}

/// The weighted ROC curve: (false positive rate, true positive rate) from (0, 0) to
/// (1, 1), one point per group of tied scores, the points [`roc_auc`] integrates. Empty
/// when a class has no weight.
pub fn roc_curve(scores: &[f64], labels: &[bool], weights: &[f64]) -> Vec<(f64, f64)> {
    let positives = positive_weight(labels, weights);
    let negatives = total(weights) - positives;
    if positives <= 0.0 || negatives <= 0.0 {
        return Vec::new();
    }
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut points = vec![(0.0, 0.0)];
    for (_, dtp, dfp) in tie_groups(scores, labels, weights) {
        tp += dtp;
        fp += dfp;
        points.push((fp / negatives, tp / positives));
    }
    points
}

/// The weighted precision-recall curve: (recall, precision) at each group of tied
/// scores, from the highest score down, the steps [`average_precision`] sums. Empty when
/// there is no positive weight.
pub fn pr_curve(scores: &[f64], labels: &[bool], weights: &[f64]) -> Vec<(f64, f64)> {
    let positives = positive_weight(labels, weights);
    if positives <= 0.0 {
        return Vec::new();
    }
    let (mut tp, mut fp) = (0.0, 0.0);
    tie_groups(scores, labels, weights)
        .map(|(_, dtp, dfp)| {
            tp += dtp;
            fp += dfp;
            (tp / positives, ratio(tp, tp + fp))
        })
        .collect()
}

/// One bin of a reliability diagram: predicted probabilities in `[lower, upper)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CalibrationBin {
    pub lower: f64,
    pub upper: f64,
    /// Weight of the predictions in the bin.
    pub weight: f64,
    /// Their weighted mean predicted probability.
    pub predicted: f64,
    /// The weighted share of them that converted.
    pub observed: f64,
}

/// Predictions grouped by probability into `bins` equal-width bins (the last one closed);
/// empty bins are left out.
pub fn calibration(
    probabilities: &[f64],
    labels: &[bool],
    weights: &[f64],
    bins: usize,
) -> Vec<CalibrationBin> {
    let bins = bins.max(1);
    let mut sums = vec![(0.0, 0.0, 0.0); bins];
    for ((&p, &y), &w) in probabilities.iter().zip(labels).zip(weights) {
        let i = ((p.clamp(0.0, 1.0) * bins as f64) as usize).min(bins - 1);
        sums[i].0 += w;
        sums[i].1 += w * p;
        sums[i].2 += if y { w } else { 0.0 };
    }
    sums.into_iter()
        .enumerate()
        .filter(|(_, (w, _, _))| *w > 0.0)
        .map(|(i, (w, wp, wy))| CalibrationBin {
            lower: i as f64 / bins as f64,
            upper: (i + 1) as f64 / bins as f64,
            weight: w,
            predicted: wp / w,
            observed: wy / w,
        })
        .collect()
}

/// Expected calibration error: the weight-averaged gap between predicted and observed in
/// each bin of [`calibration`].
pub fn expected_calibration_error(bins: &[CalibrationBin]) -> f64 {
    let weight: f64 = bins.iter().map(|b| b.weight).sum();
    if weight <= 0.0 {
        return 0.0;
    }
    bins.iter()
        .map(|b| b.weight * (b.predicted - b.observed).abs())
        .sum::<f64>()
        / weight
}

/// Weighted average precision (PR-AUC as a step function, as scikit-learn computes it).
pub fn average_precision(scores: &[f64], labels: &[bool], weights: &[f64]) -> Option<f64> {
    let positives = positive_weight(labels, weights);
    if positives <= 0.0 {
        return None;
    }
    let (mut tp, mut fp, mut ap, mut last_recall) = (0.0, 0.0, 0.0, 0.0);
    for (_, dtp, dfp) in tie_groups(scores, labels, weights) {
        tp += dtp;
        fp += dfp;
        let recall = tp / positives;
        let precision = if tp + fp > 0.0 { tp / (tp + fp) } else { 0.0 };
        ap += (recall - last_recall) * precision;
        last_recall = recall;
    }
    Some(ap)
}

pub fn log_loss(probabilities: &[f64], labels: &[bool], weights: &[f64]) -> f64 {
    let sum: f64 = probabilities
        .iter()
        .zip(labels)
        .zip(weights)
        .map(|((&p, &y), &w)| {
            let p = p.clamp(EPS, 1.0 - EPS);
            -w * if y { p.ln() } else { (1.0 - p).ln() }
        })
        .sum();
    sum / total(weights)
}

pub fn brier(probabilities: &[f64], labels: &[bool], weights: &[f64]) -> f64 {
    let sum: f64 = probabilities
        .iter()
        .zip(labels)
        .zip(weights)
        .map(|((&p, &y), &w)| w * (p - if y { 1.0 } else { 0.0 }).powi(2))
        .sum();
    sum / total(weights)
}

/// Total weight of the positive examples.
fn positive_weight(labels: &[bool], weights: &[f64]) -> f64 {
    labels
        .iter()
        .zip(weights)
        .filter(|(y, _)| **y)
        .map(|(_, w)| w)
        .sum()
}

/// Weighted fraction of positives.
pub fn base_rate(labels: &[bool], weights: &[f64]) -> f64 {
    positive_weight(labels, weights) / total(weights)
}

/// Weighted confusion matrix at a threshold (score >= threshold predicts positive).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Confusion {
    pub true_positive: f64,
    pub false_positive: f64,
    pub true_negative: f64,
    pub false_negative: f64,
}

impl Confusion {
    pub fn at(scores: &[f64], labels: &[bool], weights: &[f64], threshold: f64) -> Confusion {
        let mut c = Confusion::default();
        for ((&s, &y), &w) in scores.iter().zip(labels).zip(weights) {
            match (s >= threshold, y) {
                (true, true) => c.true_positive += w,
                (true, false) => c.false_positive += w,
                (false, false) => c.true_negative += w,
                (false, true) => c.false_negative += w,
            }
        }
        c
    }

    pub fn precision(&self) -> f64 {
        ratio(self.true_positive, self.true_positive + self.false_positive)
    }

    pub fn recall(&self) -> f64 {
        ratio(self.true_positive, self.true_positive + self.false_negative)
    }

    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        ratio(2.0 * p * r, p + r)
    }
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        0.0
    }
}

/// The threshold that maximises weighted F1, scanning every distinct score.
pub fn best_f1_threshold(scores: &[f64], labels: &[bool], weights: &[f64]) -> (f64, f64) {
    let positives = positive_weight(labels, weights);
    let (mut tp, mut fp) = (0.0, 0.0);
    let (mut best_t, mut best_f1) = (1.0, 0.0);
    for (score, dtp, dfp) in tie_groups(scores, labels, weights) {
        tp += dtp;
        fp += dfp;
        let c = Confusion {
            true_positive: tp,
            false_positive: fp,
            false_negative: positives - tp,
            true_negative: 0.0,
        };
        if c.f1() > best_f1 {
            best_f1 = c.f1();
            best_t = score;
        }
    }
    (best_t, best_f1)
}

pub fn rmse(predictions: &[f64], actual: &[f64], weights: &[f64]) -> f64 {
    let sum: f64 = predictions
        .iter()
        .zip(actual)
        .zip(weights)
        .map(|((p, a), w)| w * (p - a).powi(2))
        .sum();
    (sum / total(weights)).sqrt()
}

pub fn mae(predictions: &[f64], actual: &[f64], weights: &[f64]) -> f64 {
    let sum: f64 = predictions
        .iter()
        .zip(actual)
        .zip(weights)
        .map(|((p, a), w)| w * (p - a).abs())
        .sum();
    sum / total(weights)
}

pub fn weighted_mean(values: &[f64], weights: &[f64]) -> f64 {
    values.iter().zip(weights).map(|(v, w)| v * w).sum::<f64>() / total(weights)
}

/// Weighted quantiles of `values` at each of `levels` (fractions in 0..=1).
pub fn weighted_quantiles(values: &[f64], weights: &[f64], levels: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..values.len()).collect();
    idx.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let sum = total(weights);
    let mut out = Vec::with_capacity(levels.len());
    let mut acc = 0.0;
    let mut k = 0;
    for &level in levels {
        let target = level * sum;
        while k < idx.len() && acc + weights[idx[k]] < target {
            acc += weights[idx[k]];
            k += 1;
        }
        let i = idx[k.min(idx.len().saturating_sub(1))];
        out.push(values.get(i).copied().unwrap_or(0.0));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_counts_ties_as_one_half_and_respects_weights() {
        let scores = [0.9, 0.8, 0.8, 0.1];
        let labels = [true, true, false, false];
        let ones = [1.0; 4];
        // Pairs: (0.9 vs 0.8) win, (0.9 vs 0.1) win, (0.8 vs 0.8) half, (0.8 vs 0.1) win.
        assert_eq!(roc_auc(&scores, &labels, &ones), Some(3.5 / 4.0));
        // Doubling the tied negative's weight: 1+2+... → (2 + 1 + 1 + 1) / (2 * 3)
        let weights = [1.0, 1.0, 2.0, 1.0];
        let auc = roc_auc(&scores, &labels, &weights).expect("both classes present");
        assert!((auc - (2.0 + 1.0 + 1.0 + 1.0) / 6.0).abs() < 1e-12);
        assert_eq!(roc_auc(&scores, &[true; 4], &ones), None);
    }

    #[test]
    fn perfect_ranking_has_average_precision_one() {
        let ap = average_precision(&[0.9, 0.2, 0.1], &[true, false, false], &[1.0; 3]);
        assert_eq!(ap, Some(1.0));
    }

    #[test]
    fn f1_threshold_separates_a_separable_set() {
        let (t, f1) = best_f1_threshold(
            &[0.9, 0.7, 0.3, 0.1],
            &[true, true, false, false],
            &[1.0; 4],
        );
        assert_eq!((t, f1), (0.7, 1.0));
    }

    #[test]
    fn curves_pass_through_hand_computed_points() {
        let scores = [0.9, 0.8, 0.8, 0.1];
        let labels = [true, true, false, false];
        let ones = [1.0; 4];
        // Groups from the top: 0.9 (1 pos), 0.8 (1 pos, 1 neg), 0.1 (1 neg).
        assert_eq!(
            roc_curve(&scores, &labels, &ones),
            vec![(0.0, 0.0), (0.0, 0.5), (0.5, 1.0), (1.0, 1.0)]
        );
        assert_eq!(
            pr_curve(&scores, &labels, &ones),
            vec![(0.5, 1.0), (1.0, 2.0 / 3.0), (1.0, 0.5)]
        );
        // The area under the curve's trapezoids is roc_auc.
        let points = roc_curve(&scores, &labels, &ones);
        let area: f64 = points
            .windows(2)
            .map(|w| (w[1].0 - w[0].0) * (w[1].1 + w[0].1) / 2.0)
            .sum();
        assert_eq!(Some(area), roc_auc(&scores, &labels, &ones));
        assert!(roc_curve(&scores, &[false; 4], &ones).is_empty());
    }

    #[test]
    fn calibration_bins_and_their_error() {
        let p = [0.05, 0.15, 0.15, 0.95, 1.0];
        let y = [false, true, false, true, true];
        let w = [1.0, 1.0, 3.0, 1.0, 1.0];
        let bins = calibration(&p, &y, &w, 10);
        let expected = [
            (0.0, 1.0, 0.05, 0.0),
            (0.1, 4.0, 0.15, 0.25),
            (0.9, 2.0, 0.975, 1.0),
        ];
        assert_eq!(bins.len(), expected.len(), "{bins:?}");
        for (b, (lower, weight, predicted, observed)) in bins.iter().zip(expected) {
            let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
            assert!(
                close(b.lower, lower)
                    && close(b.weight, weight)
                    && close(b.predicted, predicted)
                    && close(b.observed, observed),
                "{b:?}"
            );
        }
        // (1 * 0.05 + 4 * 0.1 + 2 * 0.025) / 7
        let ece = expected_calibration_error(&bins);
        assert!((ece - 0.5 / 7.0).abs() < 1e-12, "{ece}");
    }

    #[test]
    fn quantiles_follow_weights() {
        let q = weighted_quantiles(&[1.0, 2.0, 3.0], &[1.0, 1.0, 2.0], &[0.0, 0.5, 1.0]);
        assert_eq!(q, vec![1.0, 2.0, 3.0]);
    }
}
