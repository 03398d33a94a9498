//! `score` of a file whose sessions' rows lie apart: grouped on disk within a memory
//! budget (docs/score-volume.md), the same answers as the sorted file, the spill folder
//! left empty.

use crate::helpers::{shipped_models, text};
use crate::score_command::score;
use crate::shop::path;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use std::path::Path;

/// The file's data rows in a random order (a fixed seed), its header first.
fn shuffled(from: &Path, to: &Path, seed: u64) {
    let text = std::fs::read_to_string(from).expect("The data file reads.");
    let mut lines = text.lines();
    let header = lines.next().expect("a header");
    let mut rows: Vec<&str> = lines.filter(|l| !l.trim().is_empty()).collect();
    rows.shuffle(&mut Xoshiro256PlusPlus::seed_from_u64(seed));
    let mut out = format!("{header}\n");
    for row in rows {
        out.push_str(row);
        out.push('\n');
    }
    std::fs::write(to, out).expect("The shuffled copy is written.");
}

/// A CSV answer's header and its rows sorted (by session id, the first column): the set of
/// answers, whatever order they came in.
fn answer_set(csv_text: &str) -> (String, Vec<String>) {
    let mut lines = csv_text.lines();
    let header = lines.next().expect("a header").to_owned();
    let mut rows: Vec<String> = lines.map(str::to_owned).collect();
    rows.sort();
    (header, rows)
}

/// Files left in the spill folder.
fn left_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("The spill folder reads.")
        .map(|e| {
            e.expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

/// The number in "grouped on disk in N partition(s)" on stderr.
fn partitions(stderr: &str) -> Option<usize> {
    let (_, rest) = stderr.split_once("grouped on disk in ")?;
    rest.split_whitespace().next()?.parse().ok()
}

/// Shuffled rows score to the sorted file's answers (sorted by session id to compare):
/// with --unsorted and a budget small enough for dozens of partitions, with the spill
/// folder empty afterwards; without it, to a file, by reading the file again once a
/// session is found apart; to standard output, refused with what to do.
#[test]
fn shuffled_rows_score_to_the_sorted_files_answers_within_a_tiny_budget() {
    let Some(data) = crate::data_file::real_data_or_skip() else {
        return;
    };
    let models = shipped_models();
    let dir = tempfile::tempdir().expect("temp dir");
    let spill = tempfile::tempdir().expect("spill dir");
    let mixed = dir.path().join("shuffled.csv");
    shuffled(&data, &mixed, 19);

    let sorted = score(&data, models.path(), &[]);
    assert!(sorted.status.success(), "{}", text(&sorted.stderr));
    let expected = answer_set(&text(&sorted.stdout));
    assert_eq!(expected.1.len(), 22_102);

    let out = score(
        &mixed,
        models.path(),
        &[
            "--unsorted",
            "--memory-budget",
            "0.5",
            "--spill-dir",
            path(spill.path()),
        ],
    );
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        partitions(&stderr).is_some_and(|n| n >= 20),
        "a 6 MB file in half a MiB takes dozens of partitions: {stderr}"
    );
    assert!(stderr.contains("scored 22102 sessions"), "{stderr}");
    assert_eq!(answer_set(&text(&out.stdout)), expected);
    assert!(
        left_in(spill.path()).is_empty(),
        "{:?}",
        left_in(spill.path())
    );

    // Without --unsorted: streaming stops at the first session found apart and starts
    // again grouped, which a regular --out file allows.
    let answers = dir.path().join("answers.csv");
    let out = score(
        &mixed,
        models.path(),
        &[
            "--out",
            path(&answers),
            "--memory-budget",
            "1",
            "--spill-dir",
            path(spill.path()),
        ],
    );
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("read again after streaming stopped") && stderr.contains("comes back"),
        "{stderr}"
    );
    let written = std::fs::read_to_string(&answers).expect("answers written");
    assert_eq!(answer_set(&written), expected);
    assert!(left_in(spill.path()).is_empty());

    // Answers already on standard output cannot be taken back.
    let out = score(&mixed, models.path(), &[]);
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("comes back") && stderr.contains("--unsorted"),
        "{stderr}"
    );
}

