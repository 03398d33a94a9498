//! A fitted forust booster with a compact copy of its trees for prediction.
//!
//! forust keeps each tree in its own vector of 80-byte nodes that also carry training
//! statistics; walking 300 of them for one live session spent most of its time on cache
//! misses and mispredicted branches. [`Booster`] lays every tree out once, when it is
//! fitted or loaded, as a complete binary tree in flat vectors, and walks that instead.
//! The sum is taken in forust's order (base score, then each tree's leaf weight widened
//! from `f32`), so predictions are the same to the bit; a test checks it against forust's
//! own `predict`. Only forust's booster is stored in model files.

use forust_ml::GradientBooster;
use ndarray::ArrayView2;
use rayon::prelude::*;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::ops::Deref;

/// Trees of at most this depth are laid out complete; deeper ones (a `max_leaves` model
/// can grow them) keep forust's own walk.
const MAX_COMPLETE_DEPTH: usize = 8;

/// Rows at or above this count are scored in parallel.
const PARALLEL_ROWS: usize = 256;

/// Split features index a 256-slot copy of the row, so a `u8` feature needs no bounds
/// check; boosters reading a feature beyond it keep forust's walk.
const ROW_SLOTS: usize = 256;

/// Every tree padded to a complete binary tree of one depth: node `i` has children `2i + 1`
/// and `2i + 2`, so a walk is `depth` steps of index arithmetic with no data-dependent
/// branch. A leaf above the bottom is copied into every bottom slot under it, and the
/// splits above those copies are placeholders whose direction does not matter.
struct Complete {
    depth: usize,
    /// Per tree, `2^depth` slots: the `2^depth - 1` splits, then one unused, so every
    /// index the walk makes is a power-of-two mask away from being in bounds.
    splits: Vec<Split>,
    /// Per tree, `2^depth` leaf weights.
    leaves: Vec<f64>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Split {
    threshold: f64,
    feature: u8,
    missing_right: bool,
}

impl Complete {
    fn build(trees: &[forust_ml::tree::Tree]) -> Option<Complete> {
        let depth_of = |tree: &forust_ml::tree::Tree| -> Option<usize> {
            let mut deepest = 0;
            let mut stack = vec![(0usize, 0usize)];
            while let Some((i, d)) = stack.pop() {
                let node = tree.nodes.get(i)?;
                if node.is_leaf {
                    deepest = deepest.max(d);
                } else if d >= MAX_COMPLETE_DEPTH
                    || node.has_missing_branch()
                    || node.split_feature >= ROW_SLOTS
                {
                    return None;
                } else {
                    stack.push((node.left_child, d + 1));
                    stack.push((node.right_child, d + 1));
                }
            }
            Some(deepest)
        };
        let mut depth = 0;
        for tree in trees {
            depth = depth.max(depth_of(tree)?);
        }
        let width = 1 << depth;
        let mut c = Complete {
            depth,
            splits: vec![Split::default(); width * trees.len()],
            leaves: vec![0.0; width * trees.len()],
        };
        for (t, tree) in trees.iter().enumerate() {
            // (forust node, complete slot, its depth)
            let mut stack = vec![(0usize, 0usize, 0usize)];
            while let Some((i, slot, d)) = stack.pop() {
                let node = &tree.nodes[i];
                if node.is_leaf {
                    // The bottom slots under `slot`: a run of 2^(depth - d) leaves.
                    let run = 1 << (depth - d);
                    let first = ((slot + 1) << (depth - d)) - width;
                    let at = t * width + first;
                    c.leaves[at..at + run].fill(f64::from(node.weight_value));
                } else {
                    c.splits[t * width + slot] = Split {
                        threshold: node.split_value,
                        feature: node.split_feature as u8,
                        missing_right: node.missing_node == node.right_child,
                    };
                    stack.push((node.left_child, 2 * slot + 1, d + 1));
                    stack.push((node.right_child, 2 * slot + 2, d + 1));
                }
            }
        }
        Some(c)
    }

