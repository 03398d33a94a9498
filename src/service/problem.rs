//! The one error table of the API, in the style of Meilisearch's error codes: every error
//! has a stable machine-readable `code`, its HTTP status and its problem `type` URI, and is
//! written as `application/problem+json` (RFC 9457). The OpenAPI description of each
//! route's errors is generated from the same table.

use crate::inference::registry::SelectError;
use crate::inference::scorer;
use crate::scoring::ScoreError;
use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use utoipa::openapi::{self, RefOr};
use utoipa::ToSchema;

/// Every error the API can answer. Adding one means choosing its status, its text and the
/// routes that document it: each `match` below is exhaustive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ErrorCode {
    MalformedBody,
    InvalidRequest,
    MissingApiKey,
    InvalidApiKey,
    MissingAdminToken,
    InvalidAdminToken,
    RouteNotFound,
    ModelNotFound,
    VersionNotLoaded,
    AdminDisabled,
    MethodNotAllowed,
    BodyTooLarge,
    BodyTimeout,
    UnsupportedMediaType,
    NotAcceptable,
    Internal,
    NotReady,
    Overloaded,
    ReportNotFound,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 19] = [
        ErrorCode::MalformedBody,
        ErrorCode::InvalidRequest,
        ErrorCode::MissingApiKey,
        ErrorCode::InvalidApiKey,
        ErrorCode::MissingAdminToken,
        ErrorCode::InvalidAdminToken,
        ErrorCode::RouteNotFound,
        ErrorCode::ModelNotFound,
        ErrorCode::VersionNotLoaded,
        ErrorCode::AdminDisabled,
        ErrorCode::MethodNotAllowed,
        ErrorCode::BodyTooLarge,
        ErrorCode::BodyTimeout,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::NotAcceptable,
        ErrorCode::Internal,
        ErrorCode::NotReady,
        ErrorCode::Overloaded,
        ErrorCode::ReportNotFound,
    ];

    /// The stable name clients match on.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::MalformedBody => "malformed_body",
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::MissingApiKey => "missing_api_key",
            ErrorCode::InvalidApiKey => "invalid_api_key",
            ErrorCode::MissingAdminToken => "missing_admin_token",
            ErrorCode::InvalidAdminToken => "invalid_admin_token",
            ErrorCode::RouteNotFound => "route_not_found",
            ErrorCode::ModelNotFound => "model_not_found",
            ErrorCode::VersionNotLoaded => "version_not_loaded",
            ErrorCode::AdminDisabled => "admin_disabled",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::BodyTooLarge => "body_too_large",
            ErrorCode::BodyTimeout => "body_timeout",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::NotAcceptable => "not_acceptable",
            ErrorCode::Internal => "internal",
            ErrorCode::NotReady => "not_ready",
            ErrorCode::Overloaded => "overloaded",
            ErrorCode::ReportNotFound => "report_not_found",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::MalformedBody => StatusCode::BAD_REQUEST,
            ErrorCode::InvalidRequest => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::MissingApiKey
            | ErrorCode::InvalidApiKey
            | ErrorCode::MissingAdminToken
            | ErrorCode::InvalidAdminToken => StatusCode::UNAUTHORIZED,
            ErrorCode::RouteNotFound
            | ErrorCode::ModelNotFound
            | ErrorCode::VersionNotLoaded
            | ErrorCode::AdminDisabled
            | ErrorCode::ReportNotFound => StatusCode::NOT_FOUND,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::NotReady | ErrorCode::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The problem `type`: a tag URI (RFC 4151), stable and unique, naming the code. It is
    /// an identifier, not a page to fetch; the codes are documented in the OpenAPI document.
    pub fn type_uri(self) -> String {
        format!("tag:clickstream,2026:problem:{}", self.as_str())
    }

    /// What the code means, for the OpenAPI document.
    pub fn description(self) -> &'static str {
        match self {
            ErrorCode::MalformedBody => "The body could not be read: not JSON, not CSV, or cut short.",
            ErrorCode::InvalidRequest => "Invalid fields, each with its path (`clicks[3].price`, `sessions[2].clicks[0].colour`, `line 7, column price`, `query`), or a limit on clicks or sessions passed.",
            ErrorCode::MissingApiKey => "API keys are configured and the request has no `X-Api-Key` header.",
            ErrorCode::InvalidApiKey => "The `X-Api-Key` header holds no configured key.",
            ErrorCode::MissingAdminToken => "No `Authorization: Bearer <ADMIN_TOKEN>` header.",
            ErrorCode::InvalidAdminToken => "The bearer token is not the admin token.",
            ErrorCode::RouteNotFound => "No route has this path; see `/docs`.",
            ErrorCode::ModelNotFound => "No model has this name; models are convert, revenue and segment.",
            ErrorCode::VersionNotLoaded => "The version asked for (`?version=`, `?convert_version=`..., or `/models/{name}/{version}`) is not loaded; the detail lists those that are.",
            ErrorCode::AdminDisabled => "The admin routes are disabled: no `ADMIN_TOKEN` is configured.",
            ErrorCode::MethodNotAllowed => "The path exists but not with this method; `Allow` lists those it serves.",
            ErrorCode::BodyTooLarge => "The body is larger than `MAX_BODY_BYTES`.",
            ErrorCode::BodyTimeout => "The body did not arrive in time: it must be complete within `BODY_TIMEOUT_SECS`, or keep arriving at `MIN_BODY_BYTES_PER_SEC` on average; the connection is closed.",
            ErrorCode::UnsupportedMediaType => "The body is not of a media type the route reads.",
            ErrorCode::NotAcceptable => "The `Accept` header allows none of the media types the route answers in (quality values count: `q=0` refuses a type); the detail lists those offered. Batch routes answer `application/json` or `text/csv`, the other scoring routes `application/json`.",
            ErrorCode::Internal => "A model misbehaved on this input (a non-finite output, say) or a worker failed; logged with its cause.",
            ErrorCode::NotReady => "A model needed to answer has no valid version loaded; the detail says why.",
            ErrorCode::ReportNotFound => "No `report.html` for this (in the models folder, or in the version's folder): `train` writes one with the versions it publishes.",
            ErrorCode::Overloaded => "The service holds as much request work as it may (`MAX_BODY_BYTES_IN_FLIGHT`, one pool for batch routes and one for single sessions; a batch first waits up to `BATCH_QUEUE_SECS`): nothing was read or scored. Retry after the seconds in `Retry-After`.",
        }
    }

    /// A detail as a real answer would carry it, for the documented examples.
    fn example_detail(self) -> &'static str {
        match self {
            ErrorCode::MalformedBody => {
                "the body could not be read: EOF while parsing an object at line 1 column 15"
            }
            ErrorCode::InvalidRequest => "1 field is invalid",
            ErrorCode::MissingApiKey => "an API key is required in X-Api-Key",
            ErrorCode::InvalidApiKey => "the API key is not valid",
            ErrorCode::MissingAdminToken => "Authorization: Bearer <token> is required",
            ErrorCode::InvalidAdminToken => "the admin token is not valid",
            ErrorCode::RouteNotFound => "no such route; see /docs for the API",
            ErrorCode::ModelNotFound => {
                "unknown model \"churn\"; models are convert, revenue, segment"
            }
            ErrorCode::VersionNotLoaded => {
                "version 9 of convert is not loaded; loaded versions: [1]"
            }
            ErrorCode::AdminDisabled => {
                "the admin routes are disabled: no ADMIN_TOKEN is configured"
            }
            ErrorCode::MethodNotAllowed => "this path serves POST only",
            ErrorCode::BodyTooLarge => "the body is larger than the limit of 33554432 bytes",
            ErrorCode::BodyTimeout => {
                "the body arrived too slowly: 12 bytes in 10.0 s (it must be complete within 10 s, or keep arriving at 16384 bytes per second)"
            }
            ErrorCode::UnsupportedMediaType => {
                "content type \"text/plain\" is not supported; send application/json"
            }
            ErrorCode::NotAcceptable => {
                "Accept \"text/html\" allows none of the media types this route answers in: application/json, text/csv"
            }
            ErrorCode::Internal => {
                "internal error: convert version 1 produced a non-finite probability"
            }
            ErrorCode::NotReady => "not ready: convert: no version found",
            ErrorCode::ReportNotFound => {
                "no training report (MODELS_DIR/report.html: No such file or directory (os error 2)); train writes one with the versions it publishes"
            }
            ErrorCode::Overloaded => {
                "the service is busy: 33554432 bytes of batches are in flight, and this one (12054642 bytes) found no room within the queue time; retry after 1 s"
            }
        }
    }

    fn example(self) -> Problem {
        let errors = match self {
            ErrorCode::InvalidRequest => vec![FieldIssue {
                path: "clicks[3].price".into(),
                message:
                    "got \"0\", expected a price in US dollars greater than 0 and at most 100000"
                        .into(),
            }],
            _ => Vec::new(),
        };
        Problem::new(self, self.example_detail().to_owned(), errors)
    }
}

