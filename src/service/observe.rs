//! Prometheus metrics as a handle the HTTP layer owns: each [`Metrics`] has its own
//! recorder, its per-version handles and its upkeep, so two servers in one process (as in
//! the API tests) count apart, and nothing below the service records anything: the model
//! side returns what happened ([`ReloadSummary`], the answers) and this module counts it.
//! The metric names and labels are all here.

use crate::domain::catalogue::Unseen;
use crate::inference::answer::{ConvertOutput, RevenueOutput, ScoreOutput, SegmentOutput};
use crate::inference::registry::{Registry, ReloadSummary, Snapshot, Trigger};
use crate::ml::model_file::{ModelName, Reading, ScoreDistribution};
use crate::scoring::Tier;
use metrics::{Counter, Gauge, Histogram};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock, Weak};

const REQUEST_SECONDS: &str = "http_request_duration_seconds";
const PROBABILITY: &str = "conversion_probability";

/// How often recorded histogram samples are folded into their buckets.
const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// A server's metrics; clones share them.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    /// Handles of each model version, made on its first answer.
    versions: RwLock<HashMap<(ModelName, u32), Arc<VersionMetrics>>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// An empty set of metrics, with its upkeep thread.
    pub fn new() -> Metrics {
        let seconds = [
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
        ];
        let probabilities: Vec<f64> = (1..=20).map(|i| f64::from(i) * 0.05).collect();
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(REQUEST_SECONDS.into()), &seconds)
            .and_then(|b| {
                b.set_buckets_for_metric(Matcher::Full(PROBABILITY.into()), &probabilities)
            })
            .unwrap_or_else(|e| {
                // Only an empty bucket list fails, and these are not: plain buckets then.
                tracing::warn!(error = %e, "metrics buckets refused; using the defaults");
                PrometheusBuilder::new()
            });
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        let inner = Arc::new(Inner {
            recorder,
            handle,
            versions: RwLock::default(),
        });
        start_upkeep(Arc::downgrade(&inner));
        Metrics { inner }
    }

    /// Runs `register` against this handle's recorder: the `metrics` macros inside it
    /// make handles of this server's metrics, not of a process-wide recorder.
    fn with<T>(&self, register: impl FnOnce() -> T) -> T {
        metrics::with_local_recorder(&self.inner.recorder, register)
    }

    /// The text exposition format of everything recorded so far.
    pub fn render(&self) -> String {
        self.drift_gauges();
        self.inner.handle.run_upkeep();
        self.inner.handle.render()
    }

    pub fn request(&self, route: &str, method: &str, status: u16, seconds: f64) {
        let labels = [
            ("route", route.to_owned()),
            ("method", method.to_owned()),
            ("status", status.to_string()),
        ];
        self.with(|| {
            metrics::counter!("http_requests_total", &labels).increment(1);
            metrics::histogram!(REQUEST_SECONDS, &labels).record(seconds);
        });
    }

    /// The handles of one model version, made on first use; `distribution` (the version's
    /// training scores, for the drift figure) is asked for only then.
    fn version(
        &self,
        model: ModelName,
        version: u32,
        distribution: impl FnOnce() -> Option<ScoreDistribution>,
    ) -> Arc<VersionMetrics> {
        if let Some(found) = self
            .inner
            .versions
            .read()
            .ok()
            .and_then(|c| c.get(&(model, version)).cloned())
        {
            return found;
        }
        let made = Arc::new(self.with(|| VersionMetrics {
            predictions: metrics::counter!("predictions_total", "model" => model.as_str(), "version" => version.to_string()),
            probability: metrics::histogram!(PROBABILITY, "version" => version.to_string()),
            tiers: Tier::ALL.map(|tier| {
                metrics::counter!("conversion_tier_total", "version" => version.to_string(), "tier" => tier_label(tier))
            }),
            drift: Drift::new(distribution().as_ref()),
        }));
        match self.inner.versions.write() {
            Ok(mut c) => c.entry((model, version)).or_insert(made).clone(),
            Err(_) => made,
        }
    }

    /// Sets each conversion version's drift gauges from its live counts: the population
    /// stability index (`conversion_drift_psi`) and the probabilities behind it
    /// (`conversion_drift_samples`), over the last [`DRIFT_MINUTES`].
    fn drift_gauges(&self) {
        let Ok(versions) = self.inner.versions.read() else {
            return;
        };
        let now = std::time::SystemTime::now();
        self.with(|| {
            for ((model, version), m) in versions.iter() {
                if *model != ModelName::Convert {
                    continue;
                }
                if let Some((psi, samples)) = m.drift.psi(now) {
                    metrics::gauge!("conversion_drift_psi", "version" => version.to_string())
                        .set(psi);
                    metrics::gauge!("conversion_drift_samples", "version" => version.to_string())
                        .set(samples as f64);
                }
            }
        });
    }

    /// Counts one reload and what it did: `model_reloads_total` by trigger,
    /// `model_loads_total` by result, and from the snapshot it made, `model_info`,
    /// `model_failed_versions` and `model_folder_problem`.
    pub fn reloaded(&self, trigger: Trigger, summary: &ReloadSummary, snapshot: &Snapshot) {
        self.with(|| {
            metrics::counter!("model_reloads_total", "trigger" => trigger.as_str()).increment(1);
            let loads = |model: ModelName, result: &'static str| {
                metrics::counter!("model_loads_total", "model" => model.as_str(), "result" => result)
                    .increment(1);
            };
            for loaded in &summary.loaded {
                loads(loaded.model, "loaded");
            }
            for refused in &summary.failed {
                loads(refused.version.model, "failed");
            }
            let info = |model: ModelName, version: u32, value: f64| {
                metrics::gauge!("model_info", "model" => model.as_str(), "version" => version.to_string())
                    .set(value);
            };
            // 1 for the default version, 0.5 for another loaded one, 0 once unloaded.
            for gone in &summary.unloaded {
                info(gone.model, gone.version, 0.0);
            }
            for name in ModelName::ALL {
                let slot = snapshot.info(name);
                for (version, _) in &slot.loaded {
                    let value = if slot.default == Some(*version) { 1.0 } else { 0.5 };
                    info(name, *version, value);
                }
                metrics::gauge!("model_failed_versions", "model" => name.as_str())
                    .set(slot.failed.len() as f64);
                // 1 while the last scan could not replace the loaded versions (folder
                // gone, unreadable or without a valid version), which keep serving.
                metrics::gauge!("model_folder_problem", "model" => name.as_str())
                    .set(if slot.problem.is_some() { 1.0 } else { 0.0 });
            }
        });
    }

    /// Values of a shop's clicks that the answering version's catalogue or product table
    /// did not know: scored as "other" or unseen, never refused, and counted here
    /// (`unseen_values_total{schema, field}`, the field `product`, `category` or an
    /// attribute's name) so a catalogue drifting from training shows.
    pub fn unseen(&self, reading: &Reading, unseen: &Unseen) {
        let Some(shop) = reading.shop() else {
            return;
        };
        if unseen.is_empty() {
            return;
        }
        let schema = shop.schema.name.clone();
        let counts = unseen.by_field(&shop.schema);
        self.with(|| {
            for (field, n) in counts {
                metrics::counter!("unseen_values_total", "schema" => schema.clone(), "field" => field)
                    .increment(n);
            }
        });
    }

    /// Request bodies admitted and not yet answered, in bytes, of one pool.
    pub fn body_bytes_in_flight(&self, pool: &'static str) -> Gauge {
        self.with(|| metrics::gauge!("body_bytes_in_flight", "pool" => pool))
    }

    /// Requests refused because a pool had no room (503).
    pub fn shed(&self, pool: &'static str) -> Counter {
        self.with(|| metrics::counter!("requests_shed_total", "pool" => pool))
    }
}

