//! Typed clicks and sessions. Raw input becomes these types at the edge (CSV reader, HTTP
//! body); everything inside the crate relies on them being valid.

pub mod catalogue;
mod click;
mod field;
pub mod sample;
pub mod schema;
pub mod schema_file;
pub(crate) mod session;
pub mod shop;
pub mod uci;

pub use click::{
    Category, Click, ClickDate, Colour, Country, Field, FieldError, Location, Order, Page,
    Photography, Price, ProductCode, ProductId, ProductKey, RawClick,
};
pub use schema::{ClickSchema, FieldSpec};
pub use session::{
    AnyClick, AnySession, Dropped, Session, SessionError, SessionId, MAX_CLICKS_PER_SESSION,
};
pub use uci::UCI;
