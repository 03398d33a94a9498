//! A second shop for the catalogue work (issue 18): a hiking-gear web shop's clickstream,
//! generated with a planted signal whose best achievable score is known exactly.
//!
//! cargo run --release --example second_shop -- --out DIR [--sessions N] [--seed S]
//!
//! Writes `clicks.csv`, `orders.csv`, `schema.toml`, `truth.csv` and `truth.json` into DIR.
//! `examples/second-shop/README.md` documents the model, every parameter below and the
//! formula of `best_score`; the same seed gives byte-identical files.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use clap::Parser;
use rand::distributions::{Distribution, WeightedIndex};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// The shop's schema, the committed copy written as is, so the two cannot drift apart.
pub const SCHEMA: &str = include_str!("second-shop/schema.toml");

// ---- The planted model's parameters (index 0: a browser, z = 0; index 1: a buyer, z = 1).

/// P(z = 1): the share of sessions with an intent to buy.
pub const INTENT_SHARE: f64 = 0.10;
/// P(converted | z).
pub const CONVERT: [f64; 2] = [0.01, 0.90];
/// P(n >= t + 1 | n >= t, z): another click follows, up to `MAX_CLICKS`.
pub const CONTINUE: [f64; 2] = [0.70, 0.86];
/// The longest session; the continuation's remaining mass falls on it.
pub const MAX_CLICKS: usize = 30;
/// Devices, one per session.
pub const DEVICES: [&str; 3] = ["desktop", "mobile", "tablet"];
/// P(device | z), in the order of `DEVICES`.
pub const DEVICE: [[f64; 3]; 2] = [[0.36, 0.52, 0.12], [0.50, 0.38, 0.12]];
/// Seconds between two clicks: a bucket by `GAP`, then a whole number of seconds uniform
/// within it (bounds included).
pub const GAP_BUCKETS: [(i64, i64); 6] = [
    (1, 10),
    (11, 30),
    (31, 60),
    (61, 120),
    (121, 300),
    (301, 600),
];
/// P(bucket | z), in the order of `GAP_BUCKETS`: buyers read product pages longer.
pub const GAP: [[f64; 6]; 2] = [
    [0.28, 0.30, 0.19, 0.12, 0.08, 0.03],
    [0.06, 0.16, 0.26, 0.28, 0.18, 0.06],
];
/// P(the next click stays in the current click's subtree | z): the next leaf is drawn by
/// popularity within the subtree (the category at depth 2) with this probability, else by
/// popularity over the whole shop.
pub const STAY: [f64; 2] = [0.35, 0.90];
/// The taste for price: a product's weight within its leaf has the factor
/// exp(PRICE_TASTE[z] * ln(price / mean price of its depth-2 category)).
pub const PRICE_TASTE: [f64; 2] = [0.2, -0.8];
/// The weight factor of a product launched in the last `NEW_DAYS` days.
pub const NEW_TASTE: [f64; 2] = [1.0, 2.5];
/// How long a launched product counts as new.
pub const NEW_DAYS: i64 = 21;

// ---- The catalogue and the calendar.

/// Products of each leaf in the catalogue before the first day.
pub const BASE_PRODUCTS_PER_LEAF: usize = 24;
/// Products of each leaf launched during the period, each on a day uniform over it.
pub const LAUNCHED_PER_LEAF: usize = 10;
/// A product's price is its leaf's base price times exp(u), u uniform in this range, then
/// rounded to a whole euro less one cent (at least 4.99).
pub const PRICE_SPREAD: f64 = 0.6;
/// The first day, and how many days there are (April to June: the last 30 are June).
pub const FIRST_DAY: (i32, u32, u32) = (2026, 4, 1);
pub const DAYS: i64 = 91;
/// The trailing days whose sessions the second known best is computed over: the calendar
/// month the trainer validates on by default.
pub const LAST_DAYS: i64 = 30;
/// Saturdays and Sundays have this many times a weekday's sessions.
pub const WEEKEND_WEIGHT: f64 = 1.3;
/// A session starts at a second uniform in [7:00, 18:00) UTC; at most 29 gaps of at most
/// 600 s end it before 23:00, so no session crosses a day.
pub const FIRST_START: i64 = 7 * 3600;
pub const LAST_START: i64 = 18 * 3600;
/// Customers: a pool of this share of the session count, one drawn per session
/// independently of everything else (a passthrough id carries no signal).
pub const CUSTOMERS_PER_SESSION: f64 = 0.6;
/// A converted session's revenue: the prices of 2 of its distinct viewed products with
/// this probability (when it viewed 2 or more), else of 1.
pub const TWO_PRODUCTS: f64 = 0.35;