/// The service's one reload: the registry's, then counted in `metrics`. Start-up, `SIGHUP`,
/// polling and `/admin/reload` all go through it.
pub fn reload(registry: &Registry, metrics: &Metrics, trigger: Trigger) -> ReloadSummary {
    let summary = registry.reload(trigger);
    // Reloads run one at a time, so this is the snapshot that reload made, unless another
    // has followed it already: that one then counts its own, later.
    metrics.reloaded(trigger, &summary, &registry.snapshot());
    summary
}

/// The `tier` label: the tier as its answers spell it (serde's name).
fn tier_label(tier: Tier) -> String {
    match serde_json::to_value(tier) {
        Ok(serde_json::Value::String(name)) => name,
        _ => format!("{tier:?}"),
    }
}

/// The recorder keeps every histogram sample until upkeep folds it into the buckets; with
/// no one scraping `/metrics` that grew without bound (about 16 bytes per request: a load
/// test of several million requests took the server to 254 MiB). A recorder that is not
/// installed gets no upkeep of its own, so a small thread runs it, until the metrics it
/// keeps are dropped.
fn start_upkeep(metrics: Weak<Inner>) {
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || loop {
            std::thread::sleep(UPKEEP_EVERY);
            match metrics.upgrade() {
                Some(inner) => inner.handle.run_upkeep(),
                None => return,
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "metrics upkeep did not start: histograms will grow until scraped");
    }
}

