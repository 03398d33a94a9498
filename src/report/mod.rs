//! `report.html`: the data, the conversion model, the revenue model and the segments in
//! charts, written by `train` beside `report.md` and by `evaluate --html` for any version
//! on any file. The numbers come from [`figures`], the drawing from [`chart`], the page
//! from [`page`]; each section builder below joins the three for one part of the report.

pub mod chart;
pub mod figures;
pub mod page;

use crate::dataset::{Element, PrefixSet};
use crate::domain::AnySession;
use crate::evaluation::{self, PREFIX_BUCKETS};
use crate::labels::LabelledSession;
use crate::ml::metrics;
use crate::ml::segment::{KChoice, Persona};
use chart::{ChartError, Frame, Legend, Orientation, Series};
pub use figures::Money;
use page::{Body, Figure, Section, Table};

pub use page::Page;

/// Points a curve keeps when drawn (its numbers table keeps fewer still).
const CURVE_POINTS: usize = 400;
/// Bins of the reliability diagram.
pub const CALIBRATION_BINS: usize = 10;
/// Countries shown by name; the others are grouped.
const TOP_COUNTRIES: usize = 8;

fn frame(id: &str, title: &str, description: String, x: &str, y: &str) -> Frame {
    Frame {
        id: id.to_owned(),
        title: title.to_owned(),
        description,
        x_label: x.to_owned(),
        y_label: y.to_owned(),
    }
}

fn figure(frame: &Frame, svg: String, data: Table) -> Figure {
    Figure {
        id: frame.id.clone(),
        title: frame.title.clone(),
        description: frame.description.clone(),
        body: Body::Svg(svg),
        data,
    }
}

fn pct(v: f64) -> String {
    format!("{:.1}%", 100.0 * v)
}

/// A bar chart of counts, vertical.
fn counts_figure(
    frame: &Frame,
    counts: &[(String, usize)],
    column: &str,
) -> Result<Figure, ChartError> {
    let names: Vec<String> = counts.iter().map(|(l, _)| l.clone()).collect();
    let values: Vec<f64> = counts.iter().map(|(_, n)| *n as f64).collect();
    let svg = chart::bars(frame, &names, &values, None, Orientation::Vertical)?;
    let mut data = Table::new(&[frame.x_label.as_str(), column]);
    for (l, n) in counts {
        data.row(vec![l.clone(), n.to_string()]);
    }
    Ok(figure(frame, svg, data))
}

/// A bar chart of conversion rates (in percent), with the sessions behind each.
fn rates_figure(
    frame: &Frame,
    rates: &[figures::Rate],
    orientation: Orientation,
) -> Result<Figure, ChartError> {
    let names: Vec<String> = rates
        .iter()
        .map(|r| format!("{} ({})", r.label, r.sessions))
        .collect();
    let values: Vec<f64> = rates.iter().map(|r| 100.0 * r.rate).collect();
    let svg = chart::bars(frame, &names, &values, None, orientation)?;
    let mut data = Table::new(&["group", "sessions", "converted"]);
    for r in rates {
        data.row(vec![r.label.clone(), r.sessions.to_string(), pct(r.rate)]);
    }
    Ok(figure(frame, svg, data))
}

