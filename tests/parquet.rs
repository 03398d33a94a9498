//! Parquet in: files written here with the parquet crate's own writer, in the UCI layout and
//! the second shop's, read back through the readers `train`, `evaluate` and `score` use and
//! compared with the same data read as CSV.
#![cfg(feature = "parquet")]

#[path = "support/data_file.rs"]
mod data_file;

#[path = "../examples/second_shop.rs"]
#[allow(
    dead_code,
    reason = "the example's command line and main are not what these tests call"
)]
mod second_shop;

use arrow_array::types::Int32Type;
use arrow_array::Array as _;
use arrow_array::{
    ArrayRef, DictionaryArray, Float64Array, Int64Array, ListArray, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow_schema::{DataType, Field, Schema};
use clickstream::domain::shop::ShopSchema;
use clickstream::reader::shop::read_shop_clickstream;
use clickstream::reader::{
    read_clickstream, Clickstream, DataFormat, ReadError, ReadOptions, SessionStream,
};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, GzipLevel, ZstdLevel};
use parquet::file::properties::WriterProperties;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How a column is stored in the Parquet files written here.
#[derive(Clone, Copy)]
enum Stored {
    Int,
    Float,
    Text,
    /// Dictionary-encoded text, as pandas' categoricals and many writers store it.
    Dictionary,
    /// A UTC timestamp in microseconds, parsed from RFC 3339.
    Instant,
}

/// A CSV file's header and rows, as text.
struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

fn read_csv(path: &Path, separator: u8) -> Table {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(separator)
        .from_path(path)
        .expect("the CSV file opens");
    let header = reader
        .headers()
        .expect("the CSV file has a header")
        .iter()
        .map(str::to_owned)
        .collect();
    let rows = reader
        .records()
        .map(|r| {
            r.expect("every CSV row reads")
                .iter()
                .map(str::to_owned)
                .collect()
        })
        .collect();
    Table { header, rows }
}

/// The table's rows as one record batch, each column stored as `types` says; an empty cell
/// is null.
fn batch(table: &Table, rows: &[Vec<String>], types: &[Stored]) -> RecordBatch {
    let mut fields = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for (i, (name, stored)) in table.header.iter().zip(types).enumerate() {
        let cells: Vec<Option<&str>> = rows
            .iter()
            .map(|r| Some(r[i].as_str()).filter(|c| !c.is_empty()))
            .collect();
        let (data_type, array): (DataType, ArrayRef) = match stored {
            Stored::Int => (
                DataType::Int64,
                Arc::new(
                    cells
                        .iter()
                        .map(|c| c.map(|c| c.parse::<i64>().expect("a whole number")))
                        .collect::<Int64Array>(),
                ),
            ),
            Stored::Float => (
                DataType::Float64,
                Arc::new(
                    cells
                        .iter()
                        .map(|c| c.map(|c| c.parse::<f64>().expect("a number")))
                        .collect::<Float64Array>(),
                ),
            ),
            Stored::Text => (
                DataType::Utf8,
                Arc::new(cells.iter().copied().collect::<StringArray>()),
            ),
            Stored::Dictionary => {
                let array: DictionaryArray<Int32Type> = cells.iter().copied().collect();
                (array.data_type().clone(), Arc::new(array))
            }
            Stored::Instant => {
                let array = cells
                    .iter()
                    .map(|c| {
                        c.map(|c| {
                            chrono::DateTime::parse_from_rfc3339(c)
                                .expect("an RFC 3339 time")
                                .timestamp_micros()
                        })
                    })
                    .collect::<TimestampMicrosecondArray>()
                    .with_timezone("UTC");
                (array.data_type().clone(), Arc::new(array))
            }
        };
        fields.push(Field::new(name, data_type, true));
        columns.push(array);
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).expect("a valid batch")
}

