//! `clickstream train`: read, label, split (latest month validates), choose models on
//! validation only, refit on everything, publish versioned model files and a report.

mod report;

pub use report::TrainReport;

use crate::dataset::{self, PrefixSet};
use crate::domain::Session;
use crate::evaluation::{self, ConvertMetrics, RevenueMetrics};
use crate::features::{self, ProductStats};
use crate::labels::{self, LabelSource, LabelledSession};
use crate::ml::classifier::{
    rebalance, BoostingParams, Classifier, ConvertModel, FitError, ForestParams, Imbalance,
    LogisticParams, Rebalanced,
};
use crate::ml::metrics;
use crate::ml::model_file::{
    self, GoldenCase, Manifest, Model, ModelName, ScoreDistribution, Tiers, TrainingData,
};
use crate::ml::regressor::{Regressor, RevenueModel, RidgeParams};
use crate::ml::segment::{self, KMeansParams, SegmentModel};
use crate::progress::Progress;
use crate::reader::ReadOptions;
use serde::Serialize;
use std::path::PathBuf;

/// Everything `train` can be told; [`TrainConfig::default`] holds the shipped settings.
#[derive(Debug, Clone, Serialize)]
pub struct TrainConfig {
    pub data: PathBuf,
    pub outcomes: Option<PathBuf>,
    pub models_dir: PathBuf,
    pub skip_invalid: bool,
    /// Refuse to publish unless training and validation each hold at least this many
    /// converting and this many non-converting sessions.
    pub min_sessions_per_class: usize,
    /// Refuse to publish when the chosen conversion model's validation ROC-AUC is lower.
    pub min_roc_auc: f64,
    pub boosting: Vec<BoostingParams>,
    pub revenue_boosting: BoostingParams,
    pub forest: ForestParams,
    pub logistic: LogisticParams,
    pub ridge: RidgeParams,
    pub smote_k: usize,
    pub smote_ratio: f64,
    pub kmeans: KMeansParams,
    /// Pseudo-clicks pulling each product's rates towards the overall rate.
    pub product_smoothing: f64,
    /// Folds of the out-of-fold product rates of training rows.
    pub folds: usize,
    /// Sessions stored with each model as golden self-test inputs.
    pub golden_sessions: usize,
    pub quiet: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        // Chosen with examples/tune_convert.rs on the July split; the signal is weak and
        // shallow, slow-learning, well-regularised trees generalise best.
        let boosting = BoostingParams {
            iterations: 300,
            learning_rate: 0.02,
            max_depth: 3,
            min_leaf_weight: 50.0,
            l2: 1.0,
            subsample: 0.8,
            colsample_bytree: 0.8,
            max_leaves: None,
            seed: 2008,
        };
        TrainConfig {
            data: PathBuf::new(),
            outcomes: None,
            models_dir: PathBuf::from("models"),
            skip_invalid: false,
            min_sessions_per_class: 200,
            min_roc_auc: 0.55,
            boosting: vec![
                boosting.clone(),
                BoostingParams {
                    iterations: 150,
                    learning_rate: 0.05,
                    max_depth: 4,
                    min_leaf_weight: 20.0,
                    ..boosting.clone()
                },
                BoostingParams {
                    iterations: 300,
                    learning_rate: 0.03,
                    max_depth: 3,
                    min_leaf_weight: 20.0,
                    colsample_bytree: 0.5,
                    ..boosting.clone()
                },
            ],
            revenue_boosting: BoostingParams {
                iterations: 100,
                learning_rate: 0.05,
                max_depth: 3,
                min_leaf_weight: 20.0,
                ..boosting
            },
            forest: ForestParams {
                trees: 20,
                max_depth: 6,
                bootstrap_proportion: 0.1,
                feature_proportion: 0.5,
                seed: 2008,
            },
            logistic: LogisticParams {
                alpha: 1.0,
                max_iterations: 100,
            },
            ridge: RidgeParams { alpha: 10.0 },
            smote_k: 5,
            smote_ratio: 0.5,
            kmeans: KMeansParams {
                k_min: 3,
                k_max: 8,
                runs: 3,
                max_iterations: 200,
                silhouette_sample: 3000,
                seed: 2008,
            },
            product_smoothing: 50.0,
            folds: 5,
            golden_sessions: 5,
            quiet: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Data(#[from] labels::DataError),
    #[error("the data holds only {0}: validation needs a later month than training")]
    OneMonth(String),
    #[error("not publishing: the data is too thin: {0}")]
    TooThin(String),
    #[error("not publishing: {0}")]
    BelowFloor(String),
    #[error(transparent)]
    Fit(#[from] FitError),
    #[error("writing models: {0}")]
    Write(#[from] std::io::Error),
}

/// One candidate's validation figures.
#[derive(Debug, Clone, Serialize)]
pub struct ConvertCandidate {
    pub algorithm: String,
    pub settings: String,
    pub imbalance: String,
    pub hyperparameters: serde_json::Value,
    pub fit_seconds: f64,
    pub metrics: ConvertMetrics,
}

#[derive(Debug, Clone, Serialize)]
pub struct RevenueCandidate {
    pub algorithm: String,
    pub hyperparameters: serde_json::Value,
    pub fit_seconds: f64,
    pub metrics: RevenueMetrics,
}

/// A conversion configuration that can be fitted on any prefix set.
#[derive(Debug, Clone)]
enum ConvertSpec {
    Boosting(BoostingParams, Imbalance),
    Forest(ForestParams, Imbalance),
    Logistic(LogisticParams, Imbalance),
}

impl ConvertSpec {
    fn fit(
        &self,
        set: &PrefixSet,
        products: &ProductStats,
        seed: u64,
    ) -> Result<ConvertModel, FitError> {
        let r = rebalance(
            set.features.view(),
            &set.converted,
            &set.weight,
            self.imbalance(),
            seed,
        )?;
        self.fit_rebalanced(&r, products)
    }

    fn fit_rebalanced(
        &self,
        r: &Rebalanced,
        products: &ProductStats,
    ) -> Result<ConvertModel, FitError> {
        let classifier = match self {
            ConvertSpec::Boosting(p, _) => Classifier::fit_boosting(p, r.x.view(), &r.y, &r.w)?,
            ConvertSpec::Forest(p, _) => Classifier::fit_forest(p, r.x.view(), &r.y)?,
            ConvertSpec::Logistic(p, _) => Classifier::fit_logistic(p, r.x.view(), &r.y)?,
        };
        Ok(ConvertModel {
            classifier,
            log_odds_shift: r.log_odds_shift,
            products: products.clone(),
        })
    }

    /// The settings that tell candidates apart, in a few words for the report.
    fn summary(&self) -> String {
        match self {
            ConvertSpec::Boosting(p, _) => format!(
                "{} trees, depth {}, rate {}, min leaf {}, columns {}",
                p.iterations, p.max_depth, p.learning_rate, p.min_leaf_weight, p.colsample_bytree
            ),
            ConvertSpec::Forest(p, _) => format!(
                "{} trees, depth {}, {} of rows",
                p.trees, p.max_depth, p.bootstrap_proportion
            ),
            ConvertSpec::Logistic(p, _) => format!("L2 {}", p.alpha),
        }
    }

    fn algorithm(&self) -> &'static str {
        match self {
            ConvertSpec::Boosting(..) => "gradient boosting",
            ConvertSpec::Forest(..) => "random forest",
            ConvertSpec::Logistic(..) => "logistic regression",
        }
    }

    fn imbalance(&self) -> Imbalance {
        match self {
            ConvertSpec::Boosting(_, i)
            | ConvertSpec::Forest(_, i)
            | ConvertSpec::Logistic(_, i) => *i,
        }
    }

    fn hyperparameters(&self) -> serde_json::Value {
        let params = match self {
            ConvertSpec::Boosting(p, _) => serde_json::to_value(p),
            ConvertSpec::Forest(p, _) => serde_json::to_value(p),
            ConvertSpec::Logistic(p, _) => serde_json::to_value(p),
        };
        serde_json::json!({
            "model": params.unwrap_or_default(),
            "imbalance": self.imbalance(),
        })
    }
}

#[derive(Debug, Clone)]
enum RevenueSpec {
    Boosting(BoostingParams),
    Ridge(RidgeParams),
}

impl RevenueSpec {
    fn fit(&self, converting: &PrefixSet) -> Result<Regressor, FitError> {
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

    fn hyperparameters(&self) -> serde_json::Value {
        match self {
            RevenueSpec::Boosting(p) => serde_json::to_value(p),
            RevenueSpec::Ridge(p) => serde_json::to_value(p),
        }
        .unwrap_or_default()
    }
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let start = std::time::Instant::now();
    let out = f();
    (out, start.elapsed().as_secs_f64())
}

fn count_classes(sessions: &[&LabelledSession]) -> (usize, usize) {
    let converting = sessions.iter().filter(|s| s.outcome.converted).count();
    (converting, sessions.len() - converting)
}

/// Feature importance of a fitted classifier, as (name, share of the total), largest first.
fn top_features(classifier: &Classifier, n: usize) -> Vec<(String, f64)> {
    let mut scores: Vec<(String, f64)> = match classifier {
        Classifier::GradientBoosting { booster } => booster
            .calculate_feature_importance(
                forust_ml::gradientbooster::ImportanceMethod::TotalGain,
                true,
            )
            .into_iter()
            .filter_map(|(i, v)| Some((features::NAMES.get(i)?.to_string(), f64::from(v))))
            .collect(),
        Classifier::Logistic(linear) => {
            let total: f64 = linear.coefficients.iter().map(|c| c.abs()).sum();
            features::NAMES
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

/// Golden inputs: validation sessions spread over the range of lengths, so the
/// self-test covers short and long prefixes.
fn golden_sessions<'a>(sessions: &[&'a LabelledSession], count: usize) -> Vec<&'a Session> {
    let mut by_len: Vec<&LabelledSession> = sessions.to_vec();
    by_len.sort_by_key(|s| (s.session.clicks().len(), s.session.id().clone()));
    let n = by_len.len();
    if n == 0 || count == 0 {
        return Vec::new();
    }
    let picks: std::collections::BTreeSet<usize> = (0..count)
        .map(|i| {
            if count == 1 {
                n / 2
            } else {
                i * (n - 1) / (count - 1)
            }
        })
        .collect();
    picks.into_iter().map(|i| &by_len[i].session).collect()
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

pub fn train(config: &TrainConfig) -> Result<TrainReport, TrainError> {
    // Nine fixed steps, plus one per conversion candidate: four that are not boosting
    // settings' own, and one per boosting setting.
    let steps = 9 + 4 + config.boosting.len() as u64;
    let progress = Progress::new(steps, config.quiet);
    progress.step(format!("reading {}", config.data.display()));
    let data = labels::read_labelled(
        &config.data,
        config.outcomes.as_deref(),
        ReadOptions {
            skip_invalid: config.skip_invalid,
        },
    )?;
    let (file_name, sha256, read_stats) = (data.file_name, data.sha256, data.stats);
    let (sessions, label_source) = (data.sessions, data.source);
    let Split { latest, fit, valid } = split_latest_month(&sessions);
    let all: Vec<&LabelledSession> = sessions.iter().collect();
    if fit.is_empty() {
        return Err(TrainError::OneMonth(format!(
            "{}-{:02}",
            latest.0, latest.1
        )));
    }
    for (part, set) in [("training", &fit), ("validation", &valid)] {
        let (pos, neg) = count_classes(set);
        let min = config.min_sessions_per_class;
        if pos < min || neg < min {
            return Err(TrainError::TooThin(format!(
                "the {part} months hold {pos} converting and {neg} non-converting sessions; at least {min} of each are required (--min-sessions-per-class)"
            )));
        }
    }

    progress.step("computing prefix features");
    let (fit_set, fit_products) =
        PrefixSet::build_out_of_fold(&fit, config.folds, config.product_smoothing);
    let valid_set = PrefixSet::build(&valid, &fit_products);

    // Stage 1: the imbalance treatments and algorithms with the first boosting settings.
    // Stage 2: the other boosting settings with the winning treatment, if boosting won.
    let smote = Imbalance::Smote {
        k: config.smote_k,
        ratio: config.smote_ratio,
    };
    let (first_boosting, other_boosting) =
        config
            .boosting
            .split_first()
            .ok_or_else(|| FitError::Param {
                name: "boosting",
                problem: "at least one setting is needed".into(),
            })?;
    let mut specs = vec![
        ConvertSpec::Boosting(first_boosting.clone(), Imbalance::None),
        ConvertSpec::Boosting(first_boosting.clone(), Imbalance::ClassWeights),
        ConvertSpec::Boosting(first_boosting.clone(), smote),
        ConvertSpec::Forest(config.forest.clone(), smote),
        ConvertSpec::Logistic(config.logistic.clone(), Imbalance::None),
    ];
    let planned = specs.len() + other_boosting.len();
    let mut convert_candidates = Vec::new();
    let mut rebalanced: Vec<(Imbalance, Rebalanced)> = Vec::new();
    let mut best: Option<(usize, f64, Vec<f64>)> = None;
    let mut i = 0;
    while i < specs.len() {
        let spec = specs[i].clone();
        progress.step(format!(
            "convert candidate {}/{planned}: {}, {}",
            i + 1,
            spec.algorithm(),
            spec.imbalance().label()
        ));
        // SMOTE is the slow part of a fit; its rows are made once and shared.
        let (model, secs) = timed(|| -> Result<ConvertModel, FitError> {
            let cached = rebalanced
                .iter()
                .position(|(imb, _)| *imb == spec.imbalance());
            let index = match cached {
                Some(index) => index,
                None => {
                    let r = rebalance(
                        fit_set.features.view(),
                        &fit_set.converted,
                        &fit_set.weight,
                        spec.imbalance(),
                        config.kmeans.seed,
                    )?;
                    rebalanced.push((spec.imbalance(), r));
                    rebalanced.len() - 1
                }
            };
            spec.fit_rebalanced(&rebalanced[index].1, &fit_products)
        });
        let model = model?;
        let p = model.probabilities(valid_set.features.view());
        let (threshold, _) =
            metrics::best_f1_threshold(&p, &valid_set.converted, &valid_set.weight);
        let m = evaluation::convert_metrics(&p, &valid_set, threshold);
        let auc = m.roc_auc.unwrap_or(0.0);
        // Only calibrated candidates may ship: the service reports these probabilities.
        let calibrated = m.log_loss < m.base_rate_log_loss;
        if calibrated && best.as_ref().is_none_or(|b| auc > b.1) {
            best = Some((i, auc, p));
        }
        convert_candidates.push(ConvertCandidate {
            algorithm: model.classifier.algorithm().to_owned(),
            settings: spec.summary(),
            imbalance: spec.imbalance().label().to_owned(),
            hyperparameters: spec.hyperparameters(),
            fit_seconds: secs,
            metrics: m,
        });
        i += 1;
        if i == 5 {
            if let Some(ConvertSpec::Boosting(_, winner)) = best.as_ref().map(|b| &specs[b.0]) {
                let winner = *winner;
                specs.extend(
                    other_boosting
                        .iter()
                        .map(|p| ConvertSpec::Boosting(p.clone(), winner)),
                );
            }
        }
    }
    drop(rebalanced);
    let Some((best_index, best_auc, best_valid_p)) = best else {
        return Err(TrainError::BelowFloor(
            "no conversion candidate has a validation log loss below the base-rate predictor's"
                .into(),
        ));
    };
    if best_auc < config.min_roc_auc {
        return Err(TrainError::BelowFloor(format!(
            "the best conversion model reaches a validation ROC-AUC of {best_auc:.4}, under the floor {} (--min-roc-auc)",
            config.min_roc_auc
        )));
    }
    let convert_spec = specs[best_index].clone();
    let chosen_roc_auc_95 = evaluation::roc_auc_interval(&best_valid_p, &valid_set, 200, 2008);
    let threshold = convert_candidates[best_index].metrics.threshold;

    progress.step("revenue candidates");
    let fit_converting = fit_set.converting();
    let revenue_specs = [
        RevenueSpec::Ridge(config.ridge.clone()),
        RevenueSpec::Boosting(config.revenue_boosting.clone()),
    ];
    let mut revenue_candidates = Vec::new();
    let mut best_revenue: Option<(usize, f64)> = None;
    for (i, spec) in revenue_specs.iter().enumerate() {
        let (conditional, secs) = timed(|| spec.fit(&fit_converting));
        let conditional = conditional?;
        let c = conditional.predict(valid_set.features.view());
        let predictions: Vec<_> = best_valid_p
            .iter()
            .zip(c)
            .map(
                |(&probability, if_converts)| crate::ml::regressor::RevenuePrediction {
                    expected: probability * if_converts,
                    if_converts,
                    probability,
                },
            )
            .collect();
        let m = evaluation::revenue_metrics(&predictions, &valid_set);
        if best_revenue.is_none_or(|b| m.rmse < b.1) {
            best_revenue = Some((i, m.rmse));
        }
        revenue_candidates.push(RevenueCandidate {
            algorithm: conditional.algorithm().to_owned(),
            hyperparameters: spec.hyperparameters(),
            fit_seconds: secs,
            metrics: m,
        });
    }
    let revenue_index = best_revenue.map_or(0, |b| b.0);

    progress.step("choosing k for segments");
    let fit_full = dataset::full_sessions(&fit);
    let k_choice = segment::choose_k(fit_full.view(), &config.kmeans)?;
    let train_silhouette = k_choice
        .silhouette_by_k
        .iter()
        .find(|(k, _)| *k == k_choice.k)
        .map_or(0.0, |(_, s)| *s);

    progress.step("refitting conversion on all months");
    let (all_set, all_products) =
        PrefixSet::build_out_of_fold(&all, config.folds, config.product_smoothing);
    let convert = convert_spec.fit(&all_set, &all_products, config.kmeans.seed)?;
    let all_p = convert.probabilities(all_set.features.view());
    let distribution = ScoreDistribution {
        quantiles: metrics::weighted_quantiles(
            &all_p,
            &all_set.weight,
            &(0..=100).map(|i| f64::from(i) / 100.0).collect::<Vec<_>>(),
        ),
    };
    let tiers = Tiers {
        high: distribution.quantiles[90],
        medium: distribution.quantiles[60],
        rule: "high: at or above the 90th percentile of training sessions' probabilities; medium: at or above the 60th; low: below".into(),
    };

    progress.step("refitting revenue on all months");
    let conditional = revenue_specs[revenue_index].fit(&all_set.converting())?;
    let revenue = RevenueModel {
        probability: copy_of(&convert)?,
        conditional,
    };

    progress.step("fitting segments on all sessions");
    let all_full = dataset::full_sessions(&all);
    let (segments, all_silhouette) =
        SegmentModel::fit(all_full.view(), k_choice.k, &config.kmeans)?;

    progress.step("publishing model files");
    let golden = golden_sessions(&valid, config.golden_sessions);
    let training = |examples: usize| TrainingData {
        file_name: file_name.clone(),
        sha256: sha256.clone(),
        clicks: read_stats.clicks,
        sessions: read_stats.sessions,
        examples: examples as u64,
        label_source: label_source.clone(),
    };
    let convert_top = top_features(&convert.classifier, 15);
    let chosen_convert = &convert_candidates[best_index];
    let chosen_revenue = &revenue_candidates[revenue_index];
    let manifest = |name: ModelName,
                    algorithm: String,
                    hyperparameters: serde_json::Value,
                    examples: usize,
                    validation: serde_json::Value,
                    golden: Vec<GoldenCase>| Manifest {
        format_version: model_file::FORMAT_VERSION,
        name,
        version: 0,
        created_at: chrono::Utc::now().to_rfc3339(),
        trainer_version: env!("CARGO_PKG_VERSION").to_owned(),
        algorithm,
        hyperparameters,
        feature_schema: features::schema(),
        training: training(examples),
        validation,
        threshold: None,
        score_distribution: None,
        tiers: None,
        personas: None,
        golden,
        weights_file: String::new(),
        weights_sha256: String::new(),
    };
    let convert_model = Model::Convert(convert);
    let revenue_model = Model::Revenue(revenue);
    let segment_model = Model::Segment(segments.clone());
    let mut convert_manifest = manifest(
        ModelName::Convert,
        chosen_convert.algorithm.clone(),
        chosen_convert.hyperparameters.clone(),
        all_set.len(),
        serde_json::to_value(&chosen_convert.metrics).unwrap_or_default(),
        convert_model.golden_cases(&golden),
    );
    convert_manifest.threshold = Some(threshold);
    convert_manifest.score_distribution = Some(ScoreDistribution {
        quantiles: distribution.quantiles.clone(),
    });
    convert_manifest.tiers = Some(tiers);
    let revenue_manifest = manifest(
        ModelName::Revenue,
        format!(
            "P(convert) from {} x conditional revenue from {}",
            chosen_convert.algorithm, chosen_revenue.algorithm
        ),
        serde_json::json!({
            "convert": chosen_convert.hyperparameters,
            "conditional": chosen_revenue.hyperparameters,
        }),
        all_set.len(),
        serde_json::to_value(&chosen_revenue.metrics).unwrap_or_default(),
        revenue_model.golden_cases(&golden),
    );
    let mut segment_manifest = manifest(
        ModelName::Segment,
        "k-means (linfa-clustering)".into(),
        serde_json::json!({ "k": k_choice.k, "kmeans": config.kmeans, "features": segment::SEGMENT_FEATURES }),
        all.len(),
        serde_json::json!({
            "silhouette_training_months": train_silhouette,
            "silhouette_all_months": all_silhouette,
            "silhouette_by_k": k_choice.silhouette_by_k,
        }),
        segment_model.golden_cases(&golden),
    );
    segment_manifest.personas = Some(segments.personas.clone());

    let mut published = Vec::new();
    for (manifest, model) in [
        (convert_manifest, &convert_model),
        (revenue_manifest, &revenue_model),
        (segment_manifest, &segment_model),
    ] {
        let (version, dir) = model_file::publish(&config.models_dir, manifest, model)?;
        published.push((model.name(), version, dir));
    }
    progress.step("writing report");
    let report = TrainReport {
        data_file: file_name,
        data_sha256: sha256,
        read: read_stats,
        label_source,
        training_months: months(&fit),
        validation_month: format!("{}-{:02}", latest.0, latest.1),
        sessions: count_sessions(&fit, &valid),
        prefixes: (fit_set.len(), valid_set.len()),
        convert_candidates,
        chosen_convert: best_index,
        chosen_roc_auc_95,
        threshold,
        top_features: convert_top,
        revenue_candidates,
        chosen_revenue: revenue_index,
        k_choice,
        silhouette_training: train_silhouette,
        silhouette_all: all_silhouette,
        personas: segments.personas,
        published: published
            .iter()
            .map(|(n, v, d)| (n.to_string(), *v, d.display().to_string()))
            .collect(),
        seconds: progress.elapsed(),
    };
    report.write(&config.models_dir)?;
    progress.finish();
    Ok(report)
}

/// forust's booster has no `Clone`; a JSON round trip is exact (float_roundtrip) and
/// doubles as a check that the model survives its own file format.
fn copy_of(model: &ConvertModel) -> Result<ConvertModel, TrainError> {
    let text = serde_json::to_string(model).map_err(std::io::Error::other)?;
    Ok(serde_json::from_str(&text).map_err(std::io::Error::other)?)
}

fn months(sessions: &[&LabelledSession]) -> Vec<String> {
    let mut m: Vec<(i32, u32)> = sessions.iter().map(|s| s.session.month()).collect();
    m.sort_unstable();
    m.dedup();
    m.into_iter().map(|(y, m)| format!("{y}-{m:02}")).collect()
}

fn count_sessions(fit: &[&LabelledSession], valid: &[&LabelledSession]) -> report::SessionCounts {
    let (fit_pos, fit_neg) = count_classes(fit);
    let (valid_pos, valid_neg) = count_classes(valid);
    report::SessionCounts {
        training_converting: fit_pos,
        training_not_converting: fit_neg,
        validation_converting: valid_pos,
        validation_not_converting: valid_neg,
    }
}

/// Label source in words, for reports.
pub fn describe_source(source: &LabelSource) -> String {
    match source {
        LabelSource::BasketProxy => "basket proxy (ml-contract.md)".into(),
        LabelSource::OutcomesFile { file_name, .. } => format!("outcomes file {file_name}"),
    }
}
