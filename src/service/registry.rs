//! The loaded model versions. A reload builds a new snapshot off to the side and swaps it
//! in atomically (arc-swap): a request holds the snapshot it started with until it ends.
//! Each model has its own typed slot, so the conversion route can only be handed a
//! conversion model. [`Registry::reload`] is the only way in: start-up, `SIGHUP`, polling
//! and `/admin/reload` all go through it, and it logs and counts what it did.

use super::observe::{self, VersionState};
use super::settings::{Canary, Settings};
use crate::ml::classifier::ConvertModel;
use crate::ml::model_file::{self, Loaded, Manifest, ModelKind, ModelName};
use crate::ml::regressor::RevenueModel;
use crate::ml::segment::SegmentModel;
use arc_swap::ArcSwap;
use serde::{Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Where a model's canary sends its share of sessions.
#[derive(Debug, Clone, Copy, PartialEq)]
struct CanaryShare {
    version: u32,
    percent: u8,
}

/// The versions of one model held in memory, and those that failed to load.
pub struct Slot<M> {
    loaded: BTreeMap<u32, Arc<Loaded<M>>>,
    /// Version -> why it was refused.
    failed: BTreeMap<u32, String>,
    /// The files' sizes and times when each refused version was tried: it is tried again
    /// only when they change (a copy that was still being written, a fixed file).
    tried: BTreeMap<u32, Fingerprint>,
    /// The version answering requests that do not ask for one.
    default: Option<u32>,
    /// The version `PIN_<MODEL>` fixes as the default, loaded or not.
    pinned: Option<u32>,
    canary: Option<CanaryShare>,
}

impl<M> Default for Slot<M> {
    fn default() -> Self {
        Slot {
            loaded: BTreeMap::new(),
            failed: BTreeMap::new(),
            tried: BTreeMap::new(),
            default: None,
            pinned: None,
            canary: None,
        }
    }
}

type Fingerprint = Vec<Option<(u64, std::time::SystemTime)>>;

fn fingerprint(dir: &Path) -> Fingerprint {
    [model_file::MANIFEST_FILE, model_file::WEIGHTS_FILE]
        .iter()
        .map(|f| {
            let m = std::fs::metadata(dir.join(f)).ok()?;
            Some((m.len(), m.modified().ok()?))
        })
        .collect()
}

/// Why no version could answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SelectError {
    #[error("version {requested} of {model} is not loaded; loaded versions: {available:?}")]
    VersionNotLoaded {
        model: ModelName,
        requested: u32,
        available: Vec<u32>,
    },
    #[error("no valid version of {0} is loaded")]
    NoVersion(ModelName),
}

impl<M: ModelKind> Slot<M> {
    /// The version that answers: the one asked for, else the canary's for sessions its hash
    /// picks, else the default.
    pub fn select(
        &self,
        requested: Option<u32>,
        session_id: &str,
    ) -> Result<&Loaded<M>, SelectError> {
        if let Some(v) = requested {
            return self.loaded.get(&v).map(Arc::as_ref).ok_or_else(|| {
                SelectError::VersionNotLoaded {
                    model: M::NAME,
                    requested: v,
                    available: self.loaded.keys().copied().collect(),
                }
            });
        }
        if let Some(c) = self.canary {
            if stable_percent(session_id) < c.percent {
                if let Some(m) = self.loaded.get(&c.version) {
                    return Ok(m);
                }
            }
        }
        self.default
            .and_then(|v| self.loaded.get(&v))
            .map(Arc::as_ref)
            .ok_or(SelectError::NoVersion(M::NAME))
    }

    /// What `/models`, readiness and the metrics show of this slot.
    pub fn info(&self) -> SlotInfo<'_> {
        SlotInfo {
            name: M::NAME,
            default: self.default,
            pinned: self.pinned,
            canary: self.canary.map(|c| (c.version, c.percent)),
            loaded: self.loaded.iter().map(|(v, m)| (*v, &m.manifest)).collect(),
            failed: &self.failed,
        }
    }
}

/// A model's slot, without its model type.
pub struct SlotInfo<'a> {
    pub name: ModelName,
    pub default: Option<u32>,
    pub pinned: Option<u32>,
    /// The canary's version and its percent of sessions.
    pub canary: Option<(u32, u8)>,
    pub loaded: Vec<(u32, &'a Manifest)>,
    /// Version -> why it was refused.
    pub failed: &'a BTreeMap<u32, String>,
}

/// One consistent view of every model.
#[derive(Default)]
pub struct Snapshot {
    pub convert: Slot<ConvertModel>,
    pub revenue: Slot<RevenueModel>,
    pub segment: Slot<SegmentModel>,
    /// The models folder, absolute, and whether it existed at the scan: readiness names it.
    models_dir: PathBuf,
    models_dir_exists: bool,
}

