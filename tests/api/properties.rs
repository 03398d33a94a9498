//! Property tests of everything that reads outside input: the CSV reader, the JSON and CSV
//! batch bodies, a single session's JSON, and the domain parsers. Whatever is accepted holds
//! only valid sessions, in order and within the limits; whatever is refused says where; what
//! is written can be read back unchanged; the same sessions sent as JSON and as CSV get the
//! same answers; a spoilt field is named by its path. (That nothing panics is the fuzz
//! targets' job under `fuzz/`; these would catch a panic too.)
//!
//! Cases per property: proptest's 256 by default, `PROPTEST_CASES` to change it (CI runs
//! a larger count). The properties that talk HTTP to a real server run a tenth of that.

use crate::helpers::{spawn_app, TestApp};
use clickstream::domain::{Click, ClickDate, Price, ProductCode, RawClick, Session, SessionId};
use clickstream::reader::{read_clickstream_from, ReadOptions};
use clickstream::service::scorer::{batch_sessions, Limits};
use clickstream::service::wire::{from_json, SessionInput};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::path::Path;

const LIMITS: Limits = Limits {
    sessions: 100,
    clicks: 50,
    issues: 1000,
};

const HEADER: &str = "year;month;day;order;country;session ID;page 1 (main category);page 2 (clothing model);colour;location;model photography;price;price 2;page";

/// A click every parser accepts.
fn valid_raw() -> impl Strategy<Value = RawClick> {
    (
        (4i64..=8, 1i64..=28, 1i64..=300, 1i64..=47, 1i64..=4),
        (
            prop::sample::select(vec!['A', 'B', 'C', 'P']),
            0u16..1000,
            1i64..=14,
            1i64..=6,
            1i64..=2,
        ),
        (1u32..=100_000, 1i64..=2, 1i64..=5),
    )
        .prop_map(
            |(
                (month, day, order, country, category),
                (letter, number, colour, location, photo),
                (price, price_2, page),
            )| RawClick {
                year: 2008,
                month,
                day,
                order,
                country,
                page1_main_category: category,
                page2_clothing_model: format!("{letter}{number}"),
                colour,
                location,
                model_photography: photo,
                price: f64::from(price),
                price_2,
                page,
            },
        )
}

/// One field's text: mostly plausible values, sometimes hostile ones.
fn field_text() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => (0i64..60).prop_map(|n| n.to_string().into_bytes()),
        1 => any::<i64>().prop_map(|n| n.to_string().into_bytes()),
        1 => any::<f64>().prop_map(|n| n.to_string().into_bytes()),
        1 => "[ABCP][0-9]{0,4}".prop_map(String::into_bytes),
        1 => Just(b"\"quoted;field\"".to_vec()),
        1 => Just(b"\"unterminated".to_vec()),
        1 => Just(Vec::new()),
        1 => prop::collection::vec(any::<u8>(), 0..8),
    ]
}

/// A CSV-shaped body: the real header (or a damaged one) and rows of 12 to 16 fields.
fn csv_like() -> impl Strategy<Value = Vec<u8>> {
    let header = prop_oneof![
        6 => Just(HEADER.to_owned()),
        1 => Just(HEADER.replace(';', ",")),
        1 => Just(HEADER.replace("price 2;", "")),
        1 => "[a-z ;,]{0,40}",
    ];
    let row = prop::collection::vec(field_text(), 12..16);
    (header, prop::collection::vec(row, 0..20), any::<bool>()).prop_map(|(header, rows, crlf)| {
        let end: &[u8] = if crlf { b"\r\n" } else { b"\n" };
        let mut body = header.into_bytes();
        body.extend_from_slice(end);
        for row in rows {
            body.extend_from_slice(&row.join(&b';'));
            body.extend_from_slice(end);
        }
        body
    })
}

/// A JSON value whose keys are often the API's own, nested a few levels.
fn json_like() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let keys = prop::sample::select(vec![
        "session_id",
        "clicks",
        "sessions",
        "year",
        "month",
        "day",
        "order",
        "country",
        "page1_main_category",
        "page2_clothing_model",
        "colour",
        "location",
        "model_photography",
        "price",
        "price_2",
        "page",
        "other",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (0i64..50).prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((keys.clone(), inner), 0..14).prop_map(|pairs| {
                Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            }),
        ]
    })
}

