//! The UCI shop's click table, read from `schemas/uci.toml`, and what the typed UCI click's
//! columns ask of it: names, allowed text, the meaning of each code.

use super::field::{Category, Colour, Field, Location, Photography};
use super::schema::{ClickSchema, FieldSpec};
use super::schema_file::{SchemaFile, UCI_FILE};
use std::fmt;
use std::sync::LazyLock;

/// The UCI shop's click (e-shop clothing 2008), the fields in its file's column order, as
/// `schemas/uci.toml` declares it.
pub static UCI: LazyLock<ClickSchema> = LazyLock::new(|| {
    // The file is compiled in and a test reads it the same way: it cannot fail at run time
    // unless the build itself is broken.
    SchemaFile::parse(UCI_FILE)
        .and_then(|file| file.table(Field::from_name))
        .unwrap_or_else(|e| panic!("schemas/uci.toml, compiled in, is invalid: {e}"))
});

/// What a code of a coded UCI column means, from the table; "unknown" for a code it lacks.
pub fn meaning(field: Field, code: i64) -> &'static str {
    UCI.spec(field)
        .and_then(FieldSpec::codes)
        .and_then(|codes| codes.iter().find(|c| c.code == code))
        .map_or("unknown", |c| c.meaning.as_ref())
}

/// Each coded column's labels, from the table.
macro_rules! labels {
    ($($name:ident in $field:expr;)+) => {$(
        impl $name {
            /// What the code means, as the shop's schema file says.
            pub fn label(self) -> &'static str {
                meaning($field, self.code())
            }
        }
    )+};
}

labels! {
    Category in Field::Category;
    Colour in Field::Colour;
    Location in Field::Location;
    Photography in Field::Photography;
}

/// What the rest of the crate asks of a column, read from the UCI table.
impl Field {
    /// The field's row in the click table.
    fn spec(self) -> Option<&'static FieldSpec> {
        UCI.spec(self)
    }

    /// The name in the API and in the snake_case copies of the data.
    pub fn name(self) -> &'static str {
        self.spec().map_or("?", |s| s.name.as_ref())
    }

    /// The header the UCI file uses for this column.
    pub fn original_name(self) -> &'static str {
        self.spec().map_or("?", |s| s.header.as_ref())
    }

    /// What the column accepts, in words a user can act on.
    pub fn allowed(self) -> String {
        self.spec().map_or_else(String::new, FieldSpec::allowed)
    }

    /// What each code of a coded column means: the one source of the code tables in
    /// `docs/codes.md`, the console and the OpenAPI document. `None` for columns holding
    /// plain values.
    pub fn codes(self) -> Option<Vec<(i64, &'static str)>> {
        let codes = self.spec()?.codes()?;
        Some(codes.iter().map(|c| (c.code, c.meaning.as_ref())).collect())
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::schema::{Example, FieldSpec};

    #[test]
    fn the_uci_table_holds_every_typed_member_once_in_column_order() {
        let fields: Vec<Field> = UCI.fields.iter().map(|s| s.field).collect();
        assert_eq!(fields, Field::ALL);
        for field in Field::ALL {
            assert_eq!(UCI.spec(field).map(|s| s.field), Some(field));
        }
    }

    #[test]
    fn allowed_texts_come_from_the_rules() {
        let allowed = |f: Field| UCI.spec(f).map(FieldSpec::allowed).unwrap_or_default();
        assert_eq!(allowed(Field::Order), "an integer from 1 to 100000");
        assert_eq!(
            allowed(Field::Colour),
            "an integer colour code from 1 to 14"
        );
        assert_eq!(
            allowed(Field::Category),
            "1 (trousers), 2 (skirts), 3 (blouses) or 4 (sale)"
        );
        assert_eq!(
            allowed(Field::Price),
            "a price in US dollars greater than 0 and at most 100000"
        );
        assert_eq!(
            allowed(Field::Product),
            "a product code: one letter A, B, C or P followed by 1 to 3 digits, e.g. A13"
        );
        assert_eq!(
            allowed(Field::SessionId),
            "a non-empty identifier of at most 64 characters"
        );
        assert_eq!(
            allowed(Field::Day),
            "an integer day from 1 to 31 that exists in its month"
        );
    }

    #[test]
    fn every_example_is_admitted_by_its_own_rule() {
        for spec in &UCI.fields {
            let ok = match &spec.example {
                Example::Whole(v) => spec.admits_whole(*v),
                Example::Number(v) => spec.admits_number(*v),
                Example::Text(v) => spec.admits_length(v),
            };
            assert!(ok, "{}: {}", spec.name, spec.example);
        }
    }
}
