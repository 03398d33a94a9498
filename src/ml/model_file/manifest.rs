//! What a manifest says about its model: provenance, settings, validation figures, the
//! numbers the service needs beside the weights, and the golden cases.

use super::name::ModelName;
use crate::domain::catalogue::CodedClick;
use crate::domain::schema_file::SchemaRecord;
use crate::domain::RawClick;
use crate::features::FeatureSchema;
use crate::labels::LabelSource;
use crate::ml::segment::Persona;
use serde::{Deserialize, Serialize};

/// Bumped when the layout of manifest or weights changes incompatibly.
pub const FORMAT_VERSION: u32 = 1;

/// What the model was trained on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingData {
    pub file_name: String,
    pub sha256: String,
    pub clicks: u64,
    pub sessions: u64,
    /// Rows the model was fitted on (prefixes or sessions).
    pub examples: u64,
    pub label_source: LabelSource,
    /// The period the validation figures were measured on, and why it was chosen
    /// ("2008-07-01 to 2008-07-31, the latest calendar month"); absent in older files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_period: Option<String>,
}

/// Where a conversion probability falls among training sessions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreDistribution {
    /// Session-weighted quantiles of the training scores at 0%, 1%, ..., 100%.
    pub quantiles: Vec<f64>,
}

impl ScoreDistribution {
    /// Percentile (0..=100) of a score among the training scores.
    pub fn percentile(&self, score: f64) -> f64 {
        let below = self.quantiles.iter().filter(|&&q| q < score).count();
        (below.saturating_sub(1) as f64).clamp(0.0, 100.0)
    }
}

/// Probability cutoffs of the tiers: high at or above `high`, medium at or above `medium`.
///
/// The decision threshold is the medium cutoff, so a session told `will_convert` is never
/// in the low tier: the two answers cannot contradict each other. The high cutoff is the
/// larger of the threshold and the 90th percentile of training sessions' probabilities.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tiers {
    pub high: f64,
    pub medium: f64,
    pub rule: String,
}

/// The percentile of training sessions' probabilities where the high tier starts.
const HIGH_PERCENTILE: usize = 90;

impl Tiers {
    /// The tiers of a conversion model with this decision threshold and training scores.
    pub fn around_threshold(threshold: f64, distribution: &ScoreDistribution) -> Tiers {
        let p90 = distribution
            .quantiles
            .get(HIGH_PERCENTILE)
            .copied()
            .unwrap_or(threshold);
        Tiers {
            high: p90.max(threshold),
            medium: threshold,
            rule: format!(
                "low: below the decision threshold; medium: at or above the threshold, so every \
                 session with will_convert is medium or high; high: at or above the larger of \
                 the threshold and the {HIGH_PERCENTILE}th percentile of training sessions' \
                 probabilities"
            ),
        }
    }

    /// Why these tiers contradict the decision threshold, if they do.
    pub fn contradiction(&self, threshold: f64) -> Option<String> {
        if self.medium != threshold {
            Some(format!(
                "the medium tier starts at {} but the decision threshold is {threshold}: \
                 will_convert and the tier would disagree (retrain to store tiers around the \
                 threshold)",
                self.medium
            ))
        } else if self.high.is_nan() || self.high < self.medium {
            Some(format!(
                "the high tier starts at {}, below the medium tier's {}",
                self.high, self.medium
            ))
        } else {
            None
        }
    }
}

/// A stored input and the outputs this version must give for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GoldenCase {
    pub session_id: String,
    /// A UCI session's clicks, as a body sends them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clicks: Vec<RawClick>,
    /// A shop's session's clicks as its catalogue coded them: the self-test replays the
    /// extraction and the model on them (the coding is held by its own tests).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub coded: Vec<GoldenClick>,
    /// convert: [probability]; revenue: [expected, if converts]; segment: [persona, distance].
    pub expected: Vec<f64>,
}

/// A shop's coded click as a golden case stores it (the product's key is remade from its
/// id on load: keys agree within one build only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GoldenClick {
    pub date: chrono::NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<i64>,
    pub product: String,
    pub price: f64,
    pub category: String,
    pub category_price: f64,
    pub values: Vec<i64>,
}

impl From<&CodedClick> for GoldenClick {
    fn from(c: &CodedClick) -> GoldenClick {
        GoldenClick {
            date: c.date,
            time: c.time,
            product: c.product.clone(),
            price: c.price,
            category: c.category.clone(),
            category_price: c.category_price,
            values: c.values.clone(),
        }
    }
}

impl From<&GoldenClick> for CodedClick {
    fn from(c: &GoldenClick) -> CodedClick {
        CodedClick {
            date: c.date,
            time: c.time,
            product: c.product.clone(),
            product_key: crate::domain::ProductKey::of(&c.product),
            price: c.price,
            category: c.category.clone(),
            category_price: c.category_price,
            values: c.values.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format_version: u32,
    pub name: ModelName,
    pub version: u32,
    pub created_at: String,
    pub trainer_version: String,
    pub algorithm: String,
    pub hyperparameters: serde_json::Value,
    pub feature_schema: FeatureSchema,
    /// The shop's click schema the model was trained on; absent in files written before
    /// schemas were recorded, which were all trained on the UCI shop's.
    #[serde(default = "SchemaRecord::uci")]
    pub click_schema: SchemaRecord,
    /// What training learned of a shop's values (`train --schema`): absent for the UCI
    /// shop, whose values are its schema's fixed codes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalogue: Option<crate::domain::catalogue::Catalogue>,
    /// The feature plan a shop's schema was trained with, when the schema lists none and
    /// it was derived from the schema and the catalogue; absent for the UCI shop, whose
    /// schema lists its plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature_plan: Option<crate::features::FeaturePlan>,
    pub training: TrainingData,
    pub validation: serde_json::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score_distribution: Option<ScoreDistribution>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tiers: Option<Tiers>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personas: Option<Vec<Persona>>,
    pub golden: Vec<GoldenCase>,
    pub weights_file: String,
    pub weights_sha256: String,
}

/// The decision threshold of a conversion manifest that stores none.
const DEFAULT_THRESHOLD: f64 = 0.5;

impl Manifest {
    /// The probability at or above which a session is answered `will_convert`.
    pub fn decision_threshold(&self) -> f64 {
        self.threshold.unwrap_or(DEFAULT_THRESHOLD)
    }
}