/// What an answer adds to the metrics: the predictions of its versions, and for
/// conversion its probability and tier, for a segment its persona.
pub trait Recorded {
    /// `snapshot` is the one the answer came from (for a version's training scores).
    fn record(&self, metrics: &Metrics, snapshot: &Snapshot);
}

impl Recorded for ConvertOutput {
    fn record(&self, metrics: &Metrics, snapshot: &Snapshot) {
        let version = self.model_version;
        let m = metrics.version(ModelName::Convert, version, || {
            snapshot
                .convert
                .get(version)
                .ok()
                .and_then(|l| l.manifest.score_distribution.clone())
        });
        m.predictions.increment(1);
        let a = &self.answer;
        if !a.already_converted {
            m.probability.record(a.probability);
            if let Some(counter) = m.tiers.get(a.tier as usize) {
                counter.increment(1);
            }
            m.drift.record(a.probability, std::time::SystemTime::now());
        }
    }
}

impl Recorded for RevenueOutput {
    fn record(&self, metrics: &Metrics, _: &Snapshot) {
        metrics
            .version(ModelName::Revenue, self.model_version, || None)
            .predictions
            .increment(1);
    }
}

impl Recorded for SegmentOutput {
    fn record(&self, metrics: &Metrics, _: &Snapshot) {
        metrics
            .version(ModelName::Segment, self.model_version, || None)
            .predictions
            .increment(1);
        let (version, persona) = (self.model_version.to_string(), self.answer.name.clone());
        metrics.with(|| {
            metrics::counter!("persona_assignments_total", "version" => version, "persona" => persona)
                .increment(1);
        });
    }
}

impl Recorded for ScoreOutput {
    fn record(&self, metrics: &Metrics, snapshot: &Snapshot) {
        self.convert.record(metrics, snapshot);
        self.revenue.record(metrics, snapshot);
        self.segment.record(metrics, snapshot);
    }
}

/// Metric handles of one model version, made once: the scoring path then only bumps
/// atomics instead of building and hashing label sets per request.
struct VersionMetrics {
    predictions: Counter,
    probability: Histogram,
    /// Answers by tier, indexed by [`Tier`].
    tiers: [Counter; 3],
    drift: Drift,
}

/// Minutes of live conversion probabilities the drift figure covers.
pub const DRIFT_MINUTES: u64 = 15;
/// Live probabilities needed before the drift figure is given: fewer say little.
pub const DRIFT_MIN_SAMPLES: u64 = 200;

