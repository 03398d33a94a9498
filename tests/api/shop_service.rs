//! A shop's own models served over HTTP (issue 18): the generated second shop, trained once
//! per test binary with its schema by the real `train` (`shop`), served by the real server. Each
//! request is read by the schema of the version that answers it; passthrough values come
//! back; values the catalogue never saw are scored and counted, never refused; versions of
//! different schemas are each read by their own, and `/score` says when its three disagree.

use crate::helpers::{copy_version, shipped_models, spawn_app_on, TestApp};
use crate::shop::trained;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;
use tempfile::TempDir;

/// A models folder holding the shop's three models as version 1.
fn shop_models() -> TempDir {
    let models = tempfile::tempdir().expect("a temporary folder");
    for name in ["convert", "revenue", "segment"] {
        copy_version(
            &trained().models.join(name).join("1"),
            &models.path().join(name).join("1"),
        );
    }
    models
}

/// Copies the shop's version 1 of `name` into `models` as `version`.
fn add_shop_version(models: &Path, name: &str, version: u32) {
    let to = models.join(name).join(version.to_string());
    copy_version(&trained().models.join(name).join("1"), &to);
    let path = to.join("manifest.json");
    let mut manifest: Value =
        serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("a manifest");
    manifest["version"] = json!(version);
    std::fs::write(&path, manifest.to_string()).expect("write");
}

/// The generated file's sessions as JSON bodies: the click fields under the schema's API
/// names, the customer id as the session's passthrough value.
fn sessions() -> &'static BTreeMap<String, Value> {
    static SESSIONS: OnceLock<BTreeMap<String, Value>> = OnceLock::new();
    SESSIONS.get_or_init(|| {
        let mut reader = csv::Reader::from_path(&trained().clicks).expect("the clicks file");
        let mut sessions: BTreeMap<String, Value> = BTreeMap::new();
        for row in reader.deserialize::<BTreeMap<String, String>>() {
            let row = row.expect("a row");
            let id = row["session_id"].clone();
            let session = sessions.entry(id.clone()).or_insert_with(
                || json!({"session_id": id, "customer_id": row["customer_id"], "clicks": []}),
            );
            let price: f64 = row["price"].parse().expect("a price");
            session["clicks"]
                .as_array_mut()
                .expect("clicks")
                .push(json!({
                    "timestamp": row["event_time"],
                    "product": row["sku"],
                    "category": row["category"],
                    "price": price,
                    "device": row["device"],
                }));
        }
        sessions
    })
}

/// A session of at least `clicks` clicks.
fn session(clicks: usize) -> Value {
    sessions()
        .values()
        .find(|s| s["clicks"].as_array().is_some_and(|c| c.len() >= clicks))
        .expect("a long enough session")
        .clone()
}

fn uci_session() -> Value {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/session.json"),
    )
    .expect("the shipped example session");
    serde_json::from_str(&text).expect("JSON")
}

