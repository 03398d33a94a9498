//! The first stages: read and label the data, split it in time, refuse data too thin to
//! judge a model on, and build the prefix features every model reads.

use super::{Steps, TrainConfig, TrainError};
use crate::dataset::PrefixSet;
use crate::domain::catalogue::CodedSession;
use crate::domain::sample::key_order;
use crate::domain::shop::ShopSession;
use crate::domain::{AnySession, Session};
use crate::features::{ClickValues, Plan, ProductStats};
use crate::labels::{self, LabelSource, LabelledSession, Seen};
use crate::reader::{ReadOptions, ReadStats};
use chrono::{Datelike, NaiveDate};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

/// Progress steps of [`read`].
pub(super) const READ_STEPS: u64 = 1;
/// Progress steps of [`prepare`].
pub(super) const STEPS: u64 = 1;

/// The data file as the manifests and the report describe it.
pub(super) struct DataFile {
    pub file_name: String,
    pub sha256: String,
    pub stats: ReadStats,
    pub label_source: LabelSource,
    pub sample: SampleCounts,
}

/// What the session sample (`--sample-fraction`) kept of the sessions read.
#[derive(Debug, Clone, Serialize)]
pub struct SampleCounts {
    /// The fraction of the session hash kept: the one asked for, or lower to stay within
    /// the budget of sessions (Spark or SQL given this fraction keep the same sessions).
    pub fraction: f64,
    /// `--sample-fraction`.
    pub asked: f64,
    /// `--max-sessions`.
    pub max_sessions: Option<usize>,
    /// `--max-clicks`.
    pub max_clicks: Option<u64>,
    pub seed: u64,
    pub sessions_read: usize,
    pub sessions_kept: usize,
    /// The clicks of the sessions kept: what `--max-clicks` counts.
    pub clicks_kept: u64,
    /// Where the statistics that need every session (the validation period, the class
    /// counts, the product rates) came from.
    pub statistics: Statistics,
}

/// Where the statistics that need every session came from.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Statistics {
    /// Every session read was kept: they are the whole stream's.
    AllKept,
    /// Counted over every session of the stream as it passed, kept or not.
    WholeStream {
        training_converting: usize,
        training_not_converting: usize,
        validation_converting: usize,
        validation_not_converting: usize,
        /// Why the sessions were grouped on disk for it (their rows apart), if they were.
        grouped_on_disk: Option<String>,
    },
    /// The kept sessions', and why not the whole stream's.
    KeptOnly { why: String },
}

impl Statistics {
    /// When no census was taken: every session was kept, or the kept sessions' (with an
    /// outcomes file, else for `why_not`).
    fn kept(sampled: bool, outcomes: bool, why_not: &str) -> Statistics {
        match (sampled, outcomes) {
            (false, _) => Statistics::AllKept,
            (true, true) => Statistics::KeptOnly {
                why: "the outcomes file (--outcomes) need only cover the kept sessions".into(),
            },
            (true, false) => Statistics::KeptOnly {
                why: why_not.into(),
            },
        }
    }

    /// The report's line on them.
    pub fn words(&self) -> String {
        match self {
            Statistics::AllKept => {
                "statistics needing every session (validation period, class counts, product rates): every session was kept".into()
            }
            Statistics::WholeStream {
                training_converting,
                training_not_converting,
                validation_converting,
                validation_not_converting,
                grouped_on_disk,
            } => format!(
                "statistics needing every session (validation period, class counts, product rates): counted over the whole stream, kept or not: training period {training_converting} converting / {training_not_converting} other sessions, validation period {validation_converting} converting / {validation_not_converting} other sessions{}",
                grouped_on_disk.as_ref().map_or_else(String::new, |why| format!(
                    " (its sessions grouped on disk, as their rows are apart: {why})"
                ))
            ),
            Statistics::KeptOnly { why } => format!(
                "statistics needing every session (validation period, class counts, product rates): from the kept sessions only, as {why}"
            ),
        }
    }
}

impl SampleCounts {
    fn new(
        config: &TrainConfig,
        sample: &crate::domain::sample::Sample,
        sessions_read: usize,
        sessions_kept: usize,
        clicks_kept: u64,
        statistics: Statistics,
    ) -> SampleCounts {
        SampleCounts {
            fraction: sample.fraction.get(),
            asked: config.sample_fraction.get(),
            max_sessions: (config.max_sessions != usize::MAX).then_some(config.max_sessions),
            max_clicks: (config.max_clicks != u64::MAX).then_some(config.max_clicks),
            seed: config.session_seed,
            sessions_read,
            sessions_kept,
            clicks_kept,
            statistics,
        }
    }

