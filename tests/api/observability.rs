//! What operators see: Prometheus metrics and request ids.

use crate::helpers::{browsing, reply, spawn_app};

#[test]
fn metrics_expose_requests_predictions_probabilities_personas_and_models() {
    let app = spawn_app();
    assert_eq!(app.post_json("/score", &browsing()).status, 200);
    let r = app.get("/metrics");
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
