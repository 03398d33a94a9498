//! The product table: what training taught about each product, read by the product-rate
//! families.

use crate::domain::{AnyClick, AnySession, ProductId, ProductKey};
use crate::labels::LabelledSession;
use foldhash::HashMap;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeStruct, Serializer};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};

/// What training taught about each product: how often a valid click on it was followed by
/// a click on the same product (the basket event), and how often sessions viewing it
/// converted. Rates are smoothed towards the overall rate by `smoothing` pseudo-clicks so
/// that rare products fall back on the average. A model stores the table it was trained
/// with; an empty table gives every product the priors.
///
/// Held as the ids in the model file's order and the rates by key, not as an ordered map
/// of ids: a shop's table can hold millions of products, in every process that loads the
/// model, and a map node per product cost more than the ids and rates themselves. The
/// products are shared: by every copy of a table, and by the tables of the models one
/// process loads when they are the same ([`ProductStats::shared`]; a revenue model carries
/// its conversion model's table).
#[derive(Debug, Clone, Default)]
pub struct ProductStats {
    pub smoothing: f64,
    pub prior_next: f64,
    pub prior_session: f64,
    products: Arc<Products>,
}

#[derive(Debug, Default)]
struct Products {
    /// The products, in the model file's order (UCI codes first, by code, then ids as
    /// text); empty in a table for looking up only ([`ProductCounts::lookup_without`]).
    ids: Vec<ProductId>,
    /// Per product: [next-click rate, session conversion rate], both smoothed. Every click
    /// a model scores looks its product up here.
    index: HashMap<ProductKey, [f64; 2]>,
    /// The SHA-256 of the products as the model file writes them, once asked for.
    digest: OnceLock<[u8; 32]>,
}

impl Products {
    fn new(ids: Vec<ProductId>, index: HashMap<ProductKey, [f64; 2]>) -> Arc<Products> {
        Arc::new(Products {
            ids,
            index,
            digest: OnceLock::new(),
        })
    }

    fn rates(&self, product: ProductKey) -> Option<[f64; 2]> {
        self.index.get(&product).copied()
    }

    fn digest(&self) -> [u8; 32] {
        *self.digest.get_or_init(|| {
            use sha2::{Digest, Sha256};
            // Hashed as it is written: a shop's table can be tens of megabytes of JSON, not
            // worth holding to hash. Writing a map of ids to numbers into a hasher cannot
            // fail.
            let mut hash = Sha256::new();
            let _ = serde_json::to_writer(&mut hash, &ById(self));
            hash.finalize().into()
        })
    }
}

/// The products as the model file writes them: ids to rates, in the table's order.
struct ById<'a>(&'a Products);

impl Serialize for ById<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let products = self.0;
        serializer.collect_map(products.ids.iter().map(|id| (id, products.rates(id.key()))))
    }
}

/// Tables are equal when they give every product the same rates: a table for looking up
/// only ([`ProductCounts::lookup_without`]) equals the full table of the same counts.
impl PartialEq for ProductStats {
    fn eq(&self, other: &ProductStats) -> bool {
        self.smoothing == other.smoothing
            && self.prior_next == other.prior_next
            && self.prior_session == other.prior_session
            && (Arc::ptr_eq(&self.products, &other.products)
                || self.products.index == other.products.index)
    }
}

impl ProductStats {
    /// A table of these rates, in the model file's order. Of ids sharing a key (the same
    /// id twice, or two ids whose hashes meet), the first in that order is kept, so that the
    /// file never names what it cannot read back.
    pub fn new(
        smoothing: f64,
        prior_next: f64,
        prior_session: f64,
        products: impl IntoIterator<Item = (ProductId, [f64; 2])>,
    ) -> ProductStats {
        let mut products: Vec<(ProductId, [f64; 2])> = products.into_iter().collect();
        products.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut index = HashMap::default();
        let mut ids = Vec::with_capacity(products.len());
        for (id, rates) in products {
            if let std::collections::hash_map::Entry::Vacant(slot) = index.entry(id.key()) {
                slot.insert(rates);
                ids.push(id);
            }
        }
        ProductStats {
            smoothing,
            prior_next,
            prior_session,
            products: Products::new(ids, index),
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
        self.products.index.contains_key(&product)
    }

    /// Whether the table knows no product (every product gets the priors).
    pub fn is_empty(&self) -> bool {
        self.products.index.is_empty()
    }

    /// The products the table names, with their rates, in the model file's order.
    pub fn products(&self) -> impl Iterator<Item = (&ProductId, [f64; 2])> + '_ {
        self.products
            .ids
            .iter()
            .map(|id| (id, self.rates(id.key())))
    }

