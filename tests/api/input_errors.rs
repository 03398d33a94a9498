//! Errors in the API's own words: every type error with its full path and what the API
//! expects, query parameters by name, impossible dates by their month's length; batches
//! where one bad session does not have to sink the rest (`on_error`), and CSV batches that
//! report every bad line.

use crate::helpers::{browsing, click, session, spawn_app, spawn_app_with, CSV_HEADER};
use serde_json::{json, Value};

fn first_issue(r: &crate::helpers::Reply) -> (String, String) {
    let e = &r.body["errors"][0];
    (
        e["path"].as_str().unwrap_or("").to_owned(),
        e["message"].as_str().unwrap_or("").to_owned(),
    )
}

#[test]
fn type_errors_name_the_field_and_what_the_api_expects() {
    let app = spawn_app();
    let good = click(1, "A13", 28.0);
    let with = |field: &str, value: Value| {
        let mut c = good.clone();
        c[field] = value;
        session("s", vec![good.clone(), c])
    };
    let without = |field: &str| {
        let mut c = good.clone();
        c.as_object_mut().expect("object").remove(field);
        session("s", vec![good.clone(), c])
    };
    let cases: Vec<(Value, &str, &str)> = vec![
        (without("month"), "clicks[1].month", "required, but missing"),
        (
            without("page2_clothing_model"),
            "clicks[1].page2_clothing_model",
            "required, but missing",
        ),
        (
            with("year", json!("2008")),
            "clicks[1].year",
            "got the string \"2008\", expected a whole number",
        ),
        (
            with("year", json!(2008.5)),
            "clicks[1].year",
            "got the number 2008.5, expected a whole number",
        ),
        (
            with("price", json!("cheap")),
            "clicks[1].price",
            "expected a number",
        ),
        (
            with("page2_clothing_model", json!(13)),
            "clicks[1].page2_clothing_model",
            "got the number 13, expected a string",
        ),
        (
            with("colour", json!(null)),
            "clicks[1].colour",
            "got null, expected a whole number",
        ),
        (
            with("colour", json!([1])),
            "clicks[1].colour",
            "got an array, expected a whole number",
        ),
        (
            with("colour", json!({"a": 1})),
            "clicks[1].colour",
            "got an object, expected a whole number",
        ),
        (
            with("colour", json!(true)),
            "clicks[1].colour",
            "got true, expected a whole number",
        ),
        (
            json!({"session_id": "s", "clicks": [good.clone(), null]}),
            "clicks[1]",
            "expected a click",
        ),
        (
            json!({"session_id": 7, "clicks": [good.clone()]}),
            "session_id",
            "got the number 7, expected a string",
        ),
        (
            json!({"clicks": [good.clone()]}),
            "session_id",
            "required, but missing",
        ),
        (json!([]), "$", "got an array, expected a session"),
    ];
    for (body, path, message) in cases {
        let r = app.post_json("/convert", &body);
        assert_eq!(r.status, 422, "{body}: {}", r.body);
        let (p, m) = first_issue(&r);
        assert_eq!(p, path, "{}", r.body);
        assert!(m.contains(message), "{path}: {m:?} lacks {message:?}");
        for rust in ["i64", "u32", "usize", "f64", "invalid type", "struct "] {
            assert!(!m.contains(rust), "{path}: {m:?} speaks Rust");
        }
    }
    // Data after a valid body is no valid body.
    let r = app.post_raw(
        "/convert",
        "application/json",
        &format!("{}xyz", browsing()),
        &[],
    );
    assert_eq!(r.status, 400, "{}", r.body);
}