    /// "the session sample (--sample-fraction 0.1, seed 2008) kept 2,210 of the 22,102
    /// sessions read", or `None` when every session was kept.
    pub fn words(&self) -> Option<String> {
        (self.fraction < 1.0).then(|| {
            let why = if self.fraction < self.asked {
                format!(
                    "fraction {} of the session hash, narrowed from --sample-fraction {} to the budget of --max-sessions {} and --max-clicks {}",
                    self.fraction,
                    self.asked,
                    self.max_sessions.unwrap_or(usize::MAX),
                    self.max_clicks.unwrap_or(u64::MAX)
                )
            } else {
                format!("--sample-fraction {}", self.fraction)
            };
            format!(
                "the session sample ({why}, --session-seed {}) kept {} ({} clicks) of the {} sessions read",
                self.seed, self.sessions_kept, self.clicks_kept, self.sessions_read
            )
        })
    }
}

/// Training's order of sessions, whatever order the file gave them in (docs/sampling.md):
/// every stage after reading (the split, SMOTE's neighbours, boosting's row samples,
/// k-means' starts, the golden sessions) then sees the same sessions in the same order
/// from a CSV, a Parquet data set, a shuffled copy or Spark's part files.
fn in_key_order<S: AnySession>(sessions: &mut [LabelledSession<S>]) {
    sessions.sort_by(|a, b| key_order(a.session.name(), b.session.name()));
}

pub(super) struct Labelled<S = Session> {
    pub file: DataFile,
    pub sessions: Vec<LabelledSession<S>>,
    /// What the whole stream held, when the sample left sessions out.
    pub census: Option<Census>,
}

/// What every session of a sampled stream told, counted as it passed, kept or not: the
/// validation period is chosen on it and the product rates are learned from it, so a
/// sample changes neither (docs/sampling.md).
pub(super) struct Census {
    /// Every session's class by the day of its first click.
    calendar: Calendar,
    /// The validation period's first day, chosen on `calendar`, and by which rule.
    start: (NaiveDate, PeriodRule),
    /// Product counts by fold, of the training period's sessions and of the validation
    /// period's.
    pub products: [crate::features::FoldCounts; 2],
    /// Why the sessions were grouped on disk (their rows apart in the file), if they were.
    apart: Option<String>,
}

impl Census {
    /// Every period's product counts, for the refit on all months.
    pub fn all_products(&self) -> crate::features::FoldCounts {
        let mut all = self.products[0].clone();
        all.plus(&self.products[1]);
        all
    }
}

pub(super) fn read(config: &TrainConfig, steps: &Steps) -> Result<Labelled, TrainError> {
    steps.step(format!("reading {}", config.data.display()));
    let (data, say, options) = (&config.data, steps.say(), read_options(config));
    let outcomes = config.outcomes.as_deref();
    // The census labels by the basket proxy as sessions pass; an outcomes file need only
    // cover the kept sessions, so with one the statistics are the kept sessions'.
    let mut by_day: BTreeMap<NaiveDate, Tally> = BTreeMap::new();
    let mut count_day = |seen: Seen<'_>| match seen {
        Seen::Session(s) => tally(&mut by_day, s),
        Seen::Restart => by_day.clear(),
    };
    let counted = labels::count_sessions(
        data,
        options,
        config.sample(),
        config.budget(),
        say.as_ref(),
        outcomes
            .is_none()
            .then_some(&mut count_day as labels::Census<'_>),
        &config.spill,
    )?;
    let sampled = counted.sample.fraction.get() < 1.0;
    if !(sampled && counted.whole) {
        let data = labels::read_counted(
            data,
            outcomes,
            options,
            &counted,
            say.as_ref(),
            None,
            &config.spill,
        )?;
        let statistics = Statistics::kept(sampled, outcomes.is_some(), "no census was taken");
        return Ok(Labelled::of(config, data, statistics, None));
    }
    let mut counting = Counting::new(by_day, config)?;
    let labelled = labels::read_counted(
        data,
        outcomes,
        options,
        &counted,
        say.as_ref(),
        Some(&mut |seen: Seen<'_>| {
            if let Seen::Session(s) = seen {
                counting.add(s);
            }
        }),
        &config.spill,
    )?;
    let census = counting.finish(counted.apart.clone());
    let statistics = census.statistics();
    Ok(Labelled::of(config, labelled, statistics, Some(census)))
}

