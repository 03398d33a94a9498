//! The CSV form of an answer, derived from its serde form: [`columns`] and [`row`] walk the
//! same `Serialize` implementation the JSON answer is written with, so a field added to an
//! answer is a column under its JSON name, in its JSON place, with no second list to keep.
//! A nested answer's fields are dotted (`convert.probability`); every text cell goes through
//! the formula guard ([`CsvRecord::text`]); numbers are written as the answers always wrote
//! them.

use serde::ser::{self, Impossible, Serialize};
use std::borrow::Cow;
use std::fmt;

/// A CSV answer's cells: the JSON answer's fields under their JSON names, in the same
/// order; a nested answer's fields are dotted (`convert.probability`). Numbers are written
/// as serde_json writes them, so a cell and its JSON value read back the same.
///
/// Text cells go through [`guard_formula`] unless the record was made with
/// [`FormulaGuard::Off`]: a session id or a persona name is the client's or the trainer's
/// text, and a spreadsheet opening the answer would run one beginning with `=`.
pub struct CsvRecord {
    cells: csv::StringRecord,
    guard: FormulaGuard,
}

/// Whether the text cells of a CSV answer are kept from running as spreadsheet formulas.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FormulaGuard {
    /// Text beginning with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading
    /// `'` (OWASP's advice for CSV injection); cells that read as numbers are kept.
    #[default]
    On,
    /// Cells as they are, for programs that read the answer (`CSV_FORMULA_GUARD=false`).
    Off,
}

impl FormulaGuard {
    pub fn from_setting(on: bool) -> FormulaGuard {
        if on {
            FormulaGuard::On
        } else {
            FormulaGuard::Off
        }
    }
}

/// A text cell a spreadsheet would not run: OWASP's list of characters that start a
/// formula (or, for tab and carriage return, hide one behind whitespace), neutralised
/// with a leading `'`, which spreadsheets show as text and drop. A cell that is a plain
/// number (`-12`, `+3.5`) is a value to a spreadsheet, not a formula, and is kept as sent.
pub fn guard_formula(cell: &str) -> Cow<'_, str> {
    match cell.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') if !plain_number(cell) => {
            Cow::Owned(format!("'{cell}"))
        }
        _ => Cow::Borrowed(cell),
    }
}

/// A decimal number as spreadsheets read one: a sign, digits with at most one point, and
/// an exponent. Rust's own parser takes `inf` and `NaN` too, which a spreadsheet would
/// read as a formula naming a function.
fn plain_number(text: &str) -> bool {
    let rest = text.strip_prefix(['+', '-']).unwrap_or(text);
    let (mantissa, exponent) = match rest.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e.strip_prefix(['+', '-']).unwrap_or(e))),
        None => (rest, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some((whole, frac)) => {
            (digits(whole) || whole.is_empty())
                && (digits(frac) || frac.is_empty())
                && !(whole.is_empty() && frac.is_empty())
        }
        None => digits(mantissa),
    };
    mantissa_ok && exponent.is_none_or(digits)
}

impl CsvRecord {
    pub fn new(guard: FormulaGuard) -> CsvRecord {
        CsvRecord {
            cells: csv::StringRecord::new(),
            guard,
        }
    }

    /// The one way text reaches a CSV answer.
    pub fn text(&mut self, value: &str) -> &mut Self {
        match self.guard {
            FormulaGuard::On => self.cells.push_field(&guard_formula(value)),
            FormulaGuard::Off => self.cells.push_field(value),
        }
        self
    }

    pub fn int(&mut self, value: impl Into<u64>) -> &mut Self {
        self.cells.push_field(&value.into().to_string());
        self
    }

    pub fn num(&mut self, value: f64) -> &mut Self {
        // `{:?}` is the shortest text that reads back as the same f64, with `.0` on whole
        // numbers, as in JSON.
        self.cells.push_field(&format!("{value:?}"));
        self
    }

    pub fn flag(&mut self, value: bool) -> &mut Self {
        self.cells.push_field(if value { "true" } else { "false" });
        self
    }

    /// An empty cell (a left-out session's answer columns).
    pub fn empty(&mut self) -> &mut Self {
        self.cells.push_field("");
        self
    }

    /// The cells, to write.
    pub fn into_inner(self) -> csv::StringRecord {
        self.cells
    }
}

/// Why an answer has no flat CSV form: a list (an explanation) or a map with keys that
/// are not text. Explanations are refused before a CSV answer is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotFlat(String);

impl fmt::Display for NotFlat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no CSV form: {}", self.0)
    }
}

impl std::error::Error for NotFlat {}

impl ser::Error for NotFlat {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        NotFlat(msg.to_string())
    }
}

