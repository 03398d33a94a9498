use super::convert::{ConvertPlan, ConvertSpec};
use super::refit::score_distribution;
use super::*;
use crate::dataset::PrefixSet;
use crate::domain::AnySession;
use crate::domain::Session;
use crate::labels::LabelledSession;
use crate::ml::classifier::Imbalance;
use chrono::{Datelike, NaiveDate};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use std::fmt::Write as _;

/// A file of the shipped models' folder, as JSON.
fn shipped_json(file: &str) -> serde_json::Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("models")
        .join(file);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn json<T: serde::Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).expect("A setting serialises to JSON.")
}

#[test]
fn defaults_keep_the_seeds_the_shipped_models_were_trained_with() {
    let config = TrainConfig::default();
    let report = shipped_json("report.json");
    let mut seeds = Vec::new();
    // Every candidate the shipped training tried was one of today's default settings, seed
    // included: otherwise a retrain would not give back the shipped weights.
    let convert = [json(&config.forest), json(&config.logistic)]
        .into_iter()
        .chain(config.boosting.iter().map(json))
        .collect::<Vec<_>>();
    let candidates = report["convert_candidates"].as_array().expect("candidates");
    for c in candidates {
        let (model, imbalance) = (
            &c["hyperparameters"]["model"],
            &c["hyperparameters"]["imbalance"],
        );
        assert!(convert.contains(model), "{model} is no default setting");
        if imbalance["method"] == "smote" {
            assert_eq!(imbalance["k"], json(&config.smote_k));
            assert_eq!(imbalance["ratio"], json(&config.smote_ratio));
        }
        seeds.extend(model["seed"].as_u64());
    }
    let revenue = [json(&config.ridge), json(&config.revenue_boosting)];
    for c in report["revenue_candidates"].as_array().expect("candidates") {
        assert!(revenue.contains(&c["hyperparameters"]), "{c}");
        seeds.extend(c["hyperparameters"]["seed"].as_u64());
    }
    let kmeans = &shipped_json("segment/1/manifest.json")["hyperparameters"]["kmeans"];
    assert_eq!(kmeans, &json(&config.kmeans));
    seeds.extend(kmeans["seed"].as_u64());
    // The files record the algorithms' seeds, not SMOTE's or the bootstrap's; the shipped
    // training drew every random choice from the one seed they all record.
    assert!(seeds.len() > candidates.len(), "{seeds:?}");
    assert!(seeds.iter().all(|s| *s == seeds[0]), "{seeds:?}");
    assert_eq!(config.smote_seed, seeds[0]);
    assert_eq!(config.auc_bootstrap_seed, seeds[0]);
    let page = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/report.html"),
    )
    .expect("the shipped report");
    let resamples = format!(
        "of {} session-bootstrap resamples",
        config.auc_bootstrap_resamples
    );
    assert!(
        page.contains(&resamples),
        "the shipped report lacks {resamples:?}"
    );
}

#[test]
fn the_convert_plan_takes_a_step_per_candidate_tried_or_skipped() {
    let config = TrainConfig::default();
    let plan = ConvertPlan::new(&config).expect("the default plan");
    // Five treatments and algorithms, then the two other boosting settings.
    assert_eq!(plan.steps(), 7);
    let one = TrainConfig {
        boosting: config.boosting[..1].to_vec(),
        ..config
    };
    assert_eq!(ConvertPlan::new(&one).expect("a plan").steps(), 5);
}

#[test]
fn a_config_without_boosting_settings_is_refused_before_reading_data() {
    let config = TrainConfig {
        data: "/nonexistent/clicks.csv".into(),
        boosting: Vec::new(),
        quiet: true,
        ..TrainConfig::default()
    };
    let err = train(&config).expect_err("no boosting setting is refused");
    assert!(
        matches!(
            err,
            TrainError::Fit(FitError::Param {
                name: "boosting",
                ..
            })
        ),
        "{err}"
    );
}

#[test]
fn conversion_hyperparameters_name_the_model_and_the_imbalance() {
    let spec = ConvertSpec::Logistic(TrainConfig::default().logistic, Imbalance::ClassWeights);
    let value = spec.hyperparameters().expect("serialisable");
    assert_eq!(value["model"]["alpha"], 1.0);
    assert_eq!(value["imbalance"]["method"], "class_weights");
}

#[test]
fn the_score_distribution_holds_a_quantile_per_percent() {
    let scores: Vec<f64> = (0..1000).map(|i| f64::from(i) / 1000.0).collect();
    let set = PrefixSet {
        features: ndarray::Array2::zeros((scores.len(), 1)),
        converted: vec![false; scores.len()],
        revenue: vec![0.0; scores.len()],
        weight: vec![1.0; scores.len()],
        session: (0..scores.len()).collect(),
        prefix_len: vec![1; scores.len()],
    };
    let q = score_distribution(&scores, &set).quantiles;
    assert_eq!(q.len(), 101);
    assert_eq!(q[0], 0.0);
    assert!((q[50] - 0.5).abs() < 0.002, "median {}", q[50]);
    assert_eq!(q[100], 0.999);
}

