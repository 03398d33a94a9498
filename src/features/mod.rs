//! The one feature extractor. A schema's feature plan ([`FeaturePlan`], its `[[feature]]`
//! entries) compiles into a [`Plan`]; an [`Accumulator`] of that plan takes a session's
//! clicks one by one and writes the plan's features of the prefix so far. The trainer,
//! the evaluator and the service all go through it ([`extract_into`] and [`row`] feed it
//! every click of a prefix); models record the plan's [`FeatureSchema`] and refuse to load
//! against a different one. The UCI shop's plan, [`Plan::uci`], is version 1's 60 features,
//! bit for bit.

mod accumulator;
mod derive;
mod plan;
mod products;
mod read;

pub use accumulator::{Accumulator, TWO_PASS_STD_CLICKS};
pub use derive::{derive, SHARED_VALUES};
pub use plan::{
    Family, FeaturePlan, FeatureSchema, FeatureSpec, Of, Plan, PlanError, SlotSpec, Slots, MAX_AT,
    VERSION,
};
pub use products::{FoldCounts, ProductCounts, ProductStats};
pub use read::ClickValues;

/// What one model's feature row is made of, decided when the model loads: the plan, the
/// product table it is extracted with (by content: a digest of the table as stored), and
/// whether the model reads any feature of that table. A model can read a row extracted
/// for another model when [`RowKey::can_read`] says so, which is how one request scores
/// its three models from one extraction when they agree: convert and revenue trained
/// together carry equal tables, and segments read no product rate at all.
#[derive(Debug, Clone)]
pub struct RowKey {
    /// Which click schema, coding and plan the row is of (`model_file::Reading::id`).
    plan: [u8; 32],
    table: [u8; 32],
    reads_table: bool,
}

impl RowKey {
    /// The key of a model extracting with `products` and reading the features at `reads`
    /// (every feature when `None`).
    pub fn new(
        plan_id: [u8; 32],
        plan: &Plan,
        products: &ProductStats,
        reads: Option<&[usize]>,
    ) -> RowKey {
        let reads_table = match reads {
            None => (0..plan.len()).any(|i| plan.reads_products(i)),
            Some(indices) => indices.iter().any(|&i| plan.reads_products(i)),
        };
        RowKey {
            plan: plan_id,
            table: products.digest(),
            reads_table,
        }
    }

    /// Whether this key's model reads the same values from a row made for `made`: the
    /// same plan, and the same table unless the model reads none of it.
    pub fn can_read(&self, made: &RowKey) -> bool {
        self.plan == made.plan && (!self.reads_table || self.table == made.table)
    }
}

/// Writes the features of `prefix` (ordered clicks 1..t) into `out`, which must hold one
/// value per feature of `plan`, using the product table of the model that will read them.
/// An empty prefix gives all zeros. The same as feeding an [`Accumulator`] every click.
pub fn extract_into<C: ClickValues>(
    plan: &Plan,
    prefix: &[C],
    products: &ProductStats,
    out: &mut [f64],
) {
    let mut acc = Accumulator::with_capacity(plan, products, prefix.len());
    for c in prefix {
        acc.push(c);
    }
    acc.write(out);
}

/// Convenience for one prefix.
pub fn extract<C: ClickValues>(plan: &Plan, prefix: &[C], products: &ProductStats) -> Vec<f64> {
    let mut row = vec![0.0; plan.len()];
    extract_into(plan, prefix, products, &mut row);
    row
}

/// One prefix as the one-row matrix the models predict on: the service's answers and the
/// model files' golden self-tests both go through here.
pub fn row<C: ClickValues>(
    plan: &Plan,
    prefix: &[C],
    products: &ProductStats,
) -> ndarray::Array2<f64> {
    let mut row = ndarray::Array2::zeros((1, plan.len()));
    // A fresh (1, n) array is contiguous and standard-layout, so it has a slice.
    if let Some(out) = row.as_slice_mut() {
        extract_into(plan, prefix, products, out);
    }
    row
}

#[cfg(test)]
mod reference;
#[cfg(test)]
mod tests;
