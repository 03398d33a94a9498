//! Turns labelled sessions into example matrices: one row per valid prefix (for the
//! conversion and revenue models) or per full session (for segments).
//!
//! Training stores its matrices as `f32` (the default element type): they are most of
//! what its memory holds, and the eighth significant digit of a feature moved the
//! April-July July figures by less than 0.0001 (docs/performance.md). The feature code
//! still computes every row in `f64`, as the service does, and each value is rounded once
//! as it is stored. `evaluate` keeps `f64` rows: it judges the served models on exactly
//! the rows the service gives them.

use crate::domain::sample::SessionHash;
use crate::domain::AnySession;
use crate::features::{self, ClickValues, FoldCounts, Plan, ProductStats};
use crate::labels::LabelledSession;
use ndarray::{Array2, ArrayView2, Axis};
use num_traits::AsPrimitive;
use rayon::prelude::*;

/// What a matrix can be stored in: `f32` or `f64`, filled from the feature code's `f64`
/// (rounded to nearest; beyond `f32`'s range a value becomes infinite, never a panic).
pub trait Element: Copy + Default + Send + Sync + Into<f64> + 'static {
    fn from_f64(v: f64) -> Self;
}

impl<F> Element for F
where
    F: Copy + Default + Send + Sync + Into<f64> + 'static,
    f64: AsPrimitive<F>,
{
    fn from_f64(v: f64) -> F {
        v.as_()
    }
}

/// Rows widened to `f64` at a time by [`predict_widened`]: a few megabytes, against the
/// whole matrix's size in `f64`.
const WIDEN_ROWS: usize = 8192;

/// A model's predictions for `f32` rows, for models that read `f64` (as the served ones
/// do): the rows are widened a chunk at a time, so the `f64` copy never exceeds a chunk.
pub fn predict_widened<T>(
    x: ArrayView2<f32>,
    predict: impl Fn(ArrayView2<f64>) -> Vec<T>,
) -> Vec<T> {
    let mut out = Vec::with_capacity(x.nrows());
    for chunk in x.axis_chunks_iter(Axis(0), WIDEN_ROWS) {
        out.extend(predict(chunk.mapv(f64::from).view()));
    }
    out
}

/// The valid prefixes of some sessions, one row each, with the contract's weights.
#[derive(Debug, Clone)]
pub struct PrefixSet<F = f32> {
    pub features: Array2<F>,
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

impl<F: Element> PrefixSet<F> {
    /// Rows for scoring with a model's product table (validation, evaluation).
    pub fn build<S: AnySession>(
        plan: &Plan,
        sessions: &[&LabelledSession<S>],
        products: &ProductStats,
    ) -> PrefixSet<F>
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
    ) -> (PrefixSet<F>, ProductStats)
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
    ) -> PrefixSet<F>
    where
        S::Click: ClickValues,
    {
        let width = plan.len();
        let n: usize = sessions.iter().map(|s| s.valid_prefixes).sum();
        let mut features = Array2::from_elem((n, width), F::default());
        // Each session writes its own rows in place: no second copy of the matrix is held
        // while it is assembled.
        let mut blocks = Vec::with_capacity(sessions.len());
        let mut rest = features.view_mut();
        for s in sessions {
            let (block, after) = rest.split_at(Axis(0), s.valid_prefixes);
            blocks.push(block);
            rest = after;
        }
        blocks
            .into_par_iter()
            .zip(sessions.par_iter())
            .enumerate()
            .for_each(|(i, (mut block, s))| {
                let k = s.valid_prefixes;
                let mut row = vec![0.0; width];
                // One accumulator fed click by click: prefix t costs one click's work, not
                // t clicks' (a long session would otherwise cost the square of its length).
                let mut acc = features::Accumulator::with_capacity(plan, products_for(i), k);
                for (click, mut out) in s.session.clicks()[..k].iter().zip(block.rows_mut()) {
                    acc.push(click);
                    acc.write(&mut row);
                    out.iter_mut()
                        .zip(&row)
                        .for_each(|(o, &v)| *o = F::from_f64(v));
                }
            });
        let mut set = PrefixSet {
            features,
            converted: Vec::with_capacity(n),
            revenue: Vec::with_capacity(n),
            weight: Vec::with_capacity(n),
            session: Vec::with_capacity(n),
            prefix_len: Vec::with_capacity(n),
        };
        for (i, s) in sessions.iter().enumerate() {
            for (t, w) in s.prefixes() {
                set.converted.push(s.outcome.converted);
                set.revenue.push(s.outcome.revenue);
                set.weight.push(w);
                set.session.push(i);
                set.prefix_len.push(t);
            }
        }
        debug_assert_eq!(set.weight.len(), n, "one weight per valid prefix");
        set
    }
}

impl<F> PrefixSet<F> {
    pub fn len(&self) -> usize {
        self.weight.len()
    }

    pub fn is_empty(&self) -> bool {
        self.weight.is_empty()
    }
}

impl<F: Clone> PrefixSet<F> {
    /// The rows of the converting sessions only (for the conditional revenue model).
    pub fn converting(&self) -> PrefixSet<F> {
        let rows: Vec<usize> = (0..self.len()).filter(|&i| self.converted[i]).collect();
        self.select(&rows)
    }

