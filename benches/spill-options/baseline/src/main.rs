//! The chosen technique's crates only (csv, tempfile: both already clickstream's): rows
//! dealt into files by a hash of their session, for the build-time baseline.
use std::hash::{BuildHasher, RandomState};
fn main() {
    let path = std::env::args().nth(1).expect("a file");
    let dir = tempfile::tempdir().expect("dir");
    let hasher = RandomState::new();
    let mut parts: Vec<csv::Writer<std::fs::File>> = (0..16)
        .map(|i| csv::Writer::from_path(dir.path().join(format!("{i}"))).expect("part"))
        .collect();
    let mut reader = csv::ReaderBuilder::new().delimiter(b';').from_path(path).expect("csv");
    let mut n = 0;
    for r in reader.byte_records() {
        let r = r.expect("row");
        let at = (hasher.hash_one(&r[5]) % 16) as usize;
        parts[at].write_byte_record(&r).expect("write");
        n += 1;
    }
    println!("{n} rows dealt");
}