/// One bad field of a request.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct FieldIssue {
    /// Where the value sits in the body, e.g. `clicks[3].price` or `sessions[0].session_id`.
    #[schema(example = "clicks[3].price")]
    pub path: String,
    #[schema(
        example = "got \"-2\", expected a price in US dollars greater than 0 and at most 100000"
    )]
    pub message: String,
}

/// An RFC 9457 problem document, with the error's stable `code`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"type": "tag:clickstream,2026:problem:invalid_request", "title": "Unprocessable Entity", "status": 422, "code": "invalid_request", "detail": "1 field is invalid", "errors": [{"path": "clicks[3].price", "message": "got \"0\", expected a price in US dollars greater than 0 and at most 100000"}]}))]
pub struct Problem {
    /// A URI naming the kind of problem, one per `code`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    /// Stable and machine-readable: match on this, not on `detail`.
    pub code: String,
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldIssue>,
}

impl Problem {
    fn new(code: ErrorCode, detail: String, errors: Vec<FieldIssue>) -> Problem {
        let status = code.status();
        Problem {
            kind: code.type_uri(),
            title: status.canonical_reason().unwrap_or("Error").into(),
            status: status.as_u16(),
            code: code.as_str().into(),
            detail: shortened(detail),
            errors: errors
                .into_iter()
                .map(|e| FieldIssue {
                    path: shortened(e.path),
                    message: shortened(e.message),
                })
                .collect(),
        }
    }
}

