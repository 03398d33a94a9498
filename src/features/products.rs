//! The product table: what training taught about each product, read by the product-rate
//! families.

use crate::domain::{AnyClick, AnySession, ProductId, ProductKey};
use crate::labels::LabelledSession;
use foldhash::HashMap;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What training taught about each product: how often a valid click on it was followed by
/// a click on the same product (the basket event), and how often sessions viewing it
/// converted. Rates are smoothed towards the overall rate by `smoothing` pseudo-clicks so
/// that rare products fall back on the average. A model stores the table it was trained
/// with; an empty table gives every product the priors.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(from = "Table")]
pub struct ProductStats {
    pub smoothing: f64,
    pub prior_next: f64,
    pub prior_session: f64,
    /// Per product: [next-click rate, session conversion rate], both smoothed. The model
    /// file's order; read through `index`.
    pub products: BTreeMap<ProductId, [f64; 2]>,
    /// The same rates hashed, built once when the table is made or read: every click a
    /// model scores looks its product up, and a hash probe costs a third of the ordered
    /// map's walk.
    #[serde(skip)]
    index: HashMap<ProductKey, [f64; 2]>,
}

/// The table as a model file stores it.
#[derive(Deserialize)]
struct Table {
    smoothing: f64,
    prior_next: f64,
    prior_session: f64,
    products: BTreeMap<ProductId, [f64; 2]>,
}

impl From<Table> for ProductStats {
    fn from(t: Table) -> ProductStats {
        ProductStats::new(t.smoothing, t.prior_next, t.prior_session, t.products)
    }
}

/// Tables are equal when they give every product the same rates: a table for looking up
/// only ([`ProductCounts::lookup`]) equals the full table of the same counts.
impl PartialEq for ProductStats {
    fn eq(&self, other: &ProductStats) -> bool {
        self.smoothing == other.smoothing
            && self.prior_next == other.prior_next
            && self.prior_session == other.prior_session
            && self.index == other.index
    }
}

impl ProductStats {
    /// A table of these rates, indexed.
    pub fn new(
        smoothing: f64,
        prior_next: f64,
        prior_session: f64,
        products: BTreeMap<ProductId, [f64; 2]>,
    ) -> ProductStats {
        let index = products.iter().map(|(k, &v)| (k.key(), v)).collect();
        ProductStats {
            smoothing,
            prior_next,
            prior_session,
            products,
            index,
        }
    }

    /// Learns the table from the valid clicks (those of valid prefixes) of `sessions`.
    pub fn fit<'a, S: AnySession + 'a>(
        sessions: impl IntoIterator<Item = &'a LabelledSession<S>>,
        smoothing: f64,
    ) -> ProductStats {
        let mut counts = ProductCounts::default();
        for s in sessions {
            counts.add(s);
        }
        counts.stats(smoothing)
    }

    /// Whether training saw the product.
    pub fn knows(&self, product: ProductKey) -> bool {
        self.index.contains_key(&product)
    }

    pub(super) fn rates(&self, product: ProductKey) -> [f64; 2] {
        self.index
            .get(&product)
            .copied()
            .unwrap_or([self.prior_next, self.prior_session])
    }
}

/// What a table is learned from: per product, its valid clicks, those followed by a click
/// on the same product, and those in converting sessions; and the same over all products.
/// Counts add and subtract exactly (whole numbers in `f64`), so a table learned from counts
/// summed over folds or passes is the table learned from the sessions at once.
#[derive(Debug, Clone, Default)]
pub struct ProductCounts {
    // Counted by key (a hash probe), named once per product.
    by_product: HashMap<ProductKey, (ProductId, [f64; 3])>,
    total: [f64; 3],
}

impl ProductCounts {
    /// Counts the valid clicks (those of valid prefixes) of a session.
    pub fn add<S: AnySession>(&mut self, s: &LabelledSession<S>) {
        let clicks = s.session.clicks();
        let converted = if s.outcome.converted { 1.0 } else { 0.0 };
        for (i, click) in clicks.iter().enumerate().take(s.valid_prefixes) {
            let key = click.product();
            let next_same = clicks.get(i + 1).is_some_and(|n| n.product() == key);
            let add = [1.0, if next_same { 1.0 } else { 0.0 }, converted];
            let (_, entry) = self
                .by_product
                .entry(key)
                .or_insert_with(|| (click.product_id(), [0.0; 3]));
            for j in 0..3 {
                entry[j] += add[j];
                self.total[j] += add[j];
            }
        }
    }

