//! clickstream: scores online-shop sessions while the shopper browses.

pub mod domain;
pub mod features;
pub mod labels;
pub mod reader;