/// The longest text a problem echoes in one place, in characters.
const MAX_ECHO_CHARS: usize = 300;

/// Text cut to [`MAX_ECHO_CHARS`]: messages quote what the client sent, and a 10 MB
/// session id must not come back as 10 MB.
fn shortened(text: String) -> String {
    match text.char_indices().nth(MAX_ECHO_CHARS) {
        Some((cut, _)) => {
            let rest = text[cut..].chars().count();
            format!("{}... ({rest} more characters)", &text[..cut])
        }
        None => text,
    }
}

/// Which credential a request lacked or got wrong; each has its own challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    ApiKey,
    AdminToken,
}

#[derive(Debug)]
pub enum ApiError {
    /// The body is not JSON (or not CSV) at all.
    Malformed(String),
    /// The body parsed but fields are invalid.
    Invalid(Vec<FieldIssue>),
    /// Invalid fields past the cap of a problem document: the first ones, and how many
    /// there were in all.
    InvalidMany {
        listed: Vec<FieldIssue>,
        total: usize,
    },
    UnsupportedMediaType {
        got: String,
        supported: &'static str,
        /// Where a body of this media type goes instead, when another route takes it.
        instead: Option<String>,
    },
    /// The `Accept` header allows none of `offered`.
    NotAcceptable {
        got: String,
        offered: String,
    },
    TooLarge {
        limit: usize,
    },
    /// The body came too slowly; the connection is closed.
    BodyTimeout {
        received: usize,
        seconds: f64,
        grace_secs: u64,
        min_rate: usize,
    },
    RouteNotFound(String),
    ModelNotFound(String),
    VersionNotLoaded(String),
    AdminDisabled,
    /// The path exists; these methods are what it serves.
    MethodNotAllowed(String),
    MissingCredential(Credential),
    WrongCredential(Credential),
    NotReady(Vec<String>),
    Internal(String),
    ReportNotFound(String),
    /// The request's pool is full: `budget` bytes of `what` are in flight.
    Overloaded {
        what: &'static str,
        bytes: usize,
        budget: usize,
        retry_after_secs: u64,
    },
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.detail())
    }
}

