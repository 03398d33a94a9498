//! Personas: k-means on standardised full-session features, each cluster named and
//! described from its centroid by the rules in [`name_personas`].

use super::classifier::FitError;
use super::scaler::Scaler;
use crate::dataset::Element;
use crate::features;
use linfa::prelude::*;
use linfa_clustering::KMeans;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

/// The session features personas are built on, and whether counts are log-compressed
/// (session lengths are heavy-tailed; without it one 190-click visit drags a centroid).
pub const SEGMENT_FEATURES: &[(&str, bool)] = &[
    ("clicks", true),
    ("price_mean", false),
    ("share_sale", false),
    ("share_above_average_price", false),
    ("page_max", false),
];

/// What a shop's derived plan offers in their place, where the UCI names are absent: the
/// share above the category's learned price for the UCI's `price_2`, and the visit's
/// duration (log-compressed, heavy-tailed like clicks) for the catalogue depth.
const SHOP_SEGMENT_FEATURES: &[(&str, bool)] =
    &[("share_above_category_price", false), ("duration", true)];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentFeature {
    pub name: String,
    /// Position in the feature vector.
    pub index: usize,
    pub log1p: bool,
}

/// A named cluster, as the service and the report show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Persona {
    pub id: usize,
    pub name: String,
    pub description: String,
    /// Training sessions in the cluster.
    pub sessions: usize,
    pub share: f64,
    /// Centroid in feature units (clicks, dollars, fractions, page numbers).
    pub centroid: Vec<(String, f64)>,
    /// Centroid in standard deviations from the mean of all sessions.
    pub centroid_z: Vec<(String, f64)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentModel {
    pub features: Vec<SegmentFeature>,
    pub scaler: Scaler,
    /// One row per persona, in standardised units.
    pub centroids: Vec<Vec<f64>>,
    pub personas: Vec<Persona>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KMeansParams {
    pub k_min: usize,
    pub k_max: usize,
    pub runs: usize,
    pub max_iterations: u64,
    /// Silhouette is O(n²): it is computed on at most this many sessions.
    pub silhouette_sample: usize,
    pub seed: u64,
}

impl KMeansParams {
    pub fn check(&self) -> Result<(), FitError> {
        if self.k_min < 2 || self.k_max < self.k_min {
            return Err(FitError::Param {
                name: "k",
                problem: format!(
                    "range {}..={} must start at 2 or more",
                    self.k_min, self.k_max
                ),
            });
        }
        if self.silhouette_sample < 10 {
            return Err(FitError::Param {
                name: "silhouette_sample",
                problem: "must be at least 10".into(),
            });
        }
        Ok(())
    }
}

/// The result of choosing k: the silhouette of every k tried.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KChoice {
    pub k: usize,
    pub silhouette_by_k: Vec<(usize, f64)>,
}

/// The few columns k-means reads, in `f64` (linfa's k-means and the stored centroids are
/// `f64`): this small copy is the only widening of training's `f32` session rows.
fn segment_columns<F: Element>(x: ArrayView2<F>, features: &[SegmentFeature]) -> Array2<f64> {
    let mut out = Array2::zeros((x.nrows(), features.len()));
    for (j, f) in features.iter().enumerate() {
        for (dst, &src) in out.column_mut(j).iter_mut().zip(x.column(f.index)) {
            let src: f64 = src.into();
            *dst = if f.log1p { src.ln_1p() } else { src };
        }
    }
    out
}

/// The segment features a plan offers: version 1's where it has them (the UCI plan has
/// all five), a shop's derived equivalents otherwise.
pub fn segment_features(plan: &features::Plan) -> Vec<SegmentFeature> {
    SEGMENT_FEATURES
        .iter()
        .chain(SHOP_SEGMENT_FEATURES)
        .filter_map(|&(name, log1p)| {
            Some(SegmentFeature {
                name: name.to_owned(),
                index: plan.index_of(name)?,
                log1p,
            })
        })
        .collect()
}

fn fit_kmeans(
    z: &Array2<f64>,
    k: usize,
    params: &KMeansParams,
) -> Result<KMeans<f64, linfa_nn::distance::L2Dist>, FitError> {
    KMeans::params_with_rng(k, Xoshiro256PlusPlus::seed_from_u64(params.seed))
        .n_runs(params.runs)
        .max_n_iterations(params.max_iterations)
        .fit(&DatasetBase::from(z.clone()))
        .map_err(|e| FitError::KMeans(e.to_string()))
}

