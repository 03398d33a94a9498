//! The extractor: a plan's features of a growing prefix, fed click by click.

use super::plan::{Plan, Scalar};
use super::products::ProductStats;
use super::read::ClickValues;
use crate::domain::ProductKey;
use chrono::Weekday;
use foldhash::{HashMap, HashMapExt};
use smallvec::SmallVec;

/// Tallies an accumulator keeps inline: the UCI plan needs 28; larger plans spill to the
/// heap.
const INLINE: usize = 32;

/// Click values an accumulator keeps inline: the first click's row and the rows of the
/// clicks not yet folded (and the last three), so that a request's session of up to a
/// dozen UCI clicks is extracted without a heap buffer.
const ROWS_INLINE: usize = 96;

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
    views: HashMap<ProductKey, u32>,
    last_product: Option<ProductKey>,
    repeat_views: u32,
    price_sum: f64,
    price_min: f64,
    price_max: f64,
    /// The prices of the last three clicks, a ring.
    recent_prices: [f64; 3],
    /// Which of `recent_prices` holds the last click's: a ring costs one store per price
    /// where shifting three would cost three.
    head: usize,
    /// The first [`TWO_PASS_STD_CLICKS`] prices, for the two-pass `price_std`.
    prices: Vec<f64>,
    welford_mean: f64,
    welford_m2: f64,
    weekday: Weekday,
    same_category_run: usize,
    /// The slots' values (codes, or numbers' bits), one row of `width` per click: the first
    /// click's, then those of the clicks from `kept` on. Rows are folded into the tallies
    /// and cells in batches, column by column (see [`Accumulator::fold`]), and all but the
    /// last three are then let go.
    rows: SmallVec<[i64; ROWS_INLINE]>,
    kept: usize,
    /// Clicks folded into the tallies and cells so far.
    done: usize,
    /// The running maxima and sums, laid out by the plan.
    cells: SmallVec<[f64; 4]>,
    /// Per-code counts, distinct counts and switches, laid out by the plan.
    tallies: SmallVec<[u32; INLINE]>,
    /// Codes outside their hist's range, `(hist, code, clicks)`: none for a checked click,
    /// kept so that no value can be miscounted.
    strays: Vec<(usize, i64, u32)>,
    next_rate_sum: f64,
    next_rate_max: f64,
    session_rate_sum: f64,
    /// Product rates of the last click and the next-click rate of the one before.
    last_rates: [f64; 2],
    previous_next_rate: f64,
    /// The first, the previous and the last click's times (milliseconds), when the plan
    /// reads times and the clicks carry them.
    times: [Option<i64>; 3],
    /// The last click's price over its category's learned mean, and the clicks priced
    /// above theirs, when the plan reads them.
    last_vs_category: f64,
    above_category: u32,
    /// The sum of ln(price / category mean), of ln(1 + seconds between clicks), and the
    /// clicks on products the table does not know.
    log_vs_category_sum: f64,
    log_gap_sum: f64,
    unseen: u32,
}

