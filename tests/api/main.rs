//! The integration tests as one binary (the zero2prod layout): `helpers` starts servers
//! (in this process or the real `serve` binary) and builds requests; each other module
//! holds the tests of one area.
//!
//! Each server has its own metrics, so a test reads exact counts of the server it started.

mod helpers;

// The one rule for the real data file, shared with the library's unit tests.
#[path = "../support/data_file.rs"]
mod data_file;

// The second shop's generator, for a shop trained once for the binary (`shop`).
#[path = "../../examples/second_shop.rs"]
#[allow(
    dead_code,
    reason = "the example's command line and main are not what these tests call"
)]
mod second_shop;
mod shop;

mod architecture;
mod auth;
mod batch;
mod cli;
mod click_table;
mod console;
mod container;
mod contract;
mod docs;
mod documents;
mod errors;
mod errors_documented;
mod faults;
mod health;
mod input_errors;
mod observability;
mod overload;
mod process;
mod properties;
mod real_data;
mod reload;
mod score_command;
mod score_parquet;
mod score_unsorted;
mod scoring;
mod security;
mod shop_service;
mod slow_clients;
mod train_evaluate;
mod train_faults;
mod versions;
