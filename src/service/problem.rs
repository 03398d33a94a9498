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

/// Writes the error table: the `ErrorCode` enum, `ErrorCode::ALL` in the rows' order, and
/// for each code its name, status, description and example. A row is the one place a code
/// is defined; the example is a real `ApiError`, so the documented body is what the server
/// answers (a test holds each example to its row's code).
macro_rules! error_table {
    ($(
        $(#[$doc:meta])*
        $variant:ident = $name:literal, $status:ident,
            $description:literal,
            $example:expr;
    )+) => {
        /// Every error the API can answer: one row of the table each.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
        pub enum ErrorCode {
            $($(#[$doc])* $variant,)+
        }

        impl ErrorCode {
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)+];

            /// The stable name clients match on.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $name,)+
                }
            }

            pub fn status(self) -> StatusCode {
                match self {
                    $(ErrorCode::$variant => StatusCode::$status,)+
                }
            }

            /// What the code means, for the OpenAPI document.
            pub fn description(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $description,)+
                }
            }

            /// An error of this code as a real request meets it, for the documented
            /// examples.
            pub fn example_error(self) -> ApiError {
                match self {
                    $(ErrorCode::$variant => $example,)+
                }
            }
        }
    };
}

error_table! {
    MalformedBody = "malformed_body", BAD_REQUEST,
        "The body could not be read: not JSON, not CSV, or cut short.",
        ApiError::Malformed("EOF while parsing an object at line 1 column 15".into());
    InvalidRequest = "invalid_request", UNPROCESSABLE_ENTITY,
        "Invalid fields, each with its path (`clicks[3].price`, `sessions[2].clicks[0].colour`, `line 7, column price`, `query`), or a limit on clicks or sessions passed.",
        ApiError::invalid(
            "clicks[3].price",
            "got \"0\", expected a price in US dollars greater than 0 and at most 100000",
        );
    MissingApiKey = "missing_api_key", UNAUTHORIZED,
        "API keys are configured and the request has no `X-Api-Key` header.",
        ApiError::MissingCredential(Credential::ApiKey);
    InvalidApiKey = "invalid_api_key", UNAUTHORIZED,
        "The `X-Api-Key` header holds no configured key.",
        ApiError::WrongCredential(Credential::ApiKey);
    MissingAdminToken = "missing_admin_token", UNAUTHORIZED,
        "No `Authorization: Bearer <ADMIN_TOKEN>` header.",
        ApiError::MissingCredential(Credential::AdminToken);
    InvalidAdminToken = "invalid_admin_token", UNAUTHORIZED,
        "The bearer token is not the admin token.",
        ApiError::WrongCredential(Credential::AdminToken);
    RouteNotFound = "route_not_found", NOT_FOUND,
        "No route has this path; see `/docs`.",
        ApiError::RouteNotFound("no such route; see /docs for the API".into());
    ModelNotFound = "model_not_found", NOT_FOUND,
        "No model has this name; models are convert, revenue and segment.",
        ApiError::ModelNotFound("unknown model \"churn\"; models are convert, revenue, segment".into());
    VersionNotLoaded = "version_not_loaded", NOT_FOUND,
        "The version asked for (`?version=`, `?convert_version=`..., or `/models/{name}/{version}`) is not loaded; the detail lists those that are.",
        ApiError::VersionNotLoaded("version 9 of convert is not loaded; loaded versions: [1]".into());
    AdminDisabled = "admin_disabled", NOT_FOUND,
        "The admin routes are disabled: no `ADMIN_TOKEN` is configured.",
        ApiError::AdminDisabled;
    MethodNotAllowed = "method_not_allowed", METHOD_NOT_ALLOWED,
        "The path exists but not with this method; `Allow` lists those it serves.",
        ApiError::MethodNotAllowed("POST".into());
    BodyTooLarge = "body_too_large", PAYLOAD_TOO_LARGE,
        "The body is larger than `MAX_BODY_BYTES`.",
        ApiError::TooLarge { limit: 32 << 20 };
    BodyTimeout = "body_timeout", REQUEST_TIMEOUT,
        "The body did not arrive in time: it must be complete within `BODY_TIMEOUT_SECS`, or keep arriving at `MIN_BODY_BYTES_PER_SEC` on average; the connection is closed.",
        ApiError::BodyTimeout { received: 12, seconds: 10.0, grace_secs: 10, min_rate: 16 << 10 };
    UnsupportedMediaType = "unsupported_media_type", UNSUPPORTED_MEDIA_TYPE,
        "The body is not of a media type the route reads.",
        ApiError::UnsupportedMediaType {
            got: "text/plain".into(),
            supported: "application/json",
            instead: None,
        };
    NotAcceptable = "not_acceptable", NOT_ACCEPTABLE,
        "The `Accept` header allows none of the media types the route answers in (quality values count: `q=0` refuses a type); the detail lists those offered. Batch routes answer `application/json` or `text/csv`, the other scoring routes `application/json`.",
        ApiError::NotAcceptable {
            got: "text/html".into(),
            offered: "application/json, text/csv".into(),
        };
    Internal = "internal", INTERNAL_SERVER_ERROR,
        "A model misbehaved on this input (a non-finite output, say) or a worker failed; logged with its cause.",
        ApiError::Internal("convert version 1 produced a non-finite probability".into());
    NotReady = "not_ready", SERVICE_UNAVAILABLE,
        "A model needed to answer has no valid version loaded; the detail says why.",
        ApiError::NotReady(vec!["convert: no version found".into()]);
    Overloaded = "overloaded", SERVICE_UNAVAILABLE,
        "The service holds as much request work as it may (`MAX_BODY_BYTES_IN_FLIGHT`, one pool for batch routes and one for single sessions; a batch first waits up to `BATCH_QUEUE_SECS`): nothing was read or scored. Retry after the seconds in `Retry-After`.",
        ApiError::Overloaded {
            what: "batches",
            bytes: 12_054_642,
            budget: 32 << 20,
            retry_after_secs: 1,
        };
    ReportNotFound = "report_not_found", NOT_FOUND,
        "No `report.html` for this (in the models folder, or in the version's folder): `train` writes one with the versions it publishes.",
        ApiError::ReportNotFound("no training report (MODELS_DIR/report.html: No such file or directory (os error 2)); train writes one with the versions it publishes".into());
}