/// The data: what sessions look like and where they convert. `sessions` are all the
/// file's sessions; `set` their prefixes (for the feature correlations).
pub fn data_section<S: AnySession, F: Element>(
    plan: &crate::features::Plan,
    sessions: &[&LabelledSession<S>],
    set: &PrefixSet<F>,
    money: &Money,
) -> Result<Section, ChartError> {
    let mut out = Vec::new();
    let deepest = figures::deepest_page(sessions);
    // Only a shop whose clicks have a catalogue page has this funnel.
    if deepest.iter().any(|(_, n)| *n > 0) {
        let f = frame(
            "deepest-page",
            "Sessions by the deepest catalogue page reached",
            "How far into the catalogue's pages (1 to 5) sessions went: the funnel by page. Bars count sessions.".into(),
            "deepest page reached",
            "sessions",
        );
        out.push(counts_figure(&f, &deepest, "sessions")?);
    }

    let funnel = figures::clicks_funnel(sessions);
    let f = frame(
        "funnel",
        "The funnel by clicks: sessions that went on to at least k clicks",
        "The share of sessions (in percent) with at least k clicks, for k from 1 to 50: how quickly shoppers leave.".into(),
        "clicks (at least)",
        "sessions (%)",
    );
    let names: Vec<String> = funnel.iter().map(|(k, _)| format!("{k}+")).collect();
    let values: Vec<f64> = funnel.iter().map(|(_, s)| 100.0 * s).collect();
    let svg = chart::bars(&f, &names, &values, None, Orientation::Vertical)?;
    let mut data = Table::new(&["clicks (at least)", "sessions"]);
    for (k, share) in &funnel {
        data.row(vec![k.to_string(), pct(*share)]);
    }
    out.push(figure(&f, svg, data));

    let f = frame(
        "session-length",
        "Session length distribution",
        "Sessions by their number of clicks (the data has no times, so length is counted in clicks).".into(),
        "clicks in the session",
        "sessions",
    );
    out.push(counts_figure(
        &f,
        &figures::length_histogram(sessions),
        "sessions",
    )?);

    let f = frame(
        "price-distribution",
        "Price distribution of the products clicked",
        format!(
            "Clicks by the price of the product viewed, in {} bands of {}{}.",
            money.name, money.sign, money.band
        ),
        &format!("price band ({}s)", money.name),
        "clicks",
    );
    out.push(counts_figure(
        &f,
        &figures::price_histogram(sessions, money),
        "clicks",
    )?);

    let f = frame(
        "price-sensitivity",
        "Conversion rate by price band (price sensitivity)",
        format!("The share of sessions (in percent) that converted, by the mean price of the products they viewed, in {}{} bands; sessions per band in brackets.", money.sign, money.band),
        "mean price viewed (sessions)",
        "converted (%)",
    );
    out.push(rates_figure(
        &f,
        &figures::rate_by_price_band(sessions, money),
        Orientation::Vertical,
    )?);

    let f = frame(
        "category-mix",
        "Category mix",
        "Clicks by main category of the product viewed.".into(),
        "main category",
        "clicks",
    );
    out.push(counts_figure(
        &f,
        &figures::category_mix(sessions),
        "clicks",
    )?);

    let countries = figures::rate_by_country(sessions, TOP_COUNTRIES);
    // Only a shop whose clicks name a country has this chart.
    if !countries.is_empty() {
        let f = frame(
            "country-rate",
            "Conversion rate by country",
            format!("The share of sessions (in percent) that converted, for the {TOP_COUNTRIES} countries with the most sessions and the others grouped; sessions in brackets."),
            "converted (%)",
            "country of the first click (sessions)",
        );
        out.push(rates_figure(&f, &countries, Orientation::Horizontal)?);
    }

    let f = frame(
        "weekday-rate",
        "Conversion rate by day of the week",
        "The share of sessions (in percent) that converted, by the day of the week of their first click; sessions in brackets.".into(),
        "day of the week (sessions)",
        "converted (%)",
    );
    out.push(rates_figure(
        &f,
        &figures::rate_by_weekday(sessions),
        Orientation::Vertical,
    )?);

    let (names, columns) = figures::feature_columns(plan, set);
    let matrix = figures::correlations(&columns, &set.weight);
    let f = frame(
        "correlations",
        "Correlations between session features",
        "Weighted Pearson correlations between features of the session prefixes (each session weighs 1) and whether the session converted: vermillion is +1, white 0, blue -1. Columns are numbered as the rows.".into(),
        "feature (numbered as the rows)",
        "feature",
    );
    let svg = chart::heatmap(&f, &names, &matrix)?;
    let mut header: Vec<String> = vec!["feature".into()];
    header.extend((1..=names.len()).map(|i| i.to_string()));
    let mut data = Table {
        columns: header,
        rows: Vec::new(),
    };
    for (i, (name, row)) in names.iter().zip(&matrix).enumerate() {
        let mut cells = vec![format!("{} {name}", i + 1)];
        cells.extend(row.iter().map(|v| format!("{v:.2}")));
        data.row(cells);
    }
    out.push(figure(&f, svg, data));
    let converted = sessions.iter().filter(|s| s.outcome.converted).count();
    Ok(Section {
        title: "The data".into(),
        headline: vec![(
            "sessions".to_owned(),
            format!(
                "{} ({} converted)",
                sessions.len(),
                pct(converted as f64 / sessions.len().max(1) as f64)
            ),
        )],
        intro: format!(
            "{} sessions. Converted means the outcome of docs/label-contract.md (the basket proxy, or an outcomes file).",
            sessions.len()
        ),
        figures: out,
    })
}

