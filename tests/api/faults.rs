//! Faults of the models folder: what is loaded and valid keeps serving until a valid
//! replacement exists, the reason is reported, and the service recovers by itself.

use crate::helpers::{
    browsing, copy_version, publish_copy, shipped_models, spawn_app_with, start_serve_process,
    start_serve_process_with, wait_until,
};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;

#[test]
fn a_models_folder_moved_away_keeps_the_loaded_versions_serving() {
    let server = start_serve_process();
    let app = &server.app;
    let models = app.models.path().to_owned();
    let away = models.with_extension("away");
    std::fs::rename(&models, &away).expect("move the folder away");
    server.signal("HUP");
    wait_until(
        10,
        "the reload on SIGHUP to notice the folder",
        || match server.logged("WARN", "models folder problem").len() {
            3 => Vec::new(),
            n => vec![format!("{n} of 3 models warned")],
        },
    );
    let r = app.post_json("/convert", &browsing());
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["model_version"], 1);
    assert_eq!(app.get("/readyz").status, 200);
    let listed = app.get("/models");
    assert!(
        listed.body[0]["problem"]
            .as_str()
            .is_some_and(|p| p.contains("cannot read")),
        "{}",
        listed.body
    );
    let metrics = app.metrics();
    assert_eq!(
        metrics.value("model_folder_problem", &[("model", "convert")]),
        Some(1.0),
        "{}",
        metrics.lines("model_folder_problem")
    );
    let warned = &server.logged("WARN", "models folder problem")[0];
    assert!(
        warned["fields"]["problem"].as_str().is_some_and(
            |p| p.contains("cannot read") && p.contains("serving the versions loaded before")
        ),
        "{warned}"
    );

    // Back in place: the next reload clears the problem by itself.
    std::fs::rename(&away, &models).expect("move the folder back");
    server.signal("HUP");
    wait_until(10, "the problem to clear", || {
        match server
            .logged("INFO", "models folder problem resolved")
            .len()
        {
            3 => Vec::new(),
            n => vec![format!("{n} of 3 models cleared")],
        }
    });
    let metrics = app.metrics();
    assert_eq!(
        metrics.value("model_folder_problem", &[("model", "convert")]),
        Some(0.0)
    );
}

#[test]
fn removing_every_version_keeps_the_last_ones_until_a_valid_one_returns() {
    let app = spawn_app_with(&[("ADMIN_TOKEN", "t")]);
    let convert = app.models.path().join("convert");
    let saved = tempfile::tempdir().expect("temp dir");
    std::fs::rename(convert.join("1"), saved.path().join("1")).expect("move version 1 away");
    let summary = app.admin_reload("t");
    assert_eq!(summary.status, 200);
    assert_eq!(
        summary.body["unloaded"],
        serde_json::json!([]),
        "{}",
        summary.body
    );
    assert_eq!(
        app.post_json("/convert", &browsing()).body["model_version"],
        1
    );
    assert_eq!(app.get("/readyz").status, 200);

    // A valid version coming back replaces what was kept.
    publish_copy(app.models.path(), "revenue", 2);
    std::fs::create_dir_all(&convert).expect("convert folder");
    std::fs::rename(saved.path().join("1"), convert.join("1")).expect("restore");
    let summary = app.admin_reload("t");
    assert_eq!(summary.body["loaded"], serde_json::json!(["revenue/2"]));
    assert_eq!(app.post_json("/convert", &browsing()).status, 200);
}

#[test]
fn a_fifo_in_a_version_folder_is_refused_without_hanging_the_reload() {
    let app = spawn_app_with(&[("ADMIN_TOKEN", "t")]);
    let dir = app.models.path().join("convert/2");
    std::fs::create_dir_all(&dir).expect("version folder");
    let made = Command::new("mkfifo")
        .arg(dir.join("manifest.json"))
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    let summary = app.admin_reload("t");
    assert!(
        summary.body["failed"][0]
            .as_str()
            .is_some_and(|f| f.starts_with("convert/2") && f.contains("not a regular file")),
        "{}",
        summary.body
    );
    assert_eq!(
        app.post_json("/convert", &browsing()).body["model_version"],
        1
    );
}

#[test]
fn version_folders_are_read_only_by_their_published_name() {
    let app = spawn_app_with(&[("ADMIN_TOKEN", "t")]);
    // Copies of version 1 under names that parse as numbers but are not how versions are
    // written: neither may be taken for version 8.
    for name in ["08", "+8", " 8"] {
        let copy = app.models.path().join("convert").join(name);
        let out = Command::new("cp")
            .arg("-r")
            .arg(app.models.path().join("convert/1"))
            .arg(&copy)
            .status()
            .expect("cp runs");
        assert!(out.success());
    }
    let summary = app.admin_reload("t");
    assert_eq!(
        summary.body["loaded"],
        serde_json::json!([]),
        "{}",
        summary.body
    );
    assert_eq!(
        summary.body["failed"],
        serde_json::json!([]),
        "{}",
        summary.body
    );
    let r = app.post_json("/convert?version=8", &browsing());
    assert_eq!(r.status, 404, "{}", r.body);
}