fn csv_of(sessions: &[(String, Vec<RawClick>)]) -> String {
    let mut body = format!("{HEADER}\n");
    for (id, clicks) in sessions {
        for c in clicks {
            body.push_str(&format!(
                "{};{};{};{};{};{id};{};{};{};{};{};{};{};{}\n",
                c.year,
                c.month,
                c.day,
                c.order,
                c.country,
                c.page1_main_category,
                c.page2_clothing_model,
                c.colour,
                c.location,
                c.model_photography,
                c.price,
                c.price_2,
                c.page
            ));
        }
    }
    body
}

/// Sessions of valid clicks with distinct orders, under distinct ids.
fn valid_sessions() -> impl Strategy<Value = Vec<(String, Vec<RawClick>)>> {
    prop::collection::vec(prop::collection::vec(valid_raw(), 1..6), 1..6).prop_map(|sessions| {
        sessions
            .into_iter()
            .enumerate()
            .map(|(i, mut clicks)| {
                for (k, c) in clicks.iter_mut().enumerate() {
                    c.order = k as i64 + 1;
                }
                (format!("s-{i}"), clicks)
            })
            .collect()
    })
}

/// A single session parsed (valid, at most 50 clicks) or refused with issues that each name
/// a top-level field or a click.
fn single_read_or_refused(input: &SessionInput) -> Result<(), TestCaseError> {
    match input.parse("", 50) {
        Ok(session) => valid_sessions_only([&session], 50),
        Err(issues) => {
            prop_assert!(!issues.is_empty());
            for issue in &issues {
                prop_assert!(
                    ["clicks", "session_id"]
                        .iter()
                        .any(|f| issue.path.starts_with(f)),
                    "{}",
                    issue.path
                );
            }
            Ok(())
        }
    }
}

/// What any accepted body must hold: sessions of at least one click and at most
/// `max_clicks`, clicks in strictly increasing order, no id twice.
fn valid_sessions_only<'a>(
    sessions: impl IntoIterator<Item = &'a Session>,
    max_clicks: usize,
) -> Result<(), TestCaseError> {
    let mut ids = HashSet::new();
    for s in sessions {
        prop_assert!(!s.clicks().is_empty() && s.clicks().len() <= max_clicks);
        prop_assert!(s.clicks().windows(2).all(|w| w[0].order < w[1].order));
        prop_assert!(
            ids.insert(s.id().as_str().to_owned()),
            "{} twice",
            s.id().as_str()
        );
    }
    Ok(())
}

/// A batch read or refused as the batch routes do: at most the limit of sessions, each one
/// valid or refused with field issues that point into its part of the body.
fn batch_read_or_refused(body: &[u8], is_csv: bool) -> Result<(), TestCaseError> {
    let Ok(results) = batch_sessions(body, is_csv, LIMITS) else {
        return Ok(());
    };
    prop_assert!(results.len() <= LIMITS.sessions);
    valid_sessions_only(
        results.iter().filter_map(|r| r.as_ref().ok()),
        LIMITS.clicks,
    )?;
    for (i, refused) in results.iter().enumerate() {
        let Err(refused) = refused else { continue };
        prop_assert_eq!(refused.index, i);
        prop_assert!(!refused.errors.is_empty() && refused.errors.len() <= LIMITS.issues);
        let within = format!("sessions[{i}]");
        for issue in &refused.errors {
            prop_assert!(
                if is_csv {
                    issue.path.starts_with("line ")
                } else {
                    issue.path.starts_with(&within)
                },
                "{} is not within session {}",
                issue.path,
                i
            );
        }
    }
    Ok(())
}

