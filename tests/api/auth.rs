//! API keys on the scoring routes; the admin token on `/admin/reload`.

use crate::helpers::{assert_problem, browsing, spawn_app, spawn_app_with};

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
