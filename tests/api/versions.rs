//! Which version answers: `?version`, pins, canaries, and the `/models` listing.

use crate::helpers::{
    assert_problem, browsing, click, publish_copy, session, spawn_app, spawn_app_with,
};
use serde_json::{json, Value};

#[test]
fn versions_can_be_asked_for_and_unknown_ones_are_named() {
    let app = spawn_app();
    assert_eq!(app.post_json("/convert?version=1", &browsing()).status, 200);
    let missing = app.post_json("/convert?version=9", &browsing());
    assert_problem(&missing, 404);
    assert!(
        missing.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("[1]")),
        "{:?}",
        missing.body
    );
    assert_problem(&app.post_json("/convert?version=x", &browsing()), 422);
}

#[test]
fn a_pinned_version_serves_by_default_while_newer_ones_stay_available() {
    let app = spawn_app_with(&[("PIN_CONVERT", "1"), ("ADMIN_TOKEN", "t0ken")]);
    publish_copy(app.models.path(), "convert", 2);
    let reloaded = app.admin_reload("t0ken");
    assert_eq!(reloaded.status, 200, "{:?}", reloaded.body);
    assert_eq!(
        app.post_json("/convert", &browsing()).body["model_version"],
        1
    );
    assert_eq!(
        app.post_json("/convert?version=2", &browsing()).body["model_version"],
        2
    );
    assert_eq!(app.get("/models/convert").body["default_version"], 1);
}

#[test]
fn a_canary_serves_a_stable_share_of_sessions() {
    let app = spawn_app_with(&[("CANARY", "convert:2:30"), ("ADMIN_TOKEN", "t")]);
    publish_copy(app.models.path(), "convert", 2);
    publish_copy(app.models.path(), "convert", 3);
    app.admin_reload("t");
    let shoppers = || -> Vec<Value> {
        (0..200)
            .map(|i| session(&format!("shopper-{i}"), vec![click(1, "A13", 28.0)]))
            .collect()
    };
    let versions = || -> Vec<u64> {
        app.post_json("/convert/batch", &json!({"sessions": shoppers()}))
            .body["results"]
            .as_array()
            .expect("results")
            .iter()
            .filter_map(|a| a["model_version"].as_u64())
            .collect()
    };
    let first = versions();
    let canary = first.iter().filter(|v| **v == 2).count();
    assert!(first.iter().all(|v| *v == 2 || *v == 3), "{first:?}");
    assert!((40..=80).contains(&canary), "{canary} of 200 on the canary");
    // One shopper always meets the same version.
    assert_eq!(first, versions());
}

#[test]
fn models_lists_versions_and_defaults_and_each_manifest_has_its_route() {
    let app = spawn_app();
    let all = app.get("/models");
    let names: Vec<&str> = all
        .body
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|m| m["name"].as_str())
        .collect();
    assert_eq!(names, ["convert", "revenue", "segment"]);
    let segment = app.get("/models/segment");
    assert_eq!(segment.body["default_version"], 1);
    assert_eq!(segment.body["loaded"][0]["manifest"], "/models/segment/1");
    let manifest = app.get("/models/segment/1");
    assert_eq!(manifest.status, 200, "{:?}", manifest.body);
    assert!(manifest.body["manifest"]["personas"]
        .as_array()
        .is_some_and(|p| p.len() >= 3));
}