proptest! {
    #[test]
    fn the_csv_reader_reads_any_bytes_to_valid_sessions_or_refuses(body in prop::collection::vec(any::<u8>(), 0..2048), skip in any::<bool>()) {
        let options = ReadOptions { skip_invalid: skip, ..ReadOptions::default() };
        if let Ok(read) = read_clickstream_from(&body[..], Path::new("fuzz.csv"), options) {
            valid_sessions_only(&read.sessions, usize::MAX)?;
        }
    }

    #[test]
    fn the_csv_reader_reads_any_csv_shaped_body_to_valid_sessions_or_refuses(body in csv_like(), skip in any::<bool>()) {
        let options = ReadOptions { skip_invalid: skip, ..ReadOptions::default() };
        if let Ok(read) = read_clickstream_from(&body[..], Path::new("fuzz.csv"), options) {
            valid_sessions_only(&read.sessions, usize::MAX)?;
        }
    }

    #[test]
    fn batch_bodies_of_any_bytes_are_read_or_refused(body in prop::collection::vec(any::<u8>(), 0..2048), is_csv in any::<bool>()) {
        batch_read_or_refused(&body, is_csv)?;
    }

    #[test]
    fn csv_batches_of_any_shape_are_read_or_refused(body in csv_like()) {
        batch_read_or_refused(&body, true)?;
    }

    #[test]
    fn json_bodies_of_any_shape_are_read_or_refused(value in json_like()) {
        let body = value.to_string();
        batch_read_or_refused(body.as_bytes(), false)?;
        if let Ok(input) = from_json::<SessionInput>(body.as_bytes()) {
            single_read_or_refused(&input)?;
        }
        let wrapped = json!({"sessions": [value]}).to_string();
        batch_read_or_refused(wrapped.as_bytes(), false)?;
    }

    #[test]
    fn a_single_session_of_any_bytes_is_read_or_refused(body in prop::collection::vec(any::<u8>(), 0..1024)) {
        if let Ok(input) = from_json::<SessionInput>(&body) {
            single_read_or_refused(&input)?;
        }
    }

    #[test]
    fn valid_sessions_written_as_csv_read_back_unchanged(sessions in valid_sessions()) {
        let body = csv_of(&sessions);
        let read = read_clickstream_from(body.as_bytes(), Path::new("round-trip.csv"), ReadOptions::default())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(read.sessions.len(), sessions.len());
        for (got, (id, clicks)) in read.sessions.iter().zip(&sessions) {
            prop_assert_eq!(got.id().as_str(), id.as_str());
            let raws: Vec<RawClick> = got.clicks().iter().map(Click::to_raw).collect();
            prop_assert_eq!(&raws, clicks);
        }
        // The batch route reads the same body to the same sessions.
        let batch = batch_sessions(body.as_bytes(), true, LIMITS)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let batch: Vec<Session> = batch.into_iter().collect::<Result<_, _>>()
            .map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        prop_assert_eq!(batch, read.sessions);
    }

    #[test]
    fn valid_sessions_written_as_json_read_back_unchanged(sessions in valid_sessions()) {
        let body = serde_json::json!({
            "sessions": sessions.iter().map(|(id, clicks)| serde_json::json!({"session_id": id, "clicks": clicks})).collect::<Vec<_>>()
        }).to_string();
        let batch = batch_sessions(body.as_bytes(), false, LIMITS)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(batch.len(), sessions.len());
        for (got, (id, clicks)) in batch.iter().zip(&sessions) {
            let got = got.as_ref().map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
            prop_assert_eq!(got.id().as_str(), id.as_str());
            let raws: Vec<RawClick> = got.clicks().iter().map(Click::to_raw).collect();
            prop_assert_eq!(&raws, clicks);
        }
    }

    #[test]
    fn the_domain_parsers_take_any_value(
        year in any::<i64>(), month in any::<i64>(), day in any::<i64>(),
        price in any::<f64>(), code in ".{0,8}", id in ".{0,80}",
    ) {
        let _ = ClickDate::parse(year, month, day);
        prop_assert_eq!(Price::parse(price).is_ok(), price.is_finite() && price > 0.0 && price <= 100_000.0);
        if let Ok(p) = ProductCode::parse(&code) {
            // A code reads back from its own text.
            prop_assert_eq!(ProductCode::parse(&p.to_string()).ok(), Some(p));
        }
        if let Ok(s) = SessionId::parse(&id) {
            prop_assert_eq!(SessionId::parse(s.as_str()).ok(), Some(s.clone()));
            prop_assert!(s.as_str().chars().count() <= 64);
        }
    }

    #[test]
    fn a_valid_click_goes_to_its_wire_shape_and_back(raw in valid_raw()) {
        let click = Click::parse(&raw).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        prop_assert_eq!(click.to_raw(), raw.clone());
        prop_assert_eq!(Click::parse(&click.to_raw()).ok(), Some(click));
    }

    #[test]
    fn any_raw_click_is_parsed_or_refused_with_its_fields(
        numbers in prop::collection::vec(any::<i64>(), 11), price in any::<f64>(), code in ".{0,6}",
    ) {
        let raw = RawClick {
            year: numbers[0], month: numbers[1], day: numbers[2], order: numbers[3],
            country: numbers[4], page1_main_category: numbers[5], page2_clothing_model: code,
            colour: numbers[6], location: numbers[7], model_photography: numbers[8],
            price, price_2: numbers[9], page: numbers[10],
        };
        match Click::parse(&raw) {
            Ok(click) => prop_assert_eq!(Click::parse(&click.to_raw()).ok(), Some(click)),
            Err(errors) => prop_assert!(!errors.is_empty()),
        }
    }
}

