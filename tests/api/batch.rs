//! The batch routes: JSON and CSV in, JSON or CSV out, errors that point at the session,
//! line and column.

use crate::helpers::{assert_problem, browsing, click, csv_body, session, spawn_app};
use serde_json::json;

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
    assert_eq!(lines[0], "session_id,model,model_version,probability,will_convert,threshold,percentile,tier,already_converted");
    assert!(
        lines[1].starts_with("a,convert,1,") && lines[2].starts_with("b,convert,1,1.0,true"),
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