/// The category tree: leaf path, popularity weight, base price in EUR. The subtree of a
/// leaf is its first two parts; leaves of one subtree are priced alike, so a price relative
/// to the subtree's mean is what a model sees as the price relative to its category.
pub const LEAVES: [(&str, f64, f64); 42] = [
    ("footwear/boots/winter", 3.0, 190.0),
    ("footwear/boots/hiking", 6.0, 170.0),
    ("footwear/boots/approach", 2.0, 150.0),
    ("footwear/shoes/trail-running", 5.0, 130.0),
    ("footwear/shoes/walking", 4.0, 110.0),
    ("footwear/shoes/sandals", 2.0, 95.0),
    ("footwear/socks/merino", 4.0, 22.0),
    ("footwear/socks/liner", 2.0, 15.0),
    ("clothing/jackets/hardshell", 5.0, 260.0),
    ("clothing/jackets/softshell", 3.0, 190.0),
    ("clothing/jackets/insulated", 3.0, 230.0),
    ("clothing/layers/fleece", 4.0, 80.0),
    ("clothing/layers/base-layer", 4.0, 60.0),
    ("clothing/layers/midlayer", 3.0, 95.0),
    ("clothing/trousers/hiking", 5.0, 85.0),
    ("clothing/trousers/shorts", 3.0, 65.0),
    ("clothing/trousers/overtrousers", 2.0, 100.0),
    ("clothing/headwear/beanies", 2.0, 25.0),
    ("clothing/headwear/caps", 2.0, 22.0),
    ("clothing/headwear/sun-hats", 2.0, 30.0),
    ("packs/daypacks/15-25l", 4.0, 75.0),
    ("packs/daypacks/26-35l", 4.0, 95.0),
    ("packs/backpacks/36-50l", 3.0, 170.0),
    ("packs/backpacks/51-70l", 2.0, 210.0),
    ("packs/bags/dry-bags", 2.0, 20.0),
    ("packs/bags/hip-packs", 2.0, 30.0),
    ("camping/tents/1-person", 2.0, 250.0),
    ("camping/tents/2-person", 3.0, 320.0),
    ("camping/tents/3-person", 1.0, 390.0),
    ("camping/sleeping/sleeping-bags", 3.0, 190.0),
    ("camping/sleeping/mats", 3.0, 120.0),
    ("camping/sleeping/quilts", 1.0, 170.0),
    ("camping/cooking/stoves", 3.0, 70.0),
    ("camping/cooking/cookware", 2.0, 55.0),
    ("camping/cooking/water-filters", 2.0, 60.0),
    ("accessories/navigation/compasses", 2.0, 45.0),
    ("accessories/navigation/altimeters", 1.0, 60.0),
    ("accessories/navigation/map-cases", 1.0, 30.0),
    ("accessories/poles/trekking", 3.0, 90.0),
    ("accessories/poles/nordic", 2.0, 70.0),
    ("accessories/lighting/headlamps", 4.0, 45.0),
    ("accessories/lighting/lanterns", 2.0, 40.0),
];

#[derive(Parser, Debug)]
#[command(about = "Generates the hiking-gear shop's clickstream, outcomes, schema and truth")]
struct Args {
    /// The folder to write into (made when missing).
    #[arg(long)]
    out: PathBuf,
    /// How many sessions.
    #[arg(long, default_value_t = 20_000)]
    sessions: usize,
    /// The random seed: the same seed gives byte-identical files.
    #[arg(long, default_value_t = 2026)]
    seed: u64,
}

