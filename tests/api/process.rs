//! The `serve` binary as an orchestrator runs it: SIGHUP picks up a new version, SIGTERM
//! lets the request in flight finish before the process exits.

use crate::helpers::{publish_copy, start_serve_process, synthetic_clickstream};
use std::time::Duration;

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
    std::thread::sleep(Duration::from_millis(150));
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
