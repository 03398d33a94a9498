//! Storage: versions appear atomically (written in a temporary folder, synced, renamed);
//! loading checks the format, the name, the feature schema, the checksum, the kind's own
//! invariants and the golden cases before a version may serve.

use super::error::{LoadError, PublishError};
use super::golden;
use super::kind::{Loaded, Model, ModelKind};
use super::manifest::{Manifest, FORMAT_VERSION};
use super::name::ModelName;
use crate::features;
use sha2::{Digest, Sha256};
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

pub const MANIFEST_FILE: &str = "manifest.json";
pub const WEIGHTS_FILE: &str = "weights.json";

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Versions present for a model, ascending (folders named by an integer).
pub fn versions(models_dir: &Path, name: ModelName) -> Vec<u32> {
    let mut found: Vec<u32> = fs::read_dir(models_dir.join(name.as_str()))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .collect();
    found.sort_unstable();
    found
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

fn sync_dir(path: &Path) -> std::io::Result<()> {
    File::open(path)?.sync_all()
}

/// Writes `model` as the next version of its name and returns that version. The manifest's
/// `version`, `weights_file` and `weights_sha256` are filled in here.
pub fn publish(
    models_dir: &Path,
    mut manifest: Manifest,
    model: &Model,
) -> Result<(u32, PathBuf), PublishError> {
    let weights = serde_json::to_vec(model).map_err(PublishError::Weights)?;
    manifest.weights_file = WEIGHTS_FILE.to_owned();
    manifest.weights_sha256 = sha256_hex(&weights);
    let parent = models_dir.join(model.name().as_str());
    fs::create_dir_all(&parent)?;
    // A dot-folder is never taken for a version by readers scanning for numbered folders.
    let staging = tempfile::Builder::new()
        .prefix(".staging-")
        .tempdir_in(&parent)?;
    write_synced(&staging.path().join(WEIGHTS_FILE), &weights)?;
    loop {
        let version = versions(models_dir, model.name())
            .last()
            .map_or(1, |v| v + 1);
        manifest.version = version;
        let text = serde_json::to_vec_pretty(&manifest).map_err(PublishError::Manifest)?;
        write_synced(&staging.path().join(MANIFEST_FILE), &text)?;
        sync_dir(staging.path())?;
        let target = parent.join(version.to_string());
        match fs::rename(staging.path(), &target) {
            Ok(()) => {
                sync_dir(&parent)?;
                // The staging folder is now the version; do not let its guard delete it.
                let _ = staging.keep();
                return Ok((version, target));
            }
            // Another trainer took this number between the scan and the rename: next one.
            Err(_) if target.exists() => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Reads and checks one version folder of a model of kind `M`.
pub fn load<M: ModelKind>(dir: &Path) -> Result<Loaded<M>, LoadError> {
    let expected = M::NAME;
    let manifest_path = dir.join(MANIFEST_FILE);
    let text = fs::read(&manifest_path).map_err(|source| LoadError::Io {
        path: manifest_path.clone(),
        source,
    })?;
    let manifest: Manifest =
        serde_json::from_slice(&text).map_err(|source| LoadError::Manifest {
            path: manifest_path.clone(),
            source,
        })?;
    if manifest.format_version != FORMAT_VERSION {
        return Err(LoadError::Format {
            path: manifest_path,
            found: manifest.format_version,
        });
    }
    if manifest.name != expected {
        return Err(LoadError::WrongModel {
            path: manifest_path,
            expected,
            found: manifest.name,
        });
    }
    let folder_version = dir
        .file_name()
        .and_then(|n| n.to_str()?.parse::<u32>().ok());
    if folder_version.is_some_and(|v| v != manifest.version) {
        return Err(LoadError::VersionMismatch {
            path: manifest_path,
            found: manifest.version,
        });
    }
    let schema = features::schema();
    if manifest.feature_schema != schema {
        let first_difference = schema
            .names
            .iter()
            .zip(&manifest.feature_schema.names)
            .enumerate()
            .find(|(_, (a, b))| a != b)
            .map(|(i, (a, b))| format!("; feature {i} is {b:?} in the model, {a:?} here"))
            .unwrap_or_default();
        return Err(LoadError::Schema {
            path: manifest_path,
            found_version: manifest.feature_schema.version,
            found_count: manifest.feature_schema.names.len(),
            expected_version: schema.version,
            expected_count: schema.names.len(),
            detail: first_difference,
        });
    }
    let weights_path = dir.join(&manifest.weights_file);
    let weights = fs::read(&weights_path).map_err(|source| LoadError::Io {
        path: weights_path.clone(),
        source,
    })?;
    let actual = sha256_hex(&weights);
    if actual != manifest.weights_sha256 {
        return Err(LoadError::Checksum {
            path: weights_path,
            expected: manifest.weights_sha256.clone(),
            actual,
        });
    }
    let model: Model = serde_json::from_slice(&weights).map_err(|source| LoadError::Weights {
        path: weights_path.clone(),
        source,
    })?;
    let model = M::from_model(model).map_err(|found| LoadError::WrongModel {
        path: weights_path.clone(),
        expected,
        found,
    })?;
    model.check().map_err(|problem| LoadError::Inconsistent {
        path: weights_path,
        problem,
    })?;
    M::check_manifest(&manifest).map_err(|problem| LoadError::Inconsistent {
        path: manifest_path.clone(),
        problem,
    })?;
    golden::check(&manifest, &model, &manifest_path)?;
    Ok(Loaded {
        manifest,
        model,
        dir: dir.to_owned(),
    })
}

/// Loads `version` of the model of kind `M`, or its highest version when `None`.
pub fn load_version<M: ModelKind>(
    models_dir: &Path,
    version: Option<u32>,
) -> Result<Loaded<M>, LoadError> {
    let name = M::NAME;
    let version = match version {
        Some(v) => v,
        None => *versions(models_dir, name)
            .last()
            .ok_or_else(|| LoadError::NoVersion {
                dir: models_dir.join(name.as_str()),
                name,
            })?,
    };
    load(&models_dir.join(name.as_str()).join(version.to_string()))
}