/// Writes a batch as a Parquet file, in row groups of `group` rows.
fn write(batch: &RecordBatch, path: &Path, compression: Compression, group: usize) {
    let properties = WriterProperties::builder()
        .set_compression(compression)
        .set_max_row_group_row_count(Some(group))
        .build();
    let file = std::fs::File::create(path).expect("the Parquet file is created");
    let mut writer =
        ArrowWriter::try_new(file, batch.schema(), Some(properties)).expect("a Parquet writer");
    writer.write(batch).expect("the rows are written");
    writer.close().expect("the file is finished");
}

/// The UCI columns as a warehouse would type them: numbers as integers, the price a double,
/// the clothing model dictionary-encoded.
fn uci_types(header: &[String]) -> Vec<Stored> {
    header
        .iter()
        .map(|h| match h.as_str() {
            "page 2 (clothing model)" | "page2_clothing_model" => Stored::Dictionary,
            "price" => Stored::Float,
            _ => Stored::Int,
        })
        .collect()
}

fn examples_csv() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/sessions.csv")
}

fn sha256_of(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).expect("the file reads")))
}

fn same_clicks(parquet: &Clickstream, csv: &Clickstream) {
    assert_eq!(parquet.sessions, csv.sessions);
    assert_eq!(
        (
            parquet.stats.rows,
            parquet.stats.clicks,
            parquet.stats.sessions
        ),
        (csv.stats.rows, csv.stats.clicks, csv.stats.sessions)
    );
    assert_eq!(parquet.stats.format, DataFormat::Parquet);
    assert!(parquet.stats.header);
}

#[test]
fn the_uci_layout_as_parquet_reads_as_the_same_sessions_as_its_csv_whole_or_streamed() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let table = read_csv(&examples_csv(), b';');
    let path = dir.path().join("sessions.parquet");
    // Row groups of 50 rows: sessions cross row groups and batches.
    write(
        &batch(&table, &table.rows, &uci_types(&table.header)),
        &path,
        Compression::SNAPPY,
        50,
    );
    let csv = read_clickstream(&examples_csv(), ReadOptions::default()).expect("the CSV reads");
    let parquet = read_clickstream(&path, ReadOptions::default()).expect("the Parquet reads");
    same_clicks(&parquet, &csv);
    assert_eq!(parquet.stats.sessions, 40);
    assert_eq!(parquet.sha256, sha256_of(&path));
    assert_eq!(parquet.file_name, "sessions.parquet");

    // `score` streams it a session at a time.
    let mut stream = SessionStream::open(&path, ReadOptions::default()).expect("opens");
    let mut streamed = Vec::new();
    while let Some(session) = stream.next_session().expect("every session reads") {
        streamed.push(session);
    }
    assert_eq!(streamed, csv.sessions);
    let (sha256, stats) = stream.finish().expect("the end");
    assert_eq!((sha256, stats.clicks), (sha256_of(&path), csv.stats.clicks));
}

#[test]
fn the_real_file_as_parquet_reads_as_the_same_sessions_as_its_csv() {
    let Some(real) = data_file::real_data_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().expect("a temporary folder");
    let table = read_csv(&real, b';');
    let path = dir.path().join("apr-jul.parquet");
    write(
        &batch(&table, &table.rows, &uci_types(&table.header)),
        &path,
        Compression::ZSTD(ZstdLevel::default()),
        1 << 16,
    );
    let csv = read_clickstream(&real, ReadOptions::default()).expect("the CSV reads");
    let parquet = read_clickstream(&path, ReadOptions::default()).expect("the Parquet reads");
    same_clicks(&parquet, &csv);
}

