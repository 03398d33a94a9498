//! What training learns of a shop's values, and the coded click the features read. A
//! [`Catalogue`] holds the most clicked categories, every category's mean price and each
//! categorical attribute's most frequent values; the model file carries it beside the
//! schema, and [`Catalogue::code`] turns a parsed [`ShopClick`] into a [`CodedClick`] by it,
//! so a value never seen in training is scored as "other" and counted, never refused.

use super::shop::{ShopClick, ShopSchema, ShopSession, Value};
use super::ProductKey;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// The code of a category or categorical value outside the learned vocabulary.
pub const OTHER: i64 = 0;

/// How many categories and values per attribute a catalogue keeps by default: enough for
/// a category mix to tell a shop's departments apart, few enough for a row to stay small.
pub const TOP_CATEGORIES: usize = 12;
pub const TOP_VALUES: usize = 16;

/// What training learned of a shop's values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Catalogue {
    /// The most clicked categories, most clicked first: coded 1, 2, ... in this order.
    pub categories: Vec<String>,
    /// Every training category's mean price, by name.
    pub category_prices: BTreeMap<String, f64>,
    /// The mean price of all training clicks: the reference of an unseen category.
    pub mean_price: f64,
    /// Per declared attribute, in the schema's order: a categorical one's most frequent
    /// values, coded 1, 2, ... in this order; empty for a coded or numeric one.
    pub attributes: Vec<Vec<String>>,
}

/// A click as the features read it: its values coded by a catalogue.
#[derive(Debug, Clone, PartialEq)]
pub struct CodedClick {
    pub date: NaiveDate,
    /// Milliseconds since the epoch, when the schema has a timestamp.
    pub time: Option<i64>,
    /// The product id as given, unseen or not, and its key.
    pub product: String,
    pub product_key: ProductKey,
    pub price: f64,
    /// The category as given (cut to the schema's depth), for reports.
    pub category: String,
    /// The mean price of the click's category in training (the overall mean for a
    /// category training never saw).
    pub category_price: f64,
    /// The category's code, then each attribute's: a code of its vocabulary (learned or
    /// fixed), a whole number, or a number's bits (`f64::to_bits`).
    pub values: Vec<i64>,
}

/// A shop's session with its clicks coded, in click order, never empty.
#[derive(Debug, Clone, PartialEq)]
pub struct CodedSession {
    pub id: String,
    pub clicks: Vec<CodedClick>,
    /// One per declared passthrough column.
    pub passthrough: Vec<String>,
}

impl super::AnyClick for CodedClick {
    #[inline]
    fn product(&self) -> ProductKey {
        self.product_key
    }

    fn product_id(&self) -> super::ProductId {
        super::ProductId::of(&self.product)
    }

    fn price(&self) -> f64 {
        self.price
    }

    fn day(&self) -> NaiveDate {
        self.date
    }

    fn category_label(&self) -> std::borrow::Cow<'_, str> {
        self.category.as_str().into()
    }
}

impl super::AnySession for CodedSession {
    type Click = CodedClick;

    fn name(&self) -> &str {
        &self.id
    }

    fn clicks(&self) -> &[CodedClick] {
        &self.clicks
    }
}

/// Values a catalogue did not know: what the service counts, by field.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Unseen {
    /// Clicks on products the model's product table does not know (counted by the
    /// scorer, which holds the table).
    pub products: u64,
    pub category: u64,
    /// By attribute, in the schema's order (grown as needed).
    pub attributes: Vec<u64>,
}

impl Unseen {
    fn attribute(&mut self, k: usize) {
        if self.attributes.len() <= k {
            self.attributes.resize(k + 1, 0);
        }
        self.attributes[k] += 1;
    }

