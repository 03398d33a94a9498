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