/// Live conversion probabilities of one version, counted in the ten bins that split its
/// training scores into tenths (from the quantiles its manifest stores), one set of
/// counts per minute over the last [`DRIFT_MINUTES`]. The population stability index
/// compares the live shares with the training tenths.
pub struct Drift {
    /// The nine inner edges: training quantiles 10%, 20%, ..., 90%; set by the first
    /// answer that brings its version's training distribution.
    edges: OnceLock<Vec<f64>>,
    /// Per slot: the minute it counts, then the ten counts.
    slots: Vec<[AtomicU64; 11]>,
}

impl Drift {
    pub fn new(distribution: Option<&ScoreDistribution>) -> Drift {
        let drift = Drift {
            edges: OnceLock::new(),
            slots: (0..DRIFT_MINUTES)
                .map(|_| std::array::from_fn(|_| AtomicU64::new(0)))
                .collect(),
        };
        drift.learn(distribution);
        drift
    }

    /// Takes the training tenths from `distribution`, once.
    fn learn(&self, distribution: Option<&ScoreDistribution>) {
        if let Some(d) = distribution.filter(|d| d.quantiles.len() == 101) {
            let _ = self
                .edges
                .get_or_init(|| (1..10).map(|i| d.quantiles[i * 10]).collect());
        }
    }

    fn minute(now: std::time::SystemTime) -> u64 {
        now.duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() / 60)
    }

    /// Counts one live probability at `now`.
    pub fn record(&self, probability: f64, now: std::time::SystemTime) {
        let Some(edges) = self.edges.get() else {
            return;
        };
        if !probability.is_finite() {
            return;
        }
        let minute = Self::minute(now);
        let slot = &self.slots[(minute % DRIFT_MINUTES) as usize];
        // The first count of a new minute clears what the slot held a cycle ago. Two
        // threads racing here may lose a count or two: a figure over thousands.
        let stamp = minute + 1;
        if slot[0].load(Ordering::Relaxed) != stamp {
            slot[0].store(stamp, Ordering::Relaxed);
            for c in &slot[1..] {
                c.store(0, Ordering::Relaxed);
            }
        }
        let bin = edges.partition_point(|&e| e <= probability);
        slot[1 + bin].fetch_add(1, Ordering::Relaxed);
    }

    /// The live counts per bin over the last [`DRIFT_MINUTES`] before `now`.
    pub fn counts(&self, now: std::time::SystemTime) -> [u64; 10] {
        let minute = Self::minute(now);
        let mut out = [0u64; 10];
        for slot in &self.slots {
            let stamp = slot[0].load(Ordering::Relaxed);
            if stamp == 0 || stamp + DRIFT_MINUTES <= minute + 1 {
                continue;
            }
            for (o, c) in out.iter_mut().zip(&slot[1..]) {
                *o += c.load(Ordering::Relaxed);
            }
        }
        out
    }

    /// The population stability index of the live shares against the training tenths,
    /// and how many live probabilities it rests on; `None` below [`DRIFT_MIN_SAMPLES`] or
    /// without a stored training distribution.
    pub fn psi(&self, now: std::time::SystemTime) -> Option<(f64, u64)> {
        self.edges.get()?;
        let counts = self.counts(now);
        let total: u64 = counts.iter().sum();
        (total >= DRIFT_MIN_SAMPLES).then(|| (population_stability(&counts), total))
    }
}

