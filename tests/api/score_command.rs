//! `clickstream score` gives, byte for byte, what the batch routes give for the same file,
//! and fails clearly (line, path) when it cannot.

use crate::helpers::{run, spawn_app, synthetic_clickstream, text, TestApp, CSV_HEADER};
use std::path::Path;

pub fn score(data: &Path, models: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "score",
        "--data",
        data.to_str().expect("utf-8 path"),
        "--models",
        models.to_str().expect("utf-8 path"),
    ];
    args.extend_from_slice(extra);
    run(&args)
}

/// A whole answer, however large (`into_string` stops at 10 MB).
fn whole(response: ureq::Response) -> String {
    use std::io::Read;
    let mut text = String::new();
    response
        .into_reader()
        .read_to_string(&mut text)
        .expect("text");
    text
}

/// The same file through the command and through the route, compared byte for byte.
fn assert_same(app: &TestApp, data: &Path) {
    let body = std::fs::read_to_string(data).expect("read");
    for (route, model) in [
        ("/score/batch", "all"),
        ("/convert/batch", "convert"),
        ("/segment/batch", "segment"),
    ] {
        for (accept, format) in [("text/csv", "csv"), ("application/json", "json")] {
            let url = format!("{}{route}", app.address);
            let served = ureq::post(&url)
                .set("Content-Type", "text/csv")
                .set("Accept", accept)
                .send_string(&body)
                .expect("the batch answers");
            let served = whole(served);
            let out = score(
                data,
                app.models.path(),
                &["--model", model, "--format", format],
            );
            assert!(out.status.success(), "{}", text(&out.stderr));
            assert!(
                text(&out.stdout) == served,
                "{route} as {format} differs from score --model {model}"
            );
        }
    }
    // One answer a line, the same answers as the JSON body's results.
    let out = score(
        data,
        app.models.path(),
        &["--model", "revenue", "--format", "jsonl"],
    );
    let served: serde_json::Value = serde_json::from_str(&whole(
        ureq::post(&format!("{}/revenue/batch", app.address))
            .set("Content-Type", "text/csv")
            .send_string(&body)
            .expect("the batch answers"),
    ))
    .expect("json");
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(serde_json::Value::Array(lines), served["results"]);
}