    /// A digest of the table's content as the model file writes it: loaded tables of the
    /// same digest give every product the same rates. (A table for looking up only writes
    /// no product: its digest is its priors'.)
    pub fn digest(&self) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        for prior in [self.smoothing, self.prior_next, self.prior_session] {
            hash.update(prior.to_bits().to_le_bytes());
        }
        hash.update(self.products.digest());
        hash.finalize().into()
    }

    /// This table, its products shared with those of an equal table already loaded in this
    /// process and still alive (the conversion model's, for the revenue model that carries
    /// a copy of it), else kept for the next table to share: a million-product table is then
    /// held once, not once per model file that writes it.
    pub fn shared(self) -> ProductStats {
        static LOADED: Mutex<Vec<Weak<Products>>> = Mutex::new(Vec::new());
        let digest = self.products.digest();
        let mut loaded = LOADED.lock().unwrap_or_else(PoisonError::into_inner);
        loaded.retain(|table| table.strong_count() > 0);
        let same = loaded
            .iter()
            .filter_map(Weak::upgrade)
            .find(|table| table.digest() == digest && table.index == self.products.index);
        match same {
            Some(products) => ProductStats { products, ..self },
            None => {
                loaded.push(Arc::downgrade(&self.products));
                self
            }
        }
    }

    /// Whether the two tables hold one copy of their products between them.
    #[cfg(test)]
    pub(crate) fn shares_products_with(&self, other: &ProductStats) -> bool {
        Arc::ptr_eq(&self.products, &other.products)
    }

    pub(super) fn rates(&self, product: ProductKey) -> [f64; 2] {
        self.products
            .rates(product)
            .unwrap_or([self.prior_next, self.prior_session])
    }
}

// The model file's form: `{smoothing, prior_next, prior_session, products: {id: rates}}`,
// the products in the table's order, as the ordered map this table once was wrote them.
impl Serialize for ProductStats {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut table = serializer.serialize_struct("ProductStats", 4)?;
        table.serialize_field("smoothing", &self.smoothing)?;
        table.serialize_field("prior_next", &self.prior_next)?;
        table.serialize_field("prior_session", &self.prior_session)?;
        table.serialize_field("products", &ById(&self.products))?;
        table.end()
    }
}

impl<'de> Deserialize<'de> for ProductStats {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Table {
            smoothing: f64,
            prior_next: f64,
            prior_session: f64,
            products: Entries,
        }
        let t = Table::deserialize(deserializer)?;
        Ok(ProductStats {
            smoothing: t.smoothing,
            prior_next: t.prior_next,
            prior_session: t.prior_session,
            products: Products::new(t.products.ids, t.products.index),
        })
    }
}

/// A model file's products, read entry by entry straight into the ids and the index (no
/// ordered map of a million entries in between, while the file's bytes are still held).
struct Entries {
    ids: Vec<ProductId>,
    index: HashMap<ProductKey, [f64; 2]>,
}

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Reader;
        impl<'de> Visitor<'de> for Reader {
            type Value = Entries;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map of product ids to [next-click rate, conversion rate]")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
                let mut ids = Vec::new();
                let mut index = HashMap::default();
                while let Some((id, rates)) = map.next_entry::<ProductId, [f64; 2]>()? {
                    // Training keys its counts by the same key, so a file naming a product
                    // twice (or two ids of one key) was not written by it.
                    if index.insert(id.key(), rates).is_some() {
                        return Err(de::Error::custom(format!("product {id} appears twice")));
                    }
                    ids.push(id);
                }
                ids.shrink_to_fit();
                index.shrink_to_fit();
                Ok(Entries { ids, index })
            }
        }
        deserializer.deserialize_map(Reader)
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

    /// The table of these counts' rates, smoothed by `smoothing` pseudo-clicks.
    pub fn stats(&self, smoothing: f64) -> ProductStats {
        let (prior_next, prior_session) = self.priors();
        let products = self
            .by_product
            .values()
            .map(|(id, counts)| (id.clone(), self.rates(counts, smoothing)));
        ProductStats::new(smoothing, prior_next, prior_session, products)
    }

    /// The table of these counts less `part`'s (which they include), for looking rates up
    /// only: what the out-of-fold tables of training rows are, the table learned without
    /// `part`'s sessions. A product left with no click is gone, as it is from that table.
    /// Five of them are held at once; made without the products' names and without a copy
    /// of these counts, for a shop of a million SKUs the names and copies would be most of
    /// their memory.
    pub fn lookup_without(&self, part: &ProductCounts, smoothing: f64) -> ProductStats {
        let rest = ProductCounts {
            by_product: HashMap::default(),
            total: std::array::from_fn(|j| self.total[j] - part.total[j]),
        };
        let (prior_next, prior_session) = rest.priors();
        let index = self
            .by_product
            .iter()
            .filter_map(|(key, (_, counts))| {
                let less = part.by_product.get(key).map_or([0.0; 3], |(_, l)| *l);
                let left: [f64; 3] = std::array::from_fn(|j| counts[j] - less[j]);
                (left[0] > 0.0).then(|| (*key, rest.rates(&left, smoothing)))
            })
            .collect();
        ProductStats {
            smoothing,
            prior_next,
            prior_session,
            products: Products::new(Vec::new(), index),
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
            .map(|fold| all.lookup_without(fold, smoothing))
            .collect();
        (out_of_fold, all.stats(smoothing))
    }
}
