//! The API's documentation: the served UI and document, and the committed document.

use crate::helpers::{spawn_app, spawn_app_with};
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

/// The error table in the document's description: a GFM table after a blank line, its
/// header, separator and rows of one column count, no cell empty.
fn error_table(description: &str) -> Vec<Vec<String>> {
    let lines: Vec<&str> = description.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.starts_with("| code"))
        .expect("the error table's header");
    assert!(start > 0, "text before the table");
    assert_eq!(lines[start - 1], "", "no blank line before the table");
    let rows: Vec<Vec<String>> = lines[start..]
        .iter()
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            assert!(l.ends_with('|'), "a row not closed: {l}");
            l[1..l.len() - 1]
                .split('|')
                .map(|c| c.trim().to_owned())
                .collect()
        })
        .collect();
    let width = rows[0].len();
    let names: Vec<&str> = rows[0]
        .iter()
        .map(|c| c.trim_end_matches("&nbsp;"))
        .collect();
    assert_eq!(names, ["code", "status", "meaning"]);
    assert!(rows[1]
        .iter()
        .all(|c| c.len() >= 3 && c.trim_matches(':').chars().all(|ch| ch == '-')));
    for row in &rows {
        assert_eq!(row.len(), width, "a row of {} cells: {row:?}", row.len());
        assert!(row.iter().all(|c| !c.is_empty()), "an empty cell: {row:?}");
    }
    assert!(rows.len() > 10, "the table has a row per code");
    rows
}

#[test]
fn the_error_table_is_a_gfm_table_whose_header_cells_stand_apart() {
    let doc = clickstream::service::openapi();
    let rows = error_table(doc.info.description.as_deref().expect("a description"));
    // Swagger UI draws header cells without side padding: a column no wider than its
    // header ran into the next ("statusmeaning"). Each header but the last ends in
    // non-breaking spaces (an entity: GFM trims a cell's own spaces), which it draws.
    let header = &rows[0];
    for cell in &header[..header.len() - 1] {
        assert!(
            cell.ends_with("&nbsp;&nbsp;&nbsp;"),
            "{cell:?} runs into the next header"
        );
    }
    // The rows keep the plain status number, as clients and the README read it.
    assert!(rows
        .iter()
        .any(|r| r[0] == "`body_too_large`" && r[1] == "413"));
}

/// The `security` of each operation, by `METHOD path`.
fn security(doc: &serde_json::Value) -> std::collections::BTreeMap<String, serde_json::Value> {
    let mut out = std::collections::BTreeMap::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("a path item") {
            out.insert(
                format!("{} {path}", method.to_uppercase()),
                op.get("security")
                    .cloned()
                    .unwrap_or(serde_json::Value::Null),
            );
        }
    }
    out
}

const KEYED: [&str; 6] = [
    "POST /convert",
    "POST /score/batch",
    "GET /models",
    "GET /models/{name}/{version}",
    "GET /report",
    "GET /models/{name}/{version}/report",
];

#[test]
fn the_committed_document_keeps_the_key_optional_on_the_scoring_routes() {
    let doc = serde_json::to_value(clickstream::service::openapi()).expect("JSON");
    let security = security(&doc);
    for op in KEYED {
        assert_eq!(
            security[op],
            serde_json::json!([{}, {"api_key": []}]),
            "{op}"
        );
    }
    assert_eq!(
        security["POST /admin/reload"],
        serde_json::json!([{"admin_token": []}])
    );
    assert!(doc["components"]["securitySchemes"]["api_key"].is_object());
}

#[test]
fn without_keys_the_served_document_puts_no_lock_on_the_scoring_routes() {
    let app = spawn_app();
    let doc = app.get("/openapi.json").body;
    let security = security(&doc);
    for op in KEYED {
        assert_eq!(security[op], serde_json::Value::Null, "{op}");
    }
    // Only the admin route asks for a credential: its token.
    let locked: Vec<&String> = security
        .iter()
        .filter(|(_, s)| !s.is_null())
        .map(|(op, _)| op)
        .collect();
    assert_eq!(locked, ["POST /admin/reload"]);
    assert_eq!(
        security["POST /admin/reload"],
        serde_json::json!([{"admin_token": []}])
    );
    assert!(doc["components"]["securitySchemes"]["api_key"].is_null());
    assert!(doc["components"]["securitySchemes"]["admin_token"].is_object());
}

#[test]
fn with_keys_the_served_document_requires_the_key_on_the_scoring_routes() {
    let app = spawn_app_with(&[("API_KEYS", "k1")]);
    // The document itself is public: /docs must load before a key is typed.
    let doc = app.get("/openapi.json").body;
    let security = security(&doc);
    for op in KEYED {
        assert_eq!(security[op], serde_json::json!([{"api_key": []}]), "{op}");
    }
    assert_eq!(
        security["POST /admin/reload"],
        serde_json::json!([{"admin_token": []}])
    );
    assert_eq!(security["GET /livez"], serde_json::Value::Null);
    assert_eq!(
        doc["components"]["securitySchemes"]["api_key"]["name"],
        "X-Api-Key"
    );
}