    /// `row` must hold every feature a split reads (checked by the caller).
    fn predict_row(&self, row: &[f64], missing: f64, base: f64) -> f64 {
        let mut slots = [0.0; ROW_SLOTS];
        let n = row.len().min(ROW_SLOTS);
        slots[..n].copy_from_slice(&row[..n]);
        let missing_is_nan = missing.is_nan();
        let is_missing = |v: f64| {
            if missing_is_nan {
                v.is_nan()
            } else {
                v == missing
            }
        };
        // forust: a missing value takes its branch, others go left when `v < split`. A NaN
        // that is not the missing marker (forust panics there) goes left.
        if row.iter().any(|&v| is_missing(v)) {
            self.walk_any_depth(&slots, base, |split: &Split, v: f64| {
                let m = is_missing(v);
                (m & split.missing_right) | (!m & (v >= split.threshold))
            })
        } else {
            // No value is missing: one comparison per step.
            self.walk_any_depth(&slots, base, |split: &Split, v: f64| v >= split.threshold)
        }
    }

    #[inline(always)]
    fn walk_any_depth(
        &self,
        row: &[f64; ROW_SLOTS],
        base: f64,
        goes_right: impl Fn(&Split, f64) -> bool,
    ) -> f64 {
        match self.depth {
            0 => self.walk::<1>(row, base, goes_right),
            1 => self.walk::<2>(row, base, goes_right),
            2 => self.walk::<4>(row, base, goes_right),
            3 => self.walk::<8>(row, base, goes_right),
            4 => self.walk::<16>(row, base, goes_right),
            5 => self.walk::<32>(row, base, goes_right),
            6 => self.walk::<64>(row, base, goes_right),
            7 => self.walk::<128>(row, base, goes_right),
            _ => self.walk::<256>(row, base, goes_right),
        }
    }

    /// Walks trees of width `W = 2^depth`. Indices are masked with `W - 1`, which changes
    /// none of them (see `splits`) but lets the compiler drop every bounds check.
    #[inline(always)]
    fn walk<const W: usize>(
        &self,
        row: &[f64; ROW_SLOTS],
        base: f64,
        goes_right: impl Fn(&Split, f64) -> bool,
    ) -> f64 {
        let (splits, _) = self.splits.as_chunks::<W>();
        let (leaves, _) = self.leaves.as_chunks::<W>();
        let step = |tree: &[Split; W], slot: usize| {
            let split = &tree[slot & (W - 1)];
            let right = goes_right(split, row[usize::from(split.feature)]);
            2 * slot + 1 + usize::from(right)
        };
        // After `depth` steps a slot is in W-1 ..= 2W-2: the leaves.
        let leaf = |tree: &[f64; W], slot: usize| tree[(slot + 1) & (W - 1)];
        // Each step waits on the one before it; walking a few trees side by side gives
        // the processor independent chains to overlap. The sum keeps the trees' order.
        const LANES: usize = 8;
        let mut sum = base;
        let mut split_groups = splits.chunks_exact(LANES);
        let mut leaf_groups = leaves.chunks_exact(LANES);
        for (group, group_leaves) in split_groups.by_ref().zip(leaf_groups.by_ref()) {
            let mut slots = [0usize; LANES];
            for _ in 0..self.depth {
                for (slot, tree) in slots.iter_mut().zip(group) {
                    *slot = step(tree, *slot);
                }
            }
            for (&slot, tree) in slots.iter().zip(group_leaves) {
                sum += leaf(tree, slot);
            }
        }
        for (tree, tree_leaves) in split_groups.remainder().iter().zip(leaf_groups.remainder()) {
            let mut slot = 0;
            for _ in 0..self.depth {
                slot = step(tree, slot);
            }
            sum += leaf(tree_leaves, slot);
        }
        sum
    }
}

pub struct Booster {
    inner: GradientBooster,
    /// The trees forust predicts with (`prediction_iteration` may stop early).
    used: usize,
    complete: Option<Complete>,
    /// The highest feature index any split reads: rows must be longer than this.
    max_feature: Option<usize>,
}

impl Booster {
    pub fn new(inner: GradientBooster) -> Booster {
        let used = inner
            .prediction_iteration
            .unwrap_or(inner.trees.len())
            .min(inner.trees.len());
        let complete = Complete::build(&inner.trees[..used]);
        let max_feature = inner.trees[..used]
            .iter()
            .flat_map(|t| t.nodes.iter().filter(|n| !n.is_leaf))
            .map(|n| n.split_feature)
            .max();
        Booster {
            inner,
            used,
            complete,
            max_feature,
        }
    }

