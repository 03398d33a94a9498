//! The names of the three models: folder names under `models/`, route names, metric labels.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Spelt in one place, [`ModelName::as_str`]: serde writes and reads that spelling too (a
/// manifest's `name`, an answer's `model`), so no renaming rule can drift from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "&'static str", try_from = "String")]
pub enum ModelName {
    Convert,
    Revenue,
    Segment,
}

impl ModelName {
    pub const ALL: [ModelName; 3] = [ModelName::Convert, ModelName::Revenue, ModelName::Segment];

    pub fn as_str(self) -> &'static str {
        match self {
            ModelName::Convert => "convert",
            ModelName::Revenue => "revenue",
            ModelName::Segment => "segment",
        }
    }
}

impl fmt::Display for ModelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<ModelName> for &'static str {
    fn from(name: ModelName) -> &'static str {
        name.as_str()
    }
}

impl TryFrom<String> for ModelName {
    type Error = String;
    fn try_from(name: String) -> Result<ModelName, String> {
        name.parse()
    }
}

impl FromStr for ModelName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        ModelName::ALL
            .into_iter()
            .find(|n| n.as_str() == s)
            .ok_or_else(|| format!("unknown model {s:?}; models are convert, revenue, segment"))
    }
}
