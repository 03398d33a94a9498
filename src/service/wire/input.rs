//! Request bodies: a click, a session, a batch, read from JSON in one pass. The readers
//! are serde seeds that take any JSON value where a field should be and note every
//! missing, unknown and wrongly typed field with its path, so nothing is re-parsed and no
//! serde message text is read; the click's fields, their types and names come from the
//! click table ([`UCI`]). How a session object is read is a [`SessionBody`]: the rest of
//! a body (paths, issues and their caps, the batch, refusals) is shared with a shop
//! schema's bodies (`super::shop`).

use super::columns::{object_schema, ColumnDoc};
use super::unknown_name;
use crate::domain::schema::Kind;
use crate::domain::UCI;
use crate::domain::{Click, FieldSpec, RawClick, Session, SessionError, SessionId};
use crate::service::problem::{ApiError, FieldIssue};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Serialize;
use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;
use std::sync::LazyLock;
use utoipa::openapi::schema::Schema;
use utoipa::openapi::RefOr;
use utoipa::ToSchema;

/// One click, its fields those of the click table (but the session id, which is the
/// session's). Its OpenAPI schema is generated from the table, see [`click_schema`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct ClickInput<'a>(pub RawClick<Cow<'a, str>>);

/// One session: its id and the clicks seen so far. Fields other than these are refused,
/// naming them: a misspelt or misplaced field (`explain` belongs in the query) would
/// otherwise be dropped without a word.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionInput<'a> {
    /// At most 64 characters, not blank; surrounding spaces are dropped.
    #[schema(value_type = String, example = "s-1001", min_length = 1, max_length = 64, pattern = "\\S")]
    pub session_id: Cow<'a, str>,
    /// At least one; at most `MAX_CLICKS_PER_SESSION` (1000 by default).
    #[schema(min_items = 1)]
    pub clicks: Vec<ClickInput<'a>>,
}

/// Many sessions in one request.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchInput<'a> {
    pub sessions: Vec<SessionInput<'a>>,
}

impl utoipa::PartialSchema for ClickInput<'_> {
    fn schema() -> RefOr<Schema> {
        click_schema().into()
    }
}

impl ToSchema for ClickInput<'_> {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("ClickInput")
    }
}

/// The OpenAPI schema of a click, from the click table: each field's type, range or
/// pattern, description (with what each code means) and example.
pub fn click_schema() -> Schema {
    let columns: Vec<ColumnDoc> = UCI
        .click_fields()
        .map(|spec| ColumnDoc {
            name: &spec.name,
            description: &spec.description,
            rule: &spec.rule,
            example: &spec.example,
            format: None,
        })
        .collect();
    Schema::Object(
        object_schema(
            "One click, with the columns of the UCI data under their snake_case names.",
            &columns,
        )
        .build(),
    )
}

/// Problems noted per session beyond which a batch keeps only counts, unless the batch's
/// own listing still has room (see [`Issues`]).
pub const ISSUES_PER_SESSION: usize = 20;

/// Where a value sits in a body: a chain on the stack, written out only when a problem is
/// noted, so a valid body pays nothing for paths.
#[derive(Clone, Copy)]
pub(super) enum At<'p> {
    Root,
    Key(&'p At<'p>, &'p str),
    Index(&'p At<'p>, usize),
}

impl At<'_> {
    /// `clicks[3].price`, `sessions[0]`; `$` for the body itself.
    pub(super) fn path(&self) -> String {
        fn write(at: &At, out: &mut String) {
            match at {
                At::Root => {}
                At::Key(parent, key) => {
                    write(parent, out);
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(key);
                }
                At::Index(parent, i) => {
                    write(parent, out);
                    out.push_str(&format!("[{i}]"));
                }
            }
        }
        let mut out = String::new();
        write(self, &mut out);
        if out.is_empty() {
            out.push('$');
        }
        out
    }
}

/// The problems of one session's shape: the first ones listed, all counted. A session
/// keeps its first [`Issues::own`] problems, and more while the body's shared listing
/// (`shared`, up to `shared_cap`) has room, so a body of many small mistakes costs memory
/// for what a problem document can show, not for each mistake.
pub struct Issues<'b> {
    pub listed: Vec<FieldIssue>,
    pub total: usize,
    own: usize,
    shared: &'b Cell<usize>,
    shared_cap: usize,
    /// Where a value that could not be read at all was, for the one such failure that
    /// is the value's fault (a number past what a double holds).
    unreadable: Option<String>,
}

impl<'b> Issues<'b> {
    pub(super) fn new(own: usize, shared: &'b Cell<usize>, shared_cap: usize) -> Self {
        Issues {
            listed: Vec::new(),
            total: 0,
            own,
            shared,
            shared_cap,
            unreadable: None,
        }
    }

