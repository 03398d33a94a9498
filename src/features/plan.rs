//! The feature plan: which features a schema's models read, in order, each a family of
//! docs/schema.md ("Features over any schema") with its parameters. [`FeaturePlan`] is the
//! plan as a schema file writes it (`[[feature]]` entries); [`FeaturePlan::compile`] checks
//! it against the shop's click table once and gives the [`Plan`] the extractor runs: what
//! each click must update (a handful of tracked attributes) and what each feature reads.

use crate::domain::schema::{ClickSchema, FieldSpec, Kind, Role};
use crate::domain::schema_file::{SchemaFile, UCI_FILE};
use crate::domain::Field;
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

/// The widest run of codes, from the lowest to the highest, that the `share` features of
/// one attribute may list: each click finds its code's count at its position in the run.
pub const MAX_SPAN: u64 = 4096;

/// The widest bitset of distinct values, in 32-bit words: wider ranges keep the values
/// past it in a list.
const MAX_BITSET_WORDS: usize = 1024;

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

    /// Why the extractor cannot compute the family yet, if it cannot.
    fn unavailable(self) -> Option<&'static str> {
        match self {
            Family::Duration | Family::TimePerClick | Family::TimeSincePrevious => {
                Some("it needs the click's timestamp, which the click does not carry yet")
            }
            Family::PriceVsCategory | Family::ShareAboveCategoryPrice => {
                Some("it needs category prices learned at training, which models do not record yet")
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
    Attribute(Field),
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
    #[error(
        "feature {feature:?}: the shares of its attribute list codes {span} apart; they may \
         span at most {MAX_SPAN}"
    )]
    SpreadOut { feature: String, span: u64 },
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
    pub fn compile(&self, table: &ClickSchema) -> Result<Plan, PlanError> {
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
        for (spec, r) in self.features.iter().zip(&resolved) {
            let op = builder.op(r, &resolved);
            if let Some(span) = (0..builder.keys.len())
                .map(|slot| builder.span(slot))
                .find(|&span| span > MAX_SPAN)
            {
                return Err(PlanError::SpreadOut {
                    feature: spec.name.clone(),
                    span,
                });
            }
            builder.plan.ops.push(op);
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

fn check(spec: &FeatureSpec, table: &ClickSchema) -> Result<Resolved, PlanError> {
    let family = spec.family;
    let family_name = || family_name(family);
    let feature = || spec.name.clone();
    if let Some(why) = family.unavailable() {
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
/// attribute of the click table.
fn resolve(name: &str, table: &ClickSchema) -> Option<(Of, Kind)> {
    if name == "category" {
        let spec = table.fields.iter().find(|s| s.role == Role::Category)?;
        return Some((Of::Category, spec.kind()));
    }
    let spec = table.named(name).filter(|s| s.role == Role::Attribute)?;
    matches!(spec.kind(), Kind::Whole | Kind::Number)
        .then_some((Of::Attribute(spec.field), spec.kind()))
}

/// The table's row of the category or an attribute.
fn resolve_spec(of: Of, table: &ClickSchema) -> Option<&FieldSpec> {
    match of {
        Of::Category => table.fields.iter().find(|s| s.role == Role::Category),
        Of::Attribute(field) => table.spec(field),
    }
}

fn known_of(table: &ClickSchema) -> String {
    let attributes = table
        .fields
        .iter()
        .filter(|s| s.role == Role::Attribute && s.kind() != Kind::Text)
        .map(|s| s.name.as_ref());
    std::iter::once("category")
        .chain(attributes)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The compiled plan: the names in vector order, what each click updates and what each
/// feature reads. Built once per schema; every accumulator borrows it.
///
/// Per click, an accumulator copies the click's values (the category's and attributes', as
/// far as the plan reads them) into a row of a ring of the last three clicks' rows, and
/// then runs a few short lists (`switches`, `shares`, `distincts`, `maxima`, `sums`), each
/// touching only the attributes that need it: no loop over the features, no name, no
/// allocation per click.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub(super) names: Vec<String>,
    /// What each feature writes, in row order: what `writes` is grouped from.
    pub(super) ops: Vec<Op>,
    /// The same features grouped by what they read, each with its place in the row: a
    /// row is written list by list, each loop of one kind, not feature by feature.
    pub(super) writes: Writes,
    /// What each slot holds: a click's value at [`Of::index`] is its slot, so a row is
    /// the click's values copied whole, up to the last the plan reads.
    pub(super) reads: Vec<Option<Of>>,
    /// Whether a slot holds a number's bits rather than a code.
    pub(super) number_slots: Vec<bool>,
    pub(super) switches: Vec<Counted>,
    pub(super) shares: Vec<Shares>,
    pub(super) distincts: Vec<DistinctSet>,
    pub(super) maxima: Vec<Folded>,
    pub(super) sums: Vec<Folded>,
    /// Each counted code's position in the tallies, by attribute (see [`Shares`]).
    pub(super) lookup: Vec<u32>,
    /// An accumulator's running maxima and sums before the first click.
    pub(super) initial_cells: Vec<f64>,
    /// Length of an accumulator's tallies: counts and bitsets.
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
}

/// A plan's features grouped by what they read; each entry starts with the feature's place
/// in the row.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Writes {
    /// Features of the prefix as a whole, from the accumulator's [`Scalar`]s.
    pub scalars: Vec<(usize, Scalar)>,
    /// Shares: the counts from `start` to `end` in `share_counts`, over the clicks.
    pub shares: Vec<(usize, usize, usize)>,
    pub share_counts: Vec<usize>,
    /// A count in the tallies, as it is.
    pub counts: Vec<(usize, usize)>,
    /// A cell, as it is or over the clicks.
    pub cells: Vec<(usize, usize)>,
    pub means: Vec<(usize, usize)>,
    /// A slot's value `at` clicks back.
    pub values: Vec<(usize, usize, u8)>,
    /// Whether a slot's value is listed.
    pub is: Vec<IsWrite>,
    /// The price `at` clicks back.
    pub prices: Vec<(usize, u8)>,
    /// Whether the click `at` back has the last click's category.
    pub same_category: Vec<(usize, u8)>,
}

/// The test of an `is` or `first_is` feature.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct IsWrite {
    pub out: usize,
    pub slot: usize,
    /// Clicks back, or the first click.
    pub at: Option<u8>,
    pub values: Vec<i64>,
    pub other: bool,
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
}

impl Scalar {
    pub const COUNT: usize = 22;
}

/// A count kept for one slot: the clicks whose value differs from the click before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Counted {
    pub slot: usize,
    /// Its place in the tallies.
    pub count: usize,
}

/// The counts of the codes some `share` of one slot lists: a code from `first` to
/// `first + span - 1` finds its count's place in the tallies at `lookup[lookup_at + code -
/// first]`; any other code counts at `unlisted`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Shares {
    pub slot: usize,
    pub first: i64,
    pub span: u64,
    pub lookup_at: usize,
    pub unlisted: usize,
}