/// The CSV columns of an answer type: the names its serialisation gives, read off its
/// default value. A field skipped when empty (`explanation`) has no column.
pub fn columns<T: Serialize + Default>() -> Result<Vec<String>, NotFlat> {
    Ok(typed_columns::<T>()?
        .into_iter()
        .map(|(name, _)| name)
        .collect())
}

/// [`columns`] with the kind of value each holds, read off the same default answer: what a
/// typed format (`score --format parquet`) stores each column as.
pub fn typed_columns<T: Serialize + Default>() -> Result<Vec<(String, Kind)>, NotFlat> {
    let mut names = Names(Vec::new());
    T::default().serialize(Flat {
        sink: &mut names,
        prefix: "",
        depth: 0,
    })?;
    Ok(names.0)
}

/// Gives an answer's cells, typed, one per column of [`typed_columns`], to `each`: the same
/// walk as [`row`], before any cell is text.
pub fn typed_row<T: Serialize>(answer: &T, each: &mut impl FnMut(Cell<'_>)) -> Result<(), NotFlat> {
    answer.serialize(Flat {
        sink: &mut Typed(each),
        prefix: "",
        depth: 0,
    })
}

/// Appends an answer's cells to `record`, one per column of [`columns`].
pub fn row<T: Serialize>(answer: &T, record: &mut CsvRecord) -> Result<(), NotFlat> {
    answer.serialize(Flat {
        sink: record,
        prefix: "",
        depth: 0,
    })
}

/// One value of a flat row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'a> {
    Text(&'a str),
    Int(u64),
    Signed(i64),
    Num(f64),
    Flag(bool),
    Empty,
}

/// The kind of a [`Cell`], without its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Int,
    Signed,
    Num,
    Flag,
    Empty,
}

impl Cell<'_> {
    pub fn kind(&self) -> Kind {
        match self {
            Cell::Text(_) => Kind::Text,
            Cell::Int(_) => Kind::Int,
            Cell::Signed(_) => Kind::Signed,
            Cell::Num(_) => Kind::Num,
            Cell::Flag(_) => Kind::Flag,
            Cell::Empty => Kind::Empty,
        }
    }
}

/// Where the walk goes: cells into a record, or the names of the columns.
trait Sink {
    /// Whether the walk spells out column names (only the header needs them).
    const NAMES: bool;
    fn cell(&mut self, name: Option<String>, cell: Cell<'_>);
}

impl Sink for CsvRecord {
    const NAMES: bool = false;
    fn cell(&mut self, _: Option<String>, cell: Cell<'_>) {
        match cell {
            Cell::Text(t) => {
                self.text(t);
            }
            Cell::Int(i) => {
                self.int(i);
            }
            Cell::Signed(i) => {
                self.cells.push_field(&i.to_string());
            }
            Cell::Num(x) => {
                self.num(x);
            }
            Cell::Flag(b) => {
                self.flag(b);
            }
            Cell::Empty => {
                self.empty();
            }
        }
    }
}

struct Names(Vec<(String, Kind)>);

impl Sink for Names {
    const NAMES: bool = true;
    fn cell(&mut self, name: Option<String>, cell: Cell<'_>) {
        self.0.extend(name.map(|n| (n, cell.kind())));
    }
}

struct Typed<'f, F>(&'f mut F);

impl<F: FnMut(Cell<'_>)> Sink for Typed<'_, F> {
    const NAMES: bool = false;
    fn cell(&mut self, _: Option<String>, cell: Cell<'_>) {
        (self.0)(cell)
    }
}

/// The serializer of one value at its place in the row: at depth 0 the answer itself, at
/// depth 1 a field of it (or of an answer flattened into it), at depth 2 a field of a
/// nested answer (`/score`'s `convert`, ...).
struct Flat<'s, 'p, S: Sink> {
    sink: &'s mut S,
    /// The column name of this value, or the prefix of its fields' (`convert.`).
    prefix: &'p str,
    depth: u8,
}

impl<'s, S: Sink> Flat<'s, '_, S> {
    fn put(self, cell: Cell<'_>) -> Result<(), NotFlat> {
        if self.depth == 0 {
            return Err(NotFlat("an answer is a record, not a single value".into()));
        }
        let name = S::NAMES.then(|| self.prefix.to_owned());
        self.sink.cell(name, cell);
        Ok(())
    }

    fn fields(self) -> Result<Fields<'s, S>, NotFlat> {
        if self.depth >= 2 {
            return Err(NotFlat(format!("{} nests too deep", self.prefix)));
        }
        let prefix = match (self.depth, S::NAMES) {
            (1, true) => format!("{}.", self.prefix),
            _ => String::new(),
        };
        Ok(Fields {
            sink: self.sink,
            prefix,
            depth: self.depth + 1,
            key: String::new(),
        })
    }
}