/// Trains on a small synthetic April-June clickstream with quick settings and `boosting`;
/// returns the outcome, the steps planned in all and for the conversion stage, and those
/// taken.
fn train_quickly(boosting: BoostingParams) -> (Result<TrainReport, TrainError>, Counts) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let config = TrainConfig {
        boosting: vec![boosting.clone(), boosting],
        min_sessions_per_class: 5,
        ..quick_config(dir.path(), &synthetic_clickstream(900, 7, 4, 3))
    };
    let plan = ConvertPlan::new(&config).expect("a plan");
    let steps = Steps::new(FIXED_STEPS + plan.steps(), true);
    let outcome = run(&config, &plan, &steps);
    let counts = Counts {
        planned: steps.planned,
        convert: plan.steps(),
        taken: steps.taken.get(),
    };
    (outcome, counts)
}

/// Quick settings that train on `clicks`, written into `dir`, and publish there.
fn quick_config(dir: &std::path::Path, clicks: &str) -> TrainConfig {
    let data = dir.join("clicks.csv");
    std::fs::write(&data, clicks).expect("write the clickstream");
    let defaults = TrainConfig::default();
    let boosting = BoostingParams {
        iterations: 30,
        learning_rate: 0.1,
        ..defaults.boosting[0].clone()
    };
    TrainConfig {
        data,
        models_dir: dir.join("models"),
        min_roc_auc: 0.0,
        boosting: vec![boosting],
        forest: ForestParams {
            trees: 3,
            ..defaults.forest.clone()
        },
        kmeans: KMeansParams {
            k_max: 4,
            runs: 1,
            ..defaults.kmeans.clone()
        },
        quiet: true,
        ..defaults
    }
}

struct Counts {
    planned: u64,
    convert: u64,
    taken: u64,
}

#[test]
fn train_takes_the_steps_it_plans() {
    let (outcome, counts) = train_quickly(BoostingParams {
        iterations: 30,
        learning_rate: 0.1,
        ..TrainConfig::default().boosting[0].clone()
    });
    let report = outcome.expect("training succeeds");
    assert_eq!(report.convert_candidates.len(), 6, "stage 2 ran");
    assert_eq!(counts.taken, counts.planned);
}

#[test]
fn stage_2_takes_its_steps_when_boosting_does_not_win_stage_1() {
    // Deep full-rate trees on few rows overfit: their validation log loss is worse than
    // the base rate's. No other candidate calibrates on this data either, so training
    // stops right after the conversion stage.
    let (outcome, counts) = train_quickly(BoostingParams {
        iterations: 40,
        learning_rate: 1.0,
        max_depth: 6,
        min_leaf_weight: 0.01,
        l2: 0.0,
        subsample: 1.0,
        colsample_bytree: 1.0,
        ..TrainConfig::default().boosting[0].clone()
    });
    assert!(
        matches!(outcome, Err(TrainError::BelowFloor(_))),
        "no candidate calibrates"
    );
    let before_convert = prepare::READ_STEPS + prepare::STEPS;
    assert_eq!(counts.taken, before_convert + counts.convert);
}

/// Clicks in the UCI format, the sessions spread in order over `months` months of 2008
/// from `first_month`; Czech sessions viewing sale items convert most.
fn synthetic_clickstream(sessions: usize, seed: u64, first_month: usize, months: usize) -> String {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut out = String::from("year;month;day;order;country;session ID;page 1 (main category);page 2 (clothing model);colour;location;model photography;price;price 2;page\n");
    for s in 0..sessions {
        let month = first_month + s * months / sessions;
        let day = rng.gen_range(1..=28);
        let czech = rng.gen_bool(0.3);
        let sale = rng.gen_bool(0.4);
        let converts = rng.gen_bool(match (czech, sale) {
            (true, true) => 0.6,
            (true, false) | (false, true) => 0.2,
            (false, false) => 0.05,
        });
        let len = rng.gen_range(1..12usize);
        let basket_at = (converts && len >= 2).then(|| rng.gen_range(1..len));
        let mut previous = (0, 0);
        for order in 0..len {
            let category = if sale && rng.gen_bool(0.7) {
                4
            } else {
                rng.gen_range(1..=3)
            };
            let mut product = (category, rng.gen_range(1..30));
            if Some(order) == basket_at {
                product = previous;
            } else if product == previous {
                // No basket event the generator did not plan.
                product.1 = 30 + order;
            }
            let letter = ["A", "B", "C", "P"][product.0 - 1];
            let price = 20 + (product.1 * 3) % 60;
            let _ = writeln!(
                out,
                "2008;{month};{day};{};{};{};{};{letter}{};{};{};1;{price};{};{}",
                order + 1,
                if czech { 9 } else { 29 },
                s + 1,
                product.0,
                product.1,
                rng.gen_range(1..=14),
                rng.gen_range(1..=6),
                if price > 50 { 1 } else { 2 },
                rng.gen_range(1..=5),
            );
            previous = product;
        }
    }
    out
}

