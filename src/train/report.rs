//! `report.json`, `report.md` and `report.html` (the charts), written beside the models
//! after each `train`.

use super::prepare::{DataFile, Days, Prepared, SampleCounts, SessionCounts, ValidationPeriod};
use super::refit::RefitSummary;
use super::{ConvertCandidate, RevenueCandidate, Selection, Steps, TrainConfig, TrainError};
use crate::domain::AnySession;
use crate::labels::{LabelSource, LabelledSession};
use crate::ml::segment::{KChoice, Persona};
use crate::reader::ReadStats;
use crate::report::{self, Page};
use serde::Serialize;
use std::fmt::Write as _;
use std::path::Path;

/// Progress steps of [`charts`] and [`write`].
pub(super) const STEPS: u64 = 2;

/// The charts of `report.html`, drawn before anything is published: a chart that cannot
/// be drawn stops the train while no version is visible yet.
pub(super) fn charts<S: crate::domain::AnySession>(
    file: &DataFile,
    prepared: &Prepared<S>,
    selection: &Selection,
    summary: &RefitSummary,
    config: &TrainConfig,
    steps: &Steps,
) -> Result<Page, TrainError> {
    steps.step("drawing the report's charts");
    let convert = &selection.convert;
    let data = report::data_section(
        prepared.plan,
        &prepared.all,
        &prepared.fit_set,
        &prepared.shop.money,
    )?;
    let chosen = convert.chosen();
    let convert_section = report::convert_section(&report::ConvertInputs {
        model: format!("{} ({})", chosen.algorithm, chosen.imbalance),
        probabilities: &convert.valid_probabilities,
        baseline: convert
            .baseline_probabilities
            .as_ref()
            .map(|(name, p)| (name.as_str(), p.as_slice())),
        set: &prepared.valid_set,
        threshold: convert.threshold,
        top_features: &summary.top_features,
        bootstrap_resamples: config.auc_bootstrap_resamples,
        bootstrap_seed: config.auc_bootstrap_seed,
    })?;
    let revenue = report::revenue_section(&selection.revenue.valid_expected, &prepared.valid_set)?;
    let sizes: Vec<report::PersonaSize> = summary
        .personas
        .iter()
        .map(|p| (p.name.clone(), p.sessions, p.share))
        .collect();
    let segments = report::segment_section(
        Some(&selection.segments.k_choice),
        &sizes,
        &summary.personas,
    )?;
    Ok(Page {
        title: format!("Training report: {}", file.file_name),
        facts: vec![
            format!("data: {} (sha256 {})", file.file_name, file.sha256),
            format!("outcome: {}", describe_source(&file.label_source)),
            format!(
                "conversion and revenue figures: the validation period {}; models fitted on {} (before the refit on all the data)",
                prepared.split.validation.words, prepared.split.training
            ),
        ],
        sections: vec![data, convert_section, revenue, segments],
    })
}

/// The last stage: the report of what was read, tried, chosen and published.
pub(super) fn write<S: crate::domain::AnySession>(
    file: DataFile,
    prepared: &Prepared<S>,
    selection: Selection,
    summary: RefitSummary,
    published: Vec<(String, u32, String)>,
    models_dir: &Path,
    steps: &Steps,
) -> Result<TrainReport, TrainError> {
    steps.step("writing report");
    let Selection {
        convert,
        revenue,
        segments,
    } = selection;
    let report = TrainReport {
        data_file: file.file_name,
        data_sha256: file.sha256,
        read: file.stats,
        sample: file.sample,
        label_source: file.label_source,
        training_months: months(&prepared.split.fit),
        training_days: prepared.split.training,
        validation: prepared.split.validation.clone(),
        sessions: prepared.sessions.clone(),
        prefixes: (prepared.fit_set.len(), prepared.valid_set.len()),
        convert_candidates: convert.candidates,
        chosen_convert: convert.index,
        chosen_roc_auc_95: convert.roc_auc_95,
        threshold: convert.threshold,
        top_features: summary.top_features,
        revenue_candidates: revenue.candidates,
        chosen_revenue: revenue.index,
        k_choice: segments.k_choice,
        silhouette_training: segments.silhouette_training,
        silhouette_all: summary.silhouette_all,
        personas: summary.personas,
        published,
        seconds: steps.elapsed(),
    };
    report.write(models_dir)?;
    Ok(report)
}

/// Writes one report file; an error names it.
fn write_file(path: &Path, contents: impl AsRef<[u8]>) -> Result<(), TrainError> {
    std::fs::write(path, contents).map_err(|source| TrainError::WriteFile {
        path: path.to_owned(),
        source,
    })
}

