//! The one definition of a model file: `models/<name>/<version>/manifest.json` beside
//! `weights.json`. Versions appear atomically (written in a temporary folder, synced,
//! renamed); loading checks the checksum, the feature schema and the golden cases.

use super::classifier::ConvertModel;
use super::regressor::RevenueModel;
use super::segment::{Persona, SegmentModel};
use crate::dataset::PrefixSet;
use crate::domain::{Click, RawClick, Session, SessionId};
use crate::features::{self, FeatureSchema};
use crate::labels::LabelSource;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Bumped when the layout of manifest or weights changes incompatibly.
pub const FORMAT_VERSION: u32 = 1;
pub const MANIFEST_FILE: &str = "manifest.json";
pub const WEIGHTS_FILE: &str = "weights.json";
/// Relative tolerance of the golden self-test: the same code on the same input must give
/// the same floats, up to summation order in parallel prediction.
const GOLDEN_TOLERANCE: f64 = 1e-9;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelName {
    Convert,
    Revenue,
    Segment,
}

impl ModelName {
    pub const ALL: [ModelName; 3] = [ModelName::Convert, ModelName::Revenue, ModelName::Segment];

    pub fn as_str(self) -> &'static str {
        match self {
            ModelName::Convert => "convert",
            ModelName::Revenue => "revenue",
            ModelName::Segment => "segment",
        }
    }
}

impl fmt::Display for ModelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ModelName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        ModelName::ALL
            .into_iter()
            .find(|n| n.as_str() == s)
            .ok_or_else(|| format!("unknown model {s:?}; models are convert, revenue, segment"))
    }
}

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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tiers {
    pub high: f64,
    pub medium: f64,
    pub rule: String,
}

/// A stored input and the outputs this version must give for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GoldenCase {
    pub session_id: String,
    pub clicks: Vec<RawClick>,
    /// convert: [probability]; revenue: [expected, if converts]; segment: [persona, distance].
    pub expected: Vec<f64>,
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

/// A model's weights, by kind.
#[derive(Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "snake_case")]
#[allow(clippy::large_enum_variant)] // A handful live per process; boxing buys nothing.
pub enum Model {
    Convert(ConvertModel),
    Revenue(RevenueModel),
    Segment(SegmentModel),
}

impl Model {
    pub fn name(&self) -> ModelName {
        match self {
            Model::Convert(_) => ModelName::Convert,
            Model::Revenue(_) => ModelName::Revenue,
            Model::Segment(_) => ModelName::Segment,
        }
    }

    pub fn as_convert(&self) -> Option<&ConvertModel> {
        match self {
            Model::Convert(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_revenue(&self) -> Option<&RevenueModel> {
        match self {
            Model::Revenue(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_segment(&self) -> Option<&SegmentModel> {
        match self {
            Model::Segment(m) => Some(m),
            _ => None,
        }
    }

    /// The product table this model's features are computed with.
    pub fn products(&self) -> &features::ProductStats {
        static NONE: std::sync::OnceLock<features::ProductStats> = std::sync::OnceLock::new();
        match self {
            Model::Convert(m) => &m.products,
            Model::Revenue(m) => &m.probability.products,
            Model::Segment(_) => NONE.get_or_init(features::ProductStats::default),
        }
    }

    /// The numbers a golden case records, for one session's clicks.
    pub fn outputs(&self, clicks: &[Click]) -> Vec<f64> {
        let row = ndarray::Array2::from_shape_vec(
            (1, features::COUNT),
            features::extract(clicks, self.products()),
        )
        .expect("extract returns COUNT values");
        match self {
            Model::Convert(m) => m.probabilities(row.view()),
            Model::Revenue(m) => m
                .predict(row.view())
                .into_iter()
                .flat_map(|p| [p.expected, p.if_converts])
                .collect(),
            Model::Segment(m) => m
                .assign(row.view())
                .into_iter()
                .flat_map(|(id, d)| [id as f64, d])
                .collect(),
        }
    }

    /// Golden cases from some sessions: the outputs this model gives them now.
    pub fn golden_cases(&self, sessions: &[&Session]) -> Vec<GoldenCase> {
        sessions
            .iter()
            .map(|s| GoldenCase {
                session_id: s.id().to_string(),
                clicks: s.clicks().iter().map(Click::to_raw).collect(),
                expected: self.outputs(s.clicks()),
            })
            .collect()
    }
}

/// A model read back from disk, checked.
pub struct LoadedModel {
    pub manifest: Manifest,
    pub model: Model,
    pub dir: PathBuf,
}

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
    #[error(
        "{path}: checksum mismatch: the manifest says sha256 {expected}, the file has {actual}"
    )]
    Checksum {
        path: PathBuf,
        expected: String,
        actual: String,
    },
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
    #[error("{dir}: no version of {name} (looked for numbered folders)")]
    NoVersion { dir: PathBuf, name: ModelName },
}

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
) -> std::io::Result<(u32, PathBuf)> {
    let weights = serde_json::to_vec(model).map_err(std::io::Error::other)?;
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
        let text = serde_json::to_vec_pretty(&manifest).map_err(std::io::Error::other)?;
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
            Err(e) => return Err(e),
        }
    }
}

