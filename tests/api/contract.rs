//! The API's contract, as the running server keeps it: the OpenAPI document it serves
//! describes every response (CSV columns included, as the server writes them), CSV answers
//! use the JSON names, `Accept` is negotiated with its quality values, per-model versions
//! on `/score`, `explain` where it can be given, `HEAD` on the probes, the short `/models`
//! and the code tables of a click.

use crate::helpers::{
    assert_problem, browsing, click, empty_models, publish_copy, reply, session, shipped_models,
    spawn_app, spawn_app_on, Reply, TestApp,
};
use serde_json::{json, Value};
use std::path::Path;

const BATCH_ROUTES: [&str; 4] = [
    "/convert/batch",
    "/revenue/batch",
    "/segment/batch",
    "/score/batch",
];

fn batch_body() -> String {
    json!({"sessions": [browsing(), session("s-9", vec![click(1, "P3", 12.0), click(2, "P3", 12.0)])]})
        .to_string()
}

/// The CSV answer of `route` for the two-session batch: header and rows.
fn csv_answer(app: &TestApp, route: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let r = app.post_raw(
        route,
        "application/json",
        &batch_body(),
        &[("Accept", "text/csv")],
    );
    assert_eq!(r.status, 200, "{route}: {:?}", r.body);
    assert!(r.content_type.starts_with("text/csv"), "{route}");
    let text = r.body.as_str().expect("a CSV body").to_owned();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader
        .headers()
        .expect("a header")
        .iter()
        .map(str::to_owned)
        .collect();
    let rows = reader
        .records()
        .map(|r| r.expect("a row").iter().map(str::to_owned).collect())
        .collect();
    (header, rows)
}

#[test]
fn every_response_is_described_and_batch_routes_declare_the_csv_columns_they_write() {
    let app = spawn_app();
    let doc = app.get("/openapi.json").body;
    let mut undescribed = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("a path item") {
            let Some(responses) = op["responses"].as_object() else {
                continue;
            };
            for (status, response) in responses {
                if response["description"]
                    .as_str()
                    .is_none_or(|d| d.trim().is_empty())
                {
                    undescribed.push(format!("{method} {path} {status}"));
                }
                for (media, content) in response["content"].as_object().into_iter().flatten() {
                    if media == "text/csv" && content["description"].as_str().is_none() {
                        undescribed.push(format!("{method} {path} {status} {media}"));
                    }
                }
            }
        }
    }
    assert!(undescribed.is_empty(), "no description: {undescribed:?}");

    for route in BATCH_ROUTES {
        let ok = &doc["paths"][route]["post"]["responses"]["200"];
        let csv = &ok["content"]["text/csv"];
        let example = csv["example"].as_str().unwrap_or_else(|| {
            panic!("{route}: no text/csv 200 answer with an example header: {ok}")
        });
        let documented: Vec<&str> = example.lines().next().unwrap_or("").split(',').collect();
        let (written, _) = csv_answer(&app, route);
        assert_eq!(
            documented, written,
            "{route}: documented vs written columns"
        );
        let description = csv["description"].as_str().unwrap_or("");
        assert!(
            description.contains(&format!("`{}`", written.join(","))),
            "{route}: the description lists the columns: {description}"
        );
        assert!(
            ok["content"]["application/json"]["schema"].is_object(),
            "{route}"
        );
    }
    assert!(
        doc["paths"]["/score/batch"]["post"]["responses"]["200"]["content"]["text/csv"]
            ["description"]
            .as_str()
            .is_some_and(|d| d.contains("`convert.probability`")),
        "the dotted rule of nested answers is said"
    );
}

/// The JSON value at a dotted CSV column name.
fn at<'a>(answer: &'a Value, column: &str) -> &'a Value {
    column.split('.').fold(answer, |v, key| &v[key])
}

