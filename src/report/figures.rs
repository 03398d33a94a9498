//! The numbers behind each chart of the report, from sessions, prefix sets and model
//! outputs; drawing them is [`super::chart`]'s. Every session weighs 1, as the contract
//! says: a prefix weighs its session's share.

use crate::dataset::{Element, PrefixSet};
use crate::domain::{AnyClick, AnySession};
use crate::labels::LabelledSession;
use crate::ml::metrics;
use chrono::Datelike;
use std::collections::HashMap;

/// A group of sessions and the share of them that converted.
#[derive(Debug, Clone, PartialEq)]
pub struct Rate {
    pub label: String,
    pub sessions: usize,
    pub rate: f64,
}

/// Sessions by the deepest page of the catalogue they reached (pages 1 to 5).
pub fn deepest_page<S: AnySession>(sessions: &[&LabelledSession<S>]) -> Vec<(String, usize)> {
    let mut counts = [0usize; 5];
    for s in sessions {
        let deepest = s.session.clicks().iter().filter_map(AnyClick::page).max();
        if let Some(page) = deepest {
            counts[usize::from(page.clamp(1, 5)) - 1] += 1;
        }
    }
    counts
        .iter()
        .enumerate()
        .map(|(i, &n)| (format!("page {}", i + 1), n))
        .collect()
}

/// The click counts at which the funnel is read.
pub const FUNNEL_STEPS: [usize; 11] = [1, 2, 3, 4, 5, 7, 10, 15, 20, 30, 50];

/// The funnel by clicks: the share of sessions that went on to at least k clicks.
pub fn clicks_funnel<S: AnySession>(sessions: &[&LabelledSession<S>]) -> Vec<(usize, f64)> {
    let total = sessions.len().max(1) as f64;
    FUNNEL_STEPS
        .iter()
        .map(|&k| {
            let reached = sessions
                .iter()
                .filter(|s| s.session.clicks().len() >= k)
                .count();
            (k, reached as f64 / total)
        })
        .collect()
}

/// Bins of session length, in clicks: (label, lowest, highest).
pub const LENGTH_BINS: [(&str, usize, usize); 8] = [
    ("1", 1, 1),
    ("2", 2, 2),
    ("3", 3, 3),
    ("4-5", 4, 5),
    ("6-10", 6, 10),
    ("11-20", 11, 20),
    ("21-50", 21, 50),
    ("51+", 51, usize::MAX),
];

/// Sessions by length in clicks.
pub fn length_histogram<S: AnySession>(sessions: &[&LabelledSession<S>]) -> Vec<(String, usize)> {
    LENGTH_BINS
        .iter()
        .map(|&(label, lo, hi)| {
            let n = sessions
                .iter()
                .filter(|s| (lo..=hi).contains(&s.session.clicks().len()))
                .count();
            (label.to_owned(), n)
        })
        .collect()
}

/// Width of a price band, in US dollars.
/// How a report writes prices: the currency's sign and name, and the width of a price
/// band. The UCI shop's is US dollars in bands of $10; another shop's comes from its
/// schema's currency and its prices ([`Money::of`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Money {
    pub sign: String,
    /// "US dollar", "EUR": for the charts' words.
    pub name: String,
    pub band: f64,
}

impl Money {
    /// The UCI shop's.
    pub fn usd() -> Money {
        Money {
            sign: "$".into(),
            name: "US dollar".into(),
            band: 10.0,
        }
    }