impl ApiError {
    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::Malformed(_) => ErrorCode::MalformedBody,
            ApiError::Invalid(_) | ApiError::InvalidMany { .. } => ErrorCode::InvalidRequest,
            ApiError::UnsupportedMediaType { .. } => ErrorCode::UnsupportedMediaType,
            ApiError::NotAcceptable { .. } => ErrorCode::NotAcceptable,
            ApiError::TooLarge { .. } => ErrorCode::BodyTooLarge,
            ApiError::BodyTimeout { .. } => ErrorCode::BodyTimeout,
            ApiError::RouteNotFound(_) => ErrorCode::RouteNotFound,
            ApiError::ModelNotFound(_) => ErrorCode::ModelNotFound,
            ApiError::VersionNotLoaded(_) => ErrorCode::VersionNotLoaded,
            ApiError::AdminDisabled => ErrorCode::AdminDisabled,
            ApiError::MethodNotAllowed(_) => ErrorCode::MethodNotAllowed,
            ApiError::MissingCredential(Credential::ApiKey) => ErrorCode::MissingApiKey,
            ApiError::MissingCredential(Credential::AdminToken) => ErrorCode::MissingAdminToken,
            ApiError::WrongCredential(Credential::ApiKey) => ErrorCode::InvalidApiKey,
            ApiError::WrongCredential(Credential::AdminToken) => ErrorCode::InvalidAdminToken,
            ApiError::NotReady(_) => ErrorCode::NotReady,
            ApiError::Internal(_) => ErrorCode::Internal,
            ApiError::Overloaded { .. } => ErrorCode::Overloaded,
            ApiError::ReportNotFound(_) => ErrorCode::ReportNotFound,
        }
    }

    fn detail(&self) -> String {
        match self {
            ApiError::Malformed(why) => format!("the body could not be read: {why}"),
            ApiError::InvalidMany { listed, total } => format!(
                "{total} problems were found; the first {} are listed",
                listed.len()
            ),
            ApiError::Invalid(issues) => match issues.len() {
                1 => "1 field is invalid".into(),
                n => format!("{n} fields are invalid"),
            },
            ApiError::UnsupportedMediaType {
                got,
                supported,
                instead,
            } => match instead {
                Some(route) => format!(
                    "content type {got:?} is not supported; send {supported}, or send this body to {route}"
                ),
                None => format!("content type {got:?} is not supported; send {supported}"),
            },
            ApiError::NotAcceptable { got, offered } => format!(
                "Accept {got:?} allows none of the media types this route answers in: {offered}"
            ),
            ApiError::TooLarge { limit } => {
                format!("the body is larger than the limit of {limit} bytes")
            }
            ApiError::BodyTimeout {
                received,
                seconds,
                grace_secs,
                min_rate,
            } => format!(
                "the body arrived too slowly: {received} bytes in {seconds:.1} s (it must be complete within {grace_secs} s, or keep arriving at {min_rate} bytes per second)"
            ),
            ApiError::RouteNotFound(what)
            | ApiError::ReportNotFound(what)
            | ApiError::ModelNotFound(what)
            | ApiError::VersionNotLoaded(what) => what.clone(),
            ApiError::AdminDisabled => {
                "the admin routes are disabled: no ADMIN_TOKEN is configured".into()
            }
            ApiError::MethodNotAllowed(methods) => format!("this path serves {methods} only"),
            ApiError::MissingCredential(Credential::ApiKey) => {
                "an API key is required in X-Api-Key".into()
            }
            ApiError::MissingCredential(Credential::AdminToken) => {
                "Authorization: Bearer <token> is required".into()
            }
            ApiError::WrongCredential(Credential::ApiKey) => "the API key is not valid".into(),
            ApiError::WrongCredential(Credential::AdminToken) => {
                "the admin token is not valid".into()
            }
            ApiError::NotReady(reasons) => format!("not ready: {}", reasons.join("; ")),
            ApiError::Internal(what) => format!("internal error: {what}"),
            ApiError::Overloaded {
                what,
                bytes,
                budget,
                retry_after_secs,
            } => format!(
                "the service is busy: {budget} bytes of {what} are in flight, and this one ({bytes} bytes) found no room{}; retry after {retry_after_secs} s",
                if *what == "batches" { " within the queue time" } else { "" }
            ),
        }
    }

    /// Invalid fields, at most `cap` of them listed (`MAX_PROBLEM_ISSUES`): a body of
    /// millions of bad values must not come back as a problem document larger than itself.
    pub fn invalid_all(mut issues: Vec<FieldIssue>, total: usize, cap: usize) -> ApiError {
        if total <= cap && issues.len() == total {
            return ApiError::Invalid(issues);
        }
        issues.truncate(cap);
        ApiError::InvalidMany {
            listed: issues,
            total,
        }
    }

    pub fn invalid(path: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError::Invalid(vec![FieldIssue {
            path: path.into(),
            message: message.into(),
        }])
    }

    pub fn problem(&self) -> Problem {
        let errors = match self {
            ApiError::Invalid(issues) | ApiError::InvalidMany { listed: issues, .. } => {
                issues.clone()
            }
            _ => Vec::new(),
        };
        Problem::new(self.code(), self.detail(), errors)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.code().status()
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(why) = self {
            tracing::error!(error = %why, "internal error");
        }
        let mut response = HttpResponse::build(self.status_code());
        response.content_type("application/problem+json");
        match self {
            // RFC 9110 asks a 401 for a challenge. API keys have no registered scheme, so
            // theirs names the header; the admin route is RFC 6750 bearer.
            ApiError::MissingCredential(Credential::ApiKey)
            | ApiError::WrongCredential(Credential::ApiKey) => {
                response.insert_header((
                    header::WWW_AUTHENTICATE,
                    "ApiKey realm=\"clickstream\", header=\"X-Api-Key\"",
                ));
            }
            ApiError::MissingCredential(Credential::AdminToken) => {
                response.insert_header((
                    header::WWW_AUTHENTICATE,
                    "Bearer realm=\"clickstream-admin\"",
                ));
            }
            ApiError::WrongCredential(Credential::AdminToken) => {
                response.insert_header((
                    header::WWW_AUTHENTICATE,
                    "Bearer realm=\"clickstream-admin\", error=\"invalid_token\"",
                ));
            }
            ApiError::MethodNotAllowed(methods) => {
                response.insert_header((header::ALLOW, methods.as_str()));
            }
            ApiError::Overloaded {
                retry_after_secs, ..
            } => {
                response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
                // The body was not read: ending the connection spares reading it only to
                // throw it away.
                response.force_close();
            }
            // The rest of a slow body is not worth waiting for: end the connection.
            ApiError::BodyTimeout { .. } => {
                response.force_close();
            }
            _ => {}
        }
        response.json(self.problem())
    }
}