impl ErrorCode {
    /// The problem `type`: a tag URI (RFC 4151), stable and unique, naming the code. It is
    /// an identifier, not a page to fetch; the codes are documented in the OpenAPI document.
    pub fn type_uri(self) -> String {
        format!("tag:clickstream,2026:problem:{}", self.as_str())
    }

    /// The documented example: the problem its row's error answers.
    fn example(self) -> Problem {
        self.example_error().problem()
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
            detail: shortened(detail, MAX_ECHO_CHARS),
            errors: errors
                .into_iter()
                .map(|e| FieldIssue {
                    path: shortened(e.path, MAX_ECHO_CHARS),
                    message: shortened(e.message, MAX_ECHO_CHARS),
                })
                .collect(),
        }
    }
}

/// The longest text a problem echoes in one place, in characters.
const MAX_ECHO_CHARS: usize = 300;

/// `text` cut to `max_chars` characters, saying how many more there were: problems and log
/// lines quote what a client sent, and a 10 MB session id must not come back (or be
/// logged) as 10 MB.
pub fn shortened(text: String, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
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
            scorer::Error::Disagree(why) => ApiError::invalid("query", why),
        }
    }
}

impl From<ScoreError> for ApiError {
    fn from(e: ScoreError) -> ApiError {
        match e {
            ScoreError::NonFinite { .. }
            | ScoreError::NoPrediction { .. }
            | ScoreError::UnknownPersona { .. }
            | ScoreError::OtherClicks { .. } => ApiError::Internal(e.to_string()),
        }
    }
}

