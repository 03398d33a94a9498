//! The feature plan: which features a schema's models read, in order, each a family of
//! docs/schema.md ("Features over any schema") with its parameters. [`FeaturePlan`] is the
//! plan as a schema file writes it (`[[feature]]` entries); [`FeaturePlan::compile`] checks
//! it against the shop's click table once and gives the [`Plan`] the extractor runs: what
//! each click must update (a handful of tracked attributes) and what each feature reads.

use crate::domain::catalogue::Catalogue;
use crate::domain::schema::{ClickSchema, Kind, Role, Rule};
use crate::domain::schema_file::{SchemaFile, UCI_FILE};
use crate::domain::shop::ShopSchema;
use crate::domain::UCI;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::sync::LazyLock;
use thiserror::Error;

/// Bumped whenever a family is computed differently: with the plan's names it is what a
/// model records and is checked against at load.
pub const VERSION: u32 = 1;

/// The deepest click back that `at` may name: the extractor keeps the last three clicks.
pub const MAX_AT: u8 = 2;

/// What a model was trained on: checked when a model file loads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeatureSchema {
    pub version: u32,
    pub names: Vec<String>,
}

/// A plan as a schema file writes it: the `[[feature]]` entries, in vector order. Other
/// sections of the file are not the plan's and are left to the schema's reader.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeaturePlan {
    #[serde(rename = "feature", default)]
    pub features: Vec<FeatureSpec>,
}

/// One feature: its name in the vector and the family that computes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureSpec {
    pub name: String,
    pub family: Family,
    /// The category (`"category"`) or an attribute, by the schema's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub of: Option<String>,
    /// The codes that count (`share`, `first_is`, `is`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<i64>>,
    /// Counts the codes that none of the same family's features over the same `of` (and
    /// `at`) list, instead of `values`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub other: bool,
    /// Which click: 0 the last, 1 the one before, 2 the one before that.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<u8>,
}

/// The families of docs/schema.md's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    Clicks,
    LogClicks,
    DistinctProducts,
    DistinctProductShare,
    RepeatViews,
    Share,
    FirstIs,
    Distinct,
    Switches,
    Changes,
    Max,
    Mean,
    PriceMean,
    PriceMin,
    PriceMax,
    PriceSpread,
    PriceStd,
    PriceVsCategory,
    ShareAboveCategoryPrice,
    Weekday,
    Weekend,
    Is,
    Value,
    Price,
    SameCategory,
    LastPriceVsMean,
    LastSeenBefore,
    LastViewCount,
    LastSameCategoryRun,
    Duration,
    TimePerClick,
    TimeSincePrevious,
    ProductNextRateLast,
    ProductNextRatePrevious,
    ProductNextRateMean,
    ProductNextRateMax,
    ProductSessionRateLast,
    ProductSessionRateMean,
    /// The mean over the prefix of ln(price / the category's learned mean price).
    PriceVsCategoryMean,
    /// The share of the prefix's clicks on products the model's product table does not
    /// know: products new since training.
    UnseenProductShare,
    /// The mean of ln(1 + seconds) between consecutive clicks.
    GapLogMean,
}

/// The parameters a family takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Takes {
    of: bool,
    values: bool,
    at: bool,
}

impl Family {
    fn takes(self) -> Takes {
        let (of, values, at) = match self {
            Family::Share | Family::FirstIs => (true, true, false),
            Family::Is => (true, true, true),
            Family::Value => (true, false, true),
            Family::Distinct | Family::Switches | Family::Changes | Family::Max | Family::Mean => {
                (true, false, false)
            }
            Family::Price | Family::SameCategory => (false, false, true),
            _ => (false, false, false),
        };
        Takes { of, values, at }
    }

    /// Why the extractor cannot compute the family over these clicks, if it cannot.
    fn unavailable(self, slots: &Slots) -> Option<&'static str> {
        match self {
            Family::Duration
            | Family::TimePerClick
            | Family::TimeSincePrevious
            | Family::GapLogMean
                if !slots.has_time =>
            {
                Some("it needs the click's timestamp, and the schema has no [timestamp]")
            }
            Family::PriceVsCategory
            | Family::ShareAboveCategoryPrice
            | Family::PriceVsCategoryMean
                if !slots.has_category_prices =>
            {
                Some("it needs category prices learned at training, which only a schema trained with `train --schema` records")
            }
            _ => None,
        }
    }

    /// Whether the family reads codes (a vocabulary or whole numbers), not any number.
    fn needs_codes(self) -> bool {
        matches!(
            self,
            Family::Share | Family::FirstIs | Family::Is | Family::Distinct
        )
    }
}