#[test]
fn query_parameters_are_named_with_what_they_take() {
    let app = spawn_app();
    for (query, name, expected) in [
        ("/convert?version=abc", "version", "a version number"),
        ("/convert?version=-1", "version", "a version number"),
        (
            "/convert?version=99999999999",
            "version",
            "a version number",
        ),
        ("/convert?explain=maybe", "explain", "true or false"),
        (
            "/score?convert_version=x",
            "convert_version",
            "a version number",
        ),
        ("/convert/batch?on_error=never", "on_error", "fail or skip"),
    ] {
        let (p, m) = refused_query(&app, query);
        assert_eq!(p, name, "{query}: {m}");
        assert!(m.contains(expected), "{query}: {m}");
    }
}

/// The first issue of the 422 a scoring route answers to `query` with a valid body.
fn refused_query(app: &crate::helpers::TestApp, query: &str) -> (String, String) {
    let body = if query.contains("batch") {
        json!({"sessions": [browsing()]})
    } else {
        browsing()
    };
    let r = app.post_json(query, &body);
    assert_eq!(r.status, 422, "{query}: {}", r.body);
    first_issue(&r)
}

#[test]
fn unknown_and_repeated_query_parameters_are_refused_by_name() {
    let app = spawn_app();
    for (query, name, says) in [
        // A misspelt version would otherwise serve the default one as if it were asked for.
        ("/convert?verison=2", "verison", "did you mean version?"),
        (
            "/convert?verison=2",
            "verison",
            "the query parameters here are version, explain",
        ),
        ("/revenue?segment_version=1", "segment_version", "version"),
        (
            "/score?convert_verison=1",
            "convert_verison",
            "did you mean convert_version?",
        ),
        (
            "/convert/batch?on_eror=skip",
            "on_eror",
            "did you mean on_error?",
        ),
        (
            "/segment/batch?limit=5",
            "limit",
            "version, explain, on_error",
        ),
        ("/convert?version=1&version=2", "version", "given 2 times"),
        (
            "/convert?explain=true&explain=false",
            "explain",
            "given 2 times",
        ),
    ] {
        let (p, m) = refused_query(&app, query);
        assert_eq!(p, name, "{query}: {m}");
        assert!(m.contains(says), "{query}: {m}");
    }
    // What each route does take still works, and a bare version on /score keeps its own
    // explanation rather than being called unknown.
    assert_eq!(
        app.post_json("/convert?version=1&explain=false", &browsing())
            .status,
        200
    );
    let batch = json!({"sessions": [browsing()]});
    assert_eq!(
        app.post_json("/score/batch?convert_version=1&on_error=skip", &batch)
            .status,
        200
    );
    let r = app.post_json("/score?version=1", &browsing());
    assert!(first_issue(&r).1.contains("convert_version"), "{}", r.body);
}

