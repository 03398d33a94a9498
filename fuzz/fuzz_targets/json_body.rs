//! Any bytes as the JSON body of a single-session route and of a batch route: a clean
//! error or a valid parse, never a panic.
#![no_main]

use clickstream::service::scorer::{batch_sessions, Limits};
use clickstream::service::wire::session_from_json;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The single route's one-pass reader, listing every shape problem.
    if let Ok(input) = session_from_json(data, 1000) {
        let _ = input.parse("", 1000);
    }
    let _ = batch_sessions(data, false, Limits { sessions: 1000, clicks: 100, issues: 1000 });
});