/// The fields of a record (a struct, or the map serde makes of a struct with a flattened
/// field), each becoming its columns.
struct Fields<'s, S: Sink> {
    sink: &'s mut S,
    prefix: String,
    depth: u8,
    /// The key of the map entry whose value comes next.
    key: String,
}

impl<S: Sink> Fields<'_, S> {
    fn field<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result<(), NotFlat> {
        // A nested answer's own `session_id` is the row's: one column stands for both.
        if self.depth == 2 && key == "session_id" {
            return Ok(());
        }
        let name = if S::NAMES {
            Cow::Owned(format!("{}{key}", self.prefix))
        } else {
            Cow::Borrowed("")
        };
        value.serialize(Flat {
            sink: &mut *self.sink,
            prefix: &name,
            depth: self.depth,
        })
    }
}

impl<S: Sink> ser::SerializeStruct for Fields<'_, S> {
    type Ok = ();
    type Error = NotFlat;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), NotFlat> {
        self.field(key, value)
    }

    fn end(self) -> Result<(), NotFlat> {
        Ok(())
    }
}

impl<S: Sink> ser::SerializeMap for Fields<'_, S> {
    type Ok = ();
    type Error = NotFlat;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), NotFlat> {
        self.key.clear();
        key.serialize(Key(&mut self.key))
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), NotFlat> {
        let key = std::mem::take(&mut self.key);
        let done = self.field(&key, value);
        self.key = key;
        done
    }

    fn end(self) -> Result<(), NotFlat> {
        Ok(())
    }
}

fn not_flat<T>(what: &str) -> Result<T, NotFlat> {
    Err(NotFlat(format!("{what} has no cell")))
}

impl<'s, 'p, S: Sink> ser::Serializer for Flat<'s, 'p, S> {
    type Ok = ();
    type Error = NotFlat;
    type SerializeSeq = Impossible<(), NotFlat>;
    type SerializeTuple = Impossible<(), NotFlat>;
    type SerializeTupleStruct = Impossible<(), NotFlat>;
    type SerializeTupleVariant = Impossible<(), NotFlat>;
    type SerializeMap = Fields<'s, S>;
    type SerializeStruct = Fields<'s, S>;
    type SerializeStructVariant = Impossible<(), NotFlat>;

