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

/// Tables are equal when their stored parts are: the index is derived from them.
impl PartialEq for ProductStats {
    fn eq(&self, other: &ProductStats) -> bool {
        self.smoothing == other.smoothing
            && self.prior_next == other.prior_next
            && self.prior_session == other.prior_session
            && self.products == other.products
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
        // Counted by key (a hash probe), named once per product.
        let mut counts: HashMap<ProductKey, (ProductId, [f64; 3])> = HashMap::default();
        let mut total = [0.0; 3];
        for s in sessions {
            let clicks = s.session.clicks();
            let converted = if s.outcome.converted { 1.0 } else { 0.0 };
            for (i, click) in clicks.iter().enumerate().take(s.valid_prefixes) {
                let key = click.product();
                let next_same = clicks.get(i + 1).is_some_and(|n| n.product() == key);
                let add = [1.0, if next_same { 1.0 } else { 0.0 }, converted];
                let (_, entry) = counts
                    .entry(key)
                    .or_insert_with(|| (click.product_id(), [0.0; 3]));
                for j in 0..3 {
                    entry[j] += add[j];
                    total[j] += add[j];
                }
            }
        }
        let prior_next = if total[0] > 0.0 {
            total[1] / total[0]
        } else {
            0.0
        };
        let prior_session = if total[0] > 0.0 {
            total[2] / total[0]
        } else {
            0.0
        };
        let products = counts
            .into_values()
            .map(|(id, [n, next, conv])| {
                (
                    id,
                    [
                        (next + smoothing * prior_next) / (n + smoothing),
                        (conv + smoothing * prior_session) / (n + smoothing),
                    ],
                )
            })
            .collect();
        ProductStats::new(smoothing, prior_next, prior_session, products)
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