/// Reads and checks one version folder.
pub fn load(dir: &Path, expected: ModelName) -> Result<LoadedModel, LoadError> {
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
    if model.name() != expected {
        return Err(LoadError::WrongModel {
            path: weights_path,
            expected,
            found: model.name(),
        });
    }
    self_test(&manifest, &model, &manifest_path)?;
    Ok(LoadedModel {
        manifest,
        model,
        dir: dir.to_owned(),
    })
}

/// Runs the golden cases: a version whose outputs differ from what training recorded is
/// refused (a different build, a different platform's floats, a tampered file).
fn self_test(manifest: &Manifest, model: &Model, path: &Path) -> Result<(), LoadError> {
    for case in &manifest.golden {
        let bad_input = |problem: String| LoadError::GoldenInput {
            path: path.to_owned(),
            session: case.session_id.clone(),
            problem,
        };
        let clicks: Vec<Click> = case
            .clicks
            .iter()
            .map(|raw| Click::parse(raw).map_err(|e| bad_input(format!("{e:?}"))))
            .collect::<Result<_, _>>()?;
        let id = SessionId::parse(&case.session_id).map_err(|e| bad_input(e.to_string()))?;
        let (session, _) = Session::new(id, clicks).map_err(|e| bad_input(e.to_string()))?;
        let actual = model.outputs(session.clicks());
        let same = actual.len() == case.expected.len()
            && actual
                .iter()
                .zip(&case.expected)
                .all(|(a, e)| (a - e).abs() <= GOLDEN_TOLERANCE * e.abs().max(1.0));
        if !same {
            return Err(LoadError::Golden {
                path: path.to_owned(),
                session: case.session_id.clone(),
                expected: case.expected.clone(),
                actual,
            });
        }
    }
    Ok(())
}

/// Loads `version`, or the highest version when `None`.
pub fn load_version(
    models_dir: &Path,
    name: ModelName,
    version: Option<u32>,
) -> Result<LoadedModel, LoadError> {
    let version = match version {
        Some(v) => v,
        None => *versions(models_dir, name)
            .last()
            .ok_or_else(|| LoadError::NoVersion {
                dir: models_dir.join(name.as_str()),
                name,
            })?,
    };
    load(
        &models_dir.join(name.as_str()).join(version.to_string()),
        name,
    )
}