/// `per_day` converting and `per_day` other sessions starting on each day of `days`.
fn sessions_on(days: &[NaiveDate], per_day: usize) -> Vec<LabelledSession> {
    let mut sessions = Vec::new();
    for day in days {
        for converted in [true, false] {
            for _ in 0..per_day {
                let mut click = crate::domain::session::tests::click(1, "A13", 28.0);
                click.date = crate::domain::ClickDate::parse(
                    i64::from(day.year()),
                    i64::from(day.month()),
                    i64::from(day.day()),
                )
                .expect("a real day");
                let id = crate::domain::SessionId::parse(&format!("s{}", sessions.len()))
                    .expect("a valid id");
                let (session, _) = Session::new(id, vec![click]).expect("a valid session");
                sessions.push(LabelledSession {
                    session,
                    outcome: crate::labels::Outcome {
                        converted,
                        revenue: if converted { 28.0 } else { 0.0 },
                    },
                    valid_prefixes: 1,
                });
            }
        }
    }
    sessions
}

fn day(text: &str) -> NaiveDate {
    text.parse().expect("a day written YYYY-MM-DD")
}

/// Every day from `first` to `last`, both included.
fn days(first: &str, last: &str) -> Vec<NaiveDate> {
    day(first)
        .iter_days()
        .take_while(|d| *d <= day(last))
        .collect()
}

/// The converting and other sessions of each side, training first.
fn sides(split: &Split) -> [usize; 4] {
    let converting = |set: &[&LabelledSession]| set.iter().filter(|s| s.outcome.converted).count();
    [
        converting(&split.fit),
        split.fit.len() - converting(&split.fit),
        converting(&split.valid),
        split.valid.len() - converting(&split.valid),
    ]
}

#[test]
fn the_latest_calendar_month_validates_when_both_sides_meet_the_floors() {
    let sessions = sessions_on(&days("2008-04-01", "2008-07-29"), 1);
    let split = split(&sessions, None, 20).expect("a split");
    assert_eq!(split.validation.rule, PeriodRule::LatestMonth);
    assert_eq!(
        split.validation.words,
        "2008-07-01 to 2008-07-29, the latest calendar month"
    );
    assert_eq!(split.training.to_string(), "2008-04-01 to 2008-06-30");
    assert_eq!(sides(&split), [91, 91, 29, 29]);
    assert!(split.valid.iter().all(|s| s.session.month() == (2008, 7)));
}

#[test]
fn a_thin_latest_month_gives_way_to_the_shortest_trailing_period_that_meets_the_floors() {
    // Five sessions of each class in July: ten are needed, so validation reaches back five
    // days into June (each day adds one of each).
    let mut sessions = sessions_on(&days("2008-04-01", "2008-06-30"), 1);
    sessions.extend(sessions_on(&days("2008-07-01", "2008-07-05"), 1));
    let split = split(&sessions, None, 10).expect("a split");
    assert_eq!(split.validation.rule, PeriodRule::TrailingDays);
    assert_eq!(
        split.validation.words,
        "2008-06-26 to 2008-07-05, the shortest trailing period meeting the floors"
    );
    assert_eq!(split.training.to_string(), "2008-04-01 to 2008-06-25");
    assert_eq!(sides(&split), [86, 86, 10, 10]);
}

#[test]
fn one_month_of_data_validates_on_its_last_days() {
    let sessions = sessions_on(&days("2008-07-01", "2008-07-31"), 2);
    let split = split(&sessions, None, 5).expect("a split");
    assert_eq!(split.validation.rule, PeriodRule::TrailingDays);
    // Two of each class a day: three days hold the five needed.
    assert_eq!(
        split.validation.days.to_string(),
        "2008-07-29 to 2008-07-31"
    );
    assert_eq!(split.training.to_string(), "2008-07-01 to 2008-07-28");
    assert_eq!(sides(&split), [56, 56, 6, 6]);
}

#[test]
fn a_latest_month_that_leaves_training_thin_gives_way_to_a_shorter_period() {
    // Two days of April cannot train on their own; July's last days validate.
    let mut sessions = sessions_on(&days("2008-04-01", "2008-04-02"), 1);
    sessions.extend(sessions_on(&days("2008-07-01", "2008-07-31"), 1));
    let split = split(&sessions, None, 10).expect("a split");
    assert_eq!(split.validation.rule, PeriodRule::TrailingDays);
    assert_eq!(
        split.validation.days.to_string(),
        "2008-07-22 to 2008-07-31"
    );
    assert_eq!(sides(&split), [23, 23, 10, 10]);
}

