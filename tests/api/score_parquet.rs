//! `score --format parquet`: the CSV answer's columns and cells, typed (docs/score-volume.md).
#![cfg(feature = "parquet")]

use crate::helpers::{shipped_models, text};
use crate::score_command::score;
use crate::shop::path;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::path::Path;

/// The Parquet file's batches, read by the parquet crate's own reader.
fn read(file: &Path) -> Vec<RecordBatch> {
    let file = std::fs::File::open(file).expect("The Parquet answer opens.");
    ParquetRecordBatchReaderBuilder::try_new(file)
        .expect("a Parquet file")
        .build()
        .expect("a reader")
        .collect::<Result<_, _>>()
        .expect("batches")
}

/// The Arrow type each answer column must have, by its name.
fn expected_type(column: &str) -> DataType {
    let field = column.rsplit('.').next().unwrap_or(column);
    match field {
        "probability"
        | "threshold"
        | "percentile"
        | "expected_revenue"
        | "revenue_if_converts"
        | "distance" => DataType::Float64,
        "model_version" | "persona_id" => DataType::Int64,
        "will_convert" | "already_converted" => DataType::Boolean,
        _ => DataType::Utf8,
    }
}

/// A cell as the CSV answer (without the formula guard) writes it: floats in their
/// shortest round-trip form, a null as an empty cell.
fn as_csv(array: &dyn Array, row: usize) -> String {
    if array.is_null(row) {
        return String::new();
    }
    match array.data_type() {
        DataType::Float64 => format!("{:?}", array.as_primitive::<Float64Type>().value(row)),
        DataType::Int64 => array.as_primitive::<Int64Type>().value(row).to_string(),
        DataType::Boolean => array.as_boolean().value(row).to_string(),
        DataType::Utf8 => array.as_string::<i32>().value(row).to_owned(),
        other => panic!("an answer column of type {other}"),
    }
}

/// Scores `data` as CSV (no formula guard) and as Parquet to --out, and holds the two
/// equal: the same columns in the same order with their types, and cell for cell.
fn same_as_csv(data: &Path, models: &Path, model: &str, passthrough: &[&str]) {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("answers.parquet");
    let csv_out = score(
        data,
        models,
        &["--model", model, "--format", "csv", "--no-formula-guard"],
    );
    assert!(csv_out.status.success(), "{}", text(&csv_out.stderr));
    let parquet_out = score(
        data,
        models,
        &["--model", model, "--format", "parquet", "--out", path(&out)],
    );
    assert!(
        parquet_out.status.success(),
        "{}",
        text(&parquet_out.stderr)
    );
    let csv_text = text(&csv_out.stdout);
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .expect("a header")
        .iter()
        .map(str::to_owned)
        .collect();
    let rows: Vec<csv::StringRecord> = reader
        .records()
        .collect::<Result<_, _>>()
        .expect("CSV rows");
    let batches = read(&out);
    let schema = batches.first().expect("at least one batch").schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, header, "--model {model}");
    for field in schema.fields() {
        let name = field.name().as_str();
        let expected = if passthrough.contains(&name) {
            DataType::Utf8
        } else {
            expected_type(name)
        };
        assert_eq!(field.data_type(), &expected, "{name}");
        // Every answer has every field, and a passthrough value is never empty.
        assert!(!field.is_nullable(), "{name}");
    }
    let mut at = 0;
    for batch in &batches {
        for row in 0..batch.num_rows() {
            let record = rows.get(at).expect("as many CSV rows as Parquet rows");
            for (i, column) in batch.columns().iter().enumerate() {
                assert_eq!(
                    as_csv(column.as_ref(), row),
                    record.get(i).unwrap_or_default(),
                    "--model {model}, row {at}, column {}",
                    header[i]
                );
            }
            at += 1;
        }
    }
    assert_eq!(at, rows.len(), "--model {model}");
}

#[test]
fn parquet_answers_are_the_csv_answers_cells_typed_for_every_model() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("clicks.csv");
    crate::helpers::synthetic_clickstream(&data, 300, 11);
    let models = shipped_models();
    for model in ["convert", "revenue", "segment", "all"] {
        same_as_csv(&data, models.path(), model, &[]);
    }
}

/// A shop's passthrough column comes after the answer's, as text, unguarded: a formula
/// is kept as it is.
#[test]
fn a_shops_parquet_answers_carry_passthrough_values_typed_and_unguarded() {
    let shop = crate::shop::trained();
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("shop.csv");
    let formula = "=HYPERLINK(\"x\")";
    let mut seen: Vec<String> = Vec::new();
    crate::shop::clicks_edited(&data, |line| {
        let mut cells: Vec<String> = line.split(',').map(str::to_owned).collect();
        let id = cells[0].clone();
        let place = match seen.iter().position(|s| *s == id) {
            Some(p) => p,
            None if seen.len() < 40 => {
                seen.push(id);
                seen.len() - 1
            }
            None => return None,
        };
        if place == 0 {
            cells[6] = format!("\"{}\"", formula.replace('"', "\"\""));
        }
        Some(cells.join(","))
    });
    for model in ["convert", "revenue", "segment", "all"] {
        same_as_csv(&data, &shop.models, model, &["customer_id"]);
    }
    let out = dir.path().join("a.parquet");
    let run = score(
        &data,
        &shop.models,
        &[
            "--model",
            "convert",
            "--format",
            "parquet",
            "--out",
            path(&out),
        ],
    );
    assert!(run.status.success(), "{}", text(&run.stderr));
    let batches = read(&out);
    let customers: Vec<String> = batches
        .iter()
        .flat_map(|b| {
            let column = b.column(b.num_columns() - 1).as_string::<i32>().clone();
            (0..column.len())
                .map(|i| column.value(i).to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(customers.contains(&formula.to_owned()), "{customers:?}");
}

/// A run that fails leaves the file that was there as it was, and no Parquet half file.
#[test]
fn a_failed_parquet_run_leaves_the_out_file_as_it_was() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("clicks.csv");
    crate::helpers::synthetic_clickstream(&data, 50, 12);
    let mut body = std::fs::read_to_string(&data).expect("read");
    body.push_str("2008;7;1;1;29;zz;1;A13;1;9;1;28;2;1\n");
    std::fs::write(&data, body).expect("write");
    let out = dir.path().join("answers.parquet");
    std::fs::write(&out, "yesterday's answers").expect("write");
    let models = shipped_models();
    let run = score(
        &data,
        models.path(),
        &["--format", "parquet", "--out", path(&out)],
    );
    assert!(!run.status.success());
    assert_eq!(
        std::fs::read_to_string(&out).expect("still there"),
        "yesterday's answers"
    );
    // The data and the old answers: no temporary file left beside them.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}
