//! The extractor's tests: version 1's values by hand, the plan-driven extractor against
//! version 1's hard-coded one and against features from scratch, bit for bit, and every
//! way a plan can be refused.

// Compiled only in tests (mod.rs says so); marked here as well, because the layer check
// in tests/api/architecture.rs reads a file as production code up to its first test marker.
use super::reference::{self, V1Accumulator};
use super::*;
use crate::domain::session::tests::click;
#[cfg(test)]
use crate::domain::ProductId;
use crate::domain::{Click, ProductCode, UCI};

fn uci() -> &'static Plan {
    Plan::uci()
}

fn value(row: &[f64], name: &str) -> f64 {
    row[uci()
        .index_of(name)
        .unwrap_or_else(|| panic!("{name} is a feature"))]
}

#[test]
fn the_uci_plan_is_version_1_in_its_order_and_names() {
    assert_eq!(uci().names(), reference::NAMES);
    assert_eq!(uci().schema().version, 1);
}

#[test]
fn features_of_a_hand_made_session() {
    // 2008-04-01 was a Tuesday; the test clicks are from Poland, location top left,
    // en face, colour beige, page 1, not above average.
    let prefix = [
        click(1, "A1", 10.0),
        click(2, "B2", 20.0),
        click(3, "A1", 10.0),
        click(4, "C3", 60.0),
    ];
    let row = extract(uci(), &prefix, &ProductStats::default());
    assert_eq!(row.len(), uci().len());
    let expect = [
        ("clicks", 4.0),
        ("distinct_products", 3.0),
        ("distinct_product_share", 0.75),
        ("repeat_views", 1.0),
        ("share_trousers", 0.5),
        ("share_skirts", 0.25),
        ("share_blouses", 0.25),
        ("share_sale", 0.0),
        ("distinct_categories", 3.0),
        ("category_switches", 3.0),
        ("price_mean", 25.0),
        ("price_min", 10.0),
        ("price_max", 60.0),
        ("price_spread", 50.0),
        (
            "price_std",
            (((15.0f64).powi(2) * 2.0 + 25.0 + 35.0f64.powi(2)) / 4.0).sqrt(),
        ),
        ("share_above_average_price", 0.0),
        ("page_max", 1.0),
        ("share_profile_photo", 0.0),
        ("distinct_colours", 1.0),
        ("country_poland", 1.0),
        ("country_internet_domain", 0.0),
        ("country_other", 0.0),
        ("weekday", 1.0),
        ("weekend", 0.0),
        ("last_blouses", 1.0),
        ("last_price", 60.0),
        ("last_price_vs_mean", 2.4),
        ("last_top_row", 1.0),
        ("last_location", 1.0),
        ("last_colour", 1.0),
        ("last_seen_before", 0.0),
        ("last_view_count", 1.0),
        ("last_same_category_run", 1.0),
        ("previous_category", 1.0),
        ("previous_price", 10.0),
        ("previous_page", 1.0),
        ("previous_location", 1.0),
        ("previous_same_category", 0.0),
        ("second_previous_category", 2.0),
        ("second_previous_price", 20.0),
        ("page_changes", 0.0),
    ];
    for (name, expected) in expect {
        let got = value(&row, name);
        assert!(
            (got - expected).abs() < 1e-12,
            "{name}: {got} != {expected}"
        );
    }
    let again = extract(uci(), &prefix[..3], &ProductStats::default());
    assert_eq!(value(&again, "last_seen_before"), 1.0);
    assert_eq!(value(&again, "last_view_count"), 2.0);
    assert_eq!(value(&again, "last_same_category_run"), 1.0);
    let first = extract(uci(), &prefix[..1], &ProductStats::default());
    assert_eq!(value(&first, "previous_price"), 0.0);
    assert_eq!(value(&first, "category_switches"), 0.0);
}

