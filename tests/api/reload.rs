//! Reloading the models folder: by the admin route and by polling, refusing corrupt or
//! half-written versions and trying them again once their files change, readiness turning
//! true. The reload on SIGHUP and at start is in `process`.

use crate::helpers::{
    assert_problem, browsing, copy_shipped, empty_models, publish_copy, publish_corrupt_copy,
    reload_not_recorded, spawn_app_on, spawn_app_with, wait_until,
};
use serde_json::json;

#[test]
fn reload_picks_up_a_new_version_and_refuses_a_corrupt_one() {
    let app = spawn_app_with(&[("ADMIN_TOKEN", "t0ken")]);
    publish_copy(app.models.path(), "convert", 2);
    let summary = app.admin_reload("t0ken");
    assert_eq!(summary.body["loaded"], json!(["convert/2"]));
    assert_eq!(
        app.post_json("/convert", &browsing()).body["model_version"],
        2
    );

    publish_corrupt_copy(app.models.path(), "convert", 3);
    let summary = app.admin_reload("t0ken");
    assert!(
        summary.body["failed"][0]
            .as_str()
            .is_some_and(|f| f.contains("checksum")),
        "{:?}",
        summary.body
    );
    // The service keeps serving what it had, and says why version 3 is not among them.
    assert_eq!(
        app.post_json("/convert", &browsing()).body["model_version"],
        2
    );
    let info = app.get("/models/convert");
    assert_eq!(info.body["failed"][0]["version"], 3);
    assert!(info.body["failed"][0]["reason"]
        .as_str()
        .is_some_and(|r| r.contains("checksum")));
    assert_eq!(app.get("/readyz").status, 200);
}

#[test]
fn a_refused_version_is_tried_again_once_its_files_change() {
    let app = spawn_app_with(&[("ADMIN_TOKEN", "t")]);
    // A copy caught half-written: the manifest is missing.
    let dir = app.models.path().join("revenue/2");
    std::fs::create_dir_all(&dir).expect("The version folder can be created.");
    std::fs::copy(
        app.models.path().join("revenue/1/weights.json"),
        dir.join("weights.json"),
    )
    .expect("The weights can be copied.");
    let r = app.admin_reload("t");
    assert!(
        r.body["failed"][0]
            .as_str()
            .is_some_and(|f| f.starts_with("revenue/2")),
        "{:?}",
        r.body
    );
    // Unchanged files are not retried.
    let r = app.admin_reload("t");
    assert_eq!(r.body["failed"], json!([]));
    publish_copy(app.models.path(), "revenue", 2);
    let r = app.admin_reload("t");
    assert_eq!(r.body["loaded"], json!(["revenue/2"]));
    assert_eq!(app.get("/models/revenue").body["failed"], json!([]));
}

#[test]
fn readiness_turns_true_once_every_model_has_a_valid_version() {
    let app = spawn_app_on(empty_models(), &[("ADMIN_TOKEN", "t")]);
    assert_problem(&app.get("/readyz"), 503);
    for name in ["convert", "revenue"] {
        copy_shipped(app.models.path(), name);
    }
    app.admin_reload("t");
    let r = app.get("/readyz");
    assert_problem(&r, 503);
    assert!(
        r.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("segment") && !d.contains("convert")),
        "{:?}",
        r.body
    );
    copy_shipped(app.models.path(), "segment");
    app.admin_reload("t");
    assert_eq!(app.get("/readyz").status, 200);
}

#[test]
fn polling_picks_up_a_new_version_without_a_signal() {
    let app = spawn_app_with(&[("POLL_INTERVAL_SECS", "1")]);
    publish_copy(app.models.path(), "segment", 2);
    app.wait_for_default_version("segment", 2, "after polling");
}

// Every trigger goes through one reload that counts itself under its trigger, counts each
// version loaded or refused, and sets `model_info`. The servers started in this process
// share one metrics recorder: each test here publishes a version of a model that no other
// test publishes, and among them only the polling test makes `segment` refuse a version.

#[test]
fn reload_by_polling_is_counted_with_its_trigger() {
    let app = spawn_app_with(&[("POLL_INTERVAL_SECS", "1")]);
    let before = app.metrics();
    publish_copy(app.models.path(), "segment", 7);
    publish_corrupt_copy(app.models.path(), "segment", 8);
    app.wait_for_default_version("segment", 7, "after polling");
    wait_until(10, "polling did not record its reload", || {
        reload_not_recorded(&before, &app.metrics(), "poll", "segment", 7)
    });
}

#[test]
fn reload_by_the_admin_route_is_counted_with_its_trigger() {
    let app = spawn_app_with(&[("ADMIN_TOKEN", "t")]);
    let before = app.metrics();
    publish_copy(app.models.path(), "revenue", 8);
    publish_corrupt_copy(app.models.path(), "revenue", 9);
    let summary = app.admin_reload("t");
    assert_eq!(summary.body["loaded"], json!(["revenue/8"]));
    let missing = reload_not_recorded(&before, &app.metrics(), "admin", "revenue", 8);
    assert!(
        missing.is_empty(),
        "the admin reload was not recorded:\n  {}",
        missing.join("\n  ")
    );
}