#[test]
fn every_shape_problem_of_a_session_is_listed_at_once() {
    let app = spawn_app();
    // A first request written by hand: one click with its year only, and no id.
    let r = app.post_json("/convert", &json!({"clicks": [{"year": 2008}]}));
    assert_eq!(r.status, 422, "{}", r.body);
    let issues: Vec<(String, String)> = r.body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| {
            (
                e["path"].as_str().unwrap_or("").into(),
                e["message"].as_str().unwrap_or("").into(),
            )
        })
        .collect();
    let missing: Vec<&str> = issues
        .iter()
        .filter(|(_, m)| m == "required, but missing")
        .map(|(p, _)| p.as_str())
        .collect();
    let click_fields =
        clickstream::service::wire::fields::<clickstream::service::wire::ClickInput>();
    let mut expected: Vec<String> = click_fields
        .iter()
        .filter(|f| **f != "year")
        .map(|f| format!("clicks[0].{f}"))
        .collect();
    expected.push("session_id".into());
    assert_eq!(missing, expected, "{}", r.body);
    assert_eq!(r.body["detail"], "13 fields are invalid");

    // Unknown, wrongly typed and missing fields, in several clicks and at the top.
    let mut first = click(1, "A13", 28.0);
    first["year"] = json!("2008");
    first["colur"] = json!(3);
    let mut third = click(3, "A13", 28.0);
    third.as_object_mut().expect("object").remove("price");
    let body = json!({"session_id": "s", "clicks": [first, click(2, "A13", 28.0), third, 5], "explain": true});
    let r = app.post_json("/convert", &body);
    assert_eq!(r.status, 422, "{}", r.body);
    let paths: Vec<&str> = r.body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["path"].as_str())
        .collect();
    assert_eq!(
        paths,
        [
            "clicks[0].colur",
            "clicks[0].year",
            "clicks[2].price",
            "clicks[3]",
            "explain"
        ],
        "{}",
        r.body
    );
    let said = |path: &str| {
        r.body["errors"]
            .as_array()
            .and_then(|e| e.iter().find(|e| e["path"] == path))
            .and_then(|e| e["message"].as_str())
            .unwrap_or("")
            .to_owned()
    };
    assert!(
        said("clicks[0].colur").contains("did you mean colour?"),
        "{}",
        r.body
    );
    assert!(
        said("explain").contains("the fields here are session_id, clicks"),
        "{}",
        r.body
    );
    assert!(said("clicks[3]").contains("expected a click"), "{}", r.body);

    // In a batch, a session of the wrong shape is left out under its id, with all of its
    // problems (the batch's own cap of 20 a session aside).
    let batch =
        json!({"sessions": [browsing(), {"session_id": "s-9", "clicks": [{"year": 2008}]}]});
    let r = app.post_json("/convert/batch?on_error=skip", &batch);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["errors"][0]["session_id"], "s-9", "{}", r.body);
    assert_eq!(
        r.body["errors"][0]["errors"].as_array().map(Vec::len),
        Some(12),
        "{}",
        r.body
    );

    // A body that is not an object has one problem, not one per item.
    let r = app.post_json("/convert", &json!([1, 2]));
    assert_eq!(
        r.body["errors"].as_array().map(Vec::len),
        Some(1),
        "{}",
        r.body
    );
    assert_eq!(first_issue(&r).0, "$");

    // A number past what a double holds is the field's problem, not malformed JSON.
    let text = serde_json::to_string(&browsing()).expect("json").replacen(
        "\"price\":52.0",
        "\"price\":1e400",
        1,
    );
    assert!(text.contains("1e400"), "{text}");
    let r = app.post_raw("/convert", "application/json", &text, &[]);
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(first_issue(&r).0, "clicks[0].price", "{}", r.body);
}

#[test]
fn impossible_dates_say_how_long_their_month_is() {
    let app = spawn_app();
    let mut june = click(1, "A13", 28.0);
    june["month"] = json!(6);
    june["day"] = json!(31);
    let mut february = click(2, "A13", 28.0);
    february["year"] = json!(2007);
    february["month"] = json!(2);
    february["day"] = json!(29);
    let r = app.post_json("/convert", &session("s", vec![june, february]));
    assert_eq!(r.status, 422);
    let messages = r.body["errors"].to_string();
    assert!(messages.contains("June has 30 days"), "{messages}");
    assert!(messages.contains("February 2007 has 28 days"), "{messages}");
    let csv = format!("{CSV_HEADER}\n2008;6;31;1;29;a;1;A13;1;5;1;28;2;1\n");
    let r = app.post_raw("/convert/batch", "text/csv", &csv, &[]);
    assert!(
        r.body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("June has 30 days")),
        "{}",
        r.body
    );
}

fn bad_csv() -> String {
    format!(
        "{CSV_HEADER}\n2008;4;1;1;29;s1;1;A13;1;5;1;28;2;1\n2008;6;31;1;29;s2;1;A13;1;5;1;28;2;1\n2008;4;1;1;29;s3;1;A13;1;9;1;28;2;1\n2008;4;1;1;29;s4;1;A13;1;5;1;28;2;1\n2008;4;1;2;29;s2;1;A13;1;5;1;28;2;x\n"
    )
}