    pub(super) fn note(&mut self, at: &At, message: impl FnOnce() -> String) {
        self.total += 1;
        if self.listed.len() < self.own || self.shared.get() < self.shared_cap {
            self.shared.set(self.shared.get() + 1);
            self.listed.push(FieldIssue {
                path: at.path(),
                message: message(),
            });
        }
    }

    pub(super) fn wrong(&mut self, at: &At, got: &Got, expected: &str) {
        self.note(at, || format!("got {}, expected {expected}", got.words()));
    }

    pub(super) fn unknown<S: AsRef<str>>(&mut self, at: &At, name: &str, known: &[S]) {
        self.note(&At::Key(at, name), || {
            let known: Vec<&str> = known.iter().map(AsRef::as_ref).collect();
            unknown_name("field", name, &known)
        });
    }

    pub(super) fn missing(&mut self, at: &At, name: &str) {
        self.note(&At::Key(at, name), || "required, but missing".to_owned());
    }

    pub(super) fn twice(&mut self, at: &At, name: &str) {
        self.note(&At::Key(at, name), || format!("duplicate field `{name}`"));
    }

    /// Notes where an unreadable value was, the innermost place first.
    pub(super) fn unreadable_at(&mut self, at: &At) {
        if self.unreadable.is_none() {
            self.unreadable = Some(at.path());
        }
    }
}

/// Any JSON value, as far as a type check needs it: scalars kept, arrays and objects read
/// past.
pub(super) enum Got<'de> {
    Whole(i64),
    Big(u64),
    Number(f64),
    Text(Cow<'de, str>),
    Bool(bool),
    Null,
    Array,
    Object,
}

impl Got<'_> {
    /// What came, in JSON words.
    pub(super) fn words(&self) -> String {
        match self {
            Got::Whole(v) => format!("the number {v}"),
            Got::Big(v) => format!("the number {v}"),
            Got::Number(v) => {
                // As JSON writes it: a float keeps its decimal point.
                let text = v.to_string();
                if text.contains(['.', 'e', 'i', 'N']) {
                    format!("the number {text}")
                } else {
                    format!("the number {text}.0")
                }
            }
            Got::Text(t) => format!("the string {t:?}"),
            Got::Bool(b) => b.to_string(),
            Got::Null => "null".to_owned(),
            Got::Array => "an array".to_owned(),
            Got::Object => "an object".to_owned(),
        }
    }
}

/// Reads any value as a [`Got`].
pub(super) struct AnyValue;

impl<'de> DeserializeSeed<'de> for AnyValue {
    type Value = Got<'de>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Got<'de>, D::Error> {
        d.deserialize_any(Shaped(Scalar))
    }
}

/// What to do with the value a [`Shaped`] visitor meets: the expected shape's reading,
/// or, for any other JSON value, what to do with it (note it as a wrong type, say).
pub(super) trait Shape<'de>: Sized {
    type Out;

    fn map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Out, A::Error> {
        let mut map = map;
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(self.other(Got::Object))
    }

    fn seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Out, A::Error> {
        let mut seq = seq;
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(self.other(Got::Array))
    }

    fn other(self, got: Got<'de>) -> Self::Out;
}

/// A visitor taking every JSON value, handing it to its [`Shape`].
struct Shaped<S>(S);

