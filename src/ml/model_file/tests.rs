//! Round trips and refusals of the model file format.

use super::*;
use crate::domain::session::tests::click;
use crate::domain::{Session, SessionId};
use crate::features::{self, Plan};
use crate::labels::LabelSource;
use crate::ml::classifier::ConvertModel;
use crate::ml::classifier::{BoostingParams, Classifier};
use crate::ml::regressor::RevenueModel;
use crate::ml::segment::SegmentModel;
use ndarray::Array2;
use std::fs;
use std::path::{Path, PathBuf};

/// A small boosted conversion model on a feature matrix made from hand-made sessions.
fn small_model() -> (Model, Vec<Session>) {
    let products = ["A1", "B2", "C3", "P4"];
    let sessions: Vec<Session> = (0..40)
        .map(|i| {
            let clicks = (0..(1 + i % 5))
                .map(|j| {
                    click(
                        j + 1,
                        products[((i + j) % 4) as usize],
                        10.0 + (i * 7 + j) as f64,
                    )
                })
                .collect();
            let id = SessionId::parse(&format!("s{i}")).expect("valid id");
            Session::new(id, clicks).expect("valid session").0
        })
        .collect();
    let rows: Vec<f64> = sessions
        .iter()
        .flat_map(|s| {
            features::extract(Plan::uci(), s.clicks(), &features::ProductStats::default())
        })
        .collect();
    // Stored as training stores its rows.
    let rows: Vec<f32> = rows.into_iter().map(|v| v as f32).collect();
    let x = Array2::from_shape_vec((sessions.len(), Plan::uci().len()), rows).expect("shape");
    let y: Vec<bool> = (0..sessions.len()).map(|i| i % 3 == 0).collect();
    let params = BoostingParams {
        iterations: 5,
        learning_rate: 0.3,
        max_depth: 2,
        min_leaf_weight: 1.0,
        l2: 1.0,
        subsample: 1.0,
        colsample_bytree: 1.0,
        max_leaves: None,
        seed: 1,
    };
    let classifier = Classifier::fit_boosting(&params, x.view(), &y, &vec![1.0; y.len()])
        .expect("the tiny model fits");
    (
        Model::Convert(ConvertModel {
            classifier,
            log_odds_shift: -0.5,
            products: features::ProductStats::default(),
        }),
        sessions,
    )
}

fn manifest(model: &Model, sessions: &[Session]) -> Manifest {
    let golden: Vec<&Session> = sessions.iter().take(3).collect();
    Manifest {
        format_version: FORMAT_VERSION,
        name: model.name(),
        version: 0,
        created_at: "2026-11-25T00:00:00Z".into(),
        trainer_version: "test".into(),
        algorithm: "test".into(),
        hyperparameters: serde_json::Value::Null,
        feature_schema: Plan::uci().schema(),
        click_schema: crate::domain::schema_file::SchemaRecord::uci(),
        catalogue: None,
        feature_plan: None,
        training: TrainingData {
            file_name: "t.csv".into(),
            sha256: String::new(),
            clicks: 0,
            sessions: 0,
            examples: 0,
            label_source: LabelSource::BasketProxy,
            validation_period: None,
        },
        validation: serde_json::Value::Null,
        threshold: Some(0.5),
        score_distribution: None,
        tiers: None,
        personas: None,
        golden: model.golden_cases(Plan::uci(), &golden),
        weights_file: String::new(),
        weights_sha256: String::new(),
    }
}

fn published() -> (tempfile::TempDir, PathBuf, Vec<Session>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (model, sessions) = small_model();
    let (version, path) =
        publish(dir.path(), manifest(&model, &sessions), &model).expect("publish");
    assert_eq!(version, 1);
    (dir, path, sessions)
}

fn edit_manifest(path: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let file = path.join(MANIFEST_FILE);
    let mut value: serde_json::Value =
        serde_json::from_slice(&fs::read(&file).expect("read manifest")).expect("json");
    edit(&mut value);
    fs::write(&file, serde_json::to_vec(&value).expect("json")).expect("write manifest");
}