#[test]
fn the_second_shop_as_parquet_reads_as_its_csv_by_its_schema() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    second_shop::generate(600, 19)
        .write(dir.path(), 19)
        .expect("the shop's files are written");
    let schema = ShopSchema::parse(second_shop::SCHEMA).expect("the schema compiles");
    let csv_path = dir.path().join("clicks.csv");
    let table = read_csv(&csv_path, b',');
    let types: Vec<Stored> = table
        .header
        .iter()
        .map(|h| match h.as_str() {
            "event_time" => Stored::Instant,
            "price" => Stored::Float,
            "category" | "device" => Stored::Dictionary,
            _ => Stored::Text,
        })
        .collect();
    let path = dir.path().join("clicks.parquet");
    write(
        &batch(&table, &table.rows, &types),
        &path,
        Compression::SNAPPY,
        500,
    );
    let csv =
        read_shop_clickstream(&csv_path, &schema, ReadOptions::default()).expect("the CSV reads");
    let parquet =
        read_shop_clickstream(&path, &schema, ReadOptions::default()).expect("the Parquet reads");
    assert_eq!(parquet.sessions.len(), 600);
    assert_eq!(parquet.sessions, csv.sessions);
    assert_eq!(
        (parquet.stats.rows, parquet.stats.clicks),
        (csv.stats.rows, csv.stats.clicks)
    );
    assert_eq!(parquet.stats.format, DataFormat::Parquet);
    assert_eq!(parquet.sha256, sha256_of(&path));
}

/// Writes `sessions.csv`'s rows as three part files of a warehouse export (each with its
/// own codec), with the markers and hidden files such exports hold.
fn export_folder(root: &Path, table: &Table) -> PathBuf {
    let folder = root.join("export");
    std::fs::create_dir(&folder).expect("the folder is made");
    let types = uci_types(&table.header);
    let third = table.rows.len() / 3;
    let parts = [
        (&table.rows[..third], Compression::SNAPPY, "snappy"),
        (
            &table.rows[third..2 * third],
            Compression::ZSTD(ZstdLevel::default()),
            "zstd",
        ),
        (
            &table.rows[2 * third..],
            Compression::GZIP(GzipLevel::default()),
            "gz",
        ),
    ];
    for (i, (rows, compression, codec)) in parts.into_iter().enumerate() {
        let name = format!("part-0000{i}-5f1c.{codec}.parquet");
        write(
            &batch(table, rows, &types),
            &folder.join(name),
            compression,
            40,
        );
    }
    for marker in [
        "_SUCCESS",
        ".part-00000-5f1c.snappy.parquet.crc",
        ".hidden.parquet",
    ] {
        std::fs::write(folder.join(marker), b"not data").expect("a marker is written");
    }
    std::fs::create_dir(folder.join("date=2008-04-01")).expect("a subfolder");
    folder
}

#[test]
fn a_folder_of_part_files_is_one_data_set_read_in_name_order() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let table = read_csv(&examples_csv(), b';');
    let folder = export_folder(dir.path(), &table);
    let csv = read_clickstream(&examples_csv(), ReadOptions::default()).expect("the CSV reads");
    let parquet = read_clickstream(&folder, ReadOptions::default()).expect("the folder reads");
    same_clicks(&parquet, &csv);
    assert_eq!(parquet.file_name, "export");

    // The checksum is `cd export && sha256sum part-* | sha256sum`.
    let mut listing = String::new();
    for i in 0..3 {
        let codec = ["snappy", "zstd", "gz"][i];
        let name = format!("part-0000{i}-5f1c.{codec}.parquet");
        listing.push_str(&format!("{}  {name}\n", sha256_of(&folder.join(&name))));
    }
    assert_eq!(
        parquet.sha256,
        hex::encode(Sha256::digest(listing.as_bytes()))
    );

    // A part file with other columns is refused, named.
    let other = read_csv(&examples_csv(), b';');
    let mut narrow = Table {
        header: other.header[..13].to_vec(),
        rows: other.rows.iter().map(|r| r[..13].to_vec()).collect(),
    };
    narrow.rows.truncate(5);
    write(
        &batch(&narrow, &narrow.rows, &uci_types(&narrow.header)),
        &folder.join("part-00003-5f1c.snappy.parquet"),
        Compression::SNAPPY,
        40,
    );
    let err = read_clickstream(&folder, ReadOptions::default()).expect_err("other columns");
    let message = err.to_string();
    assert!(
        message.contains("part-00003-5f1c.snappy.parquet: its columns")
            && message.contains("every file of a data set needs the same columns"),
        "{message}"
    );
}

