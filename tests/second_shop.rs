//! The second shop's generator (`examples/second_shop.rs`): its files are deterministic and
//! well formed, and its truth is the exact posterior it claims to be.

#[path = "../examples/second_shop.rs"]
#[allow(
    dead_code,
    reason = "the example's command line and main are not what these tests call"
)]
mod second_shop;

use std::collections::HashSet;
use std::path::Path;

use second_shop::*;

const FILES: [&str; 5] = [
    "clicks.csv",
    "orders.csv",
    "truth.csv",
    "schema.toml",
    "truth.json",
];

fn read(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name} was not written: {e}"))
}

#[test]
fn the_same_seed_gives_byte_identical_files_and_another_seed_does_not() {
    let (a, b, c) = (
        tempfile::tempdir().expect("a temporary folder can be made"),
        tempfile::tempdir().expect("a temporary folder can be made"),
        tempfile::tempdir().expect("a temporary folder can be made"),
    );
    generate(1500, 7)
        .write(a.path(), 7)
        .expect("the files are written");
    generate(1500, 7)
        .write(b.path(), 7)
        .expect("the files are written");
    generate(1500, 8)
        .write(c.path(), 8)
        .expect("the files are written");
    for name in FILES {
        assert!(
            read(a.path(), name) == read(b.path(), name),
            "{name} differs between two runs with one seed"
        );
    }
    assert!(read(a.path(), "clicks.csv") != read(c.path(), "clicks.csv"));
    assert_eq!(read(a.path(), "schema.toml"), SCHEMA.as_bytes());
}

#[test]
fn each_sessions_rows_are_together_in_time_order_within_one_day_with_one_device_and_customer() {
    let dir = tempfile::tempdir().expect("a temporary folder can be made");
    let shop = generate(3000, 2026);
    shop.write(dir.path(), 2026).expect("the files are written");
    let mut reader =
        csv::Reader::from_path(dir.path().join("clicks.csv")).expect("clicks.csv opens");
    assert_eq!(
        reader.headers().expect("clicks.csv has a header"),
        vec![
            "session_id",
            "event_time",
            "sku",
            "category",
            "price",
            "device",
            "customer_id"
        ]
    );
    let mut finished = HashSet::new();
    let mut current: Option<(
        String,
        chrono::DateTime<chrono::FixedOffset>,
        String,
        String,
    )> = None;
    let mut rows = 0;
    for record in reader.records() {
        let r = record.expect("every row of clicks.csv reads");
        rows += 1;
        let time = chrono::DateTime::parse_from_rfc3339(&r[1]).expect("event_time is RFC 3339");
        assert!(r[1].ends_with('Z'), "event_time is UTC: {}", &r[1]);
        assert!(r[2].starts_with("SKU-"), "sku {}", &r[2]);
        assert_eq!(
            r[3].split('/').count(),
            3,
            "category {} is a leaf path",
            &r[3]
        );
        assert!(
            r[4].parse::<f64>().is_ok_and(|p| p > 0.0),
            "price {}",
            &r[4]
        );
        assert!(DEVICES.contains(&&r[5]), "device {}", &r[5]);
        match &current {
            Some((id, before, device, customer)) if *id == r[0] => {
                assert!(
                    time > *before,
                    "{id}: clicks out of time order at row {rows}"
                );
                assert_eq!(time.date_naive(), before.date_naive(), "{id} crosses a day");
                assert_eq!((device.as_str(), customer.as_str()), (&r[5], &r[6]));
            }
            _ => {
                if let Some((id, ..)) = current.take() {
                    finished.insert(id);
                }
                assert!(
                    !finished.contains(&r[0]),
                    "{}'s rows are not together",
                    &r[0]
                );
            }
        }
        current = Some((r[0].to_owned(), time, r[5].to_owned(), r[6].to_owned()));
    }
    finished.extend(current.map(|c| c.0));
    assert_eq!(finished.len(), 3000);
    assert_eq!(
        rows,
        shop.sessions.iter().map(|s| s.clicks.len()).sum::<usize>()
    );

    // The outcomes file is one the trainer accepts, with a revenue for every conversion.
    let outcomes = clickstream::labels::read_outcomes(&dir.path().join("orders.csv"))
        .expect("orders.csv is an outcomes file the trainer reads");
    assert_eq!(outcomes.by_session.len(), 3000);
    assert!(outcomes
        .by_session
        .values()
        .all(|o| o.converted == (o.revenue > 0.0)));
    let truth_rows = std::fs::read_to_string(dir.path().join("truth.csv"))
        .expect("truth.csv is written")
        .lines()
        .count();
    assert_eq!(
        truth_rows,
        rows + 1,
        "one truth row per prefix, after the header"
    );
}

