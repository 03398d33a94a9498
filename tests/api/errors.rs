//! Bad requests get problem documents with the status they deserve; the body, clicks and
//! sessions limits admit a request at the limit and refuse one past it.

use crate::helpers::{
    assert_problem, browsing, click, csv_body, reply, session, spawn_app, spawn_app_with,
};
use serde_json::json;

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
    let app = spawn_app_with(&[("MAX_BODY_BYTES", &limit)]);
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
    let app = spawn_app_with(&[("MAX_CLICKS_PER_SESSION", "3")]);
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
fn the_sessions_limit_admits_a_batch_at_it_and_refuses_one_past_it() {
    let app = spawn_app_with(&[("MAX_SESSIONS_PER_BATCH", "2")]);
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