/// The distinct values of one slot: a bitset of the table's range from `lowest`, `words`
/// long from `bits` in the tallies (values outside it, which a checked click cannot hold,
/// go to a small list), and their count at `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct DistinctSet {
    pub slot: usize,
    pub lowest: i64,
    pub words: usize,
    pub bits: usize,
    pub count: usize,
}

/// A running maximum or sum of one slot, kept in the cells at `cell`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Folded {
    pub slot: usize,
    pub cell: usize,
    /// The slot holds a number's bits, not a code.
    pub number: bool,
}

/// What one feature writes.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Op {
    Clicks,
    LogClicks,
    DistinctProducts,
    DistinctProductShare,
    RepeatViews,
    /// The share of clicks whose code is one of `codes`: the sum of these counts (placed
    /// once the plan's every listed code is known).
    Share {
        slot: usize,
        codes: Vec<i64>,
        counts: Vec<usize>,
    },
    /// The share of clicks whose code none of the slot's shares lists: the count there.
    ShareOther {
        slot: usize,
        count: usize,
    },
    /// Whether the click `at` back (or the first, `at: None`) holds one of `values`, or,
    /// with `other`, none of them.
    Is {
        slot: usize,
        at: Option<u8>,
        values: Vec<i64>,
        other: bool,
    },
    /// A count in the tallies, as it is (distinct values, switches).
    Count {
        count: usize,
    },
    /// A running maximum in the cells.
    Cell {
        cell: usize,
    },
    /// A running sum in the cells over the clicks: a mean.
    CellMean {
        cell: usize,
    },
    Value {
        slot: usize,
        at: u8,
    },
    PriceMean,
    PriceMin,
    PriceMax,
    PriceSpread,
    PriceStd,
    Weekday,
    Weekend,
    Price {
        at: u8,
    },
    SameCategory {
        at: u8,
    },
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
}

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

    /// The tracked attributes: the ring's rows and the first click's row are this wide.
    pub(super) fn width(&self) -> usize {
        self.reads.len()
    }
}