// Properties against the real server, over HTTP.

/// Cases for the properties that talk HTTP: a tenth of the others' (at least 16), so that
/// CI's large count stays within its time.
fn http_config() -> Config {
    let all = Config::default();
    Config {
        cases: (all.cases / 10).max(16),
        // The runner is driven by hand, so there is no source file to keep failures beside;
        // a failure prints its minimal case.
        failure_persistence: None,
        ..all
    }
}

/// Runs `test` on values of `strategy` against one server, failing with the minimal case.
fn check_over_http<S: Strategy>(
    strategy: S,
    test: impl Fn(&TestApp, S::Value) -> Result<(), TestCaseError>,
) {
    let app = spawn_app();
    let mut runner = TestRunner::new(http_config());
    if let Err(failure) = runner.run(&strategy, |value| test(&app, value)) {
        panic!("{failure}");
    }
}

fn json_of(sessions: &[(String, Vec<RawClick>)]) -> Value {
    json!({
        "sessions": sessions
            .iter()
            .map(|(id, clicks)| json!({"session_id": id, "clicks": clicks}))
            .collect::<Vec<_>>()
    })
}

/// Each click field: its JSON name, its CSV column, and a value out of its range.
const FIELDS: [(&str, &str, &str); 13] = [
    ("year", "year", "-5"),
    ("month", "month", "-5"),
    ("day", "day", "-5"),
    ("order", "order", "-5"),
    ("country", "country", "-5"),
    ("page1_main_category", "page 1 (main category)", "-5"),
    ("page2_clothing_model", "page 2 (clothing model)", "Z!"),
    ("colour", "colour", "-5"),
    ("location", "location", "-5"),
    ("model_photography", "model photography", "-5"),
    ("price", "price", "-5"),
    ("price_2", "price 2", "-5"),
    ("page", "page", "-5"),
];

