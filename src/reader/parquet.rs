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

use super::{ReadError, RowTooLong, MAX_ROW_BYTES, PARQUET_MAGIC as MAGIC};
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
use arrow_array::{Array, RecordBatch};
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
    /// markers warehouses leave (`_SUCCESS`, `_committed_…`, `_metadata`) are passed over,
    /// as are subfolders (Hive partition folders such as `date=2026-04-01/` are not read:
    /// their column is in the folder's name, not in the files). Every file it takes must
    /// start with `PAR1`.
    pub fn of_folder(path: &Path) -> Result<DataSet, ReadError> {
        let io_error = |source| ReadError::Io {
            path: path.to_owned(),
            source,
        };
        let mut names = Vec::new();
        for entry in std::fs::read_dir(path).map_err(io_error)? {
            let entry = entry.map_err(io_error)?;
            let name = entry.file_name();
            let text = name.to_string_lossy();
            if text.starts_with('.') || text.starts_with('_') || text.ends_with(".crc") {
                continue;
            }
            if !(text.ends_with(".parquet") || text.starts_with("part-")) {
                continue;
            }
            // Through a symbolic link, as `ls` and Spark would.
            let is_file = std::fs::metadata(entry.path()).is_ok_and(|m| m.is_file());
            if is_file {
                names.push(name);
            }
        }
        names.sort();
        if names.is_empty() {
            return Err(ReadError::Format {
                path: path.to_owned(),
                message: "the folder holds no Parquet files (*.parquet, or part files such as part-00000-….snappy.parquet); subfolders are not read".into(),
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
        loop {
            if let Some(batch) = &self.batch {
                if self.at < batch.num_rows() {
                    let row = self.at;
                    self.at += 1;
                    self.rows += 1;
                    let line = self.rows + 1;
                    self.fill(row, record, line)?;
                    return Ok(Some(line));
                }
                self.batch = None;
            }
            if let Some(reader) = &mut self.reader {
                match reader.next() {
                    Some(Ok(batch)) => {
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
        let reader = builder
            .with_projection(mask)
            .with_batch_size(BATCH_ROWS)
            .build()
            .map_err(|e| self.file_error(index, e.to_string()))?;
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

fn builder(path: &Path) -> Result<ParquetRecordBatchReaderBuilder<File>, ReadError> {
    let file = File::open(path).map_err(|source| ReadError::Io {
        path: path.to_owned(),
        source,
    })?;
    ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| ReadError::Format {
        path: path.to_owned(),
        message: format!("not a readable Parquet file: {e}"),
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
