//! The revenue model: P(convert) from a conversion model times the revenue expected if the
//! session converts, from a regressor fitted on converting sessions' prefixes.

use super::booster::Booster;
use super::classifier::{BoostingParams, ConvertModel, FitError};
use super::scaler::{LinearForm, Scaler};
use forust_ml::objective::ObjectiveType;
use linfa::prelude::*;
use linfa_linear::{Link, TweedieRegressor};
use ndarray::{Array1, ArrayView2};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RidgeParams {
    /// L2 penalty; the shares in the feature vector sum to one, so plain least squares
    /// would be singular.
    pub alpha: f64,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "algorithm", rename_all = "snake_case")]
pub enum Regressor {
    GradientBoosting {
        booster: Box<Booster>,
    },
    /// Ridge regression on standardised features (linfa-linear's Tweedie GLM with power 0
    /// and identity link).
    Linear(LinearForm),
}

impl Regressor {
    pub fn algorithm(&self) -> &'static str {
        match self {
            Regressor::GradientBoosting { .. } => "gradient boosting (forust-ml)",
            Regressor::Linear(_) => "ridge regression (linfa-linear)",
        }
    }

    pub fn fit_boosting(
        params: &BoostingParams,
        x: ArrayView2<f32>,
        y: &[f64],
        w: &[f64],
    ) -> Result<Regressor, FitError> {
        let mean = w.iter().sum::<f64>() / w.len().max(1) as f64;
        let w: Vec<f64> = w.iter().map(|v| v / mean).collect();
        let booster = params.fit(ObjectiveType::SquaredLoss, x, y, &w)?;
        Ok(Regressor::GradientBoosting {
            booster: Box::new(booster),
        })
    }

    /// linfa's GLM takes no sample weights, so prefixes count equally here.
    pub fn fit_linear(
        params: &RidgeParams,
        x: ArrayView2<f32>,
        y: &[f64],
    ) -> Result<Regressor, FitError> {
        let scaler = Scaler::fit(x);
        // linfa-linear fits f64: its standardised copy of the converting prefixes was an
        // f64 copy before training stored f32, so it costs the same.
        let dataset = Dataset::new(scaler.transform(x), Array1::from(y.to_vec()));
        let fitted: TweedieRegressor<f64> = TweedieRegressor::params()
            .power(0.0)
            .link(Link::Identity)
            .alpha(params.alpha)
            .max_iter(1000)
            .fit(&dataset)
            .map_err(|e| FitError::Linear(e.to_string()))?;
        Ok(Regressor::Linear(LinearForm {
            scaler,
            coefficients: fitted.coef.to_vec(),
            intercept: fitted.intercept,
        }))
    }

    /// Revenue if the session converts, never below zero.
    pub fn predict(&self, x: ArrayView2<f64>) -> Vec<f64> {
        let raw = match self {
            Regressor::GradientBoosting { booster } => booster.predict(x),
            Regressor::Linear(linear) => linear.predict(x),
        };
        raw.into_iter().map(|v| v.max(0.0)).collect()
    }
}

/// Expected revenue = P(convert) x conditional revenue. The conversion model travels inside
/// so a revenue version is self-contained, whatever convert version a deployment pins.
#[derive(Serialize, Deserialize)]
pub struct RevenueModel {
    pub probability: ConvertModel,
    pub conditional: Regressor,
}

/// One revenue answer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RevenuePrediction {
    pub expected: f64,
    pub if_converts: f64,
    pub probability: f64,
}

impl RevenueModel {
    pub fn predict(&self, x: ArrayView2<f64>) -> Vec<RevenuePrediction> {
        let p = self.probability.probabilities(x);
        let c = self.conditional.predict(x);
        p.into_iter()
            .zip(c)
            .map(|(probability, if_converts)| RevenuePrediction {
                expected: probability * if_converts,
                if_converts,
                probability,
            })
            .collect()
    }
}