fn centroid_rows(model: &KMeans<f64, linfa_nn::distance::L2Dist>) -> Vec<Vec<f64>> {
    model
        .centroids()
        .axis_iter(Axis(0))
        .map(|c| c.to_vec())
        .collect()
}

/// Silhouette of the nearest-centroid assignment of `z` (standardised rows), on a seeded
/// sample of at most `sample` rows: silhouette is O(n²).
fn sampled_silhouette(
    z: &Array2<f64>,
    centroids: &[Vec<f64>],
    sample: usize,
    seed: u64,
) -> Result<f64, FitError> {
    let mut rows: Vec<usize> = (0..z.nrows()).collect();
    if rows.len() > sample {
        rows.shuffle(&mut Xoshiro256PlusPlus::seed_from_u64(seed));
        rows.truncate(sample);
    }
    let z = z.select(Axis(0), &rows);
    let labels: Array1<usize> = z
        .axis_iter(Axis(0))
        .map(|row| nearest(row, centroids).0)
        .collect();
    DatasetBase::new(z, labels)
        .silhouette_score()
        .map_err(|e| FitError::KMeans(e.to_string()))
}

/// Tries every k in the range on `x` (full-session feature rows) and returns the k with
/// the best silhouette.
pub fn choose_k<F: Element>(
    x: ArrayView2<F>,
    features: &[SegmentFeature],
    params: &KMeansParams,
) -> Result<KChoice, FitError> {
    params.check()?;
    let raw = segment_columns(x, features);
    let z = Scaler::fit(raw.view()).transform(raw.view());
    let mut by_k = Vec::new();
    for k in params.k_min..=params.k_max {
        let model = fit_kmeans(&z, k, params)?;
        let centroids = centroid_rows(&model);
        let score = sampled_silhouette(&z, &centroids, params.silhouette_sample, params.seed)?;
        by_k.push((k, score));
    }
    let best = by_k
        .iter()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|&(k, _)| k)
        .unwrap_or(params.k_min);
    Ok(KChoice {
        k: best,
        silhouette_by_k: by_k,
    })
}

impl SegmentModel {
    /// Fits k clusters on `x` and names them. Returns the model and its silhouette.
    pub fn fit<F: Element>(
        x: ArrayView2<F>,
        features: Vec<SegmentFeature>,
        k: usize,
        params: &KMeansParams,
        sign: &str,
    ) -> Result<(SegmentModel, f64), FitError> {
        params.check()?;
        let raw = segment_columns(x, &features);
        let scaler = Scaler::fit(raw.view());
        let z = scaler.transform(raw.view());
        let model = fit_kmeans(&z, k, params)?;
        let centroids = centroid_rows(&model);
        let score = sampled_silhouette(&z, &centroids, params.silhouette_sample, params.seed)?;
        let assigned: Array1<usize> = model.predict(&z);
        let mut sizes = vec![0usize; k];
        for &c in &assigned {
            sizes[c] += 1;
        }
        let names = name_personas(&features, &centroids);
        let personas = centroids
            .iter()
            .enumerate()
            .map(|(id, c)| {
                let readable = readable_centroid(&features, &scaler, c);
                Persona {
                    id,
                    name: names[id].clone(),
                    description: describe(&readable, sign),
                    sessions: sizes[id],
                    share: sizes[id] as f64 / z.nrows().max(1) as f64,
                    centroid: readable,
                    centroid_z: features
                        .iter()
                        .map(|f| f.name.clone())
                        .zip(c.iter().copied())
                        .collect(),
                }
            })
            .collect();
        Ok((
            SegmentModel {
                features,
                scaler,
                centroids,
                personas,
            },
            score,
        ))
    }

    /// Nearest persona of each row and the distance to its centroid (standardised units).
    pub fn assign(&self, x: ArrayView2<f64>) -> Vec<(usize, f64)> {
        let z = self
            .scaler
            .transform(segment_columns(x, &self.features).view());
        z.axis_iter(Axis(0))
            .map(|row| nearest(row, &self.centroids))
            .collect()
    }
}

/// The silhouette's sample: `train`'s default when choosing k and what `evaluate` reports.
pub const SILHOUETTE_SAMPLE: usize = 3000;
pub const SILHOUETTE_SEED: u64 = 2008;