impl<'de, S: Shape<'de>> Visitor<'de> for Shaped<S> {
    type Value = S::Out;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<S::Out, E> {
        Ok(self.0.other(Got::Bool(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<S::Out, E> {
        Ok(self.0.other(Got::Whole(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<S::Out, E> {
        Ok(self.0.other(match i64::try_from(v) {
            Ok(v) => Got::Whole(v),
            Err(_) => Got::Big(v),
        }))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<S::Out, E> {
        Ok(self.0.other(Got::Number(v)))
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<S::Out, E> {
        Ok(self.0.other(Got::Text(Cow::Borrowed(v))))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<S::Out, E> {
        Ok(self.0.other(Got::Text(Cow::Owned(v.to_owned()))))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<S::Out, E> {
        Ok(self.0.other(Got::Text(Cow::Owned(v))))
    }

    fn visit_unit<E: de::Error>(self) -> Result<S::Out, E> {
        Ok(self.0.other(Got::Null))
    }

    fn visit_none<E: de::Error>(self) -> Result<S::Out, E> {
        Ok(self.0.other(Got::Null))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<S::Out, A::Error> {
        self.0.seq(seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<S::Out, A::Error> {
        self.0.map(map)
    }
}

/// Any value as it is.
struct Scalar;

impl<'de> Shape<'de> for Scalar {
    type Out = Got<'de>;

    fn other(self, got: Got<'de>) -> Got<'de> {
        got
    }
}

/// A value read through a [`Shape`], as a seed.
pub(super) struct Read<S>(pub(super) S);

impl<'de, S: Shape<'de>> DeserializeSeed<'de> for Read<S> {
    type Value = S::Out;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<S::Out, D::Error> {
        d.deserialize_any(Shaped(self.0))
    }
}

/// A key of an object: the position of a known name, or the name.
pub(super) enum Key<'de> {
    Known(usize),
    Unknown(Cow<'de, str>),
}

/// Reads a key against the known names (the UCI tables' `&str`s, or a shop's `String`s).
pub(super) struct KeyIn<'k, S>(pub(super) &'k [S]);

impl<'de, S: AsRef<str>> DeserializeSeed<'de> for KeyIn<'_, S> {
    type Value = Key<'de>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Key<'de>, D::Error> {
        struct Names<'k, S>(&'k [S]);
        impl<'de, S: AsRef<str>> Visitor<'de> for Names<'_, S> {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(match self.0.iter().position(|n| n.as_ref() == v) {
                    Some(i) => Key::Known(i),
                    None => Key::Unknown(Cow::Borrowed(v)),
                })
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(match self.0.iter().position(|n| n.as_ref() == v) {
                    Some(i) => Key::Known(i),
                    None => Key::Unknown(Cow::Owned(v.to_owned())),
                })
            }
        }
        d.deserialize_str(Names(self.0))
    }
}

/// The click table's JSON fields, in table order.
static CLICK_FIELDS: LazyLock<Vec<&'static FieldSpec>> =
    LazyLock::new(|| UCI.click_fields().collect());
static CLICK_NAMES: LazyLock<Vec<&'static str>> = LazyLock::new(|| UCI.click_names());
static CLICK_EXPECTED: LazyLock<String> = LazyLock::new(|| UCI.click_expected());
const SESSION_FIELDS: &[&str] = &["session_id", "clicks"];
const BATCH_FIELDS: &[&str] = &["sessions"];
const SESSION_EXPECTED: &str = "a session: an object with session_id and clicks";
const BATCH_EXPECTED: &str = "an object with sessions, an array of sessions";

/// A click's value, checked against the value's type in the table; the ranges are the
/// domain's to check.
struct ClickShape<'p, 'i, 'b> {
    at: At<'p>,
    issues: &'i mut Issues<'b>,
}

impl<'de> Shape<'de> for ClickShape<'_, '_, '_> {
    type Out = Option<ClickInput<'de>>;

    fn map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Out, A::Error> {
        let fields: &[&FieldSpec] = &CLICK_FIELDS;
        let mut raw = RawClick {
            year: 0,
            month: 0,
            day: 0,
            order: 0,
            country: 0,
            page1_main_category: 0,
            page2_clothing_model: Cow::Borrowed(""),
            colour: 0,
            location: 0,
            model_photography: 0,
            price: 0.0,
            price_2: 0,
            page: 0,
        };
        let mut seen = 0u64;
        let mut whole = true;
        while let Some(key) = map.next_key_seed(KeyIn(CLICK_NAMES.as_slice()))? {
            let (i, spec) = match key {
                Key::Known(i) if i < 64 => match fields.get(i) {
                    Some(spec) => (i, *spec),
                    None => continue,
                },
                Key::Known(_) => continue,
                Key::Unknown(name) => {
                    self.issues.unknown(&self.at, &name, CLICK_NAMES.as_slice());
                    map.next_value::<IgnoredAny>()?;
                    whole = false;
                    continue;
                }
            };
            if seen & (1 << i) != 0 {
                self.issues.twice(&self.at, &spec.name);
                map.next_value::<IgnoredAny>()?;
                whole = false;
                continue;
            }
            seen |= 1 << i;
            let got = map.next_value_seed(AnyValue).inspect_err(|_| {
                self.issues.unreadable_at(&At::Key(&self.at, &spec.name));
            })?;
            let set = match (spec.kind(), got) {
                (Kind::Whole, Got::Whole(v)) => raw.set_whole(spec.field, v),
                (Kind::Number, Got::Whole(v)) => raw.set_number(spec.field, v as f64),
                (Kind::Number, Got::Big(v)) => raw.set_number(spec.field, v as f64),
                (Kind::Number, Got::Number(v)) => raw.set_number(spec.field, v),
                (Kind::Text, Got::Text(t)) => raw.set_text(spec.field, t),
                (kind, got) => {
                    self.issues
                        .wrong(&At::Key(&self.at, &spec.name), &got, kind.expected());
                    false
                }
            };
            whole &= set;
        }
        for (i, spec) in fields.iter().enumerate() {
            if seen & (1 << i) == 0 {
                self.issues.missing(&self.at, &spec.name);
                whole = false;
            }
        }
        Ok((whole && self.issues.total == 0).then_some(ClickInput(raw)))
    }

    fn other(self, got: Got<'de>) -> Self::Out {
        self.issues.wrong(&self.at, &got, &CLICK_EXPECTED);
        None
    }
}

/// A session's clicks.
struct ClicksShape<'p, 'i, 'b> {
    at: At<'p>,
    issues: &'i mut Issues<'b>,
}

impl<'de> Shape<'de> for ClicksShape<'_, '_, '_> {
    type Out = Vec<ClickInput<'de>>;

    fn seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Out, A::Error> {
        let mut out = Vec::with_capacity(clicks_capacity(seq.size_hint()));
        let mut i = 0;
        loop {
            let shape = ClickShape {
                at: At::Index(&self.at, i),
                issues: &mut *self.issues,
            };
            match seq.next_element_seed(Read(shape))? {
                Some(Some(click)) => out.push(click),
                Some(None) => {}
                None => break,
            }
            i += 1;
        }
        Ok(out)
    }

    fn other(self, got: Got<'de>) -> Self::Out {
        self.issues.wrong(&self.at, &got, "an array of clicks");
        Vec::new()
    }
}

/// How the session objects of a body are read: their members, and what a session is in
/// words. The UCI click table's reader ([`UciSession`]) and a shop schema's
/// (`super::shop`) share the rest of a body: paths, issues and their caps, the batch and
/// its limit, and the refusal of a session.
pub(super) trait SessionBody<'de> {
    type Out;

    /// What a session is, for a value that is not an object.
    fn expected(&self) -> &str;

    /// Reads a session object's members, noting every problem; `None` when there was one.
    /// `id` gets the session's id as sent, when it is a string, even when the rest is
    /// wrong (a refused session of a batch is named by it).
    fn members<A: MapAccess<'de>>(
        &self,
        map: A,
        at: &At,
        issues: &mut Issues,
        id: &mut Option<String>,
    ) -> Result<Option<Self::Out>, A::Error>;
}

/// A session object; `None` when it has a problem (noted).
struct SessionShape<'p, 'i, 'b, 'k, K> {
    at: At<'p>,
    issues: &'i mut Issues<'b>,
    id: &'i mut Option<String>,
    kind: &'k K,
}

impl<'de, K: SessionBody<'de>> Shape<'de> for SessionShape<'_, '_, '_, '_, K> {
    type Out = Option<K::Out>;

    fn map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Out, A::Error> {
        self.kind.members(map, &self.at, self.issues, self.id)
    }

    fn other(self, got: Got<'de>) -> Self::Out {
        self.issues.wrong(&self.at, &got, self.kind.expected());
        None
    }
}