#[test]
fn a_bad_value_names_its_row_of_the_data_set_as_line_row_plus_one_and_its_column() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let mut table = read_csv(&examples_csv(), b';');
    let location = table
        .header
        .iter()
        .position(|h| h == "location")
        .expect("a location column");
    // Row 150 of the data set: in the third part file of the folder.
    table.rows[149][location] = "9".into();
    let path = dir.path().join("bad.parquet");
    write(
        &batch(&table, &table.rows, &uci_types(&table.header)),
        &path,
        Compression::SNAPPY,
        64,
    );
    let folder = export_folder(dir.path(), &table);
    for (read, shown) in [(&path, path.clone()), (&folder, folder.clone())] {
        let err = read_clickstream(read, ReadOptions::default()).expect_err("location 9");
        assert!(matches!(err, ReadError::Invalid { line: 151, .. }), "{err}");
        let message = err.to_string();
        assert!(
            message.starts_with(&format!(
                "{}: line 151: column \"location\": value \"9\" is invalid; allowed: ",
                shown.display()
            )),
            "{message}"
        );
        let skipping = ReadOptions {
            skip_invalid: true,
            ..ReadOptions::default()
        };
        let read = read_clickstream(read, skipping).expect("the row is skipped");
        assert_eq!(read.stats.invalid_rows_skipped, 1);
        assert_eq!(read.stats.rows, 209);
    }
}

#[test]
fn files_that_are_neither_parquet_nor_csv_are_refused_saying_so() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let cases: [(&str, &[u8], &str); 4] = [
        (
            "clicks.csv.gz",
            &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3],
            "gzip-compressed",
        ),
        (
            "clicks.bin",
            b"\x00\x01\x02;year,month\n",
            "neither CSV text (it holds NUL bytes",
        ),
        ("clicks.xlsx", b"PK\x03\x04rest", "ZIP archive"),
        (
            "broken.parquet",
            b"PAR1 but nothing a Parquet reader can read",
            "not a readable Parquet file",
        ),
    ];
    for (name, bytes, expected) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).expect("written");
        let err = read_clickstream(&path, ReadOptions::default()).expect_err("not data");
        assert!(matches!(err, ReadError::Format { .. }), "{name}: {err}");
        assert!(err.to_string().contains(expected), "{name}: {err}");
    }
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).expect("a folder");
    std::fs::write(empty.join("_SUCCESS"), b"").expect("a marker");
    let err = read_clickstream(&empty, ReadOptions::default()).expect_err("no files");
    assert!(
        err.to_string()
            .contains("the folder holds no Parquet files"),
        "{err}"
    );
    // Parquet files named otherwise are named back, so the fix is plain.
    std::fs::write(empty.join("clicks.parq"), b"PAR1").expect("a file");
    let err = read_clickstream(&empty, ReadOptions::default()).expect_err("no data names");
    assert!(
        err.to_string()
            .ends_with("; passed over for their names: \"clicks.parq\""),
        "{err}"
    );
    std::fs::write(empty.join("part-00000.csv"), b"year,month\n2008,4\n").expect("a CSV part");
    let err = read_clickstream(&empty, ReadOptions::default()).expect_err("a CSV part");
    assert!(
        err.to_string()
            .contains("part-00000.csv: not a Parquet file (it does not start with PAR1)"),
        "{err}"
    );
}

/// The batch with a nested column added.
fn with_tags(plain: &RecordBatch) -> RecordBatch {
    let tags = ListArray::from_iter_primitive::<Int32Type, _, _>(
        (0..plain.num_rows()).map(|i| Some(vec![Some(i as i32)])),
    );
    let mut fields: Vec<Field> = plain
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.push(Field::new("tags", tags.data_type().clone(), true));
    let mut columns = plain.columns().to_vec();
    columns.push(Arc::new(tags));
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).expect("a valid batch")
}