fn paths(reply: &crate::helpers::Reply) -> Vec<String> {
    reply.body["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| e["path"].as_str().unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_shops_models_answer_its_clicks_with_its_passthrough_values() {
    let app = spawn_app_on(shop_models(), &[]);
    let body = session(3);
    let customer = body["customer_id"].clone();
    for route in ["/convert?explain=true", "/revenue", "/segment", "/score"] {
        let r = app.post_json(route, &body);
        assert_eq!(r.status, 200, "{route}: {}", r.body);
        assert_eq!(r.body["session_id"], body["session_id"], "{route}");
        assert_eq!(
            r.body["passthrough"],
            json!({"customer_id": customer}),
            "{route}"
        );
    }
    let explained = app.post_json("/convert?explain=true", &body).body;
    let features: Vec<&str> = explained["explanation"]
        .as_array()
        .expect("an explanation")
        .iter()
        .filter_map(|c| c["feature"].as_str())
        .collect();
    // The shop's own features, by the model's plan: none of the 2008 shop's.
    for f in &features {
        assert!(
            !["colour", "photo", "page", "country", "trousers"]
                .iter()
                .any(|w| f.contains(w)),
            "{f}"
        );
    }
    let models = app.get("/models").body;
    assert_eq!(models[0]["loaded"][0]["click_schema"], "trailhead-outdoor");
}

#[test]
fn an_unseen_product_or_category_is_scored_and_counted_never_refused() {
    let app = spawn_app_on(shop_models(), &[]);
    let mut body = session(2);
    body["clicks"][0]["product"] = json!("SKU-NEVER-SEEN-1");
    body["clicks"][1]["category"] = json!("snow/avalanche-gear/probes");
    body["clicks"][1]["device"] = json!("smart-fridge");
    let before = app.metrics();
    let r = app.post_json("/convert", &body);
    assert_eq!(r.status, 200, "{}", r.body);
    let metrics = app.metrics();
    let count = |m: &crate::helpers::Metrics, field: &str| {
        m.value(
            "unseen_values_total",
            &[("schema", "trailhead-outdoor"), ("field", field)],
        )
        .unwrap_or(0.0)
    };
    for field in ["product", "category", "device"] {
        assert!(
            count(&metrics, field) >= count(&before, field) + 1.0,
            "{field}: {}",
            metrics.lines("unseen_values_total")
        );
    }
}

#[test]
fn a_shops_click_is_checked_by_its_schema_with_paths() {
    let app = spawn_app_on(shop_models(), &[]);
    let good = session(2);
    // A wrong type, a missing role, an out-of-range number and an unknown field.
    let mut bad = good.clone();
    bad["clicks"][0]["price"] = json!("cheap");
    bad["clicks"][1]["price"] = json!(-3);
    bad["clicks"][0]
        .as_object_mut()
        .expect("a click")
        .remove("product");
    bad["clicks"][1]["colour"] = json!(3);
    let r = app.post_json("/convert", &bad);
    assert_eq!(r.status, 422, "{}", r.body);
    let got = paths(&r);
    for path in [
        "clicks[0].price",
        "clicks[0].product",
        "clicks[1].price",
        "clicks[1].colour",
    ] {
        assert!(got.iter().any(|p| p == path), "{path} not in {got:?}");
    }
    // The 2008 shop's click is not this shop's.
    let r = app.post_json("/convert", &uci_session());
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        paths(&r).iter().any(|p| p == "clicks[0].timestamp"),
        "{}",
        r.body
    );
    // A passthrough value is the session's, by its rule.
    let mut long_id = good.clone();
    long_id["customer_id"] = json!("c".repeat(65));
    let r = app.post_json("/convert", &long_id);
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(paths(&r), ["customer_id"], "{}", r.body);
}

#[test]
fn a_shops_batches_carry_passthrough_columns_through_the_spreadsheet_guard() {
    let app = spawn_app_on(shop_models(), &[]);
    let header = "session_id,event_time,sku,category,price,device,customer_id";
    let csv = format!(
        "{header}\n\
         b-1,2026-06-02T10:00:00Z,SKU-10090,footwear/shoes/trail-running,90.99,desktop,=HYPERLINK(\"http://x\")\n\
         b-2,2026-06-02T11:00:00Z,SKU-10127,footwear/shoes/sandals,73.99,mobile,12345\n\
         b-1,2026-06-02T10:01:00Z,SKU-10127,footwear/shoes/sandals,73.99,desktop,=HYPERLINK(\"http://x\")\n"
    );
    let r = app.post_raw(
        "/convert/batch",
        "text/csv",
        &csv,
        &[("Accept", "text/csv")],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let text = r.body.as_str().expect("CSV text");
    let mut lines = text.lines();
    let head = lines.next().expect("a header");
    assert!(head.ends_with(",customer_id"), "{head}");
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 2, "{text}");
    assert!(
        rows[0].starts_with("b-1,") && rows[0].ends_with(",\"'=HYPERLINK(\"\"http://x\"\")\""),
        "{}",
        rows[0]
    );
    assert!(
        rows[1].starts_with("b-2,") && rows[1].ends_with(",12345"),
        "{}",
        rows[1]
    );
    // The console's download is this route's CSV: the score table with the customer id.
    let r = app.post_raw("/score/batch", "text/csv", &csv, &[("Accept", "text/csv")]);
    assert_eq!(r.status, 200, "{}", r.body);
    let head = r.body.as_str().and_then(|t| t.lines().next()).unwrap_or("");
    assert!(
        head.contains("convert.probability") && head.ends_with(",customer_id"),
        "{head}"
    );
    // A passthrough value that differs within a session is refused, naming both lines.
    let conflict = format!(
        "{header}\n\
         b-1,2026-06-02T10:00:00Z,SKU-10090,footwear/shoes/trail-running,90.99,desktop,c-1\n\
         b-1,2026-06-02T10:01:00Z,SKU-10127,footwear/shoes/sandals,73.99,desktop,c-2\n"
    );
    let r = app.post_raw("/convert/batch", "text/csv", &conflict, &[]);
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.to_string().contains("customer_id"), "{}", r.body);
    let json = json!({"sessions": [session(1), session(2)]});
    let r = app.post_json("/score/batch", &json);
    assert_eq!(r.status, 200, "{}", r.body);
    for (i, result) in r.body["results"]
        .as_array()
        .expect("results")
        .iter()
        .enumerate()
    {
        assert_eq!(
            result["passthrough"]["customer_id"], json["sessions"][i]["customer_id"],
            "{result}"
        );
    }
}

