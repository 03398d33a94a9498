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

#[test]
fn readiness_names_the_models_folder_that_is_missing_or_empty() {
    let empty = spawn_app_on(empty_models(), &[]);
    let folder = empty.models.path().display().to_string();
    let detail = empty.get("/readyz").body["detail"].to_string();
    assert!(
        detail.contains(&format!("no version found in {folder}/convert")),
        "{detail}"
    );

    let gone = empty_models();
    let missing = gone.path().join("not-here");
    let app = spawn_app_on(
        empty_models(),
        &[("MODELS_DIR", missing.to_str().expect("a UTF-8 path"))],
    );
    let detail = app.get("/readyz").body["detail"].to_string();
    assert!(
        detail.contains(&format!(
            "the models folder {} does not exist",
            missing.display()
        )),
        "{detail}"
    );
}