/// A JSON value as its CSV cell would read.
fn as_cell(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[test]
fn csv_answers_carry_the_json_names_and_values_and_identify_their_models() {
    let app = spawn_app();
    for route in BATCH_ROUTES {
        let (header, rows) = csv_answer(&app, route);
        let json = app.post_json(route, &serde_json::from_str(&batch_body()).expect("JSON"));
        let results = json.body["results"].as_array().expect("results");
        assert_eq!(rows.len(), results.len(), "{route}");
        assert_eq!(header[0], "session_id", "{route}");
        let identifying: Vec<&String> = header
            .iter()
            .filter(|c| c.ends_with("model") || c.ends_with("model_version"))
            .collect();
        let models = if route == "/score/batch" { 3 } else { 1 };
        assert_eq!(identifying.len(), 2 * models, "{route}: {header:?}");
        for (row, answer) in rows.iter().zip(results) {
            for (column, cell) in header.iter().zip(row) {
                let value = at(answer, column);
                assert!(!value.is_null(), "{route}: {column} is no JSON field");
                assert_eq!(&as_cell(value), cell, "{route}: {column}");
            }
        }
    }
}

fn accepting(app: &TestApp, route: &str, accept: &str) -> Reply {
    app.post_raw(
        route,
        "application/json",
        &batch_body(),
        &[("Accept", accept)],
    )
}

#[test]
fn accept_quality_values_choose_the_format_or_answer_406() {
    let app = spawn_app();
    for (accept, format) in [
        ("application/json;q=0.5, text/csv", "text/csv"),
        ("text/csv;q=0.4, application/json", "application/json"),
        ("*/*", "application/json"),
        ("text/*", "text/csv"),
        ("text/csv;q=0, */*", "application/json"),
    ] {
        let r = accepting(&app, "/convert/batch", accept);
        assert_eq!(r.status, 200, "{accept}: {:?}", r.body);
        assert!(
            r.content_type.starts_with(format),
            "{accept}: {}",
            r.content_type
        );
    }
    for accept in [
        "text/csv;q=0",
        "text/html",
        "application/json;q=0, text/csv;q=0",
    ] {
        let r = accepting(&app, "/score/batch", accept);
        assert_problem(&r, 406);
        assert_eq!(r.body["code"], "not_acceptable");
        let detail = r.body["detail"].as_str().unwrap_or("");
        assert!(
            detail.contains("application/json, text/csv"),
            "{accept}: the offered types: {detail}"
        );
    }
    // JSON-only routes negotiate too: JSON or 406.
    let single = browsing().to_string();
    let r = app.post_raw(
        "/convert",
        "application/json",
        &single,
        &[("Accept", "text/csv")],
    );
    assert_problem(&r, 406);
    assert!(r.body["detail"]
        .as_str()
        .is_some_and(|d| d.ends_with("application/json")));
    let r = app.post_raw(
        "/convert",
        "application/json",
        &single,
        &[("Accept", "*/*")],
    );
    assert_eq!(r.status, 200);
}

#[test]
fn explain_is_given_where_it_can_be_and_refused_naming_it_elsewhere() {
    let app = spawn_app();
    let body = browsing();
    let batch: Value = serde_json::from_str(&batch_body()).expect("JSON");
    for (route, body) in [
        ("/revenue?explain=true", &body),
        ("/segment?explain=true", &body),
        ("/revenue/batch?explain=true", &batch),
        ("/segment/batch?explain=true", &batch),
    ] {
        let r = app.post_json(route, body);
        assert_problem(&r, 422);
        assert_eq!(r.body["errors"][0]["path"], "explain", "{route}");
    }
    for route in ["/convert/batch?explain=true", "/score/batch?explain=true"] {
        let r = app.post_raw(
            route,
            "application/json",
            &batch.to_string(),
            &[("Accept", "text/csv")],
        );
        assert_problem(&r, 422);
        assert_eq!(r.body["errors"][0]["path"], "explain", "{route}");
        assert!(r.body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("CSV")));
    }
    let r = app.post_json("/convert/batch?explain=true", &batch);
    assert!(
        r.body["results"][0]["explanation"].is_array(),
        "{:?}",
        r.body
    );
    let r = app.post_json("/score?explain=true", &body);
    assert!(r.body["convert"]["explanation"].is_array(), "{:?}", r.body);
    assert_eq!(app.post_json("/revenue?explain=false", &body).status, 200);
}

#[test]
fn score_takes_a_version_per_model_and_refuses_a_bare_version() {
    let models = shipped_models();
    publish_copy(models.path(), "convert", 2);
    publish_copy(models.path(), "segment", 3);
    let app = spawn_app_on(models, &[]);
    let r = app.post_json("/score?convert_version=2&segment_version=3", &browsing());
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["convert"]["model_version"], 2);
    assert_eq!(r.body["revenue"]["model_version"], 1);
    assert_eq!(r.body["segment"]["model_version"], 3);
    let r = app.post_json(
        "/score/batch?revenue_version=1&convert_version=1",
        &serde_json::from_str(&batch_body()).expect("JSON"),
    );
    assert_eq!(
        r.body["results"][1]["convert"]["model_version"], 1,
        "{:?}",
        r.body
    );
    let r = app.post_json("/score?revenue_version=7", &browsing());
    assert_problem(&r, 404);
    assert_eq!(r.body["code"], "version_not_loaded");
    for route in ["/score?version=1", "/score/batch?version=1"] {
        let r = app.post_json(route, &browsing());
        assert_problem(&r, 422);
        assert_eq!(r.body["errors"][0]["path"], "version", "{route}");
        let message = r.body["errors"][0]["message"].as_str().unwrap_or("");
        for name in ["convert_version", "revenue_version", "segment_version"] {
            assert!(message.contains(name), "{route}: {message}");
        }
    }
}

