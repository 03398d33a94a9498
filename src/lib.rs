//! clickstream: scores online-shop sessions while the shopper browses.

pub mod dataset;
pub mod domain;
pub mod evaluate;
pub mod evaluation;
pub mod features;
pub mod labels;
pub mod ml;
pub mod progress;
pub mod reader;
pub mod train;
