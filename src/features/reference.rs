//! Version 1's extractor as it was hard-coded before the feature plan, kept only here: the
//! reference the plan-driven extractor must equal bit for bit under the UCI plan.

use crate::domain::{Category, Click, Colour, Country, Location, Photography, ProductCode};
use crate::features::ProductStats;
use chrono::Weekday;
use foldhash::{HashMap, HashMapExt};

/// Feature names in vector order. Shares are fractions of the prefix's clicks; prices are
/// US dollars; `last_*` describe the most recent click, where the shopper is now, and
/// `previous_*` the click before it (0 when there is none; `clicks` tells the models).
/// Page-number and photo-location shares were tried and left out: on the April-June to
/// July split they lowered ROC-AUC (see docs/models.md).
pub const NAMES: &[&str] = &[
    "clicks",
    "log_clicks",
    "distinct_products",
    "distinct_product_share",
    "repeat_views",
    "share_trousers",
    "share_skirts",
    "share_blouses",
    "share_sale",
    "distinct_categories",
    "category_switches",
    "price_mean",
    "price_min",
    "price_max",
    "price_spread",
    "price_std",
    "share_above_average_price",
    "page_max",
    "share_profile_photo",
    "distinct_colours",
    "country_poland",
    "country_czech_republic",
    "country_lithuania",
    "country_internet_domain",
    "country_other",
    "weekday",
    "weekend",
    "last_trousers",
    "last_skirts",
    "last_blouses",
    "last_sale",
    "last_price",
    "last_price_vs_mean",
    "last_above_average_price",
    "last_top_row",
    "last_location",
    "last_colour",
    "last_profile_photo",
    "last_seen_before",
    "last_view_count",
    "last_same_category_run",
    "previous_category",
    "previous_price",
    "previous_page",
    "previous_location",
    "previous_profile_photo",
    "previous_same_category",
    "second_previous_category",
    "second_previous_price",
    "second_previous_page",
    "second_previous_location",
    "second_previous_profile_photo",
    "second_previous_same_category",
    "page_changes",
    "product_next_rate_last",
    "product_next_rate_previous",
    "product_next_rate_mean",
    "product_next_rate_max",
    "product_session_rate_last",
    "product_session_rate_mean",
];

/// Count of features, the width of every feature row.
pub const COUNT: usize = NAMES.len();

fn share(count: usize, total: usize) -> f64 {
    count as f64 / total as f64
}

/// Prefixes up to this many clicks get `price_std` from the two-pass formula over their
/// prices (the definition every version-1 model was trained and golden-checked with; it
/// cannot be updated click by click bit for bit, as each term depends on the mean of the
/// whole prefix). Longer prefixes take it from Welford's streaming update, equal up to
/// rounding, so that a session's feature work stays linear in its clicks: at most this many
/// prices are kept and re-read per prefix. It equals the default clicks-per-session cap,
/// so every session the service accepts by default gets the two-pass value.
const TWO_PASS_STD_CLICKS: usize = 1000;

/// The features of a growing prefix, fed click by click: [`Accumulator::push`] costs O(1)
/// (amortised, plus a product-table lookup) and [`Accumulator::write`] writes the row of
/// the clicks pushed so far, so every prefix of a session costs time linear in its clicks.
/// This is the one definition: [`extract_into`] pushes every click of a prefix and writes.
#[derive(Debug, Clone)]
pub struct V1Accumulator<'p> {
    products: &'p ProductStats,
    n: usize,
    first: Option<Click>,
    /// The last three clicks, most recent first.
    recent: [Option<Click>; 3],
    /// Views of each product so far: its count of keys is the distinct products.
    views: HashMap<ProductCode, u32>,
    repeat_views: u32,
    categories: [usize; 4],
    category_switches: usize,
    price_sum: f64,
    price_min: f64,
    price_max: f64,
    /// The first [`TWO_PASS_STD_CLICKS`] prices, for the two-pass `price_std`.
    prices: Vec<f64>,
    welford_mean: f64,
    welford_m2: f64,
    above_average: usize,
    page_max: u8,
    profile_photos: usize,
    colours: [bool; Colour::ALL.len()],
    distinct_colours: usize,
    same_category_run: usize,
    page_changes: usize,
    next_rate_sum: f64,
    next_rate_max: f64,
    session_rate_sum: f64,
    /// Product rates of the last click and the next-click rate of the one before.
    last_rates: [f64; 2],
    previous_next_rate: f64,
}