/// Compiles checked features into a [`Plan`]: places every slot, count and cell.
struct Builder<'a> {
    table: &'a ClickSchema,
    plan: Plan,
    /// Per slot: the codes its shares list, sorted.
    keys: Vec<Vec<i64>>,
    /// Per cell, its slot and whether it is a maximum (else a sum).
    cells: Vec<(usize, bool)>,
}

impl<'a> Builder<'a> {
    fn new(names: Vec<String>, table: &'a ClickSchema) -> Self {
        Builder {
            table,
            plan: Plan {
                names,
                ops: Vec::new(),
                writes: Writes::default(),
                reads: Vec::new(),
                number_slots: Vec::new(),
                switches: Vec::new(),
                shares: Vec::new(),
                distincts: Vec::new(),
                maxima: Vec::new(),
                sums: Vec::new(),
                lookup: Vec::new(),
                initial_cells: Vec::new(),
                tallies: 0,
                needs: Needs::default(),
                category_slot: None,
            },
            keys: Vec::new(),
            cells: Vec::new(),
        }
    }

    /// The slot holding `of`, kept from first use.
    fn slot(&mut self, of: Of) -> usize {
        let slot = of.index();
        if self.plan.reads.len() <= slot {
            self.plan.reads.resize(slot + 1, None);
            self.plan.number_slots.resize(slot + 1, false);
            self.keys.resize(slot + 1, Vec::new());
        }
        self.plan.reads[slot] = Some(of);
        self.plan.number_slots[slot] =
            resolve_spec(of, self.table).is_some_and(|s| s.kind() == Kind::Number);
        slot
    }

    /// A new place in the tallies, `len` long.
    fn tally(&mut self, len: usize) -> usize {
        self.plan.tallies += len;
        self.plan.tallies - len
    }

    fn switches(&mut self, slot: usize) -> usize {
        if let Some(c) = self.plan.switches.iter().find(|c| c.slot == slot) {
            return c.count;
        }
        let count = self.tally(1);
        self.plan.switches.push(Counted { slot, count });
        count
    }

    fn distinct(&mut self, slot: usize) -> usize {
        if let Some(d) = self.plan.distincts.iter().find(|d| d.slot == slot) {
            return d.count;
        }
        let spec = self.plan.reads[slot].and_then(|of| resolve_spec(of, self.table));
        let (lowest, highest) = spec.and_then(|s| s.whole_range()).unwrap_or((0, 0));
        // A range too wide for a bitset leaves its values to the small list.
        let words = usize::try_from(highest.saturating_sub(lowest) / 32 + 1)
            .unwrap_or(0)
            .min(MAX_BITSET_WORDS);
        let count = self.tally(1);
        let bits = self.tally(words);
        self.plan.distincts.push(DistinctSet {
            slot,
            lowest,
            words,
            bits,
            count,
        });
        count
    }

    /// The cell of a slot's running maximum (`max`) or sum, added on first use.
    /// The cell of a slot's running maximum or sum, added on first use.
    fn cell(&mut self, slot: usize, max: bool) -> usize {
        let found = self.cells.iter().position(|&c| c == (slot, max));
        found.unwrap_or_else(|| {
            self.cells.push((slot, max));
            self.cells.len() - 1
        })
    }

