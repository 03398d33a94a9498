//! HTTP plumbing shared by every route: the shared state, reading bodies within limits,
//! media types, the credential extractors (one authorisation path for API keys and the
//! admin token), and the middleware that logs and counts each request.

use super::admission::{Admission, Permit, Pool};
use super::observe::Metrics;
use super::problem::{shortened, ApiError, Credential};
use super::settings::Settings;
use super::wire::{self, NoParameters};
use crate::inference::registry::Registry;
use crate::ml::model_file::ModelName;
use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, Accept, Header, HeaderName, HeaderValue, Quality};
use actix_web::middleware::Next;
use actix_web::mime;
use actix_web::web::{self, Bytes};
use actix_web::{FromRequest, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use std::future::{ready, Ready};
use std::sync::Arc;
use std::time::Instant;

/// Shared by every worker.
pub struct AppState {
    pub registry: Arc<Registry>,
    pub settings: Arc<Settings>,
    pub api_keys: Vec<String>,
    pub admission: Admission,
    /// This server's metrics: requests, answers, reloads, admission.
    pub metrics: Metrics,
    /// The JSON bodies of the shop schemas its versions read.
    pub shop_bodies: super::wire::ShopBodies,
}

/// Headers every answer carries unless its handler set its own: no page of this service
/// may be framed by another site (clickjacking) nor read as another type than it says.
/// The console keeps its stricter policy, which forbids framing too.
pub fn security_headers() -> actix_web::middleware::DefaultHeaders {
    actix_web::middleware::DefaultHeaders::new()
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((header::CONTENT_SECURITY_POLICY, "frame-ancestors 'none'"))
}

/// Media types a route reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepts {
    Json,
    JsonOrCsv,
}

impl Accepts {
    fn allows(self, essence: &str) -> bool {
        match self {
            Accepts::Json => essence == "application/json",
            Accepts::JsonOrCsv => essence == "application/json" || essence == "text/csv",
        }
    }

    fn text(self) -> &'static str {
        match self {
            Accepts::Json => "application/json",
            Accepts::JsonOrCsv => "application/json or text/csv",
        }
    }
}

/// Reads the body up to the configured limit, after checking its media type, and within
/// its time: complete within `BODY_TIMEOUT_SECS`, or still arriving at
/// `MIN_BODY_BYTES_PER_SEC` on average past it. A client sending a byte now and then can
/// otherwise hold a connection, and a descriptor, for as long as it likes. The body is
/// admitted to its pool first ([`Admission`]); the permit it gets back is to be held until
/// the answer is made.
pub async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    state: &AppState,
    accepts: Accepts,
    pool: Pool,
) -> Result<(Bytes, Permit), ApiError> {
    let settings = &state.settings;
    let limit = settings.max_body_bytes;
    if !accepts.allows(&media_type(req)) {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        return Err(ApiError::UnsupportedMediaType {
            got: content_type,
            supported: accepts.text(),
            instead: None,
        });
    }
    let length = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if length.is_some_and(|length| length > limit) {
        return Err(ApiError::TooLarge { limit });
    }
    // A batch takes its declared length at once, so that it waits in the queue before
    // it is read rather than stalling half-read. A single session takes nothing until its
    // bytes arrive, then what has arrived: a declared length costs a client nothing to
    // write, and 512 connections declaring 64 KiB each and sending nothing held the whole
    // single-session pool, so every honest /convert got 503.
    let admitted = match pool {
        Pool::Batches => Some(state.admission.admit(pool, length.unwrap_or(0)).await),
        Pool::Sessions => None,
    };
    // The body's time starts once it is admitted: waiting in the queue is not its fault.
    let start = tokio::time::Instant::now();
    let grace = std::time::Duration::from_secs(settings.body_timeout_secs);
    let rate = settings.min_body_bytes_per_sec.max(1) as f64;
    // The time by which `received` bytes must have been exceeded: the grace period, plus
    // what the minimum rate allows for what has already come.
    let due = |received: usize| {
        start + grace + std::time::Duration::from_secs_f64(received as f64 / rate)
    };
    let too_slow = |received: usize| ApiError::BodyTimeout {
        received,
        seconds: start.elapsed().as_secs_f64(),
        grace_secs: settings.body_timeout_secs,
        min_rate: settings.min_body_bytes_per_sec,
    };
    let mut permit = match admitted {
        None => None,
        Some(Ok(permit)) => Some(permit),
        Some(Err(refused)) => return Err(drain(payload, 0, limit, due, too_slow, refused).await),
    };
    // A small body usually arrives in one chunk: keep that one as it is, without a copy.
    let mut only: Option<Bytes> = None;
    let mut body = web::BytesMut::new();
    loop {
        let held = only.as_ref().map_or(body.len(), Bytes::len);
        let next = match tokio::time::timeout_at(due(held), payload.next()).await {
            Ok(next) => next,
            Err(_) => return Err(too_slow(held)),
        };
        let Some(chunk) = next else {
            break;
        };
        let chunk = chunk.map_err(|e| ApiError::Malformed(e.to_string()))?;
        let received = held + chunk.len();
        if received > limit {
            return Err(ApiError::TooLarge { limit });
        }
        // A body takes more of its pool as it comes: its first share now, for a single
        // session, or more than it declared (or than its unknown length's first share).
        let taken = match permit.as_mut() {
            Some(permit) => state.admission.grow(permit, received),
            None => state
                .admission
                .admit(pool, received)
                .await
                .map(|first| permit = Some(first)),
        };
        if let Err(refused) = taken {
            drop((only, body, permit));
            return Err(drain(payload, received, limit, due, too_slow, refused).await);
        }
        match only.take() {
            None if body.is_empty() => only = Some(chunk),
            Some(first) => {
                body.extend_from_slice(&first);
                body.extend_from_slice(&chunk);
            }
            None => body.extend_from_slice(&chunk),
        }
    }
    // An empty body still holds a share until its answer is made, as any other.
    let permit = match permit {
        Some(permit) => permit,
        None => state.admission.admit(pool, 0).await?,
    };
    Ok((only.unwrap_or_else(|| body.freeze()), permit))
}

