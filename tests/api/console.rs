//! The console at `/` and the training reports, over HTTP. What the page does in a browser
//! is tested end to end by tests/e2e/run.sh (Chromium).

use crate::helpers::{
    assert_problem, reply, shipped_models, spawn_app, spawn_app_on, spawn_app_with,
};

fn get(app: &crate::helpers::TestApp, path: &str) -> ureq::Response {
    match ureq::get(&format!("{}{path}", app.address)).call() {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("transport error: {e}"),
    }
}

#[test]
fn the_console_is_served_from_the_binary_and_talks_only_to_its_own_origin() {
    let app = spawn_app();
    let page = get(&app, "/");
    assert_eq!(page.status(), 200);
    assert_eq!(page.content_type(), "text/html");
    let policy = page
        .header("content-security-policy")
        .expect("a policy")
        .to_owned();
    for rule in [
        "default-src 'none'",
        "script-src 'self'",
        "connect-src 'self'",
    ] {
        assert!(policy.contains(rule), "{policy}");
    }
    let html = page.into_string().expect("text");
    assert!(html.contains("<title>clickstream console</title>"));
    // The code tables come from the domain's own, the one source of docs/codes.md.
    assert!(html.contains("[1,\"trousers\"]"), "no category codes");
    assert!(html.contains("Poland"), "no country names");
    assert!(!html.contains("/*CODES*/"));
    for (path, kind) in [
        ("/console.js", "text/javascript"),
        ("/console.css", "text/css"),
    ] {
        let r = get(&app, path);
        assert_eq!((r.status(), r.content_type()), (200, kind), "{path}");
    }
    assert!(html.contains("<link rel=\"icon\" href=\"/favicon.svg\""));
    // The icon, where the page names it and where browsers look by default, under the
    // same policy and no-sniffing as the page.
    for path in ["/favicon.svg", "/favicon.ico"] {
        let r = get(&app, path);
        assert_eq!(
            (r.status(), r.content_type()),
            (200, "image/svg+xml"),
            "{path}"
        );
        assert_eq!(
            r.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(
            r.header("content-security-policy"),
            Some(policy.as_str()),
            "{path}"
        );
        assert!(r.into_string().expect("text").starts_with("<svg"), "{path}");
    }
    for outside in ["http://", "https://", "//cdn"] {
        assert!(!html.contains(outside), "the page names {outside}");
    }
}

#[test]
fn reports_are_served_from_the_models_folder_and_named_when_missing() {
    let models = shipped_models();
    std::fs::write(models.path().join("report.html"), "<html>latest run</html>").expect("write");
    std::fs::write(
        models.path().join("convert/1/report.html"),
        "<html>version 1</html>",
    )
    .expect("write");
    let app = spawn_app_on(models, &[]);
    let r = reply(ureq::get(&format!("{}/report", app.address)).call());
    assert_eq!(
        (r.status, r.body.as_str()),
        (200, Some("<html>latest run</html>"))
    );
    let r = reply(ureq::get(&format!("{}/models/convert/1/report", app.address)).call());
    assert_eq!(
        (r.status, r.body.as_str()),
        (200, Some("<html>version 1</html>"))
    );
    // Loaded, but with no report in its folder.
    let r = app.get("/models/revenue/1/report");
    assert_problem(&r, 404);
    assert_eq!(r.body["code"], "report_not_found");
    assert!(
        r.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("MODELS_DIR/revenue/1/report.html")),
        "{}",
        r.body
    );
    assert_eq!(
        app.get("/models/revenue/9/report").body["code"],
        "version_not_loaded"
    );
    assert_eq!(
        app.get("/models/churn/1/report").body["code"],
        "model_not_found"
    );

    // With keys, reports need one, as /models does.
    let keyed = spawn_app_with(&[("API_KEYS", "k1")]);
    assert_problem(&keyed.get("/report"), 401);
    assert_problem(&keyed.get("/models/convert/1/report"), 401);
}