/// The census between its passes: the validation period chosen on the first pass's tally
/// of every session's class by day, and the product counts the second pass adds every
/// session to, by its side of that period and its fold.
struct Counting {
    calendar: Calendar,
    start: (NaiveDate, PeriodRule),
    products: [crate::features::FoldCounts; 2],
    hash: crate::domain::sample::SessionHash,
    folds: usize,
}

impl Counting {
    fn new(
        by_day: BTreeMap<NaiveDate, Tally>,
        config: &TrainConfig,
    ) -> Result<Counting, TrainError> {
        use crate::features::FoldCounts;
        let calendar = Calendar::of_days(by_day, config.min_sessions_per_class)?;
        let start = calendar.start(config.validate_from)?;
        let folds = config.folds.max(2);
        Ok(Counting {
            calendar,
            start,
            products: [FoldCounts::new(folds), FoldCounts::new(folds)],
            hash: config.session_hash(),
            folds,
        })
    }

    fn add<S: AnySession>(&mut self, s: &LabelledSession<S>) {
        let side = usize::from(s.session.first_day() >= self.start.0);
        self.products[side].add(self.hash.fold(s.session.name(), self.folds), s);
    }

    /// The census taken; `apart` says why its sessions were grouped on disk, if they were.
    fn finish(self, apart: Option<String>) -> Census {
        Census {
            calendar: self.calendar,
            start: self.start,
            products: self.products,
            apart,
        }
    }
}

fn tally<S: AnySession>(by_day: &mut BTreeMap<NaiveDate, Tally>, s: &LabelledSession<S>) {
    by_day
        .entry(s.session.first_day())
        .or_default()
        .add(s.outcome.converted);
}

/// How training reads its file: its flags for invalid rows and long sessions.
fn read_options(config: &TrainConfig) -> ReadOptions {
    ReadOptions {
        skip_invalid: config.skip_invalid,
        max_clicks_per_session: config.max_clicks_per_session,
    }
}

impl Census {
    /// The whole stream's class counts on each side of the period chosen.
    fn statistics(&self) -> Statistics {
        let valid = self.calendar.from(self.start.0);
        let fit = self.calendar.all.minus(valid);
        Statistics::WholeStream {
            training_converting: fit.converting,
            training_not_converting: fit.other,
            validation_converting: valid.converting,
            validation_not_converting: valid.other,
            grouped_on_disk: self.apart.clone(),
        }
    }
}

impl<S: AnySession> Labelled<S> {
    /// The sessions read, in key order, with what the model files and the report say of
    /// the file and the sample.
    fn of(
        config: &TrainConfig,
        mut data: labels::LabelledData<S>,
        statistics: Statistics,
        census: Option<Census>,
    ) -> Labelled<S> {
        in_key_order(&mut data.sessions);
        Labelled {
            file: DataFile {
                file_name: data.file_name,
                sha256: data.sha256,
                stats: data.stats,
                label_source: data.source,
                sample: SampleCounts::new(
                    config,
                    &data.sample,
                    data.sessions_read,
                    data.sessions.len(),
                    data.sessions
                        .iter()
                        .map(|s| s.session.clicks().len() as u64)
                        .sum(),
                    statistics,
                ),
            },
            sessions: data.sessions,
            census,
        }
    }
}