/// A nested column beside the data's: the UCI reader, which does not use it, does not
/// decode it; a shop's reader, which reads every column, names it.
#[test]
fn a_nested_column_is_passed_over_unless_a_reader_uses_it() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let table = read_csv(&examples_csv(), b';');
    let path = dir.path().join("nested.parquet");
    write(
        &with_tags(&batch(&table, &table.rows, &uci_types(&table.header))),
        &path,
        Compression::SNAPPY,
        100,
    );
    let read = read_clickstream(&path, ReadOptions::default()).expect("the UCI columns read");
    assert_eq!(read.stats.ignored_columns, ["tags"]);
    assert_eq!(read.stats.sessions, 40);

    second_shop::generate(20, 3)
        .write(dir.path(), 3)
        .expect("the shop's files are written");
    let shop = read_csv(&dir.path().join("clicks.csv"), b',');
    let types = vec![Stored::Text; shop.header.len()];
    let path = dir.path().join("shop-nested.parquet");
    write(
        &with_tags(&batch(&shop, &shop.rows, &types)),
        &path,
        Compression::SNAPPY,
        100,
    );
    let schema = ShopSchema::parse(second_shop::SCHEMA).expect("the schema compiles");
    let err = read_shop_clickstream(&path, &schema, ReadOptions::default())
        .expect_err("a shop's reader reads every column");
    assert!(
        err.to_string().contains("column \"tags\" is of type List"),
        "{err}"
    );
}

/// `clickstream ARGS...`, the real binary.
fn clickstream(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_clickstream"))
        .args(args)
        .output()
        .expect("the clickstream binary runs")
}

/// The examples' sessions as a Parquet file (every column chunk dictionary-encoded, as
/// the parquet crate writes by default).
fn uci_parquet(dir: &Path) -> PathBuf {
    let table = read_csv(&examples_csv(), b';');
    let path = dir.join("sessions.parquet");
    write(
        &batch(&table, &table.rows, &uci_types(&table.header)),
        &path,
        Compression::SNAPPY,
        1000,
    );
    path
}

/// A copy of `file` at `out` whose footer declares the first column chunk as `edit`
/// makes it; every byte before the footer is the file's.
fn with_first_chunk(
    file: &Path,
    out: &Path,
    edit: impl FnOnce(
        parquet::file::metadata::ColumnChunkMetaDataBuilder,
    ) -> parquet::file::metadata::ColumnChunkMetaDataBuilder,
) {
    use parquet::file::metadata::{ParquetMetaDataReader, ParquetMetaDataWriter};
    let bytes = std::fs::read(file).expect("the file reads");
    let footer = u32::from_le_bytes(
        bytes[bytes.len() - 8..bytes.len() - 4]
            .try_into()
            .expect("A Parquet file ends with its footer's length."),
    );
    let data_end = bytes.len() - 8 - footer as usize;
    let metadata = ParquetMetaDataReader::new()
        .parse_and_finish(&std::fs::File::open(file).expect("the file opens"))
        .expect("the footer reads");
    let mut groups = metadata.row_groups().to_vec();
    let mut columns = groups[0].columns().to_vec();
    columns[0] = edit(columns[0].clone().into_builder())
        .build()
        .expect("a column chunk");
    groups[0] = groups[0]
        .clone()
        .into_builder()
        .set_column_metadata(columns)
        .build()
        .expect("a row group");
    let edited = metadata.into_builder().set_row_groups(groups).build();
    let mut out_bytes = bytes[..data_end].to_vec();
    ParquetMetaDataWriter::new(&mut out_bytes, &edited)
        .finish()
        .expect("the footer is written");
    std::fs::write(out, out_bytes).expect("the copy is written");
}

