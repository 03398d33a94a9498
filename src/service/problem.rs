//! Every error the API returns, mapped to an HTTP status in one place and written as
//! `application/problem+json` (RFC 9457).

use super::registry::SelectError;
use crate::ml::model_file::ModelName;
use crate::scoring::ScoreError;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use std::fmt;
use utoipa::ToSchema;

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

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"type": "about:blank", "title": "Unprocessable Content", "status": 422, "detail": "1 field is invalid", "errors": [{"path": "clicks[3].price", "message": "got \"0\", expected a price in US dollars greater than 0 and at most 100000"}]}))]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldIssue>,
}

/// The errors every scoring route may answer, documented once for all of them.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // Only its OpenAPI description is used; ApiError builds the bodies.
pub enum ScoringErrors {
    /// The body could not be read (malformed JSON or CSV).
    #[response(status = 400, content_type = "application/problem+json")]
    Malformed(Problem),
    /// Missing or wrong API key.
    #[response(status = 401, content_type = "application/problem+json")]
    Unauthorized(Problem),
    /// The version asked for is not loaded.
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(Problem),
    /// The body is larger than `MAX_BODY_BYTES`.
    #[response(status = 413, content_type = "application/problem+json")]
    TooLarge(Problem),
    /// The body is not of a supported media type.
    #[response(status = 415, content_type = "application/problem+json")]
    UnsupportedMediaType(Problem),
    /// Invalid fields, each with its path (`clicks[3].price`, `sessions[2].clicks[0].colour`,
    /// `line 7, column price`), or a limit on clicks or sessions passed.
    #[response(status = 422, content_type = "application/problem+json")]
    Invalid(Problem),
    /// No valid version of a model is loaded.
    #[response(status = 503, content_type = "application/problem+json")]
    NotReady(Problem),
}

#[derive(Debug)]
pub enum ApiError {
    /// The body is not JSON (or not CSV) at all.
    Malformed(String),
    /// The body parsed but fields are invalid.
    Invalid(Vec<FieldIssue>),
    UnsupportedMediaType {
        got: String,
        supported: &'static str,
    },
    TooLarge {
        limit: usize,
    },
    NotFound(String),
    /// The path exists; these methods are what it serves.
    MethodNotAllowed(String),
    Unauthorized(String),
    NotReady(Vec<String>),
    Internal(String),
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.detail())
    }
}

impl ApiError {
    fn detail(&self) -> String {
        match self {
            ApiError::Malformed(why) => format!("the body could not be read: {why}"),
            ApiError::Invalid(issues) => match issues.len() {
                1 => "1 field is invalid".into(),
                n => format!("{n} fields are invalid"),
            },
            ApiError::UnsupportedMediaType { got, supported } => {
                format!("content type {got:?} is not supported; send {supported}")
            }
            ApiError::TooLarge { limit } => {
                format!("the body is larger than the limit of {limit} bytes")
            }
            ApiError::NotFound(what) | ApiError::Unauthorized(what) => what.clone(),
            ApiError::MethodNotAllowed(methods) => format!("this path serves {methods} only"),
            ApiError::NotReady(reasons) => format!("not ready: {}", reasons.join("; ")),
            ApiError::Internal(what) => format!("internal error: {what}"),
        }
    }

    pub fn invalid(path: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError::Invalid(vec![FieldIssue {
            path: path.into(),
            message: message.into(),
        }])
    }

    pub fn problem(&self) -> Problem {
        let status = self.status_code();
        Problem {
            kind: "about:blank".into(),
            title: status.canonical_reason().unwrap_or("Error").into(),
            status: status.as_u16(),
            detail: self.detail(),
            errors: match self {
                ApiError::Invalid(issues) => issues.clone(),
                _ => Vec::new(),
            },
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Malformed(_) => StatusCode::BAD_REQUEST,
            ApiError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::NotReady(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(why) = self {
            tracing::error!(error = %why, "internal error");
        }
        let mut response = HttpResponse::build(self.status_code());
        response.content_type("application/problem+json");
        if let ApiError::Unauthorized(_) = self {
            response.insert_header(("WWW-Authenticate", "Bearer"));
        }
        response.json(self.problem())
    }
}

impl From<SelectError> for ApiError {
    fn from(e: SelectError) -> ApiError {
        match e {
            SelectError::VersionNotLoaded { .. } => ApiError::NotFound(e.to_string()),
            SelectError::NoVersion(_) => ApiError::NotReady(vec![e.to_string()]),
        }
    }
}

impl From<ScoreError> for ApiError {
    fn from(e: ScoreError) -> ApiError {
        match e {
            ScoreError::WrongKind(..) | ScoreError::NonFinite { .. } => {
                ApiError::Internal(e.to_string())
            }
        }
    }
}

/// A model name from a path segment.
pub fn model_name(text: &str) -> Result<ModelName, ApiError> {
    text.parse().map_err(ApiError::NotFound)
}