#[test]
fn product_rates_are_learned_from_valid_clicks_and_smoothed() {
    use crate::domain::{Session, SessionId};
    use crate::labels::label_sessions;
    let session = |id: &str, clicks| {
        Session::new(SessionId::parse(id).expect("id"), clicks)
            .expect("session")
            .0
    };
    // s1 converts at click 3 (B2 twice); its valid clicks are A1, B2. s2 never converts.
    let (labelled, _) = label_sessions(
        vec![
            session(
                "s1",
                vec![
                    click(1, "A1", 10.0),
                    click(2, "B2", 20.0),
                    click(3, "B2", 20.0),
                ],
            ),
            session("s2", vec![click(1, "A1", 10.0), click(2, "C3", 30.0)]),
        ],
        None,
    )
    .expect("proxy labels");
    let stats = ProductStats::fit(&labelled, 0.0);
    // Valid clicks: A1 (s1), B2 (s1, followed by B2), A1 (s2), C3 (s2).
    assert_eq!(stats.prior_next, 0.25);
    assert_eq!(stats.prior_session, 0.5);
    let code = |c: &str| ProductCode::parse(c).expect("code");
    let rates = |t: &ProductStats, c: &str| {
        t.products()
            .find(|(id, _)| **id == ProductId::Code(code(c)))
            .map(|(_, r)| r)
    };
    assert_eq!(rates(&stats, "B2"), Some([1.0, 1.0]));
    assert_eq!(rates(&stats, "A1"), Some([0.0, 0.5]));
    let smoothed = ProductStats::fit(&labelled, 2.0);
    // B2: (1 + 2 * 0.25) / (1 + 2)
    assert!((rates(&smoothed, "B2").expect("B2")[0] - 0.5).abs() < 1e-12);

    let row = extract(uci(), &[click(1, "A1", 10.0), click(2, "B2", 20.0)], &stats);
    assert_eq!(value(&row, "product_next_rate_last"), 1.0);
    assert_eq!(value(&row, "product_next_rate_previous"), 0.0);
    assert_eq!(value(&row, "product_next_rate_mean"), 0.5);
    assert_eq!(value(&row, "product_next_rate_max"), 1.0);
    assert_eq!(value(&row, "product_session_rate_mean"), 0.75);
    // A product never seen in training gets the priors.
    let unseen = extract(uci(), &[click(1, "P9", 5.0)], &stats);
    assert_eq!(value(&unseen, "product_next_rate_last"), 0.25);
    assert_eq!(value(&unseen, "product_session_rate_last"), 0.5);
}

#[test]
fn an_empty_prefix_gives_zeros() {
    assert!(extract::<Click>(uci(), &[], &ProductStats::default())
        .iter()
        .all(|v| *v == 0.0));
}

/// Every prefix of `clicks`, fed click by click to the plan's accumulator, against
/// version 1's hard-coded accumulator, against a fresh `extract_into` and against
/// `from_scratch`: bit for bit, except `price_std` past the two-pass window, where the
/// streaming update must agree with the two-pass formula to rounding.
fn assert_plan_equals_version_1(clicks: &[Click], products: &ProductStats) {
    let plan = uci();
    let std_at = plan.index_of("price_std").unwrap_or(usize::MAX);
    let mut acc = Accumulator::new(plan, products);
    let mut v1 = V1Accumulator::new(products);
    let [mut incremental, mut old, mut fresh, mut scratch] = [(); 4].map(|_| vec![0.0; plan.len()]);
    for t in 1..=clicks.len() {
        acc.push(&clicks[t - 1]);
        acc.write(&mut incremental);
        v1.push(&clicks[t - 1]);
        v1.write(&mut old);
        extract_into(plan, &clicks[..t], products, &mut fresh);
        reference::from_scratch(&clicks[..t], products, &mut scratch);
        for (i, name) in plan.names().iter().enumerate() {
            let (a, o, f, r) = (incremental[i], old[i], fresh[i], scratch[i]);
            assert_eq!(
                a.to_bits(),
                o.to_bits(),
                "{name} at prefix {t}: {a} != version 1's {o}"
            );
            assert_eq!(a.to_bits(), f.to_bits(), "{name} at prefix {t}: {a} != {f}");
            if i == std_at && t > TWO_PASS_STD_CLICKS {
                assert!(
                    (a - r).abs() <= 1e-9 * r.abs().max(1.0),
                    "{name} at {t}: {a} vs {r}"
                );
            } else {
                assert_eq!(a.to_bits(), r.to_bits(), "{name} at prefix {t}: {a} != {r}");
            }
        }
    }
}