#[test]
fn validate_from_splits_on_the_day_asked_that_day_validating() {
    let sessions = sessions_on(&days("2008-04-01", "2008-07-31"), 1);
    let split = split(&sessions, Some(day("2008-07-20")), 5).expect("a split");
    assert_eq!(split.validation.rule, PeriodRule::Asked);
    assert_eq!(
        split.validation.words,
        "2008-07-20 to 2008-07-31, as asked (--validate-from)"
    );
    assert_eq!(split.training.to_string(), "2008-04-01 to 2008-07-19");
    assert_eq!(sides(&split), [110, 110, 12, 12]);
}

#[test]
fn validate_from_outside_the_data_or_on_its_first_day_is_refused_naming_its_days() {
    let sessions = sessions_on(&days("2008-04-01", "2008-07-31"), 1);
    for asked in ["2008-03-31", "2008-08-01", "2008-04-01"] {
        let err = split(&sessions, Some(day(asked)), 5)
            .err()
            .unwrap_or_else(|| panic!("{asked} was accepted"));
        let text = err.to_string();
        assert!(matches!(err, TrainError::ValidateFrom(_)), "{text}");
        assert!(
            text.contains(&format!("--validate-from {asked}"))
                && text.contains("2008-04-01 to 2008-07-31"),
            "{text}"
        );
    }
    // The last day is the latest that leaves validation a session.
    let split = split(&sessions, Some(day("2008-07-31")), 1).expect("a split");
    assert_eq!(sides(&split)[2..], [1, 1]);
}

#[test]
fn a_split_under_the_floors_is_refused_with_its_counts() {
    let sessions = sessions_on(&days("2008-04-01", "2008-07-31"), 1);
    let err = split(&sessions, Some(day("2008-07-30")), 5)
        .err()
        .expect("two days cannot validate");
    assert!(matches!(err, TrainError::TooThin(_)), "{err}");
    assert!(
        err.to_string()
            .contains("validation period of --validate-from 2008-07-30 holds 2 converting and 2 non-converting sessions"),
        "{err}"
    );
    // 122 of each in all: no split leaves 100 of each on both sides, though one side could.
    let err = split(&sessions, None, 100).err().expect("too thin");
    assert!(matches!(err, TrainError::TooThin(_)), "{err}");
    assert!(
        err.to_string()
            .contains("holds 22 converting and 22 non-converting sessions"),
        "{err}"
    );
    let err = split(&sessions, None, 1000).err().expect("too thin");
    assert!(
        err.to_string().contains(
            "the data (2008-04-01 to 2008-07-31) holds 122 converting and 122 non-converting sessions"
        ),
        "{err}"
    );
    let err = split::<Session>(&[], None, 1).err().expect("no data");
    assert!(matches!(err, TrainError::TooThin(_)), "{err}");
}

#[test]
fn one_month_of_clicks_trains_and_the_report_names_its_validation_period() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let config = TrainConfig {
        min_sessions_per_class: 20,
        ..quick_config(dir.path(), &synthetic_clickstream(400, 7, 7, 1))
    };
    let report = train(&config).expect("one month of clicks trains");
    let period = &report.validation;
    assert_eq!(period.rule, PeriodRule::TrailingDays);
    assert_eq!(period.days.last_day.month(), 7);
    assert!(period.days.first_day.day() > 1, "{}", period.words);
    assert!(report.sessions.validation_converting >= 20);
    let words = format!("validation period {}", period.words);
    let read = |name: &str| {
        std::fs::read_to_string(config.models_dir.join(name)).expect("a written report")
    };
    assert!(read("report.md").contains(&words), "{words}");
    assert!(read("report.html").contains(&words), "{words}");
    let json: serde_json::Value =
        serde_json::from_str(&read("report.json")).expect("the report is JSON");
    assert_eq!(json["validation"]["rule"], "trailing_days");
    assert_eq!(
        json["validation"]["first_day"],
        period.days.first_day.to_string()
    );
    assert!(report
        .headline()
        .contains(&format!("validation ({})", period.days)));
    for model in ["convert", "revenue", "segment"] {
        let manifest: serde_json::Value =
            serde_json::from_str(&read(&format!("{model}/1/manifest.json")))
                .expect("a JSON manifest");
        assert_eq!(
            manifest["training"]["validation_period"].as_str(),
            Some(period.words.as_str()),
            "{model}"
        );
    }
}

/// The three models' weight files of a training into `models`.
fn weights(models: &std::path::Path) -> Vec<Vec<u8>> {
    ["convert", "revenue", "segment"]
        .iter()
        .map(|m| std::fs::read(models.join(m).join("1/weights.json")).expect("published weights"))
        .collect()
}