    fn op(&mut self, r: &Resolved, all: &[Resolved]) -> Op {
        // Only the families that take `of` read `slot`, and `check` made them give it.
        let slot = r.of.map_or(usize::MAX, |of| self.slot(of));
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
        let needs = &mut self.plan.needs;
        match r.family {
            Family::Clicks => Op::Clicks,
            Family::LogClicks => {
                needs.log_clicks = true;
                Op::LogClicks
            }
            Family::DistinctProducts => {
                needs.views = true;
                Op::DistinctProducts
            }
            Family::DistinctProductShare => {
                needs.views = true;
                Op::DistinctProductShare
            }
            Family::RepeatViews => {
                needs.views = true;
                Op::RepeatViews
            }
            Family::Share if r.other => {
                let keys = listed();
                self.add_keys(slot, &keys);
                Op::ShareOther { slot, count: 0 }
            }
            Family::Share => {
                self.add_keys(slot, &r.values);
                Op::Share {
                    slot,
                    codes: r.values.clone(),
                    counts: Vec::new(),
                }
            }
            Family::FirstIs | Family::Is => Op::Is {
                slot,
                at: (r.family == Family::Is).then_some(r.at),
                values: if r.other { listed() } else { r.values.clone() },
                other: r.other,
            },
            Family::Distinct => Op::Count {
                count: self.distinct(slot),
            },
            Family::Switches | Family::Changes => Op::Count {
                count: self.switches(slot),
            },
            Family::Max => Op::Cell {
                cell: self.cell(slot, true),
            },
            Family::Mean => Op::CellMean {
                cell: self.cell(slot, false),
            },
            Family::Value => Op::Value { slot, at: r.at },
            Family::PriceMean => Op::PriceMean,
            Family::PriceMin => Op::PriceMin,
            Family::PriceMax => Op::PriceMax,
            Family::PriceSpread => Op::PriceSpread,
            Family::PriceStd => {
                needs.price_std = true;
                Op::PriceStd
            }
            Family::Weekday => {
                needs.weekday = true;
                Op::Weekday
            }
            Family::Weekend => {
                needs.weekday = true;
                Op::Weekend
            }
            Family::Price => Op::Price { at: r.at },
            Family::SameCategory => Op::SameCategory { at: r.at },
            Family::LastPriceVsMean => Op::LastPriceVsMean,
            Family::LastSeenBefore => {
                needs.views = true;
                Op::LastSeenBefore
            }
            Family::LastViewCount => {
                needs.views = true;
                Op::LastViewCount
            }
            Family::LastSameCategoryRun => {
                needs.same_category_run = true;
                Op::LastSameCategoryRun
            }
            Family::ProductNextRateLast => self.rates(Op::ProductNextRateLast),
            Family::ProductNextRatePrevious => self.rates(Op::ProductNextRatePrevious),
            Family::ProductNextRateMean => self.rates(Op::ProductNextRateMean),
            Family::ProductNextRateMax => self.rates(Op::ProductNextRateMax),
            Family::ProductSessionRateLast => self.rates(Op::ProductSessionRateLast),
            Family::ProductSessionRateMean => self.rates(Op::ProductSessionRateMean),
            // `check` refused these.
            Family::PriceVsCategory
            | Family::ShareAboveCategoryPrice
            | Family::Duration
            | Family::TimePerClick
            | Family::TimeSincePrevious => Op::Clicks,
        }
    }

    fn rates(&mut self, op: Op) -> Op {
        self.plan.needs.rates = true;
        op
    }

    fn add_keys(&mut self, slot: usize, codes: &[i64]) {
        let keys = &mut self.keys[slot];
        for &code in codes {
            if let Err(i) = keys.binary_search(&code) {
                keys.insert(i, code);
            }
        }
    }

    /// How many codes the slot's listed ones run over, from the lowest to the highest.
    fn span(&self, slot: usize) -> u64 {
        match self.keys.get(slot).map(|k| (k.first(), k.last())) {
            Some((Some(&first), Some(&last))) => last.abs_diff(first).saturating_add(1),
            _ => 0,
        }
    }

