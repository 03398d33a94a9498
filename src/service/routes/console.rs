//! The console at `/`: one page and its script and style sheet, built into the binary,
//! using the public endpoints any client uses; and `/report`, the latest training run's
//! charts from the models folder.

use crate::domain::Field;
use crate::inference::registry::{confined, Confined};
use crate::ml::model_file::{ModelName, REPORT_FILE};
use crate::service::http::{ApiKey, AppState};
use crate::service::problem::{ApiError, ReportErrors, VersionReportErrors};
use actix_web::http::header;
use actix_web::{get, web, HttpResponse};
use std::sync::OnceLock;

const PAGE: &str = include_str!("../console/index.html");
const SCRIPT: &str = include_str!("../console/console.js");
const STYLE: &str = include_str!("../console/console.css");
const ICON: &str = include_str!("../console/favicon.svg");

/// Nothing but this service: the page may load its own script and style sheet and talk
/// to its own origin; the report it opens from a blob keeps its inline style.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self' blob: data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The page with the meaning of every code the session form offers, from the one table
/// the API's documentation uses too.
fn page() -> &'static str {
    static PAGE_WITH_CODES: OnceLock<String> = OnceLock::new();
    PAGE_WITH_CODES.get_or_init(|| {
        let codes: serde_json::Map<String, serde_json::Value> = [
            Field::Category,
            Field::Colour,
            Field::Photography,
            Field::Location,
            Field::Country,
        ]
        .into_iter()
        .filter_map(|f| Some((f.name().to_owned(), serde_json::json!(f.codes()?))))
        .collect();
        // `<` escaped, so no value can close the script element it sits in.
        let json = serde_json::Value::Object(codes)
            .to_string()
            .replace('<', "\\u003c");
        PAGE.replace("/*CODES*/", &json)
    })
}

fn asset(content_type: &str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CONTENT_SECURITY_POLICY, POLICY))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(body)
}

/// The console: try a session click by click, score a CSV file, see the models and the
/// live service. A page for people; it calls the documented routes.
#[utoipa::path(tag = "console", responses((status = 200, description = "The console page", body = String, content_type = "text/html")))]
#[get("/")]
pub async fn index() -> HttpResponse {
    asset("text/html; charset=utf-8", page())
}

/// The console's script.
#[utoipa::path(tag = "console", responses((status = 200, description = "The console's script", body = String, content_type = "text/javascript")))]
#[get("/console.js")]
pub async fn script() -> HttpResponse {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

/// The console's style sheet.
#[utoipa::path(tag = "console", responses((status = 200, description = "The console's style sheet", body = String, content_type = "text/css")))]
#[get("/console.css")]
pub async fn style() -> HttpResponse {
    asset("text/css; charset=utf-8", STYLE)
}

/// The console's icon, an SVG.
#[utoipa::path(tag = "console", responses((status = 200, description = "The console's icon", body = String, content_type = "image/svg+xml")))]
#[get("/favicon.svg")]
pub async fn icon() -> HttpResponse {
    asset("image/svg+xml", ICON)
}

/// The same icon where browsers look for one by default.
#[utoipa::path(tag = "console", responses((status = 200, description = "The console's icon (SVG)", body = String, content_type = "image/svg+xml")))]
#[get("/favicon.ico")]
pub async fn favicon() -> HttpResponse {
    asset("image/svg+xml", ICON)
}

/// The largest report read from disk.
const MAX_REPORT_BYTES: u64 = 16 << 20;

/// The charts of the latest `train` run (`report.html` in the models folder), one
/// self-contained page. With `API_KEYS` set it needs a key, as `/models` does.
#[utoipa::path(
    tag = "models",
    security((), ("api_key" = [])),
    responses((status = 200, description = "The latest training report", body = String, content_type = "text/html"), ReportErrors)
)]
#[get("/report")]
pub async fn report(_key: ApiKey, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let dir = state.registry.dir().to_owned();
    serve_report(
        dir.clone(),
        dir.join(REPORT_FILE),
        "MODELS_DIR/report.html".into(),
    )
    .await
}

/// The charts of the training run that made one loaded version (`report.html` in its
/// folder). With `API_KEYS` set it needs a key, as `/models` does.
#[utoipa::path(
    tag = "models",
    params(
        ("name" = String, Path, description = "convert, revenue or segment"),
        ("version" = u32, Path, description = "A loaded version, as `/models/{name}` lists them"),
    ),
    security((), ("api_key" = [])),
    responses((status = 200, description = "The training report of this version", body = String, content_type = "text/html"), VersionReportErrors)
)]
#[get("/models/{name}/{version}/report")]
pub async fn version_report(
    _key: ApiKey,
    path: web::Path<(String, u32)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (name, version) = path.into_inner();
    let name: ModelName = name.parse().map_err(ApiError::ModelNotFound)?;
    let dir = state.registry.snapshot().version_dir(name, version)?;
    let shown = format!("MODELS_DIR/{name}/{version}/report.html");
    let models_dir = state.registry.dir().to_owned();
    serve_report(models_dir, dir.join(REPORT_FILE), shown).await
}

/// A report page from disk: a regular file inside the models folder (see [`confined`]) of
/// at most [`MAX_REPORT_BYTES`], sent with a policy that lets it use its inline style and
/// nothing else.
async fn serve_report(
    models_dir: std::path::PathBuf,
    path: std::path::PathBuf,
    shown: String,
) -> Result<HttpResponse, ApiError> {
    let html = web::block(move || -> Result<String, String> {
        let real = match confined(&models_dir, &path) {
            Confined::File(real) => real,
            Confined::Absent => return Err("no such file".into()),
            Confined::Refused(why) => return Err(why),
        };
        let meta = std::fs::metadata(&real).map_err(|e| e.to_string())?;
        if meta.len() > MAX_REPORT_BYTES {
            return Err("larger than 16 MiB".into());
        }
        std::fs::read_to_string(&real).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
    .map_err(|why| {
        ApiError::ReportNotFound(format!(
            "no training report ({shown}: {why}); train writes one with the versions it publishes"
        ))
    })?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'",
        ))
        .body(html))
}
