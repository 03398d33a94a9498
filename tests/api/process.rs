//! The `serve` binary as an orchestrator runs it: the reload at start and on SIGHUP, and
//! SIGTERM letting the request in flight finish before the process exits. Each server is
//! its own process, so its metrics are its own.

use crate::helpers::{
    empty_models, publish_copy, publish_corrupt_copy, reload_not_recorded, shipped_models,
    start_serve_process, start_serve_process_on, synthetic_clickstream, wait_until, Metrics,
    ServeProcess,
};

#[test]
fn sighup_loads_a_newly_published_version() {
    let server = start_serve_process();
    assert_eq!(server.app.default_version("convert"), Some(1));
    publish_copy(server.app.models.path(), "convert", 2);
    server.signal("HUP");
    server
        .app
        .wait_for_default_version("convert", 2, "after SIGHUP");
}

#[test]
fn sigterm_finishes_the_request_in_flight_then_exits() {
    let mut server = start_serve_process();
    let dir = tempfile::tempdir().expect("A temporary folder can be made.");
    let data = dir.path().join("big.csv");
    synthetic_clickstream(&data, 45_000, 5);
    let body = std::fs::read(&data).expect("The clickstream can be read back.");
    let url = format!("{}/score/batch", server.app.address);
    let in_flight = std::thread::spawn(move || {
        ureq::post(&url)
            .set("Content-Type", "text/csv")
            .send_bytes(&body)
            .map(|r| {
                let status = r.status();
                let mut bytes = Vec::new();
                let read = std::io::Read::read_to_end(&mut r.into_reader(), &mut bytes);
                (status, read.map(|_| bytes.len()).unwrap_or(0))
            })
            .map_err(|e| e.to_string())
    });
    // The batch is admitted (its process's metrics are its own): it is in flight.
    server.app.wait_for_bytes_in_flight("batches", 1);
    server.signal("TERM");
    let (status, length) = in_flight
        .join()
        .expect("The client thread ends.")
        .expect("The request in flight gets its answer.");
    assert_eq!(status, 200);
    // Every one of the 45000 sessions is answered (about 600 bytes of JSON each).
    assert!(length > 45_000 * 500, "a whole answer ({length} bytes)");
    let exit = server.wait_for_exit();
    assert!(exit.success(), "{exit:?}");
}

/// What is missing from the WARN lines `model version refused` with `trigger` set.
fn refusal_not_logged(server: &ServeProcess, trigger: &str) -> Vec<String> {
    let refusals = server.logged("WARN", "model version refused");
    if refusals.iter().any(|v| v["fields"]["trigger"] == trigger) {
        vec![]
    } else {
        vec![format!(
            "no WARN `model version refused` line with trigger {trigger:?} (those logged: {refusals:?})"
        )]
    }
}

#[test]
fn reload_at_start_is_counted_and_logged_with_its_trigger() {
    let models = shipped_models();
    publish_copy(models.path(), "segment", 4);
    publish_corrupt_copy(models.path(), "segment", 5);
    let server = start_serve_process_on(models);
    // A new process has recorded nothing before its first reload.
    let before = Metrics::parse("");
    wait_until(10, "the reload at start was not recorded", || {
        let mut missing = refusal_not_logged(&server, "start");
        missing.extend(reload_not_recorded(
            &before,
            &server.app.metrics(),
            "start",
            "segment",
            4,
        ));
        missing
    });
}

#[test]
fn reload_on_sighup_is_counted_and_logged_with_its_trigger() {
    let server = start_serve_process();
    let before = server.app.metrics();
    publish_copy(server.app.models.path(), "convert", 2);
    publish_corrupt_copy(server.app.models.path(), "convert", 3);
    server.signal("HUP");
    server
        .app
        .wait_for_default_version("convert", 2, "after SIGHUP");
    wait_until(10, "the reload on SIGHUP was not recorded", || {
        let mut missing = refusal_not_logged(&server, "sighup");
        missing.extend(reload_not_recorded(
            &before,
            &server.app.metrics(),
            "sighup",
            "convert",
            2,
        ));
        missing
    });
}

#[test]
fn serve_warns_at_start_when_the_models_folder_holds_no_model() {
    let server = start_serve_process_on(empty_models());
    let folder = server.app.models.path().display().to_string();
    let message = "not ready: a model has no valid version in the models folder (MODELS_DIR)";
    wait_until(10, "no start-up warning naming the models folder", || {
        let lines = server.logged("WARN", message);
        match lines.first() {
            Some(line) if line["fields"]["models_dir"] == folder.as_str() => vec![],
            Some(line) => vec![format!("it names another folder: {line}")],
            None => vec!["no such line yet".into()],
        }
    });
}
