//! API keys on the scoring routes; the admin token on `/admin/reload`.

use crate::helpers::{
    assert_problem, browsing, empty_models, reply, spawn_app, spawn_app_on, spawn_app_with,
};

#[test]
fn admin_reload_needs_its_token_and_is_absent_without_one() {
    let open = spawn_app();
    assert_problem(
        &open.post_raw("/admin/reload", "application/json", "", &[]),
        404,
    );
    let app = spawn_app_with(&[("ADMIN_TOKEN", "t0ken")]);
    assert_problem(
        &app.post_raw("/admin/reload", "application/json", "", &[]),
        401,
    );
    assert_problem(&app.admin_reload("nope"), 401);
}

#[test]
fn api_keys_guard_scoring_when_configured() {
    let app = spawn_app_with(&[("API_KEYS", "k1,k2")]);
    let body = browsing().to_string();
    assert_problem(
        &app.post_raw("/convert", "application/json", &body, &[]),
        401,
    );
    assert_problem(
        &app.post_raw(
            "/convert",
            "application/json",
            &body,
            &[("X-Api-Key", "bad")],
        ),
        401,
    );
    assert_eq!(
        app.post_raw(
            "/convert",
            "application/json",
            &body,
            &[("X-Api-Key", "k2")]
        )
        .status,
        200
    );
    // Probes stay open.
    assert_eq!(app.get("/readyz").status, 200);
}

/// With `API_KEYS` set: `/models` and its sub-routes need a key as scoring does; probes,
/// metrics and the documentation stay open (an orchestrator carries no key), and what they
/// show names no place on disk.
#[test]
fn with_keys_models_need_one_and_open_routes_show_no_absolute_path() {
    let app = spawn_app_with(&[("API_KEYS", "k1")]);
    let with_key = |path: &str| {
        reply(
            ureq::get(&format!("{}{path}", app.address))
                .set("X-Api-Key", "k1")
                .call(),
        )
    };
    for path in ["/models", "/models/convert", "/models/convert/1"] {
        assert_problem(&app.get(path), 401);
        assert_eq!(with_key(path).status, 200, "{path} with a key");
    }
    for path in ["/livez", "/readyz", "/metrics", "/openapi.json", "/docs/"] {
        assert_eq!(app.get(path).status, 200, "{path} is open");
    }

    // A models folder that is not there: readiness says so without saying where it is.
    let gone = empty_models();
    let missing = gone.path().join("not-here");
    let app = spawn_app_on(
        empty_models(),
        &[
            ("API_KEYS", "k1"),
            ("MODELS_DIR", missing.to_str().expect("a UTF-8 path")),
        ],
    );
    let r = app.get("/readyz");
    assert_problem(&r, 503);
    let detail = r.body["detail"].to_string();
    assert!(
        detail.contains("the models folder MODELS_DIR does not exist"),
        "{detail}"
    );
    assert!(
        !detail.contains(&gone.path().display().to_string()),
        "{detail}"
    );
}
