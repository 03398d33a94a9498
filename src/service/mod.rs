//! `clickstream serve`: the HTTP service over the versioned model files.

pub mod registry;
pub mod settings;
