//! What a container runtime needs of the binary: a health check with no curl in the image,
//! and logs a collector can read (no colour codes on a pipe).

use crate::helpers::{empty_models, shipped_models, spawn_app, spawn_app_on, text};
use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn healthcheck(port: &str, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_clickstream"))
        .arg("healthcheck")
        .args(extra)
        .env("PORT", port)
        .env("HOST", "127.0.0.1")
        .output()
        .expect("The clickstream binary runs.")
}

fn port_of(address: &str) -> &str {
    address.rsplit(':').next().expect("an address with a port")
}

#[test]
fn healthcheck_passes_on_a_ready_server_and_fails_on_one_that_is_not() {
    let ready = spawn_app();
    let out = healthcheck(port_of(&ready.address), &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = healthcheck(port_of(&ready.address), &["--path", "/livez"]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let empty = spawn_app_on(empty_models(), &[]);
    let out = healthcheck(port_of(&empty.address), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("503"), "{}", text(&out.stderr));
    // The process is up, so liveness passes while readiness does not.
    let out = healthcheck(port_of(&empty.address), &["--path", "/livez"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn healthcheck_fails_fast_when_nothing_listens_or_the_path_is_wrong() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = listener
        .local_addr()
        .expect("a bound address")
        .port()
        .to_string();
    drop(listener);
    let started = Instant::now();
    let out = healthcheck(&port, &["--timeout-ms", "500"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("did not answer"),
        "{}",
        text(&out.stderr)
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    let out = healthcheck(&port, &["--path", "readyz"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("must start with /"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn readable_logs_on_a_pipe_carry_no_colour_codes() {
    let models = shipped_models();
    let mut child = Command::new(env!("CARGO_BIN_EXE_clickstream"))
        .arg("serve")
        .env("PORT", "0")
        .env("HOST", "127.0.0.1")
        .env("LOG_FORMAT", "pretty")
        .env("RUST_LOG", "info")
        .env("MODELS_DIR", models.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("The clickstream binary starts.");
    let stdout = child.stdout.take().expect("Its stdout is piped.");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let serving = line.contains("serving");
            lines.push(line);
            if serving {
                break;
            }
        }
        let _ = tx.send(lines);
    });
    let lines = rx.recv_timeout(Duration::from_secs(20));
    let _ = child.kill();
    let _ = child.wait();
    let lines = lines.expect("The server logs that it is serving within 20 s.");
    assert!(lines.len() >= 2, "{lines:?}");
    let coloured: Vec<&String> = lines.iter().filter(|l| l.contains('\u{1b}')).collect();
    assert!(coloured.is_empty(), "colour codes on a pipe: {coloured:?}");
}
