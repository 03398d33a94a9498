//! SMOTE (Chawla et al. 2002): synthetic minority examples on the segment between a real
//! minority example and one of its k nearest minority neighbours. No maintained Rust crate
//! implements it; the neighbour search is linfa-nn's.

use super::scaler::Scaler;
use crate::dataset::Element;
use linfa_nn::{distance::L2Dist, CommonNearestNeighbour, NearestNeighbour};
use ndarray::{ArrayView2, ArrayViewMut1};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SmoteError {
    #[error("SMOTE needs at least 2 minority examples, got {0}")]
    TooFewMinority(usize),
    #[error("SMOTE's k must be at least 1")]
    ZeroK,
    #[error("neighbour search failed: {0}")]
    Neighbours(String),
}

/// One synthetic row: `gap` of the way from minority row `base` (whose weight it carries)
/// to its neighbour `other`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Synthetic {
    pub base: usize,
    pub other: usize,
    pub gap: f64,
}

impl Synthetic {
    /// Writes the row, drawn among the `scaled` minority rows (those `oversample` was
    /// given) and taken back to feature units by `scaler`, in `f64`, then rounded once as
    /// it is stored. Drawn in feature units instead, it is the same point but for
    /// rounding, except where two neighbours agree on a value: there it lands exactly on
    /// the real rows' value, not a rounding away, and the SMOTE boosting candidate's July
    /// ROC-AUC then swung between 0.525 and 0.550 with bit-level changes of its input,
    /// where drawn this way it stays at 0.5704-0.5708.
    pub fn write<F: Element>(
        &self,
        scaled: ArrayView2<f64>,
        scaler: &Scaler,
        out: ArrayViewMut1<F>,
    ) {
        let (from, to) = (scaled.row(self.base), scaled.row(self.other));
        let rows = from.iter().zip(&to).zip(&scaler.mean).zip(&scaler.std);
        for (o, (((&a, &b), m), s)) in out.into_iter().zip(rows) {
            *o = F::from_f64((a + (b - a) * self.gap) * s + m);
        }
    }
}

/// Draws `count` synthetic rows among the `minority` rows (scaled, so distances mean
/// something); [`Synthetic::write`] makes each one.
pub fn oversample(
    minority: ArrayView2<f64>,
    count: usize,
    k: usize,
    seed: u64,
) -> Result<Vec<Synthetic>, SmoteError> {
    let n = minority.nrows();
    if n < 2 {
        return Err(SmoteError::TooFewMinority(n));
    }
    if k == 0 {
        return Err(SmoteError::ZeroK);
    }
    let k = k.min(n - 1);
    let owned = minority.to_owned();
    let index = CommonNearestNeighbour::KdTree
        .from_batch(&owned, L2Dist)
        .map_err(|e| SmoteError::Neighbours(e.to_string()))?;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut out = Vec::with_capacity(count);
    // Walk the minority rows in turn so each one seeds about the same number of points.
    // Neighbour searches dominate the cost; they run in parallel, the draws stay serial so
    // the result depends on the seed only.
    let bases = count.min(n);
    let neighbours_of: Vec<Vec<usize>> = (0..bases)
        .into_par_iter()
        .map(|base| {
            index
                .k_nearest(minority.row(base), k + 1)
                .map(|found| {
                    found
                        .into_iter()
                        .map(|(_, i)| i)
                        .filter(|&i| i != base)
                        .take(k)
                        .collect()
                })
                .map_err(|e| SmoteError::Neighbours(e.to_string()))
        })
        .collect::<Result<_, _>>()?;
    for j in 0..count {
        let base = j % n;
        let neighbours = &neighbours_of[base];
        let other = if neighbours.is_empty() {
            base
        } else {
            neighbours[rng.gen_range(0..neighbours.len())]
        };
        let gap: f64 = rng.gen();
        out.push(Synthetic { base, other, gap });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array1};

    #[test]
    fn synthetic_points_lie_between_a_point_and_one_of_its_neighbours() {
        // Two tight pairs far apart: neighbours of a point are in its own pair (k = 1).
        let minority = array![[0.0, 0.0], [1.0, 0.0], [100.0, 100.0], [100.0, 101.0]];
        let synthetic = oversample(minority.view(), 40, 1, 7).expect("valid input");
        assert_eq!(synthetic.len(), 40);
        for made in &synthetic {
            let (base, mut row) = (made.base, Array1::<f64>::zeros(2));
            let unscaled = Scaler {
                mean: vec![0.0; 2],
                std: vec![1.0; 2],
            };
            made.write(minority.view(), &unscaled, row.view_mut());
            let partner = base ^ 1;
            let (a, b) = (minority.row(base), minority.row(partner));
            // On the segment a..b: each coordinate between the two, and collinear.
            for d in 0..2 {
                let (lo, hi) = (a[d].min(b[d]), a[d].max(b[d]));
                assert!(
                    row[d] >= lo - 1e-12 && row[d] <= hi + 1e-12,
                    "{row} off {a}..{b}"
                );
            }
            let cross = (b[0] - a[0]) * (row[1] - a[1]) - (b[1] - a[1]) * (row[0] - a[0]);
            assert!(cross.abs() < 1e-9, "{row} is not on the line {a}..{b}");
        }
    }

    #[test]
    fn too_few_minority_examples_are_refused() {
        let one = array![[0.0, 0.0]];
        assert_eq!(
            oversample(one.view(), 3, 5, 1).map(|_| ()),
            Err(SmoteError::TooFewMinority(1))
        );
    }
}
