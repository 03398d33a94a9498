//! The one feature extractor. A schema's feature plan ([`FeaturePlan`], its `[[feature]]`
//! entries) compiles into a [`Plan`]; an [`Accumulator`] of that plan takes a session's
//! clicks one by one and writes the plan's features of the prefix so far. The trainer,
//! the evaluator and the service all go through it ([`extract_into`] and [`row`] feed it
//! every click of a prefix); models record the plan's [`FeatureSchema`] and refuse to load
//! against a different one. The UCI shop's plan, [`Plan::uci`], is version 1's 60 features,
//! bit for bit.

mod accumulator;
mod plan;
mod products;
mod read;

pub use accumulator::{Accumulator, TWO_PASS_STD_CLICKS};
pub use plan::{
    Family, FeaturePlan, FeatureSchema, FeatureSpec, Of, Plan, PlanError, MAX_AT, VERSION,
};
pub use products::ProductStats;
pub use read::ClickValues;

use crate::domain::Click;

/// Writes the features of `prefix` (ordered clicks 1..t) into `out`, which must hold one
/// value per feature of `plan`, using the product table of the model that will read them.
/// An empty prefix gives all zeros. The same as feeding an [`Accumulator`] every click.
pub fn extract_into(plan: &Plan, prefix: &[Click], products: &ProductStats, out: &mut [f64]) {
    let mut acc = Accumulator::with_capacity(plan, products, prefix.len());
    for c in prefix {
        acc.push(c);
    }
    acc.write(out);
}

/// Convenience for one prefix.
pub fn extract(plan: &Plan, prefix: &[Click], products: &ProductStats) -> Vec<f64> {
    let mut row = vec![0.0; plan.len()];
    extract_into(plan, prefix, products, &mut row);
    row
}

/// One prefix as the one-row matrix the models predict on: the service's answers and the
/// model files' golden self-tests both go through here.
pub fn row(plan: &Plan, prefix: &[Click], products: &ProductStats) -> ndarray::Array2<f64> {
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