/// The population stability index of `counts` against ten equal expected shares:
/// sum of (live - expected) * ln(live / expected). Half a count is added to each bin, so
/// an empty bin weighs much without making the sum infinite. Under 0.1 is usually read
/// as stable, over 0.25 as a shift worth a look.
pub fn population_stability(counts: &[u64; 10]) -> f64 {
    let total: f64 = counts.iter().map(|&c| c as f64 + 0.5).sum();
    counts
        .iter()
        .map(|&c| {
            let live = (c as f64 + 0.5) / total;
            (live - 0.1) * (live / 0.1).ln()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psi_is_zero_for_training_shares_and_grows_with_a_shift() {
        // Equal counts are the training tenths exactly: nothing has moved.
        assert!(population_stability(&[100; 10]).abs() < 1e-12);

        // Worked by hand. Counts 7 x5 and 2 x5, plus half a count each: 7.5 and 2.5 out of
        // 50, shares 0.15 and 0.05 against 0.1 expected.
        //   5 x (0.15 - 0.1) x ln(0.15 / 0.1) = 0.25 ln 1.5
        //   5 x (0.05 - 0.1) x ln(0.05 / 0.1) = 0.25 ln 2
        // in all 0.25 ln 3 = 0.274653...
        let halves = [7, 7, 7, 7, 7, 2, 2, 2, 2, 2];
        let psi = population_stability(&halves);
        assert!((psi - 0.274_653_072_167).abs() < 1e-9, "{psi}");

        // A mild tilt: 120 x5 and 80 x5, 1005 with the halves, shares 120.5/1005 = 0.119900
        // and 80.5/1005 = 0.080100.
        //   5 x 0.019900 x ln 1.199005 = 5 x 0.019900 x 0.181492 = 0.018059
        //   5 x 0.019900 x -ln 0.800995 = 5 x 0.019900 x 0.221901 = 0.022080
        // in all 0.04014: under 0.1, read as stable.
        let tilt = [120, 120, 120, 120, 120, 80, 80, 80, 80, 80];
        let psi = population_stability(&tilt);
        assert!((psi - 0.04014).abs() < 5e-5, "{psi}");

        // Everything in the top tenth: nine shares of 0.5/1005 = 0.000498 and one of
        // 1000.5/1005 = 0.995522.
        //   9 x (0.000498 - 0.1) x ln 0.004975 = 9 x 0.099502 x 5.303305 = 4.74923
        //   (0.995522 - 0.1) x ln 9.955224 = 0.895522 x 2.298097 = 2.05800
        // in all 6.8072: far over 0.25, a shift worth a look.
        let mut shifted = [0u64; 10];
        shifted[9] = 1000;
        let psi = population_stability(&shifted);
        assert!((psi - 6.8072).abs() < 5e-4, "{psi}");
    }

    #[test]
    fn drift_counts_live_probabilities_by_training_tenth_over_the_last_minutes() {
        let distribution = ScoreDistribution {
            quantiles: (0..=100).map(|i| f64::from(i) / 100.0).collect(),
        };
        let drift = Drift::new(Some(&distribution));
        let start = std::time::UNIX_EPOCH + std::time::Duration::from_secs(600 * 60);
        for i in 0..300 {
            drift.record(f64::from(i % 10) / 10.0 + 0.05, start);
        }
        assert_eq!(drift.counts(start), [30; 10]);
        let (psi, samples) = drift.psi(start).expect("enough samples");
        assert_eq!(samples, 300);
        assert!(psi.abs() < 1e-9, "{psi}");
        // Fifteen minutes on, the old counts have left the window.
        let later = start + std::time::Duration::from_secs(DRIFT_MINUTES * 60);
        assert_eq!(drift.counts(later), [0; 10]);
        assert_eq!(drift.psi(later), None);
        // A version without a stored distribution gives none.
        assert_eq!(Drift::new(None).psi(start), None);
    }

    #[test]
    fn the_recorder_comes_with_an_upkeep_thread() {
        let _metrics = Metrics::new();
        let names = || -> Vec<String> {
            std::fs::read_dir("/proc/self/task")
                .expect("procfs")
                .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
                .map(|n| n.trim().to_owned())
                .collect()
        };
        // A new thread names itself once it runs: give it a moment.
        for _ in 0..100 {
            if names().iter().any(|n| n == "metrics-upkeep") {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        panic!("no metrics-upkeep thread among {:?}", names());
    }
}