/// The sorted file through --unsorted is the same answers too, and a file that fits the
/// budget is grouped in memory, writing nothing to the spill folder.
#[test]
fn unsorted_scoring_of_a_file_that_fits_the_budget_spills_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let spill = tempfile::tempdir().expect("spill dir");
    let data = dir.path().join("clicks.csv");
    crate::helpers::synthetic_clickstream(&data, 300, 7);
    let models = shipped_models();
    let streamed = score(&data, models.path(), &[]);
    assert!(streamed.status.success(), "{}", text(&streamed.stderr));
    let out = score(
        &data,
        models.path(),
        &["--unsorted", "--spill-dir", path(spill.path())],
    );
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("grouped on disk"), "{stderr}");
    // Grouped in memory: in order of first appearance, byte for byte the streamed answer.
    assert_eq!(text(&out.stdout), text(&streamed.stdout));
    assert!(left_in(spill.path()).is_empty());
}

/// A spill folder that cannot be written is named with what to do, and nothing is left
/// where the answers were expected; a bad row met while grouping names its line in the
/// file, and the partitions are removed.
#[test]
fn unsorted_scoring_names_an_unwritable_spill_folder_and_cleans_up_after_a_bad_row() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("clicks.csv");
    crate::helpers::synthetic_clickstream(&data, 300, 8);
    let models = shipped_models();
    let answers = dir.path().join("answers.csv");
    // A file where a folder is expected: no folder can be made in it, even by root.
    let not_a_dir = dir.path().join("not-a-folder");
    std::fs::write(&not_a_dir, "x").expect("a file");
    let out = score(
        &data,
        models.path(),
        &[
            "--unsorted",
            "--memory-budget",
            "0.01",
            "--spill-dir",
            path(&not_a_dir),
            "--out",
            path(&answers),
        ],
    );
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("not-a-folder") && stderr.contains("--spill-dir"),
        "{stderr}"
    );
    assert!(!answers.exists());

    // A bad location (9) on a row in the middle of the file.
    let body = std::fs::read_to_string(&data).expect("read");
    let mut lines: Vec<String> = body.lines().map(str::to_owned).collect();
    let middle = lines.len() / 2;
    let mut cells: Vec<String> = lines[middle].split(';').map(str::to_owned).collect();
    cells[9] = "9".into();
    lines[middle] = cells.join(";");
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, lines.join("\n") + "\n").expect("write");
    let spill = tempfile::tempdir().expect("spill dir");
    let out = score(
        &bad,
        models.path(),
        &[
            "--unsorted",
            "--memory-budget",
            "0.01",
            "--spill-dir",
            path(spill.path()),
            "--out",
            path(&answers),
        ],
    );
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(&format!("line {}", middle + 1)) && stderr.contains("location"),
        "{stderr}"
    );
    assert!(
        left_in(spill.path()).is_empty(),
        "{:?}",
        left_in(spill.path())
    );
    assert!(!answers.exists());
}

/// A shop's file too large for the budget is grouped on disk too: its shuffled rows give
/// the sorted file's answers, passthrough values included.
#[test]
fn a_shops_shuffled_file_past_the_budget_scores_to_the_same_answers() {
    let shop = crate::shop::trained();
    let dir = tempfile::tempdir().expect("temp dir");
    let spill = tempfile::tempdir().expect("spill dir");
    let mixed = dir.path().join("shuffled.csv");
    shuffled(&shop.clicks, &mixed, 20);
    let whole = score(&shop.clicks, &shop.models, &[]);
    assert!(whole.status.success(), "{}", text(&whole.stderr));
    let expected = answer_set(&text(&whole.stdout));
    assert!(expected.0.ends_with("customer_id"), "{}", expected.0);
    let out = score(
        &mixed,
        &shop.models,
        &["--memory-budget", "0.25", "--spill-dir", path(spill.path())],
    );
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(partitions(&stderr).is_some_and(|n| n >= 4), "{stderr}");
    assert_eq!(answer_set(&text(&out.stdout)), expected);
    assert!(left_in(spill.path()).is_empty());
}