#[test]
fn a_published_model_loads_back_and_gives_the_same_outputs() {
    let (dir, path, sessions) = published();
    let (original, _) = small_model();
    let loaded = load::<ConvertModel>(&path).expect("the version loads");
    assert_eq!(loaded.manifest.version, 1);
    for s in &sessions {
        assert_eq!(
            loaded.model.session_outputs(Plan::uci(), s.clicks()),
            original.outputs(Plan::uci(), s.clicks())
        );
    }
    // Each publish takes the next number; no staging folder is left behind.
    let (model, sessions) = small_model();
    let (v2, _) = publish(dir.path(), manifest(&model, &sessions), &model).expect("publish");
    assert_eq!(v2, 2);
    assert_eq!(versions(dir.path(), ModelName::Convert), vec![1, 2]);
    let entries = fs::read_dir(dir.path().join("convert"))
        .expect("list")
        .count();
    assert_eq!(entries, 2);
    let latest = load_version::<ConvertModel>(dir.path(), None).expect("latest loads");
    assert_eq!(latest.manifest.version, 2);
}

#[test]
fn percentiles_place_a_score_among_the_training_scores() {
    let d = ScoreDistribution {
        quantiles: (0..=100).map(|i| f64::from(i) / 100.0).collect(),
    };
    assert_eq!(d.percentile(-1.0), 0.0);
    assert_eq!(d.percentile(0.505), 50.0);
    assert_eq!(d.percentile(2.0), 100.0);
}

#[test]
fn a_changed_weights_file_fails_the_checksum() {
    let (_dir, path, _) = published();
    let weights = path.join(WEIGHTS_FILE);
    let mut bytes = fs::read(&weights).expect("read weights");
    bytes.push(b' ');
    fs::write(&weights, bytes).expect("write weights");
    let err = load::<ConvertModel>(&path)
        .err()
        .expect("checksum must fail");
    assert!(matches!(err, LoadError::Checksum { .. }), "{err}");
}

#[test]
fn a_model_carries_its_click_schema_and_one_the_service_cannot_check_is_refused() {
    let (_dir, path, _) = published();
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(path.join(MANIFEST_FILE)).expect("read the manifest"))
            .expect("a JSON manifest");
    assert_eq!(
        manifest["click_schema"]["text"].as_str(),
        Some(crate::domain::schema_file::UCI_FILE),
        "a trained model records the schema it was trained on"
    );
    // A manifest written before schemas were recorded was trained on the UCI shop's.
    edit_manifest(&path, |m| {
        m.as_object_mut().map(|o| o.remove("click_schema"));
    });
    assert!(load::<ConvertModel>(&path).is_ok());
    let narrowed = crate::domain::schema_file::UCI_FILE.replace("max = 100000\n", "max = 500\n");
    edit_manifest(&path, |m| {
        m["click_schema"] = serde_json::json!({"name": "narrow", "text": narrowed});
    });
    let err = load::<ConvertModel>(&path)
        .err()
        .expect("another schema must fail");
    assert!(matches!(err, LoadError::ClickSchema { .. }), "{err}");
    assert!(err.to_string().contains("\"narrow\""), "{err}");
    assert!(err.to_string().contains("\"order\""), "{err}");
    edit_manifest(&path, |m| {
        m["click_schema"] = serde_json::json!({"name": "broken", "text": "schema = 1"});
    });
    let err = load::<ConvertModel>(&path)
        .err()
        .expect("an unreadable schema must fail");
    assert!(
        err.to_string().contains("\"broken\" cannot be used here"),
        "{err}"
    );
}

#[test]
fn a_different_feature_schema_is_refused() {
    let (_dir, path, _) = published();
    edit_manifest(&path, |m| {
        m["feature_schema"]["names"][3] = "something_else".into()
    });
    let err = load::<ConvertModel>(&path).err().expect("schema must fail");
    assert!(matches!(err, LoadError::Schema { .. }), "{err}");
    assert!(err.to_string().contains("something_else"), "{err}");
    edit_manifest(&path, |m| m["feature_schema"]["version"] = 999.into());
    assert!(matches!(
        load::<ConvertModel>(&path),
        Err(LoadError::Schema { .. })
    ));
}

