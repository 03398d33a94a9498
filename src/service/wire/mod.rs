//! Request and response bodies as they travel, separate from the domain types; turning a
//! request into domain values is where every field is checked and every problem named.
//! One file per side of the contract: `input` (bodies in), `query` (parameters), `answer`
//! (bodies out, JSON and CSV) and `shape` (where a refused body belongs); `shop` reads and
//! documents a shop schema's bodies with `input`'s seeds, and `columns` is the OpenAPI of
//! columns both share.

mod answer;
mod columns;
mod input;
mod query;
mod shape;
mod shop;

pub use answer::*;
pub use input::*;
pub use query::*;
pub use shape::*;
pub use shop::{ShopBodies, ShopJson};

/// What to say of a field or parameter (`kind`) that is not one: the closest known name
/// when it looks like a slip of the keyboard, and every name that is known.
fn unknown_name(kind: &str, name: &str, known: &[&str]) -> String {
    // The edit distance costs the product of the two lengths; a name longer than a known
    // one by more than the distance allowed cannot be a slip of it, and a client's name
    // may be as long as the query.
    let within = |k: &str| 2.max(k.len() / 4);
    let length = name.chars().count();
    let closest = known
        .iter()
        .filter(|k| length <= k.len() + within(k))
        .map(|k| (strsim::damerau_levenshtein(name, k), *k))
        .min()
        .filter(|(distance, k)| *distance <= within(k))
        .map(|(_, k)| format!(" (did you mean {k}?)"))
        .unwrap_or_default();
    format!(
        "not a {kind} here{closest}; the {kind}s here are {}",
        known.join(", ")
    )
}
