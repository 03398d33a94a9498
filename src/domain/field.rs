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
}

/// Maps the integer codes of a categorical column to an enum, both ways.
macro_rules! coded_enum {
    ($(#[$meta:meta])* $name:ident => { $($variant:ident = $code:expr, $label:expr;)+ }) => {
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

            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
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
    Trousers = 1, "trousers";
    Skirts = 2, "skirts";
    Blouses = 3, "blouses";
    Sale = 4, "sale";
});

coded_enum!(Colour => {
    Beige = 1, "beige";
    Black = 2, "black";
    Blue = 3, "blue";
    Brown = 4, "brown";
    Burgundy = 5, "burgundy";
    Gray = 6, "gray";
    Green = 7, "green";
    NavyBlue = 8, "navy blue";
    ManyColours = 9, "of many colors";
    Olive = 10, "olive";
    Pink = 11, "pink";
    Red = 12, "red";
    Violet = 13, "violet";
    White = 14, "white";
});

coded_enum!(
    /// Where the product photo sits on the screen (six parts).
    Location => {
    TopLeft = 1, "top left";
    TopMiddle = 2, "top in the middle";
    TopRight = 3, "top right";
    BottomLeft = 4, "bottom left";
    BottomMiddle = 5, "bottom in the middle";
    BottomRight = 6, "bottom right";
});

coded_enum!(Photography => {
    EnFace = 1, "en face";
    Profile = 2, "profile";
});

/// Country of each code, 1..=47, as `docs/codes.md` gives them (12 is unidentified; 43-47
/// are top-level domains).
pub(crate) const COUNTRY_NAMES: [&str; 47] = [
    "Australia",
    "Austria",
    "Belgium",
    "British Virgin Islands",
    "Cayman Islands",
    "Christmas Island",
    "Croatia",
    "Cyprus",
    "Czech Republic",
    "Denmark",
    "Estonia",
    "unidentified",
    "Faroe Islands",
    "Finland",
    "France",
    "Germany",
    "Greece",
    "Hungary",
    "Iceland",
    "India",
    "Ireland",
    "Italy",
    "Latvia",
    "Lithuania",
    "Luxembourg",
    "Mexico",
    "Netherlands",
    "Norway",
    "Poland",
    "Portugal",
    "Romania",
    "Russia",
    "San Marino",
    "Slovakia",
    "Slovenia",
    "Spain",
    "Sweden",
    "Switzerland",
    "Ukraine",
    "United Arab Emirates",
    "United Kingdom",
    "USA",
    "biz (*.biz)",
    "com (*.com)",
    "int (*.int)",
    "net (*.net)",
    "org (*.org)",
];
