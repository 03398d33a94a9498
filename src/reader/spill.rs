//! Sessions of a file whose rows lie anywhere, grouped within a memory budget by
//! hash-partitioning on disk (the partitioning phase of a Grace hash join): each row's
//! record, as read, is written with its line to one of P temporary files chosen by its
//! session's hash ([`SessionHash`], docs/sampling.md), so all rows of a session land in one
//! partition; each partition is then read back, grouped in memory by the same readers as a
//! whole file, and its sessions given in key order. P is chosen from the file's size so
//! that a partition's sessions fit the budget; a partition that comes out twice as large (a
//! Parquet file, compressed, or keys that hash unevenly) is dealt again into smaller ones
//! under another seed before it is grouped.
//!
//! Sessions come out partition by partition, in key order inside each; every answer
//! carries its session's id. The partitions live in a temporary folder inside the spill
//! folder, removed when the reading ends, whether it succeeds or fails.

use super::{
    read_grouped, Backend, DataFormat, Grouper, Policy, ReadError, ReadOptions, ReadStats, Records,
    Rows, MAX_EXAMPLES,
};
use crate::domain::sample::{key_order, SessionHash};
use crate::domain::{Field, Session};
use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read};
use std::path::{Path, PathBuf};

/// Where and within how much memory rows are grouped on disk.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SpillOptions {
    /// The folder the partitions are written in (a temporary folder is made inside it).
    pub dir: PathBuf,
    /// The memory one partition's grouping may take, in bytes.
    pub budget: u64,
}

/// `--memory-budget`'s default, in MiB.
pub const DEFAULT_BUDGET_MIB: f64 = 128.0;

/// `--memory-budget`'s least, in MiB: partitions of about 1,700 bytes of rows, some forty
/// of the UCI file's, so a file is dealt into about a file per 1,700 bytes at most (a
/// budget of a byte made one for every row or two: about 220,000 for the 7 MB April-July
/// file, where 0.01 MiB makes some 4,000 and takes under a second).
pub const MIN_BUDGET_MIB: f64 = 0.01;

/// `--memory-budget`'s greatest, in MiB: a pebibyte, so the budget in bytes fits a `u64`.
pub const MAX_BUDGET_MIB: f64 = 1024.0 * 1024.0 * 1024.0;

impl Default for SpillOptions {
    /// The system's temporary folder, [`DEFAULT_BUDGET_MIB`].
    fn default() -> SpillOptions {
        SpillOptions {
            dir: std::env::temp_dir(),
            budget: (DEFAULT_BUDGET_MIB * 1024.0 * 1024.0) as u64,
        }
    }
}

/// Memory taken by grouping a partition, per byte of its spilled records: typed clicks
/// with their lines, per-session state and the finished sessions (measured on the UCI
/// file: docs/commands.md).
pub const MEMORY_PER_SPILLED_BYTE: u64 = 6;

/// A Parquet file's records take several times its compressed size once spilled as text.
const PARQUET_EXPANSION: u64 = 8;

/// Partitions written at once: each holds a write buffer and a file descriptor. A file
/// needing more is dealt again, partition by partition.
const MAX_PARTITIONS: u64 = 256;

/// How many times a partition too large for the budget is dealt again: past it (a few
/// sessions far over the rest) it is grouped as it is.
const MAX_DEPTH: u64 = 3;

/// The write buffer of each partition.
const BUFFER: usize = 32 * 1024;

/// The header of the file a partition's records came from, to read them back as it.
#[derive(Clone)]
struct Header {
    path: PathBuf,
    separator: u8,
    first_fields: Vec<String>,
    has_header: bool,
    format: DataFormat,
}

/// One partition file, with its size, its rows and how many times its rows were dealt.
struct Part {
    path: PathBuf,
    bytes: u64,
    rows: u64,
    depth: u64,
}

