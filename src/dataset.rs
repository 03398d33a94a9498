//! Turns labelled sessions into example matrices: one row per valid prefix (for the
//! conversion and revenue models) or per full session (for segments).

use crate::domain::sample::SessionHash;
use crate::domain::AnySession;
use crate::features::{self, ClickValues, FoldCounts, Plan, ProductStats};
use crate::labels::LabelledSession;
use ndarray::Array2;
use rayon::prelude::*;

/// The valid prefixes of some sessions, one row each, with the contract's weights.
#[derive(Debug, Clone)]
pub struct PrefixSet {
    pub features: Array2<f64>,
    pub converted: Vec<bool>,
    /// The realised revenue of the prefix's session.
    pub revenue: Vec<f64>,
    /// 1/k for each of a session's k valid prefixes.
    pub weight: Vec<f64>,
    /// Index of the prefix's session in the slice it was built from.
    pub session: Vec<usize>,
    /// Clicks in the prefix.
    pub prefix_len: Vec<usize>,
}

impl PrefixSet {
    /// Rows for scoring with a model's product table (validation, evaluation).
    pub fn build<S: AnySession>(
        plan: &Plan,
        sessions: &[&LabelledSession<S>],
        products: &ProductStats,
    ) -> PrefixSet
    where
        S::Click: ClickValues,
    {
        Self::build_with(plan, sessions, |_| products)
    }

    /// Rows for fitting: each session's product rates come from a table learned without
    /// its own fold, so a row never sees its own label through them (out-of-fold target
    /// encoding). A session's fold is its session hash's (docs/sampling.md), so it is the
    /// same whatever order or file the sessions came in. The tables are learned from
    /// `counts` when given (the whole stream's, counted as it passed), else from
    /// `sessions`. Returns the rows and the table learned from all the counts, which the
    /// fitted model keeps.
    pub fn build_out_of_fold<S: AnySession>(
        plan: &Plan,
        sessions: &[&LabelledSession<S>],
        folds: usize,
        hash: SessionHash,
        counts: Option<&FoldCounts>,
        smoothing: f64,
    ) -> (PrefixSet, ProductStats)
    where
        S::Click: ClickValues,
    {
        let folds = counts.map_or(folds.max(2), FoldCounts::folds);
        let fold: Vec<usize> = sessions
            .iter()
            .map(|s| hash.fold(s.session.name(), folds))
            .collect();
        let held;
        let counts = match counts {
            Some(counts) => counts,
            None => {
                held = FoldCounts::of(sessions.iter().copied(), folds, |s| {
                    hash.fold(s.session.name(), folds)
                });
                &held
            }
        };
        let (tables, all) = counts.tables(smoothing);
        let set = Self::build_with(plan, sessions, |i| &tables[fold[i]]);
        (set, all)
    }

    fn build_with<'a, S: AnySession>(
        plan: &Plan,
        sessions: &[&LabelledSession<S>],
        products_for: impl Fn(usize) -> &'a ProductStats + Sync,
    ) -> PrefixSet
    where
        S::Click: ClickValues,
    {
        let width = plan.len();
        let per_session: Vec<(Vec<f64>, usize)> = sessions
            .par_iter()
            .enumerate()
            .map(|(i, s)| {
                let k = s.valid_prefixes;
                let products = products_for(i);
                let mut rows = vec![0.0; k * width];
                // One accumulator fed click by click: prefix t costs one click's work, not
                // t clicks' (a long session would otherwise cost the square of its length).
                let mut acc = features::Accumulator::with_capacity(plan, products, k);
                for (click, row) in s.session.clicks()[..k]
                    .iter()
                    .zip(rows.chunks_exact_mut(width))
                {
                    acc.push(click);
                    acc.write(row);
                }
                (rows, k)
            })
            .collect();
        let n: usize = per_session.iter().map(|(_, k)| k).sum();
        let mut data = Vec::with_capacity(n * width);
        let mut set = PrefixSet {
            features: Array2::zeros((0, width)),
            converted: Vec::with_capacity(n),
            revenue: Vec::with_capacity(n),
            weight: Vec::with_capacity(n),
            session: Vec::with_capacity(n),
            prefix_len: Vec::with_capacity(n),
        };
        for (i, ((rows, k), s)) in per_session.into_iter().zip(sessions).enumerate() {
            data.extend_from_slice(&rows);
            for (t, w) in s.prefixes() {
                set.converted.push(s.outcome.converted);
                set.revenue.push(s.outcome.revenue);
                set.weight.push(w);
                set.session.push(i);
                set.prefix_len.push(t);
            }
            debug_assert_eq!(set.weight.len() * width, data.len(), "{k} rows");
        }
        set.features = Array2::from_shape_vec((n, width), data)
            .expect("rows were written one plan's width at a time");
        set
    }

    pub fn len(&self) -> usize {
        self.weight.len()
    }

    pub fn is_empty(&self) -> bool {
        self.weight.is_empty()
    }

    /// The rows of the converting sessions only (for the conditional revenue model).
    pub fn converting(&self) -> PrefixSet {
        let rows: Vec<usize> = (0..self.len()).filter(|&i| self.converted[i]).collect();
        self.select(&rows)
    }

    pub fn select(&self, rows: &[usize]) -> PrefixSet {
        fn pick<T: Copy>(v: &[T], rows: &[usize]) -> Vec<T> {
            rows.iter().map(|&i| v[i]).collect()
        }
        PrefixSet {
            features: self.features.select(ndarray::Axis(0), rows),
            converted: pick(&self.converted, rows),
            revenue: pick(&self.revenue, rows),
            weight: pick(&self.weight, rows),
            session: pick(&self.session, rows),
            prefix_len: pick(&self.prefix_len, rows),
        }
    }
}

/// Features of whole sessions, one row each (segments describe the full visit; they use
/// no product rates, so none are given).
pub fn full_sessions<S: AnySession>(plan: &Plan, sessions: &[&LabelledSession<S>]) -> Array2<f64>
where
    S::Click: ClickValues,
{
    let none = ProductStats::default();
    let mut out = Array2::zeros((sessions.len(), plan.len()));
    out.axis_iter_mut(ndarray::Axis(0))
        .into_par_iter()
        .zip(sessions.par_iter())
        .for_each(|(mut row, s)| {
            if let Some(row) = row.as_slice_mut() {
                features::extract_into(plan, s.session.clicks(), &none, row);
            }
        });
    out
}