/// `report.html`: the charts drawn before publishing, with what was published.
pub(super) fn write_html(
    mut page: Page,
    published: &str,
    models_dir: &Path,
) -> Result<(), TrainError> {
    page.facts.push(format!("published: {published}"));
    write_file(
        &models_dir.join(crate::ml::model_file::REPORT_FILE),
        page.html(),
    )?;
    Ok(())
}

/// The candidate table of the conversion stage, with the chosen one marked.
fn write_candidates(
    s: &mut String,
    candidates: &[ConvertCandidate],
    chosen: Option<usize>,
) -> std::fmt::Result {
    writeln!(s, "## Conversion: validation figures of every candidate\n")?;
    writeln!(s, "Session-weighted (each session weighs 1 across its valid prefixes). Threshold: best F1 on validation.\n")?;
    writeln!(s, "| candidate | settings | imbalance | ROC-AUC | PR-AUC | log loss | base-rate log loss | Brier | F1 | fit s |")?;
    writeln!(s, "|---|---|---|---|---|---|---|---|---|---|")?;
    for (i, cand) in candidates.iter().enumerate() {
        let m = &cand.metrics;
        writeln!(
            s,
            "| {}{} | {} | {} | {} | {} | {:.4} | {:.4} | {:.4} | {:.4} | {:.1} |",
            cand.algorithm,
            if Some(i) == chosen {
                " **(chosen)**"
            } else {
                ""
            },
            cand.settings,
            cand.imbalance,
            opt(m.roc_auc),
            opt(m.pr_auc),
            m.log_loss,
            m.base_rate_log_loss,
            m.brier,
            m.f1,
            cand.fit_seconds
        )?;
    }
    Ok(())
}

/// What a run that refused to publish tried, so its candidate table is not lost.
#[derive(Serialize)]
struct RefusedReport<'a> {
    published: bool,
    reason: &'a str,
    data_file: &'a str,
    data_sha256: &'a str,
    read: &'a ReadStats,
    validation: &'a ValidationPeriod,
    convert_candidates: &'a [ConvertCandidate],
}

/// Written beside, not over, `report.md` and `report.json`, which keep describing the
/// versions that were published. Returns the Markdown file's path, for the error message.
pub(super) fn write_refused(
    file: &DataFile,
    validation: &ValidationPeriod,
    reason: &str,
    candidates: &[ConvertCandidate],
    models_dir: &Path,
) -> Result<String, TrainError> {
    let report = RefusedReport {
        published: false,
        reason,
        data_file: &file.file_name,
        data_sha256: &file.sha256,
        read: &file.stats,
        validation,
        convert_candidates: candidates,
    };
    let json = serde_json::to_vec_pretty(&report).map_err(|source| TrainError::Serialise {
        what: "the report of a refused training",
        source,
    })?;
    let mut md = String::new();
    let _ = writeln!(md, "# Training report: NOT PUBLISHED\n");
    let _ = writeln!(md, "Nothing was published: {reason}.\n");
    let _ = writeln!(
        md,
        "- data: `{}` (sha256 `{}`)",
        file.file_name, file.sha256
    );
    let _ = writeln!(md, "- validation period {}\n", validation.words);
    let _ = write_candidates(&mut md, candidates, None);
    std::fs::create_dir_all(models_dir).map_err(|source| TrainError::WriteFile {
        path: models_dir.to_owned(),
        source,
    })?;
    let md_path = models_dir.join("refused-report.md");
    write_file(&models_dir.join("refused-report.json"), json)?;
    write_file(&md_path, md)?;
    Ok(md_path.display().to_string())
}

fn months<S: AnySession>(sessions: &[&LabelledSession<S>]) -> Vec<String> {
    let mut m: Vec<(i32, u32)> = sessions.iter().map(|s| s.session.month()).collect();
    m.sort_unstable();
    m.dedup();
    m.into_iter().map(|(y, m)| format!("{y}-{m:02}")).collect()
}

