//! `clickstream score` gives, byte for byte, what the batch routes give for the same file,
//! and fails clearly (line, path) when it cannot.

use crate::helpers::{run, spawn_app, synthetic_clickstream, text, TestApp, CSV_HEADER};
use std::path::Path;

fn score(data: &Path, models: &Path, extra: &[&str]) -> std::process::Output {
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