    /// A shop's: its currency's sign (or code), and a round band width (1, 2 or 5 times a
    /// power of ten) giving about ten bands up to the 95th percentile of its prices.
    pub fn of(currency: Option<&str>, prices: impl Iterator<Item = f64>) -> Money {
        let code = currency.unwrap_or("").trim().to_ascii_uppercase();
        let (sign, name) = match code.as_str() {
            "USD" => ("$".to_owned(), "US dollar".to_owned()),
            "EUR" => ("€".to_owned(), "euro".to_owned()),
            "GBP" => ("£".to_owned(), "pound sterling".to_owned()),
            "" => (String::new(), "price".to_owned()),
            other => (format!("{other} "), other.to_owned()),
        };
        let mut prices: Vec<f64> = prices.filter(|p| p.is_finite() && *p > 0.0).collect();
        prices.sort_by(f64::total_cmp);
        let p95 = prices
            .get((prices.len() as f64 * 0.95) as usize)
            .or(prices.last())
            .copied()
            .unwrap_or(10.0);
        let rough = (p95 / 10.0).max(f64::MIN_POSITIVE);
        let power = 10f64.powf(rough.log10().floor());
        let band = [1.0, 2.0, 5.0, 10.0]
            .into_iter()
            .map(|m| m * power)
            .find(|b| *b >= rough)
            .unwrap_or(10.0 * power);
        Money { sign, name, band }
    }

    fn band_of(&self, price: f64) -> usize {
        (price / self.band).floor().clamp(0.0, 1e6) as usize
    }

    /// `$0-9` for whole bands of whole prices, as the UCI report has always written them;
    /// `€0.5-1` for bands under one.
    fn band_label(&self, band: usize) -> String {
        let lo = band as f64 * self.band;
        if self.band >= 1.0 && self.band.fract() == 0.0 {
            format!("{}{lo:.0}-{:.0}", self.sign, lo + self.band - 1.0)
        } else {
            format!("{}{lo}-{}", self.sign, lo + self.band)
        }
    }
}

pub fn price_histogram<S: AnySession>(
    sessions: &[&LabelledSession<S>],
    money: &Money,
) -> Vec<(String, usize)> {
    let mut counts: Vec<usize> = Vec::new();
    for s in sessions {
        for c in s.session.clicks() {
            let band = money.band_of(c.price());
            if counts.len() <= band {
                counts.resize(band + 1, 0);
            }
            counts[band] += 1;
        }
    }
    let first = counts.iter().position(|&n| n > 0).unwrap_or(0);
    counts
        .iter()
        .enumerate()
        .skip(first)
        .map(|(band, &n)| (money.band_label(band), n))
        .collect()
}

/// Conversion rate by the mean price of the products a session viewed, in $10 bands.
pub fn rate_by_price_band<S: AnySession>(
    sessions: &[&LabelledSession<S>],
    money: &Money,
) -> Vec<Rate> {
    let mut groups: Vec<(usize, usize)> = Vec::new();
    for s in sessions {
        let clicks = s.session.clicks();
        if clicks.is_empty() {
            continue;
        }
        let mean = clicks.iter().map(AnyClick::price).sum::<f64>() / clicks.len() as f64;
        let band = money.band_of(mean);
        if groups.len() <= band {
            groups.resize(band + 1, (0, 0));
        }
        groups[band].0 += 1;
        groups[band].1 += usize::from(s.outcome.converted);
    }
    groups
        .iter()
        .enumerate()
        .filter(|(_, (n, _))| *n > 0)
        .map(|(band, &(n, converted))| Rate {
            label: money.band_label(band),
            sessions: n,
            rate: converted as f64 / n as f64,
        })
        .collect()
}

/// Clicks by main category.
pub fn category_mix<S: AnySession>(sessions: &[&LabelledSession<S>]) -> Vec<(String, usize)> {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for s in sessions {
        for c in s.session.clicks() {
            let label = c.category_label();
            match counts.iter_mut().find(|(l, _)| *l == label) {
                Some((_, n)) => *n += 1,
                None => counts.push((label.into_owned(), 1)),
            }
        }
    }
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    counts
}

fn rates(groups: impl IntoIterator<Item = (String, (usize, usize))>) -> Vec<Rate> {
    groups
        .into_iter()
        .map(|(label, (n, converted))| Rate {
            label,
            sessions: n,
            rate: if n > 0 {
                converted as f64 / n as f64
            } else {
                0.0
            },
        })
        .collect()
}

