//! The extractor: a plan's features of a growing prefix, fed click by click.

use super::plan::{Plan, Scalar};
use super::products::ProductStats;
use super::read::ClickValues;
use crate::domain::ProductCode;
use chrono::Weekday;
use foldhash::{HashMap, HashMapExt};
use smallvec::SmallVec;

/// Values and tallies an accumulator keeps inline: the UCI plan needs 28 and 15; larger
/// plans spill to the heap.
const INLINE: usize = 32;

/// Prefixes up to this many clicks get `price_std` from the two-pass formula over their
/// prices (the definition every version-1 model was trained and golden-checked with; it
/// cannot be updated click by click bit for bit, as each term depends on the mean of the
/// whole prefix). Longer prefixes take it from Welford's streaming update, equal up to
/// rounding, so that a session's feature work stays linear in its clicks: at most this many
/// prices are kept and re-read per prefix. It equals the default clicks-per-session cap,
/// so every session the service accepts by default gets the two-pass value.
pub const TWO_PASS_STD_CLICKS: usize = 1000;

/// The features of a growing prefix, fed click by click: [`Accumulator::push`] costs O(1)
/// (amortised, plus a product-table lookup) and [`Accumulator::write`] writes the row of
/// the clicks pushed so far, so every prefix of a session costs time linear in its clicks.
/// `push` updates only what the plan's features read: the plan's tracked attributes, each
/// read once, and the product, price and day state its families need.
#[derive(Debug, Clone)]
pub struct Accumulator<'p> {
    plan: &'p Plan,
    products: &'p ProductStats,
    n: usize,
    /// Views of each product so far: its count of keys is the distinct products.
    views: HashMap<ProductCode, u32>,
    last_product: Option<ProductCode>,
    repeat_views: u32,
    price_sum: f64,
    price_min: f64,
    price_max: f64,
    /// The prices of the last three clicks, a ring like the slots' rows.
    recent_prices: [f64; 3],
    /// Which row of the ring of the last three clicks holds the last click: a ring costs
    /// one store per value where shifting three rows would cost three.
    head: usize,
    /// The first [`TWO_PASS_STD_CLICKS`] prices, for the two-pass `price_std`.
    prices: Vec<f64>,
    welford_mean: f64,
    welford_m2: f64,
    weekday: Weekday,
    same_category_run: usize,
    /// The slots' values (codes, or numbers' bits): three rows, the ring of the last three
    /// clicks, then the first click's row.
    rows: SmallVec<[i64; INLINE]>,
    /// The running maxima and sums, laid out by the plan.
    cells: SmallVec<[f64; 4]>,
    /// Counts and distinct bitsets, laid out by the plan.
    tallies: SmallVec<[u32; INLINE]>,
    /// Distinct values outside their bitset's range, by slot: none for a checked click,
    /// kept so that no value can be miscounted.
    strays: Vec<(usize, i64)>,
    next_rate_sum: f64,
    next_rate_max: f64,
    session_rate_sum: f64,
    /// Product rates of the last click and the next-click rate of the one before.
    last_rates: [f64; 2],
    previous_next_rate: f64,
}

/// A slot's value as a number: a code, or a number from its bits.
fn decode(value: i64, number: bool) -> f64 {
    if number {
        f64::from_bits(value as u64)
    } else {
        value as f64
    }
}

fn share(count: usize, total: usize) -> f64 {
    count as f64 / total as f64
}

fn flag(on: bool) -> f64 {
    if on {
        1.0
    } else {
        0.0
    }
}

impl<'p> Accumulator<'p> {
    /// An empty prefix of `plan`'s features, to be scored with the product table of the
    /// model that reads it.
    pub fn new(plan: &'p Plan, products: &'p ProductStats) -> Self {
        Accumulator::with_capacity(plan, products, 0)
    }

    /// An accumulator with room for `clicks` clicks, so a prefix whose length is known
    /// (a request's session) is not grown click by click.
    pub fn with_capacity(plan: &'p Plan, products: &'p ProductStats, clicks: usize) -> Self {
        let needs = plan.needs;
        Accumulator {
            plan,
            products,
            n: 0,
            views: HashMap::with_capacity(if needs.views { clicks } else { 0 }),
            last_product: None,
            repeat_views: 0,
            // `Iterator::sum` of f64 starts from -0.0; so does this, for the same bits.
            price_sum: -0.0,
            price_min: f64::INFINITY,
            price_max: f64::NEG_INFINITY,
            recent_prices: [0.0; 3],
            head: 0,
            prices: Vec::with_capacity(if needs.price_std {
                clicks.min(TWO_PASS_STD_CLICKS)
            } else {
                0
            }),
            welford_mean: 0.0,
            welford_m2: 0.0,
            weekday: Weekday::Mon,
            same_category_run: 0,
            rows: SmallVec::from_elem(0, 4 * plan.width()),
            cells: SmallVec::from_slice(&plan.initial_cells),
            tallies: SmallVec::from_elem(0, plan.tallies),
            strays: Vec::new(),
            next_rate_sum: -0.0,
            next_rate_max: 0.0,
            session_rate_sum: -0.0,
            last_rates: [0.0; 2],
            previous_next_rate: products.prior_next,
        }
    }