impl SegmentModel {
    /// Silhouette of this model's assignment of `x` (full-session feature rows), on a
    /// seeded sample of at most `sample` rows.
    pub fn silhouette(
        &self,
        x: ArrayView2<f64>,
        sample: usize,
        seed: u64,
    ) -> Result<f64, FitError> {
        let z = self
            .scaler
            .transform(segment_columns(x, &self.features).view());
        sampled_silhouette(&z, &self.centroids, sample, seed)
    }
}

fn nearest(row: ArrayView1<f64>, centroids: &[Vec<f64>]) -> (usize, f64) {
    centroids
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let d2: f64 = row.iter().zip(c).map(|(a, b)| (a - b).powi(2)).sum();
            (i, d2.sqrt())
        })
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap_or((0, 0.0))
}

fn readable_centroid(
    features: &[SegmentFeature],
    scaler: &Scaler,
    z: &[f64],
) -> Vec<(String, f64)> {
    features
        .iter()
        .enumerate()
        .map(|(j, f)| {
            let v = z[j] * scaler.std[j] + scaler.mean[j];
            (f.name.clone(), if f.log1p { v.exp_m1() } else { v })
        })
        .collect()
}

fn value(pairs: &[(String, f64)], name: &str) -> f64 {
    pairs
        .iter()
        .find(|(n, _)| n == name)
        .map_or(0.0, |(_, v)| *v)
}

/// A persona in words, from what its centroid has: the UCI shop's five, or a shop's own.
fn describe(readable: &[(String, f64)], sign: &str) -> String {
    let has = |name: &str| readable.iter().any(|(n, _)| n == name);
    if has("share_sale") && has("page_max") {
        return format!(
            "About {:.0} clicks a visit at {sign}{:.0} on average, {:.0}% sale items, {:.0}% above their category's average price, reaching page {:.1}.",
            value(readable, "clicks"),
            value(readable, "price_mean"),
            100.0 * value(readable, "share_sale"),
            100.0 * value(readable, "share_above_average_price"),
            value(readable, "page_max"),
        );
    }
    let mut text = format!(
        "About {:.0} clicks a visit at {sign}{:.0} on average",
        value(readable, "clicks"),
        value(readable, "price_mean"),
    );
    if has("share_above_category_price") {
        text.push_str(&format!(
            ", {:.0}% above their category's average price",
            100.0 * value(readable, "share_above_category_price")
        ));
    }
    if has("duration") {
        text.push_str(&format!(
            ", over {:.1} minutes",
            value(readable, "duration") / 60.0
        ));
    }
    text.push('.');
    text
}

