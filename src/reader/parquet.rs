//! The Parquet backend of [`Records`](super::Records): a Parquet file, or a folder of them as
//! a warehouse export writes it, read as the records every reader of rows shares, so the UCI
//! reader and a shop's schema read Parquet with no change of their own.
//!
//! - **A data set.** `--data` naming a file that starts with `PAR1` is one Parquet file; a
//!   folder is one data set of its Parquet files (see [`DataSet::of_folder`]), read in name
//!   order as if they were one file. Every file must have the first one's columns, by name
//!   and in order.
//! - **The header** is the Parquet schema's top-level column names.
//! - **Cells as text**, as the readers parse CSV cells ([`write_cell`]): integers in
//!   decimal; `DOUBLE` in Rust's shortest round-trip form (`28` for 28.0, `0.1`), so
//!   `parse::<f64>` gives the stored bits back; `FLOAT` in `f32`'s shortest form (the decimal
//!   its writer meant: `19.99`, not `19.989999771118164`); decimals exactly (`12.50`);
//!   strings and binary as they are (bytes that are not UTF-8 are named by the readers as in
//!   a CSV file); booleans `true`/`false`; dates `YYYY-MM-DD`; times `HH:MM:SS[.fff]`;
//!   timestamps RFC 3339 in UTC, `2026-04-01T09:00:00Z` (fractional seconds only when there
//!   are some). A timestamp without a time zone (Parquet's `isAdjustedToUTC = false`, and
//!   the `INT96` Spark writes) is read as UTC: warehouses and Spark store UTC instants.
//!   Null is the empty cell. Dictionary-encoded columns read as their values. Nested and
//!   interval columns are refused by name when a reader uses them: flatten them in the
//!   export (as `examples/ga4/flatten.sql` does for GA4).
//! - **Rows and lines.** Rows are counted from 1 over the whole data set, files in name
//!   order; errors give row *n* as `line n + 1`: the line the row has in the same data
//!   written as one CSV file with a header line (`COPY ... TO 'x.csv' (HEADER)`). A row
//!   whose cells are all null is a row (refused for its values), not a blank line.
//! - **Checksum.** A file's is the SHA-256 of its bytes, as for CSV (`sha256sum FILE`). A
//!   folder's is the SHA-256 of the `sha256sum` listing of its files in the order they are
//!   read (`cd DIR && sha256sum FILES | sha256sum`, names in byte order as `LC_ALL=C ls`
//!   gives them): it covers every byte of every file, and their names and order. It is
//!   taken by reading the files once more at the end, sequentially.
//! - **Memory.** Record batches of [`BATCH_ROWS`] rows, row group by row group, of the
//!   columns a reader uses ([`ParquetRecords::keep_only`]): never the whole file.
//! - **Typed cells.** A reader that asks for a row's cells ([`ParquetRecords::next_cells`],
//!   the UCI reader) gets integers, doubles and strings straight from their columns, as
//!   values that stand for the text above ([`Value`]); every other cell, and an unsigned
//!   integer past `i64::MAX`, is that text. What a reader makes of a cell is the same
//!   either way; only the writing and parsing back of numbers is saved.

use super::{Cell, ReadError, RowTooLong, Value, MAX_ROW_BYTES, PARQUET_MAGIC as MAGIC};
use ::parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use ::parquet::arrow::ProjectionMask;
use arrow_array::cast::AsArray;
use arrow_array::temporal_conversions::{as_date, as_datetime, as_time};
use arrow_array::types::{
    ArrowDictionaryKeyType, ArrowPrimitiveType, Date32Type, Date64Type, Decimal128Type,
    Decimal256Type, Decimal32Type, Decimal64Type, DecimalType, Float16Type, Float32Type,
    Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, Time32MillisecondType,
    Time32SecondType, Time64MicrosecondType, Time64NanosecondType, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType, UInt16Type, UInt32Type,
    UInt64Type, UInt8Type,
};
use arrow_array::{
    Array, ArrayRef, Float64Array, Int16Array, Int32Array, Int64Array, Int8Array, LargeStringArray,
    RecordBatch, StringArray, StringViewArray, UInt16Array, UInt32Array, UInt64Array, UInt8Array,
};
use arrow_schema::{DataType, TimeUnit};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// Rows per record batch: a few hundred KiB of the UCI columns, and few enough calls into
/// the decoder that its cost per batch does not show.
pub const BATCH_ROWS: usize = 8192;

/// The files of a Parquet data set, in the order they are read.
#[derive(Debug, Clone)]
pub struct DataSet {
    /// What the user named: the file, or the folder.
    pub path: PathBuf,
    pub files: Vec<PathBuf>,
    pub folder: bool,
}