/// A shop's file read by its schema (`train --schema`): its sessions coded by the catalogue
/// learned from them, the feature plan (the schema's own, else derived from it and the
/// catalogue) compiled, and what the model files will record of the shop.
#[allow(clippy::type_complexity)]
pub(super) fn read_shop(
    config: &TrainConfig,
    schema_path: &std::path::Path,
    steps: &Steps,
) -> Result<(Labelled<CodedSession>, Plan, ShopFacts), TrainError> {
    use crate::domain::shop::ShopSchema;
    use crate::features::FeaturePlan;
    let schema_error = |problem: String| TrainError::Schema {
        path: schema_path.to_owned(),
        problem,
    };
    let text = std::fs::read_to_string(schema_path).map_err(|e| schema_error(e.to_string()))?;
    let file = crate::domain::schema_file::SchemaFile::parse(&text)
        .map_err(|e| schema_error(e.to_string()))?;
    let schema = ShopSchema::compile(&file, &text).map_err(|e| schema_error(e.to_string()))?;
    for column in schema.passthrough() {
        if let Some(clash) = crate::inference::answer::passthrough_clash(&column.name) {
            return Err(schema_error(format!(
                "passthrough {:?}: {clash}; give the column another `name`",
                column.name
            )));
        }
    }
    steps.step(format!(
        "reading {} by the schema {:?}",
        config.data.display(),
        schema.name
    ));
    let (data, say, options) = (&config.data, steps.say(), read_options(config));
    let reading = (options, &config.spill);
    let outcomes = config.outcomes.as_deref();
    labels::refuse_without_outcomes(outcomes, &schema)?;
    // As for the UCI layout, but the first pass reads every session anyway: it learns the
    // catalogue over every click, which the second pass codes every session by.
    let mut by_day: BTreeMap<NaiveDate, Tally> = BTreeMap::new();
    let mut count_day = |seen: Seen<'_, ShopSession>| {
        if let Seen::Session(s) = seen {
            tally(&mut by_day, s);
        }
    };
    let counted = labels::count_shop_sessions(
        data,
        &schema,
        reading,
        config.sample(),
        config.budget(),
        say.as_ref(),
        outcomes
            .is_none()
            .then_some(&mut count_day as labels::Census<'_, ShopSession>),
    )?;
    let sampled = !counted.counted.sample.fraction.is_all();
    let mut counting = if sampled && counted.counted.whole {
        Some(Counting::new(by_day, config)?)
    } else {
        None
    };
    let mut add = |seen: Seen<'_, CodedSession>| {
        if let (Seen::Session(s), Some(counting)) = (seen, counting.as_mut()) {
            counting.add(s);
        }
    };
    let taken = counted.counted.whole && sampled;
    let (data, catalogue) = labels::read_counted_shop(
        data,
        outcomes,
        &schema,
        reading,
        &counted,
        say.as_ref(),
        taken.then_some(&mut add as labels::Census<'_, CodedSession>),
    )?;
    let census = counting.map(|c| c.finish(None));
    let statistics = match &census {
        Some(census) => census.statistics(),
        None => {
            // With an outcomes file the catalogue is still the whole stream's (learned in
            // the first pass), the labelled statistics the kept sessions'.
            let mut statistics =
                Statistics::kept(sampled, outcomes.is_some(), "no census was taken");
            if let (Statistics::KeptOnly { why }, Some(_)) = (&mut statistics, &counted.catalogue) {
                why.push_str(" (the shop's catalogue was learned from every session)");
            }
            statistics
        }
    };
    let listed = FeaturePlan::from_schema(&file).map_err(|e| schema_error(e.to_string()))?;
    let derived = listed.features.is_empty();
    let feature_plan = if derived {
        crate::features::derive(&schema, &catalogue)
    } else {
        listed
    };
    let plan = feature_plan
        .compile(&crate::features::Slots::of_shop(&schema, &catalogue))
        .map_err(|e| schema_error(format!("its feature plan: {e}")))?;
    let money = crate::report::Money::of(
        schema.currency.as_deref(),
        data.sessions
            .iter()
            .flat_map(|s| s.session.clicks.iter().map(|c| c.price)),
    );
    let shop = ShopFacts {
        money,
        schema: schema.record.clone(),
        catalogue: Some(catalogue),
        feature_plan: derived.then_some(feature_plan),
    };
    Ok((Labelled::of(config, data, statistics, census), plan, shop))
}

/// How the validation period was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PeriodRule {
    /// The latest calendar month, when both sides meet the class-count floors.
    LatestMonth,
    /// The shortest trailing run of whole days whose sessions meet the floors, when the
    /// latest month does not.
    TrailingDays,
    /// From the day `--validate-from` names.
    Asked,
}

impl PeriodRule {
    fn words(self) -> &'static str {
        match self {
            PeriodRule::LatestMonth => "the latest calendar month",
            PeriodRule::TrailingDays => "the shortest trailing period meeting the floors",
            PeriodRule::Asked => "as asked (--validate-from)",
        }
    }
}

