//! End to end on a small generated clickstream: train publishes versions, evaluate reads
//! them, and train refuses to publish from thin data or under the quality floor.

use crate::helpers::{read_json, run_on, synthetic_clickstream, text};
use serde_json::Value;
use std::fs;

#[test]
fn train_publishes_versions_that_evaluate_reads() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("clicks.csv");
    synthetic_clickstream(&data, 1500, 42);
    let models = dir.path().join("models");
    let train = || run_on("train", &data, &models, &["--min-sessions-per-class", "20"]);
    let out = train();
    assert!(out.status.success(), "train failed: {}", text(&out.stderr));
    // Off a terminal, progress is one line per step: each step is named apart, not only
    // numbered apart ("candidate 6/7" and "7/7" were both "gradient boosting, none").
    let steps: Vec<String> = text(&out.stderr)
        .lines()
        .filter_map(|l| l.split_once("] ").map(|(_, step)| step.to_owned()))
        .map(|step| match step.split_once("/") {
            Some((head, tail)) => {
                let counter = head.rsplit(' ').next().unwrap_or("");
                let rest = tail.split_once(": ").map_or(tail, |(_, r)| r);
                format!("{}{rest}", head.strip_suffix(counter).unwrap_or(head))
            }
            None => step,
        })
        .collect();
    assert!(steps.len() > 10, "{steps:?}");
    let mut distinct = steps.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        steps.len(),
        "repeated step names: {steps:?}"
    );
    for name in ["convert", "revenue", "segment"] {
        let manifest = read_json(&models.join(name).join("1").join("manifest.json"));
        assert_eq!(manifest["version"], 1);
        assert_eq!(manifest["name"], name);
        assert!(manifest["golden"].as_array().is_some_and(|g| !g.is_empty()));
        assert_eq!(manifest["training"]["file_name"], "clicks.csv");
        // The schema the code writes rows in (version and names), read from the code.
        let schema =
            serde_json::to_value(clickstream::features::Plan::uci().schema()).expect("json");
        assert_eq!(manifest["feature_schema"], schema);
    }
    let convert = read_json(&models.join("convert/1/manifest.json"));
    assert!(convert["threshold"].as_f64().is_some());
    assert_eq!(
        convert["score_distribution"]["quantiles"]
            .as_array()
            .map(Vec::len),
        Some(101)
    );
    assert!(
        read_json(&models.join("segment/1/manifest.json"))["personas"]
            .as_array()
            .is_some_and(|p| p.len() >= 3)
    );

    let report = read_json(&models.join("report.json"));
    let chosen = report["chosen_convert"].as_u64().expect("index") as usize;
    let auc = report["convert_candidates"][chosen]["metrics"]["roc_auc"]
        .as_f64()
        .expect("auc");
    // The planted signal is strong; a model that finds it ranks far better than chance.
    assert!(auc > 0.65, "validation ROC-AUC {auc}");
    assert!(fs::read_to_string(models.join("report.md"))
        .expect("report.md")
        .contains("## Segments"));

    // A second run publishes the next version of each model.
    let out = train();
    assert!(
        out.status.success(),
        "second train failed: {}",
        text(&out.stderr)
    );
    assert!(models.join("convert/2/manifest.json").exists());

    let out = run_on("evaluate", &data, &models, &["--version", "1", "--json"]);
    assert!(
        out.status.success(),
        "evaluate failed: {}",
        text(&out.stderr)
    );
    let eval: Value = serde_json::from_slice(&out.stdout).expect("evaluate prints JSON");
    assert_eq!(eval["versions"][0], serde_json::json!(["convert", 1]));
    assert!(eval["convert"]["roc_auc"]
        .as_f64()
        .is_some_and(|a| a > 0.65));
    assert_eq!(
        eval["convert"]["by_prefix_length"].as_array().map(Vec::len),
        Some(4)
    );
    assert!(eval["revenue"]["rmse"].as_f64().is_some());
    // Counts are integers; every session of this file has a valid prefix.
    assert_eq!(eval["convert"]["sessions"], eval["read"]["sessions"]);
    assert!(eval["convert"]["sessions"].is_u64(), "{}", eval["convert"]);
    // The file is the one version 1 was trained on: the figures are no test, and it says so.
    assert!(
        text(&out.stderr).contains("learned from"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(eval["warnings"].as_array().map(Vec::len), Some(1));
    let other = dir.path().join("other.csv");
    synthetic_clickstream(&other, 800, 43);
    let out = run_on("evaluate", &other, &models, &["--version", "1", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!text(&out.stderr).contains("learned from"));

    let out = run_on("evaluate", &data, &models, &[]);
    let printed = text(&out.stdout);
    assert!(
        printed.contains("8+ clicks") && printed.contains("95% interval"),
        "{printed}"
    );
}

/// 600 synthetic sessions (April to June 2008) in a temporary folder, and where models go.
fn six_hundred_sessions() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("clicks.csv");
    synthetic_clickstream(&data, 600, 7);
    let models = dir.path().join("models");
    (dir, data, models)
}

/// Runs `train` on `data` and returns its error text, which it must fail with.
fn train_fails(data: &std::path::Path, models: &std::path::Path, args: &[&str]) -> String {
    let out = run_on("train", data, models, args);
    assert!(!out.status.success(), "train must refuse {args:?}");
    text(&out.stderr)
}

#[test]
fn train_refuses_thin_data_and_weak_models_and_says_why() {
    let (_dir, data, models) = six_hundred_sessions();
    let err = train_fails(
        &data,
        &models,
        &["--quiet", "--min-sessions-per-class", "100000"],
    );
    assert!(err.contains("too thin"), "{err}");

    let out = run_on(
        "train",
        &data,
        &models,
        &[
            "--quiet",
            "--min-sessions-per-class",
            "10",
            "--min-roc-auc",
            "0.999",
        ],
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("under the floor"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        !models.join("convert/1").exists(),
        "nothing may be published"
    );
    // The candidates tried are not lost: a report marked as not published, beside (not
    // over) the report of what was published.
    assert!(text(&out.stderr).contains("refused-report.md"));
    let refused = fs::read_to_string(models.join("refused-report.md")).expect("refused report");
    assert!(refused.contains("NOT PUBLISHED") && refused.contains("| gradient boosting"));
    let json = read_json(&models.join("refused-report.json"));
    assert_eq!(json["published"], false);
    assert!(json["convert_candidates"]
        .as_array()
        .is_some_and(|c| c.len() >= 3));
    assert!(!models.join("report.md").exists());
}

#[test]
fn validate_from_chooses_the_validation_period_and_a_day_outside_the_data_is_named() {
    let (_dir, data, models) = six_hundred_sessions();
    let err = train_fails(&data, &models, &["--quiet", "--validate-from", "2008-6-15"]);
    assert!(err.contains("--validate-from"), "{err}");
    let err = train_fails(
        &data,
        &models,
        &["--quiet", "--validate-from", "2009-01-01"],
    );
    assert!(
        err.contains("2009-01-01 is outside the data, which runs from 2008-04-"),
        "{err}"
    );
    assert!(
        !models.join("convert/1").exists(),
        "nothing may be published"
    );

    let out = run_on(
        "train",
        &data,
        &models,
        &[
            "--quiet",
            "--min-sessions-per-class",
            "10",
            "--validate-from",
            "2008-06-01",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report = fs::read_to_string(models.join("report.md")).expect("report.md");
    assert!(report.contains("as asked (--validate-from)"), "{report}");
    let manifest = read_json(&models.join("convert/1/manifest.json"));
    let period = manifest["training"]["validation_period"]
        .as_str()
        .unwrap_or("");
    assert!(period.starts_with("2008-06-"), "{period}");
}

#[test]
fn train_reports_the_bad_row_of_an_invalid_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("bad.csv");
    fs::write(&data, "year,month,day,order,country,session_id,page1_main_category,page2_clothing_model,colour,location,model_photography,price,price_2,page\n2008,4,1,1,29,1,9,A13,1,5,1,28,2,1\n").expect("write");
    let out = run_on("train", &data, &dir.path().join("m"), &["--quiet"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("bad.csv")
            && err.contains("line 2")
            && err.contains("page1_main_category")
            && err.contains("\"9\""),
        "{err}"
    );
}

#[test]
fn an_outcomes_file_replaces_the_basket_proxy() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("clicks.csv");
    synthetic_clickstream(&data, 900, 11);
    // Orders from a shop's system: here, Czech sessions that saw a sale item bought, and
    // spent the sum of the prices they saw.
    let clicks = fs::read_to_string(&data).expect("read clickstream");
    let mut sessions: std::collections::BTreeMap<String, (bool, f64)> = Default::default();
    for line in clicks.lines().skip(1) {
        let f: Vec<&str> = line.split(';').collect();
        let entry = sessions.entry(f[5].to_owned()).or_insert((false, 0.0));
        entry.0 |= f[4] == "9" && f[6] == "4";
        entry.1 += f[11].parse::<f64>().expect("price");
    }
    let mut outcomes = String::from("session_id,converted,revenue\n");
    for (id, (converted, spent)) in &sessions {
        let revenue = if *converted { *spent } else { 0.0 };
        outcomes.push_str(&format!("{id},{},{revenue}\n", u8::from(*converted)));
    }
    let outcomes_path = dir.path().join("orders.csv");
    fs::write(&outcomes_path, outcomes).expect("write outcomes");
    let models = dir.path().join("models");
    let out = run_on(
        "train",
        &data,
        &models,
        &[
            "--outcomes",
            outcomes_path.to_str().expect("utf-8"),
            "--min-sessions-per-class",
            "20",
            "--quiet",
        ],
    );
    assert!(out.status.success(), "train failed: {}", text(&out.stderr));
    let manifest = read_json(&models.join("convert/1/manifest.json"));
    assert_eq!(
        manifest["training"]["label_source"]["kind"],
        "outcomes_file"
    );
    assert_eq!(
        manifest["training"]["label_source"]["file_name"],
        "orders.csv"
    );
    // Every click of every session is a valid prefix with an outcomes file.
    let report = read_json(&models.join("report.json"));
    let prefixes = report["prefixes"][0].as_u64().expect("count")
        + report["prefixes"][1].as_u64().expect("count");
    assert_eq!(prefixes, report["read"]["clicks"].as_u64().expect("clicks"));
}

#[test]
fn skipped_rows_are_counted_with_examples_in_the_text_of_train_and_evaluate() {
    use std::io::Write;
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("clicks.csv");
    synthetic_clickstream(&data, 1500, 42);
    let mut file = fs::OpenOptions::new()
        .append(true)
        .open(&data)
        .expect("open");
    // A product code that is not UTF-8, and a row with one field too many.
    file.write_all(
        b"2008;6;30;1;29;zz-1;1;A\xff3;1;5;1;28;2;1\n2008;6;30;1;29;zz-2;1;A13;1;5;1;28;2;1;9\n",
    )
    .expect("append");
    drop(file);
    let models = dir.path().join("models");
    let out = run_on(
        "train",
        &data,
        &models,
        &[
            "--min-sessions-per-class",
            "20",
            "--quiet",
            "--skip-invalid",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    assert!(printed.contains("skipped 2 invalid row(s)"), "{printed}");
    assert!(
        printed.contains("not valid UTF-8") && printed.contains("15 fields"),
        "{printed}"
    );
    let out = run_on("evaluate", &data, &models, &["--skip-invalid"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("skipped 2 invalid row(s)"),
        "{}",
        text(&out.stdout)
    );
    // Without --skip-invalid the first of them stops the run, named by line and column.
    let out = run_on("evaluate", &data, &models, &[]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("column \"page 2 (clothing model)\""),
        "{}",
        text(&out.stderr)
    );
}

/// The figures of `report.html`, by id: the data's, then the models'.
const DATA_FIGURES: [&str; 9] = [
    "deepest-page",
    "funnel",
    "session-length",
    "price-distribution",
    "price-sensitivity",
    "category-mix",
    "country-rate",
    "weekday-rate",
    "correlations",
];
const MODEL_FIGURES: [&str; 9] = [
    "roc",
    "precision-recall",
    "auc-by-prefix",
    "calibration",
    "confusion",
    "feature-importance",
    "revenue-deciles",
    "persona-sizes",
    "persona-profiles",
];

/// Every figure of `ids` is in `html` with its chart (an SVG named by its title and
/// description) or its table, and the page fetches nothing from anywhere.
fn assert_figures(html: &str, ids: &[&str]) {
    for id in ids {
        let start = html
            .find(&format!("<figure id=\"{id}\">"))
            .unwrap_or_else(|| panic!("no figure {id}"));
        let end = start + html[start..].find("</figure>").expect("a closed figure");
        let figure = &html[start..end];
        let chart = figure.contains(&format!(
            "<svg role=\"img\" aria-labelledby=\"{id}-title {id}-desc\""
        )) && figure.contains(&format!("<title id=\"{id}-title\">"));
        let table = figure.contains("<table><caption>");
        assert!(chart || table, "figure {id} has neither chart nor table");
        assert!(
            figure.contains("<figcaption>"),
            "figure {id} has no caption"
        );
    }
    // An SVG's namespace is a name, not an address that is fetched.
    let html = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
    for outside in [
        "<script", "<link", "src=", "@import", "url(", "http://", "https://",
    ] {
        assert!(!html.contains(outside), "the page refers to {outside}");
    }
}

#[test]
fn train_writes_report_html_and_evaluate_draws_the_same_model_charts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("clicks.csv");
    synthetic_clickstream(&data, 1500, 42);
    let models = dir.path().join("models");
    let out = run_on("train", &data, &models, &["--min-sessions-per-class", "20"]);
    assert!(out.status.success(), "train failed: {}", text(&out.stderr));
    let html = fs::read_to_string(models.join("report.html")).expect("report.html");
    assert_figures(&html, &DATA_FIGURES);
    assert_figures(&html, &MODEL_FIGURES);
    assert_figures(&html, &["silhouette"]);
    // The baseline and the constant are drawn beside the chosen model.
    assert!(
        html.contains("logistic regression"),
        "no baseline in the ROC legend"
    );
    assert!(html.contains("constant (base rate), AUC 0.500"));
    assert!(html.contains("published: convert v1, revenue v1, segment v1"));
    // Each version keeps the charts of the run that made it.
    for name in ["convert", "revenue", "segment"] {
        let kept = fs::read_to_string(models.join(name).join("1/report.html"))
            .expect("a version's report");
        assert_figures(&kept, &MODEL_FIGURES);
    }

    let other = dir.path().join("other.csv");
    synthetic_clickstream(&other, 800, 43);
    let page = dir.path().join("august.html");
    let page_arg = page.to_str().expect("a UTF-8 path");
    let out = run_on("evaluate", &other, &models, &["--html", page_arg]);
    assert!(
        out.status.success(),
        "evaluate failed: {}",
        text(&out.stderr)
    );
    let html = fs::read_to_string(&page).expect("the evaluate page");
    assert_figures(&html, &DATA_FIGURES);
    assert_figures(&html, &MODEL_FIGURES);
    assert!(html.contains("convert v1, revenue v1, segment v1 on other.csv"));
    assert_figures(&html, &["silhouette"]);

    // A page that cannot be written is named.
    let out = run_on(
        "evaluate",
        &other,
        &models,
        &["--html", "/no/such/folder/report.html"],
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("/no/such/folder/report.html"),
        "{}",
        text(&out.stderr)
    );
}

/// `rows` rows of one never-converting session (no product twice in a row) in April.
pub fn long_session(id: &str, rows: usize) -> String {
    let products = ["A13", "B4", "C20", "P1"];
    (0..rows)
        .map(|i| {
            let p = products[i % products.len()];
            let category = 1 + i % products.len();
            format!("2008;4;15;{};29;{id};{category};{p};1;5;1;28;2;1\n", i + 1)
        })
        .collect()
}

#[test]
fn a_session_over_the_click_cap_is_skipped_and_counted_by_train_and_evaluate() {
    use std::io::Write;
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("clicks.csv");
    synthetic_clickstream(&data, 1500, 42);
    let mut file = fs::OpenOptions::new()
        .append(true)
        .open(&data)
        .expect("open");
    file.write_all(long_session("long-1", 1001).as_bytes())
        .expect("append");
    drop(file);
    let models = dir.path().join("models");
    let out = run_on(
        "train",
        &data,
        &models,
        &["--min-sessions-per-class", "20", "--quiet"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    let headline = printed.lines().last().unwrap_or_default();
    assert!(
        headline.starts_with("published convert v1, revenue v1, segment v1: validation (")
            && headline.contains("ROC-AUC 0.")
            && headline.contains("log loss 0.")
            && headline.contains("revenue RMSE "),
        "{printed}"
    );
    assert!(
        printed.contains("skipped 1 session(s) with more than 1000 clicks")
            && printed.contains("session \"long-1\" (1001 clicks)"),
        "{printed}"
    );
    let report = read_json(&models.join("report.json"));
    assert_eq!(report["read"]["long_sessions_skipped"], 1, "{report}");
    assert_eq!(report["read"]["max_clicks_per_session"], 1000);
    assert_eq!(
        report["read"]["long_session_examples"][0],
        serde_json::json!({"session": "long-1", "clicks": 1001})
    );
    let md = fs::read_to_string(models.join("report.md")).expect("report.md");
    assert!(
        md.contains("sessions over the cap of 1000 clicks skipped: 1")
            && md.contains("session \"long-1\" (1001 clicks)"),
        "{md}"
    );

    let out = run_on("evaluate", &data, &models, &["--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["read"]["long_sessions_skipped"], 1);
    assert_eq!(json["read"]["sessions"], 1500);
    let out = run_on("evaluate", &data, &models, &[]);
    assert!(
        text(&out.stdout).contains("session \"long-1\" (1001 clicks)"),
        "{}",
        text(&out.stdout)
    );
    // A cap raised above the session's length keeps it.
    let out = run_on(
        "evaluate",
        &data,
        &models,
        &["--json", "--max-clicks-per-session", "1001"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["read"]["long_sessions_skipped"], 0);
    assert_eq!(json["read"]["sessions"], 1501);
}

/// A shop's models are evaluated by the schema, catalogue and features they record, with
/// labels from the orders file as train takes them. On June, the period train validated
/// on, the prefixes, their weights and the base rate are train's exactly. The ROC-AUC
/// cannot be: train's report scores June with the chosen candidate fitted on April and May
/// alone, with product rates from those months; the published version is that candidate
/// refitted on every month, June included, and its product table holds June's own
/// outcomes, so evaluate measures fit there, and says so.
#[test]
fn evaluate_reads_a_shops_models_by_their_schema_and_counts_june_as_train_did() {
    let shop = crate::shop::trained();
    let dir = tempfile::tempdir().expect("temp dir");
    let june = dir.path().join("june.csv");
    // No generated session crosses midnight, so a session's rows are all in its month.
    crate::shop::clicks_edited(&june, |line| {
        (line.split(',').nth(1)?.starts_with("2026-06")).then(|| line.to_owned())
    });
    let orders = crate::shop::path(&shop.orders);
    let out = run_on(
        "evaluate",
        &june,
        &shop.models,
        &["--outcomes", orders, "--json"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let eval: Value = serde_json::from_slice(&out.stdout).expect("evaluate prints JSON");
    let report = read_json(&shop.models.join("report.json"));
    assert_eq!(
        report["validation"]["first_day"], "2026-06-01",
        "{}",
        report["validation"]
    );
    let chosen = report["chosen_convert"].as_u64().expect("index") as usize;
    let trained = &report["convert_candidates"][chosen]["metrics"];
    let evaluated = &eval["convert"];
    for figure in ["prefixes", "sessions", "base_rate"] {
        assert_eq!(evaluated[figure], trained[figure], "{figure}");
    }
    let buckets = |m: &Value| -> Vec<(Value, Value)> {
        m["by_prefix_length"]
            .as_array()
            .expect("buckets")
            .iter()
            .map(|b| (b["prefix_length"].clone(), b["prefixes"].clone()))
            .collect()
    };
    assert_eq!(buckets(evaluated), buckets(trained));
    let (validated, fitted) = (
        trained["roc_auc"].as_f64().expect("train's ROC-AUC"),
        evaluated["roc_auc"].as_f64().expect("evaluate's ROC-AUC"),
    );
    // The refitted version has seen June: it ranks June's sessions better than the
    // candidate that had not.
    assert!(
        fitted > validated,
        "evaluate {fitted} against train {validated}"
    );
    assert!(
        text(&out.stderr).is_empty(),
        "June alone is not the training file: {}",
        text(&out.stderr)
    );
    // Every June product, category and device was in the training file.
    assert_eq!(eval["unseen_values"], serde_json::json!([]));

    // The whole training file is named as what the versions learned from.
    let out = run_on(
        "evaluate",
        &shop.clicks,
        &shop.models,
        &["--outcomes", orders],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("learned from"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains("unseen values: none"),
        "{}",
        text(&out.stdout)
    );
}

/// Without the orders file a shop whose orders do not show in its clicks has no labels:
/// evaluate refuses it in train's words.
#[test]
fn evaluate_refuses_a_shop_without_its_orders_as_train_does() {
    let shop = crate::shop::trained();
    let dir = tempfile::tempdir().expect("temp dir");
    let train = crate::helpers::run(&[
        "train",
        "--quiet",
        "--schema",
        crate::shop::path(&shop.schema),
        "--data",
        crate::shop::path(&shop.clicks),
        "--models",
        crate::shop::path(&dir.path().join("models")),
    ]);
    let evaluate = run_on("evaluate", &shop.clicks, &shop.models, &[]);
    assert!(!train.status.success() && !evaluate.status.success());
    assert!(
        text(&train.stderr).contains("--outcomes FILE"),
        "{}",
        text(&train.stderr)
    );
    assert_eq!(text(&evaluate.stderr), text(&train.stderr));
}

/// One file is read once for the three versions: a shop's convert version beside the UCI
/// revenue and segment versions is refused, naming both schemas.
#[test]
fn evaluate_refuses_versions_that_read_the_file_differently() {
    let shop = crate::shop::trained();
    let models = crate::helpers::empty_models();
    crate::helpers::copy_version(
        &shop.models.join("convert/1"),
        &models.path().join("convert/1"),
    );
    crate::helpers::copy_shipped(models.path(), "revenue");
    crate::helpers::copy_shipped(models.path(), "segment");
    let orders = crate::shop::path(&shop.orders);
    let out = run_on(
        "evaluate",
        &shop.clicks,
        models.path(),
        &["--outcomes", orders],
    );
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("convert v1 reads clicks of the schema \"trailhead-outdoor\"")
            && err.contains("revenue v1 reads \"uci-clothing-2008\""),
        "{err}"
    );
}