/// Writes each route group's error set and the type its `#[utoipa::path]` names in
/// `responses(...)`, whose OpenAPI responses are generated from the table.
macro_rules! error_sets {
    ($(
        $(#[$doc:meta])*
        $set:ident => $responses:ident: [$($code:ident),+ $(,)?];
    )+) => {
        $(
            $(#[$doc])*
            pub const $set: &[ErrorCode] = &[$(ErrorCode::$code),+];

            #[doc = concat!("The OpenAPI responses of [`", stringify!($set), "`].")]
            pub struct $responses;

            impl utoipa::IntoResponses for $responses {
                fn responses() -> BTreeMap<String, RefOr<openapi::Response>> {
                    responses($set)
                }
            }
        )+

        /// Every set a route documents, and those any route may meet.
        #[cfg(test)]
        const DOCUMENTED: &[&[ErrorCode]] = &[$($set,)+ ANY_ROUTE];
    };
}

error_sets! {
    /// Errors of the scoring routes, single and batch.
    SCORING => ScoringErrors: [
        MalformedBody,
        MissingApiKey,
        InvalidApiKey,
        VersionNotLoaded,
        BodyTooLarge,
        BodyTimeout,
        UnsupportedMediaType,
        NotAcceptable,
        InvalidRequest,
        Internal,
        NotReady,
        Overloaded,
    ];
    /// Errors of `GET /models`: with `API_KEYS` set it needs a key, as scoring does.
    MODELS => ModelsErrors: [MissingApiKey, InvalidApiKey];
    /// Errors of `GET /report`.
    REPORT => ReportErrors: [MissingApiKey, InvalidApiKey, ReportNotFound];
    /// Errors of `GET /models/{name}/{version}/report`.
    VERSION_REPORT => VersionReportErrors: [
        MissingApiKey,
        InvalidApiKey,
        ModelNotFound,
        VersionNotLoaded,
        ReportNotFound,
    ];
    /// Errors of `GET /models/{name}`.
    MODEL => ModelErrors: [MissingApiKey, InvalidApiKey, ModelNotFound];
    /// Errors of `GET /models/{name}/{version}`.
    MODEL_VERSION => ModelVersionErrors: [
        MissingApiKey,
        InvalidApiKey,
        ModelNotFound,
        VersionNotLoaded,
    ];
    /// Errors of `GET /readyz`.
    READINESS => ReadinessErrors: [NotReady];
    /// Errors of `POST /admin/reload`.
    ADMIN => AdminErrors: [MissingAdminToken, InvalidAdminToken, AdminDisabled, Internal];
}

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
            let documented = DOCUMENTED.iter().any(|set| set.contains(code));
            assert!(documented, "{code:?} is in no documented set");
        }
    }

    /// The body `error` answers with, as JSON.
    async fn answered(error: &ApiError) -> serde_json::Value {
        let body = actix_web::body::to_bytes(error.error_response().into_body())
            .await
            .unwrap_or_default();
        serde_json::from_slice(&body).unwrap_or_default()
    }

    #[actix_web::test]
    async fn each_documented_example_is_what_its_error_answers() {
        for &code in ErrorCode::ALL {
            let error = code.example_error();
            assert_eq!(
                error.code(),
                code,
                "the example of {code:?} is of another code"
            );
            let documented = responses(&[code])
                .remove(&code.status().as_u16().to_string())
                .and_then(|response| match response {
                    RefOr::T(response) => response.content.get("application/problem+json").cloned(),
                    RefOr::Ref(_) => None,
                })
                .and_then(|content| match content {
                    RefOr::T(content) => content.examples.get(code.as_str()).cloned(),
                    RefOr::Ref(_) => None,
                })
                .and_then(|example| match example {
                    RefOr::T(example) => example.value,
                    RefOr::Ref(_) => None,
                });
            assert_eq!(
                documented,
                Some(answered(&error).await),
                "{code:?}: the documented example differs from the answer"
            );
        }
    }

    #[test]
    fn long_text_is_cut_saying_how_much_was_left_out() {
        assert_eq!(shortened("abc".into(), 3), "abc");
        assert_eq!(shortened("abcdé".into(), 3), "abc... (2 more characters)");
        let problem = ApiError::invalid("x".repeat(1000), "y").problem();
        assert!(problem.errors[0]
            .path
            .ends_with("... (700 more characters)"));
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
