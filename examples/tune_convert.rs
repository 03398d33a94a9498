//! Hyperparameter exploration for the conversion booster on the contract's split (train
//! April-June, validate July). Prints session-weighted July ROC-AUC and log loss for each
//! setting in a small grid; the trainer's defaults come from runs of this.
//!
//! cargo run --release --example tune_convert -- ../shared/data/e-shop-clothing-2008-apr-jul.csv
//!
//! With `DUMP_DIR=dir` it writes the training and validation feature rows (with label,
//! weight and session) to `dir/fit.csv` and `dir/valid.csv` instead, to compare learners
//! from other ecosystems on exactly these features.

use clickstream::dataset::PrefixSet;
use clickstream::labels;
use clickstream::ml::classifier::{rebalance, BoostingParams, Classifier, Imbalance};
use clickstream::ml::metrics;
use clickstream::reader::ReadOptions;
use clickstream::train::{split, TrainConfig};

fn main() -> anyhow::Result<()> {
    let path = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: tune_convert FILE"))?;
    let data = labels::read_labelled(path.as_ref(), None, ReadOptions::default())?;
    let config = TrainConfig::default();
    let split = split(&data.sessions, None, config.min_sessions_per_class)?;
    eprintln!("validation: {}", split.validation.words);
    let (fit, valid) = (split.fit, split.valid);
    // As training stores them (f32).
    let (fit_set, products): (PrefixSet, _) = PrefixSet::build_out_of_fold(
        clickstream::features::Plan::uci(),
        &fit,
        config.folds,
        config.session_hash(),
        None,
        config.product_smoothing,
    );
    let valid_set: PrefixSet =
        PrefixSet::build(clickstream::features::Plan::uci(), &valid, &products);
    if let Some(dir) = std::env::var_os("DUMP_DIR") {
        for (name, set) in [("fit", &fit_set), ("valid", &valid_set)] {
            let mut w =
                csv::Writer::from_path(std::path::Path::new(&dir).join(format!("{name}.csv")))?;
            let mut header: Vec<String> = clickstream::features::Plan::uci().names().to_vec();
            header.extend(["y".into(), "w".into(), "sid".into()]);
            w.write_record(&header)?;
            for i in 0..set.len() {
                let mut row: Vec<String> =
                    set.features.row(i).iter().map(|v| v.to_string()).collect();
                row.push((set.converted[i] as u8).to_string());
                row.push(set.weight[i].to_string());
                row.push(set.session[i].to_string());
                w.write_record(&row)?;
            }
        }
        return Ok(());
    }
    // The trainer's own candidates, then leaf-wise variants that were tried and not kept.
    let shipped = config.boosting;
    let base = shipped[0].clone();
    let mut grid = shipped;
    grid.extend([
        BoostingParams {
            iterations: 400,
            learning_rate: 0.03,
            max_depth: 8,
            min_leaf_weight: 15.0,
            max_leaves: Some(15),
            ..base.clone()
        },
        BoostingParams {
            iterations: 400,
            learning_rate: 0.02,
            max_depth: 8,
            min_leaf_weight: 40.0,
            max_leaves: Some(8),
            ..base.clone()
        },
    ]);
    for params in grid {
        let start = std::time::Instant::now();
        let r = rebalance(
            fit_set.features.view(),
            &fit_set.converted,
            &fit_set.weight,
            Imbalance::None,
            1,
        )?;
        let model = Classifier::fit_boosting(&params, r.x.view(), &r.y, &r.w)?;
        let z =
            clickstream::dataset::predict_widened(valid_set.features.view(), |x| model.log_odds(x));
        let p: Vec<f64> = z.iter().map(|z| 1.0 / (1.0 + (-z).exp())).collect();
        println!(
            "AUC {:.4}  log loss {:.4}  {:.1}s  {:?}",
            metrics::roc_auc(&p, &valid_set.converted, &valid_set.weight).unwrap_or(0.0),
            metrics::log_loss(&p, &valid_set.converted, &valid_set.weight),
            start.elapsed().as_secs_f64(),
            params
        );
    }
    Ok(())
}