#[test]
fn the_same_sessions_as_json_and_as_csv_get_the_same_answers_in_order() {
    check_over_http(valid_sessions(), |app, sessions| {
        let sent: Vec<&str> = sessions.iter().map(|(id, _)| id.as_str()).collect();
        let body = json_of(&sessions).to_string();
        let from_json = app.post_raw("/score/batch", "application/json", &body, &[]);
        prop_assert_eq!(from_json.status, 200, "{}", from_json.body);
        let from_csv = app.post_raw("/score/batch", "text/csv", &csv_of(&sessions), &[]);
        prop_assert_eq!(from_csv.status, 200, "{}", from_csv.body);
        // One answer per session, in the order sent, the same whichever way it came.
        let results = from_json.body["results"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let ids: Vec<&str> = results
            .iter()
            .filter_map(|r| r["session_id"].as_str())
            .collect();
        prop_assert_eq!(ids, sent);
        prop_assert_eq!(&from_json.body, &from_csv.body);
        for r in &results {
            let convert = &r["convert"];
            for share in [
                &convert["probability"],
                &convert["threshold"],
                &r["revenue"]["probability"],
            ] {
                let p = share.as_f64().unwrap_or(f64::NAN);
                prop_assert!((0.0..=1.0).contains(&p), "{} in {}", share, r);
            }
            let percentile = convert["percentile"].as_f64().unwrap_or(f64::NAN);
            prop_assert!((0.0..=100.0).contains(&percentile), "{}", r);
            prop_assert!(
                r["revenue"]["expected_revenue"]
                    .as_f64()
                    .is_some_and(|x| x >= 0.0),
                "{}",
                r
            );
        }
        Ok(())
    });
}

type Spoilt = (Vec<(String, Vec<RawClick>)>, Index, Index, usize, u8);

/// Valid sessions, and where to spoil one of their clicks: session and click (as indices
/// into them), field, and how (0 out of range, 1 the wrong type, 2 missing or empty).
fn spoilt() -> impl Strategy<Value = Spoilt> {
    (
        valid_sessions(),
        any::<Index>(),
        any::<Index>(),
        0..FIELDS.len(),
        0u8..3,
    )
}

#[test]
fn a_spoilt_field_is_named_by_its_path_in_json() {
    check_over_http(spoilt(), |app, (sessions, s, c, field, how)| {
        let s = s.index(sessions.len());
        let c = c.index(sessions[s].1.len());
        let (name, _, out_of_range) = FIELDS[field];
        let mut body = json_of(&sessions);
        let click = &mut body["sessions"][s]["clicks"][c];
        let is_text = name == "page2_clothing_model";
        match how {
            0 if is_text => click[name] = json!(out_of_range),
            0 => click[name] = json!(out_of_range.parse::<i64>().unwrap_or(-5)),
            1 if is_text => click[name] = json!(5),
            1 => click[name] = json!("x"),
            _ => {
                if let Some(click) = click.as_object_mut() {
                    click.remove(name);
                }
            }
        }
        let r = app.post_raw("/convert/batch", "application/json", &body.to_string(), &[]);
        prop_assert_eq!(r.status, 422, "{}", r.body);
        let path = format!("sessions[{s}].clicks[{c}].{name}");
        let named = r.body["errors"]
            .as_array()
            .is_some_and(|e| e.iter().any(|i| i["path"] == path.as_str()));
        prop_assert!(named, "{} not named in {}", path, r.body);
        Ok(())
    });
}

#[test]
fn a_spoilt_field_is_named_by_its_line_and_column_in_csv() {
    check_over_http(spoilt(), |app, (sessions, s, c, field, how)| {
        let s = s.index(sessions.len());
        let c = c.index(sessions[s].1.len());
        let (name, column, out_of_range) = FIELDS[field];
        let value = match how {
            0 => out_of_range,
            1 if name == "page2_clothing_model" => "5",
            1 => "x",
            _ => "",
        };
        // The header is line 1; each click is a line, session after session.
        let line = 2
            + sessions[..s]
                .iter()
                .map(|(_, clicks)| clicks.len())
                .sum::<usize>()
            + c;
        let body = csv_of(&sessions);
        let mut lines: Vec<String> = body.lines().map(str::to_owned).collect();
        let mut cells: Vec<&str> = lines[line - 1].split(';').collect();
        // The session id sits in the sixth column, between country and the first page.
        cells[if field < 5 { field } else { field + 1 }] = value;
        lines[line - 1] = cells.join(";");
        let r = app.post_raw(
            "/convert/batch",
            "text/csv",
            &(lines.join("\n") + "\n"),
            &[],
        );
        prop_assert_eq!(r.status, 422, "{}", r.body);
        let path = format!("line {line}, column {column}");
        let named = r.body["errors"]
            .as_array()
            .is_some_and(|e| e.iter().any(|i| i["path"] == path.as_str()));
        prop_assert!(named, "{} not named in {}", path, r.body);
        Ok(())
    });
}
