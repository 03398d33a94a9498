//! Where tests find the real UCI clickstream, and what they do when it is absent.
//!
//! One copy, included by path into the library's unit tests (`src/lib.rs`) and the API tests
//! (`tests/api/main.rs`), so every test that needs the file decides the same way. Without
//! `CLICKSTREAM_REQUIRE_DATA=1` a missing file is a skip that says so (a fresh clone has no
//! data); with it (CI sets it) the test fails, so a run without the file cannot pass as green.

use std::io::Write as _;
use std::path::PathBuf;

/// Points at the real file when it is not at `../shared/data` beside the repository.
const DATA_VARIABLE: &str = "CLICKSTREAM_DATA";

/// `1` makes a missing real file fail the test instead of skipping it.
const REQUIRE_VARIABLE: &str = "CLICKSTREAM_REQUIRE_DATA";

/// The real file; `None` after a skip line naming the path looked at and both variables;
/// a panic instead when `CLICKSTREAM_REQUIRE_DATA=1`.
pub fn real_data_or_skip() -> Option<PathBuf> {
    let path = std::env::var_os(DATA_VARIABLE)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../shared/data/e-shop-clothing-2008-apr-jul.csv")
        });
    if path.is_file() {
        return Some(path);
    }
    // Anything but an unset, empty, `0` or `1` value is refused rather than guessed at: a
    // typo must not quietly turn the requirement off.
    let required = match std::env::var(REQUIRE_VARIABLE).as_deref() {
        Err(std::env::VarError::NotPresent) | Ok("" | "0") => false,
        Ok("1") => true,
        other => panic!("{REQUIRE_VARIABLE} must be 1 or 0, not {other:?}"),
    };
    assert!(
        !required,
        "the UCI clickstream is not at {} and {REQUIRE_VARIABLE}=1 requires it \
         (set {DATA_VARIABLE} to its path)",
        path.display()
    );
    // Straight to the process's stderr: the test harness captures `eprintln!` of a passing
    // test, and a skip that nobody sees is the green run this file exists to prevent.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED: the UCI clickstream is not at {} (set {DATA_VARIABLE} to its path; \
         {REQUIRE_VARIABLE}=1 makes this a failure)",
        path.display()
    );
    None
}