/// What a plan's `of` names: the click's category or one of its attributes. Resolved from
/// the name once, when the plan compiles, so no click is read by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Of {
    Category,
    /// The schema's attribute of this number, in the schema's order.
    Attribute(usize),
}

impl Of {
    /// Where a click's coded values hold this value: the category first, then each
    /// attribute in the schema's order.
    #[inline]
    pub fn index(self) -> usize {
        match self {
            Of::Category => 0,
            Of::Attribute(k) => k + 1,
        }
    }
}

/// One value a coded click holds, as a plan reads it: its name, its kind and, for a coded
/// or whole one, its range.
#[derive(Debug, Clone, PartialEq)]
pub struct SlotSpec {
    pub name: String,
    pub kind: Kind,
    pub range: Option<(i64, i64)>,
}

/// What a plan is compiled against: the values a click holds (the category, then the
/// attributes), and what else its clicks carry.
#[derive(Debug, Clone, PartialEq)]
pub struct Slots {
    pub category: SlotSpec,
    pub attributes: Vec<SlotSpec>,
    pub has_time: bool,
    pub has_category_prices: bool,
}

impl Slots {
    /// The UCI click's: its table's category and attributes, in the table's order.
    pub fn of_table(table: &ClickSchema) -> Slots {
        let slot = |s: &crate::domain::FieldSpec| SlotSpec {
            name: s.name.to_string(),
            kind: s.kind(),
            range: s.whole_range(),
        };
        Slots {
            category: table
                .fields
                .iter()
                .find(|s| s.role == Role::Category)
                .map(slot)
                .unwrap_or(SlotSpec {
                    name: "category".into(),
                    kind: Kind::Whole,
                    range: None,
                }),
            attributes: table
                .fields
                .iter()
                .filter(|s| s.role == Role::Attribute)
                .map(slot)
                .collect(),
            has_time: table.fields.iter().any(|s| s.role == Role::Timestamp),
            has_category_prices: false,
        }
    }

    /// A shop's coded click: the category and each categorical attribute coded by the
    /// catalogue (0 for "other", then its learned values), coded or whole attributes by
    /// their rules, numbers as numbers.
    pub fn of_shop(schema: &ShopSchema, catalogue: &Catalogue) -> Slots {
        let coded = |rule: &Rule, learned: usize| match rule {
            Rule::Codes(codes) => Some((
                codes.first().map_or(0, |c| c.code).min(0),
                codes.last().map_or(0, |c| c.code).max(learned as i64),
            )),
            Rule::Whole { min, max } => Some((*min, *max)),
            Rule::Text { .. } => Some((0, learned as i64)),
            Rule::Number { .. } => None,
        };
        let kind = |rule: &Rule| match rule {
            Rule::Number { .. } => Kind::Number,
            _ => Kind::Whole,
        };
        let category = schema.column(Role::Category);
        Slots {
            category: SlotSpec {
                name: "category".into(),
                kind: Kind::Whole,
                range: category.and_then(|c| coded(&c.rule, catalogue.categories.len())),
            },
            attributes: schema
                .attributes()
                .enumerate()
                .map(|(k, a)| SlotSpec {
                    name: a.name.clone(),
                    kind: kind(&a.rule),
                    range: coded(&a.rule, catalogue.attributes.get(k).map_or(0, Vec::len)),
                })
                .collect(),
            has_time: schema.has_timestamp(),
            has_category_prices: true,
        }
    }

    fn of(&self, of: Of) -> Option<&SlotSpec> {
        match of {
            Of::Category => Some(&self.category),
            Of::Attribute(k) => self.attributes.get(k),
        }
    }
}

/// A plan that does not fit its schema, naming the feature.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum PlanError {
    #[error("the feature plan is not valid TOML: {0}")]
    Toml(String),
    #[error("the feature plan lists no feature")]
    Empty,
    #[error("feature {name:?} is listed twice")]
    Duplicate { name: String },
    #[error("feature {feature:?}: `{family}` needs `{parameter}`")]
    Missing {
        feature: String,
        family: String,
        parameter: &'static str,
    },
    #[error("feature {feature:?}: `{family}` takes no `{parameter}`")]
    Unexpected {
        feature: String,
        family: String,
        parameter: &'static str,
    },
    #[error("feature {feature:?}: give either `values` or `other = true`, not both")]
    ValuesAndOther { feature: String },
    #[error("feature {feature:?}: `values` is empty")]
    NoValues { feature: String },
    #[error("feature {feature:?}: `at` is {at}; it counts back at most {MAX_AT} clicks")]
    TooFarBack { feature: String, at: u8 },
    #[error("feature {feature:?}: `of = {of:?}` names no category or attribute; known: {known}")]
    UnknownOf {
        feature: String,
        of: String,
        known: String,
    },
    #[error("feature {feature:?}: `{family}` reads codes, and {of:?} holds numbers")]
    NotCoded {
        feature: String,
        family: String,
        of: String,
    },
    #[error("feature {feature:?}: `{family}` is not available: {why}")]
    Unavailable {
        feature: String,
        family: String,
        why: &'static str,
    },
}