    /// Adds another session's counts.
    pub fn add(&mut self, other: &Unseen) {
        self.products += other.products;
        self.category += other.category;
        if self.attributes.len() < other.attributes.len() {
            self.attributes.resize(other.attributes.len(), 0);
        }
        for (mine, n) in self.attributes.iter_mut().zip(&other.attributes) {
            *mine += n;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.products == 0 && self.category == 0 && self.attributes.iter().all(|n| *n == 0)
    }

    /// The counts by field, named as the service's metric and the commands' summaries name
    /// them (`product`, `category`, then each attribute by its name); only those counted.
    pub fn by_field(&self, schema: &ShopSchema) -> Vec<(String, u64)> {
        let attributes = schema.attributes().map(|a| a.name.clone());
        [
            ("product".to_owned(), self.products),
            ("category".to_owned(), self.category),
        ]
        .into_iter()
        .chain(attributes.zip(self.attributes.iter().copied()))
        .filter(|(_, n)| *n > 0)
        .collect()
    }
}

/// Values no catalogue knew, by field ([`Unseen::by_field`]), on one line: what `score`
/// and `evaluate` say where the service counts `unseen_values_total`.
pub fn unseen_words(by_field: &[(String, u64)]) -> String {
    if by_field.is_empty() {
        return "unseen values: none".to_owned();
    }
    let counts: Vec<String> = by_field.iter().map(|(f, n)| format!("{f} {n}")).collect();
    format!("unseen values (new since training): {}", counts.join(", "))
}

/// The top `n` of counted names, most counted first, ties by name, so a catalogue is the
/// same whatever order the data came in.
fn top<'a>(counts: impl IntoIterator<Item = (&'a str, u64)>, n: usize) -> Vec<String> {
    let mut counted: Vec<(&str, u64)> = counts.into_iter().collect();
    counted.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    counted
        .into_iter()
        .take(n)
        .map(|(name, _)| name.to_owned())
        .collect()
}

/// `key`'s entry of `map` changed by `change`, begun at its default; the key is copied
/// only the first time it is met, not at every click.
fn tally<V: Default>(map: &mut HashMap<String, V>, key: &str, change: impl FnOnce(&mut V)) {
    match map.get_mut(key) {
        Some(value) => change(value),
        None => {
            let mut value = V::default();
            change(&mut value);
            map.insert(key.to_owned(), value);
        }
    }
}

/// A catalogue being learned from clicks as they stream past ([`Catalogue::learn`] is one
/// fed every click, then finished): it holds a count per distinct category and categorical
/// value and a price sum per category, never the clicks, so training can learn it over
/// every click of a file whose sessions it does not keep.
#[derive(Debug, Clone)]
pub struct Learner {
    /// Per declared attribute, whether its values are ranked (a categorical one's).
    categorical: Vec<bool>,
    /// Per category, its clicks and the sum of their prices, summed in click order.
    categories: HashMap<String, (u64, f64)>,
    /// Per declared attribute, its values' clicks (a categorical one's only).
    values: Vec<HashMap<String, u64>>,
    price_sum: f64,
    clicks: u64,
}

impl Learner {
    /// Nothing learned yet, of `schema`'s clicks.
    pub fn new(schema: &ShopSchema) -> Learner {
        let categorical: Vec<bool> = schema.attributes().map(|a| a.is_categorical()).collect();
        Learner {
            values: vec![HashMap::new(); categorical.len()],
            categorical,
            categories: HashMap::new(),
            price_sum: 0.0,
            clicks: 0,
        }
    }

    /// Learns from one more click.
    pub fn add(&mut self, click: &ShopClick) {
        tally(&mut self.categories, &click.category, |(count, sum)| {
            *count += 1;
            *sum += click.price;
        });
        self.price_sum += click.price;
        self.clicks += 1;
        for (k, value) in click.attributes.iter().enumerate() {
            if let (Some(true), Value::Text(text), Some(counts)) =
                (self.categorical.get(k), value, self.values.get_mut(k))
            {
                tally(counts, text, |n| *n += 1);
            }
        }
    }