impl<'p> V1Accumulator<'p> {
    /// An empty prefix, to be scored with the product table of the model that reads it.
    pub fn new(products: &'p ProductStats) -> Self {
        V1Accumulator::with_capacity(products, 0)
    }

    /// An accumulator with room for `clicks` clicks, so a prefix whose length is known
    /// (a request's session) is not grown click by click: the service's one extraction
    /// per request costs what the former single-pass code did.
    pub fn with_capacity(products: &'p ProductStats, clicks: usize) -> Self {
        V1Accumulator {
            products,
            n: 0,
            first: None,
            recent: [None; 3],
            views: HashMap::with_capacity(clicks),
            repeat_views: 0,
            categories: [0; 4],
            category_switches: 0,
            // `Iterator::sum` of f64 starts from -0.0; so does this, for the same bits.
            price_sum: -0.0,
            price_min: f64::INFINITY,
            price_max: f64::NEG_INFINITY,
            prices: Vec::with_capacity(clicks.min(TWO_PASS_STD_CLICKS)),
            welford_mean: 0.0,
            welford_m2: 0.0,
            above_average: 0,
            page_max: 0,
            profile_photos: 0,
            colours: [false; Colour::ALL.len()],
            distinct_colours: 0,
            same_category_run: 0,
            page_changes: 0,
            next_rate_sum: -0.0,
            next_rate_max: 0.0,
            session_rate_sum: -0.0,
            last_rates: [0.0; 2],
            previous_next_rate: products.prior_next,
        }
    }

    /// Adds the next click of the prefix (clicks in session order).
    pub fn push(&mut self, c: &Click) {
        let previous = self.recent[0];
        self.n += 1;
        if self.first.is_none() {
            self.first = Some(*c);
        }
        let adjacent = previous.is_some_and(|p| p.product == c.product);
        let views = self.views.entry(c.product).or_insert(0);
        if *views > 0 && !adjacent {
            self.repeat_views += 1;
        }
        *views += 1;
        self.categories[c.category.index()] += 1;
        if let Some(p) = previous {
            if p.category != c.category {
                self.category_switches += 1;
            }
            if p.page != c.page {
                self.page_changes += 1;
            }
        }
        self.same_category_run = match previous {
            Some(p) if p.category == c.category => self.same_category_run + 1,
            _ => 1,
        };
        let price = c.price.get();
        self.price_sum += price;
        self.price_min = self.price_min.min(price);
        self.price_max = self.price_max.max(price);
        if self.prices.len() < TWO_PASS_STD_CLICKS {
            self.prices.push(price);
        } else {
            // Past the two-pass range the deviation streams (Welford); its state is caught
            // up from the kept prices once, so sessions within the range, every request by
            // default, pay no division per click for it.
            if self.n == TWO_PASS_STD_CLICKS + 1 {
                for (i, &p) in self.prices.iter().enumerate() {
                    let delta = p - self.welford_mean;
                    self.welford_mean += delta / (i + 1) as f64;
                    self.welford_m2 += delta * (p - self.welford_mean);
                }
            }
            let delta = price - self.welford_mean;
            self.welford_mean += delta / self.n as f64;
            self.welford_m2 += delta * (price - self.welford_mean);
        }
        if c.above_category_average {
            self.above_average += 1;
        }
        self.page_max = self.page_max.max(c.page.get());
        if c.photography == Photography::Profile {
            self.profile_photos += 1;
        }
        if !std::mem::replace(&mut self.colours[c.colour.index()], true) {
            self.distinct_colours += 1;
        }
        let rates = self.products.rates(c.product.into());
        if previous.is_some() {
            self.previous_next_rate = self.last_rates[0];
        }
        self.last_rates = rates;
        self.next_rate_sum += rates[0];
        self.next_rate_max = self.next_rate_max.max(rates[0]);
        self.session_rate_sum += rates[1];
        self.recent = [Some(*c), self.recent[0], self.recent[1]];
    }