/// Conversion rate by the country of a session's first click: the `top` countries by
/// sessions, the rest grouped as "others".
pub fn rate_by_country<S: AnySession>(sessions: &[&LabelledSession<S>], top: usize) -> Vec<Rate> {
    let mut by: HashMap<&'static str, (usize, usize)> = HashMap::new();
    for s in sessions {
        if let Some(country) = s.session.clicks().first().and_then(AnyClick::country) {
            let e = by.entry(country).or_default();
            e.0 += 1;
            e.1 += usize::from(s.outcome.converted);
        }
    }
    let mut all: Vec<(&str, (usize, usize))> = by.into_iter().collect();
    all.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then_with(|| a.0.cmp(b.0)));
    let mut shown: Vec<(String, (usize, usize))> = all
        .iter()
        .take(top)
        .map(|(name, counts)| ((*name).to_owned(), *counts))
        .collect();
    let rest = all
        .iter()
        .skip(top)
        .fold((0, 0), |acc, (_, (n, c))| (acc.0 + n, acc.1 + c));
    if rest.0 > 0 {
        shown.push((format!("{} others", all.len() - top), rest));
    }
    rates(shown)
}

/// Conversion rate by the day of the week of a session's first click.
pub fn rate_by_weekday<S: AnySession>(sessions: &[&LabelledSession<S>]) -> Vec<Rate> {
    const DAYS: [&str; 7] = [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ];
    let mut counts = [(0usize, 0usize); 7];
    for s in sessions {
        if let Some(first) = s.session.clicks().first() {
            let day = first.day().weekday().num_days_from_monday() as usize;
            counts[day].0 += 1;
            counts[day].1 += usize::from(s.outcome.converted);
        }
    }
    rates(DAYS.iter().map(|d| (*d).to_owned()).zip(counts))
}

/// Weighted Pearson correlations between the columns of `columns` (each a vector of the
/// same length as `weights`); 0 where a column is constant.
pub fn correlations(columns: &[Vec<f64>], weights: &[f64]) -> Vec<Vec<f64>> {
    let total: f64 = weights.iter().sum();
    let stats: Vec<(f64, f64)> = columns
        .iter()
        .map(|c| {
            let mean = metrics::weighted_mean(c, weights);
            let var = c
                .iter()
                .zip(weights)
                .map(|(v, w)| w * (v - mean).powi(2))
                .sum::<f64>()
                / total;
            (mean, var.sqrt())
        })
        .collect();
    let n = columns.len();
    let mut out = vec![vec![0.0; n]; n];
    for i in 0..n {
        for j in 0..n {
            let ((mi, si), (mj, sj)) = (stats[i], stats[j]);
            if si <= 0.0 || sj <= 0.0 || total <= 0.0 {
                continue;
            }
            let cov = columns[i]
                .iter()
                .zip(&columns[j])
                .zip(weights)
                .map(|((a, b), w)| w * (a - mi) * (b - mj))
                .sum::<f64>()
                / total;
            out[i][j] = (cov / (si * sj)).clamp(-1.0, 1.0);
        }
    }
    out
}

/// The session features of the correlation heatmap: the readable ones.
pub const CORRELATED_FEATURES: [&str; 17] = [
    "clicks",
    "distinct_products",
    "repeat_views",
    "share_trousers",
    "share_skirts",
    "share_blouses",
    "share_sale",
    "price_mean",
    "price_spread",
    "share_above_average_price",
    "page_max",
    "share_profile_photo",
    "weekend",
    "product_next_rate_mean",
    // A shop's derived plan (the UCI plan has none of these).
    "share_above_category_price",
    "duration",
    "time_per_click",
];