/// The partitions of one file, written and not yet read back.
pub struct Partitions {
    /// Removed on drop: on success, on error and on a panic's unwinding alike.
    dir: tempfile::TempDir,
    header: Header,
    queue: VecDeque<Part>,
    /// The largest spilled size a partition is grouped at.
    part_bytes: u64,
    /// Partitions written in all, for names and the summary.
    written: usize,
    /// The session key of a record (`None` when it cannot be read: such a record goes to
    /// the first partition, where its reader refuses or skips it as it would in the file).
    key: Key,
}

/// A record's session key.
pub type Key = Box<dyn Fn(&csv::ByteRecord) -> Option<String>>;

impl Partitions {
    /// Deals the rest of `records` (the file's, `input_bytes` long) into partitions by
    /// their session `key`; `None`, with nothing read, when the whole file fits the budget.
    pub fn deal<R: Read>(
        records: &mut Records<R>,
        input_bytes: u64,
        options: &SpillOptions,
        key: Key,
    ) -> Result<Option<Partitions>, ReadError> {
        let count = needed(input_bytes, records.least_text()?, options);
        if count == 1 {
            return Ok(None);
        }
        let dir = tempfile::Builder::new()
            .prefix("clickstream-spill-")
            .tempdir_in(&options.dir)
            .map_err(|e| spill_error(&options.dir, e))?;
        let part_bytes = part_bytes(options);
        let count = count.min(MAX_PARTITIONS);
        let header = Header {
            path: records.path().to_owned(),
            separator: records.separator,
            first_fields: records.first_fields.clone(),
            has_header: records.has_header,
            format: records.format,
        };
        let mut partitions = Partitions {
            dir,
            header,
            queue: VecDeque::new(),
            part_bytes,
            written: 0,
            key,
        };
        let parts = partitions.write(records, count, 0)?;
        partitions.queue.extend(parts);
        Ok(Some(partitions))
    }

    /// How many partition files were written in all.
    pub fn written(&self) -> usize {
        self.written
    }

    /// The next partition's records, read back as the file's, with its lines; `None` when
    /// all are read. A partition over the budget is dealt again first.
    pub fn next_partition(&mut self) -> Result<Option<Records<File>>, ReadError> {
        while let Some(part) = self.queue.pop_front() {
            // Twice its share: the share is an estimate (the lines added, the factor's
            // margin), and dealing again costs a read and a write of the partition.
            // A partition is never dealt into more parts than it has rows: with rows much
            // longer than the budget's share, the parts would be nearly all empty files,
            // millions of them at the third dealing.
            if part.bytes > 2 * self.part_bytes && part.depth < MAX_DEPTH && part.rows > 1 {
                let mut records = self.open(&part)?;
                let count = part
                    .bytes
                    .div_ceil(self.part_bytes)
                    .min(part.rows)
                    .clamp(2, MAX_PARTITIONS);
                let parts = self.write(&mut records, count, part.depth + 1)?;
                drop(records);
                remove(&part.path)?;
                for p in parts.into_iter().rev() {
                    self.queue.push_front(p);
                }
                continue;
            }
            let records = self.open(&part)?;
            // Unlinked while open: its space comes back as soon as it is read.
            remove(&part.path)?;
            return Ok(Some(records));
        }
        Ok(None)
    }

    fn open(&self, part: &Part) -> Result<Records<File>, ReadError> {
        let file = File::open(&part.path).map_err(|e| spill_error(&part.path, e))?;
        let reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(BufReader::with_capacity(BUFFER, file));
        let header = self.header.clone();
        Ok(Records {
            backend: Backend::Spilled(reader),
            path: header.path,
            record: csv::ByteRecord::new(),
            separator: header.separator,
            first_fields: header.first_fields,
            has_header: header.has_header,
            format: header.format,
            meter: super::Meter::default(),
        })
    }

