//! Answers for one session from loaded models: what the HTTP layer (and any other caller)
//! asks. Features come from the same module the trainer uses.

use crate::domain::catalogue::{CodedSession, Unseen};
use crate::domain::shop::ShopSession;
use crate::domain::{AnyClick, Session};
use crate::features::RowKey;
use crate::labels::{self, Outcome};
use crate::ml::classifier::ConvertModel;
use crate::ml::model_file::{Loaded, Manifest, ModelKind, ModelName, Reading, ShopReading};
use crate::ml::regressor::RevenueModel;
use crate::ml::segment::SegmentModel;
use serde::Serialize;

// Spelt by serde (`rename_all`) only: the JSON answer, the OpenAPI schema, the CSV cell
// and the metric label all take that spelling.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    High,
    Medium,
    #[default]
    Low,
}

impl Tier {
    /// Every tier, in the order of their discriminants (a tier indexes arrays by `as usize`).
    pub const ALL: [Tier; 3] = [Tier::High, Tier::Medium, Tier::Low];
}

/// One feature's push on the conversion log-odds.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Contribution {
    pub feature: String,
    pub value: f64,
    /// Positive pushes towards converting.
    pub contribution: f64,
}

// The answers below are the one definition of each answer's fields: the JSON answer embeds
// them (`#[serde(flatten)]` in `inference::answer`), and its CSV columns, its OpenAPI schema
// and the `score` command's output are derived from them. A new field is one line here plus
// what the compiler then points at (the constructors in this file). `Default` is what the
// CSV columns are read from, so a field's type needs one.

/// The conversion answer for one session.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ConvertAnswer {
    /// P(the session converts | the clicks so far).
    pub probability: f64,
    /// `probability >= threshold`.
    pub will_convert: bool,
    /// Decision threshold chosen on validation data (best F1).
    pub threshold: f64,
    /// Where the probability falls among training sessions, 0-100.
    pub percentile: f64,
    pub tier: Tier,
    /// The clicks already hold a basket event: the session has converted.
    pub already_converted: bool,
    /// With `?explain=true`: the features that pushed the score most, either way.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<Vec<Contribution>>,
}

/// The revenue answer for one session.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RevenueAnswer {
    /// P(convert) x revenue if it converts, US dollars.
    pub expected_revenue: f64,
    pub revenue_if_converts: f64,
    pub probability: f64,
    /// The basket is known; the revenue is the basket's.
    pub already_converted: bool,
}

/// The persona of one session.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SegmentAnswer {
    pub persona_id: usize,
    pub name: String,
    pub description: String,
    /// Distance to the persona's centroid, in standard deviations.
    pub distance: f64,
}

/// Why a loaded model could not answer. Loading checks what it can (kinds, personas,
/// golden cases), so these mean a model file that passed its checks misbehaves on this
/// input: an internal error, never an answer.
#[derive(Debug, thiserror::Error)]
pub enum ScoreError {
    #[error("{model} version {version} produced a non-finite {output}")]
    NonFinite {
        model: ModelName,
        version: u32,
        output: &'static str,
    },
    #[error("{model} version {version} gave no prediction for a one-row input")]
    NoPrediction { model: ModelName, version: u32 },
    #[error("segment version {version} assigned persona {persona_id}, which it does not describe")]
    UnknownPersona { version: u32, persona_id: usize },
    /// The caller read the session by another schema than the version's: the service picks
    /// the version before it reads a body, so this is a fault, never the client's.
    #[error("{model} version {version} reads clicks of the schema {schema:?}; the session was read by another")]
    OtherClicks {
        model: ModelName,
        version: u32,
        schema: String,
    },
}

/// One session as a request gives it: the UCI shop's, or a shop's read by the schema of
/// the versions that answer it.
#[derive(Debug, Clone, Copy)]
pub enum Visit<'a> {
    Uci(&'a Session),
    Shop(&'a ShopSession),
}

impl<'a> Visit<'a> {
    pub fn id(&self) -> &'a str {
        match self {
            Visit::Uci(s) => s.id().as_str(),
            Visit::Shop(s) => &s.id,
        }
    }

    /// The session's passthrough values, one per the schema's passthrough columns.
    pub fn passthrough(&self) -> &'a [String] {
        match self {
            Visit::Uci(_) => &[],
            Visit::Shop(s) => &s.passthrough,
        }
    }
}