/// What breaks a version folder, as a function of the folder: each leaves it present but
/// unusable, and the refusal reason names the problem.
type Fault = (&'static str, fn(&Path), &'static str);

fn set_manifest(dir: &Path, change: impl FnOnce(&mut Value)) {
    let path = dir.join("manifest.json");
    let mut manifest: Value =
        serde_json::from_slice(&std::fs::read(&path).expect("manifest")).expect("JSON");
    change(&mut manifest);
    std::fs::write(&path, manifest.to_string()).expect("write the manifest");
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}

const FAULTS: [Fault; 6] = [
    (
        "truncated weights (checksum updated to match)",
        |dir| {
            let path = dir.join("weights.json");
            let bytes = std::fs::read(&path).expect("weights");
            let half = &bytes[..bytes.len() / 2];
            std::fs::write(&path, half).expect("truncate");
            let sum = sha256(half);
            set_manifest(dir, |m| m["weights_sha256"] = json!(sum));
        },
        "weights do not decode",
    ),
    (
        "weights that do not match the manifest's checksum",
        |dir| {
            let path = dir.join("weights.json");
            let mut bytes = std::fs::read(&path).expect("weights");
            bytes.extend_from_slice(b"  ");
            std::fs::write(&path, bytes).expect("append");
        },
        "checksum mismatch",
    ),
    (
        "a malformed manifest",
        |dir| std::fs::write(dir.join("manifest.json"), "{\"name\": \"convert\",").expect("write"),
        "not a valid manifest",
    ),
    (
        "a missing manifest",
        |dir| std::fs::remove_file(dir.join("manifest.json")).expect("remove"),
        "No such file",
    ),
    (
        "a feature schema from the future",
        |dir| {
            set_manifest(dir, |m| {
                m["feature_schema"]["version"] = json!(999);
                if let Some(names) = m["feature_schema"]["names"].as_array_mut() {
                    names.push(json!("feature_of_the_future"));
                }
            })
        },
        "feature schema mismatch",
    ),
    (
        "a half-written version (manifest there, weights not yet)",
        |dir| std::fs::remove_file(dir.join("weights.json")).expect("remove"),
        "weights.json: No such file",
    ),
];

/// Each fault in turn, on the next version of convert, with polling on: the loaded
/// version keeps answering, `/models`, the log and the metrics say why the new one is
/// refused, and once the files are fixed it loads by itself.
#[test]
fn each_broken_version_is_refused_with_its_reason_while_the_last_good_one_serves() {
    let server = start_serve_process_with(shipped_models(), &[("POLL_INTERVAL_SECS", "1")]);
    let app = &server.app;
    let models = app.models.path().to_owned();
    let mut serving = 1u64;
    for (i, (what, fault, reason)) in FAULTS.iter().enumerate() {
        let version = serving as u32 + 1;
        // Broken before it becomes visible, as a bad publish or a bad copy would leave it.
        let staging = models.join("convert").join(format!(".fault-{i}"));
        copy_version(&models.join("convert").join("1"), &staging);
        set_manifest(&staging, |m| m["version"] = json!(version));
        fault(&staging);
        std::fs::rename(&staging, models.join("convert").join(version.to_string()))
            .expect("into place");
        wait_until(10, &format!("{what}: version {version} refused"), || {
            let listed = app.get("/models/convert").body;
            let failed = listed["failed"].as_array().cloned().unwrap_or_default();
            match failed.iter().find(|f| f["version"] == version) {
                Some(f) if f["reason"].as_str().is_some_and(|r| r.contains(reason)) => vec![],
                Some(f) => vec![format!("refused for another reason: {f}")],
                None => vec![format!("not refused yet: {listed}")],
            }
        });
        let r = app.post_json("/convert", &browsing());
        assert_eq!(r.status, 200, "{what}: {}", r.body);
        assert_eq!(r.body["model_version"], serving, "{what}");
        assert_eq!(app.get("/readyz").status, 200, "{what}");
        let logged = server.logged("WARN", "model version refused");
        assert!(
            logged.iter().any(|l| l["fields"]["version"] == version
                && l["fields"]["reason"]
                    .as_str()
                    .is_some_and(|r| r.contains(reason))),
            "{what}: no log line: {logged:?}"
        );
        let metrics = app.metrics();
        assert!(
            metrics
                .value("model_failed_versions", &[("model", "convert")])
                .unwrap_or(0.0)
                >= 1.0,
            "{what}: {}",
            metrics.lines("model_failed")
        );

        // Fixed in place: the next poll loads it.
        publish_copy(&models, "convert", version);
        app.wait_for_default_version("convert", u64::from(version), what);
        let listed = app.get("/models/convert").body;
        assert_eq!(listed["failed"], json!([]), "{what}: {listed}");
        serving = u64::from(version);
    }
    assert_eq!(
        app.metrics()
            .value("model_failed_versions", &[("model", "convert")]),
        Some(0.0)
    );
}