impl From<SelectError> for ApiError {
    fn from(e: SelectError) -> ApiError {
        match e {
            SelectError::VersionNotLoaded { .. } => ApiError::VersionNotLoaded(e.to_string()),
            SelectError::NoVersion(_) => ApiError::NotReady(vec![e.to_string()]),
        }
    }
}

impl From<scorer::Error> for ApiError {
    fn from(e: scorer::Error) -> ApiError {
        match e {
            scorer::Error::Select(e) => e.into(),
            scorer::Error::Score(e) => e.into(),
        }
    }
}

impl From<ScoreError> for ApiError {
    fn from(e: ScoreError) -> ApiError {
        match e {
            ScoreError::NonFinite { .. }
            | ScoreError::NoPrediction { .. }
            | ScoreError::UnknownPersona { .. } => ApiError::Internal(e.to_string()),
        }
    }
}

/// Errors of the scoring routes, single and batch.
pub const SCORING: &[ErrorCode] = &[
    ErrorCode::MalformedBody,
    ErrorCode::MissingApiKey,
    ErrorCode::InvalidApiKey,
    ErrorCode::VersionNotLoaded,
    ErrorCode::BodyTooLarge,
    ErrorCode::BodyTimeout,
    ErrorCode::UnsupportedMediaType,
    ErrorCode::NotAcceptable,
    ErrorCode::InvalidRequest,
    ErrorCode::Internal,
    ErrorCode::NotReady,
    ErrorCode::Overloaded,
];
/// Errors of `GET /models`: with `API_KEYS` set it needs a key, as scoring does.
pub const MODELS: &[ErrorCode] = &[ErrorCode::MissingApiKey, ErrorCode::InvalidApiKey];
/// Errors of `GET /report`.
pub const REPORT: &[ErrorCode] = &[
    ErrorCode::MissingApiKey,
    ErrorCode::InvalidApiKey,
    ErrorCode::ReportNotFound,
];
/// Errors of `GET /models/{name}/{version}/report`.
pub const VERSION_REPORT: &[ErrorCode] = &[
    ErrorCode::MissingApiKey,
    ErrorCode::InvalidApiKey,
    ErrorCode::ModelNotFound,
    ErrorCode::VersionNotLoaded,
    ErrorCode::ReportNotFound,
];
/// Errors of `GET /models/{name}`.
pub const MODEL: &[ErrorCode] = &[
    ErrorCode::MissingApiKey,
    ErrorCode::InvalidApiKey,
    ErrorCode::ModelNotFound,
];
/// Errors of `GET /models/{name}/{version}`.
pub const MODEL_VERSION: &[ErrorCode] = &[
    ErrorCode::MissingApiKey,
    ErrorCode::InvalidApiKey,
    ErrorCode::ModelNotFound,
    ErrorCode::VersionNotLoaded,
];
/// Errors of `GET /readyz`.
pub const READINESS: &[ErrorCode] = &[ErrorCode::NotReady];
/// Errors of `POST /admin/reload`.
pub const ADMIN: &[ErrorCode] = &[
    ErrorCode::MissingAdminToken,
    ErrorCode::InvalidAdminToken,
    ErrorCode::AdminDisabled,
    ErrorCode::Internal,
];
/// Errors any request may meet whatever its route: listed in the document's description.
pub const ANY_ROUTE: &[ErrorCode] = &[ErrorCode::RouteNotFound, ErrorCode::MethodNotAllowed];