#[test]
fn score_gives_what_the_batch_routes_give() {
    let app = spawn_app();
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("clicks.csv");
    synthetic_clickstream(&data, 300, 11);
    assert_same(&app, &data);
    let out = score(
        &data,
        app.models.path(),
        &["--out", dir.path().join("s.csv").to_str().expect("utf-8")],
    );
    assert!(out.status.success());
    assert!(out.stdout.is_empty(), "answers went to stdout as well");
    assert!(
        text(&out.stderr).contains("scored 300 sessions"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn score_gives_what_the_batch_routes_give_on_the_real_file() {
    let Some(path) = crate::data_file::real_data_or_skip() else {
        return;
    };
    assert_same(&spawn_app(), &path);
}

#[test]
fn a_session_that_comes_back_and_a_bad_row_are_named_by_line() {
    let app = spawn_app();
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("clicks.csv");
    std::fs::write(
        &data,
        format!("{CSV_HEADER}\n2008;7;3;1;29;a;1;A13;1;5;1;28;2;1\n2008;7;3;1;9;b;4;P2;3;1;2;20;2;2\n2008;7;3;2;29;a;2;B4;1;5;1;52;1;1\n"),
    )
    .expect("write");
    let out = score(&data, app.models.path(), &[]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("line 4") && err.contains("\"a\"") && err.contains("sort the file"),
        "{err}"
    );

    std::fs::write(
        &data,
        format!(
            "{CSV_HEADER}\n2008;7;3;1;29;a;1;A13;1;5;1;28;2;1\n2008;7;3;2;29;a;2;B4;1;9;1;52;1;1\n"
        ),
    )
    .expect("write");
    let out = score(&data, app.models.path(), &[]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("line 3: column \"location\""),
        "{}",
        text(&out.stderr)
    );
    let out = score(&data, app.models.path(), &["--skip-invalid"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("skipped 1 invalid row(s)"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn an_output_that_cannot_be_written_is_named_and_leaves_nothing() {
    let app = spawn_app();
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("clicks.csv");
    synthetic_clickstream(&data, 20, 3);
    let target = dir.path().join("no-such-folder").join("s.csv");
    let out = score(
        &data,
        app.models.path(),
        &["--out", target.to_str().expect("utf-8")],
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains(&target.display().to_string()),
        "{}",
        text(&out.stderr)
    );
    // A run that fails half-way leaves no half file behind.
    std::fs::write(
        &data,
        format!(
            "{CSV_HEADER}\n2008;7;3;1;29;a;1;A13;1;5;1;28;2;1\n2008;7;3;1;9;b;4;P2;3;1;2;0;2;2\n"
        ),
    )
    .expect("write");
    let target = dir.path().join("s.csv");
    let out = score(
        &data,
        app.models.path(),
        &["--out", target.to_str().expect("utf-8")],
    );
    assert!(!out.status.success());
    assert!(!target.exists());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("list")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "{leftovers:?}");
    // A version that is not there is named.
    synthetic_clickstream(&data, 20, 3);
    let out = score(&data, app.models.path(), &["--version", "7"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("version 7"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_session_over_the_click_cap_is_skipped_and_counted_by_score() {
    let models = crate::helpers::shipped_models();
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("clicks.csv");
    std::fs::write(
        &data,
        format!(
            "{CSV_HEADER}\n2008;7;3;1;29;a;1;A13;1;5;1;28;2;1\n{}2008;7;3;1;9;b;4;P2;3;1;2;20;2;2\n",
            crate::train_evaluate::long_session("long-1", 1001)
        ),
    )
    .expect("write");
    let out = score(&data, models.path(), &["--model", "convert"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let answers = text(&out.stdout);
    assert_eq!(
        answers.lines().count(),
        3,
        "a header and two sessions: {answers}"
    );
    assert!(!answers.contains("long-1"), "{answers}");
    let err = text(&out.stderr);
    assert!(
        err.contains("scored 2 sessions")
            && err.contains("skipped 1 session(s) with more than 1000 clicks")
            && err.contains("session \"long-1\" (1001 clicks)"),
        "{err}"
    );
    let out = score(
        &data,
        models.path(),
        &["--model", "convert", "--max-clicks-per-session", "2000"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("long-1"));
}

/// A small file of two sessions, and the shipped models.
fn two_sessions() -> (tempfile::TempDir, std::path::PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("clicks.csv");
    std::fs::write(
        &data,
        format!(
            "{CSV_HEADER}\n2008;7;3;1;29;a;1;A13;1;5;1;28;2;1\n2008;7;3;1;9;b;4;P2;3;1;2;20;2;2\n"
        ),
    )
    .expect("write");
    (dir, data, crate::helpers::shipped_models())
}

#[test]
fn score_out_streams_to_a_fifo_and_a_device_and_leaves_them_what_they_are() {
    use std::os::unix::fs::FileTypeExt;
    let (dir, data, models) = two_sessions();
    let fifo = dir.path().join("answers.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).expect("read the fifo"))
    };
    let out = score(
        &data,
        models.path(),
        &["--out", fifo.to_str().expect("utf-8")],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let answers = reader.join().expect("reader thread");
    assert_eq!(answers.lines().count(), 3, "{answers}");
    let kind = std::fs::symlink_metadata(&fifo)
        .expect("still there")
        .file_type();
    assert!(kind.is_fifo(), "the fifo became {kind:?}");

    let out = score(&data, models.path(), &["--out", "/dev/null"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let kind = std::fs::metadata("/dev/null")
        .expect("/dev/null")
        .file_type();
    assert!(kind.is_char_device(), "/dev/null became {kind:?}");
}

#[test]
fn score_out_keeps_an_existing_files_mode_and_gives_a_new_one_the_umasks() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, data, models) = two_sessions();
    let mode = |p: &Path| std::fs::metadata(p).expect("exists").permissions().mode() & 0o777;
    let existing = dir.path().join("existing.csv");
    std::fs::write(&existing, "old").expect("write");
    std::fs::set_permissions(&existing, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let out = score(
        &data,
        models.path(),
        &["--out", existing.to_str().expect("utf-8")],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(mode(&existing), 0o644);
    assert!(std::fs::read_to_string(&existing)
        .expect("read")
        .contains("session_id"));

    for (umask, expected) in [("022", 0o644), ("027", 0o640)] {
        let new = dir.path().join(format!("new-{umask}.csv"));
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("umask {umask}; exec \"$0\" \"$@\""))
            .arg(env!("CARGO_BIN_EXE_clickstream"))
            .args(["score", "--data"])
            .arg(&data)
            .arg("--models")
            .arg(models.path())
            .arg("--out")
            .arg(&new)
            .output()
            .expect("sh runs");
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(mode(&new), expected, "umask {umask}");
    }
}

/// Session ids a spreadsheet would run come back from `score` as from the batch routes:
/// neutralised by default, byte for byte the route's answer; as sent with
/// `--no-formula-guard`, as the routes give them with `CSV_FORMULA_GUARD=false`.
#[test]
fn score_guards_spreadsheet_formulas_as_the_batch_routes_do_and_can_be_told_not_to() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("hostile.csv");
    let ids = [
        "=HYPERLINK(\"http://x\")",
        "+1+1",
        "@SUM(A1)",
        "-2",
        "plain",
    ];
    let mut csv = format!("{CSV_HEADER}\n");
    for id in ids {
        let cell = format!("\"{}\"", id.replace('"', "\"\""));
        csv.push_str(&format!("2008;7;3;1;29;{cell};1;A13;1;5;1;28;2;1\n"));
    }
    std::fs::write(&data, &csv).expect("write");
    let first_cells = |answer: &str| -> Vec<String> {
        csv::Reader::from_reader(answer.as_bytes())
            .records()
            .map(|r| r.expect("a CSV row")[0].to_owned())
            .collect()
    };
    for (app, flag, expected) in [
        (
            spawn_app(),
            None,
            [
                "'=HYPERLINK(\"http://x\")",
                "'+1+1",
                "'@SUM(A1)",
                "-2",
                "plain",
            ],
        ),
        (
            crate::helpers::spawn_app_with(&[("CSV_FORMULA_GUARD", "false")]),
            Some("--no-formula-guard"),
            ids,
        ),
    ] {
        let out = score(&data, app.models.path(), flag.as_slice());
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(first_cells(&text(&out.stdout)), expected, "{flag:?}");
        let served = ureq::post(&format!("{}/score/batch", app.address))
            .set("Content-Type", "text/csv")
            .set("Accept", "text/csv")
            .send_string(&csv)
            .expect("the batch answers");
        assert_eq!(text(&out.stdout), whole(served), "{flag:?}");
    }
}

/// The first `n` sessions of the trained shop's clicks, each row through `edit` with its
/// session's place (0-based).
fn shop_sessions(
    to: &Path,
    n: usize,
    mut edit: impl FnMut(usize, Vec<String>) -> Vec<String>,
) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    crate::shop::clicks_edited(to, |line| {
        let cells: Vec<String> = line.split(',').map(str::to_owned).collect();
        let id = cells[0].clone();
        let place = match ids.iter().position(|s| *s == id) {
            Some(place) => place,
            None if ids.len() < n => {
                ids.push(id);
                ids.len() - 1
            }
            None => return None,
        };
        let cells = edit(place, cells);
        // Quoted as CSV wants: a cell with a quote is enclosed and its quotes doubled.
        let quoted: Vec<String> = cells
            .iter()
            .map(|c| {
                if c.contains('"') {
                    format!("\"{}\"", c.replace('"', "\"\""))
                } else {
                    c.clone()
                }
            })
            .collect();
        Some(quoted.join(","))
    });
    ids
}

/// The columns of the generated shop's clicks file.
const CUSTOMER: usize = 6;
const DEVICE: usize = 5;
const PRICE: usize = 4;
const SKU: usize = 2;

/// A folder of the trained shop's models a server can own.
fn shop_models() -> tempfile::TempDir {
    let models = crate::helpers::empty_models();
    let trained = &crate::shop::trained().models;
    for name in crate::helpers::MODELS {
        crate::helpers::copy_version(
            &trained.join(name).join("1"),
            &models.path().join(name).join("1"),
        );
    }
    models
}

/// A shop's models read the file by their schema: the answers are the batch routes' byte
/// for byte, the customer id comes back after the answer's columns through the formula
/// guard (a formula neutralised, a number kept) and under `passthrough` in JSON, and the
/// values no catalogue knew are counted on stderr.
#[test]
fn score_reads_a_shops_file_by_its_schema_and_carries_passthrough_values_back() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("shop.csv");
    let formula = "=HYPERLINK(\"http://x\")";
    let ids = shop_sessions(&data, 4, |place, mut cells| {
        match place {
            0 => cells[CUSTOMER] = formula.into(),
            1 => cells[CUSTOMER] = "-2".into(),
            2 => {
                cells[DEVICE] = "smart-fridge".into();
                cells[SKU] = "SKU-NEVER-SOLD".into();
            }
            _ => {}
        }
        cells
    });
    assert_eq!(ids.len(), 4);
    let app = crate::helpers::spawn_app_on(shop_models(), &[]);
    let models = app.models.path();
    let body = std::fs::read_to_string(&data).expect("read");

    let out = score(&data, models, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let answer = text(&out.stdout);
    let mut rows = csv::Reader::from_reader(answer.as_bytes());
    let header = rows.headers().expect("a header").clone();
    assert_eq!(header.iter().next_back(), Some("customer_id"), "{header:?}");
    let last: Vec<(String, String)> = rows
        .records()
        .map(|r| {
            let r = r.expect("a CSV row");
            (r[0].to_owned(), r[r.len() - 1].to_owned())
        })
        .collect();
    assert_eq!(last.len(), 4);
    assert_eq!(last[0], (ids[0].clone(), format!("'{formula}")));
    assert_eq!(last[1], (ids[1].clone(), "-2".to_owned()));
    assert!(last[3].1.starts_with("c-"), "{:?}", last[3]);
    // Every click of the third session is on a device and a product training never saw.
    let stderr = text(&out.stderr);
    let clicks = body.lines().filter(|l| l.starts_with(&ids[2])).count();
    assert!(
        stderr.contains(&format!("product {clicks}"))
            && stderr.contains(&format!("device {clicks}")),
        "{stderr}"
    );
    assert!(stderr.contains("scored 4 sessions"), "{stderr}");

    for (accept, format) in [("text/csv", "csv"), ("application/json", "json")] {
        let served = ureq::post(&format!("{}/score/batch", app.address))
            .set("Content-Type", "text/csv")
            .set("Accept", accept)
            .send_string(&body)
            .expect("the batch answers");
        let out = score(&data, models, &["--format", format]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(
            text(&out.stdout) == whole(served),
            "/score/batch as {format} differs from score"
        );
    }
    let out = score(&data, models, &["--model", "convert", "--format", "jsonl"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["passthrough"]["customer_id"], formula);
    assert_eq!(lines[1]["passthrough"]["customer_id"], "-2");
    assert_eq!(lines[0]["model"], "convert");
}

#[test]
fn a_bad_value_in_a_shops_file_is_named_by_line_column_and_role() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("shop.csv");
    let mut row = 0;
    shop_sessions(&data, 3, |_, mut cells| {
        row += 1;
        if row == 3 {
            cells[PRICE] = "free".into();
        }
        cells
    });
    let models = &crate::shop::trained().models;
    let out = score(&data, models, &[]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    // The header is line 1: the third data row is line 4.
    assert!(
        err.contains("shop.csv: line 4: column \"price (price)\": value \"free\" is invalid"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
    let out = score(&data, models, &["--skip-invalid"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("skipped 1 invalid row(s)"),
        "{}",
        text(&out.stderr)
    );
}

/// The three answers of one file must read one schema: a shop's convert version beside the
/// UCI revenue and segment versions is refused for `--model all`, naming each schema,
/// while each model alone scores the file its version reads.
#[test]
fn score_refuses_versions_that_read_different_schemas_and_names_them() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("shop.csv");
    shop_sessions(&data, 2, |_, cells| cells);
    let models = crate::helpers::empty_models();
    crate::helpers::copy_version(
        &crate::shop::trained().models.join("convert/1"),
        &models.path().join("convert/1"),
    );
    crate::helpers::copy_shipped(models.path(), "revenue");
    crate::helpers::copy_shipped(models.path(), "segment");
    let out = score(&data, models.path(), &[]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("convert v1 reads \"trailhead-outdoor\"")
            && err.contains("revenue v1 reads \"uci-clothing-2008\"")
            && err.contains("--model convert"),
        "{err}"
    );
    let out = score(&data, models.path(), &["--model", "convert"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}