    /// Writes the row of the clicks pushed so far into `out` ([`COUNT`] values); all zeros
    /// before the first click.
    pub fn write(&self, out: &mut [f64]) {
        assert_eq!(out.len(), COUNT, "a feature row holds COUNT values");
        out.fill(0.0);
        let (Some(last), Some(first)) = (self.recent[0], self.first) else {
            return;
        };
        let n = self.n;
        let mut w = Writer { out, at: 0 };

        w.put(n as f64);
        w.put((n as f64).ln_1p());
        w.put(self.views.len() as f64);
        w.put(share(self.views.len(), n));
        w.put(f64::from(self.repeat_views));

        for count in self.categories {
            w.put(share(count, n));
        }
        w.put(self.categories.iter().filter(|&&c| c > 0).count() as f64);
        w.put(self.category_switches as f64);

        let mean = self.price_sum / n as f64;
        let var = if n <= TWO_PASS_STD_CLICKS {
            self.prices.iter().map(|p| (p - mean).powi(2)).sum::<f64>() / n as f64
        } else {
            self.welford_m2 / n as f64
        };
        w.put(mean);
        w.put(self.price_min);
        w.put(self.price_max);
        w.put(self.price_max - self.price_min);
        w.put(var.sqrt());
        w.put(share(self.above_average, n));
        w.put(f64::from(self.page_max));
        w.put(share(self.profile_photos, n));
        w.put(self.distinct_colours as f64);

        // The three most common countries of the UCI data get their own column; the generic
        // internet domains (.biz, .com, .int, .net, .org: codes 43-47) share one.
        let country = first.country;
        let known = [Country::POLAND, Country::CZECH_REPUBLIC, Country::LITHUANIA];
        for k in known {
            w.flag(country == k);
        }
        let domain = (43..=47).contains(&country.code());
        w.flag(domain);
        w.flag(!domain && !known.contains(&country));

        let weekday = first.date.weekday();
        w.put(f64::from(weekday.num_days_from_monday()));
        w.flag(matches!(weekday, Weekday::Sat | Weekday::Sun));

        for category in Category::ALL {
            w.flag(last.category == *category);
        }
        w.put(last.price.get());
        w.put(last.price.get() / mean);
        w.flag(last.above_category_average);
        w.flag(matches!(
            last.location,
            Location::TopLeft | Location::TopMiddle | Location::TopRight
        ));
        w.put(last.location.code() as f64);
        w.put(last.colour.code() as f64);
        w.flag(last.photography == Photography::Profile);
        let views_of_last = self.views.get(&last.product).copied().unwrap_or(1);
        w.flag(views_of_last > 1);
        w.put(f64::from(views_of_last));
        w.put(self.same_category_run as f64);
        // The two clicks before the last one, as codes and values; 0 marks "no such click"
        // (every real code, price and page is at least 1).
        for c in &self.recent[1..] {
            match c {
                Some(c) => {
                    w.put(c.category.code() as f64);
                    w.put(c.price.get());
                    w.put(f64::from(c.page.get()));
                    w.put(c.location.code() as f64);
                    w.flag(c.photography == Photography::Profile);
                    w.flag(c.category == last.category);
                }
                None => {
                    for _ in 0..6 {
                        w.put(0.0);
                    }
                }
            }
        }
        w.put(self.page_changes as f64);
        let [next_last, session_last] = self.last_rates;
        w.put(next_last);
        w.put(self.previous_next_rate);
        w.put(self.next_rate_sum / n as f64);
        w.put(self.next_rate_max);
        w.put(session_last);
        w.put(self.session_rate_sum / n as f64);
        debug_assert_eq!(w.at, COUNT, "every named feature is written once");
    }
}

struct Writer<'a> {
    out: &'a mut [f64],
    at: usize,
}

impl Writer<'_> {
    fn put(&mut self, value: f64) {
        self.out[self.at] = value;
        self.at += 1;
    }

    fn flag(&mut self, on: bool) {
        self.put(if on { 1.0 } else { 0.0 });
    }
}