fn generated_sessions(seed: u64) -> Vec<Vec<Click>> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
    let lines = ["A", "B", "C", "P"];
    let mut lengths: Vec<usize> = (0..300).map(|_| rng.gen_range(1..40)).collect();
    // One session longer than the two-pass window of `price_std`.
    lengths.push(TWO_PASS_STD_CLICKS + 300);
    lengths
        .into_iter()
        .map(|len| {
            let country = rng.gen_range(1..=47);
            let day = rng.gen_range(1..=30);
            (0..len)
                .map(|order| {
                    let line = rng.gen_range(0..lines.len());
                    let product = format!("{}{}", lines[line], rng.gen_range(1..6));
                    // Prices with fractions so that sums and means round.
                    let price = f64::from(rng.gen_range(100..10_000u32)) / 97.0;
                    Click::parse(&crate::domain::RawClick {
                        year: 2008,
                        month: 4,
                        day,
                        order: order as i64 + 1,
                        country,
                        page1_main_category: line as i64 + 1,
                        page2_clothing_model: product.as_str(),
                        colour: rng.gen_range(1..=14),
                        location: rng.gen_range(1..=6),
                        model_photography: rng.gen_range(1..=2),
                        price,
                        price_2: rng.gen_range(1..=2),
                        page: rng.gen_range(1..=5),
                    })
                    .expect("generated clicks are valid")
                })
                .collect()
        })
        .collect()
}

#[test]
fn the_plan_equals_version_1_bit_for_bit_on_generated_sessions() {
    use crate::domain::{Session, SessionId};
    use crate::labels::label_sessions;
    for seed in [1, 2, 3] {
        let sessions = generated_sessions(seed);
        let typed: Vec<Session> = sessions
            .iter()
            .enumerate()
            .map(|(i, clicks)| {
                let id = SessionId::parse(&format!("s{i}")).expect("id");
                Session::new(id, clicks.clone()).expect("session").0
            })
            .collect();
        let (labelled, _) = label_sessions(typed, None).expect("proxy labels");
        for products in [ProductStats::default(), ProductStats::fit(&labelled, 3.0)] {
            for clicks in &sessions {
                assert_plan_equals_version_1(clicks, &products);
            }
        }
    }
}

#[test]
fn the_plan_equals_version_1_bit_for_bit_on_every_session_of_the_real_file() {
    let Some(path) = crate::data_file::real_data_or_skip() else {
        return;
    };
    let data =
        crate::labels::read_labelled(&path, None, Default::default()).expect("the real file reads");
    let products = ProductStats::fit(&data.sessions, 20.0);
    for s in &data.sessions {
        assert_plan_equals_version_1(s.session.clicks(), &products);
    }
}

fn compile(toml: &str) -> Result<Plan, PlanError> {
    FeaturePlan::from_toml(toml)?.compile(&Slots::of_table(&UCI))
}