    /// The catalogue of the clicks learned from: the `top_categories` most clicked
    /// categories and each categorical attribute's `top_values` most frequent values.
    pub fn finish(self, top_categories: usize, top_values: usize) -> Catalogue {
        let category_prices = self
            .categories
            .iter()
            .map(|(name, (count, sum))| (name.clone(), sum / (*count).max(1) as f64))
            .collect();
        Catalogue {
            categories: top(
                self.categories
                    .iter()
                    .map(|(name, (count, _))| (name.as_str(), *count)),
                top_categories,
            ),
            category_prices,
            mean_price: if self.clicks == 0 {
                0.0
            } else {
                self.price_sum / self.clicks as f64
            },
            attributes: self
                .values
                .iter()
                .zip(&self.categorical)
                .map(|(counts, categorical)| {
                    if *categorical {
                        top(counts.iter().map(|(v, n)| (v.as_str(), *n)), top_values)
                    } else {
                        Vec::new()
                    }
                })
                .collect(),
        }
    }
}

impl Catalogue {
    /// A session coded by this catalogue.
    pub fn code_session(
        &self,
        schema: &ShopSchema,
        session: &ShopSession,
        unseen: &mut Unseen,
    ) -> CodedSession {
        CodedSession {
            id: session.id.clone(),
            clicks: session
                .clicks
                .iter()
                .map(|c| self.code(schema, c, unseen))
                .collect(),
            passthrough: session.passthrough.clone(),
        }
    }

