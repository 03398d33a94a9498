//! `score --format parquet`: the CSV answer's columns (the same names, in the same order,
//! passthrough columns after the answer's) as typed Parquet columns, written a row group at
//! a time so memory holds one group whatever the file's size. The columns and their types
//! are read off the answer's one definition through the CSV walk
//! ([`csv::typed_columns`], [`csv::typed_row`]): a field added to an answer is a column
//! here as it is in the CSV, with the type its serde form has.
//!
//! Text is written as it is: the formula guard is for spreadsheets opening CSV text, and a
//! Parquet cell is typed data that no spreadsheet runs.

use crate::inference::csv::{self, Cell, Kind};
use arrow_array::builder::{BooleanBuilder, Float64Builder, Int64Builder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use serde::Serialize;
use std::io::Write;
use std::sync::Arc;

/// Answers gathered before they are handed to the writer as one Arrow batch.
const BATCH_ROWS: usize = 8 * 1024;

/// Rows of one Parquet row group: the writer holds a group's encoded pages until it is
/// complete, so this bounds its memory (a few MB at the answers' twenty-odd columns).
const ROW_GROUP_ROWS: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ParquetError {
    #[error("{0}")]
    NotFlat(#[from] csv::NotFlat),
    #[error("column {column:?} has no Parquet type: the default answer leaves it empty, so its type cannot be read off it")]
    Untyped { column: String },
    #[error("column {column:?}: {value} is past the largest Parquet INT64")]
    TooLarge { column: String, value: u64 },
    /// The answer's walk gave cells other than its default's columns: a fault, refused
    /// rather than written wrong.
    #[error("the answer's Parquet row: {0}")]
    Shape(String),
    #[error("writing Parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    #[error("writing Parquet: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
}

/// One column being filled.
enum Column {
    Text(StringBuilder),
    Int(Int64Builder),
    Num(Float64Builder),
    Flag(BooleanBuilder),
}

impl Column {
    fn of(kind: Kind) -> Option<(Column, DataType)> {
        Some(match kind {
            Kind::Text => (Column::Text(StringBuilder::new()), DataType::Utf8),
            // Signed: BigQuery and Spark have no unsigned 64-bit type; versions, persona
            // ids and counts are far below 2^63.
            Kind::Int | Kind::Signed => (Column::Int(Int64Builder::new()), DataType::Int64),
            Kind::Num => (Column::Num(Float64Builder::new()), DataType::Float64),
            Kind::Flag => (Column::Flag(BooleanBuilder::new()), DataType::Boolean),
            Kind::Empty => return None,
        })
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Column::Text(b) => Arc::new(b.finish()),
            Column::Int(b) => Arc::new(b.finish()),
            Column::Num(b) => Arc::new(b.finish()),
            Column::Flag(b) => Arc::new(b.finish()),
        }
    }
}

/// Answers of type `T` written as Parquet to `W`, as they come.
pub struct ParquetAnswers<W: Write + Send> {
    writer: ArrowWriter<W>,
    schema: SchemaRef,
    names: Vec<String>,
    /// The answer's columns.
    columns: Vec<Column>,
    /// The passthrough columns, after the answer's.
    passthrough: Vec<StringBuilder>,
    rows: usize,
}

impl<W: Write + Send> ParquetAnswers<W> {
    /// Starts the file: the answer's columns as `T`'s default reads, then `passthrough`
    /// text columns. None is nullable: a score answer has every field, and a shop's
    /// passthrough value is never empty (its reader refuses an empty one).
    pub fn start<T: Serialize + Default>(
        out: W,
        passthrough: &[String],
    ) -> Result<ParquetAnswers<W>, ParquetError> {
        let mut names = Vec::new();
        let mut columns = Vec::new();
        let mut fields = Vec::new();
        for (name, kind) in csv::typed_columns::<T>()? {
            let Some((column, data_type)) = Column::of(kind) else {
                return Err(ParquetError::Untyped { column: name });
            };
            fields.push(Field::new(&name, data_type, false));
            names.push(name);
            columns.push(column);
        }
        for name in passthrough {
            fields.push(Field::new(name, DataType::Utf8, false));
        }
        let schema = Arc::new(Schema::new(fields));
        let properties = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .build();
        let writer = ArrowWriter::try_new(out, schema.clone(), Some(properties))?;
        Ok(ParquetAnswers {
            writer,
            schema,
            names,
            columns,
            passthrough: passthrough.iter().map(|_| StringBuilder::new()).collect(),
            rows: 0,
        })
    }

    /// One answer with its session's passthrough values (in the order of the names given
    /// to [`ParquetAnswers::start`]).
    pub fn push<T: Serialize>(
        &mut self,
        answer: &T,
        passthrough: &[String],
    ) -> Result<(), ParquetError> {
        let mut at = 0;
        let mut failed = None;
        let (columns, names) = (&mut self.columns, &self.names);
        csv::typed_row(answer, &mut |cell| {
            if failed.is_some() {
                return;
            }
            let column = names.get(at).map_or("", String::as_str);
            failed = append(columns.get_mut(at), cell, column).err();
            at += 1;
        })?;
        if let Some(err) = failed {
            return Err(err);
        }
        if at != self.columns.len() {
            return Err(ParquetError::Shape(format!(
                "{at} cells for {} columns",
                self.columns.len()
            )));
        }
        if passthrough.len() != self.passthrough.len() {
            return Err(ParquetError::Shape(format!(
                "{} passthrough values for {} columns",
                passthrough.len(),
                self.passthrough.len()
            )));
        }
        for (column, value) in self.passthrough.iter_mut().zip(passthrough) {
            column.append_value(value);
        }
        self.rows += 1;
        if self.rows == BATCH_ROWS {
            self.write_batch()?;
        }
        Ok(())
    }

    fn write_batch(&mut self) -> Result<(), ParquetError> {
        if self.rows == 0 {
            return Ok(());
        }
        let mut arrays: Vec<ArrayRef> = self.columns.iter_mut().map(Column::finish).collect();
        arrays.extend(
            self.passthrough
                .iter_mut()
                .map(|b| Arc::new(b.finish()) as ArrayRef),
        );
        let batch = RecordBatch::try_new(self.schema.clone(), arrays)?;
        self.writer.write(&batch)?;
        self.rows = 0;
        Ok(())
    }

    /// Writes what is left and the footer; the writer, to flush.
    pub fn finish(mut self) -> Result<W, ParquetError> {
        self.write_batch()?;
        Ok(self.writer.into_inner()?)
    }
}

/// Appends one cell to its column; a cell of another kind than the column's is the
/// answer's walk disagreeing with its default, which is refused, never written wrong.
fn append(column: Option<&mut Column>, cell: Cell<'_>, name: &str) -> Result<(), ParquetError> {
    let mismatch = || {
        ParquetError::Shape(format!(
            "column {name:?}: a {:?} cell where the default answer has another kind",
            cell.kind()
        ))
    };
    match (column, cell) {
        (Some(Column::Text(b)), Cell::Text(t)) => b.append_value(t),
        (Some(Column::Int(b)), Cell::Int(v)) => {
            let v = i64::try_from(v).map_err(|_| ParquetError::TooLarge {
                column: name.to_owned(),
                value: v,
            })?;
            b.append_value(v)
        }
        (Some(Column::Int(b)), Cell::Signed(v)) => b.append_value(v),
        (Some(Column::Num(b)), Cell::Num(v)) => b.append_value(v),
        (Some(Column::Flag(b)), Cell::Flag(v)) => b.append_value(v),
        _ => return Err(mismatch()),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inference::answer::{ConvertOutput, RevenueOutput, ScoreOutput, SegmentOutput};

    fn types<T: Serialize + Default>() -> Vec<(String, DataType)> {
        let answers = ParquetAnswers::start::<T>(Vec::new(), &["customer_id".to_owned()])
            .expect("every column of an answer has a Parquet type");
        answers
            .schema
            .fields()
            .iter()
            .map(|f| (f.name().clone(), f.data_type().clone()))
            .collect()
    }

    #[test]
    fn every_answers_columns_have_the_csv_names_and_a_type() {
        for (columns, csv) in [
            (types::<ConvertOutput>(), csv::columns::<ConvertOutput>()),
            (types::<RevenueOutput>(), csv::columns::<RevenueOutput>()),
            (types::<SegmentOutput>(), csv::columns::<SegmentOutput>()),
            (types::<ScoreOutput>(), csv::columns::<ScoreOutput>()),
        ] {
            let mut csv = csv.expect("flat");
            csv.push("customer_id".into());
            let names: Vec<String> = columns.iter().map(|(n, _)| n.clone()).collect();
            assert_eq!(names, csv);
        }
        let convert = types::<ConvertOutput>();
        let of = |name: &str| {
            convert
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, t)| t.clone())
        };
        assert_eq!(of("model_version"), Some(DataType::Int64));
        assert_eq!(of("probability"), Some(DataType::Float64));
        assert_eq!(of("will_convert"), Some(DataType::Boolean));
        assert_eq!(of("tier"), Some(DataType::Utf8));
    }

    #[test]
    fn a_row_with_missing_passthrough_values_is_refused_not_written_short() {
        let mut answers =
            ParquetAnswers::start::<ConvertOutput>(Vec::new(), &["customer_id".to_owned()])
                .expect("typed");
        let err = answers
            .push(&ConvertOutput::default(), &[])
            .expect_err("one value short");
        assert!(matches!(err, ParquetError::Shape(_)), "{err}");
    }
}
