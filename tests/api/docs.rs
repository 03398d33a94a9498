//! The API's documentation: the served UI and document, and the committed document.

use crate::helpers::spawn_app;
use std::path::Path;

#[test]
fn docs_and_openapi_are_served() {
    let app = spawn_app();
    let doc = app.get("/openapi.json");
    assert_eq!(doc.status, 200);
    assert!(doc.body["paths"]["/convert"]["post"].is_object());
    let ui = app.get("/docs/");
    assert_eq!(ui.status, 200);
    assert!(
        ui.body
            .as_str()
            .is_some_and(|html| html.contains("swagger")),
        "the UI page"
    );
}

#[test]
fn the_committed_openapi_document_matches_the_code() {
    let committed =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi/openapi.json"))
            .expect("openapi/openapi.json is committed");
    let generated = clickstream::service::openapi()
        .to_pretty_json()
        .expect("serialisable")
        + "\n";
    assert!(
        committed == generated,
        "openapi/openapi.json is stale: run `clickstream openapi --out openapi/openapi.json`"
    );
}

#[test]
fn every_reference_in_the_document_resolves() {
    let doc = serde_json::to_value(clickstream::service::openapi()).expect("the document is JSON");
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(!refs.is_empty(), "the document uses references");
    let unresolved: Vec<&String> = refs
        .iter()
        .filter(|r| {
            let pointer = r.strip_prefix('#').unwrap_or(r);
            doc.pointer(pointer).is_none()
        })
        .collect();
    assert!(unresolved.is_empty(), "unresolved: {unresolved:?}");
}

fn collect_refs(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v.as_str()) {
                    ("$ref", Some(target)) => out.push(target.to_owned()),
                    _ => collect_refs(v, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

#[test]
fn the_document_declares_the_api_key_and_the_admin_token() {
    let doc = serde_json::to_value(clickstream::service::openapi()).expect("the document is JSON");
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["api_key"]["type"], "apiKey");
    assert_eq!(schemes["api_key"]["in"], "header");
    assert_eq!(schemes["api_key"]["name"], "X-Api-Key");
    assert_eq!(schemes["admin_token"]["scheme"], "bearer");
    for path in ["/convert", "/score/batch"] {
        let security = &doc["paths"][path]["post"]["security"];
        // Optional: an empty requirement (no keys configured) or the key.
        assert_eq!(
            security,
            &serde_json::json!([{}, {"api_key": []}]),
            "{path}"
        );
    }
}