    /// A booster fitted on `f32` rows (training's storage), made to route `f64` rows (the
    /// service's) as their `f32` roundings were routed in training. forust splits at one
    /// of the training values and sends `v >= split` right; a served value just below a
    /// split that rounds to it went right in training but would go left, and such values
    /// are common, since many rows share a split's value (a product's rate, a share). So
    /// each split moves down to the least `f64` that rounds to it or above. No `f32` lies
    /// between the old split and the new, so training rows are routed as before.
    pub fn fitted_on_f32(mut inner: GradientBooster) -> Booster {
        for node in inner.trees.iter_mut().flat_map(|t| t.nodes.iter_mut()) {
            if !node.is_leaf {
                node.split_value = least_rounding_to(node.split_value);
            }
        }
        Booster::new(inner)
    }

    /// Raw output (log-odds or value) for one row of features.
    ///
    /// A row too short for the trees' features is a caller bug (the feature schema is
    /// checked when a model loads), answered with NaN rather than a panic.
    pub fn predict_row(&self, row: &[f64]) -> f64 {
        if self.max_feature.is_some_and(|f| f >= row.len()) {
            return f64::NAN;
        }
        let inner = &self.inner;
        match &self.complete {
            Some(c) => c.predict_row(row, inner.missing, inner.base_score),
            None => inner.trees[..self.used]
                .iter()
                .fold(inner.base_score, |sum, tree| {
                    sum + tree.predict_row_from_row_slice(row, &inner.missing)
                }),
        }
    }

    /// Raw output per row.
    pub fn predict(&self, x: ArrayView2<f64>) -> Vec<f64> {
        let one = |row: ndarray::ArrayView1<f64>| match row.as_slice() {
            Some(slice) => self.predict_row(slice),
            None => self.predict_row(&row.to_vec()),
        };
        if x.nrows() >= PARALLEL_ROWS {
            let rows: Vec<_> = x.outer_iter().collect();
            rows.into_par_iter().map(one).collect()
        } else {
            x.outer_iter().map(one).collect()
        }
    }
}

/// The least `f64` whose `f32` rounding is `split` or above: `v >= least_rounding_to(t)`
/// exactly when `v as f32 >= t as f32`. A split that is not an `f32` (forust's `f64::MAX`
/// end cut) or has no finite `f32` below it stays as it is.
fn least_rounding_to(split: f64) -> f64 {
    let t = split as f32;
    if f64::from(t) != split {
        return split;
    }
    let below = t.next_down();
    if !below.is_finite() {
        return split;
    }
    // Halfway between two neighbouring f32s; exact in f64, which has 29 more bits.
    let half = (f64::from(below) + split) / 2.0;
    // A tie rounds to the even one of the two.
    if half as f32 >= t {
        half
    } else {
        half.next_up()
    }
}

/// The training-side API (importance, contributions) stays forust's.
impl Deref for Booster {
    type Target = GradientBooster;
    fn deref(&self) -> &GradientBooster {
        &self.inner
    }
}

impl Serialize for Booster {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.inner.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Booster {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Booster, D::Error> {
        let inner = GradientBooster::deserialize(deserializer)?;
        // forust creates children after their parent; holding files to that keeps every
        // walk in bounds and free of cycles.
        for tree in &inner.trees {
            let len = tree.nodes.len();
            if len == 0 {
                return Err(serde::de::Error::custom("a boosted tree has no nodes"));
            }
            for (i, node) in tree.nodes.iter().enumerate().filter(|(_, n)| !n.is_leaf) {
                let ok = |child: usize| child > i && child < len;
                if !(ok(node.left_child) && ok(node.right_child) && ok(node.missing_node)) {
                    return Err(serde::de::Error::custom(format!(
                        "boosted tree node {i} points at a node that is not one of its descendants"
                    )));
                }
            }
        }
        Ok(Booster::new(inner))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ml::classifier::{column_major, BoostingParams};
    use forust_ml::objective::ObjectiveType;
    use forust_ml::Matrix;
    use ndarray::Array2;