impl DataSet {
    /// A folder's data set: its regular files named `*.parquet` or `part-*` (Spark's and
    /// Hive's part files, `part-00000-….snappy.parquet`, `part-00000`), in byte order of
    /// their names; hidden files (`.…`, which includes Hadoop's `.crc` files) and the
    /// markers warehouses leave (`_SUCCESS`, `_committed_…`, `_metadata`, `_temporary/`)
    /// are passed over. Subfolders are not read (Hive partition folders such as
    /// `date=2026-04-01/` keep a column in the folder's name, not in the files), so one
    /// that holds such a file, at any depth, refuses the folder rather than leave its rows
    /// out unsaid; so does an entry named as a data file that is not a readable regular
    /// file (a broken link, a FIFO). Every file it takes must start with `PAR1`.
    pub fn of_folder(path: &Path) -> Result<DataSet, ReadError> {
        let io_error = |source| ReadError::Io {
            path: path.to_owned(),
            source,
        };
        let mut names = Vec::new();
        // Files passed over for their names, to say so when nothing else is there.
        let mut other = Vec::new();
        for entry in std::fs::read_dir(path).map_err(io_error)? {
            let entry = entry.map_err(io_error)?;
            let name = entry.file_name();
            if passed_over(&name) {
                continue;
            }
            let is_folder = entry.file_type().is_ok_and(|t| t.is_dir());
            if !is_folder && !data_name(&name) {
                other.push(name.to_string_lossy().into_owned());
                continue;
            }
            // Through a symbolic link, as `ls` and Spark would.
            let entry_path = entry.path();
            match std::fs::metadata(&entry_path) {
                Ok(m) if m.is_file() => names.push(name),
                Ok(m) if m.is_dir() => refuse_nested(path, &entry_path, 0)?,
                Ok(_) => {
                    return Err(ReadError::Format {
                        path: entry_path,
                        message: format!(
                            "not a regular file (a FIFO, socket or device), in the Parquet data set {}",
                            path.display()
                        ),
                    })
                }
                Err(source) => {
                    return Err(ReadError::Format {
                        path: entry_path,
                        message: format!(
                            "cannot be read ({source}; a broken or looping link?), in the Parquet data set {}",
                            path.display()
                        ),
                    })
                }
            }
        }
        names.sort();
        if names.is_empty() {
            other.sort();
            let passed = match other.len() {
                0 => String::new(),
                n => format!(
                    "; passed over for their names: {}{}",
                    other
                        .iter()
                        .take(MAX_NAMED)
                        .map(|n| format!("{n:?}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    if n > MAX_NAMED {
                        format!(" and {} more", n - MAX_NAMED)
                    } else {
                        String::new()
                    }
                ),
            };
            return Err(ReadError::Format {
                path: path.to_owned(),
                message: format!("the folder holds no Parquet files (*.parquet, or part files such as part-00000-….snappy.parquet){passed}"),
            });
        }
        let files: Vec<PathBuf> = names.iter().map(|n| path.join(n)).collect();
        for file in &files {
            if !starts_with_magic(file)? {
                return Err(ReadError::Format {
                    path: file.clone(),
                    message: format!(
                        "not a Parquet file (it does not start with PAR1), in the Parquet data set {}",
                        path.display()
                    ),
                });
            }
        }
        Ok(DataSet {
            path: path.to_owned(),
            files,
            folder: true,
        })
    }

    /// One Parquet file.
    pub fn of_file(path: &Path) -> DataSet {
        DataSet {
            path: path.to_owned(),
            files: vec![path.to_owned()],
            folder: false,
        }
    }

    /// The data set's checksum, as the module's documentation says: the files read once
    /// more, in order.
    pub fn sha256(&self) -> Result<String, ReadError> {
        let file_hash = |file: &Path| -> Result<String, ReadError> {
            let mut hasher = Sha256::new();
            let mut f = File::open(file).map_err(|source| ReadError::Io {
                path: file.to_owned(),
                source,
            })?;
            io::copy(&mut f, &mut hasher).map_err(|source| ReadError::Io {
                path: file.to_owned(),
                source,
            })?;
            Ok(hex::encode(hasher.finalize()))
        };
        if !self.folder {
            return match self.files.as_slice() {
                [file] => file_hash(file),
                _ => Err(ReadError::Format {
                    path: self.path.clone(),
                    message: "a Parquet file's data set holds that one file".into(),
                }),
            };
        }
        let mut listing = Sha256::new();
        for file in &self.files {
            let name = file
                .file_name()
                .map(|n| n.as_encoded_bytes())
                .unwrap_or(b"");
            listing.update(file_hash(file)?.as_bytes());
            listing.update(b"  ");
            listing.update(name);
            listing.update(b"\n");
        }
        Ok(hex::encode(listing.finalize()))
    }
}

/// Hidden entries and the markers and work folders warehouses and Spark leave beside
/// their part files.
fn passed_over(name: &std::ffi::OsStr) -> bool {
    let text = name.to_string_lossy();
    text.starts_with('.') || text.starts_with('_') || text.ends_with(".crc")
}

/// Whether a name is a data file's: `*.parquet`, or a part file.
fn data_name(name: &std::ffi::OsStr) -> bool {
    let text = name.to_string_lossy();
    text.ends_with(".parquet") || text.starts_with("part-")
}

/// Files named in the error of a folder with no data file.
const MAX_NAMED: usize = 5;

/// How deep subfolders are searched for data files that would be left out: Hive writes a
/// level per partition column.
const NESTED_DEPTH: usize = 8;

/// Refuses the data set when `folder`, one of its subfolders, holds a data file at any
/// depth (links to folders are not followed, so a link loop ends): its rows would be left
/// out of the data set without a word.
fn refuse_nested(set: &Path, folder: &Path, depth: usize) -> Result<(), ReadError> {
    if depth >= NESTED_DEPTH {
        return Ok(());
    }
    let entries = std::fs::read_dir(folder).map_err(|source| ReadError::Format {
        path: folder.to_owned(),
        message: format!(
            "a subfolder of the Parquet data set {} that cannot be read ({source}): it may hold data files that would be left out",
            set.display()
        ),
    })?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        if passed_over(&name) {
            continue;
        }
        let nested = entry.path();
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            refuse_nested(set, &nested, depth + 1)?;
        } else if data_name(&name) {
            return Err(ReadError::Format {
                path: set.to_owned(),
                message: format!(
                    "{} is in a subfolder, and subfolders are not read (Hive partition folders such as date=2026-04-01/ keep a column in the folder's name, not in the files): give the folder that holds the files, or write the export without partition folders",
                    nested.display()
                ),
            });
        }
    }
    Ok(())
}

/// Whether a file starts with `PAR1`.
pub fn starts_with_magic(path: &Path) -> Result<bool, ReadError> {
    let mut head = Vec::with_capacity(MAGIC.len());
    let file = File::open(path).map_err(|source| ReadError::Io {
        path: path.to_owned(),
        source,
    })?;
    file.take(MAGIC.len() as u64)
        .read_to_end(&mut head)
        .map_err(|source| ReadError::Io {
            path: path.to_owned(),
            source,
        })?;
    Ok(head == MAGIC)
}

/// A Parquet data set's rows as records, one at a time.
pub struct ParquetRecords {
    set: DataSet,
    /// The first file's column names: the header.
    columns: Vec<String>,
    /// The columns a reader uses; `None` for all of them.
    used: Option<Vec<bool>>,
    /// The file being read (its index in `set.files`), and the next one.
    file: usize,
    next_file: usize,
    reader: Option<ParquetRecordBatchReader>,
    batch: Option<RecordBatch>,
    /// For each column of the header, its place in the batch (absent when not read).
    in_batch: Vec<Option<usize>>,
    /// The next row of the batch.
    at: usize,
    /// Rows given so far, over the data set.
    rows: u64,
    cell: Vec<u8>,
    /// For each column of the header, the batch's column as [`Self::cell`] reads it.
    typed: Vec<Column>,
    /// Whether the row last read was read for its cells ([`Self::next_cells`]), and which
    /// row of the batch it is.
    has_cells: bool,
    row: usize,
    /// For each column of the header, the row's cell written as text when it is not read as
    /// a value.
    texts: Vec<Vec<u8>>,
}

impl ParquetRecords {
    /// Reads the first file's footer for the header; no row is read yet.
    pub fn open(set: DataSet) -> Result<ParquetRecords, ReadError> {
        let first = set
            .files
            .first()
            .cloned()
            .ok_or_else(|| ReadError::Format {
                path: set.path.clone(),
                message: "the data set holds no Parquet files".into(),
            })?;
        let columns = columns_of(&builder(&first)?);
        Ok(ParquetRecords {
            in_batch: Vec::new(),
            set,
            columns,
            used: None,
            file: 0,
            next_file: 0,
            reader: None,
            batch: None,
            at: 0,
            rows: 0,
            cell: Vec::new(),
            typed: Vec::new(),
            has_cells: false,
            row: 0,
            texts: Vec::new(),
        })
    }