    /// These counts and `more`'s.
    pub fn plus(&mut self, more: &ProductCounts) {
        for (key, (id, add)) in &more.by_product {
            let (_, entry) = self
                .by_product
                .entry(*key)
                .or_insert_with(|| (id.clone(), [0.0; 3]));
            for j in 0..3 {
                entry[j] += add[j];
            }
        }
        for j in 0..3 {
            self.total[j] += more.total[j];
        }
    }

    /// These counts less `part`'s, which they include: a product left with no click is
    /// gone, as it is from a table learned without `part`'s sessions.
    pub fn minus(&self, part: &ProductCounts) -> ProductCounts {
        let mut out = self.clone();
        for (key, (_, less)) in &part.by_product {
            if let Some((_, entry)) = out.by_product.get_mut(key) {
                for j in 0..3 {
                    entry[j] -= less[j];
                }
                if entry[0] <= 0.0 {
                    out.by_product.remove(key);
                }
            }
        }
        for j in 0..3 {
            out.total[j] -= part.total[j];
        }
        out
    }

    /// The table of these counts' rates, smoothed by `smoothing` pseudo-clicks.
    pub fn stats(&self, smoothing: f64) -> ProductStats {
        let (prior_next, prior_session) = self.priors();
        let products = self
            .by_product
            .values()
            .map(|(id, counts)| (id.clone(), self.rates(counts, smoothing)))
            .collect();
        ProductStats::new(smoothing, prior_next, prior_session, products)
    }

    /// The same table for looking rates up only, without the products' names: what the
    /// out-of-fold tables of training rows are. Five of them are held at once, and for a
    /// shop of a million SKUs the names would be most of their memory.
    pub fn lookup(&self, smoothing: f64) -> ProductStats {
        let (prior_next, prior_session) = self.priors();
        ProductStats {
            smoothing,
            prior_next,
            prior_session,
            products: BTreeMap::new(),
            index: self
                .by_product
                .iter()
                .map(|(key, (_, counts))| (*key, self.rates(counts, smoothing)))
                .collect(),
        }
    }

    /// The overall rates: next-click and session conversion over every valid click.
    fn priors(&self) -> (f64, f64) {
        let total = self.total;
        if total[0] > 0.0 {
            (total[1] / total[0], total[2] / total[0])
        } else {
            (0.0, 0.0)
        }
    }

    /// A product's rates from its counts, smoothed towards the priors.
    fn rates(&self, [n, next, conv]: &[f64; 3], smoothing: f64) -> [f64; 2] {
        let (prior_next, prior_session) = self.priors();
        [
            (next + smoothing * prior_next) / (n + smoothing),
            (conv + smoothing * prior_session) / (n + smoothing),
        ]
    }
}

/// Product counts by fold (a session's fold is its session hash's, docs/sampling.md): what
/// the out-of-fold tables of training rows are made from, whether the sessions are those
/// held or every session of the stream (`train`'s census of a sampled file).
#[derive(Debug, Clone)]
pub struct FoldCounts {
    folds: Vec<ProductCounts>,
}

impl FoldCounts {
    /// Empty counts of `folds` folds.
    pub fn new(folds: usize) -> FoldCounts {
        FoldCounts {
            folds: vec![ProductCounts::default(); folds.max(1)],
        }
    }

    /// The counts of `sessions`, each in the fold `fold_of` gives it.
    pub fn of<'a, S: AnySession + 'a>(
        sessions: impl IntoIterator<Item = &'a LabelledSession<S>>,
        folds: usize,
        fold_of: impl Fn(&LabelledSession<S>) -> usize,
    ) -> FoldCounts {
        let mut counts = FoldCounts::new(folds);
        for s in sessions {
            counts.add(fold_of(s), s);
        }
        counts
    }

    pub fn folds(&self) -> usize {
        self.folds.len()
    }

    pub fn add<S: AnySession>(&mut self, fold: usize, s: &LabelledSession<S>) {
        let folds = self.folds.len();
        self.folds[fold % folds].add(s);
    }

    /// These counts and `more`'s, fold by fold.
    pub fn plus(&mut self, more: &FoldCounts) {
        for (mine, theirs) in self.folds.iter_mut().zip(&more.folds) {
            mine.plus(theirs);
        }
    }

    /// Every fold's counts together.
    pub fn all(&self) -> ProductCounts {
        let mut all = ProductCounts::default();
        for fold in &self.folds {
            all.plus(fold);
        }
        all
    }

    /// Each fold's table learned without that fold's sessions (for looking up only), and
    /// the table of all.
    pub fn tables(&self, smoothing: f64) -> (Vec<ProductStats>, ProductStats) {
        let all = self.all();
        let out_of_fold = self
            .folds
            .iter()
            .map(|fold| all.minus(fold).lookup(smoothing))
            .collect();
        (out_of_fold, all.stats(smoothing))
    }
}
