//! The names of the three models: folder names under `models/`, route names, metric labels.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
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

impl FromStr for ModelName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        ModelName::ALL
            .into_iter()
            .find(|n| n.as_str() == s)
            .ok_or_else(|| format!("unknown model {s:?}; models are convert, revenue, segment"))
    }
}