    pub fn header(&self) -> &[String] {
        &self.columns
    }

    /// Reads only these columns (indices into the header): the others' cells are empty.
    /// Called before the first record.
    pub fn keep_only(&mut self, columns: &[usize]) {
        let mut used = vec![false; self.columns.len()];
        for &c in columns {
            if let Some(u) = used.get_mut(c) {
                *u = true;
            }
        }
        self.used = Some(used);
    }

    fn is_used(&self, column: usize) -> bool {
        self.used
            .as_ref()
            .is_none_or(|u| u.get(column).copied().unwrap_or(false))
    }

    /// The next row into `record`: its line (row + 1), or `None` after the last file.
    pub fn next_record(&mut self, record: &mut csv::ByteRecord) -> Result<Option<u64>, ReadError> {
        self.has_cells = false;
        let Some((row, line)) = self.advance()? else {
            return Ok(None);
        };
        self.fill(row, record, line)?;
        Ok(Some(line))
    }

    /// The next row for its cells ([`Self::cell`]), within the same bound on a row's text
    /// as [`Self::next_record`]: its line (row + 1), or `None` after the last file.
    pub fn next_cells(&mut self) -> Result<Option<u64>, ReadError> {
        self.has_cells = false;
        let Some((row, line)) = self.advance()? else {
            return Ok(None);
        };
        // The row's text is at most this long: the cells written as text, the strings, and
        // the longest text of each number.
        let mut longest: usize = 0;
        for (column, typed) in self.typed.iter().enumerate() {
            longest = longest.saturating_add(match typed {
                Column::Absent => 0,
                Column::Text(array) => self.texts.get_mut(column).map_or(0, |text| {
                    text.clear();
                    if write_cell(array.as_ref(), row, text).is_err() {
                        return usize::MAX;
                    }
                    text.len()
                }),
                Column::UInt64(array) if past_i64(array, row) => {
                    self.texts.get_mut(column).map_or(0, |text| {
                        text.clear();
                        // An unsigned integer is always written.
                        let _ = write_cell(array, row, text);
                        text.len()
                    })
                }
                Column::Utf8(array) => array.value(row).len(),
                Column::LargeUtf8(array) => array.value(row).len(),
                Column::Utf8View(array) => array.value(row).len(),
                _ => LONGEST_NUMBER,
            });
        }
        if longest > MAX_ROW_BYTES {
            // Near the bound, or a cell not read as text: the row written as text decides,
            // with the text path's own errors.
            self.fill(row, &mut csv::ByteRecord::new(), line)?;
        }
        self.has_cells = true;
        self.row = row;
        Ok(Some(line))
    }

    /// Whether the row last read was read for its cells.
    pub fn has_cells(&self) -> bool {
        self.has_cells
    }

    /// How many cells a row has: one per column of the header.
    pub fn cells(&self) -> usize {
        self.columns.len()
    }