/// What the conversion section draws.
pub struct ConvertInputs<'a, F = f32> {
    /// The model's name, as the legend shows it.
    pub model: String,
    pub probabilities: &'a [f64],
    /// A baseline drawn beside the model (the logistic regression of `train`), if any.
    pub baseline: Option<(&'a str, &'a [f64])>,
    pub set: &'a PrefixSet<F>,
    pub threshold: f64,
    /// Features and their importance, largest first.
    pub top_features: &'a [(String, f64)],
    pub bootstrap_resamples: usize,
    pub bootstrap_seed: u64,
}

fn curve_table(columns: &[&str], points: &[(f64, f64)]) -> Table {
    let mut data = Table::new(columns);
    for (a, b) in figures::thinned(points, 21) {
        data.row(vec![format!("{a:.3}"), format!("{b:.3}")]);
    }
    data
}

/// The prefixes of one length bucket, their sessions numbered from 0 again (the bootstrap
/// draws as many sessions as the bucket holds).
fn bucket<F: Clone>(set: &PrefixSet<F>, lo: usize, hi: usize) -> (Vec<usize>, PrefixSet<F>) {
    let rows: Vec<usize> = (0..set.len())
        .filter(|&i| (lo..=hi).contains(&set.prefix_len[i]))
        .collect();
    let mut sub = set.select(&rows);
    let mut renumber = std::collections::HashMap::new();
    for s in &mut sub.session {
        let next = renumber.len();
        *s = *renumber.entry(*s).or_insert(next);
    }
    (rows, sub)
}