    /// Writes the rest of `records` into `count` new partitions by the session hash under
    /// the seed `depth` (another seed per dealing, so a partition dealt again splits).
    fn write<R: Read>(
        &mut self,
        records: &mut Records<R>,
        count: u64,
        depth: u64,
    ) -> Result<Vec<Part>, ReadError> {
        let hash = SessionHash::new(depth);
        let mut parts = Vec::with_capacity(count as usize);
        let mut writers = Vec::with_capacity(count as usize);
        for _ in 0..count {
            self.written += 1;
            let path = self.dir.path().join(format!("part-{}.csv", self.written));
            let file = File::create(&path).map_err(|e| spill_error(&path, e))?;
            writers.push(
                csv::WriterBuilder::new()
                    .flexible(true)
                    .from_writer(BufWriter::with_capacity(BUFFER, file)),
            );
            parts.push(Part {
                path,
                bytes: 0,
                rows: 0,
                depth,
            });
        }
        // Rows of one session often come in runs: their hash is reused.
        let mut last: Option<(String, usize)> = None;
        while let Some(line) = records.next_record()? {
            let at = match (self.key)(&records.record) {
                None => 0,
                Some(k) => match &last {
                    Some((prev, at)) if *prev == k => *at,
                    _ => {
                        let at = (hash.value(&k) % count) as usize;
                        last = Some((k, at));
                        at
                    }
                },
            };
            let (Some(writer), Some(part)) = (writers.get_mut(at), parts.get_mut(at)) else {
                continue;
            };
            let line_text = line.to_string();
            let mut bytes = line_text.len() as u64 + 2;
            for field in records.record.iter() {
                bytes += field.len() as u64 + 1;
            }
            writer
                .write_record(
                    records
                        .record
                        .iter()
                        .chain(std::iter::once(line_text.as_bytes())),
                )
                .map_err(|e| spill_error(&part.path, e.into()))?;
            part.bytes += bytes;
            part.rows += 1;
        }
        for (writer, part) in writers.into_iter().zip(&parts) {
            writer
                .into_inner()
                .map_err(|e| spill_error(&part.path, e.into_error()))?
                .into_inner()
                .map_err(|e| spill_error(&part.path, e.into_error()))?;
        }
        Ok(parts)
    }
}

/// The largest spilled size a partition is grouped at, within the budget.
fn part_bytes(options: &SpillOptions) -> u64 {
    (options.budget / MEMORY_PER_SPILLED_BYTE).max(1)
}

/// How many partitions a file of `input_bytes` needs for each to fit the budget: 1 when the
/// whole file does. A Parquet data set's `least_text` (its rows, and the least bytes they
/// take as text) bounds its spilled size from below, each row with its line number; its
/// compressed size, [`PARQUET_EXPANSION`] times, is the usual estimate, and the larger is
/// taken, so a data set that compresses a thousandfold is not grouped whole in memory.
pub fn needed(input_bytes: u64, least_text: Option<(u64, u64)>, options: &SpillOptions) -> u64 {
    let spilled = match least_text {
        Some((rows, text)) => {
            // A spilled row's line: its digits (most rows have as many as the last), a
            // separator and the line's end.
            let line = u64::from(rows.checked_ilog10().unwrap_or(0)) + 3;
            input_bytes
                .saturating_mul(PARQUET_EXPANSION)
                .max(text.saturating_add(rows.saturating_mul(line)))
        }
        None => input_bytes,
    };
    spilled.div_ceil(part_bytes(options)).max(1)
}

fn remove(path: &Path) -> Result<(), ReadError> {
    std::fs::remove_file(path).map_err(|e| spill_error(path, e))
}

/// A spill folder or file that cannot be written or read: named, with what to do.
fn spill_error(path: &Path, source: io::Error) -> ReadError {
    ReadError::Format {
        path: path.to_owned(),
        message: format!(
            "cannot write or read the rows grouped on disk ({source}): give a writable folder with room for a copy of the data (--spill-dir)"
        ),
    }
}