    /// Cell `column` of the row last read by [`Self::next_cells`]: a value read straight
    /// from its column, or the text [`write_cell`] wrote; a null is the empty text.
    pub fn cell(&self, column: usize) -> Cell<'_> {
        let row = self.row;
        let text = || Cell::Bytes(self.texts.get(column).map_or(&[][..], Vec::as_slice));
        macro_rules! cell {
            ($array:expr, $value:expr) => {
                if $array.is_null(row) {
                    Cell::Value(Value::Text(""))
                } else {
                    Cell::Value($value($array.value(row)))
                }
            };
        }
        let whole = |n: i64| Value::Whole(n);
        match self.typed.get(column) {
            None | Some(Column::Absent) => Cell::Bytes(b""),
            Some(Column::Int8(a)) => cell!(a, |n| whole(i64::from(n))),
            Some(Column::Int16(a)) => cell!(a, |n| whole(i64::from(n))),
            Some(Column::Int32(a)) => cell!(a, |n| whole(i64::from(n))),
            Some(Column::Int64(a)) => cell!(a, whole),
            Some(Column::UInt8(a)) => cell!(a, |n| whole(i64::from(n))),
            Some(Column::UInt16(a)) => cell!(a, |n| whole(i64::from(n))),
            Some(Column::UInt32(a)) => cell!(a, |n| whole(i64::from(n))),
            Some(Column::UInt64(a)) if past_i64(a, row) => text(),
            Some(Column::UInt64(a)) => {
                cell!(a, |n: u64| whole(i64::try_from(n).unwrap_or(i64::MAX)))
            }
            Some(Column::Float64(a)) => cell!(a, Value::Number),
            Some(Column::Utf8(a)) => cell!(a, Value::Text),
            Some(Column::LargeUtf8(a)) => cell!(a, Value::Text),
            Some(Column::Utf8View(a)) => cell!(a, Value::Text),
            Some(Column::Text(_)) => text(),
        }
    }

    /// Moves to the next row: its place in the batch and its line, or `None` after the last
    /// file.
    fn advance(&mut self) -> Result<Option<(usize, u64)>, ReadError> {
        loop {
            if let Some(batch) = &self.batch {
                if self.at < batch.num_rows() {
                    let row = self.at;
                    self.at += 1;
                    self.rows += 1;
                    return Ok(Some((row, self.rows + 1)));
                }
                self.batch = None;
            }
            if let Some(reader) = &mut self.reader {
                let next = match decoding(|| reader.next()) {
                    Ok(next) => next,
                    Err(why) => {
                        self.reader = None;
                        let message = format!(
                            "cannot decode the rows after row {}: the file is corrupt ({why})",
                            self.rows
                        );
                        return Err(self.file_error(self.file, message));
                    }
                };
                match next {
                    Some(Ok(batch)) => {
                        // Each column's type is looked at once a batch, not once a cell.
                        self.typed = self
                            .in_batch
                            .iter()
                            .map(|place| {
                                place
                                    .and_then(|p| batch.columns().get(p))
                                    .map_or(Column::Absent, Column::of)
                            })
                            .collect();
                        self.texts.resize_with(self.columns.len(), Vec::new);
                        self.batch = Some(batch);
                        self.at = 0;
                        continue;
                    }
                    Some(Err(e)) => {
                        let message =
                            format!("cannot decode the rows after row {}: {e}", self.rows);
                        return Err(self.file_error(self.file, message));
                    }
                    None => self.reader = None,
                }
            }
            if self.next_file >= self.set.files.len() {
                return Ok(None);
            }
            self.start(self.next_file)?;
            self.next_file += 1;
        }
    }

    /// Opens a file of the data set for its rows, with the columns kept.
    fn start(&mut self, index: usize) -> Result<(), ReadError> {
        self.file = index;
        let path = self.set.files.get(index).cloned().unwrap_or_default();
        let builder = builder(&path)?;
        let columns = columns_of(&builder);
        if columns != self.columns {
            let message = format!(
                "its columns ({}) are not those of {} ({}): every file of a data set needs the same columns in the same order",
                columns.join(", "),
                self.set.files.first().map_or_else(String::new, |f| f.display().to_string()),
                self.columns.join(", ")
            );
            return Err(self.file_error(index, message));
        }
        let fields = builder.schema().fields().clone();
        for (i, field) in fields.iter().enumerate() {
            if self.is_used(i) && !readable(field.data_type()) {
                let message = format!(
                    "column {:?} is of type {}, which is not read as text: flatten it in the export",
                    field.name(),
                    field.data_type()
                );
                return Err(self.file_error(index, message));
            }
        }
        let kept: Vec<usize> = (0..self.columns.len())
            .filter(|&i| self.is_used(i))
            .collect();
        self.in_batch = vec![None; self.columns.len()];
        for (place, &column) in kept.iter().enumerate() {
            self.in_batch[column] = Some(place);
        }
        let mask = ProjectionMask::roots(builder.parquet_schema(), kept);
        let reader = decoding(|| {
            builder
                .with_projection(mask)
                .with_batch_size(BATCH_ROWS)
                .build()
                .map_err(|e| e.to_string())
        })
        .and_then(|built| built)
        .map_err(|e| self.file_error(index, e))?;
        self.reader = Some(reader);
        Ok(())
    }

    /// The batch's row `row` as the record's cells.
    fn fill(
        &mut self,
        row: usize,
        record: &mut csv::ByteRecord,
        line: u64,
    ) -> Result<(), ReadError> {
        record.clear();
        let Some(batch) = &self.batch else {
            return Ok(());
        };
        for (column, place) in self.in_batch.iter().enumerate() {
            self.cell.clear();
            if let Some(array) = place.and_then(|p| batch.columns().get(p)) {
                if write_cell(array.as_ref(), row, &mut self.cell).is_err() {
                    let name = self.columns.get(column).cloned().unwrap_or_default();
                    return Err(ReadError::Format {
                        path: self.set.path.clone(),
                        message: format!(
                            "line {line}: column {name:?}: its type {} is not read as text",
                            array.data_type()
                        ),
                    });
                }
            }
            record.push_field(&self.cell);
        }
        if record.as_slice().len() > MAX_ROW_BYTES {
            return Err(ReadError::Malformed {
                path: self.set.path.clone(),
                line,
                message: RowTooLong {
                    line,
                    spans_lines: false,
                }
                .what(),
            });
        }
        Ok(())
    }

    /// An error about one file of the data set, named by the file.
    fn file_error(&self, index: usize, message: String) -> ReadError {
        ReadError::Format {
            path: self
                .set
                .files
                .get(index)
                .cloned()
                .unwrap_or_else(|| self.set.path.clone()),
            message,
        }
    }

    /// What the data set's rows take at least written as text, from its files' footers
    /// (no row is read): its rows, and a byte per cell (its separator) plus the bytes of
    /// the text columns read, where a footer records them (Parquet's size statistics). A
    /// data set's compressed size says little of it: constant or sorted columns compress a
    /// thousandfold.
    pub fn least_text(&self) -> Result<(u64, u64), ReadError> {
        let mut rows: u64 = 0;
        let mut bytes: u64 = 0;
        let cells = self.columns.len() as u64;
        for file in &self.set.files {
            let builder = builder(file)?;
            for group in builder.metadata().row_groups() {
                let group_rows = u64::try_from(group.num_rows()).unwrap_or(0);
                rows = rows.saturating_add(group_rows);
                bytes = bytes.saturating_add(group_rows.saturating_mul(cells));
                for column in group.columns() {
                    let read = column.column_path().parts().first().is_some_and(|name| {
                        (0..self.columns.len()).any(|i| self.columns[i] == *name && self.is_used(i))
                    });
                    let text = column.unencoded_byte_array_data_bytes().unwrap_or(0);
                    if read {
                        bytes = bytes.saturating_add(u64::try_from(text).unwrap_or(0));
                    }
                }
            }
        }
        Ok((rows, bytes))
    }

    /// The data set's checksum and name, every file read.
    pub fn finish(self) -> Result<(String, String), ReadError> {
        let sha256 = self.set.sha256()?;
        let path = &self.set.path;
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        Ok((sha256, name))
    }
}

/// More bytes than any integer or double is written in: a double's longest text, a
/// negative subnormal's (`-0.` and 324 digits), is 327.
const LONGEST_NUMBER: usize = 400;

/// A column of a batch as [`ParquetRecords::cell`] reads it, resolved once per batch: the
/// types whose cells are read as values, each with its array; any other type's cells are
/// written as text.
enum Column {
    /// Not read.
    Absent,
    Int8(Int8Array),
    Int16(Int16Array),
    Int32(Int32Array),
    Int64(Int64Array),
    UInt8(UInt8Array),
    UInt16(UInt16Array),
    UInt32(UInt32Array),
    /// A value past `i64::MAX` is written as text (see [`past_i64`]).
    UInt64(UInt64Array),
    Float64(Float64Array),
    Utf8(StringArray),
    LargeUtf8(LargeStringArray),
    Utf8View(StringViewArray),
    Text(ArrayRef),
}

impl Column {
    fn of(array: &ArrayRef) -> Column {
        macro_rules! primitive {
            ($type:ty, $variant:ident) => {
                array
                    .as_primitive_opt::<$type>()
                    .map(|a| Column::$variant(a.clone()))
            };
        }
        let typed = match array.data_type() {
            DataType::Int8 => primitive!(Int8Type, Int8),
            DataType::Int16 => primitive!(Int16Type, Int16),
            DataType::Int32 => primitive!(Int32Type, Int32),
            DataType::Int64 => primitive!(Int64Type, Int64),
            DataType::UInt8 => primitive!(UInt8Type, UInt8),
            DataType::UInt16 => primitive!(UInt16Type, UInt16),
            DataType::UInt32 => primitive!(UInt32Type, UInt32),
            DataType::UInt64 => primitive!(UInt64Type, UInt64),
            DataType::Float64 => primitive!(Float64Type, Float64),
            DataType::Utf8 => array
                .as_string_opt::<i32>()
                .map(|a| Column::Utf8(a.clone())),
            DataType::LargeUtf8 => array
                .as_string_opt::<i64>()
                .map(|a| Column::LargeUtf8(a.clone())),
            DataType::Utf8View => array
                .as_string_view_opt()
                .map(|a| Column::Utf8View(a.clone())),
            _ => None,
        };
        typed.unwrap_or_else(|| Column::Text(array.clone()))
    }
}

/// Whether an unsigned cell is past `i64::MAX`, which a [`Value::Whole`] cannot hold: it is
/// then read as its text.
fn past_i64(array: &UInt64Array, row: usize) -> bool {
    !array.is_null(row) && i64::try_from(array.value(row)).is_err()
}

