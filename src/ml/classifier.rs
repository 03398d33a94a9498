//! The conversion classifiers and how they are fitted. Every classifier yields log-odds;
//! [`ConvertModel`] adds the prior correction that undoes the rebalancing (class weights or
//! SMOTE shift the odds by a known factor) so probabilities stay calibrated.

use super::booster::Booster;
use super::scaler::{LinearForm, Scaler};
use super::smote;
use crate::dataset::Element;
use forust_ml::objective::ObjectiveType;
use forust_ml::{GradientBooster, Matrix};
use linfa::prelude::*;
use linfa_trees::DecisionTree;
use ndarray::{s, Array1, Array2, ArrayView2, Axis, CowArray, Ix2};
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

/// forust's matrices are column-major `f64`: a copy in any case, so it is made straight
/// from training's `f32` rows as from the service's `f64` ones.
pub(crate) fn column_major<F: Element>(x: ArrayView2<F>) -> Vec<f64> {
    x.t().iter().map(|&v| v.into()).collect()
}

pub(crate) fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

fn logit(p: f64) -> f64 {
    (p / (1.0 - p)).ln()
}

#[derive(Debug, thiserror::Error)]
pub enum FitError {
    #[error("gradient boosting: {0}")]
    Boosting(String),
    #[error("logistic regression: {0}")]
    Logistic(String),
    #[error("random forest: {0}")]
    Forest(String),
    #[error("linear regression: {0}")]
    Linear(String),
    #[error("k-means: {0}")]
    KMeans(String),
    #[error(transparent)]
    Smote(#[from] smote::SmoteError),
    #[error("invalid hyperparameter {name}: {problem}")]
    Param { name: &'static str, problem: String },
}

/// How the rare positive class is handled in training.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Imbalance {
    /// Train on the data as it is.
    None,
    /// Scale positive weights so both classes weigh the same.
    ClassWeights,
    /// Add synthetic positives until they number `ratio` times the negatives.
    Smote { k: usize, ratio: f64 },
}

impl Imbalance {
    pub fn label(&self) -> &'static str {
        match self {
            Imbalance::None => "none",
            Imbalance::ClassWeights => "class weights",
            Imbalance::Smote { .. } => "SMOTE",
        }
    }
}

/// Training rows after rebalancing, with the log-odds shift that undoes it. Without SMOTE
/// the rows are the training set's own, borrowed: no treatment copies them.
pub struct Rebalanced<'a> {
    pub x: CowArray<'a, f32, Ix2>,
    pub y: Vec<bool>,
    pub w: Vec<f64>,
    pub log_odds_shift: f64,
}

fn class_weight_sums(y: &[bool], w: &[f64]) -> (f64, f64) {
    y.iter().zip(w).fold(
        (0.0, 0.0),
        |(p, n), (&yi, &wi)| {
            if yi {
                (p + wi, n)
            } else {
                (p, n + wi)
            }
        },
    )
}

/// Applies `imbalance` and rescales weights to mean 1 (so leaf-weight limits mean the
/// same whatever the weighting).
pub fn rebalance<'a>(
    x: ArrayView2<'a, f32>,
    y: &[bool],
    w: &[f64],
    imbalance: Imbalance,
    seed: u64,
) -> Result<Rebalanced<'a>, FitError> {
    let (pos, neg) = class_weight_sums(y, w);
    let (x, y, mut w, shift) = match imbalance {
        Imbalance::None => (CowArray::from(x), y.to_vec(), w.to_vec(), 0.0),
        Imbalance::ClassWeights => {
            let factor = neg / pos;
            let w = y
                .iter()
                .zip(w)
                .map(|(&yi, &wi)| if yi { wi * factor } else { wi })
                .collect();
            (CowArray::from(x), y.to_vec(), w, -factor.ln())
        }
        Imbalance::Smote { k, ratio } => {
            if !(ratio > 0.0 && ratio <= 1.0) {
                return Err(FitError::Param {
                    name: "smote.ratio",
                    problem: format!("{ratio} is not in (0, 1]"),
                });
            }
            let positives: Vec<usize> = (0..y.len()).filter(|&i| y[i]).collect();
            let negatives = y.len() - positives.len();
            let wanted = (ratio * negatives as f64).round() as usize;
            let count = wanted.saturating_sub(positives.len());
            // Neighbours are found, and new rows drawn, on standardised rows (a transient
            // f64 copy of the positives); the rows are stored back in feature units, so
            // the trees split on the real scale.
            let scaler = Scaler::fit(x);
            let scaled = scaler.transform(x.select(Axis(0), &positives).view());
            let synthetic = smote::oversample(scaled.view(), count, k, seed)?;
            let n = x.nrows();
            let mut x_all = Array2::zeros((n + count, x.ncols()));
            x_all.slice_mut(s![..n, ..]).assign(&x);
            for (made, row) in synthetic
                .iter()
                .zip(x_all.slice_mut(s![n.., ..]).rows_mut())
            {
                made.write(scaled.view(), &scaler, row);
            }
            let mut y_all = y.to_vec();
            y_all.extend(std::iter::repeat_n(true, count));
            let mut w_all = w.to_vec();
            w_all.extend(synthetic.iter().map(|made| w[positives[made.base]]));
            let (pos_after, _) = class_weight_sums(&y_all, &w_all);
            (CowArray::from(x_all), y_all, w_all, -(pos_after / pos).ln())
        }
    };
    let mean = w.iter().sum::<f64>() / w.len().max(1) as f64;
    w.iter_mut().for_each(|v| *v /= mean);
    Ok(Rebalanced {
        x,
        y,
        w,
        log_odds_shift: shift,
    })
}