#[test]
fn the_known_best_separates_buyers_from_browsers_clearly() {
    let shop = generate(5000, 2026);
    let auc = best_auc(&shop.catalogue, &shop.sessions).expect("both classes occur");
    assert!(auc > 0.78, "the known best ROC-AUC is only {auc}");
    let truth = shop.truth(2026);
    assert!(
        (0.05..=0.15).contains(&truth.conversion_rate),
        "conversion rate {}",
        truth.conversion_rate
    );
}

/// P(converted | the prefix) from the joint probability of the prefix under each intent,
/// summed over every session length the prefix allows, with every term recomputed from the
/// parameters and the catalogue's raw rows rather than from the generator's helpers.
fn brute_force(catalogue: &Catalogue, device: usize, clicks: &[Click]) -> f64 {
    let t = clicks.len();
    let day = day_of(clicks[0].time);
    let popularity: f64 = LEAVES.iter().map(|l| l.1).sum();
    let subtree = |leaf: usize| LEAVES[leaf].0.rsplit_once('/').map(|(s, _)| s);
    let products = &catalogue.products;
    let mean_price = |of: Option<&str>| {
        let peers: Vec<f64> = products
            .iter()
            .filter(|o| subtree(o.leaf) == of)
            .map(|o| o.price)
            .collect();
        peers.iter().sum::<f64>() / peers.len() as f64
    };
    let means: Vec<f64> = (0..LEAVES.len()).map(|l| mean_price(subtree(l))).collect();
    let mut joint = [0.0; 2];
    for (z, joint) in joint.iter_mut().enumerate() {
        let c = CONTINUE[z];
        let length: f64 = (t..=MAX_CLICKS)
            .map(|k| {
                if k < MAX_CLICKS {
                    c.powi(k as i32 - 1) * (1.0 - c)
                } else {
                    c.powi(k as i32 - 1)
                }
            })
            .sum();
        let mut p = [1.0 - INTENT_SHARE, INTENT_SHARE][z] * length * DEVICE[z][device];
        for (i, click) in clicks.iter().enumerate() {
            let leaf = products[click.product].leaf;
            p *= if i == 0 {
                LEAVES[leaf].1 / popularity
            } else {
                let from = products[clicks[i - 1].product].leaf;
                let inside: f64 = (0..LEAVES.len())
                    .filter(|&l| subtree(l) == subtree(from))
                    .map(|l| LEAVES[l].1)
                    .sum();
                let stay = if subtree(leaf) == subtree(from) {
                    LEAVES[leaf].1 / inside
                } else {
                    0.0
                };
                let gap = click.time - clicks[i - 1].time;
                let (b, (lo, hi)) = GAP_BUCKETS
                    .iter()
                    .copied()
                    .enumerate()
                    .find(|(_, (lo, hi))| *lo <= gap && gap <= *hi)
                    .expect("every gap the generator draws is in a bucket");
                (STAY[z] * stay + (1.0 - STAY[z]) * LEAVES[leaf].1 / popularity)
                    * (GAP[z][b] / (hi - lo + 1) as f64)
            };
            let weight = |q: &Product| {
                let new = q.launch_day >= 0 && day - q.launch_day < NEW_DAYS;
                (q.price / means[q.leaf]).powf(PRICE_TASTE[z])
                    * if new { NEW_TASTE[z] } else { 1.0 }
            };
            let offered: f64 = products
                .iter()
                .filter(|q| q.leaf == leaf && q.launch_day <= day)
                .map(weight)
                .sum();
            p *= weight(&products[click.product]) / offered;
        }
        *joint = p;
    }
    (joint[0] * CONVERT[0] + joint[1] * CONVERT[1]) / (joint[0] + joint[1])
}

#[test]
fn best_score_is_the_brute_force_posterior_of_every_prefix() {
    let shop = generate(400, 11);
    // The longest sessions first: they cross subtrees, days with launches and many gaps.
    let mut sessions: Vec<&Session> = shop.sessions.iter().collect();
    sessions.sort_by_key(|s| std::cmp::Reverse(s.clicks.len()));
    let mut compared = 0;
    for s in sessions
        .iter()
        .take(12)
        .chain(sessions.iter().rev().take(3))
    {
        let fast = best_scores(&shop.catalogue, s.device, &s.clicks);
        for t in 1..=s.clicks.len() {
            let slow = brute_force(&shop.catalogue, s.device, &s.clicks[..t]);
            let difference = (fast[t - 1] - slow).abs();
            assert!(
                difference <= 1e-9 * slow,
                "{} after {t} clicks: {} against the brute force's {slow}",
                s.id,
                fast[t - 1]
            );
            compared += 1;
        }
    }
    assert!(compared > 100, "only {compared} prefixes compared");
}

