//! What a refused body looks like, to point its sender to the right route or media type.

use crate::service::problem::ApiError;
use serde::Deserialize;

/// What a body looks like at a glance, to tell a client that sent it to the wrong kind of
/// route, or under the wrong media type, where it belongs: the first things a new client
/// trips on. Looked at only once a body has been refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyShape {
    /// A JSON array.
    Array,
    /// A JSON object with a `sessions` member: a batch.
    Batch,
    /// Any other JSON object.
    Object,
    /// Text whose first line has a `,`, `;` or tab: a CSV header or row.
    Csv,
    Other,
}

impl BodyShape {
    pub fn of(body: &[u8]) -> BodyShape {
        let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
        let start = body.iter().position(|b| !b.is_ascii_whitespace());
        match start.map(|i| body[i]) {
            Some(b'[') => BodyShape::Array,
            Some(b'{') => {
                /// Every other member is skipped unread, so looking costs one pass.
                #[derive(Deserialize)]
                struct HasSessions {
                    #[allow(dead_code, reason = "only its presence is looked for")]
                    sessions: serde::de::IgnoredAny,
                }
                match serde_json::from_slice::<HasSessions>(body) {
                    Ok(_) => BodyShape::Batch,
                    Err(_) => BodyShape::Object,
                }
            }
            Some(_) => {
                let first_line = body.split(|&b| b == b'\n').next().unwrap_or_default();
                if first_line.iter().any(|b| matches!(b, b',' | b';' | b'\t')) {
                    BodyShape::Csv
                } else {
                    BodyShape::Other
                }
            }
            None => BodyShape::Other,
        }
    }
}

/// Which route refused a body: a single session's (`POST /convert`, at `path`) or a
/// batch's, and the media type it was sent as.
#[derive(Debug, Clone, Copy)]
pub enum Refused<'a> {
    Single { path: &'a str },
    Batch { csv: bool },
}

/// `refused`, with the way to the right route or media type when the body's shape shows
/// where it went wrong; otherwise `refused` as it is.
pub fn point_the_way(refused: ApiError, body: &[u8], route: Refused) -> ApiError {
    let shape = BodyShape::of(body);
    let batch_route = |path: &str| format!("POST {path}/batch");
    match (route, shape, refused) {
        (Refused::Batch { csv: false }, BodyShape::Array, ApiError::Invalid(_)) => {
            ApiError::invalid(
                "$",
                "got an array, expected an object: wrap the sessions as {\"sessions\": [...]}",
            )
        }
        (Refused::Batch { csv: false }, BodyShape::Csv, ApiError::Malformed(why)) => {
            ApiError::Malformed(format!(
                "{why}; the body looks like CSV: send it with Content-Type: text/csv"
            ))
        }
        (Refused::Batch { csv: true }, BodyShape::Array | BodyShape::Batch | BodyShape::Object, e) => {
            match e {
                ApiError::Malformed(why) => ApiError::Malformed(format!(
                    "{why}; the body looks like JSON: send it with Content-Type: application/json"
                )),
                ApiError::Invalid(_) | ApiError::InvalidMany { .. } => ApiError::invalid(
                    "header",
                    "the body looks like JSON, not CSV: send it with Content-Type: application/json",
                ),
                other => other,
            }
        }
        (Refused::Single { path }, BodyShape::Batch, ApiError::Invalid(_)) => ApiError::invalid(
            "sessions",
            format!("a batch of sessions: send it to {}", batch_route(path)),
        ),
        (Refused::Single { path }, BodyShape::Array, ApiError::Invalid(_)) => ApiError::invalid(
            "$",
            format!(
                "got an array, expected a session object; send many to {} as {{\"sessions\": [...]}}",
                batch_route(path)
            ),
        ),
        (Refused::Single { path }, BodyShape::Csv, ApiError::Malformed(why)) => {
            ApiError::Malformed(format!(
                "{why}; the body looks like CSV: send a CSV of sessions to {} with Content-Type: text/csv",
                batch_route(path)
            ))
        }
        (_, _, refused) => refused,
    }
}