impl<R: Read> Records<R> {
    /// A spilled record's line, from its last field, which is then taken off.
    pub(super) fn spilled_line(&mut self) -> Result<u64, ReadError> {
        let last = self.record.len().saturating_sub(1);
        let line = self
            .record
            .get(last)
            .and_then(|b| std::str::from_utf8(b).ok())
            .and_then(|t| t.parse::<u64>().ok())
            .ok_or_else(|| ReadError::Malformed {
                path: self.path.clone(),
                line: 0,
                message:
                    "a row grouped on disk lost its line number (was the spill folder changed?)"
                        .into(),
            })?;
        self.record.truncate(last);
        Ok(line)
    }
}

/// The sessions of the partitions in key order, for a reader that groups one partition.
pub fn in_key_order<T>(sessions: &mut [T], name: impl Fn(&T) -> &str) {
    sessions.sort_by(|a, b| key_order(name(a), name(b)));
}

impl ReadStats {
    /// Adds what one partition's reading counted to the file's.
    pub(super) fn absorb(&mut self, part: ReadStats) {
        self.rows += part.rows;
        self.clicks += part.clicks;
        self.sessions += part.sessions;
        self.invalid_rows_skipped += part.invalid_rows_skipped;
        self.duplicate_clicks_dropped += part.duplicate_clicks_dropped;
        self.long_sessions_skipped += part.long_sessions_skipped;
        let room = MAX_EXAMPLES.saturating_sub(self.skipped_examples.len());
        self.skipped_examples
            .extend(part.skipped_examples.into_iter().take(room));
        let room = MAX_EXAMPLES.saturating_sub(self.long_session_examples.len());
        self.long_session_examples
            .extend(part.long_session_examples.into_iter().take(room));
    }
}

