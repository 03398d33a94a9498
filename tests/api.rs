//! The real server on a random port, with a temporary models folder holding copies of the
//! shipped model files, spoken to over HTTP.

use clickstream::service::settings::Settings;
use clickstream::service::Application;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

struct TestApp {
    address: String,
    models: tempfile::TempDir,
}

/// Starts the server on its own thread and runtime; it stops when the test process ends.
fn spawn_app_with(env: &[(&str, &str)], with_models: bool) -> TestApp {
    let models = tempfile::tempdir().expect("temp dir");
    if with_models {
        for name in ["convert", "revenue", "segment"] {
            copy_version(
                &shipped().join(name).join("1"),
                &models.path().join(name).join("1"),
            );
        }
    }
    let mut vars = vec![
        ("PORT".to_string(), "0".to_string()),
        ("HOST".to_string(), "127.0.0.1".to_string()),
        ("WORKERS".to_string(), "2".to_string()),
        (
            "MODELS_DIR".to_string(),
            models.path().display().to_string(),
        ),
    ];
    vars.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let settings = Settings::from_vars(vars).expect("valid test settings");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let app = Application::build(settings).expect("the server binds");
            tx.send(app.port()).expect("the test waits for the port");
            app.run_until_stopped().await
        })
    });
    let port = rx.recv().expect("the server reports its port");
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        models,
    }
}

fn spawn_app() -> TestApp {
    spawn_app_with(&[], true)
}

fn shipped() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models")
}

fn copy_version(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create version folder");
    for file in ["manifest.json", "weights.json"] {
        std::fs::copy(from.join(file), to.join(file)).expect("copy model file");
    }
}

/// Publishes a copy of version 1 of `name` as `version` (only the manifest's number changes).
fn publish_copy(app: &TestApp, name: &str, version: u32) -> PathBuf {
    let dir = app.models.path().join(name).join(version.to_string());
    copy_version(&app.models.path().join(name).join("1"), &dir);
    let manifest_path = dir.join("manifest.json");
    let mut manifest: Value =
        serde_json::from_slice(&std::fs::read(&manifest_path).expect("read")).expect("json");
    manifest["version"] = json!(version);
    std::fs::write(&manifest_path, serde_json::to_vec(&manifest).expect("json")).expect("write");
    dir
}

struct Reply {
    status: u16,
    content_type: String,
    request_id: Option<String>,
    body: Value,
}

fn reply(result: Result<ureq::Response, ureq::Error>) -> Reply {
    let response = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("transport error: {e}"),
    };
    let status = response.status();
    let content_type = response.header("content-type").unwrap_or("").to_owned();
    let request_id = response.header("x-request-id").map(str::to_owned);
    let text = response.into_string().expect("a text body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Reply {
        status,
        content_type,
        request_id,
        body,
    }
}

impl TestApp {
    fn get(&self, path: &str) -> Reply {
        reply(ureq::get(&format!("{}{path}", self.address)).call())
    }

    fn post_json(&self, path: &str, body: &Value) -> Reply {
        self.post_raw(path, "application/json", &body.to_string(), &[])
    }

    fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: &str,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request =
            ureq::post(&format!("{}{path}", self.address)).set("Content-Type", content_type);
        for (k, v) in headers {
            request = request.set(k, v);
        }
        reply(request.send_string(body))
    }
}

fn click(order: i64, product: &str, price: f64) -> Value {
    let category = match &product[..1] {
        "A" => 1,
        "B" => 2,
        "C" => 3,
        _ => 4,
    };
    json!({"year": 2008, "month": 7, "day": 3, "order": order, "country": 29,
           "page1_main_category": category, "page2_clothing_model": product, "colour": 3,
           "location": 2, "model_photography": 1, "price": price, "price_2": 2, "page": 1})
}

fn session(id: &str, clicks: Vec<Value>) -> Value {
    json!({"session_id": id, "clicks": clicks})
}