    fn fitted(x: &Array2<f64>) -> Booster {
        fitted_to_depth(x, 3)
    }

    fn fitted_to_depth(x: &Array2<f64>, max_depth: usize) -> Booster {
        let y: Vec<f64> = (0..x.nrows())
            .map(|i| f64::from(u8::from(i % 3 == 0)))
            .collect();
        let params = BoostingParams {
            iterations: 30,
            learning_rate: 0.3,
            max_depth,
            min_leaf_weight: 1.0,
            l2: 1.0,
            subsample: 1.0,
            colsample_bytree: 1.0,
            max_leaves: None,
            seed: 3,
        };
        let x = x.mapv(|v| v as f32);
        params
            .fit(ObjectiveType::LogLoss, x.view(), &y, &vec![1.0; x.nrows()])
            .expect("the booster fits")
    }

    /// Some values are missing, so the missing branches are taken too.
    fn sample() -> Array2<f64> {
        Array2::from_shape_fn((600, 5), |(i, j)| {
            if (i + j) % 11 == 0 {
                f64::NAN
            } else {
                ((i * 7 + j * 13) % 17) as f64 / 3.0
            }
        })
    }

    #[test]
    fn complete_trees_predict_what_forust_predicts_to_the_bit() {
        let x = sample();
        for depth in [1, 3, 5, MAX_COMPLETE_DEPTH + 2] {
            let booster = fitted_to_depth(&x, depth);
            assert_eq!(
                booster.complete.is_some(),
                depth <= MAX_COMPLETE_DEPTH,
                "depth {depth}"
            );
            same_as_forust(&booster, &x);
        }
    }

    #[test]
    fn a_feature_beyond_the_row_copy_keeps_forusts_walk() {
        // Only the last of 300 columns tells the classes apart.
        let x = Array2::from_shape_fn((300, 300), |(i, j)| {
            if j == 299 {
                f64::from(u8::from(i % 3 == 0)) + (i % 7) as f64
            } else {
                1.0
            }
        });
        let booster = fitted_to_depth(&x, 3);
        assert_eq!(booster.max_feature, Some(299));
        assert!(booster.complete.is_none());
        same_as_forust(&booster, &x);
    }

    /// Leaves above the bottom (padded in the complete layout) must have been met.
    #[test]
    fn the_test_trees_have_leaves_at_several_depths() {
        let booster = fitted_to_depth(&sample(), 5);
        let depths: std::collections::BTreeSet<usize> = booster
            .trees
            .iter()
            .flat_map(|t| t.nodes.iter().filter(|n| n.is_leaf).map(|n| n.depth))
            .collect();
        assert!(depths.len() > 1, "leaf depths {depths:?}");
    }

    fn same_as_forust(booster: &Booster, x: &Array2<f64>) {
        let data = column_major(x.view());
        let expected = booster
            .inner
            .predict(&Matrix::new(&data, x.nrows(), x.ncols()), false);
        for (rows, name) in [
            (x.view(), "parallel"),
            (x.slice(ndarray::s![..100, ..]), "serial"),
        ] {
            let got = booster.predict(rows);
            for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
                assert_eq!(g.to_bits(), e.to_bits(), "{name} row {i}");
            }
        }
        let column_major = x.slice(ndarray::s![..3, ..]).t().to_owned();
        let got = booster.predict(column_major.t());
        assert_eq!(
            got[2].to_bits(),
            expected[2].to_bits(),
            "non-contiguous rows"
        );
    }

