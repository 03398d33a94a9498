pub use super::field::{Category, Colour, Field, Location, Photography};
use super::schema::Rule;
use super::uci::UCI;
use chrono::{Datelike, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::LazyLock;

/// The click fields as they arrive from outside, before any domain check. Numbers are
/// wide on purpose so that an out-of-range value reaches [`Click::parse`] and gets a
/// domain error naming the field, instead of a type error from the decoder. The product
/// code may be borrowed (`RawClick<&str>`) so a request body is checked without copies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClick<S = String> {
    pub year: i64,
    pub month: i64,
    pub day: i64,
    pub order: i64,
    pub country: i64,
    pub page1_main_category: i64,
    pub page2_clothing_model: S,
    pub colour: i64,
    pub location: i64,
    pub model_photography: i64,
    pub price: f64,
    pub price_2: i64,
    pub page: i64,
}

impl<S> RawClick<S> {
    /// The same click with its text member changed (a borrowed code owned, say).
    pub fn map_text<T>(self, f: impl FnOnce(S) -> T) -> RawClick<T> {
        RawClick {
            year: self.year,
            month: self.month,
            day: self.day,
            order: self.order,
            country: self.country,
            page1_main_category: self.page1_main_category,
            page2_clothing_model: f(self.page2_clothing_model),
            colour: self.colour,
            location: self.location,
            model_photography: self.model_photography,
            price: self.price,
            price_2: self.price_2,
            page: self.page,
        }
    }

    /// Sets the whole-number member of `field`; false when it holds no whole number.
    pub fn set_whole(&mut self, field: Field, value: i64) -> bool {
        let member = match field {
            Field::Year => &mut self.year,
            Field::Month => &mut self.month,
            Field::Day => &mut self.day,
            Field::Order => &mut self.order,
            Field::Country => &mut self.country,
            Field::Category => &mut self.page1_main_category,
            Field::Colour => &mut self.colour,
            Field::Location => &mut self.location,
            Field::Photography => &mut self.model_photography,
            Field::Price2 => &mut self.price_2,
            Field::Page => &mut self.page,
            Field::SessionId | Field::Product | Field::Price => return false,
        };
        *member = value;
        true
    }

    /// Sets the number member of `field`; false when it holds no number.
    pub fn set_number(&mut self, field: Field, value: f64) -> bool {
        match field {
            Field::Price => {
                self.price = value;
                true
            }
            _ => false,
        }
    }

    /// Sets the text member of `field`; false when it holds no text.
    pub fn set_text(&mut self, field: Field, value: S) -> bool {
        match field {
            Field::Product => {
                self.page2_clothing_model = value;
                true
            }
            _ => false,
        }
    }
}

impl Field {
    /// Whether a whole number is in the column's range or vocabulary, as the table says.
    // Inlined into `Click::parse`, where it runs for most fields of every click; the
    // table's other rules stay out of line.
    #[inline(always)]
    fn admits(self, value: i64) -> bool {
        match CHECKS.get(self as usize) {
            Some(Check::Wholes(min, max)) => *min <= value && value <= *max,
            _ => self.admits_by_table(value as f64, Some(value)),
        }
    }

    /// Whether a number is in the column's range, as the table says.
    #[inline(always)]
    fn admits_number(self, value: f64) -> bool {
        match CHECKS.get(self as usize) {
            Some(Check::Number(above, max)) => value.is_finite() && value > *above && value <= *max,
            _ => self.admits_by_table(value, None),
        }
    }

    #[cold]
    #[inline(never)]
    fn admits_by_table(self, number: f64, whole: Option<i64>) -> bool {
        UCI.spec(self).is_some_and(|s| match whole {
            Some(value) => s.admits_whole(value),
            None => s.admits_number(number),
        })
    }
}

/// A column's check as plain bounds, when the table's rule is a run of whole numbers (a
/// range, or codes with no gap) or a range of numbers; other rules are read from the table.
#[derive(Clone, Copy)]
enum Check {
    Wholes(i64, i64),
    Number(f64, f64),
    Table,
}

/// Each column's check, from the table: read for every field of every click, so found once.
static CHECKS: LazyLock<[Check; Field::ALL.len()]> = LazyLock::new(|| {
    Field::ALL.map(|f| match UCI.spec(f) {
        Some(spec) => match (spec.run_of_wholes(), &spec.rule) {
            (Some((min, max)), _) => Check::Wholes(min, max),
            (None, Rule::Number { above, max }) => Check::Number(*above, *max),
            _ => Check::Table,
        },
        None => Check::Table,
    })
});