#[test]
fn the_best_score_is_calibrated() {
    // The score of a prefix is P(converted | the prefix) among sessions that reach it, so
    // over all prefixes each band of scores converts at its mean score.
    let shop = generate(20_000, 5);
    let mut prefixes: Vec<(f64, usize)> = shop
        .sessions
        .iter()
        .enumerate()
        .flat_map(|(i, s)| {
            best_scores(&shop.catalogue, s.device, &s.clicks)
                .into_iter()
                .map(move |score| (score, i))
        })
        .collect();
    prefixes.sort_by(|a, b| a.0.total_cmp(&b.0));
    for band in prefixes.chunks(prefixes.len().div_ceil(5)) {
        let m = band.len() as f64;
        let predicted = band.iter().map(|b| b.0).sum::<f64>() / m;
        let observed = band.iter().filter(|b| shop.sessions[b.1].converted).count() as f64 / m;
        // A session's prefixes move together: count the band's sessions, not its prefixes.
        let sessions = band.iter().map(|b| b.1).collect::<HashSet<_>>().len() as f64;
        let tolerance = 4.0 * (predicted * (1.0 - predicted) / sessions).sqrt();
        assert!(
            (predicted - observed).abs() <= tolerance,
            "scores {:.3}..{:.3}: predicted {predicted:.4}, observed {observed:.4}",
            band[0].0,
            band[band.len() - 1].0
        );
    }
}

#[test]
fn the_project_reads_the_generated_shop_by_its_schema_file_alone() {
    use clickstream::domain::shop::ShopSchema;
    use clickstream::reader::shop::read_shop_clickstream;
    let dir = tempfile::tempdir().expect("a temporary folder can be made");
    let shop = generate(2000, 11);
    shop.write(dir.path(), 11).expect("the files are written");
    let text = String::from_utf8(read(dir.path(), "schema.toml")).expect("UTF-8");
    let schema = ShopSchema::parse(&text).expect("the shipped schema compiles");
    let read = read_shop_clickstream(
        &dir.path().join("clicks.csv"),
        &schema,
        clickstream::reader::ReadOptions::default(),
    )
    .expect("every row is valid by the schema");
    let mut truth = csv::Reader::from_path(dir.path().join("truth.csv")).expect("truth.csv opens");
    let sessions: HashSet<String> = truth
        .records()
        .map(|r| r.expect("a truth row")[0].to_owned())
        .collect();
    assert_eq!(read.sessions.len(), sessions.len());
    assert_eq!(read.stats.invalid_rows_skipped, 0);
    for session in &read.sessions {
        assert!(
            sessions.contains(&session.id),
            "{} is not in truth.csv",
            session.id
        );
        assert!(session.clicks.windows(2).all(|w| w[0].time <= w[1].time));
        assert!(session
            .clicks
            .iter()
            .all(|c| c.category.matches('/').count() <= 1));
        assert_eq!(session.passthrough.len(), 1);
    }
}

#[test]
fn the_generated_shop_is_labelled_by_its_orders_file_and_refused_without_it() {
    use clickstream::domain::shop::ShopSchema;
    use clickstream::labels::{read_labelled_shop, DataError};
    let dir = tempfile::tempdir().expect("a temporary folder can be made");
    generate(2000, 12)
        .write(dir.path(), 12)
        .expect("the files are written");
    let schema = ShopSchema::parse(SCHEMA).expect("the shipped schema compiles");
    let clicks = dir.path().join("clicks.csv");
    let options = clickstream::reader::ReadOptions::default();
    let refused = read_labelled_shop(&clicks, None, &schema, options).expect_err("no orders");
    assert!(matches!(refused, DataError::NoOutcomes { .. }), "{refused}");
    assert!(refused.to_string().contains("--outcomes"), "{refused}");
    let orders = dir.path().join("orders.csv");
    let (data, catalogue) =
        read_labelled_shop(&clicks, Some(&orders), &schema, options).expect("labelled");
    let converted = data.sessions.iter().filter(|s| s.outcome.converted).count();
    assert!(converted > 0 && converted < data.sessions.len());
    // Every session's prefixes are valid examples with an orders file.
    assert!(data
        .sessions
        .iter()
        .all(|s| s.valid_prefixes == s.session.clicks.len()));
    assert!(!catalogue.categories.is_empty() && catalogue.categories.len() <= 12);
    assert_eq!(catalogue.attributes.len(), 1, "device");
}

