//! The kinds of model a file holds. The weights file is one tagged enum ([`Model`]); a
//! loaded version is typed by its kind ([`Loaded<ConvertModel>`] and so on), so code that
//! needs a conversion model cannot be handed a segment model.

use super::manifest::{GoldenCase, GoldenClick, Manifest};
use super::name::ModelName;
use super::reading::Reading;
use crate::domain::catalogue::CodedSession;
use crate::domain::{AnySession, Click, Session};
use crate::features::{self, ClickValues, Plan, ProductStats};
use crate::ml::classifier::ConvertModel;
use crate::ml::regressor::RevenueModel;
use crate::ml::segment::SegmentModel;
use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// A model's weights, by kind: the layout of `weights.json`, the kind's fields after its
/// name (`{"model": "convert", ...}`).
#[derive(Serialize)]
#[serde(tag = "model", rename_all = "snake_case")]
#[allow(clippy::large_enum_variant)] // A handful live per process; boxing buys nothing.
pub enum Model {
    Convert(ConvertModel),
    Revenue(RevenueModel),
    Segment(SegmentModel),
}

// Read by hand rather than derived: serde reads an internally tagged enum by first copying
// the whole map into a tree of its own values, and a shop's weights hold a product table of
// a million entries (loading two such models of 77 MB peaked at 488 MiB with that copy,
// 276 MiB without). Serialization writes the tag first, so the kind is known before its
// fields, which then go straight to the kind's own reader.
impl<'de> Deserialize<'de> for Model {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Model, D::Error> {
        use serde::de::{self, MapAccess, Visitor};
        struct Weights;
        impl<'de> Visitor<'de> for Weights {
            type Value = Model;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a model's weights: a map naming the model's kind first")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Model, A::Error> {
                let first = map.next_key::<std::borrow::Cow<'de, str>>()?;
                if first.as_deref() != Some("model") {
                    return Err(de::Error::custom(format!(
                        "the first field must be `model`, the model's kind (one of {}), not {}",
                        ModelName::ALL
                            .map(|n| format!("`{}`", n.as_str()))
                            .join(", "),
                        first.map_or("none".to_owned(), |f| format!("`{f}`")),
                    )));
                }
                let name: ModelName = map.next_value()?;
                let fields = de::value::MapAccessDeserializer::new(map);
                Ok(match name {
                    ModelName::Convert => Model::Convert(ConvertModel::deserialize(fields)?),
                    ModelName::Revenue => Model::Revenue(RevenueModel::deserialize(fields)?),
                    ModelName::Segment => Model::Segment(SegmentModel::deserialize(fields)?),
                })
            }
        }
        deserializer.deserialize_map(Weights)
    }
}

/// What every kind of model offers the storage and golden checks.
pub trait ModelKind: Sized + Send + Sync + 'static {
    const NAME: ModelName;
    /// The product table this model's features are computed with.
    fn products(&self) -> &ProductStats;
    /// Shares the product table with an equal one this process has loaded
    /// ([`ProductStats::shared`]).
    fn share_products(&mut self) {}
    /// The numbers a golden case records for one feature row.
    fn outputs(&self, row: ArrayView2<f64>) -> Vec<f64>;
    /// The features the model reads, by position, when it reads only some: what decides
    /// which rows it can share ([`features::RowKey`]).
    fn reads(&self) -> Option<Vec<usize>> {
        None
    }
    /// The numbers a golden case records for one session's clicks, read by `plan`.
    fn session_outputs<C: ClickValues>(&self, plan: &Plan, clicks: &[C]) -> Vec<f64> {
        self.outputs(features::row(plan, clicks, self.products()).view())
    }
    /// The model of a decoded weights file, if it is of this kind (else the kind it is).
    fn from_model(model: Model) -> Result<Self, ModelName>;
    /// Invariants serde cannot check, so that scoring a loaded model cannot find them
    /// broken.
    fn check(&self) -> Result<(), String> {
        Ok(())
    }
    /// Invariants between the manifest's numbers for this kind.
    fn check_manifest(_manifest: &Manifest) -> Result<(), String> {
        Ok(())
    }
}

impl ModelKind for ConvertModel {
    const NAME: ModelName = ModelName::Convert;
    fn products(&self) -> &ProductStats {
        &self.products
    }
    fn share_products(&mut self) {
        self.products = std::mem::take(&mut self.products).shared();
    }
    fn outputs(&self, row: ArrayView2<f64>) -> Vec<f64> {
        self.probabilities(row)
    }
    fn from_model(model: Model) -> Result<Self, ModelName> {
        match model {
            Model::Convert(m) => Ok(m),
            other => Err(other.name()),
        }
    }
    fn check_manifest(manifest: &Manifest) -> Result<(), String> {
        match &manifest.tiers {
            Some(tiers) => tiers
                .contradiction(manifest.decision_threshold())
                .map_or(Ok(()), Err),
            None => Ok(()),
        }
    }
}