/// One field that failed its domain check.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    pub field: Field,
    pub value: String,
    /// Why this value in particular fails, when the field's rule alone does not say
    /// (31 June: "June has 30 days").
    pub note: Option<String>,
}

impl FieldError {
    pub fn new(field: Field, value: impl ToString) -> Self {
        Self {
            field,
            value: value.to_string(),
            note: None,
        }
    }

    /// What was expected, in the API's words: the field's rule, and the note if any.
    pub fn expected(&self) -> String {
        match &self.note {
            Some(note) => format!("{} ({note})", self.field.allowed()),
            None => self.field.allowed().to_owned(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: got {:?}, expected {}",
            self.field,
            self.value,
            self.expected()
        )
    }
}

/// Country code of the IP address, 1..=47 (see `docs/codes.md`; 29 is Poland).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Country(u8);

impl Country {
    pub const POLAND: Country = Country(29);
    pub const CZECH_REPUBLIC: Country = Country(9);
    pub const LITHUANIA: Country = Country(24);
    pub const NET: Country = Country(46);
    pub const COM: Country = Country(44);

    pub fn parse(code: i64) -> Result<Self, FieldError> {
        match u8::try_from(code) {
            Ok(c) if Field::Country.admits(code) => Ok(Country(c)),
            _ => Err(FieldError::new(Field::Country, code)),
        }
    }

    pub fn code(self) -> u8 {
        self.0
    }

    /// What the code stands for.
    pub fn name(self) -> &'static str {
        super::uci::meaning(Field::Country, i64::from(self.0))
    }
}

/// Page number within the shop, 1..=5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Page(u8);

impl Page {
    pub fn parse(page: i64) -> Result<Self, FieldError> {
        match u8::try_from(page) {
            Ok(p) if Field::Page.admits(page) => Ok(Page(p)),
            _ => Err(FieldError::new(Field::Page, page)),
        }
    }

    pub fn get(self) -> u8 {
        self.0
    }
}

/// Position of the click in its session, from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Order(u32);

impl Order {
    pub fn parse(order: i64) -> Result<Self, FieldError> {
        match u32::try_from(order) {
            Ok(o) if Field::Order.admits(order) => Ok(Order(o)),
            _ => Err(FieldError::new(Field::Order, order)),
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

/// A price in US dollars: finite, positive, at most 100000.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Price(f64);

impl Price {
    #[inline]
    pub fn parse(price: f64) -> Result<Self, FieldError> {
        if Field::Price.admits_number(price) {
            Ok(Price(price))
        } else {
            Err(FieldError::new(Field::Price, price))
        }
    }

    pub fn get(self) -> f64 {
        self.0
    }
}

/// A product code such as `A13`: the letter is the product line, the number the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProductCode {
    letter: u8,
    number: u16,
}

impl ProductCode {
    pub fn parse(code: &str) -> Result<Self, FieldError> {
        let err = || FieldError::new(Field::Product, code);
        let code_trimmed = code.trim();
        let mut chars = code_trimmed.chars();
        let letter = match chars.next() {
            Some(c @ ('A' | 'B' | 'C' | 'P')) => c as u8,
            _ => return Err(err()),
        };
        let digits = chars.as_str();
        if digits.is_empty() || digits.len() > 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        let number = digits.parse::<u16>().map_err(|_| err())?;
        Ok(ProductCode { letter, number })
    }
}

// Product codes are written as text (`"A13"`), also as keys of the product tables that
// models store, and read back through `parse`.
impl Serialize for ProductCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ProductCode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        ProductCode::parse(&text).map_err(|e| serde::de::Error::custom(e.to_string()))
    }
}

impl fmt::Display for ProductCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.letter as char, self.number)
    }
}

/// A product as the product tables and the features compare it, whichever shop's: a UCI
/// product code exactly (the top bit set), any other id by a 64-bit hash of its text (the
/// top bit clear). Model files keep product ids as text and remake the keys when they
/// load, so the hash need only agree within one build; two ids of one shop meet by chance
/// with a probability of about n²/2⁶⁴ (5·10⁻⁸ for a million products).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProductKey(u64);

const CODE_BIT: u64 = 1 << 63;

