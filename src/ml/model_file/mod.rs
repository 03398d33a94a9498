//! The one definition of a model file: `models/<name>/<version>/manifest.json` beside
//! `weights.json`. Split by concern: the model names ([`ModelName`]), what a manifest
//! holds ([`Manifest`]), the kinds of model a file can hold and their typed loaded form
//! ([`ModelKind`], [`Loaded`]), storage with checksums ([`publish`], [`load`]) and the
//! golden self-test every load runs.

mod error;
mod golden;
mod kind;
mod manifest;
mod name;
mod reading;
mod storage;

pub use error::{absent_models_folder, LoadError, PublishError};
pub use kind::{GoldenInput, Loaded, Model, ModelKind};
pub use manifest::{
    GoldenCase, GoldenClick, Manifest, ScoreDistribution, Tiers, TrainingData, FORMAT_VERSION,
};
pub use name::ModelName;
pub use reading::{Reading, ShopReading};
pub use storage::{
    load, load_version, publish, scan_versions, stage, versions, Staged, MANIFEST_FILE,
    REPORT_FILE, WEIGHTS_FILE,
};

#[cfg(test)]
mod tests;
