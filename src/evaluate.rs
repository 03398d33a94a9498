//! `clickstream evaluate`: the contract's metrics of a shipped version on any file.

use crate::dataset::{self, PrefixSet};
use crate::domain::AnySession;
use crate::evaluation::{self, ConvertMetrics, RevenueMetrics};
use crate::features::{ClickValues, Plan};
use crate::labels::{self, LabelledData, LabelledSession};
use crate::ml::classifier::ConvertModel;
use crate::ml::classifier::FitError;
use crate::ml::model_file::{self, LoadError, Loaded, ModelKind, ModelName, Reading};
use crate::ml::regressor::RevenueModel;
use crate::ml::segment::{KChoice, SegmentModel};
use crate::reader::{ReadOptions, ReadStats};
use crate::report;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct EvaluateConfig {
    pub data: PathBuf,
    pub outcomes: Option<PathBuf>,
    pub models_dir: PathBuf,
    pub version: Option<u32>,
    pub skip_invalid: bool,
    /// Sessions with more clicks are skipped and counted.
    pub max_clicks_per_session: usize,
    /// Where to write `report.html`'s model and data charts, if anywhere.
    pub html: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum EvaluateError {
    #[error(transparent)]
    Data(#[from] labels::DataError),
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Fit(#[from] FitError),
    #[error("{0}")]
    NoVersion(String),
    /// The versions asked for read the file differently, so one reading cannot serve all.
    #[error("{0}")]
    Disagree(String),
    #[error("{0} holds no session with a valid prefix")]
    Empty(String),
    #[error(transparent)]
    Chart(#[from] crate::report::chart::ChartError),
    #[error("writing {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct PersonaCount {
    pub id: usize,
    pub name: String,
    pub sessions: usize,
    pub share: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct EvaluateReport {
    pub data_file: String,
    pub read: ReadStats,
    pub versions: Vec<(String, u32)>,
    pub convert: ConvertMetrics,
    /// 95% session-bootstrap interval of the ROC-AUC.
    pub convert_roc_auc_95: Option<(f64, f64)>,
    pub revenue: RevenueMetrics,
    pub segment_silhouette: f64,
    pub personas: Vec<PersonaCount>,
    /// Why the figures may not mean what they seem (the file is the training file, say).
    pub warnings: Vec<String>,
    /// A shop's values its versions did not know (new products, categories and attribute
    /// values, each scored as "other"), by field; absent for the UCI shop, whose clicks
    /// are refused outside their vocabularies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unseen_values: Option<Vec<(String, u64)>>,
}

/// What to say when version `v` of `name` is asked for and is not in `models_dir`: the
/// versions that are. `evaluate` and `score` both say it.
pub fn no_such_version(models_dir: &Path, name: ModelName, v: u32) -> String {
    let there: Vec<String> = model_file::versions(models_dir, name)
        .iter()
        .map(u32::to_string)
        .collect();
    format!(
        "{name}: no version {v} in {} (versions there: {})",
        models_dir.join(name.as_str()).display(),
        if there.is_empty() {
            "none".to_owned()
        } else {
            there.join(", ")
        }
    )
}

pub fn evaluate(config: &EvaluateConfig) -> Result<EvaluateReport, EvaluateError> {
    let (dir, version) = (&config.models_dir, config.version);
    if let Some(v) = version {
        let absent: Vec<String> = ModelName::ALL
            .iter()
            .filter(|&&name| !model_file::versions(dir, name).contains(&v))
            .map(|&name| no_such_version(dir, name, v))
            .collect();
        if !absent.is_empty() {
            return Err(EvaluateError::NoVersion(absent.join("; ")));
        }
    }
    let convert = model_file::load_version::<ConvertModel>(dir, version)?;
    let revenue = model_file::load_version::<RevenueModel>(dir, version)?;
    let segment = model_file::load_version::<SegmentModel>(dir, version)?;
    let models = Versions {
        convert: &convert,
        revenue: &revenue,
        segment: &segment,
    };
    let options = ReadOptions {
        skip_invalid: config.skip_invalid,
        max_clicks_per_session: config.max_clicks_per_session,
    };
    // The file is read once, so the three versions must read it alike; versions trained
    // together always do.
    for (manifest, reading) in [
        (&revenue.manifest, &revenue.reading),
        (&segment.manifest, &segment.reading),
    ] {
        if !reading.same(&convert.reading) {
            return Err(EvaluateError::Disagree(format!(
                "convert v{} reads clicks of the schema {:?} and {} v{} reads {:?} (their schema, catalogue or features differ): one file is evaluated by versions that read it alike; choose versions trained together with --version N",
                convert.manifest.version,
                convert.reading.schema_name(),
                manifest.name,
                manifest.version,
                reading.schema_name(),
            )));
        }
    }
    match &convert.reading {
        Reading::Uci => {
            let data = labels::read_labelled(&config.data, config.outcomes.as_deref(), options)?;
            figures(
                config,
                models,
                data,
                Plan::uci(),
                &report::Money::usd(),
                None,
            )
        }
        Reading::Shop(shop) => {
            let (data, mut unseen) = labels::read_labelled_shop_as(
                &config.data,
                config.outcomes.as_deref(),
                &shop.schema,
                &shop.catalogue,
                options,
            )?;
            let money = report::Money::of(
                shop.schema.currency.as_deref(),
                data.sessions
                    .iter()
                    .flat_map(|s| s.session.clicks.iter().map(|c| c.price)),
            );
            // Products new to the conversion version's table, as `score` counts them.
            let products = convert.model.products();
            if !products.is_empty() {
                unseen.products = data
                    .sessions
                    .iter()
                    .flat_map(|s| &s.session.clicks)
                    .filter(|c| !products.knows(c.product_key))
                    .count() as u64;
            }
            let unseen = unseen.by_field(&shop.schema);
            figures(config, models, data, &shop.plan, &money, Some(unseen))
        }
    }
}

/// The three versions evaluated together.
#[derive(Clone, Copy)]
struct Versions<'a> {
    convert: &'a Loaded<ConvertModel>,
    revenue: &'a Loaded<RevenueModel>,
    segment: &'a Loaded<SegmentModel>,
}

/// The contract's figures of the three versions on a file's labelled sessions of any shop,
/// extracted by `plan` (the one the versions read).
fn figures<S: AnySession>(
    config: &EvaluateConfig,
    models: Versions,
    data: LabelledData<S>,
    plan: &Plan,
    money: &report::Money,
    unseen: Option<Vec<(String, u64)>>,
) -> Result<EvaluateReport, EvaluateError>
where
    S::Click: ClickValues,
{
    let Versions {
        convert,
        revenue,
        segment,
    } = models;
    // A version's manifest holds the checksum of the file it was trained on.
    let trained_on: Vec<String> = [&convert.manifest, &revenue.manifest, &segment.manifest]
        .iter()
        .filter(|m| m.training.sha256 == data.sha256)
        .map(|m| format!("{} v{}", m.name, m.version))
        .collect();
    let mut warnings = Vec::new();
    if !trained_on.is_empty() {
        warnings.push(format!(
            "{} (sha256 {}) is the file {} learned from: these figures measure fit, not how the models do on unseen sessions",
            data.file_name,
            data.sha256,
            trained_on.join(", ")
        ));
    }
    let sessions = data.sessions;
    let all: Vec<&LabelledSession<S>> = sessions.iter().collect();
    // f64 rows, as the service computes them: these figures are the served models'.
    let set: PrefixSet<f64> = PrefixSet::build(plan, &all, convert.model.products());
    if set.is_empty() {
        return Err(EvaluateError::Empty(data.file_name));
    }
    let (convert_model, revenue_model, segment_model) =
        (&convert.model, &revenue.model, &segment.model);
    let p = convert_model.probabilities(set.features.view());
    let threshold = convert.manifest.decision_threshold();
    let convert_metrics = evaluation::convert_metrics(&p, &set, threshold);
    // Built again only when the revenue version learned a different product table.
    let revenue_set = if revenue.model.products() == convert.model.products() {
        None
    } else {
        Some(PrefixSet::build(plan, &all, revenue.model.products()))
    };
    let revenue_set = revenue_set.as_ref().unwrap_or(&set);
    let revenue_predictions = revenue_model.predict(revenue_set.features.view());
    let revenue_metrics = evaluation::revenue_metrics(&revenue_predictions, revenue_set);
    let full = dataset::full_sessions::<f64, _>(plan, &all);
    let assigned = segment_model.assign(full.view());
    let mut counts = vec![0usize; segment_model.personas.len()];
    for (id, _) in &assigned {
        counts[*id] += 1;
    }
    let silhouette = segment_model.silhouette(
        full.view(),
        crate::ml::segment::SILHOUETTE_SAMPLE,
        crate::ml::segment::SILHOUETTE_SEED,
    )?;
    let personas: Vec<PersonaCount> = segment_model
        .personas
        .iter()
        .map(|p| PersonaCount {
            id: p.id,
            name: p.name.clone(),
            sessions: counts[p.id],
            share: counts[p.id] as f64 / assigned.len().max(1) as f64,
        })
        .collect();
    if let Some(path) = &config.html {
        let expected: Vec<f64> = revenue_predictions.iter().map(|r| r.expected).collect();
        let sizes: Vec<report::PersonaSize> = personas
            .iter()
            .map(|p| (p.name.clone(), p.sessions, p.share))
            .collect();
        let versions = [&convert.manifest, &revenue.manifest, &segment.manifest]
            .iter()
            .map(|m| format!("{} v{}", m.name, m.version))
            .collect::<Vec<_>>()
            .join(", ");
        let mut facts = vec![
            format!("data: {} (sha256 {})", data.file_name, data.sha256),
            format!("versions: {versions}"),
            format!(
                "every figure on every session of the file (silhouette of the personas on it: {silhouette:.4})"
            ),
        ];
        facts.extend(warnings.iter().map(|w| format!("warning: {w}")));
        let page = report::Page {
            title: format!("Evaluation: {versions} on {}", data.file_name),
            facts,
            sections: vec![
                report::data_section(plan, &all, &set, money)?,
                report::convert_section(&report::ConvertInputs {
                    model: format!("convert v{}", convert.manifest.version),
                    probabilities: &p,
                    baseline: None,
                    set: &set,
                    threshold,
                    top_features: &convert_model.classifier.top_features(plan.names(), 15),
                    bootstrap_resamples: evaluation::AUC_BOOTSTRAP_RESAMPLES,
                    bootstrap_seed: evaluation::AUC_BOOTSTRAP_SEED,
                })?,
                report::revenue_section(&expected, revenue_set)?,
                report::segment_section(
                    k_choice(&segment.manifest.validation, segment_model.personas.len()).as_ref(),
                    &sizes,
                    &segment_model.personas,
                )?,
            ],
        };
        std::fs::write(path, page.html()).map_err(|source| EvaluateError::Write {
            path: path.clone(),
            source,
        })?;
    }
    Ok(EvaluateReport {
        data_file: data.file_name,
        read: data.stats,
        versions: [&convert.manifest, &revenue.manifest, &segment.manifest]
            .iter()
            .map(|m| (m.name.to_string(), m.version))
            .collect(),
        convert_roc_auc_95: evaluation::roc_auc_interval(
            &p,
            &set,
            evaluation::AUC_BOOTSTRAP_RESAMPLES,
            evaluation::AUC_BOOTSTRAP_SEED,
        ),
        convert: convert_metrics,
        revenue: revenue_metrics,
        segment_silhouette: silhouette,
        personas,
        warnings,
        unseen_values: unseen,
    })
}

/// The silhouette of each k that training tried, as the segment manifest records it.
fn k_choice(validation: &serde_json::Value, k: usize) -> Option<KChoice> {
    let silhouette_by_k = validation
        .get("silhouette_by_k")?
        .as_array()?
        .iter()
        .map(|pair| Some((pair.get(0)?.as_u64()? as usize, pair.get(1)?.as_f64()?)))
        .collect::<Option<Vec<_>>>()?;
    Some(KChoice { k, silhouette_by_k })
}

fn opt(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".into(), |v| format!("{v:.4}"))
}

impl EvaluateReport {
    pub fn text(&self) -> String {
        let mut s = String::new();
        let _ = self.write_text(&mut s);
        s
    }

    fn write_text(&self, s: &mut String) -> std::fmt::Result {
        let versions: Vec<String> = self
            .versions
            .iter()
            .map(|(n, v)| format!("{n} v{v}"))
            .collect();
        writeln!(
            s,
            "{} ({} sessions, {} clicks): {}",
            self.data_file,
            self.read.sessions,
            self.read.clicks,
            versions.join(", ")
        )?;
        if let Some(skipped) = self.read.skipped_text() {
            writeln!(s, "{skipped}")?;
        }
        let c = &self.convert;
        writeln!(
            s,
            "convert (session-weighted, {} prefixes, base rate {:.4}):",
            c.prefixes, c.base_rate
        )?;
        writeln!(
            s,
            "  ROC-AUC {}  PR-AUC {}  log loss {:.4} (base rate {:.4})  Brier {:.4}",
            opt(c.roc_auc),
            opt(c.pr_auc),
            c.log_loss,
            c.base_rate_log_loss,
            c.brier
        )?;
        if let Some((lo, hi)) = self.convert_roc_auc_95 {
            writeln!(
                s,
                "  ROC-AUC 95% interval (session bootstrap): {lo:.4} to {hi:.4}"
            )?;
        }
        writeln!(
            s,
            "  at threshold {:.4}: precision {:.4} recall {:.4} F1 {:.4}",
            c.threshold, c.precision, c.recall, c.f1
        )?;
        for b in &c.by_prefix_length {
            writeln!(
                s,
                "  ROC-AUC at {:>3} clicks: {} ({} prefixes)",
                b.prefix_length,
                opt(b.roc_auc),
                b.prefixes
            )?;
        }
        let r = &self.revenue;
        writeln!(s, "revenue: RMSE {:.3} MAE {:.3} (best constant {:.3}: RMSE {:.3} MAE {:.3}; gain {:.2}%)", r.rmse, r.mae, r.best_constant, r.best_constant_rmse, r.best_constant_mae, 100.0 * r.rmse_gain_over_constant)?;
        writeln!(s, "segment: silhouette {:.3}", self.segment_silhouette)?;
        for p in &self.personas {
            writeln!(
                s,
                "  {:<40} {:>6} sessions ({:.1}%)",
                p.name,
                p.sessions,
                100.0 * p.share
            )?;
        }
        if let Some(unseen) = &self.unseen_values {
            writeln!(s, "{}", crate::domain::catalogue::unseen_words(unseen))?;
        }
        Ok(())
    }
}