/// A run of calendar days, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Days {
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
}

impl fmt::Display for Days {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} to {}", self.first_day, self.last_day)
    }
}

/// The validation period as the report names it: from the day the rule starts it (the
/// month's first day, the trailing period's or the asked one) to the data's last day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValidationPeriod {
    #[serde(flatten)]
    pub days: Days,
    pub rule: PeriodRule,
    /// "2008-07-01 to 2008-07-31, the latest calendar month"
    pub words: String,
}

impl ValidationPeriod {
    fn new(days: Days, rule: PeriodRule) -> ValidationPeriod {
        ValidationPeriod {
            days,
            rule,
            words: format!("{days}, {}", rule.words()),
        }
    }
}

/// The contract's time split: the latest period validates, the days before it train.
pub struct Split<'a, S = Session> {
    pub validation: ValidationPeriod,
    /// The first and last days the training sessions start on.
    pub training: Days,
    pub fit: Vec<&'a LabelledSession<S>>,
    pub valid: Vec<&'a LabelledSession<S>>,
}

/// Converting and other sessions of a set of days.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Tally {
    converting: usize,
    other: usize,
}

impl Tally {
    fn add(&mut self, converted: bool) {
        if converted {
            self.converting += 1;
        } else {
            self.other += 1;
        }
    }

    fn plus(self, more: Tally) -> Tally {
        Tally {
            converting: self.converting + more.converting,
            other: self.other + more.other,
        }
    }

    fn minus(self, part: Tally) -> Tally {
        Tally {
            converting: self.converting - part.converting,
            other: self.other - part.other,
        }
    }

    /// A side with no session of a class cannot be judged, whatever the floor says.
    fn meets(self, min_per_class: usize) -> bool {
        let floor = min_per_class.max(1);
        self.converting >= floor && self.other >= floor
    }

    fn words(self) -> String {
        format!(
            "{} converting and {} non-converting sessions",
            self.converting, self.other
        )
    }
}

/// The sessions' classes by the day of their first click, which is all the choice of a
/// period looks at.
struct Calendar {
    by_day: BTreeMap<NaiveDate, Tally>,
    all: Tally,
    /// The data's first and last days.
    data: Days,
    min_per_class: usize,
}

impl Calendar {
    fn new<S: AnySession>(
        sessions: &[LabelledSession<S>],
        min_per_class: usize,
    ) -> Result<Calendar, TrainError> {
        let mut by_day: BTreeMap<NaiveDate, Tally> = BTreeMap::new();
        for s in sessions {
            tally(&mut by_day, s);
        }
        Calendar::of_days(by_day, min_per_class)
    }

    fn of_days(
        by_day: BTreeMap<NaiveDate, Tally>,
        min_per_class: usize,
    ) -> Result<Calendar, TrainError> {
        let all = by_day
            .values()
            .fold(Tally::default(), |sum, t| sum.plus(*t));
        let (Some((&first_day, _)), Some((&last_day, _))) =
            (by_day.first_key_value(), by_day.last_key_value())
        else {
            return Err(TrainError::TooThin("the data holds no session".into()));
        };
        Ok(Calendar {
            by_day,
            all,
            data: Days {
                first_day,
                last_day,
            },
            min_per_class,
        })
    }

    /// The sessions starting on `day` or later.
    fn from(&self, day: NaiveDate) -> Tally {
        self.by_day
            .range(day..)
            .fold(Tally::default(), |sum, (_, t)| sum.plus(*t))
    }

    fn too_thin(&self, part: &str, tally: Tally) -> TrainError {
        TrainError::TooThin(format!(
            "the {part} holds {}; at least {} of each are required (--min-sessions-per-class)",
            tally.words(),
            self.min_per_class
        ))
    }

    fn asked(&self, day: NaiveDate) -> Result<NaiveDate, TrainError> {
        let data = self.data;
        if day < data.first_day || day > data.last_day {
            return Err(TrainError::ValidateFrom(format!(
                "--validate-from {day} is outside the data, which runs from {data}"
            )));
        }
        if day == data.first_day {
            return Err(TrainError::ValidateFrom(format!(
                "--validate-from {day} leaves no session to train on: the data runs from {data}; give a later day"
            )));
        }
        let valid = self.from(day);
        for (part, tally) in [
            ("training period", self.all.minus(valid)),
            ("validation period", valid),
        ] {
            if !tally.meets(self.min_per_class) {
                return Err(self.too_thin(&format!("{part} of --validate-from {day}"), tally));
            }
        }
        Ok(day)
    }