fn browsing() -> Value {
    session(
        "s-1",
        vec![
            click(2, "B4", 52.0),
            click(1, "A13", 28.0),
            click(3, "C7", 38.0),
        ],
    )
}

fn assert_problem(r: &Reply, status: u16) {
    assert_eq!(r.status, status, "{:?}", r.body);
    assert_eq!(r.content_type, "application/problem+json");
    assert_eq!(r.body["status"], status);
    assert!(
        r.body["title"].is_string() && r.body["detail"].is_string(),
        "{:?}",
        r.body
    );
}

#[test]
fn each_scoring_route_answers_with_its_model_and_version() {
    let app = spawn_app();
    let c = app.post_json("/convert", &browsing());
    assert_eq!(c.status, 200, "{:?}", c.body);
    assert_eq!(
        (
            c.body["session_id"].as_str(),
            c.body["model"].as_str(),
            c.body["model_version"].as_u64()
        ),
        (Some("s-1"), Some("convert"), Some(1))
    );
    let p = c.body["probability"].as_f64().expect("probability");
    assert!(p > 0.0 && p < 1.0);
    assert_eq!(
        c.body["will_convert"].as_bool(),
        Some(p >= c.body["threshold"].as_f64().expect("threshold"))
    );
    assert!(["high", "medium", "low"].contains(&c.body["tier"].as_str().expect("tier")));
    assert!(c.body.get("explanation").is_none());

    let r = app.post_json("/revenue", &browsing());
    assert_eq!(r.status, 200, "{:?}", r.body);
    let expected = r.body["expected_revenue"].as_f64().expect("expected");
    let if_converts = r.body["revenue_if_converts"].as_f64().expect("if converts");
    let probability = r.body["probability"].as_f64().expect("probability");
    assert!((expected - probability * if_converts).abs() < 1e-9);

    let s = app.post_json("/segment", &browsing());
    assert_eq!(s.status, 200, "{:?}", s.body);
    assert!(s.body["name"].as_str().is_some_and(|n| !n.is_empty()));
    assert!(s.body["distance"].as_f64().is_some());

    let all = app.post_json("/score", &browsing());
    assert_eq!(all.status, 200, "{:?}", all.body);
    assert_eq!(all.body["convert"]["probability"], c.body["probability"]);
    assert_eq!(all.body["segment"]["persona_id"], s.body["persona_id"]);
}

#[test]
fn explain_lists_the_features_that_pushed_the_score() {
    let app = spawn_app();
    let c = app.post_json("/convert?explain=true", &browsing());
    let parts = c.body["explanation"].as_array().expect("an explanation");
    assert!(!parts.is_empty() && parts.len() <= 6);
    let known = clickstream::features::NAMES;
    for part in parts {
        assert!(
            known.contains(&part["feature"].as_str().expect("name")),
            "{part}"
        );
    }
}