/// A file's footer read, and every column chunk it declares checked to lie inside the file:
/// the decoder trusts those offsets (it asserts they are not negative, and would seek to or
/// allocate what they say), so a corrupt footer is refused here, naming what it declares.
fn builder(path: &Path) -> Result<ParquetRecordBatchReaderBuilder<File>, ReadError> {
    let format_error = |message: String| ReadError::Format {
        path: path.to_owned(),
        message,
    };
    let file = File::open(path).map_err(|source| ReadError::Io {
        path: path.to_owned(),
        source,
    })?;
    let length = file
        .metadata()
        .map_err(|source| ReadError::Io {
            path: path.to_owned(),
            source,
        })?
        .len();
    let builder = decoding(|| ParquetRecordBatchReaderBuilder::try_new(file))
        .map_err(|why| format_error(format!("not a readable Parquet file: {why}")))?
        .map_err(|e| format_error(format!("not a readable Parquet file: {e}")))?;
    for (group, row_group) in builder.metadata().row_groups().iter().enumerate() {
        if row_group.num_rows() < 0 {
            return Err(format_error(format!(
                "not a readable Parquet file: row group {group} declares {} rows (a corrupt footer)",
                row_group.num_rows()
            )));
        }
        for column in row_group.columns() {
            let start = column
                .dictionary_page_offset()
                .unwrap_or_else(|| column.data_page_offset());
            let size = column.compressed_size();
            let end = u64::try_from(start)
                .ok()
                .zip(u64::try_from(size).ok())
                .and_then(|(start, size)| start.checked_add(size));
            if end.is_none_or(|end| end > length) {
                return Err(format_error(format!(
                    "not a readable Parquet file: row group {group}, column {:?} declares its data at byte {start}, {size} bytes long, outside the file's {length} bytes (a truncated or corrupt file)",
                    column.column_path().string()
                )));
            }
        }
    }
    Ok(builder)
}

thread_local! {
    /// Whether this thread is in the Parquet decoder, whose panics are errors, not crashes.
    static DECODING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs the Parquet decoder on a file's bytes. The parquet crate (60.1) still panics on some
/// corrupt files (a dictionary-encoded page in a column chunk with no dictionary page, say)
/// instead of returning its error; such a panic is caught here and returned as the text of
/// what went wrong, and the panic hook stays silent for it, so a corrupt file is an error
/// naming the file, never a crash. Panics anywhere else are reported as before.
fn decoding<T>(decode: impl FnOnce() -> T) -> Result<T, String> {
    static QUIET_HOOK: std::sync::Once = std::sync::Once::new();
    QUIET_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !DECODING.with(std::cell::Cell::get) {
                previous(info);
            }
        }));
    });
    let outer = DECODING.with(|d| d.replace(true));
    // The decoder is dropped after a panic (its read ends with the error), so no state it
    // left half-changed is used again.
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(decode));
    DECODING.with(|d| d.set(outer));
    result.map_err(|payload| {
        payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "the decoder stopped".into())
    })
}

fn columns_of(builder: &ParquetRecordBatchReaderBuilder<File>) -> Vec<String> {
    builder
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect()
}

/// Whether [`write_cell`] reads a column of this type.
pub fn readable(data_type: &DataType) -> bool {
    use DataType::*;
    match data_type {
        Null | Boolean | Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 | UInt64
        | Float16 | Float32 | Float64 | Decimal32(..) | Decimal64(..) | Decimal128(..)
        | Decimal256(..) | Utf8 | LargeUtf8 | Utf8View | Binary | LargeBinary | BinaryView
        | FixedSizeBinary(_) | Date32 | Date64 | Timestamp(..) => true,
        Time32(unit) => matches!(unit, TimeUnit::Second | TimeUnit::Millisecond),
        Time64(unit) => matches!(unit, TimeUnit::Microsecond | TimeUnit::Nanosecond),
        Dictionary(key, value) => key.is_dictionary_key_type() && readable(value),
        _ => false,
    }
}

/// A type [`write_cell`] does not read (see [`readable`]).
#[derive(Debug)]
pub struct Unreadable;

/// Writes row `row` of `array` as the text the module's documentation gives: nothing for
/// null.
pub fn write_cell(array: &dyn Array, row: usize, out: &mut Vec<u8>) -> Result<(), Unreadable> {
    if array.is_null(row) {
        return Ok(());
    }
    // Formatting into a Vec<u8> cannot fail; only a type not read is an error.
    value(array, row, out).map(|_| ()).ok_or(Unreadable)
}

/// The value of a non-null cell written into `out`; `None` for a type not read.
fn value(array: &dyn Array, row: usize, out: &mut Vec<u8>) -> Option<io::Result<()>> {
    use DataType::*;
    Some(match array.data_type() {
        Null => Ok(()),
        Boolean => out.write_all(if array.as_boolean_opt()?.value(row) {
            b"true"
        } else {
            b"false"
        }),
        Int8 => write!(out, "{}", at::<Int8Type>(array, row)?),
        Int16 => write!(out, "{}", at::<Int16Type>(array, row)?),
        Int32 => write!(out, "{}", at::<Int32Type>(array, row)?),
        Int64 => write!(out, "{}", at::<Int64Type>(array, row)?),
        UInt8 => write!(out, "{}", at::<UInt8Type>(array, row)?),
        UInt16 => write!(out, "{}", at::<UInt16Type>(array, row)?),
        UInt32 => write!(out, "{}", at::<UInt32Type>(array, row)?),
        UInt64 => write!(out, "{}", at::<UInt64Type>(array, row)?),
        // Display is the shortest text that parses back to the same value of the type.
        Float16 => write!(out, "{}", at::<Float16Type>(array, row)?),
        Float32 => write!(out, "{}", at::<Float32Type>(array, row)?),
        Float64 => write!(out, "{}", at::<Float64Type>(array, row)?),
        Decimal32(..) => out.write_all(decimal::<Decimal32Type>(array, row)?.as_bytes()),
        Decimal64(..) => out.write_all(decimal::<Decimal64Type>(array, row)?.as_bytes()),
        Decimal128(..) => out.write_all(decimal::<Decimal128Type>(array, row)?.as_bytes()),
        Decimal256(..) => out.write_all(decimal::<Decimal256Type>(array, row)?.as_bytes()),
        Utf8 => out.write_all(array.as_string_opt::<i32>()?.value(row).as_bytes()),
        LargeUtf8 => out.write_all(array.as_string_opt::<i64>()?.value(row).as_bytes()),
        Utf8View => out.write_all(array.as_string_view_opt()?.value(row).as_bytes()),
        Binary => out.write_all(array.as_binary_opt::<i32>()?.value(row)),
        LargeBinary => out.write_all(array.as_binary_opt::<i64>()?.value(row)),
        BinaryView => out.write_all(array.as_binary_view_opt()?.value(row)),
        FixedSizeBinary(_) => out.write_all(array.as_fixed_size_binary_opt()?.value(row)),
        Date32 => {
            let day = as_date::<Date32Type>(i64::from(at::<Date32Type>(array, row)?))?;
            write!(out, "{}", day.format("%Y-%m-%d"))
        }
        Date64 => {
            let day = as_date::<Date64Type>(at::<Date64Type>(array, row)?)?;
            write!(out, "{}", day.format("%Y-%m-%d"))
        }
        Time32(TimeUnit::Second) => {
            time::<Time32SecondType>(i64::from(at::<Time32SecondType>(array, row)?), out)?
        }
        Time32(TimeUnit::Millisecond) => {
            time::<Time32MillisecondType>(i64::from(at::<Time32MillisecondType>(array, row)?), out)?
        }
        Time64(TimeUnit::Microsecond) => {
            time::<Time64MicrosecondType>(at::<Time64MicrosecondType>(array, row)?, out)?
        }
        Time64(TimeUnit::Nanosecond) => {
            time::<Time64NanosecondType>(at::<Time64NanosecondType>(array, row)?, out)?
        }
        Timestamp(TimeUnit::Second, _) => {
            instant::<TimestampSecondType>(at::<TimestampSecondType>(array, row)?, out)?
        }
        Timestamp(TimeUnit::Millisecond, _) => {
            instant::<TimestampMillisecondType>(at::<TimestampMillisecondType>(array, row)?, out)?
        }
        Timestamp(TimeUnit::Microsecond, _) => {
            instant::<TimestampMicrosecondType>(at::<TimestampMicrosecondType>(array, row)?, out)?
        }
        Timestamp(TimeUnit::Nanosecond, _) => {
            instant::<TimestampNanosecondType>(at::<TimestampNanosecondType>(array, row)?, out)?
        }
        Dictionary(..) => {
            let dictionary = array.as_any_dictionary_opt()?;
            let key = key_at(dictionary.keys(), row)?;
            let values = dictionary.values();
            if key >= values.len() {
                return None;
            }
            if values.is_null(key) {
                return Some(Ok(()));
            }
            return value(values.as_ref(), key, out);
        }
        _ => return None,
    })
}