/// The conversion model: its curves beside a baseline and the constant, its accuracy by
/// prefix length, its calibration, its confusion matrix and what drives it.
pub fn convert_section<F: Clone + Sync>(input: &ConvertInputs<F>) -> Result<Section, ChartError> {
    let set = input.set;
    let (y, w) = (&set.converted, &set.weight);
    let base_rate = metrics::base_rate(y, w);
    let mut out = Vec::new();

    let mut named: Vec<(String, &[f64])> = vec![(input.model.clone(), input.probabilities)];
    if let Some((name, p)) = input.baseline {
        named.push((name.to_owned(), p));
    }
    let auc_of = |p: &[f64]| metrics::roc_auc(p, y, w).map_or("n/a".into(), |a| format!("{a:.3}"));
    let mut roc: Vec<Series> = named
        .iter()
        .map(|(name, p)| Series {
            name: format!("{name}, AUC {}", auc_of(p)),
            points: figures::thinned(&metrics::roc_curve(p, y, w), CURVE_POINTS),
        })
        .collect();
    roc.push(Series {
        name: "constant (base rate), AUC 0.500".into(),
        points: vec![(0.0, 0.0), (1.0, 1.0)],
    });
    let f = frame(
        "roc",
        "ROC curve",
        format!(
            "True against false positive rate as the threshold falls, session-weighted, for the model{} and the constant that predicts the base rate (the diagonal).",
            if input.baseline.is_some() { ", the logistic baseline" } else { "" }
        ),
        "false positive rate",
        "true positive rate",
    );
    let svg = chart::lines(&f, 0.0..1.0, 0.0..1.0, &roc, Legend::LowerRight)?;
    out.push(figure(
        &f,
        svg,
        curve_table(
            &["false positive rate", "true positive rate"],
            &roc[0].points,
        ),
    ));

    let ap_of =
        |p: &[f64]| metrics::average_precision(p, y, w).map_or("n/a".into(), |a| format!("{a:.3}"));
    let mut pr: Vec<Series> = named
        .iter()
        .map(|(name, p)| Series {
            name: format!("{name}, AP {}", ap_of(p)),
            points: figures::thinned(&metrics::pr_curve(p, y, w), CURVE_POINTS),
        })
        .collect();
    pr.push(Series {
        name: format!("constant (base rate {:.3})", base_rate),
        points: vec![(0.0, base_rate), (1.0, base_rate)],
    });
    let f = frame(
        "precision-recall",
        "Precision-recall curve",
        "Precision against recall as the threshold falls, session-weighted; the constant's precision is the base rate at every recall.".into(),
        "recall",
        "precision",
    );
    let svg = chart::lines(&f, 0.0..1.0, 0.0..1.0, &pr, Legend::UpperRight)?;
    out.push(figure(
        &f,
        svg,
        curve_table(&["recall", "precision"], &pr[0].points),
    ));

    let mut names = Vec::new();
    let mut values = Vec::new();
    let mut intervals = Vec::new();
    let mut data = Table::new(&[
        "prefix length (clicks)",
        "sessions",
        "ROC-AUC",
        "95% interval",
    ]);
    for &(label, lo, hi) in PREFIX_BUCKETS {
        let (rows, sub) = bucket(set, lo, hi);
        let p: Vec<f64> = rows.iter().map(|&i| input.probabilities[i]).collect();
        let auc = metrics::roc_auc(&p, &sub.converted, &sub.weight);
        let interval =
            evaluation::roc_auc_interval(&p, &sub, input.bootstrap_resamples, input.bootstrap_seed);
        let sessions = sub.session.iter().max().map_or(0, |m| m + 1);
        names.push(format!("{label} ({sessions})"));
        values.push(auc.unwrap_or(0.0));
        intervals.push(interval);
        data.row(vec![
            label.to_owned(),
            sessions.to_string(),
            auc.map_or("n/a".into(), |a| format!("{a:.3}")),
            interval.map_or("n/a".into(), |(a, b)| format!("{a:.3} to {b:.3}")),
        ]);
    }
    let f = frame(
        "auc-by-prefix",
        "ROC-AUC by prefix length, with 95% bootstrap intervals",
        format!(
            "How well the model ranks sessions after 1, 2-3, 4-7 and 8 or more clicks; the bars are the session-weighted ROC-AUC, the whiskers the 2.5th and 97.5th percentiles of {} session-bootstrap resamples; sessions in brackets. 0.5 is chance.",
            input.bootstrap_resamples
        ),
        "clicks so far (sessions)",
        "ROC-AUC",
    );
    let svg = chart::bars(&f, &names, &values, Some(&intervals), Orientation::Vertical)?;
    out.push(figure(&f, svg, data));

    let bins = metrics::calibration(input.probabilities, y, w, CALIBRATION_BINS);
    let ece = metrics::expected_calibration_error(&bins);
    let top = bins
        .iter()
        .map(|b| b.predicted.max(b.observed))
        .fold(0.0f64, f64::max)
        .clamp(0.05, 1.0)
        * 1.1;
    let f = frame(
        "calibration",
        "Calibration (reliability diagram)",
        format!(
            "Mean predicted probability against the share that converted, in {CALIBRATION_BINS} equal-width bins of predicted probability (empty bins left out); on the dashed diagonal the probabilities are right. Expected calibration error: {ece:.4}."
        ),
        "mean predicted probability",
        "share converted",
    );
    let svg = chart::lines(
        &f,
        0.0..top.min(1.0),
        0.0..top.min(1.0),
        &[
            Series {
                name: format!("{}, ECE {ece:.4}", input.model),
                points: bins.iter().map(|b| (b.predicted, b.observed)).collect(),
            },
            Series {
                name: "perfectly calibrated".into(),
                points: vec![(0.0, 0.0), (1.0, 1.0)],
            },
        ],
        Legend::Below,
    )?;
    let mut data = Table::new(&[
        "bin",
        "weight (sessions)",
        "mean predicted",
        "share converted",
    ]);
    for b in &bins {
        data.row(vec![
            format!("{:.1}-{:.1}", b.lower, b.upper),
            format!("{:.1}", b.weight),
            format!("{:.4}", b.predicted),
            format!("{:.4}", b.observed),
        ]);
    }
    out.push(figure(&f, svg, data));

    let c = metrics::Confusion::at(input.probabilities, y, w, input.threshold);
    let mut data = Table::new(&["", "converted", "did not convert"]);
    data.row(vec![
        "predicted to convert".into(),
        format!("{:.1}", c.true_positive),
        format!("{:.1}", c.false_positive),
    ]);
    data.row(vec![
        "predicted not to".into(),
        format!("{:.1}", c.false_negative),
        format!("{:.1}", c.true_negative),
    ]);
    out.push(Figure {
        id: "confusion".into(),
        title: format!("Confusion matrix at the stored threshold {:.4}", input.threshold),
        description: format!(
            "Session-weighted counts (each session's prefixes add up to 1). Precision {:.3}, recall {:.3}, F1 {:.3}.",
            c.precision(),
            c.recall(),
            c.f1()
        ),
        body: Body::Table,
        data,
    });

    if !input.top_features.is_empty() {
        let shown = &input.top_features[..input.top_features.len().min(15)];
        let names: Vec<String> = shown.iter().map(|(n, _)| n.clone()).collect();
        let values: Vec<f64> = shown.iter().map(|(_, v)| *v).collect();
        let f = frame(
            "feature-importance",
            "Top feature importances",
            "The features the conversion model leans on most, as shares of its own importance measure (total split gain for gradient boosting, the absolute coefficient for logistic regression), largest first.".into(),
            "importance",
            "feature",
        );
        let svg = chart::bars(&f, &names, &values, None, Orientation::Horizontal)?;
        let mut data = Table::new(&["feature", "importance"]);
        for (n, v) in shown {
            data.row(vec![n.clone(), format!("{v:.4}")]);
        }
        out.push(figure(&f, svg, data));
    }
    let auc = metrics::roc_auc(input.probabilities, y, w);
    let interval = evaluation::roc_auc_interval(
        input.probabilities,
        set,
        input.bootstrap_resamples,
        input.bootstrap_seed,
    );
    let headline = vec![
        (
            "ROC-AUC".to_owned(),
            match (auc, interval) {
                (Some(a), Some((lo, hi))) => format!("{a:.3} (95% interval {lo:.3} to {hi:.3})"),
                (Some(a), None) => format!("{a:.3}"),
                _ => "n/a".into(),
            },
        ),
        (
            "average precision".to_owned(),
            format!(
                "{} (base rate {})",
                ap_of(input.probabilities),
                pct(base_rate)
            ),
        ),
        ("expected calibration error".to_owned(), format!("{ece:.4}")),
        (
            format!("at the threshold {:.4}", input.threshold),
            format!(
                "precision {:.3}, recall {:.3}, F1 {:.3}",
                c.precision(),
                c.recall(),
                c.f1()
            ),
        ),
    ];
    Ok(Section {
        title: "Conversion".into(),
        headline,
        intro: format!(
            "{} prefixes of {} sessions; base rate {}. Every figure weighs each session 1.",
            set.len(),
            set.session.iter().max().map_or(0, |m| m + 1),
            pct(base_rate)
        ),
        figures: out,
    })
}