#[test]
fn a_session_holding_a_basket_event_has_already_converted() {
    let app = spawn_app();
    let bought = session(
        "s-2",
        vec![
            click(1, "A13", 28.0),
            click(2, "C7", 38.0),
            click(3, "C7", 38.0),
        ],
    );
    let c = app.post_json("/convert", &bought);
    assert_eq!(
        (
            c.body["already_converted"].as_bool(),
            c.body["probability"].as_f64()
        ),
        (Some(true), Some(1.0))
    );
    let r = app.post_json("/revenue", &bought);
    assert_eq!(r.body["already_converted"].as_bool(), Some(true));
    assert_eq!(r.body["expected_revenue"].as_f64(), Some(38.0));
}

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
    let app = spawn_app_with(&[("PIN_CONVERT", "1"), ("ADMIN_TOKEN", "t0ken")], true);
    publish_copy(&app, "convert", 2);
    let reloaded = app.post_raw(
        "/admin/reload",
        "application/json",
        "",
        &[("Authorization", "Bearer t0ken")],
    );
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
fn reload_picks_up_a_new_version_and_refuses_a_corrupt_one() {
    let app = spawn_app_with(&[("ADMIN_TOKEN", "t0ken")], true);
    let auth = [("Authorization", "Bearer t0ken")];
    publish_copy(&app, "convert", 2);
    let summary = app.post_raw("/admin/reload", "application/json", "", &auth);
    assert_eq!(summary.body["loaded"], json!(["convert/2"]));
    assert_eq!(
        app.post_json("/convert", &browsing()).body["model_version"],
        2
    );

    let corrupt = publish_copy(&app, "convert", 3);
    let weights = corrupt.join("weights.json");
    let mut bytes = std::fs::read(&weights).expect("read weights");
    bytes.extend_from_slice(b"  ");
    std::fs::write(&weights, bytes).expect("spoil weights");
    let summary = app.post_raw("/admin/reload", "application/json", "", &auth);
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
fn readiness_needs_every_model_and_says_what_is_missing() {
    let app = spawn_app_with(&[], false);
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
fn readiness_turns_true_once_every_model_has_a_valid_version() {
    let app = spawn_app_with(&[("ADMIN_TOKEN", "t")], false);
    assert_problem(&app.get("/readyz"), 503);
    for name in ["convert", "revenue"] {
        copy_version(
            &shipped().join(name).join("1"),
            &app.models.path().join(name).join("1"),
        );
    }
    app.post_raw(
        "/admin/reload",
        "application/json",
        "",
        &[("Authorization", "Bearer t")],
    );
    let r = app.get("/readyz");
    assert_problem(&r, 503);
    assert!(
        r.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("segment") && !d.contains("convert")),
        "{:?}",
        r.body
    );
    copy_version(
        &shipped().join("segment/1"),
        &app.models.path().join("segment/1"),
    );
    app.post_raw(
        "/admin/reload",
        "application/json",
        "",
        &[("Authorization", "Bearer t")],
    );
    assert_eq!(app.get("/readyz").status, 200);
}

#[test]
fn polling_picks_up_a_new_version_without_a_signal() {
    let app = spawn_app_with(&[("POLL_INTERVAL_SECS", "1")], true);
    publish_copy(&app, "segment", 2);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while app.get("/models/segment").body["default_version"] != 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "polling did not load version 2"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn admin_reload_needs_its_token_and_is_absent_without_one() {
    let open = spawn_app();
    assert_problem(
        &open.post_raw("/admin/reload", "application/json", "", &[]),
        404,
    );
    let app = spawn_app_with(&[("ADMIN_TOKEN", "t0ken")], true);
    assert_problem(
        &app.post_raw("/admin/reload", "application/json", "", &[]),
        401,
    );
    assert_problem(
        &app.post_raw(
            "/admin/reload",
            "application/json",
            "",
            &[("Authorization", "Bearer nope")],
        ),
        401,
    );
}

#[test]
fn api_keys_guard_scoring_when_configured() {
    let app = spawn_app_with(&[("API_KEYS", "k1,k2")], true);
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

#[test]
fn bad_requests_get_problem_documents_with_the_status_they_deserve() {
    let app = spawn_app();
    assert_problem(
        &app.post_raw("/convert", "application/json", "{not json", &[]),
        400,
    );
    assert_problem(&app.post_raw("/convert", "text/plain", "hello", &[]), 415);
    let wrong_type = app.post_raw(
        "/convert",
        "application/json",
        &json!({"session_id": "s", "clicks": [{"year": "2008"}]}).to_string(),
        &[],
    );
    assert_problem(&wrong_type, 422);
    assert_eq!(wrong_type.body["errors"][0]["path"], "clicks[0].year");
    let mut bad = browsing();
    bad["clicks"][1]["price"] = json!(0);
    bad["clicks"][2]["location"] = json!(7);
    let invalid = app.post_json("/convert", &bad);
    assert_problem(&invalid, 422);
    let paths: Vec<&str> = invalid.body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["path"].as_str())
        .collect();
    assert_eq!(paths, ["clicks[1].price", "clicks[2].location"]);
    let duplicate_order = session("s", vec![click(1, "A1", 10.0), click(1, "B2", 20.0)]);
    assert_problem(&app.post_json("/convert", &duplicate_order), 422);
    assert_problem(&app.post_json("/convert", &session("s", vec![])), 422);
    assert_problem(
        &app.post_json("/convert", &session("", vec![click(1, "A1", 10.0)])),
        422,
    );
    assert_problem(&app.get("/nowhere"), 404);
    let wrong_method = reply(ureq::delete(&format!("{}/convert", app.address)).call());
    assert_problem(&wrong_method, 405);
    assert_problem(&app.post_json("/models", &json!({})), 405);
    assert_problem(&app.get("/models/nothing"), 404);
}

#[test]
fn the_body_limit_admits_a_body_at_it_and_refuses_one_past_it() {
    let body = browsing().to_string();
    let limit = body.len().to_string();
    let app = spawn_app_with(&[("MAX_BODY_BYTES", &limit)], true);
    assert_eq!(
        app.post_raw("/convert", "application/json", &body, &[])
            .status,
        200
    );
    let longer = format!("{body} ");
    assert_problem(
        &app.post_raw("/convert", "application/json", &longer, &[]),
        413,
    );
}

#[test]
fn the_clicks_limit_admits_a_session_at_it_and_refuses_one_past_it() {
    let app = spawn_app_with(&[("MAX_CLICKS_PER_SESSION", "3")], true);
    assert_eq!(app.post_json("/convert", &browsing()).status, 200);
    let four = session(
        "s",
        (1..=4).map(|i| click(i, &format!("A{i}"), 10.0)).collect(),
    );
    let r = app.post_json("/convert", &four);
    assert_problem(&r, 422);
    assert_eq!(r.body["errors"][0]["path"], "clicks");
}

#[test]
fn request_ids_are_echoed_or_made() {
    let app = spawn_app();
    let r = reply(
        ureq::get(&format!("{}/livez", app.address))
            .set("X-Request-Id", "abc-123")
            .call(),
    );
    assert_eq!(r.request_id.as_deref(), Some("abc-123"));
    assert!(app
        .get("/livez")
        .request_id
        .is_some_and(|id| id.len() >= 32));
}

#[test]
fn models_lists_versions_manifests_and_defaults() {
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
    assert!(segment.body["loaded"][0]["manifest"]["personas"]
        .as_array()
        .is_some_and(|p| p.len() >= 3));
}

#[test]
fn docs_and_openapi_are_served() {
    let app = spawn_app();
    let doc = app.get("/openapi.json");
    assert_eq!(doc.status, 200);
    assert!(doc.body["paths"]["/convert"]["post"].is_object());
    let ui = reply(ureq::get(&format!("{}/docs/", app.address)).call());
    assert_eq!(ui.status, 200);
    assert!(
        ui.body
            .as_str()
            .is_some_and(|html| html.contains("swagger")),
        "the UI page"
    );
}

#[test]
fn the_committed_openapi_document_matches_the_code() {
    let committed =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi/openapi.json"))
            .expect("openapi/openapi.json is committed");
    let generated = clickstream::service::openapi()
        .to_pretty_json()
        .expect("serialisable")
        + "\n";
    assert!(
        committed == generated,
        "openapi/openapi.json is stale: run `clickstream openapi --out openapi/openapi.json`"
    );
}

const CSV_HEADER: &str = "year;month;day;order;country;session ID;page 1 (main category);page 2 (clothing model);colour;location;model photography;price;price 2;page";

fn csv_body() -> String {
    format!(
        "{CSV_HEADER}\n2008;7;3;1;29;a;1;A13;1;5;1;28;2;1\n2008;7;3;2;29;a;2;B4;1;5;1;52;1;1\n2008;7;3;1;9;b;4;P2;3;1;2;20;2;2\n2008;7;3;2;9;b;4;P2;3;1;2;20;2;2\n"
    )
}

#[test]
fn json_batches_answer_every_session_in_order() {
    let app = spawn_app();
    let batch = json!({"sessions": [browsing(), session("s-9", vec![click(1, "P3", 12.0)])]});
    for route in [
        "/convert/batch",
        "/revenue/batch",
        "/segment/batch",
        "/score/batch",
    ] {
        let r = app.post_json(route, &batch);
        assert_eq!(r.status, 200, "{route}: {:?}", r.body);
        let ids: Vec<&str> = r.body["results"]
            .as_array()
            .expect("results")
            .iter()
            .filter_map(|a| a["session_id"].as_str())
            .collect();
        assert_eq!(ids, ["s-1", "s-9"], "{route}");
    }
    // The same answer as the single route.
    let single = app.post_json("/convert", &browsing());
    let batched = app.post_json("/convert/batch", &batch);
    assert_eq!(
        batched.body["results"][0]["probability"],
        single.body["probability"]
    );
}

#[test]
fn csv_uploads_are_grouped_by_session_and_answer_in_json_or_csv() {
    let app = spawn_app();
    let r = app.post_raw("/score/batch", "text/csv", &csv_body(), &[]);
    assert_eq!(r.status, 200, "{:?}", r.body);
    let results = r.body["results"].as_array().expect("results");
    assert_eq!(results.len(), 2);
    // Session b clicked P2 twice in a row: it has converted.
    assert_eq!(results[1]["convert"]["already_converted"], true);

    let csv = app.post_raw(
        "/convert/batch",
        "text/csv",
        &csv_body(),
        &[("Accept", "text/csv")],
    );
    assert_eq!(csv.status, 200);
    assert!(csv.content_type.starts_with("text/csv"));
    let text = csv.body.as_str().expect("a CSV body");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "session_id,model_version,probability,will_convert,threshold,percentile,tier,already_converted");
    assert!(
        lines[1].starts_with("a,1,") && lines[2].starts_with("b,1,1.0,true"),
        "{text}"
    );

    let json_in_csv_out = app.post_raw(
        "/segment/batch",
        "application/json",
        &json!({"sessions": [browsing()]}).to_string(),
        &[("Accept", "text/csv")],
    );
    assert!(
        json_in_csv_out
            .body
            .as_str()
            .is_some_and(|t| t.starts_with("session_id,model,model_version,persona_id")),
        "{:?}",
        json_in_csv_out.body
    );
}

#[test]
fn batch_errors_name_the_session_line_and_column() {
    let app = spawn_app();
    let mut bad = browsing();
    bad["clicks"][0]["colour"] = json!(99);
    let r = app.post_json("/score/batch", &json!({"sessions": [browsing(), bad]}));
    assert_problem(&r, 422);
    assert_eq!(r.body["errors"][0]["path"], "sessions[1].clicks[0].colour");

    let csv = csv_body().replace(
        "2008;7;3;2;29;a;2;B4;1;5;1;52;1;1",
        "2008;7;3;2;29;a;2;B4;1;5;1;52;3;1",
    );
    let r = app.post_raw("/score/batch", "text/csv", &csv, &[]);
    assert_problem(&r, 422);
    assert_eq!(r.body["errors"][0]["path"], "line 3, column price 2");
    assert_problem(
        &app.post_raw("/score/batch", "text/plain", &csv_body(), &[]),
        415,
    );
    assert_problem(&app.post_raw("/score/batch", "text/csv", "", &[]), 400);
}

#[test]
fn the_sessions_limit_admits_a_batch_at_it_and_refuses_one_past_it() {
    let app = spawn_app_with(&[("MAX_SESSIONS_PER_BATCH", "2")], true);
    let two = json!({"sessions": [browsing(), session("s-2", vec![click(1, "A1", 10.0)])]});
    assert_eq!(app.post_json("/convert/batch", &two).status, 200);
    let three = json!({"sessions": [browsing(), browsing(), browsing()]});
    let r = app.post_json("/convert/batch", &three);
    assert_problem(&r, 422);
    assert_eq!(r.body["errors"][0]["path"], "sessions");
    let csv_three = format!("{}2008;7;3;1;29;c;1;A13;1;5;1;28;2;1\n", csv_body());
    assert_problem(
        &app.post_raw("/convert/batch", "text/csv", &csv_three, &[]),
        422,
    );
}

#[test]
fn a_canary_serves_a_stable_share_of_sessions() {
    let app = spawn_app_with(&[("CANARY", "convert:2:30"), ("ADMIN_TOKEN", "t")], true);
    publish_copy(&app, "convert", 2);
    publish_copy(&app, "convert", 3);
    app.post_raw(
        "/admin/reload",
        "application/json",
        "",
        &[("Authorization", "Bearer t")],
    );
    let sessions: Vec<Value> = (0..200)
        .map(|i| session(&format!("shopper-{i}"), vec![click(1, "A13", 28.0)]))
        .collect();
    let r = app.post_json("/convert/batch", &json!({"sessions": sessions}));
    let versions: Vec<u64> = r.body["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|a| a["model_version"].as_u64())
        .collect();
    let canary = versions.iter().filter(|v| **v == 2).count();
    assert!(versions.iter().all(|v| *v == 2 || *v == 3), "{versions:?}");
    assert!((40..=80).contains(&canary), "{canary} of 200 on the canary");
    // One shopper always meets the same version.
    let again = app.post_json("/convert/batch", &json!({"sessions": (0..200).map(|i| session(&format!("shopper-{i}"), vec![click(1, "A13", 28.0)])).collect::<Vec<_>>()}));
    let versions_again: Vec<u64> = again.body["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|a| a["model_version"].as_u64())
        .collect();
    assert_eq!(versions, versions_again);
}

#[test]
fn metrics_expose_requests_predictions_probabilities_personas_and_models() {
    let app = spawn_app();
    assert_eq!(app.post_json("/score", &browsing()).status, 200);
    let r = reply(ureq::get(&format!("{}/metrics", app.address)).call());
    assert_eq!(r.status, 200);
    assert!(r.content_type.starts_with("text/plain"));
    let text = r.body.as_str().expect("text");
    for needle in [
        "http_requests_total{",
        "route=\"/score\"",
        "http_request_duration_seconds_bucket{",
        "predictions_total{model=\"convert\",version=\"1\"}",
        "conversion_probability_bucket{",
        "persona_assignments_total{",
        "model_loads_total{model=\"segment\",result=\"loaded\"}",
        "model_info{model=\"revenue\",version=\"1\"} 1",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
}

#[test]
fn a_refused_version_is_tried_again_once_its_files_change() {
    let app = spawn_app_with(&[("ADMIN_TOKEN", "t")], true);
    let auth = [("Authorization", "Bearer t")];
    // A copy caught half-written: the manifest is missing.
    let dir = app.models.path().join("revenue/2");
    std::fs::create_dir_all(&dir).expect("create");
    std::fs::copy(
        app.models.path().join("revenue/1/weights.json"),
        dir.join("weights.json"),
    )
    .expect("copy");
    let r = app.post_raw("/admin/reload", "application/json", "", &auth);
    assert!(
        r.body["failed"][0]
            .as_str()
            .is_some_and(|f| f.starts_with("revenue/2")),
        "{:?}",
        r.body
    );
    // Unchanged files are not retried.
    let r = app.post_raw("/admin/reload", "application/json", "", &auth);
    assert_eq!(r.body["failed"], json!([]));
    publish_copy(&app, "revenue", 2);
    let r = app.post_raw("/admin/reload", "application/json", "", &auth);
    assert_eq!(r.body["loaded"], json!(["revenue/2"]));
    assert_eq!(app.get("/models/revenue").body["failed"], json!([]));
}
