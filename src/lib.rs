//! clickstream: scores online-shop sessions while the shopper browses.
//!
//! Raw clicks become typed [`domain::Click`]s at the edge; [`features`] turns the clicks seen
//! so far into the one feature vector every model reads:
//!
//! ```
//! use clickstream::domain::{Click, RawClick};
//! use clickstream::features::{self, ProductStats};
//!
//! let raw = RawClick {
//!     year: 2008, month: 4, day: 1, order: 1, country: 29, page1_main_category: 1,
//!     page2_clothing_model: "A13", colour: 1, location: 5, model_photography: 1,
//!     price: 28.0, price_2: 2, page: 1,
//! };
//! let click = Click::parse(&raw).expect("a valid click");
//! let plan = features::Plan::uci();
//! let row = features::extract(plan, &[click], &ProductStats::default());
//! assert_eq!(row.len(), plan.len());
//! assert_eq!(row[plan.index_of("clicks").expect("a feature")], 1.0);
//! ```

pub mod dataset;
pub mod domain;
pub mod evaluate;
pub mod evaluation;
pub mod features;
pub mod inference;
pub mod labels;
pub mod ml;
pub mod offline;
pub mod progress;
pub mod reader;
pub mod report;
pub mod scoring;
pub mod service;
pub mod train;

// The one rule for the real data file, shared with the API tests.
#[cfg(test)]
#[path = "../tests/support/data_file.rs"]
mod data_file;