/// The feature code as it was before features were accumulated click by click (each
/// prefix recomputed from its clicks): the reference the accumulator must equal.
pub fn from_scratch(prefix: &[Click], products: &ProductStats, out: &mut [f64]) {
    assert_eq!(out.len(), COUNT, "a feature row holds COUNT values");
    out.fill(0.0);
    let Some(last) = prefix.last() else {
        return;
    };
    let n = prefix.len();
    let mut w = Writer { out, at: 0 };

    let mut seen = std::collections::HashSet::with_capacity(n);
    let mut repeat_views = 0;
    for (i, c) in prefix.iter().enumerate() {
        let adjacent = i > 0 && prefix[i - 1].product == c.product;
        if !seen.insert(c.product) && !adjacent {
            repeat_views += 1;
        }
    }
    w.put(n as f64);
    w.put((n as f64).ln_1p());
    w.put(seen.len() as f64);
    w.put(share(seen.len(), n));
    w.put(f64::from(repeat_views));

    let mut categories = [0usize; 4];
    for c in prefix {
        categories[c.category.index()] += 1;
    }
    for count in categories {
        w.put(share(count, n));
    }
    w.put(categories.iter().filter(|&&c| c > 0).count() as f64);
    w.put(
        prefix
            .windows(2)
            .filter(|p| p[0].category != p[1].category)
            .count() as f64,
    );

    let prices: Vec<f64> = prefix.iter().map(|c| c.price.get()).collect();
    let mean = prices.iter().sum::<f64>() / n as f64;
    let min = prices.iter().copied().fold(f64::INFINITY, f64::min);
    let max = prices.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let var = prices.iter().map(|p| (p - mean).powi(2)).sum::<f64>() / n as f64;
    w.put(mean);
    w.put(min);
    w.put(max);
    w.put(max - min);
    w.put(var.sqrt());
    w.put(share(
        prefix.iter().filter(|c| c.above_category_average).count(),
        n,
    ));
    w.put(f64::from(
        prefix.iter().map(|c| c.page.get()).max().unwrap_or(1),
    ));
    w.put(share(
        prefix
            .iter()
            .filter(|c| c.photography == Photography::Profile)
            .count(),
        n,
    ));
    let mut colours = [false; Colour::ALL.len()];
    for c in prefix {
        colours[c.colour.index()] = true;
    }
    w.put(colours.iter().filter(|&&seen| seen).count() as f64);

    // The three most common countries of the UCI data get their own column; the generic
    // internet domains (.biz, .com, .int, .net, .org: codes 43-47) share one.
    let country = prefix[0].country;
    let known = [Country::POLAND, Country::CZECH_REPUBLIC, Country::LITHUANIA];
    for k in known {
        w.flag(country == k);
    }
    let domain = (43..=47).contains(&country.code());
    w.flag(domain);
    w.flag(!domain && !known.contains(&country));

    let weekday = prefix[0].date.weekday();
    w.put(f64::from(weekday.num_days_from_monday()));
    w.flag(matches!(weekday, Weekday::Sat | Weekday::Sun));

    for category in Category::ALL {
        w.flag(last.category == *category);
    }
    w.put(last.price.get());
    w.put(last.price.get() / mean);
    w.flag(last.above_category_average);
    w.flag(matches!(
        last.location,
        Location::TopLeft | Location::TopMiddle | Location::TopRight
    ));
    w.put(last.location.code() as f64);
    w.put(last.colour.code() as f64);
    w.flag(last.photography == Photography::Profile);
    let views_of_last = prefix.iter().filter(|c| c.product == last.product).count();
    w.flag(views_of_last > 1);
    w.put(views_of_last as f64);
    let run = prefix
        .iter()
        .rev()
        .take_while(|c| c.category == last.category)
        .count();
    w.put(run as f64);
    // The two clicks before the last one, as codes and values; 0 marks "no such click"
    // (every real code, price and page is at least 1).
    for back in [2, 3] {
        match n.checked_sub(back).map(|i| &prefix[i]) {
            Some(c) => {
                w.put(c.category.code() as f64);
                w.put(c.price.get());
                w.put(f64::from(c.page.get()));
                w.put(c.location.code() as f64);
                w.flag(c.photography == Photography::Profile);
                w.flag(c.category == last.category);
            }
            None => {
                for _ in 0..6 {
                    w.put(0.0);
                }
            }
        }
    }
    w.put(prefix.windows(2).filter(|p| p[0].page != p[1].page).count() as f64);
    let rates: Vec<[f64; 2]> = prefix
        .iter()
        .map(|c| products.rates(c.product.into()))
        .collect();
    let [next_last, session_last] = rates[n - 1];
    w.put(next_last);
    w.put(if n >= 2 {
        rates[n - 2][0]
    } else {
        products.prior_next
    });
    w.put(rates.iter().map(|r| r[0]).sum::<f64>() / n as f64);
    w.put(rates.iter().map(|r| r[0]).fold(0.0, f64::max));
    w.put(session_last);
    w.put(rates.iter().map(|r| r[1]).sum::<f64>() / n as f64);
    debug_assert_eq!(w.at, COUNT, "every named feature is written once");
}