/// The file's rows in another order, its header first: no session's rows together.
fn shuffled(clicks: &str, seed: u64) -> String {
    use rand::seq::SliceRandom;
    let mut lines: Vec<&str> = clicks.lines().collect();
    let header = lines.remove(0);
    lines.shuffle(&mut Xoshiro256PlusPlus::seed_from_u64(seed));
    let mut out = format!("{header}\n");
    for line in lines {
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[test]
fn the_same_sessions_in_any_row_order_train_the_same_weights() {
    let clicks = synthetic_clickstream(900, 7, 4, 3);
    let (a, b) = (
        tempfile::tempdir().expect("a dir"),
        tempfile::tempdir().expect("a dir"),
    );
    let in_order = TrainConfig {
        min_sessions_per_class: 5,
        ..quick_config(a.path(), &clicks)
    };
    let mixed = TrainConfig {
        min_sessions_per_class: 5,
        ..quick_config(b.path(), &shuffled(&clicks, 19))
    };
    assert_ne!(
        std::fs::read(&in_order.data).ok(),
        std::fs::read(&mixed.data).ok()
    );
    train(&in_order).expect("trains");
    train(&mixed).expect("trains on the shuffled rows");
    assert!(
        weights(&in_order.models_dir) == weights(&mixed.models_dir),
        "the weights differ with the rows' order"
    );
}

#[test]
fn a_sample_fraction_keeps_the_sessions_below_it_wherever_their_rows_are() {
    let clicks = synthetic_clickstream(900, 7, 4, 3);
    let fraction = crate::domain::sample::Fraction::new(0.6).expect("a fraction");
    let hash = crate::domain::sample::SessionHash::default();
    // The kept sessions' rows alone, as Spark's or the SQL's sample hands them over.
    let mut kept_rows = String::new();
    let mut kept = std::collections::BTreeSet::new();
    for (i, line) in clicks.lines().enumerate() {
        let id = line.split(';').nth(5).expect("a session column");
        if i == 0 || hash.unit(id) < fraction.get() {
            kept_rows.push_str(line);
            kept_rows.push('\n');
            if i > 0 {
                kept.insert(id.to_owned());
            }
        }
    }
    let (a, b) = (
        tempfile::tempdir().expect("a dir"),
        tempfile::tempdir().expect("a dir"),
    );
    let sampled = TrainConfig {
        min_sessions_per_class: 5,
        sample_fraction: fraction,
        ..quick_config(a.path(), &shuffled(&clicks, 3))
    };
    let handed_over = TrainConfig {
        min_sessions_per_class: 5,
        ..quick_config(b.path(), &kept_rows)
    };
    let report = train(&sampled).expect("the sample trains");
    assert_eq!(report.sample.sessions_read, 900);
    assert_eq!(report.sample.sessions_kept, kept.len());
    assert!((480..=600).contains(&kept.len()), "{} kept", kept.len());
    let md = std::fs::read_to_string(sampled.models_dir.join("report.md")).expect("report.md");
    assert!(
        md.contains(&format!(
            "sessions read: 900; kept by the session sample (docs/sampling.md; fraction 0.6, seed 2008): {}",
            kept.len()
        )),
        "{md}"
    );
    let elsewhere = train(&handed_over).expect("the handed-over sample trains");
    // The same sessions on each side of the same period; the weights differ, as the file
    // sampled here gives its product rates from every session (the next tests).
    assert_eq!(
        (
            report.sessions.training_converting,
            report.sessions.training_not_converting,
            report.sessions.validation_converting,
            report.sessions.validation_not_converting
        ),
        (
            elsewhere.sessions.training_converting,
            elsewhere.sessions.training_not_converting,
            elsewhere.sessions.validation_converting,
            elsewhere.sessions.validation_not_converting
        )
    );
}

#[test]
fn a_sample_too_small_for_the_class_floors_is_refused_saying_what_it_kept() {
    let dir = tempfile::tempdir().expect("a dir");
    let config = TrainConfig {
        min_sessions_per_class: 20,
        sample_fraction: crate::domain::sample::Fraction::new(0.05).expect("a fraction"),
        ..quick_config(dir.path(), &synthetic_clickstream(900, 7, 4, 3))
    };
    let err = train(&config)
        .expect_err("too few sessions kept")
        .to_string();
    assert!(
        err.starts_with("not publishing: the data is too thin: "),
        "{err}"
    );
    assert!(
        err.contains("the session sample (--sample-fraction 0.05, --session-seed 2008) kept "),
        "{err}"
    );
    assert!(
        err.contains(" of the 900 sessions read: raise --sample-fraction"),
        "{err}"
    );
    assert!(
        !config.models_dir.join("convert/1").exists(),
        "nothing published"
    );
}

#[test]
fn a_budget_of_sessions_keeps_the_lowest_hashes_and_its_fraction_reproduces_the_sample() {
    let clicks = synthetic_clickstream(900, 7, 4, 3);
    let (a, b) = (
        tempfile::tempdir().expect("a dir"),
        tempfile::tempdir().expect("a dir"),
    );
    let budget = TrainConfig {
        min_sessions_per_class: 5,
        max_sessions: 500,
        ..quick_config(a.path(), &shuffled(&clicks, 5))
    };
    let report = train(&budget).expect("the budget's sample trains");
    assert_eq!(report.sample.sessions_read, 900);
    assert_eq!(report.sample.sessions_kept, 500);
    assert_eq!(report.sample.max_sessions, Some(500));
    let fraction = report.sample.fraction;
    assert!(fraction < 1.0, "{fraction}");
    // The fraction the report gives keeps the same sessions: what Spark or SQL is handed.
    // Rows apart in both, in two orders: grouped on disk for the census, both train the
    // same weights.
    let by_fraction = TrainConfig {
        min_sessions_per_class: 5,
        sample_fraction: crate::domain::sample::Fraction::new(fraction).expect("a fraction"),
        max_sessions: usize::MAX,
        ..quick_config(b.path(), &shuffled(&clicks, 6))
    };
    let again = train(&by_fraction).expect("the fraction's sample trains");
    assert_eq!(again.sample.sessions_kept, 500);
    assert!(
        weights(&budget.models_dir) == weights(&by_fraction.models_dir),
        "the budget's sample and its fraction's train different weights"
    );
    // A budget that cannot hold the class floors says which knob to turn.
    let c = tempfile::tempdir().expect("a dir");
    let thin = TrainConfig {
        min_sessions_per_class: 20,
        max_sessions: 40,
        ..quick_config(c.path(), &clicks)
    };
    let err = train(&thin).expect_err("too few sessions held").to_string();
    assert!(
        err.contains("kept 40 (237 clicks) of the 900 sessions read"),
        "{err}"
    );
    assert!(err.contains("raise --max-sessions"), "{err}");
}

#[test]
fn a_budget_of_clicks_bounds_long_sessions_and_a_shuffled_file_keeps_the_same_sample() {
    // Sessions of 1 to 11 clicks; those over 8 are skipped as too long, so the count of
    // sessions read must include them whether the rows are together or grouped on disk.
    let clicks = synthetic_clickstream(900, 7, 4, 3);
    let (a, b, spill) = (
        tempfile::tempdir().expect("a dir"),
        tempfile::tempdir().expect("a dir"),
        tempfile::tempdir().expect("a dir"),
    );
    let sorted = TrainConfig {
        min_sessions_per_class: 5,
        max_clicks_per_session: 8,
        max_clicks: 2_000,
        ..quick_config(a.path(), &clicks)
    };
    let apart = TrainConfig {
        data: b.path().join("clicks.csv"),
        models_dir: b.path().join("models"),
        spill: crate::reader::spill::SpillOptions {
            dir: spill.path().to_owned(),
            budget: 64 * 1024,
        },
        ..sorted.clone()
    };
    std::fs::write(&apart.data, shuffled(&clicks, 9)).expect("write the shuffled file");
    let report = train(&sorted).expect("the click budget's sample trains");
    let long = report.read.long_sessions_skipped;
    assert!(long > 0, "some sessions are over the cap");
    assert_eq!(report.sample.sessions_read as u64, 900);
    assert_eq!(report.sample.max_clicks, Some(2_000));
    assert!(report.sample.clicks_kept <= 2_000, "{:?}", report.sample);
    // The budget is nearly used: the next session in hash order would not have fitted.
    assert!(report.sample.clicks_kept > 2_000 - 8, "{:?}", report.sample);
    let words = report.sample.words().expect("a sample");
    assert!(words.contains("--max-clicks 2000"), "{words}");
    let shuffled_report = train(&apart).expect("the shuffled file's sample trains");
    assert!(matches!(
        shuffled_report.sample.statistics,
        super::prepare::Statistics::WholeStream {
            grouped_on_disk: Some(_),
            ..
        }
    ));
    assert_eq!(shuffled_report.sample.sessions_read, 900);
    assert_eq!(shuffled_report.sample.fraction, report.sample.fraction);
    assert!(
        weights(&sorted.models_dir) == weights(&apart.models_dir),
        "the shuffled file's sample trains other weights"
    );
}

/// The published conversion model's product table.
fn product_table(models: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(models.join("convert/1/weights.json")).expect("weights");
    let weights: serde_json::Value = serde_json::from_str(&text).expect("JSON weights");
    weights["products"].clone()
}

#[test]
fn a_sample_of_a_grouped_file_learns_the_period_class_counts_and_product_rates_from_every_session()
{
    let clicks = synthetic_clickstream(900, 7, 4, 3);
    let (a, b, c) = (
        tempfile::tempdir().expect("a dir"),
        tempfile::tempdir().expect("a dir"),
        tempfile::tempdir().expect("a dir"),
    );
    let every = TrainConfig {
        min_sessions_per_class: 5,
        ..quick_config(a.path(), &clicks)
    };
    let fraction = crate::domain::sample::Fraction::new(0.6).expect("a fraction");
    let sampled = TrainConfig {
        min_sessions_per_class: 5,
        sample_fraction: fraction,
        ..quick_config(b.path(), &clicks)
    };
    let spill = tempfile::tempdir().expect("a dir");
    let apart = TrainConfig {
        min_sessions_per_class: 5,
        sample_fraction: fraction,
        spill: crate::reader::spill::SpillOptions {
            dir: spill.path().to_owned(),
            budget: 64 * 1024,
        },
        ..quick_config(c.path(), &shuffled(&clicks, 8))
    };
    let whole = train(&every).expect("every session trains");
    let report = train(&sampled).expect("the sample trains");
    assert!(report.sample.sessions_kept < 900, "{:?}", report.sample);
    // The whole stream's classes on each side of the period it chose: the full run's.
    let counts = &whole.sessions;
    match &report.sample.statistics {
        super::prepare::Statistics::WholeStream {
            training_converting,
            training_not_converting,
            validation_converting,
            validation_not_converting,
            grouped_on_disk: None,
        } => assert_eq!(
            (
                *training_converting,
                *training_not_converting,
                *validation_converting,
                *validation_not_converting
            ),
            (
                counts.training_converting,
                counts.training_not_converting,
                counts.validation_converting,
                counts.validation_not_converting
            )
        ),
        other => panic!("not the whole stream's: {other:?}"),
    }
    assert_eq!(report.validation, whole.validation);
    assert!(
        report.sessions.validation_converting < counts.validation_converting,
        "the sample holds fewer sessions than the stream"
    );
    // The shipped product table is learned from every session, not the sample's.
    assert_eq!(
        product_table(&sampled.models_dir),
        product_table(&every.models_dir)
    );
    let md = std::fs::read_to_string(sampled.models_dir.join("report.md")).expect("report.md");
    assert!(
        md.contains("counted over the whole stream, kept or not"),
        "{md}"
    );

    // Rows apart: the sessions are grouped on disk for the census (a budget small enough
    // for several partitions), and the shuffled file trains the sorted file's weights.
    let report = train(&apart).expect("the shuffled sample trains");
    match &report.sample.statistics {
        super::prepare::Statistics::WholeStream {
            grouped_on_disk: Some(why),
            ..
        } => assert!(
            why.contains("comes back after other sessions' rows"),
            "{why}"
        ),
        other => panic!("{other:?}"),
    }
    assert!(
        weights(&apart.models_dir) == weights(&sampled.models_dir),
        "the shuffled sample's weights differ from the grouped file's"
    );
    assert_eq!(
        std::fs::read_dir(apart.spill.dir.as_path())
            .expect("the spill folder")
            .count(),
        0,
        "partitions left behind"
    );
}

/// The catalogue a shop's published conversion model records.
fn catalogue(models: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(models.join("convert/1/manifest.json")).expect("manifest");
    let manifest: serde_json::Value = serde_json::from_str(&text).expect("a JSON manifest");
    assert!(
        manifest["catalogue"].is_object(),
        "no catalogue: {manifest}"
    );
    manifest["catalogue"].clone()
}

/// The whole stream's class counts a census reports, or a panic naming what it said.
fn whole_stream(report: &TrainReport) -> [usize; 4] {
    match &report.sample.statistics {
        super::prepare::Statistics::WholeStream {
            training_converting,
            training_not_converting,
            validation_converting,
            validation_not_converting,
            grouped_on_disk: None,
        } => [
            *training_converting,
            *training_not_converting,
            *validation_converting,
            *validation_not_converting,
        ],
        other => panic!("not the whole stream's: {other:?}"),
    }
}

/// Quick settings training on `clicks` read by a shop's schema: the UCI shop's own table
/// (`schemas/uci.toml`), so the synthetic UCI files serve, prices whole (their sums exact
/// in any order) and categories learned as a shop's are.
fn quick_shop_config(dir: &std::path::Path, clicks: &str) -> TrainConfig {
    TrainConfig {
        schema: Some(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/uci.toml")),
        min_sessions_per_class: 5,
        ..quick_config(dir, clicks)
    }
}

#[test]
fn a_sample_of_a_shops_file_learns_its_catalogue_class_counts_and_product_rates_from_every_session()
{
    let clicks = synthetic_clickstream(900, 7, 4, 3);
    let dirs: Vec<tempfile::TempDir> = (0..4)
        .map(|_| tempfile::tempdir().expect("a dir"))
        .collect();
    let fraction = crate::domain::sample::Fraction::new(0.6).expect("a fraction");
    let every = quick_shop_config(dirs[0].path(), &clicks);
    let sampled = TrainConfig {
        sample_fraction: fraction,
        ..quick_shop_config(dirs[1].path(), &clicks)
    };
    let whole = train(&every).expect("every session trains");
    assert!(
        matches!(whole.sample.statistics, super::prepare::Statistics::AllKept),
        "{:?}",
        whole.sample.statistics
    );
    let report = train(&sampled).expect("the sample trains");
    assert_eq!(report.sample.sessions_read, 900);
    assert!(report.sample.sessions_kept < 900, "{:?}", report.sample);
    // The period, the classes on each side of it, the catalogue and the product table are
    // the whole file's, as the run that kept every session learned them.
    let counts = &whole.sessions;
    assert_eq!(
        whole_stream(&report),
        [
            counts.training_converting,
            counts.training_not_converting,
            counts.validation_converting,
            counts.validation_not_converting
        ]
    );
    assert_eq!(report.validation, whole.validation);
    assert!(report.sessions.validation_converting < counts.validation_converting);
    assert_eq!(catalogue(&sampled.models_dir), catalogue(&every.models_dir));
    assert_eq!(
        product_table(&sampled.models_dir),
        product_table(&every.models_dir)
    );
    let md = std::fs::read_to_string(sampled.models_dir.join("report.md")).expect("report.md");
    assert!(
        md.contains("counted over the whole stream, kept or not"),
        "{md}"
    );

    // Rows apart, grouped on disk in several partitions: the sorted file's weights.
    let spill = tempfile::tempdir().expect("a dir");
    let apart = TrainConfig {
        sample_fraction: fraction,
        spill: crate::reader::spill::SpillOptions {
            dir: spill.path().to_owned(),
            budget: 64 * 1024,
        },
        ..quick_shop_config(dirs[2].path(), &shuffled(&clicks, 8))
    };
    let shuffled_report = train(&apart).expect("the shuffled sample trains");
    assert_eq!(whole_stream(&shuffled_report), whole_stream(&report));
    assert!(
        weights(&apart.models_dir) == weights(&sampled.models_dir),
        "the shuffled sample's weights differ from the sorted file's"
    );
    assert_eq!(
        std::fs::read_dir(spill.path())
            .expect("the spill folder")
            .count(),
        0,
        "partitions left behind"
    );

    // A budget of sessions counts every session's key, as the reading without a census
    // does: the lowest 500 hashes kept of the 900 read.
    let budget = TrainConfig {
        max_sessions: 500,
        ..quick_shop_config(dirs[3].path(), &shuffled(&clicks, 5))
    };
    let report = train(&budget).expect("the budget's sample trains");
    assert_eq!(
        (report.sample.sessions_read, report.sample.sessions_kept),
        (900, 500)
    );
    assert_eq!(catalogue(&budget.models_dir), catalogue(&every.models_dir));
}

#[test]
fn a_sample_of_a_shop_with_an_outcomes_file_learns_its_catalogue_from_every_session_only() {
    let clicks = synthetic_clickstream(900, 7, 4, 3);
    let (a, b) = (
        tempfile::tempdir().expect("a dir"),
        tempfile::tempdir().expect("a dir"),
    );
    let every = quick_shop_config(a.path(), &clicks);
    // The proxy's outcomes written as an order system would hand them over.
    let read = crate::labels::read_labelled(&every.data, None, Default::default())
        .expect("the clicks read");
    let mut orders = String::from("session_id,converted,revenue\n");
    for s in &read.sessions {
        let _ = writeln!(
            orders,
            "{},{},{}",
            s.session.name(),
            u8::from(s.outcome.converted),
            s.outcome.revenue
        );
    }
    let outcomes = b.path().join("orders.csv");
    std::fs::write(&outcomes, orders).expect("write the outcomes");
    let sampled = TrainConfig {
        sample_fraction: crate::domain::sample::Fraction::new(0.6).expect("a fraction"),
        outcomes: Some(outcomes.clone()),
        ..quick_shop_config(b.path(), &clicks)
    };
    let with_orders = TrainConfig {
        outcomes: Some(outcomes),
        ..every
    };
    train(&with_orders).expect("every session trains");
    let report = train(&sampled).expect("the sample trains");
    match &report.sample.statistics {
        super::prepare::Statistics::KeptOnly { why } => assert!(
            why.contains("--outcomes") && why.contains("catalogue was learned from every session"),
            "{why}"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        catalogue(&sampled.models_dir),
        catalogue(&with_orders.models_dir)
    );
}

#[test]
fn a_shop_schema_whose_passthrough_column_would_clash_with_an_answer_is_refused_before_reading() {
    let dir = tempfile::tempdir().expect("a dir");
    let uci = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/uci.toml"),
    )
    .expect("the UCI schema");
    for (name, clash) in [
        // A flat answer's column, in another case: DuckDB and Spark compare names so.
        (
            "Model_Version",
            "\"model_version\" is a column of the answers' CSV and Parquet rows",
        ),
        ("convert.probability", "\"convert.probability\" is a column"),
        ("clicks", "\"clicks\" is a member of every JSON session"),
    ] {
        let passthrough =
            format!("[[passthrough]]\nname = \"{name}\"\ncolumn = \"country\"\n\n[outcome]");
        let schema = dir.path().join(format!("{name}.toml"));
        std::fs::write(&schema, uci.replacen("[outcome]", &passthrough, 1)).expect("write");
        let config = TrainConfig {
            schema: Some(schema),
            // No data: the schema is refused before any is read.
            ..quick_config(dir.path(), "")
        };
        let err = train(&config).expect_err("refused").to_string();
        assert!(
            err.contains(&format!("passthrough {name:?}: {clash}"))
                && err.contains("another `name`"),
            "{err}"
        );
    }
}