impl FeaturePlan {
    /// The `[[feature]]` entries of a TOML text (other keys are left alone).
    pub fn from_toml(text: &str) -> Result<FeaturePlan, PlanError> {
        toml::from_str(text).map_err(|e| PlanError::Toml(e.to_string()))
    }

    /// The plan a schema file carries: its `[[feature]]` entries, which the schema's own
    /// reader keeps as written, read here into their one shape.
    pub fn from_schema(file: &SchemaFile) -> Result<FeaturePlan, PlanError> {
        let features = file
            .features
            .iter()
            .enumerate()
            .map(|(i, entry)| {
                FeatureSpec::deserialize(entry.clone())
                    .map_err(|e| PlanError::Toml(format!("[[feature]] entry {}: {e}", i + 1)))
            })
            .collect::<Result<_, _>>()?;
        Ok(FeaturePlan { features })
    }

    /// Checks the plan against the shop's click table and compiles it for the extractor.
    pub fn compile(&self, table: &Slots) -> Result<Plan, PlanError> {
        if self.features.is_empty() {
            return Err(PlanError::Empty);
        }
        let mut names = HashSet::new();
        let mut resolved = Vec::with_capacity(self.features.len());
        for spec in &self.features {
            if !names.insert(spec.name.as_str()) {
                return Err(PlanError::Duplicate {
                    name: spec.name.clone(),
                });
            }
            resolved.push(check(spec, table)?);
        }
        let mut builder = Builder::new(
            self.features.iter().map(|s| s.name.clone()).collect(),
            table,
        );
        let needs_category = resolved
            .iter()
            .any(|r| matches!(r.family, Family::SameCategory | Family::LastSameCategoryRun));
        if needs_category {
            builder.plan.category_slot = Some(builder.slot(Of::Category));
        }
        for (out, r) in resolved.iter().enumerate() {
            builder.feature(out, r, &resolved);
        }
        Ok(builder.finish())
    }
}

/// A feature's parameters once checked.
struct Resolved {
    family: Family,
    of: Option<Of>,
    /// Sorted, without repeats; empty for `other`.
    values: Vec<i64>,
    other: bool,
    at: u8,
}

fn check(spec: &FeatureSpec, table: &Slots) -> Result<Resolved, PlanError> {
    let family = spec.family;
    let family_name = || family_name(family);
    let feature = || spec.name.clone();
    if let Some(why) = family.unavailable(table) {
        return Err(PlanError::Unavailable {
            feature: feature(),
            family: family_name(),
            why,
        });
    }
    let takes = family.takes();
    let present = [
        ("of", spec.of.is_some(), takes.of),
        ("values", spec.values.is_some() || spec.other, takes.values),
        ("at", spec.at.is_some(), takes.at),
    ];
    for (parameter, given, taken) in present {
        if given && !taken {
            return Err(PlanError::Unexpected {
                feature: feature(),
                family: family_name(),
                parameter,
            });
        }
        // `at` defaults to the last click; the others have no default.
        if !given && taken && parameter != "at" {
            return Err(PlanError::Missing {
                feature: feature(),
                family: family_name(),
                parameter,
            });
        }
    }
    if spec.values.is_some() && spec.other {
        return Err(PlanError::ValuesAndOther { feature: feature() });
    }
    let mut values = spec.values.clone().unwrap_or_default();
    if spec.values.is_some() && values.is_empty() {
        return Err(PlanError::NoValues { feature: feature() });
    }
    values.sort_unstable();
    values.dedup();
    let at = spec.at.unwrap_or(0);
    if at > MAX_AT {
        return Err(PlanError::TooFarBack {
            feature: feature(),
            at,
        });
    }
    let of = match &spec.of {
        None => None,
        Some(name) => {
            let (of, kind) = resolve(name, table).ok_or_else(|| PlanError::UnknownOf {
                feature: feature(),
                of: name.clone(),
                known: known_of(table),
            })?;
            if family.needs_codes() && kind != Kind::Whole {
                return Err(PlanError::NotCoded {
                    feature: feature(),
                    family: family_name(),
                    of: name.clone(),
                });
            }
            Some(of)
        }
    };
    Ok(Resolved {
        family,
        of,
        values,
        other: spec.other,
        at,
    })
}