impl From<ProductCode> for ProductKey {
    #[inline]
    fn from(code: ProductCode) -> ProductKey {
        ProductKey(CODE_BIT | (u64::from(code.letter) << 16) | u64::from(code.number))
    }
}

impl ProductKey {
    /// The key of a product id as written: a UCI code written as its code is (`A13`, not
    /// `A013`) is that code's key, so a shop whose ids look like UCI codes meets itself.
    pub fn of(id: &str) -> ProductKey {
        use std::hash::BuildHasher;
        match ProductCode::parse(id) {
            Ok(code) if code.to_string() == id => code.into(),
            _ => ProductKey(
                foldhash::fast::FixedState::with_seed(0x00c1_1c45).hash_one(id) & !CODE_BIT,
            ),
        }
    }

    /// The UCI code a key stands for, if it stands for one.
    pub fn code(self) -> Option<ProductCode> {
        (self.0 & CODE_BIT != 0).then_some(ProductCode {
            letter: (self.0 >> 16) as u8,
            number: self.0 as u16,
        })
    }
}

/// A product's id as model files write it: a UCI product code, or any other shop's id as
/// given. Codes sort before other ids and by code, so the UCI product table keeps its
/// order in model files. An id of up to 24 bytes (a SKU, a GTIN) is held inline, without
/// an allocation of its own: a shop's product tables hold a million of them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProductId {
    Code(ProductCode),
    Text(compact_str::CompactString),
}

impl ProductId {
    /// The id of a product as written: a UCI code written as its code is, else the text
    /// (the rule of [`ProductKey::of`]).
    pub fn of(id: &str) -> ProductId {
        match ProductKey::of(id).code() {
            Some(code) => ProductId::Code(code),
            None => ProductId::Text(id.into()),
        }
    }

    pub fn key(&self) -> ProductKey {
        match self {
            ProductId::Code(code) => (*code).into(),
            ProductId::Text(text) => ProductKey::of(text),
        }
    }
}

impl fmt::Display for ProductId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProductId::Code(code) => code.fmt(f),
            ProductId::Text(text) => f.write_str(text),
        }
    }
}

impl Serialize for ProductId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ProductId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        Ok(ProductId::of(&text))
    }
}

/// The calendar day of a click. Any real date from 2000 to 2100 is accepted: the UCI data
/// is from 2008, but the service scores today's sessions, and only the weekday is a feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClickDate(NaiveDate);

/// "June has 30 days", "February 2007 has 28 days": the length of a month, in words.
fn days_in(year: i32, month: u32) -> String {
    const NAMES: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let first = NaiveDate::from_ymd_opt(year, month, 1);
    let next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)
    };
    let name = NAMES
        .get(month as usize - 1)
        .copied()
        .unwrap_or("the month");
    match (first, next) {
        (Some(a), Some(b)) => {
            let days = (b - a).num_days();
            // February's length depends on the year; the other months' do not.
            if month == 2 {
                format!("{name} {year} has {days} days")
            } else {
                format!("{name} has {days} days")
            }
        }
        _ => format!("{name} {year} is not a month this service knows"),
    }
}

impl ClickDate {
    /// Reports each bad part on its own; a day that does not exist in an otherwise valid
    /// month is reported on `day`.
    #[inline]
    pub fn parse(year: i64, month: i64, day: i64) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        for (field, value) in [
            (Field::Year, year),
            (Field::Month, month),
            (Field::Day, day),
        ] {
            if !field.admits(value) {
                errors.push(FieldError::new(field, value));
            }
        }
        let (Ok(y), Ok(m), Ok(d)) = (
            i32::try_from(year),
            u32::try_from(month),
            u32::try_from(day),
        ) else {
            return Err(errors);
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        NaiveDate::from_ymd_opt(y, m, d)
            .map(ClickDate)
            .ok_or_else(|| {
                let mut error = FieldError::new(Field::Day, day);
                error.note = Some(days_in(y, m));
                vec![error]
            })
    }

    pub fn weekday(self) -> Weekday {
        self.0.weekday()
    }

    pub fn month(self) -> u32 {
        self.0.month()
    }

    pub fn year(self) -> i32 {
        self.0.year()
    }

    pub fn day(self) -> u32 {
        self.0.day()
    }
}

impl From<ClickDate> for NaiveDate {
    fn from(date: ClickDate) -> NaiveDate {
        date.0
    }
}

