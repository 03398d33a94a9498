//! Storage: versions appear atomically (written in a temporary folder, synced, renamed);
//! loading checks the format, the name, the feature schema, the checksum, the kind's own
//! invariants and the golden cases before a version may serve.

use super::error::{LoadError, PublishError};
use super::golden;
use super::kind::{Loaded, Model, ModelKind};
use super::manifest::{Manifest, FORMAT_VERSION};
use super::name::ModelName;
use super::reading::Reading;
use crate::features;
use sha2::{Digest, Sha256};
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

pub const MANIFEST_FILE: &str = "manifest.json";
pub const WEIGHTS_FILE: &str = "weights.json";
/// The charts of the training run, in each version's folder (that run's) and beside the
/// versions (the latest run's).
pub const REPORT_FILE: &str = "report.html";

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Versions present for a model, ascending; none when the folder cannot be read.
pub fn versions(models_dir: &Path, name: ModelName) -> Vec<u32> {
    scan_versions(models_dir, name).unwrap_or_default()
}

/// Versions present for a model, ascending: folders named by a version number written the
/// one way it is published (`8`, never `08` or `+8`, which would both read as 8). A model
/// folder that does not exist in an existing models folder holds no version; a models
/// folder that is gone or unreadable is an error, so a reload can tell "no version" from
/// "cannot look".
pub fn scan_versions(models_dir: &Path, name: ModelName) -> std::io::Result<Vec<u32>> {
    let folder = models_dir.join(name.as_str());
    let entries = match fs::read_dir(&folder) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && models_dir.is_dir() => {
            return Ok(Vec::new())
        }
        Err(e) => return Err(e),
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry?;
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let Some(text) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if let Ok(version) = text.parse::<u32>() {
            if version.to_string() == text {
                found.push(version);
            }
        }
    }
    found.sort_unstable();
    Ok(found)
}

/// Reads a file of a version folder, refusing anything but a regular file: reading a FIFO
/// would block the reload until something writes to it.
fn read_regular(path: &Path) -> Result<Vec<u8>, LoadError> {
    let io = |source| LoadError::Io {
        path: path.to_owned(),
        source,
    };
    let meta = fs::metadata(path).map_err(io)?;
    if !meta.is_file() {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        )));
    }
    fs::read(path).map_err(io)
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

fn sync_dir(path: &Path) -> std::io::Result<()> {
    File::open(path)?.sync_all()
}

/// A model version written to a hidden staging folder beside its model's versions, not
/// yet visible: [`Staged::commit`] makes it the next version. Dropped uncommitted, the
/// folder is removed.
pub struct Staged {
    models_dir: PathBuf,
    name: ModelName,
    manifest: Manifest,
    folder: tempfile::TempDir,
}

/// An I/O error with the path it happened on.
fn at(path: &Path) -> impl FnOnce(std::io::Error) -> PublishError + '_ {
    move |source| PublishError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Writes `model`'s weights to a staging folder: where a full disk or a read-only folder
/// shows up, before any version is visible. The manifest's `weights_file` and
/// `weights_sha256` are filled in here, its `version` at commit.
pub fn stage(
    models_dir: &Path,
    mut manifest: Manifest,
    model: &Model,
) -> Result<Staged, PublishError> {
    let weights = serde_json::to_vec(model).map_err(PublishError::Weights)?;
    manifest.weights_file = WEIGHTS_FILE.to_owned();
    manifest.weights_sha256 = sha256_hex(&weights);
    let parent = models_dir.join(model.name().as_str());
    fs::create_dir_all(&parent).map_err(at(&parent))?;
    // A dot-folder is never taken for a version by readers scanning for numbered folders.
    let folder = tempfile::Builder::new()
        .prefix(".staging-")
        .tempdir_in(&parent)
        .map_err(at(&parent))?;
    let weights_path = folder.path().join(WEIGHTS_FILE);
    write_synced(&weights_path, &weights).map_err(at(&weights_path))?;
    // The manifest as it will be, less its version number: written now so that a full
    // disk fails here, rewritten (same size but a few digits) at commit.
    let manifest_path = folder.path().join(MANIFEST_FILE);
    let text = serde_json::to_vec_pretty(&manifest).map_err(PublishError::Manifest)?;
    write_synced(&manifest_path, &text).map_err(at(&manifest_path))?;
    Ok(Staged {
        models_dir: models_dir.to_owned(),
        name: model.name(),
        manifest,
        folder,
    })
}

impl Staged {
    /// Adds a file beside the manifest and weights (the training report): loading reads
    /// neither it nor anything else in the folder.
    pub fn add_file(&self, name: &str, contents: &[u8]) -> Result<(), PublishError> {
        let path = self.folder.path().join(name);
        write_synced(&path, contents).map_err(at(&path))
    }

    /// Makes the staged folder the next version of its model by one rename, and returns
    /// that version and its folder.
    pub fn commit(mut self) -> Result<(u32, PathBuf), PublishError> {
        let parent = self.models_dir.join(self.name.as_str());
        let staging = self.folder.path().to_owned();
        loop {
            let version = versions(&self.models_dir, self.name)
                .last()
                .map_or(1, |v| v + 1);
            self.manifest.version = version;
            let text = serde_json::to_vec_pretty(&self.manifest).map_err(PublishError::Manifest)?;
            let manifest_path = staging.join(MANIFEST_FILE);
            write_synced(&manifest_path, &text).map_err(at(&manifest_path))?;
            sync_dir(&staging).map_err(at(&staging))?;
            let target = parent.join(version.to_string());
            match fs::rename(&staging, &target) {
                Ok(()) => {
                    sync_dir(&parent).map_err(at(&parent))?;
                    // The staging folder is now the version; do not let its guard delete it.
                    let _ = self.folder.keep();
                    return Ok((version, target));
                }
                // Another trainer took this number between the scan and the rename: next one.
                Err(_) if target.exists() => continue,
                Err(e) => return Err(at(&target)(e)),
            }
        }
    }
}

/// Writes `model` as the next version of its name and returns that version: [`stage`],
/// then [`Staged::commit`].
pub fn publish(
    models_dir: &Path,
    manifest: Manifest,
    model: &Model,
) -> Result<(u32, PathBuf), PublishError> {
    stage(models_dir, manifest, model)?.commit()
}

/// Reads and checks one version folder of a model of kind `M`.
pub fn load<M: ModelKind>(dir: &Path) -> Result<Loaded<M>, LoadError> {
    let expected = M::NAME;
    let manifest_path = dir.join(MANIFEST_FILE);
    let text = read_regular(&manifest_path)?;
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
    // The click schema first: a shop's model differs in its features because its clicks
    // do, and the schema says so in the shop's words.
    let reading = Reading::of(&manifest).map_err(|why| LoadError::ClickSchema {
        path: manifest_path.clone(),
        why,
    })?;
    let schema = reading.plan().schema();
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
    let weights = read_regular(&weights_path)?;
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
    let mut model = M::from_model(model).map_err(|found| LoadError::WrongModel {
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
    golden::check(&manifest, &model, &reading, &manifest_path)?;
    model.share_products();
    let row_key = features::RowKey::new(
        reading.id(),
        reading.plan(),
        model.products(),
        model.reads().as_deref(),
    );
    Ok(Loaded {
        manifest,
        model,
        dir: dir.to_owned(),
        row_key,
        reading,
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