/// The UCI session: `session_id` and the clicks of the click table, checked for shape
/// here and by their rules in [`SessionInput::parse`].
struct UciSession;

impl<'de> SessionBody<'de> for UciSession {
    type Out = SessionInput<'de>;

    fn expected(&self) -> &str {
        SESSION_EXPECTED
    }

    fn members<A: MapAccess<'de>>(
        &self,
        mut map: A,
        at: &At,
        issues: &mut Issues,
        id: &mut Option<String>,
    ) -> Result<Option<SessionInput<'de>>, A::Error> {
        let mut session_id: Option<Cow<'de, str>> = None;
        let mut clicks: Option<Vec<ClickInput<'de>>> = None;
        let (mut id_seen, mut clicks_seen) = (false, false);
        while let Some(key) = map.next_key_seed(KeyIn(SESSION_FIELDS))? {
            match key {
                Key::Known(0) if !id_seen => {
                    id_seen = true;
                    let at = At::Key(at, "session_id");
                    let got = map
                        .next_value_seed(AnyValue)
                        .inspect_err(|_| issues.unreadable_at(&at))?;
                    match got {
                        Got::Text(t) => session_id = Some(t),
                        got => issues.wrong(&at, &got, "a string"),
                    }
                }
                Key::Known(1) if !clicks_seen => {
                    clicks_seen = true;
                    let shape = ClicksShape {
                        at: At::Key(at, "clicks"),
                        issues: &mut *issues,
                    };
                    clicks = Some(map.next_value_seed(Read(shape))?);
                }
                Key::Known(i) => {
                    let name = SESSION_FIELDS.get(i).copied().unwrap_or("?");
                    issues.twice(at, name);
                    map.next_value::<IgnoredAny>()?;
                }
                Key::Unknown(name) => {
                    issues.unknown(at, &name, SESSION_FIELDS);
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if !id_seen {
            issues.missing(at, "session_id");
        }
        if !clicks_seen {
            issues.missing(at, "clicks");
        }
        *id = session_id.as_ref().map(|id| id.to_string());
        Ok(match (session_id, clicks) {
            (Some(session_id), Some(clicks)) if issues.total == 0 => {
                Some(SessionInput { session_id, clicks })
            }
            _ => None,
        })
    }
}

/// A session whose shape is wrong: where it is in the batch, its id as sent when it is a
/// string, the problems listed and how many there were.
#[derive(Debug)]
pub struct Refusal {
    pub index: usize,
    pub session_id: Option<String>,
    pub errors: Vec<FieldIssue>,
    pub total: usize,
}

/// A batch's sessions, each read or refused, and how many there were.
struct SessionsShape<'c, K> {
    kind: &'c K,
    max_sessions: usize,
    shared: &'c Cell<usize>,
    shared_cap: usize,
    count: &'c mut usize,
}