/// Corrupt files: a footer declaring a column chunk of a negative size or past the file's
/// end, a dictionary-encoded column whose dictionary page the footer leaves out (the parquet
/// crate panicked on the first and the third), a file cut in half. Each stops `score`,
/// `evaluate` and `train` with an error naming the file and what is wrong with it: never a
/// panic, an abort or an allocation of what the footer declares.
#[test]
fn a_corrupt_parquet_file_is_an_error_naming_it_in_every_command_never_a_crash() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let good = uci_parquet(dir.path());
    let negative = dir.path().join("negative-size.parquet");
    with_first_chunk(&good, &negative, |c| c.set_total_compressed_size(-1));
    let past_the_end = dir.path().join("past-the-end.parquet");
    with_first_chunk(&good, &past_the_end, |c| {
        c.set_total_compressed_size(1 << 40)
    });
    let no_dictionary = dir.path().join("no-dictionary.parquet");
    with_first_chunk(&good, &no_dictionary, |c| {
        c.set_dictionary_page_offset(None)
    });
    let cut = dir.path().join("cut.parquet");
    let bytes = std::fs::read(&good).expect("the file reads");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).expect("the half is written");
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let models = models.to_str().expect("a UTF-8 path");
    let trained = dir.path().join("trained");
    let trained = trained.to_str().expect("a UTF-8 path");
    for (file, expected) in [
        (&negative, "outside the file's"),
        (&past_the_end, "outside the file's"),
        (&no_dictionary, "the file is corrupt"),
        (&cut, "not a readable Parquet file"),
    ] {
        let data = file.to_str().expect("a UTF-8 path");
        for args in [
            vec!["score", "--data", data, "--models", models],
            vec!["evaluate", "--data", data, "--models", models],
            vec!["train", "--data", data, "--models", trained, "--quiet"],
        ] {
            let out = clickstream(&args);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
            assert!(
                stderr.contains(&format!("error: {data}: ")) && stderr.contains(expected),
                "{args:?}: {stderr}"
            );
            assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        }
    }
}

/// A data set's part files left out of it would be rows lost without a word: a part file
/// in a subfolder (Hive's `date=…/`, Spark's `x.parquet/`) beside the top-level ones, a
/// part file that is a broken link, are refused by name; Spark's work folders
/// (`_temporary/`) and an empty subfolder are passed over.
#[test]
fn a_folder_refuses_part_files_it_would_leave_out_rather_than_drop_their_rows() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let table = read_csv(&examples_csv(), b';');
    let folder = export_folder(dir.path(), &table);
    let work = folder.join("_temporary/0");
    std::fs::create_dir_all(&work).expect("a work folder");
    let part = folder.join("part-00000-5f1c.snappy.parquet");
    std::fs::copy(&part, work.join("part-00000.parquet")).expect("a part file in it");
    let csv = read_clickstream(&examples_csv(), ReadOptions::default()).expect("the CSV reads");
    let read = read_clickstream(&folder, ReadOptions::default()).expect("the folder reads");
    same_clicks(&read, &csv);

    let nested = folder.join("date=2008-04-01/part-00009.parquet");
    std::fs::copy(&part, &nested).expect("a part file in a partition folder");
    let err = read_clickstream(&folder, ReadOptions::default()).expect_err("a nested part");
    let message = err.to_string();
    assert!(
        message.contains(&format!("{} is in a subfolder", nested.display()))
            && message.contains("subfolders are not read"),
        "{message}"
    );
    std::fs::remove_file(&nested).expect("removed");

    let broken = folder.join("part-00009-5f1c.snappy.parquet");
    std::os::unix::fs::symlink(dir.path().join("gone.parquet"), &broken).expect("a link");
    let err = read_clickstream(&folder, ReadOptions::default()).expect_err("a broken link");
    let message = err.to_string();
    assert!(
        message.starts_with(&format!("{}: cannot be read", broken.display())),
        "{message}"
    );
}
