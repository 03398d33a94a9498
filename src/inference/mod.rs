//! The model side of answering, below the HTTP service and the `score` command, which
//! both stand on it: [`registry`] (the loaded versions in typed slots, their policy as
//! values, the one reload, and [`registry::confined`]), [`answer`] (the answers as sent),
//! [`csv`] (their flat form, derived from their serde form, through the formula guard) and
//! [`scorer`] (one per model: the version, the answer). Nothing here speaks HTTP or records
//! metrics: callers get back what happened and record it themselves.

pub mod answer;
pub mod csv;
pub mod registry;
pub mod scorer;