    #[test]
    fn a_file_whose_tree_loops_or_is_empty_is_refused() {
        let x = Array2::from_shape_fn((200, 4), |(i, j)| ((i * 7 + j * 13) % 17) as f64);
        let mut value = serde_json::to_value(fitted(&x)).expect("serialises");
        let nodes = &mut value["trees"][0]["nodes"];
        let split = nodes
            .as_array()
            .expect("nodes")
            .iter()
            .position(|n| n["is_leaf"] == false)
            .expect("a split");
        nodes[split]["left_child"] = serde_json::json!(split);
        let refused = serde_json::from_value::<Booster>(value.clone()).err();
        assert!(
            refused.is_some_and(|e| e.to_string().contains("not one of its descendants")),
            "a node pointing at itself was accepted"
        );
        value["trees"][0]["nodes"] = serde_json::json!([]);
        let refused = serde_json::from_value::<Booster>(value).err();
        assert!(refused.is_some_and(|e| e.to_string().contains("no nodes")));
    }

    #[test]
    fn f64_rows_are_routed_as_their_f32_roundings_were_in_training() {
        // Tenths are not f32s: 0.2 rounds up to 0.20000000298.., 0.7 down, so a served
        // f64 value lies on either side of the value training saw. The first column tells
        // the classes (every third row) apart, so the trees split on it.
        let served = Array2::from_shape_fn((600, 3), |(i, j)| match j {
            0 => (i % 3 + 1) as f64 / 10.0,
            _ => ((i * (j + 6)) % 10) as f64 / 10.0,
        });
        let booster = fitted(&served);
        let stored = served.mapv(|v| f64::from(v as f32));
        same_as_forust(&booster, &served);
        for (i, (s, t)) in booster
            .predict(served.view())
            .iter()
            .zip(booster.predict(stored.view()))
            .enumerate()
        {
            assert_eq!(s.to_bits(), t.to_bits(), "row {i}");
        }
        // The case arises: a served value below a split that its f32 rounding reaches, so
        // forust's own split would have sent it the other way.
        let split_at =
            |f: usize, v: f64| {
                booster.trees.iter().flat_map(|t| &t.nodes).any(|n| {
                    !n.is_leaf && n.split_feature == f && f64::from(n.split_value as f32) == v
                })
            };
        let below = served.indexed_iter().any(|((_, f), &v)| {
            let rounded = f64::from(v as f32);
            v < rounded && split_at(f, rounded)
        });
        assert!(below, "no served value lies just below a split");
    }

    #[test]
    fn a_split_moves_to_the_least_f64_that_rounds_to_it() {
        let splits = [
            0.1f32,
            -0.3,
            1.0,
            1.5,
            -0.0,
            0.0,
            3.0e-40,
            16_777_217.0,
            1e30,
        ];
        for t in splits {
            let least = least_rounding_to(f64::from(t));
            assert!(least as f32 >= t, "{t}: {least} rounds below");
            assert!(
                least.next_down() as f32 <= t.next_down(),
                "{t}: not the least"
            );
        }
        assert_eq!(least_rounding_to(f64::MAX), f64::MAX);
        assert_eq!(least_rounding_to(0.1), 0.1, "not an f32: left alone");
        assert_eq!(least_rounding_to(f64::from(f32::MIN)), f64::from(f32::MIN));
    }

    #[test]
    fn a_short_row_is_nan_not_a_panic() {
        let x = Array2::from_shape_fn((200, 4), |(i, j)| ((i * 7 + j * 13) % 17) as f64);
        let booster = fitted(&x);
        assert!(booster.predict_row(&[1.0]).is_nan());
    }

    #[test]
    fn the_file_format_is_forusts_and_survives_a_round_trip() {
        let x = Array2::from_shape_fn((200, 4), |(i, j)| ((i * 7 + j * 13) % 17) as f64);
        let booster = fitted(&x);
        let text = serde_json::to_string(&booster).expect("serialises");
        let plain: GradientBooster = serde_json::from_str(&text).expect("forust reads it");
        assert_eq!(plain.trees.len(), booster.trees.len());
        let back: Booster = serde_json::from_str(&text).expect("reads back");
        let row = [3.0, 1.0, 4.0, 1.0];
        assert_eq!(
            back.predict_row(&row).to_bits(),
            booster.predict_row(&row).to_bits()
        );
    }
}
