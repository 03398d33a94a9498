//! The probes: `/livez` always, `/readyz` once every model has a default version.

use crate::helpers::{assert_problem, browsing, empty_models, spawn_app, spawn_app_on};

#[test]
fn readiness_needs_every_model_and_says_what_is_missing() {
    let app = spawn_app_on(empty_models(), &[]);
    assert_eq!(app.get("/livez").status, 200);
    let r = app.get("/readyz");
    assert_problem(&r, 503);
    assert!(
        r.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("convert")),
        "{:?}",
        r.body
    );
    assert_problem(&app.post_json("/convert", &browsing()), 503);

    let ready = spawn_app();
    assert_eq!(ready.get("/readyz").body["status"], "ready");
}
