//! The integration tests as one binary (the zero2prod layout): `helpers` starts servers
//! (in this process or the real `serve` binary) and builds requests; each other module
//! holds the tests of one area.
//!
//! Servers started in this process share its one metrics recorder: a test that reads a
//! metric uses a model version that no other test publishes.

mod helpers;

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
mod scoring;
mod security;
mod slow_clients;
mod train_evaluate;
mod train_faults;
mod versions;