/// A family as a plan file spells it.
fn family_name(family: Family) -> String {
    serde_json::to_value(family)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{family:?}"))
}

/// `category` is the category role, whatever its column is called; anything else is an
/// attribute of the click, by its name; text attributes are read coded.
fn resolve(name: &str, table: &Slots) -> Option<(Of, Kind)> {
    if name == "category" {
        return Some((Of::Category, table.category.kind));
    }
    let k = table.attributes.iter().position(|s| s.name == name)?;
    let kind = table.attributes[k].kind;
    matches!(kind, Kind::Whole | Kind::Number).then_some((Of::Attribute(k), kind))
}

fn known_of(table: &Slots) -> String {
    let attributes = table
        .attributes
        .iter()
        .filter(|s| s.kind != Kind::Text)
        .map(|s| s.name.as_str());
    std::iter::once("category")
        .chain(attributes)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The compiled plan: the names in vector order, what each click updates and what each
/// feature reads. Built once per schema; every accumulator borrows it.
///
/// Per click, an accumulator copies the click's values (the category's and attributes', as
/// far as the plan reads them) into the click's row. When a row is next written, the new
/// rows are folded in by column through three short lists, each touching only the
/// attributes that need it: the per-code counts that shares and distinct counts read
/// ([`Hist`], or a compare per click for a code or two), the switches, and the running
/// maxima and sums. Every index is placed here, once: no loop over the features, no name,
/// no family `match` and no allocation per click.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub(super) names: Vec<String>,
    /// The features grouped by what they read, each with its place in the row: a row is
    /// written list by list, each loop of one kind, not feature by feature.
    pub(super) writes: Writes,
    /// Whether each slot holds a number's bits rather than a code: a click's value at
    /// [`Of::index`] is its slot, so a row is the click's values copied whole, up to the
    /// last the plan reads.
    pub(super) number_slots: Vec<bool>,
    pub(super) hists: Vec<Hist>,
    /// Clicks holding one code, `(slot, code, tally)`: the shares of a slot that lists a
    /// code or two and needs no distinct count are a compare per click, not a hist.
    pub(super) code_counts: Vec<(usize, i64, usize)>,
    pub(super) switches: Vec<Counted>,
    /// Running maxima and sums of coded slots (a code is its own value) ...
    pub(super) code_folds: Folds,
    /// ... and of number slots (read from the bits).
    pub(super) number_folds: Folds,
    /// An accumulator's running maxima and sums before the first click.
    pub(super) initial_cells: Vec<f64>,
    /// Length of an accumulator's tallies: per-code counts, distinct counts, switches.
    pub(super) tallies: usize,
    pub(super) needs: Needs,
    /// The slot of the category, when the families comparing categories need it.
    pub(super) category_slot: Option<usize>,
}

/// What the click-level state beyond the slots is kept for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Needs {
    /// Views per product (distinct products, repeat views, the last product's views).
    pub views: bool,
    /// The prefix's prices kept for the two-pass deviation.
    pub price_std: bool,
    /// The product table's rates.
    pub rates: bool,
    /// The first click's day.
    pub weekday: bool,
    pub same_category_run: bool,
    /// The logarithm of the clicks, the one call to the maths library.
    pub log_clicks: bool,
    /// The first, previous and last click's times.
    pub time: bool,
    /// Each click's price against its category's learned mean price.
    pub category_price: bool,
    /// Whether each click's product is in the product table.
    pub unseen: bool,
}

/// The clicks of a coded slot counted per code: one count per code of the table's range
/// from `lowest` (`span` of them, from `base` in the tallies), so a click costs one
/// increment whatever the shares list, and the shares, the other share and the distinct
/// count (at `distinct`) are all read from it. A code outside the range, which a checked
/// click cannot hold, is counted in the accumulator's strays instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Hist {
    pub slot: usize,
    pub lowest: i64,
    pub span: u64,
    pub base: usize,
    pub distinct: usize,
    /// Whether a feature reads the distinct count: else it is not kept.
    pub distinct_read: bool,
}

/// A count kept for one slot: the clicks whose value differs from the click before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Counted {
    pub slot: usize,
    /// Its place in the tallies.
    pub count: usize,
}

/// Running maxima and sums, each `(slot, cell)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Folds {
    pub max: Vec<(usize, usize)>,
    pub sum: Vec<(usize, usize)>,
}

