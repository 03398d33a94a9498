//! Choosing the conversion model on the validation period, in two stages.
//!
//! Stage 1 tries every imbalance treatment and algorithm, boosting with its first setting.
//! Stage 2 tries the other boosting settings with stage 1's winning treatment, and only if
//! a boosting candidate won stage 1: tuning boosting cannot help when another algorithm won.

use super::prepare::Prepared;
use super::{timed, to_json, Steps, TrainConfig, TrainError};
use crate::dataset::{self, PrefixSet};
use crate::evaluation::{self, ConvertMetrics};
use crate::features::ProductStats;
use crate::ml::classifier::{
    rebalance, BoostingParams, Classifier, ConvertModel, FitError, ForestParams, Imbalance,
    LogisticParams, Rebalanced,
};
use crate::ml::metrics;
use serde::Serialize;

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

/// A conversion configuration that can be fitted on any prefix set.
#[derive(Debug, Clone)]
pub(super) enum ConvertSpec {
    Boosting(BoostingParams, Imbalance),
    Forest(ForestParams, Imbalance),
    Logistic(LogisticParams, Imbalance),
}

#[derive(Serialize)]
struct Hyperparameters<'a, P> {
    model: &'a P,
    imbalance: Imbalance,
}

impl ConvertSpec {
    pub fn fit(
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
        r: &Rebalanced<'_>,
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

    pub fn hyperparameters(&self) -> Result<serde_json::Value, TrainError> {
        let what = "the conversion hyperparameters";
        let imbalance = self.imbalance();
        match self {
            ConvertSpec::Boosting(model, _) => to_json(what, &Hyperparameters { model, imbalance }),
            ConvertSpec::Forest(model, _) => to_json(what, &Hyperparameters { model, imbalance }),
            ConvertSpec::Logistic(model, _) => to_json(what, &Hyperparameters { model, imbalance }),
        }
    }
}

/// The candidates to try, known before any data is read.
pub(super) struct ConvertPlan {
    stage_1: Vec<ConvertSpec>,
    /// Boosting settings for stage 2; their imbalance treatment is stage 1's winner's.
    stage_2: Vec<BoostingParams>,
}

impl ConvertPlan {
    pub fn new(config: &TrainConfig) -> Result<ConvertPlan, TrainError> {
        let smote = Imbalance::Smote {
            k: config.smote_k,
            ratio: config.smote_ratio,
        };
        let (first, others) = config.boosting.split_first().ok_or(FitError::Param {
            name: "boosting",
            problem: "at least one setting is needed".into(),
        })?;
        Ok(ConvertPlan {
            stage_1: vec![
                ConvertSpec::Boosting(first.clone(), Imbalance::None),
                ConvertSpec::Boosting(first.clone(), Imbalance::ClassWeights),
                ConvertSpec::Boosting(first.clone(), smote),
                ConvertSpec::Forest(config.forest.clone(), smote),
                ConvertSpec::Logistic(config.logistic.clone(), Imbalance::None),
            ],
            stage_2: others.to_vec(),
        })
    }

    /// One step per planned candidate; a stage-2 candidate that is skipped takes its step
    /// too, saying so.
    pub fn steps(&self) -> u64 {
        (self.stage_1.len() + self.stage_2.len()) as u64
    }
}

/// The chosen conversion setting, every candidate's figures, and what the later stages
/// need from the chosen candidate's validation run.
pub(super) struct ConvertChoice {
    pub spec: ConvertSpec,
    /// Index of the chosen one in `candidates`.
    pub index: usize,
    pub candidates: Vec<ConvertCandidate>,
    /// The chosen candidate's probabilities for the validation prefixes.
    pub valid_probabilities: Vec<f64>,
    /// The first logistic regression candidate's, the baseline the report draws beside
    /// the chosen model: its name and probabilities.
    pub baseline_probabilities: Option<(String, Vec<f64>)>,
    pub roc_auc_95: Option<(f64, f64)>,
    pub threshold: f64,
}

impl ConvertChoice {
    pub fn chosen(&self) -> &ConvertCandidate {
        &self.candidates[self.index]
    }
}

pub(super) fn select<S: crate::domain::AnySession>(
    plan: &ConvertPlan,
    prepared: &Prepared<S>,
    config: &TrainConfig,
    steps: &Steps,
) -> Result<ConvertChoice, TrainError> {
    let planned = plan.steps();
    let mut search = Search::new(prepared, config.smote_seed);
    for spec in &plan.stage_1 {
        search.try_candidate(spec.clone(), planned, steps)?;
    }
    match search.boosting_winner() {
        Some(imbalance) => {
            for params in &plan.stage_2 {
                let spec = ConvertSpec::Boosting(params.clone(), imbalance);
                search.try_candidate(spec, planned, steps)?;
            }
        }
        None => {
            for (i, params) in plan.stage_2.iter().enumerate() {
                let n = plan.stage_1.len() + i + 1;
                let spec = ConvertSpec::Boosting(params.clone(), Imbalance::None);
                steps.step(format!(
                    "convert candidate {n}/{planned}: {} ({}) skipped: boosting did not win stage 1",
                    spec.algorithm(),
                    spec.summary()
                ));
            }
        }
    }
    search.choose(config)
}

struct Best {
    index: usize,
    roc_auc: f64,
    probabilities: Vec<f64>,
}

/// The candidates tried so far and the best of them.
struct Search<'p, 'a, S> {
    prepared: &'p Prepared<'a, S>,
    seed: u64,
    /// SMOTE is the slow part of a fit; its rows are made once and shared.
    rebalanced: Vec<(Imbalance, Rebalanced<'p>)>,
    specs: Vec<ConvertSpec>,
    candidates: Vec<ConvertCandidate>,
    best: Option<Best>,
    baseline: Option<(String, Vec<f64>)>,
}

impl<'p, 'a, S> Search<'p, 'a, S> {
    fn new(prepared: &'p Prepared<'a, S>, seed: u64) -> Self {
        Search {
            prepared,
            seed,
            rebalanced: Vec::new(),
            specs: Vec::new(),
            candidates: Vec::new(),
            best: None,
            baseline: None,
        }
    }