#[test]
fn csv_batches_report_every_bad_line() {
    let app = spawn_app();
    let r = app.post_raw("/convert/batch", "text/csv", &bad_csv(), &[]);
    assert_eq!(r.status, 422);
    // Grouped by session, in the order sessions first appear.
    let paths: Vec<&str> = r.body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["path"].as_str())
        .collect();
    assert_eq!(
        paths,
        [
            "line 3, column day",
            "line 6, column page",
            "line 4, column location"
        ],
        "{}",
        r.body
    );
}

#[test]
fn on_error_skip_scores_the_rest_and_reports_each_left_out_session() {
    let app = spawn_app();
    // JSON: a wrong type and an impossible date, in sessions 1 and 2 of 4.
    let mut bad_type = click(1, "A13", 28.0);
    bad_type["year"] = json!("x");
    let mut bad_day = click(1, "A13", 28.0);
    bad_day["day"] = json!(31);
    bad_day["month"] = json!(4);
    let body = json!({"sessions": [browsing(), session("b", vec![bad_type]), session("c", vec![bad_day]), browsing()]});
    let r = app.post_json("/score/batch?on_error=skip", &body);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["results"].as_array().map(Vec::len), Some(2));
    let errors = r.body["errors"].as_array().expect("errors");
    assert_eq!(
        errors
            .iter()
            .map(|e| e["index"].as_u64())
            .collect::<Vec<_>>(),
        [Some(1), Some(2)]
    );
    assert_eq!(errors[1]["session_id"], "c");
    assert_eq!(errors[0]["errors"][0]["path"], "sessions[1].clicks[0].year");
    // The default still refuses the batch, listing both sessions' problems.
    let r = app.post_json("/score/batch", &body);
    assert_eq!(r.status, 422);
    assert_eq!(
        r.body["errors"].as_array().map(Vec::len),
        Some(2),
        "{}",
        r.body
    );
    assert!(r.body.get("results").is_none());
    // Without on_error the answer has no errors field at all.
    let r = app.post_json("/convert/batch", &json!({"sessions": [browsing()]}));
    assert!(r.body.get("errors").is_none(), "{}", r.body);

    // CSV in, CSV out: a row per session in file order, the skipped ones with their reason.
    let r = app.post_raw(
        "/convert/batch?on_error=skip",
        "text/csv",
        &bad_csv(),
        &[("Accept", "text/csv")],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let text = r.body.as_str().expect("csv").to_owned();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].ends_with(",error"), "{text}");
    assert_eq!(lines.len(), 5, "{text}");
    assert!(
        lines[1].starts_with("s1,convert,1,") && lines[1].ends_with(','),
        "{text}"
    );
    assert!(
        lines[2].starts_with("s2,,")
            && lines[2].contains("June has 30 days")
            && lines[2].contains("line 6, column page"),
        "{text}"
    );
    assert!(
        lines[3].starts_with("s3,,") && lines[3].contains("location"),
        "{text}"
    );
    assert!(lines[4].starts_with("s4,convert,1,"), "{text}");
    // CSV in, JSON out: indexes in order of first appearance.
    let r = app.post_raw("/convert/batch?on_error=skip", "text/csv", &bad_csv(), &[]);
    let indexes: Vec<u64> = r.body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["index"].as_u64())
        .collect();
    assert_eq!(indexes, [1, 2]);
}

#[test]
fn a_row_without_a_valid_session_cannot_be_skipped() {
    let app = spawn_app();
    let csv = format!(
        "{CSV_HEADER}\n2008;4;1;1;29;s1;1;A13;1;5;1;28;2;1\n2008;4;1;1;29;;1;A13;1;5;1;28;2;1\n"
    );
    let r = app.post_raw("/convert/batch?on_error=skip", "text/csv", &csv, &[]);
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("cannot be skipped")),
        "{}",
        r.body
    );
}