/// `HEAD path`: status, headers and the body's length.
fn head(app: &TestApp, path: &str) -> (u16, Option<String>, usize) {
    let response = match ureq::head(&format!("{}{path}", app.address)).call() {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("transport error: {e}"),
    };
    let status = response.status();
    let content_type = response.header("content-type").map(str::to_owned);
    let body = response.into_string().expect("text").len();
    (status, content_type, body)
}

#[test]
fn head_answers_the_probes_like_get_without_a_body() {
    let ready = spawn_app();
    let empty = spawn_app_on(empty_models(), &[]);
    for (app, path) in [(&ready, "/livez"), (&ready, "/readyz"), (&empty, "/readyz")] {
        let get = reply(ureq::get(&format!("{}{path}", app.address)).call());
        let (status, content_type, body) = head(app, path);
        assert_eq!(status, get.status, "{path}");
        assert_eq!(
            content_type.as_deref(),
            Some(get.content_type.as_str()),
            "{path}"
        );
        assert_eq!(body, 0, "{path}: HEAD has no body");
    }
    assert_eq!(head(&empty, "/readyz").0, 503);
}

#[test]
fn models_is_short_with_roles_and_each_manifest_behind_its_own_route() {
    let models = shipped_models();
    publish_copy(models.path(), "convert", 2);
    publish_copy(models.path(), "convert", 3);
    let app = spawn_app_on(models, &[("PIN_CONVERT", "1"), ("CANARY", "convert:2:30")]);
    let all = app.get("/models").body;
    let text = all.to_string();
    assert!(text.len() < 2000, "/models is short: {} bytes", text.len());
    assert!(
        !text.contains("\"features\""),
        "no manifest in /models: {text}"
    );
    let revenue = &all[1];
    assert_eq!(revenue["name"], "revenue");
    assert!(revenue["pinned_version"].is_null());
    assert_eq!(
        revenue["loaded"],
        json!([{"version": 1, "status": "default", "click_schema": "uci-clothing-2008", "manifest": "/models/revenue/1"}])
    );
    assert_eq!(revenue["failed"], json!([]));
    assert_eq!(all[0]["canary"], json!({"version": 2, "percent": 30}));
    assert_eq!(
        all[0]["loaded"],
        json!([
            {"version": 1, "status": "default", "click_schema": "uci-clothing-2008", "manifest": "/models/convert/1"},
            {"version": 2, "status": "canary", "click_schema": "uci-clothing-2008", "manifest": "/models/convert/2"},
            {"version": 3, "status": "on_request", "click_schema": "uci-clothing-2008", "manifest": "/models/convert/3"},
        ])
    );
    assert_eq!(all[0]["pinned_version"], 1);

    let one = app.get("/models/revenue/1");
    assert_eq!(one.status, 200);
    assert_eq!(one.body["status"], "default");
    assert!(one.body["manifest"].is_object(), "{:?}", one.body);
    let missing = app.get("/models/revenue/9");
    assert_problem(&missing, 404);
    assert_eq!(missing.body["code"], "version_not_loaded");
    assert!(missing.body["detail"]
        .as_str()
        .is_some_and(|d| d.contains("[1]")));
    let unknown = app.get("/models/churn/1");
    assert_problem(&unknown, 404);
    assert!(unknown.body["detail"]
        .as_str()
        .is_some_and(|d| d.contains("convert, revenue, segment")));
}

#[test]
fn every_code_of_a_click_is_explained_in_docs_codes_md_and_the_openapi_document() {
    let app = spawn_app();
    let doc = app.get("/openapi.json").body;
    let click = &doc["components"]["schemas"]["ClickInput"]["properties"];
    let codes_md =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/codes.md"))
            .expect("docs/codes.md is committed");
    let mut missing = Vec::new();
    let mut coded = 0;
    for field in clickstream::domain::Field::ALL {
        let Some(codes) = field.codes() else {
            continue;
        };
        coded += 1;
        let section = codes_md
            .split("\n## ")
            .find(|s| s.starts_with(&format!("`{}`", field.name())))
            .unwrap_or("");
        let description = click[field.name()]["description"].as_str().unwrap_or("");
        for (code, meaning) in codes {
            if !section.contains(&format!("\n| {code} | {meaning} |")) {
                missing.push(format!("docs/codes.md: {} {code} {meaning}", field.name()));
            }
            if !description.contains(&format!("{code} {meaning}")) {
                missing.push(format!("OpenAPI: {} {code} {meaning}", field.name()));
            }
        }
    }
    assert_eq!(
        coded, 7,
        "country, category, colour, location, photography, price_2, page"
    );
    assert!(missing.is_empty(), "{}", missing.join("\n"));
    // The country names come from the data's description, not from memory.
    let variables = "1 Australia, 2 Austria";
    assert!(click["country"]["description"]
        .as_str()
        .is_some_and(|d| d.contains(variables)));
}