/// Label source in words, for reports.
pub fn describe_source(source: &LabelSource) -> String {
    match source {
        LabelSource::BasketProxy => "basket proxy (docs/label-contract.md)".into(),
        LabelSource::OutcomesFile { file_name, .. } => format!("outcomes file {file_name}"),
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct TrainReport {
    pub data_file: String,
    pub data_sha256: String,
    pub read: ReadStats,
    /// Sessions read and kept by the session sample (`--sample-fraction`).
    pub sample: SampleCounts,
    pub label_source: LabelSource,
    /// The calendar months the training sessions start in.
    pub training_months: Vec<String>,
    /// The first and last days the training sessions start on.
    pub training_days: Days,
    pub validation: ValidationPeriod,
    pub sessions: SessionCounts,
    /// Valid prefixes in training and validation.
    pub prefixes: (usize, usize),
    pub convert_candidates: Vec<ConvertCandidate>,
    pub chosen_convert: usize,
    /// 95% session-bootstrap interval of the chosen model's validation ROC-AUC.
    pub chosen_roc_auc_95: Option<(f64, f64)>,
    pub threshold: f64,
    pub top_features: Vec<(String, f64)>,
    pub revenue_candidates: Vec<RevenueCandidate>,
    pub chosen_revenue: usize,
    pub k_choice: KChoice,
    pub silhouette_training: f64,
    pub silhouette_all: f64,
    pub personas: Vec<Persona>,
    /// (model, version, folder)
    pub published: Vec<(String, u32, String)>,
    pub seconds: f64,
}

fn opt(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".into(), |v| format!("{v:.4}"))
}

impl TrainReport {
    /// One line of what was published: the chosen models' validation figures and the
    /// versions written.
    pub fn headline(&self) -> String {
        let convert = self.convert_candidates.get(self.chosen_convert);
        let revenue = self.revenue_candidates.get(self.chosen_revenue);
        let auc = convert
            .and_then(|c| c.metrics.roc_auc)
            .map_or_else(|| "n/a".to_owned(), |a| format!("{a:.4}"));
        let log_loss = convert.map_or_else(
            || "n/a".to_owned(),
            |c| format!("{:.4}", c.metrics.log_loss),
        );
        let rmse = revenue.map_or_else(|| "n/a".to_owned(), |r| format!("{:.2}", r.metrics.rmse));
        let versions: Vec<String> = self
            .published
            .iter()
            .map(|(name, version, _)| format!("{name} v{version}"))
            .collect();
        format!(
            "published {}: validation ({}) ROC-AUC {auc}, log loss {log_loss}, revenue RMSE {rmse}",
            versions.join(", "),
            self.validation.days
        )
    }

    pub fn write(&self, models_dir: &Path) -> Result<(), TrainError> {
        let json = serde_json::to_vec_pretty(self).map_err(|source| TrainError::Serialise {
            what: "the training report",
            source,
        })?;
        write_file(&models_dir.join("report.json"), json)?;
        write_file(&models_dir.join("report.md"), self.markdown())?;
        Ok(())
    }

    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let _ = self.write_markdown(&mut s);
        s
    }

    fn write_markdown(&self, s: &mut String) -> std::fmt::Result {
        writeln!(s, "# Training report\n")?;
        writeln!(s, "## Data\n")?;
        writeln!(
            s,
            "- file: `{}` (sha256 `{}`)",
            self.data_file, self.data_sha256
        )?;
        let r = &self.read;
        writeln!(
            s,
            "- rows read: {}; clicks kept: {}; sessions: {}; invalid rows skipped: {}; exact duplicate clicks dropped: {}",
            r.rows, r.clicks, r.sessions, r.invalid_rows_skipped, r.duplicate_clicks_dropped
        )?;
        for example in &r.skipped_examples {
            writeln!(s, "  - skipped: {example}")?;
        }
        writeln!(
            s,
            "- sessions over the cap of {} clicks skipped: {}",
            r.max_clicks_per_session, r.long_sessions_skipped
        )?;
        for long in &r.long_session_examples {
            writeln!(
                s,
                "  - skipped: session {:?} ({} clicks)",
                long.session, long.clicks
            )?;
        }
        let sample = &self.sample;
        writeln!(
            s,
            "- sessions read: {}; kept by the session sample (docs/sampling.md; fraction {}, seed {}): {} ({} clicks)",
            sample.sessions_read,
            sample.fraction,
            sample.seed,
            sample.sessions_kept,
            sample.clicks_kept
        )?;
        writeln!(s, "- {}", sample.statistics.words())?;
        writeln!(s, "- outcome: {}", describe_source(&self.label_source))?;
        let c = &self.sessions;
        writeln!(
            s,
            "- training period {}: {} converting / {} other sessions, {} valid prefixes",
            self.training_days, c.training_converting, c.training_not_converting, self.prefixes.0
        )?;
        writeln!(
            s,
            "- validation period {}: {} converting / {} other sessions, {} valid prefixes\n",
            self.validation.words,
            c.validation_converting,
            c.validation_not_converting,
            self.prefixes.1
        )?;

        write_candidates(s, &self.convert_candidates, Some(self.chosen_convert))?;
        let chosen = &self.convert_candidates[self.chosen_convert].metrics;
        if let Some((lo, hi)) = self.chosen_roc_auc_95 {
            writeln!(s, "\nThe chosen model's validation ROC-AUC has a 95% session-bootstrap interval of {lo:.4} to {hi:.4}: differences between candidates smaller than that are noise.")?;
        }
        writeln!(
            s,
            "\nChosen model at threshold {:.4}: precision {:.4}, recall {:.4}, F1 {:.4}.\n",
            self.threshold, chosen.precision, chosen.recall, chosen.f1
        )?;
        let cm = &chosen.confusion;
        writeln!(s, "Confusion matrix (session weights):\n")?;
        writeln!(s, "| | predicted converts | predicted not |")?;
        writeln!(s, "|---|---|---|")?;
        writeln!(
            s,
            "| converts | {:.1} | {:.1} |",
            cm.true_positive, cm.false_negative
        )?;
        writeln!(
            s,
            "| does not | {:.1} | {:.1} |\n",
            cm.false_positive, cm.true_negative
        )?;
        writeln!(s, "ROC-AUC by prefix length:\n")?;
        writeln!(s, "| clicks so far | prefixes | session weight | ROC-AUC |")?;
        writeln!(s, "|---|---|---|---|")?;
        for b in &chosen.by_prefix_length {
            writeln!(
                s,
                "| {} | {} | {:.1} | {} |",
                b.prefix_length,
                b.prefixes,
                b.weight,
                opt(b.roc_auc)
            )?;
        }
        writeln!(
            s,
            "\nTop features of the shipped model (share of total gain or |coefficient|):\n"
        )?;
        for (name, share) in &self.top_features {
            writeln!(s, "- {name}: {:.1}%", 100.0 * share)?;
        }

        writeln!(s, "\n## Revenue: validation figures\n")?;
        writeln!(s, "Expected revenue = P(convert) from the chosen conversion model x conditional revenue; RMSE and MAE against realised session revenue, zeros included.\n")?;
        writeln!(s, "| conditional model | RMSE | MAE | RMSE if converts | best constant RMSE | best constant MAE | RMSE gain | fit s |")?;
        writeln!(s, "|---|---|---|---|---|---|---|---|")?;
        for (i, cand) in self.revenue_candidates.iter().enumerate() {
            let m = &cand.metrics;
            writeln!(
                s,
                "| {}{} | {:.3} | {:.3} | {} | {:.3} | {:.3} | {:.2}% | {:.1} |",
                cand.algorithm,
                if i == self.chosen_revenue {
                    " **(chosen)**"
                } else {
                    ""
                },
                m.rmse,
                m.mae,
                opt(m.rmse_if_converts),
                m.best_constant_rmse,
                m.best_constant_mae,
                100.0 * m.rmse_gain_over_constant,
                cand.fit_seconds
            )?;
        }

        writeln!(s, "\n## Segments\n")?;
        let by_k: Vec<String> = self
            .k_choice
            .silhouette_by_k
            .iter()
            .map(|(k, sil)| format!("k={k}: {sil:.3}"))
            .collect();
        writeln!(s, "Silhouette on the training period by k: {}. Chosen k = {}; silhouette {:.3} (training period), {:.3} (all the data, shipped).\n", by_k.join(", "), self.k_choice.k, self.silhouette_training, self.silhouette_all)?;
        if let Some(first) = self.personas.first() {
            let header: Vec<&str> = first.centroid.iter().map(|(n, _)| n.as_str()).collect();
            writeln!(s, "| persona | sessions | share | {} |", header.join(" | "))?;
            writeln!(s, "|---|---|---|{}", "---|".repeat(header.len()))?;
            for p in &self.personas {
                let values: Vec<String> =
                    p.centroid.iter().map(|(_, v)| format!("{v:.2}")).collect();
                writeln!(
                    s,
                    "| {} | {} | {:.1}% | {} |",
                    p.name,
                    p.sessions,
                    100.0 * p.share,
                    values.join(" | ")
                )?;
            }
            writeln!(s)?;
            for p in &self.personas {
                writeln!(s, "- **{}**: {}", p.name, p.description)?;
            }
        }
        writeln!(s, "\n## Published\n")?;
        for (name, version, dir) in &self.published {
            writeln!(s, "- {name} version {version}: `{dir}`")?;
        }
        writeln!(s, "\nTraining took {:.1} s.", self.seconds)
    }
}
