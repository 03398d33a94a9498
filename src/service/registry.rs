//! The loaded model versions. A reload builds a new snapshot off to the side and swaps it
//! in atomically (arc-swap): a request holds the snapshot it started with until it ends.

use super::settings::{Canary, Settings};
use crate::ml::model_file::{self, LoadedModel, ModelName};
use arc_swap::ArcSwap;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// The versions of one model held in memory, and those that failed to load.
#[derive(Default)]
pub struct ModelSlot {
    pub loaded: BTreeMap<u32, Arc<LoadedModel>>,
    /// Version -> why it was refused.
    pub failed: BTreeMap<u32, String>,
    /// The files' sizes and times when each refused version was tried: it is tried again
    /// only when they change (a copy that was still being written, a fixed file).
    tried: BTreeMap<u32, Fingerprint>,
    /// The version answering requests that do not ask for one.
    pub default: Option<u32>,
}

type Fingerprint = Vec<Option<(u64, std::time::SystemTime)>>;

fn fingerprint(dir: &std::path::Path) -> Fingerprint {
    [model_file::MANIFEST_FILE, model_file::WEIGHTS_FILE]
        .iter()
        .map(|f| {
            let m = std::fs::metadata(dir.join(f)).ok()?;
            Some((m.len(), m.modified().ok()?))
        })
        .collect()
}

/// One consistent view of every model.
#[derive(Default)]
pub struct Snapshot {
    pub slots: HashMap<ModelName, ModelSlot>,
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

impl Snapshot {
    /// The version that answers: the one asked for, else the canary's for sessions its hash
    /// picks, else the default.
    pub fn select(
        &self,
        model: ModelName,
        requested: Option<u32>,
        session_id: &str,
        canary: Option<Canary>,
    ) -> Result<Arc<LoadedModel>, SelectError> {
        let slot = self.slots.get(&model);
        let loaded = |v: u32| slot.and_then(|s| s.loaded.get(&v)).cloned();
        if let Some(v) = requested {
            return loaded(v).ok_or_else(|| SelectError::VersionNotLoaded {
                model,
                requested: v,
                available: slot
                    .map(|s| s.loaded.keys().copied().collect())
                    .unwrap_or_default(),
            });
        }
        if let Some(c) = canary.filter(|c| c.model == model) {
            if stable_percent(session_id) < c.percent {
                if let Some(m) = loaded(c.version) {
                    return Ok(m);
                }
            }
        }
        slot.and_then(|s| s.default)
            .and_then(loaded)
            .ok_or(SelectError::NoVersion(model))
    }

    /// Ready when every model has a default version loaded; otherwise the reasons.
    pub fn readiness(&self) -> Result<(), Vec<String>> {
        let problems: Vec<String> = ModelName::ALL
            .iter()
            .filter(|name| self.slots.get(name).and_then(|s| s.default).is_none())
            .map(|name| {
                let failed = self
                    .slots
                    .get(name)
                    .map(|s| {
                        s.failed
                            .iter()
                            .map(|(v, why)| format!("version {v}: {why}"))
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default();
                if failed.is_empty() {
                    format!("{name}: no version found")
                } else {
                    format!("{name}: no valid version ({})", failed.join("; "))
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

/// What one reload did, for logs, metrics and the admin route.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct ReloadSummary {
    /// `model/version` newly loaded.
    pub loaded: Vec<String>,
    /// `model/version: reason` refused.
    pub failed: Vec<String>,
    /// `model/version` dropped to stay within the bound of loaded versions.
    pub unloaded: Vec<String>,
}

pub struct Registry {
    dir: PathBuf,
    pins: HashMap<ModelName, u32>,
    canary: Option<Canary>,
    max_loaded: usize,
    current: ArcSwap<Snapshot>,
    /// Reloads run one at a time; readers never wait for it.
    reloading: Mutex<()>,
}

impl Registry {
    pub fn new(settings: &Settings) -> Registry {
        Registry {
            dir: settings.models_dir.clone(),
            pins: ModelName::ALL
                .iter()
                .filter_map(|&m| settings.pin(m).map(|v| (m, v)))
                .collect(),
            canary: settings.canary().ok().flatten(),
            max_loaded: settings.max_loaded_versions,
            current: ArcSwap::from_pointee(Snapshot::default()),
            reloading: Mutex::new(()),
        }
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    pub fn canary(&self) -> Option<Canary> {
        self.canary
    }

    /// Rescans the folder: loads (and self-tests) versions not yet loaded, newest first,
    /// keeps at most `max_loaded` per model (always keeping pinned and canary versions),
    /// records failures, and swaps the new snapshot in.
    pub fn reload(&self) -> ReloadSummary {
        let _one_at_a_time = self.reloading.lock().unwrap_or_else(|e| e.into_inner());
        let old = self.snapshot();
        let mut summary = ReloadSummary::default();
        let mut next = Snapshot::default();
        for name in ModelName::ALL {
            let old_slot = old.slots.get(&name);
            let mut slot = ModelSlot::default();
            let mut keep: Vec<u32> = model_file::versions(&self.dir, name);
            keep.reverse();
            let wanted: Vec<u32> = [
                self.pins.get(&name).copied(),
                self.canary.filter(|c| c.model == name).map(|c| c.version),
            ]
            .into_iter()
            .flatten()
            .collect();
            for version in keep {
                let must = wanted.contains(&version);
                if slot.loaded.len() >= self.max_loaded && !must {
                    continue;
                }
                if let Some(m) = old_slot.and_then(|s| s.loaded.get(&version)) {
                    slot.loaded.insert(version, m.clone());
                    continue;
                }
                let path = self.dir.join(name.as_str()).join(version.to_string());
                let files = fingerprint(&path);
                // A refused version is not retried (nor re-logged) until its files change.
                if let Some(old_slot) = old_slot {
                    if let (Some(why), Some(seen)) =
                        (old_slot.failed.get(&version), old_slot.tried.get(&version))
                    {
                        if *seen == files {
                            slot.failed.insert(version, why.clone());
                            slot.tried.insert(version, files);
                            continue;
                        }
                    }
                }
                match model_file::load(&path, name) {
                    Ok(m) => {
                        summary.loaded.push(format!("{name}/{version}"));
                        slot.loaded.insert(version, Arc::new(m));
                    }
                    Err(e) => {
                        summary.failed.push(format!("{name}/{version}: {e}"));
                        slot.failed.insert(version, e.to_string());
                        slot.tried.insert(version, files);
                    }
                }
            }
            if let Some(old_slot) = old_slot {
                for v in old_slot.loaded.keys() {
                    if !slot.loaded.contains_key(v) {
                        summary.unloaded.push(format!("{name}/{v}"));
                    }
                }
            }
            slot.default = match self.pins.get(&name) {
                Some(pin) => slot.loaded.contains_key(pin).then_some(*pin),
                None => slot.loaded.keys().next_back().copied(),
            };
            next.slots.insert(name, slot);
        }
        self.current.store(Arc::new(next));
        summary
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
        registry.reload();
        let problems = registry.snapshot().readiness().expect_err("nothing loaded");
        assert_eq!(problems.len(), 3);
        assert!(problems[0].contains("no version found"), "{problems:?}");
        assert_eq!(
            registry
                .snapshot()
                .select(ModelName::Convert, None, "s", None)
                .err(),
            Some(SelectError::NoVersion(ModelName::Convert))
        );
    }
}