/// One product of the catalogue.
#[derive(Debug, Clone)]
pub struct Product {
    pub sku: String,
    pub leaf: usize,
    pub price: f64,
    /// The day it went on sale: negative for the catalogue before the first day.
    pub launch_day: i64,
    /// ln(price / mean price of its subtree).
    pub relative_price: f64,
}

/// The products, the tree, and each leaf's products by the day's choice weights.
#[derive(Debug, Clone)]
pub struct Catalogue {
    pub products: Vec<Product>,
    /// The subtree (index into `subtrees`) of each leaf.
    pub subtree_of: Vec<usize>,
    /// Each subtree's path and leaves.
    pub subtrees: Vec<(String, Vec<usize>)>,
    /// The products of each leaf.
    pub by_leaf: Vec<Vec<usize>>,
    /// Sum of the choice weights of the products on sale in a leaf on a day, per intent:
    /// `normaliser[z][leaf * DAYS + day]`.
    normaliser: [Vec<f64>; 2],
}

/// What one click shows: the time and the product (its leaf and price follow from it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Click {
    /// Seconds since the Unix epoch.
    pub time: i64,
    pub product: usize,
}

/// One generated session: what the files show, and the latent intent behind it.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    pub device: usize,
    pub customer: usize,
    pub clicks: Vec<Click>,
    pub intent: bool,
    pub converted: bool,
    pub revenue: f64,
}

/// A generated shop.
#[derive(Debug, Clone)]
pub struct Shop {
    pub catalogue: Catalogue,
    pub sessions: Vec<Session>,
}

/// Seconds since the Unix epoch of the first day's midnight, UTC.
pub fn first_midnight() -> i64 {
    let (y, m, d) = FIRST_DAY;
    NaiveDate::from_ymd_opt(y, m, d)
        .and_then(|day| day.and_hms_opt(0, 0, 0))
        .map_or(0, |t| t.and_utc().timestamp())
}

/// The day index (0 = the first day) of a time.
pub fn day_of(time: i64) -> i64 {
    (time - first_midnight()).div_euclid(86_400)
}

/// The choice weight of a product on a day under an intent, before normalising within
/// its leaf.
pub fn choice_weight(product: &Product, day: i64, z: usize) -> f64 {
    let new = product.launch_day >= 0 && day - product.launch_day < NEW_DAYS;
    let taste = (PRICE_TASTE[z] * product.relative_price).exp();
    if new {
        taste * NEW_TASTE[z]
    } else {
        taste
    }
}

/// Whether a product is on sale on a day.
pub fn on_sale(product: &Product, day: i64) -> bool {
    product.launch_day <= day
}

/// The bucket of a gap between clicks, when it is within the buckets.
pub fn gap_bucket(seconds: i64) -> Option<usize> {
    GAP_BUCKETS
        .iter()
        .position(|&(lo, hi)| (lo..=hi).contains(&seconds))
}