/// Quantiles at 0%, 1%, ..., 100% of scores, session-weighted.
pub fn score_distribution(scores: &[f64], set: &PrefixSet) -> ScoreDistribution {
    let levels: Vec<f64> = (0..=100).map(|i| f64::from(i) / 100.0).collect();
    ScoreDistribution {
        quantiles: super::metrics::weighted_quantiles(scores, &set.weight, &levels),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::session::tests::click;
    use crate::ml::classifier::{BoostingParams, Classifier};
    use ndarray::Array2;

    /// A small boosted conversion model on a feature matrix made from hand-made sessions.
    fn small_model() -> (Model, Vec<Session>) {
        let products = ["A1", "B2", "C3", "P4"];
        let sessions: Vec<Session> = (0..40)
            .map(|i| {
                let clicks = (0..(1 + i % 5))
                    .map(|j| {
                        click(
                            j + 1,
                            products[((i + j) % 4) as usize],
                            10.0 + (i * 7 + j) as f64,
                        )
                    })
                    .collect();
                let id = SessionId::parse(&format!("s{i}")).expect("valid id");
                Session::new(id, clicks).expect("valid session").0
            })
            .collect();
        let rows: Vec<f64> = sessions
            .iter()
            .flat_map(|s| features::extract(s.clicks(), &features::ProductStats::default()))
            .collect();
        let x = Array2::from_shape_vec((sessions.len(), features::COUNT), rows).expect("shape");
        let y: Vec<bool> = (0..sessions.len()).map(|i| i % 3 == 0).collect();
        let params = BoostingParams {
            iterations: 5,
            learning_rate: 0.3,
            max_depth: 2,
            min_leaf_weight: 1.0,
            l2: 1.0,
            subsample: 1.0,
            colsample_bytree: 1.0,
            max_leaves: None,
            seed: 1,
        };
        let classifier = Classifier::fit_boosting(&params, x.view(), &y, &vec![1.0; y.len()])
            .expect("the tiny model fits");
        (
            Model::Convert(ConvertModel {
                classifier,
                log_odds_shift: -0.5,
                products: features::ProductStats::default(),
            }),
            sessions,
        )
    }

    fn manifest(model: &Model, sessions: &[Session]) -> Manifest {
        let golden: Vec<&Session> = sessions.iter().take(3).collect();
        Manifest {
            format_version: FORMAT_VERSION,
            name: model.name(),
            version: 0,
            created_at: "2026-11-25T00:00:00Z".into(),
            trainer_version: "test".into(),
            algorithm: "test".into(),
            hyperparameters: serde_json::Value::Null,
            feature_schema: features::schema(),
            training: TrainingData {
                file_name: "t.csv".into(),
                sha256: String::new(),
                clicks: 0,
                sessions: 0,
                examples: 0,
                label_source: LabelSource::BasketProxy,
            },
            validation: serde_json::Value::Null,
            threshold: Some(0.5),
            score_distribution: None,
            tiers: None,
            personas: None,
            golden: model.golden_cases(&golden),
            weights_file: String::new(),
            weights_sha256: String::new(),
        }
    }

    fn published() -> (tempfile::TempDir, PathBuf, Vec<Session>) {
        let dir = tempfile::tempdir().expect("temp dir");
        let (model, sessions) = small_model();
        let (version, path) =
            publish(dir.path(), manifest(&model, &sessions), &model).expect("publish");
        assert_eq!(version, 1);
        (dir, path, sessions)
    }

    fn edit_manifest(path: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
        let file = path.join(MANIFEST_FILE);
        let mut value: serde_json::Value =
            serde_json::from_slice(&fs::read(&file).expect("read manifest")).expect("json");
        edit(&mut value);
        fs::write(&file, serde_json::to_vec(&value).expect("json")).expect("write manifest");
    }

    #[test]
    fn a_published_model_loads_back_and_gives_the_same_outputs() {
        let (dir, path, sessions) = published();
        let (original, _) = small_model();
        let loaded = load(&path, ModelName::Convert).expect("the version loads");
        assert_eq!(loaded.manifest.version, 1);
        for s in &sessions {
            assert_eq!(
                loaded.model.outputs(s.clicks()),
                original.outputs(s.clicks())
            );
        }
        // Each publish takes the next number; no staging folder is left behind.
        let (model, sessions) = small_model();
        let (v2, _) = publish(dir.path(), manifest(&model, &sessions), &model).expect("publish");
        assert_eq!(v2, 2);
        assert_eq!(versions(dir.path(), ModelName::Convert), vec![1, 2]);
        let entries = fs::read_dir(dir.path().join("convert"))
            .expect("list")
            .count();
        assert_eq!(entries, 2);
        let latest = load_version(dir.path(), ModelName::Convert, None).expect("latest loads");
        assert_eq!(latest.manifest.version, 2);
    }

    #[test]
    fn percentiles_place_a_score_among_the_training_scores() {
        let d = ScoreDistribution {
            quantiles: (0..=100).map(|i| f64::from(i) / 100.0).collect(),
        };
        assert_eq!(d.percentile(-1.0), 0.0);
        assert_eq!(d.percentile(0.505), 50.0);
        assert_eq!(d.percentile(2.0), 100.0);
    }

    #[test]
    fn a_changed_weights_file_fails_the_checksum() {
        let (_dir, path, _) = published();
        let weights = path.join(WEIGHTS_FILE);
        let mut bytes = fs::read(&weights).expect("read weights");
        bytes.push(b' ');
        fs::write(&weights, bytes).expect("write weights");
        let err = load(&path, ModelName::Convert)
            .err()
            .expect("checksum must fail");
        assert!(matches!(err, LoadError::Checksum { .. }), "{err}");
    }

    #[test]
    fn a_different_feature_schema_is_refused() {
        let (_dir, path, _) = published();
        edit_manifest(&path, |m| {
            m["feature_schema"]["names"][3] = "something_else".into()
        });
        let err = load(&path, ModelName::Convert)
            .err()
            .expect("schema must fail");
        assert!(matches!(err, LoadError::Schema { .. }), "{err}");
        assert!(err.to_string().contains("something_else"), "{err}");
        edit_manifest(&path, |m| m["feature_schema"]["version"] = 999.into());
        assert!(matches!(
            load(&path, ModelName::Convert),
            Err(LoadError::Schema { .. })
        ));
    }

    #[test]
    fn a_golden_case_that_no_longer_holds_is_refused() {
        let (_dir, path, _) = published();
        edit_manifest(&path, |m| m["golden"][0]["expected"][0] = 0.123456.into());
        let err = load(&path, ModelName::Convert)
            .err()
            .expect("golden must fail");
        assert!(matches!(err, LoadError::Golden { .. }), "{err}");
    }

    #[test]
    fn wrong_model_and_unreadable_manifests_are_refused() {
        let (dir, path, _) = published();
        assert!(matches!(
            load(&path, ModelName::Segment),
            Err(LoadError::WrongModel { .. })
        ));
        fs::write(path.join(MANIFEST_FILE), b"{not json").expect("write");
        assert!(matches!(
            load(&path, ModelName::Convert),
            Err(LoadError::Manifest { .. })
        ));
        assert!(matches!(
            load_version(dir.path(), ModelName::Revenue, None),
            Err(LoadError::NoVersion { .. })
        ));
    }
}