/// A plan's features grouped by what they read; each entry starts with the feature's place
/// in the row.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Writes {
    /// Features of the prefix as a whole, from the accumulator's [`Scalar`]s.
    pub scalars: Vec<(usize, Scalar)>,
    /// Shares of one count, `(out, tally, other)`: most shares list one code.
    pub single_shares: Vec<(usize, usize, bool)>,
    pub shares: Vec<ShareWrite>,
    /// The per-code counts each share adds up, in the tallies.
    pub share_counts: Vec<usize>,
    /// The codes a share lists outside its slot's range: `(hist, code)`.
    pub share_strays: Vec<(usize, i64)>,
    /// A count in the tallies, as it is.
    pub counts: Vec<(usize, usize)>,
    /// A cell, as it is or over the clicks.
    pub cells: Vec<(usize, usize)>,
    pub means: Vec<(usize, usize)>,
    /// A coded slot's value `at` clicks back: `(out, at, slot)`.
    pub code_values: Vec<(usize, usize, usize)>,
    /// A number slot's value `at` clicks back.
    pub number_values: Vec<(usize, usize, usize)>,
    /// Whether a slot's value is listed.
    pub is: Vec<IsWrite>,
    /// The price `at` clicks back.
    pub prices: Vec<(usize, usize)>,
    /// Whether the click `at` back has the last click's category.
    pub same_category: Vec<(usize, usize)>,
}

/// A share: the counts from `counts.0` to `counts.1` in `share_counts` and the strays from
/// `strays.0` to `strays.1` in `share_strays`, added up; with `other`, the clicks left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ShareWrite {
    pub out: usize,
    pub counts: (usize, usize),
    pub strays: (usize, usize),
    pub other: bool,
}

/// The test of an `is` or `first_is` feature.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct IsWrite {
    pub out: usize,
    pub slot: usize,
    /// Clicks back, or the first click.
    pub at: Option<usize>,
    pub listed: Listed,
    pub other: bool,
}

/// Codes to test a value against.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Listed {
    /// Codes within 64 of the lowest: bit `code - base` is set for each.
    Bits { base: i64, bits: u64 },
    /// Any other list, sorted.
    Codes(Vec<i64>),
}

impl Listed {
    fn of(codes: &[i64]) -> Listed {
        match (codes.first(), codes.last()) {
            (Some(&base), Some(&last)) if last.abs_diff(base) < 64 => Listed::Bits {
                base,
                bits: codes
                    .iter()
                    .fold(0, |bits, &c| bits | 1 << c.abs_diff(base)),
            },
            _ => Listed::Codes(codes.to_vec()),
        }
    }

    #[inline]
    pub(super) fn contains(&self, value: i64) -> bool {
        match self {
            Listed::Bits { base, bits } => {
                let at = value.wrapping_sub(*base) as u64;
                at < 64 && (bits >> at) & 1 == 1
            }
            Listed::Codes(codes) => codes.binary_search(&value).is_ok(),
        }
    }
}

/// The features of the prefix as a whole, each computed once per row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scalar {
    Clicks,
    LogClicks,
    DistinctProducts,
    DistinctProductShare,
    RepeatViews,
    PriceMean,
    PriceMin,
    PriceMax,
    PriceSpread,
    PriceStd,
    Weekday,
    Weekend,
    LastPriceVsMean,
    LastSeenBefore,
    LastViewCount,
    LastSameCategoryRun,
    ProductNextRateLast,
    ProductNextRatePrevious,
    ProductNextRateMean,
    ProductNextRateMax,
    ProductSessionRateLast,
    ProductSessionRateMean,
    Duration,
    TimePerClick,
    TimeSincePrevious,
    PriceVsCategory,
    ShareAboveCategoryPrice,
    PriceVsCategoryMean,
    UnseenProductShare,
    GapLogMean,
}

impl Scalar {
    pub const COUNT: usize = 30;
}

/// The widest range of codes counted per code; codes past it count as strays.
const MAX_BUCKETS: u64 = 4096;

impl Plan {
    /// The UCI shop's plan (`schemas/uci.toml`): version 1's 60 features.
    pub fn uci() -> &'static Plan {
        &UCI_PLAN
    }

    /// Feature names in vector order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Count of features, the width of every row.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Always false: a plan that compiled lists at least one feature.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Position of a named feature.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// What a model trained on this plan records.
    pub fn schema(&self) -> FeatureSchema {
        FeatureSchema {
            version: VERSION,
            names: self.names.clone(),
        }
    }

    /// Whether the feature at `index` is read from the product table: the others are the
    /// same whichever table the row is extracted with.
    pub fn reads_products(&self, index: usize) -> bool {
        self.writes
            .scalars
            .iter()
            .any(|&(out, scalar)| out == index && scalar.reads_products())
    }

    /// The tracked attributes: every click's row is this wide.
    pub(super) fn width(&self) -> usize {
        self.number_slots.len()
    }
}