/// The OpenAPI responses of a set of codes: one response per status, its description
/// listing each code, with one example body per code.
fn responses(codes: &[ErrorCode]) -> BTreeMap<String, RefOr<openapi::Response>> {
    let mut by_status: BTreeMap<u16, Vec<ErrorCode>> = BTreeMap::new();
    for &code in codes {
        by_status
            .entry(code.status().as_u16())
            .or_default()
            .push(code);
    }
    by_status
        .into_iter()
        .map(|(status, codes)| {
            let description = codes
                .iter()
                .map(|c| format!("`{}`: {}", c.as_str(), c.description()))
                .collect::<Vec<_>>()
                .join("\n\n");
            let examples = codes.iter().map(|c| {
                (
                    c.as_str(),
                    openapi::example::ExampleBuilder::new()
                        .value(serde_json::to_value(c.example()).ok())
                        .build(),
                )
            });
            let content = openapi::ContentBuilder::new()
                .schema(Some(openapi::Ref::from_schema_name("Problem")))
                .examples_from_iter(examples)
                .build();
            let response = openapi::ResponseBuilder::new()
                .description(description)
                .content("application/problem+json", content)
                .build();
            (status.to_string(), RefOr::T(response))
        })
        .collect()
}

/// The table as a Markdown list, for the document's description.
pub fn table_markdown() -> String {
    ErrorCode::ALL
        .iter()
        .map(|c| {
            format!(
                "| `{}` | {} | {} |",
                c.as_str(),
                c.status().as_u16(),
                c.description()
            )
        })
        .fold(
            // Swagger UI draws header cells without side padding: where a column is no
            // wider than its header, the header ran into the next ("statusmeaning").
            // Non-breaking spaces (an entity: a table cell's own spaces are trimmed) keep
            // the headers apart.
            format!("| code{HEADER_GAP} | status{HEADER_GAP} | meaning |\n|---|---|---|"),
            |table, row| table + "\n" + &row,
        )
}