/// `len` zeros, inline in `buf` (zeros) when they fit: one fill of a fixed buffer, not a
/// loop of pushes.
fn zeros<A>(buf: A, len: usize) -> SmallVec<A>
where
    A: smallvec::Array,
    A::Item: Copy + Default,
{
    if len <= A::size() {
        SmallVec::from_buf_and_len(buf, len)
    } else {
        SmallVec::from_vec(vec![A::Item::default(); len])
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
            rows: zeros([0; ROWS_INLINE], (clicks.max(3) + 1) * plan.width()),
            kept: 0,
            done: 0,
            cells: SmallVec::from_slice(&plan.initial_cells),
            tallies: zeros([0; INLINE], plan.tallies),
            strays: Vec::new(),
            next_rate_sum: -0.0,
            next_rate_max: 0.0,
            session_rate_sum: -0.0,
            last_rates: [0.0; 2],
            previous_next_rate: products.prior_next,
            times: [None; 3],
            last_vs_category: 0.0,
            above_category: 0,
            log_vs_category_sum: 0.0,
            log_gap_sum: 0.0,
            unseen: 0,
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
        if needs.time {
            let time = c.time();
            if first {
                self.times[0] = time;
            }
            self.times[1] = if first { time } else { self.times[2] };
            self.times[2] = time;
            if let (false, Some(before), Some(now)) = (first, self.times[1], time) {
                self.log_gap_sum += ((now - before).max(0) as f64 / 1000.0).ln_1p();
            }
        }
        if needs.unseen {
            self.unseen += u32::from(!self.products.knows(product));
        }
        if needs.category_price {
            let reference = c.category_price();
            let price = c.price();
            self.last_vs_category = if reference > 0.0 {
                price / reference
            } else {
                1.0
            };
            self.above_category += u32::from(price > reference);
            if reference > 0.0 && price > 0.0 {
                self.log_vs_category_sum += (price / reference).ln();
            }
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

        // The click's values are read once, into its row; everything counted from them is
        // folded in by column when the row is next written.
        let w = plan.width();
        let end = w + (self.n - self.kept) * w;
        if self.rows.len() < end {
            self.rows.resize(end.max(2 * self.rows.len()), 0);
        }
        // Rows are written in place into zeros (a click holding fewer values leaves its
        // row's tail at 0); the buffer grows only past the capacity asked for.
        let (first_row, rows) = self.rows.split_at_mut(w);
        c.write_values(&mut rows[end - 2 * w..end - w]);
        if first {
            first_row.copy_from_slice(&rows[..w]);
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
    pub fn write(&mut self, out: &mut [f64]) {
        self.fold();
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
        // The rows of the last click, the one before and the one before that, as far back
        // as there are clicks (the last three are always kept).
        let kept = self.kept;
        let at_row = |at: usize| w + (n - 1 - at - kept) * w;
        let recent = [at_row(0), at_row(1.min(n - 1)), at_row(2.min(n - 1)), 0];
        let rows = &self.rows[..];
        let first_row = &rows[..w];
        let cells = &self.cells[..];
        let tallies = &self.tallies[..];
        // A click that is not there gives 0 (every real code, price and page is at least 1,
        // and `clicks` tells the models); the families that must tell it from a zero check
        // `at < n` themselves.
        let back = |at: usize, slot: usize| {
            if at < n {
                rows[recent[at & 3] + slot]
            } else {
                0
            }
        };
        let h = self.head;
        let ring_prices = [h, (h + 2) % 3, (h + 1) % 3];

        let scalars = self.scalars();
        for &(o, k) in &writes.scalars {
            out[o] = scalars[k as usize];
        }
        // Counts are whole numbers, so a share is the same f64 whichever integer type holds
        // its count.
        let n32 = u32::try_from(n).unwrap_or(u32::MAX);
        for &(o, tally, other) in &writes.single_shares {
            let count = tallies[tally];
            out[o] = f64::from(if other {
                n32.saturating_sub(count)
            } else {
                count
            }) / nf;
        }
        for s in &writes.shares {
            let mut count: usize = writes.share_counts[s.counts.0..s.counts.1]
                .iter()
                .map(|&k| tallies[k] as usize)
                .sum();
            for &(hist, code) in &writes.share_strays[s.strays.0..s.strays.1] {
                count += self.stray_count(hist, code);
            }
            out[s.out] = share(if s.other { n - count } else { count }, n);
        }
        for &(o, k) in &writes.counts {
            out[o] = f64::from(tallies[k]);
        }
        for &(o, cell) in &writes.cells {
            out[o] = cells[cell];
        }
        for &(o, cell) in &writes.means {
            out[o] = cells[cell] / nf;
        }
        for &(o, at, slot) in &writes.code_values {
            out[o] = back(at, slot) as f64;
        }
        for &(o, at, slot) in &writes.number_values {
            out[o] = f64::from_bits(back(at, slot) as u64);
        }
        for is in &writes.is {
            let v = match is.at {
                None => Some(first_row[is.slot]),
                Some(at) => (at < n).then(|| back(at, is.slot)),
            };
            out[is.out] = v.map_or(0.0, |v| flag(is.listed.contains(v) != is.other));
        }
        for &(o, at) in &writes.prices {
            out[o] = if at < n {
                self.recent_prices[ring_prices[at]]
            } else {
                0.0
            };
        }
        for &(o, at) in &writes.same_category {
            let same = plan
                .category_slot
                .is_some_and(|s| at < n && back(at, s) == back(0, s));
            out[o] = flag(same);
        }
    }

    /// Folds the rows of the clicks pushed since the last fold into the tallies and cells:
    /// each of the plan's lists runs down its column of the new rows, so a list's entry is
    /// read once per batch, not once per click. Then lets go of all but the last three
    /// rows once the buffer is full.
    fn fold(&mut self) {
        let (n, done) = (self.n, self.done);
        if done == n {
            return;
        }
        self.done = n;
        let plan = self.plan;
        let w = plan.width();
        let kept = self.kept;
        // The new rows, and the same with the row before them (when there is one), for the
        // lists that compare a click with the one before it.
        let rows = self.rows.get(w..w + (n - kept) * w).unwrap_or_default();
        let new = rows.get((done - kept) * w..).unwrap_or_default();
        let with_before = rows.get((done.max(1) - 1 - kept) * w..).unwrap_or_default();
        let column = |rows, slot| column(rows, slot, w);
        let tallies = &mut self.tallies[..];
        for (i, h) in plan.hists.iter().enumerate() {
            // The hist's fields in locals, its counts as one slice: each click is then a
            // load, a compare and an increment.
            let (slot, lowest) = (h.slot, h.lowest);
            let mut distinct = 0;
            if let Some(counts) = tallies.get_mut(h.base..h.base + h.span as usize) {
                if h.distinct_read {
                    for code in column(new, slot) {
                        match counts.get_mut(code.wrapping_sub(lowest) as u64 as usize) {
                            Some(count) => {
                                distinct += u32::from(*count == 0);
                                *count += 1;
                            }
                            None => distinct += u32::from(stray(&mut self.strays, i, code)),
                        }
                    }
                } else {
                    for code in column(new, slot) {
                        match counts.get_mut(code.wrapping_sub(lowest) as u64 as usize) {
                            Some(count) => *count += 1,
                            None => distinct += u32::from(stray(&mut self.strays, i, code)),
                        }
                    }
                }
            }
            tallies[h.distinct] += distinct;
        }
        for &(slot, code, tally) in &plan.code_counts {
            let count = column(new, slot).map(|v| u32::from(v == code)).sum::<u32>();
            tallies[tally] += count;
        }
        for s in &plan.switches {
            let mut values = column(with_before, s.slot);
            let mut changes = 0;
            if let Some(mut before) = values.next() {
                for v in values {
                    changes += u32::from(v != before);
                    before = v;
                }
            }
            tallies[s.count] += changes;
        }
        let cells = &mut self.cells[..];
        for &(slot, cell) in &plan.code_folds.max {
            cells[cell] = column(new, slot).fold(cells[cell], |m, v| m.max(v as f64));
        }
        for &(slot, cell) in &plan.code_folds.sum {
            cells[cell] = column(new, slot).fold(cells[cell], |m, v| m + v as f64);
        }
        for &(slot, cell) in &plan.number_folds.max {
            cells[cell] =
                column(new, slot).fold(cells[cell], |m, v| m.max(f64::from_bits(v as u64)));
        }
        for &(slot, cell) in &plan.number_folds.sum {
            cells[cell] = column(new, slot).fold(cells[cell], |m, v| m + f64::from_bits(v as u64));
        }
        if let (true, Some(slot)) = (plan.needs.same_category_run, plan.category_slot) {
            let mut values = column(with_before, slot);
            let mut run = self.same_category_run;
            let mut before = if done == 0 { None } else { values.next() };
            for v in values {
                run = if before == Some(v) { run + 1 } else { 1 };
                before = Some(v);
            }
            self.same_category_run = run;
        }
        // Once the buffer is full, the folded rows but the last three make room.
        if n - kept > 3 && w + (n - kept + 1) * w > self.rows.len() {
            let drop = n - 3 - kept;
            self.rows.drain(w..w + drop * w);
            self.kept += drop;
        }
    }

    /// Clicks counted at a code outside its hist's range.
    fn stray_count(&self, hist: usize, code: i64) -> usize {
        self.strays
            .iter()
            .find(|&&(h, c, _)| h == hist && c == code)
            .map_or(0, |&(_, _, k)| k as usize)
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
        if needs.time {
            // Seconds; a click without a time (a schema without a timestamp cannot compile
            // these) counts as no time passing.
            let seconds = |from: Option<i64>, to: Option<i64>| match (from, to) {
                (Some(a), Some(b)) => (b - a).max(0) as f64 / 1000.0,
                _ => 0.0,
            };
            let [first, previous, last] = self.times;
            let duration = seconds(first, last);
            s[Scalar::Duration as usize] = duration;
            s[Scalar::TimePerClick as usize] = if n > 1 { duration / (nf - 1.0) } else { 0.0 };
            s[Scalar::TimeSincePrevious as usize] = seconds(previous, last);
            s[Scalar::GapLogMean as usize] = if n > 1 {
                self.log_gap_sum / (nf - 1.0)
            } else {
                0.0
            };
        }
        if needs.unseen {
            s[Scalar::UnseenProductShare as usize] = f64::from(self.unseen) / nf;
        }
        if needs.category_price {
            s[Scalar::PriceVsCategory as usize] = self.last_vs_category;
            s[Scalar::ShareAboveCategoryPrice as usize] = f64::from(self.above_category) / nf;
            s[Scalar::PriceVsCategoryMean as usize] = self.log_vs_category_sum / nf;
        }
        s
    }
}

/// One slot's values down rows of `width`.
fn column(rows: &[i64], slot: usize, width: usize) -> Column<'_> {
    Column {
        rows,
        at: slot,
        width,
    }
}

/// A plain index walk down a column: one compare per value, which `step_by` over a
/// slice's iterator does not compile to.
struct Column<'a> {
    rows: &'a [i64],
    at: usize,
    width: usize,
}

impl Iterator for Column<'_> {
    type Item = i64;

    #[inline]
    fn next(&mut self) -> Option<i64> {
        let value = *self.rows.get(self.at)?;
        // A row is at least one value wide wherever there are rows to walk.
        self.at += self.width.max(1);
        Some(value)
    }
}

/// Counts a code outside its hist's range; whether it is the first of its code.
#[cold]
fn stray(strays: &mut Vec<(usize, i64, u32)>, hist: usize, code: i64) -> bool {
    match strays.iter_mut().find(|(h, c, _)| *h == hist && *c == code) {
        Some((_, _, k)) => {
            *k += 1;
            false
        }
        None => {
            strays.push((hist, code, 1));
            true
        }
    }
}
