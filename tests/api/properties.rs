//! Property tests of everything that reads outside input: the CSV reader, the JSON and CSV
//! batch bodies, a single session's JSON, and the domain parsers. Any input gives a clean
//! error or a valid parse, never a panic; what is written can be read back unchanged.
//!
//! Cases per property: proptest's 256 by default, `PROPTEST_CASES` to change it (CI runs
//! a larger count; the fuzz targets under `fuzz/` go further, see docs/performance.md).

use clickstream::domain::{Click, ClickDate, Price, ProductCode, RawClick, Session, SessionId};
use clickstream::reader::{read_clickstream_from, ReadOptions};
use clickstream::service::scorer::{batch_sessions, Limits};
use clickstream::service::wire::{from_json, SessionInput};
use proptest::prelude::*;
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

proptest! {
    #[test]
    fn the_csv_reader_takes_any_bytes(body in prop::collection::vec(any::<u8>(), 0..2048), skip in any::<bool>()) {
        let _ = read_clickstream_from(&body[..], Path::new("fuzz.csv"), ReadOptions { skip_invalid: skip, ..ReadOptions::default() });
    }

    #[test]
    fn the_csv_reader_takes_any_csv_shaped_body(body in csv_like(), skip in any::<bool>()) {
        if let Ok(read) = read_clickstream_from(&body[..], Path::new("fuzz.csv"), ReadOptions { skip_invalid: skip, ..ReadOptions::default() }) {
            // Whatever it accepts holds only valid sessions.
            for s in &read.sessions {
                prop_assert!(!s.clicks().is_empty());
                prop_assert!(s.clicks().windows(2).all(|w| w[0].order < w[1].order));
            }
        }
    }

    #[test]
    fn batch_bodies_of_any_bytes_are_read_or_refused(body in prop::collection::vec(any::<u8>(), 0..2048), is_csv in any::<bool>()) {
        let _ = batch_sessions(&body, is_csv, LIMITS);
    }

    #[test]
    fn csv_batches_of_any_shape_are_read_or_refused(body in csv_like()) {
        let _ = batch_sessions(&body, true, LIMITS);
    }

    #[test]
    fn json_bodies_of_any_shape_are_read_or_refused(value in json_like()) {
        let body = value.to_string();
        let _ = batch_sessions(body.as_bytes(), false, LIMITS);
        if let Ok(input) = from_json::<SessionInput>(body.as_bytes()) {
            let _ = input.parse("", 50);
        }
        let wrapped = serde_json::json!({"sessions": [value]}).to_string();
        let _ = batch_sessions(wrapped.as_bytes(), false, LIMITS);
    }

    #[test]
    fn a_single_session_of_any_bytes_is_read_or_refused(body in prop::collection::vec(any::<u8>(), 0..1024)) {
        if let Ok(input) = from_json::<SessionInput>(&body) {
            let _ = input.parse("", 50);
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