/// Explanations list this many features, strongest first.
const EXPLAIN_TOP: usize = 6;

fn finite<M: ModelKind>(
    value: f64,
    loaded: &Loaded<M>,
    output: &'static str,
) -> Result<f64, ScoreError> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(ScoreError::NonFinite {
            model: M::NAME,
            version: loaded.manifest.version,
            output,
        })
    }
}

/// The one prediction a one-row input gives.
fn only<M: ModelKind, T>(values: Vec<T>, loaded: &Loaded<M>) -> Result<T, ScoreError> {
    values.into_iter().next().ok_or(ScoreError::NoPrediction {
        model: M::NAME,
        version: loaded.manifest.version,
    })
}

/// One request's feature row, kept for the next model that can read it: [`RowKey`]s,
/// decided at load, say which can. A request's models score from one extraction when
/// their keys agree, and each extracts its own otherwise. A shop's session is coded once
/// per catalogue, and the values its catalogue did not know are counted here for the
/// caller's metrics.
#[derive(Default)]
pub struct Rows {
    made: Option<(RowKey, ndarray::Array2<f64>)>,
    coded: Option<([u8; 32], CodedSession)>,
    /// Values of the session that the catalogues coding it did not know, and products
    /// the first product table reading it did not know.
    pub unseen: Unseen,
    products_counted: bool,
}

impl Rows {
    /// The row `loaded` reads for `visit`: the one made already when its key allows,
    /// else a new extraction, kept in its place.
    pub fn of<M: ModelKind>(
        &mut self,
        loaded: &Loaded<M>,
        visit: Visit,
    ) -> Result<&ndarray::Array2<f64>, ScoreError> {
        let made = match self.made.take() {
            Some((key, row)) if loaded.row_key.can_read(&key) => (key, row),
            _ => {
                let row = match (visit, &loaded.reading) {
                    (Visit::Uci(s), Reading::Uci) => loaded.row(s.clicks()),
                    (Visit::Shop(s), Reading::Shop(shop)) => {
                        let products = loaded.model.products();
                        let count = !self.products_counted && !products.is_empty();
                        let coded = &self.coded(shop, s).clicks;
                        let new = coded.iter().filter(|c| !products.knows(c.product_key));
                        let new = if count { new.count() as u64 } else { 0 };
                        let row = loaded.row(coded);
                        self.unseen.products += new;
                        self.products_counted |= count;
                        row
                    }
                    _ => return Err(other_clicks(loaded)),
                };
                (loaded.row_key.clone(), row)
            }
        };
        Ok(&self.made.insert(made).1)
    }

    /// `session` coded by `shop`'s catalogue, once per catalogue.
    fn coded(&mut self, shop: &ShopReading, session: &ShopSession) -> &CodedSession {
        let id = shop.id();
        if self.coded.as_ref().is_some_and(|(made, _)| *made != id) {
            self.coded = None;
        }
        let unseen = &mut self.unseen;
        &self
            .coded
            .get_or_insert_with(|| {
                let coded = shop.catalogue.code_session(&shop.schema, session, unseen);
                (id, coded)
            })
            .1
    }

    /// The known outcome of a session whose clicks already hold a basket, where the
    /// version's schema declares how a basket shows: the contract's answer, not a forecast.
    fn basket<M: ModelKind>(
        &mut self,
        loaded: &Loaded<M>,
        visit: Visit,
    ) -> Result<Option<Outcome>, ScoreError> {
        if !loaded.reading.declares_basket() {
            return Ok(None);
        }
        fn known<C: AnyClick>(clicks: &[C]) -> Option<Outcome> {
            labels::first_basket(clicks).map(|_| labels::proxy_outcome(clicks))
        }
        Ok(match (visit, &loaded.reading) {
            (Visit::Uci(s), Reading::Uci) => known(s.clicks()),
            (Visit::Shop(s), Reading::Shop(shop)) => known(&self.coded(shop, s).clicks),
            _ => return Err(other_clicks(loaded)),
        })
    }
}