impl Snapshot {
    pub fn info(&self, name: ModelName) -> SlotInfo<'_> {
        match name {
            ModelName::Convert => self.convert.info(),
            ModelName::Revenue => self.revenue.info(),
            ModelName::Segment => self.segment.info(),
        }
    }

    /// Ready when every model has a default version loaded; otherwise the reasons.
    pub fn readiness(&self) -> Result<(), Vec<String>> {
        let problems: Vec<String> = ModelName::ALL
            .iter()
            .map(|&name| self.info(name))
            .filter(|info| info.default.is_none())
            .map(|info| {
                let failed: Vec<String> = info
                    .failed
                    .iter()
                    .map(|(v, why)| format!("version {v}: {why}"))
                    .collect();
                if !failed.is_empty() {
                    format!("{}: no valid version ({})", info.name, failed.join("; "))
                } else if self.models_dir_exists {
                    format!(
                        "{}: no version found in {}",
                        info.name,
                        self.models_dir.join(info.name.as_str()).display()
                    )
                } else {
                    format!(
                        "{}: no version found: the models folder {} does not exist",
                        info.name,
                        self.models_dir.display()
                    )
                }
            })
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

/// FNV-1a of the session id, in 0..100: the same shopper always lands on the same side of
/// a canary, on every replica, across restarts.
pub fn stable_percent(session_id: &str) -> u8 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in session_id.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (hash % 100) as u8
}

/// What asked for a reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Start,
    Sighup,
    Poll,
    Admin,
}

impl Trigger {
    /// The label in logs and in `model_reloads_total`.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Start => "start",
            Trigger::Sighup => "sighup",
            Trigger::Poll => "poll",
            Trigger::Admin => "admin",
        }
    }
}

/// One version of one model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionRef {
    pub model: ModelName,
    pub version: u32,
}

impl fmt::Display for VersionRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.model, self.version)
    }
}

/// A version that could not be loaded, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Refused {
    pub version: VersionRef,
    pub reason: String,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.version, self.reason)
    }
}

/// What one reload did. On the wire each entry is its text (`convert/2`,
/// `convert/3: reason`), as the admin route has always answered.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct ReloadSummary {
    /// `model/version` newly loaded.
    #[serde(serialize_with = "as_texts")]
    #[schema(value_type = Vec<String>, example = json!(["convert/2"]))]
    pub loaded: Vec<VersionRef>,
    /// `model/version: reason` refused.
    #[serde(serialize_with = "as_texts")]
    #[schema(value_type = Vec<String>)]
    pub failed: Vec<Refused>,
    /// `model/version` dropped to stay within the bound of loaded versions.
    #[serde(serialize_with = "as_texts")]
    #[schema(value_type = Vec<String>)]
    pub unloaded: Vec<VersionRef>,
}

impl ReloadSummary {
    fn changed(&self) -> bool {
        !(self.loaded.is_empty() && self.failed.is_empty() && self.unloaded.is_empty())
    }
}

fn as_texts<S: Serializer, T: fmt::Display>(items: &[T], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(items.iter().map(ToString::to_string))
}

/// Which version each model serves by default, and its canary: fixed at start-up.
struct Policy {
    pins: BTreeMap<ModelName, u32>,
    canary: Option<Canary>,
    max_loaded: usize,
}

impl Policy {
    fn pin(&self, model: ModelName) -> Option<u32> {
        self.pins.get(&model).copied()
    }

    fn canary(&self, model: ModelName) -> Option<CanaryShare> {
        self.canary
            .filter(|c| c.model == model)
            .map(|c| CanaryShare {
                version: c.version,
                percent: c.percent,
            })
    }
}

pub struct Registry {
    dir: PathBuf,
    policy: Policy,
    current: ArcSwap<Snapshot>,
    /// Reloads run one at a time; readers never wait for it.
    reloading: Mutex<()>,
}