/// Reads and drops the rest of a refused body, then gives the refusal: closing a
/// connection with unread data resets it, and the client would see no answer at all. The
/// body's deadline and size limit still hold.
async fn drain(
    mut payload: web::Payload,
    mut received: usize,
    limit: usize,
    due: impl Fn(usize) -> tokio::time::Instant,
    too_slow: impl Fn(usize) -> ApiError,
    refused: ApiError,
) -> ApiError {
    loop {
        match tokio::time::timeout_at(due(received), payload.next()).await {
            Err(_) => return too_slow(received),
            Ok(Some(Ok(chunk))) if received + chunk.len() <= limit => received += chunk.len(),
            Ok(Some(Ok(_))) => return ApiError::TooLarge { limit },
            Ok(Some(Err(e))) => return ApiError::Malformed(e.to_string()),
            Ok(None) => return refused,
        }
    }
}

/// The request's media type without parameters, lower case.
pub fn media_type(req: &HttpRequest) -> String {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// A media type an answer can take: the model side's one output format.
pub use crate::inference::answer::Format;

/// The quality `accept` gives `media_type`: that of its most specific matching range
/// (`text/csv` over `text/*` over `*/*`, RFC 9110 12.5.1); `None` when no range matches.
/// actix's typed `Accept` reads the ranges and their qualities; it ranks what a client
/// prefers but does not match a server's offers against ranges, which is this.
fn quality(accept: &Accept, media_type: &str) -> Option<Quality> {
    let (kind, _) = media_type.split_once('/')?;
    let mut best: Option<(u8, Quality)> = None;
    for range in accept.iter() {
        let (range_kind, range_sub) = (range.item.type_(), range.item.subtype());
        let specificity = if range.item.essence_str() == media_type {
            3
        } else if range_sub == mime::STAR && range_kind.as_str() == kind {
            2
        } else if range_kind == mime::STAR && range_sub == mime::STAR {
            1
        } else {
            continue;
        };
        if best.is_none_or(|(s, _)| specificity > s) {
            best = Some((specificity, range.quality));
        }
    }
    best.map(|(_, q)| q)
}

/// The answer's format from the request's `Accept` header, with quality values: the offer
/// the client rates highest, the first offer on a tie or without the header; 406 when
/// every offer is refused (`q=0`) or matches no range (ranges that do not read are
/// skipped, as actix's parser does).
pub fn negotiate(req: &HttpRequest, offers: &[Format]) -> Result<Format, ApiError> {
    let first = offers.first().copied().unwrap_or(Format::Json);
    let given: Vec<&str> = req
        .headers()
        .get_all(header::ACCEPT)
        .filter_map(|v| v.to_str().ok())
        .collect();
    let given = given.join(",");
    if given.trim().is_empty() {
        return Ok(first);
    }
    let accept = Accept::parse(req).unwrap_or_else(|_| Accept(Vec::new()));
    let mut chosen: Option<(Format, Quality)> = None;
    for &offer in offers {
        if let Some(q) = quality(&accept, offer.media_type()).filter(|q| *q > Quality::ZERO) {
            if chosen.is_none_or(|(_, best)| q > best) {
                chosen = Some((offer, q));
            }
        }
    }
    chosen
        .map(|(f, _)| f)
        .ok_or_else(|| ApiError::NotAcceptable {
            got: given,
            offered: offers
                .iter()
                .map(|f| f.media_type())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// Whether a presented secret equals an accepted one, in time that depends on neither
/// their contents nor their lengths: both are hashed first (SHA-256 reads every byte of
/// each), and the digests, always 32 bytes, are compared in constant time. Comparing the
/// lengths first, as before, told a caller how long a key was.
fn secret_eq(accepted: &str, presented: &str) -> subtle::Choice {
    use sha2::{Digest, Sha256};
    use subtle::ConstantTimeEq;
    Sha256::digest(accepted.as_bytes()).ct_eq(&Sha256::digest(presented.as_bytes()))
}

/// The one authorisation check: `presented` must equal one of `accepted`. Every accepted
/// secret is compared, so the time does not tell which one matched either.
fn authorize(
    credential: Credential,
    accepted: &[&str],
    presented: Option<&str>,
) -> Result<(), ApiError> {
    let Some(presented) = presented else {
        return Err(ApiError::MissingCredential(credential));
    };
    let matched = accepted.iter().fold(subtle::Choice::from(0), |any, a| {
        any | secret_eq(a, presented)
    });
    if bool::from(matched) {
        Ok(())
    } else {
        Err(ApiError::WrongCredential(credential))
    }
}

fn state(req: &HttpRequest) -> Result<&AppState, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .map(|d| d.get_ref())
        .ok_or_else(|| ApiError::Internal("the application state is not registered".into()))
}

/// A request allowed to score: when `API_KEYS` is set, it carries one in `X-Api-Key`.
pub struct ApiKey;

impl FromRequest for ApiKey {
    type Error = ApiError;
    type Future = Ready<Result<ApiKey, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(state(req).and_then(|state| {
            if state.api_keys.is_empty() {
                return Ok(ApiKey);
            }
            let keys: Vec<&str> = state.api_keys.iter().map(String::as_str).collect();
            let presented = req.headers().get("X-Api-Key").and_then(|v| v.to_str().ok());
            authorize(Credential::ApiKey, &keys, presented).map(|()| ApiKey)
        }))
    }
}

/// A request allowed to run admin routes: `Authorization: Bearer <ADMIN_TOKEN>`. Without
/// a configured token the admin routes do not exist (404).
pub struct AdminToken;

impl FromRequest for AdminToken {
    type Error = ApiError;
    type Future = Ready<Result<AdminToken, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(state(req).and_then(|state| {
            let Some(token) = &state.settings.admin_token else {
                return Err(ApiError::AdminDisabled);
            };
            let presented = req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "));
            authorize(Credential::AdminToken, &[token.expose()], presented).map(|()| AdminToken)
        }))
    }
}

/// A route's query parameters: those of `T`, and of `U` for a route that takes a second
/// set (a batch route's options). Read once, through [`wire::read_query`]: a parameter
/// neither takes, one given twice or a value that does not read is refused by name (422),
/// so a route that takes its query this way cannot forget to check it.
pub struct StrictQuery<T, U = NoParameters>(pub T, pub U);

impl<T: DeserializeOwned, U: DeserializeOwned> FromRequest for StrictQuery<T, U> {
    type Error = ApiError;
    type Future = Ready<Result<StrictQuery<T, U>, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(state(req).and_then(|state| {
            let (t, u) = wire::read_query(req.query_string(), state.settings.max_problem_issues)?;
            Ok(StrictQuery(t, u))
        }))
    }
}

