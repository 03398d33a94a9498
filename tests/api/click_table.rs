//! The click is data: one table of fields ([`UCI`]). These tests are driven by it, so a
//! field added to the table is proved here without a line of test: each one spoiled in a
//! JSON and in a CSV body is named by its path with the table's own allowed text, and the
//! OpenAPI click schema lists exactly the table's fields with their ranges.

use crate::helpers::{spawn_app, Reply};
use clickstream::domain::schema::{Example, FieldSpec, Kind, Role, Rule};
use clickstream::domain::UCI;
use serde_json::{json, Map, Value};

/// A value of the field's type outside its range, vocabulary or pattern.
fn out_of_range(spec: &FieldSpec) -> Value {
    match &spec.rule {
        Rule::Whole { max, .. } => json!(max + 1),
        Rule::Codes(codes) => json!(codes.last().map_or(0, |c| c.code) + 1),
        Rule::Number { above, .. } => json!(above),
        Rule::Text {
            pattern: Some(_), ..
        } => json!("Z1"),
        Rule::Text { max_chars, .. } => json!("x".repeat(max_chars + 1)),
    }
}

/// A value of another type than the field's.
fn wrong_type(spec: &FieldSpec) -> Value {
    match spec.kind() {
        Kind::Whole | Kind::Number => json!("x"),
        Kind::Text => json!(13),
    }
}

/// A click of the table's examples.
fn example_click() -> Map<String, Value> {
    UCI.click_fields()
        .map(|s| (s.name.to_string(), s.example.json()))
        .collect()
}

fn example_id() -> String {
    UCI.fields
        .iter()
        .find(|s| s.role == Role::SessionId)
        .map(|s| s.example.to_string())
        .unwrap_or_else(|| "s".into())
}

/// A CSV body under the snake_case header, one row of the examples with `spoil` applied to
/// the field's cell; `None` leaves the column out.
fn csv_with(spec: &FieldSpec, cell: Option<String>) -> String {
    let (names, cells): (Vec<String>, Vec<String>) = UCI
        .fields
        .iter()
        .filter_map(|s| {
            if s.name == spec.name {
                cell.clone().map(|c| (s.name.to_string(), c))
            } else {
                Some((s.name.to_string(), s.example.to_string()))
            }
        })
        .unzip();
    format!("{}\n{}\n", names.join(","), cells.join(","))
}

/// A body with the field set to a value, or left out (`None`).
type Send = Box<dyn Fn(Option<Value>) -> Value>;

