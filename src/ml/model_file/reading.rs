//! How a loaded version reads clicks: the UCI shop's typed click and version 1's plan, or a
//! shop's own schema compiled at load with what its training learned (the catalogue) and
//! the plan it was trained with. Built once per version from its manifest, so a request is
//! parsed, coded and extracted by the version that answers it.

use super::manifest::Manifest;
use crate::domain::catalogue::Catalogue;
use crate::domain::schema_file::{Basket, SchemaFile, SchemaRecord};
use crate::domain::shop::ShopSchema;
use crate::domain::UCI;
use crate::features::{self, FeaturePlan, Plan};
use std::sync::Arc;

/// The clicks a version reads.
#[derive(Debug, Clone)]
pub enum Reading {
    /// The UCI shop's click (`schemas/uci.toml`), by version 1's plan.
    Uci,
    /// A shop's own schema (`train --schema`).
    Shop(Arc<ShopReading>),
}

/// A shop's schema as one version reads it.
#[derive(Debug)]
pub struct ShopReading {
    pub schema: Arc<ShopSchema>,
    pub catalogue: Catalogue,
    pub plan: Plan,
    /// What makes two versions read a session alike: a digest of the schema file, the
    /// catalogue and the plan's features. Versions trained together share it, and so share
    /// one coding and one extraction per request.
    id: [u8; 32],
}

impl Reading {
    /// The reading a manifest records, compiled; why it cannot be, in the shop's words.
    pub(super) fn of(manifest: &Manifest) -> Result<Reading, String> {
        let record = &manifest.click_schema;
        let Some(why) = record.mismatch(&UCI) else {
            return Ok(Reading::Uci);
        };
        // A schema of the UCI table's columns with a rule changed, or one that does not
        // read: the field-by-field difference says more than a compile error would. A
        // shop's schema without a catalogue cannot be coded.
        let file = SchemaFile::parse(&record.text).map_err(|_| why.clone())?;
        let schema = ShopSchema::compile(&file, &record.text).map_err(|_| why.clone())?;
        let Some(catalogue) = manifest.catalogue.clone() else {
            return Err(why);
        };
        let feature_plan = match &manifest.feature_plan {
            Some(plan) => plan.clone(),
            None => FeaturePlan::from_schema(&file)
                .map_err(|e| format!("its schema {:?}'s feature plan: {e}", record.name))?,
        };
        let plan = feature_plan
            .compile(&features::Slots::of_shop(&schema, &catalogue))
            .map_err(|e| format!("its feature plan does not compile: {e}"))?;
        let id = digest(record, &catalogue, &plan);
        Ok(Reading::Shop(Arc::new(ShopReading {
            schema: Arc::new(schema),
            catalogue,
            plan,
            id,
        })))
    }

    /// The features a version reads, in row order.
    pub fn plan(&self) -> &Plan {
        match self {
            Reading::Uci => Plan::uci(),
            Reading::Shop(shop) => &shop.plan,
        }
    }

    /// The name of the click schema, as the model file records it.
    pub fn schema_name(&self) -> &str {
        match self {
            Reading::Uci => UCI_NAME,
            Reading::Shop(shop) => &shop.schema.name,
        }
    }

    /// Whether a session reads alike for both: the same click, the same coding, the same
    /// features (product tables aside: [`features::RowKey`] decides those).
    pub fn same(&self, other: &Reading) -> bool {
        self.id() == other.id()
    }

    /// Whether the same schema parses both's bodies (their catalogues may differ): what a
    /// request read once for several versions needs.
    pub fn same_clicks(&self, other: &Reading) -> bool {
        match (self, other) {
            (Reading::Uci, Reading::Uci) => true,
            (Reading::Shop(a), Reading::Shop(b)) => a.schema.record == b.schema.record,
            _ => false,
        }
    }

    /// See [`ShopReading::id`]; the UCI shop's is all zeros (a digest is never that).
    pub fn id(&self) -> [u8; 32] {
        match self {
            Reading::Uci => [0; 32],
            Reading::Shop(shop) => shop.id(),
        }
    }

    /// Whether a basket shows in the clicks (the schema declares it): only then is a
    /// session with one answered as already converted.
    pub fn declares_basket(&self) -> bool {
        match self {
            Reading::Uci => true,
            Reading::Shop(shop) => shop.schema.basket == Basket::SameProductTwice,
        }
    }

    /// The shop's schema, when the version reads one.
    pub fn shop(&self) -> Option<&Arc<ShopReading>> {
        match self {
            Reading::Uci => None,
            Reading::Shop(shop) => Some(shop),
        }
    }
}

impl ShopReading {
    /// See [`ShopReading::id`](struct.ShopReading.html#structfield.id).
    pub fn id(&self) -> [u8; 32] {
        self.id
    }
}

/// The UCI schema's name, as [`SchemaRecord::uci`] records it.
const UCI_NAME: &str = "uci-clothing-2008";

fn digest(record: &SchemaRecord, catalogue: &Catalogue, plan: &Plan) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    hash.update(record.text.as_bytes());
    hash.update(serde_json::to_vec(catalogue).unwrap_or_default());
    for name in plan.names() {
        hash.update(name.as_bytes());
        hash.update([0]);
    }
    hash.finalize().into()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_uci_name_is_the_records() {
        assert_eq!(
            super::UCI_NAME,
            crate::domain::schema_file::SchemaRecord::uci().name
        );
    }
}
