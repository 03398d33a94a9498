//! The loaded model versions. A reload builds a new snapshot off to the side and swaps it
//! in atomically (arc-swap): a request holds the snapshot it started with until it ends.
//! Each model has its own typed slot, so the conversion route can only be handed a
//! conversion model. [`Registry::reload`] is the only way in: start-up, `SIGHUP`, polling
//! and `/admin/reload` all go through it; it logs what it did and returns it
//! ([`ReloadSummary`]), for the service to count. Which versions serve is a [`Policy`]:
//! values the service builds from its settings and the `score` command from its flags.

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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CanaryShare {
    pub version: u32,
    /// 0..=100 percent of the sessions, by [`stable_percent`] of their id.
    pub percent: u8,
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
    /// Why the last scan could not replace the versions loaded before it (the folder is
    /// gone or unreadable, or it holds no valid version), which therefore keep serving.
    problem: Option<String>,
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
            problem: None,
        }
    }
}

/// What a refused version's files looked like when it was tried.
type Fingerprint = Vec<Option<FileState>>;

/// Size, modification time, and the inode change time and mode: a `chmod` that fixes a
/// permission changes only the last two, and must bring a retry too.
#[derive(Debug, Clone, PartialEq)]
struct FileState {
    len: u64,
    modified: Option<std::time::SystemTime>,
    changed: (i64, i64),
    mode: u32,
}

fn fingerprint(dir: &Path) -> Fingerprint {
    use std::os::unix::fs::MetadataExt;
    [model_file::MANIFEST_FILE, model_file::WEIGHTS_FILE]
        .iter()
        .map(|f| {
            let m = std::fs::metadata(dir.join(f)).ok()?;
            Some(FileState {
                len: m.len(),
                modified: m.modified().ok(),
                changed: (m.ctime(), m.ctime_nsec()),
                mode: m.mode(),
            })
        })
        .collect()
}

/// A file of the models folder as the service may read it: a regular file whose real
/// path, links resolved, lies inside the real models folder. A link named `report.html`
/// or `manifest.json` would otherwise have the service read, and serve or echo, any file
/// the process can read (`/proc/self/environ`, `/etc/passwd`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confined {
    /// The real path, to read.
    File(PathBuf),
    /// Nothing there.
    Absent,
    /// There, but not to be read: why, without saying where a link leads.
    Refused(String),
}

pub fn confined(models_dir: &Path, path: &Path) -> Confined {
    let root = match models_dir.canonicalize() {
        Ok(root) => root,
        Err(e) => return Confined::Refused(format!("the models folder cannot be resolved: {e}")),
    };
    // A dangling link is refused, not absent: a file of that name is there.
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Confined::Absent,
        Err(e) => return Confined::Refused(e.to_string()),
        Ok(_) => {}
    }
    let real = match path.canonicalize() {
        Ok(real) => real,
        Err(e) => return Confined::Refused(format!("it cannot be resolved: {e}")),
    };
    if !real.starts_with(&root) {
        return Confined::Refused(
            "it leads outside the models folder (through a link or its path); refused".into(),
        );
    }
    match std::fs::metadata(&real) {
        Ok(meta) if meta.is_file() => Confined::File(real),
        Ok(_) => Confined::Refused("not a regular file; refused".into()),
        Err(e) => Confined::Refused(e.to_string()),
    }
}

