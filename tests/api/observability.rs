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

#[test]
fn unknown_paths_and_methods_share_one_label_each() {
    let app = spawn_app();
    for i in 0..300 {
        assert_eq!(app.get(&format!("/no-such-route-{i}")).status, 404);
    }
    let custom = reply(ureq::request("FROB", &format!("{}/livez", app.address)).call());
    assert_eq!(custom.status, 405);
    let r = app.get("/metrics");
    let text = r.body.as_str().expect("text");
    assert!(!text.contains("no-such-route"), "raw paths became labels");
    assert!(!text.contains("FROB"), "a raw method became a label");
    assert!(text.contains("route=\"unmatched\""), "{text}");
    assert!(text.contains("method=\"other\""), "{text}");
}

#[test]
fn a_request_id_that_could_forge_log_fields_is_replaced() {
    let app = spawn_app();
    for forged in [
        "a b",
        "x\" status=200",
        "id=1 route=/convert",
        &"a".repeat(129),
    ] {
        let r = reply(
            ureq::get(&format!("{}/livez", app.address))
                .set("X-Request-Id", forged)
                .call(),
        );
        let id = r.request_id.expect("an id");
        assert_ne!(id, forged);
        assert!(id.len() >= 32, "{id}");
    }
}

/// Live conversion probabilities against the training distribution in the manifest: the
/// population stability index per version, in `/metrics`, with the answers by tier.
#[test]
fn drift_and_tiers_of_live_answers_are_exported_per_version() {
    // Each server counts its own answers, so exact counts hold while other tests answer.
    let app = spawn_app();
    for _ in 0..250 {
        assert_eq!(app.post_json("/convert", &browsing()).status, 200);
    }
    let metrics = app.metrics();
    let samples = metrics.value("conversion_drift_samples", &[("version", "1")]);
    assert_eq!(
        samples,
        Some(250.0),
        "{}",
        metrics.lines("conversion_drift")
    );
    // One session 250 times: every live probability in one training tenth, far from
    // the training spread.
    let psi = metrics
        .value("conversion_drift_psi", &[("version", "1")])
        .expect("a drift figure");
    assert!(psi > 1.0, "{psi}");
    let tiers: f64 = ["high", "medium", "low"]
        .iter()
        .filter_map(|t| metrics.value("conversion_tier_total", &[("version", "1"), ("tier", t)]))
        .sum();
    assert_eq!(tiers, 250.0, "{}", metrics.lines("conversion_tier"));
}