impl ModelKind for RevenueModel {
    const NAME: ModelName = ModelName::Revenue;
    fn products(&self) -> &ProductStats {
        &self.probability.products
    }
    fn share_products(&mut self) {
        let products = &mut self.probability.products;
        *products = std::mem::take(products).shared();
    }
    fn outputs(&self, row: ArrayView2<f64>) -> Vec<f64> {
        self.predict(row)
            .into_iter()
            .flat_map(|p| [p.expected, p.if_converts])
            .collect()
    }
    fn from_model(model: Model) -> Result<Self, ModelName> {
        match model {
            Model::Revenue(m) => Ok(m),
            other => Err(other.name()),
        }
    }
}

impl ModelKind for SegmentModel {
    const NAME: ModelName = ModelName::Segment;
    fn products(&self) -> &ProductStats {
        // Segments read whole-session shape only: no product rates.
        static NONE: std::sync::OnceLock<ProductStats> = std::sync::OnceLock::new();
        NONE.get_or_init(ProductStats::default)
    }
    fn reads(&self) -> Option<Vec<usize>> {
        Some(self.features.iter().map(|f| f.index).collect())
    }
    fn outputs(&self, row: ArrayView2<f64>) -> Vec<f64> {
        self.assign(row)
            .into_iter()
            .flat_map(|(id, d)| [id as f64, d])
            .collect()
    }
    fn from_model(model: Model) -> Result<Self, ModelName> {
        match model {
            Model::Segment(m) => Ok(m),
            other => Err(other.name()),
        }
    }
    fn check(&self) -> Result<(), String> {
        if self.centroids.is_empty() {
            return Err("the segment model has no centroid".into());
        }
        if self.personas.len() != self.centroids.len() {
            return Err(format!(
                "{} centroids but {} personas: every centroid needs its persona",
                self.centroids.len(),
                self.personas.len()
            ));
        }
        if let Some((i, p)) = self.personas.iter().enumerate().find(|(i, p)| p.id != *i) {
            return Err(format!("persona {i} carries id {}", p.id));
        }
        Ok(())
    }
}

impl Model {
    pub fn name(&self) -> ModelName {
        match self {
            Model::Convert(_) => ModelName::Convert,
            Model::Revenue(_) => ModelName::Revenue,
            Model::Segment(_) => ModelName::Segment,
        }
    }

    /// The numbers a golden case records, for one session's clicks read by `plan`.
    pub fn outputs<C: ClickValues>(&self, plan: &Plan, clicks: &[C]) -> Vec<f64> {
        match self {
            Model::Convert(m) => m.session_outputs(plan, clicks),
            Model::Revenue(m) => m.session_outputs(plan, clicks),
            Model::Segment(m) => m.session_outputs(plan, clicks),
        }
    }

    /// Golden cases from some sessions (read by `plan`): the outputs this model gives them
    /// now.
    pub fn golden_cases<S: GoldenInput>(&self, plan: &Plan, sessions: &[&S]) -> Vec<GoldenCase> {
        sessions
            .iter()
            .map(|s| s.case(self.outputs(plan, s.clicks())))
            .collect()
    }
}

/// A session a golden case can store.
pub trait GoldenInput: AnySession<Click: ClickValues> {
    fn case(&self, expected: Vec<f64>) -> GoldenCase;
}

impl GoldenInput for Session {
    fn case(&self, expected: Vec<f64>) -> GoldenCase {
        GoldenCase {
            session_id: self.id().to_string(),
            clicks: self.clicks().iter().map(Click::to_raw).collect(),
            coded: Vec::new(),
            expected,
        }
    }
}

impl GoldenInput for CodedSession {
    fn case(&self, expected: Vec<f64>) -> GoldenCase {
        GoldenCase {
            session_id: self.id.clone(),
            clicks: Vec::new(),
            coded: self.clicks.iter().map(GoldenClick::from).collect(),
            expected,
        }
    }
}

/// One version read back from disk and checked, typed by its kind.
pub struct Loaded<M> {
    pub manifest: Manifest,
    pub model: M,
    pub dir: PathBuf,
    /// What its feature row is made of, decided at load.
    pub row_key: features::RowKey,
    /// The clicks it reads: the UCI shop's, or a shop's schema with its catalogue.
    pub reading: Reading,
}

impl<M: ModelKind> Loaded<M> {
    /// The feature row of a prefix of the clicks this version reads, with its product
    /// table.
    pub fn row<C: ClickValues>(&self, clicks: &[C]) -> ndarray::Array2<f64> {
        features::row(self.reading.plan(), clicks, self.model.products())
    }
}