/// A plan of the families version 1 does not use, over a hand-made session.
#[test]
fn families_beyond_version_1_compute_what_the_schema_says() {
    let plan = compile(
        r#"
        [session]                     # another section of the schema: not the plan's
        columns = ["session_id"]

        [[feature]]
        name = "mean_page"
        family = "mean"
        of = "page"
        [[feature]]
        name = "max_colour"
        family = "max"
        of = "colour"
        [[feature]]
        name = "share_not_trousers_or_skirts"
        family = "share"
        of = "category"
        other = true
        [[feature]]
        name = "share_trousers_or_skirts"
        family = "share"
        of = "category"
        values = [2, 1, 2]
        [[feature]]
        name = "distinct_countries"
        family = "distinct"
        of = "country"
        [[feature]]
        name = "colour_switches"
        family = "switches"
        of = "colour"
        [[feature]]
        name = "last_top_row"
        family = "is"
        of = "location"
        values = [1, 2, 3]
        [[feature]]
        name = "last_elsewhere"
        family = "is"
        of = "location"
        other = true
        [[feature]]
        name = "second_previous_colour"
        family = "value"
        of = "colour"
        at = 2
        [[feature]]
        name = "first_profile"
        family = "first_is"
        of = "model_photography"
        values = [2]
        "#,
    )
    .expect("the plan compiles");
    let with = |c: Click, colour: i64, page: i64, country: i64, location: i64| {
        let mut raw = c.to_raw();
        raw.colour = colour;
        raw.page = page;
        raw.country = country;
        raw.location = location;
        Click::parse(&raw).expect("a valid click")
    };
    let clicks = [
        with(click(1, "A1", 10.0), 3, 1, 29, 1),
        with(click(2, "C2", 20.0), 3, 2, 29, 5),
        with(click(3, "P3", 30.0), 9, 4, 44, 6),
    ];
    let row = extract(&plan, &clicks, &ProductStats::default());
    let expected = [
        7.0 / 3.0,
        9.0,
        2.0 / 3.0,
        1.0 / 3.0,
        2.0,
        1.0,
        0.0,
        1.0,
        3.0,
        0.0,
    ];
    for ((name, got), want) in plan.names().iter().zip(&row).zip(expected) {
        assert_eq!(*got, want, "{name}");
    }
    // Two clicks: no click two back, so 0.
    let two = extract(&plan, &clicks[..2], &ProductStats::default());
    assert_eq!(
        two[plan.index_of("second_previous_colour").expect("named")],
        0.0
    );
    assert_eq!(two[plan.index_of("last_elsewhere").expect("named")], 1.0);
}