impl Scalar {
    fn reads_products(self) -> bool {
        matches!(
            self,
            Scalar::UnseenProductShare
                | Scalar::ProductNextRateLast
                | Scalar::ProductNextRatePrevious
                | Scalar::ProductNextRateMean
                | Scalar::ProductNextRateMax
                | Scalar::ProductSessionRateLast
                | Scalar::ProductSessionRateMean
        )
    }
}

/// Compiles checked features into a [`Plan`]: places every slot, count and cell.
struct Builder<'a> {
    table: &'a Slots,
    plan: Plan,
    /// Per cell, its slot and whether it is a maximum (else a sum).
    cells: Vec<(usize, bool)>,
    /// Counts placed after the per-code counts: `(out, which)`, the distinct count of a
    /// hist or a switch count, resolved in `finish`.
    counts: Vec<(usize, Count)>,
    /// Shares and distinct counts, placed in `finish` once every slot's are known:
    /// `(out, of, slot, codes, other)` and `(out, of, slot)`.
    shares: Vec<(usize, Of, usize, Vec<i64>, bool)>,
    distincts: Vec<(usize, Of, usize)>,
}

/// A slot whose shares list at most this many codes, with no distinct count, is counted
/// code by code rather than in a hist.
const MAX_CODE_COUNTS: usize = 2;

#[derive(Debug, Clone, Copy)]
enum Count {
    Distinct(usize),
    Switches(usize),
}

impl<'a> Builder<'a> {
    fn new(names: Vec<String>, table: &'a Slots) -> Self {
        Builder {
            table,
            plan: Plan {
                names,
                writes: Writes::default(),
                number_slots: Vec::new(),
                hists: Vec::new(),
                code_counts: Vec::new(),
                switches: Vec::new(),
                code_folds: Folds::default(),
                number_folds: Folds::default(),
                initial_cells: Vec::new(),
                tallies: 0,
                needs: Needs::default(),
                category_slot: None,
            },
            cells: Vec::new(),
            counts: Vec::new(),
            shares: Vec::new(),
            distincts: Vec::new(),
        }
    }

    /// The slot holding `of`, kept from first use.
    fn slot(&mut self, of: Of) -> usize {
        let slot = of.index();
        if self.plan.number_slots.len() <= slot {
            self.plan.number_slots.resize(slot + 1, false);
        }
        self.plan.number_slots[slot] = self.table.of(of).is_some_and(|s| s.kind == Kind::Number);
        slot
    }

    fn is_number(&self, slot: usize) -> bool {
        self.plan.number_slots.get(slot).copied().unwrap_or(false)
    }

    /// The per-code counts of a coded slot, placed on first use over the table's range.
    fn hist(&mut self, of: Of, slot: usize) -> usize {
        if let Some(i) = self.plan.hists.iter().position(|h| h.slot == slot) {
            return i;
        }
        let (lowest, highest) = self.table.of(of).and_then(|s| s.range).unwrap_or((0, 0));
        let span = highest.abs_diff(lowest).saturating_add(1).min(MAX_BUCKETS);
        let base = self.plan.tallies;
        self.plan.tallies += span as usize;
        self.plan.hists.push(Hist {
            slot,
            lowest,
            span,
            base,
            // Placed in `finish`, after every hist's counts.
            distinct: usize::MAX,
            distinct_read: false,
        });
        self.plan.hists.len() - 1
    }

    fn switches(&mut self, slot: usize) -> usize {
        if let Some(i) = self.plan.switches.iter().position(|c| c.slot == slot) {
            return i;
        }
        self.plan.switches.push(Counted {
            slot,
            count: usize::MAX,
        });
        self.plan.switches.len() - 1
    }

    /// The cell of a slot's running maximum (`max`) or sum, added on first use.
    fn cell(&mut self, slot: usize, max: bool) -> usize {
        let found = self.cells.iter().position(|&c| c == (slot, max));
        found.unwrap_or_else(|| {
            self.cells.push((slot, max));
            self.cells.len() - 1
        })
    }

    /// A share over `codes` of a hist: its per-code counts and its codes out of range.
    fn share(&mut self, out: usize, hist: usize, codes: &[i64], other: bool) {
        let h = self.plan.hists[hist];
        let w = &mut self.plan.writes;
        let (counts, strays) = (w.share_counts.len(), w.share_strays.len());
        for &code in codes {
            let at = code.wrapping_sub(h.lowest) as u64;
            if at < h.span {
                w.share_counts.push(h.base + at as usize);
            } else {
                w.share_strays.push((hist, code));
            }
        }
        if let ([count], true) = (&w.share_counts[counts..], strays == w.share_strays.len()) {
            let single = (out, *count, other);
            w.share_counts.truncate(counts);
            w.single_shares.push(single);
            return;
        }
        w.shares.push(ShareWrite {
            out,
            counts: (counts, w.share_counts.len()),
            strays: (strays, w.share_strays.len()),
            other,
        });
    }