/// Expected revenue against what was realised, by decile of the prediction.
pub fn revenue_section<F>(expected: &[f64], set: &PrefixSet<F>) -> Result<Section, ChartError> {
    let deciles = figures::deciles(expected, &set.revenue, &set.weight);
    let constant = metrics::weighted_mean(&set.revenue, &set.weight);
    let top = deciles
        .iter()
        .map(|(p, r)| p.max(*r))
        .fold(constant, f64::max)
        .max(1.0)
        * 1.1;
    let f = frame(
        "revenue-deciles",
        "Expected against realised revenue, by decile of the prediction",
        format!(
            "Prefixes in ten groups of equal session weight by expected revenue; each point is a group's mean expected and mean realised revenue in US dollars. The dashed diagonal is a perfect prediction; the flat line is the constant that predicts the mean, ${constant:.2}, for everyone."
        ),
        "mean expected revenue (US dollars)",
        "mean realised revenue (US dollars)",
    );
    let svg = chart::lines(
        &f,
        0.0..top,
        0.0..top,
        &[
            Series {
                name: "model, by decile".into(),
                points: deciles.clone(),
            },
            Series {
                name: "perfect prediction".into(),
                points: vec![(0.0, 0.0), (top, top)],
            },
            Series {
                name: format!("constant ${constant:.2}"),
                points: vec![(0.0, constant), (top, constant)],
            },
        ],
        Legend::Below,
    )?;
    let mut data = Table::new(&["decile", "mean expected ($)", "mean realised ($)"]);
    for (i, (p, r)) in deciles.iter().enumerate() {
        data.row(vec![
            (i + 1).to_string(),
            format!("{p:.2}"),
            format!("{r:.2}"),
        ]);
    }
    let rmse = metrics::rmse(expected, &set.revenue, &set.weight);
    let constant_rmse = metrics::rmse(&vec![constant; expected.len()], &set.revenue, &set.weight);
    Ok(Section {
        title: "Revenue".into(),
        headline: vec![(
            "expected revenue RMSE".to_owned(),
            format!("{rmse:.2} US dollars (the constant's {constant_rmse:.2})"),
        )],
        intro: "Expected revenue is the conversion probability times the revenue if the session converts.".into(),
        figures: vec![figure(&f, svg, data)],
    })
}