#[test]
fn plans_that_do_not_fit_the_schema_are_refused_naming_the_feature() {
    let one = |body: &str| compile(&format!("[[feature]]\nname = \"f\"\n{body}"));
    let cases: Vec<(&str, PlanError)> = vec![
        (
            "family = \"share\"\nvalues = [1]",
            PlanError::Missing {
                feature: "f".into(),
                family: "share".into(),
                parameter: "of",
            },
        ),
        (
            "family = \"share\"\nof = \"category\"",
            PlanError::Missing {
                feature: "f".into(),
                family: "share".into(),
                parameter: "values",
            },
        ),
        (
            "family = \"clicks\"\nof = \"category\"",
            PlanError::Unexpected {
                feature: "f".into(),
                family: "clicks".into(),
                parameter: "of",
            },
        ),
        (
            "family = \"distinct\"\nof = \"page\"\nother = true",
            PlanError::Unexpected {
                feature: "f".into(),
                family: "distinct".into(),
                parameter: "values",
            },
        ),
        (
            "family = \"share\"\nof = \"page\"\nat = 1\nvalues = [1]",
            PlanError::Unexpected {
                feature: "f".into(),
                family: "share".into(),
                parameter: "at",
            },
        ),
        (
            "family = \"share\"\nof = \"page\"\nvalues = [1]\nother = true",
            PlanError::ValuesAndOther {
                feature: "f".into(),
            },
        ),
        (
            "family = \"share\"\nof = \"page\"\nvalues = []",
            PlanError::NoValues {
                feature: "f".into(),
            },
        ),
        (
            "family = \"price\"\nat = 3",
            PlanError::TooFarBack {
                feature: "f".into(),
                at: 3,
            },
        ),
        (
            "family = \"max\"\nof = \"shoe_size\"",
            PlanError::UnknownOf {
                feature: "f".into(),
                of: "shoe_size".into(),
                known: "category, country, colour, location, model_photography, price_2, page"
                    .into(),
            },
        ),
        (
            "family = \"duration\"",
            PlanError::Unavailable {
                feature: "f".into(),
                family: "duration".into(),
                why: "it needs the click's timestamp, and the schema has no [timestamp]",
            },
        ),
        (
            "family = \"price_vs_category\"",
            PlanError::Unavailable {
                feature: "f".into(),
                family: "price_vs_category".into(),
                why: "it needs category prices learned at training, which only a schema trained with `train --schema` records",
            },
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(one(body).err(), Some(expected), "{body}");
    }
    // The price is a role, not an attribute; the product is text.
    for of in ["price", "page2_clothing_model", "year"] {
        assert!(
            matches!(
                one(&format!("family = \"max\"\nof = \"{of}\"")),
                Err(PlanError::UnknownOf { .. })
            ),
            "{of}"
        );
    }
    assert_eq!(compile("").err(), Some(PlanError::Empty));
    assert_eq!(
        compile("[[feature]]\nname = \"a\"\nfamily = \"clicks\"\n[[feature]]\nname = \"a\"\nfamily = \"log_clicks\"")
            .err(),
        Some(PlanError::Duplicate { name: "a".into() })
    );
    for text in [
        "[[feature]]\nname = \"f\"\nfamily = \"clickz\"",
        "[[feature]]\nname = \"f\"\nfamily = \"clicks\"\nweight = 2",
        "[[feature]]\nname = \"f\"\nfamily = \"price\"\nat = -1",
        "[[feature]\nname = \"f\"",
    ] {
        assert!(matches!(compile(text), Err(PlanError::Toml(_))), "{text}");
    }
}

#[test]
fn not_coded_attributes_are_refused_for_code_families() {
    use crate::domain::schema::{ClickSchema, Example, FieldSpec, Role, Rule};
    use crate::domain::Field;
    // A table whose `page` is a number, as a schema's number attribute would be.
    let mut table: ClickSchema = UCI.clone();
    let page = FieldSpec {
        rule: Rule::Number {
            above: 0.0,
            max: 10.0,
        },
        example: Example::Number(1.0),
        ..table.spec(Field::Page).expect("page").clone()
    };
    table.fields.retain(|s| s.field != Field::Page);
    table.fields.push(page);
    assert_eq!(table.named("page").map(|s| s.role), Some(Role::Attribute));
    let plan = |family: &str| {
        FeaturePlan::from_toml(&format!(
            "[[feature]]\nname = \"f\"\nfamily = \"{family}\"\nof = \"page\"\nvalues = [1]"
        ))
        .and_then(|p| p.compile(&Slots::of_table(&table)))
    };
    assert_eq!(
        plan("share").err(),
        Some(PlanError::NotCoded {
            feature: "f".into(),
            family: "share".into(),
            of: "page".into(),
        })
    );
    let mean =
        FeaturePlan::from_toml("[[feature]]\nname = \"f\"\nfamily = \"mean\"\nof = \"page\"")
            .and_then(|p| p.compile(&Slots::of_table(&table)));
    assert!(mean.is_ok(), "{mean:?}");
}

/// A click of another shape: values outside the table's ranges, which a checked click
/// cannot hold but a click type of another schema might.
#[derive(Clone)]
struct Loose {
    product: ProductCode,
    values: [i64; 7],
}

impl crate::domain::AnyClick for Loose {
    fn product(&self) -> crate::domain::ProductKey {
        self.product.into()
    }
    fn product_id(&self) -> crate::domain::ProductId {
        crate::domain::ProductId::Code(self.product)
    }
    fn price(&self) -> f64 {
        10.0
    }
    fn day(&self) -> chrono::NaiveDate {
        chrono::NaiveDate::MIN
    }
    fn category_label(&self) -> std::borrow::Cow<'_, str> {
        "".into()
    }
}

impl ClickValues for Loose {
    fn weekday(&self) -> chrono::Weekday {
        chrono::Weekday::Tue
    }
    fn write_values(&self, out: &mut [i64]) {
        let n = out.len().min(7);
        out[..n].copy_from_slice(&self.values[..n]);
    }
}