impl Catalogue {
    pub fn generate(rng: &mut Xoshiro256PlusPlus) -> Self {
        let subtree_path = |leaf: &str| leaf.rsplit_once('/').map_or(leaf, |(s, _)| s).to_owned();
        let mut subtrees: Vec<(String, Vec<usize>)> = Vec::new();
        let mut subtree_of = Vec::with_capacity(LEAVES.len());
        for (leaf, (path, _, _)) in LEAVES.iter().enumerate() {
            let subtree = subtree_path(path);
            let index = match subtrees.iter().position(|(p, _)| *p == subtree) {
                Some(i) => i,
                None => {
                    subtrees.push((subtree, Vec::new()));
                    subtrees.len() - 1
                }
            };
            subtrees[index].1.push(leaf);
            subtree_of.push(index);
        }
        // The catalogue before the first day, then the launches in day order, numbered in
        // that order as a shop's SKUs would be.
        let mut drafts: Vec<(i64, usize, f64)> = Vec::new();
        for (leaf, &(_, _, base)) in LEAVES.iter().enumerate() {
            for _ in 0..BASE_PRODUCTS_PER_LEAF {
                drafts.push((-1, leaf, price(rng, base)));
            }
        }
        let mut launches = Vec::new();
        for (leaf, &(_, _, base)) in LEAVES.iter().enumerate() {
            for _ in 0..LAUNCHED_PER_LEAF {
                let day = rng.gen_range(0..DAYS);
                launches.push((day, leaf, price(rng, base)));
            }
        }
        // Stable: launches of one day keep their draw order.
        launches.sort_by_key(|&(day, _, _)| day);
        drafts.extend(launches);
        let mut subtree_sum = vec![(0.0, 0usize); subtrees.len()];
        for &(_, leaf, p) in &drafts {
            let entry = &mut subtree_sum[subtree_of[leaf]];
            entry.0 += p;
            entry.1 += 1;
        }
        let products: Vec<Product> = drafts
            .into_iter()
            .enumerate()
            .map(|(i, (launch_day, leaf, price))| {
                let (sum, count) = subtree_sum[subtree_of[leaf]];
                Product {
                    sku: format!("SKU-{}", 10_000 + i),
                    leaf,
                    price,
                    launch_day,
                    relative_price: (price / (sum / count as f64)).ln(),
                }
            })
            .collect();
        let mut by_leaf = vec![Vec::new(); LEAVES.len()];
        for (i, p) in products.iter().enumerate() {
            by_leaf[p.leaf].push(i);
        }
        let mut catalogue = Catalogue {
            products,
            subtree_of,
            subtrees,
            by_leaf,
            normaliser: [Vec::new(), Vec::new()],
        };
        for z in 0..2 {
            let mut sums = Vec::with_capacity(LEAVES.len() * DAYS as usize);
            for leaf in 0..LEAVES.len() {
                for day in 0..DAYS {
                    sums.push(
                        catalogue.by_leaf[leaf]
                            .iter()
                            .map(|&i| &catalogue.products[i])
                            .filter(|p| on_sale(p, day))
                            .map(|p| choice_weight(p, day, z))
                            .sum(),
                    );
                }
            }
            catalogue.normaliser[z] = sums;
        }
        catalogue
    }

    /// P(this product | its leaf, the day, z).
    pub fn product_probability(&self, product: usize, day: i64, z: usize) -> f64 {
        let p = &self.products[product];
        choice_weight(p, day, z) / self.normaliser[z][p.leaf * DAYS as usize + day as usize]
    }

    /// P(the next click's leaf | the current click's leaf, z).
    pub fn leaf_probability(&self, from: usize, to: usize, z: usize) -> f64 {
        let total: f64 = LEAVES.iter().map(|l| l.1).sum();
        let global = LEAVES[to].1 / total;
        let subtree = &self.subtrees[self.subtree_of[from]].1;
        let within = if subtree.contains(&to) {
            LEAVES[to].1 / subtree.iter().map(|&l| LEAVES[l].1).sum::<f64>()
        } else {
            0.0
        };
        STAY[z] * within + (1.0 - STAY[z]) * global
    }

    /// The path of a product's leaf.
    pub fn category(&self, product: usize) -> &'static str {
        LEAVES[self.products[product].leaf].0
    }
}

fn price(rng: &mut Xoshiro256PlusPlus, base: f64) -> f64 {
    let euros = (base * rng.gen_range(-PRICE_SPREAD..PRICE_SPREAD).exp()).round();
    euros.max(5.0) - 0.01
}

/// Draws from fixed weights; the weights of this file are all positive, so building the
/// distribution cannot fail, and a failure would be a bug in the tables above.
fn weighted(weights: &[f64]) -> WeightedIndex<f64> {
    WeightedIndex::new(weights).expect("the generator's weight tables are positive and finite")
}

