//! The single scoring routes: each answers with its model and version, explains on request,
//! and knows a session that has already converted.

use crate::helpers::{browsing, click, session, spawn_app};

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
    let known = clickstream::features::Plan::uci();
    for part in parts {
        assert!(
            known
                .index_of(part["feature"].as_str().expect("name"))
                .is_some(),
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