impl fmt::Display for ClickDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A code of a coded column as its value, or the field's error.
fn coded<T>(field: Field, code: i64, from_code: fn(i64) -> Option<T>) -> Result<T, FieldError> {
    from_code(code).ok_or_else(|| FieldError::new(field, code))
}

/// Keeps the value of a field check, or records its error so that all are reported.
fn keep<T>(errors: &mut Vec<FieldError>, checked: Result<T, FieldError>) -> Option<T> {
    checked.map_err(|e| errors.push(e)).ok()
}

/// One validated click.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Click {
    pub date: ClickDate,
    pub order: Order,
    pub country: Country,
    pub category: Category,
    pub product: ProductCode,
    pub colour: Colour,
    pub location: Location,
    pub photography: Photography,
    pub price: Price,
    /// `price 2`: the price is above the average of its main category.
    pub above_category_average: bool,
    pub page: Page,
}

impl Click {
    /// The only way to build a click: checks every field and reports every bad one.
    pub fn parse<S: AsRef<str>>(raw: &RawClick<S>) -> Result<Click, Vec<FieldError>> {
        let mut errors = Vec::new();
        let order = keep(&mut errors, Order::parse(raw.order));
        let country = keep(&mut errors, Country::parse(raw.country));
        let category = keep(
            &mut errors,
            coded(
                Field::Category,
                raw.page1_main_category,
                Category::from_code,
            ),
        );
        let product = keep(
            &mut errors,
            ProductCode::parse(raw.page2_clothing_model.as_ref()),
        );
        let colour = keep(
            &mut errors,
            coded(Field::Colour, raw.colour, Colour::from_code),
        );
        let location = keep(
            &mut errors,
            coded(Field::Location, raw.location, Location::from_code),
        );
        let photography = keep(
            &mut errors,
            coded(
                Field::Photography,
                raw.model_photography,
                Photography::from_code,
            ),
        );
        let price = keep(&mut errors, Price::parse(raw.price));
        let above = keep(
            &mut errors,
            match raw.price_2 {
                // The table's vocabulary for price 2 says the same in words.
                1 if Field::Price2.admits(1) => Ok(true),
                2 if Field::Price2.admits(2) => Ok(false),
                other => Err(FieldError::new(Field::Price2, other)),
            },
        );
        let page = keep(&mut errors, Page::parse(raw.page));
        let date = ClickDate::parse(raw.year, raw.month, raw.day)
            .map_err(|e| errors.splice(0..0, e))
            .ok();
        match (
            date,
            order,
            country,
            category,
            product,
            colour,
            location,
            photography,
            price,
            above,
            page,
        ) {
            (
                Some(date),
                Some(order),
                Some(country),
                Some(category),
                Some(product),
                Some(colour),
                Some(location),
                Some(photography),
                Some(price),
                Some(above_category_average),
                Some(page),
            ) => Ok(Click {
                date,
                order,
                country,
                category,
                product,
                colour,
                location,
                photography,
                price,
                above_category_average,
                page,
            }),
            _ => Err(errors),
        }
    }

