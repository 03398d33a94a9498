//! The feature plan of a schema that lists none, derived from its roles, its attributes and
//! the catalogue learned at training (docs/schema.md, "Derived plan"): the same schema and
//! catalogue always give the same plan, so a model records the plan's names and the
//! service derives the plan again when it loads.

use super::plan::{Family, FeaturePlan, FeatureSpec};
use crate::domain::catalogue::Catalogue;
use crate::domain::shop::ShopSchema;

/// Top values of a categorical attribute that get a share of their own.
pub const SHARED_VALUES: usize = 6;

/// A value as a feature name's part: lower case letters and digits, other runs as one `_`.
fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
    }
    out.trim_end_matches('_').to_owned()
}

fn spec(name: impl Into<String>, family: Family) -> FeatureSpec {
    FeatureSpec {
        name: name.into(),
        family,
        of: None,
        values: None,
        other: false,
        at: None,
    }
}

/// Names made unique: a second `share_category_boots` (two categories with one slug)
/// becomes `share_category_boots_2`.
struct Names(std::collections::HashSet<String>);

impl Names {
    fn unique(&mut self, base: String) -> String {
        let mut name = base.clone();
        let mut n = 2;
        while !self.0.insert(name.clone()) {
            name = format!("{base}_{n}");
            n += 1;
        }
        name
    }
}