    /// The imbalance treatment of the best candidate so far, if it is a boosting one.
    fn boosting_winner(&self) -> Option<Imbalance> {
        match self.best.as_ref().map(|b| &self.specs[b.index]) {
            Some(ConvertSpec::Boosting(_, imbalance)) => Some(*imbalance),
            _ => None,
        }
    }

    fn try_candidate(
        &mut self,
        spec: ConvertSpec,
        planned: u64,
        steps: &Steps,
    ) -> Result<(), TrainError> {
        let index = self.candidates.len();
        // The settings too: two candidates of one algorithm and imbalance differ by them.
        steps.step(format!(
            "convert candidate {}/{planned}: {} ({}), imbalance {}",
            index + 1,
            spec.algorithm(),
            spec.summary(),
            spec.imbalance().label()
        ));
        let prepared = self.prepared;
        let (fit_set, valid_set) = (&prepared.fit_set, &prepared.valid_set);
        let (model, secs) = timed(|| -> Result<ConvertModel, FitError> {
            let imbalance = spec.imbalance();
            let cached = self.rebalanced.iter().position(|(i, _)| *i == imbalance);
            let at = match cached {
                Some(at) => at,
                None => {
                    let r = rebalance(
                        fit_set.features.view(),
                        &fit_set.converted,
                        &fit_set.weight,
                        imbalance,
                        self.seed,
                    )?;
                    self.rebalanced.push((imbalance, r));
                    self.rebalanced.len() - 1
                }
            };
            spec.fit_rebalanced(&self.rebalanced[at].1, &prepared.fit_products)
        });
        let model = model?;
        let p = dataset::predict_widened(valid_set.features.view(), |x| model.probabilities(x));
        let (threshold, _) =
            metrics::best_f1_threshold(&p, &valid_set.converted, &valid_set.weight);
        let m = evaluation::convert_metrics(&p, valid_set, threshold);
        let auc = m.roc_auc.unwrap_or(0.0);
        // Only calibrated candidates may ship: the service reports these probabilities.
        let calibrated = m.log_loss < m.base_rate_log_loss;
        if self.baseline.is_none() && matches!(spec, ConvertSpec::Logistic(..)) {
            let name = format!("{} ({})", model.classifier.algorithm(), spec.summary());
            self.baseline = Some((name, p.clone()));
        }
        if calibrated && self.best.as_ref().is_none_or(|b| auc > b.roc_auc) {
            self.best = Some(Best {
                index,
                roc_auc: auc,
                probabilities: p,
            });
        }
        self.candidates.push(ConvertCandidate {
            algorithm: model.classifier.algorithm().to_owned(),
            settings: spec.summary(),
            imbalance: spec.imbalance().label().to_owned(),
            hyperparameters: spec.hyperparameters()?,
            fit_seconds: secs,
            metrics: m,
        });
        self.specs.push(spec);
        Ok(())
    }

    /// The best calibrated candidate, if it clears the ROC-AUC floor.
    fn choose(self, config: &TrainConfig) -> Result<ConvertChoice, TrainError> {
        let Search {
            prepared,
            mut specs,
            candidates,
            best,
            rebalanced,
            baseline,
            ..
        } = self;
        // The rebalanced rows are the largest thing the search holds; the later stages do
        // not need them.
        drop(rebalanced);
        let Some(best) = best else {
            return Err(TrainError::Refused {
                reason:
                    "no conversion candidate has a validation log loss below the base-rate predictor's"
                        .into(),
                candidates,
            });
        };
        if best.roc_auc < config.min_roc_auc {
            return Err(TrainError::Refused {
                reason: format!(
                    "the best conversion model reaches a validation ROC-AUC of {:.4}, under the floor {} (--min-roc-auc)",
                    best.roc_auc, config.min_roc_auc
                ),
                candidates,
            });
        }
        let roc_auc_95 = evaluation::roc_auc_interval(
            &best.probabilities,
            &prepared.valid_set,
            config.auc_bootstrap_resamples,
            config.auc_bootstrap_seed,
        );
        Ok(ConvertChoice {
            spec: specs.swap_remove(best.index),
            index: best.index,
            threshold: candidates[best.index].metrics.threshold,
            candidates,
            valid_probabilities: best.probabilities,
            baseline_probabilities: baseline,
            roc_auc_95,
        })
    }
}