#[test]
fn a_golden_case_that_no_longer_holds_is_refused() {
    let (_dir, path, _) = published();
    edit_manifest(&path, |m| m["golden"][0]["expected"][0] = 0.123456.into());
    let err = load::<ConvertModel>(&path).err().expect("golden must fail");
    assert!(matches!(err, LoadError::Golden { .. }), "{err}");
}

#[test]
fn wrong_model_and_unreadable_manifests_are_refused() {
    let (dir, path, _) = published();
    assert!(matches!(
        load::<SegmentModel>(&path),
        Err(LoadError::WrongModel { .. })
    ));
    fs::write(path.join(MANIFEST_FILE), b"{not json").expect("write");
    assert!(matches!(
        load::<ConvertModel>(&path),
        Err(LoadError::Manifest { .. })
    ));
    assert!(matches!(
        load_version::<RevenueModel>(dir.path(), None),
        Err(LoadError::NoVersion { .. })
    ));
}

#[test]
fn tiers_that_contradict_the_decision_threshold_are_refused() {
    let (_dir, path, _) = published();
    edit_manifest(&path, |m| {
        m["threshold"] = 0.5.into();
        m["tiers"] = serde_json::json!({"high": 0.7, "medium": 0.6, "rule": "percentiles"});
    });
    match load::<ConvertModel>(&path) {
        Err(LoadError::Inconsistent { problem, .. }) => {
            assert!(problem.contains("decision threshold is 0.5"), "{problem}")
        }
        Err(e) => panic!("refused for another reason: {e}"),
        Ok(_) => panic!("tiers starting above the threshold were accepted"),
    }
}

#[test]
fn tiers_built_around_the_threshold_load() {
    let (_dir, path, _) = published();
    let distribution = ScoreDistribution {
        quantiles: (0..=100).map(|i| f64::from(i) / 100.0).collect(),
    };
    let tiers = Tiers::around_threshold(0.5, &distribution);
    assert_eq!((tiers.medium, tiers.high), (0.5, 0.9));
    let high_threshold = Tiers::around_threshold(0.95, &distribution);
    assert_eq!((high_threshold.medium, high_threshold.high), (0.95, 0.95));
    edit_manifest(&path, |m| {
        m["threshold"] = 0.5.into();
        m["tiers"] = serde_json::to_value(&tiers).expect("json");
    });
    load::<ConvertModel>(&path).expect("tiers around the threshold load");
}

#[test]
fn weights_read_back_as_written_and_must_name_their_kind_first() {
    let (model, _) = small_model();
    let text = serde_json::to_string(&model).expect("json");
    assert!(
        text.starts_with(r#"{"model":"convert","#),
        "{}",
        &text[..40]
    );
    let back: Model = serde_json::from_str(&text).expect("reads back");
    assert_eq!(serde_json::to_string(&back).expect("json"), text);

    let mut value: serde_json::Value = serde_json::from_str(&text).expect("json");
    let fields = value.as_object_mut().expect("a map");
    let kind = fields.remove("model").expect("the kind");
    fields.insert("model".to_owned(), kind);
    let later = serde_json::to_string(&value).expect("json");
    let err = serde_json::from_str::<Model>(&later)
        .err()
        .expect("refused");
    assert!(
        err.to_string().contains(
            "the first field must be `model`, the model's kind (one of `convert`, `revenue`, \
             `segment`), not `classifier`"
        ),
        "{err}"
    );
    let unknown = text.replacen(r#""model":"convert""#, r#""model":"upsell""#, 1);
    let err = serde_json::from_str::<Model>(&unknown)
        .err()
        .expect("refused");
    assert!(err.to_string().contains("upsell"), "{err}");
}
