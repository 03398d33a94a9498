//! The click's columns by name, and the typed vocabularies of its coded columns: the
//! lowest layer of the domain, which the click table and the click parsers both read.

/// A click column, named as in the snake_case copies of the data (and in the HTTP API).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    Year,
    Month,
    Day,
    Order,
    Country,
    SessionId,
    Category,
    Product,
    Colour,
    Location,
    Photography,
    Price,
    Price2,
    Page,
}

impl Field {
    pub const ALL: [Field; 14] = [
        Field::Year,
        Field::Month,
        Field::Day,
        Field::Order,
        Field::Country,
        Field::SessionId,
        Field::Category,
        Field::Product,
        Field::Colour,
        Field::Location,
        Field::Photography,
        Field::Price,
        Field::Price2,
        Field::Page,
    ];

    /// The typed member a row of the UCI schema fills, by its API name: the names of
    /// [`super::RawClick`]'s members, which `tests/api/click_table.rs` holds to the table.
    pub fn from_name(name: &str) -> Option<Field> {
        Some(match name {
            "year" => Field::Year,
            "month" => Field::Month,
            "day" => Field::Day,
            "order" => Field::Order,
            "country" => Field::Country,
            "session_id" => Field::SessionId,
            "page1_main_category" => Field::Category,
            "page2_clothing_model" => Field::Product,
            "colour" => Field::Colour,
            "location" => Field::Location,
            "model_photography" => Field::Photography,
            "price" => Field::Price,
            "price_2" => Field::Price2,
            "page" => Field::Page,
            _ => return None,
        })
    }
}

/// Maps the integer codes of a categorical column to an enum, both ways.
macro_rules! coded_enum {
    ($(#[$meta:meta])* $name:ident => { $($variant:ident = $code:expr;)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The value of a code, if it is one of the column's.
            pub fn from_code(code: i64) -> Option<Self> {
                match code {
                    $($code => Some($name::$variant),)+
                    _ => None,
                }
            }

            pub fn code(self) -> i64 {
                match self { $($name::$variant => $code),+ }
            }


            /// Position in [`Self::ALL`], for one-hot encodings.
            pub fn index(self) -> usize {
                self as usize
            }
        }
    };
}

coded_enum!(
    /// Main category of the page (`page 1 (main category)`).
    Category => {
    Trousers = 1;
    Skirts = 2;
    Blouses = 3;
    Sale = 4;
});

coded_enum!(Colour => {
    Beige = 1;
    Black = 2;
    Blue = 3;
    Brown = 4;
    Burgundy = 5;
    Gray = 6;
    Green = 7;
    NavyBlue = 8;
    ManyColours = 9;
    Olive = 10;
    Pink = 11;
    Red = 12;
    Violet = 13;
    White = 14;
});

coded_enum!(
    /// Where the product photo sits on the screen (six parts).
    Location => {
    TopLeft = 1;
    TopMiddle = 2;
    TopRight = 3;
    BottomLeft = 4;
    BottomMiddle = 5;
    BottomRight = 6;
});

coded_enum!(Photography => {
    EnFace = 1;
    Profile = 2;
});