    pub fn select(&self, rows: &[usize]) -> PrefixSet<F> {
        fn pick<T: Copy>(v: &[T], rows: &[usize]) -> Vec<T> {
            rows.iter().map(|&i| v[i]).collect()
        }
        PrefixSet {
            features: self.features.select(Axis(0), rows),
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
pub fn full_sessions<F: Element, S: AnySession>(
    plan: &Plan,
    sessions: &[&LabelledSession<S>],
) -> Array2<F>
where
    S::Click: ClickValues,
{
    let none = ProductStats::default();
    let mut out = Array2::from_elem((sessions.len(), plan.len()), F::default());
    out.axis_iter_mut(Axis(0))
        .into_par_iter()
        .zip(sessions.par_iter())
        .for_each(|(mut out, s)| {
            let mut row = vec![0.0; plan.len()];
            features::extract_into(plan, s.session.clicks(), &none, &mut row);
            out.iter_mut()
                .zip(&row)
                .for_each(|(o, &v)| *o = F::from_f64(v));
        });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::session::tests::click;
    use crate::domain::{Session, SessionId};
    use crate::labels::label_sessions;

    /// Checks that every stored `f32` value is the feature code's `f64` value rounded once
    /// (so within half an `f32` step of it), that the `f64` set holds that value to the
    /// bit, and that each row sits at its prefix's place. Returns how many values the
    /// rounding changed.
    fn assert_rows_are_the_feature_codes(
        labelled: &[LabelledSession<Session>],
        products: &ProductStats,
    ) -> usize {
        let plan = Plan::uci();
        let sessions: Vec<&LabelledSession<Session>> = labelled.iter().collect();
        let stored: PrefixSet<f32> = PrefixSet::build(plan, &sessions, products);
        let exact: PrefixSet<f64> = PrefixSet::build(plan, &sessions, products);
        let valid: usize = sessions.iter().map(|s| s.valid_prefixes).sum();
        assert_eq!((stored.len(), exact.len()), (valid, valid));
        let full_stored: Array2<f32> = full_sessions(plan, &sessions);
        let none = ProductStats::default();
        let mut rounded = 0;
        let mut check = |what: &str, v: f64, stored: f32, exact: f64| {
            assert_eq!(exact.to_bits(), v.to_bits(), "{what}: f64 {exact} != {v}");
            assert_eq!(
                stored.to_bits(),
                (v as f32).to_bits(),
                "{what}: f32 {stored} for {v}"
            );
            let off = (f64::from(stored) - v).abs();
            assert!(
                off <= v.abs() * f64::from(f32::EPSILON) / 2.0
                    || v.abs() < f64::from(f32::MIN_POSITIVE),
                "{what}: {stored} is {off} from {v}"
            );
            rounded += usize::from(f64::from(stored) != v);
        };
        for i in 0..stored.len() {
            let s = sessions[stored.session[i]];
            let t = stored.prefix_len[i];
            let row = features::row(plan, &s.session.clicks()[..t], products);
            for (j, &v) in row.iter().enumerate() {
                let what = format!("{} prefix {t}, {}", s.session.name(), plan.names()[j]);
                check(&what, v, stored.features[(i, j)], exact.features[(i, j)]);
            }
        }
        for (i, s) in sessions.iter().enumerate() {
            let row = features::row(plan, s.session.clicks(), &none);
            for (j, &v) in row.iter().enumerate() {
                let what = format!("{} whole, {}", s.session.name(), plan.names()[j]);
                check(&what, v, full_stored[(i, j)], v);
            }
        }
        rounded
    }

    #[test]
    fn stored_f32_rows_are_the_feature_codes_rows_rounded_once() {
        // Prices with fractions no f32 holds, sessions of several lengths (one converting
        // at its third click), so rows are placed across sessions and rounding happens.
        let clicks = |n: usize, products: &[&str]| -> Vec<crate::domain::Click> {
            (0..n)
                .map(|k| {
                    click(
                        k as i64 + 1,
                        products[k % products.len()],
                        10.0 + k as f64 / 97.0,
                    )
                })
                .collect()
        };
        let typed: Vec<Session> = [
            clicks(1, &["A1"]),
            clicks(7, &["A1", "B2", "C3"]),
            clicks(4, &["P4", "P4"]),
            clicks(12, &["B2", "A3", "C1", "A1"]),
        ]
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let id = SessionId::parse(&format!("s{i}")).expect("a valid id");
            Session::new(id, c).expect("a valid session").0
        })
        .collect();
        let (labelled, _) = label_sessions(typed, None).expect("proxy labels");
        let products = ProductStats::fit(&labelled, 3.0);
        let rounded = assert_rows_are_the_feature_codes(&labelled, &products);
        assert!(
            rounded > 0,
            "no value needed rounding: the check saw nothing"
        );
    }

    #[test]
    fn stored_f32_rows_of_the_real_file_are_its_feature_rows_rounded_once() {
        let Some(path) = crate::data_file::real_data_or_skip() else {
            return;
        };
        let data = crate::labels::read_labelled(&path, None, Default::default())
            .expect("the real file reads");
        let products = ProductStats::fit(&data.sessions, 20.0);
        assert!(assert_rows_are_the_feature_codes(&data.sessions, &products) > 0);
    }
}