/// Generates the shop: the catalogue, then the sessions in order of their first click.
pub fn generate(sessions: usize, seed: u64) -> Shop {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let catalogue = Catalogue::generate(&mut rng);
    let midnight = first_midnight();
    let day_weights: Vec<f64> = (0..DAYS)
        .map(|d| {
            // The first day is a Wednesday: days 3 and 4 of each week are the weekend.
            if matches!((d + 2) % 7, 5 | 6) {
                WEEKEND_WEIGHT
            } else {
                1.0
            }
        })
        .collect();
    let days = weighted(&day_weights);
    let mut starts: Vec<i64> = (0..sessions)
        .map(|_| {
            midnight
                + days.sample(&mut rng) as i64 * 86_400
                + rng.gen_range(FIRST_START..LAST_START)
        })
        .collect();
    starts.sort_unstable();
    let customers = ((sessions as f64 * CUSTOMERS_PER_SESSION) as usize).max(1);
    let popularity = weighted(&LEAVES.map(|l| l.1));
    let within: Vec<WeightedIndex<f64>> = catalogue
        .subtrees
        .iter()
        .map(|(_, leaves)| weighted(&leaves.iter().map(|&l| LEAVES[l].1).collect::<Vec<_>>()))
        .collect();
    let devices = DEVICE.map(|d| weighted(&d));
    let gaps = GAP.map(|g| weighted(&g));
    let width = sessions.max(1).to_string().len().max(6);
    let sessions = starts
        .into_iter()
        .enumerate()
        .map(|(i, start)| {
            let intent = rng.gen_bool(INTENT_SHARE);
            let z = usize::from(intent);
            let mut n = 1;
            while n < MAX_CLICKS && rng.gen_bool(CONTINUE[z]) {
                n += 1;
            }
            let device = devices[z].sample(&mut rng);
            let customer = rng.gen_range(0..customers);
            let day = day_of(start);
            let mut time = start;
            let mut leaf = popularity.sample(&mut rng);
            let mut clicks = Vec::with_capacity(n);
            for t in 0..n {
                if t > 0 {
                    let (lo, hi) = GAP_BUCKETS[gaps[z].sample(&mut rng)];
                    time += rng.gen_range(lo..=hi);
                    leaf = if rng.gen_bool(STAY[z]) {
                        let subtree = catalogue.subtree_of[leaf];
                        catalogue.subtrees[subtree].1[within[subtree].sample(&mut rng)]
                    } else {
                        popularity.sample(&mut rng)
                    };
                }
                let offer: Vec<usize> = catalogue.by_leaf[leaf]
                    .iter()
                    .copied()
                    .filter(|&p| on_sale(&catalogue.products[p], day))
                    .collect();
                let weights: Vec<f64> = offer
                    .iter()
                    .map(|&p| choice_weight(&catalogue.products[p], day, z))
                    .collect();
                let product = offer[weighted(&weights).sample(&mut rng)];
                clicks.push(Click { time, product });
            }
            let converted = rng.gen_bool(CONVERT[z]);
            let revenue = if converted {
                let mut viewed: Vec<usize> = Vec::new();
                for c in &clicks {
                    if !viewed.contains(&c.product) {
                        viewed.push(c.product);
                    }
                }
                let k = if viewed.len() >= 2 && rng.gen_bool(TWO_PRODUCTS) {
                    2
                } else {
                    1
                };
                viewed
                    .choose_multiple(&mut rng, k)
                    .map(|&p| catalogue.products[p].price)
                    .sum()
            } else {
                0.0
            };
            Session {
                id: format!("s-{:0width$}", i + 1),
                device,
                customer,
                clicks,
                intent,
                converted,
                revenue,
            }
        })
        .collect();
    Shop {
        catalogue,
        sessions,
    }
}