    fn serialize_bool(self, v: bool) -> Result<(), NotFlat> {
        self.put(Cell::Flag(v))
    }
    fn serialize_i8(self, v: i8) -> Result<(), NotFlat> {
        self.put(Cell::Signed(v.into()))
    }
    fn serialize_i16(self, v: i16) -> Result<(), NotFlat> {
        self.put(Cell::Signed(v.into()))
    }
    fn serialize_i32(self, v: i32) -> Result<(), NotFlat> {
        self.put(Cell::Signed(v.into()))
    }
    fn serialize_i64(self, v: i64) -> Result<(), NotFlat> {
        self.put(Cell::Signed(v))
    }
    fn serialize_u8(self, v: u8) -> Result<(), NotFlat> {
        self.put(Cell::Int(v.into()))
    }
    fn serialize_u16(self, v: u16) -> Result<(), NotFlat> {
        self.put(Cell::Int(v.into()))
    }
    fn serialize_u32(self, v: u32) -> Result<(), NotFlat> {
        self.put(Cell::Int(v.into()))
    }
    fn serialize_u64(self, v: u64) -> Result<(), NotFlat> {
        self.put(Cell::Int(v))
    }
    fn serialize_f32(self, v: f32) -> Result<(), NotFlat> {
        self.put(Cell::Num(v.into()))
    }
    fn serialize_f64(self, v: f64) -> Result<(), NotFlat> {
        self.put(Cell::Num(v))
    }
    fn serialize_char(self, v: char) -> Result<(), NotFlat> {
        self.put(Cell::Text(v.encode_utf8(&mut [0; 4])))
    }
    fn serialize_str(self, v: &str) -> Result<(), NotFlat> {
        self.put(Cell::Text(v))
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<(), NotFlat> {
        not_flat("a byte string")
    }
    fn serialize_none(self) -> Result<(), NotFlat> {
        self.put(Cell::Empty)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), NotFlat> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), NotFlat> {
        self.put(Cell::Empty)
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), NotFlat> {
        self.put(Cell::Empty)
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), NotFlat> {
        // The variant as serde spells it (`rename_all`), as in the JSON answer.
        self.put(Cell::Text(variant))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), NotFlat> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), NotFlat> {
        not_flat("an enum with data")
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, NotFlat> {
        not_flat(&format!("the list {}", self.prefix))
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, NotFlat> {
        not_flat("a tuple")
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, NotFlat> {
        not_flat("a tuple")
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, NotFlat> {
        not_flat("an enum with data")
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Fields<'s, S>, NotFlat> {
        self.fields()
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Fields<'s, S>, NotFlat> {
        self.fields()
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, NotFlat> {
        not_flat("an enum with data")
    }
}

/// A map key, as text.
struct Key<'a>(&'a mut String);

impl ser::Serializer for Key<'_> {
    type Ok = ();
    type Error = NotFlat;
    type SerializeSeq = Impossible<(), NotFlat>;
    type SerializeTuple = Impossible<(), NotFlat>;
    type SerializeTupleStruct = Impossible<(), NotFlat>;
    type SerializeTupleVariant = Impossible<(), NotFlat>;
    type SerializeMap = Impossible<(), NotFlat>;
    type SerializeStruct = Impossible<(), NotFlat>;
    type SerializeStructVariant = Impossible<(), NotFlat>;

    fn serialize_str(self, v: &str) -> Result<(), NotFlat> {
        self.0.push_str(v);
        Ok(())
    }
    fn serialize_bool(self, _: bool) -> Result<(), NotFlat> {
        not_flat("a key that is not text")
    }
    fn serialize_i8(self, _: i8) -> Result<(), NotFlat> {
        not_flat("a key that is not text")
    }
    fn serialize_i16(self, _: i16) -> Result<(), NotFlat> {
        not_flat("a key that is not text")
    }
    fn serialize_i32(self, _: i32) -> Result<(), NotFlat> {
        not_flat("a key that is not text")
    }
    fn serialize_i64(self, _: i64) -> Result<(), NotFlat> {
        not_flat("a key that is not text")
    }
    fn serialize_u8(self, _: u8) -> Result<(), NotFlat> {
        not_flat("a key that is not text")
    }
    fn serialize_u16(self, _: u16) -> Result<(), NotFlat> {
        not_flat("a key that is not text")
    }
    fn serialize_u32(self, _: u32) -> Result<(), NotFlat> {
        not_flat("a key that is not text")
    }
    fn serialize_u64(self, _: u64) -> Result<(), NotFlat> {
        not_flat("a key that is not text")
    }
    fn serialize_f32(self, _: f32) -> Result<(), NotFlat> {
        not_flat("a key that is not text")
    }
    fn serialize_f64(self, _: f64) -> Result<(), NotFlat> {
        not_flat("a key that is not text")
    }
    fn serialize_char(self, v: char) -> Result<(), NotFlat> {
        self.0.push(v);
        Ok(())
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<(), NotFlat> {
        not_flat("a key that is not text")
    }
    fn serialize_none(self) -> Result<(), NotFlat> {
        not_flat("a key that is not text")
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<(), NotFlat> {
        not_flat("a key that is not text")
    }
    fn serialize_unit(self) -> Result<(), NotFlat> {
        not_flat("a key that is not text")
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), NotFlat> {
        not_flat("a key that is not text")
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), NotFlat> {
        self.0.push_str(variant);
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), NotFlat> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), NotFlat> {
        not_flat("a key that is not text")
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, NotFlat> {
        not_flat("a key that is not text")
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, NotFlat> {
        not_flat("a key that is not text")
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, NotFlat> {
        not_flat("a key that is not text")
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, NotFlat> {
        not_flat("a key that is not text")
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, NotFlat> {
        not_flat("a key that is not text")
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, NotFlat> {
        not_flat("a key that is not text")
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, NotFlat> {
        not_flat("a key that is not text")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_that_starts_a_formula_is_neutralised_and_numbers_are_kept() {
        for (cell, written) in [
            ("=1+1", "'=1+1"),
            ("+1+1", "'+1+1"),
            ("-1+1", "'-1+1"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("-inf", "'-inf"),
            ("+NaN", "'+NaN"),
            ("-", "'-"),
            ("-.", "'-."),
            ("-2", "-2"),
            ("+3.5", "+3.5"),
            ("-.5e-3", "-.5e-3"),
            ("-1.", "-1."),
            ("a=1", "a=1"),
            ("", ""),
        ] {
            assert_eq!(guard_formula(cell), written, "{cell:?}");
        }
        let mut guarded = CsvRecord::new(FormulaGuard::On);
        guarded.text("=x").num(-0.5).int(3u32);
        let mut raw = CsvRecord::new(FormulaGuard::Off);
        raw.text("=x");
        assert_eq!(
            guarded.into_inner().iter().collect::<Vec<_>>(),
            ["'=x", "-0.5", "3"]
        );
        assert_eq!(raw.into_inner().iter().collect::<Vec<_>>(), ["=x"]);
    }
}