/// Codes outside the table's range are counted, not dropped: shares, the other share and
/// distinct counts see them, incrementally and in one batch alike.
#[test]
fn codes_outside_the_tables_range_are_counted() {
    let plan = compile(
        r#"
        [[feature]]
        name = "share_nine"
        family = "share"
        of = "category"
        values = [9]
        [[feature]]
        name = "share_one_or_nine"
        family = "share"
        of = "category"
        values = [1, 9]
        [[feature]]
        name = "share_rest"
        family = "share"
        of = "category"
        other = true
        [[feature]]
        name = "distinct_categories"
        family = "distinct"
        of = "category"
        [[feature]]
        name = "share_page_99"
        family = "share"
        of = "page"
        values = [99]
        [[feature]]
        name = "max_page"
        family = "max"
        of = "page"
        "#,
    )
    .expect("the plan compiles");
    let product = ProductCode::parse("A1").expect("a product code");
    let categories = [1, 9, -3, 9, 2, 1];
    let clicks: Vec<Loose> = categories
        .iter()
        .enumerate()
        .map(|(i, &c)| Loose {
            product,
            values: [c, 0, 0, 0, 0, 0, if i == 2 { 99 } else { 1 }],
        })
        .collect();
    let none = ProductStats::default();
    let mut acc = Accumulator::new(&plan, &none);
    let mut incremental = vec![0.0; plan.len()];
    for (t, click) in clicks.iter().enumerate() {
        acc.push(click);
        acc.write(&mut incremental);
        let mut batch = Accumulator::new(&plan, &none);
        for c in &clicks[..=t] {
            batch.push(c);
        }
        let mut once = vec![0.0; plan.len()];
        batch.write(&mut once);
        assert_eq!(incremental, once, "prefix {}", t + 1);
    }
    let n = categories.len() as f64;
    assert_eq!(incremental, [2.0 / n, 4.0 / n, 2.0 / n, 4.0, 1.0 / n, 99.0]);
}

/// A shop's derived plan over coded clicks: the timing, category-price and category-mix
/// families read what the clicks carry, and every prefix fed click by click equals its
/// extraction from scratch.
#[test]
fn a_shops_derived_plan_reads_its_coded_clicks() {
    use crate::domain::catalogue::{Catalogue, Unseen};
    use crate::domain::shop::{ShopClick, ShopSchema, Value};
    let schema = ShopSchema::parse(include_str!("../../examples/second-shop/schema.toml"))
        .expect("the second shop's schema compiles");
    let click = |seconds: i64, product: &str, category: &str, price: f64| ShopClick {
        order: None,
        time: Some(1_775_000_000_000 + 1000 * seconds),
        date: chrono::NaiveDate::from_ymd_opt(2026, 4, 4).expect("a day"),
        product: product.into(),
        category: category.into(),
        price,
        attributes: vec![Value::Text("mobile".into())],
    };
    let clicks = [
        click(0, "SKU-1", "footwear/boots", 100.0),
        click(30, "SKU-2", "footwear/boots", 300.0),
        click(90, "SKU-1", "tents", 50.0),
        click(100, "SKU-9", "socks", 10.0),
    ];
    let catalogue = Catalogue::learn(&schema, clicks.iter(), 12, 16);
    let plan = derive(&schema, &catalogue)
        .compile(&Slots::of_shop(&schema, &catalogue))
        .expect("the derived plan compiles");
    let mut unseen = Unseen::default();
    let coded: Vec<_> = clicks
        .iter()
        .map(|c| catalogue.code(&schema, c, &mut unseen))
        .collect();
    let products = ProductStats::default();
    let row = extract(&plan, &coded, &products);
    let at = |name: &str| row[plan.index_of(name).unwrap_or_else(|| panic!("{name}"))];
    assert_eq!(at("clicks"), 4.0);
    assert_eq!(at("duration"), 100.0);
    assert_eq!(at("time_per_click"), 100.0 / 3.0);
    assert_eq!(at("time_since_previous"), 10.0);
    assert_eq!(at("share_category_footwear_boots"), 0.5);
    assert_eq!(at("distinct_categories"), 3.0);
    // Boots average 200: 100 is below, 300 above; tents and socks are at their means.
    assert_eq!(at("share_above_category_price"), 0.25);
    assert_eq!(at("price_vs_category"), 1.0);
    // ln(100/200), ln(300/200), ln(50/50) and ln(10/10), over four clicks.
    let expected = ((0.5f64).ln() + (1.5f64).ln()) / 4.0;
    assert!((at("price_vs_category_mean") - expected).abs() < 1e-12);
    assert_eq!(at("share_device_mobile"), 1.0);
    assert_eq!(at("weekend"), 1.0, "2026-04-04 is a Saturday");
    let mut acc = Accumulator::new(&plan, &products);
    for (t, c) in coded.iter().enumerate() {
        acc.push(c);
        let mut incremental = vec![0.0; plan.len()];
        acc.write(&mut incremental);
        let scratch = extract(&plan, &coded[..=t], &products);
        assert_eq!(
            incremental.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            scratch.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            "prefix {t}"
        );
    }
}