/// A persona's size on the sessions a report describes: name, sessions, share.
pub type PersonaSize = (String, usize, f64);

/// How many segments, how large each is, and what each looks like. `k` is the choice of
/// `train` (the silhouette of each k tried), when the report has it.
pub fn segment_section(
    k: Option<&KChoice>,
    sizes: &[PersonaSize],
    personas: &[Persona],
) -> Result<Section, ChartError> {
    let mut out = Vec::new();
    if let Some(k) = k {
        out.push(silhouette_figure(k)?);
    }
    out.extend(persona_figures(sizes, personas)?);
    let mut headline = vec![("personas".to_owned(), personas.len().to_string())];
    if let Some(k) = k {
        if let Some((_, best)) = k.silhouette_by_k.iter().find(|(kk, _)| *kk == k.k) {
            headline[0].1 = format!("{} (silhouette {best:.3})", personas.len());
        }
    }
    Ok(Section {
        title: "Segments".into(),
        headline,
        intro: format!("k-means on whole sessions; {} personas.", personas.len()),
        figures: out,
    })
}

fn silhouette_figure(k: &KChoice) -> Result<Figure, ChartError> {
    let names: Vec<String> = k
        .silhouette_by_k
        .iter()
        .map(|(k, _)| k.to_string())
        .collect();
    let values: Vec<f64> = k.silhouette_by_k.iter().map(|(_, s)| *s).collect();
    let f = frame(
        "silhouette",
        "Silhouette by number of segments",
        format!(
            "The mean silhouette of k-means clusterings of the training sessions for each k (higher is better separated); k = {} was chosen.",
            k.k
        ),
        "segments (k)",
        "silhouette",
    );
    let svg = chart::bars(&f, &names, &values, None, Orientation::Vertical)?;
    let mut data = Table::new(&["k", "silhouette"]);
    for (kk, s) in &k.silhouette_by_k {
        data.row(vec![kk.to_string(), format!("{s:.4}")]);
    }
    Ok(figure(&f, svg, data))
}

fn persona_figures(sizes: &[PersonaSize], personas: &[Persona]) -> Result<Vec<Figure>, ChartError> {
    let mut out = Vec::new();
    let names: Vec<String> = sizes.iter().map(|(n, _, _)| n.clone()).collect();
    let values: Vec<f64> = sizes.iter().map(|(_, _, share)| 100.0 * share).collect();
    let f = frame(
        "persona-sizes",
        "Persona sizes",
        "The share of sessions (in percent) in each persona.".into(),
        "sessions (%)",
        "persona",
    );
    let svg = chart::bars(&f, &names, &values, None, Orientation::Horizontal)?;
    let mut data = Table::new(&["persona", "sessions", "share"]);
    for (name, n, share) in sizes {
        data.row(vec![name.clone(), n.to_string(), pct(*share)]);
    }
    out.push(figure(&f, svg, data));

    // Each persona's profile: its centroid in plain units, one table, personas as columns.
    let mut columns: Vec<String> = vec!["feature".into()];
    columns.extend(personas.iter().map(|p| p.name.clone()));
    let mut data = Table {
        columns,
        rows: Vec::new(),
    };
    if let Some(first) = personas.first() {
        for (j, (feature, _)) in first.centroid.iter().enumerate() {
            let mut cells = vec![feature.clone()];
            cells.extend(personas.iter().map(|p| {
                p.centroid
                    .get(j)
                    .map_or(String::new(), |(_, v)| format!("{v:.2}"))
            }));
            data.row(cells);
        }
    }
    out.push(Figure {
        id: "persona-profiles".into(),
        title: "Each persona's profile".into(),
        description: format!(
            "The centre of each persona in plain units: clicks, US dollars, shares (0 to 1) and page numbers. {}",
            personas
                .iter()
                .map(|p| format!("{}: {}", p.name, p.description))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        body: Body::Table,
        data,
    });
    Ok(out)
}
