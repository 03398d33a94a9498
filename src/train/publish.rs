//! Model files: a manifest for each refitted model (what it learnt from, how the chosen
//! setting did on validation, golden self-test cases), then publication as the next
//! version of each.

use super::prepare::{DataFile, Prepared, ShopFacts};
use super::refit::{RefitModels, RefitSummary};
use super::{to_json, Selection, Steps, TrainConfig, TrainError};
use crate::domain::AnySession;
use crate::features;
use crate::labels::LabelledSession;
use crate::ml::model_file::{
    self, GoldenCase, GoldenInput, Manifest, Model, ModelName, TrainingData,
};
use crate::ml::segment::KMeansParams;
use serde::Serialize;
use serde_json::Value;
use std::path::Path;

/// Progress steps of [`publish`].
pub(super) const STEPS: u64 = 1;

pub(super) struct ModelFile {
    manifest: Manifest,
    model: Model,
}

/// The revenue model holds its own conversion model, so its manifest names both settings.
#[derive(Serialize)]
struct RevenueHyperparameters<'a> {
    convert: &'a Value,
    conditional: &'a Value,
}

#[derive(Serialize)]
struct SegmentHyperparameters<'a> {
    k: usize,
    kmeans: &'a KMeansParams,
    features: Vec<(&'a str, bool)>,
}

#[derive(Serialize)]
struct SegmentValidation<'a> {
    silhouette_training_months: f64,
    silhouette_all_months: f64,
    silhouette_by_k: &'a [(usize, f64)],
}

/// The convert, revenue and segment model files, in that order.
pub(super) fn manifests<S: GoldenInput>(
    file: &DataFile,
    prepared: &Prepared<S>,
    selection: &Selection,
    summary: &RefitSummary,
    models: RefitModels,
    config: &TrainConfig,
) -> Result<[ModelFile; 3], TrainError> {
    let golden = golden_sessions(&prepared.split.valid, config.golden_sessions);
    let about = About {
        feature_schema: prepared.plan.schema(),
        shop: prepared.shop,
    };
    let training = |examples: usize| TrainingData {
        file_name: file.file_name.clone(),
        sha256: file.sha256.clone(),
        clicks: file.stats.clicks,
        sessions: file.stats.sessions,
        examples: examples as u64,
        label_source: file.label_source.clone(),
        validation_period: Some(prepared.split.validation.words.clone()),
    };
    let chosen_convert = selection.convert.chosen();
    let chosen_revenue = selection.revenue.chosen();
    let k_choice = &selection.segments.k_choice;

    let model = Model::Convert(models.convert);
    let convert = ModelFile {
        manifest: Manifest {
            threshold: Some(selection.convert.threshold),
            score_distribution: Some(summary.distribution.clone()),
            tiers: Some(summary.tiers.clone()),
            ..manifest(
                &about,
                ModelName::Convert,
                chosen_convert.algorithm.clone(),
                chosen_convert.hyperparameters.clone(),
                training(summary.prefixes),
                to_json(
                    "the conversion model's validation metrics",
                    &chosen_convert.metrics,
                )?,
                model.golden_cases(prepared.plan, &golden),
            )
        },
        model,
    };

    let model = Model::Revenue(models.revenue);
    let hyperparameters = RevenueHyperparameters {
        convert: &chosen_convert.hyperparameters,
        conditional: &chosen_revenue.hyperparameters,
    };
    let revenue = ModelFile {
        manifest: manifest(
            &about,
            ModelName::Revenue,
            format!(
                "P(convert) from {} x conditional revenue from {}",
                chosen_convert.algorithm, chosen_revenue.algorithm
            ),
            to_json("the revenue hyperparameters", &hyperparameters)?,
            training(summary.prefixes),
            to_json(
                "the revenue model's validation metrics",
                &chosen_revenue.metrics,
            )?,
            model.golden_cases(prepared.plan, &golden),
        ),
        model,
    };

    let segment_features: Vec<(String, bool)> = models
        .segments
        .features
        .iter()
        .map(|f| (f.name.clone(), f.log1p))
        .collect();
    let model = Model::Segment(models.segments);
    let hyperparameters = SegmentHyperparameters {
        k: k_choice.k,
        kmeans: &config.kmeans,
        features: segment_features
            .iter()
            .map(|(n, l)| (n.as_str(), *l))
            .collect(),
    };
    let validation = SegmentValidation {
        silhouette_training_months: selection.segments.silhouette_training,
        silhouette_all_months: summary.silhouette_all,
        silhouette_by_k: &k_choice.silhouette_by_k,
    };
    let segment = ModelFile {
        manifest: Manifest {
            personas: Some(summary.personas.clone()),
            ..manifest(
                &about,
                ModelName::Segment,
                "k-means (linfa-clustering)".into(),
                to_json("the segment hyperparameters", &hyperparameters)?,
                training(summary.sessions),
                to_json("the segment model's silhouettes", &validation)?,
                model.golden_cases(prepared.plan, &golden),
            )
        },
        model,
    };
    Ok([convert, revenue, segment])
}