    /// A share over `codes` of a slot counted code by code.
    fn share_of_codes(&mut self, out: usize, slot: usize, codes: &[i64], other: bool) {
        let mut tallies: Vec<usize> = Vec::with_capacity(codes.len());
        for &code in codes {
            let found = self
                .plan
                .code_counts
                .iter()
                .find(|&&(s, c, _)| s == slot && c == code);
            let tally = match found {
                Some(&(_, _, tally)) => tally,
                None => {
                    let tally = self.plan.tallies;
                    self.plan.tallies += 1;
                    self.plan.code_counts.push((slot, code, tally));
                    tally
                }
            };
            tallies.push(tally);
        }
        let w = &mut self.plan.writes;
        if let [tally] = tallies[..] {
            w.single_shares.push((out, tally, other));
        } else {
            let counts = w.share_counts.len();
            w.share_counts.extend(tallies);
            w.shares.push(ShareWrite {
                out,
                counts: (counts, w.share_counts.len()),
                strays: (0, 0),
                other,
            });
        }
    }

    /// Places the shares and distinct counts: a slot with a distinct count, or whose
    /// shares list more than [`MAX_CODE_COUNTS`] codes, gets a hist; the others count
    /// their listed codes one by one.
    fn place_shares(&mut self) {
        let shares = std::mem::take(&mut self.shares);
        let distincts = std::mem::take(&mut self.distincts);
        let hist_slot = |slot: usize| {
            let listed: HashSet<i64> = shares
                .iter()
                .filter(|s| s.2 == slot)
                .flat_map(|s| s.3.iter().copied())
                .collect();
            distincts.iter().any(|d| d.2 == slot) || listed.len() > MAX_CODE_COUNTS
        };
        for &(out, of, slot) in &distincts {
            let hist = self.hist(of, slot);
            self.plan.hists[hist].distinct_read = true;
            self.counts.push((out, Count::Distinct(hist)));
        }
        for (out, of, slot, codes, other) in &shares {
            if hist_slot(*slot) {
                let hist = self.hist(*of, *slot);
                self.share(*out, hist, codes, *other);
            } else {
                self.share_of_codes(*out, *slot, codes, *other);
            }
        }
    }