#[test]
fn a_sample_of_the_generated_shop_is_coded_by_the_catalogue_of_every_click_wherever_its_rows_are() {
    use clickstream::domain::sample::{Budget, Fraction, Sample, SessionHash};
    use clickstream::domain::shop::ShopSchema;
    use clickstream::labels::{count_shop_sessions, read_counted_shop, read_labelled_shop};
    use clickstream::reader::spill::SpillOptions;
    let dir = tempfile::tempdir().expect("a temporary folder can be made");
    generate(2000, 12)
        .write(dir.path(), 12)
        .expect("the files are written");
    let schema = ShopSchema::parse(SCHEMA).expect("the shipped schema compiles");
    let (clicks, orders) = (dir.path().join("clicks.csv"), dir.path().join("orders.csv"));
    let options = clickstream::reader::ReadOptions::default();
    let (all, catalogue) =
        read_labelled_shop(&clicks, Some(&orders), &schema, options).expect("labelled");
    let sample = Sample {
        hash: SessionHash::default(),
        fraction: Fraction::new(0.3).expect("a fraction"),
    };
    let spill = SpillOptions::default();
    let counted = count_shop_sessions(
        &clicks,
        &schema,
        (options, &spill),
        sample,
        Budget::NONE,
        None,
        None,
    )
    .expect("the first pass reads");
    // Learned over every click in the order a reading of every session learns them.
    assert_eq!(counted.catalogue.as_ref(), Some(&catalogue));
    assert_eq!(counted.counted.sessions_read, Some(all.sessions.len()));
    let (kept, coded_by) = read_counted_shop(
        &clicks,
        Some(&orders),
        &schema,
        (options, &spill),
        &counted,
        None,
        None,
    )
    .expect("the second pass reads");
    assert_eq!(coded_by, catalogue);
    assert!(!kept.sessions.is_empty() && kept.sessions.len() < all.sessions.len());
    assert_eq!(kept.sessions_read, all.sessions.len());
    // Each kept session is coded and labelled as the reading of every session codes it.
    for s in &kept.sessions {
        let same = all
            .sessions
            .iter()
            .find(|a| a.session.id == s.session.id)
            .expect("a kept session is one of the file's");
        assert_eq!(same.session, s.session);
        assert_eq!(same.outcome, s.outcome);
    }

    // Rows shuffled and grouped on disk in several partitions: the same sessions' keys,
    // the same vocabularies, and each mean price the same but for the order its sum was
    // taken in (sessions come partition by partition).
    let shuffled = dir.path().join("shuffled.csv");
    let text = std::fs::read_to_string(&clicks).expect("clicks.csv reads");
    let mut lines: Vec<&str> = text.lines().collect();
    let header = lines.remove(0);
    {
        use rand::seq::SliceRandom;
        use rand::SeedableRng;
        lines.shuffle(&mut rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(12));
    }
    std::fs::write(&shuffled, format!("{header}\n{}\n", lines.join("\n")))
        .expect("the shuffled rows are written");
    let folder = tempfile::tempdir().expect("a temporary folder can be made");
    let small = SpillOptions {
        dir: folder.path().to_owned(),
        budget: 64 * 1024,
    };
    let apart = count_shop_sessions(
        &shuffled,
        &schema,
        (options, &small),
        sample,
        Budget::NONE,
        None,
        None,
    )
    .expect("the shuffled rows are grouped on disk");
    assert_eq!(apart.counted.sessions_read, Some(all.sessions.len()));
    assert_eq!(apart.counted.sample, counted.counted.sample);
    let grouped = apart.catalogue.expect("a catalogue of every click");
    assert_eq!(grouped.categories, catalogue.categories);
    assert_eq!(grouped.attributes, catalogue.attributes);
    assert_eq!(
        grouped.category_prices.keys().collect::<Vec<_>>(),
        catalogue.category_prices.keys().collect::<Vec<_>>()
    );
    for (name, price) in &grouped.category_prices {
        let sorted = catalogue.category_prices[name];
        assert!(
            (price - sorted).abs() <= 1e-9 * sorted.abs(),
            "{name}: {price} against {sorted}"
        );
    }
    assert!((grouped.mean_price - catalogue.mean_price).abs() <= 1e-9 * catalogue.mean_price);
    assert_eq!(
        std::fs::read_dir(folder.path())
            .expect("the spill folder")
            .count(),
        0,
        "partitions left behind"
    );
}