fn other_clicks<M: ModelKind>(loaded: &Loaded<M>) -> ScoreError {
    ScoreError::OtherClicks {
        model: M::NAME,
        version: loaded.manifest.version,
        schema: loaded.reading.schema_name().to_owned(),
    }
}

pub fn convert(
    loaded: &Loaded<ConvertModel>,
    visit: Visit,
    explain: bool,
) -> Result<ConvertAnswer, ScoreError> {
    convert_with(loaded, visit, explain, &mut Rows::default())
}

/// [`convert`], reading its row from (or leaving it in) a request's [`Rows`].
pub fn convert_with(
    loaded: &Loaded<ConvertModel>,
    visit: Visit,
    explain: bool,
    rows: &mut Rows,
) -> Result<ConvertAnswer, ScoreError> {
    let manifest = &loaded.manifest;
    let threshold = manifest.decision_threshold();
    if rows.basket(loaded, visit)?.is_some() {
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
    let x = rows.of(loaded, visit)?;
    let p = only(loaded.model.probabilities(x.view()), loaded)?;
    let probability = finite(p, loaded, "probability")?;
    let tier = tier(manifest, probability);
    let explanation = if explain {
        loaded.model.contributions(x.view()).map(|c| {
            let mut parts: Vec<Contribution> = c
                .into_iter()
                .enumerate()
                .map(|(i, contribution)| Contribution {
                    feature: loaded.reading.plan().names()[i].clone(),
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

/// The tier of a probability. Loading refuses tiers that contradict the threshold, so a
/// session answered `will_convert` is never in the low tier.
fn tier(manifest: &Manifest, probability: f64) -> Tier {
    match &manifest.tiers {
        Some(t) if probability >= t.high => Tier::High,
        Some(t) if probability >= t.medium => Tier::Medium,
        Some(_) => Tier::Low,
        None if probability >= manifest.decision_threshold() => Tier::High,
        None => Tier::Low,
    }
}

pub fn revenue(loaded: &Loaded<RevenueModel>, visit: Visit) -> Result<RevenueAnswer, ScoreError> {
    revenue_with(loaded, visit, &mut Rows::default())
}

/// [`revenue`], reading its row from (or leaving it in) a request's [`Rows`].
pub fn revenue_with(
    loaded: &Loaded<RevenueModel>,
    visit: Visit,
    rows: &mut Rows,
) -> Result<RevenueAnswer, ScoreError> {
    if let Some(outcome) = rows.basket(loaded, visit)? {
        // The basket is known: its revenue is the contract's, not a forecast.
        let known = outcome.revenue;
        return Ok(RevenueAnswer {
            expected_revenue: known,
            revenue_if_converts: known,
            probability: 1.0,
            already_converted: true,
        });
    }
    let x = rows.of(loaded, visit)?;
    let p = only(loaded.model.predict(x.view()), loaded)?;
    Ok(RevenueAnswer {
        expected_revenue: finite(p.expected, loaded, "expected revenue")?,
        revenue_if_converts: finite(p.if_converts, loaded, "revenue if it converts")?,
        probability: finite(p.probability, loaded, "probability")?,
        already_converted: false,
    })
}

pub fn segment(loaded: &Loaded<SegmentModel>, visit: Visit) -> Result<SegmentAnswer, ScoreError> {
    segment_with(loaded, visit, &mut Rows::default())
}

/// [`segment`], reading its row from (or leaving it in) a request's [`Rows`].
pub fn segment_with(
    loaded: &Loaded<SegmentModel>,
    visit: Visit,
    rows: &mut Rows,
) -> Result<SegmentAnswer, ScoreError> {
    let x = rows.of(loaded, visit)?;
    let (id, distance) = only(loaded.model.assign(x.view()), loaded)?;
    let persona = loaded
        .model
        .personas
        .get(id)
        .ok_or(ScoreError::UnknownPersona {
            version: loaded.manifest.version,
            persona_id: id,
        })?;
    Ok(SegmentAnswer {
        persona_id: id,
        name: persona.name.clone(),
        description: persona.description.clone(),
        distance: finite(distance, loaded, "distance")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ml::model_file::{self, ModelName};
    use std::path::Path;

    /// Probabilities where a tier or the decision could flip, and either side of each.
    fn edges(manifest: &Manifest) -> Vec<f64> {
        let mut points = vec![0.0, 1.0, manifest.decision_threshold()];
        if let Some(t) = &manifest.tiers {
            points.extend([t.medium, t.high]);
        }
        if let Some(d) = &manifest.score_distribution {
            points.extend(&d.quantiles);
        }
        points
            .iter()
            .flat_map(|&p| [p, p.next_up(), p.next_down()])
            .filter(|p| (0.0..=1.0).contains(p))
            .collect()
    }

    /// The shipped versions share one extraction in `/score` (convert and revenue carry
    /// equal product tables; segments read no product rate), and a shared row gives each
    /// model exactly the answer its own extraction gives.
    #[test]
    fn models_sharing_a_row_answer_as_with_their_own() {
        use crate::domain::session::tests::click;
        use crate::domain::SessionId;
        let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
        let shipped = "the shipped models load";
        let convert = model_file::load_version::<ConvertModel>(&models, None).expect(shipped);
        let revenue = model_file::load_version::<RevenueModel>(&models, None).expect(shipped);
        let segment = model_file::load_version::<SegmentModel>(&models, None).expect(shipped);
        assert!(revenue.row_key.can_read(&convert.row_key));
        assert!(segment.row_key.can_read(&convert.row_key));
        // Convert's row is not segment's: segment extracts with an empty product table.
        assert!(!convert.row_key.can_read(&segment.row_key));
        let products = ["A1", "B2", "A1", "C3", "P4", "P4", "B2"];
        for len in 1..=products.len() {
            let clicks = products[..len]
                .iter()
                .enumerate()
                .map(|(i, p)| click(i as i64 + 1, p, 10.0 + i as f64))
                .collect();
            let id = SessionId::parse("s").expect("an id");
            let session = Session::new(id, clicks).expect("a session").0;
            let rows = &mut Rows::default();
            let visit = Visit::Uci(&session);
            let shared = (
                convert_with(&convert, visit, true, rows).expect("scores"),
                revenue_with(&revenue, visit, rows).expect("scores"),
                segment_with(&segment, visit, rows).expect("scores"),
            );
            let own = (
                super::convert(&convert, visit, true).expect("scores"),
                super::revenue(&revenue, visit).expect("scores"),
                super::segment(&segment, visit).expect("scores"),
            );
            assert_eq!(shared, own, "{len} clicks");
        }
    }

    #[test]
    fn a_model_with_another_product_table_extracts_its_own_row() {
        use crate::features;
        let plan = features::Plan::uci();
        let mut other = features::ProductStats::default();
        other.prior_next = 0.5;
        let table = RowKey::new([0; 32], plan, &other, None);
        let empty = RowKey::new([0; 32], plan, &features::ProductStats::default(), None);
        assert!(!table.can_read(&empty));
        assert!(table.can_read(&table.clone()));
        // A model reading only `clicks` reads any table's row.
        let clicks = plan.index_of("clicks").expect("a feature");
        assert!(RowKey::new([0; 32], plan, &other, Some(&[clicks])).can_read(&empty));
    }

    #[test]
    fn every_shipped_convert_version_puts_will_convert_at_medium_or_above() {
        let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
        let versions = model_file::versions(&models, ModelName::Convert);
        assert!(!versions.is_empty(), "no shipped convert version");
        for v in versions {
            let dir = models.join("convert").join(v.to_string());
            let loaded = model_file::load::<ConvertModel>(&dir)
                .unwrap_or_else(|e| panic!("shipped convert {v} does not load: {e}"));
            let m = &loaded.manifest;
            assert!(m.tiers.is_some(), "convert {v} stores no tiers");
            for p in edges(m) {
                let will_convert = p >= m.decision_threshold();
                let low = tier(m, p) == Tier::Low;
                assert_eq!(
                    will_convert,
                    !low,
                    "convert {v}: probability {p} gives will_convert {will_convert} in tier {:?}",
                    tier(m, p)
                );
            }
        }
    }
}