    fn default_start(&self) -> Result<(NaiveDate, PeriodRule), TrainError> {
        let (min, data) = (self.min_per_class, self.data);
        let month = data.last_day.with_day(1).unwrap_or(data.last_day);
        let valid = self.from(month);
        if month > data.first_day && valid.meets(min) && self.all.minus(valid).meets(min) {
            return Ok((month, PeriodRule::LatestMonth));
        }
        // Each day back adds sessions to validation and takes them from training, so the
        // first day whose trailing period meets the floors is the only one that can leave
        // training enough.
        let mut valid = Tally::default();
        let shortest = self.by_day.iter().rev().find_map(|(&day, t)| {
            valid = valid.plus(*t);
            valid.meets(min).then_some((day, valid))
        });
        let Some((day, valid)) = shortest else {
            return Err(TrainError::TooThin(format!(
                "the data ({data}) holds {}; training and validation each need at least {min} of each (--min-sessions-per-class)",
                self.all.words()
            )));
        };
        let fit = self.all.minus(valid);
        if !fit.meets(min) {
            return Err(self.too_thin(
                &format!(
                    "training period before the shortest trailing period meeting the floors (from {day})"
                ),
                fit,
            ));
        }
        Ok((day, PeriodRule::TrailingDays))
    }
}

/// The one time split of `train`: sessions whose first click is on or after the
/// validation period's first day validate, the others train.
///
/// The period starts on `validate_from` when given (a day after the data's first and not
/// after its last). Otherwise it is the latest calendar month when both sides meet the
/// class-count floors, else the shortest trailing period of whole days whose sessions meet
/// them while the days before still do; when none does, the data is too thin. Either way
/// both sides must meet the floors.
pub fn split<S: AnySession>(
    sessions: &[LabelledSession<S>],
    validate_from: Option<NaiveDate>,
    min_per_class: usize,
) -> Result<Split<'_, S>, TrainError> {
    let calendar = Calendar::new(sessions, min_per_class)?;
    let start = calendar.start(validate_from)?;
    Ok(split_at(sessions, &calendar, start))
}

/// The split of a sample at the period chosen on the whole stream's `census`; each side of
/// the sample must still meet the class-count floors.
fn split_census<'a, S: AnySession>(
    sessions: &'a [LabelledSession<S>],
    census: &Census,
    min_per_class: usize,
) -> Result<Split<'a, S>, TrainError> {
    let split = split_at(sessions, &census.calendar, census.start);
    let side = |set: &[&LabelledSession<S>]| {
        set.iter().fold(Tally::default(), |mut t, s| {
            t.add(s.outcome.converted);
            t
        })
    };
    for (part, set) in [("training", &split.fit), ("validation", &split.valid)] {
        let tally = side(set);
        if !tally.meets(min_per_class) {
            return Err(TrainError::TooThin(format!(
                "the sample's {part} period ({}) holds {}; at least {min_per_class} of each are required (--min-sessions-per-class)",
                if part == "training" { split.training } else { split.validation.days },
                tally.words()
            )));
        }
    }
    Ok(split)
}

impl Calendar {
    /// The validation period's first day: the one asked for, else by the default rules.
    fn start(
        &self,
        validate_from: Option<NaiveDate>,
    ) -> Result<(NaiveDate, PeriodRule), TrainError> {
        match validate_from {
            Some(day) => Ok((self.asked(day)?, PeriodRule::Asked)),
            None => self.default_start(),
        }
    }
}

/// `sessions` split at `start`, the period's days named by `calendar`.
fn split_at<'a, S: AnySession>(
    sessions: &'a [LabelledSession<S>],
    calendar: &Calendar,
    (start, rule): (NaiveDate, PeriodRule),
) -> Split<'a, S> {
    let (valid, fit): (Vec<_>, Vec<_>) = sessions
        .iter()
        .partition(|s| s.session.first_day() >= start);
    let Days {
        first_day,
        last_day,
    } = calendar.data;
    let training = Days {
        first_day,
        last_day: calendar
            .by_day
            .range(..start)
            .next_back()
            .map_or(first_day, |(&day, _)| day),
    };
    Split {
        validation: ValidationPeriod::new(
            Days {
                first_day: start,
                last_day,
            },
            rule,
        ),
        training,
        fit,
        valid,
    }
}

