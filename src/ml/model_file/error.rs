//! Why a version folder was refused: each check of a load has its own variant, with the
//! file it concerns.

use super::manifest::FORMAT_VERSION;
use super::name::ModelName;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a valid manifest: {source}")]
    Manifest {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{path}: model file format {found} is not the supported format {FORMAT_VERSION}")]
    Format { path: PathBuf, found: u32 },
    #[error("{path}: the manifest names model {found}, expected {expected}")]
    WrongModel {
        path: PathBuf,
        expected: ModelName,
        found: ModelName,
    },
    #[error("{path}: the manifest says version {found}, which is not the folder's number")]
    VersionMismatch { path: PathBuf, found: u32 },
    #[error("{path}: feature schema mismatch: the model was trained on features v{found_version} ({found_count} names), this build computes v{expected_version} ({expected_count} names){detail}")]
    Schema {
        path: PathBuf,
        found_version: u32,
        found_count: usize,
        expected_version: u32,
        expected_count: usize,
        detail: String,
    },
    #[error("{path}: refused: {why}")]
    ClickSchema { path: PathBuf, why: String },
    #[error(
        "{path}: checksum mismatch: the manifest says sha256 {expected}, the file has {actual}"
    )]
    Checksum {
        path: PathBuf,
        expected: String,
        actual: String,
    },
    #[error("{path}: the model is inconsistent: {problem}")]
    Inconsistent { path: PathBuf, problem: String },
    #[error("{path}: weights do not decode: {source}")]
    Weights {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{path}: golden case {session:?} gives {actual:?}, the manifest expects {expected:?}")]
    Golden {
        path: PathBuf,
        session: String,
        expected: Vec<f64>,
        actual: Vec<f64>,
    },
    #[error("{path}: golden case {session:?} is not a valid session: {problem}")]
    GoldenInput {
        path: PathBuf,
        session: String,
        problem: String,
    },
    #[error("{dir}: no version of {name} ({})", why_none(dir))]
    NoVersion { dir: PathBuf, name: ModelName },
}

/// Why a model's folder gave no version, as far as the file system tells.
fn why_none(dir: &Path) -> String {
    let models = dir.parent().unwrap_or(dir);
    if let Some(absent) = absent_models_folder(models) {
        absent
    } else if !dir.is_dir() {
        "the folder does not exist".to_owned()
    } else {
        "looked for numbered folders".to_owned()
    }
}

/// What to say when the models folder itself is not there, naming it in full: a new
/// user's first mistake is a relative folder given from another working directory.
pub fn absent_models_folder(models: &Path) -> Option<String> {
    if models.as_os_str().is_empty() || models.is_dir() {
        return None;
    }
    let shown = std::path::absolute(models).unwrap_or_else(|_| models.to_owned());
    Some(format!(
        "the models folder {} does not exist: pass --models DIR",
        shown.display()
    ))
}

/// Why a version could not be written.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("encoding the weights: {0}")]
    Weights(serde_json::Error),
    #[error("encoding the manifest: {0}")]
    Manifest(serde_json::Error),
    #[error("{path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}
