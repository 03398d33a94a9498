//! Issue 16: what a hostile client or a hostile file in the models folder could make the
//! service do to others: CSV answers a spreadsheet would run, queries whose handling grows
//! faster than they do, connections that hold a pool without sending, files that leave
//! their folder, a short listen queue, and pages without framing and sniffing headers.

use crate::helpers::*;
use serde_json::json;

// CSV answers a spreadsheet would run.

/// Ids a spreadsheet reads as formulas (or as whitespace hiding one), and one it reads as
/// a number; `+1+1` is not a number, so it is a formula.
const HOSTILE_IDS: &[&str] = &[
    "=HYPERLINK(\"http://evil.example\",\"x\")",
    "+1+1",
    "-2",
    "@SUM(A1)",
    "\tx",
    "\rx",
];

/// A batch with each hostile id twice: once in a session that scores and once (with `!`
/// after it) in one that cannot, whose row echoes the id as sent and quotes the bad value.
fn hostile_batch() -> String {
    let mut sessions = Vec::new();
    for id in HOSTILE_IDS {
        sessions.push(session(id, vec![click(1, "A13", 28.0)]));
        sessions.push(session(
            &format!("{id}!"),
            vec![click(1, "=cmd|' /C calc'!A0", 28.0)],
        ));
    }
    json!({ "sessions": sessions }).to_string()
}

fn csv_rows(text: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| {
            r.expect("The answer is valid CSV.")
                .iter()
                .map(str::to_owned)
                .collect()
        })
        .collect()
}

/// A cell a spreadsheet would run or read as hidden whitespace before one.
fn runs_in_a_spreadsheet(cell: &str) -> bool {
    let starts = cell.starts_with(['=', '+', '@', '\t', '\r']);
    let minus_text = cell.starts_with('-') && cell.parse::<f64>().is_err();
    starts || minus_text
}

const BATCH_ROUTES: &[&str] = &[
    "/convert/batch",
    "/revenue/batch",
    "/segment/batch",
    "/score/batch",
];

#[test]
fn csv_answers_neutralise_cells_a_spreadsheet_would_run_on_every_batch_route() {
    let app = spawn_app();
    for route in BATCH_ROUTES {
        let r = app.post_raw(
            &format!("{route}?on_error=skip"),
            "application/json",
            &hostile_batch(),
            &[("Accept", "text/csv")],
        );
        assert_eq!(r.status, 200, "{route}: {:?}", r.body);
        let text = r.body.as_str().expect("a CSV answer");
        let rows = csv_rows(text);
        assert_eq!(rows.len(), 1 + 2 * HOSTILE_IDS.len(), "{route}: {text}");
        for cell in rows.iter().flatten() {
            assert!(
                !runs_in_a_spreadsheet(cell),
                "{route}: the cell {cell:?} would run in a spreadsheet"
            );
        }
        let ids: Vec<&str> = rows[1..].iter().map(|row| row[0].as_str()).collect();
        assert_eq!(
            ids,
            [
                // A scored session's id is trimmed; a refused one's is echoed as sent.
                "'=HYPERLINK(\"http://evil.example\",\"x\")",
                "'=HYPERLINK(\"http://evil.example\",\"x\")!",
                "'+1+1",
                "'+1+1!",
                "-2",
                "'-2!",
                "'@SUM(A1)",
                "'@SUM(A1)!",
                "x",
                "'\tx!",
                "x",
                "'\rx!",
            ],
            "{route}"
        );
        // The error column quotes the bad product code inside its message.
        let last = rows[2].last().expect("an error column");
        assert!(last.contains("=cmd|"), "{route}: {last}");
    }
}

#[test]
fn csv_answers_keep_cells_as_sent_when_the_guard_is_off() {
    let app = spawn_app_with(&[("CSV_FORMULA_GUARD", "false")]);
    for route in BATCH_ROUTES {
        let r = app.post_raw(
            &format!("{route}?on_error=skip"),
            "application/json",
            &hostile_batch(),
            &[("Accept", "text/csv")],
        );
        assert_eq!(r.status, 200, "{route}: {:?}", r.body);
        let rows = csv_rows(r.body.as_str().expect("a CSV answer"));
        assert_eq!(rows[1][0], HOSTILE_IDS[0], "{route}");
        assert_eq!(rows[2][0], format!("{}!", HOSTILE_IDS[0]), "{route}");
        assert_eq!(rows[10][0], "\tx!", "{route}");
    }
}

#[test]
fn csv_uploads_with_hostile_ids_are_neutralised_too() {
    let app = spawn_app();
    // The same hostile ids in a CSV upload: quoted, as a tab or a carriage return must be.
    let mut body = format!("{CSV_HEADER}\n");
    for id in HOSTILE_IDS {
        let quoted = format!("\"{}\"", id.replace('"', "\"\""));
        body.push_str(&format!("2008;7;3;1;29;{quoted};1;A13;1;5;1;28;2;1\n"));
    }
    let r = app.post_raw(
        "/score/batch",
        "text/csv",
        &body,
        &[("Accept", "text/csv")],
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
    let rows = csv_rows(r.body.as_str().expect("a CSV answer"));
    for cell in rows.iter().flatten() {
        assert!(!runs_in_a_spreadsheet(cell), "{cell:?}");
    }
    assert!(rows.iter().any(|row| row[0] == "-2"), "{rows:?}");
    assert!(rows.iter().any(|row| row[0] == "'@SUM(A1)"), "{rows:?}");
}