#[test]
fn the_uci_plan_refuses_the_families_its_clicks_cannot_give() {
    for family in ["duration", "price_vs_category"] {
        let err = compile(&format!("[[feature]]\nname = \"f\"\nfamily = \"{family}\""))
            .expect_err("the UCI click has no timestamp and no learned category prices");
        assert!(matches!(err, PlanError::Unavailable { .. }), "{err}");
    }
}

#[test]
fn out_of_fold_tables_from_counts_equal_tables_learned_without_each_fold() {
    use crate::domain::{Session, SessionId};
    use crate::features::FoldCounts;
    let session = |id: &str, clicks| {
        Session::new(SessionId::parse(id).expect("id"), clicks)
            .expect("session")
            .0
    };
    let products = ["A1", "B2", "C3", "A4", "P10"];
    let sessions: Vec<Session> = (0..40)
        .map(|i| {
            let clicks = (0..(2 + i % 4))
                .map(|j| {
                    // Some sessions click a product twice running: a basket event.
                    let p = products[(i * 3 + j / 2 * (1 + i % 2)) % products.len()];
                    click(j as i64 + 1, p, 10.0 + j as f64)
                })
                .collect();
            session(&format!("s{i}"), clicks)
        })
        .collect();
    let (labelled, _) = crate::labels::label_sessions(sessions, None).expect("proxy labels");
    let fold = |s: &crate::labels::LabelledSession| {
        s.session.id().as_str()[1..]
            .parse::<usize>()
            .expect("a number")
            % 3
    };
    let counts = FoldCounts::of(&labelled, 3, fold);
    let (tables, all) = counts.tables(5.0);
    assert_eq!(all, ProductStats::fit(&labelled, 5.0));
    for (k, table) in tables.iter().enumerate() {
        let others = labelled.iter().filter(|s| fold(s) != k);
        assert_eq!(*table, ProductStats::fit(others, 5.0), "fold {k}");
    }
    // A product only one fold clicks is gone from that fold's out-of-fold table.
    let only = [session(
        "s0",
        vec![click(1, "C40", 5.0), click(2, "A1", 10.0)],
    )];
    let (only, _) = crate::labels::label_sessions(only.to_vec(), None).expect("labels");
    let mut more = counts.clone();
    more.plus(&FoldCounts::of(&only, 3, fold));
    let (tables, all) = more.tables(5.0);
    let c40 = ProductId::Code(ProductCode::parse("C40").expect("code"));
    assert!(all.products().any(|(id, _)| *id == c40));
    assert!(!tables[0].knows(c40.key()));
    assert!(tables[1].knows(c40.key()));
    // The out-of-fold tables name no product: they are looked up, never shipped.
    assert!(tables.iter().all(|t| t.products().next().is_none()));
}