/// Why a version's files may not be read (see [`confined`]): its manifest, and the weights
/// file the manifest names (a name like `../../x` or `/etc/passwd` would leave the folder
/// too). `None` when they may; a manifest that cannot be parsed is left for the loader
/// to explain.
fn leaves_its_folder(models_dir: &Path, dir: &Path) -> Option<String> {
    let manifest = dir.join(model_file::MANIFEST_FILE);
    let refused = |path: &Path, why: String| Some(format!("{}: {why}", path.display()));
    let real = match confined(models_dir, &manifest) {
        Confined::File(real) => real,
        Confined::Absent => return None,
        Confined::Refused(why) => return refused(&manifest, why),
    };
    #[derive(serde::Deserialize)]
    struct Names {
        weights_file: String,
    }
    let names: Names = std::fs::read(&real)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())?;
    let weights = dir.join(&names.weights_file);
    match confined(models_dir, &weights) {
        Confined::Refused(why) => refused(&weights, why),
        Confined::File(_) | Confined::Absent => None,
    }
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
    /// A loaded version, by its number.
    pub fn get(&self, version: u32) -> Result<&Loaded<M>, SelectError> {
        self.loaded
            .get(&version)
            .map(Arc::as_ref)
            .ok_or_else(|| SelectError::VersionNotLoaded {
                model: M::NAME,
                requested: version,
                available: self.loaded.keys().copied().collect(),
            })
    }

    /// The version answering requests that name none (the newest valid one, or the pin).
    pub fn default_version(&self) -> Result<&Loaded<M>, SelectError> {
        self.default
            .and_then(|v| self.loaded.get(&v))
            .map(Arc::as_ref)
            .ok_or(SelectError::NoVersion(M::NAME))
    }

    /// The version a session that names none is sent to: the canary's, for the share of
    /// sessions its hash picks, else the default. A canary reading other clicks than the
    /// default's gets no share: a body is read by the default's schema before its session
    /// id is known ([`Slot::canary_problem`] says so).
    pub fn route(&self, session_id: &str) -> Result<&Loaded<M>, SelectError> {
        if let Some(c) = self.canary {
            if stable_percent(session_id) < c.percent {
                if let Some(m) = self.loaded.get(&c.version) {
                    return match self.default_version() {
                        Ok(default) if !m.reading.same_clicks(&default.reading) => Ok(default),
                        _ => Ok(m),
                    };
                }
            }
        }
        self.default_version()
    }

    /// Why the canary gets no share though it is loaded: it reads another click schema
    /// than the default version.
    pub fn canary_problem(&self) -> Option<String> {
        let c = self.canary?;
        let canary = self.loaded.get(&c.version)?;
        let default = self.default_version().ok()?;
        (!canary.reading.same_clicks(&default.reading)).then(|| {
            format!(
                "canary version {} reads clicks of the schema {:?}, the default version {} of {:?}: it gets no share until they agree",
                c.version,
                canary.reading.schema_name(),
                default.manifest.version,
                default.reading.schema_name()
            )
        })
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
            problem: self.problem.as_deref(),
            canary_problem: self.canary_problem(),
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
    /// Why the versions shown are those loaded before the last scan.
    pub problem: Option<&'a str>,
    /// Why the canary gets no share ([`Slot::canary_problem`]).
    pub canary_problem: Option<String>,
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
    /// The folder of one loaded version.
    pub fn version_dir(&self, name: ModelName, version: u32) -> Result<PathBuf, SelectError> {
        match name {
            ModelName::Convert => self.convert.get(version).map(|l| l.dir.clone()),
            ModelName::Revenue => self.revenue.get(version).map(|l| l.dir.clone()),
            ModelName::Segment => self.segment.get(version).map(|l| l.dir.clone()),
        }
    }

    pub fn info(&self, name: ModelName) -> SlotInfo<'_> {
        match name {
            ModelName::Convert => self.convert.info(),
            ModelName::Revenue => self.revenue.info(),
            ModelName::Segment => self.segment.info(),
        }
    }

    /// Why `name` has no default version, naming the model; `None` when it has one. The
    /// one explanation, for readiness and for the `score` command alike.
    pub fn why_no_version(&self, name: ModelName) -> Option<String> {
        let info = self.info(name);
        if info.default.is_some() {
            return None;
        }
        let failed: Vec<String> = info
            .failed
            .iter()
            .map(|(v, why)| format!("version {v}: {why}"))
            .collect();
        Some(if !self.models_dir_exists {
            format!(
                "{name}: no version found: the models folder {} does not exist",
                self.models_dir.display()
            )
        } else if let Some(problem) = info.problem {
            format!("{name}: no version loaded: {problem}")
        } else if !failed.is_empty() {
            format!("{name}: no valid version ({})", failed.join("; "))
        } else {
            format!(
                "{name}: no version found in {}",
                self.models_dir.join(name.as_str()).display()
            )
        })
    }

    /// Ready when every model has a default version loaded; otherwise the reasons.
    pub fn readiness(&self) -> Result<(), Vec<String>> {
        let problems: Vec<String> = ModelName::ALL
            .iter()
            .filter_map(|&name| self.why_no_version(name))
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

/// Which versions a registry loads and serves: fixed when it is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// The version each model serves by default, loaded or not (`PIN_<MODEL>`,
    /// `score --version`); without one, the newest valid version.
    pub pins: BTreeMap<ModelName, u32>,
    /// A model's canary and its share of the sessions that name no version (`CANARY`).
    pub canary: Option<(ModelName, CanaryShare)>,
    /// Versions of each model kept loaded, newest first, besides the pinned and canary
    /// ones (`MAX_LOADED_VERSIONS`).
    pub max_loaded: usize,
}

impl Policy {
    fn pin(&self, model: ModelName) -> Option<u32> {
        self.pins.get(&model).copied()
    }

    fn canary(&self, model: ModelName) -> Option<CanaryShare> {
        self.canary
            .filter(|(m, _)| *m == model)
            .map(|(_, share)| share)
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
    /// The models folder, absolute.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// An empty registry over the models folder `dir`: nothing loads until the first
    /// [`Registry::reload`].
    pub fn new(dir: &Path, policy: Policy) -> Registry {
        // Absolute, so that messages name the folder whatever the working directory.
        let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_owned());
        Registry {
            dir,
            policy,
            current: ArcSwap::from_pointee(Snapshot::default()),
            reloading: Mutex::new(()),
        }
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// Rescans the folder and swaps the new snapshot in; then logs the reload. What it did
    /// comes back, for the caller to count.
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
        let next = Arc::new(next);
        self.current.store(next.clone());
        log(trigger, &summary, &old, &next);
        summary
    }