impl<'de, K: SessionBody<'de>> Shape<'de> for SessionsShape<'_, K> {
    type Out = Result<Vec<Result<K::Out, Refusal>>, String>;

    fn seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Out, A::Error> {
        let sessions = At::Key(&At::Root, "sessions");
        let mut out = Vec::new();
        loop {
            let index = *self.count;
            if index >= self.max_sessions {
                // Past the limit the batch is refused; the rest is only counted.
                match seq.next_element::<IgnoredAny>()? {
                    Some(_) => *self.count += 1,
                    None => break,
                }
                continue;
            }
            let mut issues = Issues::new(ISSUES_PER_SESSION, self.shared, self.shared_cap);
            let mut id = None;
            let shape = SessionShape {
                at: At::Index(&sessions, index),
                issues: &mut issues,
                id: &mut id,
                kind: self.kind,
            };
            let read = match seq.next_element_seed(Read(shape))? {
                Some(read) => read,
                None => break,
            };
            *self.count += 1;
            out.push(match read {
                Some(session) => Ok(session),
                None => Err(Refusal {
                    index,
                    session_id: id,
                    errors: issues.listed,
                    total: issues.total,
                }),
            });
        }
        Ok(Ok(out))
    }

    fn other(self, got: Got<'de>) -> Self::Out {
        Err(got.words())
    }
}

/// The batch object.
struct BatchShape<'i, 'b, 'c, K> {
    issues: &'i mut Issues<'b>,
    sessions: SessionsShape<'c, K>,
}

impl<'de, K: SessionBody<'de>> Shape<'de> for BatchShape<'_, '_, '_, K> {
    type Out = Option<Vec<Result<K::Out, Refusal>>>;

    fn map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Out, A::Error> {
        let mut sessions = None;
        let mut shape = Some(self.sessions);
        while let Some(key) = map.next_key_seed(KeyIn(BATCH_FIELDS))? {
            match (key, shape.take()) {
                (Key::Known(_), Some(s)) => match map.next_value_seed(Read(s))? {
                    Ok(read) => sessions = Some(read),
                    Err(got) => self.issues.note(&At::Key(&At::Root, "sessions"), || {
                        format!("got {got}, expected an array")
                    }),
                },
                (Key::Known(_), None) => {
                    self.issues.twice(&At::Root, "sessions");
                    map.next_value::<IgnoredAny>()?;
                }
                (Key::Unknown(name), s) => {
                    shape = s;
                    self.issues.unknown(&At::Root, &name, BATCH_FIELDS);
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if shape.is_some() {
            self.issues.missing(&At::Root, "sessions");
        }
        Ok(sessions.filter(|_| self.issues.total == 0))
    }

    fn other(self, got: Got<'de>) -> Self::Out {
        self.issues.wrong(&At::Root, &got, BATCH_EXPECTED);
        None
    }
}

/// A one-pass reader of a whole body.
trait BodyReader<'a> {
    type Out;

    fn read<D: de::Deserializer<'a>>(
        self,
        d: D,
        issues: &mut Issues,
    ) -> Result<Option<Self::Out>, D::Error>;
}

/// Runs a one-pass reader over a JSON body: a body that is not JSON is malformed, one
/// with problems of shape is invalid, naming each (the first `cap`, with the total).
fn read_json<'a, B: BodyReader<'a>>(
    body: &'a [u8],
    cap: usize,
    reader: B,
) -> Result<B::Out, ApiError> {
    let shared = Cell::new(0);
    let mut issues = Issues::new(cap, &shared, 0);
    // Checking the UTF-8 once for the whole body spares serde_json a check per string.
    let read = match std::str::from_utf8(body) {
        Ok(text) => run(
            serde_json::Deserializer::from_str(text),
            reader,
            &mut issues,
        ),
        Err(_) => run(
            serde_json::Deserializer::from_slice(body),
            reader,
            &mut issues,
        ),
    };
    let value = match read {
        Ok(value) => value,
        Err(e) => {
            // serde_json refuses a number past f64 (`1e400`) as malformed JSON, with no
            // category of its own; the place says which field it was, and the fix is the
            // value, not the syntax. An API test pins this wording.
            if let Some(path) = issues.unreadable.take() {
                if e.is_syntax() && e.to_string().starts_with("number out of range") {
                    return Err(ApiError::invalid(
                        path,
                        "got a number too large to be represented, expected one in the field's range",
                    ));
                }
            }
            return Err(ApiError::Malformed(e.to_string()));
        }
    };
    if issues.total > 0 {
        return Err(ApiError::invalid_all(issues.listed, issues.total, cap));
    }
    value.ok_or_else(|| ApiError::Malformed("the body has no value".to_owned()))
}

/// Reads the body's one value and checks nothing follows it (`{...}xyz` is not a body);
/// a body whose value has problems of shape is refused for those first.
fn run<'a, R: serde_json::de::Read<'a>, B: BodyReader<'a>>(
    mut de: serde_json::Deserializer<R>,
    reader: B,
    issues: &mut Issues,
) -> Result<Option<B::Out>, serde_json::Error> {
    let value = reader.read(&mut de, issues)?;
    if issues.total == 0 {
        de.end()?;
    }
    Ok(value)
}