/// The columns of [`CORRELATED_FEATURES`] in `set`, and whether each prefix's session
/// converted, with their names.
pub fn feature_columns<F: Element>(
    plan: &crate::features::Plan,
    set: &PrefixSet<F>,
) -> (Vec<String>, Vec<Vec<f64>>) {
    let mut names = Vec::new();
    let mut columns = Vec::new();
    for name in CORRELATED_FEATURES {
        if let Some(j) = plan.index_of(name) {
            names.push(name.to_owned());
            columns.push(set.features.column(j).iter().map(|&v| v.into()).collect());
        }
    }
    names.push("converted".to_owned());
    columns.push(
        set.converted
            .iter()
            .map(|&c| if c { 1.0 } else { 0.0 })
            .collect(),
    );
    (names, columns)
}

/// Predictions in ten groups of equal weight, lowest predicted first: each group's
/// weighted mean predicted and realised value.
pub fn deciles(predicted: &[f64], realised: &[f64], weights: &[f64]) -> Vec<(f64, f64)> {
    let total: f64 = weights.iter().sum();
    if total <= 0.0 {
        return Vec::new();
    }
    let mut order: Vec<usize> = (0..predicted.len()).collect();
    order.sort_by(|&a, &b| predicted[a].total_cmp(&predicted[b]));
    let mut sums = [(0.0, 0.0, 0.0); 10];
    let mut before = 0.0;
    for i in order {
        let group = ((10.0 * before / total) as usize).min(9);
        let w = weights[i];
        sums[group].0 += w;
        sums[group].1 += w * predicted[i];
        sums[group].2 += w * realised[i];
        before += w;
    }
    sums.iter()
        .filter(|(w, _, _)| *w > 0.0)
        .map(|(w, p, r)| (p / w, r / w))
        .collect()
}