impl Registry {
    /// An empty registry: nothing loads until the first [`Registry::reload`].
    pub fn new(settings: &Settings) -> Registry {
        // Absolute, so that messages name the folder whatever the working directory.
        let dir = std::path::absolute(&settings.models_dir)
            .unwrap_or_else(|_| settings.models_dir.clone());
        Registry {
            dir,
            policy: Policy {
                pins: ModelName::ALL
                    .into_iter()
                    .filter_map(|m| Some((m, settings.pin(m)?)))
                    .collect(),
                canary: settings.canary,
                max_loaded: settings.max_loaded_versions,
            },
            current: ArcSwap::from_pointee(Snapshot::default()),
            reloading: Mutex::new(()),
        }
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// Rescans the folder and swaps the new snapshot in; then logs the reload and records
    /// it in the metrics (`model_reloads_total`, `model_loads_total`, `model_info`).
    pub fn reload(&self, trigger: Trigger) -> ReloadSummary {
        let _one_at_a_time = self.reloading.lock().unwrap_or_else(|e| e.into_inner());
        let old = self.snapshot();
        let mut summary = ReloadSummary::default();
        let next = Snapshot {
            convert: self.rescan(&old.convert, &mut summary),
            revenue: self.rescan(&old.revenue, &mut summary),
            segment: self.rescan(&old.segment, &mut summary),
            models_dir: self.dir.clone(),
            models_dir_exists: self.dir.is_dir(),
        };
        self.current.store(Arc::new(next));
        record(trigger, &summary, &self.snapshot());
        summary
    }

    /// Loads (and self-tests) versions not yet loaded, newest first, keeps at most
    /// `max_loaded` (always keeping the pinned and canary versions) and records failures.
    fn rescan<M: ModelKind>(&self, old: &Slot<M>, summary: &mut ReloadSummary) -> Slot<M> {
        let name = M::NAME;
        let canary = self.policy.canary(name);
        let wanted: Vec<u32> = [self.policy.pin(name), canary.map(|c| c.version)]
            .into_iter()
            .flatten()
            .collect();
        let mut slot = Slot {
            canary,
            pinned: self.policy.pin(name),
            ..Slot::default()
        };
        for version in model_file::versions(&self.dir, name).into_iter().rev() {
            if slot.loaded.len() >= self.policy.max_loaded && !wanted.contains(&version) {
                continue;
            }
            if let Some(m) = old.loaded.get(&version) {
                slot.loaded.insert(version, m.clone());
                continue;
            }
            let path = self.dir.join(name.as_str()).join(version.to_string());
            let files = fingerprint(&path);
            // A refused version is not retried (nor re-logged) until its files change.
            if let (Some(why), Some(seen)) = (old.failed.get(&version), old.tried.get(&version)) {
                if *seen == files {
                    slot.failed.insert(version, why.clone());
                    slot.tried.insert(version, files);
                    continue;
                }
            }
            let at = VersionRef {
                model: name,
                version,
            };
            match model_file::load::<M>(&path) {
                Ok(m) => {
                    summary.loaded.push(at);
                    slot.loaded.insert(version, Arc::new(m));
                }
                Err(e) => {
                    summary.failed.push(Refused {
                        version: at,
                        reason: e.to_string(),
                    });
                    slot.failed.insert(version, e.to_string());
                    slot.tried.insert(version, files);
                }
            }
        }
        summary.unloaded.extend(
            old.loaded
                .keys()
                .filter(|v| !slot.loaded.contains_key(v))
                .map(|&version| VersionRef {
                    model: name,
                    version,
                }),
        );
        slot.default = match self.policy.pin(name) {
            Some(pin) => slot.loaded.contains_key(&pin).then_some(pin),
            None => slot.loaded.keys().next_back().copied(),
        };
        slot
    }
}

/// Logs and counts one reload. A poll that changed nothing stays quiet: it runs every few
/// seconds.
fn record(trigger: Trigger, summary: &ReloadSummary, snapshot: &Snapshot) {
    let label = trigger.as_str();
    observe::reload(label);
    if trigger != Trigger::Poll || summary.changed() {
        let texts =
            |items: &[VersionRef]| items.iter().map(ToString::to_string).collect::<Vec<_>>();
        tracing::info!(
            trigger = label,
            loaded = ?texts(&summary.loaded),
            failed = summary.failed.len(),
            unloaded = ?texts(&summary.unloaded),
            "models reloaded"
        );
    }
    if trigger == Trigger::Start {
        if let Err(reasons) = snapshot.readiness() {
            tracing::warn!(
                models_dir = %snapshot.models_dir.display(),
                reasons = ?reasons,
                "not ready: a model has no valid version in the models folder (MODELS_DIR)"
            );
        }
    }
    for refused in &summary.failed {
        tracing::warn!(
            trigger = label,
            model = %refused.version.model,
            version = refused.version.version,
            reason = %refused.reason,
            "model version refused"
        );
    }
    for loaded in &summary.loaded {
        observe::model_load(loaded.model, true);
    }
    for refused in &summary.failed {
        observe::model_load(refused.version.model, false);
    }
    for gone in &summary.unloaded {
        observe::model_info(gone.model, gone.version, VersionState::Unloaded);
    }
    for name in ModelName::ALL {
        let info = snapshot.info(name);
        for (version, _) in &info.loaded {
            let state = if info.default == Some(*version) {
                VersionState::Default
            } else {
                VersionState::Loaded
            };
            observe::model_info(name, *version, state);
        }
        observe::failed_versions(name, info.failed.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_canary_hash_is_stable_and_spread() {
        assert_eq!(stable_percent("session-42"), stable_percent("session-42"));
        let under_10 = (0..10_000)
            .filter(|i| stable_percent(&format!("s{i}")) < 10)
            .count();
        assert!(
            (800..1200).contains(&under_10),
            "{under_10} of 10000 under 10%"
        );
    }

    #[test]
    fn an_empty_folder_is_not_ready_and_says_why() {
        let dir = tempfile::tempdir().expect("temp dir");
        let settings =
            Settings::from_vars([("MODELS_DIR".to_string(), dir.path().display().to_string())])
                .expect("valid settings");
        let registry = Registry::new(&settings);
        registry.reload(Trigger::Start);
        let problems = registry.snapshot().readiness().expect_err("nothing loaded");
        assert_eq!(problems.len(), 3);
        assert!(problems[0].contains("no version found"), "{problems:?}");
        assert_eq!(
            registry.snapshot().convert.select(None, "s").err(),
            Some(SelectError::NoVersion(ModelName::Convert))
        );
    }
}