    /// The plan whose features this accumulator writes.
    pub fn plan(&self) -> &'p Plan {
        self.plan
    }

    /// Adds the next click of the prefix (clicks in session order).
    pub fn push(&mut self, c: &impl ClickValues) {
        let plan = self.plan;
        let needs = plan.needs;
        self.n += 1;
        let first = self.n == 1;
        let product = c.product();
        if needs.views {
            let adjacent = self.last_product == Some(product);
            let views = self.views.entry(product).or_insert(0);
            if *views > 0 && !adjacent {
                self.repeat_views += 1;
            }
            *views += 1;
        }
        self.last_product = Some(product);
        if first && needs.weekday {
            self.weekday = c.weekday();
        }

        let previous = self.head;
        let head = if first || previous == 2 {
            0
        } else {
            previous + 1
        };
        self.head = head;
        let price = c.price();
        self.price_sum += price;
        self.price_min = self.price_min.min(price);
        self.price_max = self.price_max.max(price);
        self.recent_prices[head] = price;
        if needs.price_std {
            self.push_price(price);
        }

        let w = plan.width();
        let (rows, first_row) = self.rows.split_at_mut(3 * w);
        let (now, before) = (head * w, previous * w);
        let values = c.values();
        let values = values.as_ref();
        let read = w.min(values.len());
        rows[now..now + read].copy_from_slice(&values[..read]);
        let row = &rows[now..now + w];
        let tallies = &mut self.tallies[..];
        if first {
            first_row.copy_from_slice(row);
        } else {
            let before = &rows[before..before + w];
            for s in &plan.switches {
                if row[s.slot] != before[s.slot] {
                    tallies[s.count] += 1;
                }
            }
        }
        for s in &plan.shares {
            let at = row[s.slot].wrapping_sub(s.first) as u64;
            let count = if at < s.span {
                plan.lookup[s.lookup_at + at as usize] as usize
            } else {
                s.unlisted
            };
            tallies[count] += 1;
        }
        for d in &plan.distincts {
            let code = row[d.slot];
            let bit = code.wrapping_sub(d.lowest) as u64;
            let newly = if bit < (d.words * 32) as u64 {
                let word = &mut tallies[d.bits + (bit / 32) as usize];
                let mask = 1u32 << (bit % 32);
                let unseen = *word & mask == 0;
                *word |= mask;
                unseen
            } else if self.strays.contains(&(d.slot, code)) {
                false
            } else {
                self.strays.push((d.slot, code));
                true
            };
            if newly {
                tallies[d.count] += 1;
            }
        }
        let cells = &mut self.cells[..];
        for m in &plan.maxima {
            cells[m.cell] = cells[m.cell].max(decode(row[m.slot], m.number));
        }
        for m in &plan.sums {
            cells[m.cell] += decode(row[m.slot], m.number);
        }
        if needs.same_category_run {
            let run = !first
                && plan
                    .category_slot
                    .is_some_and(|s| rows[now + s] == rows[before + s]);
            self.same_category_run = if run { self.same_category_run + 1 } else { 1 };
        }

        if needs.rates {
            let rates = self.products.rates(product);
            if !first {
                self.previous_next_rate = self.last_rates[0];
            }
            self.last_rates = rates;
            self.next_rate_sum += rates[0];
            self.next_rate_max = self.next_rate_max.max(rates[0]);
            self.session_rate_sum += rates[1];
        }
    }

    fn push_price(&mut self, price: f64) {
        if self.prices.len() < TWO_PASS_STD_CLICKS {
            self.prices.push(price);
            return;
        }
        // Past the two-pass range the deviation streams (Welford); its state is caught up
        // from the kept prices once, so sessions within the range, every request by
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

    /// Writes the row of the clicks pushed so far into `out` (one value per feature of the
    /// plan, in its order); all zeros before the first click.
    pub fn write(&self, out: &mut [f64]) {
        assert_eq!(
            out.len(),
            self.plan.len(),
            "a feature row holds one value per feature of its plan"
        );
        if self.n == 0 {
            out.fill(0.0);
            return;
        }
        let plan = self.plan;
        let writes = &plan.writes;
        let n = self.n;
        let nf = n as f64;
        let w = plan.width();
        // The ring's rows of the last click, the one before and the one before that, as
        // far back as there are clicks: a click that is not there gives 0, as every real
        // code, price and page is at least 1 (and `clicks` tells the models).
        let h = self.head;
        let ring = [h, (h + 2) % 3, (h + 1) % 3];
        let rows = &self.rows[..];
        let cells = &self.cells[..];
        let tallies = &self.tallies[..];
        let back = |slot: usize, at: u8| {
            let at = usize::from(at);
            match ring.get(at) {
                Some(row) if at < n => rows.get(row * w + slot).copied(),
                _ => None,
            }
        };
        let number = |slot: usize| plan.number_slots.get(slot).copied().unwrap_or(false);
        let count = |i: usize| tallies.get(i).map_or(0, |&c| c as usize);

        let scalars = self.scalars();
        for &(o, k) in &writes.scalars {
            out[o] = scalars[k as usize];
        }
        for &(o, start, end) in &writes.shares {
            let counts = writes.share_counts.get(start..end).unwrap_or_default();
            out[o] = share(counts.iter().map(|&k| count(k)).sum(), n);
        }
        for &(o, k) in &writes.counts {
            out[o] = count(k) as f64;
        }
        for &(o, cell) in &writes.cells {
            out[o] = cells.get(cell).copied().unwrap_or(0.0);
        }
        for &(o, cell) in &writes.means {
            out[o] = cells.get(cell).copied().unwrap_or(0.0) / nf;
        }
        for &(o, slot, at) in &writes.values {
            out[o] = back(slot, at).map_or(0.0, |v| decode(v, number(slot)));
        }
        for is in &writes.is {
            let v = match is.at {
                None => rows.get(3 * w + is.slot).copied(),
                Some(at) => back(is.slot, at),
            };
            out[is.out] = v.map_or(0.0, |v| flag(is.values.contains(&v) != is.other));
        }
        for &(o, at) in &writes.prices {
            let at = usize::from(at);
            out[o] = match ring.get(at) {
                Some(&row) if at < n => self.recent_prices[row],
                _ => 0.0,
            };
        }
        for &(o, at) in &writes.same_category {
            let same = plan
                .category_slot
                .and_then(|s| Some(back(s, at)? == back(s, 0)?));
            out[o] = same.map_or(0.0, flag);
        }
    }

    /// The features of the prefix as a whole, by [`Scalar`]; of a prefix of at least one
    /// click.
    fn scalars(&self) -> [f64; Scalar::COUNT] {
        let needs = self.plan.needs;
        let n = self.n;
        let nf = n as f64;
        let mean = self.price_sum / nf;
        let std = if !needs.price_std {
            0.0
        } else if n <= TWO_PASS_STD_CLICKS {
            (self.prices.iter().map(|p| (p - mean).powi(2)).sum::<f64>() / nf).sqrt()
        } else {
            (self.welford_m2 / nf).sqrt()
        };
        let views_of_last = self
            .last_product
            .and_then(|p| self.views.get(&p).copied())
            .unwrap_or(1);
        let mut s = [0.0; Scalar::COUNT];
        s[Scalar::Clicks as usize] = nf;
        s[Scalar::LogClicks as usize] = if needs.log_clicks { nf.ln_1p() } else { 0.0 };
        s[Scalar::DistinctProducts as usize] = self.views.len() as f64;
        s[Scalar::DistinctProductShare as usize] = share(self.views.len(), n);
        s[Scalar::RepeatViews as usize] = f64::from(self.repeat_views);
        s[Scalar::PriceMean as usize] = mean;
        s[Scalar::PriceMin as usize] = self.price_min;
        s[Scalar::PriceMax as usize] = self.price_max;
        s[Scalar::PriceSpread as usize] = self.price_max - self.price_min;
        s[Scalar::PriceStd as usize] = std;
        s[Scalar::Weekday as usize] = f64::from(self.weekday.num_days_from_monday());
        s[Scalar::Weekend as usize] = flag(matches!(self.weekday, Weekday::Sat | Weekday::Sun));
        s[Scalar::LastPriceVsMean as usize] = self.recent_prices[self.head] / mean;
        s[Scalar::LastSeenBefore as usize] = flag(views_of_last > 1);
        s[Scalar::LastViewCount as usize] = f64::from(views_of_last);
        s[Scalar::LastSameCategoryRun as usize] = self.same_category_run as f64;
        s[Scalar::ProductNextRateLast as usize] = self.last_rates[0];
        s[Scalar::ProductNextRatePrevious as usize] = self.previous_next_rate;
        s[Scalar::ProductNextRateMean as usize] = self.next_rate_sum / nf;
        s[Scalar::ProductNextRateMax as usize] = self.next_rate_max;
        s[Scalar::ProductSessionRateLast as usize] = self.last_rates[1];
        s[Scalar::ProductSessionRateMean as usize] = self.session_rate_sum / nf;
        s
    }
}