    /// Learns a catalogue from training clicks: a [`Learner`] fed each of them in turn.
    pub fn learn<'a>(
        schema: &ShopSchema,
        clicks: impl Iterator<Item = &'a ShopClick>,
        top_categories: usize,
        top_values: usize,
    ) -> Catalogue {
        let mut learner = Learner::new(schema);
        for click in clicks {
            learner.add(click);
        }
        learner.finish(top_categories, top_values)
    }

    /// The click coded by this catalogue; each value outside it is coded [`OTHER`] and its
    /// field noted in `unseen`.
    pub fn code(&self, schema: &ShopSchema, click: &ShopClick, unseen: &mut Unseen) -> CodedClick {
        let category_column = schema.column(super::schema::Role::Category);
        let category = match category_column.map(|c| &c.rule) {
            // A fixed vocabulary's codes are the shop's own: a coded category keeps its
            // code, and the ranking only chooses which codes get a share of their own.
            Some(super::schema::Rule::Codes(_) | super::schema::Rule::Whole { .. }) => {
                click.category.parse().unwrap_or(OTHER)
            }
            _ => match self.categories.iter().position(|c| *c == click.category) {
                Some(i) => i as i64 + 1,
                None => OTHER,
            },
        };
        let category_price = match self.category_prices.get(&click.category) {
            Some(price) => *price,
            None => {
                unseen.category += 1;
                self.mean_price
            }
        };
        let mut values = Vec::with_capacity(1 + click.attributes.len());
        values.push(category);
        for (k, (value, vocabulary)) in click.attributes.iter().zip(&self.attributes).enumerate() {
            values.push(match value {
                Value::Text(text) => match vocabulary.iter().position(|v| v == text) {
                    Some(i) => i as i64 + 1,
                    None => {
                        unseen.attribute(k);
                        OTHER
                    }
                },
                Value::Whole(v) => *v,
                Value::Number(v) => v.to_bits() as i64,
            });
        }
        CodedClick {
            date: click.date,
            time: click.time,
            product_key: ProductKey::of(&click.product),
            product: click.product.clone(),
            price: click.price,
            category: click.category.clone(),
            category_price,
            values,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA: &str = include_str!("../../examples/second-shop/schema.toml");

    fn click(category: &str, price: f64, device: &str) -> ShopClick {
        ShopClick {
            order: None,
            time: Some(0),
            date: NaiveDate::from_ymd_opt(2026, 4, 1).unwrap(),
            product: "p".into(),
            category: category.into(),
            price,
            attributes: vec![Value::Text(device.into())],
        }
    }

    #[test]
    fn the_most_clicked_come_first_and_the_unseen_are_other_and_counted() {
        let schema = ShopSchema::parse(SCHEMA).expect("compiles");
        let clicks = [
            click("tents", 100.0, "mobile"),
            click("boots", 50.0, "desktop"),
            click("boots", 70.0, "mobile"),
            click("socks", 5.0, "tablet"),
        ];
        let catalogue = Catalogue::learn(&schema, clicks.iter(), 2, 2);
        assert_eq!(catalogue.categories, ["boots", "socks"]);
        assert_eq!(
            catalogue.attributes,
            [vec!["mobile".to_owned(), "desktop".to_owned()]]
        );
        assert_eq!(catalogue.category_prices["boots"], 60.0);
        assert_eq!(catalogue.mean_price, 56.25);
        let mut unseen = Unseen::default();
        let coded = catalogue.code(&schema, &click("boots", 30.0, "mobile"), &mut unseen);
        assert_eq!(coded.values, [1, 1]);
        assert_eq!(coded.category_price, 60.0);
        assert!(unseen.is_empty());
        let coded = catalogue.code(&schema, &click("hats", 30.0, "watch"), &mut unseen);
        assert_eq!(coded.values, [OTHER, OTHER]);
        assert_eq!(coded.category_price, 56.25);
        assert_eq!(
            unseen,
            Unseen {
                products: 0,
                category: 1,
                attributes: vec![1]
            }
        );
        // Ranked out of the top two, but seen: its own mean price, not counted as unseen.
        let coded = catalogue.code(&schema, &click("tents", 30.0, "tablet"), &mut unseen);
        assert_eq!((coded.values[0], coded.category_price), (OTHER, 100.0));
    }

    #[test]
    fn a_learner_fed_session_by_session_is_learn_over_the_same_clicks_in_the_same_order() {
        let schema = ShopSchema::parse(SCHEMA).expect("compiles");
        // Prices whose sums depend on their order in floating point: the means must be
        // summed in click order, as learning over the file's clicks at once sums them.
        let sessions = [
            vec![click("a", 0.1, "mobile"), click("b", 1e16, "tablet")],
            vec![click("a", 0.2, "desktop")],
            vec![click("a", 0.3, "mobile"), click("b", 1.0, "mobile")],
        ];
        let mut learner = Learner::new(&schema);
        for session in &sessions {
            for click in session {
                learner.add(click);
            }
        }
        let streamed = learner.finish(TOP_CATEGORIES, TOP_VALUES);
        let at_once = Catalogue::learn(
            &schema,
            sessions.iter().flatten(),
            TOP_CATEGORIES,
            TOP_VALUES,
        );
        assert_eq!(streamed, at_once);
        assert_eq!(streamed.categories, ["a", "b"]);
        assert_eq!(streamed.category_prices["a"], (0.1 + 0.2 + 0.3) / 3.0);
        assert_eq!(streamed.category_prices["b"], (1e16 + 1.0) / 2.0);
        assert_eq!(
            streamed.mean_price,
            (0.1 + 1e16 + 0.2 + 0.3 + 1.0) / 5.0,
            "summed in click order"
        );
        assert_eq!(streamed.attributes, [["mobile", "desktop", "tablet"]]);
    }

    #[test]
    fn a_fixed_vocabulary_keeps_the_shops_own_codes_whatever_their_rank() {
        let schema = ShopSchema::parse(crate::domain::schema_file::UCI_FILE).expect("compiles");
        let uci = |category: &str| ShopClick {
            category: category.into(),
            attributes: vec![
                Value::Whole(29),
                Value::Whole(1),
                Value::Whole(1),
                Value::Whole(1),
                Value::Whole(2),
                Value::Whole(1),
            ],
            ..click(category, 10.0, "")
        };
        let clicks = [uci("3"), uci("3"), uci("1")];
        let catalogue = Catalogue::learn(&schema, clicks.iter(), 12, 16);
        assert_eq!(catalogue.categories, ["3", "1"]);
        let mut unseen = Unseen::default();
        assert_eq!(catalogue.code(&schema, &uci("3"), &mut unseen).values[0], 3);
        assert_eq!(catalogue.code(&schema, &uci("1"), &mut unseen).values[0], 1);
        assert_eq!(catalogue.code(&schema, &uci("4"), &mut unseen).values[0], 4);
    }
}