#[test]
fn versions_of_different_schemas_are_each_read_by_their_own_and_score_says_when_they_disagree() {
    // The shipped UCI models, and the shop's conversion model published over them as
    // version 2: /convert reads the shop's clicks, /revenue the 2008 shop's.
    let models = shipped_models();
    add_shop_version(models.path(), "convert", 2);
    let app = spawn_app_on(models, &[]);
    let shop = session(2);
    assert_eq!(app.post_json("/convert", &shop).status, 200);
    assert_eq!(app.post_json("/revenue", &uci_session()).status, 200);
    // The older version, asked for, reads its own clicks.
    let r = app.post_json("/convert?version=1", &uci_session());
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app.post_json("/score", &shop);
    assert_eq!(r.status, 422, "{}", r.body);
    let why = r.body["errors"][0]["message"].as_str().unwrap_or("");
    assert!(
        why.contains("\"trailhead-outdoor\"") && why.contains("\"uci-clothing-2008\""),
        "{why}"
    );
    assert_eq!(
        app.post_json("/score?convert_version=1", &uci_session())
            .status,
        200
    );
    // The document describes each model's bodies: the shop's under its own names.
    let doc = app.get("/openapi.json").body;
    let schemas = &doc["components"]["schemas"];
    assert!(
        schemas["SessionInput.trailhead-outdoor"].is_object(),
        "{schemas}"
    );
    assert!(schemas["ClickInput.trailhead-outdoor"]["properties"]["product"].is_object());
    let body_ref = |path: &str| {
        doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            .clone()
    };
    assert_eq!(
        body_ref("/convert"),
        "#/components/schemas/SessionInput.trailhead-outdoor"
    );
    assert_eq!(
        body_ref("/convert/batch"),
        "#/components/schemas/BatchInput.trailhead-outdoor"
    );
    assert_eq!(body_ref("/revenue"), "#/components/schemas/SessionInput");
}

#[test]
fn a_canary_of_another_schema_gets_no_share_and_models_says_why() {
    let models = shipped_models();
    add_shop_version(models.path(), "convert", 2);
    let app = spawn_app_on(models, &[("PIN_CONVERT", "1"), ("CANARY", "convert:2:100")]);
    let r = app.post_json("/convert", &uci_session());
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["model_version"], 1);
    let canary = &app.get("/models/convert").body["canary"];
    assert!(
        canary["problem"]
            .as_str()
            .is_some_and(|p| p.contains("trailhead-outdoor")),
        "{canary}"
    );
}

#[test]
fn the_document_describes_the_shop_being_served() {
    let app = spawn_app_on(shop_models(), &[]);
    let doc = app.get("/openapi.json").body;
    let click = &doc["components"]["schemas"]["ClickInput"];
    assert!(click["properties"]["product"].is_object(), "{click}");
    assert!(click["properties"]["colour"].is_null(), "{click}");
    assert!(doc["components"]["schemas"]["SessionInput"]["properties"]["customer_id"].is_object());
    let csv_example =
        &doc["paths"]["/convert/batch"]["post"]["requestBody"]["content"]["text/csv"]["example"];
    assert!(
        csv_example
            .as_str()
            .is_some_and(|e| e.starts_with("session_id,event_time,sku")),
        "{csv_example}"
    );
}

#[test]
fn a_shops_version_whose_golden_case_no_longer_holds_is_refused() {
    let models = shop_models();
    let path = models.path().join("convert/1/manifest.json");
    let mut manifest: Value =
        serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("a manifest");
    assert!(
        manifest["golden"][0]["coded"].is_array(),
        "a shop's golden cases store coded clicks"
    );
    manifest["golden"][0]["expected"][0] = json!(0.123456);
    std::fs::write(&path, manifest.to_string()).expect("write");
    let app: TestApp = spawn_app_on(models, &[]);
    let failed = &app.get("/models/convert").body["failed"][0];
    assert!(
        failed["reason"]
            .as_str()
            .is_some_and(|r| r.contains("golden case")),
        "{failed}"
    );
}
