//! Sorts a UCI clickstream CSV's records by session with extsort (external merge sort).
use extsort::{ExternalSorter, Sortable};
use std::io::{Read, Write};

#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Row(Vec<u8>, Vec<u8>);

impl Sortable for Row {
    fn encode<W: Write>(&self, w: &mut W) -> std::io::Result<()> {
        for part in [&self.0, &self.1] {
            w.write_all(&(part.len() as u32).to_le_bytes())?;
            w.write_all(part)?;
        }
        Ok(())
    }
    fn decode<R: Read>(r: &mut R) -> std::io::Result<Row> {
        let mut read = || -> std::io::Result<Vec<u8>> {
            let mut len = [0u8; 4];
            r.read_exact(&mut len)?;
            let mut v = vec![0; u32::from_le_bytes(len) as usize];
            r.read_exact(&mut v)?;
            Ok(v)
        };
        Ok(Row(read()?, read()?))
    }
}

fn main() {
    let path = std::env::args().nth(1).expect("a file");
    let mut reader = csv::ReaderBuilder::new().delimiter(b';').from_path(path).expect("csv");
    let rows = reader.byte_records().map(|r| {
        let r = r.expect("row");
        Row(r[5].to_vec(), r.as_slice().to_vec())
    });
    let sorted = ExternalSorter::new().with_segment_size(100_000).sort(rows).expect("sorted");
    println!("{} rows in session order", sorted.count());
}
