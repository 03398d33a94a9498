//! Clients that send their body slowly are answered 408 and cut off within the body
//! deadline, instead of holding a connection for as long as they like.

use crate::helpers::{browsing, spawn_app_with};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

#[test]
fn a_body_sent_a_byte_at_a_time_is_cut_off_at_the_deadline() {
    let app = spawn_app_with(&[
        ("BODY_TIMEOUT_SECS", "1"),
        ("MIN_BODY_BYTES_PER_SEC", "100"),
    ]);
    let address = app.address.trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(&address).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let body = browsing().to_string();
    write!(
        stream,
        "POST /convert HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .expect("headers");
    let start = Instant::now();
    // A byte every 200 ms: 5 bytes a second, far under the minimum rate.
    let writer = {
        let mut stream = stream.try_clone().expect("clone");
        let bytes = body.into_bytes();
        std::thread::spawn(move || {
            for b in bytes {
                if stream.write_all(&[b]).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        })
    };
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let elapsed = start.elapsed();
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("body_timeout"), "{text}");
    // Cut off (read_to_end returned: the server closed) within the deadline and a margin.
    assert!(elapsed < Duration::from_secs(4), "{elapsed:?}");
    drop(stream);
    let _ = writer.join();

    // A client at a normal pace is unaffected.
    assert_eq!(app.post_json("/convert", &browsing()).status, 200);
}