/// The gap after each header cell of the error table but the last.
const HEADER_GAP: &str = "&nbsp;&nbsp;&nbsp;&nbsp;";

/// The errors of the scoring routes, for their `responses(...)`.
pub struct ScoringErrors;
impl utoipa::IntoResponses for ScoringErrors {
    fn responses() -> BTreeMap<String, RefOr<openapi::Response>> {
        responses(SCORING)
    }
}

pub struct VersionReportErrors;
impl utoipa::IntoResponses for VersionReportErrors {
    fn responses() -> BTreeMap<String, RefOr<openapi::Response>> {
        responses(VERSION_REPORT)
    }
}

pub struct ReportErrors;
impl utoipa::IntoResponses for ReportErrors {
    fn responses() -> BTreeMap<String, RefOr<openapi::Response>> {
        responses(REPORT)
    }
}

pub struct ModelsErrors;
impl utoipa::IntoResponses for ModelsErrors {
    fn responses() -> BTreeMap<String, RefOr<openapi::Response>> {
        responses(MODELS)
    }
}

pub struct ModelErrors;
impl utoipa::IntoResponses for ModelErrors {
    fn responses() -> BTreeMap<String, RefOr<openapi::Response>> {
        responses(MODEL)
    }
}

pub struct ModelVersionErrors;
impl utoipa::IntoResponses for ModelVersionErrors {
    fn responses() -> BTreeMap<String, RefOr<openapi::Response>> {
        responses(MODEL_VERSION)
    }
}

pub struct ReadinessErrors;
impl utoipa::IntoResponses for ReadinessErrors {
    fn responses() -> BTreeMap<String, RefOr<openapi::Response>> {
        responses(READINESS)
    }
}

pub struct AdminErrors;
impl utoipa::IntoResponses for AdminErrors {
    fn responses() -> BTreeMap<String, RefOr<openapi::Response>> {
        responses(ADMIN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_unique_and_documented_somewhere() {
        let mut names: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ErrorCode::ALL.len(), "a code name is repeated");
        for code in ErrorCode::ALL {
            let documented = [
                SCORING,
                MODELS,
                MODEL,
                MODEL_VERSION,
                REPORT,
                VERSION_REPORT,
                READINESS,
                ADMIN,
                ANY_ROUTE,
            ]
            .iter()
            .any(|set| set.contains(&code));
            assert!(documented, "{code:?} is in no documented set");
        }
    }

    #[test]
    fn every_api_error_answers_with_its_code_status_and_type() {
        let errors = [
            ApiError::Malformed("x".into()),
            ApiError::invalid("clicks", "x"),
            ApiError::MissingCredential(Credential::ApiKey),
            ApiError::WrongCredential(Credential::AdminToken),
            ApiError::MethodNotAllowed("GET".into()),
            ApiError::NotReady(vec!["convert: no version found".into()]),
        ];
        for e in errors {
            let p = e.problem();
            assert_eq!(p.status, e.code().status().as_u16());
            assert_eq!(p.code, e.code().as_str());
            assert_eq!(p.kind, e.code().type_uri());
            assert_ne!(p.kind, "about:blank");
        }
        let r = ApiError::MissingCredential(Credential::ApiKey).error_response();
        let challenge = r
            .headers()
            .get(header::WWW_AUTHENTICATE)
            .expect("a challenge");
        assert!(!challenge.to_str().unwrap_or("").starts_with("Bearer"));
    }
}
