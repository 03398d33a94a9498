//! Prometheus metrics: one recorder per process, the names in one place. The lowest layer
//! of the service: it knows metric names and labels, not who records them.

use crate::ml::model_file::ModelName;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::collections::HashMap;
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
}

fn version_metrics(model: ModelName, version: u32) -> std::sync::Arc<VersionMetrics> {
    type Cache = std::sync::RwLock<HashMap<(ModelName, u32), std::sync::Arc<VersionMetrics>>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
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
    });
    if let Ok(mut c) = cache.write() {
        c.entry((model, version)).or_insert_with(|| made.clone());
    }
    made
}

pub fn prediction(model: ModelName, version: u32) {
    version_metrics(model, version).predictions.increment(1);
}

pub fn conversion_probability(version: u32, probability: f64) {
    version_metrics(ModelName::Convert, version)
        .probability
        .record(probability);
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
    #[test]
    fn the_recorder_comes_with_an_upkeep_thread() {
        assert!(super::handle().is_some());
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