/// The Bayes-optimal P(converted | the first t clicks) for t = 1..n, from what the files
/// show (times, products, device) and the generator's parameters: the posterior log-odds of
/// z = 1 add one likelihood ratio per observed term, so every prefix costs one click.
pub fn best_scores(catalogue: &Catalogue, device: usize, clicks: &[Click]) -> Vec<f64> {
    let ratio = |one: f64, zero: f64| one.ln() - zero.ln();
    let mut log_odds =
        ratio(INTENT_SHARE, 1.0 - INTENT_SHARE) + ratio(DEVICE[1][device], DEVICE[0][device]);
    let day = clicks.first().map_or(0, |c| day_of(c.time));
    let mut scores = Vec::with_capacity(clicks.len());
    for (t, click) in clicks.iter().enumerate() {
        if t > 0 {
            let before = clicks[t - 1];
            // The gap's uniform share of its bucket is the same under both intents.
            let gap = gap_bucket(click.time - before.time);
            log_odds +=
                ratio(CONTINUE[1], CONTINUE[0]) + gap.map_or(0.0, |b| ratio(GAP[1][b], GAP[0][b]));
            let (from, to) = (
                catalogue.products[before.product].leaf,
                catalogue.products[click.product].leaf,
            );
            log_odds += ratio(
                catalogue.leaf_probability(from, to, 1),
                catalogue.leaf_probability(from, to, 0),
            );
        }
        log_odds += ratio(
            catalogue.product_probability(click.product, day, 1),
            catalogue.product_probability(click.product, day, 0),
        );
        let intent = 1.0 / (1.0 + (-log_odds).exp());
        scores.push(CONVERT[0] + (CONVERT[1] - CONVERT[0]) * intent);
    }
    scores
}

/// The session-weighted ROC-AUC of the best scores over every prefix of the sessions
/// (each prefix of an n-click session weighs 1/n, as with an outcomes file).
pub fn best_auc<'a>(
    catalogue: &Catalogue,
    sessions: impl IntoIterator<Item = &'a Session>,
) -> Option<f64> {
    let (mut scores, mut labels, mut weights) = (Vec::new(), Vec::new(), Vec::new());
    for s in sessions {
        let n = s.clicks.len() as f64;
        for score in best_scores(catalogue, s.device, &s.clicks) {
            scores.push(score);
            labels.push(s.converted);
            weights.push(1.0 / n);
        }
    }
    clickstream::ml::metrics::roc_auc(&scores, &labels, &weights)
}

/// What `truth.json` holds.
#[derive(Debug, serde::Serialize)]
pub struct Truth {
    pub seed: u64,
    pub sessions: usize,
    pub clicks: usize,
    pub products: usize,
    pub first_day: String,
    pub last_day: String,
    /// The first day of the last `LAST_DAYS` days.
    pub last_30_days_from: String,
    pub conversion_rate: f64,
    pub best_weighted_roc_auc: f64,
    pub best_weighted_roc_auc_last_30_days: f64,
    pub sessions_last_30_days: usize,
    pub converted_last_30_days: usize,
    /// Share of the last 30 days' clicks on a product no click before them viewed.
    pub unseen_product_click_share_last_30_days: f64,
}