    fn feature(&mut self, out: usize, r: &Resolved, all: &[Resolved]) {
        // Only the families that take `of` read `slot`, and `check` made them give it.
        let of = r.of.unwrap_or(Of::Category);
        let slot = r.of.map_or(usize::MAX, |of| self.slot(of));
        let at = usize::from(r.at);
        // `other` is the complement of what the family's other features over the same
        // attribute (and click) list.
        let listed = || {
            let mut v: Vec<i64> = all
                .iter()
                .filter(|o| o.family == r.family && o.of == r.of && o.at == r.at && !o.other)
                .flat_map(|o| o.values.iter().copied())
                .collect();
            v.sort_unstable();
            v.dedup();
            v
        };
        let scalar = match r.family {
            Family::Clicks => Scalar::Clicks,
            Family::LogClicks => {
                self.plan.needs.log_clicks = true;
                Scalar::LogClicks
            }
            Family::DistinctProducts => {
                self.plan.needs.views = true;
                Scalar::DistinctProducts
            }
            Family::DistinctProductShare => {
                self.plan.needs.views = true;
                Scalar::DistinctProductShare
            }
            Family::RepeatViews => {
                self.plan.needs.views = true;
                Scalar::RepeatViews
            }
            Family::Share => {
                let codes = if r.other { listed() } else { r.values.clone() };
                self.shares.push((out, of, slot, codes, r.other));
                return;
            }
            Family::FirstIs | Family::Is => {
                let codes = if r.other { listed() } else { r.values.clone() };
                self.plan.writes.is.push(IsWrite {
                    out,
                    slot,
                    at: (r.family == Family::Is).then_some(at),
                    listed: Listed::of(&codes),
                    other: r.other,
                });
                return;
            }
            Family::Distinct => {
                self.distincts.push((out, of, slot));
                return;
            }
            Family::Switches | Family::Changes => {
                let i = self.switches(slot);
                self.counts.push((out, Count::Switches(i)));
                return;
            }
            Family::Max => {
                let cell = self.cell(slot, true);
                self.plan.writes.cells.push((out, cell));
                return;
            }
            Family::Mean => {
                let cell = self.cell(slot, false);
                self.plan.writes.means.push((out, cell));
                return;
            }
            Family::Value => {
                if self.is_number(slot) {
                    self.plan.writes.number_values.push((out, at, slot));
                } else {
                    self.plan.writes.code_values.push((out, at, slot));
                }
                return;
            }
            Family::PriceMean => Scalar::PriceMean,
            Family::PriceMin => Scalar::PriceMin,
            Family::PriceMax => Scalar::PriceMax,
            Family::PriceSpread => Scalar::PriceSpread,
            Family::PriceStd => {
                self.plan.needs.price_std = true;
                Scalar::PriceStd
            }
            Family::Weekday => {
                self.plan.needs.weekday = true;
                Scalar::Weekday
            }
            Family::Weekend => {
                self.plan.needs.weekday = true;
                Scalar::Weekend
            }
            Family::Price => {
                self.plan.writes.prices.push((out, at));
                return;
            }
            Family::SameCategory => {
                self.plan.writes.same_category.push((out, at));
                return;
            }
            Family::LastPriceVsMean => Scalar::LastPriceVsMean,
            Family::LastSeenBefore => {
                self.plan.needs.views = true;
                Scalar::LastSeenBefore
            }
            Family::LastViewCount => {
                self.plan.needs.views = true;
                Scalar::LastViewCount
            }
            Family::LastSameCategoryRun => {
                self.plan.needs.same_category_run = true;
                Scalar::LastSameCategoryRun
            }
            Family::ProductNextRateLast => self.rates(Scalar::ProductNextRateLast),
            Family::ProductNextRatePrevious => self.rates(Scalar::ProductNextRatePrevious),
            Family::ProductNextRateMean => self.rates(Scalar::ProductNextRateMean),
            Family::ProductNextRateMax => self.rates(Scalar::ProductNextRateMax),
            Family::ProductSessionRateLast => self.rates(Scalar::ProductSessionRateLast),
            Family::ProductSessionRateMean => self.rates(Scalar::ProductSessionRateMean),
            Family::Duration => self.time(Scalar::Duration),
            Family::TimePerClick => self.time(Scalar::TimePerClick),
            Family::TimeSincePrevious => self.time(Scalar::TimeSincePrevious),
            Family::PriceVsCategory => self.category_price(Scalar::PriceVsCategory),
            Family::ShareAboveCategoryPrice => self.category_price(Scalar::ShareAboveCategoryPrice),
            Family::PriceVsCategoryMean => self.category_price(Scalar::PriceVsCategoryMean),
            Family::GapLogMean => self.time(Scalar::GapLogMean),
            Family::UnseenProductShare => {
                self.plan.needs.unseen = true;
                Scalar::UnseenProductShare
            }
        };
        self.plan.writes.scalars.push((out, scalar));
    }

    fn rates(&mut self, scalar: Scalar) -> Scalar {
        self.plan.needs.rates = true;
        scalar
    }

    fn time(&mut self, scalar: Scalar) -> Scalar {
        self.plan.needs.time = true;
        scalar
    }

    fn category_price(&mut self, scalar: Scalar) -> Scalar {
        self.plan.needs.category_price = true;
        scalar
    }

    /// Places the distinct and switch counts after the per-code counts, and the cells.
    fn finish(mut self) -> Plan {
        self.place_shares();
        for h in &mut self.plan.hists {
            h.distinct = self.plan.tallies;
            self.plan.tallies += 1;
        }
        for s in &mut self.plan.switches {
            s.count = self.plan.tallies;
            self.plan.tallies += 1;
        }
        for &(out, count) in &self.counts {
            let at = match count {
                Count::Distinct(h) => self.plan.hists[h].distinct,
                Count::Switches(s) => self.plan.switches[s].count,
            };
            self.plan.writes.counts.push((out, at));
        }
        for (cell, &(slot, max)) in self.cells.iter().enumerate() {
            let number = self.plan.number_slots.get(slot).copied().unwrap_or(false);
            let folds = if number {
                &mut self.plan.number_folds
            } else {
                &mut self.plan.code_folds
            };
            if max {
                folds.max.push((slot, cell));
                self.plan.initial_cells.push(f64::NEG_INFINITY);
            } else {
                folds.sum.push((slot, cell));
                // `Iterator::sum` of f64 starts from -0.0; so does this, for the same bits.
                self.plan.initial_cells.push(-0.0);
            }
        }
        self.plan
    }
}

static UCI_PLAN: LazyLock<Plan> = LazyLock::new(|| {
    SchemaFile::parse(UCI_FILE)
        .map_err(|e| PlanError::Toml(e.to_string()))
        .and_then(|file| FeaturePlan::from_schema(&file))
        .and_then(|plan| plan.compile(&Slots::of_table(&UCI)))
        .unwrap_or_else(|e| panic!("The UCI plan built into the binary is invalid: {e}."))
});