/// The model versions that answered, for the request's log line.
#[derive(Debug, Clone)]
pub struct ModelVersions(pub String);

/// Notes on a response which model versions answered.
pub fn with_versions(
    mut response: HttpResponse,
    versions: impl IntoIterator<Item = (ModelName, u32)>,
) -> HttpResponse {
    let mut seen: Vec<(ModelName, u32)> = versions.into_iter().collect();
    seen.sort_unstable();
    seen.dedup();
    let mut text = String::with_capacity(16 * seen.len());
    for (i, (name, v)) in seen.iter().enumerate() {
        use std::fmt::Write;
        let _ = write!(text, "{}{name}/{v}", if i > 0 { "," } else { "" });
    }
    response.extensions_mut().insert(ModelVersions(text));
    response
}

/// The route label of a request that matches no route.
pub const UNMATCHED: &str = "unmatched";

/// How much of an unmatched path the log line keeps.
const LOGGED_PATH_CHARS: usize = 120;

/// A client's request id is kept only when it cannot forge log fields or headers: 1 to
/// 128 letters, digits and `-_.:`; any other gets a fresh one.
fn is_request_id(v: &str) -> bool {
    (1..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

/// The method as a metric label: the standard ones, else `other` (any token is a method).
fn method_label(method: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "other",
    }
}

/// Logs each request with its id, route, status, latency and model versions, counts it in
/// the metrics, and echoes (or makes) its `X-Request-Id`.
pub async fn observe_request(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let start = Instant::now();
    let id = req
        .headers()
        .get("X-Request-Id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_request_id(v))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let method = method_label(req.method());
    // Labels come from a closed set: the route table's patterns, or "unmatched". A label
    // per raw path let anyone grow the metrics (and the process) without bound.
    let (route, unmatched_path) = match req.match_pattern() {
        Some(pattern) => (pattern, None),
        None => (
            UNMATCHED.to_owned(),
            Some(shortened(req.path().to_owned(), LOGGED_PATH_CHARS)),
        ),
    };
    let metrics = req
        .app_data::<web::Data<AppState>>()
        .map(|state| state.metrics.clone());
    let mut res = next.call(req).await?;
    let status = res.status().as_u16();
    if let Some(metrics) = metrics {
        metrics.request(&route, method, status, start.elapsed().as_secs_f64());
    }
    let models = res
        .response()
        .extensions()
        .get::<ModelVersions>()
        .map(|v| v.0.clone())
        .unwrap_or_default();
    tracing::info!(
        request_id = %id,
        method,
        route = %route,
        path = unmatched_path.as_deref().map(tracing::field::debug),
        status,
        latency_ms = start.elapsed().as_secs_f64() * 1000.0,
        models = %models,
        "request"
    );
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut()
            .insert(HeaderName::from_static("x-request-id"), value);
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn pick(accept: &str) -> Result<Format, String> {
        let req = TestRequest::default()
            .insert_header((header::ACCEPT, accept))
            .to_http_request();
        negotiate(&req, &[Format::Json, Format::Csv]).map_err(|e| e.to_string())
    }

    #[test]
    fn a_secret_matches_only_itself_whatever_the_lengths() {
        let ok = |accepted: &[&str], presented: &str| {
            authorize(Credential::ApiKey, accepted, Some(presented)).is_ok()
        };
        assert!(ok(&["k1", "k2"], "k2"));
        assert!(ok(&["k1", "k2"], "k1"));
        for wrong in ["", "k", "k12", "K1", "k1 ", "k3"] {
            assert!(!ok(&["k1", "k2"], wrong), "{wrong:?} was accepted");
        }
        assert!(!ok(&[], "k1"));
        assert!(matches!(
            authorize(Credential::ApiKey, &["k1"], None),
            Err(ApiError::MissingCredential(_))
        ));
    }

    #[test]
    fn quality_values_decide_the_format() {
        assert_eq!(pick("text/csv"), Ok(Format::Csv));
        assert!(
            pick("text/csv;q=0").is_err(),
            "refuses CSV and does not name JSON"
        );
        assert_eq!(pick("text/csv;q=0, application/json"), Ok(Format::Json));
        assert_eq!(pick("text/csv;q=0, */*"), Ok(Format::Json));
        assert_eq!(pick("application/json;q=0.5, text/csv"), Ok(Format::Csv));
        assert_eq!(pick("application/json, text/csv;q=0.5"), Ok(Format::Json));
        assert_eq!(pick("*/*"), Ok(Format::Json));
        assert_eq!(pick("text/*"), Ok(Format::Csv));
        assert_eq!(pick("*/*;q=0.1, text/csv;q=0.2"), Ok(Format::Csv));
        assert_eq!(pick("TEXT/CSV ; Q=1"), Ok(Format::Csv));
        assert!(pick("text/html").is_err());
        assert!(pick("*/*;q=0").is_err());
        assert!(pick("text/*;q=0, application/json;q=0").is_err());
        assert!(
            pick("garbage").is_err(),
            "a range that does not read matches nothing"
        );
        assert_eq!(pick("garbage, text/csv"), Ok(Format::Csv));
    }
}