/// Gradient-boosting hyperparameters (forust-ml), used for both objectives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoostingParams {
    pub iterations: usize,
    pub learning_rate: f32,
    pub max_depth: usize,
    pub min_leaf_weight: f32,
    pub l2: f32,
    pub subsample: f32,
    pub colsample_bytree: f64,
    /// Grow leaf-wise up to this many leaves (within `max_depth`) instead of level by level.
    #[serde(default)]
    pub max_leaves: Option<usize>,
    pub seed: u64,
}

impl BoostingParams {
    pub fn check(&self) -> Result<(), FitError> {
        let bad = |name, problem: String| Err(FitError::Param { name, problem });
        if self.iterations == 0 {
            return bad("iterations", "must be at least 1".into());
        }
        if !(self.learning_rate > 0.0 && self.learning_rate <= 1.0) {
            return bad(
                "learning_rate",
                format!("{} is not in (0, 1]", self.learning_rate),
            );
        }
        if self.max_depth == 0 {
            return bad("max_depth", "must be at least 1".into());
        }
        if !(self.subsample > 0.0 && self.subsample <= 1.0) {
            return bad("subsample", format!("{} is not in (0, 1]", self.subsample));
        }
        Ok(())
    }

    /// Fits on training's `f32` rows; the booster routes the service's `f64` rows as their
    /// `f32` roundings were routed here ([`Booster::fitted_on_f32`]).
    pub fn fit(
        &self,
        objective: ObjectiveType,
        x: ArrayView2<f32>,
        y: &[f64],
        w: &[f64],
    ) -> Result<Booster, FitError> {
        self.check()?;
        let err = |e: forust_ml::errors::ForustError| FitError::Boosting(e.to_string());
        let mut booster = GradientBooster::default()
            .set_objective_type(objective)
            .set_iterations(self.iterations)
            .set_learning_rate(self.learning_rate)
            .set_max_depth(self.max_depth)
            .set_min_leaf_weight(self.min_leaf_weight)
            .set_l2(self.l2)
            .set_subsample(self.subsample)
            .set_colsample_bytree(self.colsample_bytree)
            .set_seed(self.seed)
            .set_parallel(true);
        // forust ignores `subsample` unless a sampling method is chosen.
        if self.subsample < 1.0 {
            booster = booster.set_sample_method(forust_ml::sampler::SampleMethod::Random);
        }
        if let Some(leaves) = self.max_leaves {
            booster = booster.set_max_leaves(leaves);
            booster.grow_policy = forust_ml::gradientbooster::GrowPolicy::LossGuide;
        }
        let data = column_major(x);
        let matrix = Matrix::new(&data, x.nrows(), x.ncols());
        booster.fit(&matrix, y, w, None).map_err(err)?;
        Ok(Booster::fitted_on_f32(booster))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogisticParams {
    pub alpha: f64,
    pub max_iterations: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForestParams {
    pub trees: usize,
    pub max_depth: usize,
    pub bootstrap_proportion: f64,
    pub feature_proportion: f64,
    pub seed: u64,
}

/// A fitted classifier, as stored in a model file.
#[derive(Serialize, Deserialize)]
#[serde(tag = "algorithm", rename_all = "snake_case")]
pub enum Classifier {
    GradientBoosting {
        booster: Box<Booster>,
    },
    /// Coefficients on standardised features, oriented so that positive means "converts".
    Logistic(LinearForm),
    /// Trees of a linfa random forest with the feature subset each one saw; the score is
    /// the smoothed share of trees voting "converts".
    RandomForest {
        trees: Vec<DecisionTree<f64, bool>>,
        features: Vec<Vec<usize>>,
    },
}

impl Classifier {
    /// Feature importance, as (name, share of the total), largest first: total split
    /// gain for gradient boosting, the absolute coefficient for logistic regression;
    /// none for a random forest, whose trees do not report it.
    pub fn top_features(&self, names: &[String], n: usize) -> Vec<(String, f64)> {
        let mut scores: Vec<(String, f64)> = match self {
            Classifier::GradientBoosting { booster } => booster
                .calculate_feature_importance(
                    forust_ml::gradientbooster::ImportanceMethod::TotalGain,
                    true,
                )
                .into_iter()
                .filter_map(|(i, v)| Some((names.get(i)?.to_string(), f64::from(v))))
                .collect(),
            Classifier::Logistic(linear) => {
                let total: f64 = linear.coefficients.iter().map(|c| c.abs()).sum();
                names
                    .iter()
                    .zip(&linear.coefficients)
                    .map(|(n, c)| (n.to_string(), c.abs() / total))
                    .collect()
            }
            Classifier::RandomForest { .. } => Vec::new(),
        };
        scores.sort_by(|a, b| b.1.total_cmp(&a.1));
        scores.truncate(n);
        scores
    }

    pub fn algorithm(&self) -> &'static str {
        match self {
            Classifier::GradientBoosting { .. } => "gradient boosting (forust-ml)",
            Classifier::Logistic(_) => "logistic regression (linfa-logistic)",
            Classifier::RandomForest { .. } => "random forest (linfa-trees)",
        }
    }

    pub fn fit_boosting(
        params: &BoostingParams,
        x: ArrayView2<f32>,
        y: &[bool],
        w: &[f64],
    ) -> Result<Classifier, FitError> {
        let targets: Vec<f64> = y.iter().map(|&b| if b { 1.0 } else { 0.0 }).collect();
        let booster = params.fit(ObjectiveType::LogLoss, x, &targets, w)?;
        Ok(Classifier::GradientBoosting {
            booster: Box::new(booster),
        })
    }

    /// linfa-logistic takes no sample weights, so rows count equally here.
    pub fn fit_logistic(
        params: &LogisticParams,
        x: ArrayView2<f32>,
        y: &[bool],
    ) -> Result<Classifier, FitError> {
        let scaler = Scaler::fit(x);
        // linfa-logistic fits f64: the standardised copy it reads (rows x features x 8
        // bytes while the fit lasts) was a copy with f64 rows too, so f32 storage costs it
        // nothing.
        let scaled = scaler.transform(x);
        let dataset = Dataset::new(scaled, Array1::from(y.to_vec()));
        let fitted = linfa_logistic::LogisticRegression::default()
            .alpha(params.alpha)
            .max_iterations(params.max_iterations)
            .fit(&dataset)
            .map_err(|e| FitError::Logistic(e.to_string()))?;
        // linfa makes the more frequent class "positive"; orient towards `true`.
        let sign = if fitted.labels().pos.class { 1.0 } else { -1.0 };
        Ok(Classifier::Logistic(LinearForm {
            scaler,
            coefficients: fitted.params().iter().map(|c| sign * c).collect(),
            intercept: sign * fitted.intercept(),
        }))
    }

    /// Bagged linfa trees: each tree fits a bootstrap of the rows (linfa's, with replacement)
    /// seeing a random subset of the features. Rebalancing for the forest is done with SMOTE
    /// (rows), not weights.
    ///
    /// The trees are fitted here, not by linfa-ensemble, for one reason: a linfa leaf whose
    /// classes weigh the same picks its class in the iteration order of a `std` hash map,
    /// which is seeded anew in every process, so the same data and seed gave another
    /// forest on every run (leaves of a few rows tie often). Each row weighs 1 plus a jitter
    /// under 2^-12 drawn from the seed, so that two classes of as many rows weigh apart and
    /// the heavier wins, the same on every run. The jitters of a leaf sum to under one row
    /// below 4,096 rows (and, drawn evenly for both classes, differ by one row on average
    /// only near 10^8), so no majority of rows is overturned. The ensemble's bootstrap keeps
    /// no weights, so the loop is written here over linfa's own bootstrap (the draws are
    /// the ones linfa-ensemble made from the same seed).
    pub fn fit_forest(
        params: &ForestParams,
        x: ArrayView2<f32>,
        y: &[bool],
    ) -> Result<Classifier, FitError> {
        use rand::Rng;
        // linfa's trees fit and are stored as f64 (the model file's format): the dataset
        // they own (rows x features x 8 bytes while the forest fits) was a copy with f64
        // rows too. Their splits are midpoints between training values, so an f64 value
        // that rounds to a training value falls on its side (short of an exact tie halfway
        // between two neighbouring f32s).
        let dataset = Dataset::new(x.mapv(f64::from), Array1::from(y.to_vec()));
        let mut jitter_rng = Xoshiro256PlusPlus::seed_from_u64(params.seed ^ 0x6a17_7e25);
        let jitter: Vec<f32> = (0..dataset.nsamples())
            .map(|_| 1.0 + jitter_rng.gen::<f32>() / 4096.0)
            .collect();
        let rows = (dataset.nsamples() as f64 * params.bootstrap_proportion).ceil() as usize;
        let columns = (dataset.nfeatures() as f64 * params.feature_proportion).ceil() as usize;
        let tree = DecisionTree::params().max_depth(Some(params.max_depth));
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(params.seed);
        let mut trees = Vec::with_capacity(params.trees);
        let mut features = Vec::with_capacity(params.trees);
        for (sample, drawn, columns) in dataset
            .bootstrap_with_indices((rows, columns), &mut rng)
            .take(params.trees)
        {
            // A row drawn twice weighs its jitter twice, as it counts twice unweighted.
            let weights = drawn.iter().map(|&i| jitter[i]).collect();
            let sample = sample.with_weights(weights);
            trees.push(
                tree.fit(&sample)
                    .map_err(|e| FitError::Forest(e.to_string()))?,
            );
            features.push(columns);
        }
        Ok(Classifier::RandomForest { trees, features })
    }

    /// Log-odds of converting, one per row.
    pub fn log_odds(&self, x: ArrayView2<f64>) -> Vec<f64> {
        match self {
            Classifier::GradientBoosting { booster } => booster.predict(x),
            Classifier::Logistic(linear) => linear.predict(x),
            Classifier::RandomForest { trees, features } => {
                let mut votes = vec![0.0; x.nrows()];
                for (tree, cols) in trees.iter().zip(features) {
                    let sub = x.select(Axis(1), cols);
                    for (v, p) in votes.iter_mut().zip(tree.predict(&sub).iter()) {
                        if *p {
                            *v += 1.0;
                        }
                    }
                }
                let n = trees.len() as f64;
                votes.iter().map(|v| logit((v + 0.5) / (n + 1.0))).collect()
            }
        }
    }
}

/// The shipped conversion model: a classifier, the shift that undoes rebalancing, and the
/// product table its features were computed with.
#[derive(Serialize, Deserialize)]
pub struct ConvertModel {
    pub classifier: Classifier,
    pub log_odds_shift: f64,
    pub products: crate::features::ProductStats,
}

impl ConvertModel {
    pub fn probabilities(&self, x: ArrayView2<f64>) -> Vec<f64> {
        self.classifier
            .log_odds(x)
            .into_iter()
            .map(|z| sigmoid(z + self.log_odds_shift))
            .collect()
    }
}

/// Fills in `Array2` from row slices (for one-off scoring).
pub fn rows_to_array(rows: &[Vec<f64>], width: usize) -> Array2<f64> {
    let mut out = Array2::zeros((rows.len(), width));
    for (mut dst, src) in out.axis_iter_mut(Axis(0)).zip(rows) {
        dst.assign(&ndarray::ArrayView1::from(src.as_slice()));
    }
    out
}

impl ConvertModel {
    /// Each feature's push on the log-odds of one row (path contributions for boosted
    /// trees, coefficient x standardised value for logistic regression). `None` for the
    /// forest, whose votes do not split into per-feature parts.
    pub fn contributions(&self, row: ArrayView2<f64>) -> Option<Vec<f64>> {
        match &self.classifier {
            Classifier::GradientBoosting { booster } => {
                let data = column_major(row);
                let matrix = Matrix::new(&data, row.nrows(), row.ncols());
                let mut all = booster.predict_contributions(
                    &matrix,
                    forust_ml::gradientbooster::ContributionsMethod::Average,
                    false,
                );
                // The last column is the bias.
                all.truncate(row.ncols());
                Some(all)
            }
            Classifier::Logistic(linear) => {
                let z = linear.scaler.transform_row(row.row(0));
                Some(
                    z.iter()
                        .zip(&linear.coefficients)
                        .map(|(a, b)| a * b)
                        .collect(),
                )
            }
            Classifier::RandomForest { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forest_is_the_same_forest_on_every_fit_of_the_same_rows_and_seed() {
        // Few distinct rows, each as often converting as not: bootstraps leave many leaves
        // whose classes weigh the same, which linfa settled differently on every fit.
        let cells = 8;
        let x = Array2::from_shape_fn((cells * 40, 2), |(i, j)| ((i % cells) * (j + 1)) as f32);
        let y: Vec<bool> = (0..cells * 40).map(|i| (i / cells) % 2 == 0).collect();
        let params = ForestParams {
            trees: 40,
            max_depth: 3,
            bootstrap_proportion: 0.5,
            feature_proportion: 1.0,
            seed: 2008,
        };
        let grid = Array2::from_shape_fn((cells, 2), |(i, j)| (i * (j + 1)) as f64);
        let scores = || {
            Classifier::fit_forest(&params, x.view(), &y)
                .expect("fits")
                .log_odds(grid.view())
        };
        let first = scores();
        for _ in 0..5 {
            assert_eq!(scores(), first);
        }
    }
}