    /// Places the share counts and the cells, and points the features at them.
    fn finish(mut self) -> Plan {
        let mut unlisted_of = vec![usize::MAX; self.keys.len()];
        let mut counts_of = vec![0; self.keys.len()];
        for slot in 0..self.keys.len() {
            let span = self.span(slot);
            let Some(&first) = self.keys[slot].first() else {
                continue;
            };
            let counts = self.tally(self.keys[slot].len() + 1);
            let unlisted = counts + self.keys[slot].len();
            let lookup_at = self.plan.lookup.len();
            let keys = &self.keys[slot];
            // At most MAX_SPAN codes, as `compile` checked.
            self.plan.lookup.extend((0..span).map(|at| {
                let code = first.saturating_add_unsigned(at);
                let place = keys.binary_search(&code).map_or(unlisted, |k| counts + k);
                place as u32
            }));
            self.plan.shares.push(Shares {
                slot,
                first,
                span,
                lookup_at,
                unlisted,
            });
            unlisted_of[slot] = unlisted;
            counts_of[slot] = counts;
        }
        for (cell, &(slot, max)) in self.cells.iter().enumerate() {
            let placed = Folded {
                slot,
                cell,
                number: self.plan.number_slots.get(slot).copied().unwrap_or(false),
            };
            if max {
                self.plan.maxima.push(placed);
                self.plan.initial_cells.push(f64::NEG_INFINITY);
            } else {
                self.plan.sums.push(placed);
                // `Iterator::sum` of f64 starts from -0.0; so does this, for the same bits.
                self.plan.initial_cells.push(-0.0);
            }
        }
        for op in &mut self.plan.ops {
            match op {
                Op::ShareOther { slot, count } => *count = unlisted_of[*slot],
                Op::Share {
                    slot,
                    codes,
                    counts,
                } => {
                    let keys = &self.keys[*slot];
                    *counts = codes
                        .iter()
                        .filter_map(|code| keys.binary_search(code).ok())
                        .map(|k| counts_of[*slot] + k)
                        .collect();
                }
                _ => {}
            }
        }
        self.plan.writes = group(&self.plan.ops);
        self.plan
    }
}
static UCI_PLAN: LazyLock<Plan> = LazyLock::new(|| {
    SchemaFile::parse(UCI_FILE)
        .map_err(|e| PlanError::Toml(e.to_string()))
        .and_then(|file| FeaturePlan::from_schema(&file))
        .and_then(|plan| plan.compile(&UCI))
        .unwrap_or_else(|e| panic!("The UCI plan built into the binary is invalid: {e}."))
});

/// The plan's features grouped by kind, each with its place in the row.
fn group(ops: &[Op]) -> Writes {
    let mut w = Writes::default();
    for (out, op) in ops.iter().enumerate() {
        let scalar = match op {
            Op::Clicks => Scalar::Clicks,
            Op::LogClicks => Scalar::LogClicks,
            Op::DistinctProducts => Scalar::DistinctProducts,
            Op::DistinctProductShare => Scalar::DistinctProductShare,
            Op::RepeatViews => Scalar::RepeatViews,
            Op::PriceMean => Scalar::PriceMean,
            Op::PriceMin => Scalar::PriceMin,
            Op::PriceMax => Scalar::PriceMax,
            Op::PriceSpread => Scalar::PriceSpread,
            Op::PriceStd => Scalar::PriceStd,
            Op::Weekday => Scalar::Weekday,
            Op::Weekend => Scalar::Weekend,
            Op::LastPriceVsMean => Scalar::LastPriceVsMean,
            Op::LastSeenBefore => Scalar::LastSeenBefore,
            Op::LastViewCount => Scalar::LastViewCount,
            Op::LastSameCategoryRun => Scalar::LastSameCategoryRun,
            Op::ProductNextRateLast => Scalar::ProductNextRateLast,
            Op::ProductNextRatePrevious => Scalar::ProductNextRatePrevious,
            Op::ProductNextRateMean => Scalar::ProductNextRateMean,
            Op::ProductNextRateMax => Scalar::ProductNextRateMax,
            Op::ProductSessionRateLast => Scalar::ProductSessionRateLast,
            Op::ProductSessionRateMean => Scalar::ProductSessionRateMean,
            Op::Share { counts, .. } => {
                let start = w.share_counts.len();
                w.share_counts.extend_from_slice(counts);
                w.shares.push((out, start, w.share_counts.len()));
                continue;
            }
            Op::ShareOther { count, .. } => {
                w.share_counts.push(*count);
                w.shares
                    .push((out, w.share_counts.len() - 1, w.share_counts.len()));
                continue;
            }
            Op::Is {
                slot,
                at,
                values,
                other,
            } => {
                w.is.push(IsWrite {
                    out,
                    slot: *slot,
                    at: *at,
                    values: values.clone(),
                    other: *other,
                });
                continue;
            }
            Op::Count { count } => {
                w.counts.push((out, *count));
                continue;
            }
            Op::Cell { cell } => {
                w.cells.push((out, *cell));
                continue;
            }
            Op::CellMean { cell } => {
                w.means.push((out, *cell));
                continue;
            }
            Op::Value { slot, at } => {
                w.values.push((out, *slot, *at));
                continue;
            }
            Op::Price { at } => {
                w.prices.push((out, *at));
                continue;
            }
            Op::SameCategory { at } => {
                w.same_category.push((out, *at));
                continue;
            }
        };
        w.scalars.push((out, scalar));
    }
    w
}