    /// Loads (and self-tests) versions not yet loaded, newest first, keeps at most
    /// `max_loaded` (always keeping the pinned and canary versions) and records failures.
    /// What is loaded keeps serving until a valid replacement exists: a scan that cannot
    /// read the folder, or finds no valid version in it, keeps the old versions and says why.
    fn rescan<M: ModelKind>(&self, old: &Slot<M>, summary: &mut ReloadSummary) -> Slot<M> {
        let name = M::NAME;
        let folder = self.dir.join(name.as_str());
        match model_file::scan_versions(&self.dir, name) {
            Ok(versions) => {
                let slot = self.load_versions(old, &versions, summary);
                if slot.loaded.is_empty() && !old.loaded.is_empty() {
                    let why = if versions.is_empty() {
                        format!("{} holds no version", folder.display())
                    } else {
                        format!("{} holds no valid version", folder.display())
                    };
                    return kept(old, slot.failed, slot.tried, why);
                }
                Self::note_unloaded(old, &slot, summary);
                slot
            }
            Err(e) => {
                let why = format!("cannot read {}: {e}", folder.display());
                if old.loaded.is_empty() {
                    Slot {
                        canary: self.policy.canary(name),
                        pinned: self.policy.pin(name),
                        failed: old.failed.clone(),
                        tried: old.tried.clone(),
                        problem: Some(why),
                        ..Slot::default()
                    }
                } else {
                    kept(old, old.failed.clone(), old.tried.clone(), why)
                }
            }
        }
    }

    fn load_versions<M: ModelKind>(
        &self,
        old: &Slot<M>,
        versions: &[u32],
        summary: &mut ReloadSummary,
    ) -> Slot<M> {
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
        for &version in versions.iter().rev() {
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
            let loaded = match leaves_its_folder(&self.dir, &path) {
                Some(why) => Err(why),
                None => model_file::load::<M>(&path).map_err(|e| e.to_string()),
            };
            match loaded {
                Ok(m) => {
                    summary.loaded.push(at);
                    slot.loaded.insert(version, Arc::new(m));
                }
                Err(why) => {
                    summary.failed.push(Refused {
                        version: at,
                        reason: why.clone(),
                    });
                    slot.failed.insert(version, why);
                    slot.tried.insert(version, files);
                }
            }
        }
        slot.default = match self.policy.pin(name) {
            Some(pin) => slot.loaded.contains_key(&pin).then_some(pin),
            None => slot.loaded.keys().next_back().copied(),
        };
        slot
    }

    fn note_unloaded<M: ModelKind>(old: &Slot<M>, slot: &Slot<M>, summary: &mut ReloadSummary) {
        summary.unloaded.extend(
            old.loaded
                .keys()
                .filter(|v| !slot.loaded.contains_key(v))
                .map(|&version| VersionRef {
                    model: M::NAME,
                    version,
                }),
        );
    }
}

/// The old slot's versions, still serving, with the refusals of this scan and the reason
/// nothing replaced them.
fn kept<M>(
    old: &Slot<M>,
    failed: BTreeMap<u32, String>,
    tried: BTreeMap<u32, Fingerprint>,
    problem: String,
) -> Slot<M> {
    Slot {
        loaded: old.loaded.clone(),
        failed,
        tried,
        default: old.default,
        pinned: old.pinned,
        canary: old.canary,
        problem: Some(format!("{problem}; serving the versions loaded before")),
    }
}

/// Logs one reload. A poll that changed nothing stays quiet: it runs every few seconds.
fn log(trigger: Trigger, summary: &ReloadSummary, old: &Snapshot, snapshot: &Snapshot) {
    let label = trigger.as_str();
    // Said once when it starts and once when it ends, not at every poll in between.
    for name in ModelName::ALL {
        let (before, now) = (old.info(name).problem, snapshot.info(name).problem);
        if now != before {
            match now {
                Some(problem) => {
                    tracing::warn!(trigger = label, model = %name, problem, "models folder problem")
                }
                None => {
                    tracing::info!(trigger = label, model = %name, "models folder problem resolved")
                }
            }
        }
    }
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
    fn fixing_a_permission_changes_the_fingerprint_so_the_version_is_retried() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let manifest = dir.path().join(model_file::MANIFEST_FILE);
        std::fs::write(&manifest, "{}").expect("write");
        std::fs::set_permissions(&manifest, std::fs::Permissions::from_mode(0o000)).expect("chmod");
        let refused = fingerprint(dir.path());
        std::fs::set_permissions(&manifest, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        assert_ne!(fingerprint(dir.path()), refused);
    }

    #[test]
    fn an_empty_folder_is_not_ready_and_says_why() {
        let dir = tempfile::tempdir().expect("temp dir");
        let policy = Policy {
            pins: BTreeMap::new(),
            canary: None,
            max_loaded: 3,
        };
        let registry = Registry::new(dir.path(), policy);
        registry.reload(Trigger::Start);
        let problems = registry.snapshot().readiness().expect_err("nothing loaded");
        assert_eq!(problems.len(), 3);
        assert!(problems[0].contains("no version found"), "{problems:?}");
        assert_eq!(
            registry.snapshot().convert.route("s").err(),
            Some(SelectError::NoVersion(ModelName::Convert))
        );
    }
}