/// The part every manifest has; `model_file::publish` fills in the version and the
/// weights' file and checksum.
struct About<'a> {
    feature_schema: features::FeatureSchema,
    shop: &'a ShopFacts,
}

fn manifest(
    about: &About,
    name: ModelName,
    algorithm: String,
    hyperparameters: Value,
    training: TrainingData,
    validation: Value,
    golden: Vec<GoldenCase>,
) -> Manifest {
    Manifest {
        format_version: model_file::FORMAT_VERSION,
        name,
        version: 0,
        created_at: chrono::Utc::now().to_rfc3339(),
        trainer_version: env!("CARGO_PKG_VERSION").to_owned(),
        algorithm,
        hyperparameters,
        feature_schema: about.feature_schema.clone(),
        click_schema: about.shop.schema.clone(),
        catalogue: about.shop.catalogue.clone(),
        feature_plan: about.shop.feature_plan.clone(),
        training,
        validation,
        threshold: None,
        score_distribution: None,
        tiers: None,
        personas: None,
        golden,
        weights_file: String::new(),
        weights_sha256: String::new(),
    }
}

/// Publishes each file as the next version of its model; returns (model, version, folder).
/// All three are written to staging folders first, so that a full disk or a read-only
/// folder stops the train before any version is visible; then each is renamed into place.
/// Each version's folder also gets `report`, the charts of the run that made it, as
/// `report.html`.
pub(super) fn publish(
    models_dir: &Path,
    files: [ModelFile; 3],
    report: &str,
    steps: &Steps,
) -> Result<Vec<(String, u32, String)>, TrainError> {
    steps.step("publishing model files");
    let staged = files
        .into_iter()
        .map(|ModelFile { manifest, model }| {
            let name = model.name().to_string();
            let staged = model_file::stage(models_dir, manifest, &model)?;
            staged.add_file(model_file::REPORT_FILE, report.as_bytes())?;
            Ok((name, staged))
        })
        .collect::<Result<Vec<_>, TrainError>>()?;
    staged
        .into_iter()
        .map(|(name, staged)| {
            let (version, dir) = staged.commit()?;
            Ok((name, version, dir.display().to_string()))
        })
        .collect()
}

/// Golden inputs: validation sessions spread over the range of lengths, so the
/// self-test covers short and long prefixes.
pub(super) fn golden_sessions<'a, S: AnySession>(
    sessions: &[&'a LabelledSession<S>],
    count: usize,
) -> Vec<&'a S> {
    let mut by_len: Vec<&S> = sessions.iter().map(|s| &s.session).collect();
    by_len.sort_by(|a, b| (a.clicks().len(), a.name()).cmp(&(b.clicks().len(), b.name())));
    let n = by_len.len();
    if n == 0 || count == 0 {
        return Vec::new();
    }
    let picks: std::collections::BTreeSet<usize> = (0..count)
        .map(|i| {
            if count == 1 {
                n / 2
            } else {
                i * (n - 1) / (count - 1)
            }
        })
        .collect();
    picks.into_iter().map(|i| by_len[i]).collect()
}