/// The size of what `--data` names: a file's length, or a folder's files' (a Parquet data
/// set), to choose how many partitions to deal it into.
pub fn input_bytes(path: &Path) -> u64 {
    let Ok(metadata) = std::fs::metadata(path) else {
        return 0;
    };
    if !metadata.is_dir() {
        return metadata.len();
    }
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// Sessions of a file whose rows may lie anywhere, grouped on disk within a memory budget
/// ([`Partitions`]): partition by partition, in key order inside each, each partition read
/// by the same reading as a whole file (`group`), so an error names the row's line in the
/// file; with rows apart, the first bad row met may be another than the first in the file.
/// A file within the budget is grouped in memory, in order of first appearance.
pub struct Grouped<T> {
    /// `None` when the whole file fitted the budget and was grouped in memory.
    partitions: Option<Partitions>,
    current: std::vec::IntoIter<T>,
    stats: ReadStats,
    sha256: String,
    group: Option<GroupPart<T>>,
    name: fn(&T) -> &str,
}

/// How a partition's records become sessions: the reading of a whole file.
pub type GroupPart<T> =
    Box<dyn FnMut(Records<File>, &Path) -> Result<(Vec<T>, ReadStats), ReadError> + Send>;

/// The UCI shop's sessions grouped wherever their rows are ([`Rows`] and [`Grouper`]).
pub type GroupedSessions = Grouped<Session>;

impl<T> Grouped<T> {
    /// Sessions grouped in memory: no partition was written.
    pub fn in_memory(sessions: Vec<T>, stats: ReadStats, sha256: String) -> Grouped<T> {
        Grouped {
            partitions: None,
            current: sessions.into_iter(),
            stats,
            sha256,
            group: None,
            name: |_| "",
        }
    }

    /// Sessions of `partitions`, each read by `group` and put in key order by `name`.
    pub fn on_disk(
        partitions: Partitions,
        stats: ReadStats,
        sha256: String,
        group: GroupPart<T>,
        name: fn(&T) -> &str,
    ) -> Grouped<T> {
        Grouped {
            partitions: Some(partitions),
            current: Vec::new().into_iter(),
            stats,
            sha256,
            group: Some(group),
            name,
        }
    }

    /// Partition files written, if the rows were grouped on disk.
    pub fn partitions(&self) -> Option<usize> {
        self.partitions.as_ref().map(Partitions::written)
    }

    /// The next session, or `None` when every partition is read.
    pub fn next_session(&mut self) -> Result<Option<T>, ReadError> {
        loop {
            if let Some(session) = self.current.next() {
                return Ok(Some(session));
            }
            let (Some(partitions), Some(group)) = (self.partitions.as_mut(), self.group.as_mut())
            else {
                return Ok(None);
            };
            let Some(records) = partitions.next_partition()? else {
                return Ok(None);
            };
            let path = records.path().to_owned();
            let (mut sessions, stats) = group(records, &path)?;
            in_key_order(&mut sessions, self.name);
            self.stats.absorb(stats);
            self.current = sessions.into_iter();
        }
    }

    /// The file's checksum and what was read.
    pub fn finish(self) -> (String, ReadStats) {
        (self.sha256, self.stats)
    }
}

impl Grouped<Session> {
    /// Reads the whole file once, dealing its rows into partitions (its header and
    /// checksum are read here); sessions come from [`Grouped::next_session`].
    pub fn open(
        path: &Path,
        options: ReadOptions,
        spill: &SpillOptions,
    ) -> Result<GroupedSessions, ReadError> {
        let Rows {
            mut records,
            layout,
            fields,
            mut stats,
        } = Rows::open(path)?;
        stats.max_clicks_per_session = options.max_clicks_per_session;
        let column = layout.of(Field::SessionId);
        let key: Key = Box::new(move |record: &csv::ByteRecord| {
            record
                .get(column)
                .and_then(|b| std::str::from_utf8(b).ok())
                .map(|t| t.trim().to_owned())
        });
        let Some(partitions) = Partitions::deal(&mut records, input_bytes(path), spill, key)?
        else {
            // The whole file fits: grouped in memory, in order of first appearance.
            let rows = Rows {
                records,
                layout,
                fields,
                stats,
            };
            let read = read_grouped(Grouper::of(rows, Policy::Read(options)), path, |_| true)?;
            return Ok(Grouped::in_memory(read.sessions, read.stats, read.sha256));
        };
        let (sha256, _) = records.finish()?;
        let group: GroupPart<Session> = Box::new(move |records, path| {
            let grouper = Grouper::of(Rows::of(records, path)?, Policy::Read(options));
            let read = read_grouped(grouper, path, |_| true)?;
            Ok((read.sessions, read.stats))
        });
        Ok(Grouped::on_disk(partitions, stats, sha256, group, |s| {
            s.id().as_str()
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A budget far below a row's size once made every partition be dealt again into as
    /// many parts as it had bytes, nearly all of them empty files: tens of thousands for
    /// this file of 300 rows, millions for a 7 MB one, which never finished. A partition is
    /// now never dealt into more parts than it has rows, and every session still comes
    /// out whole.
    #[test]
    fn a_budget_far_below_a_row_deals_no_more_partitions_than_rows() {
        let rows: u64 = 300;
        let sessions: u64 = 100;
        let mut file = tempfile::NamedTempFile::new().expect("a temporary file");
        let mut text = String::from("year,month,day,order,country,session_id,page1_main_category,page2_clothing_model,colour,location,model_photography,price,price_2,page\n");
        for i in 0..rows {
            // Each session's rows a hundred rows apart.
            let session = (i * 7) % sessions;
            let order = i / sessions + 1;
            text.push_str(&format!(
                "2008,4,1,{order},29,s{session},1,A13,1,5,1,28,2,1\n"
            ));
        }
        file.write_all(text.as_bytes()).expect("written");
        let dir = tempfile::tempdir().expect("a spill folder");
        let spill = SpillOptions {
            dir: dir.path().to_owned(),
            budget: 1,
        };
        let mut grouped = GroupedSessions::open(file.path(), ReadOptions::default(), &spill)
            .expect("the rows are dealt");
        let mut read = 0;
        while let Some(session) = grouped.next_session().expect("grouped") {
            assert_eq!(session.clicks().len(), 3, "{}", session.id());
            read += 1;
        }
        assert_eq!(read, sessions);
        let written = grouped.partitions().expect("grouped on disk") as u64;
        assert!(
            written <= MAX_PARTITIONS + MAX_DEPTH * rows,
            "{written} partition files for {rows} rows"
        );
    }

    /// A Parquet data set whose columns compress a thousandfold (constant values, session
    /// ids in runs) was judged by its compressed size to fit the budget and grouped whole in
    /// memory: 5 million such rows, 320 KB of Parquet, took 458 MB under the default budget
    /// of 128 MiB. Its rows, from the footers, now bound its size from below, so it is dealt
    /// into partitions (104 MB for those 5 million).
    #[cfg(feature = "parquet")]
    #[test]
    fn a_parquet_file_that_compresses_a_thousandfold_is_grouped_by_its_rows_not_its_size() {
        use crate::domain::Field;
        use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
        use std::sync::Arc;
        let rows: i64 = 200_000;
        let sessions = rows / 4;
        let columns: Vec<(&str, ArrayRef)> = Field::ALL
            .iter()
            .map(|&field| {
                let array: ArrayRef = match field {
                    // Each session's rows a quarter of the file apart.
                    Field::SessionId => Arc::new(Int64Array::from_iter_values(
                        (0..rows).map(|i| i % sessions),
                    )),
                    Field::Order => Arc::new(Int64Array::from_iter_values(
                        (0..rows).map(|i| i / sessions + 1),
                    )),
                    Field::Product => {
                        Arc::new(StringArray::from_iter_values((0..rows).map(|_| "A13")))
                    }
                    Field::Year => Arc::new(Int64Array::from_value(2008, rows as usize)),
                    Field::Month => Arc::new(Int64Array::from_value(4, rows as usize)),
                    Field::Country => Arc::new(Int64Array::from_value(29, rows as usize)),
                    Field::Price => Arc::new(Int64Array::from_value(28, rows as usize)),
                    _ => Arc::new(Int64Array::from_value(1, rows as usize)),
                };
                (field.name(), array)
            })
            .collect();
        let batch = RecordBatch::try_from_iter(columns).expect("a valid batch");
        let file = tempfile::NamedTempFile::new().expect("a temporary file");
        // As a warehouse writes ids in runs: deltas, compressed.
        let mut properties = ::parquet::file::properties::WriterProperties::builder()
            .set_compression(::parquet::basic::Compression::ZSTD(Default::default()));
        for field in [Field::SessionId, Field::Order] {
            let column = ::parquet::schema::types::ColumnPath::from(field.name());
            properties = properties
                .set_column_dictionary_enabled(column.clone(), false)
                .set_column_encoding(column, ::parquet::basic::Encoding::DELTA_BINARY_PACKED);
        }
        let mut writer = ::parquet::arrow::ArrowWriter::try_new(
            file.reopen().expect("the file reopens"),
            batch.schema(),
            Some(properties.build()),
        )
        .expect("a Parquet writer");
        writer.write(&batch).expect("the rows are written");
        writer.close().expect("the file is finished");
        let size = std::fs::metadata(file.path()).expect("written").len();
        let dir = tempfile::tempdir().expect("a spill folder");
        let spill = SpillOptions {
            dir: dir.path().to_owned(),
            budget: 4 << 20,
        };
        // Its compressed size alone says it fits.
        assert_eq!(needed(size, Some((0, 0)), &spill), 1, "{size} bytes");
        let mut grouped = GroupedSessions::open(file.path(), ReadOptions::default(), &spill)
            .expect("the rows are dealt");
        assert!(
            grouped.partitions().is_some(),
            "{size} bytes grouped in memory"
        );
        let mut read = 0;
        while let Some(session) = grouped.next_session().expect("grouped") {
            assert_eq!(session.clicks().len(), 4, "{}", session.id());
            read += 1;
        }
        assert_eq!(read, sessions);
    }
}