/// A body of one session.
struct OneSession<'k, K>(&'k K);

impl<'a, K: SessionBody<'a>> BodyReader<'a> for OneSession<'_, K> {
    type Out = K::Out;

    fn read<D: de::Deserializer<'a>>(
        self,
        d: D,
        issues: &mut Issues,
    ) -> Result<Option<K::Out>, D::Error> {
        let mut id = None;
        let shape = SessionShape {
            at: At::Root,
            issues,
            id: &mut id,
            kind: self.0,
        };
        Read(shape).deserialize(d)
    }
}

struct Batch<'c, K> {
    sessions: SessionsShape<'c, K>,
}

impl<'a, K: SessionBody<'a>> BodyReader<'a> for Batch<'_, K> {
    type Out = Vec<Result<K::Out, Refusal>>;

    fn read<D: de::Deserializer<'a>>(
        self,
        d: D,
        issues: &mut Issues,
    ) -> Result<Option<Self::Out>, D::Error> {
        let shape = BatchShape {
            issues,
            sessions: self.sessions,
        };
        Read(shape).deserialize(d)
    }
}

/// A session from a JSON body read by `kind`, with every problem named (the first `cap`,
/// and how many in all), in one pass.
pub(super) fn read_session<'a, K: SessionBody<'a>>(
    body: &'a [u8],
    kind: &K,
    cap: usize,
) -> Result<K::Out, ApiError> {
    read_json(body, cap, OneSession(kind))
}

/// A batch from a JSON body read by `kind`, in one pass: each session read, or refused
/// with its problems. A problem of the batch's own shape (not an object, no `sessions`,
/// an unknown member) refuses the whole body; so does a batch of more than
/// `max_sessions` sessions. Each refused session lists its first [`ISSUES_PER_SESSION`]
/// problems, and more while the batch has listed fewer than `cap`.
pub(super) fn read_batch<'a, K: SessionBody<'a>>(
    body: &'a [u8],
    kind: &K,
    max_sessions: usize,
    cap: usize,
) -> Result<Vec<Result<K::Out, Refusal>>, ApiError> {
    let shared = Cell::new(0);
    let mut count = 0;
    let sessions = read_json(
        body,
        cap,
        Batch {
            sessions: SessionsShape {
                kind,
                max_sessions,
                shared: &shared,
                shared_cap: cap,
                count: &mut count,
            },
        },
    )?;
    if count > max_sessions {
        return Err(too_many_sessions(count, max_sessions));
    }
    Ok(sessions)
}

fn too_many_sessions(count: usize, max_sessions: usize) -> ApiError {
    ApiError::invalid(
        "sessions",
        format!("{count} sessions is more than the limit of {max_sessions} per batch"),
    )
}

/// A body exactly as the contract has it, read by serde's derive straight into the
/// domain's raw click ([`RawClick`], whose members the click table's tests hold to the
/// table): the common case, at the speed of a derive. Any refusal here only sends the body
/// to the seeds below, which read it once more and name every problem; the derive's own
/// error (and its text) is never shown or read.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Direct<'a> {
    #[serde(borrow)]
    session_id: Cow<'a, str>,
    #[serde(borrow, deserialize_with = "direct_clicks")]
    clicks: Vec<ClickInput<'a>>,
}

/// The product code as `&str`: serde's `Cow<str>` would own a copy of every code (its
/// borrowing is for a field typed `Cow` itself, not a generic member); a code with an
/// escape cannot be borrowed, so such a body goes to the seeds, which read it right.
#[derive(serde::Deserialize)]
#[serde(transparent)]
struct DirectClick<'a>(#[serde(borrow)] RawClick<&'a str>);

/// Room for a session's clicks before they are read: serde_json gives no length for
/// arrays, so a typical live session gets room at once, a longer one grows as usual, and a
/// format that states a length (bounded here, as it is not yet checked against the click
/// cap) gets no more than it could hold.
pub(super) fn clicks_capacity(hint: Option<usize>) -> usize {
    hint.unwrap_or(0).clamp(16, 1024)
}

