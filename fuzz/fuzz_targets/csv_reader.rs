//! Any bytes as a clickstream file, and as a CSV batch body: a clean error or a valid
//! parse, never a panic.
#![no_main]

use clickstream::reader::{read_clickstream_from, ReadOptions};
use clickstream::service::scorer::{batch_sessions, Limits};
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    for skip_invalid in [false, true] {
        if let Ok(read) = read_clickstream_from(data, Path::new("fuzz.csv"), ReadOptions { skip_invalid, ..ReadOptions::default() }) {
            for session in &read.sessions {
                assert!(!session.clicks().is_empty());
            }
        }
    }
    let _ = batch_sessions(data, true, Limits { sessions: 1000, clicks: 100, issues: 1000 });
});