#[test]
fn a_problem_document_lists_at_most_1000_problems_with_the_total() {
    let app = spawn_app_with(&[("MAX_SESSIONS_PER_BATCH", "5000")]);
    let mut csv = format!("{CSV_HEADER}\n");
    for i in 0..1500 {
        csv.push_str(&format!("2008;4;1;1;29;s{i};1;A13;1;9;1;28;2;1\n"));
    }
    let r = app.post_raw("/convert/batch", "text/csv", &csv, &[]);
    assert_eq!(r.status, 422);
    assert_eq!(r.body["errors"].as_array().map(Vec::len), Some(1000));
    assert!(
        r.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("1500 problems")),
        "{}",
        r.body["detail"]
    );
    // The cap is a setting.
    let app = spawn_app_with(&[("MAX_PROBLEM_ISSUES", "7")]);
    let r = app.post_raw("/convert/batch", "text/csv", &csv, &[]);
    assert_eq!(r.body["errors"].as_array().map(Vec::len), Some(7));
}

#[test]
fn echoed_values_are_cut_short() {
    let app = spawn_app();
    let long = "x".repeat(200_000);
    let r = app.post_json("/convert", &session(&long, vec![click(1, "A13", 28.0)]));
    assert_eq!(r.status, 422);
    let size = r.body.to_string().len();
    assert!(
        size < 2_000,
        "a {size}-byte problem for a 200,000-character id"
    );
    assert!(
        r.body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("more characters")),
        "{}",
        r.body
    );
}

/// A body sent to the wrong kind of route, or under the wrong media type, is told where it
/// belongs, on every scoring route.
#[test]
fn a_body_on_the_wrong_route_or_media_type_is_told_where_it_belongs() {
    let app = spawn_app();
    let one = session("s", vec![click(1, "A13", 28.0)]);
    let array = json!([one]).to_string();
    let batch = json!({ "sessions": [one] }).to_string();
    let csv = crate::helpers::csv_body();
    for route in ["/convert", "/revenue", "/segment", "/score"] {
        let batch_route = format!("POST {route}/batch");
        let said = |r: &crate::helpers::Reply| {
            let (path, message) = first_issue(r);
            let detail = r.body["detail"].as_str().unwrap_or("").to_owned();
            format!("{path}: {message} / {detail}")
        };

        // A JSON array to a batch route: wrap it.
        let r = app.post_raw(&format!("{route}/batch"), "application/json", &array, &[]);
        assert_eq!(r.status, 422, "{}", r.body);
        assert!(said(&r).contains("{\"sessions\": [...]}"), "{}", said(&r));

        // CSV sent as JSON to a batch route: send it as text/csv.
        let r = app.post_raw(&format!("{route}/batch"), "application/json", &csv, &[]);
        assert_eq!(r.status, 400, "{}", r.body);
        assert!(said(&r).contains("Content-Type: text/csv"), "{}", said(&r));

        // JSON sent as CSV to a batch route: send it as application/json.
        let r = app.post_raw(&format!("{route}/batch"), "text/csv", &batch, &[]);
        assert!(
            said(&r).contains("Content-Type: application/json"),
            "{}",
            said(&r)
        );

        // A batch, an array or a CSV file to a single-session route: the batch route.
        for (content_type, body) in [
            ("application/json", &batch),
            ("application/json", &array),
            ("application/json", &csv),
            ("text/csv", &csv),
        ] {
            let r = app.post_raw(route, content_type, body, &[]);
            assert!(
                matches!(r.status, 400 | 415 | 422),
                "{content_type} to {route}: {}",
                r.body
            );
            assert!(
                said(&r).contains(&batch_route),
                "{content_type} to {route}: {}",
                said(&r)
            );
        }
    }
    // A session that is merely wrong is not sent elsewhere.
    let r = app.post_json("/convert", &json!({ "session_id": "s" }));
    assert!(
        !first_issue(&r).1.contains("/batch"),
        "{:?}",
        first_issue(&r)
    );
}
