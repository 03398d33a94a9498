//! Prometheus metrics: one recorder per process, the names in one place. The lowest layer
//! of the service: it knows metric names and labels, not who records them.

use crate::ml::model_file::{ModelName, ScoreDistribution};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

const REQUEST_SECONDS: &str = "http_request_duration_seconds";
const PROBABILITY: &str = "conversion_probability";

/// The process-wide recorder (installed on first use; later servers in the same process,
/// as in tests, share it).
pub fn handle() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let seconds = [
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ];
            let probabilities: Vec<f64> = (1..=20).map(|i| f64::from(i) * 0.05).collect();
            PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(REQUEST_SECONDS.into()), &seconds)
                .and_then(|b| {
                    b.set_buckets_for_metric(Matcher::Full(PROBABILITY.into()), &probabilities)
                })
                .and_then(|b| b.install_recorder())
                .map_err(|e| tracing::warn!(error = %e, "metrics are disabled"))
                .ok()
                .inspect(start_upkeep)
        })
        .as_ref()
}

/// How often recorded histogram samples are folded into their buckets.
const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// The recorder keeps every histogram sample until upkeep folds it into the buckets; with
/// no one scraping `/metrics` that grew without bound (about 16 bytes per request: a load
/// test of several million requests took the server to 254 MiB). `install_recorder`
/// leaves upkeep to the caller, so a small thread runs it.
fn start_upkeep(handle: &PrometheusHandle) {
    let handle = handle.clone();
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || loop {
            std::thread::sleep(UPKEEP_EVERY);
            handle.run_upkeep();
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "metrics upkeep did not start: histograms will grow until scraped");
    }
}

/// The text exposition format of everything recorded so far.
pub fn render() -> String {
    match handle() {
        Some(h) => {
            drift_gauges();
            h.run_upkeep();
            h.render()
        }
        None => String::new(),
    }
}

pub fn request(route: &str, method: &str, status: u16, seconds: f64) {
    let labels = [
        ("route", route.to_owned()),
        ("method", method.to_owned()),
        ("status", status.to_string()),
    ];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!(REQUEST_SECONDS, &labels).record(seconds);
}

/// Metric handles of one model version, made once: the scoring path then only bumps
/// atomics instead of building and hashing label sets per request.
struct VersionMetrics {
    predictions: metrics::Counter,
    probability: metrics::Histogram,
    /// Answers by tier: high, medium, low.
    tiers: [metrics::Counter; 3],
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

type VersionCache = std::sync::RwLock<HashMap<(ModelName, u32), std::sync::Arc<VersionMetrics>>>;

fn version_cache() -> &'static VersionCache {
    static CACHE: OnceLock<VersionCache> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

fn version_metrics(
    model: ModelName,
    version: u32,
    distribution: Option<&ScoreDistribution>,
) -> std::sync::Arc<VersionMetrics> {
    let cache = version_cache();
    if let Some(found) = cache
        .read()
        .ok()
        .and_then(|c| c.get(&(model, version)).cloned())
    {
        return found;
    }
    let made = std::sync::Arc::new(VersionMetrics {
        predictions: metrics::counter!("predictions_total", "model" => model.as_str(), "version" => version.to_string()),
        probability: metrics::histogram!(PROBABILITY, "version" => version.to_string()),
        tiers: ["high", "medium", "low"].map(|tier| {
            metrics::counter!("conversion_tier_total", "version" => version.to_string(), "tier" => tier)
        }),
        drift: Drift::new(distribution),
    });
    if let Ok(mut c) = cache.write() {
        c.entry((model, version)).or_insert_with(|| made.clone());
    }
    made
}

pub fn prediction(model: ModelName, version: u32) {
    version_metrics(model, version, None)
        .predictions
        .increment(1);
}

/// A live conversion answer: its probability (in the histogram and the drift counts of
/// its version, whose training distribution is `distribution`) and its tier (0 high, 1
/// medium, 2 low).
pub fn conversion(
    version: u32,
    probability: f64,
    tier: usize,
    distribution: Option<&ScoreDistribution>,
) {
    let m = version_metrics(ModelName::Convert, version, distribution);
    m.drift.learn(distribution);
    m.probability.record(probability);
    if let Some(counter) = m.tiers.get(tier) {
        counter.increment(1);
    }
    m.drift.record(probability, std::time::SystemTime::now());
}

/// Sets each conversion version's drift gauges from its live counts: the population
/// stability index (`conversion_drift_psi`) and the probabilities behind it
/// (`conversion_drift_samples`), over the last [`DRIFT_MINUTES`].
fn drift_gauges() {
    let Ok(cache) = version_cache().read() else {
        return;
    };
    let now = std::time::SystemTime::now();
    for ((model, version), m) in cache.iter() {
        if *model != ModelName::Convert {
            continue;
        }
        if let Some((psi, samples)) = m.drift.psi(now) {
            metrics::gauge!("conversion_drift_psi", "version" => version.to_string()).set(psi);
            metrics::gauge!("conversion_drift_samples", "version" => version.to_string())
                .set(samples as f64);
        }
    }
}

pub fn persona(version: u32, name: &str) {
    metrics::counter!("persona_assignments_total", "version" => version.to_string(), "persona" => name.to_owned())
        .increment(1);
}

/// One reload ran, for whatever reason (`start`, `sighup`, `poll`, `admin`).
pub fn reload(trigger: &'static str) {
    metrics::counter!("model_reloads_total", "trigger" => trigger).increment(1);
}

/// A version was read from disk: loaded, or refused.
pub fn model_load(model: ModelName, loaded: bool) {
    let result = if loaded { "loaded" } else { "failed" };
    metrics::counter!("model_loads_total", "model" => model.as_str(), "result" => result)
        .increment(1);
}

/// Where a version stands, as the `model_info` gauge shows it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum VersionState {
    /// Loaded and answering requests that name no version.
    Default,
    Loaded,
    Unloaded,
}

pub fn model_info(model: ModelName, version: u32, state: VersionState) {
    let value = match state {
        VersionState::Default => 1.0,
        VersionState::Loaded => 0.5,
        VersionState::Unloaded => 0.0,
    };
    metrics::gauge!("model_info", "model" => model.as_str(), "version" => version.to_string())
        .set(value);
}

pub fn failed_versions(model: ModelName, count: usize) {
    metrics::gauge!("model_failed_versions", "model" => model.as_str()).set(count as f64);
}

/// 1 while the last scan could not replace a model's loaded versions (folder gone,
/// unreadable or without a valid version), which keep serving; 0 otherwise.
pub fn stale_versions(model: ModelName, stale: bool) {
    metrics::gauge!("model_folder_problem", "model" => model.as_str()).set(if stale {
        1.0
    } else {
        0.0
    });
}

/// Request bodies admitted and not yet answered, in bytes, per pool.
pub fn body_bytes_in_flight(pool: &'static str, delta: f64) {
    metrics::gauge!("body_bytes_in_flight", "pool" => pool).increment(delta);
}

/// A request refused because its pool had no room (503).
pub fn shed(pool: &'static str) {
    metrics::counter!("requests_shed_total", "pool" => pool).increment(1);
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
        assert!(handle().is_some());
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