impl Shop {
    pub fn truth(&self, seed: u64) -> Truth {
        let cut = DAYS - LAST_DAYS;
        let late = |s: &&Session| s.clicks.first().is_some_and(|c| day_of(c.time) >= cut);
        let date = |day: i64| {
            DateTime::from_timestamp(first_midnight() + day * 86_400, 0)
                .map_or_else(String::new, |t| t.format("%Y-%m-%d").to_string())
        };
        let seen: HashSet<usize> = self
            .sessions
            .iter()
            .filter(|s| !late(s))
            .flat_map(|s| s.clicks.iter().map(|c| c.product))
            .collect();
        let late_clicks: Vec<&Click> = self
            .sessions
            .iter()
            .filter(late)
            .flat_map(|s| &s.clicks)
            .collect();
        let unseen = late_clicks
            .iter()
            .filter(|c| !seen.contains(&c.product))
            .count();
        let converted = self.sessions.iter().filter(|s| s.converted).count();
        Truth {
            seed,
            sessions: self.sessions.len(),
            clicks: self.sessions.iter().map(|s| s.clicks.len()).sum(),
            products: self.catalogue.products.len(),
            first_day: date(0),
            last_day: date(DAYS - 1),
            last_30_days_from: date(cut),
            conversion_rate: converted as f64 / self.sessions.len().max(1) as f64,
            best_weighted_roc_auc: best_auc(&self.catalogue, &self.sessions).unwrap_or(f64::NAN),
            best_weighted_roc_auc_last_30_days: best_auc(
                &self.catalogue,
                self.sessions.iter().filter(late),
            )
            .unwrap_or(f64::NAN),
            sessions_last_30_days: self.sessions.iter().filter(late).count(),
            converted_last_30_days: self
                .sessions
                .iter()
                .filter(late)
                .filter(|s| s.converted)
                .count(),
            unseen_product_click_share_last_30_days: unseen as f64
                / late_clicks.len().max(1) as f64,
        }
    }

    /// Writes the five files into `dir`.
    pub fn write(&self, dir: &Path, seed: u64) -> anyhow::Result<Truth> {
        std::fs::create_dir_all(dir).with_context(|| format!("making {}", dir.display()))?;
        let mut clicks =
            String::from("session_id,event_time,sku,category,price,device,customer_id\n");
        let mut orders = String::from("session_id,converted,revenue\n");
        let mut truth = String::from("session_id,clicks_seen,best_score\n");
        // Every field is written from a fixed alphabet (no commas, quotes or line breaks),
        // so plain formatting is valid CSV.
        for s in &self.sessions {
            for c in &s.clicks {
                let time = DateTime::<Utc>::from_timestamp(c.time, 0)
                    .map_or_else(String::new, |t| {
                        t.to_rfc3339_opts(SecondsFormat::Secs, true)
                    });
                let p = &self.catalogue.products[c.product];
                let _ = writeln!(
                    clicks,
                    "{},{},{},{},{:.2},{},c-{:06}",
                    s.id,
                    time,
                    p.sku,
                    self.catalogue.category(c.product),
                    p.price,
                    DEVICES[s.device],
                    s.customer + 1
                );
            }
            let _ = writeln!(
                orders,
                "{},{},{:.2}",
                s.id,
                u8::from(s.converted),
                s.revenue
            );
            for (t, score) in best_scores(&self.catalogue, s.device, &s.clicks)
                .into_iter()
                .enumerate()
            {
                let _ = writeln!(truth, "{},{},{}", s.id, t + 1, score);
            }
        }
        let summary = self.truth(seed);
        for (name, text) in [
            ("clicks.csv", clicks),
            ("orders.csv", orders),
            ("truth.csv", truth),
            ("schema.toml", SCHEMA.to_owned()),
            ("truth.json", serde_json::to_string_pretty(&summary)? + "\n"),
        ] {
            let path = dir.join(name);
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        }
        Ok(summary)
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(args.sessions > 0, "--sessions must be at least 1");
    let shop = generate(args.sessions, args.seed);
    let truth = shop.write(&args.out, args.seed)?;
    println!(
        "{} sessions, {} clicks, {} products, {} to {}; conversion rate {:.4}",
        truth.sessions,
        truth.clicks,
        truth.products,
        truth.first_day,
        truth.last_day,
        truth.conversion_rate
    );
    println!(
        "known best weighted ROC-AUC: {:.4} over all sessions, {:.4} over the last {LAST_DAYS} days (from {}; {} sessions, {} converted)",
        truth.best_weighted_roc_auc,
        truth.best_weighted_roc_auc_last_30_days,
        truth.last_30_days_from,
        truth.sessions_last_30_days,
        truth.converted_last_30_days
    );
    println!(
        "clicks of the last {LAST_DAYS} days on a product unseen before them: {:.1}%",
        100.0 * truth.unseen_product_click_share_last_30_days
    );
    println!("written to {}", args.out.display());
    Ok(())
}