/// Which shop the data is: what the report writes prices in, and what each model file
/// records beside its weights (the schema, and for a shop's own schema the catalogue and
/// the feature plan learned from the data).
pub(super) struct ShopFacts {
    pub money: crate::report::Money,
    pub schema: crate::domain::schema_file::SchemaRecord,
    pub catalogue: Option<crate::domain::catalogue::Catalogue>,
    pub feature_plan: Option<crate::features::FeaturePlan>,
}

impl ShopFacts {
    /// The UCI shop's: its schema, US dollars, version 1's plan.
    pub fn uci() -> ShopFacts {
        ShopFacts {
            money: crate::report::Money::usd(),
            schema: crate::domain::schema_file::SchemaRecord::uci(),
            catalogue: None,
            feature_plan: None,
        }
    }
}

/// The split sessions and their prefix features.
pub(super) struct Prepared<'a, S = Session> {
    /// The features every model of this training reads.
    pub plan: &'a Plan,
    pub shop: &'a ShopFacts,
    /// The whole stream's counts, when the sample left sessions out.
    pub census: Option<&'a Census>,
    pub split: Split<'a, S>,
    /// Every session, in file order, for the refit.
    pub all: Vec<&'a LabelledSession<S>>,
    pub sessions: SessionCounts,
    /// Training prefixes, their product rates out of fold.
    pub fit_set: PrefixSet,
    /// Product rates of the training period, the only ones validation prefixes may see.
    pub fit_products: ProductStats,
    pub valid_set: PrefixSet,
}

pub(super) fn prepare<'a, S: AnySession>(
    plan: &'a Plan,
    shop: &'a ShopFacts,
    sessions: &'a [LabelledSession<S>],
    census: Option<&'a Census>,
    sample: &SampleCounts,
    config: &TrainConfig,
    steps: &Steps,
) -> Result<Prepared<'a, S>, TrainError>
where
    S::Click: ClickValues,
{
    let split = match census {
        Some(census) => split_census(sessions, census, config.min_sessions_per_class),
        None => split(
            sessions,
            config.validate_from,
            config.min_sessions_per_class,
        ),
    }
    .map_err(|e| match (e, sample.words()) {
        // The floors are the contract's; what can change is the share kept.
        (TrainError::TooThin(why), Some(sampled)) => {
            let raise = if sample.fraction < sample.asked {
                "raise --max-sessions or --max-clicks (the budget held in memory)"
            } else {
                "raise --sample-fraction"
            };
            TrainError::TooThin(format!("{why}; {sampled}: {raise}"))
        }
        (e, _) => e,
    })?;
    let counts = SessionCounts::new(&split.fit, &split.valid);

    steps.step("computing prefix features");
    let (fit_set, fit_products) = PrefixSet::build_out_of_fold(
        plan,
        &split.fit,
        config.folds,
        config.session_hash(),
        census.map(|c| &c.products[0]),
        config.product_smoothing,
    );
    let valid_set = PrefixSet::build(plan, &split.valid, &fit_products);
    Ok(Prepared {
        plan,
        shop,
        census,
        all: sessions.iter().collect(),
        split,
        sessions: counts,
        fit_set,
        fit_products,
        valid_set,
    })
}

/// Converting and non-converting sessions of each side of the split, for the report.
#[derive(Debug, Clone, Serialize)]
pub struct SessionCounts {
    pub training_converting: usize,
    pub training_not_converting: usize,
    pub validation_converting: usize,
    pub validation_not_converting: usize,
}

impl SessionCounts {
    pub(super) fn new<S>(
        fit: &[&LabelledSession<S>],
        valid: &[&LabelledSession<S>],
    ) -> SessionCounts {
        let converting =
            |set: &[&LabelledSession<S>]| set.iter().filter(|s| s.outcome.converted).count();
        let (fit_pos, valid_pos) = (converting(fit), converting(valid));
        SessionCounts {
            training_converting: fit_pos,
            training_not_converting: fit.len() - fit_pos,
            validation_converting: valid_pos,
            validation_not_converting: valid.len() - valid_pos,
        }
    }
}