/// The clicks straight into the session's vector: serde's own `Vec` starts empty (JSON
/// gives no length) and grows by copying, and a vector of `DirectClick` would be copied
/// once more into `ClickInput`s; this is the request's hottest loop.
fn direct_clicks<'de, D: de::Deserializer<'de>>(d: D) -> Result<Vec<ClickInput<'de>>, D::Error> {
    struct Clicks;
    impl<'de> Visitor<'de> for Clicks {
        type Value = Vec<ClickInput<'de>>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an array of clicks")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut clicks = Vec::with_capacity(clicks_capacity(seq.size_hint()));
            while let Some(DirectClick(raw)) = seq.next_element()? {
                clicks.push(ClickInput(raw.map_text(Cow::Borrowed)));
            }
            Ok(clicks)
        }
    }
    d.deserialize_seq(Clicks)
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DirectBatch<'a> {
    #[serde(borrow)]
    sessions: Vec<Direct<'a>>,
}

impl<'a> From<Direct<'a>> for SessionInput<'a> {
    fn from(d: Direct<'a>) -> SessionInput<'a> {
        SessionInput {
            session_id: d.session_id,
            clicks: d.clicks,
        }
    }
}

/// The body through the derive, when it reads as the contract has it.
fn direct<'a, T: serde::Deserialize<'a>>(body: &'a [u8]) -> Option<T> {
    // Checking the UTF-8 once for the whole body spares serde_json a check per string.
    serde_json::from_str(std::str::from_utf8(body).ok()?).ok()
}

/// A session from a JSON body, with every problem of shape named (the first `cap`, and
/// how many in all), found in one pass of the seeds when the derive refuses the body.
pub fn session_from_json(body: &[u8], cap: usize) -> Result<SessionInput<'_>, ApiError> {
    match direct::<Direct>(body) {
        Some(session) => Ok(session.into()),
        None => read_session(body, &UciSession, cap),
    }
}

/// A batch from a JSON body, in one pass: each session read, or refused with its problems
/// of shape. A problem of the batch's own shape (not an object, no `sessions`, an unknown
/// member) refuses the whole body; so does a batch of more than `max_sessions` sessions.
/// Each refused session lists its first [`ISSUES_PER_SESSION`] problems, and more while
/// the batch has listed fewer than `cap`.
pub fn batch_from_json(
    body: &[u8],
    max_sessions: usize,
    cap: usize,
) -> Result<Vec<Result<SessionInput<'_>, Refusal>>, ApiError> {
    if let Some(batch) = direct::<DirectBatch>(body) {
        if batch.sessions.len() > max_sessions {
            return Err(too_many_sessions(batch.sessions.len(), max_sessions));
        }
        return Ok(batch.sessions.into_iter().map(|s| Ok(s.into())).collect());
    }
    read_batch(body, &UciSession, max_sessions, cap)
}

/// The bodies [`from_json`] reads.
pub trait JsonBody<'a>: Sized {
    fn from_body(body: &'a [u8], cap: usize) -> Result<Self, ApiError>;
}

impl<'a> JsonBody<'a> for SessionInput<'a> {
    fn from_body(body: &'a [u8], cap: usize) -> Result<Self, ApiError> {
        session_from_json(body, cap)
    }
}

impl<'a> JsonBody<'a> for BatchInput<'a> {
    /// The whole batch, or the problems of every session.
    fn from_body(body: &'a [u8], cap: usize) -> Result<Self, ApiError> {
        let mut sessions = Vec::new();
        let mut listed = Vec::new();
        let mut total = 0;
        for item in batch_from_json(body, usize::MAX, cap)? {
            match item {
                Ok(s) => sessions.push(s),
                Err(refusal) => {
                    total += refusal.total;
                    listed.extend(refusal.errors);
                }
            }
        }
        if total > 0 {
            return Err(ApiError::invalid_all(listed, total, cap));
        }
        Ok(BatchInput { sessions })
    }
}

/// The problems a body lists when the caller gives no cap of its own: the service's
/// default `MAX_PROBLEM_ISSUES`.
const DEFAULT_CAP: usize = 1000;

/// Parses a JSON body in one pass, naming every problem of shape with its path.
pub fn from_json<'a, T: JsonBody<'a>>(body: &'a [u8]) -> Result<T, ApiError> {
    T::from_body(body, DEFAULT_CAP)
}