pub fn derive(schema: &ShopSchema, catalogue: &Catalogue) -> FeaturePlan {
    let mut names = Names(Default::default());
    let mut out = Vec::new();
    let mut push = |names: &mut Names, mut s: FeatureSpec| {
        s.name = names.unique(s.name);
        out.push(s);
    };
    for (name, family) in [
        ("clicks", Family::Clicks),
        ("log_clicks", Family::LogClicks),
        ("distinct_products", Family::DistinctProducts),
        ("distinct_product_share", Family::DistinctProductShare),
        ("repeat_views", Family::RepeatViews),
    ] {
        push(&mut names, spec(name, family));
    }
    // A learned category's code is its rank; a fixed vocabulary's is its own code.
    let coded = schema
        .column(crate::domain::schema::Role::Category)
        .is_some_and(|c| !c.is_categorical());
    let categories: Vec<(i64, String)> = catalogue
        .categories
        .iter()
        .enumerate()
        .filter_map(|(i, c)| {
            let code = if coded { c.parse().ok()? } else { i as i64 + 1 };
            Some((code, slug(c)))
        })
        .collect();
    for (code, slug) in &categories {
        push(
            &mut names,
            FeatureSpec {
                of: Some("category".into()),
                values: Some(vec![*code]),
                ..spec(format!("share_category_{slug}"), Family::Share)
            },
        );
    }
    push(
        &mut names,
        FeatureSpec {
            of: Some("category".into()),
            other: true,
            ..spec("share_category_other", Family::Share)
        },
    );
    for (name, family) in [
        ("distinct_categories", Family::Distinct),
        ("category_switches", Family::Switches),
    ] {
        push(
            &mut names,
            FeatureSpec {
                of: Some("category".into()),
                ..spec(name, family)
            },
        );
    }
    for (name, family) in [
        ("price_mean", Family::PriceMean),
        ("price_min", Family::PriceMin),
        ("price_max", Family::PriceMax),
        ("price_spread", Family::PriceSpread),
        ("price_std", Family::PriceStd),
        ("price_vs_category", Family::PriceVsCategory),
        (
            "share_above_category_price",
            Family::ShareAboveCategoryPrice,
        ),
        ("price_vs_category_mean", Family::PriceVsCategoryMean),
    ] {
        push(&mut names, spec(name, family));
    }
    for (k, attribute) in schema.attributes().enumerate() {
        let attr = slug(&attribute.name);
        // A fixed vocabulary reads like a learned one: shares of its codes.
        let fixed: Vec<i64> = match &attribute.rule {
            crate::domain::schema::Rule::Codes(codes) => codes.iter().map(|c| c.code).collect(),
            _ => Vec::new(),
        };
        if !fixed.is_empty() {
            for code in fixed.iter().take(SHARED_VALUES) {
                push(
                    &mut names,
                    FeatureSpec {
                        of: Some(attribute.name.clone()),
                        values: Some(vec![*code]),
                        ..spec(format!("share_{attr}_{code}"), Family::Share)
                    },
                );
            }
            push(
                &mut names,
                FeatureSpec {
                    of: Some(attribute.name.clone()),
                    ..spec(format!("distinct_{attr}"), Family::Distinct)
                },
            );
        } else if attribute.is_categorical() {
            let top = catalogue.attributes.get(k).map_or(&[][..], Vec::as_slice);
            for (i, value) in top.iter().take(SHARED_VALUES).enumerate() {
                push(
                    &mut names,
                    FeatureSpec {
                        of: Some(attribute.name.clone()),
                        values: Some(vec![i as i64 + 1]),
                        ..spec(format!("share_{attr}_{}", slug(value)), Family::Share)
                    },
                );
            }
            push(
                &mut names,
                FeatureSpec {
                    of: Some(attribute.name.clone()),
                    other: true,
                    ..spec(format!("share_{attr}_other"), Family::Share)
                },
            );
            push(
                &mut names,
                FeatureSpec {
                    of: Some(attribute.name.clone()),
                    ..spec(format!("distinct_{attr}"), Family::Distinct)
                },
            );
        } else {
            for (suffix, family) in [("mean", Family::Mean), ("max", Family::Max)] {
                push(
                    &mut names,
                    FeatureSpec {
                        of: Some(attribute.name.clone()),
                        ..spec(format!("{attr}_{suffix}"), family)
                    },
                );
            }
        }
    }
    push(&mut names, spec("weekday", Family::Weekday));
    push(&mut names, spec("weekend", Family::Weekend));
    if schema.has_timestamp() {
        for (name, family) in [
            ("duration", Family::Duration),
            ("time_per_click", Family::TimePerClick),
            ("time_since_previous", Family::TimeSincePrevious),
            ("gap_log_mean", Family::GapLogMean),
        ] {
            push(&mut names, spec(name, family));
        }
    }
    for (code, slug) in &categories {
        push(
            &mut names,
            FeatureSpec {
                of: Some("category".into()),
                values: Some(vec![*code]),
                at: Some(0),
                ..spec(format!("last_is_{slug}"), Family::Is)
            },
        );
    }
    for (name, at) in [
        ("last_price", 0),
        ("previous_price", 1),
        ("price_two_back", 2),
    ] {
        push(
            &mut names,
            FeatureSpec {
                at: Some(at),
                ..spec(name, Family::Price)
            },
        );
    }
    for (name, at) in [("previous_same_category", 1), ("two_back_same_category", 2)] {
        push(
            &mut names,
            FeatureSpec {
                at: Some(at),
                ..spec(name, Family::SameCategory)
            },
        );
    }
    for (name, family) in [
        ("last_price_vs_mean", Family::LastPriceVsMean),
        ("last_seen_before", Family::LastSeenBefore),
        ("last_view_count", Family::LastViewCount),
        ("last_same_category_run", Family::LastSameCategoryRun),
        ("product_next_rate_last", Family::ProductNextRateLast),
        (
            "product_next_rate_previous",
            Family::ProductNextRatePrevious,
        ),
        ("product_next_rate_mean", Family::ProductNextRateMean),
        ("product_next_rate_max", Family::ProductNextRateMax),
        ("product_session_rate_last", Family::ProductSessionRateLast),
        ("product_session_rate_mean", Family::ProductSessionRateMean),
        ("unseen_product_share", Family::UnseenProductShare),
    ] {
        push(&mut names, spec(name, family));
    }
    FeaturePlan { features: out }
}