fn at<T: ArrowPrimitiveType>(array: &dyn Array, row: usize) -> Option<T::Native> {
    array.as_primitive_opt::<T>().map(|a| a.value(row))
}

fn decimal<T: DecimalType>(array: &dyn Array, row: usize) -> Option<String> {
    array
        .as_primitive_opt::<T>()
        .map(|a| a.value_as_string(row))
}

fn time<T: ArrowPrimitiveType>(value: i64, out: &mut Vec<u8>) -> Option<io::Result<()>> {
    let time = as_time::<T>(value)?;
    Some(write!(out, "{}", time.format("%H:%M:%S%.f")))
}

/// A timestamp as RFC 3339 in UTC; one without a time zone is taken as UTC.
fn instant<T: ArrowPrimitiveType>(value: i64, out: &mut Vec<u8>) -> Option<io::Result<()>> {
    let at = as_datetime::<T>(value)?.and_utc();
    Some(
        out.write_all(
            at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
                .as_bytes(),
        ),
    )
}

/// A dictionary key as an index into its values.
fn key_at(keys: &dyn Array, row: usize) -> Option<usize> {
    fn index<K: ArrowDictionaryKeyType>(keys: &dyn Array, row: usize) -> Option<usize>
    where
        K::Native: TryInto<usize>,
    {
        at::<K>(keys, row)?.try_into().ok()
    }
    match keys.data_type() {
        DataType::Int8 => index::<Int8Type>(keys, row),
        DataType::Int16 => index::<Int16Type>(keys, row),
        DataType::Int32 => index::<Int32Type>(keys, row),
        DataType::Int64 => index::<Int64Type>(keys, row),
        DataType::UInt8 => index::<UInt8Type>(keys, row),
        DataType::UInt16 => index::<UInt16Type>(keys, row),
        DataType::UInt32 => index::<UInt32Type>(keys, row),
        DataType::UInt64 => index::<UInt64Type>(keys, row),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{
        BooleanArray, Date32Array, Decimal128Array, DictionaryArray, Float32Array, Float64Array,
        Int64Array, ListArray, StringArray, TimestampMillisecondArray, TimestampNanosecondArray,
    };

    fn cells(array: &dyn Array) -> Vec<String> {
        (0..array.len())
            .map(|row| {
                let mut out = Vec::new();
                write_cell(array, row, &mut out).expect("a type that is read");
                String::from_utf8(out).expect("UTF-8 text")
            })
            .collect()
    }

    #[test]
    fn doubles_are_written_so_that_parsing_gives_the_same_bits_back() {
        let values = [28.0, 0.1, -2.5e-300, 1e300, 1.0 / 3.0, f64::MAX, 0.0];
        let text = cells(&Float64Array::from(values.to_vec()));
        assert_eq!(&text[..2], ["28", "0.1"]);
        for (value, text) in values.iter().zip(&text) {
            let back: f64 = text.parse().expect("a number");
            assert_eq!(back.to_bits(), value.to_bits(), "{text}");
        }
        // A FLOAT is the decimal its writer stored, as f32 gives it back.
        assert_eq!(cells(&Float32Array::from(vec![19.99_f32])), ["19.99"]);
    }

    #[test]
    fn integers_decimals_booleans_text_and_nulls_read_as_a_csv_would_hold_them() {
        assert_eq!(
            cells(&Int64Array::from(vec![Some(-7), None, Some(i64::MAX)])),
            ["-7", "", "9223372036854775807"]
        );
        let decimals = Decimal128Array::from(vec![Some(1250), None])
            .with_precision_and_scale(10, 2)
            .expect("a decimal type");
        assert_eq!(cells(&decimals), ["12.50", ""]);
        assert_eq!(
            cells(&BooleanArray::from(vec![Some(true), Some(false), None])),
            ["true", "false", ""]
        );
        assert_eq!(
            cells(&StringArray::from(vec![Some("A13"), Some(""), None])),
            ["A13", "", ""]
        );
        let dictionary: DictionaryArray<arrow_array::types::Int8Type> =
            vec![Some("mobile"), None, Some("desktop"), Some("mobile")]
                .into_iter()
                .collect();
        assert_eq!(cells(&dictionary), ["mobile", "", "desktop", "mobile"]);
    }

    #[test]
    fn dates_and_timestamps_are_iso_8601_in_utc() {
        assert_eq!(cells(&Date32Array::from(vec![14_335])), ["2009-04-01"]);
        let utc = TimestampMillisecondArray::from(vec![1_775_034_000_000, 1_775_034_000_250])
            .with_timezone("+02:00");
        assert_eq!(
            cells(&utc),
            ["2026-04-01T09:00:00Z", "2026-04-01T09:00:00.250Z"]
        );
        // Without a time zone (Spark's INT96, isAdjustedToUTC = false): taken as UTC.
        let naive = TimestampNanosecondArray::from(vec![1_775_034_000_000_000_001]);
        assert_eq!(cells(&naive), ["2026-04-01T09:00:00.000000001Z"]);
    }

    use super::super::{Rows, MAX_ROW_BYTES};
    use crate::domain::{Click, Field};
    use arrow_array::types::Int32Type;
    use arrow_array::{
        BinaryArray, Int16Array, Int32Array, Int8Array, LargeStringArray, StringViewArray,
        UInt16Array, UInt32Array, UInt64Array, UInt8Array,
    };
    use std::sync::Arc;

    /// A row as [`Rows`] reads it: its line, session and click, or the error's text with the
    /// session the error names; a last `Err` for an error that ends the file.
    type Outcome = Result<(u64, String, Click), String>;

    /// A valid click's cells, each in the column a warehouse would type it in (integers,
    /// the price a double, the product a string).
    fn base_column(field: Field, rows: usize) -> ArrayRef {
        let whole = |v: i64| -> ArrayRef { Arc::new(Int64Array::from(vec![v; rows])) };
        match field {
            Field::Year => whole(2008),
            Field::Month => whole(4),
            Field::Day => whole(30),
            Field::Country => whole(29),
            Field::SessionId => Arc::new(Int64Array::from_iter_values(1..=rows as i64)),
            Field::Product => Arc::new(StringArray::from(vec!["A13"; rows])),
            Field::Price => Arc::new(Float64Array::from(vec![28.0; rows])),
            _ => whole(1),
        }
    }

    /// A Parquet file of the UCI columns, valid but for the columns given.
    fn uci_file(replaced: &[(Field, ArrayRef)]) -> tempfile::NamedTempFile {
        let rows = replaced.first().map_or(4, |(_, a)| a.len());
        let columns: Vec<(&str, ArrayRef)> = Field::ALL
            .iter()
            .map(|&field| {
                let array = replaced
                    .iter()
                    .find(|(f, _)| *f == field)
                    .map_or_else(|| base_column(field, rows), |(_, a)| a.clone());
                (field.name(), array)
            })
            .collect();
        let batch = RecordBatch::try_from_iter(columns).expect("a valid batch");
        let file = tempfile::NamedTempFile::new().expect("a temporary file");
        let mut writer = ::parquet::arrow::ArrowWriter::try_new(
            file.reopen().expect("the file reopens"),
            batch.schema(),
            None,
        )
        .expect("a Parquet writer");
        writer.write(&batch).expect("the rows are written");
        writer.close().expect("the file is finished");
        file
    }

    /// Every row of a file through [`Rows`], for its cells (the typed path) or as the text
    /// record every other reader gets (the text path).
    fn outcomes(path: &Path, cells: bool) -> Vec<Outcome> {
        let mut rows = Rows::open(path).expect("the file opens");
        let mut out = Vec::new();
        loop {
            let next = if cells {
                rows.records.next_cells()
            } else {
                rows.records.next_record()
            };
            match next {
                Ok(Some(line)) => out.push(
                    rows.parse(line)
                        .map(|row| (row.line, row.session.to_string(), row.click))
                        .map_err(|e| format!("{e} (session {:?})", e.session())),
                ),
                Ok(None) => return out,
                Err(e) => {
                    out.push(Err(format!("the read ends: {e}")));
                    return out;
                }
            }
        }
    }

    /// The file's rows read both ways, which must agree row by row, click for click and
    /// error for error.
    fn read_both_ways(replaced: &[(Field, ArrayRef)]) -> Vec<Outcome> {
        let file = uci_file(replaced);
        let typed = outcomes(file.path(), true);
        let text = outcomes(file.path(), false);
        assert_eq!(
            typed,
            text,
            "{:?}",
            replaced.first().map(|(f, a)| (f, a.data_type()))
        );
        typed
    }

    #[test]
    fn integers_doubles_and_strings_are_read_as_values_and_give_the_texts_clicks() {
        let file = uci_file(&[]);
        let mut rows = Rows::open(file.path()).expect("the file opens");
        let line = rows.records.next_cells().expect("a row").expect("a row");
        let column = |field| rows.layout.of(field);
        assert!(matches!(
            rows.records.cell(column(Field::Year)),
            Cell::Value(Value::Whole(2008))
        ));
        assert!(matches!(
            rows.records.cell(column(Field::Price)),
            Cell::Value(Value::Number(28.0))
        ));
        assert!(matches!(
            rows.records.cell(column(Field::Product)),
            Cell::Value(Value::Text("A13"))
        ));
        let row = rows.parse(line).expect("a valid click");
        assert_eq!((row.line, row.session.as_str()), (2, "1"));
        let read = read_both_ways(&[]);
        assert!(
            read.len() == 4 && read.iter().all(Result::is_ok),
            "{read:?}"
        );
    }

    #[test]
    fn nulls_in_every_column_read_as_empty_cells_on_both_paths() {
        for field in Field::ALL {
            let base = base_column(field, 1);
            let with_null: ArrayRef = match base.data_type() {
                DataType::Int64 => {
                    let value = base.as_primitive::<Int64Type>().value(0);
                    Arc::new(Int64Array::from(vec![Some(value), None]))
                }
                DataType::Float64 => Arc::new(Float64Array::from(vec![Some(28.0), None])),
                _ => Arc::new(StringArray::from(vec![Some("A13"), None])),
            };
            let read = read_both_ways(&[(field, with_null)]);
            assert!(read[0].is_ok() && read[1].is_err(), "{field:?}: {read:?}");
        }
        let read = read_both_ways(&[(
            Field::SessionId,
            Arc::new(StringArray::from(vec![Some("7"), None])),
        )]);
        assert!(read[0].is_ok() && read[1].is_err(), "{read:?}");
    }

    #[test]
    fn every_integer_type_reads_as_its_text_does_in_codes_prices_and_session_ids() {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int8Array::from(vec![
                Some(i8::MIN),
                Some(-1),
                Some(0),
                Some(1),
                Some(5),
                Some(i8::MAX),
                None,
            ])),
            Arc::new(Int16Array::from(vec![i16::MIN, -1, 0, 2, 28, i16::MAX])),
            Arc::new(Int32Array::from(vec![i32::MIN, -1, 0, 3, 2008, i32::MAX])),
            Arc::new(Int64Array::from(vec![
                i64::MIN,
                -1,
                0,
                4,
                13,
                99,
                2008,
                (1 << 53) + 1,
                i64::MAX,
            ])),
            Arc::new(UInt8Array::from(vec![0, 1, 5, u8::MAX])),
            Arc::new(UInt16Array::from(vec![0, 1, 2008, u16::MAX])),
            Arc::new(UInt32Array::from(vec![0, 1, 29, u32::MAX])),
            Arc::new(UInt64Array::from(vec![
                Some(0),
                Some(1),
                Some(i64::MAX as u64),
                Some(i64::MAX as u64 + 1),
                Some(u64::MAX),
                None,
            ])),
        ];
        for field in Field::ALL {
            for column in &columns {
                read_both_ways(&[(field, column.clone())]);
            }
        }
        // A code past i64::MAX is refused, named by its digits, on both paths.
        let read = read_both_ways(&[(Field::Colour, columns[7].clone())]);
        let refused = read[4].as_ref().expect_err("past i64::MAX");
        assert!(
            refused.contains("value \"18446744073709551615\""),
            "{refused}"
        );
        assert!(read[1].is_ok(), "{read:?}");
    }

    #[test]
    fn doubles_in_whole_number_columns_read_as_their_text_whole_or_not() {
        let doubles: ArrayRef = Arc::new(Float64Array::from(vec![
            4.0,
            4.5,
            -0.0,
            0.0,
            1.0,
            2008.0,
            1e15,
            1e16,
            -1e15,
            9.3e18,
            1e300,
            5e-324,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ]));
        for field in Field::ALL {
            read_both_ways(&[(field, doubles.clone())]);
        }
        let read = read_both_ways(&[(Field::Colour, doubles)]);
        assert!(read[0].is_ok(), "4.0 is colour 4: {read:?}");
        let refused = read[1].as_ref().expect_err("4.5 is no colour");
        assert!(refused.contains("value \"4.5\""), "{refused}");
    }

    #[test]
    fn prices_of_every_type_read_as_their_text_does() {
        let prices: Vec<ArrayRef> = vec![
            Arc::new(Float64Array::from(vec![
                Some(19.99),
                Some(28.0),
                Some(0.1),
                Some(-1.0),
                Some(0.0),
                Some(1e300),
                Some(5e-324),
                Some(9_007_199_254_740_993.0),
                Some(f64::NAN),
                Some(f64::INFINITY),
                Some(f64::NEG_INFINITY),
                None,
            ])),
            Arc::new(Float32Array::from(vec![
                19.99_f32,
                28.0,
                f32::NAN,
                f32::INFINITY,
            ])),
            Arc::new(
                Decimal128Array::from(vec![Some(1250), Some(2800), Some(-1), None])
                    .with_precision_and_scale(10, 2)
                    .expect("a decimal type"),
            ),
        ];
        for price in &prices {
            read_both_ways(&[(Field::Price, price.clone())]);
        }
        // A FLOAT 19.99 is the price 19.99, as its text is.
        let read = read_both_ways(&[(Field::Price, prices[1].clone())]);
        let (_, _, click) = read[0].as_ref().expect("a valid price");
        assert_eq!(click.price.get(), 19.99);
        // Decimals in a whole-number column: 4.00 is 4, 0.01 is refused by its text.
        let decimals: ArrayRef = Arc::new(
            Decimal128Array::from(vec![400, 1])
                .with_precision_and_scale(10, 2)
                .expect("a decimal type"),
        );
        let read = read_both_ways(&[(Field::Colour, decimals)]);
        assert!(read[0].is_ok(), "{read:?}");
        assert!(
            read[1]
                .as_ref()
                .is_err_and(|e| e.contains("value \"0.01\"")),
            "{read:?}"
        );
    }

    #[test]
    fn string_integer_and_dictionary_session_ids_and_products_read_alike() {
        let long = "9".repeat(80);
        let texts = vec![
            "12",
            " 12 ",
            "",
            "   ",
            "A13",
            " A13 ",
            "a13",
            "P999",
            "A1000",
            "é",
            long.as_str(),
        ];
        let dictionary: DictionaryArray<Int32Type> =
            texts.iter().map(|t| Some(*t)).chain([None]).collect();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(texts.clone())),
            Arc::new(LargeStringArray::from(texts.clone())),
            Arc::new(StringViewArray::from(texts.clone())),
            Arc::new(dictionary),
            Arc::new(BinaryArray::from(vec![&b"12"[..], b"A13", b"\xff1", b""])),
            Arc::new(Int64Array::from(vec![12, -5, 0, i64::MIN])),
            Arc::new(Float64Array::from(vec![12.0, 12.5, f64::NAN])),
            Arc::new(BooleanArray::from(vec![true, false])),
            Arc::new(Date32Array::from(vec![14_335])),
        ];
        for field in [
            Field::SessionId,
            Field::Product,
            Field::Colour,
            Field::Price,
        ] {
            for column in &columns {
                read_both_ways(&[(field, column.clone())]);
            }
        }
        // Bytes that are not UTF-8 are refused as such, naming the column, on both paths.
        let read = read_both_ways(&[(Field::Product, columns[4].clone())]);
        let refused = read[2].as_ref().expect_err("not UTF-8");
        assert!(refused.contains("is not valid UTF-8 text"), "{refused}");
        // An integer session id is its digits.
        let read = read_both_ways(&[(Field::SessionId, columns[5].clone())]);
        let ids: Vec<&str> = read
            .iter()
            .flatten()
            .map(|(_, id, _)| id.as_str())
            .collect();
        assert_eq!(ids, ["12", "-5", "0", "-9223372036854775808"]);
    }

    #[test]
    fn a_row_past_the_bound_ends_the_read_on_both_paths_wherever_its_bytes_are() {
        // The other cells' text is 19 bytes; lengths around the bound on each side.
        let products: Vec<String> = (MAX_ROW_BYTES - 30..MAX_ROW_BYTES - 10)
            .map(|n| "A".repeat(n))
            .collect();
        for product in &products {
            let read = read_both_ways(&[(
                Field::Product,
                Arc::new(StringArray::from(vec![product.as_str()])),
            )]);
            assert_eq!(read.len(), 1);
        }
        let first = read_both_ways(&[(
            Field::Product,
            Arc::new(StringArray::from(vec![products[0].as_str()])),
        )]);
        let last = read_both_ways(&[(
            Field::Product,
            Arc::new(StringArray::from(vec![products[19].as_str()])),
        )]);
        assert!(
            first[0].as_ref().is_err_and(|e| e.contains("is invalid")),
            "{first:?}"
        );
        assert!(
            last[0].as_ref().is_err_and(|e| e.contains("longer than")),
            "{last:?}"
        );
    }

    #[test]
    fn nested_columns_are_not_read_as_text() {
        let list =
            ListArray::from_iter_primitive::<arrow_array::types::Int32Type, _, _>(vec![Some(
                vec![Some(1)],
            )]);
        assert!(!readable(list.data_type()));
        assert!(write_cell(&list, 0, &mut Vec::new()).is_err());
        assert!(readable(&DataType::Dictionary(
            Box::new(DataType::Int32),
            Box::new(DataType::Utf8)
        )));
    }
}