    /// Back to the wire shape, e.g. to store golden inputs with a model.
    pub fn to_raw(&self) -> RawClick {
        RawClick {
            year: i64::from(self.date.year()),
            month: i64::from(self.date.month()),
            day: i64::from(self.date.day()),
            order: i64::from(self.order.get()),
            country: i64::from(self.country.code()),
            page1_main_category: self.category.code(),
            page2_clothing_model: self.product.to_string(),
            colour: self.colour.code(),
            location: self.location.code(),
            model_photography: self.photography.code(),
            price: self.price.get(),
            price_2: if self.above_category_average { 1 } else { 2 },
            page: i64::from(self.page.get()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw() -> RawClick {
        RawClick {
            year: 2008,
            month: 4,
            day: 1,
            order: 1,
            country: 29,
            page1_main_category: 1,
            page2_clothing_model: "A13".into(),
            colour: 1,
            location: 5,
            model_photography: 1,
            price: 28.0,
            price_2: 2,
            page: 1,
        }
    }

    fn errors_of(raw: RawClick) -> Vec<Field> {
        Click::parse(&raw)
            .expect_err("the raw click should be rejected")
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    #[test]
    fn a_valid_click_parses_and_round_trips() {
        let click = Click::parse(&raw()).expect("a valid click parses");
        assert_eq!(click.category, Category::Trousers);
        assert_eq!(click.location, Location::BottomMiddle);
        assert!(!click.above_category_average);
        assert_eq!(click.to_raw(), raw());
    }

    #[test]
    fn each_field_out_of_its_domain_is_named() {
        type Spoil = fn(&mut RawClick);
        let cases: [(Field, Spoil); 13] = [
            (Field::Year, |r| r.year = 1999),
            (Field::Month, |r| r.month = 13),
            (Field::Day, |r| r.day = 0),
            (Field::Order, |r| r.order = 0),
            (Field::Country, |r| r.country = 48),
            (Field::Category, |r| r.page1_main_category = 5),
            (Field::Product, |r| r.page2_clothing_model = "Z1".into()),
            (Field::Colour, |r| r.colour = 15),
            (Field::Location, |r| r.location = 7),
            (Field::Photography, |r| r.model_photography = 3),
            (Field::Price, |r| r.price = 0.0),
            (Field::Price2, |r| r.price_2 = 0),
            (Field::Page, |r| r.page = 6),
        ];
        for (field, spoil) in cases {
            let mut r = raw();
            spoil(&mut r);
            assert_eq!(errors_of(r), vec![field], "spoiling {field}");
        }
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let mut r = raw();
        r.price = f64::NAN;
        r.page = 0;
        r.month = 0;
        assert_eq!(errors_of(r), vec![Field::Month, Field::Price, Field::Page]);
    }

    #[test]
    fn a_day_missing_from_its_month_is_a_day_error() {
        let mut r = raw();
        r.month = 2;
        r.day = 30;
        assert_eq!(errors_of(r), vec![Field::Day]);
    }

    #[test]
    fn product_codes_need_a_known_letter_and_one_to_three_digits() {
        for good in ["A1", "B17", "C56", "P999"] {
            assert!(ProductCode::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "A", "a13", "A1234", "AB1", "A-1", "13", "P 1"] {
            assert!(ProductCode::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn prices_must_be_finite_positive_and_bounded() {
        for bad in [0.0, -1.0, f64::INFINITY, f64::NAN, 100_000.5] {
            assert!(Price::parse(bad).is_err(), "{bad}");
        }
        assert!(Price::parse(0.01).is_ok());
    }

    #[test]
    fn errors_say_what_was_allowed() {
        let text = FieldError::new(Field::Page, 9).to_string();
        assert!(text.contains("page") && text.contains("1 to 5"), "{text}");
    }

    /// The product parser is hand-written for speed; the pattern the documents give must
    /// say the same, on every short string over the characters that matter.
    #[test]
    fn the_product_pattern_and_its_parser_agree() {
        use crate::domain::schema::Rule;
        let Some(Rule::Text {
            pattern: Some(pattern),
            ..
        }) = UCI.spec(Field::Product).map(|s| &s.rule)
        else {
            panic!("the product field has a pattern");
        };
        let regex = regex::Regex::new(&pattern.regex).expect("the pattern compiles");
        let alphabet = ['A', 'B', 'C', 'P', 'a', 'Z', '0', '1', '9', ' ', '-'];
        let mut texts = vec![String::new()];
        for _ in 0..5 {
            let longer: Vec<String> = texts
                .iter()
                .filter(|t| t.chars().count() == texts.last().map_or(0, |l| l.chars().count()))
                .flat_map(|t| alphabet.iter().map(move |c| format!("{t}{c}")))
                .collect();
            texts.extend(longer);
        }
        for text in texts {
            // The parser trims surrounding spaces, as every field read from a file is.
            let by_regex = regex.is_match(text.trim());
            let by_parser = ProductCode::parse(&text).is_ok();
            assert_eq!(by_regex, by_parser, "{text:?}");
        }
    }
}

#[cfg(test)]
mod product_key_tests {
    use super::*;

    #[test]
    fn a_uci_code_keys_exactly_and_any_other_id_by_its_text() {
        let a13 = ProductCode::parse("A13").expect("a code");
        assert_eq!(ProductKey::of("A13"), ProductKey::from(a13));
        assert_eq!(ProductKey::from(a13).code(), Some(a13));
        // Not written as the code is: a shop's own id, not the code.
        assert_ne!(ProductKey::of("A013"), ProductKey::of("A13"));
        assert_eq!(ProductKey::of("A013").code(), None);
        assert_eq!(ProductKey::of("SKU-1"), ProductKey::of("SKU-1"));
        assert_ne!(ProductKey::of("SKU-1"), ProductKey::of("SKU-2"));
    }
}
