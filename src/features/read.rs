//! What the extractor reads of a click, by role and by the plan's [`Of`]: the one place
//! that knows the click's shape, so a click of any schema only changes this file.

use crate::domain::catalogue::CodedClick;
use crate::domain::{AnyClick, Click};
use chrono::Weekday;

/// A click as the extractor sees it: any shop's click (its product, price and day), its
/// coded values, and what only some schemas give.
pub trait ClickValues: AnyClick {
    /// The click's day of the week.
    fn weekday(&self) -> Weekday;
    /// Milliseconds since the epoch, when the schema has a timestamp.
    fn time(&self) -> Option<i64> {
        None
    }
    /// The mean price of the click's category in training, when the model learned them.
    fn category_price(&self) -> f64 {
        f64::NAN
    }
    /// Writes the category's and every attribute's value, at [`Of::index`], into `out`
    /// (as many as it holds; the rest is left as it is): a coded one's code, or a
    /// number's bits (`f64::to_bits`), so one row of whole numbers holds a click and coded
    /// values are compared, counted and looked up without a conversion.
    fn write_values(&self, out: &mut [i64]);
}

impl ClickValues for Click {
    #[inline]
    fn weekday(&self) -> Weekday {
        self.date.weekday()
    }

    #[inline]
    fn write_values(&self, out: &mut [i64]) {
        let values = [
            self.category.code(),
            i64::from(self.country.code()),
            self.colour.code(),
            self.location.code(),
            self.photography.code(),
            // The table's vocabulary of `price_2`: 1 above the category's average, 2 not.
            if self.above_category_average { 1 } else { 2 },
            i64::from(self.page.get()),
        ];
        // A row as wide as the click is seven stores, not a call to copy a slice of
        // unknown length; a narrower plan takes what it reads.
        match out.first_chunk_mut::<7>() {
            Some(whole) => *whole = values,
            None => {
                let n = out.len();
                out.copy_from_slice(&values[..n]);
            }
        }
    }
}

impl ClickValues for CodedClick {
    #[inline]
    fn weekday(&self) -> Weekday {
        chrono::Datelike::weekday(&self.date)
    }

    #[inline]
    fn time(&self) -> Option<i64> {
        self.time
    }

    #[inline]
    fn category_price(&self) -> f64 {
        self.category_price
    }

    #[inline]
    fn write_values(&self, out: &mut [i64]) {
        for (slot, value) in out.iter_mut().zip(&self.values) {
            *slot = *value;
        }
    }
}
