//! Faults of the models folder: what is loaded and valid keeps serving until a valid
//! replacement exists, the reason is reported, and the service recovers by itself.

use crate::helpers::{browsing, publish_copy, spawn_app_with, start_serve_process, wait_until};
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
