//! Answers for one session from loaded models: what the HTTP layer (and any other caller)
//! asks. Features come from the same module the trainer uses.

use crate::domain::Session;
use crate::features;
use crate::labels;
use crate::ml::model_file::{LoadedModel, Model};
use ndarray::Array2;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    High,
    Medium,
    Low,
}

/// One feature's push on the conversion log-odds.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Contribution {
    pub feature: String,
    pub value: f64,
    /// Positive pushes towards converting.
    pub contribution: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConvertAnswer {
    pub probability: f64,
    pub will_convert: bool,
    pub threshold: f64,
    pub percentile: f64,
    pub tier: Tier,
    pub already_converted: bool,
    pub explanation: Option<Vec<Contribution>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RevenueAnswer {
    pub expected_revenue: f64,
    pub revenue_if_converts: f64,
    pub probability: f64,
    pub already_converted: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegmentAnswer {
    pub persona_id: usize,
    pub name: String,
    pub description: String,
    pub distance: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum ScoreError {
    #[error("model {0} is not a {1} model")]
    WrongKind(String, &'static str),
    #[error("model {model} version {version} produced a non-finite output")]
    NonFinite { model: &'static str, version: u32 },
}

/// Explanations list this many features, strongest first.
const EXPLAIN_TOP: usize = 6;

fn row(session: &Session, model: &Model) -> Array2<f64> {
    Array2::from_shape_vec(
        (1, features::COUNT),
        features::extract(session.clicks(), model.products()),
    )
    .expect("extract returns COUNT values")
}

fn finite(value: f64, model: &'static str, version: u32) -> Result<f64, ScoreError> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(ScoreError::NonFinite { model, version })
    }
}

pub fn convert(
    loaded: &LoadedModel,
    session: &Session,
    explain: bool,
) -> Result<ConvertAnswer, ScoreError> {
    let Model::Convert(model) = &loaded.model else {
        return Err(ScoreError::WrongKind(
            loaded.manifest.name.to_string(),
            "convert",
        ));
    };
    let manifest = &loaded.manifest;
    let threshold = manifest.threshold.unwrap_or(0.5);
    if labels::first_basket(session.clicks()).is_some() {
        return Ok(ConvertAnswer {
            probability: 1.0,
            will_convert: true,
            threshold,
            percentile: 100.0,
            tier: Tier::High,
            already_converted: true,
            explanation: None,
        });
    }
    let x = row(session, &loaded.model);
    let p = model
        .probabilities(x.view())
        .first()
        .copied()
        .unwrap_or(f64::NAN);
    let probability = finite(p, "convert", manifest.version)?;
    let tier = match &manifest.tiers {
        Some(t) if probability >= t.high => Tier::High,
        Some(t) if probability >= t.medium => Tier::Medium,
        Some(_) => Tier::Low,
        None if probability >= threshold => Tier::High,
        None => Tier::Low,
    };
    let explanation = if explain {
        model.contributions(x.view()).map(|c| {
            let mut parts: Vec<Contribution> = c
                .into_iter()
                .enumerate()
                .map(|(i, contribution)| Contribution {
                    feature: features::NAMES[i].to_owned(),
                    value: x[[0, i]],
                    contribution,
                })
                .filter(|c| c.contribution != 0.0)
                .collect();
            parts.sort_by(|a, b| b.contribution.abs().total_cmp(&a.contribution.abs()));
            parts.truncate(EXPLAIN_TOP);
            parts
        })
    } else {
        None
    };
    Ok(ConvertAnswer {
        probability,
        will_convert: probability >= threshold,
        threshold,
        percentile: manifest
            .score_distribution
            .as_ref()
            .map_or(0.0, |d| d.percentile(probability)),
        tier,
        already_converted: false,
        explanation,
    })
}

pub fn revenue(loaded: &LoadedModel, session: &Session) -> Result<RevenueAnswer, ScoreError> {
    let Model::Revenue(model) = &loaded.model else {
        return Err(ScoreError::WrongKind(
            loaded.manifest.name.to_string(),
            "revenue",
        ));
    };
    if labels::first_basket(session.clicks()).is_some() {
        // The basket is known: its revenue is the contract's, not a forecast.
        let known = labels::proxy_outcome(session.clicks()).revenue;
        return Ok(RevenueAnswer {
            expected_revenue: known,
            revenue_if_converts: known,
            probability: 1.0,
            already_converted: true,
        });
    }
    let x = row(session, &loaded.model);
    let version = loaded.manifest.version;
    let p = model
        .predict(x.view())
        .into_iter()
        .next()
        .ok_or(ScoreError::NonFinite {
            model: "revenue",
            version,
        })?;
    Ok(RevenueAnswer {
        expected_revenue: finite(p.expected, "revenue", version)?,
        revenue_if_converts: finite(p.if_converts, "revenue", version)?,
        probability: finite(p.probability, "revenue", version)?,
        already_converted: false,
    })
}

pub fn segment(loaded: &LoadedModel, session: &Session) -> Result<SegmentAnswer, ScoreError> {
    let Model::Segment(model) = &loaded.model else {
        return Err(ScoreError::WrongKind(
            loaded.manifest.name.to_string(),
            "segment",
        ));
    };
    let x = row(session, &loaded.model);
    let version = loaded.manifest.version;
    let (id, distance) =
        model
            .assign(x.view())
            .into_iter()
            .next()
            .ok_or(ScoreError::NonFinite {
                model: "segment",
                version,
            })?;
    let persona = model.personas.get(id).ok_or(ScoreError::NonFinite {
        model: "segment",
        version,
    })?;
    Ok(SegmentAnswer {
        persona_id: id,
        name: persona.name.clone(),
        description: persona.description.clone(),
        distance: finite(distance, "segment", version)?,
    })
}
