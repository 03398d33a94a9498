use super::{Click, Field, FieldError, ProductId, ProductKey};
use std::fmt;

/// A click of any shop, as far as labels and the trainer need it: which product it shows
/// (the basket proxy and the product table compare them), its price and its day.
pub trait AnyClick: Clone + Send + Sync {
    /// The product's key, which compares and looks it up.
    fn product(&self) -> ProductKey;
    /// The product's id as a model file writes it.
    fn product_id(&self) -> ProductId;
    fn price(&self) -> f64;
    fn day(&self) -> chrono::NaiveDate;
    /// The category as reports name it.
    fn category_label(&self) -> std::borrow::Cow<'_, str>;
    /// The catalogue page, for shops whose clicks have one (the UCI shop's 1 to 5).
    fn page(&self) -> Option<u8> {
        None
    }
    /// The visitor's country, for shops whose clicks have one.
    fn country(&self) -> Option<&'static str> {
        None
    }
}

/// A session of any shop: its name and its clicks in click order, never empty.
pub trait AnySession: Send + Sync {
    type Click: AnyClick;
    fn name(&self) -> &str;
    fn clicks(&self) -> &[Self::Click];

    /// The day of the session's first click, which places it in time for the split.
    fn first_day(&self) -> chrono::NaiveDate {
        self.clicks()
            .first()
            .map_or(chrono::NaiveDate::MIN, AnyClick::day)
    }

    /// The UCI shop's session, when this is one: the golden self-tests of model files
    /// store UCI clicks (a shop's are stored once its models can be loaded).
    fn as_uci(&self) -> Option<&Session> {
        None
    }

    /// The month of its first click.
    fn month(&self) -> (i32, u32) {
        use chrono::Datelike;
        let day = self.first_day();
        (day.year(), day.month())
    }
}

impl AnyClick for Click {
    #[inline]
    fn product(&self) -> ProductKey {
        self.product.into()
    }

    fn product_id(&self) -> ProductId {
        ProductId::Code(self.product)
    }

    #[inline]
    fn price(&self) -> f64 {
        self.price.get()
    }

    #[inline]
    fn day(&self) -> chrono::NaiveDate {
        self.date.into()
    }

    fn category_label(&self) -> std::borrow::Cow<'_, str> {
        self.category.label().into()
    }

    fn page(&self) -> Option<u8> {
        Some(self.page.get())
    }

    fn country(&self) -> Option<&'static str> {
        Some(self.country.name())
    }
}

impl AnySession for Session {
    type Click = Click;

    fn name(&self) -> &str {
        self.id.as_str()
    }

    fn clicks(&self) -> &[Click] {
        &self.clicks
    }

    fn as_uci(&self) -> Option<&Session> {
        Some(self)
    }
}

impl std::borrow::Borrow<str> for SessionId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

/// The default cap on a session's clicks, one definition for every reader of sessions: the
/// service refuses a longer session (`MAX_CLICKS_PER_SESSION`), while `train`, `evaluate`
/// and `score` skip and count it (`--max-clicks-per-session`). A session's clicks are
/// counted as sent (rows), before exact repeats are dropped, in both.
pub const MAX_CLICKS_PER_SESSION: usize = 1000;

/// A session identifier: non-empty, at most 64 characters, no surrounding spaces.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(String);

impl SessionId {
    pub fn parse(id: &str) -> Result<Self, FieldError> {
        let id = id.trim();
        if !super::UCI
            .spec(Field::SessionId)
            .is_some_and(|s| s.admits_length(id))
        {
            return Err(FieldError::new(Field::SessionId, id));
        }
        Ok(SessionId(id.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SessionError {
    #[error("session has no clicks")]
    Empty,
    #[error("two different clicks share order {order}")]
    ConflictingOrder { order: u32 },
}

/// Clicks left out while building a session.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dropped {
    /// Clicks identical to one already present.
    pub exact_repeats: usize,
    /// Orders of clicks that differed from the click already holding their order.
    pub conflicting: Vec<u32>,
}

/// The clicks of one visit, in `order`. Orders are unique; gaps are allowed because a
/// tracker may lose a click, and the features only use the sequence.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    id: SessionId,
    clicks: Vec<Click>,
}

impl Session {
    /// Orders the clicks; exact repeats of a click (same order, same values) are dropped and
    /// counted, while two different clicks with one order are an error.
    pub fn new(id: SessionId, clicks: Vec<Click>) -> Result<(Session, usize), SessionError> {
        let (session, dropped) = Self::new_lenient(id, clicks)?;
        match dropped.conflicting.first() {
            Some(&order) => Err(SessionError::ConflictingOrder { order }),
            None => Ok((session, dropped.exact_repeats)),
        }
    }

    /// Like [`Session::new`], but a click whose order was already taken by a different
    /// click is dropped (the first one seen stays) and its order reported.
    pub fn new_lenient(
        id: SessionId,
        mut clicks: Vec<Click>,
    ) -> Result<(Session, Dropped), SessionError> {
        if clicks.is_empty() {
            return Err(SessionError::Empty);
        }
        // Stable, so among clicks sharing an order the first one given stays first.
        clicks.sort_by_key(|c| c.order);
        let mut dropped = Dropped::default();
        clicks.dedup_by(|later, earlier| {
            if later.order != earlier.order {
                return false;
            }
            if later == earlier {
                dropped.exact_repeats += 1;
            } else {
                dropped.conflicting.push(later.order.get());
            }
            true
        });
        Ok((Session { id, clicks }, dropped))
    }

    pub fn id(&self) -> &SessionId {
        &self.id
    }

    /// Never empty, ordered by `order`.
    pub fn clicks(&self) -> &[Click] {
        &self.clicks
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::domain::RawClick;

    /// A valid click with the given order and product, for hand-made sessions.
    pub(crate) fn click(order: i64, product: &str, price: f64) -> Click {
        let category = match product.as_bytes()[0] {
            b'A' => 1,
            b'B' => 2,
            b'C' => 3,
            _ => 4,
        };
        Click::parse(&RawClick {
            year: 2008,
            month: 4,
            day: 1,
            order,
            country: 29,
            page1_main_category: category,
            page2_clothing_model: product,
            colour: 1,
            location: 1,
            model_photography: 1,
            price,
            price_2: 2,
            page: 1,
        })
        .expect("the test click is valid")
    }

    #[test]
    fn clicks_are_ordered_and_exact_repeats_dropped() {
        let id = SessionId::parse("s1").expect("valid id");
        let (s, dropped) = Session::new(
            id,
            vec![
                click(2, "B4", 52.0),
                click(1, "A13", 28.0),
                click(2, "B4", 52.0),
            ],
        )
        .expect("valid session");
        assert_eq!(dropped, 1);
        let orders: Vec<u32> = s.clicks().iter().map(|c| c.order.get()).collect();
        assert_eq!(orders, vec![1, 2]);
    }

    #[test]
    fn two_different_clicks_with_one_order_are_refused() {
        let id = SessionId::parse("s1").expect("valid id");
        let err = Session::new(id, vec![click(1, "A13", 28.0), click(1, "B4", 52.0)]);
        assert_eq!(err, Err(SessionError::ConflictingOrder { order: 1 }));
    }

    #[test]
    fn empty_sessions_and_bad_ids_are_refused() {
        let id = SessionId::parse("s").expect("valid id");
        assert_eq!(Session::new(id, vec![]), Err(SessionError::Empty));
        assert!(SessionId::parse("  ").is_err());
        assert!(SessionId::parse(&"x".repeat(65)).is_err());
    }
}