fn issues(r: &Reply) -> Vec<(String, String)> {
    r.body["errors"]
        .as_array()
        .map(|e| {
            e.iter()
                .map(|i| {
                    (
                        i["path"].as_str().unwrap_or("").to_owned(),
                        i["message"].as_str().unwrap_or("").to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn says(r: &Reply, path: &str, text: &str) -> bool {
    r.status == 422 && issues(r).iter().any(|(p, m)| p == path && m.contains(text))
}

#[test]
fn every_field_of_the_table_spoiled_in_json_is_named_with_the_tables_words() {
    let app = spawn_app();
    let mut failures = Vec::new();
    for spec in &UCI.fields {
        let allowed = spec.allowed();
        // The session id is the session's in JSON, each click's in CSV.
        let (path, send): (String, Send) = if spec.role == Role::SessionId {
            let clicks = vec![Value::Object(example_click())];
            (
                spec.name.to_string(),
                Box::new(move |v| {
                    let mut s = json!({"clicks": clicks});
                    if let Some(v) = v {
                        s["session_id"] = v;
                    }
                    s
                }),
            )
        } else {
            let name = spec.name.to_string();
            (
                format!("clicks[0].{name}"),
                Box::new(move |v| {
                    let mut click = example_click();
                    match v {
                        Some(v) => click.insert(name.clone(), v),
                        None => click.remove(&name),
                    };
                    json!({"session_id": example_id(), "clicks": [click]})
                }),
            )
        };
        for (case, value, text) in [
            ("out of range", Some(out_of_range(spec)), allowed.clone()),
            (
                "of the wrong type",
                Some(wrong_type(spec)),
                format!("expected {}", spec.kind().expected()),
            ),
            ("missing", None, "required, but missing".to_owned()),
        ] {
            let r = app.post_json("/convert", &send(value));
            if !says(&r, &path, &text) {
                failures.push(format!("{} {case}: {} {}", spec.name, r.status, r.body));
            }
        }
    }
    // The examples themselves make a valid session.
    let valid = json!({"session_id": example_id(), "clicks": [example_click()]});
    assert_ne!(app.post_json("/convert", &valid).status, 422);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_field_of_the_table_spoiled_in_csv_is_named_with_the_tables_words() {
    let app = spawn_app();
    let mut failures = Vec::new();
    let text = |v: Value| match v {
        Value::String(s) => s,
        other => other.to_string(),
    };
    for spec in &UCI.fields {
        let path = format!("line 2, column {}", spec.name);
        let mut cases = vec![
            (
                "out of range",
                csv_with(spec, Some(text(out_of_range(spec)))),
                path.clone(),
                spec.allowed(),
            ),
            (
                "missing",
                csv_with(spec, None),
                "header".to_owned(),
                format!("missing column(s) {}", spec.name),
            ),
        ];
        // Every CSV cell is text: only numbers can be of the wrong type.
        if spec.kind() != Kind::Text {
            cases.push((
                "of the wrong type",
                csv_with(spec, Some("x".into())),
                path.clone(),
                spec.allowed(),
            ));
        }
        for (case, body, path, text) in cases {
            let r = app.post_raw("/convert/batch", "text/csv", &body, &[]);
            if !says(&r, &path, &text) {
                failures.push(format!("{} {case}: {} {}", spec.name, r.status, r.body));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_csv_row_reports_every_bad_field() {
    let app = spawn_app();
    // Every click field of one row out of range at once.
    let (names, cells): (Vec<String>, Vec<String>) = UCI
        .fields
        .iter()
        .map(|s| {
            let cell = if s.role == Role::SessionId || s.field == clickstream::domain::Field::Day {
                // A valid id keeps the row skippable; the day's check needs a real month.
                s.example.to_string()
            } else {
                match out_of_range(s) {
                    Value::String(t) => t,
                    v => v.to_string(),
                }
            };
            (s.name.to_string(), cell)
        })
        .unzip();
    let body = format!("{}\n{}\n", names.join(","), cells.join(","));
    let r = app.post_raw("/convert/batch", "text/csv", &body, &[]);
    let paths: Vec<String> = issues(&r).into_iter().map(|(p, _)| p).collect();
    let expected: Vec<String> = UCI
        .fields
        .iter()
        .filter(|s| s.role != Role::SessionId && s.field != clickstream::domain::Field::Day)
        .map(|s| format!("line 2, column {}", s.name))
        .collect();
    assert_eq!(paths, expected, "{}", r.body);
}

#[test]
fn the_openapi_click_schema_is_the_table() {
    let app = spawn_app();
    let doc = app.get("/openapi.json").body;
    let click = &doc["components"]["schemas"]["ClickInput"];
    let names: Vec<&str> = UCI.click_fields().map(|s| s.name.as_ref()).collect();
    let required: Vec<&str> = click["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert_eq!(required, names);
    let mut listed: Vec<&str> = click["properties"]
        .as_object()
        .map(|p| p.keys().map(String::as_str).collect())
        .unwrap_or_default();
    listed.sort_unstable();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(listed, sorted);
    for spec in UCI.click_fields() {
        let p = &click["properties"][spec.name.as_ref()];
        let as_f64 = |v: &Value| v.as_f64();
        match &spec.rule {
            Rule::Whole { .. } | Rule::Codes(_) => {
                let (min, max) = spec.whole_range().expect("a range");
                assert_eq!(p["type"], "integer", "{}", spec.name);
                assert_eq!(
                    (p["minimum"].as_i64(), p["maximum"].as_i64()),
                    (Some(min), Some(max)),
                    "{}",
                    spec.name
                );
            }
            Rule::Number { above, max } => {
                assert_eq!(p["type"], "number", "{}", spec.name);
                assert_eq!(
                    as_f64(&p["exclusiveMinimum"]),
                    Some(*above),
                    "{}",
                    spec.name
                );
                assert_eq!(as_f64(&p["maximum"]), Some(*max), "{}", spec.name);
            }
            Rule::Text { pattern, .. } => {
                assert_eq!(p["type"], "string", "{}", spec.name);
                if let Some(pattern) = pattern {
                    assert_eq!(p["pattern"], pattern.regex.as_ref(), "{}", spec.name);
                }
            }
        }
        let description = p["description"].as_str().unwrap_or("");
        assert!(
            description.starts_with(spec.description.as_ref()),
            "{}",
            spec.name
        );
        assert_eq!(click["example"][spec.name.as_ref()], spec.example.json());
        if let Example::Text(_) = spec.example {
            assert!(p["type"] == "string");
        }
    }
}