impl SessionInput<'_> {
    /// Checks every field; `prefix` locates this session in the body (`""` or
    /// `sessions[4].`).
    pub fn parse(&self, prefix: &str, max_clicks: usize) -> Result<Session, Vec<FieldIssue>> {
        let mut issues = Vec::new();
        let id = SessionId::parse(&self.session_id)
            .map_err(|e| {
                issues.push(FieldIssue {
                    path: format!("{prefix}session_id"),
                    message: format!("got {:?}, expected {}", e.value, e.expected()),
                })
            })
            .ok();
        if self.clicks.is_empty() {
            issues.push(FieldIssue {
                path: format!("{prefix}clicks"),
                message: "expected at least one click".into(),
            });
        }
        if self.clicks.len() > max_clicks {
            issues.push(FieldIssue {
                path: format!("{prefix}clicks"),
                message: format!(
                    "{} clicks is more than the limit of {max_clicks} per session",
                    self.clicks.len()
                ),
            });
            return Err(issues);
        }
        let mut clicks = Vec::with_capacity(self.clicks.len());
        for (i, c) in self.clicks.iter().enumerate() {
            match Click::parse(&c.0) {
                Ok(click) => clicks.push(click),
                Err(errors) => issues.extend(errors.into_iter().map(|e| FieldIssue {
                    path: format!("{prefix}clicks[{i}].{}", e.field),
                    message: format!("got {:?}, expected {}", e.value, e.expected()),
                })),
            }
        }
        let Some(id) = id.filter(|_| issues.is_empty()) else {
            return Err(issues);
        };
        match Session::new(id, clicks) {
            Ok((session, _repeats)) => Ok(session),
            Err(SessionError::ConflictingOrder { order }) => Err(vec![FieldIssue {
                path: format!("{prefix}clicks"),
                message: format!("two different clicks share order {order}"),
            }]),
            Err(SessionError::Empty) => Err(vec![FieldIssue {
                path: format!("{prefix}clicks"),
                message: "expected at least one click".into(),
            }]),
        }
    }
}

/// A click's field names, for [`super::fields`]: the click is read by its table, and
/// serde's introspection asks for a struct's names.
impl<'de> serde::Deserialize<'de> for ClickInput<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Strict;
        impl<'de> Visitor<'de> for Strict {
            type Value = ClickInput<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(&CLICK_EXPECTED)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let shared = Cell::new(0);
                let mut issues = Issues::new(1, &shared, 0);
                let shape = ClickShape {
                    at: At::Root,
                    issues: &mut issues,
                };
                match shape.map(map)? {
                    Some(click) => Ok(click),
                    None => Err(de::Error::custom(
                        issues
                            .listed
                            .first()
                            .map(|i| format!("{}: {}", i.path, i.message))
                            .unwrap_or_default(),
                    )),
                }
            }
        }
        d.deserialize_struct("ClickInput", CLICK_NAMES.as_slice(), Strict)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_that_is_not_utf8_is_malformed_not_a_panic() {
        let body = b"{\"session_id\": \"s\xff\", \"clicks\": []}";
        match from_json::<SessionInput>(body) {
            Err(ApiError::Malformed(why)) => assert!(why.contains("unicode"), "{why}"),
            Err(other) => panic!("expected malformed, got {other}"),
            Ok(_) => panic!("invalid UTF-8 was accepted"),
        }
    }

    fn issues_of(body: &[u8], cap: usize) -> (Vec<FieldIssue>, usize) {
        match session_from_json(body, cap) {
            Err(ApiError::Invalid(issues)) => {
                let n = issues.len();
                (issues, n)
            }
            Err(ApiError::InvalidMany { listed, total }) => (listed, total),
            other => panic!("expected invalid, got {other:?}"),
        }
    }

    #[test]
    fn clicks_that_are_not_an_array_are_named() {
        let (issues, _) = issues_of(br#"{"session_id": "s", "clicks": "many"}"#, 10);
        assert_eq!(issues[0].path, "clicks");
        assert_eq!(
            issues[0].message,
            "got the string \"many\", expected an array of clicks"
        );
    }

    #[test]
    fn every_problem_is_counted_and_the_first_ones_listed() {
        let body = br#"{"session_id": "s", "clicks": [{"year": 2008}, {"year": 2008}]}"#;
        // Two clicks with 12 fields missing each.
        assert_eq!(issues_of(body, 1000).1, 24);
        let (listed, total) = issues_of(body, 5);
        assert_eq!((listed.len(), total), (5, 24));
        assert_eq!(listed[0].path, "clicks[0].month");
    }

    #[test]
    fn a_value_of_the_wrong_type_is_named_by_its_path() {
        let (issues, _) = issues_of(br#"{"session_id": "s", "clicks": [{"year": "2008"}]}"#, 10);
        assert_eq!(issues[0].path, "clicks[0].year");
        assert_eq!(
            issues[0].message,
            "got the string \"2008\", expected a whole number"
        );
    }

    #[test]
    fn floats_read_as_json_writes_them() {
        assert_eq!(Got::Number(2008.0).words(), "the number 2008.0");
        assert_eq!(Got::Number(2008.5).words(), "the number 2008.5");
    }

    #[test]
    fn a_batch_past_its_limit_is_refused_with_its_count() {
        let body = br#"{"sessions": [1, 2, 3, 4]}"#;
        match batch_from_json(body, 2, 10) {
            Err(ApiError::Invalid(issues)) => {
                assert_eq!(issues[0].path, "sessions");
                assert!(issues[0].message.starts_with("4 sessions"), "{issues:?}");
            }
            other => panic!("expected the limit, got {other:?}"),
        }
    }
}
