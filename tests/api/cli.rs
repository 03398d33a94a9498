//! The command line's edges: options checked before any work, errors that name the file or
//! address they concern, and `serve` pointing options to its environment variables.

use crate::helpers::{run, text};
use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn an_out_of_range_option_is_refused_before_the_data_is_read() {
    let dir = tempfile::tempdir().expect("temp dir");
    // The data file does not exist: a refusal that names the option came before reading it.
    let missing = dir.path().join("absent.csv");
    let missing = missing.to_str().expect("utf-8 path");
    for (args, option) in [
        (
            vec!["train", "--data", missing, "--min-roc-auc", "2"],
            "--min-roc-auc",
        ),
        (
            vec!["train", "--data", missing, "--min-sessions-per-class", "0"],
            "--min-sessions-per-class",
        ),
        (
            vec!["evaluate", "--data", missing, "--version", "0"],
            "--version",
        ),
        // Far below a row's size, partitions multiplied into millions of files.
        (
            vec!["score", "--data", missing, "--memory-budget", "0.000001"],
            "--memory-budget <MIB>': \"0.000001\" is not a number of MiB from 0.01 to",
        ),
        (
            vec!["train", "--data", missing, "--memory-budget", "1e400"],
            "--memory-budget",
        ),
        (
            vec!["train", "--data", missing, "--sample-fraction", "NaN"],
            "--sample-fraction",
        ),
    ] {
        let out = run(&args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        let err = text(&out.stderr);
        assert!(
            err.contains(option) && !err.contains("absent.csv"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn serve_with_an_option_suggests_its_variable() {
    let out = run(&["serve", "--port", "9000"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("PORT=9000 clickstream serve"), "{err}");
    let help = text(&run(&["serve", "--help"]).stdout);
    for variable in [
        "PORT",
        "MODELS_DIR",
        "API_KEYS",
        "MAX_SESSIONS_PER_BATCH",
        "[default: 8080]",
    ] {
        assert!(
            help.contains(variable),
            "serve --help lacks {variable}: {help}"
        );
    }
}

#[test]
fn openapi_names_the_file_it_cannot_write() {
    let dir = tempfile::tempdir().expect("temp dir");
    let target = dir.path().join("no-such-folder").join("openapi.json");
    let out = run(&["openapi", "--out", target.to_str().expect("utf-8 path")]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains(&target.display().to_string()), "{err}");
}

#[test]
fn serve_on_a_busy_port_names_the_address() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = busy.local_addr().expect("address").port().to_string();
    let start = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_clickstream"))
        .arg("serve")
        .env("PORT", &port)
        .env("HOST", "127.0.0.1")
        .env("MODELS_DIR", concat!(env!("CARGO_MANIFEST_DIR"), "/models"))
        .env("RUST_LOG", "warn")
        .output()
        .expect("serve runs");
    assert!(start.elapsed() < Duration::from_secs(30));
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
}

#[test]
fn the_documented_split_makes_the_training_and_the_test_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let original = dir.path().join("e-shop clothing 2008.csv");
    let header = "year;month;day;order;country;session ID;page 1 (main category);page 2 (clothing model);colour;location;model photography;price;price 2;page";
    let row =
        |month: u32, session: u32| format!("2008;{month};1;1;29;{session};1;A13;1;5;1;28;2;1");
    // As downloaded: \r\n line endings, months 4 to 8.
    let lines: Vec<String> = std::iter::once(header.to_owned())
        .chain((4..=8).map(|m| row(m, m)))
        .collect();
    std::fs::write(&original, lines.join("\r\n") + "\r\n").expect("write");
    let out = split(&original, &dir.path().join("data"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let read = |name: &str| {
        std::fs::read_to_string(dir.path().join("data").join(name)).expect("split file")
    };
    let expected_train: String = std::iter::once(header.to_owned())
        .chain((4..=7).map(|m| row(m, m)))
        .map(|l| l + "\n")
        .collect();
    assert_eq!(read("e-shop-clothing-2008-apr-jul.csv"), expected_train);
    assert_eq!(
        read("e-shop-clothing-2008-aug.csv"),
        format!("{header}\n{}\n", row(8, 8))
    );
    assert!(text(&out.stdout).contains("e-shop-clothing-2008-aug.csv"));

    // A month outside April-August is named with its line, not silently dropped.
    std::fs::write(&original, format!("{header}\n{}\n", row(9, 1))).expect("write");
    let out = split(&original, &dir.path().join("data"));
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("line 2: month 9"),
        "{}",
        text(&out.stderr)
    );
}

/// Runs the documented split script on `original` into `out`.
fn split(original: &std::path::Path, out: &std::path::Path) -> std::process::Output {
    Command::new("sh")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/split-uci.sh"))
        .arg(original)
        .arg(out)
        .output()
        .expect("sh runs")
}

#[test]
fn files_and_folders_that_are_not_there_are_named_with_their_cause() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("sessions.csv");
    std::fs::write(
        &data,
        "year,month,day,order,country,session_id,page1_main_category,page2_clothing_model,colour,location,model_photography,price,price_2,page\n2008,4,1,1,29,s-1,1,A13,1,5,1,28,2,1\n",
    )
    .expect("data written");
    let data = data.to_str().expect("utf-8 path");
    let stderr = |args: &[&str], cwd: &std::path::Path| {
        let out = Command::new(env!("CARGO_BIN_EXE_clickstream"))
            .args(args)
            .current_dir(cwd)
            .output()
            .expect("The clickstream binary runs.");
        assert!(!out.status.success(), "{args:?} succeeded");
        text(&out.stderr)
    };
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let shipped = shipped.to_str().expect("utf-8 path");

    // The default models/ is relative: run elsewhere, the folder is named in full, with
    // the option that fixes it.
    let elsewhere = dir.path().join("models").display().to_string();
    for command in ["score", "evaluate"] {
        let err = stderr(&[command, "--data", data], dir.path());
        assert!(
            err.contains(&format!("the models folder {elsewhere} does not exist"))
                && err.contains("--models"),
            "{command}: {err}"
        );
    }
    // A version that is not there: the ones that are.
    let err = stderr(
        &[
            "score",
            "--data",
            data,
            "--models",
            shipped,
            "--version",
            "7",
        ],
        dir.path(),
    );
    assert!(
        err.contains("no version 7") && err.contains("versions there: 1"),
        "{err}"
    );
    // A data file that is not there: its path and the system's reason, once.
    let absent = dir.path().join("absent.csv").display().to_string();
    for command in ["score", "evaluate"] {
        let err = stderr(
            &[command, "--data", &absent, "--models", shipped],
            dir.path(),
        );
        assert!(
            err.contains(&absent) && err.matches("No such file or directory").count() == 1,
            "{command}: {err}"
        );
    }
    // An output in a folder that is not there: the folder.
    let out = dir.path().join("no-such-folder").join("scores.csv");
    let err = stderr(
        &[
            "score",
            "--data",
            data,
            "--models",
            shipped,
            "--out",
            out.to_str().expect("utf-8"),
        ],
        dir.path(),
    );
    assert!(
        err.contains(&format!(
            "the folder {} does not exist",
            dir.path().join("no-such-folder").display()
        )),
        "{err}"
    );
}

#[test]
fn an_endless_row_stops_train_evaluate_and_score_naming_its_line() {
    use crate::helpers::{run_on, shipped_models, text, CSV_HEADER};
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("endless.csv");
    // 10 MB with no line end after a header and one good row.
    let mut body = format!("{CSV_HEADER}\n2008;4;1;1;29;s;1;A13;1;5;1;28;2;1\n").into_bytes();
    body.resize(body.len() + 10_000_000, b'a');
    std::fs::write(&data, body).expect("write");
    let models = shipped_models();
    for command in ["score", "evaluate", "train"] {
        let out = run_on(command, &data, models.path(), &["--skip-invalid"]);
        assert!(!out.status.success(), "{command} accepted an endless row");
        let err = text(&out.stderr);
        assert!(
            err.contains("line 3: the row is longer than 65536 bytes"),
            "{command}: {err}"
        );
    }
}

#[test]
fn evaluate_of_an_absent_version_lists_the_versions_there() {
    use crate::helpers::{run_on, shipped_models};
    let models = shipped_models();
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("clicks.csv");
    crate::helpers::synthetic_clickstream(&data, 50, 1);
    for command in ["evaluate", "score"] {
        let out = run_on(command, &data, models.path(), &["--version", "7"]);
        assert!(!out.status.success());
        let err = text(&out.stderr);
        assert!(
            err.contains("convert: no version 7 in") && err.contains("(versions there: 1)"),
            "{command}: {err}"
        );
    }
}

#[test]
fn evaluate_html_is_in_the_usage_and_the_help() {
    let out = run(&["evaluate", "--help"]);
    let help = text(&out.stdout);
    let usage = help
        .lines()
        .find(|l| l.starts_with("Usage:"))
        .unwrap_or_default();
    assert!(
        usage.contains("--html <FILE>") && usage.contains("--json"),
        "{help}"
    );
    assert!(help.contains("--html <FILE>"), "{help}");
    let out = run(&["--help"]);
    let help = text(&out.stdout);
    let evaluate = help
        .lines()
        .find(|l| l.trim_start().starts_with("evaluate"))
        .unwrap_or_default();
    assert!(evaluate.contains("--html"), "{help}");
}

/// Runs the binary with its output read for a few bytes, then the pipe closed: it must end
/// quietly, with success or killed by SIGPIPE, never a panic or an error message.
fn assert_quiet_on_a_closed_pipe(args: &[&str]) {
    use std::io::Read;
    use std::os::unix::process::ExitStatusExt;
    let mut child = Command::new(env!("CARGO_BIN_EXE_clickstream"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut first = [0u8; 16];
    stdout.read_exact(&mut first).expect("some output");
    drop(stdout);
    let out = child.wait_with_output().expect("the binary ends");
    let err = text(&out.stderr);
    assert!(
        !err.contains("panicked") && !err.contains("error"),
        "{args:?}: {err}"
    );
    assert!(
        out.status.success() || out.status.signal() == Some(libc::SIGPIPE),
        "{args:?}: {:?} {err}",
        out.status
    );
}

#[test]
fn a_closed_pipe_ends_any_command_quietly() {
    assert_quiet_on_a_closed_pipe(&["openapi"]);
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("clicks.csv");
    // Answers far larger than a pipe's buffer, so writes meet the closed pipe.
    crate::helpers::synthetic_clickstream(&data, 5000, 3);
    let models = crate::helpers::shipped_models();
    let data = data.to_str().expect("utf-8");
    let models = models.path().to_str().expect("utf-8");
    for format in ["csv", "json", "jsonl"] {
        assert_quiet_on_a_closed_pipe(&[
            "score", "--data", data, "--models", models, "--format", format,
        ]);
    }
    assert_quiet_on_a_closed_pipe(&["evaluate", "--data", data, "--models", models, "--json"]);
}
