//! Train and evaluate on the real UCI file (CI has it at ../shared/data; CLICKSTREAM_DATA
//! points elsewhere). Skips, saying so, when absent, unless CLICKSTREAM_REQUIRE_DATA=1.

use crate::data_file::real_data_or_skip;
use crate::helpers::{read_json, run_on, text};
use serde_json::Value;
use std::path::PathBuf;

#[test]
fn the_real_clickstream_trains_above_the_floors() {
    let Some(data) = real_data_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let models = dir.path().join("models");
    let out = run_on("train", &data, &models, &["--quiet"]);
    assert!(out.status.success(), "train failed: {}", text(&out.stderr));
    let report = read_json(&models.join("report.json"));
    let chosen = report["chosen_convert"].as_u64().expect("index") as usize;
    let m = &report["convert_candidates"][chosen]["metrics"];
    let auc = m["roc_auc"].as_f64().expect("auc");
    assert!(auc >= 0.57, "July ROC-AUC {auc} is under the floor");
    assert!(
        m["log_loss"].as_f64() < m["base_rate_log_loss"].as_f64(),
        "log loss not below the base rate: {m}"
    );
    let r = &report["revenue_candidates"]
        [report["chosen_revenue"].as_u64().expect("index") as usize]["metrics"];
    assert!(
        r["rmse"].as_f64() < r["best_constant_rmse"].as_f64(),
        "revenue does not beat the constant: {r}"
    );
    assert!(report["silhouette_training"]
        .as_f64()
        .is_some_and(|s| s >= 0.18));

    let out = run_on("evaluate", &data, &models, &["--json"]);
    assert!(
        out.status.success(),
        "evaluate failed: {}",
        text(&out.stderr)
    );
    let eval: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(eval["read"]["sessions"], 22102);
}

#[test]
fn no_real_session_is_told_it_will_convert_in_the_low_tier() {
    let Some(data) = real_data_or_skip() else {
        return;
    };
    let app = crate::helpers::spawn_app();
    let body = std::fs::read_to_string(&data).expect("read the data");
    let r = app.post_raw("/convert/batch", "text/csv", &body, &[]);
    assert_eq!(r.status, 200, "{}", r.body);
    let results = r.body["results"].as_array().expect("results");
    assert_eq!(results.len(), 22102);
    let contradictions: Vec<&Value> = results
        .iter()
        .filter(|a| a["will_convert"] == true && a["tier"] == "low")
        .collect();
    assert!(
        contradictions.is_empty(),
        "{} sessions will convert in the low tier, e.g. {}",
        contradictions.len(),
        contradictions[0]
    );
    assert!(results
        .iter()
        .any(|a| a["will_convert"] == true && a["tier"] == "medium"));
}

#[test]
fn the_documented_split_gives_back_the_training_file_and_its_checksum() {
    let Some(data) = real_data_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let out = std::process::Command::new("sh")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/split-uci.sh"))
        .arg(&data)
        .arg(dir.path())
        .output()
        .expect("sh runs");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let documented = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/data.md"))
        .expect("docs/data.md");
    let printed = text(&out.stdout);
    let sha = printed
        .lines()
        .find(|l| l.ends_with("apr-jul.csv"))
        .and_then(|l| l.split_whitespace().next())
        .expect("a checksum line");
    assert!(documented.contains(sha), "docs/data.md lacks {sha}");
    let shipped = read_json(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/convert/1/manifest.json"),
    );
    assert_eq!(shipped["training"]["sha256"], sha);
}