#[test]
fn a_product_table_reads_back_as_written_and_refuses_a_product_named_twice() {
    use crate::domain::ProductKey;
    let long = "a product id longer than twenty-four bytes";
    let table = ProductStats::new(
        5.0,
        0.125,
        0.25,
        [
            (ProductId::of("SKU-2"), [0.5, 0.25]),
            (ProductId::of("A13"), [0.125, 0.5]),
            (ProductId::of(long), [0.75, 0.0]),
            (ProductId::of("A2"), [0.25, 0.125]),
            (ProductId::of("SKU-10"), [1.0, 0.75]),
        ],
    );
    let text = serde_json::to_string(&table).expect("json");
    // The model file's order: codes first, by code, then ids as text.
    assert_eq!(
        text,
        format!(
            "{{\"smoothing\":5.0,\"prior_next\":0.125,\"prior_session\":0.25,\"products\":\
             {{\"A2\":[0.25,0.125],\"A13\":[0.125,0.5],\"SKU-10\":[1.0,0.75],\
             \"SKU-2\":[0.5,0.25],\"{long}\":[0.75,0.0]}}}}"
        )
    );
    let back: ProductStats = serde_json::from_str(&text).expect("reads back");
    assert_eq!(back, table);
    assert_eq!(serde_json::to_string(&back).expect("json"), text);
    assert!(back.knows(ProductKey::of("SKU-10")) && back.knows(ProductKey::of(long)));
    assert!(!back.knows(ProductKey::of("SKU-1")));
    assert!(ProductStats::default().is_empty() && !back.is_empty());
    // An id given twice is written once, so that the file reads back.
    let twice = ProductStats::new(
        5.0,
        0.125,
        0.25,
        [
            (ProductId::of("SKU-2"), [0.5, 0.25]),
            (ProductId::of("SKU-2"), [0.75, 0.25]),
        ],
    );
    let text = serde_json::to_string(&twice).expect("json");
    assert_eq!(twice.products().count(), 1);
    assert_eq!(
        serde_json::from_str::<ProductStats>(&text).expect("reads"),
        twice
    );

    let twice = r#"{"smoothing":1.0,"prior_next":0.1,"prior_session":0.2,
        "products":{"SKU-1":[0.1,0.2],"A13":[0.1,0.2],"SKU-1":[0.3,0.4]}}"#;
    let err = serde_json::from_str::<ProductStats>(twice).expect_err("refused");
    assert!(
        err.to_string().contains("product SKU-1 appears twice"),
        "{err}"
    );
}

#[test]
fn equal_tables_loaded_in_one_process_share_their_products() {
    use crate::domain::ProductKey;
    // Ids no other test uses: the tables loaded are the whole process's.
    let table = |rate: f64| {
        ProductStats::new(
            5.0,
            0.125,
            0.25,
            [
                (ProductId::of("share-1"), [0.5, rate]),
                (ProductId::of("share-2"), [0.25, 0.5]),
            ],
        )
    };
    let text = serde_json::to_string(&table(0.25)).expect("json");
    let load = |text: &str| {
        serde_json::from_str::<ProductStats>(text)
            .expect("reads")
            .shared()
    };
    let first = load(&text);
    let second = load(&text);
    assert!(second.shares_products_with(&first) && second == first);
    assert_eq!(first.digest(), second.digest());
    // Another table, or the same products under other priors, keep their own.
    let other = load(&serde_json::to_string(&table(0.375)).expect("json"));
    assert!(!other.shares_products_with(&first));
    assert_ne!(other.digest(), first.digest());
    assert_eq!(other.rates(ProductKey::of("share-1")), [0.5, 0.375]);
    let mut priors = table(0.25);
    priors.prior_next = 0.5;
    let priors = load(&serde_json::to_string(&priors).expect("json"));
    assert!(priors.shares_products_with(&first));
    assert_ne!(priors.digest(), first.digest());
    assert_eq!(priors.rates(ProductKey::of("nothing")), [0.5, 0.25]);
    // Once every table holding them is gone, the products are not kept alive for another.
    drop((first, second, priors));
    let again = load(&text);
    assert_eq!(again.rates(ProductKey::of("share-1")), [0.5, 0.25]);
}