/// At most `max` points of a curve, evenly spaced along it, its ends kept: a ROC curve
/// over 30,000 prefixes would otherwise make a chart of a megabyte.
pub fn thinned(points: &[(f64, f64)], max: usize) -> Vec<(f64, f64)> {
    if points.len() <= max || max < 2 {
        return points.to_vec();
    }
    let step = (points.len() - 1) as f64 / (max - 1) as f64;
    (0..max)
        .map(|i| points[((i as f64 * step).round() as usize).min(points.len() - 1)])
        .collect()
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_shops_money_is_its_currency_in_round_bands_of_about_a_tenth_of_its_prices() {
        let money = Money::of(Some("eur"), (1..=100).map(|i| 5.0 * f64::from(i)));
        assert_eq!((money.sign.as_str(), money.band), ("€", 50.0));
        assert_eq!(money.band_label(1), "€50-99");
        let cheap = Money::of(Some("XYZ"), (1..=100).map(|i| 0.05 * f64::from(i)));
        assert_eq!((cheap.sign.as_str(), cheap.band), ("XYZ ", 0.5));
        assert_eq!(cheap.band_label(1), "XYZ 0.5-1");
        assert_eq!(Money::usd().band_label(2), "$20-29");
    }

    use super::*;
    use crate::domain::{Click, RawClick, Session, SessionId};
    use crate::labels::Outcome;

    fn session(id: &str, clicks: &[(u32, f64, i64, i64)], converted: bool) -> LabelledSession {
        // (day of July 2008, price, page, category)
        let clicks = clicks
            .iter()
            .enumerate()
            .map(|(i, &(day, price, page, category))| {
                Click::parse(&RawClick {
                    year: 2008,
                    month: 7,
                    day: i64::from(day),
                    order: i as i64 + 1,
                    country: 29,
                    page1_main_category: category,
                    page2_clothing_model: format!("A{}", i + 1),
                    colour: 1,
                    location: 1,
                    model_photography: 1,
                    price,
                    price_2: 1,
                    page,
                })
                .expect("a valid click")
            })
            .collect();
        let (session, _) =
            Session::new(SessionId::parse(id).expect("id"), clicks).expect("a session");
        LabelledSession {
            session,
            outcome: Outcome {
                converted,
                revenue: 0.0,
            },
            valid_prefixes: 1,
        }
    }

    #[test]
    fn session_figures_count_what_was_built() {
        // 7 July 2008 was a Monday.
        let a = session("a", &[(7, 28.0, 1, 1), (7, 33.0, 3, 2)], true);
        let b = session("b", &[(8, 52.0, 1, 4)], false);
        let c = session(
            "c",
            &[(8, 18.0, 2, 1), (8, 19.0, 2, 1), (8, 21.0, 5, 3)],
            false,
        );
        let all = [&a, &b, &c];
        assert_eq!(
            deepest_page(&all)
                .iter()
                .map(|(_, n)| *n)
                .collect::<Vec<_>>(),
            vec![1, 0, 1, 0, 1]
        );
        let funnel = clicks_funnel(&all);
        assert_eq!(
            &funnel[..4],
            &[(1, 1.0), (2, 2.0 / 3.0), (3, 1.0 / 3.0), (4, 0.0)]
        );
        assert_eq!(
            length_histogram(&all)[..3]
                .iter()
                .map(|(_, n)| *n)
                .collect::<Vec<_>>(),
            vec![1, 1, 1]
        );
        // Clicks at 18, 19 ($10-19), 21, 28 ($20-29), 33 ($30-39), 52 ($50-59).
        assert_eq!(
            price_histogram(&all, &Money::usd()),
            vec![
                ("$10-19".to_owned(), 2),
                ("$20-29".to_owned(), 2),
                ("$30-39".to_owned(), 1),
                ("$40-49".to_owned(), 0),
                ("$50-59".to_owned(), 1)
            ]
        );
        // Session means: a 30.5 ($30-39, converted), b 52, c 19.33.
        let bands = rate_by_price_band(&all, &Money::usd());
        let a_band = bands
            .iter()
            .find(|r| r.label == "$30-39")
            .expect("a's band");
        assert_eq!((a_band.sessions, a_band.rate), (1, 1.0));
        assert_eq!(category_mix(&all)[0], ("trousers".to_owned(), 3));
        let days = rate_by_weekday(&all);
        assert_eq!((days[0].sessions, days[0].rate), (1, 1.0), "Monday");
        assert_eq!((days[1].sessions, days[1].rate), (2, 0.0), "Tuesday");
        let countries = rate_by_country(&all, 8);
        assert_eq!(countries.len(), 1);
        assert_eq!(countries[0].sessions, 3);
        assert!((countries[0].rate - 1.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn correlations_of_hand_made_columns() {
        let x = vec![1.0, 2.0, 3.0, 4.0];
        let twice = vec![2.0, 4.0, 6.0, 8.0];
        let reversed = vec![4.0, 3.0, 2.0, 1.0];
        let constant = vec![5.0; 4];
        let c = correlations(&[x, twice, reversed, constant], &[1.0; 4]);
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        assert!(close(c[0][1], 1.0) && close(c[0][2], -1.0) && close(c[0][0], 1.0));
        assert_eq!(c[0][3], 0.0, "a constant column correlates with nothing");
    }

    #[test]
    fn deciles_split_by_weight_in_order_of_prediction() {
        let predicted: Vec<f64> = (0..20).map(f64::from).collect();
        let realised: Vec<f64> = predicted.iter().map(|p| p * 2.0).collect();
        let d = deciles(&predicted, &realised, &[1.0; 20]);
        assert_eq!(d.len(), 10);
        assert_eq!(d[0], (0.5, 1.0));
        assert_eq!(d[9], (18.5, 37.0));
    }

    #[test]
    fn thinning_keeps_the_ends_and_the_count() {
        let points: Vec<(f64, f64)> = (0..1001).map(|i| (f64::from(i), 0.0)).collect();
        let t = thinned(&points, 101);
        assert_eq!(t.len(), 101);
        assert_eq!((t[0], t[100]), ((0.0, 0.0), (1000.0, 0.0)));
        assert_eq!(thinned(&points[..5], 101).len(), 5);
    }
}