/// The naming rules. Each rule reads the centroid in standard deviations (z) from the mean
/// session and has a strength; the strongest (cluster, rule) pairs are matched first, each
/// rule naming at most one cluster:
/// - Bargain hunters: sale share z >= 0.5 (strength: that z)
/// - Premium browsers: above-average-price share or mean price z >= 0.5 (the larger z)
/// - Deep researchers: clicks z >= 0.5
/// - Catalogue divers: deepest page (a shop with timestamps: the visit's duration) z >= 0.5
/// - Window shoppers: clicks z <= -0.5 (strength: -z)
/// - Full-price regulars: sale share z <= -0.5 (strength: -z)
///
/// A cluster left over is "Everyday browsers", qualified by its most distinctive trait
/// when that name is taken.
pub fn name_personas(features: &[SegmentFeature], centroids: &[Vec<f64>]) -> Vec<String> {
    let z = |c: &[f64], name: &str| {
        features
            .iter()
            .position(|f| f.name == name)
            .map_or(0.0, |j| c[j])
    };
    type Rule = (&'static str, fn(&dyn Fn(&str) -> f64) -> f64);
    let rules: [Rule; 6] = [
        ("Bargain hunters", |z| z("share_sale")),
        ("Premium browsers", |z| {
            z("share_above_average_price")
                .max(z("share_above_category_price"))
                .max(z("price_mean"))
        }),
        ("Deep researchers", |z| z("clicks")),
        ("Catalogue divers", |z| z("page_max").max(z("duration"))),
        ("Window shoppers", |z| -z("clicks")),
        ("Full-price regulars", |z| -z("share_sale")),
    ];
    const THRESHOLD: f64 = 0.5;
    let mut candidates = Vec::new();
    for (ci, c) in centroids.iter().enumerate() {
        let zc = |name: &str| z(c, name);
        for (ri, (_, strength)) in rules.iter().enumerate() {
            let s = strength(&zc);
            if s >= THRESHOLD {
                candidates.push((s, ci, ri));
            }
        }
    }
    candidates.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut names: Vec<Option<String>> = vec![None; centroids.len()];
    let mut used = [false; 6];
    for (_, ci, ri) in candidates {
        if names[ci].is_none() && !used[ri] {
            names[ci] = Some(rules[ri].0.to_owned());
            used[ri] = true;
        }
    }
    let traits: [(&str, &str, &str); 5] = [
        ("clicks", "longer visits", "shorter visits"),
        ("price_mean", "pricier items", "cheaper items"),
        ("share_sale", "more sale items", "fewer sale items"),
        (
            "share_above_average_price",
            "above-average prices",
            "below-average prices",
        ),
        ("page_max", "deeper pages", "first pages"),
    ];
    let mut taken: Vec<String> = names.iter().flatten().cloned().collect();
    for (ci, c) in centroids.iter().enumerate() {
        if names[ci].is_some() {
            continue;
        }
        let mut ranked: Vec<(f64, String)> = traits
            .iter()
            .map(|(f, up, down)| {
                let v = z(c, f);
                (v.abs(), if v >= 0.0 { up } else { down }.to_string())
            })
            .collect();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut name = "Everyday browsers".to_string();
        let mut qualifiers = ranked.into_iter().map(|(_, t)| t);
        while taken.contains(&name) {
            match qualifiers.next() {
                Some(q) if name == "Everyday browsers" => name = format!("Everyday browsers, {q}"),
                Some(q) => name = format!("{name}, {q}"),
                None => {
                    name = format!("{name} ({})", taken.len() + 1);
                }
            }
        }
        taken.push(name.clone());
        names[ci] = Some(name);
    }
    names.into_iter().map(Option::unwrap_or_default).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Centroid in z units, in SEGMENT_FEATURES order: clicks, price, sale, above, page.
    fn names(centroids: &[[f64; 5]]) -> Vec<String> {
        let c: Vec<Vec<f64>> = centroids.iter().map(|c| c.to_vec()).collect();
        name_personas(&segment_features(features::Plan::uci()), &c)
    }

    #[test]
    fn personas_are_named_by_their_centroids_not_their_order() {
        let a = [0.0, 0.0, 1.5, -0.2, 0.0]; // many sale items
        let b = [2.0, 0.1, 0.0, 0.0, 0.3]; // long visits
        let c = [-0.9, 0.0, 0.0, 0.0, -0.2]; // short visits
        assert_eq!(
            names(&[a, b, c]),
            ["Bargain hunters", "Deep researchers", "Window shoppers"]
        );
        assert_eq!(
            names(&[c, a, b]),
            ["Window shoppers", "Bargain hunters", "Deep researchers"]
        );
    }

    #[test]
    fn the_strongest_cluster_gets_a_contested_name() {
        let mild = [0.0, 0.0, 0.7, 0.0, 0.0];
        let strong = [0.0, 0.0, 2.0, 0.0, 0.0];
        let n = names(&[mild, strong]);
        assert_eq!(n[1], "Bargain hunters");
        assert_ne!(n[0], "Bargain hunters");
    }

    #[test]
    fn premium_follows_prices_and_leftovers_get_distinct_qualified_names() {
        let premium = [0.0, 1.2, -0.1, 0.9, 0.0];
        let plain1 = [0.1, 0.0, 0.0, 0.0, 0.2];
        let plain2 = [-0.2, -0.3, 0.0, 0.0, 0.0];
        let n = names(&[premium, plain1, plain2]);
        assert_eq!(n[0], "Premium browsers");
        assert_eq!(n[1], "Everyday browsers");
        assert_eq!(n[2], "Everyday browsers, cheaper items");
    }

    #[test]
    fn the_uci_plan_gives_version_1_s_five_segment_features_and_no_shop_s() {
        let names: Vec<String> = segment_features(features::Plan::uci())
            .into_iter()
            .map(|f| f.name)
            .collect();
        let expected: Vec<&str> = SEGMENT_FEATURES.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, expected);
    }
}
