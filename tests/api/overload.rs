//! Beyond its budget of work in flight the service sheds load with a fast, explicit 503
//! and `Retry-After`, keeps answering single sessions from their own pool, and takes
//! batches again as soon as room comes back.

use crate::helpers::{
    browsing, csv_body, shipped_models, spawn_app_with, start_serve_process_with, wait_until,
    CSV_HEADER,
};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

#[test]
fn batches_past_the_budget_wait_then_get_503_while_single_sessions_still_score() {
    // Its own process, so that the bytes in flight it waits on are its own.
    let server = start_serve_process_with(
        shipped_models(),
        &[
            ("MAX_BODY_BYTES", "65536"),
            ("MAX_BODY_BYTES_IN_FLIGHT", "65536"),
            ("BATCH_QUEUE_SECS", "1"),
            ("BODY_TIMEOUT_SECS", "60"),
        ],
    );
    let app = &server.app;
    let address = app.address.trim_start_matches("http://").to_owned();
    // A batch that announces 60,000 bytes and sends a few: it holds the batch pool.
    let mut held = TcpStream::connect(&address).expect("connect");
    write!(
        held,
        "POST /convert/batch HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nContent-Length: 60000\r\n\r\n{CSV_HEADER}\n"
    )
    .expect("headers");
    held.flush().expect("flush");
    app.wait_for_bytes_in_flight("batches", 60_000);

    // Another batch, larger than what is left, waits for the queue time and is refused,
    // with its whole body read first so that the client gets the answer.
    let mut big = String::from(CSV_HEADER);
    while big.len() < 20_000 {
        big.push_str("\n2008;7;3;1;29;a;1;A13;1;5;1;28;2;1");
    }
    let start = Instant::now();
    let refused = ureq::post(&format!("{}/convert/batch", app.address))
        .set("Content-Type", "text/csv")
        .send_string(&big);
    let waited = start.elapsed();
    let response = match refused {
        Err(ureq::Error::Status(503, r)) => r,
        other => panic!("expected 503, got {other:?}"),
    };
    assert_eq!(response.header("retry-after"), Some("1"));
    let problem: serde_json::Value =
        serde_json::from_str(&response.into_string().expect("text")).expect("json");
    assert_eq!(problem["code"], "overloaded", "{problem}");
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(5),
        "queued for about BATCH_QUEUE_SECS, not {waited:?}"
    );

    // Single sessions have a pool of their own.
    assert_eq!(app.post_json("/convert", &browsing()).status, 200);
    let metrics = app.metrics();
    assert!(
        metrics
            .value("requests_shed_total", &[("pool", "batches")])
            .unwrap_or(0.0)
            >= 1.0,
        "{}",
        metrics.lines("requests_shed")
    );

    // The held client goes away: its share comes back and batches are taken again.
    drop(held);
    wait_until(5, "a batch is taken once room comes back", || {
        let r = app.post_raw("/convert/batch", "text/csv", &csv_body(), &[]);
        if r.status == 200 {
            Vec::new()
        } else {
            vec![format!("{} {}", r.status, r.body)]
        }
    });
}

#[test]
fn a_budget_smaller_than_one_body_is_refused_at_start() {
    let err = clickstream::service::settings::Settings::from_vars([
        ("MAX_BODY_BYTES".to_owned(), "2000000".to_owned()),
        ("MAX_BODY_BYTES_IN_FLIGHT".to_owned(), "1000000".to_owned()),
    ])
    .expect_err("a budget below one body");
    assert!(
        err.to_string().contains("MAX_BODY_BYTES_IN_FLIGHT"),
        "{err}"
    );
}

#[test]
fn a_worker_stops_accepting_past_its_connection_limit_and_resumes_when_one_closes() {
    let app = spawn_app_with(&[("WORKERS", "1"), ("MAX_CONNECTIONS_PER_WORKER", "2")]);
    let address = app.address.trim_start_matches("http://").to_owned();
    // Each held connection is answered once, so the worker has taken both, and stays open.
    let held: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut s = TcpStream::connect(&address).expect("connect");
            write!(s, "GET /livez HTTP/1.1\r\nHost: x\r\n\r\n").expect("request");
            let mut head = [0u8; 12];
            s.read_exact(&mut head).expect("an answer");
            assert_eq!(&head, b"HTTP/1.1 200", "{}", String::from_utf8_lossy(&head));
            s
        })
        .collect();
    // The third connection waits in the backlog: no answer while both are held.
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_millis(800))
        .build();
    let waiting = agent.get(&format!("{}/livez", app.address)).call();
    assert!(
        matches!(waiting, Err(ureq::Error::Transport(_))),
        "answered past the limit: {waiting:?}"
    );
    drop(held);
    wait_until(5, "an answer once a held connection closes", || match agent
        .get(&format!("{}/livez", app.address))
        .call()
    {
        Ok(r) if r.status() == 200 => Vec::new(),
        other => vec![format!("{other:?}")],
    });
}

#[test]
fn a_single_session_declaring_a_huge_body_does_not_hold_its_pool() {
    // Its own process, so that the bytes in flight it waits on are its own.
    let server = start_serve_process_with(
        shipped_models(),
        &[
            ("MAX_BODY_BYTES", "1048576"),
            ("MAX_BODY_BYTES_IN_FLIGHT", "1048576"),
            ("BODY_TIMEOUT_SECS", "60"),
        ],
    );
    let app = &server.app;
    let address = app.address.trim_start_matches("http://").to_owned();
    // Each declares the whole budget and sends one byte: together they would take the pool
    // ten times over if a declared length were what a single session holds.
    let held: Vec<TcpStream> = (0..10)
        .map(|_| {
            let mut s = TcpStream::connect(&address).expect("connect");
            write!(
                s,
                "POST /convert HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1048576\r\n\r\n{{"
            )
            .expect("headers");
            s
        })
        .collect();
    // Each has taken the first share of what it sent, one KiB.
    app.wait_for_bytes_in_flight("sessions", 10 * 1024);
    let r = app.post_json("/convert", &browsing());
    assert_eq!(r.status, 200, "{}", r.body);
    drop(held);
}
